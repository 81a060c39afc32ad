/* clap_tok.c: the byte-level BPE tokenizer of clap_tok.h (GPT-2's scheme, as RoBERTa uses it).
 *
 * Symbols are vocabulary ids from the start: each byte maps to the id of its printable code
 * point, and a merge (a, b) is a pair of ids with a rank and the id of a + b, both held in open-
 * addressing hash tables built at load. A word is merged by repeatedly joining every occurrence
 * of its lowest-ranked adjacent pair, left to right, until none has a rank (GPT-2's bpe()).
 * Must not keep global state, trust a length read from a file, or print. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/clap/clap_tok.h"
#include "model/file.h"

#include <mill/value.h>

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2's pre-tokenisation pattern (encoder.py), with Unicode properties. */
static const char PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

#define WORD_MAX 4096 /* a pre-token longer than this many bytes is split into chunks */

struct str_slot {
    char *s; /* owned, NULL when empty */
    int32_t id;
};

struct pair_slot {
    uint64_t key; /* (a << 32 | b) + 1; 0 when empty */
    int32_t rank, merged;
};

struct mill_clap_tok {
    struct str_slot *vocab;
    size_t vocab_cap; /* a power of two */
    struct pair_slot *pairs;
    size_t pairs_cap;
    int32_t byte_id[256];
    int32_t bos, eos, pad, unk; /* unk -1 when the vocabulary has none */
    int max_length;
    pcre2_code *re;
};

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ (x >> 33);
}

static struct str_slot *vocab_slot(const struct mill_clap_tok *t, const char *s, size_t n) {
    size_t i = fnv(s, n) & (t->vocab_cap - 1);
    while (t->vocab[i].s && !(strlen(t->vocab[i].s) == n && !memcmp(t->vocab[i].s, s, n)))
        i = (i + 1) & (t->vocab_cap - 1);
    return &t->vocab[i];
}

static int32_t vocab_get(const struct mill_clap_tok *t, const char *s, size_t n) {
    const struct str_slot *sl = vocab_slot(t, s, n);
    return sl->s ? sl->id : -1;
}

static struct pair_slot *pair_slot(const struct mill_clap_tok *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = mix(key) & (t->pairs_cap - 1);
    while (t->pairs[i].key && t->pairs[i].key != key)
        i = (i + 1) & (t->pairs_cap - 1);
    return &t->pairs[i];
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < 2 * n)
        c <<= 1;
    return c;
}

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to 256 + k. */
static uint32_t byte_char(int b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return (uint32_t)b;
    int k = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
            k++;
    return 256u + (uint32_t)k;
}

static size_t utf8_put(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2; /* byte_char() never exceeds 0x7FF */
}

/* Fills the vocabulary table from a JSON object {token: id}. */
static int load_vocab(struct mill_clap_tok *t, const struct mill_value *v, const char *name,
                      struct mill_err *err) {
    if (!v || v->kind != MILL_V_STRUCT || v->u.obj.n == 0 || v->u.obj.n > (1u << 24))
        return mill_err_set(err, MILL_EFORMAT, "%s: the vocabulary is not a non-empty object",
                            name);
    t->vocab_cap = pow2_at_least(v->u.obj.n);
    if (!(t->vocab = calloc(t->vocab_cap, sizeof *t->vocab)))
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const char *key = v->u.obj.keys[i];
        int64_t id;
        if (mill_value_as_int(&v->u.obj.vals[i], &id) || id < 0 || id >= (1 << 24))
            return mill_err_set(err, MILL_EFORMAT, "%s: vocabulary entry '%.40s' has no valid id",
                                name, key);
        struct str_slot *sl = vocab_slot(t, key, strlen(key));
        if (sl->s)
            return mill_err_set(err, MILL_EFORMAT, "%s: token '%.40s' appears twice", name, key);
        if (!(sl->s = strdup(key)))
            return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
        sl->id = (int32_t)id;
    }
    return MILL_OK;
}

