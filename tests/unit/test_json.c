/* test_json.c: unit tests of mill_buf (growth, JSON string escaping, Python float repr) and of the
 * JSON writer and parser in core/json.c.
 *
 * The float checks compare against Python itself: tests/reference/pyfloat_oracle.py run through
 * /usr/bin/python3 (the test fails when that is missing; it must not silently skip). Must not
 * write files or need the network. */
#include <mill/buf.h>
#include <mill/value.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtest.h"

#define PYTHON "/usr/bin/python3"
#define ORACLE_COUNT 1500 /* per random class, as COUNT in pyfloat_oracle.py */

/* The JSON of v, or NULL; the caller frees. */
static char *to_json(const struct mill_value *v) {
    struct mill_buf b = {0};
    if (mill_value_to_json(v, &b)) {
        mill_buf_free(&b);
        return NULL;
    }
    return mill_buf_take(&b);
}

/* Parses s and serialises it again; NULL when parsing fails. */
static char *reserialise(const char *s, size_t n) {
    struct mill_value v;
    struct mill_err err = {0};
    if (mill_value_from_json(&v, s, n, &err))
        return NULL;
    char *out = to_json(&v);
    mill_value_free(&v);
    return out;
}

static char *pyfloat(double x) {
    struct mill_buf b = {0};
    if (mill_buf_add_pyfloat(&b, x)) {
        mill_buf_free(&b);
        return NULL;
    }
    return mill_buf_take(&b);
}

static char *json_str(const char *s, size_t n) {
    struct mill_buf b = {0};
    if (mill_buf_add_json_str(&b, s, n)) {
        mill_buf_free(&b);
        return NULL;
    }
    return mill_buf_take(&b);
}

static void test_buf(void) {
    struct mill_buf b = {0};
    char *empty = mill_buf_take(&b);
    CHECK_STR(empty, "");
    free(empty);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(mill_buf_addc(&b, (char)('a' + i % 26)), MILL_OK);
    CHECK_INT(b.n, 1000);
    CHECK(b.cap > b.n && b.p[b.n] == 0);
    CHECK_INT(strlen(b.p), 1000);
    mill_buf_reset(&b);
    CHECK_INT(b.n, 0);
    CHECK_STR(b.p, "");
    CHECK_INT(mill_buf_adds(&b, "x="), MILL_OK);
    CHECK_INT(mill_buf_addf(&b, "%d/%s", 42, "y"), MILL_OK);
    CHECK_STR(b.p, "x=42/y");
    /* A formatted append longer than the spare room. */
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_INT(mill_buf_addf(&b, "[%s]", big), MILL_OK);
    CHECK_INT(b.n, 6 + 2 + 2999);
    CHECK(b.p[6] == '[' && b.p[b.n - 1] == ']' && b.p[b.n] == 0);
    /* Appending a slice of the buffer to itself survives the realloc. */
    size_t n = b.n;
    CHECK_INT(mill_buf_add(&b, b.p, n), MILL_OK);
    CHECK_INT(b.n, 2 * n);
    CHECK(memcmp(b.p, b.p + n, n) == 0);
    CHECK_INT(mill_buf_add(&b, "a\0b", 3), MILL_OK);
    CHECK_INT(b.n, 2 * n + 3);
    char *p = mill_buf_take(&b);
    CHECK(p != NULL && b.p == NULL && b.n == 0 && b.cap == 0);
    free(p);
    mill_buf_free(&b);
    mill_buf_free(NULL);
}

static void test_escapes(void) {
    static const char in[] = "\x00\x01\x1f\x7f\"\\\n\r\t\b\f/\xc3\xa9";
    char *s = json_str(in, sizeof in - 1);
    CHECK_STR(s, "\"\\u0000\\u0001\\u001f\x7f\\\"\\\\\\n\\r\\t\\b\\f/\xc3\xa9\"");
    free(s);
    s = json_str("", 0);
    CHECK_STR(s, "\"\"");
    free(s);
    s = json_str("plain \xe2\x82\xac \xf0\x9f\x98\x80", 14);
    CHECK_STR(s, "\"plain \xe2\x82\xac \xf0\x9f\x98\x80\"");
    free(s);
}

