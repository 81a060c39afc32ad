/* zs_head.c: zero-shot heads of contrastive backends, built, kept and cached on disk
 * (zs_head.h). The cache file: "MILLHEAD", a uint64 count of floats, the floats; a file of
 * another size or magic is ignored and rebuilt. */
#include "backend/zs_head.h"

#include "core/cache.h"
#include "core/hashcache.h"
#include "core/log.h"
#include "core/sha2.h"
#include "core/text.h"

#include <mill/buf.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool same_list(char *const *have, size_t n_have, const char *const *want, size_t n) {
    if (n_have != n || (n && !have))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(have[i], want[i]))
            return false;
    return true;
}

static char **copy_list(const char *const *v, size_t n) {
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(v[i]))) {
            while (i)
                free(out[--i]);
            free(out);
            return NULL;
        }
    return out;
}

/* The request's templates, or the backend's default as a one-item list in one[]. */
static const char *const *templates_of(const struct mill_zs_source *src,
                                       const struct mill_request *q, const char *one[2],
                                       size_t *n) {
    one[0] = src->default_template;
    one[1] = NULL;
    *n = q->n_templates ? q->n_templates : 1;
    return q->n_templates ? q->templates : one;
}

bool mill_zs_head_matches(const struct mill_zs_head *h, const struct mill_zs_source *src,
                          const struct mill_request *q) {
    const char *one[2];
    size_t nt;
    const char *const *t = templates_of(src, q, one, &nt);
    return same_list(h->labels, h->n_labels, q->labels, q->n_labels) &&
           same_list(h->templates, h->n_templates, t, nt);
}

void mill_zs_head_free(struct mill_zs_head *h) {
    for (size_t i = 0; h->labels && i < h->n_labels; i++)
        free(h->labels[i]);
    for (size_t i = 0; h->templates && i < h->n_templates; i++)
        free(h->templates[i]);
    free(h->labels);
    free(h->templates);
    free(h->w);
    memset(h, 0, sizeof *h);
}

int mill_zs_text_key(const char *cache_dir, const char *tag, int context, const char *const *files,
                     char *out, size_t cap, struct mill_err *err) {
    int n = snprintf(out, cap, "%s ctx %d", tag, context);
    for (size_t i = 0; files[i] && n > 0 && (size_t)n < cap; i++) {
        char hex[65];
        if (access(files[i], F_OK) != 0)
            continue;
        int rc = mill_sha256_file_cached(cache_dir, files[i], hex, err);
        if (rc)
            return rc;
        n += snprintf(out + n, cap - (size_t)n, " %s", hex);
    }
    return n > 0 && (size_t)n < cap ? 0 : mill_err_set(err, MILL_EINVAL, "text key too long");
}

/* <cache>/<sub>/<sha256(weights sha, text key, labels, templates)>.bin */
static char *head_path(const struct mill_zs_source *src, const struct mill_zs_head *h) {
    struct mill_sha256 s;
    mill_sha256_init(&s);
    mill_sha256_update(&s, src->weights_sha, strlen(src->weights_sha));
    if (src->text_key)
        mill_sha256_update(&s, src->text_key, strlen(src->text_key) + 1);
    for (size_t i = 0; i < h->n_labels; i++)
        mill_sha256_update(&s, h->labels[i], strlen(h->labels[i]) + 1);
    mill_sha256_update(&s, "\x01", 1);
    for (size_t i = 0; i < h->n_templates; i++)
        mill_sha256_update(&s, h->templates[i], strlen(h->templates[i]) + 1);
    uint8_t d[32];
    char name[70];
    mill_sha256_final(&s, d);
    mill_hex(d, 32, name);
    memcpy(name + 64, ".bin", 5);
    return mill_cache_path(src->cache_dir, src->sub, name);
}

static bool read_head(const char *path, float *w, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[8];
    uint64_t count = 0;
    bool ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "MILLHEAD", 8) &&
              fread(&count, sizeof count, 1, f) == 1 && count == n &&
              fread(w, sizeof *w, n, f) == n && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static void write_head(const char *path, const float *w, size_t n) {
    uint64_t count = n;
    char *tmp;
    FILE *f = mill_cache_create(path, &tmp);
    mill_cache_commit(f, tmp, path,
                      f && fwrite("MILLHEAD", 1, 8, f) == 8 &&
                          fwrite(&count, sizeof count, 1, f) == 1 &&
                          fwrite(w, sizeof *w, n, f) == n);
}

static void normalise_rows(float *w, size_t rows, int dim) {
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (int d = 0; d < dim; d++)
            s += (double)w[r * dim + d] * w[r * dim + d];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.f;
        for (int d = 0; d < dim; d++)
            w[r * dim + d] *= inv;
    }
}

