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

/* Python Mill's backend classes, as "module:Class" (what a config's `from mill.models.x import
 * C` binds, and what its loader resolves), and the backend of ours that serves each (NULL: CLIP
 * or CLAP by the modality, contrastive()). */
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

static int oom(struct mill_err *err) { return mill_err_set(err, MILL_ENOMEM, "out of memory"); }

/* Registry aliases of HFContrastiveModel, which serves images or audio by its checkpoint. */
static bool is_contrastive_alias(const char *t) {
    return !strcmp(t, "hf_clip") || !strcmp(t, "transformers_clip") || !strcmp(t, "clap") ||
           !strcmp(t, "hf_clap");
}

static bool has_modality(const struct mill_value *args, const char *m) {
    const char *one = mill_value_as_str(mill_value_get(args, "modality"));
    if (one)
        return !strcmp(one, m);
    const struct mill_value *l = mill_value_get(args, "modalities");
    for (size_t i = 0; l && l->kind == MILL_V_LIST && i < l->u.list.n; i++) {
        const char *s = mill_value_as_str(&l->u.list.items[i]);
        if (s && !strcmp(s, m))
            return true;
    }
    return false;
}

/* HFContrastiveModel: our clap for audio, clip for images; otherwise fallback (NULL: refused,
 * as Python Mill would ask the checkpoint's processor). */
static const char *contrastive(const struct mill_value *args, const char *fallback) {
    if (has_modality(args, "audio"))
        return "clap";
    return has_modality(args, "image") ? "clip" : fallback;
}

/* The type as "module:Class" or a name: a string, or an imported object (bytes). */
static const char *type_text(const struct mill_value *t) {
    return t && (t->kind == MILL_V_STR || t->kind == MILL_V_BYTES) ? t->u.s.p : NULL;
}

/* The backend name for the type, given the merged arguments; *hub_id when the type is a plain
 * Hub id (the model's path). */
static int backend_of(const char *file, const struct mill_value *type,
                      const struct mill_value *args, const char **name, const char **hub_id,
                      struct mill_err *err) {
    const char *t = type_text(type);
    *name = *hub_id = NULL;
    if (!type)
        return mill_err_set(err, MILL_EINVAL,
                            "%s: the model dict needs a type= (a class or a registry name)", file);
    if (!t || !*t)
        return mill_err_set(err, MILL_EINVAL, "%s: type= must be a class or a non-empty string",
                            file);
    if (strchr(t, ':')) {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
            if (!strcmp(classes[i].cls, t))
                *name = classes[i].backend ? classes[i].backend : contrastive(args, NULL);
        if (!*name && !strcmp(t, "mill.models.hf_clip:HFContrastiveModel"))
            return mill_err_set(err, MILL_EINVAL,
                                "%s: HFContrastiveModel needs modality='image' (CLIP) or "
                                "modality='audio' (CLAP) here: Python Mill asks the checkpoint, "
                                "which is not read before the run",
                                file);
        return *name ? 0
                     : mill_err_set(err, MILL_EINVAL,
                                    "%s: type %s is not one of Python Mill's backend classes, "
                                    "which are what Mill in C can serve",
                                    file, t);
    }
    if (type->kind == MILL_V_BYTES)
        return mill_err_set(err, MILL_EINVAL, "%s: type= is the module %s, not a class", file, t);
    if (is_contrastive_alias(t))
        *name = contrastive(args, t);
    else if (!strcmp(t, "timm") || !strcmp(t, "pytorch-image-models"))
        *name = "timm"; /* Python Mill's TimmModel: refused by build_args */
    else if (mill_backend_find(t))
        *name = t;
    else {
        *name = "transformers"; /* Python Mill: TransformersModel, path defaulting to the id */
        *hub_id = t;
    }
    return 0;
}

/* Sets key of obj to a copy of v. */
static int set_copy(struct mill_value *obj, const char *key, const struct mill_value *v,
                    struct mill_err *err) {
    struct mill_value c;
    if (mill_value_copy(&c, v))
        return oom(err);
    if (mill_value_struct_set(obj, key, &c)) {
        mill_value_free(&c);
        return oom(err);
    }
    return 0;
}

