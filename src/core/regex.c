/* regex.c: PCRE2-backed re.search for the answer parsers (regex.h). Besides the CLIP tokenizer
 * (which compiles its own pattern) the only user of pcre2.h. Compiled patterns live in a small
 * process-wide cache keyed by (pattern, flags). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct compiled {
    const char *pattern; /* static storage: the callers' literals */
    int flags;
    pcre2_code *code;
};

static struct compiled cache[64];
static size_t n_cache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static pcre2_code *compile(const char *pattern, int flags) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_cache; i++)
        if (cache[i].flags == flags && !strcmp(cache[i].pattern, pattern)) {
            pthread_mutex_unlock(&lock);
            return cache[i].code;
        }
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    if (flags & MILL_RE_IGNORECASE)
        opts |= PCRE2_CASELESS;
    if (flags & MILL_RE_DOTALL)
        opts |= PCRE2_DOTALL;
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
    if (!code || n_cache == sizeof cache / sizeof cache[0]) {
        fprintf(stderr, "mill: internal error: bad regex '%s' at %zu\n", pattern, (size_t)off);
        abort();
    }
    cache[n_cache++] = (struct compiled){pattern, flags, code};
    pthread_mutex_unlock(&lock);
    return code;
}

bool mill_re_search_from(const char *pattern, int flags, const char *text, size_t n, size_t from,
                         size_t *start, size_t *len) {
    pcre2_code *code = compile(pattern, flags);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!md)
        return false;
    int rc = pcre2_match(code, (PCRE2_SPTR)text, n, from, 0, md, NULL);
    bool hit = rc > 0;
    if (hit) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int g = rc > 1 ? 1 : 0;
        *start = ov[2 * g];
        *len = ov[2 * g + 1] - ov[2 * g];
    }
    pcre2_match_data_free(md);
    return hit;
}

bool mill_re_search(const char *pattern, int flags, const char *text, size_t n, size_t *start,
                    size_t *len) {
    return mill_re_search_from(pattern, flags, text, n, 0, start, len);
}
