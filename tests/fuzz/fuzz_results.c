/* fuzz_results.c: libFuzzer target for reading per-sample JSONL lines back (out/results.h, used
 * by `collect --compare` and `report`): each input line goes through mill_results_add_line into
 * one job with two metrics, prompts and log-probs on; then the job must be sorted by doc_id with
 * one sample per doc, and the comparison of the job with itself must pair every sample. */
#include "out/compare.h"
#include "out/results.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char m0[] = "acc", m1[] = "f1";
    char *metrics[] = {m0, m1};
    char model_a[] = "a", model_b[] = "b", task[] = "t", bench[] = "";
    struct mill_result_job jobs[2] = {
        {.model = model_a, .task = task, .benchmark = bench, .metrics = metrics, .n_metrics = 2},
        {0}};
    struct mill_results_params p = mill_results_default_params();
    p.prompts = true;
    p.prompt_chars = 16;
    p.logprobs = true;
    const char *s = (const char *)data, *end = s + size;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        mill_results_add_line(&jobs[0], s, len, size & 1 ? 42 : -1, &p);
        s += len + 1;
    }
    if (mill_result_job_sort(&jobs[0]))
        abort(); /* small inputs: no allocation fails */
    for (size_t i = 1; i < jobs[0].n; i++)
        if (jobs[0].s[i - 1].doc_id >= jobs[0].s[i].doc_id)
            abort();
    jobs[1] = jobs[0];
    jobs[1].model = model_b; /* the same answers under another name: shares the samples */
    struct mill_results r = {jobs, 2};
    struct mill_compare c;
    struct mill_err err;
    if (jobs[0].n && jobs[0].n < 64 && mill_compare_build(&r, "a", "b", "acc", &c, &err) == 0) {
        if (c.n && (c.rows[0].st.a_only || c.rows[0].st.b_only ||
                    (isfinite(c.rows[0].st.diff) && c.rows[0].st.diff != 0)))
            abort(); /* a model against itself gains nothing */
        mill_compare_free(&c);
    }
    /* free the samples once; the names and metrics are the stack's */
    jobs[0].model = jobs[0].task = jobs[0].benchmark = NULL;
    jobs[0].metrics = NULL;
    jobs[0].n_metrics = 0;
    mill_result_job_free(&jobs[0]);
    return 0;
}
