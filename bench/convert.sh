#!/usr/bin/env bash
# convert.sh BUILD_DIR: time and peak RSS of `mill convert` on a random-weight checkpoint of
# Qwen3-0.6B's shape (hidden 1024, 28 layers, 16 heads, 8 KV heads, head_dim 128, FFN 3072,
# vocab 151936, tied, BF16, two shards: tools/gen_hf_llm.py), to F16 and Q8_0, against the
# checkpoint's size and its largest tensor. Goal (issue 16): peak RSS <= 1.2 x the largest
# tensor + 200 MB, time dominated by disk. Needs /usr/bin/time (GNU time) and ~3 GB in $TMPDIR.
set -eu
BUILD=${1:-build}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$SRC/tools/gen_hf_llm.py" --arch qwen3 --out "$tmp/ckpt" --hidden 1024 \
    --layers 28 --heads 16 --kv_heads 8 --head_dim 128 --ff 3072 --extra_vocab 151660 --tied \
    --dtype bf16 --shards 2
ckpt_mb=$(du -m --apparent-size -c "$tmp/ckpt/"*.safetensors | tail -1 | cut -f1)
largest_mb=$(( 151936 * 1024 * 2 / 1048576 ))
echo "checkpoint: ${ckpt_mb} MB BF16 in 2 shards; largest tensor (embed_tokens): ${largest_mb} MB"
echo "goal: peak RSS <= $(( largest_mb * 12 / 10 + 200 )) MB"
for flag in "--dtype bfloat16" "--dtype float16" "--quant Q8_0"; do
    sync
    /usr/bin/time -v "$BUILD/bin/mill" convert "$tmp/ckpt" "$tmp/out.gguf" $flag \
        2>"$tmp/time.log" </dev/null
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.log")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.log")
    out_mb=$(( $(stat -c %s "$tmp/out.gguf") / 1048576 ))
    echo "mill convert $flag: wall ${wall}, peak RSS $(( rss_kb / 1024 )) MB, output ${out_mb} MB"
    rm -f "$tmp/out.gguf"
done
start=$(date +%s.%N)
cat "$tmp/ckpt/"*.safetensors > "$tmp/copy" && sync "$tmp/copy"
echo "disk baseline: copying the checkpoint's bytes to one file and syncing it: $(echo "$(date +%s.%N) - $start" | bc) s"
