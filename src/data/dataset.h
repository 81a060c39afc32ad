/* dataset.h: one split of a task's dataset as a stream of rows (struct mill_value structs),
 * stepped like sqlite3_step so memory stays flat however large the split.
 *
 * The split resolves to files through the task's hf_data_files ("split=pattern", local paths
 * relative to the plugin directory, or hf:// patterns) or its Hub repo/config; each file is
 * read by the reader its format needs (reader.h: JSON Lines, Parquet, WebDataset tar). */
#ifndef MILL_DATA_DATASET_H
#define MILL_DATA_DATASET_H

#include <mill/task.h>

struct mill_dataset;

struct mill_dataset_params {
    const char *base_dir;  /* directory relative data paths resolve against, or NULL (cwd) */
    const char *cache_dir; /* Mill's cache dir */
};

/* Opens split of task. MILL_ENOTFOUND when the split has no files, MILL_EUNSUPPORTED for a
 * source this build cannot read yet. */
int mill_dataset_open(const struct mill_task_config *task, const char *split,
                      const struct mill_dataset_params *params, struct mill_dataset **ds,
                      struct mill_err *err);
/* 1 = *row filled (caller frees with mill_value_free), 0 = end of split, < 0 = error. */
int mill_dataset_next(struct mill_dataset *ds, struct mill_value *row, struct mill_err *err);
/* Rows the split holds when that is cheap to know (Parquet footers, JSON Lines line counts),
 * else -1 (tar shards). For progress reporting only: filters may drop rows. */
int64_t mill_dataset_count(const struct mill_dataset *ds);
/* The resolved files, in reading order. Borrowed. */
size_t mill_dataset_n_files(const struct mill_dataset *ds);
const char *mill_dataset_file(const struct mill_dataset *ds, size_t i);
/* The resolved files as a JSON array (for the provenance file). Borrowed. */
const char *mill_dataset_files_json(const struct mill_dataset *ds);
void mill_dataset_free(struct mill_dataset *ds);

#endif
