/* fuzz_arrow.c: libFuzzer target for the reader of `.arrow` data files (data/arrow.c: Arrow IPC,
 * the stream format and the file format with its footer), on the input read as a file through
 * fmemopen. Every row must be a struct (with the projection of a column the schema may lack, a
 * struct of at most that one field); an error must be MILL_EFORMAT, MILL_EIO or MILL_ENOMEM with
 * a message naming the stream. Traps otherwise. Must not write files. */
#include "data/reader.h"

#include <mill/value.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_rows(const uint8_t *data, size_t size, const char *const *columns) {
    FILE *f = fmemopen((void *)data, size, "rb");
    struct mill_err err = {0};
    void *st = NULL;
    if (!f)
        return;
    int rc = mill_arrow_open_stream(f, "in.arrow", columns, &st, &err);
    struct mill_value row;
    for (int n = 0; !rc && n < 100000 && (rc = mill_reader_arrow.next(st, &row, &err)) == 1; n++) {
        if (row.kind != MILL_V_STRUCT || (columns && row.u.obj.n > 1))
            __builtin_trap();
        mill_value_free(&row);
        rc = 0;
    }
    if (st)
        mill_reader_arrow.close(st);
    if (rc < 0 && ((rc != MILL_EFORMAT && rc != MILL_EIO && rc != MILL_ENOMEM) ||
                   !strstr(err.msg, "in.arrow")))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const one[] = {"v", NULL};
    if (!size || size > 1 << 18)
        return 0;
    read_rows(data, size, NULL);
    read_rows(data, size, one);
    return 0;
}
