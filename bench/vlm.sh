#!/usr/bin/env bash
# vlm.sh: cifar10_mcq through the llama backend's images (libmtmd) on a generated random-weight
# VLM of a realistic small shape: a Qwen2.5-0.5B-shaped language model (F16, 24 layers, n_embd
# 896, Qwen2 vocabulary) with a ViT-B/16-sized llava projector (12 layers, 768 wide, 224 px:
# 196 image tokens per image).
#
#   bash bench/vlm.sh [BUILD_DIR]        (default: the checkout's build/)
#
# Three ways over the same MILL_BENCH_VLM_N CIFAR-like images (tools/gen_wds, 32x32 WebP in
# haideraltahan/wds_cifar10's layout), each greedy to 32 new tokens:
#   b8   mill eval, batch_size=8: 8 images in flight, generation steps shared (continuous
#        batching), each image's prompt prefilled in its own sequence;
#   b1   mill eval, batch_size=1: one image at a time;
#   cli  llama-mtmd-cli once per image with the same prompt (what a user would script today;
#        the images converted to PNG with Pillow, the same pixels).
# Each round runs the three back to back; printed: images/s of each, the ratios b8/b1 and
# b8/cli per round and their medians, and mill's harness share (job seconds outside
# llama_decode, the projector's encoder and the model load, from the provenance file).
# MILL_BENCH_VLM_AHEAD=1 measures instead the encoder overlapped with generation: b8 with
# encode_ahead=off and =on, MILL_BENCH_VLM_DOCS (8) docs per batch, so each batch's images are
# encoded while the previous batch generates (the per-sample files must be equal); printed:
# seconds of each, the ratio off/on, and the encoder seconds of the job.
# Environment: MILL_LLAMA_PREFIX, MILL_BENCH_VLM_N (8), MILL_BENCH_REPS (3), MILL_BENCH_THREADS
# (2), MILL_BENCH_ARGS (more llama backend arguments for mill, e.g. n_gpu_layers=0),
# MILL_BENCH_CLI_ARGS (more llama-mtmd-cli arguments, e.g. -ngl 999), MILL_BENCH_PY (a Python
# with Pillow, /usr/bin/python3), MILL_BENCH_KEEP=1 keeps the work dir. The model is cached in $HOME/.cache/mill/bench.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "vlm.sh: no build dir" >&2; exit 2; }
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
CACHE=$HOME/.cache/mill/bench
N=${MILL_BENCH_VLM_N:-8}
REPS=${MILL_BENCH_REPS:-3}
THREADS=${MILL_BENCH_THREADS:-2}
PY=${MILL_BENCH_PY:-/usr/bin/python3}
MORE=${MILL_BENCH_ARGS:+,$MILL_BENCH_ARGS}
CLI_ARGS=(${MILL_BENCH_CLI_ARGS:-})
MILL=$BUILD/bin/mill
CLI=$PREFIX/bin/llama-mtmd-cli
for x in "$MILL" "$BUILD/bin/gen_llama" "$BUILD/bin/gen_wds" "$CLI"; do
    [ -x "$x" ] || { echo "vlm.sh: $x missing (make build; scripts/deps.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
[ "${MILL_BENCH_KEEP:-0}" = 1 ] && echo "work dir: $work" || trap 'rm -rf "$work"' EXIT

M=$CACHE/vlm-0.5b
if [ ! -f "$M/.done" ]; then
    mkdir -p "$M"
    echo "generating the model (once) in $M"
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
        --out "$M/vlm.gguf" --type f16 --n_embd 896 --n_layer 24 --n_head 14 --n_head_kv 2 \
        --n_ff 4864 --n_ctx 32768 --chat_template chatml --mmproj "$M/mmproj-vlm-F32.gguf" \
        --v_embd 768 --v_layer 12 --v_head 12 --v_ff 3072 --image_size 224 --patch_size 16 \
        >/dev/null || exit 1
    touch "$M/.done"
fi

D=$work/mirror/haideraltahan_wds_cifar10/test
mkdir -p "$D"
"$BUILD/bin/gen_wds" --out "$D/000000.tar" --n "$N" --seed 1 >/dev/null || exit 1
# The cache persists, as a user's does: a model's sha256 is computed once, not per run.
export MILL_LOCAL_DATASETS=$work/mirror MILL_CACHE_DIR=$CACHE/mill-cache
"$MILL" prompts cifar10_mcq >"$work/prompts.jsonl" 2>/dev/null || exit 1
"$PY" - "$D/000000.tar" "$work" <<'PY' || exit 1
import io, sys, tarfile
from PIL import Image
with tarfile.open(sys.argv[1]) as t:
    keys = []
    for m in t.getmembers():
        if m.name.endswith(".webp"):
            Image.open(io.BytesIO(t.extractfile(m).read())).save(f"{sys.argv[2]}/{len(keys)}.png")
            keys.append(m.name)
PY

now() { date +%s.%N; }
run_mill() { # OUT BATCH [SPEC_ARGS [EVAL_ARGS...]] -> seconds
    local t0 t1 out=$1 b=$2 more=${3:-}
    shift 3 2>/dev/null || shift $#
    t0=$(now)
    "$MILL" --output_dir "$work/$out" eval \
        "llama[path=$M/vlm.gguf,batch_size=$b,threads=$THREADS$MORE$more]" cifar10_mcq "$@" \
        >/dev/null 2>"$work/$out.err" || { tail -3 "$work/$out.err" >&2; return 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
run_cli() { # -> seconds for every image, one process each
    local t0 t1 i=0
    t0=$(now)
    while IFS= read -r line; do
        ctx=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["context"], end="")' "$line")
        "$CLI" -m "$M/vlm.gguf" --mmproj "$M/mmproj-vlm-F32.gguf" --image "$work/$i.png" \
            -p "<__media__>$ctx" -n 32 --temp 0 -t "$THREADS" "${CLI_ARGS[@]}" >/dev/null 2>&1 ||
            return 1
        i=$((i + 1))
    done <"$work/prompts.jsonl"
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

run_mill warm 8 >/dev/null || exit 1 # the model's pages into the page cache, untimed
if [ "${MILL_BENCH_VLM_AHEAD:-0}" = 1 ]; then
    DOCS=${MILL_BENCH_VLM_DOCS:-8}
    echo "vlm.sh ahead: $N images, $DOCS per batch, $REPS rounds, $THREADS threads; $(nproc) CPUs"
    printf '%-6s %10s %10s %9s %10s %10s\n' round off_s on_s off/on enc_off_s enc_on_s
    enc() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["media_encode_seconds"])' \
        "$work"/$1/outputs/*/cifar10_mcq_0shot.json; }
    for r in $(seq 1 "$REPS"); do
        rm -rf "$work"/off "$work"/on
        so=$(run_mill off 8 ,encode_ahead=off --batch_docs "$DOCS") &&
            sn=$(run_mill on 8 ,encode_ahead=on --batch_docs "$DOCS") || exit 1
        cmp -s "$work"/off/outputs/*/cifar10_mcq_0shot.jsonl "$work"/on/outputs/*/cifar10_mcq_0shot.jsonl ||
            { echo "vlm.sh: per-sample files differ between encode_ahead off and on" >&2; exit 1; }
        echo "$r $so $sn" >>"$work/ahead"
        printf '%-6s %10.2f %10.2f %9.3f %10s %10s\n' "$r" "$so" "$sn" "$(awk -v a="$so" -v b="$sn" 'BEGIN { print a / b }')" \
            "$(enc off)" "$(enc on)"
    done
    "$PY" -c 'import statistics,sys; r=[l.split() for l in open(sys.argv[1])]
print("median off/on %.3f (%d rounds)" % (statistics.median(float(a[1])/float(a[2]) for a in r), len(r)))' \
        "$work/ahead"
    exit 0
fi
echo "vlm.sh: $N images, $REPS rounds, $THREADS threads; $(nproc) CPUs; $(date -u +%FT%TZ)"
printf '%-6s %10s %10s %10s %9s %9s %9s\n' round b8_img/s b1_img/s cli_img/s b8/b1 b8/cli harness
for r in $(seq 1 "$REPS"); do
    rm -rf "$work"/b8 "$work"/b1
    s8=$(run_mill b8 8) && s1=$(run_mill b1 1) && sc=$(run_cli) || exit 1
    h=$("$PY" - "$work"/b8/outputs/*/cifar10_mcq_0shot.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
inside = d["decode_seconds"] + d["media_encode_seconds"] + d["model_load_seconds"]
print("%.1f%%" % (100 * (d["seconds"] - inside) / d["seconds"]))
PY
)
    echo "$r $s8 $s1 $sc $h" >>"$work/rounds"
    awk -v n="$N" '{printf "%-6s %10.3f %10.3f %10.3f %9.2f %9.2f %9s\n", $1, n/$2, n/$3, n/$4, $3/$2, $4/$2, $5}' \
        <<<"$r $s8 $s1 $sc $h"
done
"$PY" - "$work/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a = [float(r[2]) / float(r[1]) for r in rows]
b = [float(r[3]) / float(r[1]) for r in rows]
print("median   b8/b1 %.2f   b8/cli %.2f   (%d rounds)" % (statistics.median(a),
                                                         statistics.median(b), len(rows)))
PY
