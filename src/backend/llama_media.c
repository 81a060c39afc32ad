/* llama_media.c: media prompts for the llama backend through libmtmd (llama_media.h).
 *
 * With llama.c and llama_rpc.c, the only files that include llama.cpp's headers. Images are
 * decoded by data/image.c (Pillow's pixels, as Mill's processors see them) and handed to
 * libmtmd as RGB bitmaps; libmtmd resizes, normalises and encodes them as the projector's
 * model wants. Audio is decoded by data/audio.c (libsndfile, mono, resampled to the projector's
 * rate as Python Mill's librosa.resample does it: libsoxr's HQ, the length fixed) and handed
 * over as PCM; libmtmd computes the log-mel spectrogram and cuts a long clip into the
 * encoder's windows (30 s for Whisper-style encoders), each a chunk of its own. What a projector takes is read
 * from its GGUF header by libmtmd (mtmd_get_cap_from_file, no load): a local file's, or, for a
 * file still on the Hub, a prefix of it fetched with byte ranges (data/hub.h) into a temporary
 * file, so a model is refused a modality before anything is downloaded. */
#include "backend/llama_media.h"
#include "backend/llama_rpc.h"

#include "core/log.h"
#include "data/audio.h"
#include "data/hub.h"
#include "data/image.h"

#include <mtmd-helper.h>
#include <mtmd.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A medium given by path is read whole, up to this size. */
#define MEDIA_MAX_BYTES (256u << 20)
/* A Hub projector's header is read in prefixes from this size, doubled up to the cap: a
 * projector's keys and tensor infos take tens of KiB. */
#define HEADER_FIRST ((size_t)256 << 10)
#define HEADER_MAX ((size_t)16 << 20)

/* Where a medium goes in a prompt's text: not mtmd's default "<__media__>", which a dataset's own
 * text may hold (that text is the question's, tokenised as text); control bytes no text has. */
#define MARKER "<\x1fmill-media\x1f>"

struct mill_mm {
    mtmd_context *ctx;
    unsigned modalities;
    int n_embd; /* floats per media token (the language model's input width) */
    /* ctx's tokeniser and encoder (and its one output buffer) are used under lock, and the
     * encode counters with them: prompts are made and encoded on the runner's prepare thread
     * while run prefills on another. */
    pthread_mutex_t lock;
    struct mill_mm_encodes enc;
};

struct mill_mm_prompt {
    mtmd_input_chunks *chunks;
    size_t n_tokens;
    float **embd; /* per chunk: a medium's embeddings once encoded, else NULL */
};

/* libmtmd's last error line on this thread (images are encoded on the prepare threads while
 * another thread decodes), for the messages of failed loads and encodes. */
static _Thread_local char last_mtmd_error[512];

static void mtmd_log_cb(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (!n)
        return;
    if (level == GGML_LOG_LEVEL_ERROR)
        snprintf(last_mtmd_error, sizeof last_mtmd_error, "%.*s", (int)n, text);
    if (mill_log_get_level() <= MILL_LOG_DEBUG)
        MILL_DEBUG("mtmd", "%.*s", (int)n, text);
}

unsigned mill_mm_file_modalities(const char *mmproj) {
    mtmd_log_set(mtmd_log_cb, NULL);
    mtmd_helper_log_set(mtmd_log_cb, NULL);
    struct mtmd_caps c = mtmd_get_cap_from_file(mmproj);
    return (c.inp_vision ? MILL_MOD_IMAGE : 0u) | (c.inp_audio ? MILL_MOD_AUDIO : 0u);
}

/* Appends n bytes to fd. */
static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads growing prefixes of the projector into buf and the temporary file tmp (fd) until
 * libmtmd finds an encoder in it, the whole file is read, or the cap is reached. */
static int read_header(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *path,
                       int64_t size, int fd, const char *tmp, unsigned *mods,
                       struct mill_err *err) {
    char *buf = NULL;
    size_t have = 0, want = HEADER_FIRST;
    int rc = 0;
    for (;;) {
        if (size >= 0 && (uint64_t)want > (uint64_t)size)
            want = (size_t)size;
        char *g = realloc(buf, want ? want : 1);
        size_t got = 0;
        if (!g) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        buf = g;
        rc =
            mill_hub_read_range(hub, repo, path, (int64_t)have, want - have, buf + have, &got, err);
        if (!rc && write_all(fd, buf + have, got))
            rc = mill_err_set(err, MILL_EIO, "cannot write %s: %s", tmp, strerror(errno));
        if (rc)
            break;
        have += got;
        bool whole = have < want || (size >= 0 && (int64_t)have >= size);
        bool gguf = have >= 4 && !memcmp(buf, "GGUF", 4);
        *mods = gguf ? mill_mm_file_modalities(tmp) : 0;
        MILL_DEBUG("llama", "projector %s: %zu bytes of its header read: modalities %#x", path,
                   have, *mods);
        if (*mods || whole || (have >= 4 && !gguf))
            break;
        if (want >= HEADER_MAX) {
            rc = mill_err_set(err, MILL_EUNSUPPORTED, "its GGUF header is not complete in %zu MiB",
                              HEADER_MAX >> 20);
            break;
        }
        want *= 2;
    }
    free(buf);
    return rc;
}

