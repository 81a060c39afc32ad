/* report.c: `mill report`'s data document and page (report.h). Questions are gathered from every
 * loaded job, sorted and shared between models, so the page carries each gold answer and prompt
 * once and one column of answers per model. Must not print or exit. */
#include "out/report.h"

#include "core/array.h"

#include <mill/value.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void add_str(struct mill_buf *b, const char *s) {
    if (s)
        mill_buf_add_json_str(b, s, strlen(s));
    else
        mill_buf_adds(b, "null");
}

static void add_num(struct mill_buf *b, double x) {
    if (isnan(x) || isinf(x))
        mill_buf_adds(b, "null");
    else
        mill_buf_add_pyfloat(b, x);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted unique models of t (borrowed strings); *n of them. */
static const char **models_of(const struct mill_aggregate_table *t, size_t *n) {
    const char **m = malloc((t->n ? t->n : 1) * sizeof *m);
    if (!m)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        m[i] = t->rows[i].model;
    qsort(m, t->n, sizeof *m, cmp_str);
    *n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (*n == 0 || strcmp(m[i], m[*n - 1]))
            m[(*n)++] = m[i];
    return m;
}

int mill_report_warnings(const struct mill_results *r, struct mill_buf *out) {
    for (size_t i = 0; i < r->n; i++) {
        const struct mill_result_job *j = &r->jobs[i];
        bool first = true; /* report each (model, note) once, with its count */
        size_t count = 0;
        for (size_t k = 0; k < r->n; k++) {
            const struct mill_result_job *o = &r->jobs[k];
            if (j->old_note && o->old_note && !strcmp(o->model, j->model) &&
                !strcmp(o->old_note, j->old_note)) {
                first = first && k >= i;
                count++;
            }
        }
        if (j->old_note && first &&
            mill_buf_addf(out, "%s: %zu job(s) (first %s, %lld-shot): %s\n", j->model, count,
                          j->task, (long long)j->n_shot, j->old_note) < 0)
            return MILL_ENOMEM;
        if (j->unfinished &&
            mill_buf_addf(out,
                          "%s: %s %lld-shot: its run did not finish; only the %zu doc(s) it "
                          "answered are shown\n",
                          j->model, j->task, (long long)j->n_shot, j->n) < 0)
            return MILL_ENOMEM;
        if (j->n_skipped &&
            mill_buf_addf(out, "%s: %s %lld-shot: %zu unreadable line(s) skipped\n", j->model,
                          j->task, (long long)j->n_shot, j->n_skipped) < 0)
            return MILL_ENOMEM;
    }
    return 0;
}

/* One question: (task, n_shot, doc_id) and the job and sample it was first seen in. */
struct question {
    const struct mill_result_job *job;
    const struct mill_result_sample *s;
};

static int cmp_question(const void *x, const void *y) {
    const struct question *a = x, *b = y;
    int c = strcmp(a->job->task, b->job->task);
    if (!c)
        c = a->job->n_shot < b->job->n_shot ? -1 : a->job->n_shot > b->job->n_shot;
    if (!c)
        c = a->s->doc_id < b->s->doc_id ? -1 : a->s->doc_id > b->s->doc_id;
    if (!c) /* the same question in two jobs: the earlier job first, for a stable choice */
        c = a->job < b->job ? -1 : a->job > b->job;
    return c;
}

static bool same_question(const struct question *a, const struct question *b) {
    return !strcmp(a->job->task, b->job->task) && a->job->n_shot == b->job->n_shot &&
           a->s->doc_id == b->s->doc_id;
}

static bool same_task(const struct question *a, const struct question *b) {
    return !strcmp(a->job->task, b->job->task) && a->job->n_shot == b->job->n_shot;
}

/* Every answered question once, sorted. */
static struct question *questions(const struct mill_results *r, size_t *n) {
    size_t total = 0, k = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->jobs[i].n;
    struct question *q = malloc((total ? total : 1) * sizeof *q);
    if (!q)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        for (size_t s = 0; s < r->jobs[i].n; s++)
            q[k++] = (struct question){&r->jobs[i], &r->jobs[i].s[s]};
    qsort(q, total, sizeof *q, cmp_question);
    *n = 0;
    for (size_t i = 0; i < total; i++)
        if (*n == 0 || !same_question(&q[*n - 1], &q[i]))
            q[(*n)++] = q[i];
    return q;
}

/* The distinct groups (subjects, categories) of the questions, sorted; group index per q. */
static const char **groups(const struct question *q, size_t n, size_t *ng) {
    const char **g = malloc((n ? n : 1) * sizeof *g);
    if (!g)
        return NULL;
    *ng = 0;
    for (size_t i = 0; i < n; i++)
        if (q[i].s->group)
            g[(*ng)++] = q[i].s->group;
    qsort(g, *ng, sizeof *g, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < *ng; i++)
        if (u == 0 || strcmp(g[i], g[u - 1]))
            g[u++] = g[i];
    *ng = u;
    return g;
}

static const struct mill_result_job *find_job(const struct mill_results *r, const char *model,
                                              const char *task, int64_t n_shot) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->jobs[i].model, model) && !strcmp(r->jobs[i].task, task) &&
            r->jobs[i].n_shot == n_shot)
            return &r->jobs[i];
    return NULL;
}

