/* image.c: image decoding (libjpeg-turbo, stb_image, libwebp) to RGB888, Pillow's resampling,
 * and open_clip's CLIP preprocessing. See image.h for the contract.
 *
 * JPEG goes through libjpeg-turbo with the settings Pillow decodes with (islow IDCT, fancy
 * upsampling, Pillow's inverted-CMYK conversion), so the pixels equal Pillow's on the same
 * library; PNG, GIF and BMP through stb_image (16-bit BMPs by decode_bmp16, as Pillow scales
 * them), WebP through libwebp.
 *
 * The resampler is a port of Pillow's libImaging/Resample.c (8-bit path: double coefficients
 * normalised to fixed point with PRECISION_BITS = 22, a half-unit rounding constant, clip8) and
 * of the nearest-neighbour scaling in Geometry.c (ImagingScaleAffine), which Image.resize uses
 * for NEAREST. Expressions are kept in Pillow's order so every double rounds the same way; the
 * unit test compares bytes with Pillow. Must not: change any of that arithmetic without the
 * test, read files, log, or keep state between calls. */
#include "data/image.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <zlib.h>
#include <jerror.h>

#include <stb_image.h>
#include <webp/decode.h>

/* Pillow is built without fused multiply-add; a fused a * b + c would round differently.
 * GCC already keeps them apart under -std=c11 (-ffp-contract=off); clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- decoding ------------------------------------------------------------------------- */

enum fmt { FMT_UNKNOWN, FMT_PNG, FMT_JPEG, FMT_GIF, FMT_BMP, FMT_WEBP };
static const char *const FMT_NAME[] = {"unknown", "PNG", "JPEG", "GIF", "BMP", "WebP"};

static uint32_t rd16le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32le(const uint8_t *p) { return rd16le(p) | rd16le(p + 2) << 16; }
static uint32_t rd32be(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum fmt sniff(const uint8_t *p, size_t n) {
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return FMT_PNG;
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return FMT_JPEG;
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return FMT_GIF;
    if (n >= 2 && p[0] == 'B' && p[1] == 'M')
        return FMT_BMP;
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return FMT_WEBP;
    return FMT_UNKNOWN;
}

static int check_dims(long long w, long long h, enum fmt f, struct mill_err *err) {
    if (w < 1 || h < 1)
        return mill_err_set(err, MILL_EFORMAT, "image: %s with an empty size (%lld x %lld)",
                            FMT_NAME[f], w, h);
    if (w > MILL_IMAGE_MAX_SIDE || h > MILL_IMAGE_MAX_SIDE || w * h > MILL_IMAGE_MAX_PIXELS)
        return mill_err_set(err, MILL_EFORMAT,
                            "image: %s of %lld x %lld pixels exceeds the limit (%d a side, %lld "
                            "pixels)",
                            FMT_NAME[f], w, h, MILL_IMAGE_MAX_SIDE, MILL_IMAGE_MAX_PIXELS);
    return 0;
}

/* The IHDR of a PNG: stb_image refuses more than 2^30 bytes with a vague "unknown image type",
 * so the size is checked here first. 1 when the header is there. */
static int png_ihdr(const uint8_t *p, size_t n, long long *w, long long *h, int *depth,
                    int *color) {
    if (n < 26 || memcmp(p + 12, "IHDR", 4) != 0)
        return 0;
    *w = rd32be(p + 16), *h = rd32be(p + 20), *depth = p[24], *color = p[25];
    return 1;
}

/* What the walk of a PNG's chunk list finds. */
enum png_walk { PNG_WHOLE, PNG_NO_IEND, PNG_TRUNCATED, PNG_BAD_CRC };

/* Walks the chunks as Pillow reads them: PNG_TRUNCATED when one runs past the end (stb_image
 * refuses such files too, but only after growing its IDAT buffer to a chunk's declared length:
 * a 127-byte file declaring a 1.2 GB chunk made it allocate 2 GiB, found by fuzz_image);
 * PNG_BAD_CRC when a chunk before the first IDAT fails its CRC (Pillow checks those, and
 * leaves IDAT's to zlib), its type in bad; PNG_NO_IEND when the bytes end cleanly after an
 * IDAT but no IEND came (Pillow decodes such a file; stb_image wants the IEND). */
static enum png_walk png_walk(const uint8_t *p, size_t n, char bad[5]) {
    size_t off = 8;
    bool idat = false, iend = false;
    bad[0] = 0;
    while (n - off >= 8 && !iend) {
        iend = memcmp(p + off + 4, "IEND", 4) == 0;
        uint64_t len = rd32be(p + off);
        if (!iend && len + 12 > n - off)
            return PNG_TRUNCATED;
        idat = idat || memcmp(p + off + 4, "IDAT", 4) == 0;
        if (!idat && !iend && !bad[0] &&
            crc32(0, p + off + 4, (uInt)len + 4) != rd32be(p + off + 8 + len)) {
            memcpy(bad, p + off + 4, 4);
            bad[4] = 0;
        }
        off += iend ? 0 : (size_t)len + 12;
    }
    if (!iend && !(off == n && idat))
        return PNG_TRUNCATED;
    return bad[0] ? PNG_BAD_CRC : iend ? PNG_WHOLE : PNG_NO_IEND;
}

/* The frame size in a JPEG's SOFn marker, found by walking the marker segments from SOI to the
 * first scan, so the size limit holds before libjpeg allocates. 1 when found. */
static int jpeg_sof(const uint8_t *p, size_t n, long long *w, long long *h) {
    size_t i = 2;
    while (i + 4 <= n && p[i] == 0xFF) {
        uint8_t m = p[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            i += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9)
            return 0;
        size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (len < 7 || i + 9 > n)
                return 0;
            *h = (long long)p[i + 5] << 8 | p[i + 6];
            *w = (long long)p[i + 7] << 8 | p[i + 8];
            return 1;
        }
        if (len < 2)
            return 0;
        i += 2 + len;
    }
    return 0;
}

/* Pillow refuses a BMP whose pixel array is cut short; stb_image would zero-fill it. Only the
 * uncompressed layouts are checked: stb_image rejects the RLE ones anyway. */
