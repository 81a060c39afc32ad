/* test_image.c: src/data/image.c against Debian's Pillow, through tests/reference/pil_oracle.py.
 *
 * Resizing: hundreds of deterministic (source size, target size, filter) cases on noise, smooth
 * gradients and hard edges must equal Image.resize byte for byte. CLIP preprocessing must equal
 * torchvision's transform (restated in the oracle) within 1e-6. Files Pillow writes must decode
 * to Image.open(...).convert("RGB") exactly, JPEG too (baseline, progressive, 4:4:4/4:2:2/4:2:0,
 * grey, inverted Adobe CMYK, restart markers, optimised tables): both sides decode with Debian's
 * libjpeg-turbo and Pillow's settings; so must 16-bit BMPs (5-5-5, 5-6-5) and top-down BMPs
 * written by hand, and a 4-4-4-4 layout is refused as Pillow refuses it. Truncated, corrupt and
 * oversized files must give MILL_EFORMAT, and byte mutations must never crash.
 * The oracle runs under /usr/bin/python3; the test fails, never skips, when it or Pillow is
 * missing. Pixels travel raw, so both sides start from the same bytes. Must not write outside
 * the temporary directory it makes and removes. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/image.h"
#include "mtest.h"

#define ORACLE_PYTHON "/usr/bin/python3"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- deterministic pixels ---- */

static uint64_t rng = 42;

static uint32_t rnd(void) {
    rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(rng >> 32);
}

