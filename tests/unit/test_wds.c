/* test_wds.c: unit tests of the WebDataset shard reader and CLIP_benchmark side files
 * (data/wds.c). Shards are built at test time with libarchive's writer in a temp dir that is
 * removed at the end: cifar-style (<key>.0.webp + <key>.cls), CLIP_benchmark-style (<key>.webp
 * + <key>.cls), odd names, projection, several shards, truncation, garbage and oversized
 * members. Must not need the network or write outside its temp dir. */
#include "data/wds.h"

#include <mill/value.h>

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtest.h"

/* libarchive is a private dependency of libmill and the unit-test rule links only mill and m,
 * so the writer is reached through libmill's already-loaded libarchive with dlsym; the macros
 * keep the calls below plain libarchive calls. */
/* clang-format off */
#define LA_FUNCS(X) X(archive_write_new) X(archive_write_set_format_pax_restricted) \
    X(archive_write_add_filter_gzip) X(archive_write_add_filter_bzip2) \
    X(archive_write_add_filter_xz) X(archive_write_open_filename) X(archive_write_header) \
    X(archive_write_data) X(archive_write_close) X(archive_write_free) X(archive_entry_new) \
    X(archive_entry_set_pathname) X(archive_entry_set_mtime) X(archive_entry_set_filetype) \
    X(archive_entry_set_perm) X(archive_entry_set_symlink) X(archive_entry_set_size) \
    X(archive_entry_free)
/* clang-format on */
#define LA_DECL(f) static __typeof__(&f) p_##f;
LA_FUNCS(LA_DECL)
#define LA_LOAD(f) CHECK((p_##f = (__typeof__(&f))dlsym(RTLD_DEFAULT, #f)) != NULL);
static void load_libarchive(void) { LA_FUNCS(LA_LOAD) }
#define archive_write_new (*p_archive_write_new)
#define archive_write_set_format_pax_restricted (*p_archive_write_set_format_pax_restricted)
#define archive_write_add_filter_gzip (*p_archive_write_add_filter_gzip)
#define archive_write_add_filter_bzip2 (*p_archive_write_add_filter_bzip2)
#define archive_write_add_filter_xz (*p_archive_write_add_filter_xz)
#define archive_write_open_filename (*p_archive_write_open_filename)
#define archive_write_header (*p_archive_write_header)
#define archive_write_data (*p_archive_write_data)
#define archive_write_close (*p_archive_write_close)
#define archive_write_free (*p_archive_write_free)
#define archive_entry_new (*p_archive_entry_new)
#define archive_entry_set_pathname (*p_archive_entry_set_pathname)
#define archive_entry_set_mtime (*p_archive_entry_set_mtime)
#define archive_entry_set_filetype (*p_archive_entry_set_filetype)
#define archive_entry_set_perm (*p_archive_entry_set_perm)
#define archive_entry_set_symlink (*p_archive_entry_set_symlink)
#define archive_entry_set_size (*p_archive_entry_set_size)
#define archive_entry_free (*p_archive_entry_free)

static char tmpdir[64];

struct member {
    const char *name;
    const char *data; /* NULL = a directory, "->target" with n == 0 = a symlink */
    size_t n;         /* 0 = strlen(data) */
};

#define M(name, data) \
    { name, data, 0 }
#define MAX_ROWS 16

static char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void add_member(struct archive *a, const struct member *m) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, m->name);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (!m->data) {
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
    } else if (m->data[0] == '-' && m->data[1] == '>' && !m->n) {
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, m->data + 2);
        archive_entry_set_perm(e, 0777);
    } else {
        size_t n = m->n ? m->n : strlen(m->data);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)n);
        CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
        CHECK_INT(archive_write_data(a, m->data, n), n);
        archive_entry_free(e);
        return;
    }
    CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
}

/* Writes a tar (gz: 1 gzip'd, 2 bzip2'd, 3 xz'd) of members to tmpdir/name; returns the path. */
static const char *write_tar(const char *name, const struct member *ms, size_t n, int gz) {
    const char *path = tmp_path(name);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gz == 1)
        archive_write_add_filter_gzip(a);
    else if (gz == 2)
        archive_write_add_filter_bzip2(a);
    else if (gz == 3)
        archive_write_add_filter_xz(a);
    CHECK_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        add_member(a, &ms[i]);
    CHECK_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(fwrite(p, 1, n, f), n);
    fclose(f);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

