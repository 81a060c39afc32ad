/* fuzz_hub_json.c: libFuzzer target for the Hub listing parser (mill_hub_parse_listing in
 * src/data/hub.c), which reads untrusted JSON from the tree and revision APIs.
 *
 * Parses the input twice into the same listing (as pagination appends pages); every entry it
 * accepts must carry a safe repo path (no leading '/', no "." or ".." segment), a size >= -1,
 * and hex oid / sha256 fields of the right length, and each accepted path must be matched by
 * itself as a glob when it holds no wildcard. Any violation aborts so libFuzzer records the
 * input. Must not write files, use the network or print on the success path. */
#include "data/hub.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool hex_ok(const char *s, size_t want) {
    size_t n = strlen(s);
    if (n != 0 && n != want)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool path_ok(const char *p) {
    if (!p || !*p || *p == '/')
        return false;
    for (const char *seg = p;;) {
        const char *e = strchr(seg, '/');
        size_t n = e ? (size_t)(e - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && !strncmp(seg, "..", 2)))
            return false;
        if (!e)
            return true;
        seg = e + 1;
    }
}

static void check(const struct mill_hub_listing *l) {
    if (l->n > l->cap || (l->n && !l->files) || !hex_ok(l->commit, 40))
        abort();
    for (size_t i = 0; i < l->n; i++) {
        const struct mill_hub_file *f = &l->files[i];
        if (!path_ok(f->path) || f->size < -1 || !hex_ok(f->oid, 40) || !hex_ok(f->sha256, 64))
            abort();
        if (!strpbrk(f->path, "*?[") && !mill_hub_glob_match(f->path, f->path))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mill_hub_listing l = {0};
    struct mill_err err = {0};
    for (int pass = 0; pass < 2; pass++) {
        size_t before = l.n;
        int rc = mill_hub_parse_listing((const char *)data, size, &l, &err);
        if (rc != MILL_OK && rc != MILL_EFORMAT && rc != MILL_ENOMEM)
            abort();
        if (rc == MILL_OK && pass == 1 && l.n != 2 * before)
            abort();
        check(&l);
        if (rc != MILL_OK)
            break;
    }
    mill_hub_listing_free(&l);
    return 0;
}
