/* audio.h: decodes an audio file held in memory (whatever libsndfile 1.2 reads: WAV, FLAC,
 * OGG/Vorbis, Opus, MP3, AIFF, ...) to float mono samples, optionally resampled to the rate a
 * model wants as Python Mill does it (librosa.resample with its default soxr_hq: libsoxr's HQ
 * quality, the length fixed to ceil(n * to / from)).
 *
 * Mono is the average of the channels (librosa.to_mono). Integer formats come out in [-1, 1)
 * (libsndfile's normalisation). This file must not touch the disk, keep global state or trust
 * the declared length of a stream: samples grow with the frames actually decoded, up to
 * MILL_AUDIO_MAX_FRAMES. */
#ifndef MILL_DATA_AUDIO_H
#define MILL_DATA_AUDIO_H

#include <mill/mill.h>

#include <stddef.h>
#include <stdint.h>

/* Longest stream accepted, in frames, before and after resampling (1 GiB of floats). */
#ifndef MILL_AUDIO_MAX_FRAMES /* the fuzz build (MILL_FUZZ) lowers it, as the image limits */
#define MILL_AUDIO_MAX_FRAMES ((size_t)1 << 28)
#endif

struct mill_audio {
    float *samples; /* n mono samples, malloc'd; free with mill_audio_free */
    size_t n;       /* number of samples (frames) */
    int32_t rate;   /* sample rate of samples, Hz */
};

/* Decodes n bytes at data into *out, resampled to rate Hz (0 = keep the stream's own rate).
 * data is borrowed for the call only. Returns 0, or with a message in err:
 *   MILL_EFORMAT  "audio: not a recognised format (libsndfile: ...)", "audio: empty stream",
 *                 "audio: decode failed ...", a bad channel count or rate, a stream over
 *                 MILL_AUDIO_MAX_FRAMES (before or after resampling), or a failed resampling;
 *   MILL_EINVAL   a NULL argument or a negative rate;
 *   MILL_ENOMEM.
 * On error *out is empty (samples NULL, n 0). */
int mill_audio_decode(const void *data, size_t n, int32_t rate, struct mill_audio *out,
                      struct mill_err *err);

/* Frees out->samples and empties *out. NULL-safe. */
void mill_audio_free(struct mill_audio *out);

#endif
