/* gen_clap: writes a random-weight CLAP checkpoint in Hugging Face's ClapModel layout for Mill's
 * tests and benchmarks: config.json, model.safetensors (F32), preprocessor_config.json
 * (rand_trunc, repeatpad) and a byte-level BPE tokenizer (tokenizer.json and/or vocab.json +
 * merges.txt, tokenizer_config.json) trained on a small built-in corpus of captions.
 *
 * The structure is the real one (HTSAT: mel batch norm, patch embedding + norm, Swin stages with
 * relative position bias tables, patch merging, final norm; RoBERTa: embeddings with
 * token_type and position tables, post-LN layers, pooler; both projections; logit_scale_a/t),
 * with the buffers a real checkpoint carries (position_ids, token_type_ids,
 * relative_position_index, num_batches_tracked). Weights are seeded uniform noise: Linear and
 * conv std fan_in^-0.5, embeddings 0.02, biases 0.02, norm weights 1 +- 0.05, batch-norm running
 * variance in [0.5, 1.5]. Good for exercising code and timing, never for scores. Same arguments
 * give byte-identical files. It writes nothing but under --out.
 *
 * Usage: gen_clap --out DIR [--preset tiny|unfused] [--tokenizer json|txt|both] [--seed N]
 * tiny: 16 mel bins, spec 64, patch 4, embed 8, depths [2, 2, 2], heads [2, 2, 4], window 4,
 *       text 16 wide x 2 layers, 40 positions (model_max_length 38), projection 12, 2 s clips.
 * unfused: laion/clap-htsat-unfused's shapes (the vocabulary padded to 50265 ids).
 * Exit: 0 ok, 1 error, 2 usage error. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOOL_NAME "gen_clap"
#include "tool_args.h"

#define MAX_T 4096
#define MAX_MERGES 4096

struct shape {
    int n_mels, spec, patch, embed, n_stages, depths[4], heads[4], window;
    int vocab, hidden, layers, text_heads, mlp, max_pos, proj, max_len_s, merges;
};

static const struct shape TINY = {16, 64, 4, 8,  3,  {2, 2, 2}, {2, 2, 4}, 4,  0,
                                  16, 2,  2, 32, 40, 12,        2,         300};
static const struct shape UNFUSED = {64,  256,   4,   96, 4,  {2, 2, 6, 2}, {4, 8, 16, 32},
                                     8,   50265, 768, 12, 12, 3072,         514,
                                     512, 10,    2000};

enum init {
    I_LINEAR,
    I_EMBED,
    I_BIAS,
    I_NORM,
    I_ONES_VAR,
    I_MEAN,
    I_I64_ARANGE,
    I_I64_ZERO,
    I_I64_RELIDX,
    I_SCALE
};

struct tensor {
    char name[128];
    int n_dims;
    int64_t shape[4];
    enum init init;
    float std;
    int window; /* I_I64_RELIDX */
};

struct list {
    struct tensor t[MAX_T];
    size_t n;
};

static void usage(FILE *f) {
    fprintf(f, "usage: gen_clap --out DIR [--preset tiny|unfused] [--tokenizer json|txt|both] "
               "[--seed N]\n");
}

