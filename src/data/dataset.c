/* dataset.c: resolves a task split to files and streams their rows through the right reader.
 * It knows formats only by extension and sources only by prefix; the readers and the Hub
 * client do the work. */
#include "data/dataset.h"
#include "data/reader.h"

#include "core/array.h"
#include "core/log.h"
#include "core/spec.h"
#include "core/text.h"
#include "data/compress.h"
#include "data/folder.h"
#include "data/hub.h"
#include "data/parquet.h"
#include "data/wds.h"
#include "data/zip.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mill_dataset {
    char **files;
    size_t n_files;
    size_t cur; /* index of the open file */
    const struct mill_reader_ops *ops;
    void *state;                /* reader state of files[cur], or NULL */
    struct mill_folder *folder; /* the split read as imagefolder or audiofolder, or NULL */
    char **media;               /* its files, zip archives replaced by their members */
    size_t n_media;
    const char *const *columns; /* the task's projection (borrowed), NULL = all */
    char *files_json;
};

/* Whether path, less a compression suffix (".gz", ...: compress.h), ends with ext. */
static bool has_ext(const char *path, const char *ext) {
    size_t n = strlen(path) - mill_data_compression_suffix(path), k = strlen(ext);
    return n >= k && !memcmp(path + n - k, ext, k);
}

static const struct mill_reader_ops *reader_for(const char *path) {
    if (mill_str_ends_with(path, ".tar") || mill_str_ends_with(path, ".tar.gz") ||
        mill_str_ends_with(path, ".tgz") || mill_str_ends_with(path, ".tar.bz2") ||
        mill_str_ends_with(path, ".tar.xz"))
        return &mill_reader_wds;
    if (has_ext(path, ".jsonl") || has_ext(path, ".json") || has_ext(path, ".ndjson"))
        return &mill_reader_jsonl;
    if (mill_str_ends_with(path, ".parquet"))
        return &mill_reader_parquet;
    if (has_ext(path, ".csv"))
        return &mill_reader_csv;
    if (has_ext(path, ".tsv"))
        return &mill_reader_tsv;
    if (has_ext(path, ".txt"))
        return &mill_reader_text;
    if (has_ext(path, ".xml"))
        return &mill_reader_xml;
    if (mill_str_ends_with(path, ".arrow"))
        return &mill_reader_arrow;
    return NULL;
}

static int add_file(struct mill_dataset *ds, const char *path) {
    char **g = realloc(ds->files, (ds->n_files + 1) * sizeof *g);
    if (!g)
        return MILL_ENOMEM;
    ds->files = g;
    if (!(g[ds->n_files] = strdup(path)))
        return MILL_ENOMEM;
    ds->n_files++;
    return 0;
}

#define WALK_DEPTH_MAX 64

static int cmp_path(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a pattern below the walk's root asks for: hidden parts (".x"), special ones ("__x"). */
struct walk_rules {
    bool hidden_ok, special_ok;
};

/* Appends the files (no directory; a FIFO is kept) under dir (recursively; a symbolic link to
 * a directory is not entered, so a link back up cannot loop) that pattern matches and HF
 * datasets would keep (mill_hub_data_file_wanted). Hidden and special parts are not even
 * entered when the pattern's part below the root has none: no match there could be kept. */
static int walk_matches(struct mill_dataset *ds, const char *dir, const char *pattern,
                        const struct walk_rules *wr, int depth) {
    DIR *d = depth < WALK_DEPTH_MAX ? opendir(dir) : NULL;
    int rc = 0;
    for (struct dirent *e; d && !rc && (e = readdir(d)) != NULL;) {
        if ((e->d_name[0] == '.' && !wr->hidden_ok) || !strcmp(e->d_name, ".") ||
            !strcmp(e->d_name, ".."))
            continue;
        char *path = NULL;
        struct stat st;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = MILL_ENOMEM;
            break;
        }
        bool dir_here = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        if (dir_here && (wr->special_ok || strncmp(e->d_name, "__", 2)))
            rc = walk_matches(ds, path, pattern, wr, depth + 1);
        else if (!dir_here && stat(path, &st) == 0 && !S_ISDIR(st.st_mode) &&
                 mill_hub_glob_match(pattern, path) && mill_hub_data_file_wanted(pattern, path))
            rc = add_file(ds, path);
        free(path);
    }
    if (d)
        closedir(d);
    return rc;
}

