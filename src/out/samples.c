/* samples.c: per-sample JSON Lines writer and resume reader (samples.h). Appends only, a batch
 * of whole lines per write: a killed run keeps every batch it flushed, and a torn last line is
 * closed with a newline, not cut; a write that fails (disk full, file size limit) is cut back
 * by the writer itself to the last whole batch. */
#include "out/samples.h"

#include "core/log.h"
#include "core/stats.h"
#include "core/stop.h"

#include <mill/value.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DONE_READ = 1, DONE_NEW = 2 };

struct mill_samples {
    char *path;
    int fd; /* O_APPEND */
    int lock_fd;
    off_t good;           /* file size up to the last whole line written */
    struct mill_buf pend; /* lines appended since the last flush, newline-terminated */
    int64_t *pend_ids;    /* their done doc ids, undone when the write fails */
    size_t n_pend, cap_pend;
    size_t n_metrics;
    double *vals;        /* n_metrics per doc_id, NaN when unknown */
    unsigned char *done; /* per doc_id: 0 to do, DONE_READ found in the file, DONE_NEW written */
    uint32_t *split_h;   /* per doc_id read from the file: its split's hash, 0 when unknown */
    size_t cap;          /* doc_ids with room in vals/done */
};

char *mill_model_dirname(const char *model) {
    size_t n = strlen(model), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += model[i] == '/';
    char *out = malloc(n + extra + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (model[i] == '/') {
            *o++ = '_';
            *o++ = '_';
        } else {
            *o++ = model[i];
        }
    }
    *o = 0;
    return out;
}

