/* clip.c: the `clip` backend (aliases open_clip, openclip, hf_clip, transformers_clip): zero-shot
 * classification with a contrastive CLIP model on our ggml graph (src/model/clip).
 *
 * A CLASSIFY request's labels and templates make a zero-shot head as open_clip and CLIP_benchmark
 * build it (zs_head.h): every template filled with every label, encoded, each embedding
 * normalised, averaged per label, renormalised. A head is built once per (model, labels,
 * templates) and, when it has 64 captions or more (a class set, not one question's options),
 * cached on disk under <cache_dir>/clip_heads. Images are decoded and preprocessed as open_clip
 * does (Pillow-exact resize + centre crop, the checkpoint's mean/std). This file knows requests,
 * not tasks. */
#include "backend/backends.h"

#include "backend/zs_head.h"
#include "core/hashcache.h"
#include "core/log.h"
#include "core/spec.h"
#include "core/thread.h"
#include "data/hub.h"
#include "data/image.h"
#include "model/clip/clip.h"
#include "model/clip/ftfy.h"
#include "model/clip/tokenizer.h"

#include <mill/buf.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A small head (a few captions, e.g. MMMU-Pro's per-question options) costs less to build than
 * a file per doc in the cache: only heads of this many captions or more (a dataset's class set
 * times its templates) go to disk. */
#define HEAD_CACHE_MIN 64
/* The CLIP tokenizer's version in the zero-shot heads' cache key: bump it with any change of
 * the ids it gives. */
/* 2: every HTML5 entity; 3: ftfy.fix_text for open_clip checkpoints */
#define CLIP_TOKENIZER_VERSION "clip-tokenizer-3"

struct clipb {
    char *path, *pretrained, *name, *prompt_template;
    char *cache_dir; /* Mill's cache directory (heads, digests), or NULL */
    int64_t batch, threads, max_ctx;
    bool hf; /* named hf_clip or transformers_clip (Python Mill's transformers class): a
              * checkpoint with both formats is read as transformers' */
    char *dir;
    int tag; /* the pretrained[] entry of path + pretrained, or -1 */
    char weights_sha[65];
    char tok_files[2][4096]; /* the tokenizer's files ("" when one is not used) */
    char text_key[512];      /* mill_zs_text_key */
    struct mill_clip_model *model;
    struct mill_clip_tokenizer *tok;
    const struct mill_clip_hparams *hp;
    struct mill_zs_head head; /* the last head used */
    struct mill_zs_source src;
    /* Buffers of one batch, kept across run() calls (38 MB of pixels at 224 px and batch 64:
     * allocating them per call made the process's RSS swing with every batch). */
    float *chw, *emb;
    size_t *idx;
};

/* open_clip pretrained tags -> Hub repositories holding open_clip_config.json and weights
 * (open_clip's pretrained.py hf_hub entries), with what open_clip takes from the tag rather
 * than from that file: create_model_and_transforms(arch, pretrained=tag) builds the built-in
 * config of arch (these five have no quick_gelu: GELU, even for the OpenAI weights, whose tag
 * says quick_gelu and draws open_clip's "QuickGELU mismatch" warning) and preprocesses with
 * the tag's mean and std (OpenAI's, or Inception's 0.5 for ViT-L-14 laion2b_s32b_b82k). */
