/* metrics.h: the built-in metric tables; one table per source file, listed in metrics.c. */
#ifndef MILL_METRIC_METRICS_H
#define MILL_METRIC_METRICS_H

#include <mill/metric.h>

extern const struct mill_metrics_table mill_metrics_generic;
extern const struct mill_metrics_table mill_metrics_mmlu_pro;
extern const struct mill_metrics_table mill_metrics_mcq;
extern const struct mill_metrics_table mill_metrics_audio;

/* Every built-in table (metrics.c), NULL-terminated. */
extern const struct mill_metrics_table *const mill_builtin_metrics[];

/* The letter mmlu_pro_acc extracts from a generation text[0..n), or 0. */
char mill_mmlu_pro_extract(const char *text, size_t n);

/* The letter ('A'.., one per option, at most 26) Mill's generic parser reads in a response
 * response[0..n) (BEHAVIOUR.md §3.6; it may hold NULs), drawing from mill_sample_rng(seed,
 * "parse_multi_choice", response) when nothing parses; 0 when there are no options. A NULL
 * response reads as "". */
char mill_mcq_parse(const char *response, size_t n, const char *const *options, size_t n_options,
                    int64_t seed);
/* The letter the official MMMU-Pro grader reads in response[0..n) (BEHAVIOUR.md §4.5), drawing
 * from mill_sample_rng(seed, "mmmu_pro", fallback_key) when nothing parses (fallback_key: the
 * doc's id, else its query; NULL reads as ""); 0 when there are no options. */
char mill_mmmu_pro_parse(const char *response, size_t n, const char *const *options,
                         size_t n_options, const char *fallback_key, int64_t seed);

#endif
