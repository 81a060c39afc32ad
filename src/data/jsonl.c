/* jsonl.c: the reader of `datasets`' json builder: JSON Lines, one object per line, blank
 * lines skipped, streamed; and, as its fall-back when the file is not that (pandas.read_json of
 * the whole document), a JSON array of objects or an object of equal-length lists (columns).
 * A malformed line is an error naming the file and line (blank lines counted); a UTF-8 BOM is
 * dropped. Compressed files (.jsonl.gz, ...) are read through compress.h. With a projection, a row keeps only those fields, as Parquet and
 * WebDataset rows do. */
#include "data/reader.h"

#include "data/compress.h"

#include <mill/buf.h>
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
    bool whole;                 /* the file was one JSON document: rows come from doc */
    struct mill_value doc;      /* the document: an array of objects, or an object of columns */
    size_t next;                /* its next row */
    size_t rows;                /* JSON Lines rows read */
};

#define DOC_MAX ((size_t)1 << 31) /* a whole-document file larger than this is refused */

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

static void jsonl_close(void *state);

static int read_error(struct jsonl *j, struct mill_err *err) {
    return mill_err_set(err, MILL_EIO, "%s: read error after line %zu: %s", j->path, j->lineno,
                        mill_data_read_error(errno));
}

/* mill_data_skip_bom at the file's start (the stream is there), its failures as errors
 * naming the file. */
static int skip_bom(struct jsonl *j, struct mill_err *err) {
    int rc = mill_data_skip_bom(j->f);
    if (rc == MILL_EFORMAT)
        return mill_err_set(err, rc, "%s:1: not UTF-8 at its first byte", j->path);
    return rc ? read_error(j, err) : 0;
}

/* Whether v is an object whose values are lists of one length (*n): pandas' columns. */
static bool is_columns(const struct mill_value *v, size_t *n) {
    if (v->kind != MILL_V_STRUCT || !v->u.obj.n)
        return false;
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const struct mill_value *c = &v->u.obj.vals[i];
        if (c->kind != MILL_V_LIST || (i && c->u.list.n != *n))
            return false;
        *n = c->u.list.n;
    }
    return true;
}

/* The file from where the stream is (from_start: from its start, rewound) as one JSON
 * document: an array of objects, or an object of equal-length lists. */
static int read_whole(struct jsonl *j, bool from_start, struct mill_err *err) {
    struct mill_buf b = {0};
    char chunk[65536];
    size_t got;
    int rc = !from_start ? 0 : fseek(j->f, 0, SEEK_SET) ? read_error(j, err) : skip_bom(j, err);
    errno = 0;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, j->f)) > 0)
        rc = b.n + got > DOC_MAX            ? mill_err_set(err, MILL_EFORMAT,
                                                           "%s: a JSON document over %zu MiB (JSON Lines "
                                                                      "files have no limit)",
                                                           j->path, DOC_MAX >> 20)
             : mill_buf_add(&b, chunk, got) ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                                            : 0;
    if (!rc && ferror(j->f))
        rc = read_error(j, err);
    if (!rc && (rc = mill_value_from_json(&j->doc, b.p ? b.p : "", b.n, err)) != 0)
        rc = mill_err_prefix(err, "%s", j->path);
    mill_buf_free(&b);
    size_t n = 0;
    if (!rc && j->doc.kind != MILL_V_LIST && !is_columns(&j->doc, &n)) {
        mill_value_free(&j->doc);
        rc = mill_err_set(err, MILL_EFORMAT,
                          "%s: expected JSON Lines, an array of objects or an object of "
                          "equal-length lists",
                          j->path);
    }
    j->whole = !rc;
    return rc;
}

