/* jinja.c: the Jinja2 lexer and parser behind mill_jinja_parse (jinja.h), written from Jinja
 * 3.1's lexer.py and parser.py with the options transformers sets for chat templates:
 *   - newlines normalised to "\n" and one trailing newline of the source dropped
 *     (keep_trailing_newline off);
 *   - trim_blocks: a block or comment tag eats the newline right after it;
 *   - lstrip_blocks: spaces and tabs before a block or comment tag that starts its line go;
 *   - "-" beside a delimiter strips all whitespace on that side, "+" turns lstrip off;
 *   - inside a tag, an end delimiter counts only outside brackets.
 * The expression grammar keeps Jinja's precedence: conditional, or, and, not, comparisons,
 * + and -, ~, * / // %, **, unary minus, then postfix (attributes, subscripts, calls) with
 * filters and tests binding tighter than any binary operator.
 *
 * A filter or test Jinja has and the evaluator lacks is refused here (the template goes to
 * llama.cpp's matcher); one no Jinja has is refused here too unless it stands where Jinja's
 * compiler lets it wait for the render (check_names).
 *
 * The tree is allocated from the template's arena; errors jump back to mill_jinja_parse. */
#include "core/jinja.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jinja_impl.h"
#include "core/text.h"

#define MAX_SOURCE (4u << 20) /* bytes of template accepted */
#define MAX_NEST 200          /* nesting of expressions and blocks */
#define ARENA_LIMIT (256u << 20)

struct mill_jinja {
    struct jarena arena;
    struct jnodes body;
};

/* ---- arena ---- */

struct jblock {
    struct jblock *next;
    size_t used, cap;
    max_align_t data[];
};

