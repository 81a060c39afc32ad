/* test_random.c: src/core/random.c against CPython itself.
 *
 * Runs tests/reference/random_oracle.py under Debian's /usr/bin/python3 (never a python3 from
 * PATH) and compares its output line by line with the same case list drawn through mill_random.
 * A missing interpreter or script is a failure, never a skip. Must not write any files. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/random.h"
#include "mtest.h"

#define ORACLE_PYTHON "/usr/bin/python3"

/* ---- the case list: keep in step with tests/reference/random_oracle.py ---- */

static const int64_t FULL_INT_SEEDS[] = {
    0,
    1,
    2,
    42,
    1234,
    -1,
    -42,
    INT64_C(2147483647),
    INT64_C(2147483648),
    INT64_C(4294967295),
    INT64_C(4294967296),
    INT64_C(4294967297),
    INT64_C(281474976710656),
    INT64_C(9007199254740993),
    INT64_C(12345678901234567),
    INT64_MAX,
    -INT64_MAX,
    INT64_MIN,
};

struct str_seed {
    const char *s;
    size_t n;
};
#define STR_SEED(lit) \
    { lit, sizeof(lit) - 1 }

static char long_x[1001];
static char long_jp[9 * 50 + 1];

static struct str_seed full_str_seeds[] = {
    STR_SEED(""),
    STR_SEED("a"),
    STR_SEED("abc"),
    STR_SEED("0"),
    STR_SEED("42"),
    STR_SEED("café|ünïcödé|日本語"),
    STR_SEED("42|cifar10_mcq|s0000042"),
    STR_SEED("\0"),
    STR_SEED("\0\0abc"),
    {long_x, 1000},
    {long_jp, 9 * 50},
};

struct rng_case {
    int64_t seed;
    const char *parts[4];
    size_t nparts;
};

static const struct rng_case RNG_CASES[] = {
    {0, {NULL}, 0},
    {42, {"cifar10_mcq", "s0000042"}, 2},
    {-7, {"a", "", "b"}, 3},
    {INT64_MAX, {"café", "日本語"}, 2},
    {1234, {"task", "doc", "17", "fewshot"}, 4},
    {INT64_MIN, {"x"}, 1},
};

static const uint64_t RANDBELOW_NS[] = {
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    31,
    32,
    33,
    100,
    255,
    256,
    257,
    1000,
    1000000,
    (UINT64_C(1) << 31) - 1,
    UINT64_C(1) << 31,
    (UINT64_C(1) << 31) + 1,
    (UINT64_C(1) << 32) - 1,
    UINT64_C(1) << 32,
    (UINT64_C(1) << 32) + 1,
    (UINT64_C(1) << 33) - 1,
    UINT64_C(1000000000000),
    (UINT64_C(1) << 53) - 1,
    UINT64_C(1) << 53,
    (UINT64_C(1) << 53) + 1,
    (UINT64_C(1) << 62) + 1,
    (UINT64_C(1) << 63) - 1,
    UINT64_C(1) << 63,
    (UINT64_C(1) << 63) + 1,
    UINT64_C(3) << 62,
    UINT64_MAX - 1,
    UINT64_MAX,
};

static const size_t EXTRA_SAMPLE_PAIRS[][2] = {
    {85, 6},     {86, 6},      {277, 22},      {278, 22},        {100, 100},
    {1000, 1},   {1000, 5},    {1000, 6},      {1000, 10},       {1000, 100},
    {1000, 500}, {1000, 1000}, {4117, 1000},   {4118, 1000},     {100000, 1},
    {100000, 5}, {100000, 50}, {100000, 1000}, {1000000000, 10}, {(size_t)1 << 40, 20},
};

static const size_t CHOICE_NS[] = {1, 2, 3, 10, 1000};

#define N_LIGHT_INTS 2000
#define N_LIGHT_BIG_INTS 500
#define N_LIGHT_STRS 1000
#define N_LIGHT_RNGS 500

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- line comparison against the oracle's stdout ---- */

static FILE *oracle;
static char *oracle_line;
static size_t oracle_cap;
static long line_no, mismatches, compared;
static char line[1 << 16];
static size_t line_len;
static int line_overflow;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + line_len, sizeof line - line_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - line_len)
        line_overflow = 1;
    else
        line_len += (size_t)n;
}

static void end_line(void) {
    line_no++;
    CHECK(!line_overflow);
    ssize_t got = oracle ? getline(&oracle_line, &oracle_cap, oracle) : -1;
    if (got < 0) {
        if (mismatches++ < 10)
            fprintf(stderr, "line %ld: oracle output ended; mill has \"%.200s\"\n", line_no, line);
    } else {
        if (got > 0 && oracle_line[got - 1] == '\n')
            oracle_line[--got] = '\0';
        compared++;
        if (strcmp(oracle_line, line) != 0 && mismatches++ < 10)
            fprintf(stderr, "line %ld:\n  python: %.300s\n  mill:   %.300s\n", line_no, oracle_line,
                    line);
    }
    line_len = 0;
    line_overflow = 0;
    line[0] = '\0';
}

