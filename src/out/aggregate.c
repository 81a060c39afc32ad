/* aggregate.c: reading, writing and upserting results/aggregate.csv (see aggregate.h).
 *
 * The reader is strict: a record it cannot read is an error, never dropped. The upsert rewrites
 * the whole file under an flock and replaces it by rename, so a reader sees the old or the new
 * file and concurrent writers never lose rows. Must not print or exit. */
#include "out/aggregate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/array.h"
#include "core/stats.h"

#define MAX_FILE_BYTES ((size_t)1 << 30) /* an aggregate.csv past 1 GiB is not ours */

enum { C_MODEL, C_BENCHMARK, C_TASK, C_TASK_TYPE, C_N_SHOT, C_METRIC, C_PERF, C_STDERR, N_CANON };

static const char *const canon[N_CANON] = {
    "model", "benchmark", "task", "task_type", "n_shot", "metric", "performance", "stderr",
};

/* ---- table ---------------------------------------------------------------------------------- */

void mill_aggregate_table_init(struct mill_aggregate_table *t) { memset(t, 0, sizeof *t); }

/* A row's strings and extra-pointer array live in one block: the pointer array first when there
 * are extra columns, else the model string. */
static void row_free(struct mill_aggregate_row *r) {
    free(r->extra ? (void *)r->extra : (void *)r->model);
}

void mill_aggregate_table_free(struct mill_aggregate_table *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        row_free(&t->rows[i]);
    free(t->rows);
    for (size_t i = 0; i < t->n_extra; i++)
        free(t->extra_cols[i]);
    free(t->extra_cols);
    mill_aggregate_table_init(t);
}

static const char *nz(const char *s) { return s ? s : ""; }

