/* fuzz_clusters.c: libFuzzer target for the clusters.yaml parser (eval/clusters.c, on
 * libyaml). The input, made a C string, is parsed; on success every cluster must have a
 * non-empty name, no two the same, numeric fields unset (-1) or positive (gpus_per_node may
 * be 0: a CPU-only cluster), and no control character in any name, string field or bind path
 * (they end up in an sbatch script); on
 * failure the error must be MILL_EFORMAT naming the file and a line, or MILL_ENOMEM. Any
 * violation aborts so libFuzzer records the input. Must not write files; the unknown-key
 * warning is silenced. */
#include "core/log.h"
#include "eval/clusters.h"
#include "fuzz_text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s) {
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memchr(data, 0, size))
        return 0;
    mill_log_set_level(MILL_LOG_ERROR);
    char *text = fuzz_text(data, size, 1 << 16);
    if (!text)
        return 0;
    struct mill_cluster_set set = {0};
    struct mill_err err = {0};
    int rc = mill_clusters_parse(text, "fuzz.yaml", &set, &err);
    if (rc == 0) {
        for (size_t i = 0; i < set.n; i++) {
            if (!set.v[i].name || !set.v[i].name[0])
                abort();
            for (size_t j = 0; j < i; j++)
                if (!strcmp(set.v[i].name, set.v[j].name))
                    abort();
            for (int k = 0; k < MILL_CL_N_NUM; k++)
                if (set.v[i].num[k] != -1 && set.v[i].num[k] < (k == MILL_CL_GPUS ? 0 : 1))
                    abort();
            check_text(set.v[i].name);
            for (int k = 0; k < MILL_CL_N_STR; k++)
                check_text(set.v[i].str[k]);
            for (size_t b = 0; b < set.v[i].n_bind; b++)
                if (!set.v[i].bind_paths[b])
                    abort();
                else
                    check_text(set.v[i].bind_paths[b]);
        }
    } else if (rc == MILL_EFORMAT) {
        char *end = NULL;
        if (strncmp(err.msg, "fuzz.yaml:", 10) != 0 || strtol(err.msg + 10, &end, 10) < 1 ||
            *end != ':')
            abort();
    } else if (rc != MILL_ENOMEM) {
        abort();
    }
    mill_clusters_free(&set);
    free(text);
    return 0;
}
