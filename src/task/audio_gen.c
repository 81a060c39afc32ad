/* audio_gen.c: the generative audio tasks, as Mill runs them for audio-language models
 * (BEHAVIOUR.md §4.6, §4.7). Each doc's one medium is the row's "audio" column (the Hub's
 * {bytes, path} struct, the encoded clip in bytes, or plain bytes); the backend decodes it.
 *  - clotho_aqa: lmms-lab/ClothoAQA, config clotho_aqa, split clotho_aqa_test_filtered (also
 *    clotho_aqa_val_filtered); a port of lmms-eval's clotho_aqa_test. Query
 *    f"{question.strip()} Answer the question using a single word only.", gold str(answer)
 *    (a null answer reads "None", as Python's str(None)); metadata question; 8 new tokens;
 *    clotho_aqa_exact_match. Paper: arxiv.org/abs/2204.09634.
 *  - esc50_generative: ashraq/esc50, split train (2,000 clips, 50 classes, label `target`);
 *    urbansound8k_generative: danavery/urbansound8K, split train (8,732 clips, 10 classes,
 *    label `classID`). Query "Listen to the audio and identify the sound. Choose exactly one
 *    category from the list and answer with the category name only.\nCategories: a, b, ...."
 *    with the class names ("_" made a space); gold the class name; metadata category; 32 new
 *    tokens; esc50_gen_acc / urbansound8k_gen_acc, the longest-contained-class rule
 *    (metric/audio.c), which reads the class names from the doc's choices: the doc carries
 *    them there (Python Mill's Doc has none; nothing but `mill prompts` shows them).
 * A row without audio bytes, or with a label outside the classes, fails its sample. The class
 * sets and the audio column are audio.c's, shared with the CLAP tasks, as are the benchmarks
 * clotho_aqa, esc50 and urbansound8k, which pick these or the CLAP zero-shot variants by
 * model. */
#include "task/audio.h"
#include "task/tasks.h"

#include "core/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_INSTRUCTION                                                                      \
    "Listen to the audio and identify the sound. Choose exactly one category from the list " \
    "and answer with the category name only.\nCategories: "

/* Python's str() of the answer column: a string as it is, null "None", an integer in decimal,
 * a boolean "True"/"False", absent "". */
static int answer_text(const struct mill_value *v, char *num, size_t cap, const char **out) {
    if (!v)
        *out = "";
    else if (v->kind == MILL_V_STR)
        *out = v->u.s.p;
    else if (v->kind == MILL_V_NULL)
        *out = "None";
    else if (v->kind == MILL_V_BOOL)
        *out = v->u.b ? "True" : "False";
    else if (v->kind == MILL_V_INT && snprintf(num, cap, "%" PRId64, v->u.i) > 0)
        *out = num;
    else
        return MILL_EFORMAT;
    return 0;
}

static int clotho_prompt(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, struct mill_err *err) {
    const struct mill_value *qv = mill_value_get(row, "question");
    const char *q = mill_value_as_str(qv), *gold = NULL;
    char num[32];
    if (qv && qv->kind != MILL_V_NULL && !q)
        return mill_err_set(err, MILL_EFORMAT, "%s: the question is not a string", t->name);
    if (answer_text(mill_value_get(row, "answer"), num, sizeof num, &gold))
        return mill_err_set(err, MILL_EFORMAT, "%s: the answer is not a string", t->name);
    char *question = mill_py_strip(q ? q : "");
    struct mill_buf b = {0};
    int rc = question
                 ? mill_buf_addf(&b, "%s Answer the question using a single word only.", question)
                 : MILL_ENOMEM;
    if (!rc)
        rc = mill_doc_set_query(doc, b.p);
    if (!rc)
        rc = mill_doc_set_target_str(doc, gold);
    if (!rc)
        rc = mill_doc_meta_set_str(doc, "question", question);
    free(question);
    mill_buf_free(&b);
    return rc ? mill_err_set(err, rc, "out of memory") : mill_task_add_audio(t, row, doc, err);
}

/* Query "<instruction>a, b, ...." over the class names, gold the class name; the rest of the
 * doc is audio.c's. */