static int add_agg(struct mill_buf *b, const struct mill_aggregate_table *t) {
    bool *rollup = mill_results_rollups(t);
    if (!rollup)
        return MILL_ENOMEM;
    mill_buf_adds(b, ",\"agg\":[");
    for (size_t i = 0; i < t->n; i++) {
        const struct mill_aggregate_row *w = &t->rows[i];
        mill_buf_adds(b, i ? ",[" : "[");
        add_str(b, w->model);
        mill_buf_addc(b, ',');
        add_str(b, w->benchmark ? w->benchmark : "");
        mill_buf_addc(b, ',');
        add_str(b, w->task);
        mill_buf_addf(b, ",%lld,", (long long)w->n_shot);
        add_str(b, w->metric);
        mill_buf_addc(b, ',');
        add_num(b, w->performance);
        mill_buf_addc(b, ',');
        add_num(b, w->std_err);
        mill_buf_adds(b, rollup[i] ? ",true]" : ",false]");
    }
    free(rollup);
    return mill_buf_addc(b, ']');
}

/* "tasks" (one per run of questions of one task and n_shot) and the question columns. */
static void add_questions(struct mill_buf *b, const struct question *q, size_t n, const char **g,
                          size_t ng) {
    mill_buf_adds(b, ",\"tasks\":[");
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i && same_task(&q[i - 1], &q[i]))
            continue;
        mill_buf_adds(b, k++ ? ",[" : "[");
        add_str(b, q[i].job->task);
        mill_buf_addf(b, ",%lld,", (long long)q[i].job->n_shot);
        add_str(b, q[i].job->n_metrics ? q[i].job->metrics[0] : NULL);
        mill_buf_addc(b, ',');
        add_str(b, q[i].job->benchmark);
        mill_buf_addc(b, ']');
    }
    mill_buf_adds(b, "],\"groups\":[");
    for (size_t i = 0; i < ng; i++) {
        if (i)
            mill_buf_addc(b, ',');
        add_str(b, g[i]);
    }
    mill_buf_adds(b, "],\"q\":{\"t\":[");
    for (size_t i = 0, k = 0; i < n; i++) {
        k += i && !same_task(&q[i - 1], &q[i]);
        mill_buf_addf(b, i ? ",%zu" : "%zu", k);
    }
    mill_buf_adds(b, "],\"d\":[");
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(b, i ? ",%lld" : "%lld", (long long)q[i].s->doc_id);
    mill_buf_adds(b, "],\"g\":[");
    for (size_t i = 0; i < n; i++) {
        const char **f = q[i].s->group ? bsearch(&q[i].s->group, g, ng, sizeof *g, cmp_str) : NULL;
        mill_buf_addf(b, i ? ",%lld" : "%lld", f ? (long long)(f - g) : -1LL);
    }
    mill_buf_adds(b, "],\"gold\":[");
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(b, i ? ",%s" : "%s", q[i].s->gold);
    mill_buf_adds(b, "],\"p\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            mill_buf_addc(b, ',');
        add_str(b, q[i].s->prompt);
    }
    mill_buf_adds(b, "]}");
}

