/* llama_convert.c: transformers checkpoints converted into Mill's cache (see llama_convert.h):
 * the cache key, a lock so that concurrent runs convert once, the progress bar, the Hub
 * download of a checkpoint's files and the provenance record. The conversion itself is
 * src/model/convert/; this file only decides when and where. */
#include "backend/llama_convert.h"

#include "core/cache.h"
#include "core/hashcache.h"
#include "core/log.h"
#include "core/sha2.h"
#include "core/stop.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int mill_hf_conversion_type(const char *dtype, const char *quant, enum mill_hf_type *out,
                            struct mill_err *err) {
    *out = MILL_HF_BF16;
    if (quant) {
        if (strcasecmp(quant, "Q8_0"))
            return mill_err_set(err, MILL_EINVAL,
                                "quant=%s: a transformers checkpoint converts "
                                "to Q8_0 only (or give dtype=)",
                                quant);
        *out = MILL_HF_Q8_0;
    } else if (dtype && (!mill_hf_parse_type(dtype, out) || *out == MILL_HF_Q8_0)) {
        return mill_err_set(err, MILL_EINVAL,
                            "dtype=%s: a transformers checkpoint converts to "
                            "float32, float16 or bfloat16",
                            dtype);
    }
    return 0;
}

void mill_hf_conversion_free(struct mill_hf_conversion *c) {
    if (!c)
        return;
    free(c->gguf);
    free(c->dir);
    mill_hf_files_free(c->files, c->n);
    free(c->sha256);
    memset(c, 0, sizeof *c);
}

/* The digests of the checkpoint files and the cache key over them and the type. */
static int digest(const char *cache_dir, const char *name, struct mill_hf_conversion *c,
                  char key[65], struct mill_err *err) {
    int rc = mill_hf_checkpoint_files(c->dir, &c->files, &c->n, err);
    if (!rc && !(c->sha256 = calloc(c->n, sizeof *c->sha256)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    struct mill_sha256 s;
    mill_sha256_init(&s);
    /* The converter's output version: a change of what it writes bumps it (v2: key_length). */
    static const char tag[] = "mill hf->gguf v2\n";
    mill_sha256_update(&s, tag, sizeof tag - 1);
    for (size_t i = 0; !rc && i < c->n; i++) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", c->dir, c->files[i]) < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        rc = mill_sha256_file_cached(cache_dir, p, c->sha256[i], err);
        free(p);
        mill_sha256_update(&s, c->files[i], strlen(c->files[i]) + 1);
        mill_sha256_update(&s, c->sha256[i], 64);
    }
    const char *tn = mill_hf_type_name(c->type);
    mill_sha256_update(&s, tn, strlen(tn) + 1);
    /* the GGUF's general.name, which llama.cpp reads (a "phi3" in it changes the tokeniser) */
    char *own = name ? NULL : mill_hf_dir_name(c->dir);
    if (!name && !own)
        rc = rc ? rc : mill_err_set(err, MILL_ENOMEM, "out of memory");
    const char *gn = name ? name : own ? own : "";
    mill_sha256_update(&s, gn, strlen(gn));
    free(own);
    uint8_t d[32];
    mill_sha256_final(&s, d);
    mill_hex(d, 32, key);
    return rc;
}

struct bar {
    bool tty;
    double t0;
    int last_pct;
};

static void draw(void *ud, const char *tensor, int64_t done, int64_t total, int64_t bytes_done,
                 int64_t bytes_total) {
    struct bar *b = ud;
    int pct = bytes_total > 0 ? (int)(100 * bytes_done / bytes_total) : (int)(100 * done / total);
    if (b->tty) {
        int fill = pct * 30 / 100;
        fprintf(stderr, "\rconverting [%.*s%*s] %3d%% %lld/%lld %-32.32s", fill,
                "==============================", 30 - fill, "", pct, (long long)done,
                (long long)total, tensor);
        if (done == total)
            fputc('\n', stderr);
    } else if (pct / 25 != b->last_pct / 25 || done == total) {
        MILL_INFO("convert", "%d%% (%lld/%lld tensors, %.1f s)", pct, (long long)done,
                  (long long)total, mill_clock_s() - b->t0);
    }
    b->last_pct = pct;
}

/* Removes the temporaries "<path>.<pid>.tmp" a killed conversion of path left: with the
 * conversion's lock held, no other process writes one. */
static void remove_stale(const char *path) {
    char *pattern = NULL;
    glob_t g;
    if (asprintf(&pattern, "%s.*.tmp", path) < 0)
        return;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            if (unlink(g.gl_pathv[i]) == 0)
                MILL_INFO("convert", "removed %s, left by a conversion that did not finish",
                          g.gl_pathv[i]);
        globfree(&g);
    }
    free(pattern);
}

/* Under the lock file lock, so concurrent runs convert once: the second finds the file. */
static int convert_locked(const char *dir, const char *name, const char *path, const char *lock,
                          bool progress, struct mill_hf_conversion *c, struct mill_err *err) {
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return mill_err_set(err, MILL_ELOCK, "cannot lock %s: %s", lock, strerror(errno));
    int lrc = mill_flock_stoppable(fd, lock, err); /* another process may be converting */
    if (lrc) {
        close(fd);
        return lrc;
    }
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0) {
        c->reused = true;
    } else {
        remove_stale(path);
        struct bar b = {isatty(STDERR_FILENO), mill_clock_s(), -1};
        struct mill_hf_params p = mill_hf_default_params();
        p.type = c->type;
        p.progress = progress ? draw : NULL;
        p.progress_ud = &b;
        p.stop = mill_stop_signal;
        p.name = name;
        MILL_INFO("convert", "%s: converting to %s (%s)", dir, path, mill_hf_type_name(c->type));
        rc = mill_hf_convert(dir, path, &p, err);
        c->seconds = mill_clock_s() - b.t0;
    }
    close(fd);
    return rc;
}

