/* test_collect.c: golden-text tests of out/collect, the `mill collect` renderer: the docs' single
 * metric table, missing cells, multi-metric tasks, the empty cases and the --check lines.
 * Tables come from CSV text in memory. Where the golden texts come from: the first is the
 * reference docs' quickstart example; every one of them is also checked against
 * tests/reference/collect_oracle.py, which renders the same CSV with pandas' pivot_table and
 * rich's Table (Debian's python3-pandas and python3-rich, what Python Mill uses), up to the
 * trailing spaces rich pads a centred title with. Fails, never skips, without the oracle. Must
 * not write files. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mill/buf.h>

#include "mtest.h"
#include "out/aggregate.h"
#include "out/collect.h"

#define HEADER "model,benchmark,task,task_type,n_shot,metric,performance,stderr\n"
#define LLAMA "meta-llama/Meta-Llama-3-8B-Instruct"

/* s without the spaces that end each of its lines. malloc'd. */
static char *rstrip_lines(const char *s) {
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        *o++ = *s;
        if (*s == '\n') {
            o--;
            while (o > out && o[-1] == ' ')
                o--;
            *o++ = '\n';
        }
    }
    *o = 0;
    return out;
}

/* A comma list of n names into b. */
static void add_list(struct mill_buf *b, const char *flag, const char *const *v, size_t n) {
    if (!n)
        return;
    mill_buf_addf(b, " %s '", flag);
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(b, "%s%s", i ? "," : "", v[i]);
    mill_buf_adds(b, "'");
}

/* What collect_oracle.py prints for csv under p (trailing spaces of each line removed). */
static char *oracle(const char *csv, const struct mill_collect_params *p) {
    char in[] = "/tmp/mill_collect_oracle_XXXXXX";
    int fd = mkstemp(in);
    if (fd < 0 || write(fd, csv, strlen(csv)) != (ssize_t)strlen(csv))
        return NULL;
    close(fd);
    struct mill_buf cmd = {0}, got = {0};
    mill_buf_addf(&cmd, "/usr/bin/python3 %s/tests/reference/collect_oracle.py --check %d",
                  mtest_source_dir(), p->check ? 1 : 0);
    if (p->metric)
        mill_buf_addf(&cmd, " --metric '%s'", p->metric);
    add_list(&cmd, "--models", p->models, p->n_models);
    add_list(&cmd, "--tasks", p->tasks, p->n_tasks);
    for (size_t i = 0; i < p->n_expected; i++) {
        const struct mill_collect_job *j = &p->expected[i];
        mill_buf_addf(&cmd, "%s%s|%s|%lld", i ? ";" : " --expected '", j->model, j->task,
                      (long long)j->n_shot);
        for (size_t k = 0; j->any_of && j->any_of[k]; k++)
            mill_buf_addf(&cmd, "%s%s", k ? "," : "|", j->any_of[k]);
    }
    if (p->n_expected)
        mill_buf_adds(&cmd, "'");
    mill_buf_addf(&cmd, " < %s", in);
    FILE *f = popen(cmd.p, "r");
    char chunk[4096];
    size_t k;
    while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        mill_buf_add(&got, chunk, k);
    int st = f ? pclose(f) : -1;
    unlink(in);
    mill_buf_free(&cmd);
    char *r = st == 0 && got.p ? rstrip_lines(got.p) : NULL;
    if (st != 0)
        fprintf(stderr, "collect_oracle.py failed (status %d)\n", st);
    mill_buf_free(&got);
    return r;
}

/* Renders csv with params p and compares the whole output with want, and want with what the
 * pandas + rich oracle renders. */
static void golden(const char *csv, const struct mill_collect_params *p, const char *want,
                   int line) {
    char *ref = oracle(csv, p);
    if (!ref || strcmp(ref, want) != 0) {
        mtest_failed_checks++;
        fprintf(stderr, "%s:%d: the oracle disagrees with the golden text; oracle:\n%s\n---\n",
                __FILE__, line, ref ? ref : "(failed)");
    }
    free(ref);
    struct mill_aggregate_table t;
    struct mill_err err = {0};
    struct mill_buf out = {0};
    mill_aggregate_table_init(&t);
    int rc = mill_aggregate_parse(&t, csv, strlen(csv), "test.csv", &err);
    if (rc == 0)
        rc = mill_collect_render(&t, p, &out, &err);
    if (rc != 0 || !out.p || strcmp(out.p, want) != 0) {
        mtest_failed_checks++;
        fprintf(stderr, "%s:%d: rc %d (%s), got:\n%s\n--- expected:\n%s\n---\n", __FILE__, line, rc,
                err.msg, out.p ? out.p : "(null)", want);
    }
    mill_buf_free(&out);
    mill_aggregate_table_free(&t);
}

