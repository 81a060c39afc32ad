/* gen_llama: writes random-weight llama-architecture GGUF models for Mill's tests, `make run` and
 * benchmarks, from the tokenizer of a vocab-only GGUF (llama.cpp's share/vocab/ggml-vocab-*.gguf)
 * or from a built-in tiny SPM vocabulary (`--vocab tiny`).
 *
 * It is a test tool. It never touches real models: it reads only the tokenizer.* keys of the
 * vocab file (never tensor data), writes nothing but --out, and its weights are seeded random
 * numbers, so its models are good for exercising code paths and timing, never for scores.
 * Same arguments and seed give byte-identical files. Big shapes are streamed: the header goes
 * first, then each tensor is generated row by row just before it is written.
 *
 * Usage: gen_llama --vocab FILE.gguf|tiny --out MODEL.gguf [--n_embd 64] [--n_layer 2]
 *        [--n_head 4] [--n_head_kv 2] [--n_ff 128] [--n_ctx 4096] [--seed 1]
 *        [--type f32|f16|bf16|q8_0|q4_0]
 *        [--chat_template chatml|llama3|gemma|qwen2vl|qwen2audio|none]
 *        [--tokenizer keep|none] [--add_piece TEXT] [--mmproj PROJ.gguf [--v_embd 64] [--v_layer 2]
 *        [--v_head 4]
 *        [--v_ff 128] [--image_size 32] [--patch_size 8]] [--arch llama|qwen2vl]
 *        [--amproj PROJ.gguf [--a_embd 64] [--a_layer 2] [--a_head 4] [--a_ff 128] [--n_mel 128]]
 * `--mmproj` also writes a vision projector, so a tiny random-weight VLM exists for tests: with
 * `--arch llama` a llava-style one (libmtmd's "mlp" type: a CLIP ViT with class embedding,
 * learned positions and pre-norm blocks, then a two-layer MLP into the language model's
 * embedding); with `--arch qwen2vl` the language model uses Qwen2-VL's M-RoPE (its
 * [16, 24, 24, 0] rotary sections scaled to the head size) and the projector is Qwen2-VL's
 * ("qwen2vl_merger": two temporal patch kernels, 2-D rotary attention, 2x2 patches merged by
 * the MLP), so image tokens take fewer positions than KV cells.
 * `--amproj` writes an audio projector beside the model, so a tiny random-weight audio LM exists:
 * libmtmd's "qwen2a" type (Qwen2-Audio): a Whisper encoder (two 1-D convolutions over the
 * n_mel-bin log-mel spectrogram, the second of stride 2, learned positions for the 1500 frames of
 * a 30 s window, pre-norm blocks with no bias on K, a final norm), 2x average pooling, then one
 * linear layer into the language model's embedding: 750 tokens per 30 s of audio.
 * `--add_piece TEXT` (with `--vocab tiny` only) appends one more normal piece, the least
 * frequent, e.g. a long one holding a newline, to test how a tokenizer's user reads its vocabulary.
 * `--tokenizer none` writes a model without a vocabulary (tokenizer.ggml.model "none", the
 * shapes still sized by --vocab), as conversions of tokenizer-less checkpoints do.
 * Exit: 0 ok, 1 error (vocab file, dimensions, output), 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml.h"
#include "gguf.h"

#define TOOL_NAME "gen_llama"
#include "tool_args.h"
#define LAYER_MAX 1024
#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */

struct opts {
    const char *vocab;
    const char *out;
    const char *chat_template; /* NULL: keep the vocab file's */
    const char *mmproj;        /* also write a vision projector here, or NULL */
    const char *amproj;        /* also write an audio projector (qwen2a) here, or NULL */
    bool qwen2vl;              /* --arch qwen2vl: M-RoPE text model, Qwen2-VL projector */
    bool no_vocab;             /* --tokenizer none */
    const char *add_piece;     /* --add_piece: one more piece of the tiny vocabulary, or NULL */
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    int64_t v_embd, v_layer, v_head, v_ff, image_size, patch_size; /* the projector's ViT */
    int64_t a_embd, a_layer, a_head, a_ff, n_mel; /* the audio projector's Whisper encoder */
    uint64_t seed;
    enum ggml_type type;
};

static const struct int_opt INT_OPTS[] = {
    {"n_embd", offsetof(struct opts, n_embd)},
    {"n_layer", offsetof(struct opts, n_layer)},
    {"n_head", offsetof(struct opts, n_head)},
    {"n_head_kv", offsetof(struct opts, n_head_kv)},
    {"n_ff", offsetof(struct opts, n_ff)},
    {"n_ctx", offsetof(struct opts, n_ctx)},
    {"v_embd", offsetof(struct opts, v_embd)},
    {"v_layer", offsetof(struct opts, v_layer)},
    {"v_head", offsetof(struct opts, v_head)},
    {"v_ff", offsetof(struct opts, v_ff)},
    {"image_size", offsetof(struct opts, image_size)},
    {"patch_size", offsetof(struct opts, patch_size)},
    {"a_embd", offsetof(struct opts, a_embd)},
    {"a_layer", offsetof(struct opts, a_layer)},
    {"a_head", offsetof(struct opts, a_head)},
    {"a_ff", offsetof(struct opts, a_ff)},
    {"n_mel", offsetof(struct opts, n_mel)},
};

