/* spec.h: Mill's model-spec grammar: `name[k=v,...]`, bracket-aware comma lists, and value
 * coercion (bool, int, float, else string). Parsing only: no backend is looked up here. */
#ifndef MILL_CORE_SPEC_H
#define MILL_CORE_SPEC_H

#include <mill/backend.h>
#include <mill/buf.h>

/* Splits a comma-separated list, ignoring commas inside [...] brackets; items are trimmed. A list
 * written as Python's list literal, the spelling python-fire gives Python Mill a list with
 * ("[a,b]", "['a', 'b']": the whole text in one pair of brackets), is that list, each item
 * without its quotes. *items is a malloc'd array of malloc'd strings (free with
 * mill_strv_free). An empty item or unbalanced brackets give MILL_EINVAL with a message that
 * quotes the list. */
int mill_spec_split(const char *list, char ***items, size_t *n, struct mill_err *err);
void mill_strv_free(char **v, size_t n);

/* A quantisation sweep: a spec whose quant= value lists several tags separated by ';'
 * (`llama[path=org/m-GGUF,quant=Q4_K_M;Q8_0;F16]`) becomes one spec per tag, in order, with
 * quant= set to that tag and the rest of the text unchanged. Any other spec is one item, itself.
 * *items as mill_spec_split (free with mill_strv_free). MILL_EINVAL for an empty tag. */
int mill_spec_sweep(const char *spec, char ***items, size_t *n, struct mill_err *err);
/* The model name of one file of a sweep: "<model>:<its quant= tag>", so each file is its own
 * job (eval names it so; schedule looks its results up by it). malloc'd; NULL when out of
 * memory. */
char *mill_spec_sweep_name(const char *model, const struct mill_model_spec *file);

/* Parses one spec. `a[b=1,c=x]` -> type "a", args {b: 1, c: "x"}; `a` -> type "a", no args.
 * Malformed specs (empty name, "k" without "=", empty key, text after "]", empty brackets)
 * give MILL_EINVAL naming the spec and the fault. Free with mill_spec_free. */
int mill_spec_parse(const char *s, struct mill_model_spec *spec, struct mill_err *err);
/* Overwrites with '*' the value of every "api_key=" in text (up to ',', ']', a quote, a ')' or
 * white space) and the password of every URL's "user:password@", in place, so messages quoting
 * a spec or a URL never show a key. */
void mill_spec_mask_secrets(char *text);
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

/* Backend argument tables (struct mill_backend_arg, backend.h). */

/* The entry of args (ending with {NULL}; args may be NULL) named name, or NULL. */
const struct mill_backend_arg *mill_spec_arg_find(const struct mill_backend_arg *args,
                                                  const char *name);
/* Refuses a key of s that args does not list, then stores each STR, INT and BOOL argument, or
 * its literal default, into the field at its offset in target. MILL_EINVAL names the spec, the
 * key and what it must be; MILL_ENOMEM. STR fields already stored stay for
 * mill_spec_free_args, also on failure. */
int mill_spec_apply_args(const struct mill_model_spec *s, const struct mill_backend_arg *args,
                         void *target, struct mill_err *err);
/* Frees the STR fields of target that args names, and sets them to NULL. */
void mill_spec_free_args(const struct mill_backend_arg *args, void *target);
/* Appends one line per argument ("  name  type  default  doc") to out. */
int mill_spec_args_help(const struct mill_backend_arg *args, struct mill_buf *out);

#endif
