/* clap_mel.c: CLAP's feature extractor as transformers' ClapFeatureExtractor computes it for a
 * rand_trunc checkpoint (laion/clap-htsat-unfused): crop or pad to max_samples, then
 * audio_utils.spectrogram(center=True, pad_mode="reflect", periodic Hann, power 2, the Slaney
 * mel filter bank with Slaney norm, mel_floor 1e-10, log_mel "dB" with reference 1).
 *
 * Every step is done in double, as numpy does it; the STFT bins are rounded to float (numpy
 * stores them in a complex64 array) before the power spectrum, and the result is rounded to
 * float32 at the end. Must not allocate per frame, keep global state or draw random numbers:
 * the caller chooses the crop. */
#include "model/clap/clap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mill_clap_fe {
    struct mill_clap_fe_params p;
    int n_bins;        /* n_fft / 2 + 1 */
    int frames;        /* 1 + max_samples / hop */
    double *window;    /* n_fft: 0.5 - 0.5 cos(2 pi i / n_fft) (np.hanning(n + 1)[:-1]) */
    double *filters;   /* n_bins x n_mels */
    double *twiddle;   /* n_fft / 2 complex pairs: exp(-2 pi i k / n_fft) */
    int *first, *last; /* per mel filter: the non-zero bin range [first, last) */
};

struct mill_clap_fe_params mill_clap_fe_default_params(void) {
    return (struct mill_clap_fe_params){.sampling_rate = 48000,
                                        .n_mels = 64,
                                        .n_fft = 1024,
                                        .hop = 480,
                                        .max_samples = 480000,
                                        .fmin = 0,
                                        .fmax = 14000,
                                        .padding = MILL_CLAP_REPEATPAD};
}

static int get_num(const struct mill_value *cfg, const char *key, const char *path, double lo,
                   double hi, double *out, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(cfg, key);
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    double d;
    if (v->kind == MILL_V_INT)
        d = (double)v->u.i;
    else if (v->kind == MILL_V_FLOAT)
        d = v->u.f;
    else
        return mill_err_set(err, MILL_EFORMAT, "%s: '%s' is not a number", path, key);
    if (!(d >= lo && d <= hi))
        return mill_err_set(err, MILL_EFORMAT, "%s: '%s' = %g is out of range [%g, %g]", path, key,
                            d, lo, hi);
    *out = d;
    return MILL_OK;
}

