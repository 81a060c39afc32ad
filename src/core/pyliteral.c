/* pyliteral.c: the Python-literal reader of pyliteral.h, a recursive descent over Python's
 * tokens as far as ast.literal_eval needs them (tests/unit/test_pyliteral.c checks it against
 * ast.literal_eval under /usr/bin/python3, tests/reference/pyliteral_oracle.py).
 *
 * Python's rules kept: literal_eval's lstrip(" \t") and then the tokenizer's: blank and comment
 * lines, no indent on the line of the literal, newlines free only inside brackets, backslash
 * continuations, "\r\n" and "\r" read as "\n"; unary +/- only on a number (also a
 * parenthesised one); underscores only between digits; no leading zeros in a decimal int;
 * unknown escapes kept with their backslash. Recursion is bounded by MILL_PYLITERAL_MAX_DEPTH
 * and every read is bounds-checked, so hostile input gives MILL_EFORMAT, never a crash. Must
 * not print or exit; floats are read in the "C" locale (mill_strtod_c). */
#include "core/pyliteral.h"

#include "core/spec.h"
#include "core/text.h"

#include <mill/buf.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s;
    size_t n, pos;
    int nest;     /* open brackets, parentheses and unary signs: bounded */
    int brackets; /* open brackets and parentheses: newlines are blanks inside them */
    struct mill_err *err;
    /* A config file (mill_pyconfig_parse): the names bound so far, and the file's name for
     * messages. NULL for a literal: then dicts and names are refused, as literal_eval does. */
    const struct mill_value *scope;
    const char *file;
    size_t copied; /* bytes the copies of names' values took so far: bounded (MAX_COPIED) */
};

/* The most memory the copies of names' values may take in all (a bound on x1 = [x0, x0];
 * x2 = [x1, x1] ...). */
#define MAX_COPIED ((size_t)16 << 20)

/* What a value was, for unary +/-: Python accepts them on a number literal only. */
enum node { N_OTHER, N_NUMBER };

static int parse_value(struct parser *p, struct mill_value *v, enum node *kind);

static int fail(struct parser *p, size_t at, const char *what) {
    if (!p->file)
        return mill_err_set(p->err, MILL_EFORMAT, "python literal: byte %zu: %s", at, what);
    size_t line = 1;
    for (size_t i = 0; i < at && i < p->n; i++)
        line += p->s[i] == '\n' || (p->s[i] == '\r' && (i + 1 >= p->n || p->s[i + 1] != '\n'));
    return mill_err_set(p->err, MILL_EFORMAT, "%s:%zu: %s", p->file, line, what);
}

static int oom(struct parser *p) { return mill_err_set(p->err, MILL_ENOMEM, "out of memory"); }

static int peek(const struct parser *p) { return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1; }

static int peek_at(const struct parser *p, size_t k) {
    return p->pos + k < p->n ? (unsigned char)p->s[p->pos + k] : -1;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
/* A byte that may continue a Python name (non-ASCII ones included: a name either way). */
static bool is_name(int c) { return c >= 0x80 || c == '_' || is_alpha(c) || is_digit(c); }
static bool is_newline(int c) { return c == '\n' || c == '\r'; }

/* Consumes one newline ("\n", "\r\n" or "\r") at pos. */
static void eat_newline(struct parser *p) {
    if (peek(p) == '\r' && peek_at(p, 1) == '\n')
        p->pos++;
    p->pos++;
}

/* Skips blanks, comments and backslash continuations; newlines too inside brackets. */
static int skip_space(struct parser *p) {
    for (;;) {
        int c = peek(p);
        if (c == ' ' || c == '\t' || c == '\f' || (is_newline(c) && p->brackets > 0)) {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->n && !is_newline(peek(p)))
                p->pos++;
        } else if (c == '\\') {
            if (!is_newline(peek_at(p, 1)))
                return fail(p, p->pos, "unexpected '\\' outside a string");
            p->pos++;
            eat_newline(p);
            if (p->pos >= p->n) /* Python's tokenizer: "unexpected EOF" */
                return fail(p, p->pos, "expected a line after the '\\' continuation");
        } else {
            return 0;
        }
    }
}

/* Before the literal: literal_eval's lstrip(" \t"), then blank and comment lines; the literal's
 * own line may not be indented (a form feed resets the column, as in Python's tokenizer). */
static int skip_leading(struct parser *p) {
    while (peek(p) == ' ' || peek(p) == '\t')
        p->pos++;
    for (;;) {
        size_t col = 0;
        for (int c = peek(p); c == ' ' || c == '\t' || c == '\f'; c = peek(p)) {
            col = c == '\f' ? 0 : col + 1;
            p->pos++;
        }
        int rc = skip_space(p);
        if (rc)
            return rc;
        if (is_newline(peek(p))) {
            eat_newline(p);
            continue;
        }
        return col && p->pos < p->n ? fail(p, p->pos, "unexpected indent") : 0;
    }
}

/* After the literal: blanks, comments and blank lines only. */
static int check_trailing(struct parser *p) {
    for (;;) {
        int rc = skip_space(p);
        if (rc)
            return rc;
        if (!is_newline(peek(p)))
            break;
        eat_newline(p);
    }
    return p->pos < p->n ? fail(p, p->pos, "expected the end of the input") : 0;
}

static int enter(struct parser *p, bool bracket) {
    if (p->nest >= MILL_PYLITERAL_MAX_DEPTH)
        return fail(p, p->pos, "nesting deeper than 64 levels");
    p->nest++;
    p->brackets += bracket;
    return 0;
}

static void leave(struct parser *p, bool bracket) {
    p->nest--;
    p->brackets -= bracket;
}

/* ---- strings ---------------------------------------------------------------------------- */

static int put_utf8(struct mill_buf *b, uint32_t c) {
    char u[4];
    return mill_buf_add(b, u, mill_utf8_encode(c, u));
}