void *mill_jalloc(struct jarena *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    struct jblock *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (a->total + cap > a->limit) {
            mill_err_set(a->err, MILL_EFORMAT, "chat template: more than %zu MiB of memory",
                         a->limit >> 20);
            longjmp(*a->fail, 1);
        }
        b = malloc(sizeof *b + cap);
        if (!b) {
            mill_err_set(a->err, MILL_ENOMEM, "out of memory");
            longjmp(*a->fail, 1);
        }
        b->next = a->head, b->used = 0, b->cap = cap;
        a->head = b;
        a->total += cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *mill_jstrdup(struct jarena *a, const char *s, size_t n) {
    char *p = mill_jalloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    return p;
}

void mill_jarena_free(struct jarena *a) {
    for (struct jblock *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
    a->total = 0;
}

/* ---- lexer ---- */

enum jtk {
    TK_TEXT,
    TK_VBEGIN,
    TK_VEND,
    TK_BBEGIN,
    TK_BEND,
    TK_NAME,
    TK_INT,
    TK_FLOAT,
    TK_STR,
    TK_OP,
    TK_EOF
};

struct jtok {
    enum jtk k;
    int line;
    const char *p; /* TEXT, NAME, OP: source bytes; STR: decoded (arena) */
    size_t n;
    int64_t i;
    double f;
};

struct lexer {
    struct jarena *a;
    const char *s;
    size_t n, pos;
    int line;
    bool line_starting; /* the last tag ended a line: lstrip applies at the next one */
    struct jtok *t;
    size_t nt, cap;
};

static _Noreturn void failf(struct jarena *a, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static _Noreturn void failf(struct jarena *a, int line, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mill_err_set(a->err, MILL_EFORMAT, "chat template line %d: %s", line, msg);
    longjmp(*a->fail, 1);
}

static struct jtok *push(struct lexer *L, enum jtk k, const char *p, size_t n) {
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        struct jtok *t = mill_jalloc(L->a, cap * sizeof *t);
        if (L->nt)
            memcpy(t, L->t, L->nt * sizeof *t);
        L->t = t, L->cap = cap;
    }
    struct jtok *t = &L->t[L->nt++];
    *t = (struct jtok){.k = k, .line = L->line, .p = p, .n = n};
    return t;
}

/* s[i..) past its whitespace (Python's str.isspace(), as Jinja's \s and rstrip() see it). */
static size_t skip_ws(const char *s, size_t i, size_t n) {
    for (size_t w; i < n && (w = mill_py_space_len(s + i, n - i));)
        i += w;
    return i;
}

static void count_lines(struct lexer *L, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        L->line += L->s[i] == '\n';
}

/* Skips whitespace after a "-" end delimiter. */
static void strip_after(struct lexer *L) {
    size_t p = L->pos;
    p = skip_ws(L->s, p, L->n);
    count_lines(L, L->pos, p);
    L->line_starting = p > L->pos && L->s[p - 1] == '\n';
    L->pos = p;
}

/* After a block or comment end without "-": trim_blocks eats one newline. */
static void trim_after(struct lexer *L) {
    L->line_starting = false;
    if (L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++, L->line++;
        L->line_starting = true;
    }
}

static void emit_text(struct lexer *L, size_t from, size_t to, int ctl, bool block) {
    if (ctl == '-') {
        to = from + mill_py_rstrip_len(L->s + from, to - from);
    } else if (block && ctl != '+') {
        size_t l = to;
        while (l > from && L->s[l - 1] != '\n')
            l--;
        bool blank = skip_ws(L->s, l, to) == to;
        if (blank && (l > from || L->line_starting))
            to = l;
    }
    if (to > from)
        push(L, TK_TEXT, L->s + from, to - from);
}

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A string literal's escapes, decoded as Python's "unicode-escape" codec does them (what Jinja
 * applies); an unknown escape keeps its backslash. */
static void lex_string(struct lexer *L) {
    char q = L->s[L->pos];
    size_t start = L->pos + 1, p = start;
    while (p < L->n && L->s[p] != q)
        p += L->s[p] == '\\' && p + 1 < L->n ? 2 : 1;
    if (p >= L->n)
        failf(L->a, L->line, "unterminated string");
    char *o = mill_jalloc(L->a, 3 * (p - start) + 12);
    size_t n = 0;
    for (size_t i = start; i < p; i++) {
        char c = L->s[i];
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        char e = L->s[++i];
        const char *simple = strchr("\\'\"abfnrtv", e);
        if (e && simple) {
            static const char map[] = "\\'\"\a\b\f\n\r\t\v";
            o[n++] = map[simple - "\\'\"abfnrtv"];
        } else if (e == '\n') {
            /* line continuation */
        } else if (e >= '0' && e <= '7') {
            uint32_t v = 0;
            int k = 0;
            for (; k < 3 && i < p && L->s[i] >= '0' && L->s[i] <= '7'; k++, i++)
                v = v * 8 + (uint32_t)(L->s[i] - '0');
            i--;
            n += mill_utf8_encode(v, o + n);
        } else if (e == 'x' || e == 'u' || e == 'U') {
            int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int k = 1; k <= len; k++) {
                int h = i + (size_t)k < p ? hexval(L->s[i + (size_t)k]) : -1;
                if (h < 0)
                    failf(L->a, L->line, "truncated \\%c escape in a string", e);
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
                failf(L->a, L->line, "escape \\%c%0*X is not a character", e, len, v);
            i += (size_t)len;
            n += mill_utf8_encode(v, o + n);
        } else if ((unsigned char)e >= 0x80) {
            /* Jinja encodes the text with backslashreplace before decoding escapes: a
             * backslash before a non-ASCII character keeps both as "\\xe9" would read */
            uint32_t cp;
            size_t w = mill_utf8_next((const unsigned char *)L->s + i, p - i, &cp);
            if (!w) /* an ill-formed byte stands for itself */
                w = 1, cp = (unsigned char)e;
            n += (size_t)snprintf(o + n, 12,
                                  cp < 0x100     ? "\\x%02x"
                                  : cp < 0x10000 ? "\\u%04x"
                                                 : "\\U%08x",
                                  cp);
            i += w - 1;
        } else {
            o[n++] = '\\';
            o[n++] = e;
        }
    }
    count_lines(L, L->pos, p + 1);
    struct jtok *t = push(L, TK_STR, o, n);
    t->line = L->line;
    L->pos = p + 1;
}

static void lex_number(struct lexer *L, bool after_dot) {
    size_t p = L->pos;
    char buf[64];
    size_t bn = 0;
    bool is_float = false;
    for (; p < L->n && (isdigit((unsigned char)L->s[p]) || L->s[p] == '_'); p++)
        if (L->s[p] != '_' && bn < sizeof buf - 1)
            buf[bn++] = L->s[p];
    if (!after_dot && p + 1 < L->n && L->s[p] == '.' && isdigit((unsigned char)L->s[p + 1])) {
        is_float = true;
        if (bn < sizeof buf - 1)
            buf[bn++] = '.';
        for (p++; p < L->n && (isdigit((unsigned char)L->s[p]) || L->s[p] == '_'); p++)
            if (L->s[p] != '_' && bn < sizeof buf - 1)
                buf[bn++] = L->s[p];
    }
    if (!after_dot && p < L->n && (L->s[p] == 'e' || L->s[p] == 'E')) {
        size_t q = p + 1;
        if (q < L->n && (L->s[q] == '+' || L->s[q] == '-'))
            q++;
        if (q < L->n && isdigit((unsigned char)L->s[q])) {
            is_float = true;
            for (; p < q && bn < sizeof buf - 1; p++)
                buf[bn++] = L->s[p];
            for (; p < L->n && isdigit((unsigned char)L->s[p]); p++)
                if (bn < sizeof buf - 1)
                    buf[bn++] = L->s[p];
        }
    }
    buf[bn] = 0;
    struct jtok *t = push(L, is_float ? TK_FLOAT : TK_INT, L->s + L->pos, p - L->pos);
    errno = 0;
    if (is_float)
        t->f = mill_strtod_c(buf, NULL);
    else
        t->i = strtoll(buf, NULL, 10);
    if (errno || bn >= sizeof buf - 1)
        failf(L->a, L->line, "number '%.*s' out of range", (int)(p - L->pos), L->s + L->pos);
    L->pos = p;
}

/* The tokens of one {{ }} or {% %} tag up to its end delimiter. */
static void lex_tag(struct lexer *L, bool block) {
    int depth = 0;
    for (;;) {
        size_t p = L->pos;
        p = skip_ws(L->s, p, L->n);
        count_lines(L, L->pos, p);
        L->pos = p;
        if (p >= L->n)
            failf(L->a, L->line, "missing end of %s tag", block ? "block" : "variable");
        const char *s = L->s + p;
        size_t left = L->n - p;
        char close = block ? '%' : '}';
        if (depth == 0) {
            bool minus = left >= 3 && s[0] == '-' && s[1] == close && s[2] == '}';
            bool plus = block && left >= 3 && s[0] == '+' && s[1] == '%' && s[2] == '}';
            if (minus || plus || (left >= 2 && s[0] == close && s[1] == '}')) {
                push(L, block ? TK_BEND : TK_VEND, s, 0);
                L->pos = p + (minus || plus ? 3 : 2);
                if (minus)
                    strip_after(L);
                else if (block && !plus)
                    trim_after(L);
                else
                    L->line_starting = false;
                return;
            }
        }
        char c = s[0];
        if (isalpha((unsigned char)c) || c == '_') {
            size_t q = 1;
            while (q < left && (isalnum((unsigned char)s[q]) || s[q] == '_'))
                q++;
            push(L, TK_NAME, s, q);
            L->pos += q;
        } else if (isdigit((unsigned char)c)) {
            bool after_dot = L->nt && L->t[L->nt - 1].k == TK_OP && L->t[L->nt - 1].p[0] == '.';
            lex_number(L, after_dot);
        } else if (c == '\'' || c == '"') {
            lex_string(L);
        } else {
            static const char *const two[] = {"//", "**", "==", "!=", ">=", "<="};
            size_t len = 0;
            for (size_t i = 0; i < sizeof two / sizeof two[0] && !len; i++)
                if (left >= 2 && !memcmp(s, two[i], 2))
                    len = 2;
            if (!len && strchr("+-/*%~[](){}<>=.:|,;", c) && c)
                len = 1;
            if (!len)
                failf(L->a, L->line, "unexpected character '%c' in a tag", c);
            depth += c == '(' || c == '[' || c == '{';
            if ((c == ')' || c == ']' || c == '}') && depth > 0)
                depth--;
            push(L, TK_OP, s, len);
            L->pos += len;
        }
    }
}

/* {% raw %}...{% endraw %} at L->pos (just after "{%" and its sign) when it is one: its text. */
static bool lex_raw(struct lexer *L) {
    size_t p = L->pos;
    p = skip_ws(L->s, p, L->n);
    if (L->n - p < 3 || memcmp(L->s + p, "raw", 3))
        return false;
    p += 3;
    p = skip_ws(L->s, p, L->n);
    bool minus = p < L->n && L->s[p] == '-';
    if (L->n - p < 2u + minus || memcmp(L->s + p + minus, "%}", 2))
        return false;
    p += 2u + minus;
    L->line_starting = false;
    if (minus) {
        size_t q = p;
        p = skip_ws(L->s, p, L->n);
        L->line_starting = p > q && L->s[p - 1] == '\n';
    }
    for (size_t q = p; q + 1 < L->n; q++) {
        if (L->s[q] != '{' || L->s[q + 1] != '%')
            continue;
        size_t r = q + 2;
        int ctl = r < L->n && (L->s[r] == '-' || L->s[r] == '+') ? L->s[r++] : 0;
        r = skip_ws(L->s, r, L->n);
        if (L->n - r < 6 || memcmp(L->s + r, "endraw", 6))
            continue;
        r += 6;
        r = skip_ws(L->s, r, L->n);
        int ectl = r < L->n && (L->s[r] == '-' || L->s[r] == '+') ? L->s[r++] : 0;
        if (L->n - r < 2 || memcmp(L->s + r, "%}", 2))
            continue;
        emit_text(L, p, q, ctl, true); /* as before any block tag: "-", lstrip_blocks */
        count_lines(L, L->pos, r + 2);
        L->pos = r + 2;
        if (ectl == '-')
            strip_after(L);
        else if (ectl != '+')
            trim_after(L);
        else
            L->line_starting = false;
        return true;
    }
    failf(L->a, L->line, "missing {%% endraw %%}");
}

static void lex(struct lexer *L) {
    while (L->pos < L->n) {
        size_t start = L->pos;
        while (start + 1 < L->n &&
               !(L->s[start] == '{' && strchr("{%#", L->s[start + 1]) && L->s[start + 1]))
            start++;
        if (start + 1 >= L->n) {
            push(L, TK_TEXT, L->s + L->pos, L->n - L->pos);
            count_lines(L, L->pos, L->n);
            break;
        }
        char kind = L->s[start + 1];
        int ctl = start + 2 < L->n && (L->s[start + 2] == '-' || L->s[start + 2] == '+')
                      ? L->s[start + 2]
                      : 0;
        emit_text(L, L->pos, start, ctl, kind != '{');
        count_lines(L, L->pos, start);
        L->pos = start + 2 + (ctl ? 1 : 0);
        if (kind == '#') {
            const char *e = NULL;
            for (size_t q = L->pos; q + 1 < L->n && !e; q++)
                if (L->s[q] == '#' && L->s[q + 1] == '}')
                    e = L->s + q;
            if (!e)
                failf(L->a, L->line, "missing end of comment tag");
            bool minus = e > L->s + L->pos && e[-1] == '-';
            bool plus = e > L->s + L->pos && e[-1] == '+';
            size_t after = (size_t)(e - L->s) + 2;
            count_lines(L, L->pos, after);
            L->pos = after;
            if (minus)
                strip_after(L);
            else if (!plus)
                trim_after(L);
            else
                L->line_starting = false;
        } else if (kind == '%' && lex_raw(L)) {
            continue;
        } else {
            push(L, kind == '%' ? TK_BBEGIN : TK_VBEGIN, L->s + start, 2);
            lex_tag(L, kind == '%');
        }
    }
    push(L, TK_EOF, L->s + L->n, 0);
}

/* ---- parser ---- */

struct parser {
    struct jarena *a;
    struct jtok *t;
    size_t i;
    int nest;
    int loops; /* for bodies around here, inside the innermost macro or generation block */
};

static struct jtok *cur(struct parser *P) { return &P->t[P->i]; }

static bool is_op(const struct jtok *t, const char *op) {
    return t->k == TK_OP && t->n == strlen(op) && !memcmp(t->p, op, t->n);
}

static bool is_name(const struct jtok *t, const char *name) {
    return t->k == TK_NAME && t->n == strlen(name) && !memcmp(t->p, name, t->n);
}

static const char *tok_desc(const struct jtok *t) {
    switch (t->k) {
    case TK_TEXT: return "text";
    case TK_VBEGIN: return "'{{'";
    case TK_VEND: return "'}}'";
    case TK_BBEGIN: return "'{%'";
    case TK_BEND: return "'%}'";
    case TK_STR: return "a string";
    case TK_INT:
    case TK_FLOAT: return "a number";
    case TK_EOF: return "the end of the template";
    default: return NULL;
    }
}

static _Noreturn void unexpected(struct parser *P, const char *want) {
    const struct jtok *t = cur(P);
    const char *d = tok_desc(t);
    if (d)
        failf(P->a, t->line, "expected %s, found %s", want, d);
    failf(P->a, t->line, "expected %s, found '%.*s'", want, (int)(t->n > 40 ? 40 : t->n), t->p);
}

static void expect_op(struct parser *P, const char *op) {
    if (!is_op(cur(P), op)) {
        char want[8];
        snprintf(want, sizeof want, "'%s'", op);
        unexpected(P, want);
    }
    P->i++;
}

static void expect_end(struct parser *P) {
    if (cur(P)->k != TK_BEND)
        unexpected(P, "the end of the tag '%}'");
    P->i++;
}

static const char *take_name(struct parser *P) {
    if (cur(P)->k != TK_NAME)
        unexpected(P, "a name");
    struct jtok *t = &P->t[P->i++];
    return mill_jstrdup(P->a, t->p, t->n);
}

static struct jnode *node(struct parser *P, enum jnk k) {
    struct jnode *n = mill_jalloc(P->a, sizeof *n);
    n->k = k;
    n->line = cur(P)->line;
    return n;
}

static void add(struct jarena *a, struct jnodes *l, struct jnode *n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct jnode **v = mill_jalloc(a, cap * sizeof *v);
        if (l->n)
            memcpy(v, l->v, l->n * sizeof *v);
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = n;
}

static void add_kw(struct parser *P, struct jnode *n, const char *name, struct jnode *v) {
    const char **kwn = mill_jalloc(P->a, (n->kwv.n + 1) * sizeof *kwn);
    if (n->kwv.n)
        memcpy(kwn, n->kwn, n->kwv.n * sizeof *kwn);
    kwn[n->kwv.n] = name;
    n->kwn = kwn;
    add(P->a, &n->kwv, v);
}

static void enter(struct parser *P) {
    if (++P->nest > MAX_NEST)
        failf(P->a, cur(P)->line, "nested more than %d deep", MAX_NEST);
}

static struct jnode *parse_expr(struct parser *P);
static struct jnode *parse_or(struct parser *P);
static struct jnode *parse_unary(struct parser *P, bool with_filter);
static struct jnode *parse_primary(struct parser *P);
static struct jnode *parse_postfix(struct parser *P, struct jnode *n);

/* (args) of a call, filter or test: positional then name=value. */
static void parse_args(struct parser *P, struct jnode *n) {
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        if (n->args.n + n->kwv.n)
            expect_op(P, ",");
        if (is_op(cur(P), ")"))
            break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            failf(P->a, cur(P)->line, "*args and **kwargs in calls are not supported");
        if (cur(P)->k == TK_NAME && is_op(&P->t[P->i + 1], "=")) {
            const char *name = take_name(P);
            P->i++;
            add_kw(P, n, name, parse_expr(P));
        } else {
            if (n->kwv.n)
                failf(P->a, cur(P)->line, "a positional argument after a keyword argument");
            add(P->a, &n->args, parse_expr(P));
        }
    }
    P->i++;
}

static struct jnode *parse_list_like(struct parser *P, enum jnk k, const char *close) {
    struct jnode *n = node(P, k);
    P->i++;
    while (!is_op(cur(P), close)) {
        if (n->args.n)
            expect_op(P, ",");
        if (is_op(cur(P), close))
            break;
        struct jnode *e = parse_expr(P);
        if (k == JN_DICT) {
            expect_op(P, ":");
            add(P->a, &n->kwv, parse_expr(P));
        }
        add(P->a, &n->args, e);
    }
    P->i++;
    return n;
}

static struct jnode *parse_primary(struct parser *P) {
    struct jtok *t = cur(P);
    struct jnode *n = node(P, JN_CONST);
    if (t->k == TK_NAME) {
        P->i++;
        if (is_name(t, "true") || is_name(t, "True") || is_name(t, "false") || is_name(t, "False"))
            n->cst = (struct jv){.k = J_BOOL, .u.b = t->p[0] == 't' || t->p[0] == 'T'};
        else if (is_name(t, "none") || is_name(t, "None"))
            n->cst.k = J_NONE;
        else
            n->k = JN_NAME, n->s = mill_jstrdup(P->a, t->p, t->n), n->sn = t->n;
    } else if (t->k == TK_STR) {
        size_t len = 0, i = P->i;
        for (; P->t[i].k == TK_STR; i++)
            len += P->t[i].n;
        char *s = mill_jalloc(P->a, len + 1), *o = s;
        for (; P->t[P->i].k == TK_STR; P->i++)
            memcpy(o, P->t[P->i].p, P->t[P->i].n), o += P->t[P->i].n;
        n->cst = (struct jv){.k = J_STR, .u.s = {s, len}};
    } else if (t->k == TK_INT) {
        P->i++;
        n->cst = (struct jv){.k = J_INT, .u.i = t->i};
    } else if (t->k == TK_FLOAT) {
        P->i++;
        n->cst = (struct jv){.k = J_FLOAT, .u.f = t->f};
    } else if (is_op(t, "(")) {
        P->i++;
        if (is_op(cur(P), ")")) {
            P->i++;
            n->k = JN_TUPLE;
            return n;
        }
        struct jnode *e = parse_expr(P);
        if (!is_op(cur(P), ",")) {
            expect_op(P, ")");
            return e;
        }
        n->k = JN_TUPLE;
        add(P->a, &n->args, e);
        while (is_op(cur(P), ",")) {
            P->i++;
            if (is_op(cur(P), ")"))
                break;
            add(P->a, &n->args, parse_expr(P));
        }
        expect_op(P, ")");
    } else if (is_op(t, "[")) {
        return parse_list_like(P, JN_LIST, "]");
    } else if (is_op(t, "{")) {
        return parse_list_like(P, JN_DICT, "}");
    } else {
        unexpected(P, "an expression");
    }
    return n;
}

static struct jnode *parse_call(struct parser *P, struct jnode *callee) {
    struct jnode *c = node(P, JN_CALL);
    c->a = callee;
    parse_args(P, c);
    return c;
}

static struct jnode *parse_subscript(struct parser *P, struct jnode *obj) {
    struct jnode *n = node(P, JN_ITEM);
    n->a = obj;
    P->i++;
    struct jnode *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!is_op(cur(P), ":") && !is_op(cur(P), "]"))
            parts[k] = parse_expr(P);
        if (is_op(cur(P), ":") && k < 2) {
            slice = true;
            k++;
            P->i++;
            continue;
        }
        break;
    }
    expect_op(P, "]");
    if (slice) {
        n->k = JN_SLICE;
        n->b = parts[0], n->c = parts[1], n->d = parts[2];
    } else if (!parts[0]) {
        failf(P->a, n->line, "an empty subscript");
    } else {
        n->b = parts[0];
    }
    return n;
}

