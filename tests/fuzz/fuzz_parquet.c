/* fuzz_parquet.c: libFuzzer target for the Parquet reader (data/parquet.c). The input is a
 * whole file opened with mill_parquet_open_mem; every row is read, with all columns or (by the
 * input's length mod 3) the projection {"answer"} or {"choices", "image"}, so the skip path is
 * fuzzed too. Rows must be structs; errors must be MILL_EFORMAT, MILL_EUNSUPPORTED or
 * MILL_ENOMEM (MILL_ENOTFOUND at open for a projected column the schema lacks), must name the
 * file, and must repeat on the next call. Any violation aborts so libFuzzer records the input.
 * Seed it with real files (the MMLU splits, the oracle fixtures). Must not write files or print
 * on the success path. */
#include "data/parquet.h"

#include <mill/value.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool bad_code(int rc) {
    return rc != MILL_EFORMAT && rc != MILL_EUNSUPPORTED && rc != MILL_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const answer[] = {"answer", NULL};
    static const char *const nested[] = {"choices", "image", NULL};
    const char *const *cols = size % 3 == 1 ? answer : size % 3 == 2 ? nested : NULL;
    struct mill_err err = {0};
    struct mill_parquet *pq;
    int rc = mill_parquet_open_mem(data, size, "fuzz.parquet", cols, &pq, &err);
    if (rc) {
        if ((bad_code(rc) && rc != MILL_ENOTFOUND) || strncmp(err.msg, "fuzz.parquet", 12))
            abort();
        return 0;
    }
    struct mill_value row;
    while ((rc = mill_parquet_next(pq, &row, &err)) == 1) {
        if (row.kind != MILL_V_STRUCT)
            abort();
        mill_value_free(&row);
    }
    if (rc < 0 && (bad_code(rc) || (rc != MILL_ENOMEM && strncmp(err.msg, "fuzz.parquet", 12)) ||
                   mill_parquet_next(pq, &row, &err) != rc))
        abort();
    mill_parquet_close(pq);
    return 0;
}