static void add(struct list *l, enum init init, float std, int nd, const int64_t *shape,
                const char *fmt, ...) {
    if (l->n >= MAX_T)
        abort();
    struct tensor *t = &l->t[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->init = init;
    t->std = std;
    t->n_dims = nd;
    for (int i = 0; i < nd; i++)
        t->shape[i] = shape[i];
}

#define SH(...) ((const int64_t[]){__VA_ARGS__})

static void linear(struct list *l, const char *pre, int64_t in, int64_t out, bool bias) {
    add(l, I_LINEAR, (float)(1.0 / sqrt((double)in)), 2, SH(out, in), "%s.weight", pre);
    if (bias)
        add(l, I_BIAS, 0.02f, 1, SH(out), "%s.bias", pre);
}

static void norm(struct list *l, const char *pre, int64_t d) {
    add(l, I_NORM, 0.05f, 1, SH(d), "%s.weight", pre);
    add(l, I_BIAS, 0.02f, 1, SH(d), "%s.bias", pre);
}

static void audio(struct list *l, const struct shape *s) {
    char p[128];
    const char *enc = "audio_model.audio_encoder";
    add(l, I_NORM, 0.05f, 1, SH(s->n_mels), "%s.batch_norm.weight", enc);
    add(l, I_BIAS, 0.02f, 1, SH(s->n_mels), "%s.batch_norm.bias", enc);
    add(l, I_MEAN, 0.5f, 1, SH(s->n_mels), "%s.batch_norm.running_mean", enc);
    add(l, I_ONES_VAR, 0.5f, 1, SH(s->n_mels), "%s.batch_norm.running_var", enc);
    add(l, I_I64_ZERO, 0, 0, SH(0), "%s.batch_norm.num_batches_tracked", enc);
    add(l, I_LINEAR, 1.0f / s->patch, 4, SH(s->embed, 1, s->patch, s->patch),
        "%s.patch_embed.proj.weight", enc);
    add(l, I_BIAS, 0.02f, 1, SH(s->embed), "%s.patch_embed.proj.bias", enc);
    snprintf(p, sizeof p, "%s.patch_embed.norm", enc);
    norm(l, p, s->embed);
    int64_t dim = s->embed, w = s->window, nrel = (2 * w - 1) * (2 * w - 1);
    for (int st = 0; st < s->n_stages; st++, dim *= 2) {
        for (int b = 0; b < s->depths[st]; b++) {
            char q[160];
            snprintf(p, sizeof p, "%s.layers.%d.blocks.%d", enc, st, b);
            snprintf(q, sizeof q, "%s.layernorm_before", p);
            norm(l, q, dim);
            add(l, I_EMBED, 0.5f, 2, SH(nrel, s->heads[st]),
                "%s.attention.self.relative_position_bias_table", p);
            add(l, I_I64_RELIDX, 0, 2, SH(w * w, w * w),
                "%s.attention.self.relative_position_index", p);
            l->t[l->n - 1].window = (int)w;
            const char *qkv[] = {"query", "key", "value"};
            for (int i = 0; i < 3; i++) {
                snprintf(q, sizeof q, "%s.attention.self.%s", p, qkv[i]);
                linear(l, q, dim, dim, true);
            }
            snprintf(q, sizeof q, "%s.attention.output.dense", p);
            linear(l, q, dim, dim, true);
            snprintf(q, sizeof q, "%s.layernorm_after", p);
            norm(l, q, dim);
            snprintf(q, sizeof q, "%s.intermediate.dense", p);
            linear(l, q, dim, 4 * dim, true);
            snprintf(q, sizeof q, "%s.output.dense", p);
            linear(l, q, 4 * dim, dim, true);
        }
        if (st + 1 < s->n_stages) {
            snprintf(p, sizeof p, "%s.layers.%d.downsample.reduction", enc, st);
            linear(l, p, 4 * dim, 2 * dim, false);
            snprintf(p, sizeof p, "%s.layers.%d.downsample.norm", enc, st);
            norm(l, p, 4 * dim);
        }
    }
    dim /= 2;
    snprintf(p, sizeof p, "%s.norm", enc);
    norm(l, p, dim);
    linear(l, "audio_projection.linear1", dim, s->proj, true);
    linear(l, "audio_projection.linear2", s->proj, s->proj, true);
}

static void text(struct list *l, const struct shape *s, int64_t vocab) {
    const char *e = "text_model.embeddings";
    int64_t d = s->hidden;
    add(l, I_EMBED, 0.02f, 2, SH(vocab, d), "%s.word_embeddings.weight", e);
    add(l, I_EMBED, 0.02f, 2, SH(s->max_pos, d), "%s.position_embeddings.weight", e);
    add(l, I_EMBED, 0.02f, 2, SH(1, d), "%s.token_type_embeddings.weight", e);
    add(l, I_I64_ARANGE, 0, 2, SH(1, s->max_pos), "%s.position_ids", e);
    add(l, I_I64_ZERO, 0, 2, SH(1, s->max_pos), "%s.token_type_ids", e);
    char p[128], q[160];
    snprintf(p, sizeof p, "%s.LayerNorm", e);
    norm(l, p, d);
    for (int i = 0; i < s->layers; i++) {
        snprintf(p, sizeof p, "text_model.encoder.layer.%d", i);
        const char *qkv[] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) {
            snprintf(q, sizeof q, "%s.attention.self.%s", p, qkv[k]);
            linear(l, q, d, d, true);
        }
        snprintf(q, sizeof q, "%s.attention.output.dense", p);
        linear(l, q, d, d, true);
        snprintf(q, sizeof q, "%s.attention.output.LayerNorm", p);
        norm(l, q, d);
        snprintf(q, sizeof q, "%s.intermediate.dense", p);
        linear(l, q, d, s->mlp, true);
        snprintf(q, sizeof q, "%s.output.dense", p);
        linear(l, q, s->mlp, d, true);
        snprintf(q, sizeof q, "%s.output.LayerNorm", p);
        norm(l, q, d);
    }
    linear(l, "text_model.pooler.dense", d, d, true);
    linear(l, "text_projection.linear1", d, s->proj, true);
    linear(l, "text_projection.linear2", s->proj, s->proj, true);
    add(l, I_SCALE, 0, 0, SH(0), "logit_scale_a");
    add(l, I_SCALE, 0, 0, SH(0), "logit_scale_t");
}

