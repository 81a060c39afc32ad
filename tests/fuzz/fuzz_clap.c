/* fuzz_clap.c: libFuzzer target for the parsers of a CLAP checkpoint's untrusted files
 * (src/model/clap): the first byte picks one, the rest is its content:
 *   0  tokenizer.json (mill_clap_tok_parse_json), then texts encoded with it;
 *   1  vocab.json, a NUL, merges.txt (mill_clap_tok_parse_txt), then texts encoded with it;
 *   2  config.json (mill_clap_hparams_from_json);
 *   3  preprocessor_config.json (mill_clap_fe_params_from_json), then the front end built
 *      (window, Slaney bank) when its sizes are modest, and one short clip's features when
 *      frames x n_fft is (a hop of a few samples is legal, but only slow).
 * Traps when an encoded text is not <s> ... </s> within the cap, or a loaded config's shapes are
 * not the positive, window-tiling ones the graph needs. Must not write files. */
#include "model/clap/clap.h"
#include "model/clap/clap_tok.h"

#include <mill/value.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void encode(const struct mill_clap_tok *tok, const char *text, int cap) {
    int32_t ids[64];
    int n = 0;
    struct mill_err err = {0};
    if (mill_clap_tok_encode(tok, text, ids, cap, &n, &err))
        return;
    if (n < 2 || n > cap || n > mill_clap_tok_max_length(tok))
        __builtin_trap();
}

static void texts(const struct mill_clap_tok *tok, const char *own) {
    encode(tok, "This is a sound of dog barking.", 64);
    encode(tok, "caf\xc3\xa9 \xf0\x9f\x90\xb6 's  \t\n x", 7);
    encode(tok, own, 64);
    encode(tok, own, 2);
}

static void tokenizer_json(const char *s, size_t n) {
    struct mill_clap_tok *tok = NULL;
    struct mill_err err = {0};
    if (mill_clap_tok_parse_json(s, n, "tokenizer.json", 64, &tok, &err) == 0) {
        texts(tok, s);
        mill_clap_tok_free(tok);
    }
}

static void tokenizer_txt(const char *s, size_t n) {
    const char *nul = memchr(s, '\0', n);
    size_t nv = nul ? (size_t)(nul - s) : n;
    const char *merges = nul ? nul + 1 : s + n;
    struct mill_clap_tok *tok = NULL;
    struct mill_err err = {0};
    if (mill_clap_tok_parse_txt(s, nv, merges, n - nv - (nul != NULL), "vocab+merges", 64, &tok,
                                &err) == 0) {
        texts(tok, merges);
        mill_clap_tok_free(tok);
    }
}

static void config(const char *s, size_t n) {
    struct mill_value v;
    struct mill_err err = {0};
    struct mill_clap_hparams h;
    if (mill_value_from_json(&v, s, n, &err))
        return;
    if (mill_clap_hparams_from_json(&v, "config.json", &h, &err) == 0) {
        int res = h.spec_size / h.patch_size;
        if (h.n_stages < 1 || h.n_stages > 8 || h.window < 1 || res % h.window ||
            h.spec_size % h.n_mels || h.text_hidden % h.text_heads)
            __builtin_trap();
    }
    mill_value_free(&v);
}

static void preprocessor(const char *s, size_t n) {
    struct mill_value v;
    struct mill_err err = {0};
    struct mill_clap_fe_params p = mill_clap_fe_default_params();
    if (mill_value_from_json(&v, s, n, &err))
        return;
    int rc = mill_clap_fe_params_from_json(&v, "preprocessor_config.json", &p, &err);
    mill_value_free(&v);
    struct mill_clap_fe *fe = NULL;
    if (rc || p.n_fft > 4096 || p.n_mels > 256 || p.max_samples > 96000 ||
        mill_clap_fe_init(&p, &fe, &err))
        return;
    size_t frames = (size_t)mill_clap_fe_frames(fe), len = 1000;
    if (frames * (size_t)p.n_fft > ((size_t)1 << 22)) { /* a legal but slow front end (a tiny hop):
                                                           the time goes to FFTs, not parsing */
        mill_clap_fe_free(fe);
        return;
    }
    float clip[1000], *out = malloc(frames * (size_t)p.n_mels * sizeof *out);
    for (size_t i = 0; i < len; i++)
        clip[i] = (float)sin(0.05 * (double)i);
    if (out && mill_clap_features(fe, clip, len, 0, out, &err) == 0)
        for (size_t i = 0; i < frames * (size_t)p.n_mels; i++)
            if (!isfinite(out[i]))
                __builtin_trap();
    free(out);
    mill_clap_fe_free(fe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0'; /* a NUL-terminated copy of the content, size - 1 bytes */
    switch (data[0] % 4) {
    case 0: tokenizer_json(s, size - 1); break;
    case 1: tokenizer_txt(s, size - 1); break;
    case 2: config(s, size - 1); break;
    default: preprocessor(s, size - 1); break;
    }
    free(s);
    return 0;
}
