/* task.c: names of task and output types, and the type inference Mill applies. */
#include <mill/backend.h>
#include <mill/task.h>

#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mill_task_type_str(enum mill_task_type t) {
    switch (t) {
    case MILL_TASK_GENERATIVE_QA: return "generative_qa";
    case MILL_TASK_MULTIPLE_CHOICE: return "multiple_choice";
    case MILL_TASK_PERPLEXITY: return "perplexity";
    case MILL_TASK_ZERO_SHOT_CLASSIFICATION: return "zero_shot_classification";
    case MILL_TASK_SUPERVISED_CLASSIFICATION: return "supervised_classification";
    }
    return "unknown";
}

const char *mill_output_type_str(enum mill_output_type t) {
    switch (t) {
    case MILL_OUT_GENERATIVE: return "generate_until";
    case MILL_OUT_LOGPROBS: return "loglikelihood";
    case MILL_OUT_PERPLEXITY: return "loglikelihood_rolling";
    }
    return "unknown";
}

enum mill_task_type mill_task_effective_type(const struct mill_task_config *t) {
    if (t->task_type)
        return t->task_type;
    switch (t->output_type) {
    case MILL_OUT_LOGPROBS: return MILL_TASK_MULTIPLE_CHOICE;
    case MILL_OUT_PERPLEXITY: return MILL_TASK_PERPLEXITY;
    default: return MILL_TASK_GENERATIVE_QA;
    }
}

size_t mill_strv_len(const char *const *v) {
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void mill_request_clear_output(struct mill_request *r) {
    free(r->text);
    free(r->scores);
    free(r->error);
    r->text = NULL;
    r->text_len = 0;
    r->scores = NULL;
    r->error = NULL;
    r->status = 0;
    r->logprob = 0;
    r->is_greedy = false;
    r->n_tokens = 0;
    r->n_truncated = 0;
    if (r->prep && r->prep_free)
        r->prep_free(r->prep);
    r->prep = NULL;
    r->prep_free = NULL;
}

int mill_request_set_text(struct mill_request *r, const char *s, size_t n) {
    size_t len;
    char *t = mill_utf8_repair(s, n, &len);
    if (!t)
        return MILL_ENOMEM;
    len = mill_stop_cut(t, len, r->stop);
    t[len] = 0;
    free(r->text);
    r->text = t;
    r->text_len = len;
    return 0;
}

void mill_request_fail(struct mill_request *r, int code, const char *fmt, ...) {
    char msg[MILL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(r->error);
    r->error = strdup(msg);
    r->status = code ? code : MILL_EBACKEND;
}
