/* hf_config.c: the transformers checkpoint's JSON (config.json, model.safetensors.index.json)
 * read into numbers and file names for hf_convert.c, and which files make up a checkpoint.
 *
 * A config field that changes the computation in a way llama.cpp's graph for the architecture
 * would not reproduce (another activation, an unknown RoPE scaling, Qwen's sliding window,
 * an attention scale Gemma's graph does not use) is refused, naming the field; the defaults
 * are transformers' own for each architecture. This file must not read tensors. */
#include "model/convert/hf_impl.h"
#include "model/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* clang-format off */
static const struct arch_row {
    const char *hf, *gguf;
    enum hf_arch arch;
    const char *act;    /* the only hidden activation llama.cpp's graph computes */
    bool tied;          /* transformers' default tie_word_embeddings */
    int64_t head_dim;   /* transformers' default head_dim; 0 = hidden_size / heads */
    double theta, eps;  /* default rope_theta and rms_norm_eps */
    int64_t n_ctx;      /* default max_position_embeddings */
} ARCHS[] = {
    {"LlamaForCausalLM",   "llama",  HF_LLAMA,   "silu",              false, 0,   1e4, 1e-6, 2048},
    {"MistralForCausalLM", "llama",  HF_MISTRAL, "silu",              false, 0,   1e4, 1e-6, 131072},
    {"Qwen2ForCausalLM",   "qwen2",  HF_QWEN2,   "silu",              false, 0,   1e4, 1e-6, 32768},
    {"Qwen3ForCausalLM",   "qwen3",  HF_QWEN3,   "silu",              false, 128, 1e4, 1e-6, 32768},
    {"Gemma2ForCausalLM",  "gemma2", HF_GEMMA2,  "gelu_pytorch_tanh", true,  256, 1e4, 1e-6, 8192},
    {"Gemma3ForCausalLM",  "gemma3", HF_GEMMA3,  "gelu_pytorch_tanh", true,  256, 1e6, 1e-6, 131072},
    {"Phi3ForCausalLM",    "phi3",   HF_PHI3,    "silu",              false, 0,   1e4, 1e-5, 4096},
};
/* clang-format on */
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

static const char SUPPORTED[] = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                                "Qwen3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, "
                                "Phi3ForCausalLM";

char *mill_hf_path(const char *dir, const char *name) {
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* ---- config.json ------------------------------------------------------------------------ */

struct reader {
    const struct mill_value *obj;
    const char *file;
    struct mill_err *err;
};

/* A number field: *out = its value, def when absent or null (def NAN: required). */
static int num(const struct reader *r, const char *key, double def, double *out) {
    const struct mill_value *v = mill_value_get(r->obj, key);
    if (!v || v->kind == MILL_V_NULL) {
        if (isnan(def))
            return mill_err_set(r->err, MILL_EFORMAT, "%s: field %s is missing", r->file, key);
        *out = def;
        return 0;
    }
    if (v->kind == MILL_V_INT)
        *out = (double)v->u.i;
    else if (v->kind == MILL_V_FLOAT && isfinite(v->u.f))
        *out = v->u.f;
    else
        return mill_err_set(r->err, MILL_EFORMAT, "%s: field %s is not a number", r->file, key);
    return 0;
}

/* A positive integer field at most MILL_HF_MAX_DIM (def 0: required). */
static int dim(const struct reader *r, const char *key, int64_t def, int64_t *out) {
    double d;
    int rc = num(r, key, def ? (double)def : NAN, &d);
    if (rc)
        return rc;
    if (d != floor(d) || d < 1 || d > (double)MILL_HF_MAX_DIM)
        return mill_err_set(r->err, MILL_EFORMAT,
                            "%s: field %s = %g is not a positive integer "
                            "up to %lld",
                            r->file, key, d, (long long)MILL_HF_MAX_DIM);
    *out = (int64_t)d;
    return 0;
}

static int boolean(const struct reader *r, const char *key, bool def, bool *out) {
    const struct mill_value *v = mill_value_get(r->obj, key);
    if (!v || v->kind == MILL_V_NULL)
        *out = def;
    else if (v->kind == MILL_V_BOOL)
        *out = v->u.b;
    else
        return mill_err_set(r->err, MILL_EFORMAT, "%s: field %s is not a boolean", r->file, key);
    return 0;
}

/* A string field, or def when absent or null. */
static const char *str(const struct reader *r, const char *key, const char *def) {
    const struct mill_value *v = mill_value_get(r->obj, key);
    return v && v->kind == MILL_V_STR ? v->u.s.p : v && v->kind != MILL_V_NULL ? "" : def;
}

static int arch_of(const struct mill_value *cfg, const char *file, const struct arch_row **row,
                   struct mill_err *err) {
    const struct mill_value *a = mill_value_get(cfg, "architectures");
    if (!a || a->kind != MILL_V_LIST || a->u.list.n != 1 || a->u.list.items[0].kind != MILL_V_STR)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: field architectures is not a list of one "
                            "name",
                            file);
    const char *name = a->u.list.items[0].u.s.p;
    for (size_t i = 0; i < N_ARCHS; i++)
        if (!strcmp(name, ARCHS[i].hf)) {
            *row = &ARCHS[i];
            return 0;
        }
    return mill_err_set(err, MILL_EUNSUPPORTED,
                        "%s: architecture %s cannot be converted; "
                        "supported: %s",
                        file, name, SUPPORTED);
}

