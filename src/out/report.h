/* report.h: `mill report`'s one self-contained HTML page (BEHAVIOUR.md §1.8b): the data (the
 * collect table's rows, every question with each model's answer, the jobs' provenance, the
 * paired comparison) as one compact JSON document, and the page: a template with the charting
 * libraries and that document inlined, so it opens offline.
 *
 * Renders into the caller's buffer and writes the file atomically; never prints or exits. The
 * template and the libraries are the caller's (the CLI embeds them), so libmill carries none. */
#ifndef MILL_OUT_REPORT_H
#define MILL_OUT_REPORT_H

#include <mill/buf.h>
#include <mill/mill.h>

#include "out/aggregate.h"
#include "out/compare.h"
#include "out/results.h"

/* What the data document holds; all borrowed for the call. */
struct mill_report_input {
    const char *title;                    /* the page's title */
    const char *version;                  /* "mill 0.1.0 (git abc)" */
    const struct mill_aggregate_table *t; /* the rows to show (already filtered) */
    const struct mill_results *r;         /* the jobs (same filters) */
    const struct mill_compare *compare;   /* NULL: no comparison section */
    const char *sweep_json;               /* a JSON value for the quantisation section; NULL */
};

/* The data document into out (appended): {"title","version","warnings":[...],"models":[...],
 * "agg":[[model,benchmark,task,n_shot,metric,performance,stderr,rollup],...],
 * "tasks":[[task,n_shot,metric,benchmark],...], "groups":[...],
 * "q":{"t":[task index],"d":[doc_id],"g":[group index or -1],"gold":[...],"p":[prompt|null]},
 * "ans":[{"pred":[...],"ok":[value|null]} per model, aligned with q], "prov":[...],
 * "compare":{...}|null, "sweep":...|null}. Questions are the (task, n_shot, doc_id) any model
 * answered, in that order; "ok" is the value of the task's first metric. NaN is null.
 * Returns 0 or MILL_ENOMEM. */
int mill_report_data(const struct mill_report_input *in, struct mill_buf *out);

/* The quantisation sweep of r as a JSON value into out: models named "<base>:<quant>" (as a
 * sweep names them, BEHAVIOUR.md §1.2) whose base two or more share form a group; its
 * reference is the highest-precision member (F32 > BF16/F16 > Q8 > ... by the tag's bits, then
 * the larger file). One row per member and job (and per benchmark with a rollup row):
 * {"model","base","quant","ref","bytes" (the provenance's model_file's size, -1 when unknown),
 * "task","n_shot","metric","score" (aggregate.csv's), "agree" (share of the docs both answered
 * with per-choice log-likelihoods whose argmax equals the reference's), "kl" (mean KL(reference
 * || member) of the softmax of those log-likelihoods), "n" (those docs), "top" (a rollup, or a
 * task of no rolled-up benchmark)}; agree and kl null when n == 0. "null" when there is no
 * group. Returns 0 or MILL_ENOMEM. */
int mill_report_sweep(const struct mill_aggregate_table *t, const struct mill_results *r,
                      struct mill_buf *out);

/* The warnings the page and the CLI show for r: per model, the jobs written by an older mill
 * (and why), the jobs whose provenance says finished: false, and the unreadable lines
 * skipped. Appends "\n"-terminated lines to out. */
int mill_report_warnings(const struct mill_results *r, struct mill_buf *out);

/* A script to inline, borrowed. */
struct mill_report_script {
    const char *name; /* for the comment before it */
    const char *js;
    size_t len;
};

/* The page: template (which must hold "<!--MILL_SCRIPTS-->" and "<!--MILL_DATA-->" once each)
 * with the scripts inlined in order at the first and the data document at the second (inside
 * <script type="application/json" id="mill-data">, every '<' written as \u003c).
 * Returns 0, MILL_EINVAL (a marker missing, or a script holding "</script"), MILL_ENOMEM. */
int mill_report_page(const char *template_html, size_t template_len,
                     const struct mill_report_script *scripts, size_t n_scripts,
                     const char *data_json, size_t data_len, struct mill_buf *out,
                     struct mill_err *err);

/* Writes data[0..n) to path atomically (temporary file, fsync, rename). MILL_EIO names it. */
int mill_report_write(const char *path, const char *data, size_t n, struct mill_err *err);

#endif
