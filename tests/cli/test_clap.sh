#!/usr/bin/env bash
# test_clap.sh: the clap backend and the zero-shot audio tasks (BEHAVIOUR.md §4.6, §4.7: esc50,
# urbansound8k, clotho_aqa_clap) end to end on a random-weight ClapModel checkpoint
# (tools/gen_clap --preset tiny) and Parquet fixtures in the Hub layouts of ashraq/esc50,
# danavery/urbansound8K and lmms-lab/ClothoAQA (tests/reference/write_audio_parquet.cjs: audio as
# {bytes, path} structs holding real clips made here with sox: tones, sweeps, noise; WAV, FLAC,
# MP3 and OGG, 16 to 48 kHz, mono and stereo):
#  - every sample's scores equal tests/reference/clap_ref.py's restatement of the whole path
#    (features with the random crop of clips longer than max_length_s that Python Mill's run
#    makes: np.random.seed(--seed) at the task's start, then transformers' np.random.randint
#    for each long clip in turn; the HTSAT and RoBERTa towers, the caption head,
#    exp(logit_scale_a)) to 1e-4, on esc50 (--seed 42 and 7) and clotho_aqa_clap; the
#    prediction is the argmax, the gold the label;
#  - batch 1 == batch 4, 1 thread == 2 threads, and a second run gives the same crops; a
#    resumed job says its crops are not an uninterrupted run's;
#  - the class head is cached on disk and read back by the next run;
#  - clotho_aqa_clap keeps every row, gold 1 only for the answer "no" (Python Mill's rule);
#  - the bad clips of the UrbanSound8K fixture (zero length, truncated FLAC, no bytes, a label
#    out of range) fail their samples alone, named by doc id; the run goes on (exit 0);
#  - a text task and an image task are refused with Mill's messages before any download; a
#    checkpoint without preprocessor_config.json is a clear error naming the file.
# Needs node's parquet-wasm and sox: fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"
export MILL_LOCAL_DATASETS="$tmp/mirror" MILL_CACHE_DIR="$tmp/cache" HF_HUB_OFFLINE=1

for x in "$BUILD/bin/gen_clap" "$NODE_MODULES/parquet-wasm"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done
command -v sox >/dev/null || { echo "FAIL - sox missing (scripts/deps.sh installs it)"; exit 1; }
"$BUILD/bin/gen_clap" --out "$tmp/ck" --preset tiny --seed 3 >/dev/null 2>&1 ||
    { echo "FAIL - gen_clap"; exit 1; }

# ---- clips (the tiny checkpoint's clips are 2 s: 3 s and 5 s ones are cropped) ------------
C=$tmp/clips; mkdir -p "$C"
s48() { sox -n -r 48000 -c 1 -b 16 "$C/$1" synth "${@:2}"; }
clips() {
    s48 tone.wav 1 sine 440 gain -6 &&
    s48 brown.wav 1.5 brownnoise gain -10 &&
    s48 sweep.wav 3 sine 200:4000 gain -8 &&
    s48 white.wav 0.5 whitenoise gain -12 &&
    s48 chord.wav 2 sine 1000 sine 7000 gain -9 &&
    s48 long.wav 5 pinknoise gain -6 &&
    s48 pluck.wav 2.5 pluck 220 gain -3 &&
    sox -n -r 16000 -c 1 -b 24 "$C/hum.flac" synth 1 sine 60 sine 120 gain -3 &&
    sox -n -r 44100 -c 2 -b 16 "$C/siren.wav" synth 2 sine 600:1200 sine 610:1210 gain -6 &&
    sox "$C/siren.wav" -C 128 "$C/siren.mp3" &&
    sox -n -r 22050 -c 2 "$C/rain.ogg" synth 1.5 brownnoise gain -10 &&
    sox -n -r 48000 -c 1 -b 16 "$C/empty.wav" trim 0 0 &&
    head -c 3000 "$C/hum.flac" >"$C/trunc.flac"
}
clips || { echo "FAIL - making the clips with sox"; exit 1; }

# ---- fixtures -----------------------------------------------------------------------------
"$PY" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
C = f"{tmp}/clips"
def audio(name, path=None):
    return {"file": f"{C}/{name}" if name else None, "path": path or name}
def esc(i, target, cat, clip):
    return {"filename": f"{i}-{i}-A-{target}.wav", "fold": 1, "target": target, "category": cat,
            "esc10": False, "src_file": i, "take": "A", "audio": audio(clip, f"{i}-A.wav")}
