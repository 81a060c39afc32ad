#!/usr/bin/env bash
# test_sweep.sh: a quantisation sweep end to end against a fake Hugging Face Hub on 127.0.0.1
# (tests/reference/fake_hub.py): `llama[path=org/tiny-GGUF,quant=F16;Q8_0;Q4_0]` is three jobs,
# one per GGUF file of the repo (tools/gen_llama writes the same random weights as F16, Q8_0 and
# Q4_0), named org/tiny-GGUF:<quant>; then `mill report`'s sweep section: each file's size, score,
# and for the log-likelihood task the agreement of its predicted choices with the F16 file's and
# the mean KL divergence of the per-choice distributions, recomputed in Python from the JSONL;
# the page in headless Chromium (skipped without one unless MILL_REQUIRE_BROWSER=1). Also: an
# empty tag is a usage error, and a spec without ';' keeps its plain model name.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export MILL_NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
MMLU=$SRC/tests/data/mmlu/cais_mmlu
PY=/usr/bin/python3
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"
ART="$BUILD/test-artifacts/report"; mkdir -p "$ART"

SHA=0123456789abcdef0123456789abcdef01234567
R="$tmp/root"
mkdir -p "$R/models/org/tiny-GGUF/$SHA" "$R/datasets/cais/mmlu/$SHA"
echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.gguf"]}' > "$R/models/org/tiny-GGUF/hub.json"
for t in f16 q8_0 q4_0; do
    T=$(echo $t | tr a-z A-Z)
    "$BUILD/bin/gen_llama" --vocab tiny --type $t --seed 9 \
        --out "$R/models/org/tiny-GGUF/$SHA/tiny-$T.gguf" >/dev/null 2>&1
done
echo '{"revisions": {"main": "'$SHA'"}}' > "$R/datasets/cais/mmlu/hub.json"
cp -r "$MMLU/anatomy" "$MMLU/astronomy" "$R/datasets/cais/mmlu/$SHA/"
: > "$tmp/port"
fake_hub "$R" || { finish; exit 1; }
export HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf"
export MILL_CACHE_DIR="$tmp/cache"
unset MILL_LOCAL_DATASETS HF_HUB_OFFLINE HF_TOKEN MILL_OUTPUT_DIR
OUT="$tmp/out"

SPEC="llama[path=org/tiny-GGUF,quant=F16;Q8_0;Q4_0,threads=1]"
"$MILL" --output_dir "$OUT" --limit 6 eval "$SPEC" mmlu_anatomy,mmlu_astronomy --n_shot 0 >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "the sweep runs" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
"$PY" - "$OUT" >"$tmp/jobs.out" 2>&1 <<'PY'
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "aggregate.csv"))))
models = sorted({r["model"] for r in rows})
assert models == ["org/tiny-GGUF:F16", "org/tiny-GGUF:Q4_0", "org/tiny-GGUF:Q8_0"], models
for m in models:
    q = m.split(":")[1]
    for t in ("mmlu_anatomy", "mmlu_astronomy"):
        p = json.load(open(os.path.join(out, "outputs", m.replace("/", "__"), f"{t}_0shot.json")))
        assert p["model"] == m and p["model_file"].endswith(f"tiny-{q}.gguf"), p
print("ok")
PY
check "one job per file, named org/tiny-GGUF:<quant>, each on its own GGUF" \
    "grep -qx ok '$tmp/jobs.out' || { cat '$tmp/jobs.out'; false; }"
# schedule: a sweep is one job per task (its worker's eval runs every file), done when every
# file's job is; here all three ran at --limit 6, so none is left; a fourth task is pending.
"$MILL" --output_dir "$OUT" --limit 6 schedule "$SPEC" mmlu_anatomy,mmlu_astronomy --n_shots 0 \
    --dry_run >"$tmp/sched.out" 2>&1; rc=$?
check "schedule of the finished sweep: no job" \
    "[ $rc -eq 0 ] && ! grep -q mmlu_ '$tmp/sched.out' || { cat '$tmp/sched.out'; false; }"
cp "$OUT/outputs/org__tiny-GGUF:Q8_0/mmlu_astronomy_0shot.json" "$tmp/prov.json"
"$PY" -c 'import json,sys; p=json.load(open(sys.argv[1])); p["finished"]=False; json.dump(p,open(sys.argv[1],"w"))' \
    "$OUT/outputs/org__tiny-GGUF:Q8_0/mmlu_astronomy_0shot.json"