static struct jnode *parse_postfix(struct parser *P, struct jnode *n) {
    for (;;) {
        if (is_op(cur(P), ".")) {
            P->i++;
            struct jtok *t = cur(P);
            if (t->k == TK_INT) {
                struct jnode *k = node(P, JN_CONST), *it = node(P, JN_ITEM);
                k->cst = (struct jv){.k = J_INT, .u.i = t->i};
                it->a = n, it->b = k;
                P->i++;
                n = it;
                continue;
            }
            struct jnode *at = node(P, JN_ATTR);
            at->a = n;
            at->s = take_name(P);
            at->sn = strlen(at->s);
            n = at;
        } else if (is_op(cur(P), "[")) {
            n = parse_subscript(P, n);
        } else if (is_op(cur(P), "(")) {
            n = parse_call(P, n);
        } else {
            return n;
        }
    }
}

static const char *dotted_name(struct parser *P) {
    const char *name = take_name(P);
    while (is_op(cur(P), ".") && P->t[P->i + 1].k == TK_NAME) {
        P->i++;
        const char *more = take_name(P);
        size_t a = strlen(name), b = strlen(more);
        char *s = mill_jalloc(P->a, a + b + 2);
        memcpy(s, name, a), s[a] = '.', memcpy(s + a + 1, more, b);
        name = s;
    }
    return name;
}