static void test_single_metric_docs_example(void) {
    struct mill_collect_params p = mill_collect_default_params();
    p.metric = "acc";
    p.check = false;
    golden(HEADER LLAMA ",mmlu,mmlu,multiple_choice,5,acc,0.6398,0.0039\n" LLAMA
                        ",,mmlu_pro,multiple_choice,5,exact_match,0.41,0.0045\n",
           &p,
           "        Mill results — performance (acc)\n"
           "┌─────────────────────────────────────┬────────┐\n"
           "│ model                               │ mmlu   │\n"
           "├─────────────────────────────────────┼────────┤\n"
           "│ meta-llama/Meta-Llama-3-8B-Instruct │ 0.6398 │\n"
           "└─────────────────────────────────────┴────────┘\n",
           __LINE__);
}

static void test_models_tasks_and_missing_cell(void) {
    /* models and tasks sorted by bytes; a cell averaging two n_shots; missing cells are nan;
     * a non-ASCII model measured in code points; the title wider than the table wraps */
    struct mill_collect_params p = mill_collect_default_params();
    p.metric = "acc";
    p.check = false;
    golden(HEADER "zeta/m,,mmlu,multiple_choice,0,acc,0.5,0.01\n"
                  "zeta/m,,mmlu,multiple_choice,5,acc,0.6,0.01\n"
                  "alpha,,cifar10,zero_shot_classification,0,acc,0.91234,0.0\n"
                  "alpha,,cifar10,zero_shot_classification,0,f1,0.1,0.0\n"
                  "alpha,,mmlu,multiple_choice,0,acc,0.25,0.0\n"
                  "modèle-é,,cifar10,zero_shot_classification,0,acc,1.0,0.0\n",
           &p,
           "  Mill results — performance\n"
           "             (acc)\n"
           "┌──────────┬─────────┬────────┐\n"
           "│ model    │ cifar10 │ mmlu   │\n"
           "├──────────┼─────────┼────────┤\n"
           "│ alpha    │ 0.9123  │ 0.2500 │\n"
           "│ modèle-é │ 1.0000  │ nan    │\n"
           "│ zeta/m   │ nan     │ 0.5500 │\n"
           "└──────────┴─────────┴────────┘\n",
           __LINE__);
}

static void test_kahan_mean(void) {
    /* four n_shots in one cell: pandas' group_mean (Kahan) gives 0.42295, a plain sum
     * 0.42295000000000005, which would print 0.4230 */
    struct mill_collect_params p = mill_collect_default_params();
    p.metric = "acc";
    p.check = false;
    golden(HEADER "m,,t,multiple_choice,0,acc,0.2686,0.0\n"
                  "m,,t,multiple_choice,1,acc,0.5273,0.0\n"
                  "m,,t,multiple_choice,2,acc,0.423,0.0\n"
                  "m,,t,multiple_choice,3,acc,0.4729,0.0\n",
           &p,
           "  Mill results —\n"
           "performance (acc)\n"
           "┌───────┬────────┐\n"
           "│ model │ t      │\n"
           "├───────┼────────┤\n"
           "│ m     │ 0.4229 │\n"
           "└───────┴────────┘\n",
           __LINE__);
}

