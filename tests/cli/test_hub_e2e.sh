#!/usr/bin/env bash
# test_hub_e2e.sh: `mill eval` against a fake Hugging Face Hub on 127.0.0.1
# (tests/reference/fake_hub.py): a bare model id resolves to GGUF files through the Hub client
# (`org/tiny` has none, so `org/tiny-GGUF` is tried; the file is picked by dtype/quant/file), the
# MMLU Parquet files of cais/mmlu are downloaded into the huggingface_hub cache layout, and a
# rerun with HF_HUB_OFFLINE=1 works from the cache without a single request. A VLM repo's
# projector (mmproj-*.gguf) comes with its model, and a text-only repo meeting an image task is
# refused with Mill's message before any file is downloaded. A plugin task's hf:// data files
# are read at the URL's @revision, and offline only when every file the listing named is cached.
# SIGINT stops a download at once, and the next run resumes it.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MMLU=$SRC/tests/data/mmlu/cais_mmlu
PY=/usr/bin/python3
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"

SHA=0123456789abcdef0123456789abcdef01234567
R="$tmp/root"
mkdir -p "$R/models/org/tiny/$SHA" "$R/models/org/tiny-GGUF/$SHA" "$R/datasets/cais/mmlu/$SHA"
echo '{"revisions": {"main": "'$SHA'"}}' > "$R/models/org/tiny/hub.json"
echo "# no weights here" > "$R/models/org/tiny/$SHA/README.md"
echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.gguf"]}' > "$R/models/org/tiny-GGUF/hub.json"
for t in f32 f16 bf16; do
    T=$(echo $t | tr a-z A-Z)
    "$BUILD/bin/gen_llama" --vocab tiny --type $t --out "$R/models/org/tiny-GGUF/$SHA/tiny-$T.gguf" \
        >/dev/null 2>&1
done
# a flat repo of split GGUFs, as bartowski's: Q6_K and Q6_K_L in two parts each (the parts
# are whole tiny models: llama.cpp loads a first part without split keys alone)
mkdir -p "$R/models/org/split-GGUF/$SHA"
echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.gguf"]}' > "$R/models/org/split-GGUF/hub.json"
for q in Q6_K Q6_K_L; do
    for k in 1 2; do
        cp "$R/models/org/tiny-GGUF/$SHA/tiny-F16.gguf" \
            "$R/models/org/split-GGUF/$SHA/m-$q-0000$k-of-00002.gguf"
    done
done
mkdir -p "$R/models/org/vlm-GGUF/$SHA"
echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.gguf"]}' > "$R/models/org/vlm-GGUF/hub.json"
"$BUILD/bin/gen_llama" --vocab tiny --type f16 --chat_template chatml \
    --out "$R/models/org/vlm-GGUF/$SHA/vlm-F16.gguf" \
    --mmproj "$R/models/org/vlm-GGUF/$SHA/mmproj-vlm-F16.gguf" >/dev/null 2>&1
echo '{"revisions": {"main": "'$SHA'"}}' > "$R/datasets/cais/mmlu/hub.json"
cp -r "$MMLU/anatomy" "$R/datasets/cais/mmlu/$SHA/"

# toy/mc: a plugin task's hf:// pattern names revision v2 (two files); main holds another file.
SHA2=fedcba9876543210fedcba9876543210fedcba98
TOYMC="$SRC/tests/plugins/toy_data/mc_test.jsonl"
mkdir -p "$R/datasets/toy/mc/$SHA/test" "$R/datasets/toy/mc/$SHA2/test" "$tmp/plug"
echo '{"revisions": {"main": "'$SHA'", "v2": "'$SHA2'"}}' > "$R/datasets/toy/mc/hub.json"
head -n 1 "$TOYMC" > "$R/datasets/toy/mc/$SHA/test/a.jsonl"
head -n 2 "$TOYMC" > "$R/datasets/toy/mc/$SHA2/test/a.jsonl"
tail -n +3 "$TOYMC" > "$R/datasets/toy/mc/$SHA2/test/b.jsonl"
cp "$BUILD/plugins/toy.so" "$tmp/plug/"

fake_hub "$R" || { finish; exit 1; }
export HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache"
unset MILL_LOCAL_DATASETS HF_HUB_OFFLINE HF_TOKEN
model_file() { "$PY" -c "import json,glob; print(json.load(open(glob.glob('$1/outputs/*/mmlu_anatomy_5shot.json')[0]))['model_file'])"; }

"$MILL" --output_dir "$tmp/o1" --limit 2 eval "org/tiny[dtype=float16]" mmlu_anatomy \
    >"$tmp/stdout" 2>"$tmp/stderr"; rc=$?
check "bare Hub id + dtype=float16 runs against the fake Hub" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "the F16 file of org/tiny-GGUF was chosen" "[[ \$(model_file '$tmp/o1') == */tiny-F16.gguf ]]"
check "model cached in the huggingface_hub layout" \
    "[ -L \$(ls -d '$tmp/hf/hub/models--org--tiny-GGUF/snapshots/$SHA/tiny-F16.gguf') ] && [ \$(cat '$tmp/hf/hub/models--org--tiny-GGUF/refs/main') = $SHA ]"
