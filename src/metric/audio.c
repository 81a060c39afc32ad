/* audio.c: the metrics of the generative audio tasks (BEHAVIOUR.md §4.6, §4.7):
 *  - clotho_aqa_exact_match: lmms-eval's exact_match with ignore_case and ignore_punctuation,
 *    as Python Mill's clotho_aqa task writes it: both sides lowercased (str.lower()), every
 *    character of string.punctuation deleted, whitespace collapsed (" ".join(s.split())), then
 *    compared with ==;
 *  - esc50_gen_acc, urbansound8k_gen_acc: both sides lowercased, "_" made a space, whitespace
 *    collapsed; an empty response scores 0, an exact match 1; else the longest class name (in
 *    code points; the first of equal length in class order) contained in the response must be
 *    the gold; no class contained scores 0. The classes are the doc's choices (the task puts
 *    its class names there).
 * tests/unit/test_audio_metrics.c checks them against tests/reference/audio_metrics_oracle.py
 * under /usr/bin/python3.
 *
 * Lowercasing is Unicode's, as str.lower(): glibc's simple case mapping (C.UTF-8), plus the one
 * unconditional special mapping (U+0130 to "i" U+0307) and final sigma, taken here as a capital
 * sigma after a letter and not before one (Python skips case-ignorable characters in between).
 * Whitespace is str.isspace()'s. Bytes that are not UTF-8 pass through as they are. Pure
 * functions: no state but the locale, made once. */
#include "metric/metrics.h"

#include "core/text.h"

#include <mill/buf.h>

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void make_locale(void) { utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); }

/* Python's str.isspace(). */
static bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The code point at s[*i] (advancing *i); a byte that starts no well-formed sequence is
 * returned as itself with *raw set. */
static uint32_t next_cp(const char *s, size_t n, size_t *i, bool *raw) {
    const unsigned char *u = (const unsigned char *)s + *i;
    size_t k = mill_utf8_valid_len(u, n - *i, NULL);
    *raw = k == 0;
    if (k <= 1) {
        (*i)++;
        return u[0];
    }
    uint32_t c = u[0] & (0xff >> (k + 1));
    for (size_t j = 1; j < k; j++)
        c = c << 6 | (u[j] & 0x3f);
    *i += k;
    return c;
}

static int add_cp(struct mill_buf *b, uint32_t c) {
    char e[4];
    return mill_buf_add(b, e, mill_utf8_encode(c, e));
}

static bool py_letter(uint32_t c) { return iswalpha_l((wint_t)c, utf8_locale); }

enum norm { NORM_CLOTHO, NORM_CLASS };

/* Python's string.punctuation. */
#define PUNCTUATION "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

/* Appends one lowercased code point (prev, next: its neighbours, 0 at the ends). */
static int add_lower(struct mill_buf *b, uint32_t c, uint32_t prev, uint32_t next, enum norm how) {
    if (c == 0x130)
        return add_cp(b, 'i') || add_cp(b, 0x307);
    if (c == 0x3a3 && prev && py_letter(prev) && !(next && py_letter(next)))
        return add_cp(b, 0x3c2);
    uint32_t l = c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c)
                          : (uint32_t)towlower_l((wint_t)c, utf8_locale);
    if (how == NORM_CLOTHO && l && l < 0x80 && strchr(PUNCTUATION, (int)l))
        return 0;
    return add_cp(b, how == NORM_CLASS && l == '_' ? ' ' : l);
}

/* Python's " ".join(s.split()) of s[0..n) onto out. */
static int collapse(const char *s, size_t n, struct mill_buf *out) {
    int rc = mill_buf_adds(out, "");
    size_t i = 0;
    bool raw;
    while (!rc && i < n) {
        size_t start = i, end;
        if (!(py_space(next_cp(s, n, &i, &raw)) && !raw)) {
            for (end = i; end < n; end = i) /* the word goes on to the next space */
                if (py_space(next_cp(s, n, &i, &raw)) && !raw)
                    break;
            rc = out->n ? mill_buf_addc(out, ' ') : 0;
            rc = rc ? rc : mill_buf_add(out, s + start, end - start);
        }
    }
    return rc;
}

/* A normalised text: malloc'd bytes (NUL-terminated, but they may hold NULs) and their length. */
struct norm_text {
    char *p;
    size_t n;
};

static bool norm_eq(const struct norm_text *a, const struct norm_text *b) {
    return a->n == b->n && !memcmp(a->p, b->p, a->n);
}

