#!/usr/bin/python3
# pyliteral_oracle.py: Python's own ast.literal_eval, the oracle for src/core/pyliteral.c
# (tests/unit/test_pyliteral.c runs it under Debian's /usr/bin/python3). Standard library only.
#
# Reads JSON lines on stdin, {"mode": "eval" | "strs", "s": <the literal's text>}, and prints
# one line per input:
#   eval: the value as compact JSON (tuples as lists, json.dumps(ensure_ascii=False), floats as
#         repr, inf/nan as Infinity/NaN: what mill_value_to_json writes), or "ERR <exception>";
#   strs: [str(x) for x in value] as compact JSON when the value is a list or tuple, "NOTLIST"
#         when it is something else, or "ERR <exception>".
import ast
import json
import sys
import warnings

warnings.simplefilter("ignore")  # invalid escapes such as '\d' warn; the value is what counts


def dumps(v):
    # default=repr: what we do not read (sets, bytes, complex, Ellipsis) still prints
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=repr)


def one(req):
    try:
        v = ast.literal_eval(req["s"])
    except Exception as e:  # SyntaxError, ValueError, MemoryError, RecursionError ...
        return "ERR " + type(e).__name__
    if req["mode"] == "strs":
        return dumps([str(x) for x in v]) if isinstance(v, (list, tuple)) else "NOTLIST"
    return dumps(v)


sys.stdin.reconfigure(encoding="utf-8")
# Lone surrogates (which Python keeps from '\ud83d') cannot be UTF-8: write them escaped.
sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
for line in sys.stdin:
    print(one(json.loads(line)))
