#!/usr/bin/env bash
# test_hf_convert.sh: transformers checkpoints converted to GGUF by Mill (src/model/convert/).
#  1. For each architecture (random weights from tools/gen_hf_llm.py, sharded, tied, RoPE
#     scalings, Gemma's sliding windows, vocabulary padding), `mill convert --dtype float32`
#     run through llama.cpp (tools/llama_logits, token ids in) gives the logits of an
#     independent PyTorch forward (tests/reference/hf_llm_ref.py) within 1e-3 relative, and
#     the same 8 greedy tokens.
#  2. F16, BF16 and Q8_0 conversions (of a BF16 checkpoint too) load and stay close.
#  3. Bad input (unsupported architecture, missing shard, a tensor of the wrong shape, a
#     truncated safetensors file, another activation, an unknown pre-tokenizer): exit 1, one
#     message naming the file and the field, no file written and nothing left in Mill's cache.
#  4. `mill eval DIR` converts into the cache once and reuses it; a checkpoint repo served by
#     tests/reference/fake_hub.py (no GGUF anywhere) converts once, then an HF_HUB_OFFLINE=1
#     rerun reuses it with zero requests.
#  5. SIGINT or SIGTERM while `mill eval DIR` converts: exit 130 / 143 saying the conversion
#     stopped, nothing kept in the cache (no GGUF, no temporary file); the rerun converts.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$MILL")/..}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"
GEN="$PY $SRC/tools/gen_hf_llm.py"
IDS=1,20,33,45,100,7,8,200,150,3,99,42

# close A.json B.json TOL: llama.cpp's logits (A) within TOL of the reference's (B), relative to
# the largest reference logit, over the tokens both have; and the same greedy tokens.
close() {
    "$PY" - "$@" <<'PY'
import json, sys
import numpy as np
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
la, lb = np.array(a["logits"]), np.array(b["logits"])
n = min(la.shape[1], lb.shape[1])
rel = np.abs(la[:, :n] - lb[:, :n]).max() / np.abs(lb[:, :n]).max()
same = a["greedy"] == b["greedy"]
print(f"rel {rel:.3g}, greedy {a['greedy']} vs {b['greedy']}")
sys.exit(0 if rel <= float(sys.argv[3]) and (same or sys.argv[4] == "any") else 1)
PY
}

# 1. logits and greedy tokens against the PyTorch reference, per architecture
# (the Phi-3 directory is not called phi3: llama.cpp gives a model whose general.name says phi3
# Phi-3's special-token attributes, and the test tokenizer has none of Phi-3's tokens)
while read -r name args; do
    d="$tmp/$name"
    $GEN $args --out "$d" >/dev/null </dev/null || { bad "$name: gen_hf_llm.py"; continue; }
    "$PY" "$SRC/tests/reference/hf_llm_ref.py" "$d" $IDS 8 >"$d.ref.json" </dev/null
    if ! "$MILL" convert "$d" "$d.gguf" --dtype float32 2>"$d.err" </dev/null ||
        ! "$BUILD/bin/llama_logits" "$d.gguf" $IDS 8 >"$d.ll.json" 2>"$d.err" </dev/null; then
        bad "$name: convert and run ($(tail -1 "$d.err"))"
        continue
    fi
    check "$name: F32 logits within 1e-3 and the same greedy tokens ($(close "$d.ll.json" "$d.ref.json" 1e-3 same 2>&1 | tail -1))" \
        "close '$d.ll.json' '$d.ref.json' 1e-3 same >/dev/null 2>&1"
done <<'EOF'
qwen2 --arch qwen2
qwen2_sharded_tied --arch qwen2 --shards 3 --tied --extra_vocab 5
llama --arch llama
llama_llama3_rope --arch llama --rope llama3 --heads 8 --kv_heads 2 --hidden 128
llama_linear_rope --arch llama --rope linear --extra_vocab 3
mistral --arch mistral --shards 2
qwen3 --arch qwen3 --head_dim 32
gemma2 --arch gemma2 --tied --sliding_window 6 --head_dim 32
gemma3 --arch gemma3 --layers 6 --sliding_window 5 --head_dim 32 --extra_vocab 4
gemma3_tied --arch gemma3 --layers 6 --tied --rope linear
p3 --arch phi3
EOF

