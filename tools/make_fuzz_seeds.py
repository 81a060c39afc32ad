#!/usr/bin/python3
# make_fuzz_seeds.py: writes the committed seed corpus of the libFuzzer targets,
# tests/fuzz/corpus/<target>/, small valid inputs of every format each target parses, so a
# short fuzz run starts from deep inside the parsers. Run by a developer with Debian's python3
# (PIL, numpy): /usr/bin/python3 tools/make_fuzz_seeds.py tests/fuzz/corpus
# Deterministic: the same files every run. Parquet seeds are copied from tests/data (DuckDB's
# writing of MMLU's smallest files).
import io, json, os, shutil, struct, sys, tarfile, wave

from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def pattern(w, h, mode):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 37) % 256, (y * 59) % 256, ((x + y) * 11) % 256)
                for y in range(h) for x in range(w)])
    return im.convert(mode)


def image_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


# images: every format and mode the decoder sniffs, at most 9x7 pixels
imgs = {
    "rgb.png": image_bytes(pattern(9, 7, "RGB"), "PNG"),
    "rgba.png": image_bytes(pattern(5, 4, "RGBA"), "PNG"),
    "la.png": image_bytes(pattern(4, 4, "LA"), "PNG"),
    "p.png": image_bytes(pattern(6, 3, "P"), "PNG"),
    "i16.png": image_bytes(pattern(3, 3, "L").convert("I;16"), "PNG"),
    "base.jpg": image_bytes(pattern(9, 7, "RGB"), "JPEG", quality=80),
    "prog.jpg": image_bytes(pattern(8, 8, "RGB"), "JPEG", progressive=True),
    "grey.jpg": image_bytes(pattern(5, 5, "L"), "JPEG"),
    "lossy.webp": image_bytes(pattern(9, 7, "RGB"), "WEBP", quality=70),
    "lossless.webp": image_bytes(pattern(4, 4, "RGBA"), "WEBP", lossless=True),
    "a.gif": image_bytes(pattern(6, 5, "P"), "GIF"),
    "a.bmp": image_bytes(pattern(5, 3, "RGB"), "BMP"),
}
for name, data in imgs.items():
    put("fuzz_image", name, data)


def tar_shard(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


put("fuzz_wds", "two.tar", tar_shard([("a.webp", imgs["lossy.webp"]), ("a.cls", b"3"),
                                      ("b.0.png", imgs["rgb.png"]), ("b.cls", b"7")]))
put("fuzz_wds", "json.tar", tar_shard([("x/k1.json", b'{"label": 1}'), ("x/k1.txt", b"hi")]))


def wav(rate, channels, frames):
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", (i * 977) % 32768 - 16384)
                               for i in range(frames * channels)))
    return b.getvalue()


put("fuzz_audio", "mono16k.wav", wav(16000, 1, 64))
put("fuzz_audio", "stereo44k.wav", wav(44100, 2, 100))

put("fuzz_json", "row.json", json.dumps({"question": "Q?", "choices": ["a", "b"], "answer": 1,
                                         "f": 0.5, "n": None, "t": True, "u": "\u00e9\u4e2d"}))
put("fuzz_json", "nan.json", '[NaN, Infinity, -Infinity, 1e308, -0.0, "\\ud83d\\ude00"]')
put("fuzz_hub_json", "tree.json", json.dumps([
    {"type": "file", "path": "data/test-00000-of-00001.parquet", "size": 123,
     "oid": "0" * 40, "lfs": {"oid": "a" * 64, "size": 123}},
    {"type": "directory", "path": "data", "oid": "1" * 40}]))
put("fuzz_aggregate", "two.csv",
    "model,benchmark,task,task_type,n_shot,metric,performance,stderr\n"
    "m/a,mmlu,mmlu_anatomy,multiple_choice,5,acc,0.5,0.1\n"
    "\"m,b\",,cifar10,zero_shot_classification,0,acc,0.25,\n")
hdr = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                  "__metadata__": {"format": "pt"}}).encode()
put("fuzz_safetensors", "one.safetensors",
    struct.pack("<Q", len(hdr)) + hdr + struct.pack("<4f", 1, 2, 3, 4))
put("fuzz_clip_tokenizer", "prompt.txt", "a photo of a cat. &amp; Caf\u00e9 \U0001f600 don't 123")
for subj in ("world_religions", "virology"):
    src = os.path.join(root, "tests/data/mmlu/cais_mmlu", subj, "dev-00000-of-00001.parquet")
    shutil.copyfile(src, os.path.join(out, "fuzz_parquet", subj + ".parquet")) \
        if os.path.isdir(os.path.join(out, "fuzz_parquet")) else (
        os.makedirs(os.path.join(out, "fuzz_parquet"), exist_ok=True),
        shutil.copyfile(src, os.path.join(out, "fuzz_parquet", subj + ".parquet")))
put("fuzz_spec", "hf.txt", "Qwen/Qwen3-0.6B-Base[dtype=bfloat16,batch_size=8]")
put("fuzz_spec", "clip.txt", "clip[path=ViT-B-32,pretrained=laion2b_s34b_b79k],llama[rpc=a:1;b:2]")
put("fuzz_spec", "odd.txt", "x[a=b=c, url=http://h/?q=1&r=2 ,flag=TRUE,n=-3,f=1e5,s= 'q' ]")
put("fuzz_mmlu_pro", "cot.txt", "Let's think step by step. 2+2=4. The answer is (B).")
put("fuzz_mmlu_pro", "tail.txt", "so the choice is\nAnswer: C\n\n[[J]] answer is D")
put("fuzz_clusters", "clusters.yaml",
    "# comment\nmycluster:\n  partition: gpu\n  account: \"proj\"\n  gpus_per_node: 4\n"
    "  time: '02:00:00'\n  modules:\n    - cuda/12\n    - gcc\n  env:\n    HF_HOME: /data/hf\n"
    "other:\n  partition: cpu\n")
put("fuzz_pyliteral", "options.txt", r"""['$6', '$8', "Tom's", '10\u00b0C']""")
put("fuzz_pyliteral", "latex.txt",
    r"""['$\\frac{1}{2}$', '$\\sqrt{2}$', r'\d+', '<image 1>', '', 'It\'s', """
    r"""'\x41\U0001F600\101']""")
put("fuzz_pyliteral", "mixed.txt",
    """[1, -2.5e3, (True, None), [], 'a' "b", 0x1F, 1_000, .5, -(7), ('x',)]""")
put("fuzz_pyliteral", "layout.txt",
    "[\n    '''multi\nline''',  # comment\n    \"\"\"x\"\"\",\r\n    'abc\\\ndef',\n]\n")
# fuzz_mcq: the response, then the options, each after a NUL byte
put("fuzz_mcq", "marker.txt", "\x00".join(["The final answer is (C).", "cat", "dog", "bird",
                                            "frog"]))
put("fuzz_mcq", "text.txt", "\x00".join(
    ["I think the picture shows a small brown dog on the grass.", "airplane", "automobile",
     "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]))
put("fuzz_mcq", "mmmu_pro.txt", "\x00".join(
    ["Let's compute: 3 + 5 = 8.\nAnswer: B", "$6", "$8", "Tom's", "10\u00b0C"]))
put("fuzz_mcq", "dot.txt", "\x00".join(["'B. banana, or maybe (A) apple'", "apple", "banana",
                                         "cherry"]))
put("fuzz_mcq", "none.txt", "Answer: A")
