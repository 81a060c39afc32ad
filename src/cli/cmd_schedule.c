/* cmd_schedule.c: `mill schedule MODELS TASKS [--n_shots 0,5] [--cluster auto] [--local]
 * [--dry_run] ...`: the models x tasks x n_shots job table minus the jobs aggregate.csv already
 * holds, shuffled as pandas' sample(frac=1, random_state=42), written to <cache>/jobs/jobs.csv
 * and run as a SLURM job array (<cache>/jobs/submit.sbatch), one by one here (--local), or only
 * printed (--dry_run). Cluster settings come from <cache>/clusters.yaml (created from the bundled
 * default on first use).
 *
 * Unlike Mill (BEHAVIOUR.md §1.3, §7.6) every worker runs a correct `mill eval` line. It must not load
 * a model or read a dataset itself: the workers do that; a worker's failure is its own. */
#include "cli/cli.h"

#include "backend/backends.h"
#include "backend/model_config.h"
#include "core/array.h"
#include "core/log.h"
#include "core/nprandom.h"
#include "eval/registry.h"
#include "eval/runner.h"
#include "core/spec.h"
#include "eval/clusters.h"
#include "out/aggregate.h"
#include "out/provenance.h"
#include "out/samples.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Defined in cmd_eval.c: loads every comma-separated --task_paths entry; returns an exit code. */
int mill_cli_load_task_paths(struct mill_registry *reg, const char *paths);

#define MOD "schedule"
#define MAX_MINUTES_PER_JOB (18 * 60) /* Mill's MAX_HOURS_PER_JOB = 18 */
#define DEFAULT_MINUTES_PER_EVAL 60   /* Mill's MINUTES_PER_EVAL */
#define SHUFFLE_SEED 42               /* sample(frac=1, random_state=42) */
#define WORKER_SEED 42                /* the workers' --seed: eval's default */

/* The bundled clusters.yaml, copied to <cache_dir>/clusters.yaml on first use. Mill's shape
 * (everything under "clusters:"), so Mill itself can read the copy too. */
static const char DEFAULT_CLUSTERS_YAML[] =
    "# Mill cluster configuration for `mill schedule`.\n"
    "#\n"
    "# Created on first use from the default bundled with mill; edit this copy to add clusters.\n"
    "#\n"
    "# Cluster selection:\n"
    "#   --cluster auto      the hostname is matched against hostname_pattern (first match\n"
    "#                       wins; 'generic' when none matches)\n"
    "#   --cluster <name>    use the named entry\n"
    "#\n"
    "# Fields (all optional):\n"
    "#   hostname_pattern  glob matched against the hostname      e.g. \"login*.mycluster.org\"\n"
    "#   partition         SLURM partition                        default: gpu\n"
    "#   account           SLURM account / allocation             e.g. \"my_project\"\n"
    "#   gpu_type          GPU type in the gres request           e.g. \"a100\"\n"
    "#   gpus_per_node     GPUs per array task (0: a CPU cluster, no gres)  default: 1\n"
    "#   mem               memory per array task                  default: 32G\n"
    "#   mem_per_gpu       memory per GPU (wins over mem)         e.g. \"40G\"\n"
    "#   cpus_per_task     CPUs per array task                    default: unset\n"
    "#   queue_limit       max jobs in the queue (throttles)      default: 100\n"
    "#   max_array_len     max simultaneous array tasks           default: 50\n"
    "#   venv_path         venv the workers activate              default: none\n"
    "#   container_image   Singularity/Apptainer image (or null)  (not used by mill)\n"
    "#   bind_paths        paths bound into the container         default: []\n"
    "\n"
    "clusters:\n"
    "\n"
    "  # my_cluster:\n"
    "  #   hostname_pattern: \"login*.mycluster.org\"\n"
    "  #   partition: \"gpu\"\n"
    "  #   account: \"my_project\"\n"
    "  #   gpu_type: \"a100\"\n"
    "  #   gpus_per_node: 1\n"
    "  #   mem: \"64G\"\n"
    "  #   queue_limit: 200\n"
    "  #   max_array_len: 100\n"
    "\n"
    "  # Generic fallback (used when no hostname_pattern matches)\n"
    "  generic:\n"
    "    hostname_pattern: \"*\"\n"
    "    partition: \"gpu\"\n"
    "    account: \"\"\n"
    "    gpu_type: \"\"\n"
    "    gpus_per_node: 1\n"
    "    mem: \"32G\"\n"
    "    queue_limit: 100\n"
    "    max_array_len: 50\n"
    "    container_image: null\n"
    "    bind_paths: []\n";

/* ---- files and processes ---- */

static int mkdir_p(const char *dir) {
    char *p = strdup(dir);
    if (!p)
        return -1;
    int rc = 0;
    for (char *s = p + 1; !rc; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = mill_cli_error(MILL_EXIT_FAIL, "cannot create directory %s: %s", p,
                                strerror(errno));
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct mill_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (mill_buf_add(&b, chunk, n))
            break;
    bool bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        mill_buf_free(&b);
        return NULL;
    }
    *len = b.n;
    return b.p ? mill_buf_take(&b) : strdup("");
}

/* Writes data to path through a temp file and rename; returns an exit code. */
static int write_file(const char *path, const char *data, size_t n, mode_t mode) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    bool ok = fd >= 0 && write(fd, data, n) == (ssize_t)n;
    ok = fd >= 0 && close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mill_cli_error(MILL_EXIT_FAIL, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* path made absolute against the working directory (malloc'd); "./" prefixes dropped. */
static char *abs_path(const char *p) {
    if (p[0] == '/')
        return strdup(p);
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return strdup(p);
    char *out = NULL;
    if (asprintf(&out, "%s/%s", cwd, !strcmp(p, ".") ? "" : p) < 0)
        return NULL;
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '/')
        out[n - 1] = 0;
    return out;
}

/* The executable name on PATH, or NULL (malloc'd). */
static char *find_on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char *cand = NULL;
        if (asprintf(&cand, "%.*s/%s", (int)n, n ? p : ".", name) < 0)
            return NULL;
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return cand;
        free(cand);
        p = colon ? colon + 1 : NULL;
    }
    return NULL;
}

