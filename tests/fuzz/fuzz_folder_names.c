/* fuzz_folder_names.c: libFuzzer target for the resolution of the file names a folder's
 * metadata file holds (data/folder.c, mill_folder_resolve: os.path.join(dirname(metadata),
 * normpath(name).replace("\\", "/")) as datasets makes it). The input is "metadata path" NUL
 * "name" (no NUL: the whole input is the name beside "d/metadata.jsonl"). The result must be
 * normalised: no empty part but a leading "//", no "." part, no ".." after another part (but
 * from the metadata directory), and it must begin with that directory when the name is
 * relative. Traps otherwise. Must not read or write files. */
#include "data/folder.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether rel (the part after the metadata directory) is a normalised path. */
static bool normalised(const char *rel) {
    const char *p = rel;
    if (p[0] == '/')
        p += p[1] == '/' && p[2] != '/' ? 2 : 1;
    if (!*p)
        return rel[0] == '/';
    bool named = false; /* a part other than ".." seen */
    for (;;) {
        size_t k = strcspn(p, "/");
        bool up = k == 2 && p[0] == '.' && p[1] == '.';
        if (k == 0 || (k == 1 && p[0] == '.' && (p[1] || p != rel)) ||
            (up && (named || rel[0] == '/')))
            return false;
        named = named || !up;
        if (!p[k])
            return true;
        p += k + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *meta = "d/metadata.jsonl", *name = buf;
    if (strlen(buf) < size) { /* "meta\0name" */
        meta = buf;
        name = buf + strlen(buf) + 1;
    }
    char *got = mill_folder_resolve(meta, name);
    if (!got)
        __builtin_trap();
    if (!strchr(name, '\\') && name[0] != '/' && !strcmp(meta, "d/metadata.jsonl")) {
        if (strncmp(got, "d/", 2) || !normalised(got + 2))
            __builtin_trap();
    } else if (!strchr(name, '\\') && name[0] == '/' && !normalised(got)) {
        __builtin_trap();
    }
    free(got);
    free(buf);
    return 0;
}