static int hex_value(int c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly k hex digits at pos into *cp. */
static int read_hex(struct parser *p, int k, size_t esc, uint32_t *cp) {
    *cp = 0;
    for (int i = 0; i < k; i++) {
        int h = hex_value(peek(p));
        if (h < 0)
            return fail(p, esc,
                        k == 2   ? "truncated \\xXX escape"
                        : k == 4 ? "truncated \\uXXXX escape"
                                 : "truncated \\UXXXXXXXX escape");
        *cp = *cp << 4 | (uint32_t)h;
        p->pos++;
    }
    return 0;
}

/* The code point of a \u or \U escape at esc (its letter already read); a high surrogate must
 * be followed by a low one's escape, and the pair becomes one code point. */
static int unicode_escape(struct parser *p, int letter, size_t esc, uint32_t *cp) {
    int rc = read_hex(p, letter == 'u' ? 4 : 8, esc, cp);
    if (rc)
        return rc;
    if (*cp > 0x10FFFF)
        return fail(p, esc, "illegal Unicode character in \\U escape");
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fail(p, esc, "unpaired surrogate escape (not supported)");
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return 0;
    int next = peek_at(p, 1);
    if (peek(p) != '\\' || (next != 'u' && next != 'U'))
        return fail(p, esc, "unpaired surrogate escape (not supported)");
    size_t esc2 = p->pos;
    p->pos += 2;
    uint32_t lo;
    if ((rc = read_hex(p, next == 'u' ? 4 : 8, esc2, &lo)))
        return rc;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(p, esc, "unpaired surrogate escape (not supported)");
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

static uint32_t octal_escape(struct parser *p, int first) {
    uint32_t cp = (uint32_t)(first - '0');
    for (int i = 0; i < 2 && peek(p) >= '0' && peek(p) <= '7'; i++)
        cp = cp * 8 + (uint32_t)(peek(p) - '0'), p->pos++;
    return cp;
}

static int simple_escape(int c) {
    switch (c) {
    case '\\': return '\\';
    case '\'': return '\'';
    case '"': return '"';
    case 'a': return 7;
    case 'b': return 8;
    case 'f': return 12;
    case 'n': return 10;
    case 'r': return 13;
    case 't': return 9;
    case 'v': return 11;
    default: return -1;
    }
}

/* One escape of a non-raw string, pos at its backslash. */
static int escape(struct parser *p, struct mill_buf *b) {
    size_t esc = p->pos++;
    int c = peek(p);
    if (c < 0)
        return fail(p, esc, "unterminated string literal");
    if (is_newline(c)) { /* a line continuation: nothing */
        eat_newline(p);
        return 0;
    }
    p->pos++;
    uint32_t cp;
    int rc = 0, simple = simple_escape(c);
    if (simple >= 0)
        return mill_buf_addc(b, (char)simple);
    if (c >= '0' && c <= '7')
        return put_utf8(b, octal_escape(p, c));
    if (c == 'x')
        rc = read_hex(p, 2, esc, &cp);
    else if (c == 'u' || c == 'U')
        rc = unicode_escape(p, c, esc, &cp);
    else if (c == 'N')
        return fail(p, esc, "\\N{...} escapes are not supported");
    else { /* unknown: Python keeps the backslash; the character is read as usual */
        p->pos--;
        return mill_buf_addc(b, '\\');
    }
    return rc ? rc : put_utf8(b, cp);
}

/* A raw string's backslash: kept, and it keeps a quote, backslash or newline after it from
 * ending the string or escaping what follows. */
static int raw_backslash(struct parser *p, struct mill_buf *b) {
    p->pos++;
    int c = peek(p);
    if (c == '\\' || c == '\'' || c == '"') {
        p->pos++;
        char two[2] = {'\\', (char)c};
        return mill_buf_add(b, two, 2);
    }
    if (is_newline(c)) { /* kept too, even in a single-quoted string */
        eat_newline(p);
        return mill_buf_add(b, "\\\n", 2);
    }
    return mill_buf_addc(b, '\\');
}

/* One character of a string body at pos (not a backslash, not the closing quote). */
static int body_char(struct parser *p, struct mill_buf *b, bool triple, size_t start) {
    int c = peek(p);
    if (is_newline(c)) {
        if (!triple)
            return fail(p, start, "unterminated string literal (expected the closing quote)");
        eat_newline(p);
        return mill_buf_addc(b, '\n');
    }
    size_t len =
        c < 0x80 ? 1
                 : mill_utf8_valid_len((const unsigned char *)p->s + p->pos, p->n - p->pos, NULL);
    if (!len)
        return fail(p, p->pos, "invalid UTF-8 in a string");
    p->pos += len;
    return mill_buf_add(b, p->s + p->pos - len, len);
}

static bool at_close(const struct parser *p, int quote, bool triple) {
    return peek(p) == quote && (!triple || (peek_at(p, 1) == quote && peek_at(p, 2) == quote));
}

/* A string prefix of up to two letters at pos, followed by a quote: its length, or -1. */
static int prefix_len(const struct parser *p) {
    int k = 0;
    while (k < 3 && is_alpha(peek_at(p, (size_t)k)))
        k++;
    int q = peek_at(p, (size_t)k);
    return k <= 2 && (q == '\'' || q == '"') ? k : -1;
}

/* Whether the prefix s[0..k) makes a str literal we read; *raw for r/R. Fails otherwise. */
static int check_prefix(struct parser *p, int k, bool *raw) {
    const char *s = p->s + p->pos;
    *raw = false;
    if (k == 0)
        return 0;
    if (k == 1 && strchr("rRuU", s[0])) {
        *raw = s[0] == 'r' || s[0] == 'R';
        return 0;
    }
    for (int i = 0; i < k; i++) {
        if (strchr("bB", s[i]))
            return fail(p, p->pos, "bytes literals are not supported");
        if (strchr("fF", s[i]))
            return fail(p, p->pos, "f-strings are not supported");
    }
    return fail(p, p->pos, "invalid string prefix");
}

/* One string literal (prefix, quotes, body) appended to b. */
static int one_string(struct parser *p, struct mill_buf *b) {
    size_t start = p->pos;
    bool raw;
    int k = prefix_len(p), rc = check_prefix(p, k, &raw);
    if (rc)
        return rc;
    p->pos += (size_t)k;
    int quote = peek(p);
    bool triple = peek_at(p, 1) == quote && peek_at(p, 2) == quote;
    p->pos += triple ? 3 : 1;
    while (!at_close(p, quote, triple)) {
        if (p->pos >= p->n)
            return fail(p, start, "unterminated string literal (expected the closing quote)");
        if (peek(p) == '\\')
            rc = raw ? raw_backslash(p, b) : escape(p, b);
        else
            rc = body_char(p, b, triple, start);
        if (rc)
            return rc == MILL_ENOMEM ? oom(p) : rc;
    }
    p->pos += triple ? 3 : 1;
    return 0;
}

/* Adjacent string literals, concatenated as Python does ('a' "b" -> 'ab'). */
static int parse_strings(struct parser *p, struct mill_value *v) {
    struct mill_buf b = {0};
    int rc;
    do {
        if ((rc = one_string(p, &b)) || (rc = skip_space(p)))
            break;
    } while (prefix_len(p) >= 0);
    if (!rc && mill_value_str(v, b.p ? b.p : "", b.n))
        rc = oom(p);
    mill_buf_free(&b);
    return rc;
}

/* ---- numbers ---------------------------------------------------------------------------- */

static bool is_base_digit(int c, int base) {
    int h = hex_value(c);
    return h >= 0 && h < base;
}

/* Digits of base with single underscores between them: (["_"] digit)* after a first digit
 * (or, when lead_underscore, ("_"? digit)+ as after 0x). */
static int scan_digits(struct parser *p, int base, bool lead_underscore) {
    size_t start = p->pos;
    if (lead_underscore && peek(p) == '_')
        p->pos++;
    if (!is_base_digit(peek(p), base))
        return fail(p, start, "invalid number literal (expected a digit)");
    for (;;) {
        while (is_base_digit(peek(p), base))
            p->pos++;
        if (peek(p) != '_')
            return 0;
        if (!is_base_digit(peek_at(p, 1), base))
            return fail(p, p->pos, "invalid number literal ('_' must sit between digits)");
        p->pos++;
    }
}

/* s[start..end) in base (underscores skipped) as an int64, negated when neg. */
static int int_value(struct parser *p, size_t start, size_t end, int base, bool neg,
                     struct mill_value *v) {
    uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t i = start; i < end; i++) {
        if (p->s[i] == '_')
            continue;
        uint64_t d = (uint64_t)hex_value((unsigned char)p->s[i]);
        if (mag > (lim - d) / (uint64_t)base)
            return fail(p, start, "integer outside the int64 range (not supported)");
        mag = mag * (uint64_t)base + d;
    }
    mill_value_int(v, neg ? (int64_t)(0 - mag) : (int64_t)mag);
    return 0;
}

/* s[start..end), a valid Python float literal, as a double (strtod in the "C" locale on a copy
 * without underscores: the same correctly rounded value as Python's, inf past the range). */
static int float_value(struct parser *p, size_t start, size_t end, bool neg, struct mill_value *v) {
    char *t = malloc(end - start + 1);
    if (!t)
        return oom(p);
    size_t k = 0;
    for (size_t i = start; i < end; i++)
        if (p->s[i] != '_')
            t[k++] = p->s[i];
    t[k] = 0;
    double f = mill_strtod_c(t, NULL);
    free(t);
    mill_value_float(v, neg ? -f : f);
    return 0;
}

/* 0x / 0o / 0b integers, pos at the '0'. */
static int based_int(struct parser *p, bool neg, struct mill_value *v) {
    int x = peek_at(p, 1) | 0x20;
    int base = x == 'x' ? 16 : x == 'o' ? 8 : 2;
    p->pos += 2;
    size_t start = p->pos;
    int rc = scan_digits(p, base, true);
    if (rc)
        return rc;
    if (is_name(peek(p)))
        return fail(p, p->pos, "invalid digit in a number literal");
    return int_value(p, start, p->pos, base, neg, v);
}

/* The fraction and exponent of a decimal literal, pos after its integer part (if any). */
static int scan_float_tail(struct parser *p, bool *is_float) {
    int rc = 0;
    if (peek(p) == '.') {
        *is_float = true;
        p->pos++;
        if (is_digit(peek(p)))
            rc = scan_digits(p, 10, false);
    }
    int c = peek(p);
    if (!rc && (c == 'e' || c == 'E')) {
        *is_float = true;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        rc = scan_digits(p, 10, false);
    }
    return rc;
}

/* Whether s[start..end), a decimal int, has a leading zero Python refuses ("01"). */
static bool bad_leading_zero(const struct parser *p, size_t start, size_t end) {
    if (p->s[start] != '0')
        return false;
    for (size_t i = start; i < end; i++)
        if (p->s[i] != '0' && p->s[i] != '_')
            return true;
    return false;
}

/* A number literal at pos (a digit, or '.' and a digit), negated when neg. */
static int parse_number(struct parser *p, bool neg, struct mill_value *v) {
    int x = peek_at(p, 1) | 0x20;
    if (peek(p) == '0' && (x == 'x' || x == 'o' || x == 'b'))
        return based_int(p, neg, v);
    size_t start = p->pos;
    bool is_float = false;
    int rc = is_digit(peek(p)) ? scan_digits(p, 10, false) : 0;
    if (!rc)
        rc = scan_float_tail(p, &is_float);
    if (rc)
        return rc;
    if (peek(p) == 'j' || peek(p) == 'J')
        return fail(p, start, "complex numbers are not supported");
    if (is_name(peek(p)))
        return fail(p, p->pos, "invalid decimal literal");
    if (is_float)
        return float_value(p, start, p->pos, neg, v);
    if (bad_leading_zero(p, start, p->pos))
        return fail(p, start, "leading zeros in a decimal integer are not permitted");
    return int_value(p, start, p->pos, 10, neg, v);
}

static bool number_start(const struct parser *p) {
    return is_digit(peek(p)) || (peek(p) == '.' && is_digit(peek_at(p, 1)));
}

static int negate(struct parser *p, size_t at, struct mill_value *v) {
    if (v->kind == MILL_V_FLOAT) {
        v->u.f = -v->u.f;
        return 0;
    }
    if (v->u.i == INT64_MIN)
        return fail(p, at, "integer outside the int64 range (not supported)");
    v->u.i = -v->u.i;
    return 0;
}

/* The operand of a unary sign, pos after the sign: a number literal, or a parenthesised one. */
static int unary_operand(struct parser *p, bool neg, struct mill_value *v) {
    int rc = skip_space(p);
    if (rc)
        return rc;
    size_t at = p->pos;
    if (number_start(p))
        return parse_number(p, neg, v);
    enum node kind;
    if ((rc = parse_value(p, v, &kind)))
        return rc;
    if (kind != N_NUMBER)
        return fail(p, at, "unary '+' or '-' on something other than a number");
    return neg ? negate(p, at, v) : 0;
}

/* Unary + or -: Python's literal_eval takes them on a number only ("-1", "-(1)", not "--1"). */
static int parse_unary(struct parser *p, struct mill_value *v) {
    bool neg = peek(p) == '-';
    p->pos++;
    int rc = enter(p, false);
    if (rc)
        return rc;
    if ((rc = unary_operand(p, neg, v)))
        mill_value_free(v);
    leave(p, false);
    return rc;
}

/* ---- names, lists, tuples --------------------------------------------------------------- */

static int config_name(struct parser *p, size_t start, struct mill_value *v);

static int parse_name(struct parser *p, struct mill_value *v) {
    size_t start = p->pos;
    while (is_name(peek(p)))
        p->pos++;
    size_t k = p->pos - start;
    const char *w = p->s + start;
    if (k == 4 && !memcmp(w, "True", 4))
        mill_value_bool(v, true);
    else if (k == 5 && !memcmp(w, "False", 5))
        mill_value_bool(v, false);
    else if (k == 4 && !memcmp(w, "None", 4))
        mill_value_null(v);
    else if (p->scope)
        return config_name(p, start, v);
    else
        return fail(p, start, "expected a literal, found a name");
    return 0;
}

/* Whether pos is where a sequence ends: its closing bracket, or for the top level (close 0)
 * the end of the input or of the line. */
static bool at_end_of(const struct parser *p, int close) {
    return close ? peek(p) == close : p->pos >= p->n || is_newline(peek(p));
}

static int push(struct parser *p, struct mill_value *list, struct mill_value *item) {
    if (!mill_value_list_push(list, item))
        return 0;
    mill_value_free(item);
    return oom(p);
}

static int expected(struct parser *p, int close) {
    if (p->scope && peek(p) > 0 && strchr("+-*/%@&|^<>~!=", peek(p)))
        return fail(p, p->pos, "operators are not read (a model config is read, not run)");
    if (p->scope && !close)
        return fail(p, p->pos, "expected ',' or the end of the line");
    return fail(p, p->pos,
                close == ']'   ? "expected ',' or ']'"
                : close == ')' ? "expected ',' or ')'"
                : close == '}' ? "expected ',' or '}'"
                               : "expected ',' or the end of the input");
}

/* The items after a comma up to and including close, appended to list. */
static int parse_rest(struct parser *p, int close, struct mill_value *list) {
    for (;;) {
        int rc = skip_space(p);
        if (rc)
            return rc;
        if (at_end_of(p, close))
            break;
        struct mill_value item;
        enum node kind;
        if ((rc = parse_value(p, &item, &kind)) || (rc = push(p, list, &item)) ||
            (rc = skip_space(p)))
            return rc;
        if (peek(p) == ',')
            p->pos++;
        else if (!at_end_of(p, close))
            return expected(p, close);
        else
            break;
    }
    p->pos += close != 0;
    return 0;
}

/* A sequence whose first item is in *v: with a comma after it, a tuple (as a list) of it and
 * the rest; else, for '(' and the top level, the item itself. */
static int parse_seq(struct parser *p, int close, bool is_list, struct mill_value *v) {
    int rc = skip_space(p);
    if (!rc && peek(p) != ',' && !at_end_of(p, close))
        rc = expected(p, close);
    if (rc)
        return rc;
    if (!is_list && peek(p) != ',') {
        p->pos += close != 0;
        return 0;
    }
    struct mill_value list, first = *v;
    mill_value_list(&list);
    mill_value_null(v);
    if (!(rc = push(p, &list, &first))) {
        if (peek(p) == ',')
            p->pos++;
        rc = parse_rest(p, close, &list);
    }
    *v = list;
    return rc;
}

/* [...] or (...), pos at the opening bracket. */
static int parse_bracket(struct parser *p, struct mill_value *v, enum node *kind) {
    int open = peek(p), close = open == '[' ? ']' : ')';
    p->pos++;
    int rc = enter(p, true);
    if (rc)
        return rc;
    rc = skip_space(p);
    if (!rc && peek(p) == close) { /* [] or () */
        p->pos++;
        mill_value_list(v);
    } else if (!rc && !(rc = parse_value(p, v, kind))) {
        rc = parse_seq(p, close, open == '[', v);
    }
    if (rc)
        mill_value_free(v);
    if (v->kind == MILL_V_LIST)
        *kind = N_OTHER;
    leave(p, true);
    return rc;
}

static int parse_mapping(struct parser *p, int close, struct mill_value *v);

static int parse_value(struct parser *p, struct mill_value *v, enum node *kind) {
    mill_value_null(v);
    *kind = N_OTHER;
    int c = peek(p);
    if (c == '[' || c == '(')
        return parse_bracket(p, v, kind);
    if (c == '\'' || c == '"' || (is_alpha(c) && prefix_len(p) >= 0))
        return parse_strings(p, v);
    if (number_start(p)) {
        *kind = N_NUMBER;
        return parse_number(p, false, v);
    }
    if (c == '-' || c == '+')
        return parse_unary(p, v);
    if (is_name(c))
        return parse_name(p, v);
    if (c == '{' && p->scope)
        return parse_mapping(p, '}', v);
    if (c == '{')
        return fail(p, p->pos, "dict and set literals are not supported");
    if (c == '.' && peek_at(p, 1) == '.' && peek_at(p, 2) == '.')
        return fail(p, p->pos, "Ellipsis is not supported");
    return fail(p, p->pos,
                c < 0 ? "expected a literal, found the end of the input" : "expected a literal");
}

int mill_pyliteral_parse(const char *s, size_t n, struct mill_value *out, struct mill_err *err) {
    struct parser p = {.s = s, .n = n, .err = err};
    mill_value_null(out);
    const char *nul = memchr(s, 0, n);
    if (nul)
        return fail(&p, (size_t)(nul - s), "NUL byte in the input");
    enum node kind;
    int rc = skip_leading(&p);
    if (!rc)
        rc = parse_value(&p, out, &kind);
    if (!rc)
        rc = parse_seq(&p, 0, false, out);
    if (!rc)
        rc = check_trailing(&p);
    if (rc)
        mill_value_free(out);
    return rc;
}

/* ---- config files: names, dict(...), {...} and the module's statements -------------------- */

#define NOT_RUN " (a model config is read, not run)"

/* Most names a config may bind (a bound on the linear scope's lookups). */
#define MAX_NAMES 1024

static const char *const KEYWORDS[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield"};

static bool word_is(const struct parser *p, size_t start, size_t len, const char *w) {
    return len == strlen(w) && !memcmp(p->s + start, w, len);
}

/* A config's name name[0..len) (at: its offset, for messages): ASCII (Python would
 * NFKC-normalise others), no keyword, under 256 bytes. */
static int check_name(struct parser *p, size_t at, const char *name, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] >= 0x80)
            return fail(p, at, "names other than ASCII ones are not read" NOT_RUN);
    for (size_t i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++)
        if (len == strlen(KEYWORDS[i]) && !memcmp(name, KEYWORDS[i], len))
            return fail(p, at, "a keyword where a name must be");
    return len < 256 ? 0 : fail(p, at, "a name of 256 bytes or more");
}

