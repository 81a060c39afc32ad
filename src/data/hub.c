/* hub.c: the Hugging Face Hub client (hub.h): HTTP through libcurl, the huggingface_hub cache
 * layout, resumable verified downloads, byte ranges of a file, tree listings, globs and hf://
 * URLs.
 *
 * Must not: send the token anywhere but the endpoint's host (it goes through
 * CURLOPT_XOAUTH2_BEARER, which libcurl drops on a redirect to another host, port or scheme,
 * never as a raw header), print or log it or let it into an error message; write a blob that
 * was not verified; issue a request in offline mode. */
#include "data/hub.h"

#include "core/array.h"
#include "core/log.h"
#include "core/sha2.h"
#include "core/stop.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD "hub"
#define CONVERT_REV "refs/convert/parquet"
#define MAX_PAGES 100000
#define MAX_WALK_DEPTH 64

struct mill_hub {
    struct mill_hub_params p;
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
};

/* ---- small helpers ---------------------------------------------------------------------- */

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static int oom(struct mill_err *err) { return mill_err_set(err, MILL_ENOMEM, "out of memory"); }

static bool copy_str(char *dst, size_t cap, const char *src, size_t n) {
    if (n >= cap)
        return false;
    memcpy(dst, src, n);
    dst[n] = 0;
    return true;
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "on"));
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == 0;
}

static bool is_commit(const char *s) { return s && strlen(s) == 40 && is_hex(s, 40); }

static bool parse_i64(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
            return false; /* not a number, or one past int64 */
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Reads a small text file into buf with surrounding whitespace trimmed. */
static bool read_trimmed(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    size_t a = 0;
    while (a < n && buf[a] && strchr(" \t\r\n", buf[a]))
        a++;
    while (n > a && buf[n - 1] && strchr(" \t\r\n", buf[n - 1]))
        n--;
    memmove(buf, buf + a, n - a);
    buf[n - a] = 0;
    return n > a;
}

/* A repo-relative path: no leading '/', no empty, "." or ".." segment, no control byte or
 * backslash. Everything that becomes a file name under the cache goes through this. */
static bool safe_rel_path(const char *s) {
    if (!s || !*s || *s == '/' || strlen(s) >= 4096)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    const char *seg = s;
    for (;;) {
        const char *e = strchr(seg, '/');
        size_t n = e ? (size_t)(e - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!e)
            return true;
        seg = e + 1;
    }
}

/* [A-Za-z0-9._-] */
static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool safe_repo_id(const char *s) {
    if (!s || strlen(s) >= 200 || !safe_rel_path(s))
        return false;
    int slashes = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!name_char(*p))
            return false;
    }
    return slashes <= 1;
}

bool mill_hub_repo_id_ok(const char *id) { return safe_repo_id(id); }

static int mkdir_p(const char *path) {
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1; !rc; s++) {
        bool end = *s == 0;
        if (*s != '/' && !end)
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            rc = -errno;
        if (end)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}

