/* gen_clip: writes random-weight CLIP (ViT) checkpoints for Mill's tests, `make run` and
 * benchmarks, in open_clip's layout (open_clip_config.json + open_clip_model.safetensors) or
 * Hugging Face's CLIPModel layout (config.json + preprocessor_config.json + model.safetensors),
 * or both from the same weights (DIR/open_clip and DIR/hf), so the two loaders can be checked
 * against each other.
 *
 * It is a test tool. It never reads or touches real models, writes nothing but under --out, and
 * its weights are seeded random numbers, so its checkpoints are good for exercising code paths
 * and timing, never for scores. Same arguments and seed give byte-identical files. Every value
 * is generated from its open_clip tensor name, so the HF layout holds exactly the same numbers
 * (q/k/v are row slices of attn.in_proj_*, the projections are transposed).
 *
 * Initialisation follows open_clip's init_parameters (attention in_proj std width^-0.5, out_proj
 * and c_proj width^-0.5 (2 layers)^-0.5, c_fc (2 width)^-0.5, token embedding 0.02, positions
 * 0.01, projections width^-0.5, patch conv (3 P^2)^-0.5), with uniform noise of the same std.
 * Unlike open_clip, biases get std 0.02 and LayerNorm weights 1 +- 0.05 (biases 0.02) rather
 * than exact zeros and ones, so a loader that drops or swaps a bias or a norm is caught.
 * logit_scale is log(1 / 0.07), open_clip's and HF's initial value.
 *
 * Usage: gen_clip --out DIR --format open_clip|hf|both [--preset tiny|vit-b-32]
 *        [--image_size N --patch_size N --vision_width N --vision_layers N --vision_heads N
 *         --text_width N --text_layers N --text_heads N --embed_dim N --context_length N
 *         --vocab_size N] [--quick_gelu] [--hf_position_ids] [--dtype f32|f16|bf16] [--seed N]
 * --hf_position_ids adds the I64 position_ids buffers that older HF checkpoints carry.
 * Exit: 0 ok, 1 error (dimensions, output), 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggml.h"

#define TOOL_NAME "gen_clip"
#include "tool_args.h"
#define LAYER_MAX 256
#define NAME_MAX_LEN 96
#define MAX_DIMS 4

static const double OPENAI_MEAN[3] = {0.48145466, 0.4578275, 0.40821073};
static const double OPENAI_STD[3] = {0.26862954, 0.26130258, 0.27577711};

enum format { FMT_OPEN_CLIP = 1, FMT_HF = 2, FMT_BOTH = 3 };
enum dtype { DT_F32, DT_F16, DT_BF16, DT_I64 };

struct opts {
    const char *out;
    int format;
    int64_t image_size, patch_size, vision_width, vision_layers, vision_heads;
    int64_t text_width, text_layers, text_heads, embed_dim, context_length, vocab_size;
    bool quick_gelu, hf_position_ids;
    uint64_t seed;
    enum dtype dtype;
};

static const struct int_opt INT_OPTS[] = {
    {"image_size", offsetof(struct opts, image_size)},
    {"patch_size", offsetof(struct opts, patch_size)},
    {"vision_width", offsetof(struct opts, vision_width)},
    {"vision_layers", offsetof(struct opts, vision_layers)},
    {"vision_heads", offsetof(struct opts, vision_heads)},
    {"text_width", offsetof(struct opts, text_width)},
    {"text_layers", offsetof(struct opts, text_layers)},
    {"text_heads", offsetof(struct opts, text_heads)},
    {"embed_dim", offsetof(struct opts, embed_dim)},
    {"context_length", offsetof(struct opts, context_length)},
    {"vocab_size", offsetof(struct opts, vocab_size)},
};

static void usage(FILE *f) {
    fputs("usage: gen_clip --out DIR --format open_clip|hf|both [--preset tiny|vit-b-32]\n"
          "                [--image_size N] [--patch_size N] [--vision_width N]\n"
          "                [--vision_layers N] [--vision_heads N] [--text_width N]\n"
          "                [--text_layers N] [--text_heads N] [--embed_dim N]\n"
          "                [--context_length N] [--vocab_size N] [--quick_gelu]\n"
          "                [--hf_position_ids] [--dtype f32|f16|bf16] [--seed N]\n"
          "Writes a random-weight CLIP test checkpoint (never a real one).\n",
          f);
}

/* ---- arguments ---- */

