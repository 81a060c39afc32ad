/* safetensors.c: the safetensors reader (see safetensors.h): maps the file, parses the JSON
 * header with mill_value_from_json, validates every entry against the data section and sorts the
 * tensors by name for lookup.
 *
 * Must not read outside [buf, buf + n), must not trust the header length, a shape or an offset
 * before checking it (with overflow checks), and must not copy or convert tensor data. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mill_safetensors {
    struct mill_st_tensor *tensors; /* sorted by name */
    size_t n;
    struct mill_value metadata; /* MILL_V_NULL when absent */
    void *map;                  /* the mapping, or NULL for a borrowed buffer */
    size_t map_len;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [MILL_ST_F32] = {"F32", 4},         [MILL_ST_F16] = {"F16", 2},
    [MILL_ST_BF16] = {"BF16", 2},       [MILL_ST_F64] = {"F64", 8},
    [MILL_ST_I64] = {"I64", 8},         [MILL_ST_I32] = {"I32", 4},
    [MILL_ST_I16] = {"I16", 2},         [MILL_ST_I8] = {"I8", 1},
    [MILL_ST_U64] = {"U64", 8},         [MILL_ST_U32] = {"U32", 4},
    [MILL_ST_U16] = {"U16", 2},         [MILL_ST_U8] = {"U8", 1},
    [MILL_ST_BOOL] = {"BOOL", 1},       [MILL_ST_F8_E4M3] = {"F8_E4M3", 1},
    [MILL_ST_F8_E5M2] = {"F8_E5M2", 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *mill_st_dtype_name(enum mill_st_dtype dtype) {
    return (size_t)dtype < N_DTYPES ? dtypes[dtype].name : "?";
}

size_t mill_st_dtype_size(enum mill_st_dtype dtype) {
    return (size_t)dtype < N_DTYPES ? dtypes[dtype].size : 0;
}

static int dtype_from_name(const char *s, enum mill_st_dtype *out) {
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (enum mill_st_dtype)i;
            return 0;
        }
    }
    return -1;
}

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Reads shape (a list of non-negative ints) into t, with the element count (overflow-checked;
 * parse_offsets then compares it with the byte range). */
static int parse_shape(const struct mill_value *v, const char *file, struct mill_st_tensor *t,
                       struct mill_err *err) {
    if (!v || v->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': shape is not a list", file,
                            t->name);
    if (v->u.list.n > MILL_ST_MAX_DIMS)
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': %zu dimensions (max %d)", file,
                            t->name, v->u.list.n, MILL_ST_MAX_DIMS);
    int64_t count = 1;
    bool overflow = false;
    for (size_t i = 0; i < v->u.list.n; i++) {
        int64_t d;
        if (mill_value_as_int(&v->u.list.items[i], &d) || d < 0)
            return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': bad dimension %zu", file,
                                t->name, i);
        t->shape[i] = d;
        if (d && count > INT64_MAX / d)
            overflow = true;
        else
            count *= d;
    }
    if (overflow && count != 0)
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': shape larger than the file", file,
                            t->name);
    t->n_dims = (int)v->u.list.n;
    t->n_elements = count;
    return MILL_OK;
}

/* Reads data_offsets [begin, end] and checks them against the data section and the size. */
static int parse_offsets(const struct mill_value *v, const char *file, uint64_t data_len,
                         struct mill_st_tensor *t, uint64_t *begin, struct mill_err *err) {
    int64_t b, e;
    if (!v || v->kind != MILL_V_LIST || v->u.list.n != 2 ||
        mill_value_as_int(&v->u.list.items[0], &b) || mill_value_as_int(&v->u.list.items[1], &e))
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': data_offsets is not [begin, end]",
                            file, t->name);
    if (b < 0 || e < b || (uint64_t)e > data_len)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: tensor '%s': data_offsets [%lld, %lld] outside "
                            "the %llu data bytes",
                            file, t->name, (long long)b, (long long)e,
                            (unsigned long long)data_len);
    uint64_t size = mill_st_dtype_size(t->dtype), want = (uint64_t)t->n_elements * size;
    if ((uint64_t)t->n_elements > data_len / size + 1 || (uint64_t)(e - b) != want)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: tensor '%s': %lld bytes for %lld %s elements "
                            "(expected %llu)",
                            file, t->name, (long long)(e - b), (long long)t->n_elements,
                            mill_st_dtype_name(t->dtype), (unsigned long long)want);
    *begin = (uint64_t)b;
    t->n_bytes = (size_t)want;
    return MILL_OK;
}

