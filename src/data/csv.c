/* csv.c: the CSV reader: a file read as Hugging Face `datasets` reads one (its Csv builder:
 * pandas.read_csv with pandas 2's defaults, then pyarrow's from_pandas); a `.tsv` the same
 * with sep="\t", as `datasets` maps that extension.
 *
 * - Records and fields as pandas' C tokenizer makes them (its tokenize_bytes states, ported:
 *   a quote opens a quoted field only at a field's start, "" inside one is a quote, text after
 *   a closing quote joins the field, LF, CR and CRLF end records, blank lines and lines of
 *   spaces and tabs (spaces alone in a TSV) are skipped, a quote still open at the end of the file is an error). A field
 *   ends at its first NUL, as pandas' C strings do; a UTF-8 BOM at the start is dropped; text
 *   that is not UTF-8 (Python's strict decoder) is an error naming the row.
 * - The first record names the columns: an empty name is "Unnamed: <i>", repeated names get
 *   ".<k>", given names first, as pandas' C parser de-duplicates them.
 * - A field that is one of pandas 2's NA strings ("", "NA", "N/A", "NaN", "nan", "null",
 *   "NULL", "None", "<NA>", "#N/A", ...) is missing: NULL, as pyarrow makes pandas' NaN.
 * - Each column's type is inferred over the whole file as pandas infers it over a chunk (its
 *   int64 scan, then uint64 on an overflow, float, bool, text: infer_type); the values are
 *   then converted as pandas converts them.
 * - A record with more fields than the header is an error naming it (pandas would take the
 *   first such record's extra leading fields for an index); a shorter one is padded with
 *   missing values.
 * Two passes over the file (types, then rows) keep memory flat; a compressed file is read
 * through compress.h, decompressed again for the second pass. Errors name the file and the
 * record (the header is row 1). */
#include "data/csv.h"
#include "data/compress.h"
#include "data/reader.h"

#include "core/text.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most columns a file may have (a bound on hostile headers: de-duplication is quadratic). */
#define MAX_COLS 16384

/* pandas 2's default NA strings (pandas 1 lacks "None"). */
static const char *const NA_STRINGS[] = {
    "",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A",  "NA",       "NULL", "NaN",     "None",     "n/a",  "nan",  "null"};

/* T_INT_FLOAT: integers with missing fields, which pandas keeps as int64 then casts (exactly,
 * INT64_MIN being its NA sentinel); T_RAW: text whose NA strings stay text (pandas' fallback
 * when a uint64 column also holds signed or missing fields). */
enum col_type { T_NULL, T_INT, T_INT_FLOAT, T_FLOAT, T_BOOL, T_STR, T_RAW };

enum scan { SCAN_OK, SCAN_INVALID, SCAN_OVERFLOW };

struct col {
    char *name;
    bool unnamed;          /* its header field was empty */
    bool wanted;           /* named by the projection (set once the names are final) */
    bool present, missing; /* some field present, some missing */
    enum scan int_scan;    /* pandas' int64 scan, in row order: where it stopped */
    enum scan uint_scan;   /* its uint64 scan, likewise */
    bool seen_sint, seen_uint, seen_null; /* the uint64 scan's flags */
    bool may_num, may_bool;
    enum col_type type;
};

/* pandas' tokenizer states (tokenize_bytes), those its defaults reach. */
enum tok_state {
    START_RECORD,
    START_FIELD,
    IN_FIELD,
    IN_QUOTED_FIELD,
    QUOTE_IN_QUOTED_FIELD,
    EAT_CRNL,
    EAT_CRNL_NOP,
    WHITESPACE_LINE,
};

struct csv_reader {
    FILE *f;
    bool own_f;
    char *name; /* the path, for messages */
    int pass;   /* 1: the header and the types; 2: the rows */
    struct col *cols;
    size_t n_cols;
    const char *const *columns; /* the projection (borrowed), NULL = all */
    /* the tokenizer */
    char delim; /* ',' or '\t' */
    enum tok_state st;
    struct mill_buf field;  /* the field being read */
    struct mill_buf blanks; /* WHITESPACE_LINE: the blanks read so far, to give back */
    bool comma_eaten;       /* the line began with a delimiter EAT_CRNL_NOP ate */
    size_t row;             /* records ended, the header included */
    size_t quote_row;       /* where the open quoted field started */
    size_t n_fields;        /* fields of the current record so far */
    /* pass 2's rows */
    struct mill_value cur;    /* the record being built */
    struct mill_value *ready; /* completed records, oldest first */
    size_t n_ready, head, cap_ready;
    bool eof;
    int rc;                /* the first error met: the reader cannot go on */
    struct mill_err saved; /* and its message */
    struct mill_err *err;  /* the caller's, of the current call */
};

/* ---- fields ---------------------------------------------------------------------------- */

static bool is_na(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof NA_STRINGS / sizeof NA_STRINGS[0]; i++)
        if (strlen(NA_STRINGS[i]) == n && !memcmp(NA_STRINGS[i], s, n))
            return true;
    return false;
}

