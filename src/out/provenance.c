/* provenance.c: reading and atomically writing a job's provenance JSON (provenance.h). */
#include "out/provenance.h"

#include <mill/value.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mill_provenance_read(const char *path, struct mill_provenance_state *st) {
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct mill_value v;
    struct mill_err e;
    if (n == sizeof buf || mill_value_from_json(&v, buf, n, &e))
        return;
    const struct mill_value *fin = mill_value_get(&v, "finished");
    st->found = v.kind == MILL_V_STRUCT &&
                !mill_value_as_int(mill_value_get(&v, "seed"), &st->seed) &&
                !mill_value_as_int(mill_value_get(&v, "limit"), &st->limit) &&
                !mill_value_as_int(mill_value_get(&v, "n"), &st->n);
    st->finished = st->found && fin && fin->kind == MILL_V_BOOL && fin->u.b;
    mill_value_free(&v);
}

int mill_provenance_write(const char *path, const char *json, struct mill_err *err) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    else {
        bool ok = fputs(json, f) != EOF && fputc('\n', f) != EOF && fflush(f) == 0 &&
                  fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0)
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
