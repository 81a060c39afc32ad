#!/usr/bin/env bash
# gpu.sh: the GPU figures of the llama backend, in as few calls of a lent GPU machine as its
# budget wants (15 minutes of device time per session: build there once, then measure).
# Prepare here with `make build && bash bench/gpu_pack.sh [--cuda PREFIX]`, then on the device,
# in the checkout's root, with `.gpu` carried (and `.gpu-cuda` by an earlier call, see llama):
#
#   bash bench/gpu.sh STEP...   e.g. `bash bench/gpu.sh llama`, then `... build smoke vlm mmlu`
#
#   llama  only what every step does first: llama.cpp with ggml's CUDA backend for the GPU
#          nvidia-smi reports, into .gpu-work (ignored files, kept while the machine stays warm: a
#          later call finds them). Either the build gpu_pack.sh --cuda made (.gpu-cuda, unpacked
#          once), when it is for this GPU's architecture and its libraries load here, or else
#          built there (scripts/deps.sh --llama-only, MILL_CUDA=1: about 50 CPU-minutes, so 4-5
#          minutes on 16 cores; MILL_GPU_BUILD=0: never, for a call that expects the carried
#          build unpacked by an earlier one and should stop at once on a machine started afresh).
#          With a GPU, llama.cpp must list it (CUDA0). The other steps also unpack mill's pack;
#   build  what the machine is (GPU, nvcc, CPUs) and that mill loads;
#   smoke  a 10-question MMLU subject on the 40M model of `make run` with no n_gpu_layers given:
#          the provenance must say 999 where nvidia-smi lists a GPU (0 where none), and
#          llama.cpp's log names CUDA0; with a GPU, the largest log-probability difference
#          from the same run with n_gpu_layers=0 is printed;
#   mmlu   full `mmlu` (57 subjects, 14,042 questions, 5-shot) on Qwen3-0.6B's shape
#          (bench/mmlu_harness.sh, MILL_BENCH_SHAPE=0.6b): job, decode and harness seconds;
#          MILL_GPU_MMLU_VARIANTS (default "b16=batch_size=16", the default batch; add e.g.
#          "b64=batch_size=64" where the budget allows: each variant is a full run),
#          MILL_GPU_MMLU_TASKS (mmlu) and MILL_GPU_MMLU_LIMIT (0: all) for a shorter try,
#          MILL_GPU_MMLU_TIMEOUT (420 s) so that the call ends in its limit;
#   vlm    cifar10_mcq on the 0.5B VLM (bench/vlm.sh): 8 in flight vs one at a time vs
#          llama-mtmd-cli per image, MILL_BENCH_VLM_N images (16).
# Log lines go to $OUT/gpu.log (the device tool brings $OUT back), each step's
# full output to $OUT/STEP.txt. Environment: MILL_GPU_CUDA (1; 0 builds for the CPU),
# MILL_GPU_PREFIX (a llama.cpp already built by scripts/deps.sh, used instead of building),
# MILL_BENCH_THREADS (8), MILL_BENCH_REPS (1). On a machine without NVIDIA's driver a CUDA
# build loads through the toolkit's stub libcuda, ggml finds no device, and every step runs on
# the CPU (how this script was tried).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PACK=$ROOT/.gpu
CUDA_PACK=$ROOT/.gpu-cuda/llama-cuda.tar.xz
W=$ROOT/.gpu-work # not under .gpu: the device tool replaces a carried path at each call
OUTD=${OUT:-$W/out}
mkdir -p "$W" "$OUTD"
PY=${MILL_BENCH_PY:-python3}
export HOME=${HOME:-/root} # the benchmarks cache their models under it
export MILL_BENCH_PY=$PY MILL_BENCH_THREADS=${MILL_BENCH_THREADS:-8} MILL_BENCH_REPS=${MILL_BENCH_REPS:-1}
log() { printf '%s gpu.sh: %s\n' "$(date -u +%T)" "$*" | tee -a "$OUTD/gpu.log"; }
[ $# -gt 0 ] || { echo "usage: bash bench/gpu.sh build|smoke|mmlu|vlm ..." >&2; exit 2; }

# find_libs BINARY: adds to LD_LIBRARY_PATH the folders of the libraries BINARY needs that the
# loader does not find (CUDA's, NCCL's, the driver's: a toolkit, Python wheels or a driver
# folder that ld.so.conf may not list). Only where nvidia-smi lists no GPU does a missing
# libcuda.so.1 become the toolkit's stub, so that ggml finds no CUDA device and everything runs
# on the CPU (a try of this script on a machine without a GPU).
find_libs() {
    local lib f missing found names
    for _ in 1 2 3; do # a library found can need more (libcublas: libcublasLt)
        missing=$(ldd "$1") || return 1
        missing=$(awk '/not found/ { print $1 }' <<<"$missing" | sort -u)
        [ -n "$missing" ] || break
        names=()
        for lib in $missing; do names+=(${names[0]:+-o} -name "$lib"); done
        # one walk for all of them: a Python environment under /opt is large, its file system slow
        # (not CUDA's stub, its forward-compatibility libcuda, nor 32-bit libraries)
        found=$(find /usr/local/nvidia/lib64 /usr/local /opt /usr/lib /usr/lib64 \( "${names[@]}" \) \
            -not -path '*/stubs/*' -not -path '*/compat/*' -not -path '*/lib32/*' \
            -not -path '*/i386-linux-gnu/*' -not -path '/usr/local/nvidia/lib/*' 2>/dev/null)
        for lib in $missing; do
            f=$(grep -m1 "/$lib\$" <<<"$found")
            if [ -z "$f" ] && [ "$lib" = libcuda.so.1 ] && [ "$GPU" = 0 ]; then
                f=$(find /usr/local/cuda*/ -path '*stubs/libcuda.so' -print -quit 2>/dev/null)
                [ -n "$f" ] || continue
                mkdir -p "$W/stub" && ln -sf "$f" "$W/stub/libcuda.so.1" && f=$W/stub/libcuda.so.1
                log "no GPU: CUDA's stub $f, so ggml sees no CUDA device"
            fi
            [ -n "$f" ] || continue
            case ":${LD_LIBRARY_PATH:-}:" in *":${f%/*}:"*) ;;
            *) export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}${f%/*} ;; esac
        done
    done
    missing=$(ldd "$1") || return 1
    ! grep 'not found' <<<"$missing" >&2
}

# untar ARCHIVE DIR: ARCHIVE's files into DIR, afresh unless DIR/.done holds its sha256.
untar() {
    local sum
    sum=$(sha256sum <"$1") || return 1
    [ "$(cat "$2/.done" 2>/dev/null)" = "$sum" ] && return 0
    rm -rf "$2" && mkdir -p "$2" || return 1
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2" &&
        echo "$sum" >"$2/.done"
}

# prebuilt: PREFIX becomes the llama.cpp gpu_pack.sh --cuda made (carried in .gpu-cuda now or by
# an earlier call, wholly unpacked) when it has CUDA for this GPU (any, where there is none) and
# loads here. 1: none, or for another architecture (a build here can help); 2: CUDA's or the
# driver's libraries are missing (a build here would miss them too).
prebuilt() {
    local p
    if [ -f "$CUDA_PACK" ]; then untar "$CUDA_PACK" "$W/prebuilt" || return 1; fi
    [ -f "$W/prebuilt/.done" ] || return 1
    p=$(ls -d "$W"/prebuilt/llama.cpp-*/ 2>/dev/null | head -1)
    p=${p%/}
    [ -n "$p" ] && grep -q 'cuda=ON' "$p/.stamp" 2>/dev/null || return 1
    if [ "$GPU" = 1 ] && ! grep -q " arch=$ARCH\$" "$p/.stamp"; then
        log "the carried llama.cpp is not for this GPU's architecture $ARCH: $(cat "$p/.stamp")"
        return 1
    fi
    find_libs "$p/bin/llama-mtmd-cli" ||
        { log "the carried llama.cpp does not load here (above: what is missing)"; return 2; }
    PREFIX=$p
}

