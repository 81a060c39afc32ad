/* test_pyliteral.c: src/core/pyliteral.c against Python's ast.literal_eval. Each input of the
 * tables goes, as a JSON line, to tests/reference/pyliteral_oracle.py under Debian's
 * /usr/bin/python3, which answers with the value as JSON (or ERR); the C parser's value,
 * written by mill_value_to_json, must be the same text, and where Python refuses an input the C
 * parser must refuse it too (MILL_EFORMAT with a byte offset). mill_pyliteral_str_list is
 * checked the same way against [str(x) for x in value], and mill_pyconfig_parse (model config
 * files) against the file run by Python with stand-in imports. Then what we refuse on purpose
 * (Python accepts it) and hostile input. Fails, never skips, without python3. */
#include "core/pyliteral.h"
#include "core/spec.h"
#include "mtest.h"

#include <mill/buf.h>

#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

/* Realistic literals (MMMU-Pro `options` cells and their relatives) and malformed ones; the
 * expected value or error is the oracle's. Non-ASCII text is written in octal escapes. */
static const char *const cases[] = {
    /* MMMU-Pro options as the dataset stores them: str(list) of strings */
    "['$6', '$8', \"Tom's\", '10\\u00b0C']",
    "['10\302\260C', '20\302\260C', '30\302\260C', '40\302\260C']",
    "['$\\\\frac{1}{2}$', '$\\\\sqrt{2}$', '$2\\\\pi r$', '$\\\\alpha + \\\\beta$']",
    "['$\\frac{1}{2}$', '$\\sqrt{3}$', '$\\theta$', '$\\nu$']",
    "['<image 1>', '<image 2>', '<image 3>', '<image 4>']",
    "['', 'None of the above', '']",
    "['Liberalism', 'Conservatism', 'Socialism', 'Anarchism', 'Fascism', 'Communism', "
    "'Nationalism', 'Environmentalism', 'Feminism', 'Multiculturalism']",
    "['$1,200', '$1,500', '$2,000.50', '-$300']",
    "['25%', '50 %', '3/4', '1:2', 'x^2 + y^2 = r^2']",
    "[\"Tom's\", \"don't\", 'say \"no\"', 'It\\'s']",
    "[\"a\\\"b\", 'c\\\\d']",
    "['C:\\\\Users\\\\x', 'a\\\\']",
    "['\\$5', '\\%', '\\d+', '\\(x\\)']",
    "['\316\261-helix', '\316\262-sheet', '\344\270\255\346\226\207', '\360\237\230\200']",
    "['$\\\\mathrm{\303\205}$', '5 \316\251', '\\u03bb = 500 nm']",
    "['line1\\nline2', 'tab\\there', 'cr\\rlf', 'bell\\a\\b\\f\\v']",
    "['\\101\\102C', '\\0', '\\777', '\\18']",
    "['\\x41\\xe9', '\\U0001F600', '\\u00e9t\\u00e9']",
    /* layout: newlines, comments, continuations, trailing commas */
    "[\n    'a',\n    'b',\n]",
    "['a',\r\n 'b']",
    "['a', # the first\n 'b']  # done\n",
    "   ['a']",
    "\t['a']\n\n",
    "\n\n['a']",
    "\\\n['a']",
    "'abc\\\ndef'",
    "['abc' 'def', \"x\" 'y', 'p'\n 'q']",
    "('a' \\\n 'b')",
    "['''multi\nline''', \"\"\"x\"\"\", '''a\r\nb''']",
    "[r'\\d+', R'\\n', r\"\\\"\", r'a\\\nb', u'x', U'y']",
    /* numbers, constants, tuples */
    "[1, 2.5, -3, 1e-05, 0.1, 100]",
    "['A', 1, True, None, 2.0]",
    "[1_000, 0, -0, 00, 0_0]",
    "[1., .5, 1e400, -1e400, 1_0.5e1_0, 3.14159, 2.5e-3, 1E+2, 01.5, 0e0]",
    "[0x1F, 0o17, 0b101, 0X_ff, -0x10]",
    "[-9223372036854775808, 9223372036854775807]",
    "[-1, +2, -3.5, - 4, -(5), (-6), -((7.5))]",
    "[True, False, None]",
    "('a', 'b')",
    "('only',)",
    "('x')",
    "[['a', 'b'], ('c',), [], ()]",
    "'a', 'b'",
    "1,",
    "[]",
    "()",
    "-0.0",
    "'plain string'",
    "[1,2,3]",
    "[1e-320, 5e-324, 2e-324, 1e-400, 1.7976931348623159e308, 1_000.000_1, 0.30000000000000004]",
    "(\n1\n)",
    "[1,\n\n# c\n2]",
    "1 \\\n\n",
    "1,\\\n2",
    " \f1",
    "",
    "''",
    "None,",
    /* malformed: Python refuses them too */
    "['a', 'b'",
    "['a' 'b'",
    "['a',, 'b']",
    "[1 2]",
    "[,]",
    "foo",
    "[foo]",
    "len('a')",
    "1 + 2",
    "--1",
    "-True",
    "-'a'",
    "-[1]",
    "'abc",
    "'a\nb'",
    "'a\rb'",
    "01",
    "1__0",
    "1_",
    "1e",
    "1.5.5",
    "0b12",
    "0x",
    "0o8",
    "\n  [1]",
    "[1]\n[2]",
    "'a'\n'b'",
    "1,\n2",
    "",
    "   ",
    "# only a comment",
    "[1]]",
    "]",
    "[1)",
    "(1]",
    "'\\x4'",
    "'\\U00110000'",
    "'\\N{DASH}'",
    "1 if True else 2",
    "\\",
    "[1 # comment eats the bracket ]",
    "u'x' b'y'",
    "f'x'",
    "ur'x'",
    "[1, 2]x",
    "1abc",
    "'''unterminated",
    "'''a''''",
    "1\\\n",
    "\f 1",
    "r'\\'",
};