/* Runs argv[0] (a path) with argv; stdout goes to *out when out != NULL (stderr too with
 * with_stderr), else both are inherited. Returns the exit status (128 + signal when killed),
 * or -1 when it did not start. */
static int run_process(const char *exe, char *const argv[], struct mill_buf *out,
                       bool with_stderr) {
    int fds[2] = {-1, -1};
    if (out && pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (out) {
            dup2(fds[1], 1);
            if (with_stderr)
                dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
        }
        execv(exe, argv);
        _exit(127);
    }
    if (out) {
        close(fds[1]);
        char chunk[4096];
        ssize_t n;
        while (pid > 0 && (n = read(fds[0], chunk, sizeof chunk)) != 0)
            if (n > 0)
                mill_buf_add(out, chunk, (size_t)n);
            else if (errno != EINTR)
                break;
        close(fds[0]);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Lines of `squeue -u $USER -t pending,running -h`; 0 when squeue is missing or fails. */
static int64_t jobs_in_queue(void) {
    char *exe = find_on_path("squeue");
    if (!exe)
        return 0;
    const char *user = getenv("USER");
    struct passwd *pw = (!user || !*user) ? getpwuid(getuid()) : NULL;
    if (pw)
        user = pw->pw_name;
    char *argv[] = {"squeue", "-u", (char *)(user ? user : ""), "-t", "pending,running",
                    "-h",     NULL};
    struct mill_buf out = {0};
    int st = run_process(exe, argv, &out, false); /* its warnings are not queued jobs */
    int64_t n = 0;
    for (size_t i = 0; st == 0 && i < out.n; i++)
        n += out.p[i] == '\n' || (i + 1 == out.n && out.p[i] != '\n');
    if (st != 0)
        MILL_WARN(MOD, "squeue failed (status %d); assuming an empty queue", st);
    mill_buf_free(&out);
    free(exe);
    return n;
}

/* ---- the schedule ---- */

/* The model names of a quantisation sweep's files ("<name>:<tag>", as eval names them): one
 * job runs them all, and is done when each is. */
struct sweep {
    char **names;
    size_t n;
};

struct job {
    const char *model_path; /* the spec as given (borrowed from sched.specs) */
    const char *model_name; /* the backend's model name (borrowed from sched.names) */
    const char *task;       /* borrowed from the registry */
    int64_t n_shot;
    const struct sweep *sweep; /* borrowed from sched.sweeps; NULL for one file */
};

struct sched {
    const char *models, *tasks;
    int64_t *shots;
    size_t n_shots;
    int64_t minutes, limit; /* limit < 0: none */
    bool dry_run, local;
    const char *venv, *log_level;
    char *task_paths; /* --extra_task_paths with every entry absolute, or NULL */
    char *out_dir, *cache_dir, *exe;
    struct mill_cluster_set clusters;
    const struct mill_cluster *cl;
    char *cl_file;
    struct mill_registry *reg;
    char **specs, **names; /* names[i]: model name of specs[i] */
    struct sweep *sweeps;  /* sweeps[i]: of specs[i] (n 0: no sweep) */
    size_t n_specs;
    struct job *jobs;
    size_t n_jobs;
    size_t n_refused; /* (model, task) pairs eval would refuse: no job */
};

static void sched_free(struct sched *s) {
    free(s->shots);
    free(s->task_paths);
    free(s->out_dir);
    free(s->cache_dir);
    free(s->exe);
    mill_clusters_free(&s->clusters);
    free(s->cl_file);
    mill_registry_free(s->reg);
    mill_strv_free(s->specs, s->n_specs);
    mill_strv_free(s->names, s->n_specs);
    for (size_t i = 0; s->sweeps && i < s->n_specs; i++)
        mill_strv_free(s->sweeps[i].names, s->sweeps[i].n);
    free(s->sweeps);
    free(s->jobs);
}

static int parse_shots(struct sched *s, const char *list) {
    char **items = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    if (mill_spec_split(list, &items, &n, &err))
        return mill_cli_error(MILL_EXIT_USAGE, "--n_shots: %s", err.msg);
    int rc = 0;
    if (!(s->shots = calloc(n ? n : 1, sizeof *s->shots)))
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(items[i], &end, 10);
        if (!*items[i] || *end || errno || v < 0 || v > 1000000)
            rc = mill_cli_error(MILL_EXIT_USAGE,
                                "--n_shots expects comma-separated counts "
                                "(0 or more), got '%s'",
                                items[i]);
        s->shots[s->n_shots++] = v;
    }
    mill_strv_free(items, n);
    if (!rc && !s->n_shots)
        rc = mill_cli_error(MILL_EXIT_USAGE, "--n_shots is empty");
    return rc;
}

/* Every --extra_task_paths entry made absolute, so workers find them from any directory. */
static int absolute_task_paths(struct sched *s, const char *list) {
    char **items = NULL;
    size_t n = 0;
    struct mill_err err = {0};
    if (mill_spec_split(list, &items, &n, &err))
        return mill_cli_error(MILL_EXIT_USAGE, "--extra_task_paths: %s", err.msg);
    struct mill_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        char *p = abs_path(items[i]);
        mill_buf_addf(&b, "%s%s", i ? "," : "", p ? p : items[i]);
        free(p);
    }
    mill_strv_free(items, n);
    s->task_paths = b.p ? mill_buf_take(&b) : NULL;
    return 0;
}