/* Each model's answers, aligned with the questions. */
static void add_answers(struct mill_buf *b, const struct mill_results *r, const struct question *q,
                        size_t n, const char **models, size_t nm) {
    mill_buf_adds(b, ",\"ans\":[");
    for (size_t m = 0; m < nm; m++) {
        struct mill_buf ok = {0};
        mill_buf_adds(b, m ? ",{\"pred\":[" : "{\"pred\":[");
        const struct mill_result_job *j = NULL;
        int metric = -1;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || !same_task(&q[i - 1], &q[i])) {
                j = find_job(r, models[m], q[i].job->task, q[i].job->n_shot);
                metric =
                    j && q[i].job->n_metrics ? mill_result_metric(j, q[i].job->metrics[0]) : -1;
            }
            const struct mill_result_sample *s = j ? mill_result_find(j, q[i].s->doc_id) : NULL;
            if (i) {
                mill_buf_addc(b, ',');
                mill_buf_addc(&ok, ',');
            }
            mill_buf_adds(b, s ? s->prediction : "null");
            if (s && metric >= 0)
                add_num(&ok, s->values[metric]);
            else
                mill_buf_adds(&ok, "null");
        }
        mill_buf_adds(b, "],\"ok\":[");
        if (ok.p)
            mill_buf_add(b, ok.p, ok.n);
        mill_buf_adds(b, "]}");
        mill_buf_free(&ok);
    }
    mill_buf_addc(b, ']');
}

static void add_provenance(struct mill_buf *b, const struct mill_results *r) {
    mill_buf_adds(b, ",\"prov\":[");
    for (size_t i = 0; i < r->n; i++) {
        const struct mill_result_job *j = &r->jobs[i];
        mill_buf_adds(b, i ? ",{\"model\":" : "{\"model\":");
        add_str(b, j->model);
        mill_buf_adds(b, ",\"task\":");
        add_str(b, j->task);
        mill_buf_addf(b, ",\"n_shot\":%lld,\"n\":%zu,\"old\":", (long long)j->n_shot, j->n);
        add_str(b, j->old_note);
        mill_buf_adds(b, ",\"doc\":");
        mill_buf_adds(b, j->provenance ? j->provenance : "null");
        mill_buf_addc(b, '}');
    }
    mill_buf_addc(b, ']');
}

int mill_report_data(const struct mill_report_input *in, struct mill_buf *b) {
    size_t nm = 0, nq = 0, ng = 0;
    const char **models = models_of(in->t, &nm);
    struct question *q = models ? questions(in->r, &nq) : NULL;
    const char **g = q ? groups(q, nq, &ng) : NULL;
    struct mill_buf warn = {0};
    int rc = g && !mill_report_warnings(in->r, &warn) ? 0 : MILL_ENOMEM;
    if (!rc) {
        mill_buf_adds(b, "{\"title\":");
        add_str(b, in->title);
        mill_buf_adds(b, ",\"version\":");
        add_str(b, in->version);
        mill_buf_adds(b, ",\"warnings\":[");
        for (char *s = warn.p, *e; s && *s; s = e + 1) {
            e = strchr(s, '\n');
            mill_buf_adds(b, s == warn.p ? "" : ",");
            mill_buf_add_json_str(b, s, (size_t)(e - s));
        }
        mill_buf_adds(b, "],\"models\":[");
        for (size_t m = 0; m < nm; m++) {
            if (m)
                mill_buf_addc(b, ',');
            add_str(b, models[m]);
        }
        mill_buf_addc(b, ']');
        int arc = add_agg(b, in->t);
        add_questions(b, q, nq, g, ng);
        add_answers(b, in->r, q, nq, models, nm);
        add_provenance(b, in->r);
        mill_buf_adds(b, ",\"compare\":");
        if (in->compare)
            mill_compare_json(in->compare, b);
        else
            mill_buf_adds(b, "null");
        mill_buf_adds(b, ",\"sweep\":");
        rc = arc || mill_buf_adds(b, in->sweep_json ? in->sweep_json : "null") < 0 ||
                     mill_buf_addc(b, '}') < 0
                 ? MILL_ENOMEM
                 : 0;
    }
    mill_buf_free(&warn);
    free(g);
    free(q);
    free(models);
    return rc;
}

