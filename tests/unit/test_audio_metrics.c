/* test_audio_metrics.c: the metrics of the generative audio tasks (src/metric/audio.c:
 * clotho_aqa_exact_match, esc50_gen_acc, urbansound8k_gen_acc; BEHAVIOUR.md §4.6, §4.7) on docs
 * made by the tasks' own prompt functions (src/task/audio_gen.c), against
 * tests/reference/audio_metrics_oracle.py under Debian's /usr/bin/python3, on tables of
 * realistic responses (casing, punctuation, underscores, Unicode case and whitespace, verbose
 * answers naming several classes); then a few values fixed by hand and the error cases. Fails,
 * never skips, without python3. */
#include "metric/metrics.h"
#include "mtest.h"
#include "task/tasks.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum { CLOTHO, ESC50, US8K };
static const char *const metric_names[] = {"clotho_aqa_exact_match", "esc50_gen_acc",
                                           "urbansound8k_gen_acc"};

struct metric_case {
    int task;
    const char *gold; /* clotho: the answer column; esc50/us8k: the class index, as text */
    const char *response;
};

/* clang-format off */
static const struct metric_case cases[] = {
    /* Clotho-AQA: one-word answers, mostly yes/no */
    {CLOTHO, "yes", "Yes."}, {CLOTHO, "yes", "yes"}, {CLOTHO, "yes", "YES!"},
    {CLOTHO, "yes", " yes \n"}, {CLOTHO, "yes", "Yes, it is."}, {CLOTHO, "no", "No"},
    {CLOTHO, "no", "No, there is not."}, {CLOTHO, "no", "no."}, {CLOTHO, "no", "Nope"},
    {CLOTHO, "yes", "No"}, {CLOTHO, "birds", "Birds."}, {CLOTHO, "birds", "bird"},
    {CLOTHO, "dog", "A dog"}, {CLOTHO, "dog", "dog's"}, {CLOTHO, "three", "Three!"},
    {CLOTHO, "three", "3"}, {CLOTHO, "rain", "\"Rain\""}, {CLOTHO, "rain", "(rain)"},
    {CLOTHO, "outside", "Out-side"}, {CLOTHO, "yes", "y_e_s"}, {CLOTHO, "yes", "ye s"},
    {CLOTHO, "yes", ""}, {CLOTHO, "", ""}, {CLOTHO, "", "..."}, {CLOTHO, "Yes", "yes"},
    {CLOTHO, "water", "Water\xe2\x80\xa6"}, {CLOTHO, "yes", "\xc2\xabyes\xc2\xbb"},
    {CLOTHO, "yes", "yes\xe3\x80\x80"}, {CLOTHO, "caf\xc3\xa9", "CAF\xc3\x89."},
    {CLOTHO, "\xc3\xa9t\xc3\xa9", "\xc3\x89T\xc3\x89"},
    {CLOTHO, "i\xcc\x87stanbul", "\xc4\xb0stanbul"},
    {CLOTHO, "\xce\xbf\xce\xb4\xce\xbf\xcf\x82", "\xce\x9f\xce\x94\xce\x9f\xce\xa3"},
    {CLOTHO, "\xce\xbf\xce\xb4\xce\xbf\xcf\x83", "\xce\x9f\xce\x94\xce\x9f\xce\xa3"},
    {CLOTHO, "two words", "Two  words."}, {CLOTHO, "yes", "yes\tyes"},
    {CLOTHO, "None", "none"}, {CLOTHO, "stra\xc3\x9f" "e", "STRASSE"},
    /* Final_Sigma past case-ignorable characters, full mappings (ß, ŉ, ǅ), title case ignored */
    {CLOTHO, "\xce\xbf\xcf\x82'\xcc\x81", "\xce\x9f\xce\xa3'\xcc\x81"},
    {CLOTHO, "\xce\xbf\xcf\x83'\xcc\x81", "\xce\x9f\xce\xa3'\xcc\x81"},
    {CLOTHO, "\xce\xb1\xcf\x83\xce\xb1", "\xce\x91\xce\xa3\xc2\xad\xce\x91"},
    {CLOTHO, "\xce\xb1\xcf\x83\xc2\xad\xce\xb1", "\xce\x91\xce\xa3\xc2\xad\xce\x91"},
    {CLOTHO, "\xce\xb1\xcf\x83\xce\xb1", "\xce\x91\xce\xa3'\xce\x91"},
    {CLOTHO, "\xc3\x9f", "\xe1\xba\x9e"}, {CLOTHO, "\xca\xbcn", "\xc5\x89"},
    {CLOTHO, "\xc7\x86", "\xc7\x85"}, {CLOTHO, "\xe2\x84\xaa", "k"},
    /* ESC-50: gold class index, then what an audio LM says */
    {ESC50, "0", "Dog"}, {ESC50, "0", "dog."}, {ESC50, "0", "The sound is a dog barking."},
    {ESC50, "0", "dog or cat"}, {ESC50, "5", "dog or cat"}, {ESC50, "5", "Category: cat"},
    {ESC50, "11", "Sea_Waves"}, {ESC50, "11", "sea waves"}, {ESC50, "11", "Sea waves."},
    {ESC50, "11", "waves crashing on a beach"}, {ESC50, "11", "SEA   WAVES crashing"},
    {ESC50, "30", "door wood creaks"}, {ESC50, "30", "Door wood knock"},
    {ESC50, "38", "clock alarm and clock tick"}, {ESC50, "37", "clock alarm and clock tick"},
    {ESC50, "6", "A chicken clucking"}, {ESC50, "45", "Training whistle"},
    {ESC50, "10", "thunderstorm and rain"}, {ESC50, "19", "thunderstorm and rain"},
    {ESC50, "44", "car horn and engine"}, {ESC50, "43", "car horn and engine"},
    {ESC50, "49", "a chainsaw"}, {ESC50, "41", "a chainsaw"}, {ESC50, "2", "cow pig"},
    {ESC50, "3", "cow pig"}, {ESC50, "20", "Crying baby."}, {ESC50, "20", "baby crying"},
    {ESC50, "46", "Church bells ringing"}, {ESC50, "0", ""}, {ESC50, "0", "   "},
    {ESC50, "0", "DOG_BARK"}, {ESC50, "29", "drinking, sipping"}, {ESC50, "29", "drinking sipping"},
    {ESC50, "7", "Insects buzzing."}, {ESC50, "7", "insect"}, {ESC50, "47", "AIRPLANE!"},
    /* UrbanSound8K */
    {US8K, "3", "Dog bark"}, {US8K, "3", "dog_bark"}, {US8K, "3", "A dog is barking"},
    {US8K, "8", "siren"}, {US8K, "8", "Police siren wailing."}, {US8K, "9", "street music"},
    {US8K, "9", "Street_Music."}, {US8K, "2", "children playing"},
    {US8K, "2", "Children playing in a park"}, {US8K, "0", "air conditioner"},
    {US8K, "0", "Air-conditioner"}, {US8K, "1", "car horn honking"}, {US8K, "1", "CAR HORN"},
    {US8K, "5", "engine idling"}, {US8K, "5", "an idling engine"}, {US8K, "7", "jackhammer"},
    {US8K, "7", "Jackhammer drilling"}, {US8K, "4", "Jackhammer drilling"},
    {US8K, "4", "drilling"}, {US8K, "6", "gun shot"}, {US8K, "6", "gunshot"},
    {US8K, "8", "siren and car horn"}, {US8K, "1", "siren and car horn"}, {US8K, "3", ""},
    {US8K, "9", "music"}, {US8K, "4", "DRILLING."}, {US8K, "6", "Gun_shot!"},
    {US8K, "2", "children_playing"}, {US8K, "5", "engine_idling"}, {US8K, "0", "the air conditioner hums"},
};
/* clang-format on */

