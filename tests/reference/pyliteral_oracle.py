#!/usr/bin/python3
# pyliteral_oracle.py: Python's own ast.literal_eval, the oracle for src/core/pyliteral.c
# (tests/unit/test_pyliteral.c runs it under Debian's /usr/bin/python3). Standard library only.
#
# Reads JSON lines on stdin, {"mode": "eval" | "strs" | "config", "s": <the text>}, and prints
# one line per input:
#   eval: the value as compact JSON (tuples as lists, json.dumps(ensure_ascii=False), floats as
#         repr, inf/nan as Infinity/NaN: what mill_value_to_json writes), or "ERR <exception>";
#   strs: [str(x) for x in value] as compact JSON when the value is a list or tuple, "NOTLIST"
#         when it is something else, or "ERR <exception>";
#   config: the text run as a Python module (mill_pyconfig_parse's model configs), where every
#         import gives a stand-in module whose attribute X is the string "module:X" (what the C
#         reader binds `from module import X` to) and the only builtin is dict; then its `model`
#         as compact JSON (strictly: a value JSON cannot hold is "ERR TypeError"), or "ERR ...".
import ast
import json
import sys
import types
import warnings

warnings.simplefilter("ignore")  # invalid escapes such as '\d' warn; the value is what counts


def dumps(v):
    # default=repr: what we do not read (sets, bytes, complex, Ellipsis) still prints
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=repr)


class Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.__name__ + ":" + name


def stub_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level:
        raise ImportError("relative import")
    return Stub(name)


def config(src):
    g = {"__builtins__": {"__import__": stub_import, "dict": dict}}
    try:
        exec(compile(src.encode("utf-8", "surrogatepass"), "<config>", "exec"), g)
        return json.dumps(g["model"], ensure_ascii=False, separators=(",", ":"))
    except Exception as e:
        return "ERR " + type(e).__name__


def one(req):
    if req["mode"] == "config":
        return config(req["s"])
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
