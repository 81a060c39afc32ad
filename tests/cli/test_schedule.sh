#!/usr/bin/env bash
# test_schedule.sh: `mill schedule` end to end, without a cluster: the job table (114 mmlu jobs
# for --n_shots 0,5, pandas' sample(frac=1, random_state=42) order computed with numpy),
# completed jobs filtered out, jobs.csv, clusters.yaml created on first run, custom and malformed
# clusters.yaml, submission through fake sbatch/squeue placed first on PATH (the #SBATCH lines,
# the worker lines, which are then run as array tasks), and --local (a failing mmlu job stops
# with exit 1; the toy plugin's jobs succeed and are then complete, for their --limit only, with
# the benchmark's rollup row written by the worker that ends its last task); a job named twice
# is listed once; a spec starting with '-' runs no shell code; collect's job check for
# benchmarks that pick a variant or have one task.
# Must not touch anything outside its temp dir; needs /usr/bin/python3 with numpy.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR
OUT="$tmp/out"
: > "$tmp/resp.jsonl"
# A llama model that can serve MMLU, named org/m: the file ./org/m (relative, so the name is
# that), never loaded by a dry run (the --local run fails on it, as it should).
MILL=$(cd "$(dirname "$MILL")" && pwd)/$(basename "$MILL")
BUILD=$(cd "$BUILD" && pwd) SRC=$(cd "$SRC" && pwd)
cd "$tmp" && mkdir -p org && : > org/m
SPEC="llama[path=org/m]"
sched() { "$MILL" --output_dir "$OUT" schedule "$@" >"$tmp/stdout" 2>"$tmp/stderr"; }

# ---- the job table ----
sched "$SPEC" mmlu --n_shots 0,5 --dry_run; rc=$?
check "dry run exits 0" "[ $rc -eq 0 ]"
check "114 jobs plus the header" "[ \$(wc -l < '$tmp/stdout') -eq 115 ]"
check "header names model_abbr, model_path, tasks, n_shot" \
    "head -n 1 '$tmp/stdout' | grep -Eq '^ +model_abbr +model_path +tasks +n_shot\$'"
check "tasks are mmlu subjects (mmlu_anatomy at 0 and 5 shots)" \
    "grep -Eq ' mmlu_anatomy +0\$' '$tmp/stdout' && grep -Eq ' mmlu_anatomy +5\$' '$tmp/stdout'"
check "model_abbr has / as __, model_path is the spec" \
    "grep -qF 'org__m  $SPEC  ' '$tmp/stdout'"
check "clusters.yaml created on first run" "[ -s '$tmp/cache/clusters.yaml' ]"
check "the default defines generic with pattern '*'" \
    "grep -q '^  generic:' '$tmp/cache/clusters.yaml' && grep -qF 'hostname_pattern: \"*\"' '$tmp/cache/clusters.yaml'"
check "a dry run writes no jobs.csv" "[ ! -e '$tmp/cache/jobs/jobs.csv' ]"

# Expected: Python Mill's print_jobs, print(df.to_string(index=True)) of models x tasks (mmlu's
# order, from mill ls --json) x n_shots after df.sample(frac=1, random_state=42), by Debian's
# pandas.
"$MILL" ls --json > "$tmp/ls.json" 2>/dev/null
$PY - "$tmp/ls.json" "$SPEC" "$tmp/stdout" > "$tmp/py.out" 2>&1 <<'PY'
import json, sys
import pandas as pd
ls = json.load(open(sys.argv[1]))
tasks = next(b["tasks"] for b in ls["benchmarks"] if b["name"] == "mmlu")
rows = [{"model_abbr": "org__m", "model_path": sys.argv[2], "tasks": t, "n_shot": n}
        for t in tasks for n in (0, 5)]
df = pd.DataFrame(rows).sample(frac=1, random_state=42).reset_index(drop=True)
got = open(sys.argv[3]).read()
assert len(tasks) == 57, len(tasks)
assert got == df.to_string(index=True) + "\n", (got[:300], df.to_string(index=True)[:300])
print("py ok")
PY
check "the table is pandas' to_string of the jobs in sample(frac=1, random_state=42) order" \
    "grep -q 'py ok' '$tmp/py.out' || { cat '$tmp/py.out'; false; }"