/* What may follow "is name" as its one argument without parentheses. */
static bool starts_test_arg(const struct jtok *t) {
    if (t->k == TK_NAME)
        return !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and");
    return t->k == TK_STR || t->k == TK_INT || t->k == TK_FLOAT || is_op(t, "[") || is_op(t, "{");
}

/* Jinja 3.1's own filters and tests. */
static const char *const JINJA_FILTERS[] = {
    "abs",    "attr",       "batch",       "capitalize", "center",   "count",
    "d",      "default",    "dictsort",    "e",          "escape",   "filesizeformat",
    "first",  "float",      "forceescape", "format",     "groupby",  "indent",
    "int",    "items",      "join",        "last",       "length",   "list",
    "lower",  "map",        "max",         "min",        "pprint",   "random",
    "reject", "rejectattr", "replace",     "reverse",    "round",    "safe",
    "select", "selectattr", "slice",       "sort",       "string",   "striptags",
    "sum",    "title",      "tojson",      "trim",       "truncate", "unique",
    "upper",  "urlencode",  "urlize",      "wordcount",  "wordwrap", "xmlattr",
    NULL,
};
static const char *const JINJA_TESTS[] = {
    "!=",       "<",        "<=",          "==",       ">",           ">=",       "boolean",
    "callable", "defined",  "divisibleby", "eq",       "equalto",     "escaped",  "even",
    "false",    "filter",   "float",       "ge",       "greaterthan", "gt",       "in",
    "integer",  "iterable", "le",          "lessthan", "lower",       "lt",       "mapping",
    "ne",       "none",     "number",      "odd",      "sameas",      "sequence", "string",
    "test",     "true",     "undefined",   "upper",    NULL,
};
/* Those of them the evaluator (jinja_run.c) lacks. */
static const char *const MISSING_FILTERS[] = {"pprint", "random",   "striptags",
                                              "urlize", "wordwrap", NULL};