int mill_hf_convert_cached(const char *cache_dir, const char *dir, const char *name,
                           enum mill_hf_type type, bool progress, struct mill_hf_conversion *c,
                           struct mill_err *err) {
    memset(c, 0, sizeof *c);
    c->type = type;
    char key[65] = "", file[80];
    int rc = (c->dir = strdup(dir)) ? digest(cache_dir, name, c, key, err)
                                    : mill_err_set(err, MILL_ENOMEM, "out of memory");
    snprintf(file, sizeof file, "%s.gguf", key);
    char *lock = NULL;
    if (!rc && !(c->gguf = mill_cache_path(cache_dir, "converted", file)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    snprintf(file, sizeof file, "%s.lock", key);
    if (!rc && !(lock = mill_cache_path(cache_dir, "converted/.locks", file)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc) { /* the directories, through the cache's own helper (its probe file is removed) */
        char *tmp = NULL;
        FILE *f = mill_cache_create(lock, &tmp);
        mill_cache_commit(f, tmp, lock, false);
    }
    if (!rc)
        rc = convert_locked(dir, name, c->gguf, lock, progress, c, err);
    free(lock);
    if (rc) {
        mill_hf_conversion_free(c);
        return mill_err_prefix(err, "converting %s", dir);
    }
    return 0;
}

int mill_hf_conversion_json(const struct mill_hf_conversion *c, struct mill_buf *out) {
    int rc = mill_buf_adds(out, "\"converted_from\":");
    if (!rc)
        rc = mill_buf_add_json_str(out, c->dir, strlen(c->dir));
    if (!rc)
        rc = mill_buf_adds(out, ",\"converted_files\":[");
    for (size_t i = 0; !rc && i < c->n; i++) {
        rc = mill_buf_adds(out, i ? ",{\"path\":" : "{\"path\":");
        if (!rc)
            rc = mill_buf_add_json_str(out, c->files[i], strlen(c->files[i]));
        if (!rc)
            rc = mill_buf_addf(out, ",\"sha256\":\"%s\"}", c->sha256[i]);
    }
    if (!rc)
        rc = mill_buf_addf(out,
                           "],\"converted_type\":\"%s\",\"converted_reused\":%s,"
                           "\"convert_seconds\":%.3f",
                           mill_hf_type_name(c->type), c->reused ? "true" : "false", c->seconds);
    return rc;
}

/* ---- the Hub ----------------------------------------------------------------------------- */

static const struct mill_hub_file *listed(const struct mill_hub_listing *l, const char *path) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->files[i].path, path))
            return &l->files[i];
    return NULL;
}

bool mill_hf_listing_is_checkpoint(const struct mill_hub_listing *l) {
    return listed(l, "config.json") &&
           (listed(l, "model.safetensors") || listed(l, "model.safetensors.index.json"));
}

static int get(struct mill_hub *hub, const struct mill_hub_repo *repo,
               const struct mill_hub_listing *l, const char *path, char **local,
               struct mill_err *err) {
    const struct mill_hub_file *f = listed(l, path);
    if (!f)
        return mill_err_set(err, MILL_ENOTFOUND, "%s: the repo has no %s", repo->id, path);
    return mill_hub_download(hub, repo, path, f->sha256[0] ? f->sha256 : NULL, local, err);
}

/* The shard names of a downloaded index. */
static int index_shards(const char *path, char ***sh, size_t *n, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path, strerror(errno));
    struct mill_buf b = {0};
    char chunk[65536];
    size_t k;
    int rc = 0;
    while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = b.n + k > ((size_t)64 << 20) ? mill_err_set(err, MILL_EFORMAT, "%s is too large", path)
                                          : mill_buf_add(&b, chunk, k);
    fclose(f);
    if (!rc)
        rc = mill_hf_parse_index(b.p ? b.p : "", b.n, path, sh, n, err);
    mill_buf_free(&b);
    return rc;
}

int mill_hf_hub_checkpoint(struct mill_hub *hub, const struct mill_hub_repo *repo,
                           const struct mill_hub_listing *l, char **dir, struct mill_err *err) {
    static const char *const optional[] = {"tokenizer.json", "tokenizer_config.json",
                                           "special_tokens_map.json", "chat_template.jinja",
                                           "chat_template.json"};
    char *cfg = NULL, *local = NULL, **sh = NULL;
    size_t n_sh = 0;
    *dir = NULL;
    int rc = get(hub, repo, l, "config.json", &cfg, err);
    if (!rc && listed(l, "model.safetensors.index.json")) {
        rc = get(hub, repo, l, "model.safetensors.index.json", &local, err);
        if (!rc)
            rc = index_shards(local, &sh, &n_sh, err);
    } else if (!rc) {
        rc = get(hub, repo, l, "model.safetensors", &local, err);
    }
    for (size_t i = 0; !rc && i < n_sh; i++) {
        char *p = NULL;
        rc = get(hub, repo, l, sh[i], &p, err);
        free(p);
    }
    for (size_t i = 0; !rc && i < sizeof optional / sizeof optional[0]; i++) {
        char *p = NULL;
        if (listed(l, optional[i]))
            rc = get(hub, repo, l, optional[i], &p, err);
        free(p);
    }
    if (!rc) { /* the snapshot directory: config.json's */
        *dir = cfg;
        cfg = NULL;
        *strrchr(*dir, '/') = 0;
    }
    mill_hf_files_free(sh, n_sh);
    free(cfg);
    free(local);
    return rc;
}
