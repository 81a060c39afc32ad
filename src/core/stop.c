/* stop.c: the stop request (stop.h): one lock-free atomic int, set from a signal handler and
 * read by every thread; and a lock wait that gives up on it. */
#include "core/stop.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <time.h>

static atomic_int stop_sig;

void mill_stop_request(int sig) { atomic_store(&stop_sig, sig); }

int mill_stop_signal(void) { return atomic_load(&stop_sig); }

int mill_flock_stoppable(int fd) {
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (mill_stop_signal()) {
            errno = EINTR;
            return -1;
        }
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
}