/* Appends json with every '<' as \u003c: the page's parser then never sees "</script" or
 * "<!--" in it ('<' only occurs inside JSON strings, where the escape means the same). */
static int add_escaped(struct mill_buf *b, const char *json, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (json[i] != '<')
            continue;
        if (mill_buf_add(b, json + start, i - start) < 0 || mill_buf_adds(b, "\\u003c") < 0)
            return MILL_ENOMEM;
        start = i + 1;
    }
    return mill_buf_add(b, json + start, n - start) < 0 ? MILL_ENOMEM : 0;
}

static bool holds_script_end(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == '<' && ((n - i >= 8 && !strncasecmp(s + i, "</script", 8)) ||
                            (n - i >= 4 && !strncmp(s + i, "<!--", 4))))
            return true;
    return false;
}

int mill_report_page(const char *tpl, size_t tlen, const struct mill_report_script *scripts,
                     size_t n_scripts, const char *data, size_t dlen, struct mill_buf *out,
                     struct mill_err *err) {
    static const char m_scripts[] = "<!--MILL_SCRIPTS-->", m_data[] = "<!--MILL_DATA-->";
    const char *ps = memmem(tpl, tlen, m_scripts, sizeof m_scripts - 1);
    const char *pd = memmem(tpl, tlen, m_data, sizeof m_data - 1);
    if (!ps || !pd || pd < ps)
        return mill_err_set(err, MILL_EINVAL, "report: the page template lacks %s or %s", m_scripts,
                            m_data);
    int rc = mill_buf_add(out, tpl, (size_t)(ps - tpl));
    for (size_t i = 0; i < n_scripts && !rc; i++) {
        if (holds_script_end(scripts[i].js, scripts[i].len))
            return mill_err_set(err, MILL_EINVAL, "report: %s holds </script or <!--",
                                scripts[i].name);
        rc = mill_buf_addf(out, "<script>/* %s */\n", scripts[i].name) ||
             mill_buf_add(out, scripts[i].js, scripts[i].len) ||
             mill_buf_adds(out, "\n</script>\n");
    }
    const char *after = ps + sizeof m_scripts - 1;
    if (!rc)
        rc = mill_buf_add(out, after, (size_t)(pd - after)) ||
             mill_buf_adds(out, "<script type=\"application/json\" id=\"mill-data\">") ||
             add_escaped(out, data, dlen) || mill_buf_adds(out, "</script>");
    after = pd + sizeof m_data - 1;
    if (!rc)
        rc = mill_buf_add(out, after, (size_t)(tpl + tlen - after));
    return rc ? mill_err_set(err, MILL_ENOMEM, "report: out of memory") : 0;
}

int mill_report_write(const char *path, const char *data, size_t n, struct mill_err *err) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        bool ok = fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0)
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- the quantisation sweep ------------------------------------------------------------- */

/* One member of a sweep: the model "<base>:<quant>". */
struct member {
    const char *model;
    size_t base_len; /* bytes of model before ':' */
    const char *quant;
    int bits; /* precision from the tag: 32, 16, 8, ..., 1 */
    int64_t bytes;
};

/* The precision a GGUF quantisation tag names (F32, BF16, Q8_0, Q4_K_M, IQ2_XXS, TQ1_0,
 * MXFP4), 0 for a tag that names none: then the name's ':' is no sweep's (Ollama's
 * llama3.1:8b). */
