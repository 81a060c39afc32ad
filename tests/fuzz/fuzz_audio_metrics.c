/* fuzz_audio_metrics.c: libFuzzer target for the metrics of the generative audio tasks
 * (metric/audio.c: clotho_aqa_exact_match, esc50_gen_acc, urbansound8k_gen_acc), whose
 * normalisation decodes a model's answer byte by byte (UTF-8 or not). The input, made a C
 * string, is split at its NUL bytes: the response, the gold, then at most 10 class names (the
 * doc's choices). Each metric must answer 0 or 1 (or refuse a doc without classes), the same
 * twice; clotho_aqa_exact_match 1 when the response is the gold itself. Any violation aborts
 * so libFuzzer records the input. Must not write files or print. */
#include "fuzz_text.h"
#include "metric/metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double run(const struct mill_metric *m, struct mill_doc *d, const char *text) {
    struct mill_sample_result r = {.output_type = MILL_OUT_GENERATIVE, .pred_index = -1};
    struct mill_metric_ctx c = {42, "fuzz"};
    struct mill_err e = {0};
    double v = -1;
    r.text = text;
    r.text_len = strlen(text);
    int rc = m->fn(d, &r, &c, &v, &e);
    if (rc == MILL_EINVAL) /* no classes for a class metric */
        return -2;
    if (rc || (v != 0.0 && v != 1.0))
        abort();
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size, 1 << 16);
    if (!text)
        return 0;
    const char *piece[MAX_CLASSES + 2];
    size_t n = 0;
    piece[n++] = text;
    for (char *p = memchr(text, 0, size); p && n < MAX_CLASSES + 2;
         p = memchr(p + 1, 0, size - (size_t)(p - text) - 1))
        piece[n++] = p + 1;
    struct mill_doc d;
    mill_doc_init(&d);
    if (n > 1 && !mill_doc_set_target_str(&d, piece[1])) {
        for (size_t i = 2; i < n; i++)
            mill_doc_add_choice(&d, piece[i]);
        for (size_t k = 0; k < mill_metrics_audio.n; k++) {
            const struct mill_metric *m = &mill_metrics_audio.metrics[k];
            double v = run(m, &d, piece[0]);
            if (run(m, &d, piece[0]) != v)
                abort();
            if (!strcmp(m->name, "clotho_aqa_exact_match") && run(m, &d, piece[1]) != 1.0)
                abort();
        }
    }
    mill_doc_free(&d);
    free(text);
    return 0;
}
