/* bench_clip: times src/model/clip on one checkpoint: images/s of the vision tower (batch 64 by
 * default) and the zero-shot head build (classes x templates token rows of ~10 tokens, each
 * class's embeddings averaged and L2-normalised), measured on a sample of classes and scaled to
 * the full count. Driven by bench/clip.sh, which compiles it against libmill; prints one
 * "key value" line per figure for the script to read.
 *
 * It is a benchmark only: it writes nothing, checks no accuracy (tests/unit/test_clip_model.c
 * does), and its inputs are deterministic random pixels and token ids.
 *
 * Usage: bench_clip --model DIR [--threads 2] [--batch 64] [--images 128] [--classes 1000]
 *        [--templates 80] [--sample_classes 10] [--tokens 10]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/clip/clip.h"

#define SOT 49406
#define EOT 49407

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int parse_int(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

struct opts {
    const char *model;
    int threads, batch, images, classes, templates, sample_classes, tokens;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
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
        else if (!slot || parse_int(v, slot)) {
            fprintf(stderr, "bench_clip: bad option %s %s\n", a, v);
            return -1;
        }
    }
    return o->model ? 0 : -1;
}

/* Images/s over o->images images after one warm-up batch. */
static int bench_images(struct mill_clip_model *m, const struct opts *o)
{
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
static int bench_zero_shot(struct mill_clip_model *m, const struct opts *o)
{
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

int main(int argc, char **argv)
{
    struct opts o = {NULL, 2, 64, 128, 1000, 80, 10, 10};
    if (parse_args(argc, argv, &o)) {
        fputs("usage: bench_clip --model DIR [--threads 2] [--batch 64] [--images 128]\n"
              "       [--classes 1000] [--templates 80] [--sample_classes 10] [--tokens 10]\n",
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
    return rc ? 1 : 0;
}