static int read_options(const struct mill_args *a, struct sched *s) {
    s->models = mill_arg_pos(a, &mill_cmd_schedule, 0);
    s->tasks = mill_arg_pos(a, &mill_cmd_schedule, 1);
    if (!s->models || !s->tasks)
        return mill_cli_error(MILL_EXIT_USAGE, "schedule needs MODELS and TASKS (see mill "
                                               "schedule --help)");
    mill_arg_int(a, "minutes_per_eval", 0, &s->minutes);
    mill_arg_int(a, "limit", -1, &s->limit);
    if (s->minutes < 0 || s->minutes > 1000000)
        return mill_cli_error(MILL_EXIT_USAGE,
                              "--minutes_per_eval must be 0 (the default, %d) "
                              "or a positive number of minutes",
                              DEFAULT_MINUTES_PER_EVAL);
    if (mill_arg(a, "limit") && s->limit < 0)
        return mill_cli_error(MILL_EXIT_USAGE, "--limit must be 0 or more");
    s->local = mill_arg_bool(a, "local", false);
    if (s->limit == 0 && !s->local)
        s->limit = -1; /* Python Mill's submission: `if self.limit`, 0 is no limit (its local
                          run evaluates --limit 0 docs, as eval does) */
    if (!s->minutes)
        s->minutes = DEFAULT_MINUTES_PER_EVAL;
    s->dry_run = mill_arg_bool(a, "dry_run", false);
    s->venv = mill_arg(a, "venv_path");
    s->log_level = mill_arg(a, "log_level");
    const char *shots = mill_arg(a, "n_shots");
    int rc = parse_shots(s, shots ? shots : "0");
    const char *tp = mill_arg(a, "extra_task_paths");
    if (!rc && tp && *tp)
        rc = absolute_task_paths(s, tp);
    if (rc)
        return rc;
    s->out_dir = abs_path(mill_cli_output_dir(a));
    s->cache_dir = abs_path(mill_cli_cache_dir(a));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    s->exe = strdup(n > 0 ? exe : "mill");
    if (!s->out_dir || !s->cache_dir || !s->exe)
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    return 0;
}

/* <cache>/clusters.yaml, created from the bundled default when missing; returns an exit code. */
static int ensure_clusters_file(struct sched *s) {
    if (asprintf(&s->cl_file, "%s/clusters.yaml", s->cache_dir) < 0) {
        s->cl_file = NULL;
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    }
    if (access(s->cl_file, F_OK) == 0)
        return 0;
    int rc = mkdir_p(s->cache_dir);
    if (rc)
        return rc;
    int fd = open(s->cl_file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return errno == EEXIST ? 0
                               : mill_cli_error(MILL_EXIT_FAIL, "cannot create %s: %s", s->cl_file,
                                                strerror(errno));
    size_t n = sizeof DEFAULT_CLUSTERS_YAML - 1;
    bool ok = write(fd, DEFAULT_CLUSTERS_YAML, n) == (ssize_t)n;
    if (close(fd) != 0 || !ok) {
        unlink(s->cl_file);
        return mill_cli_error(MILL_EXIT_FAIL, "cannot write %s", s->cl_file);
    }
    MILL_INFO(MOD, "Created %s; edit it to configure your cluster.", s->cl_file);
    return 0;
}

static const struct mill_cluster *find_cluster(const struct mill_cluster_set *set,
                                               const char *name) {
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->v[i].name, name))
            return &set->v[i];
    return NULL;
}

static int unknown_cluster(const struct sched *s, const char *name) {
    struct mill_buf b = {0};
    for (size_t i = 0; i < s->clusters.n; i++)
        mill_buf_addf(&b, "%s%s", i ? ", " : "", s->clusters.v[i].name);
    int rc = mill_cli_error(MILL_EXIT_USAGE, "unknown cluster '%s' (%s defines: %s)", name,
                            s->cl_file, b.p ? b.p : "none");
    mill_buf_free(&b);
    return rc;
}

/* --cluster NAME, or auto: the first hostname_pattern matching the hostname, else generic. */
static int select_cluster(struct sched *s, const char *name) {
    static struct mill_cluster builtin_generic;
    if (strcmp(name, "auto")) {
        s->cl = find_cluster(&s->clusters, name);
        return s->cl ? 0 : unknown_cluster(s, name);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    for (size_t i = 0; !s->cl && i < s->clusters.n; i++) {
        const char *pat = mill_cluster_str(&s->clusters.v[i], MILL_CL_PATTERN, NULL);
        if (pat && fnmatch(pat, host, 0) == 0)
            s->cl = &s->clusters.v[i];
    }
    if (!s->cl)
        s->cl = find_cluster(&s->clusters, "generic");
    if (!s->cl) {
        mill_cluster_init(&builtin_generic);
        builtin_generic.name = "generic";
        s->cl = &builtin_generic;
    }
    return 0;
}

static int load_cluster(struct sched *s, const char *name) {
    int rc = ensure_clusters_file(s);
    if (rc)
        return rc;
    size_t len = 0;
    char *text = read_file(s->cl_file, &len);
    if (!text)
        return mill_cli_error(MILL_EXIT_FAIL, "cannot read %s: %s", s->cl_file, strerror(errno));
    struct mill_err err = {0};
    if (strlen(text) != len)
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s: holds a NUL byte", s->cl_file);
    else if (mill_clusters_parse(text, s->cl_file, &s->clusters, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    free(text);
    if (!rc)
        rc = select_cluster(s, name ? name : "auto");
    if (!rc)
        MILL_INFO(MOD, "Using cluster config: %s", s->cl->name);
    return rc;
}

/* Opens spec's backend (arguments only) for its model name and capabilities. */
static int model_info(const char *raw, char **name, struct mill_backend_caps *caps) {
    struct mill_model_spec spec = {0};
    struct mill_err err = {0};
    void *state = NULL;
    int rc = mill_model_spec_parse(raw, true, &spec, &err);
    const struct mill_backend_ops *ops = NULL;
    if (!rc && !(ops = mill_backend_find(spec.type)))
        ops = mill_backend_for_hf_id();
    if (!rc && !ops)
        rc = mill_err_set(&err, MILL_EINVAL, "model spec '%s': unknown backend '%s'", raw,
                          spec.type);
    if (!rc)
        rc = ops->open(&spec, &state, &err);
    if (rc && ops)
        mill_backend_hint(spec.type, &err);
    if (!rc) {
        ops->caps(state, caps);
        if (!(*name = strdup(ops->model_name(state))))
            rc = mill_err_set(&err, MILL_ENOMEM, "out of memory");
        ops->close(state);
    }
    mill_spec_free(&spec);
    if (rc)
        return mill_cli_error(
            rc == MILL_ENOMEM || rc == MILL_EIO ? MILL_EXIT_FAIL : MILL_EXIT_USAGE, "%s", err.msg);
    return 0;
}

/* Whether `mill eval` would find the job finished (BEHAVIOUR.md §2.4): its provenance file says
 * finished for the workers' seed (eval's default, 42) and this run's --limit, so a --limit smoke
 * run does not pass for a full one, with no failed sample (eval would answer those again);
 * without a provenance file (an aggregate.csv from elsewhere), an aggregate row for it. */
static bool completed_as(const struct sched *s, const struct mill_aggregate_table *t,
                         const struct job *j, const char *model) {
    char *path = mill_job_file(s->out_dir, model, j->task, j->n_shot, ".json");
    struct mill_provenance_state st = {0};
    if (path)
        mill_provenance_read(path, &st);
    free(path);
    if (st.found)
        return mill_provenance_finished(&st, WORKER_SEED, s->limit) && st.n_failed == 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].n_shot == j->n_shot && !strcmp(t->rows[i].model, model) &&
            !strcmp(t->rows[i].task, j->task))
            return true;
    return false;
}

/* completed_as for the job's model, or for each file of its sweep. */
static bool completed(const struct sched *s, const struct mill_aggregate_table *t,
                      const struct job *j) {
    if (!j->sweep)
        return completed_as(s, t, j, j->model_name);
    for (size_t i = 0; i < j->sweep->n; i++)
        if (!completed_as(s, t, j, j->sweep->names[i]))
            return false;
    return true;
}

/* Whether the table has the job already (a task named twice, or in two benchmarks given, a
 * model given twice). A sweep's job is the same only as the same sweep's (its files' names are
 * not the plain name a job of one file has). */
static bool listed(const struct sched *s, const struct job *j) {
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *o = &s->jobs[i];
        bool same_model = o->sweep || j->sweep ? !strcmp(o->model_path, j->model_path)
                                               : !strcmp(o->model_name, j->model_name);
        if (o->n_shot == j->n_shot && same_model && !strcmp(o->task, j->task))
            return true;
    }
    return false;
}

