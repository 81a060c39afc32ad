/* arrow.c: the reader of `datasets`' arrow builder, which `datasets` picks for an `.arrow` data
 * file (what `save_to_disk` writes): Arrow IPC, the streaming format (`pa.ipc.open_stream`) or
 * the file format (`ARROW1` magic; the schema and the message blocks from its footer, as the
 * builder's fall-back `pa.ipc.open_file` reads it; each block read once). One row per record batch row, a struct of the
 * schema's top-level fields in order.
 *
 * Messages are read one at a time (the batch in memory, and the dictionaries): an encapsulated
 * message is [0xFFFFFFFF] int32 metadata length, a flatbuffer `Message`, then its body; length
 * 0 ends the stream. Types and what they become:
 *   Null -> NULL; Bool -> BOOL; Int 8-64 -> INT (a uint64 above INT64_MAX a FLOAT, as our
 *   Parquet reader gives it); FloatingPoint half/single/double -> FLOAT; Utf8, LargeUtf8 ->
 *   STR; Binary, LargeBinary, FixedSizeBinary -> BYTES; Decimal (32-256 bits) -> FLOAT, the
 *   nearest double (as our Parquet reader gives DECIMAL); Date, Time, Timestamp, Duration -> INT
 *   (their stored integer: days, milliseconds, units, as for Parquet); List, LargeList,
 *   FixedSizeList -> LIST; Struct -> STRUCT; Map -> LIST of {key, value} STRUCTs;
 *   dictionary-encoded fields -> their dictionary's values (delta dictionaries appended).
 * A batch compressed per buffer (LZ4_FRAME or ZSTD, what pyarrow writes with
 * `IpcWriteOptions(compression=...)`) is inflated first; as Arrow C++ reads it, each buffer must
 * decompress to exactly the length its prefix gives.
 * Refused with an error naming the file (and the field): Interval, Union, the view and
 * run-end encoded types, big-endian data, a batch over 4 GiB inflated; and, as pyarrow refuses
 * them, messages before metadata V4 (or after V5), pyarrow 0.17's experimental compression
 * mark, an LZ4 buffer of several frames, a Decimal precision or scale out of range, Int widths
 * other than 8-64 bits, two fields sharing a dictionary id, a batch before its dictionary, a
 * column whose length is not its batch's, a dictionary replaced in a file, a footer listing a
 * dictionary block twice.
 * Every offset, length and size in the file is checked against the bytes it points into; this
 * file trusts nothing it reads. */
#include "data/reader.h"

#include "core/decimal.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <errno.h>
#include <lz4frame.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define META_MAX ((uint32_t)64 << 20) /* a message's flatbuffer */
#define BODY_MAX ((int64_t)4 << 30)   /* a message's body */
#ifndef ARROW_ZSTD_WINDOW_LOG
#define ARROW_ZSTD_WINDOW_LOG 31 /* ZSTD_WINDOWLOG_MAX_64: no limit, as in Arrow C++ */
#endif
#define DEPTH_MAX 64      /* nested fields */
#define FIELDS_MAX 100000 /* fields in a schema, all depths */

/* ---- flatbuffers: bounds-checked reading of tables, vectors, strings --------------------- */

struct fb {
    const uint8_t *p;
    size_t n;
};

