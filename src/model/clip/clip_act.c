/* clip_act.c: the MLP activation of the CLIP towers as one ggml custom op, act(x + bias) in
 * place: exact GELU 0.5 x (1 + erf(x / sqrt 2)) or QuickGELU x * sigmoid(1.702 x).
 *
 * Why: ggml's CPU gelu_erf calls scalar erff per element (a tenth of a ViT's time), and its
 * gelu_quick is an F16 table. With AVX2+FMA this evaluates erfc by the Numerical Recipes
 * Chebyshev fit (fractional error < 1.2e-7) and exp by Cody-Waite reduction with Cephes'
 * polynomial, 8 lanes at a time; rows are processed whole (the tail through a padded block), so
 * results do not depend on threads or batch. Elsewhere it falls back to libm. This file must not
 * allocate or touch anything but the rows it is given. */
#include "model/clip/clip_impl.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static float gelu_scalar(float x, bool quick)
{
    if (quick)
        return x / (1.0f + expf(-1.702f * x));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

#ifdef HAVE_X86
#define TGT __attribute__((target("avx2,fma")))

/* e^x for x in [-87.3, 88.3] (clamped), about 1 ulp. */
TGT static __m256 exp8(__m256 x)
{
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
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                   _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc). */
TGT static __m256 erfc8(__m256 z)
{
    static const float c[10] = { -1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f,
                                 -0.18628806f, 0.27886807f, -1.13520398f, 1.48851587f,
                                 -0.82215223f, 0.17087277f };
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, one));
    __m256 p = _mm256_set1_ps(c[9]);
    for (int i = 8; i >= 0; i--)
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
    return _mm256_mul_ps(t, exp8(_mm256_fnmadd_ps(z, z, p)));
}

TGT static __m256 gelu8(__m256 x, bool quick)
{
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
TGT static void row_avx2(float *row, const float *bias, int64_t n, bool quick)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_add_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(bias + i));
        _mm256_storeu_ps(row + i, gelu8(x, quick));
    }
    if (i < n) {
        float buf[8] = { 0 }, b[8] = { 0 };
        memcpy(buf, row + i, (size_t)(n - i) * sizeof *buf);
        memcpy(b, bias + i, (size_t)(n - i) * sizeof *b);
        _mm256_storeu_ps(buf, gelu8(_mm256_add_ps(_mm256_loadu_ps(buf), _mm256_loadu_ps(b)),
                                    quick));
        memcpy(row + i, buf, (size_t)(n - i) * sizeof *buf);
    }
}

static bool have_avx2(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}
#endif

static void row_act(float *row, const float *bias, int64_t n, bool quick)
{
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
                        const struct ggml_tensor *bias, int ith, int nth, void *userdata)
{
    (void)a;
    int64_t n = dst->ne[0], rows = ggml_nrows(dst);
    int64_t per = (rows + nth - 1) / nth, r0 = per * ith;
    int64_t r1 = r0 + per < rows ? r0 + per : rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2];
        int64_t i3 = r / (dst->ne[1] * dst->ne[2]);
        float *row = (float *)((char *)dst->data + i1 * dst->nb[1] + i2 * dst->nb[2] +
                               i3 * dst->nb[3]);
        row_act(row, bias->data, n, userdata != NULL);
    }
}

struct ggml_tensor *clip_bias_act(struct ggml_context *ctx, struct ggml_tensor *x,
                                  struct ggml_tensor *bias, bool quick)
{
    static int quick_tag;
    return ggml_map_custom2_inplace(ctx, x, bias, bias_act_op, GGML_N_TASKS_MAX,
                                    quick ? &quick_tag : NULL);
}
