#!/usr/bin/env bash
# test_hf_tokenizer.sh: tokenizer.json -> GGUF tokenizer keys (src/model/convert/hf_tokenizer.c),
# checked against the pinned llama.cpp's share/vocab/ggml-vocab-<name>.gguf through
# tools/hf_tokcheck: every tokenizer.* key of the reference equals ours, and a vocabulary-only
# GGUF of our keys tokenises llama.cpp's own ggml-vocab-<name>.gguf.inp strings to its .out ids
# (tests/data/tokenizers/, origins in its README). The tokenizers:
#  - derived, in every clone: gpt-2, qwen2 and llama-bpe from tests/cli/hf_bpe_fixture.py (a
#    byte-level BPE tokenizer.json laid out as each family's published one, made from the GGUF's
#    tokens, types and merges), llama-spm from tests/cli/hf_spm_fixture.py (SentencePiece-style);
#  - real, when asked for: GPT-2's published files under $MILL_TOKENIZER_DATA (no default: the
#    tests read nothing outside the checkout; not committed, see the README), else a skip.
# Keys ignored: llama-spm's scores (tokenizer.json keeps none). Compared against an adjusted
# reference: qwen2's token types of its [PAD<i>] fillers (see unused_pads). Keys only ours has
# (add_bos_token, add_sep_token, unknown_token_id: the references predate SpecialVocab writing
# them) are listed by hf_tokcheck as "extra", not compared.
# Then bad input: an unknown pre-tokenizer, a Unigram model, malformed JSON, a merge naming an
# unknown token, a vocab_size below the ids, no tokenizer.json: each a clear error naming the
# file and the field.
set -u
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
REAL=${MILL_TOKENIZER_DATA:-}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
CHECK=$BUILD/bin/hf_tokcheck
[ -x "$CHECK" ] || { echo "FAIL - $CHECK missing"; exit 1; }
DATA=$SRC/tests/data/tokenizers
VOCAB=$PREFIX/share/vocab

# against LABEL NAME DIR REF [--ignore KEY]...: converts DIR, compares with REF and tokenises
# llama.cpp's NAME tests (tests/data/tokenizers/NAME/ggml-vocab-NAME.gguf.{inp,out}).
against() {
    local label=$1 name=$2 dir=$3 ref=$4 rc but=
    shift 4
    for a in "$@"; do [ "$a" = --ignore ] || but+=" but $a"; done
    "$CHECK" --dir "$dir" --ref "$ref" "$@" --tests "$DATA/$name/ggml-vocab-$name.gguf" \
        >"$tmp/$label.log" 2>&1
    rc=$?
    check "$label: every tokenizer key$but equals ggml-vocab-$name.gguf" \
        "grep -q '^keys: [1-9][0-9]* equal, 0 differ' '$tmp/$label.log'"
    check "$label: llama.cpp's $name tests tokenise to its ids" \
        "grep -Eq '^tokenize: [1-9][0-9]* tests, 0 differ' '$tmp/$label.log'"
    [ "$rc" -eq 0 ] || { bad "$label: hf_tokcheck exit $rc"; cat "$tmp/$label.log"; }
}

# The real GPT-2 files (sha256 and origin in tests/data/tokenizers/README.md), when present.
# Ignored keys: none (ours adds unknown_token_id: tokenizer_config.json's unk_token is
# <|endoftext|>, which SpecialVocab reads; the reference GGUF predates that).
if [ -n "$REAL" ] && [ -f "$REAL/gpt-2/tokenizer.json.gz" ]; then
    mkdir -p "$tmp/real-gpt-2"
    gzip -dc "$REAL/gpt-2/tokenizer.json.gz" >"$tmp/real-gpt-2/tokenizer.json"
    cp "$REAL/gpt-2/tokenizer_config.json" "$REAL/gpt-2/config.json" "$tmp/real-gpt-2/"
    against "gpt-2 (real)" gpt-2 "$tmp/real-gpt-2" "$VOCAB/ggml-vocab-gpt-2.gguf"
