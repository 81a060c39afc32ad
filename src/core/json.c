/* json.c: mill_value <-> JSON. The writer matches Python's json.dumps(v, separators=(",", ":"),
 * ensure_ascii=False) byte for byte (NaN/Infinity as Python writes them; BYTES as a
 * {"bytes_len","sha256"} digest). The reader is a strict RFC 8259 recursive-descent parser that
 * also takes Python's NaN/Infinity/-Infinity and a leading UTF-8 BOM; objects keep key order and
 * a repeated key keeps its first position with its last value, as a Python dict does.
 *
 * Must not read past s[n) nor expect a NUL there, must not recurse deeper than MAX_DEPTH, must not
 * depend on the process locale, and must not print, exit or abort: errors go to the caller's
 * struct mill_err. */
#include <mill/buf.h>
#include <mill/value.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha2.h"
#include "core/text.h"
#include "core/value_impl.h"

#define MAX_DEPTH 512        /* nesting accepted by the parser */
#define MAX_WRITE_DEPTH 4096 /* nesting the writer serialises before giving up (MILL_EINVAL) */

/* ---- writer ---- */

static int write_value(const struct mill_value *v, struct mill_buf *b, int depth) {
    int rc = MILL_OK;
    if (depth > MAX_WRITE_DEPTH)
        return MILL_EINVAL;
    switch (v->kind) {
    case MILL_V_NULL: return mill_buf_add(b, "null", 4);
    case MILL_V_BOOL: return v->u.b ? mill_buf_add(b, "true", 4) : mill_buf_add(b, "false", 5);
    case MILL_V_INT: return mill_buf_addf(b, "%lld", (long long)v->u.i);
    case MILL_V_FLOAT: return mill_buf_add_json_num(b, v->u.f);
    case MILL_V_STR: return mill_buf_add_json_str(b, v->u.s.p, v->u.s.n);
    case MILL_V_BYTES: {
        uint8_t digest[32];
        char hex[65];
        mill_sha256(v->u.s.p, v->u.s.n, digest);
        mill_hex(digest, sizeof digest, hex);
        return mill_buf_addf(b, "{\"bytes_len\":%zu,\"sha256\":\"%s\"}", v->u.s.n, hex);
    }
    case MILL_V_LIST:
        rc = mill_buf_addc(b, '[');
        for (size_t i = 0; i < v->u.list.n && !rc; i++) {
            if (i)
                rc = mill_buf_addc(b, ',');
            if (!rc)
                rc = write_value(&v->u.list.items[i], b, depth + 1);
        }
        return rc ? rc : mill_buf_addc(b, ']');
    case MILL_V_STRUCT:
        rc = mill_buf_addc(b, '{');
        for (size_t i = 0; i < v->u.obj.n && !rc; i++) {
            const char *key = v->u.obj.keys[i];
            if (i)
                rc = mill_buf_addc(b, ',');
            if (!rc)
                rc = mill_buf_add_json_str(b, key, strlen(key));
            if (!rc)
                rc = mill_buf_addc(b, ':');
            if (!rc)
                rc = write_value(&v->u.obj.vals[i], b, depth + 1);
        }
        return rc ? rc : mill_buf_addc(b, '}');
    }
    return MILL_EINVAL;
}

int mill_value_to_json(const struct mill_value *v, struct mill_buf *out) {
    size_t start = out->n;
    int rc = write_value(v, out, 0);
    if (rc && out->p) {
        out->n = start;
        out->p[start] = 0;
    }
    return rc;
}

/* ---- reader ---- */

struct parser {
    const unsigned char *s;
    size_t n, pos;
    int depth;
    struct mill_err *err;
    struct mill_buf scratch; /* string and number text being decoded */
};

static int fail(struct parser *p, size_t at, const char *what) {
    return mill_err_set(p->err, MILL_EFORMAT, "invalid JSON at byte %zu: %s", at, what);
}

static int oom(struct parser *p) {
    return mill_err_set(p->err, MILL_ENOMEM, "out of memory parsing JSON");
}

