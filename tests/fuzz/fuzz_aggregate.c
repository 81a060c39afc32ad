/* fuzz_aggregate.c: libFuzzer target for the aggregate.csv reader (RFC 4180 fields, header
 * checks, numeric columns): parse, and when it parses, write and parse again. */
#include "out/aggregate.h"

#include <mill/buf.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_aggregate_table t, u;
    struct mill_err err;
    mill_aggregate_table_init(&t);
    if (mill_aggregate_parse(&t, (const char *)data, size, "fuzz.csv", &err) == 0) {
        struct mill_buf b = {0};
        if (mill_aggregate_write(&t, &b) == 0) {
            mill_aggregate_table_init(&u);
            if (mill_aggregate_parse(&u, b.p ? b.p : "", b.n, "again.csv", &err) != 0)
                abort(); /* what we write we must read back */
            mill_aggregate_table_free(&u);
        }
        mill_buf_free(&b);
    }
    mill_aggregate_table_free(&t);
    return 0;
}
