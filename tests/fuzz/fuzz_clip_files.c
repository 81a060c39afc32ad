/* fuzz_clip_files.c: libFuzzer target for the parsers of a CLIP checkpoint's untrusted files
 * (src/model/clip) other than the weights and the gzip'd merges (fuzz_clip_tokenizer): the first
 * byte picks one, the rest is its content:
 *   0  HF vocab.json, a NUL, merges.txt (mill_clip_tokenizer_parse_hf), then texts tokenised;
 *   1  open_clip_config.json or a bare model config,
 *   2  HF config.json,
 *   3  HF config.json, a NUL, preprocessor_config.json,
 *      each read and checked as the loader does (mill_clip_hparams_from_json).
 * Traps when a tokenised text is not
 * SOT ... EOT within the context, or a checked config's shapes are not the positive,
 * head-dividing ones the graph needs. Must not write files. */
#include "model/clip/clip.h"
#include "model/clip/tokenizer.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void tokenise(const struct mill_clip_tokenizer *tok, const char *text, int ctx) {
    int32_t ids[77];
    struct mill_err err = {0};
    int n = mill_clip_tokenize(tok, text, ctx, ids, &err);
    if (n < 0)
        return;
    if (n < 2 || n > ctx || ids[0] != mill_clip_sot(tok) || ids[n - 1] != mill_clip_eot(tok))
        __builtin_trap();
}

static void vocab_merges(const char *s, size_t n) {
    const char *nul = memchr(s, '\0', n);
    size_t nv = nul ? (size_t)(nul - s) : n;
    struct mill_buf v = {0}, m = {0};
    struct mill_err err = {0};
    struct mill_clip_tokenizer *tok = NULL;
    if (mill_buf_add(&v, s, nv) == 0 &&
        mill_buf_add(&m, nul ? nul + 1 : "", nul ? n - nv - 1 : 0) == 0 &&
        mill_clip_tokenizer_parse_hf(&v, "vocab.json", &m, "merges.txt", &tok, &err) == 0) {
        tokenise(tok, "a photo of a dog.", 77);
        tokenise(tok, "caf\xc3\xa9 \xf0\x9f\x90\xb6 it's  \t\n X", 5);
        tokenise(tok, m.p ? m.p : "", 77);
        mill_clip_tokenizer_free(tok);
    }
    mill_buf_free(&v);
    mill_buf_free(&m);
}

/* kind 1: an open_clip config; 2: an HF config.json; 3: an HF config.json, a NUL, its
 * preprocessor_config.json. */
static void config(const char *s, size_t n, int kind) {
    const char *nul = kind == 3 ? memchr(s, '\0', n) : NULL;
    size_t nc = nul ? (size_t)(nul - s) : n;
    struct mill_value v, pre;
    struct mill_err err = {0};
    if (mill_value_from_json(&v, s, nc, &err))
        return;
    bool have_pre = nul && mill_value_from_json(&pre, nul + 1, n - nc - 1, &err) == 0;
    struct mill_clip_hparams h;
    if (mill_clip_hparams_from_json(&v, have_pre ? &pre : NULL, kind != 1, &h, &err) == 0 &&
        (h.image_size < 1 || h.patch_size < 1 || h.vision_heads < 1 || h.text_heads < 1 ||
         h.vision_width % h.vision_heads || h.text_width % h.text_heads ||
         h.patch_size > h.image_size || h.context_length < 2))
        __builtin_trap();
    if (have_pre)
        mill_value_free(&pre);
    mill_value_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    switch (data[0] % 4) {
    case 0: vocab_merges(s, size - 1); break;
    default: config(s, size - 1, data[0] % 4); break;
    }
    return 0;
}
