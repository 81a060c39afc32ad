/* test_aggregate.c: unit tests of out/aggregate: CSV round trip, the upsert rule, extra columns,
 * quoting, numbers as pandas reads them (its NA strings, blanks, infinities; hex, other NaN
 * spellings and overflow refused), every corrupt-file case (an error naming file and line, the
 * file left byte-identical),
 * the leaf / rollup formulas, and two processes upserting into one file at once.
 * Works in a fresh directory under $TMPDIR (or /tmp) and removes it; must not touch the tree. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mill/buf.h>

#include "mtest.h"
#include "out/aggregate.h"

#define HEADER "model,benchmark,task,task_type,n_shot,metric,performance,stderr\n"

static char dir[512];

static const char *tmp_path(const char *name) {
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static struct mill_aggregate_row row(const char *model, const char *task, int64_t n_shot,
                                     const char *metric, double perf, double se) {
    struct mill_aggregate_row r = {.model = model,
                                   .benchmark = "",
                                   .task = task,
                                   .task_type = "multiple_choice",
                                   .n_shot = n_shot,
                                   .metric = metric,
                                   .performance = perf,
                                   .std_err = se};
    return r;
}

static void setup(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mill_test_aggregate_XXXXXX", base && *base ? base : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(tmp_path(e->d_name));
    closedir(d);
    rmdir(dir);
}

static void test_missing_file_is_empty(void) {
    setup();
    struct mill_aggregate_table t;
    struct mill_err err = {0};
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, tmp_path("nope.csv"), &err), MILL_OK);
    CHECK_INT(t.n, 0);
    CHECK_INT(t.n_extra, 0);
    mill_aggregate_table_free(&t);
    teardown();
}

static void test_round_trip(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    struct mill_err err = {0};
    struct mill_aggregate_row rows[3] = {
        row("meta-llama/Meta-Llama-3-8B-Instruct", "mmlu_anatomy", 5, "acc", 0.53777, 0.04301),
        row("m", "mmlu", 5, "acc", 1.0, 0.0),
        row("m", "cifar10", 0, "acc", 2.0 / 3.0, 0.00004),
    };
    rows[1].benchmark = "mmlu";
    CHECK_INT(mill_aggregate_upsert(path, rows, 3, &err), MILL_OK);
    char *text = mtest_read_file(path, NULL);
    CHECK_STR(text, HEADER
              "meta-llama/Meta-Llama-3-8B-Instruct,,mmlu_anatomy,multiple_choice,5,acc,0.5378,"
              "0.043\n"
              "m,mmlu,mmlu,multiple_choice,5,acc,1.0,0.0\n"
              "m,,cifar10,multiple_choice,0,acc,0.6667,0.0\n");

    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n, 3);
    if (t.n == 3) {
        CHECK_STR(t.rows[0].model, "meta-llama/Meta-Llama-3-8B-Instruct");
        CHECK_STR(t.rows[0].benchmark, "");
        CHECK_STR(t.rows[0].task_type, "multiple_choice");
        CHECK_INT(t.rows[0].n_shot, 5);
        CHECK(t.rows[0].performance == 0.5378);
        CHECK(t.rows[0].std_err == 0.043);
        CHECK_STR(t.rows[1].benchmark, "mmlu");
        CHECK(t.rows[2].performance == 0.6667);
    }
    struct mill_buf b = {0};
    CHECK_INT(mill_aggregate_write(&t, &b), MILL_OK);
    CHECK_STR(b.p, text); /* write(read(file)) == file */
    mill_buf_free(&b);
    mill_aggregate_table_free(&t);
    free(text);
    teardown();
}

