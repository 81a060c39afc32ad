/* results.c: reads an output directory's jobs back (results.h): aggregate.csv's leaf rows name
 * the jobs, each job's JSONL gives one answer per doc and its provenance file the seed those
 * answers belong to. Never prints or exits; a line it cannot read is skipped and counted. */
#include "out/results.h"

#include "core/array.h"
#include "out/provenance.h"
#include "out/samples.h"

#include <mill/value.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mill_results_params mill_results_default_params(void) {
    struct mill_results_params p = {0};
    p.prompt_chars = 1500;
    return p;
}

static bool in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(s, list[i]) == 0)
            return true;
    return false;
}

struct pair {
    const char *model, *bench;
};

static int cmp_pair(const void *a, const void *b) {
    const struct pair *x = a, *y = b;
    int c = strcmp(x->model, y->model);
    return c ? c : strcmp(x->bench, y->bench);
}

bool *mill_results_rollups(const struct mill_aggregate_table *t) {
    bool *flags = calloc(t->n ? t->n : 1, sizeof *flags);
    struct pair *p = malloc((t->n ? t->n : 1) * sizeof *p);
    size_t n = 0;
    for (size_t k = 0; p && k < t->n; k++) { /* (model, benchmark) of every leaf row */
        const struct mill_aggregate_row *o = &t->rows[k];
        if (o->benchmark && o->benchmark[0] && strcmp(o->task, o->benchmark) != 0)
            p[n++] = (struct pair){o->model, o->benchmark};
    }
    if (p && flags) {
        qsort(p, n, sizeof *p, cmp_pair);
        for (size_t i = 0; i < t->n; i++) {
            struct pair key = {t->rows[i].model, t->rows[i].task};
            flags[i] = bsearch(&key, p, n, sizeof *p, cmp_pair) != NULL;
        }
    }
    free(p);
    if (!p) {
        free(flags);
        return NULL;
    }
    return flags;
}

const struct mill_result_sample *mill_result_find(const struct mill_result_job *job,
                                                  int64_t doc_id) {
    size_t lo = 0, hi = job->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (job->s[mid].doc_id < doc_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < job->n && job->s[lo].doc_id == doc_id ? &job->s[lo] : NULL;
}

int mill_result_metric(const struct mill_result_job *job, const char *name) {
    for (size_t m = 0; m < job->n_metrics; m++)
        if (strcmp(job->metrics[m], name) == 0)
            return (int)m;
    return -1;
}

static void sample_free(struct mill_result_sample *s) {
    free(s->values);
    free(s->prediction);
    free(s->gold);
    free(s->group);
    free(s->prompt);
    free(s->logprobs);
}

void mill_result_job_free(struct mill_result_job *job) {
    if (!job)
        return;
    for (size_t i = 0; i < job->n; i++)
        sample_free(&job->s[i]);
    free(job->s);
    for (size_t m = 0; m < job->n_metrics; m++)
        free(job->metrics[m]);
    free(job->metrics);
    free(job->model);
    free(job->task);
    free(job->benchmark);
    free(job->provenance);
    memset(job, 0, sizeof *job);
}

void mill_results_free(struct mill_results *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        mill_result_job_free(&r->jobs[i]);
    free(r->jobs);
    r->jobs = NULL;
    r->n = 0;
}

/* v as strict JSON (what a browser's JSON.parse takes): NaN and infinities become null. */
static int strict_json(const struct mill_value *v, struct mill_buf *b) {
    if (v->kind == MILL_V_FLOAT && !isfinite(v->u.f))
        return mill_buf_adds(b, "null");
    if (v->kind == MILL_V_LIST) {
        int rc = mill_buf_addc(b, '[');
        for (size_t i = 0; i < v->u.list.n && !rc; i++)
            rc = (i ? mill_buf_addc(b, ',') : 0) || strict_json(&v->u.list.items[i], b);
        return rc || mill_buf_addc(b, ']') ? MILL_ENOMEM : 0;
    }
    if (v->kind == MILL_V_STRUCT) {
        int rc = mill_buf_addc(b, '{');
        for (size_t i = 0; i < v->u.obj.n && !rc; i++)
            rc = (i ? mill_buf_addc(b, ',') : 0) ||
                 mill_buf_add_json_str(b, v->u.obj.keys[i], strlen(v->u.obj.keys[i])) ||
                 mill_buf_addc(b, ':') || strict_json(&v->u.obj.vals[i], b);
        return rc || mill_buf_addc(b, '}') ? MILL_ENOMEM : 0;
    }
    return mill_value_to_json(v, b);
}

static char *to_json(const struct mill_value *v) {
    struct mill_buf b = {0};
    if (!v)
        return strdup("null");
    if (strict_json(v, &b) < 0 || !b.p) {
        mill_buf_free(&b);
        return NULL;
    }
    return mill_buf_take(&b);
}

static double as_number(const struct mill_value *x) {
    if (x && x->kind == MILL_V_FLOAT)
        return x->u.f;
    if (x && x->kind == MILL_V_INT)
        return (double)x->u.i;
    if (x && x->kind == MILL_V_BOOL)
        return x->u.b;
    return NAN;
}

/* The last max bytes of s, starting at a character boundary. */
static char *tail(const char *s, size_t n, size_t max) {
    size_t start = max && n > max ? n - max : 0;
    while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80)
        start++;
    return strndup(s + start, n - start);
}

