/* test_stats.c: unit tests of core/stats: Python's round() (values checked against CPython),
 * the pairwise mean, the two-pass standard error and the log-sum-exp of a logit row. Must not depend on files or the clock. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "mtest.h"

static void test_round_numpy(void) {
    /* numpy's x.round(4): x * 1e4, rint, / 1e4; not round()'s answer at these ties */
    CHECK(mill_round_np(-0.00025, 4) == -0.0002 && mill_round(-0.00025, 4) == -0.0003);
    CHECK(mill_round_np(-5.94975, 4) == -5.9498 && mill_round(-5.94975, 4) == -5.9497);
    CHECK(mill_round_np(0.66666, 4) == 0.6667 && mill_round_np(1.0, 4) == 1.0);
    CHECK(isnan(mill_round_np(NAN, 4)));
}

static void test_fsum(void) {
    const double x[] = {1e16, 1.0, -1e16, 1.0}, y[] = {0.1, 0.2, 0.3};
    CHECK(mill_fsum(x, 4) == 2.0); /* Neumaier: a plain left-to-right sum gives 1.0 */
    CHECK(mill_fsum(y, 3) == 0.6); /* Python 3.12: sum([0.1, 0.2, 0.3]) == 0.6 */
    CHECK(mill_fsum(NULL, 0) == 0.0);
}

static void test_round_half_even_on_exact_value(void) {
    CHECK(mill_round(2.675, 2) == 2.67); /* 2.675 is 2.67499999... in binary */
    CHECK(mill_round(0.5, 0) == 0.0);
    CHECK(mill_round(1.5, 0) == 2.0);
    CHECK(mill_round(2.5, 0) == 2.0);
    CHECK(mill_round(0.125, 2) == 0.12); /* an exact tie: to even */
    CHECK(mill_round(0.375, 2) == 0.38);
    CHECK(mill_round(0.12345, 4) == 0.1235); /* binary value lies above the tie */
    CHECK(mill_round(0.00005, 4) == 0.0001);
    CHECK(mill_round(0.53775, 4) == 0.5377); /* binary value lies below the tie */
    CHECK(mill_round(2.0 / 3.0, 4) == 0.6667);
    CHECK(mill_round(1.0, 4) == 1.0);
    CHECK(mill_round(-0.63985, 4) == -0.6399);
    CHECK(mill_round(123456.789, 1) == 123456.8);
}

static void test_round_negative_ndigits(void) {
    CHECK(mill_round(1250.0, -2) == 1200.0);
    CHECK(mill_round(1350.0, -2) == 1400.0);
    CHECK(mill_round(1250.5, -2) == 1300.0);
    CHECK(mill_round(5.0, -1) == 0.0);
    CHECK(mill_round(15.0, -1) == 20.0);
    CHECK(mill_round(25.4, -1) == 30.0);
    CHECK(mill_round(99999.0, -1) == 100000.0);
    CHECK(mill_round(-99999.0, -3) == -100000.0);
    CHECK(mill_round(123.456, -5) == 0.0);
    CHECK(mill_round(1e300, -299) == 1e300);
    CHECK(mill_round(1.5e300, -300) == 2e300);
    CHECK(signbit(mill_round(-4.0, -1)));
}

static void test_round_special_values(void) {
    CHECK(isnan(mill_round(NAN, 4)));
    CHECK(mill_round(INFINITY, 4) == INFINITY);
    CHECK(mill_round(-INFINITY, -3) == -INFINITY);
    double z = mill_round(-0.00001, 4);
    CHECK(z == 0.0 && signbit(z));
    CHECK(!signbit(mill_round(0.00001, 4)));
    CHECK(mill_round(0.1, 400) == 0.1);    /* past CPython's NDIGITS_MAX: x itself */
    CHECK(mill_round(1e300, -400) == 0.0); /* below NDIGITS_MIN: a signed zero */
    CHECK(mill_round(5e-324, 323) == 0.0);
    CHECK(mill_round(1.7976931348623157e308, 2) == 1.7976931348623157e308);
}

static void test_mean(void) {
    const double a[] = {1, 2, 3, 4};
    CHECK(mill_mean(a, 4) == 2.5);
    CHECK(isnan(mill_mean(a, 0)));
    CHECK(mill_mean(a, 1) == 1.0);
    double ones[1000];
    for (int i = 0; i < 1000; i++)
        ones[i] = i % 2;
    CHECK(mill_mean(ones, 1000) == 0.5);
    double tenth[1000];
    for (int i = 0; i < 1000; i++)
        tenth[i] = 0.1;
    CHECK_NEAR(mill_mean(tenth, 1000), 0.1, 1e-16); /* pairwise: no drift */
    CHECK(mill_sum(a, 0) == 0.0);
    CHECK(mill_sum(a, 4) == 10.0);
}

static void test_sem(void) {
    const double a[] = {1, 2, 3, 4};
    CHECK_NEAR(mill_sem(a, 4), sqrt(5.0 / 3.0) / 2.0, 1e-15);
    CHECK(mill_sem(a, 1) == 0.0);
    CHECK(mill_sem(a, 0) == 0.0);
    const double same[] = {0.5, 0.5, 0.5};
    CHECK(mill_sem(same, 3) == 0.0);
    const double inexact[] = {0.7, 0.7, 0.7}; /* the mean is not exactly 0.7, as in numpy */
    CHECK(mill_round(mill_sem(inexact, 3), 4) == 0.0);
    /* a large offset ruins sum-of-squares formulas, not the two-pass one */
    const double off[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    CHECK_NEAR(mill_sem(off, 4), sqrt(30.0) / 2.0, 1e-12);
    /* acc over 0/1 samples: p = 0.6, n = 5 -> std = sqrt(0.3), sem = sqrt(0.3 / 5) */
    const double acc[] = {1, 0, 1, 1, 0};
    CHECK_NEAR(mill_sem(acc, 5), sqrt(0.06), 1e-15);
    CHECK(mill_round(mill_sem(acc, 5), 4) == 0.2449);
}

enum { N = 151936 }; /* a Qwen2 vocabulary */

/* A row of N floats for a test to fill (NULL, and the check failed, when out of memory). */
static float *vocab_row(void) {
    float *x = malloc(N * sizeof *x);
    CHECK(x != NULL);
    return x;
}

/* The reference: glibc's exp() term by term, summed in double. */
static double lse_ref(const float *x, size_t n, float mx) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp((double)x[i] - mx);
    return mx + log(s);
}