esc50 = [esc(1, 0, "dog", "tone.wav"), esc(2, 11, "sea_waves", "brown.wav"),
         esc(3, 42, "siren", "sweep.wav"), esc(4, 30, "door_wood_knock", "white.wav"),
         esc(5, 49, "hand_saw", "chord.wav"), esc(6, 5, "cat", "long.wav"),
         esc(7, 19, "thunderstorm", "pluck.wav")]
def us(i, cls, clip):
    return {"slice_file_name": f"{i}.wav", "fsID": i, "start": 0.0, "end": 1.0, "salience": 1,
            "fold": 1, "classID": cls, "class": "x", "audio": audio(clip)}
us8k = [us(0, 3, "hum.flac"), us(1, 8, "siren.mp3"), us(2, 0, "rain.ogg"), us(3, 8, "empty.wav"),
        us(4, 0, "trunc.flac"), us(5, 5, None), us(6, 10, "tone.wav"), us(7, 1, "long.wav")]
def clo(q, a, clip):
    return {"file_name": clip, "question": q, "answer": a, "audio": audio(clip)}
clotho = [clo("Is a tone playing?", "yes", "tone.wav"), clo("  Is it raining?\n", "No.", "brown.wav"),
          clo("What is the weather like?", "rainy", "white.wav"),
          clo("Is there a siren in the distance?", "YES", "long.wav"),
          clo("Does caf\u00e9 music play?", "no", "chord.wav")]
for name, rows in (("esc50", esc50), ("us8k", us8k), ("clotho", clotho)):
    with open(f"{tmp}/{name}.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
ESC50 = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops",
    "wind", "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing",
    "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing_teeth",
    "snoring", "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing",
    "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm",
    "clock_tick", "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn",
    "engine", "train", "church_bells", "airplane", "fireworks", "hand_saw"]
names = [c.replace("_", " ") for c in ESC50]
cases = [{"doc_id": i, "wav": r["audio"]["file"], "labels": names} for i, r in enumerate(esc50)]
json.dump({"task": "esc50", "template": "This is a sound of {c}.", "cases": cases},
          open(f"{tmp}/esc50_cases.json", "w"))
# Python Mill's clotho_aqa_clap_prompt: every row kept, captions f"{question} {opt}".strip()
cases = [{"doc_id": i, "wav": r["audio"]["file"],
          "labels": [f"{r['question'].strip()} {o}".strip() for o in ("yes", "no")]}
         for i, r in enumerate(clotho)]
json.dump({"task": "clotho_aqa_clap", "template": "{c}", "cases": cases},
          open(f"{tmp}/clotho_cases.json", "w"))
