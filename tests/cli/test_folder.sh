#!/usr/bin/env bash
# test_folder.sh: directories of images and audio clips read as HF datasets' imagefolder and
# audiofolder builders read them (datasets 4's folder_based_builder), through `mill data head`
# (the dataset layer eval uses). The expected rows are datasets' rules restated in Python
# (datasets itself is not packaged in Debian): without metadata, one row per medium in path
# order, {"image": {bytes, path}} plus "label" = the index of its directory's name among the
# sorted names when there are several names and one depth; with metadata files, their rows in
# order, "file_name" (or "<x>_file_name", "file_names") replaced in place by the media it names,
# os.path.join(metadata dir, os.path.normpath(name)). Bad metadata fails naming file and row.
# Zip archives of such splits (ten): members as Python's zipfile extracts them, the cache's
# extraction reused, odd names, metadata inside, audiofolder inferred, a tie, names shared by
# two archives, a plain file beside an archive; CSV, damaged-CRC and cut archives refused.
set -u
MILL=${MILL:-$(dirname "$0")/../../build/bin/mill}
MILL_BUILD_DIR=${MILL_BUILD_DIR:-$(dirname "$0")/../../build}
SRC=${MILL_SOURCE_DIR:-$(dirname "$0")/../..}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$SRC/tests/cli/lib.sh"

