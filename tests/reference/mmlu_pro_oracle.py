# mmlu_pro_oracle.py: Mill's mmlu_pro extraction in Python's `re` (BEHAVIOUR.md §4.2), the oracle for
# tests/unit/test_mmlu_pro.c. Reads generations as JSON lines on stdin, prints the extracted
# letter (or "-") per line; "?" when the match, uppercased, is no ASCII letter (U+0130 stays
# itself under .upper()).
import json
import re
import sys

PATTERNS = [
    (r"answer is \(?([A-J])\)?", re.IGNORECASE),
    (r"answer\s*:\s*\(?([A-J])\)?", re.IGNORECASE),
    (r"\b([A-J])\b(?!.*\b[A-J]\b)", re.DOTALL),
]

def extract(text):
    for pat, flags in PATTERNS:
        m = re.search(pat, text, flags)
        if m:
            return m.group(1).upper()
    return None

for line in sys.stdin:
    got = extract(json.loads(line))
    print("-" if got is None else got if got.isascii() else "?")
