#!/usr/bin/env bash
# test_audio_tasks.sh: the generative audio tasks (BEHAVIOUR.md §4.6, §4.7: clotho_aqa,
# esc50_generative, urbansound8k_generative) on Parquet fixtures in the Hub layouts of
# lmms-lab/ClothoAQA, ashraq/esc50 and danavery/urbansound8K (tests/reference/
# write_audio_parquet.cjs: audio as {bytes, path} structs holding real clips made here with
# espeak-ng and sox, encoded as WAV, FLAC, MP3 and OGG):
#  - `mill prompts` of the three tasks equals, byte for byte, what Python Mill's prompt
#    functions build from the same rows (restated below with CPython);
#  - `mill eval` with a tiny random-weight audio LM (tools/gen_llama --amproj) runs all three
#    end to end; the bad clips of the UrbanSound8K fixture (zero length, truncated FLAC, a codec
#    libsndfile does not read, a sample rate of 0, no audio, a label out of range) fail their
#    samples alone, each named by doc id with the reason, and the run goes on (exit 0);
#  - through the replay backend, realistic answers get the metric values
#    tests/reference/audio_metrics_oracle.py gives, and the end table the mean;
#  - a projector without an audio encoder, and a text-only model, meet an audio task: Mill's
#    modality message (exit 1) before any download (the Hub is unreachable).
# Needs node's parquet-wasm, sox, lame and espeak-ng: fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PREFIX=${MILL_LLAMA_PREFIX:-$HOME/.cache/mill/deps/llama.cpp-v0.5.0}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache"

for x in "$BUILD/bin/gen_llama" "$NODE_MODULES/parquet-wasm"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done
for x in sox espeak-ng; do
    command -v $x >/dev/null || { echo "FAIL - $x missing (scripts/deps.sh installs it)"; exit 1; }
done

