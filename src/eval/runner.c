/* runner.c: `mill eval`, the flow of ARCHITECTURE.md §1: dataset rows -> docs -> requests -> backend (in
 * batches) -> metrics -> per-sample lines, aggregate rows, provenance, end-of-run table.
 *
 * The runner owns ordering, few-shot assembly (BEHAVIOUR.md §3.4), resume and aggregation; it never
 * looks inside a backend and never formats a prompt of its own. */
#include "eval/runner.h"

#include "backend/backends.h"
#include "backend/model_config.h"
#include "core/array.h"
#include "core/log.h"
#include "core/random.h"
#include "core/spec.h"
#include "core/stats.h"
#include "core/stop.h"
#include "data/dataset.h"
#include "out/aggregate.h"
#include "out/provenance.h"
#include "out/samples.h"

#include <mill/backend.h>
#include <mill/buf.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A batch of docs on its way through the backend: filled by push_row, its requests built by
 * build_batch, answered by the backend's run (on the worker thread when pipelined), its docs
 * scored and written by finish_batch. */
struct batch {
    struct mill_doc *docs;
    int64_t *ids;
    const char **splits;
    int64_t *split_docs; /* each doc's index within its split */
    char **prompt_err;   /* non-NULL when the prompt function failed for that doc */
    size_t n, cap;
    struct mill_request *reqs; /* built: requests of every doc without a prompt error */
    size_t nreq;
    char **ctx; /* built: each doc's context */
    /* The backend call, run on the worker thread: its result. */
    const struct mill_backend_ops *ops;
    void *state;
    pthread_t thread;
    bool threaded; /* answered by thread (else inline: no thread could be made) */
    int rc;
    struct mill_err err;
    /* A held job's last batch is scored and written by the worker as soon as it is answered
     * (finish_on_worker): job is set before the thread starts; answered and finish_here are
     * under `handoff`; finished, frc and ferr, the worker's finish_batch, are read after the
     * join. */
    struct job *job;
    bool answered, finish_here, finished;
    int frc;
    struct mill_err ferr;
};

static pthread_mutex_t handoff = PTHREAD_MUTEX_INITIALIZER;

/* One model's run. */
struct run_ctx {
    struct mill_registry *reg;
    const struct mill_run_params *p;
    const struct mill_backend_ops *ops;
    void *state;
    bool loaded;
    struct mill_backend_caps caps;
    const char *model;
    char *model_owned; /* a sweep's "<backend's name>:<quant>" (model points at it) */
    struct mill_run_result *res;
    /* Python Mill's list of leaf tasks (leaf_configs): the task names given, then the tasks of
     * the benchmarks given; a score's place in the end table follows it. */
    const char **leaves;
    bool *leaf_done; /* finished before the run (its provenance says so for this seed, limit) */
    size_t n_leaves;
    /* A job of this benchmark whose last batch the backend is still answering while the next
     * job reads and prepares its first batch (cross-job pipelining; NULL when none): landed by
     * land_held before that batch is launched, or before anything that needs it ended. */
    struct job *held;
    /* The tasks this model has run, with what each produced: a task named again (alone and
     * through its benchmark, or through two benchmarks) runs once, as Python Mill's leaf list
     * runs it once. */
    struct ran_task *ran;
    size_t n_ran, cap_ran;
};

/* What one task produced, for the end table and the benchmark rollup. */
struct task_result {
    bool have;
    bool had_docs;    /* the job had docs (a value or not) */
    double *perf;     /* per task metric */
    size_t n_samples; /* samples with metric values */
};

struct ran_task {
    const struct mill_task_config *t;
    struct task_result tr;
};

/* ---- resolution and rejection ---------------------------------------------------------- */

/* A task the runner can run: one with a prompt function (a plugin's may lack it). */
static int check_task(const struct mill_task_config *t, const char *bench, const char *name,
                      struct mill_err *err) {
    if (!t)
        return mill_err_set(err, MILL_EINVAL,
                            "benchmark '%s' lists unknown task '%s' (see mill ls --check)", bench,
                            name);
    if (!t->prompt)
        return mill_err_set(err, MILL_EINVAL,
                            "task '%s' has no prompt function (see mill ls "
                            "--check)",
                            t->name);
    return 0;
}

