#!/usr/bin/env python3
# hf_bpe_fixture.py REF.gguf KIND OUT_DIR: writes OUT_DIR/tokenizer.json, tokenizer_config.json
# and config.json, a byte-level BPE Hugging Face tokenizer of model family KIND (gpt-2, qwen2,
# llama-bpe) made from a llama.cpp vocabulary GGUF (share/vocab/ggml-vocab-KIND.gguf of the pinned
# build), for tests/cli/test_hf_tokenizer.sh: every reference vocabulary is checked on this
# derivation, beside the published files scripts/deps.sh installs (tests/data/tokenizers/README.md).
#
# Where each part comes from:
#  - model.vocab, model.merges, added_tokens (ids, contents) and the special ids of config.json:
#    the GGUF (tokenizer.ggml.tokens / token_type / merges / bos_token_id / eos_token_id). A NORMAL
#    token goes to model.vocab, a CONTROL token to added_tokens (special); "[PAD<i>]" fillers (ids
#    the tokenizer does not have) are left out and config.json's vocab_size covers them.
#  - The Split regexes: the "original regex from tokenizer.json" that llama.cpp's
#    src/llama-vocab.cpp quotes for LLAMA3 and QWEN2.
#  - The rest of each file's structure (normalizer, ByteLevel flags, post-processor, decoder,
#    model flags, tokenizer_config.json keys): as the published files are laid out, from memory of
#    openai-community/gpt2 (as transformers re-saves it), Qwen/Qwen1.5-7B and Qwen2.5 (the
#    tokenizer_config's add_bos_token false), and meta-llama/Meta-Llama-3-8B; not copied from them.
#    Each family's tokenizer_config names its bos/eos/pad tokens; they are checked here against the
#    GGUF's ids so that a wrong guess fails loudly instead of passing quietly.
# Standard library only (Debian's python3); the GGUF header is read by tests/cli/gguf_kv.py.
import json, sys

from gguf_kv import read_gguf_kv  # tests/cli/gguf_kv.py, beside this script

NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5

# Llama-3's and Qwen2's Split regexes (llama-vocab.cpp: "original regex from tokenizer.json").
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
            r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_level(prefix, trim, regex):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim,
            "use_regex": regex}


def split_then_bytes(regex, trim):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        byte_level(False, trim, False)]}


def added(i, content, normalized):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": True}


def decoder_entry(a):
    keys = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
    return {k: a[k] for k in keys}


def gpt2(v):
    """openai-community/gpt2: <|endoftext|> both in vocab.json and added (normalized)."""
    eot = v.control_id("<|endoftext|>")
    v.vocab["<|endoftext|>"] = eot
    tok = v.tokenizer([added(eot, "<|endoftext|>", True)], None, byte_level(False, True, True),
                      byte_level(True, False, True), byte_level(True, True, True),
                      {"continuing_subword_prefix": "", "end_of_word_suffix": ""})
    tc = {"add_bos_token": False, "add_prefix_space": False,
          "added_tokens_decoder": v.decoder(tok), "bos_token": "<|endoftext|>",
          "clean_up_tokenization_spaces": True, "eos_token": "<|endoftext|>", "errors": "replace",
          "model_max_length": 1024, "pad_token": None, "tokenizer_class": "GPT2Tokenizer",
          "unk_token": "<|endoftext|>"}
    return tok, tc, {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}


def qwen2(v):
    """Qwen2 / Qwen2.5 (base): NFC, Split + ByteLevel without regex, every special one added."""
    v.control_id("<|endoftext|>")
    specials = [added(i, v.tokens[i], False) for i in v.controls]
    tok = v.tokenizer(specials, {"type": "NFC"}, split_then_bytes(QWEN2_RE, False),
                      byte_level(False, False, False), byte_level(False, False, False),
                      {"continuing_subword_prefix": "", "end_of_word_suffix": "",
                       "ignore_merges": False})
    tc = {"add_bos_token": False, "add_prefix_space": False,
          "added_tokens_decoder": v.decoder(tok),
          "additional_special_tokens": [a["content"] for a in specials[1:]], "bos_token": None,
          "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "errors": "replace",
          "model_max_length": 32768, "pad_token": "<|endoftext|>", "split_special_tokens": False,
          "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    return tok, tc, {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}


def llama_bpe(v):
    """meta-llama/Meta-Llama-3-8B: Split + ByteLevel, ignore_merges, <|begin_of_text|> prepended."""
    bos = v.control_id("<|begin_of_text|>")
    v.control_id("<|end_of_text|>")
    specials = [added(i, v.tokens[i], False) for i in v.controls]
    tmpl = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos],
                                                     "tokens": ["<|begin_of_text|>"]}}}
    post = {"type": "Sequence", "processors": [byte_level(True, False, True), tmpl]}
    tok = v.tokenizer(specials, None, split_then_bytes(LLAMA3_RE, True), post,
                      byte_level(True, True, True),
                      {"continuing_subword_prefix": None, "end_of_word_suffix": None,
                       "ignore_merges": True})
    tc = {"added_tokens_decoder": v.decoder(tok), "bos_token": "<|begin_of_text|>",
          "clean_up_tokenization_spaces": True, "eos_token": "<|end_of_text|>",
          "model_input_names": ["input_ids", "attention_mask"],
          "model_max_length": 1000000000000000019884624838656,
          "tokenizer_class": "PreTrainedTokenizerFast"}
    return tok, tc, {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}


