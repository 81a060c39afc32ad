/* spec.c: the model-spec grammar of BEHAVIOUR.md §1.2. Mill matches `^(.+?)\s*\[(.+)\]\s*$`, splits the
 * inside on ',' then on the first '=', strips keys and values, and coerces values. We accept
 * exactly those specs and turn the inputs Mill would mangle or crash on into clear errors. */
#include "core/spec.h"

#include "core/text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_trim(const char *s, size_t n) {
    mill_ascii_strip_span(s, n, &s, &n);
    return strndup(s, n);
}

void mill_strv_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* item without one pair of matching quotes around it ('a' or "a"), in place. */
static void unquote(char *item) {
    size_t n = strlen(item);
    if (n >= 2 && (item[0] == '\'' || item[0] == '"') && item[n - 1] == item[0]) {
        memmove(item, item + 1, n - 2);
        item[n - 2] = 0;
    }
}

static int split_items(const char *list, const char *shown, bool literal, char ***items, size_t *n,
                       struct mill_err *err);

/* Whether s[0..n) is one bracketed list, "[...]" with the first '[' closed by the last ']':
 * the spelling of a list that Fire hands Python Mill as a list. */
static bool list_literal(const char *s, size_t n) {
    if (n < 2 || s[0] != '[' || s[n - 1] != ']')
        return false;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
        if (depth == 0 && i + 1 < n)
            return false;
    }
    return depth == 0;
}

int mill_spec_split(const char *list, char ***items, size_t *n, struct mill_err *err) {
    const char *s;
    size_t len;
    mill_ascii_strip_span(list, strlen(list), &s, &len);
    if (!list_literal(s, len))
        return split_items(list, list, false, items, n, err);
    char *inner = strndup(s + 1, len - 2);
    int rc = inner ? split_items(inner, list, true, items, n, err)
                   : mill_err_set(err, MILL_ENOMEM, "out of memory");
    free(inner);
    return rc;
}

/* The items of list; shown is the text messages quote. */
static int split_items(const char *list, const char *shown, bool literal, char ***items, size_t *n,
                       struct mill_err *err) {
    *items = NULL;
    *n = 0;
    char **out = NULL;
    size_t k = 0;
    int depth = 0;
    const char *start = list;
    for (const char *p = list;; p++) {
        if (*p == '[')
            depth++;
        else if (*p == ']' && --depth < 0)
            break;
        if ((*p == ',' && depth == 0) || *p == 0) {
            char *item = dup_trim(start, (size_t)(p - start));
            char **grown = item ? realloc(out, (k + 1) * sizeof *out) : NULL;
            if (!grown) {
                free(item);
                mill_strv_free(out, k);
                return mill_err_set(err, MILL_ENOMEM, "out of memory");
            }
            out = grown;
            out[k++] = item;
            if (literal && !*item && *p == 0 && k > 1) {
                free(out[--k]); /* Python's list literal may end with a comma: "[a, b,]" */
                break;
            }
            if (literal)
                unquote(item);
            if (!*item) {
                mill_strv_free(out, k);
                return mill_err_set(err, MILL_EINVAL, "empty item in list '%s'", shown);
            }
            if (*p == 0)
                break;
            start = p + 1;
        }
    }
    if (depth != 0) {
        mill_strv_free(out, k);
        return mill_err_set(err, MILL_EINVAL, "unbalanced brackets in '%s'", shown);
    }
    *items = out;
    *n = k;
    return 0;
}

/* The value of the quant= item inside the brackets of spec: *at, *len; false when none. */
static bool find_quant(const char *spec, const char **at, size_t *len) {
    const char *p = strchr(spec, '[');
    while (p && *p && *p != ']') {
        const char *item = p + 1, *end = item + strcspn(item, ",]");
        while (item < end && isspace((unsigned char)*item))
            item++;
        if (!strncmp(item, "quant", 5)) {
            const char *eq = item + 5;
            while (eq < end && isspace((unsigned char)*eq))
                eq++;
            if (eq < end && *eq == '=') {
                *at = eq + 1;
                *len = (size_t)(end - *at);
                return true;
            }
        }
        p = end;
    }
    return false;
}

