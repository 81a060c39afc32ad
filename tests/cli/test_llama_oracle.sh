#!/usr/bin/env bash
# test_llama_oracle.sh: the llama backend's numbers against peers that share none of its code,
# on generated models of each vocabulary kind (llama-spm: SentencePiece with byte fall-back,
# llama-bpe, qwen2, gpt-2):
# - log-likelihoods (sum and is_greedy, multi-token continuations) and rolling log-likelihoods
#   (sum and token count) equal tools/llama_score, an independent program on llama.cpp's API
#   (its own context/continuation split, one fresh decode per request, log-softmax in long
#   double), to 1e-4;
# - greedy generations equal llama.cpp's own llama-server (tests/reference/llama_server_peer.py)
#   byte for byte.
# The cases (tests/plugins/oracle.c passes them through untouched) cover how context and
# continuation split into tokens: a continuation with and without a leading space, a context
# ending in spaces, newlines or Unicode spaces (lm-eval moves what str.rstrip() removes to the
# continuation), an empty context (BOS,
# or EOS, is the context), characters outside the vocabulary (byte fall-back), special-token
# text, and a long continuation. Needs llama-server from the pinned build: fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

for x in "$BUILD/bin/llama_score" "$BUILD/plugins/oracle.so" "$PREFIX/bin/llama-server"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done

mkdir -p "$tmp/plug/oracle_data"
cp "$BUILD/plugins/oracle.so" "$tmp/plug/"
"$PY" - "$tmp/plug/oracle_data/cases.jsonl" <<'PY'
import json, sys
cases = [
    ("Question: What is the capital of France?\nAnswer:", [" Paris", " London", " Berlin, of course"]),
    ("The colour of the sky is ", ["blue", " blue", "blue sky"]),
    ("Lines end here.\n\n", ["Next", "\tindented", "  two spaces"]),
    ("Unicode spaces end this\u00a0\u3000", ["x", " y"]),
    ("", ["Hello world", " x"]),
    ("Emoji and scripts:", [" \U0001f600\U0001f680", " \u00fc\u00df", " \u4e2d\u6587\u5b57\u7b26",
                            " \u0416\u0437"]),
    ("x <|endoftext|> y </s> z", [" <s> w", " <|im_end|>"]),
    ("Count: one two three", [" four five six seven eight nine ten eleven twelve thirteen"]),
    ("An empty choice sums no token:", ["", " yes"]),
]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for ctx, ch in cases:
        f.write(json.dumps({"context": ctx, "choices": ch}, ensure_ascii=False) + "\n")
PY