static int rnd_range(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

/* Log-uniform in 1..max, so tiny sides and extreme ratios come up often. */
static int rnd_dim(int max) {
    int d = (int)exp(rnd() / 4294967296.0 * log(max + 1.0));
    return d < 1 ? 1 : d > max ? max : d;
}

enum pattern { PAT_NOISE, PAT_GRADIENT, PAT_EDGES, PAT_COUNT };

static uint8_t pattern_px(int pat, int x, int y, int c, int w, int h, int cell) {
    switch (pat) {
    case PAT_NOISE: return (uint8_t)(rnd() >> 24);
    case PAT_GRADIENT:
        if (c == 0)
            return (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
        if (c == 1)
            return (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
        return (uint8_t)lrint(127.5 + 127.5 * sin(x * 0.07 + y * 0.05));
    default: /* hard 0/255 edges make the cubic and sinc kernels overshoot into clip8 */
        return ((x / (cell + c) + y / cell) & 1) ? 255 : 0;
    }
}

/* An RGB image filled with pattern pat from seed; the caller frees it. */
static struct mill_image make_image(int w, int h, int pat, uint64_t seed) {
    struct mill_image im = {w, h, malloc((size_t)w * (size_t)h * 3)};
    uint64_t saved = rng;
    rng = seed;
    int cell = rnd_range(1, 9);
    uint8_t *p = im.rgb;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                *p++ = pattern_px(pat, x, y, c, w, h, cell);
    rng = saved;
    return im;
}

/* ---- the oracle: one request file in, one response file out ---- */

struct oracle {
    char dir[64], req_path[96], resp_path[96];
    FILE *req;
    uint8_t *resp;
    size_t len, pos;
};

static void oracle_open(struct oracle *o) {
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "/tmp/mill_test_image_XXXXXX");
    CHECK(mkdtemp(o->dir) != NULL);
    snprintf(o->req_path, sizeof o->req_path, "%s/req.bin", o->dir);
    snprintf(o->resp_path, sizeof o->resp_path, "%s/resp.bin", o->dir);
    o->req = fopen(o->req_path, "wb");
    CHECK(o->req != NULL);
}

static void oracle_send(struct oracle *o, const char *kind, const struct mill_image *im,
                        const char *args) {
    if (!o->req)
        return;
    fprintf(o->req, "%s %d %d %s\n", kind, im->w, im->h, args);
    fwrite(im->rgb, 1, (size_t)im->w * (size_t)im->h * 3, o->req);
}

static void oracle_script(char *out, size_t n) {
    mtest_source_path(out, n, "tests/reference/pil_oracle.py");
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0;
    *len = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - *len < 65536) {
            uint8_t *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb)
                break;
            buf = nb;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    return buf;
}

/* Runs the oracle over everything sent; 0 when it answered. */
static int oracle_run(struct oracle *o) {
    char script[4096], cmd[4600];
    if (o->req)
        fclose(o->req);
    o->req = NULL;
    oracle_script(script, sizeof script);
    CHECK(access(ORACLE_PYTHON, X_OK) == 0);
    CHECK(access(script, R_OK) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", ORACLE_PYTHON, script, o->req_path,
             o->resp_path);
    int rc = system(cmd);
    CHECK_INT(rc, 0);
    o->resp = rc == 0 ? read_all(o->resp_path, &o->len) : NULL;
    CHECK(o->resp != NULL);
    unlink(o->req_path);
    unlink(o->resp_path);
    rmdir(o->dir);
    return rc == 0 && o->resp ? 0 : -1;
}

static const uint8_t *oracle_take(struct oracle *o, size_t n) {
    if (!o->resp || o->len - o->pos < n)
        return NULL;
    o->pos += n;
    return o->resp + o->pos - n;
}

static void oracle_close(struct oracle *o) {
    CHECK_INT(o->pos, o->len);
    free(o->resp);
}

/* ---- resizing ---- */

static const char *const FILTER_NAME[] = {"NEAREST", "BOX",     "BILINEAR",
                                          "HAMMING", "BICUBIC", "LANCZOS"};

struct resize_case {
    int w, h, dw, dh, filter, pat;
    uint64_t seed;
};

#define N_RANDOM_RESIZE 720

/* Every filter runs on each: extreme ratios, 1-pixel sides, one axis unchanged, identity. */
static const int FIXED_RESIZE[][4] = {
    {1000, 3, 7, 700},   {3, 1000, 700, 7},    {1, 1, 5, 9},         {1, 1, 1, 2},
    {1, 40, 1, 7},       {40, 1, 300, 1},      {1, 300, 5, 1},       {5, 5, 5, 6},
    {300, 200, 300, 57}, {300, 200, 71, 200},  {64, 64, 64, 64},     {1600, 1200, 224, 168},
    {17, 2500, 3, 2},    {640, 480, 298, 224}, {224, 224, 225, 223}, {7, 11, 301, 2},
    {2, 2, 3, 3},        {3, 3, 2, 2},         {4096, 2, 1, 1},      {333, 500, 224, 336},
};

static size_t resize_cases(struct resize_case *cs) {
    size_t n = 0;
    for (size_t i = 0; i < NELEM(FIXED_RESIZE); i++)
        for (int f = 0; f <= MILL_RESAMPLE_LANCZOS; f++, n++)
            cs[n] = (struct resize_case){FIXED_RESIZE[i][0],
                                         FIXED_RESIZE[i][1],
                                         FIXED_RESIZE[i][2],
                                         FIXED_RESIZE[i][3],
                                         f,
                                         (int)(n % PAT_COUNT),
                                         1000 + n};
    for (int i = 0; i < N_RANDOM_RESIZE; i++, n++) {
        struct resize_case c = {rnd_dim(400), rnd_dim(400),        rnd_dim(400),      rnd_dim(400),
                                i % 6,        (i / 6) % PAT_COUNT, 5000 + (uint64_t)i};
        int r = rnd_range(0, 7);
        c.dw = r == 0 ? c.w : c.dw; /* one pass only */
        c.dh = r == 1 ? c.h : c.dh;
        cs[n] = c;
    }
    return n;
}

static int diff_at(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (int)i;
    return -1;
}

static void check_resize_case(const struct resize_case *c, const uint8_t *want, int *bad) {
    struct mill_image src = make_image(c->w, c->h, c->pat, c->seed), dst;
    struct mill_err err = {0};
    int rc = mill_image_resize(&src, c->dw, c->dh, (enum mill_resample)c->filter, &dst, &err);
    size_t n = (size_t)c->dw * (size_t)c->dh * 3;
    int at = rc == 0 && want ? diff_at(dst.rgb, want, n) : 0;
    if (rc != 0 || !want || at >= 0) {
        if ((*bad)++ < 8)
            fprintf(stderr,
                    "resize %dx%d -> %dx%d %s pattern %d: rc %d %s, first diff at "
                    "byte %d (mill %d, pillow %d)\n",
                    c->w, c->h, c->dw, c->dh, FILTER_NAME[c->filter], c->pat, rc, err.msg, at,
                    rc == 0 && at >= 0 ? dst.rgb[at] : -1, want && at >= 0 ? want[at] : -1);
    }
    mill_image_free(&dst);
    mill_image_free(&src);
}

static void test_resize_matches_pillow(void) {
    static struct resize_case cs[NELEM(FIXED_RESIZE) * 6 + N_RANDOM_RESIZE];
    size_t n = resize_cases(cs);
    struct oracle o;
    char args[64];
    oracle_open(&o);
    for (size_t i = 0; i < n; i++) {
        struct mill_image src = make_image(cs[i].w, cs[i].h, cs[i].pat, cs[i].seed);
        snprintf(args, sizeof args, "%d %d %s", cs[i].dw, cs[i].dh, FILTER_NAME[cs[i].filter]);
        oracle_send(&o, "resize", &src, args);
        mill_image_free(&src);
    }
    if (oracle_run(&o) != 0)
        return;
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        check_resize_case(&cs[i], oracle_take(&o, (size_t)cs[i].dw * cs[i].dh * 3), &bad);
    CHECK_INT(bad, 0);
    fprintf(stderr, "resize: %zu cases, %d differ from Pillow\n", n, bad);
    oracle_close(&o);
}

/* ---- CLIP preprocessing ---- */

static const float OPENAI_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float OPENAI_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};
static const float HALF[3] = {0.5f, 0.5f, 0.5f};

