/* metric.h: sample-level metrics. A metric gets a doc and what the backend answered for it, and
 * returns one double; aggregation (mean, stderr, rollups) is the runner's, not the metric's. */
#ifndef MILL_METRIC_H
#define MILL_METRIC_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the backend answered for one doc, in the shape of its task's output type. */
struct mill_sample_result {
    enum mill_output_type output_type;
    bool classification;    /* a CLASSIFY request answered (zero-shot / supervised) */
    int64_t pred_index;     /* argmax choice (LOGPROBS, first max wins) or class; -1 if none */
    const char *text;       /* GENERATIVE: the generated text (stop strings removed; valid
                             * UTF-8 and NUL-terminated, but it may hold NULs: see text_len) */
    const double *logprobs; /* LOGPROBS: summed log-prob per choice, n_choices entries */
    const bool *is_greedy;  /* LOGPROBS: per choice */
    size_t n_choices;
    double mean_logprob;  /* PERPLEXITY: mean per-token log-prob */
    const double *scores; /* CLASSIFY: one score per class */
    size_t n_scores;
    size_t text_len; /* GENERATIVE: the bytes of text (ABI 3; a plugin built for ABI 2 reads
                      * text up to its first NUL) */
};

struct mill_metric_ctx {
    int64_t seed;     /* the run's --seed, for sample_rng fall-backs */
    const char *task; /* task name */
};

/* Computes the metric into *out. Return 0, or a negative MILL_E* with err set. It may run on
 * the runner's worker thread while the runner's thread calls the next task's prompt function:
 * a plugin's metric and prompt functions must not share mutable state without a lock. */
typedef int (*mill_metric_fn)(const struct mill_doc *doc, const struct mill_sample_result *res,
                              const struct mill_metric_ctx *ctx, double *out, struct mill_err *err);

struct mill_metric {
    const char *name;
    bool higher_is_better;
    mill_metric_fn fn;
};

struct mill_metrics_table {
    int abi_version;
    size_t n;
    const struct mill_metric *metrics;
};

#ifdef __cplusplus
}
#endif

#endif
