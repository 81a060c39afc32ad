#!/usr/bin/env bash
# test_clip.sh: the clip backend and the zero-shot tasks end to end on random-weight CLIP
# checkpoints (tools/gen_clip) and synthetic WebDataset shards (tools/gen_wds) read as local
# copies of the Hub's haideraltahan/wds_cifar10: open_clip and HF layouts give the same
# predictions; batch 1 == batch 8 and 1 thread == 2 threads; the zero-shot head is cached on
# disk; both shard layouts (<key>.0.webp and <key>.webp) are read; a corrupt image fails its
# sample only; an LLM is rejected up front; ImageNet's 1000 names are unique; broken checkpoints
# give clear errors.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

D="$tmp/mirror/haideraltahan_wds_cifar10/test"; mkdir -p "$D"
"$BUILD/bin/gen_wds" --out "$D/000000.tar" --n 24 --seed 1
"$BUILD/bin/gen_wds" --out "$D/000001.tar" --n 16 --seed 2 --layout clip_benchmark
"$BUILD/bin/gen_clip" --out "$tmp/ck" --format both --preset tiny --seed 5 >/dev/null 2>&1
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache"
run() { "$MILL" --output_dir "$tmp/$1" eval "$2" "${3:-cifar10}" >"$tmp/stdout" 2>"$tmp/stderr"; }

run oc "clip[path=$tmp/ck/open_clip]"; rc=$?
check "open_clip layout: cifar10 runs (exit 0)" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "all 40 samples of both shard layouts scored" \
    "[ \$(grep -c '\"acc\"' $tmp/oc/outputs/*/cifar10_0shot.jsonl) -eq 40 ]"
check "the zero-shot head was built (10 classes x 18 templates)" \
    "grep -q 'building a zero-shot head: 10 classes x 18 templates' '$tmp/stderr'"
check "score table row" "grep -Eq '^cifar10 +[0-9]\.[0-9]{4}$' '$tmp/stdout'"
run oc2 "clip[path=$tmp/ck/open_clip]"
check "second model run reads the head from the disk cache" \
    "! grep -q 'building a zero-shot head' '$tmp/stderr' && [ -n \"\$(ls '$tmp/cache/clip_heads')\" ]"
run hf "clip[path=$tmp/ck/hf]"; rc=$?
run b1 "clip[path=$tmp/ck/open_clip,batch_size=1,threads=1]"
run b8 "clip[path=$tmp/ck/open_clip,batch_size=8,threads=2]"
same() { "$PY" - "$1" "$2" <<'PY'
import glob, json, sys
load = lambda d: [json.loads(l) for l in open(glob.glob(d + "/outputs/*/cifar10_0shot.jsonl")[0])]
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b) == 40
worst = 0
for x, y in zip(a, b):
    assert x["prediction"] == y["prediction"], (x["doc_id"], x["prediction"], y["prediction"])
    worst = max(worst, max(abs(p - q) for p, q in zip(x["responses"][0], y["responses"][0])))
assert worst < 1e-3, worst
print("same, max score diff %.1e" % worst)
PY
}
r=$(same "$tmp/oc" "$tmp/hf" 2>&1); check "HF layout == open_clip layout ($r)" "[[ '$r' == same* ]]"
r=$(same "$tmp/b1" "$tmp/b8" 2>&1); check "batch 1 / 1 thread == batch 8 / 2 threads ($r)" "[[ '$r' == same* ]]"
r=$(same "$tmp/oc" "$tmp/b1" 2>&1)
check "batch 64 (halves prepared while the other encodes) == batch 1 ($r)" "[[ '$r' == same* ]]"

# A corrupt image fails its sample only; the run goes on and counts it.
"$PY" - "$D/000001.tar" <<'PY'
import sys, tarfile, io
src = sys.argv[1]
t = tarfile.open(src); members = [(m, t.extractfile(m).read()) for m in t.getmembers()]; t.close()
with tarfile.open(src, "w", format=tarfile.PAX_FORMAT) as out:
    for m, data in members:
        if m.name == "s0000003.webp":
            data = b"RIFF\x00\x00\x00\x00WEBPgarbage"
            m.size = len(data)
        out.addfile(m, io.BytesIO(data))
PY
run bad "clip[path=$tmp/ck/open_clip]"; rc=$?
check "corrupt image: run exits 0 and reports 1 failed sample" \
    "[ $rc -eq 0 ] && grep -q '1 samples failed' '$tmp/stderr'"
check "the failed sample carries its error" \
    "grep -q '\"error\":\"image' $tmp/bad/outputs/*/cifar10_0shot.jsonl"
check "aggregate counts the 39 good samples" \
    "$PY -c 'import json,glob,sys; p=json.load(open(glob.glob(\"$tmp/bad/outputs/*/cifar10_0shot.json\")[0])); sys.exit(0 if p[\"n\"]==40 and p[\"n_failed\"]==1 else 1)'"

# An LLM on a zero-shot benchmark is rejected before anything is loaded.
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/m.gguf" >/dev/null 2>&1
run llm "llama[path=$tmp/m.gguf]"; rc=$?
check "an LLM on cifar10 is rejected clearly (exit 1)" \
    "[ $rc -eq 1 ] && grep -q \"benchmark 'cifar10': no task matches the capabilities of LlamaModel\" '$tmp/stderr'"
run llm2 "llama[path=$tmp/m.gguf]" cifar10; true
"$MILL" ls --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
t = [x for x in d["tasks"] if x["name"] == "imagenet"][0]
assert t["task_type"] == "zero_shot_classification"' && ok "imagenet task registered" || bad "imagenet task registered"

# Broken checkpoints.
mkdir -p "$tmp/broken"; cp "$tmp/ck/open_clip/open_clip_config.json" "$tmp/broken/"
head -c 4000 "$tmp/ck/open_clip/open_clip_model.safetensors" > "$tmp/broken/open_clip_model.safetensors"
run br "clip[path=$tmp/broken]"; rc=$?
check "truncated safetensors: exit 1 naming the file" \
    "[ $rc -eq 1 ] && grep -q 'open_clip_model.safetensors' '$tmp/stderr'"
run nd "clip[path=$tmp/nowhere-dir-that-is-not-a-repo]"; rc=$?
check "unknown checkpoint: exit 1" "[ $rc -eq 1 ]"
run pt "clip[path=ViT-B-32,pretrained=no_such_tag]"; rc=$?
check "unknown pretrained tag: exit 1 listing the known ones" \
    "[ $rc -eq 1 ] && grep -q 'ViT-B-32/laion2b_s34b_b79k' '$tmp/stderr'"
mkdir -p "$tmp/convnext" && cp "$tmp/ck/open_clip/"* "$tmp/convnext/"
"$PY" - "$tmp/convnext/open_clip_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model_cfg"]["vision_cfg"]["timm_model_name"] = "convnext_base"
json.dump(c, open(sys.argv[1], "w"))
PY
run cx "clip[path=$tmp/convnext]"; rc=$?
check "unknown architecture (a timm ConvNeXt tower): exit 1 saying what is supported" \
    "[ $rc -eq 1 ] && grep -q \"timm_model_name asks for a timm vision tower (only open_clip's ViT\" '$tmp/stderr'"

finish
