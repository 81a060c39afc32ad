#!/usr/bin/env bash
# run-demo.sh: what `make run` shows: real mill commands on what this checkout can evaluate
# offline. Grows as backends land; every number printed comes from a real run.
set -euo pipefail
BUILD=${1:-build}
MILL="$BUILD/bin/mill"
OUT=${MILL_DEMO_DIR:-$BUILD/demo}
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== mill ls --plain"
"$MILL" ls --plain
echo
echo "== mill ls --check"
"$MILL" ls --check
echo
echo "== mill collect (results directory $OUT)"
"$MILL" --output_dir "$OUT" collect
