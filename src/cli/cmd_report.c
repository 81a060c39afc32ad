/* cmd_report.c: `mill report [--out FILE] [--models M,...] [--tasks T,...] [--compare A,B]`:
 * one self-contained HTML page of an output directory's results (out/report.h), with Vega,
 * Vega-Lite and vega-embed inlined from the copies compiled into this binary (scripts/
 * embed.cmake), so the page opens offline. No results is an error (exit 1), never an empty page. */
#include "cli/cli.h"

#include "core/log.h"
#include "out/aggregate.h"
#include "out/compare.h"
#include "out/report.h"
#include "out/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scripts/embed.cmake's arrays (report_assets.c, generated into the build directory). */
extern const unsigned char mill_asset_vega[], mill_asset_vega_lite[], mill_asset_vega_embed[],
    mill_asset_report_html[];
extern const size_t mill_asset_vega_len, mill_asset_vega_lite_len, mill_asset_vega_embed_len,
    mill_asset_report_html_len;

int mill_cli_compare(const struct mill_args *a, const struct mill_aggregate_table *t,
                     const char *spec, char **tasks, size_t nt, struct mill_compare *c);

static bool in_list(const char *s, char **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* The rows of t that --models and --tasks (a task or its benchmark) keep; borrowed strings. */
static int filter_rows(const struct mill_aggregate_table *t, char **models, size_t nm, char **tasks,
                       size_t nt, struct mill_aggregate_table *sub) {
    mill_aggregate_table_init(sub);
    sub->rows = malloc((t->n ? t->n : 1) * sizeof *sub->rows);
    if (!sub->rows)
        return MILL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const struct mill_aggregate_row *r = &t->rows[i];
        if ((nm && !in_list(r->model, models, nm)) ||
            (nt && !in_list(r->task, tasks, nt) &&
             !(r->benchmark && in_list(r->benchmark, tasks, nt))))
            continue;
        sub->rows[sub->n] = *r;
        sub->rows[sub->n++].extra = NULL;
    }
    return 0;
}

/* With --compare, that comparison; else, with exactly two models, theirs when they share a
 * question. Returns an exit code; *have says whether c was filled. */
