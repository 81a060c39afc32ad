#!/usr/bin/env bash
# test_http_backends.sh: the HTTP backends (src/backend/openai.c, vllm.c, http.c) against real
# peers on 127.0.0.1 only.
# - openai against llama.cpp's own llama-server (pinned build, 4 slots, an API key) serving a
#   generated chatml model: a generative plugin task (toy_qa, through the `litellm` alias with a
#   pass-through field too) and mmlu_pro end to end, greedy outputs byte for byte the llama
#   backend's with the chat template; the key from the environment, in no output; the provenance
#   names the server's model and version; a log-prob task is refused with Mill's message; images
#   (cifar10_mcq, WebP in the shards) reach a generated VLM behind llama-server (--mmproj) as PNG
#   data URLs and its answers equal the llama backend's.
# - vllm against tests/reference/fake_vllm.py, which speaks vLLM's completion schema with its
#   numbers from tools/llama_score on a generated qwen2-vocabulary model and checks every
#   request's exact JSON: mmlu subjects equal the llama backend's per-sample log-probs to 1e-5
#   (is_greedy and predictions identical), also from vLLM's prompt_logprobs form and without
#   usage; then the server misbehaves on command (500, 429 with Retry-After, a reset mid-body, a
#   stall past the timeout, malformed JSON, a slow trickle): every sample is answered exactly
#   once, with the same numbers, retries counted in the provenance, a 429's retry no sooner
#   than its Retry-After; a persistent failure is the sample's recorded error and a rerun asks
#   for exactly those; a context longer than the server's limit is a per-sample error, and
#   left-truncation when max_context_length says so; kill -9 mid-run and a rerun ask only for
#   what is missing; SIGINT keeps what was answered; a 403 mid-run stops the run with what was
#   answered written, insufficient_quota stops it at once, an unreadable Retry-After backs off;
#   a password in base_url and a key in a misspelled spec are masked everywhere.
# - the probe: a refused connection, a wrong URL, a 401 and an HTML page are one error naming
#   the URL, exit 1, before any sample (each run bounded by `timeout`).
# Every wait is on an event (wait_for), never a clock. Needs llama-server from the pinned build:
# fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"

for x in "$BUILD/bin/llama_score" "$BUILD/bin/gen_llama" "$BUILD/plugins/toy.so" \
         "$PREFIX/bin/llama-server" "$SRC/tests/data/mmlu/cais_mmlu"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done

mkdir -p "$tmp/plug" "$tmp/mirror/TIGER-Lab_MMLU-Pro/data"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"
cp -r "$SRC/tests/plugins/toy_data" "$tmp/plug/"
ln -s "$SRC/tests/data/mmlu/cais_mmlu" "$tmp/mirror/cais_mmlu"
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_mmlu_pro.cjs" \
    "$tmp/mirror/TIGER-Lab_MMLU-Pro/data/test-00000-of-00001.parquet" ||
    { echo "FAIL - cannot write the MMLU-Pro fixture"; exit 1; }
export MILL_LOCAL_DATASETS="$tmp/mirror"
unset OPENAI_API_KEY OPENAI_BASE_URL VLLM_API_KEY

"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/tiny.gguf" --chat_template chatml --seed 7 \
    >/dev/null 2>&1 || { echo "FAIL - gen_llama (tiny)"; exit 1; }
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$tmp/qwen2.gguf" \
    --n_layer 2 --seed 11 >/dev/null 2>&1 || { echo "FAIL - gen_llama (qwen2)"; exit 1; }

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_ok() { # URL: answers 200
    "$PY" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
except Exception:
    sys.exit(1)' "$1"
}
post() { # URL JSON
    "$PY" -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1], sys.argv[2].encode(), {"Content-Type": "application/json"})
urllib.request.urlopen(r, timeout=10).read()' "$1" "$2"
}
# bounded SECONDS MILL_ARGS...: mill under a bound, so a hang fails the test rather than stalls it
bounded() { local s=$1; shift; timeout -k 5 "$s" "$MILL" "$@"; }

# start_server LOG ARGS...: llama-server on a free port (tried three times); sets SERVER_PORT
start_server() {
    local log=$1 port pid
    shift
    SERVER_PORT=
    for _ in 1 2 3; do
        port=$(free_port)
        "$PREFIX/bin/llama-server" "$@" --host 127.0.0.1 --port "$port" -fa off --no-webui \
            >"$log" 2>&1 &
        pid=$!
        pids+=("$pid")
        if wait_for --pid "$pid" 120 listening "$pid" "$port" &&
           wait_for --pid "$pid" 120 http_ok "http://127.0.0.1:$port/health"; then
            SERVER_PORT=$port
            return 0
        fi
        kill -9 "$pid" 2>/dev/null
    done
    echo "FAIL - llama-server did not start: $(tail -3 "$log")"
    exit 1
}

# ---- llama-server and openai ----------------------------------------------------------------
KEY=sk-test-3f9c2a71e5
start_server "$tmp/llama-server.log" -m "$tmp/tiny.gguf" -np 4 -c 8192 -t 2 --api-key "$KEY"
LS_PORT=$SERVER_PORT
LS=http://127.0.0.1:$LS_PORT/v1

OPENAI_API_KEY=$KEY bounded 600 --output_dir "$tmp/oa" eval \
    "litellm[model=tiny,base_url=$LS,concurrency=4,seed=1234]" toy_qa --task_paths "$tmp/plug" \
    >"$tmp/oa.out" 2>"$tmp/oa.err"