/* Accepted by ast.literal_eval, refused by the C parser on purpose (pyliteral.h). */
static const char *const unsupported[] = {
    "{'a': 1}",
    "{1, 2}",
    "b'x'",
    "rb'x'",
    "1j",
    "1+2j",
    "...",
    "99999999999999999999",
    "-9223372036854775809",
    "'\\N{EM DASH}'",
    "'\\ud83d'",
    "'\\ude00x'",
};

/* mill_pyliteral_str_list against [str(x) for x in ast.literal_eval(s)]. */
static const char *const str_cases[] = {
    "['$6', '$8', \"Tom's\", '10\\u00b0C']",
    "['$\\\\frac{1}{2}$', '<image 1>', '', 'It\\'s']",
    "[1, 2.5, 1e-05, True, None, -0.0, 1e16, 0.1, 1e400, 123456789012, 1e22, 0.30000000000000004]",
    "('a', 'b')",
    "'a', 'b'",
    "[]",
    "'abc'",
    "5",
    "None",
    "['a',",
};

/* Model config files: Python Mill's bundled ones as they are written, then the layouts and
 * values a user's may have, and files both refuse. The oracle runs each with stand-in imports;
 * its `model`, as JSON, must be ours. */
static const char *const config_cases[] = {
    "from mill.models.transformers import TransformersModel\n\nmodel = dict(\n"
    "    type=TransformersModel,\n    abbr=\"qwen2.5-vl-7b\",\n"
    "    path=\"Qwen/Qwen2.5-VL-7B-Instruct\",\n    modalities=[\"text\", \"image\", \"video\"],\n"
    "    dtype=\"bfloat16\",\n    max_context_length=32768,\n"
    "    run_cfg=dict(num_gpus=1, batch_size=4),\n)\n",
    "from mill.models.hf_clip import HFContrastiveModel\n\nmodel = dict(\n"
    "    type=HFContrastiveModel,\n    abbr=\"clap-htsat-unfused\",\n"
    "    path=\"laion/clap-htsat-unfused\",\n    modalities=[\"audio\", \"text\"],\n"
    "    dtype=\"float32\",\n    run_cfg=dict(num_gpus=1, batch_size=32),\n)\n",
    "from mill.models.transformers import TransformersModel\n\nmodel = dict(\n"
    "    type=TransformersModel,\n    abbr=\"internvl2-8b\",\n    "
    "path=\"OpenGVLab/InternVL2-8B\",\n"
    "    modalities=[\"text\", \"image\", \"video\"],\n    dtype=\"bfloat16\",\n"
    "    max_context_length=8192,\n    trust_remote_code=True,\n"
    "    run_cfg=dict(num_gpus=1, batch_size=4),\n)\n",
    "\"\"\"Llama 3 8B.\"\"\"\n# a comment\nfrom mill.models.transformers import (\n"
    "    TransformersModel as TM,  # the class\n)\nimport os, sys as system\n\n"
    "model = dict(type=TM, path='meta-llama/Meta-Llama-3-8B-Instruct', "
    "run_cfg=dict(batch_size=16,),)  # trailing\n",
    "model = dict()",
    "model = {'type': 'hf', \"path\": 'x', 'run_cfg': {'batch_size': 2, }, }\n",
    "model = {'a': 1, 'b': 2, 'a': 3}\n",
    "model = dict(a=1)\nmodel = dict(a=2)\n",
    "base = dict(dtype='float16', batch_size=8)\nt = 1, 'x'\n"
    "model = dict(type='vllm', path='m', run_cfg=base, t=t)\n",
    "model = dict(a=None, b=True, c=False, d=[1, 'x', 2.5], e=(1,), f=-1.5e3, g=0x10, "
    "h='a' 'b', i=r'\\d', j='''tri\nple''')\n",
    "model = \\\n    dict(a=1)\n",
    "\xef\xbb\xbfmodel = dict(a=1)\r\nx = 2\r\n",
    "from mill.models.clip import OpenCLIPModel\nmodel = dict(type=OpenCLIPModel, "
    "path='ViT-B-32', pretrained='laion2b_s34b_b79k')\n",
    "model = dict(type='Qwen/Qwen3-0.6B', dtype='bfloat16')\n",
    "dict_args = {'x': [1, {'y': None}]}\nmodel = dict(nested=dict_args)\n",
    "# -*- coding: utf-8 -*-\nfrom mill . models . transformers import TransformersModel\n"
    "import mill.models.vllm\nmodel = dict(type=TransformersModel, path='x')\n",
    "#!/usr/bin/env python3\n# vim: set fileencoding=utf8 :\nmodel = dict(a='\xc3\xa9')\n",
    "a_very_long_name_that_goes_on_and_on_well_past_sixty_four_bytes_of_identifier_x = 'p'\n"
    "model = dict(path=a_very_long_name_that_goes_on_and_on_well_past_sixty_four_bytes_of_"
    "identifier_x)\n",
    /* refused by both */
    "",
    "x = dict(a=1)\n",
    "model = dict(a=1, a=2)\n",
    "model = dict(a=undefined)\n",
    "model = print(1)\n",
    "  model = dict()\n",
    "model = dict(a=1\n",
    "model = dict(a=1 +)\n",
    "from . import x\nmodel = dict()\n",
    "model = dict(a=1) b = 2\n",
    "model = {'a'}\n",
    "model = dict(1)\n",
    "model = dict(a=1,,)\n",
    "model = dict(a=b'x')\n",
    "import\nmodel = dict()\n",
    "from mill import\nmodel = dict()\n",
    "model = (dict(a=1)\n",
    "model = dict(a=1)\n)\n",
    "import json as dict\nmodel = dict(a=1)\n",
};

