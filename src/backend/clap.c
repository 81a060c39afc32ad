/* clap.c: the `clap` backend (alias hf_clap): zero-shot audio classification with an HF
 * ClapModel checkpoint (laion/clap-htsat-unfused) on our ggml graph (src/model/clap).
 *
 * A CLASSIFY request's labels and templates make a zero-shot head (zs_head.h; one of 8
 * captions or more is cached on disk under <cache_dir>/clap_heads, as the clip backend's are
 * under clip_heads). The request's first audio medium is decoded to mono at the feature
 * extractor's rate (48 kHz) with libsndfile and libsoxr (as librosa), turned into log-mel
 * features as transformers' ClapFeatureExtractor does with the checkpoint's
 * preprocessor_config.json (a short clip zero-padded, as Python Mill's padding=True makes the
 * extractor do), and encoded by the HTSAT tower; the scores are exp(logit_scale_a) * audio .
 * class weight, as ClapModel's logits_per_audio.
 *
 * The random crop of a clip longer than max_length_s (truncation rand_trunc): transformers
 * draws it from numpy's global state (np.random.randint(0, overflow + 1)), which Python Mill
 * seeds with --seed at the start of each task, so the k-th long clip of a task takes the k-th
 * draw of RandomState(seed). Ours draws the same: the clips are decoded in parallel, their
 * crops drawn in doc order from one RandomState per task, reseeded when the task (or a new pass
 * over it) begins; a window of clips at a time is held decoded. A pass that does not start at
 * doc 0 or skips a doc (a resumed job) draws otherwise than an uninterrupted run: said once, at
 * the first crop it changes, and in the provenance (BEHAVIOUR.md §5.2a), which also records the
 * rule, the seed and how many clips were cropped.
 * This file knows requests (their task name and doc id), not tasks. */
#include "backend/backends.h"

#include "backend/zs_head.h"
#include "core/hashcache.h"
#include "core/log.h"
#include "core/nprandom.h"
#include "core/spec.h"
#include "core/thread.h"
#include "data/audio.h"
#include "data/hub.h"
#include "model/clap/clap.h"
#include "model/clap/clap_tok.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Heads of this many captions or more go to the disk cache: UrbanSound8K's 10 classes do,
 * Clotho-AQA's two captions per question do not. */
#define HEAD_CACHE_MIN 8
/* The CLAP tokenizer's version in the zero-shot heads' cache key: bump it with any change of
 * the ids it gives. */
#define CLAP_TOKENIZER_VERSION "clap-tokenizer-1"
#define CROP_RULE \
    "numpy RandomState(seed) per task: the k-th long clip takes the k-th randint(0, overflow + 1)"

struct clapb {
    char *path, *prompt_template;
    char *cache_dir;
    int64_t batch, threads;
    char *dir;
    char weights_sha[65];
    char text_key[512]; /* mill_zs_text_key */
    struct mill_clap_model *model;
    struct mill_clap_tok *tok;
    struct mill_clap_fe *fe;
    int dim, frames, n_mels, stride;
    struct mill_zs_head head;
    struct mill_zs_source src;
    float *feats, *emb; /* one batch: batch x frames x n_mels, batch x dim */
    size_t *idx;
    int64_t n_encoded, n_cropped; /* since the last provenance call */
    /* The crops: --seed, the task drawing, the doc after its last request, numpy's state, and
     * whether the draws are an uninterrupted run's (crop_order, crop_draw). */
    int64_t seed;
    char *crop_task; /* NULL: the next request starts a pass */
    int64_t crop_next;
    struct mill_nprandom crop_rng;
    bool crop_broken;   /* this pass did not start at doc 0, or skipped a doc */
    bool crop_in_order; /* every crop of this job was drawn as an uninterrupted run draws it */
};

