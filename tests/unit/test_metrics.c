/* test_metrics.c: the generic metrics of src/metric/generic.c (BEHAVIOUR.md §3.5), looked up by name
 * through the registry as the runner does: acc (index gold, string gold against the chosen
 * choice), acc_norm (best log-prob per character, lm-eval's len(choice), non-ASCII choices and
 * the delimiter space), exact_match and contains_answer (stripping, case,
 * gold by index), perplexity (mean log-prob, non-perplexity results refused), and every error
 * path: a negative code with a message that names the task. */
#include "eval/registry.h"
#include "mtest.h"

#include <mill/doc.h>

#include <stdlib.h>

#define TASK "metrics_task"

static struct mill_registry *reg;

/* Runs metric name on doc/res; the error, if any, goes into *err. */
static int run_metric(const char *name, const struct mill_doc *doc,
                      const struct mill_sample_result *res, double *out, struct mill_err *err) {
    const struct mill_metric *m = mill_registry_metric(reg, name);
    CHECK(m != NULL);
    if (!m)
        return MILL_ENOTFOUND;
    struct mill_metric_ctx ctx = {.seed = 42, .task = TASK};
    memset(err, 0, sizeof *err);
    *out = -99.0;
    return m->fn(doc, res, &ctx, out, err);
}

/* The value of metric name, or NAN (and a failed check) when it errs. */
static double value_of(const char *name, const struct mill_doc *doc,
                       const struct mill_sample_result *res) {
    struct mill_err err;
    double v;
    int rc = run_metric(name, doc, res, &v, &err);
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", name, err.msg);
        return NAN;
    }
    return v;
}

/* The metric must fail with MILL_EINVAL, leave no value, and name the task in its message. */
static void check_error(const char *name, const struct mill_doc *doc,
                        const struct mill_sample_result *res) {
    struct mill_err err;
    double v;
    int rc = run_metric(name, doc, res, &v, &err);
    CHECK(rc < 0);
    CHECK_INT(rc, MILL_EINVAL);
    CHECK_INT(err.code, MILL_EINVAL);
    CHECK(strstr(err.msg, "task " TASK) != NULL);
    CHECK(strstr(err.msg, name) != NULL);
    if (rc >= 0 || !strstr(err.msg, TASK))
        fprintf(stderr, "  %s: rc %d, msg \"%s\"\n", name, rc, err.msg);
}

/* A doc with the given choices (NULL-terminated) and an index gold. */
static void make_doc(struct mill_doc *d, const char *const *choices, int64_t gold) {
    mill_doc_init(d);
    CHECK_INT(mill_doc_set_query(d, "Q?"), 0);
    for (size_t i = 0; choices && choices[i]; i++)
        CHECK_INT(mill_doc_add_choice(d, choices[i]), 0);
    d->target_index = gold;
}

