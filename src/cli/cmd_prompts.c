/* cmd_prompts.c: `mill prompts TASKS [--seed N] [--limit N] [--task_paths P]`: loads the data
 * as `eval` does and prints one JSON object per doc, {"task", "doc_id", "context", "choices",
 * "target"}, so users can audit prompts byte for byte and diff them against Mill's. */
#include "cli/cli.h"

#include "eval/registry.h"
#include "eval/runner.h"

#include <limits.h>
#include <stdio.h>

int mill_cli_load_task_paths(struct mill_registry *reg, const char *paths);

static int run_prompts(const struct mill_args *a) {
    const char *tasks = mill_arg_pos(a, &mill_cmd_prompts, 0);
    if (!tasks)
        return mill_cli_error(MILL_EXIT_USAGE, "prompts needs TASKS (see mill prompts --help)");
    struct mill_run_params p = {0};
    p.cache_dir = mill_cli_cache_dir(a);
    mill_arg_int(a, "limit", -1, &p.limit);
    mill_arg_int(a, "seed", 42, &p.seed);
    mill_arg_int(a, "n_shot", -1, &p.n_shot);
    if (mill_arg(a, "limit") && p.limit < 0)
        return mill_cli_error(MILL_EXIT_USAGE, "--limit must be 0 or more");
    if ((mill_arg(a, "n_shot") && p.n_shot < 0) || p.n_shot > INT_MAX)
        return mill_cli_error(MILL_EXIT_USAGE, "--n_shot must be 0 or more (at most %d)", INT_MAX);
    struct mill_registry *reg = NULL;
    struct mill_err err = {0};
    if (mill_registry_init(&reg, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    int rc = mill_cli_load_task_paths(reg, mill_arg(a, "task_paths"));
    if (!rc) {
        int r = mill_write_prompts(reg, tasks, &p, stdout, &err);
        if (r)
            rc = mill_cli_error(r == MILL_EINVAL ? MILL_EXIT_USAGE : MILL_EXIT_FAIL, "%s", err.msg);
    }
    if (fflush(stdout) != 0 && !rc)
        rc = mill_cli_error(MILL_EXIT_FAIL, "cannot write to stdout");
    mill_registry_free(reg);
    return rc;
}

static const struct mill_opt prompts_opts[] = {
    {"task_paths", MILL_OPT_STR, "PATHS", "comma-separated plugin files or directories (*.so)"},
    {"seed", MILL_OPT_INT, "N", "seed for few-shot sampling and shuffles (42)"},
    {"n_shot", MILL_OPT_INT, "N", "override every task's few-shot count"},
};

static const char *const prompts_pos[] = {"tasks", NULL};

const struct mill_command mill_cmd_prompts = {
    .name = "prompts",
    .summary = "Print the exact prompts eval would give a model, one JSON object per doc.",
    .usage = "prompts TASKS [--seed N] [--limit N] [--task_paths PATHS]",
    .positionals = prompts_pos,
    .opts = prompts_opts,
    .n_opts = sizeof prompts_opts / sizeof prompts_opts[0],
    .run = run_prompts,
};
