/* test_clip_tokenizer.c: src/model/clip/tokenizer.c against tests/reference/clip_tokenizer_ref.py
 * (open_clip's SimpleTokenizer restated on Debian's python3-regex, without ftfy).
 *
 * Every id must match on thousands of strings: CIFAR-10 and ImageNet prompts built from
 * CLIP_benchmark's templates and class names, every other dataset's class names in a template,
 * hand-written cases (punctuation, numbers, accents, Greek and Cyrillic, emoji, HTML entities,
 * contractions, whitespace, special-token text, invalid UTF-8) and deterministic random mixes
 * of such fragments, at context length 77 and at short lengths that truncate. Known absolute ids
 * pin "a photo of a cat.". vocab.json + merges.txt written from the same merges must load to the
 * same ids; threads share one tokenizer; broken files and arguments give errors.
 * Needs the reference data under tests/data and data/clip, and /usr/bin/python3 with regex:
 * it fails, never skips, without them. Must not write outside the temporary directory it makes
 * and removes. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mill/value.h>

#include "core/text.h"
#include "model/clip/tokenizer.h"
#include "mtest.h"

#define REF_PYTHON "/usr/bin/python3"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CTX 77

/* ---- files ---- */

/* path of tests/data/<rel> in the source tree (the reference data, tests/data/README.md). */
static void data_path(char *out, size_t n, const char *rel) {
    char r[512];
    snprintf(r, sizeof r, "tests/data/%s", rel);
    mtest_source_path(out, n, r);
}

static void bpe_path(char *out, size_t n) {
    mtest_source_path(out, n, "data/clip/bpe_simple_vocab_16e6.txt.gz");
}

static void ref_script(char *out, size_t n) {
    mtest_source_path(out, n, "tests/reference/clip_tokenizer_ref.py");
}

static void write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(fwrite(s, 1, n, f), n);
        fclose(f);
    }
}

static char tmp_dir[64];

static void tmp_path(char *out, size_t n, const char *name) {
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/mill_test_clip_tok_XXXXXX");
        CHECK(mkdtemp(tmp_dir) != NULL);
    }
    snprintf(out, n, "%s/%s", tmp_dir, name);
}

static const char *const TMP_FILES[] = {
    "req.bin",   "resp.txt", "vocab.json", "vocab_ascii.json", "merges.txt",
    "plain.txt", "trunc.gz", "bad.json",   "bad_merges.txt",
};

