/* test_vision_mcq.c: the prompt functions of the vision multiple-choice tasks (BEHAVIOUR.md
 * §4.3-4.5) called directly on rows built here.
 *
 * cifar10_mcq / imagenet_mcq: every option order, distractor draw, gold letter and query of
 * tests/reference/vision_mcq_oracle.py (CPython's own `random`, run by Debian's
 * /usr/bin/python3; over 3000 keys, odd ones included, and seeds 42 and 1234) equal ours; rows
 * without key, image or a valid label fail their sample. A missing interpreter or script is a
 * failure, never a skip.
 * mmmu_pro / mmmu_pro_clip: images in citation order (each once), all attached ones when none
 * is cited, the first only for CLIP; the query, captions, gold and metadata; rows citing an
 * absent image, without images or with options that are not a list fail, naming the id.
 * (tests/cli/test_vision_tasks.sh compares whole prompts with the oracle on Parquet fixtures.)
 * Must not write any files. */
#include "mtest.h"

#include "task/tasks.h"

#include <mill/value.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ORACLE_PYTHON "/usr/bin/python3"

static const struct mill_task_config *find_task(const struct mill_tasks_table *t,
                                                const char *name) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->tasks[i].name, name))
            return &t->tasks[i];
    return NULL;
}

static const struct mill_benchmark_config *find_benchmark(const char *name) {
    for (size_t k = 0; mill_builtin_benchmarks[k]; k++)
        for (size_t i = 0; i < mill_builtin_benchmarks[k]->n; i++)
            if (!strcmp(mill_builtin_benchmarks[k]->benchmarks[i].name, name))
                return &mill_builtin_benchmarks[k]->benchmarks[i];
    return NULL;
}

/* ---- rows ---- */

static void set_str(struct mill_value *row, const char *key, const char *s) {
    struct mill_value v;
    CHECK(mill_value_str(&v, s, strlen(s)) == 0);
    CHECK(mill_value_struct_set(row, key, &v) == 0);
}

static void set_bytes(struct mill_value *row, const char *key, const char *s) {
    struct mill_value v;
    CHECK(mill_value_bytes(&v, s, strlen(s)) == 0);
    CHECK(mill_value_struct_set(row, key, &v) == 0);
}

static void set_int(struct mill_value *row, const char *key, int64_t i) {
    struct mill_value v;
    mill_value_int(&v, i);
    CHECK(mill_value_struct_set(row, key, &v) == 0);
}

/* A WebDataset sample as wds.c yields it: __key__, the image under column img, cls. */
static void wds_row(struct mill_value *row, const char *key, const char *img, int64_t cls) {
    mill_value_struct(row);
    if (key)
        set_str(row, "__key__", key);
    if (img)
        set_bytes(row, img, "RIFF....WEBPVP8L fake image");
    if (cls != INT64_MIN)
        set_int(row, "cls", cls);
}

/* Runs task's prompt on row with seed; returns its code, the doc in *doc (caller frees). */
static int prompt(const struct mill_task_config *t, const struct mill_value *row, int64_t seed,
                  struct mill_doc *doc, struct mill_err *err) {
    mill_doc_init(doc);
    doc->seed = seed;
    memset(err, 0, sizeof *err);
    return t->prompt(t, row, doc, err);
}

/* ---- against CPython ---- */

static char *unhex(const char *h) {
    size_t n = strlen(h) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; s && i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            v = 0;
        s[i] = (char)v;
    }
    if (s)
        s[n] = 0;
    return s;
}

/* The metadata options joined by "\n", or NULL when they are not a list of strings. */
static char *joined_options(const struct mill_doc *d) {
    const struct mill_value *o = mill_value_get(&d->metadata, "options");
    struct mill_buf b = {0};
    if (!o || o->kind != MILL_V_LIST)
        return NULL;
    for (size_t i = 0; i < o->u.list.n; i++) {
        const char *s = mill_value_as_str(&o->u.list.items[i]);
        if (!s) {
            mill_buf_free(&b);
            return NULL;
        }
        mill_buf_addf(&b, "%s%s", i ? "\n" : "", s);
    }
    return mill_buf_take(&b);
}

