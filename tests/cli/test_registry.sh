#!/usr/bin/env bash
# test_registry.sh: the task registry through the CLI with the test plugins of tests/plugins/:
# `mill ls --check` names every self-check problem of bad.so (ARCHITECTURE.md §3.6); oldabi.so, notasks.so
# and a non-ELF *.so are skipped with a warning and the run goes on; a --task_paths directory is
# scanned recursively for *.so in sorted order; a missing --task_paths path is a usage error;
# override.so replaces toy_qa when loaded last (the last registration wins) and its own metric
# `always_one` scores end to end; the three rejection messages of BEHAVIOUR.md §5 (task type, log-prob
# scoring, modalities), with exit 1 and nothing written under outputs/.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
# mill with stdout and stderr kept for the checks; the exit code is left in rc.
m() { "$MILL" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?; }
P="$BUILD/plugins"
# plugdir DIR FILE.so...: a plugin directory with toy_data/ next to the plugins.
plugdir() {
    local d=$1; shift
    mkdir -p "$d"
    for f in "$@"; do cp "$P/$f" "$d/"; done
    cp -r "$SRC/tests/plugins/toy_data" "$d/"
}
# Description of task $1 in the `mill ls --json` listing on stdout.
desc() { "$PY" -c 'import json, sys
t = [x for x in json.load(open(sys.argv[1]))["tasks"] if x["name"] == sys.argv[2]]
print(t[0]["description"] if len(t) == 1 else "<%d tasks>" % len(t))' "$tmp/stdout" "$1"; }
# True when nothing (no regular file) was written under $1/outputs.
no_outputs() { [ -z "$(find "$1/outputs" -type f 2>/dev/null)" ]; }

# ---- the self-check ---------------------------------------------------------------------
m ls --check
check "built-in registry passes the self-check" \
    "[ $rc -eq 0 ] && grep -q '0 problems' '$tmp/stdout'"
plugdir "$tmp/toy" toy.so
m ls --check --task_paths "$tmp/toy"
check "toy.so passes the self-check" "[ $rc -eq 0 ] && grep -q '0 problems' '$tmp/stdout'"

mkdir -p "$tmp/bad" && cp "$P/bad.so" "$tmp/bad/"
m ls --check --task_paths "$tmp/bad"
check "ls --check on bad.so exits 1" "[ $rc -eq 1 ]"
for line in "task bad_noprompt: no prompt function" \
            "task bad_unkmetric: unknown metric no_such_metric" \
            "task bad_nometric: no metric" \
            "benchmark bad_bench: unknown task no_such_task" \
            "benchmark bad_bench: unknown metric no_such_bench_metric"; do
    check "check names: $line" "grep -qxF '$line' '$tmp/stderr'"
done
check "one line per problem, 5 in all" \
    "[ \$(grep -cE '^(task|benchmark) ' '$tmp/stderr') -eq 5 ] &&
     grep -q ', 5 problems' '$tmp/stdout'"
check "the valid names of bad.so raise nothing else" \
    "! grep -E 'bad_unkmetric: (no prompt|no metric)|no_such_task: |unknown task bad_' \
     '$tmp/stderr'"

# ---- plugins that are skipped -----------------------------------------------------------
mkdir -p "$tmp/skip"
cp "$P/oldabi.so" "$P/notasks.so" "$tmp/skip/"
echo "not an ELF file" > "$tmp/skip/garbage.so"
m ls --plain --task_paths "$tmp/skip"
check "skipped plugins: ls --plain exits 0 and still lists mmlu" \
    "[ $rc -eq 0 ] && grep -qE '^  mmlu ' '$tmp/stdout'"
check "oldabi.so: warning names the file and the ABI version" \
    "grep 'oldabi.so' '$tmp/stderr' | grep -qi 'ABI version'"
check "notasks.so: warning names the file and TASKS_TABLE" \
    "grep 'notasks.so' '$tmp/stderr' | grep -q 'no TASKS_TABLE'"
check "garbage.so: warning names the file" "grep -q 'skipping plugin .*garbage.so' '$tmp/stderr'"
check "oldabi.so's task is not registered" "! grep -q oldabi_task '$tmp/stdout'"
m ls --check --task_paths "$tmp/skip,$tmp/toy"
check "skipped plugins do not stop later ones (toy.so loads, check passes)" \
    "[ $rc -eq 0 ] && grep -q '0 problems' '$tmp/stdout' && grep -q 'oldabi.so' '$tmp/stderr'"
m ls --plain --task_paths "$tmp/skip/oldabi.so,$tmp/toy/toy.so"
check "a plugin file given directly is skipped the same way" \
    "[ $rc -eq 0 ] && grep -q 'oldabi.so' '$tmp/stderr' && grep -qE '^  toy_qa ' '$tmp/stdout'"

# A plugin file named without a slash is the file in the current directory (dlopen would
# search the library path for it).
(cd "$tmp/toy" && "$MILL" ls --plain --task_paths toy.so >"$tmp/stdout" 2>"$tmp/stderr"); rc=$?
check "--task_paths toy.so from its directory: loaded" \
    "[ $rc -eq 0 ] && grep -qE '^  toy_qa ' '$tmp/stdout' || { cat '$tmp/stderr'; false; }"

# A plugin written in C++: the headers declare the API extern "C".
mkdir -p "$tmp/cxx"
cat > "$tmp/cxx/cxx.cpp" <<'CPP'
#include <mill/task.h>
static int cxx_prompt(const mill_task_config *t, const mill_value *, mill_doc *doc, mill_err *) {
    return mill_doc_set_query(doc, t->name);
}
static const char *const em[] = {"exact_match", nullptr};
static mill_task_config tasks[1];
__attribute__((constructor)) static void init() {
    tasks[0].name = "cxx_task";
    tasks[0].prompt = cxx_prompt;
    tasks[0].metrics = em;
}
extern "C" const mill_tasks_table TASKS_TABLE = {MILL_ABI_VERSION, 1, tasks};
CPP
g++ -shared -fPIC -I "$SRC/include" -o "$tmp/cxx/cxx.so" "$tmp/cxx/cxx.cpp" 2>"$tmp/gxx.err" ||
    cat "$tmp/gxx.err"
m ls --check --task_paths "$tmp/cxx"
check "a C++ plugin loads and passes the self-check" \
    "[ $rc -eq 0 ] && grep -q '0 problems' '$tmp/stdout' || { cat '$tmp/stderr'; false; }"

# eval and prompts refuse up front what ls --check names: a task with no prompt function, a
# benchmark listing an unknown task (exit 2, nothing run).
m --output_dir "$tmp/o-np" prompts bad_noprompt --task_paths "$tmp/bad"
check "a task with no prompt function: exit 2 naming it" \
    "[ $rc -eq 2 ] && grep -q \"task 'bad_noprompt' has no prompt function\" '$tmp/stderr'"
: > "$tmp/none.jsonl"
m --output_dir "$tmp/o-ub" eval "replay[file=$tmp/none.jsonl,name=m]" bad_bench --task_paths "$tmp/bad"
MILL_CACHE_DIR="$tmp/sched-cache" "$MILL" --output_dir "$tmp/o-sch" schedule \
    "replay[file=$tmp/none.jsonl,name=m]" bad_bench --extra_task_paths "$tmp/bad" --dry_run \
    >/dev/null 2>"$tmp/sch.err"; src=$?
check "schedule of that benchmark: exit 2 naming both (no job for the rest of it)" \
    "[ $src -eq 2 ] && grep -q \"benchmark 'bad_bench' lists unknown task 'no_such_task'\" '$tmp/sch.err'"
check "a benchmark listing an unknown task: exit 2 naming both, nothing written" \
    "[ $rc -eq 2 ] && grep -q \"benchmark 'bad_bench' lists unknown task 'no_such_task'\" '$tmp/stderr' && no_outputs '$tmp/o-ub'"

# ---- missing paths ------------------------------------------------------------------------
m ls --plain --task_paths "$tmp/nope"
check "missing --task_paths dir: exit 2 naming it" \
    "[ $rc -eq 2 ] && grep -qF '$tmp/nope' '$tmp/stderr'"
m ls --plain --task_paths "$tmp/toy,$tmp/nope.so"
check "missing --task_paths file after a good one: exit 2 naming it" \
    "[ $rc -eq 2 ] && grep -qF '$tmp/nope.so' '$tmp/stderr'"
m --output_dir "$tmp/o-miss" eval "replay[file=$tmp/none.jsonl,name=m]" toy_qa \
    --task_paths "$tmp/nope"
check "eval with a missing --task_paths path: exit 2 naming it, nothing written" \
    "[ $rc -eq 2 ] && grep -qF '$tmp/nope' '$tmp/stderr' && no_outputs '$tmp/o-miss'"

# ---- recursive, sorted scanning; the last registration wins -----------------------------
# tree/a/toy.so, tree/b/c/override.so, tree/b/notes.txt: sorted, override.so loads last.
plugdir "$tmp/tree/a" toy.so
plugdir "$tmp/tree/b/c" override.so
echo "not a plugin" > "$tmp/tree/b/notes.txt"
m ls --json --task_paths "$tmp/tree"
check "recursive scan finds a nested plugin" \
    "[ $rc -eq 0 ] && [ \"\$(desc override_one)\" != '<0 tasks>' ]"
check "recursive scan: toy.so's other tasks are there" "[ \"\$(desc toy_mc)\" != '<0 tasks>' ]"
check "sorted scan: override.so (b/c) replaces toy_qa of toy.so (a)" \
    "[ \"\$(desc toy_qa)\" = 'toy QA overridden by override.so' ]"
check "the replacement is logged" "grep -q \"task 'toy_qa' from .* replaces\" '$tmp/stderr'"
# Swapped: tree2/a/override.so, tree2/b/toy.so: toy.so loads last and wins.
plugdir "$tmp/tree2/a" override.so
plugdir "$tmp/tree2/b" toy.so
m ls --json --task_paths "$tmp/tree2"
check "sorted scan: toy.so (b) loaded after override.so (a) keeps toy's toy_qa" \
    "[ $rc -eq 0 ] && [ \"\$(desc toy_qa)\" = 'toy generative QA' ]"
# Order of the --task_paths list: later entries win.
plugdir "$tmp/ov" override.so
m ls --json --task_paths "$tmp/toy/toy.so,$tmp/ov/override.so"
check "--task_paths toy.so,override.so: override's toy_qa" \
    "[ $rc -eq 0 ] && [ \"\$(desc toy_qa)\" = 'toy QA overridden by override.so' ]"
m ls --json --task_paths "$tmp/ov/override.so,$tmp/toy/toy.so"
check "--task_paths override.so,toy.so: toy's toy_qa" \
    "[ $rc -eq 0 ] && [ \"\$(desc toy_qa)\" = 'toy generative QA' ]"

# ---- override.so end to end with the replay backend -------------------------------------
cat > "$tmp/resp.jsonl" <<'JSON'
{"task": "override_one", "doc_id": 0, "response": "anything"}
{"task": "override_one", "doc_id": 1, "response": "Rome"}
{"task": "override_one", "doc_id": 2, "response": ""}
{"task": "override_one", "doc_id": 3, "response": "wrong"}
{"task": "override_one", "doc_id": 4, "response": "x"}
{"task": "toy_qa", "doc_id": 0, "response": "2"}
{"task": "toy_qa", "doc_id": 1, "response": "Rome"}
{"task": "toy_qa", "doc_id": 2, "response": "2"}
{"task": "toy_qa", "doc_id": 3, "response": "Jupiter"}
{"task": "toy_qa", "doc_id": 4, "response": "water"}
JSON
OUT="$tmp/o-one"
m --output_dir "$OUT" eval "replay[file=$tmp/resp.jsonl,name=m]" override_one,toy_qa \
    --task_paths "$tmp/toy,$tmp/ov"
check "eval with override.so exits 0" "[ $rc -eq 0 ] || { cat '$tmp/stderr'; false; }"
check "always_one gives performance 1.0 in aggregate.csv" \
    "grep -qE '^m,[^,]*,override_one,generative_qa,0,always_one,1.0,0.0\$' '$OUT/aggregate.csv'"
"$PY" - "$OUT/outputs/m/override_one_0shot.jsonl" > "$tmp/py.out" 2>&1 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["always_one"] for r in rows] == [1.0] * 5, rows
print("py ok")
PY
check "the per-sample rows carry always_one = 1.0" \
    "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"
