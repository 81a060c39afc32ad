#!/usr/bin/env bash
# test_compare.sh: `mill collect --compare A,B` on generated result sets, checked digit for digit
# against tests/reference/compare_oracle.py (Python's random.Random for the bootstrap, numpy's
# percentile, exact binomial tails for McNemar): a two-task benchmark with a rollup, a
# standalone task, a non-binary metric (no McNemar), partial overlap, failed samples, lines of
# another seed, a torn line, a large discordant count, results of an older mill (no provenance,
# no seed), a run that did not finish (its answered docs, with a warning); --metric and --tasks;
# and the refusals: one model, a model with no results, two
# models with nothing in common, an empty output dir.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
ORACLE="$SRC/tests/reference/compare_oracle.py"
OUT="$tmp/out"

"$PY" - "$OUT" <<'PY'
import json, os, random, sys
out = sys.argv[1]
rng = random.Random(7)
agg = ["model,benchmark,task,task_type,n_shot,metric,performance,stderr"]

def job(model, bench, task, n_shot, metrics, values, seed=42, prov=True, extra=(), n=None,
        finished=True):
    d = os.path.join(out, "outputs", model.replace("/", "__"))
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, f"{task}_{n_shot}shot")
    with open(base + ".jsonl", "w") as f:
        for doc, vals in values:
            row = {"subject": "s", "model": model, "task": task, "n_shot": n_shot,
                   "doc_id": doc, "split": "test", "prediction": 0, "gold": 1}
            row.update(zip(metrics, vals))
            if seed is not None:
                row["seed"] = seed
            row["prompt"] = f"Q{doc}"
            f.write(json.dumps(row) + "\n")
        for line in extra:
            f.write(line + "\n")
    if prov:
        json.dump({"mill_version": "0.1.0", "model": model, "backend": "replay", "task": task,
                   "n_shot": n_shot, "dataset": {}, "seed": seed, "limit": -1,
                   "n": n or 1 + max(doc for doc, _ in values), "finished": finished},
                  open(base + ".json", "w"))
    for m in metrics:
        agg.append(f"{model},{bench},{task},multiple_choice,{n_shot},{m},0.5,0.01")

def binary(n, p, skip=()):
    return [(i, [float(rng.random() < p)]) for i in range(n) if i not in skip]

job("org/a", "bench", "t1", 5, ["acc"], binary(60, 0.4),
    extra=[json.dumps({"doc_id": 3, "seed": 7, "acc": 1.0}),      # another seed: ignored
           json.dumps({"doc_id": 61, "seed": 42, "error": "boom"}),  # failed: not an answer
           '{"doc_id": 62, "acc": 1.0, "seed"'], n=63)               # torn last line
job("org/b", "bench", "t1", 5, ["acc"], binary(60, 0.6))
both = [(i, [float(rng.random() < 0.5), rng.random()]) for i in range(45)]
job("org/a", "bench", "t2", 5, ["acc", "f1"], both)
job("org/b", "bench", "t2", 5, ["acc", "f1"],
    [(i, [float(rng.random() < 0.7), rng.random()]) for i in range(45) if i % 4])  # partial
job("org/a", "", "t3", 0, ["acc"], binary(30, 0.5),
    extra=[json.dumps({"doc_id": 4, "seed": 42, "error": "boom"})])  # doc 4's last line failed
job("org/b", "", "t3", 0, ["acc"], binary(30, 0.5))
job("org/a", "", "tinf", 0, ["lp"], [(i, [float("-inf") if i == 2 else -1.0 - i]) for i in range(6)])
job("org/b", "", "tinf", 0, ["lp"], [(i, [-2.0 - i]) for i in range(6)])  # an infinite value: left out
job("org/a", "", "big", 0, ["acc"], [(i, [float(i % 10 in (0, 3))]) for i in range(400)])
job("org/b", "", "big", 0, ["acc"], [(i, [float(i % 10 != 3)]) for i in range(400)])
job("old", "bench", "t1", 5, ["acc"], binary(60, 0.5), seed=None, prov=False)
job("old", "bench", "t2", 5, ["acc", "f1"], both[::-1], seed=None, prov=False)
job("c", "", "t9", 0, ["acc"], binary(10, 0.5))
job("org/u", "", "t3", 0, ["acc"], binary(12, 0.5), finished=False)  # a run stopped at doc 12
# A --limit 30 run after a full one of 40 docs: the lines of docs 30..39 are not the job's.
job("org/a", "", "tlim", 0, ["acc"], binary(40, 0.5), n=30)
job("org/b", "", "tlim", 0, ["acc"], binary(40, 0.5), n=30)
for m in ("org/a", "org/b", "old"):
    agg.append(f"{m},bench,bench,multiple_choice,5,acc,0.5,0.01")
open(os.path.join(out, "aggregate.csv"), "w").write("\n".join(agg) + "\n")
PY

