/* pyformat.h: Python's text formatting of the values chat templates hold (str, int, float):
 * format(value, spec), the format-spec mini-language of str.format(), and the conversions of
 * printf-style `%` formatting. The Jinja engine parses the format strings and picks the values;
 * this module turns one value into text as CPython 3.11 does. Errors carry Python's message
 * (its ValueError's or TypeError's) in why. Pure: no state, no allocation but the buffer's. */
#ifndef MILL_CORE_PYFORMAT_H
#define MILL_CORE_PYFORMAT_H

#include <mill/buf.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed spec: [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type]. */
struct mill_pyspec {
    uint32_t fill;   /* a code point; ' ' when none is given */
    char align;      /* '<', '>', '^', '=' or 0 (the type's default) */
    char sign;       /* '+', '-', ' ' or 0 */
    bool z, alt;     /* "z": -0 made 0; "#": alternate form */
    bool zero;       /* "0" before the width */
    int64_t width;   /* -1 when none */
    char group;      /* ',', '_' or 0 */
    int64_t prec;    /* -1 when none */
    char type;       /* 0 when none */
    bool min_digits; /* printf's %.Nd: prec is a count of digits an int is padded to */
};

/* Parses spec[0..n). 0, or MILL_EINVAL with Python's ValueError message in why. */
int mill_pyspec_parse(const char *spec, size_t n, struct mill_pyspec *sp, char *why, size_t wn);

/* format(s, spec) of str s[0..n) (UTF-8; width and precision count code points). */
int mill_pyformat_str(struct mill_buf *b, const char *s, size_t n, const struct mill_pyspec *sp,
                      char *why, size_t wn);
/* format(v, spec) of an int (a float type such as 'f' formats float(v)). */
int mill_pyformat_int(struct mill_buf *b, int64_t v, const struct mill_pyspec *sp, char *why,
                      size_t wn);
/* format(v, spec) of a float; an empty spec is repr(v). */
int mill_pyformat_float(struct mill_buf *b, double v, const struct mill_pyspec *sp, char *why,
                        size_t wn);

/* One printf-style conversion "%[flags][width][.precision]type" read at s[0..n) (after the
 * '%', a mapping key already taken; '*' is not supported): its spec for the functions above in
 * *sp (printf's right alignment, '-' and '0' flags, %x's prefix, %.Nd's digits), the type
 * letter in *type, the bytes read in *used. 0, or MILL_EINVAL with Python's message. */
int mill_pyprintf_spec(const char *s, size_t n, struct mill_pyspec *sp, char *type, size_t *used,
                       char *why, size_t wn);

#endif
