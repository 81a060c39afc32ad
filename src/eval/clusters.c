/* clusters.c: the clusters.yaml parser (clusters.h), on libyaml (the only file that includes
 * it, ARCHITECTURE.md §2.8). A syntax error or a shape other than clusters of `key: value`
 * fields is an error naming the file and line. Must not read files, print (but for the
 * unknown-key warning) or exit. */
#include "eval/clusters.h"

#include "core/log.h"
#include "core/spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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

/* ---- clusters.yaml through libyaml ----
 * The file is loaded as one YAML document (libyaml's document API: aliases point at shared
 * nodes, nothing is expanded) and walked two levels deep: Mill's shape (a top-level "clusters:"
 * holding the clusters) or the flat one (the clusters at the top level), each cluster a mapping
 * of fields. Syntax errors and shapes other than these are errors naming the file and line
 * (libyaml's 0-based mark.line + 1); libyaml's commonest complaints are put in the words of the
 * line-oriented parser this replaced, which the tests and users know. */

struct yaml_walk {
    const char *file;
    const char *text; /* the input, for quoting the offending line */
    size_t len;
    yaml_document_t *doc;
    struct mill_cluster_set *set;
    struct mill_err *err;
};

static int yerr(struct yaml_walk *y, size_t ln, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int yerr(struct yaml_walk *y, size_t ln, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mill_err_set(y->err, MILL_EFORMAT, "%s:%zu: %s", y->file, ln, msg);
}

static int oom(struct yaml_walk *y) { return mill_err_set(y->err, MILL_ENOMEM, "out of memory"); }

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

/* The line holding byte at, without its indentation or line break: *n bytes from the result. */
static const char *line_text(const struct yaml_walk *y, size_t at, int *n) {
    if (at > y->len)
        at = y->len;
    size_t b = at, e = at;
    while (b > 0 && y->text[b - 1] != '\n' && y->text[b - 1] != '\r')
        b--;
    while (e < y->len && y->text[e] != '\n' && y->text[e] != '\r')
        e++;
    while (b < e && (y->text[b] == ' ' || y->text[b] == '\t'))
        b++;
    while (e > b && (y->text[e - 1] == ' ' || y->text[e - 1] == '\t'))
        e--;
    *n = e - b > 200 ? 200 : (int)(e - b);
    return y->text + b;
}

/* libyaml's failure to load as an error naming the line: an unclosed construct (a quote, a
 * bracket) is named where it starts, a key without ':' on its own line, anything else where
 * libyaml stopped. */
static int load_error(struct yaml_walk *y, const yaml_parser_t *p) {
    if (p->error == YAML_MEMORY_ERROR)
        return oom(y);
    if (p->error == YAML_READER_ERROR) { /* bad encoding, a control character: a byte offset */
        size_t ln = 1;
        for (size_t i = 0; i < p->problem_offset && i < y->len; i++)
            ln += y->text[i] == '\n';
        return yerr(y, ln, "invalid YAML: %s", p->problem ? p->problem : "unreadable input");
    }
    const char *problem = p->problem ? p->problem : "syntax error";
    const char *context = p->context ? p->context : "";
    /* mark.index may count characters, not bytes: the end is also told by the problem. */
    bool at_end = p->problem_mark.index >= y->len || strstr(problem, "end of stream");
    yaml_mark_t m = p->problem_mark;
    if (p->context && (at_end || strstr(context, "simple key")))
        m = p->context_mark;
    size_t ln = m.line + 1;
    int n;
    const char *line = line_text(y, m.index, &n);
    size_t at = m.index < y->len ? m.index : y->len;
    if (strstr(context, "quoted scalar") && strstr(problem, "end of stream"))
        return yerr(y, ln, "unterminated %c-quoted string", y->text[at] == '\'' ? '\'' : '"');
    if (at_end && strstr(context, "flow sequence"))
        return yerr(y, ln, "unterminated list (missing ']')");
    if (at_end && strstr(context, "flow mapping"))
        return yerr(y, ln, "unterminated mapping (missing '}')");
    if (strstr(context, "simple key"))
        return yerr(y, ln, "expected 'key: value', got '%.*s'", n, line);
    if (strstr(problem, "cannot start any token") && at < y->len && y->text[at] == '\t')
        return yerr(y, ln, "tab in the indentation (YAML allows only spaces)");
    if (strstr(problem, "did not find expected key")) {
        const char *colon = memchr(line, ':', n);
        return yerr(y, ln, "inconsistent indentation at '%.*s'", colon ? (int)(colon - line) : n,
                    line);
    }
    return yerr(y, ln, "invalid YAML: %s%s%s", problem, *context ? " " : "", context);
}

static const char *node_kind(const yaml_node_t *n) {
    return n->type == YAML_SEQUENCE_NODE  ? "a list"
           : n->type == YAML_MAPPING_NODE ? "a mapping"
                                          : "a value";
}

/* A plain null (empty, ~, null, Null, NULL): the field is unset. Quoted "null" is a string. */
static bool is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* The values end up in an sbatch script: no line breaks, NULs or other control characters
 * (which double-quoted escapes and folded scalars could otherwise produce). */
static bool has_control(const yaml_node_t *n) {
    for (size_t i = 0; i < n->data.scalar.length; i++)
        if (n->data.scalar.value[i] < 0x20 || n->data.scalar.value[i] == 0x7f)
            return true;
    return false;
}

/* Scalar n as a malloc'd string in *out, NULL for null. what names the field for errors. */
static int scalar_dup(struct yaml_walk *y, const yaml_node_t *n, const char *what, char **out) {
    *out = NULL;
    if (n->type != YAML_SCALAR_NODE)
        return yerr(y, line_of(n), "expected a single value for '%s', got %s", what, node_kind(n));
    if (is_null(n))
        return 0;
    if (has_control(n))
        return yerr(y, line_of(n), "control character in a value");
    *out = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
    return *out ? 0 : oom(y);
}

static int add_bind_path(struct yaml_walk *y, struct mill_cluster *c, const yaml_node_t *n) {
    char *v = NULL;
    int rc = scalar_dup(y, n, "bind_paths", &v);
    if (rc || !v)
        return rc;
    char **grown = realloc(c->bind_paths, (c->n_bind + 1) * sizeof *grown);
    if (!grown) {
        free(v);
        return oom(y);
    }
    c->bind_paths = grown;
    grown[c->n_bind++] = v;
    return 0;
}

/* bind_paths: a list of paths, one path, or null; replacing what a merge key gave. */
static int set_bind_paths(struct yaml_walk *y, struct mill_cluster *c, const yaml_node_t *v) {
    for (size_t i = 0; i < c->n_bind; i++)
        free(c->bind_paths[i]);
    c->n_bind = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return v->type == YAML_MAPPING_NODE
                   ? yerr(y, line_of(v), "expected a list of paths for 'bind_paths', got %s",
                          node_kind(v))
                   : add_bind_path(y, c, v);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        int rc = add_bind_path(y, c, yaml_document_get_node(y->doc, *it));
        if (rc)
            return rc;
    }
    return 0;
}