/* Adds merge number rank, "a b" (n bytes at s, no NUL needed). */
static int add_merge(struct mill_clap_tok *t, const char *s, size_t n, int32_t rank,
                     const char *name, struct mill_err *err) {
    const char *sp = memchr(s, ' ', n);
    char joined[512];
    if (!sp || sp == s || sp == s + n - 1 || n >= sizeof joined)
        return mill_err_set(err, MILL_EFORMAT, "%s: merge %d is not two symbols", name, rank);
    size_t la = (size_t)(sp - s), lb = n - la - 1;
    memcpy(joined, s, la);
    memcpy(joined + la, sp + 1, lb);
    int32_t a = vocab_get(t, s, la), b = vocab_get(t, sp + 1, lb),
            ab = vocab_get(t, joined, la + lb);
    if (a < 0 || b < 0 || ab < 0)
        return mill_err_set(err, MILL_EFORMAT,
                            "%s: merge %d ('%.*s') has a symbol outside the "
                            "vocabulary",
                            name, rank, (int)(n < 80 ? n : 80), s);
    struct pair_slot *p = pair_slot(t, a, b);
    if (!p->key) /* a repeated merge keeps its first (lowest) rank */
        *p = (struct pair_slot){((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1, rank, ab};
    return MILL_OK;
}

static int load_merges_json(struct mill_clap_tok *t, const struct mill_value *m, const char *name,
                            struct mill_err *err) {
    if (!m || m->kind != MILL_V_LIST || m->u.list.n > (1u << 24))
        return mill_err_set(err, MILL_EFORMAT, "%s: model.merges is not a list", name);
    t->pairs_cap = pow2_at_least(m->u.list.n);
    if (!(t->pairs = calloc(t->pairs_cap, sizeof *t->pairs)))
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < m->u.list.n; i++) {
        const struct mill_value *e = &m->u.list.items[i];
        char buf[512];
        const char *s = buf;
        size_t n;
        if (e->kind == MILL_V_STR) {
            s = e->u.s.p;
            n = e->u.s.n;
        } else if (e->kind == MILL_V_LIST && e->u.list.n == 2 &&
                   e->u.list.items[0].kind == MILL_V_STR && e->u.list.items[1].kind == MILL_V_STR) {
            int k = snprintf(buf, sizeof buf, "%s %s", e->u.list.items[0].u.s.p,
                             e->u.list.items[1].u.s.p);
            n = k < 0 || (size_t)k >= sizeof buf ? sizeof buf : (size_t)k;
        } else {
            return mill_err_set(err, MILL_EFORMAT, "%s: merge %zu is neither \"a b\" nor [a, b]",
                                name, i);
        }
        int rc = add_merge(t, s, n, (int32_t)i, name, err);
        if (rc)
            return rc;
    }
    return MILL_OK;
}

/* merges.txt: an optional "#version" line, then one "a b" per line. */
static int load_merges_txt(struct mill_clap_tok *t, const char *text, size_t n, const char *name,
                           struct mill_err *err) {
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    t->pairs_cap = pow2_at_least(lines);
    if (!(t->pairs = calloc(t->pairs_cap, sizeof *t->pairs)))
        return mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
    int32_t rank = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        if (len && text[at + len - 1] == '\r')
            len--;
        bool skip = len == 0 || (rank == 0 && len >= 8 && !memcmp(text + at, "#version", 8));
        if (!skip) {
            int rc = add_merge(t, text + at, len, rank++, name, err);
            if (rc)
                return rc;
        }
        at += (nl ? (size_t)(nl - (text + at)) : n - at) + 1;
    }
    return MILL_OK;
}

/* The byte table, the special ids and the pattern. */
static int finish(struct mill_clap_tok *t, const char *name, struct mill_err *err) {
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t k = utf8_put(byte_char(b), u);
        if ((t->byte_id[b] = vocab_get(t, u, k)) < 0)
            return mill_err_set(err, MILL_EFORMAT, "%s: byte 0x%02x has no token", name, b);
    }
    t->bos = vocab_get(t, "<s>", 3);
    t->eos = vocab_get(t, "</s>", 4);
    t->pad = vocab_get(t, "<pad>", 5);
    t->unk = vocab_get(t, "<unk>", 5);
    if (t->bos < 0 || t->eos < 0 || t->pad < 0)
        return mill_err_set(err, MILL_EFORMAT, "%s: the vocabulary lacks <s>, </s> or <pad>", name);
    int ec;
    PCRE2_SIZE eo;
    t->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (!t->re)
        return mill_err_set(err, MILL_EUNSUPPORTED, "clap tokenizer: PCRE2 error %d", ec);
    return MILL_OK;
}

