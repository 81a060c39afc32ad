/* ftfy.h: ftfy.fix_text() (ftfy 6.3, its default configuration), which open_clip's tokenizer
 * applies to every text before anything else: HTML entities, mojibake (UTF-8 read as one of ten
 * single-byte encodings, once or more, whole or embedded), C1 controls, Latin ligatures,
 * full/half-width forms, curly quotes, line breaks, terminal escapes, control characters, NFC.
 * Its tables and regular expressions come from ftfy's source (ftfy_tables.h); NFC from
 * libutf8proc. */
#ifndef MILL_MODEL_CLIP_FTFY_H
#define MILL_MODEL_CLIP_FTFY_H

#include <mill/mill.h>

#include <stddef.h>

#define MILL_FTFY_VERSION "6.3.1" /* the ftfy whose fix_text this is (ftfy_tables.h) */

struct mill_ftfy;

/* Compiles ftfy's regular expressions; the object is read-only afterwards, so threads may
 * share it. */
int mill_ftfy_new(struct mill_ftfy **out, struct mill_err *err);
void mill_ftfy_free(struct mill_ftfy *f);

/* ftfy.fix_text(text[0..n)), text valid UTF-8 (NUL bytes allowed), into a malloc'd
 * NUL-terminated *out of *out_n bytes. Returns 0 or MILL_ENOMEM. */
int mill_ftfy_fix_text(const struct mill_ftfy *f, const char *text, size_t n, char **out,
                       size_t *out_n, struct mill_err *err);

#endif