static void preset_tiny(struct opts *o) {
    o->image_size = 32;
    o->patch_size = 8;
    o->vision_width = 64;
    o->vision_layers = 2;
    o->vision_heads = 4;
    o->text_width = 32;
    o->text_layers = 2;
    o->text_heads = 2;
    o->embed_dim = 32;
    o->context_length = 77;
    o->vocab_size = 49408;
}

/* open_clip's model_configs/ViT-B-32.json (heads = width / head_width 64). */
static void preset_vit_b_32(struct opts *o) {
    o->image_size = 224;
    o->patch_size = 32;
    o->vision_width = 768;
    o->vision_layers = 12;
    o->vision_heads = 12;
    o->text_width = 512;
    o->text_layers = 12;
    o->text_heads = 8;
    o->embed_dim = 512;
    o->context_length = 77;
    o->vocab_size = 49408;
}

/* Applies one `--name value`; returns 0 or an exit code. --preset was applied before. */
static int apply_opt(struct opts *o, const char *name, const char *val) {
    int rc = apply_int_opt(INT_OPTS, sizeof INT_OPTS / sizeof INT_OPTS[0], o, name, val);
    if (rc >= 0)
        return rc;
    if (!strcmp(name, "out"))
        o->out = val;
    else if (!strcmp(name, "preset")) {
        if (strcmp(val, "tiny") && strcmp(val, "vit-b-32"))
            return usage_error("--preset wants tiny or vit-b-32, got '%s'", val);
    } else if (!strcmp(name, "format")) {
        if (!strcmp(val, "open_clip"))
            o->format = FMT_OPEN_CLIP;
        else if (!strcmp(val, "hf"))
            o->format = FMT_HF;
        else if (!strcmp(val, "both"))
            o->format = FMT_BOTH;
        else
            return usage_error("--format wants open_clip, hf or both, got '%s'", val);
    } else if (!strcmp(name, "seed")) {
        if (!parse_u64(val, &o->seed))
            return usage_error("--seed wants a non-negative integer, got '%s'", val);
    } else if (!strcmp(name, "dtype")) {
        if (!strcmp(val, "f32"))
            o->dtype = DT_F32;
        else if (!strcmp(val, "f16"))
            o->dtype = DT_F16;
        else if (!strcmp(val, "bf16"))
            o->dtype = DT_BF16;
        else
            return usage_error("--dtype wants f32, f16 or bf16, got '%s'", val);
    } else
        return usage_error("unknown option '--%s'", name);
    return 0;
}

/* Splits argv[*i] into name and value (`--name value` or `--name=value`); flags take none. */
/* Options without a value. */
static const char *const FLAG_OPTS[] = {"quick_gelu", "hf_position_ids", NULL};

/* Returns -1 to go on, else the exit code. The preset is applied first, whatever its position,
 * so explicit dimensions override it. */
static int parse_args(int argc, char **argv, struct opts *o) {
    char name[64];
    const char *val = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                usage(stdout);
                return 0;
            }
            int rc = next_opt(argc, argv, &i, name, sizeof name, &val, FLAG_OPTS);
            if (rc)
                return rc;
            if (pass == 0) {
                if (!strcmp(name, "preset") && !strcmp(val, "vit-b-32"))
                    preset_vit_b_32(o);
                else if (!strcmp(name, "preset") && !strcmp(val, "tiny"))
                    preset_tiny(o);
                continue;
            }
            if (!strcmp(name, "quick_gelu"))
                o->quick_gelu = true;
            else if (!strcmp(name, "hf_position_ids"))
                o->hf_position_ids = true;
            else if ((rc = apply_opt(o, name, val)) != 0)
                return rc;
        }
    }
    if (!o->out || !o->format)
        return usage_error("--out and --format are required");
    return -1;
}

static int check_dims(const struct opts *o) {
    if (o->vision_layers > LAYER_MAX || o->text_layers > LAYER_MAX)
        return fail("at most %d layers per tower", LAYER_MAX);
    if (o->image_size % o->patch_size)
        return fail("--image_size %" PRId64 " is not a multiple of --patch_size %" PRId64,
                    o->image_size, o->patch_size);
    if (o->vision_width % o->vision_heads)
        return fail("--vision_width %" PRId64 " is not a multiple of --vision_heads %" PRId64,
                    o->vision_width, o->vision_heads);
    if (o->text_width % o->text_heads)
        return fail("--text_width %" PRId64 " is not a multiple of --text_heads %" PRId64,
                    o->text_width, o->text_heads);
    if (o->vocab_size < 49408)
        return fail("--vocab_size %" PRId64 " is below 49408: CLIP's SOT/EOT ids 49406/49407 "
                    "must exist",
                    o->vocab_size);
    int64_t grid = o->image_size / o->patch_size;
    if (grid * grid + 1 > DIM_MAX)
        return fail("too many patches");
    return 0;
}