static void test_wide_characters(void) {
    /* a model name of CJK characters (two cells each) and one with a combining accent (none),
     * measured as rich measures them */
    struct mill_collect_params p = mill_collect_default_params();
    p.metric = "acc";
    p.check = false;
    golden(
        HEADER
        "\xe9\x80\x9a\xe4\xb9\x89\xe5\x8d\x83\xe9\x97\xae/m,,mmlu,multiple_choice,0,acc,0.5,0.01\n"
        "abc,,mmlu,multiple_choice,0,acc,0.25,0.0\n"
        "te\xcc\x81st,,mmlu,multiple_choice,0,acc,0.75,0.0\n",
        &p,
        "    Mill results —\n"
        "   performance (acc)\n"
        "┌────────────┬────────┐\n"
        "│ model      │ mmlu   │\n"
        "├────────────┼────────┤\n"
        "│ abc        │ 0.2500 │\n"
        "│ tést       │ 0.7500 │\n"
        "│ 通义千问/m │ 0.5000 │\n"
        "└────────────┴────────┘\n",
        __LINE__);
}

static void test_no_metric_multi_metric_task(void) {
    /* clotho_aqa has two metrics: one column each; mmlu has one: named after the task */
    struct mill_collect_params p = mill_collect_default_params();
    p.check = false;
    golden(HEADER LLAMA ",,clotho_aqa,generative_qa,0,exact_match,0.3,0.01\n" LLAMA
                        ",,clotho_aqa,generative_qa,0,acc,0.35,0.01\n" LLAMA
                        ",mmlu,mmlu,multiple_choice,5,acc,0.6398,0.0039\n"
                        "org/other-model,mmlu,mmlu,multiple_choice,5,acc,0.5,0.004\n",
           &p,
           "                                  Mill results — performance\n"
           "┌─────────────────────────────────────┬──────────────────┬──────────────────────────"
           "┬────────┐\n"
           "│ model                               │ clotho_aqa (acc) │ clotho_aqa (exact_match) "
           "│ mmlu   │\n"
           "├─────────────────────────────────────┼──────────────────┼──────────────────────────"
           "┼────────┤\n"
           "│ meta-llama/Meta-Llama-3-8B-Instruct │ 0.3500           │ 0.3000                   "
           "│ 0.6398 │\n"
           "│ org/other-model                     │ nan              │ nan                      "
           "│ 0.5000 │\n"
           "└─────────────────────────────────────┴──────────────────┴──────────────────────────"
           "┴────────┘\n",
           __LINE__);
}

static void test_empty_after_filters(void) {
    static const char *const models[] = {"nobody"};
    struct mill_collect_params p = mill_collect_default_params();
    p.models = models;
    p.n_models = 1;
    p.check = false;
    golden(HEADER "a,,t,mc,0,acc,0.5,0.0\n", &p, "No results found.\n", __LINE__);
    /* a task filter and a metric filter that leave nothing */
    static const char *const tasks[] = {"u"};
    p = mill_collect_default_params();
    p.tasks = tasks;
    p.n_tasks = 1;
    p.check = false;
    golden(HEADER "a,,t,mc,0,acc,0.5,0.0\n", &p, "No results found.\n", __LINE__);
}

static void test_check_with_missing_jobs(void) {
    static const char *const models[] = {"a", "b"};
    static const char *const tasks[] = {"t", "u"};
    static const struct mill_collect_job jobs[] = {
        {"a", "t", 0, NULL},
        {"a", "u", 0, NULL},
        {"b", "t", 0, NULL},
        {"b", "u", 0, NULL},
    };
    struct mill_collect_params p = mill_collect_default_params();
    p.models = models;
    p.n_models = 2;
    p.tasks = tasks;
    p.n_tasks = 2;
    p.expected = jobs;
    p.n_expected = 4;
    /* 6 rows, 4 unique (model, task, n_shot): two metrics of one job, a 5-shot run (averaged
     * into the same cell), a rollup row of a model outside the filters, written twice */
    golden(HEADER "a,,t,mc,0,acc,0.5,0.0\n"
                  "a,,t,mc,0,f1,0.25,0.0\n"
                  "a,,t,mc,5,acc,0.75,0.0\n"
                  "b,,u,mc,0,acc,1.0,0.0\n"
                  "c,bench,bench,mc,0,acc,0.5,0.1\n"
                  "c,bench,bench,mc,0,acc,0.5,0.1\n",
           &p,
           "     Mill results — performance\n"
           "┌───────┬─────────┬────────┬────────┐\n"
           "│ model │ t (acc) │ t (f1) │ u      │\n"
           "├───────┼─────────┼────────┼────────┤\n"
           "│ a     │ 0.6250  │ 0.2500 │ nan    │\n"
           "│ b     │ nan     │ nan    │ 1.0000 │\n"
           "└───────┴─────────┴────────┴────────┘\n"
           "\n"
           "Completed jobs: 4\n"
           "Missing 2 jobs:\n"
           "  model=a  task=u  n_shot=0\n"
           "  model=b  task=t  n_shot=0\n",
           __LINE__);
}

