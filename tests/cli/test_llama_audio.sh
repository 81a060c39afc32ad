#!/usr/bin/env bash
# test_llama_audio.sh: audio in the llama backend through libmtmd, against llama.cpp's own
# llama-mtmd-cli (built from the same bundle by scripts/deps.sh), on a generated random-weight
# audio LM (tools/gen_llama --amproj: a Qwen2 vocabulary, libmtmd's "qwen2a" projector, Qwen2-
# Audio's Whisper encoder) and the clotho_aqa task on a Parquet fixture in the Hub's layout
# (tests/reference/write_audio_parquet.cjs), clips made here with espeak-ng (speech) and sox
# (tones, noise, silence), 16 kHz mono, encoded as WAV, FLAC and MP3:
# - greedy generations equal llama-mtmd-cli --audio's for the same model, clip and prompt, byte
#   for byte, with 8 clips in flight and with one;
# - a 35 s clip is cut by libmtmd into two 30 s windows, as llama-mtmd-cli cuts it: the
#   provenance counts one more medium encoded than there are clips;
# - a 44.1 kHz stereo clip (downmixed, resampled as librosa does; llama-mtmd-cli resamples
#   with miniaudio, so that one is answered, not compared);
# - the provenance records the projector's file and sha256;
# - log-likelihoods after a clip (the oracle plugin's oracle_alm_ll) equal llama-server
#   --mmproj's log-probs (tests/reference/llama_server_peer.py mmscore), a broken clip failing
#   its doc alone.
# Needs llama-mtmd-cli and llama-server from the pinned build, node's parquet-wasm, sox, lame and espeak-ng:
# fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache"

for x in "$BUILD/bin/gen_llama" "$BUILD/plugins/oracle.so" "$PREFIX/bin/llama-mtmd-cli" \
    "$PREFIX/bin/llama-server" "$NODE_MODULES/parquet-wasm"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done
for x in sox espeak-ng; do
    command -v $x >/dev/null || { echo "FAIL - $x missing (scripts/deps.sh installs it)"; exit 1; }
done

M=$tmp/alm
mkdir -p "$M"
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$M/alm.gguf" \
    --n_embd 64 --type f16 --chat_template chatml --amproj "$M/mmproj-alm-F32.gguf" >/dev/null ||
    { echo "FAIL - gen_llama --amproj"; exit 1; }

# Clips: speech at two speeds and voices, a chord, noise, near-silence, a 35 s mix, each at
# 16 kHz mono 16-bit, then encoded; and a 44.1 kHz stereo one.
C=$tmp/clips; mkdir -p "$C"
clips() {
    espeak-ng -w "$C/s1.wav" "Is there a dog barking near the river?" &&
    espeak-ng -v en-us -s 220 -w "$C/s2.wav" "The rain falls softly on the old tin roof." &&
    espeak-ng -v en-gb -s 120 -w "$C/s3.wav" "Three birds are singing" &&
    sox -n -r 16000 -c 1 -b 16 "$C/chord.wav" synth 2.5 sine 220 sine 330 sine 440 remix - gain -6 &&
    sox -n -r 16000 -c 1 -b 16 "$C/noise.wav" synth 1.2 pinknoise gain -12 &&
    sox -n -r 16000 -c 1 -b 16 "$C/quiet.wav" synth 0.7 sine 1000 gain -60 &&
    sox -n -r 16000 -c 1 -b 16 "$C/tone35.wav" synth 35 sine 300:900 gain -9 &&
    for s in s1 s2 s3; do sox "$C/$s.wav" -r 16000 -c 1 -b 16 "$C/${s}_16k.wav" || return 1; done &&
    sox "$C/s1_16k.wav" "$C/s1.flac" && sox "$C/s2_16k.wav" -C 128 "$C/s2.mp3" &&
    sox "$C/chord.wav" "$C/chord.flac" && sox "$C/noise.wav" -C 192 "$C/noise.mp3" &&
    sox -n -r 44100 -c 2 -b 16 "$C/stereo44.wav" synth 1.5 sine 440 sine 660 gain -6
}
clips || { echo "FAIL - making the clips with espeak-ng and sox"; exit 1; }

