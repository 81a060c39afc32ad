/* buf.c: struct mill_buf, the growable always-NUL-terminated byte buffer, and its two writers
 * that must match Python byte for byte: JSON string literals (json.dumps, ensure_ascii=False,
 * invalid UTF-8 replaced by U+FFFD as bytes.decode("utf-8", "replace") does) and repr(float).
 *
 * Must not print, exit or abort: every failure is a return code. Must not depend on the process
 * locale (the decimal point is parsed out of printf's output, strtod runs in the "C" locale). */
#include <mill/buf.h>

#include "core/text.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for extra more bytes plus the NUL; doubles the capacity, checking for overflow. */
static int reserve(struct mill_buf *b, size_t extra) {
    if (extra > SIZE_MAX - 1 - b->n)
        return MILL_ENOMEM;
    size_t need = b->n + extra + 1;
    if (b->p && need <= b->cap)
        return MILL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        return MILL_ENOMEM;
    if (!b->p)
        p[0] = 0;
    b->p = p;
    b->cap = cap;
    return MILL_OK;
}

int mill_buf_add(struct mill_buf *b, const void *p, size_t n) {
    /* p may point into the buffer itself: keep its offset across the realloc. */
    const char *src = p;
    bool inside = b->p && src >= b->p && src < b->p + b->cap;
    size_t off = inside ? (size_t)(src - b->p) : 0;
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (inside)
        src = b->p + off;
    if (n)
        memmove(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = 0;
    return MILL_OK;
}

int mill_buf_adds(struct mill_buf *b, const char *s) { return mill_buf_add(b, s, strlen(s)); }

int mill_buf_addc(struct mill_buf *b, char c) {
    int rc = reserve(b, 1);
    if (rc)
        return rc;
    b->p[b->n++] = c;
    b->p[b->n] = 0;
    return MILL_OK;
}

int mill_buf_addf(struct mill_buf *b, const char *fmt, ...) {
    int rc = reserve(b, 0);
    if (rc)
        return rc;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    size_t room = b->cap - b->n;
    int k = vsnprintf(b->p + b->n, room, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k >= room) {
        rc = reserve(b, (size_t)k);
        if (!rc)
            k = vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap2);
    }
    va_end(ap2);
    if (rc || k < 0) {
        b->p[b->n] = 0;
        return rc ? rc : MILL_EINVAL;
    }
    b->n += (size_t)k;
    b->p[b->n] = 0;
    return MILL_OK;
}