check "dataset cached in the huggingface_hub layout" \
    "[ -e '$tmp/hf/hub/datasets--cais--mmlu/snapshots/$SHA/anatomy/test-00000-of-00001.parquet' ]"
"$MILL" --output_dir "$tmp/o2" --limit 2 eval "org/tiny" mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
check "default dtype picks BF16 (Mill's default bfloat16)" "[ $rc -eq 0 ] && [[ \$(model_file '$tmp/o2') == */tiny-BF16.gguf ]]"
"$MILL" --output_dir "$tmp/o3" --limit 2 eval "org/tiny[file=tiny-F32.gguf]" mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
check "file= names the GGUF" "[ $rc -eq 0 ] && [[ \$(model_file '$tmp/o3') == */tiny-F32.gguf ]]"
"$MILL" --output_dir "$tmp/o4" --limit 2 eval "org/tiny[quant=Q4_K_M]" mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
check "a quant that is not there: exit 1 saying what to pass" \
    "[ $rc -eq 1 ] && grep -q 'none matches quant=Q4_K_M' '$tmp/stderr' && grep -q 'file=<name.gguf>' '$tmp/stderr'"
"$MILL" --output_dir "$tmp/o4b" --limit 2 eval "org/split-GGUF[quant=Q6_K]" mmlu_anatomy \
    >/dev/null 2>"$tmp/stderr"; rc=$?
check "quant=Q6_K of a split GGUF: its two parts downloaded, none of Q6_K_L's" \
    "[ $rc -eq 0 ] && [[ \$(model_file '$tmp/o4b') == */m-Q6_K-00001-of-00002.gguf ]] && \
     [ \"\$(ls '$tmp/hf/hub/models--org--split-GGUF/snapshots/$SHA' | tr '\n' ' ')\" = \
       'm-Q6_K-00001-of-00002.gguf m-Q6_K-00002-of-00002.gguf ' ] || \
     { tail -3 '$tmp/stderr'; ls '$tmp/hf/hub/models--org--split-GGUF/snapshots/$SHA'; false; }"
"$MILL" --output_dir "$tmp/o5" --limit 2 eval "nobody/nothing" mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
check "an unknown repo: exit 1 naming the three places tried" \
    "[ $rc -eq 1 ] && grep -q 'ggml-org/nothing-GGUF' '$tmp/stderr'"

before=$(nreq)
HF_HUB_OFFLINE=1 "$MILL" --output_dir "$tmp/o6" --limit 2 eval "org/tiny-GGUF[dtype=float16]" \
    mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
after=$(nreq)
check "offline rerun from the cache: exit 0 with zero requests" \
    "[ $rc -eq 0 ] && [ '$before' -eq '$after' ] || { tail -3 '$tmp/stderr'; echo \"requests $before -> $after\"; false; }"
HF_HOME="$tmp/empty-hf" HF_HUB_OFFLINE=1 "$MILL" --output_dir "$tmp/o7" --limit 2 \
    eval "org/tiny-GGUF[dtype=float32]" mmlu_anatomy >/dev/null 2>"$tmp/stderr"; rc=$?
check "offline with an empty cache: exit 1 mentioning HF_HUB_OFFLINE" \
    "[ $rc -eq 1 ] && grep -q 'HF_HUB_OFFLINE' '$tmp/stderr'"

# SIGINT during a slow model download ends it at once (exit 130, the partial file kept), and
# the next run resumes it with a Range request.
rm -rf "$tmp/hf/hub/models--org--tiny-GGUF"
curl -s "$HF_ENDPOINT/_ctl?slow=tiny-F32.gguf&rate=32768" >/dev/null
partial() { [ -n "$(find "$tmp/hf/hub/models--org--tiny-GGUF/blobs" -name '*.incomplete' -size +1k 2>/dev/null)" ]; }
set -m # a background job of a script ignores SIGINT unless job control is on
"$MILL" --output_dir "$tmp/o10" --limit 2 eval "org/tiny[file=tiny-F32.gguf]" mmlu_anatomy \
    >/dev/null 2>"$tmp/stderr" &
pid=$!
set +m
wait_for --pid $pid 60 partial
t0=$SECONDS
kill -INT $pid
wait $pid; rc=$?
took=$((SECONDS - t0))
check "SIGINT during a download: exit 130 within seconds ($took s), the partial file kept" \
    "[ $rc -eq 130 ] && [ $took -le 5 ] && grep -q 'download of tiny-F32.gguf stopped by signal 2 at byte' '$tmp/stderr' && partial || { tail -3 '$tmp/stderr'; false; }"
curl -s "$HF_ENDPOINT/_ctl?reset=1" >/dev/null
"$MILL" --output_dir "$tmp/o10" --limit 2 eval "org/tiny[file=tiny-F32.gguf]" mmlu_anatomy \
    >/dev/null 2>"$tmp/stderr"; rc=$?