deps() { # sets PREFIX to llama.cpp (MILL_GPU_PREFIX, carried, or built here once) and the
    # library paths
    local t0=$SECONDS
    PREFIX=${MILL_GPU_PREFIX:-}
    [ -n "$PREFIX" ] || prebuilt || [ $? = 1 ] || return 1
    if [ -z "$PREFIX" ]; then
        if [ "${MILL_GPU_BUILD:-1}" = 0 ] || [ ! -f "$PACK/llama-src.tar.xz" ]; then
            log "no llama.cpp here, and no build asked for (MILL_GPU_BUILD=0, or no .gpu carried):" \
                "a machine started afresh? carry .gpu-cuda again (gpu.sh llama)"
            return 1
        fi
        # For the GPU nvidia-smi reports (compute capability 9.0 -> 90), not CMake's detection.
        PREFIX=$(MILL_DEPS_DIR=$W/deps MILL_LLAMA_SOURCE=$PACK/llama-src.tar.xz \
            MILL_CUDA=${MILL_GPU_CUDA:-1} MILL_CUDA_ARCH=$ARCH \
            MILL_LLAMA_TOOLS="llama-mtmd-cli llama-perplexity" \
            bash "$ROOT/scripts/deps.sh" --llama-only | tail -1)
    fi
    [ -f "$PREFIX/.stamp" ] || return 1
    log "llama.cpp in $PREFIX ($((SECONDS - t0)) s): $(cat "$PREFIX/.stamp")"
    if [ "$GPU" = 1 ] && grep -q 'cuda=OFF' "$PREFIX/.stamp"; then
        log "a GPU but llama.cpp without CUDA (nvcc: $(command -v nvcc || echo none))"; return 1
    fi
    find_libs "$PREFIX/bin/llama-mtmd-cli"
}