/* Fills t from one header entry; t->name is already set. */
static int parse_entry(const struct mill_value *v, const char *file, const unsigned char *data,
                       uint64_t data_len, struct mill_st_tensor *t, struct mill_err *err) {
    if (v->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': entry is not an object", file,
                            t->name);
    const char *dt = mill_value_as_str(mill_value_get(v, "dtype"));
    if (!dt)
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': no dtype", file, t->name);
    if (dtype_from_name(dt, &t->dtype))
        return mill_err_set(err, MILL_EFORMAT, "%s: tensor '%s': unknown dtype '%.32s'", file,
                            t->name, dt);
    int rc = parse_shape(mill_value_get(v, "shape"), file, t, err);
    uint64_t begin = 0;
    if (!rc)
        rc = parse_offsets(mill_value_get(v, "data_offsets"), file, data_len, t, &begin, err);
    if (!rc)
        t->data = data + begin;
    return rc;
}

/* A top-level key as it appears in the header text (escapes not decoded). */
struct raw_key {
    const char *p;
    size_t n;
};

static int cmp_raw_key(const void *a, const void *b) {
    const struct raw_key *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Counts the top-level keys of a header that already parsed as a JSON object; when keys is
 * non-NULL, also records them. The parser keeps the last of equal keys, so a count above the
 * parsed object's size means a duplicate name. */
static size_t scan_keys(const char *s, size_t n, struct raw_key *keys) {
    size_t count = 0;
    int depth = 0;
    bool expect_key = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            while (i < n && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            if (depth == 1 && expect_key) {
                if (keys)
                    keys[count] = (struct raw_key){s + start, (i < n ? i : n) - start};
                count++;
                expect_key = false;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            expect_key = depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
    return count;
}

/* MILL_EFORMAT naming a duplicate top-level key, when the header has one. */
static int check_duplicates(const char *s, size_t n, size_t parsed, const char *file,
                            struct mill_err *err) {
    size_t count = scan_keys(s, n, NULL);
    if (count <= parsed)
        return MILL_OK;
    struct raw_key *keys = malloc(count * sizeof *keys);
    if (!keys)
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", file);
    scan_keys(s, n, keys);
    qsort(keys, count, sizeof *keys, cmp_raw_key);
    for (size_t i = 1; i < count; i++) {
        if (cmp_raw_key(&keys[i - 1], &keys[i]) == 0) {
            int len = keys[i].n > 200 ? 200 : (int)keys[i].n;
            mill_err_set(err, MILL_EFORMAT, "%s: duplicate tensor name '%.*s'", file, len,
                         keys[i].p);
            free(keys);
            return MILL_EFORMAT;
        }
    }
    free(keys);
    return mill_err_set(err, MILL_EFORMAT, "%s: duplicate tensor names in the header", file);
}

static int cmp_by_data(const void *a, const void *b) {
    const struct mill_st_tensor *x = *(const struct mill_st_tensor *const *)a;
    const struct mill_st_tensor *y = *(const struct mill_st_tensor *const *)b;
    const char *p = x->data, *q = y->data;
    return (p > q) - (p < q);
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const struct mill_st_tensor *)a)->name,
                  ((const struct mill_st_tensor *)b)->name);
}

/* MILL_EFORMAT when two non-empty tensors share bytes. */
static int check_overlap(struct mill_safetensors *st, const char *file, struct mill_err *err) {
    if (st->n < 2)
        return MILL_OK;
    const struct mill_st_tensor **order = malloc(st->n * sizeof *order);
    if (!order)
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", file);
    size_t m = 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->tensors[i].n_bytes)
            order[m++] = &st->tensors[i];
    qsort(order, m, sizeof *order, cmp_by_data);
    int rc = MILL_OK;
    for (size_t i = 1; i < m && !rc; i++) {
        const char *end = (const char *)order[i - 1]->data + order[i - 1]->n_bytes;
        if (end > (const char *)order[i]->data)
            rc = mill_err_set(err, MILL_EFORMAT, "%s: tensors '%s' and '%s' overlap", file,
                              order[i - 1]->name, order[i]->name);
    }
    free(order);
    return rc;
}

/* Keeps "__metadata__" (an object of strings) in st. */
static int take_metadata(struct mill_safetensors *st, struct mill_value *v, const char *file,
                         struct mill_err *err) {
    if (v->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "%s: __metadata__ is not an object", file);
    for (size_t i = 0; i < v->u.obj.n; i++)
        if (v->u.obj.vals[i].kind != MILL_V_STR)
            return mill_err_set(err, MILL_EFORMAT, "%s: __metadata__ field '%s' is not a string",
                                file, v->u.obj.keys[i]);
    st->metadata = *v;
    mill_value_null(v);
    return MILL_OK;
}