/* A name at pos (after blanks): its start and length; fails when there is none. */
static int read_name(struct parser *p, size_t *start, size_t *len) {
    int rc = skip_space(p);
    if (rc)
        return rc;
    *start = p->pos;
    if (!is_name(peek(p)) || is_digit(peek(p)))
        return fail(p, p->pos, "expected a name");
    while (is_name(peek(p)))
        p->pos++;
    *len = p->pos - *start;
    return 0;
}

/* The scope's binding of name[0..len), or NULL. */
static const struct mill_value *lookup(const struct parser *p, const char *name, size_t len) {
    char key[256];
    if (len >= sizeof key)
        return NULL; /* such names are refused when bound */
    memcpy(key, name, len);
    key[len] = 0;
    return mill_value_get(p->scope, key);
}

/* Sets field key[0..kn) of obj to *val (taken). unique: a key given twice is an error, as a
 * repeated keyword argument is in Python; else the last one wins, in the first one's place. */
static int put_field(struct parser *p, size_t at, struct mill_value *obj, const char *key,
                     size_t kn, struct mill_value *val, bool unique) {
    char *k = memchr(key, 0, kn) ? NULL : strndup(key, kn);
    int rc = 0;
    if (!k)
        rc = memchr(key, 0, kn) ? fail(p, at, "a key holding a NUL character") : oom(p);
    else if (unique && mill_value_get(obj, k))
        rc = fail(p, at, "keyword argument repeated");
    else if (mill_value_struct_set(obj, k, val))
        rc = oom(p);
    free(k);
    mill_value_free(val);
    return rc;
}

