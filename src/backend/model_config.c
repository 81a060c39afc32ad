/* model_config.c: mill_model_spec_parse (model_config.h): Python Mill's model config files as
 * specs. Python Mill's loader pops `type`, `abbr` and `run_cfg`, merges run_cfg's keys over the
 * others, drops num_gpus and calls the class with the rest; a string type is a registry alias,
 * "module:Class", or a plain Hub id (TransformersModel with that path). The same here, with the
 * class named by the backend that serves it. */
#include "backend/model_config.h"

#include "backend/backends.h"
#include "core/log.h"
#include "core/pyliteral.h"
#include "core/spec.h"
#include "model/file.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MOD "model"

/* Python Mill's backend classes, as a config's `from mill.models.x import C` binds them, and the
 * backend of ours that serves each (NULL: CLIP or CLAP by the modality, contrastive()). */
static const struct {
    const char *cls, *backend;
} classes[] = {
    {"mill.models.transformers:TransformersModel", "transformers"},
    {"mill.models.vllm:VLLMModel", "vllm"},
    {"mill.models.litellm:LiteLLMModel", "litellm"},
    {"mill.models.clip:OpenCLIPModel", "clip"},
    {"mill.models.hf_clip:HFContrastiveModel", NULL},
    {"mill.models.timm:TimmModel", "timm"},
};

/* Registry aliases of HFContrastiveModel, which serves images or audio by its checkpoint. */
static bool is_contrastive_alias(const char *t) {
    return !strcmp(t, "hf_clip") || !strcmp(t, "transformers_clip") || !strcmp(t, "clap") ||
           !strcmp(t, "hf_clap");
}

static bool has_modality(const struct mill_value *cfg, const char *m) {
    const char *one = mill_value_as_str(mill_value_get(cfg, "modality"));
    if (one)
        return !strcmp(one, m);
    const struct mill_value *l = mill_value_get(cfg, "modalities");
    for (size_t i = 0; l && l->kind == MILL_V_LIST && i < l->u.list.n; i++) {
        const char *s = mill_value_as_str(&l->u.list.items[i]);
        if (s && !strcmp(s, m))
            return true;
    }
    return false;
}

/* HFContrastiveModel: our clap for audio, clip for images; otherwise fallback, as Python Mill
 * would ask the checkpoint's processor. */
static const char *contrastive(const struct mill_value *cfg, const char *fallback) {
    if (has_modality(cfg, "audio"))
        return "clap";
    return has_modality(cfg, "image") ? "clip" : fallback;
}

/* The backend name for cfg's type; *hub_id when the type is a plain Hub id (the model's path). */
static int backend_of(const char *file, const struct mill_value *cfg, const char **name,
                      const char **hub_id, struct mill_err *err) {
    const char *t = mill_value_as_str(mill_value_get(cfg, "type"));
    *hub_id = NULL;
    if (!t)
        return mill_err_set(err, MILL_EINVAL,
                            "%s: the model dict needs a type= (a class or a registry name)", file);
    if (strchr(t, ':')) {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
            if (!strcmp(classes[i].cls, t)) {
                *name = classes[i].backend ? classes[i].backend : contrastive(cfg, "hf_clip");
                return 0;
            }
        return mill_err_set(err, MILL_EINVAL,
                            "%s: type %s is not one of Python Mill's backend classes, which are "
                            "what Mill in C can serve",
                            file, t);
    }
    if (is_contrastive_alias(t))
        *name = contrastive(cfg, t);
    else if (mill_backend_find(t))
        *name = t;
    else {
        *name = "transformers"; /* Python Mill: TransformersModel, path defaulting to the id */
        *hub_id = t;
    }
    return 0;
}

static bool takes(const struct mill_backend_arg *args, const char *key) {
    for (; args && args->name; args++)
        if (!strcmp(args->name, key))
            return true;
    return false;
}

