/* fuzz_csv.c: libFuzzer target for the CSV reader (data/csv.c: pandas' C tokenizer ported,
 * pandas' type inference and number parsing): the input is read as a file (through fmemopen), with and without a
 * projection, and as a TSV (sep="\t"). Every row must be a struct of at most the header's columns whose values are
 * null, bool, int, float or string; an error must be MILL_EFORMAT or MILL_ENOMEM with a message
 * naming the stream. Traps otherwise. Must not write files. */
#include "data/csv.h"

#include <mill/value.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_row(const struct mill_value *row) {
    if (row->kind != MILL_V_STRUCT)
        __builtin_trap();
    for (size_t i = 0; i < row->u.obj.n; i++) {
        enum mill_value_kind k = row->u.obj.vals[i].kind;
        if (k != MILL_V_NULL && k != MILL_V_BOOL && k != MILL_V_INT && k != MILL_V_FLOAT &&
            k != MILL_V_STR)
            __builtin_trap();
    }
}

static void read_all(const uint8_t *data, size_t size, char delim, const char *const *columns) {
    FILE *f = size ? fmemopen((void *)data, size, "rb") : NULL;
    if (!f)
        return;
    struct mill_csv *csv = NULL;
    struct mill_err err = {0};
    int rc = mill_csv_open_stream(f, true, "in.csv", delim, columns, &csv, &err);
    struct mill_value row;
    for (int n = 0; !rc && n < 100000 && (rc = mill_csv_next(csv, &row, &err)) == 1; n++) {
        check_row(&row);
        mill_value_free(&row);
        rc = 0;
    }
    if (rc < 0 && ((rc != MILL_EFORMAT && rc != MILL_ENOMEM) || !strstr(err.msg, "in.csv") ||
                   (rc == MILL_ENOMEM && !err.msg[0])))
        __builtin_trap();
    mill_csv_close(csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const columns[] = {"a", "x", NULL};
    if (size > 1 << 16)
        return 0;
    read_all(data, size, ',', NULL);
    read_all(data, size, ',', columns);
    read_all(data, size, '\t', NULL);
    return 0;
}
