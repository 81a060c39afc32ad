/* vllm.c: the `vllm` backend: a running vLLM server (or any server that speaks its completion
 * schema), POST {base_url}/completions, many requests in flight (BEHAVIOUR.md §5.4 for Python
 * Mill's in-process vLLM, §7.1 for ours). The HTTP engine is http.c.
 *
 * - GENERATE: prompt = the context, temperature 0, max_tokens = the task's budget, the stop
 *   strings sent natively (and applied to the answer again).
 * - LOGLIK: one request, prompt = context + continuation, echo, logprobs 1, max_tokens 1 (as
 *   lm-eval's local-completions): the answer's logprobs hold every prompt token with its
 *   log-prob and top-1 (the first has none). The prompt's tokens are the first
 *   usage.prompt_tokens (else all but the generated one); the continuation's tokens are the
 *   prompt's last tokens whose text_offset lies at or past the continuation's start, measured
 *   back from the prompt's end in characters, so a BOS the server prepends shifts nothing. As
 *   lm-eval's _encode_pair, the context's trailing whitespace belongs to the continuation. The
 *   log-prob is their sum; is_greedy holds when each token's log-prob is its position's top-1
 *   (lm-eval's test). vLLM's own `prompt_logprobs` list is read when `logprobs` is absent.
 * - ROLLING: the same request for the text alone: the sum over every prompt token the server
 *   scores (a vocabulary without BOS leaves the first unscored), and their count.
 * - max_context_length, when given, is sent as vLLM's truncate_prompt_tokens (the prompt's last
 *   tokens kept: left truncation), less the generation budget; otherwise a prompt longer than
 *   the server's limit fails its sample with the server's message. */
#include "backend/backends.h"
#include "backend/http.h"

#include "core/log.h"
#include "core/spec.h"
#include "core/text.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vl {
    struct mill_http_conf conf;
    struct mill_value extra; /* spec arguments sent as body fields */
    struct mill_http *http;
    char *server_model;
    long long n_scored; /* log-prob tokens summed, since the last provenance record */
};