/* Configs Python runs and we do not (calls, operators, blocks, unpacking, attributes...): each
 * must be refused with the file and line, not misread. */
static const char *const config_refused[] = {
    "if True:\n    model = dict()\n",
    "def f():\n    pass\nmodel = dict()\n",
    "model = dict(a=1); x = 2\n",
    "model = dict(a=1 + 2)\n",
    "base = dict(a=1)\nmodel = dict(**base)\n",
    "base = dict(a=1)\nmodel = dict(base, b=2)\n",
    "base = {'a': 1}\nmodel = {**base}\n",
    "import os\nmodel = dict(a=os.sep)\n",
    "from x import *\nmodel = dict()\n",
    "model = dict(type=f'x')\n",
    "model = {1: 2}\n",
    "model: dict = dict()\n",
    "model = dict(a=[1][0])\n",
    "model = dict(a=-(1))\nmodel |= dict(b=2)\n",
    "x = 1\nmodel = dict(a=-x)\n",
    "model = cfg = dict(a=1)\n",
    "# -*- coding: latin-1 -*-\nmodel = dict(path='A/\xc3\xa9')\n",
    "path = 'A/a'\n\xef\xbd\x90"
    "ath = 'B/b'\nmodel = dict(path=path)\n",
    "model = dict(type='Q/x', \xef\xbd\x90"
    "ath='B/b')\n",
    "model = dict(path='A/' + 'a')\n",
    "model = dict(n=32 * 1024)\n",
};

