/* regex.h: Python-`re`-compatible searching for the answer parsers, on PCRE2 (UTF + UCP, so
 * \b, \s and case folding are Unicode-aware as in Python 3 str patterns). Patterns are compiled
 * once and cached; matching never allocates per call beyond PCRE2's match data. */
#ifndef MILL_CORE_REGEX_H
#define MILL_CORE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

enum { MILL_RE_IGNORECASE = 1, MILL_RE_DOTALL = 2 };

/* Python's \s on str patterns: the str.isspace() characters (PCRE2's \s lacks U+001C..U+001F
 * and has U+180E, so a pattern spells the class out). */
#define MILL_RE_PY_S                                            \
    "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}" \
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
/* The "i" (or "I") of Python's IGNORECASE, which also takes U+0130 and U+0131 (PCRE2's caseless
 * "i" does not). */
#define MILL_RE_PY_I "[i\\x{130}\\x{131}]"

/* re.search(pattern, text, flags) on text[0..n) (which may hold NULs): true on a match; group
 * 1's span (or the whole match's when the pattern has no group) goes to *start / *len. Static
 * patterns only (kept compiled for the process); an invalid pattern aborts with a message, as it
 * is a programming error. */
bool mill_re_search(const char *pattern, int flags, const char *text, size_t n, size_t *start,
                    size_t *len);
/* Like mill_re_search from byte offset `from`. */
bool mill_re_search_from(const char *pattern, int flags, const char *text, size_t n, size_t from,
                         size_t *start, size_t *len);

#endif
