/* override.c: a --task_paths plugin that redefines toy_qa (tests/plugins/toy.c) with another
 * description, and registers a custom metric through METRICS_TABLE, for
 * tests/cli/test_registry.sh:
 *   toy_qa        same data as toy's (toy_data/ next to this plugin), 0-shot; loaded after
 *                 toy.so it replaces toy's definition (the last registration wins)
 *   override_one  toy's QA data scored with the plugin's own metric `always_one` (1.0 for every
 *                 sample with a generated text), to check a plugin metric end to end */
#include <mill/metric.h>

#include <stdio.h>
#include <string.h>

static int qa_prompt(const struct mill_task_config *t, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "q"));
    const char *a = mill_value_as_str(mill_value_get(row, "a"));
    if (!q || !a)
        return mill_err_set(err, MILL_EFORMAT, "%s: row needs q and a", t->name);
    if (!strcmp(q, "skip me"))
        return MILL_SKIP;
    char query[512];
    snprintf(query, sizeof query, "Q: %s\nA:", q);
    if (mill_doc_set_query(doc, query) || mill_doc_set_target_str(doc, a))
        return MILL_ENOMEM;
    return 0;
}

static int always_one(const struct mill_doc *doc, const struct mill_sample_result *res,
                      const struct mill_metric_ctx *ctx, double *out, struct mill_err *err) {
    (void)doc;
    if (!res->text)
        return mill_err_set(err, MILL_EINVAL, "task %s: always_one needs a text", ctx->task);
    *out = 1.0;
    return 0;
}

static const struct mill_metric metrics[] = {
    {"always_one", true, always_one},
};

static const char *const qa_files[] = {"train=toy_data/qa_train.jsonl",
                                       "test=toy_data/qa_test.jsonl", NULL};
static const char *const em[] = {"exact_match", NULL};
static const char *const one[] = {"always_one", NULL};
static const char *const stops[] = {"\n", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "toy_qa",
     .hf_data_files = qa_files,
     .prompt = qa_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 16,
     .stop_sequences = stops,
     .metrics = em,
     .description = "toy QA overridden by override.so"},
    {.name = "override_one",
     .hf_data_files = qa_files,
     .prompt = qa_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 16,
     .stop_sequences = stops,
     .metrics = one,
     .description = "toy QA scored by the plugin metric always_one"},
};

const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, sizeof tasks / sizeof tasks[0],
                                             tasks};
const struct mill_metrics_table METRICS_TABLE = {MILL_ABI_VERSION, 1, metrics};