/* Templates that llama.cpp's llama_chat_apply_template recognises by their markers. */
static const char *const TEMPLATES[][2] = {
    {"chatml", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
               "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
               "%}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {"llama3", "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
               "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
               "'<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ "
               "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
    {"gemma", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' "
              "%}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
              "'<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' "
              "}}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif "
              "%}"},
    /* the processor templates of Qwen2-VL and Qwen2-Audio (tests/data/chat_templates/) */
    {"qwen2vl", "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value"
                "=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'sy"
                "stem' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %"
                "}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ me"
                "ssage['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] "
                "%}{% if content['type'] == 'image' or 'image' in content or 'image_url' in con"
                "tent %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id "
                "%}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|v"
                "ision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set v"
                "ideo_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ vide"
                "o_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% eli"
                "f 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
                "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{%"
                " endif %}"},
    {"qwen2audio", "{% set audio_count = namespace(value=0) %}{% for message in messages %}{% if l"
                   "oop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a help"
                   "ful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if "
                   "message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{"
                   "% for content in message['content'] %}{% if 'audio' in content or 'audio_url' "
                   "in content %}{% set audio_count.value = audio_count.value + 1 %}Audio {{ audio"
                   "_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n{% elif 'text' in conten"
                   "t %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endf"
                   "or %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"},
};

/* Pieces of the tiny SPM vocabulary, most frequent first; each multi-character piece splits into
 * two earlier pieces, so llama.cpp's SPM merger can reach it. */
static const char *const TINY_PIECES[] = {
    SP,     "e",    "t",      "a",      "o",     "i",     "n",    "s",     "h",     "r",    "d",
    "l",    "u",    "c",      "m",      "w",     "f",     "g",    "y",     "p",     "b",    "v",
    "k",    "x",    "j",      "q",      "z",     ".",     ",",    "'",     "?",     "!",    SP "t",
    "th",   "he",   SP "th",  SP "the", "in",    "er",    "an",   "re",    "on",    "at",   "en",
    "nd",   SP "a", SP "and", SP "o",   SP "of", SP "to", SP "i", SP "in", SP "is", "ing",  SP "s",
    SP "w", SP "c", "es",     "or",     "ed",    SP "b",  SP "f", SP "it", "ou",    SP "h", SP "he",
};

static void usage(FILE *f) {
    fputs("usage: gen_llama --vocab FILE.gguf|tiny --out MODEL.gguf [--n_embd 64] [--n_layer 2]\n"
          "                 [--n_head 4] [--n_head_kv 2] [--n_ff 128] [--n_ctx 4096] [--seed 1]\n"
          "                 [--type f32|f16|bf16|q8_0|q4_0]\n"
          "                 [--chat_template chatml|llama3|gemma|qwen2vl|qwen2audio|none]\n"
          "                 [--tokenizer keep|none] [--add_piece TEXT] [--mmproj PROJ.gguf\n"
          "                 [--v_embd 64] [--v_layer 2] [--v_head 4] [--v_ff 128]\n"
          "                 [--image_size 32] [--patch_size 8]] [--arch llama|qwen2vl]\n"
          "                 [--amproj PROJ.gguf [--a_embd 64] [--a_layer 2] [--a_head 4]\n"
          "                 [--a_ff 128] [--n_mel 128]]\n"
          "Writes a random-weight llama-architecture GGUF test model (never a real one).\n",
          f);
}

/* ---- arguments ---- */

static bool parse_type(const char *s, enum ggml_type *out) {
    if (!strcmp(s, "f32"))
        *out = GGML_TYPE_F32;
    else if (!strcmp(s, "f16"))
        *out = GGML_TYPE_F16;
    else if (!strcmp(s, "bf16"))
        *out = GGML_TYPE_BF16;
    else if (!strcmp(s, "q8_0"))
        *out = GGML_TYPE_Q8_0;
    else if (!strcmp(s, "q4_0"))
        *out = GGML_TYPE_Q4_0;
    else
        return false;
    return true;
}

static bool known_template(const char *name) {
    if (!strcmp(name, "none"))
        return true;
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++)
        if (!strcmp(name, TEMPLATES[i][0]))
            return true;
    return false;
}

