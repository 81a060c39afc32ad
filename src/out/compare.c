/* compare.c: the paired comparison (compare.h): pairing two models' answers by doc_id, the
 * stratified paired bootstrap, the exact McNemar test, and the text and JSON renderings.
 * No I/O: the results are loaded by the caller. */
#include "out/compare.h"

#include "core/array.h"
#include "core/mt19937.h"
#include "core/random.h"
#include "core/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double mill_mcnemar_exact(int64_t a_only, int64_t b_only) {
    int64_t n = a_only + b_only, k = a_only < b_only ? a_only : b_only;
    if (n <= 0)
        return 1.0;
    /* P(X <= k) = sum_i C(n, i) / 2^n, summed in log space (n may be in the thousands). */
    double lg_n = lgamma((double)n + 1), top = -INFINITY, sum = 0;
    for (int64_t i = k; i >= 0; i--) { /* the largest term (i = k) first */
        double l = lg_n - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - n * log(2.0);
        if (top == -INFINITY)
            top = l;
        sum += exp(l - top);
    }
    double p = 2.0 * exp(top + log(sum));
    return p > 1.0 ? 1.0 : p;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* numpy.percentile(v, q) of sorted v[0..n), linear interpolation. */
static double percentile(const double *v, size_t n, double q) {
    double pos = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (v[i + 1] - v[i]) * (pos - (double)i);
}

/* random.Random._randbelow(n) for 1 <= n <= 2^32: one getrandbits(k) draw, k = n's bit length,
 * repeated while >= n, exactly as mill_random_randbelow; written out here because the bootstrap
 * makes resamples x questions draws (10^9 for large sets) and a direct word costs half. */
static inline uint64_t randbelow(struct mill_random *r, uint64_t n, int k) {
    if (n > ((uint64_t)1 << 32))
        return mill_random_randbelow(r, n);
    uint64_t v;
    do
        v = mill_mt19937_next(&r->g) >> (32 - k);
    while (v >= n);
    return v;
}

/* The bootstrap diffs: per resample the mean over strata of a resampled mean(b - a). */
static int bootstrap(const struct mill_compare_stratum *s, size_t k, const char *key,
                     size_t resamples, struct mill_compare_stat *out) {
    size_t total = 0;
    for (size_t t = 0; t < k; t++)
        total += s[t].n;
    double *d = malloc(total * sizeof *d), *stat = malloc(resamples * sizeof *stat);
    if (!d || !stat) {
        free(d);
        free(stat);
        return MILL_ENOMEM;
    }
    for (size_t t = 0, o = 0; t < k; o += s[t].n, t++)
        for (size_t i = 0; i < s[t].n; i++)
            d[o + i] = s[t].b[i] - s[t].a[i];
    struct mill_random rng;
    const char *parts[] = {key};
    mill_sample_rng(&rng, MILL_COMPARE_SEED, parts, 1);
    for (size_t r = 0; r < resamples; r++) {
        double acc = 0;
        for (size_t t = 0, o = 0; t < k; o += s[t].n, t++) {
            double sum = 0;
            int bits = 64 - __builtin_clzll((unsigned long long)s[t].n);
            for (size_t i = 0; i < s[t].n; i++)
                sum += d[o + randbelow(&rng, s[t].n, bits)];
            acc += sum / (double)s[t].n;
        }
        stat[r] = acc / (double)k;
    }
    qsort(stat, resamples, sizeof *stat, cmp_double);
    out->lo = percentile(stat, resamples, 2.5);
    out->hi = percentile(stat, resamples, 97.5);
    free(d);
    free(stat);
    return 0;
}

int mill_compare_stats(const struct mill_compare_stratum *s, size_t k, const char *key,
                       size_t resamples, struct mill_compare_stat *out) {
    memset(out, 0, sizeof *out);
    if (k == 0 || resamples < 2)
        return MILL_EINVAL;
    out->binary = true;
    for (size_t t = 0; t < k; t++) {
        if (s[t].n == 0)
            return MILL_EINVAL;
        double sa = 0, sb = 0, sd = 0;
        for (size_t i = 0; i < s[t].n; i++) {
            double a = s[t].a[i], b = s[t].b[i];
            sa += a;
            sb += b;
            sd += b - a;
            out->binary = out->binary && (a == 0 || a == 1) && (b == 0 || b == 1);
            out->a_only += a == 1 && b == 0;
            out->b_only += b == 1 && a == 0;
        }
        out->n += s[t].n;
        out->mean_a += sa / (double)s[t].n;
        out->mean_b += sb / (double)s[t].n;
        out->diff += sd / (double)s[t].n;
    }
    out->mean_a /= (double)k;
    out->mean_b /= (double)k;
    out->diff /= (double)k;
    out->p = out->binary ? mill_mcnemar_exact(out->a_only, out->b_only) : NAN;
    return bootstrap(s, k, key, resamples, out);
}