/* ---- tensors ---- */

enum init { INIT_UNIFORM, INIT_NORM_WEIGHT, INIT_CONST, INIT_ARANGE };
enum xform { X_COPY, X_TRANSPOSE, X_ROWS };

/* A tensor as open_clip stores it: the source of every value, whichever layout is written. */
struct canon {
    char name[NAME_MAX_LEN];
    int n_dims;
    int64_t shape[MAX_DIMS];
    enum init init;
    float std; /* INIT_UNIFORM: the standard deviation; INIT_CONST: the value */
};

/* A tensor of the written file: canonical tensor src, copied, transposed (2-D) or row-sliced. */
struct out_tensor {
    char name[NAME_MAX_LEN];
    int n_dims;
    int64_t shape[MAX_DIMS];
    int src;
    enum xform xform;
    int64_t row0; /* X_ROWS: first row of src */
    enum dtype dtype;
};

struct list {
    struct canon *canon;
    size_t n_canon, cap_canon;
    struct out_tensor *out;
    size_t n_out, cap_out;
};

/* Grows an array of size-byte items to hold n + 1; aborts when out of memory (a test tool). */
static void *grow(void *p, size_t *cap, size_t n, size_t size) {
    if (n < *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(p, c * size);
    if (!q)
        abort();
    *cap = c;
    return q;
}

/* Formats a tensor name; the names are short and fixed, so overflow is a bug: abort. */
static void vformat_name(char *dst, const char *fmt, va_list ap) {
    int n = vsnprintf(dst, NAME_MAX_LEN, fmt, ap);
    if (n <= 0 || n >= NAME_MAX_LEN)
        abort();
}

/* Adds canonical tensor name (printf-style) of n_dims dims; returns its index. */
static int add_canon(struct list *l, enum init init, float std, int n_dims, const int64_t *shape,
                     const char *fmt, ...) {
    l->canon = grow(l->canon, &l->cap_canon, l->n_canon, sizeof *l->canon);
    struct canon *c = &l->canon[l->n_canon];
    memset(c, 0, sizeof *c);
    va_list ap;
    va_start(ap, fmt);
    vformat_name(c->name, fmt, ap);
    va_end(ap);
    c->n_dims = n_dims;
    for (int i = 0; i < n_dims; i++)
        c->shape[i] = shape[i];
    c->init = init;
    c->std = std;
    return (int)l->n_canon++;
}

static void add_out(struct list *l, int src, enum xform xform, int64_t row0, int64_t rows,
                    enum dtype dtype, const char *fmt, ...) {
    l->out = grow(l->out, &l->cap_out, l->n_out, sizeof *l->out);
    struct out_tensor *t = &l->out[l->n_out];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vformat_name(t->name, fmt, ap);
    va_end(ap);
    const struct canon *c = &l->canon[src];
    t->src = src;
    t->xform = xform;
    t->row0 = row0;
    t->dtype = dtype;
    t->n_dims = c->n_dims;
    for (int i = 0; i < c->n_dims; i++)
        t->shape[i] = c->shape[i];
    if (xform == X_TRANSPOSE) {
        t->shape[0] = c->shape[1];
        t->shape[1] = c->shape[0];
    } else if (xform == X_ROWS)
        t->shape[0] = rows;
    l->n_out++;
}

#define SHAPE(...) \
    (const int64_t[]) { __VA_ARGS__ }
#define NDIMS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* One canonical tensor of the given shape, written unchanged under the open_clip name. */
#define CANON(l, init, std, name, ...) \
    add_canon(l, init, std, NDIMS(__VA_ARGS__), SHAPE(__VA_ARGS__), "%s", name)

struct tower_ids {
    int ln1w, ln1b, in_w, in_b, out_w, out_b, ln2w, ln2b, fc_w, fc_b, proj_w, proj_b;
};

/* Canonical tensors of one residual block, prefix "visual.transformer" or "transformer". */
static struct tower_ids add_block(struct list *l, const char *prefix, int i, int64_t w,
                                  int64_t layers) {
    float attn_std = 1.0f / sqrtf((float)w);
    float proj_std = attn_std / sqrtf(2.0f * (float)layers);
    float fc_std = 1.0f / sqrtf(2.0f * (float)w);
    const char *r = "resblocks";
    struct tower_ids t;
    t.ln1w =
        add_canon(l, INIT_NORM_WEIGHT, 0.05f, 1, SHAPE(w), "%s.%s.%d.ln_1.weight", prefix, r, i);
    t.ln1b = add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(w), "%s.%s.%d.ln_1.bias", prefix, r, i);
    t.in_w = add_canon(l, INIT_UNIFORM, attn_std, 2, SHAPE(3 * w, w),
                       "%s.%s.%d.attn.in_proj_weight", prefix, r, i);
    t.in_b = add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(3 * w), "%s.%s.%d.attn.in_proj_bias",
                       prefix, r, i);
    t.out_w = add_canon(l, INIT_UNIFORM, proj_std, 2, SHAPE(w, w), "%s.%s.%d.attn.out_proj.weight",
                        prefix, r, i);
    t.out_b =
        add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(w), "%s.%s.%d.attn.out_proj.bias", prefix, r, i);
    t.ln2w =
        add_canon(l, INIT_NORM_WEIGHT, 0.05f, 1, SHAPE(w), "%s.%s.%d.ln_2.weight", prefix, r, i);
    t.ln2b = add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(w), "%s.%s.%d.ln_2.bias", prefix, r, i);
    t.fc_w = add_canon(l, INIT_UNIFORM, fc_std, 2, SHAPE(4 * w, w), "%s.%s.%d.mlp.c_fc.weight",
                       prefix, r, i);
    t.fc_b =
        add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(4 * w), "%s.%s.%d.mlp.c_fc.bias", prefix, r, i);
    t.proj_w = add_canon(l, INIT_UNIFORM, proj_std, 2, SHAPE(w, 4 * w),
                         "%s.%s.%d.mlp.c_proj.weight", prefix, r, i);
    t.proj_b =
        add_canon(l, INIT_UNIFORM, 0.02f, 1, SHAPE(w), "%s.%s.%d.mlp.c_proj.bias", prefix, r, i);
    return t;
}