check "openai (alias litellm) on toy_qa through llama-server exits 0" \
    "[ $? -eq 0 ] || { tail -3 '$tmp/oa.err'; false; }"
OPENAI_API_KEY=$KEY bounded 600 --output_dir "$tmp/oa" --limit 2 eval \
    "openai[model=tiny,base_url=$LS/,concurrency=4]" mmlu_pro >>"$tmp/oa.out" 2>>"$tmp/oa.err"
check "openai on mmlu_pro --limit 2 through llama-server exits 0" \
    "[ $? -eq 0 ] || { tail -3 '$tmp/oa.err'; false; }"
"$MILL" --output_dir "$tmp/ol" eval "llama[path=$tmp/tiny.gguf,use_chat_template=true,flash_attn=off]" \
    toy_qa --task_paths "$tmp/plug" >/dev/null 2>"$tmp/ol.err" &&
"$MILL" --output_dir "$tmp/ol" --limit 2 eval \
    "llama[path=$tmp/tiny.gguf,use_chat_template=true,flash_attn=off]" mmlu_pro >/dev/null 2>>"$tmp/ol.err"
check "the llama backend on the same model exits 0" "[ $? -eq 0 ] || { tail -3 '$tmp/ol.err'; false; }"
# same_text A B TASK: the same generations, doc by doc. llama-server holds back a last incomplete
# UTF-8 sequence of a generation cut by its budget, which the llama backend writes as U+FFFD:
# that tail is the one difference allowed.
same_text() {
    "$PY" - "$@" <<'PY'
import glob, json, sys
def load(d):
    p = glob.glob("%s/outputs/*/%s.jsonl" % (d, sys.argv[3]))
    assert len(p) == 1, p
    return sorted((json.loads(l) for l in open(p[0], encoding="utf-8")), key=lambda r: r["doc_id"])
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b) > 0 and [r["doc_id"] for r in a] == [r["doc_id"] for r in b]
for x, y in zip(a, b):
    assert "error" not in x and "error" not in y, (x.get("error"), y.get("error"))
    p, q = x["prediction"], y["prediction"]
    assert p == q or p.rstrip("\ufffd") == q.rstrip("\ufffd"), (x["doc_id"], p[-20:], q[-20:])
print("ok: %d generations equal" % len(a))
PY
}
for t in toy_qa_2shot mmlu_pro_0shot; do
    same_text "$tmp/oa" "$tmp/ol" "$t" >"$tmp/same.out" 2>&1
    check "$t: openai's greedy outputs (4 slots) == the llama backend's ($(tail -1 "$tmp/same.out"))" \
        "grep -q '^ok' '$tmp/same.out'"
done
check "the API key is in no output and not in stderr" \
    "! grep -rq '$KEY' '$tmp/oa' '$tmp/oa.err' '$tmp/oa.out'"
"$PY" - "$tmp/oa/outputs/tiny/toy_qa_2shot.json" >"$tmp/prov.out" 2>&1 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["backend"] == "openai" and p["model"] == "tiny", p
assert p["server_model"].endswith("tiny.gguf") and p["server_version"] == "llama.cpp", p
assert p["http_requests"] == 5 and p["http_failed"] == 0 and p["concurrency"] == 4, p
assert p["finished"] and p["n"] == 5 and p["n_failed"] == 0, p
print("ok")
PY
check "provenance: the server's model and version, 5 requests, none failed" \
    "grep -qx ok '$tmp/prov.out' || { cat '$tmp/prov.out'; false; }"

# images: a generated VLM behind llama-server (--mmproj, 2 slots); cifar10_mcq's WebP images go
# as PNG data URLs (decoded and re-encoded losslessly), PNG as it is
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$tmp/vlm.gguf" \
    --n_embd 64 --type f16 --chat_template chatml --mmproj "$tmp/mmproj-vlm.gguf" \
    --patch_size 14 --image_size 56 >/dev/null 2>&1 || { echo "FAIL - gen_llama (VLM)"; exit 1; }
mkdir -p "$tmp/mirror/haideraltahan_wds_cifar10/test"
"$BUILD/bin/gen_wds" --out "$tmp/mirror/haideraltahan_wds_cifar10/test/000000.tar" --n 4 --seed 1 \
    >/dev/null 2>&1 || { echo "FAIL - gen_wds"; exit 1; }
start_server "$tmp/llama-server-vlm.log" -m "$tmp/vlm.gguf" --mmproj "$tmp/mmproj-vlm.gguf" -np 2 \
    -c 4096 -t 2
bounded 600 --output_dir "$tmp/ia" --limit 2 eval \
    "openai[model=vlm,base_url=http://127.0.0.1:$SERVER_PORT/v1,modalities=text;image]" \
    cifar10_mcq >/dev/null 2>"$tmp/ia.err"
check "openai with images (modalities=text;image) on cifar10_mcq exits 0" \
    "[ $? -eq 0 ] || { tail -3 '$tmp/ia.err'; false; }"
"$MILL" --output_dir "$tmp/il" --limit 2 eval "llama[path=$tmp/vlm.gguf,flash_attn=off]" \
    cifar10_mcq >/dev/null 2>"$tmp/il.err"
same_text "$tmp/ia" "$tmp/il" cifar10_mcq_0shot >"$tmp/same.out" 2>&1
check "images: openai's generations == the llama backend's ($(tail -1 "$tmp/same.out"))" \
    "grep -q '^ok' '$tmp/same.out'"
