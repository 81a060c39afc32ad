#!/usr/bin/env bash
# test_mmlu_pro.sh: the mmlu_pro task on a small Parquet file in MMLU-Pro's Hub layout written by
# DuckDB: prompts byte for byte against an independent Python construction of Mill's prompt,
# scoring of saved generations (replay) with Mill's three-pattern extraction, the category in
# the per-sample metadata; and generation with a generated GGUF model (1024-token budget).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
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
{"task": "mmlu_pro", "doc_id": 0, "response": "Plants take in CO2.\nAnswer: B"}
{"task": "mmlu_pro", "doc_id": 1, "response": "7*6 = 42, so the answer is (A)."}
{"task": "mmlu_pro", "doc_id": 2, "response": "29 is prime. answer: d"}
{"task": "mmlu_pro", "doc_id": 3, "response": "I am not sure."}
JSON
"$MILL" --output_dir "$tmp/out" eval "replay[file=$tmp/resp.jsonl,name=saved]" mmlu_pro \
    >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "replay eval exits 0" "[ $rc -eq 0 ]"
check "mmlu_pro_acc = 2/4 (B, A right; d and no letter wrong)" \
    "grep -qx 'saved,mmlu_pro,mmlu_pro,multiple_choice,0,mmlu_pro_acc,0.5,0.2887' '$tmp/out/aggregate.csv'"
check "category and answer_index in the per-sample lines" \
    "head -1 $tmp/out/outputs/saved/mmlu_pro_0shot.jsonl | grep -q '^{\"category\":\"biology\",\"answer_index\":1,'"

"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" >/dev/null 2>&1
"$MILL" --output_dir "$tmp/out2" --limit 2 eval "llama[path=$tmp/m.gguf]" mmlu_pro \
    >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "generation with a GGUF model exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "generations stop at the 1024-token budget or end of sequence" \
    "$PY -c 'import json,glob; rows=[json.loads(l) for l in open(glob.glob(\"$tmp/out2/outputs/*/mmlu_pro_0shot.jsonl\")[0])]; assert len(rows)==2 and all(isinstance(r[\"prediction\"], str) for r in rows)'"

finish