int mill_mm_hub_modalities(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *path,
                           int64_t size, unsigned *mods, struct mill_err *err) {
    const char *dir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/mill-mmproj-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    *mods = 0;
    if (fd < 0)
        return mill_err_set(err, MILL_EIO, "cannot create a temporary file %s: %s", tmp,
                            strerror(errno));
    int rc = read_header(hub, repo, path, size, fd, tmp, mods, err);
    close(fd);
    unlink(tmp);
    return rc;
}

int mill_mm_open(const char *mmproj, const struct llama_model *model, int threads, bool use_gpu,
                 struct mill_mm **out, struct mill_err *err) {
    *out = NULL;
    mtmd_log_set(mtmd_log_cb, NULL);
    mtmd_helper_log_set(mtmd_log_cb, NULL);
    struct mtmd_context_params mp = mtmd_context_params_default();
    mp.use_gpu = use_gpu;
    mp.n_threads = threads;
    mp.print_timings = false;
    /* On a local GPU the encoder's buffers are reserved by a warm-up encode at load, as
     * llama-mtmd-cli does, not by the first encode, which encode_ahead may run beside a
     * llama_decode on the same device; on a CPU that encode would cost seconds for nothing. */
    mp.warmup = use_gpu && mill_local_gpus(NULL, 0) > 0;
    mp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    mp.media_marker = MARKER;
    struct mill_mm *mm = calloc(1, sizeof *mm);
    if (!mm)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    last_mtmd_error[0] = 0;
    if (!(mm->ctx = mtmd_init_from_file(mmproj, model, mp))) {
        free(mm);
        return mill_err_set(err, MILL_EFORMAT, "cannot load the projector %s for this model: %s",
                            mmproj,
                            last_mtmd_error[0] ? last_mtmd_error : "corrupt or unsupported");
    }
    mm->modalities = (mtmd_support_vision(mm->ctx) ? MILL_MOD_IMAGE : 0u) |
                     (mtmd_support_audio(mm->ctx) ? MILL_MOD_AUDIO : 0u);
    mm->n_embd = llama_model_n_embd_inp(model);
    pthread_mutex_init(&mm->lock, NULL);
    *out = mm;
    return 0;
}

void mill_mm_close(struct mill_mm *mm) {
    if (!mm)
        return;
    mtmd_free(mm->ctx);
    pthread_mutex_destroy(&mm->lock);
    free(mm);
}

unsigned mill_mm_modalities(const struct mill_mm *mm) { return mm ? mm->modalities : 0; }

const char *mill_mm_marker(void) { return MARKER; }

/* The bytes of a medium a dataset gives by path. */
static int read_media(const char *path, size_t i, uint8_t **data, size_t *n, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    *data = NULL;
    *n = 0;
    if (!f)
        return mill_err_set(err, MILL_EIO, "medium %zu: cannot read %s: %s", i + 1, path,
                            strerror(errno));
    int rc = 0;
    size_t cap = 0;
    while (!rc) {
        if (*n == cap) {
            uint8_t *g = cap < MEDIA_MAX_BYTES ? realloc(*data, cap ? cap * 2 : 65536) : NULL;
            if (!g) {
                rc = cap ? mill_err_set(err, MILL_EFORMAT, "medium %zu: %s is larger than %u MiB",
                                        i + 1, path, MEDIA_MAX_BYTES >> 20)
                         : mill_err_set(err, MILL_ENOMEM, "out of memory");
                break;
            }
            *data = g;
            cap = cap ? cap * 2 : 65536;
        }
        size_t got = fread(*data + *n, 1, cap - *n, f);
        *n += got;
        if (!got && ferror(f))
            rc = mill_err_set(err, MILL_EIO, "medium %zu: cannot read %s", i + 1, path);
        else if (!got)
            break;
    }
    fclose(f);
    return rc;
}

