/* hf_convert.c: a transformers checkpoint into a llama.cpp GGUF (see hf_convert.h): the plan of
 * output tensors (names, shapes checked against config.json, Q/K row permutation for the llama
 * architecture, Gemma's norm + 1, Phi-3's fused projections, llama3 RoPE factors), the GGUF
 * keys, then the data streamed row by row into a temporary file that is renamed at the end.
 *
 * The mapping follows llama.cpp's convert_hf_to_gguf.py of the pinned llama.cpp (LlamaModel,
 * Qwen2Model, Qwen3Model, Gemma2Model, Gemma3Model, Phi3MiniModel); see docs/BEHAVIOUR.md.
 * Must not: hold more than a row of a tensor in memory, leave a partial file, or accept a
 * checkpoint tensor it has no place for. */
#include "model/convert/hf_impl.h"
#include "model/file.h"
#include "model/convert/hf_tokenizer.h"
#include "model/safetensors.h"

#include <ggml.h>
#include <gguf.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* Symbolic sizes of a tensor's torch shape, resolved from the config. */
enum sz { S_1 = 0, S_E, S_Q, S_KV, S_F, S_HD, S_V, S_QKV, S_2F };
enum xform { X_COPY, X_PERM_Q, X_PERM_K };

/* Per-layer tensors: HF suffix after "model.layers.N.", GGUF suffix after "blk.N.", torch shape
 * (rows, cols; cols S_1 for a vector), the architectures (bit masks of enum hf_arch) and when
 * the tensor exists. */
enum when { W_ALWAYS, W_BIAS, W_BIAS_O };
#define A(x) (1u << (x))
#define LLAMAS (A(HF_LLAMA) | A(HF_MISTRAL))
#define QWENS (A(HF_QWEN2) | A(HF_QWEN3))
#define GEMMAS (A(HF_GEMMA2) | A(HF_GEMMA3))
#define ALL (LLAMAS | QWENS | GEMMAS | A(HF_PHI3))
#define UNFUSED (LLAMAS | QWENS | GEMMAS)

/* clang-format off */
static const struct layer_row {
    const char *hf, *gguf;
    enum sz rows, cols;
    unsigned archs;
    enum when when;
} LAYER[] = {
    {"input_layernorm.weight",          "attn_norm.weight",           S_E,   S_1, ALL,     W_ALWAYS},
    {"self_attn.q_proj.weight",         "attn_q.weight",              S_Q,   S_E, UNFUSED, W_ALWAYS},
    {"self_attn.k_proj.weight",         "attn_k.weight",              S_KV,  S_E, UNFUSED, W_ALWAYS},
    {"self_attn.v_proj.weight",         "attn_v.weight",              S_KV,  S_E, UNFUSED, W_ALWAYS},
    {"self_attn.q_proj.bias",           "attn_q.bias",                S_Q,   S_1, UNFUSED, W_BIAS},
    {"self_attn.k_proj.bias",           "attn_k.bias",                S_KV,  S_1, UNFUSED, W_BIAS},
    {"self_attn.v_proj.bias",           "attn_v.bias",                S_KV,  S_1, UNFUSED, W_BIAS},
    {"self_attn.qkv_proj.weight",       "attn_qkv.weight",            S_QKV, S_E, A(HF_PHI3), W_ALWAYS},
    {"self_attn.o_proj.weight",         "attn_output.weight",         S_E,   S_Q, ALL,     W_ALWAYS},
    {"self_attn.o_proj.bias",           "attn_output.bias",           S_E,   S_1, LLAMAS,  W_BIAS_O},
    {"self_attn.q_norm.weight",         "attn_q_norm.weight",         S_HD,  S_1, A(HF_QWEN3) | A(HF_GEMMA3), W_ALWAYS},
    {"self_attn.k_norm.weight",         "attn_k_norm.weight",         S_HD,  S_1, A(HF_QWEN3) | A(HF_GEMMA3), W_ALWAYS},
    {"post_attention_layernorm.weight", "ffn_norm.weight",            S_E,   S_1, LLAMAS | QWENS | A(HF_PHI3), W_ALWAYS},
    {"post_attention_layernorm.weight", "post_attention_norm.weight", S_E,   S_1, GEMMAS,  W_ALWAYS},
    {"pre_feedforward_layernorm.weight","ffn_norm.weight",            S_E,   S_1, GEMMAS,  W_ALWAYS},
    {"post_feedforward_layernorm.weight","post_ffw_norm.weight",      S_E,   S_1, GEMMAS,  W_ALWAYS},
    {"mlp.gate_proj.weight",            "ffn_gate.weight",            S_F,   S_E, UNFUSED, W_ALWAYS},
    {"mlp.up_proj.weight",              "ffn_up.weight",              S_F,   S_E, UNFUSED, W_ALWAYS},
    {"mlp.gate_up_proj.weight",         "ffn_up.weight",              S_2F,  S_E, A(HF_PHI3), W_ALWAYS},
    {"mlp.down_proj.weight",            "ffn_down.weight",            S_E,   S_F, ALL,     W_ALWAYS},
};
/* clang-format on */

