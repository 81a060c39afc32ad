/* clip_load.c: loads CLIP weights from safetensors into ggml tensors on the CPU backend, mapping
 * open_clip names (fused attn.in_proj, proj as x @ P) and HF CLIPModel names (split q/k/v,
 * Linear projections) onto the one layout of clip_impl.h.
 *
 * Matrices keep their stored dtype (F32, F16 or BF16); norms, biases, embeddings and the class
 * token become F32. Tensors are copied one by one, each one's mapped file pages dropped after
 * its copy (so the peak RSS stays near the model's size). Every tensor's shape is checked and
 * named on mismatch; a tensor the architecture does not use is refused, since it means the
 * config hides a feature. This file must not build graphs or read configs. */
#include "model/clip/clip_impl.h"
#include "model/safetensors.h"

#include <ggml-cpu.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum job_kind {
    J_STORED,    /* copy the bytes as stored (a slice for in_proj) */
    J_F32,       /* convert to F32 (a slice for in_proj_bias) */
    J_TRANSPOSE, /* torch [rows, cols] to ggml [rows, cols] (x @ P as a Linear), as stored */
};

struct job {
    struct ggml_tensor *dst;
    const struct mill_st_tensor *src;
    enum job_kind kind;
    size_t first; /* first source element */
};

struct loader {
    struct mill_clip_model *m;
    const struct mill_safetensors *st;
    const char *path;
    struct mill_err *err;
    struct job *jobs;
    size_t n_jobs, cap_jobs;
    bool *used; /* per safetensors tensor: consumed by a job */
};

static enum ggml_type ggml_type_of(enum mill_st_dtype d) {
    return d == MILL_ST_F16 ? GGML_TYPE_F16 : d == MILL_ST_BF16 ? GGML_TYPE_BF16 : GGML_TYPE_F32;
}

/* Formats a torch shape as "[a, b, c]" into buf. */
static const char *shape_str(const int64_t *shape, int n, char *buf, size_t size) {
    size_t off = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
}

/* The tensor called name with torch shape want[0..n) and a float dtype, or NULL with err set.
 * n == 0 also accepts shape [1] (a scalar saved as a vector). */
static const struct mill_st_tensor *need(struct loader *l, const char *name, int n,
                                         const int64_t *want) {
    const struct mill_st_tensor *t = mill_safetensors_find(l->st, name);
    char a[128], b[128];
    if (!t) {
        mill_err_set(l->err, MILL_EFORMAT, "%s: missing tensor '%s'", l->path, name);
        return NULL;
    }
    bool ok = t->n_dims == n || (n == 0 && t->n_dims == 1 && t->shape[0] == 1);
    for (int i = 0; ok && i < n; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        mill_err_set(l->err, MILL_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", l->path,
                     name, shape_str(t->shape, t->n_dims, a, sizeof a),
                     shape_str(want, n, b, sizeof b));
        return NULL;
    }
    if (t->dtype != MILL_ST_F32 && t->dtype != MILL_ST_F16 && t->dtype != MILL_ST_BF16) {
        mill_err_set(l->err, MILL_EUNSUPPORTED,
                     "%s: tensor '%s' has dtype %s (only F32, F16, "
                     "BF16)",
                     l->path, name, mill_st_dtype_name(t->dtype));
        return NULL;
    }
    l->used[t - mill_safetensors_at(l->st, 0)] = true;
    return t;
}

static int add_job(struct loader *l, struct ggml_tensor *dst, const struct mill_st_tensor *src,
                   enum job_kind kind, size_t first) {
    if (l->n_jobs == l->cap_jobs) {
        size_t cap = l->cap_jobs ? 2 * l->cap_jobs : 64;
        struct job *j = realloc(l->jobs, cap * sizeof *j);
        if (!j)
            return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
        l->jobs = j;
        l->cap_jobs = cap;
    }
    l->jobs[l->n_jobs++] = (struct job){dst, src, kind, first};
    return MILL_OK;
}

