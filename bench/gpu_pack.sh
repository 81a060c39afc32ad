#!/usr/bin/env bash
# gpu_pack.sh: what bench/gpu.sh needs on a lent GPU machine, which has CUDA's compiler, CMake
# and Python but neither Debian's libraries nor a network. Run here, after `make build`; writes
# .gpu/ in the checkout (ignored by git; the device tool's `carry: [".gpu"]` takes it along):
#   llama-src.tar.xz  the pinned llama.cpp source (scripts/deps.sh --llama-source), built there
#                     with CUDA by scripts/deps.sh --llama-only;
#   mill.tar.xz       bin/ (mill, gen_llama, gen_wds) and lib/ (libmill and every shared
#                     library they load from Debian, except glibc's and the C++ runtime, which
#                     the machine's own newer ones replace, and llama.cpp's, built there).
# Together about 32 MB, the tree 9 MB: the device tool carries at most 64 MiB. (llama.cpp built
# here with CUDA for the H200, MILL_CUDA_ARCH=90, would be 43 MB more: too much to carry.)
#
#   bash bench/gpu_pack.sh [BUILD_DIR]        (default: the checkout's build/)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
PACK=$ROOT/.gpu
mkdir -p "$PACK"
[ "$PACK/llama-src.tar.xz" -nt "$ROOT/scripts/deps.sh" ] || bash "$ROOT/scripts/deps.sh" --llama-source "$PACK/llama-src.tar.xz"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
BINS=(mill gen_llama gen_wds)
for b in "${BINS[@]}"; do cp -L "$BUILD/bin/$b" "$stage/bin/"; done
cp -a "$BUILD/lib/"libmill.so* "$stage/lib/"
# glibc, the compiler's runtimes (libstdc++, libgcc_s, libgomp: the machine's are newer and
# llama.cpp built there needs theirs) and llama.cpp's own libraries stay behind.
skip='/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*|libstdc\+\+|libgcc_s|libgomp)\.so'
skip+='|/lib(llama|mtmd|ggml[a-z-]*)\.so'
for b in "${BINS[@]}"; do ldd "$stage/bin/$b"; done | awk '/=> \//{ print $3 }' | sort -u |
    grep -Ev "$skip" | while read -r lib; do cp -L "$lib" "$stage/lib/"; done
tar -C "$stage" -cf - bin lib | xz -6 -T2 >"$PACK/mill.tar.xz.tmp"
mv "$PACK/mill.tar.xz.tmp" "$PACK/mill.tar.xz"
ls -l "$PACK"
du -ch "$PACK"/*.tar.xz | tail -1
