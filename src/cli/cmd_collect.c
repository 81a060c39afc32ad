/* cmd_collect.c: `mill collect [--models M] [--tasks T] [--metric X] [--check] [--n_shots N]`:
 * reads aggregate.csv and prints Mill's results table and job check; with `--compare A,B` the
 * paired comparison of two models instead (out/compare.h). A corrupt file is an error (exit 1),
 * never a silently shorter table. */
#include "cli/cli.h"

#include "core/log.h"
#include "eval/registry.h"
#include "eval/runner.h"
#include "core/spec.h"
#include "out/aggregate.h"
#include "out/collect.h"
#include "out/compare.h"
#include "out/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mill_cli_load_task_paths(struct mill_registry *reg, const char *paths);

/* --n_shots as integers >= 0; exit 2 on anything else. */
static int parse_shots(const char *spec, int64_t **out, size_t *n_out) {
    char **shots = NULL;
    size_t ns = 0;
    struct mill_err err = {0};
    *out = NULL;
    *n_out = 0;
    if (!spec)
        return 0;
    if (mill_spec_split(spec, &shots, &ns, &err))
        return mill_cli_error(MILL_EXIT_USAGE, "--n_shots: %s", err.msg);
    int rc = (*out = calloc(ns ? ns : 1, sizeof **out)) ? 0 : MILL_EXIT_FAIL;
    for (size_t k = 0; !rc && k < ns; k++) {
        char *end = NULL;
        long long v = strtoll(shots[k], &end, 10);
        if (end == shots[k] || *end || v < 0)
            rc = mill_cli_error(MILL_EXIT_USAGE,
                                "--n_shots: '%s' is not a whole number of 0 or more", shots[k]);
        (*out)[k] = v;
    }
    mill_strv_free(shots, ns);
    if (rc) {
        free(*out);
        *out = NULL;
    } else {
        *n_out = ns;
    }
    return rc;
}

/* The jobs one name stands for, by task: a task itself; a benchmark that picks the variant its
 * model's backend serves, any one variant (listed under the benchmark's name); a benchmark of
 * one task, that task; else each task plus the rollup row (BEHAVIOUR.md §2.3). Returns the
 * count (at most nsub + 1) with names and default n_shots in name[] / def[]. */
static size_t name_jobs(const struct mill_registry *reg, const char *task,
                        const struct mill_benchmark_config *b, const char **name, int64_t *def,
                        const char *const **any_of) {
    size_t nsub = b ? mill_strv_len(b->task_names) : 0, n = 0;
    const struct mill_task_config *first = nsub ? mill_registry_task(reg, b->task_names[0]) : NULL;
    if (!b || (nsub > 1 && !b->pick_variant_by_model)) {
        for (size_t s = 0; s < nsub; s++) {
            const struct mill_task_config *tc = mill_registry_task(reg, b->task_names[s]);
            any_of[n] = NULL;
            def[n] = tc ? tc->n_shots : 0;
            name[n++] = b->task_names[s];
        }
        const struct mill_task_config *tc = b ? first : mill_registry_task(reg, task);
        any_of[n] = NULL;
        def[n] = tc ? tc->n_shots : 0;
        name[n++] = task;
        return n;
    }
    any_of[0] = b->pick_variant_by_model && nsub > 1 ? (const char *const *)b->task_names : NULL;
    name[0] = any_of[0] || !nsub ? task : b->task_names[0];
    def[0] = first ? first->n_shots : 0;
    return 1;
}

/* Expected jobs: models x names (name_jobs) x n_shots (shots[0..ns)); without --n_shots (ns 0)
 * each task's configured n_shots (Mill's default of 0 would report every 5-shot MMLU job
 * missing). */
static int expected_jobs(const struct mill_registry *reg, char **models, size_t nm, char **tasks,
                         size_t nt, const int64_t *shots, size_t ns, struct mill_collect_job **out,
                         size_t *n_out) {
    size_t n = 0;
    int rc = 0;
    struct mill_collect_job *jobs = NULL;
    for (size_t t = 0; !rc && t < nt; t++) {
        const struct mill_benchmark_config *b = mill_registry_benchmark(reg, tasks[t]);
        size_t nsub = b ? mill_strv_len(b->task_names) : 0;
        const char **name = calloc(nsub + 1, sizeof *name);
        int64_t *def = calloc(nsub + 1, sizeof *def);
        const char *const **any = calloc(nsub + 1, sizeof *any);
        size_t nj = name && def && any ? name_jobs(reg, tasks[t], b, name, def, any) : 0;
        size_t add = nj * nm * (ns ? ns : 1);
        struct mill_collect_job *g = add ? realloc(jobs, (n + add) * sizeof *g) : jobs;
        if (!name || !def || !any || !g)
            rc = MILL_EXIT_FAIL;
        else
            jobs = g;
        for (size_t s = 0; !rc && s < nj; s++)
            for (size_t m = 0; m < nm; m++)
                for (size_t k = 0; k < (ns ? ns : 1); k++)
                    jobs[n++] = (struct mill_collect_job){models[m], name[s],
                                                          ns ? shots[k] : def[s], any[s]};
        free(name);
        free(def);
        free(any);
    }
    *out = jobs;
    *n_out = n;
    return rc;
}

