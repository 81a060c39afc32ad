/* capitals.c: an example Mill task plugin, built against the installed headers only (see
 * README.md in this folder). It defines
 *   - the task `capitals`: which city is the capital of a country, asked as a multiple-choice
 *     question with lettered options; the model generates its answer (no log-probabilities
 *     needed, so every backend that generates text can run it);
 *   - the metric `choice_match`: 1.0 when the generated text picks the gold option, by its
 *     letter ("B", "(B) ...", "B. ...") or by the option's text ("paris"), else 0.0.
 * Data: data/capitals.jsonl next to this plugin (one JSON object per line: question, options,
 * answer = index of the right option, region). Mill resolves relative data paths against the
 * directory the .so was loaded from.
 *
 * What Mill asks of a plugin (include/mill/task.h, metric.h): export TASKS_TABLE (and, when it
 * has its own metrics or benchmarks, METRICS_TABLE and BENCHMARKS_TABLE), each stamped with the
 * MILL_ABI_VERSION it was built against. The functions it calls (mill_doc_*, mill_value_*,
 * mill_err_set) are resolved against the `mill` executable at load time, so the plugin is not
 * linked against libmill. A prompt function turns one dataset row into a doc and never sees a
 * model; a metric is a pure function of the doc and the answer, and a missing input is an
 * error (the sample fails), not a guess. */
#include <mill/metric.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The prompt function: one row -> one doc. Returns 0, MILL_SKIP to drop the row (a filter),
 * or a negative MILL_E* with err set (the sample is reported as failed; the run goes on). */
static int capitals_prompt(const struct mill_task_config *t, const struct mill_value *row,
                           struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "question"));
    const struct mill_value *opts = mill_value_get(row, "options");
    int64_t gold;
    if (!q || !opts || opts->kind != MILL_V_LIST ||
        mill_value_as_int(mill_value_get(row, "answer"), &gold))
        return mill_err_set(err, MILL_EFORMAT, "%s: a row needs question, options and answer",
                            t->name);
    size_t n = opts->u.list.n;
    if (n < 2) /* nothing to choose from: leave the row out */
        return MILL_SKIP;
    if (n > 26 || gold < 0 || (size_t)gold >= n)
        return mill_err_set(err, MILL_EFORMAT, "%s: answer %lld is not one of %zu options", t->name,
                            (long long)gold, n);
    char query[2048];
    size_t len = (size_t)snprintf(query, sizeof query, "Question: %s\n", q);
    for (size_t i = 0; i < n; i++) {
        const char *o = mill_value_as_str(&opts->u.list.items[i]);
        if (!o)
            return mill_err_set(err, MILL_EFORMAT, "%s: option %zu is not a string", t->name, i);
        if (len < sizeof query)
            len += (size_t)snprintf(query + len, sizeof query - len, "%c. %s\n", 'A' + (int)i, o);
        /* The choices are the options' texts; the gold is an index into them. */
        if (mill_doc_add_choice(doc, o))
            return MILL_ENOMEM;
    }
    if (len < sizeof query)
        snprintf(query + len, sizeof query - len, "Answer:");
    if (len >= sizeof query)
        return mill_err_set(err, MILL_EFORMAT, "%s: question too long", t->name);
    doc->target_index = gold;
    if (mill_doc_set_query(doc, query))
        return MILL_ENOMEM;
    /* Metadata is copied into the sample's line of the per-sample JSONL file. */
    const char *region = mill_value_as_str(mill_value_get(row, "region"));
    return region ? mill_doc_meta_set_str(doc, "region", region) : 0;
}

/* The option text[0..n) picks (a model may write NUL bytes: the length, not strlen, ends it):
 * a leading letter that is one of the options (optionally in parentheses, and not the start of
 * a word: "I think ..." picks nothing), else an option's whole text, case-insensitive, a final
 * '.' allowed. -1 when it picks none. */
static int64_t picked_option(const struct mill_doc *doc, const char *text, size_t n) {
    while (n && isspace((unsigned char)*text))
        text++, n--;
    size_t k = n && *text == '(';
    const char *p = text + k;
    if (k < n && *p >= 'A' && *p < 'A' + (int)doc->n_choices &&
        (k + 1 == n || !isalnum((unsigned char)p[1])))
        return *p - 'A';
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    if (n && text[n - 1] == '.')
        n--;
    for (size_t i = 0; i < doc->n_choices; i++)
        if (strlen(doc->choices[i]) == n && !strncasecmp(doc->choices[i], text, n))
            return (int64_t)i;
    return -1;
}

/* The metric: one double per sample; Mill averages it and computes the standard error. */
static int choice_match(const struct mill_doc *doc, const struct mill_sample_result *res,
                        const struct mill_metric_ctx *ctx, double *out, struct mill_err *err) {
    if (!res->text || !doc->n_choices || doc->target_index < 0)
        return mill_err_set(err, MILL_EINVAL,
                            "task %s: choice_match needs choices, a gold index "
                            "and a generated text",
                            ctx->task);
    *out = picked_option(doc, res->text, res->text_len) == doc->target_index ? 1.0 : 0.0;
    return 0;
}

static const struct mill_metric metrics[] = {
    {"choice_match", true, choice_match}, /* name, higher is better, function */
};

static const char *const files[] = {"test=data/capitals.jsonl", NULL}; /* split=path */
/* Our metric, and a built-in one for comparison: exact_match wants the option's text verbatim. */
static const char *const capitals_metrics[] = {"choice_match", "exact_match", NULL};
static const char *const stops[] = {"\n", NULL};
static const char *const categories[] = {"knowledge", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "capitals",
     .hf_repo = "", /* local files only */
     .hf_data_files = files,
     .prompt = capitals_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 16, /* new tokens at most */
     .stop_sequences = stops,
     .n_shots = 0,
     .metrics = capitals_metrics,
     .description = "capital cities, multiple choice answered in text (example plugin)",
     .categories = categories,
     .approx_num_samples = 8},
};

const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, sizeof tasks / sizeof tasks[0],
                                             tasks};
const struct mill_metrics_table METRICS_TABLE = {MILL_ABI_VERSION,
                                                 sizeof metrics / sizeof metrics[0], metrics};