/* An image decoded to RGB by data/image.c. */
static int image_bitmap(const uint8_t *data, size_t n, const struct mill_media *md, size_t i,
                        mtmd_bitmap **out, struct mill_err *err) {
    struct mill_image img = {0};
    struct mill_err e = {0};
    if (mill_image_decode(data, n, &img, &e))
        return mill_err_set(err, MILL_EFORMAT, "image %zu%s%s does not decode: %s", i + 1,
                            md->path ? " " : "", md->path ? md->path : "", e.msg);
    *out = mtmd_bitmap_init((uint32_t)img.w, (uint32_t)img.h, img.rgb);
    mill_image_free(&img);
    return *out ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
}

/* A clip decoded to mono PCM at the projector's sample rate by data/audio.c. libmtmd pads a
 * clip shorter than half an FFT window with zeros, but asserts on one of a single sample:
 * that one gets its zero here, which gives the same spectrogram. */
static int audio_bitmap(const struct mill_mm *mm, const uint8_t *data, size_t n,
                        const struct mill_media *md, size_t i, mtmd_bitmap **out,
                        struct mill_err *err) {
    int rate = mtmd_get_audio_sample_rate(mm->ctx);
    if (rate <= 0)
        return mill_err_set(err, MILL_EBACKEND, "the projector gives no audio sample rate");
    struct mill_audio a = {0};
    struct mill_err e = {0};
    if (mill_audio_decode(data, n, rate, &a, &e))
        return mill_err_set(err, MILL_EFORMAT, "audio %zu%s%s does not decode: %s", i + 1,
                            md->path ? " " : "", md->path ? md->path : "", e.msg);
    if (a.n == 1) {
        float *g = realloc(a.samples, 2 * sizeof *g);
        if (!g) {
            mill_audio_free(&a);
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        }
        g[1] = 0.0f;
        a.samples = g;
        a.n = 2;
    }
    *out = mtmd_bitmap_init_from_audio(a.n, a.samples);
    mill_audio_free(&a);
    return *out ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
}

/* One medium as a bitmap: an image or an audio clip the projector takes. */
static int make_bitmap(const struct mill_mm *mm, const struct mill_media *md, size_t i,
                       mtmd_bitmap **out, struct mill_err *err) {
    *out = NULL;
    bool image = md->kind == MILL_MOD_IMAGE, audio = md->kind == MILL_MOD_AUDIO;
    if (!(image || audio) || !(mm->modalities & md->kind))
        return mill_err_set(err, MILL_EUNSUPPORTED, "medium %zu: this projector takes no %s", i + 1,
                            audio   ? "audio"
                            : image ? "images"
                                    : "such media");
    uint8_t *owned = NULL;
    size_t n = md->n;
    if (!md->data && !md->path)
        return mill_err_set(err, MILL_EFORMAT, "%s %zu has neither bytes nor a path",
                            image ? "image" : "audio", i + 1);
    if (!md->data && read_media(md->path, i, &owned, &n, err)) {
        free(owned);
        return err->code;
    }
    const uint8_t *data = md->data ? md->data : owned;
    int rc =
        image ? image_bitmap(data, n, md, i, out, err) : audio_bitmap(mm, data, n, md, i, out, err);
    free(owned);
    return rc;
}

static int tokenize_chunks(struct mill_mm *mm, const char *text, mtmd_bitmap **bm, size_t n,
                           mtmd_input_chunks *chunks, struct mill_err *err) {
    struct mtmd_input_text in = {text, strlen(text), true, true};
    pthread_mutex_lock(&mm->lock);
    int32_t r = mtmd_tokenize(mm->ctx, chunks, &in, (const mtmd_bitmap *const *)bm, n);
    pthread_mutex_unlock(&mm->lock);
    if (r == 1)
        return mill_err_set(err, MILL_EFORMAT, "the prompt has not one marker per medium (%zu)", n);
    if (r != 0)
        return mill_err_set(err, MILL_EFORMAT, "libmtmd could not preprocess the media (%d)", r);
    size_t nc = mtmd_input_chunks_size(chunks);
    if (!nc || mtmd_input_chunk_get_type(mtmd_input_chunks_get(chunks, nc - 1)) !=
                   MTMD_INPUT_CHUNK_TYPE_TEXT)
        return mill_err_set(err, MILL_EFORMAT, "the prompt ends with a medium, not with text");
    return 0;
}

struct mill_mm_media {
    mtmd_bitmap **bm;
    size_t n;
};

