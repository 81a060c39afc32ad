/* pyformat.c: format(value, spec) and printf-style conversions as CPython 3.11 writes them
 * (pyformat.h): Python/formatter_unicode.c's spec parser and its str, int and float
 * renderers, and PyOS_double_to_string's modes. Floats get their digits from the C library's
 * correctly rounded "%.*e" / "%.*f" in the "C" locale (glibc prints exact decimal expansions,
 * as Python's dtoa does) and their shape (exponent or not, trailing zeros, ".0") from Python's
 * rules; repr is mill_buf_add_pyfloat's. tests/unit/test_pyformat.c checks them against
 * Python's format() and % under /usr/bin/python3. */
#include "core/pyformat.h"

#include "core/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIDTH 100000 /* a template asking for more is refused, not obeyed */

static int bad(char *why, size_t wn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t wn, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wn, fmt, ap);
    va_end(ap);
    return MILL_EINVAL;
}

static bool is_align(char c) { return c == '<' || c == '>' || c == '^' || c == '='; }

/* Digits at s[*i..n) as a count; false when there are too many. */
static bool digits(const char *s, size_t n, size_t *i, int64_t *out) {
    int64_t v = 0;
    for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
        v = v * 10 + (s[*i] - '0');
        if (v > MAX_WIDTH)
            return false;
    }
    *out = v;
    return true;
}

int mill_pyspec_parse(const char *s, size_t n, struct mill_pyspec *sp, char *why, size_t wn) {
    *sp = (struct mill_pyspec){.fill = ' ', .width = -1, .prec = -1};
    size_t i = 0;
    uint32_t cp = 0;
    size_t w = n ? mill_utf8_next((const unsigned char *)s, n, &cp) : 0;
    bool fill_given = false;
    if (w && w < n && is_align(s[w])) {
        sp->fill = cp, sp->align = s[w], i = w + 1, fill_given = true;
    } else if (n && is_align(s[0])) {
        sp->align = s[0], i = 1;
    }
    if (i < n && (s[i] == '+' || s[i] == '-' || s[i] == ' '))
        sp->sign = s[i++];
    if (i < n && s[i] == 'z')
        sp->z = true, i++;
    if (i < n && s[i] == '#')
        sp->alt = true, i++;
    if (!fill_given && i < n && s[i] == '0')
        sp->zero = true, i++;
    int64_t v;
    size_t at = i;
    if (!digits(s, n, &i, &v))
        return bad(why, wn, "Too many decimal digits in format string");
    if (i > at)
        sp->width = v;
    if (i < n && (s[i] == ',' || s[i] == '_')) {
        sp->group = s[i++];
        if (i < n && (s[i] == ',' || s[i] == '_'))
            return bad(why, wn,
                       s[i] == sp->group ? "Cannot specify '%c' with '%c'."
                                         : "Cannot specify both ',' and '_'.",
                       s[i], sp->group);
    }
    if (i < n && s[i] == '.') {
        at = ++i;
        if (!digits(s, n, &i, &v))
            return bad(why, wn, "Too many decimal digits in format string");
        if (i == at)
            return bad(why, wn, "Format specifier missing precision");
        sp->prec = v;
    }
    if (n - i > 1)
        return bad(why, wn, "Invalid format specifier '%.*s'", (int)n, s);
    if (i < n && !s[i]) /* a NUL is no type, not the absent one */
        return bad(why, wn, "Unknown format code '\\x00'");
    if (i < n)
        sp->type = s[i];
    return 0;
}

/* Python's message for a ',' or '_' the type does not take, or 0. */
static int check_group(const struct mill_pyspec *sp, char type, char *why, size_t wn) {
    if (!sp->group)
        return 0;
    const char *ok = sp->group == ',' ? "deEfFgG%" : "deEfFgG%boxX";
    if (!type || strchr(ok, type))
        return 0;
    char t[8];
    if (type > ' ' && type < 0x7f)
        snprintf(t, sizeof t, "'%c'", type);
    else
        snprintf(t, sizeof t, "'\\x%x'", (unsigned char)type);
    return bad(why, wn, "Cannot specify '%c' with %s.", sp->group, t);
}

/* ---- padding ---- */

static int add_fill(struct mill_buf *b, uint32_t fill, int64_t k) {
    char e[4];
    size_t w = mill_utf8_encode(fill, e);
    int rc = 0;
    for (int64_t i = 0; !rc && i < k; i++)
        rc = mill_buf_add(b, e, w);
    return rc;
}

/* head (sign and prefix) and body (the rest), len code points in all, padded to the width as
 * align says ('=': the fill between head and body). */
