/* clap.c: the CLAP model of clap.h: reads config.json (ClapConfig with its audio_config and
 * text_config; absent keys take transformers' class defaults), loads model.safetensors tensor by
 * tensor into a ggml CPU buffer (dropping each tensor's file pages once copied), precomputes the
 * Swin attention masks (relative position bias + shifted-window mask), and prepares the mel
 * input as ClapAudioEncoder does before its patch embedding (batch norm over mel bins, bicubic
 * resize of time with align_corners, mel -> image reshape). Graphs are in clap_graph.c.
 *
 * Must not know Mill's tasks or backends, print, or write files. */
#include "model/clap/clap_impl.h"
#include "model/safetensors.h"

#include <ggml-cpu.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CONFIG_MAX ((long)16 << 20)

struct mill_clap_params mill_clap_default_params(void) {
    return (struct mill_clap_params){.threads = 0, .max_batch = 16};
}

static int read_json(const char *path, struct mill_value *v, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(errno));
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *buf = NULL;
    int rc = MILL_OK;
    if (size < 0 || size > CONFIG_MAX || fseek(f, 0, SEEK_SET) != 0)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: unreadable or larger than %ld bytes", path,
                          CONFIG_MAX);
    else if (!(buf = malloc((size_t)size + 1)))
        rc = mill_err_set(err, MILL_ENOMEM, "%s: out of memory", path);
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        rc = mill_err_set(err, MILL_EIO, "%s: read error", path);
    else if ((rc = mill_value_from_json(v, buf, (size_t)size, err)))
        mill_err_prefix(err, "%s: ", path);
    fclose(f);
    free(buf);
    return rc;
}

/* ---- config ---- */

struct cfg_ctx {
    const char *path;
    struct mill_err *err;
};

/* The integer key of obj into *out (kept when absent); lo..hi checked. */
static int cfg_int(struct cfg_ctx *c, const struct mill_value *obj, const char *key, int lo, int hi,
                   int *out) {
    const struct mill_value *v = mill_value_get(obj, key);
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (v->kind == MILL_V_LIST && v->u.list.n == 2) { /* patch_stride [4, 4] */
        int64_t a, b;
        if (mill_value_as_int(&v->u.list.items[0], &a) ||
            mill_value_as_int(&v->u.list.items[1], &b) || a != b)
            return mill_err_set(c->err, MILL_EUNSUPPORTED,
                                "%s: '%s' must be one number or two "
                                "equal ones",
                                c->path, key);
        v = &v->u.list.items[0];
    }
    double d = v->kind == MILL_V_INT ? (double)v->u.i : v->kind == MILL_V_FLOAT ? v->u.f : NAN;
    if (!(d >= lo && d <= hi && d == floor(d)))
        return mill_err_set(c->err, MILL_EFORMAT, "%s: '%s' is not an integer in [%d, %d]", c->path,
                            key, lo, hi);
    *out = (int)d;
    return MILL_OK;
}

static int cfg_float(struct cfg_ctx *c, const struct mill_value *obj, const char *key, float *out) {
    const struct mill_value *v = mill_value_get(obj, key);
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    double d = v->kind == MILL_V_INT ? (double)v->u.i : v->kind == MILL_V_FLOAT ? v->u.f : NAN;
    if (!(d > 0 && d < 1))
        return mill_err_set(c->err, MILL_EFORMAT, "%s: '%s' is not a small positive number",
                            c->path, key);
    *out = (float)d;
    return MILL_OK;
}

/* A string key that must be absent or one of the '|'-separated values in want. */
static int cfg_str(struct cfg_ctx *c, const struct mill_value *obj, const char *key,
                   const char *want) {
    const char *s = mill_value_as_str(mill_value_get(obj, key));
    if (!s)
        return MILL_OK;
    size_t n = strlen(s);
    for (const char *p = want; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !memcmp(p, s, n))
            return MILL_OK;
        p = bar ? bar + 1 : NULL;
    }
    return mill_err_set(c->err, MILL_EUNSUPPORTED, "%s: %s '%s' is not supported (only %s)",
                        c->path, key, s, want);
}

static int cfg_list(struct cfg_ctx *c, const struct mill_value *obj, const char *key, int *out,
                    int *n) {
    const struct mill_value *v = mill_value_get(obj, key);
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (v->kind != MILL_V_LIST || v->u.list.n == 0 || v->u.list.n > 8)
        return mill_err_set(c->err, MILL_EFORMAT, "%s: '%s' is not a list of 1 to 8 numbers",
                            c->path, key);
    for (size_t i = 0; i < v->u.list.n; i++) {
        int64_t x;
        if (mill_value_as_int(&v->u.list.items[i], &x) || x < 1 || x > 1024)
            return mill_err_set(c->err, MILL_EFORMAT, "%s: '%s'[%zu] is not in [1, 1024]", c->path,
                                key, i);
        out[i] = (int)x;
    }
    *n = (int)v->u.list.n;
    return MILL_OK;
}

