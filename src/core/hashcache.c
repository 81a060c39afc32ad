/* hashcache.c: cached SHA-256 of big files (see hashcache.h). One small text file per path:
 * "mill-sha256 1 <dev> <ino> <size> <mtime_s> <mtime_ns> <hex>\n", written to a temporary name
 * and renamed, so concurrent runs never read half a line. */
#include "core/hashcache.h"

#include "core/sha2.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $MILL_CACHE_DIR/sha256/<sha256 of the real path>, or NULL. */
static char *entry_path(const char *real) {
    const char *cache = getenv("MILL_CACHE_DIR");
    const char *home = getenv("HOME");
    uint8_t d[32];
    char hex[65], *p = NULL;
    mill_sha256(real, strlen(real), d);
    mill_hex(d, 32, hex);
    int r = cache && *cache ? asprintf(&p, "%s/sha256/%s", cache, hex)
                            : asprintf(&p, "%s/.cache/mill/sha256/%s", home ? home : ".", hex);
    return r < 0 ? NULL : p;
}

static void stamp(const struct stat *st, char *out, size_t n) {
    snprintf(out, n, "mill-sha256 1 %llu %llu %lld %lld %ld", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
             (long)st->st_mtim.tv_nsec);
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
    char *dir = strdup(entry), *tmp = NULL;
    if (!dir)
        return;
    *strrchr(dir, '/') = 0;
    char *slash = strrchr(dir, '/');
    if (slash) { /* .../mill/sha256: make the parent then the directory */
        *slash = 0;
        mkdir(dir, 0755);
        *slash = '/';
    }
    mkdir(dir, 0755);
    free(dir);
    if (asprintf(&tmp, "%s.%ld.tmp", entry, (long)getpid()) < 0)
        return;
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%s %s\n", stamp_line, hex) > 0;
    if (f && fclose(f))
        ok = false;
    if (!ok || rename(tmp, entry))
        unlink(tmp);
    free(tmp);
}

int mill_sha256_file_cached(const char *path, char out[65], struct mill_err *err) {
    char real[PATH_MAX], want[160];
    struct stat st;
    char *entry = NULL;
    if (realpath(path, real) && !stat(real, &st)) {
        stamp(&st, want, sizeof want);
        entry = entry_path(real);
    }
    if (entry && lookup(entry, want, out)) {
        free(entry);
        return 0;
    }
    int rc = mill_sha256_file(path, out, err);
    struct stat after;
    /* Only a file that did not change while it was read is remembered. */
    if (!rc && entry && !stat(real, &after) && after.st_mtim.tv_sec == st.st_mtim.tv_sec &&
        after.st_mtim.tv_nsec == st.st_mtim.tv_nsec && after.st_size == st.st_size)
        store(entry, want, out);
    free(entry);
    return rc;
}