/* Fills st from the parsed header object hdr; data is the data section. */
static int build_tensors(struct mill_safetensors *st, struct mill_value *hdr, const char *file,
                         const unsigned char *data, uint64_t data_len, struct mill_err *err) {
    st->tensors = calloc(hdr->u.obj.n ? hdr->u.obj.n : 1, sizeof *st->tensors);
    if (!st->tensors)
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", file);
    for (size_t i = 0; i < hdr->u.obj.n; i++) {
        int rc;
        if (strcmp(hdr->u.obj.keys[i], "__metadata__") == 0) {
            rc = take_metadata(st, &hdr->u.obj.vals[i], file, err);
        } else {
            struct mill_st_tensor *t = &st->tensors[st->n];
            t->name = hdr->u.obj.keys[i]; /* stolen below, once the entry is valid */
            rc = parse_entry(&hdr->u.obj.vals[i], file, data, data_len, t, err);
            if (!rc) {
                hdr->u.obj.keys[i] = NULL;
                st->n++;
            } else {
                t->name = NULL;
            }
        }
        if (rc)
            return rc;
    }
    qsort(st->tensors, st->n, sizeof *st->tensors, cmp_by_name);
    return check_overlap(st, file, err);
}

/* Parses and validates the header of buf into st. */
static int parse_into(struct mill_safetensors *st, const unsigned char *buf, size_t n,
                      const char *file, struct mill_err *err) {
    if (n < 8)
        return mill_err_set(err, MILL_EFORMAT, "%s: %zu bytes, too short for safetensors", file, n);
    uint64_t hlen = read_u64_le(buf);
    if (hlen > MILL_ST_HEADER_MAX || hlen > n - 8)
        return mill_err_set(err, MILL_EFORMAT, "%s: header length %llu is larger than the %s", file,
                            (unsigned long long)hlen,
                            hlen > MILL_ST_HEADER_MAX ? "100 MB cap" : "file");
    const char *h = (const char *)buf + 8;
    if (hlen < 2 || h[0] != '{')
        return mill_err_set(err, MILL_EFORMAT, "%s: header is not a JSON object", file);
    struct mill_value hdr;
    int rc = mill_value_from_json(&hdr, h, (size_t)hlen, err);
    if (rc)
        return mill_err_prefix(err, "%s: header: ", file);
    if (hdr.kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: header is not a JSON object", file);
    if (!rc)
        rc = check_duplicates(h, (size_t)hlen, hdr.u.obj.n, file, err);
    if (!rc)
        rc = build_tensors(st, &hdr, file, buf + 8 + hlen, n - 8 - hlen, err);
    mill_value_free(&hdr);
    return rc;
}

void mill_safetensors_free(struct mill_safetensors *st) {
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free((char *)st->tensors[i].name);
    free(st->tensors);
    mill_value_free(&st->metadata);
    if (st->map)
        munmap(st->map, st->map_len);
    free(st);
}

int mill_safetensors_parse(const void *buf, size_t n, const char *name,
                           struct mill_safetensors **out, struct mill_err *err) {
    *out = NULL;
    struct mill_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
    mill_value_null(&st->metadata);
    int rc = parse_into(st, buf, n, name, err);
    if (rc) {
        mill_safetensors_free(st);
        return rc;
    }
    *out = st;
    return MILL_OK;
}

/* Maps path read-only into *map / *len. */
static int map_file(const char *path, void **map, size_t *len, struct mill_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat sb;
    int rc = MILL_OK;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
        rc = mill_err_set(err, MILL_EIO, "%s: not a regular file", path);
    else if (sb.st_size < 8)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: %lld bytes, too short for safetensors", path,
                          (long long)sb.st_size);
    if (!rc) {
        *len = (size_t)sb.st_size;
        *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (*map == MAP_FAILED) {
            *map = NULL;
            rc = mill_err_set(err, MILL_EIO, "%s: mmap: %s", path, strerror(errno));
        }
    }
    close(fd);
    return rc;
}

int mill_safetensors_open(const char *path, struct mill_safetensors **out, struct mill_err *err) {
    *out = NULL;
    void *map = NULL;
    size_t len = 0;
    int rc = map_file(path, &map, &len, err);
    if (rc)
        return rc;
    rc = mill_safetensors_parse(map, len, path, out, err);
    if (rc) {
        munmap(map, len);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return MILL_OK;
}

size_t mill_safetensors_count(const struct mill_safetensors *st) { return st->n; }

const struct mill_st_tensor *mill_safetensors_at(const struct mill_safetensors *st, size_t i) {
    return i < st->n ? &st->tensors[i] : NULL;
}

const struct mill_st_tensor *mill_safetensors_find(const struct mill_safetensors *st,
                                                   const char *name) {
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (c == 0)
            return &st->tensors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct mill_value *mill_safetensors_metadata(const struct mill_safetensors *st) {
    return st->metadata.kind == MILL_V_STRUCT ? &st->metadata : NULL;
}
