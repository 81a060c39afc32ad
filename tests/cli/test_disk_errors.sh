#!/usr/bin/env bash
# test_disk_errors.sh: `mill eval` when the disk says no, with the replay backend and the toy
# plugin (toy_qa given 200 generated questions so its per-sample file outgrows a small limit):
# - unwritable directories (as root, CAP_DAC_OVERRIDE is dropped with setpriv so permissions
#   apply): a read-only output dir, a read-only outputs/, an unopenable aggregate.csv.lock
#   (and a read-only one, which is enough to lock);
# - a full disk, as RLIMIT_FSIZE (ulimit -f, SIGXFSZ ignored so writes fail with EFBIG): while
#   the per-sample file grows, and while aggregate.csv is rewritten.
# Each: exit 1 with one error naming the file, aggregate.csv byte-identical to before, the
# per-sample file holding whole lines only (the batches written before the failure), and a
# rerun without the limit computing only what is missing (the "N docs (X computed, Y resumed,
# Z failed)" line), ending equal to an uninterrupted run.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/" && cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
"$PY" - "$tmp/plug/toy_data/qa_test.jsonl" "$tmp/resp.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(json.dumps({"q": f"{i}+{i}", "a": str(2 * i)}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(200):
        f.write(json.dumps({"task": "toy_qa", "doc_id": i, "response": str(2 * i) if i % 3 else "x"}) + "\n")
    for i, r in enumerate("BAC"):
        f.write(json.dumps({"task": "toy_mc", "doc_id": i, "response": r}) + "\n")
PY
SPEC="replay[file=$tmp/resp.jsonl,name=t/m]"
# ev OUT ARGS...: mill eval of SPEC with the toy plugin; stderr in $tmp/err, exit code in rc.
ev() { local out=$1; shift
       "$MILL" --output_dir "$out" eval "$SPEC" "$@" --task_paths "$tmp/plug" >/dev/null 2>"$tmp/err"; rc=$?; }
# Runs mill without CAP_DAC_OVERRIDE when root, so that file permissions apply.
if [ "$(id -u)" -eq 0 ]; then
    unpriv() { setpriv --bounding-set=-dac_override,-dac_read_search "$@"; }
else
    unpriv() { "$@"; }
fi
# limited KB CMD...: CMD under RLIMIT_FSIZE of KB KiB, SIGXFSZ ignored (writes fail with EFBIG).
limited() { local kb=$1; shift; ( trap '' XFSZ; ulimit -f "$kb"; exec "$@" ); }
errors() { grep -c '^mill: ' "$tmp/err"; }   # error lines (the CLI's), not log lines
# whole_lines FILE: every line is a JSON sample, doc_ids distinct; prints the count.
whole_lines() { "$PY" - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
assert not data or data.endswith(b"\n"), "torn last line"
ids = [json.loads(l)["doc_id"] for l in data.decode().splitlines()]
assert len(ids) == len(set(ids)), "duplicated doc_ids"
print(len(ids))
PY
}
docs_line() { grep -o "$1: [0-9]* docs ([0-9]* computed, [0-9]* resumed, [0-9]* failed)" "$tmp/err"; }

# The uninterrupted reference.
REF="$tmp/ref"
ev "$REF" toy_mc && ev "$REF" toy_qa --batch_docs 16
check "reference run exits 0" "[ $rc -eq 0 ]"

# ---- unwritable directories ----
mkdir -p "$tmp/ro"; chmod 0555 "$tmp/ro"
if unpriv touch "$tmp/ro/probe" 2>/dev/null; then
    bad "permissions are not enforced here (root without setpriv?): the unwritable-path checks cannot run (tests fail, never skip)"
else
    unpriv "$MILL" --output_dir "$tmp/ro" eval "$SPEC" toy_mc --task_paths "$tmp/plug" \
        >/dev/null 2>"$tmp/err"; rc=$?
    check "read-only output dir: exit 1, one error naming it" \
        "[ $rc -eq 1 ] && [ \$(errors) -eq 1 ] && grep -q '^mill: output directory $tmp/ro is not writable' '$tmp/err'"
    check "read-only output dir: nothing written" "[ -z \"\$(ls -A '$tmp/ro')\" ]"

    O="$tmp/o1"; ev "$O" toy_mc; cp "$O/aggregate.csv" "$tmp/agg.before"
    chmod 0555 "$O/outputs/t__m"
    unpriv "$MILL" --output_dir "$O" eval "$SPEC" toy_qa --task_paths "$tmp/plug" \
        >/dev/null 2>"$tmp/err"; rc=$?
    check "read-only outputs/<model>: exit 1, one error naming the job's file" \
        "[ $rc -eq 1 ] && [ \$(errors) -eq 1 ] && grep -q '^mill: cannot create $O/outputs/t__m/toy_qa_2shot.jsonl.lock: Permission denied' '$tmp/err'"
    check "read-only outputs/<model>: aggregate.csv unchanged" "cmp -s '$tmp/agg.before' '$O/aggregate.csv'"
    chmod 0755 "$O/outputs/t__m"

    # aggregate.csv cannot be updated (its lock file cannot be opened: a directory is in its
    # place): the samples are kept.
    rm -f "$O/aggregate.csv.lock" && mkdir "$O/aggregate.csv.lock"
    unpriv "$MILL" --output_dir "$O" eval "$SPEC" toy_qa --task_paths "$tmp/plug" \
        >/dev/null 2>"$tmp/err"; rc=$?
    check "unopenable aggregate.csv.lock: exit 1, one error naming aggregate.csv" \
        "[ $rc -eq 1 ] && [ \$(errors) -eq 1 ] && grep -q '^mill: cannot update $O/aggregate.csv (left unchanged): cannot open $O/aggregate.csv.lock: Is a directory' '$tmp/err' || { cat '$tmp/err'; false; }"
    check "unopenable aggregate.csv.lock: aggregate.csv unchanged" "cmp -s '$tmp/agg.before' '$O/aggregate.csv'"
    check "unopenable aggregate.csv.lock: all 200 samples kept" \
        "[ \"\$(whole_lines '$O/outputs/t__m/toy_qa_2shot.jsonl')\" = 200 ]"
    rmdir "$O/aggregate.csv.lock" && touch "$O/aggregate.csv.lock"
    # a lock file this user may only read (another user's, in a group-shared directory) is
    # enough to lock: aggregate.csv is updated
    chmod 0444 "$O/aggregate.csv.lock"
    cp "$O" -r "$tmp/o1ro"
    unpriv "$MILL" --output_dir "$tmp/o1ro" eval "$SPEC" toy_qa --task_paths "$tmp/plug" \
        >/dev/null 2>"$tmp/err"; rc=$?
    check "a read-only aggregate.csv.lock: exit 0, aggregate.csv updated" \
        "[ $rc -eq 0 ] && cmp -s '$REF/aggregate.csv' '$tmp/o1ro/aggregate.csv' || { cat '$tmp/err'; false; }"
    chmod 0644 "$O/aggregate.csv.lock"
    ev "$O" toy_qa
    check "rerun: nothing recomputed" \
        "[ $rc -eq 0 ] && [ \"\$(docs_line toy_qa)\" = 'toy_qa: 200 docs (0 computed, 200 resumed, 0 failed)' ]"
    check "rerun: aggregate.csv equals the reference" "cmp -s '$REF/aggregate.csv' '$O/aggregate.csv'"