static const struct {
    const char *arch, *tag, *repo;
    bool tag_quick_gelu, inception;
} pretrained[] = {
    {"ViT-B-32", "laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", false, false},
    {"ViT-B-32", "openai", "timm/vit_base_patch32_clip_224.openai", true, false},
    {"ViT-B-32", "datacomp_xl_s13b_b90k", "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K", false,
     false},
    {"ViT-B-16", "laion2b_s34b_b88k", "laion/CLIP-ViT-B-16-laion2B-s34B-b88K", false, false},
    {"ViT-B-16", "openai", "timm/vit_base_patch16_clip_224.openai", true, false},
    {"ViT-L-14", "laion2b_s32b_b82k", "laion/CLIP-ViT-L-14-laion2B-s32B-b82K", false, true},
    {"ViT-L-14", "openai", "timm/vit_large_patch14_clip_224.openai", true, false},
    {"ViT-H-14", "laion2b_s32b_b79k", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", false, false},
    {"ViT-g-14", "laion2b_s34b_b88k", "laion/CLIP-ViT-g-14-laion2B-s34B-b88K", false, false},
};

/* clang-format off */
#define F(x) offsetof(struct clipb, x)
static const struct mill_backend_arg clip_args[] = {
    {"path", MILL_ARG_STR, F(path), NULL, "architecture (ViT-B-32), checkpoint directory or Hub "
     "repo", 0, 0},
    {"pretrained", MILL_ARG_STR, F(pretrained), NULL, "an open_clip pretrained tag "
     "(laion2b_s34b_b79k, openai, ...)", 0, 0},
    {"batch_size", MILL_ARG_INT, F(batch), "64", "images per forward pass", 1, INT32_MAX},
    {"threads", MILL_ARG_INT, F(threads), "(CPUs)", "CPU threads", 1, 4096},
    {"prompt_template", MILL_ARG_STR, F(prompt_template), "a photo of a {c}.", "the template "
     "when a task gives none", 0, 0},
    {"max_context_length", MILL_ARG_INT, F(max_ctx), "77", "accepted and checked; the checkpoint's own text context is used", 2, INT32_MAX},
    {"dtype", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs, ignored", 0, 0},
    {"device", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs", 0, 0},
    {"modality", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's specs", 0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
#undef F
/* clang-format on */

static void clip_close(void *state);

static int clip_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct clipb *c = calloc(1, sizeof *c);
    if (!c)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    c->tag = -1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cpus > 0 ? cpus : 1;
    int rc = mill_spec_apply_args(spec, clip_args, c, err);
    const char *path = c->path, *pre = c->pretrained;
    c->hf = !strcmp(spec->type, "hf_clip") || !strcmp(spec->type, "transformers_clip");
    if (!rc && (!path || !*path))
        rc = mill_err_set(err, MILL_EINVAL,
                          "model spec '%s': clip needs path=<architecture, "
                          "directory or Hub repo>",
                          spec->raw);
    if (!rc && spec->cache_dir && !(c->cache_dir = strdup(spec->cache_dir)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && (pre ? asprintf(&c->name, "%s/%s", path, pre) : asprintf(&c->name, "%s", path)) < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        clip_close(c);
        return rc;
    }
    *state = c;
    return 0;
}

static void clip_caps(void *state, struct mill_backend_caps *out) {
    (void)state;
    memset(out, 0, sizeof *out);
    out->req_kinds = 1u << MILL_REQ_CLASSIFY;
    out->task_types = 1u << MILL_TASK_ZERO_SHOT_CLASSIFICATION;
    out->modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT;
    out->max_context_length = 77;
    out->class_name = "CLIPModel";
}

static const char *clip_model_name(void *state) { return ((struct clipb *)state)->name; }

/* ---- checkpoint resolution ------------------------------------------------------------- */

static bool exists(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static bool listed(const struct mill_hub_listing *l, const char *path) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->files[i].path, path))
            return true;
    return false;
}

/* Downloads the checkpoint files of a Hub repo (open_clip's, or transformers' with their
 * preprocessor config; both present, or for hf_clip: transformers'), and the tokenizer's where
 * listed; c->dir becomes their snapshot directory. */
static int fetch_checkpoint(struct clipb *c, const char *repo, struct mill_err *err) {
    static const char *const oc[] = {"open_clip_config.json", "open_clip_model.safetensors", NULL};
    static const char *const hf[] = {"config.json", "model.safetensors", NULL};
    static const char *const tok[] = {"vocab.json", "merges.txt", "preprocessor_config.json", NULL};
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    struct mill_hub_listing l = {0};
    struct mill_hub_repo r = {MILL_HUB_MODEL, repo, NULL};
    int rc = mill_hub_init(&hub, &hp, err);
    if (!rc)
        rc = mill_hub_list(hub, &r, NULL, &l, err);
    const char *const *want = NULL;
    bool have_oc = !rc && listed(&l, oc[1]) && listed(&l, oc[0]);
    bool have_hf = !rc && listed(&l, hf[1]) && listed(&l, hf[0]);
    if (!rc)
        want = have_hf && (c->hf || !have_oc) ? hf : have_oc && !c->hf ? oc : NULL;
    if (!rc && !want && c->hf)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "%s holds no config.json + model.safetensors (transformers' CLIP, "
                          "which hf_clip reads; open_clip's files are read by clip[path=...])",
                          repo);
    if (!rc && !want)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "%s holds neither open_clip_config.json + "
                          "open_clip_model.safetensors nor config.json + model.safetensors",
                          repo);
    struct mill_hub_repo at = {MILL_HUB_MODEL, repo, l.commit[0] ? l.commit : NULL};
    for (int pass = 0; !rc && pass < 2; pass++)
        for (size_t i = 0; !rc && (pass ? tok : want)[i]; i++) {
            const char *f = (pass ? tok : want)[i];
            char *local = NULL;
            if (pass && (!listed(&l, f) || (want == oc && !strcmp(f, tok[2]))))
                continue;
            rc = mill_hub_download(hub, &at, f, NULL, &local, err);
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

static int resolve_checkpoint(struct clipb *c, struct mill_err *err) {
    struct stat st;
    if (stat(c->path, &st) == 0 && S_ISDIR(st.st_mode))
        return (c->dir = strdup(c->path)) ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!c->pretrained) {
        int rc = mill_backend_check_dir_path("clip", c->path, err);
        return rc ? rc : fetch_checkpoint(c, c->path, err);
    }
    for (size_t i = 0; i < sizeof pretrained / sizeof pretrained[0]; i++)
        if (!strcmp(pretrained[i].arch, c->path) && !strcmp(pretrained[i].tag, c->pretrained)) {
            c->tag = (int)i;
            return fetch_checkpoint(c, pretrained[i].repo, err);
        }
    struct mill_buf known = {0};
    for (size_t i = 0; i < sizeof pretrained / sizeof pretrained[0]; i++)
        mill_buf_addf(&known, "%s%s/%s", i ? ", " : "", pretrained[i].arch, pretrained[i].tag);
    int rc = mill_err_set(err, MILL_ENOTFOUND,
                          "clip: no known checkpoint for path=%s "
                          "pretrained=%s (known: %s); pass a local directory or a Hub repo as "
                          "path=",
                          c->path, c->pretrained, known.p ? known.p : "");
    mill_buf_free(&known);
    return rc;
}

/* The BPE vocabulary: the checkpoint's vocab.json + merges.txt, else open_clip's merges file
 * shipped with Mill (data/clip/bpe_simple_vocab_16e6.txt.gz). */
static int load_tokenizer(struct clipb *c, struct mill_err *err) {
    char v[4096], m[4096];
    snprintf(v, sizeof v, "%s/vocab.json", c->dir);
    snprintf(m, sizeof m, "%s/merges.txt", c->dir);
    if (exists(c->dir, "vocab.json") && exists(c->dir, "merges.txt")) {
        snprintf(c->tok_files[0], sizeof c->tok_files[0], "%s", v);
        snprintf(c->tok_files[1], sizeof c->tok_files[1], "%s", m);
        return mill_clip_tokenizer_load_hf(v, m, &c->tok, err);
    }
    /* Where libmill is installed: <prefix>/lib/libmill.so -> <prefix>/share/mill. */
    char here[4096] = "";
    Dl_info info;
    if (dladdr((void *)&load_tokenizer, &info) && info.dli_fname) {
        snprintf(here, sizeof here, "%s", info.dli_fname);
        char *slash = strrchr(here, '/');
        if (slash)
            snprintf(slash, sizeof here - (size_t)(slash - here), "/../share/mill");
    }
    const char *roots[] = {getenv("MILL_DATA_DIR"), here[0] ? here : NULL, MILL_INSTALL_DATADIR,
                           MILL_SOURCE_DIR "/data"};
    for (size_t i = 0; i < 4; i++) {
        if (!roots[i])
            continue;
        snprintf(v, sizeof v, "%s/clip/bpe_simple_vocab_16e6.txt.gz", roots[i]);
        if (access(v, R_OK) == 0) {
            snprintf(c->tok_files[0], sizeof c->tok_files[0], "%s", v);
            return mill_clip_tokenizer_load_bpe_gz(v, &c->tok, err);
        }
    }
    return mill_err_set(err, MILL_ENOTFOUND,
                        "clip: no tokenizer: %s has no vocab.json + "
                        "merges.txt and bpe_simple_vocab_16e6.txt.gz is not installed (set "
                        "MILL_DATA_DIR)",
                        c->dir);
}

/* The digest of the weights the model loaded (a directory may hold both formats). */
static int weights_sha(struct clipb *c, struct mill_err *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", c->dir,
             mill_clip_is_hf(c->model) ? "model.safetensors" : "open_clip_model.safetensors");
    return mill_sha256_file_cached(c->cache_dir, p, c->weights_sha, err);
}

/* ---- zero-shot heads --------------------------------------------------------------------- */

/* Tokenises and encodes n captions (zs_head's encoder). */
static int encode_texts(void *ctx, const char *const *texts, size_t n, float *out,
                        struct mill_err *err) {
    struct clipb *c = ctx;
    int len = c->hp->context_length;
    int32_t *toks = malloc((n ? n : 1) * (size_t)len * sizeof *toks);
    int rc = toks ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < n; k++)
        if (mill_clip_tokenize(c->tok, texts[k], len, toks + k * (size_t)len, err) < 0)
            rc = err->code;
    if (!rc)
        rc = mill_clip_encode_texts(c->model, toks, (int)n, out, err);
    free(toks);
    return rc;
}

