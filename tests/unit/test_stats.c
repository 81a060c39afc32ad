/* test_stats.c: unit tests of core/stats: Python's round() (values checked against CPython),
 * the pairwise mean and the two-pass standard error. Must not depend on files or the clock. */
#include <math.h>

#include "core/stats.h"
#include "mtest.h"

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

MTEST_MAIN(MTEST(test_round_half_even_on_exact_value), MTEST(test_round_negative_ndigits),
           MTEST(test_round_special_values), MTEST(test_mean), MTEST(test_sem))