static int pad(struct mill_buf *b, const struct mill_pyspec *sp, char align, const char *head,
               size_t nh, const char *body, size_t nb, int64_t len) {
    int64_t total = sp->width > len ? sp->width - len : 0, left = 0;
    if (align == '>' || align == '=')
        left = total;
    else if (align == '^')
        left = total / 2;
    int rc = 0;
    if (align == '=') {
        rc = mill_buf_add(b, head, nh);
        rc = rc ? rc : add_fill(b, sp->fill, left);
    } else {
        rc = add_fill(b, sp->fill, left);
        rc = rc ? rc : mill_buf_add(b, head, nh);
    }
    rc = rc ? rc : mill_buf_add(b, body, nb);
    return rc ? rc : add_fill(b, sp->fill, total - left);
}

/* The alignment and fill the spec means for a number: "0" is fill '0' with '=' when no
 * alignment is given (and fill '0' beside one). */
static char number_align(struct mill_pyspec *sp) {
    if (sp->zero) {
        sp->fill = '0';
        if (!sp->align)
            return '=';
    }
    return sp->align ? sp->align : '>';
}

int mill_pyformat_str(struct mill_buf *b, const char *s, size_t n, const struct mill_pyspec *spec,
                      char *why, size_t wn) {
    struct mill_pyspec sp = *spec;
    char type = sp.type ? sp.type : 's';
    if (type != 's')
        return bad(why, wn, "Unknown format code '%c' for object of type 'str'", type);
    if (sp.sign)
        return bad(why, wn, "Sign not allowed in string format specifier");
    if (sp.z)
        return bad(why, wn, "Negative zero coercion (z) not allowed in format specifier");
    if (sp.alt)
        return bad(why, wn, "Alternate form (#) not allowed in string format specifier");
    int rc = check_group(&sp, 's', why, wn);
    if (rc)
        return rc;
    if (sp.zero)
        sp.fill = '0';
    char align = sp.align ? sp.align : '<';
    if (align == '=')
        return bad(why, wn, "'=' alignment not allowed in string format specifier");
    int64_t len = 0;
    size_t k = 0;
    while (k < n && (sp.prec < 0 || len < sp.prec)) {
        uint32_t cp;
        size_t w = mill_utf8_next((const unsigned char *)s + k, n - k, &cp);
        k += w ? w : 1;
        len++;
    }
    return pad(b, &sp, align, "", 0, s, k, len);
}

/* ---- numbers ---- */

/* The digit run at d[0..nd) grouped by sep every g digits, zero-extended on the left until the
 * grouped text is at least min_len long (Python's zero padding under grouping), onto out. */
static int group_digits(struct mill_buf *out, const char *d, size_t nd, char sep, int g,
                        int64_t min_len) {
    size_t k = nd;
    if (sep)
        while ((int64_t)(k + (k - 1) / (size_t)g) < min_len)
            k++;
    else if ((int64_t)k < min_len)
        k = (size_t)min_len;
    int rc = 0;
    for (size_t i = 0; !rc && i < k; i++) {
        size_t left = k - i; /* digits from here to the end of the run */
        rc = mill_buf_addc(out, i < k - nd ? '0' : d[i - (k - nd)]);
        if (!rc && sep && left > 1 && (left - 1) % (size_t)g == 0)
            rc = mill_buf_addc(out, sep);
    }
    return rc;
}

/* A number's text: sign, prefix, then digits (num[0..run), grouped every g) and the rest, as
 * spec says: padding, alignment, Python's zero padding through the separators. */
static int emit_number(struct mill_buf *b, struct mill_pyspec *sp, bool neg, const char *prefix,
                       const char *num, size_t n, size_t run, int g) {
    char head[8];
    size_t nh = 0;
    if (neg)
        head[nh++] = '-';
    else if (sp->sign == '+' || sp->sign == ' ')
        head[nh++] = sp->sign;
    for (const char *p = prefix; *p; p++)
        head[nh++] = *p;
    char align = number_align(sp);
    int64_t min_len = 0; /* zero padding counts the separators it adds */
    if (sp->fill == '0' && align == '=' && sp->width > 0)
        min_len = sp->width - (int64_t)nh - (int64_t)(n - run);
    struct mill_buf body = {0};
    int rc = group_digits(&body, num, run, sp->group, g, min_len);
    rc = rc ? rc : mill_buf_add(&body, num + run, n - run);
    if (!rc)
        rc = pad(b, sp, align, head, nh, body.p, body.n, (int64_t)(nh + body.n));
    mill_buf_free(&body);
    return rc;
}

