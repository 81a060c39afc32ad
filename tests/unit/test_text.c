/* test_text.c: core/text.c's Python-compatible helpers where prompts and tokenisation depend on
 * them: str.strip() and str.rstrip() over Unicode whitespace (ASCII, U+0085, U+00A0, U+3000,
 * the U+2000 block), invalid UTF-8 never taken for a space, code-point counts; and a
 * generation's text as Python Mill has it: cut at the earliest stop string, decoded with
 * errors="replace", NUL bytes kept (mill_request_set_text). The expected values are what
 * CPython gives (written out by hand here). Pure: no files. */
#include "core/text.h"

#include <mill/backend.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtest.h"

static void test_rstrip_len(void) {
    static const struct {
        const char *s;
        size_t want;
    } cases[] = {
        {"", 0},
        {"   \t\n", 0},
        {"abc", 3},
        {"abc \t\r\n\v\f", 3},
        {"a b ", 3},
        {"x\xC2\xA0", 1},                 /* U+00A0 NO-BREAK SPACE */
        {"x\xE3\x80\x80 ", 1},            /* U+3000 IDEOGRAPHIC SPACE */
        {"x\xC2\x85", 1},                 /* U+0085 NEXT LINE */
        {"x\x1c\x1d\x1e\x1f", 1},         /* file/group/record/unit separators */
        {"x\xE2\x80\x8A\xE2\x80\xA8", 1}, /* U+200A HAIR SPACE, U+2028 LINE SEPARATOR */
        {"x\xE2\x80\x8B", 4},             /* U+200B ZERO WIDTH SPACE is not whitespace */
        {"\xC2\xA0\xC2\xA0", 0},
        {"x\xFF ", 2},    /* an invalid byte is kept */
        {"x\xC0\xA0", 3}, /* an overlong space is no space: Python decodes it as U+FFFD */
        {"x\xE0\x82\x85", 4},
        {"caf\xC3\xA9  ", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = mill_py_rstrip_len(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].want)
            fprintf(stderr, "case %zu\n", i);
        CHECK_INT(got, cases[i].want);
    }
}

static void test_strip(void) {
    char *s = mill_py_strip("\xE3\x80\x80 a b\xC2\xA0\n");
    CHECK_STR(s, "a b");
    free(s);
    s = mill_py_strip(" \t ");
    CHECK_STR(s, "");
    free(s);
    s = mill_py_strip("\xC0\xA0"
                      "a\xF0\x82\x80\x80 "); /* overlong spaces are kept */
    CHECK_STR(s, "\xC0\xA0"
                 "a\xF0\x82\x80\x80");
    free(s);
    CHECK_INT(mill_py_space_len("\xC0\xA0", 2), 0);
    CHECK_INT(mill_py_space_len("\xC2\xA0", 2), 2);
}

/* Terminal cells as rich's cell_len counts them (checked against it by hand). */
static void test_text_width(void) {
    CHECK_INT(mill_text_width("abc"), 3);
    CHECK_INT(mill_text_width("\xe9\x80\x9a\xe4\xb9\x89\xe5\x8d\x83\xe9\x97\xae"),
              8);                                       /* 通义千问 */
    CHECK_INT(mill_text_width("e\xcc\x81"), 1);         /* e + U+0301 */
    CHECK_INT(mill_text_width("\xf0\x9f\x98\x80x"), 3); /* emoji, x */
    CHECK_INT(mill_text_width("\xe2\x80\x8b"), 0);      /* U+200B */
    CHECK_INT(mill_text_width("a\xff"), 2);             /* an ill-formed byte: one cell */
}

static void test_utf8_len(void) {
    CHECK_INT(mill_utf8_len(""), 0);
    CHECK_INT(mill_utf8_len("abc"), 3);
    CHECK_INT(mill_utf8_len("caf\xC3\xA9"), 4);
    CHECK_INT(mill_utf8_len("\xF0\x9F\x98\x80x"), 2);
    CHECK_INT(mill_utf8_len("\xFF\xFE"), 2); /* invalid bytes count one each */
}

/* bytes.decode("utf-8", "replace"), as CPython 3.11 gives it. */
static void test_utf8_repair(void) {
#define R(in, out) \
    { in, sizeof(in) - 1, out, sizeof(out) - 1 }
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        size_t want_n;
    } cases[] = {
        R("", ""),
        R("caf\xc3\xa9", "caf\xc3\xa9"),
        R("a\0b", "a\0b"),
        R("\xff", "\xef\xbf\xbd"),
        R("\xe2\x82", "\xef\xbf\xbd"), /* a truncated sequence: one U+FFFD */
        R("\xe2\x82"
          "A",
          "\xef\xbf\xbd"
          "A"),
        R("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* a surrogate */
        R("\xf0\x9f\x98x", "\xef\xbf\xbdx"),
        R("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"), /* overlong */
        R("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
        R("\xe2\x82\xac\x80", "\xe2\x82\xac\xef\xbf\xbd"),
    };
#undef R
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 99;
        char *got = mill_utf8_repair(cases[i].in, cases[i].n, &n);
        CHECK(got != NULL);
        CHECK_INT(n, cases[i].want_n);
        CHECK(got && n == cases[i].want_n && !memcmp(got, cases[i].want, n) && got[n] == 0);
        free(got);
    }
}

/* Python Mill's _truncate_at_stop, restated: each stop in turn cuts the text left so far. */
static size_t py_truncate(const char *t, size_t n, const char *const *stop) {
    for (; *stop; stop++) {
        size_t k = strlen(*stop), i = 0;
        while (i + k <= n && memcmp(t + i, *stop, k))
            i++;
        if (i + k <= n)
            n = i;
    }
    return n;
}

