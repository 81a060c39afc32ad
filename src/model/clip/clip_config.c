/* clip_config.c: CLIP config parsing into mill_clip_hparams: open_clip's open_clip_config.json
 * ({"model_cfg": ..., "preprocess_cfg": ...}) or a bare model config (ViT-B-32.json), and HF's
 * CLIPModel config.json (vision_config / text_config).
 *
 * open_clip fields are checked against a table: each one is read, ignored because it cannot
 * change inference, or required to hold its default; an unknown field is refused, since it may
 * change the math. This file must not read files or weights: callers pass parsed JSON. */
#include "model/clip/clip_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum rule {
    R_USED,    /* read below */
    R_IGNORED, /* training-only or output plumbing: no effect on the embeddings */
    R_NULL,    /* must be absent, null or an empty object */
    R_FALSE,   /* must be false, 0 or null */
    R_STR,     /* must be null or the string want */
};

struct field_rule {
    const char *key;
    enum rule rule;
    const char *want; /* R_STR: the accepted value(s), '|'-separated */
    const char *what; /* what a non-default value would mean, for the message */
};

static const struct field_rule model_rules[] = {
    {"embed_dim", R_USED, NULL, NULL},
    {"quick_gelu", R_USED, NULL, NULL},
    {"vision_cfg", R_USED, NULL, NULL},
    {"text_cfg", R_USED, NULL, NULL},
    {"custom_text", R_USED, NULL, NULL},
    {"cast_dtype", R_IGNORED, NULL, NULL},
    {"init_logit_scale", R_IGNORED, NULL, NULL},
    {"output_dict", R_IGNORED, NULL, NULL},
    {"init_logit_bias", R_NULL, NULL, "a SigLIP-style logit bias"},
    {"nonscalar_logit_scale", R_FALSE, NULL, "a non-scalar logit_scale"},
    {"multimodal_cfg", R_NULL, NULL, "a CoCa multimodal decoder"},
    {NULL, R_USED, NULL, NULL},
};

static const struct field_rule vision_rules[] = {
    {"layers", R_USED, NULL, NULL},
    {"width", R_USED, NULL, NULL},
    {"head_width", R_USED, NULL, NULL},
    {"mlp_ratio", R_USED, NULL, NULL},
    {"patch_size", R_USED, NULL, NULL},
    {"image_size", R_USED, NULL, NULL},
    {"patch_dropout", R_IGNORED, NULL, NULL},
    {"output_tokens", R_IGNORED, NULL, NULL},
    {"final_ln_after_pool", R_IGNORED, NULL, NULL}, /* LN is per token: same for CLS pooling */
    {"attn_pooler_queries", R_IGNORED, NULL, NULL},
    {"attn_pooler_heads", R_IGNORED, NULL, NULL},
    {"timm_model_pretrained", R_IGNORED, NULL, NULL},
    {"timm_pool", R_IGNORED, NULL, NULL},
    {"timm_proj", R_IGNORED, NULL, NULL},
    {"timm_proj_bias", R_IGNORED, NULL, NULL},
    {"timm_drop", R_IGNORED, NULL, NULL},
    {"timm_drop_path", R_IGNORED, NULL, NULL},
    {"timm_model_name", R_NULL, NULL, "a timm vision tower (only open_clip's ViT is supported)"},
    {"ls_init_value", R_NULL, NULL, "layer scale"},
    {"attentional_pool", R_FALSE, NULL, "an attentional pooler"},
    {"no_ln_pre", R_FALSE, NULL, "a tower without ln_pre"},
    {"input_patchnorm", R_FALSE, NULL, "patch normalisation"},
    {"global_average_pool", R_FALSE, NULL, "average pooling"},
    {"pos_embed_type", R_STR, "learnable", "non-learned position embeddings"},
    {"pool_type", R_STR, "tok", "a pooling other than the class token"},
    {"act_kwargs", R_NULL, NULL, "activation options"},
    {"norm_kwargs", R_NULL, NULL, "LayerNorm options"},
    {NULL, R_USED, NULL, NULL},
};

