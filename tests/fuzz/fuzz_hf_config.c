/* fuzz_hf_config.c: libFuzzer target for the transformers converter's JSON readers
 * (model/convert/hf_config.c): config.json (mill_hf_check_config: architecture, dimensions,
 * RoPE scaling, Gemma and Phi-3 options) and model.safetensors.index.json
 * (mill_hf_parse_index: the shard names, which must stay plain *.safetensors names beside the
 * index). The first input byte picks the reader, the rest is the document.
 *
 * Checks: only the documented codes come back; a refusal leaves no shard list; every shard name
 * accepted has no '/' and no leading '.', ends in .safetensors and appears once. Any violation
 * aborts so libFuzzer records the input. Must not write files or print on success. */
#include "model/convert/hf_convert.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_shards(char **sh, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(sh[i]);
        if (len <= 12 || strchr(sh[i], '/') || sh[i][0] == '.' ||
            strcmp(sh[i] + len - 12, ".safetensors"))
            abort();
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sh[i], sh[j]))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size)
        return 0;
    const char *doc = (const char *)data + 1;
    size_t n = size - 1;
    struct mill_err err = {0};
    if (data[0] & 1) {
        char **sh = NULL;
        size_t n_sh = 0;
        int rc = mill_hf_parse_index(doc, n, "fuzz", &sh, &n_sh, &err);
        if (rc && (sh || n_sh || (rc != MILL_EFORMAT && rc != MILL_ENOMEM)))
            abort();
        if (!rc)
            check_shards(sh, n_sh);
        mill_hf_files_free(sh, n_sh);
        return 0;
    }
    int rc = mill_hf_check_config(doc, n, "fuzz", &err);
    if (rc && rc != MILL_EFORMAT && rc != MILL_EUNSUPPORTED && rc != MILL_ENOMEM)
        abort();
    if (rc && !err.msg[0])
        abort();
    return 0;
}
