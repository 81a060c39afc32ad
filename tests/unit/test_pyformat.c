/* test_pyformat.c: src/core/pyformat.c against CPython itself. Every value (str, int, float,
 * the awkward ones included: -0.0, inf, nan, 5e-324, INT64_MIN) under every format spec of a
 * table (fill, alignment, sign, "z", "#", "0", width, grouping, precision, each type), and the
 * printf-style conversions their types take, go as JSON lines to
 * tests/reference/pyformat_oracle.py under Debian's /usr/bin/python3. Our text must equal
 * Python's byte for byte, and where Python raises, we must refuse. Fails, never skips, without
 * python3. */
#include "core/pyformat.h"
#include "mtest.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct val {
    char t; /* 's', 'i', 'f' */
    const char *text;
};

static const struct val VALUES[] = {
    {'i', "0"},
    {'i', "1"},
    {'i', "-1"},
    {'i', "42"},
    {'i', "-42"},
    {'i', "255"},
    {'i', "1234567"},
    {'i', "-1234567"},
    {'i', "9007199254740993"},
    {'i', "-9223372036854775808"},
    {'i', "9223372036854775807"},
    {'i', "128512"},
    {'f', "0.0"},
    {'f', "-0.0"},
    {'f', "1.0"},
    {'f', "-1.5"},
    {'f', "0.1"},
    {'f', "2.5"},
    {'f', "0.5"},
    {'f', "100.0"},
    {'f', "1234.5678"},
    {'f', "-0.0001"},
    {'f', "0.00001234"},
    {'f', "1.5e-07"},
    {'f', "123456789.125"},
    {'f', "1e+16"},
    {'f', "1e+300"},
    {'f', "5e-324"},
    {'f', "0.125"},
    {'f', "999.9999"},
    {'f', "inf"},
    {'f', "-inf"},
    {'f', "nan"},
    {'s', ""},
    {'s', "a"},
    {'s', "abc"},
    {'s', "h\xc3\xa9llo"},
    {'s', "\xe6\x97\xa5\xe6\x9c\xac"},
};

static const char *const SPECS[] = {
    "",     "5",      "<5",    ">5",   "^5",    "^6",   "*^7",     "=8",     "+",    " ",
    "-",    "05",     "08",    "+08",  ",",     "_",    "010,",    "08,",    "x",    "X",
    "#x",   "#o",     "#b",    "b",    "o",     "c",    "d",       "n",      "e",    ".2e",
    "E",    "f",      ".0f",   "#.0f", ".3f",   "F",    "g",       ".3g",    "#g",   "G",
    "%",    ".1%",    ".3",    ".10",  "z.1f",  "z",    ".2",      "s",      ".2s",  "10.3",
    "+.2f", "_x",     "_b",    ",x",   ",d",    ",.2f", "=+10.2f", "0=10",   "x<10", "\xc3\xa9^9",
    ".0e",  "#.0e",   "08.3f", "-010", "#010x", "+#x",  "12,.4f",  "010.2%", ".0",   "#",
    ".17g", ".0g",    "#.3g",  "_",    ",_",    "q",    ".",       "10.2s",  "<010", ">+08.2e",
    "=^5",  ".1000f", "z,.3f", "#.0%", ".20e",  "+,",   " .3",     "05s",    ",n",   "_n",
};

static const char *const PRINTF_INT[] = {
    "%d", "%5d",    "%-5d", "%05d",  "%+d",    "% d",    "%.3d", "%x",    "%#x", "%#o",
    "%X", "%#X",    "%o",   "%+5x",  "%-8.3x", "%08.3d", "%i",   "%u",    "%e",  "%f",
    "%g", "%10.3f", "%c",   "%.80d", "%#.70x", "%.3c",   "%ld",  "%5.2Lf"};
static const char *const PRINTF_FLOAT[] = {"%e",    "%.2e", "%E",      "%f",   "%.1f",    "%#.0f",
                                           "%g",    "%#g",  "%.3g",    "%G",   "%10.4f",  "%-10.4f",
                                           "%+.2f", "% f",  "%010.2f", "%.0e", "%+010.1e"};
static const char *const PRINTF_STR[] = {"%s", "%10s", "%-10s", "%.2s", "%5.1s", "%+s", "%#s"};

struct fcase {
    bool printf_;
    const struct val *v;
    const char *spec;
};

static struct fcase *cases;
static size_t n_cases;