static const struct field_rule text_rules[] = {
    {"context_length", R_USED, NULL, NULL},
    {"vocab_size", R_USED, NULL, NULL},
    {"width", R_USED, NULL, NULL},
    {"heads", R_USED, NULL, NULL},
    {"layers", R_USED, NULL, NULL},
    {"mlp_ratio", R_USED, NULL, NULL},
    {"hf_tokenizer_name", R_IGNORED, NULL, NULL},
    {"tokenizer_kwargs", R_IGNORED, NULL, NULL},
    {"pad_id", R_IGNORED, NULL, NULL},
    {"output_tokens", R_IGNORED, NULL, NULL},
    {"final_ln_after_pool", R_IGNORED, NULL, NULL}, /* LN is per token: same for EOT pooling */
    {"hf_model_pretrained", R_IGNORED, NULL, NULL},
    {"hf_proj_type", R_IGNORED, NULL, NULL},
    {"hf_pooler_type", R_IGNORED, NULL, NULL},
    {"hf_model_name", R_NULL, NULL, "a Hugging Face text tower"},
    {"ls_init_value", R_NULL, NULL, "layer scale"},
    {"embed_cls", R_FALSE, NULL, "an appended CLS token (CoCa)"},
    {"no_causal_mask", R_FALSE, NULL, "a text tower without the causal mask"},
    {"proj_bias", R_FALSE, NULL, "a text projection with a bias"},
    {"pool_type", R_STR, "argmax|eos", "a pooling other than at the EOT token"},
    {"eos_id", R_USED, NULL, NULL}, /* eos pooling's token (open_clip_eos) */
    {"proj_type", R_STR, "linear", "a text projection other than linear"},
    {"act_kwargs", R_NULL, NULL, "activation options"},
    {"norm_kwargs", R_NULL, NULL, "LayerNorm options"},
    {NULL, R_USED, NULL, NULL},
};

static const struct field_rule *find_rule(const struct field_rule *rules, const char *key) {
    for (; rules->key; rules++)
        if (strcmp(rules->key, key) == 0)
            return rules;
    return NULL;
}

/* Whether s is one of the '|'-separated words of list. */
static bool in_list(const char *s, const char *list) {
    size_t n = strlen(s);
    for (const char *p = list; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
        if (strncmp(p, s, n) == 0 && (p[n] == '|' || p[n] == 0))
            return true;
    return false;
}

static bool rule_holds(const struct field_rule *r, const struct mill_value *v) {
    switch (r->rule) {
    case R_NULL: return v->kind == MILL_V_NULL || (v->kind == MILL_V_STRUCT && v->u.obj.n == 0);
    case R_FALSE:
        return v->kind == MILL_V_NULL || (v->kind == MILL_V_BOOL && !v->u.b) ||
               (v->kind == MILL_V_INT && v->u.i == 0);
    case R_STR:
        return v->kind == MILL_V_NULL || (v->kind == MILL_V_STR && in_list(v->u.s.p, r->want));
    default: return true;
    }
}

/* Every field of obj must be in rules and hold its rule. */
static int check_fields(const struct mill_value *obj, const struct field_rule *rules,
                        const char *section, const char *path, struct mill_err *err) {
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const char *key = obj->u.obj.keys[i];
        const struct field_rule *r = find_rule(rules, key);
        if (!r)
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "%s: unknown field %s%s (it may change "
                                "the model; refusing rather than guessing)",
                                path, section, key);
        if (!rule_holds(r, &obj->u.obj.vals[i]))
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "%s: %s%s asks for %s, which is not "
                                "supported",
                                path, section, key, r->what);
    }
    return MILL_OK;
}

/* *out = obj[key] (an integer in [lo, hi]), or dflt when absent or null. */
static int get_int(const struct mill_value *obj, const char *key, int dflt, int lo, int hi,
                   const char *section, const char *path, int *out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(obj, key);
    int64_t x = dflt;
    if (v && v->kind != MILL_V_NULL && mill_value_as_int(v, &x))
        return mill_err_set(err, MILL_EFORMAT, "%s: %s%s is not an integer", path, section, key);
    if (x < lo || x > hi)
        return mill_err_set(err, MILL_EFORMAT, "%s: %s%s = %lld is outside [%d, %d]", path, section,
                            key, (long long)x, lo, hi);
    *out = (int)x;
    return MILL_OK;
}

/* *out = obj[key] (a finite number), or dflt when absent or null. */
static int get_num(const struct mill_value *obj, const char *key, double dflt, const char *section,
                   const char *path, double *out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(obj, key);
    *out = dflt;
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (v->kind == MILL_V_INT)
        *out = (double)v->u.i;
    else if (v->kind == MILL_V_FLOAT && isfinite(v->u.f))
        *out = v->u.f;
    else
        return mill_err_set(err, MILL_EFORMAT, "%s: %s%s is not a number", path, section, key);
    return MILL_OK;
}