static int bmp_truncated(const uint8_t *p, size_t n) {
    if (n < 26)
        return 1;
    uint32_t off = rd32le(p + 10), hsz = rd32le(p + 14), bpp, comp = 0;
    int64_t w, h;
    if (hsz == 12) {
        w = rd16le(p + 18), h = rd16le(p + 20), bpp = rd16le(p + 24);
    } else {
        if (n < 34)
            return 1;
        w = (int32_t)rd32le(p + 18), h = (int32_t)rd32le(p + 22), bpp = rd16le(p + 28);
        comp = rd32le(p + 30);
    }
    if (comp != 0 && comp != 3 && comp != 6)
        return 0;
    w = w < 0 ? -w : w;
    h = h < 0 ? -h : h;
    uint64_t row = ((uint64_t)w * bpp + 31) / 32 * 4;
    return (uint64_t)off + row * (uint64_t)h > n;
}

/* What the GIF walk learns about the first frame. */
struct gif_info {
    const uint8_t *pal; /* the frame's colour table (local, else global), 3 bytes an entry */
    int pal_n;          /* entries in pal, 0 when there is none */
    int trans;          /* the frame's transparent index, -1 when none */
    int x, y, w, h;     /* the frame's rectangle on the screen */
};

/* Skips GIF data sub-blocks up to their terminator: 1 when the bytes run out first. */
static int gif_skip_blocks(const uint8_t *p, size_t n, size_t *off) {
    while (*off < n) {
        size_t sz = p[(*off)++];
        if (sz == 0)
            return 0;
        if (n - *off < sz)
            return 1;
        *off += sz;
    }
    return 1;
}

/* The first frame's LZW data (sub-blocks from *off to their terminator, minimum code size
 * min): 1 when the bytes run out first or the codes make fewer than need pixels. Pillow
 * refuses both as truncated; stb_image would leave the missing pixels as background, so a
 * few bytes could declare a 20000 x 20000 frame. The codes are walked as stb_image's
 * stbi__process_gif_raster walks them, counting each code's string length instead of writing
 * it; a code stb_image refuses ends the count (stb_image then fails the file). */
static int gif_lzw_short(const uint8_t *p, size_t n, size_t *off, int min, uint64_t need) {
    static _Thread_local uint16_t len[8193];
    if (min > 12)
        return 0; /* stb_image refuses it */
    int clear = 1 << min, size = min + 1, avail = clear + 2, old = -1;
    uint32_t mask = (1u << size) - 1, bits = 0;
    int valid = 0;
    bool first = true, stop = false;
    uint64_t got = 0;
    for (int c = 0; c < clear; c++)
        len[c] = 1;
    while (*off < n) {
        size_t sz = p[(*off)++];
        if (sz == 0)
            return got < need;
        if (n - *off < sz)
            return 1;
        for (size_t i = 0; i < sz && !stop; i++) {
            bits |= (uint32_t)p[*off + i] << valid;
            valid += 8;
            while (valid >= size && !stop) {
                int code = (int)(bits & mask);
                bits >>= size;
                valid -= size;
                if (code == clear) {
                    size = min + 1, mask = (1u << size) - 1, avail = clear + 2, old = -1;
                    first = false;
                    continue;
                }
                if (code == clear + 1 || code > avail || first || (old < 0 && code == avail)) {
                    stop = true; /* the end code, or a code stb_image refuses */
                    break;
                }
                if (old >= 0) {
                    if (avail >= 8192) {
                        stop = true;
                        break;
                    }
                    len[avail] = (uint16_t)(len[old] + 1);
                    avail++;
                }
                got += len[code];
                if ((avail & (int)mask) == 0 && avail <= 0x0FFF)
                    size++, mask = (1u << size) - 1;
                old = code;
            }
        }
        *off += sz;
        if (stop) /* the rest of the sub-blocks */
            return gif_skip_blocks(p, n, off) || got < need;
    }
    return 1;
}

/* Reads a colour table of 2 << (flags & 7) entries at *off: 1 when it does not fit. */
static int gif_table(const uint8_t *p, size_t n, size_t *off, uint8_t flags, struct gif_info *gi) {
    size_t entries = (size_t)2 << (flags & 7);
    if (n - *off < 3 * entries)
        return 1;
    gi->pal = p + *off;
    gi->pal_n = (int)entries;
    *off += 3 * entries;
    return 0;
}

/* Walks to the end of the first frame's image data: 1 when the bytes run out first or the
 * data holds fewer pixels than the frame (stb_image would decode the missing pixels as
 * background; Pillow refuses the file). */
static int gif_walk(const uint8_t *p, size_t n, struct gif_info *gi) {
    size_t off = 13;
    *gi = (struct gif_info){NULL, 0, -1, 0, 0, 0, 0};
    if (n < off || ((p[10] & 0x80) && gif_table(p, n, &off, p[10], gi)))
        return 1;
    while (off < n) {
        uint8_t b = p[off++];
        if (b == 0x21) {
            if (off >= n)
                return 1;
            if (p[off] == 0xF9 && n - off >= 6 && p[off + 1] == 4)
                gi->trans = (p[off + 2] & 1) ? p[off + 5] : -1;
            off++;
            if (gif_skip_blocks(p, n, &off))
                return 1;
        } else if (b == 0x2C) {
            if (n - off < 10)
                return 1;
            uint8_t flags = p[off + 8];
            gi->x = p[off] | p[off + 1] << 8, gi->y = p[off + 2] | p[off + 3] << 8;
            gi->w = p[off + 4] | p[off + 5] << 8, gi->h = p[off + 6] | p[off + 7] << 8;
            off += 9;
            if ((flags & 0x80) && gif_table(p, n, &off, flags, gi))
                return 1;
            if (off >= n)
                return 1;
            int min = p[off++];
            return gif_lzw_short(p, n, &off, min, (uint64_t)gi->w * (uint64_t)gi->h);
        } else {
            return 0; /* trailer or junk before any frame: stb_image decides */
        }
    }
    return 1;
}

/* stb_image leaves a GIF's transparent pixels at RGBA 0, and those the frame does not cover
 * in the background index's colour. Pillow opens the first frame in mode P, where both hold
 * the transparent index (or index 0), so convert("RGB") shows that palette colour: do the
 * same. px holds comp (3 or 4) bytes a pixel. */
