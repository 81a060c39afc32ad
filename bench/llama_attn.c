/* llama_attn.c: what flash attention is worth to the llama backend's generation steps, as the
 * cached context grows. Two llama.cpp contexts on one model, configured as the backend
 * configures its own for batch_size=8 (unified KV cache of max_context_length + 4096 cells,
 * 10 sequences, n_batch 2048, n_ubatch 512, no GPU layers), one without flash attention (the
 * peer) and one with it. Both hold 8 sequences plus one more, all grown to at least L tokens
 * (the rounds at one length add 8 x ROUNDS tokens to every sequence, so after the first
 * length L is a lower bound); at each L the program times
 * greedy-decode-shaped steps (one token per sequence, every token wanting logits) for 1 and
 * for 8 sequences, alternating the two contexts, and prints the median step time of each, the
 * speed-up of flash attention, and the batch-8 / batch-1 tokens/s ratio of each context.
 *
 *   llama_attn MODEL.gguf [THREADS=2] [ROUNDS=3] [L,L,...=64,256,768]
 *
 * Token ids are arbitrary (random-weight models make any sequence as good as another). */
#define _POSIX_C_SOURCE 200809L
#include <llama.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_SEQ = 9, STEPS = 8, MAX_L = 16 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

struct run {
    struct llama_context *ctx;
    struct llama_batch batch;
    int pos[N_SEQ]; /* next position of each sequence */
};

static int decode(struct run *r) {
    int rc = llama_decode(r->ctx, r->batch);
    r->batch.n_tokens = 0;
    if (rc)
        fprintf(stderr, "llama_attn: llama_decode failed (%d)\n", rc);
    return rc;
}

static void add(struct run *r, int seq, bool logits) {
    struct llama_batch *b = &r->batch;
    int i = b->n_tokens++;
    b->token[i] = 100 + (r->pos[seq] * 7 + seq * 13) % 1000;
    b->pos[i] = r->pos[seq]++;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = logits;
}

/* Grows every sequence to length len (no logits), in batches of at most 2048 tokens. */
static int grow(struct run *r, int len) {
    for (int s = 0; s < N_SEQ; s++)
        while (r->pos[s] < len) {
            add(r, s, false);
            if (r->batch.n_tokens == 2048 && decode(r))
                return 1;
        }
    return r->batch.n_tokens ? decode(r) : 0;
}

/* STEPS steps of n sequences (8: sequences 0-7; 1: sequence 8); milliseconds per step. */
static int steps(struct run *r, int n, double *ms) {
    double t0 = now_s();
    for (int k = 0; k < STEPS; k++) {
        for (int s = 0; s < n; s++)
            add(r, n == 1 ? N_SEQ - 1 : s, true);
        if (decode(r))
            return 1;
    }
    *ms = (now_s() - t0) * 1e3 / STEPS;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static int parse_lengths(const char *s, int *len, int *n) {
    *n = 0;
    for (const char *p = s; *p;) {
        if (*n == MAX_L)
            return 1;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4000)
            return 1;
        len[(*n)++] = (int)v;
        if (*end && (*end != ',' || !end[1]))
            return 1; /* junk or a trailing comma */
        p = *end ? end + 1 : end;
    }
    for (int i = 1; i < *n; i++)
        if (len[i] <= len[i - 1])
            return 1;
    return *n == 0;
}

/* A whole decimal argument in [1, 4096], else 0. */
static int small_arg(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= 4096 ? (int)v : 0;
}

int main(int argc, char **argv) {
    int threads = argc > 2 ? small_arg(argv[2]) : 2, rounds = argc > 3 ? small_arg(argv[3]) : 3;
    int len[MAX_L], n_len;
    if (argc < 2 || threads < 1 || rounds < 1 || rounds > 64 ||
        parse_lengths(argc > 4 ? argv[4] : "64,256,768", len, &n_len)) {
        fprintf(stderr, "usage: llama_attn MODEL.gguf [THREADS] [ROUNDS 1-64] [L,L,... rising]\n");
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0; /* the backend's default */
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llama_attn: cannot load %s\n", argv[1]);
        return 1;
    }
    int n_ctx = llama_model_n_ctx_train(model);
    n_ctx = n_ctx > 0 && n_ctx < 4096 ? n_ctx : 4096; /* the backend's max_context_length */
    int kv = n_ctx + 4096;
    if (N_SEQ * (len[n_len - 1] + n_len * rounds * STEPS) > kv) {
        fprintf(stderr, "llama_attn: %d sequences of %d tokens do not fit %d KV cells\n", N_SEQ,
                len[n_len - 1], kv);
        return 2;
    }
    struct run r[2];
    memset(r, 0, sizeof r);
    for (int fa = 0; fa < 2; fa++) {
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = (uint32_t)kv;
        cp.n_batch = 2048;
        cp.n_ubatch = 512;
        cp.n_seq_max = 10;
        cp.n_threads = cp.n_threads_batch = threads;
        cp.kv_unified = true;
        cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cp.no_perf = true;
        if (!(r[fa].ctx = llama_init_from_model(model, cp))) {
            fprintf(stderr, "llama_attn: cannot create a context\n");
            return 1;
        }
        r[fa].batch = llama_batch_init(2048, 0, 1);
    }
    printf("flash attention vs none, %d threads, %d rounds of %d steps, median ms per step\n",
           threads, rounds, STEPS);
    printf("%6s %4s %10s %10s %9s\n", "L", "seqs", "fa off", "fa on", "speed-up");
    double ratio[MAX_L][2];
    for (int i = 0; i < n_len; i++) {
        double t[2][2][64]; /* [fa][batch 1, batch 8][round] */
        if (grow(&r[0], len[i]) || grow(&r[1], len[i]))
            return 1;
        for (int k = 0; k < rounds; k++)
            for (int fa = 0; fa < 2; fa++)
                if (steps(&r[fa], 1, &t[fa][0][k]) || steps(&r[fa], 8, &t[fa][1][k]))
                    return 1;
        for (int b = 0; b < 2; b++) {
            double off = median(t[0][b], rounds), on = median(t[1][b], rounds);
            printf("%6d %4d %10.1f %10.1f %8.2fx\n", len[i], b ? 8 : 1, off, on, off / on);
        }
        for (int fa = 0; fa < 2; fa++)
            ratio[i][fa] = 8 * median(t[fa][0], rounds) / median(t[fa][1], rounds);
    }
    printf("tokens/s of 8 sequences per step / 1 sequence per step:\n");
    for (int i = 0; i < n_len; i++)
        printf("%6d  fa off %.2fx  fa on %.2fx\n", len[i], ratio[i][0], ratio[i][1]);
    for (int fa = 0; fa < 2; fa++) {
        llama_batch_free(r[fa].batch);
        llama_free(r[fa].ctx);
    }
    llama_model_free(model);
    return 0;
}