expect_exit "openai without image modality refuses an image task with Mill's message" 1 \
    "cannot ingest input modalities \['image'\] required by this task \(it supports \['text'\]\)" \
    --output_dir "$tmp/rej" eval "openai[model=tiny,base_url=$LS]" cifar10_mcq

expect_exit "openai refuses a log-prob task with Mill's message" 1 \
    "task mmlu_anatomy: LiteLLMModel \('tiny'\) cannot do log-probability scoring \('loglikelihood'\) required by this task\." \
    --output_dir "$tmp/rej" eval "openai[model=tiny,base_url=$LS]" mmlu_anatomy
expect_exit "openai: unknown modality refused at the spec" 2 "unknown modality 'smell'" \
    --output_dir "$tmp/rej" eval "openai[model=tiny,base_url=$LS,modalities=smell]" toy_qa \
    --task_paths "$tmp/plug"

# ---- the fake vLLM server -------------------------------------------------------------------
LOG=$tmp/fake.log
"$PY" "$SRC/tests/reference/fake_vllm.py" --scorer "$BUILD/bin/llama_score" --model "$tmp/qwen2.gguf" \
    --name fake/qwen2 --port-file "$tmp/fake.port" --log "$LOG" >"$tmp/fake.err" 2>&1 &
fpid=$!
pids+=("$fpid")
wait_for --pid "$fpid" 60 test -s "$tmp/fake.port" ||
    { echo "FAIL - fake_vllm did not start: $(tail -3 "$tmp/fake.err")"; exit 1; }
FP=$(cat "$tmp/fake.port")
FV=http://127.0.0.1:$FP/v1
control() { post "http://127.0.0.1:$FP/control" "$1"; }
log_mark() { wc -l <"$LOG"; }
TASKS=mmlu_abstract_algebra,mmlu_anatomy
VSPEC="vllm[model=fake/qwen2,base_url=$FV,concurrency=4"

"$MILL" --output_dir "$tmp/vl" --limit 2 eval "llama[path=$tmp/qwen2.gguf,flash_attn=off]" "$TASKS" \
    >/dev/null 2>"$tmp/vl.err"
check "llama on two mmlu subjects exits 0" "[ $? -eq 0 ] || { tail -3 '$tmp/vl.err'; false; }"
# same_as_llama DIR: DIR's mmlu samples equal the llama backend's to 1e-5
same_as_llama() {
    local t r out=
    for t in mmlu_abstract_algebra_5shot mmlu_anatomy_5shot; do
        r=$(compare "$1" "$tmp/vl" "$t" 1e-5 2>&1) || { echo "$t: $r" | tail -2; return 1; }
        out="$out $t: $r;"
    done
    echo "$out"
}

control '{"delay": 0.2}'
m0=$(log_mark)
bounded 600 --output_dir "$tmp/v0" --limit 2 eval "$VSPEC]" "$TASKS" >/dev/null 2>"$tmp/v0.err"
check "vllm on two mmlu subjects through the fake server exits 0" \
    "[ $? -eq 0 ] || { tail -3 '$tmp/v0.err'; false; }"
r=$(same_as_llama "$tmp/v0")
check "vllm == llama per sample (log-probs to 1e-5, is_greedy, predictions):$r" "[ \$? -eq 0 ] && [ -n '$r' ]"
control '{"delay": 0}'
"$MILL" prompts "$TASKS" --limit 2 >"$tmp/prompts.jsonl" 2>/dev/null
"$PY" - "$LOG" "$m0" "$tmp/prompts.jsonl" "http://127.0.0.1:$FP/stats" >"$tmp/req.out" 2>&1 <<'PY'
import json, sys, urllib.request
log, m0, prompts, stats = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
recs = [json.loads(l) for l in open(log, encoding="utf-8")][m0:]
comp = [r for r in recs if r["path"] == "/v1/completions"]
assert not [r for r in recs if r.get("bad")], [r for r in recs if r.get("bad")][:1]
want = set()
for l in open(prompts, encoding="utf-8"):
    p = json.loads(l)
    want |= {p["context"] + c for c in p["choices"]}
got = [r["prompt"] for r in comp if r["prompt"] != "Hi"]  # "Hi": the probe's one-token request
assert sorted(got) == sorted(want), (len(got), len(want))
assert all(r["status"] == 200 for r in comp)
assert [r["prompt"] for r in comp].count("Hi") == 1, "one probe"

assert json.load(urllib.request.urlopen(stats))["max_in_flight"] >= 2
print("ok: %d requests, each context + choice once, the exact JSON" % len(got))
PY
check "requests: exactly context + choice, once each, the exact JSON, several in flight" \
    "grep -q '^ok' '$tmp/req.out' || { tail -3 '$tmp/req.out'; false; }"

control '{"extra": {"seed": 7, "top_k": 1}}'
bounded 300 --output_dir "$tmp/vx" --limit 2 eval "$VSPEC,seed=7,top_k=1]" "$TASKS" \
    >/dev/null 2>"$tmp/vx.err"
check "spec arguments the table does not name are sent as request fields (seed, top_k)" \
    "[ $? -eq 0 ] && ! grep -q '\"bad\"' '$LOG' || { tail -3 '$tmp/vx.err'; false; }"
# generation fields passed through the spec stay out of scoring requests, which set
# max_tokens, logprobs and echo themselves (no 512 tokens generated per choice, no key twice)
control '{"extra": {"seed": 7, "max_tokens": 512, "logprobs": 5, "echo": false}}'
m=$(log_mark)
bounded 300 --output_dir "$tmp/vs" --limit 2 eval "$VSPEC,seed=7,max_tokens=512,logprobs=5,echo=false]" \
    mmlu_anatomy >/dev/null 2>"$tmp/vs.err"