static bool fb_in(const struct fb *b, uint64_t at, uint64_t len) {
    return at <= b->n && len <= b->n - at;
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The position of field i of the table at t (0 when absent or out of bounds). */
static size_t fb_field(const struct fb *b, size_t t, int i) {
    if (!fb_in(b, t, 4))
        return 0;
    int64_t vt = (int64_t)t - (int32_t)rd32(b->p + t);
    if (vt < 0 || !fb_in(b, (uint64_t)vt, 4))
        return 0;
    unsigned vsize = b->p[vt] | b->p[vt + 1] << 8, tsize = b->p[vt + 2] | b->p[vt + 3] << 8;
    if ((unsigned)(4 + 2 * i + 2) > vsize || !fb_in(b, (uint64_t)vt, vsize) || !fb_in(b, t, tsize))
        return 0;
    unsigned off = b->p[vt + 4 + 2 * i] | b->p[vt + 5 + 2 * i] << 8;
    return off && off < tsize ? t + off : 0;
}

static int64_t fb_int(const struct fb *b, size_t t, int i, int width, int64_t def) {
    size_t f = fb_field(b, t, i);
    if (!f || !fb_in(b, f, (uint64_t)width))
        return def;
    switch (width) {
    case 1: return (int8_t)b->p[f];
    case 2: return (int16_t)(b->p[f] | b->p[f + 1] << 8);
    case 4: return (int32_t)rd32(b->p + f);
    default: return (int64_t)rd64(b->p + f);
    }
}

/* The position an offset field points to (a table, vector or string), 0 when absent/bad. */
static size_t fb_ref(const struct fb *b, size_t t, int i) {
    size_t f = fb_field(b, t, i);
    if (!f || !fb_in(b, f, 4))
        return 0;
    uint64_t to = (uint64_t)f + rd32(b->p + f);
    return fb_in(b, to, 4) ? (size_t)to : 0;
}

/* A vector at v (from fb_ref): its length, elements of size el from v + 4; false when it
 * does not fit. */
static bool fb_vec(const struct fb *b, size_t v, size_t el, uint32_t *n) {
    *n = v ? rd32(b->p + v) : 0;
    return !v || fb_in(b, (uint64_t)v + 4, (uint64_t)*n * el);
}

/* Element k of a vector of tables at v. */
static size_t fb_vec_table(const struct fb *b, size_t v, uint32_t k) {
    size_t e = v + 4 + 4 * (size_t)k;
    uint64_t to = (uint64_t)e + rd32(b->p + e);
    return fb_in(b, to, 4) ? (size_t)to : 0;
}

/* ---- the schema --------------------------------------------------------------------------- */

enum ty {
    TY_NULL = 1,
    TY_INT,
    TY_FLOAT,
    TY_BINARY,
    TY_UTF8,
    TY_BOOL,
    TY_DECIMAL,
    TY_DATE,
    TY_TIME,
    TY_TIMESTAMP,
    TY_INTERVAL,
    TY_LIST,
    TY_STRUCT,
    TY_UNION,
    TY_FIXED_BINARY,
    TY_FIXED_LIST,
    TY_MAP,
    TY_DURATION,
    TY_LARGE_BINARY,
    TY_LARGE_UTF8,
    TY_LARGE_LIST
};

struct fld {
    char *name;
    int ty;
    int width;      /* bytes per value: fixed-width types, fixed-size binary; list size */
    bool is_signed; /* Int */
    int scale;      /* Decimal: digits after the point */
    bool dict;      /* dictionary-encoded: indices of width idx_width, idx_signed */
    int idx_width;
    bool idx_signed;
    int64_t dict_id;
    struct fld *kids;
    size_t n_kids;
};

static void fld_free(struct fld *f) {
    for (size_t i = 0; i < f->n_kids; i++)
        fld_free(&f->kids[i]);
    free(f->kids);
    free(f->name);
}

/* ---- one decoded array of a batch --------------------------------------------------------- */

struct arr {
    const struct fld *f;
    bool as_dict; /* read the dictionary indices (the dictionary's own array: false) */
    int64_t len;
    const uint8_t *valid; /* validity bitmap, NULL = all valid */
    const uint8_t *offs;  /* offsets (variable-width, lists), or NULL */
    const uint8_t *data;  /* values */
    struct arr *kids;
    size_t n_kids;
};

static void arr_free(struct arr *a) {
    for (size_t i = 0; a && i < a->n_kids; i++)
        arr_free(&a->kids[i]);
    if (a)
        free(a->kids);
}

struct dict {
    int64_t id;
    struct arr *parts; /* each delta batch is a part; index k runs over them in order */
    size_t n_parts;
    uint8_t **bodies; /* the messages' bodies the parts point into */
    size_t n_bodies;
};

struct arrow {
    FILE *f;
    char *path;
    const char *const *columns;
    struct fld root; /* the schema: root.kids are the top-level fields */
    bool have_schema;
    struct dict *dicts;
    size_t n_dicts;
    /* the current record batch */
    struct arr *cols;
    size_t n_cols;
    int64_t rows, next;
    uint8_t *body; /* its message's body, which its arrays point into */
    bool eos;
    /* the file format: the messages the footer lists (dictionaries, then record batches) */
    bool file;
    off_t size; /* the file's, so no length read from it allocates more than it holds */
    int64_t *blocks;
    size_t n_blocks, next_block;
};

static int fail(struct arrow *r, struct mill_err *err, const char *fmt, const char *what) {
    return mill_err_set(err, MILL_EFORMAT, "%s: %s%s", r->path, fmt, what ? what : "");
}

/* Reads a Field table at t into *f (depth: of nesting). */
static int read_field(struct arrow *r, const struct fb *b, size_t t, struct fld *f, int depth,
                      size_t *count, struct mill_err *err) {
    if (depth > DEPTH_MAX || ++*count > FIELDS_MAX)
        return fail(r, err, "schema nested too deep or too large", NULL);
    size_t nm = fb_ref(b, t, 0);
    uint32_t nn = 0;
    if (nm && !fb_vec(b, nm, 1, &nn))
        return fail(r, err, "bad field name in the schema", NULL);
    if (!(f->name = nm ? strndup((const char *)b->p + nm + 4, nn) : strdup("")))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    f->ty = (int)fb_int(b, t, 2, 1, 0) & 0xFF;
    size_t ty = fb_ref(b, t, 3);
    switch (f->ty) {
    case TY_INT: {
        int64_t bits = fb_int(b, ty, 0, 4, 0);
        f->width = (int)bits / 8;
        f->is_signed = fb_int(b, ty, 1, 1, 0) != 0;
        if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
            return fail(r, err, "an Int field of a bit width other than 8, 16, 32, 64: ", f->name);
        break;
    }
    case TY_FLOAT: {
        int64_t pr = fb_int(b, ty, 0, 2, 0);
        f->width = pr == 0 ? 2 : pr == 1 ? 4 : pr == 2 ? 8 : 0;
        if (!f->width)
            return fail(r, err, "a FloatingPoint field of unknown precision: ", f->name);
        break;
    }
    case TY_DATE: f->width = fb_int(b, ty, 0, 2, 1) == 0 ? 4 : 8; break;
    case TY_TIME: f->width = (int)fb_int(b, ty, 1, 4, 32) == 64 ? 8 : 4; break;
    case TY_TIMESTAMP:
    case TY_DURATION: f->width = 8; break;
    case TY_DECIMAL: { /* precision (0), scale (1), bitWidth (2: 128 unless said) */
        int64_t bits = fb_int(b, ty, 2, 4, 128), scale = fb_int(b, ty, 1, 4, 0);
        f->width = (int)bits / 8;
        f->scale = (int)scale;
        if (bits != 32 && bits != 64 && bits != 128 && bits != 256)
            return fail(r, err, "a Decimal of a bit width other than 32, 64, 128, 256: ", f->name);
        if (scale < -10000 || scale > 10000)
            return fail(r, err, "a Decimal scale out of range in field ", f->name);
        int64_t prec = fb_int(b, ty, 0, 4, 0), most = bits == 32    ? 9
                                                      : bits == 64  ? 18
                                                      : bits == 128 ? 38
                                                                    : 76;
        if (prec < 1 || prec > most) /* as pyarrow's ValidateDecimalPrecision refuses it */
            return fail(r, err, "a Decimal precision out of its width's range in field ", f->name);
        break;
    }
    case TY_FIXED_BINARY:
    case TY_FIXED_LIST:
        f->width = (int)fb_int(b, ty, 0, 4, -1);
        if (f->width < (f->ty == TY_FIXED_BINARY))
            return fail(r, err, "a fixed size below 1 for field ", f->name);
        break;
    case TY_NULL:
    case TY_BOOL:
    case TY_BINARY:
    case TY_UTF8:
    case TY_LARGE_BINARY:
    case TY_LARGE_UTF8:
    case TY_LIST:
    case TY_LARGE_LIST:
    case TY_STRUCT:
    case TY_MAP: break;
    default:
        return fail(r, err,
                    "a type this reader does not read (Interval, Union, views, run-end "
                    "encoding) in field ",
                    f->name);
    }
    size_t de = fb_ref(b, t, 4);
    if (de) {
        f->dict = true;
        f->dict_id = fb_int(b, de, 0, 8, 0);
        size_t it = fb_ref(b, de, 1);
        int64_t bits = it ? fb_int(b, it, 0, 4, 32) : 32;
        f->idx_width = (int)bits / 8;
        f->idx_signed = it ? fb_int(b, it, 1, 1, 1) != 0 : true;
        if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
            return fail(r, err, "bad dictionary index width in field ", f->name);
    }
    size_t kv = fb_ref(b, t, 5);
    uint32_t nk = 0;
    if (!fb_vec(b, kv, 4, &nk))
        return fail(r, err, "bad children of field ", f->name);
    bool nested = f->ty == TY_LIST || f->ty == TY_LARGE_LIST || f->ty == TY_FIXED_LIST ||
                  f->ty == TY_MAP || f->ty == TY_STRUCT;
    if ((nested && f->ty != TY_STRUCT && nk != 1) || (!nested && nk > 0))
        return fail(r, err, "children that do not fit the type of field ", f->name);
    if (nk && !(f->kids = calloc(nk, sizeof *f->kids)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    f->n_kids = nk;
    for (uint32_t k = 0; k < nk; k++) {
        size_t ct = fb_vec_table(b, kv, k);
        int rc = ct ? read_field(r, b, ct, &f->kids[k], depth + 1, count, err)
                    : fail(r, err, "bad child of field ", f->name);
        if (rc)
            return rc;
    }
    if (f->ty == TY_MAP && (f->kids[0].ty != TY_STRUCT || f->kids[0].n_kids != 2))
        return fail(r, err, "a Map whose entries are not key/value structs: ", f->name);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The dictionary ids of the fields below f, into ids (when not NULL) at *n. */
static void count_dicts(const struct fld *f, int64_t *ids, size_t *n) {
    for (size_t k = 0; k < f->n_kids; k++) {
        if (f->kids[k].dict && ids)
            ids[*n] = f->kids[k].dict_id;
        *n += f->kids[k].dict;
        count_dicts(&f->kids[k], ids, n);
    }
}

static int read_schema(struct arrow *r, const struct fb *b, size_t s, struct mill_err *err) {
    if (fb_int(b, s, 0, 2, 0) != 0)
        return fail(r, err, "big-endian data is not read", NULL);
    size_t fv = fb_ref(b, s, 1);
    uint32_t n = 0;
    if (!fb_vec(b, fv, 4, &n))
        return fail(r, err, "bad schema fields", NULL);
    r->root.ty = TY_STRUCT;
    if (n && !(r->root.kids = calloc(n, sizeof *r->root.kids)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    r->root.n_kids = n;
    size_t count = 0;
    for (uint32_t k = 0; k < n; k++) {
        size_t t = fb_vec_table(b, fv, k);
        int rc = t ? read_field(r, b, t, &r->root.kids[k], 1, &count, err)
                   : fail(r, err, "bad schema field", NULL);
        if (rc)
            return rc;
    }
    /* one field per dictionary id, as pyarrow's DictionaryMemo insists: a field and its own
     * descendant sharing one would make a value contain itself */
    size_t nd = 0;
    count_dicts(&r->root, NULL, &nd);
    int64_t *ids = malloc((nd ? nd : 1) * sizeof *ids);
    if (!ids)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    nd = 0;
    count_dicts(&r->root, ids, &nd);
    qsort(ids, nd, sizeof *ids, cmp_i64);
    bool dup = false;
    for (size_t i = 1; i < nd; i++)
        dup = dup || ids[i] == ids[i - 1];
    free(ids);
    if (dup)
        return fail(r, err, "two fields of the schema share a dictionary id", NULL);
    r->have_schema = true;
    return 0;
}

/* ---- a record batch's arrays ---------------------------------------------------------------- */

/* What assembling a batch walks: its nodes and buffers, and the body. */
struct walk {
    struct arrow *r;
    const struct fb *meta;
    size_t nodes, bufs; /* vectors of FieldNode and Buffer structs (16 bytes each) */
    uint32_t n_nodes, n_bufs, node, buf;
    const uint8_t *body;
    int64_t body_n;
    int64_t *spans; /* a compressed batch's buffers in its inflated body: offset, length each */
};

/* The next buffer of the batch into *p, *n. */
static int next_buffer(struct walk *w, const uint8_t **p, size_t *n, struct mill_err *err) {
    if (w->buf >= w->n_bufs)
        return fail(w->r, err, "a record batch with fewer buffers than its fields need", NULL);
    const uint8_t *e = w->meta->p + w->bufs + 4 + 16 * (size_t)w->buf;
    int64_t off = (int64_t)rd64(e), len = (int64_t)rd64(e + 8);
    if (w->spans) {
        off = w->spans[2 * w->buf];
        len = w->spans[2 * w->buf + 1];
    }
    w->buf++;
    if (off < 0 || len < 0 || off > w->body_n || len > w->body_n - off)
        return fail(w->r, err, "a buffer outside its message's body", NULL);
    *p = w->body + off;
    *n = (size_t)len;
    return 0;
}

static int64_t off_at(const struct arr *a, int64_t i, bool large) {
    return large ? (int64_t)rd64(a->offs + 8 * (size_t)i) : (int32_t)rd32(a->offs + 4 * (size_t)i);
}

/* Checks offsets [0..len] of a: non-negative, non-decreasing, the last within limit. */
static bool offsets_ok(const struct arr *a, bool large, int64_t limit) {
    int64_t prev = 0;
    for (int64_t i = 0; i <= a->len; i++) {
        int64_t o = off_at(a, i, large);
        if (o < prev || (i == 0 && o < 0) || o > limit)
            return false;
        prev = o;
    }
    return true;
}

static bool is_large(int ty) {
    return ty == TY_LARGE_BINARY || ty == TY_LARGE_UTF8 || ty == TY_LARGE_LIST;
}

static const struct dict *find_dict(const struct arrow *r, int64_t id);

/* Fills a (field f) from the batch's next node and buffers, then its children. */
static int build(struct walk *w, const struct fld *f, bool as_dict, struct arr *a, int depth,
                 struct mill_err *err) {
    a->f = f;
    a->as_dict = as_dict;
    if (w->node >= w->n_nodes)
        return fail(w->r, err, "a record batch with fewer nodes than its fields", NULL);
    const uint8_t *nd = w->meta->p + w->nodes + 4 + 16 * (size_t)w->node++;
    a->len = (int64_t)rd64(nd);
    int64_t nulls = (int64_t)rd64(nd + 8);
    if (a->len < 0 || a->len > ((int64_t)1 << 40) || nulls < 0 || nulls > a->len)
        return fail(w->r, err, "a bad length in field ", f->name);
    const uint8_t *p;
    size_t n;
    int rc = 0;
    if (f->ty != TY_NULL || as_dict) { /* validity */
        if ((rc = next_buffer(w, &p, &n, err)))
            return rc;
        if (n && n < (size_t)(a->len + 7) / 8)
            return fail(w->r, err, "a validity bitmap too short in field ", f->name);
        a->valid = n && nulls ? p : NULL;
        if (!n && nulls)
            return fail(w->r, err, "nulls without a validity bitmap in field ", f->name);
    }
    if (as_dict && !find_dict(w->r, f->dict_id))
        return fail(w->r, err, "a record batch before the dictionary of field ", f->name);
    int ty = as_dict ? TY_INT : f->ty;
    int width = as_dict ? f->idx_width : f->width;
    switch (ty) {
    case TY_NULL: return 0;
    case TY_BOOL:
    case TY_INT:
    case TY_FLOAT:
    case TY_DATE:
    case TY_TIME:
    case TY_TIMESTAMP:
    case TY_DURATION:
    case TY_DECIMAL:
    case TY_FIXED_BINARY:
        if ((rc = next_buffer(w, &p, &n, err)))
            return rc;
        if (ty == TY_BOOL ? n < (size_t)(a->len + 7) / 8
                          : width <= 0 || (a->len && (size_t)a->len > n / (size_t)width))
            return fail(w->r, err, "a values buffer too short in field ", f->name);
        a->data = p;
        return 0;
    case TY_BINARY:
    case TY_UTF8:
    case TY_LARGE_BINARY:
    case TY_LARGE_UTF8:
    case TY_LIST:
    case TY_LARGE_LIST:
    case TY_MAP:
        if ((rc = next_buffer(w, &p, &n, err)))
            return rc;
        if (n < (size_t)(a->len + 1) * (is_large(ty) ? 8 : 4) && !(a->len == 0 && n == 0))
            return fail(w->r, err, "an offsets buffer too short in field ", f->name);
        a->offs = a->len || n ? p : NULL;
        break;
    default: break; /* FIXED_LIST, STRUCT: children only */
    }
    if (ty == TY_BINARY || ty == TY_UTF8 || ty == TY_LARGE_BINARY || ty == TY_LARGE_UTF8) {
        if ((rc = next_buffer(w, &p, &n, err)))
            return rc;
        a->data = p;
        if (a->offs && !offsets_ok(a, is_large(ty), (int64_t)n))
            return fail(w->r, err, "offsets outside the data in field ", f->name);
        return 0;
    }
    if (depth > DEPTH_MAX)
        return fail(w->r, err, "fields nested too deep", NULL);
    if (!(a->kids = calloc(f->n_kids ? f->n_kids : 1, sizeof *a->kids)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    a->n_kids = f->n_kids;
    for (size_t k = 0; k < f->n_kids && !rc; k++)
        rc = build(w, &f->kids[k], f->kids[k].dict, &a->kids[k], depth + 1, err);
    if (rc)
        return rc;
    if (ty == TY_FIXED_LIST && f->width > 0 && a->len > INT64_MAX / f->width)
        return fail(w->r, err, "a fixed-size list too long in field ", f->name);
    int64_t need = ty == TY_FIXED_LIST ? a->len * f->width : ty == TY_STRUCT ? a->len : 0;
    for (size_t k = 0; k < a->n_kids && (ty == TY_FIXED_LIST || ty == TY_STRUCT); k++)
        if (a->kids[k].len < need)
            return fail(w->r, err, "a child shorter than its parent in field ", f->name);
    if (a->offs && !offsets_ok(a, ty == TY_LARGE_LIST, a->kids[0].len))
        return fail(w->r, err, "list offsets outside the child in field ", f->name);
    return 0;
}

/* ---- values --------------------------------------------------------------------------------- */

static bool is_valid(const struct arr *a, int64_t i) {
    return !a->valid || (a->valid[i >> 3] >> (i & 7) & 1);
}

static int64_t int_at(const uint8_t *p, int width, bool is_signed, int64_t i, bool *big) {
    const uint8_t *q = p + (size_t)i * (size_t)width;
    *big = false;
    switch (width) {
    case 1: return is_signed ? (int8_t)q[0] : q[0];
    case 2: {
        unsigned v = q[0] | q[1] << 8;
        return is_signed ? (int16_t)v : (int64_t)v;
    }
    case 4: return is_signed ? (int32_t)rd32(q) : (int64_t)rd32(q);
    default: {
        uint64_t v = rd64(q);
        *big = !is_signed && v > INT64_MAX;
        return (int64_t)v;
    }
    }
}

static double half_to_double(unsigned h) {
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

static const struct dict *find_dict(const struct arrow *r, int64_t id) {
    for (size_t i = 0; i < r->n_dicts; i++)
        if (r->dicts[i].id == id)
            return &r->dicts[i];
    return NULL;
}

static int value_at(const struct arrow *r, const struct arr *a, int64_t i, struct mill_value *v,
                    struct mill_err *err);

/* Element i of a dictionary-encoded array: its index looked up in the dictionary's parts. */
static int dict_value(const struct arrow *r, const struct arr *a, int64_t i, struct mill_value *v,
                      struct mill_err *err) {
    bool big;
    int64_t k = int_at(a->data, a->f->idx_width, a->f->idx_signed, i, &big);
    const struct dict *d = find_dict(r, a->f->dict_id);
    if (!d)
        return mill_err_set(err, MILL_EFORMAT, "%s: field %s: no dictionary %lld", r->path,
                            a->f->name, (long long)a->f->dict_id);
    for (size_t p = 0; !big && k >= 0 && p < d->n_parts; p++) {
        if (k < d->parts[p].len)
            return value_at(r, &d->parts[p], k, v, err);
        k -= d->parts[p].len;
    }
    return mill_err_set(err, MILL_EFORMAT, "%s: field %s: a dictionary index out of range", r->path,
                        a->f->name);
}

/* Elements [lo, hi) of child c as a LIST into *v. */
static int list_of(const struct arrow *r, const struct arr *c, int64_t lo, int64_t hi,
                   struct mill_value *v, struct mill_err *err) {
    mill_value_list(v);
    for (int64_t k = lo; k < hi; k++) {
        struct mill_value item;
        int rc = value_at(r, c, k, &item, err);
        if (!rc && (rc = mill_value_list_push(v, &item)))
            mill_value_free(&item);
        if (rc) {
            mill_value_free(v);
            return rc == MILL_ENOMEM ? mill_err_set(err, rc, "out of memory") : rc;
        }
    }
    return 0;
}

/* Row i of the struct-like a (a Struct, or the top level) into *v, the fields projected. */
static int struct_of(const struct arrow *r, const struct arr *kids, const struct fld *f, int64_t i,
                     const char *const *columns, struct mill_value *v, struct mill_err *err) {
    mill_value_struct(v);
    for (size_t k = 0; k < f->n_kids; k++) {
        if (!mill_reader_projected(columns, f->kids[k].name))
            continue;
        struct mill_value item;
        int rc = value_at(r, &kids[k], i, &item, err);
        if (!rc && (rc = mill_value_struct_set(v, f->kids[k].name, &item)))
            mill_value_free(&item);
        if (rc) {
            mill_value_free(v);
            return rc == MILL_ENOMEM ? mill_err_set(err, rc, "out of memory") : rc;
        }
    }
    return 0;
}

static int value_at(const struct arrow *r, const struct arr *a, int64_t i, struct mill_value *v,
                    struct mill_err *err) {
    const struct fld *f = a->f;
    mill_value_null(v);
    if (i >= a->len || !is_valid(a, i) || f->ty == TY_NULL)
        return i < a->len ? 0
                          : mill_err_set(err, MILL_EFORMAT, "%s: field %s: a row past its array",
                                         r->path, f->name);
    if (a->as_dict)
        return dict_value(r, a, i, v, err);
    bool big;
    int rc = 0;
    switch (f->ty) {
    case TY_BOOL: mill_value_bool(v, a->data[i >> 3] >> (i & 7) & 1); return 0;
    case TY_INT:
    case TY_DATE:
    case TY_TIME:
    case TY_TIMESTAMP:
    case TY_DURATION: {
        int64_t x = int_at(a->data, f->width, f->ty == TY_INT ? f->is_signed : true, i, &big);
        if (big)
            mill_value_float(v, (double)(uint64_t)x);
        else
            mill_value_int(v, x);
        return 0;
    }
    case TY_FLOAT: {
        const uint8_t *q = a->data + (size_t)i * (size_t)f->width;
        double x;
        if (f->width == 2) {
            x = half_to_double(q[0] | q[1] << 8);
        } else if (f->width == 4) {
            uint32_t u = rd32(q);
            float fl;
            memcpy(&fl, &u, 4);
            x = fl;
        } else {
            uint64_t u = rd64(q);
            memcpy(&x, &u, 8);
        }
        mill_value_float(v, x);
        return 0;
    }
    case TY_FIXED_BINARY:
        rc = mill_value_bytes(v, a->data + (size_t)i * (size_t)f->width, (size_t)f->width);
        break;
    case TY_DECIMAL: { /* little-endian two's complement, as the nearest double */
        uint8_t be[32];
        const uint8_t *q = a->data + (size_t)i * (size_t)f->width;
        for (int k = 0; k < f->width; k++)
            be[k] = q[f->width - 1 - k];
        mill_value_float(v, mill_decimal_be(be, (size_t)f->width, f->scale));
        return 0;
    }
    case TY_BINARY:
    case TY_UTF8:
    case TY_LARGE_BINARY:
    case TY_LARGE_UTF8: {
        bool large = is_large(f->ty);
        int64_t s = off_at(a, i, large), e = off_at(a, i + 1, large);
        const char *p = (const char *)a->data + s;
        rc = f->ty == TY_UTF8 || f->ty == TY_LARGE_UTF8 ? mill_value_str(v, p, (size_t)(e - s))
                                                        : mill_value_bytes(v, p, (size_t)(e - s));
        break;
    }
    case TY_LIST:
    case TY_LARGE_LIST:
    case TY_MAP:
        return list_of(r, &a->kids[0], off_at(a, i, f->ty == TY_LARGE_LIST),
                       off_at(a, i + 1, f->ty == TY_LARGE_LIST), v, err);
    case TY_FIXED_LIST: return list_of(r, &a->kids[0], i * f->width, (i + 1) * f->width, v, err);
    case TY_STRUCT: return struct_of(r, a->kids, f, i, NULL, v, err);
    default: break;
    }
    return rc ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
}

/* ---- messages --------------------------------------------------------------------------------- */

static void drop_batch(struct arrow *r) {
    for (size_t i = 0; i < r->n_cols; i++)
        arr_free(&r->cols[i]);
    free(r->cols);
    r->cols = NULL;
    r->n_cols = 0;
    free(r->body);
    r->body = NULL;
    r->rows = r->next = 0;
}

/* Reads exactly n bytes; false at a short read (err set, naming what was read). */
static int read_exact(struct arrow *r, void *p, size_t n, const char *what, struct mill_err *err) {
    if (n && fread(p, 1, n, r->f) != n)
        return ferror(r->f)
                   ? mill_err_set(err, MILL_EIO, "%s: cannot read: %s", r->path, strerror(errno))
                   : fail(r, err, "the file ends inside ", what);
    return 0;
}

/* ---- compressed bodies ------------------------------------------------------------------------ */

/* An inflated body being built: the buffers decompressed one after another, 8-byte aligned. */
struct inflated {
    uint8_t *p;
    size_t n, cap;
};

#define INFLATED_MAX ((size_t)BODY_MAX + 64) /* a body's buffers inflated (slack: alignment) */

/* Room for at least `more` bytes past o->n (capacity doubled, up to INFLATED_MAX in all). */
static int room(struct arrow *r, struct inflated *o, size_t more, struct mill_err *err) {
    if (more > INFLATED_MAX - o->n)
        return fail(r, err, "a record batch over 4 GiB once inflated", NULL);
    if (o->n + more <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->n + more)
        cap = cap > INFLATED_MAX / 2 ? INFLATED_MAX : cap * 2;
    uint8_t *g = realloc(o->p, cap);
    if (!g)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    o->p = g;
    o->cap = cap;
    return 0;
}

/* Decompresses src[0..n) with codec onto o, which must grow by exactly want bytes, as Arrow
 * C++ does: LZ4_FRAME (0) one frame, ZSTD (1) its frames, any window size. The output grows as
 * it comes, never trusting want for an allocation beyond what the data gives (one byte past it
 * tells a longer result). */
static int inflate_one(struct arrow *r, int codec, const uint8_t *src, size_t n, size_t want,
                       struct inflated *o, struct mill_err *err) {
    size_t start = o->n, in = 0;
    bool done = false;
    ZSTD_DCtx *z = codec ? ZSTD_createDCtx() : NULL;
    LZ4F_dctx *l = NULL;
    if (codec ? !z : LZ4F_isError(LZ4F_createDecompressionContext(&l, LZ4F_VERSION)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (z) /* Arrow C++ decompresses in one call, which sets no window limit */
        ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, ARROW_ZSTD_WINDOW_LOG);
    int rc = 0;
    for (;;) {
        size_t got = o->n - start;
        if (got > want)
            break; /* longer than its prefix says */
        size_t step = want + 1 - got < (size_t)1 << 20 ? want + 1 - got : (size_t)1 << 20;
        if ((rc = room(r, o, step, err)))
            break;
        size_t src_n = n - in, dst_n = step, hint;
        if (codec) {
            ZSTD_inBuffer ib = {src + in, src_n, 0};
            ZSTD_outBuffer ob = {o->p + o->n, dst_n, 0};
            hint = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(hint))
                rc = fail(r, err,
                          "a ZSTD buffer that does not decompress: ", ZSTD_getErrorName(hint));
            src_n = ib.pos;
            dst_n = ob.pos;
        } else {
            hint = LZ4F_decompress(l, o->p + o->n, &dst_n, src + in, &src_n, NULL);
            if (LZ4F_isError(hint))
                rc = fail(r, err,
                          "an LZ4 frame that does not decompress: ", LZ4F_getErrorName(hint));
        }
        in += src_n;
        o->n += dst_n;
        done = hint == 0;
        if (rc || (done && (in == n || !codec)) || (!src_n && !dst_n))
            break; /* an error, the end, or no progress: the input ends inside a frame */
    }
    ZSTD_freeDCtx(z);
    LZ4F_freeDecompressionContext(l);
    size_t got = o->n - start;
    if (!rc && done && in < n && !codec)
        rc = fail(r, err, "an LZ4 buffer of more than one frame (Arrow C++ reads one)", NULL);
    else if (!rc && got != want && (done || got > want))
        rc = fail(r, err,
                  "a compressed buffer that does not decompress to the length its prefix says",
                  NULL);
    else if (!rc && (!done || in < n))
        rc = fail(r, err, "a compressed buffer that ends inside its frame", NULL);
    return rc;
}

/* A body compressed buffer by buffer (BodyCompression, method BUFFER): each buffer is an int64
 * uncompressed length (-1: the bytes follow as they are) and the codec's frame; an empty one
 * stays empty. Replaces *body and *n with the buffers inflated, and sets w->spans. */
static int inflate_body(struct arrow *r, const struct fb *meta, size_t bc, uint8_t **body,
                        int64_t *n, struct walk *w, struct mill_err *err) {
    int codec = (int)fb_int(meta, bc, 0, 1, 0), method = (int)fb_int(meta, bc, 1, 1, 0);
    if (codec != 0 && codec != 1)
        return fail(r, err, "a record batch compressed with an unknown codec", NULL);
    if (method != 0)
        return fail(r, err, "a record batch compressed by another method than per buffer", NULL);
    struct inflated o = {0};
    int rc = (w->spans = calloc(2 * (size_t)w->n_bufs + 1, sizeof *w->spans))
                 ? 0
                 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < w->n_bufs && !rc; i++) {
        const uint8_t *e = meta->p + w->bufs + 4 + 16 * (size_t)i;
        int64_t off = (int64_t)rd64(e), len = (int64_t)rd64(e + 8);
        if (off < 0 || len < 0 || off > *n || len > *n - off)
            rc = fail(r, err, "a buffer outside its message's body", NULL);
        else if (len > 0 && len < 8)
            rc = fail(r, err, "a compressed buffer shorter than its length prefix", NULL);
        int64_t want = !rc && len ? (int64_t)rd64(*body + off) : 0;
        if (!rc && (want < -1 || want > BODY_MAX))
            rc = fail(r, err, "a compressed buffer of a bad uncompressed length", NULL);
        o.n = (o.n + 7) & ~(size_t)7;
        if (!rc)
            rc = room(r, &o, 8, err);
        w->spans[2 * i] = (int64_t)o.n;
        if (rc || !len)
            continue;
        if (want == -1 && (rc = room(r, &o, (size_t)len - 8, err)))
            ;
        else if (want == -1) {
            memcpy(o.p + o.n, *body + off + 8, (size_t)len - 8);
            o.n += (size_t)len - 8;
        } else {
            rc = inflate_one(r, codec, *body + off + 8, (size_t)len - 8, (size_t)want, &o, err);
        }
        w->spans[2 * i + 1] = (int64_t)o.n - w->spans[2 * i];
    }
    if (rc) {
        free(o.p);
        return rc;
    }
    free(*body);
    *body = o.p ? o.p : malloc(1);
    *n = (int64_t)o.n;
    w->body = *body;
    w->body_n = *n;
    return *body ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
}

/* Sets up a walk over the RecordBatch table rb of meta, whose body is *body (*n bytes); a
 * compressed body is replaced by its inflated buffers (w->spans, freed by the caller). */
static int walk_init(struct arrow *r, const struct fb *meta, size_t rb, uint8_t **body, int64_t *n,
                     struct walk *w, struct mill_err *err) {
    *w = (struct walk){.r = r, .meta = meta, .body = *body, .body_n = *n};
    w->nodes = fb_ref(meta, rb, 1);
    w->bufs = fb_ref(meta, rb, 2);
    if (!fb_vec(meta, w->nodes, 16, &w->n_nodes) || !fb_vec(meta, w->bufs, 16, &w->n_bufs))
        return fail(r, err, "a record batch of bad nodes or buffers", NULL);
    size_t bc = fb_ref(meta, rb, 3); /* BodyCompression */
    return bc ? inflate_body(r, meta, bc, body, n, w, err) : 0;
}

/* The field (below root, depth first) whose dictionary has this id, or NULL. */
static const struct fld *dict_field(const struct fld *x, int64_t id) {
    for (size_t k = 0; k < x->n_kids; k++) {
        const struct fld *c = &x->kids[k];
        const struct fld *hit = c->dict && c->dict_id == id ? c : dict_field(c, id);
        if (hit)
            return hit;
    }
    return NULL;
}

static int keep_body(struct dict *d, uint8_t *body) {
    uint8_t **g = realloc(d->bodies, (d->n_bodies + 1) * sizeof *g);
    if (!g) {
        free(body);
        return MILL_ENOMEM;
    }
    d->bodies = g;
    g[d->n_bodies++] = body;
    return 0;
}

/* A DictionaryBatch: its values become (a part of) the dictionary of its id. */
static int add_dictionary(struct arrow *r, const struct fb *meta, size_t db, uint8_t *body,
                          int64_t n, struct mill_err *err) {
    int64_t id = fb_int(meta, db, 0, 8, 0);
    bool delta = fb_int(meta, db, 2, 1, 0) != 0;
    const struct fld *f = dict_field(&r->root, id);
    if (!f) {
        free(body);
        return fail(r, err, "a dictionary batch for no field of the schema", NULL);
    }
    struct dict *d = (struct dict *)find_dict(r, id);
    if (!d) {
        struct dict *g = realloc(r->dicts, (r->n_dicts + 1) * sizeof *g);
        if (!g) {
            free(body);
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        r->dicts = g;
        d = &g[r->n_dicts++];
        memset(d, 0, sizeof *d);
        d->id = id;
    } else if (!delta && r->file) {
        free(body);
        return fail(r, err, "a dictionary replaced in an Arrow file (IPC files allow none)", NULL);
    } else if (!delta) { /* a replacement: the old parts go */
        for (size_t i = 0; i < d->n_parts; i++)
            arr_free(&d->parts[i]);
        for (size_t i = 0; i < d->n_bodies; i++)
            free(d->bodies[i]);
        d->n_parts = d->n_bodies = 0;
    }
    struct walk w = {0};
    int rc = keep_body(d, body) ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
    size_t rb = fb_ref(meta, db, 1);
    if (!rc && !rb)
        rc = fail(r, err, "a dictionary batch without its data", NULL);
    if (!rc)
        rc = walk_init(r, meta, rb, &d->bodies[d->n_bodies - 1], &n, &w, err);
    struct arr *parts = rc ? NULL : realloc(d->parts, (d->n_parts + 1) * sizeof *parts);
    if (!rc && !parts)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc) {
        d->parts = parts;
        memset(&parts[d->n_parts], 0, sizeof *parts);
        rc = build(&w, f, false, &parts[d->n_parts], 1, err);
        if (rc)
            arr_free(&parts[d->n_parts]);
        else
            d->n_parts++;
    }
    free(w.spans);
    return rc;
}

/* A RecordBatch: its arrays become the rows to step. */
static int add_batch(struct arrow *r, const struct fb *meta, size_t rb, uint8_t *body, int64_t n,
                     struct mill_err *err) {
    drop_batch(r);
    struct walk w = {0};
    r->body = body;
    int rc = walk_init(r, meta, rb, &r->body, &n, &w, err);
    int64_t rows = rc ? 0 : fb_int(meta, rb, 0, 8, 0);
    if (!rc && rows < 0)
        rc = fail(r, err, "a record batch of a negative length", NULL);
    if (!rc && !(r->cols = calloc(r->root.n_kids ? r->root.n_kids : 1, sizeof *r->cols)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        r->n_cols = r->root.n_kids;
    for (size_t k = 0; k < r->n_cols && !rc; k++) {
        rc = build(&w, &r->root.kids[k], r->root.kids[k].dict, &r->cols[k], 1, err);
        if (!rc && r->cols[k].len != rows)
            rc = fail(r, err,
                      "a column whose length is not its record batch's: ", r->root.kids[k].name);
    }
    free(w.spans);
    if (rc)
        return rc;
    r->rows = rows;
    r->next = 0;
    return 0;
}

/* Whether the Message table m of meta has the custom_metadata key: pyarrow 0.17 marked the
 * compression of a V4 message that way ("ARROW:experimental_compression"). */
static bool has_custom_key(const struct fb *meta, size_t m, const char *key) {
    size_t v = fb_ref(meta, m, 4), k = strlen(key);
    uint32_t n = 0;
    if (!v || !fb_vec(meta, v, 4, &n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        size_t kv = fb_vec_table(meta, v, i), s = kv ? fb_ref(meta, kv, 0) : 0;
        uint32_t len = 0;
        if (s && fb_vec(meta, s, 1, &len) && len == k && !memcmp(meta->p + s + 4, key, k))
            return true;
    }
    return false;
}

/* Reads the next message: 1 when it was a record batch (rows to step), 0 at the end of the
 * stream, 2 for a message that gives no rows (schema, dictionary), < 0 on error. */
static int next_message(struct arrow *r, struct mill_err *err) {
    if (r->file && r->next_block == r->n_blocks)
        return 0;
    if (r->file && fseeko(r->f, (off_t)r->blocks[r->next_block++], SEEK_SET) != 0)
        return fail(r, err, "a footer block outside the file", NULL);
    uint8_t h[4];
    size_t got = fread(h, 1, 4, r->f);
    if (got == 0 && !ferror(r->f) && !r->file)
        return 0; /* no end-of-stream marker: the end all the same, as pyarrow takes it */
    if (got != 4)
        return ferror(r->f)
                   ? mill_err_set(err, MILL_EIO, "%s: cannot read: %s", r->path, strerror(errno))
                   : fail(r, err, "the file ends inside a message's length", NULL);
    uint32_t len = rd32(h);
    if (len == 0xFFFFFFFFu) { /* the continuation marker, then the length */
        int rc = read_exact(r, h, 4, "a message's length", err);
        if (rc)
            return rc;
        len = rd32(h);
    }
    if (len == 0)
        return 0;
    if (len > META_MAX)
        return fail(r, err, "a message header over 64 MiB", NULL);
    off_t at = ftello(r->f);
    if (at < 0 || (off_t)len > r->size - at)
        return fail(r, err, "the file ends inside a message header", NULL);
    uint8_t *mp = malloc(len);
    if (!mp)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = read_exact(r, mp, len, "a message header", err);
    struct fb meta = {mp, len};
    size_t root = !rc && len >= 4 ? rd32(mp) : 0;
    if (!rc && (!root || !fb_in(&meta, root, 4)))
        rc = fail(r, err, "a message header that is no flatbuffer", NULL);
    int64_t version = rc ? 4 : fb_int(&meta, root, 0, 2, 0); /* MetadataVersion: V1 = 0 */
    if (!rc && (version < 3 || version > 4))
        rc = fail(r, err,
                  version < 3 ? "a message of an old metadata version (before V4), which pyarrow "
                                "does not read"
                              : "a message of a metadata version after V5",
                  NULL);
    if (!rc && has_custom_key(&meta, root, "ARROW:experimental_compression"))
        rc = fail(r, err,
                  "a message compressed as pyarrow 0.17 marked it "
                  "(ARROW:experimental_compression), which is not read",
                  NULL);
    int htype = rc ? 0 : (int)fb_int(&meta, root, 1, 1, 0) & 0xFF;
    size_t hdr = rc ? 0 : fb_ref(&meta, root, 2);
    int64_t body_n = rc ? 0 : fb_int(&meta, root, 3, 8, 0);
    if (!rc && (body_n < 0 || body_n > BODY_MAX))
        rc = fail(r, err, "a message body of a bad length", NULL);
    if (!rc && body_n > r->size - at - (off_t)len)
        rc = fail(r, err, "the file ends inside a message body", NULL);
    uint8_t *body = rc ? NULL : malloc(body_n ? (size_t)body_n : 1);
    if (!rc && !body)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = read_exact(r, body, (size_t)body_n, "a message body", err);
    if (!rc && htype != 1 && !r->have_schema)
        rc = fail(r, err, "a record batch before the schema", NULL);
    int out = 2;
    if (rc) {
        free(body);
    } else if (htype == 1) { /* Schema */
        free(body);
        rc = r->have_schema ? fail(r, err, "a second schema", NULL)
             : hdr          ? read_schema(r, &meta, hdr, err)
                            : fail(r, err, "a schema message without its schema", NULL);
    } else if (htype == 2 && hdr) { /* DictionaryBatch */
        rc = add_dictionary(r, &meta, hdr, body, body_n, err);
    } else if (htype == 3 && hdr) { /* RecordBatch */
        rc = add_batch(r, &meta, hdr, body, body_n, err);
        out = 1;
    } else {
        free(body);
        rc = fail(r, err, "a message that is no schema, dictionary or record batch", NULL);
    }
    free(mp);
    return rc ? rc : out;
}

/* ---- the reader interface ------------------------------------------------------------------- */

static void arrow_close(void *state) {
    struct arrow *r = state;
    if (!r)
        return;
    drop_batch(r);
    for (size_t i = 0; i < r->n_dicts; i++) {
        struct dict *d = &r->dicts[i];
        for (size_t k = 0; k < d->n_parts; k++)
            arr_free(&d->parts[k]);
        free(d->parts);
        for (size_t k = 0; k < d->n_bodies; k++)
            free(d->bodies[k]);
        free(d->bodies);
    }
    free(r->dicts);
    free(r->blocks);
    fld_free(&r->root);
    if (r->f)
        fclose(r->f);
    free(r->path);
    free(r);
}

/* The file format's footer (`<footer> int32 length "ARROW1"` at the end): the schema, and the
 * offsets of the dictionary and record batch messages, read in that order. */
static int read_footer(struct arrow *r, struct mill_err *err) {
    r->file = true;
    uint8_t tail[10];
    off_t size;
    if (fseeko(r->f, 0, SEEK_END) != 0 || (size = ftello(r->f)) < 18 ||
        fseeko(r->f, size - 10, SEEK_SET) != 0 || fread(tail, 1, 10, r->f) != 10 ||
        memcmp(tail + 4, "ARROW1", 6))
        return fail(r, err, "an Arrow file without its footer (cut short?)", NULL);
    uint32_t len = rd32(tail);
    if (len < 4 || len > META_MAX || (off_t)len > size - 18)
        return fail(r, err, "an Arrow file footer of a bad length", NULL);
    uint8_t *p = malloc(len);
    if (!p)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = fseeko(r->f, size - 10 - (off_t)len, SEEK_SET) != 0 || fread(p, 1, len, r->f) != len
                 ? fail(r, err, "cannot read the Arrow file footer", NULL)
                 : 0;
    struct fb b = {p, len};
    size_t root = rc ? 0 : rd32(p);
    size_t schema = root && fb_in(&b, root, 4) ? fb_ref(&b, root, 1) : 0;
    if (!rc)
        rc = schema ? read_schema(r, &b, schema, err)
                    : fail(r, err, "a footer without schema", NULL);
    size_t vec[2] = {rc ? 0 : fb_ref(&b, root, 2), rc ? 0 : fb_ref(&b, root, 3)};
    uint32_t n[2] = {0, 0};
    for (int k = 0; !rc && k < 2; k++)
        if (!fb_vec(&b, vec[k], 24, &n[k]))
            rc = fail(r, err, "bad blocks in the Arrow file footer", NULL);
    if (!rc && !(r->blocks = malloc(((size_t)n[0] + n[1] + 1) * sizeof *r->blocks)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (int k = 0; !rc && k < 2; k++)
        for (uint32_t i = 0; i < n[k]; i++) {
            int64_t off = (int64_t)rd64(p + vec[k] + 4 + 24 * (size_t)i);
            if (off < 8 || off >= (int64_t)size || off % 8)
                rc = fail(r, err, "a footer block outside the file (or not 8-byte aligned)", NULL);
            else
                r->blocks[r->n_blocks++] = off;
        }
    free(p);
    /* each dictionary message once: a dictionary block listed twice would keep its body twice
     * (a record batch's is dropped with its batch; pyarrow reads one listed twice twice) */
    size_t nd = rc ? 0 : n[0];
    int64_t *sorted = rc ? NULL : malloc((nd ? nd : 1) * sizeof *sorted);
    if (!rc && !sorted)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (sorted) {
        memcpy(sorted, r->blocks, nd * sizeof *sorted);
        qsort(sorted, nd, sizeof *sorted, cmp_i64);
        for (size_t i = 1; !rc && i < nd; i++)
            if (sorted[i] == sorted[i - 1])
                rc = fail(r, err, "a footer listing one dictionary twice", NULL);
        free(sorted);
    }
    return rc;
}

int mill_arrow_open_stream(FILE *f, const char *name, const char *const *columns, void **state,
                           struct mill_err *err) {
    struct arrow *r = calloc(1, sizeof *r);
    *state = NULL;
    if (!r || !(r->path = strdup(name))) {
        free(r);
        fclose(f);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    r->f = f;
    r->columns = columns;
    if (fseeko(f, 0, SEEK_END) != 0 || (r->size = ftello(f)) < 0 || fseeko(f, 0, SEEK_SET) != 0) {
        arrow_close(r);
        return mill_err_set(err, MILL_EIO, "%s: cannot seek: %s", name, strerror(errno));
    }
    uint8_t magic[8];
    size_t got = fread(magic, 1, sizeof magic, f);
    int rc;
    if (got == sizeof magic && !memcmp(magic, "ARROW1\0\0", 8)) {
        if ((rc = read_footer(r, err))) {
            arrow_close(r);
            return rc;
        }
        *state = r;
        return 0;
    } else if (got >= 4 && (rd32(magic) == 0xFFFFFFFFu || rd32(magic) < META_MAX)) {
        if (fseek(f, 0, SEEK_SET) != 0) {
            arrow_close(r);
            return mill_err_set(err, MILL_EIO, "%s: cannot rewind", name);
        }
    } else {
        arrow_close(r);
        return mill_err_set(err, MILL_EFORMAT, "%s: not an Arrow IPC stream or file", name);
    }
    while ((rc = next_message(r, err)) == 2 && !r->have_schema)
        ;
    if (rc >= 0 && !r->have_schema)
        rc = fail(r, err, "no schema", NULL);
    if (rc < 0) {
        arrow_close(r);
        return rc;
    }
    r->eos = rc == 0;
    *state = r;
    return 0;
}

static int arrow_open(const char *path, const char *const *columns, void **state,
                      struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    *state = NULL;
    if (!f)
        return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(errno));
    return mill_arrow_open_stream(f, path, columns, state, err);
}

static int arrow_next(void *state, struct mill_value *row, struct mill_err *err) {
    struct arrow *r = state;
    while (r->next >= r->rows) {
        if (r->eos)
            return 0;
        int rc = next_message(r, err);
        if (rc < 0)
            return rc;
        r->eos = rc == 0;
    }
    int rc = struct_of(r, r->cols, &r->root, r->next, r->columns, row, err);
    if (rc)
        return rc;
    r->next++;
    return 1;
}

const struct mill_reader_ops mill_reader_arrow = {"arrow", arrow_open, arrow_next, arrow_close};
