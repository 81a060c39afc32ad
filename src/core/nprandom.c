/* nprandom.c: numpy's legacy RandomState permutation (MT19937 + random_interval + shuffle).
 *
 * Must consume the generator exactly as numpy's legacy code does (mt19937.c, distributions.c,
 * mtrand.pyx _shuffle_raw): any change in the order or count of draws silently reorders the
 * scheduled jobs. No global state, no I/O. tests/unit/test_nprandom.c checks it against
 * Debian's numpy. */
#include "core/nprandom.h"

#define MT_N 624
#define MT_M 397

void mill_nprandom_seed(struct mill_nprandom *r, uint32_t seed) {
    r->mt[0] = seed;
    for (uint32_t i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
    r->pos = MT_N;
}

static void regenerate(struct mill_nprandom *r) {
    static const uint32_t mag01[2] = {0, 0x9908b0dfu};
    uint32_t *mt = r->mt, y;
    int k;
    for (k = 0; k < MT_N - MT_M; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + MT_M] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; k < MT_N - 1; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (mt[MT_N - 1] & 0x80000000u) | (mt[0] & 0x7fffffffu);
    mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
    r->pos = 0;
}

uint32_t mill_nprandom_next32(struct mill_nprandom *r) {
    if (r->pos < 0 || r->pos >= MT_N)
        regenerate(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t mill_nprandom_next64(struct mill_nprandom *r) {
    uint64_t hi = mill_nprandom_next32(r);
    return hi << 32 | mill_nprandom_next32(r);
}

uint64_t mill_nprandom_interval(struct mill_nprandom *r, uint64_t max) {
    if (max == 0)
        return 0;
    uint64_t mask = max, value;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((value = (mill_nprandom_next32(r) & mask)) > max)
            ;
    } else {
        while ((value = (mill_nprandom_next64(r) & mask)) > max)
            ;
    }
    return value;
}

void mill_nprandom_shuffle(struct mill_nprandom *r, size_t *idx, size_t n) {
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)mill_nprandom_interval(r, i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void mill_nprandom_permutation(struct mill_nprandom *r, size_t *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    mill_nprandom_shuffle(r, out, n);
}