/* *out = obj[key] as a bool (true/false/0/1), or dflt when absent or null. */
static int get_bool(const struct mill_value *obj, const char *key, bool dflt, const char *section,
                    const char *path, bool *out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(obj, key);
    *out = dflt;
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (v->kind == MILL_V_BOOL)
        *out = v->u.b;
    else if (v->kind == MILL_V_INT && (v->u.i == 0 || v->u.i == 1))
        *out = v->u.i == 1;
    else
        return mill_err_set(err, MILL_EFORMAT, "%s: %s%s is not a boolean", path, section, key);
    return MILL_OK;
}

/* An image or patch size: an integer, or a [h, w] pair that must be square. */
static int get_side(const struct mill_value *obj, const char *key, int dflt, const char *path,
                    int *out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(obj, key);
    if (v && v->kind == MILL_V_LIST) {
        int64_t h, w;
        if (v->u.list.n != 2 || mill_value_as_int(&v->u.list.items[0], &h) ||
            mill_value_as_int(&v->u.list.items[1], &w))
            return mill_err_set(err, MILL_EFORMAT, "%s: vision_cfg.%s is not [h, w]", path, key);
        if (h != w)
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "%s: vision_cfg.%s [%lld, %lld] is not "
                                "square",
                                path, key, (long long)h, (long long)w);
        if (h < 1 || h > 4096)
            return mill_err_set(err, MILL_EFORMAT, "%s: vision_cfg.%s = %lld is out of range", path,
                                key, (long long)h);
        *out = (int)h;
        return MILL_OK;
    }
    return get_int(obj, key, dflt, 1, 4096, "vision_cfg.", path, out, err);
}

/* An object field, or NULL when absent; MILL_EFORMAT when present but not an object. */
static int get_obj(const struct mill_value *obj, const char *key, const char *path,
                   const struct mill_value **out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(obj, key);
    *out = NULL;
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (v->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: %s is not an object", path, key);
    *out = v;
    return MILL_OK;
}

/* The MLP width of a tower: int(width * mlp_ratio), as open_clip computes it. */
static int mlp_width(const struct mill_value *obj, int width, const char *section, const char *path,
                     int *out, struct mill_err *err) {
    double ratio;
    int rc = get_num(obj, "mlp_ratio", 4.0, section, path, &ratio, err);
    if (rc)
        return rc;
    double w = (double)width * ratio;
    if (!(w >= 1 && w <= (1 << 20)))
        return mill_err_set(err, MILL_EFORMAT, "%s: %smlp_ratio %g is out of range", path, section,
                            ratio);
    *out = (int)w;
    return MILL_OK;
}

const float mill_clip_openai_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float mill_clip_openai_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static void default_hparams(struct mill_clip_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    memcpy(hp->mean, mill_clip_openai_mean, sizeof hp->mean);
    memcpy(hp->std, mill_clip_openai_std, sizeof hp->std);
    hp->ln_eps = 1e-5f;
    hp->eot_token = 49407;
    hp->eos_id = -1;
}

#define MAXW (1 << 16) /* widths and vocabularies beyond this are surely corrupt */

static int open_clip_vision(const struct mill_value *v, const char *path,
                            struct mill_clip_hparams *hp, struct mill_err *err) {
    const char *s = "vision_cfg.";
    const struct mill_value *layers = mill_value_get(v, "layers");
    if (layers && layers->kind == MILL_V_LIST)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: vision_cfg.layers is a list: a "
                            "ModifiedResNet tower, which is not supported (ViT only)",
                            path);
    int rc = check_fields(v, vision_rules, s, path, err);
    int head_width = 64;
    if (!rc)
        rc = get_int(v, "layers", 12, 1, 1024, s, path, &hp->vision_layers, err);
    if (!rc)
        rc = get_int(v, "width", 768, 1, MAXW, s, path, &hp->vision_width, err);
    if (!rc)
        rc = get_int(v, "head_width", 64, 1, MAXW, s, path, &head_width, err);
    if (!rc)
        rc = get_side(v, "patch_size", 16, path, &hp->patch_size, err);
    if (!rc)
        rc = get_side(v, "image_size", 224, path, &hp->image_size, err);
    if (!rc)
        rc = mlp_width(v, hp->vision_width, s, path, &hp->vision_mlp, err);
    if (rc)
        return rc;
    if (hp->vision_width % head_width)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: vision_cfg.width %d is not a multiple of "
                            "head_width %d",
                            path, hp->vision_width, head_width);
    hp->vision_heads = hp->vision_width / head_width;
    return MILL_OK;
}

