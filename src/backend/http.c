/* http.c: the HTTP backends' engine (http.h): one libcurl multi loop with up to `concurrency`
 * requests in flight, retries with exponential backoff and jitter (or the server's Retry-After),
 * a per-attempt timeout, a requests-per-minute spacing, answers in place; plus what the openai
 * and vllm backends share (spec parsing with pass-through fields, the probe's verdict, server
 * error excerpts, provenance). BEHAVIOUR.md §5.4 and §7.1 describe the backends; libcurl is
 * included here and in data/hub.c only.
 *
 * Must not: send the API key anywhere but base_url's host (CURLOPT_XOAUTH2_BEARER, redirects
 * never followed), log it, or let it into a message; wait without a bound (every attempt has a
 * timeout, every poll at most 100 ms, a stop request a 10 s grace). */
#include "backend/http.h"

#include "core/log.h"
#include "core/spec.h"
#include "core/stop.h"

#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MOD "http"
#define MAX_BODY ((size_t)256 << 20) /* bytes of one response */
#define MAX_BACKOFF_S 60.0
#define MAX_RETRY_AFTER_S 120.0
#define STOP_GRACE_S 10.0
#define PROBE_TIMEOUT_S 30.0

struct slot {
    CURL *e;
    size_t call; /* index of the call it carries */
    bool busy;
    bool too_big;
    double retry_after; /* seconds the answer asked to wait, < 0 when it did not */
    char ctype[96];     /* Content-Type of the answer */
    char *url;
    char errbuf[CURL_ERROR_SIZE];
    struct mill_http_call *c;
    struct mill_http *h;
};

struct mill_http {
    char *base_url, *api_key;
    bool https;
    int concurrency, max_retries;
    double timeout_s, interval_s; /* interval: 60 / requests_per_minute, 0 none */
    double next_start;            /* the rate limit: no start before this clock */
    CURLM *m;
    struct slot *slots;
    struct curl_slist *hdrs;
    char server_version[128];
    struct mill_http_stats st;
    uint64_t rng;
};

