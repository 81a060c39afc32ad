/* pystr.c: Python's text primitives of pystr.h: CPython's UTF-8 decoder with errors="replace",
 * and html.unescape() exactly (numeric references with html._replace_charref's rules, all of
 * HTML5's 2,231 named ones from html5_entities.h, the legacy ones also without ';' with the
 * longest-prefix rule). */
#include "model/clip/pystr.h"

#include <stdbool.h>
#include <string.h>

#define NAME_MAX_CPS 32 /* html.unescape's [^\t\n\f <&#;]{1,32} */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Decodes one code point from s[0..n), n >= 1, as CPython's decoder with errors="replace": a
 * maximal invalid subpart becomes one U+FFFD. Returns the bytes consumed. */
size_t mill_pystr_decode_cp(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t v;
    *cp = 0xFFFD;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, v = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, v = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi)
            return i;
        v = v << 6 | (s[i] & 0x3F);
        lo = 0x80, hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

size_t mill_pystr_encode_cp(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12), out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18), out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F)), out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t mill_pystr_decode(const char *s, size_t n, uint32_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; o++)
        i += mill_pystr_decode_cp((const unsigned char *)s + i, n - i, &out[o]);
    return o;
}

size_t mill_pystr_encode(const uint32_t *cps, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += mill_pystr_encode_cp(cps[i], out + o);
    out[o] = 0;
    return o;
}

/* ---- html.unescape --------------------------------------------------------------------- */

struct entity {
    const char *name; /* without its ';' */
    uint32_t cp, cp2; /* what it stands for; cp2 0 when one code point */
    bool legacy;      /* also valid without ';' */
};

static const struct entity ENTITIES[] = {
#include "model/clip/html5_entities.h"
};

/* Windows-1252 for &#128; .. &#159; (html._invalid_charrefs). */
static const uint16_t CP1252_80[32] = {
    0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
    0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178,
};

/* The entity named key[0..n), one with legacy set when need_legacy; NULL when none. */
static const struct entity *entity_find(const char *key, size_t n, bool need_legacy) {
    size_t lo = 0, hi = NELEM(ENTITIES);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = ENTITIES[mid].name;
        int c = strncmp(key, name, n);
        if (c == 0 && name[n])
            c = -1;
        if (c == 0)
            return !need_legacy || ENTITIES[mid].legacy ? &ENTITIES[mid] : NULL;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Appends entity e's code points to out at *o. */
static void put_entity(const struct entity *e, uint32_t *out, size_t *o) {
    out[(*o)++] = e->cp;
    if (e->cp2)
        out[(*o)++] = e->cp2;
}

/* What html._replace_charref gives for number v: written to out, returns 0 or 1 code points. */
static size_t charref_value(uint32_t v, uint32_t *out) {
    if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        v = 0xFFFD;
    else if (v >= 0x80 && v <= 0x9F)
        v = CP1252_80[v - 0x80];
    else if (v != 0xD && (v <= 0x8 || v == 0xB || (v >= 0xE && v <= 0x1F) || v == 0x7F ||
                          (v >= 0xFDD0 && v <= 0xFDEF) || (v & 0xFFFE) == 0xFFFE))
        return 0;
    *out = v;
    return 1;
}

int mill_pystr_digit(uint32_t c, bool hex) {
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (hex && ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
        return (int)((c | 0x20) - 'a' + 10);
    return -1;
}

/* s (just after '&') starts with '#': #[0-9]+;? or #[xX][0-9a-fA-F]+;?. Appends the
 * replacement to out at *o; returns the code points matched after '&' (0: no reference). */
static size_t numeric_ref(const uint32_t *s, size_t n, uint32_t *out, size_t *o) {
    bool hex = n > 1 && (s[1] == 'x' || s[1] == 'X');
    size_t i = hex ? 2 : 1, start = i;
    uint32_t v = 0;
    for (int d; i < n && (d = mill_pystr_digit(s[i], hex)) >= 0; i++)
        v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + (uint32_t)d;
    if (i == start)
        return 0;
    if (i < n && s[i] == ';')
        i++;
    *o += charref_value(v, out + *o);
    return i;
}

static bool name_char(uint32_t c) {
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
           c != ';';
}

/* [^\t\n\f <&#;]{1,32};? at s (just after '&'): the whole name, else its longest legacy prefix
 * of two or more characters followed by the rest. Returns as numeric_ref does. */
static size_t named_ref(const uint32_t *s, size_t n, uint32_t *out, size_t *o) {
    char key[NAME_MAX_CPS];
    size_t len = 0;
    for (; len < n && len < NAME_MAX_CPS && name_char(s[len]); len++)
        key[len] = s[len] < 0x80 ? (char)s[len] : '\x01';
    if (len == 0)
        return 0;
    size_t total = len + (len < n && s[len] == ';');
    const struct entity *e = entity_find(key, len, total == len);
    if (e) {
        put_entity(e, out, o);
        return total;
    }
    for (size_t x = total - 1; x >= 2; x--) {
        if (!(e = entity_find(key, x, true)))
            continue;
        put_entity(e, out, o);
        for (size_t i = x; i < total; i++)
            out[(*o)++] = s[i];
        return total;
    }
    return 0;
}

size_t mill_pystr_html_unescape(const uint32_t *in, size_t n, uint32_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        if (in[i] == '&' && i + 1 < n)
            used = in[i + 1] == '#' ? numeric_ref(in + i + 1, n - i - 1, out, &o)
                                    : named_ref(in + i + 1, n - i - 1, out, &o);
        if (used)
            i += 1 + used;
        else
            out[o++] = in[i++];
    }
    return o;
}

int mill_pystr_html5_entity(const char *name, size_t n, uint32_t cps[2]) {
    const struct entity *e = n < NAME_MAX_CPS ? entity_find(name, n, false) : NULL;
    if (!e)
        return 0;
    cps[0] = e->cp, cps[1] = e->cp2;
    return e->cp2 ? 2 : 1;
}
