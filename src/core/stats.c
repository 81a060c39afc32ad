/* stats.c: Python's round() and numpy-style mean / standard error (see stats.h).
 *
 * round() is decided on the exact decimal expansion of the double (glibc's printf is exact), never
 * by scaling with a power of ten, which double-rounds. Must not allocate or keep state. */
#include "core/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

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

double mill_round_np(double x, int decimals) {
    double f = pow(10.0, decimals);
    return rint(x * f) / f;
}

double mill_sum(const double *x, size_t n) {
    return 0.0 + pairwise(x, n, PLAIN, 0.0); /* np.add.reduce starts from the identity 0.0 */
}

double mill_mean(const double *x, size_t n) {
    if (n == 0)
        return NAN;
    return mill_sum(x, n) / (double)n;
}

double mill_std(const double *x, size_t n) {
    if (n < 2)
        return NAN;
    double m = mill_mean(x, n);
    return sqrt((0.0 + pairwise(x, n, SQDEV, m)) / (double)(n - 1));
}

double mill_sem(const double *x, size_t n) {
    return n < 2 ? 0.0 : mill_std(x, n) / sqrt((double)n);
}

double mill_fsum(const double *x, size_t n) {
    double sum = 0.0, c = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = sum + x[i];
        c += fabs(sum) >= fabs(x[i]) ? (sum - t) + x[i] : (x[i] - t) + sum;
        sum = t;
    }
    return c != 0.0 && isfinite(c) ? sum + c : sum;
}

/* ---- log-sum-exp ------------------------------------------------------------------------ */

/* exp in float lanes, each term summed in double: the scheme of llama-perplexity (expf, a
 * double sum) and the precision of PyTorch's float32 log_softmax, at a fraction of the cost of
 * a double exp. Four lanes (16 bytes: SSE2 on x86-64, NEON on arm64), eight where the CPU has
 * AVX2 (a function built for it, chosen at run time: the baseline ABI has no 32-byte vectors). */
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));
typedef double v2d __attribute__((vector_size(16)));

/* e^d for d in [-87, 0], one lane per element of the vector type VF (integer twin VI): Cephes'
 * expf. d = k ln2 + r with k the nearest integer to d/ln2 (ln2 split in two so that k * hi is
 * exact), e^r by a degree-5 minimax polynomial (about 1 ulp), times 2^k built in the exponent
 * bits (k >= -126: a normal number). The same operations in every width (no fused
 * multiply-add: ISO C mode leaves contraction off), so every lane gives the same bits. */
#define MILL_EXPFV(NAME, VF, VI, ATTR)                                                           \
    static inline __attribute__((always_inline)) ATTR VF NAME(VF d) {                            \
        const float shift = 0x1.8p23f; /* adding it rounds to an integer held in the low bits */ \
        VF t = d * 1.44269504088896341f + shift;                                                 \
        VF k = t - shift;                                                                        \
        VF r = d - k * 0.693359375f;                                                             \
        r = r - k * -2.12194440e-4f;                                                             \
        VF p = r * 1.9875691500e-4f + 1.3981999507e-3f;                                          \
        p = p * r + 8.3334519073e-3f;                                                            \
        p = p * r + 4.1665795894e-2f;                                                            \
        p = p * r + 1.6666665459e-1f;                                                            \
        p = p * r + 5.0000001201e-1f;                                                            \
        p = p * (r * r) + r + 1.0f;                                                              \
        VI e = ((VI)t - (VI)((VF){0} + shift) + 127) << 23;                                      \
        return p * (VF)e;                                                                        \
    }

/* x[i] - max, raised to -87 where lower (e^-87 < 2e-38: nothing a sum of terms >= 1 holds)
 * and cut to 88 where higher (a max below the row's largest, against the contract: the sum
 * stays finite, no longer exact, instead of wrapping the exponent bits). */