/* pandas' isspace_ascii. */
static bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The digits at s[i..n) into *v, then blanks to the end: SCAN_OVERFLOW as soon as *v would
 * pass lim (whatever follows), SCAN_INVALID without a digit or with other text after. */
static enum scan scan_digits(const char *s, size_t n, size_t i, uint64_t lim, uint64_t *v) {
    if (i == n || s[i] < '0' || s[i] > '9')
        return SCAN_INVALID;
    for (*v = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (*v > (lim - d) / 10)
            return SCAN_OVERFLOW;
        *v = *v * 10 + d;
    }
    while (i < n && blank(s[i]))
        i++;
    return i < n ? SCAN_INVALID : SCAN_OK;
}

/* pandas' str_to_int64: blanks, a sign, digits, blanks. */
static enum scan parse_int(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    while (i < n && blank(s[i]))
        i++;
    bool neg = i < n && s[i] == '-';
    i += i < n && (s[i] == '-' || s[i] == '+');
    uint64_t v;
    enum scan sc = scan_digits(s, n, i, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v);
    if (sc == SCAN_OK)
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return sc;
}

/* pandas' str_to_uint64 in its uint64 scan: a field starting with '-' only marks the column
 * signed; else blanks, '+', digits (past uint64: SCAN_OVERFLOW), blanks; *above when the value
 * is past int64. */
static enum scan parse_uint(const char *s, size_t n, bool *sint, bool *above) {
    size_t i = 0;
    while (i < n && blank(s[i]))
        i++;
    if (i < n && s[i] == '-') {
        *sint = true;
        return SCAN_OK;
    }
    i += i < n && s[i] == '+';
    uint64_t v;
    enum scan sc = scan_digits(s, n, i, UINT64_MAX, &v);
    if (sc == SCAN_OK)
        *above |= v > (uint64_t)INT64_MAX;
    return sc;
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
 * scaling is one multiplication or division by a power of ten; the exponent's digits, at most
 * 17, accumulate in an int that wraps). False where pandas fails: no digit, an exponent past
 * 308 or a result that overflows, or text after the number. */
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
        uint32_t n = 0; /* pandas' int, which wraps; at most 17 digits read */
        const char *digits = p;
        for (int k = 0; k < 17 && *p >= '0' && *p <= '9'; p++, k++)
            n = n * 10u + (uint32_t)(*p - '0');
        int32_t e32 = (int32_t)n;
        exponent = neg_exp ? (int)((uint32_t)exponent - (uint32_t)e32)
                           : (int)((uint32_t)exponent + (uint32_t)e32);
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

/* pandas' to_boolean: "true" or "false" in any case. */
static bool parse_bool(const char *s, size_t n, bool *out) {
    if (n == 4 && !strncasecmp(s, "true", 4))
        return *out = true, true;
    if (n == 5 && !strncasecmp(s, "false", 5))
        return !(*out = false);
    return false;
}

/* ---- the header ----------------------------------------------------------------------------- */

/* Records the reader's first error (the message names the file) and gives it to the caller. */
static int error_at(struct csv_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int error_at(struct csv_reader *r, int code, const char *fmt, ...) {
    if (!r->rc) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->saved.msg, sizeof r->saved.msg, fmt, ap);
        va_end(ap);
        r->saved.code = r->rc = code;
        if (r->err)
            *r->err = r->saved;
    }
    return r->rc;
}

