#!/usr/bin/env bash
# test_slurm.sh: `mill schedule` against a real SLURM, Debian's slurm-wlm (slurmctld, slurmd and
# munged started here on localhost, as the user running the test, with a generated slurm.conf on
# free ports; nothing of the system's own configuration is read or changed).
#   1. A sweep of 2 models (tiny generated llama models) x 3 MMLU subjects is submitted as one
#      job array; real array tasks run the workers, two at a time, and merge their rows into one
#      aggregate.csv under its lock; `collect --check` then reports nothing missing, and every
#      array task's log ends with "array task T finished".
#   2. The same `schedule` again submits nothing.
#   3. A long job (mmlu_professional_law, 2 batches) is killed by `scancel` once the first batch
#      is on disk;
#      the next `schedule` submits exactly that job, whose run resumes the samples on disk
#      ("X computed, Y resumed" with Y = the lines kept) and ends with each doc once.
# Needs slurmctld, slurmd, munged and the client tools (scripts/deps.sh installs slurm-wlm and
# munge). When they are missing or cannot start, the test prints why and exits 77 (skipped),
# unless MILL_REQUIRE_SLURM=1 (CI), where that is a failure.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MILL=$(cd "$(dirname "$MILL")" && pwd)/$(basename "$MILL")
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/mill-slurm.XXXXXX)
. "$SRC/tests/cli/lib.sh"
chmod 755 "$tmp" # slurmd reads the job's working directory

