#!/usr/bin/env bash
# test_mmlu_pro.sh: the mmlu_pro task on a small Parquet file in MMLU-Pro's Hub layout written by
# DuckDB: prompts byte for byte against an independent Python construction of Mill's prompt,
# scoring of saved generations (replay) with Mill's three-pattern extraction, the category in
# the per-sample metadata; and generation with generated GGUF models, compared with llama.cpp's
# own llama-server (tests/reference/llama_server_peer.py): a generation that stops at end of
# sequence stops where the server's does, one that does not has exactly the 1024-token budget,
# and the text is the model's whole output.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
LLAMA=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

D="$tmp/mirror/TIGER-Lab_MMLU-Pro/data"; mkdir -p "$D"
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_mmlu_pro.cjs" "$D/test-00000-of-00001.parquet" ||
    { echo "FAIL - cannot write the fixture"; exit 1; }
export MILL_LOCAL_DATASETS="$tmp/mirror"

"$MILL" prompts mmlu_pro > "$tmp/got.jsonl" 2>"$tmp/stderr"; rc=$?
check "mill prompts mmlu_pro exits 0" "[ $rc -eq 0 ] || { cat '$tmp/stderr'; false; }"
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/parquet_to_json.cjs" "$D/test-00000-of-00001.parquet" |
"$PY" -c '
import json, sys
for i, line in enumerate(sys.stdin):
    r = json.loads(line)
    opts = r["options"]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(opts)]
    q = ("Answer the following multiple choice question. The last line of your response should "
         "be of the form \x27Answer: $LETTER\x27 (without quotes) where $LETTER is one of %s. "
         "Think step by step before answering.\n\n%s\n\n%s\n\nAnswer:") % (
        letters, r["question"].strip(), "\n".join("%s. %s" % (l, o) for l, o in zip(letters, opts)))
    print(json.dumps({"task": "mmlu_pro", "doc_id": i, "context": q, "choices": list(letters),
                      "target": r["answer"].strip().upper()}, ensure_ascii=False, separators=(",", ":")))
' > "$tmp/want.jsonl"
check "prompts equal Mill's, byte for byte" "cmp -s '$tmp/want.jsonl' '$tmp/got.jsonl' || { diff '$tmp/want.jsonl' '$tmp/got.jsonl' | head; false; }"

cat > "$tmp/resp.jsonl" <<'JSON'
{"task": "mmlu_pro", "doc_id": 0, "response": "Plants take in CO2.\u0000\nAnswer: B"}
{"task": "mmlu_pro", "doc_id": 1, "response": "7*6 = 42, so the answer is (A)."}
{"task": "mmlu_pro", "doc_id": 2, "response": "29 is prime. answer: d"}
{"task": "mmlu_pro", "doc_id": 3, "response": "I am not sure."}
JSON
"$MILL" --output_dir "$tmp/out" eval "replay[file=$tmp/resp.jsonl,name=saved]" mmlu_pro \
    >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "replay eval exits 0" "[ $rc -eq 0 ]"
check "mmlu_pro_acc = 2/4 (B past a NUL byte, A right; d and no letter wrong)" \
    "grep -qx 'saved,mmlu_pro,mmlu_pro,multiple_choice,0,mmlu_pro_acc,0.5,0.2887' '$tmp/out/aggregate.csv'"
check "a saved response's NUL byte is kept in its prediction" \
    "head -1 $tmp/out/outputs/saved/mmlu_pro_0shot.jsonl | grep -qF '\"prediction\":\"Plants take in CO2.\\u0000\\nAnswer: B\"'"
check "category and answer_index in the per-sample lines" \
    "head -1 $tmp/out/outputs/saved/mmlu_pro_0shot.jsonl | grep -q '^{\"category\":\"biology\",\"answer_index\":1,'"

# Without flash attention, to be compared with llama-server below (see the peer's notes).
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" >/dev/null 2>&1
"$MILL" --output_dir "$tmp/out2" --limit 2 eval "llama[path=$tmp/m.gguf,flash_attn=off]" \
    mmlu_pro >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "generation with a GGUF model exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "two generations written" \
    "$PY -c 'import json,glob; rows=[json.loads(l) for l in open(glob.glob(\"$tmp/out2/outputs/*/mmlu_pro_0shot.jsonl\")[0])]; assert len(rows)==2 and all(isinstance(r[\"prediction\"], str) for r in rows)'"

