/* metrics.c: the table of built-in metric tables the registry loads. */
#include "metric/metrics.h"

const struct mill_metrics_table *const mill_builtin_metrics[] = {
    &mill_metrics_generic, &mill_metrics_mmlu_pro, &mill_metrics_mcq, &mill_metrics_audio, NULL,
};
