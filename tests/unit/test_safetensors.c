/* test_safetensors.c: unit tests of the safetensors reader (model/clip/safetensors.c) on
 * hand-built files: a good one (read back through a real file and mmap), then truncated data,
 * bad header lengths, offsets past the end, shape/size mismatches, unknown dtypes, overlapping
 * ranges and duplicate names, each of which must fail with MILL_EFORMAT naming the fault.
 *
 * Writes one temporary file under $TMPDIR (or /tmp) and removes it; must not need the network. */
#include "model/safetensors.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtest.h"

/* A file: 8-byte little-endian length of hdr, hdr, then data_len bytes counting 0, 1, 2, ...
 * hlen_override (when not ~0) replaces the stored header length. Caller frees. */
static unsigned char *make_file(const char *hdr, size_t data_len, uint64_t hlen_override,
                                size_t *n) {
    size_t h = strlen(hdr);
    *n = 8 + h + data_len;
    unsigned char *b = malloc(*n);
    if (!b)
        return NULL;
    uint64_t len = hlen_override != ~(uint64_t)0 ? hlen_override : h;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(len >> (8 * i));
    memcpy(b + 8, hdr, h);
    for (size_t i = 0; i < data_len; i++)
        b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Parses (hdr, data_len) and returns the code; err gets the message. */
static int parse(const char *hdr, size_t data_len, uint64_t hlen, struct mill_err *err) {
    size_t n;
    unsigned char *b = make_file(hdr, data_len, hlen, &n);
    struct mill_safetensors *st = NULL;
    int rc = mill_safetensors_parse(b, n, "t.safetensors", &st, err);
    if (rc)
        CHECK(st == NULL);
    mill_safetensors_free(st);
    free(b);
    return rc;
}

#define GOOD_HDR                                                          \
    "{\"__metadata__\":{\"format\":\"pt\"},"                              \
    "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]},"   \
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"  \
    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[30,32]},"   \
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[32,32]}," \
    "\"p\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[32,40]}}   "

static void check_good(const struct mill_safetensors *st) {
    CHECK_INT(mill_safetensors_count(st), 5);
    CHECK_STR(mill_safetensors_at(st, 0)->name, "a");
    const struct mill_st_tensor *a = mill_safetensors_find(st, "a");
    const struct mill_st_tensor *b = mill_safetensors_find(st, "b");
    const struct mill_st_tensor *s = mill_safetensors_find(st, "s");
    const struct mill_st_tensor *p = mill_safetensors_find(st, "p");
    CHECK(a && b && s && p && mill_safetensors_find(st, "e"));
    CHECK(mill_safetensors_find(st, "zz") == NULL);
    CHECK(mill_safetensors_find(st, "__metadata__") == NULL);
    if (!a || !b || !s || !p)
        return;
    CHECK_INT(a->dtype, MILL_ST_F32);
    CHECK_INT(a->n_dims, 2);
    CHECK_INT(a->shape[0], 2);
    CHECK_INT(a->shape[1], 3);
    CHECK_INT(a->n_elements, 6);
    CHECK_INT(a->n_bytes, 24);
    CHECK_INT(((const unsigned char *)a->data)[5], 5);
    CHECK_INT(b->n_bytes, 6);
    CHECK_INT(((const unsigned char *)b->data)[0], 24);
    CHECK_INT(s->n_dims, 0);
    CHECK_INT(s->n_elements, 1);
    CHECK_INT(p->dtype, MILL_ST_I64);
    CHECK_STR(mill_st_dtype_name(p->dtype), "I64");
    CHECK_STR(mill_value_as_str(mill_value_get(mill_safetensors_metadata(st), "format")), "pt");
}

static void test_good_memory(void) {
    size_t n;
    unsigned char *b = make_file(GOOD_HDR, 40, ~(uint64_t)0, &n);
    struct mill_safetensors *st = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_safetensors_parse(b, n, "mem", &st, &err), MILL_OK);
    if (st)
        check_good(st);
    mill_safetensors_free(st);
    free(b);
}

