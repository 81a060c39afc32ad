"""compare_oracle.py: an independent Python computation of `mill collect --compare A,B`.

Usage: compare_oracle.py OUTPUT_DIR A B [--metric M] [--tasks T,...] [--json]

Reads OUTPUT_DIR/aggregate.csv with the csv module and each job's JSONL and provenance with the
json module, pairs A's and B's answers by doc_id and prints the table mill prints (or, with
--json, the numbers unrounded). The rules it implements, from BEHAVIOUR.md §1.4:
  - a job is a (model, task, n_shot) of a non-rollup aggregate row; its answer for a doc is its
    last JSONL line whose seed is the provenance's (any seed without provenance), none when that
    line has "error",
    and whose doc_id is below the provenance's "n" (an earlier run over more docs left the rest);
  - a task row pairs the docs both answered with a number for a metric both have; a benchmark
    row (two or more task rows of one benchmark, n_shot and metric) stratifies over its tasks;
  - diff = mean over strata of mean(b - a); 95% CI = numpy.percentile of 10,000 bootstrap
    statistics drawn with random.Random("1234|<name>|<n_shot>|<metric>")._randbelow;
  - McNemar: exact two-sided binomial tail on the discordant counts (math.comb, Fraction).
Run with Debian's /usr/bin/python3 (numpy).
"""
import csv
import json
import math
import os
import random
import sys
from fractions import Fraction

import numpy as np

RESAMPLES, SEED = 10000, 1234


def number(x):
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return float(x)
    return math.nan


def load(out_dir, models, tasks):
    rows = list(csv.DictReader(open(os.path.join(out_dir, "aggregate.csv"), newline="")))

    def rollup(r):
        return any(o is not r and o["benchmark"] == r["task"] and o["task"] != r["task"]
                   and o["model"] == r["model"] for o in rows)

    jobs = {}
    for r in rows:
        if not r["model"] or not r["task"] or rollup(r) or r["model"] not in models:
            continue
        if tasks and r["task"] not in tasks and r["benchmark"] not in tasks:
            continue
        key = (r["model"], r["task"], int(float(r["n_shot"])))
        job = jobs.setdefault(key, {"benchmark": r["benchmark"], "metrics": [], "s": {}})
        if r["metric"] not in job["metrics"]:
            job["metrics"].append(r["metric"])
    for (model, task, n_shot), job in jobs.items():
        base = os.path.join(out_dir, "outputs", model.replace("/", "__"), f"{task}_{n_shot}shot")
        seed, n_docs = None, None
        try:
            prov = json.load(open(base + ".json"))
            seed, n_docs = prov.get("seed"), prov.get("n")
        except (OSError, ValueError):
            pass
        try:
            lines = open(base + ".jsonl", encoding="utf-8").read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                d = json.loads(line)
                doc = d["doc_id"]
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(doc, int) or doc < 0:
                continue
            if isinstance(n_docs, int) and n_docs > 0 and doc >= n_docs:
                continue
            if seed is not None and isinstance(d.get("seed"), int) and d["seed"] != seed:
                continue
            if "error" in d:  # the doc's last line failed: no answer
                job["s"].pop(doc, None)
                continue
            job["s"][doc] = [number(d.get(m)) for m in job["metrics"]]
    return jobs


def mcnemar(a_only, b_only):
    n, k = a_only + b_only, min(a_only, b_only)
    if n == 0:
        return 1.0
    p = 2 * Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2 ** n)
    return float(min(p, 1))


def stats(strata, key):
    st = {"n": 0, "mean_a": 0.0, "mean_b": 0.0, "diff": 0.0, "a_only": 0, "b_only": 0}
    binary = True
    for a, b in strata:
        sa = sb = sd = 0.0
        for x, y in zip(a, b):
            sa += x
            sb += y
            sd += y - x
            binary = binary and x in (0.0, 1.0) and y in (0.0, 1.0)
            st["a_only"] += x == 1 and y == 0
            st["b_only"] += y == 1 and x == 0
        st["n"] += len(a)
        st["mean_a"] += sa / len(a)
        st["mean_b"] += sb / len(a)
        st["diff"] += sd / len(a)
    k = len(strata)
    for f in ("mean_a", "mean_b", "diff"):
        st[f] /= k
    st["p"] = mcnemar(st["a_only"], st["b_only"]) if binary else math.nan
    rng = random.Random(f"{SEED}|{key}")
    ds = [[y - x for x, y in zip(a, b)] for a, b in strata]
    boot = []
    for _ in range(RESAMPLES):
        acc = 0.0
        for d in ds:
            s = 0.0
            n = len(d)
            for _ in range(n):
                s += d[rng._randbelow(n)]
            acc += s / n
        boot.append(acc / k)
    st["lo"], st["hi"] = (float(v) for v in np.percentile(np.array(boot), [2.5, 97.5]))
    return st


