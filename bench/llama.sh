#!/usr/bin/env bash
# llama.sh: benchmarks of the llama backend against its peers, on a random-weight model with
# Qwen3-0.6B's shape (F16, 28 layers, n_embd 1024, Qwen2 vocabulary of 151k tokens).
#
#   bash bench/llama.sh [BUILD_DIR]        (default: the checkout's build/)
#
# 1. MMLU log-likelihood, real cais/mmlu subjects, 5-shot: mill's fast path (shared few-shot
#    prefix, one decode scores " A".." D") against (a) the same backend with naive=true (every
#    request alone from an empty cache) and (b) llama.cpp's own `llama-perplexity
#    --multiple-choice` fed the exact prompts of `mill prompts`. Fast and naive must agree on
#    every prediction.
# 2. Batched greedy generation (toy_qa, 32 questions, 16 new tokens): batch_size=8 against
#    batch_size=1, as tokens/s of the generation steps (decodes where every token wants
#    logits), prefill excluded: a step that admits requests carries their prompts, so it
#    counts as prefill, with the first answer token of each, at both batch sizes (here
#    requests are admitted in waves of 8, so such steps carry few continuing sequences);
#    also the ratio of each back-to-back pair of runs and their
#    median (the machine's speed drifts between runs). Harness share: from the provenance
#    files (job seconds minus time inside llama_decode and the model load).
# 3. Flash attention in generation steps as the cached context grows (bench/llama_attn.c):
#    the backend's context with and without it, same process, batch 1 and 8, at
#    MILL_BENCH_ATTN_LENGTHS tokens per sequence (64,256,768), MILL_BENCH_ATTN_ROUNDS (3).
#
# Tokens and time are counted by a tiny LD_PRELOAD shim around llama_decode (compiled here from
# $MILL_LLAMA_PREFIX/include/llama.h), the same way for mill and llama-perplexity:
#   load  = process start -> first llama_decode        (model load, sha256, tokenising, ...)
#   eval  = first llama_decode start -> last one's end  (what the ratios compare)
#   wall  = the whole command
# Each figure is the best (minimum) of MILL_BENCH_REPS runs (3). Prints a table; writes nothing
# outside a temporary directory and the model cache ($HOME/.cache/mill/bench).
#
# Environment: MILL_LLAMA_PREFIX (llama.cpp install, default
# $HOME/.cache/mill/deps/llama.cpp-v0.5.0), MILL_BENCH_REPS (3), MILL_BENCH_THREADS (2),
# MILL_BENCH_MMLU_DIR (the Hub layout of cais/mmlu, default tests/data/mmlu/cais_mmlu;
# unused when MILL_LOCAL_DATASETS already holds cais_mmlu/), MILL_BENCH_MMLU_TASKS,
# MILL_BENCH_MMLU_LIMIT (questions per subject), MILL_BENCH_PPL_CTX (llama-perplexity -c, 2048),
# MILL_BENCH_SKIP (comma list of: fast, naive, ppl, gen, attn), MILL_BENCH_KEEP=1 keeps the
# work dir, MILL_BENCH_TYPE (weight type of the generated model: f16, bf16, f32, q8_0 or q4_0;
# default f16), MILL_BENCH_ARGS (more llama backend arguments for every mill run, e.g.
# flash_attn=off),
# MILL_BENCH_TASK_PATHS (plugins for MILL_BENCH_MMLU_TASKS, e.g. to try the script on toy_cloze).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "llama.sh: no build dir ${1:-$ROOT/build}" >&2; exit 2; }
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
CACHE=$HOME/.cache/mill/bench
REPS=${MILL_BENCH_REPS:-3}
THREADS=${MILL_BENCH_THREADS:-2}
TASKS=${MILL_BENCH_MMLU_TASKS:-mmlu_high_school_geography,mmlu_marketing}
LIMIT=${MILL_BENCH_MMLU_LIMIT:-40}
MMLU_DIR=${MILL_BENCH_MMLU_DIR:-$ROOT/tests/data/mmlu/cais_mmlu}
PPL_CTX=${MILL_BENCH_PPL_CTX:-2048}
SKIP=",${MILL_BENCH_SKIP:-},"
XTRA=()
[ -n "${MILL_BENCH_TASK_PATHS:-}" ] && XTRA=(--task_paths "$MILL_BENCH_TASK_PATHS")
MILL="$BUILD/bin/mill"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
WTYPE=${MILL_BENCH_TYPE:-f16}
case $WTYPE in f16) MODEL="$CACHE/qwen3-0.6b-shape.gguf" ;; f32|bf16|q8_0|q4_0) MODEL="$CACHE/qwen3-0.6b-shape-$WTYPE.gguf" ;;
    *) echo "llama.sh: MILL_BENCH_TYPE must be f16, bf16, f32, q8_0 or q4_0" >&2; exit 2 ;; esac
