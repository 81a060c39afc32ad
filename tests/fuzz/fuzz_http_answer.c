/* fuzz_http_answer.c: libFuzzer target for the HTTP backends' reading of a server's 2xx answer
 * (src/backend/vllm.c, openai.c through http.c's mill_http_read_answer): the first byte picks
 * the backend and the request (vllm: a log-likelihood with or without a context, a rolling
 * log-likelihood, a generation; openai: a generation), the rest is the answer body. Traps
 * when an accepted log-likelihood has no token or a NaN log-prob, an accepted generation no
 * text (or one that is not NUL-terminated at its length, not valid UTF-8, or holds a stop
 * string), or a rejected answer no reason. */
#include "backend/backends.h"
#include "backend/http.h"
#include "core/text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    char *body = malloc(size); /* the answer, NUL-terminated as a mill_buf is */
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = 0;
    static const char *const stops[] = {"\n\n", "Q:", NULL};
    struct mill_request q = {.task = "t",
                             .context = "Question: 2+2?\nAnswer:",
                             .continuation = " 4",
                             .max_new_tokens = 16,
                             .stop = stops};
    unsigned pick = data[0] % 5;
    q.kind = pick == 2 ? MILL_REQ_ROLLING : pick >= 3 ? MILL_REQ_GENERATE : MILL_REQ_LOGLIK;
    if (pick == 1)
        q.context = "";
    char why[256] = "";
    int rc = pick == 4 ? mill_openai_read_answer(body, size - 1, &q, why, sizeof why)
                       : mill_vllm_read_answer(body, size - 1, &q, why, sizeof why);
    if (rc == 0 && q.kind != MILL_REQ_GENERATE && (q.n_tokens < 1 || isnan(q.logprob)))
        __builtin_trap();
    if (rc == 0 && q.kind == MILL_REQ_GENERATE && !q.text)
        __builtin_trap();
    if (q.text && (q.text[q.text_len] || mill_stop_cut(q.text, q.text_len, stops) != q.text_len))
        __builtin_trap();
    if (q.text && !mill_utf8_valid(q.text, q.text_len))
        __builtin_trap();
    if (rc != 0 && !why[0])
        __builtin_trap();
    mill_request_clear_output(&q);
    free(body);
    return 0;
}
