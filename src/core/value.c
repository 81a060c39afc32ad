/* value.c: the mill_value tree: constructors, list and struct building, deep copy, free and the
 * typed accessors. JSON lives in json.c.
 *
 * Must not print, exit or abort: allocation failures return MILL_ENOMEM and leave the values the
 * caller passed in intact (or, for a failed copy, NULL). Item and field arrays grow by
 * power-of-two sizes through realloc, so arrays that other code filled with malloc stay valid. */
#include <mill/value.h>

#include "core/value_impl.h"

#include <stdlib.h>
#include <string.h>

void mill_value_null(struct mill_value *v) {
    memset(v, 0, sizeof *v);
    v->kind = MILL_V_NULL;
}

void mill_value_bool(struct mill_value *v, bool b) {
    mill_value_null(v);
    v->kind = MILL_V_BOOL;
    v->u.b = b;
}

void mill_value_int(struct mill_value *v, int64_t i) {
    mill_value_null(v);
    v->kind = MILL_V_INT;
    v->u.i = i;
}

void mill_value_float(struct mill_value *v, double f) {
    mill_value_null(v);
    v->kind = MILL_V_FLOAT;
    v->u.f = f;
}

/* A NUL-terminated copy of n bytes (s may be NULL when n is 0). */
static char *dup_bytes(const void *s, size_t n) {
    if (n == SIZE_MAX)
        return NULL;
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

int mill_value_str(struct mill_value *v, const char *s, size_t n) {
    mill_value_null(v);
    char *p = dup_bytes(s, n);
    if (!p)
        return MILL_ENOMEM;
    v->kind = MILL_V_STR;
    v->u.s.p = p;
    v->u.s.n = n;
    return MILL_OK;
}

int mill_value_bytes(struct mill_value *v, const void *p, size_t n) {
    int rc = mill_value_str(v, p, n);
    if (!rc)
        v->kind = MILL_V_BYTES;
    return rc;
}

void mill_value_list(struct mill_value *v) {
    mill_value_null(v);
    v->kind = MILL_V_LIST;
}

void mill_value_struct(struct mill_value *v) {
    mill_value_null(v);
    v->kind = MILL_V_STRUCT;
}

/* Grows *arr (of elements of size sz, n used) so that element n fits: reallocs to the next
 * power of two, a no-op in place when the block already has that size. */
static int grow(void **arr, size_t n, size_t sz) {
    size_t cap = 4;
    while (cap < n + 1) {
        if (cap > SIZE_MAX / 2)
            return MILL_ENOMEM;
        cap *= 2;
    }
    if (cap > SIZE_MAX / sz)
        return MILL_ENOMEM;
    void *p = realloc(*arr, cap * sz);
    if (!p)
        return MILL_ENOMEM;
    *arr = p;
    return MILL_OK;
}

int mill_value_list_push(struct mill_value *list, struct mill_value *item) {
    if (list->kind != MILL_V_LIST)
        return MILL_EINVAL;
    void *items = list->u.list.items;
    int rc = grow(&items, list->u.list.n, sizeof *list->u.list.items);
    if (rc)
        return rc;
    list->u.list.items = items;
    list->u.list.items[list->u.list.n++] = *item;
    mill_value_null(item);
    return MILL_OK;
}

int mill_value_struct_set(struct mill_value *obj, const char *key, struct mill_value *val) {
    if (obj->kind != MILL_V_STRUCT || !key)
        return MILL_EINVAL;
    size_t n = obj->u.obj.n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(obj->u.obj.keys[i], key) == 0) {
            mill_value_free(&obj->u.obj.vals[i]);
            obj->u.obj.vals[i] = *val;
            mill_value_null(val);
            return MILL_OK;
        }
    }
    char *k = dup_bytes(key, strlen(key));
    if (!k)
        return MILL_ENOMEM;
    int rc = mill_value_struct_append(obj, k, val);
    if (rc)
        free(k);
    return rc;
}