static void tmp_cleanup(void) {
    char p[128];
    if (!tmp_dir[0])
        return;
    for (size_t i = 0; i < NELEM(TMP_FILES); i++) {
        tmp_path(p, sizeof p, TMP_FILES[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = 0;
}

/* ---- the tokenizer under test ---- */

static struct mill_clip_tokenizer *gz_tok(void) {
    static struct mill_clip_tokenizer *tok;
    static int tried;
    if (!tried++) {
        char path[4096];
        struct mill_err err = {0};
        bpe_path(path, sizeof path);
        CHECK(access(path, R_OK) == 0);
        CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &tok, &err), 0);
        if (!tok)
            fprintf(stderr, "load %s: %s\n", path, err.msg);
    }
    return tok;
}

/* ---- the corpus ---- */

struct tcase {
    char *text;
    size_t len;
    int ctx;
};

static struct tcase *cases;
static size_t n_cases, cap_cases;

static void add_case_n(const char *s, size_t len, int ctx) {
    if (n_cases == cap_cases) {
        cap_cases = cap_cases * 2 + 256;
        cases = realloc(cases, cap_cases * sizeof *cases);
    }
    char *copy = malloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = 0;
    cases[n_cases++] = (struct tcase){copy, len, ctx};
}

static void add_case(const char *s, int ctx) { add_case_n(s, strlen(s), ctx); }

static const char *const CIFAR10[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                      "dog",      "frog",       "horse", "ship", "truck"};

static void add_templated(const char *tmpl, const char *name) {
    char *s = mill_str_replace(tmpl, "{c}", name);
    add_case(s, MAX_CTX);
    free(s);
}

static int load_json(const char *rel, struct mill_value *v) {
    char path[4096];
    size_t n = 0;
    struct mill_err err = {0};
    data_path(path, sizeof path, rel);
    char *text = mtest_read_file(path, &n);
    CHECK(text != NULL);
    int rc = text ? mill_value_from_json(v, text, n, &err) : -1;
    CHECK_INT(rc, 0);
    free(text);
    return rc;
}

/* All CIFAR-10 templates x classes, 4 ImageNet templates x 1000 classes, and every other
 * dataset's classes in "a photo of a {c}.". */
static void add_benchmark_prompts(void) {
    struct mill_value tmpl = {0}, names = {0};
    if (load_json("clip_benchmark/en_zeroshot_classification_templates.json", &tmpl) ||
        load_json("clip_benchmark/en_classnames.json", &names))
        goto out;
    const struct mill_value *ct = mill_value_get(&tmpl, "cifar10");
    const struct mill_value *it = mill_value_get(&tmpl, "imagenet1k");
    const struct mill_value *in = mill_value_get(&names, "imagenet1k");
    CHECK(ct && it && in && ct->kind == MILL_V_LIST && it->kind == MILL_V_LIST);
    if (!ct || !it || !in)
        goto out;
    for (size_t t = 0; t < ct->u.list.n; t++)
        for (size_t c = 0; c < NELEM(CIFAR10); c++)
            add_templated(mill_value_as_str(&ct->u.list.items[t]), CIFAR10[c]);
    for (size_t t = 0; t < 4 && t < it->u.list.n; t++)
        for (size_t c = 0; c < in->u.list.n; c++)
            add_templated(mill_value_as_str(&it->u.list.items[t]),
                          mill_value_as_str(&in->u.list.items[c]));
    for (size_t d = 0; d < names.u.obj.n; d++) {
        const struct mill_value *l = &names.u.obj.vals[d];
        for (size_t c = 0; strcmp(names.u.obj.keys[d], "imagenet1k") && c < l->u.list.n; c++)
            add_templated("a photo of a {c}.", mill_value_as_str(&l->u.list.items[c]));
    }
out:
    mill_value_free(&tmpl);
    mill_value_free(&names);
}

static const char *const HAND[] = {
    "",
    " ",
    "\n\t  \r\n",
    "a",
    "A",
    "a photo of a cat.",
    "A PHOTO OF A CAT.",
    "a photo of a CAT",
    "  a   photo\tof\n\na   cat.  ",
    "don't",
    "it's",
    "they're",
    "we've",
    "I'm",
    "you'll",
    "she'd",
    "DON'T STOP",
    "It'S",
    "rock'n'roll",
    "'s",
    "'",
    "''",
    "o'clock",
    "1080p",
    "3.14",
    "x2",
    "2x",
    "12345",
    "1,000,000",
    "$5.00",
    "100%",
    "4K HDR 60fps",
    "v1.2.3-beta",
    "½ ¾ ²",
    "Ⅻ ⅻ",
    "١٢٣ ٤٥٦",
    "café",
    "naïve",
    "Ångström",
    "CAFÉ NAÏVE",
    "Crème Brûlée",
    "straße",
    "STRASSE",
    "İstanbul",
    "ıi",
    "Øresund",
    "Łódź",
    "Šiauliai",
    "ĲSSELMEER",
    "ǅemal",
    "ΑΘΗΝΑ",
    "Αθήνα",
    "ΟΔΟΣ",
    "ΟΔΟΣ.",
    /* decomposed (NFD) text and a separator control: CLIPTokenizerFast's NFC and \s differ */
    "cafe\xcc\x81 A\xcc\x8angstro\xcc\x88m",
    "\xe1\x84\x80\xe1\x85\xa1 \xe1\x84\x82\xe1\x85\xa1\xe1\x86\xab",
    "x\x1cy\x1dz \x1e\x1fw",
    "R&D &amp; AT&T &lt;b&gt; &copy 2024",
    /* CLIPTokenizerFast's pattern is case-sensitive and splits the special tokens out first */
    "dog'\xc5\xbf toy",
    "b\xcd\x85"
    "c",
    "a photo.<|endoftext|>",
    "x<|startoftext|>y!!<|endoftext|>",
    "<|ENDOFTEXT|> and <|endoftext",
    "ΣΑΣ ΣΑΣ",
    "Σ",
    "ΑΣ.Α",
    "ΣΊΣΥΦΟΣ",
    "όσος",
    "ΜΈΓΑΣ ΑΛΈΞΑΝΔΡΟΣ",
    "Москва",
    "ПРИВЕТ МИР",
    "Ёлка",
    "Україна",
    "Қазақстан",
    "日本語のテキスト",
    "中文字符",
    "한국어",
    "עברית",
    "العربية",
    "हिन्दी",
    "🙂",
    "a 🙂 cat",
    "👍🏽",
    "🇫🇷🇩🇪",
    "❤️",
    "👨‍👩‍👧‍👦 family",
    "&amp;",
    "&lt;b&gt;bold&lt;/b&gt;",
    "&quot;quoted&quot;",
    "it&#39;s",
    "&#x41;&#X42;&#67;",
    "caf&eacute;",
    "a&nbsp;b",
    "&amp;amp; twice",
    "&amp;lt; twice",
    "&copy 2024",
    "&copyright;",
    "&notit; &notin &copyx;",
    "&ampx",
    "&AMP;",
    "&#0; &#13; &#128; &#150; &#x9f;",
    "&#xD800; &#99999999999; &#x110000;",
    "&#1; &#11; &#127;",
    "&#xFDD0; &#xFFFE; &#x1FFFF;",
    "&hellip;&mdash;&rsquo;&euro;&trade;",
    "&notin; &parallel; &copysr; &timesb; &centerdot; &ltimes;", /* not their legacy prefixes */
    "&rArr; &ast; &colon; &clubsuit; &NotEqualTilde; &nvlt; &notinva x",
    "&CounterClockwiseContourIntegral; &amp &ampx &notit; &notin",
    "&unknownentity; &",
    "& amp; &; &#; &#x; &#xZ;",
    "&Alpha;&beta;&Omega;",
    "&lt&gt&quot",
    "&abcdefghijklmnopqrstuvwxyz0123456789;",
    "&abcdefghijklmnopqrstuvwxyz0123456&amp",
    "&aacute&eacute",
    "&ltb",
    "<|startoftext|>",
    "<|endoftext|>",
    "a <|endoftext|> b",
    "<|STARTOFTEXT|>",
    "<|ſtartoftext|>",
    "'ſ 'S",
    "...",
    "!!!",
    "?!",
    "-- (x) [y] {z}",
    "\"quoted\"",
    "’curly’ “double”",
    "#hashtag @user",
    "http://example.com/a?b=c&d=e",
    "e-mail C++ C# F#",
    "tab\tsep\tvalues",
    "line\nbreaks\r\nand\rreturns",
    "nbsp\u00a0here",
    "ideographic\u3000space",
    "thin\u2009space",
    "nel\xc2\x85sep",
    "fs\x1c gs\x1d",
    "\x1c\x1d",
    "soft\u00adhyphen",
    "zero\u200bwidth",
    "combining x\u0301 e\u0301",
    "a\u0345b",
    "ΑΣ\u0345",
    "K ſ Å",
    "tabs\t\t\tand   spaces",
    "\u2028line sep\u2029",
    "word",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ababababababababababababababab",
    "the the the the",
    "x",
    "X X X",
    "\xef\xbf\xbd",
};

/* Raw bytes that are not valid UTF-8 (Python decodes them with errors="replace"). */
static const char *const INVALID[] = {
    "\xff",
    ("a\xff"
     "b"),
    "\xc3",
    "\xc3(",
    "\xe2\x82",
    "\xe2\x82\xac",
    "\xed\xa0\x80 x",
    "\xf0\x9f\x98",
    "\xf4\x90\x80\x80",
    "\xc0\xaf",
    "caf\xe9",
    "\x80\x80",
    "\xf0\x80\x80\x80",
    "\xe0\x80\x80",
    "\xf8\x88\x80\x80\x80",
    "ok \xc3\xa9 \xc3",
    "&#\xff;",
    "\xfe\xfe\xff",
};

static const char *const FRAGMENTS[] = {
    "a",         "photo",   "of",       "the",    "cat",     "Dog",    "HOUSE",    "don't",
    "it's",      "they're", "we've",    "1080p",  "3.14",    "x2",     "2024",     "½",
    "café",      "naïve",   "Ångström", "Éclair", "straße",  "İ",      "ΑΘΗΝΑ",    "ΟΔΟΣ",
    "Σ",         "σοφία",   "Москва",   "ЁЖ",     "日本",    "🙂",   "👍🏽", "&amp;",
    "&lt;",      "&gt;",    "&quot;",   "&#39;",  "&#x41;",  "&#233;", "&eacute;", "&nbsp;",
    "&amp;amp;", "&copy",   "&",        "#",      ";",       "...",    "!?",       "(",
    ")",         "-",       "'",        "’",      "\"",      ",",      ".",        "<|endoftext|>",
    "C++",       "100%",    "ſ",        "\u0301", "e\u0301", "\u00ad", "_",        "@",
    "/",         "\\",      "~",        "a.b.c",
};

static const char *const SEPARATORS[] = {
    " ",    " ",      " ",      "",       "  ",   "\t",       "\n",
    "\r\n", "\u00a0", "\u3000", "\u2009", "\x1c", "\xc2\x85", " \n\t ",
};

static uint64_t rng = 12345;

static uint32_t rnd(uint32_t n) {
    rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(rng >> 33) % n;
}

static void add_random_mixes(size_t count) {
    char buf[2048];
    for (size_t i = 0; i < count; i++) {
        size_t n = 0, parts = 1 + rnd(12);
        for (size_t p = 0; p < parts; p++) {
            const char *f = FRAGMENTS[rnd(NELEM(FRAGMENTS))];
            const char *s = SEPARATORS[rnd(NELEM(SEPARATORS))];
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", p ? s : "", f);
        }
        add_case_n(buf, n, MAX_CTX);
    }
}

/* Texts beyond 77 tokens, at 77 and at lengths down to 2. */
static void add_long(void) {
    static const char *const unit[] = {"a photo of a big red cat, ",
                                       "Ångström café 🙂 ",
                                       "x",
                                       "&amp;",
                                       "supercalifragilistic ",
                                       "1"};
    static const int ctxs[] = {MAX_CTX, 2, 3, 5, 16, 76};
    char buf[8192];
    for (size_t u = 0; u < NELEM(unit); u++) {
        size_t n = 0;
        while (n + strlen(unit[u]) < 3000)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", unit[u]);
        for (size_t c = 0; c < NELEM(ctxs); c++)
            add_case_n(buf, n, ctxs[c]);
    }
    add_case("a photo of a cat.", 8);
    add_case("a photo of a cat.", 7);
    add_case("a photo of a cat.", 9);
    add_case("a photo of a cat.", 2);
}

static void build_corpus(void) {
    if (n_cases)
        return;
    add_benchmark_prompts();
    for (size_t i = 0; i < NELEM(HAND); i++)
        add_case(HAND[i], MAX_CTX);
    for (size_t i = 0; i < NELEM(INVALID); i++)
        add_case(INVALID[i], MAX_CTX);
    add_random_mixes(600);
    add_long();
}

/* ---- the reference ---- */

/* Runs the reference over the corpus (fast: as CLIPTokenizerFast cleans); ids[i * MAX_CTX ...]
 * get its answers. 0 on success. */
static int run_reference(int32_t *ids, bool fast) {
    char req[128], resp[128], script[4096], bpe[4096], cmd[9000];
    tmp_path(req, sizeof req, "req.bin");
    tmp_path(resp, sizeof resp, "resp.txt");
    FILE *f = fopen(req, "wb");
    CHECK(f != NULL);
    if (!f)
        return -1;
    for (size_t i = 0; i < n_cases; i++) {
        fprintf(f, "%d %zu\n", cases[i].ctx, cases[i].len);
        fwrite(cases[i].text, 1, cases[i].len, f);
    }
    fclose(f);
    ref_script(script, sizeof script);
    bpe_path(bpe, sizeof bpe);
    CHECK(access(REF_PYTHON, X_OK) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' '%s'%s", REF_PYTHON, script, bpe, req, resp,
             fast ? " --fast" : "");
    int rc = system(cmd);
    CHECK_INT(rc, 0);
    char *text = rc == 0 ? mtest_read_file(resp, NULL) : NULL;
    CHECK(text != NULL);
    if (!text)
        return -1;
    char *p = text;
    for (size_t i = 0; i < n_cases; i++)
        for (int k = 0; k < cases[i].ctx; k++)
            ids[i * MAX_CTX + (size_t)k] = (int32_t)strtol(p, &p, 10);
    while (*p == '\n')
        p++;
    CHECK(*p == 0);
    free(text);
    return 0;
}

static void print_case(size_t i, const int32_t *want, const int32_t *got) {
    fprintf(stderr, "case %zu (ctx %d): \"", i, cases[i].ctx);
    for (size_t k = 0; k < cases[i].len && k < 200; k++) {
        unsigned char c = (unsigned char)cases[i].text[k];
        if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"\n  want:");
    for (int k = 0; k < cases[i].ctx && (k < 2 || want[k - 1]); k++)
        fprintf(stderr, " %d", (int)want[k]);
    fprintf(stderr, "\n  got: ");
    for (int k = 0; k < cases[i].ctx && (k < 2 || got[k - 1]); k++)
        fprintf(stderr, " %d", (int)got[k]);
    fputc('\n', stderr);
}

/* Tokenises case i with tok; CHECKs the return value against the padding. */
static void tokenize_case(struct mill_clip_tokenizer *tok, size_t i, int32_t *out) {
    struct mill_err err = {0};
    int rc = mill_clip_tokenize(tok, cases[i].text, cases[i].ctx, out, &err);
    int used = 0;
    for (int k = 0; k < cases[i].ctx; k++)
        if (out[k])
            used = k + 1;
    CHECK_INT(rc, used);
}

static size_t count_mismatches(struct mill_clip_tokenizer *tok, const int32_t *want,
                               const char *what) {
    size_t bad = 0;
    int32_t got[MAX_CTX];
    for (size_t i = 0; tok && i < n_cases; i++) {
        tokenize_case(tok, i, got);
        const int32_t *w = want + i * MAX_CTX;
        if (memcmp(got, w, (size_t)cases[i].ctx * sizeof *got) != 0 && bad++ < 8)
            print_case(i, w, got);
    }
    if (bad)
        fprintf(stderr, "%s: %zu of %zu cases differ\n", what, bad, n_cases);
    return bad;
}

static int32_t *ref_ids;

static const int32_t *reference_ids(void) {
    if (!ref_ids) {
        build_corpus();
        ref_ids = calloc(n_cases * MAX_CTX, sizeof *ref_ids);
        if (run_reference(ref_ids, false)) {
            free(ref_ids);
            ref_ids = NULL;
        }
    }
    return ref_ids;
}

/* ---- tests ---- */

static void test_known_ids(void) {
    struct mill_clip_tokenizer *tok = gz_tok();
    static const int32_t want[] = {49406, 320, 1125, 539, 320, 2368, 269, 49407};
    int32_t out[MAX_CTX];
    struct mill_err err = {0};
    if (!tok)
        return;
    CHECK_INT(mill_clip_sot(tok), 49406);
    CHECK_INT(mill_clip_eot(tok), 49407);
    CHECK_INT(mill_clip_tokenize(tok, "a photo of a cat.", MAX_CTX, out, &err), 8);
    CHECK(memcmp(out, want, sizeof want) == 0);
    for (int k = 8; k < MAX_CTX; k++)
        CHECK_INT(out[k], 0);
    CHECK_INT(mill_clip_tokenize(tok, "", MAX_CTX, out, &err), 2);
    CHECK_INT(out[0], 49406);
    CHECK_INT(out[1], 49407);
    CHECK_INT(mill_clip_tokenize(tok, "a photo of a cat.", 2, out, &err), 2);
    CHECK(out[0] == 49406 && out[1] == 49407);
    CHECK_INT(mill_clip_tokenize(tok, "a photo of a cat.", 7, out, &err), 7);
    CHECK(memcmp(out, want, 6 * sizeof *out) == 0 && out[6] == 49407);
}

/* Tokens of a and b equal (as many as ctx 77 holds). */
static int same_tokens(struct mill_clip_tokenizer *tok, const char *a, const char *b) {
    int32_t x[MAX_CTX], y[MAX_CTX];
    struct mill_err err = {0};
    int n = mill_clip_tokenize(tok, a, MAX_CTX, x, &err),
        m = mill_clip_tokenize(tok, b, MAX_CTX, y, &err);
    return n > 0 && n == m && memcmp(x, y, sizeof x) == 0;
}

/* With ftfy (open_clip's models) a text is fixed first: curly quotes, mojibake, ligatures,
 * full-width letters become what ftfy makes of them; without it (HF checkpoints) they stay. */
static void test_ftfy_first(void) {
    char path[4096];
    struct mill_clip_tokenizer *tok = NULL;
    struct mill_err err = {0};
    bpe_path(path, sizeof path);
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &tok, &err), 0);
    if (!tok || !gz_tok())
        return;
    CHECK_INT(mill_clip_tokenizer_use_ftfy(tok, &err), 0);
    static const char *const pairs[][2] = {
        {"a photo of a \xe2\x80\x9c"
         "cat\xe2\x80\x9d.",
         "a photo of a \"cat\"."},
        {"the caf\xc3\x83\xc2\xa9 isn\xe2\x80\x99t open", "the caf\xc3\xa9 isn't open"},
        {"\xef\xac\x81sh \xef\xbc\xa1\xef\xbc\xa2", "fish AB"},
        {"e\xcc\x81t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
    };
    for (size_t i = 0; i < NELEM(pairs); i++) {
        CHECK(same_tokens(tok, pairs[i][0], pairs[i][1]));
        CHECK(!same_tokens(gz_tok(), pairs[i][0], pairs[i][1]));
    }
    CHECK(same_tokens(tok, "a photo of a cat.", "a photo of a cat."));
    mill_clip_tokenizer_free(tok);
}