int mill_buf_add_json_str(struct mill_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t start = b->n;
    int rc = reserve(b, n <= SIZE_MAX - 2 ? n + 2 : n);
    if (!rc)
        rc = mill_buf_addc(b, '"');
    size_t i = 0;
    while (!rc && i < n) {
        size_t run = i, bad = 0;
        /* Copy the longest run that needs no escaping in one go. */
        while (run < n) {
            unsigned char c = u[run];
            if (c < 0x80) {
                if (c < 0x20 || c == '"' || c == '\\')
                    break;
                run++;
            } else {
                size_t len = mill_utf8_valid_len(u + run, n - run, &bad);
                if (!len)
                    break;
                run += len;
            }
        }
        if (run > i)
            rc = mill_buf_add(b, s + i, run - i);
        i = run;
        if (rc || i >= n)
            break;
        unsigned char c = u[i];
        if (c >= 0x80) {
            rc = mill_buf_add(b, "\xEF\xBF\xBD", 3);
            i += bad;
            continue;
        }
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        rc = mill_buf_add(b, esc, elen);
        i++;
    }
    if (!rc)
        rc = mill_buf_addc(b, '"');
    if (rc && b->p) {
        b->n = start;
        b->p[start] = 0;
    }
    return rc;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* strtod in the "C" locale whatever setlocale() the program made. */
double mill_strtod_c(const char *s, char **end) {
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? strtod_l(s, end, c_locale) : strtod(s, end);
}

int mill_snprintf_c(char *out, size_t n, const char *fmt, ...) {
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0; /* this thread's, put back */
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (c_locale)
        uselocale(old);
    return k;
}

static double strtod_c(const char *s) { return mill_strtod_c(s, NULL); }

/* Formats digits d[0..nd) and exponent e as "d.ddde+E" (C-locale) and checks it reads back
 * as x exactly. */
static bool round_trips(const char *d, int nd, int e, double x) {
    char s[48];
    int k = 0;
    s[k++] = d[0];
    s[k++] = '.';
    for (int i = 1; i < nd; i++)
        s[k++] = d[i];
    snprintf(s + k, sizeof s - (size_t)k, "e%d", e);
    return strtod_c(s) == x;
}

/* The shortest decimal digits that read back as x > 0 (finite), as Python's repr finds them:
 * digits d[0..*nd) with no trailing zeros, value 0.d1d2... * 10^(*e + 1). */
static void shortest_digits(double x, char d[20], int *nd, int *e) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    /* At a power of two (zero mantissa, not the smallest normal) the gap below is half the gap
     * above, so the nearest p-digit decimal may miss while the next one up reads back. */
    bool pow2 = (bits & 0xFFFFFFFFFFFFFull) == 0 && (bits >> 52) > 1;
    int p;
    for (p = 1; p <= 17; p++) {
        char s[48];
        snprintf(s, sizeof s, "%.*e", p - 1, x);
        /* Digits, then 'e' and the exponent; whatever the locale's decimal point is, skip it. */
        int k = 0;
        const char *q = s;
        for (; *q && *q != 'e'; q++)
            if (*q >= '0' && *q <= '9' && k < 17)
                d[k++] = *q;
        *e = *q == 'e' ? (int)strtol(q + 1, NULL, 10) : 0;
        if (round_trips(d, p, *e, x))
            break;
        if (pow2) {
            char up[20];
            int ue = *e;
            memcpy(up, d, (size_t)p);
            int i = p - 1;
            while (i >= 0 && up[i] == '9')
                up[i--] = '0';
            if (i >= 0)
                up[i]++;
            else {
                up[0] = '1';
                ue++;
            }
            if (round_trips(up, p, ue, x)) {
                memcpy(d, up, (size_t)p);
                *e = ue;
                break;
            }
        }
    }
    if (p > 17)
        p = 17; /* unreachable: 17 significant digits always round-trip */
    while (p > 1 && d[p - 1] == '0')
        p--;
    *nd = p;
}

int mill_buf_add_pyfloat(struct mill_buf *b, double x) {
    if (isnan(x))
        return mill_buf_adds(b, "nan");
    if (isinf(x))
        return mill_buf_adds(b, x < 0 ? "-inf" : "inf");
    char out[64];
    size_t k = 0;
    if (signbit(x)) {
        out[k++] = '-';
        x = -x;
    }
    char d[20] = "0";
    int nd = 1, e = 0;
    if (x != 0)
        shortest_digits(x, d, &nd, &e);
    if (e < -4 || e >= 16) {
        out[k++] = d[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++)
                out[k++] = d[i];
        }
        int len = snprintf(out + k, sizeof out - k, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        k += (size_t)len;
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++)
            out[k++] = i < nd ? d[i] : '0';
        out[k++] = '.';
        if (nd > e + 1)
            for (int i = e + 1; i < nd; i++)
                out[k++] = d[i];
        else
            out[k++] = '0';
    } else {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -e - 1; i++)
            out[k++] = '0';
        for (int i = 0; i < nd; i++)
            out[k++] = d[i];
    }
    return mill_buf_add(b, out, k);
}

void mill_buf_reset(struct mill_buf *b) {
    b->n = 0;
    if (b->p)
        b->p[0] = 0;
}

void mill_buf_free(struct mill_buf *b) {
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
}

/* Returns the contents ("" for a buffer never written; NULL only when that allocation fails). */
char *mill_buf_take(struct mill_buf *b) {
    char *p = b->p;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = 0;
    }
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    return p;
}

int mill_buf_add_json_num(struct mill_buf *b, double x) {
    if (isnan(x))
        return mill_buf_adds(b, "NaN");
    if (isinf(x))
        return mill_buf_adds(b, x > 0 ? "Infinity" : "-Infinity");
    return mill_buf_add_pyfloat(b, x);
}