int mill_resolve_name(const struct mill_registry *reg, const char *name,
                      const struct mill_backend_caps *caps, const struct mill_task_config ***tasks,
                      size_t *n, struct mill_err *err) {
    *tasks = NULL;
    *n = 0;
    const struct mill_benchmark_config *b = mill_registry_benchmark(reg, name);
    const struct mill_task_config *t = b ? NULL : mill_registry_task(reg, name);
    if (!b && !t)
        return mill_err_set(err, MILL_ENOTFOUND, "unknown task or benchmark '%s' (see mill ls)",
                            name);
    size_t cap = b ? mill_strv_len(b->task_names) : 1;
    const struct mill_task_config **out = calloc(cap ? cap : 1, sizeof *out);
    if (!out)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (t)
        out[(*n)++] = t;
    int rc = t ? check_task(t, NULL, name, err) : 0;
    for (size_t i = 0; !rc && b && i < cap; i++) /* every listed task, the picked one or not */
        rc = check_task(mill_registry_task(reg, b->task_names[i]), b->name, b->task_names[i], err);
    for (size_t i = 0; !rc && b && i < cap; i++) {
        const struct mill_task_config *x = mill_registry_task(reg, b->task_names[i]);
        if (b->pick_variant_by_model && caps &&
            !(caps->task_types & (1u << mill_task_effective_type(x))))
            continue;
        out[(*n)++] = x;
        if (b->pick_variant_by_model && caps)
            break;
    }
    if (rc) {
        free(out);
        *n = 0;
        return rc;
    }
    *tasks = out;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The task types as Mill lists them: `", ".join(sorted(t.value ...)) or "nothing"`. */
static void list_types(unsigned bits, struct mill_buf *b) {
    const char *names[MILL_TASK_SUPERVISED_CLASSIFICATION + 1];
    size_t n = 0;
    for (int t = MILL_TASK_GENERATIVE_QA; t <= MILL_TASK_SUPERVISED_CLASSIFICATION; t++)
        if (bits & (1u << t))
            names[n++] = mill_task_type_str(t);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(b, "%s%s", i ? ", " : "", names[i]);
    if (!n)
        mill_buf_adds(b, "nothing");
}

/* Modalities as Mill prints sorted(set): ['audio', 'text']. */
static void list_mods(unsigned bits, struct mill_buf *b) {
    static const struct {
        unsigned bit;
        const char *name;
    } mods[] = {{MILL_MOD_AUDIO, "audio"},
                {MILL_MOD_IMAGE, "image"},
                {MILL_MOD_TEXT, "text"},
                {MILL_MOD_VIDEO, "video"}};
    bool first = true;
    mill_buf_addc(b, '[');
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
        if (bits & mods[i].bit) {
            mill_buf_addf(b, "%s'%s'", first ? "" : ", ", mods[i].name);
            first = false;
        }
    mill_buf_addc(b, ']');
}

int mill_check_supported(const struct mill_backend_caps *caps, const char *model,
                         const struct mill_task_config *t, struct mill_err *err) {
    enum mill_task_type type = mill_task_effective_type(t);
    struct mill_buf b = {0};
    int rc = 0;
    mill_buf_addf(&b, "task %s: %s ('%s') ", t->name, caps->class_name, model);
    bool generative = type == MILL_TASK_GENERATIVE_QA || type == MILL_TASK_MULTIPLE_CHOICE ||
                      type == MILL_TASK_PERPLEXITY;
    if (!(caps->task_types & (1u << type))) {
        mill_buf_adds(&b, "supports [");
        list_types(caps->task_types, &b);
        mill_buf_addf(&b, "] but this task requires '%s'.", mill_task_type_str(type));
        rc = MILL_EUNSUPPORTED;
    } else if (generative && t->output_type != MILL_OUT_GENERATIVE && !caps->supports_logprobs) {
        mill_buf_addf(&b, "cannot do log-probability scoring ('%s') required by this task.",
                      mill_output_type_str(t->output_type));
        rc = MILL_EUNSUPPORTED;
    } else if (t->input_modalities & ~caps->modalities) {
        mill_buf_adds(&b, "cannot ingest input modalities ");
        list_mods(t->input_modalities & ~caps->modalities, &b); /* the missing ones */
        mill_buf_adds(&b, " required by this task (it supports ");
        list_mods(caps->modalities, &b);
        mill_buf_adds(&b, "). Load a model that handles them, e.g. a vision-language model with "
                          "modalities including 'image'.");
        rc = MILL_EUNSUPPORTED;
    }
    if (rc)
        mill_err_set(err, rc, "%s", b.p ? b.p : "unsupported");
    mill_buf_free(&b);
    return rc;
}

/* ---- few-shot block ---------------------------------------------------------------------- */

static const char *const default_eval_splits[] = {"test", NULL};

static const char *const *eval_splits(const struct mill_task_config *t) {
    return t->evaluation_splits && t->evaluation_splits[0] ? t->evaluation_splits
                                                           : default_eval_splits;
}

/* dir: the registering plugin's directory (relative data paths), or NULL. */
static int open_split(struct run_ctx *c, const struct mill_task_config *t, const char *dir,
                      const char *split, struct mill_dataset **ds, struct mill_err *err) {
    struct mill_dataset_params dp = {dir, c->p->cache_dir};
    return mill_dataset_open(t, split, &dp, ds, err);
}

/* Renders one shot as Mill does: query + ("" if gold starts with a space else "\n") + gold. */
static int add_shot(struct mill_buf *b, const struct mill_doc *d) {
    const char *gold = mill_doc_gold_text(d);
    if (!gold)
        gold = "";
    mill_buf_adds(b, d->query ? d->query : "");
    if (gold[0] != ' ')
        mill_buf_addc(b, '\n');
    return mill_buf_adds(b, gold);
}

/* Loads the whole few-shot split, draws Random(seed).sample(docs, min(n, len(docs))) once for
 * the task and renders "shot\n\nshot\n\n". *block is malloc'd ("" when n_shots == 0). A
 * few-shot split that cannot be read is an error (Python Mill warns and runs 0-shot under the
 * n_shot asked for). */
static int build_fewshot(struct run_ctx *c, const struct mill_task_config *t, const char *dir,
                         char **block, struct mill_err *err) {
    *block = NULL;
    struct mill_buf b = {0};
    if (t->n_shots <= 0) {
        *block = strdup("");
        return *block ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    const char *split = t->few_shots_split ? t->few_shots_split : eval_splits(t)[0];
    struct mill_dataset *ds = NULL;
    int rc = open_split(c, t, dir, split, &ds, err);
    struct mill_doc *pool = NULL;
    size_t n = 0, cap = 0;
    struct mill_value row;
    while (!rc && (rc = mill_dataset_next(ds, &row, err)) == 1) {
        if (mill_grow(&pool, &cap, n, sizeof *pool, 16)) {
            mill_value_free(&row);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        mill_doc_init(&pool[n]);
        pool[n].seed = c->p->seed;
        struct mill_err e = {0};
        int prc = t->prompt(t, &row, &pool[n], &e);
        mill_value_free(&row);
        if (prc == 0)
            n++;
        else {
            if (prc < 0)
                MILL_WARN("runner", "%s: few-shot row skipped: %s", t->name, e.msg);
            mill_doc_free(&pool[n]);
        }
        rc = 0;
    }
    mill_dataset_free(ds);
    size_t k = (size_t)t->n_shots;
    if (!rc && k > n) { /* Python Mill's rng.sample(docs, min(n, len(docs))) */
        MILL_WARN("runner", "%s: %d shots requested but split '%s' has %zu docs: all %zu are used",
                  t->name, t->n_shots, split, n, n);
        k = n;
    }
    size_t *pick = rc ? NULL : malloc((k ? k : 1) * sizeof *pick);
    if (!rc && !pick)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc) {
        struct mill_random r;
        mill_random_seed_int(&r, c->p->seed);
        rc = mill_random_sample(&r, n, k, pick);
        for (size_t i = 0; !rc && i < k; i++) {
            add_shot(&b, &pool[pick[i]]);
            mill_buf_adds(&b, "\n\n");
        }
        if (!rc && !b.p && mill_buf_adds(&b, ""))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    free(pick);
    for (size_t i = 0; i < n; i++)
        mill_doc_free(&pool[i]);
    free(pool);
    if (!rc)
        *block = mill_buf_take(&b);
    mill_buf_free(&b);
    return rc;
}

/* ---- one task: batches of docs through the backend ----------------------------------------- */

struct job {
    struct run_ctx *c;
    const struct mill_task_config *t; /* the task, n_shots overridden by --n_shot */
    const char *dir;                  /* its plugin directory, or NULL */
    enum mill_task_type type;
    char *fewshot;
    const struct mill_metric **metrics;
    size_t n_metrics;
    struct mill_samples *samples;
    /* Two batches: the one push_row fills (b[fill]) and the one the backend answers on the
     * worker thread meanwhile (flight, NULL when none; see run_batch). */
    struct batch b[2];
    size_t fill;
    struct batch *flight;
    bool pipeline; /* MILL_PIPELINE unset or not "0" */
    /* Counters. */
    int64_t n_docs;      /* docs in the job so far (doc ids handed out) */
    int64_t split_start; /* the doc id of the streamed split's first doc */
    size_t n_new, n_failed;
    size_t n_stopped; /* docs a stop left unanswered (MILL_EINTR): not written, for the resume */
    int64_t n_truncated;
    int64_t total;     /* docs expected (-1 unknown), for progress */
    int64_t last_step; /* last 10% step logged */
    double t_start, t_last;
    FILE *prompts; /* `mill prompts`: write each doc's prompt here instead of running */
    /* run_task's jobs, which may end after run_task returned (a held job, end_job). */
    struct mill_task_config task; /* the task t points at (n_shots overridden) */
    struct task_result *tr;
    char *jsonl, *json;    /* the per-sample and provenance files */
    struct mill_buf files; /* the dataset files read, as JSON, for the provenance */
};

static bool is_classification(enum mill_task_type t) {
    return t == MILL_TASK_ZERO_SHOT_CLASSIFICATION || t == MILL_TASK_SUPERVISED_CLASSIFICATION;
}

static size_t requests_for(const struct job *j, const struct mill_doc *d) {
    if (is_classification(j->type) || j->t->output_type != MILL_OUT_LOGPROBS)
        return 1;
    return d->n_choices;
}

static char *make_context(const struct job *j, const struct mill_doc *d) {
    struct mill_buf b = {0};
    mill_buf_adds(&b, d->instruction ? d->instruction : "");
    mill_buf_adds(&b, j->fewshot);
    if (mill_buf_adds(&b, d->query ? d->query : "")) {
        mill_buf_free(&b);
        return NULL;
    }
    return mill_buf_take(&b);
}

static void fill_request(const struct job *j, const struct mill_doc *d, int64_t id,
                         const char *context, size_t k, struct mill_request *q) {
    memset(q, 0, sizeof *q);
    q->task = j->t->name;
    q->doc_id = id;
    q->context = context;
    q->media = d->media;
    q->n_media = d->n_media;
    if (is_classification(j->type)) {
        q->kind = MILL_REQ_CLASSIFY;
        q->labels = (const char *const *)d->choices;
        q->n_labels = d->n_choices;
        q->templates = j->t->zeroshot_templates;
        q->n_templates = mill_strv_len(j->t->zeroshot_templates);
    } else if (j->t->output_type == MILL_OUT_LOGPROBS) {
        q->kind = MILL_REQ_LOGLIK;
        q->continuation = d->choices[k];
    } else if (j->t->output_type == MILL_OUT_PERPLEXITY) {
        q->kind = MILL_REQ_ROLLING;
    } else {
        q->kind = MILL_REQ_GENERATE;
        q->max_new_tokens = j->t->generation_size > 0 ? j->t->generation_size : 256;
        q->stop = j->t->stop_sequences;
    }
}

/* The doc's answer in the shape metrics read; first max wins ties, as Mill's argmax. */
static void collect_result(const struct job *j, const struct mill_doc *d,
                           const struct mill_request *q, size_t nq, double *lps, bool *greedy,
                           struct mill_sample_result *r) {
    memset(r, 0, sizeof *r);
    r->output_type = j->t->output_type;
    r->pred_index = -1;
    if (q[0].kind == MILL_REQ_CLASSIFY) {
        r->classification = true;
        r->scores = q[0].scores;
        r->n_scores = d->n_choices;
        for (size_t i = 0; q[0].scores && i < d->n_choices; i++)
            if (r->pred_index < 0 || q[0].scores[i] > q[0].scores[r->pred_index])
                r->pred_index = (int64_t)i;
    } else if (q[0].kind == MILL_REQ_LOGLIK) {
        for (size_t i = 0; i < nq; i++) {
            lps[i] = q[i].logprob;
            greedy[i] = q[i].is_greedy;
            if (r->pred_index < 0 || lps[i] > lps[r->pred_index])
                r->pred_index = (int64_t)i;
        }
        r->logprobs = lps;
        r->is_greedy = greedy;
        r->n_choices = nq;
    } else if (q[0].kind == MILL_REQ_ROLLING) {
        r->mean_logprob = q[0].n_tokens > 0 ? q[0].logprob / (double)q[0].n_tokens : NAN;
    } else {
        r->text = q[0].text ? q[0].text : "";
        r->text_len = q[0].text ? q[0].text_len : 0;
    }
}

/* Scores doc i from its requests and appends its line. A failed request or metric makes the
 * sample failed: written with its error, counted, not reused on resume; under --fail_fast the
 * first one is also set in *failed, for the caller to stop on once the batch is written. A
 * request a stop left unanswered (MILL_EINTR) leaves the doc unwritten: it is not a failure,
 * the resume does it. */
static int finish_doc(struct job *j, const struct batch *b, size_t i, const struct mill_request *q,
                      size_t nq, struct mill_buf *line, struct mill_err *failed,
                      struct mill_err *err) {
    for (size_t k = 0; k < nq; k++)
        if (q[k].status == MILL_EINTR) {
            j->n_stopped++;
            return 0;
        }
    const struct mill_doc *d = &b->docs[i];
    const char *error = b->prompt_err[i];
    if (!error && !nq)
        error = "the document has no choices to score";
    for (size_t k = 0; !error && k < nq; k++)
        if (q[k].status)
            error = q[k].error ? q[k].error : mill_status_str(q[k].status);
    double *lps = calloc(nq ? nq : 1, sizeof *lps);
    bool *greedy = calloc(nq ? nq : 1, sizeof *greedy);
    double *vals = calloc(j->n_metrics, sizeof *vals);
    struct mill_err merr = {0};
    struct mill_sample_result r;
    if (!lps || !greedy || !vals) {
        free(lps);
        free(greedy);
        free(vals);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (!error) {
        collect_result(j, d, q, nq, lps, greedy, &r);
        struct mill_metric_ctx mc = {j->c->p->seed, j->t->name};
        for (size_t m = 0; !error && m < j->n_metrics; m++) {
            if (j->metrics[m]->fn(d, &r, &mc, &vals[m], &merr))
                error = merr.msg;
            vals[m] = mill_round_np(vals[m], 4); /* Python Mill: DataFrame.round(4) */
        }
    }
    struct mill_sample_line sl = {.model = j->c->model,
                                  .task = j->t,
                                  .metrics = j->metrics,
                                  .n_metrics = j->n_metrics,
                                  .doc = d,
                                  .doc_id = b->ids[i],
                                  .split = b->splits[i],
                                  .split_doc = b->split_docs[i],
                                  .seed = j->c->p->seed,
                                  .prompt = b->ctx[i],
                                  .result = error ? NULL : &r,
                                  .values = error ? NULL : vals,
                                  .responses = q,
                                  .n_responses = nq,
                                  .error = error};
    int rc = mill_sample_line_build(&sl, line);
    if (rc)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    else
        rc = mill_samples_append(j->samples, b->ids[i], vals, error != NULL, line->p, err);
    if (!rc && error) {
        j->n_failed++;
        const char *key = b->docs[i].key; /* a prompt that failed may have none */
        MILL_WARN("runner", "%s doc %lld%s%s%s failed: %s", j->t->name, (long long)b->ids[i],
                  key ? " (key " : "", key ? key : "", key ? ")" : "", error);
        if (j->c->p->fail_fast && !failed->code)
            mill_err_set(failed, MILL_EBACKEND, "%s doc %lld failed (--fail_fast): %s", j->t->name,
                         (long long)b->ids[i], error);
    } else if (!rc) {
        j->n_new++;
    }
    free(lps);
    free(greedy);
    free(vals);
    return rc;
}

static int ensure_loaded(struct run_ctx *c, struct mill_err *err) {
    if (c->loaded)
        return 0;
    MILL_INFO("runner", "loading model %s", c->model);
    int rc = c->ops->load(c->state, err);
    if (rc) {
        mill_err_prefix(err, "loading model %s", c->model);
        /* A model that cannot be loaded fails the run (exit 1), whatever the cause. */
        return err->code = rc == MILL_EINVAL ? MILL_EBACKEND : rc;
    }
    c->loaded = true;
    return 0;
}

/* Empties a batch (its docs, requests and contexts) for push_row to fill again. */
static void clear_batch(struct batch *b) {
    for (size_t k = 0; b->reqs && k < b->nreq; k++)
        mill_request_clear_output(&b->reqs[k]);
    free(b->reqs);
    for (size_t i = 0; b->ctx && i < b->n; i++)
        free(b->ctx[i]);
    free(b->ctx);
    b->reqs = NULL;
    b->ctx = NULL;
    b->nreq = 0;
    for (size_t i = 0; i < b->n; i++) {
        mill_doc_free(&b->docs[i]);
        free(b->prompt_err[i]);
        b->prompt_err[i] = NULL;
    }
    b->n = 0;
}

/* Progress: a bar on a terminal (done/total, rate, ETA), else Mill's log line every 10% (every
 * 10 s when the total is unknown). Docs resumed from an earlier run count as done. */
static void report_progress(struct job *j, bool final) {
    if (j->prompts)
        return;
    double t = mill_clock_s();
    double rate = t > j->t_start ? (double)j->n_new / (t - j->t_start) : 0;
    int64_t done = j->n_docs;
    if (isatty(STDERR_FILENO)) {
        if (!final && t - j->t_last < 0.5)
            return;
        j->t_last = t;
        if (j->total > 0) {
            double eta = rate > 0 ? (double)(j->total - done) / rate : 0;
            fprintf(stderr, "\r%s: %lld/%lld %3.0f%% %.1f/s ETA %02d:%02d ", j->t->name,
                    (long long)done, (long long)j->total, 100.0 * done / j->total, rate,
                    (int)eta / 60, (int)eta % 60);
        } else {
            fprintf(stderr, "\r%s: %lld done %.1f/s ", j->t->name, (long long)done, rate);
        }
        if (final)
            fputc('\n', stderr);
        return;
    }
    if (j->total > 0) {
        int64_t step = (done * 10) / j->total;
        if (step <= j->last_step)
            return;
        j->last_step = step;
        MILL_INFO("runner", "Evaluating %s: %lld/%lld (%lld%%)", j->t->name, (long long)done,
                  (long long)j->total, (long long)(done * 100 / j->total));
    } else if (final || t - j->t_last >= 10) {
        j->t_last = t;
        MILL_INFO("runner", "Evaluating %s: %lld docs", j->t->name, (long long)done);
    }
}

/* The requests of a batch's docs (each doc's context, one request per choice or one), handed
 * to the backend's prepare when it has one; loads the model first. */
static int build_batch(struct job *j, struct batch *b, struct mill_err *err) {
    b->nreq = 0;
    for (size_t i = 0; i < b->n; i++)
        b->nreq += b->prompt_err[i] ? 0 : requests_for(j, &b->docs[i]);
    b->reqs = calloc(b->nreq ? b->nreq : 1, sizeof *b->reqs);
    b->ctx = calloc(b->n, sizeof *b->ctx);
    int rc = b->reqs && b->ctx ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0, k = 0; !rc && i < b->n; i++) {
        if (!(b->ctx[i] = make_context(j, &b->docs[i])))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        for (size_t r = 0; !rc && !b->prompt_err[i] && r < requests_for(j, &b->docs[i]); r++)
            fill_request(j, &b->docs[i], b->ids[i], b->ctx[i], r, &b->reqs[k++]);
    }
    if (!rc && b->nreq && !(rc = ensure_loaded(j->c, err)) && j->c->ops->prepare)
        rc = j->c->ops->prepare(j->c->state, b->reqs, b->nreq, err);
    return rc;
}

static int finish_batch(struct job *j, struct batch *b, bool progress, struct mill_err *err);

/* The backend's run over one batch: the worker thread's body (or called inline); then, when
 * the batch was handed over by finish_on_worker meanwhile, its finish_batch. */
static void *answer_batch(void *arg) {
    struct batch *b = arg;
    b->rc = b->nreq ? b->ops->run(b->state, b->reqs, b->nreq, &b->err) : 0;
    pthread_mutex_lock(&handoff);
    bool finish = b->finish_here;
    b->answered = true;
    pthread_mutex_unlock(&handoff);
    if (finish && (!b->rc || b->rc == MILL_EHALTED)) {
        b->frc = finish_batch(b->job, b, false, &b->ferr); /* no progress bar: end_job's */
        b->finished = true;
    }
    return NULL;
}

/* Scores and writes every doc of an answered batch, flushes the file (the caller empties it);
 * under --fail_fast a failed sample then stops the job (the docs after it in the batch, already
 * answered, are written first). On the worker thread for a held job's last batch: it touches
 * only that job's own state (its samples file, counters, progress line), the metrics'
 * thread-safe caches and the log. */
static int finish_batch(struct job *j, struct batch *b, bool progress, struct mill_err *err) {
    struct mill_buf line = {0};
    struct mill_err failed = {0};
    size_t n_new = j->n_new, n_failed = j->n_failed;
    int rc = 0;
    for (size_t i = 0, k = 0; !rc && i < b->n; i++) {
        size_t nq = b->prompt_err[i] ? 0 : requests_for(j, &b->docs[i]);
        for (size_t r = 0; r < nq; r++)
            j->n_truncated += b->reqs[k + r].n_truncated;
        rc = finish_doc(j, b, i, b->reqs + k, nq, &line, &failed, err);
        k += nq;
    }
    mill_buf_free(&line);
    if (!rc && (rc = mill_samples_flush(j->samples, err)) != 0) {
        j->n_new = n_new; /* the batch did not reach the file: it counts as not computed */
        j->n_failed = n_failed;
    }
    if (!rc && progress)
        report_progress(j, false);
    if (!rc && failed.code) {
        *err = failed;
        rc = failed.code;
    }
    return rc;
}

/* Waits for the batch in flight and returns the backend's answer; the batch is not finished,
 * unless the backend halted (MILL_EHALTED: each request holds its answer or its own error) and
 * keep is set: then what it answered is scored and written before the error is returned. */
static int join_flight(struct job *j, struct batch **out, bool keep, struct mill_err *err) {
    struct batch *b = j->flight;
    *out = b;
    if (!b)
        return 0;
    if (b->threaded)
        pthread_join(b->thread, NULL);
    j->flight = NULL;
    if (b->rc == MILL_EHALTED && keep && !b->finished) {
        b->frc = finish_batch(j, b, true, &b->ferr);
        b->finished = true;
    }
    if (b->rc && b->finished && b->frc) { /* the writing's error first: answers were lost */
        *err = b->ferr;
        return b->frc;
    }
    if (b->rc) {
        *err = b->err;
        mill_err_prefix(err, "%s: backend %s failed", j->t->name, j->c->ops->name);
    }
    return b->rc;
}

/* Finishes the batch in flight, if any (the end of a job, or a stop): scored and written here,
 * or by the worker already. */
static int land_flight(struct job *j, struct mill_err *err) {
    struct batch *b;
    int rc = join_flight(j, &b, true, err);
    if (b && !rc && b->finished && b->frc)
        *err = b->ferr;
    if (b && !rc)
        rc = b->finished ? b->frc : finish_batch(j, b, true, err);
    if (b)
        clear_batch(b);
    return rc;
}

/* Empties the batch being filled without running it (a stop): its docs and those after it
 * count as not read, so an unfinished job's n is what was written or resumed before them. */
static void drop_fill(struct job *j) {
    struct batch *b = &j->b[j->fill];
    if (b->n)
        j->n_docs = b->ids[0];
    clear_batch(b);
}

/* Waits for the batch in flight, if any, and drops its answers (a job stopped by an error in
 * scoring or writing, as one batch at a time would never have run it). */
static void drop_flight(struct job *j) {
    struct mill_err ignored = {0};
    struct batch *b;
    join_flight(j, &b, false, &ignored);
    if (b)
        clear_batch(b);
}

/* The job's last batch, in flight as its docs ran out: handed to the worker to be scored and
 * written as soon as it is answered, so that nothing answered waits for the next job (which
 * may be slow to open its data) to reach the disk; false when it is answered already (or was
 * answered inline), for the caller to land now. */
static bool finish_on_worker(struct job *j) {
    struct batch *b = j->flight;
    if (!b->threaded)
        return false;
    pthread_mutex_lock(&handoff);
    b->finish_here = !b->answered;
    pthread_mutex_unlock(&handoff);
    return b->finish_here;
}

/* After a stop signal: the batch in flight is landed (what the backend answered is written,
 * not lost), the one being filled dropped (drop_fill), and MILL_EINTR returned. */
static int stop_check(struct job *j, struct mill_err *err) {
    if (!mill_stop_signal())
        return 0;
    drop_fill(j);
    int rc = land_flight(j, err);
    return rc ? rc
              : mill_err_set(err, MILL_EINTR, "%s: stopped by signal %d after a whole batch",
                             j->t->name, mill_stop_signal());
}

/* Hands a built batch to the backend: on the worker thread when pipelined (answered inline if
 * no thread can be made, or with MILL_PIPELINE=0); it is the batch in flight until joined. */
static void launch_batch(struct job *j, struct batch *b) {
    b->ops = j->c->ops;
    b->state = j->c->state;
    b->rc = b->frc = 0;
    b->err = b->ferr = (struct mill_err){0};
    b->job = j;
    b->answered = b->finish_here = b->finished = false;
    b->threaded = j->pipeline && pthread_create(&b->thread, NULL, answer_batch, b) == 0;
    if (!b->threaded)
        answer_batch(b);
    j->flight = b;
    j->fill ^= 1;
}

static int land_held_for(struct job *j, struct mill_err *err);
static int land_held_if_done(struct job *j, struct mill_err *err);

/* Runs the filled batch. Pipelined (the default): its requests are built and prepared (the
 * backend's tokenisation) here while the worker thread has the backend answer the previous
 * batch (for a job's first batch, the previous job's last: land_held); then that batch is
 * joined, this one handed to the worker, and the previous one scored and written while this
 * one is answered. MILL_PIPELINE=0: one batch at a time, each answered, scored and written
 * before the next is read. After a stop signal no batch is handed over (stop_check). */
static int run_batch(struct job *j, struct mill_err *err) {
    struct batch *b = &j->b[j->fill], *prev = NULL;
    if (!b->n)
        return 0;
    if (mill_stop_signal()) /* nothing more is built, loaded or prepared */
        return stop_check(j, err);
    int rc = build_batch(j, b, err);
    if (!rc)
        rc = land_held_for(j, err);
    if (!rc)
        rc = join_flight(j, &prev, true, err);
    if (!rc && !mill_stop_signal())
        launch_batch(j, b);
    else
        drop_fill(j); /* not run: a stop (stop_check below) or an error */
    if (prev && !rc && (rc = finish_batch(j, prev, true, err)) != 0)
        drop_flight(j);
    if (prev)
        clear_batch(prev);
    if (!rc && !j->pipeline)
        rc = land_flight(j, err);
    return rc ? rc : stop_check(j, err);
}

/* One `mill prompts` line: {"task", "doc_id", "context", "choices", "target"[, "images"]}. */
static int write_prompt(struct job *j, const struct mill_doc *d, int64_t id) {
    char *ctx = make_context(j, d);
    struct mill_buf b = {0};
    if (!ctx)
        return MILL_ENOMEM;
    mill_buf_adds(&b, "{\"task\":");
    mill_buf_add_json_str(&b, j->t->name, strlen(j->t->name));
    mill_buf_addf(&b, ",\"doc_id\":%lld,\"context\":", (long long)id);
    mill_buf_add_json_str(&b, ctx, strlen(ctx));
    mill_buf_adds(&b, ",\"choices\":");
    if (!d->n_choices)
        mill_buf_adds(&b, "null");
    for (size_t i = 0; i < d->n_choices; i++) {
        mill_buf_addc(&b, i ? ',' : '[');
        mill_buf_add_json_str(&b, d->choices[i], strlen(d->choices[i]));
    }
    if (d->n_choices)
        mill_buf_addc(&b, ']');
    mill_buf_adds(&b, ",\"target\":");
    if (d->target_str)
        mill_buf_add_json_str(&b, d->target_str, strlen(d->target_str));
    else
        mill_buf_addf(&b, "%lld", (long long)d->target_index);
    size_t n_images = 0, n_audios = 0; /* media are not printed: their counts, where there are */
    for (size_t i = 0; i < d->n_media; i++) {
        n_images += d->media[i].kind == MILL_MOD_IMAGE;
        n_audios += d->media[i].kind == MILL_MOD_AUDIO;
    }
    if (n_images)
        mill_buf_addf(&b, ",\"images\":%zu", n_images);
    if (n_audios)
        mill_buf_addf(&b, ",\"audios\":%zu", n_audios);
    int rc = mill_buf_adds(&b, "}\n");
    if (!rc && fputs(b.p, j->prompts) == EOF)
        rc = MILL_EIO;
    mill_buf_free(&b);
    free(ctx);
    return rc;
}

/* Adds one row's doc to the batch (or skips it when already done); runs a full batch. */
static int push_row(struct job *j, const char *split, struct mill_value *row,
                    struct mill_err *err) {
    struct batch *b = &j->b[j->fill];
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct mill_doc *d = realloc(b->docs, cap * sizeof *d);
        if (d)
            b->docs = d;
        int64_t *ids = d ? realloc(b->ids, cap * sizeof *ids) : NULL;
        if (ids)
            b->ids = ids;
        const char **sp = ids ? realloc(b->splits, cap * sizeof *sp) : NULL;
        if (sp)
            b->splits = sp;
        int64_t *sd = sp ? realloc(b->split_docs, cap * sizeof *sd) : NULL;
        if (sd)
            b->split_docs = sd;
        char **pe = sd ? realloc(b->prompt_err, cap * sizeof *pe) : NULL;
        if (!pe)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        b->prompt_err = pe;
        b->cap = cap;
    }
    struct mill_doc *d = &b->docs[b->n];
    mill_doc_init(d);
    d->seed = j->c->p->seed;
    struct mill_err perr = {0};
    int prc = j->t->prompt(j->t, row, d, &perr);
    if (prc == MILL_SKIP) {
        mill_doc_free(d);
        return 0;
    }
    int64_t id = j->n_docs++;
    if (j->prompts) {
        int rc = prc == 0 ? write_prompt(j, d, id) : 0;
        if (prc)
            MILL_WARN("runner", "%s doc %lld: %s", j->t->name, (long long)id, perr.msg);
        mill_doc_free(d);
        return rc ? mill_err_set(err, rc, "cannot write prompts") : 0;
    }
    if (prc == 0 && mill_samples_done(j->samples, id, split, id - j->split_start, NULL)) {
        mill_doc_free(d);
        return 0;
    }
    b->ids[b->n] = id;
    b->splits[b->n] = split;
    b->split_docs[b->n] = id - j->split_start;
    b->prompt_err[b->n] = NULL;
    if (prc != 0 && !(b->prompt_err[b->n] = strdup(perr.msg[0] ? perr.msg : "prompt failed")))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    b->n++;
    size_t batch = j->c->p->batch_docs ? j->c->p->batch_docs : 64;
    return b->n >= batch ? run_batch(j, err) : 0;
}

/* Streams every evaluation split (first `limit` docs of each) through the batches; the last
 * batch is landed (MILL_PIPELINE=0), or left in flight for run_task to land or hold; after an
 * error, what was answered before it is landed. */
static int stream_docs(struct job *j, struct mill_buf *files, struct mill_err *err) {
    int rc = 0;
    mill_buf_addc(files, '{');
    for (const char *const *sp = eval_splits(j->t); !rc && *sp; sp++) {
        struct mill_dataset *ds = NULL;
        if ((rc = land_held_if_done(j, err)) != 0)
            break;
        if ((rc = stop_check(j, err)) != 0) /* before a split's data is opened (downloaded) */
            break;
        if ((rc = open_split(j->c, j->t, j->dir, *sp, &ds, err)) != 0)
            break;
        if (sp != eval_splits(j->t))
            mill_buf_addc(files, ',');
        mill_buf_add_json_str(files, *sp, strlen(*sp));
        mill_buf_addc(files, ':');
        mill_buf_adds(files, mill_dataset_files_json(ds));
        int64_t start = j->split_start = j->n_docs, count = mill_dataset_count(ds);
        if (count >= 0 && j->c->p->limit >= 0 && count > j->c->p->limit)
            count = j->c->p->limit;
        j->total = count < 0 || j->total < 0 ? -1 : j->total + count;
        struct mill_value row;
        while (!rc && (j->c->p->limit < 0 || j->n_docs - start < j->c->p->limit) &&
               (rc = mill_dataset_next(ds, &row, err)) == 1) {
            rc = land_held_if_done(j, err);
            if (!rc)
                rc = push_row(j, *sp, &row, err);
            mill_value_free(&row);
        }
        mill_dataset_free(ds);
    }
    if (!rc)
        rc = run_batch(j, err); /* pipelined, left in flight: run_task lands or holds it */
    if (rc && j->flight) { /* what was answered before the error is written, as one at a time */
        struct mill_err ferr = {0};
        if (land_flight(j, &ferr))
            MILL_ERROR("runner", "%s", ferr.msg);
    }
    mill_buf_addc(files, '}');
    return rc;
}

/* ---- aggregation, provenance, rollups ----------------------------------------------------- */

static const char *parent_name(const struct run_ctx *c, const struct mill_task_config *t) {
    const struct mill_benchmark_config *b = mill_registry_parent(c->reg, t->name);
    return b ? b->name : "";
}

/* Leaf rows from the job's done docs [0, n_docs): one aggregate.csv row per metric that has a
 * value; a metric NaN for every doc (every sample failed, or resumed lines without its key)
 * deletes the row an earlier run may have left for it. */
static int aggregate_job(struct job *j, struct task_result *tr, struct mill_err *err) {
    double *x = malloc((size_t)(j->n_docs ? j->n_docs : 1) * sizeof *x);
    struct mill_aggregate_row *rows = calloc(j->n_metrics, sizeof *rows);
    if (!x || !rows || !(tr->perf = calloc(j->n_metrics, sizeof *tr->perf))) {
        free(x);
        free(rows);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    size_t n = 0, n_rows = 0;
    tr->have = false;
    for (size_t m = 0; m < j->n_metrics; m++) {
        n = 0;
        size_t values = 0;
        for (int64_t id = 0; id < j->n_docs; id++) {
            const double *v;
            if (mill_samples_done(j->samples, id, NULL, 0, &v)) {
                values += !isnan(v[m]);
                x[n++] = v[m];
            }
        }
        struct mill_aggregate_row *r = &rows[n_rows];
        *r = (struct mill_aggregate_row){.model = j->c->model,
                                         .benchmark = parent_name(j->c, j->t),
                                         .task = j->t->name,
                                         .task_type = mill_task_type_str(j->type),
                                         .n_shot = j->t->n_shots,
                                         .metric = j->metrics[m]->name};
        int lrc = values ? mill_aggregate_leaf(x, n, &r->performance, &r->std_err) : 0;
        if (lrc) {
            free(x);
            free(rows);
            return mill_err_set(err, lrc, "out of memory");
        }
        /* no value, of docs there were: the stale row of an earlier run goes (a job of no
         * docs, --limit 0 or an empty split, leaves the file alone) */
        r->remove = !values;
        tr->perf[m] = values ? r->performance : NAN;
        if (!values && !j->n_docs)
            continue;
        tr->have = tr->have || values > 0;
        n_rows++;
    }
    tr->n_samples = n;
    tr->had_docs = j->n_docs > 0;
    int rc = 0;
    if (n_rows) {
        char *path = NULL;
        if (asprintf(&path, "%s/aggregate.csv", j->c->p->output_dir) < 0)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            rc = mill_aggregate_upsert(path, rows, n_rows, err);
        free(path);
    }
    if (!tr->have)
        MILL_WARN("runner", "No instances for %s: nothing aggregated", j->t->name);
    free(x);
    free(rows);
    return rc;
}

static int write_provenance(struct job *j, const char *path, const char *files, bool finished,
                            double seconds, struct mill_err *err) {
    struct run_ctx *c = j->c;
    struct mill_provenance p = {.model = c->model,
                                .backend = c->ops->name,
                                .backend_fields = c->ops->provenance,
                                .backend_state = c->state,
                                .task = j->t,
                                .files_json = files,
                                .seed = c->p->seed,
                                .limit = c->p->limit,
                                .n = j->n_docs,
                                .n_failed = j->n_failed,
                                .n_computed = j->n_new,
                                .n_resumed = mill_samples_n_resumed(j->samples, j->n_docs),
                                .n_truncated = j->n_truncated,
                                .finished = finished,
                                .seconds = seconds,
                                .written_at = (int64_t)time(NULL)};
    struct mill_buf b = {0};
    int rc = mill_provenance_build(&p, &b) ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                                           : mill_provenance_write(path, b.p, err);
    mill_buf_free(&b);
    return rc;
}

static int job_paths(struct job *j, char **jsonl, char **json, struct mill_err *err) {
    const char *out = j->c->p->output_dir;
    *jsonl = mill_job_file(out, j->c->model, j->t->name, j->t->n_shots, ".jsonl");
    *json = mill_job_file(out, j->c->model, j->t->name, j->t->n_shots, ".json");
    return *jsonl && *json ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
}

static int setup_job(struct job *j, struct mill_err *err) {
    j->type = mill_task_effective_type(j->t);
    j->n_metrics = mill_strv_len(j->t->metrics);
    j->metrics = calloc(j->n_metrics ? j->n_metrics : 1, sizeof *j->metrics);
    if (!j->metrics)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t m = 0; m < j->n_metrics; m++)
        if (!(j->metrics[m] = mill_registry_metric(j->c->reg, j->t->metrics[m])))
            return mill_err_set(err, MILL_ENOTFOUND, "task %s: unknown metric %s", j->t->name,
                                j->t->metrics[m]);
    return 0;
}

static void free_job(struct job *j) {
    drop_flight(j);
    for (size_t i = 0; i < 2; i++) {
        clear_batch(&j->b[i]);
        free(j->b[i].docs);
        free(j->b[i].ids);
        free(j->b[i].splits);
        free(j->b[i].split_docs);
        free(j->b[i].prompt_err);
    }
    free(j->fewshot);
    free(j->metrics);
    mill_samples_close(j->samples);
    free(j->jsonl);
    free(j->json);
    mill_buf_free(&j->files);
}

/* The end of an evaluated job (rc: how its batches went): the summary line, the aggregate
 * rows, the provenance (finished or not), then the job is freed. */
static int end_job(struct job *j, int rc, struct mill_err *err) {
    struct run_ctx *c = j->c;
    if (!rc && j->n_stopped) /* its last batch was cut short: not finished */
        rc = mill_err_set(err, MILL_EINTR, "%s: stopped by signal %d; %zu docs were not answered",
                          j->t->name, mill_stop_signal(), j->n_stopped);
    drop_flight(j); /* none by now; the backend's provenance must not run beside its run */
    if (!rc) {
        report_progress(j, true);
        MILL_INFO("runner", "%s: %lld docs (%zu computed, %zu resumed, %zu failed)", j->t->name,
                  (long long)j->n_docs, j->n_new,
                  j->samples ? mill_samples_n_resumed(j->samples, j->n_docs) : 0, j->n_failed);
    } else if (j->samples) {
        if (isatty(STDERR_FILENO) && j->t_last > j->t_start)
            fputc('\n', stderr); /* end the progress bar's line */
        MILL_INFO("runner",
                  "%s: stopped; %zu docs computed in this run and %zu resumed "
                  "are kept in %s",
                  j->t->name, j->n_new, mill_samples_n_resumed(j->samples, INT64_MAX), j->jsonl);
    }
    if (!rc)
        rc = aggregate_job(j, j->tr, err);
    double secs = mill_clock_s() - j->t_start;
    struct mill_err perr = {0};
    if (j->files.p && j->samples &&
        write_provenance(j, j->json, j->files.p, rc == 0, secs, rc ? &perr : err) && !rc)
        rc = err->code;
    c->res->n_failed_samples += j->n_failed;
    free_job(j);
    free(j);
    return rc;
}

/* Lands the held job, if any: waits for its last batch, writes it unless the worker has, ends
 * the job. */
static int land_held(struct run_ctx *c, struct mill_err *err) {
    struct job *j = c->held;
    if (!j)
        return 0;
    c->held = NULL;
    MILL_DEBUG("runner", "%s: landing its last batch", j->t->name);
    return end_job(j, land_flight(j, err), err);
}

/* land_held for job j, the next one: j's seconds start once the held job is landed (the time
 * before overlapped the held batch, whose job counts it). */
static int land_held_for(struct job *j, struct mill_err *err) {
    if (!j->c->held)
        return 0;
    int rc = land_held(j->c, err);
    j->t_start = j->t_last = mill_clock_s();
    return rc;
}

/* land_held_for once the held job's last batch is answered (the worker is writing it, or has),
 * or a stop signal is pending: its aggregate row and provenance do not wait for this job's
 * first batch. */
static int land_held_if_done(struct job *j, struct mill_err *err) {
    struct job *h = j->c->held;
    if (!h)
        return 0;
    pthread_mutex_lock(&handoff);
    bool done = h->flight && h->flight->answered;
    pthread_mutex_unlock(&handoff);
    return done || mill_stop_signal() ? land_held_for(j, err) : 0;
}

/* mill_samples_open's before_wait: the held job's lock may be the one awaited. */
static int land_held_cb(void *j, struct mill_err *err) { return land_held_for(j, err); }

/* The result of a step of the next job (rc, err) once the held job ended with hrc (held): the
 * held job's error comes first (its batch was answered before the step), and the other is
 * logged, not dropped. */
static int held_first(int rc, struct mill_err *err, int hrc, const struct mill_err *held) {
    if (!hrc)
        return rc;
    if (rc)
        MILL_ERROR("runner", "%s", err->msg);
    *err = *held;
    return hrc;
}

/* land_held after a step of the next job that returned rc (err), held_first. */
static int land_held_after(struct run_ctx *c, int rc, struct mill_err *err) {
    struct mill_err held = {0};
    int hrc = land_held(c, &held);
    return held_first(rc, err, hrc, &held);
}

/* Runs (or resumes, or re-aggregates) one task for the current model. Pipelined, a job whose
 * last batch is still being answered when its docs run out is held (run_ctx.held): the worker
 * writes that batch, and the next job ends the held one once it sees it done (land_held_if_done),
 * at the latest before its own first batch is handed over (or run_name does). */
static int run_task(struct run_ctx *c, const struct mill_task_config *orig, struct task_result *tr,
                    struct mill_err *err) {
    if (mill_stop_signal()) /* the held job's last batch is landed, not lost */
        return land_held_after(c,
                               mill_err_set(err, MILL_EINTR, "stopped by signal %d before %s",
                                            mill_stop_signal(), orig->name),
                               err);
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return land_held_after(c, mill_err_set(err, MILL_ENOMEM, "out of memory"), err);
    const char *pipe = getenv("MILL_PIPELINE");
    j->task = *orig;
    if (c->p->n_shot >= 0)
        j->task.n_shots = (int)c->p->n_shot;
    j->c = c;
    j->t = &j->task;
    j->dir = mill_registry_task_dir(c->reg, orig);
    j->pipeline = !pipe || strcmp(pipe, "0");
    j->tr = tr;
    j->t_start = j->t_last = mill_clock_s();
    const struct mill_task_config *t = j->t;
    int rc = setup_job(j, err);
    if (!rc)
        rc = job_paths(j, &j->jsonl, &j->json, err);
    /* The provenance is read once the job's lock is held (mill_samples_open waits for another
     * process running the same job), so a job that process finished is Cached here. */
    struct mill_provenance_state st;
    if (!rc)
        rc = mill_samples_open(j->jsonl, c->p->seed, t->metrics, j->n_metrics, land_held_cb, j,
                               &j->samples, err);
    if (!rc)
        mill_provenance_read(j->json, &st);
    bool cached = !rc && mill_provenance_finished(&st, c->p->seed, c->p->limit) &&
                  mill_samples_n_resumed(j->samples, st.n) >= (size_t)st.n;
    if (cached && !(rc = land_held(c, err))) {
        MILL_INFO("runner", "Cached %s — model=%s | n_shot=%d", t->name, c->model, t->n_shots);
        j->n_docs = st.n;
        rc = aggregate_job(j, tr, err);
    } else if (!rc && !cached) {
        MILL_INFO("runner", "Evaluating %s | model=%s | n_shot=%d", t->name, c->model, t->n_shots);
        /* lines of another limit (or another split at the same doc ids) may follow */
        rc = st.finished ? mill_provenance_unfinish(j->json, err) : 0;
        if (!rc)
            rc = build_fewshot(c, t, j->dir, &j->fewshot, err);
        if (!rc)
            rc = stream_docs(j, &j->files, err);
        if (!rc && j->flight && finish_on_worker(j)) {
            /* its last batch is answered (and written) while the next job prepares */
            MILL_DEBUG("runner", "%s: held while its last batch is answered", t->name);
            c->held = j;
            return 0;
        }
        if (!rc && j->flight)
            rc = land_flight(j, err);
        /* Nothing of this job reached the backend while a job is still held (all its docs
         * were done, or it failed first): that one ends first, as without the pipeline. */
        struct mill_err held = {0};
        int hrc = land_held_for(j, &held);
        return held_first(end_job(j, rc, err), err, hrc, &held);
    }
    free_job(j);
    free(j);
    return land_held_after(c, rc, err);
}

/* The rollup row of a benchmark that ran more than one task (BEHAVIOUR.md §2.3): only written when
 * every task produced a value, so a partial run never passes for a full one. */
static int rollup(struct run_ctx *c, const struct mill_benchmark_config *b,
                  const struct mill_task_config **tasks, struct task_result *tr, size_t n,
                  double *first_score, bool *have, struct mill_err *err) {
    *have = false;
    size_t n_metric = mill_strv_len(b->metric_names);
    double *perf = calloc(n, sizeof *perf);
    int64_t *counts = calloc(n, sizeof *counts);
    struct mill_aggregate_row *rows = calloc(n_metric ? n_metric : 1, sizeof *rows);
    int rc = perf && counts && rows ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t n_rows = 0;
    for (size_t m = 0; !rc && m < n_metric; m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t tm = 0; tr[i].have && tasks[i]->metrics && tasks[i]->metrics[tm]; tm++)
                if (!strcmp(tasks[i]->metrics[tm], b->metric_names[m])) {
                    if (!isnan(tr[i].perf[tm])) { /* NaN: no value at all, no row */
                        perf[k] = tr[i].perf[tm];
                        counts[k++] = (int64_t)tr[i].n_samples;
                    }
                    break;
                }
        /* no rollup this time deletes the one an earlier run may have left (NaN) */
        struct mill_aggregate_row *r = &rows[n_rows++];
        *r = (struct mill_aggregate_row){
            .model = c->model,
            .benchmark = b->name,
            .task = b->name,
            .task_type = mill_task_type_str(mill_task_effective_type(tasks[0])),
            .n_shot = c->p->n_shot >= 0 ? c->p->n_shot : tasks[0]->n_shots,
            .metric = b->metric_names[m],
            .remove = true};
        if (k < n) {
            MILL_WARN("runner", "%s: no %s rollup: %zu of %zu tasks have a result", b->name,
                      b->metric_names[m], k, n);
            bool docs = false; /* tasks of no docs at all (--limit 0) leave the file alone */
            for (size_t i = 0; i < n; i++)
                docs = docs || tr[i].had_docs;
            n_rows -= !docs;
            continue;
        }
        int rrc = mill_aggregate_rollup(perf, b->weighted_aggregate ? counts : NULL, k,
                                        &r->performance, &r->std_err);
        if (rrc) {
            MILL_WARN("runner", "%s: no %s rollup: %s", b->name, b->metric_names[m],
                      rrc == MILL_ENOMEM ? "out of memory" : "its tasks' sample counts sum to 0");
            continue;
        }
        r->remove = false;
        if (m == 0) {
            *first_score = r->performance;
            *have = true;
        }
    }
    if (!rc && n_rows) {
        char *path = NULL;
        if (asprintf(&path, "%s/aggregate.csv", c->p->output_dir) < 0)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            rc = mill_aggregate_upsert(path, rows, n_rows, err);
        free(path);
    }
    free(perf);
    free(counts);
    free(rows);
    return rc;
}

/* Whether the job of task at n_shot has finished for this run's seed and limit, as its
 * provenance says (a benchmark's rollup from disk counts its leaf rows then); *count gets its
 * sample count for a weighted rollup, *docs whether it had any doc. */
static bool job_finished(struct run_ctx *c, const char *task, int64_t n_shot, int64_t *count,
                         bool *docs) {
    char *path = mill_job_file(c->p->output_dir, c->model, task, n_shot, ".json");
    struct mill_provenance_state st = {0};
    if (path)
        mill_provenance_read(path, &st);
    free(path);
    *count = st.n - st.n_failed;
    *docs = st.n > 0;
    return mill_provenance_finished(&st, c->p->seed, c->p->limit);
}

/* The rollup row of t's benchmark when t ran without the rest of it (a `mill schedule` worker
 * runs one task per process): written once every task of the benchmark has finished for this
 * model, seed, limit and n_shot, from their aggregate.csv rows, as a run of the whole benchmark
 * would have written it (rollup); nothing while any is missing. Two workers that end the last
 * two tasks at once both see both rows (each reads after writing its own) and write the same
 * row. */
static int rollup_from_disk(struct run_ctx *c, const struct mill_task_config *t,
                            struct mill_err *err) {
    const struct mill_benchmark_config *b = mill_registry_parent(c->reg, t->name);
    size_t n = b ? mill_strv_len(b->task_names) : 0;
    if (n < 2 || b->pick_variant_by_model)
        return 0;
    const struct mill_task_config **tasks = calloc(n, sizeof *tasks);
    struct task_result *tr = calloc(n, sizeof *tr);
    int64_t *shots = calloc(n, sizeof *shots);
    char *path = NULL;
    struct mill_aggregate_table tab;
    mill_aggregate_table_init(&tab);
    int rc = tasks && tr && shots && asprintf(&path, "%s/aggregate.csv", c->p->output_dir) >= 0
                 ? 0
                 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    bool all = !rc;
    for (size_t i = 0; all && i < n; i++) {
        int64_t count = 0;
        tasks[i] = mill_registry_task(c->reg, b->task_names[i]);
        shots[i] = c->p->n_shot >= 0 ? c->p->n_shot : tasks[i] ? tasks[i]->n_shots : 0;
        all = tasks[i] && job_finished(c, tasks[i]->name, shots[i], &count, &tr[i].had_docs);
        tr[i].n_samples = (size_t)(count > 0 ? count : 0);
    }
    if (all)
        rc = mill_aggregate_read(&tab, path, err);
    for (size_t i = 0; all && !rc && i < n; i++) { /* each task's leaf rows, by its metrics */
        size_t nm = mill_strv_len(tasks[i]->metrics);
        if (!(tr[i].perf = calloc(nm ? nm : 1, sizeof *tr[i].perf)))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        for (size_t m = 0; !rc && m < nm; m++) {
            tr[i].perf[m] = NAN;
            for (size_t r = 0; r < tab.n; r++) {
                const struct mill_aggregate_row *row = &tab.rows[r];
                if (row->n_shot == shots[i] && !strcmp(row->model, c->model) &&
                    !strcmp(row->task, tasks[i]->name) &&
                    !strcmp(row->metric, tasks[i]->metrics[m]))
                    tr[i].perf[m] = row->performance;
            }
            tr[i].have = tr[i].have || !isnan(tr[i].perf[m]);
        }
    }
    double score;
    bool have;
    if (all && !rc) {
        MILL_DEBUG("runner", "%s: every task has finished; its rollup from aggregate.csv", b->name);
        rc = rollup(c, b, tasks, tr, n, &score, &have, err);
    }
    for (size_t i = 0; tr && i < n; i++)
        free(tr[i].perf);
    mill_aggregate_table_free(&tab);
    free(path);
    free(shots);
    free(tr);
    free(tasks);
    return rc;
}

static int add_score(struct mill_run_result *res, const char *model, const char *name, double score,
                     bool have, int group, size_t order) {
    struct mill_run_score *s = realloc(res->scores, (res->n + 1) * sizeof *s);
    if (!s)
        return MILL_ENOMEM;
    res->scores = s;
    s[res->n] = (struct mill_run_score){strdup(model), strdup(name), score, have, group, order};
    if (!s[res->n].model || !s[res->n].name)
        return MILL_ENOMEM;
    res->n++;
    return 0;
}

/* What task t produced when this model ran it earlier in the run, or NULL. */
static const struct task_result *ran_before(const struct run_ctx *c,
                                            const struct mill_task_config *t) {
    for (size_t i = 0; i < c->n_ran; i++)
        if (c->ran[i].t == t)
            return &c->ran[i].tr;
    return NULL;
}

/* *to = a copy of from, which has a value per metric of t. 0 or MILL_ENOMEM. */
static int copy_result(struct task_result *to, const struct task_result *from,
                       const struct mill_task_config *t) {
    size_t nm = mill_strv_len(t->metrics);
    *to = *from;
    to->perf = NULL;
    if (!from->perf)
        return 0;
    if (!(to->perf = malloc((nm ? nm : 1) * sizeof *to->perf)))
        return MILL_ENOMEM;
    memcpy(to->perf, from->perf, nm * sizeof *to->perf);
    return 0;
}

/* Keeps what task t produced (ran_before). 0 or MILL_ENOMEM. */
static int keep_result(struct run_ctx *c, const struct mill_task_config *t,
                       const struct task_result *tr) {
    if (ran_before(c, t))
        return 0;
    if (mill_grow(&c->ran, &c->cap_ran, c->n_ran, sizeof *c->ran, 8))
        return MILL_ENOMEM;
    c->ran[c->n_ran].t = t;
    int rc = copy_result(&c->ran[c->n_ran].tr, tr, t);
    c->n_ran += !rc;
    return rc;
}

/* Every name a task or a benchmark, each task it stands for registered and runnable:
 * MILL_EINVAL naming the first that is not. */
static int check_names(const struct mill_registry *reg, char **names, size_t n,
                       struct mill_err *err) {
    for (size_t i = 0; i < n; i++) {
        if (!mill_registry_benchmark(reg, names[i]) && !mill_registry_task(reg, names[i]))
            return mill_err_set(err, MILL_EINVAL, "unknown task or benchmark '%s' (see mill ls)",
                                names[i]);
        const struct mill_task_config **tasks = NULL;
        size_t nt = 0;
        int rc = mill_resolve_name(reg, names[i], NULL, &tasks, &nt, err); /* checks each task */
        free(tasks);
        if (rc)
            return rc;
    }
    return 0;
}

/* Runs the tasks name stands for (those this model ran already give what they gave then);
 * records the score of the end table. */
static int run_name(struct run_ctx *c, const char *name, struct mill_err *err) {
    const struct mill_task_config **tasks = NULL;
    size_t n = 0;
    int rc = mill_resolve_name(c->reg, name, &c->caps, &tasks, &n, err);
    if (rc)
        return rc;
    const struct mill_benchmark_config *b = mill_registry_benchmark(c->reg, name);
    if (n == 0)
        MILL_WARN("runner", "Benchmark '%s': no task matches the model's capabilities", name);
    struct task_result *tr = calloc(n ? n : 1, sizeof *tr);
    if (!tr)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const struct task_result *before = ran_before(c, tasks[i]);
        if (before && copy_result(&tr[i], before, tasks[i]))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else if (before)
            MILL_DEBUG("runner", "%s: run already for %s", tasks[i]->name, c->model);
        else
            rc = run_task(c, tasks[i], &tr[i], err);
    }
    rc = land_held_after(c, rc, err); /* the last task's last batch */
    for (size_t i = 0; !rc && i < n; i++)
        if (keep_result(c, tasks[i], &tr[i]))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    double score = NAN;
    bool have = false;
    if (!rc && b && n > 1)
        rc = rollup(c, b, tasks, tr, n, &score, &have, err);
    else if (!rc && n == 1 && tr[0].have) {
        score = tr[0].perf[0];
        have = !isnan(score);
    }
    if (!rc && !b && n == 1)
        rc = rollup_from_disk(c, tasks[0], err);
    /* Python Mill's table: the leaf tasks found finished first, then those run, each in
     * leaf order, then the benchmarks; a benchmark named as one of its tasks sits at that
     * task's place. */
    int group = 2;
    size_t order = 0;
    for (size_t i = 0; !rc && i < n && group == 2; i++)
        if (!strcmp(tasks[i]->name, name)) {
            while (order < c->n_leaves && strcmp(c->leaves[order], name))
                order++;
            group = order < c->n_leaves && c->leaf_done[order] ? 0 : 1;
        }
    if (!rc && add_score(c->res, c->model, name, score, have, group, order))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; tr && i < n; i++)
        free(tr[i].perf);
    free(tr);
    free(tasks);
    return rc;
}