/* A row as the Hub stores it: the label (or question and answer) and an audio struct. */
static void make_row(struct mill_value *row, const struct metric_case *c) {
    struct mill_value v, audio;
    mill_value_struct(row);
    if (c->task == CLOTHO) {
        CHECK_INT(mill_value_str(&v, "Is it raining?", 14), 0);
        CHECK_INT(mill_value_struct_set(row, "question", &v), 0);
        CHECK_INT(mill_value_str(&v, c->gold, strlen(c->gold)), 0);
        CHECK_INT(mill_value_struct_set(row, "answer", &v), 0);
    } else {
        mill_value_int(&v, strtoll(c->gold, NULL, 10));
        CHECK_INT(mill_value_struct_set(row, c->task == ESC50 ? "target" : "classID", &v), 0);
    }
    mill_value_struct(&audio);
    CHECK_INT(mill_value_bytes(&v, "RIFF", 4), 0);
    CHECK_INT(mill_value_struct_set(&audio, "bytes", &v), 0);
    CHECK_INT(mill_value_str(&v, "clip.wav", 8), 0);
    CHECK_INT(mill_value_struct_set(&audio, "path", &v), 0);
    CHECK_INT(mill_value_struct_set(row, "audio", &audio), 0);
}

/* The doc the task's prompt function makes for case c. */
static int make_doc(struct mill_doc *d, const struct metric_case *c) {
    struct mill_value row;
    struct mill_err e = {0};
    make_row(&row, c);
    mill_doc_init(d);
    int rc = mill_tasks_audio_gen.tasks[c->task].prompt(&mill_tasks_audio_gen.tasks[c->task], &row,
                                                        d, &e);
    mill_value_free(&row);
    return rc;
}