/* Applies one `--name value`; returns 0 or an exit code. */
static int apply_opt(struct opts *o, const char *name, const char *val) {
    int rc = apply_int_opt(INT_OPTS, sizeof INT_OPTS / sizeof INT_OPTS[0], o, name, val);
    if (rc >= 0)
        return rc;
    if (!strcmp(name, "vocab"))
        o->vocab = val;
    else if (!strcmp(name, "out"))
        o->out = val;
    else if (!strcmp(name, "mmproj"))
        o->mmproj = val;
    else if (!strcmp(name, "amproj"))
        o->amproj = val;
    else if (!strcmp(name, "add_piece"))
        o->add_piece = val;
    else if (!strcmp(name, "arch")) {
        if (strcmp(val, "llama") && strcmp(val, "qwen2vl"))
            return usage_error("--arch wants llama or qwen2vl, got '%s'", val);
        o->qwen2vl = !strcmp(val, "qwen2vl");
    } else if (!strcmp(name, "seed")) {
        if (!parse_u64(val, &o->seed))
            return usage_error("--seed wants a non-negative integer, got '%s'", val);
    } else if (!strcmp(name, "type")) {
        if (!parse_type(val, &o->type))
            return usage_error("--type wants f32, f16, bf16, q8_0 or q4_0, got '%s'", val);
    } else if (!strcmp(name, "chat_template")) {
        if (!known_template(val))
            return usage_error("--chat_template wants chatml, llama3, gemma, qwen2vl, qwen2audio "
                               "or none, got '%s'",
                               val);
        o->chat_template = val;
    } else if (!strcmp(name, "tokenizer")) {
        if (strcmp(val, "keep") && strcmp(val, "none"))
            return usage_error("--tokenizer wants keep or none, got '%s'", val);
        o->no_vocab = !strcmp(val, "none");
    } else
        return usage_error("unknown option '--%s'", name);
    return 0;
}

/* Returns -1 to go on, else the exit code. Accepts `--name value` and `--name=value`. */
static int parse_args(int argc, char **argv, struct opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        char name[64];
        const char *val;
        int rc = next_opt(argc, argv, &i, name, sizeof name, &val, NULL);
        if (!rc)
            rc = apply_opt(o, name, val);
        if (rc)
            return rc;
    }
    if (!o->vocab || !o->out)
        return usage_error("--vocab and --out are required");
    if (o->add_piece && (strcmp(o->vocab, "tiny") || !*o->add_piece))
        return usage_error("--add_piece wants a non-empty piece and --vocab tiny");
    return -1;
}

static int check_dims(const struct opts *o) {
    if (o->n_layer > LAYER_MAX)
        return fail("--n_layer %" PRId64 " is above %d", o->n_layer, LAYER_MAX);
    if (o->n_embd % o->n_head)
        return fail("--n_embd %" PRId64 " is not a multiple of --n_head %" PRId64, o->n_embd,
                    o->n_head);
    if ((o->n_embd / o->n_head) % 2)
        return fail("head size n_embd/n_head = %" PRId64 " must be even (RoPE)",
                    o->n_embd / o->n_head);
    if (o->n_head_kv > o->n_head || o->n_head % o->n_head_kv)
        return fail("--n_head %" PRId64 " is not a multiple of --n_head_kv %" PRId64, o->n_head,
                    o->n_head_kv);
    if (o->qwen2vl && (o->n_embd / o->n_head) % 8)
        return fail("--arch qwen2vl: the head size n_embd/n_head must be a multiple of 8");
    if (o->mmproj && o->qwen2vl && (o->v_embd / o->v_head) % 4)
        return fail("--arch qwen2vl: the projector's head size must be a multiple of 4");
    if (o->mmproj &&
        (o->v_embd % o->v_head || o->image_size % o->patch_size || o->v_layer > LAYER_MAX))
        return fail("projector: --v_embd must be a multiple of --v_head, --image_size of "
                    "--patch_size, and --v_layer at most %d",
                    LAYER_MAX);
    if (o->amproj && (o->a_embd % o->a_head || o->a_layer > LAYER_MAX || o->n_mel < 1))
        return fail("audio projector: --a_embd must be a multiple of --a_head, --a_layer at "
                    "most %d and --n_mel positive",
                    LAYER_MAX);
    int64_t blck = ggml_blck_size(o->type);
    if (o->n_embd % blck || o->n_ff % blck)
        return fail("--type %s packs rows in blocks of %" PRId64 ": --n_embd and --n_ff must be "
                    "multiples of it",
                    ggml_type_name(o->type), blck);
    return 0;
}

/* ---- vocabulary ---- */

