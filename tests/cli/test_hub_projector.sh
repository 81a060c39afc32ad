#!/usr/bin/env bash
# test_hub_projector.sh: what a projector (mmproj*.gguf) still on the Hub takes is read from its
# GGUF header with HTTP Range requests before anything is downloaded (BEHAVIOUR.md §5.1), against
# a fake Hub on 127.0.0.1 (tests/reference/fake_hub.py) and esc50_generative on a Parquet fixture
# in ashraq/esc50's layout (tests/reference/write_audio_parquet.cjs, clips written here):
# - a VLM repo (a vision-only projector whose header, 600 KiB of keys, does not fit the first
#   256 KiB prefix) on an audio task: Mill's modality message, exit 1, the projector's header read
#   in growing ranges and no .gguf file downloaded;
# - an audio LM repo: one range request for the header, then the run downloads both files and
#   answers every clip;
# - a server that answers Range requests with the whole file (fake_hub's norange): one warning
#   on stderr, the run goes on as before this check existed (its clips fail one by one);
# - HF_HUB_OFFLINE=1 with the projector cached: the header is read from the cache, the modality
#   message comes, and not a single request is made.
# Needs node's parquet-wasm: fails, never skips.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
BUILD=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
tmp=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib.sh"

for x in "$BUILD/bin/gen_llama" "$NODE_MODULES/parquet-wasm"; do
    [ -e "$x" ] || { echo "FAIL - $x missing"; exit 1; }
done

# ---- the Hub's repos ------------------------------------------------------------------------
SHA=0123456789abcdef0123456789abcdef01234567
R="$tmp/root"
V="$R/models/org/vlm-GGUF/$SHA" A="$R/models/org/alm-GGUF/$SHA"
mkdir -p "$V" "$A"
for r in vlm alm; do
    echo '{"revisions": {"main": "'$SHA'"}, "lfs": ["*.gguf"]}' > "$R/models/org/$r-GGUF/hub.json"
done
"$BUILD/bin/gen_llama" --vocab tiny --type f16 --chat_template chatml --out "$V/vlm-F16.gguf" \
    --mmproj "$tmp/thin.gguf" --v_embd 256 --v_ff 1024 >/dev/null &&
"$BUILD/bin/gen_llama" --vocab tiny --type f16 --chat_template chatml --out "$A/alm-F16.gguf" \
    --amproj "$A/mmproj-alm-F16.gguf" >/dev/null || { echo "FAIL - gen_llama"; exit 1; }
# The VLM's projector gets a 600 KiB string key (ignored by libmtmd) before its tensor infos, so
# that its header ends past the first prefix read: the tensor data are copied unchanged, the
# header rewritten and padded to the file's alignment.
"$PY" - "$tmp/thin.gguf" "$V/mmproj-vlm-F16.gguf" 614400 <<'PY' || { echo "FAIL - padding the header"; exit 1; }
import struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, "rb").read()
magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", b, 0)
assert magic == b"GGUF"
SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def after_str(p):
    return p + 8 + struct.unpack_from("<Q", b, p)[0]
def after_val(t, p):
    if t == 8:
        return after_str(p)
    if t == 9:
        at, k = struct.unpack_from("<IQ", b, p)
        p += 12
        for _ in range(k):
            p = after_val(at, p)
        return p
    return p + SIZE[t]
p, align = 24, 32
for _ in range(n_kv):
    q = after_str(p)
    key = b[p + 8:q].decode()
    (t,) = struct.unpack_from("<I", b, q)
    if key == "general.alignment":
        (align,) = struct.unpack_from("<I", b, q + 4)
    p = after_val(t, q + 4)
kv_end = p
for _ in range(n_tensors):
    p = after_str(p)
    (dims,) = struct.unpack_from("<I", b, p)
    p += 4 + 8 * dims + 4 + 8
data = -(-p // align) * align
def s(x):
    return struct.pack("<Q", len(x)) + x.encode()
head = struct.pack("<4sIQQ", magic, version, n_tensors, n_kv + 1) + b[24:kv_end]
head += s("mill.test.padding") + struct.pack("<I", 8) + s("x" * n) + b[kv_end:p]
head += b"\0" * (-len(head) % align)
open(dst, "wb").write(head + b[data:])
PY
VSIZE=$(stat -c %s "$V/mmproj-vlm-F16.gguf")

# ---- esc50_generative: a local copy of ashraq/esc50 with three clips ----------------------------
C="$tmp/clips" D="$tmp/mirror/ashraq_esc50/data"
mkdir -p "$C" "$D"
"$PY" - "$C" "$tmp/esc50.jsonl" <<'PY'
import json, math, struct, sys, wave
C, rows = sys.argv[1], sys.argv[2]
with open(rows, "w") as f:
    for i, (hz, target, cat) in enumerate([(220, 0, "dog"), (440, 11, "sea_waves"), (880, 42, "siren")]):
        w = wave.open(f"{C}/{i}.wav", "wb")
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * k / 16000)))
                               for k in range(16000)))
        w.close()
        f.write(json.dumps({"filename": f"1-{i}-A-{target}.wav", "fold": 1, "target": target,
                            "category": cat, "esc10": False, "src_file": i, "take": "A",
                            "audio": {"file": f"{C}/{i}.wav", "path": f"1-{i}-A-{target}.wav"}}) + "\n")
