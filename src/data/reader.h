/* reader.h: the file-format reader interface the dataset layer steps (init / next / free, as
 * sqlite3_step), so memory stays flat however large a file is. Each reader (jsonl.c, csv.c,
 * text.c, parquet.c, wds.c, arrow.c) implements it and includes only this header; dataset.c picks one per file. */
#ifndef MILL_DATA_READER_H
#define MILL_DATA_READER_H

#include <mill/value.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A file-format reader: open a path, step rows, free. Errors name the file and row. */
struct mill_reader_ops {
    const char *name;
    /* columns: the top-level columns to read (NULL = all); readers that can skip the others
     * (Parquet) must not read them. */
    int (*open)(const char *path, const char *const *columns, void **state, struct mill_err *err);
    /* 1 = *row filled (caller frees), 0 = end, < 0 = error (the file cannot go on). */
    int (*next)(void *state, struct mill_value *row, struct mill_err *err);
    void (*close)(void *state);
};

/* Whether a projection (NULL = all columns) keeps the top-level column name. */
static inline bool mill_reader_projected(const char *const *columns, const char *name) {
    for (size_t i = 0; columns && columns[i]; i++)
        if (!strcmp(columns[i], name))
            return true;
    return !columns;
}

extern const struct mill_reader_ops mill_reader_jsonl;
extern const struct mill_reader_ops mill_reader_csv;
extern const struct mill_reader_ops mill_reader_tsv;   /* csv.c with sep="\t" */
extern const struct mill_reader_ops mill_reader_text;  /* text.c: a .txt file, one row per line */
extern const struct mill_reader_ops mill_reader_xml;   /* text.c: an .xml file, one row */
extern const struct mill_reader_ops mill_reader_arrow; /* arrow.c: an Arrow IPC stream/file */

/* The arrow reader on a stream already open (owned from here on, closed on failure; name is for
 * messages), stepped with mill_reader_arrow.next/.close: for the fuzz target. */
int mill_arrow_open_stream(FILE *f, const char *name, const char *const *columns, void **state,
                           struct mill_err *err);

/* The text reader (xml: the xml reader) on a stream already open (owned from here on, closed
 * on failure; name is for messages), stepped with mill_reader_text.next/.close: for the fuzz
 * target. */
int mill_text_open_stream(FILE *f, const char *name, const char *const *columns, bool xml,
                          void **state, struct mill_err *err);

#endif
