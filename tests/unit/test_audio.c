/* test_audio.c: unit tests of in-memory audio decoding (data/audio.c). Known sine waves are
 * encoded in memory with libsndfile's writer (WAV, FLAC, and OGG/Vorbis and MP3 when this
 * libsndfile can write them), decoded, and checked for length, rate, mono downmix, frequency
 * (interpolated zero crossings) and amplitude after resampling; bad input must give a clear
 * error. Must not write files or need the network. */
#include "data/audio.h"

#include <dlfcn.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "mtest.h"

/* libsndfile is a private dependency of libmill and the unit-test rule links only mill and m,
 * so the writer is reached through libmill's already-loaded libsndfile with dlsym. */
#define SF_FUNCS(X) \
    X(sf_open_virtual) X(sf_writef_float) X(sf_close) X(sf_format_check) X(sf_strerror)
#define SF_DECL(f) static __typeof__(&f) p_##f;
SF_FUNCS(SF_DECL)
#define SF_LOAD(f) CHECK((p_##f = (__typeof__(&f))dlsym(RTLD_DEFAULT, #f)) != NULL);
#define sf_open_virtual (*p_sf_open_virtual)
#define sf_writef_float (*p_sf_writef_float)
#define sf_close (*p_sf_close)
#define sf_format_check (*p_sf_format_check)
#define sf_strerror (*p_sf_strerror)

static const double PI = 3.14159265358979323846;

/* ---- an in-memory file for libsndfile's writer ---- */

struct memfile {
    unsigned char *p;
    sf_count_t n, cap, pos;
};

static sf_count_t mf_len(void *u) { return ((struct memfile *)u)->n; }

static sf_count_t mf_seek(sf_count_t off, int whence, void *u) {
    struct memfile *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->n;
    if (base + off < 0)
        return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t mf_read(void *ptr, sf_count_t count, void *u) {
    struct memfile *m = u;
    sf_count_t k = m->pos >= m->n ? 0 : m->n - m->pos < count ? m->n - m->pos : count;
    memcpy(ptr, m->p + m->pos, (size_t)k);
    m->pos += k;
    return k;
}

static sf_count_t mf_write(const void *ptr, sf_count_t count, void *u) {
    struct memfile *m = u;
    if (m->pos + count > m->cap) {
        sf_count_t nc = (m->pos + count) * 2;
        unsigned char *np = realloc(m->p, (size_t)nc);
        if (!np)
            return 0;
        memset(np + m->cap, 0, (size_t)(nc - m->cap));
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->pos, ptr, (size_t)count);
    m->pos += count;
    if (m->pos > m->n)
        m->n = m->pos;
    return count;
}

static sf_count_t mf_tell(void *u) { return ((struct memfile *)u)->pos; }

/* Encodes frames x channels interleaved floats as format at rate into *out; false when this
 * libsndfile cannot write format. */
static bool encode(int format, int rate, int channels, const float *x, size_t frames,
                   struct memfile *out) {
    SF_VIRTUAL_IO vio = {mf_len, mf_seek, mf_read, mf_write, mf_tell};
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    memset(out, 0, sizeof *out);
    if (!sf_format_check(&info))
        return false;
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, out);
    if (!sf) {
        fprintf(stderr, "encode: %s\n", sf_strerror(NULL));
        return false;
    }
    CHECK_INT(sf_writef_float(sf, x, (sf_count_t)frames), frames);
    CHECK_INT(sf_close(sf), 0);
    return true;
}

/* 1 s of a sine at hz: channel c has amplitude amps[c]. Caller frees. */
static float *sine(int rate, int channels, const double *amps, double hz) {
    float *x = malloc((size_t)rate * (size_t)channels * sizeof *x);
    for (int i = 0; i < rate; i++)
        for (int c = 0; c < channels; c++)
            x[i * channels + c] = (float)(amps[c] * sin(2 * PI * hz * i / rate));
    return x;
}

/* ---- measurements over the middle 80% (away from resampler edges) ---- */

