#!/usr/bin/env bash
# test_concurrent_jobs.sh: two `mill eval` processes running the same job (model, task, n_shot,
# output dir). The replay backend reads its responses from a FIFO, so the process that got the
# job holds it, blocked loading the model, until the test feeds the FIFO: the overlap is made,
# not timed. The other process must say that it waits, then find the job finished and skip it
# (Cached, no model loaded); the per-sample file has each doc once and aggregate.csv one row per
# metric. Twice: the second started once the first holds the job, and both started together.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/" && cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
"$PY" - "$tmp/plug/toy_data/qa_test.jsonl" "$tmp/resp.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(100):
        f.write(json.dumps({"q": f"{i}+{i}", "a": str(2 * i)}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(100):
        f.write(json.dumps({"task": "toy_qa", "doc_id": i, "response": str(2 * i) if i % 4 else "x"}) + "\n")
PY
mkfifo "$tmp/fifo"
SPEC="replay[file=$tmp/fifo,name=t/m]"
start() { # start NAME OUT: one run in the background, its pid in pid_NAME
    "$MILL" --output_dir "$2" eval "$SPEC" toy_qa --batch_docs 8 --task_paths "$tmp/plug" \
        >"$tmp/$1.out" 2>"$tmp/$1.err" &
    eval "pid_$1=\$!"
}
has() { grep -q "$2" "$tmp/$1.err"; }
# one_row_each OUT: the per-sample file holds doc_ids 0..99 once each; aggregate.csv one row.
one_each() { "$PY" - "$1/outputs/t__m/toy_qa_2shot.jsonl" "$1/aggregate.csv" <<'PY'
import csv, json, sys
ids = [json.loads(l)["doc_id"] for l in open(sys.argv[1])]
assert sorted(ids) == list(range(100)), (len(ids), len(set(ids)))
rows = list(csv.reader(open(sys.argv[2])))
assert len(rows) == 2 and rows[1][2] == "toy_qa" and rows[1][5] == "exact_match", rows
assert rows[1][6] == "0.75", rows
PY
}

# ---- the second run starts while the first holds the job ----
O="$tmp/o1"
start a "$O"
wait_for --pid "$pid_a" 60 has a 'loading model'
check "first run holds the job, blocked loading the model" "[ $? -eq 0 ]"
start b "$O"
wait_for --pid "$pid_b" 60 has b 'being written by another mill process: waiting'
check "second run says it waits for the other process" "[ $? -eq 0 ]"
timeout 60 sh -c "cat '$tmp/resp.jsonl' > '$tmp/fifo'"
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
check "both exit 0" "[ $rc_a -eq 0 ] && [ $rc_b -eq 0 ]"
check "first run computed all 100 docs" "has a 'toy_qa: 100 docs (100 computed, 0 resumed, 0 failed)'"
check "second run skips the finished job (Cached, no model loaded)" \
    "has b 'Cached toy_qa' && ! has b 'loading model' && ! has b 'computed'"
check "each doc once in the per-sample file, one aggregate row" "one_each '$O'"
check "both print the same score" "cmp -s '$tmp/a.out' '$tmp/b.out'"

# ---- both start together: whichever gets the job, the other waits ----
O="$tmp/o2"
start a "$O"; start b "$O"
wait_for 60 eval "{ has a 'loading model' && has b 'waiting for it'; } || { has b 'loading model' && has a 'waiting for it'; }"
check "started together: one holds the job, the other says it waits" "[ $? -eq 0 ]"
timeout 60 sh -c "cat '$tmp/resp.jsonl' > '$tmp/fifo'"
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
check "started together: both exit 0" "[ $rc_a -eq 0 ] && [ $rc_b -eq 0 ]"
check "started together: one computed 100 docs, the other skipped" \
    "[ \$(cat '$tmp/a.err' '$tmp/b.err' | grep -c 'toy_qa: 100 docs (100 computed') -eq 1 ] && [ \$(cat '$tmp/a.err' '$tmp/b.err' | grep -c 'Cached toy_qa') -eq 1 ]"
check "started together: each doc once, one aggregate row" "one_each '$O'"

finish
