/* clap_impl.h: the internals shared by clap.c (config, weights, public API) and clap_graph.c
 * (the ggml graphs): the model struct and its weight layout. Not a public header: nothing
 * outside src/model/clap may include it, and it must not learn of Mill's tasks or backends. */
#ifndef MILL_MODEL_CLAP_IMPL_H
#define MILL_MODEL_CLAP_IMPL_H

#include "model/clap/clap.h"

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>

struct clap_linear {
    struct ggml_tensor *w, *b; /* w ggml [in, out] in the stored dtype; b F32 [out] or NULL */
};

struct clap_norm {
    struct ggml_tensor *w, *b; /* F32 [d] */
};

/* One Swin block of HTSAT. */
struct clap_swin {
    struct clap_norm ln1, ln2;
    struct clap_linear q, k, v, o, fc1, fc2;
    struct ggml_tensor *mask; /* F32 [N, N, heads, nW or 1]: relative position bias (+ shift) */
    int shift;                /* 0 or window / 2 (0 when the stage is one window wide) */
};

struct clap_stage {
    struct clap_swin *blocks;
    struct clap_norm merge_ln;   /* patch merging (all stages but the last) */
    struct ggml_tensor *merge_w; /* ggml [4C, 2C], no bias */
    int dim, res, heads;         /* channels, grid side, heads */
};

/* One post-LN RoBERTa layer. */
struct clap_text_layer {
    struct clap_linear q, k, v, o, fc1, fc2;
    struct clap_norm ln_attn, ln_out;
};

struct mill_clap_model {
    struct mill_clap_hparams hp;
    struct mill_clap_params params;
    float logit_scale; /* exp(logit_scale_a) */
    /* Audio. */
    float *bn_scale, *bn_shift; /* n_mels: the mel batch norm folded to x * scale + shift */
    struct ggml_tensor *patch_w, *patch_b; /* F32 [P, P, 1, E], [E] */
    struct clap_norm patch_ln, final_ln;
    struct clap_stage stages[8];
    struct clap_linear a_proj1, a_proj2;
    /* Text. */
    struct ggml_tensor *tok_emb, *pos_emb, *type_emb; /* F32 [D, rows] */
    struct clap_norm emb_ln;
    struct clap_text_layer *layers;
    struct clap_linear pooler, t_proj1, t_proj2;
    /* ggml. */
    struct ggml_context *wctx; /* weight and mask tensors (no_alloc) */
    ggml_backend_t backend;
    ggml_backend_buffer_t wbuf;
    ggml_gallocr_t galloc; /* the graphs' allocator, kept so its buffer is reused (NULL until
                            * the first graph; a call is not thread-safe on one model) */
};

/* clap_graph.c: encodes prepared mel images ([S, S] each, row-major, S = spec_size) and token
 * rows; outputs proj_dim vectors, not yet normalised. */
int mill_clap_run_audio(struct mill_clap_model *m, const float *img, int n, float *out,
                        struct mill_err *err);
int mill_clap_run_texts(struct mill_clap_model *m, const int32_t *ids, const int32_t *pos,
                        const float *mask, int t, int n, float *out, struct mill_err *err);

#endif
