/* clip.h: a contrastive CLIP model (open_clip / OpenAI / HF CLIPModel ViT checkpoints) on
 * ggml's C API: image and text towers, L2-normalised embeddings, logit_scale. Knows nothing of
 * Mill's tasks or backends; the clip backend drives it.
 *
 * Loads a checkpoint directory holding either open_clip_config.json + open_clip_model.safetensors
 * (open_clip tensor names, fused attn.in_proj) or config.json + model.safetensors (HF CLIPModel
 * names, split q/k/v), in F32, F16 or BF16. Missing tensors, shape mismatches and unknown
 * architectures are errors naming the tensor or field. */
#ifndef MILL_MODEL_CLIP_H
#define MILL_MODEL_CLIP_H

#include <mill/mill.h>
#include <mill/value.h>

#include <stdbool.h>

struct mill_clip_hparams {
    /* Vision tower. */
    int image_size;    /* input side in pixels (224) */
    int patch_size;    /* 32 for ViT-B-32 */
    int vision_width;  /* 768 */
    int vision_layers; /* 12 */
    int vision_heads;  /* 12 */
    int vision_mlp;    /* 3072 */
    /* Text tower. */
    int context_length; /* 77 */
    int vocab_size;     /* 49408 */
    int text_width;     /* 512 */
    int text_layers;    /* 12 */
    int text_heads;     /* 8 */
    int text_mlp;       /* 2048 */
    int eot_token;      /* 49407: pooling takes the first position holding the largest id */
    int eos_id;         /* open_clip's pool_type 'eos': the id it pools at (which must be the
                         * tokenizer's EOT for the pooling above to equal it); else -1 */
    /* Shared. */
    int embed_dim;         /* 512: projection output */
    bool quick_gelu;       /* OpenAI checkpoints: x * sigmoid(1.702 x); else exact erf GELU */
    float ln_eps;          /* 1e-5 */
    float mean[3], std[3]; /* preprocessing, from the config or OpenAI's defaults */
    bool floor_crop;       /* transformers' centre crop ((n - size) // 2), for HF checkpoints;
                            * else torchvision's (round half to even), open_clip's */
};

struct mill_clip_params {
    int threads;   /* CPU threads for ggml (0 = all cores) */
    int max_batch; /* images or texts per graph (0 = 64) */
    bool hf_only;  /* transformers' files only (hf_clip, as transformers reads a directory);
                   * else open_clip's, or transformers' where they are all there is */
    /* An open_clip architecture name with a pretrained tag: open_clip builds the name's built-in
     * config (quick_gelu: 0 the checkpoint config's, 1 GELU, 2 QuickGELU) and normalises as the
     * tag says (norm), whatever the checkpoint's own config file says. Applied to open_clip's
     * files only (a tag read through transformers' files keeps theirs). */
    int quick_gelu;
    enum mill_clip_norm {
        MILL_CLIP_NORM_CONFIG = 0, /* the checkpoint's mean and std */
        MILL_CLIP_NORM_OPENAI,     /* OpenAI's (open_clip's default) */
        MILL_CLIP_NORM_INCEPTION,  /* 0.5 and 0.5 */
    } norm;
};

struct mill_clip_params mill_clip_default_params(void);

/* A checkpoint's hyperparameters as mill_clip_load reads them: cfg is open_clip_config.json
 * (or a bare open_clip model config), or with hf HF's config.json, then pre (HF's
 * preprocessor_config.json, may be NULL); checked as the loader checks them. For tests and
 * fuzzing. */
int mill_clip_hparams_from_json(const struct mill_value *cfg, const struct mill_value *pre, bool hf,
                                struct mill_clip_hparams *hp, struct mill_err *err);

struct mill_clip_model;

/* Loads the checkpoint in dir. MILL_ENOTFOUND (no known config/weights pair), MILL_EFORMAT
 * (corrupt safetensors, missing tensor, wrong shape: message names the tensor),
 * MILL_EUNSUPPORTED (a non-ViT tower, an unknown option), MILL_ENOMEM. */
int mill_clip_load(const char *dir, const struct mill_clip_params *params,
                   struct mill_clip_model **model, struct mill_err *err);
void mill_clip_free(struct mill_clip_model *model);
const struct mill_clip_hparams *mill_clip_hparams(const struct mill_clip_model *model);
/* Whether the model was loaded from transformers' files (config.json + model.safetensors),
 * which Python runs through transformers (CLIPImageProcessor, CLIPTokenizerFast), not
 * open_clip's. */
bool mill_clip_is_hf(const struct mill_clip_model *model);
/* exp(logit_scale) as stored in the checkpoint (≈100 for trained models). */
float mill_clip_logit_scale(const struct mill_clip_model *model);

/* Encodes n preprocessed images (each 3 x image_size x image_size float32, CHW, already
 * normalised) into n L2-normalised embed_dim vectors in out. Batches internally. */
int mill_clip_encode_images(struct mill_clip_model *model, const float *chw, int n, float *out,
                            struct mill_err *err);
/* Encodes n token rows (each context_length int32 ids, SOT ... EOT then zeros) into n
 * L2-normalised embed_dim vectors. Only the positions up to each row's EOT are computed: under
 * the causal mask later positions cannot change the pooled one. */
int mill_clip_encode_texts(struct mill_clip_model *model, const int32_t *tokens, int n, float *out,
                           struct mill_err *err);

#endif
