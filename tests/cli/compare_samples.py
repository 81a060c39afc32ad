"""compare_samples.py: per-sample outputs of two runs of one task agree (CLI tests' helper).

Usage: /usr/bin/python3 compare_samples.py OUT_A OUT_B TASK TOL
Both output dirs hold exactly one outputs/<model>/<TASK>.jsonl. Same number of lines, same doc
ids in the same order, no errors, and the same "responses" in the same shape: as many responses
per sample, each a string (identical) or a list of the same length whose log-probabilities agree
within TOL and whose other items (is_greedy flags, token counts) are identical, type included.
Prints "max diff X" and exits 0, else fails with an assertion naming the doc. zip() is never
trusted with lengths: every length is compared before the items are."""
import glob
import json
import sys

a, b, task, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])


def load(d):
    paths = glob.glob(f"{d}/outputs/*/{task}.jsonl")
    assert len(paths) == 1, (d, task, paths)
    with open(paths[0]) as f:
        return [json.loads(line) for line in f]


ra, rb = load(a), load(b)
assert len(ra) == len(rb) and len(ra) > 0, ("line counts differ", len(ra), len(rb))
worst = 0.0
for x, y in zip(ra, rb):
    doc = x.get("doc_id")
    assert x["doc_id"] == y["doc_id"] and "error" not in x and "error" not in y, (x, y)
    xs, ys = x["responses"], y["responses"]
    assert isinstance(xs, list) and isinstance(ys, list), (doc, xs, ys)
    assert len(xs) == len(ys) and len(xs) > 0, (doc, "response counts differ", len(xs), len(ys))
    for p, q in zip(xs, ys):
        assert type(p) is type(q), (doc, p, q)
        if isinstance(p, str):
            assert p == q, (doc, p, q)
            continue
        assert isinstance(p, list) and len(p) == len(q) and len(p) > 0, (doc, p, q)
        for u, v in zip(p, q):
            if isinstance(u, bool) or isinstance(v, bool) or not isinstance(u, (int, float)) \
                    or (isinstance(u, int) and isinstance(v, int)):
                # is_greedy (bool), a token count (int): identical, type included.
                assert type(u) is type(v) and u == v, (doc, p, q)
            else:  # a log-probability (JSON may spell an integral one without a point)
                assert isinstance(v, (int, float)), (doc, p, q)
                worst = max(worst, abs(u - v))
                assert abs(u - v) <= tol, (doc, p, q)
print("max diff %.2e" % worst)
