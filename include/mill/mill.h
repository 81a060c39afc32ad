/* mill.h: the umbrella header of libmill: version, ABI version, error codes and the error struct.
 *
 * Every public function of libmill returns an int (0 = MILL_OK, negative = a MILL_E* code) and,
 * where it can fail, fills a caller-owned struct mill_err with a message that names the file,
 * row, field or URL at fault. Nothing in libmill exits the process or prints to stdout. */
#ifndef MILL_MILL_H
#define MILL_MILL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MILL_API marks the public functions: libmill.so is built with hidden visibility and exports
 * these alone, so its internal names never meet another library's (libmtmd has its own clip_*). */
#if defined(__GNUC__) || defined(__clang__)
#define MILL_API __attribute__((visibility("default")))
#else
#define MILL_API
#endif

#define MILL_VERSION "0.1.0"
/* Bumped whenever a struct a plugin builds or reads (task and benchmark configs, tables, doc,
 * value, metric result) changes layout. Backends are built in, so their structs are not
 * counted. A plugin may carry any version from MILL_ABI_OLDEST on: 3 appended text_len to
 * struct mill_sample_result, which a plugin of 2 never reads. */
#define MILL_ABI_VERSION 3
#define MILL_ABI_OLDEST 2

/* Error codes: append-only. */
enum mill_status {
    MILL_OK = 0,
    MILL_EINVAL = -1,       /* bad argument or usage (exit code 2 at the CLI) */
    MILL_ENOMEM = -2,       /* allocation failed */
    MILL_EIO = -3,          /* a file could not be read or written */
    MILL_EFORMAT = -4,      /* corrupt or malformed input bytes */
    MILL_ENOTFOUND = -5,    /* a file, task, model or key does not exist */
    MILL_EUNSUPPORTED = -6, /* a backend cannot serve a task, or a feature is absent */
    MILL_ENET = -7,         /* network failure */
    MILL_EBACKEND = -8,     /* the model backend failed */
    MILL_ELOCK = -9,        /* a lock could not be taken */
    MILL_EINTR = -10,       /* stopped between batches by a stop request (SIGINT, SIGTERM) */
    MILL_EHALTED = -11,     /* a backend cannot go on, but each request of the batch it was
                               given holds its answer or its own error (written, then stop) */
};

#define MILL_ERR_MSG_MAX 1024

struct mill_err {
    int code;                   /* the last MILL_E* set, 0 when none */
    char msg[MILL_ERR_MSG_MAX]; /* NUL-terminated, human-readable, never holds secrets */
};

/* Sets err (when non-NULL) to code and a printf-style message; returns code. */
MILL_API int mill_err_set(struct mill_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the message already in err with a printf-style context; returns err->code. */
MILL_API int mill_err_prefix(struct mill_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A short name for a status code ("invalid argument", "i/o error", ...). Static storage. */
MILL_API const char *mill_status_str(int code);

/* The git commit libmill was built from (short hash, or "unknown"). */
MILL_API const char *mill_git_hash(void);

#ifdef __cplusplus
}
#endif

#endif