static void test_registered(void) {
    static const struct {
        const char *name;
        bool higher;
    } want[] = {
        {"acc", true},         {"acc_norm", true}, {"exact_match", true}, {"contains_answer", true},
        {"perplexity", false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct mill_metric *m = mill_registry_metric(reg, want[i].name);
        CHECK(m != NULL);
        if (m) {
            CHECK_STR(m->name, want[i].name);
            CHECK_INT(m->higher_is_better, want[i].higher);
            CHECK(m->fn != NULL);
        }
    }
    CHECK(mill_registry_metric(reg, "no_such_metric") == NULL);
}

static void test_acc_index_gold(void) {
    static const char *const ch[] = {"A", "B", "C", NULL};
    struct mill_doc d;
    make_doc(&d, ch, 1);
    struct mill_sample_result r = {
        .output_type = MILL_OUT_LOGPROBS, .pred_index = 1, .n_choices = 3};
    CHECK_NEAR(value_of("acc", &d, &r), 1.0, 0);
    r.pred_index = 2;
    CHECK_NEAR(value_of("acc", &d, &r), 0.0, 0);
    r.pred_index = -1; /* no prediction is simply wrong when the gold is an index */
    CHECK_NEAR(value_of("acc", &d, &r), 0.0, 0);
    /* Classification results pass the predicted class the same way. */
    struct mill_sample_result c = {.classification = true, .pred_index = 1};
    CHECK_NEAR(value_of("acc", &d, &c), 1.0, 0);
    mill_doc_free(&d);
}

static void test_acc_string_gold(void) {
    static const char *const ch[] = {"A", "B", "C", NULL};
    struct mill_doc d;
    make_doc(&d, ch, -1);
    CHECK_INT(mill_doc_set_target_str(&d, "B"), 0);
    struct mill_sample_result r = {
        .output_type = MILL_OUT_LOGPROBS, .pred_index = 1, .n_choices = 3};
    CHECK_NEAR(value_of("acc", &d, &r), 1.0, 0);
    r.pred_index = 0;
    CHECK_NEAR(value_of("acc", &d, &r), 0.0, 0);
    r.pred_index = 2;
    CHECK_NEAR(value_of("acc", &d, &r), 0.0, 0);
    /* A string gold needs a prediction inside the choices. */
    r.pred_index = -1;
    check_error("acc", &d, &r);
    r.pred_index = 3;
    check_error("acc", &d, &r);
    mill_doc_free(&d);
}

static void test_acc_errors(void) {
    static const char *const ch[] = {"A", "B", NULL};
    struct mill_doc d;
    make_doc(&d, ch, -1); /* neither an index nor a string gold */
    struct mill_sample_result r = {
        .output_type = MILL_OUT_LOGPROBS, .pred_index = 0, .n_choices = 2};
    check_error("acc", &d, &r);
    mill_doc_free(&d);
}

static void test_acc_norm(void) {
    /* Raw argmax is choice 0 (-2 > -4), but per character choice 1 wins (-4/4 = -1 > -2/1). */
    static const char *const ch[] = {"a", "bbbb", "cc", NULL};
    double lp[] = {-2.0, -4.0, -5.0};
    struct mill_doc d;
    make_doc(&d, ch, 1);
    struct mill_sample_result r = {
        .output_type = MILL_OUT_LOGPROBS, .pred_index = 0, .logprobs = lp, .n_choices = 3};
    CHECK_NEAR(value_of("acc_norm", &d, &r), 1.0, 0);
    CHECK_NEAR(value_of("acc", &d, &r), 0.0, 0); /* acc follows the raw argmax */
    d.target_index = 0;
    CHECK_NEAR(value_of("acc_norm", &d, &r), 0.0, 0);
    /* Ties go to the first best choice. */
    double tie[] = {-1.0, -4.0, -6.0};
    r.logprobs = tie;
    CHECK_NEAR(value_of("acc_norm", &d, &r), 1.0, 0);
    /* Errors: no log-probs, a count that differs from the doc's, no index gold. */
    r.logprobs = NULL;
    check_error("acc_norm", &d, &r);
    r.logprobs = lp;
    r.n_choices = 2;
    check_error("acc_norm", &d, &r);
    r.n_choices = 3;
    d.target_index = -1;
    CHECK_INT(mill_doc_set_target_str(&d, "bbbb"), 0);
    check_error("acc_norm", &d, &r);
    mill_doc_free(&d);
}

/* lm-eval divides by len(choice) in characters, the target delimiter " " not counted: for
 * choices " \u00e9" and " ab" (lm-eval: "\u00e9", "ab" after " ") the lengths are 1 and 2, so
 * -1.5/1 < -2.5/2 and choice 1 wins. Bytes with the space (3, 3) or without it (2, 2) would
 * pick choice 0, as would the raw argmax. */
static void test_acc_norm_characters(void) {
    static const char *const ch[] = {" \xC3\xA9", " ab", NULL};
    double lp[] = {-1.5, -2.5};
    struct mill_doc d;
    make_doc(&d, ch, 1);
    struct mill_sample_result r = {
        .output_type = MILL_OUT_LOGPROBS, .pred_index = 0, .logprobs = lp, .n_choices = 2};
    CHECK_NEAR(value_of("acc_norm", &d, &r), 1.0, 0);
    mill_doc_free(&d);
    /* Without a leading space every character counts: "xy\u4e2d" is 3, "abcdefg" 7. */
    static const char *const ch2[] = {"xy\xE4\xB8\xAD", "abcdefg", NULL};
    double lp2[] = {-3.3, -7.0}; /* -1.1 vs -1.0: choice 1; by bytes (5, 7) choice 0 */
    make_doc(&d, ch2, 1);
    r.logprobs = lp2;
    CHECK_NEAR(value_of("acc_norm", &d, &r), 1.0, 0);
    mill_doc_free(&d);
}

static void set_text(struct mill_sample_result *r, const char *s) {
    r->text = s;
    r->text_len = s ? strlen(s) : 0;
}

static void test_exact_match(void) {
    struct mill_doc d;
    make_doc(&d, NULL, -1);
    CHECK_INT(mill_doc_set_target_str(&d, " Paris \n"), 0);
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    set_text(&r, "\t Paris  \n");
    CHECK_NEAR(value_of("exact_match", &d, &r), 1.0, 0);
    set_text(&r, "paris"); /* case matters */
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    set_text(&r, "Paris is the capital"); /* a whole-string match, not containment */
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    set_text(&r, "Pa ris");
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    r.text = "Paris\0"; /* a NUL is text, and str.strip() keeps it */
    r.text_len = 6;
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    set_text(&r, "\xc2\xa0Paris\xe3\x80\x80\x1f"); /* str.strip()'s Unicode whitespace */
    CHECK_NEAR(value_of("exact_match", &d, &r), 1.0, 0);
    set_text(&r, "\xe2\x80\x8bParis"); /* U+200B is not whitespace */
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    set_text(&r, NULL);
    check_error("exact_match", &d, &r);
    mill_doc_free(&d);

    /* An index gold is choices[target_index]. */
    static const char *const ch[] = {" car", " apple ", NULL};
    make_doc(&d, ch, 1);
    set_text(&r, "apple");
    CHECK_NEAR(value_of("exact_match", &d, &r), 1.0, 0);
    set_text(&r, " car");
    CHECK_NEAR(value_of("exact_match", &d, &r), 0.0, 0);
    d.target_index = 0;
    CHECK_NEAR(value_of("exact_match", &d, &r), 1.0, 0);
    /* No gold at all (neither a string nor an index) is an error. */
    d.target_index = -1;
    check_error("exact_match", &d, &r);
    mill_doc_free(&d);

    /* Empty after stripping on both sides is a match. */
    make_doc(&d, NULL, -1);
    CHECK_INT(mill_doc_set_target_str(&d, "  "), 0);
    set_text(&r, "\n");
    CHECK_NEAR(value_of("exact_match", &d, &r), 1.0, 0);
    mill_doc_free(&d);
}

static void test_contains_answer(void) {
    struct mill_doc d;
    make_doc(&d, NULL, -1);
    CHECK_INT(mill_doc_set_target_str(&d, "  Paris\n"), 0);
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    set_text(&r, "I think the answer is PARIS, France.");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 1.0, 0);
    set_text(&r, "  paris  ");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 1.0, 0);
    set_text(&r, "Par is");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 0.0, 0);
    set_text(&r, "Rome");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 0.0, 0);
    r.text = "Rome\0 or paris";
    r.text_len = 14;
    CHECK_NEAR(value_of("contains_answer", &d, &r), 1.0, 0);
    mill_doc_free(&d);
    /* str.lower() of every script (É, Σ with its final form), str.strip()'s whitespace */
    make_doc(&d, NULL, -1);
    CHECK_INT(mill_doc_set_target_str(
                  &d, "\xc2\xa0\xc3\xa9t\xc3\xa9 \xce\xbf\xce\xb4\xce\xbf\xcf\x82\xe3\x80\x80"),
              0);
    set_text(&r, "C'\xc3\xa9tait L'\xc3\x89T\xc3\x89 \xce\x9f\xce\x94\xce\x9f\xce\xa3.");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 1.0, 0);
    set_text(&r, "L'\xc3\x89T\xc3\x89 \xce\x9f\xce\x94\xce\x9f\xce\xa3\xce\xa3");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 0.0, 0); /* ΟΔΟΣΣ lowers to οδοσς */
    set_text(&r, NULL);
    check_error("contains_answer", &d, &r);
    mill_doc_free(&d);

    /* The gold may be choices[target_index]; the inner spaces of the gold still count. */
    static const char *const ch[] = {"New York", "Los Angeles", NULL};
    make_doc(&d, ch, 0);
    set_text(&r, "it is new york city");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 1.0, 0);
    set_text(&r, "newyork");
    CHECK_NEAR(value_of("contains_answer", &d, &r), 0.0, 0);
    d.target_index = -1;
    check_error("contains_answer", &d, &r);
    mill_doc_free(&d);
}

