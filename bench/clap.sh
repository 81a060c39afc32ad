#!/usr/bin/env bash
# bench/clap.sh: Mill's CLAP (src/model/clap) against the PyTorch reference
# (tests/reference/clap_ref.py) on the same random checkpoint of laion/clap-htsat-unfused's shape
# (tools/gen_clap --preset unfused, F32): clips/s of the HTSAT audio tower on 10 s clips, 2
# threads (goal: ours >= 1.5x torch), with the embeddings of both compared (the unfused shape's
# 1001 -> 1024 frame resize, 8-wide windows and 4 stages, which the unit test's tiny preset does
# not have); then the peak RSS of loading a CLAP and a CLIP checkpoint (tools/gen_clip
# --preset vit-b-32, F32) over the size of its weights file (goal: about 1, not 2).
#
# Usage: bash bench/clap.sh [BUILD_DIR]   Env: CLAP_BENCH_CLIPS (8), CLAP_BENCH_BATCH (8),
# CLAP_BENCH_THREADS (2: the goal's setting)
# Writes only a temporary directory (~1.2 GB of checkpoints), removed at exit. Note: ggml's
# OpenMP threads spin while they wait; on a machine busier than its cores the clips/s measure
# the contention, not the code (run it with OMP_WAIT_POLICY=passive there); the CPU seconds per
# clip of both sides are printed too, the figure such contention distorts least.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
PY=/usr/bin/python3
CLIPS=${CLAP_BENCH_CLIPS:-8}
BATCH=${CLAP_BENCH_BATCH:-8}
THREADS=${CLAP_BENCH_THREADS:-2}
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

for x in bin/gen_clap bin/gen_clip bench/bench_clap; do
    [ -x "$BUILD/$x" ] || { echo "clap.sh: no $BUILD/$x" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/mill_bench_clap.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$BUILD/bin/gen_clap" --out "$TMP/clap" --preset unfused --seed 1 >/dev/null
"$BUILD/bin/gen_clip" --out "$TMP/clip" --format open_clip --preset vit-b-32 --seed 1 >/dev/null

"$BUILD/bench/bench_clap" --model "$TMP/clap" --threads $THREADS --batch "$BATCH" \
    --clips "$CLIPS" --feats_out "$TMP/feats.f32" --emb_out "$TMP/emb.f32" >"$TMP/ours.txt"
: >"$TMP/ids.txt"
"$PY" "$ROOT/tests/reference/clap_ref.py" model "$TMP/clap" "$TMP/feats.f32" "$CLIPS" \
    "$TMP/ids.txt" "$TMP/ref.f32" --threads $THREADS --repeat 1 >"$TMP/torch.txt"
ours=$(awk '$1 == "audio_clips_per_s" {print $2}' "$TMP/ours.txt")
feats=$(awk '$1 == "features_clips_per_s" {print $2}' "$TMP/ours.txt")
torch=$(awk '/torch audio tower/ {print $4}' "$TMP/torch.txt")
ours_cpu=$(awk '$1 == "audio_cpu_s_per_clip" {print $2}' "$TMP/ours.txt")
torch_cpu=$(awk '/torch audio tower/ {print $8}' "$TMP/torch.txt")
diff=$("$PY" -c "
import numpy as np
a = np.fromfile('$TMP/emb.f32', '<f4'); r = np.fromfile('$TMP/ref.f32', '<f4')[:a.size]
print('%.1e' % np.abs(a - r).max())")

rss() { # peak RSS (kB) of loading the checkpoint in $1 (CLIP when $2 is --clip)
    /usr/bin/time -f %M -o "$TMP/rss" "$BUILD/bench/bench_clap" --model "$1" --load_only ${2:-} \
        --threads $THREADS >/dev/null && cat "$TMP/rss"
}
clap_kb=$(rss "$TMP/clap"); clip_kb=$(rss "$TMP/clip" --clip)
clap_file=$(du -k "$TMP/clap/model.safetensors" | cut -f1)
clip_file=$(du -k "$TMP/clip/open_clip_model.safetensors" | cut -f1)

echo "== CLAP (HTSAT-base + RoBERTa-base shape, F32), $CLIPS clips of 10 s, batch $BATCH, $THREADS threads"
printf "features (ours)            %8.2f clips/s\n" "$feats"
printf "audio tower, ours          %8.3f clips/s\n" "$ours"
printf "audio tower, torch         %8.3f clips/s\n" "$torch"
printf "ours / torch               %8.2f x    (goal >= 1.5)\n" "$(echo "$ours / $torch" | bc -l)"
printf "CPU s per clip, ours, torch %6.3f, %.3f (torch / ours %.2f)\n" "$ours_cpu" "$torch_cpu" \
    "$(echo "$torch_cpu / $ours_cpu" | bc -l)"
echo "embeddings, max |ours - torch|: $diff"
echo "== peak RSS while loading / weights file"
printf "clap  %7.1f MB / %7.1f MB = %.2f\n" "$(echo "$clap_kb / 1024" | bc -l)" \
    "$(echo "$clap_file / 1024" | bc -l)" "$(echo "$clap_kb / $clap_file" | bc -l)"
printf "clip  %7.1f MB / %7.1f MB = %.2f\n" "$(echo "$clip_kb / 1024" | bc -l)" \
    "$(echo "$clip_file / 1024" | bc -l)" "$(echo "$clip_kb / $clip_file" | bc -l)"
