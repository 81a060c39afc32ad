/* hf_tokenizer.c: tokenizer.json (+ tokenizer_config.json, config.json) -> the GGUF
 * tokenizer.ggml.* keys, as llama.cpp's convert_hf_to_gguf.py writes them (hf_tokenizer.h).
 *
 * Two model kinds, each recognised by a signature of tokenizer.json that must match exactly:
 *  - byte-level BPE ("gpt2"): tokens and types as get_vocab_base (ids without a token become
 *    "[PAD<i>]" UNUSED; added tokens CONTROL when special or looking special, else
 *    USER_DEFINED), merges as SpecialVocab(load_merges=True), the pre-tokenizer name from the
 *    normalizer + pre_tokenizer table below. (The converter re-encodes an added token that is
 *    not "normalized" through transformers; that gives the token back, so it is kept as is.)
 *  - SentencePiece-style BPE as HF stores it (byte_fallback, "▁" for spaces) ("llama", pre
 *    "default"): types as _create_vocab_sentencepiece (UNKNOWN, BYTE, CONTROL, USER_DEFINED,
 *    NORMAL). tokenizer.json keeps no SentencePiece scores, so a normal piece's score is minus
 *    the rank of the first merge that makes it: llama.cpp's SPM tokenizer merges the best-scored
 *    pair first, which is then exactly HF's merge order (values differ from a tokenizer.model's).
 * Unigram, WordPiece and unknown pre-tokenizers are refused. Must not print or guess. */
#include "model/convert/hf_tokenizer.h"
#include "model/file.h"

#include <mill/value.h>

#include <gguf.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_FILE_MAX ((long)512 << 20) /* tokenizer.json larger than this is refused */
#define CFG_FILE_MAX ((long)16 << 20)  /* the other JSON files */
#define VOCAB_MAX ((int64_t)1 << 24)   /* token ids must lie in [0, VOCAB_MAX) */
#define SPACE_ESC "\xc4\xa0"           /* chr(ord(' ') + 256): a space inside a merge pair */
#define SPM_SPACE "\xe2\x96\x81"       /* "▁" */

enum tok_type { T_NORMAL = 1, T_UNKNOWN, T_CONTROL, T_USER, T_UNUSED, T_BYTE };
enum kind { K_GPT2, K_SPM };

/* The documents of one checkpoint; tc and cfg NULL when absent. */
struct docs {
    const struct mill_value *tok, *tc, *cfg;
    char *template_alt; /* chat_template.jinja's text, owned, or NULL */
};

struct vocab {
    int64_t n;        /* entries, the GGUF vocabulary size */
    char **text;      /* n entries, owned; NULL while unset */
    float *score;     /* n */
    int32_t *type;    /* n */
    int64_t *slot;    /* hash of model.vocab texts -> id + 1, cap entries */
    size_t cap;       /* power of two */
    int64_t n_merges; /* merges read */
    char **merges;    /* n_merges "a b" strings, owned */
};

/* Known signatures: normalizer, pre_tokenizer (JSON, compared field by field; trim_offsets is
 * ignored: it changes offsets, not ids), model.ignore_merges, and tokenizer_config's
 * clean_up_tokenization_spaces (-1: not checked), which tells names of one regex apart. The
 * regexes are those llama-vocab.cpp quotes as "original regex from tokenizer.json". */
#define LLAMA3_RE                                                                          \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| " \
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define QWEN2_RE                                                                      \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| " \
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define SPLIT_BYTELEVEL(re)                                                                      \
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"" re \
    "\"},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\","                   \
    "\"add_prefix_space\":false,\"use_regex\":false}]}"

struct signature {
    const char *pre, *normalizer, *pre_tokenizer;
    bool ignore_merges;
    int clean_up;
};

static const struct signature SIGNATURES[] = {
    {"gpt-2", "null", "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
     false, -1},
    {"llama-bpe", "null", SPLIT_BYTELEVEL(LLAMA3_RE), true, -1},
    {"qwen2", "{\"type\":\"NFC\"}", SPLIT_BYTELEVEL(QWEN2_RE), false, 0},
};

/* SentencePiece-style BPE: spaces become "▁" and one is prepended, by the normalizer (older
 * files) or by a Metaspace pre-tokenizer (newer ones); or, as transformers' GemmaConverter
 * writes it, none is prepended (llama.cpp's add_space_prefix false), and the Split on " " finds
 * none left. */
struct spm_signature {
    const char *normalizer, *pre_tokenizer;
    bool space_prefix;
};

#define SPM_REPLACE \
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" SPM_SPACE "\"}"
static const struct spm_signature SPM_SIGNATURES[] = {
    {"{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"" SPM_SPACE
     "\"}," SPM_REPLACE "]}",
     "null", true},
    {"null",
     "{\"type\":\"Metaspace\",\"replacement\":\"" SPM_SPACE
     "\",\"prepend_scheme\":\"first\",\"split\":false}",
     true},
    {SPM_REPLACE,
     "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\","
     "\"invert\":false}",
     false},
};

