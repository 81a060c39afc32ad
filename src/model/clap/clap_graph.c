/* clap_graph.c: the ggml graphs of the CLAP towers (clap_impl.h): HTSAT (patch embedding, Swin
 * blocks with cyclic shift, window partition, attention under the precomputed bias masks,
 * patch merging, final norm and mean pool, projection) and RoBERTa (embeddings, post-LN layers
 * under a key padding mask, tanh pooler on <s>, projection). One graph per call, allocated with
 * ggml-alloc and computed on the CPU backend. Must not read files or know Mill, and must not use
 * ggml ops with F16 lookup tables or F16 im2col (ggml_conv_2d): the towers are F32 throughout. */
#include "model/clap/clap_impl.h"
#include "model/ggml_ops.h"

#include <ggml-cpu.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_NODES 32768

static const float ln_eps = 1e-5f; /* HTSAT's LayerNorms outside the Swin blocks */

/* x [in, ...] -> [out, ...] without the bias. A contiguous x is multiplied as one [in, tokens]
 * matrix (on OpenBLAS for F32 weights): ggml multiplies a 3-d or 4-d x slice by slice, and
 * HTSAT's slices (a window's 64 tokens, a grid row of 8 or 16) are too small to be fast. */
static struct ggml_tensor *matmul(struct ggml_context *c, struct ggml_tensor *x,
                                  struct ggml_tensor *w) {
    int64_t n1 = x->ne[1], n2 = x->ne[2], n3 = x->ne[3];
    if (!ggml_is_contiguous(x))
        return ggml_mul_mat(c, w, x);
    x = mill_op_linear(c, ggml_reshape_2d(c, x, x->ne[0], n1 * n2 * n3), w);
    return ggml_reshape_4d(c, x, x->ne[0], n1, n2, n3);
}

static struct ggml_tensor *linear(struct ggml_context *c, struct ggml_tensor *x,
                                  const struct clap_linear *l) {
    x = matmul(c, x, l->w);
    return l->b ? ggml_add(c, x, l->b) : x;
}

/* res + l(x), the bias and the residual added in one pass. */
static struct ggml_tensor *linear_residual(struct ggml_context *c, struct ggml_tensor *x,
                                           const struct clap_linear *l, struct ggml_tensor *res) {
    if (!l->b)
        return ggml_add(c, res, matmul(c, x, l->w));
    return mill_op_bias_residual(c, matmul(c, x, l->w), l->b, res);
}

/* gelu(l(x)), exact erf GELU, the bias added in the same pass. */
static struct ggml_tensor *linear_gelu(struct ggml_context *c, struct ggml_tensor *x,
                                       const struct clap_linear *l) {
    if (!l->b)
        return ggml_gelu_erf(c, matmul(c, x, l->w));
    return mill_op_bias_act(c, matmul(c, x, l->w), l->b, false);
}

/* LayerNorm (x contiguous); eps must outlive the graph. */
static struct ggml_tensor *norm(struct ggml_context *c, struct ggml_tensor *x,
                                const struct clap_norm *n, const float *eps) {
    return mill_op_layer_norm(c, ggml_cont(c, x), n->w, n->b, eps);
}

/* Queries or keys l(x) of x [D, T, NB] as [hd, T, heads, NB] (values [T, hd, heads, NB] when
 * transpose). Head widths that ggml's fast F32 GEMM cannot take (a multiple of 8 lanes with
 * AVX2, 16 with AVX-512; HTSAT's are 24) are zero-padded, which leaves the products unchanged. */
static struct ggml_tensor *heads_of(struct ggml_context *c, struct ggml_tensor *x,
                                    const struct clap_linear *l, int heads, bool transpose) {
    int64_t D = x->ne[0], T = x->ne[1], NB = x->ne[2], hd = D / heads;
    int64_t lanes = ggml_cpu_has_avx512() ? 16 : 8;
    struct ggml_tensor *y = matmul(c, x, l->w);
    if (l->b && (transpose || hd % lanes == 0))
        return mill_op_split_heads(c, y, l->b, heads, T, transpose);
    if (l->b)
        y = ggml_add(c, y, l->b);
    y = ggml_reshape_4d(c, y, hd, heads, T, NB);
    if (transpose)
        return ggml_cont(c, ggml_permute(c, y, 1, 2, 0, 3));
    y = ggml_permute(c, y, 0, 2, 1, 3);
    return hd % lanes ? ggml_pad(c, y, (int)(lanes - hd % lanes), 0, 0, 0) : ggml_cont(c, y);
}

