/* folder.h: the split of a directory of images or audio clips, as HF datasets' imagefolder and
 * audiofolder builders (its folder_based_builder) read one. Either metadata files
 * (metadata.csv, metadata.jsonl or metadata.parquet) give the rows, their "file_name" column
 * (or "<x>_file_name", "file_names", "<x>_file_names") naming the media relative to the
 * metadata file's directory; or each media file is a row, with a "label" (the index of its
 * directory's name among the sorted names of every split's media) when the files sit at one
 * depth under more than one directory name. A medium is {"bytes": the file's bytes, "path": its path}, as the Hub's
 * Parquet files store an Image or Audio feature. */
#ifndef MILL_DATA_FOLDER_H
#define MILL_DATA_FOLDER_H

#include <mill/value.h>

#include <stddef.h>

enum mill_folder_kind { MILL_FOLDER_NONE = 0, MILL_FOLDER_IMAGE, MILL_FOLDER_AUDIO };

/* Which builder reads files[0..n): the one builder names ("imagefolder", "audiofolder"; none
 * for another builder), else the one datasets' infer_module_for_data_files_list would pick
 * (the most common suffix of the files' names, metadata files last, ties to .parquet, .jsonl,
 * .json, .csv, then the greater suffix; where ".zip" ranks first, the most common suffix over
 * the listings of the first ten archives), else none. */
enum mill_folder_kind mill_folder_kind(const char *builder, char *const *files, size_t n);

/* Whether path's extension (any case) is a medium of kind's builder. */
bool mill_folder_is_medium(enum mill_folder_kind kind, const char *path);
/* Whether path is a metadata file (metadata.csv, metadata.jsonl, metadata.parquet). */
bool mill_folder_is_metadata(const char *path);

/* The path of the medium a metadata file names: os.path.join(os.path.dirname(metadata_path),
 * os.path.normpath(name).replace("\\", "/")), as datasets makes it. malloc'd; NULL when out
 * of memory. */
char *mill_folder_resolve(const char *metadata_path, const char *name);

struct mill_folder;

/* Reads the split files[0..n) (borrowed: they must outlive *out) as kind's builder; columns:
 * the columns to keep (NULL = all). label_files[0..n_label_files): the files of every split,
 * whose directory names make the labels as datasets makes them over all splits (NULL: this
 * split's). Metadata files of different formats are MILL_EFORMAT naming them. */
int mill_folder_open(enum mill_folder_kind kind, char *const *files, size_t n,
                     char *const *label_files, size_t n_label_files, const char *const *columns,
                     struct mill_folder **out, struct mill_err *err);
/* 1 = *row filled (caller frees), 0 = end, < 0 = error naming the file and row. */
int mill_folder_next(struct mill_folder *f, struct mill_value *row, struct mill_err *err);
/* Rows the split has, or -1 where metadata files give them (not counted). */
int64_t mill_folder_count(const struct mill_folder *f);
void mill_folder_close(struct mill_folder *f);

#endif