int mill_spec_sweep(const char *spec, char ***items, size_t *n, struct mill_err *err) {
    const char *at = NULL;
    size_t len = 0;
    *items = NULL;
    *n = 0;
    bool sweep = find_quant(spec, &at, &len) && memchr(at, ';', len);
    size_t k = 0, cap = sweep ? 1 : 0;
    for (size_t i = 0; sweep && i < len; i++)
        cap += at[i] == ';';
    char **out = calloc(cap ? cap : 1, sizeof *out);
    if (!out)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!sweep) {
        if (!(out[0] = strdup(spec))) {
            free(out);
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        *items = out;
        *n = 1;
        return 0;
    }
    for (const char *t = at, *end = at + len; t <= end && k < cap; k++) {
        const char *semi = memchr(t, ';', (size_t)(end - t));
        const char *stop = semi ? semi : end;
        char *tag = dup_trim(t, (size_t)(stop - t));
        if (!tag || !*tag ||
            asprintf(&out[k], "%.*s%s%s", (int)(at - spec), spec, tag, at + len) < 0) {
            bool empty = tag && !*tag;
            free(tag);
            out[k] = NULL;
            mill_strv_free(out, k);
            return empty ? mill_err_set(err, MILL_EINVAL,
                                        "model spec '%s': empty tag in quant=", spec)
                         : mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        free(tag);
        t = stop + 1;
    }
    *items = out;
    *n = k;
    return 0;
}

/* Python allows '_' between digits in int() and float() (PEP 515): "1_000" -> 1000. Copies s
 * without those underscores into out; false when an underscore is misplaced. */
static bool drop_digit_underscores(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '_') {
            if (!i || !isdigit((unsigned char)s[i - 1]) || !isdigit((unsigned char)s[i + 1]))
                return false;
            continue;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = s[i];
    }
    out[n] = 0;
    return true;
}

int mill_spec_coerce(const char *s, struct mill_value *out) {
    if (!strcasecmp(s, "true") || !strcasecmp(s, "false")) {
        mill_value_bool(out, tolower((unsigned char)s[0]) == 't');
        return 0;
    }
    char num[256], *end;
    const char *body = s + (*s == '+' || *s == '-');
    bool numeric = *s && !isspace((unsigned char)*s) &&
                   drop_digit_underscores(s, num, sizeof num) && strncasecmp(body, "0x", 2) != 0;
    errno = 0;
    long long i = numeric ? strtoll(num, &end, 10) : 0;
    if (numeric && *end == 0 && errno == 0) {
        mill_value_int(out, i);
        return 0;
    }
    errno = 0;
    double f = numeric ? strtod(num, &end) : 0;
    /* strtod also takes "nan(...)" and hex floats, which Python's float() does not. */
    if (numeric && *end == 0 && !strchr(num, '(') && !strpbrk(num, "pP")) {
        mill_value_float(out, f);
        return 0;
    }
    return mill_value_str(out, s, strlen(s));
}

static int parse_args(const char *spec, const char *inside, size_t len, struct mill_value *args,
                      struct mill_err *err) {
    char *body = strndup(inside, len);
    if (!body)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = 0;
    char *save = body;
    bool after_rpc = false; /* the item before was rpc=: hint at Mill's server separator */
    for (char *item = body; item && rc == 0;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = 0;
        char *eq = strchr(item, '=');
        char *key = eq ? dup_trim(item, (size_t)(eq - item)) : NULL;
        char *val = eq ? dup_trim(eq + 1, strlen(eq + 1)) : NULL;
        struct mill_value v;
        if (!eq)
            rc = mill_err_set(err, MILL_EINVAL,
                              "malformed model spec '%s': '%s' is not key=value%s", spec, item,
                              after_rpc ? " (separate several rpc servers with ';')" : "");
        else if (!key || !val)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else if (!*key)
            rc = mill_err_set(err, MILL_EINVAL, "malformed model spec '%s': empty key in '%s'",
                              spec, item);
        else if ((rc = mill_spec_coerce(val, &v)) == 0 &&
                 (rc = mill_value_struct_set(args, key, &v)) != 0)
            mill_value_free(&v);
        if (rc == MILL_ENOMEM)
            mill_err_set(err, rc, "out of memory");
        after_rpc = key && !strcmp(key, "rpc");
        free(key);
        free(val);
        item = comma ? comma + 1 : NULL;
    }
    free(save);
    return rc;
}

/* The password of a URL's user information ("scheme://user:password@host"). */
static void mask_url_passwords(char *text) {
    for (char *p = strstr(text, "://"); p; p = strstr(p + 1, "://")) {
        char *colon = NULL, *e = p + 3;
        /* a password may hold almost anything: masking too much beats showing some of it */
        for (; *e && !strchr("/@?# \t\n'\",]", *e); e++)
            if (*e == ':' && !colon)
                colon = e;
        if (*e == '@' && colon)
            for (char *v = colon + 1; v < e; v++)
                *v = '*';
    }
}

