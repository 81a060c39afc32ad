/* http.h: the engine of the HTTP backends (openai.c, vllm.c; BEHAVIOUR.md §5.4, §7.1): many JSON
 * requests in flight on one libcurl multi handle, retried with backoff, answered in place, and
 * what those backends share (arguments, the up-front probe, server error messages).
 *
 * A run takes an array of calls (a path under base_url and a JSON body) and answers every one in
 * place, in any order the network allows: up to `concurrency` in flight (HTTP/1.1 keep-alive,
 * HTTP/2 multiplexing where TLS offers it), `requests_per_minute` spacing the starts. A call
 * whose attempt fails for a transient reason (a timeout, a reset, HTTP 408/409/425/429/5xx, or
 * a 2xx answer the caller's accept function calls transient: JSON cut short) is retried up to
 * max_retries times after min(60, 2^k) s × a jitter in [0.5, 1), or the server's Retry-After
 * (capped at 120 s; one that cannot be read leaves the backoff in charge). A call that still
 * fails carries the reason; HTTP 401, 403, 404 and 405, a 429 saying insufficient_quota (and
 * TLS or URL errors) stop the whole run, since every call would fail alike. A stop request
 * (SIGINT) starts nothing new, lets calls in flight finish for a grace period, and fails the
 * rest with MILL_EINTR so that finished answers are kept.
 *
 * Must not: send the API key anywhere but base_url's host (it goes through libcurl's bearer
 * option and redirects are never followed), print or log it, or put it in an error message;
 * wait without a bound. */
#ifndef MILL_BACKEND_HTTP_H
#define MILL_BACKEND_HTTP_H

#include <mill/backend.h>
#include <mill/buf.h>
#include <mill/value.h>

#include <stddef.h>
#include <stdint.h>

/* What both HTTP backends take in their specs; each backend's struct embeds it and its argument
 * table points into it. */
struct mill_http_conf {
    char *model;    /* model= (required): the name sent and the model name in outputs */
    char *base_url; /* API root, e.g. https://api.openai.com/v1 (no trailing slash kept) */
    char *api_key;  /* bearer token, or NULL */
    int64_t max_retries, requests_per_minute, concurrency, timeout, max_context_length;
};

/* One request. */
struct mill_http_call {
    /* In. */
    const char *path; /* appended to base_url: "/chat/completions" */
    const char *body; /* JSON POST body, or NULL for a GET */
    size_t body_n;
    /* Out: the last attempt's answer, and the outcome. */
    long status;          /* HTTP status, 0 when none came */
    struct mill_buf resp; /* response body */
    int attempts;
    int code;    /* 0 answered and accepted, else a MILL_E* */
    char *error; /* malloc'd reason when code != 0 */
};

/* What a 2xx answer means, decided by the caller (who parses it into its own outputs): 0
 * accepted; MILL_HTTP_RETRY, transient (the call is tried again); any other negative value, the
 * call fails for good. msg (msg_n bytes) receives the reason for both. */
#define MILL_HTTP_RETRY 1
typedef int (*mill_http_accept_fn)(void *ud, size_t i, struct mill_http_call *c, char *msg,
                                   size_t msg_n);

/* Counters since the last mill_http_stats_take. */
struct mill_http_stats {
    long long calls, attempts, retries, failed;
    double seconds; /* wall time inside mill_http_run */
};

struct mill_http;

struct mill_http_params {
    const char *base_url;
    const char *api_key; /* NULL or "" for none */
    int concurrency;
    int max_retries;
    double timeout_s;           /* one attempt, whole transfer */
    double requests_per_minute; /* 0: no limit */
};

int mill_http_open(struct mill_http **out, const struct mill_http_params *p, struct mill_err *err);
void mill_http_close(struct mill_http *h); /* NULL-safe */

/* Answers calls[0..n) in place (see above). accept is called for every 2xx answer. Returns 0
 * when the engine ran (each call then holds its own outcome); MILL_EHALTED when an answer
 * stopped the run (HTTP 401/403/404/405, insufficient_quota, a TLS or URL failure): each call
 * holds its outcome too, the unanswered ones that answer as their error, so that what was
 * answered is kept; or an error that leaves the calls unanswered (MILL_ENOMEM). label names the
 * work in the progress line (a task name). */
int mill_http_run(struct mill_http *h, struct mill_http_call *calls, size_t n,
                  mill_http_accept_fn accept, void *ud, const char *label, struct mill_err *err);

/* After mill_http_run: a call that still failed becomes its request's recorded error (qs[i]
 * answers calls[i]; only when the run itself returned 0 or MILL_EHALTED), and every call's
 * error and answer buffer are freed. */
void mill_http_calls_done(struct mill_http_call *calls, struct mill_request *const *qs, size_t n,
                          int rc);