/* What Python refuses too, where a lenient reader might not: keywords as names. */
static const char *const config_keywords[] = {
    "True = 1\nmodel = dict()\n",
    "model = dict(if=1)\n",
    "model = dict(a=lambda)\n",
};

/* What the oracle prints for each of n inputs (mode "eval" or "strs"), one malloc'd line each
 * (newline removed), or NULL when it could not run. */
static char **oracle(const char *mode, const char *const *inputs, size_t n) {
    char in[] = "/tmp/mill_pyliteral_XXXXXX";
    int fd = mkstemp(in);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    struct mill_buf b = {0};
    for (size_t i = 0; f && i < n; i++) {
        mill_buf_reset(&b);
        mill_buf_addf(&b, "{\"mode\":\"%s\",\"s\":", mode);
        mill_buf_add_json_str(&b, inputs[i], strlen(inputs[i]));
        fprintf(f, "%s}\n", b.p);
    }
    if (f)
        fclose(f);
    mill_buf_reset(&b);
    mill_buf_addf(&b, "/usr/bin/python3 %s/tests/reference/pyliteral_oracle.py < %s",
                  mtest_source_dir(), in);
    char **out = mtest_command_lines(b.p, n);
    unlink(in);
    mill_buf_free(&b);
    return out;
}

/* An error must be MILL_EFORMAT and name the byte offset. */
static void check_refused(const char *in, int rc, const struct mill_err *e) {
    if (rc != MILL_EFORMAT || !strstr(e->msg, "byte "))
        fprintf(stderr, "input \"%s\": rc %d (%s), expected a format error\n", in, rc, e->msg);
    CHECK_INT(rc, MILL_EFORMAT);
    CHECK(strstr(e->msg, "byte ") != NULL);
}

static void test_against_python(void) {
    size_t n = sizeof cases / sizeof cases[0];
    CHECK(n >= 40);
    char **want = oracle("eval", cases, n);
    for (size_t i = 0; want && i < n; i++) {
        struct mill_value v;
        struct mill_err e = {0};
        int rc = mill_pyliteral_parse(cases[i], strlen(cases[i]), &v, &e);
        if (!strncmp(want[i], "ERR", 3)) {
            check_refused(cases[i], rc, &e);
            CHECK(v.kind == MILL_V_NULL);
            continue;
        }
        struct mill_buf got = {0};
        if (rc == 0)
            mill_value_to_json(&v, &got);
        if (rc || strcmp(got.p, want[i]))
            fprintf(stderr, "input %zu \"%s\": got %s (%s), python %s\n", i, cases[i],
                    rc ? "an error" : got.p, e.msg, want[i]);
        CHECK_INT(rc, 0);
        CHECK(rc == 0 && !strcmp(got.p, want[i]));
        mill_buf_free(&got);
        mill_value_free(&v);
    }
    mill_strv_free(want, want ? n : 0);
}

static void test_unsupported(void) {
    size_t n = sizeof unsupported / sizeof unsupported[0];
    char **py = oracle("eval", unsupported, n);
    for (size_t i = 0; py && i < n; i++) {
        if (!strncmp(py[i], "ERR", 3))
            fprintf(stderr, "unsupported %zu \"%s\": python says %s\n", i, unsupported[i], py[i]);
        CHECK(strncmp(py[i], "ERR", 3) != 0);
        struct mill_value v;
        struct mill_err e = {0};
        check_refused(unsupported[i],
                      mill_pyliteral_parse(unsupported[i], strlen(unsupported[i]), &v, &e), &e);
    }
    mill_strv_free(py, py ? n : 0);
}

