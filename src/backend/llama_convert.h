/* llama_convert.h: a transformers checkpoint (a local directory, or a Hub repo with no GGUF)
 * converted once into Mill's cache and reused: <cache>/converted/<key>.gguf, the key the
 * SHA-256 of the checkpoint files' digests and the output type, so a changed file or another
 * dtype converts again and HF_HUB_OFFLINE=1 runs reuse it. Used by the llama backend and by
 * `mill convert`. Must not convert when a cached file exists, nor leave a partial one. */
#ifndef MILL_BACKEND_LLAMA_CONVERT_H
#define MILL_BACKEND_LLAMA_CONVERT_H

#include "data/hub.h"
#include "model/convert/hf_convert.h"

#include <mill/buf.h>

struct mill_hf_conversion {
    char *gguf;         /* the converted file in the cache */
    char *dir;          /* the checkpoint directory */
    char **files;       /* the checkpoint files, relative to dir, sorted */
    char (*sha256)[65]; /* their digests, parallel to files */
    size_t n;
    enum mill_hf_type type;
    bool reused;    /* found in the cache, not converted by this call */
    double seconds; /* conversion time (0 when reused) */
};

/* The type a backend's dtype=/quant= arguments ask for: quant Q8_0, else dtype (float32,
 * float16, bfloat16; default bfloat16, as for picking a GGUF). MILL_EINVAL naming the value otherwise. */
int mill_hf_conversion_type(const char *dtype, const char *quant, enum mill_hf_type *out,
                            struct mill_err *err);

/* Converts dir (unless its conversion is already cached) into cache_dir (NULL: ~/.cache/mill)
 * and fills *c (free with mill_hf_conversion_free); name is the GGUF's general.name (NULL: the
 * directory's base name) and part of the key. A progress bar goes to stderr when progress is
 * set. Errors of mill_hf_checkpoint_files and mill_hf_convert, prefixed with dir. */
int mill_hf_convert_cached(const char *cache_dir, const char *dir, const char *name,
                           enum mill_hf_type type, bool progress, struct mill_hf_conversion *c,
                           struct mill_err *err);
void mill_hf_conversion_free(struct mill_hf_conversion *c);

/* Appends the provenance fields (no braces): "converted_from": dir, "converted_files":
 * [{"path", "sha256"}...], "converted_type", "converted_reused", "convert_seconds". */
int mill_hf_conversion_json(const struct mill_hf_conversion *c, struct mill_buf *out);

/* True when a Hub listing holds a transformers checkpoint (config.json and model.safetensors or
 * model.safetensors.index.json at the top). */
bool mill_hf_listing_is_checkpoint(const struct mill_hub_listing *l);

/* Downloads the checkpoint's files of listing l (config.json, the index and the shards it
 * names, tokenizer files) at repo (whose revision should be l->commit) and sets *dir to the
 * snapshot directory holding them (caller frees). Errors of mill_hub_download and of the
 * index (a shard the index names that the repo lacks is MILL_ENOTFOUND). */
int mill_hf_hub_checkpoint(struct mill_hub *hub, const struct mill_hub_repo *repo,
                           const struct mill_hub_listing *l, char **dir, struct mill_err *err);

#endif