check "max_tokens, logprobs and echo from the spec do not reach a scoring request" \
    "[ $? -eq 0 ] && ! tail -n +$((m + 1)) '$LOG' | grep -q '\"bad\"' || { tail -3 '$tmp/vs.err'; false; }"
control '{"extra": {}}'

m=$(log_mark)
bounded 120 --output_dir "$tmp/rpm" --limit 2 eval "$VSPEC,requests_per_minute=300]" mmlu_anatomy \
    >/dev/null 2>"$tmp/rpm.err"
rc=$?
"$PY" - "$LOG" "$m" >"$tmp/rpm.out" 2>&1 <<'PY'
import json, sys
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1], encoding="utf-8"))[int(sys.argv[2]):]
gaps = [b - a for a, b in zip(t, t[1:])]
assert len(t) >= 9 and min(gaps) >= 0.18, gaps  # 60/300 = 0.2 s between starts, less jitter
print("ok: %d requests, at least %.3f s apart" % (len(t), min(gaps)))
PY
check "requests_per_minute=300 spaces the requests 0.2 s apart ($(tail -1 "$tmp/rpm.out"))" \
    "[ $rc -eq 0 ] && grep -q '^ok' '$tmp/rpm.out'"

control '{"form": "prompt_logprobs"}'
bounded 300 --output_dir "$tmp/vp" --limit 2 eval "$VSPEC]" "$TASKS" >/dev/null 2>"$tmp/vp.err"
r=$(same_as_llama "$tmp/vp")
check "vLLM's prompt_logprobs form gives the same numbers:$r" "[ \$? -eq 0 ] && [ -n '$r' ]"
control '{"form": "openai", "usage": false}'
bounded 300 --output_dir "$tmp/vu" --limit 2 eval "$VSPEC]" "$TASKS" >/dev/null 2>"$tmp/vu.err"
r=$(same_as_llama "$tmp/vu")
check "an answer without usage gives the same numbers:$r" "[ \$? -eq 0 ] && [ -n '$r' ]"
control '{"usage": true}'

# every_once_check MARK: since MARK, every prompt got exactly one clean 200, and some misbehaved
every_once() {
    "$PY" - "$LOG" "$1" "$2" <<'PY'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][int(sys.argv[2]):]
fault = sys.argv[3]
comp = [r for r in recs if r["path"] == "/v1/completions"]
assert not [r for r in recs if r.get("bad")]
clean = collections.Counter(r["prompt"] for r in comp
                            if r["status"] == 200 and r["fault"] in (None, "trickle"))
prompts = {r["prompt"] for r in comp}
faulted = {r["prompt"] for r in comp if r["fault"]}
assert set(clean) == prompts and set(clean.values()) == {1}, clean.most_common(2)
assert faulted or fault == "trickle", "no misbehaviour happened"
if fault == "429":
    by = collections.defaultdict(list)
    for r in comp:
        by[r["prompt"]].append(r)
    for p in faulted:
        a = sorted(by[p], key=lambda r: r["attempt"])
        assert a[1]["t"] - a[0]["t"] >= 1.0, "retried %.3f s after a 429 with Retry-After: 1" % (
            a[1]["t"] - a[0]["t"])
print("ok: %d prompts answered once each, %d misbehaved first" % (len(prompts), len(faulted)))
PY
}
for f in 500 429 reset stall malformed trickle; do
    # only the stall needs a short timeout; the others' is long, so that no answer of a loaded
    # machine times out and is asked twice
    every=2 to=30
    [ "$f" = stall ] && every=4 to=6
    [ "$f" = trickle ] && to=600
    control "{\"fault\": \"$f\", \"every\": $every, \"times\": 1, \"stall\": 15, \"retry_after\": 1, \"reset_counts\": true}"
    m=$(log_mark)
    bounded 300 --output_dir "$tmp/f_$f" --limit 2 eval "$VSPEC,timeout=$to]" "$TASKS" \
        >/dev/null 2>"$tmp/f_$f.err"
    rc=$?
    r=$(same_as_llama "$tmp/f_$f"); same=$?
    check "fault $f: exits 0 and every sample equals llama's:$r" \
        "[ $rc -eq 0 ] && [ $same -eq 0 ] || { tail -2 '$tmp/f_$f.err'; false; }"
    every_once "$m" "$f" >"$tmp/once.out" 2>&1
    check "fault $f: $(tail -1 "$tmp/once.out")" "grep -q '^ok' '$tmp/once.out'"
    if [ "$f" != trickle ]; then
        check "fault $f: the provenance counts the retries" \
            "grep -hq '\"http_retries\":[1-9]' '$tmp/f_$f'/outputs/*/*.json"
    fi
done
control '{"fault": null, "reset_counts": true}'

# a persistent failure: recorded as the sample's error, counted, and asked again on rerun
# the smallest `every` that fails some samples and leaves others whole (the fake's own selection)
every=$("$PY" - "$tmp/prompts.jsonl" <<'PY'
import hashlib, json, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
hit = lambda p, e: hashlib.sha256(p.encode()).digest()[0] % e == 0
for e in range(2, 64):
    f = [any(hit(d["context"] + c, e) for c in d["choices"]) for d in docs]
    if any(f) and not all(f):
        print(e)
        break
PY
)
control "{\"fault\": \"500\", \"every\": ${every:-2}, \"times\": 1000, \"reset_counts\": true}"
bounded 300 --output_dir "$tmp/pf" --limit 2 eval "$VSPEC,max_retries=1]" "$TASKS" \
    >/dev/null 2>"$tmp/pf.err"
