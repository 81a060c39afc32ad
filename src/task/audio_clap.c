/* audio_clap.c: the zero-shot audio tasks, as Mill runs them for contrastive audio-text models
 * such as CLAP (BEHAVIOUR.md §4.6, §4.7). Each doc's one medium is the row's "audio" column
 * (the Hub's {bytes, path} struct, or plain bytes); the backend decodes it.
 *  - esc50: ashraq/esc50, split train (2,000 clips, 50 classes, label `target`);
 *    urbansound8k: danavery/urbansound8K, split train (8,732 clips, 10 classes, label
 *    `classID`). The choices are the class names in label order ("_" made a space), the gold
 *    the label; the one template "This is a sound of {c}."; metric acc; no metadata (as
 *    Python Mill's Doc).
 *  - clotho_aqa_clap: lmms-lab/ClothoAQA, config clotho_aqa, split clotho_aqa_test_filtered;
 *    as Python Mill: the choices are the captions f"{question} yes".strip() and
 *    f"{question} no".strip() (the question stripped, "" when absent), template "{c}", gold 1
 *    when str(answer).strip().lower() is "no", else 0 (every row is kept); metric acc;
 *    metadata question and options (["yes", "no"]).
 * A row without audio bytes, or with a label outside the classes, fails its sample. The
 * benchmarks that pick these or the generative variants (audio_gen.c) by model, the class
 * sets and the audio column are audio.c's. */
#include "task/audio.h"
#include "task/tasks.h"

#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every class name ("_" made a space) as a choice; gold cls. */
static int class_prompt(const struct mill_task_config *t, const struct mill_value *row,
                        struct mill_doc *doc, struct mill_err *err) {
    size_t cls;
    int rc = mill_audio_class_doc(t, row, doc, &cls, err);
    if (rc)
        return rc;
    doc->target_index = (int64_t)cls;
    return mill_doc_set_query(doc, "") ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
}

/* Python Mill's ["yes", "no"].index(gold) if gold in it else 0, gold =
 * str(answer).strip().lower(): 1 for "no", else 0. */
static int yes_no(const char *answer) {
    char *g = answer ? mill_py_strip(answer) : NULL;
    int no = g && !strcasecmp(g, "no");
    free(g);
    return no;
}

static int clotho_clap_prompt(const struct mill_task_config *t, const struct mill_value *row,
                              struct mill_doc *doc, struct mill_err *err) {
    const struct mill_value *qv = mill_value_get(row, "question");
    const char *q = mill_value_as_str(qv);
    if (qv && qv->kind != MILL_V_NULL && !q)
        return mill_err_set(err, MILL_EFORMAT, "%s: the question is not a string", t->name);
    int gold = yes_no(mill_value_as_str(mill_value_get(row, "answer")));
    char *question = mill_py_strip(q ? q : "");
    char *yes = question ? mill_py_join_strip(question, "yes") : NULL;
    char *no = question ? mill_py_join_strip(question, "no") : NULL;
    int rc = yes && no ? mill_doc_set_query(doc, "") : MILL_ENOMEM;
    if (!rc)
        rc = mill_doc_add_choice(doc, yes);
    if (!rc)
        rc = mill_doc_add_choice(doc, no);
    if (!rc)
        rc = mill_doc_meta_set_str(doc, "question", question);
    if (!rc)
        rc = mill_doc_meta_set_strv(doc, "options", (const char *const[]){"yes", "no"}, 2);
    doc->target_index = gold;
    free(question);
    free(yes);
    free(no);
    return rc ? mill_err_set(err, rc, "out of memory") : mill_task_add_audio(t, row, doc, err);
}

static const char *const clotho_splits[] = {"clotho_aqa_test_filtered", "clotho_aqa_val_filtered",
                                            NULL};
static const char *const clotho_eval[] = {"clotho_aqa_test_filtered", NULL};
static const char *const train[] = {"train", NULL};
static const char *const clotho_cols[] = {"question", "answer", "audio", NULL};
static const char *const esc50_cols[] = {"target", "audio", NULL};
static const char *const us8k_cols[] = {"classID", "audio", NULL};
static const char *const acc[] = {"acc", NULL};
static const char *const sound_template[] = {"This is a sound of {c}.", NULL};
static const char *const caption_template[] = {"{c}", NULL};
static const char *const clotho_cats[] = {"audio", "question-answering", NULL};
static const char *const class_cats[] = {"audio", "audio-classification", NULL};
static const char *const caps[] = {"audio understanding", "audio recognition", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "esc50",
     .version = 1,
     .hf_repo = "ashraq/esc50",
     .hf_avail_splits = train,
     .evaluation_splits = train,
     .columns = esc50_cols,
     .prompt = class_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_AUDIO,
     .zeroshot_templates = sound_template,
     .metrics = acc,
     .description = "ESC-50 zero-shot environmental sound classification: each clip scored "
                    "against \"This is a sound of {c}.\" for the 50 categories.",
     .categories = class_cats,
     .capabilities = caps,
     .paper_url = "https://github.com/karolpiczak/ESC-50",
     .approx_num_samples = 2000,
     .user = &mill_esc50_classes},
    {.name = "urbansound8k",
     .version = 1,
     .hf_repo = "danavery/urbansound8K",
     .hf_avail_splits = train,
     .evaluation_splits = train,
     .columns = us8k_cols,
     .prompt = class_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_AUDIO,
     .zeroshot_templates = sound_template,
     .metrics = acc,
     .description = "UrbanSound8K zero-shot urban sound classification: each clip scored "
                    "against \"This is a sound of {c}.\" for the 10 categories.",
     .categories = class_cats,
     .capabilities = caps,
     .paper_url = "https://urbansounddataset.weebly.com/urbansound8k.html",
     .approx_num_samples = 8732,
     .user = &mill_us8k_classes},
    {.name = "clotho_aqa_clap",
     .version = 1,
     .hf_repo = "lmms-lab/ClothoAQA",
     .hf_subset = "clotho_aqa",
     .hf_avail_splits = clotho_splits,
     .evaluation_splits = clotho_eval,
     .columns = clotho_cols,
     .prompt = clotho_clap_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_AUDIO,
     .zeroshot_templates = caption_template,
     .metrics = acc,
     .description = "Clotho-AQA for contrastive audio-text models: each yes/no question scored "
                    "as the captions \"{question} yes\" and \"{question} no\".",
     .categories = clotho_cats,
     .capabilities = caps,
     .paper_url = "https://arxiv.org/abs/2204.09634",
     .approx_num_samples = 1442},
};

const struct mill_tasks_table mill_tasks_audio_clap = {MILL_ABI_VERSION, 3, tasks};