static int mkdir_parent(const char *path) {
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    char *slash = strrchr(p, '/');
    int rc = 0;
    if (slash && slash != p) {
        *slash = 0;
        rc = mkdir_p(p);
    }
    free(p);
    return rc;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *type_word(const struct mill_hub_repo *r) {
    return r->type == MILL_HUB_MODEL ? "model" : "dataset";
}

static const char *rev_of(const struct mill_hub_repo *r) {
    return r->revision && *r->revision ? r->revision : "main";
}

/* Replaces every occurrence of the token in the error message: a last guard, should a server
 * ever echo it back in a message we quote. */
static int redact(const struct mill_hub *h, struct mill_err *err) {
    if (!err || !h->p.token[0])
        return err ? err->code : 0;
    size_t tn = strlen(h->p.token);
    char *p = err->msg, *hit;
    while ((hit = strstr(p, h->p.token)) != NULL) {
        memset(hit, '*', tn);
        p = hit + tn;
    }
    return err->code;
}

/* ---- parameters and lifecycle --------------------------------------------------------------- */

/* path as huggingface_hub's constants make it: os.path.expandvars(os.path.expanduser(path)),
 * a leading "~" or "~/" being $HOME (~user is left alone), $NAME and ${NAME} the variable's
 * value when it is set, else left as written. */
static void expand_path(const char *path, char *out, size_t cap) {
    const char *given = path;
    struct mill_buf b = {0};
    const char *home = getenv("HOME");
    int rc = mill_buf_adds(&b, "");
    if (path[0] == '~' && (path[1] == '/' || !path[1]) && home) {
        size_t n = strlen(home);
        while (n && home[n - 1] == '/')
            n--;
        rc = rc || mill_buf_add(&b, home, n);
        path++;
        if (!b.n && !*path)
            rc = rc || mill_buf_addc(&b, '/');
    }
    for (const char *p = path; *p;) { /* posixpath's \$(\w+|\{[^}]*\}) matches */
        const char *name = p + 1, *nm = NULL, *end = NULL;
        if (*p == '$' && *name == '{' && strchr(name, '}')) {
            nm = name + 1;
            end = strchr(name, '}') + 1;
        } else if (*p == '$') {
            for (end = name; isalnum((unsigned char)*end) || *end == '_'; end++)
                ;
            nm = end > name ? name : NULL;
        }
        if (!nm) {
            rc = rc || mill_buf_addc(&b, *p);
            p++;
            continue;
        }
        size_t nn = (size_t)(end - nm) - (*name == '{');
        char var[256];
        const char *val =
            nn && nn < sizeof var && !memchr(nm, '=', nn) && copy_str(var, sizeof var, nm, nn)
                ? getenv(var)
                : NULL;
        /* set: its value; unset: the whole match as written */
        rc = rc || (val ? mill_buf_adds(&b, val) : mill_buf_add(&b, p, (size_t)(end - p)));
        p = end;
    }
    if (rc) { /* out of memory: the path as given */
        mill_buf_free(&b);
        snprintf(out, cap, "%s", given);
        return;
    }
    snprintf(out, cap, "%s", b.p ? b.p : "");
    mill_buf_free(&b);
}

static void default_home(char *home, size_t cap) {
    const char *v = env_nonempty("HF_HOME");
    const char *xdg = env_nonempty("XDG_CACHE_HOME");
    const char *user = env_nonempty("HOME");
    char raw[4200];
    if (v)
        snprintf(raw, sizeof raw, "%s", v);
    else if (xdg)
        snprintf(raw, sizeof raw, "%.4000s/huggingface", xdg);
    else
        snprintf(raw, sizeof raw, "%.4000s/.cache/huggingface", user ? user : ".");
    expand_path(raw, home, cap);
}

static void default_token(struct mill_hub_params *p, const char *home) {
    const char *v = env_nonempty("HF_TOKEN");
    if (!v)
        v = env_nonempty("HUGGING_FACE_HUB_TOKEN");
    if (v) {
        snprintf(p->token, sizeof p->token, "%s", v);
        return;
    }
    char path[4200];
    const char *tp = env_nonempty("HF_TOKEN_PATH");
    if (tp)
        expand_path(tp, path, sizeof path);
    else
        snprintf(path, sizeof path, "%.4000s%stoken", home,
                 *home && strchr(home, 0)[-1] == '/' ? "" : "/");
    if (!read_trimmed(path, p->token, sizeof p->token))
        p->token[0] = 0;
}

struct mill_hub_params mill_hub_default_params(void) {
    struct mill_hub_params p;
    memset(&p, 0, sizeof p);
    const char *ep = env_nonempty("HF_ENDPOINT");
    snprintf(p.endpoint, sizeof p.endpoint, "%s", ep ? ep : "https://huggingface.co");
    size_t n = strlen(p.endpoint);
    while (n > 0 && p.endpoint[n - 1] == '/')
        p.endpoint[--n] = 0;
    char home[4096];
    default_home(home, sizeof home);
    default_token(&p, home);
    const char *cache = env_nonempty("HF_HUB_CACHE");
    if (!cache)
        cache = env_nonempty("HUGGINGFACE_HUB_CACHE");
    if (cache)
        expand_path(cache, p.cache_dir, sizeof p.cache_dir);
    else if (snprintf(p.cache_dir, sizeof p.cache_dir, "%.4000s%shub", home,
                      *home && strchr(home, 0)[-1] == '/' ? "" : "/") < 0) /* os.path.join */
        p.cache_dir[0] = 0;
    p.offline = env_true("HF_HUB_OFFLINE");
    p.progress = isatty(STDERR_FILENO) && !env_true("HF_HUB_DISABLE_PROGRESS_BARS");
    p.max_retries = 3;
    p.retry_wait_ms = 500;
    p.connect_timeout_s = 10;
    p.stall_timeout_s = 60;
    p.max_listing_bytes = (size_t)64 << 20;
    return p;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void global_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int mill_hub_init(struct mill_hub **out, const struct mill_hub_params *params,
                  struct mill_err *err) {
    *out = NULL;
    if (strncmp(params->endpoint, "http://", 7) && strncmp(params->endpoint, "https://", 8))
        return mill_err_set(err, MILL_EINVAL, "hub: endpoint '%s' is not an http(s) URL",
                            params->endpoint);
    if (!params->cache_dir[0])
        return mill_err_set(err, MILL_EINVAL, "hub: empty cache directory");
    pthread_once(&curl_once, global_init);
    if (curl_init_rc != CURLE_OK)
        return mill_err_set(err, MILL_ENET, "hub: libcurl init failed");
    struct mill_hub *h = calloc(1, sizeof *h);
    if (!h)
        return oom(err);
    h->p = *params;
    size_t n = strlen(h->p.endpoint);
    while (n > 0 && h->p.endpoint[n - 1] == '/')
        h->p.endpoint[--n] = 0;
    if (h->p.max_retries < 0)
        h->p.max_retries = 0;
    if (!h->p.max_listing_bytes)
        h->p.max_listing_bytes = (size_t)64 << 20;
    if (!(h->curl = curl_easy_init())) {
        free(h);
        return mill_err_set(err, MILL_ENET, "hub: curl_easy_init failed");
    }
    *out = h;
    return MILL_OK;
}

void mill_hub_free(struct mill_hub *h) {
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    memset(h->p.token, 0, sizeof h->p.token);
    free(h);
}

/* ---- URLs and cache paths --------------------------------------------------------------- */

/* Percent-encodes s as Python's urllib.parse.quote (safe "/" when keep_slash, else ""). */
static int add_quoted(struct mill_buf *b, const char *s, bool keep_slash) {
    static const char hexd[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) || (keep_slash && *p == '/');
        if (plain) {
            rc = mill_buf_addc(b, (char)*p);
        } else {
            char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
            rc = mill_buf_add(b, e, 3);
        }
    }
    return rc;
}

static char *take_or_null(struct mill_buf *b, int rc) {
    if (rc) {
        mill_buf_free(b);
        return NULL;
    }
    return mill_buf_take(b);
}

/* <endpoint>/[datasets/]<id>/resolve/<rev>/<path> */
static char *resolve_url(const struct mill_hub *h, const struct mill_hub_repo *repo,
                         const char *rev, const char *path) {
    struct mill_buf b = {0};
    int rc = mill_buf_adds(&b, h->p.endpoint);
    rc |= mill_buf_adds(&b, repo->type == MILL_HUB_MODEL ? "/" : "/datasets/");
    rc |= mill_buf_adds(&b, repo->id);
    rc |= mill_buf_adds(&b, "/resolve/");
    rc |= add_quoted(&b, rev, false);
    rc |= mill_buf_addc(&b, '/');
    rc |= add_quoted(&b, path, true);
    return take_or_null(&b, rc);
}

/* <endpoint>/api/<datasets|models>/<id>/<what>/<rev>[/<prefix>][?recursive=true] */
static char *api_url(const struct mill_hub *h, const struct mill_hub_repo *repo, const char *what,
                     const char *rev, const char *prefix) {
    struct mill_buf b = {0};
    int rc = mill_buf_adds(&b, h->p.endpoint);
    rc |= mill_buf_adds(&b, repo->type == MILL_HUB_MODEL ? "/api/models/" : "/api/datasets/");
    rc |= mill_buf_adds(&b, repo->id);
    rc |= mill_buf_addf(&b, "/%s/", what);
    rc |= add_quoted(&b, rev, false);
    if (prefix && *prefix) {
        rc |= mill_buf_addc(&b, '/');
        rc |= add_quoted(&b, prefix, true);
    }
    if (!strcmp(what, "tree"))
        rc |= mill_buf_adds(&b, "?recursive=true");
    return take_or_null(&b, rc);
}

/* <cache>/datasets--org--name (huggingface_hub's repo_folder_name). */
static char *repo_folder(const struct mill_hub *h, const struct mill_hub_repo *repo,
                         bool with_cache) {
    struct mill_buf b = {0};
    int rc = with_cache ? mill_buf_addf(&b, "%s/", h->p.cache_dir) : 0;
    rc |= mill_buf_adds(&b, repo->type == MILL_HUB_MODEL ? "models--" : "datasets--");
    for (const char *p = repo->id; *p; p++)
        rc |= *p == '/' ? mill_buf_adds(&b, "--") : mill_buf_addc(&b, *p);
    return take_or_null(&b, rc);
}

/* The commit refs/<rev> holds, into commit[41]; false when absent or not a sha. */
static bool read_ref(const char *folder, const char *rev, char commit[41]) {
    char *path = strf("%s/refs/%s", folder, rev);
    char buf[128];
    bool ok = path && read_trimmed(path, buf, sizeof buf) && is_commit(buf);
    free(path);
    if (ok)
        memcpy(commit, buf, 41);
    return ok;
}

/* The temporary made beside path before it is renamed over it: "<path>.tmp<pid>.<n>", named by
 * process and a counter, so that two clients of one process never share one (is_tmp_name
 * knows the shape). malloc'd. */
static char *tmp_name(const char *path) {
    static atomic_uint seq;
    return strf("%s.tmp%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1));
}

/* Writes a small file whole: a temporary file (tmp_name), fsync, rename into place. */
static int write_small_file(const char *path, const char *text, size_t n, struct mill_err *err) {
    char *tmp = tmp_name(path);
    int rc = MILL_OK;
    if (!tmp) {
        rc = oom(err);
    } else if (mkdir_parent(path) != 0) {
        rc = mill_err_set(err, MILL_EIO, "hub: cannot create the directory of %s: %s", path,
                          strerror(errno));
    } else {
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok || rename(tmp, path) != 0) {
            rc = mill_err_set(err, MILL_EIO, "hub: cannot write %s: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    free(tmp);
    return rc;
}

/* Writes refs/<rev> = commit, unless it already says so: a read-only shared cache that holds
 * the ref works (huggingface_hub's _cache_commit_hash_for_specific_revision, issue 1216). */
static int write_ref(const char *folder, const char *rev, const char *commit,
                     struct mill_err *err) {
    char have[41];
    if (read_ref(folder, rev, have) && !strcmp(have, commit))
        return 0;
    char *path = strf("%s/refs/%s", folder, rev);
    int rc = path ? write_small_file(path, commit, strlen(commit), err) : oom(err);
    free(path);
    return rc;
}

/* Finds the commit of rev from the cache: the revision itself when it is a sha, else refs/. */
static bool cached_commit(const char *folder, const char *rev, char commit[41]) {
    if (is_commit(rev)) {
        memcpy(commit, rev, 41);
        return true;
    }
    return read_ref(folder, rev, commit);
}

/* ---- HTTP ------------------------------------------------------------------------------- */

/* What we keep of one exchange. Hub headers (X-Repo-Commit, X-Linked-*) are taken from the
 * first response that carries them; ETag and Content-Length only from the Hub's own (first)
 * response, never from a CDN it redirects to. */
struct resp {
    long status;
    int nresp;             /* status lines seen */
    char commit[41];       /* X-Repo-Commit */
    char etag[129];        /* ETag of the first response, normalised */
    char linked_etag[129]; /* X-Linked-Etag, normalised */
    int64_t linked_size;   /* X-Linked-Size, -1 */
    int64_t length;        /* Content-Length of the first response, -1 */
    char next[2048];       /* Link: <...>; rel="next" of the last response */
    char error_code[64];   /* X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) */
    char error_msg[256];   /* X-Error-Message */
    int64_t retry_after;   /* Retry-After in seconds, -1 (a date is not read) */
    struct mill_buf body;  /* GETs into memory */
    size_t cap;            /* body cap in bytes */
    bool too_big;
};

static void resp_init(struct resp *r, size_t cap) {
    memset(r, 0, sizeof *r);
    r->linked_size = -1;
    r->length = -1;
    r->retry_after = -1;
    r->cap = cap;
}

static bool header_value(const char *line, size_t len, const char *name, const char **val,
                         size_t *vlen) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && end[-1] && strchr(" \t\r\n", end[-1]))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

/* huggingface_hub's etag normalisation: drop a W/ prefix and the quotes. Only characters that
 * are safe in a file name are accepted, since the etag names the blob. */
static bool norm_etag(const char *v, size_t n, char *out, size_t cap) {
    if (n >= 2 && v[0] == 'W' && v[1] == '/') {
        v += 2;
        n -= 2;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 0 || n >= cap || (n <= 2 && v[0] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(v[i]))
            return false;
    return copy_str(out, cap, v, n);
}

/* Link: <url>; rel="next", <url2>; rel="prev" */
static void parse_link(const char *v, size_t n, char *next, size_t cap) {
    const char *end = v + n;
    while (v < end) {
        const char *lt = memchr(v, '<', (size_t)(end - v));
        const char *gt = lt ? memchr(lt, '>', (size_t)(end - lt)) : NULL;
        if (!gt)
            return;
        const char *comma = memchr(gt, ',', (size_t)(end - gt));
        const char *stop = comma ? comma : end;
        const char *rel = memmem(gt, (size_t)(stop - gt), "rel=\"next\"", 10);
        if (rel && copy_str(next, cap, lt + 1, (size_t)(gt - lt - 1)))
            return;
        v = stop + (comma ? 1 : 0);
    }
}

static void on_hub_header(struct resp *r, const char *buf, size_t len) {
    const char *v;
    size_t n;
    if (header_value(buf, len, "x-repo-commit", &v, &n)) {
        if (!r->commit[0] && n == 40 && copy_str(r->commit, sizeof r->commit, v, n) &&
            !is_commit(r->commit))
            r->commit[0] = 0;
    } else if (header_value(buf, len, "x-linked-etag", &v, &n)) {
        if (!r->linked_etag[0] && !norm_etag(v, n, r->linked_etag, sizeof r->linked_etag))
            r->linked_etag[0] = 0;
    } else if (header_value(buf, len, "etag", &v, &n)) {
        if (r->nresp == 1 && !norm_etag(v, n, r->etag, sizeof r->etag))
            r->etag[0] = 0;
    } else if (header_value(buf, len, "x-linked-size", &v, &n)) {
        if (r->linked_size < 0 && !parse_i64(v, n, &r->linked_size))
            r->linked_size = -1;
    } else if (header_value(buf, len, "content-length", &v, &n)) {
        if (r->nresp == 1 && !parse_i64(v, n, &r->length))
            r->length = -1;
    } else if (header_value(buf, len, "link", &v, &n)) {
        parse_link(v, n, r->next, sizeof r->next);
    } else if (header_value(buf, len, "x-error-code", &v, &n)) {
        copy_str(r->error_code, sizeof r->error_code, v, n < 63 ? n : 63);
    } else if (header_value(buf, len, "x-error-message", &v, &n)) {
        copy_str(r->error_msg, sizeof r->error_msg, v, n < 255 ? n : 255);
    } else if (header_value(buf, len, "retry-after", &v, &n)) {
        if (!parse_i64(v, n, &r->retry_after))
            r->retry_after = -1;
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
    struct resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
        r->nresp++;
        r->next[0] = 0;
    } else {
        on_hub_header(r, buf, len);
    }
    return len;
}

static size_t on_body_mem(char *p, size_t size, size_t n, void *ud) {
    struct resp *r = ud;
    size_t len = size * n;
    if (r->body.n + len > r->cap) {
        r->too_big = true;
        return 0;
    }
    return mill_buf_add(&r->body, p, len) == 0 ? len : 0;
}

/* Options every request shares. The token goes only through CURLOPT_XOAUTH2_BEARER: libcurl
 * sends it to the URL we ask for and, with CURLOPT_UNRESTRICTED_AUTH off, to a redirect
 * target only on the same host, port and scheme. */
static void setup(struct mill_hub *h, const char *url, curl_write_callback hdr, void *ud) {
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->curl_err[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mill/" MILL_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->p.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->p.stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ud);
    if (h->p.token[0]) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->p.token);
        curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    }
}

static CURLcode perform(struct mill_hub *h, long *status) {
    CURLcode rc = curl_easy_perform(h->curl);
    *status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static int net_fail(struct mill_hub *h, const struct mill_hub_repo *repo, const char *url,
                    CURLcode rc, struct mill_err *err) {
    mill_err_set(err, MILL_ENET, "%s %s: cannot fetch %s: %s", type_word(repo), repo->id, url,
                 h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
    return redact(h, err);
}

/* The error for an HTTP status >= 400. what: "file x", "path x", or NULL for the revision
 * itself; r: the response (for the Hub's X-Error-Code and X-Error-Message) or NULL. */
static int http_fail(struct mill_hub *h, const struct mill_hub_repo *repo, const char *what,
                     long status, const char *url, const struct resp *r, struct mill_err *err) {
    const char *tw = type_word(repo), *rev = rev_of(repo);
    const char *sm = r && r->error_msg[0] ? r->error_msg : NULL;
    char subj[4400];
    if (what)
        snprintf(subj, sizeof subj, "%s at revision %s", what, rev);
    else
        snprintf(subj, sizeof subj, "revision %s", rev);
    if (status == 404 && r && !strcmp(r->error_code, "RepoNotFound")) {
        mill_err_set(err, MILL_ENOTFOUND, "%s %s: repository not found (HTTP 404 from %s)", tw,
                     repo->id, url);
    } else if (status == 404 && what) {
        mill_err_set(err, MILL_ENOTFOUND, "%s %s: %s not found at revision %s (HTTP 404 from %s)",
                     tw, repo->id, what, rev, url);
    } else if (status == 404) {
        mill_err_set(err, MILL_ENOTFOUND, "%s %s: revision %s not found (HTTP 404 from %s)", tw,
                     repo->id, rev, url);
    } else if (status == 401 || status == 403) {
        const char *hint =
            h->p.token[0]
                ? "a token was sent (from HF_TOKEN or $HF_HOME/token) but the Hub refused it: check"
                  " that it is valid and has access to this repo (accept its terms if gated)"
                : "no token was sent: set HF_TOKEN (or run `huggingface-cli login`) if the repo is"
                  " private or gated";
        mill_err_set(err, MILL_ENOTFOUND, "%s %s: %s: HTTP %ld from %s; %s%s%s", tw, repo->id, subj,
                     status, url, hint, sm ? "; the Hub says: " : "", sm ? sm : "");
    } else {
        mill_err_set(err, MILL_ENET, "%s %s: %s: HTTP %ld from %s%s%s", tw, repo->id, subj, status,
                     url, sm ? ": " : "", sm ? sm : "");
    }
    return redact(h, err);
}

/* A GET that follows redirects: headers to hdr, the body to body, both given ud; range: the
 * bytes to ask for ("a-b", "a-") or NULL for the whole file. */
static CURLcode get_with(struct mill_hub *h, const char *url, curl_write_callback hdr,
                         curl_write_callback body, void *ud, const char *range, long *status) {
    setup(h, url, hdr, ud);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, ud);
    if (range)
        curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
    return perform(h, status);
}

/* GET url into r->body (capped). Follows redirects. */
static CURLcode http_get(struct mill_hub *h, const char *url, struct resp *r) {
    MILL_DEBUG(MOD, "GET %s", url);
    return get_with(h, url, on_header, on_body_mem, r, NULL, &r->status);
}

/* What downloads and range reads track of each response: a status line starts one (*nresp
 * counts them, *cr_start is reset to -1), Content-Range: bytes <start>-... sets *cr_start (-2
 * when it does not parse). */
static void track_range(const char *buf, size_t len, int *nresp, int64_t *cr_start,
                        int64_t *retry_after) {
    const char *v;
    size_t vn;
    if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
        (*nresp)++;
        *cr_start = *retry_after = -1;
    } else if (header_value(buf, len, "retry-after", &v, &vn)) {
        if (!parse_i64(v, vn, retry_after))
            *retry_after = -1; /* a date is not read */
    } else if (header_value(buf, len, "content-range", &v, &vn) && vn > 6 &&
               !strncasecmp(v, "bytes ", 6)) {
        const char *dash = memchr(v + 6, '-', vn - 6);
        if (!dash || !parse_i64(v + 6, (size_t)(dash - v - 6), cr_start))
            *cr_start = -2;
    }
}

/* Length of "scheme://host[:port]" of url. */
static size_t origin_len(const char *url) {
    const char *s = strstr(url, "://");
    if (!s)
        return 0;
    const char *slash = strchr(s + 3, '/');
    return slash ? (size_t)(slash - url) : strlen(url);
}

static bool same_origin(const char *a, const char *b) {
    size_t n = origin_len(a);
    return n && n == origin_len(b) && !strncasecmp(a, b, n);
}

/* HEAD url without following redirects, except a redirect to the endpoint's own origin that
 * carries no X-Repo-Commit (a renamed repo), as huggingface_hub does. */
static CURLcode http_head(struct mill_hub *h, const char *url, struct resp *r, char **final) {
    char *cur = strdup(url);
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    for (int hop = 0; cur && hop < 5; hop++) {
        MILL_DEBUG(MOD, "HEAD %s", cur);
        resp_init(r, 0);
        setup(h, cur, on_header, r);
        curl_easy_setopt(h->curl, CURLOPT_NOBODY, 1L);
        rc = perform(h, &r->status);
        char *loc = NULL;
        if (rc != CURLE_OK || r->status < 300 || r->status > 399 || r->commit[0])
            break;
        curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc);
        if (!loc || !same_origin(loc, h->p.endpoint))
            break;
        free(cur);
        cur = strdup(loc);
        rc = CURLE_OUT_OF_MEMORY;
    }
    *final = cur;
    return cur ? rc : CURLE_OUT_OF_MEMORY;
}

/* ---- retries -------------------------------------------------------------------------------- */

static bool transient(CURLcode rc) {
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_COULDNT_CONNECT || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_COULDNT_RESOLVE_HOST;
}

/* An answer worth asking again: a transient connection failure, or HTTP 429, 500, 502, 503 or
 * 504 (the statuses huggingface_hub's http_backoff retries). */
static bool retryable(CURLcode cc, long status) {
    if (cc != CURLE_OK)
        return transient(cc);
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Sleeps ms, in slices, and returns early with the stop signal when one comes (else 0). */
static int backoff(long ms) {
    for (long left = ms; left > 0; left -= 100) {
        int sig = mill_stop_signal();
        if (sig)
            return sig;
        long step = left < 100 ? left : 100;
        struct timespec ts = {0, step * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return mill_stop_signal();
}

/* Why an answer is asked again: curl's error, else the HTTP status. */
static void retry_why(const struct mill_hub *h, CURLcode cc, long status, char *why, size_t cap) {
    if (cc != CURLE_OK)
        snprintf(why, cap, "%s", h->curl_err[0] ? h->curl_err : curl_easy_strerror(cc));
    else
        snprintf(why, cap, "HTTP %ld", status);
}

/* After attempt (0-based) of a request came to cc/status: 1 to ask again (after a warning and
 * the wait: the server's Retry-After up to 60 s, else *wait, which doubles), 0 when the answer
 * stands (not retryable, or max_retries spent), MILL_EINTR when a stop signal came. */
static int may_retry(struct mill_hub *h, const struct mill_hub_repo *repo, const char *url,
                     int attempt, CURLcode cc, long status, int64_t retry_after, long *wait,
                     struct mill_err *err) {
    if (!retryable(cc, status) || attempt >= h->p.max_retries)
        return 0;
    char why[CURL_ERROR_SIZE + 32];
    retry_why(h, cc, status, why, sizeof why);
    long ms = retry_after >= 0 ? (long)(retry_after < 60 ? retry_after : 60) * 1000 : *wait;
    MILL_WARN(MOD, "%s %s: %s from %s; retry %d of %d in %.1f s", type_word(repo), repo->id, why,
              url, attempt + 1, h->p.max_retries, (double)ms / 1000.0);
    int sig = backoff(ms);
    if (sig) {
        mill_err_set(err, MILL_EINTR, "%s %s: stopped by signal %d while waiting to ask %s again",
                     type_word(repo), repo->id, sig, url);
        return redact(h, err);
    }
    *wait *= 2;
    return 1;
}

/* http_get, asked again while may_retry says so; r holds the last answer. */
static int get_retry(struct mill_hub *h, const struct mill_hub_repo *repo, const char *url,
                     struct resp *r, CURLcode *cc, struct mill_err *err) {
    long wait = h->p.retry_wait_ms;
    size_t cap = r->cap;
    for (int attempt = 0;; attempt++) {
        resp_init(r, cap);
        *cc = http_get(h, url, r);
        int rc = may_retry(h, repo, url, attempt, r->too_big ? CURLE_OK : *cc, r->status,
                           r->retry_after, &wait, err);
        if (rc <= 0)
            return rc;
        mill_buf_free(&r->body);
    }
}

/* ---- listing JSON ------------------------------------------------------------------------- */

void mill_hub_listing_free(struct mill_hub_listing *l) {
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].path);
    free(l->files);
    memset(l, 0, sizeof *l);
}

static int listing_add(struct mill_hub_listing *l, const struct mill_hub_file *f) {
    if (mill_grow(&l->files, &l->cap, l->n, sizeof *l->files, 16))
        return MILL_ENOMEM;
    l->files[l->n] = *f;
    if (!(l->files[l->n].path = strdup(f->path)))
        return MILL_ENOMEM;
    l->n++;
    return MILL_OK;
}

static int cmp_file(const void *a, const void *b) {
    return strcmp(((const struct mill_hub_file *)a)->path, ((const struct mill_hub_file *)b)->path);
}

static void listing_sort(struct mill_hub_listing *l) {
    if (l->n > 1)
        qsort(l->files, l->n, sizeof *l->files, cmp_file);
}

static int bad_entry(struct mill_err *err, size_t i, const char *why) {
    return mill_err_set(err, MILL_EFORMAT, "hub listing: entry %zu: %s", i, why);
}

static int get_size(const struct mill_value *v, int64_t *out) {
    if (!v || v->kind == MILL_V_NULL)
        return MILL_OK;
    if (mill_value_as_int(v, out) != MILL_OK || *out < 0)
        return MILL_EFORMAT;
    return MILL_OK;
}

/* lfs: {oid|sha256: 64 hex, size} */
static int parse_lfs(const struct mill_value *lfs, struct mill_hub_file *f) {
    if (!lfs || lfs->kind == MILL_V_NULL)
        return MILL_OK;
    if (lfs->kind != MILL_V_STRUCT)
        return MILL_EFORMAT;
    const char *oid = mill_value_as_str(mill_value_get(lfs, "oid"));
    if (!oid)
        oid = mill_value_as_str(mill_value_get(lfs, "sha256"));
    if (!oid || strlen(oid) != 64 || !is_hex(oid, 64))
        return MILL_EFORMAT;
    memcpy(f->sha256, oid, 65);
    return get_size(mill_value_get(lfs, "size"), &f->size);
}

/* One entry: keys name the path ("path" or "rfilename") and the git oid ("oid" or "blobId"). */
static int parse_entry(const struct mill_value *e, size_t i, const char *path_key,
                       const char *oid_key, struct mill_hub_listing *out, struct mill_err *err) {
    if (e->kind != MILL_V_STRUCT)
        return bad_entry(err, i, "not an object");
    const char *type = mill_value_as_str(mill_value_get(e, "type"));
    if (type && strcmp(type, "file") != 0)
        return MILL_OK;
    struct mill_hub_file f = {.size = -1};
    f.path = (char *)mill_value_as_str(mill_value_get(e, path_key));
    if (!f.path)
        return bad_entry(err, i, "no path");
    if (!safe_rel_path(f.path)) { /* left out (never a cache path), the rest of the repo kept */
        struct mill_buf b = {0};
        mill_buf_add_json_str(&b, f.path, strnlen(f.path, 200));
        MILL_WARN(MOD,
                  "hub listing: entry %zu left out: unsafe path %s (absolute, empty, '.' or "
                  "'..' segments, a backslash or a control byte)",
                  i, b.p ? b.p : "?");
        mill_buf_free(&b);
        return MILL_OK;
    }
    if (get_size(mill_value_get(e, "size"), &f.size) != MILL_OK)
        return bad_entry(err, i, "bad size");
    const char *oid = mill_value_as_str(mill_value_get(e, oid_key));
    if (oid && strlen(oid) == 40 && is_hex(oid, 40))
        memcpy(f.oid, oid, 41);
    if (parse_lfs(mill_value_get(e, "lfs"), &f) != MILL_OK)
        return bad_entry(err, i, "bad lfs object");
    return listing_add(out, &f) ? oom(err) : MILL_OK;
}

static int parse_list(const struct mill_value *v, const char *path_key, const char *oid_key,
                      struct mill_hub_listing *out, struct mill_err *err) {
    if (!v || v->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT, "hub listing: expected an array of files");
    for (size_t i = 0; i < v->u.list.n; i++) {
        int rc = parse_entry(&v->u.list.items[i], i, path_key, oid_key, out, err);
        if (rc)
            return rc;
    }
    return MILL_OK;
}

int mill_hub_parse_listing(const char *json, size_t n, struct mill_hub_listing *out,
                           struct mill_err *err) {
    struct mill_value v;
    int rc = mill_value_from_json(&v, json, n, err);
    if (rc)
        return mill_err_prefix(err, "hub listing");
    if (v.kind == MILL_V_STRUCT) {
        const char *sha = mill_value_as_str(mill_value_get(&v, "sha"));
        if (sha && is_commit(sha))
            memcpy(out->commit, sha, 41);
        rc = parse_list(mill_value_get(&v, "siblings"), "rfilename", "blobId", out, err);
    } else {
        rc = parse_list(&v, "path", "oid", out, err);
    }
    mill_value_free(&v);
    return rc;
}

/* ---- revisions and listings --------------------------------------------------------------- */

static int check_repo(const struct mill_hub_repo *repo, struct mill_err *err) {
    if (!repo || !safe_repo_id(repo->id))
        return mill_err_set(err, MILL_EINVAL, "hub: bad repo id '%s'",
                            repo && repo->id ? repo->id : "(null)");
    if (!safe_rel_path(rev_of(repo)) || strlen(rev_of(repo)) >= 256)
        return mill_err_set(err, MILL_EINVAL, "hub: %s %s: bad revision '%s'", type_word(repo),
                            repo->id, rev_of(repo));
    return MILL_OK;
}

static int offline_no_ref(const struct mill_hub_repo *repo, const char *folder,
                          struct mill_err *err) {
    return mill_err_set(err, MILL_ENOTFOUND,
                        "%s %s: HF_HUB_OFFLINE is set and revision %s is not in the cache "
                        "(no %s/refs/%s)",
                        type_word(repo), repo->id, rev_of(repo), folder, rev_of(repo));
}

static int resolve_online(struct mill_hub *h, const struct mill_hub_repo *repo, const char *folder,
                          char commit[41], struct mill_err *err) {
    char *url = api_url(h, repo, "revision", rev_of(repo), NULL);
    if (!url)
        return oom(err);
    struct resp r;
    resp_init(&r, h->p.max_listing_bytes);
    CURLcode cc;
    int rc = get_retry(h, repo, url, &r, &cc, err);
    if (!rc && cc != CURLE_OK && !r.too_big)
        rc = net_fail(h, repo, url, cc, err);
    else if (!rc && r.status >= 400)
        rc = http_fail(h, repo, NULL, r.status, url, &r, err);
    if (!rc) {
        struct mill_hub_listing l = {0};
        struct mill_err perr = {0};
        if (!r.too_big)
            mill_hub_parse_listing(r.body.p ? r.body.p : "", r.body.n, &l, &perr);
        const char *sha = l.commit[0] ? l.commit : r.commit;
        if (is_commit(sha))
            memcpy(commit, sha, 41);
        else
            rc = mill_err_set(err, MILL_EFORMAT, "%s %s: no commit sha in the answer of %s",
                              type_word(repo), repo->id, url);
        mill_hub_listing_free(&l);
    }
    if (!rc)
        rc = write_ref(folder, rev_of(repo), commit, err);
    mill_buf_free(&r.body);
    free(url);
    return rc;
}

int mill_hub_resolve_revision(struct mill_hub *h, const struct mill_hub_repo *repo, char commit[41],
                              struct mill_err *err) {
    int rc = check_repo(repo, err);
    if (rc)
        return rc;
    if (is_commit(rev_of(repo))) {
        memcpy(commit, rev_of(repo), 41);
        return MILL_OK;
    }
    char *folder = repo_folder(h, repo, true);
    if (!folder)
        return oom(err);
    if (h->p.offline)
        rc = read_ref(folder, rev_of(repo), commit) ? MILL_OK : offline_no_ref(repo, folder, err);
    else
        rc = resolve_online(h, repo, folder, commit, err);
    free(folder);
    return rc;
}

/* What one listing page's answer r (to cc) comes to: its entries added to out, or the error. */
static int page_result(struct mill_hub *h, const struct mill_hub_repo *repo, const char *url,
                       const char *prefix, struct resp *r, CURLcode cc,
                       struct mill_hub_listing *out, struct mill_err *err) {
    char what[300];
    snprintf(what, sizeof what, "path '%.200s'", prefix && *prefix ? prefix : "/");
    if (r->too_big)
        return mill_err_set(err, MILL_EFORMAT, "%s %s: listing page over %zu bytes from %s",
                            type_word(repo), repo->id, h->p.max_listing_bytes, url);
    if (cc != CURLE_OK)
        return net_fail(h, repo, url, cc, err);
    if (r->status >= 400)
        return http_fail(h, repo, what, r->status, url, r, err);
    int rc = mill_hub_parse_listing(r->body.p ? r->body.p : "", r->body.n, out, err);
    if (rc)
        mill_err_prefix(err, "%s", url);
    return rc;
}

/* One page of the tree listing; *next gets the next page's URL or NULL. */
static int list_page(struct mill_hub *h, const struct mill_hub_repo *repo, const char *url,
                     const char *prefix, struct mill_hub_listing *out, char **next,
                     struct mill_err *err) {
    *next = NULL;
    struct resp r;
    resp_init(&r, h->p.max_listing_bytes);
    CURLcode cc;
    int rc = get_retry(h, repo, url, &r, &cc, err);
    if (!rc)
        rc = page_result(h, repo, url, prefix, &r, cc, out, err);
    if (!rc && r.next[0]) {
        if (!same_origin(r.next, h->p.endpoint))
            rc = mill_err_set(err, MILL_EFORMAT, "%s %s: listing's next page %s leaves %s",
                              type_word(repo), repo->id, r.next, h->p.endpoint);
        else if (!(*next = strdup(r.next)))
            rc = oom(err);
    }
    mill_buf_free(&r.body);
    return rc;
}

static int list_online(struct mill_hub *h, const struct mill_hub_repo *repo, const char *prefix,
                       struct mill_hub_listing *out, struct mill_err *err) {
    char *url = api_url(h, repo, "tree", out->commit, prefix);
    if (!url)
        return oom(err);
    int rc = MILL_OK;
    for (int page = 0; url && !rc; page++) {
        char *next = NULL;
        if (page >= MAX_PAGES)
            rc = mill_err_set(err, MILL_EFORMAT, "%s %s: more than %d listing pages",
                              type_word(repo), repo->id, MAX_PAGES);
        else
            rc = list_page(h, repo, url, prefix, out, &next, err);
        free(url);
        url = next;
    }
    free(url);
    return rc;
}

/* A name tmp_name gives ("<name>.tmp<pid>.<n>"), which a crash can leave behind: not a file of
 * the repo. */
static bool is_tmp_name(const char *name) {
    const char *t = strstr(name, ".tmp");
    while (t && strstr(t + 1, ".tmp"))
        t = strstr(t + 1, ".tmp");
    if (!t || !isdigit((unsigned char)t[4]))
        return false;
    const char *p = t + 4;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p++ != '.' || !isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    return *p == 0;
}

/* Adds the regular files below dir (rel is their repo path prefix), but no leftover temporary. */
static int walk(const char *dir, const char *rel, int depth, struct mill_hub_listing *out) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? MILL_OK : MILL_EIO;
    int rc = MILL_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || is_tmp_name(e->d_name))
            continue;
        char *full = strf("%s/%s", dir, e->d_name);
        char *path = *rel ? strf("%s/%s", rel, e->d_name) : strdup(e->d_name);
        struct stat st;
        if (!full || !path)
            rc = MILL_ENOMEM;
        else if (stat(full, &st) != 0)
            ; /* a dangling link: not cached */
        else if (S_ISDIR(st.st_mode) && depth < MAX_WALK_DEPTH)
            rc = walk(full, path, depth + 1, out);
        else if (S_ISREG(st.st_mode) && safe_rel_path(path))
            rc = listing_add(out, &(struct mill_hub_file){.path = path, .size = st.st_size});
        free(full);
        free(path);
    }
    closedir(d);
    return rc;
}

