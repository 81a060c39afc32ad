/* hf_tokenizer.h: a transformers tokenizer (tokenizer.json, tokenizer_config.json, config.json)
 * mapped onto the GGUF tokenizer.ggml.* keys that llama.cpp reads, as llama.cpp's
 * convert_hf_to_gguf.py writes them (get_vocab_base / _set_vocab_gpt2 for byte-level BPE,
 * _create_vocab_sentencepiece for SentencePiece-style BPE stored as HF BPE with byte_fallback,
 * gguf-py's SpecialVocab for the special ids, add_bos/add_eos and the chat template).
 *
 * The pre-tokenizer name llama.cpp expects is read from tokenizer.json's normalizer and
 * pre_tokenizer (not from a hash of tokenising a test string, as the Python converter does);
 * a tokenizer that matches no known signature is refused, never guessed.
 * Must not: read weights, print, or know anything of Mill's backends or caches. */
#ifndef MILL_MODEL_CONVERT_HF_TOKENIZER_H
#define MILL_MODEL_CONVERT_HF_TOKENIZER_H

#include <mill/mill.h>

#include <stddef.h>

struct gguf_context;

/* Reads tokenizer.json (+ tokenizer_config.json, chat_template.jinja and config.json when
 * present) in dir and sets every tokenizer.ggml.* key (model, pre, tokens,
 * scores, token_type, merges, special ids, add_bos/add_eos, chat_template) on ctx. Refuses
 * anything it cannot map exactly with a message naming the file and field. special_tokens_map.json
 * is not read: llama.cpp's converter does not read it either.
 * Returns 0; MILL_ENOTFOUND (no tokenizer.json), MILL_EIO, MILL_EFORMAT (malformed JSON, a field
 * of the wrong type, a merge naming an unknown token), MILL_EUNSUPPORTED (a model type or
 * pre-tokenizer llama.cpp cannot reproduce), MILL_ENOMEM. On failure ctx may hold some keys. */
int mill_hf_tokenizer_to_gguf(const char *dir, struct gguf_context *ctx, struct mill_err *err);

/* The same conversion from in-memory documents (NULL / 0 for an absent optional file) into a
 * scratch GGUF context that is freed again: for the fuzz target and for validating a tokenizer
 * without a directory. Returns as mill_hf_tokenizer_to_gguf. */
int mill_hf_tokenizer_check(const char *tokenizer_json, size_t n_tok, const char *config_json,
                            size_t n_config, const char *tokenizer_config_json, size_t n_tc,
                            struct mill_err *err);

#endif
