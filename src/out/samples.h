/* samples.h: the per-sample JSON Lines file of one job (outputs/<model>/<task>_<n>shot.jsonl):
 * resume state read from it, lines appended and flushed as samples finish, and the job lock.
 *
 * Lines of an earlier run with the same seed and no error count as done (their metric values
 * are reused); lines of other seeds, failed samples and a torn last line stay in the file
 * untouched but are not reused. Nothing an earlier run wrote is ever rewritten or truncated;
 * each flush appends one batch in one write, and a write that fails part-way (disk full, file
 * too large) is cut back by the same writer, so the file keeps whole lines only. */
#ifndef MILL_OUT_SAMPLES_H
#define MILL_OUT_SAMPLES_H

#include <mill/backend.h>
#include <mill/buf.h>
#include <mill/doc.h>
#include <mill/metric.h>

struct mill_samples;

/* What one per-sample line says; every pointer is borrowed for the call. */
struct mill_sample_line {
    const char *model;
    const struct mill_task_config *task; /* its name and n_shots */
    const struct mill_metric *const *metrics;
    size_t n_metrics;
    const struct mill_doc *doc; /* metadata, gold, n_choices */
    int64_t doc_id;
    const char *split;
    int64_t split_doc; /* its index within split: "split_doc" for a task of several splits */
    int64_t seed;
    const char *prompt;                      /* NULL writes "" */
    const struct mill_sample_result *result; /* NULL for a failed sample: prediction null */
    const double *values;                    /* n_metrics values, NULL for a failed sample */
    const struct mill_request *responses;    /* NULL: no "responses" key */
    size_t n_responses;
    const char *error; /* NULL: no "error" key */
};

/* One per-sample line (no newline) into out, replacing its contents: Mill's row keys
 * ({**metadata, model, task, n_shot, doc_id, split, prediction, gold, metrics}) plus seed,
 * prompt, responses, for a failed sample error, and for a task of several evaluation splits
 * split_doc after split. Metadata keys that clash with those are
 * left out. 0 or MILL_ENOMEM. */
int mill_sample_line_build(const struct mill_sample_line *s, struct mill_buf *out);

/* Opens (creating directories as needed) path for appending, after taking an exclusive
 * flock on "<path>.lock" (held until close; while another holder has it, an INFO line says
 * so and the call waits) and reading what is already there.
 * metric_names (n_metrics) are the task's metrics, whose values are kept per done doc.
 * before_wait (may be NULL) is called once, with ud, when the lock is taken and before the
 * call waits: the runner ends there a job it still holds, so that it never waits on a lock
 * while holding another (its own, or one of a cycle between processes); its error fails the
 * open. */
int mill_samples_open(const char *path, int64_t seed, const char *const *metric_names,
                      size_t n_metrics, int (*before_wait)(void *ud, struct mill_err *err),
                      void *ud, struct mill_samples **s, struct mill_err *err);
/* True when doc_id is done; *metrics then points at its n_metrics values (borrowed). With
 * split, a line read from the file counts only when it names that split and split_doc (the
 * doc's index within it; a line without "split_doc" has its doc_id there), or no split at
 * all: doc_ids run on across a task's splits, so another --limit numbers them otherwise. */
bool mill_samples_done(const struct mill_samples *s, int64_t doc_id, const char *split,
                       int64_t split_doc, const double **metrics);
/* Records a finished doc (its metric values) and queues line (no newline) for the next flush. */
int mill_samples_append(struct mill_samples *s, int64_t doc_id, const double *metrics, bool failed,
                        const char *line, struct mill_err *err);
/* Writes the queued lines to the file in one write, then fdatasync. On failure (MILL_EIO
 * naming the file: disk full, file too large) the file is cut back to its last whole line and
 * the queued docs are no longer done. */
int mill_samples_flush(struct mill_samples *s, struct mill_err *err);
/* Count of docs found done in the file at open with a doc_id below n_docs (the job's docs: an
 * earlier run over more docs leaves lines beyond them). */
size_t mill_samples_n_resumed(const struct mill_samples *s, int64_t n_docs);
void mill_samples_close(
    struct mill_samples *s); /* flushes (a failure is warned), unlocks; NULL-safe */

/* "<model with / as __>": the directory name of a model under outputs/. malloc'd. */
char *mill_model_dirname(const char *model);
/* A job's file: <output_dir>/outputs/<model dir>/<task>_<n_shot>shot<ext> (ext ".jsonl" for its
 * samples, ".json" for its provenance). malloc'd; NULL when out of memory. */
char *mill_job_file(const char *output_dir, const char *model, const char *task, int64_t n_shot,
                    const char *ext);

#endif
