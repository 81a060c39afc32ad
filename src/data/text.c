/* text.c: the readers of `datasets`' text and xml builders. The text builder, which `datasets`
 * picks for a `.txt` data file: one row {"text": line} per line, as the builder reads the file
 * (Python's text mode: UTF-8, strict; universal newlines, so LF, CRLF and a lone CR each end a
 * line; the line without its break). A last line without a break is a row; an empty file has
 * none; a UTF-8 BOM stays in the first row (Python's "utf-8" codec keeps it as U+FEFF); NUL bytes
 * stay. The xml builder (an `.xml` file): one row {"xml": the whole file} read the same way, each
 * line break an LF (an empty file is one row of ""); the XML is not parsed. Compressed files
 * (.txt.gz, ...) are read through compress.h. Text that is not UTF-8 is an error naming the
 * file and the line (counted from 1), as is a line (a document) over 1 GiB. The text builder
 * is streamed: memory holds one line. */
#include "data/reader.h"

#include "core/text.h"
#include "data/compress.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES ((size_t)1 << 30)
#ifndef MILL_TEXT_BUF /* bytes read at a time (the fuzz build makes it small) */
#define MILL_TEXT_BUF 65536
#endif

struct text_reader {
    FILE *f;
    char *path;
    bool want; /* the projection keeps the column ("text", "xml") */
    bool xml;  /* the xml builder: the whole file is one row */
    struct mill_buf line;
    size_t lineno; /* lines returned */
    bool after_cr; /* the last line ended with CR: an LF next belongs to it */
    bool eof;
    unsigned char buf[MILL_TEXT_BUF];
    size_t pos, len; /* buf[pos..len) not read yet */
};

int mill_text_open_stream(FILE *f, const char *name, const char *const *columns, bool xml,
                          void **state, struct mill_err *err) {
    struct text_reader *t = calloc(1, sizeof *t);
    *state = NULL;
    if (!t || !(t->path = strdup(name))) {
        free(t);
        fclose(f);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    t->f = f;
    t->xml = xml;
    t->want = mill_reader_projected(columns, xml ? "xml" : "text");
    *state = t;
    return 0;
}

static int open_path(const char *path, const char *const *columns, bool xml, void **state,
                     struct mill_err *err) {
    FILE *f = mill_data_fopen(path, err);
    *state = NULL;
    return f ? mill_text_open_stream(f, path, columns, xml, state, err) : err->code;
}

static int text_open(const char *path, const char *const *columns, void **state,
                     struct mill_err *err) {
    return open_path(path, columns, false, state, err);
}

static int xml_open(const char *path, const char *const *columns, void **state,
                    struct mill_err *err) {
    return open_path(path, columns, true, state, err);
}

/* The next byte of the file: 0..255, EOF at the end, -2 on a read error (err set). */
static int next_byte(struct text_reader *t, struct mill_err *err) {
    if (t->pos == t->len) {
        t->len = fread(t->buf, 1, sizeof t->buf, t->f);
        t->pos = 0;
        if (!t->len) {
            if (ferror(t->f)) {
                mill_err_set(err, MILL_EIO, "%s: cannot read: %s", t->path,
                             mill_data_read_error(errno));
                return -2;
            }
            return EOF;
        }
    }
    return t->buf[t->pos++];
}

/* Reads the next line into t->line (the xml builder: the rest of the file, each line break an
 * LF): 1, 0 at the end of the file, < 0 on error. */
static int read_line(struct text_reader *t, struct mill_err *err) {
    mill_buf_reset(&t->line);
    int c;
    while ((c = next_byte(t, err)) >= 0) {
        bool lf_of_crlf = c == '\n' && t->after_cr;
        t->after_cr = c == '\r';
        if (lf_of_crlf)
            continue;
        if ((c == '\n' || c == '\r') && !t->xml)
            return 1;
        if (c == '\r')
            c = '\n';
        if (t->line.n >= LINE_MAX_BYTES)
            return mill_err_set(err, MILL_EFORMAT, "%s: line %zu: longer than %zu MiB", t->path,
                                t->lineno + 1, LINE_MAX_BYTES >> 20);
        if (mill_buf_addc(&t->line, (char)c))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (c == -2)
        return MILL_EIO;
    t->eof = true;
    return t->line.n > 0 || t->xml;
}

/* The line (from 1) of a document s[0..n) that holds its first byte that is not UTF-8. */
static size_t bad_line(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, line = 1, k;
    while (i < n && (k = mill_utf8_valid_len(u + i, n - i, NULL)) > 0) {
        line += u[i] == '\n';
        i += k;
    }
    return line;
}

static int text_next(void *state, struct mill_value *row, struct mill_err *err) {
    struct text_reader *t = state;
    if (t->eof)
        return 0;
    int rc = read_line(t, err);
    if (rc <= 0)
        return rc;
    const char *s = t->line.p ? t->line.p : "";
    if (!mill_utf8_valid(s, t->line.n))
        return mill_err_set(err, MILL_EFORMAT, "%s: line %zu: text that is not UTF-8", t->path,
                            t->xml ? bad_line(s, t->line.n) : t->lineno + 1);
    t->lineno++;
    struct mill_value v = {0};
    mill_value_struct(row);
    if (!t->want)
        return 1;
    if (mill_value_str(&v, s, t->line.n) ||
        mill_value_struct_set(row, t->xml ? "xml" : "text", &v)) {
        mill_value_free(&v);
        mill_value_free(row);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return 1;
}

static void text_close(void *state) {
    struct text_reader *t = state;
    if (!t)
        return;
    fclose(t->f);
    mill_buf_free(&t->line);
    free(t->path);
    free(t);
}

const struct mill_reader_ops mill_reader_text = {"text", text_open, text_next, text_close};
const struct mill_reader_ops mill_reader_xml = {"xml", xml_open, text_next, text_close};
