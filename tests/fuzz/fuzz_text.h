/* fuzz_text.h: what the fuzz targets of text parsers share: the input as a C string. */
#ifndef MILL_FUZZ_TEXT_H
#define MILL_FUZZ_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* data[0..size) as a malloc'd NUL-terminated string, or NULL when size exceeds max or the
 * allocation fails (the target then skips the input). */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t max) {
    char *text = size <= max ? malloc(size + 1) : NULL;
    if (text) {
        memcpy(text, data, size);
        text[size] = 0;
    }
    return text;
}

#endif