/* Part `part` of `parts` row blocks of the torch matrix name [parts * out, in], as a ggml
 * [in, out] tensor in the stored dtype. */
static struct ggml_tensor *matrix(struct loader *l, const char *name, int64_t in, int64_t out,
                                  int part, int parts) {
    int64_t shape[2] = {parts * out, in};
    const struct mill_st_tensor *t = need(l, name, 2, shape);
    if (!t)
        return NULL;
    struct ggml_tensor *x = ggml_new_tensor_2d(l->m->wctx, ggml_type_of(t->dtype), in, out);
    if (add_job(l, x, t, J_STORED, (size_t)(part * out * in)))
        return NULL;
    return x;
}

/* Part `part` of `parts` blocks of the torch vector name [parts * n], as F32 [n]. */
static struct ggml_tensor *vector(struct loader *l, const char *name, int64_t n, int part,
                                  int parts) {
    int64_t shape[1] = {parts * n};
    const struct mill_st_tensor *t = need(l, name, 1, shape);
    if (!t)
        return NULL;
    struct ggml_tensor *x = ggml_new_tensor_1d(l->m->wctx, GGML_TYPE_F32, n);
    if (add_job(l, x, t, J_F32, (size_t)(part * n)))
        return NULL;
    return x;
}

/* The torch table name [rows, cols] as F32 ggml [cols, rows] (embeddings). */
static struct ggml_tensor *table(struct loader *l, const char *name, int64_t rows, int64_t cols) {
    int64_t shape[2] = {rows, cols};
    const struct mill_st_tensor *t = need(l, name, 2, shape);
    if (!t)
        return NULL;
    struct ggml_tensor *x = ggml_new_tensor_2d(l->m->wctx, GGML_TYPE_F32, cols, rows);
    if (add_job(l, x, t, J_F32, 0))
        return NULL;
    return x;
}

/* open_clip's proj / text_projection, torch [width, embed] used as x @ P: stored transposed
 * as ggml [width, embed], i.e. the bytes of a Linear weight [embed][width]. */
static struct ggml_tensor *projection(struct loader *l, const char *name, int64_t width,
                                      int64_t embed) {
    int64_t shape[2] = {width, embed};
    const struct mill_st_tensor *t = need(l, name, 2, shape);
    if (!t)
        return NULL;
    struct ggml_tensor *x = ggml_new_tensor_2d(l->m->wctx, ggml_type_of(t->dtype), width, embed);
    if (add_job(l, x, t, J_TRANSPOSE, 0))
        return NULL;
    return x;
}

/* The patch convolution, torch [D, 3, P, P], as ggml [P, P, 3, D] in the stored dtype. */
static struct ggml_tensor *patch_conv(struct loader *l, const char *name, int64_t d, int64_t p) {
    int64_t shape[4] = {d, 3, p, p};
    const struct mill_st_tensor *t = need(l, name, 4, shape);
    if (!t)
        return NULL;
    struct ggml_tensor *x = ggml_new_tensor_4d(l->m->wctx, ggml_type_of(t->dtype), p, p, 3, d);
    if (add_job(l, x, t, J_STORED, 0))
        return NULL;
    return x;
}

/* The scalar name as a float. */
static int scalar(struct loader *l, const char *name, float *out) {
    const struct mill_st_tensor *t = need(l, name, 0, NULL);
    if (!t)
        return l->err->code;
    if (t->dtype == MILL_ST_F32) {
        memcpy(out, t->data, sizeof *out);
    } else {
        uint16_t h;
        memcpy(&h, t->data, sizeof h);
        *out = t->dtype == MILL_ST_F16 ? ggml_fp16_to_fp32(h) : ggml_bf16_to_fp32((ggml_bf16_t){h});
    }
    return MILL_OK;
}

