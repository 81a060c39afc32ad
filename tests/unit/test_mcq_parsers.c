/* test_mcq_parsers.c: the letter parsers of src/metric/mcq.c, Mill's generic one (BEHAVIOUR.md
 * §3.6) and the MMMU-Pro grader (§4.5), against their Python port
 * tests/reference/mcq_oracle.py under Debian's /usr/bin/python3 (whose random.Random string
 * seeding is the reference for the fall-back draws), on tables of realistic responses, each
 * under two seeds; then the three metrics on docs. Fails, never skips, without python3. */
#include "core/random.h"
#include "metric/metrics.h"
#include "mtest.h"

#include <mill/buf.h>

#include <stdlib.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Option sets, as tasks store them in metadata "options". */
static const char *const cifar[] = {"dog",   "truck", "airplane", "cat",  "frog",
                                    "horse", "bird",  "ship",     "deer", "automobile"};
static const char *const imagenet[] = {
    "tench",        "goldfish", "great white shark", "tiger shark", "hammerhead shark",
    "electric ray", "stingray", "rooster",           "hen",         "ostrich"};
static const char *const mmmu[] = {"$6",        "$8",
                                   "Tom's",     "10\302\260C",
                                   "<image 1>", "$\\frac{1}{2}$",
                                   "25%",       "None of the above",
                                   "3.5 m/s",   "I and II only"};
static const char *const four[] = {"Paris", "London", "Berlin", "Madrid"};
static const char *const blank[] = {"", "yes", "no"};
static const char *const two[] = {"True", "False"};
/* options whose case differs from the responses' beyond ASCII (str.lower() folds them) */
static const char *const intl[] = {"\xc3\x89T\xc3\x89", "\xce\x9f\xce\x94\xce\x9f\xce\xa3",
                                   "Stra\xc3\x9f"
                                   "e",
                                   "\xc4\xb0stanbul"};

struct optset {
    const char *const *v;
    size_t n;
};
static const struct optset sets[] = {
    {cifar, N(cifar)}, {imagenet, N(imagenet)}, {mmmu, N(mmmu)}, {four, N(four)},
    {blank, N(blank)}, {two, N(two)},           {intl, N(intl)},
};
enum { CIFAR, IMAGENET, MMMU, FOUR, BLANK, TWO, INTL };

struct generic_case {
    int set;
    const char *response;
    size_t len; /* a response may hold NUL bytes, as a byte token <0x00> writes them */
};
#define C(set, lit) \
    { set, lit, sizeof(lit) - 1 }