static void test_matches_reference(void) {
    const int32_t *want = reference_ids();
    CHECK(want != NULL);
    if (!want || !gz_tok())
        return;
    CHECK(n_cases > 5000);
    CHECK_INT(count_mismatches(gz_tok(), want, "bpe_simple_vocab_16e6.txt.gz"), 0);
    printf("clip tokenizer: %zu strings identical to the Python reference\n", n_cases);
    /* The reference agrees on the absolute ids too. */
    for (size_t i = 0; i < n_cases; i++)
        if (!strcmp(cases[i].text, "a photo of a cat.") && cases[i].ctx == MAX_CTX)
            CHECK(want[i * MAX_CTX + 5] == 2368 && want[i * MAX_CTX + 7] == 49407);
}

/* Invalid UTF-8 reads as U+FFFD, as Python's errors="replace" decoding gives. */
static void test_invalid_utf8(void) {
    struct mill_clip_tokenizer *tok = gz_tok();
    int32_t a[MAX_CTX], b[MAX_CTX];
    struct mill_err err = {0};
    if (!tok)
        return;
    CHECK(mill_clip_tokenize(tok,
                             "a\xff"
                             "b",
                             MAX_CTX, a, &err) > 2);
    CHECK(mill_clip_tokenize(tok,
                             "a\xef\xbf\xbd"
                             "b",
                             MAX_CTX, b, &err) > 2);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(mill_clip_tokenize(tok, "\xe2\x82 x", MAX_CTX, a, &err) > 2);
    CHECK(mill_clip_tokenize(tok, "\xef\xbf\xbd x", MAX_CTX, b, &err) > 2);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

static void write_hf_files(void) {
    char dir[128], script[4096], bpe[4096], cmd[9000];
    tmp_path(dir, sizeof dir, "");
    ref_script(script, sizeof script);
    bpe_path(bpe, sizeof bpe);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' --write-hf '%s'", REF_PYTHON, script, bpe, dir);
    CHECK_INT(system(cmd), 0);
}

static void check_hf(const char *vocab_name, const int32_t *want) {
    char vocab[128], merges[128];
    struct mill_clip_tokenizer *tok = NULL;
    struct mill_err err = {0};
    tmp_path(vocab, sizeof vocab, vocab_name);
    tmp_path(merges, sizeof merges, "merges.txt");
    CHECK_INT(mill_clip_tokenizer_load_hf(vocab, merges, &tok, &err), 0);
    if (!tok) {
        fprintf(stderr, "load_hf %s: %s\n", vocab_name, err.msg);
        return;
    }
    CHECK_INT(mill_clip_sot(tok), 49406);
    CHECK_INT(mill_clip_eot(tok), 49407);
    CHECK_INT(count_mismatches(tok, want, vocab_name), 0);
    mill_clip_tokenizer_free(tok);
}

static void test_hf_format(void) {
    const int32_t *want = reference_ids();
    if (!want)
        return;
    write_hf_files();
    check_hf("vocab.json", want);
    check_hf("vocab_ascii.json", want);
}

/* HF checkpoints' cleaning (CLIPTokenizerFast's normalizer) against the reference's --fast
 * answers, with the gzip'd and the HF files; it differs from open_clip's on the cases that
 * tell them apart (html entities, decomposed text, final sigma, U+001C..U+001F). */
static void test_hf_fast(void) {
    const int32_t *open_clip = reference_ids();
    int32_t *want = open_clip ? calloc(n_cases * MAX_CTX, sizeof *want) : NULL;
    CHECK(want != NULL);
    if (!want || run_reference(want, true)) {
        free(want);
        return;
    }
    char path[4096], vocab[128], merges[128];
    struct mill_clip_tokenizer *gz = NULL, *hf = NULL;
    struct mill_err err = {0};
    bpe_path(path, sizeof path);
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &gz, &err), 0);
    write_hf_files();
    tmp_path(vocab, sizeof vocab, "vocab.json");
    tmp_path(merges, sizeof merges, "merges.txt");
    CHECK_INT(mill_clip_tokenizer_load_hf(vocab, merges, &hf, &err), 0);
    if (gz && hf) {
        mill_clip_tokenizer_use_hf_fast(gz);
        mill_clip_tokenizer_use_hf_fast(hf);
        CHECK_INT(count_mismatches(gz, want, "CLIPTokenizerFast cleaning (gz)"), 0);
        CHECK_INT(count_mismatches(hf, want, "CLIPTokenizerFast cleaning (vocab.json)"), 0);
    }
    size_t differ = 0;
    for (size_t i = 0; i < n_cases; i++)
        differ += memcmp(want + i * MAX_CTX, open_clip + i * MAX_CTX,
                         (size_t)cases[i].ctx * sizeof *want) != 0;
    printf("clip tokenizer: CLIPTokenizerFast's cleaning on %zu strings, %zu of them tokenised "
           "otherwise than by open_clip's\n",
           n_cases, differ);
    CHECK(differ >= 10);
    mill_clip_tokenizer_free(gz);
    mill_clip_tokenizer_free(hf);
    free(want);
}