void mill_spec_mask_secrets(char *text) {
    if (!text)
        return;
    for (char *p = strstr(text, "api_key"); p; p = strstr(p + 1, "api_key")) {
        char *v = p + 7;
        while (*v == ' ')
            v++;
        if (*v != '=')
            continue;
        for (v++; *v == ' '; v++) /* "api_key = k" as a spec may be spelled */
            ;
        for (; *v && !strchr(",]' \t\r\n\")", *v); v++) /* the value: up to what ends one */
            *v = '*';
    }
    mask_url_passwords(text);
}

static int parse_spec(const char *s, struct mill_model_spec *spec, struct mill_err *err);

/* Errors quote the spec: an api_key's value in it is masked. */
int mill_spec_parse(const char *s, struct mill_model_spec *spec, struct mill_err *err) {
    int rc = parse_spec(s, spec, err);
    if (rc)
        mill_spec_mask_secrets(err->msg);
    return rc;
}

static int parse_spec(const char *s, struct mill_model_spec *spec, struct mill_err *err) {
    memset(spec, 0, sizeof *spec);
    mill_value_struct(&spec->args);
    if (!(spec->raw = strdup(s)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    const char *open = strchr(s, '[');
    const char *close = strrchr(s, ']');
    int rc = 0;
    if (!open && !close) {
        spec->type = dup_trim(s, strlen(s));
    } else if (!open || !close || close < open) {
        rc = mill_err_set(err, MILL_EINVAL, "malformed model spec '%s': unbalanced brackets", s);
    } else {
        const char *tail = close + 1;
        while (isspace((unsigned char)*tail))
            tail++;
        spec->type = dup_trim(s, (size_t)(open - s));
        if (*tail)
            rc = mill_err_set(err, MILL_EINVAL,
                              "malformed model spec '%s': unexpected text after ']'", s);
        else if (close == open + 1)
            rc = mill_err_set(err, MILL_EINVAL,
                              "malformed model spec '%s': empty brackets (write name[k=v,...])", s);
        else if (memchr(open + 1, '[', (size_t)(close - open - 1)) ||
                 memchr(open + 1, ']', (size_t)(close - open - 1)))
            rc = mill_err_set(err, MILL_EINVAL,
                              "malformed model spec '%s': nested brackets (a value cannot hold "
                              "'[' or ']')",
                              s);
        else if (spec->type)
            rc = parse_args(s, open + 1, (size_t)(close - open - 1), &spec->args, err);
    }
    if (rc == 0 && !spec->type)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc == 0 && !*spec->type)
        rc = mill_err_set(err, MILL_EINVAL, "malformed model spec '%s': empty model name", s);
    if (rc)
        mill_spec_free(spec);
    return rc;
}

void mill_spec_free(struct mill_model_spec *spec) {
    if (!spec)
        return;
    free(spec->raw);
    free(spec->type);
    mill_value_free(&spec->args);
    memset(spec, 0, sizeof *spec);
}

char *mill_spec_sweep_name(const char *model, const struct mill_model_spec *file) {
    char *name = NULL;
    return asprintf(&name, "%s:%s", model, mill_spec_get_str(file, "quant", "")) < 0 ? NULL : name;
}

const char *mill_spec_get_str(const struct mill_model_spec *s, const char *key, const char *def) {
    const struct mill_value *v = mill_value_get(&s->args, key);
    if (!v)
        return def;
    return v->kind == MILL_V_STR ? v->u.s.p : NULL;
}

/* Argument key's value v as an integer, or MILL_EINVAL naming the spec and the key. */
static int int_value(const struct mill_model_spec *s, const char *key, const struct mill_value *v,
                     int64_t *out, struct mill_err *err) {
    if (v->kind == MILL_V_FLOAT && fabs(v->u.f) >= 0x1p63 && v->u.f == floor(v->u.f))
        return mill_err_set(err, MILL_EINVAL, "model spec '%s': %s is out of range", s->raw, key);
    if (v->kind != MILL_V_INT)
        return mill_err_set(err, MILL_EINVAL, "model spec '%s': %s must be an integer", s->raw,
                            key);
    *out = v->u.i;
    return 0;
}

/* Argument key's value v as a boolean (true/false, or 1/0), else MILL_EINVAL. */
static int bool_value(const struct mill_model_spec *s, const char *key, const struct mill_value *v,
                      bool *out, struct mill_err *err) {
    if (v->kind == MILL_V_INT && (v->u.i == 0 || v->u.i == 1)) {
        *out = v->u.i;
        return 0;
    }
    if (v->kind != MILL_V_BOOL)
        return mill_err_set(err, MILL_EINVAL, "model spec '%s': %s must be true or false", s->raw,
                            key);
    *out = v->u.b;
    return 0;
}

int mill_spec_get_int(const struct mill_model_spec *s, const char *key, int64_t def, int64_t *out,
                      struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&s->args, key);
    *out = def;
    return v ? int_value(s, key, v, out, err) : 0;
}

