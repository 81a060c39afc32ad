/* toy.c: a --task_paths plugin used by the CLI tests, built against the public headers only
 * (include/mill/), exactly as a user's plugin would be. Its data are JSON Lines files found
 * relative to the plugin's own directory (toy_data/). Tasks:
 *   toy_qa   generative QA, 2-shot from `train`, metric exact_match
 *   toy_mc   generative multiple choice with a letter gold, metrics exact_match, contains_answer
 *   toy_lp   log-prob multiple choice (to test up-front rejection)
 *   toy_cloze log-prob choices " car", " apple", ... with one shot from its own split, so
 *            continuations span several tokens and questions share a prefix
 *   toy_ppl  perplexity of the QA answers' questions (rolling log-likelihood)
 *   toy_long generative QA with no stop string and a 1024-token budget over 16 questions
 *            (toy_data/long_test.jsonl): long generations that must share the KV cache
 *   toy_img  generative multiple choice that declares image + text input (to test the
 *            modalities rejection)
 *   toy_zs   zero-shot classification (to test the task-type rejection)
 *   toy_folder  a folder of images per split (toy_data/folder/{test,train}, written by the
 *            test that uses it), read as datasets' imagefolder: the gold is the label
 * and the benchmarks `toy` = toy_qa + toy_mc and `toy_slow` = toy_long + toy_mc (a first task
 * whose last batch is long to answer), rolled up on exact_match. */
#include <mill/task.h>

#include <stdio.h>
#include <string.h>

static int qa_prompt(const struct mill_task_config *t, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "q"));
    const char *a = mill_value_as_str(mill_value_get(row, "a"));
    if (!q || !a) {
        snprintf(err->msg, sizeof err->msg, "%s: row needs q and a", t->name);
        return err->code = MILL_EFORMAT;
    }
    if (!strcmp(q, "skip me"))
        return MILL_SKIP;
    char query[512];
    snprintf(query, sizeof query, "Q: %s\nA:", q);
    if (mill_doc_set_query(doc, query) || mill_doc_set_target_str(doc, a))
        return MILL_ENOMEM;
    return mill_doc_meta_set_str(doc, "kind", "qa");
}

/* An image of the folder, its choices the three class names, its gold the row's label. */
static int folder_prompt(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, struct mill_err *err) {
    const struct mill_value *im = mill_value_get(row, "image");
    const struct mill_value *bytes = mill_value_get(im, "bytes");
    int64_t label;
    if (!bytes || bytes->kind != MILL_V_BYTES ||
        mill_value_as_int(mill_value_get(row, "label"), &label)) {
        snprintf(err->msg, sizeof err->msg, "%s: row needs image and label", t->name);
        return err->code = MILL_EFORMAT;
    }
    static const char *const names[] = {"cat", "dog", "zebra"};
    for (int i = 0; i < 3; i++)
        if (mill_doc_add_choice(doc, names[i]))
            return MILL_ENOMEM;
    doc->target_index = label;
    if (mill_doc_set_query(doc, "") ||
        mill_doc_add_media(doc, MILL_MOD_IMAGE, bytes->u.s.p, bytes->u.s.n, NULL))
        return MILL_ENOMEM;
    const char *path = mill_value_as_str(mill_value_get(im, "path"));
    return mill_doc_meta_set_str(doc, "path", path ? path : "");
}

static int mc_prompt(const struct mill_task_config *t, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "question"));
    const struct mill_value *opts = mill_value_get(row, "options");
    int64_t gold;
    if (!q || !opts || opts->kind != MILL_V_LIST ||
        mill_value_as_int(mill_value_get(row, "answer"), &gold)) {
        snprintf(err->msg, sizeof err->msg, "%s: row needs question, options, answer", t->name);
        return err->code = MILL_EFORMAT;
    }
    char query[1024];
    size_t n = (size_t)snprintf(query, sizeof query, "%s\n", q);
    for (size_t i = 0; i < opts->u.list.n && n < sizeof query; i++) {
        const char *o = mill_value_as_str(&opts->u.list.items[i]);
        n += (size_t)snprintf(query + n, sizeof query - n, "%c) %s\n", (char)('A' + i), o ? o : "");
        char letter[2] = {(char)('A' + i), 0};
        if (mill_doc_add_choice(doc, letter))
            return MILL_ENOMEM;
    }
    if (n < sizeof query)
        snprintf(query + n, sizeof query - n, "Answer:");
    char gl[2] = {(char)('A' + gold), 0};
    if (mill_doc_set_query(doc, query) || mill_doc_set_target_str(doc, gl))
        return MILL_ENOMEM;
    return mill_doc_meta_set(doc, "options", opts);
}

