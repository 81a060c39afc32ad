/* err.c: filling struct mill_err. Messages are formatted into the caller's fixed buffer, so
 * reporting an error never allocates. */
#include <mill/mill.h>

#include <stdio.h>
#include <string.h>

int mill_err_set(struct mill_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int mill_err_prefix(struct mill_err *err, const char *fmt, ...) {
    if (!err)
        return MILL_EINVAL;
    char head[MILL_ERR_MSG_MAX], old[MILL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    size_t n = strlen(head);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, m = strlen(old);
    memcpy(err->msg + n + 2, old, m < room ? m : room);
    err->msg[n + 2 + (m < room ? m : room)] = 0;
    return err->code;
}

const char *mill_status_str(int code) {
    switch (code) {
    case MILL_OK: return "ok";
    case MILL_EINVAL: return "invalid argument";
    case MILL_ENOMEM: return "out of memory";
    case MILL_EIO: return "i/o error";
    case MILL_EFORMAT: return "malformed input";
    case MILL_ENOTFOUND: return "not found";
    case MILL_EUNSUPPORTED: return "unsupported";
    case MILL_ENET: return "network error";
    case MILL_EBACKEND: return "backend error";
    case MILL_ELOCK: return "lock error";
    case MILL_EINTR: return "interrupted";
    case MILL_EHALTED: return "halted";
    default: return "unknown error";
    }
}

const char *mill_git_hash(void) { return MILL_GIT_HASH; }