/* The written tensors of one block: open_clip names, or HF names (hf_prefix
 * "vision_model.encoder" / "text_model.encoder") with q/k/v split out of in_proj. */
static void out_block(struct list *l, const struct tower_ids *t, bool hf, const char *hf_prefix,
                      int i, int64_t w, enum dtype dt) {
    if (!hf) {
        const int ids[] = {t->ln1w, t->ln1b, t->in_w, t->in_b, t->out_w,  t->out_b,
                           t->ln2w, t->ln2b, t->fc_w, t->fc_b, t->proj_w, t->proj_b};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            add_out(l, ids[k], X_COPY, 0, 0, dt, "%s", l->canon[ids[k]].name);
        return;
    }
    const char *p = hf_prefix;
    static const char *const QKV[3] = {"q", "k", "v"};
    for (int k = 0; k < 3; k++) {
        add_out(l, t->in_w, X_ROWS, k * w, w, dt, "%s.layers.%d.self_attn.%s_proj.weight", p, i,
                QKV[k]);
        add_out(l, t->in_b, X_ROWS, k * w, w, dt, "%s.layers.%d.self_attn.%s_proj.bias", p, i,
                QKV[k]);
    }
    add_out(l, t->out_w, X_COPY, 0, 0, dt, "%s.layers.%d.self_attn.out_proj.weight", p, i);
    add_out(l, t->out_b, X_COPY, 0, 0, dt, "%s.layers.%d.self_attn.out_proj.bias", p, i);
    add_out(l, t->ln1w, X_COPY, 0, 0, dt, "%s.layers.%d.layer_norm1.weight", p, i);
    add_out(l, t->ln1b, X_COPY, 0, 0, dt, "%s.layers.%d.layer_norm1.bias", p, i);
    add_out(l, t->fc_w, X_COPY, 0, 0, dt, "%s.layers.%d.mlp.fc1.weight", p, i);
    add_out(l, t->fc_b, X_COPY, 0, 0, dt, "%s.layers.%d.mlp.fc1.bias", p, i);
    add_out(l, t->proj_w, X_COPY, 0, 0, dt, "%s.layers.%d.mlp.fc2.weight", p, i);
    add_out(l, t->proj_b, X_COPY, 0, 0, dt, "%s.layers.%d.mlp.fc2.bias", p, i);
    add_out(l, t->ln2w, X_COPY, 0, 0, dt, "%s.layers.%d.layer_norm2.weight", p, i);
    add_out(l, t->ln2b, X_COPY, 0, 0, dt, "%s.layers.%d.layer_norm2.bias", p, i);
}

