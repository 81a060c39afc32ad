/* ftfy.c: ftfy.fix_text() of ftfy.h, step for step as ftfy 6.3's fix_text, fix_and_explain and
 * fix_encoding_and_explain run them with the default TextFixerConfig: the text in segments of a
 * line (at most 10^6 code points), each fixed until a round changes nothing; HTML unescaping
 * off for the rest of the text from the first segment holding '<'. tests/unit/test_ftfy.c checks
 * it against ftfy's own outputs (tests/data/ftfy/cases.jsonl).
 * Where it can differ, by construction: fix_surrogates has nothing to do (UTF-8 holds no
 * surrogates); NFC is libutf8proc's (Unicode 15; Python 3.11's is 14). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/clip/ftfy.h"

#include "model/clip/pystr.h"

#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "model/clip/ftfy_tables.h"

#define MAX_DECODE_LENGTH 1000000 /* TextFixerConfig.max_decode_length, in code points */
#define ENC_SLOPPY_1252 1         /* FTFY_ENC_NAME's order, checked in mill_ftfy_new */
#define ENC_MACROMAN 8
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct enc_inv {
    uint32_t cp;
    uint8_t byte;
};

struct mill_ftfy {
    pcre2_code *badness, *detector, *ansi; /* on text (UTF) */
    pcre2_code *altered, *lossy, *a_grave; /* on bytes */
    struct enc_inv inv[FTFY_N_ENC][256];   /* each encoding's code points, sorted */
};

/* ---- growing byte strings (an allocation failure is remembered, checked at the end) ------ */

struct sb {
    char *p;
    size_t n, cap;
    bool oom;
};

static void sb_add(struct sb *b, const void *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_cp(struct sb *b, uint32_t cp) {
    char u[4];
    sb_add(b, u, mill_pystr_encode_cp(cp, u));
}

static void sb_str(struct sb *b, const char *s) { sb_add(b, s, strlen(s)); }

/* b's text becomes next's (which is emptied); an allocation failure carries over. */
static void sb_take(struct sb *b, struct sb *next) {
    bool oom = b->oom || next->oom;
    free(b->p);
    *b = *next;
    b->oom = oom;
    *next = (struct sb){0};
}

/* b's bytes, "" when it holds none yet. */
static const char *sb_text(const struct sb *b) { return b->p ? b->p : ""; }

static bool sb_eq(const struct sb *a, const char *s, size_t n) {
    return a->n == n && (n == 0 || memcmp(a->p, s, n) == 0);
}

/* The next code point of valid UTF-8 s[*i..n); advances *i. */
static uint32_t next_cp(const char *s, size_t n, size_t *i) {
    uint32_t cp;
    *i += mill_pystr_decode_cp((const unsigned char *)s + *i, n - *i, &cp);
    return cp;
}

static size_t count_cps(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- regular expressions ----------------------------------------------------------------- */

typedef void sub_fn(const struct mill_ftfy *f, const char *m, size_t mn, void *ctx, struct sb *out);

/* Whether re matches in s[0..n). */
static bool rx_search(const pcre2_code *re, const char *s, size_t n) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, md, NULL) : -1;
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* re.sub(re, fn, s[0..n)) into out: each match, left to right without overlap, is replaced by
 * what fn appends. None of ftfy's patterns matches the empty string. */
static void rx_sub(const struct mill_ftfy *f, const pcre2_code *re, const char *s, size_t n,
                   sub_fn *fn, void *ctx, struct sb *out) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) {
        out->oom = true;
        return;
    }
    size_t pos = 0;
    while (pos < n && pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0])
            break;
        sb_add(out, s + pos, ov[0] - pos);
        fn(f, s + ov[0], ov[1] - ov[0], ctx, out);
        pos = ov[1];
    }
    sb_add(out, s + pos, n - pos);
    pcre2_match_data_free(md);
}

static void sub_nothing(const struct mill_ftfy *f, const char *m, size_t mn, void *ctx,
                        struct sb *out) {
    (void)f, (void)m, (void)mn, (void)ctx, (void)out;
}

static void sub_string(const struct mill_ftfy *f, const char *m, size_t mn, void *ctx,
                       struct sb *out) {
    (void)f, (void)m, (void)mn;
    sb_str(out, ctx);
}