static double zc_freq(const struct mill_audio *a) {
    size_t lo = a->n / 10, hi = a->n - a->n / 10;
    double first = -1, last = -1;
    int count = 0;
    for (size_t i = lo + 1; i < hi; i++) {
        float p = a->samples[i - 1], q = a->samples[i];
        if (p < 0 && q >= 0) {
            double t = (double)(i - 1) + p / (p - q);
            if (first < 0)
                first = t;
            last = t;
            count++;
        }
    }
    return count > 1 ? (count - 1) * a->rate / (last - first) : 0;
}

static double amplitude(const struct mill_audio *a) {
    size_t lo = a->n / 10, hi = a->n - a->n / 10;
    double ss = 0;
    for (size_t i = lo; i < hi; i++)
        ss += (double)a->samples[i] * a->samples[i];
    return sqrt(2 * ss / (double)(hi - lo));
}

/* Decodes f at rate and checks the length (frames at the output rate, within tol), the rate,
 * the frequency (1%) and the amplitude (amp_tol, relative). */
static void check_decode(const struct memfile *f, int rate, int want_rate, size_t want_n,
                         size_t tol, double amp, double amp_tol) {
    struct mill_audio a;
    struct mill_err err = {0};
    int rc = mill_audio_decode(f->p, (size_t)f->n, rate, &a, &err);
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_INT(a.rate, want_rate);
    CHECK(a.n + tol >= want_n && a.n <= want_n + tol);
    if (a.n + tol < want_n || a.n > want_n + tol)
        fprintf(stderr, "  n = %zu, want %zu +- %zu\n", a.n, want_n, tol);
    CHECK_NEAR(zc_freq(&a), 440.0, 4.4);
    CHECK_NEAR(amplitude(&a), amp, amp * amp_tol);
    mill_audio_free(&a);
    CHECK(a.samples == NULL && a.n == 0);
}

static void test_setup(void) { SF_FUNCS(SF_LOAD) }

static void test_wav_stereo_downmix_and_resample(void) {
    static const double amps[] = {0.8, 0.4};
    float *x = sine(44100, 2, amps, 440);
    struct memfile f;
    CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, x, 44100, &f));
    check_decode(&f, 0, 44100, 44100, 0, 0.6, 0.01); /* the mean of 0.8 and 0.4 */
    check_decode(&f, 44100, 44100, 44100, 0, 0.6, 0.01);
    check_decode(&f, 16000, 16000, 16000, 1, 0.6, 0.01);
    check_decode(&f, 48000, 48000, 48000, 1, 0.6, 0.01);
    free(f.p);
    free(x);
}

static void test_flac_mono(void) {
    static const double amps[] = {0.5};
    float *x = sine(16000, 1, amps, 440);
    struct memfile f;
    CHECK(encode(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, x, 16000, &f));
    CHECK(f.n > 4 && !memcmp(f.p, "fLaC", 4));
    check_decode(&f, 0, 16000, 16000, 0, 0.5, 0.01);
    check_decode(&f, 48000, 48000, 48000, 1, 0.5, 0.01);
    check_decode(&f, 22050, 22050, 22050, 1, 0.5, 0.01);
    free(f.p);
    free(x);
}

static void test_float_wav_exact(void) {
    /* With float samples and no resampling, the downmix is exactly (l + r) / 2. */
    static const double amps[] = {0.9, -0.3};
    float *x = sine(8000, 2, amps, 440);
    struct memfile f;
    CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 2, x, 8000, &f));
    struct mill_audio a;
    struct mill_err err = {0};
    CHECK_INT(mill_audio_decode(f.p, (size_t)f.n, 0, &a, &err), 0);
    CHECK_INT(a.n, 8000);
    int bad = 0;
    for (size_t i = 0; i < a.n && i < 8000; i++)
        bad += a.samples[i] != (x[2 * i] + x[2 * i + 1]) / 2.0f;
    CHECK_INT(bad, 0);
    mill_audio_free(&a);
    free(f.p);
    free(x);
}

