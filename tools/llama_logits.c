/* llama_logits.c: the logits llama.cpp computes for given token ids, and its greedy
 * continuation, for tests/cli/test_hf_convert.sh (compared with tests/reference/hf_llm_ref.py).
 * Token ids go in directly, so the comparison checks a converted model's weights and
 * hyper-parameters apart from its tokenizer. Uses llama.cpp's public API and nothing of Mill.
 *
 * Usage: llama_logits MODEL.gguf IDS N_GEN
 *   IDS: comma-separated prompt token ids. Prints one JSON object: {"logits": [[...] per
 *   prompt position], "greedy": [N_GEN ids, argmax, first maximum wins]}. A test tool, never
 *   used by mill. Exit 1 on any error. */
#include <llama.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 4096

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

static int die(const char *what) {
    fprintf(stderr, "llama_logits: %s\n", what);
    return 1;
}

static int parse_ids(const char *s, llama_token *ids, int *n) {
    *n = 0;
    while (*s && *n < MAX_IDS) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > 0x7fffffff || (*end && *end != ','))
            return -1;
        ids[(*n)++] = (llama_token)v;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void print_row(const float *x, int n) {
    putchar('[');
    for (int i = 0; i < n; i++)
        printf("%s%.9g", i ? "," : "", x[i]);
    putchar(']');
}

static int run(struct llama_context *ctx, int n_vocab, llama_token *ids, int n, int n_gen) {
    struct llama_batch b = llama_batch_init(n > 1 ? n : 1, 0, 1);
    b.n_tokens = n;
    for (int i = 0; i < n; i++) {
        b.token[i] = ids[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    int rc = llama_decode(ctx, b) ? die("llama_decode failed") : 0;
    if (!rc) {
        fputs("{\"logits\":[", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? "," : "", stdout);
            print_row(llama_get_logits_ith(ctx, i), n_vocab);
        }
        fputs("],\"greedy\":[", stdout);
    }
    int tok = rc ? 0 : argmax(llama_get_logits_ith(ctx, n - 1), n_vocab);
    for (int g = 0; !rc && g < n_gen; g++) {
        printf("%s%d", g ? "," : "", tok);
        b.n_tokens = 1;
        b.token[0] = tok;
        b.pos[0] = n + g;
        b.logits[0] = 1;
        if (g + 1 < n_gen) {
            if (llama_decode(ctx, b))
                rc = die("llama_decode failed");
            else
                tok = argmax(llama_get_logits_ith(ctx, 0), n_vocab);
        }
    }
    if (!rc)
        puts("]}");
    llama_batch_free(b);
    return rc;
}

int main(int argc, char **argv) {
    static llama_token ids[MAX_IDS];
    int n = 0;
    if (argc != 4 || parse_ids(argv[2], ids, &n))
        return die("usage: llama_logits MODEL.gguf IDS N_GEN");
    int n_gen = (int)strtol(argv[3], NULL, 10);
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model)
        return die("cannot load the model");
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n + n_gen + 16);
    cp.n_batch = cp.n_ubatch = (uint32_t)(n + 16);
    cp.n_threads = cp.n_threads_batch = 1;
    cp.no_perf = true;
    cp.type_k = cp.type_v = GGML_TYPE_F32; /* F16 caches and flash attention cost 1e-4 */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    int rc = ctx ? 0 : die("cannot create a context");
    int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    if (!rc)
        rc = run(ctx, n_vocab, ids, n, n_gen);
    if (ctx)
        llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
