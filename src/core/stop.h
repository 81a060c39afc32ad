/* stop.h: a request to stop long work at the next clean point (SIGINT, SIGTERM). The CLI's
 * signal handler files it; the runner honours it between batches, after the batch in flight is
 * written and flushed, so nothing partial is left. The library installs no handler. */
#ifndef MILL_CORE_STOP_H
#define MILL_CORE_STOP_H

#include <mill/mill.h>

/* Files a stop request for signal sig. Async-signal-safe. */
void mill_stop_request(int sig);
/* The signal of the pending stop request, 0 when none. Any thread may ask. */
int mill_stop_signal(void);
/* flock(fd, LOCK_EX) on the lock file at path that gives up when a stop is requested: LOCK_NB
 * tried every 100 ms (a blocking flock is restarted after an SA_RESTART handler, so the signal
 * would not end the wait). 0 when locked; MILL_EINTR ("stopped by signal N while waiting for
 * PATH") or MILL_ELOCK ("cannot lock PATH: ...") in err. */
int mill_flock_stoppable(int fd, const char *path, struct mill_err *err);

#endif
