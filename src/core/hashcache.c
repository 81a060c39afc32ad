/* hashcache.c: cached SHA-256 of big files (see hashcache.h). One small text file per path:
 * "mill-sha256 2 <dev> <ino> <size> <mtime s.ns> <ctime s.ns> <hex>\n", written to a temporary
 * name and renamed, so concurrent runs never read half a line. The change time cannot be set
 * by users (touch -r, cp -p), so a file rewritten in place never matches an old entry. */
#include "core/hashcache.h"

#include "core/cache.h"
#include "core/sha2.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* <cache dir>/sha256/<sha256 of the real path>, or NULL. */
static char *entry_path(const char *cache_dir, const char *real) {
    uint8_t d[32];
    char hex[65];
    mill_sha256(real, strlen(real), d);
    mill_hex(d, 32, hex);
    return mill_cache_path(cache_dir, "sha256", hex);
}

static void stamp(const struct stat *st, char *out, size_t n) {
    snprintf(out, n, "mill-sha256 2 %llu %llu %lld %lld.%09ld %lld.%09ld",
             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino, (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
             (long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec);
}

static bool same_version(const struct stat *a, const struct stat *b) {
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

static bool lookup(const char *entry, const char *want, char out[65]) {
    FILE *f = fopen(entry, "r");
    char line[256];
    bool ok = f && fgets(line, sizeof line, f);
    if (f)
        fclose(f);
    size_t n = strlen(want);
    if (!ok || strncmp(line, want, n) || line[n] != ' ' || strlen(line + n + 1) != 65 ||
        line[n + 65] != '\n' || strspn(line + n + 1, "0123456789abcdef") != 64)
        return false;
    memcpy(out, line + n + 1, 64);
    out[64] = 0;
    return true;
}

static void store(const char *entry, const char *stamp_line, const char *hex) {
    char *tmp;
    FILE *f = mill_cache_create(entry, &tmp);
    mill_cache_commit(f, tmp, entry, f && fprintf(f, "%s %s\n", stamp_line, hex) > 0);
}

int mill_sha256_file_cached(const char *cache_dir, const char *path, char out[65],
                            struct mill_err *err) {
    char real[PATH_MAX], want[200];
    struct stat st;
    char *entry = NULL;
    if (realpath(path, real) && !stat(real, &st)) {
        stamp(&st, want, sizeof want);
        entry = entry_path(cache_dir, real);
    }
    if (entry && lookup(entry, want, out)) {
        free(entry);
        return 0;
    }
    /* The resolved path, so what was stat'ed is what is read. */
    int rc = mill_sha256_file(entry ? real : path, out, err);
    struct stat after;
    /* Only a file that did not change while it was read is remembered. */
    if (!rc && entry && !stat(real, &after) && same_version(&st, &after))
        store(entry, want, out);
    free(entry);
    return rc;
}
