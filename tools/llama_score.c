/* llama_score.c: an independent scorer for the llama backend's numbers, for
 * tests/cli/test_llama_oracle.sh. It uses llama.cpp's public API and nothing of Mill, and does
 * each request the plain way: its own tokenisation path (BEHAVIOUR.md §5.1's rules written
 * again from the text, not from src/backend/llama.c), a fresh context per request, one decode
 * of every token with logits at every position, and a log-softmax in long double. No prefix
 * sharing, no batching, no truncation (requests must fit the context).
 *
 * Input (stdin), records of raw bytes:
 *   "L <context bytes> <continuation bytes>\n" <context><continuation> "\n"   a log-likelihood
 *   "R <text bytes>\n" <text> "\n"                                               a rolling one
 * Output (stdout), one line per record:
 *   "L <logprob %.17g> <is_greedy 0|1> <continuation tokens>"
 *   "R <logprob %.17g> <tokens>"
 * and, for tests/reference/fake_vllm.py (a vLLM server's prompt log-probs), the record
 *   "P <text bytes>\n" <text> "\n"   the text tokenised as a server tokenises a prompt (BOS
 *                                    when the vocabulary adds one, special-token text parsed)
 * answered by "P <n>" and one line per token: "<id> <logprob %.17g, nan for the first>
 * <argmax id> <argmax logprob %.17g> <piece hex> <argmax piece hex>" (pieces as the vocabulary
 * renders them, special tokens included; "-" when empty). Output is flushed after every record.
 * Usage: llama_score MODEL.gguf [THREADS] < records. A test tool, never used by mill. */
#include <llama.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tokens {
    llama_token *t;
    int n;
};

static void die(const char *what) {
    fprintf(stderr, "llama_score: %s\n", what);
    exit(1);
}

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
    (void)level;
    (void)text;
    (void)ud;
}

/* text[0..len) as llama.cpp tokenises it with no special tokens added but special-token text
 * parsed (what a Hugging Face tokenizer does with add_special_tokens=False). */
static struct tokens tok(const struct llama_vocab *v, const char *text, size_t len) {
    struct tokens r = {NULL, 0};
    int n = -llama_tokenize(v, text, (int32_t)len, NULL, 0, false, true);
    r.t = malloc(sizeof *r.t * (size_t)(n > 0 ? n : 1));
    if (!r.t)
        die("out of memory");
    if (n > 0 && llama_tokenize(v, text, (int32_t)len, r.t, n, false, true) != n)
        die("tokenisation failed");
    r.n = n > 0 ? n : 0;
    return r;
}

/* Reads exactly n bytes of stdin into a new NUL-terminated buffer. */
static char *read_bytes(size_t n) {
    char *b = malloc(n + 1);
    if (!b || fread(b, 1, n, stdin) != n)
        die("short record");
    b[n] = 0;
    return b;
}

/* Decodes seq from an empty context and adds, for each position i in [from, seq.n), the
 * log-probability of seq.t[i] given seq.t[0..i); *greedy is whether each was the argmax. */
