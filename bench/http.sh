#!/usr/bin/env bash
# http.sh: the openai backend against llama.cpp's llama-server with several slots (issue 11):
# requests in flight and the harness's own cost per request.
#
#   bash bench/http.sh [BUILD_DIR]        (default: the checkout's build/)
#
# llama-server (the pinned build) serves a generated random-weight model (llama-spm vocabulary,
# F16, n_embd MILL_BENCH_EMBD (512), MILL_BENCH_LAYERS layers (8), n_ff 3 x n_embd, chatml
# template) with MILL_BENCH_SLOTS slots (8), continuous
# batching, MILL_BENCH_THREADS threads (1: on a shared 2-core VM two llama.cpp threads stall on
# each other's barrier whenever one is descheduled, and one request's time varied 30-fold) and
# 512 tokens of context per slot. The task is the
# toy plugin's toy_long (2-shot QA prompts of ~40 tokens, no stop string) over MILL_BENCH_DOCS
# generated questions (32), all in one batch (--batch_docs), so concurrency alone differs
# between runs; fields passed through the spec make every answer exactly MILL_BENCH_TOKENS (16)
# tokens (max_tokens, ignore_eos) and turn llama-server's prompt cache off (cache_prompt), so
# every run does the same work.
# 1. concurrency=8 against concurrency=1: requests/s over the time spent in the HTTP engine
#    (the provenance's http_seconds), MILL_BENCH_REPS back-to-back pairs (3), the ratio of each
#    pair and their median; the generations of the two must be identical (greedy, the server's
#    batching aside).
# 2. Harness overhead per request: mill's CPU time (user + system, from wait4) of a run of
#    4 × MILL_BENCH_DOCS requests minus that of a run of one request (start-up, plugin, probe),
#    divided by the difference in requests: what building, sending, parsing and writing one
#    request costs mill itself (goal ≤ 1 ms). The server's time is not in it: llama-server runs
#    in its own process.
# Prints a table; writes nothing outside a temporary directory and the model cache
# ($HOME/.cache/mill/bench). MILL_LLAMA_PREFIX: the llama.cpp install (default
# $HOME/.cache/mill/deps/llama.cpp-v0.5.0); MILL_BENCH_KEEP=1 keeps the work dir.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "http.sh: no build dir ${1:-$ROOT/build}" >&2; exit 2; }
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
CACHE=$HOME/.cache/mill/bench
REPS=${MILL_BENCH_REPS:-3}
THREADS=${MILL_BENCH_THREADS:-1}
SLOTS=${MILL_BENCH_SLOTS:-8}
DOCS=${MILL_BENCH_DOCS:-32}
TOKENS=${MILL_BENCH_TOKENS:-16}
MILL="$BUILD/bin/mill"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for x in "$MILL" "$BUILD/bin/gen_llama" "$BUILD/plugins/toy.so" "$PREFIX/bin/llama-server" \
         "$PREFIX/share/vocab/ggml-vocab-llama-spm.gguf"; do
    [ -e "$x" ] || { echo "http.sh: $x missing (build first; scripts/deps.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    [ "${MILL_BENCH_KEEP:-0}" = 1 ] && echo "work dir: $work" || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$CACHE"
EMBD=${MILL_BENCH_EMBD:-512}
LAYERS=${MILL_BENCH_LAYERS:-8}
MODEL=$CACHE/http-spm-e$EMBD-l$LAYERS-f16.gguf
if [ ! -s "$MODEL" ]; then
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-llama-spm.gguf" --out "$MODEL.tmp" \
        --n_embd "$EMBD" --n_layer "$LAYERS" --n_head 8 --n_head_kv 4 --n_ff $((EMBD * 3)) \
        --type f16 --chat_template chatml --seed 3 >/dev/null && mv "$MODEL.tmp" "$MODEL" ||
        { echo "http.sh: gen_llama failed" >&2; exit 1; }
fi

# The toy plugin with DOCS x 4 generated questions (runs take the first DOCS, or all of them).
mkdir -p "$work/plug"
cp "$BUILD/plugins/toy.so" "$work/plug/"
cp -r "$ROOT/tests/plugins/toy_data" "$work/plug/"
"$PY" - "$work/plug/toy_data/long_test.jsonl" "$((DOCS * 4))" <<'PY'
import json, random, sys
rng = random.Random(11)
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        f.write(json.dumps({"q": "What is %d+%d?" % (a, b), "a": str(a + b)}) + "\n")
PY

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PREFIX/bin/llama-server" -m "$MODEL" --host 127.0.0.1 --port "$port" -np "$SLOTS" \
    -c $((SLOTS * 512)) -cb -t "$THREADS" --no-webui >"$work/llama-server.log" 2>&1 &
srv=$!
ready=0
for _ in $(seq 2400); do # 120 s at most; the event is /health answering 200
    kill -0 "$srv" 2>/dev/null || break
    if "$PY" -c 'import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)' \
        "http://127.0.0.1:$port/health" 2>/dev/null; then ready=1; break; fi
    sleep 0.05
done
[ "$ready" = 1 ] || { echo "http.sh: llama-server did not start: $(tail -3 "$work/llama-server.log")" >&2; exit 1; }
URL=http://127.0.0.1:$port/v1

# run OUT CONCURRENCY LIMIT: one mill run; prints "cpu_seconds wall_seconds"
run() {
    "$PY" - "$MILL" "$1" "$2" "$3" "$URL" "$work/plug" "$TOKENS" <<'PY'
import os, subprocess, sys, time
mill, out, conc, limit, url, plug, tokens = sys.argv[1:8]
t = time.monotonic()
spec = ("openai[model=bench,base_url=%s,concurrency=%s,max_tokens=%s,ignore_eos=true,"
        "cache_prompt=false]" % (url, conc, tokens))
p = subprocess.Popen([mill, "--output_dir", out, "--limit", limit, "eval", spec, "toy_long",
                      "--task_paths", plug, "--batch_docs", "100000"],
                     stdout=subprocess.DEVNULL, stderr=open(out + ".err", "w"))
_, status, ru = os.wait4(p.pid, 0)
wall = time.monotonic() - t
if status != 0:
    sys.exit("mill failed (%d): see %s.err" % (status, out))
print("%.6f %.3f" % (ru.ru_utime + ru.ru_stime, wall))
PY
}
# stat OUT KEY: a number from the job's provenance
stat() { "$PY" -c 'import glob, json, sys
print(json.load(open(glob.glob(sys.argv[1] + "/outputs/*/toy_long_2shot.json")[0]))[sys.argv[2]])' "$1" "$2"; }

echo "llama-server: $SLOTS slots, $THREADS threads, $(basename "$MODEL"); toy_long, $DOCS requests of $TOKENS tokens per run"
rows=()
for r in $(seq "$REPS"); do
    for c in 1 8; do
        run "$work/c$c-$r" "$c" "$DOCS" >"$work/c$c-$r.t" || exit 1
    done
    s1=$(stat "$work/c1-$r" http_seconds)
    s8=$(stat "$work/c8-$r" http_seconds)
    rows+=("$s1 $s8")
done
same=$("$PY" - "$work" "$REPS" <<'PY'
import glob, json, sys
w, reps = sys.argv[1], int(sys.argv[2])
def preds(d):
    rows = [json.loads(l) for l in open(glob.glob(d + "/outputs/*/toy_long_2shot.jsonl")[0])]
    assert all("error" not in r for r in rows), "failed samples"
    return [r["prediction"] for r in sorted(rows, key=lambda r: r["doc_id"])]
ref = preds("%s/c1-1" % w)
print("yes" if all(preds("%s/c%d-%d" % (w, c, r)) == ref for c in (1, 8)
                   for r in range(1, reps + 1)) else "NO")
PY
)

big=$((DOCS * 4))
run "$work/one" 8 1 >"$work/one.t" || exit 1
run "$work/big" 8 "$big" >"$work/big.t" || exit 1

"$PY" - "$DOCS" "$big" "$work/one.t" "$work/big.t" "$same" "${rows[@]}" <<'PY'
import statistics, sys
docs, big = int(sys.argv[1]), int(sys.argv[2])
one = [float(x) for x in open(sys.argv[3]).read().split()]
bg = [float(x) for x in open(sys.argv[4]).read().split()]
same = sys.argv[5]
pairs = [tuple(float(x) for x in r.split()) for r in sys.argv[6:]]
print()
print("| pair | concurrency=1 req/s | concurrency=8 req/s | ratio |")
print("|---|---|---|---|")
ratios = []
for i, (s1, s8) in enumerate(pairs, 1):
    ratios.append(s1 / s8)
    print("| %d | %.2f | %.2f | %.2f× |" % (i, docs / s1, docs / s8, s1 / s8))
print()
print("median ratio concurrency=8 / concurrency=1: %.2f× (goal ≥ 3× on a GPU)" % statistics.median(ratios))
print("generations identical at concurrency 1 and 8: %s" % same)
per = (bg[0] - one[0]) / (big - 1) * 1000
print("harness CPU: %.3f s for 1 request, %.3f s for %d (wall %.1f s): %.3f ms per request (goal ≤ 1 ms)"
      % (one[0], bg[0], big, bg[1], per))
PY
