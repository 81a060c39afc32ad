/* gen_wds.c: writes a WebDataset shard of synthetic labelled images for tests and `make run`,
 * laid out as the Hub's haideraltahan/wds_* shards (<key>.0.webp + <key>.cls) or as
 * CLIP_benchmark writes them (<key>.webp + <key>.cls). Images are seeded patterns (a coloured
 * square per class on a noisy background), lossless WebP. A test tool: no real data. */
#include <archive.h>
#include <archive_entry.h>
#include <webp/encode.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state;

static uint32_t next_u32(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static int add_member(struct archive *a, const char *name, const void *data, size_t n) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    int ok =
        archive_write_header(a, e) == ARCHIVE_OK && archive_write_data(a, data, n) == (la_ssize_t)n;
    archive_entry_free(e);
    return ok ? 0 : -1;
}

/* One image of class cls: noise, then a square whose colour and position depend on cls. */
static uint8_t *make_image(int side, int cls, size_t *n) {
    uint8_t *rgb = malloc((size_t)side * side * 3), *out = NULL;
    if (!rgb)
        return NULL;
    for (int i = 0; i < side * side * 3; i++)
        rgb[i] = (uint8_t)(next_u32() & 63);
    int s = side / 2, x0 = (cls * 7) % (side - s + 1), y0 = (cls * 3) % (side - s + 1);
    for (int y = y0; y < y0 + s; y++)
        for (int x = x0; x < x0 + s; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * side + x) * 3 + c] = (uint8_t)((cls * 73 + c * 97) % 256);
    *n = WebPEncodeLosslessRGB(rgb, side, side, side * 3, &out);
    free(rgb);
    return *n ? out : NULL;
}

int main(int argc, char **argv) {
    const char *out = NULL, *layout = "hub";
    long n = 20, classes = 10, side = 32, seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--n"))
            n = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--classes"))
            classes = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--side"))
            side = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--layout"))
            layout = argv[i + 1];
        else
            out = NULL, i = argc;
    }
    if (!out || n < 1 || classes < 1 || side < 8 || side > 4096 ||
        (strcmp(layout, "hub") && strcmp(layout, "clip_benchmark"))) {
        fprintf(stderr, "usage: gen_wds --out SHARD.tar [--n 20] [--classes 10] [--side 32] "
                        "[--seed 1] [--layout hub|clip_benchmark]\n");
        return 2;
    }
    rng_state = (uint64_t)seed;
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, out) != ARCHIVE_OK) {
        fprintf(stderr, "gen_wds: cannot write %s: %s\n", out, archive_error_string(a));
        return 1;
    }
    int rc = 0;
    for (long i = 0; !rc && i < n; i++) {
        int cls = (int)(next_u32() % (uint32_t)classes);
        size_t len = 0;
        uint8_t *img = make_image((int)side, cls, &len);
        char name[64], label[16];
        snprintf(name, sizeof name, "s%07ld.%s", i, strcmp(layout, "hub") ? "webp" : "0.webp");
        int ll = snprintf(label, sizeof label, "%d", cls);
        rc = !img || add_member(a, name, img, len);
        snprintf(name, sizeof name, "s%07ld.cls", i);
        rc = rc || add_member(a, name, label, (size_t)ll);
        WebPFree(img);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        rc = 1;
    archive_write_free(a);
    if (rc)
        fprintf(stderr, "gen_wds: failed writing %s\n", out);
    return rc;
}