# same OUT A B [ORACLE/MILL ARGS...]: mill's table equals the oracle's, byte for byte.
same() {
    local desc=$1 a=$2 b=$3
    shift 3
    "$PY" "$ORACLE" "$OUT" "$a" "$b" "$@" >"$tmp/want" 2>"$tmp/oracle.err" || {
        bad "$desc (oracle failed: $(tail -1 "$tmp/oracle.err"))"; return; }
    "$MILL" --output_dir "$OUT" collect --compare "$a,$b" "$@" >"$tmp/got" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 0 ] && cmp -s "$tmp/want" "$tmp/got"; then ok "$desc"
    else bad "$desc (exit $rc)"; diff "$tmp/want" "$tmp/got" | head -20; cat "$tmp/err"; fi
}
same "org/a vs org/b: every task, metric and the rollup equal the oracle" org/a org/b
cp "$tmp/got" "$tmp/ab"
check "a torn line skipped is said on stderr" \
    "grep -q 'unreadable lines of its samples file skipped' '$tmp/err'"
same "--metric acc keeps one metric" org/a org/b --metric acc
same "--tasks bench keeps the benchmark's tasks" org/a org/b --tasks bench
same "an older mill's results (no provenance, no seeds) compare too" old org/a
check "a job without provenance is said: its lines are taken whatever their seed" \
    "grep -q 'old t1 5-shot: no provenance file.*whatever their seed' '$tmp/err'"
same "the other way round (B-A flips)" org/b org/a
same "a run that did not finish compares the docs it answered" org/u org/b
check "... and says so" \
    "grep -q 'org/u t3 0-shot: its run did not finish.*only the 12 docs it answered' '$tmp/err'"

check "the table has the rollup first, tasks by name" \
    "[ \"\$(awk 'NR>6{print \$1}' '$tmp/ab' | tr '\n' ' ')\" = 'bench big t1 t2 t2 t3 tinf tlim ' ]"
check "a value that is not finite is left out of the pairs (tinf pairs 5 of 6 docs)" \
    "grep -Eq '^tinf +0 +lp +5 ' '$tmp/ab' && ! grep -Eq '(^| )[-+]?(inf|nan)( |\$)' '$tmp/ab'"
check "the rollup row is marked and counts both tasks' pairs" \
    "grep -Eq '^bench \\(all\\) +5 +acc +93 ' '$tmp/ab'"
check "a non-binary metric has no McNemar p" "grep -Eq '^t2 +5 +f1 .* -\$' '$tmp/ab'"
check "partial overlap: t2 pairs only the 33 docs both answered" \
    "grep -Eq '^t2 +5 +acc +33 ' '$tmp/ab'"
check "a tiny McNemar p is printed in e-notation" "grep -Eq '^big .*e-[0-9]+\$' '$tmp/ab'"
check "failed samples, other seeds and torn lines are not answers (t1 has 60 pairs)" \
    "grep -Eq '^t1 +5 +acc +60 ' '$tmp/ab'"
check "a doc whose last line failed has no answer (t3 pairs 29 of 30)" \
    "grep -Eq '^t3 +0 +acc +29 ' '$tmp/ab'"
check "lines beyond the provenance's n are not the job's (tlim pairs 30 of 40 lines)" \
    "grep -Eq '^tlim +0 +acc +30 ' '$tmp/ab'"

# The numbers themselves, independently of formatting: McNemar of the 'big' task.
"$PY" - "$tmp/ab" <<'PY' >"$tmp/mc.out" 2>&1
import math, sys
from fractions import Fraction
line = [l for l in open(sys.argv[1]) if l.startswith("big ")][0].split()
a_only, b_only, p = int(line[-3]), int(line[-2]), float(line[-1])
n, k = a_only + b_only, min(a_only, b_only)
want = float(2 * Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2 ** n))
assert (a_only, b_only) == (40, 320), (a_only, b_only)
assert abs(p - want) / want < 0.05, (p, want)
print("ok")
PY
check "McNemar of 40 vs 320 discordant pairs is the exact binomial tail" "grep -qx ok '$tmp/mc.out'"

expect_exit "--compare with one model is a usage error" 2 "two different models" \
    --output_dir "$OUT" collect --compare org/a
expect_exit "--compare A,A is a usage error" 2 "two different models" \
    --output_dir "$OUT" collect --compare org/a,org/a
expect_exit "a model with no results is named, with the models there" 1 \
    "model 'nope' has no results .*models there: org/a, org/b" \
    --output_dir "$OUT" collect --compare org/a,nope
expect_exit "two models with no question in common" 1 "answered no question in common" \
    --output_dir "$OUT" collect --compare org/a,c
mkdir -p "$tmp/empty"
expect_exit "an output dir with no results" 1 "has no results" \
    --output_dir "$tmp/empty" collect --compare org/a,org/b
finish