/* One output tensor. */
struct out {
    char name[GGML_MAX_NAME];
    const struct mill_st_tensor *src; /* NULL: data in synth */
    const char *file;                 /* the shard holding src, for messages */
    enum xform x;
    bool plus1;       /* Gemma's RMSNorm weights are stored as w - 1 */
    int64_t ne0, ne1; /* ggml order: ne0 = row length; ne1 = rows (1 for a vector) */
    int64_t src_rows; /* rows of src (token_embd may keep fewer) */
    enum ggml_type type;
    float *synth;
};

struct conv {
    const char *dir;
    struct hf_cfg c;
    enum mill_hf_type want;
    struct mill_safetensors **st;
    char **shard; /* file names, parallel to st */
    size_t n_st;
    struct out *t;
    size_t n_t;
    int64_t n_vocab; /* rows of token_embd and output written: the tokenizer's count */
};

static int64_t size_of(const struct hf_cfg *c, enum sz s) {
    switch (s) {
    case S_E: return c->n_embd;
    case S_Q: return c->n_head * c->head_dim;
    case S_KV: return c->n_head_kv * c->head_dim;
    case S_F: return c->n_ff;
    case S_HD: return c->head_dim;
    case S_V: return c->n_vocab;
    case S_QKV: return (c->n_head + 2 * c->n_head_kv) * c->head_dim;
    case S_2F: return 2 * c->n_ff;
    default: return 1;
    }
}

/* ---- the plan ---------------------------------------------------------------------------- */

static const struct mill_st_tensor *find(const struct conv *v, const char *name, size_t *shard) {
    for (size_t i = 0; i < v->n_st; i++) {
        const struct mill_st_tensor *t = mill_safetensors_find(v->st[i], name);
        if (t) {
            *shard = i;
            return t;
        }
    }
    return NULL;
}

/* The GGUF type of a tensor, by llama.cpp's converter's rule. */
static enum ggml_type out_type(enum mill_hf_type want, const char *name, int64_t ne0, bool vec) {
    size_t n = strlen(name);
    if (vec || (n > 12 && !strcmp(name + n - 12, "_norm.weight")) || n < 7 ||
        strcmp(name + n - 7, ".weight"))
        return GGML_TYPE_F32;
    switch (want) {
    case MILL_HF_F32: return GGML_TYPE_F32;
    case MILL_HF_BF16: return GGML_TYPE_BF16;
    case MILL_HF_Q8_0: return ne0 % 32 ? GGML_TYPE_F16 : GGML_TYPE_Q8_0;
    default: return GGML_TYPE_F16;
    }
}

