/* csv.c: the CSV reader: a file read as Hugging Face `datasets` reads one (its Csv builder:
 * pandas.read_csv with pandas 2's defaults, then pyarrow's from_pandas), on Debian's libcsv.
 *
 * - The first row names the columns: an empty name is "Unnamed: <i>", a repeated one gets
 *   ".1", ".2", ... (pandas' de-duplication). Blank lines are skipped; quoted fields may hold
 *   the delimiter, quotes ("" for one) and newlines; a UTF-8 BOM is dropped; text that is not
 *   UTF-8 is an error naming the row, as Python's strict decoding is.
 * - A field that is one of pandas' NA strings ("", "NA", "N/A", "NaN", "nan", "null", "NULL",
 *   "None", "<NA>", "#N/A", ...) is missing: NULL, as pyarrow makes pandas' NaN.
 * - Each column's type is inferred over the whole file, as pandas does over a chunk: int64
 *   when every present field is an integer (blanks around it allowed) and none is missing;
 *   float when every present field is a number (an integer column with a missing field too:
 *   its values become floats, as in pandas); bool when every present field is True/False
 *   (three spellings each); else strings, kept as written.
 * - A row with more fields than the header is an error naming it (pandas would take extra
 *   leading fields for an index); a shorter row is padded with missing values.
 * Two passes over the file (types, then rows) keep memory flat. Errors name the file and the
 * row (records, counting the header as row 1). */
#include "data/csv.h"
#include "data/reader.h"

#include "core/text.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most columns a file may have (a bound on hostile headers). */
#define MAX_COLS 65536

/* pandas 2's default NA strings (pandas 1 lacks "None"). */
static const char *const NA_STRINGS[] = {
    "",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A",  "NA",       "NULL", "NaN",     "None",     "n/a",  "nan",  "null"};

enum col_type { T_NULL, T_INT, T_FLOAT, T_BOOL, T_STR };

struct col {
    char *name;
    bool present, missing; /* some field present, some missing */
    bool may_int, may_num, may_bool;
    bool overflow; /* pandas' int64 scan stopped at an integer outside int64 */
    enum col_type type;
};

/* One row being assembled by libcsv's callbacks, and the rows completed from the last chunk. */
struct csv_reader {
    FILE *f;
    bool own_f;
    char *name; /* the path, for messages */
    struct csv_parser p;
    bool p_live;
    int pass; /* 1: the header and the types; 2: the rows */
    struct col *cols;
    size_t n_cols;
    const char *const *columns; /* the projection (borrowed), NULL = all */
    size_t row;                 /* records seen, the header included */
    size_t field;               /* fields of the current record so far */
    struct mill_buf first;      /* its first field, until the second comes (on_field) */
    struct mill_value cur;      /* pass 2: the record being built */
    struct mill_value *ready;   /* pass 2: completed records, oldest first */
    size_t n_ready, head, cap_ready;
    bool eof;
    int rc; /* the first error a callback met */
    struct mill_err *err;
};

/* ---- fields ---------------------------------------------------------------------------- */

static bool is_na(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof NA_STRINGS / sizeof NA_STRINGS[0]; i++)
        if (strlen(NA_STRINGS[i]) == n && !memcmp(NA_STRINGS[i], s, n))
            return true;
    return false;
}

static bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* s[0..n) without the blanks pandas' number parsers skip at either end. */
static void trim(const char **s, size_t *n) {
    while (*n && blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && blank((*s)[*n - 1]))
        (*n)--;
}

enum int_parse { NOT_INT, IS_INT, INT_OVERFLOW };

/* pandas' str_to_int64: blanks, a sign, digits, blanks; INT_OVERFLOW for an integer outside
 * int64 (pandas then reads the column as uint64 when it can, else as strings). */
static enum int_parse parse_int(const char *s, size_t n, int64_t *out) {
    trim(&s, &n);
    size_t i = n && (s[0] == '+' || s[0] == '-');
    if (i == n)
        return NOT_INT;
    bool neg = s[0] == '-', over = false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NOT_INT;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (over)
        return INT_OVERFLOW;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return IS_INT;
}

