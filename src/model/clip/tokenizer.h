/* tokenizer.h: the CLIP BPE tokenizer (open_clip's SimpleTokenizer / HF CLIPTokenizer):
 * whitespace clean + lower-case, the pattern
 * <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+,
 * byte-to-unicode map, BPE merges with the "</w>" suffix, SOT/EOT, context length 77 with
 * truncation that keeps EOT last, zero padding. */
#ifndef MILL_MODEL_CLIP_TOKENIZER_H
#define MILL_MODEL_CLIP_TOKENIZER_H

#include <mill/buf.h>
#include <mill/mill.h>

struct mill_clip_tokenizer;

/* From open_clip's bpe_simple_vocab_16e6.txt.gz (gzip'd merges; the vocabulary is derived as
 * open_clip does). */
int mill_clip_tokenizer_load_bpe_gz(const char *path, struct mill_clip_tokenizer **tok,
                                    struct mill_err *err);
/* From HF's vocab.json + merges.txt. */
int mill_clip_tokenizer_load_hf(const char *vocab_json, const char *merges_txt,
                                struct mill_clip_tokenizer **tok, struct mill_err *err);
/* The same from their contents (the names are for messages). */
int mill_clip_tokenizer_parse_hf(const struct mill_buf *vocab_json, const char *vocab_name,
                                 const struct mill_buf *merges_txt, const char *merges_name,
                                 struct mill_clip_tokenizer **tok, struct mill_err *err);
/* From now on every text first goes through ftfy.fix_text, as open_clip's SimpleTokenizer does
 * (HF's CLIPTokenizerFast does not). Call before the tokenizer is shared. */
int mill_clip_tokenizer_use_ftfy(struct mill_clip_tokenizer *tok, struct mill_err *err);
/* From now on texts are cleaned as HF's CLIPTokenizerFast normalizes them (transformers'
 * CLIPConverter: NFC, every run of White_Space one space, each character lower-cased alone),
 * not as open_clip's basic_clean/whitespace_clean/lower (no html unescape, no ftfy), for
 * transformers' CLIP checkpoints. Call before the tokenizer is shared. */
void mill_clip_tokenizer_use_hf_fast(struct mill_clip_tokenizer *tok);
void mill_clip_tokenizer_free(struct mill_clip_tokenizer *tok);

/* Tokenises text into out[context_length]: SOT, tokens, EOT, zeros; when too long, the tokens
 * are cut and the last position holds EOT (open_clip's tokenize()). Returns the number of
 * non-padding positions (>= 2), or a negative MILL_E*. */
int mill_clip_tokenize(const struct mill_clip_tokenizer *tok, const char *text, int context_length,
                       int32_t *out, struct mill_err *err);
int32_t mill_clip_sot(const struct mill_clip_tokenizer *tok); /* 49406 */
int32_t mill_clip_eot(const struct mill_clip_tokenizer *tok); /* 49407 */

#endif
