/* sha2.h: SHA-256 and SHA-512 (FIPS 180-4), streaming and one-shot. Used for CPython-style
 * string seeding (SHA-512), file checksums and LFS etags (SHA-256). */
#ifndef MILL_CORE_SHA2_H
#define MILL_CORE_SHA2_H

#include <stddef.h>
#include <stdint.h>

struct mill_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
};
struct mill_sha512 {
    uint64_t h[8];
    uint64_t len;
    uint8_t buf[128];
    size_t nbuf;
};

void mill_sha256_init(struct mill_sha256 *s);
void mill_sha256_update(struct mill_sha256 *s, const void *p, size_t n);
void mill_sha256_final(struct mill_sha256 *s, uint8_t out[32]);
void mill_sha512_init(struct mill_sha512 *s);
void mill_sha512_update(struct mill_sha512 *s, const void *p, size_t n);
void mill_sha512_final(struct mill_sha512 *s, uint8_t out[64]);
void mill_sha256(const void *p, size_t n, uint8_t out[32]);
void mill_sha512(const void *p, size_t n, uint8_t out[64]);
/* SHA-256 of a file's contents as lower-case hex (out: 65 bytes). MILL_EIO naming the file
 * when it cannot be read. The one I/O function here: model checksums for provenance. */
struct mill_err;
int mill_sha256_file(const char *path, char out[65], struct mill_err *err);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void mill_hex(const uint8_t *p, size_t n, char *out);

#endif