static void gif_fill(uint8_t *px, int w, int h, int comp, const struct gif_info *gi) {
    int idx = gi->trans >= 0 ? gi->trans : 0;
    if (idx >= gi->pal_n)
        return;
    const uint8_t *c = gi->pal + 3 * idx;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++, px += comp) {
            bool out =
                gi->w > 0 && (x < gi->x || y < gi->y || x - gi->x >= gi->w || y - gi->y >= gi->h);
            if (out || (comp == 4 && px[3] == 0))
                memcpy(px, c, 3);
        }
}

static int alloc_image(struct mill_image *img, int w, int h, struct mill_err *err) {
    img->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!img->rgb)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory for %d x %d pixels", w, h);
    img->w = w;
    img->h = h;
    return 0;
}

/* Pillow's convert("RGB") from L, LA, RGB, RGBA: replicate grey, drop alpha. */
static int to_rgb8(const uint8_t *px, int w, int h, int comp, struct mill_image *img,
                   struct mill_err *err) {
    int rc = alloc_image(img, w, h, err);
    if (rc)
        return rc;
    size_t npix = (size_t)w * (size_t)h;
    uint8_t *o = img->rgb;
    for (size_t i = 0; i < npix; i++, o += 3, px += comp) {
        o[0] = px[0];
        o[1] = comp >= 3 ? px[1] : px[0];
        o[2] = comp >= 3 ? px[2] : px[0];
    }
    return 0;
}

/* A file stb_image refused (a cut PNG never gets here: the chunk walk finds it first). */
static int stb_fail(enum fmt f, struct mill_err *err) {
    const char *why = stbi_failure_reason();
    return mill_err_set(err, MILL_EFORMAT, "image: corrupt %s (stb_image: %s)", FMT_NAME[f],
                        why ? why : "unknown");
}

/* 16-bit greyscale PNG: Pillow opens it as mode "I" and convert("RGB") clips to 0..255. */
static int decode_grey16(const uint8_t *p, size_t n, struct mill_image *img, struct mill_err *err) {
    int w, h, comp, rc;
    uint16_t *px = stbi_load_16_from_memory(p, (int)n, &w, &h, &comp, 0);
    if (!px)
        return stb_fail(FMT_PNG, err);
    if ((rc = alloc_image(img, w, h, err)) == 0) {
        size_t npix = (size_t)w * (size_t)h;
        for (size_t i = 0; i < npix; i++) {
            uint16_t v = px[i * (size_t)comp];
            memset(img->rgb + 3 * i, v > 255 ? 255 : v, 3);
        }
    }
    stbi_image_free(px);
    return rc;
}

/* A 16-bit BMP as Pillow reads it: 5-5-5 (BI_RGB, or BI_BITFIELDS 0x7C00 0x3E0 0x1F) or 5-6-5
 * (BI_BITFIELDS 0xF800 0x7E0 0x1F), each channel v * 255 / max as its BGR;15 and BGR;16
 * unpackers scale it (stb_image replicates the bits: 15 of 32 levels one higher); other masks
 * are refused, as Pillow refuses them. 1 when p is no such BMP (stb_image decodes it). The
 * pixel array was checked to be whole (bmp_truncated). */
static int decode_bmp16(const uint8_t *p, size_t n, struct mill_image *img, struct mill_err *err) {
    uint32_t off = rd32le(p + 10), hsz = rd32le(p + 14);
    if (n < 54 || hsz < 40 || hsz > 124 || rd16le(p + 28) != 16)
        return 1;
    uint32_t comp = rd32le(p + 30), rm = 0x7C00, gm = 0x3E0, bm = 0x1F;
    if (comp == 3 && n >= 66) { /* after a 40-byte header, or inside a longer one: offset 54 */
        rm = rd32le(p + 54), gm = rd32le(p + 58), bm = rd32le(p + 62);
        if (!(rm == 0xF800 && gm == 0x7E0 && bm == 0x1F) &&
            !(rm == 0x7C00 && gm == 0x3E0 && bm == 0x1F))
            return mill_err_set(err, MILL_EFORMAT,
                                "image: a 16-bit BMP of bitfields %#x %#x %#x (Pillow reads "
                                "5-5-5 and 5-6-5 only)",
                                rm, gm, bm);
    } else if (comp != 0) {
        return 1;
    }
    int32_t w = (int32_t)rd32le(p + 18), h = (int32_t)rd32le(p + 22);
    bool top_down = h < 0;
    int rc = alloc_image(img, w < 0 ? -w : w, h < 0 ? -h : h, err);
    if (rc)
        return rc;
    int gbits = gm == 0x7E0 ? 6 : 5, gmax = (1 << gbits) - 1;
    size_t stride = ((size_t)img->w * 16 + 31) / 32 * 4;
    for (int y = 0; y < img->h; y++) {
        const uint8_t *row = p + off + stride * (size_t)(top_down ? y : img->h - 1 - y);
        uint8_t *o = img->rgb + (size_t)y * (size_t)img->w * 3;
        for (int x = 0; x < img->w; x++, o += 3) {
            unsigned v = rd16le(row + 2 * (size_t)x);
            o[0] = (uint8_t)(((v >> (5 + gbits)) & 31) * 255 / 31);
            o[1] = (uint8_t)(((v >> 5) & (unsigned)gmax) * 255 / (unsigned)gmax);
            o[2] = (uint8_t)((v & 31) * 255 / 31);
        }
    }
    return 0;
}

/* stb_image's decode of p[0..n) in format f; depth and color: a PNG's IHDR values (8 and -1
 * for other formats). */
static int decode_stb_bytes(const uint8_t *p, size_t n, enum fmt f, int depth, int color,
                            struct mill_image *img, struct mill_err *err) {
    int w, h, comp, rc;
    struct gif_info gi = {NULL, 0, -1, 0, 0, 0, 0};
    if (!stbi_info_from_memory(p, (int)n, &w, &h, &comp))
        return stb_fail(f, err);
    if (f == FMT_BMP && h < 0 && h > INT_MIN) /* a top-down BMP: stbi_info gives its height as
                                              * stored, negative */
        h = -h;
    if ((rc = check_dims(w, h, f, err)) != 0)
        return rc;
    if ((f == FMT_BMP && bmp_truncated(p, n)) || (f == FMT_GIF && gif_walk(p, n, &gi)))
        return mill_err_set(err, MILL_EFORMAT, "image: truncated %s (%d x %d, %zu bytes)",
                            FMT_NAME[f], w, h, n);
    if (f == FMT_PNG && depth == 16 && color == 0) /* 16-bit LA/RGB(A): high byte, as Pillow */
        return decode_grey16(p, n, img, err);
    if (f == FMT_BMP && (rc = decode_bmp16(p, n, img, err)) != 1)
        return rc;
    uint8_t *px = stbi_load_from_memory(p, (int)n, &w, &h, &comp, 0);
    if (!px)
        return stb_fail(f, err);
    if (f == FMT_GIF && (comp == 3 || comp == 4))
        gif_fill(px, w, h, comp, &gi);
    rc = to_rgb8(px, w, h, comp, img, err);
    stbi_image_free(px);
    return rc;
}

