/* collect.c: renders `mill collect` (see collect.h): the pivot of aggregate rows into a
 * rich-style box table, and the --check lines.
 *
 * Widths count Unicode code points (what rich measures for these names), never bytes. Must not
 * touch files, print or exit: the output goes into the caller's buffer. */
#include "out/collect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "core/text.h"

#define TITLE "Mill results \xE2\x80\x94 performance" /* U+2014 EM DASH */

struct mill_collect_params mill_collect_default_params(void) {
    struct mill_collect_params p = {0};
    p.check = true;
    return p;
}

/* Terminal cells, as rich measures them (CJK and emoji 2, combining marks 0). */
static size_t cp_len(const char *s) { return mill_text_width(s); }

static int in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A table column: a task, split by metric (metric != NULL) or taking all its rows. */
struct col {
    const char *task;
    const char *metric;
    char *head; /* owned */
};

static int cmp_col(const void *a, const void *b) {
    const struct col *x = a, *y = b;
    int c = strcmp(x->task, y->task);
    if (c || !x->metric || !y->metric)
        return c;
    return strcmp(x->metric, y->metric);
}

/* One pivot entry: the cell it lands in and the row it came from (for a stable order). */
struct entry {
    size_t cell;
    size_t row;
};

/* pandas' group_mean, which pivot_table's aggfunc="mean" runs: Kahan-compensated sum in row
 * order (a compensation that is not finite, from an infinity, reset to 0: GH#53606, #60303),
 * divided by the count. */
static double group_mean(const double *x, size_t n) {
    double sum = 0.0, comp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = x[i] - comp, t = sum + y;
        comp = t - sum - y;
        if (!isfinite(comp))
            comp = 0.0;
        sum = t;
    }
    return n ? sum / (double)n : NAN;
}

static int cmp_entry(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int cmp_row_ptr(const void *a, const void *b) {
    const struct mill_aggregate_row *x = *(const struct mill_aggregate_row *const *)a;
    const struct mill_aggregate_row *y = *(const struct mill_aggregate_row *const *)b;
    int c = strcmp(x->model, y->model);
    if (!c)
        c = strcmp(x->task, y->task);
    if (!c)
        c = x->n_shot < y->n_shot ? -1 : x->n_shot > y->n_shot;
    return c;
}

static int add_rep(struct mill_buf *b, const char *s, size_t times) {
    for (size_t i = 0; i < times; i++)
        if (mill_buf_adds(b, s) < 0)
            return MILL_ENOMEM;
    return 0;
}

/* One border line: left, then for each column its width + 2 of "─", joined by mid, then right. */
static int border(struct mill_buf *b, const size_t *w, size_t nc, const char *l, const char *m,
                  const char *r) {
    if (mill_buf_adds(b, l) < 0)
        return MILL_ENOMEM;
    for (size_t c = 0; c < nc; c++)
        if ((c && mill_buf_adds(b, m) < 0) || add_rep(b, "\xE2\x94\x80", w[c] + 2) < 0)
            return MILL_ENOMEM;
    return mill_buf_adds(b, r) < 0 || mill_buf_addc(b, '\n') < 0 ? MILL_ENOMEM : 0;
}

/* "│ cell │ cell │\n" with cells left-justified to their column widths. */
static int cells(struct mill_buf *b, const char *const *text, const size_t *w, size_t nc) {
    for (size_t c = 0; c < nc; c++) {
        if (mill_buf_adds(b, "\xE2\x94\x82 ") < 0 || mill_buf_adds(b, text[c]) < 0 ||
            add_rep(b, " ", w[c] - cp_len(text[c]) + 1) < 0)
            return MILL_ENOMEM;
    }
    return mill_buf_adds(b, "\xE2\x94\x82\n") < 0 ? MILL_ENOMEM : 0;
}

static void fmt_cell(char *s, size_t n, double v) {
    if (isnan(v))
        snprintf(s, n, "nan"); /* not C's "-nan" */
    else
        snprintf(s, n, "%.4f", v);
}

#define CELL_MAX 330 /* "%.4f" of DBL_MAX: 309 digits, sign, point, 4 decimals */

/* Appends s[0..n) centred in width as rich does (left = excess // 2), without the right pad. */
static int centred(struct mill_buf *b, const char *s, size_t n, size_t width) {
    size_t l = 0;
    for (size_t i = 0; i < n; i++)
        l += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (add_rep(b, " ", width > l ? (width - l) / 2 : 0) < 0 || mill_buf_add(b, s, n) < 0 ||
        mill_buf_addc(b, '\n') < 0)
        return MILL_ENOMEM;
    return 0;
}

/* Byte length of the first k code points of s (or all of s). */
static size_t cp_prefix(const char *s, size_t n, size_t k) {
    size_t i = 0;
    for (size_t seen = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && seen++ == k)
            break;
    }
    return i;
}