static int add_job(struct sched *s, size_t *cap, const struct job *j) {
    if (mill_grow(&s->jobs, cap, s->n_jobs, sizeof *s->jobs, 64))
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    s->jobs[s->n_jobs++] = *j;
    return 0;
}

/* Model i's name and capabilities (those of its first file, for a sweep) and, for a sweep,
 * its files' model names. */
static int model_names(struct sched *s, size_t i, struct mill_backend_caps *caps) {
    char **items = NULL;
    size_t k = 0;
    struct mill_err err = {0};
    int rc = 0;
    if (!mill_model_config_named(s->specs[i]) && mill_spec_sweep(s->specs[i], &items, &k, &err))
        return mill_cli_error(err.code == MILL_ENOMEM ? MILL_EXIT_FAIL : MILL_EXIT_USAGE, "%s",
                              err.msg);
    rc = model_info(k ? items[0] : s->specs[i], &s->names[i], caps);
    struct sweep *sw = &s->sweeps[i];
    if (!rc && k > 1 && !(sw->names = calloc(k, sizeof *sw->names)))
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    for (size_t h = 0; !rc && k > 1 && h < k; h++) {
        struct mill_model_spec one;
        if (mill_model_spec_parse(items[h], false, &one, &err)) {
            rc = mill_cli_error(MILL_EXIT_USAGE, "%s", err.msg);
            break;
        }
        if (!(sw->names[h] = mill_spec_sweep_name(s->names[i], &one)))
            rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
        sw->n += !rc;
        mill_spec_free(&one);
    }
    mill_strv_free(items, k);
    return rc;
}

/* The jobs of model i: its tasks (benchmarks expanded for its backend) x n_shots, less the
 * completed ones and those eval would refuse (counted in n_refused). */
static int model_jobs(struct sched *s, size_t i, char **tasks, size_t n_tasks,
                      const struct mill_aggregate_table *done, size_t *cap) {
    struct mill_backend_caps caps;
    int rc = model_names(s, i, &caps);
    for (size_t t = 0; !rc && t < n_tasks; t++) {
        const struct mill_task_config **tc = NULL;
        size_t n = 0;
        struct mill_err err = {0};
        if (mill_resolve_name(s->reg, tasks[t], &caps, &tc, &n, &err))
            rc = mill_cli_error(err.code == MILL_ENOMEM ? MILL_EXIT_FAIL : MILL_EXIT_USAGE, "%s",
                                err.msg);
        if (!rc && n == 0) {
            MILL_WARN(MOD, "benchmark '%s': no task matches the capabilities of %s ('%s'): no job",
                      tasks[t], caps.class_name, s->names[i]);
            s->n_refused++;
        }
        for (size_t k = 0; !rc && k < n; k++) {
            /* a job eval would refuse at once is not submitted (a list of models of several
             * kinds gets each the tasks it can serve) */
            if (mill_check_supported(&caps, s->names[i], tc[k], &err)) {
                MILL_WARN(MOD, "%s: no job", err.msg);
                s->n_refused++;
                continue;
            }
            for (size_t h = 0; !rc && h < s->n_shots; h++) {
                const struct sweep *sw = s->sweeps[i].n ? &s->sweeps[i] : NULL;
                struct job j = {s->specs[i], s->names[i], tc[k]->name, s->shots[h], sw};
                if (!listed(s, &j) && !completed(s, done, &j))
                    rc = add_job(s, cap, &j);
            }
        }
        free(tc);
    }
    return rc;
}

