/* bench_clip: times src/model/clip on one checkpoint: images/s of the vision tower (batch 64 by
 * default) and the zero-shot head build (classes x templates token rows of ~10 tokens, each
 * class's embeddings averaged and L2-normalised), measured on a sample of classes and scaled to
 * the full count. Driven by bench/clip.sh, which compiles it against libmill; prints one
 * "key value" line per figure for the script to read.
 *
 * With --jpeg_dir, also the whole path of the `clip` backend from encoded images to
 * predictions: CLASSIFY requests carrying the JPEG bytes of the .jpg files in DIR (decode, Pillow-exact
 * resize + centre crop, normalise, encode, scores against a 10-class head), 64 requests per
 * run() as the runner hands them; the head is built in a warm-up call and not timed.
 *
 * It is a benchmark only: it writes nothing (the backend's head cache goes to MILL_CACHE_DIR,
 * which bench/clip.sh points at its temporary directory), checks no accuracy
 * (tests/unit/test_clip_model.c does), and its inputs are deterministic random pixels and
 * token ids.
 *
 * Usage: bench_clip --model DIR [--threads 2] [--batch 64] [--images 128] [--classes 1000]
 *        [--templates 80] [--sample_classes 10] [--tokens 10] [--jpeg_dir DIR]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backends.h"
#include "core/spec.h"
#include "model/clip/clip.h"

#include <dirent.h>

#define SOT 49406
#define EOT 49407

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) {
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int parse_int(const char *s, int *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

struct opts {
    const char *model, *jpeg_dir;
    int threads, batch, images, classes, templates, sample_classes, tokens;
};

static int parse_args(int argc, char **argv, struct opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc || strncmp(a, "--", 2)) {
            fprintf(stderr, "bench_clip: bad argument '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int *slot = !strcmp(a, "--threads")          ? &o->threads
                    : !strcmp(a, "--batch")          ? &o->batch
                    : !strcmp(a, "--images")         ? &o->images
                    : !strcmp(a, "--classes")        ? &o->classes
                    : !strcmp(a, "--templates")      ? &o->templates
                    : !strcmp(a, "--sample_classes") ? &o->sample_classes
                    : !strcmp(a, "--tokens")         ? &o->tokens
                                                     : NULL;
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--jpeg_dir"))
            o->jpeg_dir = v;
        else if (!slot || parse_int(v, slot)) {
            fprintf(stderr, "bench_clip: bad option %s %s\n", a, v);
            return -1;
        }
    }
    return o->model ? 0 : -1;
}

/* Images/s over o->images images after one warm-up batch. */
static int bench_images(struct mill_clip_model *m, const struct opts *o) {
    const struct mill_clip_hparams *hp = mill_clip_hparams(m);
    size_t per = (size_t)3 * hp->image_size * hp->image_size;
    float *img = malloc(per * o->batch * sizeof *img);
    float *out = malloc((size_t)o->batch * hp->embed_dim * sizeof *out);
    if (!img || !out)
        return -1;
    uint64_t s = 1;
    for (size_t i = 0; i < per * o->batch; i++)
        img[i] = (float)(uniform(&s) * 4.0 - 2.0);
    struct mill_err err = {0};
    int rc = mill_clip_encode_images(m, img, o->batch, out, &err);
    double t0 = now();
    int done = 0;
    while (!rc && done < o->images) {
        rc = mill_clip_encode_images(m, img, o->batch, out, &err);
        done += o->batch;
    }
    double dt = now() - t0;
    if (rc)
        fprintf(stderr, "bench_clip: encode_images: %s\n", err.msg);
    else
        printf("images_per_s %.3f\n", done / dt);
    free(img);
    free(out);
    return rc;
}

/* The zero-shot head: per class, encode its templates, average, normalise. */
static int bench_zero_shot(struct mill_clip_model *m, const struct opts *o) {
    const struct mill_clip_hparams *hp = mill_clip_hparams(m);
    int ctx = hp->context_length, e = hp->embed_dim, t = o->templates;
    int32_t *ids = calloc((size_t)t * ctx, sizeof *ids);
    float *emb = malloc((size_t)t * e * sizeof *emb), *head = calloc((size_t)e, sizeof *head);
    if (!ids || !emb || !head)
        return -1;
    uint64_t s = 2;
    struct mill_err err = {0};
    int rc = 0;
    long n_tok = 0;
    double t0 = now();
    for (int c = 0; c < o->sample_classes && !rc; c++) {
        memset(ids, 0, (size_t)t * ctx * sizeof *ids);
        for (int k = 0; k < t; k++) {
            int32_t *row = ids + (size_t)k * ctx;
            int len = o->tokens - 2 + (int)(uniform(&s) * 5); /* tokens +- 2 */
            len = len < 1 ? 1 : len > ctx - 2 ? ctx - 2 : len;
            row[0] = SOT;
            for (int j = 0; j < len; j++)
                row[1 + j] = 1 + (int32_t)(uniform(&s) * (SOT - 1));
            row[1 + len] = EOT;
            n_tok += len + 2;
        }
        rc = mill_clip_encode_texts(m, ids, t, emb, &err);
        double norm = 0;
        for (int k = 0; k < e && !rc; k++) {
            double sum = 0;
            for (int j = 0; j < t; j++)
                sum += emb[(size_t)j * e + k];
            head[k] = (float)(sum / t);
            norm += (double)head[k] * head[k];
        }
        for (int k = 0; k < e && !rc; k++)
            head[k] = (float)(head[k] / sqrt(norm));
    }
    double dt = now() - t0;
    if (rc)
        fprintf(stderr, "bench_clip: encode_texts: %s\n", err.msg);
    else {
        double texts = (double)o->sample_classes * t;
        printf("zs_sample_texts %.0f\nzs_sample_s %.3f\nzs_texts_per_s %.3f\n", texts, dt,
               texts / dt);
        printf("zs_mean_tokens %.2f\n", n_tok / texts);
        printf("zs_head_s %.1f\n", dt / o->sample_classes * o->classes);
    }
    free(ids);
    free(emb);
    free(head);
    return rc;
}

