/* ggml_ops.h: ggml custom ops shared by the CLIP and CLAP towers, where ggml's own CPU ops are
 * slow or inexact for F32 transformers (ggml_ops.c): bias + exact GELU in one pass, the
 * attention head split with its bias, LayerNorm with weight and bias, bias + residual, and the
 * linear layer on OpenBLAS.
 * Every op takes F32 tensors with contiguous rows and computes on the CPU backend's threads;
 * results do not depend on the number of threads (nor, but for mill_op_linear's last bits, on
 * the batch).
 *
 * Not a public header: only src/model may include it. */
#ifndef MILL_MODEL_GGML_OPS_H
#define MILL_MODEL_GGML_OPS_H

#include <ggml.h>

#include <stdbool.h>
#include <stdint.h>

/* act(x + bias) in place for an MLP's first layer, x F32 [n, ...] with contiguous rows, bias F32
 * [n]: exact erf GELU, or QuickGELU x * sigmoid(1.702 x) when quick. */
struct ggml_tensor *mill_op_bias_act(struct ggml_context *ctx, struct ggml_tensor *x,
                                     struct ggml_tensor *bias, bool quick);

/* x + bias (x contiguous F32 [D, T, N], bias [D]) split into heads of D / heads: [hd, tp, heads,
 * N], or [tp, hd, heads, N] when transpose; positions T..tp-1 are zero. */
struct ggml_tensor *mill_op_split_heads(struct ggml_context *ctx, struct ggml_tensor *x,
                                        struct ggml_tensor *bias, int heads, int64_t tp,
                                        bool transpose);

/* LayerNorm of contiguous F32 rows with weight and bias ([ne0] each), the arithmetic of
 * ggml_norm; eps must outlive the graph. */
struct ggml_tensor *mill_op_layer_norm(struct ggml_context *ctx, struct ggml_tensor *x,
                                       struct ggml_tensor *w, struct ggml_tensor *b,
                                       const float *eps);

/* x w^T for x F32 [in, ...] (contiguous) and w ggml [in, out]: OpenBLAS's SGEMM when w is F32
 * and contiguous (OpenBLAS is then set, once, to run on the calling thread only), else
 * ggml_mul_mat. No bias. */
struct ggml_tensor *mill_op_linear(struct ggml_context *ctx, struct ggml_tensor *x,
                                   struct ggml_tensor *w);

/* res + (y + bias) written over y (same shape as res, contiguous; bias [ne0]). */
struct ggml_tensor *mill_op_bias_residual(struct ggml_context *ctx, struct ggml_tensor *y,
                                          struct ggml_tensor *bias, struct ggml_tensor *res);

#endif