struct clip_case {
    int w, h, size;
};

static const struct clip_case FIXED_CLIP[] = {
    {224, 224, 224}, {224, 300, 224},  {300, 224, 224},  {225, 225, 224}, {223, 500, 224},
    {500, 375, 224}, {375, 500, 224},  {1, 1, 224},      {1, 3, 224},     {3, 1, 224},
    {640, 427, 224}, {1024, 768, 224}, {226, 1000, 224}, {227, 229, 224}, {32, 32, 224},
    {500, 333, 336}, {40, 50, 32},     {9, 1000, 7},     {800, 600, 1},
};

#define N_RANDOM_CLIP 25
#define HF_CROP(i) ((i) % 4 >= 2) /* transformers' centre crop for half the cases */

static void check_clip_case(const struct clip_case *c, int i, const uint8_t *want, double *max_diff,
                            int *bad) {
    struct mill_image src = make_image(c->w, c->h, i % PAT_COUNT, 9000 + (uint64_t)i);
    size_t n = (size_t)c->size * (size_t)c->size * 3;
    float *out = malloc(n * sizeof *out);
    const float *mean = i % 2 ? HALF : OPENAI_MEAN, *std = i % 2 ? HALF : OPENAI_STD;
    int rc = mill_image_clip_preprocess(&src, c->size, mean, std, HF_CROP(i), out, NULL);
    double worst = want ? 0.0 : INFINITY;
    for (size_t j = 0; rc == 0 && want && j < n; j++) {
        float v;
        memcpy(&v, want + 4 * j, 4);
        worst = fmax(worst, fabs((double)out[j] - v));
    }
    if (rc != 0 || !(worst <= 1e-6)) {
        if ((*bad)++ < 8)
            fprintf(stderr, "clip %dx%d size %d%s: rc %d, max diff %g\n", c->w, c->h, c->size,
                    HF_CROP(i) ? " (transformers' crop)" : "", rc, worst);
    }
    *max_diff = fmax(*max_diff, worst);
    free(out);
    mill_image_free(&src);
}

static void test_clip_matches_torchvision(void) {
    struct clip_case cs[NELEM(FIXED_CLIP) + N_RANDOM_CLIP];
    size_t n = 0;
    for (; n < NELEM(FIXED_CLIP); n++)
        cs[n] = FIXED_CLIP[n];
    for (int i = 0; i < N_RANDOM_CLIP; i++)
        cs[n++] = (struct clip_case){rnd_dim(900), rnd_dim(900), i % 5 ? 224 : rnd_dim(400)};
    struct oracle o;
    char args[256];
    oracle_open(&o);
    for (size_t i = 0; i < n; i++) {
        struct mill_image src = make_image(cs[i].w, cs[i].h, (int)i % PAT_COUNT, 9000 + i);
        const float *m = i % 2 ? HALF : OPENAI_MEAN, *s = i % 2 ? HALF : OPENAI_STD;
        snprintf(args, sizeof args, "%d %.9g %.9g %.9g %.9g %.9g %.9g", cs[i].size, m[0], m[1],
                 m[2], s[0], s[1], s[2]);
        oracle_send(&o, HF_CROP(i) ? "clip_hf" : "clip", &src, args);
        mill_image_free(&src);
    }
    if (oracle_run(&o) != 0)
        return;
    double max_diff = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        check_clip_case(&cs[i], (int)i, oracle_take(&o, (size_t)cs[i].size * cs[i].size * 12),
                        &max_diff, &bad);
    CHECK_INT(bad, 0);
    fprintf(stderr, "clip: %zu cases, max |diff| %g\n", n, max_diff);
    oracle_close(&o);
}