static const char *const SPECIAL_TYPES[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
#define N_SPECIAL 7
/* The GGUF key of each special type (cls has none: SpecialVocab skips it). */
static const char *const SPECIAL_KEYS[N_SPECIAL] = {
    "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id", NULL,
    "tokenizer.ggml.mask_token_id",
};

static bool is_null(const struct mill_value *v) { return !v || v->kind == MILL_V_NULL; }

/* ---- reading files ---- */

/* Parses dir/name into *v; *present false (and 0) when the file is absent and optional. */
static int read_json(const char *dir, const char *name, long max, bool optional,
                     struct mill_value *v, bool *present, struct mill_err *err) {
    char path[4096];
    char *buf = NULL;
    size_t n = 0;
    mill_value_null(v);
    *present = false;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return mill_err_set(err, MILL_EINVAL, "%s: path too long", dir);
    int rc = mill_model_read_file(path, (size_t)max, &buf, &n, err);
    if (rc == MILL_ENOTFOUND && optional)
        return MILL_OK;
    if (!rc && (rc = mill_value_from_json(v, buf, n, err)))
        mill_err_prefix(err, "%s", path);
    free(buf);
    *present = !rc;
    return rc;
}

/* ---- signatures ---- */

static bool num_eq(const struct mill_value *a, const struct mill_value *b) {
    double x = a->kind == MILL_V_INT ? (double)a->u.i : a->u.f;
    double y = b->kind == MILL_V_INT ? (double)b->u.i : b->u.f;
    return x == y;
}

/* Whether actual holds every field of want with the same value and nothing else (but
 * trim_offsets); an absent actual equals null. */
static bool same(const struct mill_value *actual, const struct mill_value *want) {
    if (is_null(want))
        return is_null(actual);
    if (!actual)
        return false;
    bool num_a = actual->kind == MILL_V_INT || actual->kind == MILL_V_FLOAT;
    bool num_w = want->kind == MILL_V_INT || want->kind == MILL_V_FLOAT;
    if (num_a && num_w)
        return num_eq(actual, want);
    if (actual->kind != want->kind)
        return false;
    switch (want->kind) {
    case MILL_V_BOOL: return actual->u.b == want->u.b;
    case MILL_V_STR:
        return actual->u.s.n == want->u.s.n && !memcmp(actual->u.s.p, want->u.s.p, want->u.s.n);
    case MILL_V_LIST:
        if (actual->u.list.n != want->u.list.n)
            return false;
        for (size_t i = 0; i < want->u.list.n; i++)
            if (!same(&actual->u.list.items[i], &want->u.list.items[i]))
                return false;
        return true;
    case MILL_V_STRUCT:
        for (size_t i = 0; i < want->u.obj.n; i++)
            if (!same(mill_value_get(actual, want->u.obj.keys[i]), &want->u.obj.vals[i]))
                return false;
        for (size_t i = 0; i < actual->u.obj.n; i++)
            if (!mill_value_get(want, actual->u.obj.keys[i]) &&
                strcmp(actual->u.obj.keys[i], "trim_offsets") != 0)
                return false;
        return true;
    default: return false;
    }
}

/* Whether actual matches the JSON text want (a table entry: it always parses). */
static bool same_json(const struct mill_value *actual, const char *want) {
    struct mill_value w;
    struct mill_err e = {0};
    if (mill_value_from_json(&w, want, strlen(want), &e))
        return false;
    bool r = same(actual, &w);
    mill_value_free(&w);
    return r;
}

static bool get_flag(const struct mill_value *obj, const char *key, bool dflt) {
    const struct mill_value *v = mill_value_get(obj, key);
    return v && v->kind == MILL_V_BOOL ? v->u.b : dflt;
}

/* The model kind and llama.cpp's pre-tokenizer name of d's tokenizer.json; for a SentencePiece
 * one, whether a space is prepended. */
static int identify(const struct docs *d, enum kind *kind, const char **pre, bool *space_prefix,
                    struct mill_err *err) {
    const struct mill_value *model = mill_value_get(d->tok, "model");
    const struct mill_value *norm = mill_value_get(d->tok, "normalizer");
    const struct mill_value *pt = mill_value_get(d->tok, "pre_tokenizer");
    const char *type = mill_value_as_str(mill_value_get(model, "type"));
    if (!model || model->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "tokenizer.json: model: not an object");
    if (!type || strcmp(type, "BPE") != 0)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "tokenizer.json: model.type '%s': only BPE tokenizers are supported",
                            type ? type : "(missing)");
    const char *cont = mill_value_as_str(mill_value_get(model, "continuing_subword_prefix"));
    const char *suffix = mill_value_as_str(mill_value_get(model, "end_of_word_suffix"));
    if ((cont && *cont) || (suffix && *suffix) || !is_null(mill_value_get(model, "dropout")))
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "tokenizer.json: model: continuing_subword_prefix, "
                            "end_of_word_suffix or dropout set: llama.cpp has no such BPE");
    const char *dec = mill_value_as_str(mill_value_get(mill_value_get(d->tok, "decoder"), "type"));
    if (get_flag(model, "byte_fallback", false)) {
        for (size_t i = 0; i < sizeof SPM_SIGNATURES / sizeof *SPM_SIGNATURES; i++)
            if (same_json(norm, SPM_SIGNATURES[i].normalizer) &&
                same_json(pt, SPM_SIGNATURES[i].pre_tokenizer) && dec &&
                strcmp(dec, "Sequence") == 0 && !get_flag(model, "ignore_merges", false)) {
                *kind = K_SPM;
                *pre = "default";
                *space_prefix = SPM_SIGNATURES[i].space_prefix;
                /* transformers' LlamaTokenizerFast given add_prefix_space rebuilds the
                 * tokenizer from tokenizer.model with it: one that disagrees with
                 * tokenizer.json's would tokenise otherwise than the GGUF */
                const struct mill_value *aps = mill_value_get(d->tc, "add_prefix_space");
                if (aps && aps->kind == MILL_V_BOOL && aps->u.b != *space_prefix)
                    return mill_err_set(err, MILL_EUNSUPPORTED,
                                        "tokenizer_config.json: add_prefix_space %s, where "
                                        "tokenizer.json %s a space: transformers rebuilds such "
                                        "a tokenizer from tokenizer.model",
                                        aps->u.b ? "true" : "false",
                                        *space_prefix ? "prepends" : "prepends no");
                return MILL_OK;
            }
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "tokenizer.json: normalizer/pre_tokenizer/decoder: a byte_fallback BPE "
                            "that is not SentencePiece-style (\"▁\" spaces, one prepended)");
    }
    int clean = -1;
    const struct mill_value *cv = mill_value_get(d->tc, "clean_up_tokenization_spaces");
    if (cv && cv->kind == MILL_V_BOOL)
        clean = cv->u.b;
    for (size_t i = 0; i < sizeof SIGNATURES / sizeof *SIGNATURES; i++) {
        const struct signature *s = &SIGNATURES[i];
        if (same_json(norm, s->normalizer) && same_json(pt, s->pre_tokenizer) &&
            get_flag(model, "ignore_merges", false) == s->ignore_merges &&
            (s->clean_up < 0 || clean == s->clean_up) && dec && !strcmp(dec, "ByteLevel")) {
            *kind = K_GPT2;
            *pre = s->pre;
            return MILL_OK;
        }
    }
    return mill_err_set(err, MILL_EUNSUPPORTED,
                        "tokenizer.json: pre_tokenizer/normalizer: not a pre-tokenizer llama.cpp "
                        "names (known: gpt-2, llama-bpe, qwen2, SentencePiece-style BPE)");
}