/* Python Mill's keyword arguments: the dict's keys but type, abbr and run_cfg, then run_cfg's
 * over them; num_gpus dropped. None values stay (they override, and mean the default). */
static int merge(const char *file, const struct mill_value *cfg, struct mill_value *out,
                 struct mill_err *err) {
    const struct mill_value *run = mill_value_get(cfg, "run_cfg");
    if (run && run->kind != MILL_V_STRUCT && run->kind != MILL_V_NULL)
        return mill_err_set(err, MILL_EINVAL, "%s: run_cfg must be a dict", file);
    int rc = 0;
    for (size_t i = 0; !rc && i < cfg->u.obj.n; i++) {
        const char *k = cfg->u.obj.keys[i];
        if (strcmp(k, "type") && strcmp(k, "abbr") && strcmp(k, "run_cfg") && strcmp(k, "num_gpus"))
            rc = set_copy(out, k, &cfg->u.obj.vals[i], err);
    }
    for (size_t i = 0; !rc && run && run->kind == MILL_V_STRUCT && i < run->u.obj.n; i++)
        if (strcmp(run->u.obj.keys[i], "num_gpus"))
            rc = set_copy(out, run->u.obj.keys[i], &run->u.obj.vals[i], err);
    return rc;
}

/* A value as a backend argument: scalars as they are, a list of scalars joined with ';' (the
 * list form our arguments take). */
static int arg_value(const char *file, const char *key, const struct mill_value *v,
                     struct mill_value *out, struct mill_err *err) {
    mill_value_null(out);
    if (v->kind == MILL_V_BYTES)
        return mill_err_set(err, MILL_EINVAL,
                            "%s: argument %s: an imported name is read only as type=", file, key);
    if (v->kind == MILL_V_STRUCT)
        return mill_err_set(err, MILL_EINVAL, "%s: argument %s: a dict is not a model argument",
                            file, key);
    if (v->kind != MILL_V_LIST)
        return mill_value_copy(out, v) ? oom(err) : 0;
    struct mill_buf b = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < v->u.list.n; i++) {
        const struct mill_value *x = &v->u.list.items[i];
        if (i && mill_buf_addc(&b, ';'))
            rc = MILL_ENOMEM;
        else if (x->kind == MILL_V_STR)
            rc = mill_buf_add(&b, x->u.s.p, x->u.s.n);
        else if (x->kind == MILL_V_INT)
            rc = mill_buf_addf(&b, "%lld", (long long)x->u.i);
        else if (x->kind == MILL_V_FLOAT)
            rc = mill_buf_add_pyfloat(&b, x->u.f);
        else if (x->kind == MILL_V_BOOL)
            rc = mill_buf_adds(&b, x->u.b ? "True" : "False");
        else
            rc = MILL_EINVAL;
    }
    if (!rc)
        rc = mill_value_str(out, b.p ? b.p : "", b.n);
    mill_buf_free(&b);
    if (rc == MILL_EINVAL)
        return mill_err_set(err, rc, "%s: argument %s: a list may hold strings and numbers only",
                            file, key);
    return rc ? oom(err) : 0;
}

/* The backend's arguments from the merged ones: None and empty lists dropped (the backend's
 * default, as Python's `x or default`), the modalities where the backend does not take them
 * (ours read them from the model, or were chosen by them: contrastive()), and keys the backend
 * does not take, named in *ignored. vllm's path is its model (the model the server serves),
 * as VLLMModel names itself by its path. */
static int build_args(const char *file, const char *backend, const struct mill_value *merged,
                      struct mill_value *args, struct mill_buf *ignored, struct mill_err *err) {
    const struct mill_backend_ops *ops = mill_backend_find(backend);
    if (!ops)
        return mill_err_set(err, MILL_EINVAL,
                            "%s: Mill in C has no %s backend (or this build lacks it)", file,
                            backend);
    bool vllm = !strcmp(backend, "vllm");
    int rc = 0;
    for (size_t i = 0; !rc && i < merged->u.obj.n; i++) {
        const char *k = merged->u.obj.keys[i];
        const struct mill_value *v = &merged->u.obj.vals[i];
        bool modality = !strcmp(k, "modality") || !strcmp(k, "modalities");
        if (vllm && !strcmp(k, "path"))
            k = "model";
        else if (vllm && !strcmp(k, "model") && mill_value_get(merged, "path"))
            continue;
        if (v->kind == MILL_V_NULL || (v->kind == MILL_V_LIST && !v->u.list.n) ||
            (modality && !mill_spec_arg_find(ops->args, k)))
            continue;
        struct mill_value a;
        if (!mill_spec_arg_find(ops->args, k))
            rc = (ignored->n && mill_buf_adds(ignored, ", ")) || mill_buf_adds(ignored, k)
                     ? oom(err)
                     : 0;
        else if (!(rc = arg_value(file, k, v, &a, err)) && mill_value_struct_set(args, k, &a)) {
            mill_value_free(&a);
            rc = oom(err);
        }
    }
    return rc;
}