static void test_stop_cut(void) {
    static const char *const stops[] = {"\n\n", "Q:", NULL};
    CHECK_INT(mill_stop_cut("abc", 3, stops), 3);
    CHECK_INT(mill_stop_cut("abc", 3, NULL), 3);
    CHECK_INT(mill_stop_cut("a Q: b\n\nc", 9, stops), 2); /* values from CPython */
    CHECK_INT(mill_stop_cut("a\n\nQ:", 5, stops), 1);
    CHECK_INT(mill_stop_cut("a\0Q:", 4, stops), 2); /* past a NUL */
    CHECK_INT(mill_stop_cut("aQ", 2, stops), 2);    /* a stop cut short at the end: none */
    CHECK_INT(mill_stop_cut("Q:", 2, stops), 0);
    /* a later stop must lie wholly before the cut: "ans\n", not "ans" */
    static const char *const over[] = {"Q:", "\nQ:", NULL};
    CHECK_INT(mill_stop_cut("ans\nQ:", 6, over), 4);
    static const char *const xyz[] = {"xyz", "y", NULL};
    CHECK_INT(mill_stop_cut("..xyz", 5, xyz), 2);
    static const char *const empty[] = {"\n\n", "Q:", "", NULL}; /* "".find: 0, all cut */
    CHECK_INT(mill_stop_cut("abc", 3, empty), 0);
    static const char *const late[] = {"Q:", "\n\nQ", NULL};
    CHECK_INT(mill_stop_cut("b\n\nQ: c", 8, late), 3);
}

/* mill_stop_decided on every prefix of many texts: where it says decided, the cut it gives is
 * Python's cut of the whole text (whatever follows); at the end of a text whose Python cut
 * is short of it, some prefix was decided (a generation stops early, as it should). */
static void test_stop_decided(void) {
    static const char alpha[] = "ab\nQ:";
    static const char *const pool[] = {"\n\n", "Q:", "\nQ:", "ab", "b\n", "a", ":Q", "aQ:a", ""};
    uint32_t x = 12345;
    size_t n_decided = 0, n_cases = 0;
    for (int c = 0; c < 20000; c++) {
        char t[24];
        x = x * 1664525u + 1013904223u;
        size_t n = 1 + (x >> 8) % 20;
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            t[i] = alpha[(x >> 16) % 5];
        }
        const char *stop[5];
        x = x * 1664525u + 1013904223u;
        size_t ns = 1 + (x >> 8) % 4;
        for (size_t i = 0; i < ns; i++) {
            x = x * 1664525u + 1013904223u;
            stop[i] = pool[(x >> 16) % (c % 50 ? 8 : 9)]; /* the empty stop now and then */
        }
        stop[ns] = NULL;
        size_t want = py_truncate(t, n, stop), cut = 0;
        CHECK_INT(mill_stop_cut(t, n, stop), want);
        for (size_t p = 0; p <= n; p++)
            if (mill_stop_decided(t, p, stop, &cut)) {
                CHECK_INT(cut, want);
                n_decided++;
                break;
            }
        n_cases += want < n;
    }
    CHECK(n_decided > 5000 && n_cases > 5000);
    /* the usual case stops as soon as the stop is complete */
    static const char *const usual[] = {"\n\n", "Q:", NULL};
    size_t cut = 0;
    CHECK(!mill_stop_decided("A: 4\n", 5, usual, &cut));
    CHECK(mill_stop_decided("A: 4\n\n", 6, usual, &cut) && cut == 4);
    CHECK(!mill_stop_decided("A: 4\n\n", 6, NULL, &cut));
    /* "Q:" found, but "\nQ:" before it in the list may still begin at the trailing "\n" */
    static const char *const first[] = {"\nQ:", "Q:", NULL};
    CHECK(!mill_stop_decided("Q: a\n", 5, first, &cut));
    CHECK(mill_stop_decided("Q: a\nb", 6, first, &cut) && cut == 0);
    /* a stop holding U+FFFD may match once invalid bytes are replaced: not decided on bytes */
    static const char *const repl[] = {"\xef\xbf\xbdQ", "Q:", NULL};
    CHECK(!mill_stop_decided("x\xffQ: b", 7, repl, &cut));
}

static void test_request_set_text(void) {
    static const char *const stops[] = {"STOP", NULL};
    struct mill_request q = {.kind = MILL_REQ_GENERATE, .stop = stops};
    CHECK_INT(mill_request_set_text(&q,
                                    "ab\xff"
                                    "c\0dSTOPx\xff",
                                    11),
              0);
    CHECK_INT(q.text_len, 8);
    CHECK(q.text && !memcmp(q.text,
                            "ab\xef\xbf\xbd"
                            "c\0d",
                            9));
    CHECK_INT(mill_request_set_text(&q, "\xe2\x82STOP", 6), 0); /* cut, then decoded */
    CHECK_INT(q.text_len, 3);
    CHECK(q.text && !strcmp(q.text, "\xef\xbf\xbd"));
    static const char *const repl[] = {"\xef\xbf\xbdX", NULL}; /* cut after the repair */
    q.stop = repl;
    CHECK_INT(mill_request_set_text(&q, "a\xffXb", 4), 0);
    CHECK(q.text_len == 1 && !strcmp(q.text, "a"));
    mill_request_clear_output(&q);
    CHECK(q.text == NULL && q.text_len == 0);
}

MTEST_MAIN(MTEST(test_rstrip_len), MTEST(test_strip), MTEST(test_utf8_len), MTEST(test_text_width),
           MTEST(test_utf8_repair), MTEST(test_stop_cut), MTEST(test_stop_decided),
           MTEST(test_request_set_text))
