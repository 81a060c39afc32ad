/* test_dataset.c: which files a split resolves to (src/data/dataset.c), as HF datasets resolves
 * a data_files mapping: every "split=pattern" entry of the split in order (a list of patterns),
 * each pattern's matches sorted; "**" matching zero or more directories; rows read file after
 * file. Then the files `datasets`' json and csv builders read besides JSON Lines: a JSON array of
 * objects, an object of columns, and compressed files, the compression found from the bytes as
 * `datasets`' extractor finds it (gzip, bzip2 and xz written by Python's own modules, zstd and
 * lz4 by their libraries; mislabelled ones decompressed all the same), their corrupt and
 * truncated forms refused naming the file. A `.tsv` goes to the csv builder with sep="\t";
 * a `.txt` to the text builder, checked against its own loop run by Debian's /usr/bin/python3
 * on the same files (line breaks of every kind, a BOM, NULs, separators Python's splitlines
 * would split on but the builder does not, compressed); the same files named `.xml` against the
 * xml builder's read of the whole file. Writes only under a temporary
 * directory it removes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mill/buf.h>
#include <mill/task.h>
#include <mill/value.h>

#include "data/dataset.h"
#include "data/folder.h"
#include "mtest.h"

#include <lz4frame.h>
#include <zstd.h>

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

static char fdir[] = "/tmp/mill_test_formats.XXXXXX";

static void put_bytes(const char *rel, const void *p, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fdir, rel);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(p, 1, n, f) == n);
        fclose(f);
    }
}

static int64_t last_count;      /* read_rows': mill_dataset_count of the file */
static const char *const *proj; /* read_rows': the task's columns (NULL: all) */

/* The rows of file rel, "x" then "n" of each, into out; the error's message into msg. */
static int read_rows(const char *rel, char *out, size_t n, char *msg, size_t mn) {
    char pattern[300];
    snprintf(pattern, sizeof pattern, "test=%s", rel);
    const char *entries[] = {pattern, NULL};
    struct mill_task_config t = {.name = "t", .hf_data_files = entries, .columns = proj};
    struct mill_dataset_params p = {.base_dir = fdir};
    struct mill_dataset *ds = NULL;
    struct mill_err err = {0};
    int rc = mill_dataset_open(&t, "test", &p, &ds, &err);
    struct mill_value v;
    out[0] = 0;
    last_count = rc ? -2 : mill_dataset_count(ds);
    while (!rc) {
        int r = mill_dataset_next(ds, &v, &err);
        if (r != 1) {
            rc = r;
            break;
        }
        const char *x = mill_value_as_str(mill_value_get(&v, "x"));
        if (proj && v.u.obj.n != 1)
            x = "!"; /* the projection kept another column */
        int64_t k = -1;
        mill_value_as_int(mill_value_get(&v, "n"), &k);
        snprintf(out + strlen(out), n - strlen(out), "%s%lld", x ? x : "?", (long long)k);
        mill_value_free(&v);
    }
    mill_dataset_free(ds);
    snprintf(msg, mn, "%s", err.msg);
    return rc < 0 ? rc : 0;
}

static const char JSONL[] = "{\"x\": \"a\", \"n\": 1}\n{\"x\": \"b\", \"n\": 2}\n"
                            "{\"x\": \"\\u00e9\", \"n\": 3}\n";
#define ROWS       \
    "a1b2\xc3\xa9" \
    "3"

