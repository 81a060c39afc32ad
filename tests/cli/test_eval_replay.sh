#!/usr/bin/env bash
# test_eval_replay.sh: `mill eval` end to end with the replay backend and the toy plugin
# (tests/plugins/toy.c): few-shot assembly, stop strings, metrics, failed samples, the score
# table, aggregate.csv leaf and rollup rows, per-sample JSONL, provenance, resume after a
# crash, --limit in the job key, and up-front rejection. Expected numbers were computed by hand
# (and the few-shot draw by CPython's random.Random(42).sample).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"
cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
cat > "$tmp/resp.jsonl" <<'JSON'
{"task": "toy_qa", "doc_id": 0, "response": "2\nQ: next"}
{"task": "toy_qa", "doc_id": 1, "response": " Rome "}
{"task": "toy_qa", "doc_id": 2, "response": "3"}
{"task": "toy_qa", "doc_id": 3, "response": "Jupiter"}
{"task": "toy_mc", "doc_id": 0, "response": "B"}
{"task": "toy_mc", "doc_id": 1, "response": "The answer is A"}
{"task": "toy_mc", "doc_id": 2, "response": "D"}
JSON
OUT="$tmp/out"
SPEC="replay[file=$tmp/resp.jsonl,name=toy-model]"
run() { "$MILL" --output_dir "$OUT" eval "$SPEC" "$@" --task_paths "$tmp/plug" \
        >"$tmp/stdout" 2>"$tmp/stderr"; }

run toy; rc=$?
check "eval exits 0" "[ $rc -eq 0 ]"
printf '\n%-35s %10s\n%s\n%-35s %10.4f\n\n' Task Score \
    "-----------------------------------------------" toy 0.5416 > "$tmp/want"
check "score table is Mill's, with the rollup score" "cmp -s '$tmp/want' '$tmp/stdout'"
check "the failed sample is reported" "grep -q '1 samples failed' '$tmp/stderr'"
cat > "$tmp/want.csv" <<'CSV'
model,benchmark,task,task_type,n_shot,metric,performance,stderr
toy-model,toy,toy_qa,generative_qa,2,exact_match,0.75,0.25
toy-model,toy,toy_mc,multiple_choice,0,exact_match,0.3333,0.3333
toy-model,toy,toy_mc,multiple_choice,0,contains_answer,0.6667,0.3333
toy-model,toy,toy,generative_qa,2,exact_match,0.5416,0.2083
CSV
check "aggregate.csv leaf and rollup rows" "cmp -s '$tmp/want.csv' '$OUT/aggregate.csv'"
J="$OUT/outputs/toy-model/toy_qa_2shot.jsonl"
check "per-sample file has 5 lines (4 scored + 1 failed)" "[ \$(wc -l < '$J') -eq 5 ]"
$PY - "$J" "$OUT/outputs/toy-model/toy_qa_2shot.json" > "$tmp/py.out" 2>&1 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
prov = json.load(open(sys.argv[2]))
r0 = rows[0]
want = "Q: 2+2\nA:\n4\n\nQ: 3*3\nA:\n9\n\nQ: 1+1\nA:"
assert r0["prompt"] == want, repr(r0["prompt"])
assert r0["prediction"] == "2" and r0["gold"] == "2" and r0["exact_match"] == 1.0, r0
assert r0["kind"] == "qa" and r0["model"] == "toy-model" and r0["task"] == "toy_qa", r0
assert r0["n_shot"] == 2 and r0["doc_id"] == 0 and r0["split"] == "test" and r0["seed"] == 42
assert r0["responses"] == ["2"], r0
assert [r["doc_id"] for r in rows] == [0, 1, 2, 3, 4]
assert "error" in rows[4] and "no saved response" in rows[4]["error"], rows[4]
assert prov["n"] == 5 and prov["n_failed"] == 1 and prov["finished"] is True, prov
assert prov["seed"] == 42 and prov["limit"] == -1 and prov["backend"] == "replay", prov
print("py ok")
PY
check "per-sample lines and provenance (few-shot prompt byte for byte)" \
    "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"