"$MILL" --output_dir "$OUT" --limit 6 schedule "$SPEC" mmlu_anatomy,mmlu_astronomy --n_shots 0 \
    --dry_run >"$tmp/sched.out" 2>&1; rc=$?
check "... one file's job of a task undone: that task's sweep job, the other done" \
    "[ $rc -eq 0 ] && [ \$(grep -c ' mmlu_astronomy ' '$tmp/sched.out') -eq 1 ] && \
     ! grep -q mmlu_anatomy '$tmp/sched.out' || { cat '$tmp/sched.out'; false; }"
cp "$tmp/prov.json" "$OUT/outputs/org__tiny-GGUF:Q8_0/mmlu_astronomy_0shot.json"
# A sweep's file and a one-tag spec of the same text are two models.
"$MILL" --output_dir "$tmp/both" --limit 2 eval "$SPEC,llama[path=org/tiny-GGUF,quant=Q8_0,threads=1]" \
    mmlu_anatomy --n_shot 0 >/dev/null 2>"$tmp/both.err"; rc=$?
check "a sweep and the same text with one tag: both run, neither 'given twice'" \
    "[ $rc -eq 0 ] && grep -q '^org/tiny-GGUF,mmlu,mmlu_anatomy,' '$tmp/both/aggregate.csv' && \
     [ \$(grep -c ',mmlu_anatomy,' '$tmp/both/aggregate.csv') -eq 4 ] && \
     ! grep -q 'given twice' '$tmp/both.err' || { tail -3 '$tmp/both.err'; false; }"
# A sweep and a plain spec of the same repo are different jobs (the plain one is pending).
"$MILL" --output_dir "$OUT" --limit 6 schedule "$SPEC,llama[path=org/tiny-GGUF,threads=1]" \
    mmlu_anatomy --n_shots 0 --dry_run >"$tmp/sched.out" 2>&1; rc=$?
check "schedule of a finished sweep and the plain spec of its repo: the plain one's job" \
    "[ $rc -eq 0 ] && [ \$(grep -c ' mmlu_anatomy ' '$tmp/sched.out') -eq 1 ] && \
     grep -q 'llama.path=org/tiny-GGUF,threads=1. ' '$tmp/sched.out' || { cat '$tmp/sched.out'; false; }"

PAGE="$tmp/sweep.html"
"$MILL" --output_dir "$OUT" report --out "$PAGE" >/dev/null 2>"$tmp/report.err"
check "mill report writes the page" "[ \$? -eq 0 ] && [ -s '$PAGE' ]"
cp "$PAGE" "$ART/sweep.html"
"$PY" - "$PAGE" "$OUT" "$R/models/org/tiny-GGUF/$SHA" "$tmp/expect.json" >"$tmp/sweep.out" \
    2>&1 <<'PY'
import csv, json, math, os, re, sys
page, out, repo, expect = sys.argv[1:]
D = json.loads(re.search(r'id="mill-data">(.*?)</script>', open(page).read(), re.S).group(1))
rows = D["sweep"]["rows"]
agg = {(r["model"], r["task"]): float(r["performance"])
       for r in csv.DictReader(open(os.path.join(out, "aggregate.csv")))}
def answers(model, task):
    base = os.path.join(out, "outputs", model.replace("/", "__"), f"{task}_0shot.jsonl")
    return {d["doc_id"]: [x[0] for x in d["responses"]] for d in map(json.loads, open(base))}
def lsm(x):
    m = max(x)
    s = m + math.log(sum(math.exp(v - m) for v in x))
    return [v - s for v in x]