static int gen_prompt(const struct mill_task_config *t, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err) {
    size_t cls;
    int rc = mill_audio_class_doc(t, row, doc, &cls, err);
    if (rc)
        return rc;
    if (mill_doc_meta_set_str(doc, "category", doc->choices[cls]))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    struct mill_buf q = {0};
    rc = mill_buf_adds(&q, GEN_INSTRUCTION);
    for (size_t i = 0; !rc && i < doc->n_choices; i++) {
        if (i)
            rc = mill_buf_adds(&q, ", ");
        if (!rc)
            rc = mill_buf_adds(&q, doc->choices[i]);
    }
    if (!rc)
        rc = mill_buf_addc(&q, '.');
    if (!rc)
        rc = mill_doc_set_query(doc, q.p);
    if (!rc)
        rc = mill_doc_set_target_str(doc, doc->choices[cls]);
    mill_buf_free(&q);
    return rc ? mill_err_set(err, rc, "out of memory") : 0;
}

static const char *const clotho_splits[] = {"clotho_aqa_test_filtered", "clotho_aqa_val_filtered",
                                            NULL};
static const char *const clotho_eval[] = {"clotho_aqa_test_filtered", NULL};
static const char *const train[] = {"train", NULL};
static const char *const clotho_cols[] = {"question", "answer", "audio", NULL};
static const char *const esc50_cols[] = {"target", "audio", NULL};
static const char *const us8k_cols[] = {"classID", "audio", NULL};
static const char *const clotho_metrics[] = {"clotho_aqa_exact_match", NULL};
static const char *const esc50_metrics[] = {"esc50_gen_acc", NULL};
static const char *const us8k_metrics[] = {"urbansound8k_gen_acc", NULL};
static const char *const clotho_cats[] = {"audio", "question-answering", NULL};
static const char *const clotho_caps[] = {"audio understanding", "acoustic reasoning", NULL};
static const char *const class_cats[] = {"audio", "audio-classification", "question-answering",
                                         NULL};
static const char *const class_caps[] = {"audio understanding", "audio recognition", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "clotho_aqa",
     .version = 1,
     .hf_repo = "lmms-lab/ClothoAQA",
     .hf_subset = "clotho_aqa",
     .hf_avail_splits = clotho_splits,
     .evaluation_splits = clotho_eval,
     .columns = clotho_cols,
     .prompt = clotho_prompt,
     .task_type = MILL_TASK_GENERATIVE_QA,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_AUDIO | MILL_MOD_TEXT,
     .generation_size = 8,
     .metrics = clotho_metrics,
     .description = "Clotho-AQA: crowdsourced audio question answering. Each 15-30 s audio clip "
                    "is paired with a question whose answer is a single word (often yes/no); an "
                    "audio-language model answers in one word, graded by case/punctuation-"
                    "insensitive exact match.",
     .categories = clotho_cats,
     .capabilities = clotho_caps,
     .paper_url = "https://arxiv.org/abs/2204.09634",
     .approx_num_samples = 1442},
    {.name = "esc50_generative",
     .version = 1,
     .hf_repo = "ashraq/esc50",
     .hf_avail_splits = train,
     .evaluation_splits = train,
     .columns = esc50_cols,
     .prompt = gen_prompt,
     .task_type = MILL_TASK_GENERATIVE_QA,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_AUDIO | MILL_MOD_TEXT,
     .generation_size = 32,
     .metrics = esc50_metrics,
     .description = "ESC-50 generative environmental sound classification: an audio-language "
                    "model hears the clip and answers with one of 50 category names, matched "
                    "back to a class.",
     .categories = class_cats,
     .capabilities = class_caps,
     .paper_url = "https://github.com/karolpiczak/ESC-50",
     .approx_num_samples = 2000,
     .user = &mill_esc50_classes},
    {.name = "urbansound8k_generative",
     .version = 1,
     .hf_repo = "danavery/urbansound8K",
     .hf_avail_splits = train,
     .evaluation_splits = train,
     .columns = us8k_cols,
     .prompt = gen_prompt,
     .task_type = MILL_TASK_GENERATIVE_QA,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_AUDIO | MILL_MOD_TEXT,
     .generation_size = 32,
     .metrics = us8k_metrics,
     .description = "UrbanSound8K generative urban sound classification: an audio-language "
                    "model hears the clip and answers with one of 10 category names, matched "
                    "back to a class.",
     .categories = class_cats,
     .capabilities = class_caps,
     .paper_url = "https://urbansounddataset.weebly.com/urbansound8k.html",
     .approx_num_samples = 8732,
     .user = &mill_us8k_classes},
};

const struct mill_tasks_table mill_tasks_audio_gen = {MILL_ABI_VERSION, 3, tasks};