/* pool_type 'eos' pools at the first eos_id, which open_clip requires to be given (hp->eos_id;
 * the backend checks it is the tokenizer's EOT, where it is the argmax pooling). */
static int open_clip_eos(const struct mill_value *v, const char *path, struct mill_clip_hparams *hp,
                         struct mill_err *err) {
    const struct mill_value *pool = mill_value_get(v, "pool_type");
    if (!pool || pool->kind != MILL_V_STR || strcmp(pool->u.s.p, "eos"))
        return MILL_OK;
    const struct mill_value *id = mill_value_get(v, "eos_id");
    int64_t x;
    if (!id || id->kind == MILL_V_NULL)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: text_cfg.pool_type 'eos' without text_cfg.eos_id (open_clip "
                            "requires it)",
                            path);
    if (mill_value_as_int(id, &x) || x < 0 || x > INT32_MAX)
        return mill_err_set(err, MILL_EFORMAT, "%s: text_cfg.eos_id is not a token id", path);
    hp->eos_id = (int)x;
    return MILL_OK;
}

static int open_clip_text(const struct mill_value *v, const char *path,
                          struct mill_clip_hparams *hp, struct mill_err *err) {
    const char *s = "text_cfg.";
    int rc = check_fields(v, text_rules, s, path, err);
    if (!rc)
        rc = get_int(v, "context_length", 77, 1, 4096, s, path, &hp->context_length, err);
    if (!rc)
        rc = get_int(v, "vocab_size", 49408, 1, 1 << 22, s, path, &hp->vocab_size, err);
    if (!rc)
        rc = get_int(v, "width", 512, 1, MAXW, s, path, &hp->text_width, err);
    if (!rc)
        rc = get_int(v, "heads", 8, 1, MAXW, s, path, &hp->text_heads, err);
    if (!rc)
        rc = get_int(v, "layers", 12, 1, 1024, s, path, &hp->text_layers, err);
    if (!rc)
        rc = mlp_width(v, hp->text_width, s, path, &hp->text_mlp, err);
    if (rc)
        return rc;
    hp->eot_token = hp->vocab_size - 1;
    return open_clip_eos(v, path, hp, err);
}

/* Reads mean/std (3 numbers each) from an open_clip preprocess_cfg or an HF
 * preprocessor_config.json (image_mean/image_std); absent keys keep hp's values. */
static int config_norm(const struct mill_value *cfg, const char *mean_key, const char *std_key,
                       const char *path, struct mill_clip_hparams *hp, struct mill_err *err) {
    const char *keys[2] = {mean_key, std_key};
    float *dst[2] = {hp->mean, hp->std};
    for (int k = 0; k < 2; k++) {
        const struct mill_value *v = mill_value_get(cfg, keys[k]);
        if (!v || v->kind == MILL_V_NULL)
            continue;
        if (v->kind != MILL_V_LIST || v->u.list.n != 3)
            return mill_err_set(err, MILL_EFORMAT, "%s: %s is not a list of 3 numbers", path,
                                keys[k]);
        for (int c = 0; c < 3; c++) {
            const struct mill_value *x = &v->u.list.items[c];
            double d = x->kind == MILL_V_INT     ? (double)x->u.i
                       : x->kind == MILL_V_FLOAT ? x->u.f
                                                 : NAN;
            if (!isfinite(d) || (k == 1 && d <= 0))
                return mill_err_set(err, MILL_EFORMAT, "%s: %s[%d] is not a valid number", path,
                                    keys[k], c);
            dst[k][c] = (float)d;
        }
    }
    return MILL_OK;
}

/* An integer setting of a preprocessor config, -1 when v is not one. */
static int64_t int_of(const struct mill_value *v) {
    return v && v->kind == MILL_V_INT ? v->u.i : -1;
}

/* Whether v names a square side of size: an int, [size, size] or {"height": size, "width":
 * size}; or, with shortest, {"shortest_edge": size} (and an int). */