# 1b. a real vocabulary: Qwen2's, as tests/cli/hf_bpe_fixture.py derives its tokenizer.json from
# llama.cpp's ggml-vocab-qwen2.gguf (151,643 tokens + specials, config.json's vocab_size 151,936:
# the rest padded); logits at 4 positions, and `mill eval` tokenises MMLU prompts with it below
PREFIX=${MILL_LLAMA_PREFIX:-$(cat "$BUILD/.deps-prefix" 2>/dev/null)}
mkdir -p "$tmp/qvocab"
if "$PY" "$SRC/tests/cli/hf_bpe_fixture.py" "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" qwen2 \
    "$tmp/qvocab" >/dev/null 2>"$tmp/err"; then
    nv=$("$PY" -c "import json; print(json.load(open('$tmp/qvocab/config.json'))['vocab_size'])")
    nt=$("$PY" -c "import json; t=json.load(open('$tmp/qvocab/tokenizer.json')); print(max(list(t['model']['vocab'].values()) + [a['id'] for a in t['added_tokens']]) + 1)")
    $GEN --arch qwen2 --tokenizer "$tmp/qvocab/tokenizer.json" --extra_vocab $((nv - nt)) \
        --out "$tmp/qreal" >/dev/null
    cp "$tmp/qvocab/tokenizer_config.json" "$tmp/qreal/"
    "$PY" "$SRC/tests/reference/hf_llm_ref.py" "$tmp/qreal" 9707,11,1879,0 2 >"$tmp/qreal.ref.json"
    "$MILL" convert "$tmp/qreal" "$tmp/qreal.gguf" --dtype float32 2>"$tmp/err" &&
        "$BUILD/bin/llama_logits" "$tmp/qreal.gguf" 9707,11,1879,0 2 >"$tmp/qreal.ll.json" 2>>"$tmp/err"
    check "qwen2 with Qwen2's vocabulary ($nt tokens, vocab_size $nv): logits within 1e-3 ($(close "$tmp/qreal.ll.json" "$tmp/qreal.ref.json" 1e-3 same 2>&1 | tail -1))" \
        "close '$tmp/qreal.ll.json' '$tmp/qreal.ref.json' 1e-3 same >/dev/null 2>&1"
else
    bad "hf_bpe_fixture.py qwen2: $(tail -1 "$tmp/err")"
fi

# 2. the other types: F16, BF16 and Q8_0 load, run, and stay near the F32 reference; a BF16
# checkpoint converts as well
$GEN --arch qwen2 --dtype bf16 --hidden 64 --ff 128 --out "$tmp/bf" >/dev/null
"$PY" "$SRC/tests/reference/hf_llm_ref.py" "$tmp/bf" $IDS 4 >"$tmp/bf.ref.json"
for t in "--dtype float32:F32:1e-3" "--dtype float16:F16:1e-2" "--dtype bfloat16:BF16:5e-2" \
    "--quant Q8_0:Q8_0:5e-2"; do
    IFS=: read -r flag name tol <<<"$t"
    rm -f "$tmp/bf.ll.json"
    "$MILL" convert "$tmp/bf" "$tmp/bf-$name.gguf" $flag 2>"$tmp/err" &&
        "$BUILD/bin/llama_logits" "$tmp/bf-$name.gguf" $IDS 4 >"$tmp/bf.ll.json" 2>>"$tmp/err"
    check "BF16 checkpoint to $name: loads and runs, logits within $tol ($(close "$tmp/bf.ll.json" "$tmp/bf.ref.json" $tol any 2>&1 | tail -1))" \
        "close '$tmp/bf.ll.json' '$tmp/bf.ref.json' $tol any >/dev/null 2>&1"
