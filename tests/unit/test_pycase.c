/* test_pycase.c: core/pycase.c against CPython (Debian's /usr/bin/python3, whose Unicode
 * version the tables were generated from: the test says which when they differ). Python
 * writes a text holding every code point but the surrogates, 64 to a line, then 3,000 lines
 * of capital sigmas among cased, case-ignorable and other characters (the Final_Sigma
 * context), and the text's upper(), lower(), title() and, line by line, capitalize(). Ours
 * must equal each byte for byte; ill-formed UTF-8 is copied through. Writes only under a
 * temporary directory it removes. */
#include "core/pycase.h"

#include <mill/buf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtest.h"

static char dir[] = "/tmp/mill_test_pycase.XXXXXX";

static const char ORACLE[] =
    "import random, sys, unicodedata\n"
    "d = sys.argv[1]\n"
    "cps = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]\n"
    "lines = [''.join(map(chr, cps[i:i + 64])) for i in range(0, len(cps), 64)]\n"
    "rnd = random.Random(7)\n"
    "pool = ['A', 'z', '\\u03a3', '\\u03c3', '\\u0345', '\\u02b0', \"'\", '.', ':', '\\u00ad',\n"
    "        '\\u0300', '1', ' ', '\\u1f88', '\\u01c5', '\\u00df', '\\u0130', '\\u2019']\n"
    "lines += [''.join(rnd.choice(pool) for _ in range(rnd.randint(1, 7))) for _ in range(3000)]\n"
    "text = '\\n'.join(lines)\n"
    "open(d + '/in', 'w', encoding='utf-8', errors='strict').write(text)\n"
    "for name, f in (('upper', str.upper), ('lower', str.lower), ('title', str.title)):\n"
    "    open(d + '/' + name, 'w', encoding='utf-8').write(f(text))\n"
    "open(d + '/capitalize', 'w', encoding='utf-8').write("
    "'\\n'.join(l.capitalize() for l in lines))\n"
    "print(unicodedata.unidata_version)\n";

static char *slurp(const char *name, size_t *n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return mtest_read_file(path, n);
}

static void test_against_cpython(void) {
    CHECK(mkdtemp(dir) != NULL);
    char script[300], cmd[700];
    snprintf(script, sizeof script, "%s/oracle.py", dir);
    FILE *f = fopen(script, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(ORACLE, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, dir);
    char **version = mtest_command_lines(cmd, 1);
    CHECK(version != NULL);
    if (version && strcmp(version[0], "14.0.0"))
        printf("note: this Python has Unicode %s, the tables 14.0.0\n", version[0]);
    size_t n_in = 0;
    char *in = slurp("in", &n_in);
    CHECK(in != NULL && n_in > 4000000);
    static const struct {
        const char *name;
        enum mill_pycase mode;
    } modes[] = {{"upper", MILL_PYCASE_UPPER},
                 {"lower", MILL_PYCASE_LOWER},
                 {"title", MILL_PYCASE_TITLE},
                 {"capitalize", MILL_PYCASE_CAPITALIZE}};
    for (size_t m = 0; in && m < sizeof modes / sizeof modes[0]; m++) {
        size_t n_want = 0;
        char *want = slurp(modes[m].name, &n_want);
        struct mill_buf got = {0};
        int rc = 0;
        if (modes[m].mode == MILL_PYCASE_CAPITALIZE) { /* line by line */
            for (const char *p = in, *end = in + n_in; !rc && p <= end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *e = nl ? nl : end;
                rc = mill_py_recase(p, (size_t)(e - p), modes[m].mode, &got);
                if (nl)
                    mill_buf_addc(&got, '\n');
                p = e + 1;
            }
        } else {
            rc = mill_py_recase(in, n_in, modes[m].mode, &got);
        }
        CHECK_INT(rc, 0);
        size_t at = 0;
        while (want && at < got.n && at < n_want && got.p[at] == want[at])
            at++;
        if (!want || got.n != n_want || at < n_want)
            fprintf(stderr,
                    "%s: %zu bytes for CPython's %zu, first difference at byte %zu: "
                    "'%.24s' vs '%.24s'\n",
                    modes[m].name, got.n, n_want, at, at < got.n ? got.p + at : "",
                    want && at < n_want ? want + at : "");
        CHECK(want && got.n == n_want && !memcmp(got.p, want, n_want));
        mill_buf_free(&got);
        free(want);
    }
    printf("pycase: upper, lower, title and capitalize of %zu bytes equal CPython's\n", n_in);
    free(in);
    mtest_free_lines(version, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

/* Bytes that are not UTF-8 are copied; the text around them is mapped. */
static void test_ill_formed(void) {
    static const char in[] = "a\xff\xc3\xa9\xc3(\xce\xa3";
    struct mill_buf b = {0};
    CHECK_INT(mill_py_recase(in, sizeof in - 1, MILL_PYCASE_UPPER, &b), 0);
    CHECK(b.n == 8 && !memcmp(b.p, "A\xff\xc3\x89\xc3(\xce\xa3", 8));
    mill_buf_reset(&b);
    CHECK_INT(mill_py_recase(in, sizeof in - 1, MILL_PYCASE_LOWER, &b), 0);
    /* the sigma follows '(' (neither cased nor case-ignorable): not final */
    CHECK(b.n == 8 && !memcmp(b.p, "a\xff\xc3\xa9\xc3(\xcf\x83", 8));
    mill_buf_free(&b);
}

MTEST_MAIN(MTEST(test_against_cpython), MTEST(test_ill_formed))