/* Reads all rows of an open reader state; returns the last next() code (0 = clean end). */
static int drain(void *st, struct mill_value *rows, size_t *n, struct mill_err *err) {
    int rc;
    *n = 0;
    struct mill_value row;
    while ((rc = mill_reader_wds.next(st, &row, err)) == 1) {
        if (*n < MAX_ROWS)
            rows[(*n)++] = row;
        else
            mill_value_free(&row);
    }
    return rc;
}

static int read_all(const char *path, const char *const *cols, struct mill_value *rows, size_t *n,
                    struct mill_err *err) {
    void *st = NULL;
    *n = 0;
    int rc = mill_reader_wds.open(path, cols, &st, err);
    if (rc)
        return rc;
    rc = drain(st, rows, n, err);
    mill_reader_wds.close(st);
    return rc;
}

static void free_rows(struct mill_value *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        mill_value_free(&rows[i]);
}

static int64_t get_int(const struct mill_value *row, const char *key) {
    int64_t v = -999;
    const struct mill_value *f = mill_value_get(row, key);
    if (!f || f->kind != MILL_V_INT)
        return -999;
    mill_value_as_int(f, &v);
    return v;
}

static const char *key_of(const struct mill_value *row) {
    return mill_value_as_str(mill_value_get(row, "__key__"));
}

static void test_cifar_style(void) {
    static const char img0[] = "RIFF\0\0\0\0WEBPVP8 \x01\x02";
    const struct member ms[] = {
        {"s0000000.0.webp", img0, sizeof img0 - 1},
        M("s0000000.cls", "3"),
        M("s0000001.0.webp", "webp-bytes-1"),
        M("s0000001.cls", " 7\n"),
    };
    const char *path = write_tar("cifar.tar", ms, 4, 0);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n != 2)
        return;
    CHECK_INT(rows[0].kind, MILL_V_STRUCT);
    CHECK_INT(rows[0].u.obj.n, 3);
    CHECK_STR(rows[0].u.obj.keys[0], "__key__"); /* the key comes first */
    CHECK_STR(key_of(&rows[0]), "s0000000");
    CHECK_STR(key_of(&rows[1]), "s0000001");
    const struct mill_value *img = mill_value_get(&rows[0], "0.webp");
    CHECK(img && img->kind == MILL_V_BYTES && img->u.s.n == sizeof img0 - 1);
    CHECK(img && !memcmp(img->u.s.p, img0, sizeof img0 - 1) && img->u.s.p[img->u.s.n] == 0);
    CHECK_INT(get_int(&rows[0], "cls"), 3);
    CHECK_INT(get_int(&rows[1], "cls"), 7); /* whitespace around the digits, as int(b" 7\n") */
    free_rows(rows, n);
}

static void test_clip_benchmark_style(void) {
    const struct member ms[] = {
        M("0.webp", "A"), M("0.cls", "0"),  M("1.webp", "B"),
        M("1.cls", "9"),  M("2.webp", "C"), M("2.cls", "5"),
    };
    const char *path = write_tar("clip.tar", ms, 6, 0);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        CHECK_STR(key_of(&rows[i]), k);
        const struct mill_value *w = mill_value_get(&rows[i], "webp");
        CHECK(w && w->kind == MILL_V_BYTES && w->u.s.n == 1 && w->u.s.p[0] == 'A' + (char)i);
    }
    CHECK_INT(get_int(&rows[1], "cls"), 9);
    free_rows(rows, n);
}

/* gzip.compress(b'{"z": 7}', mtime=0) and bz2.compress(b"hello"), by CPython */
#define GZ_JSON                                                                                \
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\xaa\x52\xb2\x52\x30\xaf\x05\x00\x49\xdb" \
    "\xea\xc4\x08\x00\x00\x00"
#define BZ_HELLO                                                                               \
    "\x42\x5a\x68\x39\x31\x41\x59\x26\x53\x59\x19\x31\x65\x3d\x00\x00\x00\x81\x00\x02\x44\xa0" \
    "\x00\x21\x9a\x68\x33\x4d\x07\x33\x8b\xb9\x22\x9c\x28\x48\x0c\x98\xb2\x9e\x80"