/* The title over a table of width columns. Like rich, a title wider than the table is wrapped
 * greedily at spaces, a word wider than the table is cut into pieces of that width, and each
 * line is centred on its own. */
static int put_title(struct mill_buf *b, const char *title, size_t width) {
    const char *line = title; /* start of the current output line */
    size_t used = 0;          /* its length in code points, without a trailing space */
    const char *s = title;
    if (width == 0)
        width = 1;
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        size_t wl = 0;
        for (size_t i = 0; i < n; i++)
            wl += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (used && used + 1 + wl > width) { /* the word starts a new line */
            const char *end = s;
            while (end > line && end[-1] == ' ')
                end--;
            if (centred(b, line, (size_t)(end - line), width) < 0)
                return MILL_ENOMEM;
            used = 0;
        }
        if (used == 0)
            line = s;
        while (used == 0 && wl > width) { /* fold a word wider than the table */
            size_t cut = cp_prefix(s, n, width);
            if (centred(b, s, cut, width) < 0)
                return MILL_ENOMEM;
            s += cut;
            n -= cut;
            wl -= width;
            line = s;
        }
        used += (used ? 1 : 0) + wl;
        s += n;
        while (*s == ' ')
            s++;
    }
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        n--;
    return n ? centred(b, line, n, width) : 0;
}

/* The pivot of the selected rows: models down, columns across, the mean of each cell. */
struct pivot {
    const struct mill_aggregate_row **rows; /* selected rows, nr */
    size_t nr;
    const char **models; /* sorted, unique, nm */
    size_t nm;
    struct col *cols; /* sorted, nc; heads owned */
    size_t nc;
    double *means; /* nm x nc, NaN for an empty cell */
};

static void pivot_free(struct pivot *pv) {
    for (size_t c = 0; pv->cols && c < pv->nc; c++)
        free(pv->cols[c].head);
    free(pv->cols);
    free(pv->models);
    free(pv->rows);
    free(pv->means);
}

/* The rows --models, --tasks and --metric keep; pandas reads rows without a number, model or
 * task as NaN, which pivot_table drops, so they go too. */
static void pivot_select(struct pivot *pv, const struct mill_aggregate_table *t,
                         const struct mill_collect_params *p) {
    for (size_t i = 0; i < t->n; i++) {
        const struct mill_aggregate_row *r = &t->rows[i];
        if ((p->n_models && !in_list(r->model, p->models, p->n_models)) ||
            (p->n_tasks && !in_list(r->task, p->tasks, p->n_tasks)) ||
            (p->metric && strcmp(r->metric, p->metric) != 0))
            continue;
        if (isnan(r->performance) || !r->model[0] || !r->task[0])
            continue;
        pv->rows[pv->nr++] = r;
    }
}

/* Models and (task, metric) columns, sorted and unique. A task with one metric (or any task
 * under --metric) is one column named after the task; else one column per metric. */
static int pivot_axes(struct pivot *pv, const struct mill_collect_params *p) {
    size_t nt = 0;
    for (size_t i = 0; i < pv->nr; i++) {
        pv->models[i] = pv->rows[i]->model;
        pv->cols[i] = (struct col){pv->rows[i]->task, pv->rows[i]->metric, NULL};
    }
    qsort(pv->models, pv->nr, sizeof *pv->models, cmp_str);
    for (size_t i = 0; i < pv->nr; i++)
        if (i == 0 || strcmp(pv->models[i], pv->models[pv->nm - 1]) != 0)
            pv->models[pv->nm++] = pv->models[i];
    qsort(pv->cols, pv->nr, sizeof *pv->cols, cmp_col);
    for (size_t i = 0; i < pv->nr; i++)
        if (i == 0 || cmp_col(&pv->cols[i], &pv->cols[nt - 1]) != 0)
            pv->cols[nt++] = pv->cols[i];
    for (size_t i = 0; i < nt;) {
        size_t j = i;
        while (j < nt && strcmp(pv->cols[j].task, pv->cols[i].task) == 0)
            j++;
        int split = !p->metric && j - i > 1;
        for (size_t k = i; k < (split ? j : i + 1); k++) {
            struct col c = {pv->cols[k].task, split ? pv->cols[k].metric : NULL, NULL};
            struct mill_buf h = {0};
            if ((split ? mill_buf_addf(&h, "%s (%s)", c.task, c.metric)
                       : mill_buf_adds(&h, c.task)) < 0) {
                mill_buf_free(&h);
                return MILL_ENOMEM;
            }
            c.head = mill_buf_take(&h);
            pv->cols[pv->nc++] = c;
        }
        i = j;
    }
    return 0;
}