int mill_clap_fe_params_from_json(const struct mill_value *cfg, const char *path,
                                  struct mill_clap_fe_params *p, struct mill_err *err) {
    if (!cfg || cfg->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: not a JSON object", path);
    double rate = p->sampling_rate, mels = p->n_mels, fft = p->n_fft, hop = p->hop;
    double secs = (double)p->max_samples / p->sampling_rate;
    int rc;
    if ((rc = get_num(cfg, "sampling_rate", path, 1000, 384000, &rate, err)) ||
        (rc = get_num(cfg, "feature_size", path, 1, 512, &mels, err)) ||
        (rc = get_num(cfg, "fft_window_size", path, 16, 65536, &fft, err)) ||
        (rc = get_num(cfg, "hop_length", path, 1, 65536, &hop, err)) ||
        (rc = get_num(cfg, "max_length_s", path, 0.001, 3600, &secs, err)) ||
        (rc = get_num(cfg, "frequency_min", path, 0, 192000, &p->fmin, err)) ||
        (rc = get_num(cfg, "frequency_max", path, 0, 192000, &p->fmax, err)))
        return rc;
    if (rate != floor(rate) || mels != floor(mels) || fft != floor(fft) || hop != floor(hop))
        return mill_err_set(err, MILL_EFORMAT, "%s: a size or rate is not an integer", path);
    p->sampling_rate = (int)rate;
    p->n_mels = (int)mels;
    p->n_fft = (int)fft;
    p->hop = (int)hop;
    p->max_samples = (int)(secs * rate); /* max_length_s * sampling_rate, as int */
    /* without the key, ClapFeatureExtractor's own default: fusion */
    const char *trunc = mill_value_as_str(mill_value_get(cfg, "truncation"));
    if (!trunc || strcmp(trunc, "rand_trunc") != 0)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: truncation '%s' is not supported (only rand_trunc; 'fusion', "
                            "also transformers' default when the key is missing, belongs to the "
                            "fused checkpoints)",
                            path, trunc ? trunc : "fusion");
    const char *pad = mill_value_as_str(mill_value_get(cfg, "padding"));
    if (!pad || !strcmp(pad, "repeatpad"))
        p->padding = MILL_CLAP_REPEATPAD;
    else if (!strcmp(pad, "repeat"))
        p->padding = MILL_CLAP_REPEAT;
    else /* "pad", and as transformers reads any other value: zeros after the clip */
        p->padding = MILL_CLAP_PAD;
    return MILL_OK;
}

/* transformers' hertz_to_mel / mel_to_hertz, Slaney scale. */
static double hz_to_mel(double f) {
    return f >= 1000.0 ? 15.0 + log(f / 1000.0) * (27.0 / log(6.4)) : 3.0 * f / 200.0;
}

static double mel_to_hz(double m) {
    return m >= 15.0 ? 1000.0 * exp(log(6.4) / 27.0 * (m - 15.0)) : 200.0 * m / 3.0;
}

/* np.linspace(a, b, n)[i]: i * step + a, the last one exactly b. */
static double linspace(double a, double b, int n, int i) {
    return i == n - 1 ? b : (double)i * ((b - a) / (n - 1)) + a;
}

/* mel_filter_bank(norm="slaney", mel_scale="slaney"): triangles between mel-spaced edges over
 * np.linspace(0, sr // 2, n_bins), scaled by 2 / (f[m + 2] - f[m]). */
static int build_filters(struct mill_clap_fe *fe) {
    const struct mill_clap_fe_params *p = &fe->p;
    int nm = p->n_mels, nb = fe->n_bins;
    double *edges = malloc((size_t)(nm + 2) * sizeof *edges);
    if (!edges)
        return MILL_ENOMEM;
    double m0 = hz_to_mel(p->fmin), m1 = hz_to_mel(p->fmax);
    for (int i = 0; i < nm + 2; i++)
        edges[i] = mel_to_hz(linspace(m0, m1, nm + 2, i));
    for (int m = 0; m < nm; m++) {
        double enorm = 2.0 / (edges[m + 2] - edges[m]);
        fe->first[m] = nb;
        fe->last[m] = 0;
        for (int k = 0; k < nb; k++) {
            double f = linspace(0, (double)(p->sampling_rate / 2), nb, k);
            double down = -(edges[m] - f) / (edges[m + 1] - edges[m]);
            double up = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
            double w = fmax(0.0, fmin(down, up)) * enorm;
            fe->filters[(size_t)k * nm + m] = w;
            if (w != 0.0) {
                if (fe->first[m] == nb)
                    fe->first[m] = k;
                fe->last[m] = k + 1;
            }
        }
    }
    free(edges);
    return MILL_OK;
}

int mill_clap_fe_init(const struct mill_clap_fe_params *p, struct mill_clap_fe **out,
                      struct mill_err *err) {
    *out = NULL;
    if (p->n_fft < 16 || (p->n_fft & (p->n_fft - 1)) || p->n_mels < 1 || p->hop < 1 ||
        p->sampling_rate < 1 || p->max_samples <= p->n_fft / 2 || !(p->fmin < p->fmax))
        return mill_err_set(err, MILL_EINVAL,
                            "clap features: settings out of range: n_fft %d (wanted a power of "
                            "two, 16 or more), n_mels %d (1 or more), hop %d (1 or more), "
                            "max_samples %d (over n_fft / 2), fmin %g (below fmax %g)",
                            p->n_fft, p->n_mels, p->hop, p->max_samples, p->fmin, p->fmax);
    struct mill_clap_fe *fe = calloc(1, sizeof *fe);
    if (!fe)
        return mill_err_set(err, MILL_ENOMEM, "clap features: out of memory");
    fe->p = *p;
    fe->n_bins = p->n_fft / 2 + 1;
    fe->frames = 1 + p->max_samples / p->hop;
    fe->window = malloc((size_t)p->n_fft * sizeof *fe->window);
    fe->twiddle = malloc((size_t)p->n_fft * sizeof *fe->twiddle);
    fe->filters = malloc((size_t)fe->n_bins * p->n_mels * sizeof *fe->filters);
    fe->first = malloc((size_t)p->n_mels * sizeof *fe->first);
    fe->last = malloc((size_t)p->n_mels * sizeof *fe->last);
    if (!fe->window || !fe->twiddle || !fe->filters || !fe->first || !fe->last ||
        build_filters(fe)) {
        mill_clap_fe_free(fe);
        return mill_err_set(err, MILL_ENOMEM, "clap features: out of memory");
    }
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < p->n_fft; i++)
        fe->window[i] = 0.5 - 0.5 * cos(2.0 * pi * i / p->n_fft);
    for (int k = 0; k < p->n_fft / 2; k++) {
        fe->twiddle[2 * k] = cos(-2.0 * pi * k / p->n_fft);
        fe->twiddle[2 * k + 1] = sin(-2.0 * pi * k / p->n_fft);
    }
    *out = fe;
    return MILL_OK;
}

