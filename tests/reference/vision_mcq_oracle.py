"""vision_mcq_oracle.py: the reference for the vision multiple-choice tasks (BEHAVIOUR.md §4.3-4.5).

Restates Mill's Python prompt construction with CPython's own `random`, `re` and `ast`, for
tests/unit/test_vision_mcq.c and tests/cli/test_vision_tasks.sh. Run it with Debian's
/usr/bin/python3; standard library only.

  vision_mcq_oracle.py draws
      One line per (task, seed, key) case, for test_vision_mcq.c (which reads the cases from
      here, so the case list lives in this file only):
        TASK SEED KEY_HEX CLS GOLD QUERY_HEX OPTIONS_HEX
      hex = the UTF-8 bytes; OPTIONS = the option names joined by "\\n".
  vision_mcq_oracle.py wds TASK SEED SHARD...
      The `mill prompts TASK --seed SEED` lines Mill gives for cifar10_mcq / imagenet_mcq on
      these WebDataset shards (read with tarfile, grouped as webdataset does); a sample that
      cannot make a prompt prints {"failed": doc_id, "task": TASK, "key": key} instead.
  vision_mcq_oracle.py mmmu TASK ROWS.jsonl
      The `mill prompts TASK` lines for mmmu_pro / mmmu_pro_clip on rows given as JSON lines
      (a Parquet file read back by DuckDB, tests/reference/parquet_to_json.cjs; an image is an
      object {"bytes", "path"} or null); a failed row prints
      {"failed": doc_id, "task": TASK, "id": id}.
"""
import ast
import json
import random
import re
import sys
import tarfile

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def imagenet_names():
    src = sys.path[0] + "/../data/clip_benchmark/en_classnames.json"
    names = json.load(open(src))["imagenet1k"]
    names[744], names[836] = "projectile", "sunglass"  # Mill's two renames (§4.4)
    return names


def sample_rng(seed, *parts):
    return random.Random("|".join(map(str, (seed, *parts))))


# ---- cifar10_mcq / imagenet_mcq -------------------------------------------------------------

def cifar10_options(seed, key, cls):
    perm = list(range(10))
    sample_rng(seed, "cifar10_mcq", key).shuffle(perm)
    return perm


def imagenet_options(seed, key, cls):
    rng = sample_rng(seed, "imagenet_mcq", key)
    distractors = rng.sample([i for i in range(1000) if i != cls], 9)
    options = distractors + [cls]
    rng.shuffle(options)
    return options


def mcq(task, seed, key, cls, names):
    draw = cifar10_options if task == "cifar10_mcq" else imagenet_options
    idx = draw(seed, key, cls)
    options = [names[i] for i in idx]
    query = ("Which of these categories best describes the image?\n"
             + "\n".join(f"{LETTERS[i]}) {name}" for i, name in enumerate(options))
             + "\nAnswer with the letter of the correct option.")
    return query, LETTERS[idx.index(cls)], options


def draw_keys():
    keys = ["%06d" % i for i in range(3000)]
    keys += ["s%07d" % i for i in range(0, 10000, 997)]
    keys += ["a_b", "__key__", "_", "x_y_z_0001", "0", "-1", "00", "with space", "tab\there",
             "dir/sub/s0000042", "./rel", "café", "ünïcödé_42", "日本語/クラス_7", "emoji_🙂",
             "|", "a|b", "42|cifar10_mcq|s0000042", "x" * 300, "\u00a0nbsp", "Ω≈ç√"]
    return keys


def cmd_draws():
    inet = imagenet_names()
    for seed in (42, 1234):
        for i, key in enumerate(draw_keys()):
            for task, names, cls in (("cifar10_mcq", CIFAR10, i % 10),
                                     ("imagenet_mcq", inet, (i * 7919 + seed) % 1000)):
                query, gold, options = mcq(task, seed, key, cls, names)
                print(task, seed, key.encode().hex(), cls, gold, query.encode().hex(),
                      "\n".join(options).encode().hex())