/* The metric's value for text[0..n) (it may hold NULs); NAN on an error, its code in *rc. */
static double score_n(const char *name, const struct mill_doc *d, const char *text, size_t n,
                      int *rc) {
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    struct mill_metric_ctx c = {42, "t"};
    struct mill_err e = {0};
    const struct mill_metric *m = NULL;
    double v = NAN;
    for (size_t i = 0; i < mill_metrics_audio.n; i++)
        if (!strcmp(mill_metrics_audio.metrics[i].name, name))
            m = &mill_metrics_audio.metrics[i];
    r.text = text;
    r.text_len = n;
    *rc = m ? m->fn(d, &r, &c, &v, &e) : -1;
    return *rc ? NAN : v;
}

static double score(const char *name, const struct mill_doc *d, const char *text, int *rc) {
    return score_n(name, d, text, text ? strlen(text) : 0, rc);
}

/* The oracle's values for every case, in order; NULL when it could not run. */
static double *oracle_values(void) {
    char in[] = "/tmp/mill_audio_metrics_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    for (size_t i = 0; f && i < N(cases); i++) {
        struct mill_doc d;
        struct mill_buf b = {0};
        CHECK_INT(make_doc(&d, &cases[i]), 0);
        mill_buf_addf(&b, "{\"metric\":\"%s\",\"response\":", metric_names[cases[i].task]);
        mill_buf_add_json_str(&b, cases[i].response, strlen(cases[i].response));
        mill_buf_adds(&b, ",\"gold\":");
        mill_buf_add_json_str(&b, d.target_str, strlen(d.target_str));
        mill_buf_adds(&b, ",\"classes\":[");
        for (size_t k = 0; k < d.n_choices; k++) {
            mill_buf_adds(&b, k ? "," : "");
            mill_buf_add_json_str(&b, d.choices[k], strlen(d.choices[k]));
        }
        fprintf(f, "%s]}\n", b.p);
        mill_buf_free(&b);
        mill_doc_free(&d);
    }
    if (f)
        fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/reference/audio_metrics_oracle.py < %s",
             mtest_source_dir(), in);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    double *out = calloc(N(cases), sizeof *out);
    char line[64];
    size_t k = 0;
    while (p && k < N(cases) && fgets(line, sizeof line, p))
        out[k++] = strtod(line, NULL);
    CHECK(p && pclose(p) == 0);
    CHECK_INT(k, N(cases));
    unlink(in);
    if (k == N(cases))
        return out;
    free(out);
    return NULL;
}

