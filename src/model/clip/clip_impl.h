/* clip_impl.h: the internals shared by clip.c (public API), clip_config.c (config parsing),
 * clip_load.c (weights) and clip_graph.c (ggml graphs): the model struct and its one internal
 * weight layout, whatever the checkpoint's naming. Custom ops are model/ggml_ops.h's.
 *
 * Not a public header: nothing outside src/model/clip may include it. It must not grow
 * knowledge of Mill's tasks or backends. */
#ifndef MILL_MODEL_CLIP_IMPL_H
#define MILL_MODEL_CLIP_IMPL_H

#include "model/clip/clip.h"
#include "model/ggml_ops.h"

#include <mill/value.h>

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>

enum clip_format { CLIP_OPEN_CLIP, CLIP_HF };

/* One pre-LN transformer block. Matrices are ggml [in, out] (torch Linear [out][in], same
 * bytes) in the checkpoint's dtype; norms and biases are F32. */
struct clip_block {
    struct ggml_tensor *ln1_w, *ln1_b;
    struct ggml_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
    struct ggml_tensor *o_w, *o_b;
    struct ggml_tensor *ln2_w, *ln2_b;
    struct ggml_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
};

struct clip_vision {
    struct ggml_tensor *patch_w; /* ggml [P, P, 3, D] (torch conv [D, 3, P, P]) */
    struct ggml_tensor *cls;     /* [D], F32 */
    struct ggml_tensor *pos;     /* [D, G*G + 1], F32 */
    struct ggml_tensor *ln_pre_w, *ln_pre_b, *ln_post_w, *ln_post_b;
    struct clip_block *blocks; /* vision_layers */
    struct ggml_tensor *proj;  /* ggml [D, E]: out = proj^T x, i.e. torch x @ P */
};

struct clip_text {
    struct ggml_tensor *tok_emb; /* [D, vocab], F32 */
    struct ggml_tensor *pos;     /* [D, context_length], F32 */
    struct clip_block *blocks;   /* text_layers */
    struct ggml_tensor *ln_final_w, *ln_final_b;
    struct ggml_tensor *proj; /* ggml [D, E] */
};

/* A built graph for one tower and one input shape, kept while the next call has that shape. */
struct clip_graph {
    struct ggml_context *ctx; /* holds the graph's tensors (no data) */
    struct ggml_cgraph *gf;
    struct ggml_tensor *in;       /* images [S, S, 3, n] or token ids [t * n] */
    struct ggml_tensor *pool_idx; /* text: [n] rows of the flattened [D, t * n] to pool */
    struct ggml_tensor *key_mask; /* vision: [Tp, T] 0 / -inf over the padded keys */
    struct ggml_tensor *out;      /* [E, n], L2-normalised */
    int n, t;                     /* batch and (text) sequence length; n == 0 when empty */
};

struct mill_clip_model {
    struct mill_clip_hparams hp;
    struct mill_clip_params params;
    enum clip_format format;
    bool text_prefixed;        /* open_clip custom_text: text tower under "text." */
    float logit_scale;         /* exp of the stored value */
    struct ggml_context *wctx; /* weight tensors (no_alloc) */
    ggml_backend_t backend;
    ggml_backend_buffer_t wbuf;
    struct clip_vision vis;
    struct clip_text txt;
    ggml_gallocr_t galloc_vis, galloc_txt;
    struct clip_graph g_vis, g_txt;
};

/* clip_config.c: fills m->hp (and m->text_prefixed) from a parsed config: open_clip_config.json
 * or a bare open_clip model config, or HF config.json. MILL_EUNSUPPORTED names the field for an
 * architecture or option the graph does not implement; MILL_EFORMAT for a malformed value.
 * path is for messages. */
int mill_clip_config_open_clip(const struct mill_value *cfg, const char *path,
                               struct mill_clip_model *m, struct mill_err *err);
int mill_clip_config_hf(const struct mill_value *cfg, const char *path, struct mill_clip_model *m,
                        struct mill_err *err);
/* Sanity checks shared by both formats (heads divide widths, patches fit the image). */
int mill_clip_config_check(const struct mill_clip_hparams *hp, const char *path,
                           struct mill_err *err);
/* Reads an HF preprocessor_config.json: image_mean/image_std (absent keys keep hp's values),
 * transformers' centre crop; MILL_EUNSUPPORTED, naming path, for a preprocessing other than
 * CLIPImageProcessor's (the shorter side to image_size with bicubic, an image_size crop, /255,
 * normalised). */
/* OpenAI's image mean and std, open_clip's and transformers' default. */
extern const float mill_clip_openai_mean[3], mill_clip_openai_std[3];

int mill_clip_config_hf_pre(const struct mill_value *pre, const char *path,
                            struct mill_clip_hparams *hp, struct mill_err *err);

/* clip_load.c: creates the backend and the weight tensors of m (hp and format set) from the
 * safetensors file at path. Messages name the missing or misshapen tensor. */
int mill_clip_load_weights(struct mill_clip_model *m, const char *path, struct mill_err *err);

/* clip_graph.c: frees a cached graph (NULL-safe fields). */
void mill_clip_graph_free(struct clip_graph *g);

#endif