static const char *const MISSING_TESTS[] = {"filter", "test", NULL};

static bool in_list(const char *const *names, const char *name) {
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* A filter's or test's name into n->s. One of Jinja's own that the evaluator lacks is refused:
 * the template would render in Jinja. A name Jinja has not is its error, raised when it
 * compiles the template unless the name stands where that waits for the render (n->unknown,
 * judged by check_names once the template is read). */
static void known_name(struct parser *P, struct jnode *n, const char *const *jinja,
                       const char *const *missing, const char *what) {
    int line = cur(P)->line;
    n->s = dotted_name(P);
    if (in_list(jinja, n->s) && !in_list(missing, n->s))
        return;
    if (in_list(jinja, n->s))
        failf(P->a, line, "no %s named '%.60s' (or not supported)", what, n->s);
    n->unknown = true;
}

static void check_names(struct parser *P, const struct jnodes *list, bool soft);

/* Jinja's compiler refuses an unknown filter or test at once, but in a "soft" frame, where the
 * error waits for the render to reach it: an if's condition and branches, and all of a
 * conditional expression; a for loop's body, filter and else, a macro, a set block and a
 * generation block open a frame that is not soft again (the loop's iterable stays in the
 * enclosing one). */
static void check_node(struct parser *P, const struct jnode *n, bool soft) {
    if (!n)
        return;
    if (n->unknown && !soft)
        failf(P->a, n->line, "no %s named '%.60s'", n->k == JN_FILTER ? "filter" : "test", n->s);
    bool inner = soft && n->k != JN_FOR && n->k != JN_MACRO && n->k != JN_SETBLOCK &&
                 n->k != JN_BLOCK; /* {% generation %}: a call block in transformers */
    if (n->k == JN_IF || n->k == JN_COND)
        inner = true;
    check_node(P, n->a, n->k == JN_FOR ? soft : inner);
    check_node(P, n->b, inner);
    check_node(P, n->c, inner);
    check_node(P, n->d, inner);
    check_names(P, &n->args, inner);
    check_names(P, &n->kwv, inner);
    check_names(P, &n->body, inner);
    check_names(P, &n->orelse, inner);
}

static void check_names(struct parser *P, const struct jnodes *list, bool soft) {
    for (size_t i = 0; i < list->n; i++)
        check_node(P, list->v[i], soft);
}

static struct jnode *parse_filters(struct parser *P, struct jnode *n) {
    for (;;) {
        if (is_op(cur(P), "|")) {
            P->i++;
            struct jnode *f = node(P, JN_FILTER);
            f->a = n;
            known_name(P, f, JINJA_FILTERS, MISSING_FILTERS, "filter");
            if (is_op(cur(P), "("))
                parse_args(P, f);
            n = f;
        } else if (is_name(cur(P), "is")) {
            P->i++;
            struct jnode *t = node(P, JN_TEST);
            t->a = n;
            if (is_name(cur(P), "not"))
                P->i++, t->op = 1;
            known_name(P, t, JINJA_TESTS, MISSING_TESTS, "test");
            if (is_op(cur(P), "("))
                parse_args(P, t);
            else if (starts_test_arg(cur(P)))
                add(P->a, &t->args, parse_postfix(P, parse_primary(P)));
            n = t;
        } else if (is_op(cur(P), "(")) {
            n = parse_call(P, n);
        } else {
            return n;
        }
    }
}

static struct jnode *parse_unary(struct parser *P, bool with_filter) {
    enter(P);
    struct jnode *n;
    if (is_op(cur(P), "-") || is_op(cur(P), "+")) {
        n = node(P, is_op(cur(P), "-") ? JN_NEG : JN_POS);
        P->i++;
        n->a = parse_unary(P, false);
    } else {
        n = parse_primary(P);
    }
    n = parse_postfix(P, n);
    if (with_filter)
        n = parse_filters(P, n);
    P->nest--;
    return n;
}

static struct jnode *bin(struct parser *P, int op, struct jnode *a, struct jnode *b) {
    struct jnode *n = node(P, JN_BIN);
    n->op = op, n->a = a, n->b = b;
    return n;
}

static struct jnode *parse_pow(struct parser *P) {
    struct jnode *n = parse_unary(P, true);
    while (is_op(cur(P), "**")) {
        P->i++;
        n = bin(P, JO_POW, n, parse_unary(P, true));
    }
    return n;
}

static struct jnode *parse_math2(struct parser *P) {
    struct jnode *n = parse_pow(P);
    for (;;) {
        int op = is_op(cur(P), "*")    ? JO_MUL
                 : is_op(cur(P), "/")  ? JO_DIV
                 : is_op(cur(P), "//") ? JO_FLOORDIV
                 : is_op(cur(P), "%")  ? JO_MOD
                                       : -1;
        if (op < 0)
            return n;
        P->i++;
        n = bin(P, op, n, parse_pow(P));
    }
}

static struct jnode *parse_concat(struct parser *P) {
    struct jnode *n = parse_math2(P);
    while (is_op(cur(P), "~")) {
        P->i++;
        n = bin(P, JO_CAT, n, parse_math2(P));
    }
    return n;
}

static struct jnode *parse_math1(struct parser *P) {
    struct jnode *n = parse_concat(P);
    while (is_op(cur(P), "+") || is_op(cur(P), "-")) {
        int op = is_op(cur(P), "+") ? JO_ADD : JO_SUB;
        P->i++;
        n = bin(P, op, n, parse_concat(P));
    }
    return n;
}

static int compare_op(struct parser *P) {
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"==", JO_EQ}, {"!=", JO_NE}, {"<", JO_LT},
               {"<=", JO_LE}, {">", JO_GT},  {">=", JO_GE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_op(cur(P), ops[i].s))
            return P->i++, ops[i].op;
    if (is_name(cur(P), "in"))
        return P->i++, JO_IN;
    if (is_name(cur(P), "not") && is_name(&P->t[P->i + 1], "in"))
        return P->i += 2, JO_NOTIN;
    return -1;
}

