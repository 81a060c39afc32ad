/* parquet.h: Mill's own Parquet reader (there is no Parquet library in Debian): footer, schema,
 * column projection, data pages v1 and v2, the common encodings and codecs, and record assembly
 * of flat, list, struct, list<struct> and struct-of-list columns into mill_value rows.
 *
 * Must not trust the file: every read is bounds-checked and sizes are capped, and corrupt input
 * is MILL_EFORMAT naming the file (and the column and row group where known), never a crash or a
 * silently wrong row. Must not read columns outside the projection. Not thread-safe per reader.
 *
 * Values: UTF8/STRING/JSON byte arrays -> MILL_V_STR; other byte arrays and fixed-length
 * byte arrays -> MILL_V_BYTES; INT32/INT64 (dates and times in their stored unit) -> MILL_V_INT;
 * INT96 -> MILL_V_INT nanoseconds since the Unix epoch; FLOAT, DOUBLE, FLOAT16 and DECIMAL ->
 * MILL_V_FLOAT; BOOLEAN -> MILL_V_BOOL; nulls -> MILL_V_NULL; lists (3-level, legacy 2-level,
 * bare repeated fields) -> MILL_V_LIST; groups -> MILL_V_STRUCT; MAP -> a list of key/value
 * structs. A UINT_64 value above INT64_MAX becomes MILL_V_FLOAT. */
#ifndef MILL_DATA_PARQUET_H
#define MILL_DATA_PARQUET_H

#include "data/reader.h"

#include <mill/value.h>

struct mill_parquet;

/* Opens path (memory-mapped) and decodes its footer. columns: top-level column names to read,
 * NULL-terminated, or NULL for all; rows then have these fields in schema order. A name the
 * schema lacks is MILL_ENOTFOUND naming it and the file. Returns 0, MILL_EIO / MILL_ENOTFOUND
 * when the file cannot be opened, MILL_EFORMAT for a corrupt footer or schema, MILL_EUNSUPPORTED
 * for encrypted files or external column chunks, MILL_ENOMEM. Free with mill_parquet_close. */
int mill_parquet_open(const char *path, const char *const *columns, struct mill_parquet **pq,
                      struct mill_err *err);
/* The same over n bytes in memory (copied; data may be freed after the call). name is used in
 * error messages. */
int mill_parquet_open_mem(const void *data, size_t n, const char *name, const char *const *columns,
                          struct mill_parquet **pq, struct mill_err *err);
/* The number of rows the footer declares (all row groups). */
int64_t mill_parquet_num_rows(const struct mill_parquet *pq);
/* The number of row groups. */
int mill_parquet_num_row_groups(const struct mill_parquet *pq);
/* The value of key in the file's key-value metadata (e.g. "huggingface"), or NULL. *len gets
 * its length when len is non-NULL. Borrowed until mill_parquet_close; NUL-terminated. */
const char *mill_parquet_kv(const struct mill_parquet *pq, const char *key, size_t *len);
/* 1 = *row filled with a MILL_V_STRUCT (caller frees with mill_value_free), 0 = end of file,
 * < 0 = error (MILL_EFORMAT, MILL_EUNSUPPORTED for an unknown codec or encoding, MILL_ENOMEM);
 * after an error the reader cannot go on and keeps returning it. */
int mill_parquet_next(struct mill_parquet *pq, struct mill_value *row, struct mill_err *err);
/* Unmaps and frees. NULL-safe. */
void mill_parquet_close(struct mill_parquet *pq);

/* The reader interface over the functions above (name "parquet"). */
extern const struct mill_reader_ops mill_reader_parquet;

#endif
