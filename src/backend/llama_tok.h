/* llama_tok.h: lm-eval's (context, continuation) tokenisation for the llama backend without
 * tokenising what requests share again and again (issue: MMLU's 5-shot block, ~3.5 KB, was
 * tokenised eight times per question).
 *
 * The answer is always the one of tokenising whole texts, as lm-eval's _encode_pair does:
 *   ctx_tokens = tok(rstrip(context)),  whole = tok(context + continuation),
 * (no BOS; parse_special on), the continuation being what `whole` adds past ctx_tokens. The
 * fast path builds the same token lists from pieces split at line starts ("\n" followed by a
 * non-space character): the few-shot prefix a run of contexts shares (tokenised once and
 * kept), the question after it, and the context's last line with each continuation. A split
 * is used only when it is safe: no token of the vocabulary holds a newline followed by a printable
 * character (checked once per vocabulary), and the line on each side of the split tokenises
 * the same whole and in two pieces (checked once per distinct window of text). Anything else
 * falls back to tokenising whole texts. */
#ifndef MILL_BACKEND_LLAMA_TOK_H
#define MILL_BACKEND_LLAMA_TOK_H

#include <mill/mill.h>

#include <llama.h>

#include <stdbool.h>
#include <stddef.h>

struct mill_tok;

struct mill_tok_stats {
    long long fast, whole; /* pairs built from pieces, pairs tokenised whole */
    long long bytes;       /* bytes handed to llama_tokenize */
    double seconds;        /* inside llama_tokenize */
};

/* fast = false: always tokenise whole texts (the reference). */
int mill_tok_new(const struct llama_vocab *vocab, bool fast, struct mill_tok **out,
                 struct mill_err *err);
void mill_tok_free(struct mill_tok *t); /* NULL-safe */

/* tok(text[0..n)) with add_special off and parse_special on; *out malloc'd (NULL when empty). */
int mill_tok_text(struct mill_tok *t, const char *text, size_t n, llama_token **out, int *n_out,
                  struct mill_err *err);

/* lm-eval's pair: *whole = tok(ctx + cont) (malloc'd), *n_ctx = the count of
 * tok(rstrip(ctx)). Consecutive calls with the same context reuse its pieces. */
int mill_tok_pair(struct mill_tok *t, const char *ctx, const char *cont, llama_token **whole,
                  int *n_whole, int *n_ctx, struct mill_err *err);

/* Counters since creation. */
struct mill_tok_stats mill_tok_stats(const struct mill_tok *t);

#endif
