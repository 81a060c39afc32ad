/* test_spec.c: unit tests of the model-spec grammar in core/spec.c (BEHAVIOUR.md §1.2):
 * bracket-aware list splitting, spec parsing, Mill's value coercion, the malformed-spec errors,
 * the typed accessors and the backend argument tables (defaults literal and computed, types,
 * ranges, unknown keys, freeing, the help lines). Pure parsing: no files, no network, no backend
 * lookup. */
#include "core/spec.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mtest.h"

/* ---- mill_spec_split ------------------------------------------------------------------- */

static void test_split_bracket_aware(void) {
    char **v = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_split("clip[path=x,pretrained=y],Qwen/Model", &v, &n, &err), MILL_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0], "clip[path=x,pretrained=y]");
        CHECK_STR(v[1], "Qwen/Model");
    }
    mill_strv_free(v, n);

    /* Items are trimmed; a single item is a list of one. */
    CHECK_INT(mill_spec_split("  a ,\tb[k=1, j=2]  , c  ", &v, &n, &err), MILL_OK);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(v[0], "a");
        CHECK_STR(v[1], "b[k=1, j=2]");
        CHECK_STR(v[2], "c");
    }
    mill_strv_free(v, n);

    CHECK_INT(mill_spec_split("mmlu", &v, &n, &err), MILL_OK);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(v[0], "mmlu");
    mill_strv_free(v, n);

    /* Two bracketed specs in a row. */
    CHECK_INT(mill_spec_split("a[x=1,y=2],b[z=3,w=4]", &v, &n, &err), MILL_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0], "a[x=1,y=2]");
        CHECK_STR(v[1], "b[z=3,w=4]");
    }
    mill_strv_free(v, n);
}

static void expect_split_einval(const char *list) {
    char **v = (char **)1;
    size_t n = 99;
    struct mill_err err = {0};
    int rc = mill_spec_split(list, &v, &n, &err);
    CHECK_INT(rc, MILL_EINVAL);
    CHECK_INT(err.code, MILL_EINVAL);
    if (rc != MILL_EINVAL || !strstr(err.msg, list))
        fprintf(stderr, "  split('%s') -> rc %d msg '%s'\n", list, rc, err.msg);
    CHECK(strstr(err.msg, list) != NULL);
    CHECK(v == NULL);
    CHECK_INT(n, 0);
    if (rc == MILL_OK)
        mill_strv_free(v, n);
}

/* Python's list literal, what python-fire hands Python Mill a list from: the same list. */
static void test_split_list_literal(void) {
    char **v = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_split("[0,5]", &v, &n, &err), MILL_OK);
    CHECK(n == 2 && !strcmp(v[0], "0") && !strcmp(v[1], "5"));
    mill_strv_free(v, n);
    CHECK_INT(mill_spec_split(" ['mmlu_pro', \"mmlu\"] ", &v, &n, &err), MILL_OK);
    CHECK(n == 2 && !strcmp(v[0], "mmlu_pro") && !strcmp(v[1], "mmlu"));
    mill_strv_free(v, n);
    CHECK_INT(mill_spec_split("[clip[path=x,pretrained=y],'a[k=1]']", &v, &n, &err), MILL_OK);
    CHECK(n == 2 && !strcmp(v[0], "clip[path=x,pretrained=y]") && !strcmp(v[1], "a[k=1]"));
    mill_strv_free(v, n);
    /* not one bracketed list: split as before */
    CHECK_INT(mill_spec_split("[a],[b]", &v, &n, &err), MILL_OK);
    CHECK(n == 2 && !strcmp(v[0], "[a]") && !strcmp(v[1], "[b]"));
    mill_strv_free(v, n);
    CHECK_INT(mill_spec_split("['mmlu_anatomy',]", &v, &n, &err), MILL_OK); /* Python allows */
    CHECK(n == 1 && !strcmp(v[0], "mmlu_anatomy"));
    mill_strv_free(v, n);
    expect_split_einval("[]");
    expect_split_einval("[,]");
    expect_split_einval("[a,,b]");
    expect_split_einval("['a','']");
}

static void test_split_rejects(void) {
    expect_split_einval("");
    expect_split_einval("a,,b");
    expect_split_einval("a,");
    expect_split_einval(",a");
    expect_split_einval("a, ,b");
    expect_split_einval("   ");
    expect_split_einval("a[x=1");
    expect_split_einval("a[x=1,y=2");
    expect_split_einval("a]x");
    expect_split_einval("a[x=1]],b");
    expect_split_einval("a],b[");
}

