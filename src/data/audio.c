/* audio.c: in-memory audio decoding (libsndfile through its virtual I/O), mono downmix and
 * resampling (libsoxr, as librosa's soxr_hq); the contract is in audio.h. This file
 * must not open files, keep global state or size buffers from a stream's declared length. */
#include "data/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_FRAMES 4096
#define MAX_CHANNELS 1024

/* ---- libsndfile virtual I/O over a read-only buffer ---- */

struct membuf {
    const unsigned char *p;
    sf_count_t n;
    sf_count_t pos;
};

static sf_count_t vio_len(void *user) { return ((struct membuf *)user)->n; }

static sf_count_t vio_seek(sf_count_t off, int whence, void *user) {
    struct membuf *m = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->n;
    if ((whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) ||
        (off < 0 && base + off < 0) || (off > 0 && base > INT64_MAX - off))
        return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user) {
    struct membuf *m = user;
    if (count <= 0 || m->pos >= m->n)
        return 0;
    sf_count_t k = m->n - m->pos < count ? m->n - m->pos : count;
    memcpy(ptr, m->p + m->pos, (size_t)k);
    m->pos += k;
    return k;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user) {
    (void)ptr;
    (void)count;
    (void)user;
    return 0; /* read-only */
}

static sf_count_t vio_tell(void *user) { return ((struct membuf *)user)->pos; }

/* ---- decoding ---- */

struct mono {
    float *p;
    size_t n, cap;
};

static int mono_reserve(struct mono *m, size_t more, struct mill_err *err) {
    if (m->n + more <= m->cap)
        return 0;
    if (m->n + more > MILL_AUDIO_MAX_FRAMES)
        return mill_err_set(err, MILL_EFORMAT, "audio: stream longer than %zu frames",
                            MILL_AUDIO_MAX_FRAMES);
    size_t nc = m->cap ? m->cap * 2 : (size_t)CHUNK_FRAMES * 16;
    while (nc < m->n + more)
        nc *= 2;
    if (nc > MILL_AUDIO_MAX_FRAMES)
        nc = MILL_AUDIO_MAX_FRAMES;
    float *np = realloc(m->p, nc * sizeof *np);
    if (!np)
        return mill_err_set(err, MILL_ENOMEM, "audio: out of memory");
    m->p = np;
    m->cap = nc;
    return 0;
}

/* Reads every frame of sf, averaging the channels into m. */
static int read_mono(SNDFILE *sf, int channels, struct mono *m, struct mill_err *err) {
    float *chunk = malloc((size_t)CHUNK_FRAMES * (size_t)channels * sizeof *chunk);
    if (!chunk)
        return mill_err_set(err, MILL_ENOMEM, "audio: out of memory");
    int rc = 0;
    sf_count_t got;
    while (!rc && (got = sf_readf_float(sf, chunk, CHUNK_FRAMES)) > 0) {
        if ((rc = mono_reserve(m, (size_t)got, err)))
            break;
        for (sf_count_t f = 0; f < got; f++) {
            const float *fr = chunk + f * channels;
            float s = 0;
            for (int c = 0; c < channels; c++)
                s += fr[c];
            if (!isfinite(s)) { /* a float file's NaN or Inf: every feature would be wrong */
                rc = mill_err_set(err, MILL_EFORMAT, "audio: a NaN or infinite sample at frame %zu",
                                  m->n);
                break;
            }
            m->p[m->n++] = s / (float)channels;
        }
    }
    free(chunk);
    if (!rc && sf_error(sf) != SF_ERR_NO_ERROR)
        rc = mill_err_set(err, MILL_EFORMAT,
                          "audio: decode failed after %zu frames "
                          "(libsndfile: %s)",
                          m->n, sf_strerror(sf));
    return rc;
}

