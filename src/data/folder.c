/* folder.c: HF datasets' imagefolder and audiofolder builders (folder_based_builder, datasets
 * 4's rules) over the files a split resolved to: metadata files give the rows, else each
 * medium does, labelled by its directory (folder.h). Zip archives are extracted by the caller
 * (zip.h); here they are only looked into to infer the builder. */
#include "data/folder.h"

#include "core/array.h"
#include "core/log.h"
#include "core/spec.h"
#include "core/text.h"
#include "data/parquet.h"
#include "data/reader.h"
#include "data/zip.h"

#include <mill/buf.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* datasets' IMAGE_EXTENSIONS (those Pillow opens) and AUDIO_EXTENSIONS (libsndfile's, .opus) */
static const char *const image_ext[] = {
    ".blp",  ".bmp",  ".dib",  ".bufr", ".cur", ".pcx",  ".dcx", ".dds",  ".ps",  ".eps", ".fit",
    ".fits", ".fli",  ".flc",  ".ftc",  ".ftu", ".gbr",  ".gif", ".grib", ".h5",  ".hdf", ".png",
    ".apng", ".jp2",  ".j2k",  ".jpc",  ".jpf", ".jpx",  ".j2c", ".icns", ".ico", ".im",  ".iim",
    ".tif",  ".tiff", ".jfif", ".jpe",  ".jpg", ".jpeg", ".mpg", ".mpeg", ".msp", ".pcd", ".pxr",
    ".pbm",  ".pgm",  ".ppm",  ".pnm",  ".psd", ".bw",   ".rgb", ".rgba", ".sgi", ".ras", ".tga",
    ".icb",  ".vda",  ".vst",  ".webp", ".wmf", ".emf",  ".xbm", ".xpm",  NULL};
static const char *const audio_ext[] = {
    ".aiff", ".au",   ".avr",   ".caf", ".flac", ".htk", ".svx",  ".mat4",  ".mat5", ".mpc2k",
    ".ogg",  ".paf",  ".pvf",   ".raw", ".rf64", ".sd2", ".sds",  ".ircam", ".voc",  ".w64",
    ".wav",  ".nist", ".wavex", ".wve", ".xi",   ".mp3", ".opus", NULL};

static const char *const metadata_names[] = {"metadata.csv", "metadata.jsonl", "metadata.parquet",
                                             NULL};

static const char *base_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool in_list(const char *s, const char *const *list, bool any_case) {
    for (; *list; list++)
        if (any_case ? !strcasecmp(s, *list) : !strcmp(s, *list))
            return true;
    return false;
}

/* os.path.splitext's extension of the base name ("" for ".bashrc" or none). */
static const char *ext_of(const char *path) {
    const char *b = base_of(path), *dot = strrchr(b, '.');
    while (b < dot && *b == '.') /* leading dots are part of the name */
        b++;
    return dot && dot > b ? dot : "";
}

bool mill_folder_is_medium(enum mill_folder_kind kind, const char *path) {
    const char *const *list = kind == MILL_FOLDER_IMAGE   ? image_ext
                              : kind == MILL_FOLDER_AUDIO ? audio_ext
                                                          : NULL;
    return list && *ext_of(path) && in_list(ext_of(path), list, true);
}

bool mill_folder_is_metadata(const char *path) {
    return in_list(base_of(path), metadata_names, false);
}

/* Suffixes of datasets' _EXTENSION_TO_MODULE that are no folder of ours (videofolder's .mpeg
 * overrides imagefolder's there). */
static const char *const other_module_ext[] = {
    ".csv",   ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".geoparquet", ".gpq",
    ".arrow", ".txt", ".tar",  ".xml",   ".hdf5",   ".eval",    ".lance",      ".zip",
    ".mkv",   ".mp4", ".avi",  ".mpeg",  ".mov",    ".pdf",     ".nii",        NULL};

struct ext_count {
    char ext[32];
    bool metadata;
    size_t count;
};

/* datasets' sort key (not metadata, count, .parquet, .jsonl, .json, .csv, the extension),
 * descending: whether a ranks above b. */