static int64_t numel(const struct tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= t->shape[i];
    return n;
}

static bool is_i64(const struct tensor *t) {
    return t->init >= I_I64_ARANGE && t->init <= I_I64_RELIDX;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s) { return (double)(splitmix64(s) >> 11) / 9007199254740992.0; }

/* The values of t (F32 or I64 as its init says) into buf. */
static void fill(const struct tensor *t, uint64_t seed, void *buf) {
    uint64_t s = seed;
    for (const char *c = t->name; *c; c++)
        s = (s ^ (unsigned char)*c) * 1099511628211ULL;
    int64_t n = numel(t);
    float *f = buf;
    int64_t *q = buf;
    double a = sqrt(3.0) * t->std; /* uniform in [-a, a] has std t->std */
    for (int64_t i = 0; i < n; i++) {
        double u = unif(&s) * 2.0 - 1.0;
        switch (t->init) {
        case I_LINEAR:
        case I_EMBED:
        case I_BIAS:
        case I_MEAN: f[i] = (float)(a * u); break;
        case I_NORM: f[i] = (float)(1.0 + 0.05 * u); break;
        case I_ONES_VAR: f[i] = (float)(1.0 + 0.5 * u); break;
        case I_SCALE: f[i] = (float)log(1.0 / 0.07); break;
        case I_I64_ARANGE: q[i] = i; break;
        case I_I64_ZERO: q[i] = 0; break;
        case I_I64_RELIDX: {
            int64_t w = t->window, qi = i / (w * w), ki = i % (w * w);
            int64_t dh = qi / w - ki / w + w - 1, dw = qi % w - ki % w + w - 1;
            q[i] = dh * (2 * w - 1) + dw;
            break;
        }
        }
    }
}