/* s[0..n) lowercased, then punctuation deleted (NORM_CLOTHO) or "_" made a space (NORM_CLASS),
 * then whitespace collapsed, into *out (free out->p). */
static int normalize(const char *s, size_t n, enum norm how, struct norm_text *out,
                     struct mill_err *err) {
    pthread_once(&utf8_once, make_locale);
    if (!utf8_locale)
        return mill_err_set(err, MILL_EUNSUPPORTED, "the C.UTF-8 locale is not available");
    struct mill_buf low = {0}, b = {0};
    size_t i = 0;
    uint32_t prev = 0;
    int rc = mill_buf_adds(&low, "");
    while (!rc && i < n) {
        bool raw, next_raw = true;
        uint32_t c = next_cp(s, n, &i, &raw);
        size_t j = i;
        uint32_t next = j < n ? next_cp(s, n, &j, &next_raw) : 0;
        rc =
            raw ? mill_buf_addc(&low, (char)c) : add_lower(&low, c, prev, next_raw ? 0 : next, how);
        prev = raw ? 0 : c;
    }
    if (!rc)
        rc = collapse(low.p, low.n, &b);
    mill_buf_free(&low);
    if (rc) {
        mill_buf_free(&b);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    out->n = b.n;
    out->p = mill_buf_take(&b);
    return 0;
}

/* clotho_aqa_exact_match: normalised response == normalised gold. */
static int m_clotho(const struct mill_doc *d, const struct mill_sample_result *r,
                    const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold || !r->text)
        return mill_err_set(err, MILL_EINVAL, "task %s: %s needs a gold and a generated text",
                            c->task, "clotho_aqa_exact_match");
    struct norm_text g = {0}, t = {0};
    int rc = normalize(gold, strlen(gold), NORM_CLOTHO, &g, err);
    if (!rc)
        rc = normalize(r->text, r->text_len, NORM_CLOTHO, &t, err);
    if (!rc)
        *out = norm_eq(&g, &t);
    free(g.p);
    free(t.p);
    return rc;
}

/* The longest of the normalised classes contained in resp (the first of equal length), or -1;
 * *err set on failure. */
static int longest_class(const struct mill_doc *d, const struct norm_text *resp, int64_t *best,
                         struct mill_err *err) {
    size_t best_len = 0;
    *best = -1;
    for (size_t i = 0; i < d->n_choices; i++) {
        struct norm_text cl;
        int rc = normalize(d->choices[i], strlen(d->choices[i]), NORM_CLASS, &cl, err);
        if (rc)
            return rc;
        size_t len = mill_utf8_len(cl.p);
        if (cl.n && memmem(resp->p, resp->n, cl.p, cl.n) && (*best < 0 || len > best_len)) {
            *best = (int64_t)i;
            best_len = len;
        }
        free(cl.p);
    }
    return 0;
}

/* *_gen_acc: exact normalised match, else the longest contained class is the gold. */
static int m_gen_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                     const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold || !r->text || !d->n_choices)
        return mill_err_set(err, MILL_EINVAL,
                            "task %s: the generative class accuracy needs a gold class, the "
                            "class names as choices and a generated text",
                            c->task);
    struct norm_text g = {0}, t = {0}, hit = {0};
    int64_t best = -1;
    int rc = normalize(gold, strlen(gold), NORM_CLASS, &g, err);
    if (!rc)
        rc = normalize(r->text, r->text_len, NORM_CLASS, &t, err);
    if (!rc && t.n && !norm_eq(&t, &g))
        rc = longest_class(d, &t, &best, err);
    if (!rc && best >= 0)
        rc = normalize(d->choices[best], strlen(d->choices[best]), NORM_CLASS, &hit, err);
    if (!rc)
        *out = !t.n ? 0.0 : norm_eq(&t, &g) ? 1.0 : hit.p ? (double)norm_eq(&hit, &g) : 0.0;
    free(g.p);
    free(t.p);
    free(hit.p);
    return rc;
}

static const struct mill_metric audio[] = {
    {"clotho_aqa_exact_match", true, m_clotho},
    {"esc50_gen_acc", true, m_gen_acc},
    {"urbansound8k_gen_acc", true, m_gen_acc},
};

const struct mill_metrics_table mill_metrics_audio = {MILL_ABI_VERSION,
                                                      sizeof audio / sizeof audio[0], audio};