static int set_num(struct yaml_walk *y, struct mill_cluster *c, int k, const yaml_node_t *v) {
    char *s = NULL, *end;
    int rc = scalar_dup(y, v, NUM_KEYS[k], &s);
    if (rc || !s || !*s) {
        free(s);
        if (!rc)
            c->num[k] = -1;
        return rc;
    }
    errno = 0;
    long long n = strtoll(s, &end, 10);
    int lo = k == MILL_CL_GPUS ? 0 : 1; /* gpus_per_node: 0 is a CPU-only cluster */
    if (*end || errno || n < lo || n > 1000000)
        rc = yerr(y, line_of(v), "'%s' must be a %s integer, got '%s'", NUM_KEYS[k],
                  lo ? "positive" : "non-negative", s);
    else
        c->num[k] = n;
    free(s);
    return rc;
}

/* One "key: value" of cluster c. */
static int set_field(struct yaml_walk *y, struct mill_cluster *c, const yaml_node_t *key,
                     const yaml_node_t *v) {
    char *name = NULL;
    int rc = key->type != YAML_SCALAR_NODE
                 ? yerr(y, line_of(key), "expected a field name, got %s", node_kind(key))
                 : scalar_dup(y, key, "a field name", &name);
    if (!rc && !name)
        rc = yerr(y, line_of(key), "a field of cluster '%s' has no name", c->name);
    if (rc)
        return rc;
    bool known = false;
    if (!strcmp(name, "bind_paths")) {
        known = true;
        rc = set_bind_paths(y, c, v);
    }
    for (int k = 0; !known && k < MILL_CL_N_STR; k++)
        if (!strcmp(name, STR_KEYS[k])) {
            known = true;
            free(c->str[k]);
            c->str[k] = NULL;
            rc = scalar_dup(y, v, STR_KEYS[k], &c->str[k]);
        }
    for (int k = 0; !known && k < MILL_CL_N_NUM; k++)
        if (!strcmp(name, NUM_KEYS[k])) {
            known = true;
            rc = set_num(y, c, k, v);
        }
    if (!known)
        MILL_WARN(MOD, "%s:%zu: unknown key '%s' ignored", y->file, line_of(key), name);
    free(name);
    return rc;
}