/* YaRN's options must be transformers' defaults (beta_fast 32, beta_slow 1, attention_factor
 * 0.1 ln(factor) + 1, extrapolation 1, no mscale): the llama.cpp Mill is built with reads no
 * GGUF key for other values, so they would convert and silently run as the defaults. */
static int yarn_defaults(const struct reader *r, const struct hf_cfg *c) {
    static const char *const keys[] = {"beta_fast",        "beta_slow",
                                       "attention_factor", "extrapolation_factor",
                                       "mscale",           "mscale_all_dim"};
    double f = c->rope_factor;
    const double want[] = {32, 1, f > 1 ? 0.1 * log(f) + 1 : 1, 1, NAN, NAN};
    const struct mill_value *tr = mill_value_get(r->obj, "truncate");
    if (tr && tr->kind == MILL_V_BOOL && !tr->u.b) /* llama.cpp always rounds the range */
        return mill_err_set(r->err, MILL_EUNSUPPORTED,
                            "%s: rope_scaling truncate false: llama.cpp rounds YaRN's "
                            "correction range (transformers' truncate true)",
                            r->file);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct mill_value *v = mill_value_get(r->obj, keys[i]);
        double x = NAN;
        if (!v || v->kind == MILL_V_NULL)
            continue;
        int rc = num(r, keys[i], NAN, &x);
        if (rc)
            return rc;
        if (!(fabs(x - want[i]) <= 1e-6 * fmax(1, fabs(want[i]))))
            return mill_err_set(r->err, MILL_EUNSUPPORTED,
                                "%s: rope_scaling.%s = %g is not supported (YaRN converts with "
                                "transformers' defaults only)",
                                r->file, keys[i], x);
    }
    return 0;
}