STATUS=0

fail() { echo "llama.sh: $*" >&2; STATUS=1; }
skipped() { [[ "$SKIP" == *",$1,"* ]]; }

for b in "$MILL" "$BUILD/bin/gen_llama"; do
    [ -x "$b" ] || { echo "llama.sh: $b missing (cmake --build $BUILD --target mill_cli gen_llama)" >&2; exit 2; }
done
[ -f "$PREFIX/include/llama.h" ] || { echo "llama.sh: no llama.cpp at $PREFIX (MILL_LLAMA_PREFIX)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/mill-bench-llama.XXXXXX")
if [ "${MILL_BENCH_KEEP:-0}" = 1 ]; then echo "work dir: $W"; else trap 'rm -rf "$W"' EXIT; fi

# ---- the model, once ---------------------------------------------------------------------
mkdir -p "$CACHE"
if [ ! -s "$MODEL" ]; then
    echo "== generating $MODEL (random weights, Qwen3-0.6B shape, $WTYPE)"
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
        --out "$MODEL.tmp.gguf" --n_embd 1024 --n_layer 28 --n_head 16 --n_head_kv 8 \
        --n_ff 3072 --type "$WTYPE" >/dev/null && mv "$MODEL.tmp.gguf" "$MODEL" ||
        { rm -f "$MODEL.tmp.gguf"; echo "llama.sh: gen_llama failed" >&2; exit 2; }
fi

# ---- the llama_decode counter --------------------------------------------------------------
cat > "$W/count.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <llama.h>
static long long calls, toks, outs, all_out_toks;
static double t_in, t_gen, t_first = -1, t_last, t_start;
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
__attribute__((constructor)) static void init(void) { t_start = now(); }
int32_t llama_decode(struct llama_context *ctx, struct llama_batch b) {
    static int32_t (*real)(struct llama_context *, struct llama_batch);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "llama_decode");
    long long o = 0;
    for (int i = 0; i < b.n_tokens; i++)
        o += b.logits ? b.logits[i] != 0 : i == b.n_tokens - 1;
    double t0 = now();
    if (t_first < 0)
        t_first = t0;
    int32_t rc = real(ctx, b);
    t_last = now();
    t_in += t_last - t0;
    calls++;
    toks += b.n_tokens;
    outs += o;
    if (o == b.n_tokens) { /* generation steps; a step that admits requests carries prompts */
        all_out_toks += b.n_tokens;
        t_gen += t_last - t0;
    }
    return rc;
}
__attribute__((destructor)) static void fini(void) {
    const char *p = getenv("MILL_BENCH_COUNT_FILE");
    FILE *f = p ? fopen(p, "w") : NULL;
    if (!f)
        return;
    fprintf(f, "{\"calls\":%lld,\"tokens\":%lld,\"outputs\":%lld,\"gen_tokens\":%lld,"
               "\"decode_s\":%.6f,\"gen_s\":%.6f,\"load_s\":%.6f,\"eval_s\":%.6f}\n", calls, toks,
            outs, all_out_toks, t_in, t_gen, t_first < 0 ? 0 : t_first - t_start,
            t_first < 0 ? 0 : t_last - t_first);
    fclose(f);
}
C
SHIM="$W/count.so"
${CC:-cc} -std=c11 -O2 -shared -fPIC -I"$PREFIX/include" "$W/count.c" -o "$SHIM" -ldl ||
    { echo "llama.sh: cannot compile the llama_decode counter" >&2; exit 2; }

# ---- helpers (Python 3 standard library only) -------------------------------------------------
cat > "$W/bench.py" <<'PY'
import glob, json, os, re, struct, sys