/* clang-format off */
#define F(x) offsetof(struct clapb, x)
static const struct mill_backend_arg clap_args[] = {
    {"path", MILL_ARG_STR, F(path), NULL, "checkpoint directory or Hub repo (laion/clap-htsat-unfused)", 0, 0},
    {"batch_size", MILL_ARG_INT, F(batch), "32", "clips per forward pass", 1, 1024},
    {"threads", MILL_ARG_INT, F(threads), "(CPUs)", "CPU threads", 1, 4096},
    {"prompt_template", MILL_ARG_STR, F(prompt_template), "This is a sound of {c}.", "the "
     "template when a task gives none", 0, 0},
    {"dtype", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs (the checkpoint's dtype is used)", 0, 0},
    {"device", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs", 0, 0},
    {"modality", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs (always audio)", 0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
#undef F
/* clang-format on */

static void clap_close(void *state);

static int clap_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct clapb *c = calloc(1, sizeof *c);
    if (!c)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cpus > 0 ? cpus : 1;
    c->seed = spec->seed;
    c->crop_in_order = true;
    if (c->seed < 0 || c->seed > UINT32_MAX)
        MILL_WARN("clap",
                  "--seed %" PRId64
                  " is outside [0, 2**32), which numpy (and so Python Mill) refuses; its "
                  "low 32 bits seed the crops of long clips",
                  c->seed);
    int rc = mill_spec_apply_args(spec, clap_args, c, err);
    if (!rc && (!c->path || !*c->path))
        rc = mill_err_set(err, MILL_EINVAL,
                          "model spec '%s': clap needs path=<directory or Hub repo>", spec->raw);
    if (!rc && spec->cache_dir && !(c->cache_dir = strdup(spec->cache_dir)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        clap_close(c);
        return rc;
    }
    *state = c;
    return 0;
}

static void clap_caps(void *state, struct mill_backend_caps *out) {
    (void)state;
    memset(out, 0, sizeof *out);
    out->req_kinds = 1u << MILL_REQ_CLASSIFY;
    out->task_types = 1u << MILL_TASK_ZERO_SHOT_CLASSIFICATION;
    out->modalities = MILL_MOD_AUDIO | MILL_MOD_TEXT;
    out->max_context_length = 512;
    out->class_name = "HFContrastiveModel";
}

static const char *clap_model_name(void *state) { return ((struct clapb *)state)->path; }

/* ---- checkpoint resolution ------------------------------------------------------------- */

static bool listed(const struct mill_hub_listing *l, const char *path) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->files[i].path, path))
            return true;
    return false;
}

/* Downloads a Hub repo's checkpoint files; c->dir becomes their snapshot directory. */
static int fetch_checkpoint(struct clapb *c, struct mill_err *err) {
    static const char *const files[] = {
        "config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
        "vocab.json",  "merges.txt",        "tokenizer_config.json",    NULL};
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    struct mill_hub_listing l = {0};
    struct mill_hub_repo r = {MILL_HUB_MODEL, c->path, NULL};
    int rc = mill_hub_init(&hub, &hp, err);
    if (!rc)
        rc = mill_hub_list(hub, &r, NULL, &l, err);
    if (!rc && !(listed(&l, files[0]) && listed(&l, files[1]) && listed(&l, files[2])))
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "%s holds no config.json + model.safetensors + "
                          "preprocessor_config.json (a transformers ClapModel checkpoint)",
                          c->path);
    struct mill_hub_repo at = {MILL_HUB_MODEL, c->path, l.commit[0] ? l.commit : NULL};
    for (size_t i = 0; !rc && files[i]; i++) {
        char *local = NULL;
        if (!listed(&l, files[i]))
            continue;
        rc = mill_hub_download(hub, &at, files[i], NULL, &local, err);
        if (!rc && !c->dir && local) {
            *strrchr(local, '/') = 0;
            c->dir = local;
            local = NULL;
        }
        free(local);
    }
    mill_hub_listing_free(&l);
    mill_hub_free(hub);
    return rc;
}

/* The feature extractor of the checkpoint's preprocessor_config.json. */
static int load_front_end(struct clapb *c, struct mill_err *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/preprocessor_config.json", c->dir);
    struct mill_buf b = {0};
    struct mill_value cfg = {0};
    struct mill_clap_fe_params fp = mill_clap_fe_default_params();
    FILE *f = fopen(p, "rb");
    if (!f)
        return mill_err_set(err, MILL_ENOTFOUND,
                            "%s: cannot open (the feature extractor's "
                            "settings)",
                            p);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = b.n + n > ((size_t)1 << 20)  ? mill_err_set(err, MILL_EFORMAT, "%s: over 1 MiB", p)
             : mill_buf_add(&b, chunk, n) ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                                          : 0;
    fclose(f);
    if (!rc && !(rc = mill_value_from_json(&cfg, b.p ? b.p : "", b.n, err)))
        rc = mill_clap_fe_params_from_json(&cfg, p, &fp, err);
    /* Python Mill calls the processor with padding=True, which the extractor keeps over the
     * checkpoint's "padding" and which is none of "repeat"/"repeatpad": zeros after the clip */
    fp.padding = MILL_CLAP_PAD;
    if (!rc && (rc = mill_clap_fe_init(&fp, &c->fe, err)) != 0)
        mill_err_prefix(err, "%s", p);
    mill_value_free(&cfg);
    mill_buf_free(&b);
    return rc;
}

/* The front end and the model must agree on the features' shape. */
static int check_shapes(struct clapb *c, struct mill_err *err) {
    const struct mill_clap_hparams *h = mill_clap_hparams(c->model);
    c->dim = h->proj_dim;
    c->frames = mill_clap_fe_frames(c->fe);
    c->n_mels = mill_clap_fe_params(c->fe)->n_mels;
    int len = mill_clap_tok_max_length(c->tok), pos = h->max_pos - h->pad_id - 1;
    c->stride = len < pos ? len : pos;
    if (c->n_mels != h->n_mels || c->frames > mill_clap_max_frames(c->model))
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: preprocessor_config.json makes %d x %d features; the audio "
                            "tower takes %d mel bins and at most %d frames",
                            c->dir, c->frames, c->n_mels, h->n_mels,
                            mill_clap_max_frames(c->model));
    return c->stride >= 2 ? 0
                          : mill_err_set(err, MILL_EFORMAT, "%s: a text context of %d tokens",
                                         c->dir, c->stride);
}