/* A PNG checked by png_walk first (one without its IEND gets it appended), then stb_image. */
static int decode_stb(const uint8_t *p, size_t n, enum fmt f, struct mill_image *img,
                      struct mill_err *err) {
    char bad[5];
    long long iw, ih;
    int depth = 8, color = -1, rc;
    if (f == FMT_PNG && png_ihdr(p, n, &iw, &ih, &depth, &color) &&
        (rc = check_dims(iw, ih, f, err)) != 0)
        return rc;
    enum png_walk pw = f == FMT_PNG ? png_walk(p, n, bad) : PNG_WHOLE;
    if (pw == PNG_TRUNCATED)
        return mill_err_set(err, MILL_EFORMAT,
                            "image: truncated PNG (%zu bytes: a chunk runs past the end)", n);
    if (pw == PNG_BAD_CRC)
        return mill_err_set(err, MILL_EFORMAT, "image: corrupt PNG (its %s chunk fails its CRC)",
                            bad);
    if (pw == PNG_WHOLE)
        return decode_stb_bytes(p, n, f, depth, color, img, err);
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    uint8_t *whole = n <= SIZE_MAX - sizeof iend ? malloc(n + sizeof iend) : NULL;
    if (!whole)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory");
    memcpy(whole, p, n);
    memcpy(whole + n, iend, sizeof iend);
    rc = decode_stb_bytes(whole, n + sizeof iend, f, depth, color, img, err);
    free(whole);
    return rc;
}

/* libjpeg's errors end the decode through longjmp; its warnings (corrupt data it can decode
 * past, as Pillow does) are silent, but for the one that the data ran out before the EOI marker
 * (the memory source then feeds a fake EOI, and the missing blocks come out grey): Pillow
 * refuses such a file, even one that lacks only the EOI, as truncated. */
struct jpeg_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    bool eof; /* JWRN_JPEG_EOF was emitted */
};

static void jpeg_on_error(j_common_ptr c) {
    struct jpeg_fail *f = (struct jpeg_fail *)c->err;
    (*c->err->format_message)(c, f->msg);
    longjmp(f->jmp, 1);
}

static void jpeg_on_message(j_common_ptr c, int level) {
    if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF)
        ((struct jpeg_fail *)c->err)->eof = true;
}

/* Pillow's "CMYK;I" raw mode (it assumes Adobe's inverted samples) and its cmyk2rgb
 * (libImaging/Convert.c): nk = 255 - k, each channel nk - nk * c / 255, rounded as MULDIV255. */
static void cmyk_row(const uint8_t *in, uint8_t *out, size_t w) {
    for (size_t x = 0; x < w; x++, in += 4, out += 3) {
        int nk = in[3]; /* 255 - k, where k = 255 - the raw sample */
        for (int ch = 0; ch < 3; ch++) {
            int t = (255 - in[ch]) * nk + 128;
            out[ch] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
}

/* What the decode owns, so the longjmp path can free it (locals changed after setjmp would
 * need volatile). */
struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fail fail;
    struct jpeg_progress_mgr progress;
    uint8_t *row, *rgb;
};

/* A progressive file may hold any number of scans, each a pass over the whole frame: past
 * JPEG_MAX_SCANS (libjpeg-turbo's advice against such files) it is refused. */
#define JPEG_MAX_SCANS 1000

static void jpeg_on_progress(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        struct jpeg_fail *f = (struct jpeg_fail *)c->err;
        snprintf(f->msg, sizeof f->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(f->jmp, 1);
    }
}

/* The rows into j->rgb; false when libjpeg gives no row (it cannot with a memory source). */
static bool jpeg_rows(struct jpeg_job *j, bool cmyk) {
    size_t w = j->cinfo.output_width, comps = (size_t)j->cinfo.output_components;
    while (j->cinfo.output_scanline < j->cinfo.output_height) {
        uint8_t *out = j->rgb + (size_t)j->cinfo.output_scanline * w * 3;
        JSAMPROW r = j->row;
        if (jpeg_read_scanlines(&j->cinfo, &r, 1) != 1)
            return false;
        if (cmyk)
            cmyk_row(j->row, out, w);
        else if (comps == 1)
            for (size_t x = 0; x < w; x++)
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = j->row[x];
        else
            memcpy(out, j->row, w * 3);
    }
    return true;
}

static int decode_jpeg(const uint8_t *p, size_t n, struct mill_image *img, struct mill_err *err) {
    struct jpeg_job *j = calloc(1, sizeof *j);
    if (!j)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory decoding JPEG");
    long long sw, sh;
    int rc = jpeg_sof(p, n, &sw, &sh) ? check_dims(sw, sh, FMT_JPEG, err) : 0;
    if (rc) {
        free(j);
        return rc;
    }
    j->cinfo.err = jpeg_std_error(&j->fail.pub);
    j->fail.pub.error_exit = jpeg_on_error;
    j->fail.pub.emit_message = jpeg_on_message;
    if (setjmp(j->fail.jmp)) {
        rc = mill_err_set(err, MILL_EFORMAT, "image: %s JPEG (libjpeg: %s)",
                          j->fail.eof ? "truncated" : "corrupt", j->fail.msg);
        goto done;
    }
    jpeg_create_decompress(&j->cinfo);
    j->progress.progress_monitor = jpeg_on_progress;
    j->cinfo.progress = &j->progress;
    jpeg_mem_src(&j->cinfo, p, (unsigned long)n);
    jpeg_read_header(&j->cinfo, TRUE);
    long long w = j->cinfo.image_width, h = j->cinfo.image_height;
    if ((rc = check_dims(w, h, FMT_JPEG, err)) != 0)
        goto done;
    J_COLOR_SPACE cs = j->cinfo.jpeg_color_space;
    bool cmyk = cs == JCS_CMYK || cs == JCS_YCCK;
    j->cinfo.out_color_space = cmyk ? JCS_CMYK : cs == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    j->cinfo.dct_method = JDCT_ISLOW; /* Pillow's default */
    j->cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&j->cinfo);
    j->row = malloc((size_t)j->cinfo.output_width * (size_t)j->cinfo.output_components);
    j->rgb = malloc((size_t)j->cinfo.output_width * j->cinfo.output_height * 3);
    if (!j->row || !j->rgb) {
        rc = mill_err_set(err, MILL_ENOMEM, "image: out of memory decoding a %lld x %lld JPEG", w,
                          h);
        goto done;
    }
    if (!jpeg_rows(j, cmyk)) {
        rc = mill_err_set(err, MILL_EFORMAT, "image: corrupt JPEG (no scanline returned)");
        goto done;
    }
    jpeg_finish_decompress(&j->cinfo);
    if (j->fail.eof) {
        rc = mill_err_set(err, MILL_EFORMAT, "image: truncated JPEG (%lld x %lld, %zu bytes)", w, h,
                          n);
        goto done;
    }
    img->w = (int)j->cinfo.output_width;
    img->h = (int)j->cinfo.output_height;
    img->rgb = j->rgb;
    j->rgb = NULL;
done:
    jpeg_destroy_decompress(&j->cinfo);
    free(j->row);
    free(j->rgb);
    free(j);
    return rc;
}

