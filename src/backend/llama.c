/* llama.c: the `llama` backend: GGUF language models through llama.cpp's C API (BEHAVIOUR.md §7.1).
 *
 * LOGLIK requests are grouped by their context tokens; a batch of groups shares the longest
 * common token prefix, kept in sequence 0 of the KV cache and copied (llama_memory_seq_cp) to
 * one sequence per group, so a 5-shot block common to every question of a subject is decoded
 * once. Each group's suffix is decoded in one llama_decode with a logit only on its last token,
 * which scores every one-token continuation (MMLU's " A".." D") at once; longer continuations
 * get their own sequences. GENERATE decodes several sequences together, greedily, with stop
 * strings checked on the accumulated bytes; a request with images has them decoded into its
 * sequence through the model's projector first (llama_media.c). LOGLIK requests with media
 * are scored in sequence 1 (loglik_media): the generation prompt, then the continuation as the
 * answer. ROLLING follows lm-eval's rolling windows (media refused). LOGLIK tokens come from
 * llama_tok.c (shared pieces, equal to whole texts).
 * With llama_media.c, llama_tok.c and llama_rpc.c, the only file that includes llama.h; it
 * knows requests, not tasks. */
#include "backend/backends.h"
#include "backend/llama_chat.h"
#include "backend/llama_convert.h"
#include "backend/llama_media.h"
#include "backend/llama_rpc.h"
#include "backend/llama_tok.h"

#include "core/array.h"
#include "core/hashcache.h"
#include "core/log.h"
#include "core/spec.h"
#include "core/stats.h"
#include "core/text.h"
#include "core/thread.h"
#include "data/hub.h"

#include <mill/buf.h>

#include <llama.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Threads prepare may use at most (the calling one included). */
#define PREP_THREADS 8

struct llm {
    /* Arguments. */
    char *name;  /* model name in outputs: the spec's path or repo */
    char *path;  /* local .gguf or Hub repo */
    bool picked; /* path is the GGUF picked from the directory path= named */
    char *file, *quant, *dtype, *revision, *chat_template;
    char *rpc_arg;          /* rpc= as given */
    char *mmproj_arg;       /* mmproj= as given */
    char *tokenize;         /* tokenize=: "pieces" (default) or "whole" */
    char *encode_ahead_arg; /* encode_ahead=: "auto" (default), "on" or "off" */
    char *cache_dir;        /* Mill's cache directory (model digests), or NULL */
    char **rpc;             /* llama.cpp RPC servers, "host:port" */
    size_t n_rpc;
    int64_t max_ctx, n_seq, threads, n_gpu_layers;
    bool gpu_auto; /* n_gpu_layers not given and no rpc: every layer where a GPU is found */
    bool use_chat_template;
    bool naive; /* score every LOGLIK request alone from an empty cache */
    int fa_arg; /* flash_attn=: FA_AUTO, FA_ON or FA_OFF */
    /* Where the files are, found at open (a listing, no download): a Hub model's repo and the
     * files chosen in it; hub_why says why none was found, reported at load. */
    struct mill_hub_listing hub_l;
    char *hub_repo, *hub_why;
    const struct mill_hub_file *hub_gguf, *hub_mmproj;
    char *mmproj; /* local projector (found beside the model, given, or downloaded) */
    /* A transformers checkpoint with no GGUF (a local directory, or the Hub repo hub_repo when
     * hub_ckpt): converted into the cache at load (llama_convert.h). */
    bool ckpt_dir, hub_ckpt;
    struct mill_hf_conversion conv;
    unsigned modalities; /* MILL_MOD_*: text, plus what the projector offers */
    /* Loaded state. */
    char *gguf; /* resolved local file */
    char sha256[65], mmproj_sha256[65];
    struct mill_mm *mm;     /* the projector, when there is one */
    struct mill_chat *chat; /* the GGUF's chat template as Jinja, or NULL (llama.cpp's matcher) */
    bool encode_ahead;      /* prepare encodes media (encode_ahead=, decided at load) */
    llama_token *mm_head;   /* media prompts' opening, held by sequence 0 */
    int n_mm_head;
    struct mill_tok *tok;           /* (context, continuation) tokenisation, pieces shared */
    pthread_mutex_t tok_lock;       /* tok: prepare and run may be on two threads */
    struct mill_tok_stats tok_seen; /* its counters (and tok_more's) at the last provenance */
    /* prepare's other tokenisers, one per extra thread (prepare_batch), each with its own
     * pieces and verified windows; only prepare uses them. */
    struct mill_tok *tok_more[PREP_THREADS - 1];
    int n_tok_more;
    atomic_bool running;     /* run is answering a batch (on the runner's worker thread) */
    long long n_prep_sliced; /* batches prepare cut into slices since the last provenance */
    struct mill_mm_stats mst;
    struct llama_model *model;
    struct llama_context *ctx;
    int ctx_fa; /* how ctx was created: FA_OFF, FA_AUTO (llama.cpp decides) or
                             * FA_ON */
    const struct llama_vocab *vocab;
    llama_memory_t mem;
    int n_vocab;
    int n_ctx;                 /* per-sequence limit (tokens) */
    atomic_bool warned_budget; /* said once that a generation budget crowds the prompt out */
    int kv_size;               /* unified KV cells */
    int n_batch;
    int n_ubatch; /* the context's micro-batch */
    struct llama_batch batch;
    llama_token *cached; /* tokens held by sequence 0 */
    int n_cached, cap_cached;
    /* Work since the last provenance record (one job's): llama_decode calls, the tokens they
     * decoded, seconds inside them, seconds loading the model and context. */
    long long n_decodes, n_tokens;
    double decode_s, load_s, run_s; /* run_s: inside run (decodes and the scoring around them) */
    unsigned fa_used;               /* bit 1 << ctx_fa for each kind of context that decoded */
};

/* flash_attn=auto lets llama.cpp use flash attention wherever the device holding the cache
 * supports it, for scoring and generation alike (measured: MMLU 5-shot 1.2x faster end to end
 * at 0.6B parameters, 1.5-1.9x at 40M, on 2 CPU cores; bench/RESULTS.md). Its reduced-precision
 * accumulation follows the KV cells' layout, so log-probs move by up to ~5e-3 with the batch
 * composition; off makes scoring equal naive=true to ~1e-6 whatever the batching. */
enum { FA_AUTO, FA_ON, FA_OFF };
static const char *const fa_names[] = {"auto", "on", "off"};

/* ---- llama.cpp logging through ours --------------------------------------------------- */

/* llama.cpp's error lines on this thread since the caller emptied it (it logs on the thread
 * that called it; the runner's worker decodes while the main thread prepares), the first one
 * (the specific reason: "invalid n_rot: 16, expected 21") first, then "; " and the later ones
 * (the generic "failed to load model") as room allows: for the message of a failed call. */
static _Thread_local char last_llama_error[768];

static void llama_log_cb(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (!n)
        return;
    size_t k = strlen(last_llama_error);
    if (level == GGML_LOG_LEVEL_ERROR && k + 3 < sizeof last_llama_error)
        snprintf(last_llama_error + k, sizeof last_llama_error - k, "%s%.*s", k ? "; " : "", (int)n,
                 text);
    if (mill_log_get_level() <= MILL_LOG_DEBUG)
        MILL_DEBUG("llama.cpp", "%.*s", (int)n, text);
}

/* The model file being loaded or run, for on_ggml_abort's message (set before any llama.cpp
 * call on it; a fixed buffer, read by a handler that may not allocate). */
static char abort_model[1024];

/* ggml aborts on what it cannot recover from (an RPC server that went away mid-run, a failed
 * allocation, a model whose metadata contradicts its tensors). Samples are on disk up to the
 * last finished batch; say so, naming the model file, and exit instead of ggml's default
 * backtrace. Runs on whichever thread failed, once (a second thread that fails meanwhile
 * waits for the exit): only async-signal-safe calls. */
static void on_ggml_abort(const char *msg) {
    static atomic_flag once = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&once))
        for (;;)
            pause();
    static const char tail[] = "\nmill: samples already written, if any, are kept; a model file "
                               "that is corrupt or hand-edited must be replaced, else once the "
                               "cause is fixed run the same command again to resume\n";
    static const char head[] = "mill: llama.cpp stopped the run";
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1);
    if (abort_model[0]) {
        w += write(STDERR_FILENO, " on ", 4);
        w += write(STDERR_FILENO, abort_model, strlen(abort_model));
    }
    w += write(STDERR_FILENO, ": ", 2);
    w += write(STDERR_FILENO, msg, strlen(msg));
    w += write(STDERR_FILENO, tail, sizeof tail - 1);
    (void)w;
    _exit(1);
}

/* ---- arguments ------------------------------------------------------------------------- */

/* clang-format off */
#define F(x) offsetof(struct llm, x)
static const struct mill_backend_arg llama_args[] = {
    {"path", MILL_ARG_STR, F(path), NULL, "local .gguf file, transformers checkpoint directory "
     "or Hub repo (or give it as the spec's name)", 0, 0},
    {"file", MILL_ARG_STR, F(file), NULL, "the GGUF file to take from a Hub repo", 0, 0},
    {"quant", MILL_ARG_STR, F(quant), NULL, "pick the GGUF file by quantisation tag (Q4_K_M); "
     "Q8_0 also converts a checkpoint", 0, 0},
    {"dtype", MILL_ARG_STR, F(dtype), "(bfloat16)", "pick the GGUF file, or convert a "
     "checkpoint, by type: bfloat16, float16, float32", 0, 0},
    {"revision", MILL_ARG_STR, F(revision), NULL, "Hub revision (branch, tag or commit)", 0, 0},
    {"max_context_length", MILL_ARG_INT, F(max_ctx), "4096", "tokens per sequence; longer "
     "prompts are cut on the left", 16, INT32_MAX},
    {"batch_size", MILL_ARG_CUSTOM, 0, "16", "sequences per decode, 1-254 (auto = 16)", 0, 0},
    {"threads", MILL_ARG_INT, F(threads), "(CPUs)", "CPU threads", 1, 4096},
    {"n_gpu_layers", MILL_ARG_INT, F(n_gpu_layers), "(999 with a GPU or rpc; else 0)",
     "layers offloaded to GPUs or RPC servers", -1, INT32_MAX},
    {"use_chat_template", MILL_ARG_BOOL, F(use_chat_template), "false", "wrap prompts in the "
     "model's chat template (rendered as Jinja, as transformers does)", 0, 0},
    {"chat_template", MILL_ARG_STR, F(chat_template), NULL, "a named llama.cpp chat template "
     "(chatml, llama3, ...), applied by llama.cpp's matcher; implies use_chat_template", 0, 0},
    {"naive", MILL_ARG_BOOL, F(naive), "false", "score every request alone from an empty "
     "cache: the reference path", 0, 0},
    {"rpc", MILL_ARG_STR, F(rpc_arg), NULL, "llama.cpp RPC servers, host:port;host:port", 0, 0},
    {"mmproj", MILL_ARG_STR, F(mmproj_arg), NULL, "multimodal projector: a local .gguf or a file "
     "of the model's Hub repo (default: the mmproj*.gguf beside the model, by dtype/quant; "
     "none: text only)", 0,
     0},
    {"tokenize", MILL_ARG_STR, F(tokenize), "pieces", "pieces or whole: log-likelihood contexts "
     "built from shared pieces where provably equal, or every text tokenised whole", 0, 0},
    {"encode_ahead", MILL_ARG_STR, F(encode_ahead_arg), "auto", "auto, on or off: encode the "
     "next batch's media while this one generates; auto: when the projector is on a GPU", 0,
     0},
    {"flash_attn", MILL_ARG_CUSTOM, 0, "auto", "auto, on or off (true/false): llama.cpp's "
     "flash attention; auto uses it wherever the device supports it, scoring included "
     "(log-probs within ~5e-3 of off)", 0, 0},
    {"device_map", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's transformers specs", 0, 0},
    {"trust_remote_code", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's transformers specs",
     0, 0},
    {"attn_implementation", MILL_ARG_IGNORED, 0, NULL, "accepted for Mill's transformers specs",
     0, 0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
#undef F
/* clang-format on */

/* flash_attn=auto|on|off; true/false (and 1/0), which the spec parser makes booleans, are
 * on/off. */
static int parse_flash_attn(struct llm *m, const struct mill_model_spec *s, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&s->args, "flash_attn");
    m->fa_arg = FA_AUTO;
    if (!v)
        return 0;
    bool on;
    if (v->kind != MILL_V_STR && !mill_spec_get_bool(s, "flash_attn", false, &on, err)) {
        m->fa_arg = on ? FA_ON : FA_OFF;
        return 0;
    }
    for (int k = FA_AUTO; v->kind == MILL_V_STR && k <= FA_OFF; k++)
        if (!strcmp(v->u.s.p, fa_names[k])) {
            m->fa_arg = k;
            return 0;
        }
    return mill_err_set(err, MILL_EINVAL,
                        "model spec '%s': flash_attn must be auto, on or "
                        "off",
                        s->raw);
}

static int parse_args(struct llm *m, const struct mill_model_spec *s, struct mill_err *err) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    m->threads = cpus > 0 ? cpus : 1;
    m->n_gpu_layers = INT64_MIN; /* computed below */
    int rc = mill_spec_apply_args(s, llama_args, m, err);
    int64_t bs = 16;
    const struct mill_value *bsv = mill_value_get(&s->args, "batch_size");
    if (!rc && bsv && !(bsv->kind == MILL_V_STR && !strcmp(bsv->u.s.p, "auto")))
        rc = mill_spec_get_int(s, "batch_size", 16, &bs, err);
    if (!rc && m->rpc_arg)
        rc = mill_rpc_parse(m->rpc_arg, &m->rpc, &m->n_rpc, err);
    /* With RPC servers every layer goes to them unless n_gpu_layers says otherwise, as
     * llama.cpp's tools do by default; without, llm_load offloads every layer where ggml
     * finds a local GPU (m->gpu_auto), and none where it does not. */
    m->gpu_auto = m->n_gpu_layers == INT64_MIN && !m->n_rpc;
    if (m->n_gpu_layers == INT64_MIN)
        m->n_gpu_layers = m->n_rpc ? 999 : 0;
    if (!rc)
        rc = parse_flash_attn(m, s, err);
    if (!rc && s->cache_dir && !(m->cache_dir = strdup(s->cache_dir)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && m->tokenize && strcmp(m->tokenize, "pieces") && strcmp(m->tokenize, "whole"))
        rc = mill_err_set(err, MILL_EINVAL, "model spec '%s': tokenize must be pieces or whole",
                          s->raw);
    if (!rc && m->encode_ahead_arg && strcmp(m->encode_ahead_arg, "auto") &&
        strcmp(m->encode_ahead_arg, "on") && strcmp(m->encode_ahead_arg, "off"))
        rc = mill_err_set(err, MILL_EINVAL, "model spec '%s': encode_ahead must be auto, on or off",
                          s->raw);
    if (!rc && (bs < 1 || bs > 254))
        rc = mill_err_set(err, MILL_EINVAL,
                          "model spec '%s': batch_size must be 1-254 (llama.cpp takes 256 "
                          "sequences: two more are used)",
                          s->raw);
    m->n_seq = bs + 2; /* sequence 0 holds the shared prefix, one spare for continuations */
    return rc;
}

static bool is_alias(const char *type) {
    static const char *const names[] = {"llama", "gguf", "hf", "huggingface", "transformers", NULL};
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(type, names[i]))
            return true;
    return false;
}

static void llm_close(void *state);
static int locate_model(struct llm *m, struct mill_err *err);

static int llm_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct llm *m = calloc(1, sizeof *m);
    if (!m)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    pthread_mutex_init(&m->tok_lock, NULL);
    int rc = parse_args(m, spec, err);
    if (!rc && !is_alias(spec->type)) {
        if (m->path) {
            rc = mill_err_set(err, MILL_EINVAL,
                              "model spec '%s': give the model either as the "
                              "name or as path=, not both",
                              spec->raw);
        } else if (!(m->path = strdup(spec->type))) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
    }
    if (!rc && (!m->path || !*m->path))
        rc = mill_err_set(err, MILL_EINVAL, "model spec '%s': needs path=<file.gguf or Hub repo>",
                          spec->raw);
    if (!rc && !(m->name = strdup(m->path)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = locate_model(m, err);
    if (rc) {
        llm_close(m);
        return rc;
    }
    *state = m;
    return 0;
}

static void llm_caps(void *state, struct mill_backend_caps *c) {
    (void)state;
    memset(c, 0, sizeof *c);
    c->req_kinds = 1u << MILL_REQ_LOGLIK | 1u << MILL_REQ_ROLLING | 1u << MILL_REQ_GENERATE;
    c->task_types = 1u << MILL_TASK_GENERATIVE_QA | 1u << MILL_TASK_MULTIPLE_CHOICE |
                    1u << MILL_TASK_PERPLEXITY;
    c->modalities = ((struct llm *)state)->modalities;
    c->supports_logprobs = true;
    c->max_context_length = ((struct llm *)state)->max_ctx;
    c->class_name = "LlamaModel";
}

static const char *llm_model_name(void *state) { return ((struct llm *)state)->name; }

/* ---- loading ------------------------------------------------------------------------- */

/* ---- model resolution on the Hub (BEHAVIOUR.md §7.1) ------------------------------------------ */

/* True when name contains tag as a whole component (delimited by non-alphanumerics, and on
 * the right by no '_' either), case insensitive: "F16" matches "model-F16.gguf" but not
 * "model-BF16.gguf", "Q6_K" not "model-Q6_K_L.gguf". */
static bool has_tag(const char *name, const char *tag) {
    size_t n = strlen(tag);
    for (const char *p = name; *p; p++) {
        if (strncasecmp(p, tag, n) != 0)
            continue;
        bool left = p == name || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]) && p[n] != '_';
        if (left && right)
            return true;
    }
    return false;
}

