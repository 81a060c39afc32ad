#!/usr/bin/env bash
# test_gen_llama.sh: black-box tests of tools/gen_llama (random-weight llama GGUF test models):
# models from the tiny, llama-spm, llama-bpe, gpt-2 and qwen2 vocabs in f32/f16/bf16/q8_0/q4_0 load and
# run in llama.cpp's own llama-perplexity (CPU), same seed -> byte-identical file, another seed
# -> different, --chat_template chatml/none, and the exit codes of usage and other errors.
# Env (set by ctest): MILL_BUILD_DIR, MILL_LLAMA_PREFIX.
set -u

BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
GEN=$BUILD/bin/gen_llama
PPL=$PREFIX/bin/llama-perplexity
VOCAB=$PREFIX/share/vocab

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }

if [ ! -x "$GEN" ]; then
    echo "FAIL - no gen_llama at $GEN"
    echo "0 passed, 1 failed"
    exit 1
fi

# run ARGS...: runs gen_llama; sets $rc and $all (stdout+stderr).
run() {
    "$GEN" "$@" >"$tmp/.out" 2>&1
    rc=$?
    all=$(cat "$tmp/.out")
}
# expect WHAT RC [SUBSTRING...]: checks the last run's exit code and output.
expect() {
    local what=$1 want=$2 s
    shift 2
    if [ "$rc" != "$want" ]; then
        fail "$what" "exit $rc, expected $want; output: $(head -c 400 <<<"$all")"
        return
    fi
    for s in "$@"; do
        if ! grep -qF -- "$s" <<<"$all"; then
            fail "$what" "output lacks '$s'; output: $(head -c 400 <<<"$all")"
            return
        fi
    done
    ok "$what"
}

# A text of a few hundred tokens for every vocab (perplexity wants >= 2 * 128 tokens).
for _ in $(seq 12); do
    echo "The quick brown fox jumps over the lazy dog. It was the best of times, it was the"
    echo "worst of times; numbers 0123456789, symbols #&*() and words like evaluation, model."
done >"$tmp/text.txt"

# perplexity NAME MODEL: llama-perplexity must exit 0 and print a finite final estimate.
# llama.cpp's async logger loses its last lines when the process exits right after them (strace:
# exit_group while the log thread still writes), which happens with tiny fast models about 1 run
# in 4, so a run that exits 0 without the final line is retried (a cheap run: ~0.1 s).
perplexity() {
    local out prc line try
    for try in $(seq 30); do
        out=$("$PPL" -m "$2" -f "$tmp/text.txt" -c 128 -b 128 -t 2 --chunks 2 -ngl 0 2>&1)
        prc=$?
        [ $prc -ne 0 ] || grep -q 'Final estimate: PPL = ' <<<"$out" && break
    done
    line=$(grep -o 'Final estimate: PPL = [0-9a-z.+-]*' <<<"$out")
    # The per-chunk line "[1]x,[2]y" (printed before the final one) proves the same when the
    # logger lost the last line every time.
    [ -n "$line" ] || line=$(grep -oE '\[2\][0-9]+\.[0-9]+' <<<"$out" | sed 's/^\[2\]/PPL = /')
    if [ $prc -ne 0 ]; then
        fail "$1 runs in llama-perplexity" "exit $prc: $(tail -c 400 <<<"$out")"
    elif ! grep -qE 'PPL = [0-9]+\.[0-9]+$' <<<"$line"; then
        fail "$1 runs in llama-perplexity" "no finite PPL: $(tail -c 400 <<<"$out")"
    else
        ok "$1 runs in llama-perplexity (${line#Final estimate: })"
    fi
}

# model NAME VOCAB TYPE [ARGS...]: generates $tmp/NAME.gguf and runs it.
model() {
    local name=$1 vocab=$2 type=$3
    shift 3
    run --vocab "$vocab" --out "$tmp/$name.gguf" --type "$type" "$@"
    expect "generate $name ($type)" 0
    [ "$rc" = 0 ] && perplexity "$name ($type)" "$tmp/$name.gguf"
}

# --- models that load and run in llama.cpp ---------------------------------------------------
if [ -x "$PPL" ]; then
    model tiny32 tiny f32
    model tiny16 tiny f16 --n_embd 32 --n_head 2 --n_head_kv 1 --n_layer 1
    model tinybf tiny bf16
    model spm32 "$VOCAB/ggml-vocab-llama-spm.gguf" f32
    model spm16 "$VOCAB/ggml-vocab-llama-spm.gguf" f16
    model bpe16 "$VOCAB/ggml-vocab-llama-bpe.gguf" f16
    model gpt2_32 "$VOCAB/ggml-vocab-gpt-2.gguf" f32 --n_embd 32 --n_head 2 --n_head_kv 2
    model qwen32 "$VOCAB/ggml-vocab-qwen2.gguf" f32 --n_embd 32 --n_ff 64
    model qwen16 "$VOCAB/ggml-vocab-qwen2.gguf" f16
    model tinyq8 tiny q8_0
    model qwenq4 "$VOCAB/ggml-vocab-qwen2.gguf" q4_0
