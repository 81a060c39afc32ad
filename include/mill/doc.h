/* doc.h: a mill_doc, what a task makes of one dataset row (Mill's `Doc`).
 *
 * A doc owns all of its strings and media. Tasks fill one in their prompt function; the runner
 * frees it with mill_doc_free. A doc never sees a backend. */
#ifndef MILL_DOC_H
#define MILL_DOC_H

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mill_modality {
    MILL_MOD_TEXT = 1u << 0,
    MILL_MOD_IMAGE = 1u << 1,
    MILL_MOD_AUDIO = 1u << 2,
    MILL_MOD_VIDEO = 1u << 3,
};

/* One image, audio clip or video attached to a doc: encoded bytes as stored in the dataset
 * (PNG/JPEG/WebP/WAV/FLAC...), or a path when the dataset holds only a path. */
struct mill_media {
    enum mill_modality kind; /* IMAGE, AUDIO or VIDEO */
    uint8_t *data;           /* owned encoded bytes, or NULL */
    size_t n;                /* bytes in data */
    char *path;              /* owned, or NULL */
};

struct mill_doc {
    char *query;    /* the text after instruction and few-shot block */
    char **choices; /* owned array of owned strings, or NULL */
    size_t n_choices;
    int64_t target_index; /* gold choice index, or -1 when the gold is target_str */
    char *target_str;     /* gold letter or string, or NULL */
    char *instruction;    /* prepended to the context as is, or NULL */
    struct mill_media *media;
    size_t n_media;
    struct mill_value metadata; /* a MILL_V_STRUCT, written into each per-sample row */
    char *key;                  /* stable sample key (e.g. WebDataset __key__), or NULL */
    /* Input, set by the runner before the prompt function runs: the run's --seed, for
     * per-sample draws (Mill's sample_rng(seed, task, key): option shuffles, distractors). */
    int64_t seed;
};

/* Zero-initialises a doc (target_index = -1, metadata an empty struct). */
MILL_API void mill_doc_init(struct mill_doc *d);
MILL_API void mill_doc_free(struct mill_doc *d); /* releases members; NULL-safe; d is reset */

/* Helpers for prompt functions; strings are copied (NULL is ""). Return 0 or MILL_ENOMEM. */
MILL_API int mill_doc_set_query(struct mill_doc *d, const char *query);
MILL_API int mill_doc_add_choice(struct mill_doc *d, const char *choice);
MILL_API int mill_doc_set_target_str(struct mill_doc *d, const char *gold);
MILL_API int mill_doc_add_media(struct mill_doc *d, enum mill_modality kind, const void *data,
                                size_t n, const char *path);
/* Copies val under key into the doc's metadata. */
MILL_API int mill_doc_meta_set(struct mill_doc *d, const char *key, const struct mill_value *val);
MILL_API int mill_doc_meta_set_str(struct mill_doc *d, const char *key, const char *s);
MILL_API int mill_doc_meta_set_int(struct mill_doc *d, const char *key, int64_t i);
/* A list of the n strings strs under key. */
MILL_API int mill_doc_meta_set_strv(struct mill_doc *d, const char *key, const char *const *strs,
                                    size_t n);

/* The gold answer as text: target_str, else choices[target_index], else NULL. Borrowed. */
MILL_API const char *mill_doc_gold_text(const struct mill_doc *d);

#ifdef __cplusplus
}
#endif

#endif
