/* audio.c: the audio benchmarks (BEHAVIOUR.md §4.6, §4.7) and what their tasks share (audio.h).
 * Each benchmark picks, by model, the first of its tasks the backend can serve: clotho_aqa
 * runs clotho_aqa (audio LMs, audio_gen.c) or clotho_aqa_clap (CLAP, audio_clap.c); esc50 and
 * urbansound8k run the CLAP zero-shot task of that name or its _generative variant. */
#include "task/audio.h"
#include "task/tasks.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char *const esc50_categories[] = {
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops",
    "wind", "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing",
    "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing_teeth",
    "snoring", "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing",
    "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm",
    "clock_tick", "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn",
    "engine", "train", "church_bells", "airplane", "fireworks", "hand_saw", NULL,
};
static const char *const us8k_categories[] = {
    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music", NULL,
};
/* clang-format on */

const struct mill_audio_classes mill_esc50_classes = {esc50_categories, "target"};
const struct mill_audio_classes mill_us8k_classes = {us8k_categories, "classID"};

int mill_task_add_audio(const struct mill_task_config *t, const struct mill_value *row,
                        struct mill_doc *doc, struct mill_err *err) {
    const struct mill_value *a = mill_value_get(row, "audio");
    const char *name = NULL;
    if (a && a->kind == MILL_V_STRUCT) {
        name = mill_value_as_str(mill_value_get(a, "path"));
        a = mill_value_get(a, "bytes");
    }
    if (!a || (a->kind != MILL_V_BYTES && a->kind != MILL_V_STR))
        return mill_err_set(err, MILL_EFORMAT, "%s: the row has no audio bytes%s%s", t->name,
                            name ? " for " : "", name ? name : "");
    if (mill_doc_add_media(doc, MILL_MOD_AUDIO, a->u.s.p, a->u.s.n, name))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    return 0;
}

int mill_audio_class_doc(const struct mill_task_config *t, const struct mill_value *row,
                         struct mill_doc *doc, size_t *cls, struct mill_err *err) {
    const struct mill_audio_classes *set = t->user;
    int64_t v;
    size_t n = mill_strv_len(set->categories);
    if (mill_value_as_int(mill_value_get(row, set->label), &v) || v < 0 || (size_t)v >= n)
        return mill_err_set(err, MILL_EFORMAT, "%s: the row's %s is not a class index in [0, %zu)",
                            t->name, set->label, n);
    *cls = (size_t)v;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        char *name = strdup(set->categories[i]);
        for (char *p = name; p && *p; p++)
            *p = *p == '_' ? ' ' : *p;
        rc = name ? mill_doc_add_choice(doc, name) : MILL_ENOMEM;
        free(name);
    }
    return rc ? mill_err_set(err, rc, "out of memory") : mill_task_add_audio(t, row, doc, err);
}

static const char *const clotho_tasks[] = {"clotho_aqa", "clotho_aqa_clap", NULL};
static const char *const esc50_tasks[] = {"esc50", "esc50_generative", NULL};
static const char *const us8k_tasks[] = {"urbansound8k", "urbansound8k_generative", NULL};
static const char *const clotho_metrics[] = {"clotho_aqa_exact_match", "acc", NULL};
static const char *const esc50_metrics[] = {"acc", "esc50_gen_acc", NULL};
static const char *const us8k_metrics[] = {"acc", "urbansound8k_gen_acc", NULL};
static const char *const audio_cats[] = {"audio", NULL};

static const struct mill_benchmark_config benchmarks[] = {
    {.name = "clotho_aqa",
     .task_names = clotho_tasks,
     .metric_names = clotho_metrics,
     .pick_variant_by_model = true,
     .categories = audio_cats,
     .description = "Clotho-AQA: audio question answering (audio LMs), or yes/no captions "
                    "scored by CLAP",
     .paper_url = "https://arxiv.org/abs/2204.09634"},
    {.name = "esc50",
     .task_names = esc50_tasks,
     .metric_names = esc50_metrics,
     .pick_variant_by_model = true,
     .categories = audio_cats,
     .description = "ESC-50: CLAP zero-shot, or the category named by an audio LM"},
    {.name = "urbansound8k",
     .task_names = us8k_tasks,
     .metric_names = us8k_metrics,
     .pick_variant_by_model = true,
     .categories = audio_cats,
     .description = "UrbanSound8K: CLAP zero-shot, or the category named by an audio LM"},
};

const struct mill_benchmarks_table mill_benchmarks_audio = {MILL_ABI_VERSION, 3, benchmarks};