/* After an item of a call or display: skips to the next item or past close. */
static int next_item(struct parser *p, int close, bool *done) {
    int rc = skip_space(p);
    if (rc)
        return rc;
    *done = peek(p) == close;
    if (peek(p) == ',') {
        p->pos++;
        rc = skip_space(p);
        *done = peek(p) == close; /* a trailing comma */
        return rc;
    }
    return *done ? 0 : expected(p, close);
}

/* One `key=value` argument of dict(...), pos at the key. */
static int dict_keyword(struct parser *p, struct mill_value *obj) {
    size_t at = p->pos, kn;
    if (peek(p) == '*')
        return fail(p, at, "'*' and '**' arguments are not read" NOT_RUN);
    if (!is_name(peek(p)) || is_digit(peek(p)))
        return fail(p, at, "dict() takes key=value arguments only here");
    int rc = read_name(p, &at, &kn);
    if (!rc)
        rc = check_name(p, at, p->s + at, kn);
    if (!rc)
        rc = skip_space(p);
    if (rc)
        return rc;
    if (peek(p) != '=' || peek_at(p, 1) == '=')
        return fail(p, at, "dict() takes key=value arguments only here");
    p->pos++;
    struct mill_value item;
    enum node kind;
    if ((rc = skip_space(p)) || (rc = parse_value(p, &item, &kind)))
        return rc;
    return put_field(p, at, obj, p->s + at, kn, &item, true);
}