/* Adds output gguf_name from checkpoint tensor hf_name of torch shape (rows, cols). */
static int plan(struct conv *v, const char *hf_name, const char *gguf_name, int64_t rows,
                int64_t cols, enum xform x, struct mill_err *err) {
    size_t sh = 0;
    const struct mill_st_tensor *t = find(v, hf_name, &sh);
    if (!t)
        return mill_err_set(err, MILL_ENOTFOUND,
                            "%s: tensor %s (needed by %s) is in no "
                            "safetensors file",
                            v->dir, hf_name, v->c.hf_name);
    bool vec = cols == 1 && !strstr(gguf_name, "token_embd");
    bool ok = vec ? t->n_dims == 1 && t->shape[0] == rows
                  : t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok) {
        char got[96] = "";
        for (int i = 0, o = 0; i < t->n_dims && o < (int)sizeof got - 24; i++)
            o +=
                snprintf(got + o, sizeof got - (size_t)o, "%s%" PRId64, i ? ", " : "", t->shape[i]);
        return mill_err_set(err, MILL_EFORMAT,
                            "%s/%s: tensor %s has shape [%s]; config.json "
                            "wants [%" PRId64 "%s%.0" PRId64 "]",
                            v->dir, v->shard[sh], hf_name, got, rows, vec ? "" : ", ",
                            vec ? (int64_t)0 : cols);
    }
    if (t->dtype != MILL_ST_F32 && t->dtype != MILL_ST_F16 && t->dtype != MILL_ST_BF16)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s/%s: tensor %s is %s; only F32, F16 and "
                            "BF16 are converted",
                            v->dir, v->shard[sh], hf_name, mill_st_dtype_name(t->dtype));
    struct out *o = &v->t[v->n_t++];
    snprintf(o->name, sizeof o->name, "%s", gguf_name);
    o->src = t;
    o->file = v->shard[sh];
    o->x = x;
    size_t n = strlen(hf_name);
    o->plus1 = (v->c.arch == HF_GEMMA2 || v->c.arch == HF_GEMMA3) && n >= 11 &&
               !strcmp(hf_name + n - 11, "norm.weight");
    o->ne0 = vec ? rows : cols;
    o->ne1 = vec ? 1 : rows;
    o->src_rows = o->ne1;
    o->type = out_type(v->want, gguf_name, o->ne0, vec);
    return 0;
}

static int plan_layer(struct conv *v, int64_t il, struct mill_err *err) {
    const struct hf_cfg *c = &v->c;
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof LAYER / sizeof LAYER[0]; i++) {
        const struct layer_row *r = &LAYER[i];
        if (!(r->archs & A(c->arch)) || (r->when != W_ALWAYS && !c->attn_bias))
            continue;
        char hf[160], gg[GGML_MAX_NAME];
        snprintf(hf, sizeof hf, "model.layers.%" PRId64 ".%s", il, r->hf);
        snprintf(gg, sizeof gg, "blk.%" PRId64 ".%s", il, r->gguf);
        bool perm = (c->arch == HF_LLAMA || c->arch == HF_MISTRAL);
        enum xform x = perm && !strncmp(r->hf, "self_attn.q_proj", 16)   ? X_PERM_Q
                       : perm && !strncmp(r->hf, "self_attn.k_proj", 16) ? X_PERM_K
                                                                         : X_COPY;
        rc = plan(v, hf, gg, size_of(c, r->rows), size_of(c, r->cols), x, err);
    }
    return rc;
}

/* llama3 RoPE: per-dimension frequency divisors, as convert_hf_to_gguf.py computes them. */
static float *llama3_factors(const struct hf_cfg *c) {
    int64_t half = c->head_dim / 2;
    float *f = malloc(sizeof *f * (size_t)half);
    double lo_wl = (double)c->orig_ctx / c->low_freq_factor;
    double hi_wl = (double)c->orig_ctx / c->high_freq_factor;
    for (int64_t i = 0; f && i < half; i++) {
        float freq = 1.0f / powf((float)c->rope_theta, (float)(2 * i) / (float)c->head_dim);
        double wl = 2 * M_PI / (double)freq;
        if (wl < hi_wl) {
            f[i] = 1.0f;
        } else if (wl > lo_wl) {
            f[i] = (float)c->rope_factor;
        } else {
            double s = ((double)c->orig_ctx / wl - c->low_freq_factor) /
                       (c->high_freq_factor - c->low_freq_factor);
            f[i] = (float)(1 / ((1 - s) / c->rope_factor + s));
        }
    }
    return f;
}

/* Every checkpoint tensor must have a place: an unknown one may change the computation. */
static int check_unused(const struct conv *v, struct mill_err *err) {
    for (size_t s = 0; s < v->n_st; s++)
        for (size_t i = 0; i < mill_safetensors_count(v->st[s]); i++) {
            const struct mill_st_tensor *t = mill_safetensors_at(v->st[s], i);
            bool used = strstr(t->name, "rotary_emb.inv_freq") != NULL ||
                        (!strcmp(t->name, "lm_head.weight") && v->c.tied);
            for (size_t k = 0; !used && k < v->n_t; k++)
                used = v->t[k].src == t;
            if (!used)
                return mill_err_set(err, MILL_EFORMAT,
                                    "%s/%s: tensor %s has no place in a %s "
                                    "model",
                                    v->dir, v->shard[s], t->name, v->c.hf_name);
        }
    return 0;
}

