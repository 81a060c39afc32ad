/* test_parquet_oracle.c: cross-checks the Parquet reader (data/parquet.c) against DuckDB. The
 * script tests/reference/parquet_fixtures.cjs writes fixtures with three independent writers
 * (DuckDB; hyparquet-writer; arrow-rs through parquet-wasm: pages v1 and v2, every codec they
 * offer, BROTLI and LZ4_RAW included, dictionary fallback, DELTA_* and BYTE_STREAM_SPLIT,
 * nested lists, structs, maps, DECIMAL(9,2)/(18,4)/(38,10) beyond 2^53; hand-built legacy
 * lists, INT96, FLOAT16, page CRCs, all-null v2 and dictionary pages, ENUM/BSON/JSON byte arrays)
 * into a temp dir, each with the rows DuckDB reads back as
 * JSON lines; every row we read must equal DuckDB's, value and type (the oracle writes floats
 * with a point or an exponent, DECIMAL as the correctly rounded double of the exact decimal),
 * and fixtures marked "error" (a bad page CRC) must be rejected. Where DuckDB reads a file
 * otherwise than pyarrow (an empty dictionary page, ENUM as text), the script writes pyarrow's
 * rows. Fails (never skips) when node
 * or the npm modules are missing. Must not need the network or write outside its temp dir. */
#include "data/parquet.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mtest.h"

#define MIN_FIXTURES 53

static char tmpdir[] = "/tmp/mill_pq_oracle_XXXXXX";

static bool same(const struct mill_value *ours, const struct mill_value *exp);

static bool same_hex(const struct mill_value *ours, const struct mill_value *exp) {
    const struct mill_value *hex = mill_value_get(exp, "$hex");
    if (ours->kind != MILL_V_BYTES || exp->u.obj.n != 1 || !hex || hex->kind != MILL_V_STR ||
        hex->u.s.n != 2 * ours->u.s.n)
        return false;
    for (size_t i = 0; i < ours->u.s.n; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", (unsigned char)ours->u.s.p[i]);
        if (memcmp(two, hex->u.s.p + 2 * i, 2))
            return false;
    }
    return true;
}

static bool same_struct(const struct mill_value *ours, const struct mill_value *exp) {
    if (ours->kind == MILL_V_BYTES)
        return same_hex(ours, exp);
    if (ours->kind != MILL_V_STRUCT || ours->u.obj.n != exp->u.obj.n)
        return false;
    for (size_t i = 0; i < exp->u.obj.n; i++)
        if (strcmp(ours->u.obj.keys[i], exp->u.obj.keys[i]) ||
            !same(&ours->u.obj.vals[i], &exp->u.obj.vals[i]))
            return false;
    return true;
}

/* ours equals DuckDB's JSON value exp, of the same type: the oracle writes every floating
 * value with a point or an exponent, so an integer never stands for a float. */
