/* clip.c: the public face of the CLIP model (clip.h): finds the checkpoint's config/weights pair
 * in a directory, parses the config (clip_config.c), loads the weights (clip_load.c) and frees
 * it all; encoding lives in clip_graph.c.
 *
 * Must not know Mill's tasks or backends, print, or write files. */
#include "model/clip/clip_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX ((long)16 << 20) /* a config file larger than this is refused */
#define BATCH_MAX 4096

struct mill_clip_params mill_clip_default_params(void) {
    return (struct mill_clip_params){.threads = 0, .max_batch = 64};
}

/* Reads the whole file at path (at most CONFIG_MAX bytes) into *buf / *n; the caller frees. */
static int read_small_file(const char *path, char **buf, size_t *n, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(errno));
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    int rc = MILL_OK;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        rc = mill_err_set(err, MILL_EIO, "%s: cannot size the file", path);
    else if (size > CONFIG_MAX)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: larger than %ld bytes", path, CONFIG_MAX);
    else if (!(*buf = malloc((size_t)size + 1)))
        rc = mill_err_set(err, MILL_ENOMEM, "%s: out of memory", path);
    else if ((*n = fread(*buf, 1, (size_t)size, f)) != (size_t)size)
        rc = mill_err_set(err, MILL_EIO, "%s: read error", path);
    fclose(f);
    return rc;
}

