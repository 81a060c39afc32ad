/* main.c: the `mill` command: global flags, the subcommand table, argument parsing in Fire's
 * spellings (--flag value, --flag=value, --flag-name, --noflag, -flag, Python Mill's one-letter
 * shortcuts; global flags anywhere, a command's flags before or after it) and the exit codes. */
#include "cli/cli.h"

#include "core/log.h"
#include "core/spec.h"
#include "core/stop.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const struct mill_opt mill_global_opts[] = {
    {"output_dir", MILL_OPT_STR, "DIR",
     "where results go (env MILL_OUTPUT_DIR, default ./mill_results)"},
    {"cache_dir", MILL_OPT_STR, "DIR", "Mill's cache (env MILL_CACHE_DIR, default ~/.cache/mill)"},
    {"limit", MILL_OPT_INT, "N", "evaluate only the first N rows of each evaluation split"},
    {"log_level", MILL_OPT_STR, "LEVEL", "debug, info (default), warn or error"},
    {"version", MILL_OPT_BOOL, NULL, "print the version and exit"},
};
const size_t mill_n_global_opts = sizeof mill_global_opts / sizeof mill_global_opts[0];

static const struct mill_command *const commands[] = {
    &mill_cmd_eval,     &mill_cmd_collect, &mill_cmd_ls,
    &mill_cmd_schedule, &mill_cmd_prompts, &mill_cmd_data,
    &mill_cmd_convert,  &mill_cmd_report,  NULL,
};

/* Fire's one-letter shortcuts as Python Mill has them: `-x` is the one parameter of the
 * function that starts with x. Mill.__init__ (output_dir, cache_dir, limit) reads its flags
 * wherever they are, before the command's method; a letter two of a method's parameters start
 * with is Fire's error, and has no entry. */
static const struct shortcut {
    const char *command; /* NULL: Mill.__init__ */
    char letter;
    const char *option;
} SHORTCUTS[] = {
    {NULL, 'o', "output_dir"},      {NULL, 'c', "cache_dir"},
    {NULL, 'l', "limit"},           {"eval", 'm', "models"},
    {"eval", 's', "seed"},          {"schedule", 't', "tasks"},
    {"schedule", 'n', "n_shots"},   {"schedule", 'd', "dry_run"},
    {"schedule", 'v', "venv_path"}, {"schedule", 'e', "extra_task_paths"},
    {"collect", 't', "tasks"},      {"collect", 'n', "n_shots"},
};

int mill_cli_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    mill_spec_mask_secrets(msg); /* whatever the message quotes, no key */
    fprintf(stderr, "mill: %s\n", msg ? msg : "out of memory");
    free(msg);
    return code;
}

static void print_opts(const struct mill_opt *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o[i].name, o[i].metavar ? " " : "",
                 o[i].metavar ? o[i].metavar : "");
        printf("  %-26s %s\n", flag, o[i].help);
    }
}

static void print_main_help(void) {
    printf("usage: mill [--output_dir DIR] [--cache_dir DIR] [--limit N] <command> [args]\n\n"
           "Mill evaluates language, vision-language, audio-language and CLIP-style models.\n\n"
           "commands:\n");
    for (size_t i = 0; commands[i]; i++)
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("\nglobal flags (before or after the command):\n");
    print_opts(mill_global_opts, mill_n_global_opts);
    printf("\n`mill <command> --help` describes a command.\n");
}

static const char *stop_doing = "stopping";

static void on_stop_signal(int sig) {
    int saved = errno;        /* the interrupted code may be about to read it */
    if (mill_stop_signal()) { /* the other stop signal after one: at once, as a second one */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        raise(sig); /* pending while this handler runs: delivered, fatal, as it returns */
        errno = saved;
        return;
    }
    mill_stop_request(sig);
    static const char head[] = "\nmill: ", tail[] = " (signal again to stop at once)\n";
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1);
    w = write(STDERR_FILENO, stop_doing, strlen(stop_doing));
    w = write(STDERR_FILENO, tail, sizeof tail - 1);
    (void)w;
    errno = saved;
}

void mill_cli_catch_stop_signals(const char *doing) {
    static const int sigs[] = {SIGINT, SIGTERM};
    struct sigaction sa, old;
    stop_doing = doing;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART; /* I/O in flight goes on undisturbed */
    /* The other stop signal waits until the handler returns: arriving inside it, it ran as a
     * first one too (a clean stop), or ended the process before the message was written. */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
}

void mill_cli_print_help(const struct mill_command *cmd) {
    printf("usage: mill %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->n_opts) {
        printf("\noptions:\n");
        print_opts(cmd->opts, cmd->n_opts);
    }
    printf("\nglobal flags:\n");
    print_opts(mill_global_opts, mill_n_global_opts);
    if (cmd->help_more)
        cmd->help_more();
}

