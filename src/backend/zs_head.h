/* zs_head.h: the zero-shot classification head of a contrastive backend (CLIP_benchmark's and
 * open_clip's build_zero_shot_classifier): every template filled with every label ("{c}"),
 * encoded by the backend's text tower, each embedding L2-normalised, averaged per label and
 * renormalised. A head is kept until the (labels, templates) change, and one of cache_min
 * captions or more (a class set, not one question's options) is cached on disk under
 * <cache_dir>/<sub>/<sha256(weights sha, labels, templates)>.bin. The backend supplies the text
 * encoder and the scoring of a batch as callbacks; the request loop of its run() and its
 * provenance are here too. This file knows requests, not models. */
#ifndef MILL_BACKEND_ZS_HEAD_H
#define MILL_BACKEND_ZS_HEAD_H

#include <mill/backend.h>

#include <stdbool.h>
#include <stddef.h>

/* Encodes n texts into n L2-normalised dim-vectors at out. */
typedef int (*mill_zs_encode_fn)(void *ctx, const char *const *texts, size_t n, float *out,
                                 struct mill_err *err);

struct mill_zs_source {
    const char *cache_dir;        /* Mill's cache directory, or NULL for the default */
    const char *sub;              /* the cache's subdirectory ("clap_heads") */
    const char *weights_sha;      /* hex SHA-256 of the weights: part of the cache key */
    const char *text_key;         /* the text side, part of the key too (mill_zs_text_key): a fixed
                           * tokenizer or other tokenizer files never reuse an old head */
    const char *default_template; /* when a request carries no templates */
    const char *log_tag;          /* for the "building a head" line */
    int dim;                      /* embedding width */
    size_t chunk;                 /* texts per encode call */
    size_t cache_min;             /* captions (labels x templates) a head needs to be cached */
    mill_zs_encode_fn encode;
    void *ctx;
};

struct mill_zs_head {
    char **labels, **templates; /* what it was built for (owned) */
    size_t n_labels, n_templates;
    float *w; /* n_labels x dim, L2-normalised rows */
};

/* Whether h was built for q's labels and templates. */
bool mill_zs_head_matches(const struct mill_zs_head *h, const struct mill_zs_source *src,
                          const struct mill_request *q);
/* Makes *h the head of q: kept when it matches, read from the disk cache, or built. */
int mill_zs_head_get(struct mill_zs_head *h, const struct mill_zs_source *src,
                     const struct mill_request *q, struct mill_err *err);
/* Scores of one dim-vector: scale * (emb . w[l]) for every label, into out. */
void mill_zs_head_scores(const struct mill_zs_head *h, int dim, const float *emb, float scale,
                         double *out);
void mill_zs_head_free(struct mill_zs_head *h);
/* Gives each request reqs[ok[j]] (j < k) its scores of row j of emb (k x dim). */
int mill_zs_head_score_rows(const struct mill_zs_head *h, int dim, const float *emb, float scale,
                            struct mill_request *reqs, const size_t *ok, size_t k,
                            struct mill_err *err);

/* Scores the requests idx[0..k) of reqs, all of one head (the backend's batch). */
typedef int (*mill_zs_batch_fn)(void *ctx, struct mill_request *reqs, const size_t *idx, size_t k,
                                struct mill_err *err);

/* A contrastive backend's run(): fails what is not a CLASSIFY request with labels, gathers the
 * others into batches of up to chunk (idx holds chunk indices) that share one head, and scores
 * each batch with batch(src->ctx, ...) once *h is its head. */
int mill_zs_run(struct mill_zs_head *h, const struct mill_zs_source *src, struct mill_request *reqs,
                size_t n, size_t *idx, size_t chunk, mill_zs_batch_fn batch, struct mill_err *err);
/* Into out (cap bytes): "<tag> ctx <context> <sha256 of each of files that exists>", the
 * text_key of a backend whose tokenizer is version tag (bump it with any change of what the
 * tokenizer gives) reading those files (full paths; NULL-terminated). MILL_EIO. */
int mill_zs_text_key(const char *cache_dir, const char *tag, int context, const char *const *files,
                     char *out, size_t cap, struct mill_err *err);
/* The provenance of a contrastive backend: "checkpoint_dir":dir,"weights_sha256":sha. */
int mill_zs_provenance(const char *dir, const char *weights_sha, struct mill_buf *out);

#endif