/* Each cell's mean over its rows, taken in the table's row order (as pandas sums them). */
static int pivot_means(struct pivot *pv, const struct mill_aggregate_table *t) {
    struct entry *ent = calloc(pv->nr, sizeof *ent);
    double *vals = calloc(pv->nr, sizeof *vals);
    size_t n_cells = pv->nm * pv->nc;
    pv->means = malloc((n_cells ? n_cells : 1) * sizeof *pv->means);
    if (!ent || !vals || !pv->means) {
        free(ent);
        free(vals);
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < pv->nr; i++) {
        const char **m =
            bsearch(&pv->rows[i]->model, pv->models, pv->nm, sizeof *pv->models, cmp_str);
        struct col key = {pv->rows[i]->task, pv->rows[i]->metric, NULL};
        struct col *c = bsearch(&key, pv->cols, pv->nc, sizeof *pv->cols, cmp_col);
        ent[i] = (struct entry){(size_t)(m - pv->models) * pv->nc + (size_t)(c - pv->cols),
                                (size_t)(pv->rows[i] - t->rows)};
    }
    qsort(ent, pv->nr, sizeof *ent, cmp_entry);
    for (size_t i = 0; i < pv->nm * pv->nc; i++)
        pv->means[i] = NAN;
    for (size_t i = 0; i < pv->nr;) {
        size_t j = i, k = 0;
        for (; j < pv->nr && ent[j].cell == ent[i].cell; j++)
            vals[k++] = t->rows[ent[j].row].performance;
        pv->means[ent[i].cell] = group_mean(vals, k);
        i = j;
    }
    free(ent);
    free(vals);
    return 0;
}

/* The title and the box: widths in code points (numeric cells are ASCII). */
static int pivot_draw(const struct pivot *pv, const struct mill_collect_params *p,
                      struct mill_buf *out) {
    size_t ncol = pv->nc + 1, nc = pv->nc;
    size_t *w = calloc(ncol, sizeof *w);
    char *text = malloc(ncol * CELL_MAX);
    const char **line = calloc(ncol, sizeof *line);
    struct mill_buf title = {0};
    int rc = MILL_ENOMEM;
    if (!w || !text || !line)
        goto done;
    w[0] = cp_len("model");
    for (size_t i = 0; i < pv->nm; i++)
        if (cp_len(pv->models[i]) > w[0])
            w[0] = cp_len(pv->models[i]);
    for (size_t c = 0; c < nc; c++) {
        w[c + 1] = cp_len(pv->cols[c].head);
        for (size_t i = 0; i < pv->nm; i++) {
            fmt_cell(text, CELL_MAX, pv->means[i * nc + c]);
            if (strlen(text) > w[c + 1])
                w[c + 1] = strlen(text);
        }
    }
    size_t width = ncol + 1;
    for (size_t c = 0; c < ncol; c++)
        width += w[c] + 2;
    if (mill_buf_adds(&title, TITLE) < 0 ||
        (p->metric && mill_buf_addf(&title, " (%s)", p->metric) < 0) ||
        put_title(out, title.p, width) < 0)
        goto done;
    /* ┌─┬─┐ │ model │ task │ ├─┼─┤ rows └─┴─┘ */
    line[0] = "model";
    for (size_t c = 0; c < nc; c++)
        line[c + 1] = pv->cols[c].head;
    if (border(out, w, ncol, "\xE2\x94\x8C", "\xE2\x94\xAC", "\xE2\x94\x90") < 0 ||
        cells(out, line, w, ncol) < 0 ||
        border(out, w, ncol, "\xE2\x94\x9C", "\xE2\x94\xBC", "\xE2\x94\xA4") < 0)
        goto done;
    for (size_t i = 0; i < pv->nm; i++) {
        line[0] = pv->models[i];
        for (size_t c = 0; c < nc; c++) {
            char *s = text + (c + 1) * CELL_MAX;
            fmt_cell(s, CELL_MAX, pv->means[i * nc + c]);
            line[c + 1] = s;
        }
        if (cells(out, line, w, ncol) < 0)
            goto done;
    }
    if (border(out, w, ncol, "\xE2\x94\x94", "\xE2\x94\xB4", "\xE2\x94\x98") < 0)
        goto done;
    rc = 0;
done:
    mill_buf_free(&title);
    free(line);
    free(text);
    free(w);
    return rc;
}

