/* oracle.c: a --task_paths plugin for tests/cli/test_llama_oracle.sh, which compares the llama
 * backend with llama.cpp-only peers. Its tasks pass the test's text through untouched (no
 * instruction, no shots, no template), from oracle_data/cases.jsonl beside the plugin:
 *   oracle_ll    log-likelihood: context = "context", one request per entry of "choices"
 *   oracle_roll  rolling log-likelihood of "context"
 *   oracle_gen   greedy generation from "context", 24 tokens, no stop string
 *   oracle_vlm   greedy generation from "context" and the images at the paths in "images"
 *                (oracle_data/vlm.jsonl), 24 tokens: tests/cli/test_llama_vision.sh
 *   oracle_vlm_ll log-likelihood of each of "choices" after "context" and "images"
 *                (oracle_data/vlm_ll.jsonl): tests/cli/test_llama_vision.sh
 *   oracle_alm_ll the same with the audio clips at the paths in "audios"
 *                (oracle_data/alm_ll.jsonl): tests/cli/test_llama_audio.sh
 * Built against the public headers only, as a user's plugin is. */
#include <mill/task.h>

#include <stdio.h>
#include <string.h>

static int read_case(const struct mill_task_config *t, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err, bool choices) {
    const char *c = mill_value_as_str(mill_value_get(row, "context"));
    const struct mill_value *ch = mill_value_get(row, "choices");
    if (!c || (choices && (!ch || ch->kind != MILL_V_LIST || ch->u.list.n == 0))) {
        snprintf(err->msg, sizeof err->msg, "%s: a row needs context and choices", t->name);
        return err->code = MILL_EFORMAT;
    }
    if (mill_doc_set_query(doc, c))
        return MILL_ENOMEM;
    for (size_t i = 0; choices && i < ch->u.list.n; i++) {
        const char *s = mill_value_as_str(&ch->u.list.items[i]);
        if (!s || mill_doc_add_choice(doc, s))
            return s ? MILL_ENOMEM : (err->code = MILL_EFORMAT);
    }
    doc->target_index = choices ? 0 : -1;
    return choices ? 0 : mill_doc_set_target_str(doc, "");
}

static int ll_prompt(const struct mill_task_config *t, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err) {
    return read_case(t, row, doc, err, true);
}

static int text_prompt(const struct mill_task_config *t, const struct mill_value *row,
                       struct mill_doc *doc, struct mill_err *err) {
    return read_case(t, row, doc, err, false);
}

/* A row of vlm.jsonl (alm_ll.jsonl): its images ("images") or clips ("audios") go to the doc
 * as paths, in order (and its choices with choices). */
static int read_media(const struct mill_task_config *t, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err, bool choices,
                      enum mill_modality kind) {
    const char *key = kind == MILL_MOD_AUDIO ? "audios" : "images";
    const struct mill_value *im = mill_value_get(row, key);
    if (!im || im->kind != MILL_V_LIST) {
        snprintf(err->msg, sizeof err->msg, "%s: a row needs a list of %s", t->name, key);
        return err->code = MILL_EFORMAT;
    }
    for (size_t i = 0; i < im->u.list.n; i++) {
        const char *path = mill_value_as_str(&im->u.list.items[i]);
        if (!path || mill_doc_add_media(doc, kind, NULL, 0, path))
            return path ? MILL_ENOMEM : (err->code = MILL_EFORMAT);
    }
    return read_case(t, row, doc, err, choices);
}

static int vlm_prompt(const struct mill_task_config *t, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err) {
    return read_media(t, row, doc, err, false, MILL_MOD_IMAGE);
}

static int vlm_ll_prompt(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, struct mill_err *err) {
    return read_media(t, row, doc, err, true, MILL_MOD_IMAGE);
}

static int alm_ll_prompt(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, struct mill_err *err) {
    return read_media(t, row, doc, err, true, MILL_MOD_AUDIO);
}

static const char *const files[] = {"test=oracle_data/cases.jsonl", NULL};
static const char *const vlm_files[] = {"test=oracle_data/vlm.jsonl", NULL};
static const char *const vlm_ll_files[] = {"test=oracle_data/vlm_ll.jsonl", NULL};
static const char *const alm_ll_files[] = {"test=oracle_data/alm_ll.jsonl", NULL};
static const char *const acc[] = {"acc", NULL};
static const char *const ppl[] = {"perplexity", NULL};
static const char *const em[] = {"exact_match", NULL};
static const char *const stops[] = {" ", "e", "a", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "oracle_ll",
     .hf_data_files = files,
     .prompt = ll_prompt,
     .output_type = MILL_OUT_LOGPROBS,
     .metrics = acc},
    {.name = "oracle_roll",
     .hf_data_files = files,
     .prompt = text_prompt,
     .output_type = MILL_OUT_PERPLEXITY,
     .metrics = ppl},
    {.name = "oracle_gen",
     .hf_data_files = files,
     .prompt = text_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .generation_size = 24,
     .metrics = em},
    {.name = "oracle_vlm",
     .hf_data_files = vlm_files,
     .prompt = vlm_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .generation_size = 24,
     .metrics = em},
    {.name = "oracle_vlm_stop", /* oracle_vlm with stop strings, which media prompts ignore */
     .hf_data_files = vlm_files,
     .prompt = vlm_prompt,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .generation_size = 24,
     .stop_sequences = stops,
     .metrics = em},
    {.name = "oracle_vlm_ll",
     .hf_data_files = vlm_ll_files,
     .prompt = vlm_ll_prompt,
     .output_type = MILL_OUT_LOGPROBS,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .metrics = acc},
    {.name = "oracle_alm_ll",
     .hf_data_files = alm_ll_files,
     .prompt = alm_ll_prompt,
     .output_type = MILL_OUT_LOGPROBS,
     .input_modalities = MILL_MOD_AUDIO | MILL_MOD_TEXT,
     .metrics = acc},
};

/* Stamped with the oldest ABI Mill takes (MILL_ABI_OLDEST, 2), so the tests that load it show
 * that a plugin built for ABI 2 still loads. */
const struct mill_tasks_table TASKS_TABLE = {2, sizeof tasks / sizeof tasks[0], tasks};