static int clip_load(void *state, struct mill_err *err) {
    struct clipb *c = state;
    int rc = resolve_checkpoint(c, err);
    struct mill_clip_params p = mill_clip_default_params();
    p.threads = (int)c->threads;
    p.max_batch = (int)c->batch;
    p.hf_only = c->hf;
    if (!rc && c->tag >= 0) { /* open_clip's built-in architecture, the tag's preprocessing */
        p.quick_gelu = 1;
        p.norm = pretrained[c->tag].inception ? MILL_CLIP_NORM_INCEPTION : MILL_CLIP_NORM_OPENAI;
        if (pretrained[c->tag].tag_quick_gelu)
            MILL_WARN("clip",
                      "%s/%s: GELU, as open_clip builds %s's built-in config for this "
                      "tag (its 'QuickGELU mismatch' warning; %s-quickgelu is not known "
                      "here)",
                      c->path, c->pretrained, c->path, c->path);
    }
    if (!rc)
        rc = mill_clip_load(c->dir, &p, &c->model, err);
    if (!rc)
        rc = load_tokenizer(c, err);
    if (!rc)
        c->hp = mill_clip_hparams(c->model);
    if (!rc && c->hp->eos_id >= 0 && c->hp->eos_id != mill_clip_eot(c->tok))
        rc = mill_err_set(err, MILL_EUNSUPPORTED,
                          "%s/open_clip_config.json: text_cfg.eos_id = %d: pooling at a token "
                          "other than the tokenizer's EOT (%d) is not supported",
                          c->dir, c->hp->eos_id, (int)mill_clip_eot(c->tok));
    /* open_clip's SimpleTokenizer runs ftfy.fix_text first; transformers' checkpoints are
     * tokenised by transformers' CLIPTokenizerFast, whose normalizer replaces the whole
     * cleaning (and cropped as its CLIPImageProcessor crops, from preprocessor_config.json). */
    bool hf = !rc && mill_clip_is_hf(c->model);
    if (!rc && !hf)
        rc = mill_clip_tokenizer_use_ftfy(c->tok, err);
    else if (!rc)
        mill_clip_tokenizer_use_hf_fast(c->tok);
    if (!rc)
        rc = weights_sha(c, err);
    if (rc)
        return rc;
    const char *files[] = {c->tok_files[0], c->tok_files[1], NULL};
    /* What the text tower computes with that the weights do not hold is in the key: the
     * activation (a tag's GELU is not its file's QuickGELU), heads, LayerNorm eps, EOT id. */
    char version[200];
    snprintf(version, sizeof version, "%s%s+heads%d+eps%.9g+eot%d",
             hf ? CLIP_TOKENIZER_VERSION "+hf-fast-2"
                : CLIP_TOKENIZER_VERSION "+ftfy-" MILL_FTFY_VERSION,
             c->hp->quick_gelu ? "+quick_gelu" : "+gelu", c->hp->text_heads, (double)c->hp->ln_eps,
             c->hp->eot_token);
    if ((rc = mill_zs_text_key(c->cache_dir, version, c->hp->context_length, files, c->text_key,
                               sizeof c->text_key, err)))
        return rc;
    /* Many batches per encode call: the model sorts each call's rows by length, so more rows
     * per call means less padding in its batches. */
    c->src = (struct mill_zs_source){.cache_dir = c->cache_dir,
                                     .sub = "clip_heads",
                                     .weights_sha = c->weights_sha,
                                     .text_key = c->text_key,
                                     .default_template = c->prompt_template,
                                     .log_tag = "clip",
                                     .dim = c->hp->embed_dim,
                                     .chunk = 16 * (size_t)c->batch,
                                     .cache_min = HEAD_CACHE_MIN,
                                     .encode = encode_texts,
                                     .ctx = c};
    return 0;
}