static int audio_config(struct cfg_ctx *c, const struct mill_value *a,
                        struct mill_clap_hparams *h) {
    int rc, ratio = 4, n_heads = 0, n_depths = 0;
    const struct mill_value *fusion = mill_value_get(a, "enable_fusion");
    if (fusion && fusion->kind == MILL_V_BOOL && fusion->u.b)
        return mill_err_set(c->err, MILL_EUNSUPPORTED,
                            "%s: audio_config.enable_fusion (the fused "
                            "checkpoints) is not supported",
                            c->path);
    float mlp = 4;
    const struct mill_value *mr = mill_value_get(a, "mlp_ratio");
    if (mr && (mr->kind == MILL_V_INT || mr->kind == MILL_V_FLOAT))
        mlp = mr->kind == MILL_V_INT ? (float)mr->u.i : (float)mr->u.f;
    if (mlp != floorf(mlp) || mlp < 1 || mlp > 16)
        return mill_err_set(c->err, MILL_EUNSUPPORTED, "%s: mlp_ratio %g", c->path, mlp);
    h->mlp_ratio = (int)mlp;
    if ((rc = cfg_int(c, a, "num_mel_bins", 1, 1024, &h->n_mels)) ||
        (rc = cfg_int(c, a, "spec_size", 1, 4096, &h->spec_size)) ||
        (rc = cfg_int(c, a, "patch_size", 1, 64, &h->patch_size)) ||
        (rc = cfg_int(c, a, "patch_stride", 1, 64, &h->patch_stride)) ||
        (rc = cfg_int(c, a, "patch_embeds_hidden_size", 1, 4096, &h->embed)) ||
        (rc = cfg_int(c, a, "window_size", 1, 64, &h->window)) ||
        (rc = cfg_int(c, a, "hidden_size", 1, 65536, &h->audio_hidden)) ||
        (rc = cfg_int(c, a, "patch_embed_input_channels", 1, 1, &ratio)) ||
        (rc = cfg_float(c, a, "layer_norm_eps", &h->audio_eps)) ||
        (rc = cfg_list(c, a, "num_attention_heads", h->heads, &n_heads)) ||
        (rc = cfg_list(c, a, "depths", h->depths, &n_depths)) ||
        (rc = cfg_str(c, a, "hidden_act", "gelu")) ||
        (rc = cfg_str(c, a, "projection_hidden_act", "relu")))
        return rc;
    if (n_depths && n_heads != n_depths)
        return mill_err_set(c->err, MILL_EFORMAT,
                            "%s: depths and num_attention_heads differ in "
                            "length",
                            c->path);
    h->n_stages = n_depths ? n_depths : h->n_stages;
    const struct mill_value *flag;
    if (((flag = mill_value_get(a, "enable_patch_layer_norm")) && flag->kind == MILL_V_BOOL))
        h->patch_norm = flag->u.b;
    if ((flag = mill_value_get(a, "qkv_bias")) && flag->kind == MILL_V_BOOL && !flag->u.b)
        return mill_err_set(c->err, MILL_EUNSUPPORTED, "%s: qkv_bias false", c->path);
    if ((flag = mill_value_get(a, "flatten_patch_embeds")) && flag->kind == MILL_V_BOOL &&
        !flag->u.b)
        return mill_err_set(c->err, MILL_EUNSUPPORTED, "%s: flatten_patch_embeds false", c->path);
    return MILL_OK;
}

static int text_config(struct cfg_ctx *c, const struct mill_value *t, struct mill_clap_hparams *h) {
    int rc;
    if ((rc = cfg_int(c, t, "vocab_size", 1, 1 << 24, &h->vocab_size)) ||
        (rc = cfg_int(c, t, "hidden_size", 1, 65536, &h->text_hidden)) ||
        (rc = cfg_int(c, t, "num_hidden_layers", 1, 256, &h->text_layers)) ||
        (rc = cfg_int(c, t, "num_attention_heads", 1, 1024, &h->text_heads)) ||
        (rc = cfg_int(c, t, "intermediate_size", 1, 1 << 20, &h->text_mlp)) ||
        (rc = cfg_int(c, t, "max_position_embeddings", 3, 1 << 20, &h->max_pos)) ||
        (rc = cfg_int(c, t, "type_vocab_size", 1, 1024, &h->type_vocab)) ||
        (rc = cfg_int(c, t, "pad_token_id", 0, 1 << 24, &h->pad_id)) ||
        (rc = cfg_float(c, t, "layer_norm_eps", &h->text_eps)) ||
        (rc = cfg_str(c, t, "hidden_act", "gelu")) ||
        (rc = cfg_str(c, t, "projection_hidden_act", "relu")) ||
        (rc = cfg_str(c, t, "position_embedding_type", "absolute")))
        return rc;
    const struct mill_value *dec = mill_value_get(t, "is_decoder");
    if (dec && dec->kind == MILL_V_BOOL && dec->u.b)
        return mill_err_set(c->err, MILL_EUNSUPPORTED, "%s: text_config.is_decoder", c->path);
    return MILL_OK;
}