PY
D1="$tmp/mirror/ashraq_esc50/data"; D2="$tmp/mirror/danavery_urbansound8K/data"
D3="$tmp/mirror/lmms-lab_ClothoAQA/clotho_aqa"; mkdir -p "$D1" "$D2" "$D3"
w() { NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_audio_parquet.cjs" "$@"; }
w esc50 "$tmp/esc50.jsonl" "$D1/train-00000-of-00001.parquet" &&
w us8k "$tmp/us8k.jsonl" "$D2/train-00000-of-00001.parquet" &&
w clotho "$tmp/clotho.jsonl" "$D3/clotho_aqa_test_filtered-00000-of-00001.parquet" ||
    { echo "FAIL - write_audio_parquet.cjs"; exit 1; }

run() { "$MILL" --output_dir "$tmp/$1" eval "$2" "$3" >"$tmp/stdout" 2>"$tmp/stderr"; }
out() { echo "$tmp/$1/outputs/${2//\//__}/$3_0shot.jsonl"; }
CK="$tmp/ck"

# ---- esc50 against the reference ----------------------------------------------------------
run a "clap[path=$CK,threads=2]" esc50; rc=$?
check "esc50 runs (exit 0)" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
check "the zero-shot head was built (50 classes x 1 template)" \
    "grep -q 'building a zero-shot head: 50 classes x 1 templates' '$tmp/stderr'"
check "score table row" "grep -Eq '^esc50 +[0-9]\.[0-9]{4}$' '$tmp/stdout'"
"$PY" "$SRC/tests/reference/clap_ref.py" zeroshot "$CK" "$tmp/esc50_cases.json" \
    "$tmp/esc50_ref.jsonl" 2>"$tmp/ref.err" || { echo "clap_ref.py failed:"; tail -5 "$tmp/ref.err"; }
cmp_ref() { "$PY" - "$1" "$2" "$3" <<'PY' 2>&1 | tail -1
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
got = {g["doc_id"]: g for g in map(json.loads, open(sys.argv[2]))}
n = int(sys.argv[3])
assert len(ref) == len(got) == n, (len(ref), len(got))
worst, crops = 0.0, 0
for r in ref:
    g = got[r["doc_id"]]
    assert "error" not in g and len(g["responses"]) == 1, g
    s = g["responses"][0]
    assert len(s) == len(r["scores"]), (len(s), len(r["scores"]))
    d = max(abs(p - q) / max(1.0, abs(q)) for p, q in zip(s, r["scores"]))
    assert d <= 1e-4, "doc %d: a score differs by %.1e" % (r["doc_id"], d)
    worst = max(worst, d)
    assert g["prediction"] == s.index(max(s)), g
    crops += r["crop"] > 0
print("same, max relative score diff %.1e over %d clips (%d cropped)" % (worst, n, crops))
PY
}
r=$(cmp_ref "$tmp/esc50_ref.jsonl" "$(out a "$CK" esc50)" 7)
check "esc50 scores == PyTorch reference to 1e-4 ($r)" '[[ $r == same* && $r == *"(3 cropped)" ]]'
check "gold is the target" "$PY -c \"
import json, sys
g = [json.loads(l)['gold'] for l in open('$(out a "$CK" esc50)')]
assert g == [0, 11, 42, 30, 49, 5, 19], g\""
check "an esc50 line has no metadata (Python Mill's zero-shot Doc has none)" "$PY -c \"
import json
r = json.loads(open('$(out a "$CK" esc50)').readline())
assert 'category' not in r and list(r)[0] == 'model', list(r)\""
check "provenance records the crop rule, the seed and the cropped clips" \
    "grep -q '\"audio_crop\":\"numpy RandomState(seed) per task' $tmp/a/outputs/*/esc50_0shot.json &&
     grep -q '\"audio_crop_seed\":42,\"audio_crop_in_order\":true' $tmp/a/outputs/*/esc50_0shot.json &&
     grep -q '\"clips_cropped\":3' $tmp/a/outputs/*/esc50_0shot.json"
# --seed 7: other crops, still Python Mill's for that seed.
"$MILL" --output_dir "$tmp/s7" eval "clap[path=$CK,threads=2]" esc50 --seed 7 >/dev/null 2>&1
"$PY" -c "import json; d = json.load(open('$tmp/esc50_cases.json')); d['seed'] = 7; json.dump(d, open('$tmp/esc50_cases7.json', 'w'))"
"$PY" "$SRC/tests/reference/clap_ref.py" zeroshot "$CK" "$tmp/esc50_cases7.json" \
    "$tmp/esc50_ref7.jsonl" 2>"$tmp/ref.err" || { echo "clap_ref.py failed:"; tail -5 "$tmp/ref.err"; }
r=$(cmp_ref "$tmp/esc50_ref7.jsonl" "$(out s7 "$CK" esc50)" 7)
check "esc50 --seed 7 == reference with seed 7 ($r), whose crops differ from seed 42's" \
    "[[ \$r == same* ]] && ! cmp -s <(cut -d, -f2 '$tmp/esc50_ref.jsonl') <(cut -d, -f2 '$tmp/esc50_ref7.jsonl')"
# A resumed job: its first request is not doc 0, so its crops are not the uninterrupted run's.
"$MILL" --output_dir "$tmp/rs" --limit 3 eval "clap[path=$CK]" esc50 >/dev/null 2>&1
"$MILL" --output_dir "$tmp/rs" eval "clap[path=$CK]" esc50 >/dev/null 2>"$tmp/rs.err"
check "a resumed job says, once, at its first crop (doc 5), that its crops differ; so does its provenance" \
    "[ \$(grep -c 'esc50 doc 5: the docs before it were not all run in this pass' '$tmp/rs.err') -eq 1 ] &&
     [ \$(grep -c 'crops of long clips' '$tmp/rs.err') -eq 1 ] &&
     grep -q '\"audio_crop_in_order\":false' $tmp/rs/outputs/*/esc50_0shot.json"

run b "clap[path=$CK,batch_size=1,threads=1]" esc50
check "the second run reads the head from the disk cache" \
    "! grep -q 'building a zero-shot head' '$tmp/stderr' && [ -n \"\$(ls '$tmp/cache/clap_heads')\" ]"
run c "clap[path=$CK,batch_size=4,threads=2]" esc50
check "batch 1 / 1 thread == batch 4 / 2 threads == first run (crops included)" \
    "compare '$tmp/b' '$tmp/c' esc50_0shot 1e-5 >/dev/null &&
     compare '$tmp/a' '$tmp/c' esc50_0shot 1e-5 >/dev/null"

# ---- clotho_aqa_clap ----------------------------------------------------------------------
run d "hf_clap[path=$CK]" clotho_aqa_clap; rc=$?
check "clotho_aqa_clap runs through the hf_clap alias (exit 0)" \
    "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
"$PY" "$SRC/tests/reference/clap_ref.py" zeroshot "$CK" "$tmp/clotho_cases.json" \
    "$tmp/clotho_ref.jsonl" 2>"$tmp/ref.err" || { echo "clap_ref.py failed:"; tail -5 "$tmp/ref.err"; }
r=$(cmp_ref "$tmp/clotho_ref.jsonl" "$(out d "$CK" clotho_aqa_clap)" 5)
check "clotho_aqa_clap: every row scored (as Python Mill), == reference ($r)" \
    '[[ $r == same* ]]'
check "clotho_aqa_clap metadata: question and options, as Python Mill's" "$PY -c \"
import json
r = json.loads(open('$(out d "$CK" clotho_aqa_clap)').readline())
assert list(r)[:3] == ['question', 'options', 'model'] and r['options'] == ['yes', 'no'], r\""
check "clotho_aqa_clap gold: 1 for 'no' only ('No.' and 'rainy' are 0, as Python Mill's)" "$PY -c \"
import json
g = [(json.loads(l)['doc_id'], json.loads(l)['gold']) for l in open('$(out d "$CK" clotho_aqa_clap)')]
assert sorted(g) == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1)], g\""

# The benchmark clotho_aqa picks clotho_aqa_clap for CLAP (pick_variant_by_model): the job
# just run is the one it names, so it is Cached, and no generative job is started.
run d "hf_clap[path=$CK]" clotho_aqa; rc=$?
check "benchmark clotho_aqa on CLAP runs clotho_aqa_clap (Cached here), not clotho_aqa" \
    "[ $rc -eq 0 ] && grep -q 'Cached clotho_aqa_clap' '$tmp/stderr' && ! ls $tmp/d/outputs/*/clotho_aqa_0shot.jsonl 2>/dev/null"

# ---- urbansound8k: codecs, rates, channels and bad clips ----------------------------------
run e "clap[path=$CK]" urbansound8k; rc=$?
check "urbansound8k with bad clips still exits 0" "[ $rc -eq 0 ] || { tail -3 '$tmp/stderr'; false; }"
r=$("$PY" - "$(out e "$CK" urbansound8k)" <<'PY' 2>&1 | tail -1
import json, sys
rows = {r["doc_id"]: r for r in map(json.loads, open(sys.argv[1]))}
ok = [i for i, r in rows.items() if "error" not in r]
assert sorted(ok) == [0, 1, 2, 7], ok
for i in ok:
    assert len(rows[i]["responses"][0]) == 10, rows[i]
errs = {i: r["error"] for i, r in rows.items() if "error" in r}
assert sorted(errs) == [3, 4, 5, 6], errs
assert "audio" in errs[3] and "audio" in errs[4], errs
assert "no audio bytes" in errs[5] and "classID" in errs[6], errs
print("ok")
PY
)
check "FLAC 16 kHz, MP3 44.1 kHz stereo, OGG 22 kHz and a long WAV scored; empty, truncated, \
no-bytes and out-of-range rows fail alone ($r)" '[ "$r" = ok ]'
check "the failures are reported on stderr by doc id" \
    "(for d in 3 4 5 6; do grep -Eq \"urbansound8k doc \$d( \\(key [^)]*\\))? failed: \" '$tmp/stderr' || exit 1; done)"

# ---- refusals ------------------------------------------------------------------------------
expect_exit "a text task is refused before any download" 1 "supports .*zero_shot" \
    --output_dir "$tmp/f" eval "clap[path=$CK]" mmlu_abstract_algebra
expect_exit "an image task is refused (modalities) before any download" 1 "modalit" \
    --output_dir "$tmp/f" eval "clap[path=$CK]" cifar10
cp -r "$CK" "$tmp/nopre" && rm "$tmp/nopre/preprocessor_config.json"
expect_exit "a checkpoint without preprocessor_config.json: a clear error" 1 \
    "preprocessor_config.json" --output_dir "$tmp/f" eval "clap[path=$tmp/nopre]" esc50
finish
