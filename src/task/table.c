/* table.c: the list of built-in task and benchmark tables: one line per benchmark file. */
#include "task/tasks.h"

const struct mill_tasks_table *const mill_builtin_tasks[] = {
    &mill_tasks_mmlu,
    &mill_tasks_mmlu_pro,
    &mill_tasks_clip_zeroshot,
    &mill_tasks_vision_mcq, /* cifar10_mcq, imagenet_mcq: clip_zeroshot's benchmarks */
    &mill_tasks_mmmu_pro,
    &mill_tasks_audio_gen,  /* clotho_aqa, esc50_generative, urbansound8k_generative */
    &mill_tasks_audio_clap, /* esc50, urbansound8k, clotho_aqa_clap (zero-shot) */
    NULL,
};

const struct mill_benchmarks_table *const mill_builtin_benchmarks[] = {
    &mill_benchmarks_mmlu,
    &mill_benchmarks_mmlu_pro,
    &mill_benchmarks_clip_zeroshot,
    &mill_benchmarks_mmmu_pro,
    &mill_benchmarks_audio, /* clotho_aqa, esc50, urbansound8k */
    NULL,
};
