/* test_nprandom.c: src/core/nprandom.c against numpy itself.
 *
 * Runs Debian's /usr/bin/python3 (never a python3 from PATH) with numpy and compares, case by
 * case, RandomState(seed).permutation(n), the choice(n, n, replace=False) that pandas'
 * sample(frac=1, random_state=42) calls, and randint draws that go through the same masked
 * interval code (including the 64-bit path). A missing interpreter or numpy is a failure, never
 * a skip (scripts/deps.sh installs python3-numpy). Must not write any files. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nprandom.h"
#include "mtest.h"

#define ORACLE_PYTHON "/usr/bin/python3"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const uint32_t SEEDS[] = {0, 1, 42, 12345, 2147483648u, 4294967295u};
static const size_t PERM_NS[] = {0, 1, 2, 3, 5, 10, 57, 114, 624, 625, 999, 1000};
/* Upper bounds of randint(0, max + 1, dtype=uint64): both the 32- and the 64-bit paths. */
static const uint64_t INTERVAL_MAXES[] = {
    1,
    2,
    3,
    7,
    100,
    0x7fffffffu,
    0x80000000u,
    0xfffffffeu,
    UINT64_C(0x100000000),
    UINT64_C(0x1000000001),
    UINT64_C(1000000000000),
    UINT64_C(0x7fffffffffffffff),
};
#define N_DRAWS 20

/* The oracle prints one line per case, in the order the loops below walk them. */
static const char ORACLE[] =
    "import numpy as np\n"
    "seeds = [0, 1, 42, 12345, 2147483648, 4294967295]\n"
    "ns = [0, 1, 2, 3, 5, 10, 57, 114, 624, 625, 999, 1000]\n"
    "maxes = [1, 2, 3, 7, 100, 0x7fffffff, 0x80000000, 0xfffffffe, 0x100000000,\n"
    "         0x1000000001, 1000000000000, 0x7fffffffffffffff]\n"
    "for s in seeds:\n"
    "    for n in ns:\n"
    "        print(\" \".join(map(str, np.random.RandomState(s).permutation(n))))\n"
    "for n in ns:\n"
    "    rs = np.random.RandomState(42)\n"
    "    print(\" \".join(map(str, rs.choice(n, size=n, replace=False))))\n"
    "for s in seeds:\n"
    "    for m in maxes:\n"
    "        rs = np.random.RandomState(s)\n"
    "        x = rs.randint(0, m + 1, size=20, dtype=np.uint64)\n"
    "        print(\" \".join(map(str, x)))\n";

static char **lines;
static size_t n_lines, next_line;

/* Runs the oracle once and keeps its stdout lines. */
static int run_oracle(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c '%s'", ORACLE_PYTHON, ORACLE);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, p)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = 0;
        char **grown = realloc(lines, (n_lines + 1) * sizeof *lines);
        if (!grown)
            break;
        lines = grown;
        lines[n_lines++] = strdup(line);
    }
    free(line);
    return pclose(p);
}

static const char *oracle_line(void) { return next_line < n_lines ? lines[next_line++] : NULL; }

static void check_ints(const char *want, const uint64_t *got, size_t n, const char *what) {
    char buf[32768];
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at < sizeof buf; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%" PRIu64, i ? " " : "", got[i]);
    static int reported;
    if (!want || strcmp(want, buf) != 0) {
        mtest_failed_checks++;
        if (reported++ < 5)
            fprintf(stderr, "%s: mismatch\n  numpy: %.200s\n  mill:  %.200s\n", what,
                    want ? want : "(no line)", buf);
    }
}

static void test_oracle_runs(void) {
    int rc = run_oracle();
    if (rc != 0)
        fprintf(stderr,
                "%s with numpy failed (exit status %d): install python3-numpy "
                "(scripts/deps.sh)\n",
                ORACLE_PYTHON, rc);
    CHECK_INT(rc, 0);
    CHECK_INT(n_lines, NELEM(SEEDS) * NELEM(PERM_NS) + NELEM(PERM_NS) +
                           NELEM(SEEDS) * NELEM(INTERVAL_MAXES));
}

static void perm_line(uint32_t seed, size_t n, const char *what) {
    static size_t idx[1000];
    static uint64_t got[1000];
    struct mill_nprandom r;
    mill_nprandom_seed(&r, seed);
    mill_nprandom_permutation(&r, idx, n);
    for (size_t i = 0; i < n; i++)
        got[i] = idx[i];
    char label[128];
    snprintf(label, sizeof label, "%s(seed=%" PRIu32 ", n=%zu)", what, seed, n);
    check_ints(oracle_line(), got, n, label);
}

static void test_permutation(void) {
    for (size_t s = 0; s < NELEM(SEEDS); s++)
        for (size_t k = 0; k < NELEM(PERM_NS); k++)
            perm_line(SEEDS[s], PERM_NS[k], "permutation");
}

static void test_pandas_sample_order(void) {
    for (size_t k = 0; k < NELEM(PERM_NS); k++)
        perm_line(42, PERM_NS[k], "choice(replace=False)");
}

static void test_interval(void) {
    for (size_t s = 0; s < NELEM(SEEDS); s++)
        for (size_t m = 0; m < NELEM(INTERVAL_MAXES); m++) {
            struct mill_nprandom r;
            uint64_t got[N_DRAWS];
            mill_nprandom_seed(&r, SEEDS[s]);
            for (size_t i = 0; i < N_DRAWS; i++)
                got[i] = mill_nprandom_interval(&r, INTERVAL_MAXES[m]);
            char label[128];
            snprintf(label, sizeof label, "interval(seed=%" PRIu32 ", max=%" PRIu64 ")", SEEDS[s],
                     INTERVAL_MAXES[m]);
            check_ints(oracle_line(), got, N_DRAWS, label);
        }
}

static void test_small_cases(void) {
    struct mill_nprandom r;
    mill_nprandom_seed(&r, 42);
    CHECK_INT(mill_nprandom_interval(&r, 0), 0);
    CHECK_INT(r.g.pos, 624); /* max == 0 draws nothing */
    size_t one = 7;
    mill_nprandom_shuffle(&r, &one, 1);
    CHECK_INT(one, 7);
    CHECK_INT(r.g.pos, 624);
    /* The first MT19937 output for init_genrand(5489), the reference implementation's value. */
    mill_nprandom_seed(&r, 5489);
    CHECK_INT(mill_nprandom_next32(&r), 3499211612u);
}

static void free_lines(void) {
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines);
    lines = NULL;
    n_lines = 0;
}

MTEST_MAIN(MTEST(test_oracle_runs), MTEST(test_permutation), MTEST(test_pandas_sample_order),
           MTEST(test_interval), MTEST(test_small_cases), MTEST(free_lines))
