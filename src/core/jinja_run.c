/* jinja_run.c: renders a parsed chat template (jinja.c) as Jinja 3.1 does under transformers'
 * apply_chat_template: Python's values and operators (ints, floats, str, list, tuple, dict,
 * None, Jinja's Undefined), Jinja's scoping (a loop body and a macro have their own; if does
 * not; namespace() objects carry values out of loops), the loop object, the filters, tests,
 * globals and str/dict methods chat templates use, and transformers' tojson (json.dumps with
 * ensure_ascii=False). Output of a value is Python's str(): "None", "True", repr() of floats,
 * lists and dicts.
 *
 * Undefined follows jinja2.Undefined: it prints as "", is false, iterates as empty, has length
 * 0, and fails on attribute access, item access or arithmetic. str.format(), "%" on strings
 * and the format filter are Python's (the values rendered by core/pyformat.c; the "!a"
 * conversion, "%a" and "*" widths are refused). Known gaps, all refused with an error rather
 * than rendered otherwise: filters and methods not listed below; upper/lower/title/capitalize
 * change ASCII letters only.
 *
 * Everything a render allocates comes from one arena (jinja_impl.h) or from output buffers the
 * run tracks, so an error can unwind with longjmp from any depth without leaking. Bounded: call
 * depth, loop steps, range() length, output and memory. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/jinja_impl.h"
#include "core/pycase.h"
#include "core/pyformat.h"
#include "core/text.h"

#define ARENA_LIMIT (256u << 20)
#define OUT_LIMIT (64u << 20)
#define MAX_STEPS 20000000ull
#define MAX_CALL_DEPTH 32
#define MAX_RANGE 100000    /* jinja2.sandbox.MAX_RANGE */
#define MAX_VALUE_DEPTH 200 /* lists and dicts inside each other (printed, compared) */
#define MAX_EVAL_DEPTH 2000 /* expressions being evaluated inside each other, macros included */

struct jfunc {
    int id;
    struct jv self;
};

struct frame {
    struct frame *up;
    struct jdict vars;
};

/* A macro: its definition and the scope it was defined in (what its body sees). */
struct jmacro {
    const struct jnode *n;
    struct frame *scope;
};

struct bufnode {
    struct mill_buf b;
    struct bufnode *all, *free; /* every buffer made; those free for reuse */
};

struct run {
    struct jarena a;
    struct mill_err *err;
    struct mill_buf *out; /* where text goes now */
    struct frame *frame;  /* the innermost scope now */
    struct bufnode *bufs, *free_b;
    int depth, ctl, line; /* depth: macro calls; ctl: 1 break, 2 continue */
    int edepth;           /* eval() calls on the C stack */
    size_t live;          /* bytes in the buffers, all of them together */
    uint64_t steps;
};

static const struct jv NONE = {.k = J_NONE};

static _Noreturn void fail(struct run *R, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void fail(struct run *R, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mill_err_set(R->err, MILL_EFORMAT, "chat template line %d: %s", R->line, msg);
    longjmp(*R->a.fail, 1);
}

static void ck(struct run *R, int rc) {
    if (rc) {
        mill_err_set(R->err, MILL_ENOMEM, "out of memory");
        longjmp(*R->a.fail, 1);
    }
}

/* Counts work against the step budget (a scan of n items is n steps). */
static void charge(struct run *R, size_t work) {
    R->steps += work;
    if (R->steps > MAX_STEPS)
        fail(R, "more than %llu steps", MAX_STEPS);
}

/* Every byte held in the run's buffers counts against one limit (R->live). */
static void grew(struct run *R, const struct mill_buf *b, size_t before) {
    R->live += b->n - before;
    if (R->live > OUT_LIMIT)
        fail(R, "text over %u MiB", OUT_LIMIT >> 20);
}

static void put(struct run *R, struct mill_buf *b, const char *p, size_t n) {
    if (n > OUT_LIMIT - R->live)
        fail(R, "text over %u MiB", OUT_LIMIT >> 20);
    ck(R, mill_buf_add(b, p, n));
    R->live += n;
}

/* An integer, or a float as Python's repr() (json: as json.dumps writes it). */
static void put_num(struct run *R, struct mill_buf *b, const struct jv *v, bool json) {
    size_t n0 = b->n;
    if (v->k == J_INT)
        ck(R, mill_buf_addf(b, "%lld", (long long)v->u.i));
    else
        ck(R, json ? mill_buf_add_json_num(b, v->u.f) : mill_buf_add_pyfloat(b, v->u.f));
    grew(R, b, n0);
}

static void puts_(struct run *R, struct mill_buf *b, const char *s) { put(R, b, s, strlen(s)); }

static struct mill_buf *buf_get(struct run *R) {
    struct bufnode *n = R->free_b;
    if (n) {
        R->free_b = n->free;
    } else {
        n = calloc(1, sizeof *n);
        ck(R, !n);
        n->all = R->bufs;
        R->bufs = n;
    }
    mill_buf_reset(&n->b);
    return &n->b;
}

/* Gives a buffer from buf_get back for reuse; its text as an arena string. */
static struct jv buf_done(struct run *R, struct mill_buf *b) {
    struct jv v = {.k = J_STR, .u.s = {mill_jstrdup(&R->a, b->p ? b->p : "", b->n), b->n}};
    R->live -= b->n;
    if (b->cap > (1u << 20)) /* a big one is not kept for reuse */
        mill_buf_free(b);
    struct bufnode *n = (struct bufnode *)(void *)((char *)b - offsetof(struct bufnode, b));
    n->free = R->free_b;
    R->free_b = n;
    return v;
}

static size_t cp_len(unsigned char c) { return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }

/* The bytes of the code point at s[i], never past s[n] (invalid UTF-8 counts what is there). */
static size_t cpw(const char *s, size_t i, size_t n) {
    size_t w = cp_len((unsigned char)s[i]);
    return w < n - i ? w : n - i;
}

/* ---- values ---- */

static struct jv vstr(struct run *R, const char *p, size_t n) {
    return (struct jv){.k = J_STR, .u.s = {mill_jstrdup(&R->a, p, n), n}};
}

static struct jv vstrz(const char *s) { return (struct jv){.k = J_STR, .u.s = {s, strlen(s)}}; }
static struct jv vint(int64_t i) { return (struct jv){.k = J_INT, .u.i = i}; }
static struct jv vbool(bool b) { return (struct jv){.k = J_BOOL, .u.b = b}; }
static struct jv vundef(const char *why) { return (struct jv){.k = J_UNDEF, .u.why = why}; }

static struct jv vlist(struct run *R, size_t cap) {
    struct jlist *l = mill_jalloc(&R->a, sizeof *l);
    if (cap) {
        l->v = mill_jalloc(&R->a, cap * sizeof *l->v);
        l->cap = cap;
    }
    return (struct jv){.k = J_LIST, .u.l = l};
}

static void lpush(struct run *R, struct jlist *l, struct jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct jv *nv = mill_jalloc(&R->a, cap * sizeof *nv);
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv, l->cap = cap;
    }
    l->v[l->n++] = v;
}

static struct jv vdict(struct run *R) {
    return (struct jv){.k = J_DICT, .u.d = mill_jalloc(&R->a, sizeof(struct jdict))};
}

static bool eq(struct run *R, const struct jv *a, const struct jv *b);

/* d[key], or NULL; R (NULL for a name lookup) pays for the comparisons. */
static struct jv *dget(struct run *R, const struct jdict *d, const struct jv *key) {
    for (size_t i = 0; i < d->n; i++)
        if (eq(R, &d->key[i], key))
            return &d->val[i];
    return NULL;
}

static struct jv *dgets(const struct jdict *d, const char *key) {
    struct jv k = vstrz(key);
    return dget(NULL, d, &k);
}

static void charge(struct run *R, size_t work);

static void dset(struct run *R, struct jdict *d, struct jv key, struct jv val) {
    charge(R, d->n); /* a linear scan: big dicts built in loops count their cost */
    struct jv *old = dget(R, d, &key);
    if (old) {
        *old = val;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct jv *k = mill_jalloc(&R->a, cap * sizeof *k),
                  *v = mill_jalloc(&R->a, cap * sizeof *v);
        if (d->n) {
            memcpy(k, d->key, d->n * sizeof *k);
            memcpy(v, d->val, d->n * sizeof *v);
        }
        d->key = k, d->val = v, d->cap = cap;
    }
    d->key[d->n] = key;
    d->val[d->n++] = val;
}

static struct jv vfunc(struct run *R, int id, struct jv self) {
    struct jfunc *f = mill_jalloc(&R->a, sizeof *f);
    f->id = id, f->self = self;
    return (struct jv){.k = J_FUNC, .u.fn = f};
}

/* The variables handed in: strings are not copied (they outlive the render). */
static struct jv from_value(struct run *R, const struct mill_value *v, int depth) {
    if (depth > 64)
        fail(R, "variables nested more than 64 deep");
    switch (v->kind) {
    case MILL_V_NULL: return NONE;
    case MILL_V_BOOL: return vbool(v->u.b);
    case MILL_V_INT: return vint(v->u.i);
    case MILL_V_FLOAT: return (struct jv){.k = J_FLOAT, .u.f = v->u.f};
    case MILL_V_STR:
    case MILL_V_BYTES: return (struct jv){.k = J_STR, .u.s = {v->u.s.p, v->u.s.n}};
    case MILL_V_LIST: {
        struct jv l = vlist(R, v->u.list.n);
        for (size_t i = 0; i < v->u.list.n; i++)
            lpush(R, l.u.l, from_value(R, &v->u.list.items[i], depth + 1));
        return l;
    }
    case MILL_V_STRUCT: {
        struct jv d = vdict(R);
        for (size_t i = 0; i < v->u.obj.n; i++)
            dset(R, d.u.d, vstrz(v->u.obj.keys[i]), from_value(R, &v->u.obj.vals[i], depth + 1));
        return d;
    }
    }
    return NONE;
}

/* ---- truth, equality, order ---- */

static bool is_num(const struct jv *v) {
    return v->k == J_BOOL || v->k == J_INT || v->k == J_FLOAT;
}

static double num(const struct jv *v) {
    return v->k == J_FLOAT ? v->u.f : v->k == J_INT ? (double)v->u.i : (double)v->u.b;
}

static int64_t ival(const struct jv *v) { return v->k == J_INT ? v->u.i : (int64_t)v->u.b; }

static bool truthy(const struct jv *v) {
    switch (v->k) {
    case J_UNDEF:
    case J_NONE: return false;
    case J_BOOL: return v->u.b;
    case J_INT: return v->u.i != 0;
    case J_FLOAT: return v->u.f != 0;
    case J_STR: return v->u.s.n != 0;
    case J_LIST: return v->u.l->lazy || v->u.l->n != 0;
    case J_DICT: return v->u.d->ns || v->u.d->n != 0;
    default: return true;
    }
}

/* Python's ==; past MAX_VALUE_DEPTH (a namespace can hold itself) unequal. */
static bool eq_at(struct run *R, const struct jv *a, const struct jv *b, int depth) {
    if (depth > MAX_VALUE_DEPTH)
        return false;
    if (R) /* each node compared is a step; a long string a step per 64 bytes */
        charge(R, 1 + (a->k == J_STR ? a->u.s.n / 64 : 0));
    if (is_num(a) && is_num(b)) {
        if (a->k != J_FLOAT && b->k != J_FLOAT)
            return ival(a) == ival(b);
        return num(a) == num(b);
    }
    if (a->k != b->k)
        return false;
    switch (a->k) {
    case J_UNDEF:
    case J_NONE: return true;
    case J_STR: return a->u.s.n == b->u.s.n && !memcmp(a->u.s.p, b->u.s.p, a->u.s.n);
    case J_LIST:
        if (a->u.l == b->u.l)
            return true;
        if (a->u.l->n != b->u.l->n || a->u.l->tuple != b->u.l->tuple)
            return false;
        for (size_t i = 0; i < a->u.l->n; i++)
            if (!eq_at(R, &a->u.l->v[i], &b->u.l->v[i], depth + 1))
                return false;
        return true;
    case J_DICT:
        if (a->u.d == b->u.d)
            return true;
        if (a->u.d->ns || b->u.d->ns || a->u.d->n != b->u.d->n)
            return false;
        for (size_t i = 0; i < a->u.d->n; i++) {
            const struct jv *o = dget(R, b->u.d, &a->u.d->key[i]);
            if (!o || !eq_at(R, &a->u.d->val[i], o, depth + 1))
                return false;
        }
        return true;
    case J_FUNC: return a->u.fn == b->u.fn;
    case J_MACRO: return a->u.macro == b->u.macro;
    default: return false;
    }
}

static bool eq(struct run *R, const struct jv *a, const struct jv *b) { return eq_at(R, a, b, 0); }

static const char *type_name(const struct jv *v) {
    static const char *const names[] = {"Undefined", "NoneType", "bool", "int",      "float",
                                        "str",       "list",     "dict", "function", "macro"};
    if (v->k == J_LIST && v->u.l->tuple)
        return "tuple";
    if (v->k == J_LIST && v->u.l->lazy)
        return "generator";
    if (v->k == J_DICT && v->u.d->ns)
        return "Namespace";
    return names[v->k];
}

