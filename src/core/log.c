/* log.c: the logger: "2026-11-23 10:00:00 INFO runner: message" lines on stderr, Mill's
 * format (asctime levelname message) with the module added. Thread-safe per line. */
#include "core/log.h"

#include "core/spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int level_set = 0;
static enum mill_log_level cur_level = MILL_LOG_INFO;

static void init_level(void) {
    if (level_set)
        return;
    level_set = 1;
    const char *e = getenv("MILL_LOG_LEVEL");
    if (!e)
        return;
    if (!strcasecmp(e, "debug"))
        cur_level = MILL_LOG_DEBUG;
    else if (!strcasecmp(e, "warn") || !strcasecmp(e, "warning"))
        cur_level = MILL_LOG_WARN;
    else if (!strcasecmp(e, "error"))
        cur_level = MILL_LOG_ERROR;
    else if (strcasecmp(e, "info"))
        fprintf(stderr,
                "mill: MILL_LOG_LEVEL='%s' is none of debug, info, warn, error: info "
                "used\n",
                e);
}

void mill_log_set_level(enum mill_log_level level) {
    level_set = 1;
    cur_level = level;
}

enum mill_log_level mill_log_get_level(void) {
    init_level();
    return cur_level;
}

void mill_log(enum mill_log_level level, const char *module, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    init_level();
    if (level < cur_level)
        return;
    char line[4096];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t k = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S ", &tm);
    int m = snprintf(line + k, sizeof line - k, "%s %s: ", names[level], module);
    if (m > 0 && (size_t)m < sizeof line - k)
        k += (size_t)m;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof line - k, fmt, ap);
    va_end(ap);
    mill_spec_mask_secrets(line); /* a spec or URL quoted in a message shows no key */
    fprintf(stderr, "%s\n", line);
}

double mill_clock_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