export SLURM_CONF="$tmp/slurm/slurm.conf"
daemons=()
cleanup() {
    scancel --full -u "$(id -un)" >/dev/null 2>&1
    for p in "${daemons[@]+"${daemons[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${daemons[@]+"${daemons[@]}"}"; do wait "$p" 2>/dev/null; done
    [ -n "${MUNGE_SOCK:-}" ] && munged --stop --socket="$MUNGE_SOCK" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
skip() {
    if [ "${MILL_REQUIRE_SLURM:-0}" = 1 ]; then
        echo "FAIL - SLURM is required here (MILL_REQUIRE_SLURM=1) but: $*"
        [ -f "$tmp/slurm/log/slurmctld.log" ] && tail -n 20 "$tmp"/slurm/log/*.log
        exit 1
    fi
    echo "SKIP - $*"; exit 77
}

for t in munged slurmctld slurmd sbatch squeue scancel sinfo; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found (install slurm-wlm and munge)"
done

# ---- a one-node cluster on localhost ----
S=$tmp/slurm
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log"
chmod 700 "$S/munge"
head -c 1024 /dev/urandom > "$S/munge/munge.key" && chmod 600 "$S/munge/munge.key"
MUNGE_SOCK=$S/munge/sock
munged --force --socket="$MUNGE_SOCK" --key-file="$S/munge/munge.key" \
    --log-file="$S/log/munged.log" --pid-file="$S/munge/pid" --seed-file="$S/munge/seed" \
    >/dev/null 2>&1 || { MUNGE_SOCK=; skip "munged did not start"; }
read -r PORT_CTL PORT_D < <("$PY" -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
NODE=$(hostname -s)
ME=$(id -un)
cat > "$SLURM_CONF" <<EOF
ClusterName=milltest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=$ME
SlurmdUser=$ME
SlurmctldPort=$PORT_CTL
SlurmdPort=$PORT_D
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=sched_interval=1
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i > "$S/log/slurmctld.out" 2>&1 & daemons+=($!)
slurmd -D -N "$NODE" > "$S/log/slurmd.out" 2>&1 & daemons+=($!)
node_idle() { [ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ]; }
wait_for 60 node_idle || skip "slurmctld/slurmd did not bring node $NODE up: $(tail -n 3 "$S"/log/*.out "$S"/log/slurm*.log 2>/dev/null | tr '\n' ' ')"
ok "a one-node SLURM is up ($(sinfo -V), node $NODE idle)"

# ---- models, data, cluster ----
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_OUTPUT_DIR
MMLU=$SRC/tests/data/mmlu/cais_mmlu
mkdir -p "$tmp/mirror" "$tmp/cache"; ln -s "$MMLU" "$tmp/mirror/cais_mmlu"
export MILL_LOCAL_DATASETS="$tmp/mirror"
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/a.gguf" --seed 5 >/dev/null 2>&1
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/b.gguf" --seed 6 >/dev/null 2>&1
A="llama[path=$tmp/a.gguf,threads=1]"
B="llama[path=$tmp/b.gguf,threads=1]"
cat > "$tmp/cache/clusters.yaml" <<'YAML'
clusters:
  here:
    hostname_pattern: "*"
    partition: test
    gpus_per_node: 0
    mem: 600M
    cpus_per_task: 1
    max_array_len: 6
YAML
OUT=$tmp/out
LOGS=$tmp/cache/logs
schedule() { # schedule ARGS...: mill schedule, stdout/stderr in $tmp/stdout, $tmp/stderr
    (cd "$tmp" && "$MILL" --output_dir "$OUT" "${GLOBAL[@]}" schedule "$@") \
        >"$tmp/stdout" 2>"$tmp/stderr"
}
queue_empty() { [ -z "$(squeue -h -u "$ME" 2>/dev/null)" ]; }
job_of() { sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$tmp/stdout"; }

# ---- 1. a 2 x 3 sweep as one array (schedule's default --n_shots 0) ----
TASKS=mmlu_anatomy,mmlu_astronomy,mmlu_virology
GLOBAL=(--limit 10)
schedule "$A,$B" "$TASKS" --cluster here; rc=$?
J1=$(job_of)
check "sweep submitted: 6 jobs, array of 6 (sbatch answered a job id)" \
    "[ $rc -eq 0 ] && grep -q '^jobs: 6 ' '$tmp/stdout' && grep -q '^array size: 6' '$tmp/stdout' && [ -n '$J1' ]"
check "the CPU cluster's script asks for no GPU" "! grep -q -- '--gres' '$tmp/cache/jobs/submit.sbatch'"
wait_for 600 queue_empty
check "the array ran to the end (queue empty)" "queue_empty"
ends=0
for t in 0 1 2 3 4 5; do
    grep -q "array task $t finished" "$LOGS/mill-eval-$J1-$t.out" 2>/dev/null && ends=$((ends + 1))
done
check "all 6 array tasks finished (their logs say so)" "[ $ends -eq 6 ]" ||
    tail -n 5 "$LOGS"/mill-eval-"$J1"-*.err
check "no worker reported a failure" "! grep -q 'mill-eval: job .* failed' $LOGS/mill-eval-$J1-*.err"
rows() { "$PY" - "$OUT/aggregate.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(len({(r["model"], r["task"], r["n_shot"]) for r in rows}), len(rows))
PY
}
check "aggregate.csv holds all 6 (model, task) rows, merged by concurrent workers" \
    "[ \"\$(rows | cut -d' ' -f1)\" = 6 ]"
"$MILL" --output_dir "$OUT" collect --models "$tmp/a.gguf,$tmp/b.gguf" --tasks "$TASKS" \
    --n_shots 0 > "$tmp/collect.out" 2>&1
check "collect --check: all requested jobs are complete" \
    "grep -q 'All requested jobs are complete.' '$tmp/collect.out'"

# ---- 2. a rerun submits nothing ----
before=$(stat -c %Y "$tmp/cache/jobs/submit.sbatch")
schedule "$A,$B" "$TASKS" --cluster here; rc=$?
check "rerun: nothing to submit" \
    "[ $rc -eq 0 ] && grep -q 'All requested jobs already complete.' '$tmp/stdout' && ! grep -q 'Submitted' '$tmp/stdout'"
check "rerun: no new job in the queue, the script untouched" \
    "queue_empty && [ \$(stat -c %Y '$tmp/cache/jobs/submit.sbatch') = $before ]"

# ---- 3. scancel mid-task, then the next schedule resumes it ----
LAW=mmlu_professional_law
GLOBAL=(--limit 128) # two batches of 64: the kill lands while the second is computed
schedule "$A" "$LAW" --cluster here; rc=$?
J2=$(job_of)
check "law job submitted" "[ $rc -eq 0 ] && [ -n '$J2' ]"
samples() { find "$OUT" -name "*${LAW}*.jsonl" -print -quit 2>/dev/null; }
nlines() { local f; f=$(samples); [ -n "$f" ] && wc -l < "$f" || echo 0; }
some_batches() { [ "$(nlines)" -ge 64 ]; }
wait_for 300 some_batches
check "the law job wrote some batches while running" "some_batches && ! queue_empty"
scancel "$J2"
wait_for 120 queue_empty
kept=$(nlines)
check "scancel stopped it short of the end ($kept of 128 docs kept)" "[ $kept -ge 64 ] && [ $kept -lt 128 ]"
check "killed worker: no aggregate row for the law job" \
    "! grep -q ',$LAW,' '$OUT/aggregate.csv'"
schedule "$A" "$LAW" --cluster here; rc=$?
J3=$(job_of)
check "the next schedule submits exactly the unfinished job" \
    "[ $rc -eq 0 ] && grep -q '^jobs: 1 ' '$tmp/stdout' && [ -n '$J3' ] && [ '$J3' != '$J2' ]"
wait_for 600 queue_empty
err3=$LOGS/mill-eval-$J3-0.err
check "the resubmitted job resumed the $kept docs on disk and computed only the rest" \
    "grep -q '128 docs ($((128 - kept)) computed, $kept resumed, 0 failed)' '$err3'" ||
    tail -n 5 "$err3"
check "after the resume every doc is on disk once, in order" "\"$PY\" - \"\$(samples)\" <<'PY'
import json, sys
ids = [json.loads(l)['doc_id'] for l in open(sys.argv[1])]
assert ids == list(range(128)), (len(ids), ids[:5])
PY"
check "its row is in aggregate.csv" "grep -q ',$LAW,' '$OUT/aggregate.csv'"
schedule "$A" "$LAW" --cluster here
check "and a further schedule submits nothing" "grep -q 'All requested jobs already complete.' '$tmp/stdout'"

finish