static void test_formats(void) {
    char rows[128], msg[1100], cmd[4096];
    CHECK(mkdtemp(fdir) != NULL);
    put_bytes("l.jsonl", JSONL, strlen(JSONL));
    static const char array[] = "[\n  {\"x\": \"a\", \"n\": 1},\n  {\"n\": 2, \"x\": \"b\"},\n"
                                "  {\"x\": \"\\u00e9\", \"n\": 3}\n]\n";
    put_bytes("a.json", array, strlen(array));
    static const char columns[] = "{\n \"x\": [\"a\", \"b\", \"\\u00e9\"],\n \"n\": [1, 2, 3]\n}";
    put_bytes("c.json", columns, strlen(columns));
    static const char csv[] = "x,n\na,1\nb,2\n\xc3\xa9,3\n";
    put_bytes("d.csv", csv, strlen(csv));
    static const char tsv[] = "x\tn\na\t1\nb\t2\n\xc3\xa9\t3\n";
    put_bytes("d.tsv", tsv, strlen(tsv));
    /* gzip, bzip2 and xz by Python's modules */
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && /usr/bin/python3 -c 'import gzip, bz2, lzma\n"
        "for name in (\"l.jsonl\", \"a.json\", \"d.csv\", \"d.tsv\"):\n"
        "    data = open(name, \"rb\").read()\n"
        "    open(name + \".gz\", \"wb\").write(gzip.compress(data))\n"
        "    open(name + \".bz2\", \"wb\").write(bz2.compress(data))\n"
        "    open(name + \".xz\", \"wb\").write(lzma.compress(data))\n"
        "open(\"e.jsonl.gz\", \"wb\").write(gzip.compress(b\"\"))\n"
        "data = open(\"l.jsonl.gz\", \"rb\").read()\n"
        "open(\"t.jsonl.gz\", \"wb\").write(data[:len(data) // 2])\n"
        "bad = bytearray(data)\n"
        "bad[len(bad) // 2] ^= 0xff\n"
        "open(\"x.jsonl.gz\", \"wb\").write(bytes(bad))\n"
        "open(\"p.jsonl.gz\", \"wb\").write(open(\"l.jsonl\", \"rb\").read())\n"
        "open(\"z.jsonl.gz\", \"wb\").write(bz2.compress(open(\"l.jsonl\", \"rb\").read()))\n"
        "open(\"q.jsonl\", \"wb\").write(data)\n"
        "crc = bytearray(data)\n"
        "crc[-6] ^= 0xff\n"
        "open(\"k.jsonl.gz\", \"wb\").write(bytes(crc))\n"
        "lines = open(\"l.jsonl\", \"rb\").read().split(b\"\\n\")\n"
        "open(\"m2.jsonl.gz\", \"wb\").write(gzip.compress(lines[0] + b\"\\n\")"
        " + gzip.compress(b\"\\n\".join(lines[1:])) + bytes(5))\n"
        "open(\"g.jsonl.gz\", \"wb\").write(data + b\"xx\")\n"
        "open(\"c.json.gz\", \"wb\").write(gzip.compress(open(\"c.json\", \"rb\").read()))\n"
        "open(\"b.json\", \"wb\").write(b\"\\xef\\xbb\\xbf\" + open(\"a.json\", \"rb\").read())\n"
        "open(\"0.jsonl.gz\", \"wb\").write(b\"\")\n"
        "big = \"\\ufeffx,n\\n\" + \"\".join(\"r%%d,%%d\\n\" %% (i, i) for i in range(20000))\n"
        "open(\"big.csv.gz\", \"wb\").write(gzip.compress(big.encode()))'",
        fdir);
    CHECK_INT(system(cmd), 0);
    /* zstd and lz4 by their libraries */
    char zbuf[512], lbuf[1024];
    size_t zn = ZSTD_compress(zbuf, sizeof zbuf, JSONL, strlen(JSONL), 3);
    CHECK(!ZSTD_isError(zn));
    put_bytes("l.jsonl.zst", zbuf, zn);
    size_t ln = LZ4F_compressFrame(lbuf, sizeof lbuf, JSONL, strlen(JSONL), NULL);
    CHECK(!LZ4F_isError(ln));
    put_bytes("l.jsonl.lz4", lbuf, ln);

    /* the compression is the bytes', whatever the name: plain text named .gz is read as it
     * is, bzip2 named .gz and gzip named .jsonl are decompressed (datasets' extractor) */
    static const char *const same[] = {
        "l.jsonl",    "a.json",      "c.json",      "d.csv",      "l.jsonl.gz", "l.jsonl.bz2",
        "l.jsonl.xz", "l.jsonl.zst", "l.jsonl.lz4", "a.json.gz",  "a.json.xz",  "d.csv.gz",
        "d.csv.bz2",  "d.csv.xz",    "p.jsonl.gz",  "z.jsonl.gz", "q.jsonl",    "m2.jsonl.gz",
        "c.json.gz",  "b.json",      "d.tsv",       "d.tsv.xz",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        int rc = read_rows(same[i], rows, sizeof rows, msg, sizeof msg);
        if (rc || strcmp(rows, ROWS))
            fprintf(stderr, "%s: rc %d, rows '%s', %s\n", same[i], rc, rows, msg);
        CHECK_INT(rc, 0);
        CHECK_STR(rows, ROWS);
    }
    CHECK_INT(read_rows("e.jsonl.gz", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_STR(rows, "");
    CHECK_INT(read_rows("0.jsonl.gz", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_STR(rows, "");
    /* the progress total: JSON Lines lines (also compressed); a whole document has none */
    CHECK_INT(read_rows("l.jsonl.xz", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_INT(last_count, 3);
    CHECK_INT(read_rows("c.json.gz", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_INT(last_count, -1);
    CHECK_INT(read_rows("b.json", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_INT(last_count, -1);
    /* a projection keeps a whole document's named columns alone */
    static const char *const x_only[] = {"x", NULL};
    proj = x_only;
    CHECK_INT(read_rows("c.json", rows, sizeof rows, msg, sizeof msg), 0);
    CHECK_STR(rows, "a-1b-1\xc3\xa9-1");
    proj = NULL;
    /* a compressed CSV over several buffers, with a BOM: both passes start it over */
    const char *big[] = {"test=big.csv.gz", NULL};
    struct mill_task_config bt = {.name = "t", .hf_data_files = big};
    struct mill_dataset_params bp = {.base_dir = fdir};
    struct mill_dataset *ds = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_dataset_open(&bt, "test", &bp, &ds, &err), 0);
    struct mill_value v;
    int64_t n = 0, last = -1;
    while (ds && mill_dataset_next(ds, &v, &err) == 1) {
        CHECK(mill_value_as_str(mill_value_get(&v, "x")) != NULL);
        mill_value_as_int(mill_value_get(&v, "n"), &last);
        n++;
        mill_value_free(&v);
    }
    CHECK_INT(n, 20000);
    CHECK_INT(last, 19999);
    mill_dataset_free(ds);
    /* truncated, corrupt, not compressed, compressed otherwise than its name says */
    static const struct {
        const char *file, *why;
    } bad[] = {
        {"t.jsonl.gz", "truncated"},
        {"x.jsonl.gz", "corrupt gzip data"},                        /* a flipped byte */
        {"k.jsonl.gz", "corrupt gzip data (incorrect data check)"}, /* the CRC's */
        {"g.jsonl.gz", "corrupt gzip data"},                        /* bytes after the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = read_rows(bad[i].file, rows, sizeof rows, msg, sizeof msg);
        CHECK(rc < 0);
        CHECK(strstr(msg, bad[i].file) != NULL);
        if (bad[i].why && !strstr(msg, bad[i].why))
            fprintf(stderr, "%s: '%s' lacks '%s'\n", bad[i].file, msg, bad[i].why);
        CHECK(!bad[i].why || strstr(msg, bad[i].why) != NULL);
    }
    /* a whole document that is neither rows nor columns, an array item that is no object */
    static const char scalars[] = "{\n \"x\": 1\n}";
    put_bytes("s.json", scalars, strlen(scalars));
    CHECK(read_rows("s.json", rows, sizeof rows, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "s.json: expected JSON Lines, an array of objects or an object") != NULL);
    static const char blanks[] = "\n\n{\"x\": \"a\", \"n\": 1}\n{bad\n";
    put_bytes("n.jsonl", blanks, strlen(blanks));
    CHECK(read_rows("n.jsonl", rows, sizeof rows, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "n.jsonl:4") != NULL);
    static const char mixed[] = "[{\"x\": \"a\", \"n\": 1}, 7]";
    put_bytes("m.json", mixed, strlen(mixed));
    CHECK(read_rows("m.json", rows, sizeof rows, msg, sizeof msg) < 0);
    CHECK_STR(rows, "a1");
    CHECK(strstr(msg, "m.json: item 1 of the array is not an object") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fdir);
    CHECK_INT(system(cmd), 0);
}

/* .txt files as `datasets`' text builder gives them: {"text": line} per line. */
#define TEXT(name, lit) \
    { name, lit, sizeof lit - 1 }
static const struct {
    const char *name, *text;
    size_t len;
} texts[] = {
    TEXT("lf.txt", "one\ntwo\nthree\n"),
    TEXT("nolf.txt", "one\ntwo"),
    TEXT("crlf.txt", "a\r\nb\r\n\r\nc"),
    TEXT("cr.txt", "a\rb\r\rc\r"),
    TEXT("mixed.txt", "a\r\r\nb\n\rc\n\n"),
    TEXT("empty.txt", ""),
    TEXT("nl.txt", "\n"),
    TEXT("blank.txt", "\n\n  \n\t\n"),
    TEXT("bom.txt", "\xef\xbb\xbfhead\nbody\n"),
    TEXT("nul.txt", "a\0b\n\0\n"),
    TEXT("seps.txt", "a\x0b"
                     "b\x0c"
                     "c\x1c"
                     "d\xc2\x85"
                     "e\xe2\x80\xa8"
                     "f\xe2\x80\xa9"
                     "g\n"),
    TEXT("utf8.txt", "caf\xc3\xa9\n\xf0\x9f\x98\x80 \xe6\x97\xa5\n"),
};

/* The rows of rel as JSON ([{"text": ...}, ...]) into out, or an error: its rc and message. */
static int text_rows(const char *rel, struct mill_buf *out, char *msg, size_t mn) {
    char pattern[300];
    snprintf(pattern, sizeof pattern, "test=%s", rel);
    const char *entries[] = {pattern, NULL};
    struct mill_task_config t = {.name = "t", .hf_data_files = entries};
    struct mill_dataset_params p = {.base_dir = fdir};
    struct mill_dataset *ds = NULL;
    struct mill_err err = {0};
    int rc = mill_dataset_open(&t, "test", &p, &ds, &err);
    struct mill_value v;
    mill_buf_addc(out, '[');
    for (size_t n = 0; !rc && (rc = mill_dataset_next(ds, &v, &err)) == 1; n++) {
        if (n)
            mill_buf_addc(out, ',');
        mill_value_to_json(&v, out);
        mill_value_free(&v);
        rc = 0;
    }
    mill_buf_addc(out, ']');
    mill_dataset_free(ds);
    snprintf(msg, mn, "%s", err.msg);
    return rc < 0 ? rc : 0;
}

static void test_text(void) {
    size_t n = sizeof texts / sizeof texts[0];
    char msg[1100];
    snprintf(fdir, sizeof fdir, "/tmp/mill_test_text.XXXXXX");
    CHECK(mkdtemp(fdir) != NULL);
    struct mill_buf cmd = {0};
    mill_buf_addf(
        &cmd,
        "cd '%s' && /usr/bin/python3 -c 'import gzip, io, json, sys\n"
        "sys.stdout.reconfigure(encoding=\"utf-8\")\n"
        "open(\"lf.txt.gz\", \"wb\").write(gzip.compress(open(\"lf.txt\", \"rb\").read()))\n"
        "for path in sys.argv[1:]:\n"
        "    rows = []\n"
        "    with open(path, encoding=\"utf-8\") as f:\n" /* the builder's loop */
        "        while True:\n"
        "            batch = f.read(10 << 20)\n"
        "            if not batch:\n"
        "                break\n"
        "            batch += f.readline()\n"
        "            rows += [l.rstrip(\"\\n\") for l in io.StringIO(batch).readlines()]\n"
        "    print(json.dumps([{\"text\": r} for r in rows], ensure_ascii=False,"
        " separators=(\",\", \":\")))\n"
        "for path in sys.argv[1:]:\n" /* the xml builder's read, of the same bytes */
        "    with open(path, encoding=\"utf-8\") as f:\n"
        "        print(json.dumps([{\"xml\": f.read()}], ensure_ascii=False,"
        " separators=(\",\", \":\")))' ",
        fdir);
    for (size_t i = 0; i < n; i++) {
        char xml[64];
        snprintf(xml, sizeof xml, "%.*s.xml", (int)strlen(texts[i].name) - 4, texts[i].name);
        put_bytes(texts[i].name, texts[i].text, texts[i].len);
        put_bytes(xml, texts[i].text, texts[i].len);
        mill_buf_addf(&cmd, " %s", texts[i].name);
    }
    char **want = mtest_command_lines(cmd.p, 2 * n);
    mill_buf_free(&cmd);
    CHECK(want != NULL);
    for (size_t i = 0; want && i <= n; i++) { /* and lf.txt.gz, which the oracle wrote */
        const char *name = i < n ? texts[i].name : "lf.txt.gz";
        struct mill_buf got = {0};
        int rc = text_rows(name, &got, msg, sizeof msg);
        const char *w = want[i < n ? i : 0];
        if (rc || strcmp(got.p, w))
            fprintf(stderr, "%s: rc %d (%s)\n  got  %s\n  want %s\n", name, rc, msg, got.p, w);
        CHECK(rc == 0 && !strcmp(got.p, w));
        mill_buf_free(&got);
    }
    for (size_t i = 0; want && i < n; i++) { /* the same bytes named .xml: one row each */
        char xml[64];
        snprintf(xml, sizeof xml, "%.*s.xml", (int)strlen(texts[i].name) - 4, texts[i].name);
        struct mill_buf got = {0};
        int rc = text_rows(xml, &got, msg, sizeof msg);
        if (rc || strcmp(got.p, want[n + i]))
            fprintf(stderr, "%s: rc %d (%s)\n  got  %s\n  want %s\n", xml, rc, msg, got.p,
                    want[n + i]);
        CHECK(rc == 0 && !strcmp(got.p, want[n + i]));
        mill_buf_free(&got);
    }
    mtest_free_lines(want, 2 * n);
    /* a CR, or a CRLF, that ends the reader's 64 KiB buffer: one break each */
    for (int crlf = 0; crlf < 2; crlf++) {
        struct mill_buf big = {0}, got = {0};
        for (int i = 0; i < 65535; i++)
            mill_buf_addc(&big, 'x');
        mill_buf_adds(&big, crlf ? "\r\ny" : "\ry");
        put_bytes("edge.txt", big.p, big.n);
        CHECK_INT(text_rows("edge.txt", &got, msg, sizeof msg), 0);
        big.n = 65535;
        static const char tail[] = "\"},{\"text\":\"y\"}]";
        CHECK(got.n == 10 + 65535 + strlen(tail) && !memcmp(got.p + 10, big.p, 65535) &&
              !strcmp(got.p + 10 + 65535, tail));
        mill_buf_free(&big);
        mill_buf_free(&got);
    }
    /* text that is not UTF-8 (Python's strict decoder raises): an error naming file and line */
    static const char bad[] = "ok\r\nfine\n\xc3(\n";
    put_bytes("bad.txt", bad, sizeof bad - 1);
    struct mill_buf got = {0};
    CHECK(text_rows("bad.txt", &got, msg, sizeof msg) == MILL_EFORMAT);
    CHECK(strstr(msg, "bad.txt: line 3: text that is not UTF-8") != NULL);
    mill_buf_free(&got);
    put_bytes("bad.xml", bad, sizeof bad - 1);
    CHECK(text_rows("bad.xml", &got, msg, sizeof msg) == MILL_EFORMAT);
    CHECK(strstr(msg, "bad.xml: line 3: text that is not UTF-8") != NULL);
    mill_buf_free(&got);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", fdir);
    CHECK_INT(system(rm), 0);
}

/* A metadata file's names as datasets resolves them: each expected path is CPython's
 * os.path.join(os.path.dirname(meta), os.path.normpath(name).replace("\\", "/")). */
static void test_folder_resolve(void) {
    static const struct {
        const char *meta, *name, *want;
    } cases[] = {
        {"m.jsonl", "imgs/a.png", "imgs/a.png"},
        {"d/m.jsonl", "./imgs/../imgs//b.png", "d/imgs/b.png"},
        {"d/m.jsonl", "/abs/x.png", "/abs/x.png"},
        {"/m.jsonl", "a", "/a"},
        {"a//b//m.jsonl", "x", "a//b/x"},
        {"d/m.jsonl", "../x", "d/../x"},
        {"d/m.jsonl", "a/../../b", "d/../b"},
        {"d/m.jsonl", "//a", "//a"},
        {"d/m.jsonl", "///a", "/a"},
        {"d/m.jsonl", "/..", "/"},
        {"d/m.jsonl", "a/./b/", "d/a/b"},
        {"d/m.jsonl", ".", "d/."},
        {"d/m.jsonl", "..", "d/.."},
        {"m.jsonl", "../../a", "../../a"},
        {"d/m.jsonl", "imgs\\a.png", "d/imgs/a.png"},
        {"d/m.jsonl", "a\\..\\b", "d/a/../b"},
        {"//m.jsonl", "a", "//a"},
        {"d/", "a", "d/a"},
        {"/d/e/m.jsonl", "../../../x", "/d/e/../../../x"},
        {"d/m.jsonl", "a/b/../../..", "d/.."},
        {"d/m.jsonl", "./../a", "d/../a"},
        {"d/m.jsonl", ".hidden/...", "d/.hidden/..."},
        {"d/m.jsonl", "a//b", "d/a/b"},
        {"d/m.jsonl", "/a/../..", "/"},
        {"m.jsonl", "x/", "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = mill_folder_resolve(cases[i].meta, cases[i].name);
        CHECK(got && !strcmp(got, cases[i].want));
        if (!got || strcmp(got, cases[i].want))
            fprintf(stderr, "  %s + %s: got %s, want %s\n", cases[i].meta, cases[i].name,
                    got ? got : "(null)", cases[i].want);
        free(got);
    }
    /* the folder kind datasets infers */
    char *imgs[] = {"a/x.png", "a/y.PNG", "b/z.wav", "metadata.jsonl", "Thumbs.db"};
    CHECK_INT(mill_folder_kind(NULL, imgs, 5), MILL_FOLDER_IMAGE);
    char *auds[] = {"a.jpg", "b.png", "c.wav", "d.wav"};
    CHECK_INT(mill_folder_kind(NULL, auds, 4), MILL_FOLDER_AUDIO);
    char *tie[] = {"x.jsonl", "logo.png"}; /* a tie goes to .jsonl */
    CHECK_INT(mill_folder_kind(NULL, tie, 2), MILL_FOLDER_NONE);
    char *meta_only[] = {"metadata.jsonl"};
    CHECK_INT(mill_folder_kind(NULL, meta_only, 1), MILL_FOLDER_NONE);
    char *video[] = {"a.mpeg", "b.mpeg", "c.png"};
    CHECK_INT(mill_folder_kind(NULL, video, 3), MILL_FOLDER_NONE);
    char *mpg[] = {"a.png", "v.mpg", "w.mpg"}; /* .mpg is imagefolder's; .webm no format */
    CHECK_INT(mill_folder_kind(NULL, mpg, 3), MILL_FOLDER_IMAGE);
    char *webm[] = {"a.png", "v.webm", "w.webm"};
    CHECK_INT(mill_folder_kind(NULL, webm, 3), MILL_FOLDER_IMAGE);
    char many_names[70][16], *many[73]; /* more distinct suffixes than a fixed table held */
    for (int i = 0; i < 70; i++) {
        snprintf(many_names[i], sizeof many_names[i], "a.n%02d", i);
        many[i] = many_names[i];
    }
    many[70] = "x.png", many[71] = "y.png", many[72] = "z.png";
    CHECK_INT(mill_folder_kind(NULL, many, 73), MILL_FOLDER_IMAGE);
    CHECK_INT(mill_folder_kind("audiofolder", imgs, 5), MILL_FOLDER_AUDIO);
    CHECK_INT(mill_folder_kind("parquet", imgs, 5), MILL_FOLDER_NONE);
}

MTEST_MAIN(MTEST(test_files), MTEST(test_formats), MTEST(test_text), MTEST(test_folder_resolve))
