#!/usr/bin/python3
# csv_oracle.py: how Hugging Face `datasets` reads a CSV file, the oracle for src/data/csv.c
# (tests/unit/test_csv.c runs it under Debian's /usr/bin/python3 with python3-pandas).
#
# datasets' Csv builder calls pandas.read_csv with pandas' defaults (encoding utf-8, strict)
# and turns each DataFrame into Arrow with from_pandas, where NaN is null. Here: read_csv, then
# each row with NaN as None and numpy scalars as Python's. Debian's pandas is 1.5, whose default
# NA strings lack "None", which pandas 2 (what users run) has: it is passed as an NA value.
#
# A path ending in .tsv is read with sep="\t", as datasets reads one.
#
# For each path on the command line, one line: the rows as a compact JSON array of objects
# (json.dumps, ensure_ascii=False: floats as repr, inf as Infinity), or "ERR <exception>".
import json
import math
import sys

import pandas as pd


def rows(path):
    # a .tsv as datasets maps it: the csv builder with sep="\t"
    df = pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",", na_values=["None"],
                     encoding="utf-8", encoding_errors="strict")
    out = []
    for rec in df.to_dict(orient="records"):
        row = {}
        for k, v in rec.items():
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            row[str(k)] = v
        out.append(row)
    return out


sys.stdout.reconfigure(encoding="utf-8")
for path in sys.argv[1:]:
    try:
        print(json.dumps(rows(path), ensure_ascii=False, separators=(",", ":")))
    except Exception as e:  # ParserError, EmptyDataError, UnicodeDecodeError ...
        print("ERR " + type(e).__name__)