/* Formats prefix + suffix into the loader's name buffer. */
static const char *nm(char *buf, size_t size, const char *prefix, const char *suffix) {
    snprintf(buf, size, "%s%s", prefix, suffix);
    return buf;
}

#define NM(suffix) nm(name, sizeof name, pre, suffix)

/* open_clip resblock at pre ("visual.transformer.resblocks.3."): fused in_proj split in three. */
static int block_open_clip(struct loader *l, const char *pre, int64_t d, int64_t mlp,
                           struct clip_block *b) {
    char name[256];
    struct ggml_tensor **qkv_w[3] = {&b->q_w, &b->k_w, &b->v_w};
    struct ggml_tensor **qkv_b[3] = {&b->q_b, &b->k_b, &b->v_b};
    for (int i = 0; i < 3; i++) {
        if (!(*qkv_w[i] = matrix(l, NM("attn.in_proj_weight"), d, d, i, 3)) ||
            !(*qkv_b[i] = vector(l, NM("attn.in_proj_bias"), d, i, 3)))
            return l->err->code;
    }
    if (!(b->ln1_w = vector(l, NM("ln_1.weight"), d, 0, 1)) ||
        !(b->ln1_b = vector(l, NM("ln_1.bias"), d, 0, 1)) ||
        !(b->o_w = matrix(l, NM("attn.out_proj.weight"), d, d, 0, 1)) ||
        !(b->o_b = vector(l, NM("attn.out_proj.bias"), d, 0, 1)) ||
        !(b->ln2_w = vector(l, NM("ln_2.weight"), d, 0, 1)) ||
        !(b->ln2_b = vector(l, NM("ln_2.bias"), d, 0, 1)) ||
        !(b->fc1_w = matrix(l, NM("mlp.c_fc.weight"), d, mlp, 0, 1)) ||
        !(b->fc1_b = vector(l, NM("mlp.c_fc.bias"), mlp, 0, 1)) ||
        !(b->fc2_w = matrix(l, NM("mlp.c_proj.weight"), mlp, d, 0, 1)) ||
        !(b->fc2_b = vector(l, NM("mlp.c_proj.bias"), d, 0, 1)))
        return l->err->code;
    return MILL_OK;
}

/* HF CLIPEncoderLayer at pre ("vision_model.encoder.layers.3."). */
static int block_hf(struct loader *l, const char *pre, int64_t d, int64_t mlp,
                    struct clip_block *b) {
    char name[256];
    if (!(b->ln1_w = vector(l, NM("layer_norm1.weight"), d, 0, 1)) ||
        !(b->ln1_b = vector(l, NM("layer_norm1.bias"), d, 0, 1)) ||
        !(b->q_w = matrix(l, NM("self_attn.q_proj.weight"), d, d, 0, 1)) ||
        !(b->q_b = vector(l, NM("self_attn.q_proj.bias"), d, 0, 1)) ||
        !(b->k_w = matrix(l, NM("self_attn.k_proj.weight"), d, d, 0, 1)) ||
        !(b->k_b = vector(l, NM("self_attn.k_proj.bias"), d, 0, 1)) ||
        !(b->v_w = matrix(l, NM("self_attn.v_proj.weight"), d, d, 0, 1)) ||
        !(b->v_b = vector(l, NM("self_attn.v_proj.bias"), d, 0, 1)) ||
        !(b->o_w = matrix(l, NM("self_attn.out_proj.weight"), d, d, 0, 1)) ||
        !(b->o_b = vector(l, NM("self_attn.out_proj.bias"), d, 0, 1)) ||
        !(b->ln2_w = vector(l, NM("layer_norm2.weight"), d, 0, 1)) ||
        !(b->ln2_b = vector(l, NM("layer_norm2.bias"), d, 0, 1)) ||
        !(b->fc1_w = matrix(l, NM("mlp.fc1.weight"), d, mlp, 0, 1)) ||
        !(b->fc1_b = vector(l, NM("mlp.fc1.bias"), mlp, 0, 1)) ||
        !(b->fc2_w = matrix(l, NM("mlp.fc2.weight"), mlp, d, 0, 1)) ||
        !(b->fc2_b = vector(l, NM("mlp.fc2.bias"), d, 0, 1)))
        return l->err->code;
    return MILL_OK;
}