/* The C items as the oracle writes them: a compact JSON array of strings. */
static char *items_json(char **items, size_t n) {
    struct mill_buf b = {0};
    mill_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            mill_buf_addc(&b, ',');
        mill_buf_add_json_str(&b, items[i], strlen(items[i]));
    }
    mill_buf_addc(&b, ']');
    return mill_buf_take(&b);
}

static void test_str_list(void) {
    size_t n = sizeof str_cases / sizeof str_cases[0];
    char **want = oracle("strs", str_cases, n);
    for (size_t i = 0; want && i < n; i++) {
        char **items;
        size_t k;
        struct mill_err e = {0};
        int rc = mill_pyliteral_str_list(str_cases[i], strlen(str_cases[i]), &items, &k, &e);
        if (!strcmp(want[i], "NOTLIST")) {
            CHECK_INT(rc, MILL_EFORMAT);
            CHECK(strstr(e.msg, "not a list") != NULL);
        } else if (!strncmp(want[i], "ERR", 3)) {
            check_refused(str_cases[i], rc, &e);
        } else {
            CHECK_INT(rc, 0);
            char *got = rc ? NULL : items_json(items, k);
            if (!got || strcmp(got, want[i]))
                fprintf(stderr, "str list %zu: got %s, python %s\n", i, got ? got : e.msg, want[i]);
            CHECK(got && !strcmp(got, want[i]));
            free(got);
        }
        CHECK(rc == 0 || (items == NULL && k == 0));
        if (!rc)
            mill_strv_free(items, k);
    }
    mill_strv_free(want, want ? n : 0);
}

/* str() of a nested list is refused (Python would write its repr). */
static void test_str_list_nested(void) {
    char **items;
    size_t k;
    struct mill_err e = {0};
    const char *s = "['a', ['b']]";
    CHECK_INT(mill_pyliteral_str_list(s, strlen(s), &items, &k, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "element 1") != NULL);
    CHECK(items == NULL && k == 0);
}

/* Explicit length: the text need not be NUL-terminated, and a NUL inside is refused. */
static void test_lengths(void) {
    struct mill_value v;
    struct mill_err e = {0};
    CHECK_INT(mill_pyliteral_parse("['a']garbage", 5, &v, &e), 0);
    CHECK(v.kind == MILL_V_LIST && v.u.list.n == 1);
    mill_value_free(&v);
    CHECK_INT(mill_pyliteral_parse("['a\0b']", 7, &v, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "byte 3") != NULL);
    CHECK_INT(mill_pyliteral_parse("'a\\0b'", 6, &v, &e), 0); /* an escaped NUL is a value */
    CHECK(v.kind == MILL_V_STR && v.u.s.n == 3 && v.u.s.p[1] == 0);
    mill_value_free(&v);
    CHECK_INT(mill_pyliteral_parse("'\xff'", 3, &v, &e), MILL_EFORMAT); /* invalid UTF-8 */
}

/* A surrogate pair escape becomes its one code point (Python keeps two surrogates). */
static void test_surrogate_pair(void) {
    struct mill_value v;
    struct mill_err e = {0};
    const char *s = "'\\ud83d\\ude00!'";
    CHECK_INT(mill_pyliteral_parse(s, strlen(s), &v, &e), 0);
    CHECK_STR(mill_value_as_str(&v), "\360\237\230\200!");
    mill_value_free(&v);
}

/* Nesting up to MILL_PYLITERAL_MAX_DEPTH is read; deeper, or a million brackets or signs, is a
 * format error, quickly and without deep recursion. */
