#!/usr/bin/env bash
# test_vision_tasks.sh: the vision multiple-choice tasks (BEHAVIOUR.md §4.3-4.5) on fixtures in
# the Hub's layouts, built here: WebDataset shards as haideraltahan/wds_cifar10 and
# wds_imagenet1k (tools/gen_wds, plus a shard written by Python with odd keys and broken
# samples) and a Parquet file as MMMU/MMMU_Pro's `standard (10 options)` (DuckDB, image structs
# {bytes, path}, broken rows included).
#  - `mill prompts` of cifar10_mcq and imagenet_mcq (seeds 42 and 1234) and of the mmmu_pro
#    benchmark (mmmu_pro and mmmu_pro_clip) equal, byte for byte, what
#    tests/reference/vision_mcq_oracle.py builds from the same data with CPython's random, re
#    and ast; samples that cannot make a prompt are reported with their doc id and key / id.
#  - the same prompts when MMMU/MMMU_Pro comes from a (fake) Hub: the config name has spaces
#    and parentheses.
#  - `mill eval` with a tiny CLIP on the mmmu_pro benchmark picks mmmu_pro_clip and its scores
#    equal a PyTorch reference (tests/reference/mmmu_clip_ref.py), captions over the text
#    context included; on cifar10 it picks cifar10.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
ORACLE="$SRC/tests/reference/vision_mcq_oracle.py"
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache"

# same_prompts DESC WANT GOT STDERR: GOT (mill prompts) holds WANT's prompt lines byte for byte,
# in order, and STDERR a warning naming the doc id and the key / id of each of WANT's
# {"failed": doc_id, ...} lines (the sample that could not make a prompt).
same_prompts() {
    local r
    r=$("$PY" - "$2" "$3" "$4" <<'PY' 2>&1 | tail -1
import json, sys
want = open(sys.argv[1], encoding="utf-8").read().splitlines()
got = open(sys.argv[2], encoding="utf-8").read().splitlines()
err = open(sys.argv[3], encoding="utf-8").read()
good = [l for l in want if not l.startswith('{"failed"')]
failed = [json.loads(l) for l in want if l.startswith('{"failed"')]
assert len(got) == len(good), "%d prompts, the oracle has %d" % (len(got), len(good))
for g, w in zip(got, good):
    if g != w:
        g, w = json.loads(g), json.loads(w)
        bad = [k for k in w if g.get(k) != w[k]]
        raise AssertionError("doc %s differs in %s: mill %r, oracle %r" % (
            w["doc_id"], bad, g.get(bad[0]) if bad else g, w[bad[0]] if bad else w))
for f in failed:
    name = f.get("key", f.get("id"))
    hit = [l for l in err.splitlines() if " %s doc %d: " % (f["task"], f["failed"]) in l and name in l]
    assert hit, "no warning for doc %d (%s)" % (f["failed"], name)
print("same: %d prompts, %d failed samples reported" % (len(good), len(failed)))
PY
)
    check "$1 ($r)" '[[ $r == same:* ]]'
}

# ---- CIFAR-10 / ImageNet: WebDataset shards ---------------------------------------------------
C="$tmp/mirror/haideraltahan_wds_cifar10/test"; I="$tmp/mirror/haideraltahan_wds_imagenet1k/test"
mkdir -p "$C" "$I"
"$BUILD/bin/gen_wds" --out "$C/000000.tar" --n 40 --seed 1
"$BUILD/bin/gen_wds" --out "$C/000001.tar" --n 8 --seed 2 --layout clip_benchmark
"$BUILD/bin/gen_wds" --out "$I/000000.tar" --n 40 --classes 1000 --seed 3
# A third shard: odd keys (underscores, Unicode, a directory), an image-less sample, labels that
# are not a class; images borrowed from the first shard.
odd_shard() {
    "$PY" - "$C/000000.tar" "$1" "$2" <<'PY'
import io, sys, tarfile
src, out, n_classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tarfile.open(src) as t:
    webp = [t.extractfile(m).read() for m in t.getmembers() if m.name.endswith(".webp")]
samples = [("s_0000_a", "0.webp", b"3"), ("ünïcödé_42", "0.webp", b"1"),
           ("日本語/クラス_7", "0.png", b"%d" % (n_classes - 1)), ("no_image", None, b"2"),
           ("bad_label", "0.webp", b"x"), ("big_label", "0.webp", b"%d" % n_classes),
           ("neg_label", "jpg", b"-1"), ("__key__", "webp", b"0"), ("a_b_c_0009", "0.jpeg", b" 5\n"),
           ("./dot_slash_10", "0.webp", b"4")]  # HF keeps "./" in __key__, skips "__" members
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for i, (key, col, cls) in enumerate(samples):
        members = ([(col, webp[i])] if col else []) + [("cls", cls)]
        for c, data in members:
            m = tarfile.TarInfo("%s.%s" % (key, c))
            m.size = len(data)
            t.addfile(m, io.BytesIO(data))
PY
}
odd_shard "$C/000002.tar" 10
odd_shard "$I/000001.tar" 1000

