/* registry.c: holds every task, benchmark and metric Mill knows, from the built-in tables and
 * from plugins. Entries are pointers into static tables (built-in or dlopen'ed, never closed
 * while the registry lives); a later registration of the same name wins, as in Mill. */
#include "eval/registry.h"

#include "core/log.h"
#include "metric/metrics.h"
#include "task/tasks.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct task_entry {
    const struct mill_task_config *cfg;
    const char *dir; /* plugin directory (owned by the registry), or NULL */
};

struct mill_registry {
    struct task_entry *tasks;
    size_t n_tasks;
    const struct mill_benchmark_config **benchmarks;
    size_t n_benchmarks;
    const struct mill_metric **metrics;
    size_t n_metrics;
    char **dirs; /* owned plugin directories */
    size_t n_dirs;
    void **handles; /* dlopen handles */
    size_t n_handles;
    size_t n_dup_builtin; /* names registered twice by the built-in tables */
};

static int grow(void **arr, size_t n, size_t size) {
    void *p = realloc(*arr, (n + 1) * size);
    if (!p)
        return MILL_ENOMEM;
    *arr = p;
    return 0;
}

static int add_task(struct mill_registry *r, const struct mill_task_config *t, const char *dir,
                    bool builtin) {
    for (size_t i = 0; i < r->n_tasks; i++)
        if (!strcmp(r->tasks[i].cfg->name, t->name)) {
            if (builtin)
                r->n_dup_builtin++;
            else
                MILL_WARN("registry", "task '%s' from %s replaces an earlier definition", t->name,
                          dir ? dir : "built-ins");
            r->tasks[i].cfg = t;
            r->tasks[i].dir = dir;
            return 0;
        }
    if (grow((void **)&r->tasks, r->n_tasks, sizeof *r->tasks))
        return MILL_ENOMEM;
    r->tasks[r->n_tasks++] = (struct task_entry){t, dir};
    return 0;
}

static int add_benchmark(struct mill_registry *r, const struct mill_benchmark_config *b,
                         bool builtin) {
    for (size_t i = 0; i < r->n_benchmarks; i++)
        if (!strcmp(r->benchmarks[i]->name, b->name)) {
            r->n_dup_builtin += builtin;
            r->benchmarks[i] = b;
            return 0;
        }
    if (grow((void **)&r->benchmarks, r->n_benchmarks, sizeof *r->benchmarks))
        return MILL_ENOMEM;
    r->benchmarks[r->n_benchmarks++] = b;
    return 0;
}

static int add_metric(struct mill_registry *r, const struct mill_metric *m, bool builtin) {
    for (size_t i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i]->name, m->name)) {
            r->n_dup_builtin += builtin;
            if (!builtin) /* every task scoring by this name, built-in ones included, gets it */
                MILL_WARN("registry", "metric '%s' from a plugin replaces an earlier definition",
                          m->name);
            r->metrics[i] = m;
            return 0;
        }
    if (grow((void **)&r->metrics, r->n_metrics, sizeof *r->metrics))
        return MILL_ENOMEM;
    r->metrics[r->n_metrics++] = m;
    return 0;
}

static int cmp_task(const void *a, const void *b) {
    return strcmp(((const struct task_entry *)a)->cfg->name,
                  ((const struct task_entry *)b)->cfg->name);
}

static int cmp_bench(const void *a, const void *b) {
    return strcmp((*(const struct mill_benchmark_config *const *)a)->name,
                  (*(const struct mill_benchmark_config *const *)b)->name);
}

static void sort_all(struct mill_registry *r) {
    if (r->n_tasks)
        qsort(r->tasks, r->n_tasks, sizeof *r->tasks, cmp_task);
    if (r->n_benchmarks)
        qsort(r->benchmarks, r->n_benchmarks, sizeof *r->benchmarks, cmp_bench);
}

int mill_registry_init(struct mill_registry **reg, struct mill_err *err) {
    struct mill_registry *r = calloc(1, sizeof *r);
    if (!r)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; !rc && mill_builtin_metrics[i]; i++)
        for (size_t j = 0; !rc && j < mill_builtin_metrics[i]->n; j++)
            rc = add_metric(r, &mill_builtin_metrics[i]->metrics[j], true);
    for (size_t i = 0; !rc && mill_builtin_tasks[i]; i++)
        for (size_t j = 0; !rc && j < mill_builtin_tasks[i]->n; j++)
            rc = add_task(r, &mill_builtin_tasks[i]->tasks[j], NULL, true);
    for (size_t i = 0; !rc && mill_builtin_benchmarks[i]; i++)
        for (size_t j = 0; !rc && j < mill_builtin_benchmarks[i]->n; j++)
            rc = add_benchmark(r, &mill_builtin_benchmarks[i]->benchmarks[j], true);
    if (rc) {
        mill_registry_free(r);
        return mill_err_set(err, rc, "out of memory");
    }
    sort_all(r);
    *reg = r;
    return 0;
}

