/* mmlu_pro.c: mmlu_pro_acc (BEHAVIOUR.md §4.2), the extraction of lighteval / Mill's MMLU-Pro grader:
 * the first of three patterns that matches wins, re.search takes its first occurrence, the
 * letter is uppercased and compared with the gold letter; no match scores 0. */
#include "metric/metrics.h"

#include "core/regex.h"

#include <ctype.h>
#include <string.h>

/* The extracted letter ('A'..'J'), or 0 when nothing matches. Exposed for tests. */
char mill_mmlu_pro_extract(const char *text) {
    static const char *const pats[] = {
        "answer is \\(?([A-J])\\)?",
        "answer\\s*:\\s*\\(?([A-J])\\)?",
        "\\b([A-J])\\b(?!.*\\b[A-J]\\b)",
    };
    static const int flags[] = {MILL_RE_IGNORECASE, MILL_RE_IGNORECASE, MILL_RE_DOTALL};
    for (size_t i = 0; i < 3; i++) {
        size_t at, n;
        if (mill_re_search(pats[i], flags[i], text, &at, &n) && n == 1)
            return (char)toupper((unsigned char)text[at]);
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
    char got = mill_mmlu_pro_extract(r->text);
    *out = got && gold[0] == got && gold[1] == 0;
    return 0;
}

static const struct mill_metric list[] = {{"mmlu_pro_acc", true, m_mmlu_pro_acc}};

const struct mill_metrics_table mill_metrics_mmlu_pro = {MILL_ABI_VERSION, 1, list};