static struct gguf_context *tiny_vocab(const char *add_piece) {
    size_t n_piece = sizeof TINY_PIECES / sizeof TINY_PIECES[0];
    size_t n = 3 + 256 + n_piece + (add_piece != NULL);
    const char **tok = calloc(n, sizeof *tok);
    float *score = calloc(n, sizeof *score);
    int32_t *type = calloc(n, sizeof *type);
    char(*bytes)[8] = calloc(256, sizeof *bytes);
    if (!tok || !score || !type || !bytes)
        abort();
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (size_t i = 0; i < 3; i++) {
        tok[i] = special[i];
        type[i] = i ? 3 : 2; /* control, unknown */
    }
    for (size_t b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02zX>", b);
        tok[3 + b] = bytes[b];
        type[3 + b] = 6; /* byte */
    }
    for (size_t i = 0; i < n_piece; i++) {
        tok[259 + i] = TINY_PIECES[i];
        score[259 + i] = -(float)i;
        type[259 + i] = 1; /* normal */
    }
    if (add_piece) {
        tok[n - 1] = add_piece;
        score[n - 1] = -(float)n_piece;
        type[n - 1] = 1;
    }
    struct gguf_context *g = gguf_init_empty();
    gguf_set_val_str(g, "tokenizer.ggml.model", "llama");
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok, n);
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, score, n);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, type, n);
    gguf_set_val_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", 1);
    gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", 2);
    gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", true);
    gguf_set_val_bool(g, "tokenizer.ggml.add_eos_token", false);
    free(tok);
    free(score);
    free(type);
    free(bytes);
    return g;
}

/* Reads the vocab file's metadata only; returns NULL after a message. */
static struct gguf_context *load_vocab(const char *path, const char *add_piece, int64_t *n_vocab) {
    struct gguf_context *g;
    if (!strcmp(path, "tiny")) {
        g = tiny_vocab(add_piece);
    } else {
        if (access(path, R_OK)) {
            fail("cannot read vocab file '%s': %s", path, strerror(errno));
            return NULL;
        }
        struct gguf_init_params p = {.no_alloc = true, .ctx = NULL};
        g = gguf_init_from_file(path, p);
        if (!g) {
            fail("cannot read vocab file '%s': not a valid GGUF file", path);
            return NULL;
        }
    }
    int64_t id = gguf_find_key(g, "tokenizer.ggml.tokens");
    if (id < 0 || gguf_get_kv_type(g, id) != GGUF_TYPE_ARRAY ||
        gguf_get_arr_type(g, id) != GGUF_TYPE_STRING || gguf_get_arr_n(g, id) == 0) {
        fail("vocab file '%s' has no tokenizer.ggml.tokens string array", path);
        gguf_free(g);
        return NULL;
    }
    *n_vocab = (int64_t)gguf_get_arr_n(g, id);
    return g;
}

/* Copies the tokenizer.* keys of src into dst; general.* and <arch>.* keys stay behind. */
static void copy_tokenizer_keys(struct gguf_context *dst, const struct gguf_context *src) {
    struct gguf_context *tmp = gguf_init_empty();
    gguf_set_kv(tmp, src);
    for (int64_t i = gguf_get_n_kv(tmp) - 1; i >= 0; i--) {
        const char *key = gguf_get_key(tmp, i);
        if (strncmp(key, "tokenizer.", 10) != 0)
            gguf_remove_key(tmp, key);
    }
    gguf_set_kv(dst, tmp);
    gguf_free(tmp);
}

static void set_chat_template(struct gguf_context *g, const char *name) {
    if (!name)
        return;
    gguf_remove_key(g, "tokenizer.chat_template");
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++)
        if (!strcmp(name, TEMPLATES[i][0]))
            gguf_set_val_str(g, "tokenizer.chat_template", TEMPLATES[i][1]);
}

/* ---- metadata and tensors ---- */

