/* log.h: leveled logging to stderr with time and module (ARCHITECTURE.md §4.8). stdout is never used
 * here: it carries only what the user asked for. */
#ifndef MILL_CORE_LOG_H
#define MILL_CORE_LOG_H

enum mill_log_level { MILL_LOG_DEBUG = 0, MILL_LOG_INFO, MILL_LOG_WARN, MILL_LOG_ERROR };

/* Messages below level are dropped. Default INFO; env MILL_LOG_LEVEL=debug|info|warn|error. */
void mill_log_set_level(enum mill_log_level level);
enum mill_log_level mill_log_get_level(void);
void mill_log(enum mill_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Seconds on the monotonic clock: for durations, progress rates and timeouts. */
double mill_clock_s(void);

#define MILL_DEBUG(mod, ...) mill_log(MILL_LOG_DEBUG, mod, __VA_ARGS__)
#define MILL_INFO(mod, ...) mill_log(MILL_LOG_INFO, mod, __VA_ARGS__)
#define MILL_WARN(mod, ...) mill_log(MILL_LOG_WARN, mod, __VA_ARGS__)
#define MILL_ERROR(mod, ...) mill_log(MILL_LOG_ERROR, mod, __VA_ARGS__)

#endif
