/* test_samples.c: the per-sample file's lock (src/out/samples.c): a second open of a job's file
 * while this process still holds it calls before_wait once, before waiting, and takes the lock
 * when that callback has released it (the runner ends a held job there, ARCHITECTURE.md §1);
 * the callback's error fails the open; a free lock never calls it; what a first open wrote
 * counts as done for the next. */
#include "mtest.h"
#include "out/samples.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct holder {
    struct mill_samples *s; /* the open that holds the lock */
    int calls;
    int fail; /* the error to return instead of releasing */
};

static int release(void *ud, struct mill_err *err) {
    struct holder *h = ud;
    h->calls++;
    if (h->fail)
        return mill_err_set(err, h->fail, "the held job failed");
    mill_samples_close(h->s);
    h->s = NULL;
    return 0;
}

static void test_before_wait(void) {
    char dir[] = "/tmp/mill_test_samples.XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/o/task_0shot.jsonl", dir);
    const char *metrics[] = {"acc", NULL};
    struct mill_err err = {0};
    struct holder h = {0};
    CHECK_INT(mill_samples_open(path, 1234, metrics, 1, NULL, NULL, &h.s, &err), 0);
    double one = 1.0;
    CHECK_INT(mill_samples_append(h.s, 0, &one, false,
                                  "{\"doc_id\": 0, \"seed\": 1234, \"acc\": 1.0}", &err),
              0);
    CHECK_INT(mill_samples_flush(h.s, &err), 0);

    h.fail = MILL_EBACKEND; /* the callback's error is the open's */
    struct mill_samples *s2 = NULL;
    CHECK_INT(mill_samples_open(path, 1234, metrics, 1, release, &h, &s2, &err), MILL_EBACKEND);
    CHECK(s2 == NULL && h.calls == 1 && h.s != NULL);
    CHECK(strstr(err.msg, "the held job failed") != NULL);

    h.fail = 0; /* released by the callback: no wait, the first open's line is done */
    CHECK_INT(mill_samples_open(path, 1234, metrics, 1, release, &h, &s2, &err), 0);
    CHECK(h.calls == 2 && h.s == NULL && s2 != NULL);
    CHECK(s2 && mill_samples_n_resumed(s2, 10) == 1 && mill_samples_done(s2, 0, NULL, 0, NULL));

    char other[80];
    snprintf(other, sizeof other, "%s/o/other_0shot.jsonl", dir);
    struct mill_samples *s3 = NULL; /* a free lock: the callback is not called */
    CHECK_INT(mill_samples_open(other, 1234, metrics, 1, release, &h, &s3, &err), 0);
    CHECK_INT(h.calls, 2);
    mill_samples_close(s2);
    mill_samples_close(s3);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

/* The samples file of seed 7 and metric acc holding lines, opened in a new directory (dir,
 * removed by close_lines). */
static struct mill_samples *open_lines(char *dir, const char *lines) {
    char path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/t_0shot.jsonl", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(lines, f);
        fclose(f);
    }
    const char *metrics[] = {"acc", NULL};
    struct mill_err err = {0};
    struct mill_samples *s = NULL;
    CHECK_INT(mill_samples_open(path, 7, metrics, 1, NULL, NULL, &s, &err), 0);
    CHECK(s != NULL);
    return s;
}

