/* clip_graph.c: the ggml graphs of the CLIP towers and the batched encode calls: patch embedding
 * by F32 im2col + mul_mat, class token, position embeddings, pre-LN transformer blocks (their
 * LayerNorm, head split, activation and bias + residual adds are model/ggml_ops.c's custom
 * ops), CLS or EOT pooling, projection and L2 normalisation.
 *
 * A graph is built for one (batch, length) shape and kept while the next call has that shape;
 * inputs are written before every compute, since gallocr reuses input memory. This file must not
 * read files or change weights, and must not use ggml ops with lookup tables or F16 im2col. */
#include "model/clip/clip_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct ggml_tensor *layer_norm(struct ggml_context *ctx, struct ggml_tensor *x,
                                      struct ggml_tensor *w, struct ggml_tensor *b,
                                      const struct mill_clip_hparams *hp) {
    return mill_op_layer_norm(ctx, x, w, b, &hp->ln_eps);
}

/* Keys are padded to a multiple of this, so both attention products run through ggml's blocked
 * GEMM (llamafile sgemm wants the contracted length to be a multiple of 16) rather than one
 * dot product per output; padded keys are masked to -inf and their values are zero. */
#define KEY_PAD 16

/* Multi-head self-attention over x [D, T, N], up to the output projection. causal masks later
 * positions (and so the padded keys); otherwise key_mask [Tp, T] (0, or -inf for the padding)
 * does, when T is not a multiple of KEY_PAD. */
static struct ggml_tensor *attention(struct ggml_context *ctx, struct ggml_tensor *x,
                                     const struct clip_block *b, int heads, bool causal,
                                     struct ggml_tensor *key_mask) {
    int64_t d = x->ne[0], t = x->ne[1], n = x->ne[2], hd = d / heads;
    int64_t tp = GGML_PAD(t, KEY_PAD);
    struct ggml_tensor *q = ggml_mul_mat(ctx, b->q_w, x), *k = ggml_mul_mat(ctx, b->k_w, x);
    struct ggml_tensor *v = ggml_mul_mat(ctx, b->v_w, x);
    q = mill_op_split_heads(ctx, q, b->q_b, heads, t, false);  /* hd,T,H,N */
    k = mill_op_split_heads(ctx, k, b->k_b, heads, tp, false); /* hd,Tp,H,N */
    v = mill_op_split_heads(ctx, v, b->v_b, heads, tp, true);  /* Tp,hd,H,N */
    struct ggml_tensor *kq = ggml_mul_mat(ctx, k, q);          /* Tp,T,H,N */
    if (causal)
        kq = ggml_diag_mask_inf(ctx, kq, 0);
    kq = ggml_soft_max_ext(ctx, kq, causal || tp == t ? NULL : key_mask, 1.0f / sqrtf((float)hd),
                           0.0f);
    struct ggml_tensor *o = ggml_mul_mat(ctx, v, kq); /* hd,T,H,N */
    return ggml_cont_3d(ctx, ggml_permute(ctx, o, 0, 2, 1, 3), d, t, n);
}

/* One pre-LN residual block: x + attn(ln_1 x), then + mlp(ln_2 x). */
static struct ggml_tensor *block(struct ggml_context *ctx, struct ggml_tensor *x,
                                 const struct clip_block *b, int heads, bool causal,
                                 struct ggml_tensor *key_mask, const struct mill_clip_hparams *hp) {
    struct ggml_tensor *h =
        attention(ctx, layer_norm(ctx, x, b->ln1_w, b->ln1_b, hp), b, heads, causal, key_mask);
    x = mill_op_bias_residual(ctx, ggml_mul_mat(ctx, b->o_w, h), b->o_b, x);
    h = layer_norm(ctx, x, b->ln2_w, b->ln2_b, hp);
    h = mill_op_bias_act(ctx, ggml_mul_mat(ctx, b->fc1_w, h), b->fc1_b, hp->quick_gelu);
    return mill_op_bias_residual(ctx, ggml_mul_mat(ctx, b->fc2_w, h), b->fc2_b, x);
}