# The rows: "compare" marks the clips llama-mtmd-cli decodes to the same samples we do.
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
C = f"{tmp}/clips"
rows = [("s1_16k.wav", "Is a dog barking?", "yes"), ("s1.flac", " What animal is it? ", "dog"),
        ("s2.mp3", "Is it raining?", "yes"), ("s3_16k.wav", "How many birds are there?", "three"),
        ("chord.wav", "Is music playing?", "yes"), ("chord.flac", "Is this a chord?", "yes"),
        ("noise.mp3", "Is it quiet?", "no"), ("quiet.wav", "Is anything audible?", "no"),
        ("tone35.wav", "Does the pitch rise?", "yes"), ("s2_16k.wav", "Is it snowing?", "no"),
        ("stereo44.wav", "Is it a tone?", "yes")]
with open(f"{tmp}/rows.jsonl", "w") as f, open(f"{tmp}/peer.jsonl", "w") as p:
    for i, (clip, q, a) in enumerate(rows):
        f.write(json.dumps({"file_name": clip, "question": q, "answer": a,
                            "audio": {"file": f"{C}/{clip}", "path": clip}}) + "\n")
        p.write(json.dumps({"doc_id": i, "clip": f"{C}/{clip}", "compare": "44" not in clip,
                            "prompt": q.strip() + " Answer the question using a single word only."}) + "\n")
PY
D="$tmp/mirror/lmms-lab_ClothoAQA/clotho_aqa"; mkdir -p "$D"
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_audio_parquet.cjs" clotho \
    "$tmp/rows.jsonl" "$D/clotho_aqa_test_filtered-00000-of-00001.parquet" ||
    { echo "FAIL - write_audio_parquet.cjs"; exit 1; }

run() { # OUT BATCH
    "$MILL" --output_dir "$tmp/$1" eval "llama[path=$M/alm.gguf,batch_size=$2,threads=2]" \
        clotho_aqa >"$tmp/$1.out" 2>"$tmp/$1.err"
}
run b8 8; rc8=$?
run b1 1; rc1=$?
check "clotho_aqa with 8 clips in flight and with one: exit 0, 11 computed, none failed" \
    "[ $rc8 -eq 0 ] && [ $rc1 -eq 0 ] && grep -q '11 docs (11 computed, 0 resumed, 0 failed)' \
     '$tmp/b8.err' && grep -q '11 docs (11 computed, 0 resumed, 0 failed)' '$tmp/b1.err' || \
     { tail -3 '$tmp/b8.err' '$tmp/b1.err'; false; }"

# peer MODEL OUT...: every comparable clip through llama-mtmd-cli (greedy, 8 tokens, the marker
# before the text as mill puts it; its stdout is "\n" + the generation + "\n\n") against each
# run. With PEER_TMPL=FILE it renders FILE's template (--jinja) around PEER_HEAD + the marker + "\n" + the
# text instead of the model's template around the marker + the text.
peer() {
"$PY" - "$tmp" "$PREFIX/bin/llama-mtmd-cli" "$M" "$@" <<'PY'
import glob, json, os, subprocess, sys
tmp, cli, m, model = sys.argv[1:5]
sys.argv[1:] = sys.argv[4:]
tmpl = os.environ.get("PEER_TMPL")
head, more = (os.environ["PEER_HEAD"], ["--jinja", "--chat-template", open(tmpl).read()]) if tmpl else ("", [])
rows = [json.loads(l) for l in open(f"{tmp}/peer.jsonl")]
bad = 0
peer = {}
for r in rows:
    if not r["compare"]:
        continue
    text = head + "<__media__>" + ("\n" if tmpl else "") + r["prompt"]
    p = subprocess.run([cli, "-m", f"{m}/{model}", "--mmproj", f"{m}/mmproj-alm-F32.gguf",
                        "--audio", r["clip"], "-p", text,
                        "-n", "8", "--temp", "0", "-t", "2", *more], capture_output=True)
    s = p.stdout.decode("utf-8", "replace")
    if p.returncode or not (s.startswith("\n") and s.endswith("\n\n")):
        print(f"llama-mtmd-cli failed on {r['clip']}: {p.returncode} {p.stderr[-300:]!r}")
        bad += 1
    peer[r["doc_id"]] = s[1:-2]
for out in sys.argv[4:]:
    got = {}
    for path in glob.glob(f"{tmp}/{out}/outputs/*/clotho_aqa_0shot.jsonl"):
        for l in open(path, encoding="utf-8"):
            x = json.loads(l)
            got[x["doc_id"]] = x["prediction"]
    for i, want in peer.items():
        if got.get(i) != want:
            print(f"{out} doc {i} ({rows[i]['clip'].rsplit('/', 1)[1]}): mill {got.get(i)!r} "
                  f"!= llama-mtmd-cli {want!r}")
            bad += 1
    if len(got) != len(rows):
        print(f"{out}: {len(got)} predictions for {len(rows)} rows")
        bad += 1
# a model deaf to its audio would pass the comparison too: the clips must tell apart
if len(set(peer.values())) < 4:
    print(f"only {len(set(peer.values()))} distinct generations over {len(peer)} clips")
    bad += 1
print("same: %d clips, %d distinct generations" % (len(peer), len(set(peer.values())))
      if not bad else f"{bad} differ")
PY
}
peer alm.gguf b8 b1 >"$tmp/peer.log" 2>&1
check "generations equal llama-mtmd-cli's, 8 in flight and one ($(tail -1 "$tmp/peer.log"))" \
    "tail -1 '$tmp/peer.log' | grep -q '^same' || { cat '$tmp/peer.log'; false; }"