# ---- completed jobs are filtered out ----
mkdir -p "$OUT"
cat > "$OUT/aggregate.csv" <<'CSV'
model,benchmark,task,task_type,n_shot,metric,performance,stderr
org/m,mmlu,mmlu_anatomy,multiple_choice,0,acc,0.5,0.1
org/m,mmlu,mmlu_virology,multiple_choice,5,acc,0.5,0.1
other/model,mmlu,mmlu_astronomy,multiple_choice,0,acc,0.5,0.1
CSV
sched "$SPEC" mmlu --n_shots 0,5 --dry_run; rc=$?
check "completed jobs are filtered (112 left)" \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/stdout') -eq 113 ]"
check "the completed (model, task, n_shot) rows are gone, others stay" \
    "! grep -Eq ' mmlu_anatomy +0\$' '$tmp/stdout' && ! grep -Eq ' mmlu_virology +5\$' '$tmp/stdout' && grep -Eq ' mmlu_anatomy +5\$' '$tmp/stdout' && grep -Eq ' mmlu_astronomy +0\$' '$tmp/stdout'"
rm -f "$OUT/aggregate.csv"
# a finished job with failed samples is not complete: eval would answer those again
mkdir -p "$OUT/outputs/org__m"
echo '{"finished":true,"seed":42,"limit":-1,"n":135,"n_failed":2}' \
    > "$OUT/outputs/org__m/mmlu_anatomy_0shot.json"
echo '{"finished":true,"seed":42,"limit":-1,"n":135,"n_failed":0}' \
    > "$OUT/outputs/org__m/mmlu_anatomy_5shot.json"
sched "$SPEC" mmlu --n_shots 0,5 --dry_run; rc=$?
check "a finished job with failed samples stays to do, one without is complete (113 left)" \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/stdout') -eq 114 ] && grep -Eq ' mmlu_anatomy +0\$' '$tmp/stdout' && ! grep -Eq ' mmlu_anatomy +5\$' '$tmp/stdout'"
rm -rf "$OUT/outputs"

# ---- usage errors ----
sched "$SPEC" no_such_task --dry_run; rc=$?
check "unknown task: exit 2" "[ $rc -eq 2 ] && grep -q 'no_such_task' '$tmp/stderr'"
sched "nobackend[x=1]" mmlu --dry_run; rc=$?
check "unknown backend: exit 2" "[ $rc -eq 2 ] && grep -q 'nobackend' '$tmp/stderr'"
sched "$SPEC" mmlu --n_shots 0,x --dry_run; rc=$?
check "bad --n_shots: exit 2" "[ $rc -eq 2 ]"
sched "$SPEC" mmlu --cluster nowhere --dry_run; rc=$?
check "unknown --cluster: exit 2 naming it" "[ $rc -eq 2 ] && grep -q 'nowhere' '$tmp/stderr'"

# ---- submission through fake sbatch and squeue ----
mkdir -p "$tmp/bin"
cat > "$tmp/bin/sbatch" <<EOF
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/sbatch.args"
echo "Submitted batch job 123"
EOF
cat > "$tmp/bin/squeue" <<EOF
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/squeue.args"
printf '1 mill-eval\n2 mill-eval\n3 other\n'
EOF
chmod +x "$tmp/bin/sbatch" "$tmp/bin/squeue"
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu --n_shots 0,5 --minutes_per_eval 20 --limit 1; rc=$?
S="$tmp/cache/jobs/submit.sbatch"
check "submission exits 0 and prints sbatch's answer" \
    "[ $rc -eq 0 ] && grep -q 'Submitted batch job 123' '$tmp/stdout'"
check "summary names jobs, array size and time limit" \
    "grep -q '^jobs: 114' '$tmp/stdout' && grep -q '^array size: 50' '$tmp/stdout' && grep -q '^time limit: 01:00:00' '$tmp/stdout'"