# compare VOCAB OUTDIR: mill's responses against llama_score's, and mill's generations against
# llama-server's. Prints "same: ..." or what differs.
compare_vocab() {
    "$PY" - "$1" "$2" "$tmp/plug/oracle_data/cases.jsonl" "$BUILD/bin/llama_score" \
        "$PREFIX/bin/llama-server" "$SRC/tests/reference/llama_server_peer.py" "$tmp/peer-$1" <<'PY'
import glob, json, math, os, subprocess, sys
vocab, out, cases_path, scorer, server, peer, work = sys.argv[1:8]
model = os.path.join(os.path.dirname(out), vocab + ".gguf")
cases = [json.loads(l) for l in open(cases_path, encoding="utf-8")]

def lines(task):
    path = glob.glob(os.path.join(out, "outputs", "*", task + "_0shot.jsonl"))
    assert len(path) == 1, "no outputs for " + task
    rows = [json.loads(l) for l in open(path[0], encoding="utf-8")]
    assert len(rows) == len(cases), "%s: %d lines for %d cases" % (task, len(rows), len(cases))
    return sorted(rows, key=lambda r: r["doc_id"])

# The independent scorer, fed raw bytes.
# An empty choice (after a context without trailing whitespace) adds no token: Python Mill's
# sum over none, (0.0, True); llama_score refuses it.
recs, want, empties = bytearray(), [], []
for i, c in enumerate(cases):
    ctx = c["context"].encode()
    for j, k in enumerate(c["choices"]):
        kb = k.encode()
        if not kb:
            empties.append((i, j))
            continue
        recs += b"L %d %d\n" % (len(ctx), len(kb)) + ctx + kb + b"\n"
        want.append(("L", i, (j, k)))
    if ctx:
        recs += b"R %d\n" % len(ctx) + ctx + b"\n"
        want.append(("R", i, None))
res = subprocess.run([scorer, model, "2"], input=bytes(recs), capture_output=True, check=True)
ref = [l.split() for l in res.stdout.decode().splitlines()]
assert len(ref) == len(want), "llama_score gave %d lines for %d records" % (len(ref), len(want))

ll, roll, gen = lines("oracle_ll"), lines("oracle_roll"), lines("oracle_gen")
worst, n_ll, n_roll, bad = 0.0, 0, 0, []
for i, j in empties:
    if ll[i]["responses"][j] != [0.0, True]:
        bad.append("case %d: the empty choice gave %r, not [0.0, True]" % (i, ll[i]["responses"][j]))
for (kind, i, jk), r in zip(want, ref):
    if kind == "L":
        j, k = jk
        got_lp, got_greedy = ll[i]["responses"][j]
        lp, greedy = float(r[1]), r[2] == "1"
        assert math.isfinite(lp) and int(r[3]) > 0, "llama_score: no continuation tokens for %r" % k
        d = abs(got_lp - lp)
        worst = max(worst, d)
        n_ll += 1
        if d > 1e-4 * max(1.0, abs(lp)) or got_greedy != greedy:
            bad.append("case %d choice %r: mill %r %r, llama_score %r %r"
                       % (i, k, got_lp, got_greedy, lp, greedy))
    else:
        got_lp, got_n = roll[i]["responses"][0]
        lp, n = float(r[1]), int(r[2])
        assert math.isfinite(lp) and n > 0, "llama_score: no tokens for case %d" % i
        d = abs(got_lp - lp)
        worst = max(worst, d)
        n_roll += 1
        if d > 1e-4 * max(1.0, abs(lp)) or got_n != n:
            bad.append("case %d rolling: mill %r (%d tokens), llama_score %r (%d tokens)"
                       % (i, got_lp, got_n, lp, n))

# Greedy generations from llama-server, 24 tokens, for every non-empty context.
prompts = [c["context"] for c in cases if c["context"]]
os.makedirs(work, exist_ok=True)
g = subprocess.run([sys.executable, peer, server, model, work, "generate", "24"],
                   input="".join(json.dumps({"prompt": p}) + "\n" for p in prompts),
                   capture_output=True, text=True)
assert g.returncode == 0, "llama_server_peer failed: " + g.stderr[-400:]
peers = [json.loads(l)["n_predict"]["24"]["content"] for l in g.stdout.splitlines()]
n_gen = 0
for c, row in zip([c for c in cases if c["context"]], [r for r, c in zip(gen, cases) if c["context"]]):
    n_gen += 1
    want_text = peers[n_gen - 1]
    if row["prediction"] != want_text:
        bad.append("generation from %r: mill %r, llama-server %r"
                   % (c["context"], row["prediction"], want_text))
if bad:
    print("differ:\n  " + "\n  ".join(bad))
else:
    print("same: %d log-likelihoods, %d rolling, %d generations; max |diff| %.1e"
          % (n_ll, n_roll, n_gen, worst))
PY
}

for vocab in llama-spm llama-bpe qwen2 gpt-2; do
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-$vocab.gguf" \
        --out "$tmp/$vocab.gguf" --n_layer 2 --seed 11 >/dev/null 2>&1 ||
        { bad "$vocab: gen_llama failed"; continue; }
    # flash attention off: llama-server runs without it, and its accumulation order would make
    # generations depend on it (BEHAVIOUR.md §5.1)
    "$MILL" --output_dir "$tmp/$vocab" eval "llama[path=$tmp/$vocab.gguf,flash_attn=off]" \
        oracle_ll,oracle_roll,oracle_gen --task_paths "$tmp/plug" >/dev/null 2>"$tmp/$vocab.err"
    rc=$?
    check "$vocab: mill exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/$vocab.err'; false; }"
    r=$(compare_vocab "$vocab" "$tmp/$vocab" 2>&1)
    if [[ "$r" == same* ]]; then ok "$vocab: $r"; else bad "$vocab: $r"; fi
done
finish
