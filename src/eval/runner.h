/* runner.h: `mill eval`: docs -> requests -> backend -> metrics -> aggregation -> writers, for
 * every model spec and every requested task or benchmark. */
#ifndef MILL_EVAL_RUNNER_H
#define MILL_EVAL_RUNNER_H

#include "eval/registry.h"

#include <stdio.h>

struct mill_run_params {
    const char *output_dir; /* results root: outputs/ and aggregate.csv */
    const char *cache_dir;  /* Mill's cache dir (downloads, zero-shot heads) */
    int64_t limit;          /* first N rows of each evaluation split; < 0 = all */
    int64_t seed;           /* --seed, default 42 */
    size_t batch_docs;      /* docs handed to the backend per call; 0 = 64 */
    bool fail_fast;         /* stop a task at its first failed sample */
    int64_t n_shot;         /* < 0: each task's configured n_shots; else this many shots
                              * (set by `mill schedule` sweeps; Mill's eval has no flag) */
};

/* One line of the end-of-run table. */
struct mill_run_score {
    char *model;
    char *name;   /* the requested task or benchmark name */
    double score; /* its first metric (rollup for a multi-task benchmark) */
    bool have;    /* false when nothing was computed for it */
    int group;    /* its place in Python Mill's table: 0 a task found finished, 1 a task run, */
    size_t order; /* 2 a benchmark; then its task's place in the leaf list (0 for a benchmark) */
};

struct mill_run_result {
    struct mill_run_score *scores;
    size_t n;
    size_t n_failed_samples; /* over all tasks */
};

/* Runs every (model, name) pair. Unknown names and malformed specs are MILL_EINVAL before any
 * work starts; a task a backend cannot serve is MILL_EUNSUPPORTED with Mill's message before
 * that model is loaded. Other failures stop the run with what was computed already written. */
int mill_run_eval(struct mill_registry *reg, const char *models, const char *names,
                  const struct mill_run_params *p, struct mill_run_result *res,
                  struct mill_err *err);
void mill_run_result_free(struct mill_run_result *res);
/* `mill prompts`: for every doc of the tasks names stands for (benchmarks expanded, every
 * variant), one JSON line {"task", "doc_id", "context", "choices", "target"} on out, with the
 * exact context eval gives the model (instruction, few-shot block, query) and eval's doc ids.
 * MILL_EINVAL for an unknown name. */
int mill_write_prompts(struct mill_registry *reg, const char *names,
                       const struct mill_run_params *p, FILE *out, struct mill_err *err);

/* Mill's end-of-run table for res onto out: per model, a blank line, the header, one row per
 * name (a name given twice once) in Python Mill's order (tasks found finished, tasks run, then
 * benchmarks), a blank line. */
int mill_run_format_table(const struct mill_run_result *res, struct mill_buf *out);

/* The tasks that name stands for with a backend of these caps: a benchmark's tasks (the first
 * servable one when it picks a variant), or the task itself. *tasks is malloc'd. Returns
 * MILL_ENOTFOUND for an unknown name, MILL_EINVAL for a benchmark listing an unknown task or
 * a task without a prompt function; *n == 0 when a variant benchmark has no match. */
struct mill_backend_caps;
int mill_resolve_name(const struct mill_registry *reg, const char *name,
                      const struct mill_backend_caps *caps, const struct mill_task_config ***tasks,
                      size_t *n, struct mill_err *err);
/* Mill's up-front rejection (BEHAVIOUR.md §5): 0 when the backend can serve task, else
 * MILL_EUNSUPPORTED with one of Mill's three messages. */
int mill_check_supported(const struct mill_backend_caps *caps, const char *model_name,
                         const struct mill_task_config *task, struct mill_err *err);

#endif