/* ---- setup ---------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void global_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int mill_http_open(struct mill_http **out, const struct mill_http_params *p, struct mill_err *err) {
    *out = NULL;
    pthread_once(&curl_once, global_init);
    if (curl_init_rc != CURLE_OK)
        return mill_err_set(err, MILL_ENET, "http: libcurl init failed");
    struct mill_http *h = calloc(1, sizeof *h);
    if (!h)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    h->concurrency = p->concurrency > 0 ? p->concurrency : 1;
    h->max_retries = p->max_retries > 0 ? p->max_retries : 0;
    h->timeout_s = p->timeout_s > 0 ? p->timeout_s : 600;
    h->interval_s = p->requests_per_minute > 0 ? 60.0 / p->requests_per_minute : 0;
    h->base_url = strdup(p->base_url);
    h->api_key = p->api_key && *p->api_key ? strdup(p->api_key) : NULL;
    h->https = !strncmp(p->base_url, "https://", 8);
    h->slots = calloc((size_t)h->concurrency, sizeof *h->slots);
    h->m = curl_multi_init();
    h->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(mill_clock_s() * 1e9);
    int rc = h->base_url && h->slots && h->m && (!p->api_key || !*p->api_key || h->api_key)
                 ? 0
                 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", "Expect:", NULL};
    for (const char *const *s = headers; !rc && *s; s++) {
        struct curl_slist *l = curl_slist_append(h->hdrs, *s);
        if (!l)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            h->hdrs = l;
    }
    for (int i = 0; !rc && i < h->concurrency; i++) {
        h->slots[i].h = h;
        if (!(h->slots[i].e = curl_easy_init()))
            rc = mill_err_set(err, MILL_ENET, "http: curl_easy_init failed");
    }
    if (!rc) {
        /* Connections are kept alive in the multi handle's cache between runs. */
        curl_multi_setopt(h->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->concurrency);
        curl_multi_setopt(h->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)h->concurrency);
        curl_multi_setopt(h->m, CURLMOPT_MAXCONNECTS, (long)h->concurrency);
        curl_multi_setopt(h->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    }
    if (rc) {
        mill_http_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

void mill_http_close(struct mill_http *h) {
    if (!h)
        return;
    for (int i = 0; h->slots && i < h->concurrency; i++) {
        if (h->slots[i].e) {
            if (h->slots[i].busy)
                curl_multi_remove_handle(h->m, h->slots[i].e);
            curl_easy_cleanup(h->slots[i].e);
        }
        free(h->slots[i].url);
    }
    if (h->m)
        curl_multi_cleanup(h->m);
    curl_slist_free_all(h->hdrs);
    if (h->api_key) {
        memset(h->api_key, 0, strlen(h->api_key));
        free(h->api_key);
    }
    free(h->slots);
    free(h->base_url);
    free(h);
}

char *mill_http_url(const struct mill_http *h, const char *path) {
    char *u = NULL;
    if (asprintf(&u, "%s%s", h->base_url, path) < 0)
        return NULL;
    return u;
}

void mill_http_stats_take(struct mill_http *h, struct mill_http_stats *out) {
    *out = h->st;
    memset(&h->st, 0, sizeof h->st);
}

const char *mill_http_server_version(const struct mill_http *h) {
    return h->server_version[0] ? h->server_version : NULL;
}

/* ---- one attempt ------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    struct slot *s = ud;
    size_t len = size * nmemb;
    if (s->c->resp.n + len > MAX_BODY) {
        s->too_big = true;
        return 0;
    }
    return mill_buf_add(&s->c->resp, p, len) == 0 ? len : 0;
}

/* value of header line "name: value\r\n" when it is that header (trimmed into out). */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t n) {
    size_t k = strlen(name);
    if (len <= k || strncasecmp(line, name, k) || line[k] != ':')
        return false;
    const char *v = line + k + 1;
    size_t m = len - k - 1;
    while (m && (*v == ' ' || *v == '\t'))
        v++, m--;
    while (m && (v[m - 1] == '\r' || v[m - 1] == '\n' || v[m - 1] == ' '))
        m--;
    if (m >= n)
        m = n - 1;
    memcpy(out, v, m);
    out[m] = 0;
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    struct slot *s = ud;
    struct mill_http *h = s->h;
    size_t len = size * nmemb;
    char v[128];
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after a 100 Continue) */
        s->retry_after = -1;
        s->ctype[0] = 0;
    } else if (header_value(p, len, "content-type", s->ctype, sizeof s->ctype)) {
    } else if (header_value(p, len, "retry-after", v, sizeof v)) {
        char *end;
        double secs = strtod(v, &end);
        if (end == v || *end) { /* an HTTP date; one already past means now */
            time_t t = curl_getdate(v, NULL);
            secs = t > 0 ? fmax(difftime(t, time(NULL)), 0) : -1;
        }
        /* what cannot be read ("soon", "60s", "nan") leaves the backoff in charge */
        s->retry_after = secs >= 0 && isfinite(secs) ? secs : -1;
    } else if (header_value(p, len, "openai-version", v, sizeof v) ||
               header_value(p, len, "x-vllm-version", v, sizeof v) ||
               header_value(p, len, "x-server-version", v, sizeof v)) {
        snprintf(h->server_version, sizeof h->server_version, "%s", v);
    } else if (!h->server_version[0] && header_value(p, len, "server", v, sizeof v)) {
        snprintf(h->server_version, sizeof h->server_version, "%s", v);
    }
    return len;
}

static int start(struct mill_http *h, struct slot *s, size_t i, struct mill_http_call *c,
                 double timeout_s, struct mill_err *err) {
    CURL *e = s->e;
    curl_easy_reset(e);
    free(s->url);
    if (!(s->url = mill_http_url(h, c->path)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    s->call = i;
    s->c = c;
    s->too_big = false;
    s->retry_after = -1;
    s->ctype[0] = 0;
    s->errbuf[0] = 0;
    mill_buf_reset(&c->resp);
    c->status = 0;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mill/" MILL_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)((timeout_s < PROBE_TIMEOUT_S ? timeout_s : PROBE_TIMEOUT_S) * 1000));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    if (h->https)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* multiplex on HTTP/2 rather than connect */
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_n);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (h->api_key) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, h->api_key);
        curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
    }
    if (curl_multi_add_handle(h->m, e) != CURLM_OK)
        return mill_err_set(err, MILL_ENET, "http: cannot add a transfer");
    s->busy = true;
    c->attempts++;
    h->st.attempts++;
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

enum { C_WAIT, C_ACTIVE, C_DONE };

struct run {
    struct mill_http *h;
    struct mill_http_call *calls;
    size_t n, next, n_done, active;
    size_t n_waiting; /* calls waiting to be retried */
    unsigned char *state;
    double *ready; /* clock at which a waiting call may start again */
    mill_http_accept_fn accept;
    void *ud;
    bool probe;
    char fatal[MILL_ERR_MSG_MAX]; /* non-empty: every call fails with this */
    int fatal_code;
};

static double jitter(struct mill_http *h) {
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    return 0.5 + 0.5 * (double)(h->rng >> 11) / 9007199254740992.0;
}