static void row_free(struct mill_compare_row *r) {
    free(r->name);
    free(r->metric);
    free(r->a);
    free(r->b);
}

void mill_compare_free(struct mill_compare *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        row_free(&c->rows[i]);
    free(c->rows);
    free(c->model_a);
    free(c->model_b);
    memset(c, 0, sizeof *c);
}

static int cmp_row(const void *x, const void *y) {
    const struct mill_compare_row *a = x, *b = y;
    if (a->rollup != b->rollup)
        return a->rollup ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (!c)
        c = a->n_shot < b->n_shot ? -1 : a->n_shot > b->n_shot;
    return c ? c : strcmp(a->metric, b->metric);
}

/* The paired values of metric m of ja (mb of jb) on the docs both answered with a number. */
static int pair_task(const struct mill_result_job *ja, int m, const struct mill_result_job *jb,
                     int mb, struct mill_compare_row *row) {
    row->a = malloc((ja->n ? ja->n : 1) * sizeof *row->a);
    row->b = malloc((ja->n ? ja->n : 1) * sizeof *row->b);
    if (!row->a || !row->b)
        return MILL_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < ja->n; i++) {
        const struct mill_result_sample *sb = mill_result_find(jb, ja->s[i].doc_id);
        if (!sb || !isfinite(ja->s[i].values[m]) || !isfinite(sb->values[mb]))
            continue; /* no value (NaN), or one no mean survives (an infinite log-prob) */
        row->a[n] = ja->s[i].values[m];
        row->b[n++] = sb->values[mb];
    }
    row->st.n = n;
    return 0;
}

static const struct mill_result_job *find_job(const struct mill_results *r, const char *model,
                                              const char *task, int64_t n_shot) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->jobs[i].model, model) && !strcmp(r->jobs[i].task, task) &&
            r->jobs[i].n_shot == n_shot)
            return &r->jobs[i];
    return NULL;
}

/* One row per (task, n_shot, metric) both models have with at least one pair; rows[i].name of
 * a task row is the task, and its benchmark is kept in bench[i] (borrowed from r). */
static int task_rows(const struct mill_results *r, struct mill_compare *c, const char *metric,
                     const char ***bench, size_t *cap) {
    size_t bcap = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct mill_result_job *ja = &r->jobs[i], *jb;
        if (strcmp(ja->model, c->model_a) || !(jb = find_job(r, c->model_b, ja->task, ja->n_shot)))
            continue;
        for (size_t m = 0; m < ja->n_metrics; m++) {
            int mb = mill_result_metric(jb, ja->metrics[m]);
            if (mb < 0 || (metric && strcmp(metric, ja->metrics[m])))
                continue;
            if (mill_grow(&c->rows, cap, c->n, sizeof *c->rows, 16) ||
                mill_grow(bench, &bcap, c->n, sizeof **bench, 16))
                return MILL_ENOMEM;
            struct mill_compare_row *row = &c->rows[c->n];
            memset(row, 0, sizeof *row);
            row->n_shot = ja->n_shot;
            row->n_tasks = 1;
            (*bench)[c->n++] = ja->benchmark;
            if (!(row->name = strdup(ja->task)) || !(row->metric = strdup(ja->metrics[m])) ||
                pair_task(ja, (int)m, jb, mb, row))
                return MILL_ENOMEM;
            if (row->st.n == 0) /* nothing in common: no row */
                row_free(&c->rows[--c->n]);
        }
    }
    return 0;
}

/* "<name>|<n_shot>|<metric>": the bootstrap's seed string after "1234|". */
static char *row_key(const struct mill_compare_row *row) {
    char *k = NULL;
    return asprintf(&k, "%s|%lld|%s", row->name, (long long)row->n_shot, row->metric) < 0 ? NULL
                                                                                          : k;
}