# Rerun: a finished job without failures (toy_mc) is skipped; a job with a failed sample
# (toy_qa) retries that sample only.
run toy; rc=$?
check "rerun exits 0, toy_mc Cached" "[ $rc -eq 0 ] && grep -q 'Cached toy_mc' '$tmp/stderr'"
check "rerun retries toy_qa's failed sample" "! grep -q 'Cached toy_qa' '$tmp/stderr'"
check "rerun prints the same table" "cmp -s '$tmp/want' '$tmp/stdout'"
check "rerun appends only the retried sample" "[ \$(wc -l < '$J') -eq 6 ]"
check "rerun appends nothing to toy_mc" \
    "[ \$(wc -l < '$OUT/outputs/toy-model/toy_mc_0shot.jsonl') -eq 3 ]"

# Crash simulation: keep 2 lines plus a torn third, drop the provenance: resume computes the
# rest only, keeps the torn bytes and closes them with a newline.
head -n 2 "$J" > "$tmp/keep"; printf '{"doc_id": 2, "tor' >> "$tmp/keep"; cp "$tmp/keep" "$J"
rm -f "$OUT/outputs/toy-model/toy_qa_2shot.json"
run toy_qa; rc=$?
check "resume exits 0" "[ $rc -eq 0 ]"
$PY - "$OUT/outputs/toy-model/toy_qa_2shot.json" "$J" > "$tmp/py.out" 2>&1 <<'PY'
import json, sys
prov = json.load(open(sys.argv[1]))
assert prov["n_resumed"] == 2 and prov["n_computed"] == 2 and prov["n_failed"] == 1, prov
lines = open(sys.argv[2]).read().split("\n")
assert lines[2] == '{"doc_id": 2, "tor', lines[2]
print("py ok")
PY
check "resume computes only the missing samples" \
    "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"
check "resume gives the same leaf row" "grep -qx 'toy-model,toy,toy_qa,generative_qa,2,exact_match,0.75,0.25' '$OUT/aggregate.csv'"

# A rerun that gets no value (another --seed, every sample failing: no saved responses) leaves
# no row of the earlier run's in aggregate.csv, leaf or rollup, for collect to show as its.
cp -r "$OUT" "$tmp/stale"
cp -r "$OUT" "$tmp/zero"
"$MILL" --output_dir "$tmp/zero" --limit 0 eval "$SPEC" toy --task_paths "$tmp/plug" \
    >/dev/null 2>&1; rc=$?
check "a run of no docs (--limit 0) leaves aggregate.csv as it was" \
    "[ $rc -eq 0 ] && cmp -s '$OUT/aggregate.csv' '$tmp/zero/aggregate.csv'"
: > "$tmp/none.jsonl"
"$MILL" --output_dir "$tmp/stale" --seed 7 eval "replay[file=$tmp/none.jsonl,name=toy-model]" toy \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stale.err"; rc=$?
check "a rerun with no value: exit 0, the earlier rows gone, the header kept" \
    "[ $rc -eq 0 ] && [ \"\$(cat '$tmp/stale/aggregate.csv')\" = \"\$(head -1 '$tmp/want.csv')\" ] || { cat '$tmp/stale/aggregate.csv'; tail -3 '$tmp/stale.err'; false; }"

# The same when each task runs alone (a `mill schedule` worker): the last one's rollup from
# disk removes the earlier run's rollup row too.
cp -r "$OUT" "$tmp/stale1"
for t in toy_qa toy_mc; do
    "$MILL" --output_dir "$tmp/stale1" --seed 7 eval "replay[file=$tmp/none.jsonl,name=toy-model]" \
        $t --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stale.err"
done
check "each task alone with no value: no rollup row of the earlier run left" \
    "[ \"\$(cat '$tmp/stale1/aggregate.csv')\" = \"\$(head -1 '$tmp/want.csv')\" ] || { cat '$tmp/stale1/aggregate.csv'; false; }"

run toy_mc,toy_mc; rc=$?
check "a name given twice is one row of the table" "[ $rc -eq 0 ] && [ \$(grep -c '^toy_mc ' '$tmp/stdout') -eq 1 ]"

# The table in Python Mill's order: the tasks found finished, then those run (each in the order
# of the task names given, then of the benchmarks' tasks), then the benchmarks.
"$MILL" --output_dir "$tmp/ord" eval "$SPEC" toy_mc --task_paths "$tmp/plug" >/dev/null 2>&1
"$MILL" --output_dir "$tmp/ord" eval "$SPEC" toy,toy_qa,toy_mc --task_paths "$tmp/plug" \
    >"$tmp/stdout" 2>/dev/null