static void test_depth(void) {
    size_t big = 1000000;
    char *s = malloc(2 * big + 2);
    struct mill_value v;
    struct mill_err e = {0};
    for (int depth = MILL_PYLITERAL_MAX_DEPTH; depth <= MILL_PYLITERAL_MAX_DEPTH + 1; depth++) {
        memset(s, '[', (size_t)depth);
        memset(s + depth, ']', (size_t)depth);
        int rc = mill_pyliteral_parse(s, 2 * (size_t)depth, &v, &e);
        CHECK_INT(rc, depth <= MILL_PYLITERAL_MAX_DEPTH ? 0 : MILL_EFORMAT);
        mill_value_free(&v);
    }
    CHECK(strstr(e.msg, "nesting") != NULL);
    const char fills[] = {'[', '(', '-'};
    for (size_t i = 0; i < sizeof fills; i++) {
        memset(s, fills[i], big);
        s[big] = '1';
        CHECK_INT(mill_pyliteral_parse(s, big + 1, &v, &e), MILL_EFORMAT);
    }
    free(s);
}

/* A config's error: MILL_EFORMAT naming the file (and, but for no `model`, its line). */
static void check_config_refused(const char *in, int rc, const struct mill_err *e) {
    if (rc != MILL_EFORMAT || strncmp(e->msg, "cfg.py:", 7))
        fprintf(stderr, "config \"%s\": rc %d (%s), expected a format error naming cfg.py\n", in,
                rc, e->msg);
    CHECK_INT(rc, MILL_EFORMAT);
    CHECK(!strncmp(e->msg, "cfg.py:", 7));
}

/* An imported name's bytes ("a.b:X") as the string the oracle's stand-in gives. */
static void imports_as_str(struct mill_value *v) {
    if (v->kind == MILL_V_BYTES)
        v->kind = MILL_V_STR; /* same layout: p, n, NUL-terminated */
    for (size_t i = 0; v->kind == MILL_V_LIST && i < v->u.list.n; i++)
        imports_as_str(&v->u.list.items[i]);
    for (size_t i = 0; v->kind == MILL_V_STRUCT && i < v->u.obj.n; i++)
        imports_as_str(&v->u.obj.vals[i]);
}

static void test_config_against_python(void) {
    size_t n = sizeof config_cases / sizeof config_cases[0];
    char **want = oracle("config", config_cases, n);
    size_t n_ok = 0;
    for (size_t i = 0; want && i < n; i++) {
        struct mill_value v;
        struct mill_err e = {0};
        int rc = mill_pyconfig_parse(config_cases[i], strlen(config_cases[i]), "cfg.py", "model",
                                     &v, &e);
        if (!strncmp(want[i], "ERR", 3)) {
            check_config_refused(config_cases[i], rc, &e);
            CHECK(v.kind == MILL_V_NULL);
            continue;
        }
        n_ok++;
        struct mill_buf got = {0};
        imports_as_str(&v);
        if (rc == 0)
            mill_value_to_json(&v, &got);
        if (rc || strcmp(got.p, want[i]))
            fprintf(stderr, "config %zu: got %s (%s), python %s\n", i, rc ? "an error" : got.p,
                    e.msg, want[i]);
        CHECK(rc == 0 && !strcmp(got.p, want[i]));
        mill_buf_free(&got);
        mill_value_free(&v);
    }
    CHECK_INT(n_ok, 18); /* the table's first 18 are configs Python reads */
    mill_strv_free(want, want ? n : 0);
}