static const char *dtype_tag(const char *dtype) {
    if (!dtype || !strcmp(dtype, "bfloat16") || !strcmp(dtype, "bf16"))
        return "BF16";
    if (!strcmp(dtype, "float16") || !strcmp(dtype, "fp16") || !strcmp(dtype, "f16"))
        return "F16";
    if (!strcmp(dtype, "float32") || !strcmp(dtype, "fp32") || !strcmp(dtype, "f32"))
        return "F32";
    return dtype;
}

/* The GGUF of a listing the arguments ask for: file= by path or name, else quant=, else the
 * dtype's tag (bfloat16 by default, as Mill), else the only model file there is. */
static const struct mill_hub_file *pick_gguf(const struct mill_hub_listing *l, const struct llm *m,
                                             size_t *n_gguf) {
    const struct mill_hub_file *only = NULL, *hit = NULL;
    *n_gguf = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *path = l->files[i].path, *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!mill_str_ends_with(path, ".gguf") || !strncasecmp(base, "mmproj", 6))
            continue;
        (*n_gguf)++;
        only = &l->files[i];
        bool split_tail = strstr(base, "-of-") && !strstr(base, "-00001-of-");
        if (hit || split_tail)
            continue;
        if (m->file ? (!strcmp(path, m->file) || !strcmp(base, m->file))
                    : has_tag(base, m->quant ? m->quant : dtype_tag(m->dtype)))
            hit = &l->files[i];
    }
    return hit ? hit : (*n_gguf == 1 && !m->file && !m->quant && !m->dtype ? only : NULL);
}

/* What pick_gguf chose by, for a message: "file=" and its name, "quant=" and the quant, or
 * "dtype " and the dtype's tag. */
static const char *pick_key(const struct llm *m) {
    return m->file ? "file=" : m->quant ? "quant=" : "dtype ";
}

static const char *pick_value(const struct llm *m) {
    return m->file ? m->file : m->quant ? m->quant : dtype_tag(m->dtype);
}

/* Whether p is another part of the split GGUF whose first part is first ("<stem>-00001-of-
 * <total>.gguf", stem bytes before the mark): "<stem>-NNNNN-of-<total>.gguf" exactly, so that
 * "<stem>_L-00001-of-..." (another quant) is not. */
static bool is_part(const char *p, const char *first, size_t stem) {
    size_t n = strlen(first);
    if (strlen(p) != n || strncmp(p, first, stem) || p[stem] != '-')
        return false;
    for (size_t k = stem + 1; k < stem + 6; k++)
        if (!isdigit((unsigned char)p[k]))
            return false;
    return !strcmp(p + stem + 6, first + stem + 6); /* "-of-<total>.gguf" */
}

/* Downloads the chosen file (and the other parts of a split GGUF). */
static int fetch_gguf(struct mill_hub *hub, const struct mill_hub_repo *r,
                      const struct mill_hub_listing *l, const struct mill_hub_file *f, char **out,
                      struct mill_err *err) {
    int rc = mill_hub_download(hub, r, f->path, f->sha256[0] ? f->sha256 : NULL, out, err);
    const char *mark = strstr(f->path, "-00001-of-");
    for (size_t i = 0; !rc && mark && i < l->n; i++) {
        size_t stem = (size_t)(mark - f->path);
        const char *p = l->files[i].path;
        if (&l->files[i] == f || !is_part(p, f->path, stem))
            continue;
        char *part = NULL;
        rc = mill_hub_download(hub, r, p, l->files[i].sha256[0] ? l->files[i].sha256 : NULL, &part,
                               err);
        free(part);
    }
    return rc;
}

/* ---- the projector (mmproj*.gguf) ------------------------------------------------------ */

/* mmproj=none: the model alone, no projector looked for (text only). */
static bool no_mmproj(const struct llm *m) {
    return m->mmproj_arg && !strcmp(m->mmproj_arg, "none");
}

static bool is_mmproj_name(const char *path) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return !strncasecmp(base, "mmproj", 6) && mill_str_ends_with(base, ".gguf");
}

/* Of n projector names, the one mmproj= names, else the one tagged like the model (quant=, or
 * the dtype's tag), else the only one. *pick = n when there is none; several and nothing to
 * choose by is an error listing them. */