else
    echo "skip - GPT-2's real tokenizer files" \
        "(not in this checkout; set MILL_TOKENIZER_DATA: see tests/data/tokenizers/README.md)"
fi

# derive NAME: $tmp/NAME, a tokenizer derived from ggml-vocab-NAME.gguf: byte-level BPE laid out
# as the family's published files (tests/cli/hf_bpe_fixture.py), or for llama-spm a Llama-2-style
# one as transformers' LlamaConverter makes it (tests/cli/hf_spm_fixture.py; no real one we may
# redistribute was found, tests/data/tokenizers/README.md).
derive() {
    mkdir -p "$tmp/$1"
    if [ "$1" = llama-spm ]; then
        "$PY" "$SRC/tests/cli/hf_spm_fixture.py" "$VOCAB/ggml-vocab-$1.gguf" "$tmp/$1"
    else
        "$PY" "$SRC/tests/cli/hf_bpe_fixture.py" "$VOCAB/ggml-vocab-$1.gguf" "$1" "$tmp/$1"
    fi || { bad "$1: deriving its tokenizer.json failed"; return 1; }
}

# unused_pads REF OUT: a copy of the qwen2 reference with its 290 "[PAD<i>]" fillers typed UNUSED.
# It was made by an older convert_hf_to_gguf.py, which typed them USER_DEFINED; today's
# get_vocab_base (conversion/base.py) types them UNUSED, as ours does.
unused_pads() {
    "$PY" - "$SRC/tests/cli" "$1" "$2" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
from gguf_kv import read_gguf_kv
off = {}
kv = read_gguf_kv(sys.argv[2], off)
data = bytearray(open(sys.argv[2], "rb").read())
types = kv["tokenizer.ggml.token_type"]
pads = [i for i, t in enumerate(kv["tokenizer.ggml.tokens"]) if t == f"[PAD{i}]" and types[i] == 4]
assert len(pads) == 290, len(pads)
for i in pads:
    struct.pack_into("<i", data, off["tokenizer.ggml.token_type"] + 4 * i, 5)
open(sys.argv[3], "wb").write(data)
PY
}

# The derived tokenizers against their references. Ignored keys: llama-spm's scores only
# (tokenizer.json keeps no SentencePiece scores: ours are minus the rank of the first merge making
# a piece, which orders merges as llama.cpp needs, and must still tokenise its tests to its ids).
# The full-size ones run under the sanitizers too (`make check`): seconds each since the JSON
# parser grows its arrays by doubling.
for name in gpt-2 qwen2 llama-bpe llama-spm; do
    derive "$name" || continue
    ref=$VOCAB/ggml-vocab-$name.gguf ign=()
    if [ "$name" = qwen2 ]; then
        ref=$tmp/ggml-vocab-qwen2-unused.gguf
        unused_pads "$VOCAB/ggml-vocab-qwen2.gguf" "$ref"
    fi
    [ "$name" = llama-spm ] && ign=(--ignore tokenizer.ggml.scores)
    start=$SECONDS
    against "$name (derived)" "$name" "$tmp/$name" "$ref" "${ign[@]}"
    echo "# $name (derived): $((SECONDS - start)) s"
done

# A tiny byte-level BPE tokenizer of the gpt-2 signature (GPT-2's 256 byte characters, three
# merges, <|endoftext|>): it must convert; the bad inputs below are edits of it.
mkdir -p "$tmp/tiny"
"$PY" - "$tmp/tiny" <<'PY'
import json, sys
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs = bs[:] + [256 + n for n in range(256) if n not in bs]
chars = [chr(c) for c in cs]
vocab = {c: i for i, c in enumerate(chars)}
vocab.update({"Ġt": 256, "he": 257, "Ġthe": 258, "<|endoftext|>": 259})
eot = {"id": 259, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
       "rstrip": False, "normalized": True, "special": True}
t = {"version": "1.0", "added_tokens": [eot], "normalizer": None,
     "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                       "use_regex": True},
     "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
     "model": {"type": "BPE", "dropout": None, "unk_token": None,
               "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
               "byte_fallback": False, "vocab": vocab, "merges": ["Ġ t", "h e", "Ġt he"]}}