# Qwen2-Audio's own template, rendered as transformers renders it: a default system turn and
# "Audio 1: " + the clip's tokens + "\n" before the text. llama.cpp's matcher takes it for chatml
# (neither), and llama-mtmd-cli --jinja with the template itself gives the marker no "Audio 1: "
# (it passes the content as a string); so the peer renders that prompt from a template that
# writes it out.
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$M/alm-qa.gguf" \
    --n_embd 64 --type f16 --chat_template qwen2audio >/dev/null ||
    { echo "FAIL - gen_llama --chat_template qwen2audio"; exit 1; }
printf '%s' "<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
{{ messages[0]['content'] }}<|im_end|>
<|im_start|>assistant
" >"$tmp/qwen2audio-prompt.jinja"
"$MILL" --log_level debug --output_dir "$tmp/qa" eval \
    "llama[path=$M/alm-qa.gguf,mmproj=$M/mmproj-alm-F32.gguf,threads=2]" clotho_aqa \
    >"$tmp/qa.out" 2>"$tmp/qa.err"; rc=$?
PEER_TMPL="$tmp/qwen2audio-prompt.jinja" PEER_HEAD="Audio 1: " peer alm-qa.gguf qa \
    >"$tmp/peer-qa.log" 2>&1
check "Qwen2-Audio's template: exit $rc, generations equal llama-mtmd-cli's on transformers' \
prompt ($(tail -1 "$tmp/peer-qa.log"))" \
    "[ $rc -eq 0 ] && tail -1 '$tmp/peer-qa.log' | grep -q '^same' || { cat '$tmp/peer-qa.log'; false; }"