static long double score(struct llama_context *ctx, const struct llama_vocab *v, struct tokens seq,
                         int from, bool *greedy) {
    llama_memory_clear(llama_get_memory(ctx), true);
    struct llama_batch b = llama_batch_init(seq.n, 0, 1);
    for (int i = 0; i < seq.n; i++) {
        b.token[i] = seq.t[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = i + 1 >= from;
    }
    b.n_tokens = seq.n;
    if (llama_decode(ctx, b) != 0)
        die("llama_decode failed");
    int nv = llama_vocab_n_tokens(v);
    long double sum = 0;
    *greedy = true;
    for (int i = from; i < seq.n; i++) {
        const float *lg = llama_get_logits_ith(ctx, i - 1);
        int best = 0;
        long double mx = lg[0], z = 0;
        for (int k = 1; k < nv; k++)
            if (lg[k] > mx) {
                mx = lg[k];
                best = k;
            }
        for (int k = 0; k < nv; k++)
            z += expl((long double)lg[k] - mx);
        sum += (long double)lg[seq.t[i]] - mx - logl(z);
        *greedy = *greedy && best == seq.t[i];
    }
    llama_batch_free(b);
    return sum;
}

/* Python's str.isspace() for one code point (Unicode White_Space plus the separators
 * U+001C..U+001F that CPython counts). */
static bool py_space(unsigned long c) {
    static const unsigned long ws[] = {0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || (c >= 0x2000 && c <= 0x200A))
        return true;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        if (c == ws[i])
            return true;
    return false;
}

/* len(s.rstrip()) in bytes, s UTF-8: code points are decoded from the front, and the end of the
 * last one that is not a space is kept (a byte that starts no valid sequence is kept). */
static size_t rstrip_bytes(const unsigned char *s, size_t n) {
    size_t keep = 0;
    for (size_t i = 0; i < n;) {
        size_t len = s[i] < 0x80       ? 1
                     : s[i] >> 5 == 6  ? 2
                     : s[i] >> 4 == 14 ? 3
                     : s[i] >> 3 == 30 ? 4
                                       : 0;
        unsigned long c = len == 1 ? s[i] : len ? s[i] & (0x7Fu >> len) : 0;
        for (size_t k = 1; len && k < len; k++)
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
                len = 0;
            else
                c = c << 6 | (s[i + k] & 0x3F);
        i += len ? len : 1;
        if (!len || !py_space(c))
            keep = i;
    }
    return keep;
}

/* The token the first prediction is made from when the text itself gives none. */
static llama_token prefix_token(const struct llama_vocab *v) {
    return llama_vocab_bos(v) >= 0 ? llama_vocab_bos(v) : llama_vocab_eos(v);
}

static void loglik(struct llama_context *ctx, const struct llama_vocab *v, size_t nc, size_t nk) {
    char *c = read_bytes(nc), *k = read_bytes(nk);
    /* lm-eval's _encode_pair: what context.rstrip() removes belongs to the continuation */
    size_t cut = rstrip_bytes((const unsigned char *)c, nc);
    char *whole = malloc(nc + nk + 1);
    if (!whole)
        die("out of memory");
    memcpy(whole, c, nc);
    memcpy(whole + nc, k, nk + 1);
    struct tokens ce = tok(v, c, cut), we = tok(v, whole, nc + nk);
    int n_cont = we.n - ce.n;
    bool bos = llama_vocab_get_add_bos(v) || ce.n == 0;
    struct tokens seq = {malloc(sizeof *seq.t * (size_t)(we.n + 1)), 0};
    if (!seq.t)
        die("out of memory");
    if (bos)
        seq.t[seq.n++] = llama_vocab_get_add_bos(v) ? llama_vocab_bos(v) : prefix_token(v);
    memcpy(seq.t + seq.n, we.t, sizeof *we.t * (size_t)we.n);
    seq.n += we.n;
    bool greedy = false;
    long double lp = n_cont > 0 ? score(ctx, v, seq, seq.n - n_cont, &greedy) : NAN;
    printf("L %.17g %d %d\n", (double)lp, greedy ? 1 : 0, n_cont);
    free(seq.t);
    free(ce.t);
    free(we.t);
    free(whole);
    free(c);
    free(k);
}

static void rolling(struct llama_context *ctx, const struct llama_vocab *v, size_t n) {
    char *text = read_bytes(n);
    struct tokens t = tok(v, text, n);
    struct tokens seq = {malloc(sizeof *seq.t * (size_t)(t.n + 1)), 0};
    if (!seq.t)
        die("out of memory");
    seq.t[seq.n++] = prefix_token(v);
    memcpy(seq.t + 1, t.t, sizeof *t.t * (size_t)t.n);
    seq.n += t.n;
    bool greedy;
    long double lp = t.n > 0 ? score(ctx, v, seq, 1, &greedy) : 0;
    printf("R %.17g %d\n", (double)lp, t.n);
    free(seq.t);
    free(t.t);
    free(text);
}

static void put_piece(const struct llama_vocab *v, llama_token id) {
    char buf[256];
    int n = llama_token_to_piece(v, id, buf, sizeof buf, 0, true);
    if (n <= 0)
        fputs(" -", stdout);
    else
        fputc(' ', stdout);
    for (int i = 0; i < n && i < (int)sizeof buf; i++)
        printf("%02x", (unsigned char)buf[i]);
}

/* Every token's log-probability given the tokens before it, and the argmax there. */
static void prompt_logprobs(struct llama_context *ctx, const struct llama_vocab *v, size_t n) {
    char *text = read_bytes(n);
    struct tokens t = tok(v, text, n);
    struct tokens seq = {malloc(sizeof *seq.t * (size_t)(t.n + 1)), 0};
    if (!seq.t)
        die("out of memory");
    if (llama_vocab_get_add_bos(v))
        seq.t[seq.n++] = llama_vocab_bos(v);
    memcpy(seq.t + seq.n, t.t, sizeof *t.t * (size_t)t.n);
    seq.n += t.n;
    printf("P %d\n", seq.n);
    llama_memory_clear(llama_get_memory(ctx), true);
    struct llama_batch b = llama_batch_init(seq.n > 0 ? seq.n : 1, 0, 1);
    for (int i = 0; i < seq.n; i++) {
        b.token[i] = seq.t[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = true;
    }
    b.n_tokens = seq.n;
    if (seq.n > 0 && llama_decode(ctx, b) != 0)
        die("llama_decode failed");
    int nv = llama_vocab_n_tokens(v);
    for (int i = 0; i < seq.n; i++) {
        if (i == 0) {
            printf("%d nan -1 nan", seq.t[0]);
            put_piece(v, seq.t[0]);
            fputs(" -\n", stdout);
            continue;
        }
        /* In double (a whole prompt's positions over the vocabulary: long double is slow). */
        const float *lg = llama_get_logits_ith(ctx, i - 1);
        int best = 0;
        double mx = lg[0], z = 0;
        for (int k = 1; k < nv; k++)
            if (lg[k] > mx) {
                mx = lg[k];
                best = k;
            }
        for (int k = 0; k < nv; k++)
            z += exp((double)lg[k] - mx);
        double lz = log(z);
        printf("%d %.17g %d %.17g", seq.t[i], (double)lg[seq.t[i]] - mx - lz, best, -lz);
        put_piece(v, seq.t[i]);
        put_piece(v, best);
        fputc('\n', stdout);
    }
    llama_batch_free(b);
    free(seq.t);
    free(t.t);
    free(text);
}

int main(int argc, char **argv) {
    if (argc < 2)
        die("usage: llama_score MODEL.gguf [THREADS] < records");
    int threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model)
        die("cannot load the model");
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 2048;
    cp.n_batch = cp.n_ubatch = 2048;
    cp.n_threads = cp.n_threads_batch = threads > 0 ? threads : 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx)
        die("cannot make a context");
    const struct llama_vocab *v = llama_model_get_vocab(model);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        unsigned long a = 0, b = 0;
        if (line[0] == 'L' && sscanf(line + 1, "%lu %lu", &a, &b) == 2)
            loglik(ctx, v, a, b);
        else if (line[0] == 'R' && sscanf(line + 1, "%lu", &a) == 1)
            rolling(ctx, v, a);
        else if (line[0] == 'P' && sscanf(line + 1, "%lu", &a) == 1)
            prompt_logprobs(ctx, v, a);
        else
            die("bad record header");
        if (getchar() != '\n')
            die("record not followed by a newline");
        fflush(stdout);
    }
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