static int cmp_at(struct run *R, const struct jv *a, const struct jv *b, int depth) {
    if (depth > MAX_VALUE_DEPTH)
        fail(R, "values nested more than %d deep", MAX_VALUE_DEPTH);
    charge(R, 1 + (a->k == J_STR ? a->u.s.n / 64 : 0));
    if (is_num(a) && is_num(b)) {
        if (a->k != J_FLOAT && b->k != J_FLOAT)
            return (ival(a) > ival(b)) - (ival(a) < ival(b));
        return (num(a) > num(b)) - (num(a) < num(b));
    }
    if (a->k == J_STR && b->k == J_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int c = memcmp(a->u.s.p, b->u.s.p, n);
        return c ? (c > 0) - (c < 0) : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    if (a->k == J_LIST && b->k == J_LIST) {
        for (size_t i = 0; i < a->u.l->n && i < b->u.l->n; i++)
            if (!eq(R, &a->u.l->v[i], &b->u.l->v[i]))
                return cmp_at(R, &a->u.l->v[i], &b->u.l->v[i], depth + 1);
        return (a->u.l->n > b->u.l->n) - (a->u.l->n < b->u.l->n);
    }
    fail(R, "'<' not supported between '%s' and '%s'", type_name(a), type_name(b));
}

static int cmp(struct run *R, const struct jv *a, const struct jv *b) { return cmp_at(R, a, b, 0); }

/* ---- str(), repr(), json ---- */

static void write_str_at(struct run *R, struct mill_buf *b, const struct jv *v, int depth);

/* Whether Python's repr() escapes code point cp >= 0x80: not str.isprintable(), that is the
 * C1 controls, the space separators but ' ', the line and paragraph separators, the format
 * characters and private use (unassigned code points, also escaped by Python, are not
 * listed). */
static bool py_nonprintable(uint32_t cp) {
    static const uint32_t ranges[][2] = {
        {0x80, 0xa0},       {0xad, 0xad},       {0x600, 0x605},      {0x61c, 0x61c},
        {0x6dd, 0x6dd},     {0x70f, 0x70f},     {0x890, 0x891},      {0x8e2, 0x8e2},
        {0x1680, 0x1680},   {0x180e, 0x180e},   {0x2000, 0x200f},    {0x2028, 0x202f},
        {0x205f, 0x2064},   {0x2066, 0x206f},   {0x3000, 0x3000},    {0xd800, 0xf8ff},
        {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0xfffe, 0xffff},    {0x110bd, 0x110bd},
        {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},  {0x1d173, 0x1d17a},
        {0xe0001, 0xe0001}, {0xe0020, 0xe007f}, {0xf0000, 0x10ffff},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return true;
    return false;
}

/* Python's repr() of a str: quotes chosen as Python does, escapes for backslash, the quote,
 * \n \r \t, other controls and the non-printable characters (\xNN, \uNNNN, \UNNNNNNNN). */
static void write_repr_str(struct run *R, struct mill_buf *b, const char *s, size_t n) {
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    put(R, b, &q, 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t w = mill_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!w) /* an ill-formed byte stands for itself */
            w = 1, cp = c;
        char esc[12];
        if (c == (unsigned char)q || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n' || c == '\r' || c == '\t')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c < 0x20 || c == 0x7f || (cp >= 0x80 && py_nonprintable(cp)))
            snprintf(esc, sizeof esc,
                     cp < 0x100     ? "\\x%02x"
                     : cp < 0x10000 ? "\\u%04x"
                                    : "\\U%08x",
                     cp);
        else
            esc[0] = 0;
        if (esc[0])
            puts_(R, b, esc);
        else
            put(R, b, s + i, w);
        i += w;
    }
    put(R, b, &q, 1);
}

static void write_repr(struct run *R, struct mill_buf *b, const struct jv *v, int depth) {
    if (v->k == J_STR)
        write_repr_str(R, b, v->u.s.p, v->u.s.n);
    else if (v->k == J_UNDEF)
        puts_(R, b, "Undefined");
    else
        write_str_at(R, b, v, depth);
}

static void write_str_at(struct run *R, struct mill_buf *b, const struct jv *v, int depth) {
    if (depth > MAX_VALUE_DEPTH)
        fail(R, "values nested more than %d deep", MAX_VALUE_DEPTH);
    switch (v->k) {
    case J_UNDEF: return;
    case J_NONE: puts_(R, b, "None"); return;
    case J_BOOL: puts_(R, b, v->u.b ? "True" : "False"); return;
    case J_INT:
    case J_FLOAT: put_num(R, b, v, false); return;
    case J_STR: put(R, b, v->u.s.p, v->u.s.n); return;
    case J_LIST: {
        const struct jlist *l = v->u.l;
        if (l->lazy) {
            puts_(R, b, "<generator object>");
            return;
        }
        puts_(R, b, l->tuple ? "(" : "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                puts_(R, b, ", ");
            write_repr(R, b, &l->v[i], depth + 1);
        }
        puts_(R, b, l->tuple ? (l->n == 1 ? ",)" : ")") : "]");
        return;
    }
    case J_DICT: {
        const struct jdict *d = v->u.d;
        puts_(R, b, d->ns ? "<Namespace {" : "{");
        for (size_t i = 0; i < d->n; i++) {
            if (i)
                puts_(R, b, ", ");
            write_repr(R, b, &d->key[i], depth + 1);
            puts_(R, b, ": ");
            write_repr(R, b, &d->val[i], depth + 1);
        }
        puts_(R, b, d->ns ? "}>" : "}");
        return;
    }
    case J_FUNC: puts_(R, b, "<built-in function>"); return;
    case J_MACRO:
        puts_(R, b, "<Macro '");
        puts_(R, b, v->u.macro->n->s);
        puts_(R, b, "'>");
        return;
    }
}

static void write_str(struct run *R, struct mill_buf *b, const struct jv *v) {
    write_str_at(R, b, v, 0);
}

static struct jv to_str(struct run *R, const struct jv *v) {
    if (v->k == J_STR)
        return *v;
    struct mill_buf *b = buf_get(R);
    write_str(R, b, v);
    return buf_done(R, b);
}

struct json_opts {
    int indent; /* < 0: none */
    const char *item_sep, *key_sep;
    bool sort_keys, ascii;
};

static void json_str(struct run *R, struct mill_buf *b, const char *s, size_t n, bool ascii) {
    size_t start = b->n;
    if (n > (OUT_LIMIT - R->live) / 6) /* an escape is at most 6 bytes a byte */
        fail(R, "text over %u MiB", OUT_LIMIT >> 20);
    ck(R, mill_buf_add_json_str(b, s, n));
    grew(R, b, start);
    if (!ascii)
        return;
    /* ensure_ascii: every non-ASCII character as \uXXXX (surrogate pairs above U+FFFF) */
    size_t len = b->n - start;
    char *copy = mill_jstrdup(&R->a, b->p + start, len);
    R->live -= len;
    b->n = start;
    b->p[start] = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)copy[i];
        if (c == 0x7f) { /* json.dumps escapes all but space..~ */
            puts_(R, b, "\\u007f");
            i++;
            continue;
        }
        if (c < 0x80) {
            put(R, b, copy + i++, 1);
            continue;
        }
        uint32_t cp; /* well-formed: the JSON writer replaced what was not */
        size_t w = mill_utf8_next((const unsigned char *)copy + i, len - i, &cp);
        i += w ? w : 1;
        char esc[16];
        if (cp >= 0x10000)
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                     0xDC00 + ((cp - 0x10000) & 0x3FF));
        else
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        puts_(R, b, esc);
    }
}

static void json_nl(struct run *R, struct mill_buf *b, const struct json_opts *o, int level) {
    if (o->indent < 0)
        return;
    puts_(R, b, "\n");
    for (int i = 0; i < o->indent * level; i++)
        puts_(R, b, " ");
}

static void write_json(struct run *R, struct mill_buf *b, const struct jv *v,
                       const struct json_opts *o, int level) {
    if (level > MAX_VALUE_DEPTH)
        fail(R, "tojson: values nested more than %d deep", MAX_VALUE_DEPTH);
    switch (v->k) {
    case J_NONE: puts_(R, b, "null"); return;
    case J_BOOL: puts_(R, b, v->u.b ? "true" : "false"); return;
    case J_INT:
    case J_FLOAT: put_num(R, b, v, true); return;
    case J_STR: json_str(R, b, v->u.s.p, v->u.s.n, o->ascii); return;
    case J_LIST: {
        const struct jlist *l = v->u.l;
        if (l->lazy) /* json.dumps takes no generator */
            break;
        puts_(R, b, "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                puts_(R, b, o->item_sep);
            json_nl(R, b, o, level + 1);
            write_json(R, b, &l->v[i], o, level + 1);
        }
        if (l->n)
            json_nl(R, b, o, level);
        puts_(R, b, "]");
        return;
    }
    case J_DICT: {
        const struct jdict *d = v->u.d;
        if (d->ns)
            break;
        size_t *order = mill_jalloc(&R->a, (d->n ? d->n : 1) * sizeof *order);
        for (size_t i = 0; i < d->n; i++)
            order[i] = i;
        for (size_t i = 1; o->sort_keys && i < d->n; i++)
            for (size_t j = i; j > 0 && cmp(R, &d->key[order[j - 1]], &d->key[order[j]]) > 0; j--) {
                size_t t = order[j];
                order[j] = order[j - 1], order[j - 1] = t;
            }
        puts_(R, b, "{");
        for (size_t i = 0; i < d->n; i++) {
            const struct jv *k = &d->key[order[i]];
            if (i)
                puts_(R, b, o->item_sep);
            json_nl(R, b, o, level + 1);
            if (k->k == J_STR) {
                json_str(R, b, k->u.s.p, k->u.s.n, o->ascii);
            } else if (k->k == J_INT || k->k == J_FLOAT || k->k == J_BOOL || k->k == J_NONE) {
                puts_(R, b, "\"");
                write_json(R, b, k, o, level + 1);
                puts_(R, b, "\"");
            } else {
                fail(R, "tojson: keys must be str, int, float, bool or None, not %s", type_name(k));
            }
            puts_(R, b, o->key_sep);
            write_json(R, b, &d->val[order[i]], o, level + 1);
        }
        if (d->n)
            json_nl(R, b, o, level);
        puts_(R, b, "}");
        return;
    }
    default: break;
    }
    fail(R, "tojson: Object of type %s is not JSON serializable", type_name(v));
}

/* ---- strings by code point ---- */

/* Byte offsets of s's code points, n_cp + 1 of them. */
static size_t *cp_offsets(struct run *R, const char *s, size_t n, size_t *n_cp) {
    size_t *off = mill_jalloc(&R->a, (n + 1) * sizeof *off), k = 0;
    for (size_t i = 0; i < n; i += cpw(s, i, n))
        off[k++] = i;
    off[k] = n;
    *n_cp = k;
    return off;
}

/* cp_offsets, or NULL for ASCII text (a code point is a byte: no table of 8 bytes a byte). */
static size_t *str_offsets(struct run *R, const char *s, size_t n, size_t *n_cp) {
    size_t i = 0;
    while (i < n && !((unsigned char)s[i] & 0x80))
        i++;
    *n_cp = n;
    return i < n ? cp_offsets(R, s, n, n_cp) : NULL;
}

static size_t str_len(const struct jv *v) {
    size_t k = 0;
    for (size_t i = 0; i < v->u.s.n; i += cpw(v->u.s.p, i, v->u.s.n))
        k++;
    return k;
}

static bool has_cp(const char *set, size_t n, const char *c, size_t cn) {
    for (size_t i = 0; i + cn <= n; i += cpw(set, i, n))
        if (cpw(set, i, n) == cn && !memcmp(set + i, c, cn))
            return true;
    return false;
}

/* str.strip/lstrip/rstrip (which: 3 both, 1 left, 2 right), chars NULL for whitespace. */
static struct jv strip(struct run *R, const struct jv *s, const struct jv *chars, int which) {
    const char *p = s->u.s.p;
    size_t b = 0, e = s->u.s.n;
    if (!chars || chars->k == J_NONE) {
        size_t st, len;
        mill_py_strip_span(p, e, &st, &len);
        if (len == 0)
            return vstrz("");
        if (which & 1)
            b = st;
        if (which & 2)
            e = st + len;
        return vstr(R, p + b, e - b);
    }
    if (chars->k != J_STR)
        fail(R, "strip arg must be None or str");
    const char *c = chars->u.s.p;
    size_t cn = chars->u.s.n;
    while ((which & 1) && b < e && has_cp(c, cn, p + b, cpw(p, b, e)))
        b += cpw(p, b, e);
    while ((which & 2) && e > b) {
        size_t k = e - 1;
        while (k > b && ((unsigned char)p[k] & 0xC0) == 0x80)
            k--;
        if (!has_cp(c, cn, p + k, e - k))
            break;
        e = k;
    }
    return vstr(R, p + b, e - b);
}

static bool find_sub(const char *h, size_t hn, const char *nd, size_t nn, size_t from, size_t *at) {
    if (nn == 0) {
        *at = from;
        return from <= hn;
    }
    const char *p = from <= hn ? memmem(h + from, hn - from, nd, nn) : NULL;
    if (p)
        *at = (size_t)(p - h);
    return p != NULL;
}

/* str.split(sep=None, maxsplit=-1). */
static struct jv split(struct run *R, const struct jv *s, const struct jv *sep, int64_t max) {
    struct jv out = vlist(R, 4);
    charge(R, s->u.s.n / 16);
    const char *p = s->u.s.p;
    size_t n = s->u.s.n;
    if (!sep || sep->k == J_NONE) {
        size_t i = 0, w;
        for (;;) {
            while (i < n && (w = mill_py_space_len(p + i, n - i)))
                i += w;
            if (i >= n)
                break;
            if (max >= 0 && (int64_t)out.u.l->n == max) { /* the rest, trailing space kept */
                lpush(R, out.u.l, vstr(R, p + i, n - i));
                break;
            }
            size_t b = i;
            while (i < n && !mill_py_space_len(p + i, n - i))
                i += cpw(p, i, n);
            lpush(R, out.u.l, vstr(R, p + b, i - b));
        }
        return out;
    }
    if (sep->k != J_STR)
        fail(R, "split: the separator must be None or str");
    if (!sep->u.s.n)
        fail(R, "split: empty separator");
    size_t b = 0, at;
    while ((max < 0 || (int64_t)out.u.l->n < max) &&
           find_sub(p, n, sep->u.s.p, sep->u.s.n, b, &at)) {
        lpush(R, out.u.l, vstr(R, p + b, at - b));
        b = at + sep->u.s.n;
    }
    lpush(R, out.u.l, vstr(R, p + b, n - b));
    return out;
}

static struct jv replace(struct run *R, const struct jv *s, const struct jv *from,
                         const struct jv *to, int64_t count) {
    if (from->k != J_STR || to->k != J_STR)
        fail(R, "replace: arguments must be str");
    charge(R, s->u.s.n / 16);
    struct mill_buf *b = buf_get(R);
    size_t i = 0, at;
    int64_t done = 0;
    while ((count < 0 || done < count) &&
           find_sub(s->u.s.p, s->u.s.n, from->u.s.p, from->u.s.n, i, &at) &&
           (from->u.s.n || at <= s->u.s.n)) {
        put(R, b, s->u.s.p + i, at - i);
        put(R, b, to->u.s.p, to->u.s.n);
        if (!from->u.s.n) {
            if (at >= s->u.s.n) {
                i = at;
                done++;
                break;
            }
            size_t w = cpw(s->u.s.p, at, s->u.s.n);
            put(R, b, s->u.s.p + at, w);
            i = at + w;
        } else {
            i = at + from->u.s.n;
        }
        done++;
    }
    put(R, b, s->u.s.p + i, s->u.s.n - i);
    return buf_done(R, b);
}

/* Python's case mapping: mode 'u' upper, 'l' lower, 'c' capitalize, 't' str.title(); ASCII
 * text here, the rest by core/pycase.c (full Unicode mappings, Final_Sigma). */