static void test_against_python(void) {
    size_t per_task[3] = {0}, ones = 0;
    for (size_t i = 0; i < N(cases); i++)
        per_task[cases[i].task]++;
    CHECK(per_task[CLOTHO] >= 30 && per_task[ESC50] >= 30 && per_task[US8K] >= 30);
    double *want = oracle_values();
    for (size_t i = 0; want && i < N(cases); i++) {
        struct mill_doc d;
        int rc;
        CHECK_INT(make_doc(&d, &cases[i]), 0);
        double got = score(metric_names[cases[i].task], &d, cases[i].response, &rc);
        CHECK_INT(rc, 0);
        if (got != want[i])
            fprintf(stderr, "case %zu (%s, gold \"%s\", \"%s\"): got %g, python %g\n", i,
                    metric_names[cases[i].task], d.target_str, cases[i].response, got, want[i]);
        CHECK(got == want[i]);
        ones += want[i] == 1.0;
        mill_doc_free(&d);
    }
    /* the tables are not one-sided: both outcomes occur often */
    CHECK(ones > N(cases) / 4 && ones < N(cases) * 3 / 4);
    free(want);
}

/* Values fixed by hand, and what a metric cannot score. */
static void test_fixed(void) {
    struct mill_doc d;
    int rc;
    const struct metric_case dog = {ESC50, "0", ""}, cat = {ESC50, "5", ""};
    CHECK_INT(make_doc(&d, &dog), 0);
    CHECK_INT(d.n_choices, 50);
    CHECK_STR(d.target_str, "dog");
    CHECK_STR(d.choices[11], "sea waves");
    CHECK(score("esc50_gen_acc", &d, "It is a DOG.", &rc) == 1.0);
    CHECK(score("esc50_gen_acc", &d, "hot dog or cat", &rc) == 1.0); /* dog comes first */
    CHECK(score("esc50_gen_acc", &d, "", &rc) == 0.0);
    /* NUL bytes are text (audio_metrics_oracle.py gives these values): the longest class is
     * looked for past one, and a response of one NUL is not empty */
    CHECK(score_n("esc50_gen_acc", &d, "a cat\0 or a dog", 15, &rc) == 1.0);
    CHECK(score_n("esc50_gen_acc", &d, "\0", 1, &rc) == 0.0 && rc == 0);
    score("esc50_gen_acc", &d, NULL, &rc);
    CHECK_INT(rc, MILL_EINVAL);
    mill_doc_free(&d);
    CHECK_INT(make_doc(&d, &cat), 0);
    CHECK(score("esc50_gen_acc", &d, "hot dog or cat", &rc) == 0.0);
    mill_doc_free(&d);
    const struct metric_case yes = {CLOTHO, "Yes", ""};
    CHECK_INT(make_doc(&d, &yes), 0);
    CHECK_STR(d.query, "Is it raining? Answer the question using a single word only.");
    CHECK(score("clotho_aqa_exact_match", &d, "yes!!", &rc) == 1.0);
    CHECK(score("clotho_aqa_exact_match", &d, "yes it is", &rc) == 0.0);
    CHECK(score_n("clotho_aqa_exact_match", &d, "yes\0", 4, &rc) == 0.0); /* no punctuation */
    mill_doc_free(&d);
    mill_doc_init(&d); /* no gold, no classes */
    score("urbansound8k_gen_acc", &d, "siren", &rc);
    CHECK_INT(rc, MILL_EINVAL);
    score("clotho_aqa_exact_match", &d, "yes", &rc);
    CHECK_INT(rc, MILL_EINVAL);
    mill_doc_free(&d);
}

/* Rows the prompt functions refuse: a label out of range, no audio. */
static void test_bad_rows(void) {
    struct mill_doc d;
    const struct metric_case big = {ESC50, "50", ""}, neg = {US8K, "-1", ""};
    CHECK_INT(make_doc(&d, &big), MILL_EFORMAT);
    mill_doc_free(&d);
    CHECK_INT(make_doc(&d, &neg), MILL_EFORMAT);
    mill_doc_free(&d);
    struct mill_value row, v;
    struct mill_err e = {0};
    mill_value_struct(&row);
    mill_value_int(&v, 1);
    CHECK_INT(mill_value_struct_set(&row, "target", &v), 0);
    mill_doc_init(&d);
    CHECK_INT(
        mill_tasks_audio_gen.tasks[ESC50].prompt(&mill_tasks_audio_gen.tasks[ESC50], &row, &d, &e),
        MILL_EFORMAT);
    CHECK(strstr(e.msg, "no audio bytes") != NULL);
    mill_doc_free(&d);
    mill_value_free(&row);
}

MTEST_MAIN(MTEST(test_against_python), MTEST(test_fixed), MTEST(test_bad_rows))
