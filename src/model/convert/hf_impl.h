/* hf_impl.h: what the two halves of the transformers converter share: the architectures it
 * knows, a config.json read into numbers (hf_config.c) and the file helpers. Internal to
 * src/model/convert/; must not be included from elsewhere. */
#ifndef MILL_MODEL_CONVERT_HF_IMPL_H
#define MILL_MODEL_CONVERT_HF_IMPL_H

#include "model/convert/hf_convert.h"

#include <mill/value.h>

/* Caps on untrusted files read whole: config.json and the index. */
#define MILL_HF_JSON_MAX ((size_t)64 << 20)
#define MILL_HF_MAX_LAYERS 4096
#define MILL_HF_MAX_DIM ((int64_t)1 << 24)

enum hf_arch { HF_LLAMA, HF_MISTRAL, HF_QWEN2, HF_QWEN3, HF_GEMMA2, HF_GEMMA3, HF_PHI3 };

/* RoPE scaling as llama.cpp takes it: none, linear and YaRN as keys, llama3 as a rope_freqs
 * tensor of per-dimension factors. */
enum hf_rope_kind { HF_ROPE_NONE, HF_ROPE_LINEAR, HF_ROPE_YARN, HF_ROPE_LLAMA3 };

struct hf_cfg {
    enum hf_arch arch;
    const char *hf_name;   /* "LlamaForCausalLM"; static */
    const char *gguf_arch; /* "llama"; static */
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_ctx, n_rot;
    bool head_dim_given; /* config.json has head_dim: written as key/value length */
    bool tied;           /* output = token_embd */
    bool attn_bias;      /* q/k/v (and for llama o) projections carry biases */
    double rope_theta, rms_eps;
    double rope_theta_swa; /* Gemma 3's local layers (rope_local_base_freq); 0 = none */
    double attn_softcap, final_softcap; /* 0 = none */
    int64_t sliding_window;             /* 0 = none */
    int64_t swa_pattern;                /* Gemma: every swa_pattern-th layer is global */
    int64_t orig_ctx;                   /* Phi-3 and YaRN: original_max_position_embeddings */
    enum hf_rope_kind rope;
    double rope_factor, low_freq_factor, high_freq_factor;
};

/* Reads config.json text (n bytes; name for messages) into *c. Codes as mill_hf_check_config. */
int mill_hf_cfg_parse(const char *json, size_t n, const char *name, struct hf_cfg *c,
                      struct mill_err *err);

/* dir + "/" + name, malloc'd; NULL when out of memory. */
char *mill_hf_path(const char *dir, const char *name);

#endif