static void test_names_and_decoding(void) {
    const struct member ms[] = {
        {"dir/", NULL, 0},
        M("sample.42.seg.1.flac", "fLaC"), /* key "sample", column "42.seg.1.flac" */
        M("sample.meta.json", "{\"a\": [1, 2], \"b\": \"x\"}"),
        M("sample.txt", "a caption\n"),
        M("sample.cls", "airplane"), /* not an integer: kept as a string */
        M("sample.Label", "-5"),     /* case kept; no decoder: bytes */
        M("sample.CLS2", " 7 "),     /* the decoder's extension is lowercased */
        {"sample.meta2.json.gz", GZ_JSON, sizeof GZ_JSON - 1},  /* decompressed, then JSON */
        {"sample.note.txt.bz2", BZ_HELLO, sizeof BZ_HELLO - 1}, /* decompressed, then text */
        M("sample.raw.gz", "not gzip"),            /* bytes no codec starts: kept as they are */
        {"sample.empty.txt.gz", "", 0},            /* empty: "" (GzipFile reads b"") */
        M("sample.index", "99999999999999999999"), /* over int64: a string */
        M("README", "no dot: ignored"),
        M(".hidden", "empty key: ignored"),
        M("link.cls", "->sample.cls"), /* a symlink: ignored */
        M("dir/x1.cls", "12"),         /* key keeps the directory */
        M("dir/x1.caption", "c"),
        M("dir/__x2.cls", "3"), /* hidden as HF datasets sees it: ignored */
        M("./x3.cls", "4"),     /* key "./x3": HF's base_plus_ext keeps the "./" */
    };
    const char *path = write_tar("names.tar", ms, sizeof ms / sizeof ms[0], 0);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 3);
    if (n != 3)
        return;
    const struct mill_value *r = &rows[0];
    CHECK_STR(key_of(r), "sample");
    CHECK_INT(r->u.obj.n, 12);
    const struct mill_value *f = mill_value_get(r, "42.seg.1.flac");
    CHECK(f && f->kind == MILL_V_BYTES && f->u.s.n == 4);
    const struct mill_value *j = mill_value_get(r, "meta.json");
    CHECK(j && j->kind == MILL_V_STRUCT);
    CHECK_STR(mill_value_as_str(mill_value_get(j, "b")), "x");
    CHECK(mill_value_get(j, "a") && mill_value_get(j, "a")->kind == MILL_V_LIST);
    CHECK_STR(mill_value_as_str(mill_value_get(r, "txt")), "a caption\n");
    CHECK_STR(mill_value_as_str(mill_value_get(r, "cls")), "airplane");
    const struct mill_value *lb = mill_value_get(r, "Label");
    CHECK(lb && lb->kind == MILL_V_BYTES && lb->u.s.n == 2 && !memcmp(lb->u.s.p, "-5", 2));
    CHECK(mill_value_get(r, "label") == NULL);
    CHECK_INT(get_int(r, "CLS2"), 7);
    const struct mill_value *gz = mill_value_get(r, "meta2.json.gz");
    CHECK(gz && gz->kind == MILL_V_STRUCT && mill_value_get(gz, "z") &&
          mill_value_get(gz, "z")->kind == MILL_V_INT);
    CHECK_STR(mill_value_as_str(mill_value_get(r, "note.txt.bz2")), "hello");
    const struct mill_value *raw = mill_value_get(r, "raw.gz");
    CHECK(raw && raw->kind == MILL_V_BYTES && raw->u.s.n == 8);
    const struct mill_value *em = mill_value_get(r, "empty.txt.gz");
    CHECK(em && em->kind == MILL_V_STR && em->u.s.n == 0);
    CHECK_STR(mill_value_as_str(mill_value_get(r, "index")), "99999999999999999999");
    CHECK_STR(key_of(&rows[1]), "dir/x1");
    CHECK_INT(get_int(&rows[1], "cls"), 12);
    const struct mill_value *cap = mill_value_get(&rows[1], "caption"); /* no decoder: bytes */
    CHECK(cap && cap->kind == MILL_V_BYTES && cap->u.s.n == 1 && cap->u.s.p[0] == 'c');
    CHECK_STR(key_of(&rows[2]), "./x3");
    CHECK_INT(get_int(&rows[2], "cls"), 4);
    free_rows(rows, n);
}