static void set_hparams(struct gguf_context *g, const struct opts *o, int64_t n_vocab) {
    /* llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_BF16 32 */
    uint32_t ftype = o->type == GGML_TYPE_F32    ? 0
                     : o->type == GGML_TYPE_F16  ? 1
                     : o->type == GGML_TYPE_Q4_0 ? 2
                     : o->type == GGML_TYPE_Q8_0 ? 7
                                                 : 32;
    const char *arch = o->qwen2vl ? "qwen2vl" : "llama";
    char key[96];
#define ARCH_KEY(k) (snprintf(key, sizeof key, "%s." k, arch), key)
    gguf_set_val_str(g, "general.architecture", arch);
    gguf_set_val_str(g, "general.name", "mill-gen-llama-random");
    gguf_set_val_u32(g, "general.file_type", ftype);
    gguf_set_val_u32(g, ARCH_KEY("vocab_size"), (uint32_t)n_vocab);
    gguf_set_val_u32(g, ARCH_KEY("context_length"), (uint32_t)o->n_ctx);
    gguf_set_val_u32(g, ARCH_KEY("embedding_length"), (uint32_t)o->n_embd);
    gguf_set_val_u32(g, ARCH_KEY("block_count"), (uint32_t)o->n_layer);
    gguf_set_val_u32(g, ARCH_KEY("feed_forward_length"), (uint32_t)o->n_ff);
    gguf_set_val_u32(g, ARCH_KEY("attention.head_count"), (uint32_t)o->n_head);
    gguf_set_val_u32(g, ARCH_KEY("attention.head_count_kv"), (uint32_t)o->n_head_kv);
    gguf_set_val_u32(g, ARCH_KEY("rope.dimension_count"), (uint32_t)(o->n_embd / o->n_head));
    gguf_set_val_f32(g, ARCH_KEY("rope.freq_base"), 10000.0f);
    gguf_set_val_f32(g, ARCH_KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (o->qwen2vl) { /* Qwen2-VL's [16, 24, 24, 0] of 64 rotary pairs, scaled */
        int32_t pairs = (int32_t)(o->n_embd / o->n_head / 2), t = pairs / 4;
        int32_t sec[4] = {t, (pairs - t) / 2, pairs - t - (pairs - t) / 2, 0};
        gguf_set_arr_data(g, ARCH_KEY("rope.dimension_sections"), GGUF_TYPE_INT32, sec, 4);
    }
#undef ARCH_KEY
}

static void add_tensor(struct gguf_context *g, struct ggml_context *c, const char *name,
                       enum ggml_type type, int64_t ne0, int64_t ne1) {
    struct ggml_tensor *t =
        ne1 ? ggml_new_tensor_2d(c, type, ne0, ne1) : ggml_new_tensor_1d(c, GGML_TYPE_F32, ne0);
    ggml_set_name(t, name);
    gguf_add_tensor(g, t);
}

static void add_tensor_4d(struct gguf_context *g, struct ggml_context *c, const char *name,
                          const int64_t ne[4]) {
    struct ggml_tensor *t = ggml_new_tensor_4d(c, GGML_TYPE_F32, ne[0], ne[1], ne[2], ne[3]);
    ggml_set_name(t, name);
    gguf_add_tensor(g, t);
}

static void add_layer(struct gguf_context *g, struct ggml_context *c, const struct opts *o,
                      int64_t il) {
    int64_t e = o->n_embd, kv = o->n_embd / o->n_head * o->n_head_kv;
    struct {
        const char *name;
        int64_t ne0, ne1;
    } t[] = {
        {"attn_norm", e, 0},      {"attn_q", e, e},       {"attn_k", e, kv},
        {"attn_v", e, kv},        {"attn_output", e, e},  {"ffn_norm", e, 0},
        {"ffn_gate", e, o->n_ff}, {"ffn_up", e, o->n_ff}, {"ffn_down", o->n_ff, e},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[GGML_MAX_NAME];
        snprintf(name, sizeof name, "blk.%" PRId64 ".%s.weight", il, t[i].name);
        add_tensor(g, c, name, o->type, t[i].ne0, t[i].ne1);
    }
}

/* Declares every tensor (metadata only: the ggml context holds no data). */
static struct ggml_context *add_tensors(struct gguf_context *g, const struct opts *o,
                                        int64_t n_vocab) {
    struct ggml_init_params p = {
        .mem_size = ggml_tensor_overhead() * (size_t)(3 + 9 * o->n_layer) + 4096,
        .mem_buffer = NULL,
        .no_alloc = true,
    };
    struct ggml_context *c = ggml_init(p);
    if (!c)
        return NULL;
    add_tensor(g, c, "token_embd.weight", o->type, o->n_embd, n_vocab);
    add_tensor(g, c, "output_norm.weight", GGML_TYPE_F32, o->n_embd, 0);
    add_tensor(g, c, "output.weight", o->type, o->n_embd, n_vocab);
    for (int64_t il = 0; il < o->n_layer; il++)
        add_layer(g, c, o, il);
    return c;
}

/* ---- weights ---- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Per-tensor stream: the seed mixed with the FNV-1a hash of the name. */
static uint64_t tensor_seed(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    uint64_t s = seed ^ h;
    return splitmix64(&s);
}

/* Uniform in [-a, a] with a = sqrt(3) * std, so the standard deviation is std. */
static void fill_row(float *row, int64_t n, float std, uint64_t *state) {
    float a = sqrtf(3.0f) * std;
    for (int64_t i = 0; i < n; i++) {
        float u = (float)(splitmix64(state) >> 40) * (1.0f / 16777216.0f);
        row[i] = (2.0f * u - 1.0f) * a;
    }
}

struct row_buf {
    float *f32;
    void *conv;
};

static bool write_row(FILE *f, struct row_buf *b, enum ggml_type type, int64_t n) {
    if (type == GGML_TYPE_F16)
        ggml_fp32_to_fp16_row(b->f32, b->conv, n);
    else if (type == GGML_TYPE_BF16)
        ggml_fp32_to_bf16_row(b->f32, b->conv, n);
    else if (type != GGML_TYPE_F32)
        ggml_quantize_chunk(type, b->f32, b->conv, 0, 1, n, NULL);
    const void *src = type == GGML_TYPE_F32 ? (const void *)b->f32 : b->conv;
    size_t bytes = ggml_row_size(type, n);
    return fwrite(src, 1, bytes, f) == bytes;
}

/* Generates tensor id row by row and writes it: norms are 1.0, biases 0, token_embd has std 1,
 * every other tensor std 1/sqrt(fan_in) with fan_in = ne0. */
static bool write_tensor(FILE *f, const struct gguf_context *g, int64_t id, uint64_t seed,
                         struct row_buf *b) {
    const char *name = gguf_get_tensor_name(g, id);
    const int64_t *ne = gguf_get_tensor_ne(g, id);
    enum ggml_type type = gguf_get_tensor_type(g, id);
    bool bias = strstr(name, ".bias") != NULL;
    bool norm = !bias && (strstr(name, "norm") || strstr(name, "_ln.") || strstr(name, ".ln1.") ||
                          strstr(name, ".ln2."));
    /* a 1-D convolution kernel [k, in, out] sums over k * in inputs */
    float fan_in = (float)ne[0] * (!strncmp(name, "a.conv1d.", 9) ? (float)ne[1] : 1.0f);
    float std = !strcmp(name, "token_embd.weight") ? 1.0f : 1.0f / sqrtf(fan_in);
    uint64_t state = tensor_seed(seed, name);
    for (int64_t r = 0; r < ne[1] * ne[2] * ne[3]; r++) {
        if (norm || bias)
            for (int64_t i = 0; i < ne[0]; i++)
                b->f32[i] = norm ? 1.0f : 0.0f;
        else
            fill_row(b->f32, ne[0], std, &state);
        if (!write_row(f, b, type, ne[0]))
            return false;
    }
    return true;
}

static bool write_zeros(FILE *f, size_t n) {
    static const char zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k)
            return false;
        n -= k;
    }
    return true;
}