/* Where an online listing of prefix at commit is recorded, so that an offline run lists what
 * the repo holds, not whatever part of it reached the cache:
 * <repo folder>/.mill/listings/<commit>/<sha256 of the prefix, 32 hex>. */
static char *listing_record(const char *folder, const char *commit, const char *prefix) {
    uint8_t d[32];
    char hex[65];
    const char *key = prefix ? prefix : "";
    mill_sha256(key, strlen(key), d);
    mill_hex(d, 16, hex);
    return strf("%s/.mill/listings/%s/%s", folder, commit, hex);
}

/* Records an online listing: one "<size>\t<path>" line a file (a path never holds a tab or a
 * newline: safe_rel_path). A record that cannot be written (a read-only shared cache) only costs
 * offline runs their check, so it is a debug line. */
static void record_listing(struct mill_hub *h, const struct mill_hub_repo *repo, const char *prefix,
                           const struct mill_hub_listing *l) {
    char *folder = repo_folder(h, repo, true);
    char *path = folder ? listing_record(folder, l->commit, prefix) : NULL;
    struct mill_buf b = {0};
    int rc = path ? 0 : MILL_ENOMEM;
    for (size_t i = 0; !rc && i < l->n; i++)
        rc = mill_buf_addf(&b, "%lld\t%s\n", (long long)l->files[i].size, l->files[i].path);
    struct mill_err err = {0};
    if (!rc && (rc = write_small_file(path, b.p ? b.p : "", b.n, &err)) != 0)
        MILL_DEBUG(MOD, "no listing record: %s", err.msg);
    mill_buf_free(&b);
    free(path);
    free(folder);
}