/* A value as a backend argument: scalars as they are, a list of scalars joined with ';' (the
 * list form our arguments take), nothing for None. */
static int arg_value(const char *file, const char *key, const struct mill_value *v,
                     struct mill_value *out, struct mill_err *err) {
    mill_value_null(out);
    if (v->kind != MILL_V_LIST && v->kind != MILL_V_STRUCT)
        return mill_value_copy(out, v) ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
    if (v->kind == MILL_V_STRUCT)
        return mill_err_set(err, MILL_EINVAL, "%s: argument %s: a dict is not a model argument",
                            file, key);
    struct mill_buf b = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < v->u.list.n; i++) {
        const struct mill_value *x = &v->u.list.items[i];
        if (i)
            rc = mill_buf_addc(&b, ';');
        if (rc)
            break;
        switch (x->kind) {
        case MILL_V_STR: rc = mill_buf_add(&b, x->u.s.p, x->u.s.n); break;
        case MILL_V_INT: rc = mill_buf_addf(&b, "%lld", (long long)x->u.i); break;
        case MILL_V_FLOAT: rc = mill_buf_add_pyfloat(&b, x->u.f); break;
        case MILL_V_BOOL: rc = mill_buf_adds(&b, x->u.b ? "True" : "False"); break;
        default:
            mill_buf_free(&b);
            return mill_err_set(err, MILL_EINVAL,
                                "%s: argument %s: a list may hold strings and numbers only", file,
                                key);
        }
    }
    if (!rc)
        rc = mill_value_str(out, b.p ? b.p : "", b.n);
    mill_buf_free(&b);
    return rc ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
}

/* Sets key of args from v unless v is None or the backend does not take key (then key is
 * added to *ignored). */
