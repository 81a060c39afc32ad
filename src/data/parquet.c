/* parquet.c: Mill's own Parquet reader (contract in parquet.h): a Thrift compact reader for the
 * footer and page headers, the schema tree with definition/repetition levels, page decoding
 * (v1, v2, dictionaries, the common encodings and codecs) into typed arrays one page per column
 * at a time, and Dremel record assembly into mill_value rows.
 *
 * Must not trust the file: every read is bounds-checked against its buffer, sizes and counts are
 * capped, and corrupt input becomes MILL_EFORMAT naming the file (and the column and row group
 * where known), never a crash or a silently wrong row. Must not read column chunks outside the
 * projection, nor read past a chunk's total_compressed_size (DuckDB writes a page index after
 * the pages). Not thread-safe per reader. */
#include "data/parquet.h"

#include "core/decimal.h"

#include <mill/value.h>

#include <brotli/decode.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <limits.h>
#include <math.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define FOOTER_MAX ((uint32_t)64 << 20)     /* bytes of FileMetaData */
#define PAGE_MAX ((int64_t)1 << 30)         /* bytes of one page, compressed or not */
#define PAGE_ENTRIES_MAX ((int64_t)1 << 24) /* entries (values, nulls) of one page */
#define THRIFT_DEPTH_MAX 32                 /* nesting of Thrift structs and lists */
#define SCHEMA_DEPTH_MAX 64                 /* nesting of schema groups (levels fit a byte) */
#define DECIMAL_MAX_SCALE 1000    /* digits after the point; the spec bounds it by the precision */
#define SCHEMA_MAX 100000         /* schema elements */
#define DBA_MAX ((size_t)1 << 28) /* bytes DELTA_BYTE_ARRAY may expand one page into */

/* Parquet enums (parquet.thrift). */
enum { T_BOOLEAN, T_INT32, T_INT64, T_INT96, T_FLOAT, T_DOUBLE, T_BYTE_ARRAY, T_FLBA };
enum { R_REQUIRED, R_OPTIONAL, R_REPEATED };
enum {
    CV_UTF8 = 0,
    CV_MAP = 1,
    CV_MAP_KEY_VALUE = 2,
    CV_LIST = 3,
    CV_ENUM = 4,
    CV_DECIMAL = 5,
    CV_UINT_32 = 13,
    CV_UINT_64 = 14,
    CV_JSON = 19
};
enum {
    LT_STRING = 1,
    LT_MAP = 2,
    LT_LIST = 3,
    LT_ENUM = 4,
    LT_DECIMAL = 5,
    LT_INTEGER = 10,
    LT_JSON = 12,
    LT_FLOAT16 = 15
};
enum {
    E_PLAIN = 0,
    E_PLAIN_DICT = 2,
    E_RLE = 3,
    E_BIT_PACKED = 4,
    E_DELTA_BINARY = 5,
    E_DELTA_LENGTH = 6,
    E_DELTA_BYTE_ARRAY = 7,
    E_RLE_DICT = 8,
    E_BYTE_STREAM_SPLIT = 9
};
enum { PG_DATA = 0, PG_INDEX = 1, PG_DICT = 2, PG_DATA_V2 = 3 };
enum {
    C_NONE = 0,
    C_SNAPPY = 1,
    C_GZIP = 2,
    C_LZO = 3,
    C_BROTLI = 4,
    C_LZ4 = 5,
    C_ZSTD = 6,
    C_LZ4_RAW = 7
};

/* ---- Thrift compact protocol ---- */

enum {
    CT_STOP,
    CT_TRUE,
    CT_FALSE,
    CT_BYTE,
    CT_I16,
    CT_I32,
    CT_I64,
    CT_DOUBLE,
    CT_BINARY,
    CT_LIST,
    CT_SET,
    CT_MAP,
    CT_STRUCT,
    CT_UUID
};

struct tr {
    const uint8_t *p, *end;
    int depth; /* structs and lists entered */
    bool bad;  /* a read ran past the end or met a malformed value; reads then return 0 */
};

static uint64_t tr_varint(struct tr *t) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && t->p < t->end; shift += 7) {
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    t->bad = true;
    return 0;
}

static int64_t tr_zigzag(struct tr *t) {
    uint64_t u = tr_varint(t);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void tr_advance(struct tr *t, uint64_t n) {
    if (n > (uint64_t)(t->end - t->p)) {
        t->bad = true;
        t->p = t->end;
    } else {
        t->p += n;
    }
}

/* Reads a field header; returns its type (CT_STOP at the end or on error), *id the field id. */
static int tr_field(struct tr *t, int *last, int *id) {
    if (t->bad || t->p >= t->end) {
        t->bad = true;
        return CT_STOP;
    }
    uint8_t b = *t->p++;
    int type = b & 0x0f, delta = b >> 4;
    if (type == CT_STOP)
        return CT_STOP;
    if (delta) {
        *id = *last + delta;
    } else {
        int64_t v = tr_zigzag(t);
        *id = v >= INT16_MIN && v <= INT16_MAX ? (int)v : -1;
    }
    *last = *id;
    return t->bad ? CT_STOP : type;
}

/* Reads a list or set header; returns the element count (each element takes a byte at least,
 * so the count is capped by the bytes left), *etype the element type. */
static uint32_t tr_list(struct tr *t, int *etype) {
    if (t->p >= t->end) {
        t->bad = true;
        return 0;
    }
    uint8_t b = *t->p++;
    uint64_t n = b >> 4;
    *etype = b & 0x0f;
    if (n == 15)
        n = tr_varint(t);
    if (n > (uint64_t)(t->end - t->p)) {
        t->bad = true;
        return 0;
    }
    return (uint32_t)n;
}

static void tr_bin(struct tr *t, const uint8_t **p, uint32_t *n) {
    uint64_t len = tr_varint(t);
    *p = t->p;
    *n = 0;
    if (len > UINT32_MAX) {
        t->bad = true;
        return;
    }
    tr_advance(t, len);
    if (!t->bad)
        *n = (uint32_t)len;
}

static void tr_skip(struct tr *t, int type, bool in_list);

static void tr_skip_struct(struct tr *t) {
    if (++t->depth > THRIFT_DEPTH_MAX) {
        t->bad = true;
        return;
    }
    int last = 0, id, type;
    while ((type = tr_field(t, &last, &id)) != CT_STOP)
        tr_skip(t, type, false);
    t->depth--;
}

static void tr_skip_list(struct tr *t) {
    int et;
    uint32_t n = tr_list(t, &et);
    if (++t->depth > THRIFT_DEPTH_MAX) {
        t->bad = true;
        return;
    }
    for (uint32_t i = 0; i < n && !t->bad; i++)
        tr_skip(t, et, true);
    t->depth--;
}

static void tr_skip_map(struct tr *t) {
    uint64_t n = tr_varint(t);
    if (n == 0)
        return;
    if (n > (uint64_t)(t->end - t->p) || ++t->depth > THRIFT_DEPTH_MAX) {
        t->bad = true;
        return;
    }
    uint8_t kv = t->p < t->end ? *t->p++ : 0;
    for (uint64_t i = 0; i < n && !t->bad; i++) {
        tr_skip(t, kv >> 4, true);
        tr_skip(t, kv & 0x0f, true);
    }
    t->depth--;
}

/* Skips a value of the given type (in a list, booleans take a byte). */
static void tr_skip(struct tr *t, int type, bool in_list) {
    switch (type) {
    case CT_TRUE:
    case CT_FALSE:
        if (in_list)
            tr_advance(t, 1);
        break;
    case CT_BYTE: tr_advance(t, 1); break;
    case CT_I16:
    case CT_I32:
    case CT_I64: tr_varint(t); break;
    case CT_DOUBLE: tr_advance(t, 8); break;
    case CT_BINARY: {
        const uint8_t *p;
        uint32_t n;
        tr_bin(t, &p, &n);
        break;
    }
    case CT_LIST:
    case CT_SET: tr_skip_list(t); break;
    case CT_MAP: tr_skip_map(t); break;
    case CT_STRUCT: tr_skip_struct(t); break;
    case CT_UUID: tr_advance(t, 16); break;
    default: t->bad = true;
    }
}

/* An integer field of any integer type (enums are i32). */
static int64_t tr_int(struct tr *t, int type) {
    if (type == CT_BYTE) {
        if (t->p >= t->end) {
            t->bad = true;
            return 0;
        }
        return (int8_t)*t->p++;
    }
    if (type == CT_I16 || type == CT_I32 || type == CT_I64)
        return tr_zigzag(t);
    t->bad = true;
    return 0;
}

/* An i32 field, clamped into int range by rejecting the rest. */
static int tr_i32(struct tr *t, int type) {
    int64_t v = tr_int(t, type);
    if (v < INT32_MIN || v > INT32_MAX) {
        t->bad = true;
        return 0;
    }
    return (int)v;
}

static bool tr_bool(struct tr *t, int type) {
    if (type != CT_TRUE && type != CT_FALSE)
        t->bad = true;
    return type == CT_TRUE;
}

/* ---- footer structures ---- */

struct span {
    const uint8_t *p;
    uint32_t n;
};

struct sel { /* a SchemaElement */
    struct span name;
    int type; /* physical type, -1 for a group */
    int type_length;
    int repetition;    /* R_*, -1 when absent (the root) */
    int num_children;  /* -1 when absent */
    int converted;     /* ConvertedType, -1 when absent */
    int logical;       /* the LogicalType union's field id, 0 when absent */
    int scale;         /* DECIMAL scale */
    bool log_unsigned; /* LogicalType INTEGER with isSigned = false */
    int log_bits;      /* its bitWidth */
};

struct chunk { /* a ColumnChunk and its ColumnMetaData */
    int type, codec;
    int64_t num_values, compressed_size, data_off, dict_off; /* dict_off -1 when absent */
    struct span *path; /* path_in_schema, pointing into the footer */
    uint32_t npath;
    bool has_meta, external, encrypted;
};

struct rowgroup {
    struct chunk *cols;
    uint32_t ncols;
    int64_t num_rows;
};

struct kv {
    char *key, *val; /* owned, NUL-terminated; val NULL when absent */
    size_t vlen;
};

struct leaf;
struct anode;
struct colrd;

struct mill_parquet {
    char *name;    /* the file's name in messages */
    uint8_t *data; /* the file's bytes (mapped or an owned copy) */
    size_t size;
    bool mapped;
    struct sel *schema; /* the flattened schema tree, schema[0] the root */
    uint32_t nschema;
    struct rowgroup *rgs;
    uint32_t nrg;
    int64_t num_rows;
    struct kv *kvs;
    uint32_t nkv;
    bool encrypted;
    struct leaf *leaves; /* all leaf columns in schema order */
    int nleaves;
    struct anode *top; /* the projected top-level fields, in schema order */
    int ntop;
    struct colrd *cols;  /* readers of the projected leaves, by leaf index */
    int rg;              /* the row group being read, -1 before the first */
    int64_t rg_row;      /* rows of it already returned */
    int failed;          /* the sticky error, 0 while healthy */
    struct mill_err err; /* its message */
};

static int fmt_err(struct mill_parquet *pq, struct mill_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* MILL_EFORMAT naming the file. */
static int fmt_err(struct mill_parquet *pq, struct mill_err *err, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mill_err_set(err, MILL_EFORMAT, "%s: %s", pq->name, msg);
}

/* ---- footer decoding ---- */

static void read_logical(struct tr *t, struct sel *s) {
    int last = 0, id, type;
    if (++t->depth > THRIFT_DEPTH_MAX) {
        t->bad = true;
        return;
    }
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (type != CT_STRUCT) {
            tr_skip(t, type, false);
            continue;
        }
        s->logical = id;
        int l2 = 0, id2, ty2;
        t->depth++;
        while ((ty2 = tr_field(t, &l2, &id2)) != CT_STOP) {
            if (id == LT_INTEGER && id2 == 1)
                s->log_bits = (int)tr_int(t, ty2);
            else if (id == LT_INTEGER && id2 == 2)
                s->log_unsigned = !tr_bool(t, ty2);
            else if (id == LT_DECIMAL && id2 == 1)
                s->scale = tr_i32(t, ty2);
            else
                tr_skip(t, ty2, false);
        }
        t->depth--;
    }
    t->depth--;
}

static void read_sel(struct tr *t, struct sel *s) {
    int last = 0, id, type;
    *s = (struct sel){.type = -1, .repetition = -1, .num_children = -1, .converted = -1};
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        switch (id) {
        case 1: s->type = tr_i32(t, type); break;
        case 2: s->type_length = tr_i32(t, type); break;
        case 3: s->repetition = tr_i32(t, type); break;
        case 4: type == CT_BINARY ? tr_bin(t, &s->name.p, &s->name.n) : tr_skip(t, type, 0); break;
        case 5: s->num_children = tr_i32(t, type); break;
        case 6: s->converted = tr_i32(t, type); break;
        case 7:
            if (s->logical != LT_DECIMAL)
                s->scale = tr_i32(t, type);
            else
                tr_skip(t, type, false);
            break;
        case 10: type == CT_STRUCT ? read_logical(t, s) : tr_skip(t, type, false); break;
        default: tr_skip(t, type, false);
        }
    }
}

