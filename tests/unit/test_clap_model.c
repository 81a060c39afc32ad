/* test_clap_model.c: src/model/clap against tests/reference/clap_ref.py (numpy / PyTorch,
 * under Debian's /usr/bin/python3):
 *   - the feature extractor (mill_clap_features) on real-shaped signals: sines, a chirp, white
 *     noise, silence, a click train; 0.3 s (repeatpad, repeat and pad), 5 s, exactly 10 s and
 *     30 s (rand_trunc with a chosen crop) clips, with laion/clap-htsat-unfused's
 *     preprocessor_config.json values (and a small one for the tiny model);
 *   - the byte-level BPE tokenizer (clap_tok.h) on a random-vocabulary tokenizer written by
 *     tools/gen_clap, in both file layouts (tokenizer.json, vocab.json + merges.txt);
 *   - the towers (mill_clap_encode_audio / _texts) on random-weight checkpoints written by
 *     tools/gen_clap: audio and text embeddings and the scores equal to the reference within
 *     1e-4 relative, batch 1 == batch N.
 * Values are compared as |ours - ref| <= 1e-4 * max(1, |ref|) (features in dB) or, for unit
 * vectors, per-component |ours - ref| <= 1e-4.
 *
 * The test fails, never skips, when python3, numpy, torch or gen_clap is missing. It writes only
 * inside the temporary directory it makes and removes. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/audio.h"
#include "model/clap/clap.h"
#include "model/clap/clap_tok.h"
#include "mtest.h"

#define REF_PYTHON "/usr/bin/python3"
#define PATH_CAP 512
#define CMD_CAP 4096

static char tmp_dir[64];

static void tmp_path(char *out, const char *name) {
    int n = snprintf(out, PATH_CAP, "%s/%s", tmp_dir, name);
    if (n < 0 || n >= PATH_CAP)
        abort();
}

/* Runs a shell command (printf-style; paths single-quoted by the caller), output to stderr. */
static bool run(const char *fmt, ...) {
    char cmd[CMD_CAP];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 8 >= sizeof cmd)
        return false;
    memcpy(cmd + n, " 2>&1", 6);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    char line[1024];
    while (fgets(line, sizeof line, p))
        fputs(line, stderr);
    int st = pclose(p);
    bool ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok)
        fprintf(stderr, "command failed (status %d): %s\n", st, cmd);
    return ok;
}

/* Runs clap_ref.py with the given arguments (already quoted). */
static bool ref(const char *fmt, ...) {
    char args[CMD_CAP / 2], script[PATH_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    mtest_source_path(script, sizeof script, "tests/reference/clap_ref.py");
    if (access(REF_PYTHON, X_OK) != 0) {
        fprintf(stderr, "%s is missing: the CLAP reference needs Debian's python3\n", REF_PYTHON);
        return false;
    }
    return run("'%s' '%s' %s", REF_PYTHON, script, args);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static bool write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Reads exactly n floats from path; NULL when the size differs. */
static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    float *v = malloc((n + 1) * sizeof *v);
    size_t got = v ? fread(v, sizeof *v, n + 1, f) : 0;
    fclose(f);
    if (got != n) {
        fprintf(stderr, "%s: %zu floats, expected %zu\n", path, got, n);
        free(v);
        return NULL;
    }
    return v;
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

/* Counts the values where |a - b| > tol * max(1, |b|) and reports the worst. */
static size_t compare(const char *what, const float *a, const float *b, size_t n, double tol) {
    size_t bad = 0, worst = 0;
    double worst_d = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(d <= tol))
            bad++;
        if (!(d <= worst_d))
            worst_d = d, worst = i;
    }
    fprintf(stderr, "%s: %zu values, worst relative difference %.3g at %zu (%g vs %g)%s\n", what, n,
            worst_d, worst, n ? a[worst] : 0.f, n ? b[worst] : 0.f, bad ? " FAIL" : "");
    return bad;
}

/* ---- the feature extractor ---- */

enum signal { SINE, CHIRP, NOISE, SILENCE, CLICKS, TWO_TONES };

