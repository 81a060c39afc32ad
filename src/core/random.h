/* random.h: CPython's random.Random in C, bit for bit (BEHAVIOUR.md §7.4), and Mill's sample_rng.
 *
 * MT19937 seeded as CPython seeds it: from an integer (init_by_array over the 32-bit words of
 * |seed|) and from a str (version 2: the UTF-8 bytes followed by their SHA-512 digest, read as
 * one big-endian integer). The draws (random, getrandbits, _randbelow, shuffle, sample, choice)
 * consume the generator exactly as CPython 3.10-3.13 do, so option shuffles, few-shot picks and
 * parser fall-backs equal Mill's. No global state. */
#ifndef MILL_CORE_RANDOM_H
#define MILL_CORE_RANDOM_H

#include "core/mt19937.h"

#include <mill/mill.h>

struct mill_random {
    struct mill_mt19937 g;
};

/* random.Random(seed) for an int seed (negative seeds use |seed|, as CPython does). */
void mill_random_seed_int(struct mill_random *r, int64_t seed);
/* random.Random(s) for a str seed given as its UTF-8 bytes (s need not be NUL-terminated). */
void mill_random_seed_str(struct mill_random *r, const char *s, size_t n);
/* random.random(): a double in [0, 1). */
double mill_random_random(struct mill_random *r);
/* random.getrandbits(k) for 0 <= k <= 64. */
uint64_t mill_random_getrandbits(struct mill_random *r, int k);
/* random._randbelow(n) for n >= 1: uniform in [0, n). */
uint64_t mill_random_randbelow(struct mill_random *r, uint64_t n);
/* random.shuffle(x) applied to idx[0..n) (any array of indices). */
void mill_random_shuffle(struct mill_random *r, size_t *idx, size_t n);
/* random.sample(population, k) where population[i] == i: writes the k chosen indices to out,
 * in the order CPython returns them. Returns MILL_EINVAL when k > n, MILL_ENOMEM. */
int mill_random_sample(struct mill_random *r, size_t n, size_t k, size_t *out);
/* random.choice(seq) for len(seq) == n >= 1: the chosen index. */
size_t mill_random_choice(struct mill_random *r, size_t n);
/* Mill's sample_rng(*parts) = random.Random("|".join(map(str, (seed, *parts)))). */
void mill_sample_rng(struct mill_random *r, int64_t seed, const char *const *parts, size_t n);
/* The same with each part's length given (lens[i] bytes of parts[i], which may hold NULs). */
void mill_sample_rng_n(struct mill_random *r, int64_t seed, const char *const *parts,
                       const size_t *lens, size_t n);

#endif
