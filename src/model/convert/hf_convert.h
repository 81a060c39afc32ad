/* hf_convert.h: a transformers checkpoint (config.json, one or sharded *.safetensors, and the
 * tokenizer files) converted into a llama.cpp GGUF, in C: the architecture's tensors renamed,
 * reshaped and permuted as llama.cpp's convert_hf_to_gguf.py does, its hyper-parameters written
 * as the GGUF keys llama.cpp reads, the tokenizer through mill_hf_tokenizer_to_gguf.
 *
 * Streams: one tensor at a time, row by row, from the mapped safetensors (the pages of a
 * converted tensor are dropped again), so memory stays near one row, not the model. Writes a
 * temporary file beside out_path and renames it, so no half-written GGUF is ever left at
 * out_path. Must not: guess an architecture, a field or a tensor it does not know (each is
 * refused with the file and the field), nor know anything of Mill's backends or caches. */
#ifndef MILL_MODEL_CONVERT_HF_CONVERT_H
#define MILL_MODEL_CONVERT_HF_CONVERT_H

#include <mill/mill.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tensor type of the converted matrices (norms, biases and 1-D tensors stay F32; a Q8_0
 * matrix whose rows are not a multiple of 32 falls back to F16, as llama.cpp's converter). */
enum mill_hf_type { MILL_HF_F32 = 0, MILL_HF_F16, MILL_HF_BF16, MILL_HF_Q8_0 };

/* Called after each tensor is written: its GGUF name, tensors done / in all, bytes of source
 * data done / in all. */
typedef void (*mill_hf_progress_fn)(void *ud, const char *tensor, int64_t done, int64_t total,
                                    int64_t bytes_done, int64_t bytes_total);

struct mill_hf_params {
    enum mill_hf_type type;       /* default MILL_HF_BF16 (lossless from BF16 checkpoints) */
    mill_hf_progress_fn progress; /* NULL: silent */
    void *progress_ud;
    int (*stop)(void); /* asked before each tensor: nonzero (a signal number) ends the
                        * conversion with MILL_EINTR, nothing kept; NULL: never */
    const char *name;  /* general.name; NULL: the directory's base name (llama.cpp reads it: a
                       * name holding "phi3" gives Phi-3's special-token attributes) */
};

struct mill_hf_params mill_hf_default_params(void);

/* "f32", "f16", "bf16", "q8_0" and the llama backend's dtype spellings (float32, fp32,
 * float16, fp16, half, bfloat16), in any case, into *out; false for anything else. */
bool mill_hf_parse_type(const char *s, enum mill_hf_type *out);
/* "F32", "F16", "BF16", "Q8_0"; static storage. */
const char *mill_hf_type_name(enum mill_hf_type type);
/* The checkpoint directory's own name, as pathlib's Path(dir).name (trailing slashes dropped):
 * the default general.name. malloc'd; NULL when out of memory. */
char *mill_hf_dir_name(const char *dir);

/* True when dir holds a transformers checkpoint: config.json and model.safetensors or
 * model.safetensors.index.json (no file is parsed). */
bool mill_hf_is_checkpoint(const char *dir);

/* The checkpoint's files that decide the conversion, as paths relative to dir, sorted:
 * config.json, the index and every shard it names (or model.safetensors), and the tokenizer
 * files present (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
 * chat_template.jinja, chat_template.json). *files is a
 * malloc'd array of malloc'd strings (free with mill_hf_files_free). MILL_ENOTFOUND naming a
 * missing file (a shard the index names), MILL_EFORMAT for a bad index, MILL_EIO, MILL_ENOMEM.
 * The index is untrusted: shard names are checked (no '/', no "..") before use. */
int mill_hf_checkpoint_files(const char *dir, char ***files, size_t *n, struct mill_err *err);
void mill_hf_files_free(char **files, size_t n);

/* The shard file names of a model.safetensors.index.json (n bytes at json; name for messages),
 * in first-seen order, deduplicated. Same ownership and codes as mill_hf_checkpoint_files.
 * Untrusted input: fuzzed (tests/fuzz/fuzz_hf_config.c). */
int mill_hf_parse_index(const char *json, size_t n, const char *name, char ***shards,
                        size_t *n_shards, struct mill_err *err);

/* Checks a parsed config.json (n bytes at json) the way mill_hf_convert does before it reads
 * any tensor: architecture supported, dimensions present, positive and consistent, RoPE
 * scaling and attention options mapped or refused. 0, MILL_EUNSUPPORTED (an architecture or
 * option llama.cpp's graph would not compute the same: the message lists what is supported),
 * MILL_EFORMAT (bad JSON, a missing or ill-typed field, named). Fuzzed with the index parser. */
int mill_hf_check_config(const char *json, size_t n, const char *name, struct mill_err *err);

/* Converts the checkpoint in dir into the GGUF out_path (replaced atomically). Errors:
 * MILL_EUNSUPPORTED (architecture, dtype of a tensor, tokenizer the tokenizer mapping refuses),
 * MILL_ENOTFOUND (config.json, a shard, a tensor the architecture needs), MILL_EFORMAT (a
 * malformed file, a tensor of the wrong shape, a tensor the architecture does not know: each
 * named with its file), MILL_EIO (writing out_path), MILL_ENOMEM. On any error nothing is left
 * at out_path or beside it. */
int mill_hf_convert(const char *dir, const char *out_path, const struct mill_hf_params *params,
                    struct mill_err *err);

#endif