static size_t pad_to(size_t x, size_t align) { return (x + align - 1) / align * align; }

/* Header from gguf_get_meta_data, then each tensor at data start + its aligned offset. */
static bool write_body(FILE *f, const struct gguf_context *g, const struct opts *o) {
    size_t meta = gguf_get_meta_size(g), align = gguf_get_alignment(g);
    void *hdr = malloc(meta);
    int64_t width = 1;
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++)
        if (gguf_get_tensor_ne(g, i)[0] > width)
            width = gguf_get_tensor_ne(g, i)[0];
    struct row_buf b = {malloc(sizeof(float) * width), malloc(sizeof(float) * width)};
    bool ok = hdr && b.f32 && b.conv;
    if (ok) {
        gguf_get_meta_data(g, hdr);
        ok = fwrite(hdr, 1, meta, f) == meta;
    }
    size_t start = pad_to(meta, align), pos = meta;
    for (int64_t i = 0; ok && i < gguf_get_n_tensors(g); i++) {
        size_t at = start + gguf_get_tensor_offset(g, i);
        ok = write_zeros(f, at - pos) && write_tensor(f, g, i, o->seed, &b);
        pos = at + gguf_get_tensor_size(g, i);
    }
    ok = ok && write_zeros(f, pad_to(pos, align) - pos);
    free(hdr);
    free(b.f32);
    free(b.conv);
    return ok;
}

static int write_model(const struct gguf_context *g, const struct opts *o, const char *out) {
    FILE *f = fopen(out, "wb");
    if (!f)
        return fail("cannot write '%s': %s", out, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    bool ok = write_body(f, g, o);
    int err = errno;
    ok = !ferror(f) && ok;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(out);
        return fail("cannot write '%s': %s", out, strerror(err ? err : EIO));
    }
    return 0;
}

/* ---- the vision projector (--mmproj) ---- */

static void set_mmproj_hparams(struct gguf_context *g, const struct opts *o) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    gguf_set_val_str(g, "general.architecture", "clip");
    gguf_set_val_str(g, "general.name", "mill-gen-llama-random-mmproj");
    gguf_set_val_u32(g, "general.file_type", 0);
    gguf_set_val_bool(g, "clip.has_vision_encoder", true);
    gguf_set_val_str(g, "clip.projector_type", o->qwen2vl ? "qwen2vl_merger" : "mlp");
    gguf_set_val_bool(g, "clip.use_gelu", true);
    gguf_set_val_u32(g, "clip.vision.embedding_length", (uint32_t)o->v_embd);
    gguf_set_val_u32(g, "clip.vision.feed_forward_length", (uint32_t)o->v_ff);
    gguf_set_val_u32(g, "clip.vision.block_count", (uint32_t)o->v_layer);
    gguf_set_val_u32(g, "clip.vision.attention.head_count", (uint32_t)o->v_head);
    gguf_set_val_u32(g, "clip.vision.projection_dim", (uint32_t)o->n_embd);
    gguf_set_val_f32(g, "clip.vision.attention.layer_norm_epsilon", 1e-5f);
    gguf_set_val_u32(g, "clip.vision.image_size", (uint32_t)o->image_size);
    gguf_set_val_u32(g, "clip.vision.patch_size", (uint32_t)o->patch_size);
    gguf_set_arr_data(g, "clip.vision.image_mean", GGUF_TYPE_FLOAT32, mean, 3);
    gguf_set_arr_data(g, "clip.vision.image_std", GGUF_TYPE_FLOAT32, std, 3);
}

