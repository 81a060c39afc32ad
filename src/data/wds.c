/* wds.c: the WebDataset tar shard reader (libarchive, streaming) and CLIP_benchmark's side-file
 * helpers; the rules are in wds.h. Member sizes come from untrusted headers: buffers grow with
 * the bytes actually read and stop at MILL_WDS_MEMBER_MAX. This file must not extract to disk,
 * spawn decompression programs, or read the data of members outside the projection. */
#include "data/wds.h"

#include "core/log.h"
#include "core/text.h"
#include "data/compress.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_SIZE 65536
#define FIRST_CHUNK ((size_t)1 << 20) /* the first buffer for a member, bytes */

struct wds {
    struct archive *a;
    int fd;                   /* the shard's descriptor, -1 for an in-memory shard */
    const unsigned char *mem; /* an in-memory shard's bytes (borrowed), NULL for a file */
    size_t mem_n;
    char *path;      /* the shard's name in messages */
    char **columns;  /* owned copy of the projection, NULL = all */
    char *member;    /* path of the member under the read head, or NULL */
    char *key, *col; /* member split into key and column */
    char *ext;       /* a compressed member's extension within (decompress_member), or NULL */
    int64_t size;    /* the member's declared size in bytes, -1 when unknown */
    bool pending;    /* a header was read and its data is not consumed yet */
    bool eof;
    int failed;          /* the sticky error code, 0 while healthy */
    struct mill_err err; /* the sticky error's message */
};

/* ---- state ---- */

static char **copy_columns(const char *const *columns, bool *oom) {
    size_t n = 0;
    *oom = false;
    if (!columns)
        return NULL;
    while (columns[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = strdup(columns[i]))) {
            for (size_t j = 0; j < i; j++)
                free(c[j]);
            free(c);
            c = NULL;
        }
    }
    *oom = !c;
    return c;
}

static void wds_close(void *state) {
    struct wds *w = state;
    if (!w)
        return;
    if (w->a)
        archive_read_free(w->a);
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; w->columns && w->columns[i]; i++)
        free(w->columns[i]);
    free(w->columns);
    free(w->path);
    free(w->member);
    free(w->key);
    free(w->col);
    free(w->ext);
    free(w);
}

/* A reader with its archive configured for plain, gzip'd, bzip2'd or xz'd tar (Debian's
 * libarchive links zlib, libbz2 and liblzma: no filter forks an external program). */
static struct wds *wds_new(const char *name, const char *const *columns) {
    struct wds *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    bool oom;
    w->columns = copy_columns(columns, &oom);
    if (oom || !(w->path = strdup(name)) || !(w->a = archive_read_new())) {
        wds_close(w);
        return NULL;
    }
    archive_read_support_format_tar(w->a);
    archive_read_support_filter_gzip(w->a);
    archive_read_support_filter_bzip2(w->a); /* as Python's tarfile.open(mode="r|*") */
    archive_read_support_filter_xz(w->a);
    return w;
}

static int open_fail(struct wds *w, struct mill_err *err) {
    int rc = mill_err_set(err, MILL_EFORMAT, "%s: not a tar shard (libarchive: %s)", w->path,
                          archive_error_string(w->a) ? archive_error_string(w->a) : "?");
    wds_close(w);
    return rc;
}