/* Opens a backend for spec: a registered name or alias, else a bare Hub id for the llama
 * backend (Mill's shorthand). Nothing is downloaded. A spec of a quantisation sweep
 * (mill_spec_sweep) names its model "<backend's name>:<quant>", so each file is its own job. */
static int open_backend(struct run_ctx *c, const struct mill_model_spec *spec, bool swept,
                        struct mill_err *err) {
    c->ops = mill_backend_find(spec->type);
    if (!c->ops)
        c->ops = mill_backend_for_hf_id();
    if (!c->ops)
        return mill_err_set(err, MILL_EINVAL,
                            "model spec '%s': unknown backend '%s' (this build has: replay)",
                            spec->raw, spec->type);
    int rc = c->ops->open(spec, &c->state, err);
    if (rc) {
        mill_backend_hint(spec->type, err);
        return rc;
    }
    c->ops->caps(c->state, &c->caps);
    c->model = c->ops->model_name(c->state);
    /* its outputs/ directory (mill_model_dirname) must be one below outputs/ */
    if (!*c->model || !strcmp(c->model, ".") || !strcmp(c->model, ".."))
        return mill_err_set(err, MILL_EINVAL,
                            "model spec '%s': the model's name '%s' cannot name its output "
                            "directory",
                            spec->raw, c->model);
    if (swept && !(c->model_owned = mill_spec_sweep_name(c->model, spec)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (swept)
        c->model = c->model_owned;
    return 0;
}

/* Appends task t to the leaf list unless it is there already, with whether it was finished
 * before the run (Python Mill decides done and pending once, before running anything). */
static int add_leaf(struct run_ctx *c, size_t *cap, const struct mill_task_config *t) {
    for (size_t i = 0; i < c->n_leaves; i++)
        if (!strcmp(c->leaves[i], t->name))
            return 0;
    if (c->n_leaves == *cap) {
        size_t grown = *cap ? 2 * *cap : 16;
        const char **v = realloc(c->leaves, grown * sizeof *v);
        if (v)
            c->leaves = v;
        bool *d = v ? realloc(c->leaf_done, grown * sizeof *d) : NULL;
        if (!d)
            return MILL_ENOMEM;
        c->leaf_done = d;
        *cap = grown;
    }
    int64_t count;
    bool docs;
    c->leaf_done[c->n_leaves] =
        job_finished(c, t->name, c->p->n_shot >= 0 ? c->p->n_shot : t->n_shots, &count, &docs);
    c->leaves[c->n_leaves++] = t->name;
    return 0;
}

/* c->leaves as Python Mill's leaf_configs: the names that are tasks, in order, then the tasks
 * each benchmark name stands for for this backend (names borrowed from the registry). */
static int leaf_order(struct run_ctx *c, char **names, size_t n_names, struct mill_err *err) {
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n_names; i++) { /* the task names (a benchmark wins a name) */
        const struct mill_task_config *t =
            mill_registry_benchmark(c->reg, names[i]) ? NULL : mill_registry_task(c->reg, names[i]);
        if (t)
            rc = add_leaf(c, &cap, t);
    }
    for (size_t i = 0; !rc && i < n_names; i++) { /* then the benchmarks' tasks */
        const struct mill_task_config **tasks = NULL;
        size_t n = 0;
        if (mill_registry_benchmark(c->reg, names[i]))
            rc = mill_resolve_name(c->reg, names[i], &c->caps, &tasks, &n, err);
        for (size_t k = 0; !rc && k < n; k++)
            rc = add_leaf(c, &cap, tasks[k]);
        free(tasks);
    }
    return rc == MILL_ENOMEM ? mill_err_set(err, rc, "out of memory") : rc;
}

/* Every task of every name must be servable before the model is loaded (BEHAVIOUR.md §5). */
static int check_all(struct run_ctx *c, char **names, size_t n_names, struct mill_err *err) {
    for (size_t i = 0; i < n_names; i++) {
        const struct mill_task_config **tasks = NULL;
        size_t n = 0;
        int rc = mill_resolve_name(c->reg, names[i], &c->caps, &tasks, &n, err);
        if (!rc && n == 0)
            rc = mill_err_set(err, MILL_EUNSUPPORTED,
                              "benchmark '%s': no task matches the "
                              "capabilities of %s ('%s')",
                              names[i], c->caps.class_name, c->model);
        for (size_t k = 0; !rc && k < n; k++)
            rc = mill_check_supported(&c->caps, c->model, tasks[k], err);
        free(tasks);
        if (rc)
            return rc;
    }
    return 0;
}

/* One model of the list: its spec and backend, opened (arguments checked, nothing loaded)
 * before any model runs, so a bad argument or a task it cannot serve fails the command before
 * anything is computed. */
struct model_run {
    struct mill_model_spec spec;
    bool parsed;
    struct run_ctx c;
};

static int model_open(struct model_run *m, struct mill_registry *reg,
                      const struct mill_run_params *p, const char *spec_text, bool swept,
                      char **names, size_t n_names, struct mill_run_result *res,
                      struct mill_err *err) {
    int rc = mill_model_spec_parse(spec_text, true, &m->spec, err);
    if (rc)
        return rc;
    m->parsed = true;
    m->c = (struct run_ctx){.reg = reg, .p = p, .res = res};
    m->spec.cache_dir = p->cache_dir;
    m->spec.seed = p->seed;
    rc = open_backend(&m->c, &m->spec, swept, err);
    return rc ? rc : check_all(&m->c, names, n_names, err);
}

static void model_close(struct model_run *m) {
    struct run_ctx *c = &m->c;
    if (c->ops && c->state)
        c->ops->close(c->state);
    free(c->model_owned);
    free(c->leaves);
    free(c->leaf_done);
    for (size_t i = 0; i < c->n_ran; i++)
        free(c->ran[i].tr.perf);
    free(c->ran);
    if (m->parsed)
        mill_spec_free(&m->spec);
    memset(m, 0, sizeof *m);
}

static int model_run(struct model_run *m, char **names, size_t n_names, struct mill_err *err) {
    struct run_ctx *c = &m->c;
    int rc = leaf_order(c, names, n_names, err);
    for (size_t i = 0; !rc && i < n_names; i++)
        rc = mill_stop_signal() ? mill_err_set(err, MILL_EINTR, "stopped by signal %d before %s",
                                               mill_stop_signal(), names[i])
                                : run_name(c, names[i], err);
    return rc;
}

/* The specs of a model list with each quantisation sweep expanded (mill_spec_sweep); swept[i]
 * says whether item i came from a sweep. */
static int expand_sweeps(char **specs, size_t n_specs, char ***out, bool **swept, size_t *n,
                         struct mill_err *err) {
    *out = NULL;
    *swept = NULL;
    *n = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n_specs; i++) {
        char **items = NULL;
        size_t k = 0;
        if (mill_model_config_named(specs[i])) { /* its bracket is ignored, sweep and all */
            k = (items = malloc(sizeof *items)) && (items[0] = strdup(specs[i])) ? 1 : 0;
            if (!k) {
                free(items);
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            }
        } else {
            rc = mill_spec_sweep(specs[i], &items, &k, err);
        }
        if (rc)
            break;
        char **grown = realloc(*out, (*n + k) * sizeof **out);
        bool *sw = grown ? realloc(*swept, (*n + k) * sizeof **swept) : NULL;
        if (grown)
            *out = grown;
        if (sw)
            *swept = sw;
        if (!grown || !sw) {
            mill_strv_free(items, k);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < k; j++) {
            (*out)[*n] = items[j];
            (*swept)[(*n)++] = k > 1;
        }
        free(items);
    }
    return rc;
}