/* ALTERED_UTF8_RE's replacement: its spaces become byte A0. */
static void sub_space_a0(const struct mill_ftfy *f, const char *m, size_t mn, void *ctx,
                         struct sb *out) {
    (void)f, (void)ctx;
    for (size_t i = 0; i < mn; i++)
        sb_add(out, m[i] == ' ' ? "\xa0" : &m[i], 1);
}

static bool is_bad(const struct mill_ftfy *f, const char *s, size_t n) {
    return rx_search(f->badness, s, n);
}

/* ---- single-byte encodings --------------------------------------------------------------- */

static int cmp_inv(const void *a, const void *b) {
    uint32_t x = ((const struct enc_inv *)a)->cp, y = ((const struct enc_inv *)b)->cp;
    return (x > y) - (x < y);
}

static const struct enc_inv *enc_find(const struct mill_ftfy *f, int e, uint32_t cp) {
    const struct enc_inv key = {cp, 0};
    return bsearch(&key, f->inv[e], 256, sizeof f->inv[e][0], cmp_inv);
}

/* chardata.possible_encoding: every character is one the encoding can write. */
static bool possible(const struct mill_ftfy *f, int e, const char *s, size_t n) {
    for (size_t i = 0; i < n;)
        if (!enc_find(f, e, next_cp(s, n, &i)))
            return false;
    return true;
}

static void encode(const struct mill_ftfy *f, int e, const char *s, size_t n, struct sb *out) {
    for (size_t i = 0; i < n;) {
        uint8_t b = enc_find(f, e, next_cp(s, n, &i))->byte;
        sb_add(out, &b, 1);
    }
}

static bool is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* bytes.decode("utf-8-variants"): strict UTF-8, plus CESU-8 surrogate pairs and Java's C0 80
 * for U+0000. False where Python raises UnicodeDecodeError. Its regular expressions' '$' also
 * matches before a final "\n", so a C0 or a CESU-8 pair's last byte may be that newline, which
 * the sequence then takes (C0 "\n" is U+0000). */
static bool decode_variants(const unsigned char *b, size_t n, struct sb *out) {
    for (size_t i = 0; i < n;) {
        bool final_nl = i + 2 == n && b[i + 1] == '\n';
        if (b[i] == 0xC0 && i + 1 < n && (b[i + 1] == 0x80 || final_nl)) {
            sb_add(out, "", 1);
            i += 2;
        } else if (b[i] == 0xED && i + 5 < n && b[i + 1] >= 0xA0 && b[i + 1] <= 0xAF &&
                   (b[i + 2] & 0xC0) == 0x80 && b[i + 3] == 0xED && b[i + 4] >= 0xB0 &&
                   b[i + 4] <= 0xBF &&
                   ((b[i + 5] & 0xC0) == 0x80 || (i + 6 == n && b[i + 5] == '\n'))) {
            sb_cp(out, ((uint32_t)(b[i + 1] & 0x0F) << 16) + ((uint32_t)(b[i + 2] & 0x3F) << 10) +
                           ((uint32_t)(b[i + 4] & 0x0F) << 6) + (b[i + 5] & 0x3F) + 0x10000);
            i += 6;
        } else {
            uint32_t cp;
            size_t k = mill_pystr_decode_cp(b + i, n - i, &cp);
            if (cp == 0xFFFD && !(k == 3 && memcmp(b + i, "\xEF\xBF\xBD", 3) == 0))
                return false;
            sb_add(out, b + i, k);
            i += k;
        }
    }
    return true;
}

/* ---- the per-character fixes ------------------------------------------------------------- */

typedef void map_fn(uint32_t cp, struct sb *out);

static void map_all(const char *s, size_t n, map_fn *fn, struct sb *out) {
    for (size_t i = 0; i < n;)
        fn(next_cp(s, n, &i), out);
}

static int cmp_map(const void *a, const void *b) {
    uint32_t x = ((const struct ftfy_map *)a)->cp, y = ((const struct ftfy_map *)b)->cp;
    return (x > y) - (x < y);
}

static const char *map_find(const struct ftfy_map *m, size_t n, uint32_t cp) {
    const struct ftfy_map key = {cp, NULL};
    const struct ftfy_map *hit = bsearch(&key, m, n, sizeof *m, cmp_map);
    return hit ? hit->to : NULL;
}

