/* spec.h: Mill's model-spec grammar: `name[k=v,...]`, bracket-aware comma lists, and value
 * coercion (bool, int, float, else string). Parsing only: no backend is looked up here. */
#ifndef MILL_CORE_SPEC_H
#define MILL_CORE_SPEC_H

#include <mill/backend.h>

/* Splits a comma-separated list, ignoring commas inside [...] brackets; items are trimmed.
 * *items is a malloc'd array of malloc'd strings (free with mill_strv_free). An empty item or
 * unbalanced brackets give MILL_EINVAL with a message that quotes the list. */
int mill_spec_split(const char *list, char ***items, size_t *n, struct mill_err *err);
void mill_strv_free(char **v, size_t n);

/* Parses one spec. `a[b=1,c=x]` -> type "a", args {b: 1, c: "x"}; `a` -> type "a", no args.
 * Malformed specs (empty name, "k" without "=", empty key, text after "]", empty brackets)
 * give MILL_EINVAL naming the spec and the fault. Free with mill_spec_free. */
int mill_spec_parse(const char *s, struct mill_model_spec *spec, struct mill_err *err);
void mill_spec_free(struct mill_model_spec *spec);

/* Mill's coercion of an inline value: true/false (any case) -> bool, then int, then float,
 * else string. */
int mill_spec_coerce(const char *s, struct mill_value *out);

/* Typed argument access. Missing keys return def; a value of the wrong type gives MILL_EINVAL
 * with a message naming the key and the spec. */
const char *mill_spec_get_str(const struct mill_model_spec *s, const char *key, const char *def);
int mill_spec_get_int(const struct mill_model_spec *s, const char *key, int64_t def, int64_t *out,
                      struct mill_err *err);
int mill_spec_get_bool(const struct mill_model_spec *s, const char *key, bool def, bool *out,
                       struct mill_err *err);
/* Fails with MILL_EINVAL naming the first key of s not in the NULL-terminated list known. */
int mill_spec_check_keys(const struct mill_model_spec *s, const char *const *known,
                         struct mill_err *err);

#endif
