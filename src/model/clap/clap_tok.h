/* clap_tok.h: the byte-level BPE tokenizer of a CLAP checkpoint's RoBERTa text tower (GPT-2's
 * scheme): GPT-2's pre-tokenisation pattern (through PCRE2), bytes mapped to printable code
 * points, merges by rank, ids from the vocabulary, <s> ... </s> around them and truncation to
 * the tokenizer's model_max_length, as HF's RobertaTokenizer(Fast) encodes one text with
 * truncation=True.
 *
 * Reads tokenizer.json (model.vocab, model.merges as "a b" strings or [a, b] pairs) or
 * vocab.json + merges.txt, and tokenizer_config.json's model_max_length when present. Every
 * file is untrusted: sizes are capped and malformed content is MILL_EFORMAT naming the file.
 * Special-token text inside a caption ("<mask>") is encoded as plain text. */
#ifndef MILL_MODEL_CLAP_TOK_H
#define MILL_MODEL_CLAP_TOK_H

#include <mill/mill.h>

#include <stddef.h>
#include <stdint.h>

#define MILL_CLAP_TOK_FILE_MAX ((size_t)64 << 20) /* a tokenizer file larger is refused */

struct mill_clap_tok;

/* Loads the tokenizer files in dir. MILL_ENOTFOUND when neither layout is there, MILL_EFORMAT
 * for malformed files (no <s> / </s> / <pad>, a merge of unknown symbols), MILL_ENOMEM. */
int mill_clap_tok_load(const char *dir, struct mill_clap_tok **tok, struct mill_err *err);
/* The same from a tokenizer.json held in memory (for tests and fuzzing); name is for
 * messages; max_length is model_max_length. */
int mill_clap_tok_parse_json(const char *json, size_t n, const char *name, int max_length,
                             struct mill_clap_tok **tok, struct mill_err *err);
/* The same from vocab.json and merges.txt held in memory; name is for messages. */
int mill_clap_tok_parse_txt(const char *vocab_json, size_t nv, const char *merges, size_t nm,
                            const char *name, int max_length, struct mill_clap_tok **tok,
                            struct mill_err *err);
void mill_clap_tok_free(struct mill_clap_tok *tok);

/* Encodes text (UTF-8, NUL-terminated; invalid bytes are encoded byte by byte as GPT-2 does)
 * into ids: <s>, the BPE ids, </s>, truncated so that at most min(cap, model_max_length) ids
 * are written (</s> kept last). *n gets the count. MILL_EINVAL when cap < 2, MILL_ENOMEM.
 * Thread-safe on a shared tok. */
int mill_clap_tok_encode(const struct mill_clap_tok *tok, const char *text, int32_t *ids, int cap,
                         int *n, struct mill_err *err);
/* model_max_length (512 unless tokenizer_config.json says otherwise) and the special ids. */
int mill_clap_tok_max_length(const struct mill_clap_tok *tok);
int32_t mill_clap_tok_pad_id(const struct mill_clap_tok *tok);

#endif