/* Rows in pandas' sample(frac=1, random_state=42) order. */
static int shuffle_jobs(struct sched *s) {
    size_t *perm = malloc((s->n_jobs ? s->n_jobs : 1) * sizeof *perm);
    struct job *out = malloc((s->n_jobs ? s->n_jobs : 1) * sizeof *out);
    if (!perm || !out) {
        free(perm);
        free(out);
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    }
    struct mill_nprandom r;
    mill_nprandom_seed(&r, SHUFFLE_SEED);
    mill_nprandom_permutation(&r, perm, s->n_jobs);
    for (size_t i = 0; i < s->n_jobs; i++)
        out[i] = s->jobs[perm[i]];
    free(s->jobs);
    s->jobs = out;
    free(perm);
    return 0;
}

static int build_jobs(struct sched *s) {
    struct mill_err err = {0};
    if (mill_registry_init(&s->reg, &err))
        return mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    int rc = mill_cli_load_task_paths(s->reg, s->task_paths);
    char **tasks = NULL;
    size_t n_tasks = 0, cap = 0;
    if (!rc && (mill_spec_split(s->models, &s->specs, &s->n_specs, &err) ||
                mill_spec_split(s->tasks, &tasks, &n_tasks, &err)))
        rc = mill_cli_error(MILL_EXIT_USAGE, "%s", err.msg);
    if (!rc && (!(s->names = calloc(s->n_specs ? s->n_specs : 1, sizeof *s->names)) ||
                !(s->sweeps = calloc(s->n_specs ? s->n_specs : 1, sizeof *s->sweeps))))
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    struct mill_aggregate_table done;
    mill_aggregate_table_init(&done);
    char *agg = NULL;
    if (!rc && asprintf(&agg, "%s/aggregate.csv", s->out_dir) < 0)
        rc = mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    if (!rc && mill_aggregate_read(&done, agg, &err))
        rc = mill_cli_error(MILL_EXIT_FAIL, "%s", err.msg);
    for (size_t i = 0; !rc && i < s->n_specs; i++)
        rc = model_jobs(s, i, tasks, n_tasks, &done, &cap);
    if (!rc)
        rc = shuffle_jobs(s);
    free(agg);
    mill_aggregate_table_free(&done);
    mill_strv_free(tasks, n_tasks);
    return rc;
}

/* ---- outputs ---- */

/* A CSV field as pandas' to_csv writes it (quoted only when needed). */
static void add_csv_field(struct mill_buf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        mill_buf_adds(b, s);
        return;
    }
    mill_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            mill_buf_addc(b, '"');
        mill_buf_addc(b, *s);
    }
    mill_buf_addc(b, '"');
}

static void add_abbr(struct mill_buf *b, const char *name) {
    for (; *name; name++)
        if (*name == '/')
            mill_buf_adds(b, "__");
        else
            mill_buf_addc(b, *name);
}

static int jobs_csv(const struct sched *s, struct mill_buf *b) {
    mill_buf_adds(b, "model_abbr,model_path,tasks,n_shot\n");
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        struct mill_buf abbr = {0};
        add_abbr(&abbr, j->model_name);
        add_csv_field(b, abbr.p ? abbr.p : "");
        mill_buf_free(&abbr);
        mill_buf_addc(b, ',');
        add_csv_field(b, j->model_path);
        mill_buf_addc(b, ',');
        add_csv_field(b, j->task);
        mill_buf_addf(b, ",%lld\n", (long long)j->n_shot);
    }
    return b->p ? 0 : mill_cli_error(MILL_EXIT_FAIL, "out of memory");
}

/* A POSIX-shell single-quoted word. */
static void add_sh_word(struct mill_buf *b, const char *s) {
    mill_buf_addc(b, '\'');
    for (; *s; s++)
        if (*s == '\'')
            mill_buf_adds(b, "'\\''");
        else
            mill_buf_addc(b, *s);
    mill_buf_addc(b, '\'');
}

/* The worker's argument vector for job j (NULL-terminated; strings borrowed from s and num). */
static size_t worker_argv(const struct sched *s, const struct job *j, char *lim, char *num,
                          const char *argv[16]) {
    size_t n = 0;
    argv[n++] = "mill";
    argv[n++] = "--output_dir";
    argv[n++] = s->out_dir;
    argv[n++] = "--cache_dir";
    argv[n++] = s->cache_dir;
    if (s->limit >= 0) {
        argv[n++] = "--limit";
        argv[n++] = lim;
    }
    if (s->log_level) {
        argv[n++] = "--log_level";
        argv[n++] = s->log_level;
    }
    argv[n++] = "eval";
    argv[n++] = j->model_path;
    argv[n++] = j->task;
    argv[n++] = "--n_shot";
    argv[n++] = num;
    if (s->task_paths) {
        argv[n++] = "--task_paths";
        argv[n++] = s->task_paths;
    }
    argv[n] = NULL;
    return n;
}

/* The flags worker_argv writes: plain words, written unquoted (and harmless if an argument
 * happens to equal one). */
static bool is_literal_word(const char *w) {
    static const char *const words[] = {"--output_dir", "--cache_dir", "--limit",     "--log_level",
                                        "eval",         "--n_shot",    "--task_paths"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strcmp(w, words[i]))
            return true;
    return false;
}

