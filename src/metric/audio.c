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
 * Lowercasing is str.lower()'s (core/pycase.c: full mappings, Final_Sigma); whitespace is
 * str.isspace()'s. Bytes that are not UTF-8 pass through as they are. Pure functions. */
#include "metric/metrics.h"

#include "core/pycase.h"
#include "core/text.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <string.h>

enum norm { NORM_CLOTHO, NORM_CLASS };

/* Python's string.punctuation. */
#define PUNCTUATION "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

/* The bytes of the character at s[0..n): a well-formed sequence, else one byte. */
static size_t char_len(const char *s, size_t n) {
    size_t k = mill_utf8_valid_len((const unsigned char *)s, n, NULL);
    return k ? k : 1;
}

/* Python's " ".join(s.split()) of s[0..n) onto out. */
static int collapse(const char *s, size_t n, struct mill_buf *out) {
    int rc = mill_buf_adds(out, "");
    size_t i = 0, k;
    while (!rc && i < n) {
        if ((k = mill_py_space_len(s + i, n - i))) {
            i += k;
            continue;
        }
        size_t start = i; /* the word goes on to the next space */
        while (i < n && !mill_py_space_len(s + i, n - i))
            i += char_len(s + i, n - i);
        rc = out->n ? mill_buf_addc(out, ' ') : 0;
        rc = rc ? rc : mill_buf_add(out, s + start, i - start);
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
    struct mill_buf low = {0}, b = {0};
    int rc = mill_buf_adds(&low, "") || mill_py_recase(s, n, MILL_PYCASE_LOWER, &low);
    size_t k = 0; /* then punctuation deleted, or "_" made a space: ASCII bytes alone */
    for (size_t i = 0; !rc && i < low.n; i++) {
        char c = low.p[i];
        if (how == NORM_CLOTHO && c && strchr(PUNCTUATION, c))
            continue;
        low.p[k++] = how == NORM_CLASS && c == '_' ? ' ' : c;
    }
    low.n = rc ? low.n : k;
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
