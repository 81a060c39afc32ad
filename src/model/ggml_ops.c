/* ggml_ops.c: ggml custom ops of the CLIP and CLAP towers where ggml's own are slow or inexact:
 *   - act(x + bias) in place: exact GELU 0.5 x (1 + erf(x / sqrt 2)) or QuickGELU
 *     x * sigmoid(1.702 x). ggml's CPU gelu_erf calls scalar erff per element (a tenth of a
 *     ViT's time, a fifth of HTSAT's) and its gelu_quick is an F16 table. With AVX2+FMA this
 *     evaluates erfc by the Numerical Recipes Chebyshev fit (fractional error < 1.2e-7) and exp
 *     by Cody-Waite reduction with Cephes' polynomial, 8 lanes at a time, else libm. Rows are
 *     processed whole (the tail through a padded block), so results do not depend on threads or
 *     batch.
 *   - the attention head split: x + bias [D, T, N] to per-head [hd, Tp, H, N] (queries, keys)
 *     or transposed [Tp, hd, H, N] (values), zero past T. ggml's pad walks the batch in its
 *     innermost loop and cost a fifth of a ViT's time.
 *   - the linear layer x w^T of F32 weights as OpenBLAS's SGEMM, rows split over the threads
 *     (single-threaded SGEMMs over fixed blocks of rows): ggml's own F32 GEMM reaches about
 *     two thirds of OpenBLAS's speed at a Swin block's shapes. OpenBLAS is set, once, to run
 *     on the calling thread.
 * This file must not allocate or touch anything but the tensors it is given. */
#include "model/ggml_ops.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static float gelu_scalar(float x, bool quick) {
    if (quick)
        return x / (1.0f + expf(-1.702f * x));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

#ifdef HAVE_X86
#define TGT __attribute__((target("avx2,fma")))

/* e^x for x in [-87.3, 88.3] (clamped), about 1 ulp. */
TGT static __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc). */
TGT static __m256 erfc8(__m256 z) {
    static const float c[10] = {-1.26551223f, 1.00002368f,  0.37409196f, 0.09678418f,  -0.18628806f,
                                0.27886807f,  -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, one));
    __m256 p = _mm256_set1_ps(c[9]);
    for (int i = 8; i >= 0; i--)
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
    return _mm256_mul_ps(t, exp8(_mm256_fnmadd_ps(z, z, p)));
}

TGT static __m256 gelu8(__m256 x, bool quick) {
    __m256 one = _mm256_set1_ps(1.0f);
    if (quick) {
        __m256 e = exp8(_mm256_mul_ps(x, _mm256_set1_ps(-1.702f)));
        return _mm256_div_ps(x, _mm256_add_ps(one, e));
    }
    /* 1 + erf(z) = 2 - erfc(z) for z >= 0, erfc(-z) for z < 0. */
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 ec = erfc8(az);
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 s = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), ec), ec, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), s);
}

/* row[i] = act(row[i] + bias[i]) for i < n. */
TGT static void row_avx2(float *row, const float *bias, int64_t n, bool quick) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_add_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(bias + i));
        _mm256_storeu_ps(row + i, gelu8(x, quick));
    }
    if (i < n) {
        float buf[8] = {0}, b[8] = {0};
        memcpy(buf, row + i, (size_t)(n - i) * sizeof *buf);
        memcpy(b, bias + i, (size_t)(n - i) * sizeof *b);
        _mm256_storeu_ps(buf,
                         gelu8(_mm256_add_ps(_mm256_loadu_ps(buf), _mm256_loadu_ps(b)), quick));
        memcpy(row + i, buf, (size_t)(n - i) * sizeof *buf);
    }
}

static bool have_avx2(void) {
    static int cached = -1;
    if (cached < 0)
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}
#endif

static void row_act(float *row, const float *bias, int64_t n, bool quick) {
#ifdef HAVE_X86
    if (have_avx2()) {
        row_avx2(row, bias, n, quick);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        row[i] = gelu_scalar(row[i] + bias[i], quick);
}

/* The custom op: dst (a view of a, F32, contiguous rows) = act(a + bias), rows split over
 * threads. userdata is non-NULL for QuickGELU. */
static void bias_act_op(struct ggml_tensor *dst, const struct ggml_tensor *a,
                        const struct ggml_tensor *bias, int ith, int nth, void *userdata) {
    (void)a;
    int64_t n = dst->ne[0], rows = ggml_nrows(dst);
    int64_t per = (rows + nth - 1) / nth, r0 = per * ith;
    int64_t r1 = r0 + per < rows ? r0 + per : rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2];
        int64_t i3 = r / (dst->ne[1] * dst->ne[2]);
        float *row =
            (float *)((char *)dst->data + i1 * dst->nb[1] + i2 * dst->nb[2] + i3 * dst->nb[3]);
        row_act(row, bias->data, n, userdata != NULL);
    }
}

