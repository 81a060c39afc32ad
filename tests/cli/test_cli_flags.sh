#!/usr/bin/env bash
# test_cli_flags.sh: black-box tests of the `mill` command line (BEHAVIOUR.md §1): --version, help, exit
# codes and messages of usage errors, Fire's flag spellings (--flag value, --flag=value,
# --flag-name, --noflag, global flags before or after the command, positionals as flags), the
# MILL_OUTPUT_DIR env, and the error paths of eval, collect and ls.
# Env (set by ctest): MILL (binary), MILL_SOURCE_DIR, MILL_BUILD_DIR.
set -u

MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
# Keep the host's settings out: everything under $tmp.
unset MILL_OUTPUT_DIR
export MILL_CACHE_DIR="$tmp/cache" HOME="$tmp/home"

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }

# run ARGS...: runs mill; sets $rc, $out (stdout), $err (stderr), $all (both).
run() {
    "$MILL" "$@" >"$tmp/.out" 2>"$tmp/.err"
    rc=$?
    out=$(cat "$tmp/.out")
    err=$(cat "$tmp/.err")
    all="$out
$err"
}
# expect WHAT RC [SUBSTRING...]: checks the last run's exit code and that stdout+stderr hold
# every substring (fixed strings).
expect() {
    local what=$1 want=$2
    shift 2
    if [ "$rc" != "$want" ]; then
        fail "$what" "exit $rc, expected $want; output: $(printf '%s' "$all" | head -c 400)"
        return
    fi
    local s
    for s in "$@"; do
        if ! grep -qF -- "$s" <<<"$all"; then
            fail "$what" "output lacks '$s'; output: $(printf '%s' "$all" | head -c 400)"
            return
        fi
    done
    ok "$what"
}
# lacks WHAT SUBSTRING: the last run's output must not contain SUBSTRING.
lacks() {
    if grep -qF -- "$2" <<<"$all"; then
        fail "$1" "output holds '$2'"
    else
        ok "$1"
    fi
}

[ -x "$MILL" ] || { echo "FAIL - binary: $MILL is not executable"; echo "0 passed, 1 failed"; exit 1; }

HDR=model,benchmark,task,task_type,n_shot,metric,performance,stderr
mkdir -p "$tmp/res"
printf '%s\n%s\n' "$HDR" "acme/TinyModel-1,,mmlu_anatomy,multiple_choice,5,acc,0.4321,0.0123" \
    >"$tmp/res/aggregate.csv"
mkdir -p "$tmp/other"
printf '%s\n%s\n' "$HDR" "other/Decoy,,mmlu_anatomy,multiple_choice,5,acc,0.1,0.0" \
    >"$tmp/other/aggregate.csv"

# --- version and help ---------------------------------------------------------------------
run --version
expect "--version prints mill 0.1.0" 0 "mill 0.1.0"
[[ $out == "mill 0.1.0"* ]] && ok "--version output starts with 'mill 0.1.0'" ||
    fail "--version output starts with 'mill 0.1.0'" "got '$out'"

for h in --help -h; do
    run $h
    expect "mill $h" 0 "usage: mill" "eval" "collect" "ls"
done
for c in eval collect ls; do
    for h in --help -h; do
        run "$c" $h
        expect "mill $c $h" 0 "usage: mill $c"
    done
done
run --help eval
expect "mill --help eval (help before the command)" 0 "usage: mill eval"

# --- usage errors -------------------------------------------------------------------------
run
expect "no command: usage, exit 2" 2 "usage: mill"

run frobnicate
expect "unknown command: exit 2, every command listed" 2 "frobnicate" "convert, report"

run ls --frob
expect "unknown flag of a command: points at that command's help" 2 "(see mill ls --help)"
run eval a b c
expect "a third positional: named once, for its command" 2 "mill: unexpected argument 'c' for eval"
lacks "no doubled prefix" "mill: mill"

