#!/usr/bin/python3
"""gen_hf_llm.py: writes random-weight transformers checkpoints (config.json, model.safetensors
or shards with model.safetensors.index.json, tokenizer.json, tokenizer_config.json) in the
layout transformers saves, for Mill's converter tests (tests/cli/test_hf_convert.sh) and its
benchmark (bench/convert.sh). Run with Debian's /usr/bin/python3 (numpy).

It is a test tool: the weights are seeded random numbers, never a real model's. The
safetensors files are written by hand (8-byte little-endian header length, the JSON header
padded to 8 bytes, the raw little-endian data), one tensor at a time.

Usage: gen_hf_llm.py --arch ARCH --out DIR [--hidden 64] [--layers 2] [--heads 4]
       [--kv_heads 2] [--ff 96] [--head_dim 0] [--extra_vocab 0] [--tied] [--shards 1]
       [--dtype f32|f16|bf16] [--seed 1] [--rope none|linear|llama3|yarn]
       [--sliding_window 0] [--tokenizer FILE[.gz]]
ARCH: llama mistral qwen2 qwen3 gemma2 gemma3 phi3. --extra_vocab adds embedding rows past
the tokenizer's tokens (padding for most architectures, dropped by the Gemma 3 converter)."""
import argparse
import gzip
import json
import os
import struct
import sys
import zlib

import numpy as np

HF = {
    "llama": ("LlamaForCausalLM", "llama"),
    "mistral": ("MistralForCausalLM", "mistral"),
    "qwen2": ("Qwen2ForCausalLM", "qwen2"),
    "qwen3": ("Qwen3ForCausalLM", "qwen3"),
    "gemma2": ("Gemma2ForCausalLM", "gemma2"),
    "gemma3": ("Gemma3ForCausalLM", "gemma3_text"),
    "phi3": ("Phi3ForCausalLM", "phi3"),
}

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer_json():
    """A byte-level BPE in Qwen2's tokenizer.json form: 256 byte tokens, merges of common
    English pairs, and two special tokens."""
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    merges = []
    sp = b2u[ord(" ")]
    for a, b in [("t", "h"), ("h", "e"), ("i", "n"), ("e", "r"), ("a", "n"), ("r", "e"),
                 ("o", "n"), ("a", "t"), ("e", "n"), ("n", "d"), (sp, "t"), (sp, "a"),
                 (sp + "t", "he"), ("in", "g"), (sp, "s"), (sp, "i"), (sp, "o"), ("o", "u")]:
        if a + b not in vocab:
            merges.append(a + " " + b)
            vocab[a + b] = len(vocab)
    added = [{"id": len(vocab) + i, "content": c, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for i, c in enumerate(["<|endoftext|>", "<|im_start|>"])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                           "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": merges},
    }


def count_tokens(tok):
    ids = set(tok["model"]["vocab"].values()) | {a["id"] for a in tok.get("added_tokens", [])}
    return max(ids) + 1


