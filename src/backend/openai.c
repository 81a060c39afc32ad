/* openai.c: the `openai` backend (aliases `litellm`, `api`): generation through any
 * OpenAI-compatible chat API, POST {base_url}/chat/completions, with many requests in flight
 * (BEHAVIOUR.md §5.4 for Python Mill's LiteLLM path it replaces, §7.1 for where ours differs).
 * Each GENERATE request is one `user` message holding the context (images, when the spec's
 * modalities include them, as base64 PNG data URLs before the text: PNG files as they are,
 * other formats decoded and written as PNG, as Python Mill's MILL_IMAGE_FORMAT=PNG; JPEG files
 * as they are with MILL_IMAGE_FORMAT=JPEG, which we cannot encode), `max_tokens` = the task's
 * generation budget, `temperature` (0), the task's first four stop strings (all of them are
 * applied to the answer again), and any spec argument this table does not name, as a field of
 * the body. Log-probability tasks are refused up front (no prompt log-probs in chat APIs).
 * A probe before the first batch (GET /models, else a one-token request) turns a wrong URL, a
 * refused connection, a 401 or an HTML page into one error. The HTTP engine is http.c. */
#include "backend/backends.h"
#include "backend/http.h"

#include "core/log.h"
#include "core/spec.h"
#include "core/text.h"
#include "data/image.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct oai {
    struct mill_http_conf conf;
    double temperature;
    unsigned modalities;
    bool jpeg;               /* MILL_IMAGE_FORMAT=JPEG: JPEG images are sent as they are */
    struct mill_value extra; /* spec arguments sent as body fields */
    struct mill_http *http;
    char *server_model; /* the answers' "model" (or the one /models lists) */
};

/* clang-format off */
#define F(x) offsetof(struct oai, x)
static const struct mill_backend_arg oai_args[] = {
    {"model", MILL_ARG_STR, F(conf.model), NULL, "the served model's name: sent with every "
     "request and the model name in outputs (required)", 0, 0},
    {"base_url", MILL_ARG_STR, F(conf.base_url), "(OPENAI_BASE_URL, else "
     "https://api.openai.com/v1)", "the API root; requests go to {base_url}/chat/completions", 0,
     0},
    {"api_key", MILL_ARG_STR, F(conf.api_key), "(OPENAI_API_KEY)", "bearer token, sent only to "
     "base_url's host, never logged or written", 0, 0},
    {"max_retries", MILL_ARG_INT, F(conf.max_retries), "5", "retries of a request after a 429, a "
     "5xx, a timeout or a reset (backoff 2^k s with jitter, or Retry-After)", 0, 100},
    {"requests_per_minute", MILL_ARG_INT, F(conf.requests_per_minute), NULL, "at most this many "
     "requests started a minute (default: no limit)", 1, 1000000000},
    {"concurrency", MILL_ARG_INT, F(conf.concurrency), "16", "requests in flight at once", 1,
     1024},
    {"timeout", MILL_ARG_INT, F(conf.timeout), "600", "seconds one attempt of a request may take",
     1, 86400},
    {"max_context_length", MILL_ARG_INT, F(conf.max_context_length), "128000", "the model's "
     "context, in tokens (the server refuses a longer prompt: that sample fails)", 1, INT64_MAX},
    {"modalities", MILL_ARG_CUSTOM, 0, "text", "what the model takes: text, or text;image "
     "(images sent as base64 data URLs)", 0, 0},
    {"temperature", MILL_ARG_CUSTOM, 0, "0", "sampling temperature sent with every request", 0,
     0},
    {NULL, 0, 0, NULL, NULL, 0, 0},
};
#undef F
/* clang-format on */

/* modalities=text | text;image | [text,image] (any of , ; | and spaces between). */
static int parse_modalities(struct oai *o, const struct mill_model_spec *s, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&s->args, "modalities");
    o->modalities = MILL_MOD_TEXT;
    if (!v)
        return 0;
    const char *str = mill_value_as_str(v);
    if (!str)
        return mill_err_set(err, MILL_EINVAL, "openai: modalities must be text or text;image");
    o->modalities = 0;
    char word[32];
    size_t n = 0;
    for (const char *p = str;; p++) {
        bool sep = !*p || strchr("[],;| '\"", *p);
        if (!sep && n + 1 < sizeof word) {
            word[n++] = *p;
            continue;
        }
        if (sep && n) {
            word[n] = 0;
            if (!strcmp(word, "text"))
                o->modalities |= MILL_MOD_TEXT;
            else if (!strcmp(word, "image"))
                o->modalities |= MILL_MOD_IMAGE;
            else if (!strcmp(word, "audio") || !strcmp(word, "video"))
                return mill_err_set(err, MILL_EINVAL,
                                    "openai: modalities: %s input is not supported by this "
                                    "backend yet",
                                    word);
            else
                return mill_err_set(err, MILL_EINVAL,
                                    "openai: modalities: unknown modality '%s' (text, image)",
                                    word);
            n = 0;
        }
        if (!*p)
            break;
    }
    return o->modalities
               ? 0
               : mill_err_set(err, MILL_EINVAL, "openai: modalities must be text or text;image");
}