static void read_path(struct tr *t, struct chunk *c) {
    int et;
    uint32_t n = tr_list(t, &et);
    if (t->bad || et != CT_BINARY || n > SCHEMA_DEPTH_MAX || c->path) {
        t->bad = true;
        return;
    }
    if (n && !(c->path = calloc(n, sizeof *c->path))) {
        t->bad = true;
        return;
    }
    c->npath = n;
    for (uint32_t i = 0; i < n; i++)
        tr_bin(t, &c->path[i].p, &c->path[i].n);
}

static void read_colmeta(struct tr *t, struct chunk *c) {
    int last = 0, id, type;
    c->has_meta = true;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        switch (id) {
        case 1: c->type = tr_i32(t, type); break;
        case 3: type == CT_LIST ? read_path(t, c) : tr_skip(t, type, false); break;
        case 4: c->codec = tr_i32(t, type); break;
        case 5: c->num_values = tr_int(t, type); break;
        case 7: c->compressed_size = tr_int(t, type); break;
        case 9: c->data_off = tr_int(t, type); break;
        case 11: c->dict_off = tr_int(t, type); break;
        default: tr_skip(t, type, false);
        }
    }
}

static void read_chunk(struct tr *t, struct chunk *c) {
    int last = 0, id, type;
    c->dict_off = -1;
    c->data_off = -1;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (id == 1 && type == CT_BINARY) {
            const uint8_t *p;
            uint32_t n;
            tr_bin(t, &p, &n);
            c->external = n > 0;
        } else if (id == 3 && type == CT_STRUCT && !c->has_meta) {
            t->depth++;
            read_colmeta(t, c);
            t->depth--;
        } else {
            c->encrypted |= id == 8 || id == 9;
            tr_skip(t, type, false);
        }
    }
}

static void read_rowgroup(struct tr *t, struct rowgroup *rg) {
    int last = 0, id, type, et;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (id == 1 && type == CT_LIST && !rg->cols) {
            uint32_t n = tr_list(t, &et);
            if (t->bad || et != CT_STRUCT || (n && !(rg->cols = calloc(n, sizeof *rg->cols)))) {
                t->bad = true;
                return;
            }
            rg->ncols = n;
            t->depth++;
            for (uint32_t i = 0; i < n && !t->bad; i++)
                read_chunk(t, &rg->cols[i]);
            t->depth--;
        } else if (id == 3) {
            rg->num_rows = tr_int(t, type);
        } else {
            tr_skip(t, type, false);
        }
    }
}

static void read_kv(struct tr *t, struct kv *kv) {
    int last = 0, id, type;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        const uint8_t *p;
        uint32_t n;
        if ((id != 1 && id != 2) || type != CT_BINARY || (id == 1 ? kv->key : kv->val)) {
            tr_skip(t, type, false);
            continue;
        }
        tr_bin(t, &p, &n);
        char *s = t->bad ? NULL : strndup((const char *)p, n);
        if (!s) {
            t->bad = true;
            return;
        }
        if (id == 1) {
            kv->key = s;
        } else {
            kv->val = s;
            kv->vlen = n;
        }
    }
}

/* Reads a list<struct> field into a fresh array of *n elements of size sz. */
static void *read_struct_list(struct tr *t, size_t sz, uint32_t *n) {
    int et;
    *n = tr_list(t, &et);
    if (t->bad || et != CT_STRUCT) {
        t->bad = true;
        *n = 0;
        return NULL;
    }
    void *a = calloc(*n ? *n : 1, sz);
    if (!a)
        t->bad = true;
    return a;
}

static void read_filemeta(struct tr *t, struct mill_parquet *pq) {
    int last = 0, id, type;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (id == 2 && type == CT_LIST && !pq->schema) {
            pq->schema = read_struct_list(t, sizeof *pq->schema, &pq->nschema);
            t->depth++;
            for (uint32_t i = 0; i < pq->nschema && !t->bad; i++)
                read_sel(t, &pq->schema[i]);
            t->depth--;
        } else if (id == 3) {
            pq->num_rows = tr_int(t, type);
        } else if (id == 4 && type == CT_LIST && !pq->rgs) {
            pq->rgs = read_struct_list(t, sizeof *pq->rgs, &pq->nrg);
            t->depth++;
            for (uint32_t i = 0; i < pq->nrg && !t->bad; i++)
                read_rowgroup(t, &pq->rgs[i]);
            t->depth--;
        } else if (id == 5 && type == CT_LIST && !pq->kvs) {
            pq->kvs = read_struct_list(t, sizeof *pq->kvs, &pq->nkv);
            t->depth++;
            for (uint32_t i = 0; i < pq->nkv && !t->bad; i++)
                read_kv(t, &pq->kvs[i]);
            t->depth--;
        } else {
            pq->encrypted |= id == 8;
            tr_skip(t, type, false);
        }
    }
}

/* Checks the magic bytes and decodes FileMetaData. */
static int read_footer(struct mill_parquet *pq, struct mill_err *err) {
    const uint8_t *d = pq->data;
    size_t n = pq->size;
    if (n < 12)
        return fmt_err(pq, err, "too short for a Parquet file (%zu bytes)", n);
    if (!memcmp(d + n - 4, "PARE", 4))
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: encrypted Parquet footers are not "
                            "supported",
                            pq->name);
    if (memcmp(d, "PAR1", 4) || memcmp(d + n - 4, "PAR1", 4))
        return fmt_err(pq, err, "not a Parquet file (bad magic bytes)");
    uint32_t len = (uint32_t)d[n - 8] | (uint32_t)d[n - 7] << 8 | (uint32_t)d[n - 6] << 16 |
                   (uint32_t)d[n - 5] << 24;
    if (len > n - 12 || len > FOOTER_MAX)
        return fmt_err(pq, err, "footer length %u does not fit the file (%zu bytes)", len, n);
    struct tr t = {.p = d + n - 8 - len, .end = d + n - 8};
    read_filemeta(&t, pq);
    if (t.bad)
        return fmt_err(pq, err, "corrupt footer (FileMetaData)");
    if (pq->encrypted)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: encrypted Parquet files are not "
                            "supported",
                            pq->name);
    if (!pq->schema || pq->nschema == 0 || pq->nschema > SCHEMA_MAX || pq->num_rows < 0)
        return fmt_err(pq, err, "footer lacks a schema or row count");
    return 0;
}

/* ---- schema tree ---- */

enum { K_BOOL, K_INT, K_UINT32, K_UINT64, K_FLOAT, K_DECIMAL, K_FLOAT16, K_STR, K_BYTES };

struct snode { /* the schema tree over pq->schema */
    int *kids; /* schema indices of the children */
    int nkids;
    int def, rep;     /* max definition and repetition levels */
    int leaf0, nleaf; /* the leaf columns below, in schema order */
};

struct leaf { /* one leaf column */
    int sel;  /* its schema element */
    int top;  /* the schema index of its top-level field */
    int max_def, max_rep;
    int type, type_length;
    int kind;                   /* K_*: the value it becomes */
    int scale;                  /* K_DECIMAL: digits after the point */
    int depth;                  /* path length below the root */
    int path[SCHEMA_DEPTH_MAX]; /* schema indices from the top-level field down to it */
};

enum { A_LEAF, A_STRUCT, A_LIST };

struct anode { /* the assembly tree of the projected columns */
    int kind;
    char *name;         /* the field name (owned) */
    bool nullable;      /* an OPTIONAL node: null when the definition level is below def */
    int def;            /* the definition level at which the node is non-null */
    int rdef, rrep;     /* A_LIST: definition level of a non-empty list, its repetition level */
    int leaf0, nleaf;   /* the leaves below, [leaf0, leaf0 + nleaf) */
    struct anode *kids; /* A_STRUCT: the fields; A_LIST: kids[0] is the element */
    int nkids;
};

static bool span_eq(struct span a, const char *s) {
    return strlen(s) == a.n && !memcmp(a.p, s, a.n);
}