/* ---- images ------------------------------------------------------------------------------ */

/* Decodes and preprocesses the request's first image into chw; a bad image fails the request
 * (the sample is reported and counted), never the run. */
static bool prepare_image(struct clipb *c, struct mill_request *q, float *chw) {
    const struct mill_media *m = NULL;
    for (size_t i = 0; i < q->n_media && !m; i++)
        if (q->media[i].kind == MILL_MOD_IMAGE && q->media[i].data)
            m = &q->media[i];
    if (!m) {
        mill_request_fail(q, MILL_EINVAL, "the request carries no image");
        return false;
    }
    struct mill_image img = {0};
    struct mill_err e = {0};
    bool ok = mill_image_decode(m->data, m->n, &img, &e) == 0 &&
              mill_image_clip_preprocess(&img, c->hp->image_size, c->hp->mean, c->hp->std,
                                         c->hp->floor_crop, chw, &e) == 0;
    if (!ok)
        mill_request_fail(q, e.code ? e.code : MILL_EFORMAT, "%s", e.msg);
    mill_image_free(&img);
    return ok;
}

/* Decoding and preprocessing of one chunk, spread over the backend's threads: worker t takes
 * images t, t + nt, ... into their own slots of chw. */
struct prep {
    struct clipb *c;
    struct mill_request *reqs;
    const size_t *idx;
    size_t n, nt, t, px;
    float *chw;
    bool *ok;
};

