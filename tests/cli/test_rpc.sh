#!/usr/bin/env bash
# test_rpc.sh: the llama backend on llama.cpp RPC servers (`rpc=host:port;...`), against real
# ggml-rpc-server processes from the pinned llama.cpp build on loopback. Every layer lands on the
# RPC devices and the results equal a local run (log-probs to 1e-4, same generations); several
# servers split the model; unreachable and malformed endpoints are clear errors before anything
# runs; a server killed mid-run stops the run with exit 1, keeps the samples already written, and
# the same command without rpc= resumes from them. Every wait is for an event (a server's socket
# listening, the first samples on disk) with a bound, never for a clock.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
LLAMA=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
RPC_SERVER=$LLAMA/bin/ggml-rpc-server
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"

[ -x "$RPC_SERVER" ] || { echo "FAIL - $RPC_SERVER missing (scripts/deps.sh builds it)"; exit 1; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server NAME: a ggml-rpc-server on a free loopback port; sets $port and $pid. Ready when
# that very process listens on the port (read from /proc: a probe connection would be a client
# in its log, and another process that took the port in the meantime would answer it). A
# server that exits (the port was taken after free_port chose it) is retried on another port.
start_server() {
    local try st
    for try in 1 2 3; do
        port=$(free_port)
        "$RPC_SERVER" -H 127.0.0.1 -p "$port" -t 1 >"$tmp/$1.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        wait_for --pid "$pid" 120 listening "$pid" "$port"; st=$?
        [ $st -eq 0 ] && return 0
        [ $st -eq 1 ] && break
    done
    echo "rpc server $1 did not listen on port $port (try $try, status $st):"; cat "$tmp/$1.log"
    return 1
}

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"
cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
"$BUILD/bin/gen_llama" --out "$tmp/m.gguf" --vocab "$LLAMA/share/vocab/ggml-vocab-qwen2.gguf" \
    --n_embd 64 --n_layer 4 --seed 3 >/dev/null
TASKS=toy_cloze,toy_ppl,toy_qa

"$MILL" --output_dir "$tmp/o-local" eval "llama[path=$tmp/m.gguf]" $TASKS \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/local.err"
check "local run exits 0" "[ $? -eq 0 ]"
# n_gpu_layers left out: every layer where ggml finds a local GPU (a CUDA build of the pinned
# llama.cpp, MILL_CUDA=1 scripts/deps.sh, on a machine with one), else none.
want_ngl=0
ls "$LLAMA/lib/"libggml-cuda* >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU' &&
    want_ngl=999
check "local run: n_gpu_layers $want_ngl by default (no GPU backend or no GPU: 0)" \
    "$PY -c 'import json,glob,sys; p=json.load(open(glob.glob(\"$tmp/o-local/outputs/*/toy_cloze_1shot.json\")[0])); sys.exit(0 if p[\"n_gpu_layers\"] == $want_ngl else 1)'"

# One server: every layer on RPC0, same results as the local run.
start_server a; port_a=$port
"$MILL" --log_level debug --output_dir "$tmp/o-rpc" eval "llama[path=$tmp/m.gguf,rpc=127.0.0.1:$port_a]" \
    $TASKS --task_paths "$tmp/plug" >/dev/null 2>"$tmp/rpc.err"; rc=$?
check "rpc run exits 0" "[ $rc -eq 0 ]" || tail -5 "$tmp/rpc.err"
check "all layers assigned to the rpc device" \
    "[ \$(grep -c 'layer *[0-9]* assigned to device RPC0' '$tmp/rpc.err') -eq 5 ]"
check "the rpc server served a client" "grep -q 'Accepted client connection' '$tmp/a.log'"
for t in toy_cloze_1shot toy_ppl_0shot; do
    r=$(compare "$tmp/o-local" "$tmp/o-rpc" "$t" 1e-4 2>&1)
    check "$t: rpc == local to 1e-4 ($r)" "[[ '$r' == max* ]]"
done
r=$(compare "$tmp/o-local" "$tmp/o-rpc" toy_qa_2shot 0 2>&1)
check "toy_qa: rpc generations identical to local ($r)" "[[ '$r' == max* ]]"
check "provenance names the rpc server and the offload" \
    "$PY -c 'import json,glob,sys; p=json.load(open(glob.glob(\"$tmp/o-rpc/outputs/*/toy_cloze_1shot.json\")[0])); sys.exit(0 if p[\"rpc_servers\"] == [\"127.0.0.1:$port_a\"] and p[\"n_gpu_layers\"] == 999 else 1)'"

# One process, two models: the one without rpc= stays local even with n_gpu_layers set
# (ggml registers RPC servers for the whole process).
cp "$tmp/m.gguf" "$tmp/m2.gguf"
"$MILL" --log_level debug --output_dir "$tmp/o-two" eval \
    "llama[path=$tmp/m.gguf,rpc=127.0.0.1:$port_a],llama[path=$tmp/m2.gguf,n_gpu_layers=99]" \
    toy_cloze --task_paths "$tmp/plug" >/dev/null 2>"$tmp/two.err"; rc=$?
check "two models in one process: exit 0" "[ $rc -eq 0 ]"
check "the rpc model's layers on RPC0, the other model's on the CPU" \
    "[ \$(grep -c 'assigned to device RPC0' '$tmp/two.err') -eq 5 ] && [ \$(grep -c 'assigned to device CPU' '$tmp/two.err') -eq 5 ]"

# Two servers, ';'-separated: the layers are split between them.
start_server b; port_b=$port
"$MILL" --log_level debug --output_dir "$tmp/o-rpc2" eval \
    "llama[path=$tmp/m.gguf,rpc=127.0.0.1:$port_a;127.0.0.1:$port_b]" toy_cloze \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/rpc2.err"; rc=$?
check "two servers: exit 0" "[ $rc -eq 0 ]"
check "two servers: layers on both devices" \
    "grep -q 'assigned to device RPC0' '$tmp/rpc2.err' && grep -q 'assigned to device RPC1' '$tmp/rpc2.err'"
r=$(compare "$tmp/o-local" "$tmp/o-rpc2" toy_cloze_1shot 1e-4 2>&1)
check "two servers == local to 1e-4 ($r)" "[[ '$r' == max* ]]"

# Endpoints that cannot work: clear errors, nothing evaluated.
dead=$(free_port)
bad_rpc() { expect_exit "$1" "$2" "$3" --output_dir "$tmp/o-bad" \
    eval "llama[path=$tmp/m.gguf,rpc=$4]" toy_cloze --task_paths "$tmp/plug"; }
bad_rpc "unreachable server: exit 1 naming it" 1 "cannot reach rpc server 127.0.0.1:$dead" \
    "127.0.0.1:$dead"
bad_rpc "endpoint without a port: usage error" 2 "rpc server 'localhost' is not host:port" \
    localhost
bad_rpc "servers separated by ',' in a spec: usage error with the ';' hint" 2 \
    "separate several rpc servers with ';'" "127.0.0.1:$port_a,127.0.0.1:$port_b"
check "no samples written by the failed runs" "[ -z \"\$(find '$tmp/o-bad' -name '*.jsonl' -size +0)\" ]"

# A server killed mid-run: exit 1 with llama.cpp's reason, samples kept, resume completes. The
# run is frozen (SIGSTOP) as soon as its first samples are on disk, so what is left to do is
# known and cannot shrink while the server is killed; then it goes on (SIGCONT) against a dead
# server.
start_server c; pid_c=$pid
"$BUILD/bin/gen_llama" --out "$tmp/big.gguf" --vocab tiny --n_embd 256 --n_layer 4 --seed 5 >/dev/null
mkdir -p "$tmp/long/toy_data"   # toy_qa with 400 questions: several batches of 64 docs
cp "$BUILD/plugins/toy.so" "$tmp/long/"
cp "$SRC/tests/plugins/toy_data/"* "$tmp/long/toy_data/"
for _ in $(seq 60); do cat "$SRC/tests/plugins/toy_data/qa_test.jsonl"; done | head -400 \
    >"$tmp/long/toy_data/qa_test.jsonl"
total=$("$MILL" prompts toy_qa --task_paths "$tmp/long" 2>/dev/null | wc -l)
"$MILL" --output_dir "$tmp/o-drop" eval "llama[path=$tmp/big.gguf,rpc=127.0.0.1:$port,batch_size=1]" \
    toy_qa --task_paths "$tmp/long" >/dev/null 2>"$tmp/drop.err" &
mpid=$!
jsonl=
first_samples() {
    jsonl=$(ls "$tmp"/o-drop/outputs/*/toy_qa_2shot.jsonl 2>/dev/null)
    [ -n "$jsonl" ] && [ "$(wc -l <"$jsonl")" -ge 1 ]
}
wait_for --pid "$mpid" 600 first_samples; st=$?
kill -STOP "$mpid" 2>/dev/null
at_stop=$( [ -n "$jsonl" ] && wc -l <"$jsonl" || echo 0)
check "the run was caught mid-way: samples on disk, not all ($at_stop of $total; wait status $st)" \
    "[ $st -eq 0 ] && [ $at_stop -ge 1 ] && [ $at_stop -lt $total ]"
kill "$pid_c"
wait "$pid_c" 2>/dev/null
kill -CONT "$mpid" 2>/dev/null
wait "$mpid"; rc=$?
kept=$(cat "$jsonl" 2>/dev/null | wc -l)
check "server killed mid-run: exit 1 (got $rc)" "[ $rc -eq 1 ]"
check "the reason and the resume hint are printed" \
    "grep -q 'llama.cpp stopped the run' '$tmp/drop.err' && grep -q 'run the same command again to resume' '$tmp/drop.err'"
check "samples written before the drop are kept ($kept of $total)" "[ $kept -gt 0 ] && [ $kept -lt $total ]"
"$MILL" --output_dir "$tmp/o-drop" eval "llama[path=$tmp/big.gguf,batch_size=1]" toy_qa \
    --task_paths "$tmp/long" >/dev/null 2>"$tmp/resume.err"; rc=$?
check "resume without rpc completes from the kept samples" \
    "[ $rc -eq 0 ] && [ \$(wc -l <'$jsonl') -eq $total ] && grep -q '$kept resumed' '$tmp/resume.err'"

finish
