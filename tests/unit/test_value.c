/* test_value.c: unit tests of the mill_value tree in core/value.c: constructors, list push,
 * struct set/replace/get, deep copy and free, and the as_str/as_int accessors. Must not write
 * files, need the network or depend on the JSON code. */
#include <mill/value.h>

#include <stdlib.h>
#include <string.h>

#include "mtest.h"

static void test_constructors(void) {
    struct mill_value v;
    mill_value_null(&v);
    CHECK_INT(v.kind, MILL_V_NULL);
    mill_value_bool(&v, true);
    CHECK(v.kind == MILL_V_BOOL && v.u.b);
    mill_value_int(&v, -7);
    CHECK(v.kind == MILL_V_INT && v.u.i == -7);
    mill_value_float(&v, 2.5);
    CHECK(v.kind == MILL_V_FLOAT && v.u.f == 2.5);

    char src[] = "hello";
    CHECK_INT(mill_value_str(&v, src, 5), MILL_OK);
    src[0] = 'j'; /* the value holds a copy */
    CHECK(v.kind == MILL_V_STR && v.u.s.n == 5);
    CHECK_STR(mill_value_as_str(&v), "hello");
    mill_value_free(&v);
    CHECK_INT(v.kind, MILL_V_NULL);

    CHECK_INT(mill_value_str(&v, "ab", 1), MILL_OK); /* n bytes only, then a NUL */
    CHECK_STR(mill_value_as_str(&v), "a");
    mill_value_free(&v);
    CHECK_INT(mill_value_str(&v, NULL, 0), MILL_OK);
    CHECK_STR(mill_value_as_str(&v), "");
    mill_value_free(&v);

    static const unsigned char bin[] = {0, 1, 0xff, 0};
    CHECK_INT(mill_value_bytes(&v, bin, sizeof bin), MILL_OK);
    CHECK(v.kind == MILL_V_BYTES && v.u.s.n == 4 && memcmp(v.u.s.p, bin, 4) == 0);
    CHECK(v.u.s.p[4] == 0);
    CHECK(mill_value_as_str(&v) == NULL); /* BYTES is not STR */
    mill_value_free(&v);

    mill_value_list(&v);
    CHECK(v.kind == MILL_V_LIST && v.u.list.n == 0);
    mill_value_free(&v);
    mill_value_struct(&v);
    CHECK(v.kind == MILL_V_STRUCT && v.u.obj.n == 0);
    mill_value_free(&v);
    mill_value_free(NULL);
}

static void test_list(void) {
    struct mill_value list, item;
    mill_value_list(&list);
    for (int i = 0; i < 1000; i++) {
        mill_value_int(&item, i);
        CHECK_INT(mill_value_list_push(&list, &item), MILL_OK);
        CHECK_INT(item.kind, MILL_V_NULL); /* moved in */
    }
    CHECK_INT(mill_value_str(&item, "s", 1), MILL_OK);
    CHECK_INT(mill_value_list_push(&list, &item), MILL_OK);
    CHECK_INT(list.u.list.n, 1001);
    CHECK_INT(list.u.list.items[999].u.i, 999);
    CHECK_STR(mill_value_as_str(&list.u.list.items[1000]), "s");
    /* Pushing onto something that is not a list is refused and leaves item alone. */
    struct mill_value notlist;
    mill_value_int(&notlist, 1);
    mill_value_bool(&item, true);
    CHECK_INT(mill_value_list_push(&notlist, &item), MILL_EINVAL);
    CHECK_INT(item.kind, MILL_V_BOOL);
    mill_value_free(&list);
    CHECK_INT(list.kind, MILL_V_NULL);

    /* A list whose items array another module allocated at its exact size can still grow. */
    mill_value_list(&list);
    list.u.list.items = malloc(3 * sizeof *list.u.list.items);
    CHECK(list.u.list.items != NULL);
    if (!list.u.list.items)
        return;
    for (int i = 0; i < 3; i++)
        mill_value_int(&list.u.list.items[i], i);
    list.u.list.n = 3;
    for (int i = 3; i < 40; i++) {
        mill_value_int(&item, i);
        CHECK_INT(mill_value_list_push(&list, &item), MILL_OK);
    }
    for (int i = 0; i < 40; i++)
        CHECK_INT(list.u.list.items[i].u.i, i);
    mill_value_free(&list);
}