check "sbatch got the script path" "[ \"\$(cat '$tmp/sbatch.args')\" = '$S' ]"
check "squeue asked about \$USER's jobs" "grep -qx -- '-u' '$tmp/squeue.args' && grep -qx -- '-h' '$tmp/squeue.args'"
check "jobs.csv written (114 rows + header)" \
    "[ \$(wc -l < '$tmp/cache/jobs/jobs.csv') -eq 115 ]"
check "#SBATCH --array=0-49 (max_array_len 50)" "grep -q '^#SBATCH --array=0-49%50\$' '$S'"
check "#SBATCH --time=01:00:00 (ceil(114/50) x 20 min)" "grep -qx '#SBATCH --time=01:00:00' '$S'"
check "#SBATCH gres, mem and partition of generic" \
    "grep -qx '#SBATCH --gres=gpu:1' '$S' && grep -qx '#SBATCH --mem=32G' '$S' && grep -qx '#SBATCH --partition=gpu' '$S'"
check "no account line when none is set" "! grep -q -- '--account' '$S'"
check "worker lines run mill eval with --n_shot and the absolute binary" \
    "grep -q \"^    [0-9]*) '/[^']*' --output_dir '$OUT' --cache_dir '$tmp/cache' --limit 1 eval '\" '$S' && [ \$(grep -c \" eval '.*' 'mmlu_[a-z_]*' --n_shot [05] ;;\$\" '$S') -eq 114 ]"
check "the script is valid bash" "bash -n '$S'"

# 18-hour cap and the time-driven array size: 114 jobs x 600 min need >= 64 array tasks.
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu --n_shots 0,5 --minutes_per_eval 600; rc=$?
check "array grows for time: 0-63, time capped at 18:00:00" \
    "[ $rc -eq 0 ] && grep -q '^#SBATCH --array=0-63%50\$' '$S' && grep -qx '#SBATCH --time=18:00:00' '$S'"

# No sbatch on PATH: a clear error, exit 1.
PATH="$tmp/nothing" sched "$SPEC" mmlu_anatomy; rc=$? # nothing on PATH: no sbatch, even where SLURM is installed
check "missing sbatch: exit 1 with a clear error" \
    "[ $rc -eq 1 ] && grep -q 'sbatch not found on PATH' '$tmp/stderr'"

# ---- clusters.yaml: a custom cluster, the flat shape, and malformed files ----
cat > "$tmp/cache/clusters.yaml" <<'YAML'
clusters:
  # a comment
  big:
    hostname_pattern: "no-such-host-*"   # never matches
    partition: 'a100q'
    account: "proj-42"
    gpu_type: a100
    gpus_per_node: 2
    mem_per_gpu: "40G"
    cpus_per_task: 8
    queue_limit: 10
    max_array_len: 4
    bind_paths:
      - /data
      - "/scratch space"
  generic:
    hostname_pattern: "*"
    partition: gpu
    bind_paths: []
YAML
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu_anatomy,mmlu_virology --n_shots 0,1,2 --cluster big; rc=$?
check "--cluster big: submitted" "[ $rc -eq 0 ]"
check "big: partition, account, gres with type, mem-per-gpu, cpus" \
    "grep -qx '#SBATCH --partition=a100q' '$S' && grep -qx '#SBATCH --account=proj-42' '$S' && grep -qx '#SBATCH --gres=gpu:a100:2' '$S' && grep -qx '#SBATCH --mem-per-gpu=40G' '$S' && grep -qx '#SBATCH --cpus-per-task=8' '$S'"
check "big: array min(4, queue 10 - 3 queued, 6 jobs) = 4, time 2 x 60 min" \
    "grep -q '^#SBATCH --array=0-3%4\$' '$S' && grep -qx '#SBATCH --time=02:00:00' '$S'"
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu_anatomy; rc=$?
check "auto picks generic when no pattern matches" \
    "[ $rc -eq 0 ] && grep -q 'cluster generic' '$tmp/stdout' && grep -qx '#SBATCH --partition=gpu' '$S'"

printf 'cpu:\n  gpus_per_node: 0\n  mem: 4G\n' > "$tmp/cache/clusters.yaml"
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu_anatomy --cluster cpu; rc=$?
check "gpus_per_node: 0 (a CPU cluster): no --gres, --mem as given" \
    "[ $rc -eq 0 ] && ! grep -q -- '--gres' '$S' && grep -qx '#SBATCH --mem=4G' '$S'"