/* rope_scaling (or transformers 5's rope_parameters): the type and its numbers. */
static int rope_scaling(const struct reader *top, struct hf_cfg *c) {
    const struct mill_value *v = mill_value_get(top->obj, "rope_scaling");
    if (!v || v->kind == MILL_V_NULL)
        v = mill_value_get(top->obj, "rope_parameters");
    c->rope = HF_ROPE_NONE;
    if (!v || v->kind == MILL_V_NULL)
        return 0;
    if (v->kind != MILL_V_STRUCT)
        return mill_err_set(top->err, MILL_EFORMAT, "%s: field rope_scaling is not an object",
                            top->file);
    struct reader r = {v, top->file, top->err};
    for (size_t i = 0;
         !mill_value_get(v, "rope_type") && !mill_value_get(v, "type") && i < v->u.obj.n; i++)
        if (v->u.obj.vals[i].kind == MILL_V_STRUCT) /* {"full_attention": {...}, ...} */
            return mill_err_set(top->err, MILL_EUNSUPPORTED,
                                "%s: rope settings per layer type (%s) are not supported",
                                top->file, v->u.obj.keys[i]);
    const char *type = str(&r, "rope_type", str(&r, "type", "default"));
    int rc = num(&r, "rope_theta", c->rope_theta, &c->rope_theta);
    if (rc || !strcmp(type, "default"))
        return rc;
    rc = num(&r, "factor", NAN, &c->rope_factor);
    if (!rc && !(c->rope_factor > 0))
        rc = mill_err_set(top->err, MILL_EFORMAT, "%s: rope_scaling.factor must be positive",
                          top->file);
    if (!rc && !strcmp(type, "linear")) {
        c->rope = HF_ROPE_LINEAR;
    } else if (!rc && !strcmp(type, "llama3") && c->arch <= HF_MISTRAL) {
        c->rope = HF_ROPE_LLAMA3;
        rc = num(&r, "low_freq_factor", 1.0, &c->low_freq_factor);
        if (!rc)
            rc = num(&r, "high_freq_factor", 4.0, &c->high_freq_factor);
        if (!rc)
            rc = dim(&r, "original_max_position_embeddings", 8192, &c->orig_ctx);
        if (!rc && !(c->high_freq_factor > c->low_freq_factor))
            rc = mill_err_set(top->err, MILL_EFORMAT,
                              "%s: rope_scaling: high_freq_factor must "
                              "exceed low_freq_factor",
                              top->file);
    } else if (!rc && !strcmp(type, "yarn") && c->arch != HF_PHI3) {
        c->rope = HF_ROPE_YARN;
        rc = dim(&r, "original_max_position_embeddings", 0, &c->orig_ctx);
        if (!rc)
            rc = yarn_defaults(&r, c);
    } else if (!rc) {
        rc = mill_err_set(top->err, MILL_EUNSUPPORTED,
                          "%s: rope_scaling type '%s' is not "
                          "supported for %s (linear%s%s are)",
                          top->file, type, c->hf_name, c->arch <= HF_MISTRAL ? ", llama3" : "",
                          c->arch != HF_PHI3 ? ", yarn" : "");
    }
    return rc;
}

/* Gemma's options: soft-capping, the sliding window and its layer pattern, and the attention
 * scale, which llama.cpp's graph fixes at 1/sqrt(head_dim) (n_embd/n_head for the 27B). */
static int gemma_options(const struct reader *r, struct hf_cfg *c) {
    static const char *const caps[] = {"final_logit_softcapping", "attn_logit_softcapping"};
    for (int i = 0; c->arch == HF_GEMMA2 && i < 2; i++) {
        const struct mill_value *v = mill_value_get(r->obj, caps[i]);
        if (v && v->kind == MILL_V_NULL) /* transformers: no capping; llama.cpp always caps */
            return mill_err_set(r->err, MILL_EUNSUPPORTED,
                                "%s: %s is null (no soft-capping), which llama.cpp's gemma2 graph "
                                "cannot run",
                                r->file, caps[i]);
    }
    int rc = num(r, "final_logit_softcapping", c->arch == HF_GEMMA2 ? 30.0 : 0, &c->final_softcap);
    if (!rc && c->arch == HF_GEMMA2)
        rc = num(r, "attn_logit_softcapping", 50.0, &c->attn_softcap);
    else if (!rc && mill_value_get(r->obj, "attn_logit_softcapping") &&
             mill_value_get(r->obj, "attn_logit_softcapping")->kind != MILL_V_NULL)
        rc = mill_err_set(r->err, MILL_EUNSUPPORTED,
                          "%s: attn_logit_softcapping is not part "
                          "of Gemma 3",
                          r->file);
    if (!rc)
        rc = dim(r, "sliding_window", 4096, &c->sliding_window);
    if (!rc)
        rc = dim(r, "sliding_window_pattern", c->arch == HF_GEMMA2 ? 2 : 6, &c->swa_pattern);
    double q;
    bool big = c->n_layer == (c->arch == HF_GEMMA2 ? 46 : 62);
    double want = big ? (double)(c->n_embd / c->n_head) : (double)c->head_dim;
    if (!rc) /* transformers' Gemma2Config and Gemma3TextConfig default it to 256 */
        rc = num(r, "query_pre_attn_scalar", 256, &q);
    if (!rc && q != want)
        rc = mill_err_set(r->err, MILL_EUNSUPPORTED,
                          "%s: query_pre_attn_scalar %g: llama.cpp "
                          "scales queries by 1/sqrt(%g) for this model",
                          r->file, q, want);
    if (!rc && c->arch == HF_GEMMA3)
        rc = num(r, "rope_local_base_freq", 1e4, &c->rope_theta_swa);
    return rc;
}