/* fix_c1_controls: U+0080..U+009F as sloppy Windows-1252 reads those bytes. */
static void map_c1(uint32_t cp, struct sb *out) {
    sb_cp(out, cp >= 0x80 && cp <= 0x9F ? FTFY_ENC[ENC_SLOPPY_1252][cp] : cp);
}

static void map_ligature(uint32_t cp, struct sb *out) {
    const char *to = map_find(FTFY_LIGATURES, NELEM(FTFY_LIGATURES), cp);
    to ? sb_str(out, to) : sb_cp(out, cp);
}

static void map_width(uint32_t cp, struct sb *out) {
    const char *to = map_find(FTFY_WIDTH, NELEM(FTFY_WIDTH), cp);
    to ? sb_str(out, to) : sb_cp(out, cp);
}

static void map_quotes(uint32_t cp, struct sb *out) {
    if (cp >= 0x201C && cp <= 0x201F)
        cp = '"';
    else if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B))
        cp = '\'';
    sb_cp(out, cp);
}

/* remove_control_chars' CONTROL_CHARS. */
static void map_control(uint32_t cp, struct sb *out) {
    if (cp <= 0x08 || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
        (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC))
        return;
    sb_cp(out, cp);
}

/* fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become "\n". */
static void fix_line_breaks(const char *s, size_t n, struct sb *out) {
    for (size_t i = 0; i < n;) {
        uint32_t cp = next_cp(s, n, &i);
        if (cp == '\r' && i < n && s[i] == '\n')
            i++;
        sb_cp(out, cp == '\r' || cp == 0x2028 || cp == 0x2029 || cp == 0x85 ? '\n' : cp);
    }
}

struct name_key {
    const char *name;
    size_t len;
};

/* A name (not NUL-terminated) against an entity's, in strcmp order. */
static int cmp_entity(const void *k, const void *e) {
    const struct name_key *key = k;
    const char *name = ((const struct ftfy_entity *)e)->name;
    int c = strncmp(key->name, name, key->len);
    return c ? c : name[key->len] ? -1 : 0;
}

/* unescape_html: &#?[0-9A-Za-z]{1,24}; as an HTML5 entity (or its upper-case form for the
 * names ftfy allows), or a numeric reference html.unescape decodes whole; else kept. */
static void put_reference(const char *s, size_t n, struct sb *out) {
    uint32_t cps[2];
    const char *name = s + 1;
    size_t len = n - 2;
    int k = mill_pystr_html5_entity(name, len, cps);
    if (k) {
        for (int i = 0; i < k; i++)
            sb_cp(out, cps[i]);
        return;
    }
    const struct name_key key = {name, len};
    const struct ftfy_entity *upper = bsearch(&key, FTFY_UPPER_ENTITIES, NELEM(FTFY_UPPER_ENTITIES),
                                              sizeof FTFY_UPPER_ENTITIES[0], cmp_entity);
    if (upper) {
        sb_str(out, upper->to);
        return;
    }
    if (s[1] == '#') {
        uint32_t in[32], un[32];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)s[i];
        size_t m = mill_pystr_html_unescape(in, n, un);
        bool semicolon = false;
        for (size_t i = 0; i < m; i++)
            semicolon |= un[i] == ';';
        if (!semicolon) {
            for (size_t i = 0; i < m; i++)
                sb_cp(out, un[i]);
            return;
        }
    }
    sb_add(out, s, n);
}

static bool ascii_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void unescape_html(const char *s, size_t n, struct sb *out) {
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&')
            continue;
        size_t j = i + 1 + (i + 1 < n && s[i + 1] == '#'), k = j;
        while (k < n && k - j < 25 && ascii_alnum(s[k]))
            k++;
        if (k == j || k - j > 24 || k >= n || s[k] != ';')
            continue;
        sb_add(out, s + done, i - done);
        put_reference(s + i, k + 1 - i, out);
        done = k + 1;
        i = k;
    }
    sb_add(out, s + done, n - done);
}

/* ---- fix_encoding ------------------------------------------------------------------------ */

static void fix_encoding(const struct mill_ftfy *f, const char *s, size_t n, struct sb *out);

/* One of the single-byte encodings: text encoded in it, its A0 bytes restored, its lossy
 * sequences replaced, decoded as UTF-8. False when that decoding fails. */