static int cloze_prompt(const struct mill_task_config *t, const struct mill_value *row,
                        struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "question"));
    const struct mill_value *opts = mill_value_get(row, "options");
    int64_t gold;
    if (!q || !opts || opts->kind != MILL_V_LIST ||
        mill_value_as_int(mill_value_get(row, "answer"), &gold)) {
        snprintf(err->msg, sizeof err->msg, "%s: row needs question, options, answer", t->name);
        return err->code = MILL_EFORMAT;
    }
    char query[512];
    snprintf(query, sizeof query, "Question: %s\nAnswer:", q);
    for (size_t i = 0; i < opts->u.list.n; i++) {
        char c[256];
        const char *o = mill_value_as_str(&opts->u.list.items[i]);
        snprintf(c, sizeof c, " %s", o ? o : "");
        if (mill_doc_add_choice(doc, c))
            return MILL_ENOMEM;
    }
    doc->target_index = gold;
    return mill_doc_set_query(doc, query);
}

static int ppl_prompt(const struct mill_task_config *t, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "q"));
    if (!q) {
        snprintf(err->msg, sizeof err->msg, "%s: row needs q", t->name);
        return err->code = MILL_EFORMAT;
    }
    return mill_doc_set_query(doc, q);
}

static const char *const qa_files[] = {"train=toy_data/qa_train.jsonl",
                                       "test=toy_data/qa_test.jsonl", NULL};
static const char *const mc_files[] = {"test=toy_data/mc_test.jsonl", NULL};
static const char *const folder_files[] = {"test=toy_data/folder/test/**",
                                           "train=toy_data/folder/train/**", NULL};
static const char *const test_only[] = {"test", NULL};
/* toy_mc's data at a revision of a Hub repo (test_hub_e2e.sh serves it) */
static const char *const hub_mc_files[] = {"test=hf://datasets/toy/mc@v2/test/*.jsonl", NULL};
static const char *const long_files[] = {"train=toy_data/qa_train.jsonl",
                                         "test=toy_data/long_test.jsonl", NULL};
static const char *const em[] = {"exact_match", NULL};
static const char *const mc_metrics[] = {"exact_match", "contains_answer", NULL};
static const char *const acc[] = {"acc", NULL};
static const char *const cloze_metrics[] = {"acc", "acc_norm", NULL};
static const char *const ppl[] = {"perplexity", NULL};
static const char *const stops[] = {"\n", NULL};
static const char *const train_test[] = {"test", NULL};
static const char *const both_splits[] = {"train", "test", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "toy_qa",
     .hf_data_files = qa_files,
     .evaluation_splits = train_test,
     .few_shots_split = "train",
     .prompt = qa_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 16,
     .stop_sequences = stops,
     .n_shots = 2,
     .metrics = em,
     .description = "toy generative QA"},
    {.name = "toy_mc",
     .hf_data_files = mc_files,
     .prompt = mc_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 8,
     .metrics = mc_metrics},
    {.name = "toy_hub_mc",
     .hf_data_files = hub_mc_files,
     .prompt = mc_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 8,
     .metrics = mc_metrics,
     .description = "toy_mc from hf://datasets/toy/mc@v2"},
    {.name = "toy_lp",
     .hf_data_files = mc_files,
     .prompt = mc_prompt,
     .output_type = MILL_OUT_LOGPROBS,
     .metrics = acc},
    {.name = "toy_cloze",
     .hf_data_files = mc_files,
     .prompt = cloze_prompt,
     .output_type = MILL_OUT_LOGPROBS,
     .n_shots = 1,
     .metrics = cloze_metrics},
    {.name = "toy_two",
     .hf_data_files = qa_files,
     .evaluation_splits = both_splits,
     .prompt = qa_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 16,
     .stop_sequences = stops,
     .metrics = em,
     .description = "toy generative QA over two evaluation splits"},
    {.name = "toy_long",
     .hf_data_files = long_files,
     .evaluation_splits = train_test,
     .few_shots_split = "train",
     .prompt = qa_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 1024,
     .n_shots = 2,
     .metrics = em,
     .description = "toy generative QA with long generations"},
    {.name = "toy_ppl",
     .hf_data_files = qa_files,
     .prompt = ppl_prompt,
     .output_type = MILL_OUT_PERPLEXITY,
     .metrics = ppl},
    {.name = "toy_img",
     .hf_data_files = mc_files,
     .prompt = mc_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .metrics = em},
    {.name = "toy_folder",
     .hf_data_files = folder_files,
     .evaluation_splits = test_only,
     .prompt = folder_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_IMAGE,
     .metrics = acc},
    {.name = "toy_zs",
     .hf_data_files = mc_files,
     .prompt = mc_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .metrics = acc},
};

static const char *const toy_tasks[] = {"toy_qa", "toy_mc", NULL};
static const char *const slow_tasks[] = {"toy_long", "toy_mc", NULL};
static const struct mill_benchmark_config benchmarks[] = {
    {.name = "toy", .task_names = toy_tasks, .metric_names = em},
    {.name = "toy_slow", .task_names = slow_tasks, .metric_names = em},
};

const struct mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, sizeof tasks / sizeof tasks[0],
                                             tasks};
const struct mill_benchmarks_table BENCHMARKS_TABLE = {
    MILL_ABI_VERSION, sizeof benchmarks / sizeof benchmarks[0], benchmarks};