/* All layers of a tower; fmt holds one %d for the layer index. */
static int blocks(struct loader *l, const char *fmt, int layers, int64_t d, int64_t mlp,
                  struct clip_block **out) {
    *out = calloc((size_t)layers, sizeof **out);
    if (!*out)
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    for (int i = 0; i < layers; i++) {
        char pre[128];
        snprintf(pre, sizeof pre, fmt, i);
        int rc = l->m->format == CLIP_HF ? block_hf(l, pre, d, mlp, &(*out)[i])
                                         : block_open_clip(l, pre, d, mlp, &(*out)[i]);
        if (rc)
            return rc;
    }
    return MILL_OK;
}

static int vision_open_clip(struct loader *l) {
    const struct mill_clip_hparams *hp = &l->m->hp;
    struct clip_vision *v = &l->m->vis;
    int64_t d = hp->vision_width, g = hp->image_size / hp->patch_size;
    if (!(v->patch_w = patch_conv(l, "visual.conv1.weight", d, hp->patch_size)) ||
        !(v->cls = vector(l, "visual.class_embedding", d, 0, 1)) ||
        !(v->pos = table(l, "visual.positional_embedding", g * g + 1, d)) ||
        !(v->ln_pre_w = vector(l, "visual.ln_pre.weight", d, 0, 1)) ||
        !(v->ln_pre_b = vector(l, "visual.ln_pre.bias", d, 0, 1)) ||
        !(v->ln_post_w = vector(l, "visual.ln_post.weight", d, 0, 1)) ||
        !(v->ln_post_b = vector(l, "visual.ln_post.bias", d, 0, 1)) ||
        !(v->proj = projection(l, "visual.proj", d, hp->embed_dim)))
        return l->err->code;
    return blocks(l, "visual.transformer.resblocks.%d.", hp->vision_layers, d, hp->vision_mlp,
                  &v->blocks);
}

static int text_open_clip(struct loader *l) {
    const struct mill_clip_hparams *hp = &l->m->hp;
    struct clip_text *t = &l->m->txt;
    int64_t d = hp->text_width;
    const char *pre = l->m->text_prefixed ? "text." : "";
    char name[256], fmt[64];
    if (!(t->tok_emb = table(l, NM("token_embedding.weight"), hp->vocab_size, d)) ||
        !(t->pos = table(l, NM("positional_embedding"), hp->context_length, d)) ||
        !(t->ln_final_w = vector(l, NM("ln_final.weight"), d, 0, 1)) ||
        !(t->ln_final_b = vector(l, NM("ln_final.bias"), d, 0, 1)) ||
        !(t->proj = projection(l, NM("text_projection"), d, hp->embed_dim)))
        return l->err->code;
    snprintf(fmt, sizeof fmt, "%stransformer.resblocks.%%d.", pre);
    return blocks(l, fmt, hp->text_layers, d, hp->text_mlp, &t->blocks);
}

static int vision_hf(struct loader *l) {
    const struct mill_clip_hparams *hp = &l->m->hp;
    struct clip_vision *v = &l->m->vis;
    int64_t d = hp->vision_width, g = hp->image_size / hp->patch_size;
    const char *pre = "vision_model.";
    char name[256];
    if (!(v->patch_w = patch_conv(l, NM("embeddings.patch_embedding.weight"), d, hp->patch_size)) ||
        !(v->cls = vector(l, NM("embeddings.class_embedding"), d, 0, 1)) ||
        !(v->pos = table(l, NM("embeddings.position_embedding.weight"), g * g + 1, d)) ||
        !(v->ln_pre_w = vector(l, NM("pre_layrnorm.weight"), d, 0, 1)) ||
        !(v->ln_pre_b = vector(l, NM("pre_layrnorm.bias"), d, 0, 1)) ||
        !(v->ln_post_w = vector(l, NM("post_layernorm.weight"), d, 0, 1)) ||
        !(v->ln_post_b = vector(l, NM("post_layernorm.bias"), d, 0, 1)) ||
        !(v->proj = matrix(l, "visual_projection.weight", d, hp->embed_dim, 0, 1)))
        return l->err->code;
    return blocks(l, "vision_model.encoder.layers.%d.", hp->vision_layers, d, hp->vision_mlp,
                  &v->blocks);
}