static void *prep_worker(void *arg) {
    struct prep *p = arg;
    for (size_t i = p->t; i < p->n; i += p->nt)
        p->ok[i] = prepare_image(p->c, &p->reqs[p->idx[i]], p->chw + i * p->px);
    return NULL;
}

/* Prepares images idx[0..n) into chw, packed: returns how many succeeded (-1: out of memory),
 * their request indices in ok_idx (a failed image has already failed its request). */
static ptrdiff_t prepare_chunk(struct clipb *c, struct mill_request *reqs, const size_t *idx,
                               size_t n, float *chw, size_t *ok_idx, int64_t threads) {
    enum { MAX_PREP = 16 };
    size_t px = 3 * (size_t)c->hp->image_size * c->hp->image_size, k = 0;
    size_t nt = (size_t)(threads < MAX_PREP ? threads : MAX_PREP);
    if (n == 0)
        return 0;
    nt = nt > n ? n : nt ? nt : 1;
    bool *ok = calloc(n ? n : 1, sizeof *ok);
    if (!ok)
        return -1;
    struct prep w[MAX_PREP];
    for (size_t t = 0; t < nt; t++)
        w[t] = (struct prep){c, reqs, idx, n, nt, t, px, chw, ok};
    mill_fork_join(prep_worker, w, sizeof *w, nt);
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        if (k != i)
            memmove(chw + k * px, chw + i * px, px * sizeof *chw);
        ok_idx[k++] = idx[i];
    }
    free(ok);
    return (ptrdiff_t)k;
}

/* The second half of a chunk, prepared by one helper thread while the first half encodes. */
struct overlap {
    struct clipb *c;
    struct mill_request *reqs;
    const size_t *idx;
    size_t n;
    float *chw;
    size_t *ok;
    ptrdiff_t got;
};

static void *overlap_worker(void *arg) {
    struct overlap *o = arg;
    o->got = prepare_chunk(o->c, o->reqs, o->idx, o->n, o->chw, o->ok, 1);
    return NULL;
}