/* 10^0 .. 10^308, each the double nearest, built once from correctly rounded literals. */
static double pow10s[309];
static pthread_once_t pow10s_once = PTHREAD_ONCE_INIT;

static void pow10s_init(void) {
    char lit[8];
    for (int i = 0; i <= 308; i++) {
        snprintf(lit, sizeof lit, "1e%d", i);
        pow10s[i] = mill_strtod_c(lit, NULL);
    }
}

static double pow10_table(int k) {
    pthread_once(&pow10s_once, pow10s_init);
    return pow10s[k];
}

static bool space_ascii(char c) { return blank(c); }

/* pandas' precise_xstrtod, step for step (its default float converter, which is not correctly
 * rounded: at most 17 significant digits are kept, the rest only shift the exponent, and the
 * scaling is one multiplication or division by a power of ten). False where pandas fails: no
 * digit, an exponent past 308 or a result that overflows, or text after the number. */
static bool precise_xstrtod(const char *p, double *out) {
    while (space_ascii(*p))
        p++;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    double number = 0.;
    int exponent = 0, num_digits = 0, num_decimals = 0;
    const int max_digits = 17;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (num_digits < max_digits) {
            number = number * 10. + (*p - '0');
            num_digits++;
        } else if (exponent < 100000) {
            ++exponent;
        }
    }
    if (*p == '.') {
        p++;
        while (num_digits < max_digits && *p >= '0' && *p <= '9') {
            number = number * 10. + (*p - '0');
            p++;
            num_digits++;
            num_decimals++;
        }
        if (num_digits >= max_digits)
            while (*p >= '0' && *p <= '9')
                p++;
        exponent -= num_decimals;
    }
    if (num_digits == 0)
        return false;
    if (negative)
        number = -number;
    if (*p == 'e' || *p == 'E') {
        const char *e = p++;
        bool neg_exp = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        int n = 0;
        const char *digits = p;
        for (; *p >= '0' && *p <= '9'; p++)
            n = n < 100000 ? n * 10 + (*p - '0') : n;
        exponent += neg_exp ? -n : n;
        if (p == digits) /* no digits after the 'e': pandas gives it back */
            p = e;
    }
    if (exponent > 308)
        return false;
    if (exponent > 0)
        number *= pow10_table(exponent);
    else if (exponent < -308)
        number = exponent < -616 ? 0. : number / pow10_table(-308 - exponent) / pow10_table(308);
    else
        number /= pow10_table(-exponent);
    if (number == HUGE_VAL || number == -HUGE_VAL)
        return false;
    while (space_ascii(*p))
        p++;
    *out = number;
    return *p == 0;
}

/* pandas' float conversion (_try_double): precise_xstrtod over the whole field, else inf or
 * infinity in any case, signed, as the whole field. */
static bool parse_num(const char *s, size_t n, double *out) {
    char small[128], *buf = n < sizeof small ? small : malloc(n + 1);
    bool ok = false;
    if (buf && !memchr(s, 0, n)) {
        memcpy(buf, s, n);
        buf[n] = 0;
        ok = precise_xstrtod(buf, out);
    }
    if (buf != small)
        free(buf);
    if (ok)
        return true;
    size_t sign = n && (s[0] == '+' || s[0] == '-');
    if ((n - sign == 3 && !strncasecmp(s + sign, "inf", 3)) ||
        (n - sign == 8 && !strncasecmp(s + sign, "infinity", 8))) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    return false;
}

static bool parse_bool(const char *s, size_t n, bool *out) {
    static const char *const T[] = {"True", "TRUE", "true"}, *const F[] = {"False", "FALSE",
                                                                           "false"};
    for (int i = 0; i < 3; i++) {
        if (strlen(T[i]) == n && !memcmp(T[i], s, n))
            return *out = true, true;
        if (strlen(F[i]) == n && !memcmp(F[i], s, n))
            return !(*out = false);
    }
    return false;
}

/* ---- pass 1: the header and the types --------------------------------------------------- */

static int fail(struct csv_reader *r, int code, const char *fmt, const char *what) {
    if (!r->rc)
        r->rc = mill_err_set(r->err, code, fmt, r->name, r->row + 1, what);
    return r->rc;
}