run --frobnicate ls
expect "unknown global flag: exit 2, names it" 2 "--frobnicate"
run ls --frobnicate
expect "unknown flag after command: exit 2, names it" 2 "--frobnicate"
run eval replay mmlu --frob-nicate=1
expect "unknown hyphenated flag: exit 2, names it as typed" 2 "--frob-nicate"

run --output_dir
expect "--output_dir missing its value: exit 2" 2 "output_dir"
run eval replay mmlu --seed
expect "--seed missing its value: exit 2" 2 "seed"
run collect --metric
expect "--metric missing its value: exit 2" 2 "metric"

run --limit abc ls --plain
expect "--limit abc before the command: exit 2" 2 "--limit" "abc"
run eval replay mmlu_anatomy --limit abc
expect "--limit abc after the command: exit 2" 2 "--limit" "abc"
run eval replay mmlu_anatomy --limit=abc
expect "--limit=abc: exit 2" 2 "--limit" "abc"

# --limit reaches eval from both positions (a negative limit is eval's own check).
run --limit -5 eval --output_dir "$tmp/o1" replay mmlu_anatomy
expect "--limit before the command reaches eval" 2 "--limit"
run eval --output_dir "$tmp/o1" replay mmlu_anatomy --limit -5
expect "--limit after the command reaches eval" 2 "--limit"
# A valid --limit in either position is accepted by the parser (the unknown task is what fails).
run --limit 3 eval --output_dir "$tmp/o1" replay nosuchtask_zz
expect "--limit 3 before the command is accepted" 2 "nosuchtask_zz"
lacks "--limit 3 before the command: no flag error" "--limit"
run eval --output_dir "$tmp/o1" replay nosuchtask_zz --limit 3
expect "--limit 3 after the command is accepted" 2 "nosuchtask_zz"
lacks "--limit 3 after the command: no flag error" "--limit"
run --limit=3 ls --plain
expect "--limit=3 before ls is accepted" 0 "mmlu"