"$PY" - "$tmp" <<'PY' || bad "making the folders"
import os, sys, wave
from PIL import Image
t = sys.argv[1]
def png(path, colour):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (4, 3), colour).save(path)
def wav(path, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\0\1" * n)
for name, c in [("train/dog/c.png", 3), ("train/cat/a.png", 1), ("train/cat/b.PNG", 2)]:
    png(f"{t}/{name}", (c, c, c))
os.makedirs(f"{t}/train/zebra")
Image.new("L", (2, 2), 4).save(f"{t}/train/zebra/z.jpg")
png(f"{t}/depth/x.png", (5, 5, 5)); png(f"{t}/depth/sub/y.png", (6, 6, 6))
png(f"{t}/one/only/p.png", (7, 7, 7)); png(f"{t}/one/only/q.png", (8, 8, 8))
for name, n in [("aud/yes/1.wav", 10), ("aud/no/2.wav", 20)]:
    wav(f"{t}/{name}", n)
png(f"{t}/meta/imgs/a.png", (9, 9, 9)); png(f"{t}/meta/imgs/b.png", (10, 10, 10))
png(f"{t}/abs.png", (11, 11, 11))
with open(f"{t}/meta/metadata.jsonl", "w") as f:
    f.write('{"caption": "first", "file_name": "imgs/a.png", "n": 1}\n')
    f.write('{"caption": "second", "file_name": "./imgs/../imgs//b.png", "n": 2}\n')
    f.write('{"caption": "third", "file_name": "%s/abs.png", "n": 3}\n' % t)
os.makedirs(f"{t}/metacsv/imgs")
for n in ("a", "b"):
    os.link(f"{t}/meta/imgs/{n}.png", f"{t}/metacsv/imgs/{n}.png")
with open(f"{t}/metacsv/metadata.csv", "w") as f:
    f.write("file_name,caption,thumb_file_name\nimgs/a.png,one,imgs/b.png\nimgs/b.png,two,imgs/a.png\n")
os.makedirs(f"{t}/missing/imgs")
os.link(f"{t}/meta/imgs/a.png", f"{t}/missing/imgs/a.png")
with open(f"{t}/missing/metadata.jsonl", "w") as f:
    f.write('{"file_name": "imgs/a.png"}\n{"file_name": "imgs/gone.png"}\n')
os.makedirs(f"{t}/noname/imgs")
os.link(f"{t}/meta/imgs/a.png", f"{t}/noname/imgs/a.png")
with open(f"{t}/noname/metadata.jsonl", "w") as f:
    f.write('{"image_path": "imgs/a.png"}\n')
open(f"{t}/train/Thumbs.db", "wb").write(b"\0" * 7)  # no format of datasets': ignored
png(f"{t}/mix/a.png", (1, 2, 3)); wav(f"{t}/mix/x/1.wav", 5); wav(f"{t}/mix/y/2.wav", 6)
os.makedirs(f"{t}/keys/imgs")
for n in ("a", "b"):
    os.link(f"{t}/meta/imgs/{n}.png", f"{t}/keys/imgs/{n}.png")
with open(f"{t}/keys/metadata.jsonl", "w") as f:  # a Windows name; file_name over image_file_name
    f.write('{"image_file_name": "imgs/b.png", "file_name": "imgs\\\\a.png", "_file_name": "x"}\n')
os.makedirs(f"{t}/nullname/imgs")
os.link(f"{t}/meta/imgs/a.png", f"{t}/nullname/imgs/a.png")
with open(f"{t}/nullname/metadata.jsonl", "w") as f:
    f.write('{"file_name": "imgs/a.png"}\n{"file_name": null}\n')
for split, names in (("train", ("cat", "dog", "zebra")), ("test", ("cat", "zebra"))):
    for i, n in enumerate(names):
        png(f"{t}/plug/toy_data/folder/{split}/{n}/{i}.png", (i, i, i))
os.makedirs(f"{t}/nulname")
os.link(f"{t}/meta/imgs/a.png", f"{t}/nulname/a.png")
with open(f"{t}/nulname/metadata.jsonl", "w") as f:
    f.write('{"file_name": "a.png\\u0000junk"}\n')
os.makedirs(f"{t}/fifo/cat"); os.makedirs(f"{t}/fifo/dog")
os.mkfifo(f"{t}/fifo/cat/a.png"); os.link(f"{t}/meta/imgs/a.png", f"{t}/fifo/dog/b.png")
# toy_folder with a train split of clips: another format; with train's metadata: no labels
for plug, train in (("plug2", "wav"), ("plug3", "meta")):
    png(f"{t}/{plug}/toy_data/folder/test/cat/0.png", (1, 1, 1))
    png(f"{t}/{plug}/toy_data/folder/test/zebra/1.png", (2, 2, 2))
    if train == "wav":
        wav(f"{t}/{plug}/toy_data/folder/train/x/1.wav", 3)
        wav(f"{t}/{plug}/toy_data/folder/train/y/2.wav", 4)
    else:
        png(f"{t}/{plug}/toy_data/folder/train/a.png", (3, 3, 3))
        with open(f"{t}/{plug}/toy_data/folder/train/metadata.jsonl", "w") as f:
            f.write('{"file_name": "a.png"}\n')
os.makedirs(f"{t}/mixed/x"); os.makedirs(f"{t}/mixed/y")
for d in ("x", "y"):
    os.link(f"{t}/meta/imgs/a.png", f"{t}/mixed/{d}/a.png")
open(f"{t}/mixed/x/metadata.jsonl", "w").write('{"file_name": "a.png"}\n')
open(f"{t}/mixed/y/metadata.csv", "w").write("file_name\na.png\n")
PY

head_rows() { "$MILL" data head "$@" -n 100 >"$tmp/out.jsonl" 2>"$tmp/err"; }
# want PY-EXPR-OF-ROWS: the rows datasets' rules give, compared with what mill printed
want() {
    "$PY" - "$tmp" "$1" "$tmp/out.jsonl" <<'PY'
import glob, hashlib, json, os, sys
t, case, got_path = sys.argv[1:4]
def media(path):
    b = open(path, "rb").read()
    return {"bytes": {"bytes_len": len(b), "sha256": hashlib.sha256(b).hexdigest()}, "path": path}
def folder(files, base, exts):
    files = sorted(f for f in files if os.path.splitext(f)[1].lower() in exts)
    labels = {os.path.basename(os.path.dirname(f)) for f in files}
    depths = {f.count("/") for f in files}
    names = sorted(labels)
    add = len(labels) > 1 and len(depths) == 1
    return [dict({base: media(f)}, **({"label": names.index(os.path.basename(os.path.dirname(f)))}
                                        if add else {})) for f in files]
IMG, AUD = {".png", ".jpg"}, {".wav", ".flac"}
def files(pattern):
    return [f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f)]
def meta(path, rows):
    d = os.path.dirname(path)
    out = []
    for r in rows:
        o = {}
        for k, v in r.items():
            if k == "file_name" or k.endswith("_file_name"):
                k = k[: -len("_file_name")] or "image"
                v = media(os.path.join(d, os.path.normpath(v).replace("\\", "/")))
            o[k] = v
        out.append(o)
    return out
cases = {
    "labels": lambda: folder(files(f"{t}/train/**"), "image", IMG),
    "depth": lambda: folder(files(f"{t}/depth/**"), "image", IMG),
    "one": lambda: folder(files(f"{t}/one/**"), "image", IMG),
    "audio": lambda: folder(files(f"{t}/aud/**"), "audio", AUD),
    "jsonl": lambda: meta(f"{t}/meta/metadata.jsonl",
                          [json.loads(l) for l in open(f"{t}/meta/metadata.jsonl")]),
    "csv": lambda: meta(f"{t}/metacsv/metadata.csv",
                        [{"file_name": "imgs/a.png", "caption": "one", "thumb_file_name": "imgs/b.png"},
                         {"file_name": "imgs/b.png", "caption": "two", "thumb_file_name": "imgs/a.png"}]),
    "labels_only": lambda: [{"label": r["label"]} for r in folder(files(f"{t}/train/**"), "image", IMG)],
    "mix": lambda: folder(files(f"{t}/mix/**"), "audio", AUD),
    "keys": lambda: [{"image": media(f"{t}/keys/imgs/a.png")}],
}
want = cases[case]()
got = [json.loads(l) for l in open(got_path)]
if got != want or [list(r) for r in got] != [list(r) for r in want]:
    print("got ", got[:3]); print("want", want[:3]); sys.exit(1)
print("same")
PY
}