/* Projection [D, n] -> [E, n] and L2 normalisation (torch F.normalize's eps). */
static struct ggml_tensor *project(struct ggml_context *ctx, struct ggml_tensor *pooled,
                                   struct ggml_tensor *proj) {
    return ggml_l2_norm(ctx, ggml_mul_mat(ctx, proj, pooled), 1e-12f);
}

void mill_clip_graph_free(struct clip_graph *g) {
    if (g->ctx)
        ggml_free(g->ctx);
    memset(g, 0, sizeof *g);
}

/* Starts g for a graph of about `nodes` nodes; false when out of memory. */
static bool graph_begin(struct clip_graph *g, size_t nodes) {
    mill_clip_graph_free(g);
    struct ggml_init_params ip = {
        nodes * ggml_tensor_overhead() + ggml_graph_overhead_custom(nodes, false), NULL, true};
    if (!(g->ctx = ggml_init(ip)))
        return false;
    g->gf = ggml_new_graph_custom(g->ctx, nodes, false);
    return true;
}

static size_t graph_nodes(int layers) { return 64 * (size_t)layers + 256; }

/* The vision graph for n images [S, S, 3, n] (CHW each). */
static bool build_vision(struct mill_clip_model *m, int n) {
    const struct mill_clip_hparams *hp = &m->hp;
    const struct clip_vision *v = &m->vis;
    struct clip_graph *g = &m->g_vis;
    if (!graph_begin(g, graph_nodes(hp->vision_layers)))
        return false;
    struct ggml_context *ctx = g->ctx;
    int64_t d = hp->vision_width, p = hp->patch_size, s = hp->image_size, gs = s / p;
    g->in = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, s, s, 3, n);
    ggml_set_input(g->in);
    /* Exact F32 patch embedding: im2col to [3*P*P, G, G, n], then one matrix product. */
    struct ggml_tensor *col =
        ggml_im2col(ctx, v->patch_w, g->in, (int)p, (int)p, 0, 0, 1, 1, true, GGML_TYPE_F32);
    struct ggml_tensor *x = ggml_mul_mat(ctx, ggml_reshape_2d(ctx, v->patch_w, p * p * 3, d),
                                         ggml_reshape_2d(ctx, col, p * p * 3, gs * gs * n));
    x = ggml_reshape_3d(ctx, x, d, gs * gs, n);
    struct ggml_tensor *cls = ggml_repeat_4d(ctx, v->cls, d, 1, n, 1);
    x = ggml_add(ctx, ggml_concat(ctx, cls, x, 1), v->pos);
    x = layer_norm(ctx, x, v->ln_pre_w, v->ln_pre_b, hp);
    int64_t t = gs * gs + 1;
    if (GGML_PAD(t, KEY_PAD) != t) {
        g->key_mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, GGML_PAD(t, KEY_PAD), t);
        ggml_set_input(g->key_mask);
    }
    for (int i = 0; i < hp->vision_layers; i++)
        x = block(ctx, x, &v->blocks[i], hp->vision_heads, false, g->key_mask, hp);
    struct ggml_tensor *pooled = ggml_cont(ctx, ggml_view_2d(ctx, x, d, n, x->nb[2], 0));
    pooled = layer_norm(ctx, pooled, v->ln_post_w, v->ln_post_b, hp);
    g->out = project(ctx, pooled, v->proj);
    ggml_set_output(g->out);
    ggml_build_forward_expand(g->gf, g->out);
    g->n = n;
    return true;
}