static int leaf_kind(const struct sel *s) {
    int cv = s->converted, lt = s->logical;
    if (cv == CV_DECIMAL || lt == LT_DECIMAL) /* the spec's four physical types, no other */
        return s->type == T_INT32 || s->type == T_INT64 || s->type == T_BYTE_ARRAY ||
                       s->type == T_FLBA
                   ? K_DECIMAL
                   : -1;
    switch (s->type) {
    case T_BOOLEAN: return K_BOOL;
    case T_INT32:
        return cv == CV_UINT_32 || (lt == LT_INTEGER && s->log_unsigned) ? K_UINT32 : K_INT;
    case T_INT64:
        return cv == CV_UINT_64 || (lt == LT_INTEGER && s->log_unsigned) ? K_UINT64 : K_INT;
    case T_INT96: return K_INT;
    case T_FLOAT:
    case T_DOUBLE: return K_FLOAT;
    case T_BYTE_ARRAY:
        /* as Arrow maps them (pyarrow, so datasets): ENUM and BSON are binary */
        return cv == CV_UTF8 || cv == CV_JSON || lt == LT_STRING || lt == LT_JSON ? K_STR : K_BYTES;
    case T_FLBA: return lt == LT_FLOAT16 && s->type_length == 2 ? K_FLOAT16 : K_BYTES;
    default: return -1;
    }
}

struct tree { /* state of the schema walk */
    struct mill_parquet *pq;
    struct snode *sn;
    uint32_t pos; /* the next schema element */
    int path[SCHEMA_DEPTH_MAX];
    int top;
};

static int add_leaf(struct tree *tr, int si, int depth, struct mill_err *err) {
    struct mill_parquet *pq = tr->pq;
    const struct sel *s = &pq->schema[si];
    struct leaf *l = &pq->leaves[pq->nleaves];
    int kind = leaf_kind(s);
    if (kind < 0 || (s->type == T_FLBA && (s->type_length <= 0 || s->type_length > (1 << 20))) ||
        (kind == K_DECIMAL && (s->scale < 0 || s->scale > DECIMAL_MAX_SCALE)))
        return fmt_err(pq, err, "schema: column %.*s has an invalid type", (int)s->name.n,
                       (const char *)s->name.p);
    *l = (struct leaf){.sel = si,
                       .top = tr->top,
                       .max_def = tr->sn[si].def,
                       .max_rep = tr->sn[si].rep,
                       .type = s->type,
                       .kind = kind,
                       .type_length = s->type_length,
                       .depth = depth,
                       .scale = s->scale};
    memcpy(l->path, tr->path, sizeof l->path);
    tr->sn[si].leaf0 = pq->nleaves++;
    tr->sn[si].nleaf = 1;
    return 0;
}