/* Multi-head attention over x [D, T, NB] (contiguous): q, k, v, softmax(scale q k + mask),
 * then the output dense layer without its bias (the caller adds it with the residual). */
static struct ggml_tensor *attention(struct ggml_context *c, struct ggml_tensor *x,
                                     const struct clap_linear *q, const struct clap_linear *k,
                                     const struct clap_linear *v, const struct clap_linear *o,
                                     struct ggml_tensor *mask, int heads) {
    int64_t D = x->ne[0], T = x->ne[1], NB = x->ne[2], hd = D / heads;
    struct ggml_tensor *Q = heads_of(c, x, q, heads, false); /* [hd, T, heads, NB] */
    struct ggml_tensor *K = heads_of(c, x, k, heads, false); /* [hd, T, heads, NB] */
    struct ggml_tensor *V = heads_of(c, x, v, heads, true);  /* [T, hd, heads, NB] */
    struct ggml_tensor *s = ggml_mul_mat(c, K, Q);           /* [Tk, Tq, heads, NB] */
    s = ggml_soft_max_ext(c, s, mask, 1.0f / sqrtf((float)hd), 0.0f);
    struct ggml_tensor *y = ggml_mul_mat(c, V, s);    /* [hd, Tq, heads, NB] */
    y = ggml_cont(c, ggml_permute(c, y, 0, 2, 1, 3)); /* [hd, heads, Tq, NB] */
    return matmul(c, ggml_reshape_3d(c, y, D, T, NB), o->w);
}

/* [C, W, H, B] -> windows [C, w*w, (H/w)*(W/w)*B] in HF's window order, and back. */
static struct ggml_tensor *partition(struct ggml_context *c, struct ggml_tensor *x, int w) {
    int64_t C = x->ne[0], W = x->ne[1], H = x->ne[2], B = x->ne[3];
    x = ggml_reshape_4d(c, ggml_cont(c, x), C * w, W / w, w, (H / w) * B);
    x = ggml_cont(c, ggml_permute(c, x, 0, 2, 1, 3)); /* [C*w, w(hi), W/w, H/w*B] */
    return ggml_reshape_3d(c, x, C, (int64_t)w * w, (W / w) * (H / w) * B);
}

static struct ggml_tensor *unpartition(struct ggml_context *c, struct ggml_tensor *x, int w,
                                       int64_t W, int64_t H, int64_t B) {
    int64_t C = x->ne[0];
    x = ggml_reshape_4d(c, x, C * w, w, W / w, (H / w) * B);
    x = ggml_cont(c, ggml_permute(c, x, 0, 2, 1, 3)); /* [C*w, W/w, w, H/w*B] */
    return ggml_reshape_4d(c, x, C, W, H, B);
}

static struct ggml_tensor *swin_block(struct ggml_context *c, const struct mill_clap_model *m,
                                      const struct clap_stage *st, const struct clap_swin *b,
                                      struct ggml_tensor *x) {
    int w = m->hp.window, s = b->shift;
    int64_t W = x->ne[1], H = x->ne[2], B = x->ne[3];
    struct ggml_tensor *h = norm(c, x, &b->ln1, &m->hp.audio_eps);
    if (s)
        h = ggml_roll(c, h, 0, -s, -s, 0);
    h = attention(c, partition(c, h, w), &b->q, &b->k, &b->v, &b->o, b->mask, st->heads);
    h = unpartition(c, h, w, W, H, B);
    if (s)
        h = ggml_roll(c, h, 0, s, s, 0);
    x = b->o.b ? mill_op_bias_residual(c, h, b->o.b, x) : ggml_add(c, x, h);
    h = linear_gelu(c, norm(c, x, &b->ln2, &m->hp.audio_eps), &b->fc1);
    return linear_residual(c, h, &b->fc2, x);
}

/* Patch merging: [C, W, H, B] -> [2C, W/2, H/2, B], channels in HF's order (x0, x1, x2, x3):
 * (h even, w even), (h odd, w even), (h even, w odd), (h odd, w odd). */
