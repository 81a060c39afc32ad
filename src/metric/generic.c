/* generic.c: Mill's generic metrics (BEHAVIOUR.md §3.5): acc, acc_norm, exact_match, contains_answer,
 * perplexity. Each is a pure function of the doc and the backend's answer. */
#include "metric/metrics.h"

#include "core/pycase.h"
#include "core/text.h"

#include <mill/buf.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* acc: float(pred_index == target_index); a string gold is matched against the chosen
 * choice's text. */
static int m_acc(const struct mill_doc *d, const struct mill_sample_result *r,
                 const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    if (d->target_index >= 0) {
        *out = r->pred_index == d->target_index;
        return 0;
    }
    if (d->target_str && r->pred_index >= 0 && (size_t)r->pred_index < d->n_choices) {
        *out = !strcmp(d->choices[r->pred_index], d->target_str);
        return 0;
    }
    return mill_err_set(err, MILL_EINVAL, "task %s: acc needs a gold index and a prediction",
                        c->task);
}

/* acc_norm: lm-eval's length-normalised choice: log-prob divided by len(choice), the choice's
 * length in characters (Unicode code points), as lm-eval's process_results computes it. lm-eval
 * counts the choice without its target delimiter (" " by default), which our choices carry as
 * their first character, so one leading space is not counted. Python Mill returns the raw
 * log-prob and documents it as unusable; we compute what lm-eval users expect. */
static double choice_chars(const char *choice) {
    if (choice[0] == ' ')
        choice++;
    size_t n = mill_utf8_len(choice);
    return (double)(n ? n : 1);
}

static int m_acc_norm(const struct mill_doc *d, const struct mill_sample_result *r,
                      const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    if (!r->logprobs || r->n_choices != d->n_choices || d->target_index < 0)
        return mill_err_set(err, MILL_EINVAL, "task %s: acc_norm needs per-choice log-probs",
                            c->task);
    size_t best = 0;
    double best_v = -INFINITY;
    for (size_t i = 0; i < r->n_choices; i++) {
        double v = r->logprobs[i] / choice_chars(d->choices[i]);
        if (v > best_v) {
            best_v = v;
            best = i;
        }
    }
    *out = (int64_t)best == d->target_index;
    return 0;
}

static int m_exact_match(const struct mill_doc *d, const struct mill_sample_result *r,
                         const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold || !r->text)
        return mill_err_set(err, MILL_EINVAL, "task %s: exact_match needs a gold and a text",
                            c->task);
    size_t a, na, b, nb; /* str.strip(): Unicode whitespace */
    mill_py_strip_span(r->text, r->text_len, &a, &na);
    mill_py_strip_span(gold, strlen(gold), &b, &nb);
    *out = na == nb && memcmp(r->text + a, gold + b, na) == 0;
    return 0;
}

/* s[0..n) as s.strip().lower() makes it (Unicode whitespace, Python's full case mapping),
 * malloc'd, its length in *len; NULL when out of memory. */
static char *lower_strip(const char *s, size_t n, size_t *len) {
    size_t b, k;
    struct mill_buf o = {0};
    mill_py_strip_span(s, n, &b, &k);
    if (mill_buf_adds(&o, "") || mill_py_recase(s + b, k, MILL_PYCASE_LOWER, &o)) {
        mill_buf_free(&o);
        return NULL;
    }
    *len = o.n;
    return mill_buf_take(&o);
}

static int m_contains_answer(const struct mill_doc *d, const struct mill_sample_result *r,
                             const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold || !r->text)
        return mill_err_set(err, MILL_EINVAL, "task %s: contains_answer needs a gold and a text",
                            c->task);
    size_t ng, nt;
    char *g = lower_strip(gold, strlen(gold), &ng), *t = lower_strip(r->text, r->text_len, &nt);
    if (!g || !t) {
        free(g);
        free(t);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    *out = memmem(t, nt, g, ng) != NULL;
    free(g);
    free(t);
    return 0;
}

/* perplexity: the per-token mean log-prob, as Mill stores it (aggregate.csv takes the plain
 * mean of these). */
static int m_perplexity(const struct mill_doc *d, const struct mill_sample_result *r,
                        const struct mill_metric_ctx *c, double *out, struct mill_err *err) {
    (void)d;
    if (r->output_type != MILL_OUT_PERPLEXITY)
        return mill_err_set(err, MILL_EINVAL, "task %s: perplexity needs a rolling log-prob",
                            c->task);
    *out = r->mean_logprob;
    return 0;
}

static const struct mill_metric generic[] = {
    {"acc", true, m_acc},
    {"acc_norm", true, m_acc_norm},
    {"exact_match", true, m_exact_match},
    {"contains_answer", true, m_contains_answer},
    {"perplexity", false, m_perplexity},
};

const struct mill_metrics_table mill_metrics_generic = {
    MILL_ABI_VERSION, sizeof generic / sizeof generic[0], generic};