/* Expected strings from json.dumps(b.decode("utf-8", "replace"), ensure_ascii=False). */
static void test_invalid_utf8(void) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\x80"
         "b",
         "\"a\xef\xbf\xbd"
         "b\""},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong */
        {"\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* overlong */
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xf4\x90\x80\x80",
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* > U+10FFFF */
        {"\xf0\x9f\x98", "\"\xef\xbf\xbd\""},                     /* truncated */
        {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},
        {"\xe2\x82", "\"\xef\xbf\xbd\""},
        {"\xe2\x82\xac", "\"\xe2\x82\xac\""},
        {"\xff\xfe", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xc3", "\"\xef\xbf\xbd\""},
        {"\xf5\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xe1\x80\xe1\x80\x80", "\"\xef\xbf\xbd\xe1\x80\x80\""},
        {"\xf1\x80\x80\xc3\xa9", "\"\xef\xbf\xbd\xc3\xa9\""},
        {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF */
        {"\xee\x80\x80\"", "\"\xee\x80\x80\\\"\""},   /* U+E000 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = json_str(cases[i].in, strlen(cases[i].in));
        CHECK_STR(s, cases[i].out);
        free(s);
    }
    /* A STR value holding invalid UTF-8 serialises to valid JSON that parses back. */
    struct mill_value v;
    CHECK_INT(mill_value_str(&v, "x\xff", 2), MILL_OK);
    char *j = to_json(&v);
    CHECK_STR(j, "\"x\xef\xbf\xbd\"");
    char *again = j ? reserialise(j, strlen(j)) : NULL;
    CHECK_STR(again, j);
    free(again);
    free(j);
    mill_value_free(&v);
}

static void test_round_trips(void) {
    static const char *docs[] = {
        "null",
        "true",
        "false",
        "0",
        "-1",
        "42",
        "1.5",
        "-0.0",
        "\"\"",
        "\"a\\\"b\"",
        "[]",
        "{}",
        "[1,2,3]",
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "{\"z\":1,\"a\":2,\"m\":3}",
        "[NaN,Infinity,-Infinity]",
        "[1e+16,1e-05,0.0001,100.0]",
        "{\"\xc3\xa9\":\"\xe2\x82\xac\\n\"}",
        "[[[[[]]]]]",
        "[\"\\u0000\"]",
        "9223372036854775807",
        "-9223372036854775808",
        "9.223372036854776e+18",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *s = reserialise(docs[i], strlen(docs[i]));
        CHECK_STR(s, docs[i]);
        free(s);
    }
    /* Whitespace, escapes and number spellings normalise as Python's json does. */
    static const struct {
        const char *in, *out;
    } norm[] = {
        {" { \"a\" : [ 1 , 2 ] } \n\t\r", "{\"a\":[1,2]}"},
        {"\"\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\\\\"", "\"/\\b\\f\\n\\r\\tA\xc3\xa9\\\\\""},
        {"1E2", "100.0"},
        {"1e-7", "1e-07"},
        {"-0", "0"},
        {"0.10", "0.1"},
        {"1e400", "Infinity"},
        {"-1e400", "-Infinity"},
        {"1e-400", "0.0"},
        {"123456789012345678901234567890", "1.2345678901234568e+29"},
        {"\xef\xbb\xbf[1]", "[1]"},
        {"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
    };
    for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++) {
        char *s = reserialise(norm[i].in, strlen(norm[i].in));
        CHECK_STR(s, norm[i].out);
        free(s);
    }
    /* Input need not be NUL-terminated: only n bytes are read. */
    char *s = reserialise("[1,2]xxxx", 5);
    CHECK_STR(s, "[1,2]");
    free(s);
}

static void test_unicode_escapes(void) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"\\u00e9\"", "\xc3\xa9"},
        {"\"\\u20AC\"", "\xe2\x82\xac"},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
        {"\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf"},
        {"\"\\ud800\"", "\xef\xbf\xbd"},
        {"\"\\udc00\"", "\xef\xbf\xbd"},
        {"\"\\ud800x\"", "\xef\xbf\xbdx"},
        {"\"\\ud800\\u0041\"", "\xef\xbf\xbd"
                               "A"},
        {"\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80"},
        {"\"\\udc00\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\\ud800\\n\"", "\xef\xbf\xbd\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mill_value v;
        struct mill_err err = {0};
        CHECK_INT(mill_value_from_json(&v, cases[i].in, strlen(cases[i].in), &err), MILL_OK);
        CHECK_STR(mill_value_as_str(&v), cases[i].out);
        mill_value_free(&v);
    }
    struct mill_value v;
    struct mill_err err = {0};
    CHECK_INT(mill_value_from_json(&v, "\"a\\u0000b\"", 10, &err), MILL_OK);
    CHECK(v.kind == MILL_V_STR && v.u.s.n == 3 && memcmp(v.u.s.p, "a\0b", 4) == 0);
    mill_value_free(&v);
}