check "eval runs override's toy_qa (0-shot, not toy's 2-shot)" \
    "grep -qE '^m,[^,]*,toy_qa,generative_qa,0,exact_match,1.0,0.0\$' '$OUT/aggregate.csv' &&
     [ ! -e '$OUT/outputs/m/toy_qa_2shot.jsonl' ]"

# ---- rejection (BEHAVIOUR.md §5): Mill's messages, exit 1, nothing written ----------------------
# reject NAME MODEL TASK MESSAGE: eval must exit 1, print "task TASK: ... MESSAGE", write nothing.
reject() {
    local o="$tmp/o-$1"
    m --output_dir "$o" eval "$2" "$3" --task_paths "$tmp/toy"
    check "$1: exit 1" "[ $rc -eq 1 ]"
    printf 'task %s: %s\n' "$3" "$4" > "$tmp/want-$1"
    check "$1: Mill's message" \
        "grep -qF -f '$tmp/want-$1' '$tmp/stderr' || { cat '$tmp/stderr'; false; }"
    check "$1: nothing under outputs/" "no_outputs '$o'"
}
RP="replay[file=$tmp/resp.jsonl,name=rm]"
msg="ReplayModel ('rm') supports [generative_qa, multiple_choice]"
reject "replay-ppl" "$RP" toy_ppl "$msg but this task requires 'perplexity'."
reject "replay-cloze" "$RP" toy_cloze \
    "ReplayModel ('rm') cannot do log-probability scoring ('loglikelihood') required by this task."
m --output_dir "$tmp/o-mixed" eval "$RP" toy_qa,toy_ppl --task_paths "$tmp/toy"
check "a rejected task later in the list stops the run before toy_qa runs" \
    "[ $rc -eq 1 ] && no_outputs '$tmp/o-mixed'"
if [ -x "$BUILD/bin/gen_llama" ]; then
    "$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" >/dev/null 2>"$tmp/gen.err" ||
        cat "$tmp/gen.err"
    LM="llama[path=$tmp/m.gguf]"
    msg="LlamaModel ('$tmp/m.gguf') cannot ingest input modalities ['image']"
    reject "llama-img" "$LM" toy_img "$msg required by this task (it supports ['text']). Load a model that handles them, e.g. a vision-language model with modalities including 'image'."
    msg="LlamaModel ('$tmp/m.gguf') supports [generative_qa, multiple_choice, perplexity]"
    reject "llama-zs" "$LM" toy_zs "$msg but this task requires 'zero_shot_classification'."
else
    bad "llama rejections: $BUILD/bin/gen_llama not built (tests fail, never skip)"
fi

finish