check "persistent 500s: the run exits 0" "[ $? -eq 0 ] || { tail -2 '$tmp/pf.err'; false; }"
"$PY" - "$tmp/pf" >"$tmp/pf.out" 2>&1 <<'PY'
import glob, json, sys
rows = [json.loads(l) for p in glob.glob(sys.argv[1] + "/outputs/*/*.jsonl") for l in open(p)]
bad = [r for r in rows if "error" in r]
assert bad and len(bad) < len(rows), (len(bad), len(rows))
for r in bad:
    assert r["prediction"] is None and "acc" not in r, r
    assert "HTTP 500: injected server error (2 attempts)" in r["error"], r["error"]
    assert "/v1/completions" in r["error"], r["error"]
prov = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/outputs/*/*.json")]
assert sum(p["n_failed"] for p in prov) == len(bad), prov
assert sum(p["http_failed"] for p in prov) >= len(bad), prov
print("ok: %d of %d samples failed with the reason" % (len(bad), len(rows)))
PY
check "persistent 500s: $(tail -1 "$tmp/pf.out")" "grep -q '^ok' '$tmp/pf.out'"
control '{"fault": null}'
m=$(log_mark)
bounded 300 --output_dir "$tmp/pf" --limit 2 eval "$VSPEC]" "$TASKS" >/dev/null 2>>"$tmp/pf.err"
check "the rerun exits 0" "[ $? -eq 0 ]"
"$PY" - "$tmp/pf" "$LOG" "$m" "$tmp/prompts.jsonl" >"$tmp/pf2.out" 2>&1 <<'PY'
import glob, json, sys
out, log, m, prompts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = {}
for l in open(prompts, encoding="utf-8"):
    p = json.loads(l)
    ctx[(p["task"], p["doc_id"])] = [p["context"] + c for c in p["choices"]]
first, done = set(), {}
for path in glob.glob(out + "/outputs/*/*.jsonl"):
    for l in open(path):
        r = json.loads(l)
        k = (r["task"], r["doc_id"])
        if "error" not in r:
            done[k] = done.get(k, 0) + 1
asked = [json.loads(l).get("prompt") for l in open(log, encoding="utf-8")][m:]
asked = [p for p in asked if p and p != "Hi"]
assert set(done) == set(ctx) and set(done.values()) == {1}, done
rows = [json.loads(l) for p in glob.glob(out + "/outputs/*/*.jsonl") for l in open(p)]
failed_before = {(r["task"], r["doc_id"]) for r in rows if "error" in r}
want = sorted(p for k in failed_before for p in ctx[k])
assert sorted(asked) == want, (len(asked), len(want))
print("ok: the rerun asked only the %d prompts of the %d failed samples" % (len(asked), len(failed_before)))
PY
check "rerun: $(tail -1 "$tmp/pf2.out")" "grep -q '^ok' '$tmp/pf2.out'"

control '{"fault": "nochoices", "every": 1, "times": 1000, "reset_counts": true}'
bounded 120 --output_dir "$tmp/nc" --limit 1 eval "$VSPEC]" mmlu_anatomy >/dev/null 2>"$tmp/nc.err"
check "an answer without choices: exit 0, the sample's error says so" \
    "[ $? -eq 0 ] && grep -q 'the answer has no choices' '$tmp/nc/outputs/fake__qwen2/mmlu_anatomy_5shot.jsonl'"
control '{"fault": null}'

# A 403 mid-run (one prompt refused) stops the run, but what was answered before it is written:
# the `every` whose first hit is after the first doc (requests go in doc order, one at a time).
every=$("$PY" - "$tmp/prompts.jsonl" <<'PY'
import hashlib, json, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
hit = lambda p, e: hashlib.sha256(p.encode()).digest()[0] % e == 0
for e in range(2, 64):
    f = [any(hit(d["context"] + c, e) for c in d["choices"]) for d in docs]
    if any(f) and not f[0]:
        print(e)
        break
PY
)
control "{\"fault\": \"403\", \"every\": ${every:-2}, \"times\": 1000, \"reset_counts\": true}"
bounded 300 --output_dir "$tmp/fx" --limit 2 eval "vllm[model=fake/qwen2,base_url=$FV,concurrency=1]" \
    "$TASKS" >/dev/null 2>"$tmp/fx.err"
rc=$?
check "a 403 mid-run: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'HTTP 403: injected refusal' '$tmp/fx.err'"
"$PY" - "$tmp/fx" "$tmp/vl" <<'PY' >"$tmp/fx.out" 2>&1
import glob, json, os, sys
rows = [json.loads(l) for p in glob.glob(sys.argv[1] + "/outputs/*/*.jsonl") for l in open(p)]
done = [r for r in rows if "error" not in r]
assert done, "nothing answered before the 403 was kept"
ref = {}
for p in glob.glob(sys.argv[2] + "/outputs/*/*.jsonl"):
    for l in open(p):
        r = json.loads(l)
        ref[(r["task"], r["doc_id"])] = r
for r in done:
    assert r["prediction"] == ref[(r["task"], r["doc_id"])]["prediction"], r