static int read_json(const char *path, struct mill_value *v, struct mill_err *err) {
    char *buf = NULL;
    size_t n = 0;
    int rc = mill_model_read_file(path, MILL_CLAP_TOK_FILE_MAX, &buf, &n, err);
    if (!rc && (rc = mill_value_from_json(v, buf, n, err)))
        mill_err_prefix(err, "%s: ", path);
    free(buf);
    return rc;
}

static struct mill_clap_tok *tok_new(int max_length) {
    struct mill_clap_tok *t = calloc(1, sizeof *t);
    if (t)
        t->max_length = max_length;
    return t;
}

int mill_clap_tok_parse_json(const char *json, size_t n, const char *name, int max_length,
                             struct mill_clap_tok **out, struct mill_err *err) {
    *out = NULL;
    struct mill_value v;
    int rc = mill_value_from_json(&v, json, n, err);
    if (rc) {
        mill_err_prefix(err, "%s: ", name);
        return rc;
    }
    struct mill_clap_tok *t = tok_new(max_length);
    const struct mill_value *model = mill_value_get(&v, "model");
    const char *type = mill_value_as_str(mill_value_get(model, "type"));
    if (!t)
        rc = mill_err_set(err, MILL_ENOMEM, "%s: out of memory", name);
    else if (!model || (type && strcmp(type, "BPE") != 0))
        rc = mill_err_set(err, MILL_EUNSUPPORTED, "%s: model.type is not BPE", name);
    if (!rc)
        rc = load_vocab(t, mill_value_get(model, "vocab"), name, err);
    if (!rc)
        rc = load_merges_json(t, mill_value_get(model, "merges"), name, err);
    if (!rc)
        rc = finish(t, name, err);
    mill_value_free(&v);
    if (rc) {
        mill_clap_tok_free(t);
        return rc;
    }
    *out = t;
    return MILL_OK;
}

int mill_clap_tok_parse_txt(const char *vocab_json, size_t nv, const char *merges, size_t nm,
                            const char *name, int max_length, struct mill_clap_tok **out,
                            struct mill_err *err) {
    *out = NULL;
    struct mill_value v;
    int rc = mill_value_from_json(&v, vocab_json, nv, err);
    if (rc) {
        mill_err_prefix(err, "%s: vocab: ", name);
        return rc;
    }
    struct mill_clap_tok *t = tok_new(max_length);
    rc = t ? load_vocab(t, &v, name, err) : mill_err_set(err, MILL_ENOMEM, "out of memory");
    mill_value_free(&v);
    if (!rc)
        rc = load_merges_txt(t, merges, nm, name, err);
    if (!rc)
        rc = finish(t, name, err);
    if (rc) {
        mill_clap_tok_free(t);
        return rc;
    }
    *out = t;
    return MILL_OK;
}

/* tokenizer_config.json's model_max_length, capped (HF writes 1e30 for "none"). */
static int max_length_of(const char *dir, struct mill_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    struct mill_value v;
    struct mill_err e2 = {0};
    if (read_json(path, &v, &e2))
        return 512;
    const struct mill_value *m = mill_value_get(&v, "model_max_length");
    double d = !m                        ? 512
               : m->kind == MILL_V_INT   ? (double)m->u.i
               : m->kind == MILL_V_FLOAT ? m->u.f
                                         : 512;
    mill_value_free(&v);
    (void)err;
    return d >= 2 && d < 1e6 ? (int)d : 1000000;
}

int mill_clap_tok_load(const char *dir, struct mill_clap_tok **out, struct mill_err *err) {
    *out = NULL;
    char path[4096], *buf = NULL;
    size_t n = 0;
    int max_length = max_length_of(dir, err);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = mill_model_read_file(path, MILL_CLAP_TOK_FILE_MAX, &buf, &n, err);
    if (!rc) {
        rc = mill_clap_tok_parse_json(buf, n, path, max_length, out, err);
        free(buf);
        return rc;
    }
    if (rc != MILL_ENOTFOUND)
        return rc;
    char *merges = NULL;
    size_t nm = 0;
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    rc = mill_model_read_file(path, MILL_CLAP_TOK_FILE_MAX, &buf, &n, err);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    if (!rc)
        rc = mill_model_read_file(path, MILL_CLAP_TOK_FILE_MAX, &merges, &nm, err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/vocab.json + merges.txt", dir);
        rc = mill_clap_tok_parse_txt(buf, n, merges, nm, path, max_length, out, err);
    } else if (rc == MILL_ENOTFOUND) {
        mill_err_set(err, rc, "%s: no tokenizer.json nor vocab.json + merges.txt", dir);
    }
    free(buf);
    free(merges);
    return rc;
}