static int pick_mmproj(const struct llm *m, const char *const *names, size_t n, size_t *pick,
                       struct mill_err *err) {
    const char *tag = m->quant ? m->quant : dtype_tag(m->dtype);
    *pick = n;
    for (size_t i = 0; i < n && *pick == n; i++) {
        const char *base = strrchr(names[i], '/') ? strrchr(names[i], '/') + 1 : names[i];
        if (m->mmproj_arg ? !strcmp(names[i], m->mmproj_arg) || !strcmp(base, m->mmproj_arg)
                          : has_tag(base, tag))
            *pick = i;
    }
    if (*pick < n || m->mmproj_arg || n <= 1) {
        if (*pick == n && n == 1 && !m->mmproj_arg)
            *pick = 0;
        return 0;
    }
    struct mill_buf b = {0};
    for (size_t i = 0; i < n; i++)
        mill_buf_addf(&b, "%s%s", i ? ", " : "", names[i]);
    int rc = mill_err_set(err, MILL_EINVAL,
                          "model '%s': %zu multimodal projectors (%s) and none tagged %s; "
                          "pass mmproj=<file> (mmproj=none: text only)",
                          m->path, n, b.p ? b.p : "", tag);
    mill_buf_free(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory dir that keep accepts, sorted (*names malloc'd, each name too).
 * MILL_EIO naming dir when it cannot be read, MILL_ENOMEM. */
static int dir_names(const char *dir, bool (*keep)(const char *), char ***names, size_t *n,
                     struct mill_err *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return mill_err_set(err, MILL_EIO, "cannot read directory %s: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (!keep(e->d_name))
            continue;
        if (mill_grow(names, &cap, *n, sizeof **names, 4) || !((*names)[*n] = strdup(e->d_name)))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

static bool is_gguf_name(const char *name) { return mill_str_ends_with(name, ".gguf"); }

/* The projector beside a local model file. */
static int find_local_mmproj(struct llm *m, struct mill_err *err) {
    char *dir = strdup(m->path);
    if (!dir)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    char **names = NULL;
    size_t n = 0, pick = 0;
    struct mill_err derr = {0}; /* a directory that cannot be read holds no projector */
    int rc = dir_names(slash ? (*dir ? dir : "/") : ".", is_mmproj_name, &names, &n, &derr);
    if (rc == MILL_ENOMEM)
        *err = derr;
    else
        rc = 0;
    if (!rc)
        rc = pick_mmproj(m, (const char *const *)names, n, &pick, err);
    if (!rc && pick < n &&
        asprintf(&m->mmproj, "%s%s%s", slash ? dir : "", slash ? "/" : "", names[pick]) < 0) {
        m->mmproj = NULL;
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(dir);
    return rc;
}

/* The projector of a Hub listing (the file is downloaded at load). */
static int find_hub_mmproj(struct llm *m, struct mill_err *err) {
    const char **names = calloc(m->hub_l.n ? m->hub_l.n : 1, sizeof *names);
    const struct mill_hub_file **files = calloc(m->hub_l.n ? m->hub_l.n : 1, sizeof *files);
    size_t n = 0, pick = 0;
    int rc = names && files ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < m->hub_l.n; i++)
        if (is_mmproj_name(m->hub_l.files[i].path)) {
            files[n] = &m->hub_l.files[i];
            names[n++] = m->hub_l.files[i].path;
        }
    if (!rc)
        rc = pick_mmproj(m, names, n, &pick, err);
    if (!rc && pick < n)
        m->hub_mmproj = files[pick];
    else if (!rc && m->mmproj_arg)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "mmproj=%s is neither a local file nor a file of the Hub repo %s",
                          m->mmproj_arg, m->hub_repo);
    free(names);
    free(files);
    return rc;
}

/* ---- model resolution on the Hub (BEHAVIOUR.md §7.1) ---------------------------------- */

/* With no GGUF anywhere (and no file= asking for one): the repo itself holding a transformers
 * checkpoint, which load converts (its listing is kept, cands[0] taken as hub_repo; a dtype or
 * quant the conversion cannot make is reported at load). */
static int locate_hub_checkpoint(struct llm *m, struct mill_hub *hub, char **cands) {
    struct mill_hub_repo r = {MILL_HUB_MODEL, cands[0], m->revision};
    struct mill_err e = {0};
    if (m->file || mill_hub_list(hub, &r, NULL, &m->hub_l, &e) ||
        !mill_hf_listing_is_checkpoint(&m->hub_l)) {
        mill_hub_listing_free(&m->hub_l);
        return 0;
    }
    m->hub_ckpt = true;
    m->hub_repo = cands[0];
    cands[0] = NULL;
    return 0;
}

/* Tries repo, then <repo>-GGUF, then ggml-org/<name>-GGUF, listing each (no download) until
 * one has the GGUF the arguments ask for; keeps that listing. When none has, a transformers
 * checkpoint in the repo is converted at load; else hub_why says what each held, reported at
 * load. */
static int locate_hub(struct llm *m, struct mill_err *err) {
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    int rc = mill_hub_init(&hub, &hp, err);
    const char *name = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
    char *cands[3] = {strdup(m->path), NULL, NULL};
    if (asprintf(&cands[1], "%s-GGUF", m->path) < 0 ||
        asprintf(&cands[2], "ggml-org/%s-GGUF", name) < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    struct mill_buf seen = {0};
    for (int i = 0; !rc && i < 3 && !m->hub_gguf; i++) {
        struct mill_hub_repo r = {MILL_HUB_MODEL, cands[i], m->revision};
        struct mill_err e = {0};
        size_t n = 0;
        if (mill_hub_list(hub, &r, NULL, &m->hub_l, &e) == 0) {
            const struct mill_hub_file *f = pick_gguf(&m->hub_l, m, &n);
            if (f) {
                m->hub_gguf = f;
                m->hub_repo = cands[i];
                cands[i] = NULL;
                continue;
            }
            if (!n)
                mill_buf_addf(&seen, "%s has no GGUF files; ", cands[i]);
            else
                mill_buf_addf(&seen, "%s has %zu GGUF files but none matches %s%s; ", cands[i], n,
                              pick_key(m), pick_value(m));
        } else {
            mill_buf_addf(&seen, "%s: %s; ", cands[i], e.msg);
        }
        mill_hub_listing_free(&m->hub_l);
    }
    if (!rc && !m->hub_gguf)
        rc = locate_hub_checkpoint(m, hub, cands);
    if (!rc && !m->hub_gguf && !m->hub_ckpt &&
        asprintf(&m->hub_why,
                 "model '%s': no GGUF file found (%s). Pass a local .gguf path, or "
                 "file=<name.gguf>, quant=<Q8_0|...> or dtype=<bfloat16|float16|float32>",
                 m->path, seen.p ? seen.p : "") < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc && m->hub_gguf && !no_mmproj(m))
        rc = find_hub_mmproj(m, err);
    mill_buf_free(&seen);
    for (int i = 0; i < 3; i++)
        free(cands[i]);
    mill_hub_free(hub);
    return rc;
}

/* The Hub repo locate_hub chose, at the commit it was listed at. */
static struct mill_hub_repo hub_at(const struct llm *m) {
    return (struct mill_hub_repo){MILL_HUB_MODEL, m->hub_repo,
                                  m->hub_l.commit[0] ? m->hub_l.commit : m->revision};
}

/* Downloads what locate_hub chose: the model (all parts of a split GGUF) and the projector. */
static int fetch_hub(struct llm *m, struct mill_err *err) {
    if (!m->hub_gguf)
        return mill_err_set(err, MILL_ENOTFOUND, "%s", m->hub_why ? m->hub_why : "no GGUF file");
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    int rc = mill_hub_init(&hub, &hp, err);
    struct mill_hub_repo at = hub_at(m);
    if (!rc)
        rc = fetch_gguf(hub, &at, &m->hub_l, m->hub_gguf, &m->gguf, err);
    const struct mill_hub_file *f = m->hub_mmproj;
    if (!rc && f)
        rc = mill_hub_download(hub, &at, f->path, f->sha256[0] ? f->sha256 : NULL, &m->mmproj, err);
    mill_hub_free(hub);
    return rc;
}

/* What the projector locate_hub chose offers, from its GGUF header read before any download
 * (byte ranges, or the cached file). When the header cannot be had now (a server without Range
 * requests, a network error, a header beyond the cap; offline and not cached, where the download
 * fails anyway), images and audio both, said once on stderr: the downloaded header decides
 * then, and a medium it does not take fails its sample. */
static unsigned hub_mmproj_modalities(const struct llm *m) {
    struct mill_hub_params hp = mill_hub_default_params();
    struct mill_hub *hub = NULL;
    struct mill_hub_repo at = hub_at(m);
    struct mill_err e = {0};
    unsigned mods = 0;
    int rc = mill_hub_init(&hub, &hp, &e);
    if (!rc)
        rc = mill_mm_hub_modalities(hub, &at, m->hub_mmproj->path, m->hub_mmproj->size, &mods, &e);
    mill_hub_free(hub);
    if (!rc)
        return mods;
    if (hp.offline)
        MILL_DEBUG("llama", "projector %s of %s: %s", m->hub_mmproj->path, m->hub_repo, e.msg);
    else
        MILL_WARN("llama",
                  "cannot read the header of the projector %s of %s before downloading it (%s): "
                  "whether it takes images and audio is checked once it is downloaded",
                  m->hub_mmproj->path, m->hub_repo, e.msg);
    return MILL_MOD_IMAGE | MILL_MOD_AUDIO;
}

/* A local directory that is no transformers checkpoint: its GGUF, picked as in a Hub repo
 * (file=, quant=, the dtype's tag, else the only one), becomes the model file (m->path); the
 * model's name stays the directory. A directory without one is an error, never a Hub id. */
static int locate_local_dir(struct llm *m, struct mill_err *err) {
    struct mill_hub_listing l = {0};
    char **names = NULL;
    int rc = dir_names(m->path, is_gguf_name, &names, &l.n, err);
    if (!rc && !(l.files = calloc(l.n ? l.n : 1, sizeof *l.files)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; i < l.n; i++) /* the listing owns the names from here */
        if (l.files)
            l.files[i] = (struct mill_hub_file){.path = names[i], .size = -1};
        else
            free(names[i]);
    free(names);
    l.cap = l.n;
    size_t n_gguf = 0;
    const struct mill_hub_file *f = rc ? NULL : pick_gguf(&l, m, &n_gguf);
    char *file = NULL;
    if (!rc && f && asprintf(&file, "%s/%s", m->path, f->path) < 0)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    else if (!rc && !f && n_gguf == 0)
        rc = mill_err_set(err, MILL_ENOTFOUND,
                          "model directory %s holds no GGUF file (*.gguf) and is no transformers "
                          "checkpoint (config.json with *.safetensors)",
                          m->path);
    else if (!rc && !f) {
        struct mill_buf b = {0};
        for (size_t i = 0; i < l.n; i++)
            if (!is_mmproj_name(l.files[i].path))
                mill_buf_addf(&b, "%s%s", b.n ? ", " : "", l.files[i].path);
        rc = mill_err_set(err, MILL_EINVAL,
                          "model directory %s: %zu GGUF files (%s) and none matches %s%s; pass "
                          "file=<name.gguf>",
                          m->path, n_gguf, b.p ? b.p : "", pick_key(m), pick_value(m));
        mill_buf_free(&b);
    }
    if (file) {
        free(m->path);
        m->path = file;
        m->picked = true;
    }
    mill_hub_listing_free(&l);
    return rc;
}

/* At open: where the model is (a local file, else a Hub repo: listed, not downloaded) and its
 * projector: mmproj= as a local file, else beside a local model, else in the model's repo.
 * What the projector offers is read from its GGUF header, a local file's or the first bytes of
 * the Hub's (hub_mmproj_modalities); a repo that could not be listed counts as one for images
 * and audio (the listing's error comes at load). */
static int locate_model(struct llm *m, struct mill_err *err) {
    struct stat st;
    int rc = 0;
    if (stat(m->path, &st) == 0 && S_ISDIR(st.st_mode) && !mill_hf_is_checkpoint(m->path) &&
        (rc = locate_local_dir(m, err)) != 0)
        return rc;
    bool local = stat(m->path, &st) == 0 && S_ISREG(st.st_mode);
    if (local && !m->picked && (m->dtype || m->quant || m->file))
        MILL_WARN("llama",
                  "%s is a GGUF file, used as it is: dtype=, quant= and file= choose among the "
                  "files of a directory or a Hub repo",
                  m->path);
    if (no_mmproj(m)) {
        /* nothing to find */
    } else if (m->mmproj_arg && stat(m->mmproj_arg, &st) == 0 && S_ISREG(st.st_mode)) {
        if (!(m->mmproj = strdup(m->mmproj_arg)))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
    } else if (m->mmproj_arg && (local || strstr(m->path, ".gguf"))) {
        return mill_err_set(err, MILL_ENOTFOUND, "projector file %s does not exist", m->mmproj_arg);
    }
    m->ckpt_dir =
        !local && stat(m->path, &st) == 0 && S_ISDIR(st.st_mode) && mill_hf_is_checkpoint(m->path);
    if (local && !m->mmproj && !no_mmproj(m))
        rc = find_local_mmproj(m, err);
    else if (!local && !m->ckpt_dir && !strstr(m->path, ".gguf"))
        rc = locate_hub(m, err);
    m->modalities = MILL_MOD_TEXT;
    llama_log_set(llama_log_cb, NULL); /* gguf's complaints about a partial header: debug lines */
    if (!rc && m->mmproj)
        m->modalities |= mill_mm_file_modalities(m->mmproj);
    else if (!rc && m->hub_mmproj)
        m->modalities |= hub_mmproj_modalities(m);
    else if (!rc && !local && !m->hub_gguf && !m->hub_ckpt && !m->ckpt_dir &&
             !strstr(m->path, ".gguf") && !no_mmproj(m))
        m->modalities |= MILL_MOD_IMAGE | MILL_MOD_AUDIO;
    return rc;
}

/* At load: a transformers checkpoint (local, or downloaded from the Hub) converted into the
 * cache once (llama_convert.h), and that file used. */
static int resolve_checkpoint(struct llm *m, struct mill_err *err) {
    enum mill_hf_type t;
    int rc = mill_hf_conversion_type(m->dtype, m->quant, &t, err);
    char *dir = NULL;
    if (!rc && m->hub_ckpt) {
        struct mill_hub_params hp = mill_hub_default_params();
        struct mill_hub *hub = NULL;
        struct mill_hub_repo at = hub_at(m);
        rc = mill_hub_init(&hub, &hp, err);
        if (!rc)
            rc = mill_hf_hub_checkpoint(hub, &at, &m->hub_l, &dir, err);
        mill_hub_free(hub);
    } else if (!rc && !(dir = strdup(m->path))) {
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = mill_hf_convert_cached(m->cache_dir, dir, m->hub_ckpt ? m->hub_repo : NULL, t, true,
                                    &m->conv, err);
    if (!rc && !(m->gguf = strdup(m->conv.gguf)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    free(dir);
    return rc;
}

/* At load: the local model file, downloading what locate_model found on the Hub. */
static int resolve_model(struct llm *m, struct mill_err *err) {
    struct stat st;
    if (m->ckpt_dir || m->hub_ckpt)
        return resolve_checkpoint(m, err);
    if (stat(m->path, &st) == 0 && S_ISREG(st.st_mode)) {
        m->gguf = strdup(m->path);
        return m->gguf ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    if (strstr(m->path, ".gguf"))
        return mill_err_set(err, MILL_ENOTFOUND, "model file %s does not exist", m->path);
    return fetch_hub(m, err);
}

static int check_gguf_magic(const char *path, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f)
        fclose(f);
    if (!f)
        return mill_err_set(err, MILL_EIO, "cannot read %s: %s", path, strerror(errno));
    if (n != 4 || memcmp(magic, "GGUF", 4))
        return mill_err_set(err, MILL_EFORMAT, "%s is not a GGUF file (bad magic)", path);
    return 0;
}

/* Per-sequence context (the model's training length capped by max_context_length) and
 * the unified cache: one context's worth plus room for the other sequences. */
static void set_sizes(struct llm *m) {
    int train = llama_model_n_ctx_train(m->model);
    m->n_ctx = (int)(train > 0 && train < m->max_ctx ? train : m->max_ctx);
    m->kv_size = m->n_ctx + 4096;
    m->n_batch = 2048;
}

static int init_context(struct llm *m, int fa, struct mill_err *err) {
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)m->kv_size;
    cp.n_batch = (uint32_t)m->n_batch;
    /* 512, but a projector whose media attend both ways has each medium decoded in one
     * micro-batch (llama_decode asserts it fits): then as large as a batch */
    m->n_ubatch = m->mm && mill_mm_non_causal(m->mm) ? m->n_batch : 512;
    cp.n_ubatch = (uint32_t)m->n_ubatch;
    cp.n_seq_max = (uint32_t)m->n_seq;
    cp.n_threads = cp.n_threads_batch = (int32_t)m->threads;
    cp.kv_unified = true;
    cp.flash_attn_type = fa == FA_ON     ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                         : fa == FA_AUTO ? LLAMA_FLASH_ATTN_TYPE_AUTO
                                         : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    last_llama_error[0] = 0;
    if (!(m->ctx = llama_init_from_model(m->model, cp)))
        return mill_err_set(err, MILL_EBACKEND, "%s: cannot create a llama.cpp context (%s)",
                            m->gguf, last_llama_error[0] ? last_llama_error : "no reason given");
    m->ctx_fa = fa;
    m->mem = llama_get_memory(m->ctx);
    m->batch = llama_batch_init(m->n_batch, 0, 1);
    return 0;
}

static void free_context(struct llm *m) {
    if (!m->ctx)
        return;
    llama_batch_free(m->batch);
    llama_free(m->ctx);
    m->ctx = NULL;
    m->mem = NULL;
    m->batch = (struct llama_batch){0};
    m->n_cached = 0;
}

static int prompt_text(struct llm *m, const char *ctx, bool chat, struct mill_buf *out,
                       struct mill_err *err);

/* The vocabulary's text of a special token, or NULL when it has none. */
static const char *special_text(const struct llama_vocab *v, llama_token id) {
    return id == LLAMA_TOKEN_NULL ? NULL : llama_vocab_get_text(v, id);
}

/* The pad token's text, else the EOS's: Python Mill sets the tokenizer's pad token to its EOS
 * when it has none, before any template is applied. */
static const char *pad_text(const struct llama_vocab *v) {
    const char *pad = special_text(v, llama_vocab_pad(v));
    return pad ? pad : special_text(v, llama_vocab_eos(v));
}

/* The GGUF's chat template as Jinja, unless chat_template= names one of llama.cpp's; one that
 * will not parse or fails on a plain user turn leaves llama.cpp's matcher, with a warning. Then
 * a probe: a template neither can apply fails now, before any sample. */
static int open_chat(struct llm *m, struct mill_err *err) {
    const char *tmpl = m->chat_template ? NULL : llama_model_chat_template(m->model, NULL);
    struct mill_err e = {0};
    struct mill_buf probe = {0};
    if (tmpl && (mill_chat_open(tmpl, special_text(m->vocab, llama_vocab_bos(m->vocab)),
                                special_text(m->vocab, llama_vocab_eos(m->vocab)),
                                pad_text(m->vocab), &m->chat, &e) ||
                 mill_chat_user_turn(m->chat, "probe", NULL, 0, NULL, &probe, &e))) {
        if (m->use_chat_template || m->mmproj) /* only where prompts will use it */
            MILL_WARN("llama",
                      "%s: its chat template is not rendered as transformers renders it (%s); "
                      "prompts go through llama.cpp's built-in template matcher and may differ "
                      "from Python Mill's",
                      m->name, e.msg);
        mill_chat_free(m->chat);
        m->chat = NULL;
    }
    /* without a Jinja template that rendered the probe, llama.cpp's matcher must apply where
     * prompts use a template (media prompts always do) */
    mill_buf_reset(&probe);
    int rc = m->chat ? 0 : prompt_text(m, "probe", m->mmproj != NULL, &probe, err);
    mill_buf_free(&probe);
    if (rc && m->mmproj && !m->mmproj_arg && !m->use_chat_template) {
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k,
                 " (media prompts need one: the projector %s was found beside the model; "
                 "mmproj=none leaves it out)",
                 m->mmproj);
    }
    return rc;
}

/* The projector, loaded beside the model (its encoder on the GPU when layers are). */
static int load_mmproj(struct llm *m, struct mill_err *err) {
    double t0 = mill_clock_s();
    int rc = check_gguf_magic(m->mmproj, err);
    if (!rc)
        rc = mill_sha256_file_cached(m->cache_dir, m->mmproj, m->mmproj_sha256, err);
    if (!rc) { /* an assert in the projector's graph names the projector, then the model again
                  (images are encoded while it runs) */
        snprintf(abort_model, sizeof abort_model, "%s", m->mmproj);
        rc = mill_mm_open(m->mmproj, m->model, (int)m->threads, m->n_gpu_layers != 0, &m->mm, err);
        snprintf(abort_model, sizeof abort_model, "%s (projector %s)", m->gguf, m->mmproj);
    }
    if (rc == MILL_EFORMAT && !m->mmproj_arg) { /* found beside the model: maybe another's */
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k, " (mmproj=none leaves it out)");
    }
    if (!rc)
        m->modalities = MILL_MOD_TEXT | mill_mm_modalities(m->mm);
    /* On a CPU the encoder and llama_decode would share the same cores (and OpenMP teams that
     * spin while they wait), so auto encodes ahead only where the projector has a GPU. */
    const char *ea = m->encode_ahead_arg ? m->encode_ahead_arg : "auto";
    m->encode_ahead = !strcmp(ea, "on") ||
                      (!strcmp(ea, "auto") && m->n_gpu_layers != 0 && llama_supports_gpu_offload());
    m->load_s += mill_clock_s() - t0;
    return rc;
}

static int llm_load(void *state, struct mill_err *err) {
    struct llm *m = state;
    static bool backend_ready;
    if (!backend_ready) {
        ggml_set_abort_callback(on_ggml_abort);
        llama_log_set(llama_log_cb, NULL);
        llama_backend_init();
        backend_ready = true;
    }
    int rc = resolve_model(m, err);
    if (!rc)
        rc = check_gguf_magic(m->gguf, err);
    if (!rc)
        rc = mill_sha256_file_cached(m->cache_dir, m->gguf, m->sha256, err);
    if (!rc && m->n_rpc)
        rc = mill_rpc_attach(m->rpc, m->n_rpc, 5000, err);
    if (rc)
        return rc;
    if (m->gpu_auto && mill_local_gpus(NULL, 0) > 0)
        m->n_gpu_layers = 999;
    double t0 = mill_clock_s();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = (int32_t)m->n_gpu_layers;
    ggml_backend_dev_t *devs = mill_rpc_model_devices(m->rpc, m->n_rpc);
    mp.devices = devs;
    last_llama_error[0] = 0;
    snprintf(abort_model, sizeof abort_model, "%s", m->gguf);
    m->model = llama_model_load_from_file(m->gguf, mp);
    free(devs);
    if (!m->model)
        return mill_err_set(err, MILL_EFORMAT, "cannot load GGUF model %s: %s", m->gguf,
                            last_llama_error[0] ? last_llama_error : "corrupt or unsupported");
    m->vocab = llama_model_get_vocab(m->model);
    m->n_vocab = llama_vocab_n_tokens(m->vocab);
    if (m->n_vocab <= 0 || llama_vocab_type(m->vocab) == LLAMA_VOCAB_TYPE_NONE)
        return mill_err_set(err, MILL_EFORMAT,
                            "model %s has no vocabulary (no tokenizer in the "
                            "GGUF); convert the checkpoint again with its tokenizer",
                            m->gguf);
    set_sizes(m);
    bool fast_tok = !m->naive && strcmp(m->tokenize, "whole");
    rc = mill_tok_new(m->vocab, fast_tok, &m->tok, err);
    /* MILL_PREP_THREADS=N caps prepare's threads below `threads` (tests compare 1 and more). */
    const char *pt = getenv("MILL_PREP_THREADS");
    long want = pt ? strtol(pt, NULL, 10) : 0;
    int64_t cap = want > 0 && want < m->threads ? want : m->threads;
    int more = (cap < PREP_THREADS ? (int)cap : PREP_THREADS) - 1;
    for (; !rc && m->n_tok_more < more; m->n_tok_more++)
        rc = mill_tok_new(m->vocab, fast_tok, &m->tok_more[m->n_tok_more], err);
    if (rc)
        return rc;
    m->load_s = mill_clock_s() - t0;
    if (m->mmproj) /* first: its attention sets the context's micro-batch */
        rc = load_mmproj(m, err);
    /* A context now, so a cache that cannot be allocated fails before any sample. */
    t0 = mill_clock_s();
    if (!rc)
        rc = init_context(m, m->fa_arg, err);
    m->load_s += mill_clock_s() - t0;
    if (!rc)
        rc = open_chat(m, err);
    if (!rc)
        MILL_INFO("llama", "%s: context %d tokens, %lld sequences, %lld threads", m->gguf, m->n_ctx,
                  (long long)m->n_seq - 2, (long long)m->threads);
    return rc;
}

/* ---- tokens and batches ----------------------------------------------------------------- */

struct toks {
    llama_token *t;
    int n;
};

static int tokenize(const struct llm *m, const char *text, size_t len, bool add_special,
                    bool parse_special, struct toks *out, struct mill_err *err) {
    out->t = NULL;
    out->n = 0;
    if (len > INT32_MAX / 2)
        return mill_err_set(err, MILL_EINVAL, "text too long to tokenise (%zu bytes)", len);
    int n = -llama_tokenize(m->vocab, text, (int32_t)len, NULL, 0, add_special, parse_special);
    if (n < 0)
        n = 0;
    out->t = malloc((size_t)(n ? n : 1) * sizeof *out->t);
    if (!out->t)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (n &&
        llama_tokenize(m->vocab, text, (int32_t)len, out->t, n, add_special, parse_special) != n) {
        free(out->t);
        out->t = NULL;
        return mill_err_set(err, MILL_EBACKEND, "tokenisation failed");
    }
    out->n = n;
    return 0;
}

static void batch_clear(struct llama_batch *b) { b->n_tokens = 0; }

static void batch_add(struct llama_batch *b, llama_token t, int pos, int seq, bool logits) {
    int i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = logits;
}

static int decode(struct llm *m, struct mill_err *err) {
    if (m->batch.n_tokens == 0)
        return 0;
    double t0 = mill_clock_s();
    last_llama_error[0] = 0;
    int rc = llama_decode(m->ctx, m->batch);
    /* On a GPU llama_decode returns with the graph still running (the wait would otherwise
     * fall in the first llama_get_logits*, counted as harness time); every caller reads the
     * logits next, so waiting here changes no overlap. */
    llama_synchronize(m->ctx);
    m->decode_s += mill_clock_s() - t0;
    m->n_decodes++;
    m->fa_used |= 1u << m->ctx_fa;
    m->n_tokens += m->batch.n_tokens;
    if (rc == 1) /* llama.h: no KV slot for the batch */
        return mill_err_set(err, MILL_EBACKEND,
                            "llama_decode found no free KV cells for %d "
                            "tokens (cache of %d cells); lower batch_size or "
                            "max_context_length",
                            m->batch.n_tokens, m->kv_size);
    if (rc != 0)
        return mill_err_set(err, MILL_EBACKEND, "llama_decode failed (%d)%s%s", rc,
                            last_llama_error[0] ? ": " : "", last_llama_error);
    return 0;
}

/* log-sum-exp of a logit row (core/stats.h), and its argmax (first max wins). */
static double row_lse(const float *x, int n, int *argmax) {
    int am = (int)mill_argmax_f32(x, (size_t)n);
    *argmax = am;
    return mill_logsumexp_f32(x, (size_t)n, x[am]);
}

/* Makes sequence 0 hold exactly prefix p[0..n): keeps the common part, decodes the rest. A
 * recurrent or hybrid model's memory cannot drop part of a sequence (llama_memory_seq_rm
 * says so): it drops the whole and decodes the prefix again. */
static int sync_prefix(struct llm *m, const llama_token *p, int n, struct mill_err *err) {
    int keep = 0;
    while (keep < n && keep < m->n_cached && m->cached[keep] == p[keep])
        keep++;
    if (!llama_memory_seq_rm(m->mem, 0, keep, -1)) {
        llama_memory_seq_rm(m->mem, 0, -1, -1);
        keep = 0;
    }
    m->n_cached = keep;
    if (n > m->cap_cached) {
        llama_token *g = realloc(m->cached, (size_t)n * sizeof *g);
        if (!g)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        m->cached = g;
        m->cap_cached = n;
    }
    for (int i = keep; i < n;) {
        batch_clear(&m->batch);
        for (; i < n && m->batch.n_tokens < m->n_batch; i++)
            batch_add(&m->batch, p[i], i, 0, false);
        int rc = decode(m, err);
        if (rc) {
            if (!llama_memory_seq_rm(m->mem, 0, keep, -1)) {
                llama_memory_seq_rm(m->mem, 0, -1, -1);
                m->n_cached = 0;
            }
            return rc;
        }
    }
    if (n > keep) /* m->cached is still NULL when nothing was ever cached */
        memcpy(m->cached + keep, p + keep, (size_t)(n - keep) * sizeof *p);
    m->n_cached = n;
    return 0;
}

static void drop_seqs(struct llm *m, int first, int last) {
    for (int s = first; s <= last; s++)
        llama_memory_seq_rm(m->mem, s, -1, -1);
}

/* ---- LOGLIK -------------------------------------------------------------------------- */

struct ll_req {
    struct mill_request *q;
    struct toks whole; /* context tokens then continuation tokens (after truncation) */
    int n_ctx_tok;     /* context part: the first n_ctx_tok tokens */
    int n_cont;
    struct mill_mm_prompt *mp; /* a generation prompt with media (prepare's), or NULL */
};

static int cmp_tokens(const llama_token *a, int na, const llama_token *b, int nb) {
    int n = na < nb ? na : nb;
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* The requests cmp_ll sorts (qsort has no context argument; one per thread, so two models may
 * score at once). */
static _Thread_local const struct ll_req *sort_base;

static int cmp_ll(const void *x, const void *y) {
    const struct ll_req *a = &sort_base[*(const size_t *)x], *b = &sort_base[*(const size_t *)y];
    int c = cmp_tokens(a->whole.t, a->n_ctx_tok, b->whole.t, b->n_ctx_tok);
    if (c)
        return c;
    return (*(const size_t *)x > *(const size_t *)y) - (*(const size_t *)x < *(const size_t *)y);
}

static int lcp(const llama_token *a, int na, const llama_token *b, int nb) {
    int i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return i;
}

/* Tokenises as lm-eval's _encode_pair: trailing whitespace of the context (what Python's
 * str.rstrip() removes, Unicode spaces included) moves to the continuation; the continuation
 * is what tok(context + continuation) adds past tok(rstrip(context)). llama_tok.c builds both
 * from shared pieces where that is provably the same (the naive path tokenises whole texts).
 * BOS is added by hand when the vocabulary wants it. Then left truncation to the context
 * window. */
static int prep_loglik_with(struct llm *m, struct mill_tok *tok, pthread_mutex_t *lock,
                            struct ll_req *r, struct mill_err *err) {
    const char *cont = r->q->continuation ? r->q->continuation : "";
    llama_token *we = NULL;
    int n_we = 0, n_ce = 0;
    if (lock)
        pthread_mutex_lock(lock);
    int rc = mill_tok_pair(tok, r->q->context ? r->q->context : "", cont, &we, &n_we, &n_ce, err);
    if (lock)
        pthread_mutex_unlock(lock);
    if (rc)
        return rc;
    int n_cont = n_we - n_ce;
    bool bos = llama_vocab_get_add_bos(m->vocab) || n_ce == 0;
    if (n_cont <= 0) {
        free(we);
        r->n_cont = 0;
        if (n_cont < 0 || *cont) { /* one that merges into the context's last token */
            mill_request_fail(r->q, MILL_EINVAL, "continuation '%s' adds no token", cont);
            return 0;
        }
        /* an empty one (after a context without trailing whitespace): a sum over no token, as
         * Python Mill's: 0.0, greedy */
        r->q->n_tokens = 0;
        r->q->is_greedy = true;
        r->q->logprob = 0;
        return 0;
    }
    llama_token first = llama_vocab_get_add_bos(m->vocab) || llama_vocab_bos(m->vocab) >= 0
                            ? llama_vocab_bos(m->vocab)
                            : llama_vocab_eos(m->vocab);
    r->whole.t = malloc((size_t)(n_we + 1) * sizeof *r->whole.t);
    if (!r->whole.t) {
        free(we);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    int k = 0;
    if (bos)
        r->whole.t[k++] = first;
    memcpy(r->whole.t + k, we, (size_t)n_we * sizeof *we);
    r->whole.n = k + n_we;
    free(we);
    r->n_cont = n_cont;
    r->n_ctx_tok = r->whole.n - n_cont;
    int over = r->whole.n - 1 - m->n_ctx;
    if (over > 0) {
        if (r->n_ctx_tok - over < 1) {
            mill_request_fail(r->q, MILL_EINVAL,
                              "continuation of %d tokens does not fit the "
                              "%d-token context",
                              n_cont, m->n_ctx);
            return 0;
        }
        memmove(r->whole.t, r->whole.t + over, (size_t)(r->whole.n - over) * sizeof *r->whole.t);
        r->whole.n -= over;
        r->n_ctx_tok -= over;
        r->q->n_truncated = over;
    }
    r->q->n_tokens = n_cont;
    r->q->is_greedy = true;
    r->q->logprob = 0;
    return 0;
}

/* prep_loglik_with the backend's own tokeniser, which prepare and run share. */
static int prep_loglik(struct llm *m, struct ll_req *r, struct mill_err *err) {
    return prep_loglik_with(m, m->tok, &m->tok_lock, r, err);
}

/* What prepare leaves in a request (llm_prepare): a malloc'd ll_req, LOGLIK's tokens and counts
 * as prep_loglik makes them, a text generation prompt's tokens in whole, or a media prompt's
 * chunks (their media encoded when encode_ahead is on). */
static void prep_free(void *p) {
    if (p) {
        free(((struct ll_req *)p)->whole.t);
        mill_mm_prompt_free(((struct ll_req *)p)->mp);
    }
    free(p);
}

/* Moves what prepare left in r->q into *r; false when it left nothing. */
static bool take_prep(struct ll_req *r) {
    struct ll_req *p = r->q->prep;
    if (!p)
        return false;
    *r = *p;
    free(p);
    r->q->prep = NULL;
    r->q->prep_free = NULL;
    return true;
}

/* A request's LOGLIK tokens: prepare's, else tokenised now. */
static int ll_tokens(struct llm *m, struct ll_req *r, struct mill_err *err) {
    return take_prep(r) ? 0 : prep_loglik(m, r, err);
}

/* One output row to score once llama_decode has run. group >= 0: the first continuation token
 * of every request of that group; else token k of request req. */
struct out_ref {
    int batch_i;
    int group;
    size_t req;
    int k;
};

/* A decode's output rows (row, lse, argmax per out_ref), reduced on up to `threads` threads. */
struct row_stats {
    const float *row;
    double lse;
    int am;
};

struct ll_state {
    struct llm *m;
    struct ll_req *r;
    size_t *order;
    size_t *g_start, *g_len; /* groups as ranges of order */
    struct out_ref *outs;
    struct row_stats *rows; /* one per out_ref, cap_outs of them */
    int n_outs, cap_outs;
};

static void score(struct ll_req *r, const float *row, int n_vocab, double lse, int am, int k) {
    llama_token t = r->whole.t[r->n_ctx_tok + k];
    if (t < 0 || t >= n_vocab)
        return;
    r->q->logprob += (double)row[t] - lse;
    r->q->is_greedy = r->q->is_greedy && am == t;
}

/* Rows [from, to) of a struct row_stats array: each row's log-sum-exp and argmax. */
struct row_slice {
    struct row_stats *rows;
    int from, to, n_vocab;
};

static void *reduce_rows(void *arg) {
    struct row_slice *sl = arg;
    for (int i = sl->from; i < sl->to; i++)
        sl->rows[i].lse = row_lse(sl->rows[i].row, sl->n_vocab, &sl->rows[i].am);
    return NULL;
}

/* Reduces n rows on up to `threads` threads (this one included), at least 8 rows each: the
 * log-sum-exp of a 151k-entry row takes ~0.4 ms, which on a fast device would otherwise make
 * the scoring of a decode's dozens of rows cost as much as the decode. The same numbers on
 * any number of threads. */
static void reduce_all(struct row_stats *rows, int n, int n_vocab, int threads) {
    enum { MAX_THREADS = 64, MIN_ROWS = 8 };
    int k = threads < MAX_THREADS ? threads : MAX_THREADS;
    if (k > n / MIN_ROWS)
        k = n / MIN_ROWS;
    if (k < 1)
        k = 1;
    struct row_slice sl[MAX_THREADS];
    for (int t = 0; t < k; t++)
        sl[t] =
            (struct row_slice){rows, (int)((long)n * t / k), (int)((long)n * (t + 1) / k), n_vocab};
    mill_fork_join(reduce_rows, sl, sizeof *sl, (size_t)k);
}

static int flush(struct ll_state *s, struct mill_err *err) {
    int rc = decode(s->m, err);
    for (int i = 0; !rc && i < s->n_outs; i++) {
        const float *row = llama_get_logits_ith(s->m->ctx, s->outs[i].batch_i);
        if (!row)
            return mill_err_set(err, MILL_EBACKEND, "llama.cpp returned no logits");
        s->rows[i] = (struct row_stats){.row = row};
    }
    if (!rc)
        reduce_all(s->rows, s->n_outs, s->m->n_vocab, (int)s->m->threads);
    for (int i = 0; !rc && i < s->n_outs; i++) {
        struct out_ref *o = &s->outs[i];
        const struct row_stats *st = &s->rows[i];
        if (o->group < 0) {
            score(&s->r[o->req], st->row, s->m->n_vocab, st->lse, st->am, o->k);
            continue;
        }
        for (size_t j = 0; j < s->g_len[o->group]; j++)
            score(&s->r[s->order[s->g_start[o->group] + j]], st->row, s->m->n_vocab, st->lse,
                  st->am, 0);
    }
    s->n_outs = 0;
    batch_clear(&s->m->batch);
    return rc;
}

static int add_token(struct ll_state *s, llama_token t, int pos, int seq, bool out, int group,
                     size_t req, int k, struct mill_err *err) {
    if (s->m->batch.n_tokens == s->m->n_batch) {
        int rc = flush(s, err);
        if (rc)
            return rc;
    }
    if (out) {
        if (s->n_outs == s->cap_outs) {
            int cap = s->cap_outs ? s->cap_outs * 2 : 64;
            struct out_ref *g = realloc(s->outs, (size_t)cap * sizeof *g);
            if (g)
                s->outs = g;
            struct row_stats *rs = g ? realloc(s->rows, (size_t)cap * sizeof *rs) : NULL;
            if (!rs)
                return mill_err_set(err, MILL_ENOMEM, "out of memory");
            s->rows = rs;
            s->cap_outs = cap;
        }
        s->outs[s->n_outs++] = (struct out_ref){s->m->batch.n_tokens, group, req, k};
    }
    batch_add(&s->m->batch, t, pos, seq, out);
    return 0;
}

/* Scores groups [g0, g1) together: their common prefix in sequence 0, one sequence per group
 * for its suffix (phase 1), one per request with a longer continuation (phase 2). Phase 2
 * scores what fits, then drops those sequences and goes on, when it runs out of sequence ids
 * or of KV cells (the cells phase 1 holds stay in use throughout). */
static int run_groups(struct ll_state *s, size_t g0, size_t g1, int n_prefix,
                      struct mill_err *err) {
    struct llm *m = s->m;
    const struct ll_req *first = &s->r[s->order[s->g_start[g0]]];
    int rc = sync_prefix(m, first->whole.t, n_prefix, err);
    long held = n_prefix, used = 0; /* cells phase 1 holds; cells phase 2 holds now */
    batch_clear(&m->batch);
    s->n_outs = 0;
    for (size_t g = g0; !rc && g < g1; g++) {
        const struct ll_req *r = &s->r[s->order[s->g_start[g]]];
        int seq = 1 + (int)(g - g0);
        llama_memory_seq_cp(m->mem, 0, seq, -1, -1);
        for (int p = n_prefix; !rc && p < r->n_ctx_tok; p++)
            rc = add_token(s, r->whole.t[p], p, seq, p == r->n_ctx_tok - 1, (int)g, 0, 0, err);
        held += r->n_ctx_tok - n_prefix;
    }
    if (!rc)
        rc = flush(s, err);
    int next = 1 + (int)(g1 - g0);
    for (size_t g = g0; !rc && g < g1; g++) {
        for (size_t j = 0; !rc && j < s->g_len[g]; j++) {
            size_t ri = s->order[s->g_start[g] + j];
            const struct ll_req *r = &s->r[ri];
            if (r->n_cont < 2)
                continue;
            if (next == m->n_seq || (used && held + used + r->n_cont - 1 > m->kv_size - 8)) {
                rc = flush(s, err);
                drop_seqs(m, 1 + (int)(g1 - g0), m->n_seq - 1);
                next = 1 + (int)(g1 - g0);
                used = 0;
            }
            used += r->n_cont - 1;
            llama_memory_seq_cp(m->mem, 1 + (int)(g - g0), next, -1, -1);
            for (int k = 0; !rc && k < r->n_cont - 1; k++)
                rc = add_token(s, r->whole.t[r->n_ctx_tok + k], r->n_ctx_tok + k, next, true, -1,
                               ri, k + 1, err);
            next++;
        }
    }
    if (!rc)
        rc = flush(s, err);
    drop_seqs(m, 1, m->n_seq - 1);
    return rc;
}

/* How many groups from g0 fit one pass: a sequence each (plus one spare for continuations),
 * and KV cells for the shared prefix, every group's suffix and the continuation tokens. */
static size_t plan_groups(const struct ll_state *s, size_t g0, size_t ng, int *n_prefix) {
    const struct llm *m = s->m;
    const struct ll_req *a = &s->r[s->order[s->g_start[g0]]];
    int p = a->n_ctx_tok - 1;
    long sum_len = 0, conts = 0;
    size_t g = g0;
    for (; g < ng && (int)(g - g0) < m->n_seq - 2; g++) {
        const struct ll_req *b = &s->r[s->order[s->g_start[g]]];
        int np = lcp(a->whole.t, a->n_ctx_tok, b->whole.t, b->n_ctx_tok);
        if (np > b->n_ctx_tok - 1)
            np = b->n_ctx_tok - 1;
        if (np > p)
            np = p;
        long add = 0;
        for (size_t j = 0; j < s->g_len[g]; j++)
            add += s->r[s->order[s->g_start[g] + j]].n_cont;
        long k = (long)(g - g0) + 1;
        long cells = np + (sum_len + b->n_ctx_tok) - k * np + conts + add;
        if (g > g0 && cells > m->kv_size - 8)
            break;
        sum_len += b->n_ctx_tok;
        conts += add;
        p = np;
    }
    *n_prefix = p < 0 ? 0 : p;
    return g - g0;
}

static int group_requests(struct ll_state *s, size_t nv, size_t *ng, struct mill_err *err) {
    s->g_start = malloc((nv ? nv : 1) * sizeof *s->g_start);
    s->g_len = malloc((nv ? nv : 1) * sizeof *s->g_len);
    if (!s->g_start || !s->g_len)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < nv; i++) {
        const struct ll_req *a = &s->r[s->order[i]];
        if (n) {
            const struct ll_req *b = &s->r[s->order[s->g_start[n - 1]]];
            if (!cmp_tokens(a->whole.t, a->n_ctx_tok, b->whole.t, b->n_ctx_tok)) {
                s->g_len[n - 1]++;
                continue;
            }
        }
        s->g_start[n] = i;
        s->g_len[n++] = 1;
    }
    *ng = n;
    return 0;
}

static int loglik(struct llm *m, struct mill_request **qs, size_t n, struct mill_err *err) {
    struct ll_state s = {.m = m};
    s.r = calloc(n ? n : 1, sizeof *s.r);
    s.order = malloc((n ? n : 1) * sizeof *s.order);
    int rc = s.r && s.order ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t nv = 0, ng = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        s.r[i].q = qs[i];
        rc = ll_tokens(m, &s.r[i], err);
        if (!rc && !qs[i]->status && s.r[i].n_cont)
            s.order[nv++] = i;
    }
    if (!rc && nv) {
        sort_base = s.r;
        qsort(s.order, nv, sizeof *s.order, cmp_ll);
        rc = group_requests(&s, nv, &ng, err);
    }
    for (size_t g = 0; !rc && g < ng;) {
        int n_prefix;
        size_t k = plan_groups(&s, g, ng, &n_prefix);
        rc = run_groups(&s, g, g + k, n_prefix, err);
        g += k;
    }
    for (size_t i = 0; s.r && i < n; i++)
        free(s.r[i].whole.t);
    free(s.r);
    free(s.order);
    free(s.g_start);
    free(s.g_len);
    free(s.outs);
    free(s.rows);
    return rc;
}

/* Decodes r's tokens in sequence 0 of an emptied cache, scoring every continuation token:
 * the reference path, shared by naive LOGLIK and rolling windows. */
static int score_alone(struct ll_state *s, struct ll_req *r, struct mill_err *err) {
    llama_memory_clear(s->m->mem, true);
    s->m->n_cached = 0;
    batch_clear(&s->m->batch);
    int rc = 0;
    for (int p = 0; !rc && p < r->whole.n - 1; p++) {
        bool out = p >= r->n_ctx_tok - 1;
        rc = add_token(s, r->whole.t[p], p, 0, out, -1, 0, p - (r->n_ctx_tok - 1), err);
    }
    return rc ? rc : flush(s, err);
}

/* The naive path (arg naive=true): every LOGLIK request alone from an empty cache, the whole
 * context decoded each time. Slow on purpose: the reference the fast path is tested and
 * benchmarked against. */
static int loglik_naive(struct llm *m, struct mill_request **qs, size_t n, struct mill_err *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        struct ll_req r = {.q = qs[i]};
        struct ll_state s = {.m = m, .r = &r};
        if ((rc = ll_tokens(m, &r, err)) || qs[i]->status || !r.n_cont) {
            free(r.whole.t);
            continue;
        }
        rc = score_alone(&s, &r, err);
        llama_memory_clear(m->mem, true);
        free(r.whole.t);
        free(s.outs);
        free(s.rows);
    }
    return rc;
}

/* ---- GENERATE ------------------------------------------------------------------------ */

/* One generation slot (sequence seq of the KV cache). q == NULL: free. */
struct gen {
    struct mill_request *q;
    struct mill_buf text;
    struct toks prompt;        /* while being admitted: the tokens the step decodes */
    struct mill_mm_prompt *mp; /* while being admitted: a prompt with media, or NULL */
    int pos0;                  /* position of prompt.t[0] (after the media's prefill) */
    int n_gen, pos, logit_i, seq;
    int reserve;      /* KV cells held for the prompt and the generation budget */
    int n_prompt;     /* KV cells the prompt takes (more than positions under M-RoPE) */
    llama_token next; /* the token the next step feeds */
    bool stop_seen;   /* a stop string occurs in text */
};

/* The prompt as the model sees it: the chat template applied when asked for, the GGUF's own
 * rendered as Jinja (as transformers does) unless chat_template= names one of llama.cpp's. */
static int prompt_text(struct llm *m, const char *ctx, bool chat, struct mill_buf *out,
                       struct mill_err *err) {
    if (!chat && !m->use_chat_template && !m->chat_template)
        return mill_buf_adds(out, ctx) ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
    if (m->chat)
        return mill_chat_user_turn(m->chat, ctx, NULL, 0, NULL, out, err);
    const char *tmpl =
        m->chat_template ? m->chat_template : llama_model_chat_template(m->model, NULL);
    if (!tmpl)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s has no chat template; pass "
                            "chat_template=<name> (e.g. chatml, llama3)",
                            m->name);
    struct llama_chat_message msg = {"user", ctx};
    int cap = (int)strlen(ctx) * 2 + 1024;
    for (int tries = 0; tries < 2; tries++) {
        char *buf = malloc((size_t)cap);
        if (!buf)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        int n = llama_chat_apply_template(tmpl, &msg, 1, true, buf, cap);
        if (n < 0) {
            free(buf);
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "%s: llama.cpp does not recognise this "
                                "chat template; pass chat_template=<name> (e.g. chatml, llama3, "
                                "gemma, phi3)",
                                m->name);
        }
        if (n < cap) {
            int rc = mill_buf_add(out, buf, (size_t)n);
            free(buf);
            return rc ? mill_err_set(err, MILL_ENOMEM, "out of memory") : 0;
        }
        free(buf);
        cap = n + 1;
    }
    return mill_err_set(err, MILL_EBACKEND, "chat template output kept growing");
}

/* New tokens a request may generate. */
static int gen_budget(const struct mill_request *q) {
    return q->max_new_tokens > 0 ? q->max_new_tokens : 256;
}

static int gen_prompt(struct llm *m, struct mill_request *q, struct toks *t, struct mill_err *err) {
    struct mill_buf p = {0};
    int rc = prompt_text(m, q->context ? q->context : "", false, &p, err);
    if (rc == MILL_EFORMAT && m->chat) { /* the template failed on this text: this sample */
        mill_request_fail(q, rc, "%s", err->msg);
        mill_buf_free(&p);
        return 0;
    }
    if (!rc && (m->use_chat_template || m->chat_template))
        MILL_DEBUG("llama", "%s doc %lld prompt: %s", q->task, (long long)q->doc_id, p.p);
    struct toks raw = {0};
    if (!rc)
        rc = tokenize(m, p.p ? p.p : "", p.n, false, true, &raw, err);
    mill_buf_free(&p);
    if (rc)
        return rc;
    bool bos = llama_vocab_get_add_bos(m->vocab) || raw.n == 0;
    /* The prompt keeps its last n_ctx - budget tokens, as lm-eval's; but at least half the
     * window (a budget of n_ctx or more left a one-token prompt), the generation then ending
     * at the window's end. */
    int room = m->n_ctx - gen_budget(q), floor = m->n_ctx / 2 > 1 ? m->n_ctx / 2 : 1;
    if (room < floor && raw.n + (int)bos > room) {
        room = raw.n + (int)bos < floor ? raw.n + (int)bos : floor;
        if (!atomic_exchange(&m->warned_budget, true))
            MILL_WARN("llama",
                      "%s: a budget of %d new tokens leaves a %d-token context too little room "
                      "for the prompt: prompts keep up to %d tokens and generations stop at the "
                      "context's end",
                      m->name, gen_budget(q), m->n_ctx, floor);
    }
    int keep = raw.n + bos > room ? room - bos : raw.n;
    if (keep < 0)
        keep = 0;
    q->n_truncated = raw.n - keep;
    t->t = malloc((size_t)(keep + 1) * sizeof *t->t);
    if (!t->t) {
        free(raw.t);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    t->n = 0;
    if (bos)
        t->t[t->n++] =
            llama_vocab_bos(m->vocab) >= 0 ? llama_vocab_bos(m->vocab) : llama_vocab_eos(m->vocab);
    memcpy(t->t + t->n, raw.t + (raw.n - keep), (size_t)keep * sizeof *raw.t);
    t->n += keep;
    free(raw.t);
    return 0;
}

/* A prompt with media, as Mill's multimodal path builds it: one user turn holding the media
 * (one marker each) and then the text, always through the chat template; then `answer` (NULL:
 * none), the assistant's text a log-likelihood scores; the media, decoded after the template
 * is rendered, become libmtmd chunks. keep: NULL, or where q's decoded media are kept for the
 * next prompt of the same request (decoded into *keep when it is NULL). A medium that will
 * not decode or a prompt that cannot fit fails the request alone (*failed); a model without
 * a projector or a template fails the run. */
static int mm_prompt(struct llm *m, struct mill_request *q, const char *answer,
                     struct mill_mm_media **keep, struct mill_mm_prompt **out, bool *failed,
                     struct mill_err *err) {
    if (!m->mm)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s has no multimodal projector for this task's media; pass "
                            "mmproj=<file.gguf>",
                            m->name);
    struct mill_buf text = {0}, p = {0};
    int rc;
    if (m->chat) {
        struct mill_err te = {0};
        rc = mill_chat_user_turn(m->chat, q->context ? q->context : "", q->media, q->n_media,
                                 mill_mm_marker(), &p, &te);
        if (rc == MILL_EFORMAT) { /* the template failed on this sample: it fails alone */
            *failed = true;
            mill_request_fail(q, rc, "%s", te.msg);
            mill_buf_free(&p);
            return 0;
        }
        if (rc)
            rc = mill_err_set(err, rc, "%s", te.msg);
    } else {
        for (size_t i = 0; i < q->n_media; i++)
            mill_buf_adds(&text, mill_mm_marker());
        rc = mill_buf_adds(&text, q->context ? q->context : "")
                 ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                 : prompt_text(m, text.p, true, &p, err);
    }
    if (!rc && answer && mill_buf_adds(&p, answer))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    struct mill_err e = {0};
    if (!rc)
        MILL_DEBUG("llama", "%s doc %lld prompt: %s", q->task, (long long)q->doc_id, p.p);
    struct mill_mm_media *own = NULL, **dec = keep ? keep : &own;
    size_t whole = 0; /* tokens of its largest medium decoded whole */
    if (!rc && ((!*dec && mill_mm_media_decode(m->mm, q->media, q->n_media, dec, &e)) ||
                mill_mm_prompt_make(m->mm, p.p, *dec, out, &e))) {
        *failed = true;
        mill_request_fail(q, e.code, "%s", e.msg);
    } else if (!rc && (whole = mill_mm_prompt_max_whole(m->mm, *out)) > (size_t)m->n_ubatch) {
        *failed = true; /* llama_decode would abort the process on it */
        mill_request_fail(q, MILL_EINVAL,
                          "a medium of %zu tokens, which this projector's attention needs in "
                          "one micro-batch of at most %d",
                          whole, m->n_ubatch);
    } else if (!rc && (int64_t)mill_mm_prompt_n_tokens(*out) >= m->n_ctx) {
        *failed = true;
        mill_request_fail(q, MILL_EINVAL,
                          "the prompt takes %zu tokens with its media, which leaves no room "
                          "in the context of %d (media cannot be cut; raise "
                          "max_context_length)",
                          mill_mm_prompt_n_tokens(*out), m->n_ctx);
        mill_mm_prompt_free(*out);
        *out = NULL;
    }
    mill_mm_media_free(own);
    mill_buf_free(&text);
    mill_buf_free(&p);
    return rc;
}

/* Appends the token's bytes (a piece longer than the stack buffer is asked for again at its
 * size); true when generation must stop: the stop strings' cut is decided (mill_stop_decided:
 * Python Mill generates on and cuts after, with the same text as the result), or the cap.
 * Until some stop occurs, only the bytes a stop could newly end in are searched. The search
 * runs on the raw bytes, before Python's UTF-8 repair: a stop string that is valid UTF-8 and
 * holds no U+FFFD occurs in one exactly where it occurs in the other. One holding U+FFFD can
 * only match the repaired text: mill_stop_decided then waits for it, and
 * mill_request_set_text cuts the repaired text at the end, so the text is Python's either
 * way. */
static bool gen_step(struct llm *m, struct gen *g, llama_token tok) {
    char small[256], *piece = small;
    int n = llama_token_to_piece(m->vocab, tok, piece, sizeof small, 0, false);
    if (n < 0 && (piece = malloc((size_t)-n)) != NULL)
        n = llama_token_to_piece(m->vocab, tok, piece, -n, 0, false);
    size_t before = g->text.n;
    if (n > 0)
        mill_buf_add(&g->text, piece, (size_t)n);
    if (piece != small)
        free(piece);
    g->n_gen++;
    const char *const *stop = g->q->stop;
    size_t longest = 0;
    for (const char *const *s = stop; s && *s; s++)
        longest = strlen(*s) > longest ? strlen(*s) : longest;
    size_t win = before >= longest ? before - longest + 1 : 0;
    if (stop && *stop && !g->stop_seen && g->text.p)
        g->stop_seen = mill_stop_cut(g->text.p + win, g->text.n - win, stop) < g->text.n - win;
    size_t cut;
    if (g->stop_seen && mill_stop_decided(g->text.p, g->text.n, stop, &cut)) {
        g->text.n = cut;
        return true;
    }
    /* the context limit in positions and in cells (an image under M-RoPE takes fewer positions
     * than cells): the sequence never outgrows the cells it reserved */
    return g->n_gen >= gen_budget(g->q) || g->pos >= m->n_ctx || g->n_prompt + g->n_gen > m->n_ctx;
}

/* Queues the prompts of fresh[0..n) but their last tokens, logits off, decoding full batches
 * on the way, and leaves room in the batch for `room` more tokens: the step that follows adds
 * every live sequence's next token (a fresh one's last prompt token) to the same decode, so
 * admitting a request costs no decode of its own (llama-server mixes its batches alike). */
static int gen_prefill(struct llm *m, struct gen **fresh, size_t n, int room,
                       struct mill_err *err) {
    int rc = 0;
    batch_clear(&m->batch);
    for (size_t i = 0; !rc && i < n; i++)
        for (int p = 0; !rc && p < fresh[i]->prompt.n - 1; p++) {
            if (m->batch.n_tokens == m->n_batch) {
                rc = decode(m, err);
                batch_clear(&m->batch);
            }
            batch_add(&m->batch, fresh[i]->prompt.t[p], fresh[i]->pos0 + p, fresh[i]->seq, false);
        }
    if (!rc && m->batch.n_tokens > m->n_batch - room) {
        rc = decode(m, err);
        batch_clear(&m->batch);
    }
    return rc;
}

/* Generation with continuous batching: up to `per` sequences decode together, one token each
 * per step; a sequence that stops hands its slot (and its KV cells) to the next request, whose
 * prompt goes into the next step's decode (its last token with logits). A request is admitted
 * only while the KV cells reserved for prompts plus generation budgets fit the cache, so long
 * generations never run it out of cells. */
struct gen_run {
    struct llm *m;
    struct mill_request **qs;
    size_t n, next, per, active;
    struct gen *slots, **fresh;
    struct toks pend;               /* the next request's prompt, tokenised once */
    struct mill_mm_prompt *pend_mm; /* or, with media, its chunks */
    bool pend_ok;
    long reserved;
};

/* Reads each live slot's logits from the last decode: the next token, or the end. */
static int gen_advance(struct gen_run *r, struct mill_err *err) {
    struct llm *m = r->m;
    for (size_t i = 0; i < r->per; i++) {
        struct gen *g = &r->slots[i];
        if (!g->q)
            continue;
        const float *row = llama_get_logits_ith(m->ctx, g->logit_i);
        if (!row)
            return mill_err_set(err, MILL_EBACKEND, "llama.cpp returned no logits");
        int am = (int)mill_argmax_f32(row, (size_t)m->n_vocab);
        if (!llama_vocab_is_eog(m->vocab, am) && !gen_step(m, g, am)) {
            g->next = am;
            continue;
        }
        int rc = mill_request_set_text(g->q, g->text.p ? g->text.p : "", g->text.n);
        mill_buf_free(&g->text);
        if (rc)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        llama_memory_seq_rm(m->mem, g->seq, -1, -1);
        r->reserved -= g->reserve;
        r->active--;
        int seq = g->seq;
        memset(g, 0, sizeof *g);
        g->seq = seq;
    }
    return 0;
}

/* Prepares the next request that can run: text tokens, or media chunks; a request whose
 * media fail is answered with its error and skipped. */
static int gen_pend_next(struct gen_run *r, struct mill_err *err) {
    while (r->next < r->n) {
        struct mill_request *q = r->qs[r->next];
        bool failed = q->status != 0; /* by prepare */
        struct ll_req pre = {.q = q};
        int rc = failed            ? 0
                 : take_prep(&pre) ? (r->pend = pre.whole, r->pend_mm = pre.mp, 0)
                 : q->n_media      ? mm_prompt(r->m, q, NULL, NULL, &r->pend_mm, &failed, err)
                                   : gen_prompt(r->m, q, &r->pend, err);
        if (rc)
            return rc;
        if (!failed) {
            r->pend_ok = true;
            return 0;
        }
        r->next++;
    }
    return 0;
}

/* Moves waiting requests into free slots while their KV reservations fit; returns how many. */
static int gen_admit(struct gen_run *r, size_t *n_fresh, struct mill_err *err) {
    struct llm *m = r->m;
    *n_fresh = 0;
    for (size_t i = 0; i < r->per && r->next < r->n; i++) {
        struct gen *g = &r->slots[i];
        if (g->q)
            continue;
        int rc = r->pend_ok ? 0 : gen_pend_next(r, err);
        if (rc || !r->pend_ok)
            return rc;
        int budget = gen_budget(r->qs[r->next]);
        int n_prompt = r->pend_mm ? (int)mill_mm_prompt_n_tokens(r->pend_mm) : r->pend.n;
        int need = n_prompt + (budget < m->n_ctx ? budget : m->n_ctx); /* no int overflow */
        need = (need < m->n_ctx ? need : m->n_ctx) + 1;
        if (r->active && r->reserved + need > m->kv_size)
            break; /* wait for running sequences to free their cells */
        g->q = r->qs[r->next++];
        g->prompt = r->pend;
        g->mp = r->pend_mm;
        g->pos0 = 0;
        g->reserve = need;
        g->n_prompt = n_prompt;
        r->pend = (struct toks){0};
        r->pend_mm = NULL;
        r->pend_ok = false;
        r->reserved += need;
        r->active++;
        r->fresh[(*n_fresh)++] = g;
    }
    return 0;
}

/* Puts the chat template's opening (the text before a prompt's first medium, at most n_batch
 * tokens) into seq: sequence 0 holds it, decoded once for every prompt that opens the same
 * way, and its cells are shared (llama_memory_seq_cp). Generation leaves sequence 0 to this; log-likelihood's
 * shared prefix replaces it later (m->n_cached is 0 after generation). */
static int share_head(struct llm *m, const llama_token *head, int n, int seq,
                      struct mill_err *err) {
    if (m->n_mm_head != n || memcmp(m->mm_head, head, (size_t)n * sizeof *head)) {
        llama_token *h = realloc(m->mm_head, (size_t)n * sizeof *h);
        if (!h)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        m->mm_head = h;
        m->n_mm_head = 0;
        llama_memory_seq_rm(m->mem, 0, -1, -1);
        batch_clear(&m->batch);
        for (int i = 0; i < n; i++)
            batch_add(&m->batch, head[i], i, 0, false);
        int rc = decode(m, err);
        batch_clear(&m->batch);
        if (rc)
            return rc;
        memcpy(m->mm_head, head, (size_t)n * sizeof *head);
        m->n_mm_head = n;
    }
    llama_memory_seq_cp(m->mem, 0, seq, -1, -1);
    return 0;
}

/* Decodes the media part of each fresh slot's prompt into its sequence; its trailing text
 * becomes the slot's prompt tokens, decoded by the step like any text prompt. */
static int gen_mm_prefill(struct llm *m, struct gen **fresh, size_t n, struct mill_err *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        struct gen *g = fresh[i];
        if (!g->mp)
            continue;
        int nt = 0, nh = 0;
        const llama_token *tail = mill_mm_prompt_tail(g->mp, &nt);
        const llama_token *head = mill_mm_prompt_head(g->mp, &nh);
        /* an opening longer than a batch (a long system prompt) is decoded with the prompt */
        bool shared = head && nh <= m->n_batch && (rc = share_head(m, head, nh, g->seq, err)) == 0;
        if (!rc)
            rc = mill_mm_prompt_prefill(m->mm, m->ctx, g->mp, g->seq, m->n_batch, shared, &g->pos0,
                                        &m->mst, err);
        if (!rc && !(g->prompt.t = malloc((size_t)nt * sizeof *tail)))
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        if (!rc) {
            memcpy(g->prompt.t, tail, (size_t)nt * sizeof *tail);
            g->prompt.n = nt;
        }
        mill_mm_prompt_free(g->mp);
        g->mp = NULL;
    }
    return rc;
}

/* One decode: the fresh slots' prompts, then the next token of every continuing slot and the
 * last prompt token of every fresh one, each with its logits. */
static int gen_step_batch(struct gen_run *r, size_t n_fresh, struct mill_err *err) {
    struct llm *m = r->m;
    int rc = gen_mm_prefill(m, r->fresh, n_fresh, err);
    if (!rc)
        rc = gen_prefill(m, r->fresh, n_fresh, (int)r->active, err);
    for (size_t i = 0; !rc && i < r->per; i++) {
        struct gen *g = &r->slots[i];
        if (!g->q)
            continue;
        g->logit_i = m->batch.n_tokens;
        if (g->prompt.t) { /* fresh: the prompt's last token */
            batch_add(&m->batch, g->prompt.t[g->prompt.n - 1], g->pos0 + g->prompt.n - 1, g->seq,
                      true);
            g->pos = g->pos0 + g->prompt.n;
            free(g->prompt.t);
            g->prompt = (struct toks){0};
        } else {
            batch_add(&m->batch, g->next, g->pos++, g->seq, true);
        }
    }
    if (!rc)
        rc = decode(m, err);
    return rc;
}

static int generate(struct llm *m, struct mill_request **qs, size_t n, struct mill_err *err) {
    size_t per = (size_t)m->n_seq - 2; /* batch_size sequences, as loglik uses */
    if (per > 255)
        per = 255;
    struct gen_run r = {.m = m, .qs = qs, .n = n, .per = per};
    r.slots = calloc(per, sizeof *r.slots);
    r.fresh = calloc(per, sizeof *r.fresh);
    int rc = r.slots && r.fresh ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < per; i++)
        r.slots[i].seq = 1 + (int)i;
    for (size_t i = 0; i < n; i++) /* Python Mill's _decode_multimodal cuts at no stop string */
        if (qs[i]->n_media)
            qs[i]->stop = NULL;
    /* The whole cache is for generation: log-likelihood's shared prefix in sequence 0 goes
     * too, so the admission count below is the truth. */
    drop_seqs(m, 0, m->n_seq - 1);
    m->n_cached = 0;
    m->n_mm_head = 0;
    bool first = true;
    while (!rc && (r.active || r.next < n)) {
        if (!first)
            rc = gen_advance(&r, err);
        first = false;
        size_t n_fresh = 0;
        if (!rc)
            rc = gen_admit(&r, &n_fresh, err);
        if (!rc && r.active)
            rc = gen_step_batch(&r, n_fresh, err);
    }
    for (size_t i = 0; r.slots && i < per; i++) {
        mill_buf_free(&r.slots[i].text);
        free(r.slots[i].prompt.t);
        mill_mm_prompt_free(r.slots[i].mp);
    }
    free(r.pend.t);
    mill_mm_prompt_free(r.pend_mm);
    drop_seqs(m, 1, m->n_seq - 1);
    free(r.slots);
    free(r.fresh);
    return rc;
}

/* ---- LOGLIK with media ---------------------------------------------------------------- */

/* What sequence 1 holds for a doc: a doc's choices share their media and context, so the
 * media are read and decoded from their files once, encoded and prefilled once for all of
 * them, and the context's text after the last medium once but its last token. */
struct mm_kept {
    const struct mill_request *q; /* whose prompt; NULL: none */
    struct mill_mm_media *media;  /* q's media, decoded */
    int pos0;                     /* where the trailing text starts */
    size_t n_prompt;              /* tokens of the prompt without a continuation */
    struct toks tail;             /* the prompt's text after its last medium */
    int n_done;                   /* of which decoded in sequence 1 */
};

static bool same_prompt(const struct mill_request *a, const struct mill_request *b) {
    return a && a->media == b->media && a->n_media == b->n_media &&
           !strcmp(a->context ? a->context : "", b->context ? b->context : "");
}

/* Makes sequence 1 hold q's prompt up to its trailing text (k says what it holds): the prompt
 * without a continuation made, its media prefilled, its trailing tokens kept in k. */
static int mm_kept_prompt(struct llm *m, struct mill_request *q, struct mm_kept *k, bool *failed,
                          struct mill_err *err) {
    if (!m->naive && same_prompt(k->q, q))
        return 0;
    struct mill_mm_prompt *ctx = NULL;
    llama_memory_seq_rm(m->mem, 1, -1, -1);
    k->q = NULL;
    k->n_done = 0;
    mill_mm_media_free(k->media);
    k->media = NULL;
    int rc = mm_prompt(m, q, NULL, &k->media, &ctx, failed, err), nt = 0;
    const llama_token *tail = ctx ? mill_mm_prompt_tail(ctx, &nt) : NULL;
    if (!rc && !*failed && nt < 1) {
        *failed = true;
        mill_request_fail(q, MILL_EINVAL, "the prompt has no text after its last medium");
    }
    if (!rc && !*failed) {
        k->n_prompt = mill_mm_prompt_n_tokens(ctx);
        llama_token *t = realloc(k->tail.t, (size_t)nt * sizeof *t);
        if (!t)
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        else {
            memcpy(t, tail, (size_t)nt * sizeof *t);
            k->tail.t = t;
            k->tail.n = nt;
            rc = mill_mm_prompt_prefill(m->mm, m->ctx, ctx, 1, m->n_batch, false, &k->pos0, &m->mst,
                                        err);
            k->q = rc ? NULL : q;
        }
    }
    mill_mm_prompt_free(ctx);
    return rc;
}

/* The continuation's log-likelihood after a prompt with media, as lmms-eval scores one: the
 * continuation is the assistant's answer to the generation prompt (mm_prompt: the media and
 * the context in one user turn, through the chat template). lm-eval's split: the prompt's own
 * tokens, then what prompt + continuation takes beyond them (both end in the same text chunk
 * after the last medium). The prompt's trailing text stays in sequence 1 for the doc's next
 * choice but its last token, whose logits score the continuation's first. A request the prompt
 * fails is failed alone. */
static int loglik_media_one(struct llm *m, struct mill_request *q, struct mm_kept *k,
                            struct mill_err *err) {
    bool failed = false;
    struct mill_mm_prompt *whole = NULL;
    int rc = mm_kept_prompt(m, q, k, &failed, err);
    if (!rc && !failed)
        rc = mm_prompt(m, q, q->continuation ? q->continuation : "", &k->media, &whole, &failed,
                       err);
    int nw = 0;
    const llama_token *wt = whole ? mill_mm_prompt_tail(whole, &nw) : NULL;
    int n_cont = whole ? (int)mill_mm_prompt_n_tokens(whole) - (int)k->n_prompt : 0;
    bool empty = !q->continuation || !*q->continuation;
    if (!rc && !failed && n_cont == 0 && empty) { /* a sum over no token, as the text path's */
        failed = true;                            /* nothing to decode */
        q->logprob = 0;
        q->is_greedy = true;
        q->n_tokens = 0;
    } else if (!rc && !failed && (n_cont < 1 || n_cont > nw)) {
        failed = true;
        mill_request_fail(q, MILL_EINVAL,
                          n_cont < 1 ? "the continuation adds no token to the prompt"
                                     : "the continuation is not text after the prompt's last "
                                       "medium");
    }
    /* the prompt's trailing tokens, then the answer's, scored as the text path scores */
    int nc = k->tail.n, n = nc + n_cont;
    struct ll_req r = {.q = q, .n_ctx_tok = nc, .n_cont = n_cont};
    struct ll_state s = {.m = m, .r = &r};
    r.whole.t = !rc && !failed ? malloc((size_t)n * sizeof *r.whole.t) : NULL;
    if (!rc && !failed && !r.whole.t)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    llama_token *seq = r.whole.t;
    if (seq) {
        memcpy(seq, k->tail.t, (size_t)nc * sizeof *seq);
        memcpy(seq + nc, wt + nw - n_cont, (size_t)n_cont * sizeof *seq);
        r.whole.n = n;
        q->logprob = 0;
        q->is_greedy = true;
        q->n_tokens = n_cont;
        batch_clear(&m->batch);
        for (int i = k->n_done; !rc && i < n - 1; i++)
            rc = add_token(&s, seq[i], k->pos0 + i, 1, i >= nc - 1, -1, 0, i - (nc - 1), err);
        if (!rc)
            rc = flush(&s, err);
    }
    /* keep the prompt's trailing text but its last token; a memory that cannot drop part of a
     * sequence (recurrent) drops it all */
    if (seq && k->q) {
        k->n_done = nc - 1;
        if (!llama_memory_seq_rm(m->mem, 1, k->pos0 + k->n_done, -1)) {
            llama_memory_seq_rm(m->mem, 1, -1, -1);
            k->q = NULL;
        }
    }
    free(seq);
    free(s.outs);
    free(s.rows);
    mill_mm_prompt_free(whole);
    return rc;
}

/* LOGLIK requests with media, in order, in sequence 1 of an emptied cache: media prompts share
 * no prefix with text ones. naive=true prefills every request alone. */
static int loglik_media(struct llm *m, struct mill_request **qs, size_t n, struct mill_err *err) {
    if (!m->mm)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "%s has no multimodal projector for this task's media; pass "
                            "mmproj=<file.gguf>",
                            m->name);
    llama_memory_clear(m->mem, true);
    m->n_cached = 0;
    m->n_mm_head = 0;
    struct mm_kept k = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = loglik_media_one(m, qs[i], &k, err);
    llama_memory_seq_rm(m->mem, 1, -1, -1);
    free(k.tail.t);
    mill_mm_media_free(k.media);
    return rc;
}

