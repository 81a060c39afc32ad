/* fuzz_samples.c: libFuzzer target for the resume reader of a per-sample JSONL file
 * (src/out/samples.c: mill_samples_open reads every earlier line for its seed, doc_id, split,
 * split_doc, error and metric values). The input is written as the file (under $TMPDIR, one
 * directory per process), opened with seed 7 and metrics acc and f1, and asked about docs 0 to
 * 63 in two splits. Traps when a done doc has no values, when more docs are resumed than asked
 * about, or when opening and closing it changes the file beyond closing a torn last line. */
#include "out/samples.h"

#include "fuzz_tmpdir.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[400], path[512], lock[520];

static void cleanup(void) {
    unlink(path);
    unlink(lock);
    rmdir(dir);
}

static bool setup(void) {
    if (path[0])
        return true;
    if (!fuzz_tmpdir(dir, sizeof dir, "fuzz_samples", cleanup))
        return false;
    snprintf(path, sizeof path, "%s/j_0shot.jsonl", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!setup())
        return 0;
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    static const char *const metrics[] = {"acc", "f1"};
    struct mill_samples *s = NULL;
    struct mill_err err = {0};
    if (mill_samples_open(path, 7, metrics, 2, NULL, NULL, &s, &err) == 0) {
        for (int64_t id = 0; id < 64; id++) {
            const double *v = NULL;
            if (mill_samples_done(s, id, id & 1 ? "train" : "test", id / 2, &v) && !v)
                __builtin_trap();
            if (mill_samples_done(s, id, NULL, 0, &v) && !v)
                __builtin_trap();
        }
        if (mill_samples_n_resumed(s, 64) > 64)
            __builtin_trap();
        mill_samples_close(s);
        FILE *g = fopen(path, "rb");
        if (g) { /* nothing was rewritten: the file is as written, a torn last line closed */
            size_t want = size + (size && data[size - 1] != '\n');
            fseek(g, 0, SEEK_END);
            if ((size_t)ftell(g) != want)
                __builtin_trap();
            fclose(g);
        }
    }
    return 0;
}