struct thread_arg {
    struct mill_clip_tokenizer *tok;
    size_t start, bad;
};

static void *thread_main(void *p) {
    struct thread_arg *a = p;
    int32_t got[MAX_CTX];
    struct mill_err err = {0};
    for (size_t j = 0; j < n_cases; j++) {
        size_t i = (a->start + j) % n_cases;
        mill_clip_tokenize(a->tok, cases[i].text, cases[i].ctx, got, &err);
        a->bad += memcmp(got, ref_ids + i * MAX_CTX, (size_t)cases[i].ctx * sizeof *got) != 0;
    }
    return NULL;
}

/* Four threads share one fresh tokenizer (and its cache). */
static void test_threads(void) {
    char path[4096];
    struct mill_clip_tokenizer *tok = NULL;
    struct mill_err err = {0};
    if (!reference_ids())
        return;
    bpe_path(path, sizeof path);
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &tok, &err), 0);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int t = 0; tok && t < 4; t++) {
        args[t] = (struct thread_arg){tok, (size_t)t * n_cases / 4, 0};
        CHECK_INT(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; tok && t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(args[t].bad, 0);
    }
    mill_clip_tokenizer_free(tok);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* All 80 ImageNet templates x 1000 classes, as a zero-shot classifier build tokenises them. */
static void test_imagenet_timing(void) {
    char path[4096];
    struct mill_value tmpl = {0}, names = {0};
    struct mill_clip_tokenizer *tok = NULL;
    struct mill_err err = {0};
    bpe_path(path, sizeof path);
    double t0 = now_s();
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &tok, &err), 0);
    double t_load = now_s() - t0;
    if (!tok || load_json("clip_benchmark/en_zeroshot_classification_templates.json", &tmpl) ||
        load_json("clip_benchmark/en_classnames.json", &names))
        goto out;
    const struct mill_value *it = mill_value_get(&tmpl, "imagenet1k");
    const struct mill_value *in = mill_value_get(&names, "imagenet1k");
    int32_t out[MAX_CTX];
    size_t n = 0;
    double t_tok = 0;
    for (size_t t = 0; it && in && t < it->u.list.n; t++)
        for (size_t c = 0; c < in->u.list.n; c++, n++) {
            char *s = mill_str_replace(mill_value_as_str(&it->u.list.items[t]), "{c}",
                                       mill_value_as_str(&in->u.list.items[c]));
            double t1 = now_s();
            CHECK(mill_clip_tokenize(tok, s, MAX_CTX, out, &err) > 2);
            t_tok += now_s() - t1;
            free(s);
        }
    CHECK_INT(n, 80000);
    printf("clip tokenizer: load %.0f ms; %zu ImageNet prompts in %.0f ms, %.2f us per prompt\n",
           t_load * 1e3, n, t_tok * 1e3, n ? t_tok * 1e6 / (double)n : 0.0);