static const struct mill_command *find_command(const char *name) {
    for (size_t i = 0; commands[i]; i++)
        if (!strcmp(commands[i]->name, name))
            return commands[i];
    return NULL;
}

/* Index of option `name` in a, or -1. Positionals may be given as flags (Fire allows it). */
static int find_opt(const struct mill_args *a, const char *name) {
    for (size_t i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opts[i]->name, name))
            return (int)i;
    return -1;
}

/* The option a one-letter flag stands for (SHORTCUTS: Mill.__init__'s first, then cmd's), or
 * -1. */
static int find_shortcut(const struct mill_args *a, const char *cmd, char letter) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof SHORTCUTS / sizeof SHORTCUTS[0]; i++) {
            const struct shortcut *sc = &SHORTCUTS[i];
            bool here = pass == 0 ? !sc->command : sc->command && cmd && !strcmp(sc->command, cmd);
            if (here && sc->letter == letter)
                return find_opt(a, sc->option);
        }
    return -1;
}

/* Whether two or more of the command's options start with letter (Fire's error). */
static bool shortcut_ambiguous(const struct mill_args *a, char letter) {
    int n = 0;
    for (size_t i = mill_n_global_opts; i < a->n_opts; i++)
        n += a->opts[i]->name[0] == letter;
    return n > 1;
}

static int add_opts(struct mill_args *a, const struct mill_opt *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a->n_opts == MILL_MAX_OPTS)
            return -1;
        a->opts[a->n_opts++] = &o[i];
    }
    return 0;
}

/* Fire's boolean value words. */
static bool bool_word(const char *s) { return !strcasecmp(s, "true") || !strcasecmp(s, "false"); }

/* Index of the option flag text arg[0..len) (after its dashes, before any '=') names in a: its
 * name with '-' read as '_', a one-letter shortcut (SHORTCUTS), or a boolean's "no" negation
 * (*negated). -1 when none. */
static int flag_index(const struct mill_args *a, const char *cmd, const char *arg, size_t len,
                      bool *negated) {
    char name[128];
    *negated = false;
    if (len == 0 || len >= sizeof name)
        return -1;
    for (size_t k = 0; k < len; k++)
        name[k] = arg[k] == '-' ? '_' : arg[k];
    name[len] = 0;
    int idx = find_opt(a, name);
    if (idx < 0 && len == 1)
        idx = find_shortcut(a, cmd, name[0]);
    if (idx < 0 && !strncmp(name, "no", 2)) {
        idx = find_opt(a, name + 2 + (name[2] == '_'));
        *negated = idx >= 0 && a->opts[idx]->type == MILL_OPT_BOOL;
        if (!*negated)
            idx = -1;
    }
    return idx;
}

static bool is_help(const char *arg, size_t len) { return len == 4 && !strncmp(arg, "help", 4); }

/* Parses one flag at argv[*i] whose text after the dashes is arg ("name[=value]"); consumes a
 * separate value when needed. */
static int parse_flag(struct mill_args *a, const char *cmd, int argc, char **argv, int *i,
                      const char *arg) {
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len == 0 || len >= 128)
        return mill_cli_error(MILL_EXIT_USAGE, "malformed flag '%s'", argv[*i]);
    if (is_help(arg, len)) {
        a->help = true;
        return 0;
    }
    bool negated;
    int idx = flag_index(a, cmd, arg, len, &negated);
    if (idx < 0 && len == 1 && cmd && shortcut_ambiguous(a, arg[0]))
        return mill_cli_error(MILL_EXIT_USAGE,
                              "'%.*s' is ambiguous for %s: more than one of its flags starts "
                              "with '%c' (see mill %s --help)",
                              (int)(arg - argv[*i] + len), argv[*i], cmd, arg[0], cmd);
    if (idx < 0)
        return mill_cli_error(MILL_EXIT_USAGE, "unknown flag '%.*s'%s%s (see mill %s%s--help)",
                              (int)strcspn(argv[*i], "="), argv[*i], cmd ? " for " : "",
                              cmd ? cmd : "", cmd ? cmd : "", cmd ? " " : "");
    const struct mill_opt *o = a->opts[idx];
    const char *val = eq ? eq + 1 : NULL;
    if (o->type == MILL_OPT_BOOL) {
        if (negated && val)
            return mill_cli_error(MILL_EXIT_USAGE, "'%s' takes no value", argv[*i]);
        /* Fire's `--flag False`: a following True or False is the flag's value */
        if (!val && !negated && *i + 1 < argc && bool_word(argv[*i + 1]))
            val = argv[++*i];
        bool b = !negated;
        if (val && !strcasecmp(val, "false"))
            b = false;
        else if (val && strcasecmp(val, "true"))
            return mill_cli_error(MILL_EXIT_USAGE, "--%s expects true or false, got '%s'", o->name,
                                  val);
        a->val[idx] = b ? "1" : "0";
        return 0;
    }
    if (!val) {
        if (*i + 1 >= argc)
            return mill_cli_error(MILL_EXIT_USAGE, "--%s needs a value", o->name);
        val = argv[++*i];
    }
    a->val[idx] = val;
    return 0;
}

