/* hashcache.h: SHA-256 of big files (model weights) computed once per file version.
 *
 * Hashing a 16 GB GGUF costs about a minute per run; the provenance file wants the digest every
 * run. The digest is kept in <cache dir>/sha256/ (default ~/.cache/mill/sha256/), keyed by
 * the file's real path and checked against its device, inode, size and modification and
 * change times (ns), so a file replaced or rewritten in place is hashed again. */
#ifndef MILL_CORE_HASHCACHE_H
#define MILL_CORE_HASHCACHE_H

#include <mill/mill.h>

/* As mill_sha256_file (out: 65 bytes of lower-case hex), served from the cache under cache_dir
 * (NULL: ~/.cache/mill) when the file is unchanged. A cache that cannot be read or written is
 * skipped silently. */
int mill_sha256_file_cached(const char *cache_dir, const char *path, char out[65],
                            struct mill_err *err);

#endif
