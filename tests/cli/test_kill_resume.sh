#!/usr/bin/env bash
# test_kill_resume.sh: crash-safe resume under SIGKILL. Three jobs: on a tiny generated llama
# model mmlu_pro (0-shot CoT generation of up to 1024 tokens, 16 docs of a local MMLU-Pro
# fixture, 2 per batch) and mmlu_anatomy (5-shot log-likelihood, 48 docs, 8 per batch), and cifar10 on a tiny generated CLIP model (the clip backend, 96 images
# of a local WebDataset shard, 8 per batch, its class head cached on disk between runs); each job
# is started again and again, SIGKILLed after a random delay (bash's RANDOM, seeded; up to about
# an uninterrupted run's time: the figures vary with timing, not the checks) until 17 kills per
# job; the run after the last kill is left to complete.
# After every kill: the per-sample file holds whole JSON lines only, each doc once, whole
# batches, never fewer lines than before the run; aggregate.csv, if there, parses whole. The
# run that completes reports "N docs (X computed, Y resumed, 0 failed)" with Y = the lines on
# disk when it started and X = N - Y (nothing on disk is computed again); the final per-sample
# file and aggregate rows equal an uninterrupted run's, and no aggregate.csv.tmp.<pid> of a
# killed run is left. At least 50 kills in all; prints the figures (kills, docs kept per kill,
# what the completing runs resumed).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR
MMLU=$SRC/tests/data/mmlu/cais_mmlu
[ -d "$MMLU" ] || { echo "FAIL - no MMLU at $MMLU"; exit 1; }
mkdir -p "$tmp/mirror"; ln -s "$MMLU" "$tmp/mirror/cais_mmlu"
export MILL_LOCAL_DATASETS="$tmp/mirror"
P="$tmp/mirror/TIGER-Lab_MMLU-Pro/data"; mkdir -p "$P"
NODE_PATH=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules} node \
    "$SRC/tests/reference/write_mmlu_pro.cjs" "$P/test-00000-of-00001.parquet" 4 ||
    { echo "FAIL - write_mmlu_pro.cjs"; exit 1; }
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" --seed 5 >/dev/null 2>&1
"$BUILD/bin/gen_clip" --out "$tmp/clip" --format open_clip --preset tiny --seed 5 >/dev/null 2>&1
W="$tmp/mirror/haideraltahan_wds_cifar10/test"; mkdir -p "$W"
"$BUILD/bin/gen_wds" --out "$W/000000.tar" --n 96 --seed 1 >/dev/null 2>&1
SEED=${KILL_SEED:-2024}
RANDOM=$SEED
KILLS_PER_JOB=${KILLS_PER_JOB:-17}

