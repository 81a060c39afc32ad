"""clip_ref.py: the PyTorch reference forward pass of a CLIP ViT checkpoint, for
tests/unit/test_clip_model.c and bench/clip_torch_bench.py.

Usage: /usr/bin/python3 clip_ref.py DIR [--images imgs.npy] [--texts ids.npy] --out out.npz
       [--check-mha]
(Debian's python3 with python3-torch and python3-numpy; never a python3 from a virtual
environment). DIR holds open_clip_config.json + open_clip_model.safetensors or config.json +
model.safetensors (HF CLIPModel). imgs.npy: float32 [N, 3, S, S], already normalised; ids.npy:
int64 [N, context_length]. out.npz gets image_embeds [N, E] and text_embeds [M, E] (float32,
L2-normalised) and logit_scale (exp of the stored value). --check-mha also runs every attention
through torch's own F.multi_head_attention_forward and fails when the two differ. It reads
nothing but DIR and the inputs, writes nothing but --out, and exits non-zero when torch or numpy
is missing or the checkpoint is malformed.

It must not import open_clip or transformers: the model is restated from the published
architecture (open_clip's VisionTransformer / TextTransformer, HF's modeling_clip.py), in
float32 on 2 threads under torch.no_grad():
  vision: conv (stride = patch, no bias) -> [N, G*G, W]; prepend class_embedding; + positional
          embedding; ln_pre; pre-LN residual blocks x + attn(ln_1(x)), x + mlp(ln_2(x)) with
          nn.MultiheadAttention's math (fused in_proj, q scaled by head_dim^-0.5, softmax,
          out_proj) and c_fc -> GELU (exact erf) or QuickGELU (x sigmoid(1.702 x)) -> c_proj;
          ln_post on the class token; @ proj.
  text:   token + positional embedding; the same blocks under a causal mask (-inf above the
          diagonal); ln_final; the row at argmax(ids) (open_clip; HF: the first eos_token_id,
          or argmax when eos_token_id is the legacy 2); @ text_projection.
Checkpoint weights in F16 or BF16 are widened to float32 (BF16: uint16 << 16) and computed in
float32. HF tensors are mapped onto open_clip's (q, k, v concatenated into in_proj; Linear
projections transposed); every tensor of the file must be used (HF position_ids excepted) and
have exactly the shape the config implies.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def read_safetensors(path):
    """{name: float32 (or int64) torch tensor}, parsed by hand: u64 LE header length, JSON
    header {name: {dtype, shape, data_offsets}}, then the data section."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        dtype = info["dtype"]
        if dtype == "F32":
            a = np.frombuffer(raw, "<f4")
        elif dtype == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif dtype == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype == "I64":
            a = np.frombuffer(raw, "<i8")
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dtype}")
        shape = info["shape"]
        if a.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: {name}: {a.size} elements for shape {shape}")
        out[name] = torch.from_numpy(a.reshape(shape).copy())
    return out


class Params:
    """Takes tensors by name, checks their shapes, and remembers which were used."""

    def __init__(self, tensors, path):
        self.t = tensors
        self.path = path
        self.used = set()

    def get(self, name, shape):
        if name not in self.t:
            raise KeyError(f"{self.path}: missing tensor {name}")
        x = self.t[name]
        if list(x.shape) != list(shape):
            raise ValueError(f"{self.path}: {name} has shape {list(x.shape)}, want {shape}")
        self.used.add(name)
        return x.float()

    def check_all_used(self, ignore=()):
        left = sorted(set(self.t) - self.used - set(ignore))
        if left:
            raise ValueError(f"{self.path}: unused tensors {left[:5]}")


def block_oc(p, prefix, w):
    return {
        "ln1": (p.get(f"{prefix}.ln_1.weight", [w]), p.get(f"{prefix}.ln_1.bias", [w])),
        "in_w": p.get(f"{prefix}.attn.in_proj_weight", [3 * w, w]),
        "in_b": p.get(f"{prefix}.attn.in_proj_bias", [3 * w]),
        "out_w": p.get(f"{prefix}.attn.out_proj.weight", [w, w]),
        "out_b": p.get(f"{prefix}.attn.out_proj.bias", [w]),
        "ln2": (p.get(f"{prefix}.ln_2.weight", [w]), p.get(f"{prefix}.ln_2.bias", [w])),
        "fc_w": p.get(f"{prefix}.mlp.c_fc.weight", [4 * w, w]),
        "fc_b": p.get(f"{prefix}.mlp.c_fc.bias", [4 * w]),
        "proj_w": p.get(f"{prefix}.mlp.c_proj.weight", [w, 4 * w]),
        "proj_b": p.get(f"{prefix}.mlp.c_proj.bias", [w]),
    }