/* layer_types (transformers >= 4.53) must follow the sliding_window_pattern llama.cpp uses. */
static int check_layer_types(const struct reader *r, const struct hf_cfg *c) {
    const struct mill_value *v = mill_value_get(r->obj, "layer_types");
    if (!v || v->kind == MILL_V_NULL)
        return 0;
    if (v->kind != MILL_V_LIST || (int64_t)v->u.list.n != c->n_layer)
        return mill_err_set(r->err, MILL_EFORMAT, "%s: layer_types is not a list of %lld names",
                            r->file, (long long)c->n_layer);
    for (int64_t i = 0; i < c->n_layer; i++) {
        const char *t = mill_value_as_str(&v->u.list.items[i]);
        bool swa = c->swa_pattern > 0 && (i % c->swa_pattern) < c->swa_pattern - 1;
        bool want_full = c->arch < HF_GEMMA2 || c->arch == HF_PHI3 || !swa;
        if (!t || strcmp(t, want_full ? "full_attention" : "sliding_attention"))
            return mill_err_set(r->err, MILL_EUNSUPPORTED,
                                "%s: layer_types[%lld] is '%s'; "
                                "llama.cpp runs it as %s",
                                r->file, (long long)i, t ? t : "?",
                                want_full ? "full_attention" : "sliding_attention");
    }
    return 0;
}

static int dims(const struct reader *r, const struct arch_row *a, struct hf_cfg *c) {
    int rc = dim(r, "vocab_size", 0, &c->n_vocab);
    if (!rc)
        rc = dim(r, "hidden_size", 0, &c->n_embd);
    if (!rc)
        rc = dim(r, "num_hidden_layers", 0, &c->n_layer);
    if (!rc)
        rc = dim(r, "intermediate_size", 0, &c->n_ff);
    if (!rc)
        rc = dim(r, "num_attention_heads", 0, &c->n_head);
    if (!rc)
        rc = dim(r, "num_key_value_heads", c->n_head, &c->n_head_kv);
    if (!rc)
        rc = dim(r, "max_position_embeddings", a->n_ctx, &c->n_ctx);
    c->head_dim_given = mill_value_get(r->obj, "head_dim") &&
                        mill_value_get(r->obj, "head_dim")->kind != MILL_V_NULL;
    if (!rc)
        rc = dim(r, "head_dim", a->head_dim ? a->head_dim : c->n_embd / c->n_head, &c->head_dim);
    if (rc)
        return rc;
    if (c->n_layer > MILL_HF_MAX_LAYERS)
        return mill_err_set(r->err, MILL_EFORMAT, "%s: num_hidden_layers %lld is above %d", r->file,
                            (long long)c->n_layer, MILL_HF_MAX_LAYERS);
    if (c->n_head % c->n_head_kv || c->head_dim % 2 || c->n_head * c->head_dim > MILL_HF_MAX_DIM)
        return mill_err_set(r->err, MILL_EFORMAT,
                            "%s: num_attention_heads %lld, "
                            "num_key_value_heads %lld, head_dim %lld are inconsistent",
                            r->file, (long long)c->n_head, (long long)c->n_head_kv,
                            (long long)c->head_dim);
    c->n_rot = c->head_dim;
    return 0;
}