static int make_plan(struct conv *v, struct mill_err *err) {
    const struct hf_cfg *c = &v->c;
    size_t cap = 4 + sizeof LAYER / sizeof LAYER[0] * (size_t)c->n_layer;
    if (!(v->t = calloc(cap, sizeof *v->t)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = plan(v, "model.embed_tokens.weight", "token_embd.weight", c->n_vocab, c->n_embd,
                  X_COPY, err);
    if (!rc)
        rc = plan(v, "model.norm.weight", "output_norm.weight", c->n_embd, 1, X_COPY, err);
    if (!rc && !c->tied)
        rc = plan(v, "lm_head.weight", "output.weight", c->n_vocab, c->n_embd, X_COPY, err);
    if (!rc && c->rope == HF_ROPE_LLAMA3) {
        struct out *o = &v->t[v->n_t++];
        snprintf(o->name, sizeof o->name, "rope_freqs.weight");
        o->ne0 = c->head_dim / 2;
        o->ne1 = o->src_rows = 1;
        o->type = GGML_TYPE_F32;
        if (!(o->synth = llama3_factors(c)))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    for (int64_t il = 0; !rc && il < c->n_layer; il++)
        rc = plan_layer(v, il, err);
    return rc ? rc : check_unused(v, err);
}

/* ---- metadata ---------------------------------------------------------------------------- */

static uint32_t file_type(enum mill_hf_type t) {
    /* llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32 */
    return t == MILL_HF_F32 ? 0 : t == MILL_HF_F16 ? 1 : t == MILL_HF_Q8_0 ? 7 : 32;
}

static void set_rope_keys(struct gguf_context *g, const struct hf_cfg *c, char *key, size_t cap) {
    const char *a = c->gguf_arch;
#define K(k) (snprintf(key, cap, "%s." k, a), key)
    gguf_set_val_f32(g, K("rope.freq_base"), (float)c->rope_theta);
    if (c->rope_theta_swa > 0)
        gguf_set_val_f32(g, K("rope.freq_base_swa"), (float)c->rope_theta_swa);
    if (c->rope == HF_ROPE_LINEAR || c->rope == HF_ROPE_YARN) {
        gguf_set_val_str(g, K("rope.scaling.type"), c->rope == HF_ROPE_LINEAR ? "linear" : "yarn");
        gguf_set_val_f32(g, K("rope.scaling.factor"), (float)c->rope_factor);
    }
    if (c->rope == HF_ROPE_YARN || c->arch == HF_PHI3)
        gguf_set_val_u32(g, K("rope.scaling.original_context_length"), (uint32_t)c->orig_ctx);
#undef K
}

static void set_keys(struct gguf_context *g, const struct conv *v, const char *name) {
    const struct hf_cfg *c = &v->c;
    char key[128];
#define K(k) (snprintf(key, sizeof key, "%s." k, c->gguf_arch), key)
    gguf_set_val_str(g, "general.architecture", c->gguf_arch);
    gguf_set_val_str(g, "general.name", name);
    gguf_set_val_u32(g, "general.file_type", file_type(v->want));
    gguf_set_val_u32(g, "general.quantization_version", GGML_QNT_VERSION);
    if (c->arch == HF_LLAMA || c->arch == HF_MISTRAL)
        gguf_set_val_u32(g, K("vocab_size"), (uint32_t)v->n_vocab);
    gguf_set_val_u32(g, K("context_length"), (uint32_t)c->n_ctx);
    gguf_set_val_u32(g, K("embedding_length"), (uint32_t)c->n_embd);
    gguf_set_val_u32(g, K("feed_forward_length"), (uint32_t)c->n_ff);
    gguf_set_val_u32(g, K("block_count"), (uint32_t)c->n_layer);
    gguf_set_val_u32(g, K("attention.head_count"), (uint32_t)c->n_head);
    gguf_set_val_u32(g, K("attention.head_count_kv"), (uint32_t)c->n_head_kv);
    gguf_set_val_f32(g, K("attention.layer_norm_rms_epsilon"), (float)c->rms_eps);
    if (c->arch == HF_LLAMA || c->arch == HF_MISTRAL || c->arch == HF_PHI3)
        gguf_set_val_u32(g, K("rope.dimension_count"), (uint32_t)c->n_rot);
    if (c->head_dim_given || c->head_dim != c->n_embd / c->n_head || c->arch == HF_GEMMA2 ||
        c->arch == HF_GEMMA3) {
        gguf_set_val_u32(g, K("attention.key_length"), (uint32_t)c->head_dim);
        gguf_set_val_u32(g, K("attention.value_length"), (uint32_t)c->head_dim);
    }
    if (c->attn_softcap > 0)
        gguf_set_val_f32(g, K("attn_logit_softcapping"), (float)c->attn_softcap);
    if (c->final_softcap > 0)
        gguf_set_val_f32(g, K("final_logit_softcapping"), (float)c->final_softcap);
    if (c->arch == HF_GEMMA2 || c->arch == HF_GEMMA3 || c->arch == HF_PHI3)
        gguf_set_val_u32(g, K("attention.sliding_window"), (uint32_t)c->sliding_window);
    if ((c->arch == HF_GEMMA2 && c->swa_pattern != 2) ||
        (c->arch == HF_GEMMA3 && c->swa_pattern != 6))
        gguf_set_val_u32(g, K("attention.sliding_window_pattern"), (uint32_t)c->swa_pattern);
#undef K
    set_rope_keys(g, c, key, sizeof key);
}

/* The tokenizer's token count against the embedding's rows: fewer tokens are padded with
 * [PAD<i>] (unused) tokens, as llama.cpp's converter does (for Gemma 3 too: its converter pads
 * the SentencePiece vocabulary to vocab_size before it cuts the embedding to it); more tokens
 * are an error. */
static int fit_vocab(struct gguf_context *g, struct conv *v, struct mill_err *err) {
    int64_t id = gguf_find_key(g, "tokenizer.ggml.tokens");
    int64_t n = id < 0 ? 0 : (int64_t)gguf_get_arr_n(g, id);
    v->n_vocab = v->c.n_vocab;
    if (n > v->c.n_vocab)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: the tokenizer has %" PRId64 " tokens but "
                            "config.json's vocab_size is %" PRId64,
                            v->dir, n, v->c.n_vocab);
    if (n == v->c.n_vocab || n == 0)
        return 0;
    size_t total = (size_t)v->c.n_vocab;
    /* copies: gguf_set_arr_str frees the array the old strings live in before it copies */
    char **tok = calloc(total, sizeof *tok);
    float *score = calloc(total, sizeof *score);
    int32_t *type = calloc(total, sizeof *type);
    int64_t sid = gguf_find_key(g, "tokenizer.ggml.scores");
    int64_t tid = gguf_find_key(g, "tokenizer.ggml.token_type");
    int rc = tok && score && type ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < total; i++) {
        bool real = (int64_t)i < n;
        if (real)
            tok[i] = strdup(gguf_get_arr_str(g, id, i));
        else if (asprintf(&tok[i], "[PAD%zu]", i) < 0)
            tok[i] = NULL;
        if (!tok[i])
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        score[i] = real && sid >= 0 ? ((const float *)gguf_get_arr_data(g, sid))[i] : 0.0f;
        type[i] = real && tid >= 0 ? ((const int32_t *)gguf_get_arr_data(g, tid))[i] : 5;
    }
    if (!rc) {
        gguf_set_arr_str(g, "tokenizer.ggml.tokens", (const char **)tok, total);
        if (sid >= 0)
            gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, score, total);
        if (tid >= 0)
            gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, type, total);
    }
    for (size_t i = 0; tok && i < total; i++)
        free(tok[i]);
    free(tok);
    free(score);
    free(type);
    return rc;
}

