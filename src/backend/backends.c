/* backends.c: the backend table: one line per backend file. */
#include "backend/backends.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const struct mill_backend_ops *const mill_backends[] = {
#ifdef MILL_HAVE_LLAMA
    &mill_backend_llama,
    &mill_backend_clip,
    &mill_backend_clap,
#endif
    &mill_backend_replay,
    &mill_backend_openai, /* HTTP: OpenAI-compatible chat APIs */
    &mill_backend_vllm,   /* HTTP: a vLLM server's completions */
    NULL,
};

const struct mill_backend_ops *mill_backend_find(const char *type) {
    for (size_t i = 0; mill_backends[i]; i++) {
        const struct mill_backend_ops *b = mill_backends[i];
        if (!strcmp(b->name, type))
            return b;
        for (const char *const *a = b->aliases; a && *a; a++)
            if (!strcmp(*a, type))
                return b;
    }
    return NULL;
}

const struct mill_backend_ops *mill_backend_for_hf_id(void) {
#ifdef MILL_HAVE_LLAMA
    return &mill_backend_llama;
#else
    return NULL;
#endif
}

/* The edit distance of a and b (insertions, deletions, substitutions, adjacent swaps), capped
 * at 9; both at most 31 bytes, else 9. */
static int distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 31 || m > 31)
        return 9;
    int d[32][32];
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            if (!i || !j) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            c = d[i - 1][j] + 1 < c ? d[i - 1][j] + 1 : c;
            c = d[i][j - 1] + 1 < c ? d[i][j - 1] + 1 : c;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[n][m] < 9 ? d[n][m] : 9;
}

/* The backend name or alias nearest to type within 2 edits (1 for names of 4 bytes or fewer),
 * or NULL. */
static const char *nearest(const char *type) {
    const char *best = NULL;
    int bd = strlen(type) <= 4 ? 2 : 3;
    for (size_t i = 0; mill_backends[i]; i++) {
        const struct mill_backend_ops *b = mill_backends[i];
        int dn = distance(type, b->name);
        if (dn < bd)
            bd = dn, best = b->name;
        for (const char *const *a = b->aliases; a && *a; a++)
            if ((dn = distance(type, *a)) < bd)
                bd = dn, best = *a;
    }
    return best;
}

void mill_backend_hint(const char *type, struct mill_err *err) {
    if (!type || strchr(type, '/') || mill_backend_find(type))
        return;
    size_t n = strlen(err->msg);
    const char *near = nearest(type);
    if (near) {
        int k = snprintf(err->msg + n, sizeof err->msg - n, " (did you mean '%s'?", near);
        if (k > 0 && (n += (size_t)k) >= sizeof err->msg)
            return;
    }
    int k = snprintf(err->msg + n, sizeof err->msg - n,
                     "%s'%s' is no backend of this build, so it was read as a Hub model id; the "
                     "backends are",
                     near ? " " : " (", type);
    for (size_t i = 0; mill_backends[i] && k > 0 && (n += (size_t)k) < sizeof err->msg; i++)
        k = snprintf(err->msg + n, sizeof err->msg - n, "%s %s", i ? "," : "",
                     mill_backends[i]->name);
    if (k > 0 && (n += (size_t)k) < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - n, ")");
}

int mill_backend_check_dir_path(const char *backend, const char *path, struct mill_err *err) {
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode))
        return mill_err_set(err, MILL_EINVAL,
                            "%s: path=%s is a file; it takes a checkpoint directory or a Hub repo",
                            backend, path);
    if (!exists && (path[0] == '/' || !strncmp(path, "./", 2) || !strncmp(path, "../", 3)))
        return mill_err_set(err, MILL_ENOTFOUND, "%s: checkpoint directory %s does not exist",
                            backend, path);
    return 0;
}
