/* registry.h: the task, benchmark and metric registry: built-in tables plus --task_paths
 * plugins, name resolution (a benchmark wins over a task) and the self-check of ARCHITECTURE.md §3.6. */
#ifndef MILL_EVAL_REGISTRY_H
#define MILL_EVAL_REGISTRY_H

#include <mill/buf.h>
#include <mill/metric.h>
#include <mill/task.h>

struct mill_registry;

/* A registry holding the built-in tasks, benchmarks and metrics. */
int mill_registry_init(struct mill_registry **reg, struct mill_err *err);
void mill_registry_free(struct mill_registry *reg);

/* Loads a plugin (.so) or every *.so under a directory (recursively, sorted). A plugin that
 * cannot be opened, lacks TASKS_TABLE or was built for another ABI is reported (warning) and
 * skipped; the count of plugins loaded goes to *n_loaded. A missing path is MILL_ENOTFOUND. */
int mill_registry_load_path(struct mill_registry *reg, const char *path, size_t *n_loaded,
                            struct mill_err *err);

/* Lookups: NULL when unknown. Returned pointers live as long as the registry. */
const struct mill_task_config *mill_registry_task(const struct mill_registry *reg,
                                                  const char *name);
const struct mill_benchmark_config *mill_registry_benchmark(const struct mill_registry *reg,
                                                            const char *name);
const struct mill_metric *mill_registry_metric(const struct mill_registry *reg, const char *name);
/* Directory of the plugin that registered task (relative data paths resolve there), or NULL
 * for built-in tasks. */
const char *mill_registry_task_dir(const struct mill_registry *reg,
                                   const struct mill_task_config *task);
/* The benchmark that lists task (the first registered), or NULL. */
const struct mill_benchmark_config *mill_registry_parent(const struct mill_registry *reg,
                                                         const char *task);

/* Sorted by name. */
size_t mill_registry_n_tasks(const struct mill_registry *reg);
const struct mill_task_config *mill_registry_task_at(const struct mill_registry *reg, size_t i);
size_t mill_registry_n_benchmarks(const struct mill_registry *reg);
const struct mill_benchmark_config *mill_registry_benchmark_at(const struct mill_registry *reg,
                                                               size_t i);

/* The self-check: unique names, every task has a prompt function and at least one metric,
 * every metric a task names exists, every benchmark's tasks and metric names exist. Appends one
 * line per problem to out and returns the number of problems. */
size_t mill_registry_check(const struct mill_registry *reg, struct mill_buf *out);

#endif