/* Checks the shapes fit together as HTSAT needs them. */
static int check_hparams(struct cfg_ctx *c, struct mill_clap_hparams *h) {
    if (h->spec_size % h->n_mels || h->patch_size != h->patch_stride ||
        h->spec_size % h->patch_size)
        return mill_err_set(c->err, MILL_EUNSUPPORTED,
                            "%s: spec_size %d must be a multiple of "
                            "num_mel_bins %d and of patch_size %d (= patch_stride %d)",
                            c->path, h->spec_size, h->n_mels, h->patch_size, h->patch_stride);
    h->freq_ratio = h->spec_size / h->n_mels;
    int res = h->spec_size / h->patch_size;
    for (int s = 0; s < h->n_stages; s++, res /= 2) {
        int dim = h->embed << s;
        if (res < h->window || res % h->window || dim % h->heads[s] ||
            (s + 1 < h->n_stages && res % 2))
            return mill_err_set(c->err, MILL_EUNSUPPORTED,
                                "%s: stage %d (grid %d, %d channels, "
                                "%d heads) does not tile into windows of %d",
                                c->path, s, res, dim, h->heads[s], h->window);
    }
    if (h->audio_hidden != h->embed << (h->n_stages - 1) || h->text_hidden % h->text_heads ||
        h->max_pos <= h->pad_id + 2)
        return mill_err_set(c->err, MILL_EFORMAT,
                            "%s: hidden sizes or positions do not agree "
                            "with the other fields",
                            c->path);
    return MILL_OK;
}

int mill_clap_hparams_from_json(const struct mill_value *v, const char *path,
                                struct mill_clap_hparams *h, struct mill_err *err) {
    *h = (struct mill_clap_hparams){.n_mels = 64,
                                    .spec_size = 256,
                                    .patch_size = 4,
                                    .patch_stride = 4,
                                    .embed = 96,
                                    .n_stages = 4,
                                    .depths = {2, 2, 6, 2},
                                    .heads = {4, 8, 16, 32},
                                    .window = 8,
                                    .mlp_ratio = 4,
                                    .patch_norm = true,
                                    .audio_hidden = 768,
                                    .audio_eps = 1e-5f,
                                    .bn_eps = 1e-5f,
                                    .vocab_size = 50265,
                                    .text_hidden = 768,
                                    .text_layers = 12,
                                    .text_heads = 12,
                                    .text_mlp = 3072,
                                    .max_pos = 514,
                                    .type_vocab = 1,
                                    .pad_id = 1,
                                    .text_eps = 1e-12f,
                                    .proj_dim = 512};
    int rc = MILL_OK;
    struct cfg_ctx c = {path, err};
    const struct mill_value *a = mill_value_get(v, "audio_config");
    const struct mill_value *t = mill_value_get(v, "text_config");
    if (!a || !t || a->kind != MILL_V_STRUCT || t->kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: no audio_config / text_config objects", path);
    if (!rc)
        rc = cfg_int(&c, v, "projection_dim", 1, 65536, &h->proj_dim);
    if (!rc)
        rc = audio_config(&c, a, h);
    if (!rc)
        rc = text_config(&c, t, h);
    if (!rc)
        rc = check_hparams(&c, h);
    return rc;
}

static int load_config(const char *path, struct mill_clap_hparams *h, struct mill_err *err) {
    struct mill_value v;
    int rc = read_json(path, &v, err);
    if (rc)
        return rc;
    rc = mill_clap_hparams_from_json(&v, path, h, err);
    mill_value_free(&v);
    return rc;
}

/* ---- weights ---- */

enum kind { K_F32, K_STORED };

struct loader {
    struct mill_clap_model *m;
    const struct mill_safetensors *st;
    const char *path;
    struct mill_err *err;
    bool *used;
    const struct mill_st_tensor **src; /* per ggml tensor in wctx order */
    size_t n;
};

static const struct mill_st_tensor *need(struct loader *l, const char *name, int nd,
                                         const int64_t *shape) {
    const struct mill_st_tensor *t = mill_safetensors_find(l->st, name);
    if (!t) {
        mill_err_set(l->err, MILL_EFORMAT, "%s: missing tensor '%s'", l->path, name);
        return NULL;
    }
    bool ok = t->n_dims == nd || (nd == 0 && t->n_dims == 1 && t->shape[0] == 1);
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        mill_err_set(l->err, MILL_EFORMAT,
                     "%s: tensor '%s' has the wrong shape (%d dims, first "
                     "%lld)",
                     l->path, name, t->n_dims, t->n_dims ? (long long)t->shape[0] : 0LL);
        return NULL;
    }
    if (t->dtype != MILL_ST_F32 && t->dtype != MILL_ST_F16 && t->dtype != MILL_ST_BF16) {
        mill_err_set(l->err, MILL_EUNSUPPORTED, "%s: tensor '%s' has dtype %s", l->path, name,
                     mill_st_dtype_name(t->dtype));
        return NULL;
    }
    l->used[t - mill_safetensors_at(l->st, 0)] = true;
    return t;
}

/* A ggml tensor for name with torch shape (d0, d1, ...) given outermost first; the ggml shape
 * is the reverse. K_STORED keeps F16 / BF16. */
