#!/usr/bin/python3
# jinja_oracle.py: Jinja2 itself (Debian's python3-jinja2), set up as transformers'
# apply_chat_template sets it up, the oracle for src/core/jinja*.c (tests/unit/test_jinja.c runs
# it under Debian's /usr/bin/python3).
#
# The environment is transformers' _compile_jinja_template (chat_template_utils.py), restated:
# ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with loopcontrols and a
# "generation" tag that renders its body, the tojson filter replaced by json.dumps with
# ensure_ascii=False, and the globals raise_exception and strftime_now.
#
# Reads JSON lines {"template": str, "vars": {...}} on stdin and prints one line per input:
# "OK " + json.dumps(rendered text), or "ERR " + the exception's type and message on one line.
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    # transformers' tag, tracking off: {% generation %}...{% endgeneration %} is its body
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(
            lineno
        )

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[AssistantTracker, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

for line in sys.stdin:
    req = json.loads(line)
    try:
        out = "OK " + json.dumps(env.from_string(req["template"]).render(**req["vars"]))
    except Exception as e:  # syntax, undefined, type errors, raise_exception, recursion ...
        out = "ERR " + (type(e).__name__ + ": " + str(e)).replace("\n", " ")
    print(out, flush=True)