static void close_lines(char *dir, struct mill_samples *s) {
    mill_samples_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

/* A resumed line whose doc_id no split could have (a corrupt or edited file) is kept but not
 * reused, and allocates nothing: the lines around it still count. */
static void test_huge_doc_id(void) {
    char dir[] = "/tmp/mill_test_samples.XXXXXX";
    struct mill_samples *s =
        open_lines(dir, "{\"doc_id\": 0, \"seed\": 7, \"acc\": 1.0}\n"
                        "{\"doc_id\": 1000000000000, \"seed\": 7, \"acc\": 1.0}\n"
                        "{\"doc_id\": 134217728, \"seed\": 7, \"acc\": 0.0}\n"
                        "{\"doc_id\": 77743048, \"seed\": 7, \"acc\": 0.0}\n"
                        "{\"doc_id\": 2, \"seed\": 7, \"acc\": 0.0}\n");
    /* 77743048 is below 2^27 but far past what 5 lines number: it would have cost 1.6 GB
     * (fuzz_samples' out-of-memory input) */
    CHECK(s && mill_samples_n_resumed(s, 10) == 2 && mill_samples_done(s, 0, NULL, 0, NULL) &&
          mill_samples_done(s, 2, NULL, 0, NULL) &&
          !mill_samples_done(s, 134217728, NULL, 0, NULL) &&
          !mill_samples_done(s, 77743048, NULL, 0, NULL));
    CHECK(s && mill_samples_n_resumed(s, 100000000) == 2);
    close_lines(dir, s);
}

/* A resumed line counts for a doc of its own split only (doc_ids run on across splits, so a
 * run with another --limit numbers the docs otherwise); a line without a split counts for any,
 * and so does every doc when no split is asked; n_resumed counts the lines below n. */
static void test_split_of_line(void) {
    char dir[] = "/tmp/mill_test_samples.XXXXXX";
    struct mill_samples *s =
        open_lines(dir, "{\"doc_id\": 0, \"split\": \"a\", \"seed\": 7, \"acc\": 1.0}\n"
                        "{\"doc_id\": 1, \"split\": \"b\", \"seed\": 7, \"acc\": 1.0}\n"
                        "{\"doc_id\": 2, \"seed\": 7, \"acc\": 0.0}\n"
                        "{\"doc_id\": 5, \"split\": \"a\", \"seed\": 7, \"acc\": 0.0}\n"
                        "{\"doc_id\": 6, \"seed\": 7, \"acc\": 1.0}\n"
                        "{\"doc_id\": 6, \"seed\": 7, \"error\": \"boom\"}\n"
                        "{\"doc_id\": 0, \"seed\": 8, \"error\": \"other seed\"}\n");
    if (s) {
        CHECK(mill_samples_done(s, 0, "a", 0, NULL) && !mill_samples_done(s, 0, "b", 0, NULL));
        CHECK(mill_samples_done(s, 1, "b", 1, NULL) && !mill_samples_done(s, 1, "a", 1, NULL));
        CHECK(mill_samples_done(s, 2, "a", 2, NULL) && mill_samples_done(s, 2, "b", 2, NULL));
        CHECK(mill_samples_done(s, 1, NULL, 0, NULL));
        CHECK(mill_samples_n_resumed(s, 3) == 3 && mill_samples_n_resumed(s, 7) == 4);
        /* a doc's failed last line undoes its earlier answer (not another seed's) */
        CHECK(!mill_samples_done(s, 6, NULL, 0, NULL) && mill_samples_done(s, 0, NULL, 0, NULL));
    }
    close_lines(dir, s);
}

/* Of a task of two splits, a line names its doc's index within its split ("split_doc"): the
 * same split at the same doc_id is another doc when the first split's count changed (--limit 3
 * put b's first doc at 3; --limit 2 puts b's second doc there). */
static void test_split_doc(void) {
    char dir[] = "/tmp/mill_test_samples.XXXXXX";
    struct mill_samples *s = open_lines(
        dir, "{\"doc_id\": 2, \"split\": \"a\", \"split_doc\": 2, \"seed\": 7, \"acc\": 1.0}\n"
             "{\"doc_id\": 3, \"split\": \"b\", \"split_doc\": 0, \"seed\": 7, \"acc\": 1.0}\n"
             "{\"doc_id\": 4, \"split\": \"b\", \"seed\": 7, \"acc\": 1.0}\n");
    if (s) {
        CHECK(mill_samples_done(s, 2, "a", 2, NULL) && !mill_samples_done(s, 2, "b", 0, NULL));
        CHECK(mill_samples_done(s, 3, "b", 0, NULL) && !mill_samples_done(s, 3, "b", 1, NULL));
        CHECK(mill_samples_done(s, 4, "b", 4, NULL) && !mill_samples_done(s, 4, "b", 2, NULL));
    }
    close_lines(dir, s);
}

MTEST_MAIN(MTEST(test_before_wait), MTEST(test_huge_doc_id), MTEST(test_split_of_line),
           MTEST(test_split_doc))