/* The pivot table, or "No results found.". */
static int render_table(const struct mill_aggregate_table *t, const struct mill_collect_params *p,
                        struct mill_buf *out) {
    size_t n = t->n ? t->n : 1;
    struct pivot pv = {.rows = calloc(n, sizeof *pv.rows),
                       .models = calloc(n, sizeof *pv.models),
                       .cols = calloc(n, sizeof *pv.cols)};
    int rc = MILL_ENOMEM;
    if (pv.rows && pv.models && pv.cols) {
        pivot_select(&pv, t, p);
        if (pv.nr == 0)
            rc = mill_buf_adds(out, "No results found.\n") < 0 ? MILL_ENOMEM : 0;
        else if (!(rc = pivot_axes(&pv, p)) && !(rc = pivot_means(&pv, t)))
            rc = pivot_draw(&pv, p, out);
    }
    pivot_free(&pv);
    return rc;
}

static bool row_found(const struct mill_aggregate_row *const *keys, size_t n, const char *model,
                      const char *task, int64_t n_shot) {
    struct mill_aggregate_row k = {
        .model = model ? model : "", .task = task ? task : "", .n_shot = n_shot};
    const struct mill_aggregate_row *kp = &k;
    return bsearch(&kp, keys, n, sizeof *keys, cmp_row_ptr) != NULL;
}

static int job_done(const struct mill_aggregate_row *const *keys, size_t n,
                    const struct mill_collect_job *j) {
    if (!j->any_of)
        return row_found(keys, n, j->model, j->task, j->n_shot);
    for (size_t i = 0; j->any_of[i]; i++)
        if (row_found(keys, n, j->model, j->any_of[i], j->n_shot))
            return 1;
    return 0;
}

/* The --check lines. */
static int render_check(const struct mill_aggregate_table *t, const struct mill_collect_params *p,
                        struct mill_buf *out) {
    if (t->n == 0)
        return mill_buf_adds(out, "\nNo results at all.\n") < 0 ? MILL_ENOMEM : 0;
    const struct mill_aggregate_row **keys = malloc(t->n * sizeof *keys);
    if (!keys)
        return MILL_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        keys[i] = &t->rows[i];
    qsort(keys, t->n, sizeof *keys, cmp_row_ptr);
    size_t n = 0; /* unique (model, task, n_shot) */
    for (size_t i = 0; i < t->n; i++)
        if (i == 0 || cmp_row_ptr(&keys[i], &keys[n - 1]) != 0)
            keys[n++] = keys[i];
    int rc = mill_buf_addf(out, "\nCompleted jobs: %zu\n", n) < 0 ? MILL_ENOMEM : 0;
    if (rc == 0 && p->expected) {
        size_t missing = 0;
        for (size_t i = 0; i < p->n_expected; i++)
            missing += !job_done(keys, n, &p->expected[i]);
        if (missing == 0)
            rc = mill_buf_adds(out, "All requested jobs are complete.\n");
        else
            rc = mill_buf_addf(out, "Missing %zu jobs:\n", missing);
        for (size_t i = 0; i < p->n_expected && missing && rc == 0; i++) {
            const struct mill_collect_job *j = &p->expected[i];
            if (!job_done(keys, n, j))
                rc = mill_buf_addf(out, "  model=%s  task=%s  n_shot=%lld\n",
                                   j->model ? j->model : "", j->task ? j->task : "",
                                   (long long)j->n_shot);
        }
        rc = rc < 0 ? MILL_ENOMEM : 0;
    }
    free(keys);
    return rc;
}

int mill_collect_render(const struct mill_aggregate_table *t, const struct mill_collect_params *p,
                        struct mill_buf *out, struct mill_err *err) {
    if (!t || !p || !out)
        return mill_err_set(err, MILL_EINVAL, "collect: NULL table, params or output");
    int rc = render_table(t, p, out);
    if (rc == 0 && p->check)
        rc = render_check(t, p, out);
    if (rc < 0)
        return mill_err_set(err, rc, "collect: out of memory");
    return 0;
}