static void test_grouping_and_missing_cls(void) {
    const struct member ms[] = {
        M("a.cls", "1"),
        M("b.0.webp", "no label"),
        M("a.txt", "again"),
    };
    const char *path = write_tar("group.tar", ms, 3, 0);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 3); /* only consecutive members group: a, b, a */
    if (n != 3)
        return;
    CHECK_STR(key_of(&rows[0]), "a");
    CHECK_STR(key_of(&rows[1]), "b");
    CHECK(mill_value_get(&rows[1], "cls") == NULL); /* missing, not an error */
    CHECK(mill_value_get(&rows[1], "0.webp") != NULL);
    CHECK_STR(key_of(&rows[2]), "a");
    CHECK(mill_value_get(&rows[2], "cls") == NULL);
    free_rows(rows, n);
}

static void test_projection(void) {
    const struct member ms[] = {
        M("k1.0.webp", "img1"),    M("k1.json", "{not json"), M("k1.cls", "4"),
        M("k2.json", "{also bad"), M("k3.0.webp", "img3"),
    };
    const char *path = write_tar("proj.tar", ms, 5, 0);
    static const char *const cols[] = {"cls", NULL};
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    /* The malformed json members are never read, so they cannot fail the projection. */
    CHECK_INT(read_all(path, cols, rows, &n, &err), 0);
    CHECK_INT(n, 3);
    if (n != 3)
        return;
    CHECK_INT(rows[0].u.obj.n, 2);
    CHECK_INT(get_int(&rows[0], "cls"), 4);
    CHECK(mill_value_get(&rows[0], "0.webp") == NULL);
    CHECK_INT(rows[1].u.obj.n, 1); /* __key__ is always there */
    CHECK_STR(key_of(&rows[1]), "k2");
    CHECK_STR(key_of(&rows[2]), "k3");
    free_rows(rows, n);
    /* Without the projection a bad json member is kept as its bytes (a warning names it), so
     * one sample's metadata does not stop the shard; good json is decoded. */
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 3);
    const struct mill_value *j = n == 3 ? mill_value_get(&rows[0], "json") : NULL;
    CHECK(j && j->kind == MILL_V_BYTES && j->u.s.n == 9 && !memcmp(j->u.s.p, "{not json", 9));
    free_rows(rows, n);
}

static void test_shards_in_order(void) {
    const struct member s0[] = {M("s0.cls", "0"), M("s1.cls", "1")};
    const struct member s1[] = {M("s2.cls", "2"), M("s3.cls", "3")};
    const struct member s2[] = {M("s4.cls", "4"), M("s5.cls", "5")};
    const struct member s3[] = {M("s6.cls", "6"), M("s7.cls", "7")};
    const char *paths[4];
    paths[0] = write_tar("shard-0.tar", s0, 2, 0);
    paths[1] = write_tar("shard-1.tar.gz", s1, 2, 1);  /* gzip'd shards are read too */
    paths[2] = write_tar("shard-2.tar.bz2", s2, 2, 2); /* and bzip2'd, xz'd: tarfile's "r|*" */
    paths[3] = write_tar("shard-3.tar.xz", s3, 2, 3);
    int64_t want = 0;
    for (int s = 0; s < 4; s++) {
        struct mill_value rows[MAX_ROWS];
        size_t n;
        struct mill_err err = {0};
        CHECK_INT(read_all(paths[s], NULL, rows, &n, &err), 0);
        CHECK_INT(n, 2);
        for (size_t i = 0; i < n; i++, want++) {
            char k[24];
            snprintf(k, sizeof k, "s%d", (int)want);
            CHECK_STR(key_of(&rows[i]), k);
            CHECK_INT(get_int(&rows[i], "cls"), want);
        }
        free_rows(rows, n);
    }
    CHECK_INT(want, 8);
}

static void test_memory_open(void) {
    const struct member ms[] = {M("m.0.webp", "x"), M("m.cls", "8")};
    const char *path = write_tar("mem.tar", ms, 2, 0);
    size_t len;
    char *buf = slurp(path, &len);
    void *st = NULL;
    struct mill_err err = {0};
    struct mill_value rows[MAX_ROWS];
    size_t n;
    CHECK_INT(mill_wds_open_memory(buf, len, "mem://shard", NULL, &st, &err), 0);
    CHECK_INT(drain(st, rows, &n, &err), 0);
    CHECK_INT(n, 1);
    CHECK_INT(n ? get_int(&rows[0], "cls") : -1, 8);
    free_rows(rows, n);
    mill_reader_wds.close(st);
    /* Truncated in memory: the error uses the given name. */
    CHECK_INT(mill_wds_open_memory(buf, 700, "mem://shard", NULL, &st, &err), 0);
    CHECK_INT(drain(st, rows, &n, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "mem://shard") != NULL);
    free_rows(rows, n);
    mill_reader_wds.close(st);
    CHECK_INT(mill_wds_open_memory(NULL, 5, "x", NULL, &st, &err), MILL_EINVAL);
    free(buf);
}

