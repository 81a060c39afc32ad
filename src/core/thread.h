/* thread.h: fork-join over a few items: the one pattern the backends use to spread CPU work
 * (image and audio preprocessing, tokenisation, the reduction of logit rows) over threads. */
#ifndef MILL_CORE_THREAD_H
#define MILL_CORE_THREAD_H

#include <stddef.h>

/* Calls fn(item) for each of the k items of the array items (size bytes each): item 0 on the
 * calling thread, every other one on a thread of its own, or on the calling thread when that
 * thread cannot be started; returns once every call has returned. fn's result is ignored. */
void mill_fork_join(void *(*fn)(void *), void *items, size_t size, size_t k);

#endif