struct oracle_case {
    char task[32], gold[8];
    long long seed, cls;
    char *key, *query, *options; /* decoded */
};

static int parse_case(char *line, struct oracle_case *c) {
    static char keyh[4096], qh[16384], oh[65536];
    if (sscanf(line, "%31s %lld %4095s %lld %7s %16383s %65535s", c->task, &c->seed, keyh, &c->cls,
               c->gold, qh, oh) != 7)
        return -1;
    c->key = unhex(keyh);
    c->query = unhex(qh);
    c->options = unhex(oh);
    return c->key && c->query && c->options ? 0 : -1;
}

/* Our doc for one oracle case equals the oracle's: 1 when it does. */
static int same_as_oracle(const struct oracle_case *c) {
    const struct mill_task_config *t = find_task(&mill_tasks_vision_mcq, c->task);
    struct mill_value row;
    struct mill_doc d;
    struct mill_err err;
    if (!t)
        return 0;
    wds_row(&row, c->key, "0.webp", c->cls);
    int rc = prompt(t, &row, c->seed, &d, &err);
    char *opts = rc ? NULL : joined_options(&d);
    const char *key = mill_value_as_str(mill_value_get(&d.metadata, "key"));
    int same = !rc && d.query && !strcmp(d.query, c->query) && d.target_str &&
               !strcmp(d.target_str, c->gold) && opts && !strcmp(opts, c->options) && key &&
               !strcmp(key, c->key) && d.n_choices == 0 && d.n_media == 1 &&
               d.media[0].kind == MILL_MOD_IMAGE && d.media[0].n == 27 &&
               !memcmp(d.media[0].data, "RIFF....WEBPVP8L fake image", 27);
    if (!same)
        fprintf(
            stderr,
            "%s seed %lld key '%s' cls %lld: rc %d (%s)\n  python: %s / %s\n  mill:   %s / %s\n",
            c->task, c->seed, c->key, c->cls, rc, err.msg, c->gold, c->options,
            d.target_str ? d.target_str : "(null)", opts ? opts : "(null)");
    free(opts);
    mill_doc_free(&d);
    mill_value_free(&row);
    return same;
}

