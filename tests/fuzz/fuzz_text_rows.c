/* fuzz_text_rows.c: libFuzzer target for the reader of `.txt` data files (data/text.c:
 * `datasets`' text builder, one row per line, universal newlines, strict UTF-8), on the input
 * read as a file through fmemopen (and compress.h, as a data file is opened). Every row must be
 * a struct holding one "text" string that is UTF-8 with no CR or LF; an error must be
 * MILL_EFORMAT, MILL_EIO or MILL_ENOMEM with a message naming the stream. For an input that is
 * not compressed and reads to its end, the rows must be its lines, byte for byte: the text
 * between line breaks (LF, CRLF, a lone CR), and after the last when there is any. With the
 * projection of another column, rows are empty. The fuzz build reads 7 bytes at a time
 * (MILL_TEXT_BUF), so inputs cross the reader's buffer. The xml reader (the same file, one
 * row): its row must be {"xml": the input with each CRLF and lone CR an LF}. Traps otherwise.
 * Must not write files. */
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

/* Whether row is {"text": the next line of data[*at..size)} (a line ends at LF, CRLF or a
 * lone CR), moving *at past its break; and UTF-8. */
static bool is_next_line(const struct mill_value *row, const uint8_t *data, size_t size,
                         size_t *at) {
    const struct mill_value *t = mill_value_get(row, "text");
    if (row->kind != MILL_V_STRUCT || row->u.obj.n != 1 || !t || t->kind != MILL_V_STR)
        return false;
    size_t n = t->u.s.n, e = *at;
    while (e < size && data[e] != '\n' && data[e] != '\r')
        e++;
    if (e - *at != n || (n && memcmp(data + *at, t->u.s.p, n)))
        return false;
    *at = e + (e < size) + (e + 1 < size && data[e] == '\r' && data[e + 1] == '\n');
    return mill_utf8_valid(t->u.s.p, n);
}

/* Whether row is {"xml": data[0..size) with each CRLF and lone CR an LF}. */
static bool is_document(const struct mill_value *row, const uint8_t *data, size_t size) {
    const struct mill_value *t = mill_value_get(row, "xml");
    if (row->kind != MILL_V_STRUCT || row->u.obj.n != 1 || !t || t->kind != MILL_V_STR)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n' && i && data[i - 1] == '\r')
            continue;
        char c = data[i] == '\r' ? '\n' : (char)data[i];
        if (k >= t->u.s.n || t->u.s.p[k++] != c)
            return false;
    }
    return k == t->u.s.n;
}

/* Whether data starts as a file compress.h decompresses (its magic bytes). */
static bool compressed(const uint8_t *d, size_t n) {
    static const struct {
        const char *m;
        size_t n;
    } magic[] = {{"\x1f\x8b", 2},
                 {"BZh", 3},
                 {"\xfd"
                  "7zXZ\0",
                  6},
                 {"\x28\xb5\x2f\xfd", 4},
                 {"\x04\x22\x4d\x18", 4}};
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
        if (n >= magic[i].n && !memcmp(d, magic[i].m, magic[i].n))
            return true;
    return false;
}

/* Reads every row; plain: data is the text itself, checked line by line. */
static void read_rows(const uint8_t *data, size_t size, const char *const *columns, bool plain,
                      bool xml) {
    FILE *raw = fmemopen((void *)data, size, "rb");
    struct mill_err err = {0};
    FILE *f = raw ? mill_data_open_stream(raw, "in.txt", &err) : NULL;
    void *st = NULL;
    if (!f || mill_text_open_stream(f, "in.txt", columns, xml, &st, &err))
        return;
    struct mill_value row;
    size_t at = 0, n = 0;
    int rc;
    while ((rc = mill_reader_text.next(st, &row, &err)) == 1) {
        if (columns ? row.kind != MILL_V_STRUCT || row.u.obj.n != 0
            : xml   ? n++ || (plain ? !is_document(&row, data, size) : !mill_value_get(&row, "xml"))
            : plain ? !is_next_line(&row, data, size, &at)
                    : !mill_value_get(&row, "text"))
            __builtin_trap();
        mill_value_free(&row);
    }
    if (xml)
        at = size;
    mill_reader_text.close(st);
    if (rc < 0 &&
        ((rc != MILL_EFORMAT && rc != MILL_EIO && rc != MILL_ENOMEM) || !strstr(err.msg, "in.txt")))
        __builtin_trap();
    if (rc == 0 && plain && !columns && at != size) /* a line was left out */
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const other[] = {"label", NULL};
    if (!size || size > 1 << 16)
        return 0;
    for (int xml = 0; xml < 2; xml++) {
        read_rows(data, size, NULL, !compressed(data, size), xml);
        read_rows(data, size, other, false, xml);
    }
    return 0;
}