static int webp_fail(VP8StatusCode st, struct mill_err *err) {
    if (st == VP8_STATUS_OUT_OF_MEMORY)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory decoding WebP");
    if (st == VP8_STATUS_NOT_ENOUGH_DATA)
        return mill_err_set(err, MILL_EFORMAT, "image: truncated WebP (libwebp: not enough data)");
    return mill_err_set(err, MILL_EFORMAT, "image: corrupt WebP (libwebp status %d)", (int)st);
}

/* WebP: RGB straight from libwebp; with alpha the RGB samples are the same as in the RGBA
 * output Pillow decodes and then drops the alpha of. */
static int decode_webp(const uint8_t *p, size_t n, struct mill_image *img, struct mill_err *err) {
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg))
        return mill_err_set(err, MILL_EUNSUPPORTED, "image: libwebp version mismatch");
    VP8StatusCode st = WebPGetFeatures(p, n, &cfg.input);
    if (st != VP8_STATUS_OK)
        return webp_fail(st, err);
    if (cfg.input.has_animation)
        return mill_err_set(err, MILL_EUNSUPPORTED, "image: animated WebP is not supported");
    int rc = check_dims(cfg.input.width, cfg.input.height, FMT_WEBP, err);
    if (rc || (rc = alloc_image(img, cfg.input.width, cfg.input.height, err)) != 0)
        return rc;
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = img->rgb;
    cfg.output.u.RGBA.stride = img->w * 3;
    cfg.output.u.RGBA.size = (size_t)img->w * (size_t)img->h * 3;
    st = WebPDecode(p, n, &cfg);
    WebPFreeDecBuffer(&cfg.output);
    if (st != VP8_STATUS_OK) {
        mill_image_free(img);
        return webp_fail(st, err);
    }
    return 0;
}

/* ---- EXIF orientation ---------------------------------------------------------------------- */

/* The Orientation tag (0x0112) of IFD0 in the TIFF structure t[0..n), 1 (as stored) when absent
 * or malformed. */
static int tiff_orientation(const uint8_t *t, size_t n) {
    if (n >= 6 && !memcmp(t, "Exif\0\0", 6)) { /* WebP's EXIF chunk may keep the JPEG prefix */
        t += 6;
        n -= 6;
    }
    if (n < 8 || (memcmp(t, "II", 2) && memcmp(t, "MM", 2)))
        return 1;
    bool le = t[0] == 'I';
#define U16(q) (le ? rd16le(q) : (uint32_t)(q)[0] << 8 | (q)[1])
#define U32(q) (le ? rd32le(q) : rd32be(q))
    uint32_t ifd = U32(t + 4);
    if (U16(t + 2) != 42 || ifd > n - 2)
        return 1;
    uint32_t count = U16(t + ifd);
    for (uint32_t i = 0; i < count && ifd + 2 + 12 * (size_t)(i + 1) <= n; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * (size_t)i;
        uint32_t type = U16(e + 2);
        if (U16(e) != 0x0112 || U32(e + 4) != 1)
            continue;
        /* the value inline, of any integer type PIL reads: BYTE, SHORT, LONG, signed ones */
        if (type == 1 || type == 6)
            return e[8];
        if (type == 3 || type == 8)
            return (int)U16(e + 8);
        if (type == 4 || type == 9)
            return U32(e + 8) <= 8 ? (int)U32(e + 8) : 1;
    }
    return 1;
#undef U16
#undef U32
}

/* The EXIF orientation of an encoded image (JPEG's APP1 "Exif", PNG's eXIf chunk, WebP's EXIF
 * chunk), 1 when it has none. */
static int exif_orientation(const uint8_t *p, size_t n, enum fmt f) {
    if (n < 12)
        return 1;
    if (f == FMT_JPEG) {
        for (size_t i = 2; i + 4 <= n && p[i] == 0xFF;) {
            uint8_t m = p[i + 1];
            if (m == 0xFF || m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                i += m == 0xFF ? 1 : 2;
                continue;
            }
            size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
            if (m == 0xDA || m == 0xD9 || len < 2 || len > n - i - 2)
                return 1;
            if (m == 0xE1 && len >= 8 && !memcmp(p + i + 4, "Exif\0\0", 6))
                return tiff_orientation(p + i + 10, len - 8);
            i += 2 + len;
        }
    } else if (f == FMT_PNG) {
        for (size_t off = 8; n - off >= 12;) {
            uint64_t len = rd32be(p + off);
            if (len > n - off - 12 || !memcmp(p + off + 4, "IEND", 4)) /* nothing after IEND */
                return 1;
            if (!memcmp(p + off + 4, "eXIf", 4))
                return tiff_orientation(p + off + 8, (size_t)len);
            off += (size_t)len + 12;
        }
    } else if (f == FMT_WEBP) {
        /* Pillow reads EXIF only from an extended file (VP8X with its EXIF flag), within the
         * RIFF size */
        uint64_t riff = (uint64_t)rd32le(p + 4) + 8;
        if (riff < n)
            n = (size_t)riff;
        if (n < 21 || memcmp(p + 12, "VP8X", 4) || !(p[20] & 0x08))
            return 1;
        for (size_t off = 12; n - off >= 8;) { /* FourCC, little-endian size, even padding */
            uint64_t len = rd32le(p + off + 4);
            if (len > n - off - 8)
                return 1;
            if (!memcmp(p + off, "EXIF", 4))
                return tiff_orientation(p + off + 8, (size_t)len);
            off += (size_t)len + 8;
            if (len & 1 && off++ == n)
                return 1;
        }
    }
    return 1;
}

