/* fuzz_wds.c: libFuzzer target for the WebDataset shard reader (data/wds.c). The input is a
 * shard opened in memory; every row is read (with the projection {"cls"} when the input's
 * length is odd, so the skip path is fuzzed too). Each row must be a struct whose first field
 * is a string "__key__"; errors must be MILL_EFORMAT or MILL_ENOMEM and must repeat on the next
 * call. Any violation aborts so libFuzzer records the input. Must not write files or print on
 * the success path. */
#include "data/wds.h"

#include <mill/value.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_row(const struct mill_value *row, bool projected) {
    if (row->kind != MILL_V_STRUCT || row->u.obj.n < 1 || strcmp(row->u.obj.keys[0], "__key__") ||
        row->u.obj.vals[0].kind != MILL_V_STR)
        abort();
    for (size_t i = 1; projected && i < row->u.obj.n; i++)
        if (strcmp(row->u.obj.keys[i], "cls"))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const cols[] = {"cls", NULL};
    bool projected = size % 2 == 1;
    struct mill_err err = {0};
    void *st = NULL;
    int rc = mill_wds_open_memory(data, size, "fuzz.tar", projected ? cols : NULL, &st, &err);
    if (rc) {
        if (rc != MILL_EFORMAT && rc != MILL_ENOMEM)
            abort();
        return 0;
    }
    struct mill_value row;
    while ((rc = mill_reader_wds.next(st, &row, &err)) == 1) {
        check_row(&row, projected);
        mill_value_free(&row);
    }
    if (rc < 0 &&
        ((rc != MILL_EFORMAT && rc != MILL_ENOMEM) || mill_reader_wds.next(st, &row, &err) != rc))
        abort();
    mill_reader_wds.close(st);
    return 0;
}