/* Rows shaped as logits (a 151,936-entry vocabulary of N(0, sd) values for sd 1..30, a
 * peaked one, one far below its max, short rows that leave a scalar tail, a constant row)
 * agree with the reference to 1e-6 (float32 log_softmax's precision: each x - max is rounded to
 * float, as PyTorch and llama-perplexity round it), and the eight-lane (AVX2) path gives the
 * four-lane path's bits; the per-term error is checked on expf's range by single-entry rows. */
static void test_logsumexp(void) {
    float *x = vocab_row();
    if (!x)
        return;
    uint64_t st = 42;
    double worst = 0;
    for (int sd = 1; sd <= 30; sd += 29) {
        float mx = -INFINITY;
        for (size_t i = 0; i < N; i++) {
            double u1, u2;
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            u1 = ((st >> 11) + 0.5) / 9007199254740992.0;
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            u2 = (st >> 11) / 9007199254740992.0;
            x[i] = (float)(sd * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
            mx = x[i] > mx ? x[i] : mx;
        }
        for (size_t n = 1; n <= N; n = n < 9 ? n + 1 : n * 7) {
            float m = x[0];
            for (size_t i = 1; i < n; i++)
                m = x[i] > m ? x[i] : m;
            double want = lse_ref(x, n, m), got = mill_logsumexp_f32(x, n, m);
            CHECK_NEAR(got, want, 1e-6);
            worst = fmax(worst, fabs(got - want));
            double two = mill_logsumexp_f32_narrow(x, n, m); /* the same bits in any width */
            CHECK(memcmp(&got, &two, sizeof got) == 0);
        }
        CHECK_NEAR(mill_logsumexp_f32(x, N, mx), lse_ref(x, N, mx), 1e-6);
    }
    printf("# largest |ours - exp() in double|: %.2e\n", worst);
    for (size_t i = 0; i < N; i++)
        x[i] = i == 77 ? 40.0f : -900.0f + (float)(i % 1000);
    CHECK_NEAR(mill_logsumexp_f32(x, N, 40.0f), lse_ref(x, N, 40.0f), 1e-6);
    for (size_t i = 0; i < N; i++)
        x[i] = 3.25f;
    CHECK_NEAR(mill_logsumexp_f32(x, N, 3.25f), 3.25 + log((double)N), 1e-6);
    for (double d = -100; d <= 0; d += 0.37) { /* four terms against exp() itself (1 ulp) */
        float row[5] = {0, (float)d, (float)d, (float)d, (float)d};
        double t = exp((double)(float)d), want = log(1 + 4 * (d < -87 ? exp(-87.0) : t));
        CHECK_NEAR(mill_logsumexp_f32(row, 5, 0.0f), want, 2e-7 * want + 1e-15);
    }
    free(x);
}

/* The scalar definition: first index of the largest, NaNs never win past index 0. */
static size_t argmax_ref(const float *x, size_t n) {
    size_t am = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[am])
            am = i;
    return am;
}

/* mill_argmax_f32 against the loop on rows of every length to 100 and a vocabulary's, with
 * ties (the first wins), the maximum in the tail, signed zeros, infinities and NaNs. */
static void test_argmax(void) {
    float *x = vocab_row();
    if (!x)
        return;
    uint64_t st = 7;
    for (size_t i = 0; i < N; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((st >> 40) % 2001) / 100.0f - 10.0f; /* many ties */
    }
    for (size_t n = 1; n <= 100; n++)
        CHECK_INT((long long)mill_argmax_f32(x, n), (long long)argmax_ref(x, n));
    CHECK_INT((long long)mill_argmax_f32(x, N), (long long)argmax_ref(x, N));
    x[N - 1] = 11.0f; /* in the last, partial block */
    x[N - 3] = 11.0f;
    CHECK_INT((long long)mill_argmax_f32(x, N - 1), (long long)(N - 3));
    CHECK_INT((long long)mill_argmax_f32(x, N), (long long)(N - 3));
    float z[24] = {-0.0f, 0.0f, -1.0f};
    for (int i = 3; i < 24; i++)
        z[i] = i % 2 ? 0.0f : -0.0f;
    CHECK_INT((long long)mill_argmax_f32(z, 24), 0);
    z[9] = INFINITY;
    z[17] = INFINITY;
    CHECK_INT((long long)mill_argmax_f32(z, 24), 9);
    x[100] = NAN; /* a NaN is skipped, as by the loop */
    CHECK_INT((long long)mill_argmax_f32(x, N), (long long)argmax_ref(x, N));
    x[0] = NAN; /* x[0] a NaN: nothing compares greater */
    CHECK_INT((long long)mill_argmax_f32(x, N), 0);
    free(x);
}

MTEST_MAIN(MTEST(test_round_numpy), MTEST(test_fsum), MTEST(test_round_half_even_on_exact_value),
           MTEST(test_round_negative_ndigits), MTEST(test_round_special_values), MTEST(test_mean),
           MTEST(test_sem), MTEST(test_logsumexp), MTEST(test_argmax))
