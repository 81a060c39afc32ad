/* mmlu_pro.c: MMLU-Pro (Wang et al., 2024, https://arxiv.org/abs/2406.01574) as Mill runs it
 * (BEHAVIOUR.md §4.2), mirroring lighteval's mmlu_pro: TIGER-Lab/MMLU-Pro at a pinned revision, split
 * `test`, 0-shot chain-of-thought prompt, greedy generation of up to 1024 tokens, metric
 * mmlu_pro_acc (three-pattern letter extraction), category in the per-sample metadata. */
#include "task/tasks.h"

#include "core/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* "Answer the following multiple choice question. The last line of your response should be of
 *  the form 'Answer: $LETTER' (without quotes) where $LETTER is one of {LETTERS}. Think step by
 *  step before answering.\n\n{question.strip()}\n\n{A. opt\nB. opt...}\n\nAnswer:" */
static int build_query(const char *question, const struct mill_value *opts, struct mill_buf *b) {
    char *q = mill_py_strip(question);
    if (!q)
        return MILL_ENOMEM;
    size_t n = opts->u.list.n;
    mill_buf_adds(b, "Answer the following multiple choice question. The last line of your "
                     "response should be of the form 'Answer: $LETTER' (without quotes) where "
                     "$LETTER is one of ");
    for (size_t i = 0; i < n; i++)
        mill_buf_addc(b, (char)('A' + i));
    mill_buf_addf(b, ". Think step by step before answering.\n\n%s\n\n", q);
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(b, "%s%c. %s", i ? "\n" : "", (char)('A' + i),
                      mill_value_as_str(&opts->u.list.items[i]));
    free(q);
    return mill_buf_adds(b, "\n\nAnswer:");
}

/* gold = row["answer"], or the letter of answer_index; stripped and uppercased. */
static int gold_letter(const struct mill_value *row, size_t n_opts, char out[2]) {
    const char *a = mill_value_as_str(mill_value_get(row, "answer"));
    int64_t idx;
    out[1] = 0;
    if (a && *a) { /* Python Mill: `if not gold` takes answer_index */
        while (isspace((unsigned char)*a))
            a++;
        out[0] = (char)toupper((unsigned char)*a);
        return out[0] >= 'A' && out[0] < 'A' + (int)n_opts ? 0 : MILL_EFORMAT;
    }
    if (mill_value_as_int(mill_value_get(row, "answer_index"), &idx) || idx < 0 ||
        (size_t)idx >= n_opts)
        return MILL_EFORMAT;
    out[0] = (char)('A' + idx);
    return 0;
}

static int mmlu_pro_prompt(const struct mill_task_config *task, const struct mill_value *row,
                           struct mill_doc *doc, struct mill_err *err) {
    const char *question = mill_value_as_str(mill_value_get(row, "question"));
    const struct mill_value *opts = mill_value_get(row, "options");
    char gold[2];
    if (!question || !opts || opts->kind != MILL_V_LIST || opts->u.list.n == 0 ||
        opts->u.list.n > 26 || gold_letter(row, opts->u.list.n, gold))
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: row needs question, options (a list of "
                            "strings) and answer / answer_index",
                            task->name);
    for (size_t i = 0; i < opts->u.list.n; i++)
        if (!mill_value_as_str(&opts->u.list.items[i]))
            return mill_err_set(err, MILL_EFORMAT, "%s: option %zu is not a string", task->name, i);
    struct mill_buf b = {0};
    int rc = build_query(question, opts, &b);
    if (!rc)
        rc = mill_doc_set_query(doc, b.p);
    for (size_t i = 0; !rc && i < opts->u.list.n; i++) {
        char letter[2] = {(char)('A' + i), 0};
        rc = mill_doc_add_choice(doc, letter);
    }
    if (!rc)
        rc = mill_doc_set_target_str(doc, gold);
    const struct mill_value *cat = mill_value_get(row, "category");
    const struct mill_value *ai = mill_value_get(row, "answer_index");
    if (!rc && cat)
        rc = mill_doc_meta_set(doc, "category", cat);
    if (!rc && ai)
        rc = mill_doc_meta_set(doc, "answer_index", ai);
    mill_buf_free(&b);
    return rc ? mill_err_set(err, rc, "out of memory") : 0;
}

static const char *const metrics[] = {"mmlu_pro_acc", NULL};
static const char *const eval_splits[] = {"test", NULL};
static const char *const splits[] = {"validation", "test", NULL};
static const char *const columns[] = {"question",     "options",  "answer",
                                      "answer_index", "category", NULL};
static const char *const categories[] = {"knowledge", "reasoning", NULL};

static const struct mill_task_config tasks[] = {{
    .name = "mmlu_pro",
    .version = 1,
    .hf_repo = "TIGER-Lab/MMLU-Pro",
    .hf_subset = "default",
    .hf_revision = "3373e0b32277875b8db2aa555a333b78a08477ea",
    .hf_avail_splits = splits,
    .evaluation_splits = eval_splits,
    .few_shots_split = "validation",
    .columns = columns,
    .prompt = mmlu_pro_prompt,
    .task_type = MILL_TASK_MULTIPLE_CHOICE,
    .output_type = MILL_OUT_GENERATIVE,
    .input_modalities = MILL_MOD_TEXT,
    .generation_size = 1024,
    .n_shots = 0,
    .metrics = metrics,
    .description = "MMLU-Pro: 10-option multiple choice, 0-shot chain of thought",
    .categories = categories,
    .paper_url = "https://arxiv.org/abs/2406.01574",
    .approx_num_samples = 12032,
}};

static const char *const bench_tasks[] = {"mmlu_pro", NULL};
static const struct mill_benchmark_config benchmarks[] = {{
    .name = "mmlu_pro",
    .task_names = bench_tasks,
    .metric_names = metrics,
    .description = "MMLU-Pro (generative chain of thought)",
    .categories = categories,
    .paper_url = "https://arxiv.org/abs/2406.01574",
}};

const struct mill_tasks_table mill_tasks_mmlu_pro = {MILL_ABI_VERSION, 1, tasks};
const struct mill_benchmarks_table mill_benchmarks_mmlu_pro = {MILL_ABI_VERSION, 1, benchmarks};