/* Generations a VLM gives to the *_mcq prompts (and some that trip the parser). */
static const struct generic_case generic_cases[] = {
    C(INTL, "I am quite sure the season shown here is \xc3\xa9t\xc3\xa9 and not winter"),
    C(INTL, "The sign in the picture clearly reads \xce\xbf\xce\xb4\xce\xbf\xcf\x82 in Greek"),
    C(INTL, "It reads \xce\x9f\xce\x94\xce\x9f\xce\xa3 then \xc3\x89t\xc3\xa9 at the end"),
    C(INTL, "Without any doubt the answer must be STRASSE in this case"),
    C(INTL, "The city on the map is i\xcc\x87stanbul near the old strait"),
    C(CIFAR, "The answer is (B)."),
    C(CIFAR, "Final Answer: C"),
    C(CIFAR, "**Answer: D**"),
    C(CIFAR, "answer: b"),
    C(CIFAR, "The correct answer is E because the image shows a frog."),
    C(CIFAR, "(A) dog"),
    C(CIFAR, "I think it's (C) or maybe (A)."),
    C(CIFAR, "B"),
    C(CIFAR, "B."),
    C(CIFAR, "C)"),
    C(CIFAR, "The image shows a truck parked on the street near a house."),
    C(CIFAR, "This looks like a cat, or possibly a dog, sitting on a mat."),
    C(CIFAR, "no answer"),
    C(CIFAR, ""),
    C(CIFAR, "I cannot determine the answer from the image."),
    C(CIFAR, "Answer: K"),
    C(CIFAR, "The answer is Z. The answer is B."),
    C(CIFAR, "Answer: A. Wait, no. Answer: C"),
    C(CIFAR, "Let's think step by step. The image shows a four-legged animal with antlers. Deer "
             "have antlers, while horses do not.\nAnswer: I"),
    C(CIFAR, "\347\255\224\346\241\210\346\230\257 (C)"),
    C(CIFAR, "The best answer is: 'D'"),
    C(CIFAR, "correct answer => `F`"),
    C(CIFAR, "answers = [G]"),
    C(CIFAR, "ANSWER IS H"),
    C(CIFAR, "The answer isn't clear, but A seems plausible."),
    C(CIFAR, "Option B is correct."),
    C(CIFAR, "Both A and B are possible, but B is better."),
    C(CIFAR, "A. dog\nB. truck"),
    C(CIFAR, "It is a horse"),
    C(CIFAR, "It is most likely a horse in a field."),
    C(CIFAR, "The answer is (b)"),
    C(CIFAR, "Answer:\n\n**C**"),
    C(CIFAR, "answer -> A"),
    C(CIFAR, "The final answers are B and D."),
    C(CIFAR, "Answer: (J)"),
    C(CIFAR, "\320\236\321\202\320\262\320\265\321\202: (B)"),
    C(CIFAR, "\360\237\230\200 C"),
    C(CIFAR, "C, D"),
    C(CIFAR, "A,."),
    C(CIFAR, "The answer is: A"),
    C(CIFAR, "Answer: B\nAnswer: A"),
    C(CIFAR, "Looking at the image, I see wings and a tail. Airplanes have wings. The answer is "
             "airplane, which is option C."),
    C(CIFAR, "(A) (B) (C)"),
    C(CIFAR, "answer:A"),
    C(CIFAR, "The answer (in my view) is B"),
    C(CIFAR, "Therefore the result is \\boxed{D}"),
    C(CIFAR, "a"),
    C(CIFAR, "   "),
    C(CIFAR, "\"E\""),
    C(CIFAR, "The animal in this picture is clearly an automobile, not a frog or a bird at all"),
    /* Python's \s and IGNORECASE "i": U+001F and U+2028 are blanks, U+180E is not; İ and ı */
    C(CIFAR, "F\304\260NAL ANSWER: B"),
    C(CIFAR, "f\304\261nal answer \304\260S C"),
    C(CIFAR, "answer\037D"),
    C(CIFAR, "The answer\342\200\250is E"),
    C(CIFAR, "answer\341\240\216F"),
    C(IMAGENET, "The fish looks like a great white shark rather than a tiger shark in my view."),
    C(IMAGENET, "It is a hen, but it could also be a rooster standing in the yard."),
    C(IMAGENET, "J) ostrich"),
    C(IMAGENET, "The correct option is E) electric ray."),
    C(IMAGENET, "I believe this image shows a goldfish swimming in a small bowl."),
    C(MMMU, "The answer is I"),
    C(MMMU, "Based on the figure, the value is 10\302\260C and it will rise to 25% later."),
    C(FOUR, "DNA is key"),
    C(FOUR, "The answer is J"),
    C(FOUR, "Paris is the capital of France, not London."),
    C(FOUR, "I'd go with Berlin, definitely not Madrid or Paris."),
    C(FOUR, "{D}"),
    C(BLANK, "yes"),
    C(BLANK, "I would say the answer to this question is clearly yes"),
    C(TWO, "True"),
    C(TWO, "The statement is False because the premise fails entirely."),
    C(CIFAR, "Let me look.\0The answer is (C)."),
    C(CIFAR, "\0Answer: D"),
    C(CIFAR, "(A)\0(B)"),
    C(CIFAR, "It is\0 E"),
    C(CIFAR, "This picture, we believe, shows a\0 cat sitting on the sofa"),
    C(CIFAR, "no\0answer"), /* the fall-back draw is keyed by the whole response */
    C(CIFAR, "\0"),
};

struct mmmu_case {
    int set;
    const char *response;
    const char *key; /* the doc's id, or its query when the id is empty */
    size_t len;      /* as in generic_case */
};
#define M(set, lit, key) \
    { set, lit, key, sizeof(lit) - 1 }