static bool ranks_above(const struct ext_count *a, const struct ext_count *b) {
    if (a->metadata != b->metadata)
        return !a->metadata;
    if (a->count != b->count)
        return a->count > b->count;
    static const char *const favourite[] = {".parquet", ".jsonl", ".json", ".csv"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(a->ext, favourite[i]) != !strcmp(b->ext, favourite[i]))
            return !strcmp(a->ext, favourite[i]);
    return strcmp(a->ext, b->ext) > 0;
}

static int cmp_rank(const void *a, const void *b) {
    return ranks_above(a, b) ? -1 : ranks_above(b, a) ? 1 : 0;
}

/* Counts each suffix of path's base name (every ".x" after its first part, lower-cased; one
 * longer than any format's is left out), metadata files apart when by_meta. false when out of
 * memory. */
static bool count_suffixes(const char *path, bool by_meta, struct ext_count **c, size_t *n,
                           size_t *cap) {
    const char *b = base_of(path);
    bool meta = by_meta && mill_folder_is_metadata(path);
    for (const char *d = strchr(b, '.'); d; d = strchr(d + 1, '.')) {
        size_t k = strcspn(d + 1, "."), i = 0;
        char ext[32];
        if (k + 2 > sizeof ext)
            continue;
        ext[0] = '.';
        for (size_t j = 0; j < k; j++)
            ext[j + 1] = (char)tolower((unsigned char)d[1 + j]);
        ext[k + 1] = 0;
        while (i < *n && !((*c)[i].metadata == meta && !strcmp((*c)[i].ext, ext)))
            i++;
        if (i == *n && mill_grow(c, cap, *n, sizeof **c, 16))
            return false;
        if (i == *n) {
            memcpy((*c)[i].ext, ext, k + 2);
            (*c)[i].metadata = meta;
            (*c)[i].count = 0;
            (*n)++;
        }
        (*c)[i].count++;
    }
    return true;
}

/* The members' names (a directory's without its '/') and every directory above them. */
struct names {
    char **v;
    size_t n, cap;
};