else
    fail "llama-perplexity" "not found at $PPL"
fi

# --- determinism ---------------------------------------------------------------------------
run --vocab tiny --out "$tmp/a.gguf" --seed 7
run --vocab tiny --out "$tmp/b.gguf" --seed 7
run --vocab tiny --out "$tmp/c.gguf" --seed 8
if cmp -s "$tmp/a.gguf" "$tmp/b.gguf"; then ok "same seed: identical files"
else fail "same seed: identical files" "a.gguf and b.gguf differ"; fi
if ! cmp -s "$tmp/a.gguf" "$tmp/c.gguf" && [ -s "$tmp/c.gguf" ]; then
    ok "another seed: different file"
else fail "another seed: different file" "a.gguf and c.gguf are the same"; fi

# --- chat templates ------------------------------------------------------------------------
run --vocab tiny --out "$tmp/chat.gguf" --chat_template chatml
if [ "$rc" = 0 ] && grep -qa 'tokenizer.chat_template' "$tmp/chat.gguf" &&
    grep -qaF '<|im_start|>' "$tmp/chat.gguf"; then
    ok "--chat_template chatml is in the file"
else fail "--chat_template chatml is in the file" "rc $rc, or no template bytes"; fi
if grep -qa 'tokenizer.chat_template' "$tmp/a.gguf"; then
    fail "tiny vocab: no template by default" "a.gguf holds tokenizer.chat_template"
else ok "tiny vocab: no template by default"; fi
if [ -f "$tmp/qwen16.gguf" ] && grep -qa 'tokenizer.chat_template' "$tmp/qwen16.gguf"; then
    ok "qwen2 vocab: its template is kept"
else fail "qwen2 vocab: its template is kept" "no tokenizer.chat_template in qwen16.gguf"; fi
run --vocab "$VOCAB/ggml-vocab-qwen2.gguf" --out "$tmp/qnone.gguf" --chat_template none \
    --n_embd 16 --n_head 2 --n_head_kv 1 --n_layer 1 --n_ff 16
if [ "$rc" = 0 ] && ! grep -qa 'tokenizer.chat_template' "$tmp/qnone.gguf"; then
    ok "--chat_template none removes the qwen2 template"
else fail "--chat_template none removes the qwen2 template" "rc $rc, or template still there"; fi

# --- errors --------------------------------------------------------------------------------
run --out "$tmp/x.gguf"
expect "missing --vocab: exit 2" 2 "--vocab"
run --vocab tiny
expect "missing --out: exit 2" 2 "--out"
run --vocab tiny --out "$tmp/x.gguf" --bogus 1
expect "unknown option: exit 2" 2 "--bogus"
run --vocab tiny --out "$tmp/x.gguf" --n_embd abc
expect "non-numeric --n_embd: exit 2" 2 "abc"
run --vocab tiny --out "$tmp/x.gguf" --n_layer 0
expect "--n_layer 0: exit 2" 2 "n_layer"
run --vocab tiny --out "$tmp/x.gguf" --type q5_k
expect "unknown --type: exit 2" 2 "q5_k"
run --vocab tiny --out "$tmp/x.gguf" --type q8_0 --n_embd 48 --n_head 4 --n_head_kv 2
expect "q8_0 with rows not a multiple of 32: exit 1" 1 "blocks of 32"
run --vocab tiny --out "$tmp/x.gguf" --chat_template nosuch
expect "unknown --chat_template: exit 2" 2 "nosuch"
run --vocab tiny --out "$tmp/x.gguf" --n_embd
expect "option without a value: exit 2" 2 "--n_embd"
run --vocab "$tmp/no_such_vocab.gguf" --out "$tmp/x.gguf"
expect "missing vocab file: exit 1, names it" 1 "no_such_vocab.gguf"
run --vocab "$tmp/text.txt" --out "$tmp/x.gguf"
expect "vocab file that is not GGUF: exit 1" 1 "text.txt"
run --vocab tiny --out "$tmp/x.gguf" --n_embd 66 --n_head 4
expect "n_embd % n_head != 0: exit 1" 1 "n_head"
run --vocab tiny --out "$tmp/x.gguf" --n_head 4 --n_head_kv 3
expect "n_head % n_head_kv != 0: exit 1" 1 "n_head_kv"
run --vocab tiny --out "$tmp/no_dir/x.gguf"
expect "unwritable output: exit 1, names it" 1 "no_dir/x.gguf"
run --help
expect "--help: exit 0" 0 "usage:"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
