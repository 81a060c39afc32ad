/* test_hashcache.c: src/core/hashcache.c. The digest of an unchanged file comes from the cache
 * (shown by planting a different digest under the file's exact stamp), a file rewritten in place
 * is hashed again, and an unusable cache directory falls back to hashing. Works in a temporary
 * directory passed as the cache directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mill/mill.h>

#include "core/hashcache.h"
#include "mtest.h"

static char dir[64], file[96];

static void write_file(const char *text) {
    FILE *f = fopen(file, "w");
    fputs(text, f);
    fclose(f);
}

/* The only entry in the cache's sha256/ directory. */
static char *entry(void) {
    static char path[256];
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls %s/sha256/ | head -1", dir);
    FILE *p = popen(cmd, "r");
    char name[128] = {0};
    if (!fgets(name, sizeof name, p))
        name[0] = 0;
    pclose(p);
    name[strcspn(name, "\n")] = 0;
    snprintf(path, sizeof path, "%s/sha256/%s", dir, name);
    return name[0] ? path : NULL;
}

static void test_cached_and_invalidated(void) {
    struct mill_err err = {0};
    char hex[65];
    write_file("abc");
    CHECK_INT(mill_sha256_file_cached(dir, file, hex, &err), 0);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *e = entry();
    CHECK(e != NULL);
    if (!e)
        return;
    /* Plant another digest under the same stamp: it must be what comes back. */
    char line[256];
    FILE *f = fopen(e, "r");
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    char *sp = strrchr(line, ' ');
    memset(sp + 1, 'f', 64);
    f = fopen(e, "w");
    fputs(line, f);
    fclose(f);
    CHECK_INT(mill_sha256_file_cached(dir, file, hex, &err), 0);
    CHECK_STR(hex, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    /* Rewritten in place (same size, later mtime): hashed again. A rewrite within the same
     * timestamp tick (its length depends on the filesystem) leaves the stamp as it was, which
     * no stamp-based cache can see, so rewrite until the change time has moved (bounded). */
    struct stat before, now;
    CHECK_INT(stat(file, &before), 0);
    for (int tries = 0;; tries++) {
        write_file("abd");
        CHECK_INT(stat(file, &now), 0);
        if (now.st_ctim.tv_sec != before.st_ctim.tv_sec ||
            now.st_ctim.tv_nsec != before.st_ctim.tv_nsec || tries == 2000)
            break;
        struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&ms, NULL);
    }
    CHECK(now.st_ctim.tv_sec != before.st_ctim.tv_sec ||
          now.st_ctim.tv_nsec != before.st_ctim.tv_nsec);
    CHECK_INT(mill_sha256_file_cached(dir, file, hex, &err), 0);
    CHECK_STR(hex, "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9");
    /* A garbled entry is ignored. */
    f = fopen(e, "w");
    fputs("mill-sha256 1 garbage\n", f);
    fclose(f);
    CHECK_INT(mill_sha256_file_cached(dir, file, hex, &err), 0);
    CHECK_STR(hex, "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9");
}

static void test_unusable_cache_and_missing_file(void) {
    struct mill_err err = {0};
    char hex[65];
    write_file("abc");
    CHECK_INT(mill_sha256_file_cached("/proc/no/such/dir", file, hex, &err), 0);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(mill_sha256_file_cached(dir, "/no/such/model.gguf", hex, &err), MILL_EIO);
    CHECK(strstr(err.msg, "/no/such/model.gguf") != NULL);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/mill-hashcache-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(file, sizeof file, "%s/model.bin", dir);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void test_all(void) {
    setup();
    test_cached_and_invalidated();
    test_unusable_cache_and_missing_file();
    teardown();
}

MTEST_MAIN(MTEST(test_all))
