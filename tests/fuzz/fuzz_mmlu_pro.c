/* fuzz_mmlu_pro.c: libFuzzer target for MMLU-Pro's answer extraction (metric/mmlu_pro.c), the
 * regexes over a model's free-form generation. The input, NUL bytes included, must give a letter
 * A-J or 0 (nothing found), and the same answer twice (the compiled-pattern cache must not
 * change it). Any violation aborts so libFuzzer records the input. Must not write files or
 * print. */
#include "fuzz_text.h"
#include "metric/metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size, 1 << 16);
    if (!text)
        return 0;
    char got = mill_mmlu_pro_extract(text, size);
    if (got != 0 && (got < 'A' || got > 'J'))
        abort();
    if (mill_mmlu_pro_extract(text, size) != got)
        abort();
    free(text);
    return 0;
}
