/* test_sha2.c: src/core/sha2.c against the FIPS 180-4 / NIST example vectors.
 *
 * One-shot and streaming (odd-sized chunks across block boundaries) for SHA-256 and SHA-512,
 * plus mill_hex. Self-contained: must not read or write files. */
#include <stdint.h>
#include <string.h>

#include "core/sha2.h"
#include "mtest.h"

static const char MSG448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char MSG896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                             "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static const char *hex256(const void *p, size_t n) {
    static char out[65];
    uint8_t d[32];
    mill_sha256(p, n, d);
    mill_hex(d, 32, out);
    return out;
}

static const char *hex512(const void *p, size_t n) {
    static char out[129];
    uint8_t d[64];
    mill_sha512(p, n, d);
    mill_hex(d, 64, out);
    return out;
}

static void test_sha256_vectors(void) {
    CHECK_STR(hex256("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(hex256("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(hex256(MSG448, strlen(MSG448)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK_STR(hex256(MSG896, strlen(MSG896)),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha512_vectors(void) {
    CHECK_STR(hex512("", 0), "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                             "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    CHECK_STR(hex512("abc", 3), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    CHECK_STR(hex512(MSG448, strlen(MSG448)),
              "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
              "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
    CHECK_STR(hex512(MSG896, strlen(MSG896)),
              "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
              "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
}

/* One million 'a', fed in chunks of 1, 3, 7, ..., 997 bytes (cycling), so every buffer
 * offset and block boundary is crossed. */
static void test_million_a_streamed(void) {
    static const size_t chunks[] = {1,  3,   7,   13,  55,  56,  57,  63,  64,
                                    65, 111, 112, 113, 127, 128, 129, 997, 0};
    static uint8_t a[1000];
    memset(a, 'a', sizeof a);
    struct mill_sha256 s256;
    struct mill_sha512 s512;
    mill_sha256_init(&s256);
    mill_sha512_init(&s512);
    size_t left = 1000000, ci = 0;
    while (left > 0) {
        size_t c = chunks[ci++ % (sizeof chunks / sizeof chunks[0])];
        if (c > left)
            c = left;
        mill_sha256_update(&s256, a, c);
        mill_sha512_update(&s512, a, c);
        left -= c;
    }
    uint8_t d256[32], d512[64];
    char h[129];
    mill_sha256_final(&s256, d256);
    mill_sha512_final(&s512, d512);
    mill_hex(d256, 32, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    mill_hex(d512, 64, h);
    CHECK_STR(h, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                 "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}

/* Streaming in any split equals one-shot, for every length around the padding edges. */
static void test_split_equals_oneshot(void) {
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof msg; n++) {
        size_t cut = n / 3;
        uint8_t one[64], two[64];
        struct mill_sha256 s;
        mill_sha256(msg, n, one);
        mill_sha256_init(&s);
        mill_sha256_update(&s, msg, cut);
        mill_sha256_update(&s, msg + cut, 0);
        mill_sha256_update(&s, msg + cut, n - cut);
        mill_sha256_final(&s, two);
        CHECK(memcmp(one, two, 32) == 0);
        struct mill_sha512 t;
        mill_sha512(msg, n, one);
        mill_sha512_init(&t);
        mill_sha512_update(&t, msg, cut);
        mill_sha512_update(&t, msg + cut, n - cut);
        mill_sha512_final(&t, two);
        CHECK(memcmp(one, two, 64) == 0);
    }
}

static void test_hex(void) {
    static const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    mill_hex(b, sizeof b, out);
    CHECK_STR(out, "00017f80abff");
    mill_hex(b, 0, out);
    CHECK_STR(out, "");
}

MTEST_MAIN(MTEST(test_sha256_vectors), MTEST(test_sha512_vectors), MTEST(test_million_a_streamed),
           MTEST(test_split_equals_oneshot), MTEST(test_hex))
