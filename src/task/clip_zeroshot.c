/* clip_zeroshot.c: zero-shot image classification as CLIP_benchmark and Mill run it (BEHAVIOUR.md §4.3,
 * §4.4): `cifar10` (haideraltahan/wds_cifar10, 10,000 test images, torchvision class order, the
 * 18 CLIP_benchmark templates) and `imagenet` (haideraltahan/wds_imagenet1k, 50,000 images, the
 * 1000 curated OpenAI names with Mill's two renames, 80 templates). Both read WebDataset shards;
 * the image is the sample's image-typed column, whatever its extension (`0.webp` in the Hub's
 * shards, `webp` as CLIP_benchmark writes them), the label its `cls`. Metric acc; the
 * benchmarks pick their variant by model: a VLM gets the generative MCQ variants of
 * vision_mcq.c, which share these class names and the image column.
 * Radford et al., 2021, https://arxiv.org/abs/2103.00020. */
#include "task/tasks.h"

#include "core/text.h"
#include "task/data/clip_tables.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct class_set {
    const char *const *names;
    size_t n;
};

static const char *const cifar10_names[] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck", NULL};

static const struct class_set cifar10_set = {cifar10_names, 10};
static const struct class_set imagenet_set = {imagenet_classnames, 1000};

static bool is_image_column(const char *key) {
    static const char *const exts[] = {"webp", "png", "jpg", "jpeg", NULL};
    const char *dot = strrchr(key, '.');
    const char *ext = dot ? dot + 1 : key;
    for (size_t i = 0; exts[i]; i++)
        if (!strcasecmp(ext, exts[i])) /* datasets types x.JPG as an image too */
            return true;
    return false;
}

const struct mill_value *mill_wds_image(const struct mill_value *row) {
    for (size_t i = 0; row->kind == MILL_V_STRUCT && i < row->u.obj.n; i++)
        if (row->u.obj.vals[i].kind == MILL_V_BYTES && is_image_column(row->u.obj.keys[i]))
            return &row->u.obj.vals[i];
    return NULL;
}

static int zs_prompt(const struct mill_task_config *task, const struct mill_value *row,
                     struct mill_doc *doc, struct mill_err *err) {
    const struct class_set *cs = task->user;
    const char *key = mill_value_as_str(mill_value_get(row, "__key__"));
    const struct mill_value *img = mill_wds_image(row);
    int64_t cls;
    if (!img)
        return mill_err_set(err, MILL_EFORMAT, "%s: sample %s has no image", task->name,
                            key ? key : "?");
    if (mill_value_as_int(mill_value_get(row, "cls"), &cls) || cls < 0 || (size_t)cls >= cs->n)
        return mill_err_set(err, MILL_EFORMAT, "%s: sample %s has no valid cls label", task->name,
                            key ? key : "?");
    int rc = mill_doc_add_media(doc, MILL_MOD_IMAGE, img->u.s.p, img->u.s.n, NULL);
    for (size_t i = 0; !rc && i < cs->n; i++)
        rc = mill_doc_add_choice(doc, cs->names[i]);
    if (!rc)
        rc = mill_doc_set_query(doc, "");
    if (!rc && key)
        rc = mill_doc_meta_set_str(doc, "key", key);
    doc->target_index = cls;
    return rc ? mill_err_set(err, rc, "out of memory") : 0;
}

static const char *const acc[] = {"acc", NULL};
static const char *const test_split[] = {"test", NULL};
static const char *const cifar_files[] = {"test=hf://datasets/haideraltahan/wds_cifar10/test/*.tar",
                                          NULL};
static const char *const imagenet_files[] = {
    "test=hf://datasets/haideraltahan/wds_imagenet1k/test/*.tar", NULL};
static const char *const vision[] = {"vision", "classification", NULL};

static const struct mill_task_config tasks[] = {
    {.name = "cifar10",
     .version = 1,
     .hf_repo = "haideraltahan/wds_cifar10",
     .hf_builder = "webdataset",
     .hf_data_files = cifar_files,
     .evaluation_splits = test_split,
     .prompt = zs_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_IMAGE,
     .zeroshot_templates = cifar10_templates,
     .metrics = acc,
     .categories = vision,
     .description = "CIFAR-10 zero-shot classification (18 CLIP templates)",
     .paper_url = "https://www.cs.toronto.edu/~kriz/cifar.html",
     .approx_num_samples = 10000,
     .user = &cifar10_set},
    {.name = "imagenet",
     .version = 1,
     .hf_repo = "haideraltahan/wds_imagenet1k",
     .hf_builder = "webdataset",
     .hf_data_files = imagenet_files,
     .evaluation_splits = test_split,
     .prompt = zs_prompt,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_IMAGE,
     .zeroshot_templates = imagenet_templates,
     .metrics = acc,
     .categories = vision,
     .description = "ImageNet-1k zero-shot classification (80 CLIP templates)",
     .paper_url = "https://arxiv.org/abs/1409.0575",
     .approx_num_samples = 50000,
     .user = &imagenet_set},
};

static const char *const cifar_tasks[] = {"cifar10", "cifar10_mcq", NULL};
static const char *const imagenet_tasks[] = {"imagenet", "imagenet_mcq", NULL};

static const struct mill_benchmark_config benchmarks[] = {
    {.name = "cifar10",
     .task_names = cifar_tasks,
     .metric_names = acc,
     .pick_variant_by_model = true,
     .categories = vision,
     .description = "CIFAR-10: CLIP zero-shot, or generative MCQ for VLMs"},
    {.name = "imagenet",
     .task_names = imagenet_tasks,
     .metric_names = acc,
     .pick_variant_by_model = true,
     .categories = vision,
     .description = "ImageNet-1k: CLIP zero-shot, or generative MCQ for VLMs"},
};

const struct mill_tasks_table mill_tasks_clip_zeroshot = {MILL_ABI_VERSION, 2, tasks};
const struct mill_benchmarks_table mill_benchmarks_clip_zeroshot = {MILL_ABI_VERSION, 2,
                                                                    benchmarks};

/* For the uniqueness test of the ImageNet names and the MCQ variants (vision_mcq.c). */
const char *const *mill_imagenet_classnames(void) { return imagenet_classnames; }
const char *const *mill_cifar10_classnames(void) { return cifar10_names; }