/* One call answered before any work (the probe): transient answers (429, 5xx: a server still
 * loading its model; a reset) are retried as in a run, but a connection that cannot be made or
 * an attempt past its timeout (at most 30 s) is not. Returns 0 when an HTTP answer came (whatever
 * its status: c->status, c->resp), else MILL_ENET naming the URL and the reason. */
int mill_http_probe(struct mill_http *h, struct mill_http_call *c, struct mill_err *err);

void mill_http_stats_take(struct mill_http *h, struct mill_http_stats *out);
/* The server's version as its headers give it (openai-version, x-vllm-version, else Server), or
 * NULL when none came yet. */
const char *mill_http_server_version(const struct mill_http *h);

/* The URL of path: base_url + path (static storage is not used; caller frees). */
char *mill_http_url(const struct mill_http *h, const char *path);

/* ---- what the backends share ------------------------------------------------------------ */

/* Parses spec with args (a table whose STR/INT/BOOL fields point into target): the keys args
 * names go through mill_spec_apply_args; any other key is kept in *extra (a MILL_V_STRUCT, in
 * spec order) to be sent as a field of every request body. api_key's value never reaches an
 * error message (the spec is quoted with it masked). *extra is always initialised. */
int mill_http_parse_spec(const struct mill_model_spec *spec, const struct mill_backend_arg *args,
                         void *target, struct mill_value *extra, struct mill_err *err);

/* Completes conf after parsing: base_url from env_url (when the spec gave none; else def_url),
 * trailing slashes dropped, http(s) only; api_key from env_key when the spec gave none; model
 * required. raw: the spec as given, for messages (never with the key). */
int mill_http_conf_finish(struct mill_http_conf *conf, const char *def_url, const char *env_url,
                          const char *env_key, const char *what, struct mill_err *err);

/* Appends ",\"key\":value" for each member of extra (a STRUCT). */
int mill_http_add_extra(struct mill_buf *b, const struct mill_value *extra);
/* The same but the fields named in skip (NULL-terminated): those the request sets itself. */
int mill_http_add_extra_but(struct mill_buf *b, const struct mill_value *extra,
                            const char *const *skip);
/* True when extra holds key. */
bool mill_http_has_extra(const struct mill_value *extra, const char *key);

/* The server's own message in an error body ({"error": {"message"}}, {"error": "..."},
 * {"message"}, {"detail"}), else the body's first bytes made printable; into out. */
void mill_http_body_excerpt(const struct mill_buf *body, char *out, size_t out_n);

/* Reads the probe's answer: 2xx JSON is fine; a 401/403, an HTML page, anything not JSON, or
 * another status is one clear error naming url. On success, *doc holds the parsed JSON (free
 * it). */
int mill_http_check_json(const struct mill_http_call *c, const char *url, struct mill_value *doc,
                         struct mill_err *err);

/* The probe before any work: GET {base_url}/models (a server without that route, 404 or 405, is
 * let off), then probe_body at probe_path: one real request of one token, with the model name
 * and the pass-through fields. A connection that cannot be made, a 401/403/404, a refused
 * request, an HTML page, anything but JSON with choices, is one error naming the URL. A
 * /models listing without conf->model is a warning (servers alias names). *server_model
 * (malloc'd, or NULL) is the model the one-token answer names, else /models' only one. */
int mill_http_check_server(struct mill_http *h, const struct mill_http_conf *conf,
                           const char *probe_path, const char *probe_body, char **server_model,
                           struct mill_err *err);

/* choices[0] of a completion answer (the member whose "index" is 0, else the first), or NULL
 * when the answer has no non-empty choices list. */
const struct mill_value *mill_http_first_choice(const struct mill_value *doc);

/* A 2xx answer read for an accept function: *doc its JSON (the caller frees it) and *choice its
 * first choice. Returns 0; MILL_HTTP_RETRY when it is not JSON; MILL_EFORMAT when it has no
 * choices (*doc is freed then); why receives the reason. */
int mill_http_read_answer(const struct mill_http_call *c, struct mill_value *doc,
                          const struct mill_value **choice, char *why, size_t n);
/* Keeps the answer's "model" in *server_model (replacing another name). */
void mill_http_note_model(char **server_model, const struct mill_value *doc);
/* mill_http_open with the parameters conf gives. */
int mill_http_open_conf(struct mill_http **out, const struct mill_http_conf *conf,
                        struct mill_err *err);

/* Provenance members shared by both backends (no braces, no leading comma): base_url,
 * server_model (or null), server_version (or null), and the HTTP counters. */
int mill_http_provenance(struct mill_http *h, const struct mill_http_conf *conf,
                         const char *server_model, struct mill_buf *out);

#endif