static struct jv recase(struct run *R, const struct jv *s, char mode) {
    for (size_t i = 0; i < s->u.s.n; i++)
        if ((unsigned char)s->u.s.p[i] >= 0x80) {
            struct mill_buf *b = buf_get(R);
            size_t n0 = b->n;
            charge(R, s->u.s.n / 16);
            ck(R, mill_py_recase(s->u.s.p, s->u.s.n, (enum mill_pycase)mode, b));
            grew(R, b, n0);
            return buf_done(R, b);
        }
    char *o = mill_jstrdup(&R->a, s->u.s.p, s->u.s.n);
    bool prev_cased = false;
    for (size_t i = 0; i < s->u.s.n; i++) {
        char c = o[i];
        bool upper = mode == 'u' || (mode == 'c' && i == 0) || (mode == 't' && !prev_cased);
        if (c >= 'a' && c <= 'z' && upper)
            o[i] = (char)(c - 32);
        else if (c >= 'A' && c <= 'Z' && !upper)
            o[i] = (char)(c + 32);
        prev_cased = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return (struct jv){.k = J_STR, .u.s = {o, s->u.s.n}};
}

/* ---- lookup ---- */

static struct jv *lookup(struct frame *f, const char *name) {
    for (; f; f = f->up) {
        struct jv *v = dgets(&f->vars, name);
        if (v)
            return v;
    }
    return NULL;
}

enum {
    F_RANGE,
    F_NAMESPACE,
    F_RAISE,
    F_STRFTIME,
    F_DICT,
    M_STRIP,
    M_LSTRIP,
    M_RSTRIP,
    M_SPLIT,
    M_STARTSWITH,
    M_ENDSWITH,
    M_UPPER,
    M_LOWER,
    M_TITLE,
    M_CAPITALIZE,
    M_REPLACE,
    M_FIND,
    M_COUNT,
    M_JOIN,
    M_ISDIGIT,
    M_ITEMS,
    M_KEYS,
    M_VALUES,
    M_GET,
    M_CYCLE,
    M_FORMAT,
};

static const struct {
    const char *name;
    int id;
    enum jkind on;
} METHODS[] = {
    {"strip", M_STRIP, J_STR},           {"lstrip", M_LSTRIP, J_STR},
    {"rstrip", M_RSTRIP, J_STR},         {"split", M_SPLIT, J_STR},
    {"startswith", M_STARTSWITH, J_STR}, {"endswith", M_ENDSWITH, J_STR},
    {"upper", M_UPPER, J_STR},           {"lower", M_LOWER, J_STR},
    {"title", M_TITLE, J_STR},           {"capitalize", M_CAPITALIZE, J_STR},
    {"replace", M_REPLACE, J_STR},       {"find", M_FIND, J_STR},
    {"count", M_COUNT, J_STR},           {"join", M_JOIN, J_STR},
    {"isdigit", M_ISDIGIT, J_STR},       {"format", M_FORMAT, J_STR},
    {"items", M_ITEMS, J_DICT},          {"keys", M_KEYS, J_DICT},
    {"values", M_VALUES, J_DICT},        {"get", M_GET, J_DICT},
};

static struct jv getattr_(struct run *R, const struct jv *obj, const char *name) {
    if (obj->k == J_UNDEF)
        fail(R, "%s has no attribute '%s'", obj->u.why ? obj->u.why : "an undefined value", name);
    if (obj->k == J_LIST && obj->u.l->group && (!strcmp(name, "grouper") || !strcmp(name, "list")))
        return obj->u.l->v[name[0] == 'l'];
    if (obj->k == J_DICT && obj->u.d->ns) {
        struct jv *v = dgets(obj->u.d, name);
        return v ? *v : vundef(name);
    }
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (METHODS[i].on == obj->k && !strcmp(METHODS[i].name, name))
            return vfunc(R, METHODS[i].id, *obj);
    if (obj->k == J_DICT) {
        struct jv *v = dgets(obj->u.d, name);
        if (v)
            return *v;
    }
    size_t n = strlen(name) + 40;
    char *why = mill_jalloc(&R->a, n);
    snprintf(why, n, "'%s object' has no attribute '%s'", type_name(obj), name);
    return vundef(why);
}

static struct jv getitem(struct run *R, const struct jv *obj, const struct jv *key) {
    if (obj->k == J_UNDEF)
        fail(R, "%s has no item", obj->u.why ? obj->u.why : "an undefined value");
    if (obj->k == J_DICT && !obj->u.d->ns) {
        struct jv *v = dget(R, obj->u.d, key);
        if (v)
            return *v;
    } else if (((obj->k == J_LIST && !obj->u.l->lazy) || obj->k == J_STR) &&
               (key->k == J_INT || key->k == J_BOOL)) {
        int64_t i = ival(key);
        if (obj->k == J_LIST) {
            int64_t n = (int64_t)obj->u.l->n;
            if (i < 0)
                i += n;
            if (i >= 0 && i < n)
                return obj->u.l->v[i];
        } else {
            size_t n;
            size_t *off = str_offsets(R, obj->u.s.p, obj->u.s.n, &n);
            if (i < 0)
                i += (int64_t)n;
            if (i >= 0 && i < (int64_t)n)
                return off ? vstr(R, obj->u.s.p + off[i], off[i + 1] - off[i])
                           : vstr(R, obj->u.s.p + i, 1);
        }
    }
    if (key->k == J_STR)
        return getattr_(R, obj, key->u.s.p);
    return vundef("an item out of range");
}

static int64_t slice_bound(struct run *R, const struct jv *v, int64_t n, int64_t dflt,
                           bool neg_step) {
    if (!v || v->k == J_NONE)
        return dflt;
    if (v->k != J_INT && v->k != J_BOOL)
        fail(R, "slice indices must be integers or None");
    int64_t i = ival(v);
    if (i < 0)
        i = i + n < 0 ? (neg_step ? -1 : 0) : i + n;
    else if (i >= n)
        i = neg_step ? n - 1 : n;
    return i;
}

static struct jv slice(struct run *R, const struct jv *obj, const struct jv *a, const struct jv *b,
                       const struct jv *c) {
    if (c && c->k != J_NONE && c->k != J_INT && c->k != J_BOOL)
        fail(R, "slice indices must be integers or None");
    int64_t step = c && c->k != J_NONE ? ival(c) : 1;
    if (step == 0)
        fail(R, "slice step cannot be zero");
    size_t n_items, *off = NULL;
    if (obj->k == J_STR)
        off = str_offsets(R, obj->u.s.p, obj->u.s.n, &n_items);
    else if (obj->k == J_LIST && !obj->u.l->lazy)
        n_items = obj->u.l->n;
    else /* Jinja's getitem turns the TypeError into Undefined */
        return vundef("a slice of something that is not a sequence");
    int64_t n = (int64_t)n_items;
    int64_t lo = slice_bound(R, a, n, step > 0 ? 0 : n - 1, step < 0);
    int64_t hi = slice_bound(R, b, n, step > 0 ? n : -1, step < 0);
    struct jv out = obj->k == J_LIST ? vlist(R, 0) : (struct jv){0};
    struct mill_buf *sb = obj->k == J_STR ? buf_get(R) : NULL;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi;) {
        if (sb && off)
            put(R, sb, obj->u.s.p + off[i], off[i + 1] - off[i]);
        else if (sb)
            put(R, sb, obj->u.s.p + i, 1);
        else
            lpush(R, out.u.l, obj->u.l->v[i]);
        /* the next index, unless it passes the end (a huge step must not overflow) */
        uint64_t left = step > 0 ? (uint64_t)(hi - i) : (uint64_t)(i - hi);
        uint64_t stride = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
        if (stride >= left)
            break;
        i = step > 0 ? (int64_t)((uint64_t)i + stride) : (int64_t)((uint64_t)i - stride);
    }
    if (sb)
        return buf_done(R, sb);
    out.u.l->tuple = obj->u.l->tuple;
    return out;
}

/* The items a for loop, join or list() goes through. */
static struct jlist *iterate(struct run *R, const struct jv *v) {
    struct jv l = vlist(R, 0);
    charge(R, v->k == J_LIST   ? v->u.l->n
              : v->k == J_DICT ? v->u.d->n
              : v->k == J_STR  ? v->u.s.n
                               : 0);
    switch (v->k) {
    case J_UNDEF: return l.u.l;
    case J_LIST:
        if (v->u.l->lazy && v->u.l->spent) /* a generator reads once */
            return l.u.l;
        v->u.l->spent = v->u.l->lazy;
        return v->u.l;
    case J_DICT:
        if (v->u.d->ns)
            break;
        for (size_t i = 0; i < v->u.d->n; i++)
            lpush(R, l.u.l, v->u.d->key[i]);
        return l.u.l;
    case J_STR:
        for (size_t i = 0; i < v->u.s.n;) {
            size_t w = cpw(v->u.s.p, i, v->u.s.n);
            lpush(R, l.u.l, vstr(R, v->u.s.p + i, w));
            i += w;
        }
        return l.u.l;
    default: break;
    }
    fail(R, "'%s' object is not iterable", type_name(v));
}

static bool contains(struct run *R, const struct jv *hay, const struct jv *x) {
    if (hay->k == J_STR) {
        if (x->k != J_STR)
            fail(R, "'in <string>' requires string as left operand, not %s", type_name(x));
        size_t at;
        charge(R, hay->u.s.n / 64);
        return find_sub(hay->u.s.p, hay->u.s.n, x->u.s.p, x->u.s.n, 0, &at);
    }
    if (hay->k == J_DICT && !hay->u.d->ns)
        return dget(R, hay->u.d, x) != NULL;
    const struct jlist *l = iterate(R, hay);
    charge(R, l->n);
    for (size_t i = 0; i < l->n; i++)
        if (eq(R, &l->v[i], x))
            return true;
    return false;
}

/* HTML escaping as markupsafe does it (& < > " '). */
static struct jv html_escape(struct run *R, const struct jv *s) {
    struct mill_buf *b = buf_get(R);
    for (size_t i = 0; i < s->u.s.n; i++) {
        char c = s->u.s.p[i];
        const char *e = c == '&'    ? "&amp;"
                        : c == '<'  ? "&lt;"
                        : c == '>'  ? "&gt;"
                        : c == '"'  ? "&#34;"
                        : c == '\'' ? "&#39;"
                                    : NULL;
        if (e)
            puts_(R, b, e);
        else
            put(R, b, &c, 1);
    }
    return buf_done(R, b);
}

/* ---- arithmetic ---- */

static struct jv percent_format(struct run *R, const struct jv *fmt, const struct jv *args);

static struct jv arith(struct run *R, int op, const struct jv *a, const struct jv *b) {
    if (op == JO_CAT) {
        struct mill_buf *o = buf_get(R);
        write_str(R, o, a);
        write_str(R, o, b);
        return buf_done(R, o);
    }
    if (op == JO_ADD && a->k == J_STR && b->k == J_STR) {
        if (a->safe != b->safe) { /* Markup + str escapes the str, and is a Markup */
            struct jv ea = a->safe ? *a : html_escape(R, a), eb = b->safe ? *b : html_escape(R, b);
            ea.safe = eb.safe = true;
            return arith(R, op, &ea, &eb);
        }
        char *s = mill_jalloc(&R->a, a->u.s.n + b->u.s.n + 1);
        memcpy(s, a->u.s.p, a->u.s.n);
        memcpy(s + a->u.s.n, b->u.s.p, b->u.s.n);
        return (struct jv){.k = J_STR, .safe = a->safe, .u.s = {s, a->u.s.n + b->u.s.n}};
    }
    if (op == JO_ADD && a->k == J_LIST && b->k == J_LIST && a->u.l->tuple == b->u.l->tuple) {
        struct jv l = vlist(R, a->u.l->n + b->u.l->n);
        for (size_t i = 0; i < a->u.l->n; i++)
            lpush(R, l.u.l, a->u.l->v[i]);
        for (size_t i = 0; i < b->u.l->n; i++)
            lpush(R, l.u.l, b->u.l->v[i]);
        l.u.l->tuple = a->u.l->tuple;
        return l;
    }
    if (op == JO_MUL && (a->k == J_STR || a->k == J_LIST || b->k == J_STR || b->k == J_LIST)) {
        const struct jv *seq = a->k == J_STR || a->k == J_LIST ? a : b, *k = seq == a ? b : a;
        if (k->k != J_INT && k->k != J_BOOL)
            fail(R, "can't multiply sequence by non-int of type '%s'", type_name(k));
        int64_t times = ival(k) < 0 ? 0 : ival(k);
        size_t unit = seq->k == J_STR ? seq->u.s.n : seq->u.l->n * sizeof(struct jv);
        if (!unit)
            times = 0; /* '' * n and [] * n are empty however large n is */
        if (unit && (uint64_t)times > OUT_LIMIT / unit)
            fail(R, "a repeated sequence over %u MiB", OUT_LIMIT >> 20);
        if (seq->k == J_STR) {
            struct mill_buf *o = buf_get(R);
            for (int64_t i = 0; i < times; i++)
                put(R, o, seq->u.s.p, seq->u.s.n);
            return buf_done(R, o);
        }
        struct jv l = vlist(R, 0);
        for (int64_t i = 0; i < times; i++)
            for (size_t j = 0; j < seq->u.l->n; j++)
                lpush(R, l.u.l, seq->u.l->v[j]);
        l.u.l->tuple = seq->u.l->tuple;
        return l;
    }
    if (!is_num(a) || !is_num(b)) {
        if (op == JO_MOD && a->k == J_STR)
            return percent_format(R, a, b);
        static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
        fail(R, "unsupported operand type(s) for %s: '%s' and '%s'", sym[op], type_name(a),
             type_name(b));
    }
    if (a->k != J_FLOAT && b->k != J_FLOAT && op != JO_DIV) {
        int64_t x = ival(a), y = ival(b), r = 0;
        bool over = false;
        switch (op) {
        case JO_ADD: over = __builtin_add_overflow(x, y, &r); break;
        case JO_SUB: over = __builtin_sub_overflow(x, y, &r); break;
        case JO_MUL: over = __builtin_mul_overflow(x, y, &r); break;
        case JO_FLOORDIV:
        case JO_MOD:
            if (y == 0)
                fail(R, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) {
                over = op == JO_FLOORDIV;
                break;
            }
            if (op == JO_MOD) { /* Python's sign: the divisor's */
                r = x % y;
                if (r && ((r < 0) != (y < 0)))
                    r += y;
                break;
            }
            r = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0)))
                r--;
            break;
        case JO_POW:
            if (y < 0 && x == 0)
                fail(R, "0.0 cannot be raised to a negative power");
            if (y < 0)
                return (struct jv){.k = J_FLOAT, .u.f = pow((double)x, (double)y)};
            r = 1; /* by squaring; 0, 1 and -1 never overflow however large y is */
            for (int64_t b = x, e = y; e && !over; e >>= 1) {
                if (e & 1)
                    over = __builtin_mul_overflow(r, b, &r);
                if (e > 1 && !over)
                    over = __builtin_mul_overflow(b, b, &b);
            }
            break;
        }
        if (over)
            fail(R, "integer overflow");
        return vint(r);
    }
    double x = num(a), y = num(b), r = 0;
    switch (op) {
    case JO_ADD: r = x + y; break;
    case JO_SUB: r = x - y; break;
    case JO_MUL: r = x * y; break;
    case JO_DIV:
    case JO_FLOORDIV:
    case JO_MOD:
        if (y == 0)
            fail(R, "division by zero");
        if (op == JO_DIV) {
            r = x / y;
            break;
        }
        /* CPython's float_floor_div and float_rem */
        double mod = fmod(x, y), div = (x - mod) / y;
        if (mod != 0) {
            if ((y < 0) != (mod < 0))
                mod += y, div -= 1.0;
        } else {
            mod = copysign(0.0, y);
        }
        double fd = div != 0 ? floor(div) : copysign(0.0, x / y);
        if (div != 0 && div - fd > 0.5)
            fd += 1.0;
        r = op == JO_MOD ? mod : fd;
        break;
    case JO_POW:
        if (x == 0 && y < 0)
            fail(R, "0.0 cannot be raised to a negative power");
        r = pow(x, y);
        break;
    }
    return (struct jv){.k = J_FLOAT, .u.f = r};
}

static struct jv compare(struct run *R, int op, const struct jv *a, const struct jv *b) {
    switch (op) {
    case JO_EQ: return vbool(eq(R, a, b));
    case JO_NE: return vbool(!eq(R, a, b));
    case JO_IN: return vbool(contains(R, b, a));
    case JO_NOTIN: return vbool(!contains(R, b, a));
    }
    if (is_num(a) && is_num(b) && (a->k == J_FLOAT || b->k == J_FLOAT)) { /* NaN: all false */
        double x = num(a), y = num(b);
        return vbool(op == JO_LT ? x < y : op == JO_LE ? x <= y : op == JO_GT ? x > y : x >= y);
    }
    int c = cmp(R, a, b);
    return vbool(op == JO_LT ? c < 0 : op == JO_LE ? c <= 0 : op == JO_GT ? c > 0 : c >= 0);
}

/* ---- calls, filters, tests ---- */

struct args {
    struct jv *pos, *kwv;
    const char **kwn;
    size_t n, nk;
};

/* Argument i (positional) or name (keyword), NULL when not given. */
static const struct jv *arg(const struct args *A, size_t i, const char *name) {
    if (i < A->n)
        return &A->pos[i];
    for (size_t k = 0; k < A->nk; k++)
        if (name && !strcmp(A->kwn[k], name))
            return &A->kwv[k];
    return NULL;
}

