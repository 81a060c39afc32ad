/* test_dataset.c: which files a split resolves to (src/data/dataset.c), as HF datasets resolves
 * a data_files mapping: every "split=pattern" entry of the split in order (a list of patterns),
 * each pattern's matches sorted; "**" matching zero or more directories; rows read file after
 * file. Writes only under a temporary directory it removes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mill/task.h>
#include <mill/value.h>

#include "data/dataset.h"
#include "mtest.h"

static char dir[] = "/tmp/mill_test_dataset.XXXXXX";

static void put(const char *rel, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The files split "test" of a task with these data_files entries resolves to, relative to dir
 * and joined by spaces, into out; the rows' "x" values likewise into rows. */
static int resolve_in(const char *base, const char *const *entries, char *out, size_t n, char *rows,
                      size_t rn) {
    struct mill_task_config t = {.name = "t", .hf_data_files = entries};
    struct mill_dataset_params p = {.base_dir = base};
    struct mill_dataset *ds = NULL;
    struct mill_err err = {0};
    int rc = mill_dataset_open(&t, "test", &p, &ds, &err);
    out[0] = rows[0] = 0;
    for (size_t i = 0; !rc && i < mill_dataset_n_files(ds); i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "",
                 mill_dataset_file(ds, i) + strlen(base) + 1);
    struct mill_value v;
    while (!rc && mill_dataset_next(ds, &v, &err) == 1) {
        const char *x = mill_value_as_str(mill_value_get(&v, "x"));
        snprintf(rows + strlen(rows), rn - strlen(rows), "%s", x ? x : "?");
        mill_value_free(&v);
    }
    mill_dataset_free(ds);
    return rc;
}

static int resolve(const char *const *entries, char *out, size_t n, char *rows, size_t rn) {
    return resolve_in(dir, entries, out, n, rows, rn);
}

static void test_files(void) {
    char files[512], rows[64];
    CHECK(mkdtemp(dir) != NULL);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/d", dir);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(sub, sizeof sub, "%s/d/e", dir);
    CHECK(mkdir(sub, 0700) == 0);
    put("a2.jsonl", "{\"x\": \"2\"}\n");
    put("a1.jsonl", "{\"x\": \"1\"}\n");
    put("b.jsonl", "{\"x\": \"b\"}\n");
    put("d/c.jsonl", "{\"x\": \"c\"}\n");
    put("d/e/f.jsonl", "{\"x\": \"f\"}\n");
    const char *one[] = {"test=a*.jsonl", NULL};
    CHECK_INT(resolve(one, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "a1.jsonl a2.jsonl");
    CHECK_STR(rows, "12");
    /* a list of patterns: each in order, each sorted; other splits' entries ignored */
    const char *two[] = {"train=d/c.jsonl", "test=b.jsonl", "test=a*.jsonl", NULL};
    CHECK_INT(resolve(two, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "b.jsonl a1.jsonl a2.jsonl");
    CHECK_STR(rows, "b12");
    const char *stars[] = {"test=d/**/*.jsonl", NULL};
    CHECK_INT(resolve(stars, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "d/c.jsonl d/e/f.jsonl");
    /* a glob that matches nothing among others is skipped, a missing name is an error, and
     * so is nothing at all (HF's DataFilesList.from_patterns) */
    const char *skip[] = {"test=z*.jsonl", "test=a*.jsonl", "test=y*.jsonl", NULL};
    CHECK_INT(resolve(skip, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "a1.jsonl a2.jsonl");
    const char *missing[] = {"test=a*.jsonl", "test=zz.jsonl", NULL};
    CHECK_INT(resolve(missing, files, sizeof files, rows, sizeof rows), MILL_ENOTFOUND);
    const char *none[] = {"test=z*.jsonl", "test=y*.jsonl", NULL};
    CHECK_INT(resolve(none, files, sizeof files, rows, sizeof rows), MILL_ENOTFOUND);
    /* '**' leaves hidden files and directories and special ("__") directories out */
    put(".h.jsonl", "{\"x\": \"h\"}\n");
    snprintf(sub, sizeof sub, "%s/d/.git", dir);
    CHECK(mkdir(sub, 0700) == 0);
    put("d/.git/g.jsonl", "{\"x\": \"g\"}\n");
    snprintf(sub, sizeof sub, "%s/d/__pycache__", dir);
    CHECK(mkdir(sub, 0700) == 0);
    put("d/__pycache__/p.jsonl", "{\"x\": \"p\"}\n");
    /* so does a plain glob (HF counts such parts whatever the pattern), and README.md */
    const char *plain[] = {"test=d/*/*.jsonl", NULL};
    CHECK_INT(resolve(plain, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "d/e/f.jsonl");
    put("d/README.md", "{\"x\": \"r\"}\n");
    const char *star[] = {"test=d/*", NULL};
    CHECK_INT(resolve(star, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "d/c.jsonl");
    const char *all[] = {"test=**/*.jsonl", NULL};
    CHECK_INT(resolve(all, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "a1.jsonl a2.jsonl b.jsonl d/c.jsonl d/e/f.jsonl");
    /* a link back up is not entered (no loop, no file twice) */
    snprintf(sub, sizeof sub, "%s/d/up", dir);
    CHECK(symlink("..", sub) == 0);
    CHECK_INT(resolve(all, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "a1.jsonl a2.jsonl b.jsonl d/c.jsonl d/e/f.jsonl");
    /* a base directory under a hidden one still leaves hidden files below it out */
    snprintf(sub, sizeof sub, "%s/.cache", dir);
    CHECK(mkdir(sub, 0700) == 0);
    put(".cache/x.jsonl", "{\"x\": \"x\"}\n");
    put(".cache/.y.jsonl", "{\"x\": \"y\"}\n");
    CHECK_INT(resolve_in(sub, all, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, "x.jsonl");
    const char *asked[] = {"test=**/.*.jsonl", NULL};
    CHECK_INT(resolve_in(sub, asked, files, sizeof files, rows, sizeof rows), 0);
    CHECK_STR(files, ".y.jsonl");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

MTEST_MAIN(MTEST(test_files))
