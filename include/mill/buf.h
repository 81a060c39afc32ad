/* buf.h: a growable byte buffer (always NUL-terminated) used by writers and serialisers. */
#ifndef MILL_BUF_H
#define MILL_BUF_H

#include "mill.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mill_buf {
    char *p;    /* owned; p[n] == 0 whenever p != NULL */
    size_t n;   /* bytes used */
    size_t cap; /* bytes allocated */
};

/* Appends n bytes (or a C string, or formatted text). Return 0 or MILL_ENOMEM. */
MILL_API int mill_buf_add(struct mill_buf *b, const void *p, size_t n);
MILL_API int mill_buf_adds(struct mill_buf *b, const char *s);
MILL_API int mill_buf_addf(struct mill_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
MILL_API int mill_buf_addc(struct mill_buf *b, char c);
/* Appends s as a JSON string literal (quotes and escapes; invalid UTF-8 bytes become U+FFFD). */
MILL_API int mill_buf_add_json_str(struct mill_buf *b, const char *s, size_t n);
/* Appends a double as Python's repr() would print it ("0.5", "1.0", "nan", "1e-05"). */
MILL_API int mill_buf_add_pyfloat(struct mill_buf *b, double x);
/* Appends a double as Python's json module writes it: repr(), or NaN / Infinity / -Infinity. */
MILL_API int mill_buf_add_json_num(struct mill_buf *b, double x);
MILL_API void mill_buf_reset(struct mill_buf *b); /* n = 0, keeps memory */
MILL_API void mill_buf_free(struct mill_buf *b);  /* releases memory; NULL-safe */
/* Moves the contents out (caller frees with free()); the buffer is left empty. */
MILL_API char *mill_buf_take(struct mill_buf *b);

#ifdef __cplusplus
}
#endif

#endif