static int64_t int_arg(struct run *R, const struct args *A, size_t i, const char *name,
                       int64_t dflt) {
    const struct jv *v = arg(A, i, name);
    if (!v || v->k == J_NONE)
        return dflt;
    if (v->k != J_INT && v->k != J_BOOL)
        fail(R, "argument %s must be an integer", name);
    return ival(v);
}

static struct jv eval(struct run *R, const struct jnode *n);
static void exec(struct run *R, const struct jnodes *body, struct frame *f);
static struct jv attr_path(struct run *R, const struct jv *item, const struct jv *attr);
static struct jv call_value(struct run *R, const struct jv *fn, const struct args *A);

static struct jv range_(struct run *R, const struct args *A) {
    int64_t start = 0, stop, step = 1;
    if (A->n == 1) {
        stop = int_arg(R, A, 0, "stop", 0);
    } else if (A->n == 2 || A->n == 3) {
        start = int_arg(R, A, 0, "start", 0);
        stop = int_arg(R, A, 1, "stop", 0);
        step = int_arg(R, A, 2, "step", 1);
    } else {
        fail(R, "range expected 1 to 3 arguments, got %zu", A->n);
    }
    if (step == 0)
        fail(R, "range() arg 3 must not be zero");
    struct jv l = vlist(R, 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (l.u.l->n >= MAX_RANGE)
            fail(R, "range too big, maximum size for range is %d", MAX_RANGE);
        lpush(R, l.u.l, vint(i));
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step))
            break;
    }
    return l;
}

static struct jv kw_dict(struct run *R, const struct args *A, bool ns) {
    struct jv d = vdict(R);
    d.u.d->ns = ns;
    if (A->n == 1 && A->pos[0].k == J_DICT)
        for (size_t i = 0; i < A->pos[0].u.d->n; i++)
            dset(R, d.u.d, A->pos[0].u.d->key[i], A->pos[0].u.d->val[i]);
    else if (A->n)
        fail(R, "%s() takes keyword arguments only", ns ? "namespace" : "dict");
    for (size_t i = 0; i < A->nk; i++)
        dset(R, d.u.d, vstrz(A->kwn[i]), A->kwv[i]);
    return d;
}

static struct jv strftime_now(struct run *R, const struct args *A) {
    const struct jv *f = arg(A, 0, "format");
    if (!f || f->k != J_STR)
        fail(R, "strftime_now wants a format string");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char out[512];
    size_t n = f->u.s.n ? strftime(out, sizeof out, f->u.s.p, &tm) : 0;
    if (f->u.s.n && n == 0)
        fail(R, "strftime_now: the date does not fit 512 bytes");
    return vstr(R, out, n);
}

static bool starts_ends(struct run *R, const struct jv *s, const struct jv *x, bool end) {
    const char *what = end ? "endswith" : "startswith";
    if (!x || (x->k != J_STR && !(x->k == J_LIST && x->u.l->tuple)))
        fail(R, "%s first arg must be str or a tuple of str", what);
    size_t n = x->k == J_STR ? 1 : x->u.l->n;
    for (size_t i = 0; i < n; i++) {
        const struct jv *p = x->k == J_STR ? x : &x->u.l->v[i];
        if (p->k != J_STR)
            fail(R, "tuple for %s must only contain str, not %s", what, type_name(p));
        if (p->u.s.n <= s->u.s.n &&
            !memcmp(s->u.s.p + (end ? s->u.s.n - p->u.s.n : 0), p->u.s.p, p->u.s.n))
            return true;
    }
    return false;
}

static struct jv join(struct run *R, const struct jv *seq, const struct jv *sep,
                      const struct jv *attr) {
    const struct jlist *l = iterate(R, seq);
    struct mill_buf *b = buf_get(R);
    for (size_t i = 0; i < l->n; i++) {
        if (i && sep)
            write_str(R, b, sep);
        struct jv item = attr ? attr_path(R, &l->v[i], attr) : l->v[i];
        write_str(R, b, &item);
    }
    return buf_done(R, b);
}

/* ---- Python's str.format() and % formatting (values rendered by core/pyformat.c) ---- */

/* str(v), or with repr repr(v), as a new plain str (the conversions of !s, !r, %s, %r). */
static struct jv conv_text(struct run *R, const struct jv *v, bool repr) {
    struct mill_buf *b = buf_get(R);
    if (repr)
        write_repr(R, b, v, 0);
    else
        write_str(R, b, v);
    return buf_done(R, b);
}

/* format(v, spec) onto b with the spec parsed: a str, a float, else an int (bool: 0 or 1). */
static void spec_value(struct run *R, struct mill_buf *b, const struct jv *v,
                       const struct mill_pyspec *sp) {
    char why[200];
    size_t n0 = b->n;
    int rc = v->k == J_STR     ? mill_pyformat_str(b, v->u.s.p, v->u.s.n, sp, why, sizeof why)
             : v->k == J_FLOAT ? mill_pyformat_float(b, v->u.f, sp, why, sizeof why)
                               : mill_pyformat_int(b, ival(v), sp, why, sizeof why);
    if (rc == MILL_ENOMEM)
        ck(R, rc);
    if (rc)
        fail(R, "%s", why);
    grew(R, b, n0);
}

/* format(v, spec): a str, int, float or bool by the mini-language; any other value only with
 * an empty spec (its str()), as object.__format__ allows. */
static void format_value(struct run *R, struct mill_buf *b, const struct jv *v, const char *spec,
                         size_t sn) {
    bool number = v->k == J_INT || v->k == J_FLOAT || v->k == J_BOOL;
    if (v->k != J_STR && !number) {
        if (sn)
            fail(R, "unsupported format string passed to %s.__format__", type_name(v));
        write_str(R, b, v);
        return;
    }
    if (v->k == J_BOOL && !sn) {
        puts_(R, b, v->u.b ? "True" : "False");
        return;
    }
    struct mill_pyspec sp;
    char why[200];
    if (mill_pyspec_parse(spec, sn, &sp, why, sizeof why))
        fail(R, "%s", why);
    spec_value(R, b, v, &sp);
}

/* The value a replacement field names, as string.Formatter (the sandbox's) finds it: a field
 * that is "" takes the next positional, one that is all digits that positional (the two kinds
 * do not mix: *next is the automatic numbering, -1 once a field was numbered); otherwise its
 * first part (a positional when digits, else a keyword; "" is no keyword) then .attr and [key]
 * steps. An undefined value is returned as such. */
static struct jv field_value(struct run *R, const char *f, size_t n, const struct args *A,
                             int64_t *next) {
    size_t i = 0;
    while (i < n && f[i] != '.' && f[i] != '[')
        i++;
    struct jv v;
    bool numeric = i > 0;
    for (size_t k = 0; k < i; k++)
        numeric &= f[k] >= '0' && f[k] <= '9';
    if (n == 0 || (numeric && i == n)) {
        if (n == 0 ? *next < 0 : *next > 0)
            fail(R, "cannot switch from manual field specification to automatic field "
                    "numbering");
    }
    if (n == 0 || numeric) {
        int64_t idx = 0;
        if (n == 0) {
            idx = (*next)++;
        } else {
            if (i == n)
                *next = -1;
            for (size_t k = 0; k < i && idx <= (int64_t)A->n; k++)
                idx = idx * 10 + (f[k] - '0');
        }
        if (idx >= (int64_t)A->n && n == 0)
            fail(R, "Replacement index %lld out of range for positional args tuple",
                 (long long)idx);
        if (idx >= (int64_t)A->n)
            fail(R, "Replacement index %.*s out of range for positional args tuple",
                 (int)(i > 30 ? 30 : i), f);
        v = A->pos[idx];
    } else {
        const struct jv *kw = NULL;
        for (size_t k = 0; k < A->nk && !kw; k++)
            if (strlen(A->kwn[k]) == i && !memcmp(A->kwn[k], f, i))
                kw = &A->kwv[k];
        if (!kw)
            fail(R, "KeyError: '%.*s'", (int)(i > 60 ? 60 : i), f);
        v = *kw;
    }
    while (i < n) { /* .name or [key]: the key an int when all digits, else a str */
        bool dot = f[i] == '.';
        size_t a = ++i;
        while (i < n && (dot ? f[i] != '.' && f[i] != '[' : f[i] != ']'))
            i++;
        if (i == a || (!dot && i == n))
            fail(R, dot ? "Empty attribute in format string" : "Missing ']' in format string");
        char *key = mill_jstrdup(&R->a, f + a, i - a);
        if (dot) {
            v = getattr_(R, &v, key);
            continue;
        }
        i++; /* the ']' */
        bool digits = true;
        for (const char *p = key; *p; p++)
            digits &= *p >= '0' && *p <= '9';
        struct jv k = digits ? vint(strtoll(key, NULL, 10)) : vstrz(key);
        v = getitem(R, &v, &k);
    }
    return v;
}

/* One replacement field's text f[0..n) (between its braces) onto b; the spec's own fields
 * are replaced first (one level, as Python allows). markup: the format string is a Markup,
 * whose fields are escaped (markupsafe's EscapeFormatter; a Markup value stays as it is). */
static void format_field(struct run *R, struct mill_buf *b, const char *f, size_t n,
                         const struct args *A, int64_t *next, int depth, bool markup) {
    size_t i = 0;
    int nest = 0;
    while (i < n && ((f[i] != '!' && f[i] != ':') || nest)) { /* [] may hold ! and : */
        nest += f[i] == '[' ? 1 : f[i] == ']' ? -1 : 0;
        i++;
    }
    struct jv v = field_value(R, f, i, A, next);
    char conv = 0;
    if (i < n && f[i] == '!') {
        if (i + 1 >= n || (i + 2 < n && f[i + 2] != ':'))
            fail(R, "expected ':' after conversion specifier");
        conv = f[i + 1];
        i += 2;
        if (conv != 's' && conv != 'r')
            fail(R, "Unknown conversion specifier %c", conv);
    }
    const char *spec = i < n ? f + i + 1 : "";
    size_t sn = i < n ? n - i - 1 : 0;
    struct mill_buf *sb = NULL;
    if (memchr(spec, '{', sn)) {
        if (depth >= 1)
            fail(R, "Max string recursion exceeded");
        sb = buf_get(R);
        for (size_t k = 0; k < sn;) {
            if (spec[k] != '{') {
                put(R, sb, spec + k++, 1);
                continue;
            }
            const char *close = memchr(spec + k, '}', sn - k);
            if (!close)
                fail(R, "unmatched '{' in format spec");
            format_field(R, sb, spec + k + 1, (size_t)(close - spec - k - 1), A, next, depth + 1,
                         false);
            k = (size_t)(close - spec) + 1;
        }
        spec = sb->p, sn = sb->n;
    }
    if (conv)
        v = conv_text(R, &v, conv == 'r');
    if (markup && !(v.k == J_STR && v.safe)) {
        struct mill_buf *fb = buf_get(R);
        format_value(R, fb, &v, spec, sn);
        struct jv t = buf_done(R, fb), e = html_escape(R, &t);
        put(R, b, e.u.s.p, e.u.s.n);
    } else {
        format_value(R, b, &v, spec, sn);
    }
    if (sb)
        buf_done(R, sb);
}

/* s.format(*args, **kwargs): literal text, {{ and }}, and replacement fields. */
static struct jv str_format(struct run *R, const struct jv *s, const struct args *A) {
    struct mill_buf *b = buf_get(R);
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    int64_t next = 0;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '{' && *q != '}')
            q++;
        put(R, b, p, (size_t)(q - p));
        if (q == end)
            break;
        if (q + 1 < end && q[1] == *q) { /* {{ or }} */
            put(R, b, q, 1);
            p = q + 2;
            continue;
        }
        if (*q == '}')
            fail(R, "Single '}' encountered in format string");
        const char *f = q + 1;
        int depth = 1;
        for (q = f; q < end && depth; q++)
            depth += *q == '{' ? 1 : *q == '}' ? -1 : 0;
        if (depth)
            fail(R, "%s",
                 q > f && q[-1] == '{' ? "Single '{' encountered in format string"
                                       : "expected '}' before end of string");
        format_field(R, b, f, (size_t)(q - 1 - f), A, &next, 0, s->safe);
        p = q;
    }
    struct jv out = buf_done(R, b);
    out.safe = s->safe;
    return out;
}

/* Whether s[0..n) is one code point. */
static bool one_char(const char *s, size_t n) {
    uint32_t cp;
    return n && mill_utf8_next((const unsigned char *)s, n, &cp) == n;
}

/* One % conversion of v (type as mill_pyprintf_spec read it) onto b; markup: the format is a
 * Markup, whose %s and %r escape their text (markupsafe's _MarkupEscapeHelper). */
static void percent_one(struct run *R, struct mill_buf *b, char type, struct mill_pyspec *sp,
                        const struct jv *v, bool markup) {
    bool real = v->k == J_INT || v->k == J_FLOAT || v->k == J_BOOL;
    struct jv x = *v;
    if (type == 's' || type == 'r' || type == 'a') {
        if (type == 'a')
            fail(R, "%%a is not supported");
        x = conv_text(R, v, type == 'r');
        if (markup && !(v->safe && type == 's'))
            x = html_escape(R, &x);
        sp->type = 's';
    } else if (type == 'c') {
        if (v->k == J_STR && one_char(v->u.s.p, v->u.s.n))
            sp->type = 's';
        else if (v->k == J_INT || v->k == J_BOOL)
            x = vint(ival(v));
        else
            fail(R, "%%c requires int or char");
    } else if (strchr("doxX", sp->type)) {
        bool want_int = sp->type != 'd';
        if (!real || (want_int && v->k == J_FLOAT))
            fail(R, "%%%c format: %s is required, not %s", type,
                 want_int ? "an integer" : "a real number", type_name(v));
        if (v->k == J_FLOAT && !(fabs(v->u.f) < 9.2e18))
            fail(R, "%%%c format: the number does not fit 64 bits", type);
        x = vint(v->k == J_FLOAT ? (int64_t)v->u.f : ival(v)); /* int() truncates */
    } else {
        if (!real)
            fail(R, "must be real number, not %s", type_name(v));
        x = (struct jv){.k = J_FLOAT, .u.f = v->k == J_FLOAT ? v->u.f : (double)ival(v)};
    }
    spec_value(R, b, &x, sp);
}

/* fmt % args, Python's printf-style formatting: args a tuple (its items), else one value; a
 * dict also serves %(key)s. Python lets a dict or a list (mappings to it) go partly unused. */
static struct jv percent_format(struct run *R, const struct jv *fmt, const struct jv *args) {
    bool tuple = args->k == J_LIST && args->u.l->tuple;
    bool mapping = (args->k == J_DICT && !args->u.d->ns) || (args->k == J_LIST && !tuple);
    const struct jv *items = tuple ? args->u.l->v : args;
    size_t n = tuple ? args->u.l->n : 1, next = 0;
    struct mill_buf *b = buf_get(R);
    const char *p = fmt->u.s.p, *end = p + fmt->u.s.n;
    while (p < end) {
        const char *q = memchr(p, '%', (size_t)(end - p));
        put(R, b, p, (size_t)((q ? q : end) - p));
        if (!q)
            break;
        q++;
        const struct jv *v = NULL;
        if (q < end && *q == '(') { /* %(key)s: parentheses may nest in the key */
            if (args->k != J_DICT || args->u.d->ns)
                fail(R, "format requires a mapping");
            const char *k = ++q;
            for (int depth = 1; q < end && (depth += *q == '(' ? 1 : *q == ')' ? -1 : 0); q++)
                ;
            if (q >= end)
                fail(R, "incomplete format key");
            struct jv key = vstr(R, k, (size_t)(q++ - k));
            if (!(v = dget(R, args->u.d, &key)))
                fail(R, "KeyError: '%.60s'", key.u.s.p);
        }
        struct mill_pyspec sp;
        char type, why[200];
        size_t used;
        if (mill_pyprintf_spec(q, (size_t)(end - q), &sp, &type, &used, why, sizeof why))
            fail(R, "%s", why);
        if (type == '%' && used == 1 && !v) { /* %%; with flags or a key, '%' takes a value */
            put(R, b, "%", 1);
            p = q + 1;
            continue;
        }
        q += used;
        if (!v && next >= n)
            fail(R, "not enough arguments for format string");
        if (!v)
            v = &items[next++];
        if (type == '%')
            fail(R, "unsupported format character '%%' (0x25) at index %zu",
                 (size_t)(q - fmt->u.s.p - 1));
        percent_one(R, b, type, &sp, v, fmt->safe);
        p = q;
    }
    if (!mapping && next < n)
        fail(R, "not all arguments converted during string formatting");
    struct jv out = buf_done(R, b);
    out.safe = fmt->safe;
    return out;
}