void mill_clap_fe_free(struct mill_clap_fe *fe) {
    if (!fe)
        return;
    free(fe->window);
    free(fe->twiddle);
    free(fe->filters);
    free(fe->first);
    free(fe->last);
    free(fe);
}

const struct mill_clap_fe_params *mill_clap_fe_params(const struct mill_clap_fe *fe) {
    return &fe->p;
}

int mill_clap_fe_frames(const struct mill_clap_fe *fe) { return fe->frames; }

size_t mill_clap_fe_overflow(const struct mill_clap_fe *fe, size_t n) {
    return n > (size_t)fe->p.max_samples ? n - (size_t)fe->p.max_samples : 0;
}

/* In-place iterative radix-2 FFT of n complex doubles (re, im interleaved). */
static void fft(double *x, int n, const double *tw) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t0 = x[2 * i], t1 = x[2 * i + 1];
            x[2 * i] = x[2 * j];
            x[2 * i + 1] = x[2 * j + 1];
            x[2 * j] = t0;
            x[2 * j + 1] = t1;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int step = n / len;
        for (int i = 0; i < n; i += len) {
            for (int k = 0; k < len / 2; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *a = x + 2 * (i + k), *b = x + 2 * (i + k + len / 2);
                double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br;
                b[1] = a[1] - bi;
                a[0] += br;
                a[1] += bi;
            }
        }
    }
}

/* The clip cropped or padded to max_samples, in double (the extractor's float64 waveform). */
static void fit_clip(const struct mill_clap_fe_params *p, const float *x, size_t n, size_t crop,
                     double *wave) {
    size_t max = (size_t)p->max_samples, filled;
    if (n >= max) {
        for (size_t i = 0; i < max; i++)
            wave[i] = x[crop + i];
        return;
    }
    size_t reps = max / n; /* int(max_length / len(waveform)) */
    if (p->padding == MILL_CLAP_REPEAT)
        filled = max; /* np.tile(waveform, reps + 1)[:max_length] */
    else if (p->padding == MILL_CLAP_REPEATPAD)
        filled = reps * n; /* np.tile(waveform, reps), then zeros */
    else
        filled = n;
    for (size_t i = 0; i < max; i++)
        wave[i] = i < filled ? x[i % n] : 0.0;
}

int mill_clap_features(const struct mill_clap_fe *fe, const float *samples, size_t n, size_t crop,
                       float *out, struct mill_err *err) {
    const struct mill_clap_fe_params *p = &fe->p;
    if (n == 0 || !samples)
        return mill_err_set(err, MILL_EINVAL, "clap features: an empty clip");
    if (crop > mill_clap_fe_overflow(fe, n))
        return mill_err_set(err, MILL_EINVAL, "clap features: crop %zu beyond the overflow %zu",
                            crop, mill_clap_fe_overflow(fe, n));
    size_t max = (size_t)p->max_samples, half = (size_t)p->n_fft / 2;
    size_t padded = max + 2 * half;
    double *wave = malloc(padded * sizeof *wave);
    double *buf = malloc((size_t)p->n_fft * 2 * sizeof *buf);
    double *power = malloc((size_t)fe->n_bins * sizeof *power);
    if (!wave || !buf || !power) {
        free(wave);
        free(buf);
        free(power);
        return mill_err_set(err, MILL_ENOMEM, "clap features: out of memory");
    }
    fit_clip(p, samples, n, crop, wave + half);
    for (size_t i = 0; i < half; i++) { /* np.pad(mode="reflect"): no edge repeat */
        wave[half - 1 - i] = wave[half + 1 + i];
        wave[half + max + i] = wave[half + max - 2 - i];
    }
    for (int f = 0; f < fe->frames; f++) {
        const double *frame = wave + (size_t)f * p->hop;
        for (int i = 0; i < p->n_fft; i++) {
            buf[2 * i] = frame[i] * fe->window[i];
            buf[2 * i + 1] = 0.0;
        }
        fft(buf, p->n_fft, fe->twiddle);
        for (int k = 0; k < fe->n_bins; k++) {
            double re = (float)buf[2 * k], im = (float)buf[2 * k + 1]; /* complex64 */
            double mag = hypot(re, im);
            power[k] = mag * mag;
        }
        for (int m = 0; m < p->n_mels; m++) {
            double s = 0.0;
            for (int k = fe->first[m]; k < fe->last[m]; k++)
                s += fe->filters[(size_t)k * p->n_mels + m] * power[k];
            s = fmax(1e-10, s);                                        /* mel_floor */
            out[(size_t)f * p->n_mels + m] = (float)(10.0 * log10(s)); /* power_to_db, ref 1 */
        }
    }
    free(wave);
    free(buf);
    free(power);
    return MILL_OK;
}
