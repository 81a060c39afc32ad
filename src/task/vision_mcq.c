/* vision_mcq.c: the generative multiple-choice variants of the zero-shot image tasks, as Mill
 * runs them for vision-language models (BEHAVIOUR.md §4.3, §4.4): `cifar10_mcq` and
 * `imagenet_mcq`, on the same WebDataset shards as `cifar10` / `imagenet` (clip_zeroshot.c,
 * whose class names and image column they share). Per image, Mill's sample_rng(seed, task,
 * __key__) draws ten options: CIFAR-10's ten names shuffled, or for ImageNet nine distractors
 * sampled from the other 999 classes plus the gold, shuffled. Query:
 *   "Which of these categories best describes the image?\nA) name\n...\nAnswer with the letter
 *    of the correct option."
 * gold = the letter of the true class; metadata options (the names in order) and key; the image
 * is the doc's one medium. Greedy generation of up to 32 tokens, no stop strings; metrics
 * cifar10_mcq_acc / imagenet_mcq_acc (the §3.6 letter parser). The benchmarks `cifar10` and
 * `imagenet` list these after the zero-shot tasks and pick by model. */
#include "task/tasks.h"

#include "core/random.h"

#include <stdlib.h>
#include <string.h>

#define N_OPTIONS 10

struct mcq_set {
    const char *rng_name; /* the task part of sample_rng's seed, as Mill spells it */
    size_t n_classes;
    const char *const *(*names)(void);
    /* Writes the N_OPTIONS class indices of the options, in order, for gold class cls. */
    int (*draw)(struct mill_random *r, size_t n_classes, size_t cls, size_t *opts);
};

/* perm = list(range(10)); rng.shuffle(perm) */
static int draw_permutation(struct mill_random *r, size_t n_classes, size_t cls, size_t *opts) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        opts[i] = i;
    mill_random_shuffle(r, opts, N_OPTIONS);
    return 0;
}

/* distractors = rng.sample([i for i in range(n) if i != cls], 9); options = distractors + [cls];
 * rng.shuffle(options). sample() yields positions in that population, which skips cls. */
static int draw_distractors(struct mill_random *r, size_t n_classes, size_t cls, size_t *opts) {
    int rc = mill_random_sample(r, n_classes - 1, N_OPTIONS - 1, opts);
    if (rc)
        return rc;
    for (size_t i = 0; i < N_OPTIONS - 1; i++)
        opts[i] += opts[i] >= cls;
    opts[N_OPTIONS - 1] = cls;
    mill_random_shuffle(r, opts, N_OPTIONS);
    return 0;
}

/* "Which of these categories ...\nA) name\n...\nAnswer with the letter of the correct option." */
static int build_query(const char *const *names, const size_t *opts, struct mill_buf *b) {
    int rc = mill_buf_adds(b, "Which of these categories best describes the image?\n");
    for (size_t i = 0; !rc && i < N_OPTIONS; i++)
        rc = mill_buf_addf(b, "%c) %s\n", (char)('A' + i), names[opts[i]]);
    return rc ? rc : mill_buf_adds(b, "Answer with the letter of the correct option.");
}

/* metadata: options (the names, in order), then key. */
static int add_metadata(struct mill_doc *doc, const char *const *names, const size_t *opts,
                        const char *key) {
    struct mill_value list, item;
    mill_value_list(&list);
    int rc = 0;
    for (size_t i = 0; !rc && i < N_OPTIONS; i++) {
        rc = mill_value_str(&item, names[opts[i]], strlen(names[opts[i]]));
        if (!rc && (rc = mill_value_list_push(&list, &item)) != 0)
            mill_value_free(&item);
    }
    if (!rc)
        rc = mill_doc_meta_set(doc, "options", &list);
    mill_value_free(&list);
    return rc ? rc : mill_doc_meta_set_str(doc, "key", key);
}

