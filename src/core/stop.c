/* stop.c: the stop request (stop.h): one sig_atomic_t, set from a signal handler. */
#include "core/stop.h"

#include <signal.h>

static volatile sig_atomic_t stop_sig;

void mill_stop_request(int sig) { stop_sig = sig; }

int mill_stop_signal(void) { return stop_sig; }
