/* results.h: an output directory's per-sample answers read back for `collect --compare` and
 * `report`: one job per leaf (model, task, n_shot) of aggregate.csv, its JSONL lines reduced to
 * one answer per doc_id, and its provenance document.
 *
 * Reads files only; never prints or exits. The JSONL is untrusted: a line that is not a JSON
 * object with an integer doc_id is skipped and counted (it is a torn or foreign line), never a
 * crash; a job whose file cannot be opened at all is an error naming the file. */
#ifndef MILL_OUT_RESULTS_H
#define MILL_OUT_RESULTS_H

#include <mill/buf.h>
#include <mill/mill.h>

#include "out/aggregate.h"

/* One doc's answer in one job: its last line without an error (of the provenance's seed, when
 * the job has provenance). Strings owned by the job. */
struct mill_result_sample {
    int64_t doc_id;
    double *values;   /* job's n_metrics values, NaN where the line has none */
    char *prediction; /* the "prediction" value as strict compact JSON ("2", "\"B\""; NaN: null) */
    char *gold;       /* the "gold" value as compact JSON */
    char *group;      /* metadata "subject" or else "category"; NULL when neither */
    char *prompt;     /* the prompt's last prompt_chars bytes (UTF-8 safe); NULL: not loaded */
    double *logprobs; /* per-choice log-likelihoods from LOGLIK responses; NULL when none */
    size_t n_choices;
    bool failed; /* the doc's last line so far failed: dropped by mill_result_job_sort */
};

/* One (model, task, n_shot) job. */
struct mill_result_job {
    char *model;
    char *task;
    char *benchmark; /* from aggregate.csv ("" for a standalone task) */
    int64_t n_shot;
    char **metrics; /* its metric names in aggregate.csv order */
    size_t n_metrics;
    struct mill_result_sample *s; /* sorted by doc_id, one per doc (once loaded) */
    size_t n, cap;
    bool unsorted;        /* a line came out of doc order: mill_result_job_sort before searching */
    size_t n_skipped;     /* unreadable lines */
    size_t n_failed;      /* lines of failed samples (their docs are in s only if answered) */
    char *provenance;     /* the provenance document as compact JSON; NULL when there is none */
    int64_t n_docs;       /* the provenance's "n": lines of later doc_ids are left out; 0 none */
    const char *old_note; /* why this job looks written by an older mill; NULL when it does not */
    bool unfinished;      /* its provenance says "finished": false (stopped, or still running) */
};

struct mill_results {
    struct mill_result_job *jobs; /* in aggregate.csv order of first appearance */
    size_t n;
};

struct mill_results_params {
    const char *dir;           /* the output directory */
    const char *const *models; /* keep these models only; n_models == 0: all */
    size_t n_models;
    const char *const *tasks; /* keep these tasks (or benchmarks' tasks) only; 0: all */
    size_t n_tasks;
    bool prompts;        /* load the prompts */
    size_t prompt_chars; /* keep at most this many trailing bytes of each prompt; 0: all */
    bool logprobs;       /* load the per-choice log-likelihoods */
};

/* Defaults: no filters, no prompts (1500 trailing bytes when turned on), no log-probs. */
struct mill_results_params mill_results_default_params(void);

/* For each aggregate row, whether it is a benchmark's rollup row (its task names a benchmark
 * that other rows of the same model list as theirs), not a job with a per-sample file: a
 * malloc'd array of t->n flags (NULL when out of memory), made in O(n log n). */
bool *mill_results_rollups(const struct mill_aggregate_table *t);

/* Loads every leaf job of t that the filters keep. A missing JSONL file leaves the job with
 * no samples (its old_note says so). Returns 0; MILL_EIO (a file exists but cannot be read);
 * MILL_ENOMEM. On error r is left empty. */
int mill_results_load(struct mill_results *r, const struct mill_aggregate_table *t,
                      const struct mill_results_params *p, struct mill_err *err);
void mill_results_free(struct mill_results *r); /* NULL-safe; leaves r empty */

/* Reads one JSONL line into job: returns 1 (a sample was added or replaced the doc's earlier
 * one), 0 (the line is a failed sample, which undoes the doc's earlier answer of that seed, or
 * of another seed: not an answer), or MILL_EFORMAT
 * (not an object with an integer doc_id; nothing changed), MILL_ENOMEM. seed < 0: any seed.
 * Lines are appended: call mill_result_job_sort after the last one. Exposed for the fuzz
 * target. */
int mill_results_add_line(struct mill_result_job *job, const char *line, size_t len, int64_t seed,
                          const struct mill_results_params *p);
/* Sorts job->s by doc_id, keeping the later line of a doc and dropping the docs whose later
 * line failed. 0 or MILL_ENOMEM (job unchanged). */
int mill_result_job_sort(struct mill_result_job *job);
void mill_result_job_free(struct mill_result_job *job);

/* The sample of doc_id in job, or NULL (binary search). */
const struct mill_result_sample *mill_result_find(const struct mill_result_job *job,
                                                  int64_t doc_id);
/* Index of metric name in job->metrics, or -1. */
int mill_result_metric(const struct mill_result_job *job, const char *name);

#endif