void mill_clap_tok_free(struct mill_clap_tok *t) {
    if (!t)
        return;
    for (size_t i = 0; t->vocab && i < t->vocab_cap; i++)
        free(t->vocab[i].s);
    free(t->vocab);
    free(t->pairs);
    if (t->re)
        pcre2_code_free(t->re);
    free(t);
}

int mill_clap_tok_max_length(const struct mill_clap_tok *t) { return t->max_length; }
int32_t mill_clap_tok_pad_id(const struct mill_clap_tok *t) { return t->pad; }

/* BPE of n bytes at s into sym (n slots); returns the symbol count. */
static size_t bpe(const struct mill_clap_tok *t, const unsigned char *s, size_t n, int32_t *sym) {
    for (size_t i = 0; i < n; i++)
        sym[i] = t->byte_id[s[i]];
    while (n > 1) {
        int32_t best = INT32_MAX;
        const struct pair_slot *bp = NULL;
        for (size_t i = 0; i + 1 < n; i++) {
            const struct pair_slot *p = pair_slot(t, sym[i], sym[i + 1]);
            if (p->key && p->rank < best)
                best = p->rank, bp = p;
        }
        if (!bp)
            break;
        int32_t a = (int32_t)((bp->key - 1) >> 32), b = (int32_t)((bp->key - 1) & 0xffffffffu);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == a && sym[i + 1] == b) {
                sym[o++] = bp->merged;
                i++;
            } else {
                sym[o++] = sym[i];
            }
        }
        n = o;
    }
    return n;
}

/* Appends the ids of the piece s[0..n) to ids (room for cap), returning the new count. */
static int add_piece(const struct mill_clap_tok *t, const char *s, size_t n, int32_t *ids, int k,
                     int cap, int32_t *sym) {
    for (size_t at = 0; at < n && k < cap; at += WORD_MAX) {
        size_t len = n - at < WORD_MAX ? n - at : WORD_MAX;
        size_t m = bpe(t, (const unsigned char *)s + at, len, sym);
        for (size_t i = 0; i < m && k < cap; i++)
            ids[k++] = sym[i];
    }
    return k;
}

int mill_clap_tok_encode(const struct mill_clap_tok *t, const char *text, int32_t *ids, int cap,
                         int *n, struct mill_err *err) {
    *n = 0;
    if (cap < 2)
        return mill_err_set(err, MILL_EINVAL, "clap tokenizer: room for %d ids", cap);
    if (cap > t->max_length)
        cap = t->max_length;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
    int32_t *sym = malloc(WORD_MAX * sizeof *sym);
    if (!md || !sym) {
        pcre2_match_data_free(md);
        free(sym);
        return mill_err_set(err, MILL_ENOMEM, "clap tokenizer: out of memory");
    }
    size_t len = strlen(text), off = 0;
    int k = 0;
    ids[k++] = t->bos;
    while (off < len && k < cap - 1) {
        int m = pcre2_match(t->re, (PCRE2_SPTR)text, len, off, 0, md, NULL);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t start = m > 0 ? ov[0] : len, end = m > 0 ? ov[1] : len;
        /* Bytes no match covers (invalid UTF-8) are encoded one by one, as byte pieces. */
        for (size_t i = off; i < start && k < cap - 1; i++)
            k = add_piece(t, text + i, 1, ids, k, cap - 1, sym);
        if (m > 0 && end > start)
            k = add_piece(t, text + start, end - start, ids, k, cap - 1, sym);
        off = end > off ? end : off + 1;
    }
    ids[k++] = t->eos;
    *n = k;
    pcre2_match_data_free(md);
    free(sym);
    return MILL_OK;
}