def wds_samples(shards):
    """(key, {column: bytes}) in reading order: members grouped by key, the path up to the
    first dot of the basename; consecutive members of one key form one sample."""
    for shard in shards:
        cur, cols = None, {}
        with tarfile.open(shard) as t:
            for m in t:
                if not m.isfile():
                    continue
                name = m.name  # a leading "./" stays in the key (HF's base_plus_ext)
                d, _, base = name.rpartition("/")
                if "." not in base or base.startswith((".", "__")):  # HF skips hidden members
                    continue
                stem, _, col = base.partition(".")
                key = (d + "/" if d else "") + stem
                if key != cur and cur is not None:
                    yield cur, cols
                    cols = {}
                cur = key
                cols[col] = t.extractfile(m).read()  # its case kept (datasets >= 4.1)
        if cur is not None:
            yield cur, cols


def has_image(cols):
    return any(c.rsplit(".", 1)[-1].lower() in ("webp", "png", "jpg", "jpeg") for c in cols)


def cmd_wds(task, seed, shards):
    names = CIFAR10 if task == "cifar10_mcq" else imagenet_names()
    for doc_id, (key, cols) in enumerate(wds_samples(shards)):
        try:
            cls = int(cols["cls"])
            assert has_image(cols) and 0 <= cls < len(names)
        except (KeyError, ValueError, AssertionError):
            print(json.dumps({"failed": doc_id, "task": task, "key": key}, ensure_ascii=False))
            continue
        query, gold, _ = mcq(task, int(seed), key, cls, names)
        print(json.dumps({"task": task, "doc_id": doc_id, "context": query, "choices": None,
                          "target": gold, "images": 1}, ensure_ascii=False,
                         separators=(",", ":")))


# ---- mmmu_pro / mmmu_pro_clip ---------------------------------------------------------------

MARKER = re.compile(r"<image\s+(\d+)>")
COT = ("Answer the preceding multiple choice question. The last line of your response should "
       "be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
       "options. Think step by step before answering.")


class Failed(Exception):
    pass


def attached(img):
    return img is not None and img.get("bytes") is not None


def mmmu_images(row):
    """Python Mill's: the images the question cites, in citation order, a repeated citation
    repeated and a citation of an absent image left out; none left: every attached image,
    image_1..image_7."""
    cited = [int(m.group(1)) for m in MARKER.finditer(row["question"])]
    imgs = [n for n in cited if 1 <= n <= 7 and attached(row.get(f"image_{n}"))]
    if not imgs:
        imgs = [i for i in range(1, 8) if attached(row.get(f"image_{i}"))]
    if not imgs:
        raise Failed("no image")
    return imgs


def mmmu_options(row):
    opts = ast.literal_eval(row["options"])
    if not isinstance(opts, (list, tuple)) or not opts:  # a tuple enumerates as a list does
        raise Failed("options is not a list")
    return [str(o) for o in opts]


def mmmu_doc(task, row):
    opts = mmmu_options(row)
    imgs = mmmu_images(row)
    answer = str(row["answer"]).strip().upper()
    if task == "mmmu_pro":
        question = MARKER.sub("<image>", row["question"])
        body = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts))
        return {"context": f"{question}\n{body}\n{COT}", "choices": None, "target": answer,
                "images": len(imgs)}
    question = re.sub(r"\s+", " ", MARKER.sub("the image", row["question"])).strip()
    captions = [f"{question} {o}".strip() for o in opts]
    letters = LETTERS[: len(opts)]  # Python Mill's test is substring containment
    return {"context": "", "choices": captions,
            "target": letters.index(answer) if answer in letters else 0, "images": 1}


def cmd_mmmu(task, rows_file):
    for doc_id, line in enumerate(open(rows_file, encoding="utf-8")):
        row = json.loads(line)
        try:
            doc = mmmu_doc(task, row)
        except (Failed, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            print(json.dumps({"failed": doc_id, "task": task, "id": row["id"]},
                             ensure_ascii=False))
            continue
        print(json.dumps({"task": task, "doc_id": doc_id, **doc}, ensure_ascii=False,
                         separators=(",", ":")))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "draws":
        cmd_draws()
    elif mode == "wds":
        cmd_wds(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif mode == "mmmu":
        cmd_mmmu(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: vision_mcq_oracle.py draws | wds TASK SEED SHARD... | mmmu TASK ROWS")