def config(a, n_vocab):
    hf, model_type = HF[a.arch]
    hd = a.head_dim or a.hidden // a.heads
    c = {
        "architectures": [hf], "model_type": model_type, "vocab_size": n_vocab,
        "hidden_size": a.hidden, "num_hidden_layers": a.layers, "intermediate_size": a.ff,
        "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads,
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": a.tied, "torch_dtype": {"f32": "float32", "f16": "float16",
                                                       "bf16": "bfloat16"}[a.dtype],
        "bos_token_id": n_vocab - 1, "eos_token_id": n_vocab - 2,
        "hidden_act": "silu", "attention_dropout": 0.0,
    }
    if a.head_dim:
        c["head_dim"] = hd
    if a.arch in ("gemma2", "gemma3"):
        c.update(hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh",
                 head_dim=hd, query_pre_attn_scalar=hd, sliding_window=a.sliding_window or 4096,
                 final_logit_softcapping=30.0 if a.arch == "gemma2" else None)
        if a.arch == "gemma2":
            c["attn_logit_softcapping"] = 50.0
        else:
            c.update(rope_theta=1000000.0, rope_local_base_freq=10000.0,
                     sliding_window_pattern=6)
    if a.arch == "qwen2":
        c.update(use_sliding_window=False, sliding_window=None)
    if a.arch == "qwen3":
        c.update(head_dim=hd, attention_bias=False, use_sliding_window=False)
    if a.arch == "mistral":
        c["sliding_window"] = None
    if a.arch == "phi3":
        c.update(original_max_position_embeddings=4096, sliding_window=a.sliding_window or None,
                 resid_pdrop=0.0, embd_pdrop=0.0)
    if a.rope == "linear":
        c["rope_scaling"] = {"rope_type": "linear", "factor": 2.0}
    elif a.rope == "llama3":
        c["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
        c["rope_theta"] = 500000.0
    elif a.rope == "yarn":
        c["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0,
                             "original_max_position_embeddings": 1024}
    return c


def tensors(a, c):
    """(name, shape, kind) in transformers' order; kind: w (matrix), e (embedding), n (norm),
    b (bias)."""
    E, F, H, KV = c["hidden_size"], c["intermediate_size"], a.heads, a.kv_heads
    hd = c.get("head_dim") or E // H
    V = c["vocab_size"]
    out = [("model.embed_tokens.weight", (V, E), "e")]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        out.append((p + "input_layernorm.weight", (E,), "n"))
        if a.arch == "phi3":
            out.append((p + "self_attn.qkv_proj.weight", ((H + 2 * KV) * hd, E), "w"))
        else:
            out += [(p + "self_attn.q_proj.weight", (H * hd, E), "w"),
                    (p + "self_attn.k_proj.weight", (KV * hd, E), "w"),
                    (p + "self_attn.v_proj.weight", (KV * hd, E), "w")]
        if a.arch == "qwen2":
            out += [(p + "self_attn.q_proj.bias", (H * hd,), "b"),
                    (p + "self_attn.k_proj.bias", (KV * hd,), "b"),
                    (p + "self_attn.v_proj.bias", (KV * hd,), "b")]
        out.append((p + "self_attn.o_proj.weight", (E, H * hd), "w"))
        if a.arch in ("qwen3", "gemma3"):
            out += [(p + "self_attn.q_norm.weight", (hd,), "n"),
                    (p + "self_attn.k_norm.weight", (hd,), "n")]
        out.append((p + "post_attention_layernorm.weight", (E,), "n"))
        if a.arch in ("gemma2", "gemma3"):
            out += [(p + "pre_feedforward_layernorm.weight", (E,), "n"),
                    (p + "post_feedforward_layernorm.weight", (E,), "n")]
        if a.arch == "phi3":
            out.append((p + "mlp.gate_up_proj.weight", (2 * F, E), "w"))
        else:
            out += [(p + "mlp.gate_proj.weight", (F, E), "w"),
                    (p + "mlp.up_proj.weight", (F, E), "w")]
        out.append((p + "mlp.down_proj.weight", (E, F), "w"))
    out.append(("model.norm.weight", (E,), "n"))
    if not a.tied:
        out.append(("lm_head.weight", (V, E), "w"))
    return out


def values(rng, shape, kind, gemma):
    if kind == "n":  # Gemma stores norm weights as w - 1
        base = 0.0 if gemma else 1.0
        return (base + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    std = {"e": 1.0, "b": 0.1}.get(kind, 1.0 / np.sqrt(shape[-1]))
    return (std * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)


def encode(x, dtype):
    if dtype == "f32":
        return x.astype("<f4").tobytes()
    if dtype == "f16":
        return x.astype("<f2").tobytes()
    u = x.astype("<f4").view("<u4")  # bfloat16, rounded to nearest even like torch
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    return r.tobytes()


def write_shard(path, items, a, gemma):
    es = {"f32": 4, "f16": 2, "bf16": 2}[a.dtype]
    st = {"f32": "F32", "f16": "F16", "bf16": "BF16"}[a.dtype]
    header, off = {}, 0
    for name, shape, _ in items:
        n = int(np.prod(shape)) * es
        header[name] = {"dtype": st, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape, kind in items:
            rng = np.random.default_rng([a.seed, zlib.crc32(name.encode())])
            f.write(encode(values(rng, shape, kind, gemma), a.dtype))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", required=True, choices=sorted(HF))
    p.add_argument("--out", required=True)
    for k, d in [("hidden", 64), ("layers", 2), ("heads", 4), ("kv_heads", 2), ("ff", 96),
                 ("head_dim", 0), ("extra_vocab", 0), ("shards", 1), ("seed", 1),
                 ("sliding_window", 0)]:
        p.add_argument("--" + k, type=int, default=d)
    p.add_argument("--tied", action="store_true")
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    p.add_argument("--rope", default="none", choices=["none", "linear", "llama3", "yarn"])
    p.add_argument("--tokenizer", help="a tokenizer.json (or .json.gz) to use instead of the "
                   "built-in one")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.tokenizer:
        opener = gzip.open if a.tokenizer.endswith(".gz") else open
        with opener(a.tokenizer, "rt", encoding="utf-8") as f:
            tok = json.load(f)
    else:
        tok = tokenizer_json()
    n_vocab = count_tokens(tok) + a.extra_vocab
    c = config(a, n_vocab)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": False, "add_prefix_space": False,
                   "clean_up_tokenization_spaces": False,
                   "eos_token": "<|endoftext|>", "model_max_length": 4096}, f)
    ts = tensors(a, c)
    gemma = a.arch in ("gemma2", "gemma3")
    if a.shards <= 1:
        write_shard(os.path.join(a.out, "model.safetensors"), ts, a, gemma)
        return 0
    per = -(-len(ts) // a.shards)
    wmap = {}
    for s in range(a.shards):
        name = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
        part = ts[s * per:(s + 1) * per]
        write_shard(os.path.join(a.out, name), part, a, gemma)
        wmap.update({t[0]: name for t in part})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wmap}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