/* One `'key': value` item of {...}, pos at the key. */
static int display_item(struct parser *p, struct mill_value *obj) {
    size_t at = p->pos;
    if (peek(p) == '*')
        return fail(p, at, "'**' unpacking is not read" NOT_RUN);
    struct mill_value key, item;
    enum node kind;
    int rc = parse_value(p, &key, &kind);
    if (!rc && key.kind != MILL_V_STR)
        rc = fail(p, at, "dict keys other than strings are not supported");
    if (!rc && !(rc = skip_space(p)) && peek(p) != ':')
        rc = fail(p, p->pos, "expected ':' (set literals are not supported)");
    if (!rc) {
        p->pos++;
        if (!(rc = skip_space(p)) && !(rc = parse_value(p, &item, &kind)))
            rc = put_field(p, at, obj, key.u.s.p, key.u.s.n, &item, false);
    }
    mill_value_free(&key);
    return rc;
}

/* dict(k=v, ...) (close ')') or {'k': v, ...} (close '}'), pos at the opening bracket: a struct
 * in the order given. */
static int parse_mapping(struct parser *p, int close, struct mill_value *v) {
    p->pos++;
    int rc = enter(p, true);
    if (rc)
        return rc;
    mill_value_struct(v);
    bool done = false;
    if (!(rc = skip_space(p)))
        done = peek(p) == close;
    while (!rc && !done && !(rc = close == ')' ? dict_keyword(p, v) : display_item(p, v)))
        rc = next_item(p, close, &done);
    if (rc)
        mill_value_free(v);
    else
        p->pos++;
    leave(p, true);
    return rc;
}