static int wds_open(const char *path, const char *const *columns, void **state,
                    struct mill_err *err) {
    struct wds *w = wds_new(path, columns);
    if (!w)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if ((w->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int e = errno;
        wds_close(w);
        return mill_err_set(err, e == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(e));
    }
    if (archive_read_open_fd(w->a, w->fd, BLOCK_SIZE) != ARCHIVE_OK)
        return open_fail(w, err);
    *state = w;
    return 0;
}

int mill_wds_open_memory(const void *buf, size_t n, const char *name, const char *const *columns,
                         void **state, struct mill_err *err) {
    if ((!buf && n) || !name || !state)
        return mill_err_set(err, MILL_EINVAL, "wds: bad arguments to open_memory");
    struct wds *w = wds_new(name, columns);
    if (!w)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    static const char empty[1];
    w->mem = n ? buf : (const void *)empty;
    w->mem_n = n;
    if (archive_read_open_memory(w->a, n ? buf : empty, n) != ARCHIVE_OK)
        return open_fail(w, err);
    *state = w;
    return 0;
}

/* ---- members ---- */

static const char *arc_msg(struct wds *w) {
    const char *m = archive_error_string(w->a);
    return m ? m : "unexpected end of data";
}

static int member_error(struct wds *w, struct mill_err *err, const char *what) {
    return mill_err_set(err, MILL_EFORMAT, "%s: member '%s': %s (libarchive: %s)", w->path,
                        w->member ? w->member : "?", what, arc_msg(w));
}

/* Splits path into key and column (its case kept) as HF datasets does (base_plus_ext: the key is the
 * path up to the first dot of its basename, a leading "./" included); false when it has no
 * usable "key.ext" form, or is hidden as HF's tar iterator sees it (a basename starting with
 * "." or "__"). */
static bool split_name(const char *path, char **key, char **col, bool *oom) {
    *oom = false;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strchr(base, '.');
    if (!dot || dot == base || !dot[1] || !strncmp(base, "__", 2))
        return false;
    *key = strndup(path, (size_t)(dot - path));
    *col = strdup(dot + 1);
    if (!*key || !*col) {
        free(*key);
        free(*col);
        *key = *col = NULL;
        *oom = true;
        return false;
    }
    return true;
}

/* Records the entry under the read head; 1 = a sample member, 0 = one to ignore, < 0 = OOM. */
static int take_header(struct wds *w, struct archive_entry *e) {
    free(w->member);
    free(w->key);
    free(w->col);
    free(w->ext);
    w->key = w->col = w->ext = NULL;
    const char *p = archive_entry_pathname(e);
    if (!(w->member = strdup(p ? p : "?")))
        return MILL_ENOMEM;
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || !p)
        return 0;
    bool oom;
    if (!split_name(p, &w->key, &w->col, &oom))
        return oom ? MILL_ENOMEM : 0;
    w->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    return 1;
}

/* Whether the shard ends as a tar does, with its end-of-archive blocks (1,024 zero bytes, which
 * every writer puts there, padded to its record size): libarchive takes a file cut right after a
 * member for a whole one, which would silently drop the samples after the cut. Compressed
 * shards are left to their codec's own end check. */