static void test_upsert_replaces_exactly_the_key(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    struct mill_err err = {0};
    struct mill_aggregate_row base[5] = {
        row("a", "t", 0, "acc", 0.1, 0), row("b", "t", 0, "acc", 0.2, 0),
        row("a", "u", 0, "acc", 0.3, 0), row("a", "t", 5, "acc", 0.4, 0),
        row("a", "t", 0, "f1", 0.5, 0),
    };
    CHECK_INT(mill_aggregate_upsert(path, base, 5, &err), MILL_OK);
    /* same key as base[0], different benchmark/task_type: replaces it, goes to the end */
    struct mill_aggregate_row nr = row("a", "t", 0, "acc", 0.9, 0.01);
    nr.task_type = "generative";
    CHECK_INT(mill_aggregate_upsert(path, &nr, 1, &err), MILL_OK);
    char *text = mtest_read_file(path, NULL);
    CHECK_STR(text, HEADER "b,,t,multiple_choice,0,acc,0.2,0.0\n"
                           "a,,u,multiple_choice,0,acc,0.3,0.0\n"
                           "a,,t,multiple_choice,5,acc,0.4,0.0\n"
                           "a,,t,multiple_choice,0,f1,0.5,0.0\n"
                           "a,,t,generative,0,acc,0.9,0.01\n");
    free(text);
    /* within one call a later row with the same key wins */
    struct mill_aggregate_row two[2] = {row("c", "t", 0, "acc", 0.1, 0),
                                        row("c", "t", 0, "acc", 0.7, 0)};
    CHECK_INT(mill_aggregate_upsert(path, two, 2, &err), MILL_OK);
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n, 6);
    if (t.n == 6)
        CHECK(t.rows[5].performance == 0.7);
    mill_aggregate_table_free(&t);
    /* bad arguments */
    struct mill_aggregate_row bad = row(NULL, "t", 0, "acc", 0, 0);
    CHECK_INT(mill_aggregate_upsert(path, &bad, 1, &err), MILL_EINVAL);
    CHECK_INT(mill_aggregate_upsert(path, NULL, 0, &err), MILL_OK);
    /* no temp file is left behind; the lock file stays */
    CHECK(access(tmp_path("aggregate.csv.lock"), F_OK) == 0);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "aggregate.csv.tmp.%ld", (long)getpid());
    CHECK(access(tmp_path(tmp), F_OK) != 0);
    teardown();
}

/* remove deletes its key's row and adds none; deletions that match nothing write nothing; a
 * NaN performance is a value (written as an empty field). */
static void test_upsert_deletes(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    struct mill_err err = {0};
    struct mill_aggregate_row gone = row("a", "t", 0, "acc", 0, 0);
    gone.remove = true;
    CHECK_INT(mill_aggregate_upsert(path, &gone, 1, &err), MILL_OK);
    CHECK(access(path, F_OK) != 0);
    struct mill_aggregate_row base[3] = {row("a", "t", 0, "acc", 0.1, 0),
                                         row("a", "t", 0, "f1", 0.2, 0),
                                         row("b", "t", 0, "acc", 0.3, 0)};
    CHECK_INT(mill_aggregate_upsert(path, base, 3, &err), MILL_OK);
    struct mill_aggregate_row mix[2] = {gone, row("c", "t", 0, "acc", 0.4, 0)};
    CHECK_INT(mill_aggregate_upsert(path, mix, 2, &err), MILL_OK);
    char *text = mtest_read_file(path, NULL);
    CHECK_STR(text, HEADER "a,,t,multiple_choice,0,f1,0.2,0.0\n"
                           "b,,t,multiple_choice,0,acc,0.3,0.0\n"
                           "c,,t,multiple_choice,0,acc,0.4,0.0\n");
    free(text);
    struct stat st0, st1;
    CHECK_INT(stat(path, &st0), 0);
    CHECK_INT(mill_aggregate_upsert(path, &gone, 1, &err), MILL_OK); /* nothing to delete */
    CHECK_INT(stat(path, &st1), 0);
    CHECK(st0.st_ino == st1.st_ino);
    struct mill_aggregate_row nan_row = row("d", "t", 0, "acc", NAN, 0);
    CHECK_INT(mill_aggregate_upsert(path, &nan_row, 1, &err), MILL_OK);
    text = mtest_read_file(path, NULL);
    CHECK(text && strstr(text, "d,,t,multiple_choice,0,acc,,0.0\n") != NULL);
    free(text);
    teardown();
}