/* What v weighs in memory (its nodes and their bytes), counted up to limit. */
static size_t value_weight(const struct mill_value *v, size_t limit) {
    size_t n = sizeof *v + (v->kind == MILL_V_STR || v->kind == MILL_V_BYTES ? v->u.s.n + 1 : 0);
    if (v->kind == MILL_V_LIST)
        for (size_t i = 0; i < v->u.list.n && n < limit; i++)
            n += value_weight(&v->u.list.items[i], limit - n);
    else if (v->kind == MILL_V_STRUCT)
        for (size_t i = 0; i < v->u.obj.n && n < limit; i++)
            n += strlen(v->u.obj.keys[i]) + 1 + value_weight(&v->u.obj.vals[i], limit - n);
    return n;
}

/* How deep v nests (a scalar 0); bounded, as every bound value was checked when made. */
static int value_depth(const struct mill_value *v) {
    int d = 0;
    size_t n = v->kind == MILL_V_LIST ? v->u.list.n : v->kind == MILL_V_STRUCT ? v->u.obj.n : 0;
    for (size_t i = 0; i < n; i++) {
        const struct mill_value *c =
            v->kind == MILL_V_LIST ? &v->u.list.items[i] : &v->u.obj.vals[i];
        int k = value_depth(c) + 1;
        d = k > d ? k : d;
    }
    return d;
}

/* A copy of b, the value of the name at start, within the nesting and memory bounds. */
static int copy_bound(struct parser *p, size_t start, const struct mill_value *b,
                      struct mill_value *v) {
    if (p->nest + value_depth(b) > MILL_PYLITERAL_MAX_DEPTH)
        return fail(p, start, "nesting deeper than 64 levels (through names)");
    size_t w = value_weight(b, MAX_COPIED - p->copied + 1);
    if (w > MAX_COPIED - p->copied)
        return fail(p, start, "the values names copy weigh more than 16 MiB in all");
    p->copied += w;
    return mill_value_copy(v, b) ? oom(p) : 0;
}

/* A name other than True/False/None in a config (pos after it): dict(...), or the value an
 * earlier statement bound to it. */
static int config_name(struct parser *p, size_t start, struct mill_value *v) {
    size_t k = p->pos - start, after = p->pos;
    int rc = check_name(p, start, p->s + start, k);
    if (!rc)
        rc = skip_space(p);
    if (rc)
        return rc;
    const struct mill_value *b = lookup(p, p->s + start, k);
    if (peek(p) == '(' && !word_is(p, start, k, "dict"))
        return fail(p, start, "calls other than dict(...) are not read" NOT_RUN);
    if (peek(p) == '(' && b)
        return fail(p, start, "'dict' is bound to something else here: calls are not read");
    if (peek(p) == '(')
        return parse_mapping(p, ')', v);
    if (peek(p) == '.' || peek(p) == '[')
        return fail(p, p->pos, "attributes and subscripts are not read" NOT_RUN);
    p->pos = after;
    if (!b) {
        char msg[160];
        snprintf(msg, sizeof msg, "name '%.*s%s' is not defined", (int)(k < 64 ? k : 64),
                 p->s + start, k > 64 ? "..." : "");
        return fail(p, start, msg);
    }
    return copy_bound(p, start, b, v);
}

/* A dotted module name ("a.b", blanks allowed around the dots as Python allows them) into a
 * malloc'd *out. */
static int read_dotted(struct parser *p, char **out) {
    struct mill_buf b = {0};
    size_t s, k;
    int rc = read_name(p, &s, &k);
    while (!rc && !(rc = mill_buf_add(&b, p->s + s, k) ? oom(p) : 0) && !(rc = skip_space(p)) &&
           peek(p) == '.') {
        p->pos++;
        rc = mill_buf_addc(&b, '.') ? oom(p) : read_name(p, &s, &k);
    }
    *out = rc ? NULL : mill_buf_take(&b);
    mill_buf_free(&b);
    return rc ? rc : *out ? 0 : oom(p);
}

/* After a name: `as alias` or nothing; *start and *len become the alias's when there is one. */
static int read_alias(struct parser *p, size_t *start, size_t *len) {
    size_t save = p->pos, s, k;
    int rc = skip_space(p);
    if (rc || !is_name(peek(p)))
        return rc;
    if ((rc = read_name(p, &s, &k)))
        return rc;
    if (!word_is(p, s, k, "as")) {
        p->pos = save;
        return 0;
    }
    return read_name(p, start, len);
}

/* Binds name[0..len) (at: its offset) in scope to *val (taken). */
static int bind(struct parser *p, struct mill_value *scope, size_t at, const char *name, size_t len,
                struct mill_value *val) {
    int rc = check_name(p, at, name, len);
    if (!rc && scope->u.obj.n >= MAX_NAMES && !lookup(p, name, len))
        rc = fail(p, at, "more than 1024 names are not read");
    if (rc) {
        mill_value_free(val);
        return rc;
    }
    return put_field(p, at, scope, name, len, val, false);
}