/* ---- the vocabulary ---- */

static uint64_t hash_text(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The id of text among model.vocab's tokens, or -1. */
static int64_t lookup(const struct vocab *v, const char *text) {
    for (size_t i = hash_text(text) & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
        if (!v->slot[i])
            return -1;
        if (!strcmp(v->text[v->slot[i] - 1], text))
            return v->slot[i] - 1;
    }
}

static void vocab_free(struct vocab *v) {
    for (int64_t i = 0; v->text && i < v->n; i++)
        free(v->text[i]);
    for (int64_t i = 0; i < v->n_merges; i++)
        free(v->merges[i]);
    free(v->text);
    free(v->score);
    free(v->type);
    free(v->slot);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

static int oom(struct mill_err *err) {
    return mill_err_set(err, MILL_ENOMEM, "tokenizer.json: out of memory");
}

/* The id of an entry ("id" of an added token, the value of a vocab entry) into *id. */
static int get_id(const struct mill_value *v, const char *what, int64_t *id, struct mill_err *err) {
    if (!v || mill_value_as_int(v, id) || *id < 0 || *id >= VOCAB_MAX)
        return mill_err_set(err, MILL_EFORMAT, "tokenizer.json: %s: not an id in [0, %lld)", what,
                            (long long)VOCAB_MAX);
    return MILL_OK;
}

/* The vocabulary size: config.json's vocab_size, else the number of tokens; every id must lie
 * below it (convert_hf_to_gguf.py asserts the same). */
static int vocab_size(const struct docs *d, int64_t n_tokens, int64_t max_id, int64_t *n,
                      struct mill_err *err) {
    const struct mill_value *vs = mill_value_get(d->cfg, "vocab_size");
    if (n_tokens < 0)
        return oom(err);
    *n = n_tokens;
    if (!is_null(vs) && (mill_value_as_int(vs, n) || *n <= 0 || *n > VOCAB_MAX))
        return mill_err_set(err, MILL_EFORMAT, "config.json: vocab_size: not a size");
    if (max_id >= *n)
        return mill_err_set(
            err, MILL_EFORMAT, "%s: vocab_size %lld, but tokenizer.json has token id %lld",
            is_null(vs) ? "tokenizer.json" : "config.json", (long long)*n, (long long)max_id);
    return MILL_OK;
}

/* The number of distinct ids of model.vocab and added_tokens (HF's len(get_vocab())), all
 * checked to lie in [0, max_id]; -1 when out of memory. */
static int64_t count_ids(const struct mill_value *mv, const struct mill_value *added,
                         int64_t max_id) {
    unsigned char *seen = calloc((size_t)max_id + 2, 1);
    int64_t n = 0, id;
    if (!seen)
        return -1;
    for (size_t i = 0; i < mv->u.obj.n; i++)
        if (!mill_value_as_int(&mv->u.obj.vals[i], &id) && !seen[id]++)
            n++;
    for (size_t i = 0; !is_null(added) && i < added->u.list.n; i++)
        if (!mill_value_as_int(mill_value_get(&added->u.list.items[i], "id"), &id) && !seen[id]++)
            n++;
    free(seen);
    return n;
}

/* Fills v->text from model.vocab and added_tokens (an added token's text wins at its id, as
 * in HF's get_vocab), sizes the arrays and indexes model.vocab's texts. */
static int load_tokens(const struct docs *d, struct vocab *v, struct mill_err *err) {
    const struct mill_value *mv = mill_value_get(mill_value_get(d->tok, "model"), "vocab");
    const struct mill_value *added = mill_value_get(d->tok, "added_tokens");
    if (!mv || mv->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT, "tokenizer.json: model.vocab: not an object");
    if (!is_null(added) && added->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT, "tokenizer.json: added_tokens: not a list");
    int64_t max_id = -1, id;
    for (size_t i = 0; i < mv->u.obj.n; i++) {
        char what[160];
        snprintf(what, sizeof what, "model.vocab['%.100s']", mv->u.obj.keys[i]);
        if (get_id(&mv->u.obj.vals[i], what, &id, err))
            return MILL_EFORMAT;
        max_id = id > max_id ? id : max_id;
    }
    size_t n_added = is_null(added) ? 0 : added->u.list.n;
    for (size_t i = 0; i < n_added; i++) {
        const struct mill_value *a = &added->u.list.items[i];
        char what[64];
        snprintf(what, sizeof what, "added_tokens[%zu].id", i);
        if (get_id(mill_value_get(a, "id"), what, &id, err))
            return MILL_EFORMAT;
        if (!mill_value_as_str(mill_value_get(a, "content")))
            return mill_err_set(err, MILL_EFORMAT,
                                "tokenizer.json: added_tokens[%zu].content: not a string", i);
        max_id = id > max_id ? id : max_id;
    }
    if (vocab_size(d, count_ids(mv, added, max_id), max_id, &v->n, err))
        return err->code;
    for (v->cap = 16; v->cap < 2 * mv->u.obj.n + 2; v->cap *= 2) {
    }
    v->text = calloc((size_t)v->n, sizeof *v->text);
    v->score = calloc((size_t)v->n, sizeof *v->score);
    v->type = calloc((size_t)v->n, sizeof *v->type);
    v->slot = calloc(v->cap, sizeof *v->slot);
    if (!v->text || !v->score || !v->type || !v->slot)
        return oom(err);
    for (size_t i = 0; i < mv->u.obj.n; i++) {
        mill_value_as_int(&mv->u.obj.vals[i], &id);
        if (v->text[id])
            return mill_err_set(err, MILL_EFORMAT,
                                "tokenizer.json: model.vocab: '%s' and '%s' share id %lld",
                                v->text[id], mv->u.obj.keys[i], (long long)id);
        if (!(v->text[id] = strdup(mv->u.obj.keys[i])))
            return oom(err);
        size_t s = hash_text(v->text[id]) & (v->cap - 1);
        while (v->slot[s])
            s = (s + 1) & (v->cap - 1);
        v->slot[s] = id + 1;
        v->type[id] = T_NORMAL;
    }
    return MILL_OK;
}

/* Whether token looks like a control token (convert_hf_to_gguf.py does_token_look_special). */
static bool looks_special(const char *t) {
    size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") ||
        !strcmp(t, "[@BOS@]"))
        return true;
    if (n >= 3 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) /* "<|>" too, as Python */
        return true;
    if (n >= 5 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>"))
        return true;
    return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

/* text with every "▁" replaced by a space (a user-defined token is pre-normalised). */
static char *unescape_spaces(const char *text) {
    char *out = malloc(strlen(text) + 1), *o = out;
    for (const char *p = text; out && *p;) {
        if (!strncmp(p, SPM_SPACE, 3)) {
            *o++ = ' ';
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    if (out)
        *o = 0;
    return out;
}

/* Sets entry id to an added token: CONTROL if special or looking special, else USER_DEFINED
 * with its "▁" turned into spaces. */
static int set_added(struct vocab *v, int64_t id, const char *content, bool special, float score,
                     struct mill_err *err) {
    bool control = special || looks_special(content);
    char *t = control ? strdup(content) : unescape_spaces(content);
    if (!t)
        return oom(err);
    free(v->text[id]);
    v->text[id] = t;
    v->type[id] = control ? T_CONTROL : T_USER;
    v->score[id] = score;
    return MILL_OK;
}

/* tokenizer_config.json's added_tokens_decoder must agree with tokenizer.json's added_tokens
 * (content and special flag): the Python converter reads one or the other per path. */
static int check_decoder(const struct docs *d, struct mill_err *err) {
    const struct mill_value *dec = mill_value_get(d->tc, "added_tokens_decoder");
    const struct mill_value *added = mill_value_get(d->tok, "added_tokens");
    if (is_null(dec))
        return MILL_OK;
    if (dec->kind != MILL_V_STRUCT)
        return mill_err_set(err, MILL_EFORMAT,
                            "tokenizer_config.json: added_tokens_decoder: not an object");
    for (size_t i = 0; i < dec->u.obj.n; i++) {
        const struct mill_value *e = &dec->u.obj.vals[i];
        const char *content = mill_value_as_str(mill_value_get(e, "content"));
        char *end;
        long long id = strtoll(dec->u.obj.keys[i], &end, 10);
        if (!content || *end || end == dec->u.obj.keys[i])
            return mill_err_set(err, MILL_EFORMAT,
                                "tokenizer_config.json: added_tokens_decoder['%s']: not an id "
                                "with a content string",
                                dec->u.obj.keys[i]);
        bool found = false;
        for (size_t j = 0; !found && !is_null(added) && j < added->u.list.n; j++) {
            const struct mill_value *a = &added->u.list.items[j];
            int64_t aid;
            if (!mill_value_as_int(mill_value_get(a, "id"), &aid) && aid == id)
                found = !strcmp(mill_value_as_str(mill_value_get(a, "content")), content) &&
                        get_flag(a, "special", false) == get_flag(e, "special", false);
        }
        if (!found)
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "tokenizer_config.json: added_tokens_decoder['%s'] ('%s') does "
                                "not match tokenizer.json's added_tokens",
                                dec->u.obj.keys[i], content);
    }
    return MILL_OK;
}

/* Byte-level BPE types (get_vocab_base). */
static int types_gpt2(const struct docs *d, struct vocab *v, struct mill_err *err) {
    const struct mill_value *added = mill_value_get(d->tok, "added_tokens");
    for (size_t i = 0; !is_null(added) && i < added->u.list.n; i++) {
        const struct mill_value *a = &added->u.list.items[i];
        int64_t id;
        mill_value_as_int(mill_value_get(a, "id"), &id);
        const char *content = mill_value_as_str(mill_value_get(a, "content"));
        int64_t base = lookup(v, content);
        if (base >= 0 && base != id)
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "tokenizer.json: added_tokens: '%s' has id %lld but model.vocab "
                                "gives it %lld",
                                content, (long long)id, (long long)base);
        if (base < 0 && v->text[id] && lookup(v, v->text[id]) == id)
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "tokenizer.json: added_tokens: '%s' takes id %lld of model.vocab's "
                                "'%s'",
                                content, (long long)id, v->text[id]);
        if (set_added(v, id, content, get_flag(a, "special", false), 0.0f, err))
            return MILL_ENOMEM;
    }
    for (int64_t i = 0; i < v->n; i++) {
        if (v->text[i])
            continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
        if (!(v->text[i] = strdup(pad)))
            return oom(err);
        v->type[i] = T_UNUSED;
    }
    return check_decoder(d, err);
}

static bool is_byte_token(const char *t) {
    const char *hex = "0123456789ABCDEFabcdef";
    return strlen(t) == 6 && !strncmp(t, "<0x", 3) && strchr(hex, t[3]) && strchr(hex, t[4]) &&
           t[5] == '>';
}

/* SentencePiece-style types and scores (_create_vocab_sentencepiece; scores: see the top). */
static int types_spm(const struct docs *d, struct vocab *v, struct mill_err *err) {
    const char *unk =
        mill_value_as_str(mill_value_get(mill_value_get(d->tok, "model"), "unk_token"));
    const struct mill_value *added = mill_value_get(d->tok, "added_tokens");
    for (int64_t i = 0; i < v->n; i++) {
        if (!v->text[i]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
            if (!(v->text[i] = strdup(pad)))
                return oom(err);
            v->type[i] = T_UNUSED;
            v->score[i] = -10000.0f;
        } else if (unk && !strcmp(v->text[i], unk)) {
            v->type[i] = T_UNKNOWN;
            v->score[i] = 0.0f;
        } else if (is_byte_token(v->text[i])) {
            v->type[i] = T_BYTE;
            v->score[i] = 0.0f;
        }
    }
    /* SentencePiece's control pieces (<s>, </s>) are the special added tokens already in the
     * model's vocabulary; added tokens beyond it are set as the converter sets
     * tokenizer_config.json's added_tokens_decoder entries. */
    for (size_t i = 0; !is_null(added) && i < added->u.list.n; i++) {
        const struct mill_value *a = &added->u.list.items[i];
        int64_t id;
        mill_value_as_int(mill_value_get(a, "id"), &id);
        const char *content = mill_value_as_str(mill_value_get(a, "content"));
        bool in_model = lookup(v, content) == id;
        if (in_model && get_flag(a, "special", false) && v->type[id] == T_NORMAL) {
            v->type[id] = T_CONTROL;
            v->score[id] = 0.0f;
        } else if (!in_model &&
                   set_added(v, id, content, get_flag(a, "special", false), -1000.0f, err)) {
            return MILL_ENOMEM;
        }
    }
    if (check_decoder(d, err))
        return err->code;
    const struct mill_value *dec = mill_value_get(d->tc, "added_tokens_decoder");
    for (size_t i = 0; !is_null(dec) && i < dec->u.obj.n; i++) {
        long long id = strtoll(dec->u.obj.keys[i], NULL, 10);
        const struct mill_value *e = &dec->u.obj.vals[i];
        if (id < v->n && set_added(v, id, mill_value_as_str(mill_value_get(e, "content")),
                                   get_flag(e, "special", false), -1000.0f, err))
            return MILL_ENOMEM;
    }
    return MILL_OK;
}

/* One merge's two sides into a / b (owned by the caller), from "a b" or ["a", "b"]. */
static int merge_sides(const struct mill_value *m, size_t k, char **a, char **b,
                       struct mill_err *err) {
    *a = *b = NULL;
    if (m->kind == MILL_V_STR) {
        const char *sp = strchr(m->u.s.p, ' ');
        if (!sp || strchr(sp + 1, ' ') || sp == m->u.s.p || !sp[1])
            return mill_err_set(err, MILL_EFORMAT,
                                "tokenizer.json: model.merges[%zu]: '%s' is not two tokens "
                                "separated by one space",
                                k, m->u.s.p);
        *a = strndup(m->u.s.p, (size_t)(sp - m->u.s.p));
        *b = strdup(sp + 1);
    } else if (m->kind == MILL_V_LIST && m->u.list.n == 2 &&
               mill_value_as_str(&m->u.list.items[0]) && mill_value_as_str(&m->u.list.items[1])) {
        *a = strdup(m->u.list.items[0].u.s.p);
        *b = strdup(m->u.list.items[1].u.s.p);
    } else {
        return mill_err_set(err, MILL_EFORMAT,
                            "tokenizer.json: model.merges[%zu]: neither \"a b\" nor [\"a\", \"b\"]",
                            k);
    }
    return *a && *b ? MILL_OK : oom(err);
}

/* s with each space written as U+0120 (SpecialVocab does so for the pair format). */
static char *escape_spaces(const char *s) {
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == ' ' ? 2 : 1;
    char *out = malloc(n + 1), *o = out;
    for (const char *p = s; out && *p; p++) {
        if (*p == ' ') {
            memcpy(o, SPACE_ESC, 2);
            o += 2;
        } else {
            *o++ = *p;
        }
    }
    if (out)
        *o = 0;
    return out;
}

/* Reads one merge: both sides and their concatenation must be model.vocab tokens (HF's BPE
 * refuses the file otherwise). Keeps the GGUF string; gives the rank to the merged token's score
 * when it has none yet (SPM kind). */
static int read_merge(struct vocab *v, const struct mill_value *m, size_t k, enum kind kind,
                      float *first, struct mill_err *err) {
    char *a, *b, *ab = NULL;
    int rc = merge_sides(m, k, &a, &b, err);
    if (!rc && (!(ab = malloc(strlen(a) + strlen(b) + 1))))
        rc = oom(err);
    if (!rc) {
        memcpy(ab, a, strlen(a));
        memcpy(ab + strlen(a), b, strlen(b) + 1);
        const char *miss = lookup(v, a) < 0    ? a
                           : lookup(v, b) < 0  ? b
                           : lookup(v, ab) < 0 ? ab
                                               : NULL;
        if (miss)
            rc = mill_err_set(err, MILL_EFORMAT,
                              "tokenizer.json: model.merges[%zu]: '%s' is not in model.vocab", k,
                              miss);
    }
    if (!rc && kind == K_SPM) {
        int64_t id = lookup(v, ab);
        if (first[id] > 0.0f)
            first[id] = -(float)k;
    }
    if (!rc && kind == K_GPT2) {
        char *ea = m->kind == MILL_V_LIST ? escape_spaces(a) : strdup(a);
        char *eb = m->kind == MILL_V_LIST ? escape_spaces(b) : strdup(b);
        char *s = ea && eb ? malloc(strlen(ea) + strlen(eb) + 2) : NULL;
        if (s)
            snprintf(s, strlen(ea) + strlen(eb) + 2, "%s %s", ea, eb);
        free(ea);
        free(eb);
        if (!s)
            rc = oom(err);
        else
            v->merges[v->n_merges++] = s;
    }
    free(a);
    free(b);
    free(ab);
    return rc;
}

static int load_merges(const struct docs *d, struct vocab *v, enum kind kind,
                       struct mill_err *err) {
    const struct mill_value *ms = mill_value_get(mill_value_get(d->tok, "model"), "merges");
    if (!ms || ms->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT, "tokenizer.json: model.merges: not a list");
    float *first = kind == K_SPM ? malloc((size_t)v->n * sizeof *first) : NULL;
    if (kind == K_GPT2 && ms->u.list.n && !(v->merges = malloc(ms->u.list.n * sizeof(char *))))
        return oom(err);
    if (kind == K_SPM && !first)
        return oom(err);
    for (int64_t i = 0; first && i < v->n; i++)
        first[i] = 1.0f; /* unset */
    int rc = MILL_OK;
    for (size_t k = 0; !rc && k < ms->u.list.n; k++)
        rc = read_merge(v, &ms->u.list.items[k], k, kind, first, err);
    /* A normal piece no merge makes (a single character) is never the pair llama.cpp looks up:
     * it ranks after every merge. */
    for (int64_t i = 0; !rc && first && i < v->n; i++)
        if (v->type[i] == T_NORMAL)
            v->score[i] = first[i] > 0.0f ? -(float)ms->u.list.n : first[i];
    free(first);
    return rc;
}

/* ---- SpecialVocab ---- */

struct specials {
    const char *content[N_SPECIAL]; /* tokenizer_config's <typ>_token (borrowed), or NULL */
    int64_t id[N_SPECIAL];          /* -1: unset */
    int add[N_SPECIAL];             /* -1: unset, else add_<typ>_token */
};

static const char *special_id_of(const struct mill_value *item) {
    return mill_value_as_str(mill_value_get(mill_value_get(item, "SpecialToken"), "id"));
}

static bool eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* TemplateProcessing's pair template: whether it adds a separator (SpecialVocab's rule), or -1
 * when it says nothing of one (no A ... B with something between). */
static int template_adds_sep(const struct mill_value *pair, const char *first, const char *last,
                             const struct specials *s) {
    size_t lo = 0, hi = pair->u.list.n;
    if (first && hi && eq(special_id_of(&pair->u.list.items[0]), first))
        lo = 1;
    if (last && hi > lo && eq(special_id_of(&pair->u.list.items[hi - 1]), last))
        hi--;
    const char *a = hi > lo ? mill_value_as_str(mill_value_get(
                                  mill_value_get(&pair->u.list.items[lo], "Sequence"), "id"))
                            : NULL;
    const char *b = hi > lo ? mill_value_as_str(mill_value_get(
                                  mill_value_get(&pair->u.list.items[hi - 1], "Sequence"), "id"))
                            : NULL;
    if (hi - lo < 3 || !eq(a, "A") || !eq(b, "B"))
        return -1;
    const struct mill_value *mid = &pair->u.list.items[lo + 1];
    const char *sep = s->content[3], *eos = s->content[1];
    const char *e = special_id_of(mid);
    bool add = e && (eq(e, sep) || eq(e, eos)) && !last;
    if (hi - lo - 2 == 2) { /* gguf-py only ever sets it at the second: a true stays true */
        const char *e2 = special_id_of(&pair->u.list.items[lo + 2]);
        add = add || (e2 && (eq(e2, sep) || eq(e2, eos)));
    }
    return add;
}

/* One TemplateProcessing post-processor: add_bos / add_eos / add_sep and, with a
 * tokenizer_config.json, the bos/cls it names. */
static int template_specials(const struct mill_value *p, bool have_tc, struct specials *s,
                             struct mill_err *err) {
    const struct mill_value *single = mill_value_get(p, "single");
    const struct mill_value *pair = mill_value_get(p, "pair");
    const char *first = NULL, *last = NULL;
    if (single && single->kind == MILL_V_LIST && single->u.list.n > 1) {
        first = special_id_of(&single->u.list.items[0]);
        last = special_id_of(&single->u.list.items[single->u.list.n - 1]);
        if (first) {
            if (!have_tc) {
                s->content[0] = first;
            } else if (!eq(first, s->content[0]) && !eq(first, s->content[5])) {
                s->content[0] = s->content[0] ? s->content[0] : first;
                s->content[5] = s->content[5] ? s->content[5] : first;
            }
            s->add[0] = eq(first, s->content[0]) || eq(first, s->content[5]);
        }
        if (last) {
            if (!have_tc)
                s->content[1] = last;
            else if (!eq(last, s->content[1]))
                return mill_err_set(err, MILL_EUNSUPPORTED,
                                    "tokenizer.json: post_processor: the trailing special token "
                                    "'%s' is not tokenizer_config.json's eos_token",
                                    last);
            s->add[1] = 1;
        }
    }
    if (pair && pair->kind == MILL_V_LIST && pair->u.list.n)
        s->add[3] = template_adds_sep(pair, first, last, s);
    return MILL_OK;
}

/* Special ids and add_* flags (gguf-py SpecialVocab._try_load_from_tokenizer_json and
 * _try_load_from_config_json). */
static int load_specials(const struct docs *d, bool bounded, int64_t n_vocab, struct specials *s,
                         struct mill_err *err) {
    for (int i = 0; i < N_SPECIAL; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", SPECIAL_TYPES[i]);
        const struct mill_value *e = mill_value_get(d->tc, key);
        s->content[i] = e && e->kind == MILL_V_STRUCT
                            ? mill_value_as_str(mill_value_get(e, "content"))
                            : mill_value_as_str(e);
        s->id[i] = -1;
        s->add[i] = -1;
    }
    if (d->tc && !s->content[0] && s->content[5])
        s->content[0] = s->content[5];
    if (d->tc && !s->content[1] && s->content[3])
        s->content[1] = s->content[3];
    const struct mill_value *pp = mill_value_get(d->tok, "post_processor");
    const struct mill_value *procs = mill_value_get(pp, "processors");
    size_t n = procs && procs->kind == MILL_V_LIST ? procs->u.list.n : !is_null(pp);
    for (size_t i = 0; i < n; i++) {
        const struct mill_value *p =
            procs && procs->kind == MILL_V_LIST ? &procs->u.list.items[i] : pp;
        const char *type = mill_value_as_str(mill_value_get(p, "type"));
        if (eq(type, "RobertaProcessing"))
            return mill_err_set(err, MILL_EUNSUPPORTED,
                                "tokenizer.json: post_processor: RobertaProcessing (an encoder's "
                                "tokenizer) is not supported");
        if (eq(type, "TemplateProcessing") && template_specials(p, d->tc != NULL, s, err))
            return err->code;
    }
    if (!d->tc)
        goto config;
    const struct mill_value *added = mill_value_get(d->tok, "added_tokens");
    for (int i = 0; i < N_SPECIAL; i++) {
        char key[32];
        snprintf(key, sizeof key, "add_%s_token", SPECIAL_TYPES[i]);
        const struct mill_value *a = mill_value_get(d->tc, key);
        if (a && a->kind == MILL_V_BOOL)
            s->add[i] = a->u.b;
        for (size_t j = 0; s->content[i] && !is_null(added) && j < added->u.list.n; j++) {
            const struct mill_value *t = &added->u.list.items[j];
            if (eq(mill_value_as_str(mill_value_get(t, "content")), s->content[i])) {
                int64_t id;
                mill_value_as_int(mill_value_get(t, "id"), &id);
                if (!bounded || id < n_vocab)
                    s->id[i] = id;
                break;
            }
        }
    }
config:
    for (int i = 0; d->cfg && i < N_SPECIAL; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", SPECIAL_TYPES[i]);
        const struct mill_value *v = mill_value_get(d->cfg, key);
        if (is_null(v))
            v = mill_value_get(mill_value_get(d->cfg, "text_config"), key);
        int64_t id;
        if (s->id[i] < 0 && v && v->kind == MILL_V_INT && !mill_value_as_int(v, &id)) {
            if (id < 0)
                return mill_err_set(err, MILL_EFORMAT, "config.json: %s: negative", key);
            if (!bounded || id < n_vocab)
                s->id[i] = id;
        }
    }
    return MILL_OK;
}

/* tokenizer_config.json's chat_template, else chat_template.jinja's or chat_template.json's: a
 * string, or a list of {name, template} (the default one as tokenizer.chat_template, the
 * others by name). */
static int set_chat_template(const struct docs *d, struct gguf_context *ctx, struct mill_err *err) {
    const struct mill_value *t = mill_value_get(d->tc, "chat_template");
    if (!d->tc)
        return MILL_OK; /* SpecialVocab reads no template without tokenizer_config.json */
    if (is_null(t) && d->template_alt) {
        gguf_set_val_str(ctx, "tokenizer.chat_template", d->template_alt);
        return MILL_OK;
    }
    if (is_null(t))
        return MILL_OK;
    if (t->kind == MILL_V_STR) {
        gguf_set_val_str(ctx, "tokenizer.chat_template", t->u.s.p);
        return MILL_OK;
    }
    if (t->kind != MILL_V_LIST)
        return mill_err_set(err, MILL_EFORMAT,
                            "tokenizer_config.json: chat_template: not a string or a list");
    const char **names = calloc(t->u.list.n + 1, sizeof *names);
    size_t n_names = 0;
    char *keys = malloc(t->u.list.n * 256 + 1);
    if (!names || !keys) {
        free(names);
        free(keys);
        return mill_err_set(err, MILL_ENOMEM, "tokenizer_config.json: out of memory");
    }
    for (size_t i = 0; i < t->u.list.n; i++) {
        const char *name = mill_value_as_str(mill_value_get(&t->u.list.items[i], "name"));
        const char *tmpl = mill_value_as_str(mill_value_get(&t->u.list.items[i], "template"));
        if (!name || !*name || !tmpl)
            continue;
        char *clean = keys + i * 256;
        size_t k = 0;
        for (; name[k] && k < 200; k++)
            clean[k] = (name[k] >= 'a' && name[k] <= 'z') || (name[k] >= 'A' && name[k] <= 'Z') ||
                               (name[k] >= '0' && name[k] <= '9')
                           ? name[k]
                           : '_';
        clean[k] = 0;
        if (!strcmp(clean, "default")) {
            gguf_set_val_str(ctx, "tokenizer.chat_template", tmpl);
            continue;
        }
        char key[256 + 32];
        snprintf(key, sizeof key, "tokenizer.chat_template.%s", clean);
        gguf_set_val_str(ctx, key, tmpl);
        names[n_names++] = clean;
    }
    if (n_names)
        gguf_set_arr_str(ctx, "tokenizer.chat_templates", names, n_names);
    free(names);
    free(keys);
    return MILL_OK;
}

/* ---- writing ---- */

static int convert(const struct docs *d, struct gguf_context *ctx, struct mill_err *err) {
    enum kind kind = K_GPT2;
    const char *pre = "default";
    struct vocab v = {0};
    struct specials s;
    bool space_prefix = true;
    int rc = identify(d, &kind, &pre, &space_prefix, err);
    if (!rc)
        rc = load_tokens(d, &v, err);
    if (!rc)
        rc = load_merges(d, &v, kind, err);
    if (!rc)
        rc = kind == K_GPT2 ? types_gpt2(d, &v, err) : types_spm(d, &v, err);
    if (!rc)
        rc = load_specials(d, kind == K_SPM, v.n, &s, err);
    if (!rc)
        rc = set_chat_template(d, ctx, err);
    if (rc) {
        vocab_free(&v);
        return rc;
    }
    gguf_set_val_str(ctx, "tokenizer.ggml.model", kind == K_GPT2 ? "gpt2" : "llama");
    gguf_set_val_str(ctx, "tokenizer.ggml.pre", pre);
    gguf_set_arr_str(ctx, "tokenizer.ggml.tokens", (const char **)v.text, (size_t)v.n);
    if (kind == K_SPM)
        gguf_set_arr_data(ctx, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v.score, (size_t)v.n);
    if (kind == K_SPM && !space_prefix) /* llama.cpp's default is true */
        gguf_set_val_bool(ctx, "tokenizer.ggml.add_space_prefix", false);
    gguf_set_arr_data(ctx, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.type, (size_t)v.n);
    if (kind == K_GPT2 && v.n_merges) /* SpecialVocab writes no empty merges */
        gguf_set_arr_str(ctx, "tokenizer.ggml.merges", (const char **)v.merges, (size_t)v.n_merges);
    for (int i = 0; i < N_SPECIAL; i++)
        if (SPECIAL_KEYS[i] && s.id[i] >= 0)
            gguf_set_val_u32(ctx, SPECIAL_KEYS[i], (uint32_t)s.id[i]);
    static const char *const ADD_KEYS[] = {"tokenizer.ggml.add_bos_token",
                                           "tokenizer.ggml.add_eos_token", NULL,
                                           "tokenizer.ggml.add_sep_token"};
    for (int i = 0; i < 4; i++)
        if (ADD_KEYS[i] && s.add[i] >= 0)
            gguf_set_val_bool(ctx, ADD_KEYS[i], s.add[i] != 0);
    vocab_free(&v);
    return MILL_OK;
}

/* chat_template.json's "chat_template" (gguf-py's fall-back after chat_template.jinja) into
 * *out, NULL when the file or the string is not there. */
static int template_json(const char *dir, char **out, struct mill_err *err) {
    struct mill_value v;
    bool have;
    *out = NULL;
    int rc = read_json(dir, "chat_template.json", CFG_FILE_MAX, true, &v, &have, err);
    if (rc || !have)
        return rc;
    const char *t = mill_value_as_str(mill_value_get(&v, "chat_template"));
    if (t && !(*out = strdup(t)))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    mill_value_free(&v);
    return rc;
}

int mill_hf_tokenizer_to_gguf(const char *dir, struct gguf_context *ctx, struct mill_err *err) {
    struct mill_value tok, tc, cfg;
    bool have_tok, have_tc, have_cfg;
    struct docs d = {&tok, NULL, NULL, NULL};
    int rc = read_json(dir, "tokenizer.json", TOK_FILE_MAX, false, &tok, &have_tok, err);
    mill_value_null(&tc);
    mill_value_null(&cfg);
    if (!rc)
        rc = read_json(dir, "tokenizer_config.json", CFG_FILE_MAX, true, &tc, &have_tc, err);
    if (!rc)
        rc = read_json(dir, "config.json", CFG_FILE_MAX, true, &cfg, &have_cfg, err);
    if (!rc) {
        char path[4096];
        size_t n;
        snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
        rc = mill_model_read_file(path, CFG_FILE_MAX, &d.template_alt, &n, err);
        if (rc == MILL_ENOTFOUND)
            rc = template_json(dir, &d.template_alt, err);
        d.tc = have_tc && tc.kind == MILL_V_STRUCT ? &tc : NULL;
        d.cfg = have_cfg && cfg.kind == MILL_V_STRUCT ? &cfg : NULL;
    }
    if (!rc && tok.kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EFORMAT, "tokenizer.json: not a JSON object");
    if (!rc && (rc = convert(&d, ctx, err)))
        mill_err_prefix(err, "%s", dir);
    free(d.template_alt);
    mill_value_free(&tok);
    mill_value_free(&tc);
    mill_value_free(&cfg);
    return rc;
}

int mill_hf_tokenizer_check(const char *tokenizer_json, size_t n_tok, const char *config_json,
                            size_t n_config, const char *tokenizer_config_json, size_t n_tc,
                            struct mill_err *err) {
    struct mill_value tok, tc, cfg;
    mill_value_null(&tc);
    mill_value_null(&cfg);
    struct docs d = {&tok, NULL, NULL, NULL};
    int rc = mill_value_from_json(&tok, tokenizer_json, n_tok, err);
    if (!rc && config_json && !(rc = mill_value_from_json(&cfg, config_json, n_config, err)))
        d.cfg = cfg.kind == MILL_V_STRUCT ? &cfg : NULL;
    if (!rc && tokenizer_config_json &&
        !(rc = mill_value_from_json(&tc, tokenizer_config_json, n_tc, err)))
        d.tc = tc.kind == MILL_V_STRUCT ? &tc : NULL;
    if (!rc && tok.kind != MILL_V_STRUCT)
        rc = mill_err_set(err, MILL_EFORMAT, "tokenizer.json: not a JSON object");
    struct gguf_context *ctx = rc ? NULL : gguf_init_empty();
    if (!rc && !ctx)
        rc = mill_err_set(err, MILL_ENOMEM, "gguf_init_empty failed");
    if (!rc)
        rc = convert(&d, ctx, err);
    if (ctx)
        gguf_free(ctx);
    mill_value_free(&tok);
    mill_value_free(&tc);
    mill_value_free(&cfg);
    return rc;
}