static int fill_doc(struct mill_doc *doc, const struct mcq_set *set, const size_t *opts, size_t cls,
                    const char *key, const struct mill_value *img) {
    const char *const *names = set->names();
    struct mill_buf b = {0};
    char gold[2] = {0, 0};
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (opts[i] == cls)
            gold[0] = (char)('A' + i);
    int rc = build_query(names, opts, &b);
    if (!rc)
        rc = mill_doc_set_query(doc, b.p);
    mill_buf_free(&b);
    if (!rc)
        rc = mill_doc_set_target_str(doc, gold);
    if (!rc)
        rc = add_metadata(doc, names, opts, key);
    return rc ? rc : mill_doc_add_media(doc, MILL_MOD_IMAGE, img->u.s.p, img->u.s.n, NULL);
}

static int mcq_prompt(const struct mill_task_config *task, const struct mill_value *row,
                      struct mill_doc *doc, struct mill_err *err) {
    const struct mcq_set *set = task->user;
    const char *key = mill_value_as_str(mill_value_get(row, "__key__"));
    const struct mill_value *img = mill_wds_image(row);
    int64_t cls;
    if (!key)
        return mill_err_set(err, MILL_EFORMAT, "%s: sample has no __key__", task->name);
    if (!img)
        return mill_err_set(err, MILL_EFORMAT, "%s: sample %s has no image", task->name, key);
    if (mill_value_as_int(mill_value_get(row, "cls"), &cls) || cls < 0 ||
        (uint64_t)cls >= set->n_classes)
        return mill_err_set(err, MILL_EFORMAT, "%s: sample %s has no valid cls label", task->name,
                            key);
    struct mill_random r;
    const char *parts[] = {set->rng_name, key};
    size_t opts[N_OPTIONS];
    mill_sample_rng(&r, doc->seed, parts, 2);
    int rc = set->draw(&r, set->n_classes, (size_t)cls, opts);
    if (!rc)
        rc = fill_doc(doc, set, opts, (size_t)cls, key, img);
    return rc ? mill_err_set(err, rc, "out of memory") : 0;
}

static const struct mcq_set cifar10_set = {"cifar10_mcq", 10, mill_cifar10_classnames,
                                           draw_permutation};
static const struct mcq_set imagenet_set = {"imagenet_mcq", 1000, mill_imagenet_classnames,
                                            draw_distractors};

static const char *const cifar_metrics[] = {"cifar10_mcq_acc", NULL};
static const char *const imagenet_metrics[] = {"imagenet_mcq_acc", NULL};
static const char *const test_split[] = {"test", NULL};
static const char *const cifar_files[] = {"test=hf://datasets/haideraltahan/wds_cifar10/test/*.tar",
                                          NULL};
static const char *const imagenet_files[] = {
    "test=hf://datasets/haideraltahan/wds_imagenet1k/test/*.tar", NULL};
static const char *const vision[] = {"vision", "classification", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "cifar10_mcq",
     .version = 1,
     .hf_repo = "haideraltahan/wds_cifar10",
     .hf_builder = "webdataset",
     .hf_data_files = cifar_files,
     .evaluation_splits = test_split,
     .prompt = mcq_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .generation_size = 32,
     .metrics = cifar_metrics,
     .categories = vision,
     .description = "CIFAR-10 as 10-option generative multiple choice (options shuffled per "
                    "image)",
     .paper_url = "https://www.cs.toronto.edu/~kriz/cifar.html",
     .approx_num_samples = 10000,
     .user = &cifar10_set},
    {.name = "imagenet_mcq",
     .version = 1,
     .hf_repo = "haideraltahan/wds_imagenet1k",
     .hf_builder = "webdataset",
     .hf_data_files = imagenet_files,
     .evaluation_splits = test_split,
     .prompt = mcq_prompt,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .generation_size = 32,
     .metrics = imagenet_metrics,
     .categories = vision,
     .description = "ImageNet-1k as 10-option generative multiple choice (9 random "
                    "distractors per image)",
     .paper_url = "https://arxiv.org/abs/1409.0575",
     .approx_num_samples = 50000,
     .user = &imagenet_set},
};

const struct mill_tasks_table mill_tasks_vision_mcq = {MILL_ABI_VERSION, 2, tasks};
