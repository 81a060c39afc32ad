/* cmd_ls.c: `mill ls`: the benchmarks and tasks Mill knows. The interactive browser on a TTY,
 * aligned text off one or with `--plain`, JSON with `--json`; `--check` runs the registry
 * self-check. */
#include "cli/cli.h"

#include "cli/ls_tui.h"
#include "eval/registry.h"

#include <mill/buf.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int mill_cli_load_task_paths(struct mill_registry *reg, const char *paths);

static void json_strv(struct mill_buf *b, const char *const *v) {
    mill_buf_addc(b, '[');
    for (size_t i = 0; v && v[i]; i++) {
        if (i)
            mill_buf_addc(b, ',');
        mill_buf_add_json_str(b, v[i], strlen(v[i]));
    }
    mill_buf_addc(b, ']');
}

static void json_kv(struct mill_buf *b, const char *k, const char *v) {
    mill_buf_addf(b, ",\"%s\":", k);
    if (v)
        mill_buf_add_json_str(b, v, strlen(v));
    else
        mill_buf_adds(b, "null");
}

static void task_json(struct mill_buf *b, const struct mill_task_config *t) {
    mill_buf_adds(b, "{\"name\":");
    mill_buf_add_json_str(b, t->name, strlen(t->name));
    json_kv(b, "task_type", mill_task_type_str(mill_task_effective_type(t)));
    json_kv(b, "output_type", mill_output_type_str(t->output_type));
    json_kv(b, "hf_repo", t->hf_repo);
    json_kv(b, "hf_subset", t->hf_subset);
    json_kv(b, "hf_revision", t->hf_revision);
    json_kv(b, "few_shots_split", t->few_shots_split);
    mill_buf_adds(b, ",\"evaluation_splits\":");
    static const char *const test_only[] = {"test", NULL}; /* the runner's default */
    json_strv(b,
              t->evaluation_splits && t->evaluation_splits[0] ? t->evaluation_splits : test_only);
    mill_buf_addf(b, ",\"n_shots\":%d,\"generation_size\":%d,\"version\":%d", t->n_shots,
                  t->generation_size > 0 ? t->generation_size : 256, t->version);
    mill_buf_adds(b, ",\"stop_sequences\":");
    json_strv(b, t->stop_sequences);
    mill_buf_adds(b, ",\"metrics\":");
    json_strv(b, t->metrics);
    mill_buf_adds(b, ",\"categories\":");
    json_strv(b, t->categories);
    json_kv(b, "description", t->description);
    json_kv(b, "paper_url", t->paper_url);
    mill_buf_addc(b, '}');
}

static void bench_json(struct mill_buf *b, const struct mill_benchmark_config *x) {
    mill_buf_adds(b, "{\"name\":");
    mill_buf_add_json_str(b, x->name, strlen(x->name));
    mill_buf_adds(b, ",\"tasks\":");
    json_strv(b, x->task_names);
    mill_buf_adds(b, ",\"metrics\":");
    json_strv(b, x->metric_names);
    json_kv(b, "aggregation", x->weighted_aggregate ? "weighted" : "unweighted mean");
    mill_buf_addf(b, ",\"pick_variant_by_model\":%s", x->pick_variant_by_model ? "true" : "false");
    json_kv(b, "description", x->description);
    json_kv(b, "paper_url", x->paper_url);
    mill_buf_addc(b, '}');
}

static void print_json(const struct mill_registry *reg) {
    struct mill_buf b = {0};
    mill_buf_adds(&b, "{\"benchmarks\":[");
    for (size_t i = 0; i < mill_registry_n_benchmarks(reg); i++) {
        if (i)
            mill_buf_addc(&b, ',');
        bench_json(&b, mill_registry_benchmark_at(reg, i));
    }
    mill_buf_adds(&b, "],\"tasks\":[");
    for (size_t i = 0; i < mill_registry_n_tasks(reg); i++) {
        if (i)
            mill_buf_addc(&b, ',');
        task_json(&b, mill_registry_task_at(reg, i));
    }
    mill_buf_adds(&b, "]}\n");
    if (b.p)
        fputs(b.p, stdout);
    mill_buf_free(&b);
}

static void print_plain(const struct mill_registry *reg) {
    printf("Benchmarks\n");
    for (size_t i = 0; i < mill_registry_n_benchmarks(reg); i++) {
        const struct mill_benchmark_config *b = mill_registry_benchmark_at(reg, i);
        printf("  %-32s %3zu tasks  %-16s %s\n", b->name, mill_strv_len(b->task_names),
               b->metric_names && b->metric_names[0] ? b->metric_names[0] : "-",
               b->weighted_aggregate ? "weighted" : "unweighted mean");
    }
    printf("\nTasks\n");
    for (size_t i = 0; i < mill_registry_n_tasks(reg); i++) {
        const struct mill_task_config *t = mill_registry_task_at(reg, i);
        enum mill_task_type type = mill_task_effective_type(t);
        bool classify = type == MILL_TASK_ZERO_SHOT_CLASSIFICATION ||
                        type == MILL_TASK_SUPERVISED_CLASSIFICATION;
        printf("  %-44s %-26s %-22s %d-shot  %s\n", t->name, mill_task_type_str(type),
               classify ? "classify" : mill_output_type_str(t->output_type), t->n_shots,
               t->metrics && t->metrics[0] ? t->metrics[0] : "-");
    }
}

static int run_ls(const struct mill_args *a) {
    struct mill_registry *reg = NULL;
    struct mill_err err = {0};
    if (mill_registry_init(&reg, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    int rc = mill_cli_load_task_paths(reg, mill_arg(a, "task_paths"));
    if (!rc && mill_arg_bool(a, "check", false)) {
        struct mill_buf b = {0};
        size_t bad = mill_registry_check(reg, &b);
        if (bad)
            fprintf(stderr, "%s", b.p ? b.p : "");
        printf("registry check: %zu tasks, %zu benchmarks, %zu problems\n",
               mill_registry_n_tasks(reg), mill_registry_n_benchmarks(reg), bad);
        rc = bad ? MILL_EXIT_FAIL : 0;
        mill_buf_free(&b);
    } else if (!rc && mill_arg_bool(a, "json", false)) {
        print_json(reg);
    } else if (!rc && (mill_arg_bool(a, "plain", false) || !isatty(STDOUT_FILENO) ||
                       !isatty(STDIN_FILENO))) {
        print_plain(reg);
    } else if (!rc) {
        rc = mill_ls_tui(reg);
    }
    mill_registry_free(reg);
    return rc;
}

static const struct mill_opt ls_opts[] = {
    {"plain", MILL_OPT_BOOL, NULL, "plain text listing (the default when not on a terminal)"},
    {"json", MILL_OPT_BOOL, NULL, "JSON listing with the main config fields"},
    {"check", MILL_OPT_BOOL, NULL, "run the registry self-check; exit 1 on a problem"},
    {"task_paths", MILL_OPT_STR, "PATHS", "also list the tasks of these plugins"},
};

const struct mill_command mill_cmd_ls = {
    .name = "ls",
    .summary = "Browse benchmarks and tasks (interactive on a terminal).",
    .usage = "ls [--plain | --json | --check] [--task_paths PATHS]",
    .opts = ls_opts,
    .n_opts = sizeof ls_opts / sizeof ls_opts[0],
    .run = run_ls,
};