/* Names the models aggregate.csv has, for a message. */
static void list_models(const struct mill_aggregate_table *t, struct mill_buf *b) {
    for (size_t i = 0; i < t->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(t->rows[k].model, t->rows[i].model);
        if (!seen)
            mill_buf_addf(b, "%s%s", b->n ? ", " : "", t->rows[i].model);
    }
}

/* A job the comparison reads with a gap: unreadable lines skipped, a provenance file that is
 * missing or unreadable (then its lines are taken whatever their seed), or a run that did not
 * finish (only the docs it answered can pair). */
static void warn_job(const struct mill_result_job *j) {
    if (j->n_skipped)
        MILL_WARN("collect", "%s %s %lld-shot: %zu unreadable lines of its samples file skipped",
                  j->model, j->task, (long long)j->n_shot, j->n_skipped);
    if (j->old_note)
        MILL_WARN("collect", "%s %s %lld-shot: %s; its lines are compared whatever their seed",
                  j->model, j->task, (long long)j->n_shot, j->old_note);
    if (j->unfinished)
        MILL_WARN("collect",
                  "%s %s %lld-shot: its run did not finish (provenance says finished: false); "
                  "only the %zu docs it answered are compared",
                  j->model, j->task, (long long)j->n_shot, j->n);
}

/* `--compare A,B`: exit 2 unless two names are given, 1 when either has no results or the two
 * answered no question in common. */
