"""clap_ref.py: the reference of src/model/clap for tests/unit/test_clap_model.c and
bench/clap.sh: transformers' ClapFeatureExtractor (rand_trunc), the byte-level BPE of a RoBERTa
tokenizer and ClapModel's forward pass (HTSAT audio tower, RoBERTa text tower, projections),
restated from the published code (transformers' feature_extraction_clap.py, audio_utils.py,
modeling_clap.py; GPT-2's encoder.py) in numpy and PyTorch.

Usage (Debian's /usr/bin/python3 with python3-numpy and python3-torch; never a python3 from a
virtual environment):
  clap_ref.py mel PREPROCESSOR_JSON IN.f32 CROP OUT.f32
      IN.f32: raw little-endian float32 mono samples; CROP: the random crop offset used when the
      clip is longer than max_length (the C side draws it); OUT.f32: frames x n_mels float32.
  clap_ref.py tok DIR IN.txt OUT.txt
      IN.txt: NUL-terminated UTF-8 texts; OUT.txt: the ids of each, space-separated, <s> ... </s>,
      truncated to model_max_length.
  clap_ref.py model DIR FEATURES.f32 N_AUDIO IDS.txt OUT.f32 [--threads T] [--repeat R]
      FEATURES.f32: N_AUDIO x frames x n_mels float32 (input_features); IDS.txt as tok's output.
      OUT.f32: N_AUDIO audio embeddings, then the text embeddings (proj_dim float32 each,
      L2-normalised), then exp(logit_scale_a). --repeat times the audio tower (bench).
  clap_ref.py zeroshot DIR CASES.json OUT.jsonl
      The clap backend end to end (tests/cli/test_clap.sh): CASES.json is {"task", "template",
      ["seed",] "cases": [{"doc_id", "wav", "labels"}]} (the cases in doc order) with 16-bit PCM
      mono WAVs at the feature extractor's rate; each clip is cropped as Python Mill's run crops
      it (np.random.seed(seed, default 42) at the task's start, then transformers'
      np.random.randint(0, overflow + 1) for each long clip in turn) or zero-padded (Python
      Mill's processor call passes padding=True, whatever the checkpoint says), turned into features and
      embedded; each label's caption (the template's {c} filled) embedded and renormalised;
      OUT.jsonl gets one line per case: {"doc_id", "crop", "scores"} with scores
      exp(logit_scale_a) * audio . caption.
  clap_ref.py resample IN.f32 FROM TO OUT.f32
      Python Mill's resampling of a clip (decode_audio_array: librosa.resample with soxr_hq,
      restated below through Debian's libsoxr): IN.f32 at FROM Hz to OUT.f32 at TO Hz.
It reads nothing but its arguments and writes nothing but its output file. It must not import
transformers (not installed): it is an independent statement of the architecture.
"""
import ctypes
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np


# ---- feature extractor -------------------------------------------------------------------

def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    mel = 3.0 * f / 200.0
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) * (27.0 / np.log(6.4)), mel)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    hz = 200.0 * m / 3.0
    return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), hz)