static void test_extra_columns_preserved(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    struct mill_err err = {0};
    /* canonical columns in another order, two extra columns, one quoted value */
    put_file(path, "seed,model,benchmark,task,task_type,n_shot,metric,performance,stderr,note\r\n"
                   "1234,a,,t,multiple_choice,0,acc,0.25,0.01,\"x, y\"\r\n"
                   "7,b,,t,multiple_choice,0,acc,0.5,0.02,\r\n");
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n_extra, 2);
    if (t.n_extra == 2 && t.n == 2) {
        CHECK_STR(t.extra_cols[0], "seed");
        CHECK_STR(t.extra_cols[1], "note");
        CHECK_STR(t.rows[0].extra[0], "1234");
        CHECK_STR(t.rows[0].extra[1], "x, y");
        CHECK_STR(t.rows[1].extra[1], "");
    }
    mill_aggregate_table_free(&t);
    struct mill_aggregate_row nr = row("c", "t", 0, "acc", 0.125, 0.0);
    CHECK_INT(mill_aggregate_upsert(path, &nr, 1, &err), MILL_OK);
    char *text = mtest_read_file(path, NULL);
    CHECK_STR(text, "model,benchmark,task,task_type,n_shot,metric,performance,stderr,seed,note\n"
                    "a,,t,multiple_choice,0,acc,0.25,0.01,1234,\"x, y\"\n"
                    "b,,t,multiple_choice,0,acc,0.5,0.02,7,\n"
                    "c,,t,multiple_choice,0,acc,0.125,0.0,,\n");
    free(text);
    teardown();
}

static void test_quoting(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    struct mill_err err = {0};
    struct mill_aggregate_row r = row("org/m,1", "say \"hi\"", 0, "line\nbreak", 0.5, 0.1);
    r.benchmark = "cr\rhere";
    r.task_type = "plain text";
    CHECK_INT(mill_aggregate_upsert(path, &r, 1, &err), MILL_OK);
    char *text = mtest_read_file(path, NULL);
    CHECK_STR(text, HEADER "\"org/m,1\",\"cr\rhere\",\"say \"\"hi\"\"\",plain text,0,"
                           "\"line\nbreak\",0.5,0.1\n");
    free(text);
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n, 1);
    if (t.n == 1) {
        CHECK_STR(t.rows[0].model, "org/m,1");
        CHECK_STR(t.rows[0].benchmark, "cr\rhere");
        CHECK_STR(t.rows[0].task, "say \"hi\"");
        CHECK_STR(t.rows[0].metric, "line\nbreak");
    }
    mill_aggregate_table_free(&t);
    teardown();
}

static void test_lenient_but_lossless_inputs(void) {
    struct mill_err err = {0};
    struct mill_aggregate_table t;
    /* blank lines, missing final newline, BOM, empty performance (pandas NaN), "5.0" n_shot */
    const char *csv = "\xEF\xBB\xBF" HEADER "\n"
                      "a,,t,mc,5.0,acc,,0.0\n"
                      "\n"
                      "b,,t,mc,-1,acc,1e-05,inf";
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, csv, strlen(csv), "x.csv", &err), MILL_OK);
    CHECK_INT(t.n, 2);
    if (t.n == 2) {
        CHECK_INT(t.rows[0].n_shot, 5);
        CHECK(isnan(t.rows[0].performance));
        CHECK_INT(t.rows[1].n_shot, -1);
        CHECK(isinf(t.rows[1].std_err));
        struct mill_buf b = {0};
        CHECK_INT(mill_aggregate_write(&t, &b), MILL_OK);
        CHECK_STR(b.p, HEADER "a,,t,mc,5,acc,,0.0\nb,,t,mc,-1,acc,0.0,inf\n");
        mill_buf_free(&b);
    }
    mill_aggregate_table_free(&t);
    /* pandas' NA strings are NaN, blanks around a number are taken, as read_csv takes them */
    const char *na = HEADER "a,,t,mc,0,acc,NA,None\n"
                            "a,,t,mc,1,acc,n/a,NULL\n"
                            "a,,t,mc,2,acc, 0.25 ,\t0.5\n"
                            "a,,t,mc,3,acc,#N/A,-nan\n";
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, na, strlen(na), "x.csv", &err), MILL_OK);
    CHECK_INT(t.n, 4);
    if (t.n == 4) {
        CHECK(isnan(t.rows[0].performance) && isnan(t.rows[0].std_err));
        CHECK(isnan(t.rows[1].performance) && isnan(t.rows[1].std_err));
        CHECK(t.rows[2].performance == 0.25 && t.rows[2].std_err == 0.5);
        CHECK(isnan(t.rows[3].performance) && isnan(t.rows[3].std_err));
    }
    mill_aggregate_table_free(&t);
    /* what pandas leaves as text (the file is then no table of numbers): refused */
    static const char *const bad[] = {"0.5x",  "0x1p-2", "NAN", "nan(1)", "+nan",
                                      "1e999", " inf",   "1e",  "."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char row[128];
        snprintf(row, sizeof row, HEADER "a,,t,mc,0,acc,%s,0.1\n", bad[i]);
        mill_aggregate_table_init(&t);
        CHECK_INT(mill_aggregate_parse(&t, row, strlen(row), "x.csv", &err), MILL_EFORMAT);
        mill_aggregate_table_free(&t);
    }
    /* n_shot: blanks around it taken; hex refused */
    const char *shots = HEADER "a,,t,mc, 5 ,acc,0.5,0.1\n";
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, shots, strlen(shots), "x.csv", &err), MILL_OK);
    CHECK(t.n == 1 && t.rows[0].n_shot == 5);
    mill_aggregate_table_free(&t);
    const char *hex = HEADER "a,,t,mc,0x5,acc,0.5,0.1\n";
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, hex, strlen(hex), "x.csv", &err), MILL_EFORMAT);
    mill_aggregate_table_free(&t);
    /* pandas' infinities: inf or infinity in any case, signed */
    const char *infs = HEADER "a,,t,mc,0,acc,-Infinity,INF\n";
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, infs, strlen(infs), "x.csv", &err), MILL_OK);
    CHECK(t.n == 1 && isinf(t.rows[0].performance) && t.rows[0].performance < 0 &&
          isinf(t.rows[0].std_err) && t.rows[0].std_err > 0);
    mill_aggregate_table_free(&t);
    /* zero bytes and a header alone are empty tables */
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_parse(&t, "", 0, "x.csv", &err), MILL_OK);
    CHECK_INT(t.n, 0);
    CHECK_INT(mill_aggregate_parse(&t, HEADER, strlen(HEADER), "x.csv", &err), MILL_OK);
    CHECK_INT(t.n, 0);
    mill_aggregate_table_free(&t);
}

