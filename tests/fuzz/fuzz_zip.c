/* fuzz_zip.c: libFuzzer target for zip archives in a folder split (src/data/zip.c: listing the
 * members, extracting them as zipfile.extractall does, walking the result). The input is
 * written as the archive (under $TMPDIR, one directory per process), listed, extracted into a
 * cache directory there and walked; the cache is removed after each input. Traps when a
 * listed name is NULL, when an extracted path lies outside the extraction directory or holds
 * a ".." part, or when anything extracted is not a regular file (no link is ever made). */
#include "data/zip.h"

#include "fuzz_tmpdir.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[400], path[512], cache[512];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void clear_cache(void) { nftw(cache, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void cleanup(void) {
    clear_cache();
    unlink(path);
    rmdir(dir);
}

static bool setup(void) {
    if (path[0])
        return true;
    if (!fuzz_tmpdir(dir, sizeof dir, "fuzz_zip", cleanup))
        return false;
    snprintf(path, sizeof path, "%s/in.zip", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    return true;
}

static int named(const char *name, void *ctx) {
    (void)ctx;
    if (!name)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!setup())
        return 0;
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct mill_err err = {0};
    mill_zip_list(path, named, NULL, &err);
    char *x = NULL, **files = NULL;
    size_t n = 0, cap = 0;
    if (mill_zip_extract(cache, path, &x, &err) == 0 &&
        mill_zip_walk(x, &files, &n, &cap, &err) == 0) {
        size_t k = strlen(x);
        for (size_t i = 0; i < n; i++) {
            struct stat st;
            if (strncmp(files[i], x, k) || files[i][k] != '/' || strstr(files[i] + k, "/../") ||
                lstat(files[i], &st) != 0 || !S_ISREG(st.st_mode))
                __builtin_trap();
        }
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    free(x);
    clear_cache();
    return 0;
}
