/* hf_tokcheck: converts a transformers tokenizer directory (tokenizer.json, tokenizer_config.json,
 * config.json) with mill_hf_tokenizer_to_gguf and checks it against a llama.cpp vocabulary GGUF
 * (share/vocab/ggml-vocab-*.gguf): every tokenizer.* key of the reference compared key by key
 * (type, length, each element), then a vocabulary-only GGUF of the reference's model keys and
 * our tokenizer keys loaded by llama.cpp (vocab_only) tokenises the reference's .inp strings to
 * its .out ids, as llama.cpp's test-tokenizer-0 does (no special tokens added or parsed).
 *
 * Usage: hf_tokcheck --dir DIR [--ref REF.gguf [--ignore KEY]... [--tests PREFIX]]
 *   --ignore KEY    compare KEY only for presence (a documented difference of the reference)
 *   --tests PREFIX  PREFIX.inp / PREFIX.out (default: REF.inp / REF.out when they exist)
 * Without --ref it only converts (for the bad-input tests). Prints a line per check; conversion
 * errors go to stderr as "hf_tokcheck: MESSAGE". Exit: 0 all equal, 1 a difference or an error,
 * 2 usage error. A test tool for tests/cli/test_hf_tokenizer.sh. */
#include "model/convert/hf_tokenizer.h"

#include <gguf.h>
#include <llama.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IGNORE 16
#define SEP "\n__ggml_vocab_test__\n"

static void on_log(enum ggml_log_level level, const char *text, void *ud) {
    (void)level, (void)text, (void)ud;
}

static size_t elem_size(enum gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    default: return 4;
    }
}

/* Compares key k of ref (index r) with ours (index o); prints the first difference. */
static int compare_key(const struct gguf_context *ref, int64_t r, const struct gguf_context *ours,
                       int64_t o) {
    const char *k = gguf_get_key(ref, r);
    enum gguf_type t = gguf_get_kv_type(ref, r);
    if (gguf_get_kv_type(ours, o) != t) {
        printf("DIFF %s: type %s, reference %s\n", k, gguf_type_name(gguf_get_kv_type(ours, o)),
               gguf_type_name(t));
        return 1;
    }
    if (t == GGUF_TYPE_STRING) {
        if (strcmp(gguf_get_val_str(ref, r), gguf_get_val_str(ours, o)) != 0) {
            printf("DIFF %s: strings differ\n", k);
            return 1;
        }
        return 0;
    }
    if (t != GGUF_TYPE_ARRAY) {
        if (memcmp(gguf_get_val_data(ref, r), gguf_get_val_data(ours, o), elem_size(t)) != 0) {
            printf("DIFF %s: values differ\n", k);
            return 1;
        }
        return 0;
    }
    enum gguf_type at = gguf_get_arr_type(ref, r);
    size_t n = gguf_get_arr_n(ref, r);
    if (gguf_get_arr_type(ours, o) != at || gguf_get_arr_n(ours, o) != n) {
        printf("DIFF %s: %zu elements of %s, reference %zu of %s\n", k, gguf_get_arr_n(ours, o),
               gguf_type_name(gguf_get_arr_type(ours, o)), n, gguf_type_name(at));
        return 1;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        bool same = at == GGUF_TYPE_STRING
                        ? !strcmp(gguf_get_arr_str(ref, r, i), gguf_get_arr_str(ours, o, i))
                        : !memcmp((const char *)gguf_get_arr_data(ref, r) + i * elem_size(at),
                                  (const char *)gguf_get_arr_data(ours, o) + i * elem_size(at),
                                  elem_size(at));
        if (!same && !bad++)
            first = i;
    }
    if (bad) {
        printf("DIFF %s: %zu of %zu elements differ, first at %zu", k, bad, n, first);
        if (at == GGUF_TYPE_STRING)
            printf(" ('%s', reference '%s')", gguf_get_arr_str(ours, o, first),
                   gguf_get_arr_str(ref, r, first));
        printf("\n");
    }
    return bad != 0;
}

static bool ignored(const char *key, const char **ign, int n_ign) {
    for (int i = 0; i < n_ign; i++)
        if (!strcmp(key, ign[i]))
            return true;
    return false;
}

/* Every tokenizer.* key of ref against ours; keys only ours has are listed. */
static int compare_all(const struct gguf_context *ref, const struct gguf_context *ours,
                       const char **ign, int n_ign) {
    int bad = 0, same = 0;
    for (int64_t r = 0; r < gguf_get_n_kv(ref); r++) {
        const char *k = gguf_get_key(ref, r);
        if (strncmp(k, "tokenizer.", 10) != 0)
            continue;
        int64_t o = gguf_find_key(ours, k);
        if (o < 0) {
            printf("DIFF %s: missing\n", k);
            bad++;
        } else if (ignored(k, ign, n_ign)) {
            printf("ignored %s (present)\n", k);
        } else if (compare_key(ref, r, ours, o)) {
            bad++;
        } else {
            same++;
        }
    }
    for (int64_t o = 0; o < gguf_get_n_kv(ours); o++)
        if (gguf_find_key(ref, gguf_get_key(ours, o)) < 0)
            printf("extra %s (not in the reference)\n", gguf_get_key(ours, o));
    printf("keys: %d equal, %d differ\n", same, bad);
    return bad != 0;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
        fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = 0;
        *n = (size_t)size;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    return buf;
}