/* The text graph for n rows of t tokens, pooled at pool_idx (row i * t + EOT of row i). */
static bool build_text(struct mill_clip_model *m, int n, int t) {
    const struct mill_clip_hparams *hp = &m->hp;
    const struct clip_text *tx = &m->txt;
    struct clip_graph *g = &m->g_txt;
    if (!graph_begin(g, graph_nodes(hp->text_layers)))
        return false;
    struct ggml_context *ctx = g->ctx;
    int64_t d = hp->text_width;
    g->in = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, (int64_t)t * n);
    g->pool_idx = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n);
    ggml_set_input(g->in);
    ggml_set_input(g->pool_idx);
    struct ggml_tensor *x = ggml_reshape_3d(ctx, ggml_get_rows(ctx, tx->tok_emb, g->in), d, t, n);
    x = ggml_add(ctx, x, ggml_view_2d(ctx, tx->pos, d, t, tx->pos->nb[1], 0));
    for (int i = 0; i < hp->text_layers; i++)
        x = block(ctx, x, &tx->blocks[i], hp->text_heads, true, NULL, hp);
    /* ln_final is per token, so pooling first is the same and cheaper. */
    struct ggml_tensor *pooled =
        ggml_get_rows(ctx, ggml_reshape_2d(ctx, x, d, (int64_t)t * n), g->pool_idx);
    pooled = layer_norm(ctx, pooled, tx->ln_final_w, tx->ln_final_b, hp);
    g->out = project(ctx, pooled, tx->proj);
    ggml_set_output(g->out);
    ggml_build_forward_expand(g->gf, g->out);
    g->n = n;
    g->t = t;
    return true;
}

/* Allocates g with the tower's gallocr (created on first use; its buffer is reused while big
 * enough). Inputs must be written after this, before every compute. */
static int graph_alloc(struct mill_clip_model *m, ggml_gallocr_t *ga, struct clip_graph *g,
                       struct mill_err *err) {
    if (!*ga && !(*ga = ggml_gallocr_new(ggml_backend_get_default_buffer_type(m->backend))))
        return mill_err_set(err, MILL_ENOMEM, "clip: cannot create a graph allocator");
    if (!ggml_gallocr_alloc_graph(*ga, g->gf))
        return mill_err_set(err, MILL_ENOMEM,
                            "clip: cannot allocate the compute buffer for a "
                            "batch of %d",
                            g->n);
    return MILL_OK;
}

static int graph_run(struct mill_clip_model *m, struct clip_graph *g, float *out,
                     struct mill_err *err) {
    if (ggml_backend_graph_compute(m->backend, g->gf) != GGML_STATUS_SUCCESS)
        return mill_err_set(err, MILL_EBACKEND, "clip: ggml graph compute failed");
    ggml_backend_tensor_get(g->out, out, 0, ggml_nbytes(g->out));
    return MILL_OK;
}

/* Fills mask [Tp, T]: 0 for the T real keys, -inf for the padding. */
static int set_key_mask(struct ggml_tensor *mask, struct mill_err *err) {
    int64_t tp = mask->ne[0], t = mask->ne[1];
    float *buf = malloc((size_t)(tp * t) * sizeof *buf);
    if (!buf)
        return mill_err_set(err, MILL_ENOMEM, "clip: out of memory");
    for (int64_t j = 0; j < t; j++)
        for (int64_t i = 0; i < tp; i++)
            buf[j * tp + i] = i < t ? 0.0f : -INFINITY;
    ggml_backend_tensor_set(mask, buf, 0, ggml_nbytes(mask));
    free(buf);
    return MILL_OK;
}

static int vision_batch(struct mill_clip_model *m, const float *chw, int n, float *out,
                        struct mill_err *err) {
    struct clip_graph *g = &m->g_vis;
    if (g->n != n && !build_vision(m, n))
        return mill_err_set(err, MILL_ENOMEM, "clip: cannot build the vision graph");
    int rc = graph_alloc(m, &m->galloc_vis, g, err);
    if (rc)
        return rc;
    ggml_backend_tensor_set(g->in, chw, 0, ggml_nbytes(g->in));
    if (g->key_mask && (rc = set_key_mask(g->key_mask, err)))
        return rc;
    return graph_run(m, g, out, err);
}

int mill_clip_encode_images(struct mill_clip_model *m, const float *chw, int n, float *out,
                            struct mill_err *err) {
    if (n < 0 || (n && (!chw || !out)))
        return mill_err_set(err, MILL_EINVAL, "clip: bad image batch");
    size_t per_image = 3 * (size_t)m->hp.image_size * (size_t)m->hp.image_size;
    for (int i = 0; i < n; i += m->params.max_batch) {
        int k = n - i < m->params.max_batch ? n - i : m->params.max_batch;
        int rc = vision_batch(m, chw + (size_t)i * per_image, k,
                              out + (size_t)i * (size_t)m->hp.embed_dim, err);
        if (rc)
            return rc;
    }
    return MILL_OK;
}