static struct ggml_tensor *tensor(struct loader *l, enum kind k, const char *name, int nd,
                                  const int64_t *shape) {
    const struct mill_st_tensor *t = need(l, name, nd, shape);
    if (!t)
        return NULL;
    enum ggml_type type = k == K_F32 || t->dtype == MILL_ST_F32 ? GGML_TYPE_F32
                          : t->dtype == MILL_ST_F16             ? GGML_TYPE_F16
                                                                : GGML_TYPE_BF16;
    int64_t ne[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++)
        ne[i] = shape[nd - 1 - i];
    struct ggml_tensor *x = ggml_new_tensor(l->m->wctx, type, nd ? nd : 1, ne);
    ggml_set_name(x, name);
    l->src[l->n++] = t;
    return x;
}

#define NM(...) (snprintf(name, sizeof name, __VA_ARGS__), name)

static int lin(struct loader *l, struct clap_linear *o, const char *pre, int64_t in, int64_t out,
               bool bias) {
    char name[256];
    o->w = tensor(l, K_STORED, NM("%s.weight", pre), 2, (int64_t[]){out, in});
    if (o->w && bias)
        o->b = tensor(l, K_F32, NM("%s.bias", pre), 1, (int64_t[]){out});
    return o->w && (!bias || o->b) ? MILL_OK : l->err->code;
}

static int nrm(struct loader *l, struct clap_norm *o, const char *pre, int64_t d) {
    char name[256];
    o->w = tensor(l, K_F32, NM("%s.weight", pre), 1, (int64_t[]){d});
    if (o->w)
        o->b = tensor(l, K_F32, NM("%s.bias", pre), 1, (int64_t[]){d});
    return o->w && o->b ? MILL_OK : l->err->code;
}

static int swin_block(struct loader *l, struct clap_swin *b, const char *p, int64_t d, int mlp) {
    char q[256];
    int rc = MILL_OK;
    const char *sub[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                         "attention.output.dense"};
    struct clap_linear *qkvo[] = {&b->q, &b->k, &b->v, &b->o};
    for (int i = 0; i < 4 && !rc; i++) {
        snprintf(q, sizeof q, "%s.%s", p, sub[i]);
        rc = lin(l, qkvo[i], q, d, d, true);
    }
    if (!rc && !(rc = nrm(l, &b->ln1, (snprintf(q, sizeof q, "%s.layernorm_before", p), q), d)) &&
        !(rc = nrm(l, &b->ln2, (snprintf(q, sizeof q, "%s.layernorm_after", p), q), d)) &&
        !(rc = lin(l, &b->fc1, (snprintf(q, sizeof q, "%s.intermediate.dense", p), q), d, d * mlp,
                   true)))
        rc = lin(l, &b->fc2, (snprintf(q, sizeof q, "%s.output.dense", p), q), d * mlp, d, true);
    return rc;
}

static int audio_weights(struct loader *l) {
    struct mill_clap_model *m = l->m;
    const struct mill_clap_hparams *h = &m->hp;
    const char *e = "audio_model.audio_encoder";
    char name[256], p[192];
    int64_t E = h->embed, P = h->patch_size;
    m->patch_w = tensor(l, K_F32, NM("%s.patch_embed.proj.weight", e), 4, (int64_t[]){E, 1, P, P});
    m->patch_b =
        m->patch_w ? tensor(l, K_F32, NM("%s.patch_embed.proj.bias", e), 1, (int64_t[]){E}) : NULL;
    if (!m->patch_b)
        return l->err->code;
    int rc = h->patch_norm
                 ? nrm(l, &m->patch_ln, (snprintf(p, sizeof p, "%s.patch_embed.norm", e), p), E)
                 : 0;
    int res = h->spec_size / h->patch_size;
    for (int s = 0; !rc && s < h->n_stages; s++, res /= 2) {
        struct clap_stage *st = &m->stages[s];
        st->dim = h->embed << s;
        st->res = res;
        st->heads = h->heads[s];
        if (!(st->blocks = calloc((size_t)h->depths[s], sizeof *st->blocks)))
            return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
        for (int b = 0; !rc && b < h->depths[s]; b++) {
            snprintf(p, sizeof p, "%s.layers.%d.blocks.%d", e, s, b);
            rc = swin_block(l, &st->blocks[b], p, st->dim, h->mlp_ratio);
            st->blocks[b].shift = b % 2 && res > h->window ? h->window / 2 : 0;
        }
        if (!rc && s + 1 < h->n_stages) {
            snprintf(p, sizeof p, "%s.layers.%d.downsample.norm", e, s);
            rc = nrm(l, &st->merge_ln, p, 4 * (int64_t)st->dim);
            st->merge_w =
                rc ? NULL
                   : tensor(l, K_STORED, NM("%s.layers.%d.downsample.reduction.weight", e, s), 2,
                            (int64_t[]){2 * (int64_t)st->dim, 4 * (int64_t)st->dim});
            rc = rc ? rc : st->merge_w ? 0 : l->err->code;
        }
    }
    if (!rc &&
        !(rc = nrm(l, &m->final_ln, (snprintf(p, sizeof p, "%s.norm", e), p), h->audio_hidden)) &&
        !(rc = lin(l, &m->a_proj1, "audio_projection.linear1", h->audio_hidden, h->proj_dim, true)))
        rc = lin(l, &m->a_proj2, "audio_projection.linear2", h->proj_dim, h->proj_dim, true);
    return rc;
}