/* ---- decoding ---- */

static const char *const ENCODINGS[] = {
    "png_rgb",
    "png_l",
    "png_l_trns",
    "png_la",
    "png_rgba",
    "png_p",
    "png_p_trns",
    "png_p4",
    "png_1",
    "png_i16",
    "png_la16",
    "png_rgb16",
    "png_rgba16",
    "png_adam7",
    "jpg_q90",
    "jpg_444",
    "jpg_422",
    "jpg_prog",
    "jpg_l",
    "jpg_cmyk",
    "jpg_restart",
    "jpg_opt",
    "webp_lossless",
    "webp_lossless_rgba",
    "webp_lossy",
    "webp_lossy_rgba",
    "bmp_rgb",
    "bmp_p",
    "bmp_l",
    "bmp_rgba",
    "bmp_rgb_top_down",
    "bmp_p_top_down",
    "bmp_555",
    "bmp_555_bitfields",
    "bmp_565",
    "gif",
    "gif_trns",
    /* EXIF orientations 1-8 in each format that carries EXIF (JPEG APP1, PNG eXIf, WebP EXIF) */
    "png_exif1",
    "png_exif2",
    "png_exif3",
    "png_exif4",
    "png_exif5",
    "png_exif6",
    "png_exif7",
    "png_exif8",
    "jpg_exif1",
    "jpg_exif2",
    "jpg_exif3",
    "jpg_exif4",
    "jpg_exif5",
    "jpg_exif6",
    "jpg_exif7",
    "jpg_exif8",
    "webp_exif1",
    "webp_exif2",
    "webp_exif3",
    "webp_exif4",
    "webp_exif5",
    "webp_exif6",
    "webp_exif7",
    "webp_exif8",
};

static void check_truncated(const char *name, const uint8_t *file, size_t n) {
    size_t cuts[] = {0, 1, 7, n / 4, n / 2, 3 * n / 4, n > 13 ? n - 13 : 0};
    for (size_t i = 0; i < NELEM(cuts); i++) {
        struct mill_image im;
        struct mill_err err = {0};
        int rc = mill_image_decode(file, cuts[i], &im, &err);
        if (rc != MILL_EFORMAT)
            fprintf(stderr, "%s cut to %zu of %zu bytes: rc %d\n", name, cuts[i], n, rc);
        CHECK_INT(rc, MILL_EFORMAT);
        CHECK(im.rgb == NULL && im.w == 0);
        CHECK(strncmp(err.msg, "image: ", 7) == 0);
        mill_image_free(&im);
    }
}

/* Flipped bytes: any outcome but a crash, a leak or a half-filled image. */
static void check_mutations(const uint8_t *file, size_t n) {
    uint8_t *m = malloc(n);
    for (int i = 0; i < 40; i++) {
        memcpy(m, file, n);
        for (int k = rnd_range(1, 4); k > 0; k--)
            m[rnd() % n] ^= (uint8_t)(1u << rnd_range(0, 7));
        struct mill_image im;
        int rc = mill_image_decode(m, n, &im, NULL);
        CHECK(rc == 0 || rc == MILL_EFORMAT || rc == MILL_EUNSUPPORTED);
        CHECK(rc == 0 ? im.rgb != NULL && im.w >= 1 && im.h >= 1 : im.rgb == NULL);
        mill_image_free(&im);
    }
    free(m);
}

static void check_decoded(const char *name, const uint8_t *file, size_t n, int pw, int ph,
                          const uint8_t *want) {
    struct mill_image im;
    struct mill_err err = {0};
    int rc = mill_image_decode(file, n, &im, &err);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK_INT(rc, 0);
    CHECK(im.w == pw && im.h == ph);
    if (rc == 0 && im.w == pw && im.h == ph) {
        size_t len = (size_t)pw * (size_t)ph * 3, nz = 0;
        int worst = 0;
        for (size_t i = 0; i < len; i++) {
            int d = abs(im.rgb[i] - want[i]);
            worst = d > worst ? d : worst;
            nz += d != 0;
        }
        if (worst)
            fprintf(stderr, "decode %s: max |diff| %d, %zu of %zu samples differ\n", name, worst,
                    nz, len);
        CHECK_INT(worst, 0);
    }
    mill_image_free(&im);
}

