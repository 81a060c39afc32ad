/* test_csv.c: src/data/csv.c against Hugging Face `datasets`' reading of the same files (pandas'
 * read_csv, then Arrow: tests/reference/csv_oracle.py under Debian's /usr/bin/python3). Each
 * case is written to a file; the reader's rows, as JSON, must be the oracle's text, and where
 * the oracle fails the reader must fail too, naming the file. Then what we refuse on purpose
 * (a first row longer than the header, which pandas takes as an index), the projection, a
 * file larger than one read chunk, and hostile input. TSV (`.tsv`, read with sep="\t" as
 * `datasets` reads it): every case with its commas and tabs swapped, and tab's own corners. Fails, never skips, without python3. */
#include "core/text.h"
#include "data/csv.h"
#include "data/reader.h"
#include "mtest.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stdlib.h>
#include <unistd.h>

/* CSV files as datasets meet them, and the corners of pandas' reading. */
static const char *const cases[] = {
    /* a task's data: text, gold index, choices, a flag */
    "question,answer,A,B,C,D,hard\n"
    "\"What is 2+2?\",1,3,4,5,6,False\n"
    "\"Capital of France, in one word?\",0,Paris,Lyon,Nice,Lille,True\n"
    "\"He said \"\"hi\"\"\",2,a,b,c,d,false\n",
    /* types: int, float, bool, strings; missing values of every spelling */
    "i,f,b,s\n1,1.5,True,x\n2,,false,\n3,2e3,TRUE,NA\n",
    "x\n1\nNA\n",
    "x,y\n1,N/A\n2,NaN\n3,nan\n4,null\n5,NULL\n6,None\n7,<NA>\n8,#N/A\n9,n/a\n10,-nan\n",
    "x\nTrue\nNA\n",
    "x\n1\nTrue\n",
    "x\n\"\"\n2\n",
    "x\nNone\n",
    "x\n1.0\n2\n",
    /* numbers as pandas parses them */
    "y\n1e3\n",
    "y\n 1.5\n2\n",
    "y\n1.5 \n",
    "y\ninf\n-Infinity\nINF\n+inf\n",
    "y\n+5\n007\n-0\n",
    "y\n1_000\n",
    "y\n.5\n5.\n",
    "y\n1e\n",
    "y\n0x10\n",
    "y\n 7 \n8\n",
    "y\n1e3\n inf\n",
    "y\n9223372036854775807\n-9223372036854775808\n",
    "y\n-9223372036854775809\n",
    "y\n18446744073709551616\n",
    "y\n True\n",
    "y\n0.1\n0.30000000000000004\n1e-320\n1.7976931348623157e308\n",
    "y\n1.5\n99999999999999999999\n",
    "y\n99999999999999999999\n1.5\n",
    "y\n1\nNA\n99999999999999999999\n",
    "y\n\"5\"\n\"6\"\n",
    "y\nFalse\n0\n",
    "y\n1e400\n",
    "y\n1e-400\n1e-700\n",
    "y\n9e308\n",
    "y\n123456789012345678901234\n0.000000000000000000012345678901234567891\n",
    "y\n1e+5\n1E5\n  -.5e-2  \n",
    "y\n.\n",
    "y\n-\n",
    "y\n1.2.3\n",
    "y\n2.5e\n",
    "y\n0.1000000000000000055511151231257827021181583404541015625000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000001\n",
    /* quoting, newlines, blanks */
    "x,y\n\"a\"\"b\",1\n\"multi\nline\",2\n\"with, comma\",3\n",
    "x,y\r\n1,a\r\n2,b\r\n",
    "x,y\n\n1,a\n\n\n2,b\n",
    "x\n  \n1\n",
    "x,y\n1,  padded  \n2, b\n",
    "x,y\n1\n2,b\n",
    "x,y,z\n1,2,\n",
    /* the header: empty and repeated names, a BOM */
    "a,a,a.1,,b\n1,2,3,4,5\n",
    "a,a,a\n1,2,3\n",
    ",\n1,2\n",
    "\xef\xbb\xbfx,y\n1,2\n",
    "caf\xc3\xa9,\xe6\x97\xa5\n\xc3\xa9t\xc3\xa9,\xf0\x9f\x98\x80\n",
    /* pandas' tokenizer: text after a closing quote joins the field; a quoted field of blanks
     * is a field; a comma after a blank line ended by a lone CR is eaten */
    "x,y\n\"Smith, J\" Jr.,5\n6,7\n",
    "x,y\n\"ab\" ,1\n",
    "x,y\n\"\"x,1\n2,3\n",
    "x,y\n\"a\"\t,1\n2,3\n",
    "x,y\n\"a\"\"\"b,1\n",
    "x\n\"a\"b\"c\"\n",
    "x\nab\"c\n",
    "x\n\"  \"\n1\n",
    "x,y\n\" \"\n1,2\n",
    "x,y\n\r,5\n",
    "x,y\r\r,5\r",
    "x,y\n  \r,5\n",
    "x,y\n1,2\r\r,5\n",
    "x,y\n1,2\r,3\n",
    "a,b\n\r,x\n",
    "x\n\f\n1\n",
    /* the header: given names are de-duplicated before the unnamed */
    ",Unnamed: 0\n1,2\n",
    ",,a,Unnamed: 1\n1,2,3,4\n",
    "a,a,,a.1,\n1,2,3,4,5\n",
    /* types: bools in any case; integers with missing values, cast as pandas casts them */
    "y\ntRUE\nfalse\n",
    "y\nTrue\nfALSE\n",
    "y,z\n99999999999999999,1\n,2\n",
    "y\n9223372036854775807\nNA\n",
    "y,z\n-9223372036854775808,1\n,2\n",
    "y,z\n-0,1\n,2\n",
    /* integers past int64: pandas' uint64 scan decides */
    "y\n99999999999999999999.5\n1\n",
    "y\n9223372036854775808\n1.5\n",
    "y\n-9223372036854775809\n1.5\n",
    "y\n9223372036854775808\nNA\n",
    "y,z\n9223372036854775808,1\n,2\n",
    /* exponents: at most 17 digits, in an int that wraps */
    "y\n1e000000000000000005\n",
    "y\n1e4294967297\n",
    "y\n1e-2147483649\n",
    /* refused by both */
    "",
    "x,y\n1,2\n3,4,5\n",
    "x\n\xff\xfe\n",
    "x\n\"abc",
    "x,y\n1,\"open\n2,3\n",
    "x\n\xed\xa0\x80\n",
    "x\n\xc0\x80\n",
    "x\n\xf4\x90\x80\x80\n",
};