/* a < b < c is (a < b) and (b < c), as in Python (b evaluated twice: expressions are pure). */
static struct jnode *parse_compare(struct parser *P) {
    struct jnode *left = parse_math1(P), *n = NULL;
    for (int op; (op = compare_op(P)) >= 0;) {
        struct jnode *right = parse_math1(P), *c = bin(P, op, left, right);
        if (n) {
            struct jnode *both = node(P, JN_AND);
            both->a = n, both->b = c;
            n = both;
        } else {
            n = c;
        }
        left = right;
    }
    return n ? n : left;
}

static struct jnode *parse_not(struct parser *P) {
    if (!is_name(cur(P), "not"))
        return parse_compare(P);
    enter(P);
    struct jnode *n = node(P, JN_NOT);
    P->i++;
    n->a = parse_not(P);
    P->nest--;
    return n;
}

/* "a and b" over not-expressions (is_and), or "a or b" over and-expressions. */
static struct jnode *parse_bool(struct parser *P, bool is_and) {
    struct jnode *n = is_and ? parse_not(P) : parse_bool(P, true);
    while (is_name(cur(P), is_and ? "and" : "or")) {
        struct jnode *b = node(P, is_and ? JN_AND : JN_OR);
        P->i++;
        b->a = n, b->b = is_and ? parse_not(P) : parse_bool(P, true);
        n = b;
    }
    return n;
}