static bool same(const struct mill_value *ours, const struct mill_value *exp) {
    switch (exp->kind) {
    case MILL_V_NULL: return ours->kind == MILL_V_NULL;
    case MILL_V_BOOL: return ours->kind == MILL_V_BOOL && ours->u.b == exp->u.b;
    case MILL_V_INT: return ours->kind == MILL_V_INT && ours->u.i == exp->u.i;
    case MILL_V_FLOAT:
        return ours->kind == MILL_V_FLOAT &&
               (ours->u.f == exp->u.f || (isnan(ours->u.f) && isnan(exp->u.f)));
    case MILL_V_STR:
        return ours->kind == MILL_V_STR && ours->u.s.n == exp->u.s.n &&
               !memcmp(ours->u.s.p, exp->u.s.p, exp->u.s.n);
    case MILL_V_LIST:
        if (ours->kind != MILL_V_LIST || ours->u.list.n != exp->u.list.n)
            return false;
        for (size_t i = 0; i < exp->u.list.n; i++)
            if (!same(&ours->u.list.items[i], &exp->u.list.items[i]))
                return false;
        return true;
    case MILL_V_STRUCT: return same_struct(ours, exp);
    default: return false;
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs the fixture script into tmpdir; true when it exited 0. */
static bool make_fixtures(void) {
    const char *mods = getenv("MILL_NODE_MODULES");
    char defmods[1024], script[1024], cmd[4096];
    if (!mods || !*mods) {
        snprintf(defmods, sizeof defmods, "%s/.cache/mill/deps/node/node_modules",
                 getenv("HOME") ? getenv("HOME") : "");
        mods = defmods;
    }
    mtest_source_path(script, sizeof script, "tests/reference/parquet_fixtures.cjs");
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s' node '%s' '%s' 2>&1", mods, script, tmpdir);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return false;
    char line[1024];
    while (fgets(line, sizeof line, p))
        fprintf(stderr, "parquet_fixtures: %s", line);
    int st = pclose(p);
    if (st != 0)
        fprintf(stderr, "fixture script failed (node and %s are required): %s\n", mods, cmd);
    return st == 0;
}

static void print_row(const char *what, const struct mill_value *v) {
    struct mill_buf b = {0};
    mill_value_to_json(v, &b);
    fprintf(stderr, "  %s: %.2000s\n", what, b.p ? b.p : "(none)");
    mill_buf_free(&b);
}

/* Compares the rows of one fixture; returns the number of rows that matched. */
static long check_fixture(const char *name, long *expected) {
    char path[1200], *line = NULL;
    size_t cap = 0;
    long row = 0, good = 0;
    snprintf(path, sizeof path, "%s/%s.jsonl", tmpdir, name);
    FILE *f = fopen(path, "r");
    snprintf(path, sizeof path, "%s/%s.parquet", tmpdir, name);
    struct mill_parquet *pq = NULL;
    struct mill_err err = {0};
    int rc = mill_parquet_open(path, NULL, &pq, &err);
    CHECK(f != NULL);
    CHECK_INT(rc, 0);
    if (rc)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    while (f && pq && getline(&line, &cap, f) > 0) {
        struct mill_value exp, ours;
        CHECK_INT(mill_value_from_json(&exp, line, strlen(line), &err), 0);
        rc = mill_parquet_next(pq, &ours, &err);
        if (rc != 1)
            fprintf(stderr, "%s row %ld: rc %d: %s\n", name, row, rc, err.msg);
        if (rc == 1 && same(&ours, &exp)) {
            good++;
        } else if (rc == 1 && row - good < 3) {
            fprintf(stderr, "%s row %ld differs from DuckDB:\n", name, row);
            print_row("ours", &ours);
            fprintf(stderr, "  duckdb: %.2000s", line);
        }
        mill_value_free(&exp);
        mill_value_free(&ours);
        row++;
        if (rc != 1)
            break;
    }
    if (pq) {
        struct mill_value extra;
        CHECK_INT(mill_parquet_next(pq, &extra, &err), 0);
        mill_value_free(&extra);
    }
    *expected = row;
    free(line);
    if (f)
        fclose(f);
    mill_parquet_close(pq);
    return good;
}

/* A corrupt fixture: reading it must end in MILL_EFORMAT. */
static void check_rejected(const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.parquet", tmpdir, name);
    struct mill_parquet *pq = NULL;
    struct mill_err err = {0};
    int rc = mill_parquet_open(path, NULL, &pq, &err);
    struct mill_value row;
    while (!rc && (rc = mill_parquet_next(pq, &row, &err)) == 1) {
        mill_value_free(&row);
        rc = 0;
    }
    CHECK_INT(rc, MILL_EFORMAT);
    printf("%-24s rejected: %s\n", name, err.msg);
    mill_parquet_close(pq);
}

static void test_oracle(void) {
    CHECK(mkdtemp(tmpdir) != NULL);
    bool ok = make_fixtures();
    CHECK(ok);
    char path[1200], name[256];
    snprintf(path, sizeof path, "%s/index.txt", tmpdir);
    FILE *idx = ok ? fopen(path, "r") : NULL;
    int n = 0;
    long total = 0;
    while (idx && fgets(name, sizeof name, idx)) {
        name[strcspn(name, "\n")] = 0;
        n++;
        char *mark = strchr(name, ' ');
        if (mark && !strcmp(mark, " error")) {
            *mark = 0;
            check_rejected(name);
            continue;
        }
        long rows = 0, good = check_fixture(name, &rows);
        CHECK(rows > 0);
        CHECK_INT(good, rows);
        printf("%-24s %6ld/%ld rows equal DuckDB's\n", name, good, rows);
        total += good;
    }
    if (idx)
        fclose(idx);
    CHECK(n >= MIN_FIXTURES);
    printf("%d fixtures, %ld rows\n", n, total);
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

MTEST_MAIN(MTEST(test_oracle))
