"""clip_tokenizer_ref.py: the Python reference for tests/unit/test_clip_tokenizer.c.

Usage (Debian's /usr/bin/python3 with python3-regex; never a virtual environment's python3):
  clip_tokenizer_ref.py BPE_GZ REQUEST RESPONSE [--fast]
                                                  tokenise every request, answers in order
                                                  (--fast: as HF's CLIPTokenizerFast cleans)
  clip_tokenizer_ref.py BPE_GZ --write-hf DIR     write DIR/vocab.json (as HF's CLIPTokenizer
                                                  saves it), DIR/vocab_ascii.json (the same,
                                                  \\u-escaped) and DIR/merges.txt
It reads and writes nothing else and exits non-zero when the `regex` module is missing.

A request is an ASCII line "CONTEXT_LENGTH NBYTES" followed by NBYTES raw bytes, decoded as
bytes.decode("utf-8", "replace"). The answer is one line of CONTEXT_LENGTH space-separated ids.

SimpleTokenizer below restates open_clip's tokenizer.py (OpenAI CLIP's simple_tokenizer.py):
bytes_to_unicode, get_pairs, basic_clean, whitespace_clean, the pattern with re.IGNORECASE, bpe
with "</w>" and a cache, the vocabulary built from merges lines [1 : 49152-256-2+1], and
tokenize()'s truncation that keeps EOT last. Two deliberate differences, shared with the C side:
ftfy.fix_text is not applied (ftfy is not in Debian: the C tokenizer is compared here without it;
its ftfy port, on for open_clip checkpoints, is checked by tests/unit/test_ftfy.c), and the special
tokens are spelt "<|startoftext|>" / "<|endoftext|>" as in OpenAI's CLIP and HF (newer open_clip
spells them "<start_of_text>"; the ids, 49406 and 49407, are the same).

FastTokenizer restates what HF's CLIPTokenizerFast does instead of basic_clean, whitespace_clean
and lower(): the normalizer transformers' CLIPConverter builds (tokenizers' NFC, Replace of the
regex \s+ by " ", Lowercase, which maps each character alone), then the same pattern and BPE.
Rust's \s is White_Space, which is Python's str.isspace() without U+001C..U+001F.
"""
import gzip
import html
import json
import os
import sys
import unicodedata

import regex as re


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def basic_clean(text):
    text = html.unescape(html.unescape(text))  # ftfy.fix_text(text) first in open_clip
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def read_merges(bpe_path):
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    return merges[1:49152 - 256 - 2 + 1]


class SimpleTokenizer:
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        merges = [tuple(merge.split()) for merge in read_merges(bpe_path)]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for merge in merges:
            vocab.append("".join(merge))
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"""
            r"""[^\s\p{L}\p{N}]+""", re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return bpe_tokens

    def tokenize(self, text, context_length=77):
        sot = self.encoder["<|startoftext|>"]
        eot = self.encoder["<|endoftext|>"]
        tokens = [sot] + self.encode(text) + [eot]
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot
        return tokens + [0] * (context_length - len(tokens))


WHITE_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


FAST_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""")
SPECIALS = re.compile(r"(<\|startoftext\|>|<\|endoftext\|>)")


class FastTokenizer(SimpleTokenizer):
    def encode(self, text):
        text = unicodedata.normalize("NFC", text)
        text = WHITE_SPACE.sub(" ", text)
        text = "".join(c.lower() for c in text)
        bpe_tokens = []
        for piece in SPECIALS.split(text):  # tokenizers' added tokens: split out first
            if piece in ("<|startoftext|>", "<|endoftext|>"):
                bpe_tokens.append(self.encoder[piece])
                continue
            for token in re.findall(FAST_SPLIT, piece):  # case-sensitive, as CLIPConverter's
                token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
                bpe_tokens.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return bpe_tokens


def answer(tok, req_path, resp_path):
    with open(req_path, "rb") as f:
        data = f.read()
    out = []
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        ctx, n = (int(x) for x in data[pos:nl].split())
        text = data[nl + 1:nl + 1 + n].decode("utf-8", "replace")
        pos = nl + 1 + n
        out.append(" ".join(str(i) for i in tok.tokenize(text, ctx)))
    with open(resp_path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_hf(tok, bpe_path, out_dir):
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tok.encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    with open(os.path.join(out_dir, "vocab_ascii.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tok.encoder, ensure_ascii=True))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(read_merges(bpe_path)) + "\n")


def main():
    if len(sys.argv) not in (4, 5) or (len(sys.argv) == 5 and sys.argv[4] != "--fast"):
        sys.exit(__doc__)
    tok = (FastTokenizer if len(sys.argv) == 5 else SimpleTokenizer)(sys.argv[1])
    if sys.argv[2] == "--write-hf":
        write_hf(tok, sys.argv[1], sys.argv[3])
    else:
        answer(tok, sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
