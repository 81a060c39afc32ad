/* text.c: Python-compatible string helpers (text.h). No allocation beyond the returned copies. */
#include "core/text.h"

#include <utf8proc.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t mill_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xE0) == 0xC0   ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (!len || len > n)
        return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return len;
}

/* Python's Py_UNICODE_ISSPACE. */
static bool py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t mill_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t mill_utf8_next_valid(const unsigned char *s, size_t n, uint32_t *cp) {
    size_t k = mill_utf8_valid_len(s, n, NULL);
    return k ? mill_utf8_next(s, k, cp) : 0;
}

bool mill_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = mill_utf8_valid_len((const unsigned char *)s + i, n - i, NULL)))
            return false;
    return true;
}

size_t mill_py_space_len(const char *s, size_t n) {
    uint32_t cp;
    size_t k = mill_utf8_next_valid((const unsigned char *)s, n, &cp);
    return k && py_isspace(cp) ? k : 0;
}

void mill_ascii_strip_span(const char *s, size_t n, const char **b, size_t *len) {
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *b = s;
    *len = n;
}

void mill_py_strip_span(const char *str, size_t n, size_t *start, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t b = 0, e = n, last_end = 0;
    uint32_t cp;
    size_t k;
    while (b < n && (k = mill_utf8_next_valid(s + b, n - b, &cp)) && py_isspace(cp))
        b += k;
    /* Scan forward from b remembering where the last non-space character ends. */
    last_end = b;
    for (size_t i = b; i < n;) {
        k = mill_utf8_next_valid(s + i, n - i, &cp);
        if (!k) {
            i++;
            last_end = i;
            continue;
        }
        i += k;
        if (!py_isspace(cp))
            last_end = i;
    }
    e = last_end;
    *start = b;
    *len = e > b ? e - b : 0;
}

char *mill_py_strip(const char *s) {
    size_t b, n;
    mill_py_strip_span(s, strlen(s), &b, &n);
    return strndup(s + b, n);
}

size_t mill_py_rstrip_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t last_end = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = mill_utf8_next_valid(s + i, n - i, &cp);
        i += k ? k : 1; /* an invalid byte is no space */
        if (!k || !py_isspace(cp))
            last_end = i;
    }
    return last_end;
}

char *mill_str_replace(const char *s, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    if (!nf)
        return strdup(s);
    for (const char *p = s; (p = strstr(p, from)); p += nf)
        count++;
    size_t n = strlen(s) + count * nt - count * nf;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s, *q;; p = q + nf) {
        q = strstr(p, from);
        size_t seg = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, seg);
        o += seg;
        if (!q)
            break;
        memcpy(o, to, nt);
        o += nt;
    }
    *o = 0;
    return out;
}

size_t mill_utf8_len(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), count = 0;
    uint32_t cp;
    for (size_t i = 0; i < n; count++) {
        size_t k = mill_utf8_next(s + i, n - i, &cp);
        i += k ? k : 1;
    }
    return count;
}

size_t mill_text_width(const char *str) {
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)str;
    size_t w = 0;
    while (*s) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s, -1, &c);
        w += k > 0 ? (size_t)utf8proc_charwidth(c) : 1;
        s += k > 0 ? k : 1;
    }
    return w;
}

bool mill_str_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !memcmp(s + a - b, suffix, b);
}

size_t mill_utf8_valid_len(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        if (bad)
            *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            if (bad)
                *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return len;
}

/* The first occurrence of stop (k bytes) in text[0..n), or NULL; an empty stop is at 0. */
static const char *find_stop(const char *text, size_t n, const char *stop, size_t k) {
    return k ? memmem(text, n, stop, k) : text;
}

size_t mill_stop_cut(const char *text, size_t n, const char *const *stop) {
    size_t cut = n;
    for (; stop && *stop; stop++) {
        const char *p = find_stop(text, cut, *stop, strlen(*stop));
        if (p)
            cut = (size_t)(p - text);
    }
    return cut;
}

/* Whether some proper, non-empty prefix of stop (k bytes) ends text[0..n): its first
 * occurrence in a longer text could then begin before n. */
static bool stop_may_begin(const char *text, size_t n, const char *stop, size_t k) {
    for (size_t m = !k ? 0 : k - 1 > n ? n : k - 1; m > 0; m--)
        if (!memcmp(text + n - m, stop, m))
            return true;
    return false;
}

/* The cut of a longer text T is the cut of text[0..n) when a stop cuts it: a stop found in the
 * text has its first occurrence in T there, and one not found yet can only occur in T from n
 * on (checked: no prefix of it ends the text), where it cuts nothing once a cut is made at or
 * before n, and leaves every stop found in the text cutting as it does here before one is. */
bool mill_stop_decided(const char *text, size_t n, const char *const *stop, size_t *cut) {
    bool cutting = false;
    *cut = n;
    for (; stop && *stop; stop++) {
        size_t k = strlen(*stop);
        const char *p = find_stop(text, *cut, *stop, k);
        if (p) {
            *cut = (size_t)(p - text);
            cutting = true;
        } else if (!cutting &&
                   (stop_may_begin(text, n, *stop, k) || memmem(*stop, k, "\xef\xbf\xbd", 3))) {
            return false; /* one holding U+FFFD may match the repaired text only (llama.c) */
        }
    }
    return cutting;
}

char *mill_utf8_repair(const char *s, size_t n, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    char *out = n <= (SIZE_MAX - 1) / 3 ? malloc(3 * n + 1) : NULL; /* a byte: one U+FFFD at most */
    size_t o = 0;
    for (size_t i = 0; out && i < n;) {
        size_t bad = 1, k = u[i] < 0x80 ? 1 : mill_utf8_valid_len(u + i, n - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    if (out) {
        out[o] = 0;
        *len = o;
    }
    return out;
}

char *mill_py_join_strip(const char *a, const char *b) {
    char *joined = NULL;
    if (asprintf(&joined, "%s %s", a, b) < 0)
        return NULL;
    char *s = mill_py_strip(joined);
    free(joined);
    return s;
}
