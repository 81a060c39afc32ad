/* fuzz_text_rows.c: libFuzzer target for the reader of `.txt` data files (data/text.c:
 * `datasets`' text builder, one row per line, universal newlines, strict UTF-8), on the input
 * read as a file through fmemopen (and compress.h, as a data file is opened). Every row must be
 * a struct holding one "text" string that is UTF-8 with no CR or LF; an error must be
 * MILL_EFORMAT, MILL_EIO or MILL_ENOMEM with a message naming the stream. For an input that is
 * not compressed and reads to its end, the rows must be its lines: as many as its line breaks
 * (CRLF counted once), plus one for text after the last, and their bytes all but the breaks'.
 * Traps otherwise. Must not write files. */
#include "core/text.h"
#include "data/compress.h"
#include "data/reader.h"

#include <mill/value.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_line(const struct mill_value *row, size_t *bytes) {
    const struct mill_value *t = mill_value_get(row, "text");
    if (row->kind != MILL_V_STRUCT || row->u.obj.n != 1 || !t || t->kind != MILL_V_STR)
        return false;
    const char *s = mill_value_as_str(t);
    size_t n = t->u.s.n;
    *bytes += n;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = mill_utf8_valid_len((const unsigned char *)s + i, n - i, NULL)))
            return false;
    return !memchr(s, '\n', n) && !memchr(s, '\r', n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16)
        return 0;
    FILE *raw = size ? fmemopen((void *)data, size, "rb") : NULL;
    struct mill_err err = {0};
    FILE *f = raw ? mill_data_open_stream(raw, "in.txt", &err) : NULL;
    void *st = NULL;
    if (!f || mill_text_open_stream(f, "in.txt", NULL, &st, &err))
        return 0;
    struct mill_value row;
    size_t rows = 0, bytes = 0;
    int rc;
    while ((rc = mill_reader_text.next(st, &row, &err)) == 1) {
        if (!valid_line(&row, &bytes))
            __builtin_trap();
        mill_value_free(&row);
        rows++;
    }
    mill_reader_text.close(st);
    if (rc < 0 &&
        ((rc != MILL_EFORMAT && rc != MILL_EIO && rc != MILL_ENOMEM) || !strstr(err.msg, "in.txt")))
        __builtin_trap();
    /* a plain input read to its end: its lines, by universal newlines */
    bool plain = !(data[0] == 0x1f || data[0] == 'B' || data[0] == 0xfd || data[0] == 0x28 ||
                   data[0] == 0x04);
    if (rc == 0 && plain) {
        size_t breaks = 0, break_bytes = 0;
        for (size_t i = 0; i < size; i++)
            if (data[i] == '\n' || data[i] == '\r') {
                bool crlf = data[i] == '\r' && i + 1 < size && data[i + 1] == '\n';
                breaks++;
                break_bytes += 1 + crlf;
                i += crlf;
            }
        bool tail = data[size - 1] != '\n' && data[size - 1] != '\r';
        if (rows != breaks + tail || bytes != size - break_bytes)
            __builtin_trap();
    }
    return 0;
}