static bool side_is(const struct mill_value *v, int size, bool shortest) {
    if (int_of(v) >= 0)
        return int_of(v) == size;
    if (v && v->kind == MILL_V_LIST && v->u.list.n == 2)
        return int_of(&v->u.list.items[0]) == size && int_of(&v->u.list.items[1]) == size;
    if (shortest)
        return int_of(mill_value_get(v, "shortest_edge")) == size;
    return int_of(mill_value_get(v, "height")) == size &&
           int_of(mill_value_get(v, "width")) == size;
}

static int pre_unsupported(const char *path, const char *what, int size, struct mill_err *err) {
    return mill_err_set(err, MILL_EUNSUPPORTED,
                        "%s: %s is not supported (Mill resizes the shorter side to the model's %d "
                        "with bicubic, then crops %d x %d at the centre)",
                        path, what, size, size, size);
}

/* Whether a setting key of obj is absent, null, or the bool want. */
static bool flag_is(const struct mill_value *obj, const char *key, bool want) {
    const struct mill_value *v = mill_value_get(obj, key);
    return !v || v->kind == MILL_V_NULL || (v->kind == MILL_V_BOOL && v->u.b == want);
}

int mill_clip_config_hf_pre(const struct mill_value *pre, const char *path,
                            struct mill_clip_hparams *hp, struct mill_err *err) {
    int n = hp->image_size;
    const struct mill_value *size = mill_value_get(pre, "size"),
                            *crop = mill_value_get(pre, "crop_size"),
                            *factor = mill_value_get(pre, "rescale_factor");
    /* an integer factor (1) scales by itself, as transformers multiplies by it */
    double f = !factor || factor->kind == MILL_V_NULL ? 1.0 / 255.0
               : factor->kind == MILL_V_FLOAT         ? factor->u.f
               : factor->kind == MILL_V_INT           ? (double)factor->u.i
                                                      : NAN;
    hp->floor_crop = true;
    if (!flag_is(pre, "do_resize", true) || (size && !side_is(size, n, true)))
        return pre_unsupported(path, "a resize other than the shorter side to the image size", n,
                               err);
    if (mill_value_get(pre, "resample") && int_of(mill_value_get(pre, "resample")) != 3)
        return pre_unsupported(path, "a resample filter other than bicubic (3)", n, err);
    if (!flag_is(pre, "do_center_crop", true) || (crop && !side_is(crop, n, false)))
        return pre_unsupported(path, "a crop other than the image size at the centre", n, err);
    if (!flag_is(pre, "do_rescale", true) || !(fabs(f * 255.0 - 1.0) <= 1e-9) ||
        !flag_is(pre, "do_normalize", true))
        return pre_unsupported(path, "pixels not scaled by 1/255 and normalised", n, err);
    return config_norm(pre, "image_mean", "image_std", path, hp, err);
}

/* open_clip's preprocess_cfg: interpolation bicubic, resize_mode shortest, size the model's. */
static int open_clip_pre(const struct mill_value *pre, const char *path,
                         struct mill_clip_hparams *hp, struct mill_err *err) {
    const char *interp = mill_value_as_str(mill_value_get(pre, "interpolation"));
    const char *mode = mill_value_as_str(mill_value_get(pre, "resize_mode"));
    const struct mill_value *size = mill_value_get(pre, "size");
    if (interp && strcmp(interp, "bicubic") != 0)
        return pre_unsupported(path, "preprocess_cfg interpolation other than bicubic",
                               hp->image_size, err);
    if (mode && strcmp(mode, "shortest") != 0)
        return pre_unsupported(path, "preprocess_cfg resize_mode other than shortest",
                               hp->image_size, err);
    if (size && size->kind != MILL_V_NULL && !side_is(size, hp->image_size, false))
        return pre_unsupported(path, "preprocess_cfg size other than the image size",
                               hp->image_size, err);
    return config_norm(pre, "mean", "std", path, hp, err);
}