done
size() { stat -c %s "$tmp/bf-$1.gguf" 2>/dev/null || echo 0; }
check "sizes: Q8_0 < F16 = BF16 < F32 ($(size Q8_0) $(size F16) $(size BF16) $(size F32))" \
    "[ $(size Q8_0) -gt 0 ] && [ $(size Q8_0) -lt $(size F16) ] && [ $(size F16) -eq $(size BF16) ] && [ $(size BF16) -lt $(size F32) ]"

# 3. bad input: one message naming the file and the field; nothing written
bad_case() { # DESC PATTERN DIR
    local before
    before=$(ls "$tmp/out" 2>/dev/null | wc -l)
    mkdir -p "$tmp/out"
    expect_exit "$1" 1 "$2" convert "$3" "$tmp/out/x.gguf"
    check "$1: no file left beside the output" "[ \$(ls -A '$tmp/out' | wc -l) -eq 0 ]"
}
cp -r "$tmp/qwen2" "$tmp/b1" && sed -i 's/Qwen2ForCausalLM/GPT2LMHeadModel/' "$tmp/b1/config.json"
bad_case "unsupported architecture" "config.json: architecture GPT2LMHeadModel cannot be converted; supported: LlamaForCausalLM" "$tmp/b1"
cp -r "$tmp/mistral" "$tmp/b2" && rm "$tmp/b2/model-00002-of-00002.safetensors"
bad_case "missing shard" "model.safetensors.index.json names shard model-00002-of-00002.safetensors, which is missing" "$tmp/b2"
cp -r "$tmp/qwen2" "$tmp/b3" && sed -i 's/"intermediate_size": 96/"intermediate_size": 80/' "$tmp/b3/config.json"
bad_case "wrong shape" "b3/model.safetensors: tensor model.layers.0.mlp.gate_proj.weight has shape \[96, 64\]; config.json wants \[80, 64\]" "$tmp/b3"
cp -r "$tmp/qwen2" "$tmp/b4" && truncate -s -1000 "$tmp/b4/model.safetensors"
bad_case "truncated safetensors" "b4/model.safetensors" "$tmp/b4"
cp -r "$tmp/qwen2" "$tmp/b5" && sed -i 's/"hidden_act": "silu"/"hidden_act": "gelu"/' "$tmp/b5/config.json"
bad_case "another activation" "config.json: activation 'gelu'" "$tmp/b5"
cp -r "$tmp/qwen2" "$tmp/b6" && sed -i 's/"normalizer": {"type": "NFC"}/"normalizer": {"type": "NFKC"}/' "$tmp/b6/tokenizer.json"
bad_case "a pre-tokenizer llama.cpp does not name" "tokenizer.json: pre_tokenizer/normalizer" "$tmp/b6"
# edited NAME SRC PYTHON: $tmp/NAME, a copy of $tmp/SRC with config.json (as `c`) changed
edited() {
    cp -r "$tmp/$2" "$tmp/$1" &&
        "$PY" -c 'import json, sys; p = sys.argv[1] + "/config.json"; c = json.load(open(p)); exec(sys.argv[2]); json.dump(c, open(p, "w"))' \
            "$tmp/$1" "$3"
}
$GEN --arch llama --rope yarn --out "$tmp/yarn" >/dev/null
edited b7 yarn 'c["rope_scaling"]["attention_factor"] = 1.0'
bad_case "YaRN attention_factor other than transformers' default" \
    "config.json: rope_scaling.attention_factor = 1 is not supported" "$tmp/b7"
edited b8 yarn 'c["rope_scaling"]["beta_fast"] = 8'
bad_case "YaRN beta_fast other than 32" "config.json: rope_scaling.beta_fast = 8 is not supported" "$tmp/b8"
edited b9 gemma2 'c["attn_logit_softcapping"] = None'
bad_case "Gemma 2 attn_logit_softcapping null" \
    "config.json: attn_logit_softcapping is null \(no soft-capping\)" "$tmp/b9"