static int fail(struct csv_reader *r, int code, size_t row, const char *what) {
    return error_at(r, code, "%s: row %zu: %s", r->name, row, what);
}

static int oom(struct csv_reader *r) { return fail(r, MILL_ENOMEM, r->row + 1, "out of memory"); }

/* A header field: its column, "Unnamed: <i>" when empty (dedup() runs once the row is in). */
static void header_field(struct csv_reader *r, const char *s, size_t n) {
    if (r->n_cols >= MAX_COLS) {
        fail(r, MILL_EFORMAT, 1, "more than 16384 columns");
        return;
    }
    struct col *c = realloc(r->cols, (r->n_cols + 1) * sizeof *c);
    if (!c) {
        oom(r);
        return;
    }
    r->cols = c;
    c += r->n_cols;
    *c = (struct col){.unnamed = n == 0, .may_num = true, .may_bool = true};
    struct mill_buf b = {0};
    if (n ? mill_buf_add(&b, s, n) : mill_buf_addf(&b, "Unnamed: %zu", r->n_cols))
        oom(r);
    c->name = mill_buf_take(&b);
    mill_buf_free(&b);
    if (!c->name && !r->rc)
        oom(r);
    r->n_cols++;
}

static bool in_header(const struct csv_reader *r, const char *name) {
    for (size_t i = 0; i < r->n_cols; i++)
        if (r->cols[i].name && !strcmp(r->cols[i].name, name))
            return true;
    return false;
}

/* pandas' counts dict of its de-duplication: name -> count. */
struct counts {
    char **names;
    size_t *n, len;
};

static size_t count_of(const struct counts *c, const char *name) {
    for (size_t i = 0; i < c->len; i++)
        if (!strcmp(c->names[i], name))
            return c->n[i];
    return 0;
}

static int set_count(struct counts *c, const char *name, size_t v) {
    for (size_t i = 0; i < c->len; i++)
        if (!strcmp(c->names[i], name))
            return c->n[i] = v, 0;
    char **names = realloc(c->names, (c->len + 1) * sizeof *names);
    if (names)
        c->names = names;
    size_t *n = names ? realloc(c->n, (c->len + 1) * sizeof *n) : NULL;
    if (n)
        c->n = n;
    if (!names || !n || !(c->names[c->len] = strdup(name)))
        return MILL_ENOMEM;
    c->n[c->len++] = v;
    return 0;
}

/* Column i's name as pandas' loop renames it: a name seen k times before becomes "<name>.<k>",
 * k counting on past names the header holds. */
static int dedup_one(struct csv_reader *r, struct counts *counts, size_t i) {
    const char *old = r->cols[i].name;
    size_t cur = count_of(counts, old);
    struct mill_buf b = {0};
    while (cur > 0) {
        if (set_count(counts, old, cur + 1))
            return MILL_ENOMEM;
        mill_buf_reset(&b);
        if (mill_buf_addf(&b, "%s.%zu", old, cur))
            return MILL_ENOMEM;
        cur = in_header(r, b.p) ? cur + 1 : count_of(counts, b.p);
    }
    if (b.p) {
        free(r->cols[i].name);
        r->cols[i].name = mill_buf_take(&b);
    }
    mill_buf_free(&b);
    return set_count(counts, r->cols[i].name, cur + 1);
}

/* pandas' C parser's de-duplication of the header: the given names first, then the unnamed. */
static void dedup(struct csv_reader *r) {
    struct counts counts = {0};
    int rc = 0;
    for (int unnamed = 0; !rc && unnamed < 2; unnamed++)
        for (size_t i = 0; !rc && i < r->n_cols; i++)
            if (r->cols[i].unnamed == (unnamed == 1))
                rc = dedup_one(r, &counts, i);
    for (size_t i = 0; i < counts.len; i++)
        free(counts.names[i]);
    free(counts.names);
    free(counts.n);
    if (rc)
        oom(r);
}

/* ---- pass 1: the types ---------------------------------------------------------------------- */

