/* doc.c: building and freeing mill_doc (doc.h). Pure memory management: no I/O, no task
 * knowledge. */
#include <mill/doc.h>

#include <stdlib.h>
#include <string.h>

void mill_doc_init(struct mill_doc *d) {
    memset(d, 0, sizeof *d);
    d->target_index = -1;
    mill_value_struct(&d->metadata);
}

void mill_doc_free(struct mill_doc *d) {
    if (!d)
        return;
    free(d->query);
    for (size_t i = 0; i < d->n_choices; i++)
        free(d->choices[i]);
    free(d->choices);
    free(d->target_str);
    free(d->instruction);
    for (size_t i = 0; i < d->n_media; i++) {
        free(d->media[i].data);
        free(d->media[i].path);
    }
    free(d->media);
    free(d->key);
    mill_value_free(&d->metadata);
    mill_doc_init(d);
}

static int set_str(char **dst, const char *s) {
    char *c = strdup(s ? s : "");
    if (!c)
        return MILL_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

int mill_doc_set_query(struct mill_doc *d, const char *query) { return set_str(&d->query, query); }

int mill_doc_set_target_str(struct mill_doc *d, const char *gold) {
    return set_str(&d->target_str, gold);
}

int mill_doc_add_choice(struct mill_doc *d, const char *choice) {
    char **c = realloc(d->choices, (d->n_choices + 1) * sizeof *c);
    if (!c)
        return MILL_ENOMEM;
    d->choices = c;
    if (!(c[d->n_choices] = strdup(choice ? choice : "")))
        return MILL_ENOMEM;
    d->n_choices++;
    return 0;
}

int mill_doc_add_media(struct mill_doc *d, enum mill_modality kind, const void *data, size_t n,
                       const char *path) {
    struct mill_media *m = realloc(d->media, (d->n_media + 1) * sizeof *m);
    if (!m)
        return MILL_ENOMEM;
    d->media = m;
    struct mill_media *x = &m[d->n_media];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    if (data) {
        if (!(x->data = malloc(n ? n : 1)))
            return MILL_ENOMEM;
        memcpy(x->data, data, n);
        x->n = n;
    }
    if (path && !(x->path = strdup(path))) {
        free(x->data);
        return MILL_ENOMEM;
    }
    d->n_media++;
    return 0;
}

int mill_doc_meta_set(struct mill_doc *d, const char *key, const struct mill_value *val) {
    struct mill_value v;
    int rc = mill_value_copy(&v, val);
    if (rc)
        return rc;
    rc = mill_value_struct_set(&d->metadata, key, &v);
    if (rc)
        mill_value_free(&v);
    return rc;
}

int mill_doc_meta_set_str(struct mill_doc *d, const char *key, const char *s) {
    struct mill_value v;
    int rc = mill_value_str(&v, s ? s : "", s ? strlen(s) : 0); /* NULL is "", as set_query's */
    if (!rc && (rc = mill_value_struct_set(&d->metadata, key, &v)))
        mill_value_free(&v);
    return rc;
}

int mill_doc_meta_set_int(struct mill_doc *d, const char *key, int64_t i) {
    struct mill_value v;
    mill_value_int(&v, i);
    return mill_value_struct_set(&d->metadata, key, &v);
}

int mill_doc_meta_set_strv(struct mill_doc *d, const char *key, const char *const *strs, size_t n) {
    struct mill_value list, item;
    int rc = 0;
    mill_value_list(&list);
    for (size_t i = 0; !rc && i < n; i++)
        if (!(rc = mill_value_str(&item, strs[i] ? strs[i] : "", strs[i] ? strlen(strs[i]) : 0)) &&
            (rc = mill_value_list_push(&list, &item)) != 0)
            mill_value_free(&item);
    if (!rc)
        rc = mill_value_struct_set(&d->metadata, key, &list);
    mill_value_free(&list);
    return rc;
}

const char *mill_doc_gold_text(const struct mill_doc *d) {
    if (d->target_str)
        return d->target_str;
    if (d->target_index >= 0 && (size_t)d->target_index < d->n_choices)
        return d->choices[d->target_index];
    return NULL;
}
