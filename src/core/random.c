/* random.c: CPython's random.Random (MT19937 + the Lib/random.py draws), bit for bit, and
 * Mill's sample_rng.
 *
 * Every draw must consume the generator exactly as CPython 3.10-3.13 does; changing the order or
 * count of genrand calls silently changes option shuffles and few-shot picks. No global state,
 * no I/O; seeding never allocates (string seeds are read in place). tests/unit/test_random.c
 * checks it against /usr/bin/python3. */
#include "core/random.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha2.h"

#define MT_N MILL_MT_N

static uint32_t genrand(struct mill_random *r) { return mill_mt19937_next(&r->g); }

/* A str seed's bytes as CPython version-2 seeding sees them: head, then "|" + part for each
 * part (sample_rng's join), then the SHA-512 digest of all that. Read in place, never copied. */
struct seed_bytes {
    const char *head;
    size_t nhead;
    const char *const *parts;
    const size_t *lens; /* the parts' lengths; NULL: NUL-terminated */
    size_t nparts;
    uint8_t digest[64];
};

static size_t seg_count(const struct seed_bytes *b) { return 2 + 2 * b->nparts; }

static const uint8_t *seg_at(const struct seed_bytes *b, size_t i, size_t *len) {
    if (i == 0) {
        *len = b->nhead;
        return (const uint8_t *)b->head;
    }
    if (i == seg_count(b) - 1) {
        *len = sizeof b->digest;
        return b->digest;
    }
    if ((i - 1) % 2 == 0) {
        *len = 1;
        return (const uint8_t *)"|";
    }
    const char *part = b->parts[(i - 1) / 2];
    *len = b->lens ? b->lens[(i - 1) / 2] : strlen(part);
    return (const uint8_t *)part;
}

/* The init_by_array key: given words, or the 32-bit little-endian words of the big-endian
 * integer held in a seed_bytes, read backwards from its last byte. */
struct key {
    const uint32_t *words;
    const struct seed_bytes *src;
    size_t len;
    size_t seg, rem; /* reverse reader: bytes left in segment seg (seg counts down) */
    const uint8_t *p;
};

static uint8_t key_prev_byte(struct key *k) {
    while (k->rem == 0) {
        if (k->seg == 0)
            return 0; /* above the integer's top byte */
        k->p = seg_at(k->src, --k->seg, &k->rem);
    }
    return k->p[--k->rem];
}

static uint32_t key_word(struct key *k, size_t j) {
    if (k->words)
        return k->words[j];
    if (j == 0) {
        k->seg = seg_count(k->src);
        k->rem = 0;
    }
    uint32_t w = 0;
    for (int t = 0; t < 4; t++)
        w |= (uint32_t)key_prev_byte(k) << (8 * t);
    return w;
}

