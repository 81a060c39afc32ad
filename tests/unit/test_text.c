/* test_text.c: core/text.c's Python-compatible helpers where prompts and tokenisation depend on
 * them: str.strip() and str.rstrip() over Unicode whitespace (ASCII, U+0085, U+00A0, U+3000,
 * the U+2000 block), invalid UTF-8 never taken for a space, code-point counts. The expected
 * values are what CPython's str methods give (written out by hand here). Pure: no files. */
#include "core/text.h"

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
        {"x\xFF ", 2}, /* an invalid byte is kept */
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
}

static void test_utf8_len(void) {
    CHECK_INT(mill_utf8_len(""), 0);
    CHECK_INT(mill_utf8_len("abc"), 3);
    CHECK_INT(mill_utf8_len("caf\xC3\xA9"), 4);
    CHECK_INT(mill_utf8_len("\xF0\x9F\x98\x80x"), 2);
    CHECK_INT(mill_utf8_len("\xFF\xFE"), 2); /* invalid bytes count one each */
}

MTEST_MAIN(MTEST(test_rstrip_len), MTEST(test_strip), MTEST(test_utf8_len))