void mill_registry_free(struct mill_registry *r) {
    if (!r)
        return;
    free(r->tasks);
    free(r->benchmarks);
    free(r->metrics);
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    /* Plugin handles stay open: docs and configs may still point into them at exit. */
    free(r->handles);
    free(r);
}

/* A table's ABI version this Mill reads. */
static bool abi_ok(int v) { return v >= MILL_ABI_OLDEST && v <= MILL_ABI_VERSION; }

/* Why a plugin's task cannot be registered (a warning skips it), or NULL: what the registry
 * and the runner would otherwise dereference or shift by. (One without a prompt function is
 * registered for `mill ls --check` to name; eval and prompts refuse it up front.) */
static const char *bad_task(const struct mill_task_config *t) {
    if (!t->name)
        return "a task has no name";
    if ((unsigned)t->task_type > MILL_TASK_SUPERVISED_CLASSIFICATION)
        return "its task_type is unknown";
    return (unsigned)t->output_type > (unsigned)MILL_OUT_PERPLEXITY ? "its output_type is unknown"
                                                                    : NULL;
}

/* Opens one plugin file; problems are warnings (the plugin or the entry is skipped), never
 * fatal. */
static int load_plugin(struct mill_registry *r, const char *path, size_t *n_loaded) {
    /* dlopen searches the library path for a name without a slash: "./" makes it this file */
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *h = dlopen(rel, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        MILL_WARN("registry", "skipping plugin %s: %s", path, dlerror());
        return 0;
    }
    const struct mill_tasks_table *tt = dlsym(h, "TASKS_TABLE");
    const struct mill_benchmarks_table *bt = dlsym(h, "BENCHMARKS_TABLE");
    const struct mill_metrics_table *mt = dlsym(h, "METRICS_TABLE");
    const char *why = NULL;
    if (!tt)
        why = "it exports no TASKS_TABLE";
    else if (!abi_ok(tt->abi_version) || (bt && !abi_ok(bt->abi_version)) ||
             (mt && !abi_ok(mt->abi_version)))
        why = "it was built for another Mill ABI version (rebuild it against these headers)";
    if (why) {
        MILL_WARN("registry", "skipping plugin %s: %s", path, why);
        dlclose(h);
        return 0;
    }
    char dir[PATH_MAX];
    if (!realpath(path, dir))
        snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    char *d = strdup(dir);
    if (!d || grow((void **)&r->dirs, r->n_dirs, sizeof *r->dirs) ||
        grow((void **)&r->handles, r->n_handles, sizeof *r->handles)) {
        free(d);
        return MILL_ENOMEM;
    }
    r->dirs[r->n_dirs++] = d;
    r->handles[r->n_handles++] = h;
    int rc = 0;
    for (size_t j = 0; !rc && mt && j < mt->n; j++)
        if (!mt->metrics[j].name)
            MILL_WARN("registry", "%s: skipping metric %zu: it has no name", path, j);
        else
            rc = add_metric(r, &mt->metrics[j], false);
    for (size_t j = 0; !rc && j < tt->n; j++) {
        const char *why_t = bad_task(&tt->tasks[j]);
        if (why_t)
            MILL_WARN("registry", "%s: skipping task %s: %s", path,
                      tt->tasks[j].name ? tt->tasks[j].name : "(no name)", why_t);
        else
            rc = add_task(r, &tt->tasks[j], d, false);
    }
    for (size_t j = 0; !rc && bt && j < bt->n; j++)
        if (!bt->benchmarks[j].name || !bt->benchmarks[j].task_names)
            MILL_WARN("registry", "%s: skipping benchmark %s: it has no %s", path,
                      bt->benchmarks[j].name ? bt->benchmarks[j].name : "(no name)",
                      bt->benchmarks[j].name ? "task_names" : "name");
        else
            rc = add_benchmark(r, &bt->benchmarks[j], false);
    if (!rc)
        (*n_loaded)++;
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct mill_registry *r, const char *path, size_t *n_loaded, int depth) {
    if (depth > 16)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        MILL_WARN("registry", "cannot read task directory %s", path);
        return 0;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = NULL;
        if (asprintf(&full, "%s/%s", path, e->d_name) < 0 ||
            grow((void **)&names, n, sizeof *names)) {
            free(full);
            rc = MILL_ENOMEM;
            break;
        }
        names[n++] = full;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !rc && i < n; i++) {
        struct stat st;
        size_t len = strlen(names[i]);
        if (stat(names[i], &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = load_dir(r, names[i], n_loaded, depth + 1);
        else if (len > 3 && !strcmp(names[i] + len - 3, ".so"))
            rc = load_plugin(r, names[i], n_loaded);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int mill_registry_load_path(struct mill_registry *r, const char *path, size_t *n_loaded,
                            struct mill_err *err) {
    struct stat st;
    size_t dummy = 0;
    if (!n_loaded)
        n_loaded = &dummy;
    if (stat(path, &st) != 0)
        return mill_err_set(err, MILL_ENOTFOUND, "task path %s does not exist", path);
    int rc = S_ISDIR(st.st_mode) ? load_dir(r, path, n_loaded, 0) : load_plugin(r, path, n_loaded);
    if (rc)
        return mill_err_set(err, rc, "loading %s: out of memory", path);
    sort_all(r);
    return 0;
}

const struct mill_task_config *mill_registry_task(const struct mill_registry *r, const char *name) {
    for (size_t i = 0; i < r->n_tasks; i++)
        if (!strcmp(r->tasks[i].cfg->name, name))
            return r->tasks[i].cfg;
    return NULL;
}

const char *mill_registry_task_dir(const struct mill_registry *r,
                                   const struct mill_task_config *t) {
    for (size_t i = 0; i < r->n_tasks; i++)
        if (r->tasks[i].cfg == t)
            return r->tasks[i].dir;
    return NULL;
}

const struct mill_benchmark_config *mill_registry_benchmark(const struct mill_registry *r,
                                                            const char *name) {
    for (size_t i = 0; i < r->n_benchmarks; i++)
        if (!strcmp(r->benchmarks[i]->name, name))
            return r->benchmarks[i];
    return NULL;
}

const struct mill_metric *mill_registry_metric(const struct mill_registry *r, const char *name) {
    for (size_t i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i]->name, name))
            return r->metrics[i];
    return NULL;
}

const struct mill_benchmark_config *mill_registry_parent(const struct mill_registry *r,
                                                         const char *task) {
    for (size_t i = 0; i < r->n_benchmarks; i++)
        for (const char *const *t = r->benchmarks[i]->task_names; t && *t; t++)
            if (!strcmp(*t, task))
                return r->benchmarks[i];
    return NULL;
}

size_t mill_registry_n_tasks(const struct mill_registry *r) { return r->n_tasks; }
size_t mill_registry_n_benchmarks(const struct mill_registry *r) { return r->n_benchmarks; }

const struct mill_task_config *mill_registry_task_at(const struct mill_registry *r, size_t i) {
    return i < r->n_tasks ? r->tasks[i].cfg : NULL;
}

const struct mill_benchmark_config *mill_registry_benchmark_at(const struct mill_registry *r,
                                                               size_t i) {
    return i < r->n_benchmarks ? r->benchmarks[i] : NULL;
}

size_t mill_registry_check(const struct mill_registry *r, struct mill_buf *out) {
    size_t bad = 0;
    if (r->n_dup_builtin) {
        mill_buf_addf(out, "%zu built-in names are registered more than once\n", r->n_dup_builtin);
        bad++;
    }
    for (size_t i = 0; i < r->n_tasks; i++) {
        const struct mill_task_config *t = r->tasks[i].cfg;
        if (!t->name || !*t->name) {
            mill_buf_addf(out, "a task has no name\n");
            bad++;
            continue;
        }
        if (!t->prompt) {
            mill_buf_addf(out, "task %s: no prompt function\n", t->name);
            bad++;
        }
        if (!t->metrics || !t->metrics[0]) {
            mill_buf_addf(out, "task %s: no metric\n", t->name);
            bad++;
        }
        for (const char *const *m = t->metrics; m && *m; m++)
            if (!mill_registry_metric(r, *m)) {
                mill_buf_addf(out, "task %s: unknown metric %s\n", t->name, *m);
                bad++;
            }
    }
    for (size_t i = 0; i < r->n_benchmarks; i++) {
        const struct mill_benchmark_config *b = r->benchmarks[i];
        if (!b->task_names || !b->task_names[0]) {
            mill_buf_addf(out, "benchmark %s: no tasks\n", b->name);
            bad++;
        }
        for (const char *const *t = b->task_names; t && *t; t++)
            if (!mill_registry_task(r, *t)) {
                mill_buf_addf(out, "benchmark %s: unknown task %s\n", b->name, *t);
                bad++;
            }
        for (const char *const *m = b->metric_names; m && *m; m++)
            if (!mill_registry_metric(r, *m)) {
                mill_buf_addf(out, "benchmark %s: unknown metric %s\n", b->name, *m);
                bad++;
            }
    }
    return bad;
}
