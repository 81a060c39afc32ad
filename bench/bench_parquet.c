/* bench_parquet.c: reads the Parquet files named on the command line with Mill's reader (all
 * columns, one thread), materialising every row as a mill_value tree, and prints the best of
 * three passes as "rows N seconds S rows_per_s R". Used by bench/parquet.sh; must not write
 * files or print anything else on stdout. */
#include "data/parquet.h"

#include <mill/value.h>

#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass over all files; returns the rows read, -1 on error. */
static long pass(int n, char **files) {
    long rows = 0;
    for (int i = 0; i < n; i++) {
        struct mill_parquet *pq;
        struct mill_err err = {0};
        if (mill_parquet_open(files[i], NULL, &pq, &err)) {
            fprintf(stderr, "bench_parquet: %s\n", err.msg);
            return -1;
        }
        struct mill_value row;
        int rc;
        while ((rc = mill_parquet_next(pq, &row, &err)) == 1) {
            mill_value_free(&row);
            rows++;
        }
        mill_parquet_close(pq);
        if (rc < 0) {
            fprintf(stderr, "bench_parquet: %s\n", err.msg);
            return -1;
        }
    }
    return rows;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parquet FILE.parquet...\n");
        return 2;
    }
    double best = 1e30;
    long rows = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        rows = pass(argc - 1, argv + 1);
        double t = now() - t0;
        if (rows < 0)
            return 1;
        best = t < best ? t : best;
    }
    printf("rows %ld seconds %.6f rows_per_s %.0f\n", rows, best, (double)rows / best);
    return 0;
}