# ---- clips --------------------------------------------------------------------------------
C=$tmp/clips; mkdir -p "$C"
clips() {
    espeak-ng -w "$C/speech.wav" "A dog is barking in the yard" &&
    espeak-ng -v en-us -s 200 -w "$C/speech2.wav" "Is it raining on the roof?" &&
    sox "$C/speech.wav" -r 16000 -c 1 "$C/speech.flac" &&
    sox "$C/speech2.wav" -C 128 "$C/speech2.mp3" &&
    sox -n -r 44100 -c 2 -b 16 "$C/siren.wav" synth 2 sine 600:1200 sine 610:1210 gain -6 &&
    sox -n -r 22050 -c 1 "$C/rain.ogg" synth 1.5 brownnoise gain -10 &&
    sox -n -r 16000 -c 1 -b 24 "$C/hum.flac" synth 1 sine 60 sine 120 gain -3 &&
    sox -n -r 48000 -c 1 "$C/beep.mp3" synth 0.4 square 880 gain -12
}
clips || { echo "FAIL - making the clips with espeak-ng and sox"; exit 1; }
# Bad clips: no frames; half a FLAC; AC-3 in a WAV and an MP4 stub (codecs libsndfile does not
# read); a WAV whose header says 0 Hz.
"$PY" - "$C" <<'PY'
import struct, sys, wave
C = sys.argv[1]
w = wave.open(f"{C}/empty.wav", "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(b""); w.close()
flac = open(f"{C}/speech.flac", "rb").read()
open(f"{C}/trunc.flac", "wb").write(flac[: len(flac) // 2])
wav = bytearray(open(f"{C}/speech.wav", "rb").read())
assert wav[:4] == b"RIFF" and wav[12:16] == b"fmt "
ac3 = bytearray(wav); ac3[20:22] = struct.pack("<H", 0x2000); open(f"{C}/ac3.wav", "wb").write(ac3)
zero = bytearray(wav); zero[24:32] = bytes(8); open(f"{C}/rate0.wav", "wb").write(zero)
open(f"{C}/aac.m4a", "wb").write(struct.pack(">I", 24) + b"ftypM4A \0\0\0\0M4A isom" + bytes(64))
PY

# ---- fixtures -----------------------------------------------------------------------------
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
C = f"{tmp}/clips"
def audio(name, path=None):
    return {"file": f"{C}/{name}" if name else None, "path": path or name}
clotho = [
    {"file_name": "a.wav", "question": "Is a dog barking?", "answer": "yes", "audio": audio("speech.wav")},
    {"file_name": "b.mp3", "question": "  Is it raining?\n", "answer": "Yes", "audio": audio("speech2.mp3")},
    {"file_name": "c.ogg", "question": "what is the weather like?", "answer": "rainy", "audio": audio("rain.ogg")},
    {"file_name": "d.flac", "question": "", "answer": "no", "audio": audio("hum.flac")},
    {"file_name": "e.wav", "question": None, "answer": None, "audio": audio("siren.wav")},
    {"file_name": "f.mp3", "question": "Is the sound \u00ablow\u00bb? \u2014 caf\u00e9", "answer": "no.", "audio": audio("beep.mp3")},
]
esc50 = [
    {"filename": "1-100032-A-0.wav", "fold": 1, "target": 0, "category": "dog", "esc10": True,
     "src_file": 100032, "take": "A", "audio": audio("speech.flac", "1-100032-A-0.wav")},
    {"filename": "1-1-A-11.wav", "fold": 1, "target": 11, "category": "sea_waves", "esc10": False,
     "src_file": 1, "take": "A", "audio": audio("rain.ogg", "1-1-A-11.wav")},
    {"filename": "2-2-A-42.wav", "fold": 2, "target": 42, "category": "siren", "esc10": False,
     "src_file": 2, "take": "A", "audio": audio("siren.wav", "2-2-A-42.wav")},
    {"filename": "3-3-B-30.wav", "fold": 3, "target": 30, "category": "door_wood_knock", "esc10": False,
     "src_file": 3, "take": "B", "audio": audio("beep.mp3", "3-3-B-30.wav")},
    {"filename": "4-4-A-49.wav", "fold": 4, "target": 49, "category": "hand_saw", "esc10": False,
     "src_file": 4, "take": "A", "audio": audio("hum.flac", "4-4-A-49.wav")},
]
us8k = [
    {"slice_file_name": "100032-3-0-0.wav", "fsID": 100032, "start": 0.0, "end": 0.317, "salience": 1,
     "fold": 5, "classID": 3, "class": "dog_bark", "audio": audio("speech.wav", "100032-3-0-0.wav")},
    {"slice_file_name": "empty.wav", "fsID": 1, "start": 0.0, "end": 0.0, "salience": 1, "fold": 1,
     "classID": 8, "class": "siren", "audio": audio("empty.wav")},
    {"slice_file_name": "trunc.flac", "fsID": 2, "start": 0.0, "end": 1.0, "salience": 1, "fold": 1,
     "classID": 0, "class": "air_conditioner", "audio": audio("trunc.flac")},
    {"slice_file_name": "102305-6-0-0.wav", "fsID": 102305, "start": 0.0, "end": 2.0, "salience": 1,
     "fold": 1, "classID": 6, "class": "gun_shot", "audio": audio("beep.mp3", "102305-6-0-0.wav")},
    {"slice_file_name": "ac3.wav", "fsID": 3, "start": 0.0, "end": 1.0, "salience": 2, "fold": 2,
     "classID": 9, "class": "street_music", "audio": audio("ac3.wav")},
    {"slice_file_name": "rate0.wav", "fsID": 4, "start": 0.0, "end": 1.0, "salience": 2, "fold": 2,
     "classID": 1, "class": "car_horn", "audio": audio("rate0.wav")},
    {"slice_file_name": "aac.m4a", "fsID": 5, "start": 0.0, "end": 1.0, "salience": 2, "fold": 2,
     "classID": 4, "class": "drilling", "audio": audio("aac.m4a")},
    {"slice_file_name": "nobytes.wav", "fsID": 6, "start": 0.0, "end": 1.0, "salience": 2, "fold": 2,
     "classID": 5, "class": "engine_idling", "audio": audio(None, "nobytes.wav")},
    {"slice_file_name": "7061-6-0-0.wav", "fsID": 7061, "start": 0.5, "end": 2.0, "salience": 1,
     "fold": 3, "classID": 10, "class": "?", "audio": audio("siren.wav", "7061-6-0-0.wav")},
    {"slice_file_name": "7383-8-0-0.wav", "fsID": 7383, "start": 0.0, "end": 2.0, "salience": 1,
     "fold": 3, "classID": 8, "class": "siren", "audio": audio("siren.wav", "7383-8-0-0.wav")},
]
for name, rows in (("clotho", clotho), ("esc50", esc50), ("us8k", us8k)):
    with open(f"{tmp}/{name}.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
PY
D1="$tmp/mirror/lmms-lab_ClothoAQA/clotho_aqa"; D2="$tmp/mirror/ashraq_esc50/data"
D3="$tmp/mirror/danavery_urbansound8K/data"; mkdir -p "$D1" "$D2" "$D3"
w() { NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_audio_parquet.cjs" "$@"; }
w clotho "$tmp/clotho.jsonl" "$D1/clotho_aqa_test_filtered-00000-of-00001.parquet" &&
w esc50 "$tmp/esc50.jsonl" "$D2/train-00000-of-00001.parquet" &&
w us8k "$tmp/us8k.jsonl" "$D3/train-00000-of-00001.parquet" ||
    { echo "FAIL - write_audio_parquet.cjs"; exit 1; }

# ---- prompts ------------------------------------------------------------------------------
# Python Mill's prompt functions (mill/tasks/{clotho_aqa,esc50,urbansound8k}/task.py), restated;
# each line as `mill prompts` prints it; a row whose prompt raises is {"failed": doc_id}.
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
ESC50 = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops",
    "wind", "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing",
    "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing_teeth",
    "snoring", "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing",
    "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm",
    "clock_tick", "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn",
    "engine", "train", "church_bells", "airplane", "fireworks", "hand_saw"]
US8K = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music"]
def clotho(row):
    question = (row.get("question") or "").strip()
    return f"{question} Answer the question using a single word only.", None, str(row.get("answer", ""))
def generative(names, label):
    names = [c.replace("_", " ") for c in names]
    instr = ("Listen to the audio and identify the sound. Choose exactly one category from "
             "the list and answer with the category name only.\nCategories: " + ", ".join(names) + ".")
    def prompt(row):
        if not 0 <= int(row[label]) < len(names):  # ours refuses what Python would wrap or raise on
            raise IndexError(row[label])
        return instr, names, names[int(row[label])]
    return prompt
for task, src, fn in (("clotho_aqa", "clotho", clotho), ("esc50_generative", "esc50", generative(ESC50, "target")),
                      ("urbansound8k_generative", "us8k", generative(US8K, "classID"))):
    with open(f"{tmp}/want_{task}.jsonl", "w") as f:
        for i, l in enumerate(open(f"{tmp}/{src}.jsonl")):
            row = json.loads(l)
            try:
                if row["audio"] is None or row["audio"]["file"] is None:
                    raise KeyError("audio")
                ctx, choices, target = fn(row)
            except (KeyError, IndexError):
                f.write(json.dumps({"failed": i}) + "\n")
                continue
            f.write(json.dumps({"task": task, "doc_id": i, "context": ctx, "choices": choices,
                                "target": target, "audios": 1},  # ours: the clip's count
                               ensure_ascii=False, separators=(",", ":")) + "\n")
PY
for task in clotho_aqa esc50_generative urbansound8k_generative; do
    "$MILL" prompts $task >"$tmp/got_$task.jsonl" 2>"$tmp/prompts_$task.err"; rc=$?
    r=$("$PY" - "$tmp/want_$task.jsonl" "$tmp/got_$task.jsonl" "$task" <<'PY' 2>&1 | tail -1
import json, sys
want = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
# `mill prompts clotho_aqa` names the benchmark too, which prints clotho_aqa_clap's prompts as well
got = [g for g in got if g["task"] == sys.argv[3]]
good = [w for w in want if "failed" not in w]
assert len(got) == len(good), "%d prompts, the oracle has %d" % (len(got), len(good))
for g, w in zip(got, good):
    assert g == w, "doc %s: mill %r, python %r" % (w["doc_id"], g, w)
print("same: %d prompts" % len(good))
PY
)
    check "mill prompts $task equals Python Mill's prompts ($r)" "[ $rc -eq 0 ] && [[ '$r' == same:* ]]"
done
check "mill prompts: the row without audio bytes and the label out of range are reported" \
    "grep -q 'urbansound8k_generative doc 7: .*no audio bytes for nobytes.wav' '$tmp/prompts_urbansound8k_generative.err' && \
     grep -q 'urbansound8k_generative doc 8: .*classID is not a class index in \[0, 10)' \
     '$tmp/prompts_urbansound8k_generative.err'"

# ---- eval with a tiny audio LM ------------------------------------------------------------
M=$tmp/alm; mkdir -p "$M" "$tmp/vlm" "$tmp/text"
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$M/alm.gguf" \
    --n_embd 64 --type f16 --chat_template chatml --amproj "$M/mmproj-alm-F32.gguf" >/dev/null &&
"$BUILD/bin/gen_llama" --vocab "$PREFIX/share/vocab/ggml-vocab-qwen2.gguf" --out "$tmp/vlm/vlm.gguf" \
    --n_embd 64 --chat_template chatml --mmproj "$tmp/vlm/mmproj-vlm.gguf" >/dev/null &&
"$BUILD/bin/gen_llama" --vocab tiny --out "$tmp/text/text.gguf" --n_embd 32 >/dev/null ||
    { echo "FAIL - gen_llama"; exit 1; }
"$MILL" --output_dir "$tmp/o" eval "llama[path=$M/alm.gguf,batch_size=4,threads=2]" \
    clotho_aqa,esc50_generative,urbansound8k_generative >"$tmp/o.out" 2>"$tmp/o.err"; rc=$?
check "eval of the three tasks with a tiny audio LM: exit 0, bad clips failed alone" \
    "[ $rc -eq 0 ] && grep -q 'clotho_aqa: 6 docs (6 computed, 0 resumed, 0 failed)' '$tmp/o.err' && \
     grep -q 'esc50_generative: 5 docs (5 computed, 0 resumed, 0 failed)' '$tmp/o.err' && \
     grep -q 'urbansound8k_generative: 10 docs (3 computed, 0 resumed, 7 failed)' '$tmp/o.err' \
     || { tail -5 '$tmp/o.err'; false; }"
for want in "doc 1 failed: audio 1 empty.wav does not decode: audio: empty stream" \
    "doc 2 failed: audio 1 trunc.flac does not decode: audio: decode failed after [0-9]+ frames" \
    "doc 4 failed: audio 1 ac3.wav does not decode: audio: not a recognised format" \
    "doc 5 failed: audio 1 rate0.wav does not decode: audio: not a recognised format" \
    "doc 6 failed: audio 1 aac.m4a does not decode: audio: not a recognised format" \
    "doc 7 failed: urbansound8k_generative: the row has no audio bytes for nobytes.wav" \
    "doc 8 failed: urbansound8k_generative: the row.s classID is not a class index"; do
    check "a bad sample is named with its reason: $want" \
        "grep -Eq 'urbansound8k_generative $want' '$tmp/o.err'"
done
check "failed samples carry their error in the per-sample file" \
    "[ \$(grep -c '\"error\":' $tmp/o/outputs/*/urbansound8k_generative_0shot.jsonl) -eq 7 ]"
check "an esc50_generative line leads with its category (Python Mill's metadata)" \
    "head -1 $tmp/o/outputs/*/esc50_generative_0shot.jsonl | grep -q '^{\"category\":\"dog\",'"
check "the end table scores all three tasks" \
    "[ \$(grep -Ec '^(clotho_aqa|esc50_generative|urbansound8k_generative) +[0-9.]+$' '$tmp/o.out') -eq 3 ]"
# The benchmarks pick the generative variant for an audio LM (pick_variant_by_model): the jobs
# just run (complete, no failed doc) are the ones they name, so both are Cached, no CLAP task.
"$MILL" --output_dir "$tmp/o" eval "llama[path=$M/alm.gguf,batch_size=4,threads=2]" \
    clotho_aqa,esc50 >"$tmp/b.out" 2>"$tmp/b.err"; rc=$?
check "benchmarks clotho_aqa and esc50 on an audio LM run clotho_aqa and esc50_generative" \
    "[ $rc -eq 0 ] && grep -q 'Cached clotho_aqa ' '$tmp/b.err' && grep -q 'Cached esc50_generative' '$tmp/b.err' && \
     ! ls $tmp/o/outputs/*/esc50_0shot.jsonl $tmp/o/outputs/*/clotho_aqa_clap_0shot.jsonl 2>/dev/null \
     || { tail -5 '$tmp/b.err'; false; }"

# ---- metrics end to end, through replay ---------------------------------------------------
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
answers = {
    "clotho_aqa": ["Yes.", "yes", "It is rainy", "No", "none", "Nope"],
    "esc50_generative": ["Dog barking.", "sea_waves", "A police siren and a car horn", "door wood creaks", "hand saw"],
    "urbansound8k_generative": ["DOG BARK", "siren", "Air conditioner humming", "gunshot",
                                "street_music", "car horn, siren", "Jackhammer drilling", "x",
                                "x", "Siren."],
}
with open(f"{tmp}/replay.jsonl", "w") as f:
    for task, rs in answers.items():
        for i, r in enumerate(rs):
            f.write(json.dumps({"task": task, "doc_id": i, "response": r}) + "\n")
PY
"$MILL" --output_dir "$tmp/r" eval "replay[file=$tmp/replay.jsonl]" \
    clotho_aqa,esc50_generative,urbansound8k_generative >"$tmp/r.out" 2>"$tmp/r.err"; rc=$?
r=$("$PY" - "$tmp" "$SRC/tests/reference/audio_metrics_oracle.py" <<'PY' 2>&1 | tail -1
import glob, json, subprocess, sys
tmp, oracle = sys.argv[1:3]
metric = {"clotho_aqa": "clotho_aqa_exact_match", "esc50_generative": "esc50_gen_acc",
          "urbansound8k_generative": "urbansound8k_gen_acc"}
prompts = {}
for task in metric:
    for l in open(f"{tmp}/got_{task}.jsonl"):
        p = json.loads(l)
        prompts[task, p["doc_id"]] = p
lines, got = [], []
for task, m in metric.items():
    for path in glob.glob(f"{tmp}/r/outputs/*/{task}_0shot.jsonl"):
        for l in open(path, encoding="utf-8"):
            x = json.loads(l)
            if "error" in x:
                continue
            p = prompts[task, x["doc_id"]]
            lines.append(json.dumps({"metric": m, "response": x["prediction"], "gold": x["gold"],
                                     "classes": p["choices"] or []}))
            got.append(x[m])
want = subprocess.run([oracle], input="\n".join(lines) + "\n", capture_output=True, text=True,
                      check=True).stdout.split()
assert len(want) == len(got) == 19, (len(want), len(got))  # replay decodes no audio
bad = [(l, g, w) for l, g, w in zip(lines, got, want) if g != float(w)]
assert not bad, bad
print("same: %d values, %d ones" % (len(got), sum(got)))
PY
)
check "replay: per-sample metric values equal the oracle's ($r)" \
    "[ $rc -eq 0 ] && [[ '$r' == same:* ]]"
check "replay: the end table holds the means (clotho 4/6, esc50 3/5, us8k 6/8)" \
    "grep -Eq '^clotho_aqa +0.6667$' '$tmp/r.out' && grep -Eq '^esc50_generative +0.6000$' '$tmp/r.out' && \
     grep -Eq '^urbansound8k_generative +0.7500$' '$tmp/r.out' || { cat '$tmp/r.out'; false; }"

# ---- models that cannot listen: before any download ---------------------------------------
for task in clotho_aqa esc50_generative; do
    HF_ENDPOINT=http://127.0.0.1:9 HF_HOME="$tmp/hf" MILL_LOCAL_DATASETS= expect_exit \
        "an image-only projector on $task: Mill's modality message, exit 1, nothing fetched" 1 \
        "cannot ingest input modalities \['audio'\] required by this task \(it supports \['image', 'text'\]\)" \
        --output_dir "$tmp/x1" eval "llama[path=$tmp/vlm/vlm.gguf]" $task
done
HF_ENDPOINT=http://127.0.0.1:9 HF_HOME="$tmp/hf" MILL_LOCAL_DATASETS= expect_exit \
    "a text-only model on urbansound8k_generative: Mill's modality message, exit 1" 1 \
    "cannot ingest input modalities \['audio'\] required by this task \(it supports \['text'\]\)" \
    --output_dir "$tmp/x2" eval "llama[path=$tmp/text/text.gguf]" urbansound8k_generative
check "nothing was downloaded" "[ ! -e '$tmp/hf' ]"
finish