/* Bytes after a JPEG's or PNG's end (a phone's appended video, a stray start-of-scan marker)
 * are ignored, as Pillow ignores them; a JPEG that lacks only its EOI is truncated. */
static void check_trailing(const char *name, const uint8_t *file, size_t n, int pw, int ph,
                           const uint8_t *want) {
    if (strncmp(name, "jpg", 3) != 0 && strncmp(name, "png", 3) != 0)
        return;
    static const uint8_t tail[] = {0x00, 0x00, 0xFF, 0xDA, 0x00, 0x01, 0x02, 0xFF, 0xD8};
    size_t extra = sizeof tail + 4096;
    uint8_t *m = malloc(n + extra);
    memcpy(m, file, n);
    memcpy(m + n, tail, sizeof tail);
    for (size_t i = sizeof tail; i < extra; i++)
        m[n + i] = (uint8_t)rnd();
    char label[64];
    snprintf(label, sizeof label, "%s + %zu trailing bytes", name, extra);
    check_decoded(label, m, n + extra, pw, ph, want);
    free(m);
    if (name[0] == 'j') {
        struct mill_image im;
        struct mill_err err = {0};
        CHECK_INT(mill_image_decode(file, n - 2, &im, &err), MILL_EFORMAT);
        CHECK(strstr(err.msg, "truncated JPEG") != NULL);
    }
}

/* As Pillow: a PNG that ends cleanly without its IEND decodes; a bad CRC in a chunk before
 * IDAT (a tEXt put after IHDR) is refused; a bad CRC in IDAT is not looked at. */
static void check_png_chunks(const char *name, const uint8_t *file, size_t n, int pw, int ph,
                             const uint8_t *want) {
    if (strncmp(name, "png", 3) != 0 || n < 45 || memcmp(file + n - 8, "IEND", 4) != 0)
        return;
    char label[64];
    snprintf(label, sizeof label, "%s without IEND", name);
    check_decoded(label, file, n - 12, pw, ph, want);
    static const uint8_t text[] = {0, 0, 0, 3, 't', 'E', 'X', 't', 'k', 0, 'v', 0, 0, 0, 0};
    uint8_t *m = malloc(n + sizeof text);
    memcpy(m, file, 33); /* signature + IHDR */
    memcpy(m + 33, text, sizeof text);
    memcpy(m + 33 + sizeof text, file + 33, n - 33);
    struct mill_image im;
    struct mill_err err = {0};
    CHECK_INT(mill_image_decode(m, n + sizeof text, &im, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "its tEXt chunk fails its CRC") != NULL);
    mill_image_free(&im);
    free(m);
}

static void test_decode_matches_pillow(void) {
    struct oracle o;
    oracle_open(&o);
    for (size_t i = 0; i < NELEM(ENCODINGS); i++) {
        struct mill_image src =
            make_image(61 + (int)i % 3, 47, (int)i % 2 ? PAT_NOISE : PAT_GRADIENT, 300 + i);
        oracle_send(&o, "encode", &src, ENCODINGS[i]);
        mill_image_free(&src);
    }
    if (oracle_run(&o) != 0)
        return;
    for (size_t i = 0; i < NELEM(ENCODINGS); i++) {
        const uint8_t *hdr = oracle_take(&o, 12);
        CHECK(hdr != NULL);
        if (!hdr)
            break;
        uint32_t v[3];
        memcpy(v, hdr, sizeof v); /* little-endian host, as the oracle writes */
        const uint8_t *file = oracle_take(&o, v[0]);
        const uint8_t *want = oracle_take(&o, (size_t)v[1] * v[2] * 3);
        CHECK(file && want);
        if (!file || !want)
            break;
        check_decoded(ENCODINGS[i], file, v[0], (int)v[1], (int)v[2], want);
        const char *ex = strstr(ENCODINGS[i], "_exif"); /* the bytes alone show it turned */
        CHECK(mill_image_is_turned(file, v[0]) == (ex && ex[5] >= '2'));
        check_truncated(ENCODINGS[i], file, v[0]);
        check_trailing(ENCODINGS[i], file, v[0], (int)v[1], (int)v[2], want);
        check_png_chunks(ENCODINGS[i], file, v[0], (int)v[1], (int)v[2], want);
        check_mutations(file, v[0]);
    }
    oracle_close(&o);
}

