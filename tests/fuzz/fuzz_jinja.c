/* fuzz_jinja.c: libFuzzer target for the chat-template engine (src/core/jinja*.c): the input is
 * a template, as a GGUF's tokenizer.chat_template or a tokenizer_config.json brings it, parsed
 * and rendered with the variables a Python Mill prompt gives it (one user turn of list content,
 * an image then text, the special tokens, tools None, the generation prompt). Traps when a
 * failure leaves no message or a success sets one. The limits (nesting, steps, memory, output)
 * keep every input bounded. */
#include "core/jinja.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <stdint.h>
#include <string.h>

static const char VARS[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"image\":\"\"},"
    "{\"type\":\"text\",\"text\":\"Which class? caf\\u00e9\"}]},{\"role\":\"assistant\","
    "\"content\":\"A\"}],\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"tools\":null,"
    "\"documents\":null,\"add_generation_prompt\":true,\"n\":[1,2.5,null,true,\"s\"]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct mill_value vars;
    static int ready;
    if (!ready) {
        struct mill_err e = {0};
        if (mill_value_from_json(&vars, VARS, strlen(VARS), &e))
            __builtin_trap();
        ready = 1;
    }
    struct mill_jinja *t = NULL;
    struct mill_err err = {0};
    int rc = mill_jinja_parse((const char *)data, size, &t, &err);
    if (rc && !err.msg[0])
        __builtin_trap();
    if (!rc) {
        struct mill_buf out = {0};
        struct mill_err e2 = {0};
        rc = mill_jinja_render(t, &vars, &out, &e2);
        if ((rc != 0) != (e2.msg[0] != 0))
            __builtin_trap();
        mill_buf_free(&out);
    }
    mill_jinja_free(t);
    return 0;
}