static struct jnode *parse_or(struct parser *P) { return parse_bool(P, false); }

static struct jnode *parse_expr(struct parser *P) {
    enter(P);
    struct jnode *n = parse_or(P);
    while (is_name(cur(P), "if")) {
        struct jnode *c = node(P, JN_COND);
        P->i++;
        c->a = n;
        c->b = parse_or(P);
        if (is_name(cur(P), "else")) {
            P->i++;
            c->c = parse_expr(P);
        }
        n = c;
    }
    P->nest--;
    return n;
}

/* An expression, or several separated by commas: a tuple ({{ a, b }}, set x = a, b). */
static struct jnode *parse_tuple(struct parser *P) {
    struct jnode *e = parse_expr(P);
    if (!is_op(cur(P), ","))
        return e;
    struct jnode *t = node(P, JN_TUPLE);
    add(P->a, &t->args, e);
    while (is_op(cur(P), ",")) {
        P->i++;
        if (cur(P)->k == TK_VEND || cur(P)->k == TK_BEND)
            break;
        add(P->a, &t->args, parse_expr(P));
    }
    return t;
}

/* ---- statements ---- */

static struct jnodes parse_body(struct parser *P, const char *const *ends);

static bool at_end_tag(struct parser *P, const char *const *ends) {
    if (cur(P)->k != TK_BBEGIN)
        return false;
    for (size_t i = 0; ends && ends[i]; i++)
        if (is_name(&P->t[P->i + 1], ends[i]))
            return true;
    return false;
}

/* Parses up to one of ends ({% end... %}, {% else %}): leaves P at its name. */
static struct jnodes body_until(struct parser *P, const char *const *ends, const char *tag,
                                int line) {
    struct jnodes b = parse_body(P, ends);
    if (cur(P)->k == TK_EOF)
        failf(P->a, line, "{%% %s %%} is never closed (no {%% %s %%})", tag, ends[0]);
    P->i++; /* the {% */
    return b;
}

/* The body of a block up to its {% end %}, that tag consumed. */
static struct jnodes block_to(struct parser *P, const char *end, const char *tag, int line) {
    const char *const ends[] = {end, NULL};
    struct jnodes b = body_until(P, ends, tag, line);
    P->i++;
    expect_end(P);
    return b;
}

static struct jnode *parse_if(struct parser *P, int line) {
    static const char *const ends[] = {"endif", "elif", "else", NULL};
    struct jnode *n = node(P, JN_IF);
    n->line = line;
    n->a = parse_tuple(P);
    expect_end(P);
    n->body = body_until(P, ends, "if", line);
    if (is_name(cur(P), "elif")) { /* an if in else: each counts as a level of nesting */
        P->i++;
        enter(P);
        add(P->a, &n->orelse, parse_if(P, cur(P)->line));
        P->nest--;
        return n;
    }
    if (is_name(cur(P), "else")) {
        P->i++;
        expect_end(P);
        n->orelse = block_to(P, "endif", "else", line);
        return n;
    }
    P->i++; /* endif */
    expect_end(P);
    return n;
}

static struct jnode *parse_for(struct parser *P, int line) {
    static const char *const ends[] = {"endfor", "else", NULL};
    struct jnode *n = node(P, JN_FOR);
    n->line = line;
    bool paren = is_op(cur(P), "(");
    P->i += paren;
    const char *names[8];
    size_t k = 0;
    do {
        if (k == 8)
            failf(P->a, line, "more than 8 loop variables");
        names[k++] = take_name(P);
    } while (is_op(cur(P), ",") && (P->i++, !is_name(cur(P), "in")));
    if (paren)
        expect_op(P, ")");
    n->names = mill_jalloc(P->a, k * sizeof *n->names);
    memcpy(n->names, names, k * sizeof *names);
    n->n_names = k;
    if (!is_name(cur(P), "in"))
        unexpected(P, "'in'");
    P->i++;
    n->a = parse_or(P);
    if (is_op(cur(P), ",")) {
        struct jnode *t = node(P, JN_TUPLE);
        add(P->a, &t->args, n->a);
        while (is_op(cur(P), ","))
            P->i++, add(P->a, &t->args, parse_or(P));
        n->a = t;
    }
    if (is_name(cur(P), "if")) {
        P->i++;
        n->b = parse_expr(P);
    }
    if (is_name(cur(P), "recursive"))
        failf(P->a, line, "recursive loops are not supported");
    expect_end(P);
    P->loops++;
    n->body = body_until(P, ends, "for", line);
    P->loops--;
    if (is_name(cur(P), "else")) {
        P->i++;
        expect_end(P);
        n->orelse = block_to(P, "endfor", "for", line);
        return n;
    }
    P->i++;
    expect_end(P);
    return n;
}

static struct jnode *parse_set(struct parser *P, int line) {
    struct jnode *n = node(P, JN_SET);
    n->line = line;
    n->names = mill_jalloc(P->a, sizeof *n->names);
    n->names[0] = take_name(P);
    n->n_names = 1;
    if (is_op(cur(P), ".")) {
        P->i++;
        n->s = take_name(P);
    }
    if (is_op(cur(P), ",") || is_op(cur(P), "|"))
        failf(P->a, line, "set with several targets or a filter is not supported");
    if (is_op(cur(P), "=")) {
        P->i++;
        n->a = parse_tuple(P);
        expect_end(P);
        return n;
    }
    if (n->s)
        unexpected(P, "'='");
    expect_end(P);
    n->k = JN_SETBLOCK;
    n->body = block_to(P, "endset", "set", line);
    return n;
}