static int comparison(const struct mill_args *a, const struct mill_aggregate_table *sub,
                      const struct mill_results *r, char **tasks, size_t nt, struct mill_compare *c,
                      bool *have) {
    *have = false;
    const char *spec = mill_arg(a, "compare");
    if (spec) {
        int rc = mill_cli_compare(a, sub, spec, tasks, nt, c);
        *have = rc == 0;
        return rc;
    }
    const char *m[2] = {NULL, NULL};
    for (size_t i = 0; i < sub->n; i++) {
        const char *x = sub->rows[i].model;
        if (!m[0] || !strcmp(m[0], x))
            m[0] = x;
        else if (!m[1] || !strcmp(m[1], x))
            m[1] = x;
        else
            return 0; /* three or more models: compare only on request */
    }
    if (!m[1])
        return 0;
    if (strcmp(m[0], m[1]) > 0) {
        const char *s = m[0];
        m[0] = m[1];
        m[1] = s;
    }
    struct mill_err err = {0};
    if (mill_compare_build(r, m[0], m[1], NULL, c, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    *have = c->n > 0;
    if (!*have)
        MILL_WARN("report", "%s and %s answered no question in common: no comparison", m[0], m[1]);
    return 0;
}

static int build_page(const struct mill_args *a, const struct mill_aggregate_table *sub,
                      const struct mill_results *r, const struct mill_compare *c,
                      struct mill_buf *page) {
    char version[128], title[512];
    snprintf(version, sizeof version, "mill %s (git %s)", MILL_VERSION, mill_git_hash());
    const char *tt = mill_arg(a, "title");
    snprintf(title, sizeof title, "%s", tt ? tt : "Mill report");
    struct mill_buf data = {0}, sweep = {0};
    if (mill_report_sweep(sub, r, &sweep))
        return mill_cli_error(MILL_EXIT_FAIL, "report: out of memory");
    struct mill_report_input in = {
        .title = title, .version = version, .t = sub, .r = r, .compare = c, .sweep_json = sweep.p};
    struct mill_err err = {0};
    const struct mill_report_script scripts[] = {
        {"vega 6.4.0", (const char *)mill_asset_vega, mill_asset_vega_len},
        {"vega-lite 6.5.0", (const char *)mill_asset_vega_lite, mill_asset_vega_lite_len},
        {"vega-embed 7.3.0", (const char *)mill_asset_vega_embed, mill_asset_vega_embed_len},
    };
    int rc = 0;
    if (mill_report_data(&in, &data))
        rc = mill_cli_error(MILL_EXIT_FAIL, "report: out of memory");
    else if (mill_report_page((const char *)mill_asset_report_html, mill_asset_report_html_len,
                              scripts, 3, data.p, data.n, page, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    mill_buf_free(&data);
    mill_buf_free(&sweep);
    return rc;
}

/* Loads the answers, prints the warnings, builds and writes the page. */
static int report(const struct mill_args *a, const struct mill_aggregate_table *sub, char **tasks,
                  size_t nt) {
    struct mill_results r = {0};
    struct mill_results_params p = mill_results_default_params();
    struct mill_err err = {0};
    int64_t chars;
    if (!mill_arg_int(a, "prompt_chars", (int64_t)p.prompt_chars, &chars))
        return MILL_EXIT_USAGE;
    if (chars < 0)
        return mill_cli_error(MILL_EXIT_USAGE, "--prompt_chars must be >= 0");
    p.dir = mill_cli_output_dir(a);
    p.prompts = true;
    p.prompt_chars = (size_t)chars;
    p.logprobs = true;
    if (mill_results_load(&r, sub, &p, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    struct mill_buf warn = {0}, page = {0};
    mill_report_warnings(&r, &warn);
    for (char *s = warn.p, *e; s && *s; s = e + 1) {
        e = strchr(s, '\n');
        MILL_WARN("report", "%.*s", (int)(e - s), s);
    }
    struct mill_compare c = {0};
    bool have = false;
    int rc = comparison(a, sub, &r, tasks, nt, &c, &have);
    if (!rc)
        rc = build_page(a, sub, &r, have ? &c : NULL, &page);
    char path[4096];
    const char *out = mill_arg(a, "out");
    snprintf(path, sizeof path, "%s%s", out ? out : p.dir, out ? "" : "/report.html");
    if (!rc && mill_report_write(path, page.p, page.n, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    if (!rc) {
        MILL_INFO("report", "wrote %s (%zu bytes, %zu jobs)", path, page.n, r.n);
        printf("%s\n", path);
    }
    mill_buf_free(&warn);
    mill_buf_free(&page);
    mill_compare_free(&c);
    mill_results_free(&r);
    return rc;
}

static int run_report(const struct mill_args *a) {
    struct mill_cli_results r;
    int rc = mill_cli_results_open(a, &r);
    if (rc)
        return rc;
    struct mill_aggregate_table sub;
    mill_aggregate_table_init(&sub);
    if (r.t.n == 0)
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s: no results to report (run `mill eval` first)",
                            r.path);
    else if (filter_rows(&r.t, r.models, r.nm, r.tasks, r.nt, &sub))
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    else if (sub.n == 0)
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s: no results for the models and tasks asked for",
                            r.path);
    if (!rc)
        rc = report(a, &sub, r.tasks, r.nt);
    free(sub.rows);
    mill_cli_results_free(&r);
    return rc;
}

static const struct mill_opt report_opts[] = {
    {"out", MILL_OPT_STR, "FILE", "where the page goes (default OUTPUT_DIR/report.html)"},
    {"models", MILL_OPT_STR, "M,...", "only these models (default: all)"},
    {"tasks", MILL_OPT_STR, "T,...", "only these tasks or benchmarks (default: all)"},
    {"compare", MILL_OPT_STR, "A,B",
     "the paired comparison of B with A (default: the two models, when there are two)"},
    {"prompt_chars", MILL_OPT_INT, "N",
     "keep each prompt's last N bytes in the drill-down (default 1500; 0: all)"},
    {"title", MILL_OPT_STR, "TEXT", "the page's title (default \"Mill report\")"},
};

const struct mill_command mill_cmd_report = {
    .name = "report",
    .summary = "Write one self-contained HTML page of the results: tables, charts, answers.",
    .usage = "report [--out FILE] [--models M,...] [--tasks T,...] [--compare A,B] "
             "[--prompt_chars N] [--title TEXT]",
    .opts = report_opts,
    .n_opts = sizeof report_opts / sizeof report_opts[0],
    .run = run_report,
};
