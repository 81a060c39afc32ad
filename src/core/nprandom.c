/* nprandom.c: numpy's legacy RandomState permutation (MT19937 + random_interval + shuffle).
 *
 * Must consume the generator exactly as numpy's legacy code does (mt19937.c, distributions.c,
 * mtrand.pyx _shuffle_raw): any change in the order or count of draws silently reorders the
 * scheduled jobs. No global state, no I/O. tests/unit/test_nprandom.c checks it against
 * Debian's numpy. */
#include "core/nprandom.h"

void mill_nprandom_seed(struct mill_nprandom *r, uint32_t seed) { mill_mt19937_seed(&r->g, seed); }

uint32_t mill_nprandom_next32(struct mill_nprandom *r) { return mill_mt19937_next(&r->g); }

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