# How many tokens a generation has is not in the outputs, and re-tokenising the text cannot
# tell (a random model emits byte and control tokens, and pieces that tokenise differently
# together), so llama-server generates greedily from the same prompts with n_predict 1023, 1024
# and 1025 (mmlu_pro has no stop strings). A generation must equal the server's: one the server
# ends at end of sequence (stop_type "eos") ends there, and one that runs out of budget equals
# the server's 1024-token text, which differs from its 1023- and 1025-token texts, so the text
# pins the count at exactly 1024.
# peer_check OUT MODEL MODE: Mill's OUT/outputs against the peer on MODEL; prints one line,
# "exact: ..." when they agree. MODE budget: at least one generation must run out of budget
# and one stop at end of sequence; MODE nul: the peer's text of some generation must hold a NUL
# byte (U+0000), which Mill's must keep.
peer_check() {
    "$PY" -c 'import glob, json, sys
for l in open(glob.glob(sys.argv[1] + "/outputs/*/mmlu_pro_0shot.jsonl")[0]):
    print(json.dumps({"prompt": json.loads(l)["prompt"]}))' "$1" 2>/dev/null |
        "$PY" "$SRC/tests/reference/llama_server_peer.py" "$LLAMA/bin/llama-server" "$2" "$1" \
            generate 1023 1024 1025 >"$1/peer.jsonl" 2>"$1/peer.err" ||
        { echo "llama_server_peer.py failed: $(tail -1 "$1/peer.err")"; return; }
    "$PY" - "$1" 1024 "$3" <<'PY' 2>&1 | tail -1
import glob, json, sys
out, budget, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [json.loads(l) for l in open(glob.glob(out + "/outputs/*/mmlu_pro_0shot.jsonl")[0])]
peer = [json.loads(l)["n_predict"] for l in open(out + "/peer.jsonl")]
assert len(rows) == len(peer) == 2, (len(rows), len(peer))

def same(doc, got, want, what):
    if got != want:
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise AssertionError("doc %d: Mill's text != the server's %s: %d vs %d chars, first "
                             "difference at char %d (Mill %r, server %r)" % (
                                 doc, what, len(got), len(want), i, got[i:i + 8], want[i:i + 8]))

stops = []
for r, p in zip(rows, peer):
    doc, text = r["doc_id"], r["prediction"]
    assert "error" not in r and r["responses"] == [text], r
    full = p[str(budget)]
    if full["stop_type"] == "eos":
        assert full["tokens_predicted"] < budget, full["tokens_predicted"]
        same(doc, text, full["content"], "(end of sequence after %d tokens)" % full["tokens_predicted"])
    else:
        assert full["stop_type"] == "limit" and full["tokens_predicted"] == len(full["tokens"]) == budget, \
            (doc, full["stop_type"], full["tokens_predicted"])
        texts = [p[str(n)]["content"] for n in (budget - 1, budget, budget + 1)]
        assert len(set(texts)) == 3, "doc %d: the server's texts of %d, %d and %d tokens do not " \
            "all differ, so the text cannot pin the count" % (doc, budget - 1, budget, budget + 1)
        same(doc, text, full["content"], "%d-token generation" % budget)
    stops.append(full["stop_type"])
if mode == "budget":
    assert sorted(stops) == ["eos", "limit"], stops
    print("exact: one generation stopped at end of sequence as the server's, one has exactly "
          "%d tokens" % budget)
else:
    nul = [r["doc_id"] for r, p in zip(rows, peer) if "\0" in p[str(budget)]["content"]]
    assert nul, "no generation holds a NUL byte: the check tests nothing"
    print("exact: generations %s hold a NUL byte and are kept whole" % nul)
PY
}
LS="$LLAMA/bin/llama-server"
[ -x "$LS" ] || bad "llama-server missing at $LS (scripts/deps.sh builds it)"
# Seed 2: the first question runs to the budget (its 1023-, 1024- and 1025-token texts differ),
# the second ends at end of sequence after 518 tokens; neither holds a NUL byte.
"$BUILD/bin/gen_llama" --vocab tiny --seed 2 --out "$tmp/m2.gguf" >/dev/null 2>&1
"$MILL" --output_dir "$tmp/out3" --limit 2 eval "llama[path=$tmp/m2.gguf,flash_attn=off]" \
    mmlu_pro >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "generation with a second GGUF model exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
r=$(peer_check "$tmp/out3" "$tmp/m2.gguf" budget)
check "generations stop at end of sequence or after exactly the 1024-token budget, as llama-server's ($r)" \
    '[[ $r == exact:* ]]'
# On the seed-1 model above, the second question's generation holds a NUL byte (the byte token
# <0x00>) 567 characters in: the text goes on past it, as llama-server's and Python's do.
r=$(peer_check "$tmp/out2" "$tmp/m.gguf" nul)
check "a generation holding a NUL byte is kept whole, as llama-server's ($r)" '[[ $r == exact:* ]]'

finish
