/* cli.h: the command-line layer: option tables, parsed arguments and the subcommand entry
 * points. Only this layer prints to stdout and only main() exits. */
#ifndef MILL_CLI_CLI_H
#define MILL_CLI_CLI_H

#include "out/aggregate.h"

#include <mill/mill.h>

enum mill_opt_type { MILL_OPT_STR, MILL_OPT_INT, MILL_OPT_BOOL };

struct mill_opt {
    const char *name; /* flag name with underscores: --output_dir / --output-dir */
    enum mill_opt_type type;
    const char *metavar; /* shown in help ("DIR"); NULL for booleans */
    const char *help;
};

#define MILL_MAX_OPTS 24
#define MILL_MAX_POS 8

struct mill_args {
    const struct mill_opt *opts[MILL_MAX_OPTS]; /* global options first, then the command's */
    size_t n_opts;
    const char *val[MILL_MAX_OPTS]; /* string value, or "1"/"0" for booleans; NULL = unset */
    const char *pos[MILL_MAX_POS];
    size_t n_pos;
    bool help;
};

/* Exit codes (ARCHITECTURE.md §4.4). */
enum { MILL_EXIT_OK = 0, MILL_EXIT_FAIL = 1, MILL_EXIT_USAGE = 2 };

struct mill_command {
    const char *name;
    const char *summary;
    const char *usage;              /* "eval MODELS TASKS [--task_paths DIRS] [--seed N]" */
    const char *const *positionals; /* names of the positionals, which may also be flags */
    const struct mill_opt *opts;    /* the command's own options */
    size_t n_opts;
    int (*run)(const struct mill_args *a); /* returns an exit code */
    void (*help_more)(void); /* prints more of `--help` after the options; may be NULL */
};

extern const struct mill_opt mill_global_opts[];
extern const size_t mill_n_global_opts;

/* Value of an option (or a positional given as a flag) by name; NULL when unset. */
const char *mill_arg(const struct mill_args *a, const char *name);
/* The i-th positional of the command (by name, so `--models X` also counts). */
const char *mill_arg_pos(const struct mill_args *a, const struct mill_command *cmd, size_t i);
bool mill_arg_bool(const struct mill_args *a, const char *name, bool def);
/* Integer value; prints a usage error and returns false when the value is not an integer. */
bool mill_arg_int(const struct mill_args *a, const char *name, int64_t def, int64_t *out);

/* Resolved global settings: flag, else env (MILL_OUTPUT_DIR / MILL_CACHE_DIR), else default.
 * Static storage. */
const char *mill_cli_output_dir(const struct mill_args *a);
const char *mill_cli_cache_dir(const struct mill_args *a);

/* Prints "mill: <msg>" to stderr; returns code. */
int mill_cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SIGINT / SIGTERM from now on file a stop request (core/stop.h) and say "mill: <doing> (signal
 * again to stop at once)"; the handler resets itself, so a second signal ends the process. A
 * signal the process was started ignoring (nohup, a shell's background job) stays ignored.
 * doing: a string literal. */
void mill_cli_catch_stop_signals(const char *doing);
void mill_cli_print_help(const struct mill_command *cmd);

/* What collect and report start from: <output_dir>/aggregate.csv read (path for messages) and
 * the --models and --tasks lists split (NULL and 0 when not given). */
struct mill_cli_results {
    char path[4096];
    struct mill_aggregate_table t;
    char **models, **tasks;
    size_t nm, nt;
};
/* Fills *r: 0, or the exit code after printing the error (*r is then empty). */
int mill_cli_results_open(const struct mill_args *a, struct mill_cli_results *r);
void mill_cli_results_free(struct mill_cli_results *r);

extern const struct mill_command mill_cmd_eval, mill_cmd_collect, mill_cmd_ls, mill_cmd_schedule,
    mill_cmd_prompts, mill_cmd_data, mill_cmd_convert, mill_cmd_report;

#endif