static int text_weights(struct loader *l) {
    struct mill_clap_model *m = l->m;
    const struct mill_clap_hparams *h = &m->hp;
    int64_t D = h->text_hidden;
    char name[256], p[192], q[256];
    if (!(m->tok_emb = tensor(l, K_F32, "text_model.embeddings.word_embeddings.weight", 2,
                              (int64_t[]){h->vocab_size, D})) ||
        !(m->pos_emb = tensor(l, K_F32, "text_model.embeddings.position_embeddings.weight", 2,
                              (int64_t[]){h->max_pos, D})) ||
        !(m->type_emb = tensor(l, K_F32, "text_model.embeddings.token_type_embeddings.weight", 2,
                               (int64_t[]){h->type_vocab, D})))
        return l->err->code;
    int rc = nrm(l, &m->emb_ln, "text_model.embeddings.LayerNorm", D);
    if (!rc && !(m->layers = calloc((size_t)h->text_layers, sizeof *m->layers)))
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    for (int i = 0; !rc && i < h->text_layers; i++) {
        struct clap_text_layer *y = &m->layers[i];
        snprintf(p, sizeof p, "text_model.encoder.layer.%d", i);
        const char *sub[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense"};
        struct clap_linear *qkvo[] = {&y->q, &y->k, &y->v, &y->o};
        for (int k = 0; k < 4 && !rc; k++)
            rc = lin(l, qkvo[k], (snprintf(q, sizeof q, "%s.%s", p, sub[k]), q), D, D, true);
        if (!rc && !(rc = nrm(l, &y->ln_attn, NM("%s.attention.output.LayerNorm", p), D)) &&
            !(rc = nrm(l, &y->ln_out, NM("%s.output.LayerNorm", p), D)) &&
            !(rc = lin(l, &y->fc1, NM("%s.intermediate.dense", p), D, h->text_mlp, true)))
            rc = lin(l, &y->fc2, NM("%s.output.dense", p), h->text_mlp, D, true);
    }
    if (!rc && !(rc = lin(l, &m->pooler, "text_model.pooler.dense", D, D, true)) &&
        !(rc = lin(l, &m->t_proj1, "text_projection.linear1", D, h->proj_dim, true)))
        rc = lin(l, &m->t_proj2, "text_projection.linear2", h->proj_dim, h->proj_dim, true);
    return rc;
}

/* A float of a scalar or vector tensor, widened. */
static float st_float(const struct mill_st_tensor *t, size_t i) {
    if (t->dtype == MILL_ST_F32) {
        float f;
        memcpy(&f, (const char *)t->data + 4 * i, 4);
        return f;
    }
    uint16_t u;
    memcpy(&u, (const char *)t->data + 2 * i, 2);
    return t->dtype == MILL_ST_F16 ? ggml_fp16_to_fp32(u) : ggml_bf16_to_fp32((ggml_bf16_t){u});
}

/* logit_scale_a and the mel batch norm, read on the CPU side. */
static int small_weights(struct loader *l) {
    struct mill_clap_model *m = l->m;
    int64_t nm = m->hp.n_mels;
    const char *bn = "audio_model.audio_encoder.batch_norm";
    char name[256];
    const struct mill_st_tensor *ls = need(l, "logit_scale_a", 0, NULL), *lt;
    const struct mill_st_tensor *w = ls ? need(l, NM("%s.weight", bn), 1, &nm) : NULL;
    const struct mill_st_tensor *b = w ? need(l, NM("%s.bias", bn), 1, &nm) : NULL;
    const struct mill_st_tensor *mu = b ? need(l, NM("%s.running_mean", bn), 1, &nm) : NULL;
    const struct mill_st_tensor *var = mu ? need(l, NM("%s.running_var", bn), 1, &nm) : NULL;
    if (!var || !(lt = need(l, "logit_scale_t", 0, NULL)))
        return l->err->code;
    float s = st_float(ls, 0);
    if (!(isfinite(s) && s < 80))
        return mill_err_set(l->err, MILL_EFORMAT, "%s: logit_scale_a %g", l->path, s);
    m->logit_scale = expf(s);
    m->bn_scale = malloc((size_t)nm * sizeof *m->bn_scale);
    m->bn_shift = malloc((size_t)nm * sizeof *m->bn_shift);
    if (!m->bn_scale || !m->bn_shift)
        return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
    for (int64_t i = 0; i < nm; i++) { /* torch's inference batch norm: x * alpha + beta */
        float v = st_float(var, (size_t)i);
        if (!(v >= 0))
            return mill_err_set(l->err, MILL_EFORMAT, "%s: batch_norm.running_var[%lld] < 0",
                                l->path, (long long)i);
        float inv = 1.0f / sqrtf(v + m->hp.bn_eps);
        m->bn_scale[i] = st_float(w, (size_t)i) * inv;
        m->bn_shift[i] = st_float(b, (size_t)i) - st_float(mu, (size_t)i) * m->bn_scale[i];
    }
    return MILL_OK;
}

/* Buffers a real checkpoint carries that the graph recomputes; anything else unused is a
 * feature the config does not describe. */
static int check_unused(struct loader *l) {
    static const char *const buffers[] = {"position_ids", "token_type_ids",
                                          "relative_position_index", "num_batches_tracked"};
    for (size_t i = 0; i < mill_safetensors_count(l->st); i++) {
        const char *name = mill_safetensors_at(l->st, i)->name;
        bool ok = l->used[i];
        for (size_t k = 0; !ok && k < sizeof buffers / sizeof buffers[0]; k++) {
            size_t n = strlen(name), b = strlen(buffers[k]);
            ok = n >= b && !strcmp(name + n - b, buffers[k]);
        }
        if (!ok)
            return mill_err_set(l->err, MILL_EUNSUPPORTED,
                                "%s: tensor '%s' is not part of the "
                                "architecture the config describes",
                                l->path, name);
    }
    return MILL_OK;
}

/* Drops the file pages of t from this process's memory (they are re-read if touched again). */
static void release_pages(const struct mill_st_tensor *t) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)t->data & ~(uintptr_t)(page - 1);
    uintptr_t e = ((uintptr_t)t->data + t->n_bytes + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    if (page > 0 && e > a)
        madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Copies (converting to F32 where the tensor is F32 and the file is not) tensor by tensor. */
static int upload(struct loader *l) {
    size_t i = 0, cap = 0;
    float *tmp = NULL;
    for (struct ggml_tensor *x = ggml_get_first_tensor(l->m->wctx); x && i < l->n;
         x = ggml_get_next_tensor(l->m->wctx, x), i++) {
        const struct mill_st_tensor *t = l->src[i];
        if (x->type != GGML_TYPE_F32 || t->dtype == MILL_ST_F32) {
            ggml_backend_tensor_set(x, t->data, 0, ggml_nbytes(x));
        } else {
            size_t n = (size_t)ggml_nelements(x);
            if (n > cap) {
                free(tmp);
                if (!(tmp = malloc(n * sizeof *tmp)))
                    return mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path);
                cap = n;
            }
            for (size_t k = 0; k < n; k++)
                tmp[k] = st_float(t, k);
            ggml_backend_tensor_set(x, tmp, 0, n * sizeof *tmp);
        }
        release_pages(t);
    }
    free(tmp);
    return MILL_OK;
}