/* Builds the canonical tensors and the written list of one layout. */
static void build(struct list *l, const struct opts *o, bool hf) {
    int64_t vw = o->vision_width, tw = o->text_width, e = o->embed_dim, p = o->patch_size;
    int64_t grid = o->image_size / p, n_pos = grid * grid + 1, ctx = o->context_length;
    enum dtype dt = o->dtype;
    float vs = 1.0f / sqrtf((float)vw), ts = 1.0f / sqrtf((float)tw);

    /* HF's position_ids buffers go first: 8-byte elements keep every later offset aligned. */
    if (hf && o->hf_position_ids) {
        int a = add_canon(l, INIT_ARANGE, 0, 2, SHAPE(1, ctx), "text_position_ids");
        int b = add_canon(l, INIT_ARANGE, 0, 2, SHAPE(1, n_pos), "vision_position_ids");
        add_out(l, a, X_COPY, 0, 0, DT_I64, "text_model.embeddings.position_ids");
        add_out(l, b, X_COPY, 0, 0, DT_I64, "vision_model.embeddings.position_ids");
    }

    int conv = CANON(l, INIT_UNIFORM, 1.0f / sqrtf(3.0f * (float)(p * p)), "visual.conv1.weight",
                     vw, 3, p, p);
    int cls = CANON(l, INIT_UNIFORM, vs, "visual.class_embedding", vw);
    int vpos = CANON(l, INIT_UNIFORM, vs, "visual.positional_embedding", n_pos, vw);
    int pre_w = CANON(l, INIT_NORM_WEIGHT, 0.05f, "visual.ln_pre.weight", vw);
    int pre_b = CANON(l, INIT_UNIFORM, 0.02f, "visual.ln_pre.bias", vw);
    if (hf) {
        add_out(l, conv, X_COPY, 0, 0, dt, "vision_model.embeddings.patch_embedding.weight");
        add_out(l, cls, X_COPY, 0, 0, dt, "vision_model.embeddings.class_embedding");
        add_out(l, vpos, X_COPY, 0, 0, dt, "vision_model.embeddings.position_embedding.weight");
        add_out(l, pre_w, X_COPY, 0, 0, dt, "vision_model.pre_layrnorm.weight");
        add_out(l, pre_b, X_COPY, 0, 0, dt, "vision_model.pre_layrnorm.bias");
    } else {
        const int ids[] = {conv, cls, vpos, pre_w, pre_b};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            add_out(l, ids[k], X_COPY, 0, 0, dt, "%s", l->canon[ids[k]].name);
    }
    for (int i = 0; i < o->vision_layers; i++) {
        struct tower_ids t = add_block(l, "visual.transformer", i, vw, o->vision_layers);
        out_block(l, &t, hf, "vision_model.encoder", i, vw, dt);
    }
    int post_w = CANON(l, INIT_NORM_WEIGHT, 0.05f, "visual.ln_post.weight", vw);
    int post_b = CANON(l, INIT_UNIFORM, 0.02f, "visual.ln_post.bias", vw);
    int vproj = CANON(l, INIT_UNIFORM, vs, "visual.proj", vw, e);

    int tok = CANON(l, INIT_UNIFORM, 0.02f, "token_embedding.weight", o->vocab_size, tw);
    int tpos = CANON(l, INIT_UNIFORM, 0.01f, "positional_embedding", ctx, tw);
    if (hf) {
        add_out(l, post_w, X_COPY, 0, 0, dt, "vision_model.post_layernorm.weight");
        add_out(l, post_b, X_COPY, 0, 0, dt, "vision_model.post_layernorm.bias");
        add_out(l, vproj, X_TRANSPOSE, 0, 0, dt, "visual_projection.weight");
        add_out(l, tok, X_COPY, 0, 0, dt, "text_model.embeddings.token_embedding.weight");
        add_out(l, tpos, X_COPY, 0, 0, dt, "text_model.embeddings.position_embedding.weight");
    } else {
        const int ids[] = {post_w, post_b, vproj, tok, tpos};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            add_out(l, ids[k], X_COPY, 0, 0, dt, "%s", l->canon[ids[k]].name);
    }
    for (int i = 0; i < o->text_layers; i++) {
        struct tower_ids t = add_block(l, "transformer", i, tw, o->text_layers);
        out_block(l, &t, hf, "text_model.encoder", i, tw, dt);
    }
    int fin_w = CANON(l, INIT_NORM_WEIGHT, 0.05f, "ln_final.weight", tw);
    int fin_b = CANON(l, INIT_UNIFORM, 0.02f, "ln_final.bias", tw);
    int tproj = CANON(l, INIT_UNIFORM, ts, "text_projection", tw, e);
    int scale = add_canon(l, INIT_CONST, logf(1.0f / 0.07f), 0, NULL, "logit_scale");
    if (hf) {
        add_out(l, fin_w, X_COPY, 0, 0, dt, "text_model.final_layer_norm.weight");
        add_out(l, fin_b, X_COPY, 0, 0, dt, "text_model.final_layer_norm.bias");
        add_out(l, tproj, X_TRANSPOSE, 0, 0, dt, "text_projection.weight");
        add_out(l, scale, X_COPY, 0, 0, dt, "logit_scale");
    } else {
        const int ids[] = {fin_w, fin_b, tproj, scale};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            add_out(l, ids[k], X_COPY, 0, 0, dt, "%s", l->canon[ids[k]].name);
    }
}