static float *make_signal(enum signal kind, size_t n, int rate, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    const double pi = 3.14159265358979323846;
    for (size_t i = 0; i < n && x; i++) {
        double t = (double)i / rate;
        switch (kind) {
        case SINE: x[i] = (float)(0.5 * sin(2 * pi * 440.0 * t)); break;
        case CHIRP: x[i] = (float)(0.3 * sin(2 * pi * (100.0 + 1000.0 * t) * t)); break;
        case NOISE: x[i] = (float)(uniform(&seed) * 2.0 - 1.0) * 0.25f; break;
        case SILENCE: x[i] = 0.0f; break;
        case CLICKS: x[i] = i % 4800 == 0 ? 0.9f : 0.0f; break;
        case TWO_TONES:
            x[i] = (float)(0.2 * sin(2 * pi * 1000.0 * t) + 0.1 * sin(2 * pi * 7000.0 * t));
            break;
        }
    }
    return x;
}

/* laion/clap-htsat-unfused's preprocessor_config.json (the keys ClapFeatureExtractor reads). */
static const char *UNFUSED_PRE =
    "{\"feature_extractor_type\": \"ClapFeatureExtractor\", \"feature_size\": 64, "
    "\"fft_window_size\": 1024, \"frequency_max\": 14000, \"frequency_min\": 50, "
    "\"hop_length\": 480, \"max_length_s\": 10, \"padding\": \"repeatpad\", "
    "\"sampling_rate\": 48000, \"truncation\": \"rand_trunc\", \"top_db\": null}";