static int add_member(const char *name, void *ctx) {
    struct names *m = ctx;
    size_t k = strlen(name);
    while (k && name[k - 1] == '/')
        k--;
    for (size_t e = 0; e <= k; e++) {
        if (e < k && name[e] != '/')
            continue;
        if (e &&
            (mill_grow(&m->v, &m->cap, m->n, sizeof *m->v, 64) || !(m->v[m->n] = strndup(name, e))))
            return MILL_ENOMEM;
        m->n += e != 0;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Counts the suffixes of one archive's listing (sorted, each name once) into c. */
static bool count_archive(struct names *m, struct ext_count **c, size_t *k, size_t *cap) {
    if (m->n)
        qsort(m->v, m->n, sizeof *m->v, cmp_str);
    bool ok = true;
    for (size_t i = 0; ok && i < m->n; i++)
        ok = (i && !strcmp(m->v[i], m->v[i - 1])) || count_suffixes(m->v[i], false, c, k, cap);
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    m->n = 0;
    return ok;
}

/* infer_module_for_data_files_list_in_archives: the most common suffix (the first counted of
 * those tied) over what fsspec's zip glob lists in each of the first ten files ending in
 * ".zip", archive after archive: its members and directories, sorted, counted alike whatever
 * their name. */
static enum mill_folder_kind zip_kind(char *const *files, size_t n) {
    struct names m = {0};
    struct ext_count *c = NULL;
    size_t k = 0, cap = 0;
    bool ok = true;
    for (size_t i = 0, z = 0; ok && i < n && z < 10; i++) {
        if (!mill_str_ends_with(files[i], ".zip"))
            continue;
        z++;
        struct mill_err err = {0};
        if (mill_zip_list(files[i], add_member, &m, &err))
            MILL_DEBUG("data", "%s", err.msg); /* the split's reading says it */
        ok = count_archive(&m, &c, &k, &cap);
    }
    size_t best = 0;
    for (size_t i = 1; ok && i < k; i++)
        best = c[i].count > c[best].count ? i : best;
    enum mill_folder_kind kind = !ok || !k                                ? MILL_FOLDER_NONE
                                 : in_list(c[best].ext, image_ext, false) ? MILL_FOLDER_IMAGE
                                 : in_list(c[best].ext, audio_ext, false) ? MILL_FOLDER_AUDIO
                                                                          : MILL_FOLDER_NONE;
    mill_strv_free(m.v, m.n);
    free(c);
    return kind;
}

/* infer_module_for_data_files_list (datasets 4.6 on: every file counted): of the suffixes,
 * ranked by ranks_above, the first a module takes decides; ".zip" first: the archives'
 * members decide. */
enum mill_folder_kind mill_folder_kind(const char *builder, char *const *files, size_t n) {
    if (builder)
        return !strcmp(builder, "imagefolder")   ? MILL_FOLDER_IMAGE
               : !strcmp(builder, "audiofolder") ? MILL_FOLDER_AUDIO
                                                 : MILL_FOLDER_NONE;
    struct ext_count *c = NULL;
    size_t k = 0, cap = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        ok = count_suffixes(files[i], true, &c, &k, &cap);
    if (ok && k)
        qsort(c, k, sizeof *c, cmp_rank);
    enum mill_folder_kind kind = MILL_FOLDER_NONE;
    size_t i = 0;
    for (; ok && i < k && !in_list(c[i].ext, other_module_ext, false); i++)
        if (in_list(c[i].ext, image_ext, false) || in_list(c[i].ext, audio_ext, false)) {
            kind = in_list(c[i].ext, image_ext, false) ? MILL_FOLDER_IMAGE : MILL_FOLDER_AUDIO;
            break;
        }
    bool zip = ok && i < k && !strcmp(c[i].ext, ".zip") && !c[i].metadata;
    free(c);
    return zip ? zip_kind(files, n) : kind;
}

/* A metadata column of file names and the column it becomes. */
struct media_col {
    char *key, *col;
    int kind; /* 1 one file name, 2 a list */
};

struct mill_folder {
    enum mill_folder_kind kind;
    const char *base_col; /* "image" or "audio" */
    char *const *files;
    size_t n_files, cur;
    const char *const *columns;
    bool metadata;
    /* metadata mode: the open metadata file's reader, its row number, the media columns (from
     * the first row) */
    const struct mill_reader_ops *ops;
    void *state;
    int64_t row_no;
    struct media_col *mcols;
    size_t n_mcols;
    /* media mode: the labels (sorted directory names) when added */
    char **labels;
    size_t n_labels, n_media;
};

/* ---- a medium's value ----------------------------------------------------------------- */

/* The file's bytes as a BYTES value, read straight into it. Opened without blocking, so a FIFO
 * named like a medium is refused, not waited on. */
static int read_bytes(const char *path, struct mill_value *out, struct mill_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e = errno;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0)
        e = errno;
    else if (fd >= 0)
        e = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    FILE *f = fd >= 0 && !e ? fdopen(fd, "rb") : NULL;
    if (!f && fd >= 0 && !e)
        e = errno;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path,
                            e == EINVAL ? "not a regular file" : strerror(e));
    }
    size_t size = (size_t)st.st_size;
    char *p = malloc(size + 1);
    size_t got = p ? fread(p, 1, size, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!p)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (bad || got != size) {
        free(p);
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path,
                            bad ? "read error" : "the file shrank while read");
    }
    p[size] = 0;
    out->kind = MILL_V_BYTES;
    out->u.s.p = p;
    out->u.s.n = size;
    return 0;
}

