/* clusters.h: clusters.yaml, the SLURM settings `mill schedule` reads (BEHAVIOUR.md §1.3): a
 * YAML file (read with libyaml) parsed into one struct per cluster. Parsing only: nothing here
 * submits a job or reads a file. */
#ifndef MILL_EVAL_CLUSTERS_H
#define MILL_EVAL_CLUSTERS_H

#include <mill/mill.h>

/* String fields of a cluster (keys hostname_pattern, partition, account, gpu_type, mem,
 * mem_per_gpu, venv_path, container_image). */
enum {
    MILL_CL_PATTERN,
    MILL_CL_PARTITION,
    MILL_CL_ACCOUNT,
    MILL_CL_GPU_TYPE,
    MILL_CL_MEM,
    MILL_CL_MEM_PER_GPU,
    MILL_CL_VENV,
    MILL_CL_IMAGE,
    MILL_CL_N_STR
};
/* Numeric fields, positive integers (gpus_per_node, cpus_per_task, queue_limit,
 * max_array_len). */
enum { MILL_CL_GPUS, MILL_CL_CPUS, MILL_CL_QUEUE, MILL_CL_ARRAY, MILL_CL_N_NUM };

struct mill_cluster {
    char *name;
    char *str[MILL_CL_N_STR];   /* NULL = unset (null, ~ or missing); "" is also treated unset */
    int64_t num[MILL_CL_N_NUM]; /* -1 = unset */
    char **bind_paths;          /* parsed and kept for the file's sake; mill runs no container */
    size_t n_bind;
};

struct mill_cluster_set {
    struct mill_cluster *v;
    size_t n;
};

/* Every field unset, no name. */
void mill_cluster_init(struct mill_cluster *c);
/* Frees every cluster of s and empties it. */
void mill_clusters_free(struct mill_cluster_set *s);
/* Field k, or def when unset. */
const char *mill_cluster_str(const struct mill_cluster *c, int k, const char *def);
int64_t mill_cluster_num(const struct mill_cluster *c, int k, int64_t def);

/* Parses text (one NUL-terminated YAML document, not modified) into set, appending. Mill's
 * shape (a top-level "clusters:" holding the clusters) and the flat one are accepted; each
 * cluster is a mapping of `key: value` fields (values single scalars, bind_paths a list).
 * MILL_EFORMAT names file and line; MILL_ENOMEM. What was parsed before an error stays in set
 * for mill_clusters_free. Unknown keys, whatever their value, are warned about and ignored. */
int mill_clusters_parse(char *text, const char *file, struct mill_cluster_set *set,
                        struct mill_err *err);

#endif