static void init_by_array(struct mill_random *r, struct key *key) {
    uint32_t *mt = r->g.mt;
    mill_mt19937_seed(&r->g, 19650218u);
    size_t i = 1, j = 0;
    for (size_t n = MT_N > key->len ? MT_N : key->len; n; n--) {
        mt[i] =
            (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key_word(key, j) + (uint32_t)j;
        i++;
        j++;
        if (i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
        if (j >= key->len)
            j = 0;
    }
    for (size_t n = MT_N - 1; n; n--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;
}

void mill_random_seed_int(struct mill_random *r, int64_t seed) {
    uint64_t a = seed < 0 ? 0 - (uint64_t)seed : (uint64_t)seed;
    uint32_t words[2] = {(uint32_t)a, (uint32_t)(a >> 32)};
    struct key key = {.words = words, .len = words[1] ? 2 : 1};
    init_by_array(r, &key);
}

static void seed_from_bytes(struct mill_random *r, struct seed_bytes *b) {
    struct mill_sha512 sha;
    size_t nseg = seg_count(b), total = 0, lead = 0, len;
    int leading = 1;
    mill_sha512_init(&sha);
    for (size_t i = 0; i + 1 < nseg; i++) {
        const uint8_t *p = seg_at(b, i, &len);
        mill_sha512_update(&sha, p, len);
    }
    mill_sha512_final(&sha, b->digest);
    /* int.from_bytes drops leading zero bytes, and the key has one word per 32 bits used. */
    for (size_t i = 0; i < nseg; i++) {
        const uint8_t *p = seg_at(b, i, &len);
        for (size_t t = 0; t < len && leading; t++) {
            if (p[t] != 0)
                leading = 0;
            else
                lead++;
        }
        total += len;
    }
    size_t used = total - lead;
    struct key key = {.src = b, .len = used ? (used + 3) / 4 : 1};
    init_by_array(r, &key);
}

void mill_random_seed_str(struct mill_random *r, const char *s, size_t n) {
    struct seed_bytes b = {.head = n ? s : "", .nhead = n};
    seed_from_bytes(r, &b);
}

void mill_sample_rng_n(struct mill_random *r, int64_t seed, const char *const *parts,
                       const size_t *lens, size_t n) {
    char head[32];
    int len = snprintf(head, sizeof head, "%" PRId64, seed);
    struct seed_bytes b = {
        .head = head, .nhead = (size_t)len, .parts = parts, .lens = lens, .nparts = n};
    seed_from_bytes(r, &b);
}

void mill_sample_rng(struct mill_random *r, int64_t seed, const char *const *parts, size_t n) {
    mill_sample_rng_n(r, seed, parts, NULL, n);
}

double mill_random_random(struct mill_random *r) {
    uint32_t a = genrand(r) >> 5;
    uint32_t b = genrand(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

uint64_t mill_random_getrandbits(struct mill_random *r, int k) {
    if (k <= 0)
        return 0;
    if (k > 64)
        k = 64;
    if (k <= 32)
        return genrand(r) >> (32 - k);
    /* CPython fills the least significant 32-bit word first. */
    uint64_t lo = genrand(r);
    uint64_t hi = genrand(r) >> (64 - k);
    return hi << 32 | lo;
}

uint64_t mill_random_randbelow(struct mill_random *r, uint64_t n) {
    if (n == 0)
        return 0; /* CPython never returns here; refuse rather than spin */
    int k = 64 - __builtin_clzll(n);
    uint64_t v = mill_random_getrandbits(r, k);
    while (v >= n)
        v = mill_random_getrandbits(r, k);
    return v;
}

void mill_random_shuffle(struct mill_random *r, size_t *idx, size_t n) {
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)mill_random_randbelow(r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* sample's setsize: 21, plus 4 ** _ceil(_log(k * 3, 4)) when k > 5 (saturating). */
static uint64_t sample_setsize(size_t k) {
    if (k <= 5)
        return 21;
    if (k > SIZE_MAX / 3)
        return UINT64_MAX;
    volatile double four = 4.0; /* computed at run time by libm, as CPython does */
    double e = ceil(log((double)(k * 3)) / log(four));
    if (e > 31)
        return UINT64_MAX;
    return 21 + ((uint64_t)1 << (2 * (int)e));
}

static size_t hash_index(size_t v, size_t mask) {
    return (size_t)(((uint64_t)v * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

int mill_random_sample(struct mill_random *r, size_t n, size_t k, size_t *out) {
    if (k > n)
        return MILL_EINVAL;
    if (k == 0)
        return MILL_OK;
    if ((uint64_t)n <= sample_setsize(k)) {
        /* Pool branch: non-selected items stay in pool[0 : n-i]. */
        if (n > SIZE_MAX / sizeof(size_t))
            return MILL_ENOMEM;
        size_t *pool = malloc(n * sizeof *pool);
        if (!pool)
            return MILL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            pool[i] = i;
        for (size_t i = 0; i < k; i++) {
            size_t j = (size_t)mill_random_randbelow(r, n - i);
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
        return MILL_OK;
    }
    /* Selected-set branch: redraw while the index was already chosen. Open addressing over
     * j + 1 (0 marks an empty slot), at most half full. */
    size_t cap = 16;
    while (cap / 2 < k) {
        if (cap > SIZE_MAX / 2 / sizeof(size_t))
            return MILL_ENOMEM;
        cap *= 2;
    }
    size_t *set = calloc(cap, sizeof *set), mask = cap - 1;
    if (!set)
        return MILL_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        for (;;) {
            size_t j = (size_t)mill_random_randbelow(r, n), h = hash_index(j, mask);
            while (set[h] != 0 && set[h] != j + 1)
                h = (h + 1) & mask;
            if (set[h] == 0) {
                set[h] = j + 1;
                out[i] = j;
                break;
            }
        }
    }
    free(set);
    return MILL_OK;
}

size_t mill_random_choice(struct mill_random *r, size_t n) {
    if (n == 0)
        return 0; /* CPython raises IndexError; callers must not ask */
    return (size_t)mill_random_randbelow(r, n);
}