struct ggml_tensor *mill_op_bias_act(struct ggml_context *ctx, struct ggml_tensor *x,
                                     struct ggml_tensor *bias, bool quick) {
    static int quick_tag;
    return ggml_map_custom2_inplace(ctx, x, bias, bias_act_op, GGML_N_TASKS_MAX,
                                    quick ? &quick_tag : NULL);
}

static const bool plain_tag = false, transpose_tag = true;

/* One head of one image: o [hd, tp] (or [tp, hd] transposed) from s (rows of stride d). */
static void head_copy(float *o, const float *s, const float *b, int64_t d, int64_t t, int64_t tp,
                      int64_t hd, bool tr) {
    if (tr) {
        for (int64_t j = 0; j < t; j++)
            for (int64_t i = 0; i < hd; i++)
                o[i * tp + j] = s[j * d + i] + b[i];
        for (int64_t i = 0; i < hd; i++)
            for (int64_t j = t; j < tp; j++)
                o[i * tp + j] = 0.0f;
        return;
    }
    for (int64_t j = 0; j < t; j++)
        for (int64_t i = 0; i < hd; i++)
            o[j * hd + i] = s[j * d + i] + b[i];
    memset(o + t * hd, 0, (size_t)((tp - t) * hd) * sizeof *o);
}

/* dst [hd, Tp, H, N] or [Tp, hd, H, N] from src [D, T, N] (contiguous) + bias [D]; (head,
 * image) pairs split over threads. userdata points at the transpose flag. */
static void heads_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    const struct ggml_tensor *src = dst->src[0];
    const float *bias = dst->src[1]->data;
    bool tr = *(const bool *)userdata;
    int64_t hd = tr ? dst->ne[1] : dst->ne[0], tp = tr ? dst->ne[0] : dst->ne[1];
    int64_t heads = dst->ne[2], n = dst->ne[3], d = src->ne[0], t = src->ne[1];
    for (int64_t p = ith; p < heads * n; p += nth) {
        int64_t h = p % heads, img = p / heads;
        head_copy((float *)dst->data + p * hd * tp, (const float *)src->data + img * t * d + h * hd,
                  bias + h * hd, d, t, tp, hd, tr);
    }
}

struct ggml_tensor *mill_op_split_heads(struct ggml_context *ctx, struct ggml_tensor *x,
                                        struct ggml_tensor *bias, int heads, int64_t tp,
                                        bool transpose) {
    int64_t hd = x->ne[0] / heads;
    struct ggml_tensor *args[2] = {x, bias};
    void *ud = (void *)(transpose ? &transpose_tag : &plain_tag);
    return ggml_custom_4d(ctx, GGML_TYPE_F32, transpose ? tp : hd, transpose ? hd : tp, heads,
                          x->ne[2], args, 2, heads_op, GGML_N_TASKS_MAX, ud);
}

/* Splits rows [0, rows) evenly over nth threads: [*r0, *r1) for thread ith. */
static void split_rows(int64_t rows, int ith, int nth, int64_t *r0, int64_t *r1) {
    int64_t per = (rows + nth - 1) / nth;
    *r0 = per * ith < rows ? per * ith : rows;
    *r1 = *r0 + per < rows ? *r0 + per : rows;
}

/* One LayerNorm row: the arithmetic of ggml_norm (double sums, float scale), then * w + b. */
static void ln_row_scalar(const float *x, float *y, const float *w, const float *b, int64_t n,
                          float eps) {
    double sum = 0.0, sum2 = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i];
    float mean = (float)(sum / (double)n);
    for (int64_t i = 0; i < n; i++)
        sum2 += (double)((x[i] - mean) * (x[i] - mean));
    float scale = 1.0f / sqrtf((float)(sum2 / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mean) * scale * w[i] + b[i];
}

#ifdef HAVE_X86
/* The sum of 8 floats added into two double accumulators. */
TGT static void add8d(__m256 v, __m256d *acc) {
    acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

TGT static double hsum8d(const __m256d *acc) {
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(acc[0], acc[1]));
    return (t[0] + t[1]) + (t[2] + t[3]);
}

/* ln_row_scalar, 8 lanes at a time (tails scalar; rows have one length, so results do not
 * depend on threads or batch). */
TGT static void ln_row_avx2(const float *x, float *y, const float *w, const float *b, int64_t n,
                            float eps) {
    int64_t n8 = n & ~(int64_t)7;
    __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    for (int64_t i = 0; i < n8; i += 8)
        add8d(_mm256_loadu_ps(x + i), acc);
    double sum = hsum8d(acc);
    for (int64_t i = n8; i < n; i++)
        sum += (double)x[i];
    float mean = (float)(sum / (double)n);
    __m256 vm = _mm256_set1_ps(mean);
    acc[0] = acc[1] = _mm256_setzero_pd();
    for (int64_t i = 0; i < n8; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        add8d(_mm256_mul_ps(v, v), acc);
    }
    double sum2 = hsum8d(acc);
    for (int64_t i = n8; i < n; i++)
        sum2 += (double)((x[i] - mean) * (x[i] - mean));
    float scale = 1.0f / sqrtf((float)(sum2 / (double)n) + eps);
    __m256 vs = _mm256_set1_ps(scale);
    for (int64_t i = 0; i < n8; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vs);
        v = _mm256_add_ps(_mm256_mul_ps(v, _mm256_loadu_ps(w + i)), _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(y + i, v);
    }
    for (int64_t i = n8; i < n; i++)
        y[i] = (x[i] - mean) * scale * w[i] + b[i];
}

