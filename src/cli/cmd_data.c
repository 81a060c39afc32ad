/* cmd_data.c: `mill data files|head`: look at what a task will read before a long run.
 *   mill data files <repo> [--config C] [--split S] [--revision R]
 *   mill data head <repo-or-local-file> [--config C] [--split S] [-n N] [--columns a,b]
 * `head` prints rows as JSON Lines; binary columns appear as {"bytes_len", "sha256"}. */
#include "cli/cli.h"

#include "core/spec.h"
#include "data/dataset.h"
#include "data/hub.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A throwaway task config naming the dataset: a local file or glob pattern, or a Hub repo with
 * config. */
static int make_source(const struct mill_args *a, const char *src, const char *split,
                       struct mill_task_config *t, char **files_entry, char ***cols,
                       size_t *n_cols) {
    struct stat st;
    memset(t, 0, sizeof *t);
    t->name = src;
    bool here = stat(src, &st) == 0;
    if (!*src)
        return mill_cli_error(MILL_EXIT_USAGE, "data: the source is empty (a Hub repo, a file or a "
                                               "pattern)");
    if (here && S_ISDIR(st.st_mode))
        return mill_cli_error(MILL_EXIT_USAGE,
                              "data: %s is a directory: name its files with a pattern, e.g. "
                              "'%s/*.parquet'",
                              src, src);
    if (!here && !strpbrk(src, "*?[") && !mill_hub_repo_id_ok(src))
        return mill_cli_error(MILL_EXIT_FAIL, "data: %s: no such file (and no Hub repo id)", src);
    if (here || strpbrk(src, "*?[")) { /* a file (a FIFO too: its reader says what it is) */
        if (asprintf(files_entry, "%s=%s", split, src) < 0)
            return MILL_ENOMEM;
    } else {
        t->hf_repo = src;
    }
    t->hf_subset = mill_arg(a, "config");
    t->hf_revision = mill_arg(a, "revision");
    const char *c = mill_arg(a, "columns");
    struct mill_err err = {0};
    if (c && mill_spec_split(c, cols, n_cols, &err))
        return mill_cli_error(MILL_EXIT_USAGE, "--columns: %s", err.msg);
    if (c) {
        char **g = realloc(*cols, (*n_cols + 1) * sizeof *g);
        if (!g)
            return MILL_ENOMEM;
        g[*n_cols] = NULL;
        *cols = g;
        t->columns = (const char *const *)g;
    }
    return 0;
}

/* A column --columns names that the first row lacks: a typo would print empty rows. */
static int check_columns(const struct mill_value *row, const char *const *cols, const char *src,
                         struct mill_err *err) {
    for (; cols && *cols; cols++)
        if (!mill_value_get(row, *cols))
            return mill_err_set(err, MILL_ENOTFOUND, "%s: no column '%s' in the first row", src,
                                *cols);
    return 0;
}

static int print_head(struct mill_dataset *ds, int64_t n, const char *const *cols, const char *src,
                      struct mill_err *err) {
    struct mill_buf b = {0};
    struct mill_value row;
    int rc = 0;
    for (int64_t i = 0; i < n && (rc = mill_dataset_next(ds, &row, err)) == 1; i++) {
        if (!i && (rc = check_columns(&row, cols, src, err)) != 0) {
            mill_value_free(&row);
            break;
        }
        mill_buf_reset(&b);
        mill_value_to_json(&row, &b);
        mill_value_free(&row);
        if (b.p)
            printf("%s\n", b.p);
        rc = 0;
    }
    mill_buf_free(&b);
    return rc < 0 ? rc : 0;
}

static int run_data(const struct mill_args *a) {
    const char *action = mill_arg_pos(a, &mill_cmd_data, 0);
    const char *src = mill_arg_pos(a, &mill_cmd_data, 1);
    if (!action || !src || (strcmp(action, "files") && strcmp(action, "head")))
        return mill_cli_error(MILL_EXIT_USAGE, "usage: mill data files|head <repo-or-file> "
                                               "(see mill data --help)");
    const char *split = mill_arg(a, "split") ? mill_arg(a, "split") : "test";
    int64_t n;
    mill_arg_int(a, "n", 5, &n);
    if (n < 0)
        return mill_cli_error(MILL_EXIT_USAGE, "-n must be 0 or more");
    struct mill_task_config t;
    char *entry = NULL, **cols = NULL;
    size_t n_cols = 0;
    int rc = make_source(a, src, split, &t, &entry, &cols, &n_cols);
    const char *const files[] = {entry, NULL};
    if (entry)
        t.hf_data_files = files;
    struct mill_dataset *ds = NULL;
    struct mill_err err = {0};
    struct mill_dataset_params dp = {NULL, mill_cli_cache_dir(a)};
    if (!rc && mill_dataset_open(&t, split, &dp, &ds, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    for (size_t i = 0; !rc && !strcmp(action, "files") && i < mill_dataset_n_files(ds); i++)
        printf("%s\n", mill_dataset_file(ds, i));
    if (!rc && !strcmp(action, "head") && print_head(ds, n, t.columns, src, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    mill_dataset_free(ds);
    mill_strv_free(cols, n_cols);
    free(entry);
    return rc;
}

static const struct mill_opt data_opts[] = {
    {"config", MILL_OPT_STR, "C", "dataset config (subset)"},
    {"split", MILL_OPT_STR, "S", "split (default test)"},
    {"revision", MILL_OPT_STR, "R", "git revision on the Hub (default main)"},
    {"n", MILL_OPT_INT, "N", "rows to print with head (5)"},
    {"columns", MILL_OPT_STR, "a,b", "only these columns (Parquet reads nothing else)"},
};

static const char *const data_pos[] = {"action", "source", NULL};

const struct mill_command mill_cmd_data = {
    .name = "data",
    .summary = "Show the files a dataset resolves to, or its first rows as JSON Lines.",
    .usage = "data files|head <repo-or-file> [--config C] [--split S] [--revision R] [-n N] "
             "[--columns a,b]",
    .positionals = data_pos,
    .opts = data_opts,
    .n_opts = sizeof data_opts / sizeof data_opts[0],
    .run = run_data,
};
