/* jsonl.c: the JSON Lines reader: one JSON object per line, blank lines skipped. A malformed
 * line is an error naming the file and line; the file is streamed, never slurped. With a
 * projection, a row keeps only those fields, as Parquet and WebDataset rows do. */
#include "data/reader.h"

#include <mill/value.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jsonl {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    size_t lineno;
    const char *const *columns; /* the projection (borrowed: the dataset outlives the reader) */
};

/* Drops the fields of row the projection does not name, keeping the others' order. */
static void project(struct mill_value *row, const char *const *columns) {
    size_t k = 0;
    for (size_t i = 0; i < row->u.obj.n; i++) {
        if (!mill_reader_projected(columns, row->u.obj.keys[i])) {
            free(row->u.obj.keys[i]);
            mill_value_free(&row->u.obj.vals[i]);
            continue;
        }
        row->u.obj.keys[k] = row->u.obj.keys[i];
        row->u.obj.vals[k++] = row->u.obj.vals[i];
    }
    row->u.obj.n = k;
}

static int jsonl_open(const char *path, const char *const *columns, void **state,
                      struct mill_err *err) {
    struct jsonl *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (!(j->f = fopen(path, "rb"))) {
        int e = errno;
        free(j->path);
        free(j);
        return mill_err_set(err, e == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(e));
    }
    j->columns = columns;
    *state = j;
    return 0;
}

static int jsonl_next(void *state, struct mill_value *row, struct mill_err *err) {
    struct jsonl *j = state;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&j->line, &j->cap, j->f);
        if (n < 0) {
            if (ferror(j->f))
                return mill_err_set(err, MILL_EIO, "%s: read error after line %zu: %s", j->path,
                                    j->lineno, strerror(errno));
            return 0;
        }
        j->lineno++;
        size_t len = (size_t)n;
        while (len && (j->line[len - 1] == '\n' || j->line[len - 1] == '\r' ||
                       j->line[len - 1] == ' ' || j->line[len - 1] == '\t'))
            len--;
        if (!len)
            continue;
        int rc = mill_value_from_json(row, j->line, len, err);
        if (rc)
            return mill_err_prefix(err, "%s:%zu", j->path, j->lineno);
        if (row->kind != MILL_V_STRUCT) {
            mill_value_free(row);
            return mill_err_set(err, MILL_EFORMAT, "%s:%zu: expected a JSON object", j->path,
                                j->lineno);
        }
        if (j->columns)
            project(row, j->columns);
        return 1;
    }
}

static void jsonl_close(void *state) {
    struct jsonl *j = state;
    if (!j)
        return;
    if (j->f)
        fclose(j->f);
    free(j->line);
    free(j->path);
    free(j);
}

const struct mill_reader_ops mill_reader_jsonl = {"jsonl", jsonl_open, jsonl_next, jsonl_close};