/* Binds name[0..len) to an imported object: the bytes "a.b:X" (from a.b import X) or "a.b"
 * (import a.b), which only the caller interprets (MILL_V_BYTES, which no literal gives). */
static int bind_import(struct parser *p, struct mill_value *scope, size_t at, const char *name,
                       size_t len, const char *module, const char *member) {
    struct mill_buf b = {0};
    struct mill_value v;
    int bad = mill_buf_adds(&b, module) || (member && mill_buf_addc(&b, ':')) ||
              (member && mill_buf_adds(&b, member)) || mill_value_bytes(&v, b.p ? b.p : "", b.n);
    mill_buf_free(&b);
    return bad ? oom(p) : bind(p, scope, at, name, len, &v);
}

/* The names of `from a.b import X [as Y], ...` (or in parentheses), pos after `import`. */
static int import_names(struct parser *p, struct mill_value *scope, const char *module) {
    int rc = skip_space(p);
    if (!rc && peek(p) == '*')
        return fail(p, p->pos, "'import *' is not read" NOT_RUN);
    bool paren = !rc && peek(p) == '(';
    if (paren) {
        p->pos++;
        p->brackets++;
    }
    for (bool more = true; !rc && more;) {
        size_t s, k;
        if ((rc = read_name(p, &s, &k)))
            break;
        char *member = strndup(p->s + s, k);
        if (!member)
            return oom(p);
        if (!(rc = read_alias(p, &s, &k)))
            rc = bind_import(p, scope, s, p->s + s, k, module, member);
        free(member);
        if (!rc && !(rc = skip_space(p)) && (more = peek(p) == ','))
            p->pos++;
        if (more && paren && !rc && !(rc = skip_space(p)))
            more = peek(p) != ')';
    }
    if (paren && !rc) {
        if (!(rc = skip_space(p)) && peek(p) != ')')
            rc = fail(p, p->pos, "expected ')'");
        p->pos++;
        p->brackets--;
    }
    return rc;
}

/* `from a.b import ...`, pos after `from`. */
static int from_import(struct parser *p, struct mill_value *scope) {
    char *module = NULL;
    size_t s, k;
    int rc = skip_space(p);
    if (!rc && peek(p) == '.')
        return fail(p, p->pos, "relative imports are not read" NOT_RUN);
    if (!rc)
        rc = read_dotted(p, &module);
    if (!rc && !(rc = read_name(p, &s, &k)) && !word_is(p, s, k, "import"))
        rc = fail(p, s, "expected 'import'");
    if (!rc)
        rc = import_names(p, scope, module);
    free(module);
    return rc;
}

/* `import a.b [as c], ...`, pos after `import`: c, else a, is bound to the module, as Python
 * binds them. */
static int plain_import(struct parser *p, struct mill_value *scope) {
    int rc = 0;
    for (bool more = true; !rc && more;) {
        char *module = NULL;
        size_t at = 0, as = 0, an = 0;
        if (!(rc = skip_space(p)) && (at = p->pos, !(rc = read_dotted(p, &module))) &&
            !(rc = read_alias(p, &as, &an)))
            rc = an ? bind_import(p, scope, as, p->s + as, an, module, NULL)
                    : bind_import(p, scope, at, module, strcspn(module, "."), module, NULL);
        free(module);
        if (!rc && !(rc = skip_space(p)) && (more = peek(p) == ','))
            p->pos++;
    }
    return rc;
}

/* `NAME = value`, pos after NAME (s, k). */
static int assignment(struct parser *p, struct mill_value *scope, size_t s, size_t k) {
    int rc = skip_space(p);
    if (rc)
        return rc;
    if (peek(p) != '=' || peek_at(p, 1) == '=')
        return fail(p, s, "only imports and NAME = value assignments are read" NOT_RUN);
    p->pos++;
    if ((rc = skip_space(p)))
        return rc;
    size_t at = p->pos, ns, nk;
    if (is_name(peek(p)) && !is_digit(peek(p)) && prefix_len(p) < 0 && !read_name(p, &ns, &nk) &&
        !skip_space(p) && peek(p) == '=' && peek_at(p, 1) != '=')
        return fail(p, at, "chained assignments (a = b = ...) are not read" NOT_RUN);
    p->pos = at;
    struct mill_value v;
    enum node kind;
    if ((rc = parse_value(p, &v, &kind)))
        return rc;
    if ((rc = parse_seq(p, 0, false, &v))) {
        mill_value_free(&v);
        return rc;
    }
    return bind(p, scope, s, p->s + s, k, &v);
}

/* One statement, pos at its first character (not indented). */
static int statement(struct parser *p, struct mill_value *scope) {
    int c = peek(p);
    if (c == '\'' || c == '"' || (is_alpha(c) && prefix_len(p) >= 0)) { /* a docstring */
        struct mill_value v;
        mill_value_null(&v);
        int rc = parse_strings(p, &v);
        mill_value_free(&v);
        return rc;
    }
    size_t s, k;
    int rc = read_name(p, &s, &k);
    if (rc)
        return fail(p, p->pos, "only imports and NAME = value assignments are read" NOT_RUN);
    if (word_is(p, s, k, "from"))
        return from_import(p, scope);
    if (word_is(p, s, k, "import"))
        return plain_import(p, scope);
    return assignment(p, scope, s, k);
}

/* After a statement: blanks and a comment, then the end of the line or of the file. */
static int end_statement(struct parser *p) {
    int rc = skip_space(p);
    if (rc)
        return rc;
    if (p->pos < p->n && !is_newline(peek(p)))
        return fail(p, p->pos,
                    peek(p) == ';' ? "';' between statements is not read" NOT_RUN
                                   : "unexpected text after the statement" NOT_RUN);
    if (p->pos < p->n)
        eat_newline(p);
    return 0;
}

/* The line at pos: [start, end) without its newline. */
static size_t line_end(const char *s, size_t n, size_t pos) {
    while (pos < n && s[pos] != '\n' && s[pos] != '\r')
        pos++;
    return pos;
}

