/* stats.h: the few statistics Mill's outputs need: Python's round(), the mean and the standard
 * error of the mean, computed as numpy/pandas compute them (pairwise summation, ddof=1); and
 * the log-sum-exp of a logit row that every scored token of the llama backend needs.
 *
 * Pure functions over caller-owned arrays: no allocation, no I/O, no global state. */
#ifndef MILL_CORE_STATS_H
#define MILL_CORE_STATS_H

#include <mill/mill.h>

/* Python's round(x, ndigits) for a float: the double nearest to x rounded half-to-even at
 * ndigits decimals, decided on x's exact binary value (so round(2.675, 2) == 2.67). ndigits may
 * be negative (round(1250.0, -2) == 1200.0). NaN and +-inf pass through; the sign of a zero
 * result follows x (round(-0.00001, 4) == -0.0). */
double mill_round(double x, int ndigits);

/* numpy's x.round(decimals) for decimals >= 0 (what pandas' DataFrame.round does): x * 10^d
 * rounded half-to-even with rint, divided by 10^d; not always round()'s answer near a tie
 * (-0.00025 gives -0.0002). */
double mill_round_np(double x, int decimals);

/* numpy's sum of x[0..n): pairwise summation, as np.add.reduce does for float64 (which sums
 * blocks of 8,192 values each pairwise: above that the last bit can differ). 0.0 if n == 0. */
double mill_sum(const double *x, size_t n);

/* The arithmetic mean of x[0..n), summed pairwise. NaN when n == 0. */
double mill_mean(const double *x, size_t n);

/* The sample standard deviation (ddof=1, two-pass); NaN when n < 2. */
double mill_std(const double *x, size_t n);

/* The standard error of the mean: mill_std / sqrt(n). 0.0 when n < 2. */
double mill_sem(const double *x, size_t n);

/* Python's sum() of floats since 3.12: left to right with Neumaier's compensation, the
 * compensation added at the end when finite. 0.0 if n == 0. */
double mill_fsum(const double *x, size_t n);

/* log(sum(exp(x[i] - max))) + max over x[0..n), n >= 1, max the row's largest value: each
 * x[i] - max and its exp in float (Cephes' expf, about 1 ulp; terms below e^-87 count as e^-87,
 * which no sum of terms >= 1 can hold; a max below the row's largest cuts x[i] - max at
 * 88, finite but not exact), the terms summed in double. The precision of PyTorch's
 * float32 log_softmax and llama-perplexity's expf-and-double-sum (within 1e-6 of an exact
 * evaluation on logit rows); eight lanes at a time where the CPU has AVX2, else four, with the
 * same bits either way. */
double mill_logsumexp_f32(const float *x, size_t n, float max);
/* The same through the four-lane path on any CPU (tests compare the two). */
double mill_logsumexp_f32_narrow(const float *x, size_t n, float max);

/* The first index of the largest of x[0..n), n >= 1 (NaNs never win, as in a loop of `>`
 * comparisons; x[0] when it is a NaN), eight lanes at a time where the CPU has AVX2. */
size_t mill_argmax_f32(const float *x, size_t n);

#endif
