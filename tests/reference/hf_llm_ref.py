#!/usr/bin/python3
"""hf_llm_ref.py: an independent PyTorch forward of the decoder architectures Mill's converter
maps (Llama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3 text, Phi-3), written from their
published definitions (transformers' modeling_*.py: RMSNorm, rotate-half RoPE with its
scalings, grouped-query attention, Gemma's (1 + w) norms, sqrt(hidden) embedding scale,
soft-capping and sliding windows, Phi-3's fused projections), for tests/cli/test_hf_convert.sh.
No transformers: the safetensors files are parsed here (8-byte header length, JSON, raw data).
Computes in float64. Run with Debian's /usr/bin/python3.

Usage: hf_llm_ref.py CHECKPOINT_DIR IDS N_GEN
  IDS: comma-separated prompt token ids. Prints one JSON object: {"logits": [[...] per prompt
  position], "greedy": [N_GEN token ids, argmax, first maximum wins]}."""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DT = {"F32": np.float32, "F16": np.float16}


def load_file(path, out):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=DT[info["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy()).double()


def load(d):
    w = {}
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        for f in sorted(set(json.load(open(idx))["weight_map"].values())):
            load_file(os.path.join(d, f), w)
    else:
        load_file(os.path.join(d, "model.safetensors"), w)
    return w


def rms(x, w, eps, gemma):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if gemma else y * w


def inv_freq(c, dim, base, scaled):
    f = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))
    rs = c.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type"))
    if not scaled or kind in (None, "default"):
        return f
    if kind == "linear":
        return f / rs["factor"]
    if kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / f
        g = torch.where(wl > lo_wl, f / factor, f)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * g / factor + smooth * g
        medium = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(medium, smoothed, g)
    raise SystemExit(f"hf_llm_ref: rope scaling {kind} not implemented")


def rope(x, pos, freq, n_rot):
    """x: [T, H, D]; rotate-half on the first n_rot dims."""
    ang = pos[:, None].double() * freq[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    xr, xp = x[..., :n_rot], x[..., n_rot:]
    h = n_rot // 2
    rot = torch.cat([-xr[..., h:], xr[..., :h]], -1)
    return torch.cat([xr * cos + rot * sin, xp], -1)


def forward(c, w, ids):
    arch = c["architectures"][0]
    gemma = arch.startswith("Gemma")
    E, H = c["hidden_size"], c["num_attention_heads"]
    KV = c.get("num_key_value_heads", H)
    D = c.get("head_dim") or E // H
    eps = c.get("rms_norm_eps", 1e-6)
    T = len(ids)
    pos = torch.arange(T)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    if gemma:
        x = x * torch.tensor(E ** 0.5, dtype=torch.float64)
    n_rot = D
    if arch == "Phi3ForCausalLM":
        n_rot = int(c.get("partial_rotary_factor", 1.0) * E) // H
    theta = c.get("rope_theta", 10000.0)
    f_global = inv_freq(c, n_rot, theta, True)
    f_local = inv_freq(c, n_rot, c.get("rope_local_base_freq", theta), False)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        g = lambda n: w[p + n]  # noqa: E731
        h = rms(x, g("input_layernorm.weight"), eps, gemma)
        if arch == "Phi3ForCausalLM":
            qkv = h @ g("self_attn.qkv_proj.weight").T
            q, k, v = qkv.split([H * D, KV * D, KV * D], -1)
        else:
            q = h @ g("self_attn.q_proj.weight").T
            k = h @ g("self_attn.k_proj.weight").T
            v = h @ g("self_attn.v_proj.weight").T
            if p + "self_attn.q_proj.bias" in w:
                q, k, v = q + g("self_attn.q_proj.bias"), k + g("self_attn.k_proj.bias"), \
                    v + g("self_attn.v_proj.bias")
        q, k, v = q.view(T, H, D), k.view(T, KV, D), v.view(T, KV, D)
        if p + "self_attn.q_norm.weight" in w:
            q = rms(q, g("self_attn.q_norm.weight"), eps, gemma)
            k = rms(k, g("self_attn.k_norm.weight"), eps, gemma)
        sliding = False
        if arch == "Gemma2ForCausalLM":
            sliding = i % 2 == 0
        elif arch == "Gemma3ForCausalLM":
            sliding = (i + 1) % c.get("sliding_window_pattern", 6) != 0
        elif arch in ("Phi3ForCausalLM", "MistralForCausalLM") and c.get("sliding_window"):
            sliding = True
        freq = f_local if (arch == "Gemma3ForCausalLM" and sliding) else f_global
        q, k = rope(q, pos, freq, n_rot), rope(k, pos, freq, n_rot)
        k = k.repeat_interleave(H // KV, 1)
        v = v.repeat_interleave(H // KV, 1)
        scale = c["query_pre_attn_scalar"] ** -0.5 if gemma else D ** -0.5
        s = torch.einsum("thd,shd->hts", q, k) * scale
        if c.get("attn_logit_softcapping"):
            cap = c["attn_logit_softcapping"]
            s = torch.tanh(s / cap) * cap
        qi, ki = pos[:, None], pos[None, :]
        mask = ki > qi
        if sliding:
            mask = mask | (qi - ki >= c["sliding_window"])
        s = s.masked_fill(mask[None], float("-inf"))
        a = torch.einsum("hts,shd->thd", torch.softmax(s, -1), v).reshape(T, H * D)
        o = a @ g("self_attn.o_proj.weight").T
        if p + "self_attn.o_proj.bias" in w:
            o = o + g("self_attn.o_proj.bias")
        if gemma:
            o = rms(o, g("post_attention_layernorm.weight"), eps, True)
            x = x + o
            h = rms(x, g("pre_feedforward_layernorm.weight"), eps, True)
        else:
            x = x + o
            h = rms(x, g("post_attention_layernorm.weight"), eps, False)
        if arch == "Phi3ForCausalLM":
            gate, up = (h @ g("mlp.gate_up_proj.weight").T).chunk(2, -1)
        else:
            gate, up = h @ g("mlp.gate_proj.weight").T, h @ g("mlp.up_proj.weight").T
        act = torch.nn.functional.gelu(gate, approximate="tanh") if gemma else \
            torch.nn.functional.silu(gate)
        m = (act * up) @ g("mlp.down_proj.weight").T
        if gemma:
            m = rms(m, g("post_feedforward_layernorm.weight"), eps, True)
        x = x + m
    x = rms(x, w["model.norm.weight"], eps, gemma)
    head = w["lm_head.weight"] if "lm_head.weight" in w and not c.get(
        "tie_word_embeddings", gemma) else w["model.embed_tokens.weight"]
    logits = x @ head.T
    if c.get("final_logit_softcapping"):
        cap = c["final_logit_softcapping"]
        logits = torch.tanh(logits / cap) * cap
    return logits


def main():
    d, ids, n_gen = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], int(sys.argv[3])
    c = json.load(open(os.path.join(d, "config.json")))
    w = load(d)
    logits = forward(c, w, ids)
    seq, greedy = list(ids), []
    last = logits[-1]
    for _ in range(n_gen):
        t = int(torch.argmax(last))
        greedy.append(t)
        seq.append(t)
        last = forward(c, w, seq)[-1]
    print(json.dumps({"logits": logits.tolist(), "greedy": greedy}))


if __name__ == "__main__":
    main()