out:
    mill_value_free(&tmpl);
    mill_value_free(&names);
    mill_clip_tokenizer_free(tok);
}

static void expect_gz_error(const char *path, int code) {
    struct mill_clip_tokenizer *tok = (struct mill_clip_tokenizer *)&tok;
    struct mill_err err = {0};
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(path, &tok, &err), code);
    CHECK(tok == NULL);
    CHECK(err.code == code && strlen(err.msg) > 0);
}

static void expect_hf_error(const char *vocab, const char *merges, int code) {
    struct mill_clip_tokenizer *tok = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_clip_tokenizer_load_hf(vocab, merges, &tok, &err), code);
    CHECK(tok == NULL);
    if (tok)
        mill_clip_tokenizer_free(tok);
}

static void test_bad_files(void) {
    char bpe[4096], p[128], vocab[128], merges[128], bad[128];
    size_t n = 0;
    bpe_path(bpe, sizeof bpe);
    expect_gz_error("/nonexistent/bpe.txt.gz", MILL_ENOTFOUND);
    tmp_path(p, sizeof p, "plain.txt");
    write_text(p, "#version: 0.2\ni n\n", 18);
    expect_gz_error(p, MILL_EFORMAT);
    char *gz = mtest_read_file(bpe, &n);
    CHECK(gz != NULL && n > 5000);
    tmp_path(p, sizeof p, "trunc.gz");
    write_text(p, gz ? gz : "", gz ? 5000 : 0);
    expect_gz_error(p, MILL_EFORMAT);
    free(gz);
    write_hf_files();
    tmp_path(vocab, sizeof vocab, "vocab.json");
    tmp_path(merges, sizeof merges, "merges.txt");
    tmp_path(bad, sizeof bad, "bad.json");
    static const char *const jsons[] = {"",
                                        "{",
                                        "[]",
                                        "{\"a\": -1}",
                                        "{\"a\": 1.5}",
                                        "{\"a\": 1, \"b\": 1}",
                                        "{\"a\": 99999999}",
                                        "{\"\\ud800\": 1}",
                                        "{\"a\": 1} x",
                                        "{\"a\" 1}"};
    for (size_t i = 0; i < NELEM(jsons); i++) {
        write_text(bad, jsons[i], strlen(jsons[i]));
        expect_hf_error(bad, merges, MILL_EFORMAT);
    }
    write_text(bad, "{}", 2); /* no byte symbols */
    expect_hf_error(bad, merges, MILL_EFORMAT);
    tmp_path(bad, sizeof bad, "bad_merges.txt");
    write_text(bad, "#version: 0.2\n\xc4\x89 \xc4\x8a\n", 20); /* "\t" "\n" never merge */
    expect_hf_error(vocab, bad, MILL_EFORMAT);
    expect_hf_error(vocab, "/nonexistent/merges.txt", MILL_ENOTFOUND);
    expect_hf_error("/nonexistent/vocab.json", merges, MILL_ENOTFOUND);
}