static bool try_encoding(const struct mill_ftfy *f, int e, const char *s, size_t n,
                         struct sb *out) {
    struct sb b = {0}, t = {0};
    encode(f, e, s, n, &b);
    if (e != ENC_MACROMAN && rx_search(f->altered, b.p, b.n)) {
        rx_sub(f, f->a_grave, b.p, b.n, sub_string, "\xc3\xa0 ", &t);
        sb_take(&b, &t);
        rx_sub(f, f->altered, b.p, b.n, sub_space_a0, NULL, &t);
        sb_take(&b, &t);
    }
    if (!strncmp(FTFY_ENC_NAME[e], "sloppy", 6)) {
        rx_sub(f, f->lossy, b.p, b.n, sub_string, "\xef\xbf\xbd", &t);
        sb_take(&b, &t);
    }
    bool ok = !b.oom && decode_variants((const unsigned char *)b.p, b.n, &t);
    if (ok || b.oom || t.oom)
        sb_take(out, &t);
    out->oom |= b.oom;
    free(b.p);
    free(t.p);
    return ok || out->oom;
}

struct whole {
    size_t cps; /* the code points of the text the matches are in */
};

/* decode_inconsistent_utf8's fix_embedded_mojibake. */
static void sub_embedded(const struct mill_ftfy *f, const char *m, size_t mn, void *ctx,
                         struct sb *out) {
    if (count_cps(m, mn) < ((struct whole *)ctx)->cps && is_bad(f, m, mn)) {
        struct sb t = {0};
        fix_encoding(f, m, mn, &t);
        sb_add(out, sb_text(&t), t.n);
        out->oom |= t.oom;
        free(t.p);
    } else {
        sb_add(out, m, mn);
    }
}

/* _fix_encoding_one_step_and_explain's text into out. */
static void fix_encoding_step(const struct mill_ftfy *f, const char *s, size_t n, struct sb *out) {
    if (n == 0 || is_ascii(s, n) || !is_bad(f, s, n)) {
        sb_add(out, s, n);
        return;
    }
    for (int e = 0; e < FTFY_N_ENC; e++)
        if (possible(f, e, s, n) && try_encoding(f, e, s, n, out))
            return;
    if (rx_search(f->detector, s, n)) {
        struct whole w = {count_cps(s, n)};
        struct sb t = {0};
        rx_sub(f, f->detector, s, n, sub_embedded, &w, &t);
        if (t.oom || !sb_eq(&t, s, n)) {
            sb_take(out, &t);
            return;
        }
        free(t.p);
    }
    /* ftfy's next step reads Latin-1 text as strict Windows-1252 where that changes it (its
     * check for "windows-1252" among the possible encodings never holds: the list names
     * "sloppy-windows-1252"), then fix_c1_controls reads the C1 characters left as sloppy
     * Windows-1252: both come to map_c1 (the two agree on every byte strict decoding takes),
     * and without C1 characters the text stays as it is. */
    map_all(s, n, map_c1, out);
}

/* fix_encoding: steps until one changes nothing. */
static void fix_encoding(const struct mill_ftfy *f, const char *s, size_t n, struct sb *out) {
    struct sb cur = {0}, next = {0};
    sb_add(&cur, s, n);
    while (!cur.oom) {
        fix_encoding_step(f, sb_text(&cur), cur.n, &next);
        bool same = sb_eq(&next, cur.p, cur.n);
        sb_take(&cur, &next);
        if (same)
            break;
    }
    sb_add(out, sb_text(&cur), cur.n);
    out->oom |= cur.oom;
    free(cur.p);
}

/* ---- fix_text ---------------------------------------------------------------------------- */

static void nfc(const char *s, size_t n, struct sb *out) {
    utf8proc_uint8_t *d = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &d,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0)
        out->oom = true; /* only UTF8PROC_ERROR_NOMEM: the text is valid UTF-8 */
    else
        sb_add(out, d, (size_t)m);
    free(d);
}

