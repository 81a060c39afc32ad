/* mcq.c: the multiple-choice letter parsers and the metrics built on them: Mill's generic
 * parse_multi_choice_response (BEHAVIOUR.md §3.6) for cifar10_mcq_acc and imagenet_mcq_acc
 * (§4.3, §4.4), and the official MMMU-Pro grader for mmmu_pro_acc (§4.5). Both always answer a
 * letter A.. assigned to the options in order; when nothing parses, a draw from
 * mill_sample_rng(seed, tag, key). tests/unit/test_mcq_parsers.c checks them against
 * tests/reference/mcq_oracle.py under /usr/bin/python3.
 *
 * Settled from the code where the text of §3.6 is silent (Python Mill's mill/utils.py, which
 * follows mmmu-pro/evaluate.py of MMMU-Benchmark/MMMU, and that file itself for §4.5):
 *  - the end characters are stripped one kind at a time, in the order listed (str.strip(ch) in
 *    turn), so ".,A" keeps its ",";
 *  - "X " and "X." need no space before the letter ("DNA " holds "A "); several candidates of
 *    either stage are ranked by rfind(" X "), so when none stands between spaces all tie at -1
 *    and the first letter wins; ties always go to the earlier letter (max() / np.argmax);
 *  - only the first 26 options get letters (ascii_uppercase);
 *  - MMMU-Pro: the letters looked for after the last "Answer:" are the valid ones, A.. for the
 *    options, anywhere in the text ("Answer: Based on" gives B); its cascade strips
 *    , . ! ? ; : ' without the double quote that §3.6 adds; it runs no marker regex.
 * MMMU's older eval_utils.py looked for " X " with a space on both sides and had no "X." stage;
 * §3.6 (and Python Mill) follow the newer code, and so do we.
 * The option-text stage lowercases the padded response and the options with str.lower()'s
 * full mappings (core/pycase.c), as Python does; should that allocation fail, it falls back to
 * ASCII case folding in place. Pure functions: no state but the compiled pattern. */
#include "metric/metrics.h"

#include "core/random.h"
#include "core/pycase.h"
#include "core/regex.h"
#include "core/text.h"

#include <mill/buf.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LETTERS 26

#define PY_S MILL_RE_PY_S
#define PY_I MILL_RE_PY_I

/* §3.6 step 1: an answer marker and a standalone uppercase letter; the last valid one wins. */
static const char MARKER[] =
    "(?i:(?:f" PY_I "nal|correct|best)" PY_S "+answers?|answers?)" PY_S "*(?i:" PY_I
    "s|are|=|:|->|=>)?" PY_S "*[\\(\\[\\{*\\\"'`]*" PY_S "*(?<![A-Za-z])([A-Z])(?![A-Za-z])";

static const char GENERIC_STRIP[] = ",.!?;:'\"";
static const char MMMU_PRO_STRIP[] = ",.!?;:'";

/* The response once stripped, as the parsers pad it: " " + s[0..n) + " ", never copied. */
struct padded {
    const char *s;
    size_t n;
};

static char at(const struct padded *t, size_t i) {
    return i == 0 || i == t->n + 1 ? ' ' : t->s[i - 1];
}

/* ASCII only, whatever the locale: UTF-8 bytes above 0x7F stay as they are. */
static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static bool same(char a, char b, bool fold) {
    return a == b || (fold && ascii_lower(a) == ascii_lower(b));
}

/* Python's str.rfind of needle[0..k) in the padded text (ASCII-lowercased on both sides when
 * fold): the last index, -1 when absent, the text's length for an empty needle. */
static int64_t rfind(const struct padded *t, const char *needle, size_t k, bool fold) {
    size_t n = t->n + 2;
    if (k > n)
        return -1;
    for (size_t i = n - k + 1; i-- > 0;) {
        size_t j = 0;
        while (j < k && same(at(t, i + j), needle[j], fold))
            j++;
        if (j == k)
            return (int64_t)i;
    }
    return -1;
}

/* Python's str.strip(ch) for each ch of chars in turn. */
static void strip_each(const char *chars, const char **s, size_t *n) {
    for (const char *c = chars; *c; c++) {
        while (*n && (*s)[0] == *c) {
            (*s)++;
            (*n)--;
        }
        while (*n && (*s)[*n - 1] == *c)
            (*n)--;
    }
}

