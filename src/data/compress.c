/* compress.c: compressed data files as plain FILE streams (compress.h). The compression is
 * found from the first bytes, as `datasets`' extractor finds it (Extractor.infer_extractor_
 * format): gzip through zlib, which checks every member's CRC and length as Python's gzip
 * does (members in a row, zero padding between them and at the end); bzip2, xz, zstd and lz4
 * through libarchive's raw format with that one filter (the library that already reads our
 * WebDataset shards; the codecs behind it check their own checksums). glibc's fopencookie
 * makes the stream: reads pull decompressed bytes, a rewind starts over, close frees. */
#include "data/compress.h"

#include "core/text.h"

#include <archive.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define BLOCK_SIZE 65536

enum kind { K_PLAIN = -1, K_GZIP, K_BZIP2, K_XZ, K_ZSTD, K_LZ4 };

static const struct {
    const char *suffix, *name;
    unsigned char magic[6];
    size_t n_magic;
    int filter;
} KINDS[] = {
    [K_GZIP] = {".gz", "gzip", {0x1f, 0x8b}, 2, ARCHIVE_FILTER_GZIP},
    [K_BZIP2] = {".bz2", "bzip2", {'B', 'Z', 'h'}, 3, ARCHIVE_FILTER_BZIP2},
    [K_XZ] = {".xz", "xz", {0xfd, '7', 'z', 'X', 'Z', 0}, 6, ARCHIVE_FILTER_XZ},
    [K_ZSTD] = {".zst", "zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4, ARCHIVE_FILTER_ZSTD},
    [K_LZ4] = {".lz4", "lz4", {0x04, 0x22, 0x4d, 0x18}, 4, ARCHIVE_FILTER_LZ4},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

static _Thread_local char read_error[512];

size_t mill_data_compression_suffix(const char *path) {
    for (size_t i = 0; i < N_KINDS; i++)
        if (mill_str_ends_with(path, KINDS[i].suffix))
            return strlen(KINDS[i].suffix);
    return 0;
}

const char *mill_data_read_error(int errno_value) {
    return read_error[0] ? read_error : strerror(errno_value);
}

struct stream {
    enum kind kind;
    off64_t pos;
    FILE *raw; /* the compressed bytes */
    /* gzip */
    z_stream z;
    unsigned char in[BLOCK_SIZE];
    bool in_eof, between, started; /* between members; bytes of this member read */
    /* the others */
    struct archive *a; /* NULL after a failed reopen */
    bool empty;        /* the stream holds no bytes at all */
};

static ssize_t fail_read(const char *fmt, const char *detail) {
    snprintf(read_error, sizeof read_error, fmt, detail ? detail : "no detail");
    errno = EIO;
    return -1;
}

/* ---- gzip through zlib -------------------------------------------------------------------- */

static void gz_restart(struct stream *s) {
    inflateReset(&s->z);
    s->z.avail_in = 0;
    s->in_eof = s->between = s->started = false;
}

static ssize_t gz_read(struct stream *s, char *buf, size_t size) {
    size_t got = 0;
    while (got < size) {
        if (!s->z.avail_in && !s->in_eof) {
            size_t n = fread(s->in, 1, sizeof s->in, s->raw);
            if (ferror(s->raw))
                return fail_read("read error: %s", strerror(errno));
            s->in_eof = n == 0;
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)n;
        }
        if (s->between) { /* zeros may pad, then another member or the end */
            while (s->z.avail_in && !*s->z.next_in)
                s->z.next_in++, s->z.avail_in--;
            if (!s->z.avail_in) {
                if (s->in_eof)
                    break;
                continue;
            }
            inflateReset(&s->z);
            s->between = s->started = false;
        }
        if (!s->z.avail_in && s->in_eof) {
            if (s->started)
                return fail_read("truncated gzip data (%s)", "the stream ends inside a member");
            break; /* an empty file: no member at all */
        }
        uInt in0 = s->z.avail_in;
        s->z.next_out = (Bytef *)buf + got;
        s->z.avail_out = (uInt)(size - got);
        int r = inflate(&s->z, Z_NO_FLUSH);
        s->started |= s->z.avail_in != in0;
        got = size - s->z.avail_out;
        if (r == Z_STREAM_END)
            s->between = true;
        else if (r != Z_OK && !(r == Z_BUF_ERROR && !s->z.avail_in))
            return fail_read("corrupt gzip data (%s)", s->z.msg);
    }
    s->pos += (off64_t)got;
    if (got)
        read_error[0] = 0;
    return (ssize_t)got;
}

/* ---- the others through libarchive ----------------------------------------------------------- */

/* (Re)opens the archive at the start of its one raw entry; a message into why. */
static int ar_open(struct stream *s, char *why, size_t n) {
    if (s->a)
        archive_read_free(s->a);
    struct archive_entry *entry;
    if (!(s->a = archive_read_new())) {
        snprintf(why, n, "out of memory");
        return MILL_ENOMEM;
    }
    archive_read_append_filter(s->a, KINDS[s->kind].filter);
    archive_read_support_format_raw(s->a);
    archive_read_support_format_empty(s->a);
    int r = fseek(s->raw, 0, SEEK_SET) ? ARCHIVE_FATAL : archive_read_open_FILE(s->a, s->raw);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
        r = archive_read_next_header(s->a, &entry);
    s->empty = r == ARCHIVE_EOF;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN && r != ARCHIVE_EOF) {
        snprintf(why, n, "cannot be read as %s (%s)", KINDS[s->kind].name,
                 archive_error_string(s->a) ? archive_error_string(s->a) : "no detail");
        archive_read_free(s->a);
        s->a = NULL;
        return MILL_EFORMAT;
    }
    return 0;
}