check "end table: cached toy_mc, then toy_qa, then the benchmark toy (Python Mill's order)" \
    "[ \"\$(awk 'NR > 3 && NF == 2 {print \$1}' '$tmp/stdout' | tr '\n' ' ')\" = 'toy_mc toy_qa toy ' ]"
# Done or pending is decided before anything runs: the benchmark toy running toy_qa and toy_mc
# first does not make them "found finished".
"$MILL" --output_dir "$tmp/ord2" eval "$SPEC" toy,toy_qa,toy_mc --task_paths "$tmp/plug" \
    >"$tmp/stdout" 2>/dev/null
check "end table, nothing finished before: toy_qa, toy_mc, toy (leaf order)" \
    "[ \"\$(awk 'NR > 3 && NF == 2 {print \$1}' '$tmp/stdout' | tr '\n' ' ')\" = 'toy_qa toy_mc toy ' ]"

# --limit is part of the job key: a smoke run is not taken for the full job, and reuses samples.
run toy_qa; run toy_qa --limit 2; rc=$?
check "--limit 2 exits 0" "[ $rc -eq 0 ]"
check "--limit 2 re-aggregates over the first 2 docs" \
    "grep -qx 'toy-model,toy,toy_qa,generative_qa,2,exact_match,1.0,0.0' '$OUT/aggregate.csv'"
check "--limit 2 is not 'Cached' from the full run" "! grep -q 'Cached' '$tmp/stderr'"
# Another seed draws other shots and does not reuse samples of seed 42.
run toy_qa --seed 7; rc=$?
check "--seed 7 runs again" "[ $rc -eq 0 ] && ! grep -q 'Cached' '$tmp/stderr'"

# A --limit run after a full one: the full run's lines beyond the limit are not this job's, so
# they neither make it "Cached" while one of its docs failed nor count as resumed.
grep -v '"toy_qa", "doc_id": 1' "$tmp/resp.jsonl" >"$tmp/resp_l.jsonl"
runl() { "$MILL" --output_dir "$tmp/lim" eval "replay[file=$tmp/resp_l.jsonl,name=lim]" toy_qa \
         --task_paths "$tmp/plug" "$@" >/dev/null 2>"$tmp/stderr"; }
runl; runl --limit 2
echo '{"task": "toy_qa", "doc_id": 1, "response": " Rome "}' >>"$tmp/resp_l.jsonl"
runl --limit 2; rc=$?
check "--limit 2 after a full run retries its failed doc (not Cached, 1 computed, 1 resumed)" \
    "[ $rc -eq 0 ] && ! grep -q Cached '$tmp/stderr' && grep -q 'toy_qa: 2 docs (1 computed, 1 resumed, 0 failed)' '$tmp/stderr'"
check "its provenance counts only its own docs" \
    "$PY -c \"import json,sys; p=json.load(open('$tmp/lim/outputs/lim/toy_qa_2shot.json')); sys.exit(not (p['n'] == 2 and p['n_resumed'] == 1 and p['n_computed'] == 1))\""

# A NUL byte in a saved response is text: kept whole, and the stop string after it still cuts.
printf '%s\n' '{"task": "toy_qa", "doc_id": 0, "response": "2\u0000 or so\nQ: next"}' \
    >"$tmp/resp_nul.jsonl"
"$MILL" --output_dir "$tmp/nul" --limit 1 eval "replay[file=$tmp/resp_nul.jsonl,name=nul]" \
    toy_qa --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stderr"; rc=$?
"$PY" - "$tmp/nul/outputs/nul/toy_qa_2shot.jsonl" >"$tmp/nul.out" 2>&1 <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["prediction"] == "2\0 or so" and r["responses"] == ["2\0 or so"], r
assert r["exact_match"] == 0.0, r
print("py ok")
PY
check "a NUL byte in a response is kept, the stop string after it cuts, exact_match sees it" \
    "[ $rc -eq 0 ] && grep -q 'py ok' '$tmp/nul.out' || { cat '$tmp/nul.out'; false; }"

