#!/usr/bin/env bash
# test_llama_vision.sh: images in the llama backend through libmtmd, against llama.cpp's own
# llama-mtmd-cli (built from the same bundle by scripts/deps.sh), on a generated random-weight
# VLM of each kind tools/gen_llama makes (Qwen2 vocabulary): a llava-style projector ("mlp") on
# a llama model, and Qwen2-VL's merger on an M-RoPE model (image tokens take fewer positions than
# KV cells; dynamic resolution):
# - greedy generations of images of every PNG kind (RGB, RGBA, grey, grey+alpha, palette,
#   1x1 to 300x200) equal llama-mtmd-cli's byte for byte, with 8 sequences in flight and with
#   one (a 16-bit grey PNG rides along but is not compared: Pillow, which Mill and we follow,
#   clips its samples to 255, where llama-mtmd-cli's stb_image keeps their high byte; JPEG is
#   left out for the same reason: we decode as Pillow, through libjpeg-turbo);
# - log-likelihoods with images (each choice the answer to the generation prompt) equal
#   llama-server's (--mmproj, its next-token log-probs) on both kinds: its greedy continuation
#   scores its summed log-probs and is greedy, each one-token choice scores the log-prob of the
#   server's first-position distribution;
# - an image that will not decode fails its sample alone, named, and the rest are answered;
# - a projector that does not fit the model, several projectors and no hint, a text-only
#   model meeting an image task: one clear error before any sample;
# - with encode_ahead=on and 3 docs per batch, the next batch's images are encoded on the
#   runner's prepare thread while this one generates: the same generations, every image
#   encoded once, the provenance says so;
# - the provenance records the projector's file and sha256.
# Needs llama-mtmd-cli and llama-server from the pinned build: fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

for x in "$BUILD/bin/gen_llama" "$BUILD/plugins/oracle.so" "$PREFIX/bin/llama-mtmd-cli" \
         "$PREFIX/bin/llama-server"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done

M=$tmp/vlm
mkdir -p "$M" "$tmp/qwen2vl" "$tmp/qwen2vl-jinja" "$tmp/plug/oracle_data"
# qwen2vl-jinja: the Qwen2-VL architecture with Qwen2-VL's own processor template, which adds a
# default system turn and writes <|vision_start|><|image_pad|><|vision_end|> per image: only a
# Jinja render gives its prompt (llama.cpp's built-in matcher takes it for plain chatml).
for arch in llama qwen2vl qwen2vl-jinja; do
    d=$M tmpl=chatml; [ $arch = llama ] || d=$tmp/$arch
    [ $arch = qwen2vl-jinja ] && tmpl=qwen2vl
    "$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" \
        --out "$d/vlm.gguf" --n_embd 64 --type f16 --chat_template $tmpl --arch ${arch%-jinja} \
        --mmproj "$d/mmproj-vlm-F32.gguf" --patch_size 14 --image_size 56 >/dev/null ||
        { echo "FAIL - gen_llama --arch $arch"; exit 1; }
done
cp "$BUILD/plugins/oracle.so" "$tmp/plug/"

"$PY" - "$tmp" <<'PY'
import json, random, sys
from PIL import Image
tmp = sys.argv[1]
rng = random.Random(7)
kinds = [(40, 30, "RGB"), (17, 60, "RGBA"), (32, 32, "L"), (25, 19, "LA"), (100, 80, "P"),
         (1, 1, "RGB"), (300, 200, "RGB"), (48, 48, "I;16")]
rows = []
for i, (w, h, mode) in enumerate(kinds):
    im = Image.new("RGB", (w, h))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(w * h)])
    if mode == "I;16":
        im = im.convert("L").point(lambda v: v * 257, "I").convert("I;16")
    elif mode != "RGB":
        im = im.convert(mode)
    path = f"{tmp}/img{i}.png"
    im.save(path)
    rows.append({"context": "Which of these categories best describes the image?\nA) cat\n"
                 f"B) dog\nAnswer with the letter of the correct option. ({mode} {w}x{h})",
                 "images": [path]})
