/* fuzz_zip.c: libFuzzer target for zip archives in a folder split (src/data/zip.c: listing the
 * members, inferring the folder builder from them, extracting them as zipfile.extractall does,
 * walking the result). The input is written as the archive (under $TMPDIR, one directory per
 * process), listed, extracted into a cache directory there and walked; the cache is removed
 * after each input. Traps when a
 * listed name is NULL, when anything but the input and the cache's own directories lies
 * outside the extraction directory (the whole per-process directory is walked, hidden names
 * too), or when anything extracted is neither a directory nor a plain file (no link is ever
 * made). */
#include "data/folder.h"
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

static const char *extracted; /* the extraction directory of the input being checked */

/* Every entry of the per-process directory after an extraction: the input, the cache's own
 * directories, or a directory or plain file inside the extraction directory. */
static int check_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)flag, (void)ftw;
    size_t k = strlen(extracted);
    bool inside = !strncmp(p, extracted, k) && (p[k] == '/' || p[k] == '\0');
    bool own = !strcmp(p, dir) || !strcmp(p, path) || !strcmp(p, cache) ||
               (!strncmp(p, cache, strlen(cache)) && !strcmp(p + strlen(cache), "/extracted"));
    if (!own && (!inside || (!S_ISDIR(sb->st_mode) && !S_ISREG(sb->st_mode))))
        __builtin_trap();
    return 0;
}

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
    char *one[] = {path};
    mill_folder_kind(NULL, one, 1); /* the builder inferred from the members */
    char *x = NULL, **files = NULL;
    size_t n = 0, cap = 0;
    if (mill_zip_extract(cache, path, &x, &err) == 0 &&
        mill_zip_walk(x, &files, &n, &cap, &err) == 0) {
        extracted = x;
        nftw(dir, check_entry, 16, FTW_PHYS);
        for (size_t i = 0; i < n; i++) {
            struct stat st;
            if (strstr(files[i], "/../") || lstat(files[i], &st) != 0 || !S_ISREG(st.st_mode))
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