int mill_clip_config_open_clip(const struct mill_value *cfg, const char *path,
                               struct mill_clip_model *m, struct mill_err *err) {
    struct mill_clip_hparams *hp = &m->hp;
    default_hparams(hp);
    if (!cfg || cfg->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: not a JSON object", path);
    const struct mill_value *model = cfg, *pre = NULL, *vis = NULL, *txt = NULL;
    int rc = MILL_OK;
    if (mill_value_get(cfg, "model_cfg")) {
        rc = get_obj(cfg, "model_cfg", path, &model, err);
        if (!rc)
            rc = get_obj(cfg, "preprocess_cfg", path, &pre, err);
        if (!rc && !model)
            rc = mill_err_set(err, MILL_EFORMAT, "%s: model_cfg is null", path);
    }
    if (!rc)
        rc = check_fields(model, model_rules, "", path, err);
    if (!rc)
        rc = get_obj(model, "vision_cfg", path, &vis, err);
    if (!rc)
        rc = get_obj(model, "text_cfg", path, &txt, err);
    if (!rc && (!vis || !txt))
        rc = mill_err_set(err, MILL_EFORMAT, "%s: no %s", path, vis ? "text_cfg" : "vision_cfg");
    if (!rc)
        rc = get_int(model, "embed_dim", 512, 1, MAXW, "", path, &hp->embed_dim, err);
    if (!rc)
        rc = get_bool(model, "quick_gelu", false, "", path, &hp->quick_gelu, err);
    if (!rc)
        rc = get_bool(model, "custom_text", false, "", path, &m->text_prefixed, err);
    if (!rc)
        rc = open_clip_vision(vis, path, hp, err);
    if (!rc)
        rc = open_clip_text(txt, path, hp, err);
    if (!rc && pre)
        rc = open_clip_pre(pre, path, hp, err);
    return rc;
}

/* hidden_act of an HF tower: "quick_gelu" or "gelu" (exact erf GELU). */
static int hf_act(const struct mill_value *v, const char *section, const char *path, bool *quick,
                  struct mill_err *err) {
    const struct mill_value *a = mill_value_get(v, "hidden_act");
    const char *s = a && a->kind != MILL_V_NULL ? mill_value_as_str(a) : "quick_gelu";
    if (s && strcmp(s, "quick_gelu") == 0)
        *quick = true;
    else if (s && strcmp(s, "gelu") == 0)
        *quick = false;
    else
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: %shidden_act '%.40s' is not supported "
                            "(quick_gelu or gelu)",
                            path, section, s ? s : "?");
    return MILL_OK;
}

static int hf_vision(const struct mill_value *v, const char *path, struct mill_clip_hparams *hp,
                     bool *quick, double *eps, struct mill_err *err) {
    const char *s = "vision_config.";
    int channels = 3;
    int rc = get_int(v, "hidden_size", 768, 1, MAXW, s, path, &hp->vision_width, err);
    if (!rc)
        rc = get_int(v, "intermediate_size", 3072, 1, 1 << 20, s, path, &hp->vision_mlp, err);
    if (!rc)
        rc = get_int(v, "num_attention_heads", 12, 1, MAXW, s, path, &hp->vision_heads, err);
    if (!rc)
        rc = get_int(v, "num_hidden_layers", 12, 1, 1024, s, path, &hp->vision_layers, err);
    if (!rc)
        rc = get_int(v, "image_size", 224, 1, 4096, s, path, &hp->image_size, err);
    if (!rc)
        rc = get_int(v, "patch_size", 32, 1, 4096, s, path, &hp->patch_size, err);
    if (!rc)
        rc = get_int(v, "num_channels", 3, 1, 64, s, path, &channels, err);
    if (!rc && channels != 3)
        rc = mill_err_set(err, MILL_EUNSUPPORTED, "%s: vision_config.num_channels = %d (only 3)",
                          path, channels);
    if (!rc)
        rc = get_num(v, "layer_norm_eps", 1e-5, s, path, eps, err);
    if (!rc)
        rc = hf_act(v, s, path, quick, err);
    return rc;
}

static int hf_text(const struct mill_value *v, const char *path, struct mill_clip_hparams *hp,
                   bool *quick, double *eps, struct mill_err *err) {
    const char *s = "text_config.";
    int rc = get_int(v, "hidden_size", 512, 1, MAXW, s, path, &hp->text_width, err);
    if (!rc)
        rc = get_int(v, "intermediate_size", 2048, 1, 1 << 20, s, path, &hp->text_mlp, err);
    if (!rc)
        rc = get_int(v, "num_attention_heads", 8, 1, MAXW, s, path, &hp->text_heads, err);
    if (!rc)
        rc = get_int(v, "num_hidden_layers", 12, 1, 1024, s, path, &hp->text_layers, err);
    if (!rc)
        rc = get_int(v, "max_position_embeddings", 77, 1, 4096, s, path, &hp->context_length, err);
    if (!rc)
        rc = get_int(v, "vocab_size", 49408, 1, 1 << 22, s, path, &hp->vocab_size, err);
    if (!rc)
        rc = get_num(v, "layer_norm_eps", 1e-5, s, path, eps, err);
    if (!rc)
        rc = hf_act(v, s, path, quick, err);
    if (rc)
        return rc;
    /* Pooling is at the first largest id either way (HF: eos_token_id, or argmax for the old
     * configs that say 2); the reported EOT is the vocabulary's last id. */
    hp->eot_token = hp->vocab_size - 1;
    return MILL_OK;
}