/* LOGLIK responses are [[logprob, is_greedy], ...]; anything else has no per-choice scores. */
static int read_logprobs(const struct mill_value *resp, struct mill_result_sample *s) {
    if (!resp || resp->kind != MILL_V_LIST || resp->u.list.n == 0)
        return 0;
    for (size_t i = 0; i < resp->u.list.n; i++) {
        const struct mill_value *it = &resp->u.list.items[i];
        if (it->kind != MILL_V_LIST || it->u.list.n != 2 || it->u.list.items[1].kind != MILL_V_BOOL)
            return 0;
    }
    if (!(s->logprobs = malloc(resp->u.list.n * sizeof *s->logprobs)))
        return MILL_ENOMEM;
    s->n_choices = resp->u.list.n;
    for (size_t i = 0; i < s->n_choices; i++)
        s->logprobs[i] = as_number(&resp->u.list.items[i].u.list.items[0]);
    return 0;
}

static int fill_sample(struct mill_result_sample *s, const struct mill_value *v,
                       const struct mill_result_job *job, const struct mill_results_params *p) {
    s->values = malloc((job->n_metrics ? job->n_metrics : 1) * sizeof *s->values);
    s->prediction = to_json(mill_value_get(v, "prediction"));
    s->gold = to_json(mill_value_get(v, "gold"));
    if (!s->values || !s->prediction || !s->gold)
        return MILL_ENOMEM;
    for (size_t m = 0; m < job->n_metrics; m++)
        s->values[m] = as_number(mill_value_get(v, job->metrics[m]));
    const struct mill_value *g = mill_value_get(v, "subject");
    if (!g || g->kind != MILL_V_STR)
        g = mill_value_get(v, "category");
    if (g && g->kind == MILL_V_STR && !(s->group = strdup(g->u.s.p)))
        return MILL_ENOMEM;
    const struct mill_value *pr = mill_value_get(v, "prompt");
    if (p->prompts && pr && pr->kind == MILL_V_STR &&
        !(s->prompt = tail(pr->u.s.p, pr->u.s.n, p->prompt_chars)))
        return MILL_ENOMEM;
    return p->logprobs ? read_logprobs(mill_value_get(v, "responses"), s) : 0;
}

/* Appends s (replacing the last sample when it has the same doc); a doc out of order leaves
 * the job unsorted until mill_result_job_sort. Lines of a job come in doc order but for resumes
 * and reruns, so sorting once beats inserting in place (quadratic on a reversed file). */
static int place(struct mill_result_job *job, struct mill_result_sample *s) {
    if (job->n && job->s[job->n - 1].doc_id == s->doc_id) {
        sample_free(&job->s[job->n - 1]);
        job->s[job->n - 1] = *s;
        return 0;
    }
    if (mill_grow(&job->s, &job->cap, job->n, sizeof *job->s, 256))
        return MILL_ENOMEM;
    job->unsorted |= job->n && job->s[job->n - 1].doc_id > s->doc_id;
    job->s[job->n++] = *s;
    return 0;
}

