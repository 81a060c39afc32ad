/* mmlu_pro.c: mmlu_pro_acc (BEHAVIOUR.md §4.2), the extraction of lighteval / Mill's MMLU-Pro grader:
 * the first of three patterns that matches wins, re.search takes its first occurrence, the
 * letter is uppercased and compared with the gold letter; no match scores 0. Python's `re`
 * semantics are kept where PCRE2 differs: its \s, and IGNORECASE's i/I taking U+0130/U+0131. */
#include "metric/metrics.h"

#include "core/regex.h"

#include <ctype.h>
#include <string.h>

/* Python's [A-J] under IGNORECASE: also a-j, U+0130 and U+0131 (which fold to i/I there). */
#define LETTER "([A-J\\x{130}\\x{131}])"

/* The letter extracted from text[0..n) ('A'..'J'), 0 when nothing matches, '?' for a match
 * whose .upper() is no letter (U+0130, which stays itself: it never equals a gold letter).
 * Exposed for tests. */
char mill_mmlu_pro_extract(const char *text, size_t len) {
    static const char *const pats[] = {
        "answer " MILL_RE_PY_I "s \\(?" LETTER "\\)?",
        "answer" MILL_RE_PY_S "*:" MILL_RE_PY_S "*\\(?" LETTER "\\)?",
        "\\b([A-J])\\b(?!.*\\b[A-J]\\b)",
    };
    static const int flags[] = {MILL_RE_IGNORECASE, MILL_RE_IGNORECASE, MILL_RE_DOTALL};
    for (size_t i = 0; i < 3; i++) {
        size_t at, n;
        if (!mill_re_search(pats[i], flags[i], text, len, &at, &n))
            continue;
        if (n == 1)
            return (char)toupper((unsigned char)text[at]);
        return n == 2 && !memcmp(text + at, "\xc4\xb1", 2) ? 'I' : '?'; /* U+0131 -> I */
    }
    return 0;
}

static int m_mmlu_pro_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                          const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold || !r->text)
        return mill_err_set(err, MILL_EINVAL,
                            "task %s: mmlu_pro_acc needs a gold letter and a "
                            "generation",
                            c->task);
    char got = mill_mmlu_pro_extract(r->text, r->text_len);
    *out = got && gold[0] == got && gold[1] == 0;
    return 0;
}

static const struct mill_metric list[] = {{"mmlu_pro_acc", true, m_mmlu_pro_acc}};

const struct mill_metrics_table mill_metrics_mmlu_pro = {MILL_ABI_VERSION, 1, list};