/* ---- attention masks ---- */

/* Which of get_attn_mask's slices [0, res - w), [res - w, res - shift), [res - shift, res) a
 * row or column p of the res x res grid is in. */
static int band(int p, int res, int w, int shift) {
    return p < res - w ? 0 : p < res - shift ? 1 : 2;
}

/* The shifted-window region (0..8) of the grid cell (y, x). */
static int region(int y, int x, int res, int w, int shift) {
    return 3 * band(y, res, w, shift) + band(x, res, w, shift);
}

/* The relative position bias (+ the shifted-window mask: -100 between regions) of one Swin
 * block, as HF's ClapAudioSelfAttention and ClapAudioLayer.get_attn_mask build them: F32
 * [N, N, heads, nW]. */
static void fill_mask(const struct mill_st_tensor *table, int w, int heads, int res, int shift,
                      float *out) {
    int n = w * w, nwin = shift ? (res / w) * (res / w) : 1;
    for (int win = 0; win < nwin; win++) {
        int wy = win / (res / w) * w, wx = win % (res / w) * w;
        for (int h = 0; h < heads; h++)
            for (int q = 0; q < n; q++)
                for (int k = 0; k < n; k++) {
                    int dh = q / w - k / w + w - 1, dw = q % w - k % w + w - 1;
                    float v = st_float(table, (size_t)(dh * (2 * w - 1) + dw) * heads + h);
                    if (shift && region(wy + q / w, wx + q % w, res, w, shift) !=
                                     region(wy + k / w, wx + k % w, res, w, shift))
                        v -= 100.0f;
                    out[(((size_t)win * heads + h) * n + q) * n + k] = v;
                }
    }
}