edited b10 gemma3 'c["rope_parameters"] = {"full_attention": {"rope_type": "linear", "factor": 8.0}, "sliding_attention": {"rope_theta": 500.0}}; c.pop("rope_scaling", None)'
bad_case "RoPE settings per layer type" "config.json: rope settings per layer type \(full_attention\)" "$tmp/b10"
edited b11 yarn 'c["rope_scaling"]["truncate"] = False'
bad_case "YaRN truncate false (llama.cpp rounds the correction range)" \
    "rope_scaling truncate false" "$tmp/b11"
edited b12 gemma2 'del c["query_pre_attn_scalar"]'
bad_case "Gemma 2 without query_pre_attn_scalar: transformers' 256, not this head size" \
    "query_pre_attn_scalar 256" "$tmp/b12"
# A FIFO named like a tokenizer file is refused, not waited on (timeout: the old code blocked).
cp -r "$tmp/qwen2" "$tmp/b13" && rm "$tmp/b13/tokenizer_config.json" && mkfifo "$tmp/b13/tokenizer_config.json"
timeout 60 "$MILL" convert "$tmp/b13" "$tmp/out/x.gguf" >/dev/null 2>"$tmp/err"
rc=$?
check "a tokenizer_config.json that is a FIFO: refused (exit $rc)" \
    "[ $rc -eq 1 ] && grep -q 'b13/tokenizer_config.json is not a readable file' '$tmp/err'"
mkdir -p "$tmp/isdir.gguf"
expect_exit "an output path that is a directory: the rename's own error" 1 \
    "cannot write $tmp/isdir.gguf: Is a directory" convert "$tmp/qwen2" "$tmp/isdir.gguf"
"$MILL" convert "$tmp/qwen2/" "$tmp/slash.gguf" 2>"$tmp/err"
check "a directory given with a trailing slash: general.name is its name" \
    "\"\$PY\" - '$tmp/slash.gguf' <<'PY' || { tail -2 '$tmp/err'; false; }
import struct, sys
b = open(sys.argv[1], 'rb').read()
i = b.index(b'general.name') + len('general.name')
t, n = struct.unpack('<IQ', b[i:i + 12])
sys.exit(not (t == 8 and b[i + 12:i + 12 + n] == b'qwen2'))
PY"
edited yarn_default yarn 'c["rope_scaling"].update(beta_fast=32.0, beta_slow=1.0)'
"$MILL" convert "$tmp/yarn_default" "$tmp/yarn_default.gguf" 2>"$tmp/err"
check "YaRN with its defaults written out converts" "[ -s '$tmp/yarn_default.gguf' ] || { tail -1 '$tmp/err'; false; }"
# Qwen3's head_dim left out of config.json is transformers' default, 128, not hidden / heads: the
# GGUF carries it (key_length) and computes what the same checkpoint with head_dim 128 does.
$GEN --arch qwen3 --head_dim 128 --out "$tmp/q3hd" >/dev/null
"$PY" "$SRC/tests/reference/hf_llm_ref.py" "$tmp/q3hd" $IDS 2 >"$tmp/q3hd.ref.json"
edited q3nohd q3hd 'del c["head_dim"]'
"$MILL" convert "$tmp/q3nohd" "$tmp/q3nohd.gguf" --dtype float32 2>"$tmp/err" &&
    "$BUILD/bin/llama_logits" "$tmp/q3nohd.gguf" $IDS 2 >"$tmp/q3nohd.ll.json" 2>>"$tmp/err"
check "qwen3 without head_dim (the default 128): loads, logits within 1e-3 ($(close "$tmp/q3nohd.ll.json" "$tmp/q3hd.ref.json" 1e-3 same 2>&1 | tail -1))" \
    "close '$tmp/q3nohd.ll.json' '$tmp/q3hd.ref.json' 1e-3 same >/dev/null 2>&1"
expect_exit "not a checkpoint directory: usage error" 2 "not a transformers checkpoint" \
    convert "$tmp" "$tmp/out/x.gguf"
expect_exit "an unknown dtype: usage error" 2 "--dtype wants" \
    convert "$tmp/qwen2" "$tmp/out/x.gguf" --dtype int4

