"""pil_oracle.py: the Pillow reference for tests/unit/test_image.c.

Usage: /usr/bin/python3 pil_oracle.py REQUEST RESPONSE (Debian's python3 with python3-pil and
python3-numpy; never a python3 from a virtual environment). It reads the request file the C
test wrote and writes the answers, in request order, to the response file; it reads and writes
nothing else and exits non-zero when Pillow or numpy is missing.

Each request is one ASCII header line "KIND W H ARGS..." followed by W*H*3 raw RGB bytes:
  resize W H DW DH FILTER        -> DW*DH*3 bytes: Image.resize((DW, DH), Resampling[FILTER])
  clip W H SIZE M0 M1 M2 S0 S1 S2 -> 3*SIZE*SIZE little-endian float32, CHW: open_clip's eval
                                    transform (see clip() below)
  clip_hf (the same arguments)      -> the same for transformers' CLIPImageProcessor: the crop at
                                    (n - SIZE) // 2, the rescale in float64
  encode W H NAME                -> u32 n, u32 w, u32 h, n bytes of an encoded file, w*h*3 bytes
                                    of Image.open(file).convert("RGB"), turned by its EXIF
                                    orientation first as datasets' Image feature turns it

torch is not installed here, so clip() restates torchvision's Resize(size, BICUBIC) +
CenterCrop(size) + ToTensor + Normalize for a PIL image with Pillow and float32 numpy:
_compute_resized_output_size (long = int(size * long / short)), center_crop (offsets
int(round((n - size) / 2.0))), to_tensor (float32 / 255) and normalize ((x - mean) / std).
"""
import io
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

R = Image.Resampling
FILTERS = {"NEAREST": R.NEAREST, "BOX": R.BOX, "BILINEAR": R.BILINEAR,
           "HAMMING": R.HAMMING, "BICUBIC": R.BICUBIC, "LANCZOS": R.LANCZOS}


