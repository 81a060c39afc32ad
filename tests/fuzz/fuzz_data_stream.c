/* fuzz_data_stream.c: libFuzzer target for compressed data files (data/compress.c: the
 * compression found from the first bytes; gzip through zlib with its CRC and length checks,
 * bzip2, xz, zstd and lz4 through libarchive): the input, read as a file through fmemopen, is
 * drained (up to 16 MiB, so a small bomb stays bounded), rewound and drained again. A refused
 * open must say why; a read must end cleanly or as an error with a message; the two passes
 * must give the same bytes. Traps otherwise. Must not write files. */
#include "data/compress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP ((size_t)16 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes read up to CAP (their FNV-1a hash in *h); *bad when the read ended in an error. */
static size_t drain(FILE *f, uint64_t *h, bool *bad) {
    static char buf[65536];
    size_t total = 0, n;
    *h = 1469598103934665603ull;
    while (total < CAP && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            *h = (*h ^ (unsigned char)buf[i]) * 1099511628211ull;
        total += n;
    }
    *bad = ferror(f) != 0;
    if (*bad && !mill_data_read_error(0)[0])
        __builtin_trap();
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *raw = size ? fmemopen((void *)data, size, "rb") : NULL;
    if (!raw)
        return 0;
    struct mill_err err = {0};
    FILE *f = mill_data_open_stream(raw, "in.jsonl.gz", &err);
    if (!f) {
        if (!err.code || !err.msg[0])
            __builtin_trap();
        return 0;
    }
    uint64_t h1, h2;
    bool bad1, bad2;
    size_t n1 = drain(f, &h1, &bad1);
    if (fseek(f, 0, SEEK_SET) == 0) {
        size_t n2 = drain(f, &h2, &bad2);
        if (!bad1 && !bad2 && n1 < CAP && (n1 != n2 || h1 != h2))
            __builtin_trap();
    }
    fclose(f);
    return 0;
}