int mill_mm_media_decode(const struct mill_mm *mm, const struct mill_media *media, size_t n_media,
                         struct mill_mm_media **out, struct mill_err *err) {
    struct mill_mm_media *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d || !(d->bm = calloc(n_media ? n_media : 1, sizeof *d->bm))) {
        free(d);
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (; !rc && d->n < n_media; d->n++)
        rc = make_bitmap(mm, &media[d->n], d->n, &d->bm[d->n], err);
    if (rc)
        mill_mm_media_free(d);
    else
        *out = d;
    return rc;
}

void mill_mm_media_free(struct mill_mm_media *d) {
    for (size_t i = 0; d && i < d->n; i++)
        mtmd_bitmap_free(d->bm[i]);
    if (d)
        free(d->bm);
    free(d);
}

int mill_mm_prompt_make(struct mill_mm *mm, const char *text, const struct mill_mm_media *d,
                        struct mill_mm_prompt **out, struct mill_err *err) {
    *out = NULL;
    struct mill_mm_prompt *p = calloc(1, sizeof *p);
    int rc = p && (p->chunks = mtmd_input_chunks_init())
                 ? 0
                 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = tokenize_chunks(mm, text, d->bm, d->n, p->chunks, err);
    if (!rc && !(p->embd = calloc(mtmd_input_chunks_size(p->chunks), sizeof *p->embd)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        mill_mm_prompt_free(p);
        return rc;
    }
    p->n_tokens = mtmd_helper_get_n_tokens(p->chunks);
    *out = p;
    return 0;
}

void mill_mm_prompt_free(struct mill_mm_prompt *p) {
    if (!p)
        return;
    for (size_t i = 0; p->embd && i < mtmd_input_chunks_size(p->chunks); i++)
        free(p->embd[i]);
    free(p->embd);
    if (p->chunks)
        mtmd_input_chunks_free(p->chunks);
    free(p);
}

size_t mill_mm_prompt_n_tokens(const struct mill_mm_prompt *p) { return p->n_tokens; }

bool mill_mm_non_causal(const struct mill_mm *mm) {
    return mtmd_decode_use_non_causal(mm->ctx, NULL);
}

size_t mill_mm_prompt_max_whole(const struct mill_mm *mm, const struct mill_mm_prompt *p) {
    size_t most = 0;
    for (size_t i = 0; i < mtmd_input_chunks_size(p->chunks); i++) {
        const mtmd_input_chunk *c = mtmd_input_chunks_get(p->chunks, i);
        size_t n = mtmd_input_chunk_get_n_tokens(c);
        if (mtmd_input_chunk_get_type(c) != MTMD_INPUT_CHUNK_TYPE_TEXT &&
            mtmd_decode_use_non_causal(mm->ctx, c) && n > most)
            most = n;
    }
    return most;
}

const llama_token *mill_mm_prompt_tail(const struct mill_mm_prompt *p, int *n) {
    size_t nc = mtmd_input_chunks_size(p->chunks), nt = 0;
    const llama_token *t =
        mtmd_input_chunk_get_tokens_text(mtmd_input_chunks_get(p->chunks, nc - 1), &nt);
    *n = (int)nt;
    return t;
}

const llama_token *mill_mm_prompt_head(const struct mill_mm_prompt *p, int *n) {
    size_t nt = 0;
    const mtmd_input_chunk *c = mtmd_input_chunks_get(p->chunks, 0);
    *n = 0;
    if (mtmd_input_chunks_size(p->chunks) < 2 ||
        mtmd_input_chunk_get_type(c) != MTMD_INPUT_CHUNK_TYPE_TEXT)
        return NULL;
    const llama_token *t = mtmd_input_chunk_get_tokens_text(c, &nt);
    *n = (int)nt;
    return nt ? t : NULL;
}

static bool is_media(const mtmd_input_chunk *c) {
    return mtmd_input_chunk_get_type(c) != MTMD_INPUT_CHUNK_TYPE_TEXT;
}

size_t mill_mm_prompt_embd_bytes(const struct mill_mm *mm, const struct mill_mm_prompt *p) {
    size_t n = 0;
    for (size_t i = 0; i < mtmd_input_chunks_size(p->chunks); i++) {
        const mtmd_input_chunk *c = mtmd_input_chunks_get(p->chunks, i);
        if (is_media(c) && !p->embd[i])
            n += mtmd_input_chunk_get_n_tokens(c) * (size_t)mm->n_embd * sizeof(float);
    }
    return n;
}

/* Encodes chunk i and copies its embeddings out of the projector's one output buffer. */
static int encode_chunk(struct mill_mm *mm, struct mill_mm_prompt *p, size_t i, bool ahead,
                        struct mill_err *err) {
    const mtmd_input_chunk *c = mtmd_input_chunks_get(p->chunks, i);
    size_t n = mtmd_input_chunk_get_n_tokens(c) * (size_t)mm->n_embd;
    float *e = malloc((n ? n : 1) * sizeof *e);
    if (!e)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    pthread_mutex_lock(&mm->lock);
    double t0 = mill_clock_s();
    last_mtmd_error[0] = 0;
    int r = mtmd_encode_chunk(mm->ctx, c);
    if (!r)
        memcpy(e, mtmd_get_output_embd(mm->ctx), n * sizeof *e);
    mm->enc.seconds += mill_clock_s() - t0;
    mm->enc.n_media += !r;
    mm->enc.n_ahead += !r && ahead;
    pthread_mutex_unlock(&mm->lock);
    if (r) {
        free(e);
        return mill_err_set(err, MILL_EBACKEND, "the projector failed to encode a medium%s%s",
                            last_mtmd_error[0] ? ": " : "", last_mtmd_error);
    }
    p->embd[i] = e;
    return 0;
}

int mill_mm_prompt_encode(struct mill_mm *mm, struct mill_mm_prompt *p, bool ahead,
                          struct mill_err *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < mtmd_input_chunks_size(p->chunks); i++)
        if (is_media(mtmd_input_chunks_get(p->chunks, i)) && !p->embd[i])
            rc = encode_chunk(mm, p, i, ahead, err);
    return rc;
}