static int unknown_command(const char *name) {
    char list[256] = "";
    for (size_t i = 0; commands[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 commands[i]->name);
    return mill_cli_error(MILL_EXIT_USAGE, "unknown command '%s' (commands: %s)", name, list);
}

static bool is_int(const char *s) {
    char *end;
    errno = 0;
    (void)strtoll(s, &end, 10);
    return *s && *end == 0 && errno == 0;
}

/* Fire's flag: "--name..." or "-" and a letter ("-o", "-output_dir"); "-5" is a value. */
static bool is_flag(const char *s) {
    return (s[0] == '-' && s[1] == '-' && s[2]) || (s[0] == '-' && isalpha((unsigned char)s[1]));
}

/* Whether flag arg (with its dashes) is one of Mill.__init__'s (a holds only the global
 * options yet); *value_next: the word after it, next, is its value, as parse_flag will take it. */
static bool global_flag(const struct mill_args *a, const char *arg, const char *next,
                        bool *value_next) {
    arg += arg[1] == '-' ? 2 : 1;
    size_t len = strcspn(arg, "=");
    bool negated;
    int idx = flag_index(a, NULL, arg, len, &negated);
    *value_next = idx >= 0 && !arg[len] && next &&
                  (a->opts[idx]->type != MILL_OPT_BOOL || (!negated && bool_word(next)));
    return idx >= 0 || is_help(arg, len);
}

/* argv with the flags before the command that are not Mill.__init__'s moved after the command,
 * each with the word after it unless that is a flag or a command (Fire hands __init__'s unused
 * flags to the command's method). NULL when out of memory. */
static char **fire_order(const struct mill_args *a, int argc, char **argv) {
    char **out = malloc(((size_t)argc + 1) * sizeof *out);
    char **later = malloc(((size_t)argc + 1) * sizeof *later);
    int n = 0, n_later = 0, i = 1;
    if (!out || !later) {
        free(out);
        free(later);
        return NULL;
    }
    out[n++] = argv[0];
    for (; i < argc && (is_flag(argv[i]) || !strcmp(argv[i], "-h")); i++) {
        bool value_next = false;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-h") || global_flag(a, argv[i], next, &value_next)) {
            out[n++] = argv[i];
            if (strcmp(argv[i], "-h") && value_next)
                out[n++] = argv[++i];
        } else {
            later[n_later++] = argv[i];
            if (!strchr(argv[i], '=') && next && !is_flag(next) && !find_command(next))
                later[n_later++] = argv[++i];
        }
    }
    if (i < argc)
        out[n++] = argv[i++];
    for (int k = 0; k < n_later; k++)
        out[n++] = later[k];
    while (i < argc)
        out[n++] = argv[i++];
    out[n] = NULL;
    free(later);
    return out;
}

/* Fills a (its global options already added) from the words of argv in Fire's order; *cmd_out
 * is the subcommand (NULL when none). Returns an exit code or 0. */
static int parse_words(int argc, char **argv, struct mill_args *a,
                       const struct mill_command **cmd_out) {
    static const struct mill_opt pos_opts[] = {
        {"models", MILL_OPT_STR, "SPECS", "model specs"},
        {"tasks", MILL_OPT_STR, "TASKS", "task or benchmark names"},
    };
    const struct mill_command *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        int rc = 0;
        if (!strcmp(argv[i], "-h"))
            a->help = true;
        else if (is_flag(argv[i]))
            rc = parse_flag(a, cmd ? cmd->name : NULL, argc, argv, &i,
                            argv[i] + (argv[i][1] == '-' ? 2 : 1));
        else if (!cmd) {
            if (!(cmd = find_command(argv[i])))
                return unknown_command(argv[i]);
            if (add_opts(a, cmd->opts, cmd->n_opts) ||
                (cmd->positionals && find_opt(a, "models") < 0 && add_opts(a, pos_opts, 2)))
                return mill_cli_error(MILL_EXIT_FAIL, "too many options");
        } else if (a->n_pos < MILL_MAX_POS) {
            a->pos[a->n_pos++] = argv[i];
        } else {
            return mill_cli_error(MILL_EXIT_USAGE, "too many arguments");
        }
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < a->n_opts; i++)
        if (a->val[i] && a->opts[i]->type == MILL_OPT_INT && !is_int(a->val[i]))
            return mill_cli_error(MILL_EXIT_USAGE, "--%s expects an integer, got '%s'",
                                  a->opts[i]->name, a->val[i]);
    *cmd_out = cmd;
    return 0;
}