/* A file of an older Python Mill, without task_type (nor benchmark, stderr here): read with
 * those empty, as Mill reads it; an upsert writes the whole header back, as its concat does. */
static void test_older_header(void) {
    setup();
    const char *path = tmp_path("old.csv");
    put_file(path, "model,task,n_shot,metric,performance\nm,t,0,acc,0.5\n");
    struct mill_err err = {0};
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n, 1);
    if (t.n == 1) {
        CHECK_STR(t.rows[0].task_type, "");
        CHECK_STR(t.rows[0].benchmark, "");
        CHECK(t.rows[0].performance == 0.5 && isnan(t.rows[0].std_err));
    }
    mill_aggregate_table_free(&t);
    struct mill_aggregate_row r = row("new", "t", 0, "acc", 0.25, 0.1);
    CHECK_INT(mill_aggregate_upsert(path, &r, 1, &err), MILL_OK);
    char *after = mtest_read_file(path, NULL);
    CHECK_STR(after, HEADER "m,,t,,0,acc,0.5,\nnew,,t,multiple_choice,0,acc,0.25,0.1\n");
    free(after);
    teardown();
}

struct corrupt_case {
    const char *text;
    long line;
    const char *what; /* a piece of the expected message */
};

static void test_corrupt_files(void) {
    static const struct corrupt_case cases[] = {
        {"model,benchmark,task,task_type,n_shot,metric,stderr\na,,t,mc,0,acc,0.5\n", 1,
         "lacks column \"performance\""},
        {"model,benchmark,task,task_type,n_shot,metric,performance,stderr,model\n", 1,
         "duplicate column"},
        {HEADER "a,,t,mc,0,acc,0.5,0.1\nb,,t,mc,0\n", 3, "expected 8 fields, found 5"},
        {HEADER "a,,t,mc,0,acc,0.5,0.1,extra\n", 2, "expected 8 fields, found 9"},
        {HEADER "a,,t,mc,zero,acc,0.5,0.1\n", 2, "n_shot: not an integer: \"zero\""},
        {HEADER "a,,t,mc,,acc,0.5,0.1\n", 2, "n_shot: not an integer"},
        {HEADER "a,,t,mc,1.5,acc,0.5,0.1\n", 2, "n_shot: not an integer"},
        {HEADER "a,,t,mc,0,acc,0.5x,0.1\n", 2, "performance: not a number: \"0.5x\""},
        {HEADER "a,,t,mc,0,acc,0.5,abc\n", 2, "stderr: not a number"},
        /* a quoted field spanning lines 2-3 pushes the bad record to line 4 */
        {HEADER "\"a\nb\",,t,mc,0,acc,0.5,0.1\nc,,t,mc,0,acc,0.5\n", 4, "expected 8 fields"},
        {HEADER "a,,t,mc,0,acc,0.5,0.1\r\nb,,t,mc,0,acc,0.5\r\n", 3, "expected 8 fields"},
        {HEADER "a,,t,mc,0,acc,0.5,0.1\n\"b,,t,mc,0,acc,0.5,0.1\n", 3, "unterminated quoted field"},
        {HEADER "\"a\"b,,t,mc,0,acc,0.5,0.1\n", 2, "after a closing quote"},
    };
    setup();
    const char *path = tmp_path("results.csv");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(path, cases[i].text);
        char want[1200];
        snprintf(want, sizeof want, "%s:%ld: ", path, cases[i].line);
        struct mill_err err = {0};
        struct mill_aggregate_table t;
        mill_aggregate_table_init(&t);
        CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_EFORMAT);
        CHECK_INT(t.n, 0);
        mill_aggregate_table_free(&t);
        if (strncmp(err.msg, want, strlen(want)) != 0 || !strstr(err.msg, cases[i].what)) {
            mtest_failed_checks++;
            fprintf(stderr, "case %zu: message \"%s\", expected \"%s...%s\"\n", i, err.msg, want,
                    cases[i].what);
        }
        struct mill_aggregate_row r = row("new", "t", 0, "acc", 0.5, 0.1);
        memset(&err, 0, sizeof err);
        CHECK_INT(mill_aggregate_upsert(path, &r, 1, &err), MILL_EFORMAT);
        CHECK(strncmp(err.msg, want, strlen(want)) == 0);
        char *after = mtest_read_file(path, NULL);
        CHECK_STR(after, cases[i].text); /* byte-identical */
        free(after);
    }
    /* a NUL byte */
    struct mill_err err = {0};
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    const char nul[] = HEADER "a,,t,mc,0,a\0c,0.5,0.1\n";
    CHECK_INT(mill_aggregate_parse(&t, nul, sizeof nul - 1, "n.csv", &err), MILL_EFORMAT);
    CHECK_STR(err.msg, "n.csv:2: NUL byte in the file");
    mill_aggregate_table_free(&t);
    teardown();
}

