#!/usr/bin/env bash
# bench/clip.sh: Mill's CLIP (src/model/clip) against the PyTorch reference on the same random
# ViT-B-32 checkpoint: images/s of the vision tower (F32, F16, BF16; batch 64; 2 threads), the
# zero-shot head build for 1000 classes x 80 templates of ~10 tokens (a sample of classes,
# scaled), the ratios, and the effective GFLOP/s next to torch/OpenBLAS's sgemm rate
# (2 threads). FLOPs count 2 per multiply-add: ViT-B/32 at 224 is 4.41 GMAC = 8.83 GFLOP/image.
# Then the whole path from JPEG files to predictions (ImageNet-sized JPEGs the script writes
# with Pillow): the `clip` backend on CLASSIFY requests against torch with PIL preprocessing
# (inline, and with a DataLoader worker; the faster is the peer).
#
# Usage: bash bench/clip.sh BUILD_DIR   (BUILD_DIR holds bin/gen_clip and bench/bench_clip)
# It writes only a temporary directory (checkpoints ~1.2 GB, the compiled bench) that it
# removes; it must not touch the build or the source tree. Sample sizes: CLIP_BENCH_IMAGES
# (128), CLIP_BENCH_CLASSES (ours 10), CLIP_BENCH_TORCH_CLASSES (ctx 77: 2; trimmed: 10).
set -euo pipefail

BUILD=${1:?usage: bench/clip.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
IMAGES=${CLIP_BENCH_IMAGES:-128}
CLASSES=${CLIP_BENCH_CLASSES:-10}
TORCH_CLASSES=${CLIP_BENCH_TORCH_CLASSES:-2}
THREADS=2
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

[ -x "$BUILD/bin/gen_clip" ] || { echo "clip.sh: no $BUILD/bin/gen_clip" >&2; exit 1; }
[ -x "$BUILD/bench/bench_clip" ] || { echo "clip.sh: no $BUILD/bench/bench_clip" >&2; exit 1; }
TMP=$(mktemp -d /tmp/mill_bench_clip.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MILL_CACHE_DIR=$TMP/cache   # the backend's zero-shot head cache

cp "$BUILD/bench/bench_clip" "$TMP/bench_clip"

for dt in f32 f16 bf16; do
    "$BUILD/bin/gen_clip" --out "$TMP/vit_b_32_$dt" --format open_clip --preset vit-b-32 \
        --dtype "$dt" --seed 1
done

# ImageNet-like JPEGs: smooth random colour fields plus noise, 500x375 / 375x500 / 640x480.
"$PY" - "$TMP/jpeg" <<'PY'
import os, sys
import numpy as np
from PIL import Image
out = sys.argv[1]
os.makedirs(out)
rng = np.random.default_rng(7)
sizes = [(500, 375), (375, 500), (640, 480)]
for i in range(64):
    w, h = sizes[i % 3]
    low = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    im = Image.fromarray(low).resize((w, h), Image.BICUBIC)
    a = np.asarray(im).astype(np.int16) + rng.integers(-12, 13, (h, w, 3))
    Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(f"{out}/{i:03d}.jpg", quality=90)
PY

get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== torch reference (F32, $THREADS threads, batch 64)"
"$PY" "$ROOT/bench/clip_torch_bench.py" "$TMP/vit_b_32_f32" --images "$IMAGES" \
    --sample_classes "$TORCH_CLASSES" --sample_classes_trim "$CLASSES" --jpeg_dir "$TMP/jpeg" \
    | tee "$TMP/torch.txt"

for dt in f32 f16 bf16; do
    echo "== mill $dt ($THREADS threads, batch 64)"
    "$TMP/bench_clip" --model "$TMP/vit_b_32_$dt" --threads "$THREADS" --batch 64 \
        --images "$IMAGES" --sample_classes "$CLASSES" --jpeg_dir "$TMP/jpeg" \
        | tee "$TMP/mill_$dt.txt"
done

PEAK=$(get peak_gflops "$TMP/torch.txt")
T_IPS=$(get images_per_s "$TMP/torch.txt")
T_ZS77=$(get zs_head_s_ctx77 "$TMP/torch.txt")
T_ZST=$(get zs_head_s_trimmed "$TMP/torch.txt")
gfl() { echo "$1 * 8.83" | bc -l; }
div() { echo "$1 / $2" | bc -l; }
echo
echo "== summary: ViT-B-32, 8.83 GFLOP/image; torch/OpenBLAS 2048^2 sgemm runs at $PEAK GFLOP/s;" \
    "load average $(cut -d' ' -f1 /proc/loadavg)"
printf "%-14s %9s %8s %7s   %12s %9s %9s\n" impl "images/s" "x torch" "GFLOP/s" \
    "zs head (s)" "x t-ctx77" "x t-trim"
printf "%-14s %9.2f %8.2f %7.0f   %12.0f %9.2f %9.2f\n" "torch f32" "$T_IPS" 1 \
    "$(gfl "$T_IPS")" "$T_ZS77" 1 "$(div "$T_ZS77" "$T_ZST")"
printf "%-14s %9s %8s %7s   %12.0f %9.2f %9.2f\n" "torch trimmed" - - - "$T_ZST" \
    "$(div "$T_ZS77" "$T_ZST")" 1
for dt in f32 f16 bf16; do
    IPS=$(get images_per_s "$TMP/mill_$dt.txt")
    ZS=$(get zs_head_s "$TMP/mill_$dt.txt")
    printf "%-14s %9.2f %8.2f %7.0f   %12.0f %9.2f %9.2f\n" "mill $dt" "$IPS" \
        "$(div "$IPS" "$T_IPS")" "$(gfl "$IPS")" "$ZS" "$(div "$T_ZS77" "$ZS")" \
        "$(div "$T_ZST" "$ZS")"
done
echo
T_E2E=$(get e2e_images_per_s "$TMP/torch.txt")
echo "== JPEG files -> predictions (decode, resize, crop, normalise, encode, 10-class scores)"
printf "%-22s %9s %8s\n" impl "images/s" "x torch"
printf "%-22s %9.2f %8s\n" "torch inline" "$(get e2e_images_per_s_inline "$TMP/torch.txt")" -
printf "%-22s %9.2f %8s\n" "torch DataLoader(1)" "$(get e2e_images_per_s_loader "$TMP/torch.txt")" -
for dt in f32 f16 bf16; do
    E=$(get e2e_images_per_s "$TMP/mill_$dt.txt")
    printf "%-22s %9.2f %8.2f\n" "mill clip backend $dt" "$E" "$(div "$E" "$T_E2E")"
done
echo "x torch: against the faster torch row."
echo "zs head: 1000 classes x 80 templates of ~10 tokens, scaled from a sample of classes;"
echo "t-ctx77: open_clip's full 77-token encode_text; t-trim: the same cut at each batch's EOT."
