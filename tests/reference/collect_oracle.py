#!/usr/bin/python3
# collect_oracle.py: `mill collect` rendered by the libraries Python Mill uses, pandas'
# pivot_table and rich's Table (Debian's python3-pandas and python3-rich), for
# tests/unit/test_collect.c. Reads aggregate.csv text on stdin; writes the text collect prints.
# Options: --metric M, --models a,b, --tasks t,u, --check 0|1, --expected m|t|n[|v,w];...
# (with v,w: the job is done when task v or w has a row, a benchmark's picked variant).
# It follows BEHAVIOUR.md §1.4 with our documented differences: filters apply whatever their
# number, and a task with several metrics (no --metric) gets one "task (metric)" column each.
import argparse
import io
import sys

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

ap = argparse.ArgumentParser()
ap.add_argument("--metric")
ap.add_argument("--models")
ap.add_argument("--tasks")
ap.add_argument("--check", type=int, default=1)
ap.add_argument("--expected")
a = ap.parse_args()

text = sys.stdin.read()
out = io.StringIO()
console = Console(file=out, width=10000, color_system=None, legacy_windows=False,
                  force_terminal=False, highlight=False)

df = pd.read_csv(io.StringIO(text), dtype={"model": str, "task": str, "metric": str}) \
    if text.strip() else pd.DataFrame(columns=["model", "task", "n_shot", "metric", "performance"])
view = df
if a.models:
    view = view[view["model"].isin(a.models.split(","))]
if a.tasks:
    view = view[view["task"].isin(a.tasks.split(","))]
if a.metric:
    view = view[view["metric"] == a.metric]
view = view.dropna(subset=["model", "task", "performance"])
view = view[(view["model"] != "") & (view["task"] != "")]

if len(view) == 0:
    console.print("No results found.")
else:
    per_task = view.groupby("task")["metric"].nunique()
    split = (not a.metric) & view["task"].map(per_task).gt(1)
    view = view.assign(col=view["task"].where(~split, view["task"] + " (" + view["metric"] + ")"))
    pivot = view.pivot_table(index="model", columns="col", values="performance", aggfunc="mean")
    title = "Mill results \u2014 performance" + (f" ({a.metric})" if a.metric else "")
    table = Table(title=title, box=box.SQUARE)
    table.add_column("model")
    for c in pivot.columns:
        table.add_column(str(c))
    for model, row in pivot.iterrows():
        table.add_row(str(model), *[f"{v:.4f}" for v in row])
    console.print(table)

if a.check:
    if len(df) == 0:
        console.print("\nNo results at all.")
    else:
        done = df[["model", "task", "n_shot"]].fillna("").drop_duplicates()
        console.print(f"\nCompleted jobs: {len(done)}")
        if a.expected:
            keys = {(str(m), str(t), int(n)) for m, t, n in done.itertuples(index=False)}
            jobs = [(j.split("|") + [""])[:4] for j in a.expected.split(";")]
            missing = [j for j in jobs
                       if not any((j[0], t, int(j[2])) in keys
                                  for t in (j[3].split(",") if j[3] else [j[1]]))]
            if not missing:
                console.print("All requested jobs are complete.")
            else:
                console.print(f"Missing {len(missing)} jobs:")
                for m, t, n, _ in missing:
                    console.print(f"  model={m}  task={t}  n_shot={n}")
sys.stdout.write(out.getvalue())