static void test_numbers(void) {
    static const struct {
        const char *in;
        enum mill_value_kind kind;
        int64_t i;
        double f;
    } c[] = {
        {"9223372036854775807", MILL_V_INT, INT64_MAX, 0},
        {"-9223372036854775808", MILL_V_INT, INT64_MIN, 0},
        {"9223372036854775808", MILL_V_FLOAT, 0, 9223372036854775808.0},
        {"-9223372036854775809", MILL_V_FLOAT, 0, -9223372036854775808.0},
        {"18446744073709551616", MILL_V_FLOAT, 0, 18446744073709551616.0},
        {"0", MILL_V_INT, 0, 0},
        {"-0", MILL_V_INT, 0, 0},
        {"1.0", MILL_V_FLOAT, 0, 1.0},
        {"1e2", MILL_V_FLOAT, 0, 100.0},
        {"-2.5E-3", MILL_V_FLOAT, 0, -0.0025},
        {"0.1", MILL_V_FLOAT, 0, 0.1},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        struct mill_value v;
        struct mill_err err = {0};
        CHECK_INT(mill_value_from_json(&v, c[k].in, strlen(c[k].in), &err), MILL_OK);
        CHECK_INT(v.kind, c[k].kind);
        if (v.kind == MILL_V_INT)
            CHECK(v.u.i == c[k].i);
        else
            CHECK(v.kind == MILL_V_FLOAT && v.u.f == c[k].f);
        mill_value_free(&v);
    }
    struct mill_value v;
    struct mill_err err = {0};
    CHECK_INT(mill_value_from_json(&v, "[NaN,-Infinity]", 15, &err), MILL_OK);
    CHECK(v.kind == MILL_V_LIST && v.u.list.n == 2);
    CHECK(isnan(v.u.list.items[0].u.f) && isinf(v.u.list.items[1].u.f));
    CHECK(v.u.list.items[1].u.f < 0);
    mill_value_free(&v);
}