/* Parses the JSON file at path into *v. MILL_ENOTFOUND when it does not exist. */
static int read_json(const char *path, struct mill_value *v, struct mill_err *err) {
    char *buf = NULL;
    size_t n = 0;
    int rc = read_small_file(path, &buf, &n, err);
    if (!rc && (rc = mill_value_from_json(v, buf, n, err)))
        mill_err_prefix(err, "%s: ", path);
    free(buf);
    return rc;
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Picks the format from the files present (both present: open_clip's; with hf_only, only
 * transformers'); config and weights get the paths. */
static int find_checkpoint(const char *dir, struct mill_clip_model *m, char *config, char *weights,
                           size_t size, struct mill_err *err) {
    static const struct {
        const char *cfg, *st;
        enum clip_format fmt;
    } pairs[] = {
        {"open_clip_config.json", "open_clip_model.safetensors", CLIP_OPEN_CLIP},
        {"config.json", "model.safetensors", CLIP_HF},
    };
    for (size_t i = m->params.hf_only; i < sizeof pairs / sizeof pairs[0]; i++) {
        snprintf(config, size, "%s/%s", dir, pairs[i].cfg);
        snprintf(weights, size, "%s/%s", dir, pairs[i].st);
        if (is_file(config) && is_file(weights)) {
            m->format = pairs[i].fmt;
            return MILL_OK;
        }
    }
    if (m->params.hf_only)
        return mill_err_set(err, MILL_ENOTFOUND,
                            "%s: no config.json + model.safetensors (transformers' CLIP, which "
                            "hf_clip reads; open_clip's files are read by clip[path=...])",
                            dir);
    return mill_err_set(err, MILL_ENOTFOUND,
                        "%s: no open_clip_config.json + "
                        "open_clip_model.safetensors nor config.json + model.safetensors",
                        dir);
}

/* The parsed config (open_clip's or HF's) into m->hp, checked; HF's preprocessor config (pre,
 * NULL when the checkpoint has none) applied after. */
static int config_from(const struct mill_value *cfg, const char *path, const struct mill_value *pre,
                       const char *pre_path, struct mill_clip_model *m, struct mill_err *err) {
    int rc = m->format == CLIP_HF ? mill_clip_config_hf(cfg, path, m, err)
                                  : mill_clip_config_open_clip(cfg, path, m, err);
    if (!rc)
        rc = mill_clip_config_check(&m->hp, path, err);
    if (!rc && pre && m->format == CLIP_HF)
        rc = mill_clip_config_hf_pre(pre, pre_path, &m->hp, err);
    return rc;
}

int mill_clip_hparams_from_json(const struct mill_value *cfg, const struct mill_value *pre, bool hf,
                                struct mill_clip_hparams *hp, struct mill_err *err) {
    struct mill_clip_model m;
    memset(&m, 0, sizeof m);
    m.format = hf ? CLIP_HF : CLIP_OPEN_CLIP;
    int rc = config_from(cfg, "config", pre, "preprocessor_config", &m, err);
    if (!rc)
        *hp = m.hp;
    return rc;
}

/* Parses the config (and HF's optional preprocessor_config.json) into m->hp. */
static int load_config(const char *dir, const char *path, struct mill_clip_model *m,
                       struct mill_err *err) {
    struct mill_value cfg, pre_cfg;
    int rc = read_json(path, &cfg, err);
    if (rc)
        return rc == MILL_ENOTFOUND ? MILL_EIO : rc;
    char pre[4096];
    snprintf(pre, sizeof pre, "%s/preprocessor_config.json", dir);
    bool have_pre = m->format == CLIP_HF && is_file(pre);
    if (have_pre && (rc = read_json(pre, &pre_cfg, err)) != 0) {
        mill_value_free(&cfg);
        return rc;
    }
    rc = config_from(&cfg, path, have_pre ? &pre_cfg : NULL, pre, m, err);
    mill_value_free(&cfg);
    if (have_pre)
        mill_value_free(&pre_cfg);
    return rc;
}

static int check_params(const struct mill_clip_params *in, struct mill_clip_params *out,
                        struct mill_err *err) {
    *out = in ? *in : mill_clip_default_params();
    if (out->threads < 0 || out->max_batch < 0 || out->max_batch > BATCH_MAX)
        return mill_err_set(err, MILL_EINVAL, "clip: threads %d / max_batch %d out of range",
                            out->threads, out->max_batch);
    if (out->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        out->threads = cores > 0 && cores < 1024 ? (int)cores : 1;
    }
    if (out->max_batch == 0)
        out->max_batch = 64;
    return MILL_OK;
}

int mill_clip_load(const char *dir, const struct mill_clip_params *params,
                   struct mill_clip_model **model, struct mill_err *err) {
    *model = NULL;
    if (!dir)
        return mill_err_set(err, MILL_EINVAL, "clip: no checkpoint directory");
    struct mill_clip_model *m = calloc(1, sizeof *m);
    if (!m)
        return mill_err_set(err, MILL_ENOMEM, "clip: out of memory");
    char config[4096], weights[4096];
    int rc = check_params(params, &m->params, err);
    if (!rc)
        rc = find_checkpoint(dir, m, config, weights, sizeof config, err);
    if (!rc)
        rc = load_config(dir, config, m, err);
    bool oc = m->format != CLIP_HF; /* a tag's settings are open_clip's: not for HF files */
    if (!rc && oc && m->params.quick_gelu)
        m->hp.quick_gelu = m->params.quick_gelu == 2;
    for (int k = 0; !rc && oc && m->params.norm && k < 3; k++) {
        bool openai = m->params.norm == MILL_CLIP_NORM_OPENAI;
        m->hp.mean[k] = openai ? mill_clip_openai_mean[k] : 0.5f;
        m->hp.std[k] = openai ? mill_clip_openai_std[k] : 0.5f;
    }
    if (!rc)
        rc = mill_clip_load_weights(m, weights, err);
    if (rc) {
        mill_clip_free(m);
        return rc;
    }
    *model = m;
    return MILL_OK;
}

void mill_clip_free(struct mill_clip_model *m) {
    if (!m)
        return;
    mill_clip_graph_free(&m->g_vis);
    mill_clip_graph_free(&m->g_txt);
    if (m->galloc_vis)
        ggml_gallocr_free(m->galloc_vis);
    if (m->galloc_txt)
        ggml_gallocr_free(m->galloc_txt);
    if (m->wbuf)
        ggml_backend_buffer_free(m->wbuf);
    if (m->wctx)
        ggml_free(m->wctx);
    if (m->backend)
        ggml_backend_free(m->backend);
    free(m->vis.blocks);
    free(m->txt.blocks);
    free(m);
}

bool mill_clip_is_hf(const struct mill_clip_model *m) { return m->format == CLIP_HF; }

const struct mill_clip_hparams *mill_clip_hparams(const struct mill_clip_model *m) {
    return &m->hp;
}

float mill_clip_logit_scale(const struct mill_clip_model *m) { return m->logit_scale; }