# A task of two evaluation splits (toy_two: train, then test): doc_ids run on across them, so
# --limit 3 puts test's first doc at id 3 and --limit 2 its second. A line names its doc's place
# in its split (split_doc), so --limit 2 recomputes ids 2 and 3 rather than reuse the --limit 3
# lines there (id 3's was another doc's, and wrong).
cat > "$tmp/two1.jsonl" <<'JSON'
{"task": "toy_two", "doc_id": 0, "response": "4"}
{"task": "toy_two", "doc_id": 1, "response": "Paris"}
{"task": "toy_two", "doc_id": 2, "response": "blue"}
{"task": "toy_two", "doc_id": 3, "response": "nope"}
{"task": "toy_two", "doc_id": 4, "response": "Rome"}
{"task": "toy_two", "doc_id": 5, "response": "2"}
JSON
cat > "$tmp/two2.jsonl" <<'JSON'
{"task": "toy_two", "doc_id": 0, "response": "4"}
{"task": "toy_two", "doc_id": 1, "response": "Paris"}
{"task": "toy_two", "doc_id": 2, "response": "2"}
{"task": "toy_two", "doc_id": 3, "response": "Rome"}
JSON
two() { "$MILL" --output_dir "$tmp/two" eval "replay[file=$tmp/$1,name=two]" toy_two \
        --task_paths "$tmp/plug" "${@:2}"; }
two two1.jsonl --limit 3 >/dev/null 2>&1
two two2.jsonl --limit 2 >/dev/null 2>"$tmp/stderr"; rc=$?
check "--limit 2 after --limit 3 on two splits recomputes the shifted docs" \
    "[ $rc -eq 0 ] && grep -q 'toy_two: 4 docs (2 computed, 2 resumed, 0 failed)' '$tmp/stderr'"
check "... and scores them as the docs they are now" \
    "grep -qx 'two,,toy_two,generative_qa,0,exact_match,1.0,0.0' '$tmp/two/aggregate.csv'"
check "a line of a task of two splits has its split_doc" \
    "tail -1 '$tmp/two/outputs/two/toy_two_0shot.jsonl' | grep -q '\"split\":\"test\",\"split_doc\":1,'"
# A run killed while it appends to a job finished for another --limit (here by the file size
# limit, SIGXFSZ, at its first write) leaves the job unfinished: the next --limit 2 run does not
# take the file as its own finished job (Cached) while lines of --limit 3 may be in it.
{ ( ulimit -f 1; exec "$MILL" --output_dir "$tmp/two" eval "replay[file=$tmp/two1.jsonl,name=two]" \
    toy_two --task_paths "$tmp/plug" --limit 3 ) >/dev/null 2>&1; } 2>/dev/null; rc=$?
check "the --limit 3 run is killed at its first append (SIGXFSZ)" "[ $rc -eq 153 ]"
check "its job is no longer finished" \
    "grep -q '\"finished\":false' '$tmp/two/outputs/two/toy_two_0shot.json'"
two two2.jsonl --limit 2 >/dev/null 2>"$tmp/stderr"; rc=$?
check "the next --limit 2 run evaluates (not Cached)" \
    "[ $rc -eq 0 ] && ! grep -q Cached '$tmp/stderr' && grep -q 'toy_two: 4 docs (0 computed, 4 resumed' '$tmp/stderr'"

# Up-front rejection: replay cannot score log-probs; nothing is written for the task.
run toy_lp; rc=$?
check "log-prob task rejected with Mill's message" \
    "[ $rc -eq 1 ] && grep -q \"cannot do log-probability scoring ('loglikelihood') required by this task\" '$tmp/stderr'"
check "rejected task wrote nothing" "[ ! -e '$OUT/outputs/toy-model/toy_lp_0shot.jsonl' ]"

# A missing responses file is a clear load error, exit 1.
SPEC="replay[file=$tmp/nope.jsonl,name=m2]" run toy_mc; rc=$?
check "missing replay file: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'nope.jsonl' '$tmp/stderr'"
# A missing data file is a clear error naming the split and the path.
mv "$tmp/plug/toy_data/mc_test.jsonl" "$tmp/mc.bak"
SPEC="replay[file=$tmp/resp.jsonl,name=m3]" run toy_mc; rc=$?
check "missing data file: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'mc_test.jsonl' '$tmp/stderr'"
mv "$tmp/mc.bak" "$tmp/plug/toy_data/mc_test.jsonl"
# A corrupt data line names the file and line.
printf '{"question": "x", "options": ["a"], "answer": 0}\n{broken\n' > "$tmp/plug/toy_data/mc_test.jsonl"
SPEC="replay[file=$tmp/resp.jsonl,name=m4]" run toy_mc; rc=$?
check "corrupt data line: exit 1 naming file:line" "[ $rc -eq 1 ] && grep -q 'mc_test.jsonl:2' '$tmp/stderr'"