static int row_stats(struct mill_compare_row *row, const struct mill_compare_stratum *s, size_t k) {
    char *key = row_key(row);
    int rc = key ? mill_compare_stats(s, k, key, MILL_COMPARE_RESAMPLES, &row->st) : MILL_ENOMEM;
    free(key);
    return rc;
}

/* The rollup of each (benchmark, n_shot, metric) over its task rows (nt of them, sorted). */
static int rollups(struct mill_compare *c, size_t nt, const char **bench, size_t *cap) {
    struct mill_compare_stratum *s = malloc((nt ? nt : 1) * sizeof *s);
    bool *used = calloc(nt ? nt : 1, 1);
    int rc = s && used ? 0 : MILL_ENOMEM;
    for (size_t i = 0; i < nt && !rc; i++) {
        if (used[i] || !bench[i][0])
            continue;
        size_t k = 0;
        for (size_t j = i; j < nt; j++) {
            const struct mill_compare_row *t = &c->rows[j];
            if (!used[j] && !strcmp(bench[j], bench[i]) && t->n_shot == c->rows[i].n_shot &&
                !strcmp(t->metric, c->rows[i].metric)) {
                used[j] = true;
                s[k++] = (struct mill_compare_stratum){t->a, t->b, t->st.n};
            }
        }
        if (k < 2 || (rc = mill_grow(&c->rows, cap, c->n, sizeof *c->rows, 16)))
            continue;
        struct mill_compare_row *row = &c->rows[c->n];
        *row = (struct mill_compare_row){.rollup = true, .n_tasks = k, .n_shot = c->rows[i].n_shot};
        c->n++;
        if (!(row->name = strdup(bench[i])) || !(row->metric = strdup(c->rows[i].metric)))
            rc = MILL_ENOMEM;
        else
            rc = row_stats(row, s, k);
    }
    free(s);
    free(used);
    return rc;
}