static struct ggml_tensor *merge(struct ggml_context *c, const struct clap_stage *st,
                                 struct ggml_tensor *x, const float *eps) {
    int64_t C = x->ne[0], W = x->ne[1], H = x->ne[2], B = x->ne[3];
    x = ggml_reshape_4d(c, x, 2 * C, W / 2, 2, (H / 2) * B);
    x = ggml_cont(c, ggml_permute(c, x, 0, 2, 1, 3)); /* [2C (c, wi), 2 (hi), W/2, ...] */
    x = ggml_reshape_4d(c, x, C, 2, 2, (W / 2) * (H / 2) * B);
    x = ggml_cont(c, ggml_permute(c, x, 0, 2, 1, 3)); /* [C, hi, wi, ...] */
    x = ggml_reshape_4d(c, x, 4 * C, W / 2, H / 2, B);
    x = norm(c, x, &st->merge_ln, eps);
    const struct clap_linear reduction = {st->merge_w, NULL};
    return linear(c, x, &reduction);
}

static struct ggml_tensor *audio_graph(struct ggml_context *c, const struct mill_clap_model *m,
                                       struct ggml_tensor *img) {
    const struct mill_clap_hparams *h = &m->hp;
    int P = h->patch_size;
    int64_t g = h->spec_size / P, B = img->ne[3];
    /* Exact F32 patch embedding (ggml_conv_2d's im2col is F16): im2col to [P*P, g, g, B], then
     * one matrix product to [E, g(w), g(h), B]. */
    struct ggml_tensor *col =
        ggml_im2col(c, m->patch_w, img, P, P, 0, 0, 1, 1, true, GGML_TYPE_F32);
    struct ggml_tensor *x = ggml_mul_mat(c, ggml_reshape_2d(c, m->patch_w, P * P, h->embed),
                                         ggml_reshape_2d(c, col, P * P, g * g * B));
    x = ggml_add(c, ggml_reshape_4d(c, x, h->embed, g, g, B), m->patch_b);
    if (h->patch_norm)
        x = norm(c, x, &m->patch_ln, &ln_eps);
    for (int s = 0; s < h->n_stages; s++) {
        const struct clap_stage *st = &m->stages[s];
        for (int b = 0; b < h->depths[s]; b++)
            x = swin_block(c, m, st, &st->blocks[b], x);
        if (s + 1 < h->n_stages)
            x = merge(c, st, x, &ln_eps);
    }
    x = norm(c, x, &m->final_ln, &ln_eps);
    int64_t C = x->ne[0], T = x->ne[1] * x->ne[2];
    x = ggml_cont(c, ggml_permute(c, ggml_reshape_3d(c, x, C, T, B), 1, 0, 2, 3)); /* [T, C, B] */
    x = ggml_reshape_2d(c, ggml_mean(c, x), C, B);
    x = linear(c, ggml_relu(c, linear(c, x, &m->a_proj1)), &m->a_proj2);
    return x;
}

static struct ggml_tensor *text_graph(struct ggml_context *c, const struct mill_clap_model *m,
                                      struct ggml_tensor *ids, struct ggml_tensor *pos,
                                      struct ggml_tensor *mask, int t, int n) {
    const struct mill_clap_hparams *h = &m->hp;
    int64_t D = h->text_hidden;
    struct ggml_tensor *x =
        ggml_add(c, ggml_get_rows(c, m->tok_emb, ids), ggml_get_rows(c, m->pos_emb, pos));
    x = ggml_add(c, x, ggml_view_1d(c, m->type_emb, D, 0)); /* token_type_ids are all 0 */
    x = ggml_reshape_3d(c, norm(c, x, &m->emb_ln, &h->text_eps), D, t, n);
    for (int i = 0; i < h->text_layers; i++) {
        const struct clap_text_layer *y = &m->layers[i];
        struct ggml_tensor *a = attention(c, x, &y->q, &y->k, &y->v, &y->o, mask, h->text_heads);
        a = y->o.b ? mill_op_bias_residual(c, a, y->o.b, x) : ggml_add(c, a, x);
        x = norm(c, a, &y->ln_attn, &h->text_eps);
        x = norm(c, linear_residual(c, linear_gelu(c, x, &y->fc1), &y->fc2, x), &y->ln_out,
                 &h->text_eps);
    }
    x = ggml_cont(c, ggml_view_2d(c, x, D, n, x->nb[2], 0)); /* the <s> row of each text */
    x = ggml_tanh(c, linear(c, x, &m->pooler));
    return linear(c, ggml_relu(c, linear(c, x, &m->t_proj1)), &m->t_proj2);
}