static int64_t n_elements(int n_dims, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < n_dims; i++)
        n *= shape[i];
    return n;
}

static size_t dtype_size(enum dtype d) { return d == DT_F32 ? 4 : d == DT_I64 ? 8 : 2; }

static const char *dtype_name(enum dtype d) {
    static const char *const NAMES[] = {"F32", "F16", "BF16", "I64"};
    return NAMES[d];
}

/* ---- weights ---- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Per-tensor stream: the seed mixed with the FNV-1a hash of the open_clip name. */
static uint64_t tensor_seed(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    uint64_t s = seed ^ h;
    return splitmix64(&s);
}

/* All values of canonical tensor c into buf: uniform in [-a, a], a = sqrt(3) std. */
static void fill_canon(const struct canon *c, uint64_t seed, float *buf) {
    int64_t n = n_elements(c->n_dims, c->shape);
    uint64_t state = tensor_seed(seed, c->name);
    float a = sqrtf(3.0f) * c->std;
    for (int64_t i = 0; i < n; i++) {
        if (c->init == INIT_CONST) {
            buf[i] = c->std;
            continue;
        }
        if (c->init == INIT_ARANGE) {
            buf[i] = (float)i;
            continue;
        }
        float u = (float)(splitmix64(&state) >> 40) * (1.0f / 16777216.0f);
        buf[i] = (2.0f * u - 1.0f) * a + (c->init == INIT_NORM_WEIGHT ? 1.0f : 0.0f);
    }
}

/* The values of written tensor t (from its canonical src in can) into dst. */
static void shape_out(const struct out_tensor *t, const struct canon *c, const float *can,
                      float *dst) {
    int64_t n = n_elements(t->n_dims, t->shape);
    if (t->xform == X_COPY)
        memcpy(dst, can, (size_t)n * sizeof *dst);
    else if (t->xform == X_TRANSPOSE) {
        int64_t rows = c->shape[0], cols = c->shape[1];
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < cols; k++)
                dst[k * rows + r] = can[r * cols + k];
    } else {
        int64_t row = n_elements(c->n_dims - 1, c->shape + 1);
        memcpy(dst, can + t->row0 * row, (size_t)n * sizeof *dst);
    }
}

static bool write_values(FILE *f, const float *v, int64_t n, enum dtype d, void *conv) {
    const void *src = v;
    if (d == DT_F16) {
        ggml_fp32_to_fp16_row(v, conv, n);
        src = conv;
    } else if (d == DT_BF16) {
        ggml_fp32_to_bf16_row_ref(v, conv, n);
        src = conv;
    } else if (d == DT_I64) {
        int64_t *o = conv;
        for (int64_t i = 0; i < n; i++)
            o[i] = (int64_t)v[i];
        src = conv;
    }
    size_t bytes = (size_t)n * dtype_size(d);
    return fwrite(src, 1, bytes, f) == bytes;
}

/* ---- files ---- */

struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = b->p ? vsnprintf(b->p + b->n, room, fmt, ap) : -2;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        if (k == -1) {
            b->oom = true;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (k > 0 && cap - b->n <= (size_t)k)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* The safetensors header: {"__metadata__": {"format": "pt"}, name: {dtype, shape,
 * data_offsets}, ...} padded with spaces so the data starts 8-byte aligned. Tensors are laid
 * out back to back in list order (the format wants no gaps). */
static bool st_header(const struct list *l, struct sbuf *b) {
    sb_printf(b, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < l->n_out; i++) {
        const struct out_tensor *t = &l->out[i];
        uint64_t bytes = (uint64_t)n_elements(t->n_dims, t->shape) * dtype_size(t->dtype);
        sb_printf(b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, dtype_name(t->dtype));
        for (int d = 0; d < t->n_dims; d++)
            sb_printf(b, "%s%" PRId64, d ? "," : "", t->shape[d]);
        sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + bytes);
        off += bytes;
    }
    sb_printf(b, "}");
    while (!b->oom && (8 + b->n) % 8)
        sb_printf(b, " ");
    return !b->oom;
}