static void test_truncated(void) {
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    const struct member ms[] = {
        M("t0.cls", "1"),
        {"t0.0.webp", big, sizeof big},
        M("t1.cls", "2"),
    };
    const char *path = write_tar("trunc.tar", ms, 3, 0);
    size_t len;
    char *buf = slurp(path, &len);
    /* Header 512 + data 512 for t0.cls, header 512 for t0.0.webp, then cut mid-data. */
    const char *cut = tmp_path("trunc-cut.tar");
    write_file(cut, buf, 1536 + 50000);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(cut, NULL, rows, &n, &err), MILL_EFORMAT);
    CHECK_INT(n, 0);
    CHECK(strstr(err.msg, "trunc-cut.tar") != NULL);
    CHECK(strstr(err.msg, "'t0.0.webp'") != NULL);
    free_rows(rows, n);
    /* The same cut with the image projected away still fails, naming the member. */
    static const char *const cols[] = {"cls", NULL};
    CHECK_INT(read_all(cut, cols, rows, &n, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "trunc-cut.tar") && strstr(err.msg, "t0.0.webp"));
    free_rows(rows, n);
    /* A cut inside the next header: the error names the member before it. */
    size_t hdr = 1536 + ((sizeof big + 511) / 512) * 512;
    write_file(cut, buf, hdr + 100);
    CHECK_INT(read_all(cut, NULL, rows, &n, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "trunc-cut.tar") && strstr(err.msg, "t0.0.webp"));
    free_rows(rows, n);
    /* A cut right after a member (no end-of-archive blocks): libarchive sees a clean end, the
     * reader a truncated shard, naming the last member, rather than a shorter split. */
    write_file(cut, buf, hdr);
    CHECK_INT(read_all(cut, NULL, rows, &n, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "truncated tar shard") && strstr(err.msg, "after member 't0.0.webp'"));
    free_rows(rows, n);
    /* The whole file, and the same bytes in memory, read to the end. */
    CHECK_INT(read_all(path, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 2);
    free_rows(rows, n);
    /* Errors are final: the next call repeats the error. */
    void *st = NULL;
    struct mill_value row;
    CHECK_INT(mill_reader_wds.open(cut, NULL, &st, &err), 0);
    CHECK_INT(mill_reader_wds.next(st, &row, &err), MILL_EFORMAT);
    err.msg[0] = 0;
    CHECK_INT(mill_reader_wds.next(st, &row, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "t0.0.webp") != NULL);
    CHECK_INT(mill_reader_wds.next(st, &row, NULL), MILL_EFORMAT);
    mill_reader_wds.close(st);
    free(buf);
}

static void test_large_member(void) {
    /* Over the first 1 MiB buffer: the buffer grows with the bytes actually read. */
    size_t n = (3u << 20) + 5;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 31 + (i >> 12));
    const struct member ms[] = {{"L.npy", big, n}, M("L.cls", "1")};
    const char *path = write_tar("large.tar", ms, 2, 0);
    struct mill_value rows[MAX_ROWS];
    size_t nr;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &nr, &err), 0);
    CHECK_INT(nr, 1);
    const struct mill_value *v = nr ? mill_value_get(&rows[0], "npy") : NULL;
    CHECK(v && v->kind == MILL_V_BYTES && v->u.s.n == n && !memcmp(v->u.s.p, big, n));
    free_rows(rows, nr);
    free(big);
}

