"""clap_flops.py: the arithmetic of CLAP's HTSAT audio tower for bench/clap.sh's question (issue
12: can src/model/clap beat PyTorch by 1.5x in F32 on this CPU?): the exact matrix-product FLOP
count of one clip (2 FLOPs per multiply-add), derived from a checkpoint's config.json at the
shapes src/model/clap/clap_graph.c computes them, and the PyTorch side's measured rates against
it. Run it with Debian's /usr/bin/python3 (python3-torch on OpenBLAS, as
tests/reference/clap_ref.py is).

Usage:
  clap_flops.py count DIR            FLOPs per stage and op kind of one clip (no torch needed)
  clap_flops.py check DIR            counts the matrix products clap_ref.py's audio tower runs on
                                     one clip under a torch dispatch mode and compares them with
                                     `count` (exits 1 on a mismatch)
  clap_flops.py matmul [--n 2048] [--threads T] [--reps 5]
                                     GFLOP/s of torch.mm on n x n float32 matrices (best, median)
                                     and CPU / wall time (the cores OpenBLAS really got)
  clap_flops.py tower DIR [--threads T] [--clips 8] [--reps 3]
                                     clap_ref.py's audio tower on random 10 s clips (one batch):
                                     seconds and CPU seconds per clip, GFLOP/s against `count`
DIR is a CLAP checkpoint directory (tools/gen_clap --preset unfused writes one of
laion/clap-htsat-unfused's shapes). Prints "key value" lines; writes nothing. Timings are only
worth reading on a quiet machine: on a 2-vCPU VM another process (or the guest kernel packing
both threads onto one vCPU) turns a 2-thread run into a 1-core one; CPU / wall shows it.

What is counted: the patch embedding (a P x P stride-P convolution, i.e. one product), per Swin
block the q, k, v, output, fc1 and fc2 products and the window attention's Q K^T and A V, the
patch merging reductions, the audio projection. Elementwise work (norms, softmax, GELU, bias
adds, the mel batch norm and bicubic resize) is reported separately as element counts: it is not
multiply-add arithmetic and is bound by memory traffic, not by the FMA units. clap_graph.c pads
each head of Q and K with zeros to a multiple of 16 (HTSAT's heads are 24 wide) before Q K^T, so
its Q K^T does hd_pad / hd times the useful work; `count` prints both figures.
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def audio_shapes(cfg):
    """The per-stage shapes of the HTSAT tower as clap_graph.c / ClapAudioEncoder run them."""
    a = cfg["audio_config"]
    spec, ps, emb = a["spec_size"], a["patch_size"], a["patch_embeds_hidden_size"]
    win, mlp = a["window_size"], a.get("mlp_ratio", 4.0)
    g = spec // ps
    stages = []
    for s, (depth, heads) in enumerate(zip(a["depths"], a["num_attention_heads"])):
        res = g >> s
        c = emb << s
        w = min(win, res)  # ClapAudioLayer.set_shift_and_window_size
        stages.append({"res": res, "tokens": res * res, "dim": c, "heads": heads,
                       "hd": c // heads, "window": w, "depth": depth, "hidden": int(c * mlp),
                       "merge": s + 1 < len(a["depths"])})
    return {"spec": spec, "patch": ps, "in_ch": a.get("patch_embed_input_channels", 1),
            "embed": emb, "grid": g, "stages": stages,
            "proj_in": emb << (len(stages) - 1), "proj": a.get("projection_dim", 512)}


def pad16(n):
    return n if n % 16 == 0 else n + 16 - n % 16


def count(cfg):
    """FLOPs of one clip: {op kind: flops} and per stage, plus the padded Q K^T of ours."""
    sh = audio_shapes(cfg)
    ops = {"patch_embed": 2 * sh["grid"] ** 2 * sh["patch"] ** 2 * sh["in_ch"] * sh["embed"]}
    per_stage = []
    qk_ours = 0
    elems = {"layernorm": sh["grid"] ** 2 * sh["embed"], "softmax": 0, "gelu": 0}
    for st in sh["stages"]:
        n, c, d, w2 = st["tokens"], st["dim"], st["depth"], st["window"] ** 2
        f = {"qkv": d * 3 * 2 * n * c * c, "out": d * 2 * n * c * c,
             "mlp": d * 2 * 2 * n * c * st["hidden"],
             "qk": d * 2 * n * w2 * c, "av": d * 2 * n * w2 * c,
             "merge": 2 * (n // 4) * (4 * c) * (2 * c) if st["merge"] else 0}
        qk_ours += d * 2 * n * w2 * st["heads"] * pad16(st["hd"])
        elems["layernorm"] += d * 2 * n * c + (n * c if st["merge"] else 0)
        elems["softmax"] += d * n * w2 * st["heads"]
        elems["gelu"] += d * n * st["hidden"]
        per_stage.append(f)
        for k, v in f.items():
            ops[k] = ops.get(k, 0) + v
    last = sh["stages"][-1]
    elems["layernorm"] += last["tokens"] * last["dim"]
    ops["projection"] = 2 * (sh["proj_in"] * sh["proj"] + sh["proj"] * sh["proj"])
    return sh, ops, per_stage, qk_ours, elems


def load_cfg(d):
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def cmd_count(args):
    sh, ops, per_stage, qk_ours, elems = count(load_cfg(args[0]))
    total = sum(ops.values())
    for i, (st, f) in enumerate(zip(sh["stages"], per_stage)):
        print(f"stage{i} tokens {st['tokens']} dim {st['dim']} heads {st['heads']} hd {st['hd']} "
              f"window {st['window']} depth {st['depth']} gflop {sum(f.values()) / 1e9:.4f}")
    for k, v in ops.items():
        print(f"flops_{k} {v} ({100.0 * v / total:.2f} %)")
    print(f"flops_total {total}")
    print(f"gflop_per_clip {total / 1e9:.4f}")
    print(f"flops_qk_padded_ours {qk_ours}")
    print(f"gflop_per_clip_ours_padded {(total - ops['qk'] + qk_ours) / 1e9:.4f}")
    for k, v in elems.items():
        print(f"elements_{k} {v}")


def torch_mod():
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
    import clap_ref
    return torch, clap_ref


def random_feats(torch, cfg, clips):
    """clips x 1 x 1001 x n_mels log-mel-like features (10 s at 48 kHz, hop 480)."""
    g = torch.Generator().manual_seed(1)
    mels = cfg["audio_config"]["num_mel_bins"]
    return torch.randn(clips, 1, 1001, mels, generator=g) * 10.0 - 40.0


def cmd_check(args):
    torch, clap_ref = torch_mod()
    from torch.utils._python_dispatch import TorchDispatchMode
    aten = torch.ops.aten
    tally = {}

    def prod(shape):
        p = 1
        for s in shape:
            p *= int(s)
        return p

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            p = func.overloadpacket
            if p in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm):
                a, b = (args[1], args[2]) if p in (aten.addmm, aten.baddbmm) else args[:2]
                flops = 2 * prod(a.shape) * b.shape[-1]
            elif p in (aten.convolution, aten._convolution):
                w = args[1]
                flops = 2 * prod(out.shape) * prod(w.shape[1:])
            else:
                return out
            tally[str(p)] = tally.get(str(p), 0) + flops
            return out

    d = args[0]
    cfg = load_cfg(d)
    W = clap_ref.read_safetensors(os.path.join(d, "model.safetensors"))
    feats = random_feats(torch, cfg, 1)
    with torch.no_grad(), Counter():
        clap_ref.audio_tower(feats, W, cfg)
    got = sum(tally.values())
    want = sum(count(cfg)[1].values())
    for k, v in sorted(tally.items()):
        print(f"torch_{k} {v}")
    print(f"torch_flops_total {got}")
    print(f"count_flops_total {want}")
    print("check " + ("ok" if got == want else "MISMATCH"))
    return 0 if got == want else 1


def opt(args, name, default):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return type(default)(v)
    return default


def cmd_matmul(args):
    torch, _ = torch_mod()
    n, threads, reps = opt(args, "--n", 2048), opt(args, "--threads", 1), opt(args, "--reps", 5)
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times, cpu = [], 0.0
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
        cpu += time.process_time() - c0
    fl = 2.0 * n ** 3
    print(f"matmul_n {n} threads {threads}")
    print(f"matmul_gflops_best {fl / min(times) / 1e9:.1f}")
    print(f"matmul_gflops_median {fl / statistics.median(times) / 1e9:.1f}")
    print(f"matmul_cpu_per_wall {cpu / sum(times):.2f}")


def cmd_tower(args):
    torch, clap_ref = torch_mod()
    threads, clips, reps = opt(args, "--threads", 1), opt(args, "--clips", 8), opt(args, "--reps", 3)
    torch.set_num_threads(threads)
    d = args[0]
    cfg = load_cfg(d)
    W = clap_ref.read_safetensors(os.path.join(d, "model.safetensors"))
    feats = random_feats(torch, cfg, clips)
    flops = sum(count(cfg)[1].values())
    with torch.no_grad():
        clap_ref.audio_tower(feats, W, cfg)  # warm-up, as clap_ref.py --repeat does
        walls, cpus = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            clap_ref.audio_tower(feats, W, cfg)
            walls.append((time.perf_counter() - t0) / clips)
            cpus.append((time.process_time() - c0) / clips)
    w, c = statistics.median(walls), statistics.median(cpus)
    print(f"tower_threads {threads} clips {clips} reps {reps}")
    print(f"tower_s_per_clip {w:.4f} (all: {' '.join('%.4f' % x for x in walls)})")
    print(f"tower_cpu_s_per_clip {c:.4f}")
    print(f"tower_clips_per_s {1.0 / w:.3f}")
    print(f"tower_gflops {flops / w / 1e9:.1f}")
    print(f"tower_gflops_per_cpu_s {flops / c / 1e9:.1f}")


def main():
    cmds = {"count": cmd_count, "check": cmd_check, "matmul": cmd_matmul, "tower": cmd_tower}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or \
            (sys.argv[1] in ("count", "check", "tower") and len(sys.argv) < 3):
        sys.exit(__doc__)
    sys.exit(cmds[sys.argv[1]](sys.argv[2:]) or 0)


if __name__ == "__main__":
    main()