def block_hf(p, prefix, w, mlp):
    a = f"{prefix}.self_attn"
    return {
        "ln1": (p.get(f"{prefix}.layer_norm1.weight", [w]),
                p.get(f"{prefix}.layer_norm1.bias", [w])),
        "in_w": torch.cat([p.get(f"{a}.{k}_proj.weight", [w, w]) for k in "qkv"], 0),
        "in_b": torch.cat([p.get(f"{a}.{k}_proj.bias", [w]) for k in "qkv"], 0),
        "out_w": p.get(f"{a}.out_proj.weight", [w, w]),
        "out_b": p.get(f"{a}.out_proj.bias", [w]),
        "ln2": (p.get(f"{prefix}.layer_norm2.weight", [w]),
                p.get(f"{prefix}.layer_norm2.bias", [w])),
        "fc_w": p.get(f"{prefix}.mlp.fc1.weight", [mlp, w]),
        "fc_b": p.get(f"{prefix}.mlp.fc1.bias", [mlp]),
        "proj_w": p.get(f"{prefix}.mlp.fc2.weight", [w, mlp]),
        "proj_b": p.get(f"{prefix}.mlp.fc2.bias", [w]),
    }


class ClipRef:
    """The model: load(dir), encode_images(float32 [N,3,S,S]), encode_texts(int64 [N,ctx])."""

    def __init__(self, path):
        self.check_mha = False
        oc_cfg = os.path.join(path, "open_clip_config.json")
        hf_cfg = os.path.join(path, "config.json")
        if os.path.exists(oc_cfg):
            self._load_open_clip(path, oc_cfg)
        elif os.path.exists(hf_cfg):
            self._load_hf(path, hf_cfg)
        else:
            raise FileNotFoundError(f"{path}: no open_clip_config.json or config.json")

    def _load_open_clip(self, path, cfg_path):
        with open(cfg_path) as f:
            cfg = json.load(f)["model_cfg"]
        v, t = cfg["vision_cfg"], cfg["text_cfg"]
        self.hf = False
        self.eos_token_id = None
        self.eps = 1e-5
        self.image_size, self.patch = v["image_size"], v["patch_size"]
        vw, vl = v["width"], v["layers"]
        self.v_heads = vw // v.get("head_width", 64)
        if int(v.get("mlp_ratio", 4.0) * vw) != 4 * vw or t.get("mlp_ratio", 4.0) != 4.0:
            raise ValueError("only mlp_ratio 4 is restated here")
        tw, tl, self.t_heads = t["width"], t["layers"], t["heads"]
        ctx, vocab, e = t["context_length"], t["vocab_size"], cfg["embed_dim"]
        self.v_act = self.t_act = "quick_gelu" if cfg.get("quick_gelu", False) else "gelu"
        g = self.image_size // self.patch
        p = Params(read_safetensors(os.path.join(path, "open_clip_model.safetensors")), path)
        self.conv = p.get("visual.conv1.weight", [vw, 3, self.patch, self.patch])
        self.cls = p.get("visual.class_embedding", [vw])
        self.v_pos = p.get("visual.positional_embedding", [g * g + 1, vw])
        self.ln_pre = (p.get("visual.ln_pre.weight", [vw]), p.get("visual.ln_pre.bias", [vw]))
        self.v_blocks = [block_oc(p, f"visual.transformer.resblocks.{i}", vw) for i in range(vl)]
        self.ln_post = (p.get("visual.ln_post.weight", [vw]), p.get("visual.ln_post.bias", [vw]))
        self.v_proj = p.get("visual.proj", [vw, e])
        self.tok = p.get("token_embedding.weight", [vocab, tw])
        self.t_pos = p.get("positional_embedding", [ctx, tw])
        self.t_blocks = [block_oc(p, f"transformer.resblocks.{i}", tw) for i in range(tl)]
        self.ln_final = (p.get("ln_final.weight", [tw]), p.get("ln_final.bias", [tw]))
        self.t_proj = p.get("text_projection", [tw, e])
        self.logit_scale = p.get("logit_scale", [])
        p.check_all_used()

    def _load_hf(self, path, cfg_path):
        with open(cfg_path) as f:
            cfg = json.load(f)
        if "CLIPModel" not in cfg.get("architectures", ["CLIPModel"]):
            raise ValueError(f"{cfg_path}: not a CLIPModel")
        v, t = cfg["vision_config"], cfg["text_config"]
        self.hf = True
        self.eos_token_id = t.get("eos_token_id", 2)
        self.eps = v.get("layer_norm_eps", 1e-5)
        if t.get("layer_norm_eps", 1e-5) != self.eps:
            raise ValueError("towers with different layer_norm_eps")
        self.image_size, self.patch = v["image_size"], v["patch_size"]
        vw, vl, self.v_heads = v["hidden_size"], v["num_hidden_layers"], v["num_attention_heads"]
        tw, tl, self.t_heads = t["hidden_size"], t["num_hidden_layers"], t["num_attention_heads"]
        v_mlp, t_mlp = v["intermediate_size"], t["intermediate_size"]
        ctx, vocab, e = t["max_position_embeddings"], t["vocab_size"], cfg["projection_dim"]
        self.v_act, self.t_act = v.get("hidden_act", "quick_gelu"), t.get("hidden_act",
                                                                          "quick_gelu")
        g = self.image_size // self.patch
        p = Params(read_safetensors(os.path.join(path, "model.safetensors")), path)
        ve, te = "vision_model.embeddings", "text_model.embeddings"
        self.conv = p.get(f"{ve}.patch_embedding.weight", [vw, 3, self.patch, self.patch])
        self.cls = p.get(f"{ve}.class_embedding", [vw])
        self.v_pos = p.get(f"{ve}.position_embedding.weight", [g * g + 1, vw])
        self.ln_pre = (p.get("vision_model.pre_layrnorm.weight", [vw]),
                       p.get("vision_model.pre_layrnorm.bias", [vw]))
        self.v_blocks = [block_hf(p, f"vision_model.encoder.layers.{i}", vw, v_mlp)
                         for i in range(vl)]
        self.ln_post = (p.get("vision_model.post_layernorm.weight", [vw]),
                        p.get("vision_model.post_layernorm.bias", [vw]))
        self.v_proj = p.get("visual_projection.weight", [e, vw]).t().contiguous()
        self.tok = p.get(f"{te}.token_embedding.weight", [vocab, tw])
        self.t_pos = p.get(f"{te}.position_embedding.weight", [ctx, tw])
        self.t_blocks = [block_hf(p, f"text_model.encoder.layers.{i}", tw, t_mlp)
                         for i in range(tl)]
        self.ln_final = (p.get("text_model.final_layer_norm.weight", [tw]),
                         p.get("text_model.final_layer_norm.bias", [tw]))
        self.t_proj = p.get("text_projection.weight", [e, tw]).t().contiguous()
        self.logit_scale = p.get("logit_scale", [])
        p.check_all_used(ignore=(f"{ve}.position_ids", f"{te}.position_ids"))

    @staticmethod
    def _act(name, x):
        if name == "quick_gelu":
            return x * torch.sigmoid(1.702 * x)
        if name == "gelu":
            return F.gelu(x)  # exact (erf)
        raise ValueError(f"unsupported activation {name}")

    def _attention(self, x, b, heads, mask):
        """nn.MultiheadAttention(x, x, x) restated; x is [N, L, W]."""
        n, L, w = x.shape
        hd = w // heads
        q, k, v = F.linear(x, b["in_w"], b["in_b"]).chunk(3, dim=-1)
        q = q.reshape(n, L, heads, hd).transpose(1, 2) * (hd ** -0.5)
        k = k.reshape(n, L, heads, hd).transpose(1, 2)
        v = v.reshape(n, L, heads, hd).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if mask is not None:
            s = s + mask
        o = (s.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, L, w)
        o = F.linear(o, b["out_w"], b["out_b"])
        if self.check_mha:
            ref, _ = F.multi_head_attention_forward(
                x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), w, heads,
                b["in_w"], b["in_b"], None, None, False, 0.0, b["out_w"], b["out_b"],
                training=False, need_weights=False, attn_mask=mask)
            diff = (ref.transpose(0, 1) - o).abs().max().item()
            if not diff <= 1e-5 * max(1.0, o.abs().max().item()):
                raise AssertionError(f"attention differs from torch's MHA by {diff}")
        return o

    def _blocks(self, x, blocks, heads, act, mask):
        w = x.shape[-1]
        for b in blocks:
            h = F.layer_norm(x, (w,), b["ln1"][0], b["ln1"][1], self.eps)
            x = x + self._attention(h, b, heads, mask)
            h = F.layer_norm(x, (w,), b["ln2"][0], b["ln2"][1], self.eps)
            h = F.linear(self._act(act, F.linear(h, b["fc_w"], b["fc_b"])),
                         b["proj_w"], b["proj_b"])
            x = x + h
        return x

    def encode_images(self, images):
        """images: float32 [N, 3, S, S] -> L2-normalised [N, E]."""
        x = torch.as_tensor(images, dtype=torch.float32)
        s = self.image_size
        if x.dim() != 4 or list(x.shape[1:]) != [3, s, s]:
            raise ValueError(f"images of shape {list(x.shape)}, want [N, 3, {s}, {s}]")
        x = F.conv2d(x, self.conv, stride=self.patch)  # [N, W, G, G]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # [N, G*G, W]
        w = x.shape[-1]
        x = torch.cat([self.cls.view(1, 1, -1).expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.v_pos
        x = F.layer_norm(x, (w,), self.ln_pre[0], self.ln_pre[1], self.eps)
        x = self._blocks(x, self.v_blocks, self.v_heads, self.v_act, None)
        pooled = F.layer_norm(x[:, 0], (w,), self.ln_post[0], self.ln_post[1], self.eps)
        return F.normalize(pooled @ self.v_proj, dim=-1)

    def pool_index(self, ids):
        if self.hf and self.eos_token_id != 2:
            return (ids == self.eos_token_id).int().argmax(dim=-1)
        return ids.argmax(dim=-1)

    def encode_texts(self, ids, trim=False):
        """ids: int64 [N, ctx] -> L2-normalised [N, E]. trim=True drops the columns after the
        last pooled position (the causal mask makes them irrelevant); the reference never
        trims, the benchmark measures both."""
        ids = torch.as_tensor(ids, dtype=torch.int64)
        ctx = self.t_pos.shape[0]
        if ids.dim() != 2 or ids.shape[1] != ctx:
            raise ValueError(f"ids of shape {list(ids.shape)}, want [N, {ctx}]")
        pool = self.pool_index(ids)
        L = int(pool.max().item()) + 1 if trim and ids.shape[0] else ctx
        ids = ids[:, :L]
        x = self.tok[ids] + self.t_pos[:L]
        w = x.shape[-1]
        mask = torch.full((L, L), float("-inf")).triu_(1)
        x = self._blocks(x, self.t_blocks, self.t_heads, self.t_act, mask)
        x = F.layer_norm(x, (w,), self.ln_final[0], self.ln_final[1], self.eps)
        pooled = x[torch.arange(x.shape[0]), pool]
        return F.normalize(pooled @ self.t_proj, dim=-1)


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference forward pass of a CLIP ViT")
    ap.add_argument("dir")
    ap.add_argument("--images")
    ap.add_argument("--texts")
    ap.add_argument("--out", required=True)
    ap.add_argument("--check-mha", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with torch.no_grad():
        m = ClipRef(args.dir)
        m.check_mha = args.check_mha
        e = m.v_proj.shape[1]
        img = np.zeros((0, e), np.float32)
        txt = np.zeros((0, e), np.float32)
        if args.images:
            img = m.encode_images(torch.from_numpy(np.load(args.images))).numpy()
        if args.texts:
            txt = m.encode_texts(torch.from_numpy(np.load(args.texts))).numpy()
        scale = m.logit_scale.exp().numpy().astype(np.float32)
    np.savez(args.out, image_embeds=img.astype(np.float32), text_embeds=txt.astype(np.float32),
             logit_scale=scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