static void test_lossy_formats(void) {
    static const double amps[] = {0.5, 0.5};
    float *x = sine(44100, 2, amps, 440);
    struct memfile f;
    /* Debian's libsndfile 1.2 writes both (libvorbis, LAME): fails, never skips. */
    CHECK(encode(SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, x, 44100, &f));
    if (f.p) {
        check_decode(&f, 16000, 16000, 16000, 16, 0.5, 0.05);
        free(f.p);
    }
    CHECK(encode(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, x, 44100, &f));
    if (f.p) { /* MP3 adds encoder delay and padding: the length is only approximate. */
        check_decode(&f, 16000, 16000, 16000, 800, 0.5, 0.05);
        free(f.p);
    }
    free(x);
}

static void test_errors(void) {
    struct mill_audio a;
    struct mill_err err = {0};
    static const char junk[] = "this is certainly not an audio file, just some text bytes..";
    CHECK_INT(mill_audio_decode(junk, sizeof junk - 1, 16000, &a, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "audio: not a recognised format (libsndfile: ") == err.msg);
    CHECK(a.samples == NULL && a.n == 0);
    CHECK_INT(mill_audio_decode(junk, 0, 16000, &a, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "audio: empty stream") == err.msg);
    CHECK_INT(mill_audio_decode(NULL, 3, 0, &a, &err), MILL_EINVAL);
    CHECK_INT(mill_audio_decode(junk, 3, -1, &a, &err), MILL_EINVAL);
    CHECK_INT(mill_audio_decode(junk, 3, 0, NULL, &err), MILL_EINVAL);

    /* A valid WAV header with no frames. */
    struct memfile f;
    CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, NULL, 0, &f));
    CHECK_INT(mill_audio_decode(f.p, (size_t)f.n, 0, &a, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "audio: empty stream") == err.msg);
    free(f.p);

    /* A 300x ratio is done (libsoxr has no such limit), to ceil(n * 300) frames. */
    static const double amps[] = {0.5};
    float *x = sine(1000, 1, amps, 440);
    CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1000, 1, x, 1000, &f));
    CHECK_INT(mill_audio_decode(f.p, (size_t)f.n, 1000 * 300, &a, &err), 0);
    CHECK_INT(a.n, 300000);
    mill_audio_free(&a);
    free(f.p);

    /* One frame at 44.1 kHz gives one at 16 kHz (librosa's fix_length to ceil(1 * 16000 /
     * 44100)), not an empty clip. */
    CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, x, 1, &f));
    CHECK_INT(mill_audio_decode(f.p, (size_t)f.n, 16000, &a, &err), 0);
    CHECK_INT(a.n, 1);
    mill_audio_free(&a);
    free(f.p);

    /* A float WAV with a NaN or an infinite sample fails, naming the frame. */
    for (int k = 0; k < 2; k++) {
        x[123] = k ? INFINITY : NAN;
        CHECK(encode(SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1000, 1, x, 1000, &f));
        CHECK_INT(mill_audio_decode(f.p, (size_t)f.n, 0, &a, &err), MILL_EFORMAT);
        CHECK(strstr(err.msg, "audio: a NaN or infinite sample at frame 123") == err.msg);
        CHECK(a.samples == NULL);
        free(f.p);
    }
    free(x);
}

static void test_truncated_flac(void) {
    /* Half a FLAC stream: either the decoded prefix or a clear error, never a crash. */
    static const double amps[] = {0.5};
    float *x = sine(16000, 1, amps, 440);
    struct memfile f;
    CHECK(encode(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, x, 16000, &f));
    struct mill_audio a;
    struct mill_err err = {0};
    for (size_t cut = 1; cut < (size_t)f.n; cut = cut * 3 + 7) {
        int rc = mill_audio_decode(f.p, cut, 0, &a, &err);
        CHECK(rc == 0 || rc == MILL_EFORMAT);
        CHECK(rc != 0 || a.n <= 16000);
        CHECK(rc == 0 || strncmp(err.msg, "audio: ", 7) == 0);
        mill_audio_free(&a);
    }
    free(f.p);
    free(x);
}

MTEST_MAIN(MTEST(test_setup), MTEST(test_wav_stereo_downmix_and_resample), MTEST(test_flac_mono),
           MTEST(test_float_wav_exact), MTEST(test_lossy_formats), MTEST(test_errors),
           MTEST(test_truncated_flac))
