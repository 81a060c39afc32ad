/* audio_clap.c: the zero-shot audio tasks, as Mill runs them for contrastive audio-text models
 * such as CLAP (BEHAVIOUR.md §4.6, §4.7). Each doc's one medium is the row's "audio" column
 * (the Hub's {bytes, path} struct, or plain bytes); the backend decodes it.
 *  - esc50: ashraq/esc50, split train (2,000 clips, 50 classes, label `target`);
 *    urbansound8k: danavery/urbansound8K, split train (8,732 clips, 10 classes, label
 *    `classID`). The choices are the class names in label order ("_" made a space), the gold
 *    the label; the one template "This is a sound of {c}."; metric acc; metadata category.
 *  - clotho_aqa_clap: lmms-lab/ClothoAQA, config clotho_aqa, split clotho_aqa_test_filtered;
 *    the choices are the captions "{question} yes" and "{question} no" (the question
 *    stripped), template "{c}", gold 0 for the answer "yes" and 1 for "no" (case and
 *    surrounding spaces and punctuation ignored); a row whose answer is neither is skipped
 *    (a zero-shot yes/no caption pair cannot express it); metric acc; metadata question.
 * A row without audio bytes, or with a label outside the classes, fails its sample. The
 * benchmarks that pick these or the generative variants (audio_gen.c) by model, the class
 * sets and the audio column are audio.c's. */
#include "task/audio.h"
#include "task/tasks.h"

#include "core/text.h"

#include <mill/buf.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every class name ("_" made a space) as a choice; gold cls; metadata category. */
static int class_prompt(const struct mill_task_config *t, const struct mill_value *row,
                        struct mill_doc *doc, struct mill_err *err) {
    size_t cls;
    int rc = mill_audio_class_doc(t, row, doc, &cls, err);
    if (rc)
        return rc;
    doc->target_index = (int64_t)cls;
    return mill_doc_set_query(doc, "") ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
}

/* 0 for "yes", 1 for "no" (case, surrounding spaces and punctuation ignored), else -1. */
static int yes_no(const char *answer) {
    const char *b = answer, *e = answer + strlen(answer);
    while (b < e && (isspace((unsigned char)*b) || ispunct((unsigned char)*b)))
        b++;
    while (e > b && (isspace((unsigned char)e[-1]) || ispunct((unsigned char)e[-1])))
        e--;
    if (e - b == 3 && !strncasecmp(b, "yes", 3))
        return 0;
    if (e - b == 2 && !strncasecmp(b, "no", 2))
        return 1;
    return -1;
}

static int clotho_clap_prompt(const struct mill_task_config *t, const struct mill_value *row,
                              struct mill_doc *doc, struct mill_err *err) {
    const char *q = mill_value_as_str(mill_value_get(row, "question"));
    const char *a = mill_value_as_str(mill_value_get(row, "answer"));
    if (!q)
        return mill_err_set(err, MILL_EFORMAT, "%s: the question is not a string", t->name);
    int gold = a ? yes_no(a) : -1;
    if (gold < 0)
        return MILL_SKIP;
    char *question = mill_py_strip(q);
    struct mill_buf yes = {0}, no = {0};
    int rc = question ? mill_buf_addf(&yes, "%s yes", question) : MILL_ENOMEM;
    if (!rc)
        rc = mill_buf_addf(&no, "%s no", question);
    if (!rc)
        rc = mill_doc_set_query(doc, "");
    if (!rc)
        rc = mill_doc_add_choice(doc, yes.p);
    if (!rc)
        rc = mill_doc_add_choice(doc, no.p);
    if (!rc)
        rc = mill_doc_meta_set_str(doc, "question", question);
    doc->target_index = gold;
    free(question);
    mill_buf_free(&yes);
    mill_buf_free(&no);
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
