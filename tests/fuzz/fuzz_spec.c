/* fuzz_spec.c: libFuzzer target for the model-spec grammar (core/spec.c): the input, made a
 * C string, is split as a comma list and each item parsed as a spec, whose arguments then go
 * through a backend argument table of every type. A parsed spec must have a non-empty type
 * and a struct of arguments; a split must yield non-empty items; errors must be MILL_EINVAL or
 * MILL_ENOMEM with a message. Any violation aborts so libFuzzer records the input. Must not
 * write files or print. */
#include "core/spec.h"
#include "fuzz_text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct args {
    char *path;
    int64_t n;
    bool b;
};

static const struct mill_backend_arg table[] = {
    {"path", MILL_ARG_STR, offsetof(struct args, path), "p", "a string", 0, 0},
    {"n", MILL_ARG_INT, offsetof(struct args, n), "16", "an integer", -5, 255},
    {"b", MILL_ARG_BOOL, offsetof(struct args, b), "false", "a bool", 0, 0},
    {"mode", MILL_ARG_CUSTOM, 0, "auto", "custom", 0, 0},
    {"device_map", MILL_ARG_IGNORED, 0, NULL, "ignored", 0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};

static void check_err(int rc, const struct mill_err *err) {
    if (rc != MILL_EINVAL && rc != MILL_ENOMEM)
        abort();
    if (!err->msg[0])
        abort();
}

static void one_spec(const char *text) {
    struct mill_model_spec s;
    struct mill_err err = {0};
    int rc = mill_spec_parse(text, &s, &err);
    if (rc) {
        check_err(rc, &err);
        return;
    }
    if (!s.type || !s.type[0] || s.args.kind != MILL_V_STRUCT)
        abort();
    struct args a = {0};
    rc = mill_spec_apply_args(&s, table, &a, &err);
    if (rc)
        check_err(rc, &err);
    else if (!a.path || a.n < -5 || a.n > 255)
        abort();
    mill_spec_free_args(table, &a);
    mill_spec_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size, 4096);
    if (!text)
        return 0;
    char **items = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    int rc = mill_spec_split(text, &items, &n, &err);
    if (rc) {
        check_err(rc, &err);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (!items[i] || !items[i][0])
                abort();
            one_spec(items[i]);
        }
        mill_strv_free(items, n);
    }
    one_spec(text);
    free(text);
    return 0;
}
