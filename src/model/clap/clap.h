/* clap.h: a contrastive CLAP model (HF ClapModel checkpoints such as laion/clap-htsat-unfused)
 * on ggml's C API: the feature extractor (ClapFeatureExtractor: log-mel spectrogram), the HTSAT
 * audio tower (Swin transformer over the mel image), the RoBERTa text tower, their projections,
 * L2-normalised embeddings and logit_scale_a. The checkpoint's byte-level BPE tokenizer is in
 * clap_tok.h. Knows nothing of Mill's tasks or backends; the clap backend drives it.
 *
 * Loads a directory holding config.json + model.safetensors (F32, F16 or BF16) and, for the
 * front end, preprocessor_config.json. Missing tensors, shape mismatches and options the graph
 * does not implement (feature fusion, other position embeddings) are errors naming the tensor
 * or field. */
#ifndef MILL_MODEL_CLAP_H
#define MILL_MODEL_CLAP_H

#include <mill/mill.h>
#include <mill/value.h>

#include <stddef.h>
#include <stdint.h>

/* ---- the feature extractor (clap_mel.c) ---- */

enum mill_clap_padding { MILL_CLAP_REPEATPAD, MILL_CLAP_REPEAT, MILL_CLAP_PAD };

struct mill_clap_fe_params {
    int sampling_rate; /* 48000 Hz: the rate samples must already have */
    int n_mels;        /* feature_size, 64 */
    int n_fft;         /* fft_window_size, 1024 (a power of two) */
    int hop;           /* hop_length, 480 */
    int max_samples;   /* max_length_s * sampling_rate, 480000 */
    double fmin, fmax; /* frequency_min / frequency_max, Hz (50 / 14000 for the unfused one) */
    enum mill_clap_padding padding; /* for clips shorter than max_samples */
};

/* ClapFeatureExtractor's defaults (the class's, not a checkpoint's: fmin 0, padding
 * repeatpad). */
struct mill_clap_fe_params mill_clap_fe_default_params(void);
/* Reads a parsed preprocessor_config.json over p. MILL_EUNSUPPORTED for a truncation other than
 * rand_trunc ("fusion", also transformers' default when the key is missing); a padding other
 * than repeat or repeatpad is zeros, as transformers reads it. MILL_EFORMAT for a malformed or
 * out-of-range value. path is for messages. */
int mill_clap_fe_params_from_json(const struct mill_value *cfg, const char *path,
                                  struct mill_clap_fe_params *p, struct mill_err *err);

struct mill_clap_fe;

/* Builds the window and the Slaney mel filter bank (the bank ClapFeatureExtractor uses with
 * rand_trunc). MILL_EINVAL for inconsistent parameters, MILL_ENOMEM. Free with
 * mill_clap_fe_free (NULL-safe). */
int mill_clap_fe_init(const struct mill_clap_fe_params *p, struct mill_clap_fe **fe,
                      struct mill_err *err);
void mill_clap_fe_free(struct mill_clap_fe *fe);
const struct mill_clap_fe_params *mill_clap_fe_params(const struct mill_clap_fe *fe);
/* Frames of every feature matrix: 1 + max_samples / hop (1001). */
int mill_clap_fe_frames(const struct mill_clap_fe *fe);
/* How far a clip of n samples can be cropped: n - max_samples when longer, else 0. The caller
 * draws the crop offset in [0, overflow] (transformers: np.random.randint(0, overflow + 1)). */
size_t mill_clap_fe_overflow(const struct mill_clap_fe *fe, size_t n);
/* The log-mel features of n samples (mono, at sampling_rate) into out, frames x n_mels float32
 * (time-major, as input_features[0, 0]): a clip longer than max_samples is cropped to
 * [crop, crop + max_samples) (crop <= overflow), a shorter one padded as p->padding says; then
 * the centred (reflect-padded) periodic-Hann STFT, power spectrum, Slaney mel bank and
 * 10 log10(max(x, 1e-10)), in double as transformers computes it (STFT bins rounded to
 * complex64 as its spectrogram() stores them). MILL_EINVAL for n == 0 or a crop out of range,
 * MILL_ENOMEM. Thread-safe on a shared fe. */
int mill_clap_features(const struct mill_clap_fe *fe, const float *samples, size_t n, size_t crop,
                       float *out, struct mill_err *err);

/* ---- the model (clap.c, clap_load.c, clap_graph.c) ---- */