print("ok: %d answered samples kept, %d failed" % (len(done), len(rows) - len(done)))
PY
check "a 403 mid-run: $(tail -1 "$tmp/fx.out")" "grep -q '^ok' '$tmp/fx.out'"
control '{"fault": null}'
bounded 300 --output_dir "$tmp/fx" --limit 2 eval "$VSPEC]" "$TASKS" >/dev/null 2>>"$tmp/fx.err"
rc=$?
"$PY" - "$tmp/fx" "$tmp/vl" <<'PY' >"$tmp/fx2.out" 2>&1
import glob, json, sys
def done(d):
    out = {}
    for p in glob.glob(d + "/outputs/*/*.jsonl"):
        for l in open(p):
            r = json.loads(l)
            if "error" not in r:
                k = (r["task"], r["doc_id"])
                assert k not in out, "asked twice: %s" % (k,)
                out[k] = r
    return out
got, ref = done(sys.argv[1]), done(sys.argv[2])
assert set(got) == set(ref), (sorted(got), sorted(ref))
for k, r in got.items():
    assert r["prediction"] == ref[k]["prediction"], k
    assert all(abs(a[0] - b[0]) <= 1e-5 and a[1] == b[1]
               for a, b in zip(r["responses"], ref[k]["responses"])), k
print("ok: %d samples, each answered once, equal to llama's" % len(got))
PY
check "a 403 mid-run: the rerun exits 0, $(tail -1 "$tmp/fx2.out")" \
    "[ $rc -eq 0 ] && grep -q '^ok' '$tmp/fx2.out'"

# OpenAI's 429 insufficient_quota stops the run at once (waiting does not mend it); a 429 whose
# Retry-After cannot be read is retried after the backoff, not at once
control '{"fault": "quota", "every": 1, "times": 1000, "reset_counts": true}'
m=$(log_mark)
bounded 120 --output_dir "$tmp/fq" --limit 1 eval "$VSPEC]" mmlu_anatomy >/dev/null 2>"$tmp/fq.err"
rc=$?
n=$(tail -n +$((m + 1)) "$LOG" | grep -c '"fault": "quota"')
check "insufficient_quota: exit 1 naming it, no request retried ($n asked)" \
    "[ $rc -eq 1 ] && grep -q insufficient_quota '$tmp/fq.err' && [ $n -ge 1 ] && [ $n -le 4 ]"
control '{"fault": "429", "every": 1, "times": 1, "retry_after": "soon", "reset_counts": true}'
m=$(log_mark)
bounded 120 --output_dir "$tmp/fs" --limit 1 eval "$VSPEC]" mmlu_anatomy >/dev/null 2>"$tmp/fs.err"
rc=$?
"$PY" - "$LOG" "$m" <<'PY' >"$tmp/fs.out" 2>&1
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][int(sys.argv[2]):]
by = collections.defaultdict(list)
for r in recs:
    if r["path"] == "/v1/completions" and len(r.get("prompt") or "") >= 16:
        by[r["prompt"]].append(r["t"])
gaps = [b - a for t in by.values() for a, b in zip(sorted(t), sorted(t)[1:])]
assert gaps and min(gaps) >= 0.45, gaps
print("ok: %d retries, the soonest %.2f s after its 429" % (len(gaps), min(gaps)))
PY
check "Retry-After: soon: exit 0, $(tail -1 "$tmp/fs.out")" "[ $rc -eq 0 ] && grep -q '^ok' '$tmp/fs.out'"
control '{"fault": null, "retry_after": 1}'

# a context longer than the server's limit: a per-sample error, or left truncation when asked
control '{"max_model_len": 200}'
bounded 120 --output_dir "$tmp/cl" --limit 1 eval "$VSPEC]" mmlu_anatomy >/dev/null 2>"$tmp/cl.err"
check "a prompt over the server's limit: exit 0, the sample's error is the server's message" \
    "[ $? -eq 0 ] && grep -q 'HTTP 400: This model.s maximum context length is 200 tokens' '$tmp/cl/outputs/fake__qwen2/mmlu_anatomy_5shot.jsonl'"
m=$(log_mark)
bounded 120 --output_dir "$tmp/ct" --limit 1 eval "$VSPEC,max_context_length=150]" mmlu_anatomy \
    >/dev/null 2>"$tmp/ct.err"
check "max_context_length=150: sent as truncate_prompt_tokens, every sample answered" \
    "[ $? -eq 0 ] && ! grep -q '\"error\"' '$tmp/ct/outputs/fake__qwen2/mmlu_anatomy_5shot.jsonl' && tail -n +$((m + 1)) '$LOG' | grep -q '\"status\": 200' && ! grep -q '\"bad\"' '$LOG'"
control '{"max_model_len": 2048}'

# vllm generation: native stops, the exact request, the stop applied
bounded 120 --output_dir "$tmp/vg" eval "$VSPEC]" toy_qa --task_paths "$tmp/plug" \
    >/dev/null 2>"$tmp/vg.err"
check "vllm on a generative task: exit 0, the answer cut at the stop string, its NUL kept" \
    "[ $? -eq 0 ] && [ \$(grep -cF '\"prediction\":\" The answer\\u0000 is (B).\"' '$tmp/vg/outputs/fake__qwen2/toy_qa_2shot.jsonl') -eq 5 ] && ! grep -q '\"bad\"' '$LOG'"

# kill -9 mid-run, then the same command asks only for what is missing
KARGS=(--output_dir "$tmp/k9" --limit 8 eval "vllm[model=fake/qwen2,base_url=$FV,concurrency=2]"
       mmlu_abstract_algebra --n_shot 0 --batch_docs 1)
