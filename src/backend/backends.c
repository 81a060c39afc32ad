/* backends.c: the backend table: one line per backend file. */
#include "backend/backends.h"

#include <stdio.h>
#include <string.h>

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
