/* image.h: decoding images to RGB888, Pillow-identical resampling, and CLIP preprocessing.
 *
 * Decoding goes through libjpeg-turbo (JPEG, with Pillow's decoder settings), stb_image (PNG,
 * BMP, GIF first frame; 16-bit BMPs by our own loop) and libwebp (WebP), then converts to RGB as Pillow's
 * Image.convert("RGB") does. Resizing ports Pillow's fixed-point 8-bit resampler
 * (libImaging/Resample.c) and its nearest-neighbour path (Geometry.c), so the bytes equal
 * Image.resize's. mill_image_clip_preprocess equals torchvision's
 * Resize(size, BICUBIC) + CenterCrop(size) + ToTensor + Normalize on a PIL image.
 * Must not: read files, log, or touch global state (stb_image's failure reason aside). */
#ifndef MILL_DATA_IMAGE_H
#define MILL_DATA_IMAGE_H

#include <mill/mill.h>

#include <stddef.h>
#include <stdint.h>

/* Inputs larger than this are rejected with MILL_EFORMAT before any pixel is decoded. The fuzz
 * build (MILL_FUZZ) lowers both, so the fuzzer spends its time in the parsers rather than in
 * decoding megapixels of valid data; the checks are the same code. */
#ifndef MILL_IMAGE_MAX_SIDE
#define MILL_IMAGE_MAX_SIDE 30000 /* pixels, either side */
#endif
#ifndef MILL_IMAGE_MAX_PIXELS
/* w * h: Pillow's DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS), above which
 * Python Mill fails the image too */
#define MILL_IMAGE_MAX_PIXELS 178956970LL
#endif

struct mill_image {
    int w, h;     /* pixels, >= 1 once filled */
    uint8_t *rgb; /* w * h * 3 bytes, R G B, row-major, top row first; owned, malloc'd */
};

/* Pillow's resampling filters (Image.Resampling), with Pillow's exact kernels and supports. */
enum mill_resample {
    MILL_RESAMPLE_NEAREST,
    MILL_RESAMPLE_BOX,
    MILL_RESAMPLE_BILINEAR,
    MILL_RESAMPLE_HAMMING,
    MILL_RESAMPLE_BICUBIC, /* Keys a = -0.5: Pillow's and open_clip's default */
    MILL_RESAMPLE_LANCZOS,
};

/* Decodes len bytes (format sniffed from the magic bytes) into *img (caller frees with
 * mill_image_free). Conversions follow Pillow's convert("RGB"): grey is replicated, alpha is
 * dropped without compositing, palettes are expanded; 16-bit PNG samples keep their high byte,
 * except 16-bit greyscale, which Pillow opens as mode "I" and clips to 0..255 (so we clip too).
 * GIF: the first frame; pixels left transparent take the frame palette's transparent colour
 * (Pillow's P-mode value), not black. JPEG pixels equal Pillow's (libjpeg-turbo, islow IDCT,
 * fancy upsampling; CMYK read as Pillow's inverted "CMYK;I" and converted as it does).
 * Truncated files are refused as Pillow refuses them (a JPEG without EOI included).
 * Returns 0, MILL_EFORMAT (unknown format, corrupt or truncated data, more than
 * MILL_IMAGE_MAX_SIDE / MILL_IMAGE_MAX_PIXELS), MILL_EUNSUPPORTED (animated WebP), MILL_ENOMEM
 * or MILL_EINVAL (NULL arguments). *img is zeroed on failure. */
int mill_image_decode(const void *data, size_t len, struct mill_image *img, struct mill_err *err);
/* Whether the encoded image carries an EXIF orientation (2-8) that mill_image_decode applies:
 * its bytes then do not show what Mill sees. */
bool mill_image_is_turned(const void *data, size_t len);

/* Frees img->rgb and zeroes *img; NULL is a no-op. */
void mill_image_free(struct mill_image *img);

/* Resizes src to w x h into *dst (caller frees with mill_image_free), byte-identical to
 * Pillow's Image.resize((w, h), filter) on an RGB image (box = whole image, reducing_gap None).
 * Returns 0, MILL_EINVAL (bad size or filter) or MILL_ENOMEM. */
int mill_image_resize(const struct mill_image *src, int w, int h, enum mill_resample filter,
                      struct mill_image *dst, struct mill_err *err);

/* open_clip's eval transform on an RGB image: torchvision Resize(size, BICUBIC) (shorter side
 * to size, longer side int(size * long / short)), CenterCrop(size) (offsets
 * int(round((n - size) / 2.0)), round half to even), ToTensor (/255 in float32) and
 * Normalize(mean, std). floor_crop: transformers' CLIPImageProcessor instead, the same but
 * for the crop's offsets, (n - size) // 2. out_chw receives 3 * size * size floats,
 * channel-major. Returns 0, MILL_EINVAL or MILL_ENOMEM. */
int mill_image_clip_preprocess(const struct mill_image *img, int size, const float mean[3],
                               const float std[3], bool floor_crop, float *out_chw,
                               struct mill_err *err);

#endif