cp "$SRC/tests/plugins/toy_data/mc_test.jsonl" "$tmp/plug/toy_data/"   # undo the corruption
# --fail_fast stops the task at its first failed sample (doc 4 has no saved response); exit 1.
"$MILL" --output_dir "$tmp/ff" eval "replay[file=$tmp/resp.jsonl,name=ff]" toy_qa \
    --task_paths "$tmp/plug" --fail_fast >/dev/null 2>"$tmp/stderr"; rc=$?
check "--fail_fast: exit 1 naming the failed doc" "[ $rc -eq 1 ] && grep -q 'doc 4 failed (--fail_fast)' '$tmp/stderr'"
# A failure mid-batch: the batch's docs after it, already answered, are written before the stop,
# and a run without --fail_fast resumes them (and redoes only the failed one).
grep -v '"doc_id": 2' "$tmp/resp.jsonl" > "$tmp/resp2.jsonl"
echo '{"task": "toy_qa", "doc_id": 4, "response": "water"}' >> "$tmp/resp2.jsonl"
"$MILL" --output_dir "$tmp/ff2" eval "replay[file=$tmp/resp2.jsonl,name=ff]" toy_qa \
    --task_paths "$tmp/plug" --fail_fast >/dev/null 2>"$tmp/stderr"; rc=$?
check "--fail_fast mid-batch: exit 1 naming doc 2" "[ $rc -eq 1 ] && grep -q 'doc 2 failed (--fail_fast)' '$tmp/stderr'"
check "--fail_fast mid-batch: docs 3 and 4 after it are written" \
    "[ \$(grep -c '\"doc_id\":[34],' '$tmp/ff2/outputs/ff/toy_qa_2shot.jsonl') -eq 2 ]"
"$MILL" --output_dir "$tmp/ff2" eval "replay[file=$tmp/resp2.jsonl,name=ff]" toy_qa \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stderr"
check "--fail_fast mid-batch: the next run resumes them" "grep -q '0 computed, 4 resumed, 1 failed' '$tmp/stderr'"
# --batch_docs 1 hands one doc at a time to the backend: same results.
"$MILL" --output_dir "$tmp/b1" eval "replay[file=$tmp/resp.jsonl,name=toy-model]" toy \
    --task_paths "$tmp/plug" --batch_docs 1 >/dev/null 2>&1
check "--batch_docs 1 gives the same aggregate.csv" "cmp -s '$tmp/want.csv' '$tmp/b1/aggregate.csv' || diff '$tmp/want.csv' '$tmp/b1/aggregate.csv'"
# --log_level debug / error.
"$MILL" --log_level error --output_dir "$tmp/le" eval "replay[file=$tmp/resp.jsonl,name=le]" toy_mc \
    --task_paths "$tmp/plug" >"$tmp/stdout" 2>"$tmp/stderr"
check "--log_level error silences INFO lines (the run exits 0 and scores)" \
    "[ \$? -eq 0 ] && grep -Eq '^toy_mc +[0-9.]+\$' '$tmp/stdout' && ! grep -q ' INFO ' '$tmp/stderr'"
# --cache_dir reaches the commands that keep state there (schedule's clusters.yaml).
"$MILL" --cache_dir "$tmp/cachedir" --output_dir "$tmp/sch" schedule \
    "replay[file=$tmp/resp.jsonl,name=s]" toy_mc --extra_task_paths "$tmp/plug" --dry_run >/dev/null 2>&1
check "--cache_dir is where schedule keeps clusters.yaml" "[ -f '$tmp/cachedir/clusters.yaml' ]"
# Resumed lines without one metric's key (an edited file, a metric added since): that metric has
# no value at all, so no row (it had one with an empty performance), the other metric its row.
"$MILL" --output_dir "$tmp/nk" eval "replay[file=$tmp/resp.jsonl,name=nk]" toy_mc \
    --task_paths "$tmp/plug" >/dev/null 2>&1
sed -i 's/,"contains_answer":[0-9.]*//' "$tmp/nk/outputs/nk/toy_mc_0shot.jsonl"
rm -f "$tmp/nk/outputs/nk/toy_mc_0shot.json" "$tmp/nk/aggregate.csv"
"$MILL" --output_dir "$tmp/nk" eval "replay[file=$tmp/resp.jsonl,name=nk]" toy_mc \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stderr"; rc=$?
check "a metric without any value resumed: no row for it, the other's row kept" \
    "[ $rc -eq 0 ] && grep -q '^nk,toy,toy_mc,multiple_choice,0,exact_match,0.3333,' '$tmp/nk/aggregate.csv' && ! grep -q contains_answer '$tmp/nk/aggregate.csv'"