def slaney_filters(n_bins, n_mels, fmin, fmax, sr):
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fft_freqs = np.linspace(0, sr // 2, n_bins)
    diff = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    filt = np.maximum(np.zeros(1), np.minimum(down, up))
    return filt * (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[None, :]


def log_mel(cfg, wave, crop, padding=None):
    sr = int(cfg.get("sampling_rate", 48000))
    n_fft = int(cfg.get("fft_window_size", 1024))
    hop = int(cfg.get("hop_length", 480))
    n_mels = int(cfg.get("feature_size", 64))
    max_len = int(cfg.get("max_length_s", 10) * sr)
    padding = padding or cfg.get("padding", "repeatpad")
    wave = np.asarray(wave, dtype=np.float64)
    if wave.shape[0] > max_len:
        wave = wave[crop:crop + max_len]
    elif wave.shape[0] < max_len:
        if padding == "repeat":
            wave = np.tile(wave, int(max_len / len(wave)) + 1)[:max_len]
        if padding == "repeatpad":
            wave = np.tile(wave, int(max_len / len(wave)))
        wave = np.pad(wave, (0, max_len - wave.shape[0]), mode="constant", constant_values=0)
    window = np.hanning(n_fft + 1)[:-1]
    wave = np.pad(wave, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (wave.size - n_fft) // hop
    spec = np.empty((n_frames, n_fft // 2 + 1), dtype=np.complex64)
    for i in range(n_frames):
        spec[i] = np.fft.rfft(wave[i * hop:i * hop + n_fft] * window)
    power = (np.abs(spec, dtype=np.float64) ** 2).T
    filt = slaney_filters(n_fft // 2 + 1, n_mels, float(cfg.get("frequency_min", 0)),
                          float(cfg.get("frequency_max", 14000)), sr)
    mel = np.maximum(1e-10, filt.T @ power)
    return (10.0 * np.log10(np.clip(mel, 1e-10, None))).astype(np.float32).T


def cmd_mel(args):
    with open(args[0], encoding="utf-8") as f:
        cfg = json.load(f)
    wave = np.fromfile(args[1], dtype="<f4")
    log_mel(cfg, wave, int(args[2])).astype("<f4").tofile(args[3])


# ---- tokenizer -----------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def load_tokenizer(d):
    tj = os.path.join(d, "tokenizer.json")
    if os.path.exists(tj):
        with open(tj, encoding="utf-8") as f:
            model = json.load(f)["model"]
        vocab = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    else:
        with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(d, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split()) for l in lines if l and not l.startswith("#version")]
    max_len = 512
    tc = os.path.join(d, "tokenizer_config.json")
    if os.path.exists(tc):
        with open(tc, encoding="utf-8") as f:
            max_len = int(json.load(f).get("model_max_length", 512))
    return vocab, {m: i for i, m in enumerate(merges)}, max_len


def bpe(word, ranks):
    word = list(word)
    while len(word) > 1:
        pairs = [(ranks.get((a, b), 1 << 60), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
        rank, first = min(pairs)
        if rank == 1 << 60:
            break
        a, b = word[first], word[first + 1]
        out, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def pretokenize(text):
    """GPT-2's pattern 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+,
    with \\p{L} / \\p{N} taken from unicodedata (the standard library's re has no \\p)."""
    import unicodedata

    def cat(ch):
        c = unicodedata.category(ch)
        return "L" if c[0] == "L" else "N" if c[0] == "N" else "S" if ch.isspace() else "O"

    out, i, n = [], 0, len(text)
    while i < n:
        for c in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d"):
            if text.startswith(c, i):
                out.append(c)
                i += len(c)
                break
        else:
            j = i + 1 if text[i] == " " and i + 1 < n and cat(text[i + 1]) != "S" else i
            k = cat(text[j])
            if k in ("L", "N"):
                e = j + 1
                while e < n and cat(text[e]) == k:
                    e += 1
                out.append(text[i:e])
                i = e
            elif k == "O":
                e = j + 1
                while e < n and cat(text[e]) == "O":
                    e += 1
                out.append(text[i:e])
                i = e
            else:  # whitespace run: \s+(?!\S) leaves the last space for the next word
                e = i
                while e < n and cat(text[e]) == "S":
                    e += 1
                if e < n and e - i > 1:
                    e -= 1
                out.append(text[i:e])
                i = e
    return out


def tokenize(text, vocab, ranks, max_len):
    b2u = bytes_to_unicode()
    ids = [vocab["<s>"]]
    for piece in pretokenize(text):
        word = "".join(b2u[b] for b in piece.encode("utf-8"))
        ids.extend(vocab[t] for t in bpe(word, ranks))
    ids = ids[:max_len - 1] + [vocab["</s>"]]
    return ids


def cmd_tok(args):
    vocab, ranks, max_len = load_tokenizer(args[0])
    with open(args[1], "rb") as f:
        texts = f.read().decode("utf-8").split("\0")
    if texts and texts[-1] == "":
        texts.pop()
    with open(args[2], "w", encoding="utf-8") as f:
        for t in texts:
            f.write(" ".join(map(str, tokenize(t, vocab, ranks, max_len))) + "\n")


# ---- the model ---------------------------------------------------------------------------

def read_safetensors(path):
    import torch
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "I64":
            a = np.frombuffer(raw, dtype="<i8")
        else:
            raise SystemExit(f"{path}: dtype {dt} of {name}")
        out[name] = torch.from_numpy(a.copy().reshape(info["shape"]))
    return out


def ln(x, W, pre, eps):
    import torch.nn.functional as F
    return F.layer_norm(x, (x.shape[-1],), W[pre + ".weight"], W[pre + ".bias"], eps)


def lin(x, W, pre):
    import torch.nn.functional as F
    return F.linear(x, W[pre + ".weight"], W.get(pre + ".bias"))


def window_partition(x, w):
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, w, w, c)


def window_reverse(win, w, h, wd):
    b = int(win.shape[0] / (h * wd / w / w))
    x = win.view(b, h // w, wd // w, w, w, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, wd, -1)


def swin_layer(x, W, pre, res, heads, window, shift, eps):
    import torch
    import torch.nn.functional as F
    if min(res) <= window:  # ClapAudioLayer.set_shift_and_window_size
        shift, window = 0, min(res)
    h, wd = res
    b, _, c = x.shape
    short = x
    x = ln(x, W, pre + ".layernorm_before", eps).view(b, h, wd, c)
    if shift:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    xw = window_partition(x, window).view(-1, window * window, c)
    n = window * window
    hd = c // heads
    a = pre + ".attention.self"
    q = lin(xw, W, a + ".query").view(-1, n, heads, hd).permute(0, 2, 1, 3)
    k = lin(xw, W, a + ".key").view(-1, n, heads, hd).permute(0, 2, 1, 3)
    v = lin(xw, W, a + ".value").view(-1, n, heads, hd).permute(0, 2, 1, 3)
    sc = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
    ch, cw = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.flatten(torch.stack([ch, cw]), 1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    idx = rel.sum(-1)
    bias = W[a + ".relative_position_bias_table"][idx.view(-1)].view(n, n, -1).permute(2, 0, 1)
    sc = sc + bias.unsqueeze(0)
    if shift:
        img = torch.zeros((1, h, wd, 1))
        sl = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        cnt = 0
        for hs in sl:
            for ws in sl:
                img[:, hs, ws, :] = cnt
                cnt += 1
        mw = window_partition(img, window).view(-1, n)
        mask = mw.unsqueeze(1) - mw.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        nw = mask.shape[0]
        sc = sc.view(-1, nw, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
        sc = sc.view(-1, heads, n, n)
    p = F.softmax(sc, dim=-1)
    y = torch.matmul(p, v).permute(0, 2, 1, 3).contiguous().view(-1, n, c)
    y = lin(y, W, pre + ".attention.output.dense").view(-1, window, window, c)
    y = window_reverse(y, window, h, wd)
    if shift:
        y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
    x = short + y.view(b, h * wd, c)
    f = F.gelu(lin(ln(x, W, pre + ".layernorm_after", eps), W, pre + ".intermediate.dense"))
    return x + lin(f, W, pre + ".output.dense")


def patch_merge(x, W, pre, res):
    import torch
    h, wd = res
    b, _, c = x.shape
    x = x.view(b, h, wd, c)
    x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
    x = x.view(b, -1, 4 * c)
    return lin(ln(x, W, pre + ".norm", 1e-5), W, pre + ".reduction")


def audio_tower(feats, W, cfg):
    import torch
    import torch.nn.functional as F
    a = cfg["audio_config"]
    spec, mels = a["spec_size"], a["num_mel_bins"]
    ratio, ps, win = spec // mels, a["patch_size"], a["window_size"]
    depths, heads, eps = a["depths"], a["num_attention_heads"], a.get("layer_norm_eps", 1e-5)
    e = "audio_model.audio_encoder"
    x = feats.transpose(1, 3)
    x = F.batch_norm(x, W[e + ".batch_norm.running_mean"], W[e + ".batch_norm.running_var"],
                     W[e + ".batch_norm.weight"], W[e + ".batch_norm.bias"], False, 0.0, 1e-5)
    x = x.transpose(1, 3)
    b, ch, t, f = x.shape
    if t < spec * ratio:
        x = F.interpolate(x, (spec * ratio, f), mode="bicubic", align_corners=True)
    b, ch, t, f = x.shape
    x = x.reshape(b, ch * ratio, t // ratio, f).permute(0, 1, 3, 2).contiguous()
    x = x.reshape(b, ch, f * ratio, t // ratio)
    x = F.conv2d(x, W[e + ".patch_embed.proj.weight"], W[e + ".patch_embed.proj.bias"], stride=ps)
    x = x.flatten(2).transpose(1, 2)
    x = ln(x, W, e + ".patch_embed.norm", 1e-5)
    g = spec // ps
    for s in range(len(depths)):
        res = (g >> s, g >> s)
        for i in range(depths[s]):
            x = swin_layer(x, W, f"{e}.layers.{s}.blocks.{i}", res, heads[s], win,
                           0 if i % 2 == 0 else win // 2, eps)
        if s + 1 < len(depths):
            x = patch_merge(x, W, f"{e}.layers.{s}.downsample", res)
    x = ln(x, W, e + ".norm", 1e-5)
    pooled = x.mean(dim=1)  # AdaptiveAvgPool1d over every token (the reshape only reorders)
    y = lin(torch.relu(lin(pooled, W, "audio_projection.linear1")), W, "audio_projection.linear2")
    return F.normalize(y, dim=-1)


def text_tower(rows, W, cfg):
    import torch
    import torch.nn.functional as F
    t = cfg["text_config"]
    pad, eps, heads = t.get("pad_token_id", 1), t.get("layer_norm_eps", 1e-12), t["num_attention_heads"]
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (n - len(r)) for r in rows], dtype=torch.long)
    att = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows], dtype=torch.float32)
    mask = ids.ne(pad).int()
    pos = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad
    e = "text_model.embeddings"
    x = W[e + ".word_embeddings.weight"][ids] + W[e + ".token_type_embeddings.weight"][0] + \
        W[e + ".position_embeddings.weight"][pos]
    x = ln(x, W, e + ".LayerNorm", eps)
    ext = (1.0 - att[:, None, None, :]) * torch.finfo(torch.float32).min
    b, _, d = x.shape
    hd = d // heads
    for i in range(t["num_hidden_layers"]):
        p = f"text_model.encoder.layer.{i}"
        q = lin(x, W, p + ".attention.self.query").view(b, n, heads, hd).permute(0, 2, 1, 3)
        k = lin(x, W, p + ".attention.self.key").view(b, n, heads, hd).permute(0, 2, 1, 3)
        v = lin(x, W, p + ".attention.self.value").view(b, n, heads, hd).permute(0, 2, 1, 3)
        sc = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + ext
        y = torch.matmul(F.softmax(sc, dim=-1), v).permute(0, 2, 1, 3).reshape(b, n, d)
        x = ln(lin(y, W, p + ".attention.output.dense") + x, W, p + ".attention.output.LayerNorm", eps)
        f = lin(F.gelu(lin(x, W, p + ".intermediate.dense")), W, p + ".output.dense")
        x = ln(f + x, W, p + ".output.LayerNorm", eps)
    pooled = torch.tanh(lin(x[:, 0], W, "text_model.pooler.dense"))
    y = lin(torch.relu(lin(pooled, W, "text_projection.linear1")), W, "text_projection.linear2")
    return F.normalize(y, dim=-1)


def cmd_model(args):
    import torch
    threads = 2
    repeat = 0
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    torch.set_num_threads(threads)
    d, feats_path, n_audio, ids_path, out = args[0], args[1], int(args[2]), args[3], args[4]
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    W = read_safetensors(os.path.join(d, "model.safetensors"))
    mels = cfg["audio_config"]["num_mel_bins"]
    feats = torch.from_numpy(np.fromfile(feats_path, dtype="<f4").reshape(n_audio, 1, -1, mels))
    with open(ids_path, encoding="utf-8") as f:
        rows = [[int(v) for v in l.split()] for l in f.read().split("\n") if l.strip()]
    with torch.no_grad():
        a = audio_tower(feats, W, cfg)
        tt = text_tower(rows, W, cfg) if rows else torch.zeros((0, a.shape[1]))
        if repeat:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(repeat):
                audio_tower(feats, W, cfg)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            print(f"torch audio tower: {repeat * n_audio / dt:.3f} clips/s ({threads} threads), "
                  f"{dc / (repeat * n_audio):.3f} CPU s/clip")
    scale = torch.exp(W["logit_scale_a"].reshape(()))
    np.concatenate([a.numpy().ravel(), tt.numpy().ravel(), np.array([scale.item()])]).astype(
        "<f4").tofile(out)


def read_wav(path):
    import wave
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"{path}: not 16-bit mono")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0, rate


# ---- Python Mill's resampling: librosa.resample(res_type="soxr_hq") -------------------------
# decode_audio_array (mill/models/base.py) resamples with librosa.resample(y, orig_sr=,
# target_sr=); its default res_type "soxr_hq" calls python-soxr's soxr.resample(y, in_rate,
# out_rate, quality="soxr_hq"), then librosa.util.fix_length(y_hat, size=ceil(len(y) * target_sr
# / orig_sr)). Neither package is installed here: both restated from their published code
# (librosa 0.10 core/audio.py resample; python-soxr 0.5 src/soxr/__init__.py resample and
# src/soxr_ext.cpp csoxr_split_ch: soxr_create(in, out, 1, SOXR_FLOAT32_S io,
# soxr_quality_spec(SOXR_HQ, 0), runtime NULL), soxr_process over pieces of max(1000, 48000 *
# in / out) frames into a buffer of int(n * out / in + 1), then a flush) and run through
# Debian's libsoxr with ctypes.

SOXR_FLOAT32_S = 4
SOXR_HQ = 4


class IoSpec(ctypes.Structure):
    _fields_ = [("itype", ctypes.c_int), ("otype", ctypes.c_int), ("scale", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


class QualitySpec(ctypes.Structure):
    _fields_ = [("precision", ctypes.c_double), ("phase_response", ctypes.c_double),
                ("passband_end", ctypes.c_double), ("stopband_begin", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


def soxr_resample(x, in_rate, out_rate):
    lib = ctypes.CDLL("libsoxr.so.0")
    lib.soxr_io_spec.restype = IoSpec
    lib.soxr_io_spec.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.soxr_quality_spec.restype = QualitySpec
    lib.soxr_quality_spec.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
    lib.soxr_create.restype = ctypes.c_void_p
    lib.soxr_create.argtypes = [ctypes.c_double, ctypes.c_double, ctypes.c_uint,
                                ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(IoSpec),
                                ctypes.POINTER(QualitySpec), ctypes.c_void_p]
    lib.soxr_process.restype = ctypes.c_char_p
    lib.soxr_process.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                                 ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    lib.soxr_delete.argtypes = [ctypes.c_void_p]
    io = lib.soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S)
    q = lib.soxr_quality_spec(SOXR_HQ, 0)
    err = ctypes.c_char_p()
    r = lib.soxr_create(float(in_rate), float(out_rate), 1, ctypes.byref(err), ctypes.byref(io),
                        ctypes.byref(q), None)
    if err.value:
        raise SystemExit(err.value.decode())
    x = np.ascontiguousarray(x, dtype=np.float32)
    ilen = x.shape[0]
    olen = int(ilen * float(out_rate) / float(in_rate) + 1)  # C++: size_t(ilen * out / in + 1)
    div_len = int(max(1000.0, 48000 * float(in_rate) / float(out_rate)))
    y = np.zeros(olen, dtype=np.float32)
    out_pos = 0
    odone = ctypes.c_size_t()
    for idx in range(0, ilen, div_len):  # split-channel I/O: an array of one pointer each
        ip = (ctypes.c_void_p * 1)(x.ctypes.data + 4 * idx)
        op = (ctypes.c_void_p * 1)(y.ctypes.data + 4 * out_pos)
        e = lib.soxr_process(r, ip, min(div_len, ilen - idx), None, op, olen - out_pos,
                             ctypes.byref(odone))
        if e:
            raise SystemExit(e.decode())
        out_pos += odone.value
    op = (ctypes.c_void_p * 1)(y.ctypes.data + 4 * out_pos)
    e = lib.soxr_process(r, None, 0, None, op, olen - out_pos, ctypes.byref(odone))
    if e:
        raise SystemExit(e.decode())
    out_pos += odone.value
    lib.soxr_delete(r)
    return y[:out_pos]


def librosa_resample(y, orig_sr, target_sr):
    if orig_sr == target_sr:
        return y
    ratio = float(target_sr) / orig_sr
    n_samples = int(np.ceil(y.shape[-1] * ratio))
    y_hat = soxr_resample(y, orig_sr, target_sr)
    if y_hat.shape[-1] > n_samples:  # librosa.util.fix_length
        y_hat = y_hat[:n_samples]
    elif y_hat.shape[-1] < n_samples:
        y_hat = np.pad(y_hat, (0, n_samples - y_hat.shape[-1]), mode="constant")
    return np.asarray(y_hat, dtype=y.dtype)



def cmd_resample(args):
    src, rate_in, rate_out, dst = args[0], int(args[1]), int(args[2]), args[3]
    x = np.fromfile(src, dtype="<f4")
    librosa_resample(x, rate_in, rate_out).astype("<f4").tofile(dst)


def cmd_zeroshot(args):
    import torch
    torch.set_num_threads(2)
    d, cases_path, out = args
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(d, "preprocessor_config.json"), encoding="utf-8") as f:
        pre = json.load(f)
    with open(cases_path, encoding="utf-8") as f:
        spec = json.load(f)
    W = read_safetensors(os.path.join(d, "model.safetensors"))
    vocab, ranks, max_len = load_tokenizer(d)
    scale = torch.exp(W["logit_scale_a"].reshape(())).item()
    max_samples = int(pre.get("max_length_s", 10) * pre.get("sampling_rate", 48000))
    np.random.seed(spec.get("seed", 42))  # Python Mill's set_global_seed at the task's start
    with open(out, "w", encoding="utf-8") as f:
        for case in spec["cases"]:
            wave_, rate = read_wav(case["wav"])
            if rate != pre.get("sampling_rate", 48000):
                raise SystemExit(f"{case['wav']}: {rate} Hz")
            over = max(0, len(wave_) - max_samples)
            crop = 0
            if over:  # transformers' ClapFeatureExtractor, rand_trunc: the global state
                crop = int(np.random.randint(0, over + 1))
            # Python Mill: processor(..., padding=True), which ClapFeatureExtractor.__call__
            # keeps (`padding if padding else self.padding`) and _get_input_mel zero-pads
            feats = torch.from_numpy(log_mel(pre, wave_, crop, padding=True)[None, None])
            rows = [tokenize(spec["template"].replace("{c}", l), vocab, ranks, max_len)
                    for l in case["labels"]]
            with torch.no_grad():
                a = audio_tower(feats, W, cfg)[0]
                t = F_normalize(text_tower(rows, W, cfg))
            scores = (scale * (t.double() @ a.double())).tolist()
            f.write(json.dumps({"doc_id": case["doc_id"], "crop": crop, "scores": scores}) + "\n")


def F_normalize(x):
    import torch.nn.functional as F
    return F.normalize(x, dim=-1)


def main():
    cmds = {"mel": cmd_mel, "tok": cmd_tok, "model": cmd_model, "zeroshot": cmd_zeroshot,
            "resample": cmd_resample}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
