/* fuzz_mcq.c: libFuzzer target for the multiple-choice letter parsers (metric/mcq.c): Mill's
 * generic parser (BEHAVIOUR.md §3.6) and the MMMU-Pro grader (§4.5). The input, made a C
 * string, is split at its NUL bytes: the first piece is the response, the next ones (at most
 * 10) the options. Both parsers must give 0 when there are no options and otherwise a letter
 * A.. of one of them, and the same letter twice (the compiled-pattern cache and the fall-back
 * draw must not change it). Any violation aborts so libFuzzer records the input. Must not
 * write files or print. */
#include "fuzz_text.h"
#include "metric/metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTIONS 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(char got, size_t n) {
    if (n == 0 ? got != 0 : (got < 'A' || got > 'A' + (int)n - 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size, 1 << 16);
    if (!text)
        return 0;
    const char *options[MAX_OPTIONS];
    size_t n = 0;
    for (char *p = memchr(text, 0, size); p && n < MAX_OPTIONS;
         p = memchr(p + 1, 0, size - (size_t)(p - text) - 1)) {
        options[n++] = p + 1; /* the last piece ends at fuzz_text's terminator */
    }
    const char *response = text;
    size_t len = strlen(response);
    char got = mill_mcq_parse(response, len, options, n, 1234);
    check(got, n);
    if (mill_mcq_parse(response, len, options, n, 1234) != got)
        abort();
    got = mill_mmmu_pro_parse(response, len, options, n, response, 1234);
    check(got, n);
    if (mill_mmmu_pro_parse(response, len, options, n, response, 1234) != got)
        abort();
    check(mill_mmmu_pro_parse(response, len, options, n, NULL, 0), n);
    /* the whole input as one response, its NULs inside it */
    check(mill_mcq_parse(text, size, options, n, 1234), n);
    check(mill_mmmu_pro_parse(text, size, options, n, NULL, 0), n);
    free(text);
    return 0;
}
