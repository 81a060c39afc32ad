/* zip.c: zip archives of a folder split's media, listed, extracted into the cache and walked
 * as datasets does it (zip.h). Reading goes through libarchive's zip reader, on the central
 * directory as zipfile reads it; names are cleaned as zipfile.extractall cleans them, and
 * nothing is written outside the extraction directory (no link is made: a symlink member
 * becomes a file holding its target, as zipfile writes one). */
#include "data/zip.h"

#include "core/array.h"
#include "core/cache.h"
#include "core/sha2.h"
#include "core/spec.h"

#include <mill/buf.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* libarchive converts names to the locale's charset: the thread runs in C.UTF-8 while it reads
 * (uselocale, nothing global changes), so every name comes out as UTF-8. */
struct utf8_locale {
    locale_t utf8, old;
};

static int utf8_begin(struct utf8_locale *l, struct mill_err *err) {
    l->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!l->utf8)
        l->utf8 = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
    l->old = l->utf8 ? uselocale(l->utf8) : (locale_t)0;
    return l->utf8 ? 0
                   : mill_err_set(err, MILL_EUNSUPPORTED,
                                  "zip: no C.UTF-8 locale to read member names with");
}

static void utf8_end(struct utf8_locale *l) {
    if (l->utf8) {
        uselocale(l->old);
        freelocale(l->utf8);
    }
}

static const char *why(struct archive *a) {
    return archive_error_string(a) ? archive_error_string(a) : "unknown error";
}

static int open_zip(const char *path, struct archive **out, struct mill_err *err) {
    struct archive *a = *out = archive_read_new();
    if (!a)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    archive_read_support_format_zip_seekable(a); /* the central directory, as zipfile reads */
    if (archive_read_set_format_option(a, "zip", "hdrcharset", "CP437") == ARCHIVE_OK &&
        archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK)
        return 0;
    int rc = mill_err_set(err, MILL_EFORMAT, "%s: not a readable zip archive (%s)", path, why(a));
    archive_read_free(a);
    *out = NULL;
    return rc;
}

/* The next member (1) and its UTF-8 name, the end (0), or an error naming the archive (< 0). A
 * warning (a local header's CRC or sizes not the central directory's) is no error. */
static int next_member(struct archive *a, const char *path, struct archive_entry **e,
                       const char **name, struct mill_err *err) {
    int r = archive_read_next_header(a, e);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return mill_err_set(err, MILL_EFORMAT, "%s: a damaged zip archive (%s)", path, why(a));
    if (!(*name = archive_entry_pathname_utf8(*e)))
        return mill_err_set(err, MILL_EFORMAT, "%s: a member name that is not text", path);
    return 1;
}

typedef int member_fn(struct archive *a, struct archive_entry *e, const char *name, void *ctx);

/* Calls visit for every member of the archive at path, read in the C.UTF-8 locale; 0 when all
 * were visited, else the first non-zero visit's value or an error naming the archive. */
static int each_member(const char *path, member_fn *visit, void *ctx, struct mill_err *err) {
    struct utf8_locale l;
    struct archive *a = NULL;
    int rc = utf8_begin(&l, err);
    if (!rc)
        rc = open_zip(path, &a, err);
    struct archive_entry *e = NULL;
    const char *name = NULL;
    while (!rc && (rc = next_member(a, path, &e, &name, err)) == 1)
        rc = visit(a, e, name, ctx);
    if (a)
        archive_read_free(a);
    utf8_end(&l);
    return rc;
}

struct lister {
    int (*each)(const char *name, void *ctx);
    void *ctx;
};

static int list_member(struct archive *a, struct archive_entry *e, const char *name, void *ctx) {
    (void)a, (void)e;
    const struct lister *l = ctx;
    return l->each(name, l->ctx);
}

int mill_zip_list(const char *path, int (*each)(const char *name, void *ctx), void *ctx,
                  struct mill_err *err) {
    struct lister l = {each, ctx};
    return each_member(path, list_member, &l, err);
}

/* ---- extraction ------------------------------------------------------------------------- */

/* name as zipfile.extractall places it: its '/'-separated parts without "", "." and "..",
 * appended to b. Returns whether any part is left. */