/* Python's repr(float): the shortest string that reads back to the same double. */
static void put_repr(double x) {
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, x);
        if (strtod(s, NULL) == x)
            break;
    }
    put("%s%s", s, strpbrk(s, ".einn") ? "" : ".0");
}

static void put_list(const size_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        put(i ? " %zu" : "%zu", v[i]);
}

/* ---- the draws, in the oracle's order ---- */

static size_t sample_out[1000];

static void do_sample(struct mill_random *r, const char *label, size_t n, size_t k) {
    put("%s sample%zu,%zu ", label, n, k);
    CHECK_INT(mill_random_sample(r, n, k, sample_out), MILL_OK);
    put_list(sample_out, k);
    end_line();
}

static void do_shuffle(struct mill_random *r, const char *label, size_t n) {
    size_t idx[50];
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    mill_random_shuffle(r, idx, n);
    put("%s shuffle%zu ", label, n);
    put_list(idx, n);
    end_line();
}

static void do_random(struct mill_random *r, const char *label) {
    put("%s random ", label);
    put_repr(mill_random_random(r));
    end_line();
}

static void full(struct mill_random *r, const char *label) {
    for (int i = 0; i < 5; i++)
        do_random(r, label);
    for (int k = 0; k <= 64; k++) {
        put("%s bits%d %" PRIu64, label, k, mill_random_getrandbits(r, k));
        end_line();
    }
    for (size_t i = 0; i < NELEM(RANDBELOW_NS); i++) {
        put("%s below%" PRIu64 " %" PRIu64, label, RANDBELOW_NS[i],
            mill_random_randbelow(r, RANDBELOW_NS[i]));
        end_line();
    }
    for (size_t n = 0; n <= 50; n++)
        do_shuffle(r, label, n);
    for (size_t n = 0; n <= 30; n++)
        for (size_t k = 0; k <= n; k++)
            do_sample(r, label, n, k);
    for (size_t i = 0; i < NELEM(EXTRA_SAMPLE_PAIRS); i++)
        do_sample(r, label, EXTRA_SAMPLE_PAIRS[i][0], EXTRA_SAMPLE_PAIRS[i][1]);
    for (size_t i = 0; i < NELEM(CHOICE_NS); i++) {
        put("%s choice%zu %zu", label, CHOICE_NS[i], mill_random_choice(r, CHOICE_NS[i]));
        end_line();
    }
    for (int i = 0; i < 2; i++)
        do_random(r, label);
}

static void light(struct mill_random *r, const char *label) {
    do_random(r, label);
    put("%s bits64 %" PRIu64, label, mill_random_getrandbits(r, 64));
    end_line();
    put("%s bits33 %" PRIu64, label, mill_random_getrandbits(r, 33));
    end_line();
    put("%s below1000 %" PRIu64, label, mill_random_randbelow(r, 1000));
    end_line();
    put("%s below%" PRIu64 " %" PRIu64, label, UINT64_MAX, mill_random_randbelow(r, UINT64_MAX));
    end_line();
    do_shuffle(r, label, 10);
    do_sample(r, label, 100, 5);
    do_sample(r, label, 10, 10);
    put("%s choice7 %zu", label, mill_random_choice(r, 7));
    end_line();
}

static void oracle_path(char *out, size_t n) {
    mtest_source_path(out, n, "tests/reference/random_oracle.py");
}

