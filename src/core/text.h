/* text.h: small string helpers with Python's semantics where prompts depend on them. */
#ifndef MILL_CORE_TEXT_H
#define MILL_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The UTF-8 code point at s[0..n) into *cp: its length (1 to 4), or 0 when ill-formed or
 * n == 0. */
size_t mill_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes code point cp (at most U+10FFFF) as UTF-8 into out[0..4): its length. */
size_t mill_utf8_encode(uint32_t cp, char *out);
/* The bytes of the whitespace character (Python's str.isspace()) at s[0..n), or 0. */
size_t mill_py_space_len(const char *s, size_t n);
/* Python's str.strip() with no argument: the span of s without leading and trailing Unicode
 * whitespace (str.isspace() characters, UTF-8 encoded). Writes start offset and length. */
void mill_py_strip_span(const char *s, size_t n, size_t *start, size_t *len);
/* s[0..n) without leading and trailing ASCII whitespace (isspace): its start in *b, its length
 * in *len. */
void mill_ascii_strip_span(const char *s, size_t n, const char **b, size_t *len);
/* The length of s[0..n) without its trailing Unicode whitespace: Python's str.rstrip(). */
size_t mill_py_rstrip_len(const char *s, size_t n);
/* A malloc'd copy of s stripped as str.strip() does; NULL on allocation failure. */
char *mill_py_strip(const char *s);
/* A malloc'd copy of s with every occurrence of `from` replaced by `to`. */
char *mill_str_replace(const char *s, const char *from, const char *to);
/* Number of Unicode code points in UTF-8 s (invalid bytes count one each). */
size_t mill_utf8_len(const char *s);
bool mill_str_ends_with(const char *s, const char *suffix);
/* The terminal cells s takes, as rich's cell_len counts them (East Asian wide and emoji 2,
 * combining and zero-width 0, others 1; an ill-formed byte 1): for aligned tables. */
size_t mill_text_width(const char *s);
/* The length of text[0..n) cut at the stop strings as Python Mill's _truncate_at_stop cuts it:
 * each in turn, in order, cuts the text left so far where it first occurs in it (so a later
 * stop must lie wholly before the cut; an empty one cuts everything). stop: NULL-terminated,
 * may be NULL; the text may hold NUL bytes. n when no stop cuts. */
size_t mill_stop_cut(const char *text, size_t n, const char *const *stop);
/* Whether mill_stop_cut of every text that begins with text[0..n) is already known: some stop
 * cuts it, and no stop that does not occur yet could change that cut by occurring later (nor
 * could one holding U+FFFD, which may match only once invalid bytes are replaced by it).
 * *cut is then that cut. A generation may end there. */
bool mill_stop_decided(const char *text, size_t n, const char *const *stop, size_t *cut);
/* f"{a} {b}".strip(), malloc'd; NULL on allocation failure. */
char *mill_py_join_strip(const char *a, const char *b);
/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode Table 3-7), or 0 when it is
 * ill-formed; *bad (when non-NULL) is then the length of its maximal subpart (at least 1): the
 * bytes one U+FFFD replaces, as Python's bytes.decode("utf-8", "replace") does. */
size_t mill_utf8_valid_len(const unsigned char *s, size_t n, size_t *bad);
/* The well-formed UTF-8 character at s[0..n) into *cp: its length, 0 when ill-formed (an
 * overlong form included: Python decodes it as U+FFFD). */
size_t mill_utf8_next_valid(const unsigned char *s, size_t n, uint32_t *cp);
/* Whether s[0..n) is well-formed UTF-8 throughout (Python's strict decoder accepts it). */
bool mill_utf8_valid(const char *s, size_t n);
/* s[0..n) as valid UTF-8, as Python's bytes.decode("utf-8", "replace") makes it (each maximal
 * ill-formed subpart one U+FFFD; NUL bytes kept): malloc'd and NUL-terminated, its length in
 * *len; NULL when out of memory. */
char *mill_utf8_repair(const char *s, size_t n, size_t *len);
/* strtod in the "C" locale whatever setlocale() the program made (core/buf.c). */
double mill_strtod_c(const char *s, char **end);
/* snprintf in the "C" locale, likewise (core/buf.c). */
int mill_snprintf_c(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
