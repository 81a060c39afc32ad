/* array.c: mill_grow (array.h). */
#include "core/array.h"

#include <mill/mill.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mill_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first) {
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap : (first ? first : 1);
    while (nc <= n) {
        if (nc > SIZE_MAX / 2)
            return MILL_ENOMEM;
        nc *= 2;
    }
    if (nc > SIZE_MAX / elem)
        return MILL_ENOMEM;
    void *p; /* the caller's T *, read and written through memcpy: no aliasing of T ** */
    memcpy(&p, arr, sizeof p);
    void *q = realloc(p, nc * elem);
    if (!q)
        return MILL_ENOMEM;
    memcpy(arr, &q, sizeof q);
    *cap = nc;
    return 0;
}