static void add_vit_layer(struct gguf_context *g, struct ggml_context *c, const struct opts *o,
                          int64_t il) {
    int64_t e = o->v_embd;
    struct {
        const char *name;
        int64_t ne0, ne1;
    } t[] = {
        {"attn_q", e, e}, {"attn_k", e, e}, {"attn_v", e, e},       {"attn_out", e, e},
        {"ln1", e, 0},    {"ln2", e, 0},    {"ffn_up", e, o->v_ff}, {"ffn_down", o->v_ff, e},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[GGML_MAX_NAME];
        snprintf(name, sizeof name, "v.blk.%" PRId64 ".%s.weight", il, t[i].name);
        add_tensor(g, c, name, GGML_TYPE_F32, t[i].ne0, t[i].ne1);
        snprintf(name, sizeof name, "v.blk.%" PRId64 ".%s.bias", il, t[i].name);
        add_tensor(g, c, name, GGML_TYPE_F32, t[i].ne1 ? t[i].ne1 : e, 0);
    }
}

/* The ViT (patches of patch_size, a class token, learned positions) and the llava MLP. */
static struct ggml_context *add_mmproj_tensors(struct gguf_context *g, const struct opts *o) {
    struct ggml_init_params p = {
        .mem_size = ggml_tensor_overhead() * (size_t)(12 + 16 * o->v_layer) + 4096,
        .no_alloc = true,
    };
    struct ggml_context *c = ggml_init(p);
    if (!c)
        return NULL;
    int64_t e = o->v_embd, side = o->image_size / o->patch_size;
    const int64_t patch[4] = {o->patch_size, o->patch_size, 3, e};
    add_tensor_4d(g, c, "v.patch_embd.weight", patch);
    if (o->qwen2vl) { /* a second temporal kernel; positions are rotary */
        add_tensor_4d(g, c, "v.patch_embd.weight.1", patch);
    } else {
        add_tensor(g, c, "v.class_embd", GGML_TYPE_F32, e, 0);
        add_tensor(g, c, "v.position_embd.weight", GGML_TYPE_F32, e, side * side + 1);
        add_tensor(g, c, "v.pre_ln.weight", GGML_TYPE_F32, e, 0);
        add_tensor(g, c, "v.pre_ln.bias", GGML_TYPE_F32, e, 0);
    }
    for (int64_t il = 0; il < o->v_layer; il++)
        add_vit_layer(g, c, o, il);
    int64_t in = o->qwen2vl ? 4 * e : e, hid = o->qwen2vl ? 4 * e : o->n_embd;
    if (o->qwen2vl) { /* the merger's norm before the 2x2 patch MLP */
        add_tensor(g, c, "v.post_ln.weight", GGML_TYPE_F32, e, 0);
        add_tensor(g, c, "v.post_ln.bias", GGML_TYPE_F32, e, 0);
    }
    add_tensor(g, c, "mm.0.weight", GGML_TYPE_F32, in, hid);
    add_tensor(g, c, "mm.0.bias", GGML_TYPE_F32, hid, 0);
    add_tensor(g, c, "mm.2.weight", GGML_TYPE_F32, hid, o->n_embd);
    add_tensor(g, c, "mm.2.bias", GGML_TYPE_F32, o->n_embd, 0);
    return c;
}

static int write_mmproj(const struct opts *o) {
    struct gguf_context *g = gguf_init_empty();
    set_mmproj_hparams(g, o);
    struct ggml_context *c = add_mmproj_tensors(g, o);
    int rc = c ? write_model(g, o, o->mmproj) : fail("out of memory");
    if (c)
        ggml_free(c);
    gguf_free(g);
    return rc;
}

/* ---- the audio projector (--amproj): qwen2a ---- */

static void set_amproj_hparams(struct gguf_context *g, const struct opts *o) {
    gguf_set_val_str(g, "general.architecture", "clip");
    gguf_set_val_str(g, "general.name", "mill-gen-llama-random-amproj");
    gguf_set_val_u32(g, "general.file_type", 0);
    gguf_set_val_bool(g, "clip.has_audio_encoder", true);
    gguf_set_val_str(g, "clip.projector_type", "qwen2a");
    gguf_set_val_u32(g, "clip.audio.embedding_length", (uint32_t)o->a_embd);
    gguf_set_val_u32(g, "clip.audio.feed_forward_length", (uint32_t)o->a_ff);
    gguf_set_val_u32(g, "clip.audio.block_count", (uint32_t)o->a_layer);
    gguf_set_val_u32(g, "clip.audio.attention.head_count", (uint32_t)o->a_head);
    gguf_set_val_u32(g, "clip.audio.projection_dim", (uint32_t)o->n_embd);
    gguf_set_val_f32(g, "clip.audio.attention.layer_norm_epsilon", 1e-5f);
    gguf_set_val_u32(g, "clip.audio.num_mel_bins", (uint32_t)o->n_mel);
}

