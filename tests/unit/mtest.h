/* mtest.h: the unit-test harness: CHECK macros that count and report failures with file:line,
 * and MTEST_MAIN, which runs the listed test functions and prints "N passed, N failed". */
#ifndef MILL_MTEST_H
#define MILL_MTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mtest_failed_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            mtest_failed_checks++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)
#define CHECK_INT(a, b)                                                                         \
    do {                                                                                        \
        long long _a = (long long)(a), _b = (long long)(b);                                     \
        if (_a != _b) {                                                                         \
            mtest_failed_checks++;                                                              \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    _a, #b, _b);                                                                \
        }                                                                                       \
    } while (0)
#define CHECK_STR(a, b)                                                                       \
    do {                                                                                      \
        const char *_a = (a), *_b = (b);                                                      \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                              \
            mtest_failed_checks++;                                                            \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    _a ? _a : "(null)", _b ? _b : "(null)");                                  \
        }                                                                                     \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                   \
    do {                                                                                        \
        double _a = (a), _b = (b);                                                              \
        if (!(fabs(_a - _b) <= (tol))) {                                                        \
            mtest_failed_checks++;                                                              \
            fprintf(stderr, "%s:%d: %s == %.10g, expected %.10g\n", __FILE__, __LINE__, #a, _a, \
                    _b);                                                                        \
        }                                                                                       \
    } while (0)

/* The source and build trees: $MILL_SOURCE_DIR / $MILL_BUILD_DIR (ctest sets them), else the
 * trees CMake configured this test from (MILL_TEST_SOURCE_DIR / MILL_TEST_BUILD_DIR). */
static inline const char *mtest_source_dir(void) {
    const char *d = getenv("MILL_SOURCE_DIR");
    return d && *d ? d : MILL_TEST_SOURCE_DIR;
}
static inline const char *mtest_build_dir(void) {
    const char *d = getenv("MILL_BUILD_DIR");
    return d && *d ? d : MILL_TEST_BUILD_DIR;
}
/* out (n bytes) = <source tree>/rel; a path that does not fit is a bug of the test: abort. */
static inline void mtest_source_path(char *out, size_t n, const char *rel) {
    int k = snprintf(out, n, "%s/%s", mtest_source_dir(), rel);
    if (k < 0 || (size_t)k >= n)
        abort();
}

/* The whole file at path, NUL-terminated (its length in *len when len is not NULL); NULL when
 * it cannot be read. */
static inline char *mtest_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (size_t got = 1; got > 0; n += got) {
        if (cap - n < 65536) {
            char *nb = realloc(buf, (cap = cap * 2 + 65537) + 1);
            if (!nb)
                break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* The first n lines a shell command prints (each malloc'd, its newline removed; lines of up to
 * 64 KiB), or NULL, after a failed CHECK, when it prints fewer or exits non-zero. An oracle
 * answering line for line (free with mtest_free_lines). */
static inline char **mtest_command_lines(const char *cmd, size_t n) {
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char **out = calloc(n ? n : 1, sizeof *out);
    static char line[65536];
    size_t k = 0;
    while (p && out && k < n && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        out[k++] = strdup(line);
    }
    int status = p ? pclose(p) : -1;
    CHECK_INT(status, 0);
    CHECK_INT(k, n);
    if (k == n && status == 0)
        return out;
    for (size_t i = 0; out && i < k; i++)
        free(out[i]);
    free(out);
    return NULL;
}

static inline void mtest_free_lines(char **lines, size_t n) {
    for (size_t i = 0; lines && i < n; i++)
        free(lines[i]);
    free(lines);
}

typedef void (*mtest_fn)(void);
struct mtest_case {
    const char *name;
    mtest_fn fn;
};
#define MTEST(fn) \
    { #fn, fn }

#define MTEST_MAIN(...)                                               \
    int main(void) {                                                  \
        static const struct mtest_case cases[] = {__VA_ARGS__};       \
        int passed = 0, failed = 0;                                   \
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) { \
            int before = mtest_failed_checks;                         \
            cases[i].fn();                                            \
            if (mtest_failed_checks == before)                        \
                passed++;                                             \
            else {                                                    \
                failed++;                                             \
                fprintf(stderr, "FAIL %s\n", cases[i].name);          \
            }                                                         \
        }                                                             \
        printf("%d passed, %d failed\n", passed, failed);             \
        return failed != 0;                                           \
    }

#endif