static ssize_t ar_read(struct stream *s, char *buf, size_t size) {
    if (!s->a)
        return fail_read("%s", "the stream could not be started over");
    if (s->empty)
        return 0;
    la_ssize_t n = archive_read_data(s->a, buf, size);
    if (n < 0)
        return fail_read("corrupt or truncated compressed data (%s)", archive_error_string(s->a));
    s->pos += n;
    if (n)
        read_error[0] = 0;
    return n;
}

/* ---- the stream ------------------------------------------------------------------------------ */

static ssize_t stream_read(void *cookie, char *buf, size_t size) {
    struct stream *s = cookie;
    return s->kind == K_GZIP ? gz_read(s, buf, size) : ar_read(s, buf, size);
}

/* Only what the readers ask: a rewind (starting over), and where the stream is. */
static int stream_seek(void *cookie, off64_t *offset, int whence) {
    struct stream *s = cookie;
    if (whence == SEEK_CUR && *offset == 0) {
        *offset = s->pos;
        return 0;
    }
    if (whence == SEEK_SET && *offset == 0) {
        char why[256] = "";
        s->pos = 0;
        if (s->kind == K_GZIP) {
            if (fseek(s->raw, 0, SEEK_SET) == 0) {
                gz_restart(s);
                return 0;
            }
            snprintf(why, sizeof why, "%s", strerror(errno));
        } else if (ar_open(s, why, sizeof why) == 0) {
            return 0;
        }
        snprintf(read_error, sizeof read_error, "cannot start it over: %s", why);
        errno = EIO;
        return -1;
    }
    errno = ESPIPE;
    return -1;
}

static int stream_close(void *cookie) {
    struct stream *s = cookie;
    if (s->kind == K_GZIP)
        inflateEnd(&s->z);
    if (s->raw)
        fclose(s->raw);
    if (s->a)
        archive_read_free(s->a);
    free(s);
    return 0;
}

/* The compression the first bytes of f say, or K_PLAIN; f is left at its start. A pipe (which
 * cannot be rewound) is taken as plain, unread. */
static enum kind sniff(FILE *f) {
    struct stat st;
    int fd = fileno(f); /* -1: a memory stream, which rewinds */
    if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode)))
        return K_PLAIN;
    unsigned char head[6];
    size_t n = fread(head, 1, sizeof head, f);
    if (fseek(f, 0, SEEK_SET))
        return K_PLAIN;
    for (size_t i = 0; i < N_KINDS; i++)
        if (n >= KINDS[i].n_magic && !memcmp(head, KINDS[i].magic, KINDS[i].n_magic))
            return (enum kind)i;
    return K_PLAIN;
}

FILE *mill_data_open_stream(FILE *raw, const char *name, struct mill_err *err) {
    read_error[0] = 0;
    enum kind k = sniff(raw);
    if (k == K_PLAIN)
        return raw;
    struct stream *s = calloc(1, sizeof *s);
    char why[256] = "out of memory";
    int rc = s ? 0 : MILL_ENOMEM;
    if (!rc) {
        s->kind = k;
        s->raw = raw;
        raw = NULL;
        if (k == K_GZIP) /* gzip only, CRC and length checked */
            rc = inflateInit2(&s->z, 15 + 16) == Z_OK ? 0 : MILL_ENOMEM;
        else
            rc = ar_open(s, why, sizeof why);
    }
    FILE *out = NULL;
    if (!rc) {
        cookie_io_functions_t io = {stream_read, NULL, stream_seek, stream_close};
        if (!(out = fopencookie(s, "rb", io)))
            rc = MILL_ENOMEM;
    }
    if (rc) {
        mill_err_set(err, rc, "%s: %s", name, rc == MILL_ENOMEM ? "out of memory" : why);
        if (raw)
            fclose(raw);
        if (s)
            stream_close(s);
    }
    return out;
}

int mill_data_skip_bom(FILE *f) {
    int c = getc(f);
    if (c == 0xef && getc(f) == 0xbb && getc(f) == 0xbf)
        return 0;
    if (ferror(f))
        return MILL_EIO;
    if (c == 0xef)
        return MILL_EFORMAT;
    return c == EOF || ungetc(c, f) != EOF ? 0 : MILL_EIO;
}

FILE *mill_data_fopen(const char *path, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                     strerror(errno));
        return NULL;
    }
    return mill_data_open_stream(f, path, err);
}