/* Bytes of the character at s[0..n): its UTF-8 length, 1 for an invalid byte. */
static size_t char_len(const char *s, size_t n) {
    size_t bad = 1, len = mill_utf8_valid_len((const unsigned char *)s, n, &bad);
    return len ? len : bad;
}

/* len(s.split()) > 5, words split at Unicode whitespace (str.isspace()). */
static bool more_than_five_words(const char *s, size_t n) {
    size_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < n;) {
        size_t k = char_len(s + i, n - i);
        bool space = mill_py_rstrip_len(s + i, k) == 0;
        if (!space && !in_word && ++words > 5)
            return true;
        in_word = !space;
        i += k;
    }
    return false;
}

enum stage { BRACKET, SPACE, DOT, TEXT };

struct mcq {
    const char *const *options;
    size_t n;  /* letters A.. in use: min(options, 26) */
    bool fold; /* the text stage folds ASCII case itself (the texts are not lowercased) */
};

/* Whether option i is a candidate at stage: "(X)", "X ", "X." or its text in the response. */
static bool detect(const struct padded *t, const struct mcq *q, size_t i, enum stage stage) {
    char x = (char)('A' + i);
    const char bracket[3] = {'(', x, ')'}, space[2] = {x, ' '}, dot[2] = {x, '.'};
    switch (stage) {
    case BRACKET: return rfind(t, bracket, 3, false) >= 0;
    case SPACE: return rfind(t, space, 2, false) >= 0;
    case DOT: return rfind(t, dot, 2, false) >= 0;
    default: return rfind(t, q->options[i], strlen(q->options[i]), q->fold) >= 0;
    }
}

/* Where a candidate of stage last occurs: "(X)", " X " (for both letter stages) or its text. */
static int64_t rank(const struct padded *t, const struct mcq *q, size_t i, enum stage stage) {
    char tok[3] = {stage == BRACKET ? '(' : ' ', (char)('A' + i), stage == BRACKET ? ')' : ' '};
    if (stage == TEXT)
        return rfind(t, q->options[i], strlen(q->options[i]), q->fold);
    return rfind(t, tok, 3, false);
}

/* The candidate of stage found last (the earlier letter on a tie), or 0 when there is none. */
static char pick(const struct padded *t, const struct mcq *q, enum stage stage) {
    char best = 0;
    int64_t best_at = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (!detect(t, q, i, stage))
            continue;
        int64_t r = rank(t, q, i, stage);
        if (!best || r > best_at) {
            best = (char)('A' + i);
            best_at = r;
        }
    }
    return best;
}

/* The option-text stage: each option's text.lower() in the padded response's .lower(), the
 * last found winning (byte offsets order the candidates as Python's indices do: one string).
 * Out of memory, ASCII case is folded in place instead. */
static char text_stage(const struct padded *t, const struct mcq *q) {
    struct mill_buf low = {0}, opt[MAX_LETTERS] = {{0}};
    const char *lowered[MAX_LETTERS];
    bool ok = !mill_buf_adds(&low, "") && !mill_py_recase(t->s, t->n, MILL_PYCASE_LOWER, &low);
    for (size_t i = 0; ok && i < q->n; i++) {
        ok = !mill_buf_adds(&opt[i], "") &&
             !mill_py_recase(q->options[i], strlen(q->options[i]), MILL_PYCASE_LOWER, &opt[i]);
        lowered[i] = opt[i].p;
    }
    struct padded lt = {low.p, low.n};
    struct mcq lq = {lowered, q->n, false}, fq = {q->options, q->n, true};
    char c = ok ? pick(&lt, &lq, TEXT) : pick(t, &fq, TEXT);
    mill_buf_free(&low);
    for (size_t i = 0; i < q->n; i++)
        mill_buf_free(&opt[i]);
    return c;
}

/* §3.6 step 2: strip, pad, then the bracket, space, dot and option-text stages in turn. */
static char cascade(const char *response, size_t n, const char *strip, const struct mcq *q) {
    struct padded t = {response, n};
    strip_each(strip, &t.s, &t.n);
    for (enum stage s = BRACKET; s <= DOT; s++) {
        char c = pick(&t, q, s);
        if (c)
            return c;
    }
    return more_than_five_words(t.s, t.n) ? text_stage(&t, q) : 0;
}

