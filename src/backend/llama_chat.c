/* llama_chat.c: one user turn through a model's Jinja chat template (llama_chat.h). */
#include "backend/llama_chat.h"

#include <mill/value.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#include "core/jinja.h"

struct mill_chat {
    struct mill_jinja *tmpl;
    char *bos, *eos, *pad;
    atomic_bool warned; /* the fallback to markers in a string was reported */
};

/* What a template writes for one medium, and what transformers' processor puts around it
 * besides the model's begin/end tokens (libmtmd adds those itself). Earliest match wins, the
 * longer one at the same place. */
struct slot {
    const char *text, *around;
};
static const struct slot IMAGE_SLOTS[] = {
    {"<|vision_start|><|image_pad|><|vision_end|>", ""}, /* Qwen2-VL, 2.5-VL, 3-VL, MiMo-VL */
    {"<|vision_bos|><|IMAGE|><|vision_eos|>", ""},       /* Qwen2.5-Omni */
    {"<|begin_of_image|><|image|><|end_of_image|>", ""}, /* GLM-4.1V, GLM-4.5V */
    {"<start_of_image>", "\n\n"}, /* Gemma 3: its processor adds blank lines around */
    {"<IMG_CONTEXT>", ""},        /* InternVL */
    {"<|image|>", ""},            /* Llama 3.2 Vision, Llama 4 */
    {"[IMG]", ""},                /* Pixtral, Mistral Small 3 */
    {"<image>", ""},              /* LLaVA, SmolVLM, Idefics3 */
    {NULL, NULL},
};
static const struct slot AUDIO_SLOTS[] = {
    {"<|audio_bos|><|AUDIO|><|audio_eos|>", ""},       /* Qwen2-Audio, Qwen2.5-Omni */
    {"<|audio_start|><|audio_pad|><|audio_end|>", ""}, /* Qwen3-Omni, Qwen3-ASR */
    {"<|audio|>", ""},                                 /* Ultravox, Phi-4-multimodal */
    {"<sound>", ""},                                   /* Music Flamingo */
    {"<audio>", ""},
    {NULL, NULL},
};

/* Stands for the text in a first render, to see where the template puts it. */
#define TEXT_SENTINEL "\x1fmill-text\x1f"

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

/* {"type": kind, kind: what} for a medium (what: its path, or the kind: Python Mill passes the
 * URL or the decoded object, never empty), {"type": "text", "text": what} (kind NULL). */
static int add_part(struct mill_value *list, const char *kind, const char *what) {
    struct mill_value part;
    mill_value_struct(&part);
    int rc = set_str(&part, "type", kind ? kind : "text");
    if (!rc)
        rc = set_str(&part, kind ? kind : "text", what);
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
        for (size_t i = 0; !rc && i < n_media; i++) {
            const char *kind = media[i].kind == MILL_MOD_AUDIO ? "audio" : "image";
            rc = add_part(&content, kind, media[i].path ? media[i].path : kind);
        }
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

/* The placeholder of each medium in a[0..end), in order: their places and slots. false, with
 * why, when one has none. */
static bool find_slots(const char *a, size_t end, const struct mill_media *media, size_t n_media,
                       size_t *at, const struct slot **slot, const char **why) {
    size_t from = 0;
    for (size_t i = 0; i < n_media; i++) {
        const struct slot *slots = media[i].kind == MILL_MOD_AUDIO ? AUDIO_SLOTS : IMAGE_SLOTS;
        const char *best = NULL;
        for (size_t k = 0; slots[k].text; k++) {
            const char *p = memmem(a + from, end - from, slots[k].text, strlen(slots[k].text));
            if (p &&
                (!best || p < best || (p == best && strlen(slots[k].text) > strlen(slot[i]->text))))
                best = p, slot[i] = &slots[k];
        }
        if (!best) {
            *why = "it writes no placeholder we know for each medium before the text";
            return false;
        }
        at[i] = (size_t)(best - a);
        from = at[i] + strlen(slot[i]->text);
    }
    return true;
}

static int render(const struct mill_chat *c, const char *text, const struct mill_media *media,
                  size_t n_media, const char *marker, bool parts, struct mill_buf *out,
                  struct mill_err *err) {
    struct mill_value vars;
    int rc = make_vars(c, text, media, n_media, marker, parts, &vars)
                 ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                 : mill_jinja_render(c->tmpl, &vars, out, err);
    mill_value_free(&vars);
    return rc;
}

/* The list-content prompt, as transformers' processor sees it, with each placeholder replaced
 * by the marker: false, with why, when the template does not give one we can place. A first
 * render with a sentinel for the text finds the placeholders written before the text (so a
 * placeholder-like string in the text itself is never taken); the real render must then have
 * the same bytes up to the text. */
static bool list_prompt(const struct mill_chat *c, const char *text, const struct mill_media *media,
                        size_t n_media, const char *marker, struct mill_buf *out, char *why,
                        size_t why_n) {
    struct mill_buf a = {0}, b = {0};
    struct mill_err e = {0};
    size_t *at = calloc(n_media, sizeof *at), head = 0;
    const struct slot **slot = calloc(n_media, sizeof *slot);
    const char *reason = NULL, *s = NULL;
    if (!at || !slot) {
        reason = "out of memory";
    } else if (render(c, TEXT_SENTINEL, media, n_media, marker, true, &a, &e)) {
        snprintf(why, why_n, "it fails on the list content transformers' processors pass (%s)",
                 e.msg);
        reason = why;
    } else if (!(s = a.p ? strstr(a.p, TEXT_SENTINEL) : NULL) || strstr(s + 1, TEXT_SENTINEL)) {
        reason = "it does not write the text once";
    } else if (head = (size_t)(s - a.p),
               !find_slots(a.p, head, media, n_media, at, slot, &reason)) {
        /* reason set */
    } else if (render(c, text, media, n_media, marker, true, &b, &e)) {
        reason = "it fails on the text";
    } else if (b.n < head || memcmp(a.p, b.p, head)) {
        reason = "what it writes before the text depends on the text";
    }
    size_t n0 = out->n, from = 0;
    for (size_t i = 0; !reason && i < n_media; i++) {
        if (mill_buf_add(out, b.p + from, at[i] - from) || mill_buf_adds(out, slot[i]->around) ||
            mill_buf_adds(out, marker) || mill_buf_adds(out, slot[i]->around))
            reason = "out of memory";
        from = at[i] + strlen(slot[i]->text);
    }
    if (!reason && mill_buf_add(out, b.p + from, b.n - from))
        reason = "out of memory";
    if (reason) {
        out->n = n0;
        if (out->p)
            out->p[n0] = 0;
        if (reason != why)
            snprintf(why, why_n, "%s", reason);
    }
    free(at);
    free(slot);
    mill_buf_free(&a);
    mill_buf_free(&b);
    return !reason;
}

int mill_chat_user_turn(struct mill_chat *c, const char *text, const struct mill_media *media,
                        size_t n_media, const char *marker, struct mill_buf *out,
                        struct mill_err *err) {
    char why[MILL_ERR_MSG_MAX + 80] = "out of memory";
    if (n_media && list_prompt(c, text, media, n_media, marker, out, why, sizeof why))
        return 0;
    if (n_media && !atomic_exchange(&c->warned, true))
        MILL_WARN("llama",
                  "chat template: %s; the media markers go at the start of the text instead, "
                  "as llama-server puts them, and the prompt may differ from Python Mill's",
                  why);
    struct mill_buf full = {0};
    int rc = render(c, text, media, n_media, marker, false, &full, err);
    if (!rc && mill_buf_add(out, full.p ? full.p : "", full.n))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
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