# job NAME: sets the job's arguments (ARGS), task (T), file (F), doc count (N), batch (B) and
# the longest delay before a kill in ms (DMAX, about an uninterrupted run's time).
job() {
    case $1 in
    mmlu_pro) ARGS=(--limit 16 eval "llama[path=$tmp/m.gguf,batch_size=2,threads=1]" mmlu_pro
                    --batch_docs 2)
              T=mmlu_pro; F=mmlu_pro_0shot; N=16; B=2; DMAX=5000 ;;
    # flash_attn=off: the resumed run's batches hold other docs than the reference's, and flash
    # attention's log-probs follow the KV layout (to ~5e-3); without it they are exact.
    mmlu) ARGS=(--limit 48 eval "llama[path=$tmp/m.gguf,threads=1,flash_attn=off]" mmlu_anatomy
                --batch_docs 8)
          T=mmlu_anatomy; F=mmlu_anatomy_5shot; N=48; B=8; DMAX=900 ;;
    clip) ARGS=(eval "clip[path=$tmp/clip,threads=1]" cifar10 --batch_docs 8)
          T=cifar10; F=cifar10_0shot; N=96; B=8; DMAX=500 ;;
    esac
}
# lines_ok FILE N B: whole JSON lines, doc_ids distinct, whole batches (or all N); prints count.
lines_ok() { "$PY" - "$@" <<'PY'
import json, sys
path, n, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    data = open(path, "rb").read()
except FileNotFoundError:
    data = b""
assert not data or data.endswith(b"\n"), "torn last line"
ids = [json.loads(l)["doc_id"] for l in data.decode().splitlines()]
assert len(ids) == len(set(ids)), ("duplicated doc_ids", ids)
assert ids == list(range(len(ids))), ("not a prefix of the docs", ids)
assert len(ids) % b == 0 or len(ids) == n, ("not whole batches", len(ids))
print(len(ids))
PY
}
agg_ok() { [ ! -e "$1" ] || "$PY" -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == "model,benchmark,task,task_type,n_shot,metric,performance,stderr".split(","), rows[0]
assert all(len(r) == 8 for r in rows), rows' "$1"; }

total_kills=0
for name in mmlu_pro mmlu clip; do
    job "$name"
    ref="$tmp/ref-$name"
    "$MILL" --output_dir "$ref" "${ARGS[@]}" >/dev/null 2>"$ref.err"
    check "$name: uninterrupted run exits 0" "[ $? -eq 0 ]"
    kills=0 chains=0 kept_sum=0 bad_kill=0 resumed_list=""
    while [ "$kills" -lt "$KILLS_PER_JOB" ]; do
        chains=$((chains + 1))
        out="$tmp/$name-$chains"
        before=0
        while :; do
            "$MILL" --output_dir "$out" "${ARGS[@]}" >/dev/null 2>"$out.err" &
            pid=$!
            if [ "$kills" -lt "$KILLS_PER_JOB" ]; then # else: the chain's last run, not killed
                d=$((RANDOM % DMAX + 20)) # ms: kills land in loading, few-shot, batches, writes
                sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
                kill -9 "$pid" 2>/dev/null
            fi
            { wait "$pid"; rc=$?; } 2>/dev/null
            f=$(ls "$out"/outputs/*/"$F.jsonl" 2>/dev/null || echo "$out/none")
            if [ "$rc" -eq 0 ]; then break; fi   # it completed before the kill
            if [ "$rc" -ne 137 ]; then bad "$name: run exited $rc, not killed"; bad_kill=1; break; fi
            kills=$((kills + 1))
            if ! now=$(lines_ok "$f" "$N" "$B" 2>"$tmp/py.err") || [ "$now" -lt "$before" ] \
                || ! agg_ok "$out/aggregate.csv" 2>>"$tmp/py.err"; then
                bad "$name: after kill $kills: $(tail -1 "$tmp/py.err") (lines $before -> ${now:-?})"
                bad_kill=1
                break
            fi
            kept_sum=$((kept_sum + now - before))
            before=$now
        done
        [ "$bad_kill" -eq 0 ] || break
        # The run that completed: what it resumed and computed.
        line=$(grep -o "[0-9]* docs ([0-9]* computed, [0-9]* resumed, [0-9]* failed)" "$out.err" |
               tail -1)
        want="$N docs ($((N - before)) computed, $before resumed, 0 failed)"
        if ! grep -q "Cached" "$out.err" && [ "$line" != "$want" ]; then
            bad "$name chain $chains: completing run says '$line', want '$want'"
        fi
        resumed_list="$resumed_list $before"
        r=$(compare "$ref" "$out" "$F" 0 2>&1)
        [[ "$r" == max* ]] || bad "$name chain $chains: outputs differ from the uninterrupted run's: $r"
        grep ",$T," "$ref/aggregate.csv" > "$tmp/a"
        grep ",$T," "$out/aggregate.csv" > "$tmp/b"
        cmp -s "$tmp/a" "$tmp/b" || bad "$name chain $chains: aggregate rows differ"
        ! ls "$out" | grep -q 'aggregate.csv.tmp' ||
            bad "$name chain $chains: a killed run's aggregate.csv.tmp.* is left after the rerun"
    done
    total_kills=$((total_kills + kills))
    check "$name: $kills kills over $chains chains, every state on disk whole and resumable" \
        "[ $bad_kill -eq 0 ] && [ $kills -ge $KILLS_PER_JOB ]"
    # A chain whose every kill landed before any batch was written never resumed anything: the
    # check above would hold for a resume that recomputed everything. Some kill must keep docs.
    check "$name: kills kept $kept_sum docs on disk in all, resumed by the completing runs" \
        "[ $kept_sum -gt 0 ] && [ \"\$(echo $resumed_list | tr ' ' '\n' | sort -n | tail -1)\" -gt 0 ]"
    echo "# $name: $kills kills survived; docs kept per kill $(awk -v k=$kept_sum -v n=$kills \
'BEGIN{printf "%.2f", n ? k / n : 0}') (batch $B); completing runs resumed [$resumed_list ] of $N \
and computed only the rest"
done
check "at least 50 kills in all ($total_kills), each resumed to completion equal to the uninterrupted runs" \
    "[ $total_kills -ge 50 ] && [ $fail -eq 0 ]"
finish