printf 'mine:\n  hostname_pattern: "*"\n  partition: flat\n' > "$tmp/cache/clusters.yaml"
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu_anatomy; rc=$?
check "flat clusters.yaml: auto matches 'mine' by hostname" \
    "[ $rc -eq 0 ] && grep -qx '#SBATCH --partition=flat' '$S'"

# YAML merge keys, as PyYAML's safe_load applies them: the anchored fields, the own ones winning
cat > "$tmp/cache/clusters.yaml" <<'YAML'
base: &b
  partition: big
  gpus_per_node: 4
  mem: 8G
extra: &x
  mem: 99G
  account: from-x
mine:
  <<: [*b, *x]
  account: acc
YAML
PATH="$tmp/bin:$PATH" sched "$SPEC" mmlu_anatomy --cluster mine 2>"$tmp/stderr"; rc=$?
check "merge keys: the anchors' fields (the first listed wins), the cluster's own over them" \
    "[ $rc -eq 0 ] && grep -qx '#SBATCH --partition=big' '$S' && grep -qx '#SBATCH --gres=gpu:4' '$S' && grep -qx '#SBATCH --mem=8G' '$S' && grep -qx '#SBATCH --account=acc' '$S' && ! grep -q 'unknown key' '$tmp/stderr'"

bad_yaml() { # $1 name, $2 line number expected, $3 file text
    printf '%b' "$3" > "$tmp/cache/clusters.yaml"
    sched "$SPEC" mmlu_anatomy --dry_run; local rc=$?
    check "malformed clusters.yaml ($1): exit 1 naming file:line" \
        "[ $rc -eq 1 ] && grep -qF '$tmp/cache/clusters.yaml:$2:' '$tmp/stderr'"
}
bad_yaml "no colon" 3 'clusters:\n  generic:\n    partition gpu\n'
bad_yaml "unterminated quote" 2 'generic:\n  partition: "gpu\n'
bad_yaml "non-integer gpus" 4 '# c\ngeneric:\n  partition: gpu\n  gpus_per_node: two\n'
bad_yaml "tab indentation" 2 'generic:\n\tpartition: gpu\n'
bad_yaml "bad indentation" 3 'generic:\n    partition: gpu\n  mem: 8G\n'
bad_yaml "a merge key of a scalar" 2 'generic:\n  <<: gpu\n'
bad_yaml "duplicate cluster" 3 'a:\n  mem: 1G\na:\n  mem: 2G\n'
rm -f "$tmp/cache/clusters.yaml"

# ---- --local: the worker really runs `mill eval` ----
sched "$SPEC" mmlu_anatomy --local --limit 1; rc=$?
check "--local mmlu_anatomy --limit 1 fails with exit 1" "[ $rc -eq 1 ]"
check "the failure is the eval worker's own error, then schedule's" \
    "grep -v 'mill: job 1/1' '$tmp/stderr' | grep -q '^mill: .*mmlu_anatomy' && grep -q 'mill: job 1/1 (org/m, mmlu_anatomy, 0-shot) failed' '$tmp/stderr'"

# The toy plugin (tests/plugins/toy.c) has local data the replay backend can answer: a
# successful --local sweep, then every job is complete.
mkdir -p "$tmp/plug"
cp "$BUILD/plugins/toy.so" "$tmp/plug/" && cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
cat > "$tmp/toy.jsonl" <<'JSON'
{"task": "toy_qa", "doc_id": 0, "response": "2"}
{"task": "toy_qa", "doc_id": 1, "response": "Rome"}
{"task": "toy_mc", "doc_id": 0, "response": "B"}
{"task": "toy_mc", "doc_id": 1, "response": "A"}
JSON
TOY="replay[file=$tmp/toy.jsonl,name=toy/m]"
sched "$TOY" toy --n_shots 0,1 --local --limit 2 --extra_task_paths "$tmp/plug"; rc=$?
check "--local toy sweep exits 0 and ran 4 jobs" "[ $rc -eq 0 ] && grep -q '^ran 4 jobs' '$tmp/stdout'"
check "--local wrote aggregate rows for both n_shots" \
    "grep -q '^toy/m,toy,toy_qa,generative_qa,0,' '$OUT/aggregate.csv' && grep -q '^toy/m,toy,toy_mc,multiple_choice,1,' '$OUT/aggregate.csv'"