/* A data field of pass 1: how pandas' scans of its column go on. */
static void infer_field(struct col *c, const char *s, size_t n) {
    bool na = is_na(s, n);
    int64_t i;
    double d;
    bool b;
    if (c->uint_scan == SCAN_OK) {
        if (na)
            c->seen_null = true;
        else
            c->uint_scan = parse_uint(s, n, &c->seen_sint, &c->seen_uint);
    }
    if (na) {
        c->missing = true;
        return;
    }
    c->present = true;
    if (c->int_scan == SCAN_OK)
        c->int_scan = parse_int(s, n, &i);
    if (c->may_num && !parse_num(s, n, &d))
        c->may_num = false;
    if (c->may_bool && !parse_bool(s, n, &b))
        c->may_bool = false;
}

/* The column's type, as pandas' _convert_tokens settles it: int64 unless its scan stopped
 * (with missing fields, cast to float); at an overflow the uint64 scan decides (uint64, which
 * we give as text, or text, or raw text, or on to float); float; bool; text. */
static enum col_type infer_type(const struct col *c) {
    if (!c->present)
        return T_NULL;
    if (c->int_scan == SCAN_OK)
        return c->missing ? T_INT_FLOAT : T_INT;
    if (c->int_scan == SCAN_OVERFLOW && c->uint_scan != SCAN_INVALID) {
        if (c->uint_scan == SCAN_OK && c->seen_uint && (c->seen_sint || c->seen_null))
            return T_RAW;
        return T_STR;
    }
    return c->may_num ? T_FLOAT : c->may_bool ? T_BOOL : T_STR;
}

/* ---- pass 2: the rows ------------------------------------------------------------------------- */

static int push_value(struct csv_reader *r, const struct col *c, const char *s, size_t n) {
    struct mill_value v;
    mill_value_null(&v);
    int64_t i;
    double d;
    bool b;
    if (c->type != T_RAW && is_na(s, n))
        ;
    else if (c->type == T_INT && parse_int(s, n, &i) == SCAN_OK)
        mill_value_int(&v, i);
    else if (c->type == T_INT_FLOAT && parse_int(s, n, &i) == SCAN_OK) {
        if (i != INT64_MIN)
            mill_value_float(&v, (double)i);
    } else if (c->type == T_FLOAT && parse_num(s, n, &d))
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

/* ---- records ---------------------------------------------------------------------------------- */

/* A field of the current record, complete (pandas' END_FIELD): up to its first NUL. */
static void end_field(struct csv_reader *r) {
    size_t k = r->n_fields++;
    const char *s = r->field.p ? r->field.p : "";
    size_t n = strnlen(s, r->field.n);
    r->field.n = 0;
    if (r->rc)
        return;
    if (!mill_utf8_valid(s, n)) {
        fail(r, MILL_EFORMAT, r->row + 1, "a field that is not UTF-8 text");
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
            fail(r, MILL_EFORMAT, r->row + 1, what);
        }
        return;
    }
    if (r->pass == 1)
        infer_field(&r->cols[k], s, n);
    else if (r->cols[k].wanted && push_value(r, &r->cols[k], s, n))
        oom(r);
}

/* Queues pass 2's completed record. */
static void queue_row(struct csv_reader *r) {
    if (r->head + r->n_ready == r->cap_ready) {
        if (r->head) {
            memmove(r->ready, r->ready + r->head, r->n_ready * sizeof *r->ready);
            r->head = 0;
        } else {
            size_t cap = r->cap_ready ? 2 * r->cap_ready : 16;
            struct mill_value *g = realloc(r->ready, cap * sizeof *g);
            if (!g) {
                oom(r);
                return;
            }
            r->ready = g;
            r->cap_ready = cap;
        }
    }
    r->ready[r->head + r->n_ready++] = r->cur;
    mill_value_struct(&r->cur);
}

/* The current record is complete (pandas' END_LINE): pass 1 counts it, pass 2 pads it with
 * missing values and queues it. */
static void end_line(struct csv_reader *r) {
    if (!r->rc && r->row == 0 && r->pass == 1) {
        dedup(r);
        for (size_t k = 0; k < r->n_cols; k++)
            r->cols[k].wanted = mill_reader_projected(r->columns, r->cols[k].name);
    }
    if (!r->rc && r->row > 0) {
        for (size_t k = r->n_fields; k < r->n_cols; k++) {
            if (r->pass == 1)
                infer_field(&r->cols[k], "", 0);
            else if (r->cols[k].wanted && push_value(r, &r->cols[k], "", 0))
                oom(r);
        }
        if (!r->rc && r->pass == 2)
            queue_row(r);
    }
    r->row++;
    r->n_fields = 0;
    r->st = START_RECORD;
}