static int put_arg(const char *file, const struct mill_backend_ops *ops, const char *key,
                   const struct mill_value *v, struct mill_value *args, struct mill_buf *ignored,
                   struct mill_err *err) {
    if (v->kind == MILL_V_NULL)
        return 0;
    if (!takes(ops->args, key)) {
        int rc = ignored->n ? mill_buf_adds(ignored, ", ") : 0;
        if (!rc)
            rc = mill_buf_adds(ignored, key);
        return rc ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
    }
    struct mill_value a;
    int rc = arg_value(file, key, v, &a, err);
    if (!rc && mill_value_struct_set(args, key, &a)) {
        mill_value_free(&a);
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return rc;
}

/* Keys that are no backend argument: the loader's own, and the modalities where the backend
 * does not take them (ours read them from the model, or were chosen by them: contrastive()). */
static bool loader_key(const struct mill_backend_ops *ops, const char *k) {
    if (!strcmp(k, "type") || !strcmp(k, "abbr") || !strcmp(k, "run_cfg"))
        return true;
    return (!strcmp(k, "modality") || !strcmp(k, "modalities")) && !takes(ops->args, k);
}

/* The struct's keys but the loader's, then run_cfg's but num_gpus, over them. */
static int build_args(const char *file, const char *backend, const struct mill_value *cfg,
                      struct mill_value *args, struct mill_buf *ignored, struct mill_err *err) {
    const struct mill_backend_ops *ops = mill_backend_find(backend);
    if (!ops)
        return mill_err_set(err, MILL_EINVAL,
                            "%s: Mill in C has no %s backend (or this build lacks it)", file,
                            backend);
    const struct mill_value *run = mill_value_get(cfg, "run_cfg");
    if (run && run->kind != MILL_V_STRUCT && run->kind != MILL_V_NULL)
        return mill_err_set(err, MILL_EINVAL, "%s: run_cfg must be a dict", file);
    int rc = 0;
    for (size_t i = 0; !rc && i < cfg->u.obj.n; i++) {
        const char *k = cfg->u.obj.keys[i];
        if (!loader_key(ops, k))
            rc = put_arg(file, ops, k, &cfg->u.obj.vals[i], args, ignored, err);
    }
    for (size_t i = 0; !rc && run && run->kind == MILL_V_STRUCT && i < run->u.obj.n; i++)
        if (strcmp(run->u.obj.keys[i], "num_gpus"))
            rc = put_arg(file, ops, run->u.obj.keys[i], &run->u.obj.vals[i], args, ignored, err);
    return rc;
}

/* vLLM's path= is our vllm's model= (we talk to a server that serves it). */
static int vllm_model(const char *backend, struct mill_value *args, const struct mill_value *cfg,
                      struct mill_err *err) {
    const struct mill_value *path = mill_value_get(cfg, "path");
    if (strcmp(backend, "vllm") || !path || mill_value_get(args, "model"))
        return 0;
    struct mill_value v;
    if (mill_value_copy(&v, path) || mill_value_struct_set(args, "model", &v))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

/* A plain Hub id as the type: path defaults to it. */
static int default_path(const char *hub_id, struct mill_value *args, struct mill_err *err) {
    if (!hub_id || mill_value_get(args, "path"))
        return 0;
    struct mill_value v;
    if (mill_value_str(&v, hub_id, strlen(hub_id)) || mill_value_struct_set(args, "path", &v))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

/* Replaces spec's type and args by what the config file describes. */
static int load_config(const char *file, bool warn, struct mill_model_spec *spec,
                       struct mill_err *err) {
    char *text = NULL;
    size_t n = 0;
    struct mill_value cfg, args;
    mill_value_null(&cfg);
    mill_value_struct(&args);
    struct mill_buf ignored = {0};
    const char *backend = NULL, *hub_id = NULL;
    int rc = mill_model_read_file(file, MILL_MODEL_CONFIG_MAX_BYTES, &text, &n, err);
    if (!rc && (rc = mill_pyconfig_parse(text, n, file, "model", &cfg, err)) == MILL_EFORMAT)
        rc = err->code = MILL_EINVAL; /* a model spec that is wrong: a usage error */
    if (!rc && cfg.kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EINVAL, "%s: `model` must be a dict(...)", file);
    if (!rc)
        rc = backend_of(file, &cfg, &backend, &hub_id, err);
    if (!rc)
        rc = build_args(file, backend, &cfg, &args, &ignored, err);
    if (!rc)
        rc = vllm_model(backend, &args, &cfg, err);
    if (!rc)
        rc = default_path(hub_id, &args, err);
    char *type = rc ? NULL : strdup(backend);
    if (!rc && !type)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc) {
        if (warn && spec->args.kind == MILL_V_STRUCT && spec->args.u.obj.n)
            MILL_WARN(MOD,
                      "%s is a model config: the arguments in [...] are ignored, as Python "
                      "Mill ignores them",
                      file);
        if (warn && ignored.n)
            MILL_WARN(MOD,
                      "%s: the %s backend takes no %s; ignored, as Python Mill's class "
                      "ignores keywords it does not know",
                      file, backend, ignored.p);
        free(spec->type);
        spec->type = type;
        mill_value_free(&spec->args);
        spec->args = args;
        mill_value_null(&args);
    }
    mill_buf_free(&ignored);
    mill_value_free(&args);
    mill_value_free(&cfg);
    free(text);
    return rc;
}

static bool is_config_file(const char *path) {
    size_t n = strlen(path);
    struct stat st;
    return n > 3 && !strcmp(path + n - 3, ".py") && !stat(path, &st) && S_ISREG(st.st_mode);
}

int mill_model_spec_parse(const char *text, bool warn, struct mill_model_spec *spec,
                          struct mill_err *err) {
    int rc = mill_spec_parse(text, spec, err);
    if (rc || !is_config_file(spec->type))
        return rc;
    char *file = strdup(spec->type);
    rc =
        file ? load_config(file, warn, spec, err) : mill_err_set(err, MILL_ENOMEM, "out of memory");
    free(file);
    if (rc)
        mill_spec_free(spec);
    return rc;
}
