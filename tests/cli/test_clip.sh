#!/usr/bin/env bash
# test_clip.sh: the clip backend and the zero-shot tasks end to end on random-weight CLIP
# checkpoints (tools/gen_clip) and synthetic WebDataset shards (tools/gen_wds) read as local
# copies of the Hub's haideraltahan/wds_cifar10: open_clip and HF layouts give the same
# predictions; the per-sample scores equal a PyTorch reference of the whole zero-shot head
# (tests/reference/clip_zeroshot_ref.py); batch 1 == batch 8 and 1 thread == 2 threads; the
# zero-shot head is cached on disk; both shard layouts (<key>.0.webp and <key>.webp) are read, and
# images larger than the model's input are resized; a corrupt image fails its sample only; an LLM
# is rejected up front; ImageNet's 1000 names are unique and the class tables are what
# tools/gen_class_tables.py makes of tests/data/clip_benchmark; broken checkpoints give clear
# errors; an open_clip tag computes as open_clip builds it (the architecture's own config);
# text_cfg.pool_type eos (refused without eos_id or at another id; at the EOT as argmax); other
# text heads build a new head; hf_clip on open_clip's files alone is refused (directory, Hub).
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"

D="$tmp/mirror/haideraltahan_wds_cifar10/test"; mkdir -p "$D"
"$BUILD/bin/gen_wds" --out "$D/000000.tar" --n 24 --seed 1
# 45-pixel images: the 32-pixel model resizes them (bicubic, antialiased) before encoding.
"$BUILD/bin/gen_wds" --out "$D/000001.tar" --n 16 --seed 2 --layout clip_benchmark --side 45
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

# The zero-shot head end to end against PyTorch: the reference restates open_clip's
# build_zero_shot_classifier (18 CLIP_benchmark templates per class, each text embedding
# L2-normalised, averaged, renormalised), Pillow decoding + open_clip's eval transform, the image
# embedding normalised, and the backend's logit scale exp(logit_scale) (see clip_zeroshot_ref.py
# for what it does not restate). Tolerance 1e-4 absolute on scores of about 2 (measured: 2e-6;
# float32 graphs on both sides); one template too few, a missing renormalisation, bilinear
# instead of bicubic or a scale of 100 each move some score by more than 1e-3.
"$PY" "$SRC/tests/reference/clip_zeroshot_ref.py" "$tmp/ck/open_clip" \
    "$SRC/data/clip/bpe_simple_vocab_16e6.txt.gz" \
    "$SRC/tests/data/clip_benchmark/en_zeroshot_classification_templates.json" cifar10 \
    "$D/000000.tar" "$D/000001.tar" >"$tmp/ref.jsonl" 2>"$tmp/ref.err" ||
    { echo "clip_zeroshot_ref.py failed:"; tail -5 "$tmp/ref.err"; }