unpack() { # mill's pack into $W/mill (again when it changed); bin/ holds wrappers that set the
    # library path, this run's, for mill alone
    local b
    untar "$PACK/mill.tar.xz" "$W/mill" || return 1
    [ -d "$W/mill/real" ] || mv "$W/mill/bin" "$W/mill/real" || return 1
    MILL_LIBS=$PREFIX/lib:$W/mill/lib:${LD_LIBRARY_PATH:-}
    rm -rf "$W/mill/bin" && mkdir "$W/mill/bin" || return 1
    for b in "$W/mill/real/"*; do
        printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$MILL_LIBS" "$b" \
            >"$W/mill/bin/${b##*/}" && chmod +x "$W/mill/bin/${b##*/}" || return 1
    done
}

step_llama() { # llama.cpp's libraries, what they load, and that CUDA starts with them
    ls -l "$PREFIX/lib" "$PREFIX/bin"
    LD_LIBRARY_PATH=$PREFIX/lib:${LD_LIBRARY_PATH:-} ldd -r "$PREFIX/lib/libggml-cuda.so" 2>&1 |
        grep -E 'cuda|cublas|nccl|not found|undefined'
    "$PREFIX/bin/llama-perplexity" --list-devices 2>&1 | tee "$W/devices.txt"
    [ "$GPU" = 0 ] || grep -q CUDA0 "$W/devices.txt"
}

step_build() { # what the machine is, and that mill loads with this llama.cpp
    nvidia-smi -L 2>&1
    command -v nvcc >/dev/null && nvcc --version | tail -2
    echo "$(nproc) CPUs; $(cmake --version | head -1); $(gcc --version | head -1)"
    ls "$PREFIX/lib" | tr '\n' ' '; echo
    ! LD_LIBRARY_PATH=$MILL_LIBS ldd "$W/mill/real/mill" |
        grep 'not found' || return 1
    "$W/mill/bin/mill" --version
}

step_smoke() {
    local d=$W/smoke vocab=$PREFIX/share/vocab/ggml-vocab-qwen2.gguf
    rm -rf "$d" && mkdir -p "$d"
    "$W/mill/bin/gen_llama" --vocab "$vocab" --out "$d/m40.gguf" --n_embd 128 --n_layer 4 \
        --n_head 4 --n_head_kv 2 --n_ff 256 --type f16 --seed 42 >/dev/null || return 1
    MILL_LOCAL_DATASETS=$ROOT/tests/data/mmlu MILL_CACHE_DIR=$d/cache "$W/mill/bin/mill" \
        --log_level debug --output_dir "$d/out" --limit 10 eval "llama[path=$d/m40.gguf]" \
        mmlu_abstract_algebra >/dev/null 2>"$d/err" || { tail -5 "$d/err"; return 1; }
    grep -m3 -E 'CUDA0|offloaded' "$d/err" | tee -a "$OUTD/gpu.log"
    "$PY" - "$d"/out/outputs/*/mmlu_abstract_algebra_5shot.json "$GPU" <<'PY' |
import json, sys
p = json.load(open(sys.argv[1]))
print("smoke: n_gpu_layers %s, flash_attn %s, %s decodes" % (
    p["n_gpu_layers"], p.get("flash_attn"), p.get("llama_decode_calls")))
sys.exit(0 if p["n_gpu_layers"] == (999 if sys.argv[2] == "1" else 0) else 1)
PY
        tee -a "$OUTD/gpu.log"
    local rc=${PIPESTATUS[0]}
    # The same questions on the CPU: how far the GPU's log-probabilities are (reported, not a
    # gate: a near tie may flip an is_greedy flag on random weights).
    [ "$GPU" = 1 ] || return "$rc"
    CUDA_VISIBLE_DEVICES='' MILL_LOCAL_DATASETS=$ROOT/tests/data/mmlu MILL_CACHE_DIR=$d/cache \
        "$W/mill/bin/mill" --output_dir "$d/cpu" --limit 10 eval "llama[path=$d/m40.gguf,n_gpu_layers=0]" \
        mmlu_abstract_algebra >/dev/null 2>>"$d/err" &&
        { "$PY" "$ROOT/tests/cli/compare_samples.py" "$d/out" "$d/cpu" mmlu_abstract_algebra_5shot 0.05 \
            2>&1 | tail -1 | sed 's/^/smoke: GPU vs CPU (within 0.05): /' | tee -a "$OUTD/gpu.log"; }
    return "$rc"
}

step_mmlu() {
    MILL_BENCH_SHAPE=0.6b MILL_BENCH_MMLU_TASKS=${MILL_GPU_MMLU_TASKS:-mmlu} \
        MILL_BENCH_LIMIT=${MILL_GPU_MMLU_LIMIT:-0} MILL_BENCH_WARM_LIMIT=5 \
        MILL_BENCH_TOL=${MILL_BENCH_TOL:-1e-3} MILL_LLAMA_PREFIX=$PREFIX \
        MILL_BENCH_VARIANTS=${MILL_GPU_MMLU_VARIANTS:-b16=batch_size=16} \
        timeout "${MILL_GPU_MMLU_TIMEOUT:-420}" bash "$HERE/mmlu_harness.sh" "$W/mill"
}

step_vlm() {
    MILL_BENCH_VLM_N=${MILL_BENCH_VLM_N:-16} MILL_LLAMA_PREFIX=$PREFIX \
        MILL_BENCH_CLI_ARGS="${MILL_BENCH_CLI_ARGS:--ngl 999}" bash "$HERE/vlm.sh" "$W/mill"
}

PREFIX="" MILL_LIBS=""
GPU=0
nvidia-smi -L 2>/dev/null | grep -q '^GPU' && GPU=1
ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
command -v nvcc >/dev/null || PATH=$PATH:/usr/local/cuda/bin
MILL=0
for s in "$@"; do
    case $s in llama) ;; build|smoke|mmlu|vlm) MILL=1 ;; *) echo "gpu.sh: unknown step $s" >&2; exit 2 ;; esac
done
deps || { log "no llama.cpp"; exit 1; }
[ "$MILL" = 0 ] || unpack || { log "unpacking mill failed"; exit 1; }
for s in "$@"; do
    log "step $s"
    t0=$SECONDS
    "step_$s" 2>&1 | tee "$OUTD/$s.txt"
    rc=${PIPESTATUS[0]}
    log "step $s: exit $rc after $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || exit "$rc"
done