static void test_against_cpython(void) {
    char script[4096], cmd[4200];
    mtest_source_path(script, sizeof script, "tests/reference/vision_mcq_oracle.py");
    CHECK(access(ORACLE_PYTHON, X_OK) == 0);
    CHECK(access(script, R_OK) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s' draws", ORACLE_PYTHON, script);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char *line = NULL;
    size_t cap = 0;
    long n = 0, bad = 0, per_task[2] = {0, 0};
    while (p && getline(&line, &cap, p) > 0) {
        struct oracle_case c = {0};
        n++;
        if (parse_case(line, &c) || !same_as_oracle(&c))
            bad++;
        per_task[!strcmp(c.task, "imagenet_mcq")]++;
        free(c.key);
        free(c.query);
        free(c.options);
    }
    free(line);
    int status = p ? pclose(p) : -1;
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fprintf(stderr,
            "test_against_cpython: %ld cases (%ld cifar10_mcq, %ld imagenet_mcq), %ld "
            "differ\n",
            n, per_task[0], per_task[1], bad);
    CHECK(per_task[0] > 6000 && per_task[1] > 6000);
    CHECK_INT(bad, 0);
}

/* ---- the rest ---- */

static void expect_fail(const char *task, const struct mill_value *row, const char *msg_part) {
    const struct mill_task_config *t = find_task(&mill_tasks_vision_mcq, task);
    struct mill_doc d;
    struct mill_err err;
    int rc = prompt(t, row, 42, &d, &err);
    CHECK_INT(rc, MILL_EFORMAT);
    if (!strstr(err.msg, msg_part))
        fprintf(stderr, "%s: message '%s' lacks '%s'\n", task, err.msg, msg_part);
    CHECK(strstr(err.msg, msg_part) != NULL);
    mill_doc_free(&d);
}

static void test_bad_rows(void) {
    static const char *const tasks[] = {"cifar10_mcq", "imagenet_mcq"};
    for (int k = 0; k < 2; k++) {
        struct mill_value row;
        wds_row(&row, NULL, "0.webp", 3);
        expect_fail(tasks[k], &row, "no __key__");
        mill_value_free(&row);
        wds_row(&row, "s7", NULL, 3);
        expect_fail(tasks[k], &row, "s7 has no image");
        mill_value_free(&row);
        wds_row(&row, "s7", "0.txt", 3);
        expect_fail(tasks[k], &row, "s7 has no image");
        mill_value_free(&row);
        wds_row(&row, "s8", "0.webp", INT64_MIN);
        expect_fail(tasks[k], &row, "s8 has no valid cls");
        mill_value_free(&row);
        wds_row(&row, "s9", "0.webp", -1);
        expect_fail(tasks[k], &row, "s9 has no valid cls");
        mill_value_free(&row);
        wds_row(&row, "s10", "0.webp", k ? 1000 : 10);
        expect_fail(tasks[k], &row, "s10 has no valid cls");
        mill_value_free(&row);
    }
}

/* Any image extension (webp as CLIP_benchmark writes it, png, jpg, jpeg); the gold is the
 * letter of cls; cls 999 (the last ImageNet class) works. */
static void test_image_columns(void) {
    static const char *const cols[] = {"webp", "png", "jpg", "0.jpeg"};
    for (size_t i = 0; i < 4; i++) {
        struct mill_value row;
        struct mill_doc d;
        struct mill_err err;
        wds_row(&row, "k", cols[i], 999);
        int rc = prompt(find_task(&mill_tasks_vision_mcq, "imagenet_mcq"), &row, 7, &d, &err);
        CHECK_INT(rc, 0);
        CHECK_INT(d.n_media, 1);
        const struct mill_value *o = mill_value_get(&d.metadata, "options");
        CHECK(d.target_str && d.target_str[0] >= 'A' && d.target_str[0] <= 'J' && o &&
              o->kind == MILL_V_LIST && o->u.list.n == 10);
        if (!rc && o && d.target_str)
            CHECK_STR(mill_value_as_str(&o->u.list.items[d.target_str[0] - 'A']), "toilet paper");
        mill_doc_free(&d);
        mill_value_free(&row);
    }
}

static void check_mcq_config(const char *name, const char *metric) {
    const struct mill_task_config *t = find_task(&mill_tasks_vision_mcq, name);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_INT(t->task_type, MILL_TASK_MULTIPLE_CHOICE);
    CHECK_INT(t->output_type, MILL_OUT_GENERATIVE);
    CHECK_INT(t->input_modalities, MILL_MOD_IMAGE | MILL_MOD_TEXT);
    CHECK_INT(t->generation_size, 32);
    CHECK(t->stop_sequences == NULL);
    CHECK_INT(t->n_shots, 0);
    CHECK(t->metrics && t->metrics[0] && !t->metrics[1]);
    CHECK_STR(t->metrics[0], metric);
}

static void check_benchmark(const char *name, const char *t0, const char *t1) {
    const struct mill_benchmark_config *b = find_benchmark(name);
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK(b->pick_variant_by_model);
    CHECK(mill_strv_len(b->task_names) == 2);
    CHECK_STR(b->task_names[0], t0);
    CHECK_STR(b->task_names[1], t1);
    CHECK(!strstr(b->description, "later"));
}

static void test_configs(void) {
    check_mcq_config("cifar10_mcq", "cifar10_mcq_acc");
    check_mcq_config("imagenet_mcq", "imagenet_mcq_acc");
    check_benchmark("cifar10", "cifar10", "cifar10_mcq");
    check_benchmark("imagenet", "imagenet", "imagenet_mcq");
    const char *const *cifar = mill_cifar10_classnames();
    CHECK_INT(mill_strv_len(cifar), 10);
    CHECK_INT(mill_strv_len(mill_imagenet_classnames()), 1000);
}

/* ---- mmmu_pro / mmmu_pro_clip ---- */

/* An image column as the Hub stores it: {bytes, path}; bytes NULL makes a null struct field. */
static void set_image(struct mill_value *row, int n, const char *bytes) {
    struct mill_value img, v;
    char col[16];
    snprintf(col, sizeof col, "image_%d", n);
    mill_value_struct(&img);
    if (bytes)
        CHECK(mill_value_bytes(&v, bytes, strlen(bytes)) == 0);
    else
        mill_value_null(&v);
    CHECK(mill_value_struct_set(&img, "bytes", &v) == 0);
    CHECK(mill_value_str(&v, col, strlen(col)) == 0);
    CHECK(mill_value_struct_set(&img, "path", &v) == 0);
    CHECK(mill_value_struct_set(row, col, &img) == 0);
}

/* A row: images "1".."7" present where `have` has the digit, "-" a null struct. */
static void mmmu_row(struct mill_value *row, const char *question, const char *options,
                     const char *have) {
    mill_value_struct(row);
    set_str(row, "id", "test_Art_42");
    set_str(row, "question", question);
    set_str(row, "options", options);
    for (int n = 1; n <= 7; n++) {
        char digit[2] = {(char)('0' + n), 0};
        if (strchr(have, digit[0]))
            set_image(row, n, digit);
        else
            set_image(row, n, NULL);
    }
    set_str(row, "answer", " B ");
    set_str(row, "subject", "Art");
}

static const struct mill_task_config *mmmu_task(bool clip) {
    return find_task(&mill_tasks_mmmu_pro, clip ? "mmmu_pro_clip" : "mmmu_pro");
}

/* The doc's image bytes, concatenated ("31" = image_3 then image_1). */
static void media_order(const struct mill_doc *d, char *out, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < d->n_media && k + 1 < n; i++)
        if (d->media[i].kind == MILL_MOD_IMAGE && d->media[i].n == 1)
            out[k++] = (char)d->media[i].data[0];
    out[k] = 0;
}

