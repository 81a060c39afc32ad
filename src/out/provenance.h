/* provenance.h: the provenance file of one job (outputs/<model>/<task>_<n>shot.json): written
 * atomically, read back to decide whether a job is finished for a given seed and limit. */
#ifndef MILL_OUT_PROVENANCE_H
#define MILL_OUT_PROVENANCE_H

#include <mill/mill.h>

struct mill_provenance_state {
    bool found;      /* the file exists and parsed */
    bool finished;   /* the job ran to its end */
    int64_t seed;
    int64_t limit;   /* -1 = none */
    int64_t n;       /* docs in the job */
};

/* Reads path; a missing or unreadable file gives found = false (never an error: the job is
 * then simply recomputed from its samples). */
void mill_provenance_read(const char *path, struct mill_provenance_state *st);
/* Writes json (one object) to path atomically: temp file, fsync, rename. */
int mill_provenance_write(const char *path, const char *json, struct mill_err *err);

#endif