static void finish_call(struct run *r, size_t i, int code, const char *msg) {
    struct mill_http_call *c = &r->calls[i];
    c->code = code;
    if (code) {
        if (!(c->error = strdup(msg)))
            c->code = MILL_ENOMEM;
        r->h->st.failed++;
    }
    r->state[i] = C_DONE;
    r->n_done++;
}

/* The reason an attempt failed, with the method and URL; no password of the URL, nor the key
 * where a server echoes it back. */
/* Masks every occurrence of the API key in text (a server may echo it back). */
static void mask_key(const struct mill_http *h, char *text) {
    const char *key = h->api_key;
    size_t kn = key ? strlen(key) : 0;
    for (char *p = kn >= 4 ? strstr(text, key) : NULL; p; p = strstr(p + kn, key))
        memset(p, '*', kn);
}

static void describe(const struct slot *s, const struct mill_http_call *c, const char *why,
                     char *out, size_t n) {
    snprintf(out, n, "%s %s: %s", c->body ? "POST" : "GET", s->url, why);
    mill_spec_mask_secrets(out);
    mask_key(s->h, out);
}

static bool http_transient(long st) {
    return st == 408 || st == 409 || st == 425 || st == 429 || st >= 500;
}

/* Answers that every request would get alike: a key refused, an endpoint or model that does
 * not exist, an account out of credit (OpenAI's 429 insufficient_quota, which waiting does not
 * mend). */
static bool fatal_status(long st) { return st == 401 || st == 403 || st == 404 || st == 405; }

static bool fatal_answer(const struct mill_http_call *c) {
    return fatal_status(c->status) ||
           (c->status == 429 && c->resp.p &&
            memmem(c->resp.p, c->resp.n, "insufficient_quota", 18) != NULL);
}

/* Transport errors every request would get alike. A failed TLS handshake is not one: curl
 * reports a connection reset during it as CURLE_SSL_CONNECT_ERROR too (a busy API, a proxy), so
 * it is retried; certificate problems have codes of their own. */
static bool curl_fatal(CURLcode cc) {
    return cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT ||
           cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CERTPROBLEM ||
           cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_NOT_BUILT_IN;
}

static bool unreachable(CURLcode cc) {
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* An attempt ended: accept it, schedule a retry, or fail the call. */
static void settle(struct run *r, struct slot *s, CURLcode cc) {
    struct mill_http *h = r->h;
    struct mill_http_call *c = s->c;
    size_t i = s->call;
    curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &c->status);
    char why[768], msg[MILL_ERR_MSG_MAX];
    bool retry = false;
    why[0] = 0;
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "%s",
                 s->too_big     ? "response larger than 256 MiB"
                 : s->errbuf[0] ? s->errbuf
                                : curl_easy_strerror(cc));
        if (curl_fatal(cc) && !r->fatal[0]) {
            describe(s, c, why, r->fatal, sizeof r->fatal);
            r->fatal_code = MILL_ENET;
        }
        /* A probe says at once that a server cannot be reached (or did not answer in time). */
        bool gone = unreachable(cc) || cc == CURLE_OPERATION_TIMEDOUT;
        retry = !s->too_big && !curl_fatal(cc) && !(r->probe && gone);
    } else if (c->status >= 200 && c->status < 300) {
        if (r->probe) {
            finish_call(r, i, 0, NULL);
            return;
        }
        int a = r->accept ? r->accept(r->ud, i, c, why, sizeof why) : 0;
        if (a == 0) {
            finish_call(r, i, 0, NULL);
            return;
        }
        retry = a == MILL_HTTP_RETRY;
    } else {
        char ex[512];
        mill_http_body_excerpt(&c->resp, ex, sizeof ex);
        bool quota = c->status == 429 && fatal_answer(c);
        snprintf(why, sizeof why, "HTTP %ld%s%s%s", c->status, ex[0] ? ": " : "", ex,
                 quota ? " (insufficient_quota: waiting will not help)" : "");
        if (fatal_answer(c) && !r->probe && !r->fatal[0]) {
            describe(s, c, why, r->fatal, sizeof r->fatal);
            r->fatal_code = MILL_ENET;
        }
        retry = http_transient(c->status) && !fatal_answer(c);
    }
    if (retry && c->attempts <= h->max_retries && !r->fatal[0]) {
        double wait =
            s->retry_after >= 0
                ? (s->retry_after < MAX_RETRY_AFTER_S ? s->retry_after : MAX_RETRY_AFTER_S)
                : fmin(MAX_BACKOFF_S, ldexp(1.0, c->attempts - 1)) * jitter(h);
        MILL_DEBUG(MOD, "%s %s: %s; retry %d of %d in %.2f s", c->body ? "POST" : "GET", s->url,
                   why, c->attempts, h->max_retries, wait);
        r->ready[i] = mill_clock_s() + wait;
        r->state[i] = C_WAIT;
        r->n_waiting++;
        h->st.retries++;
        return;
    }
    describe(s, c, why, msg, sizeof msg);
    if (c->attempts > 1) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, " (%d attempts)", c->attempts);
    }
    /* a server that stopped answering mid-run (crashed, stopped) fails every request after:
     * the run stops with what was answered written, rather than failing them one by one */
    if (cc != CURLE_OK && unreachable(cc) && !r->probe && !r->fatal[0]) {
        snprintf(r->fatal, sizeof r->fatal, "%.700s: the server stopped answering", msg);
        r->fatal_code = MILL_ENET;
    }
    finish_call(r, i,
                fatal_answer(c) || (cc != CURLE_OK && unreachable(cc)) ? MILL_ENET : MILL_EBACKEND,
                msg);
}