static int text_hf(struct loader *l) {
    const struct mill_clip_hparams *hp = &l->m->hp;
    struct clip_text *t = &l->m->txt;
    int64_t d = hp->text_width;
    const char *pre = "text_model.";
    char name[256];
    if (!(t->tok_emb = table(l, NM("embeddings.token_embedding.weight"), hp->vocab_size, d)) ||
        !(t->pos = table(l, NM("embeddings.position_embedding.weight"), hp->context_length, d)) ||
        !(t->ln_final_w = vector(l, NM("final_layer_norm.weight"), d, 0, 1)) ||
        !(t->ln_final_b = vector(l, NM("final_layer_norm.bias"), d, 0, 1)) ||
        !(t->proj = matrix(l, "text_projection.weight", d, hp->embed_dim, 0, 1)))
        return l->err->code;
    return blocks(l, "text_model.encoder.layers.%d.", hp->text_layers, d, hp->text_mlp, &t->blocks);
}

/* A tensor no job consumed means a feature the config did not announce (a projection bias,
 * layer scale, an attention pooler): refuse it. HF's position_ids buffers are the exception. */
static int check_unused(struct loader *l) {
    size_t n = mill_safetensors_count(l->st);
    for (size_t i = 0; i < n; i++) {
        const char *name = mill_safetensors_at(l->st, i)->name;
        size_t len = strlen(name);
        if (l->used[i] || (len >= 12 && strcmp(name + len - 12, "position_ids") == 0))
            continue;
        return mill_err_set(l->err, MILL_EUNSUPPORTED,
                            "%s: tensor '%s' is not part of the "
                            "architecture the config describes",
                            l->path, name);
    }
    return MILL_OK;
}

/* Writes the F32 conversion of n elements of src from element first into dst. */
static int set_f32(struct loader *l, const struct job *j) {
    size_t n = (size_t)ggml_nelements(j->dst);
    const char *p = (const char *)j->src->data + j->first * mill_st_dtype_size(j->src->dtype);
    if (j->src->dtype == MILL_ST_F32) {
        ggml_backend_tensor_set(j->dst, p, 0, n * sizeof(float));
        return MILL_OK;
    }
    uint16_t *h = malloc(n * sizeof *h);
    float *f = malloc(n * sizeof *f);
    if (!h || !f) {
        free(h);
        free(f);
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    }
    memcpy(h, p, n * sizeof *h); /* the mapped data need not be aligned */
    if (j->src->dtype == MILL_ST_F16)
        ggml_fp16_to_fp32_row((const ggml_fp16_t *)h, f, (int64_t)n);
    else
        ggml_bf16_to_fp32_row((const ggml_bf16_t *)h, f, (int64_t)n);
    ggml_backend_tensor_set(j->dst, f, 0, n * sizeof *f);
    free(h);
    free(f);
    return MILL_OK;
}

/* Writes torch [rows, cols] src transposed into dst (ggml [rows, cols]), element size kept. */
static int set_transposed(struct loader *l, const struct job *j) {
    size_t es = mill_st_dtype_size(j->src->dtype);
    size_t rows = (size_t)j->dst->ne[0], cols = (size_t)j->dst->ne[1];
    char *out = malloc(rows * cols * es);
    if (!out)
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    const char *in = j->src->data;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            memcpy(out + (c * rows + r) * es, in + (r * cols + c) * es, es);
    ggml_backend_tensor_set(j->dst, out, 0, rows * cols * es);
    free(out);
    return MILL_OK;
}

