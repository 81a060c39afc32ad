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

void mill_backend_hint(const char *type, struct mill_err *err) {
    if (!type || strchr(type, '/') || mill_backend_find(type))
        return;
    size_t n = strlen(err->msg);
    int k = snprintf(err->msg + n, sizeof err->msg - n,
                     " ('%s' is no backend of this build, so it was read as a Hub model id; the "
                     "backends are",
                     type);
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
