/* compress.h: data files compressed as the Hub ships them (test.jsonl.gz, train.csv.zst, ...),
 * opened as one FILE * the text readers step like a plain file. As `datasets` extracts a
 * downloaded file, the compression is found from the file's first bytes (gzip, bzip2, xz,
 * zstd, lz4), whatever its name; the name's compression suffix only hides the format's
 * extension before it (x.jsonl.gz is JSON Lines). */
#ifndef MILL_DATA_COMPRESS_H
#define MILL_DATA_COMPRESS_H

#include <mill/mill.h>

#include <stdio.h>

/* The length of path's compression suffix (".gz", ".bz2", ".xz", ".zst", ".lz4"), 0 when it
 * has none. */
size_t mill_data_compression_suffix(const char *path);

/* Opens path for reading: decompressed when its first bytes are a compression's, else as is.
 * Rewinding works (a compressed stream starts over); other seeks do not. A corrupt or
 * truncated stream (a gzip CRC that does not match included) is a read error (ferror) whose
 * text mill_data_read_error gives. NULL with err set (naming the file) when it cannot be
 * opened. */
FILE *mill_data_fopen(const char *path, struct mill_err *err);

/* The same for a stream already open (at its start; owned from here on, closed on failure);
 * name is for the messages. */
FILE *mill_data_open_stream(FILE *raw, const char *name, struct mill_err *err);

/* Steps over a UTF-8 BOM at the start of f (Python's reading drops it), else puts the first
 * byte back: one byte of pushback, so a pipe works too. 0; MILL_EFORMAT when 0xEF starts f
 * without the rest of a BOM (no UTF-8 text starts so); MILL_EIO on a read error. */
int mill_data_skip_bom(FILE *f);

/* What went wrong in this thread's last failed read of a stream mill_data_fopen opened
 * ("gzip: truncated input", ...), else strerror(errno_value). */
const char *mill_data_read_error(int errno_value);

#endif
