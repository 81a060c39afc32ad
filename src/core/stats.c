/* stats.c: Python's round() and numpy-style mean / standard error (see stats.h).
 *
 * round() is decided on the exact decimal expansion of the double (glibc's printf is exact), never
 * by scaling with a power of ten, which double-rounds. Must not allocate or keep state. */
#include "core/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CPython's limits (floatobject.c): beyond them round() returns x, resp. a signed zero. */
#define NDIGITS_MAX 323
#define NDIGITS_MIN (-308)

/* Rounds |x| (finite, > 0) to a multiple of 10^k, k >= 1, half to even. */
static double round_neg(double ax, int k) {
    char d[400]; /* "0" + up to 309 integer digits + NUL; the k zeros overwrite the tail */
    double ip = trunc(ax);
    int sticky = ip != ax; /* a non-zero fraction lies below the integer part */
    d[0] = '0';
    int len = snprintf(d + 1, sizeof d - 1, "%.0f", ip); /* exact: ip is an integer */
    if (len < 0 || (size_t)len >= sizeof d - 1)
        return 0.0;
    len += 1; /* with the leading '0' that absorbs a carry */
    if (k > len - 1)
        return 0.0;     /* |x| < 10^(k-1): below half of 10^k */
    int keep = len - k; /* digits d[0..keep) stay; d[keep..len) are rounded away */
    int up;
    if (d[keep] != '5') {
        up = d[keep] > '5';
    } else {
        int above = sticky;
        for (int i = keep + 1; i < len && !above; i++)
            above = d[i] != '0';
        up = above || ((d[keep - 1] - '0') & 1);
    }
    if (up) {
        int i = keep - 1;
        while (d[i] == '9')
            d[i--] = '0';
        d[i]++; /* i >= 0: d[0] == '0' never carries further */
    }
    memset(d + keep, '0', (size_t)k);
    d[len] = '\0';
    return strtod(d, NULL);
}

double mill_round(double x, int ndigits) {
    if (!isfinite(x) || x == 0.0 || ndigits > NDIGITS_MAX)
        return x;
    if (ndigits < NDIGITS_MIN)
        return copysign(0.0, x);
    if (ndigits < 0)
        return copysign(round_neg(fabs(x), -ndigits), x);
    /* sign + 309 integer digits + point + 323 decimals + NUL */
    char buf[700];
    int len = snprintf(buf, sizeof buf, "%.*f", ndigits, x);
    if (len < 0 || (size_t)len >= sizeof buf)
        return x;             /* cannot happen within the limits above */
    return strtod(buf, NULL); /* keeps the sign of a zero ("-0.0000") */
}

enum term { PLAIN, SQDEV };

static double term(const double *x, size_t i, enum term t, double m) {
    if (t == PLAIN)
        return x[i];
    double d = x[i] - m;
    return d * d;
}

/* numpy's pairwise_sum for float64 (loops_utils.h.src), term by term: blocks of up to 128 summed
 * with 8 accumulators, larger ranges split in two at a multiple of 8. */
static double pairwise(const double *x, size_t n, enum term t, double m) {
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += term(x, i, t, m);
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = term(x, (size_t)j, t, m);
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += term(x, i + (size_t)j, t, m);
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += term(x, i, t, m);
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(x, n2, t, m) + pairwise(x + n2, n - n2, t, m);
}

double mill_sum(const double *x, size_t n) {
    return 0.0 + pairwise(x, n, PLAIN, 0.0); /* np.add.reduce starts from the identity 0.0 */
}

double mill_mean(const double *x, size_t n) {
    if (n == 0)
        return NAN;
    return mill_sum(x, n) / (double)n;
}

double mill_sem(const double *x, size_t n) {
    if (n < 2)
        return 0.0;
    double m = mill_mean(x, n);
    double var = (0.0 + pairwise(x, n, SQDEV, m)) / (double)(n - 1);
    return sqrt(var) / sqrt((double)n);
}

/* ---- log-sum-exp ------------------------------------------------------------------------ */