# the generations alone may not tell the prompts apart (the model is tiny and random): the
# prompt itself, logged at debug level, must be transformers' to the byte
printf '%s' "<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
Audio 1: <MEDIA>
What animal is it? Answer the question using a single word only.<|im_end|>
<|im_start|>assistant
" >"$tmp/qa-want.txt"
"$PY" - "$tmp/qa.err" >"$tmp/qa-got.txt" <<'PY'
import re, sys
log = open(sys.argv[1], encoding="utf-8").read()
key = "clotho_aqa doc 1 prompt: "
at = log.find(key)
# the prompt runs to the next log line (each starts with a date and a time)
rest = log[at + len(key):] if at >= 0 else ""
end = re.search(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", rest)
# mill's own media marker (its bytes 0x1f keep a "<__media__>" in a question text), shown here
sys.stdout.write((rest[:end.start()] if end else rest).replace("<\x1fmill-media\x1f>", "<MEDIA>"))
PY
check "... and the prompt is transformers' (system turn, 'Audio 1: ', the clip, a newline, the text)" \
    "cmp -s '$tmp/qa-want.txt' '$tmp/qa-got.txt' || { cat '$tmp/qa-got.txt'; grep -m3 -A2 'prompt: ' '$tmp/qa.err'; false; }"

prov=$(ls "$tmp"/b8/outputs/*/clotho_aqa_0shot.json 2>/dev/null | head -1)
check "the 35 s clip took two windows: 12 media encoded for 11 clips" \
    "grep -q '\"media_encoded\":12' '$prov'"
check "provenance records the projector and its sha256" \
    "grep -q '\"mmproj_sha256\":\"$(sha256sum "$M/mmproj-alm-F32.gguf" | cut -c1-64)\"' '$prov'"
check "the end table scores clotho_aqa" "grep -Eq '^clotho_aqa +[0-9.]+$' '$tmp/b8.out'"

# Log-likelihood after a clip (oracle_alm_ll: each choice scored as the answer to the generation
# prompt, as for images in test_llama_vision.sh) against llama-server --mmproj: the server's
# greedy continuation of each prompt must score its summed log-probs and be greedy, each
# one-token choice the log-prob of its first-position distribution. Every comparable clip gets
# the same question (the clips must move the scores), the 35 s one two windows; a broken clip
# fails its doc alone. Flash attention off on both sides (the peer's notes).
mkdir -p "$tmp/plug/oracle_data" "$tmp/mmpeer"
cp "$BUILD/plugins/oracle.so" "$tmp/plug/"
head -c 200 "$C/s1.flac" >"$C/broken.flac"
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
q = "Is someone speaking? Answer yes or no."
with open(f"{tmp}/mm_reqs.jsonl", "w") as f:
    for r in map(json.loads, open(f"{tmp}/peer.jsonl")):
        if r["compare"]:
            f.write(json.dumps({"context": q, "media": [r["clip"]], "n_greedy": 6,
                                "choices": [" yes", "yes", "no", " No", "A"]}) + "\n")
PY
"$PY" "$SRC/tests/reference/llama_server_peer.py" "$PREFIX/bin/llama-server" "$M/alm.gguf" \
    "$tmp/mmpeer" mmscore "$M/mmproj-alm-F32.gguf" <"$tmp/mm_reqs.jsonl" >"$tmp/mmpeer.jsonl" \
    2>"$tmp/mmpeer.err"
"$PY" "$SRC/tests/reference/mmscore_cases.py" rows "$tmp/mm_reqs.jsonl" "$tmp/mmpeer.jsonl" \
    audios "$C/broken.flac" >"$tmp/plug/oracle_data/alm_ll.jsonl"
for v in kept naive; do
    nv=false; [ $v = naive ] && nv=true
    "$MILL" --output_dir "$tmp/ll-$v" eval \
        "llama[path=$M/alm.gguf,batch_size=8,threads=2,flash_attn=off,naive=$nv]" \
        oracle_alm_ll --task_paths "$tmp/plug/oracle.so" >/dev/null 2>"$tmp/ll-$v.err"
    echo $? >"$tmp/ll-$v.rc"
done
# F16 (4e-4 seen); an MP3's samples differ by a little between libsndfile's mpg123 and
# llama-server's miniaudio (1.8e-3 seen; the noise clip is new on every run)
"$PY" "$SRC/tests/reference/mmscore_cases.py" compare "$tmp/plug/oracle_data/alm_ll.jsonl" \
    audios "$tmp/mmpeer.jsonl" "$tmp/ll-kept" "$tmp/ll-naive" oracle_alm_ll 2e-3 1e-2 8 4 30 \
    >"$tmp/ll.cmp" 2>&1
"$PY" - "$tmp" >>"$tmp/ll.cmp" 2>&1 <<'PY'
import json, sys
peer = [json.loads(l) for l in open(f"{sys.argv[1]}/mmpeer.jsonl")]
# one question for every clip: the clips must move the scores
firsts = [[v["logprob"] for v in p["choices"].values() if v] for p in peer]
spread = max(max(abs(x - y) for x, y in zip(a, b)) for a in firsts for b in firsts)
assert len(peer) == 10 and spread > 0.05, firsts
print("the clips move the scores by up to %.2g" % spread)
PY
check "log-likelihoods after a clip equal llama-server's: exit $(cat "$tmp/ll-kept.rc")/\
$(cat "$tmp/ll-naive.rc"), $(head -1 "$tmp/ll.cmp"); $(tail -1 "$tmp/ll.cmp")" \
    "[ \$(cat '$tmp/ll-kept.rc') -eq 0 ] && [ \$(cat '$tmp/ll-naive.rc') -eq 0 ] && \
     head -1 '$tmp/ll.cmp' | grep -q '^same' && tail -1 '$tmp/ll.cmp' | grep -q '^the clips' ||
     { cat '$tmp/ll.cmp' '$tmp/mmpeer.err'; tail -3 '$tmp/ll-kept.err'; false; }"
finish