/* The next row of a whole document into *row: 1, 0 at its end, or an error. */
static int doc_next(struct jsonl *j, struct mill_value *row, struct mill_err *err) {
    const struct mill_value *d = &j->doc;
    size_t n = 0;
    if (d->kind == MILL_V_LIST) {
        if (j->next >= d->u.list.n)
            return 0;
        const struct mill_value *item = &d->u.list.items[j->next];
        if (item->kind != MILL_V_STRUCT)
            return mill_err_set(err, MILL_EFORMAT, "%s: item %zu of the array is not an object",
                                j->path, j->next);
        if (mill_value_copy(row, item))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    } else {
        is_columns(d, &n);
        if (j->next >= n)
            return 0;
        mill_value_struct(row);
        for (size_t c = 0; c < d->u.obj.n; c++) {
            struct mill_value cell;
            int rc = mill_value_copy(&cell, &d->u.obj.vals[c].u.list.items[j->next]);
            if (!rc && (rc = mill_value_struct_set(row, d->u.obj.keys[c], &cell)) != 0)
                mill_value_free(&cell);
            if (rc) {
                mill_value_free(row);
                return mill_err_set(err, MILL_ENOMEM, "out of memory");
            }
        }
    }
    j->next++;
    if (j->columns)
        project(row, j->columns);
    return 1;
}

static int jsonl_open(const char *path, const char *const *columns, void **state,
                      struct mill_err *err) {
    struct jsonl *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (!(j->f = mill_data_fopen(path, err))) {
        free(j->path);
        free(j);
        return err->code;
    }
    j->columns = columns;
    *state = j;
    int c = EOF, rc = skip_bom(j, err); /* an array is no JSON Lines file: pandas reads it whole */
    while (!rc && ((c = getc(j->f)) == ' ' || c == '\t' || c == '\n' || c == '\r'))
        j->lineno += c == '\n'; /* blank lines still count in the errors' line numbers */
    if (!rc && c == EOF && ferror(j->f))
        rc = read_error(j, err);
    else if (!rc && c != EOF && ungetc(c, j->f) == EOF)
        rc = mill_err_set(err, MILL_EIO, "%s: cannot read it", path);
    else if (!rc && c == '[')
        rc = read_whole(j, false, err);
    if (rc) {
        jsonl_close(j);
        *state = NULL;
    }
    return rc;
}

static int jsonl_next(void *state, struct mill_value *row, struct mill_err *err) {
    struct jsonl *j = state;
    if (j->whole)
        return doc_next(j, row, err);
    for (;;) {
        errno = 0;
        ssize_t n = getline(&j->line, &j->cap, j->f);
        if (n < 0)
            return ferror(j->f) ? read_error(j, err) : 0;
        j->lineno++;
        size_t len = (size_t)n;
        while (len && (j->line[len - 1] == '\n' || j->line[len - 1] == '\r' ||
                       j->line[len - 1] == ' ' || j->line[len - 1] == '\t'))
            len--;
        if (!len)
            continue;
        int rc = mill_value_from_json(row, j->line, len, err);
        if (rc && !j->rows) { /* one document over several lines: pandas' columns */
            struct mill_err whole = {0};
            int wrc = read_whole(j, true, &whole);
            if (!wrc)
                return doc_next(j, row, err);
            if (wrc == MILL_ENOMEM || strstr(whole.msg, "expected JSON Lines")) {
                *err = whole; /* a read error, or a document of the wrong shape */
                return wrc;
            }
        }
        if (rc)
            return mill_err_prefix(err, "%s:%zu", j->path, j->lineno);
        if (row->kind != MILL_V_STRUCT) {
            mill_value_free(row);
            return mill_err_set(err, MILL_EFORMAT, "%s:%zu: expected a JSON object", j->path,
                                j->lineno);
        }
        if (j->columns)
            project(row, j->columns);
        j->rows++;
        return 1;
    }
}

static void jsonl_close(void *state) {
    struct jsonl *j = state;
    if (!j)
        return;
    if (j->f)
        fclose(j->f);
    if (j->whole)
        mill_value_free(&j->doc);
    free(j->line);
    free(j->path);
    free(j);
}

const struct mill_reader_ops mill_reader_jsonl = {"jsonl", jsonl_open, jsonl_next, jsonl_close};
