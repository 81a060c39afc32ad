/* file.c: mill_model_read_file (file.h). */
#include "model/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mill_model_read_file(const char *path, size_t max, char **buf, size_t *n,
                         struct mill_err *err) {
    *buf = NULL;
    *n = 0;
    /* Opened without blocking, so a FIFO is refused below instead of waited on. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return mill_err_set(err, e == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "cannot read %s: %s",
                            path, strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
        rc = mill_err_set(err, MILL_EIO, "%s is not a readable file", path);
    else if ((uint64_t)st.st_size > max)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: %lld bytes, more than the %zu allowed", path,
                          (long long)st.st_size, max);
    else if (!(*buf = malloc((size_t)st.st_size + 1)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory reading %s", path);
    else if (fread(*buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = mill_err_set(err, MILL_EIO, "cannot read %s: short read", path);
    fclose(f);
    if (rc) {
        free(*buf);
        *buf = NULL;
        return rc;
    }
    (*buf)[st.st_size] = 0;
    *n = (size_t)st.st_size;
    return 0;
}