/* Per architecture: biases, Qwen's sliding window, Phi-3's partial rotary and window. */
static int arch_options(const struct reader *r, struct hf_cfg *c) {
    int rc = 0;
    bool b = false;
    if (c->arch == HF_LLAMA || c->arch == HF_MISTRAL) {
        rc = boolean(r, "attention_bias", false, &c->attn_bias);
        if (!rc)
            rc = boolean(r, "mlp_bias", false, &b);
        if (!rc && b)
            rc = mill_err_set(r->err, MILL_EUNSUPPORTED, "%s: mlp_bias = true is not supported",
                              r->file);
    } else if (c->arch == HF_QWEN2 || c->arch == HF_QWEN3) {
        c->attn_bias = c->arch == HF_QWEN2;
        if (c->arch == HF_QWEN3)
            rc = boolean(r, "attention_bias", false, &c->attn_bias);
        if (!rc)
            rc = boolean(r, "use_sliding_window", false, &b);
        if (!rc && b)
            rc = mill_err_set(r->err, MILL_EUNSUPPORTED,
                              "%s: use_sliding_window = true: "
                              "llama.cpp's %s graph has no sliding window",
                              r->file, c->gguf_arch);
    } else if (c->arch == HF_PHI3) {
        double prf;
        rc = num(r, "partial_rotary_factor", 1.0, &prf);
        if (!rc && !(prf > 0 && prf <= 1))
            rc = mill_err_set(r->err, MILL_EFORMAT, "%s: partial_rotary_factor %g", r->file, prf);
        c->n_rot = (int64_t)(prf * (double)c->n_embd) / c->n_head;
        if (!rc && (c->n_rot % 2 || c->head_dim != c->n_embd / c->n_head))
            rc = mill_err_set(r->err, MILL_EFORMAT,
                              "%s: rotary dimensions %lld / head size "
                              "%lld",
                              r->file, (long long)c->n_rot, (long long)c->head_dim);
        if (!rc && c->rope == HF_ROPE_NONE)
            rc = dim(r, "original_max_position_embeddings", c->n_ctx, &c->orig_ctx);
        const struct mill_value *sw = mill_value_get(r->obj, "sliding_window");
        if (!rc && sw && sw->kind != MILL_V_NULL)
            rc = dim(r, "sliding_window", 0, &c->sliding_window);
    }
    return rc;
}

int mill_hf_cfg_parse(const char *json, size_t n, const char *name, struct hf_cfg *c,
                      struct mill_err *err) {
    memset(c, 0, sizeof *c);
    struct mill_value cfg = {0};
    int rc = mill_value_from_json(&cfg, json, n, err);
    if (rc)
        return mill_err_prefix(err, "%s", name);
    const struct arch_row *a = NULL;
    struct reader r = {&cfg, name, err};
    if (cfg.kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: not a JSON object", name);
    if (!rc)
        rc = arch_of(&cfg, name, &a, err);
    if (!rc) {
        c->arch = a->arch;
        c->hf_name = a->hf;
        c->gguf_arch = a->gguf;
        rc = dims(&r, a, c);
    }
    const char *act = rc                                   ? NULL
                      : str(&r, "hidden_activation", NULL) ? str(&r, "hidden_activation", NULL)
                                                           : str(&r, "hidden_act", a->act);
    if (!rc && strcmp(act, a->act))
        rc = mill_err_set(err, MILL_EUNSUPPORTED,
                          "%s: activation '%s': llama.cpp's %s graph "
                          "computes %s",
                          name, act, a->gguf, a->act);
    if (!rc)
        rc = boolean(&r, "tie_word_embeddings", a->tied, &c->tied);
    if (!rc && c->arch == HF_GEMMA2 && !c->tied)
        rc = mill_err_set(err, MILL_EUNSUPPORTED,
                          "%s: tie_word_embeddings = false: llama.cpp's "
                          "gemma2 graph takes its output from the token embedding",
                          name);
    if (!rc)
        rc = num(&r, "rms_norm_eps", a->eps, &c->rms_eps);
    if (!rc)
        rc = num(&r, "rope_theta", a->theta, &c->rope_theta);
    if (!rc)
        rc = rope_scaling(&r, c);
    if (!rc && (c->arch == HF_GEMMA2 || c->arch == HF_GEMMA3))
        rc = gemma_options(&r, c);
    if (!rc)
        rc = arch_options(&r, c);
    if (!rc)
        rc = check_layer_types(&r, c);
    mill_value_free(&cfg);
    return rc;
}

int mill_hf_check_config(const char *json, size_t n, const char *name, struct mill_err *err) {
    struct hf_cfg c;
    return mill_hf_cfg_parse(json, n, name, &c, err);
}

/* ---- the index and the checkpoint's files ---------------------------------------------- */

void mill_hf_files_free(char **files, size_t n) {
    for (size_t i = 0; files && i < n; i++)
        free(files[i]);
    free(files);
}

/* A shard name the index may give: a plain *.safetensors file name in the same directory. */
static bool safe_shard(const char *s) {
    size_t n = strlen(s);
    return n > 12 && n < 256 && s[0] != '.' && !strchr(s, '/') && !strchr(s, '\\') &&
           !strcmp(s + n - 12, ".safetensors");
}

static int push(char ***list, size_t *n, const char *s) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s))
            return 0;
    char **g = realloc(*list, (*n + 1) * sizeof *g);
    if (!g)
        return MILL_ENOMEM;
    *list = g;
    if (!(g[*n] = strdup(s)))
        return MILL_ENOMEM;
    (*n)++;
    return 0;
}