/* ---- data -------------------------------------------------------------------------------- */

static size_t src_row_of(const struct out *o, const struct hf_cfg *c, int64_t r, int64_t rows) {
    if (o->x == X_COPY)
        return (size_t)r;
    int64_t nh = o->x == X_PERM_Q ? c->n_head : c->n_head_kv, d = rows / nh;
    int64_t h = r / d, j = r % d;
    return (size_t)(h * d + (j % 2) * (d / 2) + j / 2);
}

static void to_f32(const struct mill_st_tensor *t, size_t at, size_t n, float *dst, void *tmp) {
    size_t es = mill_st_dtype_size(t->dtype);
    memcpy(tmp, (const char *)t->data + at * es, n * es);
    if (t->dtype == MILL_ST_F32)
        memcpy(dst, tmp, n * sizeof *dst);
    else if (t->dtype == MILL_ST_F16)
        ggml_fp16_to_fp32_row(tmp, dst, (int64_t)n);
    else
        ggml_bf16_to_fp32_row(tmp, dst, (int64_t)n);
}

struct bufs {
    float *f32; /* one row (or one vector) */
    void *tmp;  /* its source bytes, aligned */
    void *conv; /* its output bytes */
};

/* One row (index r of the output) into b->f32. A permuted vector takes element r of src. */
static void read_row(const struct out *o, const struct hf_cfg *c, int64_t r, struct bufs *b) {
    if (!o->src) {
        memcpy(b->f32, o->synth, sizeof(float) * (size_t)o->ne0);
        return;
    }
    if (o->ne1 == 1 && o->x != X_COPY) { /* a permuted bias */
        for (int64_t i = 0; i < o->ne0; i++)
            to_f32(o->src, src_row_of(o, c, i, o->ne0), 1, b->f32 + i, b->tmp);
    } else {
        size_t sr = src_row_of(o, c, r, o->src_rows);
        to_f32(o->src, sr * (size_t)o->ne0, (size_t)o->ne0, b->f32, b->tmp);
    }
    if (o->plus1)
        for (int64_t i = 0; i < o->ne0; i++)
            b->f32[i] += 1.0f;
}

