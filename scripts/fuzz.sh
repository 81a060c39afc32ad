#!/usr/bin/env bash
# fuzz.sh FUZZ_BUILD_DIR SECONDS [RUNS]: runs every libFuzzer target of the build for SECONDS
# each (or, with RUNS > 0, until each has executed RUNS inputs: the long run of bench/RESULTS.md),
# from the committed seed corpus (tests/fuzz/corpus/<target>, read only) plus a working corpus
# in the build dir that grows between runs. A crash, leak, timeout or sanitizer report stops
# the run with the target's exit status; the input is kept in FUZZ_BUILD_DIR/crashes/. Prints
# one line per target: executions, seconds, executions per second, working corpus size.
# FUZZ_TARGETS="fuzz_a fuzz_b" runs only those. The targets' own stderr is closed
# (-close_fd_mask=2: libmpg123 inside libsndfile prints a note per bad MP3 frame), libFuzzer's
# reports still go to the log.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/fuzz.sh FUZZ_BUILD_DIR SECONDS}
secs=${2:-20}
runs=${3:-0}
limit=(-max_total_time="$secs")
[ "$runs" -gt 0 ] && limit=(-runs="$runs")
mkdir -p "$build/crashes"
status=0
printf '%-24s %12s %8s %10s %8s\n' target executions seconds exec/s corpus
for f in "$build"/fuzz/fuzz_*; do
    name=$(basename "$f")
    if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
    work=$build/corpus/$name
    seeds=tests/fuzz/corpus/$name
    mkdir -p "$work"
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    log=$build/$name.log
    t0=$(date +%s)
    "$f" "${limit[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 \
        -artifact_prefix="$build/crashes/$name-" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - t0 ))
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    printf '%-24s %12s %8s %10s %8s\n' "$name" "${execs:-?}" "$took" \
        "$(( ${execs:-0} / (took > 0 ? took : 1) ))" "$(ls "$work" | wc -l)"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $name failed (exit $rc); its log: $log"
        grep -m5 -E 'ERROR|SUMMARY|Test unit written' "$log"
        status=$rc
        break
    fi
done
exit "$status"