/* Files holding NUL bytes (lengths given): pandas ends each field at its first NUL. */
static const struct {
    const char *text;
    size_t len;
} nul_cases[] = {
    {"x\nab\0cd\n", 8},
    {"x\n1\0"
     "2\n",
     6},
    {"x,y\n\0\n1,2\n", 10},
    {"\0"
     "a,b\n1,2\n",
     9},
};

/* TSV's own corners: a line of tabs is a record of empty fields, a line of spaces is blank, a
 * tab after spaces makes the line a record; commas are text; a tab inside quotes. */
static const char *const tsv_cases[] = {
    "x\ty\n\t\n1\t2\n", "x\ty\n   \n1\t2\n",   "x\ty\n \t\n1\t2\n", "x\ty\n\ta\n",
    "a\tb\n1,5\tx,y\n", "a\tb\n\"p\tq\"\t1\n", "a\tb\n\r\tx\n",     "x\ty\n1\t2\r\r\t5\n",
    "x\ty\n  \r\t5\n",  "a,b\tc\n1,2\t3\n",    "x\ty\n1\t 2 \n",
};

/* What pandas reads (a first row longer than the header becomes an index) and we refuse. */
static const char *const refused[] = {
    "x,y\n1,2,3\n4,5\n",
    "y\n1,\n",
    "\r,a\r1,2\r",
    "x,y\n,,\n",
};

static char tmp_dir[] = "/tmp/mill_csv_XXXXXX";

/* Set "tsv" is read as TSV. */
static void case_path(char *out, size_t n, const char *set, size_t i) {
    snprintf(out, n, "%s/%s%zu.%s", tmp_dir, set, i, !strcmp(set, "tsv") ? "tsv" : "csv");
}

static void write_case(const char *set, size_t i, const char *text, size_t len) {
    char path[128];
    case_path(path, sizeof path, set, i);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
}

static void write_cases(const char *set, const char *const *texts, size_t n) {
    for (size_t i = 0; i < n; i++)
        write_case(set, i, texts[i], strlen(texts[i]));
}

/* The oracle's line for each of n files of set (malloc'd, newline removed), or NULL. */
static char **oracle(const char *set, size_t n) {
    struct mill_buf cmd = {0};
    char path[128];
    mill_buf_addf(&cmd, "/usr/bin/python3 %s/tests/reference/csv_oracle.py", mtest_source_dir());
    for (size_t i = 0; i < n; i++) {
        case_path(path, sizeof path, set, i);
        mill_buf_addf(&cmd, " '%s'", path);
    }
    char **out = mtest_command_lines(cmd.p, n);
    mill_buf_free(&cmd);
    return out;
}