/* ---- ROLLING ------------------------------------------------------------------------- */

/* lm-eval's get_rolling_token_windows + make_disjoint_window with context_len 1: the first
 * window predicts tokens[0..w) from [prefix] + tokens[0..w-1); each next window predicts the
 * following max_len tokens from the tokens before them. */
static int rolling_one(struct llm *m, struct mill_request *q, struct mill_err *err) {
    struct toks t;
    int rc = tokenize(m, q->context ? q->context : "", q->context ? strlen(q->context) : 0, false,
                      true, &t, err);
    if (rc)
        return rc;
    llama_token prefix =
        llama_vocab_bos(m->vocab) >= 0 ? llama_vocab_bos(m->vocab) : llama_vocab_eos(m->vocab);
    struct ll_req r = {.q = q};
    struct ll_state s = {.m = m, .r = &r};
    q->logprob = 0;
    q->is_greedy = true;
    q->n_tokens = t.n;
    int max_len = m->n_ctx, done = 0;
    r.whole.t = malloc((size_t)(max_len + 1) * sizeof *r.whole.t);
    if (!r.whole.t)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    while (!rc && done < t.n) {
        int pred = t.n - done < max_len ? t.n - done : max_len;
        int ctx_start = done + pred - max_len - 1; /* index in t; -1 means the prefix */
        if (done == 0 || ctx_start < -1)
            ctx_start = -1;
        r.whole.n = 0;
        for (int i = ctx_start; i < done + pred; i++)
            r.whole.t[r.whole.n++] = i < 0 ? prefix : t.t[i];
        r.n_cont = pred;
        r.n_ctx_tok = r.whole.n - pred;
        rc = score_alone(&s, &r, err);
        done += pred;
    }
    llama_memory_clear(m->mem, true);
    free(r.whole.t);
    free(s.outs);
    free(s.rows);
    free(t.t);
    return rc;
}