static struct jnode *parse_macro(struct parser *P, int line) {
    struct jnode *n = node(P, JN_MACRO);
    n->line = line;
    n->s = take_name(P);
    const char *names[64];
    size_t k = 0;
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        if (k)
            expect_op(P, ",");
        if (k == 64)
            failf(P->a, line, "more than 64 macro parameters");
        names[k++] = take_name(P);
        struct jnode *def = NULL;
        if (is_op(cur(P), "=")) {
            P->i++;
            def = parse_expr(P);
        }
        add(P->a, &n->args, def);
    }
    P->i++;
    expect_end(P);
    n->names = mill_jalloc(P->a, (k ? k : 1) * sizeof *n->names);
    memcpy(n->names, names, k * sizeof *names);
    n->n_names = k;
    int loops = P->loops;
    P->loops = 0; /* a macro's body is a function of its own */
    n->body = block_to(P, "endmacro", "macro", line);
    P->loops = loops;
    return n;
}

static struct jnode *parse_stmt(struct parser *P) {
    int line = cur(P)->line;
    P->i++; /* {% */
    if (cur(P)->k != TK_NAME)
        unexpected(P, "a statement name");
    struct jtok *t = &P->t[P->i++];
    enter(P);
    struct jnode *n;
    if (is_name(t, "if")) {
        n = parse_if(P, line);
    } else if (is_name(t, "for")) {
        n = parse_for(P, line);
    } else if (is_name(t, "set")) {
        n = parse_set(P, line);
    } else if (is_name(t, "macro")) {
        n = parse_macro(P, line);
    } else if (is_name(t, "break") || is_name(t, "continue")) {
        if (!P->loops)
            failf(P->a, line, "'%s' outside loop", t->p[0] == 'b' ? "break" : "continue");
        n = node(P, t->p[0] == 'b' ? JN_BREAK : JN_CONTINUE);
        expect_end(P);
    } else if (is_name(t, "generation")) {
        n = node(P, JN_BLOCK);
        expect_end(P);
        int loops = P->loops;
        P->loops = 0; /* Jinja renders it as a call block: a function of its own */
        n->body = block_to(P, "endgeneration", "generation", line);
        P->loops = loops;
    } else {
        failf(P->a, line, "{%% %.*s %%} is %s", (int)(t->n > 40 ? 40 : t->n), t->p,
              strncmp(t->p, "end", 3) && strncmp(t->p, "el", 2) ? "not supported"
                                                                : "not expected here");
    }
    P->nest--;
    return n;
}

static struct jnodes parse_body(struct parser *P, const char *const *ends) {
    struct jnodes b = {0};
    while (cur(P)->k != TK_EOF && !at_end_tag(P, ends)) {
        struct jtok *t = cur(P);
        if (t->k == TK_TEXT) {
            struct jnode *n = node(P, JN_TEXT);
            n->s = t->p, n->sn = t->n;
            add(P->a, &b, n);
            P->i++;
        } else if (t->k == TK_VBEGIN) {
            struct jnode *n = node(P, JN_OUT);
            P->i++;
            n->a = parse_tuple(P);
            if (cur(P)->k != TK_VEND)
                unexpected(P, "the end of the print statement '}}'");
            P->i++;
            add(P->a, &b, n);
        } else if (t->k == TK_BBEGIN) {
            add(P->a, &b, parse_stmt(P));
        } else {
            unexpected(P, "text or a tag");
        }
    }
    return b;
}

/* The source as Jinja reads it: "\r\n" and "\r" become "\n", one trailing "\n" goes. */
static char *normalise(struct jarena *a, const char *src, size_t n, size_t *out_n) {
    char *s = mill_jalloc(a, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            i += i + 1 < n && src[i + 1] == '\n';
        } else {
            s[k++] = src[i];
        }
    }
    if (k && s[k - 1] == '\n')
        k--;
    s[k] = 0;
    *out_n = k;
    return s;
}

static int parse(const char *src, size_t n, struct mill_jinja **out, struct mill_err *err) {
    *out = NULL;
    if (n > MAX_SOURCE)
        return mill_err_set(err, MILL_EFORMAT, "chat template: %zu bytes, more than %u", n,
                            MAX_SOURCE);
    struct mill_jinja *t = calloc(1, sizeof *t);
    if (!t)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    jmp_buf jb;
    t->arena.limit = ARENA_LIMIT;
    t->arena.fail = &jb;
    t->arena.err = err;
    if (setjmp(jb)) {
        mill_jarena_free(&t->arena);
        free(t);
        return err->code ? err->code : MILL_EFORMAT;
    }
    struct lexer L = {.a = &t->arena, .line = 1, .line_starting = true};
    L.s = normalise(&t->arena, src, n, &L.n);
    lex(&L);
    struct parser P = {.a = &t->arena, .t = L.t};
    t->body = parse_body(&P, NULL);
    check_names(&P, &t->body, false);
    t->arena.fail = NULL;
    *out = t;
    return 0;
}

int mill_jinja_parse(const char *src, size_t n, struct mill_jinja **out, struct mill_err *err) {
    struct mill_err local = {0};
    return parse(src, n, out, err ? err : &local);
}

int mill_jinja_render(const struct mill_jinja *t, const struct mill_value *vars,
                      struct mill_buf *out, struct mill_err *err) {
    return mill_jinja_run(&t->body, vars, out, err);
}

void mill_jinja_free(struct mill_jinja *t) {
    if (!t)
        return;
    mill_jarena_free(&t->arena);
    free(t);
}
