/* pystr.h: Python's text primitives that the CLIP and CLAP text heads need, in C: UTF-8 decoded
 * as bytes.decode("utf-8", "replace") does, code points encoded back, html.unescape() with
 * Python 3.11's rules and table, and the HTML5 named references themselves. Pure functions,
 * no state. */
#ifndef MILL_MODEL_CLIP_PYSTR_H
#define MILL_MODEL_CLIP_PYSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point from s[0..n), n >= 1: a maximal invalid subpart becomes one U+FFFD.
 * Returns the bytes consumed. */
size_t mill_pystr_decode_cp(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes c's UTF-8 (1 to 4 bytes) to out; returns the length. */
size_t mill_pystr_encode_cp(uint32_t c, char *out);
/* s[0..n) decoded into out (room for n code points); returns how many. */
size_t mill_pystr_decode(const char *s, size_t n, uint32_t *out);
/* cps[0..n) as UTF-8 into out (room for 4n + 1 bytes), NUL-terminated; returns the length. */
size_t mill_pystr_encode(const uint32_t *cps, size_t n, char *out);
/* The value of ASCII digit c (hexadecimal too when hex), or -1. */
int mill_pystr_digit(uint32_t c, bool hex);
/* html.unescape(in) into out (never longer than in); returns its length. */
size_t mill_pystr_html_unescape(const uint32_t *in, size_t n, uint32_t *out);
/* The HTML5 named reference name[0..n) + ';' (ASCII, without '&' and ';'): its one or two code
 * points into cps; returns how many, 0 when html.entities.html5 has no such name. */
int mill_pystr_html5_entity(const char *name, size_t n, uint32_t cps[2]);

#endif