ranged=$(curl -s "$HF_ENDPOINT/_stats" | "$PY" -c 'import json,sys
print(sum(e["path"].endswith("tiny-F32.gguf") and (e.get("range") or "").startswith("bytes=")
          and e["range"] != "bytes=0-" for e in json.load(sys.stdin)["log"]))')
check "the rerun resumes the download (a Range request) and exits 0" \
    "[ $rc -eq 0 ] && [ '$ranged' -ge 1 ] || { tail -3 '$tmp/stderr'; echo ranged=$ranged; false; }"

# A plugin task's hf://datasets/toy/mc@v2/test/*.jsonl is read at v2 (main was read instead);
# offline, the files the online listing named are required: a snapshot missing one (a download
# that stopped half way) is an error naming it, not a shorter split.
before=$(nreq)
"$MILL" prompts toy_hub_mc --task_paths "$tmp/plug" >"$tmp/hp.out" 2>"$tmp/stderr"; rc=$?
revs=$(curl -s "$HF_ENDPOINT/_stats" | "$PY" -c 'import json,sys
print(" ".join(sorted({e["path"].split("?")[0] for e in json.load(sys.stdin)["log"][int(sys.argv[1]):]
                       if "/revision/" in e["path"]})))' "$before")
check "hf://...@v2: the 3 docs of revision v2 (not main's 1), asked at v2 ($revs)" \
    "[ $rc -eq 0 ] && [ \$(grep -c '\"doc_id\"' '$tmp/hp.out') -eq 3 ] && [[ '$revs' == *revision/v2* ]] && [[ '$revs' != *revision/main* ]] || { tail -3 '$tmp/stderr'; false; }"
SNAP="$tmp/hf/hub/datasets--toy--mc/snapshots/$SHA2/test"
mv "$SNAP/b.jsonl" "$tmp/b.link"
HF_HUB_OFFLINE=1 "$MILL" prompts toy_hub_mc --task_paths "$tmp/plug" >"$tmp/hp.out" 2>"$tmp/stderr"; rc=$?
check "offline, a snapshot missing a listed file: exit 1 naming it" \
    "[ $rc -eq 1 ] && grep -q 'file test/b.jsonl at revision .* is not cached' '$tmp/stderr' || { tail -3 '$tmp/stderr'; false; }"
mv "$tmp/b.link" "$SNAP/b.jsonl"
before=$(nreq)
HF_HUB_OFFLINE=1 "$MILL" prompts toy_hub_mc --task_paths "$tmp/plug" >"$tmp/hp.out" 2>"$tmp/stderr"; rc=$?
after=$(nreq)
check "offline, the whole snapshot: its 3 docs, zero requests" \
    "[ $rc -eq 0 ] && [ \$(grep -c '\"doc_id\"' '$tmp/hp.out') -eq 3 ] && [ '$before' -eq '$after' ]"

# Images: a VLM repo and a text-only one on cifar10 (a local copy of the shards).
W="$tmp/mirror/haideraltahan_wds_cifar10/test"
mkdir -p "$W"
"$BUILD/bin/gen_wds" --out "$W/000000.tar" --n 4 --seed 1 >/dev/null
MILL_LOCAL_DATASETS="$tmp/mirror" "$MILL" --output_dir "$tmp/o8" eval \
    "org/vlm[dtype=float16,threads=2]" cifar10 >/dev/null 2>"$tmp/stderr"; rc=$?
check "a VLM repo on cifar10: cifar10_mcq runs with the repo's projector" \
    "[ $rc -eq 0 ] && grep -q 'cifar10_mcq: 4 docs (4 computed, 0 resumed, 0 failed)' '$tmp/stderr' && \
     grep -q 'models--org--vlm-GGUF/snapshots/$SHA/mmproj-vlm-F16.gguf' \
     $tmp/o8/outputs/*/cifar10_mcq_0shot.json || { tail -3 '$tmp/stderr'; false; }"
rm -rf "$tmp/hf/hub/models--org--tiny-GGUF"
before=$(nreq)
MILL_LOCAL_DATASETS="$tmp/mirror" "$MILL" --output_dir "$tmp/o9" eval \
    "org/tiny-GGUF[dtype=float16]" cifar10 >/dev/null 2>"$tmp/stderr"; rc=$?
downloads=$(curl -s "$HF_ENDPOINT/_stats" | "$PY" -c 'import json,sys
print(sum(e["path"].endswith(".gguf") and "/resolve/" in e["path"]
          for e in json.load(sys.stdin)["log"][int(sys.argv[1]):]))' "$before")
check "a text-only repo on cifar10: Mill's modality message, exit 1, no file downloaded" \
    "[ $rc -eq 1 ] && grep -q \"cannot ingest input modalities \['image'\] required\" '$tmp/stderr' && \
     [ '$downloads' = 0 ] || { tail -2 '$tmp/stderr'; echo downloads=$downloads; false; }"

finish