for seed in 42 1234; do
    for task in cifar10_mcq imagenet_mcq; do
        D=$C; [ $task = imagenet_mcq ] && D=$I
        "$MILL" prompts $task --seed $seed >"$tmp/got.jsonl" 2>"$tmp/stderr"; rc=$?
        check "mill prompts $task --seed $seed exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
        "$PY" "$ORACLE" wds $task $seed "$D"/*.tar >"$tmp/want.jsonl"
        same_prompts "$task, seed $seed: prompts and gold letters equal the oracle's" \
            "$tmp/want.jsonl" "$tmp/got.jsonl" "$tmp/stderr"
    done
done
check "the seed changes the option order" \
    "[ \"\$('$MILL' prompts cifar10_mcq --seed 42 2>/dev/null | md5sum)\" != \"\$('$MILL' prompts cifar10_mcq --seed 1234 2>/dev/null | md5sum)\" ]"

# ---- MMMU-Pro: Parquet -------------------------------------------------------------------------
M="$tmp/mirror/MMMU_MMMU_Pro/standard (10 options)"; mkdir -p "$M"
"$PY" - "$C/000000.tar" "$tmp/rows.jsonl" <<'PY'
import base64, json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    webp = [t.extractfile(m).read() for m in t.getmembers() if m.name.endswith(".webp")]
def img(i):
    return {"bytes": base64.b64encode(webp[i]).decode(), "path": "img_%d.webp" % i}
def row(id, question, options, answer, images, subject="Art"):
    r = {"id": id, "question": question, "options": options, "explanation": "", "img_type": "['Photographs']",
         "answer": answer, "topic_difficulty": "Medium", "subject": subject}
    for n in range(1, 8):
        r["image_%d" % n] = images.get(n)
    return r
long_q = "Consider the following long description of a painting, " * 12 + "<image 1>. Which?"
rows = [
    row("test_Art_1", "Compare <image 2> with <image 1>. Which medium was used?",
        "['Oil', 'Watercolor', \"Tom's ink\", 'Fresco']", "C", {1: img(0), 2: img(1)}),
    row("test_Math_2", "Which value is largest?", "[1, 2.5, '3', None, True]", "B",
        {1: img(2), 3: img(3)}, "Math"),
    row("test_Bio_3", "No image here. Which?", "['a', 'b']", "A", {}, "Biology"),
    row("test_Chem_4", "See <image 1> and <image 4>.", "['a', 'b']", "B", {1: img(4), 2: img(5)}),
    row("test_Phys_5", "Which? <image 1>", "A, B, C", "A", {1: img(6)}, "Physics"),
    row("test_Geo_6", "Maps <image\t1> and <image 1> again.", "['north', 'south']", "A",
        {1: {"bytes": base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPgarbage").decode(), "path": "x"}},
        "Geography"),
    row("test_Hist_7", "Dates:\n <image 3>  then <image  1>\u3000— which?  ",
        str(["1066", "1215", "1492", "1588", "1688", "1776", "1789", "1815", "1848", "1914"]), " J ",
        {n: img(7 + n) for n in range(1, 8)}, "History"),
    row("test_Lit_8", long_q, "['a tragedy', 'a comedy', 'an epic', 'a sonnet']", "E", {1: img(20)},
        "Literature"),
    row("test_Music_9", "Which? <image 2>", "('fugue', 'sonata')", "B", {2: img(21)}, "Music"),
    row("test_Econ_10", "Price of <image 1>?",
        "['$6', '10\\u00b0C', 'line\\nbreak', 'tab\\there', '<image 1>']", "D", {1: img(22)},
        "Economics"),
    row("test_Art_11", "Cites <image 8>.", "['a', 'b']", "A", {n: img(n) for n in range(1, 8)}),
    row("test_Art_12", "Which?", "[]", "A", {1: img(23)}),
    row("test_Art_13", "Two letters? <image 1>", "['w', 'x', 'y']", "bc", {1: img(24)}),
]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
P="$M/test-00000-of-00001.parquet"
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_mmmu_pro.cjs" "$tmp/rows.jsonl" "$P" ||
    { bad "cannot write the MMMU-Pro fixture"; finish; exit 1; }
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/parquet_to_json.cjs" "$P" >"$tmp/back.jsonl"
{ "$PY" "$ORACLE" mmmu mmmu_pro "$tmp/back.jsonl"; "$PY" "$ORACLE" mmmu mmmu_pro_clip "$tmp/back.jsonl"; } \
    >"$tmp/want_mmmu.jsonl"
"$MILL" prompts mmmu_pro >"$tmp/got.jsonl" 2>"$tmp/stderr"; rc=$?
check "mill prompts mmmu_pro (the benchmark: both tasks) exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
same_prompts "mmmu_pro and mmmu_pro_clip: prompts, captions, image counts and golds equal the oracle's" \
    "$tmp/want_mmmu.jsonl" "$tmp/got.jsonl" "$tmp/stderr"
check "the failed rows say what is wrong; a citation of an absent image is said and left out" \
    "grep -q 'test_Bio_3: no image' '$tmp/stderr' && grep -q 'test_Chem_4: the question cites <image 4>' '$tmp/stderr' && grep -q 'test_Phys_5: options is not a Python list literal' '$tmp/stderr'"
cp "$tmp/got.jsonl" "$tmp/got_local.jsonl"

# The same file from a fake Hub: MMMU/MMMU_Pro, config "standard (10 options)".
SHA=0123456789abcdef0123456789abcdef01234567
R="$tmp/hubroot/datasets/MMMU/MMMU_Pro"; mkdir -p "$R/$SHA/standard (10 options)"
echo '{"revisions": {"main": "'$SHA'"}}' >"$R/hub.json"
cp "$P" "$R/$SHA/standard (10 options)/"
if fake_hub "$tmp/hubroot"; then
    HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_LOCAL_DATASETS= \
        "$MILL" prompts mmmu_pro >"$tmp/got_hub.jsonl" 2>"$tmp/stderr"; rc=$?
    check "from the Hub (config with spaces and parentheses): the same prompts" \
        "[ $rc -eq 0 ] && cmp -s '$tmp/got_local.jsonl' '$tmp/got_hub.jsonl' || { tail -3 '$tmp/stderr'; false; }"
fi

# ---- CLIP end to end ---------------------------------------------------------------------------
"$BUILD/bin/gen_clip" --out "$tmp/ck" --format both --preset tiny --seed 5 >/dev/null 2>&1
"$MILL" --output_dir "$tmp/o1" eval "clip[path=$tmp/ck/open_clip]" mmmu_pro >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "clip on the mmmu_pro benchmark runs (exit 0)" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "clip on mmmu_pro picks mmmu_pro_clip" \
    "ls $tmp/o1/outputs/*/mmmu_pro_clip_0shot.jsonl >/dev/null 2>&1 && ! ls $tmp/o1/outputs/*/mmmu_pro_0shot.jsonl >/dev/null 2>&1 && grep -q 'Evaluating mmmu_pro_clip' '$tmp/stderr'"
"$PY" "$SRC/tests/reference/mmmu_clip_ref.py" "$tmp/ck/open_clip" \
    "$SRC/data/clip/bpe_simple_vocab_16e6.txt.gz" "$tmp/rows.jsonl" >"$tmp/ref.jsonl" 2>"$tmp/ref.err" ||
    { echo "mmmu_clip_ref.py failed:"; tail -5 "$tmp/ref.err"; }
r=$("$PY" - "$tmp/ref.jsonl" "$tmp"/o1/outputs/*/mmmu_pro_clip_0shot.jsonl 1e-4 <<'PY' 2>&1 | tail -1
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
tol = float(sys.argv[3])
assert len(ref) == len(got) == 13, (len(ref), len(got))
worst, n_failed = 0.0, 0
for r, g in zip(ref, got):
    assert g["doc_id"] == r["doc_id"], (g["doc_id"], r["doc_id"])
    if "failed" in r:
        assert "error" in g and g["prediction"] is None, (r, g)
        n_failed += 1
        continue
    assert "error" not in g, g
    s = g["responses"][0]
    assert g["gold"] == r["target"] and len(s) == len(r["scores"]), (g["doc_id"], g["gold"], r)
    d = max(abs(p - q) for p, q in zip(s, r["scores"]))
    assert d <= tol, "doc %d: a score differs by %.1e" % (g["doc_id"], d)
    worst = max(worst, d)
    assert g["prediction"] == s.index(max(s)) and g["acc"] == float(g["prediction"] == g["gold"])
assert n_failed == 4, n_failed
print("same, max score diff %.1e over %d docs, %d failed as the reference's" % (
    worst, len(ref) - n_failed, n_failed))
PY
)
check "mmmu_pro_clip scores == PyTorch reference to 1e-4 ($r)" '[[ $r == same* ]]'
check "the undecodable image fails its sample only" \
    "grep '\"doc_id\":5,' $tmp/o1/outputs/*/mmmu_pro_clip_0shot.jsonl | grep -q '\"error\":\"image'"
"$MILL" --output_dir "$tmp/o2" --limit 3 eval "clip[path=$tmp/ck/open_clip]" cifar10 >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "clip on the cifar10 benchmark picks cifar10, not cifar10_mcq" \
    "[ $rc -eq 0 ] && ls $tmp/o2/outputs/*/cifar10_0shot.jsonl >/dev/null 2>&1 && ! ls $tmp/o2/outputs/*/cifar10_mcq_0shot.jsonl >/dev/null 2>&1"

finish