/* ---- mill_spec_parse ------------------------------------------------------------------- */

static void test_parse_hf_id(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("Qwen/Qwen3-0.6B-Base[dtype=bfloat16,batch_size=8]", &s, &err),
              MILL_OK);
    CHECK_STR(s.type, "Qwen/Qwen3-0.6B-Base");
    CHECK_STR(s.raw, "Qwen/Qwen3-0.6B-Base[dtype=bfloat16,batch_size=8]");
    CHECK_INT(s.args.kind, MILL_V_STRUCT);
    CHECK_INT(s.args.u.obj.n, 2);
    const struct mill_value *d = mill_value_get(&s.args, "dtype");
    const struct mill_value *b = mill_value_get(&s.args, "batch_size");
    CHECK(d && d->kind == MILL_V_STR);
    CHECK_STR(mill_value_as_str(d), "bfloat16");
    CHECK(b && b->kind == MILL_V_INT && b->u.i == 8);
    CHECK_STR(mill_spec_get_str(&s, "dtype", "x"), "bfloat16");
    mill_spec_free(&s);
    CHECK(s.type == NULL && s.raw == NULL);
    mill_spec_free(&s); /* idempotent */
    mill_spec_free(NULL);
}

static void test_parse_clip(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("clip[path=ViT-B-32,pretrained=laion2b_s34b_b79k]", &s, &err),
              MILL_OK);
    CHECK_STR(s.type, "clip");
    CHECK_INT(s.args.u.obj.n, 2);
    CHECK_STR(mill_spec_get_str(&s, "path", NULL), "ViT-B-32");
    CHECK_STR(mill_spec_get_str(&s, "pretrained", NULL), "laion2b_s34b_b79k");
    mill_spec_free(&s);
}

static void test_parse_spaces(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("litellm  [ model = gpt-4o , temperature = 0.5 ,  n=2 ]  ", &s, &err),
              MILL_OK);
    CHECK_STR(s.type, "litellm");
    CHECK_INT(s.args.u.obj.n, 3);
    CHECK_STR(mill_spec_get_str(&s, "model", NULL), "gpt-4o");
    const struct mill_value *t = mill_value_get(&s.args, "temperature");
    CHECK(t && t->kind == MILL_V_FLOAT);
    if (t && t->kind == MILL_V_FLOAT)
        CHECK_NEAR(t->u.f, 0.5, 0);
    const struct mill_value *nv = mill_value_get(&s.args, "n");
    CHECK(nv && nv->kind == MILL_V_INT && nv->u.i == 2);
    CHECK(mill_value_get(&s.args, " model ") == NULL);
    mill_spec_free(&s);

    /* A value keeps its inner spaces. */
    CHECK_INT(mill_spec_parse("x[prompt= hello world ]", &s, &err), MILL_OK);
    CHECK_STR(mill_spec_get_str(&s, "prompt", NULL), "hello world");
    mill_spec_free(&s);
}

static void test_parse_value_with_equals(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("x[a=b=c,url=http://h/?q=1&r=2]", &s, &err), MILL_OK);
    CHECK_STR(s.type, "x");
    CHECK_INT(s.args.u.obj.n, 2);
    CHECK_STR(mill_spec_get_str(&s, "a", NULL), "b=c");
    CHECK_STR(mill_spec_get_str(&s, "url", NULL), "http://h/?q=1&r=2");
    mill_spec_free(&s);

    /* An empty value is an empty string. */
    CHECK_INT(mill_spec_parse("x[a=]", &s, &err), MILL_OK);
    const struct mill_value *a = mill_value_get(&s.args, "a");
    CHECK(a && a->kind == MILL_V_STR);
    CHECK_STR(mill_value_as_str(a), "");
    mill_spec_free(&s);
}

static void test_parse_bare_name(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("meta-llama/Meta-Llama-3-8B-Instruct", &s, &err), MILL_OK);
    CHECK_STR(s.type, "meta-llama/Meta-Llama-3-8B-Instruct");
    CHECK_INT(s.args.kind, MILL_V_STRUCT);
    CHECK_INT(s.args.u.obj.n, 0);
    CHECK_STR(mill_spec_get_str(&s, "path", "dflt"), "dflt");
    mill_spec_free(&s);

    CHECK_INT(mill_spec_parse("  hf  ", &s, &err), MILL_OK);
    CHECK_STR(s.type, "hf");
    mill_spec_free(&s);
}