static int quant_bits(const char *q) {
    if (!strcasecmp(q, "F32") || !strcasecmp(q, "FP32"))
        return 32;
    if (!strcasecmp(q, "F16") || !strcasecmp(q, "BF16") || !strcasecmp(q, "FP16"))
        return 16;
    if (!strncasecmp(q, "MXFP4", 5))
        return 4;
    const char *d = q + (strchr("IiTt", q[0]) && q[0] ? 1 : 0);
    if (toupper((unsigned char)d[0]) == 'Q' && isdigit((unsigned char)d[1]) &&
        (!d[2] || d[2] == '_'))
        return d[1] - '0';
    return 0;
}

/* The size of the file the job's provenance names as model_file; -1 when unknown. */
static int64_t model_bytes(const struct mill_result_job *j) {
    struct mill_value v;
    struct mill_err e = {0};
    int64_t n = -1;
    if (!j->provenance || mill_value_from_json(&v, j->provenance, strlen(j->provenance), &e))
        return -1;
    const struct mill_value *f = mill_value_get(&v, "model_file");
    struct stat st;
    if (f && f->kind == MILL_V_STR && stat(f->u.s.p, &st) == 0)
        n = (int64_t)st.st_size;
    mill_value_free(&v);
    return n;
}

static bool same_base(const struct member *a, const struct member *b) {
    return a->base_len == b->base_len && !strncmp(a->model, b->model, a->base_len);
}

/* First-maximum argmax and log-softmax normaliser of x[0..n). */
static size_t argmax_lse(const double *x, size_t n, double *lse) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - x[best]);
    *lse = x[best] + log(s);
    return best;
}

/* Adds job j's agreement and KL against the reference job jr to the sums. */
static void agree_kl(const struct mill_result_job *j, const struct mill_result_job *jr,
                     double *agree, double *kl, size_t *n) {
    for (size_t i = 0; jr && i < j->n; i++) {
        const struct mill_result_sample *a = &j->s[i], *r = mill_result_find(jr, a->doc_id);
        if (!r || !a->logprobs || !r->logprobs || a->n_choices != r->n_choices)
            continue;
        double la, lr, d = 0;
        size_t ia = argmax_lse(a->logprobs, a->n_choices, &la);
        size_t ir = argmax_lse(r->logprobs, r->n_choices, &lr);
        for (size_t c = 0; c < r->n_choices; c++) {
            double lp = r->logprobs[c] - lr, lq = a->logprobs[c] - la;
            d += exp(lp) * (lp - lq);
        }
        *agree += ia == ir;
        *kl += d;
        (*n)++;
    }
}

static double agg_perf(const struct mill_aggregate_table *t, const char *model, const char *task,
                       int64_t n_shot, const char *metric) {
    for (size_t i = 0; i < t->n; i++) {
        const struct mill_aggregate_row *w = &t->rows[i];
        if (!strcmp(w->model, model) && !strcmp(w->task, task) && w->n_shot == n_shot &&
            !strcmp(w->metric, metric))
            return w->performance;
    }
    return NAN;
}

static bool has_rollup(const struct mill_aggregate_table *t, const bool *rollup, const char *model,
                       const char *bench) {
    for (size_t i = 0; i < t->n; i++)
        if (rollup[i] && !strcmp(t->rows[i].model, model) && !strcmp(t->rows[i].task, bench))
            return true;
    return false;
}

static void sweep_row(struct mill_buf *b, const struct member *m, const struct member *ref,
                      const char *task, int64_t n_shot, const char *metric, double score,
                      double agree, double kl, size_t n, bool top) {
    mill_buf_adds(b, b->p && b->p[b->n - 1] == '}' ? ",{\"model\":" : "{\"model\":");
    add_str(b, m->model);
    mill_buf_adds(b, ",\"base\":");
    mill_buf_add_json_str(b, m->model, m->base_len);
    mill_buf_adds(b, ",\"quant\":");
    add_str(b, m->quant);
    mill_buf_adds(b, ",\"ref\":");
    add_str(b, ref->model);
    mill_buf_addf(b, ",\"bytes\":%lld,\"task\":", (long long)m->bytes);
    add_str(b, task);
    mill_buf_addf(b, ",\"n_shot\":%lld,\"metric\":", (long long)n_shot);
    add_str(b, metric);
    mill_buf_adds(b, ",\"score\":");
    add_num(b, score);
    mill_buf_adds(b, ",\"agree\":");
    add_num(b, n ? agree / (double)n : NAN);
    mill_buf_adds(b, ",\"kl\":");
    add_num(b, n ? kl / (double)n : NAN);
    mill_buf_addf(b, ",\"n\":%zu,\"top\":%s}", n, top ? "true" : "false");
}

