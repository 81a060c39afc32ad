/* array.h: growing a heap array by doubling, the one copy of the realloc idiom that lists,
 * tables and readers share. Knows nothing of what the elements are. */
#ifndef MILL_CORE_ARRAY_H
#define MILL_CORE_ARRAY_H

#include <stddef.h>

/* Makes room for element n (n elements of elem bytes are in use) in the array whose pointer is
 * at arr (a T **, passed as void *), doubling *cap, from first when it is 0. 0, or MILL_ENOMEM
 * leaving the array and *cap as they were. */
int mill_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

#endif