/* Two lanes (16 bytes: SSE2 on x86-64, NEON on arm64), and four where the CPU has AVX2 (a
 * function built for it, chosen at run time: the baseline ABI has no 32-byte vectors). */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2l __attribute__((vector_size(16)));

/* exp(d) for d in [-708, 0], one lane per element of the vector type VD (integer twin VL):
 * d = k ln2 + r with k the nearest integer to d/ln2 and |r| <= ln2/2 (ln2 split as fdlibm
 * splits it, so k * LN2_HI is exact), exp(r) by its Taylor polynomial to r^12 (remainder
 * < 2e-16 relative), times 2^k built in the exponent bits. The same operations in every width
 * (no fused multiply-add: not enabled), so every lane gives the same bits. */
#define MILL_EXPV(NAME, VD, VL, ATTR)                                                            \
    static inline __attribute__((always_inline)) ATTR VD NAME(VD d) {                            \
        const double shift = 0x1.8p52; /* adding it rounds to an integer held in the low bits */ \
        VD t = d * 1.4426950408889634 + shift;                                                   \
        VD k = t - shift;                                                                        \
        VD r = d - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;              \
        VD p = r * (1.0 / 479001600) + 1.0 / 39916800;                                           \
        p = p * r + 1.0 / 3628800;                                                               \
        p = p * r + 1.0 / 362880;                                                                \
        p = p * r + 1.0 / 40320;                                                                 \
        p = p * r + 1.0 / 5040;                                                                  \
        p = p * r + 1.0 / 720;                                                                   \
        p = p * r + 1.0 / 120;                                                                   \
        p = p * r + 1.0 / 24;                                                                    \
        p = p * r + 1.0 / 6;                                                                     \
        p = p * r + 0.5;                                                                         \
        p = p * r + 1.0;                                                                         \
        p = p * r + 1.0;                                                                         \
        VL e = ((VL)t - (VL)((VD){0} + shift) + 1023) << 52; /* 2^k: k >= -1022 as d >= -708 */  \
        return p * (VD)e;                                                                        \
    }

MILL_EXPV(exp2v, v2d, v2l, )

/* The sum over x[0..n) in four lanes; lane j holds the elements i = j (mod 4), added in order,
 * and the lanes are summed as (0 + 1) + (2 + 3): the same bits whichever width computes it. */
static double lse_sum_sse2(const float *x, size_t n, float max) {
    v2d acc0 = {0, 0}, acc1 = {0, 0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        double v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = (double)x[i + j] - max;
            v[j] = v[j] < -708.0 ? -708.0 : v[j];
        }
        acc0 += exp2v((v2d){v[0], v[1]});
        acc1 += exp2v((v2d){v[2], v[3]});
    }
    return (acc0[0] + acc0[1]) + (acc1[0] + acc1[1]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MILL_LSE_AVX2 1
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4l __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

MILL_EXPV(exp4v, v4d, v4l, __attribute__((target("avx2"))))

__attribute__((target("avx2"))) static double lse_sum_avx2(const float *x, size_t n, float max) {
    v4d acc = {0, 0, 0, 0};
    const v4d lo = {-708.0, -708.0, -708.0, -708.0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        v4f f;
        memcpy(&f, x + i, sizeof f);
        v4d v = __builtin_convertvector(f, v4d) - (double)max;
        v4l below = v < lo;
        v = (v4d)(((v4l)v & ~below) | ((v4l)lo & below));
        acc += exp4v(v);
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
#endif

static double lse_finish(const float *x, size_t n, float max, double s) {
    for (size_t i = n & ~(size_t)3; i < n; i++)
        s += exp((double)x[i] - max);
    return max + log(s);
}

double mill_logsumexp_f32(const float *x, size_t n, float max) {
#ifdef MILL_LSE_AVX2
    if (__builtin_cpu_supports("avx2"))
        return lse_finish(x, n, max, lse_sum_avx2(x, n, max));
#endif
    return lse_finish(x, n, max, lse_sum_sse2(x, n, max));
}

double mill_logsumexp_f32_2lane(const float *x, size_t n, float max) {
    return lse_finish(x, n, max, lse_sum_sse2(x, n, max));
}
