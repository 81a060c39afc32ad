/* mmmu_pro.c: MMMU-Pro (Yue et al., 2024, https://arxiv.org/abs/2409.02813) as Mill runs it
 * (BEHAVIOUR.md §4.5): MMMU/MMMU_Pro, config `standard (10 options)`, split `test` (about 1,730
 * questions with up to seven images, image_1..image_7, each stored as the Hub's {bytes, path}).
 *  - `mmmu_pro`: generative chain of thought for vision-language models. The images go in the
 *    order the question cites them (`<image N>`), as Python Mill gathers them: every citation
 *    of an attached image (one cited twice goes twice), citations of absent ones skipped (with
 *    a warning); none left: every attached image. Each marker becomes `<image>`. Options are
 *    the Python list literal in `options`. Query "{question}\n{A. opt\n...}\n{COT}"; gold the
 *    `answer`, stripped and uppercased; up to 1024 new tokens; metric mmmu_pro_acc (the
 *    official grader).
 *  - `mmmu_pro_clip`: zero-shot classification for contrastive models over the captions
 *    "{question} {option}".strip(), where the question has its markers made "the image" and
 *    its whitespace collapsed (the option is as written), template "{c}", the first image only;
 *    metric acc.
 * A row with no image at all, or whose options are not a list, fails its sample, naming the
 * row's id. */
#include "task/tasks.h"

#include "core/log.h"
#include "core/pyliteral.h"
#include "core/regex.h"
#include "core/spec.h"
#include "core/text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 7
#define MAX_CITED 64 /* images a question may cite, repeats included */
#define MAX_OPTIONS 26
#define MARKER "(<image\\s+\\d+>)" /* Mill's <image\s+(\d+)>, the whole marker as group 1 */

static const char COT[] =
    "Answer the preceding multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of options. "
    "Think step by step before answering.";

/* One row, read and checked. */
struct mmmu {
    const struct mill_task_config *task;
    const char *id; /* the row's id, "?" when it has none */
    const char *question;
    char **options;
    size_t n_options;
    const struct mill_value *images[MAX_CITED]; /* the encoded bytes, in prompt order */
    size_t n_images;
    char *gold; /* answer, stripped and uppercased */
};

static int fail(const struct mmmu *m, struct mill_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const struct mmmu *m, struct mill_err *err, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return mill_err_set(err, MILL_EFORMAT, "%s: row %s: %s", m->task->name, m->id, why);
}

/* ---- images ---- */

/* The encoded bytes of image column n (1-based): the Hub's {bytes, path} struct (or plain
 * bytes); NULL when the column is absent or null or holds no bytes. */
static const struct mill_value *image_bytes(const struct mill_value *row, unsigned n) {
    char col[16];
    snprintf(col, sizeof col, "image_%u", n);
    const struct mill_value *v = mill_value_get(row, col);
    if (v && v->kind == MILL_V_STRUCT)
        v = mill_value_get(v, "bytes");
    return v && (v->kind == MILL_V_BYTES || v->kind == MILL_V_STR) ? v : NULL;
}

static bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

/* N of the marker q[start..start+len) ("<image" whitespace digits ">"), capped at 1000.
 * MILL_EUNSUPPORTED when the digits are not all ASCII (Python's \d and int() take any Unicode
 * decimal digit; MMMU-Pro has none). */
static int marker_number(const char *q, size_t start, size_t len, unsigned *num) {
    size_t end = start + len - 1, d = end, ws0 = start + 6, s0, sl;
    while (d > ws0 && ascii_digit(q[d - 1]))
        d--;
    mill_py_strip_span(q + ws0, d - ws0, &s0, &sl);
    if (d == end || sl != 0)
        return MILL_EUNSUPPORTED;
    *num = 0;
    for (size_t i = d; i < end; i++)
        *num = *num >= 1000 ? 1000 : *num * 10 + (unsigned)(q[i] - '0');
    return 0;
}

/* Adds image n for one citation, as Python Mill's [row[f"image_{i}"] for i in order if
 * row.get(f"image_{i}") is not None]: a repeated citation adds it again, a citation of an image
 * the row does not have adds nothing (said in a warning). */
static int cite(struct mmmu *m, const struct mill_value *row, unsigned n, struct mill_err *err) {
    const struct mill_value *img = n >= 1 && n <= MAX_IMAGES ? image_bytes(row, n) : NULL;
    if (!img) {
        MILL_WARN("task",
                  "%s: row %s: the question cites <image %u>, which the row does not have "
                  "(left out, as Python Mill does)",
                  m->task->name, m->id, n);
        return 0;
    }
    if (m->n_images == MAX_CITED)
        return fail(m, err, "the question cites more than %d images", MAX_CITED);
    m->images[m->n_images++] = img;
    return 0;
}

/* The images in citation order; none (none cited, or none of those attached): every attached
 * one, image_1..image_7. */
