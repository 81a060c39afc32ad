/* replay.c: the `replay` backend: answers GENERATE requests from saved generations, JSON Lines
 * {"task": ..., "doc_id": ..., "response": "..."}, so outputs of another harness or a server log
 * are scored with Mill's metrics and no model. Stop strings are applied to the saved text as a
 * live backend would. It cannot score log-probabilities and says so up front. */
#include "backend/backends.h"

#include "core/spec.h"
#include "core/text.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct saved {
    char *task;
    int64_t doc_id;
    char *response;
    size_t response_len; /* it may hold NULs */
};

struct replay {
    char *file;
    char *name;
    struct saved *items;
    size_t n;
};

/* clang-format off */
static const struct mill_backend_arg replay_args[] = {
    {"file", MILL_ARG_STR, offsetof(struct replay, file), NULL, "JSON Lines of {\"task\", "
     "\"doc_id\", \"response\"} (required)", 0, 0},
    {"name", MILL_ARG_STR, offsetof(struct replay, name), "(replay/<file name>)", "the model name "
     "in outputs", 0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
/* clang-format on */

static int replay_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct replay *r = calloc(1, sizeof *r);
    if (!r)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = mill_spec_apply_args(spec, replay_args, r, err);
    const char *file = r->file;
    if (!rc && (!file || !*file))
        rc = mill_err_set(err, MILL_EINVAL, "model spec '%s': replay needs file=<responses.jsonl>",
                          spec->raw);
    if (!rc && !r->name &&
        asprintf(&r->name, "replay/%s", strrchr(file, '/') ? strrchr(file, '/') + 1 : file) < 0) {
        r->name = NULL;
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (rc) {
        mill_spec_free_args(replay_args, r);
        free(r);
        return rc;
    }
    *state = r;
    return 0;
}

static void replay_caps(void *state, struct mill_backend_caps *c) {
    (void)state;
    memset(c, 0, sizeof *c);
    c->req_kinds = 1u << MILL_REQ_GENERATE;
    c->task_types = 1u << MILL_TASK_GENERATIVE_QA | 1u << MILL_TASK_MULTIPLE_CHOICE;
    c->modalities = MILL_MOD_TEXT | MILL_MOD_IMAGE | MILL_MOD_AUDIO | MILL_MOD_VIDEO;
    c->supports_logprobs = false;
    c->max_context_length = INT64_MAX;
    c->class_name = "ReplayModel";
}

static const char *replay_model_name(void *state) { return ((struct replay *)state)->name; }

static int cmp_saved(const void *a, const void *b) {
    const struct saved *x = a, *y = b;
    int c = strcmp(x->task, y->task);
    return c ? c : (x->doc_id > y->doc_id) - (x->doc_id < y->doc_id);
}

static int add_saved(struct replay *r, const struct mill_value *v, size_t lineno,
                     struct mill_err *err) {
    const char *task = mill_value_as_str(mill_value_get(v, "task"));
    const struct mill_value *resp_v = mill_value_get(v, "response");
    const char *resp = mill_value_as_str(resp_v);
    int64_t id;
    if (!task || !resp || mill_value_as_int(mill_value_get(v, "doc_id"), &id))
        return mill_err_set(err, MILL_EFORMAT,
                            "%s:%zu: expected {\"task\": str, \"doc_id\": int, \"response\": str}",
                            r->file, lineno);
    struct saved *grown = realloc(r->items, (r->n + 1) * sizeof *grown);
    if (!grown)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    r->items = grown;
    struct saved *s = &r->items[r->n];
    s->task = strdup(task);
    s->response = malloc(resp_v->u.s.n + 1);
    if (s->response)
        memcpy(s->response, resp, resp_v->u.s.n + 1);
    s->response_len = resp_v->u.s.n;
    s->doc_id = id;
    if (!s->task || !s->response) {
        free(s->task);
        free(s->response);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    r->n++;
    return 0;
}

static int replay_load(void *state, struct mill_err *err) {
    struct replay *r = state;
    FILE *f = fopen(r->file, "rb");
    if (!f)
        return mill_err_set(err, MILL_ENOTFOUND, "replay: cannot open %s", r->file);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len)
            continue;
        struct mill_value v;
        if ((rc = mill_value_from_json(&v, line, len, err)) != 0) {
            mill_err_prefix(err, "%s:%zu", r->file, lineno);
            break;
        }
        rc = add_saved(r, &v, lineno, err);
        mill_value_free(&v);
    }
    free(line);
    fclose(f);
    if (!rc && r->n)
        qsort(r->items, r->n, sizeof *r->items, cmp_saved);
    /* Two saved answers for one sample are ambiguous: refuse rather than pick one. */
    for (size_t i = 1; !rc && i < r->n; i++)
        if (!cmp_saved(&r->items[i - 1], &r->items[i]))
            return mill_err_set(err, MILL_EFORMAT, "%s: task %s doc_id %lld appears twice", r->file,
                                r->items[i].task, (long long)r->items[i].doc_id);
    return rc;
}

static int replay_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct replay *r = state;
    for (size_t i = 0; i < n; i++) {
        struct mill_request *q = &reqs[i];
        if (q->kind != MILL_REQ_GENERATE) {
            mill_request_fail(q, MILL_EUNSUPPORTED, "replay answers generation requests only");
            continue;
        }
        struct saved key = {.task = (char *)q->task, .doc_id = q->doc_id};
        struct saved *hit =
            r->n ? bsearch(&key, r->items, r->n, sizeof *r->items, cmp_saved) : NULL;
        if (!hit) {
            mill_request_fail(q, MILL_ENOTFOUND, "no saved response for task %s doc_id %lld in %s",
                              q->task, (long long)q->doc_id, r->file);
            continue;
        }
        if (mill_request_set_text(q, hit->response, hit->response_len))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return 0;
}

static int replay_provenance(void *state, struct mill_buf *out) {
    struct replay *r = state;
    mill_buf_adds(out, "\"responses_file\":");
    return mill_buf_add_json_str(out, r->file, strlen(r->file));
}

static void replay_close(void *state) {
    struct replay *r = state;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].task);
        free(r->items[i].response);
    }
    free(r->items);
    mill_spec_free_args(replay_args, r);
    free(r);
}

static const char *const replay_aliases[] = {NULL};

const struct mill_backend_ops mill_backend_replay = {
    .name = "replay",
    .aliases = replay_aliases,
    .args = replay_args,
    .open = replay_open,
    .caps = replay_caps,
    .model_name = replay_model_name,
    .load = replay_load,
    .run = replay_run,
    .provenance = replay_provenance,
    .close = replay_close,
};
