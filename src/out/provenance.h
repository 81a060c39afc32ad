/* provenance.h: the provenance file of one job (outputs/<model>/<task>_<n>shot.json): written
 * atomically, read back to decide whether a job is finished for a given seed and limit. */
#ifndef MILL_OUT_PROVENANCE_H
#define MILL_OUT_PROVENANCE_H

#include <mill/buf.h>
#include <mill/task.h>
#include <mill/value.h>

#include <stdbool.h>

struct mill_provenance_state {
    bool found;    /* the file exists and parsed */
    bool finished; /* the job ran to its end */
    int64_t seed;
    int64_t limit;    /* -1 = none */
    int64_t n;        /* docs in the job */
    int64_t n_failed; /* of them, failed samples (0 when the file does not say) */
};

/* What one job's provenance document says; every pointer is borrowed for the call. */
struct mill_provenance {
    const char *model;
    const char *backend; /* the backend's name */
    /* Appends the backend's own fields ("k":v,... without braces), or NULL. */
    int (*backend_fields)(void *state, struct mill_buf *b);
    void *backend_state;
    const struct mill_task_config *task; /* name, version, n_shots, hf_repo/subset/revision */
    const char *files_json;              /* the dataset files, a JSON array */
    int64_t seed, limit, n;              /* limit -1 = none; n = docs in the job */
    size_t n_failed, n_computed, n_resumed;
    int64_t n_truncated;
    bool finished;
    double seconds;
    int64_t written_at; /* Unix time */
};

/* The provenance document (one JSON object) into out, replacing its contents: mill version
 * and git hash, model, backend and its fields, task, dataset, seed, limit and counts. 0 or
 * MILL_ENOMEM. */
int mill_provenance_build(const struct mill_provenance *p, struct mill_buf *out);

/* Reads path; a missing or unreadable file gives found = false (never an error: the job is
 * then simply recomputed from its samples). */
void mill_provenance_read(const char *path, struct mill_provenance_state *st);
/* Whether st says the job ran to its end for this seed and limit (what `mill eval` calls
 * finished, BEHAVIOUR.md §2.4, but for the samples file's own count). */
bool mill_provenance_finished(const struct mill_provenance_state *st, int64_t seed, int64_t limit);
/* The provenance file at path parsed whole into *v: 0, MILL_ENOTFOUND when there is none,
 * MILL_EFORMAT when it cannot be read or is no JSON (or is past 64 MiB), MILL_ENOMEM. */
int mill_provenance_load(const char *path, struct mill_value *v);
/* Writes json (one object) to path atomically: temp file, fsync, rename. */
int mill_provenance_write(const char *path, const char *json, struct mill_err *err);
/* Rewrites the provenance at path (atomically) with "finished": false when it says true, the
 * rest kept: a run that will append lines to a finished job's samples must not leave it
 * looking finished for its old seed and limit if it is killed. 0 when there is nothing to do. */
int mill_provenance_unfinish(const char *path, struct mill_err *err);

#endif