static struct jv method(struct run *R, const struct jfunc *f, const struct args *A) {
    const struct jv *s = &f->self;
    size_t at;
    switch (f->id) {
    case M_STRIP: return strip(R, s, arg(A, 0, "chars"), 3);
    case M_LSTRIP: return strip(R, s, arg(A, 0, "chars"), 1);
    case M_RSTRIP: return strip(R, s, arg(A, 0, "chars"), 2);
    case M_SPLIT: return split(R, s, arg(A, 0, "sep"), int_arg(R, A, 1, "maxsplit", -1));
    case M_STARTSWITH:
    case M_ENDSWITH: { /* s[start:end] when given, as Python's */
        const struct jv *a = arg(A, 1, "start"), *b = arg(A, 2, "end");
        struct jv part = a || b ? slice(R, s, a, b, NULL) : *s;
        return vbool(starts_ends(R, &part, arg(A, 0, NULL), f->id == M_ENDSWITH));
    }
    case M_FORMAT: return str_format(R, s, A);
    case M_UPPER: return recase(R, s, 'u');
    case M_LOWER: return recase(R, s, 'l');
    case M_TITLE: return recase(R, s, 't');
    case M_CAPITALIZE: return recase(R, s, 'c');
    case M_REPLACE: {
        const struct jv *a = arg(A, 0, "old"), *b = arg(A, 1, "new");
        if (!a || !b)
            fail(R, "replace wants two arguments");
        return replace(R, s, a, b, int_arg(R, A, 2, "count", -1));
    }
    case M_FIND:
    case M_COUNT: {
        const struct jv *x = arg(A, 0, "sub");
        if (!x || x->k != J_STR)
            fail(R, "%s wants a str", f->id == M_FIND ? "find" : "count");
        charge(R, s->u.s.n / 16);
        if (f->id == M_FIND) {
            if (!find_sub(s->u.s.p, s->u.s.n, x->u.s.p, x->u.s.n, 0, &at))
                return vint(-1);
            struct jv head = vstr(R, s->u.s.p, at);
            return vint((int64_t)str_len(&head));
        }
        if (!x->u.s.n) /* Python: one more than the code points */
            return vint((int64_t)str_len(s) + 1);
        int64_t k = 0;
        for (size_t i = 0; find_sub(s->u.s.p, s->u.s.n, x->u.s.p, x->u.s.n, i, &at); k++)
            i = at + x->u.s.n;
        return vint(k);
    }
    case M_JOIN: {
        const struct jv *seq = arg(A, 0, "iterable");
        if (!seq)
            fail(R, "join wants an iterable");
        const struct jlist *l = iterate(R, seq);
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].k != J_STR)
                fail(R, "sequence item %zu: expected str instance, %s found", i,
                     type_name(&l->v[i]));
        return join(R, seq, s, NULL);
    }
    case M_ISDIGIT: {
        bool all = s->u.s.n > 0;
        for (size_t i = 0; i < s->u.s.n && all; i++)
            all = s->u.s.p[i] >= '0' && s->u.s.p[i] <= '9';
        return vbool(all);
    }
    case M_ITEMS:
    case M_KEYS:
    case M_VALUES: {
        const struct jdict *d = s->u.d;
        struct jv l = vlist(R, d->n);
        for (size_t i = 0; i < d->n; i++) {
            if (f->id != M_ITEMS) {
                lpush(R, l.u.l, f->id == M_KEYS ? d->key[i] : d->val[i]);
                continue;
            }
            struct jv pair = vlist(R, 2);
            pair.u.l->tuple = true;
            lpush(R, pair.u.l, d->key[i]);
            lpush(R, pair.u.l, d->val[i]);
            lpush(R, l.u.l, pair);
        }
        return l;
    }
    case M_CYCLE: /* loop.cycle(a, b, ...): the one for this pass */
        if (!A->n)
            fail(R, "no items for cycling given");
        return A->pos[(size_t)s->u.i % A->n];
    case M_GET: {
        const struct jv *k = arg(A, 0, "key"), *dflt = arg(A, 1, "default");
        if (!k)
            fail(R, "get wants a key");
        const struct jv *v = dget(R, s->u.d, k);
        return v ? *v : dflt ? *dflt : NONE;
    }
    }
    fail(R, "unknown method");
}

static struct jv call_macro(struct run *R, const struct jmacro *mac, const struct args *A) {
    const struct jnode *m = mac->n;
    if (R->depth >= MAX_CALL_DEPTH)
        fail(R, "macros call each other more than %d deep", MAX_CALL_DEPTH);
    if (A->n > m->n_names)
        fail(R, "macro '%s' takes not more than %zu argument(s)", m->s, m->n_names);
    struct frame *f = mill_jalloc(&R->a, sizeof *f), *caller = R->frame;
    f->up = mac->scope;
    R->frame = f; /* a default sees the parameters before it */
    for (size_t i = 0; i < m->n_names; i++) {
        const struct jv *v = arg(A, i, m->names[i]);
        struct jv val = v              ? *v
                        : m->args.v[i] ? eval(R, m->args.v[i])
                                       : vundef("a macro parameter not given");
        dset(R, &f->vars, vstrz(m->names[i]), val);
    }
    R->frame = caller;
    for (size_t k = 0; k < A->nk; k++) {
        bool known = false;
        for (size_t i = 0; i < m->n_names && !known; i++)
            known = !strcmp(A->kwn[k], m->names[i]);
        if (!known)
            fail(R, "macro '%s' has no parameter '%s'", m->s, A->kwn[k]);
    }
    struct mill_buf *saved = R->out, *b = buf_get(R);
    int line = R->line;
    R->out = b;
    R->depth++;
    exec(R, &m->body, f);
    R->depth--;
    R->out = saved;
    R->line = line;
    R->ctl = 0;
    return buf_done(R, b);
}

static struct jv call_value(struct run *R, const struct jv *fn, const struct args *A) {
    if (fn->k == J_MACRO)
        return call_macro(R, fn->u.macro, A);
    if (fn->k == J_UNDEF)
        fail(R, "%s is undefined and cannot be called", fn->u.why ? fn->u.why : "a name");
    if (fn->k != J_FUNC)
        fail(R, "'%s' object is not callable", type_name(fn));
    switch (fn->u.fn->id) {
    case F_RANGE: return range_(R, A);
    case F_NAMESPACE: return kw_dict(R, A, true);
    case F_DICT: return kw_dict(R, A, false);
    case F_STRFTIME: return strftime_now(R, A);
    case F_RAISE: {
        const struct jv *m = arg(A, 0, "message");
        struct jv s = m ? to_str(R, m) : vstrz("");
        mill_err_set(R->err, MILL_EFORMAT, "chat template raised: %s", s.u.s.p);
        longjmp(*R->a.fail, 1);
    }
    default: return method(R, fn->u.fn, A);
    }
}

static bool test(struct run *R, const char *name, const struct jv *v, const struct args *A);

/* select/reject/selectattr/rejectattr: keep items whose test (default: truth) is want. */
/* Jinja's make_attrgetter: "a.b.0" is item a, then b, then 0 (digits an int index), each
 * looked up as Jinja's getitem does; an undefined part is dflt when given (not none). */
static struct jv attr_path_or(struct run *R, const struct jv *item, const struct jv *attr,
                              const struct jv *dflt) {
    bool use = dflt && dflt->k != J_NONE;
    if (attr->k != J_STR) {
        struct jv v = getitem(R, item, attr);
        return v.k == J_UNDEF && use ? *dflt : v;
    }
    struct jv cur = *item;
    const char *p = attr->u.s.p, *end = p + attr->u.s.n;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p)), *e = dot ? dot : end;
        bool digits = e > p && e - p < 19;
        for (const char *q = p; q < e && digits; q++)
            digits = *q >= '0' && *q <= '9';
        struct jv key = digits ? vint(strtoll(p, NULL, 10)) : vstr(R, p, (size_t)(e - p));
        cur = getitem(R, &cur, &key);
        if (cur.k == J_UNDEF && use)
            cur = *dflt;
        if (!dot)
            return cur;
        p = dot + 1;
    }
}

static struct jv attr_path(struct run *R, const struct jv *item, const struct jv *attr) {
    return attr_path_or(R, item, attr, NULL);
}

/* A's arguments from position `from` on, its keywords but `but` (NULL: all). */
static struct args rest_args(struct run *R, const struct args *A, size_t from, const char *but) {
    struct args r = {.pos = A->pos + (A->n > from ? from : A->n),
                     .n = A->n > from ? A->n - from : 0};
    r.kwn = mill_jalloc(&R->a, (A->nk ? A->nk : 1) * sizeof *r.kwn);
    r.kwv = mill_jalloc(&R->a, (A->nk ? A->nk : 1) * sizeof *r.kwv);
    for (size_t i = 0; i < A->nk; i++)
        if (!but || strcmp(A->kwn[i], but)) {
            r.kwn[r.nk] = A->kwn[i];
            r.kwv[r.nk++] = A->kwv[i];
        }
    return r;
}

/* An empty generator: what map and select give for a false value (Jinja's `if value:`, which
 * reads neither the value nor the arguments). */
static struct jv empty_generator(struct run *R) {
    struct jv out = vlist(R, 0);
    out.u.l->lazy = true;
    return out;
}

/* select/reject/selectattr/rejectattr: keep items whose test (default: truth) is want. */
static struct jv select_(struct run *R, const struct jv *seq, const struct args *A, bool attr,
                         bool want) {
    if (!truthy(seq))
        return empty_generator(R);
    const struct jlist *l = iterate(R, seq);
    const struct jv *key = attr ? arg(A, 0, NULL) : NULL;
    if (attr && !key)
        fail(R, "selectattr/rejectattr want an attribute");
    size_t t0 = attr ? 1 : 0;
    const struct jv *tname = arg(A, t0, NULL);
    if (tname && tname->k != J_STR)
        fail(R, "a test name must be a string");
    struct args rest = rest_args(R, A, t0 + 1, NULL);
    struct jv out = vlist(R, 0);
    for (size_t i = 0; i < l->n; i++) {
        struct jv item = key ? attr_path(R, &l->v[i], key) : l->v[i];
        bool ok = tname ? test(R, tname->u.s.p, &item, &rest) : truthy(&item);
        if (ok == want)
            lpush(R, out.u.l, l->v[i]);
    }
    out.u.l->lazy = true; /* Jinja returns a generator */
    return out;
}

static struct jv filter(struct run *R, const char *name, const struct jv *v, const struct args *A);

static struct jv map_(struct run *R, const struct jv *seq, const struct args *A) {
    if (!truthy(seq))
        return empty_generator(R);
    const struct jlist *l = iterate(R, seq);
    const struct jv *attr = arg(A, SIZE_MAX, "attribute"), *dflt = arg(A, SIZE_MAX, "default");
    struct jv out = vlist(R, l->n);
    if (!attr && (!A->n || A->pos[0].k != J_STR))
        fail(R, "map wants a filter name or attribute=");
    struct args rest = rest_args(R, A, 1, NULL);
    for (size_t i = 0; i < l->n; i++) {
        struct jv item;
        if (attr) {
            item = attr_path_or(R, &l->v[i], attr, dflt);
        } else { /* map('map', ...) recurses: count it as nesting */
            if (++R->edepth > MAX_EVAL_DEPTH)
                fail(R, "filters nested more than %d deep", MAX_EVAL_DEPTH);
            item = filter(R, A->pos[0].u.s.p, &l->v[i], &rest);
            R->edepth--;
        }
        lpush(R, out.u.l, item);
    }
    out.u.l->lazy = true; /* Jinja returns a generator */
    return out;
}

/* Sorts v[0..n) by key (attr_path when attr, case-folded when fold), stably as Python's sort,
 * reverse keeping equal items in order as Python's reverse=True does: a merge sort. */
static void sort_items(struct run *R, struct jv *v, size_t n, const struct jv *attr, bool rev,
                       bool fold) {
    struct jv *keys = mill_jalloc(&R->a, (n ? n : 1) * sizeof *keys);
    struct jv *tk = mill_jalloc(&R->a, (n ? n : 1) * sizeof *tk);
    struct jv *tv = mill_jalloc(&R->a, (n ? n : 1) * sizeof *tv);
    for (size_t i = 0; i < n; i++) {
        keys[i] = attr ? attr_path(R, &v[i], attr) : v[i];
        if (fold && keys[i].k == J_STR)
            keys[i] = recase(R, &keys[i], 'l');
    }
    for (size_t w = 1; w < n; w *= 2) {
        charge(R, n);
        for (size_t lo = 0; lo + w < n; lo += 2 * w) {
            size_t mid = lo + w, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, k = 0;
            while (a < mid || b < hi) {
                int c = a < mid && b < hi ? cmp(R, &keys[a], &keys[b]) : 0;
                bool left = b >= hi || (a < mid && (rev ? c >= 0 : c <= 0));
                size_t from = left ? a++ : b++;
                tk[k] = keys[from], tv[k++] = v[from];
            }
            memcpy(keys + lo, tk, k * sizeof *tk);
            memcpy(v + lo, tv, k * sizeof *tv);
        }
    }
}

/* Where the line at p ends, as str.splitlines() splits (\n, \r\n, \r, \v, \f, \x1c-\x1e,
 * U+0085, U+2028, U+2029): the break's start, its length in *brk (0 at the end). */
static const char *line_break(const char *p, const char *end, size_t *brk) {
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        size_t left = (size_t)(end - p);
        *brk = c == '\r' ? (left > 1 && p[1] == '\n' ? 2 : 1)
               : c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e) ? 1
               : c == 0xC2 && left > 1 && (unsigned char)p[1] == 0x85            ? 2
               : c == 0xE2 && left > 2 && (unsigned char)p[1] == 0x80 &&
                       ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9)
                   ? 3
                   : 0;
        if (*brk)
            return p;
    }
    *brk = 0;
    return end;
}