fi

# ---- a full disk while the per-sample file grows ----
O="$tmp/o2"; ev "$O" toy_mc; cp "$O/aggregate.csv" "$tmp/agg.before"
J="$O/outputs/t__m/toy_qa_2shot.jsonl"
limited 20 "$MILL" --output_dir "$O" eval "$SPEC" toy_qa --batch_docs 16 --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/err"; rc=$?
check "file size limit: exit 1, one error naming the per-sample file" \
    "[ $rc -eq 1 ] && [ \$(errors) -eq 1 ] && grep -q '^mill: cannot write $J: File too large' '$tmp/err'"
check "file size limit: aggregate.csv byte-identical" "cmp -s '$tmp/agg.before' '$O/aggregate.csv'"
kept=$(whole_lines "$J" 2>"$tmp/py.err")
check "file size limit: whole lines only, whole batches of 16 (kept: ${kept:-?})" \
    "[ -n '$kept' ] && [ '$kept' -gt 0 ] && [ '$kept' -lt 200 ] && [ \$(( $kept % 16 )) -eq 0 ] || { cat '$tmp/py.err'; false; }"
check "file size limit: the stop message counts what was kept" \
    "grep -q 'toy_qa: stopped; $kept docs computed in this run and 0 resumed are kept' '$tmp/err'"
ev "$O" toy_qa --batch_docs 16
check "rerun without the limit computes only the missing docs" \
    "[ $rc -eq 0 ] && [ \"\$(docs_line toy_qa)\" = \"toy_qa: 200 docs ($((200 - kept)) computed, $kept resumed, 0 failed)\" ]"
check "rerun: 200 whole lines" "[ \"\$(whole_lines '$J')\" = 200 ]"
check "rerun: per-sample lines equal the uninterrupted run's" \
    "cmp -s <(sort '$J') <(sort '$REF/outputs/t__m/toy_qa_2shot.jsonl')"
check "rerun: aggregate.csv equals the uninterrupted run's" "cmp -s '$REF/aggregate.csv' '$O/aggregate.csv'"

# ---- a full disk while aggregate.csv is rewritten ----
O="$tmp/o3"; mkdir -p "$O"
"$PY" -c '
print("model,benchmark,task,task_type,n_shot,metric,performance,stderr")
for i in range(400):
    print(f"other/model{i},mmlu,mmlu_anatomy,multiple_choice,0,acc,0.5,0.1")' > "$O/aggregate.csv"
cp "$O/aggregate.csv" "$tmp/agg.before"   # 25 KB, over the 20 KB limit
limited 20 "$MILL" --output_dir "$O" eval "$SPEC" toy_mc --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/err"; rc=$?
check "aggregate over the limit: exit 1, one error naming aggregate.csv" \
    "[ $rc -eq 1 ] && [ \$(errors) -eq 1 ] && grep -q '^mill: cannot update $O/aggregate.csv (left unchanged): cannot write $O/aggregate.csv.tmp.[0-9]*: File too large' '$tmp/err'"
check "aggregate over the limit: aggregate.csv byte-identical, no temporary file left" \
    "cmp -s '$tmp/agg.before' '$O/aggregate.csv' && ! ls '$O' | grep -q 'tmp'"
check "aggregate over the limit: the 3 samples are kept" \
    "[ \"\$(whole_lines '$O/outputs/t__m/toy_mc_0shot.jsonl')\" = 3 ]"
ev "$O" toy_mc
check "rerun: nothing recomputed, the rows are added" \
    "[ $rc -eq 0 ] && [ \"\$(docs_line toy_mc)\" = 'toy_mc: 3 docs (0 computed, 3 resumed, 0 failed)' ] && [ \$(wc -l < '$O/aggregate.csv') -eq 403 ] && grep -q '^t/m,toy,toy_mc,' '$O/aggregate.csv'"

finish
