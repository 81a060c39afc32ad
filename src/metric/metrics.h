/* metrics.h: the built-in metric tables; one table per source file, listed in metrics.c. */
#ifndef MILL_METRIC_METRICS_H
#define MILL_METRIC_METRICS_H

#include <mill/metric.h>

extern const struct mill_metrics_table mill_metrics_generic;
extern const struct mill_metrics_table mill_metrics_mmlu_pro;

/* Every built-in table (metrics.c), NULL-terminated. */
extern const struct mill_metrics_table *const mill_builtin_metrics[];

/* The letter mmlu_pro_acc extracts from a generation, or 0. */
char mill_mmlu_pro_extract(const char *text);

#endif