static void test_perplexity(void) {
    struct mill_doc d;
    make_doc(&d, NULL, -1);
    struct mill_sample_result r = {
        .output_type = MILL_OUT_PERPLEXITY, .pred_index = -1, .mean_logprob = -1.25};
    CHECK_NEAR(value_of("perplexity", &d, &r), -1.25, 0);
    r.mean_logprob = 0.0;
    CHECK_NEAR(value_of("perplexity", &d, &r), 0.0, 0);
    /* Generative and log-prob results are refused. */
    r.output_type = MILL_OUT_GENERATIVE;
    set_text(&r, "some text");
    check_error("perplexity", &d, &r);
    r.output_type = MILL_OUT_LOGPROBS;
    set_text(&r, NULL);
    check_error("perplexity", &d, &r);
    mill_doc_free(&d);
}

static void setup(void) {
    struct mill_err err = {0};
    int rc = mill_registry_init(&reg, &err);
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "registry: %s\n", err.msg);
        exit(1);
    }
}

static void teardown(void) {
    mill_registry_free(reg);
    reg = NULL;
}

MTEST_MAIN(MTEST(setup), MTEST(test_registered), MTEST(test_acc_index_gold),
           MTEST(test_acc_string_gold), MTEST(test_acc_errors), MTEST(test_acc_norm),
           MTEST(test_acc_norm_characters), MTEST(test_exact_match), MTEST(test_contains_answer),
           MTEST(test_perplexity), MTEST(teardown))
