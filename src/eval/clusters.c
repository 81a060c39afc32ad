/* clusters.c: the clusters.yaml parser (clusters.h). A line-oriented reader of the YAML subset
 * the file uses; anything else is an error naming the file and line. Must not read files, print
 * (but for the unknown-key warning) or exit. */
#include "eval/clusters.h"

#include "core/log.h"
#include "core/spec.h"

#include <mill/buf.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "schedule"

static const char *const STR_KEYS[MILL_CL_N_STR] = {
    "hostname_pattern", "partition", "account",         "gpu_type", "mem",
    "mem_per_gpu",      "venv_path", "container_image",
};
static const char *const NUM_KEYS[MILL_CL_N_NUM] = {
    "gpus_per_node",
    "cpus_per_task",
    "queue_limit",
    "max_array_len",
};

void mill_cluster_init(struct mill_cluster *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < MILL_CL_N_NUM; i++)
        c->num[i] = -1;
}

void mill_clusters_free(struct mill_cluster_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        struct mill_cluster *c = &s->v[i];
        free(c->name);
        for (int k = 0; k < MILL_CL_N_STR; k++)
            free(c->str[k]);
        mill_strv_free(c->bind_paths, c->n_bind);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const char *mill_cluster_str(const struct mill_cluster *c, int k, const char *def) {
    return c->str[k] && *c->str[k] ? c->str[k] : def;
}

int64_t mill_cluster_num(const struct mill_cluster *c, int k, int64_t def) {
    return c->num[k] >= 0 ? c->num[k] : def;
}

/* ---- a small parser for clusters.yaml ----
 * Accepts Mill's shape (a top-level "clusters:" holding the clusters) and the flat one (the
 * clusters at the top level); each cluster holds `key: value` lines at one indentation. Values:
 * plain, "double" or 'single' quoted scalars, null / ~, and for bind_paths a [flow] or block
 * (- item) list; comments anywhere. Anything else is an error naming the file and line. */

struct yaml_parse {
    const char *file;
    struct mill_cluster_set *set;
    struct mill_cluster *cur; /* the cluster being filled */
    bool seen_key;            /* a key was seen already (so "clusters:" is no longer the wrapper) */
    bool wrapper;             /* Mill's shape */
    int cluster_indent;       /* indent of cluster names; -1 until known */
    int field_indent;         /* indent of cur's fields; -1 until known */
    int list_indent;          /* indent of an open "bind_paths:"; -1 when none */
    bool after_empty;         /* the last field had no value (a deeper key would be a nested map) */
    struct mill_err *err;
};

static int yerr(struct yaml_parse *y, size_t ln, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int yerr(struct yaml_parse *y, size_t ln, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mill_err_set(y->err, MILL_EFORMAT, "%s:%zu: %s", y->file, ln, msg);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* Only a comment (or nothing) may follow a closing quote or bracket. */
static bool rest_is_comment(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return !*p || *p == '#';
}

/* A quoted scalar starting at v (*v is the quote). *out is malloc'd; *end points after it. */
static int parse_quoted(struct yaml_parse *y, size_t ln, const char *v, char **out,
                        const char **end) {
    char q = *v++;
    struct mill_buf b = {0};
    for (;; v++) {
        if (!*v)
            return mill_buf_free(&b), yerr(y, ln, "unterminated %c-quoted string", q);
        if (*v == q && q == '\'' && v[1] == '\'') {
            v++;
        } else if (*v == q) {
            break;
        } else if (*v == '\\' && q == '"') {
            if (v[1] != '"' && v[1] != '\\' && v[1] != '/')
                return mill_buf_free(&b), yerr(y, ln, "unsupported escape '\\%c'", v[1]);
            v++;
        }
        if (mill_buf_addc(&b, *v))
            return mill_buf_free(&b), mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    }
    *out = b.p ? mill_buf_take(&b) : strdup("");
    *end = v + 1;
    return *out ? 0 : mill_err_set(y->err, MILL_ENOMEM, "out of memory");
}

static bool has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* One scalar (text already trimmed of indentation): *out = malloc'd value, NULL for null. */
static int parse_scalar(struct yaml_parse *y, size_t ln, const char *v, char **out) {
    *out = NULL;
    if (*v == '"' || *v == '\'') {
        const char *end = NULL;
        int rc = parse_quoted(y, ln, v, out, &end);
        if (!rc && !rest_is_comment(end))
            rc = yerr(y, ln, "unexpected text after the closing quote: '%s'", end);
        if (!rc && has_control(*out))
            rc = yerr(y, ln, "control character in a value");
        if (rc) {
            free(*out);
            *out = NULL;
        }
        return rc;
    }
    if (*v == '[' || *v == '{' || *v == '|' || *v == '>' || *v == '&' || *v == '*' || *v == '!')
        return yerr(y, ln, "expected a single value, got '%s'", v);
    char *s = strdup(v);
    if (!s)
        return mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    for (char *h = s; (h = strchr(h, '#')); h++)
        if (h == s || h[-1] == ' ' || h[-1] == '\t') {
            *h = 0;
            break;
        }
    char *t = trim(s);
    if (!*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL")) {
        free(s);
        return 0;
    }
    memmove(s, t, strlen(t) + 1);
    *out = s;
    return 0;
}

static int add_bind_path(struct yaml_parse *y, size_t ln, const char *item) {
    char *v = NULL;
    int rc = parse_scalar(y, ln, item, &v);
    if (rc || !v)
        return rc;
    char **grown = realloc(y->cur->bind_paths, (y->cur->n_bind + 1) * sizeof *grown);
    if (!grown) {
        free(v);
        return mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    }
    y->cur->bind_paths = grown;
    grown[y->cur->n_bind++] = v;
    return 0;
}

/* "[a, 'b', ...]" (no nesting) for bind_paths. */
static int parse_flow_list(struct yaml_parse *y, size_t ln, const char *v) {
    char *s = strdup(v + 1), *item = s;
    if (!s)
        return mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    int rc = 0;
    char q = 0;
    for (char *p = s;; p++) {
        if (!*p) {
            rc = yerr(y, ln, "unterminated list (missing ']')");
            break;
        }
        if (q) {
            q = *p == q ? 0 : q;
            continue;
        }
        if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == ',' || *p == ']') {
            char c = *p;
            *p = 0;
            char *t = trim(item);
            if (*t)
                rc = add_bind_path(y, ln, t);
            else if (c == ',')
                rc = yerr(y, ln, "empty item in a list");
            item = p + 1;
            if (rc || c == ']') {
                if (!rc && !rest_is_comment(p + 1))
                    rc = yerr(y, ln, "unexpected text after ']'");
                break;
            }
        }
    }
    free(s);
    return rc;
}

static int set_num(struct yaml_parse *y, size_t ln, int k, const char *key, const char *v) {
    char *s = NULL, *end;
    int rc = parse_scalar(y, ln, v, &s);
    if (rc || !s || !*s) {
        free(s);
        return rc;
    }
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (*end || errno || n < 1 || n > 1000000)
        rc = yerr(y, ln, "'%s' must be a positive integer, got '%s'", key, s);
    else
        y->cur->num[k] = n;
    free(s);
    return rc;
}

static int assign(struct yaml_parse *y, size_t ln, int indent, const char *key, const char *v) {
    bool empty = !*v || *v == '#';
    y->after_empty = empty;
    if (!strcmp(key, "bind_paths")) {
        y->after_empty = false;
        if (empty)
            y->list_indent = indent;
        return empty ? 0 : *v == '[' ? parse_flow_list(y, ln, v) : add_bind_path(y, ln, v);
    }
    for (int k = 0; k < MILL_CL_N_STR; k++)
        if (!strcmp(key, STR_KEYS[k])) {
            free(y->cur->str[k]);
            y->cur->str[k] = NULL;
            return empty ? 0 : parse_scalar(y, ln, v, &y->cur->str[k]);
        }
    for (int k = 0; k < MILL_CL_N_NUM; k++)
        if (!strcmp(key, NUM_KEYS[k]))
            return empty ? 0 : set_num(y, ln, k, key, v);
    MILL_WARN(MOD, "%s:%zu: unknown key '%s' ignored", y->file, ln, key);
    return 0;
}

static int start_cluster(struct yaml_parse *y, size_t ln, const char *name, const char *v) {
    if (*v && *v != '#')
        return yerr(y, ln,
                    "expected a cluster name followed by ':' and, on the next lines, "
                    "its indented fields; got a value for '%s'",
                    name);
    for (size_t i = 0; i < y->set->n; i++)
        if (!strcmp(y->set->v[i].name, name))
            return yerr(y, ln, "cluster '%s' is defined twice", name);
    struct mill_cluster *grown = realloc(y->set->v, (y->set->n + 1) * sizeof *grown);
    if (!grown)
        return mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    y->set->v = grown;
    y->cur = &grown[y->set->n];
    mill_cluster_init(y->cur);
    if (!(y->cur->name = strdup(name)))
        return mill_err_set(y->err, MILL_ENOMEM, "out of memory");
    y->set->n++;
    y->field_indent = -1;
    y->after_empty = false;
    return 0;
}

static int set_field(struct yaml_parse *y, size_t ln, int indent, const char *key, const char *v) {
    if (!y->cur)
        return yerr(y, ln, "'%s' is outside any cluster", key);
    if (y->field_indent < 0)
        y->field_indent = indent;
    if (indent > y->field_indent && y->after_empty)
        return yerr(y, ln, "nested mappings are not supported ('%s')", key);
    if (indent != y->field_indent)
        return yerr(y, ln, "inconsistent indentation at '%s'", key);
    return assign(y, ln, indent, key, v);
}

/* "key: value" -> key (trimmed) and the value text (leading blanks skipped). */
static bool split_key(char *p, char **key, char **val) {
    for (char *c = p; (c = strchr(c, ':')); c++)
        if (!c[1] || c[1] == ' ' || c[1] == '\t') {
            *c = 0;
            *key = trim(p);
            *val = trim(c + 1);
            return **key && **key != '"' && **key != '\'' && !strpbrk(*key, "#[]{}");
        }
    return false;
}

static int parse_key_line(struct yaml_parse *y, size_t ln, int indent, char *p) {
    char *key, *v;
    if (!split_key(p, &key, &v))
        return yerr(y, ln, "expected 'key: value', got '%s'", trim(p));
    y->list_indent = -1;
    bool first = !y->seen_key;
    y->seen_key = true;
    if (first && indent == 0 && !strcmp(key, "clusters") && (!*v || *v == '#')) {
        y->wrapper = true;
        return 0;
    }
    if (!y->wrapper)
        return indent == 0 ? start_cluster(y, ln, key, v) : set_field(y, ln, indent, key, v);
    if (indent == 0)
        return yerr(y, ln, "unexpected top-level key '%s' (clusters go under 'clusters:')", key);
    if (y->cluster_indent < 0)
        y->cluster_indent = indent;
    if (indent < y->cluster_indent)
        return yerr(y, ln, "inconsistent indentation at '%s'", key);
    if (indent == y->cluster_indent)
        return start_cluster(y, ln, key, v);
    return set_field(y, ln, indent, key, v);
}

static int parse_line(struct yaml_parse *y, size_t ln, char *s) {
    size_t n = strlen(s);
    if (n && s[n - 1] == '\r')
        s[n - 1] = 0;
    int indent = 0;
    while (s[indent] == ' ')
        indent++;
    char *p = s + indent;
    if (*p == '\t')
        return yerr(y, ln, "tab in the indentation (YAML allows only spaces)");
    if (!*trim(p) || *p == '#')
        return 0;
    if (*p == '-' && (!p[1] || p[1] == ' ' || p[1] == '\t')) {
        if (y->list_indent < 0 || indent < y->list_indent)
            return yerr(y, ln, "a list item outside 'bind_paths:'");
        char *item = trim(p + 1);
        return *item ? add_bind_path(y, ln, item) : yerr(y, ln, "empty list item");
    }
    return parse_key_line(y, ln, indent, p);
}

int mill_clusters_parse(char *text, const char *file, struct mill_cluster_set *set,
                        struct mill_err *err) {
    struct yaml_parse y = {.file = file,
                           .set = set,
                           .cluster_indent = -1,
                           .field_indent = -1,
                           .list_indent = -1,
                           .err = err};
    size_t ln = 0;
    int rc = 0;
    for (char *line = text, *next; !rc && line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        ln++;
        rc = parse_line(&y, ln, line);
    }
    return rc;
}