check "each one-task worker of the sweep: toy's rollup rows once both tasks finished" \
    "grep -q '^toy/m,toy,toy,[a-z_]*,0,exact_match,' '$OUT/aggregate.csv' && grep -q '^toy/m,toy,toy,[a-z_]*,1,exact_match,' '$OUT/aggregate.csv'"
"$MILL" --output_dir "$OUT" collect --models toy/m --tasks toy --n_shots 0,1 \
    --task_paths "$tmp/plug" >"$tmp/coll.out" 2>&1
check "collect: the scheduled benchmark is complete, its column shown" \
    "grep -q 'All requested jobs are complete.' '$tmp/coll.out' && grep -q '│ toy/m │ 1.0000' '$tmp/coll.out'"
sched "$TOY" toy --n_shots 0,1 --dry_run --limit 2 --extra_task_paths "$tmp/plug"; rc=$?
check "after the sweep every job is complete (pandas' empty frame)" \
    "[ $rc -eq 0 ] && [ \"\$(cat '$tmp/stdout')\" = \"\$(printf 'Empty DataFrame\\nColumns: [model_abbr, model_path, tasks, n_shot]\\nIndex: []')\" ]"
sched "$TOY" toy --n_shots 0,1 --dry_run --extra_task_paths "$tmp/plug"; rc=$?
check "a --limit sweep does not complete the full jobs (4 pending)" \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/stdout') -eq 5 ]"
sched "$TOY" toy --n_shots 0,1 --dry_run --limit 0 --extra_task_paths "$tmp/plug"; rc=$?
check "--limit 0 is no limit, as Python Mill's schedule (4 pending)" \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/stdout') -eq 5 ]"
"$MILL" --output_dir "$tmp/l0" schedule "$TOY" toy_qa --n_shots 0 --local --limit 0 \
    --extra_task_paths "$tmp/plug" >/dev/null 2>&1; rc=$?
check "--local --limit 0 evaluates 0 docs, as Python Mill's local run (provenance limit 0, n 0)" \
    "[ $rc -eq 0 ] && \"\$PY\" -c 'import json,sys; p=json.load(open(sys.argv[1])); sys.exit(not (p[\"limit\"] == 0 and p[\"n\"] == 0))' $tmp/l0/outputs/*/toy_qa_0shot.json"
sched "$TOY" toy --n_shots 0,1 --dry_run --local --limit 2 --extra_task_paths "$tmp/plug"; rc=$?
check "--local wins over --dry_run, as in Python Mill (the jobs are run: all complete)" \
    "[ $rc -eq 0 ] && grep -qx 'All requested jobs already complete.' '$tmp/stdout'"
sched "$TOY,$TOY" toy,toy_qa --n_shots 0 --dry_run --extra_task_paths "$tmp/plug"; rc=$?
check "a job named twice (a model, a task inside a benchmark given) is listed once (2 jobs)" \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/stdout') -eq 3 ]"

# The sbatch script's worker lines work when SLURM runs them: 3 jobs over 2 array tasks.
rm -f "$OUT/aggregate.csv"; rm -rf "$OUT/outputs"
printf 'c:\n  max_array_len: 2\n' > "$tmp/cache/clusters.yaml"
PATH="$tmp/bin:$PATH" sched "$TOY" toy_qa,toy_mc --n_shots 0 --limit 2 --cluster c \
    --extra_task_paths "$tmp/plug"; rc=$?
check "toy submission: 2 jobs, array 0-1" "[ $rc -eq 0 ] && grep -q '^#SBATCH --array=0-1%2\$' '$S'"
for t in 0 1; do
    (cd "$tmp" && SLURM_ARRAY_TASK_ID=$t bash "$S") > "$tmp/task$t.out" 2>&1; rc=$?
    check "array task $t runs its job with exit 0" \
        "[ $rc -eq 0 ] && grep -q 'array task $t finished' '$tmp/task$t.out' && ! grep -q 'mill-eval: job .* failed' '$tmp/task$t.out'"