/* Chain-of-thought generations for the MMMU-Pro prompt ("Answer: $LETTER" last). */
static const struct mmmu_case mmmu_cases[] = {
    M(MMMU, "Answer: B", "validation_Physics_1"),
    M(MMMU, "Let's think step by step. The thermometer reads ten degrees.\nAnswer: D",
      "validation_Physics_2"),
    M(MMMU, "Answer: Based on the graph, C", "validation_Economics_3"),
    M(MMMU, "answer: b", "validation_Math_4"),
    M(MMMU, "**Answer: D**", "validation_Art_5"),
    M(MMMU, "The answer is (B).", "validation_Art_6"),
    M(MMMU, "Answer: (A) and (C)", "validation_Art_7"),
    M(MMMU, "Answer: The correct option is F", "validation_Biology_8"),
    M(MMMU, "Answer: I", "validation_Biology_9"),
    M(MMMU, "Answer: Z", "validation_Biology_10"),
    M(MMMU, "", "validation_Chemistry_11"),
    M(MMMU, "", "validation_Chemistry_12"),
    M(MMMU, "Answer:", "validation_Chemistry_13"),
    M(MMMU, "The value is 10\302\260C according to the thermometer reading shown.",
      "validation_Physics_14"),
    M(MMMU, "The price is $8 while Tom's share is $6 dollars total.", "validation_Finance_15"),
    M(MMMU, "Answer: A\nWait, let me reconsider.\nAnswer: G", "validation_Finance_16"),
    M(MMMU, "Answer: $\\frac{1}{2}$", "validation_Math_17"),
    M(MMMU, "ANSWER: C", "validation_Math_18"),
    M(MMMU, "Answer: C. Explanation: B is wrong because the slope is negative.",
      "validation_Math_19"),
    M(MMMU, "(A) is wrong, (B) is wrong, so (D).", "validation_Math_20"),
    M(MMMU, "\347\255\224\346\241\210\357\274\232C", "validation_History_21"),
    M(MMMU, "Answer: <image 1>", "validation_History_22"),
    M(MMMU,
      "The figure <image 1> shows three curves, and none of them fits; the correct choice is "
      "the one labelled None of the above, since the data contradict every option.",
      "validation_History_23"),
    M(MMMU, "Answer: \"B\"", "validation_Music_24"),
    M(MMMU, "Answer: 'B'", "validation_Music_25"),
    M(MMMU, "The answer is \"C\"", "validation_Music_26"),
    M(MMMU, "Answer: A, B", "validation_Music_27"),
    M(MMMU, "Answer: J", "validation_Design_28"),
    M(MMMU, "I think the answer is H.\nAnswer: H", "validation_Design_29"),
    M(MMMU, "Answer: H\n\nThis is because the option I described fits.", "validation_Design_30"),
    M(MMMU, "The speed is 3.5 m/s as computed from the slope of the position graph.",
      "validation_Physics_31"),
    M(MMMU, "Statements I and II only hold, so the answer should be the last option listed.",
      "validation_Physics_32"),
    M(MMMU, "Answer: E\n", "validation_Physics_33"),
    M(MMMU, "Answer:  G  ", "validation_Physics_34"),
    M(MMMU, "Answer:E", "validation_Physics_35"),
    M(MMMU, "answer: e\nAnswer: F", "validation_Physics_36"),
    M(MMMU, "Final answer: (C)", "validation_Physics_37"),
    M(MMMU, "The correct answer is D.", "validation_Physics_38"),
    M(MMMU, "D.", "validation_Physics_39"),
    M(MMMU, "B", "validation_Physics_40"),
    M(MMMU, "Step 1: compute the area. Step 2: divide. Answer: G.", "validation_Math_41"),
    M(MMMU, "No answer can be determined.", "validation_Math_42"),
    M(MMMU, "\316\224H = -286 kJ/mol, so the reaction is exothermic.\nAnswer: A",
      "validation_Chemistry_43"),
    M(MMMU, "Answer: \316\261", "validation_Chemistry_44"),
    M(MMMU, "Answer: (E) <image 1>", "validation_Chemistry_45"),
    M(MMMU, "It is 25% of the total, i.e. one quarter of the whole sample here.",
      "validation_Chemistry_46"),
    M(MMMU, "So the answer: B. Answer: C. Answer: D", "validation_Chemistry_47"),
    M(MMMU, "Answer: A B C D E F G H I J", "validation_Chemistry_48"),
    M(FOUR, "Answer: D", ""),
    M(FOUR, "The capital is Berlin, I am certain of it beyond any doubt.", ""),
    M(FOUR, "Answer: I", "q-51"),
    M(FOUR, "", "q-52"),
    M(TWO, "Answer: False", "q-53"),
    M(TWO, "Answer: A", "q-54"),
    M(MMMU, "Answer:\0 C", "q-55"),
    M(MMMU, "Reasoning first.\0\nAnswer: B", "q-56"),
    M(FOUR, "Answer: D\0", "q-57"),
    M(FOUR, "It must be Madrid\0, not Paris, and I will not say more.", "q-58"),
    M(FOUR, "\0(B)", "q-59"),
};

static const int64_t seeds[] = {42, 7};