/* ---- the backend interface ------------------------------------------------------------ */

/* Answers a batch: log-likelihood requests with media, then those without together, then
 * generations; rolling ones alone. */
static int run_batch(struct llm *m, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct mill_request **ll = malloc((n ? n : 1) * sizeof *ll);
    struct mill_request **gn = malloc((n ? n : 1) * sizeof *gn);
    struct mill_request **lm = malloc((n ? n : 1) * sizeof *lm);
    int rc = ll && gn && lm ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t nl = 0, ng = 0, nm = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (reqs[i].n_media && reqs[i].kind == MILL_REQ_LOGLIK)
            lm[nm++] = &reqs[i];
        else if (reqs[i].n_media && reqs[i].kind != MILL_REQ_GENERATE)
            mill_request_fail(&reqs[i], MILL_EUNSUPPORTED,
                              "the llama backend takes media in generation and log-likelihood "
                              "requests only");
        else if (reqs[i].kind == MILL_REQ_LOGLIK)
            ll[nl++] = &reqs[i];
        else if (reqs[i].kind == MILL_REQ_GENERATE)
            gn[ng++] = &reqs[i];
        else if (reqs[i].kind == MILL_REQ_ROLLING)
            rc = rolling_one(m, &reqs[i], err);
        else
            mill_request_fail(&reqs[i], MILL_EUNSUPPORTED, "the llama backend cannot classify");
    }
    if (!rc && nm)
        rc = loglik_media(m, lm, nm, err);
    if (!rc && nl)
        rc = m->naive ? loglik_naive(m, ll, nl, err) : loglik(m, ll, nl, err);
    if (!rc && ng)
        rc = generate(m, gn, ng, err);
    free(ll);
    free(gn);
    free(lm);
    return rc;
}