/* Pages [p, p + n) of a mapped file go back to the kernel once converted, so the mapped files
 * do not add up in the resident set (clean file pages: dropping them loses nothing). */
static void drop_pages(const void *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (!p || page <= 0 || !n)
        return;
    uintptr_t a = (uintptr_t)p & ~((uintptr_t)page - 1);
    madvise((void *)a, (uintptr_t)p + n - a, MADV_DONTNEED);
}

/* A tensor stored as it is (same type, no permutation, no + 1): its bytes (the first ne1 rows:
 * Gemma 3 may drop some) copied in chunks, each chunk's pages dropped after it is written. */
static bool copy_tensor(FILE *f, const struct out *o) {
    const char *p = o->src->data;
    size_t n = ggml_row_size(o->type, o->ne0) * (size_t)o->ne1, chunk = (size_t)16 << 20;
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        if (fwrite(p + at, 1, k, f) != k)
            return false;
        drop_pages(p + at, k);
    }
    return true;
}

static bool same_type(const struct out *o) {
    enum mill_st_dtype d = o->src ? o->src->dtype : MILL_ST_U8;
    return o->x == X_COPY && !o->plus1 &&
           ((d == MILL_ST_F32 && o->type == GGML_TYPE_F32) ||
            (d == MILL_ST_F16 && o->type == GGML_TYPE_F16) ||
            (d == MILL_ST_BF16 && o->type == GGML_TYPE_BF16));
}

static bool write_tensor(FILE *f, const struct out *o, const struct hf_cfg *c, struct bufs *b) {
    if (same_type(o))
        return copy_tensor(f, o);
    for (int64_t r = 0; r < o->ne1; r++) {
        read_row(o, c, r, b);
        const void *p = b->f32;
        if (o->type == GGML_TYPE_F16)
            ggml_fp32_to_fp16_row(b->f32, b->conv, o->ne0);
        else if (o->type == GGML_TYPE_BF16)
            ggml_fp32_to_bf16_row(b->f32, b->conv, o->ne0);
        else if (o->type == GGML_TYPE_Q8_0)
            ggml_quantize_chunk(o->type, b->f32, b->conv, 0, 1, o->ne0, NULL);
        if (o->type != GGML_TYPE_F32)
            p = b->conv;
        size_t n = ggml_row_size(o->type, o->ne0);
        if (fwrite(p, 1, n, f) != n)
            return false;
        if (o->src && o->x == X_COPY && r % 4096 == 4095) /* rows in order: drop those done */
            drop_pages(o->src->data, (size_t)(r + 1) * (o->src->n_bytes / (size_t)o->src_rows));
    }
    if (o->src)
        drop_pages(o->src->data, o->src->n_bytes);
    return true;
}