static bool valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = mill_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* A header field: its column, named as pandas names it (dedup() runs once the row is in). */
static void header_field(struct csv_reader *r, const char *s, size_t n) {
    if (r->n_cols >= MAX_COLS) {
        fail(r, MILL_EFORMAT, "%s: row %zu: %s", "more than 65536 columns");
        return;
    }
    struct col *c = realloc(r->cols, (r->n_cols + 1) * sizeof *c);
    if (!c) {
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
        return;
    }
    r->cols = c;
    c += r->n_cols;
    *c = (struct col){.may_int = true, .may_num = true, .may_bool = true};
    struct mill_buf b = {0};
    if (n ? mill_buf_add(&b, s, n) : mill_buf_addf(&b, "Unnamed: %zu", r->n_cols))
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
    c->name = mill_buf_take(&b);
    mill_buf_free(&b);
    if (!c->name && !r->rc)
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
    r->n_cols++;
}

static bool name_taken(const struct csv_reader *r, size_t upto, const char *name) {
    for (size_t i = 0; i < upto; i++)
        if (!strcmp(r->cols[i].name, name))
            return true;
    return false;
}

/* pandas' C parser's de-duplication of column names: a repeated "a" becomes "a.<k>" for the
 * first k from its count on that no column of the header (as renamed so far) has. */
static void dedup(struct csv_reader *r) {
    size_t *count = calloc(r->n_cols ? r->n_cols : 1, sizeof *count); /* per first holder */
    if (!count) {
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
        return;
    }
    for (size_t i = 0; !r->rc && i < r->n_cols; i++) {
        size_t first = 0;
        while (first < i && strcmp(r->cols[first].name, r->cols[i].name))
            first++;
        if (first == i) {
            count[i] = 1;
            continue;
        }
        struct mill_buf b = {0};
        for (size_t k = count[first]++;; k = count[first]++) {
            mill_buf_reset(&b);
            if (mill_buf_addf(&b, "%s.%zu", r->cols[i].name, k)) {
                fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
                break;
            }
            if (!name_taken(r, r->n_cols, b.p))
                break;
        }
        if (!r->rc) {
            free(r->cols[i].name);
            r->cols[i].name = mill_buf_take(&b);
            count[i] = 1;
        }
        mill_buf_free(&b);
    }
    free(count);
}

/* A data field of pass 1: what its column may still be. */
static void infer_field(struct col *c, const char *s, size_t n) {
    if (is_na(s, n)) {
        c->missing = true;
        return;
    }
    c->present = true;
    int64_t i;
    double d;
    bool b;
    /* pandas scans a column as int64 in row order and stops at the first field that is not
     * one: at text, it tries float, then bool; at an integer outside int64, uint64 and else
     * strings (so the column is text here either way: we have no uint64) */
    enum int_parse ip = c->may_int ? parse_int(s, n, &i) : NOT_INT;
    if (ip != IS_INT && c->may_int) {
        c->may_int = false;
        c->overflow = ip == INT_OVERFLOW;
    }
    if (c->may_num && !parse_num(s, n, &d))
        c->may_num = false;
    if (c->may_bool && !parse_bool(s, n, &b))
        c->may_bool = false;
}

/* ---- pass 2: the rows -------------------------------------------------------------------- */

static int push_value(struct csv_reader *r, const struct col *c, const char *s, size_t n) {
    struct mill_value v;
    mill_value_null(&v);
    int64_t i;
    double d;
    bool b;
    if (is_na(s, n))
        ;
    else if (c->type == T_INT && parse_int(s, n, &i) == IS_INT)
        mill_value_int(&v, i);
    else if (c->type == T_FLOAT && parse_num(s, n, &d))
        mill_value_float(&v, d);
    else if (c->type == T_BOOL && parse_bool(s, n, &b))
        mill_value_bool(&v, b);
    else if (mill_value_str(&v, s, n))
        return MILL_ENOMEM;
    if (mill_value_struct_set(&r->cur, c->name, &v)) {
        mill_value_free(&v);
        return MILL_ENOMEM;
    }
    return 0;
}

static bool projected(const struct csv_reader *r, const char *name) {
    if (!r->columns)
        return true;
    for (size_t i = 0; r->columns[i]; i++)
        if (!strcmp(r->columns[i], name))
            return true;
    return false;
}

