/* tasks.h: the built-in task and benchmark tables, one pair per benchmark file. */
#ifndef MILL_TASK_TASKS_H
#define MILL_TASK_TASKS_H

#include <mill/buf.h>
#include <mill/task.h>

extern const struct mill_tasks_table mill_tasks_mmlu;
extern const struct mill_benchmarks_table mill_benchmarks_mmlu;
extern const struct mill_tasks_table mill_tasks_mmlu_pro;
extern const struct mill_benchmarks_table mill_benchmarks_mmlu_pro;
extern const struct mill_tasks_table mill_tasks_clip_zeroshot;
extern const struct mill_benchmarks_table mill_benchmarks_clip_zeroshot;
extern const struct mill_tasks_table mill_tasks_vision_mcq; /* benchmarks: clip_zeroshot's */
extern const struct mill_tasks_table mill_tasks_mmmu_pro;
extern const struct mill_benchmarks_table mill_benchmarks_mmmu_pro;
extern const struct mill_tasks_table mill_tasks_audio_gen;  /* benchmarks: audio.c */
extern const struct mill_tasks_table mill_tasks_audio_clap; /* benchmarks: audio.c */
extern const struct mill_benchmarks_table mill_benchmarks_audio;

/* Every built-in table (table.c): one line per benchmark file; NULL-terminated. */
extern const struct mill_tasks_table *const mill_builtin_tasks[];
extern const struct mill_benchmarks_table *const mill_builtin_benchmarks[];

/* The 1000 ImageNet class names of the `imagenet` task (NULL-terminated). */
const char *const *mill_imagenet_classnames(void);
/* The 10 CIFAR-10 class names of the `cifar10` task (NULL-terminated). */
const char *const *mill_cifar10_classnames(void);
/* A WebDataset sample's image (BEHAVIOUR.md §4.3): its first BYTES column whose last extension
 * is webp, png, jpg or jpeg; NULL when it has none. Borrowed from row. */
const struct mill_value *mill_wds_image(const struct mill_value *row);

#endif
