/* folder.c: HF datasets' imagefolder and audiofolder builders (folder_based_builder, datasets
 * 4's rules) over the files a split resolved to: metadata files give the rows, else each
 * medium does, labelled by its directory (folder.h). Zip archives, which datasets extracts,
 * are refused. */
#include "data/folder.h"

#include "core/log.h"
#include "core/text.h"
#include "data/parquet.h"
#include "data/reader.h"

#include <mill/buf.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

static bool is_metadata(const char *path) { return in_list(base_of(path), metadata_names, false); }

enum mill_folder_kind mill_folder_kind(const char *builder, char *const *files, size_t n) {
    if (builder && !strcmp(builder, "imagefolder"))
        return MILL_FOLDER_IMAGE;
    if (builder && !strcmp(builder, "audiofolder"))
        return MILL_FOLDER_AUDIO;
    size_t images = 0, audios = 0;
    for (size_t i = 0; i < n; i++) {
        bool im = mill_folder_is_medium(MILL_FOLDER_IMAGE, files[i]);
        bool au = mill_folder_is_medium(MILL_FOLDER_AUDIO, files[i]);
        if (!im && !au && !is_metadata(files[i]))
            return MILL_FOLDER_NONE;
        images += im;
        audios += au;
    }
    return !images && !audios ? MILL_FOLDER_NONE
           : images >= audios ? MILL_FOLDER_IMAGE
                              : MILL_FOLDER_AUDIO;
}

struct mill_folder {
    enum mill_folder_kind kind;
    const char *base_col; /* "image" or "audio" */
    char *const *files;
    size_t n_files, cur;
    const char *const *columns;
    bool metadata;
    /* metadata mode: the open metadata file's reader and its row number */
    const struct mill_reader_ops *ops;
    void *state;
    int64_t row_no;
    bool checked; /* the first row's media column was looked for */
    /* media mode: the labels (sorted directory names) when added */
    char **labels;
    size_t n_labels, n_media;
};

/* ---- a medium's value ----------------------------------------------------------------- */

static int read_file(const char *path, char **data, size_t *n, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    *data = NULL;
    *n = 0;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = f ? (errno ? errno : EISDIR) : errno;
        if (f)
            fclose(f);
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path, strerror(e));
    }
    size_t size = (size_t)st.st_size;
    char *p = malloc(size ? size : 1);
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
    *data = p;
    *n = size;
    return 0;
}

