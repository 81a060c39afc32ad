/* fuzz_audio.c: libFuzzer target for audio decoding (libsndfile over an in-memory buffer, mono
 * downmix, resampling to 16 kHz). */
#include "data/audio.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_audio a = {0};
    struct mill_err err;
    if (mill_audio_decode(data, size, 16000, &a, &err) == 0)
        mill_audio_free(&a);
    return 0;
}