/* A pattern with "**" (zero or more directories, as fsspec's glob and the Hub listing read it;
 * glob(3) has no such thing): the files under its fixed leading directories that match, sorted. */
static int glob_stars(struct mill_dataset *ds, const char *full) {
    size_t fixed = strcspn(full, "*?[");
    while (fixed && full[fixed - 1] != '/')
        fixed--;
    char *root = fixed ? strndup(full, fixed > 1 ? fixed - 1 : 1) : strdup(".");
    if (!root)
        return MILL_ENOMEM;
    const char *below = full + fixed;
    struct walk_rules wr = {below[0] == '.' || strstr(below, "/.") != NULL,
                            !strncmp(below, "__", 2) || strstr(below, "/__") != NULL};
    size_t first = ds->n_files;
    int rc = walk_matches(ds, root, full, &wr, 0);
    free(root);
    if (!rc)
        qsort(ds->files + first, ds->n_files - first, sizeof *ds->files, cmp_path);
    return rc;
}

/* The files glob(3) matches for a pattern without "**" that HF datasets would keep
 * (mill_hub_data_file_wanted; no directory, a FIFO is kept, where HF drops it); nothing when
 * nothing matches. 0 or MILL_ENOMEM. */
static int glob_files(struct mill_dataset *ds, const char *full) {
    glob_t g;
    int grc = glob(full, 0, NULL, &g);
    if (grc != 0) {
        if (grc != GLOB_NOMATCH)
            globfree(&g);
        return 0;
    }
    int rc = 0;
    struct stat st;
    for (size_t i = 0; !rc && i < g.gl_pathc; i++)
        if (stat(g.gl_pathv[i], &st) == 0 && !S_ISDIR(st.st_mode) &&
            mill_hub_data_file_wanted(full, g.gl_pathv[i]))
            rc = add_file(ds, g.gl_pathv[i]);
    globfree(&g);
    return rc;
}

static int resolve_local(struct mill_dataset *ds, const char *pattern, const char *base,
                         const char *task, const char *split, struct mill_err *err) {
    char *full = NULL;
    if (pattern[0] != '/' && base) {
        if (asprintf(&full, "%s/%s", base, pattern) < 0)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    } else if (!(full = strdup(pattern))) {
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    size_t before = ds->n_files;
    int rc = strstr(full, "**") ? glob_stars(ds, full) : glob_files(ds, full);
    if (rc)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    else if (ds->n_files == before)
        rc = mill_err_set(err, MILL_ENOTFOUND, "%s: split '%s': no file matches %s", task, split,
                          full);
    free(full);
    return rc;
}

/* Directory of a local mirror of Hub repo "org/name" under $MILL_LOCAL_DATASETS (laid out as
 * the Hub repo: <dir>/org_name/... or <dir>/org/name/...), or NULL. malloc'd. */
static char *mirror_dir(const char *repo) {
    const char *root = getenv("MILL_LOCAL_DATASETS");
    if (!root || !*root || !strchr(repo, '/'))
        return NULL;
    char *flat = strdup(repo), *path = NULL;
    if (!flat)
        return NULL;
    *strchr(flat, '/') = '_';
    struct stat st;
    for (int k = 0; k < 2 && !path; k++) {
        if (asprintf(&path, "%s/%s", root, k ? repo : flat) < 0)
            path = NULL;
        else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(path);
            path = NULL;
        }
    }
    free(flat);
    return path;
}

/* Downloads (or finds in the huggingface_hub cache) the files of a split: the glob's matches,
 * or the Parquet files of config/split. */