def to_mc(prompts, out):
    """mill prompts JSON lines -> llama-perplexity's multiple-choice file: uint32 n_task,
    uint32 byte offset of each task, then per task: question (uint32 length + bytes), mc1
    (uint32 n, n strings, n int32 labels), mc2 (uint32 0). The tool scores question + " " +
    answer, so the choices' leading space is dropped."""
    tasks = []
    for line in open(prompts, encoding="utf-8"):
        d = json.loads(line)
        q, ch, tgt = d["context"], d["choices"], d["target"]
        if not ch or any(not c.startswith(" ") for c in ch):
            sys.exit("to_mc: %s doc %s: choices must start with a space" % (d["task"], d["doc_id"]))
        s = lambda x: struct.pack("<I", len(x.encode())) + x.encode()
        rec = s(q) + struct.pack("<I", len(ch)) + b"".join(s(c[1:]) for c in ch)
        rec += struct.pack("<%di" % len(ch), *[int(i == tgt) for i in range(len(ch))])
        rec += struct.pack("<I", 0)
        tasks.append((d["task"], d["doc_id"], rec))
    head = 4 + 4 * len(tasks)
    pos, offs = head, []
    for t in tasks:
        offs.append(pos)
        pos += len(t[2])
    with open(out, "wb") as f:
        f.write(struct.pack("<I", len(tasks)) + struct.pack("<%dI" % len(tasks), *offs))
        for t in tasks:
            f.write(t[2])
    json.dump([[t[0], t[1]] for t in tasks], open(out + ".order", "w"))
    print(len(tasks))

def samples(outdir):
    r = {}
    for p in glob.glob(os.path.join(outdir, "outputs", "*", "*.jsonl")):
        for line in open(p, encoding="utf-8"):
            d = json.loads(line)
            r[(d["task"], d["doc_id"])] = d
    return r

def agree(a, b, kind):
    """Same per-sample predictions (and, for log-likelihoods, the largest logprob gap)."""
    A, B = samples(a), samples(b)
    keys = sorted(set(A) | set(B))
    same = sum(1 for k in keys if k in A and k in B and A[k]["prediction"] == B[k]["prediction"])
    gap = 0.0
    if kind == "ll":
        for k in keys:
            if k in A and k in B:
                for x, y in zip(A[k]["responses"], B[k]["responses"]):
                    gap = max(gap, abs(x[0] - y[0]))
    acc = lambda S: sum(d.get("acc", d.get("exact_match", 0.0)) for d in S.values()) / max(len(S), 1)
    print(json.dumps({"n": len(keys), "same": same, "max_logprob_gap": gap,
                      "acc_a": acc(A), "acc_b": acc(B)}))

def ppl_check(log, order, mill_out):
    """llama-perplexity prints the running accuracy after each task; the increments give each
    task's correctness, compared with mill's acc for the same question."""
    order = json.load(open(order))
    run = [float(m.group(2)) for m in
           (re.match(r"^(\d+)\t([0-9.]+)\s*$", l) for l in open(log, errors="replace")) if m]
    final = re.search(r"Final result: ([0-9.]+)", open(log, errors="replace").read())
    corr, prev = [], 0
    for i, a in enumerate(run, 1):
        c = round(a * i / 100)
        corr.append(c - prev)
        prev = c
    S = samples(mill_out)
    same = sum(1 for (t, i), c in zip(order, corr) if (t, i) in S and S[(t, i)]["acc"] == c)
    print(json.dumps({"n": len(corr), "same_correctness": same,
                      "acc": float(final.group(1)) / 100 if final else None}))

def harness(outdir):
    """From mill's provenance files: the jobs' seconds, the part inside llama_decode and the
    model load; the rest is the harness (data, prompts, tokenising, batching, scoring, writing)."""
    t = {"seconds": 0.0, "decode_seconds": 0.0, "model_load_seconds": 0.0, "tokens_decoded": 0}
    for p in glob.glob(os.path.join(outdir, "outputs", "*", "*.json")):
        d = json.load(open(p))
        for k in t:
            t[k] += d.get(k, 0)
    return t

def best(files):
    runs = [json.load(open(f)) for f in files]
    b = {k: min(r[k] for r in runs) for k in runs[0]}
    for k in ("calls", "tokens", "outputs", "gen_tokens"):
        if len({r[k] for r in runs}) > 1:
            b[k + "_varies"] = sorted({r[k] for r in runs})
    return b

