/* compress.h: data files compressed as the Hub ships them (test.jsonl.gz, train.csv.zst, ...),
 * opened as one FILE * the text readers step like a plain file. The compression is the one
 * fsspec infers from the extension for `datasets` (gzip .gz, bzip2 .bz2, xz .xz, zstd .zst,
 * lz4 .lz4); the format is the extension before it. */
#ifndef MILL_DATA_COMPRESS_H
#define MILL_DATA_COMPRESS_H

#include <mill/mill.h>

#include <stdio.h>

/* The length of path's compression suffix (".gz", ...), 0 when it has none. */
size_t mill_data_compression_suffix(const char *path);

/* Opens path for reading: decompressed as its suffix says, else as is. Rewinding works (a
 * compressed stream starts over); other seeks do not. A corrupt or truncated stream is a read
 * error (ferror) whose text mill_data_read_error gives. NULL with err set (naming the file)
 * when it cannot be opened. */
FILE *mill_data_fopen(const char *path, struct mill_err *err);

/* What went wrong in this thread's last failed read of a stream mill_data_fopen opened
 * ("gzip: truncated input", ...), else strerror(errno_value). */
const char *mill_data_read_error(int errno_value);

#endif