static bool write_zeros(FILE *f, size_t n) {
    static const char zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k)
            return false;
        n -= k;
    }
    return true;
}

static size_t pad_to(size_t x, size_t align) { return (x + align - 1) / align * align; }

/* Header, then each tensor at its aligned offset, reporting progress after each. */
static bool write_body(FILE *f, const struct gguf_context *g, const struct conv *v,
                       const struct mill_hf_params *p) {
    size_t meta = gguf_get_meta_size(g), align = gguf_get_alignment(g);
    int64_t width = 1, bytes_total = 0, bytes_done = 0;
    for (size_t i = 0; i < v->n_t; i++) {
        width = v->t[i].ne0 > width ? v->t[i].ne0 : width;
        bytes_total += v->t[i].src ? (int64_t)v->t[i].src->n_bytes : 0;
    }
    void *hdr = malloc(meta);
    struct bufs b = {malloc(sizeof(float) * (size_t)width), malloc(sizeof(float) * (size_t)width),
                     malloc(sizeof(float) * (size_t)width)};
    bool ok = hdr && b.f32 && b.tmp && b.conv;
    if (ok) {
        gguf_get_meta_data(g, hdr);
        ok = fwrite(hdr, 1, meta, f) == meta;
    }
    size_t start = pad_to(meta, align), pos = meta;
    for (size_t i = 0; ok && i < v->n_t; i++) {
        if (p->stop && p->stop()) { /* SIGINT, SIGTERM: the caller removes the file */
            ok = false;
            break;
        }
        int64_t id = gguf_find_tensor(g, v->t[i].name);
        size_t at = start + gguf_get_tensor_offset(g, id);
        ok = write_zeros(f, at - pos) && write_tensor(f, &v->t[i], &v->c, &b);
        pos = at + gguf_get_tensor_size(g, id);
        bytes_done += v->t[i].src ? (int64_t)v->t[i].src->n_bytes : 0;
        if (ok && p->progress)
            p->progress(p->progress_ud, v->t[i].name, (int64_t)i + 1, (int64_t)v->n_t, bytes_done,
                        bytes_total);
    }
    ok = ok && write_zeros(f, pad_to(pos, align) - pos);
    free(hdr);
    free(b.f32);
    free(b.tmp);
    free(b.conv);
    return ok;
}

/* Declares the tensors in g (metadata only). */
static struct ggml_context *add_tensors(struct gguf_context *g, struct conv *v) {
    struct ggml_init_params ip = {ggml_tensor_overhead() * (v->n_t + 1) + 1024, NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    for (size_t i = 0; ctx && i < v->n_t; i++) {
        struct out *o = &v->t[i];
        struct ggml_tensor *t = o->ne1 > 1 || o->src_rows > 1
                                    ? ggml_new_tensor_2d(ctx, o->type, o->ne0, o->ne1)
                                    : ggml_new_tensor_1d(ctx, o->type, o->ne0);
        ggml_set_name(t, o->name);
        gguf_add_tensor(g, t);
    }
    return ctx;
}

static int write_gguf(struct conv *v, struct gguf_context *g, const char *out,
                      const struct mill_hf_params *p, struct mill_err *err) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.%ld.tmp", out, (long)getpid()) < 0)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    struct ggml_context *ctx = add_tensors(g, v);
    FILE *f = ctx ? fopen(tmp, "wb") : NULL;
    int rc = 0, e = 0;
    if (!ctx)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    else if (!f)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc) {
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        bool ok = write_body(f, g, v, p) && fflush(f) == 0 && fsync(fileno(f)) == 0;
        e = ok ? 0 : errno; /* the write's own error, not a leftover one */
        ok = fclose(f) == 0 && ok;
        e = e || ok ? e : errno;
        f = NULL;
        int sig = !ok && p->stop ? p->stop() : 0;
        if (sig)
            rc = mill_err_set(err, MILL_EINTR,
                              "conversion to %s stopped by signal %d (nothing "
                              "kept)",
                              out, sig);
        else if (!ok)
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", out, strerror(e ? e : EIO));
        else if (rename(tmp, out))
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", out, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    if (ctx)
        ggml_free(ctx);
    return rc;
}

