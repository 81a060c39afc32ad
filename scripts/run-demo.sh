#!/usr/bin/env bash
# run-demo.sh: what `make run` shows: real mill commands on what this checkout can evaluate
# offline: a generated random-weight GGUF model (tools/gen_llama, Qwen2 tokenizer) on a sample
# of the real MMLU in the Hub's layout (data/sample, read as a local copy of cais/mmlu). The
# weights are random, so the scores are chance-level: they show the machinery, not a model.
set -euo pipefail
BUILD=${1:-build}
MILL="$BUILD/bin/mill"
OUT=${MILL_DEMO_DIR:-$BUILD/demo}
PREFIX=$(cat "$BUILD/.deps-prefix")
rm -rf "$OUT"; mkdir -p "$OUT"
export MILL_LOCAL_DATASETS="$PWD/data/sample"
SUBJECTS=mmlu_abstract_algebra,mmlu_high_school_geography,mmlu_marketing,mmlu_world_religions

echo "== mill ls --plain (first lines)"
"$MILL" ls --plain | head -n 8
echo
echo "== generating a random-weight model (Qwen2 tokenizer, 4 layers): $OUT/random-qwen2.gguf"
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
    --out "$OUT/random-qwen2.gguf" --n_embd 128 --n_layer 4 --n_head 4 --n_head_kv 2 \
    --n_ff 256 --seed 42 >/dev/null
echo
echo "== the first prompt the model gets (mill prompts)"
"$MILL" prompts mmlu_marketing --limit 1 | head -c 600; echo "..."
echo
echo "== mill eval (5-shot log-likelihood on 4 MMLU subjects, 12 questions each)"
echo "   NOTE: random weights: expect scores near chance (0.25)."
"$MILL" --output_dir "$OUT" eval "llama[path=$OUT/random-qwen2.gguf]" "$SUBJECTS"
echo
echo "== mill collect"
"$MILL" --output_dir "$OUT" collect --metric acc