static struct jv indent_(struct run *R, const struct jv *s, const struct args *A) {
    const struct jv *w = arg(A, 0, "width");
    bool first = arg(A, 1, "first") && truthy(arg(A, 1, "first"));
    bool blank = arg(A, 2, "blank") && truthy(arg(A, 2, "blank"));
    struct jv pad = vstrz("    ");
    if (w && w->k == J_STR)
        pad = *w;
    else if (w) {
        int64_t k = w->k == J_INT ? w->u.i : 4;
        if (k < 0)
            k = 0;
        if (k > (1 << 20))
            fail(R, "indent: a width over 1 MiB");
        char *p = mill_jalloc(&R->a, (size_t)k + 1);
        memset(p, ' ', (size_t)k);
        pad = (struct jv){.k = J_STR, .u.s = {p, (size_t)k}};
    }
    /* Jinja's do_indent: the lines of s + "\n" (splitlines), every one after the first
     * indented unless empty (all of them with blank), the first too with first */
    struct mill_buf *b = buf_get(R);
    if (first)
        put(R, b, pad.u.s.p, pad.u.s.n);
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    for (bool head = true;; head = false) {
        size_t brk;
        const char *e = line_break(p, end, &brk);
        if (!head) {
            put(R, b, "\n", 1);
            if (blank || e > p)
                put(R, b, pad.u.s.p, pad.u.s.n);
        }
        put(R, b, p, (size_t)(e - p));
        if (!brk)
            break;
        p = e + brk;
    }
    return buf_done(R, b);
}

/* Jinja's title filter: each word (after -, whitespace, (, {, [ or <) capitalised. */
/* The bytes of a separator of Jinja's title filter at p ([-\s({\[<], \s as str.isspace()). */
static size_t title_sep(const char *p, size_t n) {
    return strchr("-({[<", *p) && *p ? 1 : mill_py_space_len(p, n);
}

/* Jinja's title: the text split at runs of separators, each word its first character upper
 * and the rest lower (the rest as a string of its own: Final_Sigma sees only it). */
static struct jv title_filter(struct run *R, const struct jv *s) {
    struct mill_buf *b = buf_get(R);
    const char *p = s->u.s.p;
    size_t n = s->u.s.n, i = 0;
    charge(R, n / 16);
    while (i < n) {
        size_t k = title_sep(p + i, n - i);
        if (k) {
            put(R, b, p + i, k);
            i += k;
            continue;
        }
        size_t k1 = mill_utf8_valid_len((const unsigned char *)p + i, n - i, NULL);
        size_t e = i + (k1 ? k1 : 1), w = e; /* an ill-formed byte is one character */
        while (w < n && !title_sep(p + w, n - w))
            w++;
        size_t n0 = b->n;
        ck(R, mill_py_recase(p + i, e - i, MILL_PYCASE_UPPER, b));
        ck(R, mill_py_recase(p + e, w - e, MILL_PYCASE_LOWER, b));
        grew(R, b, n0);
        i = w;
    }
    return buf_done(R, b);
}

static struct jv tojson(struct run *R, const struct jv *v, const struct args *A) {
    /* transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
    const struct jv *ea = arg(A, 0, "ensure_ascii"), *ind = arg(A, 1, "indent");
    const struct jv *sep = arg(A, 2, "separators"), *sk = arg(A, 3, "sort_keys");
    struct json_opts o = {.indent = -1, .item_sep = ", ", .key_sep = ": "};
    if (ind && ind->k != J_NONE) {
        if (ind->k != J_INT || ind->u.i < 0 || ind->u.i > 64)
            fail(R, "tojson: indent must be an integer from 0 to 64");
        o.indent = (int)ind->u.i;
        o.item_sep = ",";
    }
    if (sep && sep->k != J_NONE) {
        if (sep->k != J_LIST || sep->u.l->n != 2 || sep->u.l->v[0].k != J_STR ||
            sep->u.l->v[1].k != J_STR)
            fail(R, "tojson: separators must be two strings");
        o.item_sep = sep->u.l->v[0].u.s.p;
        o.key_sep = sep->u.l->v[1].u.s.p;
    }
    o.sort_keys = sk && truthy(sk);
    o.ascii = ea && truthy(ea);
    struct mill_buf *b = buf_get(R);
    write_json(R, b, v, &o, 0);
    return buf_done(R, b);
}

/* s[0..n) as Python's int(s) (want_int) or float(s) reads it: whitespace around, a sign,
 * digits with single underscores between them; a float also takes a fraction, an exponent,
 * inf, infinity and nan in any case. false where Python raises ValueError; *over when an int
 * does not fit 64 bits (Python's would). */
static bool py_number(const char *s, size_t n, bool want_int, int64_t *iv, double *fv, bool *over) {
    size_t st, len;
    mill_py_strip_span(s, n, &st, &len);
    char buf[400];
    size_t k = 0, i = st, end = st + len;
    if (!len || len >= sizeof buf)
        return false;
    for (; i < end; i++) {
        char c = s[i];
        if (c == '_') { /* only between two digits */
            if (!k || !isdigit((unsigned char)buf[k - 1]) || i + 1 >= end ||
                !isdigit((unsigned char)s[i + 1]))
                return false;
            continue;
        }
        buf[k++] = c;
    }
    buf[k] = 0;
    const char *b = buf + (buf[0] == '+' || buf[0] == '-');
    if (want_int) {
        if (!*b || strspn(b, "0123456789") != strlen(b))
            return false;
        errno = 0;
        *iv = strtoll(buf, NULL, 10);
        *over = errno == ERANGE;
        return true;
    }
    static const char *const special[] = {"inf", "infinity", "nan"};
    bool named = false;
    for (size_t m = 0; m < 3; m++)
        named |= !strcasecmp(b, special[m]);
    if (!named) { /* digits [. digits] or . digits, then [e [sign] digits] */
        size_t a = strspn(b, "0123456789"), fr = 0;
        const char *q = b + a;
        if (*q == '.')
            fr = strspn(q + 1, "0123456789"), q += 1 + fr;
        if (a + fr == 0)
            return false;
        if (*q == 'e' || *q == 'E') {
            q += 1 + (q[1] == '+' || q[1] == '-');
            size_t e = strspn(q, "0123456789");
            if (!e)
                return false;
            q += e;
        }
        if (*q)
            return false;
    }
    *fv = mill_strtod_c(buf, NULL);
    return true;
}

/* Jinja's int filter: int(value), else int(float(value)), else the default. */
static struct jv int_filter(struct run *R, const struct jv *v, const struct args *A) {
    const struct jv *d = arg(A, 0, "default");
    struct jv dflt = d ? *d : vint(0);
    if (v->k == J_UNDEF)
        fail(R, "%s", v->u.why ? v->u.why : "an undefined value");
    if (v->k == J_INT || v->k == J_BOOL)
        return vint(ival(v));
    double f = 0;
    int64_t i = 0;
    bool over = false;
    if (v->k == J_STR && py_number(v->u.s.p, v->u.s.n, true, &i, &f, &over)) {
        if (over)
            fail(R, "int: %s does not fit 64 bits", v->u.s.p);
        return vint(i);
    }
    if (v->k == J_FLOAT)
        f = v->u.f;
    else if (v->k != J_STR || !py_number(v->u.s.p, v->u.s.n, false, &i, &f, &over))
        return dflt;
    if (isnan(f))
        return dflt;
    if (!(fabs(f) < 9.2e18))
        fail(R, "int: %g does not fit 64 bits", f);
    return vint((int64_t)f);
}

/* Jinja's round: Python's round(value, p) for "common" (an int stays an int; a float is
 * correctly rounded, halves to even), else math.floor/ceil(value * 10**p) / 10**p. */
static struct jv round_(struct run *R, const struct jv *v, int64_t p, const struct jv *method) {
    const char *m = method ? to_str(R, method).u.s.p : "common";
    if (strcmp(m, "common") && strcmp(m, "floor") && strcmp(m, "ceil"))
        fail(R, "round: method must be common, ceil or floor");
    p = p < -300 ? -300 : p > 300 ? 300 : p;
    double x = num(v), k = pow(10, (double)p);
    if (strcmp(m, "common"))
        return (struct jv){.k = J_FLOAT, .u.f = (m[0] == 'f' ? floor(x * k) : ceil(x * k)) / k};
    if (v->k != J_FLOAT) {
        int64_t i = ival(v), unit = 1;
        for (int64_t e = p; e < 0 && unit <= INT64_MAX / 10; e++)
            unit *= 10;
        if (p >= 0 || p < -18)
            return vint(p >= 0 ? i : 0);
        int64_t q = i / unit, r = i % unit;
        if (r < 0)
            q--, r += unit;
        if (r > unit - r || (r == unit - r && (q & 1)))
            q++;
        int64_t out;
        if (__builtin_mul_overflow(q, unit, &out))
            fail(R, "round: integer overflow");
        return vint(out);
    }
    if (p >= 0 && isfinite(x)) {
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)(p > 340 ? 340 : p), x);
        return (struct jv){.k = J_FLOAT, .u.f = mill_strtod_c(buf, NULL)};
    }
    return (struct jv){.k = J_FLOAT, .u.f = isfinite(x) ? nearbyint(x * k) / k : x};
}

/* Jinja's batch (linecount items a list, the last filled with fill_with) and slice (the items
 * in `count` columns, the first len % count one longer, the others then filled); both
 * generators. */
static struct jv batch_or_slice(struct run *R, const struct jv *v, const struct args *A,
                                bool batch) {
    const struct jlist *l = iterate(R, v);
    const char *name = batch ? "linecount" : "slices";
    const struct jv *count = arg(A, 0, name), *fill = arg(A, 1, "fill_with");
    if (!count)
        fail(R, "%s wants a count", batch ? "batch" : "slice");
    /* batch(none) compares no length equal: one batch, never filled */
    int64_t k = batch && count->k == J_NONE ? -1 : int_arg(R, A, 0, name, 0);
    if (!batch && k == 0)
        fail(R, "integer division or modulo by zero");
    bool filling = fill && fill->k != J_NONE;
    struct jv out = vlist(R, 0), cur = vlist(R, 0);
    if (batch) {
        for (size_t i = 0; i < l->n; i++) {
            if ((int64_t)cur.u.l->n == k) { /* 0: one empty batch first, as Jinja's */
                lpush(R, out.u.l, cur);
                cur = vlist(R, 0);
            }
            lpush(R, cur.u.l, l->v[i]);
        }
        if (cur.u.l->n && filling && (int64_t)cur.u.l->n < k)
            charge(R, (size_t)(k - (int64_t)cur.u.l->n));
        for (; cur.u.l->n && filling && (int64_t)cur.u.l->n < k;)
            lpush(R, cur.u.l, *fill);
        if (cur.u.l->n)
            lpush(R, out.u.l, cur);
    } else {
        size_t n_sl = k > 0 ? (size_t)k : 0; /* range(slices): none when negative */
        size_t per = n_sl ? l->n / n_sl : 0, extra = n_sl ? l->n % n_sl : 0, at = 0;
        charge(R, n_sl < l->n ? l->n : n_sl);
        for (size_t s = 0; s < n_sl; s++) {
            size_t n = per + (s < extra);
            struct jv part = vlist(R, n + 1);
            for (size_t i = 0; i < n; i++)
                lpush(R, part.u.l, l->v[at++]);
            if (filling && s >= extra)
                lpush(R, part.u.l, *fill);
            lpush(R, out.u.l, part);
        }
    }
    out.u.l->lazy = true; /* Jinja returns a generator */
    return out;
}

/* Jinja's groupby: the items sorted by the attribute (case-folded unless case_sensitive; a
 * missing one is `default` when given), runs of equal keys as (grouper, list) tuples whose
 * grouper is the first item's own value; a list. */
static struct jv groupby_(struct run *R, const struct jv *v, const struct args *A) {
    const struct jv *attr = arg(A, 0, "attribute"), *dflt = arg(A, 1, "default");
    const struct jv *cs = arg(A, 2, "case_sensitive");
    if (!attr)
        fail(R, "groupby wants an attribute");
    bool fold = !(cs && truthy(cs));
    const struct jlist *l = iterate(R, v);
    struct jv pairs = vlist(R, l->n), zero = vint(0);
    for (size_t i = 0; i < l->n; i++) { /* [key, item]: sorted by their first */
        struct jv key = attr_path_or(R, &l->v[i], attr, dflt), pair = vlist(R, 2);
        lpush(R, pair.u.l, key);
        lpush(R, pair.u.l, l->v[i]);
        lpush(R, pairs.u.l, pair);
    }
    sort_items(R, pairs.u.l->v, pairs.u.l->n, &zero, false, fold);
    struct jv out = vlist(R, 0), last = NONE;
    for (size_t i = 0; i < pairs.u.l->n; i++) {
        const struct jlist *p = pairs.u.l->v[i].u.l;
        struct jv key = fold && p->v[0].k == J_STR ? recase(R, &p->v[0], 'l') : p->v[0];
        if (!i || !eq(R, &key, &last)) {
            struct jv g = vlist(R, 2);
            g.u.l->tuple = g.u.l->group = true;
            lpush(R, g.u.l, p->v[0]);
            lpush(R, g.u.l, vlist(R, 0));
            lpush(R, out.u.l, g);
            last = key;
        }
        const struct jlist *g = out.u.l->v[out.u.l->n - 1].u.l;
        lpush(R, g->v[1].u.l, p->v[1]);
    }
    return out;
}

/* Jinja's filesizeformat: bytes in kB, MB, ... (binary: KiB, MiB, ...), one decimal. The
 * comparison with base**k is Python's, exact (long double holds 1000**9 exactly). */