head_rows "$tmp/train/**"; rc=$?
check "four images in three directories at one depth: 'image' and 'label' (sorted names), in path order" \
    "[ $rc -eq 0 ] && want labels >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/depth/**"; rc=$?
check "images at two depths: no label" \
    "[ $rc -eq 0 ] && want depth >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/one/**"; rc=$?
check "one directory name: no label" \
    "[ $rc -eq 0 ] && want one >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/aud/**/*.wav"; rc=$?
check "audio clips: 'audio' and 'label'" \
    "[ $rc -eq 0 ] && want audio >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/meta/**"; rc=$?
check "metadata.jsonl: its rows in order, file_name replaced in place by the image (normalised, absolute kept)" \
    "[ $rc -eq 0 ] && want jsonl >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/metacsv/**"; rc=$?
check "metadata.csv with thumb_file_name: a 'thumb' column of images too" \
    "[ $rc -eq 0 ] && want csv >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/train/**" --columns label; rc=$?
check "--columns label: the labels alone" \
    "[ $rc -eq 0 ] && want labels_only >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/mix/**"; rc=$?
check "one image and two clips: audiofolder (the most common suffix), the image ignored" \
    "[ $rc -eq 0 ] && want mix >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/keys/**"; rc=$?
check "file_name (a Windows name, imgs\\a.png) wins over image_file_name and _file_name: one 'image'" \
    "[ $rc -eq 0 ] && want keys >'$tmp/w.out' 2>&1 || { cat '$tmp/w.out' '$tmp/err'; false; }"
head_rows "$tmp/nullname/**"; rc=$?
check "a null file_name: exit 1 naming the row" \
    "[ $rc -eq 1 ] && grep -q 'nullname/metadata.jsonl row 2: file_name holds no file name' '$tmp/err'"
# Labels over every split, as datasets makes them: test has cat and zebra, train also dog, so
# zebra is 2 in test too (1 if test's names alone counted).
cp "$MILL_BUILD_DIR/plugins/toy.so" "$tmp/plug/"
"$MILL" prompts toy_folder --task_paths "$tmp/plug" >"$tmp/p.jsonl" 2>"$tmp/err"; rc=$?
check "a task's folder splits: labels from every split's directory names (zebra is 2 in test)" \
    "[ $rc -eq 0 ] && \"\$PY\" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; sys.exit([x[\"target\"] for x in r] != [0, 2])' '$tmp/p.jsonl' || { cat '$tmp/p.jsonl' '$tmp/err'; false; }"