static void test_against_cpython(void) {
    char script[4096], cmd[4200], label[128];
    struct mill_random r;

    memset(long_x, 'x', 1000);
    for (int i = 0; i < 50; i++)
        memcpy(long_jp + 9 * i, "日本語", 9);

    oracle_path(script, sizeof script);
    CHECK(access(ORACLE_PYTHON, X_OK) == 0);
    CHECK(access(script, R_OK) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s'", ORACLE_PYTHON, script);
    oracle = popen(cmd, "r");
    CHECK(oracle != NULL);

    for (size_t i = 0; i < NELEM(FULL_INT_SEEDS); i++) {
        mill_random_seed_int(&r, FULL_INT_SEEDS[i]);
        snprintf(label, sizeof label, "int:%" PRId64, FULL_INT_SEEDS[i]);
        full(&r, label);
    }
    for (size_t i = 0; i < NELEM(full_str_seeds); i++) {
        mill_random_seed_str(&r, full_str_seeds[i].s, full_str_seeds[i].n);
        snprintf(label, sizeof label, "str#%zu", i);
        full(&r, label);
    }
    for (size_t i = 0; i < NELEM(RNG_CASES); i++) {
        mill_sample_rng(&r, RNG_CASES[i].seed, RNG_CASES[i].parts, RNG_CASES[i].nparts);
        snprintf(label, sizeof label, "rng#%zu", i);
        full(&r, label);
    }
    for (int64_t seed = -500; seed < N_LIGHT_INTS - 500; seed++) {
        mill_random_seed_int(&r, seed);
        snprintf(label, sizeof label, "int:%" PRId64, seed);
        light(&r, label);
    }
    for (uint64_t i = 0; i < N_LIGHT_BIG_INTS; i++) {
        /* (i * 0x9E3779B97F4A7C15) % 2**64 - 2**63, without relying on signed wrap-around */
        uint64_t u = i * UINT64_C(0x9E3779B97F4A7C15);
        int64_t seed = u >= (UINT64_C(1) << 63) ? (int64_t)(u - (UINT64_C(1) << 63))
                                                : (int64_t)u - INT64_MAX - 1;
        mill_random_seed_int(&r, seed);
        snprintf(label, sizeof label, "int:%" PRId64, seed);
        light(&r, label);
    }
    for (int i = 0; i < N_LIGHT_STRS; i++) {
        char s[64];
        int n = snprintf(s, sizeof s, "%d|cifar10_mcq|s%07d", i, i);
        mill_random_seed_str(&r, s, (size_t)n);
        snprintf(label, sizeof label, "str:%s", s);
        light(&r, label);
    }
    for (int i = 0; i < N_LIGHT_RNGS; i++) {
        char part[32];
        snprintf(part, sizeof part, "s%07d", i);
        const char *parts[] = {"mmlu", part};
        mill_sample_rng(&r, i, parts, 2);
        snprintf(label, sizeof label, "rng:%d|mmlu|%s", i, part);
        light(&r, label);
    }

    if (oracle) {
        ssize_t extra = getline(&oracle_line, &oracle_cap, oracle);
        CHECK(extra < 0); /* the oracle printed no more lines than mill */
        int status = pclose(oracle);
        CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        oracle = NULL;
    }
    free(oracle_line);
    oracle_line = NULL;
    fprintf(stderr, "test_against_cpython: %ld lines generated, %ld compared, %ld mismatched\n",
            line_no, compared, mismatches);
    CHECK(compared == line_no);
    CHECK(line_no > 50000);
    CHECK_INT(mismatches, 0);
}

/* ---- checks that need no oracle ---- */

static void test_known_values(void) {
    struct mill_random r;
    mill_random_seed_int(&r, 42);
    /* random.Random(42).random() */
    CHECK(mill_random_random(&r) == 0.6394267984578837);
    mill_random_seed_int(&r, 0);
    CHECK(mill_random_random(&r) == 0.8444218515250481);
}

static void test_seed_equivalences(void) {
    struct mill_random a, b;
    mill_random_seed_int(&a, -12345);
    mill_random_seed_int(&b, 12345);
    CHECK(memcmp(a.g.mt, b.g.mt, sizeof a.g.mt) == 0);

    const char *parts[] = {"cifar10_mcq", "s0000042"};
    mill_sample_rng(&a, 42, parts, 2);
    mill_random_seed_str(&b, "42|cifar10_mcq|s0000042", 23);
    for (int i = 0; i < 2000; i++)
        CHECK(mill_random_getrandbits(&a, 32) == mill_random_getrandbits(&b, 32));

    mill_sample_rng(&a, -3, NULL, 0);
    mill_random_seed_str(&b, "-3", 2);
    CHECK(mill_random_random(&a) == mill_random_random(&b));
}

static void test_ranges_and_errors(void) {
    struct mill_random r, fresh;
    size_t out[8];
    mill_random_seed_int(&r, 7);
    for (int i = 0; i < 10000; i++) {
        double x = mill_random_random(&r);
        CHECK(x >= 0.0 && x < 1.0);
        CHECK(mill_random_randbelow(&r, 3) < 3);
        CHECK(mill_random_getrandbits(&r, 5) < 32);
    }
    CHECK_INT(mill_random_getrandbits(&r, 0), 0);
    CHECK_INT(mill_random_sample(&r, 3, 4, out), MILL_EINVAL);
    /* k == 0 draws nothing */
    mill_random_seed_int(&r, 9);
    mill_random_seed_int(&fresh, 9);
    CHECK_INT(mill_random_sample(&r, 100000, 0, out), MILL_OK);
    CHECK(mill_random_random(&r) == mill_random_random(&fresh));
    /* sample without repeats in the selected-set branch */
    size_t big[1000];
    CHECK_INT(mill_random_sample(&r, 5000, 1000, big), MILL_OK);
    static unsigned char seen[5000];
    int dup = 0;
    for (size_t i = 0; i < 1000; i++) {
        CHECK(big[i] < 5000);
        if (big[i] < 5000)
            dup += seen[big[i]]++ != 0;
    }
    CHECK_INT(dup, 0);
}

MTEST_MAIN(MTEST(test_known_values), MTEST(test_seed_equivalences), MTEST(test_ranges_and_errors),
           MTEST(test_against_cpython))