/* Applies orientation o (2-8) to img as Pillow's ImageOps.exif_transpose does (the transpose
 * methods FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE,
 * ROTATE_90); other values leave it. */
static int orient(struct mill_image *img, int o, struct mill_err *err) {
    if (o < 2 || o > 8)
        return 0;
    bool swap = o >= 5; /* width and height exchange */
    size_t w = (size_t)img->w, h = (size_t)img->h, ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc(w * h * 3);
    if (!out)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory");
    for (size_t y = 0; y < oh; y++)
        for (size_t x = 0; x < ow; x++) {
            size_t sx, sy; /* the source pixel of output (x, y) */
            switch (o) {
            case 2: sx = w - 1 - x, sy = y; break;         /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x, sy = h - 1 - y; break; /* ROTATE_180 */
            case 4: sx = x, sy = h - 1 - y; break;         /* FLIP_TOP_BOTTOM */
            case 5: sx = y, sy = x; break;                 /* TRANSPOSE */
            case 6: sx = y, sy = h - 1 - x; break;         /* ROTATE_270 (clockwise 90) */
            case 7: sx = w - 1 - y, sy = h - 1 - x; break; /* TRANSVERSE */
            default: sx = w - 1 - y, sy = x; break;        /* 8: ROTATE_90 (counter-clockwise) */
            }
            memcpy(out + (y * ow + x) * 3, img->rgb + (sy * w + sx) * 3, 3);
        }
    free(img->rgb);
    img->rgb = out;
    img->w = (int)ow;
    img->h = (int)oh;
    return 0;
}

bool mill_image_is_turned(const void *data, size_t len) {
    int o = exif_orientation(data, len, sniff(data, len));
    return o >= 2 && o <= 8;
}

int mill_image_decode(const void *data, size_t len, struct mill_image *img, struct mill_err *err) {
    if (!img || (!data && len))
        return mill_err_set(err, MILL_EINVAL, "image: NULL argument");
    memset(img, 0, sizeof *img);
    const uint8_t *p = data;
    enum fmt f = sniff(p, len);
    if (f == FMT_UNKNOWN)
        return mill_err_set(err, MILL_EFORMAT,
                            "image: not a PNG, JPEG, GIF, BMP or WebP file (%zu bytes)", len);
    if (len > INT_MAX)
        return mill_err_set(err, MILL_EFORMAT, "image: %s of %zu bytes is too large", FMT_NAME[f],
                            len);
    int rc = f == FMT_WEBP   ? decode_webp(p, len, img, err)
             : f == FMT_JPEG ? decode_jpeg(p, len, img, err)
                             : decode_stb(p, len, f, img, err);
    if (!rc) /* datasets' Image feature applies ImageOps.exif_transpose (datasets 2.19 on) */
        rc = orient(img, exif_orientation(p, len, f), err);
    if (rc)
        mill_image_free(img);
    return rc;
}

