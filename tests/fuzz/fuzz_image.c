/* fuzz_image.c: libFuzzer target for image decoding (PNG/JPEG/BMP/GIF/WebP sniffing and the
 * structural checks in front of stb_image and libwebp), then a resize of what decodes. */
#include "data/image.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_image img = {0}, out = {0};
    struct mill_err err;
    if (mill_image_decode(data, size, &img, &err) == 0) {
        if (img.w * (int64_t)img.h <= 1 << 20)
            mill_image_resize(&img, 7, 5, MILL_RESAMPLE_BICUBIC, &out, &err);
        mill_image_free(&out);
    }
    mill_image_free(&img);
    return 0;
}
