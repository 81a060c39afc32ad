#!/usr/bin/python3
# mcq_oracle.py: the two multiple-choice letter parsers of src/metric/mcq.c in Python, the oracle
# for tests/unit/test_mcq_parsers.c (run under Debian's /usr/bin/python3, whose random.Random
# string seeding is the reference for the fall-back draws). Standard library only.
#
#   generic    Mill's parse_multi_choice_response(response, options) (BEHAVIOUR.md §3.6), as
#              mill/utils.py of Python Mill (github.com/haideraltahan/Mill) writes it.
#   mmmu_pro   the official MMMU-Pro grader (MMMU-Benchmark/MMMU, mmmu-pro/evaluate.py,
#              parse_multi_choice_response) with Mill's seeded fall-back (BEHAVIOUR.md §4.5), as
#              mill/tasks/mmmu_pro/utils.py restates it.
#
# Reads JSON lines on stdin, {"parser": "generic" | "mmmu_pro", "options": [...], "response":
# str, "seed": int, "key": str (mmmu_pro: the id or query the fall-back is keyed by)}, and
# prints the letter per line.
import json
import random
import re
import sys
from string import ascii_uppercase


def sample_rng(seed, *parts):
    """Mill's sample_rng: random.Random("|".join(map(str, (seed, *parts))))."""
    return random.Random("|".join(str(p) for p in (seed, *parts)))


MARKER_RE = re.compile(
    r"(?i:(?:final|correct|best)\s+answers?|answers?)"
    r"\s*(?i:is|are|=|:|->|=>)?\s*"
    r"[\(\[\{*\"'`]*\s*"
    r"(?<![A-Za-z])([A-Z])(?![A-Za-z])"
)


def cascade(text, letters, index2ans, strip_chars, rng):
    """The bracket, space, dot and option-text cascade shared by both parsers."""
    for ch in strip_chars:  # one character at a time, in this order: str.strip(ch)
        text = text.strip(ch)
    text = f" {text} "
    candidates = [c for c in letters if f"({c})" in text]
    bracketed = bool(candidates)
    matched_text = False
    if not candidates:
        candidates = [c for c in letters if f"{c} " in text]
    if not candidates:
        candidates = [c for c in letters if f"{c}." in text]
    if not candidates and len(text.split()) > 5:
        candidates = [c for c in letters if index2ans[c].lower() in text.lower()]
        matched_text = bool(candidates)
    if not candidates:
        return rng.choice(letters)
    if len(candidates) == 1:
        return candidates[0]
    # several: the one found last; on a tie (rfind -1 included) the first in letter order
    if matched_text:
        key = lambda c: text.lower().rfind(index2ans[c].lower())
    elif bracketed:
        key = lambda c: text.rfind(f"({c})")
    else:
        key = lambda c: text.rfind(f" {c} ")
    return max(candidates, key=key)


def generic(response, options, seed):
    letters = list(ascii_uppercase[: len(options)])
    index2ans = dict(zip(letters, options))
    rng = sample_rng(seed, "parse_multi_choice", response)
    markers = [m.group(1) for m in MARKER_RE.finditer(response) if m.group(1) in letters]
    if markers:
        return markers[-1]
    return cascade(response, letters, index2ans, [",", ".", "!", "?", ";", ":", "'", '"'], rng)


def mmmu_pro(response, options, key, seed):
    letters = list(ascii_uppercase[: len(options)])
    index2ans = dict(zip(letters, options))
    rng = sample_rng(seed, "mmmu_pro", key)
    last = response.rfind("Answer:")
    if last != -1:
        tail = response[last + len("Answer:"):].strip()
        found = [c for c in letters if c in tail]
        if len(found) == 1:
            return found[0]
    # the official strips these seven, without the double quote of the generic parser
    return cascade(response, letters, index2ans, [",", ".", "!", "?", ";", ":", "'"], rng)


sys.stdin.reconfigure(encoding="utf-8")
sys.stdout.reconfigure(encoding="utf-8")
for line in sys.stdin:
    req = json.loads(line)
    if req["parser"] == "generic":
        print(generic(req["response"], req["options"], req["seed"]))
    else:
        print(mmmu_pro(req["response"], req["options"], req["key"], req["seed"]))