d = sys.argv[1]
json.dump(t, open(f"{d}/tokenizer.json", "w", encoding="utf-8"))
json.dump({"vocab_size": 260, "bos_token_id": 259, "eos_token_id": 259}, open(f"{d}/config.json", "w"))
json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
          open(f"{d}/tokenizer_config.json", "w"))
PY
"$CHECK" --dir "$tmp/tiny" >"$tmp/tiny.log" 2>&1
check "a tiny byte-level BPE tokenizer converts" "grep -q '^converted .*: [1-9][0-9]* keys' '$tmp/tiny.log'"

# edit NAME PYTHON: a copy of the tiny tokenizer in $tmp/NAME with tokenizer.json (as `t`, a
# dict) and config.json (`c`) changed by PYTHON.
edit() {
    rm -rf "${tmp:?}/$1"
    cp -r "$tmp/tiny" "$tmp/$1"
    "$PY" - "$tmp/$1" "$2" <<'PY'
import json, sys
d, code = sys.argv[1], sys.argv[2]
t = json.load(open(f"{d}/tokenizer.json", encoding="utf-8"))
c = json.load(open(f"{d}/config.json", encoding="utf-8"))
exec(code)
json.dump(t, open(f"{d}/tokenizer.json", "w", encoding="utf-8"))
json.dump(c, open(f"{d}/config.json", "w", encoding="utf-8"))
PY
}

# refused DESC NAME PATTERN: converting $tmp/NAME fails (exit 1) with stderr matching PATTERN.
refused() {
    "$CHECK" --dir "$tmp/$2" >/dev/null 2>"$tmp/$2.err"
    local rc=$?
    if [ "$rc" -eq 1 ] && grep -Eq -- "$3" "$tmp/$2.err"; then
        ok "$1"
    else
        bad "$1 (exit $rc; stderr: $(cat "$tmp/$2.err"))"
    fi
}

edit whitespace 't["pre_tokenizer"] = {"type": "Whitespace"}'
refused "an unknown pre-tokenizer is refused" whitespace \
    "tokenizer.json: pre_tokenizer/normalizer: not a pre-tokenizer llama.cpp names"
edit regex 't["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "Split",
  "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False},
  {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}'
refused "a Split of an unknown regex is refused" regex "tokenizer.json: pre_tokenizer"
edit prefix 't["pre_tokenizer"]["add_prefix_space"] = True'
refused "ByteLevel with add_prefix_space is refused" prefix "tokenizer.json: pre_tokenizer"
edit unigram 't["model"]["type"] = "Unigram"'
refused "a Unigram model is refused" unigram "tokenizer.json: model.type 'Unigram'"
edit merge 't["model"]["merges"].append("Ġzzzq xq")'
refused "a merge naming an unknown token is refused" merge \
    "tokenizer.json: model.merges\[3\]: 'Ġzzzq' is not in model.vocab"
edit merged 't["model"]["merges"].append("Ġ Ġ")'
refused "a merge making an unknown token is refused" merged \
    "tokenizer.json: model.merges\[3\]: 'ĠĠ' is not in model.vocab"
edit shared 't["model"]["vocab"]["zzzq"] = 7'
refused "two tokens of one id are refused" shared "tokenizer.json: model.vocab: .* share id 7"
edit small 'c["vocab_size"] = 100'
refused "a vocab_size below the ids is refused" small \
    "config.json: vocab_size 100, but tokenizer.json has token id 259"
edit badid 't["model"]["vocab"]["zzzq"] = -3'
refused "a negative id is refused" badid "tokenizer.json: model.vocab\['zzzq'\]: not an id"
cp -r "$tmp/tiny" "$tmp/truncated"
head -c 2000 "$tmp/tiny/tokenizer.json" >"$tmp/truncated/tokenizer.json"
refused "malformed JSON is refused" truncated "truncated/tokenizer.json: .*(offset|byte)"
mkdir -p "$tmp/empty"
refused "a directory without tokenizer.json is refused" empty "empty/tokenizer.json: "

finish
