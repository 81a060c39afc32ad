/* bench_clap: times src/model/clap on one checkpoint: the feature extractor (clips/s) and the
 * HTSAT audio tower (clips/s at a batch, and CPU seconds per clip: the figure that a machine
 * busier than its cores does not distort), on deterministic random 10 s clips; or, with
 * --load_only, just loads a CLAP (or, with --clip, a CLIP) checkpoint and exits, so that
 * bench/clap.sh can read the peak RSS of loading. Driven by bench/clap.sh; prints one
 * "key value" line per figure. With --feats_out / --emb_out it writes the features it encoded
 * and the embeddings it got (float32) so the script can run the PyTorch reference on the same
 * input and compare. It checks nothing (tests/unit/test_clap_model.c does).
 *
 * Usage: bench_clap --model DIR [--threads 2] [--batch 8] [--clips 8] [--feats_out F]
 *        [--emb_out E] | bench_clap --model DIR --load_only [--clip]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/clap/clap.h"
#include "model/clip/clip.h"

#include <mill/value.h>

/* A positive int argument, or 0 when v is not one. */
static int pos_int(const char *v) {
    char *end;
    long x = strtol(v, &end, 10);
    return *v && !*end && x > 0 && x < 1 << 20 ? (int)x : 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int write_f32(const char *path, const float *v, size_t n) {
    FILE *f = path ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(v, sizeof *v, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    return path && !ok;
}

/* laion/clap-htsat-unfused's preprocessor_config.json values. */
static int front_end(struct mill_clap_fe **fe, struct mill_err *err) {
    static const char *json =
        "{\"feature_size\": 64, \"fft_window_size\": 1024, \"frequency_max\": 14000, "
        "\"frequency_min\": 50, \"hop_length\": 480, \"max_length_s\": 10, \"padding\": "
        "\"repeatpad\", \"sampling_rate\": 48000, \"truncation\": \"rand_trunc\"}";
    struct mill_value cfg;
    struct mill_clap_fe_params p = mill_clap_fe_default_params();
    int rc = mill_value_from_json(&cfg, json, strlen(json), err);
    if (!rc) {
        rc = mill_clap_fe_params_from_json(&cfg, "bench", &p, err);
        mill_value_free(&cfg);
    }
    return rc ? rc : mill_clap_fe_init(&p, fe, err);
}

static int load_only(const char *dir, int clip, int threads, struct mill_err *err) {
    if (clip) {
        struct mill_clip_params p = mill_clip_default_params();
        struct mill_clip_model *m = NULL;
        p.threads = threads;
        int rc = mill_clip_load(dir, &p, &m, err);
        mill_clip_free(m);
        return rc;
    }
    struct mill_clap_params p = mill_clap_default_params();
    struct mill_clap_model *m = NULL;
    p.threads = threads;
    int rc = mill_clap_load(dir, &p, &m, err);
    mill_clap_free(m);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *feats_out = NULL, *emb_out = NULL;
    int threads = 2, batch = 8, clips = 8, only = 0, clip = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--load_only"))
            only = 1;
        else if (!strcmp(a, "--clip"))
            clip = 1;
        else if (v && !strcmp(a, "--model") && ++i)
            dir = v;
        else if (v && !strcmp(a, "--threads") && ++i)
            threads = pos_int(v);
        else if (v && !strcmp(a, "--batch") && ++i)
            batch = pos_int(v);
        else if (v && !strcmp(a, "--clips") && ++i)
            clips = pos_int(v);
        else if (v && !strcmp(a, "--feats_out") && ++i)
            feats_out = v;
        else if (v && !strcmp(a, "--emb_out") && ++i)
            emb_out = v;
        else
            dir = NULL, i = argc;
    }
    struct mill_err err = {0};
    if (!dir || threads < 1 || batch < 1 || clips < 1) {
        fprintf(stderr, "usage: bench_clap --model DIR [--threads N] [--batch N] [--clips N] "
                        "[--feats_out F] [--emb_out E] | --model DIR --load_only [--clip]\n");
        return 2;
    }
    double t0 = now();
    if (only) {
        int rc = load_only(dir, clip, threads, &err);
        if (rc)
            fprintf(stderr, "bench_clap: %s\n", err.msg);
        else
            printf("load_seconds %.3f\n", now() - t0);
        return rc ? 1 : 0;
    }
    struct mill_clap_params p = mill_clap_default_params();
    p.threads = threads;
    p.max_batch = batch;
    struct mill_clap_model *m = NULL;
    struct mill_clap_fe *fe = NULL;
    if (mill_clap_load(dir, &p, &m, &err) || front_end(&fe, &err)) {
        fprintf(stderr, "bench_clap: %s\n", err.msg);
        return 1;
    }
    printf("load_seconds %.3f\n", now() - t0);
    size_t n = 480000, frames = (size_t)mill_clap_fe_frames(fe), cells = frames * 64;
    int e = mill_clap_hparams(m)->proj_dim;
    float *x = malloc(n * sizeof *x), *feats = malloc((size_t)clips * cells * sizeof *feats);
    float *emb = malloc((size_t)clips * e * sizeof *emb);
    uint64_t s = 88172645463325252ULL;
    int rc = x && feats && emb ? 0 : 1;
    t0 = now();
    for (int c = 0; !rc && c < clips; c++) {
        for (size_t i = 0; i < n; i++) { /* xorshift noise with a slow envelope */
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) *
                   (float)(0.2 + 0.15 * (double)((i / 48000 + (size_t)c) % 4));
        }
        rc = mill_clap_features(fe, x, n, 0, feats + (size_t)c * cells, &err);
    }
    double tf = now() - t0;
    /* One untimed call first, as clap_ref.py does: the graph allocator's buffer and the pages
     * of the activations are set up once per model, not per call. */
    if (!rc)
        rc = mill_clap_encode_audio(m, feats, (int)frames, clips, emb, &err);
    t0 = now();
    clock_t c0 = clock();
    if (!rc)
        rc = mill_clap_encode_audio(m, feats, (int)frames, clips, emb, &err);
    double ta = now() - t0, ca = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (rc) {
        fprintf(stderr, "bench_clap: %s\n", err.msg);
    } else {
        printf("features_clips_per_s %.3f\n", clips / tf);
        printf("audio_clips_per_s %.3f\n", clips / ta);
        printf("audio_cpu_s_per_clip %.3f\n", ca / clips);
        rc = write_f32(feats_out, feats, (size_t)clips * cells) ||
             write_f32(emb_out, emb, (size_t)clips * e);
    }
    free(x), free(feats), free(emb);
    mill_clap_fe_free(fe);
    mill_clap_free(m);
    return rc ? 1 : 0;
}