# Two images in one prompt: mtmd puts text between them for Qwen2-VL (<|vision_end|>
# <|vision_start|>), which must start where the first image's positions end.
for a, b in ((0, 2), (4, 1)):
    rows.append({"context": "Are these two images of the same category?\nA) yes\nB) no\n"
                 "Answer with the letter of the correct option.",
                 "images": [f"{tmp}/img{a}.png", f"{tmp}/img{b}.png"]})
open(f"{tmp}/broken.png", "wb").write(open(f"{tmp}/img0.png", "rb").read()[:60])
with open(f"{tmp}/plug/oracle_data/vlm.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
with open(f"{tmp}/plug/oracle_data/vlm_bad.jsonl", "w") as f:
    marker = dict(rows[1], context="What does the tag <__media__> mean here?\nA) an image\nB) text")
    for r in rows[:2] + [dict(rows[0], images=[f"{tmp}/broken.png"])] + rows[2:3] + [marker]:
        f.write(json.dumps(r) + "\n")
PY

run() { # OUT MODEL_DIR BATCH [SPEC_ARGS [EVAL_ARGS...]]: mill on oracle_vlm
    local out=$1 d=$2 b=$3 more=${4:-}
    shift 4 2>/dev/null || shift $#
    "$MILL" --output_dir "$tmp/$out" eval "llama[path=$d/vlm.gguf,batch_size=$b,threads=2$more]" \
        oracle_vlm --task_paths "$tmp/plug/oracle.so" "$@" >"$tmp/$out.out" 2>"$tmp/$out.err"
}

# peer MODEL_DIR OUT...: every row through llama-mtmd-cli (greedy, 24 tokens, the marker before
# the text as mill puts it; its stdout is "\n" + the generation + "\n\n") against each OUT.
# PEER_JINJA=1: llama-mtmd-cli --jinja (the template rendered by llama.cpp's own Jinja engine).
peer() {
    "$PY" - "$tmp" "$PREFIX/bin/llama-mtmd-cli" "$@" <<'PY'
import glob, json, os, subprocess, sys
tmp, cli, m = sys.argv[1:4]
jinja = ["--jinja"] if os.environ.get("PEER_JINJA") == "1" else []
rows = [json.loads(l) for l in open(f"{tmp}/plug/oracle_data/vlm.jsonl")]
bad = 0
peer = {}
for i, r in enumerate(rows):
    images = [a for path in r["images"] for a in ("--image", path)]
    p = subprocess.run([cli, "-m", f"{m}/vlm.gguf", "--mmproj", f"{m}/mmproj-vlm-F32.gguf",
                        *images, "-p", "<__media__>" * len(r["images"]) + r["context"],
                        "-n", "24", "--temp", "0", "-t", "2", *jinja], capture_output=True)
    s = p.stdout.decode("utf-8", "replace")
    if p.returncode or not (s.startswith("\n") and s.endswith("\n\n")):
        print(f"llama-mtmd-cli failed on row {i}: {p.returncode} {p.stderr[-300:]!r}")
        bad += 1
    peer[i] = s[1:-2]
for out in sys.argv[4:]:
    got = {}
    for path in glob.glob(f"{tmp}/{out}/outputs/*/oracle_vlm_0shot.jsonl"):
        for l in open(path, encoding="utf-8"):
            r = json.loads(l)
            got[r["doc_id"]] = r["prediction"]
    for i in range(len(rows)):
        # 16-bit grey: Pillow (Mill's decoder, and ours) clips to 255 where stb_image, which
        # llama-mtmd-cli loads files with, keeps the high byte: the pixels differ by design.
        if "I;16" in rows[i]["context"]:
            continue
        if got.get(i) != peer[i]:
            print(f"{out} row {i}: mill {got.get(i)!r} != llama-mtmd-cli {peer[i]!r}")
            bad += 1
print("same" if not bad else f"{bad} differ")
PY
}

for arch in llama qwen2vl; do
    d=$M; [ $arch = llama ] || d=$tmp/$arch
    run $arch-b8 "$d" 8; rc8=$?
    run $arch-b1 "$d" 1; rc1=$?
    run $arch-ahead "$d" 2 ,encode_ahead=on --batch_docs 3; rca=$?
    check "$arch: eval with 8 images in flight, with one, and encoding ahead: exit 0" \
        "[ $rc8 -eq 0 ] && [ $rc1 -eq 0 ] && [ $rca -eq 0 ]"
    peer "$d" $arch-b8 $arch-b1 $arch-ahead >"$tmp/peer-$arch.log" 2>&1
    check "$arch: generations equal llama-mtmd-cli's, batch 8, batch 1 and encoding ahead \
($(tail -1 "$tmp/peer-$arch.log"))" "tail -1 '$tmp/peer-$arch.log' | grep -qx same"
done
# Stop strings: Python Mill's _decode_multimodal cuts at none, so neither do we with media.
"$MILL" --output_dir "$tmp/llama-b8" eval "llama[path=$M/vlm.gguf,batch_size=8,threads=2]" \
    oracle_vlm_stop --task_paths "$tmp/plug/oracle.so" >/dev/null 2>"$tmp/stop.err"; rc=$?
"$PY" - $tmp/llama-b8/outputs/*/oracle_vlm_0shot.jsonl $tmp/llama-b8/outputs/*/oracle_vlm_stop_0shot.jsonl \
    >"$tmp/stop.out" 2>&1 <<'PY'
import json, sys
a, b = ({r["doc_id"]: r["prediction"] for r in map(json.loads, open(p))} for p in sys.argv[1:3])
assert a == b, [(k, a[k], b.get(k)) for k in a if a[k] != b.get(k)]
assert sum(any(s in v for s in (" ", "e", "a")) for v in b.values()) >= 3, b
print("ok")
PY
check "a media prompt's generation is not cut at the task's stop strings (as Python Mill's)" \
    "[ $rc -eq 0 ] && grep -qx ok '$tmp/stop.out' || { tail -3 '$tmp/stop.err' '$tmp/stop.out'; false; }"
run qwen2vl-jinja "$tmp/qwen2vl-jinja" 8; rc=$?
PEER_JINJA=1 peer "$tmp/qwen2vl-jinja" qwen2vl-jinja >"$tmp/peer-jinja.log" 2>&1
check "Qwen2-VL's own template, rendered as Jinja: exit $rc, generations equal llama-mtmd-cli \
--jinja's ($(tail -1 "$tmp/peer-jinja.log"))" "[ $rc -eq 0 ] && tail -1 '$tmp/peer-jinja.log' | grep -qx same"
PEER_JINJA=0 peer "$tmp/qwen2vl-jinja" qwen2vl-jinja >"$tmp/peer-nojinja.log" 2>&1
check "... and not those of llama.cpp's built-in matcher, which drops the system turn \
($(tail -1 "$tmp/peer-nojinja.log"))" "tail -1 '$tmp/peer-nojinja.log' | grep -qE '^[1-9][0-9]* differ$' \
    && ! grep -q 'failed on row' '$tmp/peer-nojinja.log'"
check "encoding ahead: each of the 12 images encoded once, all by prepare (and none without)" \
    "grep -q '\"media_encoded\":12,\"media_encoded_ahead\":12,' \
     $tmp/llama-ahead/outputs/*/oracle_vlm_0shot.json && \
     grep -q '\"media_encoded\":12,\"media_encoded_ahead\":0,' \
     $tmp/llama-b8/outputs/*/oracle_vlm_0shot.json"
expect_exit "encode_ahead=maybe: exit 2 naming the values" 2 "encode_ahead must be auto, on or off" \
    --output_dir "$tmp/o0" eval "llama[path=$M/vlm.gguf,encode_ahead=maybe]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so"
check "provenance records the projector and its sha256" \
    "grep -q '\"mmproj_sha256\":\"$(sha256sum "$M/mmproj-vlm-F32.gguf" | cut -c1-64)\"' \
     $tmp/llama-b8/outputs/*/oracle_vlm_0shot.json && grep -q '\"media_encoded\":12' \
     $tmp/llama-b8/outputs/*/oracle_vlm_0shot.json"

# Log-likelihood with images (oracle_vlm_ll: each choice scored as the answer to the generation
# prompt) against llama-server --mmproj (tests/reference/llama_server_peer.py mmscore): the
# server's greedy continuation of each prompt must score its summed log-probs and be greedy,
# and each one-token choice must score the log-prob of the server's first-position
# distribution. Flash attention off on both sides (see the peer's notes). The 16-bit grey row
# stays out (its pixels differ by design, above).
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
with open(f"{tmp}/mm_reqs.jsonl", "w") as f:
    for r in map(json.loads, open(f"{tmp}/plug/oracle_data/vlm.jsonl")):
        if "I;16" not in r["context"]:
            f.write(json.dumps({"context": r["context"], "media": r["images"],
                                "choices": [" A", "A", "B", " yes", "no"], "n_greedy": 6}) + "\n")
PY
for arch in llama qwen2vl; do
    d=$M; [ $arch = llama ] || d=$tmp/$arch
    mkdir -p "$tmp/mmpeer-$arch"
    "$PY" "$SRC/tests/reference/llama_server_peer.py" "$PREFIX/bin/llama-server" "$d/vlm.gguf" \
        "$tmp/mmpeer-$arch" mmscore "$d/mmproj-vlm-F32.gguf" <"$tmp/mm_reqs.jsonl" \
        >"$tmp/mmpeer-$arch.jsonl" 2>"$tmp/mmpeer-$arch.err"
    mkdir -p "$tmp/plug-$arch/oracle_data"
    cp "$tmp/plug/oracle.so" "$tmp/plug-$arch/"
    "$PY" "$SRC/tests/reference/mmscore_cases.py" rows "$tmp/mm_reqs.jsonl" \
        "$tmp/mmpeer-$arch.jsonl" images "$tmp/broken.png" \
        >"$tmp/plug-$arch/oracle_data/vlm_ll.jsonl"
    "$MILL" --output_dir "$tmp/ll-$arch" eval \
        "llama[path=$d/vlm.gguf,batch_size=8,threads=2,flash_attn=off]" oracle_vlm_ll \
        --task_paths "$tmp/plug-$arch/oracle.so" >"$tmp/ll-$arch.out" 2>"$tmp/ll-$arch.err"
    rc=$?
    "$MILL" --output_dir "$tmp/lln-$arch" eval \
        "llama[path=$d/vlm.gguf,batch_size=8,threads=2,flash_attn=off,naive=true]" oracle_vlm_ll \
        --task_paths "$tmp/plug-$arch/oracle.so" >/dev/null 2>"$tmp/lln-$arch.err"
    rcn=$?
    # F16, batched otherwise: 6e-4 seen
    "$PY" "$SRC/tests/reference/mmscore_cases.py" compare \
        "$tmp/plug-$arch/oracle_data/vlm_ll.jsonl" images "$tmp/mmpeer-$arch.jsonl" \
        "$tmp/ll-$arch" "$tmp/lln-$arch" oracle_vlm_ll 2e-3 2e-3 6 4 30 >"$tmp/ll-$arch.cmp" 2>&1
    "$PY" - "$tmp" "$arch" >>"$tmp/ll-$arch.cmp" 2>&1 <<'PY'
import json, sys
tmp, arch = sys.argv[1:]
peer = [json.loads(l) for l in open(f"{tmp}/mmpeer-{arch}.jsonl")]
# the two two-image rows share their text: their images must move the scores
two = [i for i, p in enumerate(peer) if "same category" in p["prompt"]]
assert len(two) == 2
a, b = ([v["logprob"] for v in peer[i]["choices"].values() if v] for i in two)
assert max(abs(x - y) for x, y in zip(a, b)) > 0.05, (a, b)
print("the two-image rows score apart")
PY
    check "$arch: log-likelihoods with images equal llama-server's, a broken image fails alone: \
exit $rc/$rcn, $(head -1 "$tmp/ll-$arch.cmp")" \
        "[ $rc -eq 0 ] && [ $rcn -eq 0 ] && head -1 '$tmp/ll-$arch.cmp' | grep -q '^same' && \
         tail -1 '$tmp/ll-$arch.cmp' | grep -q 'score apart' || { cat '$tmp/ll-$arch.cmp'; false; }"
done

# A broken image fails its sample alone.
mkdir -p "$tmp/plug2/oracle_data"
cp "$tmp/plug/oracle.so" "$tmp/plug2/"
cp "$tmp/plug/oracle_data/vlm_bad.jsonl" "$tmp/plug2/oracle_data/vlm.jsonl"
"$MILL" --output_dir "$tmp/bad" eval "llama[path=$M/vlm.gguf,threads=2]" oracle_vlm \
    --task_paths "$tmp/plug2/oracle.so" >/dev/null 2>"$tmp/bad.err"; rc=$?
check "a broken image: exit 0, 1 of 5 samples failed, the image named; mtmd's marker in a \
question is its text" \
    "[ $rc -eq 0 ] && grep -q '5 docs (4 computed, 0 resumed, 1 failed)' '$tmp/bad.err' && \
     grep -q 'broken.png does not decode' '$tmp/bad.err' $tmp/bad/outputs/*/oracle_vlm_0shot.jsonl"
"$MILL" --output_dir "$tmp/bad2" eval "llama[path=$M/vlm.gguf,threads=2,encode_ahead=on]" \
    oracle_vlm --task_paths "$tmp/plug2/oracle.so" --batch_docs 2 >/dev/null 2>"$tmp/bad2.err"
rc=$?
check "the same encoding ahead: the same failure, the other answers equal" \
    "[ $rc -eq 0 ] && grep -q '5 docs (4 computed, 0 resumed, 1 failed)' '$tmp/bad2.err' && \
     \"\$PY\" -c 'import json,sys; f=lambda p: [(r[\"doc_id\"], r.get(\"prediction\"), \"error\" in r)
for r in map(json.loads, open(p))]; sys.exit(f(sys.argv[1]) != f(sys.argv[2]))' \
         $tmp/bad/outputs/*/oracle_vlm_0shot.jsonl $tmp/bad2/outputs/*/oracle_vlm_0shot.jsonl"