#define MILL_SHIFTV(NAME, VF, VI, ATTR)                                          \
    static inline __attribute__((always_inline)) ATTR VF NAME(VF x, float max) { \
        VF d = x - max, lo = (VF){0} - 87.0f, hi = (VF){0} + 88.0f;              \
        VI below = d < lo;                                                       \
        VI above = d > hi;                                                       \
        d = (VF)(((VI)d & ~below) | ((VI)lo & below));                           \
        return (VF)(((VI)d & ~above) | ((VI)hi & above));                        \
    }

MILL_EXPFV(exp4f, v4f, v4i, )
MILL_SHIFTV(shift4f, v4f, v4i, )

/* The sum over x[0..n) of e^(x[i] - max) in four double lanes: lane j holds the elements
 * i = j (mod 4), added in order, and the lanes are summed as (0 + 1) + (2 + 3): the same bits
 * whichever width computes it. */
static double lse_sum_sse2(const float *x, size_t n, float max) {
    v2d acc0 = {0, 0}, acc1 = {0, 0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        v4f f;
        memcpy(&f, x + i, sizeof f);
        v4f e = exp4f(shift4f(f, max));
        acc0 += (v2d){e[0], e[1]};
        acc1 += (v2d){e[2], e[3]};
    }
    return (acc0[0] + acc0[1]) + (acc1[0] + acc1[1]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MILL_LSE_AVX2 1
#define AVX2 __attribute__((target("avx2")))
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));

MILL_EXPFV(exp8f, v8f, v8i, AVX2)
MILL_SHIFTV(shift8f, v8f, v8i, AVX2)

AVX2 static double lse_sum_avx2(const float *x, size_t n, float max) {
    v4d acc = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f f;
        memcpy(&f, x + i, sizeof f);
        v8f e = exp8f(shift8f(f, max));
        acc += __builtin_convertvector(__builtin_shufflevector(e, e, 0, 1, 2, 3), v4d);
        acc += __builtin_convertvector(__builtin_shufflevector(e, e, 4, 5, 6, 7), v4d);
    }
    if (i + 4 <= n) {
        v4f f;
        memcpy(&f, x + i, sizeof f);
        acc += __builtin_convertvector(exp4f(shift4f(f, max)), v4d); /* the 4-lane steps */
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
#endif

/* The first index of the largest value, scalar: the running maximum stays in a register
 * (comparing against x[am] instead made a load-compare chain of ~4 ns per entry). */
static size_t argmax_scalar(const float *x, size_t n) {
    float mx = x[0];
    size_t am = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > mx) {
            mx = x[i];
            am = i;
        }
    return am;
}

#ifdef MILL_LSE_AVX2
/* The row's maximum in eight lanes, then the first index holding it; a row with a NaN (which
 * the lanes' max would not order as the scalar loop does) goes through the scalar loop. */
AVX2 static size_t argmax_avx2(const float *x, size_t n) {
    if (n < 16)
        return argmax_scalar(x, n);
    __m256 acc = _mm256_loadu_ps(x), nan = _mm256_setzero_ps();
    size_t i = 8;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        acc = _mm256_max_ps(acc, v);
    }
    float lane[8], mx;
    _mm256_storeu_ps(lane, acc);
    mx = lane[0];
    for (int k = 1; k < 8; k++)
        mx = lane[k] > mx ? lane[k] : mx;
    for (size_t k = i; k < n; k++)
        mx = x[k] > mx ? x[k] : mx;
    if (_mm256_movemask_ps(nan) || mx != mx || x[0] != x[0])
        return argmax_scalar(x, n);
    __m256 m = _mm256_set1_ps(mx);
    for (i = 0; i + 8 <= n; i += 8) {
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), m, _CMP_EQ_OQ));
        if (hit)
            return i + (size_t)__builtin_ctz((unsigned)hit);
    }
    for (; i < n && x[i] != mx; i++)
        ;
    return i;
}
#endif

size_t mill_argmax_f32(const float *x, size_t n) {
#ifdef MILL_LSE_AVX2
    if (__builtin_cpu_supports("avx2"))
        return argmax_avx2(x, n);
#endif
    return argmax_scalar(x, n);
}

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

double mill_logsumexp_f32_narrow(const float *x, size_t n, float max) {
    return lse_finish(x, n, max, lse_sum_sse2(x, n, max));
}