# 4. the llama backend: a local checkpoint directory converts into the cache once
mkdir -p "$tmp/mirror"
ln -s "$SRC/tests/data/mmlu/cais_mmlu" "$tmp/mirror/cais_mmlu"
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache" HF_HOME="$tmp/hf"
unset HF_HUB_OFFLINE HF_TOKEN HF_ENDPOINT
prov() { "$PY" -c "import json,glob,sys; d=json.load(open(glob.glob('$1/outputs/*/mmlu_anatomy_5shot.json')[0])); print(d$2)"; }
"$MILL" --output_dir "$tmp/e1" --limit 2 eval "$tmp/qwen2" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
check "eval of a checkpoint directory: exit 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/err'; false; }"
check "converted once into the cache" "[ \$(ls '$tmp/cache/converted/'*.gguf | wc -l) -eq 1 ]"
check "provenance records the conversion (files, sha256, type)" \
    "[ \"\$(prov '$tmp/e1' \"['converted_type'], d['converted_reused'], [f['path'] for f in d['converted_files']]\")\" = \"BF16 False ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']\" ]"
"$MILL" --output_dir "$tmp/e2" --limit 2 eval "$tmp/qwen2" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
check "second run reuses the cached file" "[ $rc -eq 0 ] && [ \"\$(prov '$tmp/e2' \"['converted_reused']\")\" = True ]"
# A conversion killed mid-file leaves "<key>.gguf.<pid>.tmp": the next conversion removes it.
conv=$(ls "$tmp/cache/converted/"*.gguf | head -1)
mv "$conv" "$conv.99999.tmp"
"$MILL" --output_dir "$tmp/e2b" --limit 2 eval "$tmp/qwen2" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
check "a killed conversion's temporary is removed by the next conversion" \
    "[ $rc -eq 0 ] && [ -s '$conv' ] && [ ! -e '$conv.99999.tmp' ] && grep -q 'removed .*99999.tmp' '$tmp/err'"
"$MILL" --output_dir "$tmp/e3" --limit 2 eval "$tmp/qwen2[dtype=float32]" mmlu_anatomy >/dev/null 2>"$tmp/err"
check "another dtype is another cache entry" "[ \$(ls '$tmp/cache/converted/'*.gguf | wc -l) -eq 2 ]"
"$MILL" --output_dir "$tmp/e4" --limit 2 eval "$tmp/b3" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
check "a bad checkpoint fails the run naming the tensor, nothing new in the cache" \
    "[ $rc -eq 1 ] && grep -q 'gate_proj.weight has shape' '$tmp/err' && [ \$(ls -A '$tmp/cache/converted' | grep -v '^.locks$' | wc -l) -eq 2 ]"
if [ -d "$tmp/qreal" ]; then
    "$MILL" --output_dir "$tmp/e5" --limit 2 eval "$tmp/qreal" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
    check "eval of the checkpoint with Qwen2's vocabulary: exit 0, 2 samples" \
        "[ $rc -eq 0 ] && [ \"\$(prov '$tmp/e5' \"['n'], d['n_failed']\")\" = '2 0' ] || { tail -3 '$tmp/err'; false; }"
fi

# 5. a stop during the conversion. The process is paused (SIGSTOP) as soon as its temporary
# GGUF appears, signalled, then resumed: the signal lands with most of the ~75 tensors still
# to write, whatever the machine's speed (the conversion checks for it between tensors).
$GEN --arch llama --hidden 512 --layers 8 --ff 2048 --out "$tmp/big" >/dev/null </dev/null ||
    bad "gen_hf_llm.py for the stop test"