/* Our rows of path as the oracle writes them (a JSON array), or an error in *err. */
static int read_all(const char *path, const char *const *columns, struct mill_buf *json,
                    struct mill_err *err) {
    const struct mill_reader_ops *ops =
        mill_str_ends_with(path, ".tsv") ? &mill_reader_tsv : &mill_reader_csv;
    void *state = NULL;
    int rc = ops->open(path, columns, &state, err);
    mill_buf_addc(json, '[');
    struct mill_value row;
    for (size_t n = 0; !rc && (rc = ops->next(state, &row, err)) == 1; n++) {
        if (n)
            mill_buf_addc(json, ',');
        mill_value_to_json(&row, json);
        mill_value_free(&row);
        rc = 0;
    }
    mill_buf_addc(json, ']');
    if (state)
        ops->close(state);
    return rc < 0 ? rc : 0;
}

/* Case i of set against the oracle's line want: the same rows, or where pandas fails an error
 * naming the file. 1 when the case was read, 0 when refused. */
static int check_case(const char *set, size_t i, const char *want) {
    char path[128];
    case_path(path, sizeof path, set, i);
    struct mill_buf got = {0};
    struct mill_err e = {0};
    int rc = read_all(path, NULL, &got, &e), read = strncmp(want, "ERR", 3) != 0;
    if (!read) {
        if (rc != MILL_EFORMAT || !strstr(e.msg, path))
            fprintf(stderr, "%s%zu: rc %d (%s), pandas %s\n", set, i, rc, e.msg, want);
        CHECK_INT(rc, MILL_EFORMAT);
        CHECK(strstr(e.msg, path) != NULL);
    } else {
        if (rc || strcmp(got.p, want))
            fprintf(stderr, "%s%zu:\n  got    %s (%s)\n  pandas %s\n", set, i,
                    rc ? "an error" : got.p, e.msg, want);
        CHECK(rc == 0 && !strcmp(got.p, want));
    }
    mill_buf_free(&got);
    return read;
}

static void test_against_pandas(void) {
    size_t n = sizeof cases / sizeof cases[0], n_read = 0;
    write_cases("c", cases, n);
    char **want = oracle("c", n);
    for (size_t i = 0; want && i < n; i++)
        n_read += (size_t)check_case("c", i, want[i]);
    mtest_free_lines(want, n);
    CHECK_INT(n_read, n - 8);
    printf("csv: %zu files read as pandas reads them, 8 refused by both\n", n_read);
}

/* TSV: every CSV case with its commas and tabs swapped, then tab's own corners, against
 * pandas' read_csv(sep="\t"). */
static void test_tsv_against_pandas(void) {
    size_t n = sizeof cases / sizeof cases[0], nt = sizeof tsv_cases / sizeof tsv_cases[0];
    size_t n_read = 0;
    for (size_t i = 0; i < n + nt; i++) {
        char *t = strdup(i < n ? cases[i] : tsv_cases[i - n]);
        for (char *c = t; i < n && c && *c; c++)
            *c = *c == ',' ? '\t' : *c == '\t' ? ',' : *c;
        if (t)
            write_case("tsv", i, t, strlen(t));
        free(t);
    }
    char **want = oracle("tsv", n + nt);
    for (size_t i = 0; want && i < n + nt; i++)
        n_read += (size_t)check_case("tsv", i, want[i]);
    mtest_free_lines(want, n + nt);
    CHECK(want != NULL && n_read >= n + nt - 8);
    printf("tsv: %zu files read as pandas reads them (sep=\"\\t\"), %zu refused by both\n", n_read,
           n + nt - n_read);
}

/* NUL bytes: the same rows as pandas. */
static void test_nul(void) {
    size_t n = sizeof nul_cases / sizeof nul_cases[0];
    for (size_t i = 0; i < n; i++)
        write_case("n", i, nul_cases[i].text, nul_cases[i].len);
    char **want = oracle("n", n);
    for (size_t i = 0; want && i < n; i++)
        CHECK_INT(check_case("n", i, want[i]), 1);
    mtest_free_lines(want, n);
}

/* A blank line ended by a lone CR, a comma, then blanks and text: pandas rewinds to the line's
 * start to read it again, and before its fix (pandas #51141, PR #64540, in no 2.x release) only
 * to the last LF, reading earlier lines twice. Ours is the fixed pandas': the line is a record
 * beginning with an empty field. */
static void test_cr_rewind(void) {
    const char *text[] = {"a,b\n\r, x\n", "a\tb\n\r\t x\n"}; /* CSV, and its TSV twin */
    write_cases("w", text, 1);
    write_cases("tsv", text + 1, 1);
    for (int tsv = 0; tsv < 2; tsv++) {
        char path[128];
        case_path(path, sizeof path, tsv ? "tsv" : "w", 0);
        struct mill_buf got = {0};
        struct mill_err e = {0};
        CHECK_INT(read_all(path, NULL, &got, &e), 0);
        CHECK_STR(got.p, "[{\"a\":null,\"b\":\" x\"}]");
        mill_buf_free(&got);
    }
}

