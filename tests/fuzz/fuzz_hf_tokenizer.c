/* fuzz_hf_tokenizer.c: libFuzzer target for the tokenizer.json -> GGUF keys conversion
 * (model/convert/hf_tokenizer.c).
 *
 * The input is tokenizer.json, optionally followed by a NUL byte and tokenizer_config.json, and
 * another NUL byte and config.json. The conversion must succeed or fail with MILL_EFORMAT,
 * MILL_EUNSUPPORTED or MILL_ENOMEM and a message; anything else (or a crash, leak or sanitizer
 * report) aborts so libFuzzer records the input. Must not write files or print on success. */
#include "model/convert/hf_tokenizer.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-separated part of data from *at into *part / *n; false when none is left. */
static bool next_part(const uint8_t *data, size_t size, size_t *at, const char **part, size_t *n) {
    if (*at > size)
        return false;
    const uint8_t *nul = memchr(data + *at, 0, size - *at);
    *part = (const char *)data + *at;
    *n = nul ? (size_t)(nul - (data + *at)) : size - *at;
    *at += *n + 1;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *tok = NULL, *tc = NULL, *cfg = NULL;
    size_t at = 0, n_tok = 0, n_tc = 0, n_cfg = 0;
    next_part(data, size, &at, &tok, &n_tok);
    next_part(data, size, &at, &tc, &n_tc);
    next_part(data, size, &at, &cfg, &n_cfg);
    struct mill_err err = {0};
    int rc = mill_hf_tokenizer_check(tok, n_tok, cfg, n_cfg, tc, n_tc, &err);
    if (rc && ((rc != MILL_EFORMAT && rc != MILL_EUNSUPPORTED && rc != MILL_ENOMEM) || !err.msg[0]))
        abort();
    return 0;
}