static bool fe_from_json(const char *json, struct mill_clap_fe **fe) {
    struct mill_value cfg;
    struct mill_err err = {0};
    struct mill_clap_fe_params p = mill_clap_fe_default_params();
    if (mill_value_from_json(&cfg, json, strlen(json), &err))
        return false;
    int rc = mill_clap_fe_params_from_json(&cfg, "pre.json", &p, &err);
    mill_value_free(&cfg);
    if (!rc)
        rc = mill_clap_fe_init(&p, fe, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    return rc == 0;
}

/* One clip through ours and the reference; returns the mismatches (or 1 on a failure). */
static size_t mel_case(const char *name, const char *json, enum signal kind, double secs,
                       size_t crop) {
    struct mill_clap_fe *fe = NULL;
    if (!fe_from_json(json, &fe))
        return 1;
    const struct mill_clap_fe_params *p = mill_clap_fe_params(fe);
    size_t n = (size_t)(secs * p->sampling_rate), frames = (size_t)mill_clap_fe_frames(fe);
    size_t cells = frames * (size_t)p->n_mels, bad = 1;
    float *x = make_signal(kind, n, p->sampling_rate, 7 + (uint64_t)kind);
    float *ours = malloc(cells * sizeof *ours), *theirs = NULL;
    char pre[PATH_CAP], in[PATH_CAP], out[PATH_CAP];
    tmp_path(pre, "pre.json");
    tmp_path(in, "clip.f32");
    tmp_path(out, "mel.f32");
    struct mill_err err = {0};
    if (!x || !ours || mill_clap_features(fe, x, n, crop, ours, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    } else if (write_file(pre, json, strlen(json)) && write_file(in, x, n * sizeof *x) &&
               ref("mel '%s' '%s' %zu '%s'", pre, in, crop, out) &&
               (theirs = read_f32(out, cells))) {
        bad = compare(name, ours, theirs, cells, 1e-4);
    }
    free(x);
    free(ours);
    free(theirs);
    mill_clap_fe_free(fe);
    return bad;
}

/* A float32 mono WAV (WAVE_FORMAT_IEEE_FLOAT) of x in a new buffer of *len bytes. */
static unsigned char *float_wav(const float *x, size_t n, int rate, size_t *len) {
    size_t data = n * 4;
    unsigned char *w = malloc(44 + data);
    if (!w)
        return NULL;
    uint32_t v[] = {
        0x46464952u,   (uint32_t)(36 + data), 0x45564157u,        0x20746d66u,    16,
        3u | 1u << 16, (uint32_t)rate,        (uint32_t)rate * 4, 4u | 32u << 16, 0x61746164u,
        (uint32_t)data};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        for (int k = 0; k < 4; k++)
            w[4 * i + (size_t)k] = (unsigned char)(v[i] >> (8 * k));
    memcpy(w + 44, x, data);
    *len = 44 + data;
    return w;
}

/* A clip at `from` Hz decoded to `to` Hz by data/audio.c equals Python Mill's resampling of it
 * (clap_ref.py resample: librosa's soxr_hq and fix_length): length and samples. */
static size_t resample_case(enum signal kind, double secs, int from, int to) {
    size_t n = (size_t)(secs * from), len = 0, bad = 1;
    float *x = make_signal(kind, n, from, 11 + (uint64_t)kind), *theirs = NULL;
    unsigned char *wav = x ? float_wav(x, n, from, &len) : NULL;
    char in[PATH_CAP], out[PATH_CAP];
    tmp_path(in, "rs_in.f32");
    tmp_path(out, "rs_out.f32");
    struct mill_audio a = {0};
    struct mill_err err = {0};
    if (!wav || mill_audio_decode(wav, len, to, &a, &err)) {
        fprintf(stderr, "resample %d -> %d: %s\n", from, to, err.msg);
    } else if (write_file(in, x, n * sizeof *x) &&
               ref("resample '%s' %d %d '%s'", in, from, to, out) &&
               (theirs = read_f32(out, a.n))) {
        char what[64];
        snprintf(what, sizeof what, "resample %d -> %d Hz", from, to);
        bad = compare(what, a.samples, theirs, a.n, 1e-6);
    }
    mill_audio_free(&a);
    free(wav);
    free(x);
    free(theirs);
    return bad;
}

/* The rates of ESC-50 (44.1 kHz), UrbanSound8K (8 to 96 kHz) and Clotho (44.1 kHz) to CLAP's 48
 * kHz, and to Qwen2-Audio's 16 kHz. */
static void test_resample(void) {
    static const int rates[][2] = {{44100, 48000}, {8000, 48000},  {11025, 48000}, {22050, 48000},
                                   {96000, 48000}, {44100, 16000}, {48000, 16000}, {32000, 16000}};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
        CHECK_INT(resample_case(i % 2 ? NOISE : CHIRP, 1.3, rates[i][0], rates[i][1]), 0);
    CHECK_INT(resample_case(TWO_TONES, 2.7, 44100, 48000), 0); /* past one 48000-frame piece */
}

static void test_mel_front_end(void) {
    CHECK_INT(mel_case("sine 5 s", UNFUSED_PRE, SINE, 5.0, 0), 0);
    CHECK_INT(mel_case("chirp 5 s", UNFUSED_PRE, CHIRP, 5.0, 0), 0);
    CHECK_INT(mel_case("noise 5 s", UNFUSED_PRE, NOISE, 5.0, 0), 0);
    CHECK_INT(mel_case("silence 5 s", UNFUSED_PRE, SILENCE, 5.0, 0), 0);
    CHECK_INT(mel_case("clicks 0.3 s", UNFUSED_PRE, CLICKS, 0.3, 0), 0);
    CHECK_INT(mel_case("two tones 10 s", UNFUSED_PRE, TWO_TONES, 10.0, 0), 0);
    CHECK_INT(mel_case("noise 30 s, crop 0", UNFUSED_PRE, NOISE, 30.0, 0), 0);
    CHECK_INT(mel_case("chirp 30 s, crop 777777", UNFUSED_PRE, CHIRP, 30.0, 777777), 0);
    CHECK_INT(mel_case("chirp 30 s, last crop", UNFUSED_PRE, CHIRP, 30.0, 960000), 0);
    static const char *REPEAT =
        "{\"feature_size\": 64, \"frequency_min\": 50, \"padding\": \"repeat\", "
        "\"truncation\": \"rand_trunc\"}";
    static const char *PAD = "{\"feature_size\": 32, \"frequency_min\": 0, \"frequency_max\": "
                             "8000, \"padding\": \"pad\", \"max_length_s\": 2, "
                             "\"hop_length\": 320, \"fft_window_size\": 512, "
                             "\"truncation\": \"rand_trunc\"}";
    CHECK_INT(mel_case("sine 0.3 s, repeat", REPEAT, SINE, 0.3, 0), 0);
    CHECK_INT(mel_case("chirp 0.7 s, pad", PAD, CHIRP, 0.7, 0), 0);
    /* The crop matters: two crops of a chirp differ. */
    struct mill_clap_fe *fe = NULL;
    CHECK(fe_from_json(UNFUSED_PRE, &fe));
    if (!fe)
        return;
    size_t n = 30 * 48000, cells = (size_t)mill_clap_fe_frames(fe) * 64;
    float *x = make_signal(CHIRP, n, 48000, 1), *a = malloc(cells * 4), *b = malloc(cells * 4);
    struct mill_err err = {0};
    CHECK(mill_clap_features(fe, x, n, 0, a, &err) == 0);
    CHECK(mill_clap_features(fe, x, n, 480000, b, &err) == 0);
    CHECK(memcmp(a, b, cells * 4) != 0);
    CHECK_INT(mill_clap_fe_overflow(fe, n), n - 480000);
    CHECK_INT(mill_clap_features(fe, x, n, n, a, &err), MILL_EINVAL);
    CHECK_INT(mill_clap_features(fe, x, 0, 0, a, &err), MILL_EINVAL);
    free(x);
    free(a);
    free(b);
    mill_clap_fe_free(fe);
    /* The fused checkpoints' truncation is refused by name. */
    struct mill_value cfg;
    struct mill_clap_fe_params p = mill_clap_fe_default_params();
    const char *fused = "{\"truncation\": \"fusion\"}";
    CHECK(mill_value_from_json(&cfg, fused, strlen(fused), &err) == 0);
    CHECK_INT(mill_clap_fe_params_from_json(&cfg, "pre.json", &p, &err), MILL_EUNSUPPORTED);
    CHECK(strstr(err.msg, "fusion") != NULL);
    mill_value_free(&cfg);
    /* A padding transformers does not name is zeros, as _get_input_mel reads it. */
    const char *odd = "{\"padding\": \"constant\", \"truncation\": \"rand_trunc\"}";
    CHECK(mill_value_from_json(&cfg, odd, strlen(odd), &err) == 0);
    CHECK_INT(mill_clap_fe_params_from_json(&cfg, "pre.json", &p, &err), 0);
    CHECK_INT(p.padding, MILL_CLAP_PAD);
    mill_value_free(&cfg);
    /* A config without truncation is refused: transformers' default is fusion. */
    const char *unsaid = "{\"feature_size\": 64}";
    CHECK(mill_value_from_json(&cfg, unsaid, strlen(unsaid), &err) == 0);
    CHECK_INT(mill_clap_fe_params_from_json(&cfg, "pre.json", &p, &err), MILL_EUNSUPPORTED);
    CHECK(strstr(err.msg, "'fusion'") != NULL);
    mill_value_free(&cfg);
}

/* ---- the tokenizer ---- */

static bool gen_clap(const char *out, const char *args) {
    char tool[PATH_CAP];
    snprintf(tool, sizeof tool, "%s/bin/gen_clap", mtest_build_dir());
    if (access(tool, X_OK) != 0) {
        fprintf(stderr, "gen_clap not found at %s (set MILL_BUILD_DIR)\n", tool);
        return false;
    }
    return run("'%s' --out '%s' %s", tool, out, args);
}

static const char *TEXTS[] = {
    "This is a sound of dog barking.",
    "This is a sound of church bells.",
    "Is there a dog barking in the background? yes",
    "Is there a dog barking in the background? no",
    "What's the weather like? It's raining, isn't it? They'll say we'd've gone",
    "  leading spaces and trailing   ",
    "tabs\tand\nnew lines\n\n  mixed \t ",
    "numbers 3 games, 1234567 and 3.14!",
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x90\xb6 bark",
    "UPPER lower MiXeD 's 'S 't",
    "<mask> <s> literal specials",
    "",
    "a",
    ("A car horn honks twice while engines idle in traffic and the siren wails as the "
     "helicopter flies overhead, birds chirping and singing in the forest at dawn."),
};
#define N_TEXTS (sizeof TEXTS / sizeof TEXTS[0])

/* Our ids of every text in the tokenizer of dir against clap_ref.py's. */
static size_t tok_case(const char *dir) {
    struct mill_clap_tok *tok = NULL;
    struct mill_err err = {0};
    if (mill_clap_tok_load(dir, &tok, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char in[PATH_CAP], out[PATH_CAP];
    tmp_path(in, "texts.txt");
    tmp_path(out, "ids.txt");
    FILE *f = fopen(in, "w");
    for (size_t i = 0; f && i < N_TEXTS; i++)
        fwrite(TEXTS[i], 1, strlen(TEXTS[i]) + 1, f); /* NUL-terminated texts */
    size_t bad = 0;
    if (!f || fclose(f) || !ref("tok '%s' '%s' '%s'", dir, in, out) || !(f = fopen(out, "r"))) {
        mill_clap_tok_free(tok);
        return 1;
    }
    for (size_t i = 0; i < N_TEXTS; i++) {
        int32_t ids[600];
        int n = 0;
        char line[8192], mine[8192];
        size_t k = 0;
        if (!fgets(line, sizeof line, f) ||
            mill_clap_tok_encode(tok, TEXTS[i], ids, 600, &n, &err)) {
            bad++;
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        for (int j = 0; j < n; j++)
            k += (size_t)snprintf(mine + k, sizeof mine - k, j ? " %d" : "%d", ids[j]);
        if (strcmp(line, mine)) {
            fprintf(stderr, "text %zu: ours [%s]\n        ref  [%s]\n", i, mine, line);
            bad++;
        }
    }
    fclose(f);
    /* The last text is longer than model_max_length (38): truncated, </s> kept. */
    int32_t ids[600];
    int n = 0;
    mill_clap_tok_encode(tok, TEXTS[N_TEXTS - 1], ids, 600, &n, &err);
    bad += n != 38 || ids[n - 1] != 2 || ids[0] != 0;
    mill_clap_tok_encode(tok, TEXTS[N_TEXTS - 1], ids, 5, &n, &err);
    bad += n != 5 || ids[4] != 2;
    mill_clap_tok_free(tok);
    return bad;
}

static void test_tokenizer(void) {
    char a[PATH_CAP], b[PATH_CAP];
    tmp_path(a, "tok_json");
    tmp_path(b, "tok_txt");
    CHECK(gen_clap(a, "--tokenizer json"));
    CHECK(gen_clap(b, "--tokenizer txt"));
    CHECK_INT(tok_case(a), 0);
    CHECK_INT(tok_case(b), 0);
    /* Malformed files are refused by name. */
    struct mill_clap_tok *tok = NULL;
    struct mill_err err = {0};
    const char *bad_merge = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
                            "\"merges\": [\"a b\"]}}";
    CHECK_INT(mill_clap_tok_parse_json(bad_merge, strlen(bad_merge), "t.json", 512, &tok, &err),
              MILL_EFORMAT);
    CHECK(strstr(err.msg, "t.json") != NULL);
    CHECK_INT(mill_clap_tok_load(tmp_dir, &tok, &err), MILL_ENOTFOUND);
}

/* ---- the towers ---- */

#define N_AUDIO 5

/* The features of N_AUDIO clips (sine, chirp, noise, silence, a 3 s chirp cropped) with the
 * checkpoint's own preprocessor_config.json; returns frames, or 0. */
static int tiny_features(const char *dir, float **feats) {
    char path[PATH_CAP + 32], json[4096];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(json, 1, sizeof json - 1, f) : 0;
    if (f)
        fclose(f);
    json[n] = '\0';
    struct mill_clap_fe *fe = NULL;
    if (!n || !fe_from_json(json, &fe))
        return 0;
    int frames = mill_clap_fe_frames(fe), nm = mill_clap_fe_params(fe)->n_mels;
    *feats = malloc((size_t)N_AUDIO * frames * nm * sizeof **feats);
    const enum signal kinds[N_AUDIO] = {SINE, CHIRP, NOISE, SILENCE, CHIRP};
    const double secs[N_AUDIO] = {1.0, 2.0, 0.5, 1.5, 3.0};
    struct mill_err err = {0};
    for (int i = 0; i < N_AUDIO && *feats; i++) {
        size_t len = (size_t)(secs[i] * 48000);
        float *x = make_signal(kinds[i], len, 48000, (uint64_t)i);
        if (!x || mill_clap_features(fe, x, len, mill_clap_fe_overflow(fe, len) / 3,
                                     *feats + (size_t)i * frames * nm, &err))
            frames = 0;
        free(x);
    }
    mill_clap_fe_free(fe);
    return *feats ? frames : 0;
}

/* Embeds the N_AUDIO clips and TEXTS with max_batch on threads, writing the token file when
 * ids_path. */
static bool embed(const char *dir, int max_batch, int threads, const float *feats, int frames,
                  float **audio, float **text, float *scale, const char *ids_path) {
    struct mill_clap_params p = mill_clap_default_params();
    p.threads = threads;
    p.max_batch = max_batch;
    struct mill_clap_model *m = NULL;
    struct mill_clap_tok *tok = NULL;
    struct mill_err err = {0};
    if (mill_clap_load(dir, &p, &m, &err) || mill_clap_tok_load(dir, &tok, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        mill_clap_free(m);
        return false;
    }
    int e = mill_clap_hparams(m)->proj_dim, stride = 38, lens[N_TEXTS];
    int32_t *ids = calloc(N_TEXTS * (size_t)stride, sizeof *ids);
    *audio = malloc(N_AUDIO * (size_t)e * sizeof **audio);
    *text = malloc(N_TEXTS * (size_t)e * sizeof **text);
    bool ok = ids && *audio && *text;
    FILE *f = ok && ids_path ? fopen(ids_path, "w") : NULL;
    for (size_t i = 0; ok && i < N_TEXTS; i++) {
        ok = !mill_clap_tok_encode(tok, TEXTS[i], ids + i * stride, stride, &lens[i], &err);
        for (int j = 0; f && j < lens[i]; j++)
            fprintf(f, j + 1 < lens[i] ? "%d " : "%d\n", ids[i * stride + j]);
    }
    if (f)
        fclose(f);
    ok = ok && !mill_clap_encode_audio(m, feats, frames, N_AUDIO, *audio, &err) &&
         !mill_clap_encode_texts(m, ids, lens, stride, N_TEXTS, *text, &err);
    if (!ok)
        fprintf(stderr, "embed: %s\n", err.msg);
    *scale = mill_clap_logit_scale(m);
    free(ids);
    mill_clap_tok_free(tok);
    mill_clap_free(m);
    return ok;
}

static void test_towers(void) {
    char dir[PATH_CAP], fpath[PATH_CAP], ids[PATH_CAP], out[PATH_CAP];
    tmp_path(dir, "tiny");
    tmp_path(fpath, "feats.f32");
    tmp_path(ids, "ids.txt");
    tmp_path(out, "emb.f32");
    CHECK(gen_clap(dir, "--preset tiny"));
    float *feats = NULL, *a1 = NULL, *t1 = NULL, *a3 = NULL, *t3 = NULL, s1 = 0, s3 = 0;
    float *a3t = NULL, *t3t = NULL, s3t = 0;
    int frames = tiny_features(dir, &feats);
    CHECK(frames > 0);
    if (!frames)
        return;
    const int e = 12;
    size_t nm = 16, total = (N_AUDIO + N_TEXTS) * (size_t)e + 1;
    CHECK(embed(dir, 1, 2, feats, frames, &a1, &t1, &s1, ids));
    CHECK(embed(dir, 3, 2, feats, frames, &a3, &t3, &s3, NULL));
    CHECK(embed(dir, 3, 1, feats, frames, &a3t, &t3t, &s3t, NULL));
    /* The thread count changes nothing, to the bit (OpenBLAS's blocks are fixed). */
    CHECK(a3 && a3t && !memcmp(a3, a3t, N_AUDIO * e * sizeof *a3));
    CHECK(t3 && t3t && !memcmp(t3, t3t, N_TEXTS * e * sizeof *t3));
    free(a3t), free(t3t);
    CHECK(write_file(fpath, feats, (size_t)N_AUDIO * frames * nm * sizeof *feats));
    float *r = NULL;
    CHECK(ref("model '%s' '%s' %d '%s' '%s'", dir, fpath, N_AUDIO, ids, out) &&
          (r = read_f32(out, total)));
    if (r && a1 && t1 && a3 && t3) {
        CHECK_INT(compare("audio embeddings", a1, r, N_AUDIO * e, 1e-4), 0);
        CHECK_INT(compare("text embeddings", t1, r + N_AUDIO * e, N_TEXTS * e, 1e-4), 0);
        CHECK_NEAR(s1, r[total - 1], 1e-4 * r[total - 1]);
        /* batch 1 == batch 3 (padded texts reduce in another order: last digits only) */
        CHECK_INT(compare("audio batch 1 vs 3", a3, a1, N_AUDIO * e, 1e-6), 0);
        CHECK_INT(compare("text batch 1 vs 3", t3, t1, N_TEXTS * e, 1e-6), 0);
        float ours[N_AUDIO * N_TEXTS], theirs[N_AUDIO * N_TEXTS];
        for (int i = 0; i < N_AUDIO; i++)
            for (size_t j = 0; j < N_TEXTS; j++) {
                double so = 0, st = 0;
                for (int k = 0; k < e; k++) {
                    so += (double)a1[i * e + k] * t1[j * e + k];
                    st += (double)r[i * e + k] * r[(N_AUDIO + j) * e + k];
                }
                ours[i * N_TEXTS + j] = (float)(so * s1);
                theirs[i * N_TEXTS + j] = (float)(st * r[total - 1]);
            }
        CHECK_INT(compare("scores", ours, theirs, N_AUDIO * N_TEXTS, 1e-4), 0);
        /* The clips differ from one another (the check is sensitive to the input). */
        CHECK(fabsf(a1[0] - a1[e]) + fabsf(a1[1] - a1[e + 1]) > 1e-3f);
    }
    free(feats), free(a1), free(t1), free(a3), free(t3), free(r);
}

static void setup(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/mill-clap-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void) { nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

MTEST_MAIN(MTEST(setup), MTEST(test_resample), MTEST(test_mel_front_end), MTEST(test_tokenizer),
           MTEST(test_towers), MTEST(teardown))