/* A benchmark that runs the variant a model serves: done when any variant has a row. */
static void test_check_any_variant(void) {
    static const char *const models[] = {"a", "b"};
    static const char *const tasks[] = {"img"};
    static const char *const variants[] = {"img_mcq", "img_clip", NULL};
    static const struct mill_collect_job jobs[] = {
        {"a", "img", 0, variants},
        {"b", "img", 0, variants},
    };
    struct mill_collect_params p = mill_collect_default_params();
    p.models = models;
    p.n_models = 2;
    p.tasks = tasks;
    p.n_tasks = 1;
    p.expected = jobs;
    p.n_expected = 2;
    golden(HEADER "a,img,img_clip,zs,0,acc,0.5,0.0\n"
                  "b,img,img_mcq,mc,5,acc,0.5,0.0\n",
           &p,
           "No results found.\n"
           "\n"
           "Completed jobs: 2\n"
           "Missing 1 jobs:\n"
           "  model=b  task=img  n_shot=0\n",
           __LINE__);
}

static void test_check_all_complete(void) {
    static const struct mill_collect_job jobs[] = {{LLAMA, "mmlu", 5, NULL}};
    struct mill_collect_params p = mill_collect_default_params();
    p.metric = "acc";
    p.expected = jobs;
    p.n_expected = 1;
    golden(HEADER LLAMA ",mmlu,mmlu,multiple_choice,5,acc,0.6398,0.0039\n" LLAMA
                        ",mmlu,mmlu_anatomy,multiple_choice,5,acc,0.6,0.04\n",
           &p,
           "               Mill results — performance (acc)\n"
           "┌─────────────────────────────────────┬────────┬──────────────┐\n"
           "│ model                               │ mmlu   │ mmlu_anatomy │\n"
           "├─────────────────────────────────────┼────────┼──────────────┤\n"
           "│ meta-llama/Meta-Llama-3-8B-Instruct │ 0.6398 │ 0.6000       │\n"
           "└─────────────────────────────────────┴────────┴──────────────┘\n"
           "\n"
           "Completed jobs: 2\n"
           "All requested jobs are complete.\n",
           __LINE__);
    /* without expected jobs only the count is printed */
    p.expected = NULL;
    p.n_expected = 0;
    static const char *const tasks[] = {"none"};
    p.tasks = tasks;
    p.n_tasks = 1;
    golden(HEADER "a,,t,mc,0,acc,0.5,0.0\n", &p, "No results found.\n\nCompleted jobs: 1\n",
           __LINE__);
}

static void test_no_results_at_all(void) {
    struct mill_collect_params p = mill_collect_default_params();
    golden(HEADER, &p, "No results found.\n\nNo results at all.\n", __LINE__);
    golden("", &p, "No results found.\n\nNo results at all.\n", __LINE__);
}

static void test_bad_arguments(void) {
    struct mill_buf out = {0};
    struct mill_err err = {0};
    struct mill_collect_params p = mill_collect_default_params();
    CHECK_INT(mill_collect_render(NULL, &p, &out, &err), MILL_EINVAL);
    CHECK(p.check);
    CHECK(p.metric == NULL && p.expected == NULL && p.n_models == 0 && p.n_tasks == 0);
}

MTEST_MAIN(MTEST(test_single_metric_docs_example), MTEST(test_models_tasks_and_missing_cell),
           MTEST(test_kahan_mean), MTEST(test_wide_characters),
           MTEST(test_no_metric_multi_metric_task), MTEST(test_empty_after_filters),
           MTEST(test_check_with_missing_jobs), MTEST(test_check_any_variant),
           MTEST(test_check_all_complete), MTEST(test_no_results_at_all), MTEST(test_bad_arguments))