/* Opens data with libsndfile and decodes it to mono at its own rate. */
static int decode_native(const void *data, size_t n, struct mono *m, int *rate,
                         struct mill_err *err) {
    struct membuf mb = {data, (sf_count_t)n, 0};
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &mb);
    if (!sf)
        /* libsndfile keeps the reason of a failed open only in its own global slot. */
        return mill_err_set(err, MILL_EFORMAT, "audio: not a recognised format (libsndfile: %s)",
                            sf_strerror(NULL));
    int rc = 0;
    if (info.channels < 1 || info.channels > MAX_CHANNELS)
        rc = mill_err_set(err, MILL_EFORMAT, "audio: bad channel count %d", info.channels);
    else if (info.samplerate <= 0)
        rc = mill_err_set(err, MILL_EFORMAT, "audio: bad sample rate %d", info.samplerate);
    else
        rc = read_mono(sf, info.channels, m, err);
    *rate = info.samplerate;
    sf_close(sf);
    return rc;
}

/* Resamples m (at from Hz) to `to` Hz into a new buffer that replaces m's, as Python Mill's
 * librosa.resample(res_type="soxr_hq") does: python-soxr's resample (libsoxr, SOXR_HQ, float32,
 * the input fed in pieces of max(1000, 48000 * from / to) frames, then flushed, into at most
 * n * to / from + 1 frames), then librosa's fix_length to ceil(n * to / from) (zeros added or
 * the tail cut). */
static int resample(struct mono *m, int from, int to, struct mill_err *err) {
    double ratio = (double)to / (double)from;
    double want_d = ceil((double)m->n * ratio), olen_d = (double)m->n * to / from + 1;
    if (want_d > (double)MILL_AUDIO_MAX_FRAMES || olen_d > (double)MILL_AUDIO_MAX_FRAMES)
        return mill_err_set(err, MILL_EFORMAT,
                            "audio: stream longer than %zu frames after resampling",
                            MILL_AUDIO_MAX_FRAMES);
    size_t want = (size_t)want_d, olen = (size_t)olen_d, cap = olen > want ? olen : want;
    float *out = calloc(cap, sizeof *out);
    if (!out)
        return mill_err_set(err, MILL_ENOMEM, "audio: out of memory");
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_error_t e = NULL;
    soxr_t r = soxr_create(from, to, 1, &e, &io, &q, NULL);
    double div_d = 48000.0 * from / to;
    size_t div = div_d > 1000 ? (size_t)div_d : 1000, pos = 0, done = 0;
    for (size_t i = 0; !e && i < m->n; i += div) {
        e = soxr_process(r, m->p + i, m->n - i < div ? m->n - i : div, NULL, out + pos, olen - pos,
                         &done);
        pos += done;
    }
    if (!e) { /* the flush */
        e = soxr_process(r, NULL, 0, NULL, out + pos, olen - pos, &done);
        pos += done;
    }
    soxr_delete(r);
    if (e) {
        free(out);
        return mill_err_set(err, MILL_EFORMAT, "audio: resampling %d Hz to %d Hz failed (soxr: %s)",
                            from, to, e);
    }
    free(m->p);
    m->p = out;
    m->n = want; /* fix_length: frames past pos are calloc's zeros */
    m->cap = cap;
    return 0;
}

int mill_audio_decode(const void *data, size_t n, int32_t rate, struct mill_audio *out,
                      struct mill_err *err) {
    if (!out)
        return mill_err_set(err, MILL_EINVAL, "audio: no output given");
    memset(out, 0, sizeof *out);
    if ((!data && n) || rate < 0)
        return mill_err_set(err, MILL_EINVAL, "audio: bad arguments (rate %d)", (int)rate);
    if (!n)
        return mill_err_set(err, MILL_EFORMAT, "audio: empty stream (0 bytes)");
    struct mono m = {NULL, 0, 0};
    int native = 0;
    int rc = decode_native(data, n, &m, &native, err);
    if (!rc && !m.n)
        rc = mill_err_set(err, MILL_EFORMAT, "audio: empty stream (no frames decoded)");
    if (!rc && rate && rate != native) /* keeps ceil(n * rate / native) >= 1 frames */
        rc = resample(&m, native, rate, err);
    if (rc) {
        free(m.p);
        return rc;
    }
    out->samples = m.p;
    out->n = m.n;
    out->rate = rate ? rate : native;
    return 0;
}

void mill_audio_free(struct mill_audio *out) {
    if (!out)
        return;
    free(out->samples);
    out->samples = NULL;
    out->n = 0;
    out->rate = 0;
}