static int masks(struct loader *l, bool alloc) {
    struct mill_clap_model *m = l->m;
    const struct mill_clap_hparams *h = &m->hp;
    char name[256];
    for (int s = 0; s < h->n_stages; s++) {
        struct clap_stage *st = &m->stages[s];
        int w = h->window, n = w * w, nrel = (2 * w - 1) * (2 * w - 1);
        for (int b = 0; b < h->depths[s]; b++) {
            struct clap_swin *bl = &st->blocks[b];
            int nwin = bl->shift ? (st->res / w) * (st->res / w) : 1;
            const struct mill_st_tensor *t = need(l,
                                                  NM("audio_model.audio_encoder.layers.%d."
                                                     "blocks.%d.attention.self."
                                                     "relative_position_bias_table",
                                                     s, b),
                                                  2, (int64_t[]){nrel, st->heads});
            if (!alloc) { /* shapes checked and the table marked used; the mask declared */
                bl->mask = ggml_new_tensor_4d(m->wctx, GGML_TYPE_F32, n, n, st->heads, nwin);
                if (!t)
                    return l->err->code;
                continue;
            }
            float *buf = t ? malloc(ggml_nbytes(bl->mask)) : NULL;
            if (!buf)
                return t ? mill_err_set(l->err, MILL_ENOMEM, "%s: out of memory", l->path)
                         : l->err->code;
            fill_mask(t, w, st->heads, st->res, bl->shift, buf);
            ggml_backend_tensor_set(bl->mask, buf, 0, ggml_nbytes(bl->mask));
            free(buf);
        }
    }
    return MILL_OK;
}

