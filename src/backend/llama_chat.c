/* llama_chat.c: one user turn through a model's Jinja chat template (llama_chat.h). */
#include "backend/llama_chat.h"

#include <mill/value.h>

#include <stdlib.h>
#include <string.h>

#include "core/jinja.h"

struct mill_chat {
    struct mill_jinja *tmpl;
    char *bos, *eos, *pad;
};

/* What templates write for one medium, longest first where one holds another. */
static const char *const IMAGE_SLOTS[] = {
    "<|vision_start|><|image_pad|><|vision_end|>", /* Qwen2-VL, Qwen2.5-VL, MiMo-VL */
    "<|vision_bos|><|IMAGE|><|vision_eos|>",       /* Qwen2.5-Omni */
    "<start_of_image>",                            /* Gemma 3 */
    "<|image|>",                                   /* Llama 3.2 Vision, Llama 4 */
    "[IMG]",                                       /* Pixtral, Mistral Small 3 */
    "<image>",                                     /* LLaVA, SmolVLM, InternVL */
    NULL,
};
static const char *const AUDIO_SLOTS[] = {
    "<|audio_bos|><|AUDIO|><|audio_eos|>", /* Qwen2-Audio, Qwen2.5-Omni */
    "<|audio|>",                           /* Ultravox, Phi-4-multimodal */
    "<sound>",                             /* Voxtral-style */
    "<audio>",
    NULL,
};

int mill_chat_open(const char *tmpl, const char *bos, const char *eos, const char *pad,
                   struct mill_chat **out, struct mill_err *err) {
    *out = NULL;
    struct mill_chat *c = calloc(1, sizeof *c);
    if (!c)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = mill_jinja_parse(tmpl, strlen(tmpl), &c->tmpl, err);
    if (!rc && ((bos && !(c->bos = strdup(bos))) || (eos && !(c->eos = strdup(eos))) ||
                (pad && !(c->pad = strdup(pad)))))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) {
        mill_chat_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int set_str(struct mill_value *obj, const char *key, const char *s) {
    struct mill_value v;
    if (!s)
        mill_value_null(&v);
    else if (mill_value_str(&v, s, strlen(s)))
        return MILL_ENOMEM;
    int rc = mill_value_struct_set(obj, key, &v);
    mill_value_free(&v);
    return rc;
}

/* {"type": kind, kind: ""} for a medium, {"type": "text", "text": text} for text (kind NULL). */
static int add_part(struct mill_value *list, const char *kind, const char *text) {
    struct mill_value part;
    mill_value_struct(&part);
    int rc = set_str(&part, "type", kind ? kind : "text");
    if (!rc)
        rc = set_str(&part, kind ? kind : "text", kind ? "" : text);
    if (!rc)
        rc = mill_value_list_push(list, &part);
    mill_value_free(&part);
    return rc;
}

/* The variables transformers renders with: the chat, the special tokens, no tools. */
static int make_vars(const struct mill_chat *c, const char *text, const struct mill_media *media,
                     size_t n_media, const char *marker, bool parts, struct mill_value *vars) {
    struct mill_value msg, msgs, content, v;
    mill_value_struct(vars);
    mill_value_struct(&msg);
    mill_value_list(&msgs);
    mill_value_null(&content);
    int rc = set_str(&msg, "role", "user");
    if (parts) {
        mill_value_list(&content);
        for (size_t i = 0; !rc && i < n_media; i++)
            rc = add_part(&content, media[i].kind == MILL_MOD_AUDIO ? "audio" : "image", NULL);
        if (!rc)
            rc = add_part(&content, NULL, text);
    } else {
        struct mill_buf s = {0};
        for (size_t i = 0; !rc && i < n_media; i++)
            rc = mill_buf_adds(&s, marker);
        if (!rc)
            rc = mill_buf_adds(&s, text);
        rc = rc ? rc : mill_value_str(&content, s.p ? s.p : "", s.n);
        mill_buf_free(&s);
    }
    if (!rc)
        rc = mill_value_struct_set(&msg, "content", &content);
    if (!rc)
        rc = mill_value_list_push(&msgs, &msg);
    if (!rc)
        rc = mill_value_struct_set(vars, "messages", &msgs);
    /* transformers passes the special tokens the tokenizer has: one it lacks is undefined */
    if (!rc && c->bos)
        rc = set_str(vars, "bos_token", c->bos);
    if (!rc && c->eos)
        rc = set_str(vars, "eos_token", c->eos);
    if (!rc && c->pad)
        rc = set_str(vars, "pad_token", c->pad);
    if (!rc)
        rc = set_str(vars, "tools", NULL);
    if (!rc)
        rc = set_str(vars, "documents", NULL);
    mill_value_bool(&v, true);
    if (!rc)
        rc = mill_value_struct_set(vars, "add_generation_prompt", &v);
    mill_value_free(&msg);
    mill_value_free(&msgs);
    mill_value_free(&content);
    return rc;
}

/* Replaces, in order, the first placeholder of each medium with marker; false when one has
 * none after the previous medium's. */
static bool place_markers(const struct mill_buf *in, const struct mill_media *media, size_t n_media,
                          const char *marker, struct mill_buf *out) {
    size_t at = 0;
    for (size_t i = 0; i < n_media; i++) {
        const char *const *slots = media[i].kind == MILL_MOD_AUDIO ? AUDIO_SLOTS : IMAGE_SLOTS;
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t k = 0; slots[k]; k++) {
            const char *p = strstr(in->p + at, slots[k]);
            if (p && (!best || p < best))
                best = p, best_len = strlen(slots[k]);
        }
        if (!best)
            return false;
        if (mill_buf_add(out, in->p + at, (size_t)(best - (in->p + at))) ||
            mill_buf_adds(out, marker))
            return false;
        at = (size_t)(best - in->p) + best_len;
    }
    return !mill_buf_add(out, in->p + at, in->n - at);
}

int mill_chat_user_turn(const struct mill_chat *c, const char *text, const struct mill_media *media,
                        size_t n_media, const char *marker, struct mill_buf *out,
                        struct mill_err *err) {
    struct mill_value vars;
    struct mill_buf full = {0};
    struct mill_err e = {0};
    if (n_media) { /* the processors' list content first */
        int rc = make_vars(c, text, media, n_media, marker, true, &vars);
        if (!rc)
            rc = mill_jinja_render(c->tmpl, &vars, &full, &e);
        mill_value_free(&vars);
        size_t n0 = out->n;
        if (!rc && full.p && place_markers(&full, media, n_media, marker, out)) {
            mill_buf_free(&full);
            return 0;
        }
        out->n = n0;
        if (out->p)
            out->p[n0] = 0;
        mill_buf_reset(&full);
    }
    int rc = make_vars(c, text, media, n_media, marker, false, &vars);
    if (rc)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (!rc)
        rc = mill_jinja_render(c->tmpl, &vars, &full, err);
    if (!rc && mill_buf_add(out, full.p ? full.p : "", full.n))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    mill_value_free(&vars);
    mill_buf_free(&full);
    return rc;
}

void mill_chat_free(struct mill_chat *c) {
    if (!c)
        return;
    mill_jinja_free(c->tmpl);
    free(c->bos);
    free(c->eos);
    free(c->pad);
    free(c);
}