static bool ends_whole(struct wds *w) {
    if (archive_filter_code(w->a, 0) != ARCHIVE_FILTER_NONE ||
        (archive_format(w->a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR)
        return true;
    unsigned char tail[1024];
    if (w->mem) {
        if (w->mem_n < sizeof tail)
            return false;
        memcpy(tail, w->mem + w->mem_n - sizeof tail, sizeof tail);
    } else {
        struct stat st;
        if (fstat(w->fd, &st) != 0 || st.st_size < (off_t)sizeof tail ||
            pread(w->fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail) !=
                (ssize_t)sizeof tail)
            return false;
    }
    for (size_t i = 0; i < sizeof tail; i++)
        if (tail[i])
            return false;
    return true;
}

/* Moves the read head to the next sample member: 1 = there is one, 0 = end, < 0 = error. */
static int fetch_header(struct wds *w, struct mill_err *err) {
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(w->a, &e);
        if (r == ARCHIVE_EOF && !ends_whole(w))
            return mill_err_set(err, MILL_EFORMAT,
                                "%s: truncated tar shard: it ends %s%s%s without tar's "
                                "end-of-archive blocks (a copy or download cut short?)",
                                w->path, w->member ? "after member '" : "at the start",
                                w->member ? w->member : "", w->member ? "'" : "");
        if (r == ARCHIVE_EOF)
            return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            if (!w->member)
                return mill_err_set(err, MILL_EFORMAT,
                                    "%s: bad tar header at the start "
                                    "(libarchive: %s)",
                                    w->path, arc_msg(w));
            return mill_err_set(err, MILL_EFORMAT,
                                "%s: bad tar header after member '%s' "
                                "(libarchive: %s)",
                                w->path, w->member, arc_msg(w));
        }
        int t = take_header(w, e);
        if (t < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (t)
            return 1;
        MILL_DEBUG("wds", "%s: ignoring member '%s'", w->path, w->member);
    }
}

static int grow(struct wds *w, char **buf, size_t *cap, struct mill_err *err) {
    size_t nc = *cap < 4096 ? 4096 : *cap * 2;
    if (nc > MILL_WDS_MEMBER_MAX)
        nc = (size_t)MILL_WDS_MEMBER_MAX;
    char *nb = realloc(*buf, nc + 1);
    if (!nb)
        return mill_err_set(err, MILL_ENOMEM, "%s: member '%s': out of memory", w->path, w->member);
    *buf = nb;
    *cap = nc;
    return 0;
}

static int over_cap(struct wds *w, struct mill_err *err) {
    return mill_err_set(err, MILL_EFORMAT, "%s: member '%s' is over the %llu-byte cap", w->path,
                        w->member, (unsigned long long)MILL_WDS_MEMBER_MAX);
}

/* Reads the current member's data into a malloc'd, NUL-terminated buffer. The buffer starts at
 * the declared size (at most FIRST_CHUNK) and grows only with bytes actually read; a full
 * buffer is probed with a one-byte read so an exact fit never reallocates. */
static int read_data(struct wds *w, char **out, size_t *n, struct mill_err *err) {
    if (w->size > 0 && (uint64_t)w->size > MILL_WDS_MEMBER_MAX)
        return over_cap(w, err);
    size_t cap = w->size >= 0 && (uint64_t)w->size < FIRST_CHUNK ? (size_t)w->size : FIRST_CHUNK;
    size_t len = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    while (!rc) {
        char probe;
        bool full = len == cap;
        la_ssize_t r = full ? archive_read_data(w->a, &probe, 1)
                            : archive_read_data(w->a, buf + len, cap - len);
        if (r < 0)
            rc = member_error(w, err, "read failed");
        else if (r == 0)
            break;
        else if (!full)
            len += (size_t)r;
        else if (cap >= MILL_WDS_MEMBER_MAX)
            rc = over_cap(w, err);
        else if (!(rc = grow(w, &buf, &cap, err)))
            buf[len++] = probe;
    }
    if (!rc && w->size >= 0 && len != (size_t)w->size)
        rc = member_error(w, err, "truncated");
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

/* ---- decoding ---- */

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Python's int(bytes) for plain decimal: optional sign, digits, surrounding whitespace. */
static bool parse_int(const char *s, size_t n, int64_t *out) {
    size_t i = 0, end = n;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    bool neg = i < end && s[i] == '-';
    if (i < end && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == end)
        return false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < end; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Whether ext, lowercased, is in list (datasets lowercases the extension it decodes by). */
static bool ext_in(const char *ext, const char *const *list) {
    for (; *list; list++)
        if (!strcasecmp(ext, *list))
            return true;
    return false;
}

/* The part of s after its last dot (all of s without one), as Python's s.split(".")[-1]. */
static const char *last_ext(const char *s) {
    const char *dot = strrchr(s, '.');
    return dot ? dot + 1 : s;
}

/* A member named x.json.gz (.gzip, .bz2, .xz, .zst, .zstd, .lz4): *buf (n bytes) replaced by
 * its decompressed bytes, as datasets' webdataset builder extracts it before decoding; *ext is
 * then the extension of the name without that suffix (the base name's last part). The bytes
 * are decompressed by what they start with (compress.h), as a data file is. */
static int decompress_member(struct wds *w, char **buf, size_t *n, const char **ext,
                             struct mill_err *err) {
    static const char *const codecs[] = {"gz", "gzip", "bz2", "xz", "zst", "zstd", "lz4", NULL};
    if (!ext_in(*ext, codecs))
        return 0;
    /* an empty member decompresses to nothing, as Python's GzipFile reads b"" */
    FILE *raw = *n ? fmemopen(*buf, *n, "rb") : NULL, *f = NULL;
    struct mill_err e = {0};
    if (*n && (!raw || !(f = mill_data_open_stream(raw, w->member, &e)))) {
        free(*buf);
        return raw ? mill_err_set(err, MILL_EFORMAT, "%s: member '%s': %s", w->path, w->member,
                                  e.msg)
                   : mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    struct mill_buf out = {0};
    char chunk[65536];
    size_t got;
    int rc = 0;
    while (!rc && f && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out.n + got > MILL_WDS_MEMBER_MAX)
            rc = mill_err_set(err, MILL_EFORMAT, "%s: member '%s': over %llu MiB decompressed",
                              w->path, w->member, (unsigned long long)(MILL_WDS_MEMBER_MAX >> 20));
        else if (mill_buf_add(&out, chunk, got))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && f && ferror(f))
        rc = mill_err_set(err, MILL_EFORMAT, "%s: member '%s': %s", w->path, w->member,
                          mill_data_read_error(errno));
    if (f)
        fclose(f);
    free(*buf);
    *buf = NULL;
    if (!rc && mill_buf_addc(&out, 0)) /* NUL-terminated, as read_data leaves a member */
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        mill_buf_free(&out);
        return rc;
    }
    *n = out.n - 1;
    *buf = out.p;
    /* the extension of basename(name without the suffix) */
    const char *base = strrchr(w->member, '/');
    base = base ? base + 1 : w->member;
    size_t k = strlen(base) - strlen(*ext) - 1, i = k;
    while (i > 0 && base[i - 1] != '.')
        i--;
    w->ext = strndup(base + i, k - i);
    *ext = w->ext ? w->ext : "";
    if (w->ext)
        return 0;
    free(*buf);
    *buf = NULL;
    return mill_err_set(err, MILL_ENOMEM, "out of memory");
}

/* Decodes buf (n bytes, NUL-terminated, malloc'd; ownership moves in) into *v by the last
 * extension of col. */
static int decode(struct wds *w, char *buf, size_t n, struct mill_value *v, struct mill_err *err) {
    static const char *const ints[] = {"cls", "cls2", "index", "inx", "id", NULL};
    static const char *const texts[] = {"txt", "text", "transcript", NULL};
    static const char *const jsons[] = {"json", "jsn", NULL};
    const char *ext = last_ext(w->col);
    int64_t i;
    int rc = decompress_member(w, &buf, &n, &ext, err);
    if (rc)
        return rc;
    if (ext_in(ext, ints) && parse_int(buf, n, &i)) {
        mill_value_int(v, i);
    } else if (ext_in(ext, ints) || ext_in(ext, texts)) {
        rc = mill_value_str(v, buf, n);
        if (rc)
            mill_err_set(err, rc, "out of memory");
    } else if (ext_in(ext, jsons)) {
        /* One sample's bad JSON must not stop the shard (no built-in task reads it): its bytes
         * are kept as they are, and a task that wanted its fields fails that sample alone. */
        struct mill_err je = {0};
        if ((rc = mill_value_from_json(v, buf, n, &je)) == 0) {
            free(buf);
            return 0;
        }
        if (rc == MILL_ENOMEM) {
            free(buf);
            return mill_err_set(err, rc, "out of memory");
        }
        MILL_WARN("wds", "%s: member '%s' is not JSON (%s); its bytes are kept as they are",
                  w->path, w->member, je.msg);
        v->kind = MILL_V_BYTES;
        v->u.s.p = buf;
        v->u.s.n = n;
        return 0;
    } else {
        /* Hand the buffer over as is: mill_value_free releases BYTES with free(). */
        v->kind = MILL_V_BYTES;
        v->u.s.p = buf;
        v->u.s.n = n;
        return 0;
    }
    free(buf);
    return rc;
}

static bool wanted(const struct wds *w, const char *col) {
    if (!w->columns)
        return true;
    for (char **c = w->columns; *c; c++)
        if (!strcmp(*c, col))
            return true;
    return false;
}

/* Consumes the member under the read head into row (or skips it when not projected). */
static int take_member(struct wds *w, struct mill_value *row, struct mill_err *err) {
    w->pending = false;
    if (!wanted(w, w->col)) {
        if (archive_read_data_skip(w->a) != ARCHIVE_OK)
            return member_error(w, err, "skip failed");
        return 0;
    }
    char *buf = NULL;
    size_t n = 0;
    struct mill_value v;
    int rc = read_data(w, &buf, &n, err);
    if (rc || (rc = decode(w, buf, n, &v, err)))
        return rc;
    if ((rc = mill_value_struct_set(row, w->col, &v))) {
        mill_value_free(&v);
        return mill_err_set(err, rc, "out of memory");
    }
    return 0;
}

/* ---- stepping ---- */

static int start_row(struct wds *w, struct mill_value *row, char **key, struct mill_err *err) {
    struct mill_value k;
    if (!(*key = strdup(w->key)) || mill_value_str(&k, w->key, strlen(w->key)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (mill_value_struct_set(row, "__key__", &k)) {
        mill_value_free(&k);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return 0;
}

/* Fills row with the members of the next key; 1 = a row, 0 = end, < 0 = error. */
static int step(struct wds *w, struct mill_value *row, struct mill_err *err) {
    char *key = NULL;
    int rc = 0;
    while (!w->eof) {
        if (!w->pending) {
            if ((rc = fetch_header(w, err)) < 0)
                break;
            w->eof = rc == 0;
            w->pending = rc == 1;
            continue;
        }
        if (key && strcmp(key, w->key))
            break;
        if ((!key && (rc = start_row(w, row, &key, err))) || (rc = take_member(w, row, err)))
            break;
    }
    bool got = key != NULL;
    free(key);
    return rc < 0 ? rc : got;
}

static int wds_next(void *state, struct mill_value *row, struct mill_err *err) {
    struct wds *w = state;
    if (w->failed)
        return mill_err_set(err, w->failed, "%s", w->err.msg);
    mill_value_struct(row);
    int rc = step(w, row, err);
    if (rc <= 0)
        mill_value_free(row);
    if (rc < 0) {
        w->failed = rc;
        if (err)
            w->err = *err;
        else
            mill_err_set(&w->err, rc, "%s: reading failed", w->path);
    }
    return rc;
}

const struct mill_reader_ops mill_reader_wds = {"wds", wds_open, wds_next, wds_close};

/* ---- CLIP_benchmark side files ---- */

void mill_wds_strings_free(struct mill_wds_strings *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Slurps a small text file (capped) into a NUL-terminated buffer. */
static int slurp(const char *path, char **out, size_t *n, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mill_err_set(err, e == ENOENT ? MILL_ENOTFOUND : MILL_EIO, "%s: %s", path,
                            strerror(e));
    }
    char *buf = malloc(MILL_WDS_SIDE_FILE_MAX + 1);
    size_t len = buf ? fread(buf, 1, MILL_WDS_SIDE_FILE_MAX + 1, f) : 0;
    int bad = buf ? ferror(f) : 0;
    fclose(f);
    int rc = 0;
    if (!buf)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    else if (bad)
        rc = mill_err_set(err, MILL_EIO, "%s: read error", path);
    else if (len > MILL_WDS_SIDE_FILE_MAX)
        rc = mill_err_set(err, MILL_EFORMAT, "%s: larger than %zu bytes", path,
                          MILL_WDS_SIDE_FILE_MAX);
    else if (memchr(buf, 0, len))
        rc = mill_err_set(err, MILL_EFORMAT, "%s: not a text file (holds a NUL byte)", path);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

/* Python's str.splitlines() boundaries among single-byte characters. */
static bool line_break(char c) {
    return c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' ||
           c == '\x1e';
}

static int push_line(struct mill_wds_strings *out, const char *s, size_t n) {
    size_t b, len;
    mill_py_strip_span(s, n, &b, &len);
    if (!len)
        return 0;
    char **nv = realloc(out->v, (out->n + 1) * sizeof *nv);
    if (!nv)
        return MILL_ENOMEM;
    out->v = nv;
    if (!(nv[out->n] = strndup(s + b, len)))
        return MILL_ENOMEM;
    out->n++;
    return 0;
}

int mill_wds_read_lines(const char *path, struct mill_wds_strings *out, struct mill_err *err) {
    char *buf;
    size_t n;
    out->v = NULL;
    out->n = 0;
    int rc = slurp(path, &buf, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0, start = 0; !rc && i <= n; i++) {
        if (i < n && !line_break(buf[i]))
            continue;
        rc = push_line(out, buf + start, i - start);
        if (i + 1 < n && buf[i] == '\r' && buf[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    free(buf);
    if (rc) {
        mill_wds_strings_free(out);
        return mill_err_set(err, rc, "out of memory");
    }
    if (!out->n)
        return mill_err_set(err, MILL_EFORMAT, "%s: no non-blank line", path);
    return 0;
}

static int side_path(const char *dir, const char *name, char **path, struct mill_err *err) {
    if (!dir)
        return mill_err_set(err, MILL_EINVAL, "wds: no directory given for %s", name);
    if (asprintf(path, "%s/%s", dir, name) < 0)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

int mill_wds_read_nshards(const char *split_dir, int64_t *n, struct mill_err *err) {
    char *path, *buf;
    size_t len;
    int rc = side_path(split_dir, "nshards.txt", &path, err);
    if (rc)
        return rc;
    if (!(rc = slurp(path, &buf, &len, err))) {
        if (!parse_int(buf, len, n) || *n <= 0)
            rc = mill_err_set(err, MILL_EFORMAT,
                              "%s: expected a positive shard count, got "
                              "'%.40s'",
                              path, buf);
        free(buf);
    }
    free(path);
    return rc;
}

static int read_side_lines(const char *dir, const char *name, struct mill_wds_strings *out,
                           struct mill_err *err) {
    char *path;
    int rc = side_path(dir, name, &path, err);
    if (rc)
        return rc;
    rc = mill_wds_read_lines(path, out, err);
    free(path);
    return rc;
}

int mill_wds_read_classnames(const char *data_dir, struct mill_wds_strings *out,
                             struct mill_err *err) {
    return read_side_lines(data_dir, "classnames.txt", out, err);
}

int mill_wds_read_templates(const char *data_dir, struct mill_wds_strings *out,
                            struct mill_err *err) {
    return read_side_lines(data_dir, "zeroshot_classification_templates.txt", out, err);
}