static bool write_st_body(FILE *f, const struct list *l, uint64_t seed) {
    struct sbuf h = {0};
    if (!st_header(l, &h)) {
        free(h.p);
        return false;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    bool ok = fwrite(len, 1, 8, f) == 8 && fwrite(h.p, 1, h.n, f) == h.n;
    free(h.p);
    int64_t max = 1;
    for (size_t i = 0; i < l->n_canon; i++) {
        int64_t n = n_elements(l->canon[i].n_dims, l->canon[i].shape);
        max = n > max ? n : max;
    }
    float *can = malloc((size_t)max * sizeof *can), *val = malloc((size_t)max * sizeof *val);
    void *conv = malloc((size_t)max * 8);
    ok = ok && can && val && conv;
    for (size_t i = 0; ok && i < l->n_out; i++) {
        const struct out_tensor *t = &l->out[i];
        const struct canon *c = &l->canon[t->src];
        fill_canon(c, seed, can);
        shape_out(t, c, can, val);
        ok = write_values(f, val, n_elements(t->n_dims, t->shape), t->dtype, conv);
    }
    free(can);
    free(val);
    free(conv);
    return ok;
}

static int join(char *dst, size_t cap, const char *dir, const char *name) {
    int n = snprintf(dst, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap ? 0 : fail("path too long: %s/%s", dir, name);
}

/* Writes path with body(f, ctx); removes it on failure. */
static int write_file(const char *dir, const char *name, bool (*body)(FILE *, const void *),
                      const void *ctx) {
    char path[4096];
    if (join(path, sizeof path, dir, name))
        return 1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail("cannot write '%s': %s", path, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    errno = 0;
    bool ok = body(f, ctx);
    int err = errno;
    ok = !ferror(f) && ok;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(path);
        return fail("cannot write '%s': %s", path, strerror(err ? err : EIO));
    }
    return 0;
}

struct st_ctx {
    const struct list *l;
    uint64_t seed;
};

static bool st_body(FILE *f, const void *ctx) {
    const struct st_ctx *c = ctx;
    return write_st_body(f, c->l, c->seed);
}

static void json_floats(FILE *f, const double *v) {
    fprintf(f, "[%.8g, %.8g, %.8g]", v[0], v[1], v[2]);
}

static bool open_clip_config(FILE *f, const void *ctx) {
    const struct opts *o = ctx;
    fprintf(f,
            "{\n  \"model_cfg\": {\n    \"embed_dim\": %" PRId64 ",\n"
            "    \"quick_gelu\": %s,\n    \"vision_cfg\": {\n"
            "      \"image_size\": %" PRId64 ",\n      \"layers\": %" PRId64 ",\n"
            "      \"width\": %" PRId64 ",\n      \"patch_size\": %" PRId64 ",\n"
            "      \"head_width\": %" PRId64 ",\n      \"mlp_ratio\": 4.0\n    },\n",
            o->embed_dim, o->quick_gelu ? "true" : "false", o->image_size, o->vision_layers,
            o->vision_width, o->patch_size, o->vision_width / o->vision_heads);
    fprintf(f,
            "    \"text_cfg\": {\n      \"context_length\": %" PRId64 ",\n"
            "      \"vocab_size\": %" PRId64 ",\n      \"width\": %" PRId64 ",\n"
            "      \"heads\": %" PRId64 ",\n      \"layers\": %" PRId64 "\n    }\n  },\n",
            o->context_length, o->vocab_size, o->text_width, o->text_heads, o->text_layers);
    fputs("  \"preprocess_cfg\": {\n    \"mean\": ", f);
    json_floats(f, OPENAI_MEAN);
    fputs(",\n    \"std\": ", f);
    json_floats(f, OPENAI_STD);
    fputs(",\n    \"interpolation\": \"bicubic\",\n    \"resize_mode\": \"shortest\"\n  }\n}\n", f);
    return true;
}

static bool hf_config(FILE *f, const void *ctx) {
    const struct opts *o = ctx;
    const char *act = o->quick_gelu ? "quick_gelu" : "gelu";
    static const char *const DT[] = {"float32", "float16", "bfloat16", "float32"};
    fprintf(f,
            "{\n  \"architectures\": [\"CLIPModel\"],\n  \"model_type\": \"clip\",\n"
            "  \"initializer_factor\": 1.0,\n  \"logit_scale_init_value\": 2.6592,\n"
            "  \"projection_dim\": %" PRId64 ",\n  \"torch_dtype\": \"%s\",\n",
            o->embed_dim, DT[o->dtype]);
    fprintf(f,
            "  \"text_config\": {\n    \"model_type\": \"clip_text_model\",\n"
            "    \"hidden_act\": \"%s\",\n    \"hidden_size\": %" PRId64 ",\n"
            "    \"intermediate_size\": %" PRId64 ",\n    \"num_attention_heads\": %" PRId64 ",\n"
            "    \"num_hidden_layers\": %" PRId64 ",\n"
            "    \"max_position_embeddings\": %" PRId64 ",\n    \"vocab_size\": %" PRId64 ",\n"
            "    \"layer_norm_eps\": 1e-05,\n    \"bos_token_id\": 49406,\n"
            "    \"eos_token_id\": 49407,\n    \"pad_token_id\": 1,\n"
            "    \"projection_dim\": %" PRId64 "\n  },\n",
            act, o->text_width, 4 * o->text_width, o->text_heads, o->text_layers, o->context_length,
            o->vocab_size, o->embed_dim);
    fprintf(f,
            "  \"vision_config\": {\n    \"model_type\": \"clip_vision_model\",\n"
            "    \"hidden_act\": \"%s\",\n    \"hidden_size\": %" PRId64 ",\n"
            "    \"intermediate_size\": %" PRId64 ",\n    \"num_attention_heads\": %" PRId64 ",\n"
            "    \"num_hidden_layers\": %" PRId64 ",\n    \"image_size\": %" PRId64 ",\n"
            "    \"patch_size\": %" PRId64 ",\n    \"num_channels\": 3,\n"
            "    \"layer_norm_eps\": 1e-05,\n    \"projection_dim\": %" PRId64 "\n  }\n}\n",
            act, o->vision_width, 4 * o->vision_width, o->vision_heads, o->vision_layers,
            o->image_size, o->patch_size, o->embed_dim);
    return true;
}

/* HF's CLIPImageProcessor settings (bicubic resize of the short side, centre crop). */
static bool hf_preprocessor(FILE *f, const void *ctx) {
    const struct opts *o = ctx;
    fprintf(f,
            "{\n  \"image_processor_type\": \"CLIPImageProcessor\",\n"
            "  \"crop_size\": {\"height\": %" PRId64 ", \"width\": %" PRId64 "},\n"
            "  \"size\": {\"shortest_edge\": %" PRId64 "},\n  \"resample\": 3,\n"
            "  \"do_resize\": true,\n  \"do_center_crop\": true,\n  \"do_rescale\": true,\n"
            "  \"rescale_factor\": 0.00392156862745098,\n  \"do_normalize\": true,\n"
            "  \"do_convert_rgb\": true,\n  \"image_mean\": ",
            o->image_size, o->image_size, o->image_size);
    json_floats(f, OPENAI_MEAN);
    fputs(",\n  \"image_std\": ", f);
    json_floats(f, OPENAI_STD);
    fputs("\n}\n", f);
    return true;
}

static int make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    return fail("cannot create directory '%s': %s", path, strerror(errno ? errno : ENOTDIR));
}

static int write_layout(const struct opts *o, const char *dir, bool hf) {
    if (make_dir(dir))
        return 1;
    struct list l = {0};
    build(&l, o, hf);
    int rc = 0;
    struct st_ctx c = {&l, o->seed};
    if (hf)
        rc = write_file(dir, "config.json", hf_config, o) ||
             write_file(dir, "preprocessor_config.json", hf_preprocessor, o) ||
             write_file(dir, "model.safetensors", st_body, &c);
    else
        rc = write_file(dir, "open_clip_config.json", open_clip_config, o) ||
             write_file(dir, "open_clip_model.safetensors", st_body, &c);
    free(l.canon);
    free(l.out);
    return rc ? 1 : 0;
}

static int generate(const struct opts *o) {
    if (o->format != FMT_BOTH)
        return write_layout(o, o->out, o->format == FMT_HF);
    char oc[4096], hf[4096];
    if (make_dir(o->out) || join(oc, sizeof oc, o->out, "open_clip") ||
        join(hf, sizeof hf, o->out, "hf"))
        return 1;
    return write_layout(o, oc, false) || write_layout(o, hf, true) ? 1 : 0;
}

int main(int argc, char **argv) {
    struct opts o = {.seed = 1, .dtype = DT_F32};
    preset_tiny(&o);
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = check_dims(&o);
    if (rc)
        return rc;
    return generate(&o);
}