/* The rows of member m against ref: one per job, one per rolled-up benchmark. */
static void member_rows(const struct mill_aggregate_table *t, const bool *rollup,
                        const struct mill_results *r, const struct member *m,
                        const struct member *ref, struct mill_buf *b) {
    for (size_t i = 0; i < r->n; i++) {
        const struct mill_result_job *j = &r->jobs[i];
        if (strcmp(j->model, m->model) || !j->n_metrics)
            continue;
        double agree = 0, kl = 0;
        size_t n = 0;
        agree_kl(j, find_job(r, ref->model, j->task, j->n_shot), &agree, &kl, &n);
        sweep_row(b, m, ref, j->task, j->n_shot, j->metrics[0],
                  agg_perf(t, m->model, j->task, j->n_shot, j->metrics[0]), agree, kl, n,
                  !j->benchmark[0] || !has_rollup(t, rollup, m->model, j->benchmark));
    }
    for (size_t k = 0; k < t->n; k++) {
        const struct mill_aggregate_row *w = &t->rows[k];
        if (strcmp(w->model, m->model) || !rollup[k])
            continue;
        double agree = 0, kl = 0;
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
            const struct mill_result_job *j = &r->jobs[i];
            if (!strcmp(j->model, m->model) && !strcmp(j->benchmark, w->task) &&
                j->n_shot == w->n_shot) /* this rollup's n_shot alone */
                agree_kl(j, find_job(r, ref->model, j->task, j->n_shot), &agree, &kl, &n);
        }
        sweep_row(b, m, ref, w->task, w->n_shot, w->metric, w->performance, agree, kl, n, true);
    }
}

int mill_report_sweep(const struct mill_aggregate_table *t, const struct mill_results *r,
                      struct mill_buf *out) {
    struct member *m = calloc(r->n ? r->n : 1, sizeof *m);
    bool *rollup = m ? mill_results_rollups(t) : NULL; /* once for every member's rows */
    size_t nm = 0;
    if (!rollup) {
        free(m);
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < r->n; i++) { /* distinct "<base>:<quant>" models */
        const char *model = r->jobs[i].model, *colon = strrchr(model, ':');
        bool seen = false;
        for (size_t k = 0; k < nm && !seen; k++)
            seen = !strcmp(m[k].model, model);
        if (seen || !colon || colon == model || !quant_bits(colon + 1))
            continue;
        int64_t bytes = model_bytes(&r->jobs[i]);
        m[nm++] = (struct member){model, (size_t)(colon - model), colon + 1, quant_bits(colon + 1),
                                  bytes};
    }
    size_t start = out->n;
    mill_buf_adds(out, "{\"rows\":[");
    size_t mark = out->n;
    for (size_t i = 0; i < nm; i++) {
        const struct member *ref = NULL;
        size_t count = 0;
        for (size_t k = 0; k < nm; k++) {
            if (!same_base(&m[i], &m[k]))
                continue;
            count++;
            if (!ref || m[k].bits > ref->bits ||
                (m[k].bits == ref->bits && m[k].bytes > ref->bytes))
                ref = &m[k];
        }
        if (count >= 2)
            member_rows(t, rollup, r, &m[i], ref, out);
    }
    bool any = out->n > mark;
    if (!any) { /* no group: the value is null */
        out->n = start;
        if (out->p)
            out->p[start] = 0;
    }
    free(m);
    free(rollup);
    int rc = any ? mill_buf_adds(out, "]}") : mill_buf_adds(out, "null");
    return rc < 0 ? MILL_ENOMEM : 0;
}