def summary(w, reps):
    R = {}
    for name in ("fast", "naive", "ppl", "gen8", "gen1"):
        fs = [os.path.join(w, "%s.%d.json" % (name, i)) for i in range(1, reps + 1)]
        fs = [f for f in fs if os.path.exists(f)]
        if fs:
            R[name] = best(fs)
    J = lambda n: json.load(open(os.path.join(w, n))) if os.path.exists(os.path.join(w, n)) else None
    label = {"fast": "mill fast", "naive": "mill naive=true", "ppl": "llama-perplexity",
             "gen8": "gen batch_size=8", "gen1": "gen batch_size=1"}
    print("best of %d runs; load = start -> first llama_decode, eval = first -> last "
          "llama_decode; tok/s = tokens / eval s (gen rows: generated tokens / time in "
          "generation decodes)" % reps)
    print("%-18s %9s %9s %9s %9s %10s %8s %9s" % ("run", "wall s", "load s", "eval s",
          "decode s", "tokens", "decodes", "tok/s"))
    for n, r in R.items():
        tps = r["tokens"] / r["eval_s"] if r["eval_s"] else 0
        if n.startswith("gen"):  # generation steps only (prefill excluded)
            tps = r["gen_tokens"] / r["gen_s"] if r["gen_s"] else 0
        print("%-18s %9.2f %9.2f %9.2f %9.2f %10d %8d %9.1f" % (label[n], r["wall_s"],
              r["load_s"], r["eval_s"], r["decode_s"], r["tokens"], r["calls"], tps))
        for k in r:
            if k.endswith("_varies"):
                print("  note: %s differs between runs: %s" % (k[:-7], r[k]))
    print()
    goal = lambda ok: "meets goal" if ok else "MISSES goal"
    if "fast" in R and "naive" in R:
        f, n = R["fast"], R["naive"]
        x = f["tokens"] / n["tokens"]
        print("MMLU decoded tokens fast/naive       %8.3f   (goal <= 0.15: %s)" % (x, goal(x <= 0.15)))
        x = n["eval_s"] / f["eval_s"]
        print("MMLU speed-up vs naive (eval)        %8.2fx  (goal >= 5x: %s; wall %.2fx)" %
              (x, goal(x >= 5), n["wall_s"] / f["wall_s"]))
    if "fast" in R and "ppl" in R:
        f, p = R["fast"], R["ppl"]
        x = p["eval_s"] / f["eval_s"]
        print("MMLU speed-up vs llama-perplexity    %8.2fx  (goal >= 2x: %s; wall %.2fx; "
              "tokens fast/ppl %.3f)" % (x, goal(x >= 2), p["wall_s"] / f["wall_s"],
                                        f["tokens"] / p["tokens"]))
    a = J("agree_mmlu.json")
    if a:
        print("MMLU fast vs naive predictions       %d/%d identical, max |logprob gap| %.2e, "
              "acc %.4f / %.4f" % (a["same"], a["n"], a["max_logprob_gap"], a["acc_a"], a["acc_b"]))
    p = J("agree_ppl.json")
    if p:
        print("MMLU llama-perplexity vs mill        same correctness on %d/%d, acc %s" %
              (p["same_correctness"], p["n"], "%.4f" % p["acc"] if p["acc"] is not None else "?"))
    if "gen8" in R and "gen1" in R:
        g8, g1 = R["gen8"], R["gen1"]
        x = (g8["gen_tokens"] / g8["gen_s"]) / (g1["gen_tokens"] / g1["gen_s"])
        print("gen tokens/s batch_size=8 / =1       %8.2fx  (goal >= 3x: %s; %.1f vs %.1f tok/s in "
              "generation steps; whole eval incl. prefill %.2fx)" % (x, goal(x >= 3),
              g8["gen_tokens"] / g8["gen_s"], g1["gen_tokens"] / g1["gen_s"],
              g1["eval_s"] / g8["eval_s"]))
        pairs = []  # run i of batch 8 against run i of batch 1: they ran back to back
        for i in range(1, reps + 1):
            f8, f1 = (os.path.join(w, "gen%d.%d.json" % (b, i)) for b in (8, 1))
            if os.path.exists(f8) and os.path.exists(f1):
                a, b = json.load(open(f8)), json.load(open(f1))
                pairs.append((a["gen_tokens"] / a["gen_s"]) / (b["gen_tokens"] / b["gen_s"]))
        if len(pairs) > 1:
            srt = sorted(pairs)
            med = (srt[(len(srt) - 1) // 2] + srt[len(srt) // 2]) / 2
            print("  per run pair (8 then 1, back to back): %s; median %.2fx" %
                  (", ".join("%.2f" % x for x in pairs), med))
    for name in ("fast", "gen8"):
        hs = [harness(os.path.join(w, "%s.%d.out" % (name, i))) for i in range(1, reps + 1)]
        hs = [h for h in hs if h["seconds"] > 0]
        if hs:
            h = min(hs, key=lambda h: h["seconds"] - h["decode_seconds"] - h["model_load_seconds"])
            out = h["seconds"] - h["decode_seconds"] - h["model_load_seconds"]
            x = out / (h["seconds"] - h["model_load_seconds"])
            print("%-5s harness time outside llama_decode %6.1f%%   (goal <= 5%%: %s; %.2f s of "
                  "%.2f s job time, model load %.2f s excluded; %d tokens decoded)" % (name, 100 * x,
                  goal(x <= 0.05), out, h["seconds"] - h["model_load_seconds"],
                  h["model_load_seconds"], h["tokens_decoded"]))
    g = J("agree_gen.json")
    if g:
        print("gen batch 8 vs 1 predictions         %d/%d identical" % (g["same"], g["n"]))

cmd = sys.argv[1]
if cmd == "to_mc": to_mc(sys.argv[2], sys.argv[3])
elif cmd == "agree": agree(sys.argv[2], sys.argv[3], sys.argv[4])
elif cmd == "ppl_check": ppl_check(sys.argv[2], sys.argv[3], sys.argv[4])
elif cmd == "summary": summary(sys.argv[2], int(sys.argv[3]))
PY

# run NAME REP CMD...: runs CMD under the counter; NAME.REP.json gets the counts and wall time.
run() {
    local name=$1 rep=$2
    shift 2
    local t0 t1 rc
    t0=$(date +%s.%N)
    env LD_PRELOAD="$SHIM" MILL_BENCH_COUNT_FILE="$W/$name.$rep.count" "$@" \
        > "$W/$name.$rep.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc -ne 0 ] || [ ! -s "$W/$name.$rep.count" ]; then
        fail "$name (run $rep) failed with status $rc; last lines of its log:"
        tail -n 15 "$W/$name.$rep.log" >&2
        return 1
    fi
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["wall_s"]=float(sys.argv[3])-float(sys.argv[2]); json.dump(d,open(sys.argv[4],"w"))' \
        "$W/$name.$rep.count" "$t0" "$t1" "$W/$name.$rep.json"
    printf '   %-6s run %d: %s\n' "$name" "$rep" "$(cat "$W/$name.$rep.json")"
}

SPEC="llama[path=$MODEL,threads=$THREADS${MILL_BENCH_ARGS:+,$MILL_BENCH_ARGS}"

# ---- 1. MMLU log-likelihood ----------------------------------------------------------------
mmlu() {
    if [ -z "${MILL_LOCAL_DATASETS:-}" ] || [ ! -d "$MILL_LOCAL_DATASETS/cais_mmlu" ]; then
        [ -d "$MMLU_DIR" ] || { fail "no MMLU data at $MMLU_DIR (MILL_BENCH_MMLU_DIR)"; return; }
        mkdir -p "$W/datasets"
        ln -s "$MMLU_DIR" "$W/datasets/cais_mmlu"
        export MILL_LOCAL_DATASETS="$W/datasets"
    fi
    echo "== MMLU: $TASKS, --limit $LIMIT, 5-shot (MILL_LOCAL_DATASETS=$MILL_LOCAL_DATASETS)"
    "$MILL" prompts "$TASKS" --limit "$LIMIT" "${XTRA[@]}" > "$W/prompts.jsonl" 2> "$W/prompts.err" ||
        { fail "mill prompts failed:"; cat "$W/prompts.err" >&2; return; }
    local n
    n=$("$PY" "$W/bench.py" to_mc "$W/prompts.jsonl" "$W/mc.bin") || { fail "to_mc failed"; return; }
    echo "   $n questions"
    for rep in $(seq 1 "$REPS"); do
        skipped fast || run fast "$rep" "$MILL" eval "$SPEC]" "$TASKS" --limit "$LIMIT" "${XTRA[@]}" \
            --output_dir "$W/fast.$rep.out"
        skipped naive || run naive "$rep" "$MILL" eval "$SPEC,naive=true]" "$TASKS" \
            --limit "$LIMIT" "${XTRA[@]}" --output_dir "$W/naive.$rep.out"
        if ! skipped ppl; then
            if [ -x "$PREFIX/bin/llama-perplexity" ]; then
                run ppl "$rep" "$PREFIX/bin/llama-perplexity" -m "$MODEL" -bf "$W/mc.bin" \
                    --multiple-choice --multiple-choice-tasks "$n" -t "$THREADS" -tb "$THREADS" \
                    -c "$PPL_CTX" -b "$PPL_CTX" -fa off --no-warmup
            else
                echo "   (no $PREFIX/bin/llama-perplexity: peer skipped)"
            fi
        fi
    done
    if [ -d "$W/fast.1.out" ] && [ -d "$W/naive.1.out" ]; then
        "$PY" "$W/bench.py" agree "$W/fast.1.out" "$W/naive.1.out" ll > "$W/agree_mmlu.json"
        "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["same"]!=d["n"])' \
            "$W/agree_mmlu.json" || fail "fast and naive predictions differ: $(cat "$W/agree_mmlu.json")"
    fi
    if [ -s "$W/ppl.1.log" ] && [ -d "$W/fast.1.out" ]; then
        "$PY" "$W/bench.py" ppl_check "$W/ppl.1.log" "$W/mc.bin.order" "$W/fast.1.out" \
            > "$W/agree_ppl.json"
    fi
}

# ---- 2. batched generation -------------------------------------------------------------------
gen() {
    local toy="$BUILD/plugins/toy.so"
    [ -f "$toy" ] || { fail "$toy missing (the test plugin)"; return; }
    mkdir -p "$W/toy/toy_data"
    cp "$toy" "$W/toy/toy.so"
    cp "$ROOT/tests/plugins/toy_data/qa_train.jsonl" "$W/toy/toy_data/"
    "$PY" - "$W/toy/toy_data/qa_test.jsonl" <<'PY'
import json, sys
caps = ["France Paris", "Italy Rome", "Spain Madrid", "Germany Berlin", "Japan Tokyo",
        "Egypt Cairo", "Peru Lima", "Kenya Nairobi", "Norway Oslo", "Greece Athens",
        "Canada Ottawa", "Chile Santiago", "Poland Warsaw", "Cuba Havana", "Iran Tehran",
        "Ireland Dublin"]
rows = [{"q": "capital of " + c.split()[0], "a": c.split()[1]} for c in caps]
rows += [{"q": "%d+%d" % (a, a + 3), "a": str(2 * a + 3)} for a in range(1, 17)]
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
    echo "== generation: toy_qa, 32 questions, 2-shot, up to 16 new tokens, greedy"
    for rep in $(seq 1 "$REPS"); do
        for bs in 8 1; do
            run "gen$bs" "$rep" "$MILL" eval "$SPEC,batch_size=$bs]" toy_qa \
                --task_paths "$W/toy/toy.so" --output_dir "$W/gen$bs.$rep.out"
        done
    done
    if [ -d "$W/gen8.1.out" ] && [ -d "$W/gen1.1.out" ]; then
        "$PY" "$W/bench.py" agree "$W/gen8.1.out" "$W/gen1.1.out" gen > "$W/agree_gen.json"
    fi
}

# ---- 3. flash attention at generation lengths ------------------------------------------------
attn() {
    echo "== flash attention vs none in generation steps (bench/llama_attn.c, contexts as the backend's)"
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$PREFIX/include" "$HERE/llama_attn.c" \
        -o "$W/llama_attn" -L"$PREFIX/lib" -lllama -Wl,-rpath,"$PREFIX/lib" ||
        { fail "cannot compile bench/llama_attn.c"; return; }
    "$W/llama_attn" "$MODEL" "$THREADS" "${MILL_BENCH_ATTN_ROUNDS:-3}" \
        "${MILL_BENCH_ATTN_LENGTHS:-64,256,768}" | tee "$W/attn.txt" ||
        fail "llama_attn failed"
}

echo "mill llama backend benchmark: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, threads=$THREADS, model $MODEL"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at start: $LOAD0 (ggml's OpenMP threads spin: anything else running skews every figure)"
if ! skipped fast || ! skipped naive || ! skipped ppl; then mmlu; fi
skipped gen || gen
skipped attn || attn
echo
echo "== summary"
"$PY" "$W/bench.py" summary "$W" "$REPS"
echo "load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $STATUS
