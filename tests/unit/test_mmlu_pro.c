/* test_mmlu_pro.c: the MMLU-Pro answer extraction against Python's `re` on a table of
 * real-looking generations (tests/reference/mmlu_pro_oracle.py under Debian's /usr/bin/python3),
 * plus the metric end to end on a doc. */
#include "metric/metrics.h"
#include "mtest.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <unistd.h>

/* A generation and its length (it may hold NULs, as a byte token <0x00> writes them). */
struct gen {
    const char *s;
    size_t n;
};
#define G(lit) \
    { lit, sizeof(lit) - 1 }

static const struct gen gens[] = {
    G("Let's think step by step. Water boils at 100 C.\nAnswer: B"),
    G("The answer is (C)."),
    G("the answer is d because..."),
    G("The answer is a bit tricky. Considering all options, E is right."),
    G("answer: (F)"),
    G("ANSWER : g"),
    G("I think it's H. Or maybe I. Final: J"),
    G("None of the options make sense."),
    G("Options A and B are wrong; C is correct.\n\nSo the final choice is C."),
    G(""),
    G("The correct option is K."),
    G("Answer:\n\nA"),
    G("answer is(J)"),
    G("Step 1: compute.\nStep 2: The answer is B.\nAnswer: C"),
    G("\xc3\xa9tude: the answer is \xc3\xa9 or E"),
    G("A) 12\nB) 13\nThe result is 13, i.e. B) ... wait, A"),
    G("answer is  (B)"),
    G("Answer: A\nAnswer: B"),
    G("I choose D.\nReasoning: X is not an option, nor is Z."),
    G("Therefore, the answer is $\\boxed{G}$."),
    /* Python's IGNORECASE takes U+0130/U+0131 for i/I, and U+017F for s; its \\s takes
     * U+001C..U+001F */
    G("(B) The B.K answer : \xc4\xb1\nDJ\xc3\xa9\n"),
    G("BB.  xa B\nAnswer:\n\xc4\xb0"),
    G("so the answer \xc4\xb0s C"),
    G("the an\xc5\xbfwer i\xc5\xbf (D)"),
    G("Answer:\x1c\x1d F"),
    G("answer: \xc4\xb0 then B"),
    /* NUL bytes are text: Python's re reads past them (and \\s does not take them) */
    G("The answer is\0 (C)."),
    G("Let me think.\0\nAnswer: B"),
    G("\0the answer is (D)"),
    G("answer is (E)\0 and then A"),
    G("Answer:\0 F"),
};

static void set_text(struct mill_sample_result *r, const char *s) {
    r->text = s;
    r->text_len = s ? strlen(s) : 0;
}

static void test_against_python(void) {
    char in[] = "/tmp/mill_mmlu_pro_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    struct mill_buf b = {0};
    size_t n = sizeof gens / sizeof gens[0];
    for (size_t i = 0; i < n; i++) {
        mill_buf_reset(&b);
        mill_buf_add_json_str(&b, gens[i].s, gens[i].n);
        fprintf(f, "%s\n", b.p);
    }
    fclose(f);
    mill_buf_free(&b);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/reference/mmlu_pro_oracle.py < %s",
             mtest_source_dir(), in);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char line[64];
    size_t k = 0;
    while (p && fgets(line, sizeof line, p) && k < n) {
        char want = line[0] == '-' ? 0 : line[0];
        char got = mill_mmlu_pro_extract(gens[k].s, gens[k].n);
        if (got != want)
            fprintf(stderr, "generation %zu: got '%c', python '%c'\n", k, got ? got : '-',
                    want ? want : '-');
        CHECK(got == want);
        k++;
    }
    CHECK(p && pclose(p) == 0);
    CHECK_INT(k, n);
    unlink(in);
}

static void test_metric(void) {
    const struct mill_metric *m = &mill_metrics_mmlu_pro.metrics[0];
    struct mill_doc d;
    mill_doc_init(&d);
    mill_doc_set_target_str(&d, "C");
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    struct mill_metric_ctx c = {42, "mmlu_pro"};
    struct mill_err e = {0};
    double v = -1;
    set_text(&r, "so the answer is (c)");
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 1.0);
    set_text(&r, "Answer: D");
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 0.0);
    set_text(&r, "no letter here");
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 0.0);
    mill_doc_free(&d);
}

MTEST_MAIN(MTEST(test_against_python), MTEST(test_metric))
