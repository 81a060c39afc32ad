/* jinja.h: chat templates as transformers renders them. A Jinja2 template (the GGUF's
 * tokenizer.chat_template, or a tokenizer_config.json's) is parsed once and rendered with a
 * value tree of variables, with the environment transformers' apply_chat_template builds:
 * trim_blocks and lstrip_blocks on, a single trailing newline of the source dropped,
 * loopcontrols (break, continue), no autoescape, its tojson filter (json.dumps, ensure_ascii off)
 * and the globals raise_exception, strftime_now, namespace and range.
 *
 * What a chat template needs is there: text with whitespace control, {{ }}, if/elif/else,
 * for (tuple targets, a filter, else, the loop object), set (names, namespace attributes, blocks),
 * macros, generation blocks, raw, the expression grammar with Python's arithmetic, comparisons,
 * slices, str/dict methods, str.format() and % as Python's (core/pyformat.c), and the common
 * filters and tests. What is not (include, extends, call blocks, filter blocks, Jinja's filters
 * it lacks) is refused when parsed or rendered with a message naming the line, so a caller can
 * fall back.
 *
 * Parsing and rendering are bounded (nesting, loop steps, output size, memory), take no locks and
 * keep no global state; a parsed template may be rendered from several threads at once. */
#ifndef MILL_CORE_JINJA_H
#define MILL_CORE_JINJA_H

#include <mill/buf.h>
#include <mill/value.h>

struct mill_jinja;

/* Parses src[0..n) into *out. MILL_EFORMAT ("chat template line N: ...") on a syntax error or
 * a construct we do not render, MILL_ENOMEM. */
int mill_jinja_parse(const char *src, size_t n, struct mill_jinja **out, struct mill_err *err);

/* Renders t with vars (a MILL_V_STRUCT: name -> value; NULL for none) appended to out.
 * MILL_EFORMAT names the line and what failed (an undefined variable's attribute, a type
 * error, the template's own raise_exception("...") as "chat template raised: ..."), or a
 * limit; MILL_ENOMEM. On error out may hold part of the text. */
int mill_jinja_render(const struct mill_jinja *t, const struct mill_value *vars,
                      struct mill_buf *out, struct mill_err *err);

void mill_jinja_free(struct mill_jinja *t); /* NULL-safe */

#endif