/* The next call to start: a retry whose wait is over (earliest first), else the next fresh
 * one; *wake is lowered to the earliest retry still waiting. SIZE_MAX when none. */
static size_t pick(struct run *r, double now, double *wake) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; r->n_waiting && i < r->next; i++)
        if (r->state[i] == C_WAIT) {
            if (r->ready[i] <= now && (best == SIZE_MAX || r->ready[i] < r->ready[best]))
                best = i;
            else if (r->ready[i] > now && r->ready[i] < *wake)
                *wake = r->ready[i];
        }
    if (best == SIZE_MAX && r->next < r->n)
        best = r->next;
    return best;
}

static struct slot *free_slot(struct mill_http *h) {
    for (int i = 0; i < h->concurrency; i++)
        if (!h->slots[i].busy)
            return &h->slots[i];
    return NULL;
}

static void drop(struct run *r, struct slot *s) {
    curl_multi_remove_handle(r->h->m, s->e);
    s->busy = false;
    r->active--;
}

static void progress(struct run *r, const char *label, double t0, double *t_last, bool end) {
    if (!label || !isatty(STDERR_FILENO))
        return;
    double t = mill_clock_s();
    if (end) {
        if (*t_last > 0)
            fputs("\r\033[K", stderr);
        return;
    }
    if (t - t0 < 1 || t - *t_last < 0.5)
        return;
    *t_last = t;
    double rate = (double)r->n_done / (t - t0);
    double eta = rate > 0 ? (double)(r->n - r->n_done) / rate : 0;
    fprintf(stderr, "\r%s: %zu/%zu requests, %zu in flight, %.1f/s, ETA %02d:%02d\033[K", label,
            r->n_done, r->n, r->active, rate, (int)eta / 60, (int)eta % 60);
}