struct mill_clap_hparams {
    /* Audio tower (HTSAT). */
    int n_mels;       /* num_mel_bins, 64 */
    int spec_size;    /* 256: the square mel image side */
    int freq_ratio;   /* spec_size / n_mels, 4 */
    int patch_size;   /* 4 */
    int patch_stride; /* 4 */
    int embed;        /* patch_embeds_hidden_size, 96 */
    int n_stages;     /* len(depths), 4 */
    int depths[8];    /* [2, 2, 6, 2] */
    int heads[8];     /* [4, 8, 16, 32] */
    int window;       /* window_size, 8 */
    int mlp_ratio;    /* 4 */
    bool patch_norm;  /* enable_patch_layer_norm */
    int audio_hidden; /* embed * 2^(n_stages - 1), 768 */
    float audio_eps;  /* layer_norm_eps, 1e-5 */
    float bn_eps;     /* the mel batch norm's eps, 1e-5 */
    /* Text tower (RoBERTa). */
    int vocab_size;  /* 50265 */
    int text_hidden; /* 768 */
    int text_layers; /* 12 */
    int text_heads;  /* 12 */
    int text_mlp;    /* intermediate_size, 3072 */
    int max_pos;     /* max_position_embeddings, 514 */
    int type_vocab;  /* type_vocab_size, 1 */
    int pad_id;      /* pad_token_id, 1: also the position-id offset */
    float text_eps;  /* layer_norm_eps, 1e-12 */
    /* Shared. */
    int proj_dim; /* projection_dim, 512 */
};

/* Reads a parsed config.json (ClapConfig: audio_config, text_config, projection_dim) into h,
 * the unfused checkpoint's values where a key is absent. MILL_EUNSUPPORTED for what the graph
 * does not implement (feature fusion, another activation or position embedding, shapes that do
 * not tile into windows), MILL_EFORMAT for a malformed or out-of-range value; path is for
 * messages. */
int mill_clap_hparams_from_json(const struct mill_value *cfg, const char *path,
                                struct mill_clap_hparams *h, struct mill_err *err);

struct mill_clap_params {
    int threads;   /* CPU threads for ggml (0 = all cores) */
    int max_batch; /* clips or texts per graph (0 = 16) */
};

struct mill_clap_params mill_clap_default_params(void);

struct mill_clap_model;

/* Loads config.json + model.safetensors in dir. The weights are copied into ggml's buffer one
 * tensor at a time and the file's pages are dropped after each, so the peak RSS while loading
 * stays near the model's size. MILL_ENOTFOUND (no config/weights), MILL_EFORMAT (corrupt
 * safetensors, a missing tensor or wrong shape: the message names it), MILL_EUNSUPPORTED (feature
 * fusion, a non-absolute position embedding, an activation other than GELU / ReLU),
 * MILL_ENOMEM. */
int mill_clap_load(const char *dir, const struct mill_clap_params *params,
                   struct mill_clap_model **model, struct mill_err *err);
void mill_clap_free(struct mill_clap_model *model);
const struct mill_clap_hparams *mill_clap_hparams(const struct mill_clap_model *model);
/* exp(logit_scale_a): ClapModel's logits_per_audio = audio_embeds @ text_embeds^T times this. */
float mill_clap_logit_scale(const struct mill_clap_model *model);
/* Frames the audio tower takes at most: spec_size * freq_ratio (1024). */
int mill_clap_max_frames(const struct mill_clap_model *model);

/* Encodes n feature matrices (each frames x n_mels float32 from mill_clap_features, frames <=
 * mill_clap_max_frames) into n L2-normalised proj_dim vectors in out. MILL_EINVAL for a frame
 * count the tower cannot take. Batches internally. */
int mill_clap_encode_audio(struct mill_clap_model *model, const float *features, int frames, int n,
                           float *out, struct mill_err *err);
/* Encodes n token rows (row i: lens[i] ids at tokens + i * stride, <s> ... </s>, 1 <= lens[i] <=
 * stride <= max_pos - pad_id - 1) into n L2-normalised proj_dim vectors. Rows are padded to the
 * batch's longest with pad_id under an attention mask, as the HF tokenizer's padding=True. */
int mill_clap_encode_texts(struct mill_clap_model *model, const int32_t *tokens, const int *lens,
                           int stride, int n, float *out, struct mill_err *err);

#endif
