/* wds.h: the WebDataset tar shard reader and CLIP_benchmark's side files (nshards.txt,
 * classnames.txt, zeroshot_classification_templates.txt).
 *
 * A shard (plain, or gzip, bzip2 or xz compressed) is streamed with libarchive and never
 * extracted to disk. Members are grouped by key: the path up to the first dot of the basename
 * ("a/s42.0.webp" -> key "a/s42", column "0.webp"; a leading "./" is kept), and consecutive
 * members of one key form one sample, as in webdataset and HF datasets' webdataset builder
 * (datasets >= 4.1: column names keep their case). Each row is a MILL_V_STRUCT with "__key__"
 * (STR) and one field per column, decoded by the column's last extension, lowercased (a member
 * x.json.gz, .bz2, .xz, .zst or .lz4 is decompressed first and decoded by the extension
 * before that suffix, as datasets does):
 *   cls, cls2, index, inx, id -> INT when the bytes are an ASCII integer (surrounding
 *                                whitespace allowed, as Python's int(bytes)), else STR
 *   txt, text, transcript     -> STR
 *   json, jsn                 -> parsed with mill_value_from_json
 *   anything else (webp, png, flac, npy, label, ...) -> BYTES
 * Directories, links and other non-regular members, and members whose basename has no dot,
 * are ignored. This file must not write to disk, spawn programs or trust a member's size. */
#ifndef MILL_DATA_WDS_H
#define MILL_DATA_WDS_H

#include "data/reader.h"

#include <mill/mill.h>

#include <stddef.h>
#include <stdint.h>

/* A member larger than this is an error (MILL_EFORMAT), whatever its declared size. */
#define MILL_WDS_MEMBER_MAX ((uint64_t)512 << 20)
/* A side file larger than this is an error. */
#define MILL_WDS_SIDE_FILE_MAX ((size_t)16 << 20)

/* The reader ("wds"). open: MILL_ENOTFOUND / MILL_EIO when the file cannot be opened, else 0.
 * columns projects as dataset.h says: members of other columns are skipped without reading
 * their data; "__key__" is always present. next: 1 = a row, 0 = end, MILL_EFORMAT for a
 * truncated or corrupt shard, an oversized member or a malformed json member, naming the shard
 * and the member; MILL_ENOMEM. Any error is final: later calls repeat it. */
extern const struct mill_reader_ops mill_reader_wds;

/* Opens a shard held in memory (for fuzzing and tests); then step and free the state with
 * mill_reader_wds.next / .close. buf (n bytes) is borrowed and must outlive the state; name
 * stands for the file in error messages (copied). 0, MILL_EINVAL or MILL_ENOMEM. */
int mill_wds_open_memory(const void *buf, size_t n, const char *name, const char *const *columns,
                         void **state, struct mill_err *err);

/* A list of owned UTF-8 strings; free with mill_wds_strings_free. */
struct mill_wds_strings {
    char **v;
    size_t n;
};

void mill_wds_strings_free(struct mill_wds_strings *s);

/* Reads path as text lines the way CLIP_benchmark does ([l.strip() for l in
 * text.splitlines() if l.strip()]): \n, \r\n and \r end lines, each line is stripped as
 * str.strip(), blank lines are dropped. Fills *out (caller frees). MILL_ENOTFOUND when path is
 * missing, MILL_EIO on a read error, MILL_EFORMAT when the file is over
 * MILL_WDS_SIDE_FILE_MAX, holds a NUL byte or has no non-blank line, MILL_ENOMEM. */
int mill_wds_read_lines(const char *path, struct mill_wds_strings *out, struct mill_err *err);

/* Reads <split_dir>/nshards.txt (CLIP_benchmark keeps it per split: <data_dir>/<split>): a
 * positive decimal integer, surrounding whitespace allowed, into *n. MILL_ENOTFOUND when
 * missing, MILL_EFORMAT when it is not a positive integer, MILL_EIO. */
int mill_wds_read_nshards(const char *split_dir, int64_t *n, struct mill_err *err);

/* Reads <data_dir>/classnames.txt (one class name per line, class i on line i) as
 * mill_wds_read_lines does. */
int mill_wds_read_classnames(const char *data_dir, struct mill_wds_strings *out,
                             struct mill_err *err);

/* Reads <data_dir>/zeroshot_classification_templates.txt (one template per line, with "{c}"
 * where the class name goes) as mill_wds_read_lines does. */
int mill_wds_read_templates(const char *data_dir, struct mill_wds_strings *out,
                            struct mill_err *err);

#endif