/* ---- limits and arguments (no oracle) ---- */

static void put32be(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG signature and IHDR of w x h RGB (stb_image does not check CRCs), then IEND. */
static size_t png_header(uint8_t *b, uint32_t w, uint32_t h) {
    static const uint8_t tail[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    memcpy(b, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    put32be(b + 16, w);
    put32be(b + 20, h);
    memcpy(b + 24, "\x08\x02\0\0\0\0\0\0\0", 9);
    memcpy(b + 33, tail, sizeof tail);
    return 33 + sizeof tail;
}

/* SOI and a baseline SOF0 of w x h, 3 components. */
static size_t jpeg_header(uint8_t *b, int w, int h) {
    static const uint8_t sof[] = {0xFF, 0xD8, 0xFF, 0xC0, 0,    17, 8, 0,    0, 0,    0,   3,
                                  1,    0x22, 0,    2,    0x11, 1,  3, 0x11, 1, 0xFF, 0xD9};
    memcpy(b, sof, sizeof sof);
    b[7] = (uint8_t)(h >> 8), b[8] = (uint8_t)h, b[9] = (uint8_t)(w >> 8), b[10] = (uint8_t)w;
    return sizeof sof;
}

static void expect_format_error(const uint8_t *b, size_t n, const char *needle) {
    struct mill_image im;
    struct mill_err err = {0};
    CHECK_INT(mill_image_decode(b, n, &im, &err), MILL_EFORMAT);
    CHECK(im.rgb == NULL);
    if (!strstr(err.msg, needle))
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, needle);
    CHECK(strstr(err.msg, needle) != NULL);
}

/* fuzz_image's finding: a 1x2 PNG whose second IDAT chunk declares 0x49444154 bytes
 * (tests/fuzz/corpus/fuzz_image/regress-png-chunk-length.png). stb_image grew its IDAT buffer
 * to 2 GiB before noticing the file ends; the chunk walk refuses it first. */
static void test_png_chunk_past_the_end(void) {
    char path[1024];
    mtest_source_path(path, sizeof path,
                      "tests/fuzz/corpus/fuzz_image/regress-png-chunk-length.png");
    FILE *f = fopen(path, "rb");
    uint8_t b[256];
    size_t n = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    CHECK_INT(n, 127);
    expect_format_error(b, n, "truncated PNG");
}

static void test_limits_and_garbage(void) {
    uint8_t b[64];
    expect_format_error(b, png_header(b, 30001, 1), "exceeds the limit");
    expect_format_error(b, png_header(b, 20000, 20001), "exceeds the limit");
    expect_format_error(b, png_header(b, 13379, 13377), "exceeds the limit"); /* Pillow's */
    expect_format_error(b, png_header(b, 0, 5), "PNG");
    expect_format_error(b, jpeg_header(b, 40000, 8), "exceeds the limit");
    expect_format_error(b, jpeg_header(b, 25000, 25000), "exceeds the limit");
    memcpy(b, "GIF89a\x40\x9c\x0a\x00\x00\x00\x00\x3b", 14); /* 40000 x 10 */
    expect_format_error(b, 14, "exceeds the limit");
    expect_format_error((const uint8_t *)"hello, world", 12, "not a PNG");
    expect_format_error((const uint8_t *)"", 0, "not a PNG");
    expect_format_error((const uint8_t *)"\x89PNG\r\n\x1a\n", 8, "PNG");
    expect_format_error((const uint8_t *)"RIFF\x10\0\0\0WEBPVP8 ", 16, "WebP");
    expect_format_error((const uint8_t *)"BM\0\0\0\0", 6, "BMP");
}

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2)
        out[n++] = (uint8_t)strtol((char[3]){hex[0], hex[1], 0}, NULL, 16);
    return n;
}

/* A 16-bit BMP of 4-4-4-4 bitfields: Pillow refuses it ("Unsupported BMP bitfields layout");
 * stb_image would decode it. */