"$MILL" --limit 8 prompts mmlu_abstract_algebra --n_shot 0 >"$tmp/k9.prompts" 2>/dev/null
control '{"delay": 0.3}'
"$MILL" "${KARGS[@]}" >/dev/null 2>"$tmp/k9a.err" &
kpid=$!
pids+=("$kpid")
lines() { [ "$(cat "$tmp"/k9/outputs/*/*.jsonl 2>/dev/null | wc -l)" -ge 2 ]; }
wait_for --pid "$kpid" 120 lines
kill -9 "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null
control '{"delay": 0}'
idle() { # the killed run's requests still in the server are logged, so none is counted after
    "$PY" -c 'import json, sys, urllib.request
sys.exit(json.load(urllib.request.urlopen(sys.argv[1], timeout=5))["in_flight"] != 0)' \
        "http://127.0.0.1:$FP/stats"
}
wait_for 60 idle
cat "$tmp"/k9/outputs/*/*.jsonl >"$tmp/k9.before" 2>/dev/null
m=$(log_mark)
bounded 300 "${KARGS[@]}" >/dev/null 2>"$tmp/k9b.err"
check "kill -9 mid-run, then the same command exits 0" "[ $? -eq 0 ] || { tail -2 '$tmp/k9b.err'; false; }"
"$PY" - "$tmp/k9" "$LOG" "$m" "$tmp/k9.prompts" "$tmp/k9.before" >"$tmp/k9.out" 2>&1 <<'PY'
import glob, json, sys
out, log, m, prompts, before = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = {}
for l in open(prompts, encoding="utf-8"):
    p = json.loads(l)
    ctx[p["doc_id"]] = [p["context"] + c for c in p["choices"]]
def rows(path):
    out = []
    for l in open(path, encoding="utf-8").read().split("\n"):
        try:
            out.append(json.loads(l))
        except ValueError:
            pass  # a torn line of the killed run
    return out
kept = {r["doc_id"] for r in rows(before) if "error" not in r}
assert kept and len(kept) < 8, kept
done = [r["doc_id"] for r in rows(glob.glob(out + "/outputs/*/*.jsonl")[0]) if "error" not in r]
assert sorted(done) == list(range(8)), done
asked = [json.loads(l).get("prompt") for l in open(log, encoding="utf-8")][m:]
asked = sorted(p for p in asked if p and p != "Hi")
want = sorted(p for d in ctx if d not in kept for p in ctx[d])
assert asked == want, (len(asked), len(want))
prov = json.load(open(glob.glob(out + "/outputs/*/*.json")[0]))
assert prov["n_resumed"] == len(kept) and prov["n_computed"] == 8 - len(kept), prov
print("ok: %d docs kept from the killed run, only the other %d asked again, once each"
      % (len(kept), 8 - len(kept)))
PY
check "kill -9: $(tail -1 "$tmp/k9.out")" "grep -q '^ok' '$tmp/k9.out'"

# SIGINT mid-run: exit 130, answered samples kept, none scored from an empty answer; rerun completes
control '{"delay": 0.3}'
m=$(log_mark)
set -m
"$MILL" --output_dir "$tmp/si" --limit 8 eval "vllm[model=fake/qwen2,base_url=$FV,concurrency=2]" \
    mmlu_abstract_algebra --n_shot 0 --batch_docs 4 >/dev/null 2>"$tmp/si.err" &
spid=$!
set +m
pids+=("$spid")
asked_one() { tail -n +$((m + 1)) "$LOG" | grep -q '"prompt": "The following'; } # past the probe
wait_for --pid "$spid" 60 asked_one
kill -INT "$spid" 2>/dev/null
wait "$spid"
rc=$?
control '{"delay": 0}'
check "SIGINT during requests: exit 130" "[ $rc -eq 130 ] || { tail -2 '$tmp/si.err'; false; }"
check "SIGINT: no sample scored without an answer" \
    "! grep -h '\"prediction\":null' '$tmp'/si/outputs/*/*.jsonl | grep -vq '\"error\"'"
check "SIGINT: a doc left unanswered is no failed sample (none written, none warned, none counted)" \
    "! grep -q 'stopped by signal' '$tmp'/si/outputs/*/*.jsonl && ! grep -q ' failed: ' '$tmp/si.err' &&
     grep -q '\"n_failed\":0,' '$tmp'/si/outputs/*/*.json"
bounded 300 --output_dir "$tmp/si" --limit 8 eval "vllm[model=fake/qwen2,base_url=$FV,concurrency=2]" \
    mmlu_abstract_algebra --n_shot 0 --batch_docs 4 >/dev/null 2>>"$tmp/si.err"
check "SIGINT: the rerun completes" \
    "[ $? -eq 0 ] && grep -q '\"finished\":true' '$tmp'/si/outputs/*/*.json"

# A password in base_url and a key in a misspelled spec reach no message, log or output.
control '{"fault": "500", "every": 1, "times": 1000, "reset_counts": true}'
bounded 120 --output_dir "$tmp/pw" --limit 1 --log_level DEBUG eval \
    "vllm[model=fake/qwen2,base_url=http://u:PW0rd42@127.0.0.1:$FP/v1,max_retries=0]" \
    mmlu_anatomy >/dev/null 2>"$tmp/pw.err"
rc=$?
control '{"fault": null}'
check "a password in base_url: exit 0, masked in the log, the samples' errors and the provenance" \
    "[ $rc -eq 0 ] && grep -q 'u:\*\*\*\*\*\*\*@' '$tmp/pw.err' && ! grep -rq PW0rd42 '$tmp/pw' '$tmp/pw.err' &&
     grep -q 'u:\*\*\*\*\*\*\*@' '$tmp'/pw/outputs/*/*.json && grep -q '\"error\"' '$tmp'/pw/outputs/*/*.jsonl"