static int llm_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct llm *m = state;
    atomic_store(&m->running, true);
    double t0 = mill_clock_s();
    int rc = run_batch(m, reqs, n, err);
    m->run_s += mill_clock_s() - t0;
    atomic_store(&m->running, false);
    return rc;
}

/* Embeddings prepare keeps encoded ahead per batch, at most; the rest encode at admission. */
#define PREP_EMBD_MAX ((size_t)512 << 20)

/* A generation prompt with media, made (and with encode_ahead, encoded) by prepare; a request
 * whose media fail is failed here, as run would fail it. */
static int prep_media(struct llm *m, struct ll_req *r, size_t *embd_left, struct mill_err *err) {
    bool failed = false;
    int rc = m->mm ? mm_prompt(m, r->q, NULL, NULL, &r->mp, &failed, err) : 0;
    if (rc || failed || !r->mp || !m->encode_ahead)
        return rc;
    size_t need = mill_mm_prompt_embd_bytes(m->mm, r->mp);
    if (need > *embd_left)
        return 0;
    *embd_left -= need;
    return mill_mm_prompt_encode(m->mm, r->mp, true, err);
}

/* One request prepared with tokeniser tok (lock: its mutex, or NULL when only this thread
 * uses it) into a malloc'd ll_req in q->prep; a request that fails is failed in its status. */