# Projectors: one that does not fit, several without a hint, none for an image task.
mkdir -p "$tmp/small" "$tmp/textonly"
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/small/small.gguf" --n_embd 32 \
    --mmproj "$tmp/small/mmproj-small.gguf" >/dev/null
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/textonly/text.gguf" --n_embd 32 >/dev/null
expect_exit "a projector for another embedding size: exit 1 before any sample" 1 \
    "projector .*mmproj-small.gguf" --output_dir "$tmp/o1" \
    eval "llama[path=$M/vlm.gguf,mmproj=$tmp/small/mmproj-small.gguf]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so"
cp "$M/mmproj-vlm-F32.gguf" "$M/mmproj-vlm-Q8_0.gguf"
expect_exit "two projectors, no hint: exit 2 (a spec problem) listing both" 2 \
    "2 multimodal projectors \(mmproj-vlm-F32.gguf, mmproj-vlm-Q8_0.gguf\).*mmproj=" \
    --output_dir "$tmp/o2" eval "llama[path=$M/vlm.gguf]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so"
"$MILL" --output_dir "$tmp/o3" eval "llama[path=$M/vlm.gguf,quant=Q8_0,threads=2]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so" >/dev/null 2>&1
check "two projectors, quant=Q8_0 picks the Q8_0 one" \
    "grep -q 'mmproj-vlm-Q8_0.gguf' $tmp/o3/outputs/*/oracle_vlm_0shot.json"
rm "$M/mmproj-vlm-Q8_0.gguf"
expect_exit "a text-only model on an image task: Mill's modality message, exit 1" 1 \
    "cannot ingest input modalities \['image'\] required by this task \(it supports \['text'\]\)" \
    --output_dir "$tmp/o4" eval "llama[path=$tmp/textonly/text.gguf]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so"
# Another model's projector beside a model: found, it fails the load saying how to leave it
# out; mmproj=none does (the model is then text only).
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/small/other.gguf" --n_embd 64 >/dev/null
expect_exit "another model's projector found beside it: exit 1, naming mmproj=none" 1 \
    "mmproj=none leaves it out" --output_dir "$tmp/o5" \
    eval "llama[path=$tmp/small/other.gguf]" oracle_vlm --task_paths "$tmp/plug/oracle.so"
expect_exit "... mmproj=none: no projector, a text-only model" 1 \
    "cannot ingest input modalities \['image'\] required by this task \(it supports \['text'\]\)" \
    --output_dir "$tmp/o6" eval "llama[path=$tmp/small/other.gguf,mmproj=none]" oracle_vlm \
    --task_paths "$tmp/plug/oracle.so"
finish
