"""clip_torch_bench.py: the PyTorch side of bench/clip.sh: times tests/reference/clip_ref.py's
model (float32, torch.set_num_threads(2), no_grad) on the same checkpoint bench_clip runs:
images/s of the vision tower at batch 64 and the zero-shot head build (classes x templates rows
of ~10 tokens, averaged per class), on a sample of classes scaled to the full count, both at the
full 77-token context (what open_clip's encode_text computes) and trimmed to the longest row of
each batch. Also measures the machine's practical float32 peak with a square matmul. Prints one
"key value" line per figure.

With --jpeg_dir, also images/s from encoded images to predictions, as an open_clip user runs it:
PIL decode + convert("RGB"), Resize(224, BICUBIC) on the short side, CenterCrop, ToTensor,
Normalize (torchvision's PIL path, written out with PIL and numpy since torchvision is not in
Debian), the vision tower, scores against a 10-class head, argmax. Measured twice: inline
(preprocessing in the main thread) and with a torch DataLoader worker preparing the next batch
while the model runs; both are printed, the faster is the peer.

It is a benchmark only: it writes nothing and checks no accuracy. Run it with /usr/bin/python3
(Debian's torch on OpenBLAS); it refuses to run when torch does not link OpenBLAS.

Usage: clip_torch_bench.py DIR [--batch 64] [--images 128] [--classes 1000] [--templates 80]
       [--sample_classes 2] [--sample_classes_trim 10] [--tokens 10] [--jpeg_dir DIR]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
from clip_ref import ClipRef  # noqa: E402

SOT, EOT = 49406, 49407


def blas_is_openblas():
    """True when the process has OpenBLAS mapped (torch's BLAS on Debian is libblas.so.3, an
    alternative that must point at openblas)."""
    try:
        with open("/proc/self/maps") as f:
            return "openblas" in f.read()
    except OSError:
        return False


def peak_gflops(n=2048, reps=5):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def template_rows(rng, classes, templates, tokens, ctx):
    ids = np.zeros((classes * templates, ctx), np.int64)
    for i in range(ids.shape[0]):
        n = max(1, min(ctx - 2, tokens - 2 + int(rng.random() * 5)))
        ids[i, 0] = SOT
        ids[i, 1:1 + n] = 1 + (rng.random(n) * (SOT - 1)).astype(np.int64)
        ids[i, 1 + n] = EOT
    return torch.from_numpy(ids)


def zero_shot(m, ids, templates, batch, trim):
    """Seconds to build the head for ids (classes x templates rows), batching like open_clip's
    zero-shot classifier (one class's templates per call, batched at `batch`)."""
    t0 = time.perf_counter()
    heads = []
    for c in range(0, ids.shape[0], templates):
        rows = ids[c:c + templates]
        emb = torch.cat([m.encode_texts(rows[k:k + batch], trim=trim)
                         for k in range(0, rows.shape[0], batch)])
        h = emb.mean(dim=0)
        heads.append(h / h.norm())
    return time.perf_counter() - t0


MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def preprocess(path, size):
    """torchvision Resize(size, BICUBIC) + CenterCrop(size) + ToTensor + Normalize on PIL."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    im = im.resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    x = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


class Jpegs(torch.utils.data.Dataset):
    def __init__(self, paths, n, size):
        self.paths, self.n, self.size = paths, n, size

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return preprocess(self.paths[i % len(self.paths)], self.size)


def e2e(m, jpeg_dir, n, batch):
    """Images/s from JPEG files to predictions, inline and with one DataLoader worker."""
    paths = sorted(os.path.join(jpeg_dir, f) for f in os.listdir(jpeg_dir) if f.endswith(".jpg"))
    head = torch.nn.functional.normalize(torch.randn(10, m.v_proj.shape[1]), dim=-1)
    res = {}
    for workers in (0, 1):
        ds = Jpegs(paths, n + batch, m.image_size)
        dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers)
        it = iter(dl)
        (100.0 * m.encode_images(next(it)) @ head.T).argmax(dim=-1)  # warm-up batch
        t0 = time.perf_counter()
        done = 0
        for x in it:
            (100.0 * m.encode_images(x) @ head.T).argmax(dim=-1)
            done += x.shape[0]
        res[workers] = done / (time.perf_counter() - t0)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--templates", type=int, default=80)
    ap.add_argument("--sample_classes", type=int, default=2)
    ap.add_argument("--sample_classes_trim", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--jpeg_dir")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not blas_is_openblas():
        print("clip_torch_bench: torch is not using OpenBLAS", file=sys.stderr)
        return 1
    print(f"torch_version {torch.__version__}")
    print("torch_blas openblas")
    print(f"torch_threads {torch.get_num_threads()}")
    with torch.no_grad():
        print(f"peak_gflops {peak_gflops():.1f}")
        m = ClipRef(args.dir)
        s = m.image_size
        rng = np.random.default_rng(1)
        img = torch.from_numpy(rng.uniform(-2, 2, (args.batch, 3, s, s)).astype(np.float32))
        m.encode_images(img)
        t0 = time.perf_counter()
        done = 0
        while done < args.images:
            m.encode_images(img)
            done += args.batch
        print(f"images_per_s {done / (time.perf_counter() - t0):.3f}")
        ctx = m.t_pos.shape[0]
        for trim, n_cls, key in ((False, args.sample_classes, "zs_head_s_ctx77"),
                                 (True, args.sample_classes_trim, "zs_head_s_trimmed")):
            ids = template_rows(rng, n_cls, args.templates, args.tokens, ctx)
            zero_shot(m, ids[:args.templates], args.templates, args.batch, trim)  # warm-up
            dt = zero_shot(m, ids, args.templates, args.batch, trim)
            print(f"{key} {dt / n_cls * args.classes:.1f}")
            print(f"{key}_texts_per_s {ids.shape[0] / dt:.3f}")
        if args.jpeg_dir:
            r = e2e(m, args.jpeg_dir, args.images, args.batch)
            print(f"e2e_images_per_s_inline {r[0]:.3f}")
            print(f"e2e_images_per_s_loader {r[1]:.3f}")
            print(f"e2e_images_per_s {max(r.values()):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