/* ---- the whole ------------------------------------------------------------------------- */

static int open_shards(struct conv *v, struct mill_err *err) {
    char **files = NULL;
    size_t n = 0;
    int rc = mill_hf_checkpoint_files(v->dir, &files, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        size_t len = strlen(files[i]);
        if (len < 12 || strcmp(files[i] + len - 12, ".safetensors"))
            continue;
        char *path = mill_hf_path(v->dir, files[i]);
        struct mill_safetensors *st = NULL;
        rc = path ? mill_safetensors_open(path, &st, err) : MILL_ENOMEM;
        free(path);
        char **sh = rc ? NULL : realloc(v->shard, (v->n_st + 1) * sizeof *sh);
        struct mill_safetensors **ss = sh ? realloc(v->st, (v->n_st + 1) * sizeof *ss) : NULL;
        if (sh)
            v->shard = sh;
        if (ss)
            v->st = ss;
        if (!rc && (!ss || !(sh[v->n_st] = strdup(files[i])))) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            mill_safetensors_free(st);
        } else if (!rc) {
            v->st[v->n_st++] = st;
        }
    }
    mill_hf_files_free(files, n);
    return rc;
}

static void conv_free(struct conv *v) {
    for (size_t i = 0; i < v->n_st; i++) {
        mill_safetensors_free(v->st[i]);
        free(v->shard[i]);
    }
    free(v->st);
    free(v->shard);
    for (size_t i = 0; i < v->n_t; i++)
        free(v->t[i].synth);
    free(v->t);
}

static int read_config(struct conv *v, struct mill_err *err) {
    char *path = mill_hf_path(v->dir, "config.json"), *buf = NULL;
    size_t n = 0;
    int rc = path ? mill_model_read_file(path, MILL_HF_JSON_MAX, &buf, &n, err)
                  : mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = mill_hf_cfg_parse(buf, n, path, &v->c, err);
    free(buf);
    free(path);
    return rc;
}

struct mill_hf_params mill_hf_default_params(void) {
    return (struct mill_hf_params){.type = MILL_HF_BF16};
}

char *mill_hf_dir_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    return strndup(dir + b, n - b);
}

int mill_hf_convert(const char *dir, const char *out_path, const struct mill_hf_params *params,
                    struct mill_err *err) {
    struct mill_hf_params p = params ? *params : mill_hf_default_params();
    struct conv v = {.dir = dir, .want = p.type};
    int rc = read_config(&v, err);
    if (!rc)
        rc = open_shards(&v, err);
    if (!rc)
        rc = make_plan(&v, err);
    struct gguf_context *g = rc ? NULL : gguf_init_empty();
    if (!rc && !g)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = mill_hf_tokenizer_to_gguf(dir, g, err);
    if (!rc)
        rc = fit_vocab(g, &v, err);
    if (!rc) {
        char *base = mill_hf_dir_name(dir);
        if (!base)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            set_keys(g, &v, p.name ? p.name : base);
        free(base);
    }
    if (!rc)
        rc = write_gguf(&v, g, out_path, &p, err);
    if (g)
        gguf_free(g);
    conv_free(&v);
    return rc;
}

bool mill_hf_parse_type(const char *s, enum mill_hf_type *out) {
    static const struct {
        const char *name;
        enum mill_hf_type t;
    } names[] = {{"f32", MILL_HF_F32},  {"fp32", MILL_HF_F32},  {"float32", MILL_HF_F32},
                 {"f16", MILL_HF_F16},  {"fp16", MILL_HF_F16},  {"float16", MILL_HF_F16},
                 {"half", MILL_HF_F16}, {"bf16", MILL_HF_BF16}, {"bfloat16", MILL_HF_BF16},
                 {"q8_0", MILL_HF_Q8_0}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name)) {
            *out = names[i].t;
            return true;
        }
    return false;
}

const char *mill_hf_type_name(enum mill_hf_type type) {
    static const char *const names[] = {"F32", "F16", "BF16", "Q8_0"};
    return (unsigned)type < 4 ? names[type] : "?";
}