static void test_malformed(void) {
    static const char *bad[] = {
        "",
        " ",
        "[",
        "]",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":1 \"b\":2}",
        "[1]]",
        "[1] x",
        "1 2",
        "01",
        "-",
        "-01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "0x10",
        "1.e5",
        "--1",
        "tru",
        "truee",
        "nul",
        "nan",
        "NaNx",
        "Inf",
        "infinity",
        "-Inf",
        "\"abc",
        "\"\\\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"\\ud800\\u12\"",
        "\"a\nb\"",
        "\"\t\"",
        "\"\x01\"",
        "\"\x80\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\"",
        "\xc3\xa9",
        "[\"a\" \"b\"]",
        "{\"a\":1}}",
        "{\"a\\u0000b\":1}",
        "\xef\xbb\xbf",
        "\xef\xbb",
        "[1,2",
        "{\"a\":[}",
        "'a'",
        "[1;2]",
        "/* */1",
        "1 // x",
        "True",
        "None",
        /* errors after partial trees were built (leaks show under ASan) */
        "{\"a\":[1,\"x\",}",
        "[[1,\"y\"],[3,",
        "{\"a\":{\"b\":\"c\",}}",
        "[{\"k\":[\"v\"]} 1]",
        /* truncated at the very end */
        "\"\xe2\x82",
        "\"\\",
        "{\"a\":1",
        "{\"a",
        "fals",
        "{\"a\":1,\"b",
        "[\"\\u00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mill_value v;
        struct mill_err err = {0};
        int rc = mill_value_from_json(&v, bad[i], strlen(bad[i]), &err);
        if (rc != MILL_EFORMAT)
            fprintf(stderr, "malformed case %zu accepted: \"%s\"\n", i, bad[i]);
        CHECK_INT(rc, MILL_EFORMAT);
        CHECK_INT(err.code, MILL_EFORMAT);
        CHECK(strncmp(err.msg, "invalid JSON at byte ", 21) == 0);
        CHECK(v.kind == MILL_V_NULL);
    }
    /* NUL bytes inside the input. */
    struct mill_value v;
    struct mill_err err = {0};
    CHECK_INT(mill_value_from_json(&v, "[\0]", 3, &err), MILL_EFORMAT);
    CHECK_INT(mill_value_from_json(&v, "\"a\0\"", 4, &err), MILL_EFORMAT);
    CHECK_INT(mill_value_from_json(&v, "{\"abc\":1 \"d\":2}", 15, &err), MILL_EFORMAT);
    CHECK_STR(err.msg, "invalid JSON at byte 9: expected ',' or '}'");
    CHECK_INT(mill_value_from_json(&v, "{\"abcdefghijklmnop\" 1}", 22, &err), MILL_EFORMAT);
    CHECK_STR(err.msg, "invalid JSON at byte 20: expected ':'");
    CHECK_INT(mill_value_from_json(&v, "[1] x", 5, &err), MILL_EFORMAT);
    CHECK_STR(err.msg, "invalid JSON at byte 4: extra data after the value");
    CHECK_INT(mill_value_from_json(&v, NULL, 0, &err), MILL_EFORMAT);
    CHECK_INT(mill_value_from_json(&v, NULL, 5, &err), MILL_EINVAL);
    CHECK_INT(mill_value_from_json(&v, "[1]", 3, NULL), MILL_OK);
    mill_value_free(&v);
    CHECK_INT(mill_value_from_json(&v, "[1", 2, NULL), MILL_EFORMAT);
}

static void test_depth(void) {
    enum { DEEP = 100000 };
    char *s = malloc(2 * DEEP);
    CHECK(s != NULL);
    if (!s)
        return;
    for (size_t depth = 511; depth <= 513; depth++) {
        for (size_t i = 0; i < depth; i++) {
            s[i] = '[';
            s[depth + i] = ']';
        }
        struct mill_value v;
        struct mill_err err = {0};
        int rc = mill_value_from_json(&v, s, 2 * depth, &err);
        CHECK_INT(rc, depth <= 512 ? MILL_OK : MILL_EFORMAT);
        if (!rc) {
            char *j = to_json(&v);
            CHECK(j && strlen(j) == 2 * depth && memcmp(j, s, 2 * depth) == 0);
            free(j);
        }
        mill_value_free(&v);
    }
    memset(s, '[', DEEP);
    memset(s + DEEP, ']', DEEP);
    struct mill_value v;
    struct mill_err err = {0};
    CHECK_INT(mill_value_from_json(&v, s, 2 * DEEP, &err), MILL_EFORMAT);
    for (size_t i = 0; i < DEEP; i++)
        s[i] = i % 2 ? '[' : '{';
    CHECK_INT(mill_value_from_json(&v, s, DEEP, &err), MILL_EFORMAT);
    free(s);
    /* The writer refuses trees too deep to serialise rather than overflowing the stack. */
    struct mill_value root, *cur = &root;
    mill_value_list(&root);
    for (int i = 0; i < 5000; i++) {
        struct mill_value child;
        mill_value_list(&child);
        CHECK_INT(mill_value_list_push(cur, &child), MILL_OK);
        cur = &cur->u.list.items[0];
    }
    struct mill_buf b = {0};
    CHECK_INT(mill_buf_adds(&b, "keep"), MILL_OK);
    CHECK_INT(mill_value_to_json(&root, &b), MILL_EINVAL);
    CHECK_STR(b.p, "keep");
    mill_buf_free(&b);
    mill_value_free(&root);
}

