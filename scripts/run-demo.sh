#!/usr/bin/env bash
# run-demo.sh: what `make run` shows: real mill commands on what this checkout can evaluate
# offline: a generated random-weight GGUF model (tools/gen_llama, Qwen2 tokenizer) on a sample
# of the real MMLU in the Hub's layout (data/sample, read as a local copy of cais/mmlu), and a
# generated random-weight CLIP on synthetic images in the Hub's WebDataset layout, and a
# generated random-weight vision-language model (a llava-style projector beside the GGUF) on the
# same images as cifar10_mcq. The weights are random, so the scores are chance-level: they show
# the machinery, not a model.
set -euo pipefail
BUILD=${1:-build}
MILL="$BUILD/bin/mill"
OUT=${MILL_DEMO_DIR:-$BUILD/demo}
PREFIX=$(cat "$BUILD/.deps-prefix")
rm -rf "$OUT"; mkdir -p "$OUT"
export MILL_LOCAL_DATASETS="$PWD/data/sample"
SUBJECTS=mmlu_abstract_algebra,mmlu_high_school_geography,mmlu_marketing,mmlu_world_religions

echo "== mill ls --plain (first lines)"
"$MILL" ls --plain | sed -n 1,8p
echo
echo "== generating a random-weight model (Qwen2 tokenizer, 4 layers): $OUT/random-qwen2.gguf"
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
    --out "$OUT/random-qwen2.gguf" --n_embd 128 --n_layer 4 --n_head 4 --n_head_kv 2 \
    --n_ff 256 --seed 42 >/dev/null
echo
echo "== the first prompt the model gets (mill prompts)"
"$MILL" prompts mmlu_marketing --limit 1 | cut -c 1-600; echo "..."
echo
echo "== mill eval (5-shot log-likelihood on 4 MMLU subjects, 12 questions each)"
echo "   NOTE: random weights: expect scores near chance (0.25)."
"$MILL" --output_dir "$OUT" eval "llama[path=$OUT/random-qwen2.gguf]" "$SUBJECTS"
echo
echo "== CLIP zero-shot: a random-weight CLIP checkpoint (tools/gen_clip) on a synthetic"
echo "   WebDataset shard in the layout of haideraltahan/wds_cifar10 (tools/gen_wds)"
WDS="$OUT/hub/haideraltahan_wds_cifar10/test"
mkdir -p "$WDS"
"$BUILD/bin/gen_wds" --out "$WDS/000000.tar" --n 40 --seed 7
"$BUILD/bin/gen_clip" --out "$OUT/random-clip" --format open_clip --preset tiny --seed 7 >/dev/null
MILL_LOCAL_DATASETS="$OUT/hub" MILL_CACHE_DIR="$OUT/cache" \
    "$MILL" --output_dir "$OUT" eval "clip[path=$OUT/random-clip]" cifar10
echo
echo "== a random-weight VLM (tools/gen_llama --mmproj: a llava-style projector beside the model)"
echo "   on the same shard: the cifar10 benchmark picks cifar10_mcq for it (Mill's pick by model)"
echo "   NOTE: random weights: the answers are noise, the score chance-level (about 0.1)."
mkdir -p "$OUT/random-vlm"
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
    --out "$OUT/random-vlm/vlm.gguf" --n_embd 128 --n_layer 4 --n_head 4 --n_head_kv 2 \
    --n_ff 256 --seed 42 --chat_template chatml --mmproj "$OUT/random-vlm/mmproj-vlm.gguf" \
    >/dev/null
MILL_LOCAL_DATASETS="$OUT/hub" MILL_CACHE_DIR="$OUT/cache" \
    "$MILL" --output_dir "$OUT" --limit 16 eval "llama[path=$OUT/random-vlm/vlm.gguf]" cifar10
echo
echo "== mill collect"
"$MILL" --output_dir "$OUT" collect --metric acc
echo
echo "== mill collect --metric cifar10_mcq_acc (Mill stores the VLM's cifar10 row under it)"
"$MILL" --output_dir "$OUT" collect --metric cifar10_mcq_acc
