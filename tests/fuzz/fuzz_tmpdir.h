/* fuzz_tmpdir.h: what the fuzz targets that must write their input as a file share: one
 * directory per process under $TMPDIR, made on first use and removed (with what the target
 * names) at exit. */
#ifndef MILL_FUZZ_TMPDIR_H
#define MILL_FUZZ_TMPDIR_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes dir (size n) "$TMPDIR/mill_<tag>.XXXXXX" once and registers cleanup with atexit;
 * true when dir exists. */
static inline bool fuzz_tmpdir(char *dir, size_t n, const char *tag, void (*cleanup)(void)) {
    if (dir[0])
        return true;
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/mill_%s.XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(dir)) {
        dir[0] = 0;
        return false;
    }
    atexit(cleanup);
    return true;
}

#endif