head_rows "$tmp/nulname/**"; rc=$?
check "a file name holding a NUL byte: exit 1 saying so" \
    "[ $rc -eq 1 ] && grep -q 'row 1: file_name holds a NUL byte' '$tmp/err'"
timeout 20 "$MILL" data head "$tmp/fifo/**" >/dev/null 2>"$tmp/err"; rc=$?
check "a FIFO named like an image: refused at once (exit 1), not waited on" \
    "[ $rc -eq 1 ] && grep -q 'fifo/cat/a.png: not a regular file' '$tmp/err'"
for p in plug2 plug3; do cp "$MILL_BUILD_DIR/plugins/toy.so" "$tmp/$p/"; done
"$MILL" prompts toy_folder --task_paths "$tmp/plug2" >"$tmp/p.jsonl" 2>"$tmp/err"; rc=$?
check "a task whose train split holds clips and test split images: exit 1, not the same format" \
    "[ $rc -eq 1 ] && grep -q \"split 'train' is not of the same format\" '$tmp/err'"
"$MILL" prompts toy_folder --task_paths "$tmp/plug3" >"$tmp/p.jsonl" 2>"$tmp/err"
check "another split with metadata: no labels (the toy task's rows then lack one)" \
    "grep -q 'row needs image and label' '$tmp/p.jsonl' '$tmp/err'"
head_rows "$tmp/missing/**"; rc=$?
check "a metadata row naming a missing file: exit 1 naming the metadata file, the row and the path" \
    "[ $rc -eq 1 ] && grep -q 'missing/metadata.jsonl row 2: cannot read $tmp/missing/imgs/gone.png' '$tmp/err'"
head_rows "$tmp/noname/**"; rc=$?
check "metadata without a file_name column: exit 1 saying so" \
    "[ $rc -eq 1 ] && grep -q 'noname/metadata.jsonl row 1: no file_name' '$tmp/err'"
head_rows "$tmp/mixed/**"; rc=$?
check "metadata files of two formats: exit 1 naming both" \
    "[ $rc -eq 1 ] && grep -q 'metadata files of different formats' '$tmp/err'"

# ---- zip archives: extracted into the cache as zipfile.extractall does, walked as datasets'
# FilesIterable (hidden and __ names out, each directory's files then its subdirectories,
# sorted), labels from the directories inside (datasets 4.4's rule; 4.5-5.0 label every
# member with the archive's own directory and fail, datasets#8419), media filtered by suffix.
export MILL_CACHE_DIR="$tmp/cache"
"$PY" - "$tmp" <<'PY' || bad "making the zip archives"
import io, os, sys, zipfile
from PIL import Image
t = sys.argv[1]
def png(c):
    b = io.BytesIO(); Image.new("RGB", (3, 2), (c, c, c)).save(b, "PNG"); return b.getvalue()
def wav(n):
    import wave
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\0\1" * n)
    return b.getvalue()
def mk(path, members):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
mk(f"{t}/zips/train.zip", [("train/dog/b.png", png(2)), ("train/cat/a.png", png(1)),
    ("train/dog/c.PNG", png(3)), ("train/caf\u00e9/e.png", png(5)), ("notes.txt", b"x"),
    (".hidden/h.png", png(6)), ("train/__MACOSX/m.png", png(7)), ("train/cat/.z.png", png(8))])
mk(f"{t}/zips/more.zip", [("train/cat/f.png", png(9))])  # a second archive of the split
mk(f"{t}/zodd/odd.zip", [("../up/x.png", png(1)), ("/abs/y.png", png(2)), ("./dot//z.png", png(3)),
    ("abs/y.png", png(4))])  # a later member of one name replaces the earlier
mk(f"{t}/zmeta/m.zip", [("imgs/a.png", png(1)), ("imgs/b.png", png(2)),
    ("metadata.jsonl", b'{"file_name": "imgs/b.png", "n": 1}\n{"file_name": "imgs/a.png", "n": 2}\n')])
