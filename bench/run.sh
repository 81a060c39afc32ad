#!/usr/bin/env bash
# run.sh: runs every bench/*.sh but this one and the GPU machine's two (gpu.sh, which needs the
# pack gpu_pack.sh writes into the checkout, for a lent GPU) with the build dir (`make bench`
# calls `bash bench/run.sh build`), goes on past a failing one, and exits non-zero if any failed.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-build}
failed=()
for b in "$HERE"/*.sh; do
    case $(basename "$b") in run.sh | gpu.sh | gpu_pack.sh) continue ;; esac
    echo "=== bench/$(basename "$b") $BUILD"
    if ! bash "$b" "$BUILD"; then
        echo "=== bench/$(basename "$b"): FAILED" >&2
        failed+=("$(basename "$b")")
    fi
    echo
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench: failed: ${failed[*]}" >&2
    exit 1
fi
echo "bench: all passed"