/* clang-format off */
#define F(x) offsetof(struct vl, x)
#define TEXT_OFFSET_MAX ((int64_t)1 << 40) /* bytes: beyond any context a request sends */
static const struct mill_backend_arg vl_args[] = {
    {"model", MILL_ARG_STR, F(conf.model), NULL, "the served model's name (vllm serve NAME, or "
     "--served-model-name): sent with every request and the model name in outputs (required)",
     0, 0},
    {"base_url", MILL_ARG_STR, F(conf.base_url), "http://localhost:8000/v1", "the server's API "
     "root; requests go to {base_url}/completions", 0, 0},
    {"api_key", MILL_ARG_STR, F(conf.api_key), "(VLLM_API_KEY)", "bearer token (vllm serve "
     "--api-key), sent only to base_url's host, never logged or written", 0, 0},
    {"max_retries", MILL_ARG_INT, F(conf.max_retries), "5", "retries of a request after a 429, a "
     "5xx, a timeout or a reset (backoff 2^k s with jitter, or Retry-After)", 0, 100},
    {"requests_per_minute", MILL_ARG_INT, F(conf.requests_per_minute), NULL, "at most this many "
     "requests started a minute (default: no limit)", 1, 1000000000},
    {"concurrency", MILL_ARG_INT, F(conf.concurrency), "16", "requests in flight at once", 1,
     1024},
    {"timeout", MILL_ARG_INT, F(conf.timeout), "600", "seconds one attempt of a request may take",
     1, 86400},
    {"max_context_length", MILL_ARG_INT, F(conf.max_context_length), NULL, "left-truncate "
     "prompts to this many tokens (truncate_prompt_tokens); default: the server's limit, a "
     "longer prompt fails its sample", 2, INT64_MAX},
    {"dtype", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's in-process vLLM specs; the "
     "server's settings apply", 0, 0},
    {"gpu_memory_utilization", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's in-process vLLM "
     "specs", 0, 0},
    {"tensor_parallel_size", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's in-process vLLM "
     "specs", 0, 0},
    {"max_model_len", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's in-process vLLM specs", 0,
     0},
    {"trust_remote_code", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's in-process vLLM specs",
     0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
#undef F
/* clang-format on */

static void vl_close(void *state);

static int vl_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct vl *v = calloc(1, sizeof *v);
    if (!v)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = mill_http_parse_spec(spec, vl_args, v, &v->extra, err);
    if (!rc)
        rc = mill_http_conf_finish(&v->conf, "http://localhost:8000/v1", NULL, "VLLM_API_KEY",
                                   "vllm", err);
    if (rc) {
        vl_close(v);
        return rc;
    }
    *state = v;
    return 0;
}

static void vl_caps(void *state, struct mill_backend_caps *c) {
    struct vl *v = state;
    memset(c, 0, sizeof *c);
    c->req_kinds = 1u << MILL_REQ_LOGLIK | 1u << MILL_REQ_ROLLING | 1u << MILL_REQ_GENERATE;
    c->task_types = 1u << MILL_TASK_GENERATIVE_QA | 1u << MILL_TASK_MULTIPLE_CHOICE |
                    1u << MILL_TASK_PERPLEXITY;
    c->modalities = MILL_MOD_TEXT;
    c->supports_logprobs = true;
    c->max_context_length = v->conf.max_context_length ? v->conf.max_context_length : INT64_MAX;
    c->class_name = "VLLMModel";
}

static const char *vl_model_name(void *state) { return ((struct vl *)state)->conf.model; }

/* ---- request bodies ------------------------------------------------------------------- */

static bool ours(const struct vl *v, const char *key) {
    return !mill_http_has_extra(&v->extra, key);
}

/* {"model", "prompt": prompt[0..n), ...}: a scoring request (max_new < 0) or a generation. */
static int build_body(const struct vl *v, const char *prompt, size_t n, int max_new,
                      const char *const *stop, struct mill_buf *b, char *why, size_t why_n) {
    bool gen = max_new >= 0;
    int64_t trunc = 0;
    if (v->conf.max_context_length) {
        trunc = v->conf.max_context_length - (gen ? max_new : 1);
        if (trunc < 1) {
            snprintf(why, why_n, "max_context_length %lld leaves no room for the prompt",
                     (long long)v->conf.max_context_length);
            return MILL_EINVAL;
        }
    }
    int rc = mill_buf_adds(b, "{\"model\":");
    if (!rc)
        rc = mill_buf_add_json_str(b, v->conf.model, strlen(v->conf.model));
    if (!rc)
        rc = mill_buf_adds(b, ",\"prompt\":");
    if (!rc)
        rc = mill_buf_add_json_str(b, prompt, n);
    /* a scoring request sets these itself, whatever the spec passes for generation */
    static const char *const scoring[] = {"max_tokens", "logprobs", "echo", NULL};
    if (!rc && (!gen || ours(v, "max_tokens")))
        rc = mill_buf_addf(b, ",\"max_tokens\":%d", gen ? max_new : 1);
    if (!rc && ours(v, "temperature"))
        rc = mill_buf_adds(b, ",\"temperature\":0");
    if (!rc && !gen)
        rc = mill_buf_adds(b, ",\"logprobs\":1,\"echo\":true");
    size_t n_stop = 0;
    for (const char *const *s = stop; gen && s && *s; s++)
        n_stop += **s != 0;
    if (!rc && n_stop && ours(v, "stop")) {
        rc = mill_buf_adds(b, ",\"stop\":[");
        size_t k = 0;
        for (const char *const *s = stop; !rc && *s; s++) {
            if (!**s)
                continue;
            if (k++)
                rc = mill_buf_addc(b, ',');
            if (!rc)
                rc = mill_buf_add_json_str(b, *s, strlen(*s));
        }
        if (!rc)
            rc = mill_buf_addc(b, ']');
    }
    if (!rc && trunc && ours(v, "truncate_prompt_tokens"))
        rc = mill_buf_addf(b, ",\"truncate_prompt_tokens\":%lld", (long long)trunc);
    if (!rc)
        rc = mill_http_add_extra_but(b, &v->extra, gen ? NULL : scoring);
    return rc ? MILL_ENOMEM : mill_buf_addc(b, '}');
}

/* ---- answers -------------------------------------------------------------------------- */

/* One prompt token as the answer gives it. */
struct tok {
    double lp;   /* NAN when the server gives none (the first token) */
    bool greedy; /* its log-prob is its position's top-1 */
    int64_t off; /* text offset, characters */
    int64_t len; /* characters of its text */
};

static bool num(const struct mill_value *x, double *out) {
    if (x && x->kind == MILL_V_FLOAT) {
        *out = x->u.f;
        return true;
    }
    if (x && x->kind == MILL_V_INT) {
        *out = (double)x->u.i;
        return true;
    }
    return false;
}

/* The OpenAI form: logprobs {tokens, token_logprobs, top_logprobs, text_offset}. */
static int read_openai_form(const struct mill_value *lp, struct tok **out, size_t *n, char *why,
                            size_t why_n) {
    const struct mill_value *toks = mill_value_get(lp, "tokens");
    const struct mill_value *lps = mill_value_get(lp, "token_logprobs");
    const struct mill_value *top = mill_value_get(lp, "top_logprobs");
    const struct mill_value *off = mill_value_get(lp, "text_offset");
    if (!toks || toks->kind != MILL_V_LIST || !lps || lps->kind != MILL_V_LIST ||
        lps->u.list.n != toks->u.list.n) {
        /* a complete answer of another form: asking again gets the same */
        snprintf(why, why_n, "the answer's logprobs lack tokens or token_logprobs");
        return MILL_EFORMAT;
    }
    size_t k = toks->u.list.n;
    bool have_off = off && off->kind == MILL_V_LIST && off->u.list.n == k;
    bool have_top = top && top->kind == MILL_V_LIST && top->u.list.n == k;
    struct tok *t = calloc(k ? k : 1, sizeof *t);
    if (!t) {
        snprintf(why, why_n, "out of memory");
        return MILL_ENOMEM;
    }
    int64_t pos = 0;
    for (size_t i = 0; i < k; i++) {
        const char *s = mill_value_as_str(&toks->u.list.items[i]);
        t[i].len = s ? (int64_t)mill_utf8_len(s) : 0;
        t[i].lp = NAN;
        num(&lps->u.list.items[i], &t[i].lp);
        if (!have_off || mill_value_as_int(&off->u.list.items[i], &t[i].off))
            t[i].off = pos;
        if (t[i].off < 0 || t[i].off > TEXT_OFFSET_MAX) { /* no text is that long */
            snprintf(why, why_n, "the answer's text_offset %" PRId64 " is out of range", t[i].off);
            free(t);
            return MILL_EFORMAT;
        }
        pos = t[i].off + t[i].len;
        const struct mill_value *d = have_top ? &top->u.list.items[i] : NULL;
        double best = -INFINITY, x;
        for (size_t j = 0; d && d->kind == MILL_V_STRUCT && j < d->u.obj.n; j++)
            if (num(&d->u.obj.vals[j], &x) && x > best)
                best = x;
        t[i].greedy = d && d->kind == MILL_V_STRUCT && !isnan(t[i].lp) && t[i].lp >= best;
    }
    *out = t;
    *n = k;
    return 0;
}

/* vLLM's own form: prompt_logprobs [null, {"<id>": {"logprob", "rank", "decoded_token"}}, ...],
 * the prompt token first in each dict. */
static int read_vllm_form(const struct mill_value *pl, struct tok **out, size_t *n, char *why,
                          size_t why_n) {
    size_t k = pl->u.list.n;
    struct tok *t = calloc(k ? k : 1, sizeof *t);
    if (!t) {
        snprintf(why, why_n, "out of memory");
        return MILL_ENOMEM;
    }
    int64_t pos = 0;
    for (size_t i = 0; i < k; i++) {
        const struct mill_value *d = &pl->u.list.items[i];
        t[i].lp = NAN;
        t[i].off = pos;
        if (d->kind == MILL_V_STRUCT && d->u.obj.n) {
            const struct mill_value *e = &d->u.obj.vals[0];
            int64_t rank = 0;
            num(mill_value_get(e, "logprob"), &t[i].lp);
            const char *s = mill_value_as_str(mill_value_get(e, "decoded_token"));
            t[i].len = s ? (int64_t)mill_utf8_len(s) : 0;
            t[i].greedy = !mill_value_as_int(mill_value_get(e, "rank"), &rank) && rank == 1;
        }
        pos += t[i].len;
    }
    *out = t;
    *n = k;
    return 0;
}

/* The prompt's tokens of a scoring answer: *t[0..*n_prompt). */
static int read_prompt_tokens(const struct mill_value *doc, const struct mill_value *ch,
                              struct tok **t, size_t *n_prompt, char *why, size_t why_n) {
    const struct mill_value *lp = mill_value_get(ch, "logprobs");
    const struct mill_value *pl = mill_value_get(ch, "prompt_logprobs");
    size_t n = 0;
    int rc;
    bool openai_form = lp && lp->kind == MILL_V_STRUCT;
    if (openai_form) {
        rc = read_openai_form(lp, t, &n, why, why_n);
    } else if (pl && pl->kind == MILL_V_LIST) {
        rc = read_vllm_form(pl, t, &n, why, why_n);
    } else {
        snprintf(why, why_n,
                 "the answer has no logprobs (the server must support echo with "
                 "logprobs, or prompt_logprobs)");
        return MILL_EFORMAT;
    }
    if (rc)
        return rc;
    const struct mill_value *usage = mill_value_get(doc, "usage");
    int64_t pt = -1, ct = -1;
    if (mill_value_as_int(mill_value_get(usage, "prompt_tokens"), &pt))
        pt = -1;
    if (mill_value_as_int(mill_value_get(usage, "completion_tokens"), &ct))
        ct = -1;
    if (!openai_form)
        *n_prompt = n; /* prompt_logprobs holds the prompt alone */
    else if (pt >= 0 && (size_t)pt <= n)
        *n_prompt = (size_t)pt;
    else if (ct >= 0 && (size_t)ct <= n)
        *n_prompt = n - (size_t)ct;
    else
        *n_prompt = n ? n - 1 : 0; /* we asked for one generated token */
    return 0;
}

struct batch {
    struct vl *v;
    struct mill_request **qs;
};

static int score_answer(struct batch *bt, struct mill_request *q, const struct mill_value *doc,
                        const struct mill_value *ch, char *why, size_t why_n) {
    struct tok *t = NULL;
    size_t np = 0;
    int rc = read_prompt_tokens(doc, ch, &t, &np, why, why_n);
    if (rc)
        return rc;
    double sum = 0;
    bool greedy = true;
    int64_t count = 0;
    if (q->kind == MILL_REQ_ROLLING) {
        for (size_t i = 0; i < np; i++)
            if (!isnan(t[i].lp)) {
                sum += t[i].lp;
                count++;
            }
        if (!count) {
            snprintf(why, why_n, "the server scored no token of the text");
            rc = MILL_EFORMAT;
        }
    } else {
        /* The continuation's characters: the context's trailing whitespace and the
         * continuation. */
        const char *ctx = q->context ? q->context : "";
        size_t cl = strlen(ctx), cut = mill_py_rstrip_len(ctx, cl);
        int64_t cont = (int64_t)mill_utf8_len(ctx + cut) +
                       (int64_t)mill_utf8_len(q->continuation ? q->continuation : "");
        int64_t end = np ? t[np - 1].off + t[np - 1].len : 0, start = end - cont;
        size_t k = np;
        while (k > 0 && t[k - 1].off >= start)
            k--;
        for (size_t i = k; i < np; i++) {
            if (isnan(t[i].lp)) {
                snprintf(why, why_n,
                         "the server gave no log-prob for continuation token %zu (is "
                         "the context empty?)",
                         i - k);
                rc = MILL_EFORMAT;
                break;
            }
            sum += t[i].lp;
            greedy = greedy && t[i].greedy;
            count++;
        }
        if (!rc && !count && cont > 0) { /* an empty one sums no token: 0.0, greedy */
            snprintf(why, why_n,
                     "the continuation adds no token of its own at the end of the "
                     "prompt");
            rc = MILL_EFORMAT;
        }
    }
    if (!rc) {
        q->logprob = sum;
        q->is_greedy = q->kind == MILL_REQ_LOGLIK && greedy;
        q->n_tokens = count;
        bt->v->n_scored += count;
    }
    free(t);
    return rc;
}

static int accept_answer(void *ud, size_t i, struct mill_http_call *c, char *why, size_t n) {
    struct batch *bt = ud;
    struct mill_request *q = bt->qs[i];
    struct mill_value doc;
    const struct mill_value *ch = NULL;
    int rc = mill_http_read_answer(c, &doc, &ch, why, n);
    if (rc)
        return rc;
    if (q->kind == MILL_REQ_GENERATE) {
        const struct mill_value *text = mill_value_get(ch, "text");
        if (!text || text->kind != MILL_V_STR) {
            snprintf(why, n, "the answer's choice has no text");
            rc = MILL_EFORMAT;
        } else if (mill_request_set_text(q, text->u.s.p, text->u.s.n)) {
            snprintf(why, n, "out of memory");
            rc = MILL_ENOMEM;
        }
    } else {
        rc = score_answer(bt, q, &doc, ch, why, n);
    }
    if (!rc)
        mill_http_note_model(&bt->v->server_model, &doc);
    mill_value_free(&doc);
    return rc;
}

int mill_vllm_read_answer(const char *body, size_t n, struct mill_request *q, char *why,
                          size_t why_n) {
    struct vl v = {0};
    struct batch bt = {.v = &v, .qs = &q};
    struct mill_http_call c = {.status = 200, .resp = {.p = (char *)body, .n = n}};
    int rc = accept_answer(&bt, 0, &c, why, why_n);
    free(v.server_model);
    return rc;
}

static int vl_load(void *state, struct mill_err *err) {
    struct vl *v = state;
    int rc = v->http ? 0 : mill_http_open_conf(&v->http, &v->conf, err);
    struct mill_buf body = {0};
    char why[256];
    if (!rc && build_body(v, "Hi", 2, 1, NULL, &body, why, sizeof why))
        rc = mill_err_set(err, MILL_EINVAL, "vllm: %s", why);
    char *listed = NULL;
    if (!rc)
        rc = mill_http_check_server(v->http, &v->conf, "/completions", body.p, &listed, err);
    if (!rc && listed && !v->server_model)
        v->server_model = listed;
    else
        free(listed);
    mill_buf_free(&body);
    return rc;
}

static int vl_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct vl *v = state;
    struct mill_http_call *calls = calloc(n ? n : 1, sizeof *calls);
    struct mill_buf *bodies = calloc(n ? n : 1, sizeof *bodies);
    struct batch bt = {.v = v, .qs = calloc(n ? n : 1, sizeof *bt.qs)};
    struct mill_buf prompt = {0};
    int rc = calls && bodies && bt.qs ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t nc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        struct mill_request *q = &reqs[i];
        char why[256] = "";
        const char *ctx = q->context ? q->context : "";
        int b;
        if (q->n_media) {
            mill_request_fail(q, MILL_EUNSUPPORTED, "the vllm backend takes text only");
            continue;
        } else if (q->kind == MILL_REQ_GENERATE) {
            b = build_body(v, ctx, strlen(ctx), q->max_new_tokens > 0 ? q->max_new_tokens : 256,
                           q->stop, &bodies[nc], why, sizeof why);
        } else if (q->kind == MILL_REQ_LOGLIK) {
            mill_buf_reset(&prompt);
            b = mill_buf_adds(&prompt, ctx) ||
                        mill_buf_adds(&prompt, q->continuation ? q->continuation : "")
                    ? MILL_ENOMEM
                    : build_body(v, prompt.p, prompt.n, -1, NULL, &bodies[nc], why, sizeof why);
        } else if (q->kind == MILL_REQ_ROLLING) {
            b = build_body(v, ctx, strlen(ctx), -1, NULL, &bodies[nc], why, sizeof why);
        } else {
            mill_request_fail(q, MILL_EUNSUPPORTED, "the vllm backend cannot classify");
            continue;
        }
        if (b == MILL_ENOMEM) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        } else if (b) {
            mill_request_fail(q, b, "%s", why);
            mill_buf_reset(&bodies[nc]);
        } else {
            calls[nc] = (struct mill_http_call){
                .path = "/completions", .body = bodies[nc].p, .body_n = bodies[nc].n};
            bt.qs[nc++] = q;
        }
    }
    const char *label = n ? reqs[0].task : NULL;
    if (!rc && nc)
        rc = mill_http_run(v->http, calls, nc, accept_answer, &bt, label, err);
    mill_http_calls_done(calls, bt.qs, nc, rc);
    for (size_t i = 0; bodies && i < n; i++)
        mill_buf_free(&bodies[i]);
    mill_buf_free(&prompt);
    free(bodies);
    free(calls);
    free(bt.qs);
    return rc;
}

static int vl_provenance(void *state, struct mill_buf *out) {
    struct vl *v = state;
    int rc = mill_http_provenance(v->http, &v->conf, v->server_model, out);
    if (!rc)
        rc = mill_buf_addf(out, ",\"logprob_tokens\":%lld", v->n_scored);
    v->n_scored = 0;
    return rc;
}

static void vl_close(void *state) {
    struct vl *v = state;
    if (!v)
        return;
    mill_http_close(v->http);
    if (v->conf.api_key)
        memset(v->conf.api_key, 0, strlen(v->conf.api_key));
    mill_spec_free_args(vl_args, v);
    mill_value_free(&v->extra);
    free(v->server_model);
    free(v);
}

const struct mill_backend_ops mill_backend_vllm = {
    .name = "vllm",
    .aliases = NULL,
    .args = vl_args,
    .open = vl_open,
    .caps = vl_caps,
    .model_name = vl_model_name,
    .load = vl_load,
    .run = vl_run,
    .provenance = vl_provenance,
    .close = vl_close,
};