int mill_value_struct_append(struct mill_value *obj, char *key, struct mill_value *val) {
    size_t n = obj->u.obj.n;
    void *keys = obj->u.obj.keys, *vals = obj->u.obj.vals;
    int rc = grow(&keys, n, sizeof *obj->u.obj.keys);
    if (!rc)
        obj->u.obj.keys = keys;
    if (!rc)
        rc = grow(&vals, n, sizeof *obj->u.obj.vals);
    if (rc)
        return rc;
    obj->u.obj.vals = vals;
    obj->u.obj.keys[n] = key;
    obj->u.obj.vals[n] = *val;
    obj->u.obj.n = n + 1;
    mill_value_null(val);
    return MILL_OK;
}

int mill_value_copy(struct mill_value *dst, const struct mill_value *src) {
    int rc = MILL_OK;
    switch (src->kind) {
    case MILL_V_STR:
    case MILL_V_BYTES:
        rc = mill_value_str(dst, src->u.s.p, src->u.s.n);
        if (!rc)
            dst->kind = src->kind;
        return rc;
    case MILL_V_LIST:
        mill_value_list(dst);
        for (size_t i = 0; i < src->u.list.n && !rc; i++) {
            struct mill_value item;
            rc = mill_value_copy(&item, &src->u.list.items[i]);
            if (!rc) {
                rc = mill_value_list_push(dst, &item);
                mill_value_free(&item);
            }
        }
        break;
    case MILL_V_STRUCT:
        mill_value_struct(dst);
        for (size_t i = 0; i < src->u.obj.n && !rc; i++) {
            struct mill_value val;
            rc = mill_value_copy(&val, &src->u.obj.vals[i]);
            if (!rc) {
                rc = mill_value_struct_set(dst, src->u.obj.keys[i], &val);
                mill_value_free(&val);
            }
        }
        break;
    default: *dst = *src; return MILL_OK;
    }
    if (rc)
        mill_value_free(dst);
    return rc;
}

void mill_value_free(struct mill_value *v) {
    if (!v)
        return;
    switch (v->kind) {
    case MILL_V_STR:
    case MILL_V_BYTES: free(v->u.s.p); break;
    case MILL_V_LIST:
        for (size_t i = 0; i < v->u.list.n; i++)
            mill_value_free(&v->u.list.items[i]);
        free(v->u.list.items);
        break;
    case MILL_V_STRUCT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.keys[i]);
            mill_value_free(&v->u.obj.vals[i]);
        }
        free(v->u.obj.keys);
        free(v->u.obj.vals);
        break;
    default: break;
    }
    mill_value_null(v);
}

const struct mill_value *mill_value_get(const struct mill_value *v, const char *key) {
    if (!v || !key || v->kind != MILL_V_STRUCT)
        return NULL;
    for (size_t i = 0; i < v->u.obj.n; i++)
        if (strcmp(v->u.obj.keys[i], key) == 0)
            return &v->u.obj.vals[i];
    return NULL;
}

const char *mill_value_as_str(const struct mill_value *v) {
    return v && v->kind == MILL_V_STR ? v->u.s.p : NULL;
}

int mill_value_as_int(const struct mill_value *v, int64_t *out) {
    if (!v)
        return MILL_EFORMAT;
    switch (v->kind) {
    case MILL_V_INT: *out = v->u.i; return MILL_OK;
    case MILL_V_BOOL: *out = v->u.b ? 1 : 0; return MILL_OK;
    case MILL_V_FLOAT: {
        double f = v->u.f;
        /* [-2^63, 2^63): the range where the cast is defined; then integral means exact. */
        if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
            return MILL_EFORMAT;
        int64_t i = (int64_t)f;
        if ((double)i != f)
            return MILL_EFORMAT;
        *out = i;
        return MILL_OK;
    }
    default: return MILL_EFORMAT;
    }
}