/* The recorded listing of prefix, if any (1 when found, 0 when none, < 0 on a bad record). */
static int read_listing(const char *path, struct mill_hub_listing *out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char line[4200];
    int rc = 1;
    while (rc == 1 && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t'), *end = NULL;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        long long size = tab ? strtoll(line, &end, 10) : 0;
        if (!tab || end != tab || !safe_rel_path(tab + 1))
            rc = MILL_EFORMAT;
        else if (listing_add(out, &(struct mill_hub_file){.path = tab + 1, .size = size}))
            rc = MILL_ENOMEM;
    }
    fclose(f);
    return rc;
}

static int list_offline(struct mill_hub *h, const struct mill_hub_repo *repo, const char *prefix,
                        struct mill_hub_listing *out, struct mill_err *err) {
    char *folder = repo_folder(h, repo, true);
    char *rec = folder ? listing_record(folder, out->commit, prefix) : NULL;
    int got = rec ? read_listing(rec, out) : 0;
    if (got != 0) {
        int rc = got == 1 ? MILL_OK
                 : got == MILL_ENOMEM
                     ? oom(err)
                     : mill_err_set(err, MILL_EFORMAT, "%s %s: corrupt listing record %s",
                                    type_word(repo), repo->id, rec);
        free(rec);
        free(folder);
        return rc;
    }
    free(rec);
    /* a cache mill did not list online (huggingface_hub's, say): its snapshot is all we know */
    MILL_DEBUG(MOD, "%s %s: no listing record at %s; the cached snapshot's files are listed",
               type_word(repo), repo->id, out->commit);
    char *dir = folder ? strf("%s/snapshots/%s%s%s", folder, out->commit, prefix ? "/" : "",
                              prefix ? prefix : "")
                       : NULL;
    int rc = dir ? walk(dir, prefix ? prefix : "", 0, out) : MILL_ENOMEM;
    if (rc == MILL_ENOMEM)
        oom(err);
    else if (rc)
        mill_err_set(err, rc, "%s %s: cannot read the cached snapshot %s", type_word(repo),
                     repo->id, dir);
    free(folder);
    free(dir);
    return rc;
}

