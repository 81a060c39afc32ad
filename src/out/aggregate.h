/* aggregate.h: Mill's results/aggregate.csv: its row and table types, an RFC 4180 reader that
 * refuses corrupt input, the locked atomic upsert, and the leaf / rollup score formulas (BEHAVIOUR.md §2.3).
 *
 * Columns: model,benchmark,task,task_type,n_shot,metric,performance,stderr, then any extra
 * columns an existing file carries (kept as strings). Nothing here prints; a corrupt file is an
 * error naming the file and line, never a silently shortened table. */
#ifndef MILL_OUT_AGGREGATE_H
#define MILL_OUT_AGGREGATE_H

#include <mill/buf.h>
#include <mill/mill.h>

/* One row. In a table from mill_aggregate_read/_parse every string is owned by the table; rows
 * handed to mill_aggregate_upsert are borrowed for the call. */
struct mill_aggregate_row {
    const char *model;
    const char *benchmark; /* parent benchmark; "" for a standalone task (NULL reads as "") */
    const char *task;
    const char *task_type; /* the enum value, e.g. "multiple_choice" (NULL reads as "") */
    int64_t n_shot;
    const char *metric;
    double performance; /* a fraction, already rounded to 4 decimals by the formulas below */
    double std_err;     /* the "stderr" column (stdio owns the name stderr) */
    const char **extra; /* n_extra values, one per table extra column; NULL when n_extra == 0 */
    bool remove;        /* mill_aggregate_upsert: delete the key's rows, add none */
};

struct mill_aggregate_table {
    char **extra_cols; /* names of the non-canonical columns, in file order (owned) */
    size_t n_extra;
    struct mill_aggregate_row *rows; /* in file order (owned) */
    size_t n;
    size_t cap;
};

void mill_aggregate_table_init(struct mill_aggregate_table *t);
/* Releases everything the table owns and leaves it empty; NULL-safe. */
void mill_aggregate_table_free(struct mill_aggregate_table *t);

/* Parses CSV bytes data[0..len) (not necessarily NUL-terminated) into t, which must be freshly
 * initialised. name is used in messages ("<name>:<line>: ..."). Zero bytes is an empty table.
 * Accepts LF, CRLF or CR line ends, quoted fields with commas, doubled quotes and line breaks,
 * columns in any order; skips blank lines (as pandas does). performance and stderr are read as
 * pandas' read_csv reads them: an empty field or one of its NA strings is NaN (pandas writes
 * NaN as ""), blanks around a number are taken, an infinity is inf or infinity in any case;
 * n_shot may be written "5" or "5.0". Returns 0; MILL_EFORMAT (missing or duplicate column,
 * wrong field count, non-numeric n_shot / performance / stderr (hex, other NaN spellings and
 * numbers past the double range included), unterminated quote, text after a closing quote, NUL byte) with the line
 * where the offending record starts; MILL_ENOMEM. On error t is left empty. */
int mill_aggregate_parse(struct mill_aggregate_table *t, const char *data, size_t len,
                         const char *name, struct mill_err *err);

/* Reads path into t (freshly initialised). A missing file is an empty table. Returns as
 * mill_aggregate_parse, plus MILL_EIO when the file exists but cannot be read. */
int mill_aggregate_read(struct mill_aggregate_table *t, const char *path, struct mill_err *err);

/* Appends t as CSV to out: the header, then one line per row, "\n" line ends; a field is quoted
 * only when it holds a comma, quote, CR or LF; n_shot as an integer; performance and stderr
 * rounded to 4 decimals and printed as Python's repr (0.5378, 0.0, 1.0), NaN as an empty field
 * (pandas' na_rep). A row's extra == NULL writes empty extra fields. Returns 0 or MILL_ENOMEM. */
int mill_aggregate_write(const struct mill_aggregate_table *t, struct mill_buf *out);

/* Mill's upsert, safe against concurrent writers (processes or threads using this function):
 * takes flock(LOCK_EX) on "<path>.lock" (blocking), reads path (missing = empty), applies the rows
 * in order (each deletes every row with its (model, task, n_shot, metric), then is appended; so
 * of two new rows with one key the later wins), writes "<path>.tmp.<pid>", fsyncs it, renames it
 * over path and releases the lock. Extra columns of the file are kept; new rows get empty values
 * there (their extra is ignored). A row with remove set only deletes (a job that got no value
 * this time leaves no stale row); deletions alone that match no row write nothing. n == 0 does
 * nothing.
 * Returns 0; MILL_EINVAL (a NULL model, task or metric); MILL_EFORMAT (the current file is
 * corrupt: it is left untouched); MILL_ELOCK; MILL_EIO; MILL_ENOMEM. */
int mill_aggregate_upsert(const char *path, const struct mill_aggregate_row *rows, size_t n,
                          struct mill_err *err);

/* A leaf row's numbers from the per-sample metric values x[0..n): performance =
 * round(mean, 4), std_err = round(std(ddof=1)/sqrt(n), 4), as Python Mill's _stderr_of_mean:
 * mean and std skip NaN values (pandas' skipna) but n counts them; std_err 0.0 when n < 2 or
 * the std is NaN; performance is NaN when no value is left.
 * Returns 0 or MILL_ENOMEM. */
int mill_aggregate_leaf(const double *x, size_t n, double *performance, double *std_err);

/* A rollup row's numbers from the k subtask performances perf[0..k): performance =
 * round(sum(perf) / k, 4), or with counts != NULL round(sum(perf*counts)/sum(counts), 4)
 * (weighted_aggregate, counts = each subtask's sample count), sums as Python's sum() (3.12+);
 * std_err = round(sem of perf, 4), 0.0 when k < 2.
 * Returns 0; MILL_EINVAL when k == 0, a count is negative or the counts sum to 0. */
int mill_aggregate_rollup(const double *perf, const int64_t *counts, size_t k, double *performance,
                          double *std_err);

#endif
