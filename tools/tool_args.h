/* tool_args.h: the command-line parsing the test-model generators share (gen_llama, gen_clip):
 * `--name value` and `--name=value`, error and usage messages prefixed with the tool's name,
 * dimension and seed parsing, and tables of integer options stored at struct offsets.
 *
 * Each tool is one translation unit: define TOOL_NAME ("gen_llama") and declare
 * `static void usage(FILE *f);` before including this file. */
#ifndef MILL_TOOLS_TOOL_ARGS_H
#define MILL_TOOLS_TOOL_ARGS_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define DIM_MAX (1 << 20)

static void usage(FILE *f);

/* "TOOL<sep><message>\n" on stderr. */
static inline void tool_vmsg(const char *sep, const char *fmt, va_list ap) {
    fprintf(stderr, "%s%s", TOOL_NAME, sep);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* "TOOL: error: <message>" on stderr; returns exit code 1. */
static inline int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tool_vmsg(": error: ", fmt, ap);
    va_end(ap);
    return 1;
}

/* "TOOL: <message>" and the usage text on stderr; returns EXIT_USAGE. */
static inline int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tool_vmsg(": ", fmt, ap);
    va_end(ap);
    usage(stderr);
    return EXIT_USAGE;
}

/* A dimension: an integer in 1..DIM_MAX. */
static inline bool parse_i64(const char *s, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > DIM_MAX)
        return false;
    *out = v;
    return true;
}

/* A seed: any non-negative integer (decimal, 0x hex or 0 octal). */
static inline bool parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (*s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

/* Reads the option at argv[*i] into name (cap bytes) and *val, taking the value from
 * `--name=value` or the next argument; options listed in flags (NULL-terminated, may be NULL)
 * take no value (*val NULL). Returns 0 or EXIT_USAGE after a message. */
static inline int next_opt(int argc, char **argv, int *i, char *name, size_t cap, const char **val,
                           const char *const *flags) {
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) || !a[2])
        return usage_error("unexpected argument '%s'", a);
    const char *eq = strchr(a + 2, '=');
    size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (n >= cap)
        return usage_error("unknown option '%s'", a);
    memcpy(name, a + 2, n);
    name[n] = '\0';
    *val = NULL;
    for (const char *const *f = flags; f && *f; f++) {
        if (strcmp(name, *f))
            continue;
        return eq ? usage_error("option '--%s' takes no value", name) : 0;
    }
    if (eq)
        *val = eq + 1;
    else if (*i + 1 < argc)
        *val = argv[++*i];
    else
        return usage_error("option '%s' needs a value", a);
    return 0;
}

/* An integer option stored in the options struct at offset off. */
struct int_opt {
    const char *name;
    size_t off;
};

/* When name is one of the n integer options of table, parses val into base + its offset.
 * Returns 0 when stored, -1 when name is not in the table, EXIT_USAGE for a bad value. */
static inline int apply_int_opt(const struct int_opt *table, size_t n, void *base, const char *name,
                                const char *val) {
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, table[i].name))
            continue;
        if (!parse_i64(val, (int64_t *)((char *)base + table[i].off)))
            return usage_error("--%s wants an integer in 1..%d, got '%s'", name, DIM_MAX, val);
        return 0;
    }
    return -1;
}

#endif
