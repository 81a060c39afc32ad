/* audio.h: what the audio tasks share (audio_gen.c for audio-language models, audio_clap.c for
 * CLAP): the ESC-50 and UrbanSound8K class sets and the row's audio column as a doc's medium.
 * The benchmarks clotho_aqa, esc50 and urbansound8k, each picking the generative or the CLAP
 * zero-shot task by model, are in audio.c. */
#ifndef MILL_TASK_AUDIO_H
#define MILL_TASK_AUDIO_H

#include <mill/doc.h>
#include <mill/task.h>

/* A dataset's classes: its category names in label order (NULL-terminated, as the dataset's
 * category column spells them, "_" and all) and the column holding the class index. */
struct mill_audio_classes {
    const char *const *categories;
    const char *label;
};

extern const struct mill_audio_classes mill_esc50_classes; /* ashraq/esc50, `target` */
extern const struct mill_audio_classes mill_us8k_classes;  /* danavery/urbansound8K, `classID` */

/* The common part of a class task's doc (t->user is its struct mill_audio_classes): the row's
 * class index (its label column) into *cls, every class name ("_" made a space) as a choice
 * and the row's audio (mill_task_add_audio). The
 * caller sets query and gold. MILL_EFORMAT names the task and the column when the label is
 * missing, not an integer or outside the classes. */
int mill_audio_class_doc(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, size_t *cls, struct mill_err *err);

/* Adds the clip of the row's "audio" column to doc as its one medium: the bytes of the Hub's
 * {bytes, path} struct (the path, the clip's name on the Hub, rides along for messages), or
 * plain bytes. A row without audio bytes is MILL_EFORMAT naming the task. */
int mill_task_add_audio(const struct mill_task_config *t, const struct mill_value *row,
                        struct mill_doc *doc, struct mill_err *err);

#endif