static void push_char(struct csv_reader *r, char c) {
    if (!r->rc && mill_buf_addc(&r->field, c))
        oom(r);
}

/* A byte that ends the field: the delimiter (on to the next field), LF (and the record) or CR
 * (and the record, once the byte after it is seen); false for any other. */
static bool field_end(struct csv_reader *r, char c) {
    if (c != r->delim && c != '\n' && c != '\r')
        return false;
    end_field(r);
    if (c == '\n')
        end_line(r);
    else
        r->st = c == r->delim ? START_FIELD : EAT_CRNL;
    return true;
}

/* A blank that may make a line blank (pandas' isblank(c) && c != delimiter). */
static bool line_blank(const struct csv_reader *r, char c) {
    return (c == ' ' || c == '\t') && c != r->delim;
}

/* One byte through pandas' tokenizer (tokenize_bytes with its defaults but the delimiter:
 * quote '"', doublequote, no escape or comment, skip_blank_lines). */
static void tokenize(struct csv_reader *r, char c) {
    for (bool again = true; again;) {
        again = false;
        switch (r->st) {
        case WHITESPACE_LINE:
            if (c == '\n') {
                r->st = START_RECORD;
            } else if (c == '\r') {
                r->st = EAT_CRNL_NOP;
            } else if (line_blank(r, c)) {
                if (mill_buf_addc(&r->blanks, c))
                    oom(r);
            } else { /* not a blank line: read again from its start (pandas rewinds) */
                if (r->comma_eaten)
                    end_field(r); /* the delimiter EAT_CRNL_NOP took begins the line */
                if (mill_buf_add(&r->field, r->blanks.p, r->blanks.n))
                    oom(r);
                r->st = IN_FIELD;
                again = true;
            }
            break;
        case START_RECORD:
            r->comma_eaten = r->comma_eaten && line_blank(r, c);
            if (c == '\n') {
                break; /* a blank line */
            } else if (c == '\r') {
                r->st = EAT_CRNL_NOP;
                break;
            } else if (line_blank(r, c)) {
                r->st = WHITESPACE_LINE;
                mill_buf_reset(&r->blanks);
                if (mill_buf_addc(&r->blanks, c))
                    oom(r);
                break;
            }
            r->st = START_FIELD;
            /* fall through */
        case START_FIELD:
            if (c == '"') {
                r->st = IN_QUOTED_FIELD;
                r->quote_row = r->row + 1;
            } else if (!field_end(r, c)) {
                push_char(r, c);
                r->st = IN_FIELD;
            }
            break;
        case IN_FIELD:
            if (!field_end(r, c))
                push_char(r, c);
            break;
        case IN_QUOTED_FIELD:
            if (c == '"')
                r->st = QUOTE_IN_QUOTED_FIELD;
            else
                push_char(r, c);
            break;
        case QUOTE_IN_QUOTED_FIELD:
            if (c == '"') {
                push_char(r, c);
                r->st = IN_QUOTED_FIELD;
            } else if (!field_end(r, c)) { /* text after the closing quote joins the field */
                push_char(r, c);
                r->st = IN_FIELD;
            }
            break;
        case EAT_CRNL:
            if (c == '\n') {
                end_line(r);
            } else if (c ==
                       r->delim) { /* pandas' "\r-delimited files": a record begun, empty field */
                end_line(r);
                end_field(r);
                r->st = START_FIELD;
            } else {
                end_line(r);
                again = true;
            }
            break;
        case EAT_CRNL_NOP:
            r->st = START_RECORD;
            again = c != '\n' && c != r->delim; /* pandas eats a delimiter here too */
            r->comma_eaten = c == r->delim;
            break;
        }
    }
}