/* Walks the element at tr->pos and its subtree (depth: its path length below the root). */
static int walk(struct tree *tr, int parent, int depth, struct mill_err *err) {
    struct mill_parquet *pq = tr->pq;
    if (tr->pos >= pq->nschema || depth > SCHEMA_DEPTH_MAX)
        return fmt_err(pq, err, "schema: truncated or nested too deeply");
    int si = (int)tr->pos++;
    const struct sel *s = &pq->schema[si];
    struct snode *n = &tr->sn[si];
    int rep = parent < 0 ? R_REQUIRED : s->repetition;
    if (rep < R_REQUIRED || rep > R_REPEATED || (parent >= 0 && !s->name.p))
        return fmt_err(pq, err, "schema: element %d lacks a name or repetition type", si);
    n->def = (parent < 0 ? 0 : tr->sn[parent].def) + (rep != R_REQUIRED);
    n->rep = (parent < 0 ? 0 : tr->sn[parent].rep) + (rep == R_REPEATED);
    if (depth > 0)
        tr->path[depth - 1] = si;
    if (depth == 1)
        tr->top = si;
    if (s->num_children <= 0 && s->type >= 0 && parent >= 0)
        return add_leaf(tr, si, depth, err);
    if (s->num_children < 0 || (uint32_t)s->num_children > pq->nschema - tr->pos)
        return fmt_err(pq, err, "schema: element %d has a bad child count", si);
    n->leaf0 = pq->nleaves;
    if (s->num_children && !(n->kids = calloc((size_t)s->num_children, sizeof *n->kids)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (int i = 0; i < s->num_children; i++) {
        n->kids[n->nkids++] = (int)tr->pos;
        int rc = walk(tr, si, depth + 1, err);
        if (rc)
            return rc;
    }
    n->nleaf = pq->nleaves - n->leaf0;
    return 0;
}

static bool is_list(const struct sel *s) {
    return s->converted == CV_LIST || s->logical == LT_LIST;
}

static bool is_map(const struct sel *s) {
    return s->converted == CV_MAP || s->converted == CV_MAP_KEY_VALUE || s->logical == LT_MAP;
}

static int build_anode(struct mill_parquet *pq, const struct snode *sn, int si, int pdef, int prep,
                       bool as_elem, struct anode *a, struct mill_err *err);

static int alloc_kids(struct anode *a, int n, struct mill_err *err) {
    if (!(a->kids = calloc((size_t)(n ? n : 1), sizeof *a->kids)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    a->nkids = n;
    return 0;
}

/* The element of a LIST- or MAP-annotated group whose only child r is repeated: the rules of
 * the Parquet spec for 3-level lists and the legacy 2-level forms. */
static int build_list(struct mill_parquet *pq, const struct snode *sn, int si, struct anode *a,
                      int prep, struct mill_err *err) {
    const struct sel *s = &pq->schema[si];
    int r = sn[si].kids[0];
    const struct sel *rs = &pq->schema[r];
    a->kind = A_LIST;
    a->rdef = a->def + 1;
    a->rrep = prep + 1;
    int rc = alloc_kids(a, 1, err);
    if (rc)
        return rc;
    bool three = is_list(s) && rs->num_children == 1 && !span_eq(rs->name, "array") &&
                 !(rs->name.n == s->name.n + 6 && !memcmp(rs->name.p, s->name.p, s->name.n) &&
                   !memcmp(rs->name.p + s->name.n, "_tuple", 6));
    if (three)
        return build_anode(pq, sn, sn[r].kids[0], a->rdef, a->rrep, false, a->kids, err);
    return build_anode(pq, sn, r, a->rdef, a->rrep, true, a->kids, err);
}

/* Builds the assembly node of schema element si; as_elem: a repeated element whose repetition
 * an enclosing A_LIST already handles. */
static int build_anode(struct mill_parquet *pq, const struct snode *sn, int si, int pdef, int prep,
                       bool as_elem, struct anode *a, struct mill_err *err) {
    const struct sel *s = &pq->schema[si];
    if (!(a->name = strndup((const char *)s->name.p, s->name.n)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    a->leaf0 = sn[si].leaf0;
    a->nleaf = sn[si].nleaf;
    if (a->nleaf == 0)
        return mill_err_set(err, MILL_EUNSUPPORTED, "%s: column %s has no leaf columns", pq->name,
                            a->name);
    int rep = as_elem ? R_REQUIRED : s->repetition;
    if (rep == R_REPEATED) {
        a->kind = A_LIST;
        a->def = pdef;
        a->rdef = pdef + 1;
        a->rrep = prep + 1;
        int rc = alloc_kids(a, 1, err);
        return rc ? rc : build_anode(pq, sn, si, pdef + 1, prep + 1, true, a->kids, err);
    }
    a->nullable = rep == R_OPTIONAL;
    a->def = pdef + a->nullable;
    if (sn[si].nkids == 0) {
        a->kind = A_LEAF;
        return 0;
    }
    if ((is_list(s) || is_map(s)) && sn[si].nkids == 1 &&
        pq->schema[sn[si].kids[0]].repetition == R_REPEATED)
        return build_list(pq, sn, si, a, prep, err);
    a->kind = A_STRUCT;
    int rc = alloc_kids(a, sn[si].nkids, err);
    for (int i = 0; i < sn[si].nkids && !rc; i++)
        rc = build_anode(pq, sn, sn[si].kids[i], a->def, prep, false, &a->kids[i], err);
    return rc;
}

static void free_anode(struct anode *a) {
    for (int i = 0; a->kids && i < a->nkids; i++)
        free_anode(&a->kids[i]);
    free(a->kids);
    free(a->name);
}

static bool wanted(const struct sel *s, const char *const *columns) {
    if (!columns)
        return true;
    for (size_t i = 0; columns[i]; i++)
        if (span_eq(s->name, columns[i]))
            return true;
    return false;
}

/* Every requested column must exist among the top-level fields. */
static int check_columns(struct mill_parquet *pq, const struct snode *sn,
                         const char *const *columns, struct mill_err *err) {
    for (size_t i = 0; columns && columns[i]; i++) {
        bool found = false;
        for (int k = 0; k < sn[0].nkids && !found; k++)
            found = span_eq(pq->schema[sn[0].kids[k]].name, columns[i]);
        if (!found)
            return mill_err_set(err, MILL_ENOTFOUND, "%s: no column %s", pq->name, columns[i]);
    }
    return 0;
}

static int build_top(struct mill_parquet *pq, const struct snode *sn, const char *const *columns,
                     struct mill_err *err) {
    int rc = check_columns(pq, sn, columns, err);
    if (rc)
        return rc;
    if (!(pq->top = calloc((size_t)sn[0].nkids + 1, sizeof *pq->top)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (int k = 0; k < sn[0].nkids && !rc; k++) {
        int si = sn[0].kids[k];
        if (wanted(&pq->schema[si], columns))
            rc = build_anode(pq, sn, si, 0, 0, false, &pq->top[pq->ntop++], err);
    }
    return rc;
}

/* Builds the leaves and the assembly tree of the projection. */
static int build_schema(struct mill_parquet *pq, const char *const *columns, struct mill_err *err) {
    struct snode *sn = calloc(pq->nschema, sizeof *sn);
    pq->leaves = calloc(pq->nschema, sizeof *pq->leaves);
    if (!sn || !pq->leaves) {
        free(sn);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    struct tree tr = {.pq = pq, .sn = sn};
    int rc = walk(&tr, -1, 0, err);
    if (!rc && tr.pos != pq->nschema)
        rc = fmt_err(pq, err, "schema: %u elements outside the tree", pq->nschema - tr.pos);
    if (!rc)
        rc = build_top(pq, sn, columns, err);
    for (uint32_t i = 0; i < pq->nschema; i++)
        free(sn[i].kids);
    free(sn);
    return rc;
}

/* ---- opening ---- */

static int cols_init(struct mill_parquet *pq, struct mill_err *err);
static void cols_free(struct mill_parquet *pq);
static int read_row(struct mill_parquet *pq, struct mill_value *row, struct mill_err *err);

static bool path_matches(const struct mill_parquet *pq, const struct leaf *l,
                         const struct chunk *c) {
    if (c->npath != (uint32_t)l->depth)
        return false;
    for (int i = 0; i < l->depth; i++) {
        struct span a = c->path[i], b = pq->schema[l->path[i]].name;
        if (a.n != b.n || memcmp(a.p, b.p, a.n))
            return false;
    }
    return true;
}

static int check_chunk(struct mill_parquet *pq, uint32_t g, int li, struct mill_err *err) {
    const struct leaf *l = &pq->leaves[li];
    const struct chunk *c = &pq->rgs[g].cols[li];
    const struct sel *top = &pq->schema[l->top];
    if (c->external || c->encrypted)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s: column %.*s, row group %u: %s column "
                            "chunks are not supported",
                            pq->name, (int)top->name.n, (const char *)top->name.p, g,
                            c->external ? "external" : "encrypted");
    if (!c->has_meta || c->type != l->type || !path_matches(pq, l, c) || c->num_values < 0 ||
        c->compressed_size < 0 ||
        (c->num_values > 0 && (c->compressed_size == 0 || c->data_off < 0)))
        return fmt_err(pq, err,
                       "column %.*s, row group %u: column chunk metadata does not match "
                       "the schema",
                       (int)top->name.n, (const char *)top->name.p, g);
    return 0;
}

/* The row groups must have a chunk per leaf; the projected ones must match the schema. */
static int check_rowgroups(struct mill_parquet *pq, struct mill_err *err) {
    for (uint32_t g = 0; g < pq->nrg; g++) {
        const struct rowgroup *rg = &pq->rgs[g];
        if (rg->ncols != (uint32_t)pq->nleaves || rg->num_rows < 0)
            return fmt_err(pq, err, "row group %u has %u column chunks for %d columns", g,
                           rg->ncols, pq->nleaves);
        for (int t = 0; t < pq->ntop; t++) {
            const struct anode *a = &pq->top[t];
            for (int li = a->leaf0; li < a->leaf0 + a->nleaf; li++) {
                int rc = check_chunk(pq, g, li, err);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

static int open_common(struct mill_parquet *pq, const char *const *columns, struct mill_err *err) {
    int rc = read_footer(pq, err);
    if (!rc)
        rc = build_schema(pq, columns, err);
    if (!rc)
        rc = check_rowgroups(pq, err);
    if (!rc)
        rc = cols_init(pq, err);
    pq->rg = -1;
    return rc;
}

static struct mill_parquet *pq_new(const char *name, struct mill_err *err) {
    struct mill_parquet *pq = calloc(1, sizeof *pq);
    if (pq && !(pq->name = strdup(name ? name : "(memory)"))) {
        free(pq);
        pq = NULL;
    }
    if (!pq)
        mill_err_set(err, MILL_ENOMEM, "out of memory");
    return pq;
}

static int map_file(struct mill_parquet *pq, const char *path, struct mill_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return mill_err_set(err, e == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(e));
    }
    pq->size = (size_t)st.st_size;
    if (pq->size > 0) {
        void *m = mmap(NULL, pq->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return mill_err_set(err, MILL_EIO, "%s: mmap: %s", path, strerror(e));
        }
        pq->data = m;
        pq->mapped = true;
    }
    close(fd);
    return 0;
}

int mill_parquet_open(const char *path, const char *const *columns, struct mill_parquet **pq,
                      struct mill_err *err) {
    *pq = NULL;
    if (!path)
        return mill_err_set(err, MILL_EINVAL, "parquet: no path");
    struct mill_parquet *p = pq_new(path, err);
    if (!p)
        return MILL_ENOMEM;
    int rc = map_file(p, path, err);
    if (!rc)
        rc = open_common(p, columns, err);
    if (rc) {
        mill_parquet_close(p);
        return rc;
    }
    *pq = p;
    return 0;
}

int mill_parquet_open_mem(const void *data, size_t n, const char *name, const char *const *columns,
                          struct mill_parquet **pq, struct mill_err *err) {
    *pq = NULL;
    struct mill_parquet *p = pq_new(name, err);
    if (!p)
        return MILL_ENOMEM;
    if (n && !(p->data = malloc(n))) {
        mill_parquet_close(p);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (n)
        memcpy(p->data, data, n);
    p->size = n;
    int rc = open_common(p, columns, err);
    if (rc) {
        mill_parquet_close(p);
        return rc;
    }
    *pq = p;
    return 0;
}

int64_t mill_parquet_num_rows(const struct mill_parquet *pq) { return pq ? pq->num_rows : 0; }

int mill_parquet_num_row_groups(const struct mill_parquet *pq) { return pq ? (int)pq->nrg : 0; }

const char *mill_parquet_kv(const struct mill_parquet *pq, const char *key, size_t *len) {
    for (uint32_t i = 0; pq && key && i < pq->nkv; i++) {
        if (pq->kvs[i].key && pq->kvs[i].val && !strcmp(pq->kvs[i].key, key)) {
            if (len)
                *len = pq->kvs[i].vlen;
            return pq->kvs[i].val;
        }
    }
    return NULL;
}

int mill_parquet_next(struct mill_parquet *pq, struct mill_value *row, struct mill_err *err) {
    mill_value_null(row);
    if (!pq)
        return mill_err_set(err, MILL_EINVAL, "parquet: no reader");
    if (pq->failed) {
        if (err)
            *err = pq->err;
        return pq->failed;
    }
    int rc = read_row(pq, row, &pq->err);
    if (rc < 0) {
        mill_value_free(row);
        pq->failed = rc;
        pq->err.code = rc;
        if (err)
            *err = pq->err;
    }
    return rc;
}

void mill_parquet_close(struct mill_parquet *pq) {
    if (!pq)
        return;
    cols_free(pq);
    for (int t = 0; pq->top && t < pq->ntop; t++)
        free_anode(&pq->top[t]);
    free(pq->top);
    for (uint32_t g = 0; pq->rgs && g < pq->nrg; g++) {
        for (uint32_t c = 0; pq->rgs[g].cols && c < pq->rgs[g].ncols; c++)
            free(pq->rgs[g].cols[c].path);
        free(pq->rgs[g].cols);
    }
    free(pq->rgs);
    for (uint32_t i = 0; pq->kvs && i < pq->nkv; i++) {
        free(pq->kvs[i].key);
        free(pq->kvs[i].val);
    }
    free(pq->kvs);
    free(pq->schema);
    free(pq->leaves);
    if (pq->mapped)
        munmap(pq->data, pq->size);
    else
        free(pq->data);
    free(pq->name);
    free(pq);
}

static int reader_open(const char *path, const char *const *columns, void **state,
                       struct mill_err *err) {
    struct mill_parquet *pq;
    int rc = mill_parquet_open(path, columns, &pq, err);
    *state = rc ? NULL : pq;
    return rc;
}

static int reader_next(void *state, struct mill_value *row, struct mill_err *err) {
    return mill_parquet_next(state, row, err);
}

static void reader_close(void *state) { mill_parquet_close(state); }

const struct mill_reader_ops mill_reader_parquet = {
    .name = "parquet",
    .open = reader_open,
    .next = reader_next,
    .close = reader_close,
};

/* ---- page buffers and codecs ---- */

union cell {       /* one decoded value */
    int64_t i;     /* BOOLEAN, INT32, INT64, INT96 (ns since the epoch) */
    double f;      /* FLOAT, DOUBLE; DECIMAL and FLOAT16 after conversion */
    struct span s; /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY */
};

struct colrd { /* the reader of one projected leaf column */
    struct mill_parquet *pq;
    const struct leaf *l;
    int rg;                   /* the row group of the chunk being read */
    const uint8_t *pos, *end; /* the chunk's unread pages */
    int64_t left;             /* level entries the chunk still owes */
    int codec;
    bool seen_data;   /* a data page was read (a dictionary page must come first) */
    union cell *dict; /* the dictionary of the chunk */
    uint32_t ndict;
    bool has_dict;
    uint8_t *dictbuf; /* its decompressed page */
    size_t dictcap;
    uint8_t *defs, *reps; /* the page's levels, NULL when the max level is 0 */
    size_t defcap, repcap;
    union cell *vals; /* the page's non-null values */
    size_t valcap;
    uint32_t *idx; /* scratch: decoded RLE runs (levels, dictionary indices) */
    size_t idxcap;
    int64_t *tmp; /* scratch: DELTA_BINARY_PACKED output */
    size_t tmpcap;
    uint8_t *pagebuf; /* the decompressed page */
    size_t pagecap;
    uint8_t *arena; /* bytes that DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT build */
    size_t arenacap;
    int64_t n, i;   /* level entries in the page, the cursor */
    int64_t nv, vi; /* values in the page, the cursor */
};

static int col_err(struct colrd *c, struct mill_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An error naming the file, the column and the row group. */
static int col_err(struct colrd *c, struct mill_err *err, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct span top = c->pq->schema[c->l->top].name;
    return mill_err_set(err, code, "%s: column %.*s, row group %d: %s", c->pq->name, (int)top.n,
                        (const char *)top.p, c->rg, msg);
}

/* Grows *p (elements of size sz, capacity *cap) to hold n; 0 or MILL_ENOMEM. */
static int reserve(void *pp, size_t *cap, size_t n, size_t sz) {
    void **p = pp;
    if (n <= *cap && *p)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c = c > SIZE_MAX / 4 ? n : c * 2;
    if (c > SIZE_MAX / sz)
        return MILL_ENOMEM;
    void *q = realloc(*p, c * sz);
    if (!q)
        return MILL_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static const char *codec_name(int codec) {
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                        "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

static int gunzip(const uint8_t *src, size_t n, uint8_t *dst, size_t out_n) {
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return MILL_ENOMEM;
    int rc = 0;
    size_t in_done = 0, out_done = 0;
    while (rc == 0) { /* avail_* are 32-bit: feed at most 1 GiB at a time */
        z.next_in = (Bytef *)(uintptr_t)(src + in_done);
        z.avail_in = (uInt)(n - in_done < PAGE_MAX ? n - in_done : PAGE_MAX);
        z.next_out = dst + out_done;
        z.avail_out = (uInt)(out_n - out_done < PAGE_MAX ? out_n - out_done : PAGE_MAX);
        int zr = inflate(&z, Z_NO_FLUSH);
        in_done = z.total_in;
        out_done = z.total_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK || (in_done == n && z.avail_out != 0) || out_done == out_n)
            rc = MILL_EFORMAT;
    }
    inflateEnd(&z);
    return rc ? rc : out_done == out_n ? 0 : MILL_EFORMAT;
}

/* LZ4 as parquet-mr and Arrow wrote the deprecated LZ4 codec: Hadoop's framing, blocks of
 * [uncompressed size, compressed size] (32-bit big-endian) then a raw LZ4 block. false when
 * the bytes are not such frames filling exactly out_n bytes. */
static bool lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t out_n) {
    size_t in = 0, out = 0;
    while (n - in >= 8) {
        size_t u = (size_t)src[in] << 24 | (size_t)src[in + 1] << 16 | (size_t)src[in + 2] << 8 |
                   src[in + 3];
        size_t c = (size_t)src[in + 4] << 24 | (size_t)src[in + 5] << 16 |
                   (size_t)src[in + 6] << 8 | src[in + 7];
        in += 8;
        if (c > n - in || u > out_n - out || c > INT_MAX || u > INT_MAX)
            return false;
        int got = LZ4_decompress_safe((const char *)src + in, (char *)dst + out, (int)c, (int)u);
        if (got < 0 || (size_t)got != u)
            return false;
        in += c;
        out += u;
    }
    return in == n && out == out_n;
}

/* One raw LZ4 block of n bytes that decompresses to exactly out_n. */
static bool lz4_block(const uint8_t *src, size_t n, uint8_t *dst, size_t out_n) {
    if (n > INT_MAX || out_n > INT_MAX)
        return false;
    int got = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)out_n);
    return got >= 0 && (size_t)got == out_n;
}

static bool unbrotli(const uint8_t *src, size_t n, uint8_t *dst, size_t out_n) {
    size_t got = out_n;
    return BrotliDecoderDecompress(n, src, &got, dst) == BROTLI_DECODER_RESULT_SUCCESS &&
           got == out_n;
}

/* Decompresses a page body of n bytes into out_n bytes in *buf (grown as needed); *out gets the
 * bytes (src itself when uncompressed). */
static int decompress(struct colrd *c, const uint8_t *src, size_t n, size_t out_n, uint8_t **buf,
                      size_t *cap, const uint8_t **out, struct mill_err *err) {
    if (c->codec == C_NONE) {
        if (n != out_n)
            return col_err(c, err, MILL_EFORMAT, "uncompressed page of %zu bytes declares %zu", n,
                           out_n);
        *out = src;
        return 0;
    }
    if (c->codec != C_SNAPPY && c->codec != C_ZSTD && c->codec != C_GZIP && c->codec != C_BROTLI &&
        c->codec != C_LZ4 && c->codec != C_LZ4_RAW)
        return col_err(c, err, MILL_EUNSUPPORTED, "unsupported compression codec %s (%d)",
                       codec_name(c->codec), c->codec);
    if (reserve(buf, cap, out_n + 1, 1))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    bool ok;
    if (c->codec == C_SNAPPY) {
        size_t len = 0;
        ok = snappy_uncompressed_length((const char *)src, n, &len) == SNAPPY_OK && len == out_n &&
             snappy_uncompress((const char *)src, n, (char *)*buf, &len) == SNAPPY_OK &&
             len == out_n;
    } else if (c->codec == C_ZSTD) {
        size_t r = ZSTD_decompress(*buf, out_n, src, n);
        ok = !ZSTD_isError(r) && r == out_n;
    } else if (c->codec == C_BROTLI) {
        ok = unbrotli(src, n, *buf, out_n);
    } else if (c->codec == C_LZ4_RAW) {
        ok = lz4_block(src, n, *buf, out_n);
    } else if (c->codec == C_LZ4) { /* Hadoop framing first, then a bare block, as Arrow */
        ok = lz4_hadoop(src, n, *buf, out_n) || lz4_block(src, n, *buf, out_n);
    } else {
        int rc = gunzip(src, n, *buf, out_n);
        if (rc == MILL_ENOMEM)
            return mill_err_set(err, rc, "out of memory");
        ok = rc == 0;
    }
    if (!ok)
        return col_err(c, err, MILL_EFORMAT,
                       "corrupt %s page (%zu bytes, %zu declared "
                       "uncompressed)",
                       codec_name(c->codec), n, out_n);
    *out = *buf;
    return 0;
}

/* ---- RLE / bit-packed hybrid ---- */

static inline uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ld64(const uint8_t *p) {
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

/* Reads bw <= 56 bits at bit offset bit of p (nbytes long; bytes past it read as zero). */
static inline uint64_t get_bits(const uint8_t *p, size_t nbytes, size_t bit, int bw) {
    size_t byte = bit >> 3;
    uint64_t w = 0;
    if (byte + 8 <= nbytes) {
        w = ld64(p + byte);
    } else {
        for (size_t j = 0; j < 8 && byte + j < nbytes; j++)
            w |= (uint64_t)p[byte + j] << (8 * j);
    }
    return (w >> (bit & 7)) & (((uint64_t)1 << bw) - 1);
}

/* Reads bw <= 64 bits at bit offset bit. */
static uint64_t get_bits64(const uint8_t *p, size_t nbytes, size_t bit, int bw) {
    if (bw <= 56)
        return get_bits(p, nbytes, bit, bw);
    uint64_t lo = get_bits(p, nbytes, bit, 32);
    return lo | get_bits(p, nbytes, bit + 32, bw - 32) << 32;
}

static bool rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Decodes n values of bit width bw (0..32) from the hybrid encoding in [p, p + len) into out.
 * NULL on success, else what went wrong. */
static const char *rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n) {
    const uint8_t *end = p + len;
    size_t k = 0, vbytes = ((size_t)bw + 7) / 8;
    while (k < n) {
        uint64_t h;
        if (!rd_varint(&p, end, &h))
            return "RLE run past the end of the page";
        if (h & 1) {
            uint64_t groups = h >> 1, avail = (uint64_t)(end - p);
            uint64_t nb = groups > avail ? avail : groups * (uint64_t)bw;
            nb = nb > avail ? avail : nb;
            uint64_t cnt = bw ? nb * 8 / (uint64_t)bw : groups * 8;
            cnt = cnt > groups * 8 ? groups * 8 : cnt;
            if (cnt == 0 && groups > 0)
                return "bit-packed run past the end of the page";
            size_t take = cnt < n - k ? (size_t)cnt : n - k;
            for (size_t j = 0; j < take; j++)
                out[k + j] = bw ? (uint32_t)get_bits(p, nb, j * (size_t)bw, bw) : 0;
            k += take;
            p += nb;
        } else {
            uint64_t cnt = h >> 1;
            if (vbytes > (size_t)(end - p))
                return "RLE run past the end of the page";
            uint32_t v = 0;
            for (size_t j = 0; j < vbytes; j++)
                v |= (uint32_t)p[j] << (8 * j);
            p += vbytes;
            size_t take = cnt < n - k ? (size_t)cnt : n - k;
            for (size_t j = 0; j < take; j++)
                out[k + j] = v;
            k += take;
        }
    }
    return NULL;
}

static int bit_width(int max) {
    int w = 0;
    while (max >> w)
        w++;
    return w;
}

/* Decodes n levels (max level max) into lv. */
static int decode_levels(struct colrd *c, const uint8_t *p, size_t len, int max, uint8_t *lv,
                         size_t n, struct mill_err *err) {
    if (reserve(&c->idx, &c->idxcap, n, sizeof *c->idx))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    const char *why = rle_decode(p, len, bit_width(max), c->idx, n);
    if (why)
        return col_err(c, err, MILL_EFORMAT, "%s (levels)", why);
    for (size_t k = 0; k < n; k++) {
        if (c->idx[k] > (uint32_t)max)
            return col_err(c, err, MILL_EFORMAT, "level %u above the maximum %d", c->idx[k], max);
        lv[k] = (uint8_t)c->idx[k];
    }
    return 0;
}
/* ---- value decoders: each fills out[0..n) or says what went wrong ---- */

struct vin { /* the encoded values of a page */
    const uint8_t *p;
    size_t len;
    size_t n; /* values wanted */
};

static int plain_width(const struct leaf *l) {
    static const int w[] = {0, 4, 8, 12, 4, 8, 4, 0};
    return l->type == T_FLBA ? l->type_length : w[l->type];
}

static bool int96_ns(const uint8_t *p, int64_t *ns) {
    int64_t nanos = (int64_t)ld64(p), days = (int64_t)ld32(p + 8) - 2440588, t;
    return !__builtin_mul_overflow(days, (int64_t)86400000000000, &t) &&
           !__builtin_add_overflow(t, nanos, ns);
}

/* One fixed-width PLAIN value of w bytes at p into *out; false when out of range. */
static bool fixed_cell(int type, const uint8_t *p, size_t w, union cell *out) {
    switch (type) {
    case T_INT32: out->i = (int32_t)ld32(p); break;
    case T_INT64: out->i = (int64_t)ld64(p); break;
    case T_INT96: return int96_ns(p, &out->i);
    case T_FLOAT: {
        float f;
        uint32_t u = ld32(p);
        memcpy(&f, &u, 4);
        out->f = f;
        break;
    }
    case T_DOUBLE: {
        uint64_t u = ld64(p);
        memcpy(&out->f, &u, 8);
        break;
    }
    default: out->s = (struct span){p, (uint32_t)w};
    }
    return true;
}

static const char *plain_fixed(const struct leaf *l, struct vin in, union cell *out) {
    size_t w = (size_t)plain_width(l);
    if (in.n > in.len / w)
        return "PLAIN values past the end of the page";
    for (size_t k = 0; k < in.n; k++)
        if (!fixed_cell(l->type, in.p + k * w, w, &out[k]))
            return "INT96 timestamp out of range";
    return NULL;
}

static const char *dec_plain(const struct leaf *l, struct vin in, union cell *out) {
    if (l->type == T_BOOLEAN) {
        if (in.n > in.len * 8)
            return "PLAIN booleans past the end of the page";
        for (size_t k = 0; k < in.n; k++)
            out[k].i = (in.p[k >> 3] >> (k & 7)) & 1;
        return NULL;
    }
    if (l->type != T_BYTE_ARRAY)
        return plain_fixed(l, in, out);
    size_t off = 0;
    for (size_t k = 0; k < in.n; k++) {
        if (in.len - off < 4)
            return "PLAIN byte array past the end of the page";
        uint32_t len = ld32(in.p + off);
        off += 4;
        if (len > in.len - off)
            return "PLAIN byte array past the end of the page";
        out[k].s = (struct span){in.p + off, len};
        off += len;
    }
    return NULL;
}

/* The fewest bytes n PLAIN values can take (to reject absurd counts before allocating). */
static bool plain_fits(const struct leaf *l, size_t n, size_t len) {
    if (l->type == T_BOOLEAN)
        return n <= len * 8;
    size_t w = l->type == T_BYTE_ARRAY ? 4 : (size_t)plain_width(l);
    return n <= len / w;
}

static const char *dec_dict(struct colrd *c, struct vin in, union cell *out) {
    if (!c->has_dict)
        return "dictionary-encoded page without a dictionary page";
    if (in.n == 0) /* an all-null page may carry no bit width at all (Arrow allows it) */
        return NULL;
    if (in.len < 1 || in.p[0] > 32)
        return "bad dictionary index bit width";
    const char *why = rle_decode(in.p + 1, in.len - 1, in.p[0], c->idx, in.n);
    if (why)
        return why;
    for (size_t k = 0; k < in.n; k++) {
        if (c->idx[k] >= c->ndict)
            return "dictionary index out of range";
        out[k] = c->dict[c->idx[k]];
    }
    return NULL;
}

static const char *dec_rle_bool(struct colrd *c, struct vin in, union cell *out) {
    if (in.len < 4 || ld32(in.p) > in.len - 4)
        return "RLE boolean length past the end of the page";
    const char *why = rle_decode(in.p + 4, ld32(in.p), 1, c->idx, in.n);
    for (size_t k = 0; !why && k < in.n; k++)
        out[k].i = c->idx[k];
    return why;
}

struct dbp { /* a DELTA_BINARY_PACKED header */
    uint64_t block, mini, total;
    int64_t first;
};

static const char *dbp_header(const uint8_t **p, const uint8_t *end, struct dbp *h) {
    uint64_t zz;
    if (!rd_varint(p, end, &h->block) || !rd_varint(p, end, &h->mini) ||
        !rd_varint(p, end, &h->total) || !rd_varint(p, end, &zz))
        return "DELTA_BINARY_PACKED header past the end of the page";
    h->first = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    if (h->block == 0 || h->block % 128 || h->block > (1u << 20) || h->mini == 0 ||
        h->block % h->mini || (h->block / h->mini) % 32)
        return "bad DELTA_BINARY_PACKED block sizes";
    return NULL;
}

/* One block's miniblocks: decodes values out[*k..) up to h->total; *prev the last value. */
static const char *dbp_block(const uint8_t **pp, const uint8_t *end, const struct dbp *h,
                             int64_t *out, size_t *k, uint64_t *prev) {
    const uint8_t *p = *pp;
    uint64_t zz;
    if (!rd_varint(&p, end, &zz) || h->mini > (uint64_t)(end - p))
        return "DELTA_BINARY_PACKED block past the end of the page";
    uint64_t min = (zz >> 1) ^ -(zz & 1), per = h->block / h->mini;
    const uint8_t *widths = p;
    p += h->mini;
    for (uint64_t m = 0; m < h->mini && *k < h->total; m++) {
        int bw = widths[m];
        if (bw > 64)
            return "DELTA_BINARY_PACKED bit width above 64";
        size_t cnt = (size_t)(h->total - *k < per ? h->total - *k : per);
        size_t need = (cnt * (size_t)bw + 7) / 8, full = (size_t)per * (size_t)bw / 8;
        size_t avail = (size_t)(end - p);
        if (need > avail)
            return "DELTA_BINARY_PACKED miniblock past the end of the page";
        for (size_t j = 0; j < cnt; j++) {
            *prev += min + (bw ? get_bits64(p, avail, j * (size_t)bw, bw) : 0);
            out[(*k)++] = (int64_t)*prev;
        }
        p += full < avail ? full : avail;
    }
    *pp = p;
    return NULL;
}

/* Decodes exactly n values into c->tmp + at; *used gets the bytes read. */
static const char *dec_dbp(struct colrd *c, const uint8_t *p, size_t len, size_t n, size_t at,
                           size_t *used) {
    const uint8_t *start = p, *end = p + len;
    struct dbp h;
    const char *why = dbp_header(&p, end, &h);
    if (why)
        return why;
    if (h.total != n)
        return "DELTA_BINARY_PACKED value count does not match the page";
    if (reserve(&c->tmp, &c->tmpcap, at + n + 1, sizeof *c->tmp))
        return "out of memory";
    int64_t *out = c->tmp + at;
    size_t k = 0;
    uint64_t prev = (uint64_t)h.first;
    if (n > 0)
        out[k++] = h.first;
    while (k < n && !why)
        why = dbp_block(&p, end, &h, out, &k, &prev);
    *used = (size_t)(p - start);
    return why;
}

static const char *dec_delta_int(struct colrd *c, struct vin in, union cell *out) {
    if (c->l->type != T_INT32 && c->l->type != T_INT64)
        return "DELTA_BINARY_PACKED on a non-integer column";
    size_t used;
    const char *why = dec_dbp(c, in.p, in.len, in.n, 0, &used);
    for (size_t k = 0; !why && k < in.n; k++)
        out[k].i = c->l->type == T_INT32 ? (int32_t)(uint32_t)c->tmp[k] : c->tmp[k];
    return why;
}

/* Lengths tmp[at..at+n) followed by their bytes: fills out; *used the bytes read. */
static const char *take_lengths(struct colrd *c, struct vin in, size_t at, union cell *out,
                                size_t *used) {
    size_t off = *used;
    for (size_t k = 0; k < in.n; k++) {
        int64_t len = c->tmp[at + k];
        if (len < 0 || (uint64_t)len > in.len - off || len > UINT32_MAX)
            return "DELTA_LENGTH_BYTE_ARRAY data past the end of the page";
        out[k].s = (struct span){in.p + off, (uint32_t)len};
        off += (size_t)len;
    }
    *used = off;
    return NULL;
}

static const char *dec_delta_length(struct colrd *c, struct vin in, union cell *out) {
    if (c->l->type != T_BYTE_ARRAY)
        return "DELTA_LENGTH_BYTE_ARRAY on a non-byte-array column";
    size_t used;
    const char *why = dec_dbp(c, in.p, in.len, in.n, 0, &used);
    return why ? why : take_lengths(c, in, 0, out, &used);
}

/* Joins prefixes (tmp[0..n)) of the previous value with the suffixes in out into c->arena. */
static const char *join_prefixes(struct colrd *c, size_t n, union cell *out) {
    size_t total = 0, prev = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t pre = c->tmp[k];
        if (pre < 0 || (uint64_t)pre > prev)
            return "DELTA_BYTE_ARRAY prefix longer than the previous value";
        prev = (size_t)pre + out[k].s.n;
        if (prev > UINT32_MAX || (c->l->type == T_FLBA && prev != (size_t)c->l->type_length))
            return "DELTA_BYTE_ARRAY value of a bad length";
        total += prev;
        if (total > DBA_MAX)
            return "DELTA_BYTE_ARRAY page expands past the size limit";
    }
    if (reserve(&c->arena, &c->arenacap, total + 1, 1))
        return "out of memory";
    uint8_t *w = c->arena;
    const uint8_t *last = w;
    for (size_t k = 0; k < n; k++) {
        size_t pre = (size_t)c->tmp[k];
        memmove(w, last, pre);
        memcpy(w + pre, out[k].s.p, out[k].s.n);
        out[k].s = (struct span){w, (uint32_t)(pre + out[k].s.n)};
        last = w;
        w += out[k].s.n;
    }
    return NULL;
}

static const char *dec_delta_bytes(struct colrd *c, struct vin in, union cell *out) {
    if (c->l->type != T_BYTE_ARRAY && c->l->type != T_FLBA)
        return "DELTA_BYTE_ARRAY on a non-byte-array column";
    size_t used = 0, used2 = 0;
    const char *why = dec_dbp(c, in.p, in.len, in.n, 0, &used);
    if (!why)
        why = dec_dbp(c, in.p + used, in.len - used, in.n, in.n, &used2);
    used += used2;
    if (!why)
        why = take_lengths(c, in, in.n, out, &used);
    return why ? why : join_prefixes(c, in.n, out);
}

static const char *dec_split(struct colrd *c, struct vin in, union cell *out) {
    int t = c->l->type;
    if (t != T_FLOAT && t != T_DOUBLE && t != T_INT32 && t != T_INT64 && t != T_FLBA)
        return "BYTE_STREAM_SPLIT on an unsupported type";
    size_t w = (size_t)plain_width(c->l), stride = in.len / w;
    if (stride < in.n)
        return "BYTE_STREAM_SPLIT values past the end of the page";
    if (t == T_FLBA && reserve(&c->arena, &c->arenacap, in.n * w + 1, 1))
        return "out of memory";
    uint8_t b[8];
    for (size_t k = 0; k < in.n; k++) {
        uint8_t *d = t == T_FLBA ? c->arena + k * w : b;
        for (size_t j = 0; j < w; j++)
            d[j] = in.p[j * stride + k];
        fixed_cell(t, d, w, &out[k]);
    }
    return NULL;
}

/* ---- pages ---- */

static const char oom_msg[] = "out of memory";

struct pghdr { /* a PageHeader with the fields this reader uses */
    int type;
    int64_t usize, csize; /* uncompressed and compressed sizes of the body */
    int64_t nvals;        /* level entries (data pages) or dictionary values */
    int enc, def_enc, rep_enc;
    int64_t def_len, rep_len; /* v2: level bytes before the values */
    bool compressed;          /* v2: is_compressed */
    bool has_sub;             /* the header of its type was present */
    bool has_crc;             /* crc: CRC-32 of the body as stored */
    uint32_t crc;
};

static void read_subheader(struct tr *t, struct pghdr *h, int which) {
    int last = 0, id, type;
    h->has_sub = true;
    t->depth++;
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (id == 1)
            h->nvals = tr_i32(t, type);
        else if ((which != 8 && id == 2) || (which == 8 && id == 4))
            h->enc = tr_i32(t, type);
        else if (which == 5 && id == 3)
            h->def_enc = tr_i32(t, type);
        else if (which == 5 && id == 4)
            h->rep_enc = tr_i32(t, type);
        else if (which == 8 && id == 5)
            h->def_len = tr_i32(t, type);
        else if (which == 8 && id == 6)
            h->rep_len = tr_i32(t, type);
        else if (which == 8 && id == 7)
            h->compressed = tr_bool(t, type);
        else
            tr_skip(t, type, false);
    }
    t->depth--;
}

static void read_pghdr(struct tr *t, struct pghdr *h) {
    int last = 0, id, type;
    *h = (struct pghdr){.type = -1,
                        .usize = -1,
                        .csize = -1,
                        .nvals = -1,
                        .enc = -1,
                        .def_enc = E_RLE,
                        .rep_enc = E_RLE,
                        .compressed = true};
    while ((type = tr_field(t, &last, &id)) != CT_STOP) {
        if (id == 1)
            h->type = tr_i32(t, type);
        else if (id == 2)
            h->usize = tr_i32(t, type);
        else if (id == 3)
            h->csize = tr_i32(t, type);
        else if (id == 4 && (h->has_crc = true))
            h->crc = (uint32_t)tr_i32(t, type);
        else if (type == CT_STRUCT && !h->has_sub &&
                 ((id == 5 && h->type == PG_DATA) || (id == 7 && h->type == PG_DICT) ||
                  (id == 8 && h->type == PG_DATA_V2)))
            read_subheader(t, h, id);
        else
            tr_skip(t, type, false);
    }
}

/* A DECIMAL cell: the unscaled integer (INT32/INT64 in v->i, else big-endian two's complement
 * bytes) at the column's scale. */
static double decimal_cell(const struct leaf *l, const union cell *v) {
    if (l->type != T_INT32 && l->type != T_INT64)
        return mill_decimal_be(v->s.p, v->s.n, l->scale);
    uint8_t be[8];
    uint64_t m = (uint64_t)v->i;
    for (int j = 7; j >= 0; j--, m >>= 8)
        be[j] = (uint8_t)m;
    return mill_decimal_be(be, 8, l->scale);
}

/* Logical conversions applied once per decoded value (dictionary or page). */
static void convert_cells(const struct leaf *l, union cell *v, size_t n) {
    switch (l->kind) {
    case K_UINT32:
        for (size_t k = 0; k < n; k++)
            v[k].i = (uint32_t)v[k].i;
        break;
    case K_DECIMAL:
        for (size_t k = 0; k < n; k++)
            v[k].f = decimal_cell(l, &v[k]);
        break;
    case K_FLOAT16:
        for (size_t k = 0; k < n; k++) {
            unsigned h = v[k].s.p[0] | (unsigned)v[k].s.p[1] << 8;
            unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
            double x = e == 0    ? ldexp(m, -24)
                       : e == 31 ? (m ? NAN : INFINITY)
                                 : ldexp(m + 1024, (int)e - 25);
            v[k].f = h & 0x8000 ? -x : x;
        }
        break;
    default: break;
    }
}

static const char *enc_name(int enc) {
    static const char *const names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? names[enc] : "unknown";
}

/* Decodes the n non-null values of a data page into c->vals. */
static int decode_values(struct colrd *c, int enc, struct vin in, struct mill_err *err) {
    if (reserve(&c->vals, &c->valcap, in.n + 1, sizeof *c->vals) ||
        reserve(&c->idx, &c->idxcap, in.n + 1, sizeof *c->idx) ||
        reserve(&c->tmp, &c->tmpcap, 2 * in.n + 1, sizeof *c->tmp))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    const char *why;
    bool dict = false;
    if (enc == E_PLAIN) {
        why = dec_plain(c->l, in, c->vals);
    } else if (enc == E_PLAIN_DICT || enc == E_RLE_DICT) {
        why = dec_dict(c, in, c->vals);
        dict = true;
    } else if (enc == E_RLE && c->l->type == T_BOOLEAN) {
        why = dec_rle_bool(c, in, c->vals);
    } else if (enc == E_DELTA_BINARY) {
        why = dec_delta_int(c, in, c->vals);
    } else if (enc == E_DELTA_LENGTH) {
        why = dec_delta_length(c, in, c->vals);
    } else if (enc == E_DELTA_BYTE_ARRAY) {
        why = dec_delta_bytes(c, in, c->vals);
    } else if (enc == E_BYTE_STREAM_SPLIT) {
        why = dec_split(c, in, c->vals);
    } else {
        return col_err(c, err, MILL_EUNSUPPORTED, "unsupported encoding %s (%d)", enc_name(enc),
                       enc);
    }
    if (why == oom_msg)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (why)
        return col_err(c, err, MILL_EFORMAT, "%s", why);
    if (!dict)
        convert_cells(c->l, c->vals, in.n);
    return 0;
}

static int load_dict(struct colrd *c, const struct pghdr *h, const uint8_t *body,
                     struct mill_err *err) {
    if (c->has_dict || c->seen_data)
        return col_err(c, err, MILL_EFORMAT, "unexpected dictionary page");
    if (h->enc != E_PLAIN && h->enc != E_PLAIN_DICT)
        return col_err(c, err, MILL_EUNSUPPORTED, "unsupported dictionary encoding %s (%d)",
                       enc_name(h->enc), h->enc);
    const uint8_t *p;
    int rc =
        decompress(c, body, (size_t)h->csize, (size_t)h->usize, &c->dictbuf, &c->dictcap, &p, err);
    if (rc)
        return rc;
    size_t n = (size_t)h->nvals;
    if (h->nvals > PAGE_ENTRIES_MAX || !plain_fits(c->l, n, (size_t)h->usize))
        return col_err(c, err, MILL_EFORMAT,
                       "dictionary of %zu values past the end of its "
                       "page",
                       n);
    free(c->dict);
    if (!(c->dict = malloc((n + 1) * sizeof *c->dict)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    const char *why = dec_plain(c->l, (struct vin){p, (size_t)h->usize, n}, c->dict);
    if (why)
        return col_err(c, err, MILL_EFORMAT, "%s (dictionary)", why);
    convert_cells(c->l, c->dict, n);
    c->ndict = (uint32_t)n;
    c->has_dict = true;
    return 0;
}

/* Counts the non-null values (entries at the maximum definition level). */
static int64_t count_values(const struct colrd *c) {
    if (!c->defs)
        return c->n;
    int64_t nv = 0;
    int max = c->l->max_def;
    for (int64_t k = 0; k < c->n; k++)
        nv += c->defs[k] == max;
    return nv;
}

/* Levels of a v1 page: a u32 length, then the hybrid encoding. *off advances past them. */
static int v1_levels(struct colrd *c, const uint8_t *p, size_t len, size_t *off, int enc, int max,
                     uint8_t *lv, struct mill_err *err) {
    if (enc != E_RLE)
        return col_err(c, err, MILL_EUNSUPPORTED, "unsupported level encoding %s (%d)",
                       enc_name(enc), enc);
    if (len - *off < 4 || ld32(p + *off) > len - *off - 4)
        return col_err(c, err, MILL_EFORMAT, "levels past the end of the page");
    size_t n = ld32(p + *off);
    *off += 4;
    int rc = decode_levels(c, p + *off, n, max, lv, (size_t)c->n, err);
    *off += n;
    return rc;
}

static int load_v1(struct colrd *c, const struct pghdr *h, const uint8_t *body,
                   struct mill_err *err) {
    const uint8_t *p;
    int rc =
        decompress(c, body, (size_t)h->csize, (size_t)h->usize, &c->pagebuf, &c->pagecap, &p, err);
    size_t len = (size_t)h->usize, off = 0;
    if (!rc && c->l->max_rep)
        rc = v1_levels(c, p, len, &off, h->rep_enc, c->l->max_rep, c->reps, err);
    if (!rc && c->l->max_def)
        rc = v1_levels(c, p, len, &off, h->def_enc, c->l->max_def, c->defs, err);
    if (rc)
        return rc;
    c->nv = count_values(c);
    return decode_values(c, h->enc, (struct vin){p + off, len - off, (size_t)c->nv}, err);
}

static int load_v2(struct colrd *c, const struct pghdr *h, const uint8_t *body,
                   struct mill_err *err) {
    if (h->rep_len < 0 || h->def_len < 0 || h->rep_len + h->def_len > h->csize ||
        h->rep_len + h->def_len > h->usize)
        return col_err(c, err, MILL_EFORMAT, "bad level lengths in a v2 page header");
    size_t rl = (size_t)h->rep_len, dl = (size_t)h->def_len, lv = rl + dl;
    int rc = 0;
    if (c->l->max_rep)
        rc = decode_levels(c, body, rl, c->l->max_rep, c->reps, (size_t)c->n, err);
    if (!rc && c->l->max_def)
        rc = decode_levels(c, body + rl, dl, c->l->max_def, c->defs, (size_t)c->n, err);
    if (rc)
        return rc;
    const uint8_t *p = body + lv;
    size_t len = (size_t)h->csize - lv;
    /* parquet-java writes an all-null page's values as 0 compressed bytes of 0, which no codec
     * decodes: Arrow decompresses only a non-empty section (GH-45252) */
    if (h->compressed && c->codec != C_NONE && (size_t)h->usize <= lv) {
        len = 0; /* no values, whatever bytes the codec left for them */
    } else if (h->compressed && c->codec != C_NONE) {
        len = (size_t)h->usize - lv;
        rc =
            decompress(c, body + lv, (size_t)h->csize - lv, len, &c->pagebuf, &c->pagecap, &p, err);
        if (rc)
            return rc;
    }
    c->nv = count_values(c);
    return decode_values(c, h->enc, (struct vin){p, len, (size_t)c->nv}, err);
}

static int load_data(struct colrd *c, const struct pghdr *h, const uint8_t *body,
                     struct mill_err *err) {
    if (h->nvals > c->left || h->nvals > PAGE_ENTRIES_MAX)
        return col_err(c, err, MILL_EFORMAT, "page of %lld values exceeds the chunk's %lld left",
                       (long long)h->nvals, (long long)c->left);
    c->seen_data = true;
    c->n = h->nvals;
    c->i = c->vi = 0;
    c->nv = 0;
    size_t n = (size_t)c->n + 1;
    if ((c->l->max_def && reserve(&c->defs, &c->defcap, n, 1)) ||
        (c->l->max_rep && reserve(&c->reps, &c->repcap, n, 1)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = h->type == PG_DATA ? load_v1(c, h, body, err) : load_v2(c, h, body, err);
    if (rc) {
        c->n = 0;
        return rc;
    }
    c->left -= c->n;
    return 0;
}

/* Reads the next page header and body of the chunk; a data page with entries ends the walk.
 * 1 = a data page is loaded, 0 = the chunk is done, < 0 = error. */
static int next_page(struct colrd *c, struct mill_err *err) {
    c->n = c->i = c->nv = c->vi = 0;
    while (c->left > 0) {
        if (c->pos >= c->end)
            return col_err(c, err, MILL_EFORMAT, "column chunk ends with %lld values missing",
                           (long long)c->left);
        struct tr t = {.p = c->pos, .end = c->end};
        struct pghdr h;
        read_pghdr(&t, &h);
        if (t.bad || h.csize < 0 || h.csize > t.end - t.p || h.usize < 0 || h.usize > PAGE_MAX)
            return col_err(c, err, MILL_EFORMAT, "corrupt page header at offset %zu",
                           (size_t)(c->pos - c->pq->data));
        const uint8_t *body = t.p;
        c->pos = body + h.csize;
        if (h.has_crc && crc32(0, body, (uInt)h.csize) != h.crc)
            return col_err(c, err, MILL_EFORMAT, "page checksum mismatch at offset %zu",
                           (size_t)(body - c->pq->data));
        bool known = h.type == PG_DATA || h.type == PG_DATA_V2 || h.type == PG_DICT;
        if (known && (!h.has_sub || h.nvals < 0))
            return col_err(c, err, MILL_EFORMAT, "page header lacks its %s header",
                           h.type == PG_DICT ? "dictionary" : "data page");
        int rc = 0;
        if (h.type == PG_DICT)
            rc = load_dict(c, &h, body, err);
        else if (h.type == PG_DATA || h.type == PG_DATA_V2)
            rc = load_data(c, &h, body, err);
        if (rc)
            return rc;
        if (c->n > 0)
            return 1;
    }
    return 0;
}

/* Positions c at the chunk of leaf li in row group g. */
static int chunk_start(struct colrd *c, uint32_t g, struct mill_err *err) {
    struct mill_parquet *pq = c->pq;
    const struct chunk *ch = &pq->rgs[g].cols[c->l - pq->leaves];
    c->rg = (int)g;
    c->seen_data = c->has_dict = false;
    c->ndict = 0;
    c->n = c->i = c->nv = c->vi = 0;
    c->left = ch->num_values;
    if (c->left == 0)
        return 0; /* an empty chunk: nothing to read, whatever its offsets say */
    int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off : ch->data_off;
    if (start < 4 || (uint64_t)start > pq->size - 8 ||
        (uint64_t)ch->compressed_size > pq->size - 8 - (uint64_t)start)
        return col_err(c, err, MILL_EFORMAT, "column chunk lies outside the file");
    c->pos = pq->data + start;
    c->end = c->pos + ch->compressed_size;
    c->codec = ch->codec;
    return 0;
}

static int cols_init(struct mill_parquet *pq, struct mill_err *err) {
    if (!(pq->cols = calloc((size_t)pq->nleaves + 1, sizeof *pq->cols)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (int i = 0; i < pq->nleaves; i++) {
        pq->cols[i].pq = pq;
        pq->cols[i].l = &pq->leaves[i];
    }
    return 0;
}

static void cols_free(struct mill_parquet *pq) {
    for (int i = 0; pq->cols && i < pq->nleaves; i++) {
        struct colrd *c = &pq->cols[i];
        free(c->dict);
        free(c->dictbuf);
        free(c->defs);
        free(c->reps);
        free(c->vals);
        free(c->idx);
        free(c->tmp);
        free(c->pagebuf);
        free(c->arena);
    }
    free(pq->cols);
}

/* ---- record assembly ---- */

static inline int def_at(const struct colrd *c) { return c->defs ? c->defs[c->i] : 0; }

static inline int rep_at(const struct colrd *c) { return c->reps ? c->reps[c->i] : 0; }

/* Makes sure c has an entry under its cursor, loading the next page when needed. */
static inline int need(struct colrd *c, struct mill_err *err) {
    if (c->i < c->n)
        return 0;
    int rc = next_page(c, err);
    return rc < 0 ? rc : rc == 0 ? col_err(c, err, MILL_EFORMAT, "fewer values than rows") : 0;
}

static int mismatch(struct colrd *c, struct mill_err *err) {
    return col_err(c, err, MILL_EFORMAT,
                   "row %lld: levels do not match the schema (def %d, "
                   "rep %d)",
                   (long long)c->pq->rg_row, def_at(c), rep_at(c));
}

/* Consumes one entry of every leaf under a (a null or an empty list), each at level d. */
static int skip_entries(struct mill_parquet *pq, const struct anode *a, int rep, int d,
                        struct mill_err *err) {
    for (int li = a->leaf0; li < a->leaf0 + a->nleaf; li++) {
        struct colrd *c = &pq->cols[li];
        int rc = need(c, err);
        if (rc)
            return rc;
        if (def_at(c) != d || rep_at(c) != rep)
            return mismatch(c, err);
        c->i++;
    }
    return 0;
}

static int emit(const struct colrd *c, const union cell *v, struct mill_value *out) {
    switch (c->l->kind) {
    case K_BOOL: mill_value_bool(out, v->i != 0); return 0;
    case K_INT:
    case K_UINT32: mill_value_int(out, v->i); return 0;
    case K_UINT64:
        if ((uint64_t)v->i > INT64_MAX)
            mill_value_float(out, (double)(uint64_t)v->i);
        else
            mill_value_int(out, v->i);
        return 0;
    case K_FLOAT:
    case K_DECIMAL:
    case K_FLOAT16: mill_value_float(out, v->f); return 0;
    case K_STR: return mill_value_str(out, (const char *)v->s.p, v->s.n);
    default: return mill_value_bytes(out, v->s.p, v->s.n);
    }
}

static int asm_node(struct mill_parquet *pq, const struct anode *a, int rep, struct mill_value *out,
                    struct mill_err *err);

static int asm_leaf(struct mill_parquet *pq, const struct anode *a, int rep, struct mill_value *out,
                    struct mill_err *err) {
    struct colrd *c = &pq->cols[a->leaf0];
    if (def_at(c) != a->def || rep_at(c) != rep || c->vi >= c->nv)
        return mismatch(c, err);
    c->i++;
    if (emit(c, &c->vals[c->vi++], out))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

static int asm_struct(struct mill_parquet *pq, const struct anode *a, int rep,
                      struct mill_value *out, struct mill_err *err) {
    mill_value_struct(out);
    size_t n = (size_t)a->nkids;
    out->u.obj.keys = malloc(n * sizeof *out->u.obj.keys);
    out->u.obj.vals = malloc(n * sizeof *out->u.obj.vals);
    if (!out->u.obj.keys || !out->u.obj.vals)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        if (!(out->u.obj.keys[k] = strdup(a->kids[k].name)))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        mill_value_null(&out->u.obj.vals[k]);
        out->u.obj.n = k + 1;
        int rc = asm_node(pq, &a->kids[k], rep, &out->u.obj.vals[k], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int asm_list(struct mill_parquet *pq, const struct anode *a, int rep, struct mill_value *out,
                    struct mill_err *err) {
    struct colrd *c = &pq->cols[a->leaf0];
    mill_value_list(out);
    if (def_at(c) < a->rdef)
        return skip_entries(pq, a, rep, a->def, err);
    for (;;) {
        struct mill_value item;
        mill_value_null(&item);
        int rc = asm_node(pq, &a->kids[0], rep, &item, err);
        if (!rc && mill_value_list_push(out, &item))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        mill_value_free(&item);
        if (rc)
            return rc;
        if (c->i >= c->n && (rc = next_page(c, err)) <= 0)
            return rc;
        if (rep_at(c) < a->rrep)
            return 0;
        if (rep_at(c) > a->rrep)
            return mismatch(c, err);
        rep = a->rrep;
    }
}

/* Builds the value of a from the entries under the leaves' cursors; rep: the repetition level
 * its first entries carry. out is always left a valid tree (freed by the caller on error). */
static int asm_node(struct mill_parquet *pq, const struct anode *a, int rep, struct mill_value *out,
                    struct mill_err *err) {
    struct colrd *c = &pq->cols[a->leaf0];
    int rc = need(c, err);
    if (rc)
        return rc;
    if (a->nullable && def_at(c) < a->def) {
        mill_value_null(out);
        return skip_entries(pq, a, rep, a->def - 1, err);
    }
    switch (a->kind) {
    case A_LEAF: return asm_leaf(pq, a, rep, out, err);
    case A_LIST: return asm_list(pq, a, rep, out, err);
    default: return asm_struct(pq, a, rep, out, err);
    }
}

/* The row group is done: every projected column must be exhausted too. */
static int finish_rowgroup(struct mill_parquet *pq, struct mill_err *err) {
    for (int t = 0; t < pq->ntop; t++) {
        for (int li = pq->top[t].leaf0; li < pq->top[t].leaf0 + pq->top[t].nleaf; li++) {
            struct colrd *c = &pq->cols[li];
            int rc = c->i < c->n ? 1 : next_page(c, err);
            if (rc < 0)
                return rc;
            if (rc > 0)
                return col_err(c, err, MILL_EFORMAT,
                               "more values than the row group's %lld "
                               "rows",
                               (long long)pq->rgs[pq->rg].num_rows);
        }
    }
    return 0;
}

/* Moves to the next row group with rows; 1 = positioned, 0 = end of file. */
static int next_rowgroup(struct mill_parquet *pq, struct mill_err *err) {
    while (pq->rg < 0 || pq->rg_row >= pq->rgs[pq->rg].num_rows) {
        if (pq->rg >= 0) {
            int rc = finish_rowgroup(pq, err);
            if (rc)
                return rc;
        }
        if (pq->rg + 1 >= (int)pq->nrg) {
            pq->rg = (int)pq->nrg;
            pq->rg_row = 0;
            return 0;
        }
        pq->rg++;
        pq->rg_row = 0;
        for (int t = 0; t < pq->ntop; t++) {
            for (int li = pq->top[t].leaf0; li < pq->top[t].leaf0 + pq->top[t].nleaf; li++) {
                int rc = chunk_start(&pq->cols[li], (uint32_t)pq->rg, err);
                if (rc)
                    return rc;
            }
        }
    }
    return 1;
}

static int read_row(struct mill_parquet *pq, struct mill_value *row, struct mill_err *err) {
    if (pq->rg >= (int)pq->nrg)
        return 0;
    int rc = next_rowgroup(pq, err);
    if (rc <= 0)
        return rc;
    struct anode root = {.kind = A_STRUCT, .kids = pq->top, .nkids = pq->ntop};
    if (pq->ntop == 0) {
        mill_value_struct(row);
    } else {
        root.leaf0 = pq->top[0].leaf0;
        rc = asm_struct(pq, &root, 0, row, err);
        if (rc)
            return rc;
    }
    pq->rg_row++;
    return 1;
}