static void test_good_file(void) {
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/mill_test_st_XXXXXX", tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    size_t n;
    unsigned char *b = make_file(GOOD_HDR, 40, ~(uint64_t)0, &n);
    CHECK_INT(write(fd, b, n), (long long)n);
    close(fd);
    free(b);
    struct mill_safetensors *st = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_safetensors_open(path, &st, &err), MILL_OK);
    if (st)
        check_good(st);
    mill_safetensors_free(st);
    unlink(path);
    CHECK_INT(mill_safetensors_open(path, &st, &err), MILL_ENOTFOUND);
}

#define CHECK_FAIL(hdr, data_len, hlen, needle)                                             \
    do {                                                                                    \
        struct mill_err e_ = {0};                                                           \
        CHECK_INT(parse(hdr, data_len, hlen, &e_), MILL_EFORMAT);                           \
        if (!strstr(e_.msg, needle)) {                                                      \
            mtest_failed_checks++;                                                          \
            fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, e_.msg, \
                    needle);                                                                \
        }                                                                                   \
    } while (0)

#define NO_OVERRIDE (~(uint64_t)0)

static void test_truncated(void) {
    CHECK_FAIL(GOOD_HDR, 39, NO_OVERRIDE, "'p'");
    CHECK_FAIL(GOOD_HDR, 0, NO_OVERRIDE, "outside");
    struct mill_err err = {0};
    struct mill_safetensors *st = NULL;
    CHECK_INT(mill_safetensors_parse("\x02\0\0\0", 4, "short", &st, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "too short") != NULL);
    CHECK_FAIL("{\"a\":{\"dtype\":\"F32\",", 0, NO_OVERRIDE, "header");
}

static void test_bad_header_length(void) {
    CHECK_FAIL("{}", 0, 3, "larger than the file");
    CHECK_FAIL("{}", 0, (uint64_t)1 << 40, "cap");
    CHECK_FAIL("{}", 0, ~(uint64_t)0 - 1, "cap");
    CHECK_FAIL("[1]", 0, NO_OVERRIDE, "not a JSON object");
    CHECK_FAIL("", 0, NO_OVERRIDE, "not a JSON object");
    CHECK_INT(parse("{}", 0, NO_OVERRIDE, NULL), MILL_OK);
}

static void test_offsets(void) {
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, NO_OVERRIDE,
               "outside");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, NO_OVERRIDE,
               "outside");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, NO_OVERRIDE,
               "outside");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, NO_OVERRIDE,
               "data_offsets");
    CHECK_FAIL("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, NO_OVERRIDE, "overlap");
}

static void test_shape_mismatch(void) {
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, NO_OVERRIDE,
               "'w'");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 8, NO_OVERRIDE,
               "expected 8");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 8, NO_OVERRIDE,
               "dimension");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
               "\"data_offsets\":[0,4]}}",
               8, NO_OVERRIDE, "larger");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
               "\"data_offsets\":[0,4]}}",
               8, NO_OVERRIDE, "dimensions");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, NO_OVERRIDE,
               "shape");
}

static void test_unknown_dtype(void) {
    CHECK_FAIL("{\"w\":{\"dtype\":\"Q4_0\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, NO_OVERRIDE,
               "unknown dtype 'Q4_0'");
    CHECK_FAIL("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, NO_OVERRIDE, "no dtype");
    CHECK_FAIL("{\"w\":[1]}", 8, NO_OVERRIDE, "not an object");
    CHECK_FAIL("{\"__metadata__\":{\"k\":1}}", 0, NO_OVERRIDE, "__metadata__");
}

static void test_duplicates(void) {
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, NO_OVERRIDE, "duplicate tensor name 'w'");
    CHECK_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"\\u0077\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, NO_OVERRIDE, "duplicate");
    /* Nested keys named alike are not duplicates. */
    CHECK_INT(parse("{\"__metadata__\":{\"w\":\"1\",\"x\":\"{\\\"\"},"
                    "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                    4, NO_OVERRIDE, NULL),
              MILL_OK);
}

MTEST_MAIN(MTEST(test_good_memory), MTEST(test_good_file), MTEST(test_truncated),
           MTEST(test_bad_header_length), MTEST(test_offsets), MTEST(test_shape_mismatch),
           MTEST(test_unknown_dtype), MTEST(test_duplicates))