int mill_hub_list(struct mill_hub *h, const struct mill_hub_repo *repo, const char *prefix,
                  struct mill_hub_listing *out, struct mill_err *err) {
    if (prefix && !*prefix)
        prefix = NULL;
    if (prefix && !safe_rel_path(prefix))
        return mill_err_set(err, MILL_EINVAL, "hub: bad path prefix '%s'", prefix);
    int rc = mill_hub_resolve_revision(h, repo, out->commit, err);
    if (rc)
        return rc;
    rc = h->p.offline ? list_offline(h, repo, prefix, out, err)
                      : list_online(h, repo, prefix, out, err);
    listing_sort(out);
    if (!rc && !h->p.offline)
        record_listing(h, repo, prefix, out);
    return rc;
}

/* ---- downloads ------------------------------------------------------------------------------ */

/* One file being fetched. */
struct target {
    struct mill_hub *h;
    const struct mill_hub_repo *repo;
    const char *rev;  /* as asked */
    const char *path; /* in the repo */
    char *folder;     /* <cache>/datasets--org--name; owned */
    char *name;       /* datasets--org--name; owned */
    char commit[41];
    char etag[129];
    char sha256[65]; /* expected, "" unknown */
    int64_t size;    /* expected, -1 unknown */
};

static char *snapshot_path(const struct target *t) {
    return strf("%s/snapshots/%s/%s", t->folder, t->commit, t->path);
}

/* The file in the cache already (snapshot present): *local set, true. */
static bool from_cache(struct target *t, char **local) {
    if (!cached_commit(t->folder, t->rev, t->commit))
        return false;
    char *snap = snapshot_path(t);
    if (snap && is_file(snap)) {
        *local = snap;
        return true;
    }
    free(snap);
    return false;
}

static int offline_miss(struct target *t, struct mill_err *err) {
    const char *tw = type_word(t->repo), *id = t->repo->id;
    if (!t->commit[0] && !cached_commit(t->folder, t->rev, t->commit))
        return mill_err_set(err, MILL_ENOTFOUND,
                            "%s %s: HF_HUB_OFFLINE is set and file %s is not cached: revision %s "
                            "was never resolved (no %s/refs/%s)",
                            tw, id, t->path, t->rev, t->folder, t->rev);
    char *ne = strf("%s/.no_exist/%s/%s", t->folder, t->commit, t->path);
    bool missing = ne && access(ne, F_OK) == 0;
    free(ne);
    if (missing)
        return mill_err_set(err, MILL_ENOTFOUND,
                            "%s %s: file %s does not exist at revision %s "
                            "(cached answer; HF_HUB_OFFLINE is set)",
                            tw, id, t->path, t->rev);
    return mill_err_set(err, MILL_ENOTFOUND,
                        "%s %s: HF_HUB_OFFLINE is set and file %s at "
                        "revision %s is not cached (no %s/snapshots/%s/%s)",
                        tw, id, t->path, t->rev, t->folder, t->commit, t->path);
}

/* Records a 404 as huggingface_hub does: an empty .no_exist/<commit>/<path>. */
static void mark_no_exist(const struct target *t, const char *commit) {
    char *ne = strf("%s/.no_exist/%s/%s", t->folder, commit, t->path);
    if (ne && mkdir_parent(ne) == 0) {
        int fd = open(ne, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0)
            close(fd);
    }
    free(ne);
}

static int head_result(struct target *t, const struct resp *r, const char *url,
                       struct mill_err *err) {
    struct mill_hub *h = t->h;
    char what[4200];
    snprintf(what, sizeof what, "file %s", t->path);
    if (r->status >= 400) {
        if (r->status == 404 && r->commit[0])
            mark_no_exist(t, r->commit);
        return http_fail(h, t->repo, what, r->status, url, r, err);
    }
    const char *etag = r->linked_etag[0] ? r->linked_etag : r->etag;
    if (!r->commit[0] || !etag[0])
        return mill_err_set(err, MILL_EFORMAT, "%s %s: %s answered HTTP %ld without %s",
                            type_word(t->repo), t->repo->id, url, r->status,
                            r->commit[0] ? "an ETag" : "X-Repo-Commit");
    memcpy(t->commit, r->commit, 41);
    snprintf(t->etag, sizeof t->etag, "%s", etag);
    t->size = r->linked_size >= 0 ? r->linked_size : r->status == 200 ? r->length : -1;
    if (!t->sha256[0] && strlen(t->etag) == 64 && is_hex(t->etag, 64))
        memcpy(t->sha256, t->etag, 65);
    if (strcmp(t->rev, t->commit) != 0)
        return write_ref(t->folder, t->rev, t->commit, err);
    return MILL_OK;
}

/* The file's metadata: commit, etag, size (huggingface_hub's get_hf_file_metadata). */
static int head_file(struct target *t, struct mill_err *err) {
    char *url = resolve_url(t->h, t->repo, t->rev, t->path);
    if (!url)
        return oom(err);
    struct resp r;
    char *final = NULL;
    long wait = t->h->p.retry_wait_ms;
    int rc;
    for (int attempt = 0;; attempt++) {
        free(final);
        final = NULL;
        CURLcode cc = http_head(t->h, url, &r, &final);
        const char *at = final ? final : url;
        rc = may_retry(t->h, t->repo, at, attempt, cc, r.status, r.retry_after, &wait, err);
        if (rc == 1)
            continue;
        if (rc == 0)
            rc =
                cc == CURLE_OK ? head_result(t, &r, at, err) : net_fail(t->h, t->repo, at, cc, err);
        break;
    }
    free(final);
    free(url);
    return rc;
}

/* A progress bar on stderr: name, bytes done / total, rate. Drawn at most 10 times a second. */
struct progress {
    bool on;
    const char *name;
    int64_t total, start;
    double t0, last;
};

static void human(double b, char *out, size_t cap) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void progress_draw(struct progress *p, int64_t have, bool done) {
    if (!p->on)
        return;
    double t = mill_clock_s();
    if (!done && t - p->last < 0.1)
        return;
    p->last = t;
    char a[32], b[32] = "?", r[32];
    human((double)have, a, sizeof a);
    if (p->total >= 0)
        human((double)p->total, b, sizeof b);
    double dt = t - p->t0;
    human(dt > 0 ? (double)(have - p->start) / dt : 0, r, sizeof r);
    size_t n = strlen(p->name);
    const char *name = n > 40 ? p->name + n - 40 : p->name;
    fprintf(stderr, "\r%-40s %10s / %-10s %10s/s\033[K%s", name, a, b, r, done ? "\n" : "");
}

/* A download into blobs/<etag>.incomplete. */
struct dl {
    int fd;
    int64_t have;           /* bytes in the file */
    struct mill_sha256 sha; /* of those bytes */
    CURL *curl;
    int nresp, begun;    /* status lines seen; the response whose body has begun */
    int64_t cr_start;    /* Content-Range start of the current response, -1 */
    int64_t retry_after; /* its Retry-After in seconds, -1 */
    bool discard;        /* the current body is not the file (redirect, error) */
    int werr;            /* errno of a failed write; -1 a Content-Range we did not ask */
    int stopped;         /* the stop signal that ended the transfer (SIGINT, SIGTERM), else 0 */
    struct progress prog;
};