/* A ustar header for name declaring size bytes (no data follows). */
static void ustar_header(unsigned char h[512], const char *name, unsigned long long size) {
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 124, 12, "%011llo", size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

static void test_oversized_member(void) {
    unsigned char h[1024] = {0};
    ustar_header(h, "big.0.webp", 600ULL << 20);
    const char *path = tmp_path("big.tar");
    write_file(path, h, sizeof h);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    CHECK_INT(read_all(path, NULL, rows, &n, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "big.tar") && strstr(err.msg, "big.0.webp"));
    CHECK(strstr(err.msg, "cap") != NULL);
    free_rows(rows, n);
}

static void test_garbage_and_missing(void) {
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)((i * 2654435761u) >> 13);
    const char *path = tmp_path("junk.tar");
    write_file(path, junk, sizeof junk);
    struct mill_value rows[MAX_ROWS];
    size_t n;
    struct mill_err err = {0};
    int rc = read_all(path, NULL, rows, &n, &err);
    CHECK_INT(rc, MILL_EFORMAT);
    CHECK(strstr(err.msg, "junk.tar") != NULL);
    free_rows(rows, n);
    CHECK_INT(read_all(tmp_path("nope.tar"), NULL, rows, &n, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "nope.tar") != NULL);
    /* An archive with no entries reads as no rows. */
    const char *empty = write_tar("empty.tar", NULL, 0, 0);
    CHECK_INT(read_all(empty, NULL, rows, &n, &err), 0);
    CHECK_INT(n, 0);
}

static void test_side_files(void) {
    const char *split = tmp_path("test");
    CHECK_INT(mkdir(split, 0755), 0);
    int64_t ns = 0;
    struct mill_err err = {0};
    CHECK_INT(mill_wds_read_nshards(split, &ns, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "nshards.txt") != NULL);
    write_file(tmp_path("test/nshards.txt"), "4\n", 2);
    CHECK_INT(mill_wds_read_nshards(split, &ns, &err), 0);
    CHECK_INT(ns, 4);
    write_file(tmp_path("test/nshards.txt"), "four", 4);
    CHECK_INT(mill_wds_read_nshards(split, &ns, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "four") != NULL);
    write_file(tmp_path("test/nshards.txt"), "0", 1);
    CHECK_INT(mill_wds_read_nshards(split, &ns, &err), MILL_EFORMAT);

    static const char names[] = "airplane\r\nautomobile\n\n  bird \t\n\xc2\xa0\ncat";
    write_file(tmp_path("classnames.txt"), names, sizeof names - 1);
    struct mill_wds_strings s = {0};
    CHECK_INT(mill_wds_read_classnames(tmpdir, &s, &err), 0);
    CHECK_INT(s.n, 4);
    if (s.n == 4) {
        CHECK_STR(s.v[0], "airplane");
        CHECK_STR(s.v[1], "automobile");
        CHECK_STR(s.v[2], "bird");
        CHECK_STR(s.v[3], "cat");
    }
    mill_wds_strings_free(&s);
    CHECK(s.v == NULL && s.n == 0);

    static const char tpl[] = "a photo of a {c}.\ra blurry photo of a {c}.\n";
    CHECK_INT(mill_wds_read_templates(tmpdir, &s, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "zeroshot_classification_templates.txt") != NULL);
    write_file(tmp_path("zeroshot_classification_templates.txt"), tpl, sizeof tpl - 1);
    CHECK_INT(mill_wds_read_templates(tmpdir, &s, &err), 0);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.n == 2 ? s.v[1] : NULL, "a blurry photo of a {c}.");
    mill_wds_strings_free(&s);

    write_file(tmp_path("blank.txt"), " \n\n\t", 4);
    CHECK_INT(mill_wds_read_lines(tmp_path("blank.txt"), &s, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "blank.txt") != NULL);
    write_file(tmp_path("nul.txt"), "a\0b", 3);
    CHECK_INT(mill_wds_read_lines(tmp_path("nul.txt"), &s, &err), MILL_EFORMAT);
    CHECK(s.v == NULL && s.n == 0);
    CHECK_INT(mill_wds_read_classnames(NULL, &s, &err), MILL_EINVAL);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void test_setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mill_test_wds_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    load_libarchive();
}

static void test_teardown(void) { CHECK_INT(nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0); }

MTEST_MAIN(MTEST(test_setup), MTEST(test_cifar_style), MTEST(test_clip_benchmark_style),
           MTEST(test_names_and_decoding), MTEST(test_grouping_and_missing_cls),
           MTEST(test_projection), MTEST(test_shards_in_order), MTEST(test_memory_open),
           MTEST(test_large_member), MTEST(test_truncated), MTEST(test_oversized_member),
           MTEST(test_garbage_and_missing), MTEST(test_side_files), MTEST(test_teardown))