/* One test: text tokenised must give the ids of the .out line. */
static bool tokenize_equal(const struct llama_vocab *v, const char *text, size_t n,
                           const char *want) {
    int cap = (int)n + 8;
    llama_token *ids = malloc((size_t)cap * sizeof *ids);
    int got = ids ? llama_tokenize(v, text, (int32_t)n, ids, cap, false, false) : -1;
    bool ok = got >= 0;
    const char *p = want;
    for (int i = 0; ok && i < got; i++) {
        char *end;
        long id = strtol(p, &end, 10);
        ok = end != p && id == ids[i];
        p = end;
    }
    while (ok && *p == ' ')
        p++;
    ok = ok && (*p == 0 || *p == '\n');
    free(ids);
    return ok;
}

/* Tokenises PREFIX.inp with the vocabulary in gguf_path and compares with PREFIX.out. */
static int check_tests(const char *gguf_path, const char *prefix) {
    char inp_path[4096], out_path[4096];
    snprintf(inp_path, sizeof inp_path, "%s.inp", prefix);
    snprintf(out_path, sizeof out_path, "%s.out", prefix);
    size_t n_inp = 0, n_out = 0;
    char *inp = slurp(inp_path, &n_inp), *out = slurp(out_path, &n_out);
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *model = inp && out ? llama_model_load_from_file(gguf_path, mp) : NULL;
    if (!model) {
        printf("FAIL cannot read %s, %s or load %s\n", inp_path, out_path, gguf_path);
        free(inp);
        free(out);
        return 1;
    }
    const struct llama_vocab *v = llama_model_get_vocab(model);
    int tests = 0, bad = 0;
    char *t = inp, *line = out;
    while (t && line && *line) {
        char *next = strstr(t, SEP);
        size_t len = next ? (size_t)(next - t) : strlen(t);
        if (!tokenize_equal(v, t, len, line) && bad++ < 3)
            printf("DIFF tokenising test %d: %.40s\n", tests, t);
        tests++;
        t = next && next[strlen(SEP)] ? next + strlen(SEP) : NULL;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (t || (line && *line)) {
        printf("FAIL %s and %s hold different numbers of tests\n", inp_path, out_path);
        bad++;
    }
    printf("tokenize: %d tests, %d differ\n", tests, bad);
    llama_model_free(model);
    free(inp);
    free(out);
    return bad != 0;
}

/* A vocabulary-only GGUF: the reference's keys with every tokenizer.* key replaced by ours. */
static int write_vocab(const struct gguf_context *ref, const struct gguf_context *ours,
                       const char *path) {
    struct gguf_context *g = gguf_init_empty();
    gguf_set_kv(g, ref);
    for (int64_t i = gguf_get_n_kv(g) - 1; i >= 0; i--)
        if (!strncmp(gguf_get_key(g, i), "tokenizer.", 10))
            gguf_remove_key(g, gguf_get_key(g, i));
    gguf_set_kv(g, ours);
    bool ok = gguf_write_to_file(g, path, false);
    gguf_free(g);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *ref_path = NULL, *tests = NULL, *ign[MAX_IGNORE];
    int n_ign = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--ref"))
            ref_path = argv[i + 1];
        else if (!strcmp(argv[i], "--tests"))
            tests = argv[i + 1];
        else if (!strcmp(argv[i], "--ignore") && n_ign < MAX_IGNORE)
            ign[n_ign++] = argv[i + 1];
        else
            dir = NULL, i = argc;
    }
    if (!dir) {
        fputs("usage: hf_tokcheck --dir DIR [--ref REF.gguf [--ignore KEY]... "
              "[--tests PREFIX]]\n",
              stderr);
        return 2;
    }
    llama_log_set(on_log, NULL);
    struct gguf_context *ours = gguf_init_empty();
    struct mill_err err = {0};
    if (mill_hf_tokenizer_to_gguf(dir, ours, &err)) {
        fprintf(stderr, "hf_tokcheck: %s\n", err.msg);
        gguf_free(ours);
        return 1;
    }
    printf("converted %s: %lld keys\n", dir, (long long)gguf_get_n_kv(ours));
    if (!ref_path) {
        gguf_free(ours);
        return 0;
    }
    struct gguf_init_params gp = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *ref = gguf_init_from_file(ref_path, gp);
    if (!ref) {
        fprintf(stderr, "hf_tokcheck: cannot read %s\n", ref_path);
        gguf_free(ours);
        return 1;
    }
    int rc = compare_all(ref, ours, ign, n_ign);
    char vocab_path[] = "/tmp/hf_tokcheck-XXXXXX";
    int fd = mkstemp(vocab_path);
    if (fd < 0 || write_vocab(ref, ours, vocab_path)) {
        printf("FAIL cannot write a vocabulary GGUF\n");
        rc = 1;
    } else {
        llama_backend_init();
        rc |= check_tests(vocab_path, tests ? tests : ref_path);
        llama_backend_free();
    }
    if (fd >= 0) {
        close(fd);
        unlink(vocab_path);
    }
    gguf_free(ref);
    gguf_free(ours);
    return rc;
}