/* A plain Hub id as the type: path defaults to it. */
static int default_path(const char *hub_id, struct mill_value *args, struct mill_err *err) {
    if (!hub_id || mill_value_get(args, "path"))
        return 0;
    struct mill_value v;
    if (mill_value_str(&v, hub_id, strlen(hub_id)))
        return oom(err);
    if (mill_value_struct_set(args, "path", &v)) {
        mill_value_free(&v);
        return oom(err);
    }
    return 0;
}

/* The config file's model dict into *cfg. A file that cannot be read or parsed, or whose
 * model is no dict, is MILL_EINVAL (a wrong model spec: a usage error), or MILL_EIO/ENOMEM. */
static int read_config(const char *file, struct mill_value *cfg, struct mill_err *err) {
    char *text = NULL;
    size_t n = 0;
    int rc = mill_model_read_file(file, MILL_MODEL_CONFIG_MAX_BYTES, &text, &n, err);
    if (!rc)
        rc = mill_pyconfig_parse(text, n, file, "model", cfg, err);
    free(text);
    if (rc == MILL_EFORMAT || rc == MILL_ENOTFOUND)
        return err->code = MILL_EINVAL;
    if (!rc && cfg->kind == MILL_V_BYTES)
        rc = mill_err_set(err, MILL_EINVAL, "%s: `model` is imported (%s): not read", file,
                          cfg->u.s.p);
    else if (!rc && cfg->kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EINVAL, "%s: `model` must be a dict(...)", file);
    return rc;
}

/* Replaces spec's type and args by what the config file describes. */
static int load_config(const char *file, bool warn, struct mill_model_spec *spec,
                       struct mill_err *err) {
    struct mill_value cfg, merged, args;
    mill_value_null(&cfg);
    mill_value_struct(&merged);
    mill_value_struct(&args);
    struct mill_buf ignored = {0};
    const char *backend = NULL, *hub_id = NULL;
    int rc = read_config(file, &cfg, err);
    if (!rc)
        rc = merge(file, &cfg, &merged, err);
    if (!rc)
        rc = backend_of(file, mill_value_get(&cfg, "type"), &merged, &backend, &hub_id, err);
    if (!rc)
        rc = build_args(file, backend, &merged, &args, &ignored, err);
    if (!rc)
        rc = default_path(hub_id, &args, err);
    char *type = rc ? NULL : strdup(backend);
    if (!rc && !type)
        rc = oom(err);
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
    mill_value_free(&merged);
    mill_value_free(&cfg);
    return rc;
}

/* Whether path is an existing regular file ending in ".py". */
static bool is_config_file(const char *path) {
    size_t n = strlen(path);
    struct stat st;
    return n > 3 && !strcmp(path + n - 3, ".py") && !stat(path, &st) && S_ISREG(st.st_mode);
}

bool mill_model_config_named(const char *text) {
    struct mill_model_spec spec;
    struct mill_err err = {0};
    if (mill_spec_parse(text, &spec, &err))
        return false;
    bool yes = is_config_file(spec.type);
    mill_spec_free(&spec);
    return yes;
}

int mill_model_spec_parse(const char *text, bool warn, struct mill_model_spec *spec,
                          struct mill_err *err) {
    int rc = mill_spec_parse(text, spec, err);
    if (rc || !is_config_file(spec->type))
        return rc;
    char *file = strdup(spec->type);
    rc = file ? load_config(file, warn, spec, err) : oom(err);
    free(file);
    if (rc)
        mill_spec_free(spec);
    return rc;
}
