/* backends.h: the table of model backends and lookup by name or alias. */
#ifndef MILL_BACKEND_BACKENDS_H
#define MILL_BACKEND_BACKENDS_H

#include <mill/backend.h>

extern const struct mill_backend_ops mill_backend_replay;
extern const struct mill_backend_ops mill_backend_llama; /* only with MILL_HAVE_LLAMA */
extern const struct mill_backend_ops mill_backend_clip;  /* only with MILL_HAVE_LLAMA (ggml) */
extern const struct mill_backend_ops mill_backend_clap;  /* only with MILL_HAVE_LLAMA (ggml) */

/* The HTTP backends (openai.c, vllm.c on the engine of http.c). */
extern const struct mill_backend_ops mill_backend_openai;
extern const struct mill_backend_ops mill_backend_vllm;

/* One 2xx answer body of /completions (vllm) or /chat/completions (openai) read into q's
 * outputs as the backend's run reads it: 0, MILL_HTTP_RETRY (not JSON) or a MILL_E* with the
 * reason in why. For tests and fuzzing; q's outputs are the caller's to clear. */
int mill_vllm_read_answer(const char *body, size_t n, struct mill_request *q, char *why,
                          size_t why_n);
int mill_openai_read_answer(const char *body, size_t n, struct mill_request *q, char *why,
                            size_t why_n);

/* The backend registered under name or alias, else NULL. */
const struct mill_backend_ops *mill_backend_find(const char *type);
/* The backend bare Hugging Face ids resolve to (the llama backend), or NULL in a build
 * without it. */
const struct mill_backend_ops *mill_backend_for_hf_id(void);
/* After a spec whose type is no backend failed to open as a Hub model id: when the type has no
 * '/' (a misspelled backend more likely than an owner-less Hub id), appends to err's message
 * that it was read as a Hub id and which backends this build has. */
void mill_backend_hint(const char *type, struct mill_err *err);
/* For a backend whose path= is a checkpoint directory or a Hub repo: an error when path is a
 * file, or looks local ('/', "./", "../") and is no directory, instead of asking the Hub for a
 * repo of that name; 0 otherwise. */
int mill_backend_check_dir_path(const char *backend, const char *path, struct mill_err *err);
/* All backends, NULL-terminated. */
extern const struct mill_backend_ops *const mill_backends[];

#endif