static bool is_merge_key(const yaml_node_t *key) {
    return key->type == YAML_SCALAR_NODE && key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           !strcmp((const char *)key->data.scalar.value, "<<");
}

#define MERGE_DEPTH_MAX 16

/* The fields of mapping m into c, with YAML's merge keys as PyYAML's safe_load applies them:
 * `<<: *anchor` (or a list of them) gives the merged mappings' fields, the first listed winning,
 * and the mapping's own fields win over all of them. */
static int set_fields(struct yaml_walk *y, struct mill_cluster *c, const yaml_node_t *m,
                      int depth) {
    if (depth > MERGE_DEPTH_MAX)
        return yerr(y, line_of(m), "merge keys ('<<') nested deeper than %d", MERGE_DEPTH_MAX);
    int rc = 0;
    yaml_node_pair_t *p0 = m->data.mapping.pairs.start, *end = m->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = p0; !rc && p < end; p++) { /* merged first: the own ones win */
        if (!is_merge_key(yaml_document_get_node(y->doc, p->key)))
            continue;
        const yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
        if (v->type == YAML_MAPPING_NODE) {
            rc = set_fields(y, c, v, depth + 1);
            continue;
        }
        if (v->type != YAML_SEQUENCE_NODE)
            return yerr(y, line_of(v),
                        "a merge key ('<<') takes a mapping or a list of them, "
                        "got %s",
                        node_kind(v));
        yaml_node_item_t *i0 = v->data.sequence.items.start, *it = v->data.sequence.items.top;
        while (!rc && it-- > i0) { /* the last first, so the first listed wins */
            const yaml_node_t *e = yaml_document_get_node(y->doc, *it);
            rc = e->type == YAML_MAPPING_NODE
                     ? set_fields(y, c, e, depth + 1)
                     : yerr(y, line_of(e), "a merge key ('<<') lists %s, not a mapping",
                            node_kind(e));
        }
    }
    for (yaml_node_pair_t *p = p0; !rc && p < end; p++) {
        const yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        if (!is_merge_key(k))
            rc = set_field(y, c, k, yaml_document_get_node(y->doc, p->value));
    }
    return rc;
}