int mill_cli_compare(const struct mill_args *a, const struct mill_aggregate_table *t,
                     const char *spec, char **tasks, size_t nt, struct mill_compare *c) {
    char **m = NULL;
    size_t nm = 0;
    struct mill_err err = {0};
    if (mill_spec_split(spec, &m, &nm, &err) || nm != 2 || !strcmp(m[0], m[1])) {
        mill_strv_free(m, nm);
        return mill_cli_error(MILL_EXIT_USAGE, "--compare takes two different models: A,B");
    }
    int rc = 0;
    for (size_t k = 0; k < 2 && !rc; k++) {
        bool found = false;
        for (size_t i = 0; i < t->n && !found; i++)
            found = !strcmp(t->rows[i].model, m[k]);
        struct mill_buf b = {0};
        list_models(t, &b);
        if (!found)
            rc = mill_cli_error(MILL_EXIT_FAIL,
                                "--compare: model '%s' has no results in %s/"
                                "aggregate.csv (models there: %s)",
                                m[k], mill_cli_output_dir(a), b.p ? b.p : "none");
        mill_buf_free(&b);
    }
    struct mill_results r = {0};
    struct mill_results_params p = mill_results_default_params();
    p.dir = mill_cli_output_dir(a);
    p.models = (const char *const *)m;
    p.n_models = 2;
    p.tasks = (const char *const *)tasks;
    p.n_tasks = nt;
    if (!rc && mill_results_load(&r, t, &p, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    for (size_t i = 0; !rc && i < r.n; i++) /* what the comparison could not use, said */
        warn_job(&r.jobs[i]);
    if (!rc && mill_compare_build(&r, m[0], m[1], mill_arg(a, "metric"), c, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    if (!rc && c->n == 0)
        rc = mill_cli_error(MILL_EXIT_FAIL,
                            "--compare: '%s' and '%s' answered no question in "
                            "common (no task, n_shot and metric with a doc both scored)",
                            m[0], m[1]);
    mill_results_free(&r);
    mill_strv_free(m, nm);
    return rc;
}

static int run_compare(const struct mill_args *a, const struct mill_aggregate_table *t,
                       char **tasks, size_t nt) {
    struct mill_compare c = {0};
    int rc = mill_cli_compare(a, t, mill_arg(a, "compare"), tasks, nt, &c);
    struct mill_buf out = {0};
    if (!rc && mill_compare_render(&c, &out))
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    if (!rc)
        fputs(out.p, stdout);
    mill_buf_free(&out);
    mill_compare_free(&c);
    return rc;
}

int mill_cli_results_open(const struct mill_args *a, struct mill_cli_results *r) {
    memset(r, 0, sizeof *r);
    mill_aggregate_table_init(&r->t);
    snprintf(r->path, sizeof r->path, "%s/aggregate.csv", mill_cli_output_dir(a));
    struct mill_err err = {0};
    if (mill_aggregate_read(&r->t, r->path, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    if (access(r->path, F_OK) != 0) /* read as an empty table: say where we looked */
        fprintf(stderr, "mill: no %s (is --output_dir right?)\n", r->path);
    const char *ms = mill_arg(a, "models"), *ts = mill_arg(a, "tasks");
    if ((ms && mill_spec_split(ms, &r->models, &r->nm, &err)) ||
        (ts && mill_spec_split(ts, &r->tasks, &r->nt, &err))) {
        mill_cli_results_free(r);
        return mill_cli_error(MILL_EXIT_USAGE, "%s", err.msg);
    }
    return 0;
}

void mill_cli_results_free(struct mill_cli_results *r) {
    mill_strv_free(r->models, r->nm);
    mill_strv_free(r->tasks, r->nt);
    mill_aggregate_table_free(&r->t);
    r->models = r->tasks = NULL;
    r->nm = r->nt = 0;
}

static int run_collect(const struct mill_args *a) {
    struct mill_cli_results r;
    int rc = mill_cli_results_open(a, &r);
    if (rc)
        return rc;
    if (mill_arg(a, "compare")) {
        rc = run_compare(a, &r.t, r.tasks, r.nt);
        mill_cli_results_free(&r);
        return rc;
    }
    struct mill_err err = {0};
    struct mill_collect_params p = mill_collect_default_params();
    p.models = (const char *const *)r.models;
    p.n_models = r.nm;
    p.tasks = (const char *const *)r.tasks;
    p.n_tasks = r.nt;
    p.metric = mill_arg(a, "metric");
    p.check = mill_arg_bool(a, "check", true);
    struct mill_registry *reg = NULL;
    struct mill_collect_job *jobs = NULL;
    int64_t *shots = NULL;
    size_t ns = 0;
    rc = parse_shots(mill_arg(a, "n_shots"), &shots, &ns); /* checked even when unused */
    if (!rc && p.check && r.nm && r.nt) {
        if (mill_registry_init(&reg, &err))
            rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
        if (!rc)
            rc = mill_cli_load_task_paths(reg, mill_arg(a, "task_paths"));
        if (!rc)
            rc = expected_jobs(reg, r.models, r.nm, r.tasks, r.nt, shots, ns, &jobs, &p.n_expected);
        p.expected = jobs;
    }
    struct mill_buf out = {0};
    if (!rc && mill_collect_render(&r.t, &p, &out, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    if (!rc && out.p)
        fputs(out.p, stdout);
    mill_buf_free(&out);
    free(jobs);
    free(shots);
    mill_registry_free(reg);
    mill_cli_results_free(&r);
    return rc;
}

static const struct mill_opt collect_opts[] = {
    {"models", MILL_OPT_STR, "M,...", "only these models (default: all)"},
    {"tasks", MILL_OPT_STR, "T,...", "only these tasks (default: all)"},
    {"metric", MILL_OPT_STR, "METRIC", "only this metric (default: every metric)"},
    {"check", MILL_OPT_BOOL, NULL, "report completed and missing jobs (default on; --nocheck)"},
    {"n_shots", MILL_OPT_STR, "N,...", "n-shot values the check expects (default: the task's)"},
    {"task_paths", MILL_OPT_STR, "PATHS", "plugins whose benchmarks the check expands"},
    {"compare", MILL_OPT_STR, "A,B",
     "paired comparison of model B with A instead of the table (bootstrap CI, McNemar p)"},
};

const struct mill_command mill_cmd_collect = {
    .name = "collect",
    .summary = "Display aggregated performance and check for missing jobs.",
    .usage = "collect [--models M,...] [--tasks T,...] [--metric METRIC] [--check] "
             "[--n_shots N,...] [--compare A,B]",
    .opts = collect_opts,
    .n_opts = sizeof collect_opts / sizeof collect_opts[0],
    .run = run_collect,
};
