/* decimal.c: scaled integers to doubles, correctly rounded (decimal.h). */
#include "core/decimal.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECIMAL_MAX_BYTES 64 /* unscaled integers up to 154 digits convert exactly */

/* The double nearest unscaled * 10^-scale, correctly rounded: the exact digits go through strtod
 * as "<digits>e-<scale>" (no decimal point, so no locale). A double accumulation would round
 * twice and land 1-2 ulp off beyond 2^53. mag: the magnitude, big-endian, n bytes. */
static double decimal_exact(bool neg, const uint8_t *mag, size_t n, int scale) {
    uint8_t q[DECIMAL_MAX_BYTES];
    uint32_t chunk[DECIMAL_MAX_BYTES]; /* base 10^9 digits, least significant first */
    size_t nc = 0;
    memcpy(q, mag, n);
    for (bool zero = false; !zero;) {
        uint64_t r = 0;
        zero = true;
        for (size_t j = 0; j < n; j++) {
            r = r << 8 | q[j];
            q[j] = (uint8_t)(r / 1000000000u);
            r %= 1000000000u;
            zero = zero && q[j] == 0;
        }
        chunk[nc++] = (uint32_t)r;
    }
    char text[DECIMAL_MAX_BYTES * 9 + 32];
    int len = snprintf(text, sizeof text, "%s%u", neg ? "-" : "", chunk[nc - 1]);
    for (size_t k = nc - 1; k-- > 0;)
        len += snprintf(text + len, sizeof text - (size_t)len, "%09u", chunk[k]);
    snprintf(text + len, sizeof text - (size_t)len, "e%d", -scale);
    return strtod(text, NULL);
}

double mill_decimal_be(const uint8_t *p, size_t n, int scale) {
    uint8_t mag[DECIMAL_MAX_BYTES];
    bool neg = n && (p[0] & 0x80);
    while (n > 1 && p[0] == (neg ? 0xFF : 0) && ((p[1] & 0x80) != 0) == neg)
        p++, n--; /* sign-extension bytes carry no magnitude */
    if (n == 0)
        return 0.0;
    if (n > DECIMAL_MAX_BYTES) { /* beyond any declared precision: rounded twice */
        double x = 0;
        for (size_t j = 0; j < n; j++)
            x = x * 256 + (neg ? 255 - p[j] : p[j]);
        return (neg ? -(x + 1) : x) / pow(10, scale);
    }
    unsigned carry = 1;
    for (size_t j = n; j-- > 0;) { /* two's complement negation: ~x + 1 */
        unsigned b = neg ? (uint8_t)~p[j] + carry : p[j];
        mag[j] = (uint8_t)b;
        carry = neg ? b >> 8 : 0;
    }
    return decimal_exact(neg, mag, n, scale);
}
