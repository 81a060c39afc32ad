#!/usr/bin/python3
# pyformat_oracle.py: CPython's own format(value, spec) and printf-style `spec % value`, the
# oracle for tests/unit/test_pyformat.c (src/core/pyformat.c). Standard library only.
#
# Reads JSON lines {"op": "format" | "printf", "t": "s" | "i" | "f", "v": str, "spec": str}: the
# value's type and its text (a float as float() reads it: "inf", "-0.0", "nan"), and prints
# one JSON line per case: {"ok": text} or {"err": "ExceptionName"}.
import json
import sys

for line in sys.stdin:
    c = json.loads(line)
    v = {"s": str, "i": int, "f": float}[c["t"]](c["v"])
    try:
        out = format(v, c["spec"]) if c["op"] == "format" else c["spec"] % v
        print(json.dumps({"ok": out}))
    except Exception as e:  # what the engine must also refuse
        print(json.dumps({"err": type(e).__name__}))
