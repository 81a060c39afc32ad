#!/usr/bin/env bash
# mmlu_harness.sh: how much of an MMLU run is the harness (job time outside llama_decode and the
# model load), and what a llama backend setting is worth end to end: variants of the same run
# (by default lm-eval's (context, continuation) pairs tokenised from shared pieces,
# tokenize=pieces, against every text tokenised whole, tokenize=whole) on a generated
# random-weight model, 5-shot, real cais/mmlu questions (tests/data/mmlu). Two shapes:
#   40m  the 40M-parameter shape of `make run` (Qwen2 vocabulary of 151k tokens, n_embd 128,
#        4 layers, F16): decoding is fast, so the harness shows (the default);
#   0.6b Qwen3-0.6B's shape (28 layers, n_embd 1024, F16), cached in $HOME/.cache/mill/bench.
#
#   bash bench/mmlu_harness.sh [BUILD_DIR]
#
# Each round runs every variant back to back; printed per run: job seconds, seconds inside
# llama_decode, the harness share, tokens decoded and tokens/s inside llama_decode, seconds and
# bytes in llama_tokenize; then, for every variant after the first, the ratio first/variant of
# job seconds per round and their median (> 1: the variant is faster). Every variant's
# per-sample files are compared with the first's: same predictions, log-probabilities within
# MILL_BENCH_TOL (0: identical) — the largest difference is printed.
# Environment: MILL_BENCH_SHAPE (40m or 0.6b), MILL_BENCH_VARIANTS (space-separated NAME=ARGS,
# ARGS a comma list of llama backend arguments and MILL_*=VALUE environment settings, default
# "pieces=tokenize=pieces whole=tokenize=whole"; e.g. "off=flash_attn=off on=flash_attn=on",
# "piped=MILL_PIPELINE=1 serial=MILL_PIPELINE=0"),
# MILL_BENCH_TOL (0), MILL_BENCH_MMLU_TASKS (default: five subjects, 3,239 questions including
# the long professional_law contexts; a comma list of mmlu_<subject> tasks, or mmlu for all 57),
# MILL_BENCH_LIMIT (questions per subject, 200; 0 = all), MILL_BENCH_REPS (3),
# MILL_BENCH_THREADS (2), MILL_BENCH_WARM_LIMIT (questions per subject of the untimed first run
# that brings the model into the page cache; default LIMIT), MILL_BENCH_PY (/usr/bin/python3),
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
SHAPE=${MILL_BENCH_SHAPE:-40m}
VARIANTS=(${MILL_BENCH_VARIANTS:-pieces=tokenize=pieces whole=tokenize=whole})
TOL=${MILL_BENCH_TOL:-0}
PY=${MILL_BENCH_PY:-/usr/bin/python3}
work=$(mktemp -d)
[ "${MILL_BENCH_KEEP:-0}" = 1 ] && echo "work dir: $work" || trap 'rm -rf "$work"' EXIT
export MILL_LOCAL_DATASETS=$ROOT/tests/data/mmlu MILL_CACHE_DIR=$work/cache
[ ${#VARIANTS[@]} -ge 1 ] || { echo "mmlu_harness.sh: no variants" >&2; exit 2; }
case $SHAPE in
40m) M=$work/m40.gguf
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$M" \
        --n_embd 128 --n_layer 4 --n_head 4 --n_head_kv 2 --n_ff 256 --type f16 --seed 42 \
        >/dev/null || exit 1 ;;
0.6b) M=$HOME/.cache/mill/bench/qwen3-0.6b-shape.gguf # the model bench/llama.sh makes
    if [ ! -s "$M" ]; then
        mkdir -p "$(dirname "$M")"
        "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
            --out "$M.tmp.gguf" --n_embd 1024 --n_layer 28 --n_head 16 --n_head_kv 8 \
            --n_ff 3072 --type f16 >/dev/null && mv "$M.tmp.gguf" "$M" || exit 1
    fi ;;
*) echo "mmlu_harness.sh: MILL_BENCH_SHAPE must be 40m or 0.6b" >&2; exit 2 ;;
esac