void mill_image_free(struct mill_image *img) {
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ---- Pillow's resampling ------------------------------------------------------------------ */

/* 8 bits for the result and 2 for overflow of the (partly negative) sums, as in Pillow. */
#define PRECISION_BITS (32 - 8 - 2)

struct filter {
    double (*fn)(double x);
    double support; /* in source pixels at scale 1, widened by the scale when downscaling */
};

static double box_fn(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

static double bilinear_fn(double x) {
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_fn(double x) {
    if (x < 0.0)
        x = -x;
    if (x == 0.0)
        return 1.0;
    if (x >= 1.0)
        return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54f + 0.46f * cos(x)); /* float constants, as Pillow writes them */
}

static double bicubic_fn(double x) {
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc_fn(double x) {
    if (x == 0.0)
        return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_fn(double x) {
    return -3.0 <= x && x < 3.0 ? sinc_fn(x) * sinc_fn(x / 3) : 0.0;
}

static const struct filter FILTERS[] = {
    [MILL_RESAMPLE_BOX] = {box_fn, 0.5},         [MILL_RESAMPLE_BILINEAR] = {bilinear_fn, 1.0},
    [MILL_RESAMPLE_HAMMING] = {hamming_fn, 1.0}, [MILL_RESAMPLE_BICUBIC] = {bicubic_fn, 2.0},
    [MILL_RESAMPLE_LANCZOS] = {lanczos_fn, 3.0},
};

/* One axis' coefficients for output pixels first .. first + count of an out_size resize: for
 * the i-th, source pixels bounds[2i] .. + bounds[2i+1] weighted by k[i * ksize ...] in fixed
 * point. Each output pixel's weights depend on its index only, so a window of the output
 * (the CLIP crop) comes out exactly as in Pillow's full resize. */
struct coeffs {
    int ksize;
    int *bounds;
    int32_t *k;
};

/* The part of a w x h resize's output that is computed. */
struct region {
    int x0, y0, w, h;
};

static void coeffs_free(struct coeffs *c) {
    free(c->bounds);
    free(c->k);
}

/* Pillow's normalize_coeffs_8bpc: round half away from zero into PRECISION_BITS. */
static int32_t fixed(double v) {
    return v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                 : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
}

struct axis {
    int in_size;
    double scale, filterscale, support;
    const struct filter *f;
};

/* Output pixel xx's weights into slot i (Pillow's precompute_coeffs loop body); w is ksize
 * doubles of scratch. */
static void pixel_coeffs(const struct axis *a, int xx, int i, double *w, struct coeffs *c) {
    double center = 0.0 + (xx + 0.5) * a->scale; /* in0 + ..., Pillow's box starting at 0 */
    double ww = 0.0, ss = 1.0 / a->filterscale;
    int xmin = (int)(center - a->support + 0.5), xmax = (int)(center + a->support + 0.5), x;
    if (xmin < 0)
        xmin = 0;
    if (xmax > a->in_size)
        xmax = a->in_size;
    xmax -= xmin;
    for (x = 0; x < xmax; x++) {
        w[x] = a->f->fn((x + xmin - center + 0.5) * ss);
        ww += w[x];
    }
    int32_t *k = c->k + (size_t)i * (size_t)c->ksize;
    for (x = 0; x < xmax; x++)
        k[x] = fixed(ww != 0.0 ? w[x] / ww : w[x]);
    for (; x < c->ksize; x++)
        k[x] = 0;
    c->bounds[2 * i] = xmin;
    c->bounds[2 * i + 1] = xmax;
}

static int precompute(int in_size, int out_size, int first, int count, const struct filter *f,
                      struct coeffs *c) {
    struct axis a = {in_size, (double)in_size / out_size, 0.0, 0.0, f};
    a.filterscale = a.scale < 1.0 ? 1.0 : a.scale; /* widen the support when downscaling */
    a.support = f->support * a.filterscale;
    c->ksize = (int)ceil(a.support) * 2 + 1;
    c->bounds = malloc((size_t)count * 2 * sizeof *c->bounds);
    c->k = malloc((size_t)count * (size_t)c->ksize * sizeof *c->k);
    double *w = malloc((size_t)c->ksize * sizeof *w);
    int ok = c->bounds && c->k && w;
    for (int i = 0; ok && i < count; i++)
        pixel_coeffs(&a, first + i, i, w, c);
    free(w);
    return ok ? 0 : -1;
}

static uint8_t clip8(int32_t v) {
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* Pillow's ImagingResampleHorizontal_8bpc: rows row0 .. row0 + nrows of in, to out_w wide. */
static void pass_horizontal(const uint8_t *in, int in_w, int row0, int nrows, uint8_t *out,
                            int out_w, const struct coeffs *c) {
    for (int y = 0; y < nrows; y++) {
        const uint8_t *src = in + (size_t)(row0 + y) * (size_t)in_w * 3;
        uint8_t *dst = out + (size_t)y * (size_t)out_w * 3;
        for (int xx = 0; xx < out_w; xx++, dst += 3) {
            const uint8_t *s = src + (size_t)c->bounds[2 * xx] * 3;
            const int32_t *k = c->k + (size_t)xx * (size_t)c->ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < c->bounds[2 * xx + 1]; x++, s += 3) {
                s0 += s[0] * k[x];
                s1 += s[1] * k[x];
                s2 += s[2] * k[x];
            }
            dst[0] = clip8(s0), dst[1] = clip8(s1), dst[2] = clip8(s2);
        }
    }
}

/* Pillow's ImagingResampleVertical_8bpc, summed row by row into acc (w * 3 ints) for cache
 * locality; the integer sums are the same. Row 0 of in (stride bytes apart) is source row
 * row0; out is w * out_h pixels. */
static void pass_vertical(const uint8_t *in, size_t stride, int w, int row0, uint8_t *out,
                          int out_h, const struct coeffs *c, int32_t *acc) {
    size_t n = (size_t)w * 3;
    for (int yy = 0; yy < out_h; yy++) {
        const int32_t *k = c->k + (size_t)yy * (size_t)c->ksize;
        const uint8_t *src = in + (size_t)(c->bounds[2 * yy] - row0) * stride;
        for (size_t i = 0; i < n; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < c->bounds[2 * yy + 1]; y++, src += stride)
            for (size_t i = 0; i < n; i++)
                acc[i] += src[i] * k[y];
        for (size_t i = 0; i < n; i++)
            out[(size_t)yy * n + i] = clip8(acc[i]);
    }
}

/* The vertical pass of ImagingResampleInner into dst (w x h). */
static int vertical(const uint8_t *in, size_t stride, int w, int row0, int h,
                    const struct coeffs *cv, struct mill_image *dst) {
    int32_t *acc = malloc((size_t)w * 3 * sizeof *acc);
    dst->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!acc || !dst->rgb) {
        free(acc);
        free(dst->rgb);
        dst->rgb = NULL;
        return -1;
    }
    pass_vertical(in, stride, w, row0, dst->rgb, h, cv, acc);
    free(acc);
    dst->w = w;
    dst->h = h;
    return 0;
}

/* Pillow's ImagingResampleInner for the window r of a w x h resize (at least one side
 * changes): a horizontal pass over just the source rows the vertical pass reads, then the
 * vertical pass; a pass whose side keeps its size is skipped, as in Pillow. */
static int resample(const struct mill_image *src, int w, int h, const struct region *r,
                    const struct filter *f, struct mill_image *dst) {
    struct coeffs cv = {0}, ch = {0};
    int rc = 0, row0 = r->y0, row1 = r->y0 + r->h; /* source rows used */
    if (h != src->h && (rc = precompute(src->h, h, r->y0, r->h, f, &cv)) == 0) {
        row0 = cv.bounds[0];
        row1 = cv.bounds[2 * r->h - 2] + cv.bounds[2 * r->h - 1];
    }
    const uint8_t *cur = src->rgb + (size_t)r->x0 * 3; /* the window's columns, unresampled */
    size_t stride = (size_t)src->w * 3;
    int cur_row0 = 0;
    uint8_t *tmp = NULL;
    if (rc == 0 && w != src->w) {
        tmp = malloc((size_t)r->w * (size_t)(row1 - row0) * 3);
        rc = tmp ? precompute(src->w, w, r->x0, r->w, f, &ch) : -1;
        if (rc == 0)
            pass_horizontal(src->rgb, src->w, row0, row1 - row0, tmp, r->w, &ch);
        cur = tmp, stride = (size_t)r->w * 3, cur_row0 = row0;
    }
    if (rc == 0 && h != src->h) {
        rc = vertical(cur, stride, r->w, cur_row0, r->h, &cv, dst);
    } else if (rc == 0) { /* horizontal only: tmp holds exactly the window's rows */
        dst->rgb = tmp, dst->w = r->w, dst->h = r->h;
        tmp = NULL;
    }
    free(tmp);
    coeffs_free(&cv);
    coeffs_free(&ch);
    return rc;
}

/* Pillow's COORD(): truncation, with anything below zero out of range. */
static int coord(double v) { return v < 0.0 ? -1 : (int)v; }

/* Image.resize with NEAREST: ImagingScaleAffine with a = (in/out, 0, 0, 0, in/out, 0),
 * sampling at accumulated pixel centres; pixels mapping outside the source stay 0. */
static int nearest(const struct mill_image *src, int w, int h, struct mill_image *dst) {
    double ax = (double)src->w / w, ay = (double)src->h / h, xo = 0.0 + ax * 0.5;
    double yo = 0.0 + ay * 0.5;
    int *xin = malloc((size_t)w * sizeof *xin);
    dst->rgb = calloc((size_t)w * (size_t)h, 3);
    if (!xin || !dst->rgb) {
        free(xin);
        free(dst->rgb);
        dst->rgb = NULL;
        return -1;
    }
    for (int x = 0; x < w; x++, xo += ax)
        xin[x] = coord(xo) < src->w ? coord(xo) : -1;
    for (int y = 0; y < h; y++, yo += ay) {
        int yi = coord(yo);
        if (yi < 0 || yi >= src->h)
            continue;
        const uint8_t *row = src->rgb + (size_t)yi * (size_t)src->w * 3;
        uint8_t *out = dst->rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++)
            if (xin[x] >= 0)
                memcpy(out + 3 * x, row + 3 * (size_t)xin[x], 3);
    }
    free(xin);
    dst->w = w;
    dst->h = h;
    return 0;
}

static int valid_size(int w, int h) {
    return w >= 1 && h >= 1 && w <= MILL_IMAGE_MAX_SIDE && h <= MILL_IMAGE_MAX_SIDE &&
           (long long)w * h <= MILL_IMAGE_MAX_PIXELS;
}

static int valid_image(const struct mill_image *img) {
    return img && img->rgb && valid_size(img->w, img->h);
}

int mill_image_resize(const struct mill_image *src, int w, int h, enum mill_resample filter,
                      struct mill_image *dst, struct mill_err *err) {
    struct mill_image out = {0, 0, NULL};
    struct region all = {0, 0, w, h};
    int rc;
    if (!valid_image(src) || !dst || !valid_size(w, h) || (int)filter < 0 ||
        filter > MILL_RESAMPLE_LANCZOS)
        return mill_err_set(err, MILL_EINVAL, "image: bad resize arguments (%d x %d, filter %d)", w,
                            h, (int)filter);
    if (w == src->w && h == src->h) { /* Pillow copies */
        rc = alloc_image(&out, w, h, err);
        if (rc == 0)
            memcpy(out.rgb, src->rgb, (size_t)w * (size_t)h * 3);
    } else {
        rc = filter == MILL_RESAMPLE_NEAREST ? nearest(src, w, h, &out)
                                             : resample(src, w, h, &all, &FILTERS[filter], &out);
        if (rc)
            rc = mill_err_set(err, MILL_ENOMEM,
                              "image: out of memory resizing %d x %d to "
                              "%d x %d",
                              src->w, src->h, w, h);
    }
    *dst = out;
    return rc;
}

/* ---- CLIP preprocessing ------------------------------------------------------------------- */

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even neighbour. */
static int half_round_even(int d) {
    int q = d / 2;
    return (d % 2 == 0 || q % 2 == 0) ? q : q + 1;
}

/* torchvision's _compute_resized_output_size for an int size: the shorter side becomes size,
 * the longer int(size * long / short) (a correctly rounded double quotient, truncated). */
static void clip_resized_size(int w, int h, int size, int *nw, int *nh) {
    int sh = w <= h ? w : h, lg = w <= h ? h : w;
    int nl = (int)((double)((long long)size * lg) / sh);
    *nw = w <= h ? size : nl;
    *nh = w <= h ? nl : size;
}

/* ToTensor then Normalize, in float32 as torch computes them, for the crop at (left, top). */
static void clip_normalize(const struct mill_image *im, int left, int top, int size,
                           const float mean[3], const float std[3], float *out) {
    size_t plane = (size_t)size * (size_t)size;
    for (int y = 0; y < size; y++) {
        const uint8_t *row = im->rgb + ((size_t)(top + y) * (size_t)im->w + (size_t)left) * 3;
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                float v = (float)row[3 * x + c] / 255.0f;
                out[c * plane + (size_t)y * (size_t)size + (size_t)x] = (v - mean[c]) / std[c];
            }
    }
}

int mill_image_clip_preprocess(const struct mill_image *img, int size, const float mean[3],
                               const float std[3], bool floor_crop, float *out_chw,
                               struct mill_err *err) {
    if (!valid_image(img) || !mean || !std || !out_chw || size < 1 || size > MILL_IMAGE_MAX_SIDE ||
        std[0] == 0.0f || std[1] == 0.0f || std[2] == 0.0f)
        return mill_err_set(err, MILL_EINVAL, "image: bad CLIP preprocessing arguments");
    int nw, nh;
    clip_resized_size(img->w, img->h, size, &nw, &nh);
    /* Only the crop of the resized image is computed: the same bytes, and a bounded cost for
     * extreme aspect ratios (a 1 x 30000 image resizes to 224 x 6720000 in torchvision). */
    struct region crop = {floor_crop ? (nw - size) / 2 : half_round_even(nw - size),
                          floor_crop ? (nh - size) / 2 : half_round_even(nh - size), size, size};
    if (nw == img->w && nh == img->h) {
        clip_normalize(img, crop.x0, crop.y0, size, mean, std, out_chw);
        return 0;
    }
    struct mill_image tmp = {0, 0, NULL};
    if (resample(img, nw, nh, &crop, &FILTERS[MILL_RESAMPLE_BICUBIC], &tmp) != 0)
        return mill_err_set(err, MILL_ENOMEM, "image: out of memory preprocessing %d x %d", img->w,
                            img->h);
    clip_normalize(&tmp, 0, 0, size, mean, std, out_chw);
    mill_image_free(&tmp);
    return 0;
}