/* PEP 263: a coding declaration on the first line, or on the second after a comment or blank
 * first line. Only UTF-8 (and ASCII, for a file that is ASCII) is read; another encoding is
 * refused rather than read as UTF-8. */
static int check_coding(struct parser *p) {
    size_t pos = p->pos;
    for (int line = 0; line < 2 && pos < p->n; line++) {
        size_t end = line_end(p->s, p->n, pos), i = pos;
        while (i < end && (p->s[i] == ' ' || p->s[i] == '\t' || p->s[i] == '\f'))
            i++;
        if (i < end && p->s[i] != '#')
            return 0; /* code: no declaration below it counts */
        const char *hit = NULL;
        for (size_t j = i; i < end && j + 7 <= end && !hit; j++)
            if (!memcmp(p->s + j, "coding", 6) && (p->s[j + 6] == ':' || p->s[j + 6] == '='))
                hit = p->s + j + 7;
        if (hit) {
            while (hit < p->s + end && (*hit == ' ' || *hit == '\t'))
                hit++;
            char enc[32] = "";
            size_t k = 0;
            while (hit + k < p->s + end && k < sizeof enc - 1 &&
                   (is_name((unsigned char)hit[k]) || hit[k] == '-' || hit[k] == '.')) {
                enc[k] = hit[k] == '_' ? '-' : (char)(hit[k] | (is_alpha(hit[k]) ? 0x20 : 0));
                k++;
            }
            enc[k] = 0;
            bool ascii = !strcmp(enc, "ascii") || !strcmp(enc, "us-ascii");
            for (size_t j = 0; ascii && j < p->n; j++)
                ascii = (unsigned char)p->s[j] < 0x80;
            if (ascii || !strcmp(enc, "utf-8") || !strcmp(enc, "utf8") ||
                !strncmp(enc, "utf-8-", 6))
                return 0;
            return fail(p, pos, "the file declares an encoding other than UTF-8 (not read)");
        }
        pos = end < p->n && p->s[end] == '\r' && end + 1 < p->n && p->s[end + 1] == '\n' ? end + 2
                                                                                         : end + 1;
    }
    return 0;
}

int mill_pyconfig_parse(const char *s, size_t n, const char *file, const char *var,
                        struct mill_value *out, struct mill_err *err) {
    struct mill_value scope;
    mill_value_struct(&scope);
    mill_value_null(out);
    struct parser p = {
        .s = s, .n = n, .err = err, .scope = &scope, .file = file ? file : "<config>"};
    const char *nul = memchr(s, 0, n);
    int rc = nul ? fail(&p, (size_t)(nul - s), "NUL byte in the file") : 0;
    if (!rc && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        p.pos = 3; /* a UTF-8 BOM, which Python skips */
    if (!rc)
        rc = check_coding(&p);
    while (!rc && p.pos < p.n) {
        size_t col = 0;
        for (int c = peek(&p); c == ' ' || c == '\t' || c == '\f'; c = peek(&p)) {
            col = c == '\f' ? 0 : col + 1;
            p.pos++;
        }
        if ((rc = skip_space(&p)))
            break;
        if (p.pos >= p.n)
            break;
        if (is_newline(peek(&p))) {
            eat_newline(&p);
            continue;
        }
        if (col)
            rc = fail(&p, p.pos, "an indented block is not read" NOT_RUN);
        else if (!(rc = statement(&p, &scope)))
            rc = end_statement(&p);
    }
    struct mill_value *v = NULL;
    for (size_t i = 0; !rc && i < scope.u.obj.n && !v; i++)
        if (!strcmp(scope.u.obj.keys[i], var))
            v = &scope.u.obj.vals[i];
    if (!rc && !v)
        rc = mill_err_set(err, MILL_EFORMAT,
                          "%s: must export a top-level `%s = dict(...)` variable", p.file, var);
    if (!rc) { /* taken from the scope, which goes */
        *out = *v;
        mill_value_null(v);
    }
    mill_value_free(&scope);
    return rc;
}

/* ---- str() of list elements ------------------------------------------------------------- */

/* str(v) as a malloc'd string into *out. */
static int item_str(const struct mill_value *v, size_t i, char **out, struct mill_err *err) {
    struct mill_buf b = {0};
    int rc = 0;
    switch (v->kind) {
    case MILL_V_STR: rc = mill_buf_add(&b, v->u.s.p, strnlen(v->u.s.p, v->u.s.n)); break;
    case MILL_V_INT: rc = mill_buf_addf(&b, "%" PRId64, v->u.i); break;
    case MILL_V_FLOAT: rc = mill_buf_add_pyfloat(&b, v->u.f); break;
    case MILL_V_BOOL: rc = mill_buf_adds(&b, v->u.b ? "True" : "False"); break;
    case MILL_V_NULL: rc = mill_buf_adds(&b, "None"); break;
    default:
        return mill_err_set(err, MILL_EFORMAT,
                            "python literal: element %zu is a list (str() of it is not supported)",
                            i);
    }
    *out = rc ? NULL : mill_buf_take(&b);
    mill_buf_free(&b);
    return *out ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
}

int mill_pyliteral_str_list(const char *s, size_t n, char ***items, size_t *n_items,
                            struct mill_err *err) {
    *items = NULL;
    *n_items = 0;
    struct mill_value v;
    int rc = mill_pyliteral_parse(s, n, &v, err);
    if (rc)
        return rc;
    if (v.kind != MILL_V_LIST)
        rc = mill_err_set(err, MILL_EFORMAT, "python literal: not a list");
    size_t k = rc ? 0 : v.u.list.n;
    char **out = k ? calloc(k, sizeof *out) : NULL;
    if (k && !out)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < k; i++)
        rc = item_str(&v.u.list.items[i], i, &out[i], err);
    mill_value_free(&v);
    if (rc) {
        mill_strv_free(out, k);
        return rc;
    }
    *items = out;
    *n_items = k;
    return 0;
}