static int parse_temperature(struct oai *o, const struct mill_model_spec *s, struct mill_err *err) {
    const struct mill_value *v = mill_value_get(&s->args, "temperature");
    o->temperature = 0;
    if (!v)
        return 0;
    if (v->kind == MILL_V_INT)
        o->temperature = (double)v->u.i;
    else if (v->kind == MILL_V_FLOAT)
        o->temperature = v->u.f;
    else
        return mill_err_set(err, MILL_EINVAL, "openai: temperature must be a number");
    return o->temperature >= 0 ? 0
                               : mill_err_set(err, MILL_EINVAL, "openai: temperature must be >= 0");
}

static void oai_close(void *state);

static int oai_open(const struct mill_model_spec *spec, void **state, struct mill_err *err) {
    struct oai *o = calloc(1, sizeof *o);
    if (!o)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    int rc = mill_http_parse_spec(spec, oai_args, o, &o->extra, err);
    if (!rc)
        rc = parse_modalities(o, spec, err);
    if (!rc)
        rc = parse_temperature(o, spec, err);
    const char *fmt = getenv("MILL_IMAGE_FORMAT");
    if (!rc && fmt && *fmt) {
        if (!strcasecmp(fmt, "JPEG") || !strcasecmp(fmt, "JPG"))
            o->jpeg = true;
        else if (strcasecmp(fmt, "PNG"))
            rc = mill_err_set(err, MILL_EINVAL, "MILL_IMAGE_FORMAT must be PNG or JPEG, not '%s'",
                              fmt);
    }
    if (!rc)
        rc = mill_http_conf_finish(&o->conf, "https://api.openai.com/v1", "OPENAI_BASE_URL",
                                   "OPENAI_API_KEY", "openai", err);
    if (rc) {
        oai_close(o);
        return rc;
    }
    *state = o;
    return 0;
}

static void oai_caps(void *state, struct mill_backend_caps *c) {
    struct oai *o = state;
    memset(c, 0, sizeof *c);
    c->req_kinds = 1u << MILL_REQ_GENERATE;
    c->task_types = 1u << MILL_TASK_GENERATIVE_QA | 1u << MILL_TASK_MULTIPLE_CHOICE |
                    1u << MILL_TASK_PERPLEXITY;
    c->modalities = o->modalities;
    c->supports_logprobs = false;
    c->max_context_length = o->conf.max_context_length;
    c->class_name = "LiteLLMModel";
}

static const char *oai_model_name(void *state) { return ((struct oai *)state)->conf.model; }

/* ---- request bodies ------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int add_base64(struct mill_buf *b, const uint8_t *p, size_t n) {
    char q[4];
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        q[0] = b64[v >> 18 & 63];
        q[1] = b64[v >> 12 & 63];
        q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        rc = mill_buf_add(b, q, 4);
    }
    return rc;
}

/* ---- images: PNG data URLs ------------------------------------------------------------ */

static bool is_png(const uint8_t *p, size_t n) {
    return n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8);
}

static bool is_jpeg(const uint8_t *p, size_t n) {
    return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
}