static int fetch_from_hub(struct mill_dataset *ds, const struct mill_hub_repo *r, const char *glob,
                          const char *config, const char *split, struct mill_err *err) {
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    struct mill_hub_listing l = {0};
    const char *repo = r->id;
    int rc = mill_hub_init(&hub, &hp, err);
    if (!rc)
        rc = glob ? mill_hub_glob(hub, r, glob, &l, err)
                  : mill_hub_parquet_files(hub, r, config, split, &l, err);
    if (!rc && l.n == 0)
        rc = mill_err_set(err, MILL_ENOTFOUND, "dataset %s: no files match %s", repo,
                          glob ? glob : "the split's Parquet patterns");
    struct mill_hub_repo at = {r->type, repo, l.commit[0] ? l.commit : r->revision};
    for (size_t i = 0; !rc && i < l.n; i++) {
        char *local = NULL;
        rc = mill_hub_download(hub, &at, l.files[i].path,
                               l.files[i].sha256[0] ? l.files[i].sha256 : NULL, &local, err);
        if (!rc && add_file(ds, local))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        free(local);
    }
    mill_hub_listing_free(&l);
    mill_hub_free(hub);
    return rc;
}

/* The files of a split of Hub repo r: from a local mirror ($MILL_LOCAL_DATASETS) when one
 * exists, else through the Hub client. glob: the task's hf:// pattern, or NULL for the
 * Parquet files of the task's config and split. */
static int resolve_repo(struct mill_dataset *ds, const struct mill_hub_repo *r, const char *glob,
                        const struct mill_task_config *t, const char *split, struct mill_err *err) {
    const char *cfg = t->hf_subset ? t->hf_subset : "default";
    const char *repo = r->id;
    char *dir = mirror_dir(repo);
    if (!dir) {
        int rc = fetch_from_hub(ds, r, glob, cfg, split, err);
        return rc ? mill_err_prefix(err, "%s: split '%s'", t->name, split) : 0;
    }
    char *pats[5] = {0};
    int rc = 0;
    if (glob)
        rc = (pats[0] = strdup(glob)) ? 0 : MILL_ENOMEM;
    else if (asprintf(&pats[0], "%s/%s-*.parquet", cfg, split) < 0 ||
             asprintf(&pats[1], "%s/%s/*.parquet", cfg, split) < 0 ||
             asprintf(&pats[2], "data/%s-*.parquet", split) < 0 ||
             asprintf(&pats[3], "%s-*.parquet", split) < 0)
        rc = MILL_ENOMEM;
    rc = rc ? mill_err_set(err, rc, "out of memory") : MILL_ENOTFOUND;
    for (size_t i = 0; pats[i] && rc == MILL_ENOTFOUND; i++)
        rc = resolve_local(ds, pats[i], dir, t->name, split, err);
    if (rc == MILL_ENOTFOUND)
        mill_err_set(err, rc, "%s: split '%s' of %s%s%s: no data files in %s", t->name, split, repo,
                     t->hf_subset ? " config " : "", t->hf_subset ? t->hf_subset : "", dir);
    for (int i = 0; i < 4; i++)
        free(pats[i]);
    free(dir);
    return rc;
}

/* The files of one of the task's patterns for split: a local glob or
 * hf://datasets/<repo>/<glob>. */
static int resolve_pattern(struct mill_dataset *ds, const struct mill_task_config *t,
                           const char *split, const char *pattern,
                           const struct mill_dataset_params *p, struct mill_err *err) {
    if (strncmp(pattern, "hf://", 5) != 0)
        return resolve_local(ds, pattern, p ? p->base_dir : NULL, t->name, split, err);
    struct mill_hub_url u;
    if (mill_hub_parse_url(pattern, &u, err))
        return mill_err_prefix(err, "%s: data files of split '%s'", t->name, split);
    /* the URL's own repo type and @revision; without one, the task's hf_revision where the URL
     * names the task's dataset repo, else main */
    bool own = u.type == MILL_HUB_DATASET && t->hf_repo && !strcmp(t->hf_repo, u.id);
    struct mill_hub_repo r = {u.type, u.id,
                              u.has_revision ? u.revision
                              : own          ? t->hf_revision
                                             : NULL};
    return resolve_repo(ds, &r, u.path, t, split, err);
}

