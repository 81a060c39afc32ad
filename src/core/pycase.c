/* pycase.c: Python's str case mapping on UTF-8 (contract in pycase.h): CPython's do_upper,
 * do_lower, do_title and do_capitalize over its full mappings (pycase_tables.h), with
 * handle_capital_sigma's Final_Sigma context for U+03A3 in lower. */
#include "core/pycase.h"

#include "core/text.h"

#include <mill/mill.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct case_map {
    uint32_t cp, to[3];
};
struct case_range {
    uint32_t lo, hi;
};

#include "core/pycase_tables.h"

#define RAW 0x110000u /* RAW + b: an ill-formed byte b, kept as it is */
#define SIGMA 0x3A3u

static const struct case_map *find_map(const struct case_map *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].cp == cp)
            return &t[mid];
        if (t[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool in_ranges(const struct case_range *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < t[mid].lo)
            hi = mid;
        else if (cp > t[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define N(t) (sizeof t / sizeof t[0])

static bool cased(uint32_t c) { return c < RAW && in_ranges(CASED, N(CASED), c); }
static bool ignorable(uint32_t c) {
    return c < RAW && in_ranges(CASE_IGNORABLE, N(CASE_IGNORABLE), c);
}

/* CPython's handle_capital_sigma: final (U+03C2) when a cased character comes before it, past
 * case-ignorable ones, and none after it, likewise. */
static uint32_t sigma(const uint32_t *cps, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && ignorable(cps[j - 1]))
        j--;
    if (j == 0 || !cased(cps[j - 1]))
        return 0x3C3;
    for (j = i + 1; j < n && ignorable(cps[j]); j++)
        ;
    return j == n || !cased(cps[j]) ? 0x3C2 : 0x3C3;
}

static int put_cp(struct mill_buf *out, uint32_t c) {
    char u[4];
    if (c >= RAW)
        return mill_buf_addc(out, (char)(c - RAW));
    return mill_buf_add(out, u, mill_utf8_encode(c, u));
}

/* Appends cps[i] mapped: mode 'u' upper, 'l' lower (with U+03A3's context), 't' title case
 * (TITLE where it differs from upper case, else UPPER). */
static int put_mapped(struct mill_buf *out, const uint32_t *cps, size_t n, size_t i, char mode) {
    uint32_t c = cps[i];
    if (mode == 'l' && c == SIGMA)
        return put_cp(out, sigma(cps, n, i));
    const struct case_map *m = NULL;
    if (c < RAW && mode == 't')
        m = find_map(TITLE, N(TITLE), c);
    if (c < RAW && !m)
        m = mode == 'l' ? find_map(LOWER, N(LOWER), c) : find_map(UPPER, N(UPPER), c);
    if (!m)
        return put_cp(out, c);
    int rc = 0;
    for (int k = 0; k < 3 && m->to[k] && !rc; k++)
        rc = put_cp(out, m->to[k]);
    return rc;
}

int mill_py_recase(const char *s, size_t n, enum mill_pycase mode, struct mill_buf *out) {
    uint32_t *cps = malloc((n ? n : 1) * sizeof *cps);
    if (!cps)
        return MILL_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *p = (const unsigned char *)s + i;
        size_t k = mill_utf8_next_valid(p, n - i, &cps[m]);
        if (!k)
            cps[m] = RAW + p[0];
        m++;
        i += k ? k : 1;
    }
    int rc = 0;
    bool prev_cased = false;
    for (size_t i = 0; i < m && !rc; i++) {
        bool title = (mode == MILL_PYCASE_TITLE && !prev_cased) ||
                     (mode == MILL_PYCASE_CAPITALIZE && i == 0);
        rc = put_mapped(out, cps, m, i, mode == MILL_PYCASE_UPPER ? 'u' : title ? 't' : 'l');
        prev_cased = cased(cps[i]);
    }
    free(cps);
    return rc ? MILL_ENOMEM : 0;
}