static void test_bmp16_other_masks(void) {
    uint8_t b[70] = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 66, 0, 0, 0, /* file header */
                     40,  0,   0,  0, 1, 0, 0, 0, 1, 0, 0,  0, 1, 0, 16, 0, 3, 0, 0, 0, 4};
    static const uint32_t masks[3] = {0xF00, 0xF0, 0xF};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            b[54 + 4 * i + k] = (uint8_t)(masks[i] >> (8 * k));
    expect_format_error(b, sizeof b, "16-bit BMP of bitfields 0xf00 0xf0 0xf");
}

/* GIFs Pillow 9.4 refuses as truncated because the LZW data holds fewer pixels than the frame
 * (a 39-byte file declaring 13000 x 13000, or 3 pixels of 100, ended by the end code), and a
 * frame smaller than the screen, whose uncovered pixels Pillow shows in palette index 0's
 * colour, or the transparent index's. Files written by tests/reference's LZW packer; pixels
 * from Pillow. */
static void test_gif_frames(void) {
    uint8_t b[128];
    size_t n = unhex("474946383961c832c832810000000000ff000000ff000000ff2c00000000c832c832000200"
                     "3b",
                     b);
    expect_format_error(b, n, "truncated GIF");
    n = unhex("4749463839610a000a00810000000000ff000000ff000000ff2c000000000a000a000002024c52003b",
              b);
    expect_format_error(b, n, "truncated GIF");
    static const char *const framed[] = {
        "474946383961080008008102000a141eff000000c8000000c82c020002000400040000020a4c121111111142"
        "08a100003b",
        "474946383961080008008102000a141eff000000c8000000c821f90401000003002c02000200040004000002"
        "0a4c12111111114208a100003b"};
    static const uint8_t corner[2][3] = {{10, 20, 30}, {0, 0, 200}};
    for (int k = 0; k < 2; k++) {
        struct mill_image im;
        struct mill_err err = {0};
        n = unhex(framed[k], b);
        CHECK_INT(mill_image_decode(b, n, &im, &err), 0);
        CHECK(im.w == 8 && im.h == 8);
        if (im.rgb && im.w == 8) {
            CHECK(!memcmp(im.rgb, corner[k], 3));                        /* (0, 0) */
            CHECK(!memcmp(im.rgb + (3 * 8 + 3) * 3, "\xff\x00\x00", 3)); /* (3, 3) */
        }
        mill_image_free(&im);
    }
}

static void test_arguments(void) {
    struct mill_image src = make_image(5, 4, PAT_NOISE, 7), dst = {1, 1, NULL};
    struct mill_err err = {0};
    float out[3 * 4 * 4];
    CHECK_INT(mill_image_decode(NULL, 5, &dst, &err), MILL_EINVAL);
    CHECK_INT(mill_image_decode("x", 1, NULL, &err), MILL_EINVAL);
    CHECK_INT(mill_image_resize(&src, 0, 3, MILL_RESAMPLE_BICUBIC, &dst, &err), MILL_EINVAL);
    CHECK_INT(mill_image_resize(&src, 3, 3, (enum mill_resample)99, &dst, &err), MILL_EINVAL);
    CHECK_INT(mill_image_resize(NULL, 3, 3, MILL_RESAMPLE_BOX, &dst, &err), MILL_EINVAL);
    CHECK_INT(mill_image_resize(&src, 30001, 3, MILL_RESAMPLE_BOX, &dst, &err), MILL_EINVAL);
    CHECK_INT(mill_image_clip_preprocess(&src, 0, HALF, HALF, false, out, &err), MILL_EINVAL);
    float zero[3] = {0.5f, 0.0f, 0.5f};
    CHECK_INT(mill_image_clip_preprocess(&src, 4, HALF, zero, false, out, &err), MILL_EINVAL);
    CHECK_INT(mill_image_resize(&src, 5, 4, MILL_RESAMPLE_LANCZOS, &dst, &err), 0);
    CHECK(dst.rgb != src.rgb && memcmp(dst.rgb, src.rgb, 5 * 4 * 3) == 0);
    mill_image_free(&dst);
    mill_image_free(&dst);
    mill_image_free(NULL);
    mill_image_free(&src);
}

MTEST_MAIN(MTEST(test_arguments), MTEST(test_limits_and_garbage),
           MTEST(test_png_chunk_past_the_end), MTEST(test_resize_matches_pillow),
           MTEST(test_clip_matches_torchvision), MTEST(test_decode_matches_pillow),
           MTEST(test_gif_frames), MTEST(test_bmp16_other_masks))
