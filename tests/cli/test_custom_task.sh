#!/usr/bin/env bash
# test_custom_task.sh: examples/custom_task/ as a user meets it: Mill installed into a temp
# prefix (cmake --install of the build), the example plugin built with its own Makefile against
# that prefix's headers through pkg-config (and a clear error when pkg-config cannot find
# mill), the installed `mill ls` listing the task and its metric, and the installed `mill eval`
# with the replay backend scoring saved answers with the plugin's metric choice_match next to
# the built-in exact_match (per-sample values and aggregate.csv, computed by hand).
# Must not write outside its temp dir (the example is copied there before it is built).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR

# ---- install ----
cmake --install "$BUILD" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; rc=$?
check "cmake --install into a temp prefix exits 0" "[ $rc -eq 0 ] || { tail -5 '$tmp/install.log'; false; }"
PC=$(dirname "$(find "$tmp/prefix" -name mill.pc | head -n 1)")
M="$tmp/prefix/bin/mill"
check "the prefix has bin/mill, mill.pc and the public headers" \
    "[ -x '$M' ] && [ -f '$PC/mill.pc' ] && [ -f '$tmp/prefix/include/mill/metric.h' ]"
check "pkg-config --cflags mill names the prefix's include dir" \
    "PKG_CONFIG_PATH='$PC' pkg-config --cflags mill | grep -q -- '-I$tmp/prefix/.*include'"

# ---- build the example with its Makefile ----
cp -r "$SRC/examples/custom_task" "$tmp/ex"
rm -f "$tmp/ex/capitals.so"
PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$tmp/nowhere" make -C "$tmp/ex" >"$tmp/make0.log" 2>&1; rc=$?
check "without mill.pc the Makefile stops with a clear error" \
    "[ $rc -ne 0 ] && grep -q 'pkg-config cannot find mill' '$tmp/make0.log' && [ ! -e '$tmp/ex/capitals.so' ]"
PKG_CONFIG_PATH="$PC" make -C "$tmp/ex" >"$tmp/make.log" 2>&1; rc=$?
check "make builds capitals.so" "[ $rc -eq 0 ] && [ -f '$tmp/ex/capitals.so' ] || { cat '$tmp/make.log'; false; }"
check "it compiled against the installed headers" "grep -q -- '-I$tmp/prefix/' '$tmp/make.log'"
check "the plugin exports TASKS_TABLE and METRICS_TABLE" \
    "nm -D --defined-only '$tmp/ex/capitals.so' | grep -qw TASKS_TABLE && nm -D --defined-only '$tmp/ex/capitals.so' | grep -qw METRICS_TABLE"
check "the plugin is not linked against libmill (mill provides the API)" \
    "! readelf -d '$tmp/ex/capitals.so' | grep -q 'libmill'"

# ---- mill ls ----
"$M" ls --plain --task_paths "$tmp/ex" >"$tmp/ls.out" 2>"$tmp/ls.err"; rc=$?
check "installed mill ls --task_paths lists capitals with choice_match" \
    "[ $rc -eq 0 ] && grep -qE '^  capitals +multiple_choice +generate_until +0-shot +choice_match' '$tmp/ls.out'"
"$M" ls --check --task_paths "$tmp/ex" >"$tmp/check.out" 2>&1; rc=$?
check "the plugin passes the registry self-check" "[ $rc -eq 0 ] && grep -q ', 0 problems' '$tmp/check.out'"

# ---- mill eval with saved answers ----
cat > "$tmp/resp.jsonl" <<'JSON'
{"task": "capitals", "doc_id": 0, "response": "B"}
{"task": "capitals", "doc_id": 1, "response": "(C) Canberra"}
{"task": "capitals", "doc_id": 2, "response": " tokyo"}
{"task": "capitals", "doc_id": 3, "response": "Ottawa"}
{"task": "capitals", "doc_id": 4, "response": "A"}
{"task": "capitals", "doc_id": 5, "response": "I think it is Brasilia"}
{"task": "capitals", "doc_id": 6, "response": "Nairobi\nQuestion: next"}
{"task": "capitals", "doc_id": 7, "response": "D."}
JSON
OUT="$tmp/out"
"$M" --output_dir "$OUT" eval "replay[file=$tmp/resp.jsonl,name=example/model]" capitals \
    --task_paths "$tmp/ex" >"$tmp/eval.out" 2>"$tmp/eval.err"; rc=$?
check "installed mill eval exits 0" "[ $rc -eq 0 ] || { cat '$tmp/eval.err'; false; }"
check "8 docs computed, none failed" "grep -q 'capitals: 8 docs (8 computed, 0 resumed, 0 failed)' '$tmp/eval.err'"
check "the score table shows choice_match's mean" "grep -qE '^capitals +0.6250\$' '$tmp/eval.out'"
# choice_match: 1 1 1 1 0 0 1 0 (letter, (letter), text any case, text, wrong letter, "I" is
# not an option letter, text before the stop string, wrong letter) = 0.625, sem 0.183;
# exact_match: only "Ottawa" and "Nairobi" equal the gold text = 0.25, sem 0.1637.
cat > "$tmp/want.csv" <<'CSV'
model,benchmark,task,task_type,n_shot,metric,performance,stderr
example/model,,capitals,multiple_choice,0,choice_match,0.625,0.183
example/model,,capitals,multiple_choice,0,exact_match,0.25,0.1637
CSV
check "aggregate.csv has both metrics' rows" "cmp -s '$tmp/want.csv' '$OUT/aggregate.csv' || { cat '$OUT/aggregate.csv'; false; }"
"$PY" - "$OUT/outputs/example__model/capitals_0shot.jsonl" > "$tmp/py.out" 2>&1 <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["doc_id"] for r in rows] == list(range(8)), rows
cm = [r["choice_match"] for r in rows]
em = [r["exact_match"] for r in rows]
assert cm == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], cm
assert em == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], em
for xs, want in ((cm, (0.625, 0.183)), (em, (0.25, 0.1637))):
    sem = statistics.stdev(xs) / len(xs) ** 0.5
    assert (round(statistics.mean(xs), 4), round(sem, 4)) == want, (xs, sem)
r = rows[0]
assert r["prompt"] == ("Question: What is the capital of France?\nA. Berlin\nB. Paris\n"
                       "C. Rome\nD. Madrid\nAnswer:"), repr(r["prompt"])
assert r["gold"] == 1 and r["prediction"] == "B" and r["region"] == "Europe", r
assert rows[6]["prediction"] == "Nairobi" and rows[6]["region"] == "Africa", rows[6]
print("py ok")
PY
check "per-sample values, prompt, gold and metadata" \
    "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"

finish
