#!/usr/bin/python3
# audio_metrics_oracle.py: the metrics of the generative audio tasks in Python, the oracle for
# tests/unit/test_audio_metrics.c (run under Debian's /usr/bin/python3). Written from the
# definitions (BEHAVIOUR.md §4.6, §4.7; ../shared/SPEC.md §4.6, §4.7), as Python Mill's
# mill/tasks/clotho_aqa, esc50 and urbansound8k task files state them. Standard library only.
#
#   clotho_aqa_exact_match  lowercase, delete string.punctuation, collapse whitespace, ==
#   *_gen_acc               lowercase, "_" -> " ", collapse whitespace; empty response 0;
#                           exact 1; else the longest class contained (first of equal length,
#                           in class order) == gold; else 0
#
# Reads JSON lines {"metric": str, "response": str, "gold": str, "classes": [str]} on stdin and
# prints each value as 0.0 or 1.0, one per line.
import json
import string
import sys

_PUNCT = str.maketrans("", "", string.punctuation)


def clotho_norm(text):
    return " ".join(text.lower().translate(_PUNCT).split())


def class_norm(text):
    return " ".join(str(text).lower().replace("_", " ").split())


def clotho_aqa_exact_match(response, gold, classes):
    return float(clotho_norm(response or "") == clotho_norm(gold))


def gen_acc(response, gold, classes):
    gold = class_norm(gold)
    resp = class_norm(response)
    if not resp:
        return 0.0
    if resp == gold:
        return 1.0
    hits = [c for c in (class_norm(x) for x in classes) if c and c in resp]
    if hits:
        return float(max(hits, key=len) == gold)
    return 0.0


METRICS = {"clotho_aqa_exact_match": clotho_aqa_exact_match, "esc50_gen_acc": gen_acc,
           "urbansound8k_gen_acc": gen_acc}

for line in sys.stdin:
    r = json.loads(line)
    print(METRICS[r["metric"]](r["response"], r["gold"], r["classes"]))