/* The end of the file (pandas' parser_handle_eof). */
static void tokenize_eof(struct csv_reader *r) {
    switch (r->st) {
    case START_RECORD:
    case WHITESPACE_LINE:
    case EAT_CRNL_NOP: return;
    case IN_QUOTED_FIELD: {
        char what[96];
        snprintf(what, sizeof what, "the file ends inside the quoted field this row opens");
        fail(r, MILL_EFORMAT, r->quote_row, what);
        return;
    }
    case IN_FIELD:
    case START_FIELD:
    case QUOTE_IN_QUOTED_FIELD: end_field(r); break;
    case EAT_CRNL: break;
    }
    end_line(r);
}

/* ---- the file ----------------------------------------------------------------------------- */

/* Starts a pass from the file's first byte (after a BOM). */
static int start_pass(struct csv_reader *r, int pass) {
    if (fseek(r->f, 0, SEEK_SET))
        return error_at(r, MILL_EIO, "%s: cannot rewind: %s", r->name, mill_data_read_error(errno));
    unsigned char bom[3];
    if ((fread(bom, 1, 3, r->f) != 3 || memcmp(bom, "\xef\xbb\xbf", 3)) && fseek(r->f, 0, SEEK_SET))
        return error_at(r, MILL_EIO, "%s: cannot rewind: %s", r->name, mill_data_read_error(errno));
    r->pass = pass;
    r->row = r->n_fields = 0;
    r->st = START_RECORD;
    r->field.n = 0;
    r->comma_eaten = false;
    r->eof = false;
    return 0;
}

/* Feeds the next chunk of the file to the tokenizer; at the end, finishes the last record. */
static int feed(struct csv_reader *r) {
    char buf[65536];
    size_t got = fread(buf, 1, sizeof buf, r->f);
    for (size_t i = 0; i < got && !r->rc; i++)
        tokenize(r, buf[i]);
    if (!r->rc && got < sizeof buf) {
        if (ferror(r->f))
            return error_at(r, MILL_EIO, "%s: read error: %s", r->name,
                            mill_data_read_error(errno));
        tokenize_eof(r);
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
        rc = error_at(r, MILL_EFORMAT, "%s: no header row (an empty file)", r->name);
    for (size_t i = 0; !rc && i < r->n_cols; i++)
        r->cols[i].type = infer_type(&r->cols[i]);
    return rc;
}

int mill_csv_open_stream(FILE *f, bool own, const char *name, char delim,
                         const char *const *columns, struct mill_csv **out, struct mill_err *err) {
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
    r->delim = delim;
    r->columns = columns;
    r->err = err;
    mill_value_struct(&r->cur);
    int rc = infer(r);
    if (!rc)
        rc = start_pass(r, 2);
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
    if (r->rc) { /* an error stays: the reader cannot go on */
        *err = r->saved;
        return r->rc;
    }
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
    if (r->f && r->own_f)
        fclose(r->f);
    for (size_t i = 0; i < r->n_cols; i++)
        free(r->cols[i].name);
    free(r->cols);
    for (size_t i = 0; i < r->n_ready; i++)
        mill_value_free(&r->ready[r->head + i]);
    free(r->ready);
    mill_value_free(&r->cur);
    mill_buf_free(&r->field);
    mill_buf_free(&r->blanks);
    free(r->name);
    free(r);
}

/* ---- the reader interface ------------------------------------------------------------------ */

static int open_delim(const char *path, char delim, const char *const *columns, void **state,
                      struct mill_err *err) {
    FILE *f = mill_data_fopen(path, err);
    if (!f)
        return err->code;
    return mill_csv_open_stream(f, true, path, delim, columns, (struct mill_csv **)state, err);
}

static int csv_open(const char *path, const char *const *columns, void **state,
                    struct mill_err *err) {
    return open_delim(path, ',', columns, state, err);
}

static int tsv_open(const char *path, const char *const *columns, void **state,
                    struct mill_err *err) {
    return open_delim(path, '\t', columns, state, err);
}

static int csv_next(void *state, struct mill_value *row, struct mill_err *err) {
    return mill_csv_next(state, row, err);
}

static void csv_close(void *state) { mill_csv_close(state); }

const struct mill_reader_ops mill_reader_csv = {"csv", csv_open, csv_next, csv_close};
const struct mill_reader_ops mill_reader_tsv = {"tsv", tsv_open, csv_next, csv_close};