run() { # NAME ARGS [LIMIT]: backend arguments, and MILL_*=V items set in mill's environment
    rm -rf "$work/$1"
    local lim=() env=() args= a n=${3:-$LIMIT}
    [ "$n" -gt 0 ] && lim=(--limit "$n")
    for a in ${2//,/ }; do
        case $a in MILL_*=*) env+=("$a") ;; *) args+=",$a" ;; esac
    done
    env "${env[@]}" "$BUILD/bin/mill" --output_dir "$work/$1" "${lim[@]}" eval \
        "llama[path=$M,threads=$THREADS$args]" "$TASKS" >/dev/null 2>"$work/$1.err" ||
        { tail -3 "$work/$1.err" >&2; return 1; }
}
summary() { # NAME -> "job decode harness% tokens tok/s tok_s tok_MB"
    "$PY" - "$work/$1" <<'PY'
import glob, json, sys
job = dec = load = tok = mb = n = 0.0
for f in glob.glob(sys.argv[1] + "/outputs/*/*.json"):
    d = json.load(open(f))
    job += d["seconds"]; dec += d["decode_seconds"]; load += d["model_load_seconds"]
    n += d.get("tokens_decoded", 0)
    tok += d.get("tokenize_seconds", 0); mb += d.get("tokenized_bytes", 0) / 1e6
print("%.2f %.2f %.1f %d %.0f %.2f %.1f" % (job, dec, 100 * (job - dec - load) / job, n,
                                           n / dec if dec else 0, tok, mb))
PY
}

echo "mmlu_harness.sh: $SHAPE model, $TASKS (limit $LIMIT); $REPS rounds, $THREADS threads;" \
     "variants ${VARIANTS[*]}; $(nproc) CPUs; $(date -u +%FT%TZ)"
run warm "${VARIANTS[0]#*=}" "${MILL_BENCH_WARM_LIMIT:-$LIMIT}" || exit 1 # page cache, untimed
printf '%-6s %-10s %9s %9s %8s %9s %7s %7s %7s\n' round variant job_s decode_s harness tokens tok/s tok_s tok_MB
first=${VARIANTS[0]%%=*}
for r in $(seq 1 "$REPS"); do
    for v in "${VARIANTS[@]}"; do run "${v%%=*}" "${v#*=}" || exit 1; done
    for v in "${VARIANTS[@]}"; do
        k=${v%%=*}
        read -r job dec h n tps tok mb <<<"$(summary "$k")"
        printf '%-6s %-10s %9s %9s %7s%% %9s %7s %7s %7s\n' "$r" "$k" "$job" "$dec" "$h" "$n" "$tps" "$tok" "$mb"
        echo "$r $k $job" >>"$work/rounds"
        [ "$k" = "$first" ] && continue
        worst=0
        for t in $(ls "$work/$first/outputs/"*/ | sed -n 's/\.jsonl$//p'); do
            "$PY" "$ROOT/tests/cli/compare_samples.py" "$work/$first" "$work/$k" "$t" "$TOL" \
                >"$work/cmp" 2>&1 || { echo "$k differs from $first on $t:"; tail -5 "$work/cmp"; exit 1; }
            worst=$("$PY" -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2].split()[-1])))' \
                "$worst" "$(grep 'max diff' "$work/cmp")")
        done
        echo "       $k vs $first: same predictions, largest log-prob difference $worst"
    done
done
"$PY" - "$work/rounds" "$first" <<'PY'
import statistics, sys
rows, first = {}, sys.argv[2]
for l in open(sys.argv[1]):
    r, k, s = l.split()
    rows.setdefault(k, {})[r] = float(s)
for k, v in rows.items():
    if k == first:
        continue
    ratios = [rows[first][r] / v[r] for r in v]
    print("median job-time ratio %s/%s %.2f over %d rounds (%s)" % (
        first, k, statistics.median(ratios), len(ratios), ", ".join("%.2f" % x for x in ratios)))
PY
