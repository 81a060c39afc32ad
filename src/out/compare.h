/* compare.h: the paired comparison of two models on the questions both answered
 * (`mill collect --compare A,B` and the report; BEHAVIOUR.md §1.4): per task and per benchmark,
 * B's score minus A's, a 95% paired-bootstrap interval, the exact McNemar test and the questions
 * each got right alone.
 *
 * Pure computation and rendering over loaded results (results.h): no file I/O, no printing.
 * The bootstrap is reproducible: MILL_COMPARE_RESAMPLES resamples drawn with CPython's
 * random.Random seeded "1234|<task or benchmark>|<n_shot>|<metric>" (Mill's sample_rng), so
 * tests/reference/compare_oracle.py recomputes every number in Python. */
#ifndef MILL_OUT_COMPARE_H
#define MILL_OUT_COMPARE_H

#include <mill/buf.h>
#include <mill/mill.h>

#include "out/results.h"

#define MILL_COMPARE_RESAMPLES 10000
#define MILL_COMPARE_SEED 1234 /* Python Mill's (unused) bootstrap seed */

/* One stratum of paired values: a[i] and b[i] are the two models' metric values on question i.
 * Borrowed. */
struct mill_compare_stratum {
    const double *a, *b;
    size_t n; /* >= 1 */
};

struct mill_compare_stat {
    size_t n;               /* paired questions, all strata */
    double mean_a, mean_b;  /* mean over strata of each stratum's mean (one stratum: the mean) */
    double diff;            /* mean over strata of mean(b - a): B's gain over A */
    double lo, hi;          /* 95% interval: percentiles 2.5 and 97.5 of the bootstrap diffs */
    int64_t a_only, b_only; /* questions only A (only B) got right (value 1 vs 0) */
    bool binary;            /* every value is 0 or 1, so McNemar applies */
    double p;               /* exact two-sided McNemar p-value; NaN when !binary */
};

/* The statistics of k strata. The bootstrap draws, per resample and per stratum in order, n
 * indices with random.Random(key)._randbelow(n) and averages the drawn b - a; a resample's
 * statistic is the mean over strata (a stratified bootstrap, as a rollup averages its tasks).
 * Percentiles interpolate linearly (numpy's default). resamples >= 2.
 * Returns 0, MILL_EINVAL (k == 0, an empty stratum, resamples < 2) or MILL_ENOMEM. */
int mill_compare_stats(const struct mill_compare_stratum *s, size_t k, const char *key,
                       size_t resamples, struct mill_compare_stat *out);

/* Exact two-sided McNemar p-value: min(1, 2 * P(X <= min(a_only, b_only))), X ~ Binomial(
 * a_only + b_only, 1/2); 1.0 when there is no discordant pair. */
double mill_mcnemar_exact(int64_t a_only, int64_t b_only);

/* One line of the comparison. */
struct mill_compare_row {
    char *name;  /* task, or benchmark for a rollup (owned) */
    bool rollup; /* a benchmark: its tasks are the strata */
    size_t n_tasks;
    int64_t n_shot;
    char *metric; /* owned */
    struct mill_compare_stat st;
    double *a, *b; /* a task's paired values (owned; NULL for a rollup) */
};

struct mill_compare {
    char *model_a, *model_b;       /* owned */
    struct mill_compare_row *rows; /* rollups first, then tasks; each by name, n_shot, metric */
    size_t n;
};

/* Compares model b with model a over r: every (task, n_shot, metric) both have, on the docs
 * both answered with a number; a benchmark's rollup over its tasks (two or more) per (n_shot,
 * metric). metric != NULL keeps that metric only. No pair at all leaves out->n == 0 (the caller
 * says so). Returns 0, MILL_ENOMEM (out is then empty). Free with mill_compare_free. */
int mill_compare_build(const struct mill_results *r, const char *a, const char *b,
                       const char *metric, struct mill_compare *out, struct mill_err *err);
void mill_compare_free(struct mill_compare *c); /* NULL-safe */

/* The comparison as an aligned text table ("\n" line ends) into out. 0 or MILL_ENOMEM. */
int mill_compare_render(const struct mill_compare *c, struct mill_buf *out);
/* The comparison as one JSON object {"a","b","resamples","seed","rows":[{...}]} into out (NaN as
 * null). 0 or MILL_ENOMEM. */
int mill_compare_json(const struct mill_compare *c, struct mill_buf *out);

#endif
