/* llama_media.h: images and audio for the llama backend through llama.cpp's libmtmd
 * (BEHAVIOUR.md §7.1): a multimodal projector (mmproj GGUF) beside a language model, and
 * prompts whose media markers become projected embeddings in a sequence of the KV cache.
 *
 * The backend (llama.c) keeps its generation loop and its media log-likelihoods (the trailing
 * text, then the continuation); this file turns one request's prompt into
 * chunks (text tokens and media), decodes everything before the prompt's trailing text into
 * one sequence, and hands the trailing text back as tokens, so the loop decodes it together
 * with every other sequence's next token. Media arrive as encoded bytes and are decoded with
 * our own decoders (data/image.h: Pillow's pixels; data/audio.h: libsndfile and libsoxr),
 * never with libmtmd's file loader. */
#ifndef MILL_BACKEND_LLAMA_MEDIA_H
#define MILL_BACKEND_LLAMA_MEDIA_H

#include <mill/doc.h>

#include <llama.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mill_mm;        /* a projector loaded through libmtmd */
struct mill_mm_prompt; /* one request's prompt as chunks */

/* The modalities (MILL_MOD_IMAGE, MILL_MOD_AUDIO) a projector file offers, read from its GGUF
 * header without loading it; 0 when the file cannot be read as a projector. */
unsigned mill_mm_file_modalities(const char *mmproj);

struct mill_hub;
struct mill_hub_repo;

/* The modalities a projector file of a Hub repo offers (as mill_mm_file_modalities), from its
 * GGUF header read before any download with mill_hub_read_range (the cached file when there is
 * one): a prefix of 256 KiB, doubled while the header is not complete in it, up to 16 MiB.
 * size: the file's size from the listing, -1 when unknown. *mods is 0 when the file is not a
 * projector (not GGUF, or no encoder). Returns what mill_hub_read_range returns when the bytes
 * cannot be had (offline and not cached, a server without Range requests, a network error),
 * MILL_EUNSUPPORTED for a header beyond 16 MiB, MILL_EIO for the temporary file libmtmd reads
 * the prefix from, MILL_ENOMEM. */
int mill_mm_hub_modalities(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *path,
                           int64_t size, unsigned *mods, struct mill_err *err);

/* Loads the projector for model; threads as the language model's; use_gpu offloads the
 * encoder where ggml has a GPU. A projector whose output does not fit the model (embedding
 * size) is refused here, before any sample. */
int mill_mm_open(const char *mmproj, const struct llama_model *model, int threads, bool use_gpu,
                 struct mill_mm **out, struct mill_err *err);
void mill_mm_close(struct mill_mm *mm); /* NULL-safe */
unsigned mill_mm_modalities(const struct mill_mm *mm);
/* The marker a prompt carries once per medium, in the media's order ("<__media__>"). */
const char *mill_mm_marker(void);

/* A request's media decoded (images: PNG, JPEG, WebP, ... as data/image.h reads them; audio:
 * WAV, FLAC, OGG, MP3, ... as data/audio.h reads them, mono at mtmd_get_audio_sample_rate),
 * once for every prompt made from them (a log-likelihood's choices share their doc's media).
 * A medium that will not decode is MILL_EFORMAT naming it; a medium of a kind the projector
 * does not take is MILL_EUNSUPPORTED. */
struct mill_mm_media;
int mill_mm_media_decode(const struct mill_mm *mm, const struct mill_media *media, size_t n_media,
                         struct mill_mm_media **out, struct mill_err *err);
void mill_mm_media_free(struct mill_mm_media *d); /* NULL-safe */

/* Whether the projector's media chunks attend to each other both ways (Gemma 3 and 4,
 * DeepSeek 4 V): llama.cpp then decodes such a chunk in one micro-batch. */
bool mill_mm_non_causal(const struct mill_mm *mm);
/* The tokens of p's largest media chunk that must be decoded in one micro-batch (non-causal
 * attention), or 0 when none must. */
size_t mill_mm_prompt_max_whole(const struct mill_mm *mm, const struct mill_mm_prompt *p);

/* Tokenises text, which holds one marker per decoded medium, with special tokens parsed and
 * BOS added as the vocabulary wants, into a prompt of chunks; libmtmd cuts a clip longer than
 * its encoder's window (30 s for Whisper-style encoders) into several. A count of markers that
 * is not the count of media, or a prompt that ends with a medium, is MILL_EFORMAT. */
int mill_mm_prompt_make(struct mill_mm *mm, const char *text, const struct mill_mm_media *d,
                        struct mill_mm_prompt **out, struct mill_err *err);
void mill_mm_prompt_free(struct mill_mm_prompt *p); /* NULL-safe */
/* KV cells the whole prompt takes (media tokens included). */
size_t mill_mm_prompt_n_tokens(const struct mill_mm_prompt *p);
/* The prompt's trailing text tokens, left for the caller to decode (always at least one: a
 * prompt that ends with a medium is refused by mill_mm_prompt_make). */
const llama_token *mill_mm_prompt_tail(const struct mill_mm_prompt *p, int *n);

/* The prompt's leading text tokens (the chat template's opening before the first medium), or
 * NULL when the prompt starts with a medium. */
const llama_token *mill_mm_prompt_head(const struct mill_mm_prompt *p, int *n);

/* Work counters of prefills, added to by mill_mm_prompt_prefill (the projector keeps its
 * encodes' own: mill_mm_take_encodes). */
struct mill_mm_stats {
    long long n_decodes, n_tokens;
    double decode_s;
};

/* Bytes of embeddings the projector will give for the prompt's media (what
 * mill_mm_prompt_encode keeps), 0 once they are encoded. */
size_t mill_mm_prompt_embd_bytes(const struct mill_mm *mm, const struct mill_mm_prompt *p);

/* Runs the projector's encoder on every medium of the prompt not yet encoded and keeps the
 * embeddings in the prompt, so a prefill on another thread needs only llama_decode. The
 * projector is used under a lock of its own: prompts may be made and encoded on one thread
 * (the runner's prepare) while another prefills (run). ahead: counted as encoded ahead of the
 * prefill (mill_mm_take_encodes). MILL_EBACKEND when the encoder fails. */
int mill_mm_prompt_encode(struct mill_mm *mm, struct mill_mm_prompt *p, bool ahead,
                          struct mill_err *err);

/* The projector's counters since the last call, whichever thread encoded: media encoded, those
 * of them encoded ahead, seconds in the encoder; resets them. */
struct mill_mm_encodes {
    long long n_media, n_ahead;
    double seconds;
};
void mill_mm_take_encodes(struct mill_mm *mm, struct mill_mm_encodes *out);

/* Decodes every chunk before the trailing text into sequence seq of ctx from position 0: text
 * through llama_decode, media as their embeddings (encoded here when mill_mm_prompt_encode has
 * not been called), with M-RoPE positions and non-causal media attention as the model wants.
 * skip_head: the head's tokens are already in seq (copied from a sequence that holds them).
 * *n_past receives the position at which the trailing text starts (under M-RoPE it is not the
 * count of cells). */
int mill_mm_prompt_prefill(struct mill_mm *mm, struct llama_context *ctx, struct mill_mm_prompt *p,
                           int seq, int n_batch, bool skip_head, int *n_past,
                           struct mill_mm_stats *st, struct mill_err *err);

#endif