char *mill_job_file(const char *output_dir, const char *model, const char *task, int64_t n_shot,
                    const char *ext) {
    char *md = mill_model_dirname(model), *path = NULL;
    if (md && asprintf(&path, "%s/outputs/%s/%s_%lldshot%s", output_dir, md, task,
                       (long long)n_shot, ext) < 0)
        path = NULL;
    free(md);
    return path;
}

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path, struct mill_err *err) {
    char *p = strdup(path);
    if (!p)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int rc =
                mill_err_set(err, MILL_EIO, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/* Room for doc_id; ids from 2^27 on (no evaluation split has 134 million docs) are refused, so a
 * corrupt line cannot make resume allocate gigabytes. */
static int ensure_cap(struct mill_samples *s, int64_t doc_id) {
    if (doc_id < 0 || doc_id >= (int64_t)1 << 27)
        return MILL_EINVAL;
    if ((size_t)doc_id < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap <= (size_t)doc_id)
        cap *= 2;
    double *v = realloc(s->vals, cap * (s->n_metrics ? s->n_metrics : 1) * sizeof *v);
    if (!v)
        return MILL_ENOMEM;
    s->vals = v;
    unsigned char *d = realloc(s->done, cap);
    if (!d)
        return MILL_ENOMEM;
    s->done = d;
    memset(d + s->cap, 0, cap - s->cap);
    uint32_t *h = realloc(s->split_h, cap * sizeof *h);
    if (!h)
        return MILL_ENOMEM;
    s->split_h = h;
    memset(h + s->cap, 0, (cap - s->cap) * sizeof *h);
    s->cap = cap;
    return 0;
}

/* A doc's place, its split's name and its index within that split, hashed; never 0 (0:
 * unknown). */
static uint32_t place_hash(const char *split, int64_t split_doc) {
    uint32_t h = 2166136261u;
    for (; *split; split++)
        h = (h ^ (unsigned char)*split) * 16777619u;
    for (int k = 0; k < 8; k++)
        h = (h ^ (unsigned char)((uint64_t)split_doc >> (8 * k))) * 16777619u;
    return h | 1;
}

/* Reads one earlier line; lines that do not qualify are skipped (they stay in the file). */
static void resume_line(struct mill_samples *s, const char *line, size_t len, int64_t seed,
                        const char *const *names, size_t lineno) {
    struct mill_value v;
    struct mill_err e = {0};
    if (mill_value_from_json(&v, line, len, &e)) {
        MILL_WARN("samples", "%s:%zu: unreadable line kept but not reused (%s)", s->path, lineno,
                  e.msg);
        return;
    }
    int64_t id, line_seed;
    bool seeded = v.kind == MILL_V_STRUCT &&
                  !mill_value_as_int(mill_value_get(&v, "doc_id"), &id) &&
                  !mill_value_as_int(mill_value_get(&v, "seed"), &line_seed) && line_seed == seed;
    bool ours = seeded && !mill_value_get(&v, "error");
    /* a failed line after a good one of the same doc (docs numbered otherwise since): the doc
     * is to do again, as the last line of a doc is its answer */
    if (seeded && !ours && id >= 0 && (size_t)id < s->cap)
        s->done[id] = 0;
    /* Our files number docs densely (a run writes them in order), so a doc_id far past the
     * lines read so far is a corrupt line: it must not make resume allocate for it. */
    bool far = ours && id >= 0 && (uint64_t)id > 16 * ((uint64_t)lineno + 65536);
    int cap_rc = far ? MILL_EINVAL : ours ? ensure_cap(s, id) : 0;
    if (cap_rc)
        MILL_WARN("samples", "%s:%zu: doc_id %lld is %s; the line is kept but not reused", s->path,
                  lineno, (long long)id,
                  cap_rc == MILL_ENOMEM ? "too large to hold in memory"
                  : far                 ? "far past what the file's lines number"
                                        : "out of range");
    if (ours && !cap_rc) {
        for (size_t m = 0; m < s->n_metrics; m++) {
            const struct mill_value *x = mill_value_get(&v, names[m]);
            double d = NAN;
            if (x && x->kind == MILL_V_FLOAT)
                d = x->u.f;
            else if (x && (x->kind == MILL_V_INT || x->kind == MILL_V_BOOL))
                d = x->kind == MILL_V_INT ? (double)x->u.i : x->u.b;
            s->vals[(size_t)id * s->n_metrics + m] = d;
        }
        s->done[id] = DONE_READ;
        const char *split = mill_value_as_str(mill_value_get(&v, "split"));
        int64_t split_doc; /* written for a task of several splits; else the doc_id */
        if (mill_value_as_int(mill_value_get(&v, "split_doc"), &split_doc))
            split_doc = id;
        s->split_h[id] = split ? place_hash(split, split_doc) : 0;
    }
    mill_value_free(&v);
}

static int read_existing(struct mill_samples *s, int64_t seed, const char *const *names,
                         bool *ends_with_newline, struct mill_err *err) {
    *ends_with_newline = true;
    FILE *f = fopen(s->path, "rb");
    if (!f)
        return errno == ENOENT
                   ? 0
                   : mill_err_set(err, MILL_EIO, "cannot read %s: %s", s->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        *ends_with_newline = line[n - 1] == '\n';
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len)
            resume_line(s, line, len, seed, names, lineno);
    }
    free(line);
    int bad = ferror(f);
    fclose(f);
    return bad ? mill_err_set(err, MILL_EIO, "read error on %s", s->path) : 0;
}

/* An exclusive flock on fd (the file lockpath), waiting for another holder after before_wait. */
static int take_lock(int fd, const char *lockpath, const char *path,
                     int (*before_wait)(void *ud, struct mill_err *err), void *ud,
                     struct mill_err *err) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK && before_wait) {
        int rc = before_wait(ud, err);
        if (rc)
            return rc;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
    }
    if (errno == EWOULDBLOCK) { /* another mill runs this job: its lines will count as done */
        MILL_INFO("samples", "%s is being written by another mill process: waiting for it", path);
        return mill_flock_stoppable(fd, lockpath, err);
    }
    return mill_err_set(err, MILL_ELOCK, "cannot lock %s: %s", lockpath, strerror(errno));
}