mk(f"{t}/zaud/clips.zip", [("yes/1.wav", wav(3)), ("no/2.wav", wav(4)), ("cover.png", png(1))])
mk(f"{t}/zcsv/tables.zip", [("a.csv", b"x\n1\n"), ("b.csv", b"x\n2\n")])
mk(f"{t}/zcrc/crc.zip", [("cat/a.png", png(1)), ("dog/b.png", png(200))])
b = bytearray(open(f"{t}/zcrc/crc.zip", "rb").read())
i = b.index(b"dog/b.png") + len(b"dog/b.png")  # the local header's name, then the data
b[i + 20] ^= 0xFF
open(f"{t}/zcrc/crc.zip", "wb").write(bytes(b))
mk(f"{t}/ztie/t.zip", [("s1.mp3", b"x"), ("s2.mp3", b"y"), ("s1.jpg", png(1)), ("s2.jpg", png(2))])
for z in ("a", "b"):  # the same names in two archives count twice, as datasets counts them
    mk(f"{t}/zshared/{z}.zip", [("x.jpg", png(1)), ("y.jpg", png(2))])
mk(f"{t}/zshared/c.zip", [("p.wav", wav(1)), ("q.wav", wav(2)), ("r.wav", wav(3))])
mk(f"{t}/zmix/a.zip", [("cat/x.png", png(1)), ("dog/y.png", png(2))])
open(f"{t}/zmix/b.png", "wb").write(png(3))
os.makedirs(f"{t}/zcut", exist_ok=True)
open(f"{t}/zcut/cut.zip", "wb").write(open(f"{t}/zips/more.zip", "rb").read()[:-30])
PY
# zrows DIR CASE: mill's rows of DIR/*.zip equal the rows Python's zipfile.extractall and
# datasets' rules give (paths compared below the extraction directory)
zrows() {
    "$MILL" data head "$tmp/$1/*.zip" -n 100 >"$tmp/out.jsonl" 2>"$tmp/err" || return 1
    "$PY" - "$tmp" "$1" "$2" "$tmp/out.jsonl" <<'PY'
import glob, hashlib, json, os, sys, tempfile, zipfile
t, d, case, got_path = sys.argv[1:5]
EXT = {"image": {".png", ".jpg"}, "audio": {".wav"}}[case.split(":")[0]]
base = case.split(":")[0]
rows, roots = [], []
for z in sorted(glob.glob(f"{t}/{d}/*.zip")):
    root = tempfile.mkdtemp(dir=t); roots.append(root)
    zipfile.ZipFile(z).extractall(root)
    for dirpath, dirnames, filenames in os.walk(root):  # datasets' FilesIterable
        dirnames[:] = sorted(n for n in dirnames if not n.startswith((".", "__")))
        rows += [(root, os.path.join(dirpath, n)) for n in sorted(filenames)
                 if not n.startswith((".", "__"))]
def media(root, p):
    b = open(p, "rb").read()
    return {"bytes": {"bytes_len": len(b), "sha256": hashlib.sha256(b).hexdigest()},
            "path": os.path.relpath(p, root)}
meta = [r for r in rows if os.path.basename(r[1]) == "metadata.jsonl"]
if meta:
    root, m = meta[0]
    want = []
    for l in open(m):
        r = json.loads(l)
        r["image"] = media(root, os.path.join(os.path.dirname(m), r.pop("file_name")))
        want.append({"image": r["image"], "n": r["n"]})
else:
    files = [r for r in rows if os.path.splitext(r[1])[1].lower() in EXT]
    labels = sorted({os.path.basename(os.path.dirname(p)) for _, p in files})
    depths = {os.path.relpath(p, root).count("/") for root, p in files}
    add = len(labels) > 1 and len(depths) == 1
    want = [dict({base: media(root, p)},
                 **({"label": labels.index(os.path.basename(os.path.dirname(p)))} if add else {}))
            for root, p in files]
got = [json.loads(l) for l in open(got_path)]
ex = os.path.join(t, "cache", "extracted")
for r in got:
    v = r.get(base) or r.get("image")
    parts = os.path.relpath(v["path"], ex).split("/", 1)
    assert len(parts[0]) == 64, v["path"]
    v["path"] = parts[1]
if got != want:
    print("got ", got[:4]); print("want", want[:4]); sys.exit(1)
print("same", len(got))
PY
}
zrows zips image >"$tmp/z.out" 2>&1; rc=$?
check "two zip archives of images: the members as zipfile extracts them, labels from the directories inside" \
    "[ $rc -eq 0 ] && grep -q 'same 5' '$tmp/z.out' || { cat '$tmp/z.out' '$tmp/err'; false; }"
