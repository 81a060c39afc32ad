/* llama_tokcheck: checks the llama backend's piecewise tokenisation of (context, continuation)
 * pairs (src/backend/llama_tok.c) against tokenising whole texts, as lm-eval does, on every
 * pair of a `mill prompts` file (one JSON object per doc with "context" and "choices"), with a
 * vocabulary-only GGUF (llama.cpp's share/vocab/ggml-vocab-*.gguf or any model).
 *
 * Usage: llama_tokcheck --vocab FILE.gguf --prompts FILE.jsonl
 * Prints the pairs compared, how many the fast path built from pieces, the first mismatches
 * and the seconds each path spent in llama_tokenize. Exit: 0 all equal, 1 a mismatch or an
 * error, 2 usage error. A test tool for tests/cli/test_llama_tok.sh and bench/. */
#include "backend/llama_tok.h"

#include <mill/value.h>

#include <llama.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check {
    struct mill_tok *fast, *ref;
    long long pairs, bad;
};

static void on_log(enum ggml_log_level level, const char *text, void *ud) {
    (void)level, (void)text, (void)ud;
}

static int check_pair(struct check *c, const char *ctx, const char *cont, long long line) {
    struct mill_err err = {0};
    llama_token *a = NULL, *b = NULL;
    int na = 0, nb = 0, ca = 0, cb = 0;
    int rc = mill_tok_pair(c->fast, ctx, cont, &a, &na, &ca, &err);
    if (!rc)
        rc = mill_tok_pair(c->ref, ctx, cont, &b, &nb, &cb, &err);
    if (rc)
        fprintf(stderr, "llama_tokcheck: line %lld: %s\n", line, err.msg);
    bool same = !rc && na == nb && ca == cb && (!na || !memcmp(a, b, (size_t)na * sizeof *a));
    if (!rc && !same && c->bad++ < 5)
        fprintf(stderr,
                "llama_tokcheck: line %lld, continuation '%s': %d tokens (%d context) "
                "from pieces, %d (%d) whole\n",
                line, cont, na, ca, nb, cb);
    c->pairs++;
    free(a);
    free(b);
    return rc;
}

static int check_line(struct check *c, const char *text, size_t n, long long line) {
    struct mill_value v;
    struct mill_err err = {0};
    if (mill_value_from_json(&v, text, n, &err)) {
        fprintf(stderr, "llama_tokcheck: line %lld: %s\n", line, err.msg);
        return 1;
    }
    const char *ctx = mill_value_as_str(mill_value_get(&v, "context"));
    const struct mill_value *ch = mill_value_get(&v, "choices");
    int rc = ctx && ch && ch->kind == MILL_V_LIST ? 0 : 1;
    for (size_t i = 0; !rc && i < ch->u.list.n; i++) {
        const char *cont = mill_value_as_str(&ch->u.list.items[i]);
        rc = cont ? check_pair(c, ctx, cont, line) : 1;
    }
    mill_value_free(&v);
    return rc;
}

int main(int argc, char **argv) {
    const char *vocab = NULL, *prompts = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--vocab"))
            vocab = argv[i + 1];
        else if (!strcmp(argv[i], "--prompts"))
            prompts = argv[i + 1];
    }
    if (!vocab || !prompts) {
        fputs("usage: llama_tokcheck --vocab FILE.gguf --prompts FILE.jsonl\n", stderr);
        return 2;
    }
    llama_log_set(on_log, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *model = llama_model_load_from_file(vocab, mp);
    FILE *f = fopen(prompts, "r");
    if (!model || !f) {
        fprintf(stderr, "llama_tokcheck: cannot read %s\n", model ? prompts : vocab);
        return 1;
    }
    const struct llama_vocab *v = llama_model_get_vocab(model);
    struct check c = {0};
    struct mill_err err = {0};
    int rc = mill_tok_new(v, true, &c.fast, &err) || mill_tok_new(v, false, &c.ref, &err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (long long no = 1; !rc && (n = getline(&line, &cap, f)) > 0; no++)
        rc = check_line(&c, line, (size_t)n, no);
    struct mill_tok_stats sf = mill_tok_stats(c.fast), sr = mill_tok_stats(c.ref);
    printf("%s: %lld pairs, %lld from pieces, %lld whole, %lld differ; llama_tokenize: "
           "pieces %.2f s (%.1f MB), whole %.2f s (%.1f MB)\n",
           vocab, c.pairs, sf.fast, sf.whole, c.bad, sf.seconds, sf.bytes / 1e6, sr.seconds,
           sr.bytes / 1e6);
    free(line);
    fclose(f);
    mill_tok_free(c.fast);
    mill_tok_free(c.ref);
    llama_model_free(model);
    return rc || c.bad ? 1 : 0;
}