/* §3.6 step 1, as re.finditer: matches do not overlap; the last one with a valid letter. */
static char marker_letter(const char *response, size_t n, size_t n_letters) {
    char last = 0;
    size_t from = 0, start, len;
    while (mill_re_search_from(MARKER, 0, response, n, from, &start, &len)) {
        size_t k = (size_t)(response[start] - 'A');
        if (k < n_letters)
            last = response[start];
        from = start + len; /* the letter ends the match */
    }
    return last;
}

/* sample_rng(tag, key).choice(letters), the key key[0..n). */
static char fallback(int64_t seed, const char *tag, const char *key, size_t n, size_t n_letters) {
    struct mill_random r;
    const char *parts[2] = {tag, key};
    const size_t lens[2] = {strlen(tag), n};
    mill_sample_rng_n(&r, seed, parts, lens, 2);
    return (char)('A' + mill_random_choice(&r, n_letters));
}

char mill_mcq_parse(const char *response, size_t n, const char *const *options, size_t n_options,
                    int64_t seed) {
    if (!n_options)
        return 0;
    if (!response) {
        response = "";
        n = 0;
    }
    struct mcq q = {options, n_options < MAX_LETTERS ? n_options : MAX_LETTERS, false};
    char c = marker_letter(response, n, q.n);
    if (!c)
        c = cascade(response, n, GENERIC_STRIP, &q);
    return c ? c : fallback(seed, "parse_multi_choice", response, n, q.n);
}

/* §4.5 step 1: the one valid letter contained in the text after the last "Answer:", or 0. */
static char answer_tail(const char *response, size_t n, size_t n_letters) {
    const char *last = NULL, *end = response + n;
    for (const char *p = memmem(response, n, "Answer:", 7); p;
         p = memmem(p + 1, (size_t)(end - p - 1), "Answer:", 7))
        last = p;
    if (!last)
        return 0;
    char found = 0;
    size_t count = 0;
    for (size_t i = 0; i < n_letters; i++) {
        if (memchr(last + 7, 'A' + (int)i, (size_t)(end - last - 7))) {
            found = (char)('A' + i);
            count++;
        }
    }
    return count == 1 ? found : 0;
}

char mill_mmmu_pro_parse(const char *response, size_t n, const char *const *options,
                         size_t n_options, const char *fallback_key, int64_t seed) {
    if (!n_options)
        return 0;
    if (!response) {
        response = "";
        n = 0;
    }
    struct mcq q = {options, n_options < MAX_LETTERS ? n_options : MAX_LETTERS, false};
    char c = answer_tail(response, n, q.n);
    if (!c)
        c = cascade(response, n, MMMU_PRO_STRIP, &q);
    if (!fallback_key)
        fallback_key = "";
    return c ? c : fallback(seed, "mmmu_pro", fallback_key, strlen(fallback_key), q.n);
}

/* ---- metrics ---------------------------------------------------------------------------- */

/* Python Mill's cifar10_mcq_acc grades against these, unshuffled, when a doc has no options. */
static const char *const CIFAR10_NAMES[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                            "dog",      "frog",       "horse", "ship", "truck"};

static int bad_options(const struct mill_metric_ctx *c, const char *metric, struct mill_err *err) {
    return mill_err_set(err, MILL_EINVAL,
                        "task %s: %s needs metadata \"options\" as a list of strings", c->task,
                        metric);
}

/* The strings of metadata "options" (the first 26) into opts; *n = 0 when absent or empty. */
static int meta_options(const struct mill_doc *d, const struct mill_metric_ctx *c,
                        const char *metric, const char **opts, size_t *n, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&d->metadata, "options");
    *n = 0;
    if (!v || v->kind == MILL_V_NULL)
        return 0;
    if (v->kind != MILL_V_LIST)
        return bad_options(c, metric, err);
    for (size_t i = 0; i < v->u.list.n; i++) {
        const char *s = mill_value_as_str(&v->u.list.items[i]);
        if (!s)
            return bad_options(c, metric, err);
        if (i < MAX_LETTERS)
            opts[(*n)++] = s;
    }
    return 0;
}

