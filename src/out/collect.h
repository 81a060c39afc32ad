/* collect.h: the text `mill collect` prints: Mill's results pivot (a rich-style Unicode box table,
 * model by task, mean performance) and its --check lines (BEHAVIOUR.md §1.4).
 *
 * A pure renderer over an already parsed aggregate table: no file I/O, no printing, no exit;
 * the CLI reads the file, decides which filters apply and writes the buffer to stdout. */
#ifndef MILL_OUT_COLLECT_H
#define MILL_OUT_COLLECT_H

#include <mill/buf.h>
#include <mill/mill.h>

#include "out/aggregate.h"

/* One (model, task, n_shot) the user asked for, for the missing-jobs check. */
struct mill_collect_job {
    const char *model;
    const char *task; /* the name listed when missing */
    int64_t n_shot;
    /* NULL-terminated, or NULL: the job is done when one of these tasks has a row instead of
     * task (a benchmark that runs the one variant a model's backend serves) */
    const char *const *any_of;
};

/* All pointers are borrowed for the call. */
struct mill_collect_params {
    const char *const *models; /* keep rows whose model is one of these; n_models == 0: all */
    size_t n_models;
    const char *const *tasks; /* keep rows whose task column is one of these; 0: all */
    size_t n_tasks;
    const char *metric; /* keep only this metric and say so in the title; NULL: every metric */
    bool check;         /* print the completed / missing jobs lines (default true) */
    /* The jobs to check for, in the order to list them; NULL: no missing-jobs check (the CLI
     * fills it only when both --models and --tasks are given). */
    const struct mill_collect_job *expected;
    size_t n_expected;
};

/* Defaults: no filters, every metric, check on, no expected jobs. */
struct mill_collect_params mill_collect_default_params(void);

/* Appends the collect output for table t to out (UTF-8, "\n" line ends, ending in "\n"):
 *   the title "Mill results — performance[ (<metric>)]" centred over the table (left padding
 *   only), then the table: first column "model", one row per model (byte order), one column per
 *   task (byte order), split into "task (metric)" columns when no metric is given and the task
 *   has several metrics; cells are the mean performance as "%.4f", "nan" where there is none.
 *   Rows with a NaN performance or an empty model/task do not enter the pivot (pandas drops
 *   them). "No results found." instead when nothing is left after filtering.
 *   With check: a blank line and "No results at all." when t has no rows; else a blank line, "Completed jobs: N"
 *   (unique (model, task, n_shot) in all of t), and with expected jobs either "Missing K jobs:"
 *   plus "  model=<m>  task=<t>  n_shot=<n>" lines or "All requested jobs are complete.".
 * Returns 0, MILL_EINVAL (NULL t, p or out) or MILL_ENOMEM (out may then hold part). */
int mill_collect_render(const struct mill_aggregate_table *t, const struct mill_collect_params *p,
                        struct mill_buf *out, struct mill_err *err);

#endif