/* The tower config: key, or the older key_dict, or an empty object (all defaults). */
static int hf_tower(const struct mill_value *cfg, const char *key, const char *path,
                    const struct mill_value **out, struct mill_err *err) {
    static const struct mill_value empty = {.kind = MILL_V_STRUCT};
    char dict_key[64];
    snprintf(dict_key, sizeof dict_key, "%s_dict", key);
    int rc = get_obj(cfg, key, path, out, err);
    if (!rc && !*out)
        rc = get_obj(cfg, dict_key, path, out, err);
    if (!rc && !*out)
        *out = &empty;
    return rc;
}

static int hf_check_arch(const struct mill_value *cfg, const char *path, struct mill_err *err) {
    const char *type = mill_value_as_str(mill_value_get(cfg, "model_type"));
    if (type && strcmp(type, "clip") != 0)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: model_type '%.40s' is not supported "
                            "(only \"clip\", HF CLIPModel)",
                            path, type);
    const struct mill_value *arch = mill_value_get(cfg, "architectures");
    if (arch && arch->kind == MILL_V_LIST) {
        for (size_t i = 0; i < arch->u.list.n; i++) {
            const char *a = mill_value_as_str(&arch->u.list.items[i]);
            if (!a || strcmp(a, "CLIPModel") != 0)
                return mill_err_set(err, MILL_EUNSUPPORTED,
                                    "%s: architecture '%.40s' is not "
                                    "supported (only CLIPModel)",
                                    path, a ? a : "?");
        }
    }
    return MILL_OK;
}

int mill_clip_config_hf(const struct mill_value *cfg, const char *path, struct mill_clip_model *m,
                        struct mill_err *err) {
    struct mill_clip_hparams *hp = &m->hp;
    default_hparams(hp);
    if (!cfg || cfg->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: not a JSON object", path);
    const struct mill_value *vis = NULL, *txt = NULL;
    bool vq = true, tq = true;
    double veps = 1e-5, teps = 1e-5;
    int rc = hf_check_arch(cfg, path, err);
    if (!rc)
        rc = hf_tower(cfg, "vision_config", path, &vis, err);
    if (!rc)
        rc = hf_tower(cfg, "text_config", path, &txt, err);
    if (!rc)
        rc = get_int(cfg, "projection_dim", 512, 1, MAXW, "", path, &hp->embed_dim, err);
    if (!rc)
        rc = hf_vision(vis, path, hp, &vq, &veps, err);
    if (!rc)
        rc = hf_text(txt, path, hp, &tq, &teps, err);
    if (rc)
        return rc;
    if (vq != tq)
        return mill_err_set(err, MILL_EUNSUPPORTED, "%s: the towers use different hidden_act",
                            path);
    if (veps != teps || !(veps > 0 && veps < 1))
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: layer_norm_eps differs between the "
                            "towers or is out of range",
                            path);
    hp->quick_gelu = vq;
    hp->ln_eps = (float)veps;
    return MILL_OK;
}

int mill_clip_config_check(const struct mill_clip_hparams *hp, const char *path,
                           struct mill_err *err) {
    if (hp->vision_width % hp->vision_heads || hp->text_width % hp->text_heads)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: a tower width is not a multiple of its "
                            "head count (vision %d/%d, text %d/%d)",
                            path, hp->vision_width, hp->vision_heads, hp->text_width,
                            hp->text_heads);
    if (hp->patch_size > hp->image_size)
        return mill_err_set(err, MILL_EFORMAT, "%s: patch_size %d exceeds image_size %d", path,
                            hp->patch_size, hp->image_size);
    int grid = hp->image_size / hp->patch_size;
    if ((int64_t)grid * grid + 1 > 1 << 20)
        return mill_err_set(err, MILL_EFORMAT, "%s: %d x %d patches is too many", path, grid, grid);
    return MILL_OK;
}