static void expect_images(const char *question, const char *have, bool clip, const char *want) {
    struct mill_value row;
    struct mill_doc d;
    struct mill_err err;
    char got[16];
    mmmu_row(&row, question, "['x', 'y']", have);
    int rc = prompt(mmmu_task(clip), &row, 42, &d, &err);
    media_order(&d, got, sizeof got);
    if (rc || strcmp(got, want))
        fprintf(stderr, "question '%s' (images %s): rc %d (%s), images '%s', want '%s'\n", question,
                have, rc, err.msg, got, want);
    CHECK(rc == 0 && !strcmp(got, want));
    mill_doc_free(&d);
    mill_value_free(&row);
}

static void test_mmmu_images(void) {
    expect_images("See <image 3> and <image 1>.", "1234567", false, "31");
    expect_images("<image 2> vs <image 1>, again <image 2>", "12", false, "212");
    expect_images("<image\t2> and <image  1> and <image 03>", "123", false, "213");
    expect_images("No marker; <image2> and <image x> are not markers.", "1-3-5", false, "135");
    expect_images("Which is older?", "7", false, "7");
    expect_images("See <image 3> and <image 1>.", "1234567", true, "3");
    expect_images("Which is older?", "-2-4", true, "2");
    /* Python Mill's rule: citations of absent images are left out; none left, all attached. */
    expect_images("See <image 1> and <image 4>.", "123", false, "1");
    expect_images("See <image 8>.", "1234567", false, "1234567");
    expect_images("See <image 0>.", "1", false, "1");
    expect_images("See <image 2>.", "1-3", false, "13");
    expect_images("See <image 4>, <image 2>.", "1-3", true, "1");
}