/* ---- libcsv's callbacks ------------------------------------------------------------------ */

/* Field k of the current record. */
static void take_field(struct csv_reader *r, size_t k, const char *s, size_t n) {
    if (r->rc)
        return;
    if (n && !valid_utf8(s, n)) {
        fail(r, MILL_EFORMAT, "%s: row %zu: %s", "a field that is not UTF-8 text");
        return;
    }
    if (r->row == 0) {
        if (r->pass == 1)
            header_field(r, s, n);
        return;
    }
    if (k >= r->n_cols) {
        if (k == r->n_cols) {
            char what[96];
            snprintf(what, sizeof what, "more fields than the %zu columns of the header",
                     r->n_cols);
            fail(r, MILL_EFORMAT, "%s: row %zu: %s", what);
        }
        return;
    }
    if (r->pass == 1)
        infer_field(&r->cols[k], s, n);
    else if (projected(r, r->cols[k].name) && push_value(r, &r->cols[k], s, n))
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
}

/* A record's first field waits for the second (or the record's end): a record that is one
 * field of blanks is a blank line to pandas, and skipped. */
static void on_field(void *s, size_t n, void *data) {
    struct csv_reader *r = data;
    size_t k = r->field++;
    if (r->rc)
        return;
    if (k == 1)
        take_field(r, 0, r->first.p ? r->first.p : "", r->first.n);
    if (k > 0) {
        take_field(r, k, s, n);
        return;
    }
    mill_buf_reset(&r->first);
    if (n && mill_buf_add(&r->first, s, n))
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
}

/* Whether the record so far is one field of spaces and tabs. */
static bool blank_record(const struct csv_reader *r) {
    if (r->field != 1 || !r->first.n)
        return false;
    for (size_t i = 0; i < r->first.n; i++)
        if (r->first.p[i] != ' ' && r->first.p[i] != '\t')
            return false;
    return true;
}

/* A row is complete: pass 1 counts it, pass 2 pads it and queues it. */
static void on_row(int c, void *data) {
    (void)c;
    struct csv_reader *r = data;
    if (blank_record(r)) {
        r->field = 0;
        return;
    }
    if (r->field == 1)
        take_field(r, 0, r->first.p ? r->first.p : "", r->first.n);
    if (!r->rc && r->row == 0 && r->pass == 1)
        dedup(r);
    if (!r->rc && r->row > 0) {
        for (size_t k = r->field; k < r->n_cols; k++) {
            if (r->pass == 1)
                r->cols[k].missing = true;
            else if (projected(r, r->cols[k].name) && push_value(r, &r->cols[k], "", 0))
                fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
        }
        if (!r->rc && r->pass == 2) {
            if (r->head + r->n_ready == r->cap_ready) {
                if (r->head) {
                    memmove(r->ready, r->ready + r->head, r->n_ready * sizeof *r->ready);
                    r->head = 0;
                } else {
                    size_t cap = r->cap_ready ? 2 * r->cap_ready : 16;
                    struct mill_value *g = realloc(r->ready, cap * sizeof *g);
                    if (!g) {
                        fail(r, MILL_ENOMEM, "%s: row %zu: %s", "out of memory");
                        return;
                    }
                    r->ready = g;
                    r->cap_ready = cap;
                }
            }
            r->ready[r->head + r->n_ready++] = r->cur;
            mill_value_struct(&r->cur);
        }
    }
    r->row++;
    r->field = 0;
}

/* ---- the file ---------------------------------------------------------------------------- */

static int no_space(unsigned char c) {
    (void)c;
    return 0; /* pandas keeps blanks around unquoted fields */
}

/* Starts a pass from the file's first byte (after a BOM). */
static int start_pass(struct csv_reader *r, int pass) {
    if (r->p_live)
        csv_free(&r->p);
    r->p_live = false;
    if (fseek(r->f, 0, SEEK_SET))
        return mill_err_set(r->err, MILL_EIO, "%s: cannot rewind: %s", r->name, strerror(errno));
    unsigned char bom[3];
    if (fread(bom, 1, 3, r->f) != 3 || memcmp(bom, "\xef\xbb\xbf", 3))
        rewind(r->f);
    if (csv_init(&r->p, CSV_APPEND_NULL))
        return mill_err_set(r->err, MILL_ENOMEM, "out of memory");
    r->p_live = true;
    csv_set_space_func(&r->p, no_space);
    r->pass = pass;
    r->row = r->field = 0;
    return 0;
}