for sig in INT TERM; do
    c="$tmp/cache-$sig"
    set -m # a background job of a script ignores SIGINT unless job control is on
    MILL_CACHE_DIR="$c" "$MILL" --output_dir "$tmp/s-$sig" --limit 2 eval "$tmp/big" mmlu_anatomy \
        >/dev/null 2>"$tmp/s-$sig.err" &
    pid=$!
    set +m
    # the GGUF's temporary, or the end of the run (at most a minute). Only the GGUF's: the hashes
    # of the checkpoint's files are cached through "*.tmp" files too, renamed a moment later.
    for _ in $(seq 6000); do
        [ -n "$(find "$c" -name '*.gguf.*.tmp' 2>/dev/null)" ] || ! kill -0 $pid 2>/dev/null && break
        sleep 0.01
    done
    kill -STOP $pid 2>/dev/null
    saw=$(find "$c" -name '*.gguf.*.tmp' 2>/dev/null | wc -l)
    kill -$sig $pid 2>/dev/null
    kill -CONT $pid 2>/dev/null
    wait $pid; rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    check "SIG$sig during the conversion: exit $rc (want $want), 'stopped by signal', no GGUF and no \
temporary file left" \
        "[ $saw -eq 1 ] && [ $rc -eq $want ] && grep -q 'stopped by signal' '$tmp/s-$sig.err' && \
         [ -z \"\$(find '$c' -name '*.gguf*')\" ] || { echo saw $saw; tail -3 '$tmp/s-$sig.err'; \
         find '$c'; false; }"
done
MILL_CACHE_DIR="$tmp/cache-INT" "$MILL" --output_dir "$tmp/s-again" --limit 2 eval "$tmp/big" \
    mmlu_anatomy >/dev/null 2>"$tmp/s-again.err"; rc=$?
check "... and the rerun converts: exit 0, one GGUF in the cache" \
    "[ $rc -eq 0 ] && [ \$(find '$tmp/cache-INT' -name '*.gguf' | wc -l) -eq 1 ] || { tail -3 '$tmp/s-again.err'; false; }"

# 5. a checkpoint repo on the (fake) Hub, no GGUF anywhere: converted once, reused offline
SHA=0123456789abcdef0123456789abcdef01234567
R="$tmp/root"
mkdir -p "$R/models/org/ckpt/$SHA" "$R/datasets/cais/mmlu/$SHA"
echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.safetensors"]}' > "$R/models/org/ckpt/hub.json"
cp "$tmp/mistral/"* "$R/models/org/ckpt/$SHA/"
echo '{"revisions": {"main": "'$SHA'"}}' > "$R/datasets/cais/mmlu/hub.json"
cp -r "$SRC/tests/data/mmlu/cais_mmlu/anatomy" "$R/datasets/cais/mmlu/$SHA/"
if fake_hub "$R"; then
    export HF_ENDPOINT="$HUB_URL" MILL_CACHE_DIR="$tmp/cache2"
    unset MILL_LOCAL_DATASETS
    "$MILL" --output_dir "$tmp/h1" --limit 2 eval "org/ckpt" mmlu_anatomy >/dev/null 2>"$tmp/err"; rc=$?
    check "Hub checkpoint with no GGUF: converted, exit 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/err'; false; }"
    check "its shards are in the huggingface_hub cache" \
        "[ -L '$tmp/hf/hub/models--org--ckpt/snapshots/$SHA/model-00002-of-00002.safetensors' ]"
    "$MILL" --output_dir "$tmp/h0" --limit 2 eval "org/ckpt[quant=Q4_K_M]" mmlu_anatomy \
        >/dev/null 2>"$tmp/err"; rc=$?
    check "a quant the conversion cannot make: exit 1 saying so" \
        "[ $rc -eq 1 ] && grep -q 'converts to Q8_0 only' '$tmp/err' || { tail -2 '$tmp/err'; false; }"
    before=$(nreq)
    HF_HUB_OFFLINE=1 "$MILL" --output_dir "$tmp/h2" --limit 2 eval "org/ckpt" mmlu_anatomy \
        >/dev/null 2>"$tmp/err"; rc=$?
    after=$(nreq)
    check "offline rerun: reuses the conversion with zero requests" \
        "[ $rc -eq 0 ] && [ '$before' -eq '$after' ] && [ \"\$(prov '$tmp/h2' \"['converted_reused']\")\" = True ] && [ \$(ls '$tmp/cache2/converted/'*.gguf | wc -l) -eq 1 ] || { tail -3 '$tmp/err'; false; }"
fi
finish
