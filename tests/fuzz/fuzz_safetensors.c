/* fuzz_safetensors.c: libFuzzer target for the safetensors reader (model/clip/safetensors.c).
 *
 * Parses the input as a whole file held in memory; when it parses, every tensor must lie inside
 * the input, have n_bytes == n_elements x dtype size, be found again by name, and no two
 * non-empty tensors may overlap; all bytes of every tensor are read so ASan sees any slip. Any
 * violation aborts so libFuzzer records the input. Must not write files or print on success. */
#include "model/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tensor(const struct mill_safetensors *st, const struct mill_st_tensor *t,
                         const uint8_t *data, size_t size, volatile uint8_t *sink) {
    const uint8_t *p = t->data;
    if (p < data || t->n_bytes > size || p + t->n_bytes > data + size)
        abort();
    if ((uint64_t)t->n_bytes != (uint64_t)t->n_elements * mill_st_dtype_size(t->dtype))
        abort();
    if (mill_safetensors_find(st, t->name) != t)
        abort();
    for (size_t j = 0; j < t->n_bytes; j++)
        *sink ^= p[j];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_safetensors *st = NULL;
    struct mill_err err = {0};
    int rc = mill_safetensors_parse(data, size, "fuzz", &st, &err);
    if (rc) {
        if ((rc != MILL_EFORMAT && rc != MILL_ENOMEM) || st)
            abort();
        return 0;
    }
    volatile uint8_t sink = 0;
    size_t n = mill_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const struct mill_st_tensor *t = mill_safetensors_at(st, i);
        check_tensor(st, t, data, size, &sink);
        const struct mill_st_tensor *u = i + 1 < n ? mill_safetensors_at(st, i + 1) : NULL;
        if (u && strcmp(t->name, u->name) >= 0)
            abort();
    }
    (void)mill_safetensors_metadata(st);
    mill_safetensors_free(st);
    return 0;
}