static void test_struct(void) {
    struct mill_value obj, val;
    mill_value_struct(&obj);
    CHECK(mill_value_get(&obj, "a") == NULL);
    mill_value_int(&val, 1);
    CHECK_INT(mill_value_struct_set(&obj, "a", &val), MILL_OK);
    CHECK_INT(val.kind, MILL_V_NULL);
    CHECK_INT(mill_value_str(&val, "two", 3), MILL_OK);
    CHECK_INT(mill_value_struct_set(&obj, "b", &val), MILL_OK);
    mill_value_list(&val);
    CHECK_INT(mill_value_struct_set(&obj, "c", &val), MILL_OK);
    CHECK_INT(obj.u.obj.n, 3);

    /* Replacing keeps the field's position and frees the old value. */
    CHECK_INT(mill_value_str(&val, "one", 3), MILL_OK);
    CHECK_INT(mill_value_struct_set(&obj, "a", &val), MILL_OK);
    CHECK_INT(obj.u.obj.n, 3);
    CHECK_STR(obj.u.obj.keys[0], "a");
    CHECK_STR(obj.u.obj.keys[1], "b");
    CHECK_STR(obj.u.obj.keys[2], "c");
    CHECK_STR(mill_value_as_str(mill_value_get(&obj, "a")), "one");
    CHECK_STR(mill_value_as_str(mill_value_get(&obj, "b")), "two");
    CHECK_INT(mill_value_get(&obj, "c")->kind, MILL_V_LIST);
    CHECK(mill_value_get(&obj, "d") == NULL);
    CHECK(mill_value_get(&obj, "") == NULL);
    CHECK(mill_value_get(NULL, "a") == NULL);

    /* The key is copied. */
    char key[] = "dyn";
    mill_value_bool(&val, false);
    CHECK_INT(mill_value_struct_set(&obj, key, &val), MILL_OK);
    key[0] = 'x';
    CHECK(mill_value_get(&obj, "dyn") != NULL);
    CHECK(mill_value_get(&obj, "xyn") == NULL);

    /* Lookups on a non-struct, and setting on one, are refused. */
    struct mill_value i;
    mill_value_int(&i, 3);
    CHECK(mill_value_get(&i, "a") == NULL);
    mill_value_int(&val, 5);
    CHECK_INT(mill_value_struct_set(&i, "a", &val), MILL_EINVAL);
    CHECK_INT(val.kind, MILL_V_INT);

    /* Many fields. */
    for (int k = 0; k < 200; k++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", k);
        mill_value_int(&val, k);
        CHECK_INT(mill_value_struct_set(&obj, name, &val), MILL_OK);
    }
    CHECK_INT(obj.u.obj.n, 204);
    int64_t x = -1;
    CHECK_INT(mill_value_as_int(mill_value_get(&obj, "f150"), &x), MILL_OK);
    CHECK_INT(x, 150);
    mill_value_free(&obj);
    CHECK_INT(obj.kind, MILL_V_NULL);
}

static void test_copy(void) {
    struct mill_value row, v, inner;
    mill_value_struct(&row);
    CHECK_INT(mill_value_str(&v, "text", 4), MILL_OK);
    CHECK_INT(mill_value_struct_set(&row, "s", &v), MILL_OK);
    CHECK_INT(mill_value_bytes(&v, "\0\1", 2), MILL_OK);
    CHECK_INT(mill_value_struct_set(&row, "b", &v), MILL_OK);
    mill_value_list(&v);
    mill_value_float(&inner, 0.25);
    CHECK_INT(mill_value_list_push(&v, &inner), MILL_OK);
    mill_value_struct(&inner);
    CHECK_INT(mill_value_struct_set(&row, "l", &v), MILL_OK);
    struct mill_value leaf;
    mill_value_int(&leaf, 9);
    CHECK_INT(mill_value_struct_set(&inner, "deep", &leaf), MILL_OK);
    CHECK_INT(mill_value_struct_set(&row, "o", &inner), MILL_OK);

    struct mill_value copy;
    CHECK_INT(mill_value_copy(&copy, &row), MILL_OK);
    CHECK_INT(copy.kind, MILL_V_STRUCT);
    CHECK_INT(copy.u.obj.n, 4);
    CHECK(copy.u.obj.keys != row.u.obj.keys);
    CHECK(mill_value_get(&copy, "s")->u.s.p != mill_value_get(&row, "s")->u.s.p);
    CHECK_STR(mill_value_as_str(mill_value_get(&copy, "s")), "text");
    const struct mill_value *b = mill_value_get(&copy, "b");
    CHECK(b->kind == MILL_V_BYTES && b->u.s.n == 2 && memcmp(b->u.s.p, "\0\1", 2) == 0);
    const struct mill_value *l = mill_value_get(&copy, "l");
    CHECK(l->kind == MILL_V_LIST && l->u.list.n == 1 && l->u.list.items[0].u.f == 0.25);
    int64_t x = 0;
    CHECK_INT(mill_value_as_int(mill_value_get(mill_value_get(&copy, "o"), "deep"), &x), MILL_OK);
    CHECK_INT(x, 9);

    /* The copy is independent of the original. */
    mill_value_free(&row);
    CHECK_STR(mill_value_as_str(mill_value_get(&copy, "s")), "text");
    mill_value_free(&copy);

    struct mill_value scalar, sc;
    mill_value_float(&scalar, -1.5);
    CHECK_INT(mill_value_copy(&sc, &scalar), MILL_OK);
    CHECK(sc.kind == MILL_V_FLOAT && sc.u.f == -1.5);
}

static void test_as_int(void) {
    struct mill_value v;
    int64_t x = 123;
    mill_value_int(&v, INT64_MIN);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK(x == INT64_MIN);
    mill_value_bool(&v, true);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK_INT(x, 1);
    mill_value_bool(&v, false);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK_INT(x, 0);
    mill_value_float(&v, 3.0);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK_INT(x, 3);
    mill_value_float(&v, -0.0);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK_INT(x, 0);
    mill_value_float(&v, -9223372036854775808.0);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_OK);
    CHECK(x == INT64_MIN);

    x = 77;
    static const double bad[] = {3.5,
                                 -0.1,
                                 9223372036854775808.0,
                                 -9223372036854777856.0,
                                 1e300,
                                 (double)INFINITY,
                                 -(double)INFINITY,
                                 (double)NAN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mill_value_float(&v, bad[i]);
        CHECK_INT(mill_value_as_int(&v, &x), MILL_EFORMAT);
    }
    CHECK_INT(x, 77); /* untouched on failure */
    mill_value_null(&v);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_EFORMAT);
    CHECK_INT(mill_value_str(&v, "5", 1), MILL_OK);
    CHECK_INT(mill_value_as_int(&v, &x), MILL_EFORMAT); /* no string parsing */
    mill_value_free(&v);
    CHECK_INT(mill_value_as_int(NULL, &x), MILL_EFORMAT);
}

MTEST_MAIN(MTEST(test_constructors), MTEST(test_list), MTEST(test_struct), MTEST(test_copy),
           MTEST(test_as_int))
