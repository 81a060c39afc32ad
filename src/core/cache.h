/* cache.h: files in Mill's cache directory (the caller's, from --cache_dir / $MILL_CACHE_DIR;
 * else ~/.cache/mill), written atomically: a temporary name in the same directory,
 * renamed into place, so concurrent runs never read half a file. Backends keep derived data
 * there (zero-shot heads, model digests); a cache that cannot be written is skipped. */
#ifndef MILL_CORE_CACHE_H
#define MILL_CORE_CACHE_H

#include <stdbool.h>
#include <stdio.h>

/* "<cache_dir>/<sub>/<name>" (cache_dir NULL or "": ~/.cache/mill), malloc'd, or NULL when out
 * of memory. */
char *mill_cache_path(const char *cache_dir, const char *sub, const char *name);

/* Creates path's missing parent directories (mkdir -p of all before its last '/'). */
void mill_cache_make_parents(const char *path);
/* Creates path's missing parent directories and opens a temporary file beside it for writing;
 * *tmp receives its malloc'd name. NULL (and *tmp NULL) when it cannot. */
FILE *mill_cache_create(const char *path, char **tmp);
/* Closes f and, when ok and the close succeeded, renames tmp to path; else removes tmp.
 * Frees tmp. Returns whether path now holds the new file. */
bool mill_cache_commit(FILE *f, char *tmp, const char *path, bool ok);

#endif