/* One oracle request line. */
static void request(FILE *f, const char *parser, const struct optset *o, const char *response,
                    size_t len, const char *key, int64_t seed) {
    struct mill_buf b = {0};
    mill_buf_addf(&b, "{\"parser\":\"%s\",\"seed\":%lld,\"options\":[", parser, (long long)seed);
    for (size_t i = 0; i < o->n; i++) {
        if (i)
            mill_buf_addc(&b, ',');
        mill_buf_add_json_str(&b, o->v[i], strlen(o->v[i]));
    }
    mill_buf_adds(&b, "],\"response\":");
    mill_buf_add_json_str(&b, response, len);
    mill_buf_adds(&b, ",\"key\":");
    mill_buf_add_json_str(&b, key, strlen(key));
    fprintf(f, "%s}\n", b.p);
    mill_buf_free(&b);
}

/* The oracle's letters for every case of both tables under every seed, in the order written:
 * the generic cases, then the MMMU-Pro ones, seed by seed. NULL when it could not run. */
static char *oracle_letters(size_t total) {
    char in[] = "/tmp/mill_mcq_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    for (size_t s = 0; f && s < N(seeds); s++) {
        for (size_t i = 0; i < N(generic_cases); i++)
            request(f, "generic", &sets[generic_cases[i].set], generic_cases[i].response,
                    generic_cases[i].len, "", seeds[s]);
        for (size_t i = 0; i < N(mmmu_cases); i++)
            request(f, "mmmu_pro", &sets[mmmu_cases[i].set], mmmu_cases[i].response,
                    mmmu_cases[i].len, mmmu_cases[i].key, seeds[s]);
    }
    if (f)
        fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/reference/mcq_oracle.py < %s",
             mtest_source_dir(), in);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char *out = calloc(total + 1, 1), line[64];
    size_t k = 0;
    while (p && k < total && fgets(line, sizeof line, p))
        out[k++] = line[0];
    CHECK(p && pclose(p) == 0);
    CHECK_INT(k, total);
    unlink(in);
    if (k == total)
        return out;
    free(out);
    return NULL;
}

static void report(const char *parser, size_t i, int64_t seed, const char *response, char got,
                   char want) {
    if (got != want)
        fprintf(stderr, "%s case %zu (seed %lld) \"%s\": got '%c', python '%c'\n", parser, i,
                (long long)seed, response, got ? got : '-', want);
    CHECK(got == want);
}

static void test_against_python(void) {
    CHECK(N(generic_cases) >= 50);
    CHECK(N(mmmu_cases) >= 50);
    size_t per_seed = N(generic_cases) + N(mmmu_cases);
    char *want = oracle_letters(per_seed * N(seeds));
    for (size_t s = 0; want && s < N(seeds); s++) {
        const char *w = want + s * per_seed;
        for (size_t i = 0; i < N(generic_cases); i++) {
            const struct generic_case *g = &generic_cases[i];
            const struct optset *o = &sets[g->set];
            report("generic", i, seeds[s], g->response,
                   mill_mcq_parse(g->response, g->len, o->v, o->n, seeds[s]), w[i]);
        }
        w += N(generic_cases);
        for (size_t i = 0; i < N(mmmu_cases); i++) {
            const struct mmmu_case *m = &mmmu_cases[i];
            const struct optset *o = &sets[m->set];
            report("mmmu_pro", i, seeds[s], m->response,
                   mill_mmmu_pro_parse(m->response, m->len, o->v, o->n, m->key, seeds[s]), w[i]);
        }
    }
    free(want);
}

/* An empty response parses to nothing: the letter is the seeded draw, and the seed matters. */
static void test_fallback(void) {
    struct mill_random r;
    const char *parts[2] = {"parse_multi_choice", ""};
    bool differs = false;
    for (int64_t seed = 0; seed < 20; seed++) {
        mill_sample_rng(&r, seed, parts, 2);
        char want = (char)('A' + mill_random_choice(&r, N(cifar)));
        char got = mill_mcq_parse("", 0, cifar, N(cifar), seed);
        CHECK(got == want);
        differs |= got != mill_mcq_parse("", 0, cifar, N(cifar), 0);
    }
    CHECK(differs);
    const char *mparts[2] = {"mmmu_pro", "id-1"};
    mill_sample_rng(&r, 42, mparts, 2);
    CHECK(mill_mmmu_pro_parse("", 0, mmmu, N(mmmu), "id-1", 42) ==
          (char)('A' + mill_random_choice(&r, N(mmmu))));
    CHECK(mill_mcq_parse("Answer: A", 9, cifar, 0, 42) == 0);
    CHECK(mill_mmmu_pro_parse("Answer: A", 9, cifar, 0, "k", 42) == 0);
    CHECK(mill_mcq_parse(NULL, 0, four, N(four), 42) == mill_mcq_parse("", 0, four, N(four), 42));
}