static int write_safetensors(const char *path, const struct list *l, uint64_t seed) {
    size_t cap = 1 << 20, n = 0;
    char *h = malloc(cap);
    if (!h)
        return fail("out of memory");
    n += (size_t)snprintf(h + n, cap - n, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    int64_t max = 1;
    for (size_t i = 0; i < l->n; i++) {
        const struct tensor *t = &l->t[i];
        uint64_t bytes = (uint64_t)numel(t) * (is_i64(t) ? 8 : 4);
        n += (size_t)snprintf(h + n, cap - n, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                              is_i64(t) ? "I64" : "F32");
        for (int d = 0; d < t->n_dims; d++)
            n += (size_t)snprintf(h + n, cap - n, "%s%" PRId64, d ? "," : "", t->shape[d]);
        n += (size_t)snprintf(h + n, cap - n, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off,
                              off + bytes);
        off += bytes;
        max = numel(t) > max ? numel(t) : max;
    }
    n += (size_t)snprintf(h + n, cap - n, "}");
    while ((8 + n) % 8)
        h[n++] = ' ';
    FILE *f = fopen(path, "wb");
    void *buf = malloc((size_t)max * 8);
    bool ok = f && buf;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    ok = ok && fwrite(len, 1, 8, f) == 8 && fwrite(h, 1, n, f) == n;
    for (size_t i = 0; ok && i < l->n; i++) {
        fill(&l->t[i], seed, buf);
        size_t bytes = (size_t)numel(&l->t[i]) * (is_i64(&l->t[i]) ? 8 : 4);
        ok = fwrite(buf, 1, bytes, f) == bytes;
    }
    if (f && fclose(f) != 0)
        ok = false;
    free(buf);
    free(h);
    return ok ? 0 : fail("%s: %s", path, strerror(errno));
}

/* ---- the tokenizer: GPT-2 byte-level BPE trained on a few captions ---- */

static const char *CORPUS[] = {
    "This is a sound of dog barking.",
    "This is a sound of rain.",
    "This is a sound of "
    "church bells.",
    "This is a sound of a crying baby.",
    "This is a sound of clock tick.",
    "This is a sound of sea waves.",
    "This is a sound of crackling fire.",
    "Is there a dog "
    "barking in the background? yes",
    "Are people talking? no",
    "What's the weather like? "
    "It's raining, isn't it?",
    "A car horn honks twice while engines idle in traffic.",
    "Birds are chirping and singing in the forest at dawn.",
    "The helicopter flies overhead "
    "and the siren wails.",
    "Someone is snoring loudly; children are playing 3 games.",
    "air conditioner, car horn, children playing, dog bark, drilling, engine idling, gun "
    "shot, jackhammer, siren, street music",
};

struct sym_word {
    char sym[64][48]; /* symbols as byte-level strings */
    int n, count;
};

static size_t byte_char(int b, char *out) {
    int k = 0;
    bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    for (int c = 0; !keep && c < b; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
            k++;
    uint32_t cp = keep ? (uint32_t)b : 256u + (uint32_t)k;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

struct tok {
    char merges[MAX_MERGES][2][48];
    char merged[MAX_MERGES][96];
    int n_merges;
    struct sym_word words[512];
    int n_words;
};

/* Words split at spaces (a space starts the next word, as GPT-2's pattern does for letters). */
static void split_words(struct tok *t) {
    for (size_t c = 0; c < sizeof CORPUS / sizeof CORPUS[0]; c++) {
        const char *s = CORPUS[c];
        while (*s) {
            const char *e = s + 1;
            while (*e && *e != ' ')
                e++;
            struct sym_word *w = NULL;
            for (int i = 0; i < t->n_words && !w; i++) {
                char joined[256] = "";
                size_t k = 0;
                for (int j = 0; j < t->words[i].n; j++)
                    k += (size_t)snprintf(joined + k, sizeof joined - k, "%s", t->words[i].sym[j]);
                char mine[256];
                size_t m = 0;
                for (const char *p = s; p < e && m + 3 < sizeof mine; p++)
                    m += byte_char((unsigned char)*p, mine + m);
                mine[m] = '\0';
                if (!strcmp(joined, mine))
                    w = &t->words[i];
            }
            if (!w && t->n_words < 512 && e - s < 64) {
                w = &t->words[t->n_words++];
                for (const char *p = s; p < e; p++) {
                    size_t k = byte_char((unsigned char)*p, w->sym[w->n]);
                    w->sym[w->n++][k] = '\0';
                }
            }
            if (w)
                w->count++;
            s = e;
        }
    }
}

/* Learns up to max merges: the most frequent adjacent pair (ties: the smallest strings). */
static void train(struct tok *t, int max) {
    while (t->n_merges < max && t->n_merges < MAX_MERGES) {
        int best = 0;
        const char *ba = NULL, *bb = NULL;
        for (int i = 0; i < t->n_words; i++) {
            struct sym_word *w = &t->words[i];
            for (int j = 0; j + 1 < w->n; j++) {
                if (strlen(w->sym[j]) + strlen(w->sym[j + 1]) >= 48)
                    continue;
                int c = 0;
                for (int x = 0; x < t->n_words; x++)
                    for (int y = 0; y + 1 < t->words[x].n; y++)
                        c += !strcmp(t->words[x].sym[y], w->sym[j]) &&
                                     !strcmp(t->words[x].sym[y + 1], w->sym[j + 1])
                                 ? t->words[x].count
                                 : 0;
                int cmp = !ba                     ? -1
                          : strcmp(w->sym[j], ba) ? strcmp(w->sym[j], ba)
                                                  : strcmp(w->sym[j + 1], bb);
                if (c > best || (c == best && cmp < 0))
                    best = c, ba = w->sym[j], bb = w->sym[j + 1];
            }
        }
        if (!ba)
            break;
        int m = t->n_merges++;
        snprintf(t->merges[m][0], 48, "%s", ba);
        snprintf(t->merges[m][1], 48, "%s", bb);
        snprintf(t->merged[m], 96, "%s%s", ba, bb);
        for (int i = 0; i < t->n_words; i++) {
            struct sym_word *w = &t->words[i];
            int o = 0;
            for (int j = 0; j < w->n; j++) {
                if (j + 1 < w->n && !strcmp(w->sym[j], t->merges[m][0]) &&
                    !strcmp(w->sym[j + 1], t->merges[m][1])) {
                    /* < 48 bytes: longer pairs are never merged (above) */
                    memcpy(w->sym[o++], t->merged[m], strlen(t->merged[m]) + 1);
                    j++;
                } else if (o != j) {
                    memcpy(w->sym[o++], w->sym[j], 48);
                } else {
                    o++;
                }
            }
            w->n = o;
        }
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The vocabulary: <s> <pad> </s> <unk>, the 256 byte symbols, the merges, <mask>. */
static int vocab_json(FILE *f, const struct tok *t) {
    const char *special[] = {"<s>", "<pad>", "</s>", "<unk>"};
    int id = 0;
    fputc('{', f);
    for (int i = 0; i < 4; i++, id++) {
        json_str(f, special[i]);
        fprintf(f, ": %d, ", id);
    }
    for (int b = 0; b < 256; b++, id++) {
        char u[4];
        u[byte_char(b, u)] = '\0';
        json_str(f, u);
        fprintf(f, ": %d, ", id);
    }
    for (int m = 0; m < t->n_merges; m++) {
        bool dup = false; /* a merge result equal to an earlier one keeps its first id */
        for (int k = 0; k < m && !dup; k++)
            dup = !strcmp(t->merged[k], t->merged[m]);
        if (dup)
            continue;
        json_str(f, t->merged[m]);
        fprintf(f, ": %d, ", id++);
    }
    fprintf(f, "\"<mask>\": %d}", id);
    return id + 1;
}

static int write_tokenizer(const char *dir, const struct tok *t, const char *which, int max_len,
                           int *vocab_size) {
    char path[1024];
    bool json = strcmp(which, "txt") != 0, txt = strcmp(which, "json") != 0;
    FILE *f;
    if (json) {
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (!(f = fopen(path, "w")))
            return fail("%s: %s", path, strerror(errno));
        fprintf(f, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": ");
        *vocab_size = vocab_json(f, t);
        fprintf(f, ", \"merges\": [");
        for (int m = 0; m < t->n_merges; m++) {
            fprintf(f, m ? ", " : "");
            char pair[100];
            snprintf(pair, sizeof pair, "%s %s", t->merges[m][0], t->merges[m][1]);
            json_str(f, pair);
        }
        fprintf(f, "]}}\n");
        if (fclose(f))
            return fail("%s: write error", path);
    }
    if (txt) {
        snprintf(path, sizeof path, "%s/vocab.json", dir);
        if (!(f = fopen(path, "w")))
            return fail("%s: %s", path, strerror(errno));
        *vocab_size = vocab_json(f, t);
        if (fclose(f))
            return fail("%s: write error", path);
        snprintf(path, sizeof path, "%s/merges.txt", dir);
        if (!(f = fopen(path, "w")))
            return fail("%s: %s", path, strerror(errno));
        fprintf(f, "#version: 0.2\n");
        for (int m = 0; m < t->n_merges; m++)
            fprintf(f, "%s %s\n", t->merges[m][0], t->merges[m][1]);
        if (fclose(f))
            return fail("%s: write error", path);
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!(f = fopen(path, "w")))
        return fail("%s: %s", path, strerror(errno));
    fprintf(f, "{\"model_max_length\": %d, \"tokenizer_class\": \"RobertaTokenizer\"}\n", max_len);
    return fclose(f) ? fail("%s: write error", path) : 0;
}

static int write_configs(const char *dir, const struct shape *s, int64_t vocab) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("%s: %s", path, strerror(errno));
    fprintf(f,
            "{\"architectures\": [\"ClapModel\"], \"model_type\": \"clap\", "
            "\"projection_dim\": %d, \"logit_scale_init_value\": 14.285714285714285,\n"
            " \"audio_config\": {\"model_type\": \"clap_audio_model\", \"num_mel_bins\": %d, "
            "\"spec_size\": %d, \"patch_size\": %d, \"patch_stride\": [%d, %d], "
            "\"patch_embeds_hidden_size\": %d, \"hidden_size\": %d, \"depths\": [",
            s->proj, s->n_mels, s->spec, s->patch, s->patch, s->patch, s->embed,
            s->embed << (s->n_stages - 1));
    for (int i = 0; i < s->n_stages; i++)
        fprintf(f, "%s%d", i ? ", " : "", s->depths[i]);
    fprintf(f, "], \"num_attention_heads\": [");
    for (int i = 0; i < s->n_stages; i++)
        fprintf(f, "%s%d", i ? ", " : "", s->heads[i]);
    fprintf(f,
            "], \"window_size\": %d, \"mlp_ratio\": 4.0, \"enable_fusion\": false, "
            "\"enable_patch_layer_norm\": true, \"flatten_patch_embeds\": true, "
            "\"hidden_act\": \"gelu\", \"projection_hidden_act\": \"relu\", "
            "\"projection_dim\": %d, \"layer_norm_eps\": 1e-05, \"qkv_bias\": true, "
            "\"patch_embed_input_channels\": 1, \"fusion_type\": null},\n"
            " \"text_config\": {\"model_type\": \"clap_text_model\", \"vocab_size\": %" PRId64
            ", \"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
            "\"intermediate_size\": %d, \"hidden_act\": \"gelu\", "
            "\"max_position_embeddings\": %d, \"type_vocab_size\": 1, \"pad_token_id\": 1, "
            "\"bos_token_id\": 0, \"eos_token_id\": 2, \"layer_norm_eps\": 1e-12, "
            "\"position_embedding_type\": \"absolute\", \"projection_hidden_act\": \"relu\", "
            "\"projection_dim\": %d}}\n",
            s->window, s->proj, vocab, s->hidden, s->layers, s->text_heads, s->mlp, s->max_pos,
            s->proj);
    if (fclose(f))
        return fail("%s: write error", path);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if (!(f = fopen(path, "w")))
        return fail("%s: %s", path, strerror(errno));
    fprintf(f,
            "{\"feature_extractor_type\": \"ClapFeatureExtractor\", \"feature_size\": %d, "
            "\"fft_window_size\": 1024, \"frequency_max\": 14000, \"frequency_min\": 50, "
            "\"hop_length\": 480, \"max_length_s\": %d, \"padding\": \"repeatpad\", "
            "\"padding_value\": 0.0, \"return_attention_mask\": false, "
            "\"sampling_rate\": 48000, \"top_db\": null, \"truncation\": \"rand_trunc\"}\n",
            s->n_mels, s->max_len_s);
    return fclose(f) ? fail("%s: write error", path) : 0;
}

int main(int argc, char **argv) {
    const char *out = NULL, *preset = "tiny", *which = "both";
    uint64_t seed = 42;
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *val;
        int rc = next_opt(argc, argv, &i, name, sizeof name, &val, NULL);
        if (rc)
            return rc;
        if (!strcmp(name, "out"))
            out = val;
        else if (!strcmp(name, "preset") && (!strcmp(val, "tiny") || !strcmp(val, "unfused")))
            preset = val;
        else if (!strcmp(name, "tokenizer") &&
                 (!strcmp(val, "json") || !strcmp(val, "txt") || !strcmp(val, "both")))
            which = val;
        else if (!strcmp(name, "seed") && parse_u64(val, &seed))
            continue;
        else
            return usage_error("bad option --%s '%s'", name, val);
    }
    if (!out)
        return usage_error("--out is required");
    const struct shape *s = !strcmp(preset, "tiny") ? &TINY : &UNFUSED;
    if (mkdir(out, 0755) && errno != EEXIST)
        return fail("%s: %s", out, strerror(errno));
    static struct tok t;
    static struct list l;
    split_words(&t);
    train(&t, s->merges);
    int vocab = 0, rc = write_tokenizer(out, &t, which, s->max_pos - 2, &vocab);
    int64_t v = s->vocab > vocab ? s->vocab : vocab;
    audio(&l, s);
    text(&l, s, v);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (!rc)
        rc = write_configs(out, s, v);
    if (!rc)
        rc = write_safetensors(path, &l, seed);
    return rc;
}