int mill_spec_get_bool(const struct mill_model_spec *s, const char *key, bool def, bool *out,
                       struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&s->args, key);
    *out = def;
    return v ? bool_value(s, key, v, out, err) : 0;
}

/* ---- backend argument tables ------------------------------------------------------------- */

const struct mill_backend_arg *mill_spec_arg_find(const struct mill_backend_arg *args,
                                                  const char *name) {
    for (const struct mill_backend_arg *a = args; a && a->name; a++)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}

static int check_table_keys(const struct mill_model_spec *s, const struct mill_backend_arg *args,
                            struct mill_err *err) {
    for (size_t i = 0; i < s->args.u.obj.n; i++) {
        const char *k = s->args.u.obj.keys[i];
        if (!mill_spec_arg_find(args, k))
            return mill_err_set(err, MILL_EINVAL, "model spec '%s': unknown argument '%s'", s->raw,
                                k);
    }
    return 0;
}

/* The argument's default into v; false when it has none or the backend computes it. */
static bool literal_default(const struct mill_backend_arg *a, struct mill_value *v) {
    if (!a->def || a->def[0] == '(')
        return false;
    if (a->type == MILL_ARG_STR) {
        v->kind = MILL_V_STR;
        v->u.s.p = (char *)a->def;
        v->u.s.n = strlen(a->def);
        return true;
    }
    struct mill_value c;
    if (mill_spec_coerce(a->def, &c))
        return false;
    if ((a->type == MILL_ARG_INT && c.kind == MILL_V_INT) ||
        (a->type == MILL_ARG_BOOL && c.kind == MILL_V_BOOL)) {
        *v = c;
        return true;
    }
    mill_value_free(&c); /* a table whose default is not of its type: a bug, caught by tests */
    return false;
}

static int store_arg(const struct mill_model_spec *s, const struct mill_backend_arg *a,
                     const struct mill_value *v, char *field, struct mill_err *err) {
    switch (a->type) {
    case MILL_ARG_STR:
        if (v->kind != MILL_V_STR)
            return mill_err_set(err, MILL_EINVAL, "model spec '%s': %s must be a string", s->raw,
                                a->name);
        free(*(char **)field);
        return (*(char **)field = strdup(v->u.s.p))
                   ? 0
                   : mill_err_set(err, MILL_ENOMEM, "out of memory");
    case MILL_ARG_INT: {
        int64_t i = 0;
        int rc = int_value(s, a->name, v, &i, err);
        if (!rc && (i < a->min || i > a->max))
            rc = mill_err_set(err, MILL_EINVAL, "model spec '%s': %s must be between %lld and %lld",
                              s->raw, a->name, (long long)a->min, (long long)a->max);
        if (!rc)
            *(int64_t *)field = i;
        return rc;
    }
    case MILL_ARG_BOOL: return bool_value(s, a->name, v, (bool *)field, err);
    default: return 0;
    }
}

int mill_spec_apply_args(const struct mill_model_spec *s, const struct mill_backend_arg *args,
                         void *target, struct mill_err *err) {
    int rc = check_table_keys(s, args, err);
    for (const struct mill_backend_arg *a = args; !rc && a && a->name; a++) {
        if (a->type != MILL_ARG_STR && a->type != MILL_ARG_INT && a->type != MILL_ARG_BOOL)
            continue;
        const struct mill_value *v = mill_value_get(&s->args, a->name);
        struct mill_value def = {0};
        if (!v && literal_default(a, &def))
            v = &def;
        if (v)
            rc = store_arg(s, a, v, (char *)target + a->offset, err);
    }
    return rc;
}

void mill_spec_free_args(const struct mill_backend_arg *args, void *target) {
    for (const struct mill_backend_arg *a = args; target && a && a->name; a++)
        if (a->type == MILL_ARG_STR) {
            char **f = (char **)((char *)target + a->offset);
            free(*f);
            *f = NULL;
        }
}

int mill_spec_args_help(const struct mill_backend_arg *args, struct mill_buf *out) {
    static const char *const types[] = {"string", "integer", "bool", "see doc", "ignored"};
    int rc = 0;
    for (const struct mill_backend_arg *a = args; !rc && a && a->name; a++)
        rc = mill_buf_addf(out, "    %-20s  %-8s  %-22s  %s\n", a->name, types[a->type],
                           a->def ? a->def : "-", a->doc ? a->doc : "");
    return rc;
}