/* A line that starts with 5,000 tabs and then text: its blanks all begin the field, as in
 * pandas. */
static void test_long_blanks(void) {
    size_t n = 5000;
    char *text = malloc(n + 8);
    memcpy(text, "x\n", 2);
    memset(text + 2, '\t', n);
    memcpy(text + 2 + n, "a\n", 3);
    write_case("t", 0, text, n + 4);
    free(text);
    char **want = oracle("t", 1);
    if (want)
        CHECK_INT(check_case("t", 0, want[0]), 1);
    mtest_free_lines(want, 1);
}

static void test_refused(void) {
    size_t n = sizeof refused / sizeof refused[0];
    write_cases("r", refused, n);
    char **py = oracle("r", n);
    for (size_t i = 0; py && i < n; i++) {
        char path[128];
        case_path(path, sizeof path, "r", i);
        struct mill_buf got = {0};
        struct mill_err e = {0};
        CHECK(strncmp(py[i], "ERR", 3) != 0); /* pandas reads it: shifted into an index */
        CHECK_INT(read_all(path, NULL, &got, &e), MILL_EFORMAT);
        CHECK(strstr(e.msg, "row 2: more fields than the") != NULL);
        mill_buf_free(&got);
        free(py[i]);
    }
    free(py);
}

/* Only the projected columns, in file order; a file of many chunks reads whole. */
static void test_projection_and_size(void) {
    const char *text = "a,b,c\n1,x,2.5\n2,y,\n";
    write_cases("p", &text, 1);
    char path[128];
    case_path(path, sizeof path, "p", 0);
    const char *const cols[] = {"c", "a", NULL};
    struct mill_buf got = {0};
    struct mill_err e = {0};
    CHECK_INT(read_all(path, cols, &got, &e), 0);
    CHECK_STR(got.p, "[{\"a\":1,\"c\":2.5},{\"a\":2,\"c\":null}]");
    mill_buf_free(&got);
    /* 200,000 rows (several read chunks); the last row's value is a float: the column too */
    case_path(path, sizeof path, "big", 0);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("id,text,v\n", f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "%d,\"row %d, quoted\",%d%s\n", i, i, i, i == 199999 ? ".5" : "");
    fclose(f);
    void *state = NULL;
    CHECK_INT(mill_reader_csv.open(path, NULL, &state, &e), 0);
    struct mill_value row;
    size_t n = 0;
    int rc;
    while (state && (rc = mill_reader_csv.next(state, &row, &e)) == 1) {
        const struct mill_value *v = mill_value_get(&row, "v");
        CHECK(v && v->kind == MILL_V_FLOAT);
        if (n == 199999)
            CHECK(v && v->u.f == 199999.5);
        n++;
        mill_value_free(&row);
    }
    CHECK_INT(n, 200000);
    if (state)
        mill_reader_csv.close(state);
}

/* Bad input: an error naming the file and row, never a crash: an unterminated quote (pandas'
 * "EOF inside string"), no header, a long header, a missing file. */
static void test_hostile(void) {
    struct mill_err e = {0};
    struct mill_csv *csv = NULL;
    FILE *f = fmemopen((void *)"x\n1\n\"open,1\n2\n", 14, "rb");
    CHECK_INT(mill_csv_open_stream(f, true, "mem.csv", ',', NULL, &csv, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "mem.csv: row 3: the file ends inside the quoted field") != NULL);
    f = fmemopen((void *)"\n\n", 2, "rb");
    CHECK_INT(mill_csv_open_stream(f, true, "blank.csv", ',', NULL, &csv, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "blank.csv: no header row") != NULL);
    size_t big = 17000 * 2;
    char *wide = malloc(big + 1);
    for (size_t i = 0; i < big; i += 2)
        memcpy(wide + i, "a,", 2);
    wide[big - 1] = '\n';
    f = fmemopen(wide, big, "rb");
    CHECK_INT(mill_csv_open_stream(f, true, "wide.csv", ',', NULL, &csv, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "wide.csv: row 1: more than 16384 columns") != NULL);
    free(wide);
    void *state = NULL;
    CHECK_INT(mill_reader_csv.open("/nonexistent/x.csv", NULL, &state, &e), MILL_ENOTFOUND);
    CHECK(strstr(e.msg, "/nonexistent/x.csv") != NULL);
}

static void setup(void) { CHECK(mkdtemp(tmp_dir) != NULL); }

static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    CHECK_INT(system(cmd), 0);
}

MTEST_MAIN(MTEST(setup), MTEST(test_against_pandas), MTEST(test_tsv_against_pandas),
           MTEST(test_nul), MTEST(test_cr_rewind), MTEST(test_long_blanks), MTEST(test_refused),
           MTEST(test_projection_and_size), MTEST(test_hostile), MTEST(cleanup))