struct text_row {
    int idx; /* row in the caller's batch */
    int eot; /* pooled position: the first holding the row's largest id */
};

static int cmp_row(const void *a, const void *b) {
    const struct text_row *x = a, *y = b;
    return x->eot != y->eot ? (x->eot > y->eot) - (x->eot < y->eot)
                            : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Fills rows[i] for each token row, checking every id against the vocabulary. */
static int scan_rows(const struct mill_clip_model *m, const int32_t *tokens, int n,
                     struct text_row *rows, struct mill_err *err) {
    int c = m->hp.context_length;
    for (int i = 0; i < n; i++) {
        const int32_t *r = tokens + (size_t)i * (size_t)c;
        int best = 0;
        for (int j = 0; j < c; j++) {
            if (r[j] < 0 || r[j] >= m->hp.vocab_size)
                return mill_err_set(err, MILL_EINVAL,
                                    "clip: text %d position %d holds token "
                                    "id %d, outside the vocabulary of %d",
                                    i, j, (int)r[j], m->hp.vocab_size);
            if (r[j] > r[best])
                best = j;
        }
        rows[i] = (struct text_row){i, best};
    }
    return MILL_OK;
}

/* Encodes rows[0..k) (sorted by eot) into out[rows[i].idx]; only positions up to the batch's
 * longest EOT run: under the causal mask later ones cannot reach a pooled position. */
static int text_batch(struct mill_clip_model *m, const int32_t *tokens, const struct text_row *rows,
                      int k, float *out, struct mill_err *err) {
    int c = m->hp.context_length, e = m->hp.embed_dim, t = rows[k - 1].eot + 1;
    struct clip_graph *g = &m->g_txt;
    if ((g->n != k || g->t != t) && !build_text(m, k, t))
        return mill_err_set(err, MILL_ENOMEM, "clip: cannot build the text graph");
    int rc = graph_alloc(m, &m->galloc_txt, g, err);
    int32_t *ids = malloc((size_t)t * (size_t)k * sizeof *ids + (size_t)k * sizeof *ids);
    float *res = malloc((size_t)k * (size_t)e * sizeof *res);
    if (!rc && (!ids || !res))
        rc = mill_err_set(err, MILL_ENOMEM, "clip: out of memory");
    if (!rc) {
        int32_t *pool = ids + (size_t)t * (size_t)k;
        for (int i = 0; i < k; i++) {
            memcpy(ids + (size_t)i * (size_t)t, tokens + (size_t)rows[i].idx * (size_t)c,
                   (size_t)t * sizeof *ids);
            pool[i] = i * t + rows[i].eot;
        }
        ggml_backend_tensor_set(g->in, ids, 0, ggml_nbytes(g->in));
        ggml_backend_tensor_set(g->pool_idx, pool, 0, ggml_nbytes(g->pool_idx));
        rc = graph_run(m, g, res, err);
    }
    for (int i = 0; !rc && i < k; i++)
        memcpy(out + (size_t)rows[i].idx * (size_t)e, res + (size_t)i * (size_t)e,
               (size_t)e * sizeof *res);
    free(ids);
    free(res);
    return rc;
}

int mill_clip_encode_texts(struct mill_clip_model *m, const int32_t *tokens, int n, float *out,
                           struct mill_err *err) {
    if (n < 0 || (n && (!tokens || !out)))
        return mill_err_set(err, MILL_EINVAL, "clip: bad text batch");
    if (n == 0)
        return MILL_OK;
    struct text_row *rows = malloc((size_t)n * sizeof *rows);
    if (!rows)
        return mill_err_set(err, MILL_ENOMEM, "clip: out of memory");
    int rc = scan_rows(m, tokens, n, rows, err);
    /* Rows of like length share a batch, so few padded positions are computed. */
    if (!rc)
        qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    for (int i = 0; !rc && i < n; i += m->params.max_batch) {
        int k = n - i < m->params.max_batch ? n - i : m->params.max_batch;
        rc = text_batch(m, tokens, rows + i, k, out, err);
    }
    free(rows);
    return rc;
}