def compare(jobs, A, B, metric):
    tasks = []
    for (model, task, n_shot), ja in jobs.items():
        jb = jobs.get((B, task, n_shot))
        if model != A or jb is None:
            continue
        for m, name in enumerate(ja["metrics"]):
            if name not in jb["metrics"] or (metric and metric != name):
                continue
            mb = jb["metrics"].index(name)
            a, b = [], []
            for doc in sorted(ja["s"]):
                if doc in jb["s"]:
                    x, y = ja["s"][doc][m], jb["s"][doc][mb]
                    if math.isfinite(x) and math.isfinite(y):
                        a.append(x)
                        b.append(y)
            if a:
                tasks.append({"name": task, "n_shot": n_shot, "metric": name, "a": a, "b": b,
                              "bench": ja["benchmark"], "rollup": False})
    tasks.sort(key=lambda r: (r["name"].encode(), r["n_shot"], r["metric"].encode()))
    out = []
    for t in tasks:
        t["st"] = stats([(t["a"], t["b"])], f"{t['name']}|{t['n_shot']}|{t['metric']}")
        out.append(t)
    groups = {}
    for t in tasks:
        if t["bench"]:
            groups.setdefault((t["bench"], t["n_shot"], t["metric"]), []).append(t)
    for (bench, n_shot, m), ts in groups.items():
        if len(ts) >= 2:
            out.append({"name": bench, "n_shot": n_shot, "metric": m, "rollup": True,
                        "st": stats([(t["a"], t["b"]) for t in ts], f"{bench}|{n_shot}|{m}")})
    out.sort(key=lambda r: (not r["rollup"], r["name"].encode(), r["n_shot"],
                            r["metric"].encode()))
    return out


def render(rows, A, B):
    head = ["task", "n_shot", "metric", "n", "A", "B", "B-A", "95% CI", "A only", "B only",
            "McNemar p"]
    lines = [head]
    for r in rows:
        s = r["st"]
        p = s["p"]
        ps = "-" if math.isnan(p) else (f"{p:.1e}" if p < 1e-4 else f"{p:.4f}")
        lines.append([r["name"] + (" (all)" if r["rollup"] else ""), str(r["n_shot"]),
                      r["metric"], str(s["n"]), f"{s['mean_a']:.4f}", f"{s['mean_b']:.4f}",
                      f"{s['diff']:+.4f}", f"[{s['lo']:+.4f}, {s['hi']:+.4f}]",
                      str(s["a_only"]), str(s["b_only"]), ps])
    w = [max(len(l[k]) for l in lines) for k in range(len(head))]
    text = (f"Paired comparison on the questions both answered\n  A = {A}\n  B = {B}\n"
            f"  95% CI: paired bootstrap, {RESAMPLES} resamples, seed {SEED}; "
            "p: exact McNemar on the questions only one got right\n\n")
    for l in lines:
        text += "  ".join(c.ljust(w[k]) if k < 3 else c.rjust(w[k])
                          for k, c in enumerate(l)) + "\n"
    return text


def main():
    args = sys.argv[1:]
    metric = tasks = None
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if "--metric" in args:
        i = args.index("--metric")
        metric = args[i + 1]
        del args[i:i + 2]
    if "--tasks" in args:
        i = args.index("--tasks")
        tasks = args[i + 1].split(",")
        del args[i:i + 2]
    out_dir, A, B = args
    rows = compare(load(out_dir, {A, B}, tasks), A, B, metric)
    if as_json:
        print(json.dumps([{k: v for k, v in r.items() if k in ("name", "n_shot", "metric",
                                                               "rollup", "st")} for r in rows]))
    else:
        sys.stdout.write(render(rows, A, B))


if __name__ == "__main__":
    main()