/* Builds the graph (fn fills it), allocates, sets the inputs, computes, reads out. */
struct run {
    struct ggml_context *ctx;
    struct ggml_cgraph *gf;
};

static int begin(struct run *r, struct mill_err *err) {
    size_t size =
        ggml_tensor_overhead() * GRAPH_NODES + ggml_graph_overhead_custom(GRAPH_NODES, false);
    struct ggml_init_params ip = {size, NULL, true};
    if (!(r->ctx = ggml_init(ip)) || !(r->gf = ggml_new_graph_custom(r->ctx, GRAPH_NODES, false)))
        return mill_err_set(err, MILL_ENOMEM, "clap: out of memory for the graph");
    return MILL_OK;
}

/* Allocates the graph in the model's allocator, whose buffer grows to the largest graph seen
 * and is then reused (a fresh buffer per call costs its page faults every time). */
static int compute(struct run *r, struct mill_clap_model *m, struct ggml_tensor *out,
                   struct mill_err *err) {
    ggml_build_forward_expand(r->gf, out);
    if (!m->galloc)
        m->galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(m->backend));
    if (!m->galloc || !ggml_gallocr_alloc_graph(m->galloc, r->gf))
        return mill_err_set(err, MILL_ENOMEM, "clap: cannot allocate the graph's buffers");
    return MILL_OK;
}

static void end(struct run *r) {
    if (r->ctx)
        ggml_free(r->ctx);
}

static int finish(struct run *r, const struct mill_clap_model *m, struct ggml_tensor *out,
                  float *dst, struct mill_err *err) {
    if (ggml_backend_graph_compute(m->backend, r->gf) != GGML_STATUS_SUCCESS)
        return mill_err_set(err, MILL_EBACKEND, "clap: ggml compute failed");
    ggml_backend_tensor_get(out, dst, 0, ggml_nbytes(out));
    return MILL_OK;
}

int mill_clap_run_audio(struct mill_clap_model *m, const float *img, int n, float *out,
                        struct mill_err *err) {
    struct run r = {0};
    int S = m->hp.spec_size, rc = begin(&r, err);
    struct ggml_tensor *in = NULL, *y = NULL;
    if (!rc) {
        in = ggml_new_tensor_4d(r.ctx, GGML_TYPE_F32, S, S, 1, n);
        ggml_set_input(in);
        y = audio_graph(r.ctx, m, in);
        ggml_set_output(y);
        rc = compute(&r, m, y, err);
    }
    if (!rc) {
        ggml_backend_tensor_set(in, img, 0, ggml_nbytes(in));
        rc = finish(&r, m, y, out, err);
    }
    end(&r);
    return rc;
}

int mill_clap_run_texts(struct mill_clap_model *m, const int32_t *ids, const int32_t *pos,
                        const float *mask, int t, int n, float *out, struct mill_err *err) {
    struct run r = {0};
    int rc = begin(&r, err);
    struct ggml_tensor *ti = NULL, *tp = NULL, *tm = NULL, *y = NULL;
    if (!rc) {
        ti = ggml_new_tensor_1d(r.ctx, GGML_TYPE_I32, (int64_t)t * n);
        tp = ggml_new_tensor_1d(r.ctx, GGML_TYPE_I32, (int64_t)t * n);
        tm = ggml_new_tensor_4d(r.ctx, GGML_TYPE_F32, t, t, 1, n);
        ggml_set_input(ti);
        ggml_set_input(tp);
        ggml_set_input(tm);
        y = text_graph(r.ctx, m, ti, tp, tm, t, n);
        ggml_set_output(y);
        rc = compute(&r, m, y, err);
    }
    if (!rc) {
        ggml_backend_tensor_set(ti, ids, 0, ggml_nbytes(ti));
        ggml_backend_tensor_set(tp, pos, 0, ggml_nbytes(tp));
        ggml_backend_tensor_set(tm, mask, 0, ggml_nbytes(tm));
        rc = finish(&r, m, y, out, err);
    }
    end(&r);
    return rc;
}