done
check "the array tasks wrote both jobs' rows" \
    "grep -q '^toy/m,[a-z]*,toy_qa,generative_qa,0,' '$OUT/aggregate.csv' && grep -q '^toy/m,[a-z]*,toy_mc,multiple_choice,0,' '$OUT/aggregate.csv'"

# A spec is a quoted word of the worker line even when it starts with '-' (given as --models:
# as a bare word it is a flag, as Fire reads it; no shell code runs); a cache directory that a
# #SBATCH line cannot carry is refused.
PATH="$tmp/bin:$PATH" sched --models "-x;touch\${IFS}$tmp/PWNED;true" toy_qa --n_shots 0 \
    --extra_task_paths "$tmp/plug"; rc=$?
(cd "$tmp" && SLURM_ARRAY_TASK_ID=0 bash "$S") >"$tmp/task_x.out" 2>&1
check "a spec starting with '-' is quoted in the worker line: no shell code ran" \
    "[ $rc -eq 0 ] && grep -qF \"eval '-x;touch\" '$S' && [ ! -e '$tmp/PWNED' ]"
MILL_CACHE_DIR="$tmp/my cache" PATH="$tmp/bin:$PATH" sched "$TOY" toy_qa \
    --extra_task_paths "$tmp/plug"; rc=$?
check "a cache directory with a space: exit 1 naming it, nothing submitted" \
    "[ $rc -eq 1 ] && grep -q 'my cache. holds white space' '$tmp/stderr'"

# collect's job check: a benchmark that picks its variant is done by either variant; a benchmark
# of one task is that task alone; --n_shots must be numbers.
mkdir -p "$tmp/agg"
cat > "$tmp/agg/aggregate.csv" <<'CSV'
model,benchmark,task,task_type,n_shot,metric,performance,stderr
clip/m,cifar10,cifar10,zero_shot_classification,0,acc,0.5,0.1
vlm/m,cifar10,cifar10_mcq,multiple_choice,0,cifar10_mcq_acc,0.5,0.1
CSV
"$MILL" --output_dir "$tmp/agg" collect --models clip/m,vlm/m --tasks cifar10,mmlu_pro \
    --n_shots 0 >"$tmp/coll.out" 2>&1
check "collect: cifar10 done by either variant, mmlu_pro listed once a model" \
    "grep -q '^Missing 2 jobs:' '$tmp/coll.out' && [ \$(grep -c 'task=mmlu_pro ' '$tmp/coll.out') -eq 2 ] && ! grep -q 'task=cifar10' '$tmp/coll.out'"
"$MILL" --output_dir "$tmp/agg" collect --models clip/m --tasks cifar10 --n_shots abc \
    >"$tmp/coll.out" 2>&1; rc=$?
check "collect --n_shots abc: exit 2 naming it" "[ $rc -eq 2 ] && grep -q \"'abc'\" '$tmp/coll.out'"

# What eval would refuse at once is no job (a warning with eval's message): an audio task for
# an image model, log-likelihood for replay; the toy tasks replay answers are listed.
sched "clip[path=ViT-B-32,pretrained=laion2b_s34b_b79k]" clotho_aqa --dry_run; rc=$?
check "schedule of an audio task for CLIP: a warning, no job, exit 1 (nothing can run)" \
    "[ $rc -eq 1 ] && grep -q 'cannot ingest.*: no job' '$tmp/stderr' && \
     grep -q 'no job to run: 1 (model, task) pairs refused' '$tmp/stderr' && ! grep -q clotho '$tmp/stdout'"
sched "$TOY" toy_qa,mmlu_anatomy --n_shots 0 --dry_run --extra_task_paths "$tmp/plug"; rc=$?
check "replay on toy_qa and mmlu_anatomy: toy_qa's job alone, mmlu_anatomy's refusal said" \
    "[ $rc -eq 0 ] && grep -q ' toy_qa ' '$tmp/stdout' && ! grep -q mmlu_anatomy '$tmp/stdout' && \
     grep -q 'mmlu_anatomy.*log-probability.*: no job' '$tmp/stderr'"

finish
