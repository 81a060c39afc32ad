# gguf_kv.py: read_gguf_kv(path[, offsets]), the key/value header of a GGUF file as a dict
# (strings, numbers, lists), with the standard library only (Debian's python3); given a dict as
# offsets, it also records where each value starts in the file (for an array, its first element),
# so that a test can patch a fixed-size value in a copy. Shared by the tokenizer fixtures
# tests/cli/hf_spm_fixture.py and hf_bpe_fixture.py, which derive HF tokenizer files from
# llama.cpp's vocabulary GGUFs. Reads the header only, never the tensors.
import struct

_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_gguf_kv(path, offsets=None):
    with open(path, "rb") as f:
        magic, _version, _n_tensors, n_kv = struct.unpack("<4sIQQ", f.read(24))
        if magic != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")

        def s():
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8")

        def val(t):
            if t == 8:
                return s()
            if t == 9:
                (at,) = struct.unpack("<I", f.read(4))
                (n,) = struct.unpack("<Q", f.read(8))
                where[0] = f.tell()
                if at == 8:
                    return [s() for _ in range(n)]
                size = struct.calcsize("<" + _FMT[at])
                return list(struct.unpack("<%d%s" % (n, _FMT[at]), f.read(size * n)))
            size = struct.calcsize("<" + _FMT[t])
            return struct.unpack("<" + _FMT[t], f.read(size))[0]

        kv, where = {}, [0]
        for _ in range(n_kv):
            k = s()
            (t,) = struct.unpack("<I", f.read(4))
            where[0] = f.tell()
            kv[k] = val(t)
            if offsets is not None:
                offsets[k] = where[0]
        return kv
