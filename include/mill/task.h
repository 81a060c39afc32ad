/* task.h: task and benchmark configurations (Mill's MillTaskConfig / MillBenchmarkConfig) and
 * the tables through which built-in task files and --task_paths plugins register them.
 *
 * A task is data plus a prompt function that turns one dataset row into a mill_doc. It never
 * sees a backend. Lists are NULL-terminated arrays of strings (static storage in practice). */
#ifndef MILL_TASK_H
#define MILL_TASK_H

#include "doc.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mill_task_type {
    MILL_TASK_GENERATIVE_QA = 1,
    MILL_TASK_MULTIPLE_CHOICE,
    MILL_TASK_PERPLEXITY,
    MILL_TASK_ZERO_SHOT_CLASSIFICATION,
    MILL_TASK_SUPERVISED_CLASSIFICATION,
};

enum mill_output_type {
    MILL_OUT_GENERATIVE = 0, /* "generate_until": the default, as in Mill */
    MILL_OUT_LOGPROBS,       /* "loglikelihood" */
    MILL_OUT_PERPLEXITY,     /* "loglikelihood_rolling" */
};

struct mill_task_config;

/* Builds *doc from row. Return 0 on success, MILL_SKIP to drop the row (a filter), or a
 * negative MILL_E* with err set (the row is reported and counted, the run goes on). */
#define MILL_SKIP 1
typedef int (*mill_prompt_fn)(const struct mill_task_config *task, const struct mill_value *row,
                              struct mill_doc *doc, struct mill_err *err);

struct mill_task_config {
    const char *name; /* required, unique */
    int version;
    /* Data. */
    const char *hf_repo;     /* Hub dataset repo ("cais/mmlu"), or "" for local files */
    const char *hf_subset;   /* config name, or NULL */
    const char *hf_revision; /* git revision, or NULL for main */
    const char *hf_builder;  /* "imagefolder"/"audiofolder" read a folder; others ("webdataset",
                              * "parquet", "json", ...) let splits differ in format; NULL:
                              * inferred from the files */
    /* Per-split file patterns, "split=pattern" entries (glob patterns allowed):
     * "test=hf://datasets/org/x/test/NAME.tar" or a local path (relative paths are resolved
     * against the plugin's directory). */
    const char *const *hf_data_files;
    const char *const *hf_avail_splits;   /* NULL = {"train","validation","test"} */
    const char *const *evaluation_splits; /* NULL = {"test"} */
    const char *few_shots_split;          /* NULL = evaluation_splits[0] */
    const char *const *columns; /* top-level columns the prompt reads (NULL = all): readers
                                   * that can project (Parquet) skip the others */
    mill_prompt_fn prompt;      /* required */
    /* Types. task_type 0 is inferred from output_type as Mill does. */
    enum mill_task_type task_type;
    enum mill_output_type output_type;
    unsigned input_modalities; /* MILL_MOD_* bits; 0 = no constraint */
    int generation_size;       /* max new tokens; 0 = 256 */
    const char *const *stop_sequences;
    int n_shots;
    const char *const *zeroshot_templates; /* "{c}" slot; NULL = the backend's default */
    const char *const *metrics;            /* metric names, at least one */
    /* Documentation only (mill ls). */
    const char *description;
    const char *const *categories;
    const char *const *capabilities;
    const char *paper_url;
    int64_t approx_num_samples;
    const void *user; /* task-private data for the prompt function */
};

struct mill_benchmark_config {
    const char *name;
    const char *const *task_names;   /* at least one */
    const char *const *metric_names; /* rolled up when more than one task runs */
    bool weighted_aggregate;         /* weight the rollup by sample counts */
    bool pick_variant_by_model;      /* run the first task the model's backend can serve */
    const char *description;
    const char *const *categories;
    const char *const *capabilities;
    const char *paper_url;
};

/* What a plugin exports: `const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, ...};`
 * and optionally `BENCHMARKS_TABLE` and `METRICS_TABLE` (see metric.h). */
struct mill_tasks_table {
    int abi_version; /* MILL_ABI_VERSION the plugin was built against */
    size_t n;
    const struct mill_task_config *tasks;
};

struct mill_benchmarks_table {
    int abi_version;
    size_t n;
    const struct mill_benchmark_config *benchmarks;
};

MILL_API const char *mill_task_type_str(enum mill_task_type t);     /* "multiple_choice", ... */
MILL_API const char *mill_output_type_str(enum mill_output_type t); /* "generate_until", ... */
/* The configured type, or the one Mill infers from the output type. */
MILL_API enum mill_task_type mill_task_effective_type(const struct mill_task_config *t);
/* Count of a NULL-terminated string list (NULL counts 0). */
MILL_API size_t mill_strv_len(const char *const *v);

#ifdef __cplusplus
}
#endif

#endif