static bool clean_name(const char *name, struct mill_buf *b) {
    size_t start = b->n;
    for (const char *p = name; *p;) {
        size_t k = strcspn(p, "/");
        bool skip = k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.');
        if (!skip) {
            mill_buf_addc(b, '/');
            mill_buf_add(b, p, k);
        }
        p += k + (p[k] == '/');
    }
    return b->n > start;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Removes the temporaries of final (<final>.tmp...) a killed run left a day ago or more: a
 * younger one may be another run's, still extracting. */
static void remove_stale(const char *final) {
    const char *slash = strrchr(final, '/');
    char *dir = slash ? strndup(final, (size_t)(slash - final)) : strdup(".");
    const char *base = slash ? slash + 1 : final;
    size_t k = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *de; d && (de = readdir(d));) {
        char *p = NULL;
        struct stat st;
        if (strncmp(de->d_name, base, k) || strncmp(de->d_name + k, ".tmp", 4) ||
            asprintf(&p, "%s/%s", dir, de->d_name) < 0)
            continue;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_mtime < time(NULL) - 86400)
            remove_tree(p);
        free(p);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* Writes the member's data (or, for a symlink, its target) to path. */
static int write_member(struct archive *a, struct archive_entry *e, const char *path,
                        const char *archive, const char *name, struct mill_err *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    int rc = 0;
    if (archive_entry_filetype(e) == AE_IFLNK) {
        const char *t = archive_entry_symlink_utf8(e) ? archive_entry_symlink_utf8(e) : "";
        if (write(fd, t, strlen(t)) != (ssize_t)strlen(t))
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    char buf[1 << 16];
    for (la_ssize_t n; !rc && archive_entry_filetype(e) != AE_IFLNK &&
                       (n = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (n < 0)
            rc = mill_err_set(err, MILL_EFORMAT, "%s: member '%s' is damaged (%s)", archive, name,
                              why(a));
        else if (write(fd, buf, (size_t)n) != n)
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (close(fd) && !rc)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* Where extract_member writes: the archive (for messages), the directory, a path buffer. */
struct extraction {
    const char *archive, *dir;
    struct mill_buf path;
    struct mill_err *err;
};

/* One member into x->dir: a directory made, a file's data or a link's target written as a file,
 * other members skipped. */
static int extract_member(struct archive *a, struct archive_entry *e, const char *name, void *ctx) {
    struct extraction *x = ctx;
    unsigned type = archive_entry_filetype(e);
    if (type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK)
        return 0;
    struct mill_buf *p = &x->path;
    p->n = 0;
    mill_buf_adds(p, x->dir);
    bool named = clean_name(name, p);
    if (type != AE_IFDIR && !named)
        return mill_err_set(x->err, MILL_EFORMAT, "%s: member '%s' names no file", x->archive,
                            name);
    if ((type == AE_IFDIR && mill_buf_addc(p, '/')) || mill_buf_addc(p, 0))
        return mill_err_set(x->err, MILL_ENOMEM, "out of memory");
    mill_cache_make_parents(p->p);
    return type == AE_IFDIR ? 0 : write_member(a, e, p->p, x->archive, name, x->err);
}

/* Extracts every member of archive into dir (which exists). */
static int extract_into(const char *archive, const char *dir, struct mill_err *err) {
    struct extraction x = {archive, dir, {0}, err};
    int rc = each_member(archive, extract_member, &x, err);
    mill_buf_free(&x.path);
    return rc;
}

int mill_zip_extract(const char *cache_dir, const char *path, char **dir, struct mill_err *err) {
    *dir = NULL;
    struct stat st;
    char real[PATH_MAX];
    if (stat(path, &st) != 0 || !realpath(path, real))
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path, strerror(errno));
    struct mill_sha256 s;
    uint8_t d[32];
    char hex[65], stamp[96];
    int k = snprintf(stamp, sizeof stamp, "%lld %lld.%09ld", (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    mill_sha256_init(&s);
    mill_sha256_update(&s, real, strlen(real) + 1);
    mill_sha256_update(&s, stamp, (size_t)k);
    mill_sha256_final(&s, d);
    mill_hex(d, 32, hex);
    char *final = mill_cache_path(cache_dir, "extracted", hex), *tmp = NULL;
    if (!final || asprintf(&tmp, "%s.tmp.XXXXXX", final) < 0) {
        free(final);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    int rc = 0;
    if (stat(final, &st) != 0 || !S_ISDIR(st.st_mode)) {
        remove_stale(final);
        mill_cache_make_parents(tmp);
        /* unique across processes, containers, hosts; readable by others, as mkdir makes */
        bool made = mkdtemp(tmp) != NULL && chmod(tmp, 0755) == 0;
        if (!made)
            rc = mill_err_set(err, MILL_EIO, "cannot create %s: %s", tmp, strerror(errno));
        if (!rc)
            rc = extract_into(path, tmp, err);
        /* another run may have extracted it first: its directory stays, ours goes */
        if (!rc && rename(tmp, final) != 0 && (stat(final, &st) != 0 || !S_ISDIR(st.st_mode)))
            rc = mill_err_set(err, MILL_EIO, "cannot create %s: %s", final, strerror(errno));
        if (made)
            remove_tree(tmp);
    }
    free(tmp);
    if (rc)
        free(final);
    else
        *dir = final;
    return rc;
}

/* ---- walking ------------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mill_zip_walk(const char *dir, char ***files, size_t *n, size_t *cap, struct mill_err *err) {
    DIR *d = opendir(dir);
    if (!d)
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", dir, strerror(errno));
    char **sub = NULL, **here = NULL;
    size_t ns = 0, cs = 0, nh = 0, ch = 0;
    int rc = 0;
    for (struct dirent *de; !rc && (de = readdir(d));) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "__", 2))
            continue; /* hidden, as FilesIterable skips them (".", ".." too) */
        char *p = NULL;
        struct stat st;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        bool is_dir = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
        char ***v = is_dir ? &sub : &here;
        size_t *vn = is_dir ? &ns : &nh, *vc = is_dir ? &cs : &ch;
        if (mill_grow(v, vc, *vn, sizeof **v, 16)) {
            free(p);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        } else {
            (*v)[(*vn)++] = p;
        }
    }
    closedir(d);
    if (!rc && nh)
        qsort(here, nh, sizeof *here, cmp_str);
    if (!rc && ns)
        qsort(sub, ns, sizeof *sub, cmp_str);
    for (size_t i = 0; !rc && i < nh; i++) {
        if (mill_grow(files, cap, *n, sizeof **files, 64))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            (*files)[(*n)++] = here[i], here[i] = NULL;
    }
    for (size_t i = 0; !rc && i < ns; i++)
        rc = mill_zip_walk(sub[i], files, n, cap, err);
    mill_strv_free(here, nh);
    mill_strv_free(sub, ns);
    return rc;
}