check "... extracted once into the cache, no temporary left" \
    "[ \$(ls '$tmp/cache/extracted' | wc -l) -eq 2 ] && ! ls '$tmp/cache/extracted' | grep -q tmp"
# bytes planted in the extracted copy show in the rows: the archive is not extracted again
planted=$(ls -d "$tmp"/cache/extracted/*/train/cat | head -1)
cp "$tmp/zips/train.zip" "$planted/a.png"
"$MILL" data head "$tmp/zips/*.zip" -n 100 >"$tmp/out.jsonl" 2>"$tmp/err"
check "... and read from there the next time (not extracted again)" \
    "grep -q \"\$(sha256sum '$tmp/zips/train.zip' | cut -c1-64)\" '$tmp/out.jsonl'"
zrows zodd image >"$tmp/z.out" 2>&1; rc=$?
check "members named ../up, /abs, ./dot// land inside, as zipfile places them; a repeated name: the later" \
    "[ $rc -eq 0 ] && grep -q 'same 3' '$tmp/z.out' || { cat '$tmp/z.out' '$tmp/err'; false; }"
zrows zmeta image >"$tmp/z.out" 2>&1; rc=$?
check "a metadata.jsonl inside the archive: its rows, file names from its directory" \
    "[ $rc -eq 0 ] && grep -q 'same 2' '$tmp/z.out' || { cat '$tmp/z.out' '$tmp/err'; false; }"
zrows zaud audio >"$tmp/z.out" 2>&1; rc=$?
check "an archive of mostly clips: audiofolder (the members' most common suffix), the image left out" \
    "[ $rc -eq 0 ] && grep -q 'same 2' '$tmp/z.out' || { cat '$tmp/z.out' '$tmp/err'; false; }"
expect_exit "an archive of CSV files: refused, saying what zip archives are read as" 1 \
    "tables.zip: zip archives are read as folders of images or audio clips" \
    data head "$tmp/zcsv/*.zip"
expect_exit "a member whose data fails its CRC: exit 1 naming the archive and the member" 1 \
    "crc.zip: member 'dog/b.png' is damaged" data head "$tmp/zcrc/*.zip" -n 100
expect_exit "an archive cut short: exit 1 naming it" 1 "cut.zip: not a readable zip archive" \
    data head "$tmp/zcut/*.zip"
"$MILL" data head "$tmp/ztie/*.zip" -n 10 >"$tmp/out.jsonl" 2>"$tmp/err"; rc=$?
check "two .jpg and two .mp3 members: imagefolder, the first suffix of fsspec's sorted listing" \
    "[ $rc -eq 0 ] && [ \$(grep -c '\"image\"' '$tmp/out.jsonl') -eq 2 ] || { cat '$tmp/err'; false; }"
"$MILL" data head "$tmp/zshared/*.zip" -n 10 >"$tmp/out.jsonl" 2>"$tmp/err"; rc=$?
check "two archives of two .jpg each and one of three .wav: imagefolder (4 to 3, each archive counted)" \
    "[ $rc -eq 0 ] && [ \$(grep -c '\"image\"' '$tmp/out.jsonl') -eq 4 ] || { cat '$tmp/err'; false; }"
"$MILL" data head "$tmp/zmix/*" -n 10 >"$tmp/out.jsonl" 2>"$tmp/err"; rc=$?
check "a plain image beside an archive: the plain file first, then the members (no labels: depths differ)" \
    "[ $rc -eq 0 ] && \"\$PY\" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert [x[\"image\"][\"path\"].rsplit(\"/\", 2)[-2:] for x in r] == [[\"zmix\", \"b.png\"], [\"cat\", \"x.png\"], [\"dog\", \"y.png\"]], r
assert all(\"label\" not in x for x in r)' '$tmp/out.jsonl' || { cat '$tmp/out.jsonl' '$tmp/err'; false; }"
unset MILL_CACHE_DIR
finish