/* One Whisper encoder block: pre-norm attention (K without bias) and a GELU MLP. */
static void add_whisper_layer(struct gguf_context *g, struct ggml_context *c, const struct opts *o,
                              int64_t il) {
    int64_t e = o->a_embd;
    struct {
        const char *name;
        int64_t ne0, ne1;
        bool bias;
    } t[] = {
        {"attn_q", e, e, true},       {"attn_k", e, e, false},
        {"attn_v", e, e, true},       {"attn_out", e, e, true},
        {"ln1", e, 0, true},          {"ln2", e, 0, true},
        {"ffn_up", e, o->a_ff, true}, {"ffn_down", o->a_ff, e, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[GGML_MAX_NAME];
        snprintf(name, sizeof name, "a.blk.%" PRId64 ".%s.weight", il, t[i].name);
        add_tensor(g, c, name, GGML_TYPE_F32, t[i].ne0, t[i].ne1);
        snprintf(name, sizeof name, "a.blk.%" PRId64 ".%s.bias", il, t[i].name);
        if (t[i].bias)
            add_tensor(g, c, name, GGML_TYPE_F32, t[i].ne1 ? t[i].ne1 : e, 0);
    }
}

/* The convolutions (kernels [3, in, out]; biases [1, out], as ggml broadcasts them over the
 * frames), 1500 learned positions, the blocks, the final norm and the projection. */
static struct ggml_context *add_amproj_tensors(struct gguf_context *g, const struct opts *o) {
    struct ggml_init_params p = {
        .mem_size = ggml_tensor_overhead() * (size_t)(12 + 16 * o->a_layer) + 4096,
        .no_alloc = true,
    };
    struct ggml_context *c = ggml_init(p);
    if (!c)
        return NULL;
    int64_t e = o->a_embd;
    const int64_t conv1[4] = {3, o->n_mel, e, 1}, conv2[4] = {3, e, e, 1};
    add_tensor_4d(g, c, "a.conv1d.1.weight", conv1);
    add_tensor(g, c, "a.conv1d.1.bias", GGML_TYPE_F32, 1, e);
    add_tensor_4d(g, c, "a.conv1d.2.weight", conv2);
    add_tensor(g, c, "a.conv1d.2.bias", GGML_TYPE_F32, 1, e);
    add_tensor(g, c, "a.position_embd.weight", GGML_TYPE_F32, e, 1500);
    for (int64_t il = 0; il < o->a_layer; il++)
        add_whisper_layer(g, c, o, il);
    add_tensor(g, c, "a.post_ln.weight", GGML_TYPE_F32, e, 0);
    add_tensor(g, c, "a.post_ln.bias", GGML_TYPE_F32, e, 0);
    add_tensor(g, c, "mm.a.fc.weight", GGML_TYPE_F32, e, o->n_embd);
    add_tensor(g, c, "mm.a.fc.bias", GGML_TYPE_F32, o->n_embd, 0);
    return c;
}

static int write_amproj(const struct opts *o) {
    struct gguf_context *g = gguf_init_empty();
    set_amproj_hparams(g, o);
    struct ggml_context *c = add_amproj_tensors(g, o);
    int rc = c ? write_model(g, o, o->amproj) : fail("out of memory");
    if (c)
        ggml_free(c);
    gguf_free(g);
    return rc;
}

static int generate(const struct opts *o) {
    int64_t n_vocab = 0;
    struct gguf_context *src = load_vocab(o->vocab, o->add_piece, &n_vocab);
    if (!src)
        return 1;
    if (n_vocab > INT32_MAX) {
        gguf_free(src);
        return fail("vocab of %" PRId64 " tokens is too large", n_vocab);
    }
    struct gguf_context *g = gguf_init_empty();
    set_hparams(g, o, n_vocab);
    if (o->no_vocab)
        gguf_set_val_str(g, "tokenizer.ggml.model", "none");
    else
        copy_tokenizer_keys(g, src);
    gguf_free(src);
    set_chat_template(g, o->chat_template);
    struct ggml_context *c = add_tensors(g, o, n_vocab);
    int rc = c ? write_model(g, o, o->out) : fail("out of memory");
    if (c)
        ggml_free(c);
    gguf_free(g);
    if (!rc && o->mmproj)
        rc = write_mmproj(o);
    return rc || !o->amproj ? rc : write_amproj(o);
}

int main(int argc, char **argv) {
    struct opts o = {
        .n_embd = 64,
        .n_layer = 2,
        .n_head = 4,
        .n_head_kv = 2,
        .n_ff = 128,
        .n_ctx = 4096,
        .v_embd = 64,
        .v_layer = 2,
        .v_head = 4,
        .v_ff = 128,
        .image_size = 32,
        .patch_size = 8,
        .a_embd = 64,
        .a_layer = 2,
        .a_head = 4,
        .a_ff = 128,
        .n_mel = 128,
        .seed = 1,
        .type = GGML_TYPE_F32,
    };
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = check_dims(&o);
    if (rc)
        return rc;
    return generate(&o);
}
