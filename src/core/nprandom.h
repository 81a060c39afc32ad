/* nprandom.h: numpy's legacy RandomState (MT19937) permutation, bit for bit, so `mill schedule`
 * orders its jobs as pandas' df.sample(frac=1, random_state=42) does.
 *
 * Only what that needs: RandomState(seed) for a 32-bit int seed (numpy's mt19937_seed, i.e.
 * init_genrand), the 32/64-bit draws, random_interval and shuffle/permutation of arange(n).
 * No global state, no I/O, no allocation. Not CPython's random (see random.h). */
#ifndef MILL_CORE_NPRANDOM_H
#define MILL_CORE_NPRANDOM_H

#include "core/mt19937.h"

#include <mill/mill.h>

struct mill_nprandom {
    struct mill_mt19937 g;
};

/* np.random.RandomState(seed) for 0 <= seed < 2**32. */
void mill_nprandom_seed(struct mill_nprandom *r, uint32_t seed);
/* The next 32-bit word (numpy's next_uint32). */
uint32_t mill_nprandom_next32(struct mill_nprandom *r);
/* The next 64-bit word: the first 32-bit draw is the high half (numpy's mt19937_next64). */
uint64_t mill_nprandom_next64(struct mill_nprandom *r);
/* numpy's legacy random_interval(max): uniform in [0, max] by masked rejection; 32-bit draws
 * while max <= 0xffffffff, 64-bit ones above; max == 0 draws nothing. */
uint64_t mill_nprandom_interval(struct mill_nprandom *r, uint64_t max);
/* RandomState.shuffle of a 1-d array: for i = n-1 .. 1, swap idx[i] with idx[interval(i)]. */
void mill_nprandom_shuffle(struct mill_nprandom *r, size_t *idx, size_t n);
/* RandomState.permutation(n): out[0..n) = a shuffled arange(n). With a fresh
 * RandomState(42) this is pandas' sample(frac=1, random_state=42) row order. */
void mill_nprandom_permutation(struct mill_nprandom *r, size_t *out, size_t n);

#endif