int mill_hf_parse_index(const char *json, size_t n, const char *name, char ***shards,
                        size_t *n_shards, struct mill_err *err) {
    *shards = NULL;
    *n_shards = 0;
    struct mill_value v = {0};
    int rc = mill_value_from_json(&v, json, n, err);
    if (rc)
        return mill_err_prefix(err, "%s", name);
    const struct mill_value *map = mill_value_get(&v, "weight_map");
    if (!map || map->kind != MILL_V_STRUCT || !map->u.obj.n)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: no weight_map object", name);
    for (size_t i = 0; !rc && i < map->u.obj.n; i++) {
        const char *s = mill_value_as_str(&map->u.obj.vals[i]);
        if (!s || !safe_shard(s))
            rc = mill_err_set(err, MILL_EFORMAT,
                              "%s: weight_map[\"%s\"] is not a .safetensors "
                              "file name beside the index",
                              name, map->u.obj.keys[i]);
        else if (push(shards, n_shards, s))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    mill_value_free(&v);
    if (rc) {
        mill_hf_files_free(*shards, *n_shards);
        *shards = NULL;
        *n_shards = 0;
    }
    return rc;
}

static bool is_file(const char *dir, const char *name) {
    char *p = mill_hf_path(dir, name);
    struct stat st;
    bool ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

bool mill_hf_is_checkpoint(const char *dir) {
    return is_file(dir, "config.json") &&
           (is_file(dir, "model.safetensors") || is_file(dir, "model.safetensors.index.json"));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shards: the index's (each must exist) or model.safetensors. */
static int shard_files(const char *dir, char ***files, size_t *n, struct mill_err *err) {
    if (!is_file(dir, "model.safetensors.index.json")) {
        if (!is_file(dir, "model.safetensors"))
            return mill_err_set(err, MILL_ENOTFOUND,
                                "%s: no model.safetensors nor "
                                "model.safetensors.index.json",
                                dir);
        return push(files, n, "model.safetensors") ? mill_err_set(err, MILL_ENOMEM, "oom") : 0;
    }
    char *path = mill_hf_path(dir, "model.safetensors.index.json"), *buf = NULL, **sh = NULL;
    size_t len = 0, n_sh = 0;
    int rc = path ? mill_model_read_file(path, MILL_HF_JSON_MAX, &buf, &len, err)
                  : mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = mill_hf_parse_index(buf, len, path, &sh, &n_sh, err);
    for (size_t i = 0; !rc && i < n_sh; i++)
        if (!is_file(dir, sh[i]))
            rc = mill_err_set(err, MILL_ENOTFOUND, "%s names shard %s, which is missing", path,
                              sh[i]);
    if (!rc && push(files, n, "model.safetensors.index.json"))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n_sh; i++)
        if (push(files, n, sh[i]))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    mill_hf_files_free(sh, n_sh);
    free(buf);
    free(path);
    return rc;
}

int mill_hf_checkpoint_files(const char *dir, char ***files, size_t *n, struct mill_err *err) {
    static const char *const tok[] = {"tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "chat_template.jinja",
                                      "chat_template.json"};
    *files = NULL;
    *n = 0;
    int rc = is_file(dir, "config.json")
                 ? 0
                 : mill_err_set(err, MILL_ENOTFOUND, "%s: no config.json", dir);
    if (!rc && push(files, n, "config.json"))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = shard_files(dir, files, n, err);
    for (size_t i = 0; !rc && i < sizeof tok / sizeof tok[0]; i++)
        if (is_file(dir, tok[i]) && push(files, n, tok[i]))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        mill_hf_files_free(*files, *n);
        *files = NULL;
        *n = 0;
        return rc;
    }
    qsort(*files, *n, sizeof **files, cmp_str);
    return 0;
}