static int collect_images(struct mmmu *m, const struct mill_value *row, struct mill_err *err) {
    size_t from = 0, start, len;
    while (mill_re_search_from(MARKER, 0, m->question, strlen(m->question), from, &start, &len)) {
        unsigned n;
        if (marker_number(m->question, start, len, &n))
            return fail(m, err, "an image marker with non-ASCII digits is not supported");
        int rc = cite(m, row, n, err);
        if (rc)
            return rc;
        from = start + len;
    }
    bool cited = m->n_images > 0;
    for (unsigned n = 1; !cited && n <= MAX_IMAGES; n++)
        if (image_bytes(row, n))
            m->images[m->n_images++] = image_bytes(row, n);
    return m->n_images ? 0 : fail(m, err, "no image");
}

/* ---- the row ---- */

static int read_options(struct mmmu *m, const struct mill_value *row, struct mill_err *err) {
    const char *s = mill_value_as_str(mill_value_get(row, "options"));
    struct mill_err e = {0};
    if (!s)
        return fail(m, err, "options is not a string");
    int rc = mill_pyliteral_str_list(s, strlen(s), &m->options, &m->n_options, &e);
    if (rc == MILL_ENOMEM)
        return mill_err_set(err, rc, "out of memory");
    if (rc)
        return fail(m, err, "options is not a Python list literal (%s)", e.msg);
    if (m->n_options == 0 || m->n_options > MAX_OPTIONS)
        return fail(m, err, "%zu options (1 to %d wanted)", m->n_options, MAX_OPTIONS);
    return 0;
}

static void mmmu_free(struct mmmu *m) {
    mill_strv_free(m->options, m->n_options);
    free(m->gold);
}

static int read_row(struct mmmu *m, const struct mill_value *row, struct mill_err *err) {
    const char *answer = mill_value_as_str(mill_value_get(row, "answer"));
    m->id = mill_value_as_str(mill_value_get(row, "id"));
    m->id = m->id ? m->id : "?";
    m->question = mill_value_as_str(mill_value_get(row, "question"));
    if (!m->question)
        return fail(m, err, "no question");
    if (!answer)
        return fail(m, err, "no answer");
    if (!(m->gold = mill_py_strip(answer)))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    for (char *g = m->gold; *g; g++) /* str.upper(); a gold letter is ASCII */
        *g = (char)toupper((unsigned char)*g);
    int rc = read_options(m, row, err);
    return rc ? rc : collect_images(m, row, err);
}

/* ---- text ---- */

/* s with every image marker replaced by `with`. */
static int replace_markers(const char *s, const char *with, struct mill_buf *out) {
    size_t from = 0, start, len, n = strlen(s);
    int rc = 0;
    while (!rc && mill_re_search_from(MARKER, 0, s, n, from, &start, &len)) {
        rc = mill_buf_add(out, s + from, start - from);
        if (!rc)
            rc = mill_buf_adds(out, with);
        from = start + len;
    }
    return rc ? rc : mill_buf_adds(out, s + from);
}

/* " ".join(s.split()): runs of Unicode whitespace (str.isspace) become one space, none at the
 * ends. */
static int collapse_ws(const char *s, struct mill_buf *out) {
    size_t n = strlen(s), bad, st, sl;
    bool gap = false;
    int rc = mill_buf_adds(out, "");
    for (size_t i = 0, k; !rc && i < n; i += k) {
        size_t ok = mill_utf8_valid_len((const unsigned char *)s + i, n - i, &bad);
        k = ok ? ok : bad;
        mill_py_strip_span(s + i, k, &st, &sl);
        if (ok && sl == 0) {
            gap = out->n > 0;
            continue;
        }
        if (gap)
            rc = mill_buf_addc(out, ' ');
        gap = false;
        if (!rc)
            rc = mill_buf_add(out, s + i, k);
    }
    return rc;
}

/* "{question with <image>}\n{A. opt\n...}\n{COT}" */
static int build_query(const struct mmmu *m, struct mill_buf *b) {
    int rc = replace_markers(m->question, "<image>", b);
    for (size_t i = 0; !rc && i < m->n_options; i++)
        rc = mill_buf_addf(b, "\n%c. %s", (char)('A' + i), m->options[i]);
    return rc ? rc : mill_buf_addf(b, "\n%s", COT);
}

/* The caption's question: markers -> "the image", whitespace collapsed. */
static int caption_question(const struct mmmu *m, struct mill_buf *b) {
    struct mill_buf repl = {0};
    int rc = replace_markers(m->question, "the image", &repl);
    if (!rc)
        rc = collapse_ws(repl.p, b);
    mill_buf_free(&repl);
    return rc;
}

/* ---- the doc ---- */

/* Metadata as Mill writes it: subject, id, options, topic_difficulty, img_type (those the row
 * has; options the parsed list). */
static int add_metadata(struct mill_doc *doc, const struct mmmu *m, const struct mill_value *row) {
    static const char *const cols[] = {"subject", "id", "options", "topic_difficulty", "img_type"};
    int rc = 0;
    for (size_t c = 0; !rc && c < sizeof cols / sizeof cols[0]; c++) {
        const struct mill_value *v = mill_value_get(row, cols[c]);
        if (!strcmp(cols[c], "options"))
            rc = mill_doc_meta_set_strv(doc, "options", (const char *const *)m->options,
                                        m->n_options);
        else if (v)
            rc = mill_doc_meta_set(doc, cols[c], v);
    }
    return rc;
}