int mill_compare_build(const struct mill_results *r, const char *a, const char *b,
                       const char *metric, struct mill_compare *out, struct mill_err *err) {
    memset(out, 0, sizeof *out);
    const char **bench = NULL;
    size_t cap = 0;
    int rc = (out->model_a = strdup(a)) && (out->model_b = strdup(b)) ? 0 : MILL_ENOMEM;
    if (!rc)
        rc = task_rows(r, out, metric, &bench, &cap);
    size_t nt = out->n;
    if (!rc) { /* sort task rows (and their benchmarks alongside) so strata come by name */
        for (size_t i = 1; i < nt; i++)
            for (size_t j = i; j > 0 && cmp_row(&out->rows[j - 1], &out->rows[j]) > 0; j--) {
                struct mill_compare_row t = out->rows[j];
                const char *bt = bench[j];
                out->rows[j] = out->rows[j - 1];
                out->rows[j - 1] = t;
                bench[j] = bench[j - 1];
                bench[j - 1] = bt;
            }
    }
    for (size_t i = 0; i < nt && !rc; i++) {
        struct mill_compare_stratum s = {out->rows[i].a, out->rows[i].b, out->rows[i].st.n};
        rc = row_stats(&out->rows[i], &s, 1);
    }
    if (!rc)
        rc = rollups(out, nt, bench, &cap);
    free(bench);
    if (!rc && out->n > 1) /* no rows (nothing in common): rows is NULL, which qsort may not take */
        qsort(out->rows, out->n, sizeof *out->rows, cmp_row);
    if (rc) {
        mill_compare_free(out);
        return mill_err_set(err, rc, "compare: out of memory");
    }
    return 0;
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void fmt_p(char *s, size_t n, double p) {
    if (isnan(p))
        snprintf(s, n, "-");
    else if (p < 1e-4)
        snprintf(s, n, "%.1e", p);
    else
        snprintf(s, n, "%.4f", p);
}

#define NCOL 11

#define CELL 1024 /* a task name longer than this is cut */

static void row_cells(const struct mill_compare_row *r, char cell[NCOL][CELL]) {
    const struct mill_compare_stat *s = &r->st;
    snprintf(cell[0], CELL, "%s%s", r->name, r->rollup ? " (all)" : "");
    snprintf(cell[1], 128, "%lld", (long long)r->n_shot);
    snprintf(cell[2], CELL, "%s", r->metric);
    snprintf(cell[3], 128, "%zu", s->n);
    snprintf(cell[4], 128, "%.4f", s->mean_a);
    snprintf(cell[5], 128, "%.4f", s->mean_b);
    snprintf(cell[6], 128, "%+.4f", s->diff);
    snprintf(cell[7], 128, "[%+.4f, %+.4f]", s->lo, s->hi);
    snprintf(cell[8], 128, "%lld", (long long)s->a_only);
    snprintf(cell[9], 128, "%lld", (long long)s->b_only);
    fmt_p(cell[10], 128, s->p);
}

int mill_compare_render(const struct mill_compare *c, struct mill_buf *out) {
    static const char *const head[NCOL] = {"task", "n_shot", "metric", "n",      "A",        "B",
                                           "B-A",  "95% CI", "A only", "B only", "McNemar p"};
    size_t w[NCOL]; /* in terminal cells (mill_text_width), not bytes */
    char cell[NCOL][CELL];
    for (size_t k = 0; k < NCOL; k++)
        w[k] = strlen(head[k]);
    for (size_t i = 0; i < c->n; i++) {
        row_cells(&c->rows[i], cell);
        for (size_t k = 0; k < NCOL; k++) {
            size_t cw = mill_text_width(cell[k]);
            w[k] = cw > w[k] ? cw : w[k];
        }
    }
    int rc = mill_buf_addf(out,
                           "Paired comparison on the questions both answered\n"
                           "  A = %s\n  B = %s\n"
                           "  95%% CI: paired bootstrap, %d resamples, seed %d; "
                           "p: exact McNemar on the questions only one got right\n\n",
                           c->model_a, c->model_b, MILL_COMPARE_RESAMPLES, MILL_COMPARE_SEED);
    for (size_t i = 0; i <= c->n && !rc; i++) {
        if (i)
            row_cells(&c->rows[i - 1], cell);
        for (size_t k = 0; k < NCOL && !rc; k++) {
            const char *t = i ? cell[k] : head[k];
            /* text columns left-aligned, numbers right-aligned */
            size_t pad = w[k] - mill_text_width(t);
            rc = k < 3 ? mill_buf_addf(out, "%s%*s", t, (int)pad, "")
                       : mill_buf_addf(out, "%*s%s", (int)pad, "", t);
            if (!rc)
                rc = mill_buf_adds(out, k + 1 < NCOL ? "  " : "\n");
        }
    }
    return rc < 0 ? MILL_ENOMEM : 0;
}

static void add_num(struct mill_buf *b, const char *key, double x) {
    mill_buf_addf(b, ",\"%s\":", key);
    if (isnan(x) || isinf(x))
        mill_buf_adds(b, "null");
    else
        mill_buf_add_pyfloat(b, x);
}

int mill_compare_json(const struct mill_compare *c, struct mill_buf *b) {
    mill_buf_adds(b, "{\"a\":");
    mill_buf_add_json_str(b, c->model_a, strlen(c->model_a));
    mill_buf_adds(b, ",\"b\":");
    mill_buf_add_json_str(b, c->model_b, strlen(c->model_b));
    mill_buf_addf(b, ",\"resamples\":%d,\"seed\":%d,\"rows\":[", MILL_COMPARE_RESAMPLES,
                  MILL_COMPARE_SEED);
    for (size_t i = 0; i < c->n; i++) {
        const struct mill_compare_row *r = &c->rows[i];
        mill_buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
        mill_buf_add_json_str(b, r->name, strlen(r->name));
        mill_buf_addf(b, ",\"rollup\":%s,\"n_tasks\":%zu,\"n_shot\":%lld,\"metric\":",
                      r->rollup ? "true" : "false", r->n_tasks, (long long)r->n_shot);
        mill_buf_add_json_str(b, r->metric, strlen(r->metric));
        mill_buf_addf(b, ",\"n\":%zu,\"a_only\":%lld,\"b_only\":%lld", r->st.n,
                      (long long)r->st.a_only, (long long)r->st.b_only);
        add_num(b, "mean_a", r->st.mean_a);
        add_num(b, "mean_b", r->st.mean_b);
        add_num(b, "diff", r->st.diff);
        add_num(b, "lo", r->st.lo);
        add_num(b, "hi", r->st.hi);
        add_num(b, "p", r->st.p);
        mill_buf_addc(b, '}');
    }
    return mill_buf_adds(b, "]}") < 0 ? MILL_ENOMEM : 0;
}