def clip(im, size, mean, std, hf=False):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        im = im.resize((new_w, new_h), R.BICUBIC)
    if hf:  # transformers' center_crop
        top, left = (new_h - size) // 2, (new_w - size) // 2
    else:
        top = int(round((new_h - size) / 2.0))
        left = int(round((new_w - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    if hf:  # transformers' rescale: float64 * (1/255), cast to float32
        a = (np.asarray(im, dtype=np.uint8).astype(np.float64) * (1 / 255)).astype(np.float32)
    else:
        a = np.asarray(im, dtype=np.uint8).astype(np.float32) / np.float32(255)
    a = (a - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1)).astype("<f4").tobytes()


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_raw(arr, depth, color_type, interlace=False):
    """A PNG written by hand: 16-bit samples and Adam7, which Pillow cannot write."""
    h, w = arr.shape[:2]
    dtype = ">u2" if depth == 16 else "u1"
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    raw = b""
    for xs, ys, xd, yd in passes:
        sub = arr[ys::yd, xs::xd]
        for row in sub:
            if row.size:
                raw += b"\x00" + row.astype(dtype).tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def bmp16(arr, masks=None, top_down=False):
    """A 16-bit BMP written by hand (Pillow writes none): arr holds the 16-bit pixels; masks
    (r, g, b) make it BI_BITFIELDS after a 40-byte header, else BI_RGB (5-5-5)."""
    h, w = arr.shape
    stride = (w * 16 + 31) // 32 * 4
    rows = [arr[y].astype("<u2").tobytes().ljust(stride, b"\0") for y in range(h)]
    pixels = b"".join(rows if top_down else rows[::-1])
    extra = struct.pack("<III", *masks) if masks else b""
    off = 14 + 40 + len(extra)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, 16, 3 if masks else 0,
                       len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + extra + pixels


def top_down(bmp):
    """The same BMP stored top row first (a negative height), which Pillow reads and none of
    Pillow's writers makes."""
    off, = struct.unpack_from("<I", bmp, 10)
    w, h = struct.unpack_from("<ii", bmp, 18)
    bits, = struct.unpack_from("<H", bmp, 28)
    stride = (w * bits + 31) // 32 * 4
    rows = [bmp[off + y * stride:off + (y + 1) * stride] for y in range(h)]
    out = bytearray(bmp[:off] + b"".join(rows[::-1]) + bmp[off + h * stride:])
    struct.pack_into("<i", out, 22, -h)
    return bytes(out)


def save(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def with_restarts(jpeg):
    """The same JPEG with a restart marker after every MCU, by libjpeg-turbo's lossless jpegtran
    (Debian's libjpeg-turbo-progs): Debian 12's Pillow (9.4) cannot write them itself."""
    out = subprocess.run(["jpegtran", "-restart", "1B"], input=jpeg, capture_output=True,
                         check=True).stdout
    assert b"\xff\xd0" in out and b"\xff\xdd" in out, "jpegtran wrote no restart markers"
    return out


def encode(im, name):
    a = np.asarray(im, dtype=np.uint16)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    wide = np.where(g & 1, r * 3, r * 257 + b)  # 16-bit samples, about a third of them <= 255
    alpha = im.getchannel("B")
    grey = im.convert("L")
    pal = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
    c16 = ((r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)) ^ (r & 7)  # every 5-bit level in use
    c565 = (r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)
    table = {
        "png_rgb": lambda: save(im, "PNG"),
        "png_l": lambda: save(grey, "PNG"),
        "png_l_trns": lambda: save(grey, "PNG", transparency=128),
        "png_la": lambda: save(Image.merge("LA", (grey, alpha)), "PNG"),
        "png_rgba": lambda: save(Image.merge("RGBA", (*im.split(), im.getchannel("G"))), "PNG"),
        "png_p": lambda: save(pal, "PNG"),
        "png_p_trns": lambda: save(pal, "PNG", transparency=5),
        "png_p4": lambda: save(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
                               "PNG", bits=4),
        "png_1": lambda: save(im.convert("1"), "PNG"),
        "png_i16": lambda: png_raw(wide, 16, 0),
        "png_la16": lambda: png_raw(np.stack([wide, r * 257], -1), 16, 4),
        "png_rgb16": lambda: png_raw(np.stack([wide, g * 300, b * 251], -1), 16, 2),
        "png_rgba16": lambda: png_raw(np.stack([wide, g * 300, b * 251, r], -1), 16, 6),
        "png_adam7": lambda: png_raw(np.asarray(im), 8, 2, interlace=True),
        "jpg_q90": lambda: save(im, "JPEG", quality=90),
        "jpg_444": lambda: save(im, "JPEG", quality=95, subsampling=0),
        "jpg_422": lambda: save(im, "JPEG", quality=90, subsampling=1),
        "jpg_prog": lambda: save(im, "JPEG", quality=85, progressive=True),
        "jpg_l": lambda: save(grey, "JPEG", quality=90),
        "jpg_cmyk": lambda: save(im.convert("CMYK"), "JPEG", quality=90),
        "jpg_restart": lambda: with_restarts(save(im, "JPEG", quality=75)),
        "jpg_opt": lambda: save(im, "JPEG", quality=60, optimize=True, subsampling=2),
        "webp_lossless": lambda: save(im, "WEBP", lossless=True),
        "webp_lossless_rgba": lambda: save(Image.merge("RGBA", (*im.split(), alpha)), "WEBP",
                                           lossless=True, exact=True),
        "webp_lossy": lambda: save(im, "WEBP", quality=80),
        "webp_lossy_rgba": lambda: save(Image.merge("RGBA", (*im.split(), alpha)), "WEBP",
                                        quality=80),
        "bmp_rgb": lambda: save(im, "BMP"),
        "bmp_p": lambda: save(pal, "BMP"),
        "bmp_l": lambda: save(grey, "BMP"),
        "bmp_rgba": lambda: save(Image.merge("RGBA", (*im.split(), alpha)), "BMP"),
        "bmp_rgb_top_down": lambda: top_down(save(im, "BMP")),
        "bmp_p_top_down": lambda: top_down(save(pal, "BMP")),
        "bmp_555": lambda: bmp16(c16 & 0x7FFF),
        "bmp_555_bitfields": lambda: bmp16(c16 & 0x7FFF, (0x7C00, 0x3E0, 0x1F), top_down=True),
        "bmp_565": lambda: bmp16(c565, (0xF800, 0x7E0, 0x1F)),
        "gif": lambda: save(pal, "GIF"),
        "gif_trns": lambda: save(pal, "GIF", transparency=3),
    }
    for o in range(1, 9):  # an EXIF Orientation tag, as cameras write it
        exif = Image.Exif()
        exif[0x0112] = o
        table["png_exif%d" % o] = lambda e=exif: save(im, "PNG", exif=e.tobytes())
        table["jpg_exif%d" % o] = lambda e=exif: save(im, "JPEG", quality=95, exif=e.tobytes())
        table["webp_exif%d" % o] = lambda e=exif: save(im, "WEBP", lossless=True,
                                                      exif=e.tobytes())
    data = table[name]()
    dec = Image.open(io.BytesIO(data))
    # datasets' Image feature (2.19 on) turns the image by its EXIF orientation
    if dec.getexif().get(0x0112) is not None:
        dec = ImageOps.exif_transpose(dec)
    dec = dec.convert("RGB")
    return struct.pack("<III", len(data), dec.width, dec.height) + data + dec.tobytes()


def answer(kind, im, args):
    if kind == "resize":
        return im.resize((int(args[0]), int(args[1])), FILTERS[args[2]]).tobytes()
    if kind in ("clip", "clip_hf"):
        vals = [float(v) for v in args[1:7]]
        return clip(im, int(args[0]), vals[0:3], vals[3:6], kind == "clip_hf")
    if kind == "encode":
        return encode(im, args[0])
    raise ValueError("unknown request " + kind)


def main():
    with open(sys.argv[1], "rb") as req, open(sys.argv[2], "wb") as out:
        for line in iter(req.readline, b""):
            parts = line.decode("ascii").split()
            w, h = int(parts[1]), int(parts[2])
            im = Image.frombytes("RGB", (w, h), req.read(w * h * 3))
            out.write(answer(parts[0], im, parts[3:]))


if __name__ == "__main__":
    main()