static int loop(struct run *r, const char *label, double timeout_s, struct mill_err *err) {
    struct mill_http *h = r->h;
    double t0 = mill_clock_s(), t_last = 0, stop_at = 0, t_log = t0;
    int rc = 0, stop_sig = 0;
    while (!rc && r->n_done < r->n) {
        double now = mill_clock_s(), wake = now + 0.1;
        if (!stop_sig)
            stop_sig = mill_stop_signal();
        /* a stop request or a fatal answer: nothing new starts, what is in flight may end */
        bool ending = stop_sig || r->fatal[0];
        if (ending && stop_at == 0)
            stop_at = now + STOP_GRACE_S;
        if (ending && (!r->active || now >= stop_at))
            break;
        while (!rc && !stop_sig && !r->fatal[0] && r->active < (size_t)h->concurrency) {
            size_t i = pick(r, now, &wake);
            if (i == SIZE_MAX)
                break;
            if (h->interval_s > 0 && now < h->next_start) {
                wake = fmin(wake, h->next_start);
                break;
            }
            if (h->interval_s > 0)
                h->next_start = fmax(now, h->next_start) + h->interval_s;
            struct slot *s = free_slot(h);
            if (!s)
                break;
            if (i == r->next)
                r->next++;
            else
                r->n_waiting--;
            if (!(rc = start(h, s, i, &r->calls[i], timeout_s, err))) {
                r->state[i] = C_ACTIVE;
                r->active++;
            }
        }
        int running = 0;
        if (!rc && curl_multi_perform(h->m, &running) != CURLM_OK)
            rc = mill_err_set(err, MILL_ENET, "http: curl_multi_perform failed");
        CURLMsg *msg;
        int left;
        bool freed = false; /* a slot came free: start the next request before waiting */
        while (!rc && (msg = curl_multi_info_read(h->m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = msg->data.result;
            drop(r, s);
            settle(r, s, cc);
            freed = true;
        }
        if (rc || r->n_done >= r->n)
            break;
        now = mill_clock_s();
        if (label && now - t_log >= 30 && !isatty(STDERR_FILENO)) {
            t_log = now;
            MILL_INFO(MOD, "%s: %zu/%zu requests answered, %zu in flight, %.2f/s", label, r->n_done,
                      r->n, r->active, (double)r->n_done / (now - t0));
        }
        progress(r, label, t0, &t_last, false);
        double ms = freed ? 0 : (wake - now) * 1000;
        if (ms > 100)
            ms = 100;
        if (ms < 0)
            ms = 0;
        if (curl_multi_poll(h->m, NULL, 0, (int)ms, NULL) != CURLM_OK)
            rc = mill_err_set(err, MILL_ENET, "http: curl_multi_poll failed");
    }
    progress(r, label, t0, &t_last, true);
    /* Whatever is unanswered now: a stop request, a fatal answer, or a broken engine. */
    for (int k = 0; k < h->concurrency; k++)
        if (h->slots[k].busy)
            drop(r, &h->slots[k]);
    char why[MILL_ERR_MSG_MAX];
    if (r->fatal[0])
        snprintf(why, sizeof why, "%s", r->fatal);
    else if (stop_sig)
        snprintf(why, sizeof why, "stopped by signal %d before this request was answered",
                 stop_sig);
    else
        snprintf(why, sizeof why, "not answered: %.900s", rc ? err->msg : "the run stopped");
    for (size_t i = 0; i < r->n; i++)
        if (r->state[i] != C_DONE)
            finish_call(r, i, stop_sig && !r->fatal[0] ? MILL_EINTR : MILL_EBACKEND, why);
    h->st.seconds += mill_clock_s() - t0;
    /* every call has its outcome now: a run's caller writes them, then stops */
    if (!rc && r->fatal[0])
        rc = mill_err_set(err, r->probe ? r->fatal_code : MILL_EHALTED, "%s", r->fatal);
    return rc;
}

static int run_calls(struct mill_http *h, struct mill_http_call *calls, size_t n,
                     mill_http_accept_fn accept, void *ud, const char *label, bool probe,
                     struct mill_err *err) {
    struct run r = {.h = h, .calls = calls, .n = n, .accept = accept, .ud = ud, .probe = probe};
    r.state = calloc(n ? n : 1, 1);
    r.ready = calloc(n ? n : 1, sizeof *r.ready);
    int rc = r.state && r.ready ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        calls[i].attempts = 0;
        calls[i].code = 0;
        calls[i].status = 0;
        free(calls[i].error);
        calls[i].error = NULL;
    }
    h->st.calls += (long long)n;
    if (!rc)
        rc = loop(&r, label, probe ? fmin(h->timeout_s, PROBE_TIMEOUT_S) : h->timeout_s, err);
    free(r.state);
    free(r.ready);
    return rc;
}

int mill_http_run(struct mill_http *h, struct mill_http_call *calls, size_t n,
                  mill_http_accept_fn accept, void *ud, const char *label, struct mill_err *err) {
    return run_calls(h, calls, n, accept, ud, label, false, err);
}

int mill_http_probe(struct mill_http *h, struct mill_http_call *c, struct mill_err *err) {
    struct mill_http_stats before = h->st; /* the probe is not the task's work */
    int rc = run_calls(h, c, 1, NULL, NULL, NULL, true, err);
    h->st = before;
    if (!rc && c->code == MILL_EINTR)
        rc = mill_err_set(err, MILL_EINTR, "stopped by signal %d before the server answered",
                          mill_stop_signal());
    if (!rc && c->status == 0)
        rc = mill_err_set(err, MILL_ENET, "%s", c->error ? c->error : "no answer");
    if (!rc) {
        free(c->error);
        c->error = NULL;
        c->code = 0;
    }
    return rc;
}

/* ---- what the backends share ------------------------------------------------------------ */

/* The spec as given with api_key's value masked. */
static char *masked_raw(const char *raw) {
    char *m = strdup(raw);
    mill_spec_mask_secrets(m);
    return m;
}

int mill_http_parse_spec(const struct mill_model_spec *spec, const struct mill_backend_arg *args,
                         void *target, struct mill_value *extra, struct mill_err *err) {
    mill_value_struct(extra);
    struct mill_model_spec known = {.type = spec->type, .cache_dir = spec->cache_dir};
    mill_value_struct(&known.args);
    known.raw = masked_raw(spec->raw ? spec->raw : "");
    int rc = known.raw ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    const struct mill_value *a = &spec->args;
    for (size_t i = 0; !rc && a->kind == MILL_V_STRUCT && i < a->u.obj.n; i++) {
        struct mill_value v;
        if ((rc = mill_value_copy(&v, &a->u.obj.vals[i])) != 0) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        const char *k = a->u.obj.keys[i];
        if (mill_value_struct_set(mill_spec_arg_find(args, k) ? &known.args : extra, k, &v)) {
            mill_value_free(&v);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
    }
    if (!rc)
        rc = mill_spec_apply_args(&known, args, target, err);
    mill_value_free(&known.args);
    free(known.raw);
    return rc;
}

int mill_http_conf_finish(struct mill_http_conf *conf, const char *def_url, const char *env_url,
                          const char *env_key, const char *what, struct mill_err *err) {
    if (!conf->model || !*conf->model)
        return mill_err_set(err, MILL_EINVAL, "%s needs model=<the served model's name>", what);
    const char *env = env_url ? getenv(env_url) : NULL;
    if (!conf->base_url && !(conf->base_url = strdup(env && *env ? env : def_url)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t n = strlen(conf->base_url);
    while (n && conf->base_url[n - 1] == '/')
        conf->base_url[--n] = 0;
    if (strncmp(conf->base_url, "http://", 7) && strncmp(conf->base_url, "https://", 8))
        return mill_err_set(err, MILL_EINVAL, "%s: base_url '%s' is not an http(s) URL", what,
                            conf->base_url);
    const char *key = env_key ? getenv(env_key) : NULL;
    if (!conf->api_key && key && *key && !(conf->api_key = strdup(key)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

bool mill_http_has_extra(const struct mill_value *extra, const char *key) {
    return mill_value_get(extra, key) != NULL;
}

int mill_http_add_extra(struct mill_buf *b, const struct mill_value *extra) {
    return mill_http_add_extra_but(b, extra, NULL);
}

int mill_http_add_extra_but(struct mill_buf *b, const struct mill_value *extra,
                            const char *const *skip) {
    int rc = 0;
    for (size_t i = 0; !rc && extra->kind == MILL_V_STRUCT && i < extra->u.obj.n; i++) {
        const char *k = extra->u.obj.keys[i];
        bool skipped = false;
        for (const char *const *s = skip; s && *s && !skipped; s++)
            skipped = !strcmp(*s, k);
        if (skipped)
            continue;
        rc = mill_buf_addc(b, ',');
        if (!rc)
            rc = mill_buf_add_json_str(b, k, strlen(k));
        if (!rc)
            rc = mill_buf_addc(b, ':');
        if (!rc)
            rc = mill_value_to_json(&extra->u.obj.vals[i], b);
    }
    return rc;
}

/* A printable excerpt of s[0..n) (controls become spaces), at most out_n - 1 bytes. */
static void printable(const char *s, size_t n, char *out, size_t out_n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < out_n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    while (k && out[k - 1] == ' ')
        k--;
    out[k] = 0;
}

void mill_http_body_excerpt(const struct mill_buf *body, char *out, size_t out_n) {
    out[0] = 0;
    if (!body->n)
        return;
    struct mill_value v;
    struct mill_err e = {0};
    if (!mill_value_from_json(&v, body->p, body->n, &e)) {
        const struct mill_value *m = NULL, *er = mill_value_get(&v, "error");
        if (er && er->kind == MILL_V_STRUCT)
            m = mill_value_get(er, "message");
        else if (er && er->kind == MILL_V_STR)
            m = er;
        if (!m || m->kind != MILL_V_STR)
            m = mill_value_get(&v, "message");
        if (!m || m->kind != MILL_V_STR)
            m = mill_value_get(&v, "detail");
        if (m && m->kind == MILL_V_STR) {
            printable(m->u.s.p, m->u.s.n, out, out_n < 400 ? out_n : 400);
            mill_value_free(&v);
            return;
        }
        mill_value_free(&v);
    }
    printable(body->p, body->n, out, out_n < 160 ? out_n : 160);
}

static bool looks_html(const struct mill_buf *b) {
    size_t i = 0;
    while (i < b->n && isspace((unsigned char)b->p[i]))
        i++;
    return i < b->n && b->p[i] == '<';
}

int mill_http_check_json(const struct mill_http_call *c, const char *url, struct mill_value *doc,
                         struct mill_err *err) {
    mill_value_null(doc);
    char ex[512];
    mill_http_body_excerpt(&c->resp, ex, sizeof ex);
    if (c->status == 401 || c->status == 403)
        return mill_err_set(
            err, MILL_ENET,
            "%s answered HTTP %ld%s%s: the API key (the api_key argument or the environment) "
            "is missing or not accepted",
            url, c->status, ex[0] ? ": " : "", ex);
    if (c->status < 200 || c->status >= 300)
        return mill_err_set(err, MILL_ENET, "%s answered HTTP %ld%s%s", url, c->status,
                            ex[0] ? ": " : "", ex);
    if (looks_html(&c->resp))
        return mill_err_set(err, MILL_ENET,
                            "%s answered an HTML page, not JSON: base_url must be the API root "
                            "of an OpenAI-compatible server (it usually ends in /v1)",
                            url);
    struct mill_err e = {0};
    if (mill_value_from_json(doc, c->resp.p ? c->resp.p : "", c->resp.n, &e) ||
        doc->kind != MILL_V_STRUCT) {
        mill_value_free(doc);
        return mill_err_set(err, MILL_ENET,
                            "%s answered something that is not a JSON object (%s): not an "
                            "OpenAI-compatible API",
                            url, ex[0] ? ex : "empty body");
    }
    return 0;
}

/* The /models listing: warns when it does not hold conf->model; *listed = its only id. */
static int read_listing(const struct mill_value *doc, const char *url,
                        const struct mill_http_conf *conf, char **listed, struct mill_err *err) {
    const struct mill_value *data = mill_value_get(doc, "data");
    size_t n = data && data->kind == MILL_V_LIST ? data->u.list.n : 0;
    bool found = false;
    struct mill_buf names = {0};
    for (size_t i = 0; i < n; i++) {
        const char *id = mill_value_as_str(mill_value_get(&data->u.list.items[i], "id"));
        if (!id)
            continue;
        found = found || !strcmp(id, conf->model);
        if (i < 8)
            mill_buf_addf(&names, "%s'%s'", i ? ", " : "", id);
    }
    if (n && !found)
        MILL_WARN(MOD, "%s lists %s%s, not '%s'; sending model='%s' anyway", url,
                  names.p ? names.p : "", n > 8 ? ", ..." : "", conf->model, conf->model);
    mill_buf_free(&names);
    const char *one =
        n == 1 ? mill_value_as_str(mill_value_get(&data->u.list.items[0], "id")) : NULL;
    if (one && !(*listed = strdup(one)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

/* One probe call and its verdict; *doc holds the JSON answer on success. */
static int probe_one(struct mill_http *h, struct mill_http_call *c, struct mill_value *doc,
                     struct mill_err *err) {
    char *url = mill_http_url(h, c->path);
    if (!url)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    mill_value_null(doc);
    int rc = mill_http_probe(h, c, err);
    if (rc && rc != MILL_EINTR)
        mill_err_prefix(err, "cannot reach the server at %s", h->base_url);
    else if (!c->body && (c->status == 404 || c->status == 405))
        rc = 1; /* no /models route: the one-token request decides */
    else if (!(rc = mill_http_check_json(c, url, doc, err)) && c->body &&
             !mill_http_first_choice(doc)) {
        mill_value_free(doc);
        rc = mill_err_set(err, MILL_ENET,
                          "%s answered JSON without choices: not an OpenAI-compatible completion "
                          "API",
                          url);
    }
    if (rc && rc != 1 && c->status == 404 && !strstr(h->base_url, "/v1")) {
        size_t k = strlen(err->msg); /* the usual slip: base_url without its /v1 */
        snprintf(err->msg + k, sizeof err->msg - k, " (base_url usually ends in /v1)");
    }
    if (rc && rc != 1) /* the body excerpt may echo the key */
        mask_key(h, err->msg);
    free(url);
    free(c->error);
    c->error = NULL;
    mill_buf_free(&c->resp);
    return rc;
}

int mill_http_check_server(struct mill_http *h, const struct mill_http_conf *conf,
                           const char *probe_path, const char *probe_body, char **server_model,
                           struct mill_err *err) {
    *server_model = NULL;
    double t0 = mill_clock_s();
    struct mill_http_call c = {.path = "/models"};
    struct mill_value doc;
    int rc = probe_one(h, &c, &doc, err);
    if (rc == MILL_EINTR)
        return rc;
    if (rc == 0) {
        char *url = mill_http_url(h, c.path);
        rc = url ? read_listing(&doc, url, conf, server_model, err)
                 : mill_err_set(err, MILL_ENOMEM, "out of memory");
        free(url);
        mill_value_free(&doc);
    } else if (rc == 1) {
        rc = 0;
    }
    /* The request shape itself (model name, pass-through fields, endpoint), one token long. */
    c = (struct mill_http_call){
        .path = probe_path, .body = probe_body, .body_n = strlen(probe_body)};
    if (!rc && !(rc = probe_one(h, &c, &doc, err))) {
        const char *model = mill_value_as_str(mill_value_get(&doc, "model"));
        if (model) {
            free(*server_model);
            if (!(*server_model = strdup(model)))
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        mill_value_free(&doc);
    }
    if (rc) {
        free(*server_model);
        *server_model = NULL;
    } else {
        MILL_INFO(MOD, "%s answers (%.2f s)", h->base_url, mill_clock_s() - t0);
    }
    return rc;
}

const struct mill_value *mill_http_first_choice(const struct mill_value *doc) {
    const struct mill_value *ch = mill_value_get(doc, "choices");
    if (!ch || ch->kind != MILL_V_LIST || !ch->u.list.n)
        return NULL;
    for (size_t i = 0; i < ch->u.list.n; i++) {
        int64_t k;
        if (!mill_value_as_int(mill_value_get(&ch->u.list.items[i], "index"), &k) && k == 0)
            return &ch->u.list.items[i];
    }
    return ch->u.list.items[0].kind == MILL_V_STRUCT ? &ch->u.list.items[0] : NULL;
}

static int add_str_or_null(struct mill_buf *b, const char *s) {
    return s ? mill_buf_add_json_str(b, s, strlen(s)) : mill_buf_adds(b, "null");
}

int mill_http_provenance(struct mill_http *h, const struct mill_http_conf *conf,
                         const char *server_model, struct mill_buf *out) {
    struct mill_http_stats st = {0};
    if (h)
        mill_http_stats_take(h, &st);
    char *shown = conf->base_url ? strdup(conf->base_url) : NULL; /* without a password */
    mill_spec_mask_secrets(shown);
    int rc = conf->base_url && !shown ? MILL_ENOMEM : mill_buf_adds(out, "\"base_url\":");
    if (!rc)
        rc = add_str_or_null(out, shown);
    free(shown);
    if (!rc)
        rc = mill_buf_adds(out, ",\"server_model\":");
    if (!rc)
        rc = add_str_or_null(out, server_model);
    if (!rc)
        rc = mill_buf_adds(out, ",\"server_version\":");
    if (!rc)
        rc = add_str_or_null(out, h ? mill_http_server_version(h) : NULL);
    if (!rc)
        rc = mill_buf_addf(out,
                           ",\"concurrency\":%lld,\"http_requests\":%lld,\"http_attempts\":%lld,"
                           "\"http_retries\":%lld,\"http_failed\":%lld,\"http_seconds\":%.3f",
                           (long long)conf->concurrency, st.calls, st.attempts, st.retries,
                           st.failed, st.seconds);
    return rc;
}

void mill_http_calls_done(struct mill_http_call *calls, struct mill_request *const *qs, size_t n,
                          int rc) {
    for (size_t i = 0; i < n; i++) {
        if ((!rc || rc == MILL_EHALTED) && calls[i].code) {
            mill_request_clear_output(qs[i]);
            mill_request_fail(qs[i], calls[i].code, "%s",
                              calls[i].error ? calls[i].error : "request failed");
        }
        free(calls[i].error);
        mill_buf_free(&calls[i].resp);
    }
}

int mill_http_read_answer(const struct mill_http_call *c, struct mill_value *doc,
                          const struct mill_value **choice, char *why, size_t n) {
    struct mill_err e = {0};
    char ex[256];
    *choice = NULL;
    if (mill_value_from_json(doc, c->resp.p ? c->resp.p : "", c->resp.n, &e)) {
        mill_http_body_excerpt(&c->resp, ex, sizeof ex);
        snprintf(why, n, "the answer is not JSON (%s)", ex[0] ? ex : "empty");
        return MILL_HTTP_RETRY;
    }
    if (!(*choice = mill_http_first_choice(doc))) {
        mill_http_body_excerpt(&c->resp, ex, sizeof ex);
        snprintf(why, n, "the answer has no choices (%s)", ex);
        mill_value_free(doc);
        return MILL_EFORMAT;
    }
    return 0;
}

void mill_http_note_model(char **server_model, const struct mill_value *doc) {
    const char *model = mill_value_as_str(mill_value_get(doc, "model"));
    if (model && (!*server_model || strcmp(model, *server_model))) {
        free(*server_model);
        *server_model = strdup(model);
    }
}

int mill_http_open_conf(struct mill_http **out, const struct mill_http_conf *conf,
                        struct mill_err *err) {
    struct mill_http_params p = {
        .base_url = conf->base_url,
        .api_key = conf->api_key,
        .concurrency = (int)conf->concurrency,
        .max_retries = (int)conf->max_retries,
        .timeout_s = (double)conf->timeout,
        .requests_per_minute = (double)conf->requests_per_minute,
    };
    return mill_http_open(out, &p, err);
}