/* Drops the mapped file pages a job read from this process's memory (they are read again from
 * the file if touched), so the peak RSS while loading stays near the model's size instead of
 * the model plus the whole mapped file. */
static void release_pages(const struct job *j) {
    size_t es = mill_st_dtype_size(j->src->dtype);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), p = (uintptr_t)j->src->data + j->first * es;
    uintptr_t a = p & ~(page - 1), e = p + (size_t)ggml_nelements(j->dst) * es;
    if (page > 0 && e > a)
        madvise((void *)a, e - a, MADV_DONTNEED);
}

static int run_jobs(struct loader *l) {
    for (size_t i = 0; i < l->n_jobs; i++) {
        const struct job *j = &l->jobs[i];
        int rc = MILL_OK;
        if (j->kind == J_STORED) {
            size_t es = mill_st_dtype_size(j->src->dtype);
            ggml_backend_tensor_set(j->dst, (const char *)j->src->data + j->first * es, 0,
                                    ggml_nbytes(j->dst));
        } else if (j->kind == J_F32) {
            rc = set_f32(l, j);
        } else {
            rc = set_transposed(l, j);
        }
        if (rc)
            return rc;
        release_pages(j);
    }
    return MILL_OK;
}

/* Maps the checkpoint's names onto m's tensors (no data yet) and reads logit_scale. */
static int map_tensors(struct loader *l) {
    struct mill_clip_model *m = l->m;
    size_t n = 16 * (size_t)(m->hp.vision_layers + m->hp.text_layers) + 32;
    struct ggml_init_params ip = {n * ggml_tensor_overhead(), NULL, true};
    if (!(m->wctx = ggml_init(ip)))
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    int rc = m->format == CLIP_HF ? vision_hf(l) : vision_open_clip(l);
    if (!rc)
        rc = m->format == CLIP_HF ? text_hf(l) : text_open_clip(l);
    float ls = 0;
    if (!rc)
        rc = scalar(l, "logit_scale", &ls);
    if (!rc && !(isfinite(ls) && ls < 80))
        rc = mill_err_set(l->err, MILL_EFORMAT, "%s: logit_scale %g is not a finite log-scale",
                          l->path, ls);
    m->logit_scale = expf(ls);
    if (!rc)
        rc = check_unused(l);
    return rc;
}

/* Creates the CPU backend with the requested threads and uploads the weights. */
static int upload(struct loader *l) {
    struct mill_clip_model *m = l->m;
    if (!(m->backend = ggml_backend_cpu_init()))
        return mill_err_set(l->err, MILL_EBACKEND, "%s: cannot start ggml's CPU backend", l->path);
    ggml_backend_cpu_set_n_threads(m->backend, m->params.threads);
    if (!(m->wbuf = ggml_backend_alloc_ctx_tensors(m->wctx, m->backend)))
        return mill_err_set(l->err, MILL_ENOMEM, "%s: cannot allocate the weights", l->path);
    ggml_backend_buffer_set_usage(m->wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    return run_jobs(l);
}

int mill_clip_load_weights(struct mill_clip_model *m, const char *path, struct mill_err *err) {
    struct mill_safetensors *st = NULL;
    int rc = mill_safetensors_open(path, &st, err);
    if (rc)
        return rc;
    struct loader l = {.m = m, .st = st, .path = path, .err = err};
    l.used = calloc(mill_safetensors_count(st) + 1, sizeof *l.used);
    if (!l.used)
        rc = mill_err_set(err, MILL_ENOMEM, "%s: out of memory", path);
    if (!rc)
        rc = map_tensors(&l);
    if (!rc)
        rc = upload(&l);
    free(l.used);
    free(l.jobs);
    mill_safetensors_free(st);
    return rc;
}