int mill_pyformat_int(struct mill_buf *b, int64_t v, const struct mill_pyspec *spec, char *why,
                      size_t wn) {
    struct mill_pyspec sp = *spec;
    char type = sp.type ? sp.type : 'd';
    if (strchr("eEfFgG%", type))
        return mill_pyformat_float(b, (double)v, spec, why, wn);
    if (!strchr("bcdoxXn", type))
        return bad(why, wn, "Unknown format code '%c' for object of type 'int'", type);
    if (sp.prec >= 0 && !sp.min_digits)
        return bad(why, wn, "Precision not allowed in integer format specifier");
    if (sp.z)
        return bad(why, wn, "Negative zero coercion (z) not allowed in integer format specifier");
    int rc = check_group(&sp, type, why, wn);
    if (rc)
        return rc;
    if (type == 'c') {
        if (sp.sign)
            return bad(why, wn, "Sign not allowed with integer format specifier 'c'");
        if (sp.alt)
            return bad(why, wn, "Alternate form (#) not allowed with integer format specifier 'c'");
        if (v < 0 || v > 0x10ffff)
            return bad(why, wn, "%%c arg not in range(0x110000)");
        char e[4];
        size_t w = mill_utf8_encode((uint32_t)v, e);
        char align = number_align(&sp);
        return pad(b, &sp, align == '=' ? '>' : align, "", 0, e, w, 1);
    }
    int base = type == 'b' ? 2 : type == 'o' ? 8 : type == 'x' || type == 'X' ? 16 : 10;
    const char *dig = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[72], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = dig[u % (uint64_t)base];
        u /= (uint64_t)base;
    } while (u);
    const char *prefix = !sp.alt      ? ""
                         : base == 2  ? "0b"
                         : base == 8  ? "0o"
                         : base == 16 ? (type == 'X' ? "0X" : "0x")
                                      : "";
    size_t nd = (size_t)(tmp + sizeof tmp - p);
    if (!sp.min_digits || sp.prec <= (int64_t)nd)
        return emit_number(b, &sp, v < 0, prefix, p, nd, nd, base == 10 ? 3 : 4);
    struct mill_buf z = {0}; /* printf's %.Nd: zeros up to N digits */
    for (int64_t i = (int64_t)nd; !rc && i < sp.prec; i++)
        rc = mill_buf_addc(&z, '0');
    rc = rc ? rc : mill_buf_add(&z, p, nd);
    if (!rc)
        rc = emit_number(b, &sp, v < 0, prefix, z.p, z.n, z.n, base == 10 ? 3 : 4);
    mill_buf_free(&z);
    return rc;
}

/* The correctly rounded digits of |v| to p significant ones (p >= 1) and the decimal exponent
 * of the first: v = 0.d1d2... * 10^(*decpt). */
static void sig_digits(double v, int p, char *d, int *decpt) {
    char tmp[1200];
    mill_snprintf_c(tmp, sizeof tmp, "%.*e", p - 1, fabs(v));
    size_t k = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            d[k++] = *s;
    d[k] = 0;
    *decpt = atoi(s + 1) + 1;
}

/* PyOS_double_to_string(|v|, type, prec, flags) for a finite v, type 'e', 'f' or 'g' (upper
 * case for 'E', 'F', 'G'; 'r' with add_dot0: repr's shape, 'g' with add_dot0: the spec with a
 * precision and no type), onto out. */
static void float_text(double v, char type, int prec, bool alt, bool add_dot0, char *out,
                       size_t n) {
    bool upper = type == 'E' || type == 'F' || type == 'G';
    char t = (char)(upper ? type + 32 : type);
    if (t == 'f') {
        mill_snprintf_c(out, n, alt ? "%#.*f" : "%.*f", prec, fabs(v));
        return;
    }
    if (t == 'e') {
        mill_snprintf_c(out, n, alt ? "%#.*E" : "%.*E", prec, fabs(v));
        if (!upper)
            for (char *p = out; *p; p++)
                *p = *p == 'E' ? 'e' : *p;
        return;
    }
    /* 'g': p significant digits, exponent when decpt <= -4 or decpt > p (p - 1 with add_dot0) */
    int p = prec ? prec : 1, decpt;
    char d[1100];
    sig_digits(v, p, d, &decpt);
    if (v == 0)
        decpt = 1;
    int nd = (int)strlen(d);
    if (!alt)
        while (nd > 1 && d[nd - 1] == '0')
            nd--;
    bool use_exp = decpt <= -4 || decpt > (add_dot0 ? p - 1 : p);
    size_t o = 0;
    if (use_exp) {
        out[o++] = d[0];
        if (nd > 1 || alt)
            out[o++] = '.';
        for (int i = 1; i < nd; i++)
            out[o++] = d[i];
        int e = decpt - 1;
        o += (size_t)snprintf(out + o, n - o, "%c%c%02d", upper ? 'E' : 'e', e < 0 ? '-' : '+',
                              e < 0 ? -e : e);
        return;
    }
    if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = d[i];
    } else {
        for (int i = 0; i < decpt; i++)
            out[o++] = i < nd ? d[i] : '0';
        if (nd > decpt || alt || add_dot0)
            out[o++] = '.';
        for (int i = decpt; i < nd; i++)
            out[o++] = d[i];
        if (add_dot0 && nd <= decpt)
            out[o++] = '0';
    }
    out[o] = 0;
}