class Vocab:
    """The GGUF's vocabulary split into model.vocab (NORMAL) and control tokens."""

    def __init__(self, kv):
        self.kv = kv
        self.tokens = kv["tokenizer.ggml.tokens"]
        types = kv["tokenizer.ggml.token_type"]
        self.vocab, self.controls = {}, []
        for i, (t, ty) in enumerate(zip(self.tokens, types)):
            if ty == NORMAL:
                self.vocab[t] = i
            elif ty == CONTROL:
                self.controls.append(i)
            elif not (ty in (USER_DEFINED, UNUSED) and t == f"[PAD{i}]"):
                sys.exit(f"hf_bpe_fixture: token {i} {t!r} of type {ty}: not a byte-level BPE "
                         "vocabulary this script knows")

    def control_id(self, content):
        ids = [i for i in self.controls if self.tokens[i] == content]
        if len(ids) != 1:
            sys.exit(f"hf_bpe_fixture: the GGUF has no control token {content!r}")
        return ids[0]

    def tokenizer(self, added_tokens, normalizer, pre, post, decoder, model_flags):
        model = {"type": "BPE", "dropout": None, "unk_token": None}
        for k in ("continuing_subword_prefix", "end_of_word_suffix"):
            model[k] = model_flags[k]
        model.update({"fuse_unk": False, "byte_fallback": False})
        if "ignore_merges" in model_flags:
            model["ignore_merges"] = model_flags["ignore_merges"]
        model.update({"vocab": self.vocab, "merges": self.kv["tokenizer.ggml.merges"]})
        return {"version": "1.0", "truncation": None, "padding": None,
                "added_tokens": added_tokens, "normalizer": normalizer, "pre_tokenizer": pre,
                "post_processor": post, "decoder": decoder, "model": model}

    def decoder(self, tok):
        return {str(a["id"]): decoder_entry(a) for a in tok["added_tokens"]}

    def check_ids(self, tc):
        """The GGUF's special ids must be the tokens the family's tokenizer_config names."""
        for typ, key in (("bos", "bos"), ("eos", "eos"), ("pad", "padding")):
            want, name = self.kv.get(f"tokenizer.ggml.{key}_token_id"), tc.get(f"{typ}_token")
            if want is not None and name is not None and name != self.tokens[want]:
                sys.exit(f"hf_bpe_fixture: the GGUF's {typ} token is {self.tokens[want]!r}, "
                         f"this family's tokenizer_config names {name!r}")


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in KINDS:
        sys.exit("usage: hf_bpe_fixture.py REF.gguf {%s} OUT_DIR" % ",".join(KINDS))
    ref, kind, out = sys.argv[1:]
    kv = read_gguf_kv(ref)
    v = Vocab(kv)
    tok, tc, cfg = KINDS[kind](v)
    chat = kv.get("tokenizer.chat_template")
    if chat is not None:
        tc["chat_template"] = chat
    tc = dict(sorted(tc.items()))  # transformers saves the keys sorted
    cfg.update({"bos_token_id": kv.get("tokenizer.ggml.bos_token_id"),
                "eos_token_id": kv.get("tokenizer.ggml.eos_token_id"),
                "vocab_size": len(v.tokens)})
    v.check_ids(tc)
    with open(f"{out}/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=2)
    for name, doc in (("tokenizer_config.json", tc), ("config.json", cfg)):
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)


KINDS = {"gpt-2": gpt2, "qwen2": qwen2, "llama-bpe": llama_bpe}

if __name__ == "__main__":
    main()