int mill_samples_open(const char *path, int64_t seed, const char *const *metric_names,
                      size_t n_metrics, int (*before_wait)(void *ud, struct mill_err *err),
                      void *ud, struct mill_samples **out, struct mill_err *err) {
    *out = NULL;
    struct mill_samples *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    s->lock_fd = -1;
    s->n_metrics = n_metrics;
    s->fd = -1;
    int rc = make_parent_dirs(path, err);
    char *lock = NULL;
    if (!rc && asprintf(&lock, "%s.lock", path) < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && (s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
        rc = mill_err_set(err, MILL_EIO, "cannot create %s: %s", lock, strerror(errno));
    if (!rc)
        rc = take_lock(s->lock_fd, lock, path, before_wait, ud, err);
    free(lock);
    bool nl = true;
    if (!rc)
        rc = read_existing(s, seed, metric_names, &nl, err);
    if (!rc && (s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)) < 0)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    if (!rc && !nl && write(s->fd, "\n", 1) != 1)
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", path, strerror(errno));
    if (!rc && (s->good = lseek(s->fd, 0, SEEK_END)) < 0)
        rc = mill_err_set(err, MILL_EIO, "cannot seek %s: %s", path, strerror(errno));
    if (rc) {
        mill_samples_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

bool mill_samples_done(const struct mill_samples *s, int64_t doc_id, const char *split,
                       int64_t split_doc, const double **metrics) {
    if (doc_id < 0 || (size_t)doc_id >= s->cap || !s->done[doc_id])
        return false;
    if (split && s->done[doc_id] == DONE_READ && s->split_h[doc_id] &&
        s->split_h[doc_id] != place_hash(split, split_doc))
        return false; /* the line of another doc (the docs were numbered otherwise) */
    if (metrics)
        *metrics = s->vals + (size_t)doc_id * s->n_metrics;
    return true;
}

int mill_samples_append(struct mill_samples *s, int64_t doc_id, const double *metrics, bool failed,
                        const char *line, struct mill_err *err) {
    if (mill_buf_adds(&s->pend, line) || mill_buf_addc(&s->pend, '\n'))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (failed && doc_id >= 0 && (size_t)doc_id < s->cap)
        s->done[doc_id] = 0; /* a line of another split's doc read for it is not its answer */
    if (failed)
        return 0;
    if (ensure_cap(s, doc_id))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (s->n_pend == s->cap_pend) {
        size_t cap = s->cap_pend ? 2 * s->cap_pend : 64;
        int64_t *ids = realloc(s->pend_ids, cap * sizeof *ids);
        if (!ids)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        s->pend_ids = ids;
        s->cap_pend = cap;
    }
    s->pend_ids[s->n_pend++] = doc_id;
    memcpy(s->vals + (size_t)doc_id * s->n_metrics, metrics, s->n_metrics * sizeof *metrics);
    s->done[doc_id] = DONE_NEW;
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int mill_samples_flush(struct mill_samples *s, struct mill_err *err) {
    int rc = 0;
    if (s->pend.n && (write_all(s->fd, s->pend.p, s->pend.n) != 0 || fdatasync(s->fd) != 0)) {
        /* Disk full, file too large, I/O error: cut what part of the batch got written, so the
         * file keeps whole lines only, and forget the batch (a rerun computes it again). */
        rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", s->path, strerror(errno));
        if (ftruncate(s->fd, s->good) != 0)
            MILL_WARN("samples", "%s: cannot cut a partly written batch: %s", s->path,
                      strerror(errno));
        for (size_t i = 0; i < s->n_pend; i++)
            s->done[s->pend_ids[i]] = 0;
    } else {
        s->good += (off_t)s->pend.n;
    }
    mill_buf_reset(&s->pend);
    s->n_pend = 0;
    return rc;
}

size_t mill_samples_n_resumed(const struct mill_samples *s, int64_t n_docs) {
    size_t n = 0, below = n_docs < 0 ? 0 : (size_t)n_docs < s->cap ? (size_t)n_docs : s->cap;
    for (size_t i = 0; i < below; i++)
        n += s->done[i] == DONE_READ;
    return n;
}

void mill_samples_close(struct mill_samples *s) {
    if (!s)
        return;
    if (s->fd >= 0) {
        struct mill_err err = {0};
        if (mill_samples_flush(s, &err))
            MILL_WARN("samples", "%s", err.msg);
        close(s->fd);
    }
    mill_buf_free(&s->pend);
    free(s->pend_ids);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s->path);
    free(s->vals);
    free(s->done);
    free(s->split_h);
    free(s);
}

/* ---- the per-sample line ------------------------------------------------------------------ */

static void add_key(struct mill_buf *b, const char *key) {
    mill_buf_addc(b, ',');
    mill_buf_add_json_str(b, key, strlen(key));
    mill_buf_addc(b, ':');
}

static bool reserved_key(const struct mill_sample_line *s, const char *k) {
    static const char *const fixed[] = {"model",     "task",       "n_shot", "doc_id", "split",
                                        "split_doc", "prediction", "gold",   "seed",   "prompt",
                                        "responses", "error",      NULL};
    for (size_t i = 0; fixed[i]; i++)
        if (!strcmp(fixed[i], k))
            return true;
    for (size_t m = 0; m < s->n_metrics; m++)
        if (!strcmp(s->metrics[m]->name, k))
            return true;
    return false;
}

static void add_responses(struct mill_buf *b, const struct mill_request *q, size_t nq,
                          size_t n_labels) {
    mill_buf_addc(b, '[');
    for (size_t i = 0; i < nq; i++) {
        if (i)
            mill_buf_addc(b, ',');
        if (q[i].status) {
            mill_buf_adds(b, "null");
        } else if (q[i].kind == MILL_REQ_LOGLIK) {
            mill_buf_addc(b, '[');
            mill_buf_add_json_num(b, q[i].logprob);
            mill_buf_adds(b, q[i].is_greedy ? ",true]" : ",false]");
        } else if (q[i].kind == MILL_REQ_ROLLING) {
            mill_buf_addc(b, '[');
            mill_buf_add_json_num(b, q[i].logprob);
            mill_buf_addf(b, ",%lld]", (long long)q[i].n_tokens);
        } else if (q[i].kind == MILL_REQ_CLASSIFY) {
            mill_buf_addc(b, '[');
            for (size_t k = 0; q[i].scores && k < n_labels; k++) {
                if (k)
                    mill_buf_addc(b, ',');
                mill_buf_add_json_num(b, q[i].scores[k]);
            }
            mill_buf_addc(b, ']');
        } else {
            mill_buf_add_json_str(b, q[i].text ? q[i].text : "", q[i].text ? q[i].text_len : 0);
        }
    }
    mill_buf_addc(b, ']');
}

static void add_metadata(const struct mill_sample_line *s, struct mill_buf *b) {
    const struct mill_value *md = &s->doc->metadata;
    for (size_t k = 0; md->kind == MILL_V_STRUCT && k < md->u.obj.n; k++) {
        if (reserved_key(s, md->u.obj.keys[k]))
            continue;
        mill_buf_add_json_str(b, md->u.obj.keys[k], strlen(md->u.obj.keys[k]));
        mill_buf_addc(b, ':');
        mill_value_to_json(&md->u.obj.vals[k], b);
        mill_buf_addc(b, ',');
    }
}

static void add_prediction(const struct mill_sample_result *r, struct mill_buf *b) {
    if (!r)
        mill_buf_adds(b, "null");
    else if (r->text)
        mill_buf_add_json_str(b, r->text, r->text_len);
    else if (r->output_type == MILL_OUT_PERPLEXITY && !r->classification)
        mill_buf_add_json_num(b, mill_round_np(r->mean_logprob, 4));
    else
        mill_buf_addf(b, "%lld", (long long)r->pred_index);
}

int mill_sample_line_build(const struct mill_sample_line *s, struct mill_buf *b) {
    const struct mill_doc *d = s->doc;
    mill_buf_reset(b);
    mill_buf_addc(b, '{');
    add_metadata(s, b);
    mill_buf_adds(b, "\"model\":");
    mill_buf_add_json_str(b, s->model, strlen(s->model));
    add_key(b, "task");
    mill_buf_add_json_str(b, s->task->name, strlen(s->task->name));
    mill_buf_addf(b, ",\"n_shot\":%d,\"doc_id\":%lld", s->task->n_shots, (long long)s->doc_id);
    add_key(b, "split");
    mill_buf_add_json_str(b, s->split, strlen(s->split));
    const char *const *splits = s->task->evaluation_splits;
    if (splits && splits[0] && splits[1]) /* doc_ids run on across splits: its place in one */
        mill_buf_addf(b, ",\"split_doc\":%lld", (long long)s->split_doc);
    add_key(b, "prediction");
    add_prediction(s->result, b);
    add_key(b, "gold");
    if (d->target_str)
        mill_buf_add_json_str(b, d->target_str, strlen(d->target_str));
    else if (d->target_index >= 0)
        mill_buf_addf(b, "%lld", (long long)d->target_index);
    else
        mill_buf_adds(b, "null"); /* no target: Python Mill's target_index None */
    for (size_t m = 0; s->values && m < s->n_metrics; m++) {
        add_key(b, s->metrics[m]->name);
        mill_buf_add_json_num(b, s->values[m]);
    }
    mill_buf_addf(b, ",\"seed\":%lld", (long long)s->seed);
    add_key(b, "prompt");
    mill_buf_add_json_str(b, s->prompt ? s->prompt : "", s->prompt ? strlen(s->prompt) : 0);
    if (s->responses) {
        add_key(b, "responses");
        add_responses(b, s->responses, s->n_responses, d->n_choices);
    }
    if (s->error) {
        add_key(b, "error");
        mill_buf_add_json_str(b, s->error, strlen(s->error));
    }
    return mill_buf_addc(b, '}');
}