static int prep_one(struct llm *m, struct mill_tok *tok, pthread_mutex_t *lock,
                    struct mill_request *q, size_t *embd_left, struct mill_err *err) {
    struct ll_req r = {.q = q};
    int rc = 0;
    if (q->prep || q->status || (q->n_media && q->kind != MILL_REQ_GENERATE))
        return 0;
    if (q->n_media)
        rc = prep_media(m, &r, embd_left, err);
    else if (q->kind == MILL_REQ_LOGLIK)
        rc = prep_loglik_with(m, tok, lock, &r, err);
    else if (q->kind == MILL_REQ_GENERATE)
        rc = gen_prompt(m, q, &r.whole, err);
    struct ll_req *p = NULL;
    if (!rc && !q->status && (r.whole.t || r.mp) && !(p = malloc(sizeof *p)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!p) {
        free(r.whole.t);
        mill_mm_prompt_free(r.mp);
        return rc;
    }
    *p = r;
    q->prep = p;
    q->prep_free = prep_free;
    return 0;
}

/* Requests [from, to) of a batch, prepared on one thread with one tokeniser. */
struct prep_slice {
    struct llm *m;
    struct mill_tok *tok;
    pthread_mutex_t *lock;
    struct mill_request *reqs;
    size_t from, to, embd_left;
    int rc;
    struct mill_err err;
};

static void *prep_slice_run(void *arg) {
    struct prep_slice *sl = arg;
    for (size_t i = sl->from; !sl->rc && i < sl->to; i++)
        sl->rc = prep_one(sl->m, sl->tok, sl->lock, &sl->reqs[i], &sl->embd_left, &sl->err);
    return NULL;
}

/* Prepares a batch ahead of run (the runner's pipeline: this runs while run answers the
 * previous batch): LOGLIK pairs as prep_loglik does, text generation prompts tokenised, and
 * media prompts decoded into chunks, their media encoded with encode_ahead (up to
 * PREP_EMBD_MAX of embeddings). Touches the vocabulary, the tokenisers and the projector
 * (under its own lock), never the context. When run is not answering a batch on the CPU (a
 * job's first batch; or a GPU decodes), the batch is cut into slices of at least 32 requests
 * prepared on up to `threads` threads, each slice with a tokeniser of its own (the first with
 * the one run shares, under tok_lock): the tokens do not depend on the slicing. */
static int llm_prepare(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct llm *m = state;
    bool idle_cpu = !atomic_load(&m->running) || m->n_gpu_layers != 0;
    size_t k = idle_cpu ? 1 + (size_t)m->n_tok_more : 1;
    if (k > n / 32)
        k = n / 32 ? n / 32 : 1;
    struct prep_slice sl[PREP_THREADS];
    for (size_t t = 0; t < k; t++)
        sl[t] = (struct prep_slice){.m = m,
                                    .tok = t ? m->tok_more[t - 1] : m->tok,
                                    .lock = t ? NULL : &m->tok_lock,
                                    .reqs = reqs,
                                    .from = n * t / k,
                                    .to = n * (t + 1) / k,
                                    .embd_left = PREP_EMBD_MAX / k};
    mill_fork_join(prep_slice_run, sl, sizeof *sl, k);
    m->n_prep_sliced += k > 1;
    for (size_t t = 0; t < k; t++)
        if (sl[t].rc) {
            *err = sl[t].err;
            return sl[t].rc;
        }
    return 0;
}

/* "off", "auto" or "on" for the one kind of context that decoded in a job; "mixed", "unused". */
static const char *fa_used_name(unsigned used) {
    for (int k = FA_AUTO; k <= FA_OFF; k++)
        if (used == 1u << k)
            return fa_names[k];
    return used ? "mixed" : "unused";
}

/* The tokenisers' counters, summed. */
static struct mill_tok_stats tok_stats(const struct llm *m) {
    struct mill_tok_stats ts = m->tok ? mill_tok_stats(m->tok) : (struct mill_tok_stats){0};
    for (int i = 0; i < m->n_tok_more; i++) {
        struct mill_tok_stats o = mill_tok_stats(m->tok_more[i]);
        ts.fast += o.fast;
        ts.whole += o.whole;
        ts.bytes += o.bytes;
        ts.seconds += o.seconds;
    }
    return ts;
}

/* The projector's members of the provenance record: its digest and what it encoded since the
 * last record, and how much of it ahead (on the prepare thread, encode_ahead) rather than when
 * a prompt was admitted. */
static int mm_provenance(struct llm *m, struct mill_buf *out) {
    struct mill_mm_encodes e = {0};
    if (m->mm)
        mill_mm_take_encodes(m->mm, &e);
    return mill_buf_addf(out,
                         ",\"mmproj_sha256\":\"%s\",\"media_encoded\":%lld,"
                         "\"media_encoded_ahead\":%lld,\"media_encode_seconds\":%.3f",
                         m->mmproj_sha256, e.n_media, e.n_ahead, e.seconds);
}

static int llm_provenance(void *state, struct mill_buf *out) {
    struct llm *m = state;
    mill_buf_adds(out, "\"model_file\":");
    mill_buf_add_json_str(out, m->gguf ? m->gguf : "", m->gguf ? strlen(m->gguf) : 0);
    int rc =
        mill_buf_addf(out,
                      ",\"model_sha256\":\"%s\",\"context_length\":%d,"
                      "\"llama_cpp\":\"0.5.0 (node-llama-cpp 3.22.1 bundle)\","
                      "\"n_gpu_layers\":%lld,\"llama_decode_calls\":%lld,"
                      "\"tokens_decoded\":%lld,\"decode_seconds\":%.3f,"
                      "\"model_load_seconds\":%.3f,\"run_seconds\":%.3f,"
                      "\"flash_attn\":\"%s\"",
                      m->sha256, m->n_ctx, (long long)m->n_gpu_layers,
                      m->n_decodes + m->mst.n_decodes, m->n_tokens + m->mst.n_tokens,
                      m->decode_s + m->mst.decode_s, m->load_s, m->run_s, fa_used_name(m->fa_used));
    if (!rc && m->mmproj) {
        rc = mill_buf_adds(out, ",\"mmproj_file\":");
        if (!rc)
            rc = mill_buf_add_json_str(out, m->mmproj, strlen(m->mmproj));
        if (!rc)
            rc = mm_provenance(m, out);
    }
    if (!rc && m->conv.gguf && !(rc = mill_buf_adds(out, ",")))
        rc = mill_hf_conversion_json(&m->conv, out);
    struct mill_tok_stats ts = tok_stats(m);
    if (!rc && m->tok)
        rc = mill_buf_addf(out,
                           ",\"tokenize_seconds\":%.3f,\"tokenized_bytes\":%lld,"
                           "\"pairs_from_pieces\":%lld,\"pairs_tokenized_whole\":%lld,"
                           "\"batches_prepared_in_slices\":%lld",
                           ts.seconds - m->tok_seen.seconds, ts.bytes - m->tok_seen.bytes,
                           ts.fast - m->tok_seen.fast, ts.whole - m->tok_seen.whole,
                           m->n_prep_sliced);
    m->n_prep_sliced = 0;
    m->tok_seen = ts;
    m->fa_used = 0;
    m->n_decodes = m->n_tokens = 0;
    m->decode_s = m->load_s = m->run_s = 0;
    m->mst = (struct mill_mm_stats){0};
    if (!rc && m->n_rpc) {
        rc = mill_buf_adds(out, ",\"rpc_servers\":[");
        for (size_t i = 0; i < m->n_rpc && !rc; i++)
            if (!(rc = mill_buf_adds(out, i ? "," : "")))
                rc = mill_buf_add_json_str(out, m->rpc[i], strlen(m->rpc[i]));
        if (!rc)
            rc = mill_buf_adds(out, "]");
    }
    return rc;
}

static void llm_close(void *state) {
    struct llm *m = state;
    if (!m)
        return;
    free_context(m);
    if (m->model)
        llama_model_free(m->model);
    free(m->cached);
    free(m->mm_head);
    mill_tok_free(m->tok);
    for (int i = 0; i < m->n_tok_more; i++)
        mill_tok_free(m->tok_more[i]);
    pthread_mutex_destroy(&m->tok_lock);
    mill_mm_close(m->mm);
    mill_chat_free(m->chat);
    free(m->mmproj);
    mill_hub_listing_free(&m->hub_l);
    free(m->hub_repo);
    free(m->hub_why);
    mill_hf_conversion_free(&m->conv);
    free(m->gguf);
    free(m->name);
    free(m->cache_dir);
    mill_spec_free_args(llama_args, m);
    mill_rpc_free(m->rpc, m->n_rpc);
    free(m);
}

static const char *const llm_aliases[] = {"gguf", "hf", "huggingface", "transformers", NULL};

const struct mill_backend_ops mill_backend_llama = {
    .name = "llama",
    .aliases = llm_aliases,
    .args = llama_args,
    .open = llm_open,
    .caps = llm_caps,
    .model_name = llm_model_name,
    .load = llm_load,
    .run = llm_run,
    .prepare = llm_prepare,
    .provenance = llm_provenance,
    .close = llm_close,
};
