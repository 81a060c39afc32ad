/* cmd_eval.c: `mill eval MODELS TASKS [--task_paths DIRS] [--seed N]`: loads plugins, checks
 * the output directory, runs the evaluation and prints Mill's score table on stdout. */
#include "cli/cli.h"

#include "backend/backends.h"
#include "eval/registry.h"
#include "eval/runner.h"
#include "core/log.h"
#include "core/spec.h"
#include "core/stop.h"

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p dir, then proves it writable by creating and removing a probe file. */
static int check_output_dir(const char *dir) {
    char *p = strdup(dir);
    if (!p)
        return MILL_ENOMEM;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            mill_cli_error(1, "cannot create output directory %s: %s", p, strerror(errno));
            free(p);
            return MILL_EIO;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.mill-write-test.%ld", dir, (long)getpid());
    FILE *f = fopen(probe, "w");
    if (!f) {
        mill_cli_error(1, "output directory %s is not writable: %s", dir, strerror(errno));
        return MILL_EIO;
    }
    fclose(f);
    unlink(probe);
    return 0;
}

/* Loads every comma-separated --task_paths entry into reg. */
int mill_cli_load_task_paths(struct mill_registry *reg, const char *paths) {
    if (!paths)
        return 0;
    char **items = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    if (mill_spec_split(paths, &items, &n, &err))
        return mill_cli_error(MILL_EXIT_USAGE, "--task_paths: %s", err.msg);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        size_t loaded = 0;
        if (mill_registry_load_path(reg, items[i], &loaded, &err))
            rc = mill_cli_error(MILL_EXIT_USAGE, "--task_paths: %s", err.msg);
        else if (!loaded)
            MILL_WARN("cli", "--task_paths: no plugin (*.so) loaded from %s", items[i]);
    }
    mill_strv_free(items, n);
    return rc;
}

static int run_eval(const struct mill_args *a) {
    const char *models = mill_arg_pos(a, &mill_cmd_eval, 0);
    const char *tasks = mill_arg_pos(a, &mill_cmd_eval, 1);
    if (!models || !tasks)
        return mill_cli_error(MILL_EXIT_USAGE, "eval needs MODELS and TASKS (see mill eval "
                                               "--help)");
    struct mill_run_params p = {0};
    p.output_dir = mill_cli_output_dir(a);
    p.cache_dir = mill_cli_cache_dir(a);
    mill_arg_int(a, "limit", -1, &p.limit);
    mill_arg_int(a, "seed", 42, &p.seed);
    int64_t batch;
    mill_arg_int(a, "batch_docs", 64, &batch);
    if (p.limit < -1 || (mill_arg(a, "limit") && p.limit < 0))
        return mill_cli_error(MILL_EXIT_USAGE, "--limit must be 0 or more");
    if (batch < 1)
        return mill_cli_error(MILL_EXIT_USAGE, "--batch_docs must be 1 or more");
    p.batch_docs = (size_t)batch;
    p.fail_fast = mill_arg_bool(a, "fail_fast", false);
    mill_arg_int(a, "n_shot", -1, &p.n_shot);
    if (p.n_shot < -1 || (mill_arg(a, "n_shot") && p.n_shot < 0) || p.n_shot > INT_MAX)
        return mill_cli_error(MILL_EXIT_USAGE, "--n_shot must be 0 or more (at most %d)", INT_MAX);
    struct mill_registry *reg = NULL;
    struct mill_err err = {0};
    if (mill_registry_init(&reg, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    int rc = mill_cli_load_task_paths(reg, mill_arg(a, "task_paths"));
    if (!rc && check_output_dir(p.output_dir))
        rc = MILL_EXIT_FAIL;
    struct mill_run_result res = {0};
    if (!rc) {
        mill_cli_catch_stop_signals("stopping after the current batch");
        int r = mill_run_eval(reg, models, tasks, &p, &res, &err);
        if (r == MILL_EINTR)
            rc = mill_cli_error(128 + mill_stop_signal(),
                                "%s; the samples written so far are kept: run the same command "
                                "again to resume",
                                err.msg);
        else if (r)
            rc = mill_cli_error(r == MILL_EINVAL ? MILL_EXIT_USAGE : MILL_EXIT_FAIL, "%s", err.msg);
        struct mill_buf out = {0};
        mill_run_format_table(&res, &out);
        if (out.p)
            fputs(out.p, stdout);
        mill_buf_free(&out);
        if (res.n_failed_samples)
            fprintf(stderr,
                    "mill: %zu samples failed (see the \"error\" field of their lines "
                    "in %s/outputs)\n",
                    res.n_failed_samples, p.output_dir);
    }
    mill_run_result_free(&res);
    mill_registry_free(reg);
    return rc;
}

static const struct mill_opt eval_opts[] = {
    {"task_paths", MILL_OPT_STR, "PATHS", "comma-separated plugin files or directories (*.so)"},
    {"seed", MILL_OPT_INT, "N", "seed for few-shot sampling, shuffles and fall-backs (42)"},
    {"batch_docs", MILL_OPT_INT, "N", "docs handed to the backend at once (64)"},
    {"fail_fast", MILL_OPT_BOOL, NULL, "stop a task at its first failed sample"},
    {"n_shot", MILL_OPT_INT, "N", "override every task's few-shot count (used by schedule)"},
};

static const char *const eval_pos[] = {"models", "tasks", NULL};

/* Every backend's arguments, from the tables the backends parse their specs with. */
static void print_backend_args(void) {
    printf("\nbackends and their arguments (name[key=value,...]):\n");
    for (size_t i = 0; mill_backends[i]; i++) {
        const struct mill_backend_ops *b = mill_backends[i];
        printf("\n  %s", b->name);
        for (const char *const *a = b->aliases; a && *a; a++)
            printf("%s%s", a == b->aliases ? " (also " : ", ", *a);
        printf("%s\n", b->aliases && *b->aliases ? ")" : "");
        struct mill_buf out = {0};
        mill_spec_args_help(b->args, &out);
        if (out.p)
            fputs(out.p, stdout);
        mill_buf_free(&out);
    }
}

const struct mill_command mill_cmd_eval = {
    .name = "eval",
    .summary = "Evaluate models on tasks and benchmarks; results go to the output directory.",
    .usage = "eval MODELS TASKS [--task_paths PATHS] [--seed N]\n\n"
             "  MODELS  comma-separated specs: name[key=value,...], e.g.\n"
             "          \"replay[file=responses.jsonl]\", or a Python Mill model config\n"
             "          file (configs/x.py exporting model = dict(...), read, not run)\n"
             "  TASKS   comma-separated task or benchmark names (see mill ls)",
    .positionals = eval_pos,
    .opts = eval_opts,
    .n_opts = sizeof eval_opts / sizeof eval_opts[0],
    .run = run_eval,
    .help_more = print_backend_args,
};
