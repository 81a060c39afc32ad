#!/usr/bin/env bash
# mmlu_harness.sh: how much of an MMLU run is the harness, with lm-eval's (context,
# continuation) pairs tokenised from shared pieces (the default, tokenize=pieces) against every
# text tokenised whole (tokenize=whole: what the backend did before, and what lm-eval does), on
# a generated random-weight model small enough that decoding is fast and the harness shows:
# the 40M-parameter shape of `make run` (Qwen2 vocabulary of 151k tokens, n_embd 128, 4 layers,
# F16), 5-shot, real cais/mmlu questions (tests/data/mmlu).
#
#   bash bench/mmlu_harness.sh [BUILD_DIR]
#
# Each round runs both back to back; printed per run: job seconds, seconds inside llama_decode,
# the harness share (job seconds outside llama_decode and the model load), seconds and bytes in
# llama_tokenize; then the ratios pieces/whole of job seconds per round and their median. The
# two runs must write the same predictions and log-probs (their per-sample files are compared).
# Environment: MILL_BENCH_MMLU_TASKS (default: five subjects, 3,239 questions including the long
# professional_law contexts; a comma list of mmlu_<subject> tasks), MILL_BENCH_LIMIT (questions
# per subject, 200; 0 = all), MILL_BENCH_REPS (3), MILL_BENCH_THREADS (2),
# MILL_BENCH_KEEP=1 keeps the work dir.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "mmlu_harness.sh: no build dir" >&2; exit 2; }
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
TASKS=${MILL_BENCH_MMLU_TASKS:-mmlu_professional_law,mmlu_moral_scenarios,mmlu_marketing,mmlu_high_school_geography,mmlu_elementary_mathematics}
REPS=${MILL_BENCH_REPS:-3}
LIMIT=${MILL_BENCH_LIMIT:-200}
THREADS=${MILL_BENCH_THREADS:-2}
PY=/usr/bin/python3
work=$(mktemp -d)
[ "${MILL_BENCH_KEEP:-0}" = 1 ] && echo "work dir: $work" || trap 'rm -rf "$work"' EXIT
export MILL_LOCAL_DATASETS=$ROOT/tests/data/mmlu MILL_CACHE_DIR=$work/cache
M=$work/m40.gguf
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$M" \
    --n_embd 128 --n_layer 4 --n_head 4 --n_head_kv 2 --n_ff 256 --type f16 --seed 42 \
    >/dev/null || exit 1

run() { # NAME TOKENIZE
    rm -rf "$work/$1"
    local lim=()
    [ "$LIMIT" -gt 0 ] && lim=(--limit "$LIMIT")
    "$BUILD/bin/mill" --output_dir "$work/$1" "${lim[@]}" eval \
        "llama[path=$M,threads=$THREADS,tokenize=$2]" "$TASKS" >/dev/null 2>"$work/$1.err" ||
        { tail -3 "$work/$1.err" >&2; return 1; }
}
summary() { # NAME -> "job decode harness% tok_s tok_MB"
    "$PY" - "$work/$1" <<'PY'
import glob, json, sys
job = dec = load = tok = mb = 0.0
for f in glob.glob(sys.argv[1] + "/outputs/*/*.json"):
    d = json.load(open(f))
    job += d["seconds"]; dec += d["decode_seconds"]; load += d["model_load_seconds"]
    tok += d.get("tokenize_seconds", 0); mb += d.get("tokenized_bytes", 0) / 1e6
print("%.2f %.2f %.1f %.2f %.1f" % (job, dec, 100 * (job - dec - load) / job, tok, mb))
PY
}

echo "mmlu_harness.sh: $TASKS (limit $LIMIT); $REPS rounds, $THREADS threads; $(nproc) CPUs; $(date -u +%FT%TZ)"
run warm pieces || exit 1 # page cache, untimed
printf '%-6s %-7s %9s %9s %9s %9s %9s\n' round tokens job_s decode_s harness tok_s tok_MB
for r in $(seq 1 "$REPS"); do
    run pieces pieces && run whole whole || exit 1
    for k in pieces whole; do
        read -r job dec h tok mb <<<"$(summary $k)"
        printf '%-6s %-7s %9s %9s %8s%% %9s %9s\n' "$r" "$k" "$job" "$dec" "$h" "$tok" "$mb"
        echo "$r $k $job" >>"$work/rounds"
    done
    for t in ${TASKS//,/ }; do
        "$PY" "$ROOT/tests/cli/compare_samples.py" "$work/pieces" "$work/whole" "${t}_5shot" 0 \
            >"$work/cmp" 2>&1 || { echo "the two runs differ on $t:"; tail -5 "$work/cmp"; exit 1; }
    done
done
"$PY" - "$work/rounds" <<'PY'
import statistics, sys
rows = {}
for l in open(sys.argv[1]):
    r, k, s = l.split()
    rows.setdefault(r, {})[k] = float(s)
ratios = [v["whole"] / v["pieces"] for v in rows.values()]
print("median job-time ratio whole/pieces %.2f over %d rounds (%s)" % (
    statistics.median(ratios), len(ratios), ", ".join("%.2f" % x for x in ratios)))
PY
