/* test_chat.c: src/backend/llama_chat.c, a user turn through a model's chat template as
 * Python Mill builds it (transformers' apply_chat_template, then the processor's placeholders
 * handed to libmtmd as markers). The expected prompts are written out by hand from the
 * templates (the engine itself is checked against Jinja2 by test_jinja): Qwen2-Audio's numbered
 * clips, Qwen2-VL's images and default system turn, Gemma 3's blank lines around an image, the
 * GLM-4.xV triple, a placeholder-like string in the question left alone, templates that print
 * list content as a Python repr or write no placeholder (the markers then go at the start of a
 * string content), a missing BOS left undefined, and a per-sample template error. */
#include "backend/llama_chat.h"
#include "mtest.h"

#include <mill/buf.h>

#include <stdlib.h>

static char *read_template(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "tests/data/chat_templates/%s", name);
    char full[4096];
    mtest_source_path(full, sizeof full, path);
    char *t = mtest_read_file(full, NULL);
    CHECK(t != NULL);
    return t;
}

/* The prompt of one turn with n images (kinds[i] 'i') or clips ('a'), marker "M". */
static char *turn(const char *tmpl, const char *bos, const char *text, const char *kinds,
                  int *rc_out) {
    struct mill_chat *c = NULL;
    struct mill_err e = {0};
    struct mill_buf out = {0};
    struct mill_media media[8] = {0};
    size_t n = strlen(kinds);
    for (size_t i = 0; i < n && i < 8; i++)
        media[i].kind = kinds[i] == 'a' ? MILL_MOD_AUDIO : MILL_MOD_IMAGE;
    int rc = mill_chat_open(tmpl, bos, "</s>", NULL, &c, &e);
    if (!rc)
        rc = mill_chat_user_turn(c, text, media, n, "M", &out, &e);
    if (rc)
        fprintf(stderr, "turn: rc %d: %s\n", rc, e.msg);
    *rc_out = rc;
    mill_chat_free(c);
    return mill_buf_take(&out);
}

static void expect(const char *tmpl, const char *bos, const char *text, const char *kinds,
                   const char *want) {
    int rc;
    char *got = turn(tmpl, bos, text, kinds, &rc);
    CHECK_INT(rc, 0);
    if (!got || strcmp(got, want))
        fprintf(stderr, "template %.60s...\n  got:  [%s]\n  want: [%s]\n", tmpl,
                got ? got : "(null)", want);
    CHECK(got && !strcmp(got, want));
    free(got);
}

#define QWEN_SYS "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"

static void test_qwen(void) {
    char *audio = read_template("Qwen-Qwen2-Audio-7B-Instruct.jinja");
    char *vl = read_template("Qwen-Qwen2-VL-7B-Instruct.jinja");
    if (!audio || !vl)
        return;
    expect(audio, NULL, "What is it?", "aa",
           QWEN_SYS "<|im_start|>user\nAudio 1: M\nAudio 2: M\nWhat is it?<|im_end|>\n"
                    "<|im_start|>assistant\n");
    expect(vl, NULL, "Which?", "ii",
           QWEN_SYS "<|im_start|>user\nMMWhich?<|im_end|>\n<|im_start|>assistant\n");
    expect(vl, NULL, "Hi", "", QWEN_SYS "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    /* the question's own placeholder-like text is text */
    expect(vl, NULL, "Compare <|vision_start|><|image_pad|><|vision_end|> x", "i",
           QWEN_SYS "<|im_start|>user\nMCompare <|vision_start|><|image_pad|><|vision_end|> "
                    "x<|im_end|>\n<|im_start|>assistant\n");
    free(audio);
    free(vl);
}

static void test_slots(void) {
    /* Gemma 3: the processor puts blank lines around each image */
    expect("{{ bos_token }}{% for m in messages %}<start_of_turn>user\n{% for c in m['content'] "
           "%}{% if c['type'] == 'image' %}<start_of_image>{% else %}{{ c['text'] }}{% endif %}"
           "{% endfor %}<end_of_turn>\n{% endfor %}<start_of_turn>model\n",
           "<bos>", "Q", "i",
           "<bos><start_of_turn>user\n\n\nM\n\nQ<end_of_turn>\n<start_of_turn>model");
    /* GLM-4.xV: the three tokens are one placeholder (libmtmd adds begin and end itself) */
    expect("{% for c in messages[0]['content'] %}{% if c['type'] == 'image' %}<|begin_of_image|>"
           "<|image|><|end_of_image|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}",
           NULL, "Q", "ii", "MMQ");
    /* a template that prints list content as a Python repr: the sentinel is escaped there, so
     * the text is not found once and the markers go at the start of a string content */
    expect("{% for m in messages %}<|u|>{{ m['content'] }}{% endfor %}", NULL, "<image>\nWhat", "i",
           "<|u|>M<image>\nWhat");
    /* no placeholder we know: the string content */
    expect("{% for m in messages %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
           "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
           "{% endfor %}{% endif %}{% endfor %}",
           NULL, "Q", "ia", "MMQ");
    /* a placeholder after the text is not taken */
    expect("{% for m in messages %}{% if m['content'] is string %}[{{ m['content'] }}]{% else %}"
           "{% for c in m['content'] | reverse %}{% if c['type'] == 'image' %}<image>{% else %}"
           "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}{% endfor %}",
           NULL, "Q", "i", "[MQ]");
    /* no BOS in the vocabulary: bos_token is undefined, not None */
    expect("[{{ bos_token }}]{{ bos_token is defined }}{{ messages[0]['content'] }}", NULL, "x", "",
           "[]Falsex");
}

static void test_errors(void) {
    /* the template's own error on a sample: MILL_EFORMAT with its message */
    int rc;
    char *got = turn("{% if 'bad' in messages[0]['content'] %}{{ raise_exception('no bad words') "
                     "}}{% endif %}ok",
                     NULL, "a bad one", "", &rc);
    CHECK_INT(rc, MILL_EFORMAT);
    free(got);
    struct mill_chat *c = NULL;
    struct mill_err e = {0};
    CHECK_INT(mill_chat_open("{% if %}", NULL, NULL, NULL, &c, &e), MILL_EFORMAT);
    CHECK(c == NULL && strstr(e.msg, "chat template line 1") != NULL);
}

int main(void) {
    test_qwen();
    test_slots();
    test_errors();
    if (mtest_failed_checks) {
        fprintf(stderr, "%d check(s) failed\n", mtest_failed_checks);
        return 1;
    }
    puts("all passed");
    return 0;
}
