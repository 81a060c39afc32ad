#!/usr/bin/env bash
# audio_lm.sh: clotho_aqa through the llama backend's audio (libmtmd) on a generated random-weight
# audio LM of a small realistic shape: a language model with the Qwen2 vocabulary (F16, 8 layers,
# n_embd 512, GQA 8/2, n_ff 2048) and a Whisper-base-sized qwen2a projector (6 layers, 512 wide,
# 8 heads, n_ff 2048, 128 mel bins: 750 audio tokens per clip of up to 30 s).
#
#   bash bench/audio_lm.sh [BUILD_DIR]        (default: the checkout's build/)
#
# Three ways over the same MILL_BENCH_ALM_N spoken clips (espeak-ng, 16 kHz mono WAV, 2-4 s, in a
# Parquet file in lmms-lab/ClothoAQA's layout), each greedy to clotho_aqa's 8 new tokens:
#   b8   mill eval, batch_size=8: 8 clips in flight, generation steps shared (continuous
#        batching), each clip's prompt prefilled in its own sequence;
#   b1   mill eval, batch_size=1: one clip at a time;
#   cli  llama-mtmd-cli --audio once per clip with the same prompt (what a user would script).
# Each round runs the three back to back; printed: clips/s of each, the ratios b8/b1 and b8/cli
# per round and their medians, and mill's harness share (job seconds outside llama_decode, the
# projector's encoder and the model load, from the provenance file).
# Environment: MILL_LLAMA_PREFIX, MILL_BENCH_ALM_N (8), MILL_BENCH_REPS (3), MILL_BENCH_THREADS
# (2), MILL_BENCH_KEEP=1 keeps the work dir. The model is cached in $HOME/.cache/mill/bench.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "audio_lm.sh: no build dir" >&2; exit 2; }
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
CACHE=$HOME/.cache/mill/bench
N=${MILL_BENCH_ALM_N:-8}
REPS=${MILL_BENCH_REPS:-3}
THREADS=${MILL_BENCH_THREADS:-2}
PY=/usr/bin/python3
MILL=$BUILD/bin/mill
CLI=$PREFIX/bin/llama-mtmd-cli
for x in "$MILL" "$BUILD/bin/gen_llama" "$CLI" "$(command -v espeak-ng)" "$(command -v sox)"; do
    [ -x "$x" ] || { echo "audio_lm.sh: $x missing (make build; scripts/deps.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
[ "${MILL_BENCH_KEEP:-0}" = 1 ] && echo "work dir: $work" || trap 'rm -rf "$work"' EXIT

M=$CACHE/alm-small
if [ ! -f "$M/.done" ]; then
    mkdir -p "$M"
    echo "generating the model (once) in $M"
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
        --out "$M/alm.gguf" --type f16 --n_embd 512 --n_layer 8 --n_head 8 --n_head_kv 2 \
        --n_ff 2048 --n_ctx 8192 --chat_template chatml --amproj "$M/mmproj-alm-F32.gguf" \
        --a_embd 512 --a_layer 6 --a_head 8 --a_ff 2048 --n_mel 128 >/dev/null || exit 1
    touch "$M/.done"
fi

"$PY" - "$work" "$N" <<'PY' || exit 1
import json, subprocess, sys
work, n = sys.argv[1], int(sys.argv[2])
say = ["Is a dog barking near the river?", "The rain falls softly on the old tin roof.",
       "Three birds are singing in the morning.", "A car passes by on a wet street.",
       "Someone is knocking on a wooden door.", "The wind blows through the tall trees.",
       "Is there music playing in the next room?", "A clock is ticking on the wall."]
with open(f"{work}/rows.jsonl", "w") as f, open(f"{work}/peer.jsonl", "w") as p:
    for i in range(n):
        raw, clip = f"{work}/raw{i}.wav", f"{work}/clip{i}.wav"
        subprocess.run(["espeak-ng", "-s", str(140 + 10 * (i % 5)), "-w", raw, say[i % len(say)]],
                       check=True)
        subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", clip], check=True)
        q = "What do you hear?"
        f.write(json.dumps({"file_name": f"clip{i}.wav", "question": q, "answer": "speech",
                            "audio": {"file": clip, "path": f"clip{i}.wav"}}) + "\n")
        p.write(json.dumps({"clip": clip, "prompt": q + " Answer the question using a single word only."}) + "\n")
PY
D=$work/mirror/lmms-lab_ClothoAQA/clotho_aqa
mkdir -p "$D"
NODE_PATH="$NODE_MODULES" node "$ROOT/tests/reference/write_audio_parquet.cjs" clotho \
    "$work/rows.jsonl" "$D/clotho_aqa_test_filtered-00000-of-00001.parquet" || exit 1
# The cache persists, as a user's does: a model's sha256 is computed once, not per run.
export MILL_LOCAL_DATASETS=$work/mirror MILL_CACHE_DIR=$CACHE/mill-cache

now() { date +%s.%N; }
run_mill() { # OUT BATCH -> seconds
    local t0 t1
    t0=$(now)
    "$MILL" --output_dir "$work/$1" eval \
        "llama[path=$M/alm.gguf,batch_size=$2,threads=$THREADS]" clotho_aqa \
        >/dev/null 2>"$work/$1.err" || { tail -3 "$work/$1.err" >&2; return 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc
}
run_cli() { # -> seconds for every clip, one process each
    local t0 t1 clip prompt
    t0=$(now)
    while IFS=$'\t' read -r clip prompt; do
        "$CLI" -m "$M/alm.gguf" --mmproj "$M/mmproj-alm-F32.gguf" --audio "$clip" \
            -p "<__media__>$prompt" -n 8 --temp 0 -t "$THREADS" >/dev/null 2>&1 || return 1
    done < <("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["clip"] + "\t" + r["prompt"])' "$work/peer.jsonl")
    t1=$(now)
    echo "$t1 - $t0" | bc
}

run_mill warm 8 >/dev/null || exit 1 # the model's pages into the page cache, untimed
echo "audio_lm.sh: $N clips, $REPS rounds, $THREADS threads; $(nproc) CPUs; $(date -u +%FT%TZ)"
printf '%-6s %10s %10s %10s %9s %9s %9s\n' round b8_clip/s b1_clip/s cli_clip/s b8/b1 b8/cli harness
for r in $(seq 1 "$REPS"); do
    rm -rf "$work"/b8 "$work"/b1
    s8=$(run_mill b8 8) && s1=$(run_mill b1 1) && sc=$(run_cli) || exit 1
    h=$("$PY" - "$work"/b8/outputs/*/clotho_aqa_0shot.json <<'PY'
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