/* {"bytes": the file's bytes, "path": path}. */
static int medium(const char *path, struct mill_value *out, struct mill_err *err) {
    char *data;
    size_t n;
    int rc = read_file(path, &data, &n, err);
    if (rc)
        return rc;
    struct mill_value b, p;
    mill_value_struct(out);
    rc = mill_value_bytes(&b, data, n);
    free(data);
    if (!rc && (rc = mill_value_struct_set(out, "bytes", &b)) != 0)
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

/* os.path.join(dir, os.path.normpath(rel)): rel's empty and "." parts dropped, "x/.." folded
 * (a relative path keeps the ".." it cannot fold, "/.." is "/"), an absolute rel replacing
 * dir. malloc'd, NULL when out of memory. */
static char *join_normalised(const char *dir, const char *rel) {
    bool abs = rel[0] == '/';
    size_t n_parts = 0, cap = strlen(rel) / 2 + 1;
    const char **part = malloc(cap * sizeof *part);
    int *len = malloc(cap * sizeof *len);
    for (const char *p = rel; part && len && *p;) {
        int k = (int)strcspn(p, "/");
        bool up = k == 2 && p[0] == '.' && p[1] == '.';
        if (k == 0 || (k == 1 && p[0] == '.')) {
            /* dropped */
        } else if (up && n_parts &&
                   !(len[n_parts - 1] == 2 && !memcmp(part[n_parts - 1], "..", 2))) {
            n_parts--;
        } else if (!(up && abs)) {
            part[n_parts] = p;
            len[n_parts++] = k;
        }
        p += k + (p[k] == '/');
    }
    struct mill_buf out = {0};
    if (part && len && !abs && *dir)
        mill_buf_addf(&out, "%s/", dir);
    for (size_t i = 0; part && len && i < n_parts; i++)
        mill_buf_addf(&out, "%s%.*s", i || abs ? "/" : "", len[i], part[i]);
    if (part && len && !n_parts)
        mill_buf_adds(&out, abs ? "/" : ".");
    free(part);
    free(len);
    return mill_buf_take(&out);
}

/* What a metadata column key names: 1 one medium ("file_name", "<x>_file_name"), 2 a list of
 * them ("file_names", "<x>_file_names"), else 0; *col: the column it becomes (malloc'd). */
static int media_key(const char *key, const char *base, char **col) {
    static const char *const suffix[] = {"file_name", "file_names"};
    *col = NULL;
    for (int s = 0; s < 2; s++) {
        size_t n = strlen(key), k = strlen(suffix[s]);
        if (!strcmp(key, suffix[s])) {
            return asprintf(col, "%s%s", base, s ? "s" : "") < 0 ? -1 : s + 1;
        }
        if (n > k + 1 && !strcmp(key + n - k, suffix[s]) && key[n - k - 1] == '_')
            return (*col = strndup(key, n - k - 1)) ? s + 1 : -1;
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

/* One metadata value as media: a name (string; null stays null), or a list of names. */
static int media_value(const struct mill_folder *f, const char *dir, int kind,
                       const struct mill_value *v, struct mill_value *out, struct mill_err *err) {
    if (v->kind == MILL_V_NULL) {
        mill_value_null(out);
        return 0;
    }
    if (kind == 1) {
        char *path = join_normalised(dir, v->u.s.p);
        int rc = path ? medium(path, out, err) : mill_err_set(err, MILL_ENOMEM, "out of memory");
        free(path);
        return rc;
    }
    mill_value_list(out);
    for (size_t i = 0; i < v->u.list.n; i++) {
        struct mill_value one;
        const struct mill_value *item = &v->u.list.items[i];
        int rc = item->kind == MILL_V_STR || item->kind == MILL_V_NULL
                     ? media_value(f, dir, 1, item, &one, err)
                     : mill_err_set(err, MILL_EFORMAT, "a file name list holds a non-string");
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

/* The metadata row made a dataset row: each file-name column replaced, in its place, by the
 * media it names (a column of the new name already there takes the media in its own place). */
static int convert_row(struct mill_folder *f, const char *meta, struct mill_value *row,
                       struct mill_err *err) {
    char *dir = strdup(meta);
    if (!dir)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    *(char *)base_of(dir) = 0;
    if (*dir)
        dir[strlen(dir) - 1] = 0; /* the slash */
    int rc = 0, found = 0;
    for (size_t i = 0; !rc && i < row->u.obj.n; i++) {
        char *col = NULL;
        const struct mill_value *v = &row->u.obj.vals[i];
        int kind = media_key(row->u.obj.keys[i], f->base_col, &col);
        if (kind < 0)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        bool typed = kind == 1   ? v->kind == MILL_V_STR || v->kind == MILL_V_NULL
                     : kind == 2 ? v->kind == MILL_V_LIST || v->kind == MILL_V_NULL
                                 : false;
        struct mill_value m;
        if (!rc && typed && !mill_reader_projected(f->columns, col)) {
            found++; /* not read: the projection drops it */
            struct_remove(row, i--);
        } else if (!rc && typed && (rc = media_value(f, dir, kind, v, &m, err)) == 0) {
            found++;
            size_t at = row->u.obj.n;
            for (size_t k = 0; k < row->u.obj.n && at == row->u.obj.n; k++)
                at = k != i && !strcmp(row->u.obj.keys[k], col) ? k : at;
            mill_value_free(&row->u.obj.vals[i]);
            if (at < row->u.obj.n) { /* the media go where that column is */
                mill_value_free(&row->u.obj.vals[at]);
                row->u.obj.vals[at] = m;
                mill_value_null(&row->u.obj.vals[i]);
                struct_remove(row, i--);
            } else {
                row->u.obj.vals[i] = m;
                free(row->u.obj.keys[i]);
                row->u.obj.keys[i] = col;
                col = NULL;
            }
        }
        free(col);
    }
    free(dir);
    if (!rc && !found && !f->checked)
        rc = mill_err_set(err, MILL_EFORMAT,
                          "no file_name, *_file_name, file_names or *_file_names column of "
                          "file names");
    f->checked = true;
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
        if (!is_metadata(path))
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

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory name of path (its parent's base name, "" for none), malloc'd. */
static char *label_of(const char *path) {
    const char *b = base_of(path);
    if (b == path)
        return strdup("");
    const char *end = b - 1, *start = end;
    while (start > path && start[-1] != '/')
        start--;
    return strndup(start, (size_t)(end - start));
}

/* datasets adds labels when there is no metadata, more than one directory name and one depth
 * (count of '/' in the path) for every medium. */
static int find_labels(struct mill_folder *f, struct mill_err *err) {
    size_t cap = 0, depth = SIZE_MAX;
    bool one_depth = true;
    for (size_t i = 0; i < f->n_files; i++) {
        const char *p = f->files[i];
        if (!mill_folder_is_medium(f->kind, p))
            continue;
        f->n_media++;
        size_t d = 0;
        for (const char *c = p; *c; c++)
            d += *c == '/';
        one_depth = one_depth && (depth == SIZE_MAX || d == depth);
        depth = d;
        char *l = label_of(p);
        bool seen = false;
        for (size_t k = 0; l && k < f->n_labels && !seen; k++)
            seen = !strcmp(f->labels[k], l);
        if (l && !seen && f->n_labels == cap) {
            char **g = realloc(f->labels, (cap = cap ? 2 * cap : 8) * sizeof *g);
            if (g)
                f->labels = g;
            else
                l = (free(l), NULL);
        }
        if (!l)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (seen)
            free(l);
        else
            f->labels[f->n_labels++] = l;
    }
    if (f->n_labels < 2 || !one_depth) {
        for (size_t k = 0; k < f->n_labels; k++)
            free(f->labels[k]);
        f->n_labels = 0;
    }
    if (f->n_labels)
        qsort(f->labels, f->n_labels, sizeof *f->labels, cmp_str);
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
        if (mill_value_struct_set(row, "label", &label))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (rc)
        mill_value_free(row);
    return rc ? rc : 1;
}

/* ---- the interface ---------------------------------------------------------------------- */

/* The columns of a converted metadata row that the projection keeps. */
static void project(struct mill_value *row, const char *const *columns) {
    for (size_t i = 0; columns && i < row->u.obj.n; i++)
        if (!mill_reader_projected(columns, row->u.obj.keys[i]))
            struct_remove(row, i--);
}

int mill_folder_open(enum mill_folder_kind kind, char *const *files, size_t n,
                     const char *const *columns, struct mill_folder **out, struct mill_err *err) {
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
        if (is_metadata(files[i])) {
            if (first_meta && strcmp(ext_of(first_meta), ext_of(files[i])))
                rc = mill_err_set(err, MILL_EFORMAT,
                                  "metadata files of different formats: %s and %s", first_meta,
                                  files[i]);
            first_meta = first_meta ? first_meta : files[i];
        } else if (!strcasecmp(ext_of(files[i]), ".zip")) {
            rc = mill_err_set(err, MILL_EUNSUPPORTED,
                              "%s: zip archives of media are not read (extract them)", files[i]);
        } else if (!mill_folder_is_medium(kind, files[i])) {
            MILL_DEBUG("data", "%s is not %s, nor a metadata file: ignored", files[i],
                       kind == MILL_FOLDER_AUDIO ? "audio" : "an image");
        }
    }
    f->metadata = first_meta != NULL;
    if (!rc && !f->metadata)
        rc = find_labels(f, err);
    if (rc) {
        mill_folder_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int mill_folder_next(struct mill_folder *f, struct mill_value *row, struct mill_err *err) {
    if (!f->metadata)
        return next_medium(f, row, err);
    int rc = next_metadata(f, row, err);
    if (rc == 1)
        project(row, f->columns);
    return rc;
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
    free(f);
}
