/* pyliteral.h: Python literals as ast.literal_eval reads them, for dataset columns that hold a
 * Python repr rather than JSON, such as MMMU-Pro's `options` ("['$6', \"Tom's\", '10\u00b0C']",
 * BEHAVIOUR.md §4.5). Reads str (quotes, triple quotes, escapes, r/u prefixes, implicit
 * concatenation), int, float, True, False, None, lists and tuples (given as lists); everything
 * else is an error naming the byte offset. Bounded nesting, no I/O, no global state. */
#ifndef MILL_CORE_PYLITERAL_H
#define MILL_CORE_PYLITERAL_H

#include <mill/value.h>

/* Deepest nesting of brackets, parentheses and unary signs accepted. */
#define MILL_PYLITERAL_MAX_DEPTH 64

/* Parses s[0..n) as ast.literal_eval(s) would into *out (str -> MILL_V_STR, int -> MILL_V_INT,
 * float -> MILL_V_FLOAT, True/False -> MILL_V_BOOL, None -> MILL_V_NULL, list and tuple ->
 * MILL_V_LIST); the caller frees it with mill_value_free. Returns 0, MILL_ENOMEM, or
 * MILL_EFORMAT with "python literal: byte N: ..." in err, also for what Python accepts and we
 * do not: dicts, sets, bytes, f-strings, complex numbers, Ellipsis, integers outside int64,
 * \N{...} escapes and surrogate escapes other than a high-low pair (which becomes one code
 * point, where Python would keep two surrogates). *out is a null value on failure. */
int mill_pyliteral_parse(const char *s, size_t n, struct mill_value *out, struct mill_err *err);

/* Parses s[0..n), which must be a list or tuple, and gives each element as Python's str() would
 * write it: a str as is (up to an embedded NUL), an int in decimal, a float as repr(), True,
 * False, None. *items is a malloc'd array of *n_items malloc'd strings (free with
 * mill_strv_free, core/spec.h; NULL when empty). Returns 0, MILL_ENOMEM, or MILL_EFORMAT (a
 * parse error, "not a list", or a nested list element). */
int mill_pyliteral_str_list(const char *s, size_t n, char ***items, size_t *n_items,
                            struct mill_err *err);

/* Reads a Python file of imports and assignments, such as Python Mill's model configs
 * (`model = dict(type=TransformersModel, path=..., run_cfg=dict(...))`, BEHAVIOUR.md §1.6),
 * without running anything: at the file's top level, docstrings, `import a.b [as c]` and
 * `from a.b import X [as Y], ...`, whose names are bound to MILL_V_BYTES values ("a.b:X", or
 * "a.b" for a module: what was imported, for the caller to interpret; no literal gives bytes),
 * and `NAME = value`, where a value is a literal of mill_pyliteral_parse, dict(k=v, ...), a
 * {'k': v} display (MILL_V_STRUCT, in Python's key order) or a name bound before. Anything else
 * (a call, an operator, an attribute, an indented block, `*`/`**` unpacking, chained
 * assignment, a keyword or a non-ASCII name, a declared encoding other than UTF-8) is
 * MILL_EFORMAT with "<file>:<line>: ...". Bounded: nesting as for literals (also through
 * names), 1,024 names, 16 MiB of copies through names. *out is what var is bound to at the
 * end, or MILL_EFORMAT when nothing is. */
int mill_pyconfig_parse(const char *s, size_t n, const char *file, const char *var,
                        struct mill_value *out, struct mill_err *err);

#endif