static void test_objects(void) {
    /* Many keys with repeats: the hashed duplicate check keeps first positions, last values. */
    struct mill_buf in = {0}, want = {0};
    CHECK_INT(mill_buf_addc(&in, '{'), MILL_OK);
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 300; k++)
            CHECK_INT(
                mill_buf_addf(&in, "%s\"k%d\":%d", round || k ? "," : "", k, round * 1000 + k),
                MILL_OK);
    CHECK_INT(mill_buf_addc(&in, '}'), MILL_OK);
    CHECK_INT(mill_buf_addc(&want, '{'), MILL_OK);
    for (int k = 0; k < 300; k++)
        CHECK_INT(mill_buf_addf(&want, "%s\"k%d\":%d", k ? "," : "", k, 2000 + k), MILL_OK);
    CHECK_INT(mill_buf_addc(&want, '}'), MILL_OK);
    char *s = reserialise(in.p, in.n);
    CHECK_STR(s, want.p);
    free(s);
    struct mill_value v;
    struct mill_err err = {0};
    CHECK_INT(mill_value_from_json(&v, in.p, in.n, &err), MILL_OK);
    CHECK_INT(v.u.obj.n, 300);
    int64_t x = 0;
    CHECK_INT(mill_value_as_int(mill_value_get(&v, "k123"), &x), MILL_OK);
    CHECK_INT(x, 2123);
    mill_value_free(&v);
    mill_buf_free(&in);
    mill_buf_free(&want);
}

static void test_writer(void) {
    struct mill_value row, item;
    mill_value_struct(&row);
    CHECK_INT(mill_value_str(&item, "q\"1", 3), MILL_OK);
    CHECK_INT(mill_value_struct_set(&row, "question", &item), MILL_OK);
    mill_value_float(&item, 0.1);
    CHECK_INT(mill_value_struct_set(&row, "score", &item), MILL_OK);
    CHECK_INT(mill_value_bytes(&item, "abc", 3), MILL_OK);
    CHECK_INT(mill_value_struct_set(&row, "image", &item), MILL_OK);
    mill_value_int(&item, INT64_MIN);
    CHECK_INT(mill_value_struct_set(&row, "n", &item), MILL_OK);
    mill_value_float(&item, (double)NAN);
    CHECK_INT(mill_value_struct_set(&row, "nan", &item), MILL_OK);
    mill_value_float(&item, -(double)INFINITY);
    CHECK_INT(mill_value_struct_set(&row, "ninf", &item), MILL_OK);
    mill_value_list(&item);
    CHECK_INT(mill_value_struct_set(&row, "empty", &item), MILL_OK);
    char *s = to_json(&row);
    CHECK_STR(s, "{\"question\":\"q\\\"1\",\"score\":0.1,\"image\":{\"bytes_len\":3,\"sha256\":"
                 "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"},"
                 "\"n\":-9223372036854775808,\"nan\":NaN,\"ninf\":-Infinity,\"empty\":[]}");
    free(s);
    /* Appends after what the buffer already holds. */
    struct mill_buf b = {0};
    CHECK_INT(mill_buf_adds(&b, "row="), MILL_OK);
    mill_value_bool(&item, true);
    CHECK_INT(mill_value_to_json(&item, &b), MILL_OK);
    CHECK_STR(b.p, "row=true");
    mill_buf_free(&b);
    mill_value_free(&row);
}

static void test_pyfloat_fixed(void) {
    static const struct {
        double x;
        const char *s;
    } cases[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {100.0, "100.0"},
        {0.5, "0.5"},
        {1e-5, "1e-05"},
        {1e-4, "0.0001"},
        {123.456, "123.456"},
        {1e16, "1e+16"},
        {1.5e16, "1.5e+16"},
        {1e15, "1000000000000000.0"},
        {9999999999999998.0, "9999999999999998.0"},
        {0.1 + 0.2, "0.30000000000000004"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {1e100, "1e+100"},
        {-273.15, "-273.15"},
        {1e22, "1e+22"},
        {1e23, "1e+23"},
        {(double)NAN, "nan"},
        {(double)INFINITY, "inf"},
        {-(double)INFINITY, "-inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = pyfloat(cases[i].x);
        CHECK_STR(s, cases[i].s);
        free(s);
    }
}

/* The LCG of pyfloat_oracle.py. */
static uint64_t lcg_state;

static uint32_t next32(void) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 32);
}