static uint32_t crc32_png(uint32_t crc, const uint8_t *p, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static int add_be32(struct mill_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return mill_buf_add(b, x, 4);
}

static int png_chunk(struct mill_buf *b, const char *type, const uint8_t *data, size_t n) {
    int rc = add_be32(b, (uint32_t)n);
    if (!rc)
        rc = mill_buf_add(b, type, 4);
    if (!rc && n)
        rc = mill_buf_add(b, data, n);
    uint32_t crc = crc32_png(0, (const uint8_t *)type, 4);
    return rc ? rc : add_be32(b, crc32_png(crc, data, n));
}

/* An RGB image as a PNG whose zlib stream holds stored (uncompressed) deflate blocks: lossless,
 * and no compression library outside the readers that own one (ARCHITECTURE.md §2.8). */
static int write_png(const struct mill_image *im, struct mill_buf *out) {
    size_t row = (size_t)im->w * 3, raw = (row + 1) * (size_t)im->h;
    struct mill_buf z = {0};
    uint32_t a = 1, b2 = 0; /* Adler-32 */
    int rc = mill_buf_add(&z, "\x78\x01", 2);
    size_t left = raw, y = 0, x = 0; /* x: position in row y, 0 = the filter byte */
    while (!rc && left) {
        size_t blk = left < 65535 ? left : 65535;
        uint8_t h[5] = {(uint8_t)(blk == left), (uint8_t)blk, (uint8_t)(blk >> 8), (uint8_t)~blk,
                        (uint8_t)(~blk >> 8)};
        rc = mill_buf_add(&z, h, 5);
        for (size_t k = 0; !rc && k < blk;) {
            const uint8_t zero = 0, *p = &zero;
            size_t take = 1;
            if (x) {
                p = im->rgb + y * row + (x - 1);
                take = row - (x - 1) < blk - k ? row - (x - 1) : blk - k;
            }
            rc = mill_buf_add(&z, p, take);
            for (size_t j = 0; j < take; j++) {
                a = (a + p[j]) % 65521;
                b2 = (b2 + a) % 65521;
            }
            k += take;
            x += take;
            if (x == row + 1)
                x = 0, y++;
        }
        left -= blk;
    }
    if (!rc)
        rc = add_be32(&z, b2 << 16 | a);
    uint8_t ihdr[13] = {0};
    for (int i = 0; i < 4; i++) {
        ihdr[i] = (uint8_t)((uint32_t)im->w >> (24 - 8 * i));
        ihdr[4 + i] = (uint8_t)((uint32_t)im->h >> (24 - 8 * i));
    }
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    if (!rc)
        rc = mill_buf_add(out, "\x89PNG\r\n\x1a\n", 8);
    if (!rc)
        rc = png_chunk(out, "IHDR", ihdr, sizeof ihdr);
    if (!rc)
        rc = png_chunk(out, "IDAT", (const uint8_t *)z.p, z.n);
    if (!rc)
        rc = png_chunk(out, "IEND", NULL, 0);
    mill_buf_free(&z);
    return rc;
}

/* One image part: PNG bytes are sent as they are (and JPEG when MILL_IMAGE_FORMAT is JPEG);
 * any other image, or one with an EXIF orientation, is decoded as everywhere in Mill (turned)
 * and sent as a PNG. */
static int add_image(struct mill_buf *b, const struct oai *o, const struct mill_media *m, size_t i,
                     char *why, size_t n) {
    if (!m->data || !m->n) {
        snprintf(why, n, "image %zu has no bytes", i);
        return MILL_EFORMAT;
    }
    const uint8_t *p = m->data;
    size_t len = m->n;
    const char *mime = "image/png";
    struct mill_buf png = {0};
    int rc = 0;
    bool turned = mill_image_is_turned(p, len); /* sent as Mill sees it: turned, as a PNG */
    if (o->jpeg && is_jpeg(p, len) && !turned) {
        mime = "image/jpeg";
    } else if (!is_png(p, len) || turned) {
        struct mill_image im = {0};
        struct mill_err e = {0};
        if (mill_image_decode(p, len, &im, &e)) {
            snprintf(why, n, "image %zu: %.200s", i, e.msg);
            return MILL_EFORMAT;
        }
        if ((size_t)im.w * (size_t)im.h * 3 > ((size_t)64 << 20)) {
            snprintf(why, n, "image %zu: %dx%d is too large to send uncompressed", i, im.w, im.h);
            rc = MILL_EFORMAT;
        } else if (write_png(&im, &png)) {
            rc = MILL_ENOMEM;
        }
        mill_image_free(&im);
        p = (const uint8_t *)png.p;
        len = png.n;
    }
    if (!rc)
        rc = mill_buf_addf(b, "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:%s;base64,",
                           mime);
    if (!rc)
        rc = add_base64(b, p, len);
    if (!rc)
        rc = mill_buf_adds(b, "\"}},");
    mill_buf_free(&png);
    return rc == MILL_EFORMAT ? rc : rc ? MILL_ENOMEM : 0;
}

/* The user message's content: the context alone, or image parts then a text part. */
static int add_content(const struct oai *o, struct mill_buf *b, const struct mill_request *q,
                       char *why, size_t n) {
    const char *ctx = q->context ? q->context : "";
    size_t n_img = 0;
    for (size_t i = 0; i < q->n_media; i++)
        n_img += q->media[i].kind == MILL_MOD_IMAGE;
    if (!n_img)
        return mill_buf_add_json_str(b, ctx, strlen(ctx));
    int rc = mill_buf_addc(b, '[');
    for (size_t i = 0; !rc && i < q->n_media; i++) {
        if (q->media[i].kind == MILL_MOD_IMAGE)
            rc = add_image(b, o, &q->media[i], i, why, n);
    }
    if (!rc)
        rc = mill_buf_adds(b, "{\"type\":\"text\",\"text\":");
    if (!rc)
        rc = mill_buf_add_json_str(b, ctx, strlen(ctx));
    return rc ? rc : mill_buf_adds(b, "}]");
}

/* A field of ours unless the spec passes one of that name (the spec's wins). */
static bool ours(const struct oai *o, const char *key) {
    return !mill_http_has_extra(&o->extra, key);
}

static int build_body(const struct oai *o, const struct mill_request *q, struct mill_buf *b,
                      char *why, size_t n) {
    int rc = mill_buf_adds(b, "{\"model\":");
    if (!rc)
        rc = mill_buf_add_json_str(b, o->conf.model, strlen(o->conf.model));
    if (!rc)
        rc = mill_buf_adds(b, ",\"messages\":[{\"role\":\"user\",\"content\":");
    if (!rc)
        rc = add_content(o, b, q, why, n);
    if (!rc)
        rc = mill_buf_adds(b, "}]");
    if (!rc && ours(o, "max_tokens") && ours(o, "max_completion_tokens"))
        rc =
            mill_buf_addf(b, ",\"max_tokens\":%d", q->max_new_tokens > 0 ? q->max_new_tokens : 256);
    if (!rc && ours(o, "temperature")) {
        rc = mill_buf_adds(b, ",\"temperature\":");
        if (!rc)
            rc = mill_buf_add_json_num(b, o->temperature);
    }
    /* OpenAI takes at most four stop strings; every one is applied to the answer anyway. */
    size_t n_stop = 0;
    for (const char *const *s = q->stop; s && *s; s++)
        n_stop += **s != 0;
    if (!rc && n_stop && ours(o, "stop")) {
        rc = mill_buf_adds(b, ",\"stop\":[");
        size_t k = 0;
        for (const char *const *s = q->stop; !rc && s && *s && k < 4; s++) {
            if (!**s)
                continue;
            if (k++)
                rc = mill_buf_addc(b, ',');
            if (!rc)
                rc = mill_buf_add_json_str(b, *s, strlen(*s));
        }
        if (!rc)
            rc = mill_buf_addc(b, ']');
    }
    if (!rc)
        rc = mill_http_add_extra(b, &o->extra);
    return rc ? rc : mill_buf_addc(b, '}');
}

/* ---- answers -------------------------------------------------------------------------- */

struct batch {
    struct oai *o;
    struct mill_request **qs; /* qs[i] answers calls[i] */
};

/* The message's text into t: content as a string; null or absent is "" (a reasoning model
 * that spent its budget thinking, a refusal: an answer, scored as empty, not a failure); a
 * list of content parts gives its "text" parts joined. 0; 1 for any other shape; MILL_ENOMEM. */
static int message_text(const struct mill_value *msg, struct mill_buf *t) {
    const struct mill_value *c = msg ? mill_value_get(msg, "content") : NULL;
    if (!msg || msg->kind != MILL_V_STRUCT)
        return 1;
    if (!c || c->kind == MILL_V_NULL)
        return mill_buf_adds(t, "");
    if (c->kind == MILL_V_STR)
        return mill_buf_add(t, c->u.s.p, c->u.s.n) || mill_buf_adds(t, "");
    if (c->kind != MILL_V_LIST)
        return 1;
    int rc = mill_buf_adds(t, "");
    for (size_t k = 0; !rc && k < c->u.list.n; k++) {
        const struct mill_value *part = mill_value_get(&c->u.list.items[k], "text");
        const char *type = mill_value_as_str(mill_value_get(&c->u.list.items[k], "type"));
        if (part && part->kind == MILL_V_STR && (!type || !strcmp(type, "text")))
            rc = mill_buf_add(t, part->u.s.p, part->u.s.n);
    }
    return rc;
}

static int accept_answer(void *ud, size_t i, struct mill_http_call *c, char *why, size_t n) {
    struct batch *bt = ud;
    struct mill_request *q = bt->qs[i];
    struct mill_value doc;
    const struct mill_value *ch = NULL;
    int rc = mill_http_read_answer(c, &doc, &ch, why, n);
    if (rc)
        return rc;
    struct mill_buf text = {0};
    int mt = message_text(mill_value_get(ch, "message"), &text);
    if (mt == 1) {
        const char *fr = mill_value_as_str(mill_value_get(ch, "finish_reason"));
        snprintf(why, n, "the answer has no message of content (finish_reason %s)",
                 fr ? fr : "none");
        rc = MILL_EFORMAT;
    } else if (mt || mill_request_set_text(q, text.p, text.n)) {
        snprintf(why, n, "out of memory");
        rc = MILL_ENOMEM;
    } else {
        mill_http_note_model(&bt->o->server_model, &doc);
    }
    mill_buf_free(&text);
    mill_value_free(&doc);
    return rc;
}

int mill_openai_read_answer(const char *body, size_t n, struct mill_request *q, char *why,
                            size_t why_n) {
    struct oai o = {0};
    struct batch bt = {.o = &o, .qs = &q};
    struct mill_http_call c = {.status = 200, .resp = {.p = (char *)body, .n = n}};
    int rc = accept_answer(&bt, 0, &c, why, why_n);
    free(o.server_model);
    return rc;
}

static int oai_load(void *state, struct mill_err *err) {
    struct oai *o = state;
    int rc = o->http ? 0 : mill_http_open_conf(&o->http, &o->conf, err);
    struct mill_buf body = {0};
    /* with a stop string, as a task's requests: a server that refuses "stop" (OpenAI's
     * reasoning models) is one error here, not every sample failing */
    static const char *const probe_stop[] = {"\n\nQ:", NULL};
    struct mill_request one = {
        .kind = MILL_REQ_GENERATE, .context = "Hi", .max_new_tokens = 1, .stop = probe_stop};
    char why[256];
    if (!rc)
        rc = build_body(o, &one, &body, why, sizeof why)
                 ? mill_err_set(err, MILL_ENOMEM, "out of memory")
                 : 0;
    char *listed = NULL;
    if (!rc)
        rc = mill_http_check_server(o->http, &o->conf, "/chat/completions", body.p, &listed, err);
    if (!rc && listed && !o->server_model)
        o->server_model = listed;
    else
        free(listed);
    mill_buf_free(&body);
    return rc;
}

static int oai_run(void *state, struct mill_request *reqs, size_t n, struct mill_err *err) {
    struct oai *o = state;
    struct mill_http_call *calls = calloc(n ? n : 1, sizeof *calls);
    struct mill_buf *bodies = calloc(n ? n : 1, sizeof *bodies);
    struct batch bt = {.o = o, .qs = calloc(n ? n : 1, sizeof *bt.qs)};
    int rc = calls && bodies && bt.qs ? 0 : mill_err_set(err, MILL_ENOMEM, "out of memory");
    size_t nc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        struct mill_request *q = &reqs[i];
        char why[256] = "";
        if (q->kind != MILL_REQ_GENERATE) {
            mill_request_fail(q, MILL_EUNSUPPORTED,
                              "the openai backend answers generation requests only");
            continue;
        }
        int b = build_body(o, q, &bodies[nc], why, sizeof why);
        if (b == MILL_ENOMEM) {
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
        } else if (b) {
            mill_request_fail(q, b, "%s", why);
            mill_buf_reset(&bodies[nc]);
        } else {
            calls[nc] = (struct mill_http_call){
                .path = "/chat/completions", .body = bodies[nc].p, .body_n = bodies[nc].n};
            bt.qs[nc++] = q;
        }
    }
    const char *label = n ? reqs[0].task : NULL;
    if (!rc && nc)
        rc = mill_http_run(o->http, calls, nc, accept_answer, &bt, label, err);
    mill_http_calls_done(calls, bt.qs, nc, rc);
    for (size_t i = 0; bodies && i < n; i++)
        mill_buf_free(&bodies[i]);
    free(bodies);
    free(calls);
    free(bt.qs);
    return rc;
}

static int oai_provenance(void *state, struct mill_buf *out) {
    struct oai *o = state;
    int rc = mill_http_provenance(o->http, &o->conf, o->server_model, out);
    if (!rc)
        rc = mill_buf_adds(out, ",\"temperature\":");
    return rc ? rc : mill_buf_add_json_num(out, o->temperature);
}

static void oai_close(void *state) {
    struct oai *o = state;
    if (!o)
        return;
    mill_http_close(o->http);
    if (o->conf.api_key)
        memset(o->conf.api_key, 0, strlen(o->conf.api_key));
    mill_spec_free_args(oai_args, o);
    mill_value_free(&o->extra);
    free(o->server_model);
    free(o);
}

static const char *const oai_aliases[] = {"litellm", "api", NULL};

const struct mill_backend_ops mill_backend_openai = {
    .name = "openai",
    .aliases = oai_aliases,
    .args = oai_args,
    .open = oai_open,
    .caps = oai_caps,
    .model_name = oai_model_name,
    .load = oai_load,
    .run = oai_run,
    .provenance = oai_provenance,
    .close = oai_close,
};
