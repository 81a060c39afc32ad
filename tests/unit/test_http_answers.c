/* test_http_answers.c: how the openai backend reads a chat completion's message
 * (src/backend/openai.c, through mill_openai_read_answer): text content; null or absent content
 * (a reasoning model that spent its budget thinking, a refusal) is an answer of "", not a
 * failure that every rerun would repeat; a list of content parts gives its text parts joined;
 * an answer with no message is an error saying so. Pure: no network. */
#include "backend/backends.h"

#include <mill/backend.h>

#include <stdlib.h>
#include <string.h>

#include "mtest.h"

/* The text an answer body gives, or NULL with *rc set when it is refused. */
static char *answer(const char *body, int *rc) {
    static const char *const stops[] = {"\n\nQ:", NULL};
    struct mill_request q = {
        .kind = MILL_REQ_GENERATE, .task = "t", .max_new_tokens = 8, .stop = stops};
    char why[256] = "";
    *rc = mill_openai_read_answer(body, strlen(body), &q, why, sizeof why);
    char *t = *rc == 0 && q.text ? strdup(q.text) : NULL;
    if (*rc)
        CHECK(why[0] != 0);
    mill_request_clear_output(&q);
    return t;
}

#define CHOICE(msg) "{\"choices\":[{\"index\":0,\"message\":" msg ",\"finish_reason\":\"stop\"}]}"

static void test_message_shapes(void) {
    static const struct {
        const char *body, *want; /* want NULL: refused */
    } cases[] = {
        {CHOICE("{\"role\":\"assistant\",\"content\":\"Paris\\n\\nQ: next\"}"), "Paris"},
        {CHOICE("{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Let me\"}"), ""},
        {CHOICE("{\"role\":\"assistant\",\"content\":null,\"refusal\":\"I cannot\"}"), ""},
        {CHOICE("{\"role\":\"assistant\"}"), ""},
        {CHOICE("{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Par\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},"
                "{\"type\":\"text\",\"text\":\"is\"}]}"),
         "Paris"},
        {CHOICE("{\"role\":\"assistant\",\"content\":[]}"), ""},
        {CHOICE("{\"role\":\"assistant\",\"content\":42}"), NULL},
        {CHOICE("null"), NULL},
        {"{\"choices\":[{\"index\":0,\"finish_reason\":\"length\"}]}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = 0;
        char *got = answer(cases[i].body, &rc);
        if (cases[i].want ? !got || strcmp(got, cases[i].want) : rc == 0)
            fprintf(stderr, "case %zu: rc %d, text '%s'\n", i, rc, got ? got : "(none)");
        if (cases[i].want)
            CHECK(got && !strcmp(got, cases[i].want));
        else
            CHECK(rc != 0 && !got);
        free(got);
    }
}

MTEST_MAIN(MTEST(test_message_shapes))
