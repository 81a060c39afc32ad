#!/usr/bin/env bash
# test_signals.sh: SIGINT and SIGTERM during `mill eval` stop it after the batch in flight:
# exit 130 / 143, a message saying what to rerun, only whole lines in the samples file (a
# multiple of --batch_docs, nothing torn), a provenance file that says unfinished; the same
# command then completes from the kept samples, and its per-sample outputs and aggregate rows
# equal an uninterrupted run's. The run is a tiny generated model generating up to 1024 tokens
# for 16 questions (toy_long) two docs at a time; the signal is sent once the first lines are
# on disk (waited for, not timed).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"
cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" --seed 5 >/dev/null 2>&1
SPEC="llama[path=$tmp/m.gguf,batch_size=2,threads=1]"
ARGS=(eval "$SPEC" toy_long --task_paths "$tmp/plug" --batch_docs 2)
run() { "$MILL" --output_dir "$1" "${ARGS[@]}"; }

run "$tmp/full" >/dev/null 2>"$tmp/full.err"
check "uninterrupted run exits 0" "[ $? -eq 0 ]"

# interrupt SIG WANT_RC OUT: start a run, wait for its first lines, send SIG, wait for the exit.
interrupt() {
    local sig=$1 want=$2 out=$3
    set -m # a background job of a script ignores SIGINT unless job control is on
    "$MILL" --output_dir "$out" "${ARGS[@]}" >/dev/null 2>"$out.err" &
    local pid=$! lines=0
    set +m
    for _ in $(seq 600); do
        lines=$(cat "$out"/outputs/*/toy_long_2shot.jsonl 2>/dev/null | wc -l)
        [ "$lines" -ge 2 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -s "$sig" "$pid"
    wait "$pid"
    local rc=$?
    local f
    f=$(ls "$out"/outputs/*/toy_long_2shot.jsonl)
    local n
    n=$(wc -l < "$f")
    check "$sig: exit $want (got $rc)" "[ $rc -eq $want ]"
    check "$sig: the message says what to rerun" \
        "grep -q 'run the same command again to resume' '$out.err'"
    check "$sig: stopped before the end ($n of 16 samples kept)" "[ $n -ge 2 ] && [ $n -lt 16 ]"
    check "$sig: whole batches only ($n lines, batches of 2)" "[ \$(( $n % 2 )) -eq 0 ]"
    check "$sig: every line is whole JSON" \
        "/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$f'"
    check "$sig: the provenance file says unfinished" \
        "grep -q '\"finished\":false' '$out'/outputs/*/toy_long_2shot.json"
    run "$out" >/dev/null 2>"$out.rerun.err"
    check "$sig: the same command completes (exit 0)" "[ $? -eq 0 ]"
    check "$sig: it resumed the kept samples" \
        "grep -q '($((16 - n)) computed, $n resumed, 0 failed)' '$out.rerun.err'"
    r=$(compare "$tmp/full" "$out" toy_long_2shot 0 2>&1)
    if [[ "$r" == max* ]]; then ok "$sig: outputs equal the uninterrupted run's ($r)"
    else bad "$sig: outputs differ from the uninterrupted run's: $r"; fi
    check "$sig: aggregate.csv rows equal" \
        "cut -d, -f1-7 '$tmp/full/aggregate.csv' | diff - <(cut -d, -f1-7 '$out/aggregate.csv')"
}
interrupt INT 130 "$tmp/int"
interrupt TERM 143 "$tmp/term"

# A stop while waiting for another process's job lock ends the wait at once (a blocking flock
# is restarted after the handler, SA_RESTART, so it waited for the other run to end).
d=$(basename "$(dirname "$(ls "$tmp"/full/outputs/*/toy_long_2shot.jsonl)")")
mkdir -p "$tmp/locked/outputs/$d"
exec 9>"$tmp/locked/outputs/$d/toy_long_2shot.jsonl.lock"
flock 9
set -m
"$MILL" --output_dir "$tmp/locked" "${ARGS[@]}" >/dev/null 2>"$tmp/locked.err" 9>&- &
pid=$!
set +m
wait_for --pid "$pid" 60 grep -q 'waiting for it' "$tmp/locked.err"
t0=$SECONDS
kill -INT "$pid"
wait_for 20 eval "! kill -0 $pid 2>/dev/null"
exec 9>&- # still waiting (the old blocking flock): let it go on, so the wait below ends
wait "$pid"; rc=$?
check "SIGINT while waiting for another run's job lock: exit 130 within seconds (got $rc)" \
    "[ $rc -eq 130 ] && [ \$((SECONDS - t0)) -lt 10 ] && grep -q 'stopped by signal 2 while waiting for' '$tmp/locked.err'"

# SIGINT, then SIGTERM before the batch in flight ends: the second stop signal, whichever,
# ends the process at once (killed by SIGTERM: no clean stop, no resume message). The two are
# sent back to back: waiting for the first one's message between them let a fast batch (a
# quiet machine) end first, and the run stopped cleanly.
set -m
"$MILL" --output_dir "$tmp/twice" "${ARGS[@]}" >/dev/null 2>"$tmp/twice.err" &
pid=$!
set +m
wait_for --pid "$pid" 60 grep -q 'Evaluating' "$tmp/twice.err"
kill -INT "$pid"; kill -TERM "$pid"
wait "$pid"; rc=$?
check "SIGINT then SIGTERM: killed at once by the second (exit $rc, no resume message)" \
    "[ $rc -eq 143 ] && grep -q 'signal again to stop at once' '$tmp/twice.err' &&
     ! grep -q 'run the same command again to resume' '$tmp/twice.err'"
finish
