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