static int encode_texts(void *ctx, const char *const *texts, size_t n, float *out,
                        struct mill_err *err);

static int clap_load(void *state, struct mill_err *err) {
    struct clapb *c = state;
    struct stat st;
    int rc = 0;
    if (stat(c->path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = (c->dir = strdup(c->path)) ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    else if (!(rc = mill_backend_check_dir_path("clap", c->path, err)))
        rc = fetch_checkpoint(c, err);
    struct mill_clap_params p = mill_clap_default_params();
    p.threads = (int)c->threads;
    p.max_batch = (int)c->batch;
    char w[4096];
    snprintf(w, sizeof w, "%s/model.safetensors", c->dir ? c->dir : ".");
    if (!rc)
        rc = mill_clap_load(c->dir, &p, &c->model, err);
    if (!rc)
        rc = mill_clap_tok_load(c->dir, &c->tok, err);
    if (!rc)
        rc = load_front_end(c, err);
    if (!rc)
        rc = check_shapes(c, err);
    if (!rc)
        rc = mill_sha256_file_cached(c->cache_dir, w, c->weights_sha, err);
    const char *dir = c->dir ? c->dir : ".";
    char tf[4][4096];
    const char *names[] = {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json"};
    const char *files[5] = {tf[0], tf[1], tf[2], tf[3], NULL};
    for (int i = 0; i < 4; i++)
        snprintf(tf[i], sizeof tf[i], "%s/%s", dir, names[i]);
    if (!rc && c->tok)
        rc =
            mill_zs_text_key(c->cache_dir, CLAP_TOKENIZER_VERSION, mill_clap_tok_max_length(c->tok),
                             files, c->text_key, sizeof c->text_key, err);
    c->src = (struct mill_zs_source){.cache_dir = c->cache_dir,
                                     .sub = "clap_heads",
                                     .weights_sha = c->weights_sha,
                                     .text_key = c->text_key,
                                     .default_template = c->prompt_template,
                                     .log_tag = "clap",
                                     .dim = c->dim,
                                     .chunk = 16 * (size_t)c->batch,
                                     .cache_min = HEAD_CACHE_MIN,
                                     .encode = encode_texts,
                                     .ctx = c};
    return rc;
}

/* ---- text -------------------------------------------------------------------------------- */

/* Tokenises and encodes n captions (zs_head's encoder). */
static int encode_texts(void *ctx, const char *const *texts, size_t n, float *out,
                        struct mill_err *err) {
    struct clapb *c = ctx;
    int32_t *ids = malloc(n * (size_t)c->stride * sizeof *ids);
    int *lens = malloc(n * sizeof *lens);
    int rc = ids && lens ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++)
        rc = mill_clap_tok_encode(c->tok, texts[i], ids + i * c->stride, c->stride, &lens[i], err);
    if (!rc)
        rc = mill_clap_encode_texts(c->model, ids, lens, c->stride, (int)n, out, err);
    free(ids);
    free(lens);
    return rc;
}

/* ---- audio ------------------------------------------------------------------------------- */

/* Request q's place in the crops' order: a task's first request (a new task, or an earlier doc
 * than the last: a new pass) reseeds numpy's state with --seed, as Python Mill's np.random.seed
 * at a task's start. A pass that does not start at doc 0 (a resumed job) or skips a doc (a
 * failed sample redone, a doc without a request) draws otherwise than an uninterrupted run:
 * crop_draw says so once, at the first crop it changes. */
static int crop_order(struct clapb *c, const struct mill_request *q) {
    const char *task = q->task ? q->task : "";
    if (c->crop_task && !strcmp(task, c->crop_task) && q->doc_id >= c->crop_next) {
        c->crop_broken |= q->doc_id > c->crop_next;
        c->crop_next = q->doc_id + 1;
        return 0;
    }
    free(c->crop_task);
    if (!(c->crop_task = strdup(task)))
        return MILL_ENOMEM;
    mill_nprandom_seed(&c->crop_rng, (uint32_t)c->seed); /* numpy: 0 <= seed < 2**32 */
    c->crop_next = q->doc_id + 1;
    c->crop_broken = q->doc_id != 0;
    return 0;
}

/* The crop of a clip overflow samples too long, from the pass's state. */
static size_t crop_draw(struct clapb *c, const struct mill_request *q, size_t overflow) {
    if (c->crop_broken && c->crop_in_order) {
        c->crop_in_order = false;
        MILL_WARN("clap",
                  "%s doc %" PRId64 ": the docs before it were not all run in this pass (a "
                  "resumed job, a failed sample redone, or a doc without a request), so the crops "
                  "of long clips from here on are not the ones an uninterrupted run (and Python "
                  "Mill) draws; rerun the task from its first doc for those",
                  c->crop_task, q->doc_id);
    }
    return (size_t)mill_nprandom_interval(&c->crop_rng, overflow);
}

/* One clip of a chunk: decoded, then cropped and turned into features. */
struct clip {
    struct mill_audio a;
    struct mill_err e;
    size_t crop;
    bool ok, cropped; /* decoded (then featurised); longer than max_length_s */
};

/* The request's first audio clip decoded at the extractor's rate into cl; a bad clip fails
 * the request (the sample is reported and counted), never the run. */
static void decode_clip(struct clapb *c, struct mill_request *q, struct clip *cl) {
    const struct mill_media *m = NULL;
    for (size_t i = 0; i < q->n_media && !m; i++)
        if (q->media[i].kind == MILL_MOD_AUDIO && q->media[i].data)
            m = &q->media[i];
    int rate = mill_clap_fe_params(c->fe)->sampling_rate;
    if (!m)
        mill_err_set(&cl->e, MILL_EINVAL, "the request carries no audio");
    else if (!mill_audio_decode(m->data, m->n, rate, &cl->a, &cl->e) && cl->a.n == 0)
        mill_err_set(&cl->e, MILL_EFORMAT, "audio: a clip of zero length");
    cl->ok = !cl->e.code;
}

/* Clip preparation spread over the backend's threads: worker t takes clips t, t + nt, ... of a
 * window; in the first pass it decodes them, in the second it makes their features (clip i of
 * the window into feats row base + i). */
struct prep {
    struct clapb *c;
    struct mill_request *reqs;
    const size_t *idx;
    size_t n, nt, t, base;
    struct clip *clips;
    bool features;
};

static void *prep_worker(void *arg) {
    struct prep *p = arg;
    size_t per = (size_t)p->c->frames * p->c->n_mels;
    for (size_t i = p->t; i < p->n; i += p->nt) {
        struct clip *cl = &p->clips[i];
        if (!p->features)
            decode_clip(p->c, &p->reqs[p->idx[i]], cl);
        else if (cl->ok)
            cl->ok = mill_clap_features(p->c->fe, cl->a.samples, cl->a.n, cl->crop,
                                        p->c->feats + (p->base + i) * per, &cl->e) == 0;
    }
    return NULL;
}

enum { MAX_PREP = 16 };

/* How many threads prepare clips: the backend's, at most MAX_PREP. */
static size_t prep_threads(const struct clapb *c) {
    return (size_t)(c->threads < MAX_PREP ? (c->threads > 0 ? c->threads : 1) : MAX_PREP);
}

/* Runs one pass of prep_worker over the window idx[0..n) (rows base..) on up to nt threads. */
static void prep_pass(struct clapb *c, struct mill_request *reqs, const size_t *idx, size_t n,
                      size_t base, struct clip *clips, bool features) {
    size_t nt = prep_threads(c);
    nt = nt > n ? n : nt;
    struct prep w[MAX_PREP];
    for (size_t t = 0; t < nt; t++)
        w[t] = (struct prep){c, reqs, idx, n, nt, t, base, clips, features};
    mill_fork_join(prep_worker, w, sizeof *w, nt);
}

/* Prepares clips idx[0..n) into c->feats, packed, a window of prep_threads() at a time (so at
 * most that many decoded clips are held): decoded in parallel, cropped in doc order
 * (crop_order, crop_draw), features in parallel. Their request indices go to ok_idx; returns
 * how many succeeded (the others' requests failed), or -1 when out of memory. */
static ptrdiff_t prepare_chunk(struct clapb *c, struct mill_request *reqs, const size_t *idx,
                               size_t n, size_t *ok_idx) {
    size_t per = (size_t)c->frames * c->n_mels, k = 0, win = prep_threads(c);
    struct clip *clips = calloc(win, sizeof *clips);
    if (!clips)
        return -1;
    for (size_t s = 0; s < n; s += win) {
        size_t m = n - s < win ? n - s : win;
        memset(clips, 0, m * sizeof *clips);
        prep_pass(c, reqs, idx + s, m, s, clips, false);
        bool oom = false;
        for (size_t i = 0; i < m && !oom; i++) {
            oom = crop_order(c, &reqs[idx[s + i]]) != 0;
            size_t over = clips[i].ok ? mill_clap_fe_overflow(c->fe, clips[i].a.n) : 0;
            clips[i].cropped = over > 0;
            if (over && !oom)
                clips[i].crop = crop_draw(c, &reqs[idx[s + i]], over);
        }
        if (!oom)
            prep_pass(c, reqs, idx + s, m, s, clips, true);
        for (size_t i = 0; i < m; i++) {
            struct clip *cl = &clips[i];
            if (oom) {
                mill_request_fail(&reqs[idx[s + i]], MILL_ENOMEM, "out of memory");
            } else if (!cl->ok) {
                mill_request_fail(&reqs[idx[s + i]], cl->e.code ? cl->e.code : MILL_EFORMAT, "%s",
                                  cl->e.msg);
            } else {
                if (k != s + i)
                    memmove(c->feats + k * per, c->feats + (s + i) * per, per * sizeof *c->feats);
                ok_idx[k++] = idx[s + i];
                c->n_cropped += cl->cropped;
            }
            mill_audio_free(&cl->a);
        }
    }
    free(clips);
    return (ptrdiff_t)k;
}

/* Encodes the clips of requests idx[0..n) and scores them against the current head. */
static int classify_chunk(void *ctx, struct mill_request *reqs, const size_t *idx, size_t n,
                          struct mill_err *err) {
    struct clapb *c = ctx;
    size_t *ok = malloc((n ? n : 1) * sizeof *ok);
    ptrdiff_t k = ok ? prepare_chunk(c, reqs, idx, n, ok) : -1;
    int rc = k < 0    ? mill_err_set(err, MILL_ENOMEM, "out of memory")
             : k == 0 ? 0
                      : mill_clap_encode_audio(c->model, c->feats, c->frames, (int)k, c->emb, err);
    float scale = c->model ? mill_clap_logit_scale(c->model) : 1.0f;
    if (!rc && k > 0 &&
        !(rc = mill_zs_head_score_rows(&c->head, c->dim, c->emb, scale, reqs, ok, (size_t)k, err)))
        c->n_encoded += k;
    free(ok);
    return rc;
}

static int clap_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct clapb *c = state;
    size_t chunk = (size_t)c->batch;
    if (!c->feats)
        c->feats = malloc(chunk * c->frames * c->n_mels * sizeof *c->feats);
    if (!c->emb)
        c->emb = malloc(chunk * c->dim * sizeof *c->emb);
    if (!c->idx)
        c->idx = malloc(chunk * sizeof *c->idx);
    if (!c->feats || !c->emb || !c->idx)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return mill_zs_run(&c->head, &c->src, reqs, n, c->idx, chunk, classify_chunk, err);
}

static int clap_provenance(void *state, struct mill_buf *out) {
    struct clapb *c = state;
    mill_zs_provenance(c->dir, c->weights_sha, out);
    mill_buf_adds(out, ",\"audio_crop\":");
    mill_buf_add_json_str(out, CROP_RULE, strlen(CROP_RULE));
    int rc = mill_buf_addf(out,
                           ",\"audio_crop_seed\":%" PRIu32 ",\"audio_crop_in_order\":%s"
                           ",\"clips_encoded\":%" PRId64 ",\"clips_cropped\":%" PRId64,
                           (uint32_t)c->seed, c->crop_in_order ? "true" : "false", c->n_encoded,
                           c->n_cropped);
    c->n_encoded = c->n_cropped = 0;
    free(c->crop_task); /* the next job's first request starts a pass */
    c->crop_task = NULL;
    c->crop_in_order = true;
    return rc;
}

static void clap_close(void *state) {
    struct clapb *c = state;
    if (!c)
        return;
    mill_zs_head_free(&c->head);
    free(c->crop_task);
    mill_clap_tok_free(c->tok);
    mill_clap_fe_free(c->fe);
    mill_clap_free(c->model);
    mill_spec_free_args(clap_args, c);
    free(c->cache_dir);
    free(c->dir);
    free(c->feats);
    free(c->emb);
    free(c->idx);
    free(c);
}

static const char *const clap_aliases[] = {"hf_clap", NULL};

const struct mill_backend_ops mill_backend_clap = {
    .name = "clap",
    .aliases = clap_aliases,
    .args = clap_args,
    .open = clap_open,
    .caps = clap_caps,
    .model_name = clap_model_name,
    .load = clap_load,
    .run = clap_run,
    .provenance = clap_provenance,
    .close = clap_close,
};