/* One "name:" entry followed by its fields (a mapping, or nothing for an empty cluster). */
static int add_cluster(struct yaml_walk *y, const yaml_node_t *key, const yaml_node_t *v) {
    char *name = NULL;
    int rc = key->type != YAML_SCALAR_NODE
                 ? yerr(y, line_of(key), "expected a cluster name, got %s", node_kind(key))
                 : scalar_dup(y, key, "a cluster name", &name);
    if (!rc && (!name || !*name))
        rc = yerr(y, line_of(key), "a cluster has no name");
    if (!rc && v->type != YAML_MAPPING_NODE && !is_null(v)) {
        /* An indented line without ':' below "name:" reads as name's value. */
        if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            v->start_mark.line > key->start_mark.line) {
            int n;
            const char *line = line_text(y, v->start_mark.index, &n);
            rc = yerr(y, line_of(v), "expected 'key: value', got '%.*s'", n, line);
        } else {
            rc = yerr(y, line_of(v),
                      "expected a cluster name followed by ':' and, on the next lines, its "
                      "indented fields; got %s for '%s'",
                      node_kind(v), name);
        }
    }
    for (size_t i = 0; !rc && i < y->set->n; i++)
        if (!strcmp(y->set->v[i].name, name))
            rc = yerr(y, line_of(key), "cluster '%s' is defined twice", name);
    struct mill_cluster *grown = NULL;
    if (!rc && !(grown = realloc(y->set->v, (y->set->n + 1) * sizeof *grown)))
        rc = oom(y);
    if (rc) {
        free(name);
        return rc;
    }
    y->set->v = grown;
    struct mill_cluster *c = &grown[y->set->n++];
    mill_cluster_init(c);
    c->name = name;
    return v->type == YAML_MAPPING_NODE ? set_fields(y, c, v, 0) : 0;
}

static bool is_wrapper(const yaml_node_t *key, const yaml_node_t *v) {
    return key->type == YAML_SCALAR_NODE &&
           !strcmp((const char *)key->data.scalar.value, "clusters") &&
           (v->type == YAML_MAPPING_NODE || is_null(v));
}

static int walk(struct yaml_walk *y) {
    const yaml_node_t *root = yaml_document_get_root_node(y->doc);
    if (!root || is_null(root)) /* nothing but comments */
        return 0;
    if (root->type != YAML_MAPPING_NODE) {
        int n;
        const char *line = line_text(y, root->start_mark.index, &n);
        return yerr(y, line_of(root), "expected 'key: value', got '%.*s'", n, line);
    }
    yaml_node_pair_t *p = root->data.mapping.pairs.start, *end = root->data.mapping.pairs.top;
    if (p < end && is_wrapper(yaml_document_get_node(y->doc, p->key),
                              yaml_document_get_node(y->doc, p->value))) {
        if (p + 1 < end) {
            const yaml_node_t *k = yaml_document_get_node(y->doc, p[1].key);
            int n;
            const char *line = line_text(y, k->start_mark.index, &n);
            const char *colon = memchr(line, ':', n);
            return yerr(y, line_of(k),
                        "unexpected top-level key '%.*s' (clusters go under 'clusters:')",
                        colon ? (int)(colon - line) : n, line);
        }
        root = yaml_document_get_node(y->doc, p->value);
        if (root->type != YAML_MAPPING_NODE)
            return 0;
        p = root->data.mapping.pairs.start;
        end = root->data.mapping.pairs.top;
    }
    for (int rc = 0; p < end; p++)
        if ((rc = add_cluster(y, yaml_document_get_node(y->doc, p->key),
                              yaml_document_get_node(y->doc, p->value))))
            return rc;
    return 0;
}

int mill_clusters_parse(char *text, const char *file, struct mill_cluster_set *set,
                        struct mill_err *err) {
    struct yaml_walk y = {.file = file, .text = text, .len = strlen(text), .set = set, .err = err};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return oom(&y);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, y.len);
    yaml_document_t doc, next;
    int rc;
    if (!yaml_parser_load(&parser, &doc)) { /* libyaml frees doc on failure */
        rc = load_error(&y, &parser);
    } else {
        y.doc = &doc;
        rc = walk(&y);
        /* One document only: a second (after "---") would otherwise be silently ignored. */
        if (!rc && !yaml_parser_load(&parser, &next)) {
            rc = load_error(&y, &parser);
        } else if (!rc) {
            const yaml_node_t *extra = yaml_document_get_root_node(&next);
            if (extra)
                rc = yerr(&y, line_of(extra), "a second YAML document (clusters.yaml holds one)");
            yaml_document_delete(&next);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}