static int add_images(struct mill_doc *doc, const struct mmmu *m, size_t n) {
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc =
            mill_doc_add_media(doc, MILL_MOD_IMAGE, m->images[i]->u.s.p, m->images[i]->u.s.n, NULL);
    return rc;
}

static int generative_doc(struct mill_doc *doc, const struct mmmu *m) {
    struct mill_buf b = {0};
    int rc = build_query(m, &b);
    if (!rc)
        rc = mill_doc_set_query(doc, b.p);
    mill_buf_free(&b);
    if (!rc)
        rc = mill_doc_set_target_str(doc, m->gold);
    return rc ? rc : add_images(doc, m, m->n_images);
}

/* Captions as choices; gold the index of the answer letter, 0 when it names no option. */
static int clip_doc(struct mill_doc *doc, const struct mmmu *m) {
    struct mill_buf q = {0};
    int rc = mill_doc_set_query(doc, "");
    if (!rc)
        rc = caption_question(m, &q);
    for (size_t i = 0; !rc && i < m->n_options; i++) { /* f"{question} {option}".strip() */
        char *caption = mill_py_join_strip(q.p ? q.p : "", m->options[i]);
        rc = caption ? mill_doc_add_choice(doc, caption) : MILL_ENOMEM;
        free(caption);
    }
    mill_buf_free(&q);
    /* letters.index(answer) if answer in letters else 0: a substring ("BC") counts */
    char letters[27] = {0};
    for (size_t i = 0; i < m->n_options && i < 26; i++)
        letters[i] = (char)('A' + i);
    const char *hit = strstr(letters, m->gold);
    doc->target_index = hit ? hit - letters : 0;
    return rc ? rc : add_images(doc, m, 1);
}

static int mmmu_prompt(const struct mill_task_config *task, const struct mill_value *row,
                       struct mill_doc *doc, struct mill_err *err) {
    struct mmmu m = {.task = task, .id = "?"};
    int rc = read_row(&m, row, err);
    if (!rc) {
        bool clip = task->task_type == MILL_TASK_ZERO_SHOT_CLASSIFICATION;
        rc = clip ? clip_doc(doc, &m) : generative_doc(doc, &m);
        if (!rc)
            rc = add_metadata(doc, &m, row);
        if (rc)
            rc = mill_err_set(err, rc, "out of memory");
    }
    mmmu_free(&m);
    return rc;
}

/* ---- configuration ---- */

static const char *const gen_metrics[] = {"mmmu_pro_acc", NULL};
static const char *const acc[] = {"acc", NULL};
static const char *const test_split[] = {"test", NULL};
static const char *const columns[] = {"id",      "question",         "options",  "answer",
                                      "subject", "topic_difficulty", "img_type", "image_1",
                                      "image_2", "image_3",          "image_4",  "image_5",
                                      "image_6", "image_7",          NULL};
static const char *const clip_templates[] = {"{c}", NULL};
static const char *const categories[] = {"vision", "reasoning", "knowledge", NULL};

#define MMMU_DATA                                                                            \
    .version = 1, .hf_repo = "MMMU/MMMU_Pro", .hf_subset = "standard (10 options)",          \
    .hf_builder = "parquet", .hf_avail_splits = test_split, .evaluation_splits = test_split, \
    .columns = columns, .prompt = mmmu_prompt, .categories = categories,                     \
    .paper_url = "https://arxiv.org/abs/2409.02813", .approx_num_samples = 1730

static const struct mill_task_config tasks[] = {
    {.name = "mmmu_pro",
     MMMU_DATA,
     .task_type = MILL_TASK_MULTIPLE_CHOICE,
     .output_type = MILL_OUT_GENERATIVE,
     .input_modalities = MILL_MOD_IMAGE | MILL_MOD_TEXT,
     .generation_size = 1024,
     .metrics = gen_metrics,
     .description = "MMMU-Pro (10 options): multi-image multiple choice, 0-shot chain of "
                    "thought"},
    {.name = "mmmu_pro_clip",
     MMMU_DATA,
     .task_type = MILL_TASK_ZERO_SHOT_CLASSIFICATION,
     .input_modalities = MILL_MOD_IMAGE,
     .zeroshot_templates = clip_templates,
     .metrics = acc,
     .description = "MMMU-Pro (10 options) for CLIP: question + option captions, first image"},
};

static const char *const bench_tasks[] = {"mmmu_pro", "mmmu_pro_clip", NULL};
static const struct mill_benchmark_config benchmarks[] = {{
    .name = "mmmu_pro",
    .task_names = bench_tasks,
    .metric_names = gen_metrics,
    .pick_variant_by_model = true,
    .description = "MMMU-Pro: generative chain of thought for VLMs, option captions for CLIP",
    .categories = categories,
    .paper_url = "https://arxiv.org/abs/2409.02813",
}};

const struct mill_tasks_table mill_tasks_mmmu_pro = {MILL_ABI_VERSION, 2, tasks};
const struct mill_benchmarks_table mill_benchmarks_mmmu_pro = {MILL_ABI_VERSION, 1, benchmarks};
