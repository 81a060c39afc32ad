/* provenance.c: reading and atomically writing a job's provenance JSON (provenance.h). */
#include "out/provenance.h"

#include <mill/value.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROVENANCE_READ_MAX ((size_t)64 << 20)

int mill_provenance_load(const char *path, struct mill_value *v) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return MILL_ENOTFOUND;
    /* whole: a split of hundreds of shards lists hundreds of cache paths (past 64 KiB) */
    struct mill_buf b = {0};
    char chunk[1 << 16];
    size_t k;
    int rc = 0;
    while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = b.n + k > PROVENANCE_READ_MAX ? MILL_EFORMAT : mill_buf_add(&b, chunk, k);
    if (!rc && ferror(f))
        rc = MILL_EFORMAT;
    fclose(f);
    struct mill_err e;
    if (!rc && (rc = mill_value_from_json(v, b.p ? b.p : "", b.n, &e)) != 0 && rc != MILL_ENOMEM)
        rc = MILL_EFORMAT;
    mill_buf_free(&b);
    return rc;
}

void mill_provenance_read(const char *path, struct mill_provenance_state *st) {
    memset(st, 0, sizeof *st);
    struct mill_value v;
    if (mill_provenance_load(path, &v))
        return;
    const struct mill_value *fin = mill_value_get(&v, "finished");
    st->found = v.kind == MILL_V_STRUCT &&
                !mill_value_as_int(mill_value_get(&v, "seed"), &st->seed) &&
                !mill_value_as_int(mill_value_get(&v, "limit"), &st->limit) &&
                !mill_value_as_int(mill_value_get(&v, "n"), &st->n);
    st->finished = st->found && fin && fin->kind == MILL_V_BOOL && fin->u.b;
    if (st->found && mill_value_as_int(mill_value_get(&v, "n_failed"), &st->n_failed))
        st->n_failed = 0;
    mill_value_free(&v);
}

bool mill_provenance_finished(const struct mill_provenance_state *st, int64_t seed, int64_t limit) {
    return st->finished && st->seed == seed && st->limit == limit;
}

int mill_provenance_write(const char *path, const char *json, struct mill_err *err) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    else {
        bool ok = fputs(json, f) != EOF && fputc('\n', f) != EOF && fflush(f) == 0 &&
                  fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0)
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

static void add_str_or_null(struct mill_buf *b, const char *s) {
    if (s)
        mill_buf_add_json_str(b, s, strlen(s));
    else
        mill_buf_adds(b, "null");
}

int mill_provenance_build(const struct mill_provenance *p, struct mill_buf *b) {
    const struct mill_task_config *t = p->task;
    mill_buf_reset(b);
    mill_buf_addf(b, "{\"mill_version\":\"%s\",\"git_hash\":\"%s\",\"model\":", MILL_VERSION,
                  mill_git_hash());
    mill_buf_add_json_str(b, p->model, strlen(p->model));
    mill_buf_addf(b, ",\"backend\":\"%s\"", p->backend);
    if (p->backend_fields) {
        size_t before = b->n;
        mill_buf_addc(b, ',');
        p->backend_fields(p->backend_state, b);
        if (b->p && b->n == before + 1)
            b->p[--b->n] = 0;
    }
    mill_buf_adds(b, ",\"task\":");
    mill_buf_add_json_str(b, t->name, strlen(t->name));
    mill_buf_addf(b, ",\"task_version\":%d,\"n_shot\":%d,\"dataset\":{\"repo\":", t->version,
                  t->n_shots);
    mill_buf_add_json_str(b, t->hf_repo ? t->hf_repo : "", t->hf_repo ? strlen(t->hf_repo) : 0);
    mill_buf_adds(b, ",\"subset\":");
    add_str_or_null(b, t->hf_subset);
    mill_buf_adds(b, ",\"revision\":");
    add_str_or_null(b, t->hf_revision);
    return mill_buf_addf(b,
                         ",\"files\":%s},\"seed\":%lld,\"limit\":%lld,\"n\":%lld,"
                         "\"n_failed\":%zu,\"n_computed\":%zu,\"n_resumed\":%zu,"
                         "\"n_truncated\":%lld,\"finished\":%s,\"seconds\":%.3f,"
                         "\"written_at\":%lld}",
                         p->files_json, (long long)p->seed, (long long)p->limit, (long long)p->n,
                         p->n_failed, p->n_computed, p->n_resumed, (long long)p->n_truncated,
                         p->finished ? "true" : "false", p->seconds, (long long)p->written_at);
}

int mill_provenance_unfinish(const char *path, struct mill_err *err) {
    struct mill_value v;
    int rc = mill_provenance_load(path, &v);
    if (rc == MILL_ENOMEM)
        return mill_err_set(err, rc, "%s: out of memory", path);
    if (rc)
        return 0; /* none, or unreadable: nothing says finished */
    struct mill_value *fin = (struct mill_value *)mill_value_get(&v, "finished");
    struct mill_buf b = {0};
    if (fin && fin->kind == MILL_V_BOOL && fin->u.b) {
        fin->u.b = false;
        rc = mill_value_to_json(&v, &b) ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                                        : mill_provenance_write(path, b.p, err);
    }
    mill_buf_free(&b);
    mill_value_free(&v);
    return rc;
}
