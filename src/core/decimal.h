/* decimal.h: decimal numbers stored as scaled integers (Parquet's DECIMAL, Arrow's Decimal) as
 * the nearest double, which is how Mill's readers give them. */
#ifndef MILL_CORE_DECIMAL_H
#define MILL_CORE_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* The double nearest u * 10^-scale, correctly rounded, where u is the big-endian two's
 * complement integer p[0..n). Up to 64 bytes of magnitude convert exactly; a longer one (beyond
 * any declared precision) is rounded twice. scale is within +-10000. */
double mill_decimal_be(const uint8_t *p, size_t n, int scale);

#endif