static void expect_mmmu_fail(const char *question, const char *options, const char *have,
                             const char *msg_part) {
    for (int clip = 0; clip < 2; clip++) {
        struct mill_value row;
        struct mill_doc d;
        struct mill_err err;
        mmmu_row(&row, question, options, have);
        int rc = prompt(mmmu_task(clip), &row, 42, &d, &err);
        CHECK_INT(rc, MILL_EFORMAT);
        if (!strstr(err.msg, "test_Art_42") || !strstr(err.msg, msg_part))
            fprintf(stderr, "'%s' / %s: message '%s' lacks the id or '%s'\n", question, options,
                    err.msg, msg_part);
        CHECK(strstr(err.msg, "test_Art_42") && strstr(err.msg, msg_part));
        mill_doc_free(&d);
        mill_value_free(&row);
    }
}

static void test_mmmu_bad_rows(void) {
    expect_mmmu_fail("Which?", "['a', 'b']", "", "no image");
    expect_mmmu_fail("Which?", "['a', 'b']", "-", "no image");
    expect_mmmu_fail("See <image \xd9\xa1>.", "['a', 'b']", "1", "non-ASCII digits");
    expect_mmmu_fail("Which?", "'a, b'", "1", "options");
    expect_mmmu_fail("Which?", "['a', 'b'", "1", "options");
    expect_mmmu_fail("Which?", "[]", "1", "options");
    expect_mmmu_fail("Which?", "['a', <image 1>]", "1", "options");
}

static void test_mmmu_docs(void) {
    struct mill_value row;
    struct mill_doc d;
    struct mill_err err;
    mmmu_row(&row, "Compare <image 2>\nwith  <image 1>:", "['$6', \"Tom's\", 3, '<image 1>']",
             "12");
    int rc = prompt(mmmu_task(false), &row, 42, &d, &err);
    CHECK_INT(rc, 0);
    CHECK_STR(d.query, "Compare <image>\nwith  <image>:\nA. $6\nB. Tom's\nC. 3\nD. <image 1>\n"
                       "Answer the preceding multiple choice question. The last line of your "
                       "response should be of the following format: 'Answer: $LETTER' (without "
                       "quotes) where LETTER is one of options. Think step by step before "
                       "answering.");
    CHECK_STR(d.target_str, "B");
    CHECK_INT(d.n_choices, 0);
    CHECK_INT(d.n_media, 2);
    const struct mill_value *o = mill_value_get(&d.metadata, "options");
    CHECK(o && o->kind == MILL_V_LIST && o->u.list.n == 4);
    if (o && o->kind == MILL_V_LIST && o->u.list.n == 4)
        CHECK_STR(mill_value_as_str(&o->u.list.items[2]), "3");
    CHECK_STR(mill_value_as_str(mill_value_get(&d.metadata, "id")), "test_Art_42");
    CHECK_STR(mill_value_as_str(mill_value_get(&d.metadata, "subject")), "Art");
    CHECK_STR(d.metadata.u.obj.keys[0], "subject");
    mill_doc_free(&d);

    rc = prompt(mmmu_task(true), &row, 42, &d, &err);
    CHECK_INT(rc, 0);
    CHECK_STR(d.query, "");
    CHECK_INT(d.n_choices, 4);
    if (d.n_choices == 4) {
        CHECK_STR(d.choices[0], "Compare the image with the image: $6");
        CHECK_STR(d.choices[3], "Compare the image with the image: <image 1>");
    }
    CHECK_INT(d.target_index, 1);
    CHECK_INT(d.n_media, 1);
    mill_doc_free(&d);
    mill_value_free(&row);
}