static int load_weights(struct mill_clap_model *m, const char *path, struct mill_err *err) {
    struct mill_safetensors *st = NULL;
    int rc = mill_safetensors_open(path, &st, err);
    if (rc)
        return rc;
    size_t cap = mill_safetensors_count(st) + 1;
    struct loader l = {.m = m, .st = st, .path = path, .err = err};
    l.used = calloc(cap, sizeof *l.used);
    l.src = calloc(cap, sizeof *l.src);
    size_t n_tensors = cap + 64 * 8 + 64;
    struct ggml_init_params ip = {n_tensors * ggml_tensor_overhead(), NULL, true};
    if (!l.used || !l.src || !(m->wctx = ggml_init(ip)))
        rc = mill_err_set(err, MILL_ENOMEM, "%s: out of memory", path);
    if (!rc && !(rc = audio_weights(&l)) && !(rc = text_weights(&l)) && !(rc = small_weights(&l)) &&
        !(rc = masks(&l, false)))
        rc = check_unused(&l);
    if (!rc && !(m->backend = ggml_backend_cpu_init()))
        rc = mill_err_set(err, MILL_EBACKEND, "%s: cannot start ggml's CPU backend", path);
    if (!rc) {
        ggml_backend_cpu_set_n_threads(m->backend, m->params.threads);
        if (!(m->wbuf = ggml_backend_alloc_ctx_tensors(m->wctx, m->backend)))
            rc = mill_err_set(err, MILL_ENOMEM, "%s: cannot allocate the weights", path);
    }
    if (!rc) {
        ggml_backend_buffer_set_usage(m->wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
        if (!(rc = masks(&l, true)))
            rc = upload(&l);
    }
    free(l.used);
    free(l.src);
    mill_safetensors_free(st);
    return rc;
}

int mill_clap_load(const char *dir, const struct mill_clap_params *params,
                   struct mill_clap_model **model, struct mill_err *err) {
    *model = NULL;
    struct mill_clap_model *m = calloc(1, sizeof *m);
    if (!m)
        return mill_err_set(err, MILL_ENOMEM, "clap: out of memory");
    m->params = params ? *params : mill_clap_default_params();
    if (m->params.threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        m->params.threads = cores > 0 && cores < 1024 ? (int)cores : 1;
    }
    if (m->params.max_batch <= 0 || m->params.max_batch > 1024)
        m->params.max_batch = 16;
    char config[4096], weights[4096];
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    int rc = load_config(config, &m->hp, err);
    if (!rc)
        rc = load_weights(m, weights, err);
    if (rc) {
        mill_clap_free(m);
        return rc;
    }
    *model = m;
    return MILL_OK;
}

void mill_clap_free(struct mill_clap_model *m) {
    if (!m)
        return;
    if (m->galloc)
        ggml_gallocr_free(m->galloc);
    if (m->wbuf)
        ggml_backend_buffer_free(m->wbuf);
    if (m->wctx)
        ggml_free(m->wctx);
    if (m->backend)
        ggml_backend_free(m->backend);
    for (int s = 0; s < 8; s++)
        free(m->stages[s].blocks);
    free(m->layers);
    free(m->bn_scale);
    free(m->bn_shift);
    free(m);
}

const struct mill_clap_hparams *mill_clap_hparams(const struct mill_clap_model *m) {
    return &m->hp;
}

float mill_clap_logit_scale(const struct mill_clap_model *m) { return m->logit_scale; }

int mill_clap_max_frames(const struct mill_clap_model *m) {
    return m->hp.spec_size * m->hp.freq_ratio;
}

/* ---- encoding ---- */

static float cubic1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static float cubic2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

/* One clip's features (frames x n_mels) to the S x S mel image: batch norm per mel bin, then
 * torch's bicubic resize of time to S * ratio frames (align_corners=True, A = -0.75), then
 * image row c * n_mels + f, column t = frame c * S + t, bin f. */
static void prepare(const struct mill_clap_model *m, const float *feat, int frames, float *img,
                    float *tmp) {
    const struct mill_clap_hparams *h = &m->hp;
    int nm = h->n_mels, S = h->spec_size, T = S * h->freq_ratio;
    for (int t = 0; t < frames; t++)
        for (int f = 0; f < nm; f++)
            tmp[(size_t)t * nm + f] = feat[(size_t)t * nm + f] * m->bn_scale[f] + m->bn_shift[f];
    float scale = T > 1 ? (float)(frames - 1) / (float)(T - 1) : 0.0f;
    for (int t = 0; t < T; t++) {
        float real = scale * (float)t;
        int x0 = (int)floorf(real);
        float tt = real - (float)x0, c[4] = {cubic2(tt + 1, -0.75f), cubic1(tt, -0.75f),
                                             cubic1(1 - tt, -0.75f), cubic2(2 - tt, -0.75f)};
        int row = t / S, col = t % S;
        for (int f = 0; f < nm; f++) {
            float v = 0;
            for (int k = 0; k < 4; k++) {
                int x = x0 - 1 + k;
                x = x < 0 ? 0 : x >= frames ? frames - 1 : x;
                v += c[k] * tmp[(size_t)x * nm + f];
            }
            img[(size_t)(row * nm + f) * S + col] = frames == T ? tmp[(size_t)t * nm + f] : v;
        }
    }
}

static void l2_normalise(float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
    for (int i = 0; i < n; i++)
        v[i] *= inv;
}

int mill_clap_encode_audio(struct mill_clap_model *m, const float *features, int frames, int n,
                           float *out, struct mill_err *err) {
    const struct mill_clap_hparams *h = &m->hp;
    if (frames < 1 || frames > mill_clap_max_frames(m) || n < 0)
        return mill_err_set(err, MILL_EINVAL, "clap: %d frames (the audio tower takes 1 to %d)",
                            frames, mill_clap_max_frames(m));
    int bmax = m->params.max_batch, S = h->spec_size;
    size_t per = (size_t)frames * h->n_mels;
    float *img = malloc((size_t)bmax * S * S * sizeof *img), *tmp = malloc(per * sizeof *tmp);
    int rc = img && tmp ? MILL_OK : mill_err_set(err, MILL_ENOMEM, "clap: out of memory");
    for (int at = 0; !rc && at < n; at += bmax) {
        int b = n - at < bmax ? n - at : bmax;
        for (int i = 0; i < b; i++)
            prepare(m, features + (size_t)(at + i) * per, frames, img + (size_t)i * S * S, tmp);
        rc = mill_clap_run_audio(m, img, b, out + (size_t)at * h->proj_dim, err);
    }
    for (int i = 0; !rc && i < n; i++)
        l2_normalise(out + (size_t)i * h->proj_dim, h->proj_dim);
    free(img);
    free(tmp);
    return rc;
}

int mill_clap_encode_texts(struct mill_clap_model *m, const int32_t *tokens, const int *lens,
                           int stride, int n, float *out, struct mill_err *err) {
    const struct mill_clap_hparams *h = &m->hp;
    if (stride < 1 || stride > h->max_pos - h->pad_id - 1)
        return mill_err_set(err, MILL_EINVAL, "clap: rows of %d tokens (at most %d)", stride,
                            h->max_pos - h->pad_id - 1);
    int bmax = m->params.max_batch, rc = MILL_OK;
    for (int at = 0; !rc && at < n; at += bmax) {
        int b = n - at < bmax ? n - at : bmax, t = 1;
        for (int i = 0; i < b; i++) {
            int len = lens[at + i];
            if (len < 1 || len > stride)
                return mill_err_set(err, MILL_EINVAL, "clap: a row of %d tokens", len);
            t = len > t ? len : t;
        }
        int32_t *ids = malloc((size_t)b * t * sizeof *ids),
                *pos = malloc((size_t)b * t * sizeof *pos);
        float *mask = malloc((size_t)b * t * t * sizeof *mask);
        if (!ids || !pos || !mask)
            rc = mill_err_set(err, MILL_ENOMEM, "clap: out of memory");
        for (int i = 0; !rc && i < b; i++) {
            const int32_t *row = tokens + (size_t)(at + i) * stride;
            int len = lens[at + i];
            for (int j = 0; j < t; j++) { /* RoBERTa: positions pad_id + 1 + j, pads at pad_id */
                bool real = j < len && row[j] != h->pad_id;
                if (j < len && (row[j] < 0 || row[j] >= h->vocab_size))
                    rc = mill_err_set(err, MILL_EINVAL, "clap: token id %d out of the vocabulary",
                                      row[j]);
                ids[(size_t)i * t + j] = j < len ? row[j] : h->pad_id;
                pos[(size_t)i * t + j] = real ? h->pad_id + 1 + j : h->pad_id;
                for (int q = 0; q < t; q++)
                    mask[((size_t)i * t + q) * t + j] = j < len ? 0.0f : -INFINITY;
            }
        }
        if (!rc)
            rc = mill_clap_run_texts(m, ids, pos, mask, t, b, out + (size_t)at * h->proj_dim, err);
        free(ids);
        free(pos);
        free(mask);
    }
    for (int i = 0; !rc && i < n; i++)
        l2_normalise(out + (size_t)i * h->proj_dim, h->proj_dim);
    return rc;
}