/* Where a split's files are: the files of each of the task's "split=pattern" entries for it, in
 * order (HF's data_files list of patterns), else the Parquet files of the repo's config and
 * split, as the Hub lays them out. */
static int resolve_split(struct mill_dataset *ds, const struct mill_task_config *t,
                         const char *split, const struct mill_dataset_params *p,
                         struct mill_err *err) {
    size_t n = strlen(split);
    bool listed = false;
    int rc = 0;
    for (const char *const *e = t->hf_data_files; (!rc || rc == MILL_ENOTFOUND) && e && *e; e++)
        if (!strncmp(*e, split, n) && (*e)[n] == '=') {
            const char *pattern = *e + n + 1;
            listed = true;
            rc = resolve_pattern(ds, t, split, pattern, p, err);
            /* HF's DataFilesList.from_patterns: a local glob that matches nothing is skipped, a
             * name that is not there is an error. Not an hf:// one: its not-found may be a
             * download's (a file missing offline, a gated repo), which must not pass for an
             * empty glob. */
            if (rc == MILL_ENOTFOUND && (!strpbrk(pattern, "*?[") || !strncmp(pattern, "hf://", 5)))
                return rc;
        }
    if (listed && rc == MILL_ENOTFOUND && ds->n_files)
        rc = 0;
    if (listed || rc)
        return rc;
    if (!t->hf_repo || !*t->hf_repo)
        return mill_err_set(err, MILL_ENOTFOUND, "%s: split '%s' has no data files", t->name,
                            split);
    struct mill_hub_repo r = {MILL_HUB_DATASET, t->hf_repo, t->hf_revision};
    return resolve_repo(ds, &r, NULL, t, split, err);
}

/* The files of every split the task lists, for the folder builders' labels (datasets makes
 * them over all splits): *all gets them, or nothing where a pattern is on the Hub (its other
 * splits would be downloaded; that split's labels are then its own). Without a named builder,
 * a split whose files datasets would give another builder than kind is an error, as datasets'
 * "Couldn't infer the same data file format for all splits". */