/* Python's other source of options, list(doc.choices): the first 26 into opts. */
static size_t choice_options(const struct mill_doc *d, const char **opts) {
    size_t n = 0;
    for (; n < d->n_choices && n < MAX_LETTERS; n++)
        opts[n] = d->choices[n];
    return n;
}

/* The gold letter and the generation, or an error naming the metric. */
static int gold_and_text(const struct mill_doc *d, const struct mill_sample_result *r,
                         const struct mill_metric_ctx *c, const char *metric, const char **gold,
                         struct mill_err *err) {
    *gold = mill_doc_gold_text(d);
    if (!*gold || !r->text)
        return mill_err_set(err, MILL_EINVAL, "task %s: %s needs a gold letter and a generation",
                            c->task, metric);
    return 0;
}

/* Python's parsed == str(gold).strip().upper(). */
static bool gold_is(const char *gold, char letter) {
    size_t start, len;
    mill_py_strip_span(gold, strlen(gold), &start, &len);
    return len == 1 && ascii_lower(gold[start]) == ascii_lower(letter);
}

static int mcq_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                   const struct mill_metric_ctx *c, const char *metric, const char *const *opts,
                   size_t n, double *out, struct mill_err *err) {
    const char *gold;
    int rc = gold_and_text(d, r, c, metric, &gold, err);
    if (!rc)
        *out = gold_is(gold, mill_mcq_parse(r->text, r->text_len, opts, n, c->seed));
    return rc;
}

static int m_cifar10_mcq_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                             const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *opts[MAX_LETTERS];
    size_t n;
    int rc = meta_options(d, c, "cifar10_mcq_acc", opts, &n, err);
    if (rc)
        return rc;
    if (!n)
        return mcq_acc(d, r, c, "cifar10_mcq_acc", CIFAR10_NAMES, 10, out, err);
    return mcq_acc(d, r, c, "cifar10_mcq_acc", opts, n, out, err);
}

static int m_imagenet_mcq_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                              const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *opts[MAX_LETTERS];
    size_t n;
    int rc = meta_options(d, c, "imagenet_mcq_acc", opts, &n, err);
    if (rc || !n) { /* no options: 0, as Python Mill scores it */
        *out = 0;
        return rc;
    }
    return mcq_acc(d, r, c, "imagenet_mcq_acc", opts, n, out, err);
}

/* The fall-back key: metadata "id" (a non-empty string, or a non-zero int), else the query. */
static const char *mmmu_pro_key(const struct mill_doc *d, char *buf, size_t n) {
    const struct mill_value *id = mill_value_get(&d->metadata, "id");
    const char *s = mill_value_as_str(id);
    if (s && *s)
        return s;
    if (id && id->kind == MILL_V_INT && id->u.i) {
        snprintf(buf, n, "%" PRId64, id->u.i);
        return buf;
    }
    return d->query ? d->query : "";
}

static int m_mmmu_pro_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                          const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *opts[MAX_LETTERS], *gold;
    size_t n;
    int rc = meta_options(d, c, "mmmu_pro_acc", opts, &n, err);
    if (rc)
        return rc;
    if (!n)
        n = choice_options(d, opts);
    if (!n)
        return mill_err_set(err, MILL_EINVAL, "task %s: mmmu_pro_acc needs options", c->task);
    if ((rc = gold_and_text(d, r, c, "mmmu_pro_acc", &gold, err)))
        return rc;
    char key[32];
    const char *fb = mmmu_pro_key(d, key, sizeof key);
    *out = gold_is(gold, mill_mmmu_pro_parse(r->text, r->text_len, opts, n, fb, c->seed));
    return 0;
}

static const struct mill_metric list[] = {
    {"cifar10_mcq_acc", true, m_cifar10_mcq_acc},
    {"imagenet_mcq_acc", true, m_imagenet_mcq_acc},
    {"mmmu_pro_acc", true, m_mmmu_pro_acc},
};

const struct mill_metrics_table mill_metrics_mcq = {MILL_ABI_VERSION, sizeof list / sizeof list[0],
                                                    list};
