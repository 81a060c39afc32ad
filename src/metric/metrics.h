/* metrics.h: the built-in metric tables; one table per source file, listed in metrics.c. */
#ifndef MILL_METRIC_METRICS_H
#define MILL_METRIC_METRICS_H

#include <mill/metric.h>

extern const struct mill_metrics_table mill_metrics_generic;

#endif
