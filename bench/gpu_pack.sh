#!/usr/bin/env bash
# gpu_pack.sh: what bench/gpu.sh needs on a lent GPU machine, which has CUDA's compiler, CMake
# and Python but neither Debian's libraries nor a network. Run here, after `make build`; writes
# .gpu/ in the checkout (ignored by git; the device tool's `carry: [".gpu"]` takes it along):
#   llama-src.tar.xz  the pinned llama.cpp source (scripts/deps.sh --llama-source), built there
#                     with CUDA by scripts/deps.sh --llama-only when no build comes with it;
#   mill.tar.xz       bin/ (mill, gen_llama, gen_wds) and lib/ (libmill and every shared
#                     library they load from Debian, except glibc's and the C++ runtime, which
#                     the machine's own newer ones replace, and llama.cpp's).
# Together about 32 MB, the tree 9 MB: the device tool carries at most 64 MiB a call.
# With --cuda PREFIX, also .gpu-cuda/llama-cuda.tar.xz: a llama.cpp that scripts/deps.sh built
# here with CUDA for the lent GPU, e.g.
#   MILL_DEPS_DIR=~/.cache/mill/deps-cuda MILL_CUDA=1 MILL_CUDA_ARCH=90 \
#     MILL_LLAMA_SOURCE=.gpu/llama-src.tar.xz MILL_LLAMA_TOOLS="llama-mtmd-cli llama-perplexity" \
#     bash scripts/deps.sh --llama-only          (28 minutes on 2 cores; nvcc 13.0 as there)
# (43 MB: too much beside .gpu/, so an earlier device call carries it; bench/gpu.sh `llama`),
# which saves the 4-5 minutes of building it there.
#
#   bash bench/gpu_pack.sh [--cuda PREFIX] [BUILD_DIR]        (default: the checkout's build/)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CUDA_PREFIX=
if [ "${1:-}" = --cuda ]; then
    CUDA_PREFIX=$(cd "${2:?--cuda needs a llama.cpp prefix}" && pwd)
    grep -q 'cuda=ON.* arch=[0-9][0-9]*$' "$CUDA_PREFIX/.stamp" ||
        { echo "gpu_pack.sh: $CUDA_PREFIX is no CUDA build for one MILL_CUDA_ARCH" >&2; exit 2; }
    shift 2
fi
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
if [ -n "$CUDA_PREFIX" ]; then
    mkdir -p "$ROOT/.gpu-cuda"
    tar -C "$(dirname "$CUDA_PREFIX")" -cf - "$(basename "$CUDA_PREFIX")" | xz -9 -T2 \
        >"$ROOT/.gpu-cuda/llama-cuda.tar.xz.tmp"
    mv "$ROOT/.gpu-cuda/llama-cuda.tar.xz.tmp" "$ROOT/.gpu-cuda/llama-cuda.tar.xz"
    ls -l "$ROOT/.gpu-cuda"
fi
ls -l "$PACK"
# what travels besides: tracked files and untracked ones git does not ignore
tree=$(git -C "$ROOT" ls-files -co --exclude-standard -z | (cd "$ROOT" && xargs -0 cat) | wc -c)
for d in .gpu .gpu-cuda; do
    [ -d "$ROOT/$d" ] || continue
    n=$(cat "$ROOT/$d"/* | wc -c)
    echo "$d: $((n / 1000000)) MB, with the tree $(((n + tree) / 1000000)) MB (at most 67 MB a call)"
    [ $((n + tree)) -lt 67108864 ] || { echo "gpu_pack.sh: $d is too large to carry" >&2; exit 1; }
done