/* {"bytes": the file's bytes, "path": path}. */
static int medium(const char *path, struct mill_value *out, struct mill_err *err) {
    struct mill_value b, p;
    int rc = read_bytes(path, &b, err);
    if (rc)
        return rc;
    mill_value_struct(out);
    if ((rc = mill_value_struct_set(out, "bytes", &b)) != 0)
        mill_value_free(&b);
    if (!rc && !(rc = mill_value_str(&p, path, strlen(path))) &&
        (rc = mill_value_struct_set(out, "path", &p)) != 0)
        mill_value_free(&p);
    if (rc) {
        mill_value_free(out);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- metadata mode ------------------------------------------------------------------- */

/* Python's os.path.dirname: up to the last '/', trailing slashes dropped unless all it is.
 * malloc'd, NULL when out of memory. */
static char *dirname_py(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0, all = n;
    while (n > 0 && path[n - 1] == '/')
        n--;
    return strndup(path, n ? n : all);
}

/* os.path.join(dir, os.path.normpath(name).replace("\\", "/")), as datasets resolves a
 * metadata file name. malloc'd, NULL when out of memory. */
static char *resolve_name(const char *dir, const char *name) {
    int slashes = name[0] != '/' ? 0 : name[1] == '/' && name[2] != '/' ? 2 : 1;
    size_t n_parts = 0, cap = strlen(name) / 2 + 1;
    const char **part = malloc(cap * sizeof *part);
    int *len = malloc(cap * sizeof *len);
    for (const char *p = name; part && len && *p;) {
        int k = (int)strcspn(p, "/");
        bool up = k == 2 && p[0] == '.' && p[1] == '.';
        bool last_up = n_parts && len[n_parts - 1] == 2 && !memcmp(part[n_parts - 1], "..", 2);
        if (k == 0 || (k == 1 && p[0] == '.')) {
            /* dropped */
        } else if (!up || (!slashes && !n_parts) || last_up) {
            part[n_parts] = p;
            len[n_parts++] = k;
        } else if (n_parts) {
            n_parts--;
        }
        p += k + (p[k] == '/');
    }
    struct mill_buf rel = {0}, out = {0};
    bool ok = part && len;
    for (int i = 0; ok && i < slashes; i++)
        ok = !mill_buf_addc(&rel, '/');
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = !mill_buf_addf(&rel, "%s%.*s", i ? "/" : "", len[i], part[i]);
    if (ok && !rel.n)
        ok = !mill_buf_addc(&rel, '.');
    for (size_t i = 0; ok && i < rel.n; i++)
        rel.p[i] = rel.p[i] == '\\' ? '/' : rel.p[i];
    if (ok && rel.p[0] != '/' && *dir)
        ok = !mill_buf_addf(&out, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel.p);
    else if (ok)
        ok = !mill_buf_adds(&out, rel.p);
    free(part);
    free(len);
    mill_buf_free(&rel);
    if (!ok)
        mill_buf_free(&out);
    return ok ? mill_buf_take(&out) : NULL;
}

/* What a metadata column key names: 1 one medium ("file_name", "<x>_file_name"), 2 a list of
 * them ("file_names", "<x>_file_names"), else 0; *col: the column it becomes (malloc'd; the
 * builder's "image"/"audio", or "images"/"audios", where <x> is empty). */
static int media_key(const char *key, const char *base, char **col) {
    static const char *const suffix[] = {"file_name", "file_names"};
    *col = NULL;
    for (int s = 0; s < 2; s++) {
        size_t n = strlen(key), k = strlen(suffix[s]);
        bool bare = !strcmp(key, suffix[s]);
        if (!bare && !(n > k && !strcmp(key + n - k, suffix[s]) && key[n - k - 1] == '_'))
            continue;
        size_t x = bare ? 0 : n - k - 1;
        if (x)
            *col = strndup(key, x);
        else if (asprintf(col, "%s%s", base, s ? "s" : "") < 0)
            *col = NULL;
        return *col ? s + 1 : -1;
    }
    return 0;
}

static void struct_remove(struct mill_value *obj, size_t i) {
    free(obj->u.obj.keys[i]);
    mill_value_free(&obj->u.obj.vals[i]);
    size_t rest = obj->u.obj.n - i - 1;
    memmove(obj->u.obj.keys + i, obj->u.obj.keys + i + 1, rest * sizeof *obj->u.obj.keys);
    memmove(obj->u.obj.vals + i, obj->u.obj.vals + i + 1, rest * sizeof *obj->u.obj.vals);
    obj->u.obj.n--;
}

static size_t key_index(const struct mill_value *obj, const char *key) {
    size_t i = 0;
    while (i < obj->u.obj.n && strcmp(obj->u.obj.keys[i], key))
        i++;
    return i;
}

/* One medium of a metadata row: a non-empty file name (datasets fails on a missing one). */
static int one_medium(const char *dir, const struct mill_value *v, const char *key,
                      struct mill_value *out, struct mill_err *err) {
    if (v->kind != MILL_V_STR || !v->u.s.n)
        return mill_err_set(err, MILL_EFORMAT, "%s holds no file name", key);
    if (memchr(v->u.s.p, 0, v->u.s.n)) /* Python's open() refuses it */
        return mill_err_set(err, MILL_EFORMAT, "%s holds a NUL byte", key);
    char *path = resolve_name(dir, v->u.s.p);
    int rc = path ? medium(path, out, err) : mill_err_set(err, MILL_ENOMEM, "out of memory");
    free(path);
    return rc;
}

static int media_value(const char *dir, int kind, const struct mill_value *v, const char *key,
                       struct mill_value *out, struct mill_err *err) {
    if (kind == 1)
        return one_medium(dir, v, key, out, err);
    if (v->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT, "%s holds no list of file names", key);
    mill_value_list(out);
    for (size_t i = 0; i < v->u.list.n; i++) {
        struct mill_value one;
        int rc = one_medium(dir, &v->u.list.items[i], key, &one, err);
        if (!rc && mill_value_list_push(out, &one)) {
            mill_value_free(&one);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        if (rc) {
            mill_value_free(out);
            return rc;
        }
    }
    return 0;
}

static void free_media_columns(struct mill_folder *f) {
    for (size_t i = 0; i < f->n_mcols; i++) {
        free(f->mcols[i].key);
        free(f->mcols[i].col);
    }
    free(f->mcols);
    f->mcols = NULL;
    f->n_mcols = 0;
}

/* The media columns, from the first metadata row: file-name keys holding a string (or a list
 * for *_file_names) or null; "file_name" ahead of "<base>_file_name" where both make one
 * column, as datasets pops file_name first. */
static int find_media_columns(struct mill_folder *f, const struct mill_value *row,
                              struct mill_err *err) {
    for (size_t i = 0; i < row->u.obj.n; i++) {
        char *col = NULL;
        const struct mill_value *v = &row->u.obj.vals[i];
        int kind = media_key(row->u.obj.keys[i], f->base_col, &col);
        if (kind < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        bool typed = v->kind == MILL_V_NULL || v->kind == (kind == 1 ? MILL_V_STR : MILL_V_LIST);
        size_t same = 0;
        while (kind && same < f->n_mcols && strcmp(f->mcols[same].col, col))
            same++;
        bool bare = !strcmp(row->u.obj.keys[i], kind == 1 ? "file_name" : "file_names");
        if (!kind || !typed || (same < f->n_mcols && !bare)) {
            free(col);
            continue;
        }
        if (same == f->n_mcols) {
            struct media_col *g = realloc(f->mcols, (f->n_mcols + 1) * sizeof *g);
            if (!g) {
                free(col);
                return mill_err_set(err, MILL_ENOMEM, "out of memory");
            }
            f->mcols = g;
            f->n_mcols++;
        } else {
            free(f->mcols[same].key);
            free(f->mcols[same].col);
        }
        f->mcols[same] = (struct media_col){strdup(row->u.obj.keys[i]), col, kind};
        if (!f->mcols[same].key)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    return f->n_mcols ? 0
                      : mill_err_set(err, MILL_EFORMAT,
                                     "no file_name, *_file_name, file_names or *_file_names "
                                     "column of file names");
}

char *mill_folder_resolve(const char *metadata_path, const char *name) {
    char *dir = dirname_py(metadata_path);
    char *path = dir ? resolve_name(dir, name) : NULL;
    free(dir);
    return path;
}

/* The metadata row made a dataset row: each media column replaced, in its place, by the media
 * it names (a column of the new name already there takes them in its own place; another
 * file-name key making the same column is dropped), and the projection applied. */
static int convert_row(struct mill_folder *f, const char *meta, struct mill_value *row,
                       struct mill_err *err) {
    int rc = f->n_mcols ? 0 : find_media_columns(f, row, err);
    if (rc)
        free_media_columns(f); /* none half found */
    char *dir = rc ? NULL : dirname_py(meta);
    if (!rc && !dir)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t c = 0; !rc && c < f->n_mcols; c++) {
        const struct media_col *mc = &f->mcols[c];
        size_t i = key_index(row, mc->key), at = key_index(row, mc->col);
        if (i == row->u.obj.n)
            continue; /* a later file without the column */
        struct mill_value m;
        bool keep = mill_reader_projected(f->columns, mc->col);
        if (keep && (rc = media_value(dir, mc->kind, &row->u.obj.vals[i], mc->key, &m, err)))
            break;
        if (!keep) {
            struct_remove(row, i);
        } else if (at < row->u.obj.n) {
            mill_value_free(&row->u.obj.vals[at]);
            row->u.obj.vals[at] = m;
            struct_remove(row, i);
        } else {
            mill_value_free(&row->u.obj.vals[i]);
            row->u.obj.vals[i] = m;
            char *k = strdup(mc->col);
            if (!k) {
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
                break;
            }
            free(row->u.obj.keys[i]);
            row->u.obj.keys[i] = k;
        }
    }
    for (size_t i = 0; !rc && i < row->u.obj.n; i++) { /* the other file-name keys, dropped */
        char *col = NULL;
        int kind = media_key(row->u.obj.keys[i], f->base_col, &col);
        size_t c = 0;
        while (kind > 0 && c < f->n_mcols && strcmp(f->mcols[c].col, col))
            c++;
        if (kind > 0 && c < f->n_mcols)
            struct_remove(row, i--);
        free(col);
    }
    for (size_t i = 0; !rc && f->columns && i < row->u.obj.n; i++)
        if (!mill_reader_projected(f->columns, row->u.obj.keys[i]))
            struct_remove(row, i--);
    free(dir);
    return rc;
}

static const struct mill_reader_ops *metadata_reader(const char *path) {
    const char *e = ext_of(path);
    return !strcmp(e, ".csv")     ? &mill_reader_csv
           : !strcmp(e, ".jsonl") ? &mill_reader_jsonl
                                  : &mill_reader_parquet;
}

static int next_metadata(struct mill_folder *f, struct mill_value *row, struct mill_err *err) {
    for (; f->cur < f->n_files; f->cur++) {
        const char *path = f->files[f->cur];
        if (!mill_folder_is_metadata(path))
            continue;
        if (!f->state) {
            f->ops = metadata_reader(path);
            f->row_no = 0;
            int rc = f->ops->open(path, NULL, &f->state, err);
            if (rc)
                return rc;
        }
        int rc = f->ops->next(f->state, row, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            f->row_no++;
            if ((rc = convert_row(f, path, row, err)) != 0) {
                mill_value_free(row);
                return mill_err_prefix(err, "%s row %lld", path, (long long)f->row_no);
            }
            return 1;
        }
        f->ops->close(f->state);
        f->state = NULL;
    }
    return 0;
}

/* ---- media mode ------------------------------------------------------------------------ */

/* The directory name of path (its parent's base name, "" for none), malloc'd. */
static char *label_of(const char *path) {
    char *dir = dirname_py(path);
    char *l = dir ? strdup(base_of(dir)) : NULL;
    free(dir);
    return l;
}

/* datasets' labels: the directory names of the media of every split (label_files), added when
 * there are more than one, every medium has one depth (count of '/') and no split has metadata
 * files; sorted. */
static int find_labels(struct mill_folder *f, char *const *label_files, size_t n,
                       struct mill_err *err) {
    char **names = malloc((n ? n : 1) * sizeof *names);
    size_t k = 0, depth = SIZE_MAX;
    bool one_depth = true, meta = false;
    int rc = names ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const char *p = label_files[i];
        meta = meta ||
               mill_folder_is_metadata(p); /* another split's metadata: datasets adds no labels */
        if (!mill_folder_is_medium(f->kind, p))
            continue;
        size_t d = 0;
        for (const char *c = p; *c; c++)
            d += *c == '/';
        one_depth = one_depth && (depth == SIZE_MAX || d == depth);
        depth = d;
        if (!(names[k++] = label_of(p)))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < f->n_files; i++)
        f->n_media += mill_folder_is_medium(f->kind, f->files[i]);
    if (!rc)
        qsort(names, k, sizeof *names, cmp_str);
    size_t u = 0; /* unique, in place */
    for (size_t i = 0; !rc && i < k; i++) {
        if (u && !strcmp(names[u - 1], names[i]))
            free(names[i]);
        else
            names[u++] = names[i];
    }
    if (rc || u < 2 || !one_depth || meta) {
        for (size_t i = 0; i < (rc ? k : u); i++)
            free(names[i]);
        free(names);
        return rc;
    }
    f->labels = names;
    f->n_labels = u;
    return 0;
}

static int next_medium(struct mill_folder *f, struct mill_value *row, struct mill_err *err) {
    while (f->cur < f->n_files && !mill_folder_is_medium(f->kind, f->files[f->cur]))
        f->cur++;
    if (f->cur == f->n_files)
        return 0;
    const char *path = f->files[f->cur++];
    struct mill_value m, label;
    mill_value_struct(row);
    int rc = 0;
    if (mill_reader_projected(f->columns, f->base_col)) {
        if ((rc = medium(path, &m, err)) == 0 && mill_value_struct_set(row, f->base_col, &m)) {
            mill_value_free(&m);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
    }
    if (!rc && f->n_labels && mill_reader_projected(f->columns, "label")) {
        char *l = label_of(path);
        char **hit = l ? bsearch(&l, f->labels, f->n_labels, sizeof *f->labels, cmp_str) : NULL;
        free(l);
        mill_value_int(&label, hit ? hit - f->labels : 0);
        if (!l || mill_value_struct_set(row, "label", &label))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (rc)
        mill_value_free(row);
    return rc ? rc : 1;
}

/* ---- the interface ---------------------------------------------------------------------- */

int mill_folder_open(enum mill_folder_kind kind, char *const *files, size_t n,
                     char *const *label_files, size_t n_label_files, const char *const *columns,
                     struct mill_folder **out, struct mill_err *err) {
    *out = NULL;
    struct mill_folder *f = calloc(1, sizeof *f);
    if (!f)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    f->kind = kind;
    f->base_col = kind == MILL_FOLDER_AUDIO ? "audio" : "image";
    f->files = files;
    f->n_files = n;
    f->columns = columns;
    const char *first_meta = NULL;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (mill_folder_is_metadata(files[i])) {
            if (first_meta && strcmp(ext_of(first_meta), ext_of(files[i])))
                rc = mill_err_set(err, MILL_EFORMAT,
                                  "metadata files of different formats: %s and %s", first_meta,
                                  files[i]);
            first_meta = first_meta ? first_meta : files[i];
        } else if (!mill_folder_is_medium(kind, files[i])) {
            MILL_DEBUG("data", "%s is not %s, nor a metadata file: ignored", files[i],
                       kind == MILL_FOLDER_AUDIO ? "audio" : "an image");
        }
    }
    f->metadata = first_meta != NULL;
    if (!rc && !f->metadata)
        rc = label_files ? find_labels(f, label_files, n_label_files, err)
                         : find_labels(f, files, n, err);
    if (rc) {
        mill_folder_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int mill_folder_next(struct mill_folder *f, struct mill_value *row, struct mill_err *err) {
    return f->metadata ? next_metadata(f, row, err) : next_medium(f, row, err);
}

int64_t mill_folder_count(const struct mill_folder *f) {
    return f->metadata ? -1 : (int64_t)f->n_media;
}

void mill_folder_close(struct mill_folder *f) {
    if (!f)
        return;
    if (f->state)
        f->ops->close(f->state);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->labels);
    free_media_columns(f);
    free(f);
}