static void test_leaf_and_rollup(void) {
    double perf, se;
    const double acc[] = {1, 0, 1, 1, 0};
    CHECK_INT(mill_aggregate_leaf(acc, 5, &perf, &se), MILL_OK);
    CHECK(perf == 0.6);
    CHECK(se == 0.2449);
    CHECK_INT(mill_aggregate_leaf(acc, 1, &perf, &se), MILL_OK);
    CHECK(perf == 1.0 && se == 0.0);
    /* Python Mill's _stderr_of_mean: the std skips NaN (pandas), the sqrt(n) counts it */
    const double with_nan[] = {1, NAN, 0, 1};
    CHECK_INT(mill_aggregate_leaf(with_nan, 4, &perf, &se), MILL_OK);
    CHECK(perf == 0.6667);
    CHECK(se == 0.2887);
    const double with_nan2[] = {1, 0, 1, NAN, 1};
    CHECK_INT(mill_aggregate_leaf(with_nan2, 5, &perf, &se), MILL_OK);
    CHECK(perf == 0.75 && se == 0.2236);
    const double one_left[] = {NAN, 0.5, NAN}, with_inf[] = {-INFINITY, -1, -2};
    CHECK_INT(mill_aggregate_leaf(one_left, 3, &perf, &se), MILL_OK);
    CHECK(perf == 0.5 && se == 0.0); /* std of one value is NaN: 0.0 */
    CHECK_INT(mill_aggregate_leaf(with_inf, 3, &perf, &se), MILL_OK);
    CHECK(isinf(perf) && perf < 0 && se == 0.0);
    CHECK_INT(mill_aggregate_leaf(acc, 0, &perf, &se), MILL_OK);
    CHECK(isnan(perf) && se == 0.0);
    /* pandas' nanmean sums the NaN as 0.0 in place: -2.2126499999999996 (pandas 1.5.3), where
     * summing the 8 values alone gives -2.21265, which rounds to -2.2127 */
    const double ties[] = {NAN,     -1.8368, -1.7222, -2.2552, -1.9045,
                           -2.8744, -2.8808, -2.5881, -1.6392};
    CHECK_INT(mill_aggregate_leaf(ties, 9, &perf, &se), MILL_OK);
    CHECK(perf == -2.2126 && se == 0.1706);

    const double sub[] = {0.5, 0.7, 0.9};
    CHECK_INT(mill_aggregate_rollup(sub, NULL, 3, &perf, &se), MILL_OK);
    CHECK(perf == 0.7);
    CHECK(se == 0.1155); /* std = 0.2, / sqrt(3) */
    const int64_t counts[] = {100, 100, 200};
    CHECK_INT(mill_aggregate_rollup(sub, counts, 3, &perf, &se), MILL_OK);
    CHECK(perf == 0.75);
    CHECK(se == 0.1155); /* the SEM of the subtask scores is never weighted */
    CHECK_INT(mill_aggregate_rollup(sub, NULL, 1, &perf, &se), MILL_OK);
    CHECK(perf == 0.5 && se == 0.0);
    const double inf_sub[] = {1.0, INFINITY}; /* a NaN std (inf - inf): 0.0, not empty */
    CHECK_INT(mill_aggregate_rollup(inf_sub, NULL, 2, &perf, &se), MILL_OK);
    CHECK(isinf(perf) && se == 0.0);
    /* Python's sum(): 0.38425000000000004 / 10 rounds up; numpy's pairwise sum gives 0.38425,
     * which rounds to 0.3842 */
    const double ten[] = {0.1267, 0.6432, 0.501,  0.7498, 0.0144,
                          0.4144, 0.1736, 0.5744, 0.3614, 0.2836};
    CHECK_INT(mill_aggregate_rollup(ten, NULL, 10, &perf, &se), MILL_OK);
    CHECK(perf == 0.3843);
    const int64_t zero[] = {0, 0, 0};
    CHECK_INT(mill_aggregate_rollup(sub, zero, 3, &perf, &se), MILL_EINVAL);
    CHECK_INT(mill_aggregate_rollup(sub, NULL, 0, &perf, &se), MILL_EINVAL);
}