# --- output dir spellings, observed through collect ---------------------------------------
run collect --output_dir "$tmp/res"
expect "collect --output_dir DIR" 0 "acme/TinyModel-1" "0.4321"
run --output_dir "$tmp/res" collect
expect "--output_dir DIR before collect" 0 "acme/TinyModel-1"
run collect --output-dir "$tmp/res"
expect "collect --output-dir DIR (hyphens)" 0 "acme/TinyModel-1"
run --output-dir="$tmp/res" collect
expect "--output-dir=DIR (hyphens, equals) before collect" 0 "acme/TinyModel-1"
run collect --output_dir="$tmp/res"
expect "collect --output_dir=DIR (equals)" 0 "acme/TinyModel-1"
MILL_OUTPUT_DIR="$tmp/res" run collect
expect "MILL_OUTPUT_DIR env" 0 "acme/TinyModel-1"
MILL_OUTPUT_DIR="$tmp/other" run collect --output_dir "$tmp/res"
expect "--output_dir wins over MILL_OUTPUT_DIR" 0 "acme/TinyModel-1"
lacks "--output_dir wins over MILL_OUTPUT_DIR (no env dir rows)" "other/Decoy"
( cd "$tmp/res" && mkdir -p mill_results && cp aggregate.csv mill_results/ )
run_in_res() { (cd "$tmp/res" && "$MILL" "$@") >"$tmp/.out" 2>"$tmp/.err"; rc=$?
    out=$(cat "$tmp/.out"); err=$(cat "$tmp/.err"); all="$out
$err"; }
run_in_res collect
expect "default output dir is ./mill_results" 0 "acme/TinyModel-1"

# --- collect --check ----------------------------------------------------------------------
run collect --output_dir "$tmp/res"
expect "collect checks by default (Completed jobs)" 0 "Completed jobs: 1"
run collect --output_dir "$tmp/res" --nocheck
expect "collect --nocheck still prints the table" 0 "acme/TinyModel-1"
lacks "collect --nocheck: no 'Completed jobs' line" "Completed jobs"
run collect --output_dir "$tmp/res" --check=false
expect "collect --check=false still prints the table" 0 "acme/TinyModel-1"
lacks "collect --check=false: no 'Completed jobs' line" "Completed jobs"
run collect --output_dir "$tmp/res" --check False
expect "collect --check False (Fire's spelling) still prints the table" 0 "acme/TinyModel-1"
lacks "collect --check False: no 'Completed jobs' line" "Completed jobs"
run collect --output_dir "$tmp/res" --check True
expect "collect --check True" 0 "Completed jobs: 1"
run collect --output_dir "$tmp/res" --no-check
expect "collect --no-check" 0 "acme/TinyModel-1"
lacks "collect --no-check: no 'Completed jobs' line" "Completed jobs"
# python-fire's spellings that Python Mill's users type: one-letter shortcuts (Mill.__init__'s
# -o/-c/-l anywhere, a command's own when unique), single-dash long flags, a command's flags
# before the command.
run -o "$tmp/res" collect --nocheck
expect "-o DIR is --output_dir" 0 "acme/TinyModel-1"
run -output_dir "$tmp/res" collect --nocheck
expect "-output_dir DIR is --output_dir" 0 "acme/TinyModel-1"
run --output_dir "$tmp/res" --nocheck collect
expect "a command's flag before the command (--nocheck collect)" 0 "acme/TinyModel-1"
lacks "--nocheck before the command took effect" "Completed jobs"
run --output_dir "$tmp/res" --metric acc collect
expect "a command's flag with a value before the command (--metric acc collect)" 0 "acme/TinyModel-1"
run collect -o "$tmp/res" -t "['mmlu_anatomy']" --nocheck
expect "collect -t (tasks), a list literal, -o after the command" 0 "acme/TinyModel-1"
run -o "$tmp/res" eval -m "replay[file=$tmp/nope.jsonl]" mmlu_anatomy
expect "eval -m is --models (Python Mill's eval has one 'm' parameter)" 1 "nope.jsonl"
run -o "$tmp/res" eval -t mmlu_anatomy "replay[file=$tmp/nope.jsonl]"
expect "eval -t: Fire's ambiguity (tasks, task_paths) is exit 2" 2 "'-t' is ambiguous for eval"
run collect -o "$tmp/res" -m acme/TinyModel-1
expect "collect -m: Fire's ambiguity (models, metric) is exit 2" 2 "'-m' is ambiguous for collect"
run --output_dir "$tmp/res" --check collect
expect "a command name after a bare flag is the command, not the flag's value" 0 "Completed jobs"
run collect --output_dir "$tmp/res" --check=maybe
expect "collect --check=maybe: exit 2" 2 "maybe"
run collect --output_dir "$tmp/res" --check
expect "collect --check (explicit)" 0 "Completed jobs: 1"

# --- collect error paths ------------------------------------------------------------------
mkdir -p "$tmp/corrupt"
printf '%s\n%s\n%s\n' "$HDR" "a/M,,mmlu_anatomy,multiple_choice,0,acc,0.5,0.01" \
    "b/M,,mmlu_anatomy,multiple_choice,0" >"$tmp/corrupt/aggregate.csv"
run collect --output_dir "$tmp/corrupt"
expect "collect on a corrupt aggregate.csv: exit 1, names the line" 1 "aggregate.csv:3"

mkdir -p "$tmp/empty"
run collect --output_dir "$tmp/empty"
expect "collect on an empty results dir" 0 "No results at all."

# --- eval error paths ---------------------------------------------------------------------
run eval --output_dir "$tmp/o2" 'x[a' mmlu_anatomy
expect "eval with a malformed spec x[a: exit 2, quotes it" 2 "x[a"
run eval --output_dir "$tmp/o2" 'replay[file]' mmlu_anatomy
expect "eval with a malformed spec replay[file]: exit 2, quotes it" 2 "replay[file]"
run eval --output_dir "$tmp/o2" 'replay[a=1]tail' mmlu_anatomy
expect "eval with a malformed spec (text after ]): exit 2, quotes it" 2 "replay[a=1]tail"

run eval --output_dir "$tmp/o2" 'replay[file=r.jsonl]' nosuchtask_qq
expect "eval with an unknown task: exit 2, names it" 2 "nosuchtask_qq"

run eval --output_dir "$tmp/o2" 'replay[file=r.jsonl]'
expect "eval missing TASKS: exit 2" 2 "TASKS"
run eval --output_dir "$tmp/o2"
expect "eval missing MODELS and TASKS: exit 2" 2 "MODELS"

: >"$tmp/file"
run eval --output_dir "$tmp/file/sub" 'replay[file=r.jsonl]' mmlu_anatomy
expect "eval with an unwritable output dir: exit 1, names it" 1 "$tmp/file"
MILL_OUTPUT_DIR="$tmp/file/sub" run eval 'replay[file=r.jsonl]' mmlu_anatomy
expect "eval with an unwritable MILL_OUTPUT_DIR: exit 1, names it" 1 "$tmp/file"

run eval --output_dir "$tmp/o2" 'nosuchbackend[a=1]' mmlu_anatomy
expect "eval with an unknown backend: exit 2, names it" 2 "nosuchbackend"

# Positionals given as flags behave like positionals.
run eval --output_dir "$tmp/o3" --models 'replay[file=r.jsonl]' --tasks nosuchtask_ww
expect "eval --models X --tasks Y: unknown task, exit 2" 2 "nosuchtask_ww"
msg_flags=$err
run eval --output_dir "$tmp/o3" 'replay[file=r.jsonl]' nosuchtask_ww
[ "$msg_flags" = "$err" ] && ok "eval --models/--tasks: same message as positionals" ||
    fail "eval --models/--tasks: same message as positionals" "'$msg_flags' vs '$err'"
run eval --output_dir "$tmp/o3" --tasks=nosuchtask_ww --models='replay[file=r.jsonl]'
expect "eval --tasks=Y --models=X (reversed, equals)" 2 "nosuchtask_ww"
run eval --output_dir "$tmp/o3" --models 'replay[file=r.jsonl]' nosuchtask_ww
expect "eval --models X then TASKS positional" 2 "nosuchtask_ww"
run eval --output_dir "$tmp/o3" --tasks nosuchtask_ww 'replay[file=r.jsonl]'
expect "eval --tasks Y then MODELS positional" 2 "nosuchtask_ww"

# A stray extra positional (e.g. a space instead of a comma in TASKS) must not be dropped
# silently: Fire fails with "Could not consume arg" (exit 2).
run eval --output_dir "$tmp/o3" 'replay[file=r.jsonl]' mmlu_anatomy extra_arg_zz
expect "eval with an extra positional: exit 2, names it" 2 "extra_arg_zz"
run ls --plain extra_arg_zz
expect "ls with an extra positional: exit 2, names it" 2 "extra_arg_zz"

# --- ls -----------------------------------------------------------------------------------
run ls --plain
expect "ls --plain lists mmlu and mmlu_anatomy" 0 "mmlu" "mmlu_anatomy"
if grep -qE '^ *mmlu( |$)' <<<"$out" && grep -qE '^ *mmlu_anatomy( |$)' <<<"$out"; then
    ok "ls --plain: mmlu and mmlu_anatomy on their own rows"
else
    fail "ls --plain: mmlu and mmlu_anatomy on their own rows" "$(head -c 300 <<<"$out")"
fi
run ls </dev/null
expect "ls off a terminal falls back to plain" 0 "mmlu_anatomy"

run ls --json
if [ "$rc" = 0 ] && n=$(printf '%s' "$out" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
names = [t["name"] for t in d["tasks"]]
assert "mmlu_anatomy" in names, "no mmlu_anatomy"
assert any(b["name"] == "mmlu" for b in d["benchmarks"]), "no mmlu benchmark"
print(len([n for n in names if n.startswith("mmlu_") and n != "mmlu_pro"]))' 2>"$tmp/.pyerr"); then
    [ "$n" = 57 ] && ok "ls --json is valid JSON with the 57 MMLU subject tasks" ||
        fail "ls --json is valid JSON with the 57 MMLU subject tasks" "$n tasks"
else
    fail "ls --json is valid JSON with the 57 MMLU subject tasks" \
        "rc $rc; $(head -c 300 "$tmp/.pyerr")"
fi

# a plugin task that leaves evaluation_splits unset runs on "test": ls --json says so
"$MILL" ls --json --task_paths "${MILL_BUILD_DIR:-$(dirname "$MILL")/..}/plugins/toy.so" \
    2>/dev/null | "$PY" -c 'import json, sys
t = {t["name"]: t for t in json.load(sys.stdin)["tasks"]}
sys.exit(t["toy_cloze"]["evaluation_splits"] != ["test"])' &&
    ok "ls --json: a task without evaluation_splits shows the runner's default, [\"test\"]" ||
    fail "ls --json: a task without evaluation_splits shows the runner's default" "not [\"test\"]"

run ls --check
expect "ls --check: exit 0, 0 problems" 0 "0 problems"

# What a command prints must reach stdout: a full disk is exit 1, not a quiet 0.
[ -w /dev/full ] || bad "no writable /dev/full here (tests fail, never skip)"
"$MILL" ls --json >/dev/full 2>"$tmp/.err"; rc=$?; out=; err=$(cat "$tmp/.err"); all=$err
expect "ls --json to a full disk: exit 1 saying so" 1 "cannot write to stdout"
run prompts mmlu_anatomy --n_shot -3
expect "prompts --n_shot -3: exit 2" 2 "n_shot must be 0 or more"
run data head x.jsonl -n -1
expect "data head -n -1: exit 2" 2 "must be 0 or more"
printf '{"a": 1, "b": "x", "c": [2]}\n{"c": 3, "a": 4}\n' >"$tmp/rows.jsonl"
mkdir -p "$tmp/gs/data/a/b"
for f in top a/one a/b/two; do echo '{"x": 1}' >"$tmp/gs/data/$f.jsonl"; done
run data files "$tmp/gs/data/**/*.jsonl"
want=$(printf '%s\n' "$tmp/gs/data/a/b/two.jsonl" "$tmp/gs/data/a/one.jsonl" "$tmp/gs/data/top.jsonl")
if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then ok "data files: '**' is zero or more directories, sorted"
else fail "data files: '**' is zero or more directories, sorted" "exit $rc: $out"; fi
run data files "$tmp/gs/data/*/*.jsonl"
expect "data files: '*' stays in one directory" 0 "$tmp/gs/data/a/one.jsonl"
lacks "data files: '*' does not cross '/'" "two.jsonl"
run data head "$tmp/rows.jsonl" --columns c,a
expect "data head --columns on JSON Lines: only those fields" 0 '{"a":1,"c":[2]}' '{"c":3,"a":4}'
lacks "data head --columns on JSON Lines: no other field" '"b"'
run data head "$tmp/rows.jsonl" --columns c,nosuch
expect "data head --columns with a column the rows lack: exit 1 naming it" 1 "no column 'nosuch'"
run data head "$tmp/nothere/rows.jsonl"
expect "data head of a missing local file: exit 1, 'no such file'" 1 "$tmp/nothere/rows.jsonl: no such file"
run data head "$tmp/gs/data"
expect "data head of a directory: exit 2 asking for a pattern" 2 "is a directory" "$tmp/gs/data/*.parquet"
run data head ''
expect "data head '': exit 2, the source is empty" 2 "the source is empty"
MILL_LOG_LEVEL=bogus "$MILL" ls >/dev/null 2>"$tmp/.err"
if grep -q "MILL_LOG_LEVEL='bogus' is none of" "$tmp/.err"; then ok "MILL_LOG_LEVEL=bogus: a warning"
else fail "MILL_LOG_LEVEL=bogus: a warning" "$(head -c 300 "$tmp/.err")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