static void add(bool printf_, const struct val *v, const char *spec) {
    cases = realloc(cases, (n_cases + 1) * sizeof *cases);
    cases[n_cases++] = (struct fcase){printf_, v, spec};
}

static void build_cases(void) {
    for (size_t i = 0; i < N(VALUES); i++) {
        const struct val *v = &VALUES[i];
        for (size_t k = 0; k < N(SPECS); k++)
            add(false, v, SPECS[k]);
        const char *const *pf = v->t == 'i' ? PRINTF_INT : v->t == 'f' ? PRINTF_FLOAT : PRINTF_STR;
        size_t np = v->t == 'i' ? N(PRINTF_INT) : v->t == 'f' ? N(PRINTF_FLOAT) : N(PRINTF_STR);
        for (size_t k = 0; k < np; k++)
            if (strcmp(pf[k], "%c") || (v->t == 'i' && v->text[0] != '-' && strlen(v->text) < 7))
                add(true, v, pf[k]);
    }
}

/* Ours: 0 with the text in b, or non-zero when refused. */
static int ours(const struct fcase *c, struct mill_buf *b) {
    struct mill_pyspec sp;
    char why[200], type = 0;
    int rc;
    if (c->printf_) {
        size_t used;
        rc = mill_pyprintf_spec(c->spec + 1, strlen(c->spec) - 1, &sp, &type, &used, why,
                                sizeof why);
    } else {
        rc = mill_pyspec_parse(c->spec, strlen(c->spec), &sp, why, sizeof why);
    }
    if (rc)
        return rc;
    if (c->printf_ && type == 's')
        sp.type = 's';
    if (c->v->t == 's')
        return mill_pyformat_str(b, c->v->text, strlen(c->v->text), &sp, why, sizeof why);
    if (c->v->t == 'f' || (c->printf_ && strchr("eEfFgG", type)))
        return mill_pyformat_float(b, strtod(c->v->text, NULL), &sp, why, sizeof why);
    return mill_pyformat_int(b, strtoll(c->v->text, NULL, 10), &sp, why, sizeof why);
}

static void test_against_python(void) {
    build_cases();
    char in[] = "/tmp/mill_pyformat_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    struct mill_buf b = {0};
    for (size_t i = 0; f && i < n_cases; i++) {
        mill_buf_reset(&b);
        mill_buf_addf(&b,
                      "{\"op\":\"%s\",\"t\":\"%c\",\"v\":", cases[i].printf_ ? "printf" : "format",
                      cases[i].v->t);
        mill_buf_add_json_str(&b, cases[i].v->text, strlen(cases[i].v->text));
        mill_buf_adds(&b, ",\"spec\":");
        mill_buf_add_json_str(&b, cases[i].spec, strlen(cases[i].spec));
        fprintf(f, "%s}\n", b.p);
    }
    if (f)
        fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/reference/pyformat_oracle.py < %s",
             mtest_source_dir(), in);
    char **lines = mtest_command_lines(cmd, n_cases);
    unlink(in);
    CHECK(lines != NULL);
    size_t agree = 0, refused = 0;
    for (size_t i = 0; lines && i < n_cases; i++) {
        struct mill_value want;
        struct mill_err e = {0};
        CHECK_INT(mill_value_from_json(&want, lines[i], strlen(lines[i]), &e), 0);
        const struct mill_value *ok = mill_value_get(&want, "ok");
        mill_buf_reset(&b);
        int rc = ours(&cases[i], &b);
        bool same = ok ? rc == 0 && b.n == ok->u.s.n && !memcmp(b.p, ok->u.s.p, b.n) : rc != 0;
        if (!same)
            fprintf(stderr, "%s %c '%s' with '%s': python %s, ours %s'%.*s'\n",
                    cases[i].printf_ ? "printf" : "format", cases[i].v->t, cases[i].v->text,
                    cases[i].spec, lines[i], rc ? "refused " : "", (int)b.n, b.p ? b.p : "");
        agree += same;
        refused += !ok;
        mill_value_free(&want);
    }
    printf("pyformat: %zu of %zu cases equal Python's (%zu of them refused by both)\n", agree,
           n_cases, refused);
    CHECK_INT(agree, n_cases);
    CHECK(refused > 50 && refused < n_cases / 2); /* both outcomes are exercised */
    mtest_free_lines(lines, n_cases);
    mill_buf_free(&b);
    free(cases);
}

MTEST_MAIN(MTEST(test_against_python))