/* One worker command line for the sbatch script. */
static void add_worker_line(struct mill_buf *b, const struct sched *s, const struct job *j) {
    char lim[32], num[32];
    snprintf(lim, sizeof lim, "%lld", (long long)s->limit);
    snprintf(num, sizeof num, "%lld", (long long)j->n_shot);
    const char *argv[16];
    size_t n = worker_argv(s, j, lim, num, argv);
    add_sh_word(b, s->exe);
    for (size_t i = 1; i < n; i++) {
        mill_buf_addc(b, ' ');
        /* only the literal flags go bare: a spec or task may start with '-' */
        if (argv[i] == num || argv[i] == lim || is_literal_word(argv[i]))
            mill_buf_adds(b, argv[i]);
        else
            add_sh_word(b, argv[i]);
    }
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Mill's _compute_array_size. */
static int64_t array_size(const struct sched *s, int64_t in_queue) {
    int64_t total = (int64_t)s->n_jobs;
    int64_t remaining = mill_cluster_num(s->cl, MILL_CL_QUEUE, 100) - in_queue;
    int64_t for_time = ceil_div(total * s->minutes, MAX_MINUTES_PER_JOB);
    int64_t want = mill_cluster_num(s->cl, MILL_CL_ARRAY, 50);
    if (want > total)
        want = total;
    if (want < for_time)
        want = for_time;
    if (remaining < 1)
        remaining = 1;
    if (want > remaining)
        want = remaining;
    return want < total ? want : total;
}

/* Mill's _compute_time_limit: HH:MM:00. */
static void time_limit(const struct sched *s, int64_t array, char out[16]) {
    int64_t m = ceil_div((int64_t)s->n_jobs, array) * s->minutes;
    if (m > MAX_MINUTES_PER_JOB)
        m = MAX_MINUTES_PER_JOB;
    snprintf(out, 16, "%02d:%02d:00", (int)(m / 60), (int)(m % 60));
}

static void sbatch_header(struct mill_buf *b, const struct sched *s, int64_t array, const char *tl,
                          const char *logs) {
    const struct mill_cluster *c = s->cl;
    int64_t gpus = mill_cluster_num(c, MILL_CL_GPUS, 1);
    mill_buf_addf(b, "#!/bin/bash\n#SBATCH --job-name=mill-eval\n#SBATCH --time=%s\n", tl);
    /* gpus_per_node: 0 is a CPU-only cluster: no gres, and memory per task (mem). */
    if (gpus > 0 && mill_cluster_str(c, MILL_CL_GPU_TYPE, NULL))
        mill_buf_addf(b, "#SBATCH --gres=gpu:%s:%lld\n", c->str[MILL_CL_GPU_TYPE], (long long)gpus);
    else if (gpus > 0)
        mill_buf_addf(b, "#SBATCH --gres=gpu:%lld\n", (long long)gpus);
    if (gpus > 0 && mill_cluster_str(c, MILL_CL_MEM_PER_GPU, NULL))
        mill_buf_addf(b, "#SBATCH --mem-per-gpu=%s\n", c->str[MILL_CL_MEM_PER_GPU]);
    else
        mill_buf_addf(b, "#SBATCH --mem=%s\n", mill_cluster_str(c, MILL_CL_MEM, "32G"));
    if (mill_cluster_num(c, MILL_CL_CPUS, -1) > 0)
        mill_buf_addf(b, "#SBATCH --cpus-per-task=%lld\n", (long long)c->num[MILL_CL_CPUS]);
    mill_buf_addf(b, "#SBATCH --output=%s/%%x-%%A-%%a.out\n", logs);
    mill_buf_addf(b, "#SBATCH --error=%s/%%x-%%A-%%a.err\n", logs);
    mill_buf_addf(b, "#SBATCH --partition=%s\n", mill_cluster_str(c, MILL_CL_PARTITION, "gpu"));
    if (mill_cluster_str(c, MILL_CL_ACCOUNT, NULL))
        mill_buf_addf(b, "#SBATCH --account=%s\n", c->str[MILL_CL_ACCOUNT]);
    mill_buf_addf(b, "#SBATCH --array=0-%lld%%%lld\n", (long long)array - 1,
                  (long long)mill_cluster_num(c, MILL_CL_ARRAY, 50));
}

static void sbatch_body(struct mill_buf *b, const struct sched *s, int64_t array, const char *csv) {
    const char *venv = s->venv && *s->venv ? s->venv : mill_cluster_str(s->cl, MILL_CL_VENV, NULL);
    mill_buf_addf(b, "\n# Written by `mill schedule` (cluster %s): %zu jobs, the rows of\n# ",
                  s->cl->name, s->n_jobs);
    mill_buf_adds(b, csv);
    mill_buf_addf(b,
                  "\n# in order; array task T runs the rows i (0-based, header excluded) with "
                  "i %% %lld == T.\nset -u\nARRAY_SIZE=%lld\nN_JOBS=%zu\n",
                  (long long)array, (long long)array, s->n_jobs);
    mill_buf_adds(b, "TASK_ID=${SLURM_ARRAY_TASK_ID:?not running as a SLURM array task}\n");
    if (venv) {
        mill_buf_adds(b, "source ");
        char *act = NULL;
        if (asprintf(&act, "%s/bin/activate", venv) >= 0)
            add_sh_word(b, act);
        free(act);
        mill_buf_adds(b, " || exit 1\n");
    }
    mill_buf_adds(b, "\nrun_job() {\n    case \"$1\" in\n");
    for (size_t i = 0; i < s->n_jobs; i++) {
        mill_buf_addf(b, "    %zu) ", i);
        add_worker_line(b, s, &s->jobs[i]);
        mill_buf_adds(b, " ;;\n");
    }
    mill_buf_adds(b, "    *) echo \"mill-eval: no job $1\" >&2; return 1 ;;\n    esac\n}\n\n"
                     "failed=0\n"
                     "for ((i = TASK_ID; i < N_JOBS; i += ARRAY_SIZE)); do\n"
                     "    echo \"mill-eval: job $i of $N_JOBS (array task $TASK_ID)\"\n"
                     "    run_job \"$i\" || { echo \"mill-eval: job $i failed\" >&2; "
                     "failed=1; }\n"
                     "done\n"
                     "echo \"mill-eval: array task $TASK_ID finished\"\n"
                     "exit $failed\n");
}

/* Characters as pandas counts them for widths (code points: UTF-8 bytes not continuation). */
static size_t pd_len(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* s right-justified to width w (left-justified with left), as str.rjust / str.ljust. */
static void pd_pad(struct mill_buf *b, const char *s, size_t w, bool left) {
    size_t n = pd_len(s);
    if (left)
        mill_buf_adds(b, s);
    for (; n < w; n++)
        mill_buf_addc(b, ' ');
    if (!left)
        mill_buf_adds(b, s);
}

/* A cell as pandas 1.5 formats an object value beside an index: a leading space, then the text
 * with tab, CR and LF escaped (pprint_thing). */
static void pd_cell(struct mill_buf *b, const char *s) {
    mill_buf_addc(b, ' ');
    for (; *s; s++) {
        const char *esc = *s == '\t' ? "\\t" : *s == '\r' ? "\\r" : *s == '\n' ? "\\n" : NULL;
        if (esc)
            mill_buf_adds(b, esc);
        else
            mill_buf_addc(b, *s);
    }
}

/* Python Mill's --dry_run: print(df.to_string(index=True)) of the jobs frame, as pandas 1.5
 * lays it out: the index left-justified, each column right-justified to its widest cell or
 * header (object cells and a numeric column's header with a leading space), columns one space
 * apart; an empty frame as pandas prints one. */
static int jobs_table(const struct sched *s, struct mill_buf *b) {
    static const char *const head[] = {"model_abbr", "model_path", "tasks", " n_shot"};
    if (!s->n_jobs)
        return mill_buf_adds(b, "Empty DataFrame\nColumns: [model_abbr, model_path, tasks, "
                                "n_shot]\nIndex: []\n")
                   ? mill_cli_error(MILL_EXIT_FAIL, "out of memory")
                   : 0;
    struct mill_buf *cell = calloc(s->n_jobs * 4, sizeof *cell);
    if (!cell)
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    size_t w[4];
    for (int c = 0; c < 4; c++)
        w[c] = pd_len(head[c]);
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        struct mill_buf abbr = {0};
        add_abbr(&abbr, j->model_name);
        pd_cell(&cell[4 * i], abbr.p ? abbr.p : "");
        mill_buf_free(&abbr);
        pd_cell(&cell[4 * i + 1], j->model_path);
        pd_cell(&cell[4 * i + 2], j->task);
        mill_buf_addf(&cell[4 * i + 3], "% lld", (long long)j->n_shot);
        for (int c = 0; c < 4; c++)
            if (cell[4 * i + c].p && pd_len(cell[4 * i + c].p) > w[c])
                w[c] = pd_len(cell[4 * i + c].p);
    }
    char idx[32]; /* the index's width: the digits of the largest label, n_jobs - 1 */
    size_t wi = (size_t)snprintf(idx, sizeof idx, "%zu", s->n_jobs - 1);
    pd_pad(b, "", wi, true);
    for (int c = 0; c < 4; c++) {
        mill_buf_addc(b, ' ');
        pd_pad(b, head[c], w[c], false);
    }
    mill_buf_addc(b, '\n');
    for (size_t i = 0; i < s->n_jobs; i++) {
        snprintf(idx, sizeof idx, "%zu", i);
        pd_pad(b, idx, wi, true);
        for (int c = 0; c < 4; c++) {
            mill_buf_addc(b, ' ');
            pd_pad(b, cell[4 * i + c].p ? cell[4 * i + c].p : "", w[c], false);
        }
        mill_buf_addc(b, '\n');
    }
    for (size_t i = 0; i < s->n_jobs * 4; i++)
        mill_buf_free(&cell[i]);
    free(cell);
    return b->p ? 0 : mill_cli_error(MILL_EXIT_FAIL, "out of memory");
}

static int print_table(const struct sched *s) {
    struct mill_buf b = {0};
    int rc = jobs_table(s, &b);
    if (!rc)
        fputs(b.p, stdout);
    mill_buf_free(&b);
    return rc;
}

/* Writes <cache>/jobs/jobs.csv; *path receives its path (malloc'd). */
static int write_jobs_csv(const struct sched *s, char **path) {
    char *dir = NULL;
    *path = NULL;
    if (asprintf(&dir, "%s/jobs", s->cache_dir) < 0 || asprintf(path, "%s/jobs.csv", dir) < 0) {
        free(dir);
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    }
    struct mill_buf b = {0};
    int rc = mkdir_p(dir);
    if (!rc)
        rc = jobs_csv(s, &b);
    if (!rc)
        rc = write_file(*path, b.p, b.n, 0644);
    mill_buf_free(&b);
    free(dir);
    return rc;
}

static int run_local(const struct sched *s) {
    char *csv = NULL;
    int rc = write_jobs_csv(s, &csv);
    if (!rc && mkdir_p(s->out_dir))
        rc = MILL_EXIT_FAIL;
    for (size_t i = 0; !rc && i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        char lim[32], num[32];
        snprintf(lim, sizeof lim, "%lld", (long long)s->limit);
        snprintf(num, sizeof num, "%lld", (long long)j->n_shot);
        const char *argv[16];
        worker_argv(s, j, lim, num, argv);
        MILL_INFO(MOD, "job %zu/%zu: %s %s %lld-shot", i + 1, s->n_jobs, j->model_name, j->task,
                  (long long)j->n_shot);
        int st = run_process("/proc/self/exe", (char *const *)argv, NULL, false);
        if (st != 0)
            rc = mill_cli_error(MILL_EXIT_FAIL,
                                "job %zu/%zu (%s, %s, %lld-shot) failed: "
                                "`mill eval` exited with status %d",
                                i + 1, s->n_jobs, j->model_name, j->task, (long long)j->n_shot, st);
    }
    if (!rc)
        printf("ran %zu jobs (jobs file %s)\n", s->n_jobs, csv);
    free(csv);
    return rc;
}

/* sbatch reads a #SBATCH line's value up to white space and expands '%' in file names: a value
 * holding either, or a control character (a newline would start a line of its own), cannot be
 * written there. */
static int sbatch_word(const char *what, const char *v, bool file) {
    for (const unsigned char *p = (const unsigned char *)v; v && *p; p++)
        if (*p <= ' ' || *p == 0x7f || (file && *p == '%'))
            return mill_cli_error(MILL_EXIT_FAIL,
                                  "%s '%s' holds white space%s or a control character, which a "
                                  "#SBATCH line cannot carry",
                                  what, v, file ? ", '%'" : "");
    return 0;
}

static int sbatch_words(const struct sched *s, const char *logs) {
    static const struct {
        int field;
        const char *name;
    } f[] = {{MILL_CL_GPU_TYPE, "gpu_type"},
             {MILL_CL_MEM_PER_GPU, "mem_per_gpu"},
             {MILL_CL_MEM, "mem"},
             {MILL_CL_PARTITION, "partition"},
             {MILL_CL_ACCOUNT, "account"}};
    int rc = sbatch_word("the cache directory (--cache_dir, MILL_CACHE_DIR)", logs, true);
    for (size_t i = 0; !rc && i < sizeof f / sizeof *f; i++) {
        char what[96];
        snprintf(what, sizeof what, "clusters.yaml: cluster %s: %s", s->cl->name, f[i].name);
        rc = sbatch_word(what, mill_cluster_str(s->cl, f[i].field, NULL), false);
    }
    return rc;
}

/* Writes submit.sbatch next to csv; *path receives its path (malloc'd). */
static int write_sbatch(const struct sched *s, const char *csv, int64_t array, const char *tl,
                        char **path) {
    char *logs = NULL;
    *path = NULL;
    if (asprintf(&logs, "%s/logs", s->cache_dir) < 0 ||
        asprintf(path, "%s/jobs/submit.sbatch", s->cache_dir) < 0) {
        free(logs);
        return mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    }
    int rc = sbatch_words(s, s->cache_dir);
    if (rc) {
        free(logs);
        return rc;
    }
    struct mill_buf b = {0};
    sbatch_header(&b, s, array, tl, logs);
    sbatch_body(&b, s, array, csv);
    rc = mkdir_p(logs);
    if (!rc)
        rc = b.p ? write_file(*path, b.p, b.n, 0755)
                 : mill_cli_error(MILL_EXIT_FAIL, "out of memory");
    mill_buf_free(&b);
    free(logs);
    return rc;
}

static int sbatch_submit(const char *script, struct mill_buf *out) {
    char *exe = find_on_path("sbatch");
    if (!exe)
        return mill_cli_error(MILL_EXIT_FAIL,
                              "sbatch not found on PATH: submit %s from a SLURM "
                              "login node, or use --local to run the jobs here",
                              script);
    char *argv[] = {"sbatch", (char *)script, NULL};
    int st = run_process(exe, argv, out, true);
    free(exe);
    if (st != 0)
        return mill_cli_error(MILL_EXIT_FAIL, "sbatch %s failed (status %d): %s", script, st,
                              out->p ? out->p : "");
    return 0;
}

static int submit(const struct sched *s) {
    int64_t in_queue = jobs_in_queue();
    int64_t array = array_size(s, in_queue);
    char tl[16], *csv = NULL, *script = NULL;
    time_limit(s, array, tl);
    int rc = write_jobs_csv(s, &csv);
    if (!rc)
        rc = write_sbatch(s, csv, array, tl, &script);
    struct mill_buf out = {0};
    if (!rc)
        rc = sbatch_submit(script, &out);
    if (!rc)
        printf("jobs: %zu (cluster %s, %lld in the queue)\narray size: %lld\n"
               "time limit: %s\njobs file: %s\nsbatch file: %s\n%s",
               s->n_jobs, s->cl->name, (long long)in_queue, (long long)array, tl, csv, script,
               out.p ? out.p : "");
    mill_buf_free(&out);
    free(csv);
    free(script);
    return rc;
}

static int run_schedule(const struct mill_args *a) {
    struct sched s = {0};
    int rc = read_options(a, &s);
    if (!rc)
        rc = load_cluster(&s, mill_arg(a, "cluster"));
    if (!rc)
        rc = build_jobs(&s);
    /* Python Mill's order: --local runs the jobs even with --dry_run */
    if (!rc && !s.n_jobs && s.n_refused) /* what is not refused is complete */
        rc = mill_cli_error(MILL_EXIT_FAIL,
                            "no job to run: %zu (model, task) pairs refused (see the warnings), "
                            "the rest complete",
                            s.n_refused);
    else if (!rc && (s.local || !s.dry_run) && !s.n_jobs)
        printf("All requested jobs already complete.\n");
    else if (!rc)
        rc = s.local ? run_local(&s) : s.dry_run ? print_table(&s) : submit(&s);
    sched_free(&s);
    return rc;
}

static const struct mill_opt schedule_opts[] = {
    {"n_shots", MILL_OPT_STR, "N,...", "comma-separated few-shot counts to sweep (0)"},
    {"cluster", MILL_OPT_STR, "NAME", "a cluster of clusters.yaml, or auto (hostname match)"},
    {"local", MILL_OPT_BOOL, NULL, "run every job here, one after another, without SLURM"},
    {"dry_run", MILL_OPT_BOOL, NULL,
     "print the job table (as pandas prints it) and submit nothing"},
    {"venv_path", MILL_OPT_STR, "DIR", "venv the workers activate"},
    {"extra_task_paths", MILL_OPT_STR, "PATHS", "plugin files or directories for the workers"},
    {"minutes_per_eval", MILL_OPT_INT, "M", "walltime budget per job in minutes (0 = 60)"},
};

static const char *const schedule_pos[] = {"models", "tasks", NULL};

const struct mill_command mill_cmd_schedule = {
    .name = "schedule",
    .summary = "Run models x tasks x n-shots as a SLURM job array (or locally), skipping "
               "finished jobs.",
    .usage = "schedule MODELS TASKS [--n_shots 0,5] [--cluster auto] [--local] [--dry_run]\n"
             "       [--venv_path DIR] [--extra_task_paths PATHS] [--minutes_per_eval M]\n\n"
             "  MODELS  comma-separated model specs (as for eval)\n"
             "  TASKS   comma-separated task or benchmark names; benchmarks expand to tasks\n\n"
             "Files: <cache_dir>/clusters.yaml, <cache_dir>/jobs/jobs.csv and submit.sbatch,\n"
             "<cache_dir>/logs/.",
    .positionals = schedule_pos,
    .opts = schedule_opts,
    .n_opts = sizeof schedule_opts / sizeof schedule_opts[0],
    .run = run_schedule,
};