/* fix_and_explain: one segment, fixed until a round changes nothing. */
static void fix_segment(const struct mill_ftfy *f, const char *s, size_t n, bool unescape,
                        struct sb *out) {
    static map_fn *const MAPS[] = {map_c1, map_ligature, map_width, map_quotes};
    struct sb cur = {0}, next = {0};
    sb_add(&cur, s, n);
    for (bool same = false; !same && !cur.oom;) {
        struct sb orig = {0};
        sb_add(&orig, sb_text(&cur), cur.n);
        if (unescape) {
            unescape_html(sb_text(&cur), cur.n, &next);
            sb_take(&cur, &next);
        }
        fix_encoding(f, sb_text(&cur), cur.n, &next);
        sb_take(&cur, &next);
        for (size_t i = 0; i < NELEM(MAPS); i++) {
            map_all(sb_text(&cur), cur.n, MAPS[i], &next);
            sb_take(&cur, &next);
        }
        fix_line_breaks(sb_text(&cur), cur.n, &next);
        sb_take(&cur, &next);
        rx_sub(f, f->ansi, sb_text(&cur), cur.n, sub_nothing, NULL, &next);
        sb_take(&cur, &next);
        map_all(sb_text(&cur), cur.n, map_control, &next);
        sb_take(&cur, &next);
        nfc(sb_text(&cur), cur.n, &next);
        sb_take(&cur, &next);
        same = sb_eq(&cur, orig.p, orig.n);
        cur.oom |= orig.oom;
        free(orig.p);
    }
    sb_add(out, sb_text(&cur), cur.n);
    out->oom |= cur.oom;
    free(cur.p);
}

int mill_ftfy_fix_text(const struct mill_ftfy *f, const char *text, size_t n, char **out,
                       size_t *out_n, struct mill_err *err) {
    struct sb r = {0};
    bool unescape = true;
    for (size_t pos = 0; pos < n;) {
        size_t end = pos, cps = 0;
        while (end < n && cps < MAX_DECODE_LENGTH) {
            char c = text[end++];
            cps += ((unsigned char)c & 0xC0) != 0x80;
            if (c == '\n')
                break;
        }
        while (end < n && ((unsigned char)text[end] & 0xC0) == 0x80)
            end++;
        if (memchr(text + pos, '<', end - pos))
            unescape = false;
        fix_segment(f, text + pos, end - pos, unescape, &r);
        pos = end;
    }
    sb_add(&r, "", 0);
    if (r.oom) {
        free(r.p);
        return mill_err_set(err, MILL_ENOMEM, "out of memory fixing a text as ftfy does");
    }
    *out = r.p, *out_n = r.n;
    return 0;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static pcre2_code *compile(const char *pattern, bool utf) {
    int code;
    PCRE2_SIZE off;
    return pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, utf ? PCRE2_UTF : 0, &code,
                         &off, NULL);
}

int mill_ftfy_new(struct mill_ftfy **out, struct mill_err *err) {
    struct mill_ftfy *f = calloc(1, sizeof *f);
    if (!f)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    f->badness = compile(FTFY_BADNESS, true);
    f->detector = compile(FTFY_UTF8_DETECTOR, true);
    f->ansi = compile(FTFY_ANSI, true);
    f->altered = compile(FTFY_ALTERED_UTF8, false);
    f->lossy = compile(FTFY_LOSSY_UTF8, false);
    f->a_grave = compile(FTFY_A_GRAVE_WORD, false);
    for (int e = 0; e < FTFY_N_ENC; e++) {
        for (int b = 0; b < 256; b++)
            f->inv[e][b] = (struct enc_inv){FTFY_ENC[e][b], (uint8_t)b};
        qsort(f->inv[e], 256, sizeof f->inv[e][0], cmp_inv);
    }
    if (strcmp(FTFY_VERSION, MILL_FTFY_VERSION) || !f->badness || !f->detector || !f->ansi ||
        !f->altered || !f->lossy || !f->a_grave ||
        strcmp(FTFY_ENC_NAME[ENC_SLOPPY_1252], "sloppy-windows-1252") ||
        strcmp(FTFY_ENC_NAME[ENC_MACROMAN], "macroman")) {
        mill_ftfy_free(f);
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "PCRE2 cannot compile ftfy's patterns (it needs Unicode support)");
    }
    *out = f;
    return 0;
}

void mill_ftfy_free(struct mill_ftfy *f) {
    if (!f)
        return;
    pcre2_code_free(f->badness);
    pcre2_code_free(f->detector);
    pcre2_code_free(f->ansi);
    pcre2_code_free(f->altered);
    pcre2_code_free(f->lossy);
    pcre2_code_free(f->a_grave);
    free(f);
}
