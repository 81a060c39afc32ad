"""clip_zeroshot_ref.py: the reference zero-shot classifier scores of a CLIP checkpoint on
WebDataset shards, for tests/cli/test_clip.sh (the clip backend end to end).

Usage: /usr/bin/python3 clip_zeroshot_ref.py DIR BPE_GZ TEMPLATES_JSON TASK SHARD.tar... > ref.jsonl
(Debian's python3 with python3-torch, python3-numpy, python3-pil and python3-regex; never a
python3 from a virtual environment). DIR: an open_clip checkpoint (open_clip_config.json +
open_clip_model.safetensors); BPE_GZ: open_clip's bpe_simple_vocab_16e6.txt.gz; TEMPLATES_JSON:
CLIP_benchmark's en_zeroshot_classification_templates.json, whose TASK entry ("cifar10") gives
the templates. Prints one JSON line per sample, shards in the order given, samples in tar order:
{"shard": i, "key": "__key__", "cls": int, "scores": [one float per class]}. Reads nothing but
its arguments, writes nothing but stdout, exits non-zero on anything it cannot restate.

What it computes, from nothing of Mill's:
  classes   CIFAR-10's class names in torchvision's order (CIFAR10.classes, from the dataset's
            batches.meta), which CLIP_benchmark uses for cifar10 (its en_classnames.json has no
            cifar10 entry).
  head      open_clip's build_zero_shot_classifier (zero_shot_classifier.py): for each class,
            every template with "{c}" replaced by the name, tokenised by open_clip's
            SimpleTokenizer (clip_tokenizer_ref.py) to the config's context_length, encoded by
            the PyTorch model (clip_ref.py: ClipRef.encode_texts, L2-normalised), the mean over
            templates, renormalised.
  images    the sample's image member (extension webp/png/jpg/jpeg, "<key>.0.webp" or
            "<key>.webp") decoded by Pillow, .convert("RGB"), then open_clip's eval transform
            restated by pil_oracle.clip: Resize(image_size, BICUBIC) on the shorter side +
            CenterCrop + ToTensor + Normalize with the config's preprocess_cfg mean/std; encoded
            by ClipRef.encode_images (L2-normalised).
  scores    logit_scale * image_embedding . head_row, with logit_scale = exp(the checkpoint's
            stored logit_scale) as open_clip's CLIP.forward uses it (no clamp at inference).
            CLIP_benchmark multiplies by a fixed 100 instead; that only rescales the logits
            (argmax unchanged) and equals exp(logit_scale) for trained checkpoints, whose
            logit_scale sits at its clamp ln(100). The scale used here is Mill's backend's
            (src/backend/clip.c: expf(logit_scale)), so the per-sample scores can be compared.
It cannot express: preprocess_cfg other than interpolation "bicubic" with resize_mode
"shortest" (refused), HF checkpoints' preprocessor_config.json (use the open_clip layout).
"""
import io
import json
import os
import sys
import tarfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_ref import OPENAI_MEAN, OPENAI_STD, ClipRef  # noqa: E402
from clip_tokenizer_ref import SimpleTokenizer  # noqa: E402
from pil_oracle import clip as pil_clip  # noqa: E402

CLASSES = {
    # torchvision.datasets.CIFAR10(...).classes
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}
IMAGE_EXTS = ("webp", "png", "jpg", "jpeg")


def read_shard(path):
    """[(key, {ext: bytes})] in tar order; key = member name up to its first '.'."""
    samples, index = [], {}
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if not m.isfile():
                continue
            base = os.path.basename(m.name)
            key, _, ext = base.partition(".")
            if key not in index:
                index[key] = len(samples)
                samples.append((key, {}))
            samples[index[key]][1][ext] = t.extractfile(m).read()
    return samples


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    ck, bpe, tmpl_json, task, shards = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], \
        sys.argv[5:]
    with open(os.path.join(ck, "open_clip_config.json")) as f:
        cfg = json.load(f)
    pre = cfg.get("preprocess_cfg", {})
    if pre.get("interpolation", "bicubic") != "bicubic" or \
            pre.get("resize_mode", "shortest") != "shortest":
        sys.exit(f"{ck}: preprocess_cfg {pre} is not restated here")
    mean, std = pre.get("mean", OPENAI_MEAN), pre.get("std", OPENAI_STD)
    ctx = cfg["model_cfg"]["text_cfg"].get("context_length", 77)
    with open(tmpl_json) as f:
        templates = json.load(f)[task]
    classes = CLASSES[task]
    tok = SimpleTokenizer(bpe)
    torch.set_num_threads(2)
    with torch.no_grad():
        m = ClipRef(ck)
        rows = []
        for c in classes:
            ids = np.array([tok.tokenize(t.replace("{c}", c), ctx) for t in templates],
                           dtype=np.int64)
            e = m.encode_texts(torch.from_numpy(ids)).double()  # [T, E], rows L2-normalised
            e = e.mean(dim=0)
            rows.append(e / e.norm())
        head = torch.stack(rows)  # [C, E]
        scale = m.logit_scale.double().exp()
        for si, path in enumerate(shards):
            for key, members in read_shard(path):
                img = [members[x] for x in sorted(members) if x.rsplit(".", 1)[-1] in IMAGE_EXTS]
                if len(img) != 1 or "cls" not in members:
                    sys.exit(f"{path}: sample {key} has {len(img)} images, cls: {'cls' in members}")
                im = Image.open(io.BytesIO(img[0])).convert("RGB")
                px = np.frombuffer(pil_clip(im, m.image_size, mean, std), "<f4")
                px = px.reshape(1, 3, m.image_size, m.image_size)
                emb = m.encode_images(torch.from_numpy(px.copy()))[0].double()
                scores = (scale * (head @ emb)).tolist()
                print(json.dumps({"shard": si, "key": key,
                                  "cls": int(members["cls"].decode().strip()),
                                  "scores": scores}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