bounded 60 --output_dir "$tmp/pw" eval "opnai[model=x,api_key=sk-Z3cret9]" mmlu_anatomy \
    >/dev/null 2>"$tmp/pw2.err"
check "a misspelled backend: exit 2, said so with the nearest name, the key masked in the message" \
    "[ $? -eq 2 ] && grep -q 'api_key=\*' '$tmp/pw2.err' && ! grep -q Z3cret9 '$tmp/pw2.err' &&
     grep -q \"did you mean 'openai'? 'opnai' is no backend of this build\" '$tmp/pw2.err'"

# ---- the probe ------------------------------------------------------------------------------
closed=$(free_port)
expect_probe() { # DESC PATTERN SPEC [TASK]
    local desc=$1 pat=$2 spec=$3 task=${4:-mmlu_anatomy} rc
    bounded 60 --output_dir "$tmp/probe" --limit 1 eval "$spec" "$task" --task_paths "$tmp/plug" \
        >/dev/null 2>"$tmp/probe.err"
    rc=$?
    if [ "$rc" -eq 1 ] && grep -Eq -- "$pat" "$tmp/probe.err" &&
       ! ls "$tmp"/probe/outputs/*/*.jsonl 2>/dev/null | xargs -r cat | grep -q .; then
        ok "$desc"
    else
        bad "$desc (exit $rc; stderr: $(tail -1 "$tmp/probe.err"))"
    fi
}
expect_probe "a refused connection: one error naming the URL, exit 1" \
    "cannot reach the server at http://127.0.0.1:$closed/v1: .*Could(n't| not) connect" \
    "vllm[model=x,base_url=http://127.0.0.1:$closed/v1]"
expect_probe "a wrong URL: one error naming the URL and the usual slip, exit 1" \
    "http://127.0.0.1:$FP/nope/completions answered HTTP 404.*(base_url usually ends in /v1)" \
    "vllm[model=x,base_url=http://127.0.0.1:$FP/nope]"
expect_probe "openai, a wrong URL (llama-server): one error naming the URL, exit 1" \
    "http://127.0.0.1:$LS_PORT/nope/chat/completions answered HTTP 404" \
    "openai[model=x,base_url=http://127.0.0.1:$LS_PORT/nope,api_key=$KEY]" toy_qa
expect_probe "openai, a key llama-server refuses: HTTP 401 naming the URL, exit 1" \
    "$LS/models answered HTTP 401" "openai[model=x,base_url=$LS,api_key=wrong-key]" toy_qa
check "the refused key is not echoed" "! grep -q wrong-key '$tmp/probe.err'"
control '{"api_key": "right-key"}'
VLLM_API_KEY=wrong-key expect_probe "vllm, a wrong key (VLLM_API_KEY): HTTP 401 naming the URL" \
    "$FV/models answered HTTP 401" "vllm[model=fake/qwen2,base_url=$FV]"
m=$(log_mark)
VLLM_API_KEY=right-key bounded 120 --output_dir "$tmp/key" --limit 1 eval "$VSPEC]" mmlu_anatomy \
    >/dev/null 2>"$tmp/key.err"
check "vllm with the right key from VLLM_API_KEY: exit 0, the key sent" \
    "[ $? -eq 0 ] && tail -n +$((m + 1)) '$LOG' | grep -q '\"auth\": true' && ! grep -rq right-key '$tmp/key' '$tmp/key.err'"
control '{"api_key": null, "html": true}'
expect_probe "an HTML page instead of JSON: one error naming the URL, exit 1" \
    "$FV/models answered an HTML page" "vllm[model=fake/qwen2,base_url=$FV]"
expect_probe "openai, an HTML page: one error naming the URL, exit 1" \
    "$FV/models answered an HTML page" "openai[model=fake/qwen2,base_url=$FV]" toy_qa
control '{"html": false}'

# The server dies mid-run (kill -9 once the first answers are written): the run stops at once
# with one error saying so, exit 1, what was answered kept (not every later request failed
# one by one after its retries).
control '{"delay": 0.3}'
"$MILL" --output_dir "$tmp/dead" --limit 8 eval "vllm[model=fake/qwen2,base_url=$FV,concurrency=2]" \
    mmlu_abstract_algebra --n_shot 0 --batch_docs 1 >/dev/null 2>"$tmp/dead.err" &
dpid=$!
pids+=("$dpid")
answered() { [ "$(cat "$tmp"/dead/outputs/*/*.jsonl 2>/dev/null | wc -l)" -ge 2 ]; }
wait_for --pid "$dpid" 120 answered
kill -9 "$fpid" 2>/dev/null
wait_for 120 eval "! kill -0 $dpid 2>/dev/null"
wait "$dpid"; rc=$?
n_ok=$("$PY" -c 'import glob, json, sys
print(sum("error" not in json.loads(l) for p in glob.glob(sys.argv[1] + "/outputs/*/*.jsonl") for l in open(p)))' "$tmp/dead")
check "the server killed mid-run: exit 1, 'the server stopped answering' naming it, $n_ok answers kept" \
    "[ $rc -eq 1 ] && grep -q 'http://127.0.0.1:$FP/v1/completions.*the server stopped answering' '$tmp/dead.err' && [ $n_ok -ge 2 ] || { tail -3 '$tmp/dead.err'; false; }"
finish