static void test_config_refused(void) {
    size_t n = sizeof config_refused / sizeof config_refused[0];
    char **py = oracle("config", config_refused, n);
    for (size_t i = 0; py && i < n; i++) {
        if (!strncmp(py[i], "ERR", 3))
            fprintf(stderr, "refused config %zu: python says %s\n", i, py[i]);
        CHECK(strncmp(py[i], "ERR", 3) != 0);
        struct mill_value v;
        struct mill_err e = {0};
        int rc = mill_pyconfig_parse(config_refused[i], strlen(config_refused[i]), "cfg.py",
                                     "model", &v, &e);
        check_config_refused(config_refused[i], rc, &e);
        CHECK(isdigit((unsigned char)e.msg[7]));
    }
    mill_strv_free(py, py ? n : 0);
    n = sizeof config_keywords / sizeof config_keywords[0];
    py = oracle("config", config_keywords, n);
    for (size_t i = 0; py && i < n; i++) {
        struct mill_value v;
        struct mill_err e = {0};
        CHECK(!strncmp(py[i], "ERR", 3));
        int rc = mill_pyconfig_parse(config_keywords[i], strlen(config_keywords[i]), "cfg.py",
                                     "model", &v, &e);
        check_config_refused(config_keywords[i], rc, &e);
        CHECK(strstr(e.msg, "keyword") != NULL);
    }
    mill_strv_free(py, py ? n : 0);
    /* the line is where the fault is: the fourth */
    const char *at4 = "a = 1\n\n# c\nmodel = dict(x=a.b)\n";
    struct mill_value v;
    struct mill_err e = {0};
    CHECK_INT(mill_pyconfig_parse(at4, strlen(at4), "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK(!strncmp(e.msg, "cfg.py:4: ", 10));
}

/* Names copied into names double what a config holds each line: bounded, refused quickly. Deep
 * dict nesting is bounded as lists are; dicts and names stay refused outside configs. */
static void test_config_hostile(void) {
    struct mill_buf b = {0};
    mill_buf_adds(&b, "x0 = ['");
    for (int i = 0; i < 1000; i++)
        mill_buf_addc(&b, 'a');
    mill_buf_adds(&b, "']\n");
    for (int i = 1; i <= 64; i++)
        mill_buf_addf(&b, "x%d = [x%d, x%d]\n", i, i - 1, i - 1);
    mill_buf_adds(&b, "model = dict(a=x64)\n");
    struct mill_value v;
    struct mill_err e = {0};
    CHECK_INT(mill_pyconfig_parse(b.p, b.n, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "16 MiB") != NULL);
    mill_buf_reset(&b);
    mill_buf_adds(&b, "model = ");
    for (int i = 0; i <= MILL_PYLITERAL_MAX_DEPTH; i++)
        mill_buf_adds(&b, "dict(a=");
    for (int i = 0; i <= MILL_PYLITERAL_MAX_DEPTH; i++)
        mill_buf_addc(&b, ')');
    CHECK_INT(mill_pyconfig_parse(b.p, b.n, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "nesting") != NULL);
    /* nesting through names: each line one level deeper than the last */
    mill_buf_reset(&b);
    mill_buf_adds(&b, "x0 = 1\n");
    for (int i = 1; i <= 100; i++)
        mill_buf_addf(&b, "x%d = [x%d]\n", i, i - 1);
    mill_buf_adds(&b, "model = dict(a=x100)\n");
    CHECK_INT(mill_pyconfig_parse(b.p, b.n, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "nesting deeper than 64 levels (through names)") != NULL);
    /* 2,000 names */
    mill_buf_reset(&b);
    for (int i = 0; i < 2000; i++)
        mill_buf_addf(&b, "a%d = %d\n", i, i);
    mill_buf_adds(&b, "model = dict()\n");
    CHECK_INT(mill_pyconfig_parse(b.p, b.n, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK(strstr(e.msg, "more than 1024 names") != NULL);
    /* a docstring that is no string: refused, nothing freed that was never set */
    CHECK_INT(mill_pyconfig_parse("f'bad'\n", 7, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    CHECK_INT(mill_pyconfig_parse("\"open\n", 6, "cfg.py", "model", &v, &e), MILL_EFORMAT);
    mill_buf_free(&b);
    CHECK_INT(mill_pyliteral_parse("dict(a=1)", 9, &v, &e), MILL_EFORMAT);
    CHECK_INT(mill_pyliteral_parse("{'a': 1}", 8, &v, &e), MILL_EFORMAT);
    const char nul[] = "model = dict(a=1)\n\0";
    CHECK_INT(mill_pyconfig_parse(nul, sizeof nul - 1, "cfg.py", "model", &v, &e), MILL_EFORMAT);
}

MTEST_MAIN(MTEST(test_against_python), MTEST(test_config_against_python),
           MTEST(test_config_refused), MTEST(test_config_hostile), MTEST(test_unsupported),
           MTEST(test_str_list), MTEST(test_str_list_nested), MTEST(test_lengths),
           MTEST(test_surrogate_pair), MTEST(test_depth))