/* Orders by doc_id, then by position (the later line last). */
static int cmp_sample_pos(const void *x, const void *y) {
    const struct mill_result_sample *a = *(const struct mill_result_sample *const *)x;
    const struct mill_result_sample *b = *(const struct mill_result_sample *const *)y;
    if (a->doc_id != b->doc_id)
        return a->doc_id < b->doc_id ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Drops the failed docs' placeholders, keeping the order. */
static void drop_failed(struct mill_result_job *job) {
    size_t k = 0;
    for (size_t i = 0; i < job->n; i++)
        if (job->s[i].failed)
            sample_free(&job->s[i]);
        else
            job->s[k++] = job->s[i];
    job->n = k;
}

/* job->s in doc order, the later line of a doc kept. */
static int sort_docs(struct mill_result_job *job) {
    struct mill_result_sample **order = malloc(job->n * sizeof *order);
    struct mill_result_sample *sorted = malloc(job->n * sizeof *sorted);
    if (!order || !sorted) {
        free(order);
        free(sorted);
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < job->n; i++)
        order[i] = &job->s[i];
    qsort(order, job->n, sizeof *order, cmp_sample_pos);
    size_t k = 0;
    for (size_t i = 0; i < job->n; i++) {
        if (i + 1 < job->n && order[i + 1]->doc_id == order[i]->doc_id)
            sample_free(order[i]); /* a later line of the same doc wins */
        else
            sorted[k++] = *order[i];
    }
    free(order);
    free(job->s);
    job->s = sorted;
    job->n = job->cap = k;
    job->unsorted = false;
    return 0;
}

int mill_result_job_sort(struct mill_result_job *job) {
    int rc = job->unsorted ? sort_docs(job) : 0;
    if (!rc)
        drop_failed(job);
    return rc;
}

int mill_results_add_line(struct mill_result_job *job, const char *line, size_t len, int64_t seed,
                          const struct mill_results_params *p) {
    struct mill_value v;
    struct mill_err e = {0};
    int64_t id, line_seed;
    if (mill_value_from_json(&v, line, len, &e))
        return MILL_EFORMAT;
    if (v.kind != MILL_V_STRUCT || mill_value_as_int(mill_value_get(&v, "doc_id"), &id) || id < 0) {
        mill_value_free(&v);
        return MILL_EFORMAT;
    }
    int rc = 0;
    /* a line of an earlier run over more docs (a later --limit) is not this job's */
    bool mine = job->n_docs <= 0 || id < job->n_docs;
    bool same_seed =
        seed < 0 || mill_value_as_int(mill_value_get(&v, "seed"), &line_seed) || line_seed == seed;
    if (mine && mill_value_get(&v, "error")) {
        job->n_failed++;
        /* it undoes an earlier answer of the same doc and seed: the last line is the doc's */
        struct mill_result_sample s = {.doc_id = id, .failed = true};
        if (same_seed)
            rc = place(job, &s);
    } else if (mine && same_seed) {
        struct mill_result_sample s = {.doc_id = id};
        rc = fill_sample(&s, &v, job, p);
        if (rc == 0)
            rc = place(job, &s);
        if (rc)
            sample_free(&s);
        else
            rc = 1;
    }
    mill_value_free(&v);
    return rc;
}

/* The provenance document, re-written compactly, and its seed (-1 when there is none). */
static int read_provenance(const char *path, struct mill_result_job *j, int64_t *seed) {
    static const char *const fields[] = {"mill_version", "backend", "seed", "dataset", "n"};
    *seed = -1;
    struct mill_value v;
    int rc = mill_provenance_load(path, &v);
    if (rc == MILL_ENOTFOUND)
        j->old_note = "no provenance file (written by an older mill, or the job never finished)";
    else if (rc == MILL_EFORMAT)
        j->old_note = "unreadable provenance file";
    if (rc)
        return rc == MILL_ENOMEM ? rc : 0;
    bool obj = v.kind == MILL_V_STRUCT;
    if (obj) {
        for (size_t i = 0; i < sizeof fields / sizeof *fields && !j->old_note; i++)
            if (!mill_value_get(&v, fields[i]))
                j->old_note = "provenance lacks fields of this mill (written by an older mill)";
        if (mill_value_as_int(mill_value_get(&v, "seed"), seed))
            *seed = -1;
        if (mill_value_as_int(mill_value_get(&v, "n"), &j->n_docs) || j->n_docs < 0)
            j->n_docs = 0;
        const struct mill_value *fin = mill_value_get(&v, "finished");
        j->unfinished = fin && fin->kind == MILL_V_BOOL && !fin->u.b;
        j->provenance = to_json(&v);
    } else {
        j->old_note = "unreadable provenance file";
    }
    mill_value_free(&v);
    return obj && !j->provenance ? MILL_ENOMEM : 0;
}

static int read_job(const char *dir, struct mill_result_job *j, const struct mill_results_params *p,
                    struct mill_err *err) {
    int64_t seed;
    char *pp = mill_job_file(dir, j->model, j->task, j->n_shot, ".json");
    char *sp = mill_job_file(dir, j->model, j->task, j->n_shot, ".jsonl");
    int rc = pp && sp ? read_provenance(pp, j, &seed) : MILL_ENOMEM;
    FILE *f = rc ? NULL : fopen(sp, "rb");
    if (!rc && !f && errno == ENOENT)
        j->old_note = "no per-sample file";
    else if (!rc && !f)
        rc = mill_err_set(err, MILL_EIO, "cannot read %s: %s", sp, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && rc >= 0 && (n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        rc = len ? mill_results_add_line(j, line, len, seed, p) : 0;
        if (rc == MILL_EFORMAT) {
            j->n_skipped++;
            rc = 0;
        }
    }
    if (f && rc >= 0 && ferror(f))
        rc = mill_err_set(err, MILL_EIO, "read error on %s", sp);
    if (rc >= 0)
        rc = mill_result_job_sort(j);
    if (f)
        fclose(f);
    free(line);
    free(pp);
    free(sp);
    if (rc == MILL_ENOMEM)
        return mill_err_set(err, rc, "out of memory reading results");
    return rc < 0 ? rc : 0;
}

/* The job of row r, created on first sight; its metric added once. */
static int job_of_row(struct mill_results *res, size_t *cap, const struct mill_aggregate_row *r) {
    struct mill_result_job *j = NULL;
    for (size_t i = 0; i < res->n && !j; i++)
        if (!strcmp(res->jobs[i].model, r->model) && !strcmp(res->jobs[i].task, r->task) &&
            res->jobs[i].n_shot == r->n_shot)
            j = &res->jobs[i];
    if (!j) {
        if (mill_grow(&res->jobs, cap, res->n, sizeof *res->jobs, 16))
            return MILL_ENOMEM;
        j = &res->jobs[res->n++];
        memset(j, 0, sizeof *j);
        j->n_shot = r->n_shot;
        if (!(j->model = strdup(r->model)) || !(j->task = strdup(r->task)) ||
            !(j->benchmark = strdup(r->benchmark ? r->benchmark : "")))
            return MILL_ENOMEM;
    }
    if (mill_result_metric(j, r->metric) >= 0)
        return 0;
    char **m = realloc(j->metrics, (j->n_metrics + 1) * sizeof *m);
    if (!m)
        return MILL_ENOMEM;
    j->metrics = m;
    return (m[j->n_metrics] = strdup(r->metric)) ? (j->n_metrics++, 0) : MILL_ENOMEM;
}

int mill_results_load(struct mill_results *r, const struct mill_aggregate_table *t,
                      const struct mill_results_params *p, struct mill_err *err) {
    memset(r, 0, sizeof *r);
    size_t cap = 0;
    bool *rollup = mill_results_rollups(t);
    int rc = rollup ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n && !rc; i++) {
        const struct mill_aggregate_row *row = &t->rows[i];
        if (!row->model[0] || !row->task[0] || rollup[i] ||
            (p->n_models && !in_list(row->model, p->models, p->n_models)) ||
            (p->n_tasks && !in_list(row->task, p->tasks, p->n_tasks) &&
             !(row->benchmark && in_list(row->benchmark, p->tasks, p->n_tasks))))
            continue;
        if (job_of_row(r, &cap, row))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory reading results");
    }
    free(rollup);
    for (size_t i = 0; i < r->n && !rc; i++)
        rc = read_job(p->dir, &r->jobs[i], p, err);
    if (rc)
        mill_results_free(r);
    return rc;
}
