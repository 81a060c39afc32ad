#!/usr/bin/env bash
# test_llama_tok.sh: the llama backend builds lm-eval's (context, continuation) tokens from
# shared pieces (src/backend/llama_tok.c); they must equal tokenising whole texts, as lm-eval's
# _encode_pair does, for every pair of all 14,042 real MMLU questions (5-shot, the prompts of
# `mill prompts mmlu` on tests/data/mmlu) with the SentencePiece, Llama-3 BPE and Qwen2
# vocabularies, and for hand-made contexts that break the pieces' assumptions (trailing spaces
# before a newline, blank-line boundaries, indented lines, Unicode spaces, special-token text,
# a newline inside the continuation, contexts without a newline), where the backend must fall
# back to whole texts or still agree. Under the sanitizers (ASAN_OPTIONS set, `make check`)
# every 10th MMLU question only. tools/llama_tokcheck compares the two paths pair by pair.
# Also: almost every MMLU pair takes the fast path (else the test would prove nothing), and the
# bytes given to the tokenizer drop at least 5x.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
CHECK=$BUILD/bin/llama_tokcheck
[ -x "$CHECK" ] || { echo "FAIL - $CHECK missing"; exit 1; }

MILL_LOCAL_DATASETS="$SRC/tests/data/mmlu" "$MILL" prompts mmlu >"$tmp/all.jsonl" 2>"$tmp/err"
check "mill prompts mmlu: all 14,042 questions" "[ \$(wc -l <'$tmp/all.jsonl') -eq 14042 ]"
# Under the sanitizers (make check) every 10th question: the whole set is `make test`'s.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    awk 'NR % 10 == 1' "$tmp/all.jsonl" >"$tmp/mmlu.jsonl"
else
    cp "$tmp/all.jsonl" "$tmp/mmlu.jsonl"
fi
PAIRS=$(($(wc -l <"$tmp/mmlu.jsonl") * 4))

"$PY" - "$tmp/edge.jsonl" <<'PY'
import json, sys
shots = "".join(f"Question: q{i}?\nA. a\nB. b\nAnswer: {'AB'[i % 2]}\n\n" for i in range(12))
cases = [
    (shots + "Question: plain?\nA. x\nB. y\nAnswer:", [" A", " B", "A", " A\nB"]),
    (shots + "Question: trailing space \nA. x \nB. y  \nAnswer:", [" A", " B"]),
    (shots + "Question: blank lines?\n\n\nAnswer:", [" A", "\n\nB"]),
    (shots + "Question: indented\n    code line\n\tTabbed\nAnswer:", [" A"]),
    (shots + "Question: nbsp\u00a0\n\u3000Answer:", [" A"]),
    (shots + "Question: special <|im_end|>\n<|im_start|>Answer:", [" A", "<|endoftext|>"]),
    (shots + "Question: ends with newline\nAnswer:\n", [" A", "A"]),
    (shots + "Question: ends with spaces\nAnswer:   ", [" A"]),
    ("no newline at all in this context", [" A", " B"]),
    ("", ["Hello"]),
    (shots + "Question: emoji \U0001f600\n\u00e9Answer:", [" \u00e9", " A"]),
    (shots + "Question: crlf?\r\nAnswer:\r\n", [" A"]),
    (shots.replace("\n\n", "\n \n") + "Question: space lines\nAnswer:", [" A"]),
]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for ctx, ch in cases:
        f.write(json.dumps({"context": ctx, "choices": ch}, ensure_ascii=False) + "\n")
PY

for v in llama-spm llama-bpe qwen2; do
    "$CHECK" --vocab "$PREFIX/share/vocab/ggml-vocab-$v.gguf" --prompts "$tmp/mmlu.jsonl" \
        >"$tmp/$v.out" 2>"$tmp/$v.err"; rc=$?
    line=$(tail -1 "$tmp/$v.out")
    check "$v: MMLU pairs from pieces equal whole-text tokens (${line#*: })" \
        "[ $rc -eq 0 ] && grep -q ' $PAIRS pairs, .* 0 differ' '$tmp/$v.out' || { head -3 '$tmp/$v.err'; false; }"
    check "$v: at least 99% of MMLU pairs from pieces, at least 5x fewer bytes tokenised" \
        "$PY - '$tmp/$v.out' <<'PY'