int mill_run_eval(struct mill_registry *reg, const char *models, const char *names,
                  const struct mill_run_params *p, struct mill_run_result *res,
                  struct mill_err *err) {
    memset(res, 0, sizeof *res);
    char **specs = NULL, **tasks = NULL, **listed = NULL;
    size_t n_specs = 0, n_tasks = 0, n_listed = 0;
    bool *swept = NULL;
    int rc = mill_spec_split(models, &listed, &n_listed, err);
    if (!rc)
        rc = expand_sweeps(listed, n_listed, &specs, &swept, &n_specs, err);
    mill_strv_free(listed, n_listed);
    if (!rc)
        rc = mill_spec_split(names, &tasks, &n_tasks, err);
    for (size_t i = 0; !rc && i < n_specs; i++) {
        struct mill_model_spec s;
        if (!(rc = mill_model_spec_parse(specs[i], false, &s, err)))
            mill_spec_free(&s);
    }
    if (!rc)
        rc = check_names(reg, tasks, n_tasks, err);
    struct model_run *runs = rc ? NULL : calloc(n_specs ? n_specs : 1, sizeof *runs);
    if (!rc && !runs)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    bool *again = rc ? NULL : calloc(n_specs ? n_specs : 1, sizeof *again);
    if (!rc && !again)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n_specs; i++) { /* a spec given twice runs once */
        for (size_t k = 0; k < i && !again[i]; k++)
            again[i] = !strcmp(specs[k], specs[i]) && swept[k] == swept[i];
        if (again[i])
            MILL_WARN("runner", "model spec '%s' is given twice: it runs once", specs[i]);
        else
            rc = model_open(&runs[i], reg, p, specs[i], swept[i], tasks, n_tasks, res, err);
    }
    for (size_t i = 0; !rc && i < n_specs; i++) {
        if (!again[i])
            rc = model_run(&runs[i], tasks, n_tasks, err);
        model_close(&runs[i]); /* a loaded model's memory, before the next loads */
    }
    for (size_t i = 0; runs && i < n_specs; i++)
        model_close(&runs[i]);
    free(runs);
    free(again);
    free(swept);
    mill_strv_free(specs, n_specs);
    mill_strv_free(tasks, n_tasks);
    return rc;
}

