/* compress.c: compressed data files as plain FILE streams (compress.h), through libarchive's
 * "raw" format with its filters (the library that already reads our WebDataset shards; its
 * Debian build has gzip, bzip2, xz, zstd and lz4). glibc's fopencookie makes the stream: reads
 * pull decompressed bytes, a rewind reopens the archive, close frees it. */
#include "data/compress.h"

#include "core/text.h"

#include <archive.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 65536

static const struct {
    const char *suffix, *name;
    int filter; /* what libarchive must find: the extension decides, as in fsspec */
} KINDS[] = {
    {".gz", "gzip", ARCHIVE_FILTER_GZIP}, {".bz2", "bzip2", ARCHIVE_FILTER_BZIP2},
    {".xz", "xz", ARCHIVE_FILTER_XZ},     {".zst", "zstd", ARCHIVE_FILTER_ZSTD},
    {".lz4", "lz4", ARCHIVE_FILTER_LZ4},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

static _Thread_local char read_error[512];

static int kind_of(const char *path) {
    for (size_t i = 0; i < N_KINDS; i++)
        if (mill_str_ends_with(path, KINDS[i].suffix))
            return (int)i;
    return -1;
}

size_t mill_data_compression_suffix(const char *path) {
    int k = kind_of(path);
    return k < 0 ? 0 : strlen(KINDS[k].suffix);
}

const char *mill_data_read_error(int errno_value) {
    return read_error[0] ? read_error : strerror(errno_value);
}

struct stream {
    struct archive *a;
    char *path;
    int kind;   /* index in KINDS */
    bool empty; /* the stream holds no bytes at all */
    off64_t pos;
};

/* (Re)opens the archive at the start of its one raw entry; an error message into why. */
static int stream_open(struct stream *s, char *why, size_t n) {
    if (s->a)
        archive_read_free(s->a);
    s->pos = 0;
    struct archive_entry *entry;
    if (!(s->a = archive_read_new())) {
        snprintf(why, n, "out of memory");
        return MILL_ENOMEM;
    }
    archive_read_support_filter_all(s->a);
    archive_read_support_format_raw(s->a);
    archive_read_support_format_empty(s->a);
    int r = archive_read_open_filename(s->a, s->path, BLOCK_SIZE);
    if (r == ARCHIVE_OK)
        r = archive_read_next_header(s->a, &entry);
    s->empty = r == ARCHIVE_EOF;
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
        snprintf(why, n, "cannot be read as %s (%s)", KINDS[s->kind].name,
                 archive_error_string(s->a) ? archive_error_string(s->a) : "no detail");
        return MILL_EFORMAT;
    }
    if (archive_filter_code(s->a, 0) != KINDS[s->kind].filter) {
        snprintf(why, n, "not %s data, as its name says", KINDS[s->kind].name);
        return MILL_EFORMAT;
    }
    return 0;
}

static ssize_t stream_read(void *cookie, char *buf, size_t size) {
    struct stream *s = cookie;
    if (s->empty)
        return 0;
    la_ssize_t n = archive_read_data(s->a, buf, size);
    if (n < 0) {
        const char *e = archive_error_string(s->a);
        snprintf(read_error, sizeof read_error, "corrupt or truncated compressed data (%s)",
                 e ? e : "no detail");
        errno = EIO;
        return -1;
    }
    s->pos += n;
    return n;
}

/* Only what the readers ask: a rewind (reopening), and where the stream is. */
static int stream_seek(void *cookie, off64_t *offset, int whence) {
    struct stream *s = cookie;
    if (whence == SEEK_CUR && *offset == 0) {
        *offset = s->pos;
        return 0;
    }
    if (whence == SEEK_SET && *offset == 0) {
        char why[256];
        if (stream_open(s, why, sizeof why) == 0)
            return 0;
        snprintf(read_error, sizeof read_error, "cannot start it over: %s", why);
        errno = EIO;
        return -1;
    }
    errno = ESPIPE;
    return -1;
}

static int stream_close(void *cookie) {
    struct stream *s = cookie;
    archive_read_free(s->a);
    free(s->path);
    free(s);
    return 0;
}

FILE *mill_data_fopen(const char *path, struct mill_err *err) {
    read_error[0] = 0;
    if (!mill_data_compression_suffix(path)) {
        FILE *f = fopen(path, "rb");
        if (!f)
            mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                         strerror(errno));
        return f;
    }
    FILE *probe = fopen(path, "rb"); /* a missing file is "not found", as a plain one is */
    if (!probe) {
        mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                     strerror(errno));
        return NULL;
    }
    fclose(probe);
    struct stream *s = calloc(1, sizeof *s);
    char why[256];
    if (s)
        s->kind = kind_of(path);
    int rc = s && (s->path = strdup(path)) ? stream_open(s, why, sizeof why) : MILL_ENOMEM;
    FILE *f = NULL;
    if (!rc) {
        cookie_io_functions_t io = {stream_read, NULL, stream_seek, stream_close};
        if (!(f = fopencookie(s, "rb", io)))
            rc = MILL_ENOMEM;
    }
    if (rc) {
        mill_err_set(err, rc, "%s: %s", path, rc == MILL_ENOMEM ? "out of memory" : why);
        if (s) {
            if (s->a)
                archive_read_free(s->a);
            free(s->path);
            free(s);
        }
    }
    return f;
}
