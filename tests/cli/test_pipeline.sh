#!/usr/bin/env bash
# test_pipeline.sh: the edges of the batch pipeline (ARCHITECTURE.md §1), where answered work
# could wait in memory or be dropped:
# - a benchmark's job whose last batch is in flight as the next task opens its data: that
#   batch reaches the disk when it is answered, not when the next task's data are readable (the
#   next task's data file is a FIFO nobody writes yet); a SIGINT then stops the run before any
#   batch of the next task (exit 130), with the first task finished and aggregated, and the
#   same command completes to an uninterrupted run's outputs;
# - a corrupt row in the middle of a task: the batches answered before it are written, as
#   many as with MILL_PIPELINE=0;
# - a log-likelihood document without choices is a failed sample with a message, not a read
#   past its requests.
# The model is a tiny generated llama (no network).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" --seed 5 >/dev/null 2>&1
SPEC="llama[path=$tmp/m.gguf,threads=1]"
plugin() { # plugin DIR: the toy plugin and its data in DIR
    mkdir -p "$1" && cp "$BUILD/plugins/toy.so" "$1/" && cp -r "$SRC/tests/plugins/toy_data" "$1/"
}
lines() { cat "$1" 2>/dev/null | wc -l; }

# ---- a held job's last batch, while the next task's data cannot be opened ----------------
# toy_slow = toy_long (16 docs generating up to 1024 tokens, 8 a batch: its last batch is long to
# answer, so the job is held) + toy_mc, whose data file is a FIFO nobody writes yet.
plugin "$tmp/plug"
"$MILL" --output_dir "$tmp/full" eval "$SPEC" toy_slow --task_paths "$tmp/plug" --batch_docs 8 \
    >/dev/null 2>"$tmp/full.err"
check "uninterrupted toy_slow benchmark exits 0" "[ $? -eq 0 ]"
n_long=$(lines "$tmp"/full/outputs/*/toy_long_2shot.jsonl)
check "toy_long has 16 samples" "[ $n_long -eq 16 ]"

plugin "$tmp/fifo"
rm "$tmp/fifo/toy_data/mc_test.jsonl" && mkfifo "$tmp/fifo/toy_data/mc_test.jsonl"
set -m # a background job of a script ignores SIGINT unless job control is on
"$MILL" --log_level debug --output_dir "$tmp/held" eval "$SPEC" toy_slow --task_paths "$tmp/fifo" \
    --batch_docs 8 >/dev/null 2>"$tmp/held.err" &
pid=$!
set +m
long() { [ "$(lines "$tmp"/held/outputs/*/toy_long_2shot.jsonl)" -eq "$n_long" ]; }
wait_for --pid "$pid" 120 long
check "toy_long's $n_long samples are on disk while toy_mc's data is not readable yet" "long"
check "toy_long was held while its last batch was answered (the worker wrote it)" \
    "grep -q 'toy_long: held while its last batch is answered' '$tmp/held.err'"
kill -INT "$pid"
# The data file is opened twice (its rows counted, then read): one writer per open, each
# giving up after 2 s without a reader, until mill is gone.
feed() {
    while kill -0 "$pid" 2>/dev/null; do
        timeout 2 sh -c 'cat "$1" >"$2"' _ "$SRC/tests/plugins/toy_data/mc_test.jsonl" \
            "$tmp/fifo/toy_data/mc_test.jsonl"
    done
}
feed &
feeder=$!
wait "$pid"
rc=$?
wait "$feeder"
check "SIGINT while the next task opens its data: exit 130 (got $rc)" "[ $rc -eq 130 ]"
check "toy_long is aggregated and its provenance says finished" \
    "grep -q ',toy_long,' '$tmp/held/aggregate.csv' &&
     grep -q '\"finished\":true' '$tmp'/held/outputs/*/toy_long_2shot.json"
check "no batch of toy_mc ran after the signal, and its record counts no doc" \
    "[ $(lines "$tmp"/held/outputs/*/toy_mc_0shot.jsonl) -eq 0 ] &&
     grep -q '\"n\":0,' '$tmp'/held/outputs/*/toy_mc_0shot.json"
rm "$tmp/fifo/toy_data/mc_test.jsonl" && cp "$SRC/tests/plugins/toy_data/mc_test.jsonl" "$tmp/fifo/toy_data/"
"$MILL" --output_dir "$tmp/held" eval "$SPEC" toy_slow --task_paths "$tmp/fifo" --batch_docs 8 \
    >/dev/null 2>"$tmp/held.rerun.err"
check "the same command completes (exit 0)" "[ $? -eq 0 ]"
check "toy_long was not computed again" "grep -q 'Cached toy_long' '$tmp/held.rerun.err'"
for t in toy_long_2shot toy_mc_0shot; do
    r=$(compare "$tmp/full" "$tmp/held" "$t" 0 2>&1)
    if [[ "$r" == max* ]]; then ok "$t equals the uninterrupted run's"
    else bad "$t differs from the uninterrupted run's: $r"; fi
done

# ---- a corrupt row in the middle of a task ------------------------------------------------
plugin "$tmp/bad"
printf '%s\n' '{"q": "1+1", "a": "2"}' '{"q": "capital of Italy", "a": "Rome"}' \
    '{"q": "5-3", "a": "2"}' '{"q": "largest planet", "a": "Jupiter"}' '{"q": "broken", "a": ' \
    '{"q": "H2O is", "a": "water"}' >"$tmp/bad/toy_data/qa_test.jsonl"
for p in 1 0; do
    MILL_PIPELINE=$p "$MILL" --output_dir "$tmp/bad$p" eval "$SPEC" toy_qa --task_paths "$tmp/bad" \
        --batch_docs 2 >/dev/null 2>"$tmp/bad$p.err"
    check "MILL_PIPELINE=$p: a corrupt row stops the run (exit 1)" "[ $? -eq 1 ]"
    check "MILL_PIPELINE=$p: the error names the file" "grep -q 'qa_test.jsonl' '$tmp/bad$p.err'"
done
check "the 4 docs answered before the corrupt row are kept with the pipeline as without" \
    "[ $(lines "$tmp"/bad1/outputs/*/toy_qa_2shot.jsonl) -eq 4 ] &&
     [ $(lines "$tmp"/bad0/outputs/*/toy_qa_2shot.jsonl) -eq 4 ]"

# ---- a log-likelihood document without choices --------------------------------------------
plugin "$tmp/empty"
{ sed -n 1p "$SRC/tests/plugins/toy_data/mc_test.jsonl"
  echo '{"question": "Pick nothing.", "options": [], "answer": 0}'
  sed -n '2,$p' "$SRC/tests/plugins/toy_data/mc_test.jsonl"; } >"$tmp/empty/toy_data/mc_test.jsonl"
"$MILL" --output_dir "$tmp/lp" eval "$SPEC" toy_lp --task_paths "$tmp/empty" >/dev/null 2>"$tmp/lp.err"
f=$(ls "$tmp"/lp/outputs/*/toy_lp_0shot.jsonl 2>/dev/null)
check "toy_lp with a choiceless doc: all 4 samples written" "[ $(lines "$f") -eq 4 ]"
check "the choiceless doc is a failed sample that says why" \
    "\"$PY\" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; \
assert [\"error\" in x for x in r] == [False, True, False, False], r; \
assert \"no choices\" in r[1][\"error\"], r[1]' '$f'"
check "the warning names the doc" "grep -q 'toy_lp doc 1 failed: .*no choices' '$tmp/lp.err'"
finish
