/* thread.c: fork-join over a few items (thread.h). */
#include "core/thread.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

void mill_fork_join(void *(*fn)(void *), void *items, size_t size, size_t k) {
    char *base = items;
    pthread_t *th = k > 1 ? malloc((k - 1) * sizeof *th) : NULL;
    bool *started = k > 1 ? calloc(k - 1, sizeof *started) : NULL;
    for (size_t t = 1; th && started && t < k; t++)
        started[t - 1] = pthread_create(&th[t - 1], NULL, fn, base + t * size) == 0;
    if (k)
        fn(base);
    for (size_t t = 1; t < k; t++) {
        if (th && started && started[t - 1])
            pthread_join(th[t - 1], NULL);
        else
            fn(base + t * size); /* no thread to be had: its share here */
    }
    free(th);
    free(started);
}
