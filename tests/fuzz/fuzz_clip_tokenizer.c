/* fuzz_clip_tokenizer.c: libFuzzer target for the CLIP tokenizer: arbitrary bytes (invalid
 * UTF-8, entity soup, mojibake, huge words, whitespace runs) tokenised with the real vocabulary
 * at context length 77 and at a length taken from the input, without and with ftfy.fix_text
 * first (open_clip's models), and with CLIPTokenizerFast's normalizer (HF checkpoints). The vocabulary is loaded once, from
 * $MILL_CLIP_BPE or the source tree's data/clip/bpe_simple_vocab_16e6.txt.gz; the target stops
 * at start-up when it cannot be loaded. Traps unless the output is SOT, ids, EOT, zeros. Must
 * not write files. */
#include "model/clip/tokenizer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MILL_TEST_SOURCE_DIR: the source tree CMake configured this target from. */
#define DEFAULT_BPE MILL_TEST_SOURCE_DIR "/data/clip/bpe_simple_vocab_16e6.txt.gz"

static struct mill_clip_tokenizer *plain, *fixing, *fast;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *path = getenv("MILL_CLIP_BPE");
    struct mill_err err = {0};
    path = path && *path ? path : DEFAULT_BPE;
    if (mill_clip_tokenizer_load_bpe_gz(path, &plain, &err) ||
        mill_clip_tokenizer_load_bpe_gz(path, &fixing, &err) ||
        mill_clip_tokenizer_use_ftfy(fixing, &err) ||
        mill_clip_tokenizer_load_bpe_gz(path, &fast, &err)) {
        fprintf(stderr, "fuzz_clip_tokenizer: %s (set MILL_CLIP_BPE)\n", err.msg);
        exit(1);
    }
    mill_clip_tokenizer_use_hf_fast(fast);
    return 0;
}

static void check(const struct mill_clip_tokenizer *tok, const char *text, int ctx) {
    int32_t out[77];
    struct mill_err err;
    int n = mill_clip_tokenize(tok, text, ctx, out, &err);
    if (n < 2 || n > ctx || out[0] != mill_clip_sot(tok) || out[n - 1] != mill_clip_eot(tok))
        __builtin_trap();
    for (int k = n; k < ctx; k++)
        if (out[k] != 0)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    check(plain, text, 77);
    check(plain, text, size ? 2 + data[0] % 76 : 2);
    check(fixing, text, 77);
    check(fast, text, 77);
    free(text);
    return 0;
}