assert len(rows) == 6, len(rows)
for r in rows:
    q = r["quant"]
    assert r["ref"] == "org/tiny-GGUF:F16" and r["base"] == "org/tiny-GGUF", r
    assert r["bytes"] == os.path.getsize(os.path.join(repo, f"tiny-{q}.gguf")), r
    assert r["score"] == agg[(r["model"], r["task"])] and r["top"], r
    a, ref = answers(r["model"], r["task"]), answers(r["ref"], r["task"])
    agree = kl = 0.0
    for doc in ref:
        p, qq = lsm(ref[doc]), lsm(a[doc])
        agree += max(range(len(p)), key=lambda i: (p[i], -i)) == \
            max(range(len(qq)), key=lambda i: (qq[i], -i))
        kl += sum(math.exp(pi) * (pi - qi) for pi, qi in zip(p, qq))
    n = len(ref)
    assert r["n"] == n == 6, r
    assert abs(r["agree"] - agree / n) < 1e-12, (r, agree / n)
    assert abs(r["kl"] - kl / n) <= 1e-9 * max(1e-12, kl / n) + 1e-15, (r, kl / n)
    if q == "F16":
        assert r["agree"] == 1 and abs(r["kl"]) < 1e-15, r
anatomy = [r for r in rows if r["task"] == "mmlu_anatomy"]
print("sizes " + " ".join(f"{r['quant']}={r['bytes']}" for r in anatomy))
print("kl " + " ".join(f"{r['quant']}={r['kl']:.3g}" for r in anatomy))
n = len(D["q"]["d"])
json.dump({"charts": 2 + 0 + 1, "rects": 6, "rules": 6, "symbols": 6, "load_ms": 30000,
           "step_ms": 3000, "doc51": None, "filters": {"all": n}}, open(expect, "w"))
print("ok")
PY
cat "$tmp/sweep.out"
check "the sweep rows: reference F16, file sizes, scores, agreement and KL equal Python's" \
    "tail -1 '$tmp/sweep.out' | grep -qx ok"
node "$SRC/tests/reference/report_browser.cjs" "$PAGE" "$ART/sweep.png" "$tmp/expect.json" \
    >"$tmp/browser.out" 2>&1; brc=$?
cat "$tmp/browser.out"
if [ $brc -eq 77 ] && [ "${MILL_REQUIRE_BROWSER:-0}" != 1 ]; then
    echo "skip - chromium could not start"
else
    pass=$((pass + $(grep -c '^ok - ' "$tmp/browser.out")))
    fail=$((fail + $(grep -c '^FAIL - ' "$tmp/browser.out")))
    [ $brc -eq 0 ] || grep -q '^FAIL' "$tmp/browser.out" || bad "browser checks (exit $brc)"
fi

expect_exit "an empty tag in quant= is a usage error" 2 "empty tag in quant=" \
    --output_dir "$OUT" eval "llama[path=org/tiny-GGUF,quant=F16;;Q8_0]" mmlu_anatomy
"$MILL" --output_dir "$tmp/one" --limit 2 eval "llama[path=org/tiny-GGUF,quant=Q8_0,threads=1]" \
    mmlu_anatomy --n_shot 0 >/dev/null 2>&1
check "quant= with one tag is no sweep: the model keeps its plain name" \
    "grep -q '^org/tiny-GGUF,' '$tmp/one/aggregate.csv'"
# Served-model names with a colon that is no quantisation tag (Ollama's llama3.1:8b) are no sweep.
for size in 8b 70b; do
    mkdir -p "$tmp/ol/llama3.1:$size"
    ln -s "$R/models/org/tiny-GGUF/$SHA/tiny-F16.gguf" "$tmp/ol/llama3.1:$size/m.gguf"
    "$MILL" --output_dir "$tmp/olout" --limit 2 eval "llama[path=$tmp/ol/llama3.1:$size,threads=1]" \
        mmlu_anatomy --n_shot 0 >/dev/null 2>&1
done
"$MILL" --output_dir "$tmp/olout" report --out "$tmp/ol.html" >/dev/null 2>&1
"$PY" - "$tmp/ol.html" >"$tmp/ol.out" 2>&1 <<'PY'
import json, re, sys
D = json.loads(re.search(r'id="mill-data">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1))
assert D["sweep"] is None, D["sweep"]
print("ok")
PY
check "names like llama3.1:8b and llama3.1:70b are no quantisation sweep" \
    "grep -c ':70b,' '$tmp/olout/aggregate.csv' >/dev/null && grep -qx ok '$tmp/ol.out' || { cat '$tmp/ol.out'; false; }"
finish || exit 1
# Chromium could not start (its reason is printed above): the browser half did not run.
[ $brc -eq 77 ] && [ "${MILL_REQUIRE_BROWSER:-0}" != 1 ] && exit 77
exit 0
