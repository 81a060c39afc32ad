/* mt19937.h: the Mersenne Twister MT19937 (Matsumoto & Nishimura, mt19937ar.c), the one
 * generator core under CPython's random.Random (random.h) and numpy's legacy RandomState
 * (nprandom.h). Only the state, init_genrand and the tempered 32-bit draw live here; how each
 * library seeds it and turns words into draws stays with that library's file. No global state,
 * no I/O, no allocation. */
#ifndef MILL_CORE_MT19937_H
#define MILL_CORE_MT19937_H

#include <stdint.h>

#define MILL_MT_N 624

struct mill_mt19937 {
    uint32_t mt[MILL_MT_N];
    int pos; /* next word of mt; MILL_MT_N = regenerate before the next draw */
};

/* init_genrand(s): the state from one 32-bit word; the next draw regenerates. */
void mill_mt19937_seed(struct mill_mt19937 *g, uint32_t s);
/* genrand_int32(): the next tempered 32-bit word. */
uint32_t mill_mt19937_next(struct mill_mt19937 *g);

#endif