# A task named alone and through its benchmark runs once (Python Mill's leaf list): its failed
# sample is asked for once, counted once; a model spec given twice runs once.
"$MILL" --output_dir "$tmp/tw" eval "$SPEC" toy,toy_qa --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/stderr"; rc=$?
check "toy,toy_qa: toy_qa evaluated once, 5 lines, '1 samples failed'" \
    "[ $rc -eq 0 ] && [ \$(grep -c 'Evaluating toy_qa |' '$tmp/stderr') -eq 1 ] && \
     [ \$(wc -l < '$tmp/tw/outputs/toy-model/toy_qa_2shot.jsonl') -eq 5 ] && \
     grep -q '^mill: 1 samples failed' '$tmp/stderr'"
"$MILL" --output_dir "$tmp/tw2" eval "$SPEC,$SPEC" toy_qa --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/stderr"; rc=$?
check "the same spec twice: one run, a warning, '1 samples failed'" \
    "[ $rc -eq 0 ] && [ \$(grep -c 'Evaluating toy_qa |' '$tmp/stderr') -eq 1 ] && \
     grep -q 'given twice' '$tmp/stderr' && grep -q '^mill: 1 samples failed' '$tmp/stderr'"
# Every model's arguments are checked before the first model runs.
"$MILL" --output_dir "$tmp/lb" eval "$SPEC,replay[file=$tmp/resp.jsonl,bogus=1]" toy_qa \
    --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stderr"; rc=$?
check "a later model's unknown argument: exit 2 before the first model runs" \
    "[ $rc -eq 2 ] && grep -q \"unknown argument 'bogus'\" '$tmp/stderr' && [ ! -e '$tmp/lb/outputs' ]"
for bad in .. . ''; do
    "$MILL" --output_dir "$tmp/nm/o" eval "replay[file=$tmp/resp.jsonl,name=$bad]" toy_qa \
        --task_paths "$tmp/plug" >/dev/null 2>"$tmp/stderr"; rc=$?
    check "replay name='$bad': exit 2, nothing written" \
        "[ $rc -eq 2 ] && grep -q 'cannot name its output directory' '$tmp/stderr' && \
         [ -z \"\$(find '$tmp/nm' -name '*shot*')\" ]"
done
# prompts: every name known before any prompt is printed; --n_shot past INT_MAX refused.
"$MILL" prompts toy_qa,nosuch --task_paths "$tmp/plug" >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "prompts toy_qa,nosuch: exit 2, nothing printed" \
    "[ $rc -eq 2 ] && [ ! -s '$tmp/stdout' ] && grep -q \"unknown task or benchmark 'nosuch'\" '$tmp/stderr'"
"$MILL" --limit 1 prompts toy_qa --n_shot 4294967296 --task_paths "$tmp/plug" >"$tmp/stdout" \
    2>"$tmp/stderr"; rc=$?
check "prompts --n_shot 4294967296: exit 2" "[ $rc -eq 2 ] && [ ! -s '$tmp/stdout' ]"
"$MILL" --output_dir "$tmp/bd" eval "$SPEC" toy_qa --batch_docs 0 --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/stderr"; rc=$?
check "--batch_docs 0: exit 2 naming --batch_docs alone" \
    "[ $rc -eq 2 ] && grep -q 'batch_docs must be 1 or more' '$tmp/stderr'"
mkdir -p "$tmp/empty_plugins"
"$MILL" ls --task_paths "$tmp/empty_plugins" >/dev/null 2>"$tmp/stderr"
check "--task_paths with no plugin in it: a warning" "grep -q 'no plugin' '$tmp/stderr'"

mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && MILL_OUTPUT_DIR= "$MILL" eval "$SPEC" toy_mc --task_paths "$tmp/plug" >/dev/null 2>&1)
check "MILL_OUTPUT_DIR= (empty) is the current directory, as Python's Path('')" \
    "[ -s '$tmp/cwd/aggregate.csv' ] && [ -d '$tmp/cwd/outputs/toy-model' ]"

finish