int mill_pyformat_float(struct mill_buf *b, double v, const struct mill_pyspec *spec, char *why,
                        size_t wn) {
    struct mill_pyspec sp = *spec;
    char type = sp.type;
    if (type && !strchr("eEfFgGn%", type))
        return bad(why, wn, "Unknown format code '%c' for object of type 'float'", type);
    int rc = check_group(&sp, type, why, wn);
    if (rc)
        return rc;
    if (sp.prec > 1000)
        return bad(why, wn, "precision too big");
    bool pct = type == '%', add_dot0 = !type;
    if (type == 'n')
        type = 'g';
    if (pct)
        type = 'f', v *= 100;
    int prec = (int)(sp.prec >= 0 ? sp.prec : 6);
    bool neg = signbit(v) && !isnan(v);
    char text[1400];
    if (isinf(v) || isnan(v)) {
        bool upper = type == 'E' || type == 'F' || type == 'G';
        snprintf(text, sizeof text, "%s",
                 isnan(v) ? (upper ? "NAN" : "nan")
                 : upper  ? "INF"
                          : "inf");
    } else if (!type && sp.prec < 0) { /* repr */
        struct mill_buf r = {0};
        rc = mill_buf_add_pyfloat(&r, fabs(v));
        if (rc)
            return rc;
        snprintf(text, sizeof text, "%s", r.p);
        mill_buf_free(&r);
        char *e = strchr(text, 'e');
        if (sp.alt && e && !strchr(text, '.')) { /* "#": 1e+16 keeps a point, 1.e+16 */
            memmove(e + 1, e, strlen(e) + 1);
            *e = '.';
        }
    } else {
        float_text(v, type ? type : 'g', prec, sp.alt, add_dot0, text, sizeof text);
    }
    if (neg && sp.z) { /* "z": a result that rounds to zero loses its sign */
        bool zero = true;
        for (const char *p = text; *p && *p != 'e' && *p != 'E'; p++)
            zero &= *p == '0' || *p == '.';
        neg = !zero;
    }
    size_t n = strlen(text), run = 0;
    if (pct)
        text[n++] = '%', text[n] = 0;
    while (run < n && text[run] >= '0' && text[run] <= '9')
        run++;
    return emit_number(b, &sp, neg, "", text, n, run, 3);
}

int mill_pyprintf_spec(const char *s, size_t n, struct mill_pyspec *sp, char *type, size_t *used,
                       char *why, size_t wn) {
    *sp = (struct mill_pyspec){.fill = ' ', .width = -1, .prec = -1};
    size_t i = 0;
    bool left = false, zero = false;
    for (; i < n && s[i] && strchr("-+ #0", s[i]); i++) {
        switch (s[i]) {
        case '-': left = true; break;
        case '+': sp->sign = '+'; break;
        case ' ': sp->sign = sp->sign == '+' ? '+' : ' '; break;
        case '#': sp->alt = true; break;
        default: zero = true; break;
        }
    }
    int64_t v;
    size_t at = i;
    if (i < n && s[i] == '*')
        return bad(why, wn, "'*' in a %% conversion is not supported");
    if (!digits(s, n, &i, &v))
        return bad(why, wn, "width too big");
    if (i > at)
        sp->width = v;
    if (i < n && s[i] == '.') {
        i++;
        if (i < n && s[i] == '*')
            return bad(why, wn, "'*' in a %% conversion is not supported");
        if (!digits(s, n, &i, &v))
            return bad(why, wn, "precision too big");
        sp->prec = v;
    }
    while (i < n && s[i] && strchr("hlL", s[i])) /* length modifiers: Python skips them */
        i++;
    if (i >= n)
        return bad(why, wn, "incomplete format");
    *type = s[i++];
    *used = i;
    if (!*type || !strchr("diuoxXeEfFgGcrsa%", *type))
        return bad(why, wn, "unsupported format character '%c' (0x%x) at index %zu", *type,
                   (unsigned char)*type, i);
    if (strchr("srac", *type)) /* Python ignores a sign and '#' there, and %c a precision */
        sp->sign = 0, sp->alt = false;
    if (*type == 'c')
        sp->prec = -1;
    sp->type = *type == 'i' || *type == 'u' ? 'd' : *type;
    sp->min_digits = strchr("dioxXu", *type) != NULL;
    bool number = strchr("diuoxXeEfFgG", *type) != NULL;
    sp->align = left ? '<' : '>';
    if (zero && !left && number) {
        sp->fill = '0';
        sp->align = '=';
    }
    if (!sp->min_digits || sp->prec < 0)
        sp->min_digits = false;
    return 0;
}
