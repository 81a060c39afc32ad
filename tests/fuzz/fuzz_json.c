/* fuzz_json.c: libFuzzer target for the JSON reader and writer (core/json.c, core/buf.c).
 *
 * Parses the input; when it parses, serialises the tree, parses that again (which must succeed)
 * and serialises once more (which must give the same bytes: the writer's output is a fixed
 * point); a deep copy of the tree must serialise to the same bytes too. Any failure aborts so
 * libFuzzer records the input. Must not write files or print on the success path. */
#include <mill/buf.h>
#include <mill/value.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_value v, w;
    struct mill_err err = {0};
    int rc = mill_value_from_json(&v, (const char *)data, size, &err);
    if (rc) {
        if (rc != MILL_EFORMAT && rc != MILL_ENOMEM)
            abort();
        return 0;
    }
    struct mill_buf a = {0}, b = {0};
    if (mill_value_to_json(&v, &a) != MILL_OK)
        abort();
    if (mill_value_from_json(&w, a.p, a.n, &err) != MILL_OK) {
        fprintf(stderr, "re-parse failed: %s\n", err.msg);
        abort();
    }
    if (mill_value_to_json(&w, &b) != MILL_OK)
        abort();
    if (a.n != b.n || memcmp(a.p, b.p, a.n) != 0)
        abort();
    mill_value_free(&w);
    if (mill_value_copy(&w, &v) == MILL_OK) {
        mill_buf_reset(&b);
        if (mill_value_to_json(&w, &b) != MILL_OK || a.n != b.n || memcmp(a.p, b.p, a.n) != 0)
            abort();
    }
    mill_buf_free(&a);
    mill_buf_free(&b);
    mill_value_free(&v);
    mill_value_free(&w);
    return 0;
}
