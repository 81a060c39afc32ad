/* fuzz_pyliteral.c: libFuzzer target for the Python-literal reader (core/pyliteral.c), which
 * reads dataset cells such as MMMU-Pro's `options`, and of model config files
 * (mill_pyconfig_parse). The input's bytes, with their length, are parsed twice: both runs must
 * agree (same code and the same JSON text), an error must be MILL_EFORMAT or MILL_ENOMEM with a
 * message and leave a null value, and a list's str() items must come back non-NULL exactly
 * when the parse gave a list. The same bytes read as a config file: an error as above, which
 * names the file, or a value. Any violation aborts so libFuzzer records the input. Must not
 * write files or print. */
#include "core/pyliteral.h"
#include "core/spec.h"

#include <mill/buf.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_json(const char *s, size_t n, struct mill_value *v, char **json) {
    struct mill_err err = {0};
    int rc = mill_pyliteral_parse(s, n, v, &err);
    *json = NULL;
    if (rc) {
        if ((rc != MILL_EFORMAT && rc != MILL_ENOMEM) || !err.msg[0] || v->kind != MILL_V_NULL)
            abort();
        return rc;
    }
    struct mill_buf b = {0};
    if (mill_value_to_json(v, &b))
        abort();
    *json = mill_buf_take(&b);
    return 0;
}

static void check_str_list(const char *s, size_t n, const struct mill_value *v) {
    char **items;
    size_t k;
    struct mill_err err = {0};
    int rc = mill_pyliteral_str_list(s, n, &items, &k, &err);
    if (rc == MILL_ENOMEM)
        return;
    if (rc == 0) {
        if (v->kind != MILL_V_LIST || k != v->u.list.n || (k && !items))
            abort();
        for (size_t i = 0; i < k; i++)
            if (!items[i])
                abort();
        mill_strv_free(items, k);
    } else if (rc != MILL_EFORMAT || !err.msg[0] || items || k) {
        abort();
    }
}

static void check_config(const char *s, size_t n) {
    struct mill_value v;
    struct mill_err err = {0};
    int rc = mill_pyconfig_parse(s, n, "f.py", "model", &v, &err);
    if (rc && ((rc != MILL_EFORMAT && rc != MILL_ENOMEM) || v.kind != MILL_V_NULL ||
               (rc == MILL_EFORMAT && strncmp(err.msg, "f.py:", 5))))
        abort();
    struct mill_buf b = {0};
    if (!rc && mill_value_to_json(&v, &b))
        abort();
    mill_buf_free(&b);
    mill_value_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16)
        return 0;
    const char *s = (const char *)data;
    struct mill_value v1, v2;
    char *j1, *j2;
    int rc1 = parse_json(s, size, &v1, &j1);
    int rc2 = parse_json(s, size, &v2, &j2);
    if (rc1 != rc2 || (j1 && strcmp(j1, j2)))
        abort();
    check_str_list(s, size, &v1);
    check_config(s, size);
    free(j1);
    free(j2);
    mill_value_free(&v1);
    mill_value_free(&v2);
    return 0;
}