/* Encodes every template x label caption, chunk by chunk, summing per label. */
static int compute_head(const struct mill_zs_source *src, struct mill_zs_head *h,
                        struct mill_err *err) {
    size_t nl = h->n_labels, nt = h->n_templates, total = nl * nt, dim = (size_t)src->dim;
    size_t chunk = src->chunk < total ? src->chunk : total ? total : 1;
    char **texts = calloc(chunk, sizeof *texts);
    float *emb = malloc(chunk * dim * sizeof *emb);
    int rc = texts && emb ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    memset(h->w, 0, nl * dim * sizeof *h->w);
    for (size_t start = 0; !rc && start < total; start += chunk) {
        size_t n = total - start < chunk ? total - start : chunk;
        for (size_t k = 0; !rc && k < n; k++)
            if (!(texts[k] = mill_str_replace(h->templates[(start + k) % nt], "{c}",
                                              h->labels[(start + k) / nt])))
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (!rc)
            rc = src->encode(src->ctx, (const char *const *)texts, n, emb, err);
        for (size_t k = 0; !rc && k < n; k++)
            for (size_t d = 0; d < dim; d++)
                h->w[(start + k) / nt * dim + d] += emb[k * dim + d];
        for (size_t k = 0; k < n; k++) {
            free(texts[k]);
            texts[k] = NULL;
        }
    }
    if (!rc)
        normalise_rows(h->w, nl, src->dim);
    free(texts);
    free(emb);
    return rc;
}

int mill_zs_head_get(struct mill_zs_head *h, const struct mill_zs_source *src,
                     const struct mill_request *q, struct mill_err *err) {
    if (mill_zs_head_matches(h, src, q))
        return 0;
    mill_zs_head_free(h);
    const char *one[2];
    size_t nt, n = q->n_labels * (size_t)src->dim;
    const char *const *tmpl = templates_of(src, q, one, &nt);
    struct mill_zs_head nh = {copy_list(q->labels, q->n_labels), copy_list(tmpl, nt), q->n_labels,
                              nt, malloc((n ? n : 1) * sizeof(float))};
    char *path = nh.labels && nh.templates ? head_path(src, &nh) : NULL;
    int rc = path && nh.w ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    /* A few captions (one question's options) cost less to build than a file per doc. */
    bool big = q->n_labels * nt >= src->cache_min;
    if (!rc && !(big && read_head(path, nh.w, n))) {
        if (big)
            MILL_INFO(src->log_tag, "building a zero-shot head: %zu classes x %zu templates",
                      q->n_labels, nt);
        if (!(rc = compute_head(src, &nh, err)) && big)
            write_head(path, nh.w, n);
    }
    free(path);
    if (rc)
        mill_zs_head_free(&nh);
    else
        *h = nh;
    return rc;
}

void mill_zs_head_scores(const struct mill_zs_head *h, int dim, const float *emb, float scale,
                         double *out) {
    for (size_t l = 0; l < h->n_labels; l++) {
        double dot = 0;
        for (int d = 0; d < dim; d++)
            dot += (double)emb[d] * h->w[l * (size_t)dim + d];
        out[l] = scale * dot;
    }
}

int mill_zs_head_score_rows(const struct mill_zs_head *h, int dim, const float *emb, float scale,
                            struct mill_request *reqs, const size_t *ok, size_t k,
                            struct mill_err *err) {
    size_t nl = h->n_labels;
    for (size_t j = 0; j < k; j++) {
        struct mill_request *q = &reqs[ok[j]];
        if (!(q->scores = malloc((nl ? nl : 1) * sizeof *q->scores)))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        mill_zs_head_scores(h, dim, emb + j * (size_t)dim, scale, q->scores);
    }
    return 0;
}

int mill_zs_run(struct mill_zs_head *h, const struct mill_zs_source *src, struct mill_request *reqs,
                size_t n, size_t *idx, size_t chunk, mill_zs_batch_fn batch, struct mill_err *err) {
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; !rc && i <= n; i++) {
        bool flush = i == n || k == chunk;
        if (!flush && reqs[i].kind == MILL_REQ_CLASSIFY && !mill_zs_head_matches(h, src, &reqs[i]))
            flush = true; /* the head changes: finish the pending requests first */
        if (flush && k) {
            rc = batch(src->ctx, reqs, idx, k, err);
            k = 0;
        }
        if (rc || i == n)
            break;
        if (reqs[i].kind != MILL_REQ_CLASSIFY) {
            mill_request_fail(&reqs[i], MILL_EUNSUPPORTED, "%s answers classification only",
                              src->log_tag);
            continue;
        }
        if (reqs[i].n_labels == 0) {
            mill_request_fail(&reqs[i], MILL_EINVAL, "the request has no labels");
            continue;
        }
        if ((rc = mill_zs_head_get(h, src, &reqs[i], err)) == 0)
            idx[k++] = i;
    }
    return rc;
}

int mill_zs_provenance(const char *dir, const char *weights_sha, struct mill_buf *out) {
    mill_buf_adds(out, "\"checkpoint_dir\":");
    mill_buf_add_json_str(out, dir ? dir : "", dir ? strlen(dir) : 0);
    return mill_buf_addf(out, ",\"weights_sha256\":\"%s\"", weights_sha);
}