/* parse_words over argv in Fire's order (fire_order); the values point into argv. */
static int parse_argv(int argc, char **argv, struct mill_args *a,
                      const struct mill_command **cmd_out) {
    add_opts(a, mill_global_opts, mill_n_global_opts);
    char **words = fire_order(a, argc, argv);
    int rc = words ? parse_words(argc, words, a, cmd_out)
                   : mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    free(words);
    return rc;
}

const char *mill_arg(const struct mill_args *a, const char *name) {
    int i = find_opt(a, name);
    return i >= 0 ? a->val[i] : NULL;
}

const char *mill_arg_pos(const struct mill_args *a, const struct mill_command *cmd, size_t i) {
    size_t flagged = 0;
    for (size_t k = 0; cmd->positionals && cmd->positionals[k]; k++) {
        if (k == i && mill_arg(a, cmd->positionals[k]))
            return mill_arg(a, cmd->positionals[k]);
        if (k < i && mill_arg(a, cmd->positionals[k]))
            flagged++;
    }
    size_t at = i - flagged;
    return at < a->n_pos ? a->pos[at] : NULL;
}

bool mill_arg_bool(const struct mill_args *a, const char *name, bool def) {
    const char *v = mill_arg(a, name);
    return v ? v[0] == '1' : def;
}

bool mill_arg_int(const struct mill_args *a, const char *name, int64_t def, int64_t *out) {
    const char *v = mill_arg(a, name);
    *out = v ? strtoll(v, NULL, 10) : def;
    return true;
}

const char *mill_cli_output_dir(const struct mill_args *a) {
    const char *v = mill_arg(a, "output_dir");
    if (!v)
        v = getenv("MILL_OUTPUT_DIR");
    return !v ? "./mill_results" : *v ? v : "."; /* Python's Path(""): the current directory */
}

const char *mill_cli_cache_dir(const struct mill_args *a) {
    static char buf[4096];
    const char *v = mill_arg(a, "cache_dir");
    if (!v)
        v = getenv("MILL_CACHE_DIR");
    if (v && *v)
        return v;
    const char *home = getenv("HOME");
    snprintf(buf, sizeof buf, "%s/.cache/mill", home && *home ? home : ".");
    return buf;
}

static int apply_log_level(const struct mill_args *a) {
    const char *v = mill_arg(a, "log_level");
    if (!v) {
        mill_log_get_level(); /* MILL_LOG_LEVEL read now: a bad value is said at once */
        return 0;
    }
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(v, names[i])) {
            mill_log_set_level((enum mill_log_level)i);
            return 0;
        }
    return mill_cli_error(MILL_EXIT_USAGE, "--log_level expects debug, info, warn or error");
}

int main(int argc, char **argv) {
    struct mill_args a = {0};
    const struct mill_command *cmd = NULL;
    int rc = parse_argv(argc, argv, &a, &cmd);
    if (rc)
        return rc;
    if (mill_arg_bool(&a, "version", false)) {
        printf("mill %s (git %s)\n", MILL_VERSION, mill_git_hash());
        return MILL_EXIT_OK;
    }
    if (!cmd) {
        print_main_help();
        return a.help ? MILL_EXIT_OK : MILL_EXIT_USAGE;
    }
    if (a.help) {
        mill_cli_print_help(cmd);
        return MILL_EXIT_OK;
    }
    if ((rc = apply_log_level(&a)) != 0)
        return rc;
    size_t want = 0;
    for (size_t k = 0; cmd->positionals && cmd->positionals[k]; k++)
        want += mill_arg(&a, cmd->positionals[k]) == NULL;
    if (a.n_pos > want)
        return mill_cli_error(MILL_EXIT_USAGE,
                              "unexpected argument '%s' for %s (lists are "
                              "comma-separated; see mill %s --help)",
                              a.pos[want], cmd->name, cmd->name);
    rc = cmd->run(&a);
    /* what the command printed must have reached stdout (a full disk, a closed pipe with
     * SIGPIPE ignored): a command that wrote nothing or less than it said is a failure */
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == MILL_EXIT_OK)
        rc = mill_cli_error(MILL_EXIT_FAIL, "cannot write to stdout: %s", strerror(errno));
    return rc;
}