/* mmmu_pro_clip: a gold letter outside the options, or not a letter, is index 0. */
static void test_mmmu_clip_gold(void) {
    static const char *const answers[] = {"C", "c", "Z", "", "AB"};
    static const int64_t want[] = {2, 2, 0, 0, 0}; /* str(answer).strip().upper() */
    for (size_t i = 0; i < 5; i++) {
        struct mill_value row, v;
        struct mill_doc d;
        struct mill_err err;
        mmmu_row(&row, "Q\u3000\t <image 1>", "['a', 'b', 'c']", "1");
        CHECK(mill_value_str(&v, answers[i], strlen(answers[i])) == 0);
        CHECK(mill_value_struct_set(&row, "answer", &v) == 0);
        int rc = prompt(mmmu_task(true), &row, 42, &d, &err);
        CHECK_INT(rc, 0);
        CHECK_INT(d.target_index, want[i]);
        if (d.n_choices == 3)
            CHECK_STR(d.choices[2], "Q the image c");
        mill_doc_free(&d);
        mill_value_free(&row);
    }
}

/* Captions: only the question is normalised ("{question} {option}".strip()); the generative
 * gold is uppercased. */
static void test_mmmu_captions(void) {
    struct mill_value row, v;
    struct mill_doc d;
    struct mill_err err;
    mmmu_row(&row, " Q\n <image 1> ", "['a  red\\ncar', ' x', '<image 1>', '']", "1");
    int rc = prompt(mmmu_task(true), &row, 42, &d, &err);
    CHECK_INT(rc, 0);
    CHECK_INT(d.n_choices, 4);
    if (d.n_choices == 4) {
        CHECK_STR(d.choices[0], "Q the image a  red\ncar");
        CHECK_STR(d.choices[1], "Q the image  x");
        CHECK_STR(d.choices[2], "Q the image <image 1>");
        CHECK_STR(d.choices[3], "Q the image");
    }
    mill_doc_free(&d);
    CHECK(mill_value_str(&v, " c\t", 3) == 0);
    CHECK(mill_value_struct_set(&row, "answer", &v) == 0);
    rc = prompt(mmmu_task(false), &row, 42, &d, &err);
    CHECK_INT(rc, 0);
    CHECK_STR(d.target_str, "C");
    mill_doc_free(&d);
    mill_value_free(&row);
}

static void test_mmmu_configs(void) {
    const struct mill_task_config *g = mmmu_task(false), *c = mmmu_task(true);
    CHECK(g && c);
    if (!g || !c)
        return;
    CHECK_INT(g->task_type, MILL_TASK_MULTIPLE_CHOICE);
    CHECK_INT(g->output_type, MILL_OUT_GENERATIVE);
    CHECK_INT(g->input_modalities, MILL_MOD_IMAGE | MILL_MOD_TEXT);
    CHECK_INT(g->generation_size, 1024);
    CHECK_STR(g->metrics[0], "mmmu_pro_acc");
    CHECK_STR(g->hf_repo, "MMMU/MMMU_Pro");
    CHECK_STR(g->hf_subset, "standard (10 options)");
    CHECK_INT(c->task_type, MILL_TASK_ZERO_SHOT_CLASSIFICATION);
    CHECK_INT(c->input_modalities, MILL_MOD_IMAGE);
    CHECK(c->zeroshot_templates && !strcmp(c->zeroshot_templates[0], "{c}") &&
          !c->zeroshot_templates[1]);
    CHECK_STR(c->metrics[0], "acc");
    check_benchmark("mmmu_pro", "mmmu_pro", "mmmu_pro_clip");
    const struct mill_benchmark_config *b = find_benchmark("mmmu_pro");
    CHECK(b && b->metric_names && !strcmp(b->metric_names[0], "mmmu_pro_acc") &&
          !b->metric_names[1]);
}

MTEST_MAIN(MTEST(test_against_cpython), MTEST(test_bad_rows), MTEST(test_image_columns),
           MTEST(test_configs), MTEST(test_mmmu_images), MTEST(test_mmmu_bad_rows),
           MTEST(test_mmmu_docs), MTEST(test_mmmu_clip_gold), MTEST(test_mmmu_captions),
           MTEST(test_mmmu_configs))