void mill_run_result_free(struct mill_run_result *res) {
    for (size_t i = 0; res && i < res->n; i++) {
        free(res->scores[i].model);
        free(res->scores[i].name);
    }
    if (res)
        free(res->scores);
}

/* Whether score a comes after score b in Python Mill's table (group, then leaf order; the
 * order given among equals). */
static bool shown_after(const struct mill_run_score *a, const struct mill_run_score *b) {
    return a->group != b->group ? a->group > b->group : a->order > b->order;
}

/* Mill's table: "\n{'Task':<35} {'Score':>10}", 47 dashes, "{name:<35} {score:>10.4f}". With
 * several models each gets its own table under a "Model: <name>" line. */
int mill_run_format_table(const struct mill_run_result *res, struct mill_buf *out) {
    bool many = false;
    for (size_t i = 1; i < res->n; i++)
        many |= strcmp(res->scores[i].model, res->scores[0].model) != 0;
    size_t *idx = malloc((res->n ? res->n : 1) * sizeof *idx);
    if (!idx)
        return MILL_ENOMEM;
    for (size_t lo = 0, hi; lo < res->n; lo = hi) { /* one model's block: [lo, hi) */
        for (hi = lo; hi < res->n && !strcmp(res->scores[hi].model, res->scores[lo].model); hi++)
            idx[hi] = hi;
        for (size_t i = lo + 1; i < hi; i++) /* insertion sort: stable */
            for (size_t k = i;
                 k > lo && shown_after(&res->scores[idx[k - 1]], &res->scores[idx[k]]); k--) {
                size_t t = idx[k];
                idx[k] = idx[k - 1];
                idx[k - 1] = t;
            }
        if (many)
            mill_buf_addf(out, "\nModel: %s", res->scores[lo].model);
        mill_buf_addf(out, "\n%-35s %10s\n", "Task", "Score");
        mill_buf_adds(out, "-----------------------------------------------\n");
        for (size_t i = lo; i < hi; i++) {
            const struct mill_run_score *s = &res->scores[idx[i]];
            bool shown = false; /* a name given twice is shown once */
            for (size_t k = lo; k < i && !shown; k++)
                shown = !strcmp(res->scores[idx[k]].name, s->name);
            if (!shown && s->have)
                mill_buf_addf(out, "%-35s %10.4f\n", s->name, s->score);
            else if (!shown)
                mill_buf_addf(out, "%-35s %10s\n", s->name, "nan");
        }
        mill_buf_addc(out, '\n'); /* Python Mill's _display ends with print() */
    }
    free(idx);
    return out->p || !res->n ? 0 : MILL_ENOMEM;
}

