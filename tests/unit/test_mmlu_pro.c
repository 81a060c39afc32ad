/* test_mmlu_pro.c: the MMLU-Pro answer extraction against Python's `re` on a table of
 * real-looking generations (tests/reference/mmlu_pro_oracle.py under Debian's /usr/bin/python3),
 * plus the metric end to end on a doc. */
#include "metric/metrics.h"
#include "mtest.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <unistd.h>

static const char *const gens[] = {
    "Let's think step by step. Water boils at 100 C.\nAnswer: B",
    "The answer is (C).",
    "the answer is d because...",
    "The answer is a bit tricky. Considering all options, E is right.",
    "answer: (F)",
    "ANSWER : g",
    "I think it's H. Or maybe I. Final: J",
    "None of the options make sense.",
    "Options A and B are wrong; C is correct.\n\nSo the final choice is C.",
    "",
    "The correct option is K.",
    "Answer:\n\nA",
    "answer is(J)",
    "Step 1: compute.\nStep 2: The answer is B.\nAnswer: C",
    "\xc3\xa9tude: the answer is \xc3\xa9 or E",
    "A) 12\nB) 13\nThe result is 13, i.e. B) ... wait, A",
    "answer is  (B)",
    "Answer: A\nAnswer: B",
    "I choose D.\nReasoning: X is not an option, nor is Z.",
    "Therefore, the answer is $\\boxed{G}$.",
    /* Python's IGNORECASE takes U+0130/U+0131 for i/I, and U+017F for s; its \\s takes
     * U+001C..U+001F */
    "(B) The B.K answer : \xc4\xb1\nDJ\xc3\xa9\n",
    "BB.  xa B\nAnswer:\n\xc4\xb0",
    "so the answer \xc4\xb0s C",
    "the an\xc5\xbfwer i\xc5\xbf (D)",
    "Answer:\x1c\x1d F",
    "answer: \xc4\xb0 then B",
};

static void test_against_python(void) {
    char in[] = "/tmp/mill_mmlu_pro_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    struct mill_buf b = {0};
    size_t n = sizeof gens / sizeof gens[0];
    for (size_t i = 0; i < n; i++) {
        mill_buf_reset(&b);
        mill_buf_add_json_str(&b, gens[i], strlen(gens[i]));
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
        char got = mill_mmlu_pro_extract(gens[k]);
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
    r.text = "so the answer is (c)";
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 1.0);
    r.text = "Answer: D";
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 0.0);
    r.text = "no letter here";
    CHECK_INT(m->fn(&d, &r, &c, &v, &e), 0);
    CHECK(v == 0.0);
    mill_doc_free(&d);
}

MTEST_MAIN(MTEST(test_against_python), MTEST(test_metric))