/* Duplicate keys: the last one wins (a dict update in Mill). */
static void test_parse_duplicate_key(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    CHECK_INT(mill_spec_parse("x[a=1,a=two]", &s, &err), MILL_OK);
    CHECK_INT(s.args.u.obj.n, 1);
    CHECK_STR(mill_spec_get_str(&s, "a", NULL), "two");
    mill_spec_free(&s);
}

/* ---- coercion ------------------------------------------------------------------------- */

static void check_coerce(const char *in, enum mill_value_kind kind, const char *what) {
    struct mill_value v;
    mill_value_null(&v);
    CHECK_INT(mill_spec_coerce(in, &v), MILL_OK);
    if (v.kind != kind)
        fprintf(stderr, "  coerce('%s'): kind %d, expected %s (%d)\n", in, (int)v.kind, what,
                (int)kind);
    CHECK_INT(v.kind, kind);
    if (v.kind == MILL_V_STR && kind == MILL_V_STR)
        CHECK_STR(mill_value_as_str(&v), in);
    mill_value_free(&v);
}

static void test_coerce_table(void) {
    struct mill_value v;

    CHECK_INT(mill_spec_coerce("true", &v), MILL_OK);
    CHECK(v.kind == MILL_V_BOOL && v.u.b);
    CHECK_INT(mill_spec_coerce("TRUE", &v), MILL_OK);
    CHECK(v.kind == MILL_V_BOOL && v.u.b);
    CHECK_INT(mill_spec_coerce("False", &v), MILL_OK);
    CHECK(v.kind == MILL_V_BOOL && !v.u.b);
    CHECK_INT(mill_spec_coerce("fAlSe", &v), MILL_OK);
    CHECK(v.kind == MILL_V_BOOL && !v.u.b);

    CHECK_INT(mill_spec_coerce("8", &v), MILL_OK);
    CHECK(v.kind == MILL_V_INT && v.u.i == 8);
    CHECK_INT(mill_spec_coerce("-3", &v), MILL_OK);
    CHECK(v.kind == MILL_V_INT && v.u.i == -3);
    CHECK_INT(mill_spec_coerce("0", &v), MILL_OK);
    CHECK(v.kind == MILL_V_INT && v.u.i == 0);

    CHECK_INT(mill_spec_coerce("1.5", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && v.u.f == 1.5);
    CHECK_INT(mill_spec_coerce("1e-3", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT);
    if (v.kind == MILL_V_FLOAT)
        CHECK_NEAR(v.u.f, 1e-3, 1e-15);
    CHECK_INT(mill_spec_coerce("inf", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && isinf(v.u.f) && v.u.f > 0);
    CHECK_INT(mill_spec_coerce("-inf", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && isinf(v.u.f) && v.u.f < 0);

    check_coerce("0x10", MILL_V_STR, "string");
    check_coerce("abc", MILL_V_STR, "string");
    check_coerce("1.2.3", MILL_V_STR, "string");
    check_coerce("", MILL_V_STR, "string");
    check_coerce("bfloat16", MILL_V_STR, "string");
    check_coerce("yes", MILL_V_STR, "string");
    check_coerce("8b", MILL_V_STR, "string");
    check_coerce("1.5x", MILL_V_STR, "string");
    check_coerce("0X1p3", MILL_V_STR, "string");
}

/* Edge cases where Mill's int()/float() coercion and C's strtoll/strtod differ. */
static void test_coerce_python_edges(void) {
    struct mill_value v;
    /* Python's float() rejects hexadecimal in every sign spelling; strtod accepts it. */
    check_coerce("-0x10", MILL_V_STR, "string");
    check_coerce("+0x10", MILL_V_STR, "string");
    /* Python's int() accepts PEP 515 underscores: int("1_000") == 1000. */
    mill_value_null(&v);
    CHECK_INT(mill_spec_coerce("1_000", &v), MILL_OK);
    CHECK(v.kind == MILL_V_INT && v.u.i == 1000);
    mill_value_free(&v);
    /* Both accept a leading '+'. */
    CHECK_INT(mill_spec_coerce("+5", &v), MILL_OK);
    CHECK(v.kind == MILL_V_INT && v.u.i == 5);
    CHECK_INT(mill_spec_coerce("+2.5", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && v.u.f == 2.5);
    CHECK_INT(mill_spec_coerce("Infinity", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && isinf(v.u.f));
    CHECK_INT(mill_spec_coerce("nan", &v), MILL_OK);
    CHECK(v.kind == MILL_V_FLOAT && isnan(v.u.f));
    check_coerce("nan(1)", MILL_V_STR, "string");
}

/* ---- malformed specs ------------------------------------------------------------------ */

static void expect_parse_einval(const char *spec) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    int rc = mill_spec_parse(spec, &s, &err);
    if (rc != MILL_EINVAL || !strstr(err.msg, spec))
        fprintf(stderr, "  parse('%s') -> rc %d msg '%s'\n", spec, rc, err.msg);
    CHECK_INT(rc, MILL_EINVAL);
    CHECK_INT(err.code, MILL_EINVAL);
    CHECK(strstr(err.msg, spec) != NULL);
    CHECK(s.type == NULL && s.raw == NULL); /* freed on failure */
    if (rc == MILL_OK)
        mill_spec_free(&s);
}

static void test_parse_malformed(void) {
    expect_parse_einval("x[a");
    expect_parse_einval("x]");
    expect_parse_einval("[a=1]");
    expect_parse_einval("x[]");
    expect_parse_einval("x[a]");
    expect_parse_einval("x[=1]");
    expect_parse_einval("x[a=1]tail");
    expect_parse_einval("x[a=[1,2]]");
    expect_parse_einval("x][a=1");
    expect_parse_einval("x[a=1,b]");
    expect_parse_einval("x[ =1]");
    expect_parse_einval("  [a=1]");
    expect_parse_einval("");
}

/* A malformed spec's message quotes it with api_key's value masked, whatever the error. */
static void test_parse_masks_api_key(void) {
    const char *bad[] = {"openai[model=x,api_key=sk-SECRET]tail", "openai[api_key = sk-SECRET,b]",
                         "openai[model=x,api_key=sk-SECRET", "openai[api_key=sk-SECRET,=1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mill_model_spec s;
        struct mill_err err = {0};
        CHECK_INT(mill_spec_parse(bad[i], &s, &err), MILL_EINVAL);
        CHECK(strstr(err.msg, "SECRET") == NULL);
        CHECK(strstr(err.msg, "api_key") != NULL);
    }
    char text[] = "a[api_key=k1,x=1] b[api_key =k2] c[api_keys=3] api_key";
    mill_spec_mask_secrets(text);
    CHECK_STR(text, "a[api_key=**,x=1] b[api_key =**] c[api_keys=3] api_key");
    /* a URL's password, a key ending at white space or ')'; a port or a bare host untouched */
    char urls[] = "GET http://u:pw1@h:8080/v1 (api_key=k2) https://h:443/x api_key = k3 end";
    mill_spec_mask_secrets(urls);
    CHECK_STR(urls, "GET http://u:***@h:8080/v1 (api_key=**) https://h:443/x api_key = ** end");
}

/* ---- typed accessors ------------------------------------------------------------------ */

static void test_get_int(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    int64_t i = 0;
    CHECK_INT(mill_spec_parse("m[bs=16,neg=-2,name=abc,f=1.5,t=true]", &s, &err), MILL_OK);
    CHECK_INT(mill_spec_get_int(&s, "bs", 4, &i, &err), MILL_OK);
    CHECK_INT(i, 16);
    CHECK_INT(mill_spec_get_int(&s, "neg", 4, &i, &err), MILL_OK);
    CHECK_INT(i, -2);
    CHECK_INT(mill_spec_get_int(&s, "missing", 4, &i, &err), MILL_OK);
    CHECK_INT(i, 4);

    memset(&err, 0, sizeof err);
    CHECK_INT(mill_spec_get_int(&s, "name", 4, &i, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "name") != NULL);
    CHECK(strstr(err.msg, s.raw) != NULL);
    CHECK_INT(mill_spec_get_int(&s, "f", 4, &i, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "f") != NULL);
    CHECK_INT(mill_spec_get_int(&s, "t", 4, &i, &err), MILL_EINVAL);

    /* get_str of a non-string value is NULL (not the default). */
    CHECK(mill_spec_get_str(&s, "bs", "dflt") == NULL);
    mill_spec_free(&s);
}

static void test_get_bool(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    bool b = false;
    CHECK_INT(mill_spec_parse("m[a=true,b=FALSE,one=1,zero=0,two=2,s=yes,f=1.0]", &s, &err),
              MILL_OK);
    CHECK_INT(mill_spec_get_bool(&s, "a", false, &b, &err), MILL_OK);
    CHECK(b == true);
    CHECK_INT(mill_spec_get_bool(&s, "b", true, &b, &err), MILL_OK);
    CHECK(b == false);
    CHECK_INT(mill_spec_get_bool(&s, "one", false, &b, &err), MILL_OK);
    CHECK(b == true);
    CHECK_INT(mill_spec_get_bool(&s, "zero", true, &b, &err), MILL_OK);
    CHECK(b == false);
    CHECK_INT(mill_spec_get_bool(&s, "missing", true, &b, &err), MILL_OK);
    CHECK(b == true);
    CHECK_INT(mill_spec_get_bool(&s, "missing", false, &b, &err), MILL_OK);
    CHECK(b == false);

    memset(&err, 0, sizeof err);
    CHECK_INT(mill_spec_get_bool(&s, "two", false, &b, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "two") != NULL);
    CHECK(strstr(err.msg, s.raw) != NULL);
    CHECK_INT(mill_spec_get_bool(&s, "s", false, &b, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "s") != NULL);
    CHECK_INT(mill_spec_get_bool(&s, "f", false, &b, &err), MILL_EINVAL);
    mill_spec_free(&s);
}

static void test_check_keys(void) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    /* Key checking through an argument table (its rows accept the keys and store nothing). */
    static const struct mill_backend_arg known[] = {
        {"path", MILL_ARG_IGNORED, 0, NULL, "", 0, 0},
        {"pretrained", MILL_ARG_IGNORED, 0, NULL, "", 0, 0},
        {"batch_size", MILL_ARG_IGNORED, 0, NULL, "", 0, 0},
        {NULL, 0, 0, NULL, NULL, 0, 0},
    };
    static const struct mill_backend_arg none[] = {{NULL, 0, 0, NULL, NULL, 0, 0}};
    char target;

    CHECK_INT(mill_spec_parse("clip[path=x,pretrained=y]", &s, &err), MILL_OK);
    CHECK_INT(mill_spec_apply_args(&s, known, &target, &err), MILL_OK);
    memset(&err, 0, sizeof err);
    CHECK_INT(mill_spec_apply_args(&s, none, &target, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "'path'") != NULL); /* the first unknown key */
    CHECK_INT(mill_spec_apply_args(&s, NULL, &target, &err), MILL_EINVAL);
    mill_spec_free(&s);

    CHECK_INT(mill_spec_parse("clip[path=x,bogus=1,other=2]", &s, &err), MILL_OK);
    memset(&err, 0, sizeof err);
    CHECK_INT(mill_spec_apply_args(&s, known, &target, &err), MILL_EINVAL);
    CHECK_INT(err.code, MILL_EINVAL);
    CHECK(strstr(err.msg, "'bogus'") != NULL);
    CHECK(strstr(err.msg, "'other'") == NULL);
    CHECK(strstr(err.msg, s.raw) != NULL);
    mill_spec_free(&s);

    /* No args: every key list passes, even an empty one. */
    CHECK_INT(mill_spec_parse("hf", &s, &err), MILL_OK);
    CHECK_INT(mill_spec_apply_args(&s, none, &target, &err), MILL_OK);
    CHECK_INT(mill_spec_apply_args(&s, NULL, &target, &err), MILL_OK);
    mill_spec_free(&s);

    /* Keys are matched exactly (case-sensitive, after trimming). */
    CHECK_INT(mill_spec_parse("clip[ Path =x]", &s, &err), MILL_OK);
    CHECK_INT(mill_spec_apply_args(&s, known, &target, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "'Path'") != NULL);
    mill_spec_free(&s);
}

/* ---- backend argument tables ------------------------------------------------------------ */

struct toy_args {
    char *path, *tmpl;
    int64_t batch, threads;
    bool naive;
};

static const struct mill_backend_arg toy_table[] = {
    {"path", MILL_ARG_STR, offsetof(struct toy_args, path), NULL, "a path", 0, 0},
    {"tmpl", MILL_ARG_STR, offsetof(struct toy_args, tmpl), "a {c}.", "a template", 0, 0},
    {"batch", MILL_ARG_INT, offsetof(struct toy_args, batch), "16", "a size", 1, 255},
    {"threads", MILL_ARG_INT, offsetof(struct toy_args, threads), "(CPUs)", "threads", 1, 64},
    {"naive", MILL_ARG_BOOL, offsetof(struct toy_args, naive), "true", "a switch", 0, 0},
    {"mode", MILL_ARG_CUSTOM, 0, "auto", "read by the backend", 0, 0},
    {"device_map", MILL_ARG_IGNORED, 0, NULL, "ignored", 0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};

/* Applies the table to spec text into a fresh struct with threads preset to 7. */
static int apply(const char *text, struct toy_args *a, struct mill_err *err) {
    struct mill_model_spec s;
    memset(a, 0, sizeof *a);
    a->threads = 7;
    int rc = mill_spec_parse(text, &s, err);
    if (!rc) {
        rc = mill_spec_apply_args(&s, toy_table, a, err);
        mill_spec_free(&s);
    }
    return rc;
}

static void test_args_defaults_and_values(void) {
    struct toy_args a;
    struct mill_err err = {0};
    CHECK_INT(apply("toy", &a, &err), MILL_OK);
    CHECK(a.path == NULL);
    CHECK_STR(a.tmpl, "a {c}.");
    CHECK_INT(a.batch, 16);
    CHECK_INT(a.threads, 7); /* "(CPUs)": computed by the backend, left as preset */
    CHECK_INT(a.naive, 1);
    mill_spec_free_args(toy_table, &a);
    CHECK(a.tmpl == NULL);
    CHECK_INT(
        apply("toy[path=/m,tmpl=x,batch=255,threads=1,naive=0,mode=on,device_map=auto]", &a, &err),
        MILL_OK);
    CHECK_STR(a.path, "/m");
    CHECK_STR(a.tmpl, "x");
    CHECK_INT(a.batch, 255);
    CHECK_INT(a.threads, 1);
    CHECK_INT(a.naive, 0);
    mill_spec_free_args(toy_table, &a);
}

static void test_args_errors(void) {
    struct toy_args a;
    struct mill_err err = {0};
    CHECK_INT(apply("toy[nope=1]", &a, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "unknown argument 'nope'") && strstr(err.msg, "toy[nope=1]"));
    mill_spec_free_args(toy_table, &a);
    CHECK_INT(apply("toy[batch=0]", &a, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "batch must be between 1 and 255") != NULL);
    mill_spec_free_args(toy_table, &a);
    CHECK_INT(apply("toy[batch=256]", &a, &err), MILL_EINVAL);
    mill_spec_free_args(toy_table, &a);
    CHECK_INT(apply("toy[batch=2.5]", &a, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "batch must be an integer") != NULL);
    mill_spec_free_args(toy_table, &a);
    CHECK_INT(apply("toy[naive=2]", &a, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "naive must be true or false") != NULL);
    mill_spec_free_args(toy_table, &a);
    /* a STR stored before the failing argument is freed by mill_spec_free_args */
    CHECK_INT(apply("toy[path=/m,tmpl=7]", &a, &err), MILL_EINVAL);
    CHECK(strstr(err.msg, "tmpl must be a string") != NULL);
    CHECK_STR(a.path, "/m");
    mill_spec_free_args(toy_table, &a);
    CHECK(a.path == NULL);
}

static void test_args_help(void) {
    struct mill_buf b = {0};
    CHECK_INT(mill_spec_args_help(toy_table, &b), MILL_OK);
    CHECK(b.p &&
          strstr(b.p, "    batch                 integer   16                      a size\n"));
    CHECK(b.p && strstr(b.p, "    threads               integer   (CPUs)"));
    CHECK(b.p &&
          strstr(b.p, "    device_map            ignored   -                       ignored\n"));
    size_t lines = 0;
    for (const char *p = b.p; p && *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 7);
    mill_buf_free(&b);
}

MTEST_MAIN(MTEST(test_split_bracket_aware), MTEST(test_split_list_literal),
           MTEST(test_split_rejects), MTEST(test_parse_hf_id), MTEST(test_parse_clip),
           MTEST(test_parse_spaces), MTEST(test_parse_value_with_equals),
           MTEST(test_parse_bare_name), MTEST(test_parse_duplicate_key), MTEST(test_coerce_table),
           MTEST(test_coerce_python_edges), MTEST(test_parse_malformed),
           MTEST(test_parse_masks_api_key), MTEST(test_get_int), MTEST(test_get_bool),
           MTEST(test_check_keys), MTEST(test_args_defaults_and_values), MTEST(test_args_errors),
           MTEST(test_args_help))