static void skip_ws(struct parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

/* Whether the literal word (NUL-terminated) is at the cursor; consumes it if so. */
static bool take_word(struct parser *p, const char *word) {
    size_t len = strlen(word);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
        return false;
    p->pos += len;
    return true;
}

static int put_utf8(struct mill_buf *b, uint32_t cp) {
    char u[4];
    return mill_buf_add(b, u, mill_utf8_encode(cp, u));
}

/* Reads the four hex digits of a \u escape at p->pos (past the "\u"); -1 when malformed. */
static long hex4(struct parser *p) {
    if (p->n - p->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos + (size_t)i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    p->pos += 4;
    return v;
}

/* Parses a string literal at p->pos (on the opening quote) into p->scratch. */
static int parse_string(struct parser *p) {
    struct mill_buf *b = &p->scratch;
    mill_buf_reset(b);
    p->pos++;
    for (;;) {
        size_t run = p->pos;
        while (run < p->n) {
            unsigned char c = p->s[run];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            size_t len = mill_utf8_valid_len(p->s + run, p->n - run, NULL);
            if (!len)
                return fail(p, run, "invalid UTF-8 in string");
            run += len;
        }
        if (run > p->pos && mill_buf_add(b, p->s + p->pos, run - p->pos))
            return oom(p);
        p->pos = run;
        if (p->pos >= p->n)
            return fail(p, p->pos, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            if (!b->p && mill_buf_add(b, "", 0))
                return oom(p);
            return MILL_OK;
        }
        if (c < 0x20)
            return fail(p, p->pos, "control character in string");
        size_t at = p->pos++;
        if (p->pos >= p->n)
            return fail(p, p->pos, "unterminated string");
        c = p->s[p->pos++];
        int rc;
        switch (c) {
        case '"': rc = mill_buf_addc(b, '"'); break;
        case '\\': rc = mill_buf_addc(b, '\\'); break;
        case '/': rc = mill_buf_addc(b, '/'); break;
        case 'b': rc = mill_buf_addc(b, '\b'); break;
        case 'f': rc = mill_buf_addc(b, '\f'); break;
        case 'n': rc = mill_buf_addc(b, '\n'); break;
        case 'r': rc = mill_buf_addc(b, '\r'); break;
        case 't': rc = mill_buf_addc(b, '\t'); break;
        case 'u': {
            long cp = hex4(p);
            if (cp < 0)
                return fail(p, at, "invalid \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF && p->n - p->pos >= 6 && p->s[p->pos] == '\\' &&
                p->s[p->pos + 1] == 'u') {
                size_t save = p->pos;
                p->pos += 2;
                long lo = hex4(p);
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    p->pos = save; /* not a low surrogate: the next escape stands alone */
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            rc = put_utf8(b, (uint32_t)cp);
            break;
        }
        default: return fail(p, at, "invalid escape in string");
        }
        if (rc)
            return oom(p);
    }
}

static int parse_number(struct parser *p, struct mill_value *v) {
    size_t start = p->pos;
    const unsigned char *s = p->s;
    bool neg = false, integral = true;
    if (s[p->pos] == '-') {
        neg = true;
        p->pos++;
        if (take_word(p, "Infinity")) {
            mill_value_float(v, -INFINITY);
            return MILL_OK;
        }
    }
    if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9')
        return fail(p, p->pos, "expected a digit");
    /* Magnitude of the integer part while it fits in a uint64 (enough for int64's range). */
    uint64_t mag = 0;
    bool big = false;
    if (s[p->pos] == '0')
        p->pos++;
    else {
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') {
            unsigned d = s[p->pos++] - '0';
            if (mag > (UINT64_MAX - d) / 10)
                big = true;
            else
                mag = mag * 10 + d;
        }
    }
    if (p->pos < p->n && s[p->pos] == '.') {
        integral = false;
        p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9')
            return fail(p, p->pos, "expected a digit after '.'");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->n && (s[p->pos] == '+' || s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9')
            return fail(p, p->pos, "expected a digit in exponent");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9')
            p->pos++;
    }
    if (integral && !big) {
        if (!neg && mag <= (uint64_t)INT64_MAX) {
            mill_value_int(v, (int64_t)mag);
            return MILL_OK;
        }
        if (neg && mag <= (uint64_t)INT64_MAX + 1) {
            mill_value_int(v, mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag);
            return MILL_OK;
        }
    }
    /* The text is a valid JSON number, which strtod reads in full in the "C" locale. */
    mill_buf_reset(&p->scratch);
    if (mill_buf_add(&p->scratch, s + start, p->pos - start))
        return oom(p);
    double f = mill_strtod_c(p->scratch.p, NULL);
    mill_value_float(v, f);
    return MILL_OK;
}

static int parse_value(struct parser *p, struct mill_value *v);

/* Room in *arr (n used, *cap allocated, items of sz bytes) for one more: the capacity doubles,
 * so a long array or object parses in linear time. (mill_value_list_push and
 * mill_value_struct_append reallocate on every call, since they must accept arrays other code
 * sized exactly; the parser fills its own, so it may keep a capacity.) */
static int reserve(void **arr, size_t n, size_t *cap, size_t sz) {
    if (n < *cap)
        return MILL_OK;
    size_t nc = *cap ? *cap : 8;
    while (nc <= n) {
        if (nc > SIZE_MAX / 2 / sz)
            return MILL_ENOMEM;
        nc *= 2;
    }
    void *a = realloc(*arr, nc * sz);
    if (!a)
        return MILL_ENOMEM;
    *arr = a;
    *cap = nc;
    return MILL_OK;
}

static int parse_array(struct parser *p, struct mill_value *v) {
    mill_value_list(v);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
        return MILL_OK;
    }
    size_t cap = 0;
    for (;;) {
        struct mill_value item;
        int rc = parse_value(p, &item);
        if (rc) {
            mill_value_free(&item);
            return rc;
        }
        void *items = v->u.list.items;
        if (reserve(&items, v->u.list.n, &cap, sizeof *v->u.list.items)) {
            mill_value_free(&item);
            return oom(p);
        }
        v->u.list.items = items;
        v->u.list.items[v->u.list.n++] = item;
        skip_ws(p);
        if (p->pos >= p->n)
            return fail(p, p->pos, "expected ',' or ']'");
        unsigned char c = p->s[p->pos++];
        if (c == ']')
            return MILL_OK;
        if (c != ',')
            return fail(p, p->pos - 1, "expected ',' or ']'");
    }
}

/* Open-addressing index over an object's keys (slot = key index + 1, 0 = empty), built once an
 * object has enough keys that scanning them for duplicates would cost more. */
struct key_index {
    size_t *slots;
    size_t cap;    /* a power of two */
    size_t kv_cap; /* entries allocated in the object's keys and vals arrays */
};

#define INDEX_FROM 16

static uint64_t hash_key(const char *k) {
    uint64_t h = 14695981039346656037ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* Slot of key in ix: the one holding it, or the empty one where it would go. */
static size_t index_slot(const struct key_index *ix, char *const *keys, const char *key) {
    size_t i = (size_t)hash_key(key) & (ix->cap - 1);
    while (ix->slots[i] && strcmp(keys[ix->slots[i] - 1], key) != 0)
        i = (i + 1) & (ix->cap - 1);
    return i;
}

/* Rebuilds ix for keys[0..n) with room for twice as many. */
static int index_build(struct key_index *ix, char *const *keys, size_t n) {
    size_t cap = 64;
    while (cap < 4 * n) {
        if (cap > SIZE_MAX / 2 / sizeof *ix->slots)
            return MILL_ENOMEM;
        cap *= 2;
    }
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return MILL_ENOMEM;
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    for (size_t i = 0; i < n; i++)
        ix->slots[index_slot(ix, keys, keys[i])] = i + 1;
    return MILL_OK;
}

/* Adds key (owned, moved in) and *val to obj, or replaces the value of an equal key. Takes
 * ownership of both even when it fails (MILL_ENOMEM), freeing what it could not store. */
static int object_put(struct mill_value *obj, struct key_index *ix, char *key,
                      struct mill_value *val) {
    size_t n = obj->u.obj.n, found = SIZE_MAX, slot = 0;
    if (ix->slots) {
        slot = index_slot(ix, obj->u.obj.keys, key);
        if (ix->slots[slot])
            found = ix->slots[slot] - 1;
    } else {
        for (size_t i = 0; i < n && found == SIZE_MAX; i++)
            if (strcmp(obj->u.obj.keys[i], key) == 0)
                found = i;
    }
    if (found != SIZE_MAX) {
        free(key);
        mill_value_free(&obj->u.obj.vals[found]);
        obj->u.obj.vals[found] = *val;
        mill_value_null(val);
        return MILL_OK;
    }
    void *keys = obj->u.obj.keys, *vals = obj->u.obj.vals;
    size_t kv_cap = ix->kv_cap;
    int rc = reserve(&keys, n, &kv_cap, sizeof *obj->u.obj.keys);
    if (!rc) /* keys may have moved: keep the grown array even if vals cannot grow */
        obj->u.obj.keys = keys;
    size_t vals_cap = ix->kv_cap;
    if (!rc)
        rc = reserve(&vals, n, &vals_cap, sizeof *obj->u.obj.vals);
    if (rc) {
        free(key);
        mill_value_free(val);
        return rc;
    }
    obj->u.obj.vals = vals;
    ix->kv_cap = kv_cap;
    obj->u.obj.keys[n] = key;
    obj->u.obj.vals[n] = *val;
    obj->u.obj.n = n + 1;
    mill_value_null(val);
    if (ix->slots && 2 * (n + 1) <= ix->cap) {
        ix->slots[slot] = n + 1;
        return MILL_OK;
    }
    if (n + 1 >= INDEX_FROM)
        return index_build(ix, obj->u.obj.keys, n + 1);
    return MILL_OK;
}

static int parse_object(struct parser *p, struct mill_value *v) {
    mill_value_struct(v);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
        return MILL_OK;
    }
    struct key_index ix = {NULL, 0, 0};
    int rc;
    for (;;) {
        if (p->pos >= p->n || p->s[p->pos] != '"') {
            rc = fail(p, p->pos, "expected a string key");
            break;
        }
        size_t key_at = p->pos;
        if ((rc = parse_string(p)))
            break;
        if (memchr(p->scratch.p, 0, p->scratch.n)) {
            rc = fail(p, key_at, "object key contains U+0000");
            break;
        }
        char *key = malloc(p->scratch.n + 1);
        if (!key) {
            rc = oom(p);
            break;
        }
        memcpy(key, p->scratch.p, p->scratch.n + 1);
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') {
            free(key);
            rc = fail(p, p->pos, "expected ':'");
            break;
        }
        p->pos++;
        struct mill_value val;
        if ((rc = parse_value(p, &val))) {
            free(key);
            mill_value_free(&val);
            break;
        }
        if (object_put(v, &ix, key, &val)) {
            rc = oom(p);
            break;
        }
        skip_ws(p);
        if (p->pos >= p->n) {
            rc = fail(p, p->pos, "expected ',' or '}'");
            break;
        }
        unsigned char c = p->s[p->pos++];
        if (c == '}')
            break;
        if (c != ',') {
            rc = fail(p, p->pos - 1, "expected ',' or '}'");
            break;
        }
        skip_ws(p);
    }
    free(ix.slots);
    return rc;
}

/* Parses one value at the cursor (after whitespace) into *v; on error *v is left for the caller
 * to free (it is always a valid tree). */
static int parse_value(struct parser *p, struct mill_value *v) {
    mill_value_null(v);
    skip_ws(p);
    if (p->pos >= p->n)
        return fail(p, p->pos, "expected a value");
    size_t at = p->pos;
    int rc;
    switch (p->s[p->pos]) {
    case '{':
    case '[':
        if (++p->depth > MAX_DEPTH)
            return fail(p, at, "nesting too deep");
        rc = p->s[at] == '{' ? parse_object(p, v) : parse_array(p, v);
        p->depth--;
        return rc;
    case '"': {
        if ((rc = parse_string(p)))
            return rc;
        /* An exact-size copy: the scratch buffer is reused for the next string. */
        if (mill_value_str(v, p->scratch.p, p->scratch.n))
            return oom(p);
        return MILL_OK;
    }
    case 't':
        if (!take_word(p, "true"))
            break;
        mill_value_bool(v, true);
        return MILL_OK;
    case 'f':
        if (!take_word(p, "false"))
            break;
        mill_value_bool(v, false);
        return MILL_OK;
    case 'n':
        if (!take_word(p, "null"))
            break;
        return MILL_OK;
    case 'N':
        if (!take_word(p, "NaN"))
            break;
        mill_value_float(v, NAN);
        return MILL_OK;
    case 'I':
        if (!take_word(p, "Infinity"))
            break;
        mill_value_float(v, INFINITY);
        return MILL_OK;
    default:
        if (p->s[at] == '-' || (p->s[at] >= '0' && p->s[at] <= '9'))
            return parse_number(p, v);
        break;
    }
    return fail(p, at, "expected a value");
}

int mill_value_from_json(struct mill_value *v, const char *s, size_t n, struct mill_err *err) {
    struct parser p = {(const unsigned char *)s, n, 0, 0, err, {NULL, 0, 0}};
    mill_value_null(v);
    if (!s && n)
        return mill_err_set(err, MILL_EINVAL, "mill_value_from_json: NULL input");
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    int rc = parse_value(&p, v);
    if (!rc) {
        skip_ws(&p);
        if (p.pos < p.n)
            rc = fail(&p, p.pos, "extra data after the value");
    }
    mill_buf_free(&p.scratch);
    if (rc)
        mill_value_free(v);
    return rc;
}
