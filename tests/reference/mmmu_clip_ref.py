"""mmmu_clip_ref.py: the reference scores of a CLIP checkpoint on mmmu_pro_clip, for
tests/cli/test_vision_tasks.sh (the task end to end through the clip backend).

Usage: /usr/bin/python3 mmmu_clip_ref.py DIR BPE_GZ ROWS.jsonl > ref.jsonl
(Debian's python3 with python3-torch, python3-numpy, python3-pil and python3-regex). DIR: an
open_clip checkpoint; BPE_GZ: open_clip's bpe_simple_vocab_16e6.txt.gz; ROWS.jsonl: the rows the
Parquet fixture was written from (tests/reference/write_mmmu_pro.cjs), images as
{"bytes": base64, "path"} or null. Prints one JSON line per row:
{"doc_id": i, "target": gold index, "scores": [one float per option]}, or
{"doc_id": i, "failed": why} for a row whose prompt fails or whose first image does not decode.

What it computes: the captions and the first image of vision_mcq_oracle.py's mmmu_pro_clip
(BEHAVIOUR.md §4.5); per row a zero-shot head of one template "{c}" (open_clip's
build_zero_shot_classifier: each caption tokenised by SimpleTokenizer to the config's
context_length, truncated keeping EOT last, encoded by clip_ref.ClipRef, L2-normalised; the mean
of one, renormalised); the image decoded by Pillow and put through open_clip's eval transform
(pil_oracle.clip); scores = exp(logit_scale) * image . caption, as clip_zeroshot_ref.py.
"""
import base64
import io
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_ref import OPENAI_MEAN, OPENAI_STD, ClipRef  # noqa: E402
from clip_tokenizer_ref import SimpleTokenizer  # noqa: E402
from pil_oracle import clip as pil_clip  # noqa: E402
import vision_mcq_oracle as oracle  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ck, bpe, rows_file = sys.argv[1:]
    with open(os.path.join(ck, "open_clip_config.json")) as f:
        cfg = json.load(f)
    pre = cfg.get("preprocess_cfg", {})
    mean, std = pre.get("mean", OPENAI_MEAN), pre.get("std", OPENAI_STD)
    ctx = cfg["model_cfg"]["text_cfg"].get("context_length", 77)
    tok = SimpleTokenizer(bpe)
    torch.set_num_threads(2)
    with torch.no_grad():
        m = ClipRef(ck)
        scale = m.logit_scale.double().exp()
        for i, line in enumerate(open(rows_file, encoding="utf-8")):
            row = json.loads(line)
            try:
                doc = oracle.mmmu_doc("mmmu_pro_clip", row)
                first = oracle.mmmu_images(row)[0]
            except (oracle.Failed, ValueError, SyntaxError, TypeError) as e:
                print(json.dumps({"doc_id": i, "failed": "prompt: %s" % e}))
                continue
            data = base64.b64decode(row["image_%d" % first]["bytes"])
            try:
                im = Image.open(io.BytesIO(data)).convert("RGB")
            except Exception as e:  # what Pillow cannot decode fails the sample
                print(json.dumps({"doc_id": i, "failed": "image: %s" % e}))
                continue
            ids = np.array([tok.tokenize(c, ctx) for c in doc["choices"]], dtype=np.int64)
            head = m.encode_texts(torch.from_numpy(ids)).double()  # rows L2-normalised
            head = head / head.norm(dim=1, keepdim=True)
            px = np.frombuffer(pil_clip(im, m.image_size, mean, std), "<f4")
            px = px.reshape(1, 3, m.image_size, m.image_size)
            emb = m.encode_images(torch.from_numpy(px.copy()))[0].double()
            print(json.dumps({"doc_id": i, "target": doc["target"],
                              "scores": (scale * (head @ emb)).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