static struct jv filesize(struct run *R, const struct jv *v, const struct args *A) {
    const struct jv *bin = arg(A, 0, "binary");
    double b = 0; /* float(value), which raises for text that is no number and for the rest */
    int64_t iv;
    bool over;
    if (is_num(v))
        b = num(v);
    else if (v->k != J_STR || !py_number(v->u.s.p, v->u.s.n, false, &iv, &b, &over))
        fail(R, "float() cannot convert %s", v->k == J_STR ? "that text" : type_name(v));
    bool binary = bin && truthy(bin);
    static const char *const dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    static const char *const two[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    int base = binary ? 1024 : 1000;
    char out[400]; /* %.0f and %.1f of a double: up to 309 digits */
    if (isnan(b))
        b = NAN; /* Python prints nan whatever its sign */
    if (b == 1)
        return vstrz("1 Byte");
    if (b < base) {
        if (!isfinite(b))
            fail(R, "cannot convert float %s to integer", isnan(b) ? "NaN" : "infinity");
        mill_snprintf_c(out, sizeof out, "%.0f Bytes", trunc(b) == 0 ? 0.0 : trunc(b));
        return vstr(R, out, strlen(out));
    }
    long double unit = (long double)base;
    size_t i = 0;
    for (; i < 8; i++) {
        unit *= base;
        if ((long double)b < unit)
            break;
    }
    i = i < 8 ? i : 7;
    mill_snprintf_c(out, sizeof out, "%.1f %s", (double)base * b / (double)unit,
                    (binary ? two : dec)[i]);
    return vstr(R, out, strlen(out));
}

/* urllib's quote of str(value) as UTF-8: letters, digits and "_.-~" kept, and "/" unless
 * for_qs, where a space is "+" (Jinja's url_quote). */
static void url_quote(struct run *R, struct mill_buf *b, const struct jv *v, bool for_qs) {
    struct jv s = to_str(R, v);
    char hex[4];
    for (size_t i = 0; i < s.u.s.n; i++) {
        unsigned char c = (unsigned char)s.u.s.p[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum || (c && strchr("_.-~", c)) || (c == '/' && !for_qs)) {
            put(R, b, (const char *)&c, 1);
        } else if (c == ' ' && for_qs) {
            puts_(R, b, "+");
        } else {
            snprintf(hex, sizeof hex, "%%%02X", c);
            put(R, b, hex, 3);
        }
    }
}

/* Jinja's urlencode: a string (or anything not iterable) quoted with "/" safe; a dict's items
 * or an iterable of pairs as a query string. */
static struct jv urlencode(struct run *R, const struct jv *v) {
    struct mill_buf *b = buf_get(R);
    if (v->k != J_LIST && v->k != J_DICT) {
        url_quote(R, b, v, false);
        return buf_done(R, b);
    }
    struct jv items = v->k == J_DICT ? filter(R, "items", v, &(struct args){0}) : *v;
    const struct jlist *l = iterate(R, &items);
    for (size_t i = 0; i < l->n; i++) {
        const struct jlist *p = iterate(R, &l->v[i]); /* k, v = item */
        if (p->n != 2)
            fail(R, "urlencode: an item that is not a pair");
        if (i)
            puts_(R, b, "&");
        url_quote(R, b, &p->v[0], true);
        puts_(R, b, "=");
        url_quote(R, b, &p->v[1], true);
    }
    return buf_done(R, b);
}

/* Jinja's xmlattr: key="value" for each item of a dict whose value is neither none nor
 * undefined, both escaped, with a leading space (autospace). */
static struct jv xmlattr(struct run *R, const struct jv *v, const struct args *A) {
    const struct jv *sp = arg(A, 0, "autospace");
    if (v->k != J_DICT || v->u.d->ns)
        fail(R, "xmlattr wants a mapping");
    struct mill_buf *b = buf_get(R);
    for (size_t i = 0; i < v->u.d->n; i++) {
        const struct jv *val = &v->u.d->val[i];
        if (val->k == J_NONE || val->k == J_UNDEF)
            continue;
        if (v->u.d->key[i].k != J_STR) /* re.search on it */
            fail(R, "xmlattr: expected string or bytes-like object");
        struct jv k = v->u.d->key[i], x = to_str(R, val);
        for (size_t j = 0; j < k.u.s.n; j++)
            if (strchr(" \t\n\r\f\v/>=", k.u.s.p[j]) && k.u.s.p[j])
                fail(R, "Invalid character in attribute name: '%.60s'", k.u.s.p);
        struct jv ek = v->u.d->key[i].safe ? k : html_escape(R, &k);
        struct jv ex = val->safe ? x : html_escape(R, &x);
        puts_(R, b, b->n || !sp || truthy(sp) ? " " : "");
        put(R, b, ek.u.s.p, ek.u.s.n);
        puts_(R, b, "=\"");
        put(R, b, ex.u.s.p, ex.u.s.n);
        puts_(R, b, "\"");
    }
    return buf_done(R, b);
}

/* str.center(width) with spaces: the extra space on the right unless width is odd and the
 * margin too (CPython's pad). */
static struct jv center(struct run *R, const struct jv *s, const struct args *A) {
    const struct jv *wv = arg(A, 0, "width");
    if (wv && wv->k == J_NONE)
        fail(R, "'NoneType' object cannot be interpreted as an integer");
    int64_t w = int_arg(R, A, 0, "width", 80), n = (int64_t)str_len(s);
    if (w <= n)
        return *s;
    int64_t marg = w - n, left = marg / 2 + (marg & w & 1);
    charge(R, (size_t)marg);
    struct mill_buf *b = buf_get(R);
    for (int64_t i = 0; i < left; i++)
        puts_(R, b, " ");
    put(R, b, s->u.s.p, s->u.s.n);
    for (int64_t i = left; i < marg; i++)
        puts_(R, b, " ");
    return buf_done(R, b);
}

/* Jinja's truncate: s when it is at most length + leeway (default 5) code points, else its
 * first length - len(end) code points, cut back to the last space unless killwords, + end. */
static struct jv truncate(struct run *R, const struct jv *s, const struct args *A) {
    int64_t len = int_arg(R, A, 0, "length", 255), leeway = int_arg(R, A, 3, "leeway", 5);
    const struct jv *kw = arg(A, 1, "killwords"), *e = arg(A, 2, "end");
    if ((e && e->k != J_STR) || (s->k != J_STR && s->k != J_UNDEF)) /* len() and + of str */
        fail(R, "truncate wants text, not '%s'", type_name(e && e->k != J_STR ? e : s));
    struct jv end = e ? *e : vstrz("..."), from = vint(0);
    int64_t n_end = (int64_t)str_len(&end);
    if (len < n_end)
        fail(R, "expected length >= %lld, got %lld", (long long)n_end, (long long)len);
    if (leeway < 0)
        fail(R, "expected leeway >= 0, got %lld", (long long)leeway);
    if (s->k == J_UNDEF || len > INT64_MAX - leeway || (int64_t)str_len(s) <= len + leeway)
        return s->k == J_UNDEF ? vstrz("") : *s;
    struct jv to = vint(len - n_end), head = slice(R, s, &from, &to, NULL);
    if (!(kw && truthy(kw))) { /* rsplit(" ", 1)[0] */
        const char *sp = head.u.s.n ? memrchr(head.u.s.p, ' ', head.u.s.n) : NULL;
        if (sp)
            head.u.s.n = (size_t)(sp - head.u.s.p);
    }
    struct mill_buf *b = buf_get(R);
    put(R, b, head.u.s.p, head.u.s.n);
    put(R, b, end.u.s.p, end.u.s.n);
    return buf_done(R, b);
}

static struct jv filter(struct run *R, const char *name, const struct jv *v, const struct args *A) {
#define IS(s) (!strcmp(name, s))
    if (IS("default") || IS("d")) {
        const struct jv *d = arg(A, 0, "default_value"), *b = arg(A, 1, "boolean");
        bool use = v->k == J_UNDEF || (b && truthy(b) && !truthy(v));
        return use ? (d ? *d : vstrz("")) : *v;
    }
    if (IS("length") || IS("count")) {
        if (v->k == J_STR) {
            charge(R, v->u.s.n / 64);
            return vint((int64_t)str_len(v));
        }
        if (v->k == J_LIST && !v->u.l->lazy)
            return vint((int64_t)v->u.l->n);
        if (v->k == J_DICT && !v->u.d->ns)
            return vint((int64_t)v->u.d->n);
        if (v->k == J_UNDEF)
            return vint(0);
        fail(R, "object of type '%s' has no len()", type_name(v));
    }
    if (IS("tojson"))
        return tojson(R, v, A);
    if (IS("format")) { /* Jinja's do_format: str(value) % (kwargs or args), args a tuple */
        if (A->n && A->nk)
            fail(R, "can't handle positional and keyword arguments at the same time");
        struct jv args = A->nk ? vdict(R) : vlist(R, A->n), fmt = to_str(R, v);
        if (!A->nk)
            args.u.l->tuple = true;
        for (size_t i = 0; i < A->nk; i++)
            dset(R, args.u.d, vstrz(A->kwn[i]), A->kwv[i]);
        for (size_t i = 0; i < A->n; i++)
            lpush(R, args.u.l, A->pos[i]);
        return percent_format(R, &fmt, &args);
    }
    if (IS("safe")) { /* Markup(str(value)) */
        struct jv m = v->k == J_STR ? *v : to_str(R, v);
        m.safe = true;
        return m;
    }
    if (IS("list")) {
        const struct jlist *l = iterate(R, v);
        struct jv out = vlist(R, l->n);
        for (size_t i = 0; i < l->n; i++)
            lpush(R, out.u.l, l->v[i]);
        return out;
    }
    if (IS("items")) {
        if (v->k == J_UNDEF)
            return vlist(R, 0);
        if (v->k != J_DICT || v->u.d->ns)
            fail(R, "items: can only get item pairs from a mapping");
        struct jfunc f = {.id = M_ITEMS, .self = *v};
        struct args none = {0};
        return method(R, &f, &none);
    }
    if (IS("join")) {
        const struct jv *sep = arg(A, 0, "d"), *attr = arg(A, 1, "attribute");
        return join(R, v, sep, attr);
    }
    if (IS("first") || IS("last")) {
        const struct jlist *l = iterate(R, v);
        return l->n ? l->v[IS("first") ? 0 : l->n - 1] : vundef("the first item of nothing");
    }
    if (IS("select") || IS("reject"))
        return select_(R, v, A, false, IS("select"));
    if (IS("selectattr") || IS("rejectattr"))
        return select_(R, v, A, true, IS("selectattr"));
    if (IS("map"))
        return map_(R, v, A);
    if (IS("attr")) {
        const struct jv *n = arg(A, 0, "name");
        if (!n || n->k != J_STR)
            fail(R, "attr wants a name");
        if (v->k == J_DICT && !v->u.d->ns) { /* attributes only (methods), not its items */
            for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
                if (METHODS[i].on == J_DICT && !strcmp(METHODS[i].name, n->u.s.p))
                    return vfunc(R, METHODS[i].id, *v);
            return vundef("a dict attribute that is not a method");
        }
        return getattr_(R, v, n->u.s.p);
    }
    if (IS("reverse")) {
        if (v->k == J_STR) {
            struct jv none = NONE, back = vint(-1);
            return slice(R, v, &none, &none, &back);
        }
        const struct jlist *l = iterate(R, v);
        struct jv out = vlist(R, l->n);
        for (size_t i = l->n; i-- > 0;)
            lpush(R, out.u.l, l->v[i]);
        return out;
    }
    if (IS("sort") || IS("unique") || IS("dictsort") || IS("min") || IS("max")) {
        bool dict = IS("dictsort");
        const struct jv *attr = arg(A, dict ? SIZE_MAX : IS("sort") ? 2 : 1, "attribute");
        const struct jv *cs = arg(A, dict ? 0 : IS("sort") ? 1 : 0, "case_sensitive");
        const struct jv *rv = arg(A, dict ? 2 : IS("sort") ? 0 : SIZE_MAX, "reverse");
        struct jv items = dict ? filter(R, "items", v, &(struct args){0})
                               : (struct jv){.k = J_LIST, .u.l = iterate(R, v)};
        struct jv copy = vlist(R, items.u.l->n), key = vint(0);
        for (size_t i = 0; i < items.u.l->n; i++)
            lpush(R, copy.u.l, items.u.l->v[i]);
        if (dict) {
            const struct jv *by = arg(A, 1, "by");
            key = vint(by && by->k == J_STR && !strcmp(by->u.s.p, "value"));
            attr = &key;
        }
        bool fold = !(cs && truthy(cs));
        if (IS("unique")) {
            struct jv out = vlist(R, 0), seen = vlist(R, 0);
            for (size_t i = 0; i < copy.u.l->n; i++) {
                struct jv k = attr ? attr_path(R, &copy.u.l->v[i], attr) : copy.u.l->v[i];
                if (fold && k.k == J_STR)
                    k = recase(R, &k, 'l');
                if (!contains(R, &seen, &k)) {
                    lpush(R, seen.u.l, k);
                    lpush(R, out.u.l, copy.u.l->v[i]);
                }
            }
            return out;
        }
        bool minmax = IS("min") || IS("max"); /* Python's: the first of equal extremes */
        sort_items(R, copy.u.l->v, copy.u.l->n, attr, minmax ? IS("max") : rv && truthy(rv), fold);
        if (minmax)
            return copy.u.l->n ? copy.u.l->v[0] : vundef("the min or max of nothing");
        return copy;
    }
    if (IS("sum")) {
        const struct jv *attr = arg(A, 0, "attribute"), *start = arg(A, 1, "start");
        const struct jlist *l = iterate(R, v);
        struct jv acc = start ? *start : vint(0);
        for (size_t i = 0; i < l->n; i++) {
            struct jv x = attr ? attr_path(R, &l->v[i], attr) : l->v[i];
            acc = arith(R, JO_ADD, &acc, &x);
        }
        return acc;
    }
    if (IS("int"))
        return int_filter(R, v, A);
    if (IS("float")) {
        if (is_num(v))
            return (struct jv){.k = J_FLOAT, .u.f = num(v)};
        const struct jv *d = arg(A, 0, "default");
        struct jv dflt = d ? *d : (struct jv){.k = J_FLOAT, .u.f = 0};
        if (v->k == J_UNDEF)
            fail(R, "%s", v->u.why ? v->u.why : "an undefined value");
        double f;
        int64_t i;
        bool over;
        if (v->k != J_STR || !py_number(v->u.s.p, v->u.s.n, false, &i, &f, &over))
            return dflt;
        return (struct jv){.k = J_FLOAT, .u.f = f};
    }
    if (IS("abs")) {
        if (v->k == J_FLOAT)
            return (struct jv){.k = J_FLOAT, .u.f = fabs(v->u.f)};
        if (v->k == J_INT || v->k == J_BOOL) {
            if (ival(v) == INT64_MIN)
                fail(R, "integer overflow");
            return vint(ival(v) < 0 ? -ival(v) : ival(v));
        }
        fail(R, "bad operand type for abs(): '%s'", type_name(v));
    }
    if (IS("batch") || IS("slice"))
        return batch_or_slice(R, v, A, IS("batch"));
    if (IS("groupby"))
        return groupby_(R, v, A);
    if (IS("filesizeformat"))
        return filesize(R, v, A);
    if (IS("urlencode"))
        return urlencode(R, v);
    if (IS("xmlattr"))
        return xmlattr(R, v, A);
    if (IS("round")) {
        if (!is_num(v))
            fail(R, "round wants a number");
        return round_(R, v, int_arg(R, A, 0, "precision", 0), arg(A, 1, "method"));
    }
    /* the rest work on str(value) */
    struct jv s = to_str(R, v);
    if (IS("indent"))
        return indent_(R, &s, A);
    if (IS("center"))
        return center(R, &s, A);
    if (IS("truncate"))
        return truncate(R, v, A);
    if (IS("trim"))
        return strip(R, &s, arg(A, 0, "chars"), 3);
    if (IS("string"))
        return s;
    if (IS("upper") || IS("lower") || IS("capitalize"))
        return recase(R, &s, IS("upper") ? 'u' : IS("lower") ? 'l' : 'c');
    if (IS("title"))
        return title_filter(R, &s);
    if (IS("replace")) {
        const struct jv *a = arg(A, 0, "old"), *b = arg(A, 1, "new");
        if (!a || !b)
            fail(R, "replace wants two arguments");
        struct jv as = to_str(R, a), bs = to_str(R, b);
        return replace(R, &s, &as, &bs, int_arg(R, A, 2, "count", -1));
    }
    if (IS("escape") || IS("e") || IS("forceescape")) { /* a Markup stays as it is */
        struct jv m = v->safe && v->k == J_STR && !IS("forceescape") ? s : html_escape(R, &s);
        m.safe = true;
        return m;
    }
    if (IS("wordcount")) { /* Jinja counts \w+ runs: letters, digits, _, non-ASCII here */
        int64_t k = 0;
        bool in = false;
        for (size_t i = 0; i < s.u.s.n; i++) {
            unsigned char c = (unsigned char)s.u.s.p[i];
            bool w = isalnum(c) || c == '_' || c >= 0x80;
            k += w && !in;
            in = w;
        }
        return vint(k);
    }
    fail(R, "no filter named '%s'", name);
#undef IS
}

static bool test(struct run *R, const char *name, const struct jv *v, const struct args *A) {
#define IS(s) (!strcmp(name, s))
    const struct jv *x = arg(A, 0, NULL);
    if (IS("defined"))
        return v->k != J_UNDEF;
    if (IS("undefined"))
        return v->k == J_UNDEF;
    if (IS("none"))
        return v->k == J_NONE;
    if (IS("boolean"))
        return v->k == J_BOOL;
    if (IS("true") || IS("false"))
        return v->k == J_BOOL && v->u.b == IS("true");
    if (IS("integer"))
        return v->k == J_INT;
    if (IS("float"))
        return v->k == J_FLOAT;
    if (IS("number"))
        return is_num(v);
    if (IS("string"))
        return v->k == J_STR;
    if (IS("mapping"))
        return v->k == J_DICT && !v->u.d->ns;
    if (IS("iterable") || IS("sequence"))
        return v->k == J_STR || v->k == J_LIST || v->k == J_UNDEF ||
               (v->k == J_DICT && !v->u.d->ns);
    if (IS("callable"))
        return v->k == J_FUNC || v->k == J_MACRO;
    if (IS("odd") || IS("even")) { /* Jinja: value % 2 == 1, value % 2 == 0 */
        struct jv two = vint(2), m = arith(R, JO_MOD, v, &two);
        return num(&m) == (IS("odd") ? 1 : 0);
    }
    if (IS("divisibleby")) {
        if (!x || !is_num(x) || !is_num(v))
            fail(R, "divisibleby wants numbers");
        struct jv m = arith(R, JO_MOD, v, x);
        return num(&m) == 0;
    }
    if (IS("lower") || IS("upper")) {
        if (v->k != J_STR)
            return false;
        bool cased = false, ok = true;
        for (size_t i = 0; i < v->u.s.n && ok; i++) {
            char c = v->u.s.p[i];
            cased |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            ok = IS("lower") ? !(c >= 'A' && c <= 'Z') : !(c >= 'a' && c <= 'z');
        }
        return ok && cased;
    }
    if (IS("escaped"))
        return false;
    if (!x)
        fail(R, "test '%s' wants an argument", name);
    if (IS("eq") || IS("equalto") || IS("=="))
        return eq(R, v, x);
    if (IS("ne") || IS("!="))
        return !eq(R, v, x);
    if (IS("sameas"))
        return v->k == x->k && (v->k == J_NONE || v->k == J_UNDEF ||
                                (v->k == J_BOOL && v->u.b == x->u.b) || eq(R, v, x));
    if (IS("in"))
        return contains(R, x, v);
    int c = IS("lt") || IS("lessthan") || IS("<") || IS("le") || IS("<=") || IS("gt") ||
                    IS("greaterthan") || IS(">") || IS("ge") || IS(">=")
                ? cmp(R, v, x)
                : 2;
    if (c == 2)
        fail(R, "no test named '%s'", name);
    return IS("lt") || IS("lessthan") || IS("<")      ? c < 0
           : IS("le") || IS("<=")                     ? c <= 0
           : IS("gt") || IS("greaterthan") || IS(">") ? c > 0
                                                      : c >= 0;
#undef IS
}

/* ---- expressions ---- */

/* What Python can use as a dict key: not a list or dict, nor a tuple holding one. */
static bool hashable(const struct jv *v, int depth) {
    if (v->k == J_DICT || (v->k == J_LIST && !v->u.l->tuple) || depth > MAX_VALUE_DEPTH)
        return v->k == J_DICT && v->u.d->ns; /* a namespace hashes by identity */
    for (size_t i = 0; v->k == J_LIST && i < v->u.l->n; i++)
        if (!hashable(&v->u.l->v[i], depth + 1))
            return false;
    return true;
}

static void step(struct run *R) { charge(R, 1); }

static void eval_args(struct run *R, const struct jnode *n, struct args *A, size_t skip) {
    A->n = n->args.n + skip;
    A->pos = mill_jalloc(&R->a, (A->n ? A->n : 1) * sizeof *A->pos);
    for (size_t i = 0; i < n->args.n; i++)
        A->pos[i + skip] = eval(R, n->args.v[i]);
    A->nk = n->kwv.n;
    A->kwn = n->kwn;
    A->kwv = mill_jalloc(&R->a, (A->nk ? A->nk : 1) * sizeof *A->kwv);
    for (size_t i = 0; i < A->nk; i++)
        A->kwv[i] = eval(R, n->kwv.v[i]);
}

static struct jv eval_call(struct run *R, const struct jnode *n) {
    struct jv fn = eval(R, n->a);
    struct args A;
    eval_args(R, n, &A, 0);
    R->line = n->line;
    return call_value(R, &fn, &A);
}

static struct jv eval_bin(struct run *R, const struct jnode *n) {
    struct jv a = eval(R, n->a), b = eval(R, n->b);
    R->line = n->line;
    if (n->op >= JO_EQ)
        return compare(R, n->op, &a, &b);
    bool formatting = n->op == JO_MOD && a.k == J_STR; /* str % Undefined: its str() is "" */
    if (n->op != JO_CAT && !formatting && (a.k == J_UNDEF || b.k == J_UNDEF)) {
        const struct jv *u = a.k == J_UNDEF ? &a : &b;
        fail(R, "%s", u->u.why ? u->u.why : "an undefined value in arithmetic");
    }
    return arith(R, n->op, &a, &b);
}

static struct jv eval_node(struct run *R, const struct jnode *n);

static struct jv eval(struct run *R, const struct jnode *n) {
    if (++R->edepth > MAX_EVAL_DEPTH)
        fail(R, "expressions and macro calls nested more than %d deep", MAX_EVAL_DEPTH);
    struct jv v = eval_node(R, n);
    R->edepth--;
    return v;
}

static struct jv eval_node(struct run *R, const struct jnode *n) {
    step(R);
    R->line = n->line;
    switch (n->k) {
    case JN_CONST: return n->cst;
    case JN_NAME: {
        const struct jv *v = lookup(R->frame, n->s);
        if (v)
            return *v;
        char *why = mill_jalloc(&R->a, n->sn + 20);
        snprintf(why, n->sn + 20, "'%s' is undefined", n->s);
        return vundef(why);
    }
    case JN_ATTR: {
        struct jv o = eval(R, n->a);
        R->line = n->line;
        return getattr_(R, &o, n->s);
    }
    case JN_ITEM: {
        struct jv o = eval(R, n->a), k = eval(R, n->b);
        R->line = n->line;
        return getitem(R, &o, &k);
    }
    case JN_SLICE: {
        struct jv o = eval(R, n->a), a = n->b ? eval(R, n->b) : NONE,
                  b = n->c ? eval(R, n->c) : NONE, c = n->d ? eval(R, n->d) : NONE;
        R->line = n->line;
        if (o.k == J_UNDEF)
            fail(R, "%s has no items", o.u.why ? o.u.why : "an undefined value");
        return slice(R, &o, &a, &b, &c);
    }
    case JN_CALL: return eval_call(R, n);
    case JN_FILTER:
    case JN_TEST: {
        struct jv v = eval(R, n->a);
        struct args A;
        eval_args(R, n, &A, 0);
        R->line = n->line;
        if (n->k == JN_FILTER)
            return filter(R, n->s, &v, &A);
        return vbool(test(R, n->s, &v, &A) != (n->op == 1));
    }
    case JN_NEG:
    case JN_POS: {
        struct jv v = eval(R, n->a), zero = vint(0);
        R->line = n->line;
        if (!is_num(&v))
            fail(R, "bad operand type for unary %c: '%s'", n->k == JN_NEG ? '-' : '+',
                 type_name(&v));
        if (n->k == JN_NEG && v.k == J_FLOAT)
            return (struct jv){.k = J_FLOAT, .u.f = -v.u.f};
        return n->k == JN_NEG ? arith(R, JO_SUB, &zero, &v) : v.k == J_BOOL ? vint(ival(&v)) : v;
    }
    case JN_NOT: {
        struct jv v = eval(R, n->a);
        return vbool(!truthy(&v));
    }
    case JN_BIN: return eval_bin(R, n);
    case JN_AND:
    case JN_OR: {
        struct jv a = eval(R, n->a);
        return truthy(&a) == (n->k == JN_AND) ? eval(R, n->b) : a;
    }
    case JN_COND: {
        struct jv c = eval(R, n->b);
        return truthy(&c) ? eval(R, n->a) : n->c ? eval(R, n->c) : vundef("a conditional's else");
    }
    case JN_LIST:
    case JN_TUPLE: {
        struct jv l = vlist(R, n->args.n);
        for (size_t i = 0; i < n->args.n; i++)
            lpush(R, l.u.l, eval(R, n->args.v[i]));
        l.u.l->tuple = n->k == JN_TUPLE;
        return l;
    }
    case JN_DICT: {
        struct jv d = vdict(R);
        for (size_t i = 0; i < n->args.n; i++) {
            struct jv k = eval(R, n->args.v[i]);
            if (!hashable(&k, 0))
                fail(R, "unhashable type: '%s'", type_name(&k));
            struct jv v = eval(R, n->kwv.v[i]);
            dset(R, d.u.d, k, v);
        }
        return d;
    }
    default: fail(R, "not an expression");
    }
}

/* ---- statements ---- */

static void bind(struct run *R, struct frame *f, const struct jnode *n, const struct jv *item) {
    if (n->n_names == 1) {
        dset(R, &f->vars, vstrz(n->names[0]), *item);
        return;
    }
    if (item->k != J_LIST && item->k != J_STR && (item->k != J_DICT || item->u.d->ns))
        fail(R, "cannot unpack a %s into %zu loop variables", type_name(item), n->n_names);
    const struct jlist *l = iterate(R, item); /* a string: its characters; a dict: its keys */
    if (l->n != n->n_names)
        fail(R, "%s values to unpack (expected %zu, got %zu)",
             l->n < n->n_names ? "not enough" : "too many", n->n_names, l->n);
    for (size_t i = 0; i < n->n_names; i++)
        dset(R, &f->vars, vstrz(n->names[i]), l->v[i]);
}

static struct jv loop_object(struct run *R, const struct jlist *items, size_t i) {
    struct jv d = vdict(R);
    int64_t n = (int64_t)items->n, k = (int64_t)i;
    static const char *const keys[] = {"index", "index0", "revindex", "revindex0", "first",
                                       "last",  "length", "depth",    "depth0"};
    struct jv vals[] = {vint(k + 1),       vint(k), vint(n - k), vint(n - k - 1), vbool(k == 0),
                        vbool(k == n - 1), vint(n), vint(1),     vint(0)};
    for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++)
        dset(R, d.u.d, vstrz(keys[j]), vals[j]);
    dset(R, d.u.d, vstrz("cycle"), vfunc(R, M_CYCLE, vint(k)));
    dset(R, d.u.d, vstrz("previtem"), i ? items->v[i - 1] : vundef("loop.previtem on the first"));
    dset(R, d.u.d, vstrz("nextitem"),
         i + 1 < items->n ? items->v[i + 1] : vundef("loop.nextitem on the last"));
    return d;
}