/* Feeds the next chunk of the file to libcsv; at the end, finishes the last record. */
static int feed(struct csv_reader *r) {
    char buf[65536];
    size_t got = fread(buf, 1, sizeof buf, r->f);
    if (got && csv_parse(&r->p, buf, got, on_field, on_row, r) != got && !r->rc)
        fail(r, MILL_ENOMEM, "%s: row %zu: %s", csv_strerror(csv_error(&r->p)));
    if (!r->rc && got < sizeof buf) {
        if (ferror(r->f))
            return mill_err_set(r->err, MILL_EIO, "%s: read error: %s", r->name, strerror(errno));
        csv_fini(&r->p, on_field, on_row, r);
        r->eof = true;
    }
    return r->rc;
}

/* Pass 1 to the end: the header, then each column's type. */
static int infer(struct csv_reader *r) {
    int rc = start_pass(r, 1);
    while (!rc && !r->eof)
        rc = feed(r);
    if (!rc && r->row == 0)
        rc = mill_err_set(r->err, MILL_EFORMAT, "%s: no header row (an empty file)", r->name);
    for (size_t i = 0; !rc && i < r->n_cols; i++) {
        struct col *c = &r->cols[i];
        c->type = !c->present                 ? T_NULL
                  : c->overflow               ? T_STR /* pandas: uint64 or text */
                  : c->may_int && !c->missing ? T_INT
                  : c->may_int || c->may_num  ? T_FLOAT
                  : c->may_bool               ? T_BOOL
                                              : T_STR;
    }
    return rc;
}

int mill_csv_open_stream(FILE *f, bool own, const char *name, const char *const *columns,
                         struct mill_csv **out, struct mill_err *err) {
    struct csv_reader *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || !(r->name = strdup(name))) {
        free(r);
        if (own)
            fclose(f);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    r->f = f;
    r->own_f = own;
    r->columns = columns;
    r->err = err;
    mill_value_struct(&r->cur);
    int rc = infer(r);
    if (!rc && !(rc = start_pass(r, 2)))
        r->eof = false;
    if (rc) {
        mill_csv_close((struct mill_csv *)r);
        return rc;
    }
    *out = (struct mill_csv *)r;
    return 0;
}

int mill_csv_next(struct mill_csv *csv, struct mill_value *row, struct mill_err *err) {
    struct csv_reader *r = (struct csv_reader *)csv;
    r->err = err;
    while (!r->n_ready && !r->eof && !r->rc)
        feed(r);
    if (r->rc)
        return r->rc;
    if (!r->n_ready)
        return 0;
    *row = r->ready[r->head++];
    r->n_ready--;
    return 1;
}

void mill_csv_close(struct mill_csv *csv) {
    struct csv_reader *r = (struct csv_reader *)csv;
    if (!r)
        return;
    if (r->p_live)
        csv_free(&r->p);
    if (r->f && r->own_f)
        fclose(r->f);
    for (size_t i = 0; i < r->n_cols; i++)
        free(r->cols[i].name);
    free(r->cols);
    for (size_t i = 0; i < r->n_ready; i++)
        mill_value_free(&r->ready[r->head + i]);
    free(r->ready);
    mill_value_free(&r->cur);
    mill_buf_free(&r->first);
    free(r->name);
    free(r);
}

/* ---- the reader interface ---------------------------------------------------------------- */

static int csv_open(const char *path, const char *const *columns, void **state,
                    struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(errno));
    return mill_csv_open_stream(f, true, path, columns, (struct mill_csv **)state, err);
}

static int csv_next(void *state, struct mill_value *row, struct mill_err *err) {
    return mill_csv_next(state, row, err);
}

static void csv_close(void *state) { mill_csv_close(state); }

const struct mill_reader_ops mill_reader_csv = {"csv", csv_open, csv_next, csv_close};