import re, sys
m = re.search(r'(\d+) pairs, (\d+) from pieces.*pieces [\d.]+ s \(([\d.]+) MB\), whole [\d.]+ s \(([\d.]+) MB\)',
              open(sys.argv[1]).read())
pairs, fast, mb_fast, mb_whole = int(m[1]), int(m[2]), float(m[3]), float(m[4])
sys.exit(0 if fast >= 0.99 * pairs and mb_whole >= 5 * mb_fast else 1)
PY"
    "$CHECK" --vocab "$PREFIX/share/vocab/ggml-vocab-$v.gguf" --prompts "$tmp/edge.jsonl" \
        >"$tmp/$v.edge" 2>&1; rc=$?
    check "$v: hand-made edge cases equal ($(tail -1 "$tmp/$v.edge" | sed 's/.*: //'))" \
        "[ $rc -eq 0 ]"
done

# A vocabulary with one piece that holds a newline and more text turns the pieces off, however
# long the piece (one of 600 bytes is longer than the buffer the vocabulary is first read with);
# the same vocabulary without it uses them.
long=$(printf 'x%.0s' $(seq 600))
printf '%s\n' '{"context": "Question: the tea?\nAnswer:", "choices": [" a", " b"]}' >"$tmp/tiny.jsonl"
for p in none "$long" "x$long"; do
    args=(); [ "$p" = none ] || args=(--add_piece "$p
then")
    "$BUILD/bin/gen_llama" --vocab tiny "${args[@]}" --out "$tmp/tiny.gguf" >/dev/null
    "$CHECK" --vocab "$tmp/tiny.gguf" --prompts "$tmp/tiny.jsonl" >"$tmp/tiny.out" 2>&1
    want=" 2 from pieces, 0 whole"; what="no piece added"
    [ "$p" = none ] || { want=" 0 from pieces, 2 whole"; what="a piece of ${#p} bytes + newline"; }
    check "tiny vocabulary, $what: '$want'" \
        "grep -q '$want, 0 differ' '$tmp/tiny.out'"
done

# Through mill eval: a job's first batch (nothing in flight) is prepared in slices on two
# threads, each with a tokeniser of its own; the per-sample files equal those of one thread and
# of every text tokenised whole, byte for byte (same batches, same tokens, same decodes).
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$tmp/q.gguf" \
    --n_embd 64 --n_layer 2 --seed 5 >/dev/null
ev() { # OUT SPEC_ARGS [ENV...]
    local out=$1 more=$2
    shift 2
    env MILL_LOCAL_DATASETS="$SRC/tests/data/mmlu" "$@" "$MILL" --output_dir "$tmp/$out" \
        --limit 40 eval "llama[path=$tmp/q.gguf,threads=2$more]" \
        mmlu_marketing,mmlu_high_school_geography >/dev/null 2>"$tmp/$out.err"
}
ev sliced "" && ev one "" MILL_PREP_THREADS=1 && ev whole ",tokenize=whole" MILL_PREP_THREADS=1
rc=$?
check "eval: first batches prepared in slices on 2 threads, and on 1 (exit 0)" \
    "[ $rc -eq 0 ] && grep -q '\"batches_prepared_in_slices\":1' $tmp/sliced/outputs/*/mmlu_marketing_5shot.json && \
     grep -q '\"batches_prepared_in_slices\":0' $tmp/one/outputs/*/mmlu_marketing_5shot.json"
same=0
for t in mmlu_marketing mmlu_high_school_geography; do
    for o in one whole; do
        cmp -s $tmp/sliced/outputs/*/${t}_5shot.jsonl $tmp/$o/outputs/*/${t}_5shot.jsonl &&
            same=$((same + 1))
    done
done
check "eval: per-sample files equal byte for byte, sliced, one thread and whole texts ($same of 4)" \
    "[ $same -eq 4 ]"
finish
