/* test_ftfy.c: src/model/clip/ftfy.c against ftfy 6.3.1's own fix_text outputs in
 * tests/data/ftfy/cases.jsonl (tools/gen_ftfy_tables.py --cases: ftfy's test cases, mojibake
 * made by reading UTF-8 as each of its ten encodings once and twice, and hand-made strings for
 * every step), byte for byte; fixing a fixed text changes nothing; a text of many lines is fixed
 * line by line, with HTML unescaping off from the first line holding '<'. Fails, never skips,
 * without the data file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mill/value.h>

#include "model/clip/ftfy.h"
#include "mtest.h"

static struct mill_ftfy *F;

/* fix_text(text) == want; prints the case when not. */
static int check_fix(const char *text, size_t n, const char *want, size_t want_n, int line) {
    char *got = NULL;
    size_t got_n = 0;
    struct mill_err err = {0};
    int rc = mill_ftfy_fix_text(F, text, n, &got, &got_n, &err);
    int ok = rc == 0 && got_n == want_n && memcmp(got, want, want_n) == 0 && got[got_n] == 0;
    if (!ok)
        fprintf(stderr, "case line %d: '%.*s' -> '%.*s', ftfy gives '%.*s'\n", line, (int)n, text,
                (int)(got ? got_n : 0), got ? got : "", (int)want_n, want);
    free(got);
    return ok;
}

static void test_cases(void) {
    char path[1024];
    mtest_source_path(path, sizeof path, "tests/data/ftfy/cases.jsonl");
    size_t len = 0;
    char *all = mtest_read_file(path, &len);
    CHECK(all != NULL);
    if (!all)
        return;
    int cases = 0, changed = 0, bad = 0, line = 0;
    for (char *p = all, *end = all + len; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct mill_value v;
        struct mill_err err = {0};
        CHECK(mill_value_from_json(&v, p, n, &err) == 0);
        const struct mill_value *t = mill_value_get(&v, "text"), *w = mill_value_get(&v, "fixed");
        CHECK(t && w && t->kind == MILL_V_STR && w->kind == MILL_V_STR);
        if (t && w) {
            cases++;
            changed += t->u.s.n != w->u.s.n || memcmp(t->u.s.p, w->u.s.p, t->u.s.n) != 0;
            bad += !check_fix(t->u.s.p, t->u.s.n, w->u.s.p, w->u.s.n, line + 1);
            bad += !check_fix(w->u.s.p, w->u.s.n, w->u.s.p, w->u.s.n, line + 1);
        }
        mill_value_free(&v);
        p += n + 1;
    }
    free(all);
    fprintf(stderr, "%d cases, %d changed by ftfy, %d mismatches\n", cases, changed, bad);
    CHECK(cases >= 700 && changed >= 450);
    CHECK_INT(bad, 0);
}

static void test_lines(void) {
    /* Each line on its own: "&amp;" unescaped until a line holds '<', then never again. */
    const char *in = "a &amp; b\nc \xe2\x80\x9c&amp;\xe2\x80\x9d\nd < e &amp;\nf &amp;";
    const char *want = "a & b\nc \"&\"\nd < e &amp;\nf &amp;";
    CHECK(check_fix(in, strlen(in), want, strlen(want), 0));
    CHECK(check_fix("", 0, "", 0, 0));
    /* NUL bytes are text: removed as control characters, the rest kept. */
    CHECK(check_fix("x\0y", 3, "xy", 2, 0));
}

static void setup(void) {
    struct mill_err err = {0};
    CHECK(mill_ftfy_new(&F, &err) == 0);
}

static void teardown(void) { mill_ftfy_free(F); }

MTEST_MAIN(MTEST(setup), MTEST(test_cases), MTEST(test_lines), MTEST(teardown))
