/* mt19937.c: MT19937 (mt19937.h), as mt19937ar.c writes it: CPython's _randommodule.c and
 * numpy's legacy mt19937.c are this code, so both libraries' draws start from these words. */
#include "core/mt19937.h"

#define MT_M 397

void mill_mt19937_seed(struct mill_mt19937 *g, uint32_t s) {
    g->mt[0] = s;
    for (uint32_t i = 1; i < MILL_MT_N; i++)
        g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + i;
    g->pos = MILL_MT_N;
}

static void regenerate(struct mill_mt19937 *g) {
    static const uint32_t mag01[2] = {0, 0x9908b0dfu};
    uint32_t *mt = g->mt, y;
    int k;
    for (k = 0; k < MILL_MT_N - MT_M; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + MT_M] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; k < MILL_MT_N - 1; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + (MT_M - MILL_MT_N)] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (mt[MILL_MT_N - 1] & 0x80000000u) | (mt[0] & 0x7fffffffu);
    mt[MILL_MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
    g->pos = 0;
}

uint32_t mill_mt19937_next(struct mill_mt19937 *g) {
    if (g->pos < 0 || g->pos >= MILL_MT_N)
        regenerate(g);
    uint32_t y = g->mt[g->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}