static void dl_restart(struct dl *d) {
    if (ftruncate(d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0)
        d->werr = errno ? errno : EIO;
    d->have = 0;
    d->prog.start = 0;
    mill_sha256_init(&d->sha);
}

static size_t dl_header(char *buf, size_t size, size_t n, void *ud) {
    struct dl *d = ud;
    track_range(buf, size * n, &d->nresp, &d->cr_start, &d->retry_after);
    return size * n;
}

/* The first body bytes of a response: decide what to do with them. */
static int dl_begin(struct dl *d) {
    long status = 0;
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
    d->begun = d->nresp;
    d->discard = status != 200 && status != 206;
    if (status == 200 && d->have > 0) {
        MILL_DEBUG(MOD, "server ignored the Range request: restarting from byte 0");
        dl_restart(d);
    } else if (status == 206 && d->cr_start != d->have) {
        d->werr = -1;
        return -1;
    }
    return d->werr > 0 ? -1 : 0;
}

static size_t dl_body(char *p, size_t size, size_t n, void *ud) {
    struct dl *d = ud;
    size_t len = size * n;
    if (d->begun != d->nresp && dl_begin(d) != 0)
        return 0;
    if (d->discard)
        return len;
    if ((d->stopped = mill_stop_signal()) != 0)
        return 0; /* ends the transfer; the partial file stays for the next run */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(d->fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            d->werr = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    mill_sha256_update(&d->sha, p, len);
    d->have += (int64_t)len;
    progress_draw(&d->prog, d->have, false);
    return len;
}

/* Hashes the bytes already in the partial file (a resumed download). */
static int dl_open(struct dl *d, const char *inc, int64_t expect) {
    mill_sha256_init(&d->sha);
    d->have = 0;
    d->fd = open(inc, O_RDWR | O_CREAT, 0644);
    if (d->fd < 0)
        return -1;
    char buf[1 << 16];
    ssize_t r;
    while ((r = read(d->fd, buf, sizeof buf)) > 0) {
        mill_sha256_update(&d->sha, buf, (size_t)r);
        d->have += r;
    }
    if (r < 0)
        return -1;
    if (expect >= 0 && d->have > expect)
        dl_restart(d);
    d->prog.start = d->have;
    return d->werr ? -1 : 0;
}

static CURLcode dl_attempt(struct mill_hub *h, const char *url, struct dl *d, long *status) {
    MILL_DEBUG(MOD, "GET %s (from byte %lld)", url, (long long)d->have);
    char range[32];
    snprintf(range, sizeof range, "%lld-", (long long)d->have);
    d->curl = h->curl;
    d->retry_after = -1;
    d->nresp = d->begun = 0;
    d->werr = d->stopped = 0;
    d->discard = false;
    CURLcode rc = get_with(h, url, dl_header, dl_body, d, d->have > 0 ? range : NULL, status);
    if (rc == CURLE_OK && *status == 200 && d->begun != d->nresp && d->have > 0)
        dl_restart(d); /* an empty 200: the file is empty */
    return rc;
}

/* A download stopped by signal sig: the partial file is kept for the next run. */
static int dl_stopped(const struct target *t, const struct dl *d, int sig, struct mill_err *err) {
    return mill_err_set(err, MILL_EINTR,
                        "%s %s: download of %s stopped by signal %d at byte %lld (kept, the next "
                        "run resumes it)",
                        type_word(t->repo), t->repo->id, t->path, sig, (long long)d->have);
}

/* Outcome of one attempt: 0 done, 1 retry, < 0 error (err set). */
static int attempt_outcome(struct target *t, const char *url, struct dl *d, CURLcode cc,
                           long status, struct mill_err *err) {
    char what[4200];
    snprintf(what, sizeof what, "file %s", t->path);
    if (d->stopped)
        return dl_stopped(t, d, d->stopped, err);
    if (d->werr > 0)
        return mill_err_set(err, MILL_EIO, "%s %s: cannot write the download of %s: %s",
                            type_word(t->repo), t->repo->id, t->path, strerror(d->werr));
    if (d->werr < 0) {
        dl_restart(d); /* a Content-Range we did not ask for */
        return 1;
    }
    if (cc == CURLE_OK && (status == 200 || status == 206))
        return 0;
    if (cc == CURLE_OK && status == 416) {
        if (t->size >= 0 && d->have == t->size)
            return 0;
        dl_restart(d);
        return 1;
    }
    if (cc == CURLE_OK && !retryable(cc, status))
        return http_fail(t->h, t->repo, what, status, url, NULL, err);
    if (cc != CURLE_OK && !transient(cc))
        return net_fail(t->h, t->repo, url, cc, err);
    return 1;
}

static int transfer(struct target *t, const char *url, struct dl *d, const char *inc,
                    struct mill_err *err) {
    struct mill_hub *h = t->h;
    long wait = h->p.retry_wait_ms;
    for (int attempt = 0;; attempt++) {
        long status = 0;
        CURLcode cc = dl_attempt(h, url, d, &status);
        int rc = attempt_outcome(t, url, d, cc, status, err);
        if (rc <= 0)
            return rc;
        char why[CURL_ERROR_SIZE + 32] = "bad range answer";
        if (cc != CURLE_OK || retryable(cc, status))
            retry_why(h, cc, status, why, sizeof why);
        if (attempt >= h->p.max_retries) {
            mill_err_set(err, MILL_ENET,
                         "%s %s: download of %s from %s failed after %d "
                         "attempts: %s (the partial file, %lld bytes, is kept in %s and the next "
                         "try resumes it)",
                         type_word(t->repo), t->repo->id, t->path, url, attempt + 1, why,
                         (long long)d->have, inc);
            return redact(h, err);
        }
        /* the server's Retry-After (up to 60 s), else the doubling wait, as may_retry */
        long ms =
            d->retry_after >= 0 ? (long)(d->retry_after < 60 ? d->retry_after : 60) * 1000 : wait;
        MILL_WARN(MOD, "%s: %s; resuming at byte %lld in %.1f s (retry %d of %d)", t->path, why,
                  (long long)d->have, (double)ms / 1000.0, attempt + 1, h->p.max_retries);
        int sig = backoff(ms);
        if (sig)
            return dl_stopped(t, d, sig, err);
        wait *= 2;
    }
}

static int verify(const struct target *t, struct dl *d, const char *inc, struct mill_err *err) {
    uint8_t dg[32];
    char hex[65];
    mill_sha256_final(&d->sha, dg);
    mill_hex(dg, 32, hex);
    if (t->sha256[0] && strcmp(hex, t->sha256) != 0) {
        unlink(inc);
        return mill_err_set(err, MILL_EFORMAT,
                            "%s %s: checksum mismatch for %s: expected "
                            "sha256 %s, got %s; the download was deleted",
                            type_word(t->repo), t->repo->id, t->path, t->sha256, hex);
    }
    if (!t->sha256[0] && t->size >= 0 && d->have != t->size) {
        unlink(inc);
        return mill_err_set(err, MILL_EFORMAT,
                            "%s %s: size mismatch for %s: expected %lld "
                            "bytes, got %lld; the download was deleted",
                            type_word(t->repo), t->repo->id, t->path, (long long)t->size,
                            (long long)d->have);
    }
    if (fsync(d->fd) != 0)
        return mill_err_set(err, MILL_EIO, "hub: cannot sync %s: %s", inc, strerror(errno));
    return MILL_OK;
}

/* GETs the file at its commit into blobs/<etag>: resumable, verified, renamed into place. */
static int download_blob(struct target *t, const char *blob, struct mill_err *err) {
    char *inc = strf("%s.incomplete", blob);
    char *url = resolve_url(t->h, t->repo, t->commit, t->path);
    struct dl d = {.fd = -1};
    d.prog = (struct progress){
        .on = t->h->p.progress, .name = t->path, .total = t->size, .t0 = mill_clock_s()};
    int rc = MILL_OK;
    if (!inc || !url)
        rc = oom(err);
    else if (mkdir_parent(blob) != 0 || dl_open(&d, inc, t->size) != 0)
        rc = mill_err_set(err, MILL_EIO, "hub: cannot open %s: %s", inc, strerror(errno));
    if (!rc && d.have > 0)
        MILL_INFO(MOD, "resuming %s at byte %lld", t->path, (long long)d.have);
    if (!rc)
        rc = transfer(t, url, &d, inc, err);
    progress_draw(&d.prog, d.have, true);
    if (!rc)
        rc = verify(t, &d, inc, err);
    if (!rc && rename(inc, blob) != 0)
        rc = mill_err_set(err, MILL_EIO, "hub: cannot rename %s: %s", inc, strerror(errno));
    if (rc && inc && d.have == 0)
        unlink(inc); /* nothing worth resuming */
    if (d.fd >= 0)
        close(d.fd);
    free(inc);
    free(url);
    return rc;
}

/* snapshots/<commit>/<path> -> ../../blobs/<etag> (one more ../ per directory in path). */
static int link_snapshot(const struct target *t, const char *snap, struct mill_err *err) {
    struct mill_buf b = {0};
    int rc = mill_buf_adds(&b, "../../");
    for (const char *p = t->path; *p; p++)
        if (*p == '/')
            rc |= mill_buf_adds(&b, "../");
    rc |= mill_buf_addf(&b, "blobs/%s", t->etag);
    if (rc) {
        mill_buf_free(&b);
        return oom(err);
    }
    char *tmp = tmp_name(snap); /* renamed over it: a reader never finds the path missing */
    if (!tmp) {
        mill_buf_free(&b);
        return oom(err);
    }
    if (mkdir_parent(snap) != 0 || symlink(b.p, tmp) != 0 || rename(tmp, snap) != 0) {
        rc = mill_err_set(err, MILL_EIO, "hub: cannot link %s: %s", snap, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    mill_buf_free(&b);
    return rc;
}

/* flock on <cache>/.locks/<repo folder>/<etag>.lock, as huggingface_hub's FileLock. */
static int lock_blob(const struct target *t, int *fd, struct mill_err *err) {
    char *path = strf("%s/.locks/%s/%s.lock", t->h->p.cache_dir, t->name, t->etag);
    int rc = MILL_OK;
    *fd = -1;
    if (!path)
        return oom(err);
    if (mkdir_parent(path) != 0 || (*fd = open(path, O_RDWR | O_CREAT, 0644)) < 0)
        rc = mill_err_set(err, MILL_EIO, "hub: cannot open lock %s: %s", path, strerror(errno));
    else if ((rc = mill_flock_stoppable(*fd, path, err)) != 0) /* another may be downloading it */
        mill_err_prefix(err, "hub");
    free(path);
    return rc;
}

static int fetch(struct target *t, char **local, struct mill_err *err) {
    int rc = head_file(t, err);
    if (rc)
        return rc;
    char *snap = snapshot_path(t);
    char *blob = strf("%s/blobs/%s", t->folder, t->etag);
    int lfd = -1;
    if (!snap || !blob)
        rc = oom(err);
    else if (!is_file(snap) && !(rc = lock_blob(t, &lfd, err))) {
        if (!is_file(blob))
            rc = download_blob(t, blob, err);
        if (!rc)
            rc = link_snapshot(t, snap, err);
    }
    if (lfd >= 0)
        close(lfd);
    if (!rc) {
        *local = snap;
        snap = NULL;
    }
    free(snap);
    free(blob);
    return rc;
}

static int target_init(struct target *t, struct mill_hub *h, const struct mill_hub_repo *repo,
                       const char *path, const char *sha256, struct mill_err *err) {
    memset(t, 0, sizeof *t);
    t->h = h;
    t->repo = repo;
    t->rev = rev_of(repo);
    t->path = path;
    t->size = -1;
    int rc = check_repo(repo, err);
    if (rc)
        return rc;
    if (!safe_rel_path(path))
        return mill_err_set(err, MILL_EINVAL, "%s %s: bad file path '%s'", type_word(repo),
                            repo->id, path ? path : "(null)");
    if (sha256) {
        for (size_t i = 0; i < 64 && sha256[i]; i++)
            t->sha256[i] =
                (char)(sha256[i] >= 'A' && sha256[i] <= 'F' ? sha256[i] + 32 : sha256[i]);
        if (strlen(sha256) != 64 || !is_hex(t->sha256, 64))
            return mill_err_set(err, MILL_EINVAL, "hub: bad sha256 '%s' for %s", sha256, path);
    }
    t->folder = repo_folder(h, repo, true);
    t->name = repo_folder(h, repo, false);
    return t->folder && t->name ? MILL_OK : oom(err);
}

int mill_hub_download(struct mill_hub *h, const struct mill_hub_repo *repo, const char *path,
                      const char *sha256, char **local, struct mill_err *err) {
    *local = NULL;
    struct target t;
    int rc = target_init(&t, h, repo, path, sha256, err);
    if (!rc && !from_cache(&t, local))
        rc = h->p.offline ? offline_miss(&t, err) : fetch(&t, local, err);
    if (!rc)
        MILL_DEBUG(MOD, "%s %s: %s -> %s", type_word(repo), repo->id, path, *local);
    free(t.folder);
    free(t.name);
    return rc;
}

/* ---- byte ranges ---------------------------------------------------------------------------- */

/* A GET of the bytes [offset, offset + len) of a file into the caller's buffer. */
struct range_rd {
    CURL *curl;
    char *buf;
    size_t len, got;
    int64_t offset;
    int nresp, begun;    /* status lines seen; the response whose body has begun */
    int64_t cr_start;    /* Content-Range start of the current response, -1 */
    int64_t retry_after; /* its Retry-After in seconds, -1 */
    long status;         /* of the response whose body has begun */
    bool discard;        /* the current body is not the file's (an error page) */
    bool refused;        /* stopped: the whole file (200), or other or more bytes than asked */
};

static size_t rr_header(char *buf, size_t size, size_t n, void *ud) {
    struct range_rd *r = ud;
    track_range(buf, size * n, &r->nresp, &r->cr_start, &r->retry_after);
    return size * n;
}

static size_t rr_body(char *p, size_t size, size_t n, void *ud) {
    struct range_rd *r = ud;
    size_t len = size * n;
    if (r->begun != r->nresp) {
        r->begun = r->nresp;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
        r->discard = r->status != 200 && r->status != 206;
        r->refused = r->status == 200 || (r->status == 206 && r->cr_start != r->offset);
    }
    if (r->discard)
        return len;
    if (r->refused || len > r->len - r->got) {
        r->refused = true;
        return 0; /* stops the transfer: never the whole file */
    }
    memcpy(r->buf + r->got, p, len);
    r->got += len;
    return len;
}

/* What a range GET came to: *got set, or the error. */
static int range_outcome(const struct target *t, const char *url, const struct range_rd *r,
                         CURLcode cc, long status, struct mill_err *err) {
    const char *tw = type_word(t->repo), *id = t->repo->id;
    char what[4200];
    snprintf(what, sizeof what, "file %s", t->path);
    if (r->refused && r->status == 200)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s %s: %s answered a Range request with the whole file (HTTP 200)", tw,
                            id, url);
    if (r->refused)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s %s: %s answered other bytes than the %zu asked from byte %lld", tw,
                            id, url, r->len, (long long)r->offset);
    if (cc != CURLE_OK)
        return net_fail(t->h, t->repo, url, cc, err);
    if (status == 206 || status == 416 || (status == 200 && r->begun == 0))
        return MILL_OK; /* 416, or an empty 200: nothing at or after offset */
    if (status >= 400)
        return http_fail(t->h, t->repo, what, status, url, NULL, err);
    return mill_err_set(err, MILL_EFORMAT, "%s %s: %s answered a Range request with HTTP %ld", tw,
                        id, url, status);
}

/* Bytes of the file at the revision, with a Range request following redirects (to a CDN). */
static int range_get(struct target *t, int64_t offset, size_t len, char *buf, size_t *got,
                     struct mill_err *err) {
    char *url = resolve_url(t->h, t->repo, t->rev, t->path);
    if (!url)
        return oom(err);
    char range[48];
    snprintf(range, sizeof range, "%lld-%lld", (long long)offset,
             (long long)(offset + (int64_t)len - 1));
    struct range_rd r;
    long wait = t->h->p.retry_wait_ms;
    int rc;
    for (int attempt = 0;; attempt++) {
        r = (struct range_rd){.curl = t->h->curl,
                              .buf = buf,
                              .len = len,
                              .offset = offset,
                              .cr_start = -1,
                              .retry_after = -1};
        long status = 0;
        MILL_DEBUG(MOD, "GET %s (bytes %s)", url, range);
        CURLcode cc = get_with(t->h, url, rr_header, rr_body, &r, range, &status);
        rc = r.refused
                 ? 0
                 : may_retry(t->h, t->repo, url, attempt, cc, status, r.retry_after, &wait, err);
        if (rc == 1)
            continue;
        if (rc == 0)
            rc = range_outcome(t, url, &r, cc, status, err);
        break;
    }
    if (!rc)
        *got = r.got;
    free(url);
    return rc;
}

/* Bytes of a cached file. */
static int range_cached(const char *local, int64_t offset, size_t len, char *buf, size_t *got,
                        struct mill_err *err) {
    MILL_DEBUG(MOD, "bytes from %lld of the cached %s", (long long)offset, local);
    int fd = open(local, O_RDONLY);
    if (fd < 0)
        return mill_err_set(err, MILL_EIO, "hub: cannot read %s: %s", local, strerror(errno));
    int rc = MILL_OK;
    while (*got < len) {
        ssize_t k = pread(fd, buf + *got, len - *got, (off_t)offset + (off_t)*got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            rc = mill_err_set(err, MILL_EIO, "hub: cannot read %s: %s", local, strerror(errno));
        if (k <= 0)
            break;
        *got += (size_t)k;
    }
    close(fd);
    return rc;
}

int mill_hub_read_range(struct mill_hub *h, const struct mill_hub_repo *repo, const char *path,
                        int64_t offset, size_t len, void *buf, size_t *got, struct mill_err *err) {
    *got = 0;
    struct target t;
    char *local = NULL;
    int rc = target_init(&t, h, repo, path, NULL, err);
    if (!rc && (offset < 0 || len > (size_t)(INT64_MAX - offset)))
        rc = mill_err_set(err, MILL_EINVAL, "hub: bad byte range %lld + %zu of %s",
                          (long long)offset, len, path);
    if (!rc && from_cache(&t, &local))
        rc = range_cached(local, offset, len, buf, got, err);
    else if (!rc && h->p.offline)
        rc = offline_miss(&t, err);
    else if (!rc && len)
        rc = range_get(&t, offset, len, buf, got, err);
    free(local);
    free(t.folder);
    free(t.name);
    return rc;
}

/* ---- globs, hf:// URLs, Parquet files ------------------------------------------------------ */

/* [...] at p against c; *end gets the byte after ']'. false when c is not in the class. */
static bool class_match(const char *p, char c, const char **end) {
    bool neg = *p == '!' || *p == '^';
    const char *q = p + (neg ? 1 : 0);
    bool hit = false;
    for (bool first = true; *q && (first || *q != ']'); first = false) {
        char lo = *q, hi = lo;
        if (q[1] == '-' && q[2] && q[2] != ']') {
            hi = q[2];
            q += 3;
        } else {
            q++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    }
    if (*q != ']') {
        *end = NULL; /* no closing ']': '[' is literal */
        return false;
    }
    *end = q + 1;
    return hit != neg;
}

/* A match of a pattern against a path: both strings, and the states (pattern offset, path
 * offset) already found not to match, so that each is tried once (without them, k stars take
 * time of the order of the path's length to the k-th power). failed is NULL when too large. */
struct glob {
    const char *p0, *s0;
    size_t ns;
    unsigned char *failed;
};

static bool match_at(struct glob *g, const char *p, const char *s);

/* "**" at p (p points past it). */
static bool match_stars(struct glob *g, const char *p, const char *s) {
    if (*p == '/') {
        if (match_at(g, p + 1, s))
            return true;
        for (const char *t = s; *t; t++)
            if (*t == '/' && match_at(g, p + 1, t + 1))
                return true;
        return false;
    }
    for (const char *t = s;; t++) {
        if (match_at(g, p, t))
            return true;
        if (!*t)
            return false;
    }
}

/* Pattern p against path s from the start of both, without the memo. */
static bool match_here(struct glob *g, const char *p, const char *s) {
    for (; *p; p++, s++) {
        if (p[0] == '*' && p[1] == '*')
            return match_stars(g, p + 2, s);
        if (*p == '*') {
            for (const char *t = s;; t++) {
                if (match_at(g, p + 1, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        }
        if (!*s)
            return false;
        if (*p == '?') {
            if (*s == '/')
                return false;
        } else if (*p == '[' && *s != '/') {
            const char *end;
            bool hit = class_match(p + 1, *s, &end);
            if (end) {
                if (!hit)
                    return false;
                p = end - 1;
            } else if (*s != '[') {
                return false;
            }
        } else if (*p != *s) {
            return false;
        }
    }
    return *s == 0;
}

static bool match_at(struct glob *g, const char *p, const char *s) {
    size_t key = (size_t)(p - g->p0) * (g->ns + 1) + (size_t)(s - g->s0);
    if (g->failed && (g->failed[key / 8] >> (key % 8) & 1))
        return false;
    bool ok = match_here(g, p, s);
    if (!ok && g->failed)
        g->failed[key / 8] |= (unsigned char)(1u << (key % 8));
    return ok;
}

bool mill_hub_glob_match(const char *pattern, const char *path) {
    if (!pattern || !path)
        return false;
    size_t np = strlen(pattern), ns = strlen(path);
    struct glob g = {pattern, path, ns, NULL};
    if (np < 4096 && ns < 4096) /* at most 2 MB of memo; else the plain search */
        g.failed = calloc(((np + 1) * (ns + 1) + 7) / 8, 1);
    bool ok = match_at(&g, pattern, path);
    free(g.failed);
    return ok;
}

/* The directory part of pattern before its first wildcard ("data/train" for any pattern of
 * *.tar files in data/train), or NULL when the wildcard is in the first segment. */
static char *fixed_prefix(const char *pattern) {
    size_t w = strcspn(pattern, "*?[");
    const char *slash = NULL;
    for (const char *p = pattern; p < pattern + w; p++)
        if (*p == '/')
            slash = p;
    if (pattern[w] == 0) /* no wildcard: list the file's directory */
        slash = strrchr(pattern, '/');
    return slash ? strndup(pattern, (size_t)(slash - pattern)) : NULL;
}

/* Path parts (as pathlib splits them: empty and "." parts dropped) that start with prefix;
 * parts made only of dots ("..") are not hidden. With parents_only the last part is left out. */
static size_t count_parts(const char *path, const char *prefix, bool parents_only) {
    size_t n = 0, plen = strlen(prefix);
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        bool last = p[len + strspn(p + len, "/")] == 0;
        bool dots = strspn(p, ".") >= len;
        if (len && !dots && !(parents_only && last) && !strncmp(p, prefix, plen))
            n++;
        p += len;
        p += strspn(p, "/");
    }
    return n;
}

bool mill_hub_data_file_wanted(const char *pattern, const char *path) {
    static const char *const ignored[] = {"README.md",         "config.json",
                                          "dataset_info.json", "dataset_infos.json",
                                          "dummy_data.zip",    "dataset_dict.json"};
    const char *base = strrchr(path, '/'), *pbase = strrchr(pattern, '/');
    base = base ? base + 1 : path;
    pbase = pbase ? pbase + 1 : pattern;
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        if (!strcmp(base, ignored[i]) && strcmp(pbase, ignored[i]))
            return false;
    return count_parts(path, "__", true) == count_parts(pattern, "__", true) &&
           count_parts(path, ".", false) == count_parts(pattern, ".", false);
}

static int filter(const struct mill_hub_listing *all, const char *pattern,
                  struct mill_hub_listing *out) {
    for (size_t i = 0; i < all->n; i++)
        if (mill_hub_glob_match(pattern, all->files[i].path) &&
            mill_hub_data_file_wanted(pattern, all->files[i].path) &&
            listing_add(out, &all->files[i]))
            return MILL_ENOMEM;
    memcpy(out->commit, all->commit, sizeof out->commit);
    return MILL_OK;
}

int mill_hub_glob(struct mill_hub *h, const struct mill_hub_repo *repo, const char *pattern,
                  struct mill_hub_listing *out, struct mill_err *err) {
    if (!pattern || !*pattern || *pattern == '/')
        return mill_err_set(err, MILL_EINVAL, "hub: bad pattern '%s'", pattern ? pattern : "");
    char *prefix = fixed_prefix(pattern);
    struct mill_hub_listing all = {0};
    int rc = mill_hub_list(h, repo, prefix, &all, err);
    if (!rc && filter(&all, pattern, out))
        rc = oom(err);
    if (!rc && out->n == 0)
        rc = mill_err_set(err, MILL_ENOTFOUND, "%s %s: no file matches %s at revision %s%s",
                          type_word(repo), repo->id, pattern, rev_of(repo),
                          h->p.offline ? " (HF_HUB_OFFLINE is set: only cached files count)" : "");
    listing_sort(out);
    mill_hub_listing_free(&all);
    free(prefix);
    return rc;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void percent_decode(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        int hi = i + 2 < n && s[i] == '%' ? hexval(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (lo >= 0) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = 0;
}

/* Length of the revision at s (after '@'): up to the next '/', or three segments for a
 * plain refs/convert/x or refs/pr/n. */
static size_t rev_len(const char *s) {
    size_t n = strcspn(s, "/");
    if (n == 4 && !strncmp(s, "refs/", 5)) {
        const char *a = s + 5;
        size_t m = strcspn(a, "/");
        if (a[m] == '/')
            return (size_t)(a + m + 1 - s) + strcspn(a + m + 1, "/");
    }
    return n;
}

static int bad_url(const char *url, const char *why, struct mill_err *err) {
    return mill_err_set(err, MILL_EINVAL,
                        "hub: '%s' is not an hf:// URL (%s); expected "
                        "hf://datasets/<org>/<name>[@<revision>]/<path>",
                        url, why);
}

int mill_hub_parse_url(const char *url, struct mill_hub_url *out, struct mill_err *err) {
    memset(out, 0, sizeof *out);
    if (!url || strncmp(url, "hf://", 5) != 0)
        return bad_url(url ? url : "", "no hf:// scheme", err);
    const char *s = url + 5;
    out->type = MILL_HUB_MODEL;
    if (!strncmp(s, "datasets/", 9)) {
        out->type = MILL_HUB_DATASET;
        s += 9;
    } else if (!strncmp(s, "spaces/", 7)) {
        return mill_err_set(err, MILL_EUNSUPPORTED, "hub: %s: Spaces are not supported", url);
    }
    const char *slash = strchr(s, '/');
    const char *id_end = slash ? slash + 1 + strcspn(slash + 1, "/@") : NULL;
    if (!slash || id_end == slash + 1)
        return bad_url(url, "no <org>/<name>", err);
    if (!copy_str(out->id, sizeof out->id, s, (size_t)(id_end - s)) || !safe_repo_id(out->id))
        return bad_url(url, "bad repo id", err);
    s = id_end;
    snprintf(out->revision, sizeof out->revision, "main");
    out->has_revision = *s == '@';
    if (*s == '@') {
        size_t n = rev_len(s + 1);
        percent_decode(s + 1, n, out->revision, sizeof out->revision);
        s += 1 + n;
        if (!out->revision[0] || !safe_rel_path(out->revision))
            return bad_url(url, "bad revision", err);
    }
    if (*s != '/' || !s[1])
        return bad_url(url, "no path inside the repo", err);
    if (!copy_str(out->path, sizeof out->path, s + 1, strlen(s + 1)))
        return bad_url(url, "path too long", err);
    return MILL_OK;
}

int mill_hub_resolve_url(struct mill_hub *h, const char *url, struct mill_hub_listing *out,
                         struct mill_err *err) {
    struct mill_hub_url u;
    int rc = mill_hub_parse_url(url, &u, err);
    if (rc)
        return rc;
    struct mill_hub_repo repo = {.type = u.type, .id = u.id, .revision = u.revision};
    return mill_hub_glob(h, &repo, u.path, out, err);
}

/* Tries patterns (NULL-terminated) in order on the whole listing at repo's revision.
 * 1 = found (out filled), 0 = none matched, < 0 = error. */
static int try_patterns(struct mill_hub *h, const struct mill_hub_repo *repo, char *const *patterns,
                        struct mill_hub_listing *out, struct mill_err *err) {
    struct mill_hub_listing all = {0};
    int rc = mill_hub_list(h, repo, NULL, &all, err);
    for (char *const *p = patterns; !rc && *p; p++) {
        if (filter(&all, *p, out)) {
            rc = oom(err);
        } else if (out->n) {
            listing_sort(out);
            MILL_DEBUG(MOD, "%s: %zu Parquet files match %s", repo->id, out->n, *p);
            rc = 1;
        }
    }
    mill_hub_listing_free(&all);
    return rc;
}

int mill_hub_parquet_files(struct mill_hub *h, const struct mill_hub_repo *repo, const char *config,
                           const char *split, struct mill_hub_listing *out, struct mill_err *err) {
    const char *cfg = config && *config ? config : "default";
    if (!split || !*split || strchr(split, '/') || strchr(cfg, '/'))
        return mill_err_set(err, MILL_EINVAL, "hub: bad config '%s' or split '%s'", cfg,
                            split ? split : "");
    char *pats[5] = {strf("%s/%s-*.parquet", cfg, split), strf("%s/%s/*.parquet", cfg, split),
                     strf("data/%s-*.parquet", split), NULL, NULL};
    int rc = pats[0] && pats[1] && pats[2] ? try_patterns(h, repo, pats, out, err) : oom(err);
    /* The Hub's auto-converted Parquet is of the branch's head: HF datasets uses it only for
     * the revision it was made from, so not for a pinned revision (it may be newer). */
    bool pinned = strcmp(rev_of(repo), "main") != 0;
    if (rc == 0 && !pinned) {
        struct mill_hub_repo conv = *repo;
        conv.revision = CONVERT_REV;
        char *conv_pats[2] = {pats[1], NULL};
        struct mill_err cerr = {0};
        rc = try_patterns(h, &conv, conv_pats, out, &cerr);
        if (rc == MILL_ENOTFOUND)
            rc = 0; /* no auto-converted branch */
        else if (rc < 0 && err)
            *err = cerr;
    }
    if (rc == 0 && pinned)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "%s %s: no Parquet files for config %s split %s at revision %s "
                          "(tried %s, %s, %s; the Hub's auto-converted Parquet, of main's head, "
                          "is not used for a pinned revision)",
                          type_word(repo), repo->id, cfg, split, rev_of(repo), pats[0], pats[1],
                          pats[2]);
    else if (rc == 0)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "%s %s: no Parquet files for config %s split %s "
                          "at revision %s (tried %s, %s, %s, and %s at %s)",
                          type_word(repo), repo->id, cfg, split, rev_of(repo), pats[0], pats[1],
                          pats[2], pats[1], CONVERT_REV);
    for (int i = 0; i < 3; i++)
        free(pats[i]);
    return rc > 0 ? MILL_OK : rc;
}