PY
NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/write_audio_parquet.cjs" esc50 \
    "$tmp/esc50.jsonl" "$D/train-00000-of-00001.parquet" || { echo "FAIL - write_audio_parquet.cjs"; exit 1; }

# ---- the fake Hub ---------------------------------------------------------------------------
fake_hub "$R" || { finish; exit 1; }
export HF_ENDPOINT="$HUB_URL" HF_HOME="$tmp/hf" MILL_CACHE_DIR="$tmp/cache" \
    MILL_LOCAL_DATASETS="$tmp/mirror"
unset HF_HUB_OFFLINE HF_TOKEN
# gguf_gets FROM: the requests logged since request FROM, as "REQS FULL RANGED BYTES NAMES": REQS
# all of them, FULL the GETs of .gguf files without a Range header (downloads: the Hub redirects
# each to its CDN, counted there), RANGED those with one (at the CDN), BYTES what those asked for,
# NAMES the .gguf files' names.
gguf_gets() {
    curl -s "$HF_ENDPOINT/_stats" | "$PY" -c '
import json, sys
log = json.load(sys.stdin)["log"][int(sys.argv[1]):]
g = [e for e in log if e["method"] == "GET" and e["path"].endswith(".gguf")]
cdn = [e for e in g if e["host"] == "localhost"]
ranged = [e["range"][6:].split("-") for e in cdn if e["range"]]
print(len(log), sum(not e["range"] for e in cdn), len(ranged),
      sum(int(b) - int(a) + 1 for a, b in ranged),
      ",".join(sorted({e["path"].rsplit("/", 1)[1] for e in g})) or "-")' "$1"
}
# esc50 N REPO [VAR=VALUE...]: mill eval REPO (F16) on esc50_generative into $tmp/oN, stderr in
# $tmp/eN, with the variables set; sets rc, and reqs, full, ranged, bytes, names (gguf_gets).
esc50() {
    local n=$1 repo=$2 before
    shift 2
    before=$(nreq)
    env "$@" "$MILL" --output_dir "$tmp/o$n" eval "$repo[dtype=float16,threads=2]" \
        esc50_generative >/dev/null 2>"$tmp/e$n"
    rc=$?
    read -r reqs full ranged bytes names <<<"$(gguf_gets "$before")"
}
MSG="cannot ingest input modalities \['audio'\] required by this task \(it supports \['image', 'text'\]\)"

# A vision-only projector on an audio task: refused from its header alone.
esc50 1 org/vlm-GGUF
check "a Hub VLM on esc50_generative: Mill's modality message naming the model, exit 1" \
    "[ $rc -eq 1 ] && grep -Eq \"LlamaModel \('org/vlm-GGUF'\) $MSG\" '$tmp/e1' || { tail -3 '$tmp/e1'; false; }"
check "no .gguf downloaded, only growing ranges of the projector's header ($ranged requests, $bytes of $VSIZE bytes)" \
    "[ '$full' = 0 ] && [ '$names' = mmproj-vlm-F16.gguf ] && [ '$ranged' -ge 2 ] && [ '$bytes' -lt '$VSIZE' ]"
check "nothing of the VLM repo in the cache but its ref" "[ ! -e '$tmp/hf/hub/models--org--vlm-GGUF/blobs' ]"

# An audio projector: its header takes one range; the run downloads the files and goes on.
esc50 2 org/alm-GGUF
check "a Hub audio LM on esc50_generative: every clip answered" \
    "[ $rc -eq 0 ] && grep -q 'esc50_generative: 3 docs (3 computed, 0 resumed, 0 failed)' '$tmp/e2' || { tail -3 '$tmp/e2'; false; }"
check "one range for its projector's header, then both files downloaded once ($full full, $ranged ranged)" \
    "[ '$full' = 2 ] && [ '$ranged' = 1 ] && [ '$names' = alm-F16.gguf,mmproj-alm-F16.gguf ]"

# A server that ignores Range: one warning, and the check falls back to after the download.
curl -s "$HF_ENDPOINT/_ctl?norange=mmproj-vlm-F16.gguf" >/dev/null
esc50 3 org/vlm-GGUF
check "a Hub without Range requests: one warning on stderr, then the clips fail after the download" \
    "[ $rc -eq 0 ] && [ \$(grep -c 'cannot read the header of the projector mmproj-vlm-F16.gguf of org/vlm-GGUF' '$tmp/e3') = 1 ] && \
     grep -q 'esc50_generative: 3 docs (0 computed, 0 resumed, 3 failed)' '$tmp/e3' && \
     grep -q 'this projector takes no audio' $tmp/o3/outputs/*/esc50_generative_0shot.jsonl || { tail -5 '$tmp/e3'; false; }"
curl -s "$HF_ENDPOINT/_ctl?reset=1" >/dev/null

# Offline with the projector cached (by the run above): its header comes from the cache.
esc50 4 org/vlm-GGUF HF_HUB_OFFLINE=1
check "HF_HUB_OFFLINE=1, projector cached: the modality message from the cached header, zero requests" \
    "[ $rc -eq 1 ] && grep -Eq \"$MSG\" '$tmp/e4' && [ '$reqs' = 0 ] || { tail -3 '$tmp/e4'; echo requests=$reqs; false; }"

finish
