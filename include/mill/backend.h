/* backend.h: requests and the model backend interface (ARCHITECTURE.md §1).
 *
 * Backends see only requests. They declare what they can serve (request kinds, task types,
 * modalities, log-prob support) so the runner rejects an unsupported task before any download;
 * every speed trick (KV reuse, batching, cached zero-shot heads) lives inside a backend. */
#ifndef MILL_BACKEND_H
#define MILL_BACKEND_H

#include "doc.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mill_req_kind {
    MILL_REQ_LOGLIK = 0, /* context + continuation -> summed log-prob, is_greedy */
    MILL_REQ_ROLLING,    /* text -> summed log-prob over all tokens, token count */
    MILL_REQ_GENERATE,   /* context, max tokens, stop strings -> text */
    MILL_REQ_CLASSIFY,   /* media + labels + templates -> one score per label */
};

struct mill_request {
    /* Input (borrowed from the runner for the duration of run()). */
    enum mill_req_kind kind;
    const char *task;         /* task name */
    int64_t doc_id;           /* index in the evaluation split */
    const char *context;      /* full prompt: instruction + few-shot block + query */
    const char *continuation; /* LOGLIK */
    int max_new_tokens;       /* GENERATE */
    const char *const *stop;  /* GENERATE: NULL-terminated, may be NULL */
    const struct mill_media *media;
    size_t n_media;
    const char *const *labels; /* CLASSIFY */
    size_t n_labels;
    const char *const *templates; /* CLASSIFY: "{c}" slot; NULL = backend default */
    size_t n_templates;
    /* Output (filled by the backend). */
    int status;          /* 0 ok, or a MILL_E* for this request alone */
    char *error;         /* malloc'd message when status != 0 */
    double logprob;      /* LOGLIK, ROLLING: summed natural-log probability */
    bool is_greedy;      /* LOGLIK */
    int64_t n_tokens;    /* LOGLIK: continuation tokens; ROLLING: scored tokens */
    int64_t n_truncated; /* tokens dropped by left truncation */
    char *text;          /* GENERATE: malloc'd, valid UTF-8, NUL-terminated; it may also hold */
    size_t text_len;     /* NUL bytes (a model's byte token <0x00>): text_len is its length */
    double *scores;      /* CLASSIFY: malloc'd, n_labels entries */
    /* The backend's own, from prepare to run (tokens, say); prep_free releases it. */
    void *prep;
    void (*prep_free)(void *prep);
};

/* Frees the outputs of a request (text, scores, error) and what prepare left, and resets them. */
MILL_API void mill_request_clear_output(struct mill_request *r);
/* Sets a GENERATE request's answer as Python Mill has it: s[0..n) decoded as Python decodes it
 * (each ill-formed UTF-8 subpart one U+FFFD), then cut where its earliest stop string begins.
 * 0 or MILL_ENOMEM. */
MILL_API int mill_request_set_text(struct mill_request *r, const char *s, size_t n);
/* Sets a per-request error (printf-style). */
MILL_API void mill_request_fail(struct mill_request *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct mill_backend_caps {
    unsigned req_kinds;  /* bits 1u << MILL_REQ_* */
    unsigned task_types; /* bits 1u << MILL_TASK_* the backend class serves */
    unsigned modalities; /* MILL_MOD_* bits */
    bool supports_logprobs;
    int64_t max_context_length;
    const char *class_name; /* as in Mill's messages: "LlamaModel", "CLIPModel", ... */
};

/* A parsed model spec: `name[k=v,...]`. */
struct mill_model_spec {
    char *raw;              /* the spec as given */
    char *type;             /* text before '[' (trimmed) */
    struct mill_value args; /* MILL_V_STRUCT of coerced values (bool, int, float, str) */
    const char *cache_dir;  /* borrowed: where the backend keeps derived data (model digests,
                               * zero-shot heads); set by the runner from --cache_dir; NULL =
                               * ~/.cache/mill */
    int64_t seed;           /* the run's --seed, set by the runner (Python Mill seeds numpy's
                               * global state with it at each task's start: clap's crops) */
};

/* One argument a backend takes in its spec (`name[key=value,...]`). A backend lists them in a
 * table ending with {NULL}; the table parses a spec into the backend's own struct
 * (mill_spec_apply_args), refuses unknown keys, and is what `mill eval --help` prints. */
enum mill_arg_type {
    MILL_ARG_STR,     /* char * field, malloc'd (mill_spec_free_args frees it) */
    MILL_ARG_INT,     /* int64_t field, checked against [min, max] */
    MILL_ARG_BOOL,    /* bool field; true/false, or 1/0 */
    MILL_ARG_CUSTOM,  /* no field: the backend reads the value itself (several forms); its
                       * default is documentation only */
    MILL_ARG_IGNORED, /* accepted for compatibility with Mill's spec, and ignored */
};

struct mill_backend_arg {
    const char *name;
    enum mill_arg_type type;
    size_t offset; /* offsetof the field in the backend's struct (STR, INT, BOOL) */
    /* The default, as text, stored in the field when the key is absent ("16", "true", "a photo
     * of a {c}."). One in parentheses ("(CPUs)") is computed by the backend: the field keeps
     * what the backend put there before applying. NULL: none (a STR field stays NULL). */
    const char *def;
    const char *doc;  /* one line for `mill eval --help` and the README */
    int64_t min, max; /* INT: the accepted range */
};

struct mill_backend_ops {
    const char *name;                    /* registry name */
    const char *const *aliases;          /* NULL-terminated, may be NULL */
    const struct mill_backend_arg *args; /* its arguments, ending with {NULL} */
    /* Parses arguments only: nothing is downloaded or loaded. *state is the backend's. */
    int (*open)(const struct mill_model_spec *spec, void **state, struct mill_err *err);
    /* What the backend serves; valid right after open. */
    void (*caps)(void *state, struct mill_backend_caps *out);
    /* The model name used in outputs ("Qwen/Qwen3-0.6B-Base", "ViT-B-32/laion2b..."). */
    const char *(*model_name)(void *state);
    /* Downloads and loads the weights (called once, only when some task is pending). */
    int (*load)(void *state, struct mill_err *err);
    /* Answers n requests in place. A failure of one request goes into that request's
     * status; a non-zero return means the backend itself is broken (the task stops, the batch
     * is dropped). MILL_EHALTED says it cannot go on (a server refused the key, say) but has
     * put every request's outcome in it, an answer or its own error: the runner writes the
     * batch, then stops. */
    int (*run)(void *state, struct mill_request *reqs, size_t n, struct mill_err *err);
    /* Optional work on a batch before run (tokenisation, request preparation), kept in each
     * request's prep. The runner calls it after load, on its own thread, while run answers the
     * previous batch on another (the pipeline of ARCHITECTURE.md §1): it must be safe to call
     * concurrently with run. A request prepare fails is failed in its status; run still gets
     * it. May be NULL. */
    int (*prepare)(void *state, struct mill_request *reqs, size_t n, struct mill_err *err);
    /* Appends backend facts for the provenance file (a JSON object's members, no braces),
     * e.g. "\"model_sha256\":\"...\"". Called once at the end of each job, so work counters
     * may report what was done since the previous call. May be NULL. */
    int (*provenance)(void *state, struct mill_buf *out);
    void (*close)(void *state); /* NULL-safe on state */
};

#ifdef __cplusplus
}
#endif

#endif