/* Appends a deep copy of src with extra values ex[0..n_extra) (ex may be NULL: all ""). */
static int table_add(struct mill_aggregate_table *t, const struct mill_aggregate_row *src,
                     const char *const *ex) {
    if (mill_grow(&t->rows, &t->cap, t->n, sizeof *t->rows, 16))
        return MILL_ENOMEM;
    const char *s[N_CANON] = {nz(src->model),
                              nz(src->benchmark),
                              nz(src->task),
                              nz(src->task_type),
                              "",
                              nz(src->metric),
                              "",
                              ""};
    size_t bytes = t->n_extra * sizeof(char *);
    for (int i = 0; i < N_CANON; i++)
        bytes += strlen(s[i]) + 1;
    for (size_t i = 0; i < t->n_extra; i++)
        bytes += strlen(ex ? ex[i] : "") + 1;
    char *block = malloc(bytes);
    if (!block)
        return MILL_ENOMEM;
    const char **extra = t->n_extra ? (const char **)(void *)block : NULL;
    char *q = block + t->n_extra * sizeof(char *);
    const char *copy[N_CANON];
    for (int i = 0; i < N_CANON; i++) {
        size_t l = strlen(s[i]) + 1;
        memcpy(q, s[i], l);
        copy[i] = q;
        q += l;
    }
    for (size_t i = 0; i < t->n_extra; i++) {
        const char *v = ex ? ex[i] : "";
        size_t l = strlen(v) + 1;
        memcpy(q, v, l);
        extra[i] = q;
        q += l;
    }
    struct mill_aggregate_row *r = &t->rows[t->n++];
    r->model = copy[C_MODEL];
    r->benchmark = copy[C_BENCHMARK];
    r->task = copy[C_TASK];
    r->task_type = copy[C_TASK_TYPE];
    r->n_shot = src->n_shot;
    r->metric = copy[C_METRIC];
    r->performance = src->performance;
    r->std_err = src->std_err;
    r->extra = extra;
    return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

struct reader {
    const char *p;
    size_t len, pos;
    long line;            /* physical line at pos, 1-based */
    struct mill_buf text; /* the current record's fields, each NUL-terminated */
    size_t *off;          /* start of field i in text */
    size_t nf, cap;
    const char *name;
};

static int push_field(struct reader *r) {
    if (mill_grow(&r->off, &r->cap, r->nf, sizeof *r->off, 16))
        return MILL_ENOMEM;
    r->off[r->nf++] = r->text.n;
    return 0;
}

static int nul_error(struct reader *r, struct mill_err *err) {
    return mill_err_set(err, MILL_EFORMAT, "%s:%ld: NUL byte in the file", r->name, r->line);
}

/* Reads the next record. Returns 1 with the record in r->text/off/nf and its first line in
 * *start, 0 at the end of the data, or a negative MILL_E* code. Blank lines are skipped. */
static int read_record(struct reader *r, long *start, struct mill_err *err) {
    const char *p = r->p;
    while (r->pos < r->len && (p[r->pos] == '\n' || p[r->pos] == '\r')) {
        if (p[r->pos] == '\r' && r->pos + 1 < r->len && p[r->pos + 1] == '\n')
            r->pos++;
        r->pos++;
        r->line++;
    }
    if (r->pos >= r->len)
        return 0;
    *start = r->line;
    mill_buf_reset(&r->text);
    r->nf = 0;
    for (;;) {
        if (push_field(r) < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (r->pos < r->len && p[r->pos] == '"') {
            long open_line = r->line;
            r->pos++;
            for (;;) {
                size_t b = r->pos;
                while (r->pos < r->len && p[r->pos] != '"' && p[r->pos] != '\0') {
                    if (p[r->pos] == '\n' ||
                        (p[r->pos] == '\r' && (r->pos + 1 >= r->len || p[r->pos + 1] != '\n')))
                        r->line++;
                    r->pos++;
                }
                if (mill_buf_add(&r->text, p + b, r->pos - b) < 0)
                    return mill_err_set(err, MILL_ENOMEM, "out of memory");
                if (r->pos >= r->len)
                    return mill_err_set(err, MILL_EFORMAT, "%s:%ld: unterminated quoted field",
                                        r->name, open_line);
                if (p[r->pos] == '\0')
                    return nul_error(r, err);
                if (r->pos + 1 < r->len && p[r->pos + 1] == '"') { /* "" is one quote */
                    if (mill_buf_addc(&r->text, '"') < 0)
                        return mill_err_set(err, MILL_ENOMEM, "out of memory");
                    r->pos += 2;
                    continue;
                }
                r->pos++; /* the closing quote */
                break;
            }
            if (r->pos < r->len && p[r->pos] != ',' && p[r->pos] != '\n' && p[r->pos] != '\r')
                return mill_err_set(err, MILL_EFORMAT,
                                    "%s:%ld: unexpected text after a closing quote", r->name,
                                    r->line);
        } else {
            size_t b = r->pos;
            while (r->pos < r->len && p[r->pos] != ',' && p[r->pos] != '\n' && p[r->pos] != '\r' &&
                   p[r->pos] != '\0')
                r->pos++;
            if (r->pos < r->len && p[r->pos] == '\0')
                return nul_error(r, err);
            if (mill_buf_add(&r->text, p + b, r->pos - b) < 0)
                return mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        if (mill_buf_addc(&r->text, '\0') < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (r->pos >= r->len)
            return 1;
        char c = p[r->pos++];
        if (c == ',')
            continue;
        if (c == '\r' && r->pos < r->len && p[r->pos] == '\n')
            r->pos++;
        r->line++;
        return 1;
    }
}

static const char *field(const struct reader *r, size_t i) { return r->text.p + r->off[i]; }

static int bad_value(const struct reader *r, long line, int col, const char *what, const char *v,
                     struct mill_err *err) {
    return mill_err_set(err, MILL_EFORMAT, "%s:%ld: %s: %s: \"%.40s%s\"", r->name, line, canon[col],
                        what, v, strlen(v) > 40 ? "..." : "");
}

/* pandas' isspace_ascii */
static bool blank(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int parse_n_shot(const struct reader *r, long line, const char *v, int64_t *out,
                        struct mill_err *err) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10); /* blanks around it taken, as pandas' str_to_int64 */
    while (end != v && blank(*end))
        end++;
    if (end != v && *end == '\0' && errno == 0) {
        *out = x;
        return 0;
    }
    double d = strtod(v, &end); /* pandas writes an int column holding a NaN as "5.0" */
    while (end != v && blank(*end))
        end++;
    if (end != v && *end == '\0' && !strpbrk(v, "xX") && isfinite(d) && d == trunc(d) &&
        fabs(d) < 9.2e18) {
        *out = (int64_t)d;
        return 0;
    }
    return bad_value(r, line, C_N_SHOT, "not an integer", v, err);
}

/* pandas' default NA strings (STR_NA_VALUES), read as NaN by read_csv whatever the column */
static bool pandas_na(const char *v) {
    static const char *const na[] = {"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                     "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                     "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                     "None",     "n/a",  "nan",      "null",   NULL};
    for (const char *const *p = na; *p; p++)
        if (!strcmp(v, *p))
            return true;
    return false;
}

/* A number as pandas' float parser takes it (precise_xstrtod, then _try_double's infinities):
 * an NA string is NaN; digits with an optional point and exponent, blanks around them; an
 * infinity spelled inf or infinity (any case, a sign allowed, no blanks); nothing else (no hex,
 * no other NaN, nothing past the double range). */
static int parse_float(const struct reader *r, long line, int col, const char *v, double *out,
                       struct mill_err *err) {
    if (pandas_na(v)) {
        *out = NAN;
        return 0;
    }
    const char *t = v + (*v == '+' || *v == '-');
    if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity")) {
        *out = *v == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    const char *q = v;
    while (blank(*q))
        q++;
    q += *q == '+' || *q == '-';
    bool digits = (isdigit((unsigned char)*q) || (*q == '.' && isdigit((unsigned char)q[1]))) &&
                  !strpbrk(q, "xX");
    char *end;
    errno = 0;
    double d = digits ? strtod(v, &end) : 0.0;
    bool range = errno == ERANGE && isinf(d);
    while (digits && blank(*end))
        end++;
    if (!digits || range || *end != '\0')
        return bad_value(r, line, col, "not a number", v, err);
    *out = d;
    return 0;
}

static int parse_header(struct mill_aggregate_table *t, const struct reader *r, long line,
                        size_t *colmap, struct mill_err *err) {
    /* colmap[c] = field index of canonical column c; extra columns are the rest, in order */
    size_t none = (size_t)-1;
    for (int c = 0; c < N_CANON; c++)
        colmap[c] = none;
    t->extra_cols = calloc(r->nf, sizeof *t->extra_cols);
    if (!t->extra_cols)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nf; i++) {
        const char *h = field(r, i);
        int c = 0;
        while (c < N_CANON && strcmp(h, canon[c]) != 0)
            c++;
        int dup = c < N_CANON && colmap[c] != none;
        for (size_t j = 0; j < t->n_extra && !dup; j++)
            dup = strcmp(t->extra_cols[j], h) == 0;
        if (dup)
            return mill_err_set(err, MILL_EFORMAT, "%s:%ld: duplicate column \"%.60s\"", r->name,
                                line, h);
        if (c < N_CANON) {
            colmap[c] = i;
            continue;
        }
        t->extra_cols[t->n_extra] = strdup(h);
        if (!t->extra_cols[t->n_extra])
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        t->n_extra++;
    }
    for (int c = 0; c < N_CANON; c++) /* older files lack these: Mill reads them as empty */
        if (colmap[c] == none && c != C_BENCHMARK && c != C_TASK_TYPE && c != C_STDERR)
            return mill_err_set(err, MILL_EFORMAT, "%s:%ld: header lacks column \"%s\"", r->name,
                                line, canon[c]);
    return 0;
}

/* The field of canonical column c in the record, "" when the header lacks c. */
static const char *cell(const struct reader *r, const size_t *colmap, int c) {
    return colmap[c] == (size_t)-1 ? "" : field(r, colmap[c]);
}

int mill_aggregate_parse(struct mill_aggregate_table *t, const char *data, size_t len,
                         const char *name, struct mill_err *err) {
    struct reader r = {.p = data, .len = len, .line = 1, .name = name ? name : "aggregate.csv"};
    size_t colmap[N_CANON];
    const char **ex = NULL;
    long line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3; /* a UTF-8 BOM, as pandas accepts */
    int rc = read_record(&r, &line, err);
    if (rc <= 0)
        goto done; /* no bytes, or only blank lines: an empty table */
    if ((rc = parse_header(t, &r, line, colmap, err)) < 0)
        goto done;
    size_t ncols = r.nf;
    if (t->n_extra) {
        ex = malloc(t->n_extra * sizeof *ex);
        if (!ex) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            goto done;
        }
    }
    while ((rc = read_record(&r, &line, err)) > 0) {
        if (r.nf != ncols) {
            rc = mill_err_set(err, MILL_EFORMAT, "%s:%ld: expected %zu fields, found %zu", r.name,
                              line, ncols, r.nf);
            goto done;
        }
        struct mill_aggregate_row row = {
            .model = field(&r, colmap[C_MODEL]),
            .benchmark = cell(&r, colmap, C_BENCHMARK),
            .task = field(&r, colmap[C_TASK]),
            .task_type = cell(&r, colmap, C_TASK_TYPE),
            .metric = field(&r, colmap[C_METRIC]),
        };
        if ((rc = parse_n_shot(&r, line, field(&r, colmap[C_N_SHOT]), &row.n_shot, err)) < 0 ||
            (rc = parse_float(&r, line, C_PERF, field(&r, colmap[C_PERF]), &row.performance, err)) <
                0 ||
            (rc = parse_float(&r, line, C_STDERR, cell(&r, colmap, C_STDERR), &row.std_err, err)) <
                0)
            goto done;
        size_t k = 0;
        for (size_t i = 0; i < ncols; i++) {
            int canonical = 0;
            for (int c = 0; c < N_CANON && !canonical; c++)
                canonical = colmap[c] == i;
            if (!canonical)
                ex[k++] = field(&r, i);
        }
        if (table_add(t, &row, ex) < 0) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    free(ex);
    free(r.off);
    mill_buf_free(&r.text);
    if (rc < 0) {
        mill_aggregate_table_free(t);
        return rc;
    }
    return 0;
}

/* Reads the whole file; *data == NULL and 0 returned when it does not exist. */
static int slurp(const char *path, char **data, size_t *len, struct mill_err *err) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return mill_err_set(err, MILL_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    size_t n = 0, cap = 0;
    char *p = NULL;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                rc = mill_err_set(err, MILL_EFORMAT, "%s: larger than 1 GiB", path);
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            char *q = realloc(p, ncap);
            if (!q) {
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory reading %s", path);
                break;
            }
            p = q;
            cap = ncap;
        }
        ssize_t got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = mill_err_set(err, MILL_EIO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (rc < 0) {
        free(p);
        return rc;
    }
    if (!p) { /* an empty file must still read as existing */
        p = malloc(1);
        if (!p)
            return mill_err_set(err, MILL_ENOMEM, "out of memory reading %s", path);
    }
    *data = p;
    *len = n;
    return 0;
}

int mill_aggregate_read(struct mill_aggregate_table *t, const char *path, struct mill_err *err) {
    char *data;
    size_t len;
    int rc = slurp(path, &data, &len, err);
    if (rc < 0 || !data)
        return rc;
    rc = mill_aggregate_parse(t, data, len, path, err);
    free(data);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

static int put_field(struct mill_buf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n"))
        return mill_buf_adds(b, s);
    int rc = mill_buf_addc(b, '"');
    for (const char *q; rc == 0 && (q = strchr(s, '"')) != NULL; s = q + 1)
        rc = mill_buf_add(b, s, (size_t)(q - s + 1)) < 0 ? MILL_ENOMEM : mill_buf_addc(b, '"');
    if (rc == 0)
        rc = mill_buf_adds(b, s);
    if (rc == 0)
        rc = mill_buf_addc(b, '"');
    return rc < 0 ? MILL_ENOMEM : 0;
}

static int put_num(struct mill_buf *b, double x) {
    if (isnan(x))
        return 0; /* pandas' na_rep */
    return mill_buf_add_pyfloat(b, mill_round(x, 4)) < 0 ? MILL_ENOMEM : 0;
}

static int put_header(struct mill_buf *b, char *const *extra_cols, size_t n_extra) {
    int rc = 0;
    for (int c = 0; c < N_CANON && rc == 0; c++)
        rc = (c ? mill_buf_addc(b, ',') : 0) < 0 ? MILL_ENOMEM : mill_buf_adds(b, canon[c]);
    for (size_t i = 0; i < n_extra && rc == 0; i++)
        rc = mill_buf_addc(b, ',') < 0 ? MILL_ENOMEM : put_field(b, extra_cols[i]);
    if (rc == 0)
        rc = mill_buf_addc(b, '\n');
    return rc < 0 ? MILL_ENOMEM : 0;
}

static int put_row(struct mill_buf *b, const struct mill_aggregate_row *r, size_t n_extra) {
    int rc = 0;
    const char *s[] = {nz(r->model), nz(r->benchmark), nz(r->task), nz(r->task_type)};
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = (i ? mill_buf_addc(b, ',') : 0) < 0 ? MILL_ENOMEM : put_field(b, s[i]);
    if (rc == 0)
        rc = mill_buf_addf(b, ",%lld,", (long long)r->n_shot);
    if (rc == 0)
        rc = put_field(b, nz(r->metric));
    if (rc == 0)
        rc = mill_buf_addc(b, ',');
    if (rc == 0)
        rc = put_num(b, r->performance);
    if (rc == 0)
        rc = mill_buf_addc(b, ',');
    if (rc == 0)
        rc = put_num(b, r->std_err);
    for (size_t i = 0; i < n_extra && rc == 0; i++)
        rc = mill_buf_addc(b, ',') < 0 ? MILL_ENOMEM : put_field(b, r->extra ? r->extra[i] : "");
    if (rc == 0)
        rc = mill_buf_addc(b, '\n');
    return rc < 0 ? MILL_ENOMEM : 0;
}

int mill_aggregate_write(const struct mill_aggregate_table *t, struct mill_buf *out) {
    int rc = put_header(out, t->extra_cols, t->n_extra);
    for (size_t i = 0; i < t->n && rc == 0; i++)
        rc = put_row(out, &t->rows[i], t->n_extra);
    return rc;
}

/* ---- upsert --------------------------------------------------------------------------------- */

static int same_key(const struct mill_aggregate_row *a, const struct mill_aggregate_row *b) {
    return a->n_shot == b->n_shot && strcmp(nz(a->model), nz(b->model)) == 0 &&
           strcmp(nz(a->task), nz(b->task)) == 0 && strcmp(nz(a->metric), nz(b->metric)) == 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Best effort: makes the rename itself durable. */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Removes "<path>.tmp.<pid>" files. Called under the lock, when no other upsert is writing one:
 * any such file is the leftover of a writer killed between writing and renaming it. */
static void remove_stale_tmp(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, base, n) && !strncmp(e->d_name + n, ".tmp.", 5) &&
            e->d_name[n + 5] &&
            strspn(e->d_name + n + 5, "0123456789") == strlen(e->d_name + n + 5))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    free(dir);
}

/* Writes data to tmp, fsyncs, renames over path (mode copied from path when it exists). */
static int replace_file(const char *path, const char *tmp, const struct mill_buf *data,
                        struct mill_err *err) {
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mill_err_set(err, MILL_EIO,
                            "cannot update %s (left unchanged): cannot create %s: %s", path, tmp,
                            strerror(errno));
    if (mode != 0644)
        (void)fchmod(fd, mode);
    if (write_all(fd, data->p ? data->p : "", data->n) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return mill_err_set(err, MILL_EIO, "cannot update %s (left unchanged): cannot write %s: %s",
                            path, tmp, strerror(e));
    }
    if (close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return mill_err_set(err, MILL_EIO, "cannot update %s (left unchanged): cannot write %s: %s",
                            path, tmp, strerror(e));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return mill_err_set(err, MILL_EIO,
                            "cannot update %s (left unchanged): cannot rename %s: %s", path, tmp,
                            strerror(e));
    }
    sync_dir(path);
    return 0;
}

int mill_aggregate_upsert(const char *path, const struct mill_aggregate_row *rows, size_t n,
                          struct mill_err *err) {
    if (!path || (n && !rows))
        return mill_err_set(err, MILL_EINVAL, "aggregate upsert: no path or rows");
    for (size_t i = 0; i < n; i++)
        if (!rows[i].model || !rows[i].task || !rows[i].metric)
            return mill_err_set(err, MILL_EINVAL,
                                "aggregate upsert: row %zu lacks model, task "
                                "or metric",
                                i);
    if (n == 0)
        return 0;

    struct mill_buf lock_path = {0}, tmp_path = {0}, out = {0};
    struct mill_aggregate_table t;
    mill_aggregate_table_init(&t);
    int fd = -1, rc;
    if (mill_buf_addf(&lock_path, "%s.lock", path) < 0 ||
        mill_buf_addf(&tmp_path, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        goto done;
    }
    /* as the job locks: the umask decides who shares it; read-only is enough for flock */
    fd = open(lock_path.p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EACCES)
        fd = open(lock_path.p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = mill_err_set(err, MILL_EIO, "cannot update %s (left unchanged): cannot open %s: %s",
                          path, lock_path.p, strerror(errno));
        goto done;
    }
    while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rc = mill_err_set(err, MILL_ELOCK, "cannot lock %s: %s", lock_path.p, strerror(errno));
        goto done;
    }
    if ((rc = mill_aggregate_read(&t, path, err)) < 0)
        goto done;       /* corrupt or unreadable: leave it as it is */
    bool change = false; /* an addition, or a deletion that matches a row */
    for (size_t i = 0; i < n && !change; i++) {
        change = !rows[i].remove;
        for (size_t k = 0; k < t.n && !change; k++)
            change = same_key(&t.rows[k], &rows[i]);
    }
    if (!change) {
        rc = 0;
        goto done;
    }
    remove_stale_tmp(path);

    rc = put_header(&out, t.extra_cols, t.n_extra);
    for (size_t i = 0; i < t.n && rc == 0; i++) {
        size_t j = 0;
        while (j < n && !same_key(&t.rows[i], &rows[j]))
            j++;
        if (j == n)
            rc = put_row(&out, &t.rows[i], t.n_extra);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t j = i + 1;
        while (j < n && !same_key(&rows[i], &rows[j]))
            j++;
        if (j == n && !rows[i].remove) { /* no later new row replaces it; its extra values
                                           * are not the file's */
            struct mill_aggregate_row r = rows[i];
            r.extra = NULL;
            rc = put_row(&out, &r, t.n_extra);
        }
    }
    if (rc < 0) {
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        goto done;
    }
    rc = replace_file(path, tmp_path.p, &out, err);
done:
    if (fd >= 0)
        close(fd); /* releases the flock */
    mill_aggregate_table_free(&t);
    mill_buf_free(&out);
    mill_buf_free(&tmp_path);
    mill_buf_free(&lock_path);
    return rc;
}

/* ---- formulas ------------------------------------------------------------------------------- */

int mill_aggregate_leaf(const double *x, size_t n, double *performance, double *std_err) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !isnan(x[i]);
    /* pandas' nanmean and nanvar (ddof=1): each NaN a 0.0 in place, the whole array summed
     * pairwise and divided by the count of values; the squared deviations likewise, 0.0 at the
     * NaNs. (Without NaNs: numpy's mean and two-pass std.) */
    double *z = malloc((n ? n : 1) * sizeof *z);
    if (!z)
        return MILL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        z[i] = isnan(x[i]) ? 0.0 : x[i];
    double mean = k ? mill_sum(z, n) / (double)k : NAN;
    for (size_t i = 0; i < n; i++)
        z[i] = isnan(x[i]) ? 0.0 : (mean - x[i]) * (mean - x[i]);
    double sd = k >= 2 ? sqrt(mill_sum(z, n) / (double)(k - 1)) : NAN;
    free(z);
    /* Python Mill's _stderr_of_mean: that std over the square root of every value's count,
     * NaNs included; 0.0 where the std is NaN (fewer than two values, an infinity) or n < 2. */
    *performance = mill_round(mean, 4);
    *std_err = mill_round(n < 2 || isnan(sd) ? 0.0 : sd / sqrt((double)n), 4);
    return 0;
}

int mill_aggregate_rollup(const double *perf, const int64_t *counts, size_t k, double *performance,
                          double *std_err) {
    if (k == 0)
        return MILL_EINVAL;
    /* Python Mill's aggregate_group: sum(perf) / len, or sum(v * c) / sum(counts), with
     * Python's sum(). */
    double *pw = malloc(k * sizeof *pw), mean, wsum = 0.0;
    if (!pw)
        return MILL_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        if (counts && counts[i] < 0) {
            free(pw);
            return MILL_EINVAL;
        }
        pw[i] = counts ? perf[i] * (double)counts[i] : perf[i];
        wsum += counts ? (double)counts[i] : 1.0;
    }
    mean = mill_fsum(pw, k) / wsum;
    free(pw);
    if (wsum == 0.0)
        return MILL_EINVAL;
    *performance = mill_round(mean, 4);
    double se = mill_sem(perf, k); /* _stderr_of_mean: 0.0 for a NaN std (an infinity) */
    *std_err = mill_round(isnan(se) ? 0.0 : se, 4);
    return 0;
}
