"""compare_samples.py: per-sample outputs of two runs of one task agree (CLI tests' helper).

Usage: /usr/bin/python3 compare_samples.py OUT_A OUT_B TASK TOL
Both output dirs hold outputs/<model>/<TASK>.jsonl. Same doc ids in the same order, no errors,
log-probabilities within TOL, is_greedy flags and generated strings identical. Prints
"max diff X" and exits 0, else fails with an assertion naming the doc."""
import glob
import json
import sys

a, b, task, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])


def load(d):
    return [json.loads(line) for line in open(glob.glob(f"{d}/outputs/*/{task}.jsonl")[0])]


ra, rb = load(a), load(b)
assert len(ra) == len(rb) and len(ra) > 0, (len(ra), len(rb))
worst = 0.0
for x, y in zip(ra, rb):
    assert x["doc_id"] == y["doc_id"] and "error" not in x and "error" not in y, (x, y)
    for p, q in zip(x["responses"], y["responses"]):
        if isinstance(p, str):
            assert p == q, (x["doc_id"], p, q)
            continue
        worst = max(worst, abs(p[0] - q[0]))
        assert abs(p[0] - q[0]) <= tol, (x["doc_id"], p, q)
        if isinstance(p[1], bool):
            assert p[1] == q[1], (x["doc_id"], p, q)
print("max diff %.2e" % worst)
