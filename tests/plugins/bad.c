/* bad.c: a --task_paths plugin whose tables break every rule of the registry self-check
 * (ARCHITECTURE.md §3.6), for tests/cli/test_registry.sh: `mill ls --check` must name each problem.
 *   bad_noprompt  has no prompt function
 *   bad_unkmetric names a metric nobody registers
 *   bad_nometric  names no metric at all
 *   bad_bench     lists an unknown task and an unknown metric
 * It is never evaluated; it must load (right ABI, TASKS_TABLE present) and be reported. */
#include <mill/task.h>

#include <stdio.h>

static int bad_prompt(const struct mill_task_config *t, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err) {
    (void)row;
    (void)err;
    return mill_doc_set_query(doc, t->name);
}

static const char *const em[] = {"exact_match", NULL};
static const char *const unknown_metric[] = {"exact_match", "no_such_metric", NULL};
static const char *const no_metrics[] = {NULL};

static const struct mill_task_config tasks[] = {
    {.name = "bad_noprompt", .metrics = em, .description = "no prompt function"},
    {.name = "bad_unkmetric",
     .prompt = bad_prompt,
     .metrics = unknown_metric,
     .description = "names an unknown metric"},
    {.name = "bad_nometric",
     .prompt = bad_prompt,
     .metrics = no_metrics,
     .description = "names no metric"},
};

static const char *const bench_tasks[] = {"bad_unkmetric", "no_such_task", NULL};
static const char *const bench_metrics[] = {"no_such_bench_metric", NULL};
static const struct mill_benchmark_config benchmarks[] = {
    {.name = "bad_bench",
     .task_names = bench_tasks,
     .metric_names = bench_metrics,
     .description = "lists an unknown task and an unknown metric"},
};

const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, sizeof tasks / sizeof tasks[0],
                                             tasks};
const struct mill_benchmarks_table BENCHMARKS_TABLE = {MILL_ABI_VERSION, 1, benchmarks};
