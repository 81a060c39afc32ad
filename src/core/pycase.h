/* pycase.h: Python's str.upper(), str.lower(), str.title() and str.capitalize() on UTF-8 text,
 * as CPython 3.11 maps case (Unicode 14.0: full mappings with SpecialCasing's unconditional
 * ones, so "ß".upper() is "SS"; lower's Final_Sigma context; title's and capitalize's title
 * case), for the Jinja engine (core/jinja_run.c). The tables are tools/gen_case_tables.py's. */
#ifndef MILL_CORE_PYCASE_H
#define MILL_CORE_PYCASE_H

#include <mill/buf.h>

#include <stddef.h>

enum mill_pycase {
    MILL_PYCASE_UPPER = 'u',
    MILL_PYCASE_LOWER = 'l',
    MILL_PYCASE_TITLE = 't',      /* str.title() */
    MILL_PYCASE_CAPITALIZE = 'c', /* str.capitalize() */
};

/* Appends s[0..n) case-mapped to out. A byte that is not part of well-formed UTF-8 is copied
 * as it is and counts as neither cased nor case-ignorable. 0, or MILL_ENOMEM. */
int mill_py_recase(const char *s, size_t n, enum mill_pycase mode, struct mill_buf *out);

#endif
