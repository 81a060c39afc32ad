#!/usr/bin/env bash
# test_mmlu.sh: MMLU on the real data (tests/data/mmlu, the Hub's cais/mmlu layout, read
# through MILL_LOCAL_DATASETS): golden prompts byte for byte against an independent Python
# construction from DuckDB's reading of the same Parquet files (several subjects and seeds);
# then `mill eval` of a generated model on the `mmlu` benchmark with --limit: 57 leaf rows plus
# the unweighted-mean rollup row in aggregate.csv, Mill's score table, and collect.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
MMLU=$SRC/tests/data/mmlu/cais_mmlu
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

[ -d "$MMLU" ] || { echo "FAIL - no MMLU at $MMLU"; exit 1; }
mkdir -p "$tmp/mirror"; ln -s "$MMLU" "$tmp/mirror/cais_mmlu"
export MILL_LOCAL_DATASETS="$tmp/mirror"

# A fourth number is --n_shot: more shots than the dev split's 5 uses all 5, shuffled (Python
# Mill's rng.sample(docs, min(n, len(docs)))).
for case in "anatomy 5 42" "high_school_european_history 3 42" "moral_scenarios 4 7" \
            "abstract_algebra 6 1234" "astronomy 2 42 9"; do
    set -- $case
    shot=${4:-5}
    d="$MMLU/$1"
    NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/parquet_to_json.cjs" \
        "$d/dev-00000-of-00001.parquet" > "$tmp/dev.json" &&
    NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/parquet_to_json.cjs" \
        "$d/test-00000-of-00001.parquet" > "$tmp/test.json" &&
    "$PY" "$SRC/tests/reference/mmlu_prompts.py" "$1" "$tmp/dev.json" "$tmp/test.json" "$2" "$3" "$shot" \
        > "$tmp/want.jsonl"
    "$MILL" prompts "mmlu_$1" --limit "$2" --seed "$3" --n_shot "$shot" > "$tmp/got.jsonl" 2>"$tmp/stderr"
    check "golden prompts: mmlu_$1, $2 docs, seed $3, $shot shots" \
        "[ -s '$tmp/want.jsonl' ] && cmp -s '$tmp/want.jsonl' '$tmp/got.jsonl' || { diff <(head -c 3000 '$tmp/want.jsonl') <(head -c 3000 '$tmp/got.jsonl') | head -20; false; }"
done
check "9 shots asked of a dev split of 5: a warning, and all 5 used" \
    "grep -q '9 shots requested but split .dev. has 5 docs: all 5 are used' '$tmp/stderr'"
"$MILL" prompts mmlu_anatomy --limit 1 > "$tmp/got.jsonl" 2>/dev/null
check "a 5-shot MMLU prompt has 6 headers" \
    "[ \$(head -1 '$tmp/got.jsonl' | grep -o 'The following are multiple choice' | wc -l) -eq 6 ]"

check "a task named twice prints its prompts once" \
    "[ \$('$MILL' prompts mmlu_anatomy,mmlu_anatomy --limit 1 2>/dev/null | wc -l) -eq 1 ]"

"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" --seed 3 >/dev/null 2>&1
"$MILL" --output_dir "$tmp/out" --limit 2 eval "llama[path=$tmp/m.gguf]" mmlu \
    >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "mmlu --limit 2 on a generated model exits 0" "[ $rc -eq 0 ] || { tail -5 '$tmp/stderr'; false; }"
check "aggregate.csv: 57 leaf rows with benchmark mmlu + 1 rollup row" \
    "[ \$(grep -c ',mmlu,mmlu_' '$tmp/out/aggregate.csv') -eq 57 ] && [ \$(grep -c ',mmlu,mmlu,multiple_choice,5,acc,' '$tmp/out/aggregate.csv') -eq 1 ]"
"$PY" - "$tmp/out/aggregate.csv" > "$tmp/py.out" 2>&1 <<'PY'
import csv, statistics, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
leaf = [float(r["performance"]) for r in rows if r["task"].startswith("mmlu_")]
roll = [r for r in rows if r["task"] == "mmlu"][0]
assert len(leaf) == 57
assert float(roll["performance"]) == round(statistics.mean(leaf), 4), roll
assert float(roll["stderr"]) == round(statistics.stdev(leaf) / math.sqrt(57), 4), roll
for r in rows:
    if r["task"].startswith("mmlu_"):
        assert float(r["performance"]) in (0.0, 0.5, 1.0), r
print("py ok")
PY
check "rollup = unweighted mean and SEM of the 57 subjects" "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"
check "score table row for mmlu" "grep -Eq '^mmlu +[0-9]\.[0-9]{4}$' '$tmp/stdout'"
"$MILL" --output_dir "$tmp/out" collect --metric acc --tasks mmlu > "$tmp/collect" 2>&1
check "collect --metric acc shows the mmlu column" "grep -q 'Mill results — performance (acc)' '$tmp/collect' && grep -q '│ mmlu ' '$tmp/collect'"

finish