/* y = res + (y + b) over n floats. */
TGT static void residual_avx2(float *y, const float *b, const float *res, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(res + i), v));
    }
    for (; i < n; i++)
        y[i] = res[i] + (y[i] + b[i]);
}
#endif

/* LayerNorm of contiguous rows with weight and bias. userdata points at eps. */
static void layer_norm_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    const struct ggml_tensor *src = dst->src[0];
    const float *w = dst->src[1]->data, *b = dst->src[2]->data;
    float eps = *(const float *)userdata;
    int64_t n = src->ne[0], r0, r1;
    split_rows(ggml_nrows(src), ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = (const float *)src->data + r * n;
        float *y = (float *)dst->data + r * n;
#ifdef HAVE_X86
        if (have_avx2()) {
            ln_row_avx2(x, y, w, b, n, eps);
            continue;
        }
#endif
        ln_row_scalar(x, y, w, b, n, eps);
    }
}

struct ggml_tensor *mill_op_layer_norm(struct ggml_context *ctx, struct ggml_tensor *x,
                                       struct ggml_tensor *w, struct ggml_tensor *b,
                                       const float *eps) {
    struct ggml_tensor *args[3] = {x, w, b};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, x->ne[0], x->ne[1], x->ne[2], x->ne[3], args, 3,
                          layer_norm_op, GGML_N_TASKS_MAX, (void *)eps);
}

/* y = res + (y + bias) in place over contiguous rows: ggml_add(res, ggml_add(y, bias)). */
static void residual_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    (void)userdata;
    const float *b = dst->src[1]->data, *res = dst->src[2]->data;
    float *y = dst->data;
    int64_t n = dst->ne[0], r0, r1;
    split_rows(ggml_nrows(dst), ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
#ifdef HAVE_X86
        if (have_avx2()) {
            residual_avx2(y + r * n, b, res + r * n, n);
            continue;
        }
#endif
        for (int64_t i = 0; i < n; i++)
            y[r * n + i] = res[r * n + i] + (y[r * n + i] + b[i]);
    }
}

struct ggml_tensor *mill_op_bias_residual(struct ggml_context *ctx, struct ggml_tensor *y,
                                          struct ggml_tensor *bias, struct ggml_tensor *res) {
    struct ggml_tensor *args[2] = {bias, res};
    return ggml_custom_inplace(ctx, y, args, 2, residual_op, GGML_N_TASKS_MAX, NULL);
}

/* Rows per SGEMM call of linear_op. OpenBLAS computes a row differently near the end of a call
 * (its kernels take the rows in blocks), so the calls cover fixed blocks of rows whatever the
 * number of threads, and the results do not depend on it (they do on the batch, in the last
 * bits: a clip's rows fall elsewhere in the blocks). */
#define LINEAR_ROWS 256

/* dst [out, rows] = x [in, rows] w^T (w ggml [in, out], F32): blocks of LINEAR_ROWS rows, one
 * single-threaded SGEMM each, the blocks split evenly over the threads. */
static void linear_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    (void)userdata;
    const struct ggml_tensor *x = dst->src[0], *w = dst->src[1];
    int64_t in = x->ne[0], out = dst->ne[0], rows = ggml_nrows(dst), B = LINEAR_ROWS;
    int64_t blocks = (rows + B - 1) / B, b0, b1;
    split_rows(blocks, ith, nth, &b0, &b1);
    for (int64_t b = b0; b < b1; b++) {
        int64_t r0 = b * B, m = rows - r0 < B ? rows - r0 : B;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)out, (blasint)in,
                    1.0f, (const float *)x->data + r0 * in, (blasint)in, (const float *)w->data,
                    (blasint)in, 0.0f, (float *)dst->data + r0 * out, (blasint)out);
    }
}

static void blas_one_thread(void) { openblas_set_num_threads(1); }

struct ggml_tensor *mill_op_linear(struct ggml_context *ctx, struct ggml_tensor *x,
                                   struct ggml_tensor *w) {
    if (w->type != GGML_TYPE_F32 || x->type != GGML_TYPE_F32 || !ggml_is_contiguous(w) ||
        !ggml_is_contiguous(x) || x->ne[0] != w->ne[0] || w->ne[2] != 1 || w->ne[3] != 1 ||
        x->ne[0] > INT32_MAX || w->ne[1] > INT32_MAX || ggml_nrows(x) > INT32_MAX)
        return ggml_mul_mat(ctx, w, x);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_one_thread);
    struct ggml_tensor *args[2] = {x, w};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], x->ne[1], x->ne[2], x->ne[3], args, 2,
                          linear_op, GGML_N_TASKS_MAX, NULL);
}
