/* mmlu.c: MMLU (Hendrycks et al., 2021, https://arxiv.org/abs/2009.03300) as Mill runs it
 * (BEHAVIOUR.md §4.1): dataset cais/mmlu, one config per subject, evaluation split `test`, 5 shots
 * drawn from `dev`, log-probability scoring of the choices " A".." D", metric acc, and the
 * `mmlu` benchmark as the unweighted mean over the 57 subjects. */
#include "task/tasks.h"

#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define MMLU_SUBJECTS(X) \
    X(abstract_algebra) X(anatomy) X(astronomy) X(business_ethics) X(clinical_knowledge) \
    X(college_biology) X(college_chemistry) X(college_computer_science) \
    X(college_mathematics) X(college_medicine) X(college_physics) X(computer_security) \
    X(conceptual_physics) X(econometrics) X(electrical_engineering) \
    X(elementary_mathematics) X(formal_logic) X(global_facts) X(high_school_biology) \
    X(high_school_chemistry) X(high_school_computer_science) \
    X(high_school_european_history) X(high_school_geography) \
    X(high_school_government_and_politics) X(high_school_macroeconomics) \
    X(high_school_mathematics) X(high_school_microeconomics) X(high_school_physics) \
    X(high_school_psychology) X(high_school_statistics) X(high_school_us_history) \
    X(high_school_world_history) X(human_aging) X(human_sexuality) X(international_law) \
    X(jurisprudence) X(logical_fallacies) X(machine_learning) X(management) X(marketing) \
    X(medical_genetics) X(miscellaneous) X(moral_disputes) X(moral_scenarios) X(nutrition) \
    X(philosophy) X(prehistory) X(professional_accounting) X(professional_law) \
    X(professional_medicine) X(professional_psychology) X(public_relations) \
    X(security_studies) X(sociology) X(us_foreign_policy) X(virology) X(world_religions)
/* clang-format on */

static const char *const letters[] = {" A", " B", " C", " D"};

/* "The following are multiple choice questions (with answers) about {subject}.\n\n
 *  Question: {question.strip()}\nA. {o0}\nB. {o1}\nC. {o2}\nD. {o3}\nAnswer:" */
static int mmlu_prompt(const struct mill_task_config *task, const struct mill_value *row,
                       struct mill_doc *doc, struct mill_err *err) {
    const char *subject = task->user;
    const char *question = mill_value_as_str(mill_value_get(row, "question"));
    const struct mill_value *choices = mill_value_get(row, "choices");
    int64_t answer;
    if (!question || !choices || choices->kind != MILL_V_LIST || choices->u.list.n != 4 ||
        mill_value_as_int(mill_value_get(row, "answer"), &answer) || answer < 0 || answer > 3)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: row needs question (string), choices (4 strings) and answer "
                            "(0-3)",
                            task->name);
    for (size_t i = 0; i < 4; i++)
        if (!mill_value_as_str(&choices->u.list.items[i]))
            return mill_err_set(err, MILL_EFORMAT, "%s: choice %zu is not a string", task->name, i);
    char *topic = mill_str_replace(subject, "_", " ");
    char *q = mill_py_strip(question);
    struct mill_buf b = {0};
    int rc = topic && q ? 0 : MILL_ENOMEM;
    if (!rc) {
        mill_buf_addf(&b,
                      "The following are multiple choice questions (with answers) about "
                      "%s.\n\nQuestion: %s\n",
                      topic, q);
        for (size_t i = 0; i < 4; i++)
            mill_buf_addf(&b, "%c. %s\n", (char)('A' + i),
                          mill_value_as_str(&choices->u.list.items[i]));
        rc = mill_buf_adds(&b, "Answer:");
    }
    if (!rc)
        rc = mill_doc_set_query(doc, b.p);
    for (size_t i = 0; !rc && i < 4; i++)
        rc = mill_doc_add_choice(doc, letters[i]);
    if (!rc)
        rc = mill_doc_meta_set_str(doc, "subject", subject);
    doc->target_index = answer;
    free(topic);
    free(q);
    mill_buf_free(&b);
    return rc ? mill_err_set(err, rc, "out of memory") : 0;
}

static const char *const mmlu_metrics[] = {"acc", NULL};
static const char *const mmlu_splits[] = {"dev", "validation", "test", NULL};
static const char *const mmlu_eval[] = {"test", NULL};
static const char *const mmlu_categories[] = {"knowledge", "reasoning", NULL};
static const char *const mmlu_columns[] = {"question", "choices", "answer", NULL};

#define MMLU_TASK(s)                                  \
    {.name = "mmlu_" #s,                              \
     .version = 1,                                    \
     .hf_repo = "cais/mmlu",                          \
     .hf_subset = #s,                                 \
     .hf_avail_splits = mmlu_splits,                  \
     .evaluation_splits = mmlu_eval,                  \
     .few_shots_split = "dev",                        \
     .columns = mmlu_columns,                         \
     .prompt = mmlu_prompt,                           \
     .task_type = MILL_TASK_MULTIPLE_CHOICE,          \
     .output_type = MILL_OUT_LOGPROBS,                \
     .input_modalities = MILL_MOD_TEXT,               \
     .n_shots = 5,                                    \
     .metrics = mmlu_metrics,                         \
     .description = "MMLU: " #s,                      \
     .categories = mmlu_categories,                   \
     .paper_url = "https://arxiv.org/abs/2009.03300", \
     .user = #s},

static const struct mill_task_config mmlu_tasks[] = {MMLU_SUBJECTS(MMLU_TASK)};

#define MMLU_NAME(s) "mmlu_" #s,
static const char *const mmlu_task_names[] = {MMLU_SUBJECTS(MMLU_NAME) NULL};

static const struct mill_benchmark_config mmlu_benchmarks[] = {{
    .name = "mmlu",
    .task_names = mmlu_task_names,
    .metric_names = mmlu_metrics,
    .description = "Massive Multitask Language Understanding: 57 subjects, 5-shot, log-prob",
    .categories = mmlu_categories,
    .paper_url = "https://arxiv.org/abs/2009.03300",
}};

const struct mill_tasks_table mill_tasks_mmlu = {
    MILL_ABI_VERSION, sizeof mmlu_tasks / sizeof mmlu_tasks[0], mmlu_tasks};
const struct mill_benchmarks_table mill_benchmarks_mmlu = {MILL_ABI_VERSION, 1, mmlu_benchmarks};
