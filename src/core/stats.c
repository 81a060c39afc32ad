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

/* Two lanes (16 bytes: SSE2 on x86-64, NEON on arm64; wider vectors would change the ABI of
 * the helper where AVX is not enabled); the loop runs two of them at once. */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2l __attribute__((vector_size(16)));

/* exp(d) for d in [-708, 0], two lanes: d = k ln2 + r with k the nearest integer to d/ln2 and
 * |r| <= ln2/2 (ln2 split as fdlibm splits it, so k * LN2_HI is exact), exp(r) by its Taylor
 * polynomial to r^12 (remainder < 2e-16 relative), times 2^k built in the exponent bits. */
static inline __attribute__((always_inline)) v2d exp2v(v2d d) {
    const double shift = 0x1.8p52; /* adding it rounds to an integer held in the low bits */
    const v2d vshift = {shift, shift};
    v2d t = d * 1.4426950408889634 + shift;
    v2d k = t - shift;
    v2d r = d - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;
    v2d p = r * (1.0 / 479001600) + 1.0 / 39916800;
    p = p * r + 1.0 / 3628800;
    p = p * r + 1.0 / 362880;
    p = p * r + 1.0 / 40320;
    p = p * r + 1.0 / 5040;
    p = p * r + 1.0 / 720;
    p = p * r + 1.0 / 120;
    p = p * r + 1.0 / 24;
    p = p * r + 1.0 / 6;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    v2l e = ((v2l)t - (v2l)vshift + 1023) << 52; /* 2^k: k >= -1022 since d >= -708 */
    return p * (v2d)e;
}

double mill_logsumexp_f32(const float *x, size_t n, float max) {
    v2d acc0 = {0, 0}, acc1 = {0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        double v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = (double)x[i + j] - max;
            v[j] = v[j] < -708.0 ? -708.0 : v[j];
        }
        acc0 += exp2v((v2d){v[0], v[1]});
        acc1 += exp2v((v2d){v[2], v[3]});
    }
    double s = (acc0[0] + acc0[1]) + (acc1[0] + acc1[1]);
    for (; i < n; i++)
        s += exp((double)x[i] - max);
    return max + log(s);
}
