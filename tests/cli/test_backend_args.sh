#!/usr/bin/env bash
# test_backend_args.sh: the backends' argument tables as users meet them. README's "Backend
# arguments" section says what `mill eval --help` prints, row for row (name, type, default,
# what), for every backend in the build; an unknown argument is refused naming it; a value of
# the wrong type or out of range is refused naming the argument and what it must be; a given
# string and a computed default (replay's model name) reach the backend, and ignored Mill
# arguments are accepted.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

"$MILL" eval --help > "$tmp/help.txt" 2>&1; rc=$?
check "mill eval --help exits 0" "[ $rc -eq 0 ]"
r=$("$PY" - "$tmp/help.txt" "$SRC/README.md" <<'PY' 2>&1
import re, sys
help_text = open(sys.argv[1], encoding="utf-8").read().split("\n")
readme = open(sys.argv[2], encoding="utf-8").read()

def from_help():
    start = [i for i, l in enumerate(help_text) if l.startswith("backends and their arguments")]
    assert start, "no backend section in mill eval --help"
    tables, cur = {}, None
    for l in help_text[start[0] + 1:]:
        if not l.strip():
            continue
        if l.startswith("    "):
            f = re.split(r"  +", l.strip())
            assert len(f) == 4, "help row not name/type/default/what: %r" % l
            tables[cur].append(tuple(f))
        elif l.startswith("  "):
            cur = l.split()[0]
            tables[cur] = []
    return tables

def from_readme():
    sec = readme.split("### Backend arguments", 1)
    assert len(sec) == 2, "README has no '### Backend arguments' section"
    body = re.split(r"\n#{2,3} ", sec[1])[0]
    tables, cur = {}, None
    for l in body.split("\n"):
        m = re.match(r"^`([a-z_]+)`( \(also [^)]*\))?:$", l)
        if m:
            cur = m.group(1)
            tables[cur] = []
        elif l.startswith("| `") and cur:
            f = [c.strip() for c in l.strip().strip("|").split(" | ")]
            tables[cur].append((f[0].strip("`"), f[1], f[2], f[3]))
    return tables

h, r = from_help(), from_readme()
assert set(h) == set(r), "backends: help %s, README %s" % (sorted(h), sorted(r))
for b in h:
    assert h[b] == r[b], "%s: help %s\nREADME %s" % (b, h[b], r[b])
print("same: %d backends, %d arguments" % (len(h), sum(len(v) for v in h.values())))
PY
)
if [[ "$r" == same* ]]; then ok "README's argument tables == mill eval --help ($r)"
else bad "README's argument tables == mill eval --help: $r"; fi

printf '{"task": "mmlu_pro", "doc_id": 0, "response": "x"}\n' > "$tmp/r.jsonl"
"$MILL" --output_dir "$tmp/o0" --limit 1 eval "replay[file=$tmp/r.jsonl]" mmlu_pro \
    >/dev/null 2>&1
check "a computed default reaches the backend (replay's model name replay/r.jsonl)" \
    "[ -d '$tmp/o0/outputs/replay__r.jsonl' ]"
"$MILL" --output_dir "$tmp/o0" --limit 1 eval "replay[file=$tmp/r.jsonl,name=given]" mmlu_pro \
    >/dev/null 2>&1
check "a given string argument reaches the backend (name=given)" "[ -d '$tmp/o0/outputs/given' ]"
expect_exit "an unknown argument is refused by name" 2 "unknown argument 'nope'" \
    --output_dir "$tmp/o1" eval "replay[file=$tmp/r.jsonl,nope=1]" mmlu_pro
expect_exit "a string argument given a number is refused" 2 "name must be a string" \
    --output_dir "$tmp/o2" eval "replay[file=$tmp/r.jsonl,name=5]" mmlu_pro
if "$MILL" eval --help | grep -q '^  llama'; then
    expect_exit "an integer argument out of its range is refused" 2 \
        "max_context_length must be between 16 and" \
        --output_dir "$tmp/o3" eval "llama[path=$tmp/m.gguf,max_context_length=8]" mmlu_pro
    expect_exit "a bool argument given a word is refused" 2 "naive must be true or false" \
        --output_dir "$tmp/o4" eval "llama[path=$tmp/m.gguf,naive=maybe]" mmlu_pro
    expect_exit "an integer argument given text is refused" 2 "threads must be an integer" \
        --output_dir "$tmp/o5" eval "llama[path=$tmp/m.gguf,threads=many]" mmlu_pro
    expect_exit "an ignored Mill argument is accepted (the run fails later, at the model)" 1 \
        "m.gguf" --output_dir "$tmp/o6" eval "llama[path=$tmp/m.gguf,device_map=auto]" mmlu_pro
fi
finish
