/* zip.h: zip archives among a folder split's files. datasets' imagefolder and audiofolder take
 * a `.zip` data file as an archive of media: its download manager extracts it
 * (zipfile.extractall into a directory named by the archive) and its FilesIterable walks the
 * extracted tree. Here: listing an archive's members (for the builder's inference), extracting
 * it once into Mill's cache, and walking the result in FilesIterable's order. */
#ifndef MILL_DATA_ZIP_H
#define MILL_DATA_ZIP_H

#include <mill/value.h>

#include <stddef.h>

/* Calls each(name, ctx) with every member's name (UTF-8; names without zip's UTF-8 flag read
 * as CP437, as Python's zipfile reads them); a non-zero return stops the listing and is
 * returned. A file that is no readable zip archive is MILL_EFORMAT naming it. */
int mill_zip_list(const char *path, int (*each)(const char *name, void *ctx), void *ctx,
                  struct mill_err *err);

/* The directory holding path's members, extracted as zipfile.extractall extracts them (each
 * name's empty, "." and ".." parts dropped; a later member of one name replaces an earlier)
 * under <cache_dir>/extracted/<sha256 of the archive's real path, size and mtime>, made once
 * (into a temporary directory renamed into place) and reused. *dir is malloc'd. A damaged
 * member (bad CRC, truncated, encrypted) is MILL_EFORMAT naming the archive and the member. */
int mill_zip_extract(const char *cache_dir, const char *path, char **dir, struct mill_err *err);

/* Appends the files under dir to (*files)[*n..] (growing *cap), in the order of datasets'
 * FilesIterable: os.walk from dir, each directory's files sorted, then its subdirectories
 * sorted, names starting with "." or "__" left out. Strings are malloc'd. */
int mill_zip_walk(const char *dir, char ***files, size_t *n, size_t *cap, struct mill_err *err);

#endif