r=$("$PY" - "$tmp/ref.jsonl" "$tmp"/oc/outputs/*/cifar10_0shot.jsonl 1e-4 <<'PY' 2>&1
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
tol = float(sys.argv[3])
assert len(ref) == len(got) == 40, (len(ref), len(got))
worst = 0.0
for i, (r, g) in enumerate(zip(ref, got)):
    assert g["doc_id"] == i and g["key"] == r["key"] and g["gold"] == r["cls"], (i, r["key"], g)
    assert "error" not in g and len(g["responses"]) == 1, g
    s = g["responses"][0]
    assert len(s) == len(r["scores"]) == 10, (i, len(s))
    d = max(abs(p - q) for p, q in zip(s, r["scores"]))
    assert d <= tol, "doc %d (%s): a score differs by %.1e" % (i, r["key"], d)
    worst = max(worst, d)
    assert g["prediction"] == s.index(max(s)), (i, g["prediction"], s)
print("same, max score diff %.1e over %d images" % (worst, len(ref)))
PY
)
r=$(tail -1 <<<"$r")
check "scores == PyTorch reference of the zero-shot head to 1e-4 ($r)" '[[ $r == same* ]]'
run oc2 "clip[path=$tmp/ck/open_clip]"
check "second model run reads the head from the disk cache" \
    "! grep -q 'building a zero-shot head' '$tmp/stderr' && [ -n \"\$(ls '$tmp/cache/clip_heads')\" ]"
# The tokenizer's files are part of the head's key: the same merges in another file (recompressed)
# build a new head instead of reusing one made with other files.
mkdir -p "$tmp/data/clip"
gzip -dc "$SRC/data/clip/bpe_simple_vocab_16e6.txt.gz" | gzip -1 >"$tmp/data/clip/bpe_simple_vocab_16e6.txt.gz"
MILL_DATA_DIR="$tmp/data" run oc3 "clip[path=$tmp/ck/open_clip]"
check "other tokenizer files: the head is built anew, not read from the cache" \
    "grep -q 'building a zero-shot head' '$tmp/stderr' && [ \$(ls '$tmp/cache/clip_heads' | wc -l) -eq 2 ]"
# So are the text tower's settings the weights do not hold: other heads build a new head.
mkdir -p "$tmp/hd"
ln -s "$tmp/ck/open_clip/open_clip_model.safetensors" "$tmp/hd/"
"$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); t = c["model_cfg"]["text_cfg"]; assert t["heads"] > 1; t["heads"] = 1
json.dump(c, open(sys.argv[2], "w"))' "$tmp/ck/open_clip/open_clip_config.json" "$tmp/hd/open_clip_config.json"
run hd "clip[path=$tmp/hd]"
check "other text heads: the head is built anew, not read from the cache" \
    "grep -q 'building a zero-shot head' '$tmp/stderr' && [ \$(ls '$tmp/cache/clip_heads' | wc -l) -eq 3 ]"
run hf "clip[path=$tmp/ck/hf]"; rc=$?
check "HF layout: cifar10 runs (exit 0)" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
# A preprocessing other than CLIPImageProcessor's / open_clip's eval transform is refused,
# naming the file, before any image is scored.
mkdir -p "$tmp/sq" "$tmp/bl"
ln -s "$tmp/ck/hf/config.json" "$tmp/ck/hf/model.safetensors" "$tmp/sq/"
sed 's/"shortest_edge": \([0-9]*\)/"height": \1, "width": \1/' "$tmp/ck/hf/preprocessor_config.json" \
    >"$tmp/sq/preprocessor_config.json"
expect_exit "HF preprocessor_config.json with a squash resize: refused, naming the file" 1 \
    "sq/preprocessor_config.json: a resize other than the shorter side" \
    --output_dir "$tmp/sqo" eval "clip[path=$tmp/sq]" cifar10
# an integer rescale_factor (1) scales by 1, as transformers multiplies: not 1/255, refused
mkdir -p "$tmp/rf"
ln -s "$tmp/ck/hf/config.json" "$tmp/ck/hf/model.safetensors" "$tmp/rf/"
sed 's/"rescale_factor": [0-9.e-]*/"rescale_factor": 1/' "$tmp/ck/hf/preprocessor_config.json" \
    >"$tmp/rf/preprocessor_config.json"
expect_exit "HF preprocessor_config.json with rescale_factor 1 (an int): refused, naming the file" 1 \
    "rf/preprocessor_config.json: pixels not scaled by 1/255" \
    --output_dir "$tmp/rfo" eval "clip[path=$tmp/rf]" cifar10
ln -s "$tmp/ck/open_clip/open_clip_model.safetensors" "$tmp/bl/"
"$PY" -c 'import json, sys; c = json.load(open(sys.argv[1])); c.setdefault("preprocess_cfg", {})["interpolation"] = "bilinear"; json.dump(c, open(sys.argv[2], "w"))' \
    "$tmp/ck/open_clip/open_clip_config.json" "$tmp/bl/open_clip_config.json"
expect_exit "open_clip preprocess_cfg interpolation bilinear: refused, naming the file" 1 \
    "bl/open_clip_config.json: preprocess_cfg interpolation other than bicubic" \
    --output_dir "$tmp/blo" eval "clip[path=$tmp/bl]" cifar10
# text_cfg.pool_type 'eos': open_clip requires eos_id; at the EOT (the last id) it is argmax.
for e in none last 2; do
    mkdir -p "$tmp/eos_$e"
    ln -s "$tmp/ck/open_clip/open_clip_model.safetensors" "$tmp/eos_$e/"
    "$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); t = c["model_cfg"]["text_cfg"]; t["pool_type"] = "eos"
if sys.argv[3] != "none": t["eos_id"] = t.get("vocab_size", 49408) - 1 if sys.argv[3] == "last" else 2
json.dump(c, open(sys.argv[2], "w"))' "$tmp/ck/open_clip/open_clip_config.json" \
        "$tmp/eos_$e/open_clip_config.json" "$e"
done
expect_exit "pool_type eos without eos_id: refused as open_clip refuses it" 1 \
    "eos_none/open_clip_config.json: text_cfg.pool_type 'eos' without text_cfg.eos_id" \
    --output_dir "$tmp/eo1" eval "clip[path=$tmp/eos_none]" cifar10
expect_exit "pool_type eos at another id than the EOT: refused" 1 \
    "eos_2/open_clip_config.json: text_cfg.eos_id = 2: pooling at a token other than the tokenizer's EOT" \
    --output_dir "$tmp/eo2" eval "clip[path=$tmp/eos_2]" cifar10
run eos "clip[path=$tmp/eos_last]"; rc=$?
check "pool_type eos at the EOT runs, scoring as the argmax pooling" \
    "[ $rc -eq 0 ] && \"\$PY\" -c 'import glob, json, sys
r = [[json.loads(l)[\"responses\"] for l in open(glob.glob(d + \"/outputs/*/cifar10_0shot.jsonl\")[0])]
     for d in sys.argv[1:]]
assert len(r[0]) == 40 and r[0] == r[1]' '$tmp/oc' '$tmp/eos'"
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
check "a text-only LLM on cifar10 picks cifar10_mcq and is rejected for its image input (exit 1)" \
    "[ $rc -eq 1 ] && grep -q \"task cifar10_mcq: LlamaModel .* cannot ingest input modalities \\['image'\\] required\" '$tmp/stderr'"
# ... and nothing is loaded: a model file that does not exist is never opened.
run llm2 "llama[path=$tmp/no-such-model.gguf]" imagenet; rc=$?
check "an LLM on imagenet is rejected before its file is opened (exit 1)" \
    "[ $rc -eq 1 ] && grep -q \"task imagenet_mcq: LlamaModel .* cannot ingest input modalities\" '$tmp/stderr' && ! grep -q 'no-such-model.gguf does not exist' '$tmp/stderr' && [ -z \"\$(find '$tmp/llm2' -type f 2>/dev/null)\" ]"
"$MILL" ls --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
t = [x for x in d["tasks"] if x["name"] == "imagenet"][0]
assert t["task_type"] == "zero_shot_classification"' && ok "imagenet task registered" || bad "imagenet task registered"

# ImageNet's class names as the task gives them to a model (mill prompts): 1000, all distinct,
# CLIP_benchmark's en_classnames.json with exactly the two renames of BEHAVIOUR.md §4.4.
I="$tmp/mirror/haideraltahan_wds_imagenet1k/test"; mkdir -p "$I"
"$BUILD/bin/gen_wds" --out "$I/000000.tar" --n 1 --seed 3
"$MILL" prompts imagenet --limit 1 >"$tmp/imagenet.jsonl" 2>"$tmp/stderr"
r=$("$PY" - "$tmp/imagenet.jsonl" "$SRC/tests/data/clip_benchmark/en_classnames.json" <<'PY' 2>&1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if r["task"] == "imagenet"]  # the benchmark also lists imagenet_mcq
assert len(rows) == 1, rows
got = rows[0]["choices"]
assert len(got) == 1000, len(got)
assert len(set(got)) == 1000, sorted({c for c in got if got.count(c) > 1})
want = json.load(open(sys.argv[2]))["imagenet1k"]
assert len(set(want)) == 998  # the dataset's own list has the two collisions
want[744], want[836] = "projectile", "sunglass"
diff = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
assert not diff, diff[:5]
assert (got[657], got[837]) == ("missile", "sunglasses"), (got[657], got[837])
print("unique")
PY
)
r=$(tail -1 <<<"$r")
check "ImageNet: 1000 distinct class names, CLIP_benchmark's with the two renames ($r)" \
    '[[ $r == unique ]]'
check "src/task/data/clip_tables.h is what tools/gen_class_tables.py makes of tests/data/clip_benchmark" \
    "\"$PY\" '$SRC/tools/gen_class_tables.py' '$SRC/tests/data/clip_benchmark' | cmp -s - '$SRC/src/task/data/clip_tables.h'"

# Broken checkpoints.
mkdir -p "$tmp/broken"; cp "$tmp/ck/open_clip/open_clip_config.json" "$tmp/broken/"
head -c 4000 "$tmp/ck/open_clip/open_clip_model.safetensors" > "$tmp/broken/open_clip_model.safetensors"
run br "clip[path=$tmp/broken]"; rc=$?
check "truncated safetensors: exit 1 naming the file" \
    "[ $rc -eq 1 ] && grep -q 'open_clip_model.safetensors' '$tmp/stderr'"
run nd "clip[path=$tmp/nowhere-dir-that-is-not-a-repo]"; rc=$?
check "a local checkpoint directory that does not exist: exit 1 saying so, no sample written" \
    "[ $rc -eq 1 ] && grep -q \"checkpoint directory $tmp/nowhere-dir-that-is-not-a-repo does not exist\" '$tmp/stderr' && [ -z \"\$(find '$tmp/nd' -name '*.jsonl' -size +0 2>/dev/null)\" ]"
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

# A local directory holding both formats read by hf_clip: the provenance's digest is of the
# weights it loaded (transformers'), not of open_clip's file beside them.
mkdir -p "$tmp/bothdir" && cp "$tmp/ck/open_clip/"* "$tmp/ck/hf/"* "$tmp/bothdir/" 2>/dev/null
"$MILL" --output_dir "$tmp/bothloc" --limit 4 eval "hf_clip[path=$tmp/bothdir]" cifar10 \
    >/dev/null 2>"$tmp/bothloc.err"; rc=$?
check "hf_clip on a local directory of both formats: weights_sha256 of model.safetensors" \
    "[ $rc -eq 0 ] && grep -q \"\\\"weights_sha256\\\":\\\"\$(sha256sum '$tmp/ck/hf/model.safetensors' | cut -c1-64)\" $tmp/bothloc/outputs/*/cifar10_0shot.json || { tail -2 '$tmp/bothloc.err'; false; }"

expect_exit "hf_clip on a directory of open_clip's files only: refused, naming it" 1 \
    "ck/open_clip: no config.json \\+ model.safetensors \\(transformers' CLIP, which hf_clip reads" \
    --output_dir "$tmp/hfocl" eval "hf_clip[path=$tmp/ck/open_clip]" cifar10

# ---- a Hub repo holding both formats (as LAION's do) -----------------------------------------
# hf_clip reads transformers' files (with preprocessor_config.json, which it downloads) and
# cleans captions as CLIPTokenizerFast; clip reads open_clip's. Seen in the provenance's
# weights file and the head cache's key.
R="$tmp/hubroot/models/org/both"; SHA=0123456789abcdef0123456789abcdef01234567
mkdir -p "$R/$SHA"
cp "$tmp/ck/open_clip/"* "$tmp/ck/hf/"* "$R/$SHA/" 2>/dev/null
printf '{"revisions": {"main": "%s"}}\n' "$SHA" > "$R/hub.json"
if fake_hub "$tmp/hubroot"; then
    hub() { HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache-$1" \
        "$MILL" --output_dir "$tmp/$1" eval "$2[path=org/both]" cifar10 --limit 4 >/dev/null 2>"$tmp/$1.err"; }
    hub hubhf hf_clip; rc1=$?
    hub huboc clip; rc2=$?
    snap=$(ls -d "$tmp"/hf/hub/models--org--both/snapshots/* 2>/dev/null | head -1)
    check "hf_clip on a repo of both formats: transformers' files and preprocessor_config.json" \
        "[ $rc1 -eq 0 ] && [ -e '$snap/preprocessor_config.json' ] && [ -e '$snap/model.safetensors' ] &&
         grep -q \"\$(sha256sum '$tmp/ck/hf/model.safetensors' | cut -c1-64)\" $tmp/hubhf/outputs/*/cifar10_0shot.json"
    check "clip on the same repo: open_clip's files" \
        "[ $rc2 -eq 0 ] && grep -q \"\$(sha256sum '$tmp/ck/open_clip/open_clip_model.safetensors' | cut -c1-64)\" $tmp/huboc/outputs/*/cifar10_0shot.json"
    check "the two runs' predictions agree (the same weights either way)" \
        "compare '$tmp/hubhf' '$tmp/huboc' cifar10_0shot 1e-3 >/dev/null"

    # An open_clip tag: open_clip builds the architecture's built-in config (ViT-B-32 has no
    # quick_gelu: GELU, even for OpenAI's weights, with its "QuickGELU mismatch" warning) and
    # preprocesses with the tag's mean and std, whatever the repo's open_clip_config.json says.
    # The tiny checkpoint served as the tag's repo with quick_gelu true and another mean/std
    # must score as the plain checkpoint (GELU, OpenAI's mean/std: the PyTorch-checked run).
    T="$tmp/hubroot/models/timm/vit_base_patch32_clip_224.openai"; mkdir -p "$T/$SHA"
    cp "$tmp/ck/open_clip/"* "$T/$SHA/"
    printf '{"revisions": {"main": "%s"}}\n' "$SHA" > "$T/hub.json"
    "$PY" - "$T/$SHA/open_clip_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model_cfg"]["quick_gelu"] = True
c["preprocess_cfg"].update(mean=[0.1, 0.2, 0.3], std=[0.4, 0.5, 0.6])
json.dump(c, open(sys.argv[1], "w"))
PY
    # (the first 20 docs: a later one was corrupted above)
    "$MILL" --output_dir "$tmp/plain20" --limit 20 eval "clip[path=$tmp/ck/open_clip]" cifar10 \
        >/dev/null 2>&1
    HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache-tag" "$MILL" \
        --output_dir "$tmp/tag" --limit 20 eval "clip[path=ViT-B-32,pretrained=openai]" cifar10 \
        >/dev/null 2>"$tmp/tag.err"; rc=$?
    check "ViT-B-32/openai: GELU and the tag's mean/std, as open_clip builds it (scores == the plain checkpoint's)" \
        "[ $rc -eq 0 ] && compare '$tmp/plain20' '$tmp/tag' cifar10_0shot 1e-5 >/dev/null || { tail -2 '$tmp/tag.err'; false; }"
    check "... with open_clip's QuickGELU warning" "grep -q 'GELU, as open_clip builds ViT-B-32' '$tmp/tag.err'"
    HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache-tag" "$MILL" \
        --output_dir "$tmp/tagrepo" --limit 20 eval "clip[path=timm/vit_base_patch32_clip_224.openai]" \
        cifar10 >/dev/null 2>"$tmp/tagrepo.err"; rc=$?
    check "the same repo named as a repo follows its file (QuickGELU, its mean/std): other scores" \
        "[ $rc -eq 0 ] && ! compare '$tmp/plain20' '$tmp/tagrepo' cifar10_0shot 1e-5 >/dev/null 2>&1"
    # hf_clip is transformers' AutoModel: a repo of open_clip's files only is not its checkpoint.
    HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache-tag" \
        expect_exit "hf_clip on a Hub repo of open_clip's files only: refused, naming the repo" 1 \
        "vit_base_patch32_clip_224.openai holds no config.json \\+ model.safetensors \\(transformers' CLIP" \
        --output_dir "$tmp/hfoc" eval "hf_clip[path=timm/vit_base_patch32_clip_224.openai]" cifar10
fi
finish
