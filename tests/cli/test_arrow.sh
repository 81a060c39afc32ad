#!/usr/bin/env bash
# test_arrow.sh: `.arrow` data files (datasets' arrow builder: Arrow IPC, stream and file
# formats) through `mill data head` (the dataset layer eval uses), against the rows the Arrow
# project's JavaScript implementation reads back from the files it wrote
# (tests/reference/arrow_fixtures.cjs: every integer width, floats, strings, binary, booleans,
# nulls, lists, large and fixed-size lists, structs, lists of structs, maps, an image-like
# {bytes, path} struct, a dictionary replaced per batch or extended by a delta, dictionaries in
# a list and a struct, half floats, dates, timestamps, several batches, no rows; 128- and
# 256-bit Decimals, a negative scale; seven of them compressed per buffer with LZ4_FRAME or ZSTD,
# dictionaries included, one buffer of two ZSTD frames). Then bad input: a file cut short
# (stream and file), bytes that are no Arrow, six hand-built files pyarrow refuses
# (tests/data/arrow_bad), and generated ones: apache-arrow 21.2.0's compressed-length prefixes
# (LZ4, ZSTD), a V2 message, an LZ4 buffer of two frames, a Decimal of precision 39, pyarrow
# 0.17's compression mark; a projection. Fails (never skips) when node or apache-arrow is
# missing.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
NODE_MODULES=${MILL_NODE_MODULES:-$HOME/.cache/mill/deps/node/node_modules}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

NODE_PATH="$NODE_MODULES" node "$SRC/tests/reference/arrow_fixtures.cjs" "$tmp" 2>"$tmp/node.err" ||
    { bad "arrow_fixtures.cjs failed (node and apache-arrow are required): $(tail -2 "$tmp/node.err")"; finish; exit 1; }

# same NAME: mill's rows of NAME.arrow equal NAME.jsonl (binary by length and sha256, as mill
# prints BYTES; 64-bit integers by value; floats by value, -0.0 as 0).
same() {
    "$MILL" data head "$tmp/$1.arrow" --n 1000 >"$tmp/$1.got" 2>"$tmp/$1.err" || return 1
    "$PY" - "$tmp/$1.got" "$tmp/$1.jsonl" <<'PY'
import hashlib, json, sys
from fractions import Fraction
def norm(v):
    if isinstance(v, dict) and set(v) == {"$hex"}:
        b = bytes.fromhex(v["$hex"])
        return {"bytes_len": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    if isinstance(v, dict) and set(v) == {"$int"}:
        return int(v["$int"])
    if isinstance(v, dict) and set(v) == {"$dec"}:  # the nearest double, correctly rounded
        u, scale = int(v["$dec"][0]), v["$dec"][1]
        return float(Fraction(u, 10 ** scale)) if scale >= 0 else float(u * 10 ** -scale)
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want = [norm(json.loads(l)) for l in open(sys.argv[2], encoding="utf-8")]
if got != want or [list(r) for r in got] != [list(r) for r in want]:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            print("row %d: got %s\n        want %s" % (i, g, w))
            break
    print("%d rows, %d wanted" % (len(got), len(want)))
    sys.exit(1)
PY
}

n=0
for name in $(cat "$tmp/index.txt"); do
    n=$((n + 1))
    check "$name: the rows apache-arrow reads back" \
        "same $name || { tail -2 '$tmp/$name.err'; false; }"
done
check "twenty-three fixtures" "[ $n -eq 23 ]"
# the compressed fixtures hold real frames (LZ4's and ZSTD's magic), not only stored buffers
check "the compressed fixtures hold LZ4 and ZSTD frames" \
    "\"\$PY\" -c 'import sys
for f, m in zip(sys.argv[1:], (b\"\\x04\\x22\\x4d\\x18\", b\"\\x28\\xb5\\x2f\\xfd\")):
    assert m in open(f, \"rb\").read(), f' '$tmp/scalars_lz4_stream.arrow' '$tmp/scalars_zstd_file.arrow'"

# a projection reads the named columns only, in the file's order
"$MILL" data head "$tmp/nested_stream.arrow" --columns image,l --n 1 >"$tmp/proj" 2>"$tmp/err"
check "--columns image,l: those two, in the schema's order" \
    "grep -q '^{\"l\":\[1,2\],\"image\":{' '$tmp/proj' || { cat '$tmp/proj' '$tmp/err'; false; }"

# bad input: an error naming the file, exit 1
for fmt in stream file; do
    f="$tmp/scalars_$fmt.arrow"
    head -c $(( $(stat -c %s "$f") - 40 )) "$f" > "$tmp/cut_$fmt.arrow"
    expect_exit "a $fmt file cut short: an error naming it" 1 "cut_$fmt.arrow: " \
        data head "$tmp/cut_$fmt.arrow" --n 1000
done
# files pyarrow refuses, each with one flaw (tests/data/README.md): a named error, no crash
for f in "$SRC"/tests/data/arrow_bad/*.arrow; do
    expect_exit "$(basename "$f"): refused naming the file" 1 "$(basename "$f"): " data head "$f"
done
# apache-arrow 21.2.0's compressed buffers carry their compressed length where the format wants
# the uncompressed one: pyarrow refuses them ("Failed to fully decompress buffer")
for c in lz4 zstd; do
    expect_exit "a $c buffer whose prefix is not its uncompressed length: refused" 1 \
        "bad_prefix_$c.arrow: .*does not decompress to the length its prefix says" \
        data head "$tmp/bad_prefix_$c.arrow"
done
# a message of metadata version V2 (pyarrow: "Old metadata version not supported")
"$PY" - "$tmp/scalars_stream.arrow" "$tmp/v2.arrow" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
assert b[:4] == b"\xff\xff\xff\xff"
root = 8 + struct.unpack_from("<I", b, 8)[0]
vt = root - struct.unpack_from("<i", b, root)[0]
at = struct.unpack_from("<H", b, vt + 4)[0]  # Message.version, field 0
assert at and struct.unpack_from("<h", b, root + at)[0] == 4  # V5
struct.pack_into("<h", b, root + at, 1)
open(sys.argv[2], "wb").write(b)
PY
expect_exit "a message of metadata version V2: refused as pyarrow refuses it" 1 \
    "v2.arrow: .*old metadata version" data head "$tmp/v2.arrow"
expect_exit "a 128-bit Decimal of precision 39: refused, as pyarrow refuses it" 1 \
    "bad_decimal_precision.arrow: a Decimal precision out of its width's range in field d" \
    data head "$tmp/bad_decimal_precision.arrow"
expect_exit "an LZ4 buffer of two frames: refused, as Arrow C++ reads one" 1 \
    "bad_lz4_frames.arrow: an LZ4 buffer of more than one frame" data head "$tmp/bad_lz4_frames.arrow"
expect_exit "pyarrow 0.17's experimental compression mark: refused, not read as raw buffers" 1 \
    "bad_experimental.arrow: a message compressed as pyarrow 0.17 marked it" \
    data head "$tmp/bad_experimental.arrow"
printf 'not arrow at all, just text\n' > "$tmp/text.arrow"
expect_exit "bytes that are no Arrow: an error naming the file" 1 \
    "text.arrow: (not an Arrow IPC stream or file|a message header)" data head "$tmp/text.arrow"
finish