static uint64_t next64(void) {
    uint64_t hi = next32();
    return hi << 32 | next32();
}

static double of_bits(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* The bit pattern line n of class cls must have: the C twin of the oracle's generators. */
static uint64_t expected_bits(char cls, int n) {
    if (cls == 'R')
        return next64();
    if (cls == 'M') {
        uint64_t b = next64();
        uint64_t exp = 1023 - 20 + next32() % 80;
        return (b & ~(0x7FFull << 52)) | exp << 52;
    }
    if (cls == 'D') {
        static const double p10[20] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                       1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
        uint32_t digits = 1 + next32() % 17;
        uint64_t mod = 1;
        for (uint32_t i = 0; i < digits; i++)
            mod *= 10;
        uint64_t m = next64() % mod;
        uint32_t k = next32() % 40;
        double x = k < 20 ? (double)(int64_t)m / p10[k] : (double)(int64_t)m * p10[k - 20];
        uint64_t b;
        memcpy(&b, &x, sizeof b);
        return b;
    }
    int k = n - 1074; /* P: 2^k for k = -1074 .. 1023 */
    return k >= -1022 ? (uint64_t)(k + 1023) << 52 : 1ull << (k + 1074);
}

/* Where the oracle script is, in the source tree. */
static int oracle_path(char *out, size_t size) {
    mtest_source_path(out, size, "tests/reference/pyfloat_oracle.py");
    return 1;
}

static void test_pyfloat_oracle(void) {
    if (access(PYTHON, X_OK) != 0) {
        fprintf(stderr, "%s is missing: cannot check floats against Python\n", PYTHON);
        CHECK(!"/usr/bin/python3 present");
        return;
    }
    char path[4096], cmd[4200];
    CHECK(oracle_path(path, sizeof path));
    CHECK(strchr(path, '\'') == NULL);
    snprintf(cmd, sizeof cmd, "%s '%s'", PYTHON, path);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    lcg_state = 20240601;
    char line[256];
    int counts[128] = {0}, mismatches = 0;
    while (fgets(line, sizeof line, f)) {
        char cls, want[128];
        unsigned long long bits;
        if (sscanf(line, "%c %llx %127s", &cls, &bits, want) != 3 || !strchr("FRMDP", cls)) {
            CHECK(!"oracle line parses");
            break;
        }
        if (cls != 'F') {
            uint64_t mine = expected_bits(cls, counts[(int)cls]);
            if (mine != bits) {
                fprintf(stderr, "oracle %c#%d: bits %016llx, C generated %016llx\n", cls,
                        counts[(int)cls], bits, (unsigned long long)mine);
                mismatches++;
            }
        }
        counts[(int)cls]++;
        char *got = pyfloat(of_bits(bits));
        if (!got || strcmp(got, want) != 0) {
            if (mismatches < 20)
                fprintf(stderr, "pyfloat(%016llx) == \"%s\", Python says \"%s\"\n", bits,
                        got ? got : "(null)", want);
            mismatches++;
        }
        free(got);
    }
    CHECK_INT(pclose(f), 0);
    CHECK_INT(mismatches, 0);
    CHECK_INT(counts['F'], 51);
    CHECK_INT(counts['R'], ORACLE_COUNT);
    CHECK_INT(counts['M'], ORACLE_COUNT);
    CHECK_INT(counts['D'], ORACLE_COUNT);
    CHECK_INT(counts['P'], 2098);
}

MTEST_MAIN(MTEST(test_buf), MTEST(test_escapes), MTEST(test_invalid_utf8), MTEST(test_round_trips),
           MTEST(test_unicode_escapes), MTEST(test_numbers), MTEST(test_malformed),
           MTEST(test_depth), MTEST(test_objects), MTEST(test_writer), MTEST(test_pyfloat_fixed),
           MTEST(test_pyfloat_oracle))