/* A doc with gold letter and metadata options (NULL: none). */
static void make_doc(struct mill_doc *d, const char *gold, const char *const *opts, size_t n) {
    mill_doc_init(d);
    CHECK_INT(mill_doc_set_query(d, "Which of these categories best describes the image?"), 0);
    CHECK_INT(mill_doc_set_target_str(d, gold), 0);
    if (!opts)
        return;
    struct mill_value list, item;
    mill_value_list(&list);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(mill_value_str(&item, opts[i], strlen(opts[i])), 0);
        CHECK_INT(mill_value_list_push(&list, &item), 0);
    }
    CHECK_INT(mill_doc_meta_set(d, "options", &list), 0);
    mill_value_free(&list);
}

static const struct mill_metric *metric(const char *name) {
    for (size_t i = 0; i < mill_metrics_mcq.n; i++)
        if (!strcmp(mill_metrics_mcq.metrics[i].name, name))
            return &mill_metrics_mcq.metrics[i];
    CHECK(0);
    return NULL;
}

/* The metric's value for text (NAN on an error, whose code goes to *rc). */
static double score(const char *name, const struct mill_doc *d, const char *text, int *rc) {
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    struct mill_metric_ctx c = {42, "t"};
    struct mill_err e = {0};
    double v = NAN;
    r.text = text;
    r.text_len = text ? strlen(text) : 0;
    const struct mill_metric *m = metric(name);
    *rc = m ? m->fn(d, &r, &c, &v, &e) : -1;
    return *rc ? NAN : v;
}

static void test_mcq_metrics(void) {
    struct mill_doc d;
    int rc;
    make_doc(&d, "B", cifar, N(cifar));
    CHECK(score("cifar10_mcq_acc", &d, "The answer is (B).", &rc) == 1.0);
    CHECK(score("cifar10_mcq_acc", &d, "It shows a truck on a road, clearly a truck.", &rc) == 1.0);
    CHECK(score("imagenet_mcq_acc", &d, "Answer: C", &rc) == 0.0);
    score("cifar10_mcq_acc", &d, NULL, &rc);
    CHECK_INT(rc, MILL_EINVAL);
    mill_doc_free(&d);

    make_doc(&d, " b\n", NULL, 0); /* no options: CIFAR-10's names in order; gold stripped */
    CHECK(score("cifar10_mcq_acc", &d, "This is a photo of an automobile on the highway.", &rc) ==
          1.0);
    CHECK(score("imagenet_mcq_acc", &d, "Answer: B", &rc) == 0.0 && rc == 0);
    mill_doc_free(&d);

    struct mill_value v;
    make_doc(&d, "A", NULL, 0);
    mill_value_int(&v, 3);
    CHECK_INT(mill_doc_meta_set(&d, "options", &v), 0);
    score("cifar10_mcq_acc", &d, "A", &rc);
    CHECK_INT(rc, MILL_EINVAL);
    mill_doc_free(&d);
}

static void test_mmmu_pro_metric(void) {
    struct mill_doc d;
    int rc;
    make_doc(&d, "C", mmmu, N(mmmu));
    CHECK(score("mmmu_pro_acc", &d, "Step by step...\nAnswer: C", &rc) == 1.0);
    CHECK(score("mmmu_pro_acc", &d, "Answer: D", &rc) == 0.0);
    /* the fall-back is keyed by the id, else by the query */
    char by_query = mill_mmmu_pro_parse("", 0, mmmu, N(mmmu), d.query, 42);
    CHECK(score("mmmu_pro_acc", &d, "", &rc) == (by_query == 'C'));
    CHECK_INT(mill_doc_meta_set_str(&d, "id", "validation_Art_1"), 0);
    char by_id = mill_mmmu_pro_parse("", 0, mmmu, N(mmmu), "validation_Art_1", 42);
    CHECK(score("mmmu_pro_acc", &d, "", &rc) == (by_id == 'C'));
    score("mmmu_pro_acc", &d, NULL, &rc);
    CHECK_INT(rc, MILL_EINVAL);
    mill_doc_free(&d);

    make_doc(&d, "B", NULL, 0); /* no options: the doc's choices, and without them an error */
    score("mmmu_pro_acc", &d, "Answer: B", &rc);
    CHECK_INT(rc, MILL_EINVAL);
    CHECK_INT(mill_doc_add_choice(&d, "A"), 0);
    CHECK_INT(mill_doc_add_choice(&d, "B"), 0);
    CHECK(score("mmmu_pro_acc", &d, "Answer: B", &rc) == 1.0);
    CHECK_INT(rc, 0);
    mill_doc_free(&d);
}

MTEST_MAIN(MTEST(test_against_python), MTEST(test_fallback), MTEST(test_mcq_metrics),
           MTEST(test_mmmu_pro_metric))