static int all_split_files(const struct mill_task_config *t, const struct mill_dataset_params *p,
                           enum mill_folder_kind kind, struct mill_dataset *all, bool *ok,
                           struct mill_err *err) {
    *ok = t->hf_data_files != NULL;
    for (const char *const *e = t->hf_data_files; *ok && *e; e++)
        *ok = strchr(*e, '=') && strncmp(strchr(*e, '=') + 1, "hf://", 5);
    int rc = 0;
    for (const char *const *e = t->hf_data_files; *ok && !rc && *e; e++) {
        size_t n = (size_t)(strchr(*e, '=') - *e);
        bool first = true; /* the split's first entry: the split is gathered there */
        for (const char *const *o = t->hf_data_files; first && o < e; o++)
            first = strncmp(*o, *e, n + 1) != 0;
        size_t from = all->n_files;
        for (const char *const *o = e; first && !rc && *o; o++) {
            struct mill_err ignored = {0};
            if (!strncmp(*o, *e, n + 1) && resolve_local(all, *o + n + 1, p ? p->base_dir : NULL,
                                                         t->name, "", &ignored) == MILL_ENOMEM)
                rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        if (!rc && first && !t->hf_builder && all->n_files > from &&
            mill_folder_kind(NULL, all->files + from, all->n_files - from) != kind)
            rc = mill_err_set(err, MILL_EFORMAT,
                              "split '%.*s' is not of the same format (datasets' builder) as "
                              "the other splits",
                              (int)n, *e);
    }
    return rc;
}

/* Whether path is a zip archive of a folder split: a ".zip" in any case that is no medium of
 * kind, as the folder builders split files from archives. */
static bool is_archive(enum mill_folder_kind kind, const char *path) {
    size_t k = strlen(path);
    return k >= 4 && !strcasecmp(path + k - 4, ".zip") && !mill_folder_is_medium(kind, path);
}

/* files[0..n) as the folder builders see them: the plain files, then each zip archive's
 * files (extracted, in FilesIterable's order): *out, *n_out, malloc'd. */
static int expand_archives(enum mill_folder_kind kind, char *const *files, size_t n,
                           const struct mill_dataset_params *p, char ***out, size_t *n_out,
                           struct mill_err *err) {
    size_t cap = 0;
    *out = NULL;
    *n_out = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (is_archive(kind, files[i]))
            continue;
        if (mill_grow(out, &cap, *n_out, sizeof **out, 64) || !((*out)[*n_out] = strdup(files[i])))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            (*n_out)++;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char *dir = NULL;
        if (!is_archive(kind, files[i]))
            continue;
        rc = mill_zip_extract(p ? p->cache_dir : NULL, files[i], &dir, err);
        if (!rc)
            MILL_DEBUG("data", "%s: members in %s", files[i], dir);
        if (!rc)
            rc = mill_zip_walk(dir, out, n_out, &cap, err);
        free(dir);
    }
    if (rc) {
        mill_strv_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return rc;
}

/* The split as kind's folder builder reads it (labels over every split where this one has no
 * metadata), its zip archives extracted. */
static int open_folder(struct mill_dataset *ds, enum mill_folder_kind kind,
                       const struct mill_task_config *t, const char *split,
                       const struct mill_dataset_params *p, struct mill_err *err) {
    struct mill_dataset all = {0};
    char **every = NULL;
    size_t n_every = 0;
    bool ok = false, meta = false;
    int rc = expand_archives(kind, ds->files, ds->n_files, p, &ds->media, &ds->n_media, err);
    for (size_t i = 0; !rc && i < ds->n_media && !meta; i++)
        meta = mill_folder_is_metadata(ds->media[i]);
    if (!rc && !meta)
        rc = all_split_files(t, p, kind, &all, &ok, err);
    if (!rc && ok)
        rc = expand_archives(kind, all.files, all.n_files, p, &every, &n_every, err);
    if (!rc)
        rc = mill_folder_open(kind, ds->media, ds->n_media, ok ? every : NULL, n_every, ds->columns,
                              &ds->folder, err);
    mill_strv_free(all.files, all.n_files);
    mill_strv_free(every, n_every);
    return rc ? mill_err_prefix(err, "%s: split '%s'", t->name, split) : 0;
}

static int any_member(const char *name, void *ctx) {
    (void)name, (void)ctx;
    return 0;
}

/* Why no reader takes path: a zip archive that cannot be listed says why; one of neither
 * images nor audio says what zip archives are read as. */
static int no_reader(const struct mill_task_config *t, const char *path, struct mill_err *err) {
    if (!mill_str_ends_with(path, ".zip"))
        return mill_err_set(err, MILL_EUNSUPPORTED, "%s: no reader for the format of %s", t->name,
                            path);
    if (mill_zip_list(path, any_member, NULL, err))
        return mill_err_prefix(err, "%s", t->name);
    return mill_err_set(err, MILL_EUNSUPPORTED,
                        "%s: %s: zip archives are read as folders of images or audio clips "
                        "(datasets' imagefolder, audiofolder), and this one holds neither",
                        t->name, path);
}

int mill_dataset_open(const struct mill_task_config *t, const char *split,
                      const struct mill_dataset_params *p, struct mill_dataset **out,
                      struct mill_err *err) {
    *out = NULL;
    struct mill_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    ds->columns = t->columns;
    int rc = resolve_split(ds, t, split, p, err);
    enum mill_folder_kind fk =
        rc ? MILL_FOLDER_NONE : mill_folder_kind(t->hf_builder, ds->files, ds->n_files);
    if (fk)
        rc = open_folder(ds, fk, t, split, p, err);
    for (size_t i = 0; !rc && !fk && i < ds->n_files; i++)
        if (!reader_for(ds->files[i]))
            rc = no_reader(t, ds->files[i], err);
    struct mill_buf b = {0};
    mill_buf_addc(&b, '[');
    for (size_t i = 0; !rc && i < ds->n_files; i++) {
        if (i)
            mill_buf_addc(&b, ',');
        mill_buf_add_json_str(&b, ds->files[i], strlen(ds->files[i]));
    }
    if (!rc && mill_buf_addc(&b, ']'))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    ds->files_json = mill_buf_take(&b);
    if (rc) {
        mill_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int mill_dataset_next(struct mill_dataset *ds, struct mill_value *row, struct mill_err *err) {
    if (ds->folder)
        return mill_folder_next(ds->folder, row, err);
    while (ds->cur < ds->n_files) {
        if (!ds->state) {
            ds->ops = reader_for(ds->files[ds->cur]);
            int rc = ds->ops->open(ds->files[ds->cur], ds->columns, &ds->state, err);
            if (rc)
                return rc;
        }
        int rc = ds->ops->next(ds->state, row, err);
        if (rc != 0)
            return rc;
        ds->ops->close(ds->state);
        ds->state = NULL;
        ds->cur++;
    }
    return 0;
}

/* A JSON Lines file's rows (its lines that are not blank) for the progress total; -1 for one
 * that is a whole document (jsonl.c reads an array, or an object over several lines, whole),
 * or that cannot be read. */
static int64_t count_lines(const char *path) {
    struct mill_err e = {0};
    FILE *f = mill_data_fopen(path, &e);
    if (!f)
        return -1;
    int64_t rows = mill_data_skip_bom(f) ? -1 : 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rows >= 0 && (n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n, at = 0;
        while (len && strchr(" \t\r\n", line[len - 1]))
            len--;
        while (at < len && strchr(" \t", line[at]))
            at++;
        if (at == len)
            continue;
        struct mill_value v;
        if (!rows && (line[at] == '[' || mill_value_from_json(&v, line, len, &e)))
            rows = -1;
        else if (!rows)
            mill_value_free(&v);
        rows += rows >= 0;
    }
    if (ferror(f))
        rows = -1;
    free(line);
    fclose(f);
    return rows;
}

int64_t mill_dataset_count(const struct mill_dataset *ds) {
    if (ds->folder)
        return mill_folder_count(ds->folder);
    int64_t total = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        const struct mill_reader_ops *ops = reader_for(ds->files[i]);
        int64_t n = -1;
        if (ops == &mill_reader_parquet) {
            struct mill_parquet *pq = NULL;
            struct mill_err e;
            if (mill_parquet_open(ds->files[i], NULL, &pq, &e) == 0)
                n = mill_parquet_num_rows(pq);
            mill_parquet_close(pq);
        } else if (ops == &mill_reader_jsonl) {
            n = count_lines(ds->files[i]);
        }
        if (n < 0)
            return -1;
        total += n;
    }
    return total;
}

size_t mill_dataset_n_files(const struct mill_dataset *ds) { return ds->n_files; }

const char *mill_dataset_file(const struct mill_dataset *ds, size_t i) {
    return i < ds->n_files ? ds->files[i] : NULL;
}

const char *mill_dataset_files_json(const struct mill_dataset *ds) {
    return ds->files_json ? ds->files_json : "[]";
}

void mill_dataset_free(struct mill_dataset *ds) {
    if (!ds)
        return;
    if (ds->state)
        ds->ops->close(ds->state);
    mill_folder_close(ds->folder);
    mill_strv_free(ds->files, ds->n_files);
    mill_strv_free(ds->media, ds->n_media);
    free(ds->files_json);
    free(ds);
}
