/* cache.c: Mill's cache directory and atomic writes into it (see cache.h). */
#include "core/cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *mill_cache_path(const char *cache, const char *sub, const char *name) {
    const char *home = getenv("HOME");
    char *p = NULL;
    int r = cache && *cache ? asprintf(&p, "%s/%s/%s", cache, sub, name)
                            : asprintf(&p, "%s/.cache/mill/%s/%s", home ? home : ".", sub, name);
    return r < 0 ? NULL : p;
}

void mill_cache_make_parents(const char *path) {
    char *dir = strdup(path);
    for (char *p = dir ? dir + 1 : NULL; p && *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        mkdir(dir, 0755);
        *p = '/';
    }
    free(dir);
}

FILE *mill_cache_create(const char *path, char **tmp) {
    *tmp = NULL;
    mill_cache_make_parents(path);
    if (asprintf(tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
        *tmp = NULL;
        return NULL;
    }
    FILE *f = fopen(*tmp, "wb");
    if (!f) {
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

bool mill_cache_commit(FILE *f, char *tmp, const char *path, bool ok) {
    if (f && fclose(f))
        ok = false;
    ok = ok && f && tmp && rename(tmp, path) == 0;
    if (!ok && tmp)
        unlink(tmp);
    free(tmp);
    return ok;
}