void mill_mm_take_encodes(struct mill_mm *mm, struct mill_mm_encodes *out) {
    pthread_mutex_lock(&mm->lock);
    *out = mm->enc;
    mm->enc = (struct mill_mm_encodes){0};
    pthread_mutex_unlock(&mm->lock);
}

/* Decodes the embeddings of medium chunk c, encoded as e, at *n_past. */
static int prefill_media(struct mill_mm *mm, struct llama_context *ctx, const mtmd_input_chunk *c,
                         float *e, int seq, int n_batch, int *n_past, struct mill_mm_stats *st,
                         struct mill_err *err) {
    double t0 = mill_clock_s();
    llama_pos np = *n_past;
    int32_t r =
        mtmd_helper_decode_image_chunk(mm->ctx, ctx, c, e, *n_past, seq, n_batch, &np, NULL, NULL);
    llama_synchronize(ctx); /* a GPU's llama_decode returns before the graph is done */
    st->decode_s += mill_clock_s() - t0;
    st->n_decodes += ((long long)mtmd_input_chunk_get_n_tokens(c) + n_batch - 1) / n_batch;
    st->n_tokens += (long long)mtmd_input_chunk_get_n_tokens(c);
    if (r != 0)
        return mill_err_set(err, MILL_EBACKEND,
                            "llama_decode failed on a medium's embeddings (%d); lower "
                            "batch_size or max_context_length",
                            r);
    *n_past = np;
    return 0;
}

int mill_mm_prompt_prefill(struct mill_mm *mm, struct llama_context *ctx, struct mill_mm_prompt *p,
                           int seq, int n_batch, bool skip_head, int *n_past,
                           struct mill_mm_stats *st, struct mill_err *err) {
    size_t nc = mtmd_input_chunks_size(p->chunks);
    int rc = mill_mm_prompt_encode(mm, p, false, err), n_head = 0;
    if (rc)
        return rc;
    *n_past = skip_head && mill_mm_prompt_head(p, &n_head) ? n_head : 0;
    for (size_t i = *n_past ? 1 : 0; !rc && i + 1 < nc; i++) {
        const mtmd_input_chunk *c = mtmd_input_chunks_get(p->chunks, i);
        if (is_media(c)) {
            rc = prefill_media(mm, ctx, c, p->embd[i], seq, n_batch, n_past, st, err);
            continue;
        }
        double t0 = mill_clock_s();
        llama_pos np = *n_past; /* a text chunk's new_n_past is added to, not set */
        int32_t r =
            mtmd_helper_eval_chunk_single(mm->ctx, ctx, c, *n_past, seq, n_batch, false, &np);
        llama_synchronize(ctx);
        st->decode_s += mill_clock_s() - t0;
        st->n_decodes++;
        st->n_tokens += (long long)mtmd_input_chunk_get_n_tokens(c);
        if (r != 0)
            rc = mill_err_set(err, MILL_EBACKEND, "llama_decode failed on a prompt's text (%d)", r);
        *n_past = np;
    }
    return rc;
}