/* Prepares and encodes images idx[0..n) into emb; ok receives the request indices of the k
 * images that decoded, in emb's order. A chunk of 16 or more is split in two so the second
 * half's decoding and preprocessing overlap with the first half's encoding. */
static int encode_chunk(struct clipb *c, struct mill_request *reqs, const size_t *idx, size_t n,
                        float *chw, float *emb, size_t *ok, size_t *k, struct mill_err *err) {
    size_t px = 3 * (size_t)c->hp->image_size * c->hp->image_size, e = c->hp->embed_dim;
    size_t h = n >= 16 ? n / 2 : n;
    ptrdiff_t g1 = prepare_chunk(c, reqs, idx, h, chw, ok, c->threads);
    struct overlap o = {c, reqs, idx + h, n - h, chw + h * px, ok + h, 0};
    pthread_t th;
    bool helper = h < n && pthread_create(&th, NULL, overlap_worker, &o) == 0;
    if (h < n && !helper)
        overlap_worker(&o);
    size_t k1 = g1 > 0 ? (size_t)g1 : 0;
    int rc = g1 < 0 ? mill_err_set(err, MILL_ENOMEM, "out of memory")
             : k1   ? mill_clip_encode_images(c->model, chw, (int)k1, emb, err)
                    : 0;
    if (helper)
        pthread_join(th, NULL);
    size_t k2 = o.got > 0 ? (size_t)o.got : 0;
    if (!rc && o.got < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && k2) {
        memmove(chw + k1 * px, chw + h * px, k2 * px * sizeof *chw);
        memmove(ok + k1, ok + h, k2 * sizeof *ok);
        rc = mill_clip_encode_images(c->model, chw + k1 * px, (int)k2, emb + k1 * e, err);
    }
    *k = k1 + k2;
    return rc;
}

/* Scores = logit_scale * image . class weights, for the requests idx[0..n) of reqs. */
static int classify_chunk(void *ctx, struct mill_request *reqs, const size_t *idx, size_t n,
                          struct mill_err *err) {
    struct clipb *c = ctx;
    size_t k = 0;
    size_t *ok = malloc((n ? n : 1) * sizeof *ok);
    if (!ok)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = encode_chunk(c, reqs, idx, n, c->chw, c->emb, ok, &k, err);
    float scale = mill_clip_logit_scale(c->model);
    if (!rc)
        rc = mill_zs_head_score_rows(&c->head, c->hp->embed_dim, c->emb, scale, reqs, ok, k, err);
    free(ok);
    return rc;
}

static int clip_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct clipb *c = state;
    size_t chunk = (size_t)c->batch, px = 3 * (size_t)c->hp->image_size * c->hp->image_size;
    if (!c->chw)
        c->chw = malloc(chunk * px * sizeof *c->chw);
    if (!c->emb)
        c->emb = malloc(chunk * (size_t)c->hp->embed_dim * sizeof *c->emb);
    if (!c->idx)
        c->idx = malloc(chunk * sizeof *c->idx);
    if (!c->chw || !c->emb || !c->idx)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return mill_zs_run(&c->head, &c->src, reqs, n, c->idx, chunk, classify_chunk, err);
}

static int clip_provenance(void *state, struct mill_buf *out) {
    struct clipb *c = state;
    return mill_zs_provenance(c->dir, c->weights_sha, out);
}

static void clip_close(void *state) {
    struct clipb *c = state;
    if (!c)
        return;
    mill_zs_head_free(&c->head);
    mill_clip_tokenizer_free(c->tok);
    mill_clip_free(c->model);
    mill_spec_free_args(clip_args, c);
    free(c->cache_dir);
    free(c->name);
    free(c->dir);
    free(c->chw);
    free(c->emb);
    free(c->idx);
    free(c);
}

static const char *const clip_aliases[] = {"open_clip", "openclip", "hf_clip", "transformers_clip",
                                           NULL};

const struct mill_backend_ops mill_backend_clip = {
    .name = "clip",
    .aliases = clip_aliases,
    .args = clip_args,
    .open = clip_open,
    .caps = clip_caps,
    .model_name = clip_model_name,
    .load = clip_load,
    .run = clip_run,
    .provenance = clip_provenance,
    .close = clip_close,
};
