/* value.h: a small typed value tree, the currency between data readers, tasks and writers.
 *
 * A dataset row is a MILL_V_STRUCT whose fields are the columns; lists and structs nest as the
 * Parquet or JSON source does. Every value owns its children; mill_value_free releases a tree.
 * Strings are UTF-8 and NUL-terminated (their length is also kept, so bytes may hold NULs). */
#ifndef MILL_VALUE_H
#define MILL_VALUE_H

#include "mill.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mill_value_kind {
    MILL_V_NULL = 0,
    MILL_V_BOOL,
    MILL_V_INT,
    MILL_V_FLOAT,
    MILL_V_STR,
    MILL_V_BYTES,
    MILL_V_LIST,
    MILL_V_STRUCT,
};

struct mill_value {
    enum mill_value_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *p;
            size_t n;
        } s; /* STR, BYTES: owned, p[n] == 0 */
        struct {
            struct mill_value *items;
            size_t n;
        } list;
        struct {
            char **keys;
            struct mill_value *vals;
            size_t n;
        } obj; /* STRUCT: owned */
    } u;
};

/* Constructors: fill *v; strings are copied. Return 0 or MILL_ENOMEM. */
MILL_API void mill_value_null(struct mill_value *v);
MILL_API void mill_value_bool(struct mill_value *v, bool b);
MILL_API void mill_value_int(struct mill_value *v, int64_t i);
MILL_API void mill_value_float(struct mill_value *v, double f);
MILL_API int mill_value_str(struct mill_value *v, const char *s, size_t n);
MILL_API int mill_value_bytes(struct mill_value *v, const void *p, size_t n);
MILL_API void mill_value_list(struct mill_value *v);
MILL_API void mill_value_struct(struct mill_value *v);

/* Appends a copy-free item to a list (ownership of *item moves in; *item becomes NULL). */
MILL_API int mill_value_list_push(struct mill_value *list, struct mill_value *item);
/* Sets field key of a struct (replacing an existing one); ownership of *val moves in. */
MILL_API int mill_value_struct_set(struct mill_value *obj, const char *key, struct mill_value *val);
/* Deep copy into *dst. */
MILL_API int mill_value_copy(struct mill_value *dst, const struct mill_value *src);
/* Frees the children of v and resets it to NULL; v itself is not freed. NULL-safe. */
MILL_API void mill_value_free(struct mill_value *v);

/* Field lookup in a struct; NULL when v is not a struct or has no such field. */
MILL_API const struct mill_value *mill_value_get(const struct mill_value *v, const char *key);
/* The string of a STR value, or NULL for any other kind. */
MILL_API const char *mill_value_as_str(const struct mill_value *v);
/* Integer of an INT, BOOL or integral FLOAT value into *out; MILL_EFORMAT otherwise. */
MILL_API int mill_value_as_int(const struct mill_value *v, int64_t *out);

/* Serialises v as compact JSON onto a growable buffer (see mill_buf in core). BYTES become
 * {"bytes_len": n, "sha256": hex}, so binary columns never reach text outputs. */
struct mill_buf;
MILL_API int mill_value_to_json(const struct mill_value *v, struct mill_buf *out);
/* Parses one JSON document (objects keep their key order). MILL_EFORMAT with the byte offset
 * in err on malformed input. */
MILL_API int mill_value_from_json(struct mill_value *v, const char *s, size_t n,
                                  struct mill_err *err);

#ifdef __cplusplus
}
#endif

#endif