/* `mill prompts`: every doc of every task name stands for, as the model would be given it. */
int mill_write_prompts(struct mill_registry *reg, const char *names,
                       const struct mill_run_params *p, FILE *out, struct mill_err *err) {
    char **list = NULL;
    size_t n = 0;
    int rc = mill_spec_split(names, &list, &n, err);
    struct run_ctx c = {.reg = reg, .p = p};
    const struct mill_task_config **done = NULL; /* tasks printed: one named twice prints once */
    size_t n_done = 0, cap_done = 0;
    if (!rc) /* every name known before anything is printed */
        rc = check_names(reg, list, n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct mill_task_config **tasks = NULL;
        size_t nt = 0;
        if ((rc = mill_resolve_name(reg, list[i], NULL, &tasks, &nt, err)) != 0) {
            rc = MILL_EINVAL;
            break;
        }
        for (size_t k = 0; !rc && k < nt; k++) {
            bool seen = false;
            for (size_t d = 0; d < n_done && !seen; d++)
                seen = done[d] == tasks[k];
            if (seen)
                continue;
            if (mill_grow(&done, &cap_done, n_done, sizeof *done, 16)) {
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
                break;
            }
            done[n_done++] = tasks[k];
            struct mill_task_config copy = *tasks[k];
            if (p->n_shot >= 0)
                copy.n_shots = (int)p->n_shot;
            struct job j = {
                .c = &c, .t = &copy, .dir = mill_registry_task_dir(reg, tasks[k]), .prompts = out};
            struct mill_buf files = {0};
            if ((rc = setup_job(&j, err)) == 0 &&
                (rc = build_fewshot(&c, j.t, j.dir, &j.fewshot, err)) == 0)
                rc = stream_docs(&j, &files, err);
            mill_buf_free(&files);
            free_job(&j);
        }
        free(tasks);
    }
    free(done);
    mill_strv_free(list, n);
    return rc;
}