static void writer(const char *path, int who) {
    for (int i = 0; i < 200; i++) {
        char model[32], task[32];
        snprintf(model, sizeof model, "proc%d", who);
        snprintf(task, sizeof task, "task_%03d", i);
        struct mill_aggregate_row r = row(model, task, 0, "acc", i / 200.0, 0.0);
        struct mill_err err = {0};
        if (mill_aggregate_upsert(path, &r, 1, &err) != MILL_OK) {
            fprintf(stderr, "writer %d: %s\n", who, err.msg);
            _exit(1);
        }
    }
    _exit(0);
}

static void test_concurrent_upserts(void) {
    setup();
    const char *path = tmp_path("aggregate.csv");
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        pid[k] = fork();
        CHECK(pid[k] >= 0);
        if (pid[k] == 0)
            writer(path, k);
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        if (pid[k] > 0) {
            CHECK(waitpid(pid[k], &st, 0) == pid[k]);
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
    }
    struct mill_err err = {0};
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    CHECK_INT(mill_aggregate_read(&t, path, &err), MILL_OK);
    CHECK_INT(t.n, 400);
    int seen[2][200] = {{0}};
    for (size_t i = 0; i < t.n; i++) {
        int who = -1, idx = -1;
        if (sscanf(t.rows[i].model, "proc%d", &who) == 1 &&
            sscanf(t.rows[i].task, "task_%d", &idx) == 1 && who >= 0 && who < 2 && idx >= 0 &&
            idx < 200)
            seen[who][idx]++;
    }
    int all_once = 1;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 200; i++)
            all_once &= seen[k][i] == 1;
    CHECK(all_once);
    mill_aggregate_table_free(&t);
    teardown();
}

MTEST_MAIN(MTEST(test_missing_file_is_empty), MTEST(test_round_trip),
           MTEST(test_upsert_replaces_exactly_the_key), MTEST(test_upsert_deletes),
           MTEST(test_extra_columns_preserved), MTEST(test_quoting),
           MTEST(test_lenient_but_lossless_inputs), MTEST(test_older_header),
           MTEST(test_corrupt_files), MTEST(test_leaf_and_rollup), MTEST(test_concurrent_upserts))
