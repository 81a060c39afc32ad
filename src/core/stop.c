/* stop.c: the stop request (stop.h): one lock-free atomic int, set from a signal handler and
 * read by every thread; and a lock wait that gives up on it. */
#include "core/stop.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

static atomic_int stop_sig;

void mill_stop_request(int sig) { atomic_store(&stop_sig, sig); }

int mill_stop_signal(void) { return atomic_load(&stop_sig); }

int mill_flock_stoppable(int fd, const char *path, struct mill_err *err) {
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return mill_err_set(err, MILL_ELOCK, "cannot lock %s: %s", path, strerror(errno));
        if (mill_stop_signal())
            return mill_err_set(err, MILL_EINTR, "stopped by signal %d while waiting for %s",
                                mill_stop_signal(), path);
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
}