/* The bytes of every .jpg file in dir, sorted by name. */
static int read_jpegs(const char *dir, struct mill_media **out, size_t *n) {
    struct dirent **names = NULL;
    int k = scandir(dir, &names, NULL, alphasort);
    *out = calloc(k > 0 ? (size_t)k : 1, sizeof **out);
    *n = 0;
    for (int i = 0; i < k; i++) {
        const char *nm = names[i]->d_name;
        size_t l = strlen(nm);
        char path[4096];
        FILE *f = NULL;
        if (l > 4 && !strcmp(nm + l - 4, ".jpg") &&
            snprintf(path, sizeof path, "%s/%s", dir, nm) < (int)sizeof path)
            f = fopen(path, "rb");
        if (f && !fseek(f, 0, SEEK_END)) {
            long sz = ftell(f);
            struct mill_media *m = &(*out)[*n];
            rewind(f);
            m->kind = MILL_MOD_IMAGE;
            m->data = malloc(sz > 0 ? (size_t)sz : 1);
            m->n = m->data && sz > 0 ? fread(m->data, 1, (size_t)sz, f) : 0;
            *n += m->n == (size_t)sz;
        }
        if (f)
            fclose(f);
        free(names[i]);
    }
    free(names);
    return *n ? 0 : -1;
}

/* Images/s of the clip backend on CLASSIFY requests with encoded JPEGs, batch-sized run()s. */
static int bench_e2e(const struct opts *o) {
    static const char *const labels[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};
    static const char *const templates[] = {"a photo of a {c}.", "a blurry photo of a {c}."};
    struct mill_media *jpg = NULL;
    size_t nj = 0;
    if (read_jpegs(o->jpeg_dir, &jpg, &nj)) {
        fprintf(stderr, "bench_clip: no readable .jpg in %s\n", o->jpeg_dir);
        return -1;
    }
    char spec_s[4200];
    snprintf(spec_s, sizeof spec_s, "clip[path=%s,batch_size=%d,threads=%d]", o->model, o->batch,
             o->threads);
    struct mill_model_spec spec;
    struct mill_err err = {0};
    void *st = NULL;
    const struct mill_backend_ops *ops = &mill_backend_clip;
    int rc = mill_spec_parse(spec_s, &spec, &err);
    spec.cache_dir = getenv("MILL_CACHE_DIR"); /* NULL: ~/.cache/mill */
    if (!rc)
        rc = ops->open(&spec, &st, &err);
    if (!rc)
        rc = ops->load(st, &err);
    size_t nb = (size_t)o->batch;
    struct mill_request *q = calloc(nb, sizeof *q);
    if (!q)
        rc = -1;
    double t0 = 0;
    size_t done = 0, correct_shape = 0;
    for (int pass = 0; !rc && pass < 2; pass++) { /* pass 0: warm-up + head build */
        size_t total = pass ? (size_t)o->images : nb;
        if (pass)
            t0 = now();
        for (size_t off = 0; !rc && off < total; off += nb) {
            size_t k = total - off < nb ? total - off : nb;
            for (size_t i = 0; i < k; i++) {
                memset(&q[i], 0, sizeof q[i]);
                q[i].kind = MILL_REQ_CLASSIFY;
                q[i].task = "bench";
                q[i].doc_id = (int64_t)(off + i);
                q[i].media = &jpg[(off + i) % nj];
                q[i].n_media = 1;
                q[i].labels = labels;
                q[i].n_labels = 10;
                q[i].templates = templates;
                q[i].n_templates = 2;
            }
            rc = ops->run(st, q, k, &err);
            for (size_t i = 0; i < k; i++) {
                correct_shape += pass && q[i].status == 0 && q[i].scores;
                mill_request_clear_output(&q[i]);
            }
            done += pass ? k : 0;
        }
    }
    if (!rc)
        printf("e2e_images_per_s %.3f\ne2e_ok %zu\n", done / (now() - t0), correct_shape);
    else
        fprintf(stderr, "bench_clip: backend: %s\n", err.msg);
    if (st)
        ops->close(st);
    mill_spec_free(&spec);
    for (size_t i = 0; i < nj; i++)
        free(jpg[i].data);
    free(jpg);
    free(q);
    return rc;
}

int main(int argc, char **argv) {
    struct opts o = {NULL, NULL, 2, 64, 128, 1000, 80, 10, 10};
    if (parse_args(argc, argv, &o)) {
        fputs("usage: bench_clip --model DIR [--threads 2] [--batch 64] [--images 128]\n"
              "       [--classes 1000] [--templates 80] [--sample_classes 10] [--tokens 10]\n"
              "       [--jpeg_dir DIR]\n",
              stderr);
        return 2;
    }
    struct mill_clip_params p = mill_clip_default_params();
    p.threads = o.threads;
    p.max_batch = o.batch;
    struct mill_clip_model *m = NULL;
    struct mill_err err = {0};
    double t0 = now();
    if (mill_clip_load(o.model, &p, &m, &err)) {
        fprintf(stderr, "bench_clip: %s\n", err.msg);
        return 1;
    }
    printf("load_s %.3f\n", now() - t0);
    int rc = bench_images(m, &o);
    if (!rc)
        rc = bench_zero_shot(m, &o);
    mill_clip_free(m);
    if (!rc && o.jpeg_dir)
        rc = bench_e2e(&o);
    return rc ? 1 : 0;
}
