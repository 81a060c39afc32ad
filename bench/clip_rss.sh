#!/usr/bin/env bash
# bench/clip_rss.sh: memory of a long zero-shot stream. Runs `mill eval clip[...] cifar10` over
# 50,000 synthetic samples (50 WebDataset shards of 1,000 32x32 WebP images in the layout of
# haideraltahan/wds_cifar10, tools/gen_wds) with a small random CLIP at 224 px (tools/gen_clip:
# the whole decode -> Pillow-exact resize -> encode path runs for every image), sampling the
# process's RSS as samples are written. Checks the issue's bound: peak RSS <= model + 300 MB,
# and flatness: the highest RSS over the second half of the stream within 16 MB of the highest
# over the first half (a leak grows with the samples; allocator noise does not).
# The ratio printed is peak RSS / (model + 300 MB) (goal <= 1).
#
# Usage: bash bench/clip_rss.sh [BUILD_DIR]   Env: CLIP_RSS_SHARDS (50), CLIP_RSS_PER_SHARD (1000)
# Writes only a temporary directory, removed at exit. Exit 1 when a bound is missed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
SHARDS=${CLIP_RSS_SHARDS:-50}
PER=${CLIP_RSS_PER_SHARD:-1000}
N=$((SHARDS * PER))
TMP=$(mktemp -d /tmp/mill_clip_rss.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

D="$TMP/mirror/haideraltahan_wds_cifar10/test"
mkdir -p "$D"
for i in $(seq 0 $((SHARDS - 1))); do
    "$BUILD/bin/gen_wds" --out "$D/$(printf %06d "$i").tar" --n "$PER" --seed $((i + 1)) ||
        { echo "clip_rss.sh: gen_wds failed" >&2; exit 2; }
done
"$BUILD/bin/gen_clip" --out "$TMP/ck" --format open_clip --preset tiny --image_size 224 \
    --patch_size 32 --seed 3 >/dev/null || { echo "clip_rss.sh: gen_clip failed" >&2; exit 2; }
MODEL_KB=$(du -sk "$TMP/ck" | cut -f1)

export MILL_LOCAL_DATASETS="$TMP/mirror" MILL_CACHE_DIR="$TMP/cache"
/usr/bin/time -f "%M" -o "$TMP/maxrss" "$BUILD/bin/mill" --output_dir "$TMP/out" \
    eval "clip[path=$TMP/ck]" cifar10 >"$TMP/stdout" 2>"$TMP/stderr" &
tpid=$!
sleep 0.2
mpid=$(pgrep -P "$tpid" | head -1)
t0=$(date +%s.%N)
: >"$TMP/samples"
while kill -0 "$tpid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$mpid/status" 2>/dev/null)
    f=$(ls "$TMP"/out/outputs/*/cifar10_0shot.jsonl 2>/dev/null | head -1)
    done_n=$([ -n "$f" ] && wc -l <"$f" || echo 0)
    [ -n "$rss" ] && echo "$done_n $rss" >>"$TMP/samples"
    sleep 0.5
done
wait "$tpid"; rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc -l)
[ $rc -eq 0 ] || { echo "clip_rss.sh: mill failed ($rc)"; tail -5 "$TMP/stderr"; exit 1; }
scored=$(grep -c '"acc"' "$TMP"/out/outputs/*/cifar10_0shot.jsonl)
PEAK_KB=$(cat "$TMP/maxrss")
# RSS after 10% of the samples, at the last reading, and the maxima of each half of the stream.
read -r r10 rend h1 h2 < <(awk -v n="$N" '$1 >= n / 10 && !a { a = $2 } { last = $2 }
    $1 < n / 2 && $2 > m1 { m1 = $2 } $1 >= n / 2 && $2 > m2 { m2 = $2 }
    END { print a + 0, last + 0, m1 + 0, m2 + 0 }' "$TMP/samples")
LIMIT_KB=$((MODEL_KB + 300 * 1024))
echo "== clip_rss: $scored/$N samples scored in $(printf %.0f "$secs") s ($(printf %.0f "$(echo "$N / $secs" | bc -l)") img/s), $(wc -l <"$TMP/samples") RSS readings"
printf "model on disk          %8.1f MB\n" "$(echo "$MODEL_KB / 1024" | bc -l)"
printf "peak RSS               %8.1f MB   (bound model + 300 MB = %.1f MB)\n" \
    "$(echo "$PEAK_KB / 1024" | bc -l)" "$(echo "$LIMIT_KB / 1024" | bc -l)"
printf "RSS after 10%%          %8.1f MB\n" "$(echo "$r10 / 1024" | bc -l)"
printf "RSS at the end         %8.1f MB   (growth %+.1f MB)\n" "$(echo "$rend / 1024" | bc -l)" \
    "$(echo "($rend - $r10) / 1024" | bc -l)"
echo "RSS (MB) by samples written: $(awk -v n="$N" 'BEGIN { split("0.1 0.25 0.5 0.75 0.9", q) }
    { for (i = 1; i <= 5; i++) if (!(i in got) && $1 >= q[i] * n) { got[i] = 1; printf "%d%% %.1f  ", q[i] * 100, $2 / 1024 } }' "$TMP/samples")"
printf "peak / bound           %8.3f      (goal <= 1)\n" "$(echo "$PEAK_KB / $LIMIT_KB" | bc -l)"
status=0
[ "$scored" -eq "$N" ] || { echo "FAIL: $scored of $N samples scored"; status=1; }
[ "$PEAK_KB" -le "$LIMIT_KB" ] || { echo "FAIL: peak RSS above model + 300 MB"; status=1; }
printf "highest RSS, 1st half  %8.1f MB\nhighest RSS, 2nd half  %8.1f MB\n" \
    "$(echo "$h1 / 1024" | bc -l)" "$(echo "$h2 / 1024" | bc -l)"
[ $((h2 - h1)) -le 16384 ] || { echo "FAIL: RSS grew by more than 16 MB from the first half to the second"; status=1; }
[ $status -eq 0 ] && echo "ok: flat and within the bound"
exit $status
