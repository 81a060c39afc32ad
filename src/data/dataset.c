/* dataset.c: resolves a task split to files and streams their rows through the right reader.
 * It knows formats only by extension and sources only by prefix; the readers and the Hub
 * client do the work. */
#include "data/dataset.h"

#include "core/text.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mill_dataset {
    char **files;
    size_t n_files;
    size_t cur;                      /* index of the open file */
    const struct mill_reader_ops *ops;
    void *state;                     /* reader state of files[cur], or NULL */
    const char *const *columns;      /* the task's projection (borrowed), NULL = all */
    char *files_json;
};

/* The pattern for split in "split=pattern" entries, or NULL. */
static const char *split_pattern(const struct mill_task_config *t, const char *split) {
    size_t n = strlen(split);
    for (const char *const *e = t->hf_data_files; e && *e; e++)
        if (!strncmp(*e, split, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static const struct mill_reader_ops *reader_for(const char *path) {
    if (mill_str_ends_with(path, ".jsonl") || mill_str_ends_with(path, ".json") ||
        mill_str_ends_with(path, ".ndjson"))
        return &mill_reader_jsonl;
    return NULL;
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
    glob_t g;
    int grc = glob(full, 0, NULL, &g);
    if (grc != 0) {
        int rc = mill_err_set(err, MILL_ENOTFOUND, "%s: split '%s': no file matches %s", task,
                              split, full);
        free(full);
        if (grc != GLOB_NOMATCH)
            globfree(&g);
        return rc;
    }
    free(full);
    int rc = 0;
    if (!(ds->files = calloc(g.gl_pathc, sizeof *ds->files)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        if (!(ds->files[i] = strdup(g.gl_pathv[i])))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        ds->n_files = i + 1;
    }
    globfree(&g);
    return rc;
}

int mill_dataset_open(const struct mill_task_config *t, const char *split,
                      const struct mill_dataset_params *p, struct mill_dataset **out,
                      struct mill_err *err) {
    *out = NULL;
    struct mill_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    ds->columns = t->columns;
    const char *pattern = split_pattern(t, split);
    int rc;
    if (pattern && strncmp(pattern, "hf://", 5) != 0)
        rc = resolve_local(ds, pattern, p ? p->base_dir : NULL, t->name, split, err);
    else
        rc = mill_err_set(err, MILL_EUNSUPPORTED,
                          "%s: split '%s' comes from the Hugging Face Hub (%s); this build reads "
                          "local data files only", t->name, split,
                          pattern ? pattern : (t->hf_repo && *t->hf_repo ? t->hf_repo : "?"));
    for (size_t i = 0; !rc && i < ds->n_files; i++)
        if (!reader_for(ds->files[i]))
            rc = mill_err_set(err, MILL_EUNSUPPORTED, "%s: no reader for the format of %s",
                              t->name, ds->files[i]);
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

const char *mill_dataset_files_json(const struct mill_dataset *ds) {
    return ds->files_json ? ds->files_json : "[]";
}

void mill_dataset_free(struct mill_dataset *ds) {
    if (!ds)
        return;
    if (ds->state)
        ds->ops->close(ds->state);
    for (size_t i = 0; i < ds->n_files; i++)
        free(ds->files[i]);
    free(ds->files);
    free(ds->files_json);
    free(ds);
}