static void test_arguments(void) {
    struct mill_clip_tokenizer *tok = gz_tok();
    int32_t out[MAX_CTX];
    struct mill_err err = {0};
    CHECK_INT(mill_clip_tokenizer_load_bpe_gz(NULL, &tok, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenizer_load_hf(NULL, "x", &tok, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenize(NULL, "a", MAX_CTX, out, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenize(tok, NULL, MAX_CTX, out, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenize(tok, "a", MAX_CTX, NULL, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenize(tok, "a", 1, out, &err), MILL_EINVAL);
    CHECK_INT(mill_clip_tokenize(tok, "a", 0, out, NULL), MILL_EINVAL);
    mill_clip_tokenizer_free(NULL);
}

static void test_cleanup(void) {
    mill_clip_tokenizer_free(gz_tok());
    for (size_t i = 0; i < n_cases; i++)
        free(cases[i].text);
    free(cases);
    free(ref_ids);
    tmp_cleanup();
}

MTEST_MAIN(MTEST(test_known_ids), MTEST(test_ftfy_first), MTEST(test_matches_reference),
           MTEST(test_invalid_utf8), MTEST(test_hf_format), MTEST(test_hf_fast),
           MTEST(test_threads), MTEST(test_imagenet_timing), MTEST(test_bad_files),
           MTEST(test_arguments), MTEST(test_cleanup))