static void exec_for(struct run *R, const struct jnode *n, struct frame *f) {
    struct jv seq = eval(R, n->a);
    R->line = n->line;
    if (seq.k == J_NONE)
        fail(R, "'NoneType' object is not iterable");
    const struct jlist *all = iterate(R, &seq);
    struct frame *lf = mill_jalloc(&R->a, sizeof *lf);
    lf->up = f;
    /* each pass has its own scope: what the body sets is gone at the next */
    const struct jlist *items = all;
    if (n->b) {
        struct jv kept = vlist(R, 0);
        struct frame *saved = R->frame;
        R->frame = lf;
        for (size_t i = 0; i < all->n; i++) {
            bind(R, lf, n, &all->v[i]);
            struct jv c = eval(R, n->b);
            if (truthy(&c))
                lpush(R, kept.u.l, all->v[i]);
        }
        R->frame = saved;
        items = kept.u.l;
    }
    for (size_t i = 0; i < items->n; i++) {
        lf = mill_jalloc(&R->a, sizeof *lf);
        lf->up = f;
        bind(R, lf, n, &items->v[i]);
        dset(R, &lf->vars, vstrz("loop"), loop_object(R, items, i));
        exec(R, &n->body, lf);
        int ctl = R->ctl;
        R->ctl = 0;
        if (ctl == 1)
            break;
    }
    if (!items->n)
        exec(R, &n->orelse, f);
}

static void exec_set(struct run *R, const struct jnode *n, struct frame *f) {
    struct jv v;
    if (n->k == JN_SETBLOCK) {
        struct mill_buf *saved = R->out, *b = buf_get(R);
        R->out = b;
        exec(R, &n->body, f);
        R->out = saved;
        v = buf_done(R, b);
    } else {
        v = eval(R, n->a);
    }
    R->line = n->line;
    if (!n->s) {
        dset(R, &f->vars, vstrz(n->names[0]), v);
        return;
    }
    struct jv *ns = lookup(f, n->names[0]);
    if (!ns || ns->k != J_DICT || !ns->u.d->ns)
        fail(R, "cannot assign attribute on non-namespace object");
    dset(R, ns->u.d, vstrz(n->s), v);
}

static void exec(struct run *R, const struct jnodes *body, struct frame *f) {
    struct frame *saved = R->frame;
    R->frame = f;
    for (size_t i = 0; i < body->n && !R->ctl; i++) {
        const struct jnode *n = body->v[i];
        step(R);
        R->line = n->line;
        switch (n->k) {
        case JN_TEXT: put(R, R->out, n->s, n->sn); break;
        case JN_OUT: {
            struct jv v = eval(R, n->a);
            write_str(R, R->out, &v);
            break;
        }
        case JN_IF: {
            struct jv c = eval(R, n->a);
            exec(R, truthy(&c) ? &n->body : &n->orelse, f);
            break;
        }
        case JN_FOR: exec_for(R, n, f); break;
        case JN_SET:
        case JN_SETBLOCK: exec_set(R, n, f); break;
        case JN_MACRO: {
            struct jmacro *mac = mill_jalloc(&R->a, sizeof *mac);
            mac->n = n, mac->scope = f;
            dset(R, &f->vars, vstrz(n->s), (struct jv){.k = J_MACRO, .u.macro = mac});
        } break;
        case JN_BREAK: R->ctl = 1; break;
        case JN_CONTINUE: R->ctl = 2; break;
        case JN_BLOCK: { /* a generation block: a scope of its own, as Jinja's caller body */
            struct frame *g = mill_jalloc(&R->a, sizeof *g);
            g->up = f;
            exec(R, &n->body, g);
            break;
        }
        default: fail(R, "not a statement");
        }
    }
    R->frame = saved;
}

static int run(const struct jnodes *body, const struct mill_value *vars, struct mill_buf *out,
               struct mill_err *err) {
    jmp_buf jb;
    struct run *R = calloc(1, sizeof *R);
    if (!R)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    R->a.limit = ARENA_LIMIT;
    R->a.fail = &jb;
    R->a.err = err;
    R->err = err;
    int rc = 0;
    if (setjmp(jb)) {
        rc = err->code ? err->code : MILL_EFORMAT;
    } else {
        struct frame *builtins = mill_jalloc(&R->a, sizeof *builtins), *top;
        static const struct {
            const char *name;
            int id;
        } fns[] = {{"range", F_RANGE},
                   {"namespace", F_NAMESPACE},
                   {"raise_exception", F_RAISE},
                   {"strftime_now", F_STRFTIME},
                   {"dict", F_DICT}};
        for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
            dset(R, &builtins->vars, vstrz(fns[i].name), vfunc(R, fns[i].id, NONE));
        if (vars && vars->kind == MILL_V_STRUCT)
            for (size_t i = 0; i < vars->u.obj.n; i++)
                dset(R, &builtins->vars, vstrz(vars->u.obj.keys[i]),
                     from_value(R, &vars->u.obj.vals[i], 0));
        top = mill_jalloc(&R->a, sizeof *top);
        top->up = builtins;
        R->out = buf_get(R);
        exec(R, body, top);
        ck(R, mill_buf_add(out, R->out->p ? R->out->p : "", R->out->n));
    }
    for (struct bufnode *b = R->bufs, *next; b; b = next) {
        next = b->all;
        mill_buf_free(&b->b);
        free(b);
    }
    mill_jarena_free(&R->a);
    free(R);
    return rc;
}

int mill_jinja_run(const struct jnodes *body, const struct mill_value *vars, struct mill_buf *out,
                   struct mill_err *err) {
    struct mill_err local = {0};
    return run(body, vars, out, err ? err : &local);
}
