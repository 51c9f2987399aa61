/* AVX2 + FMA micro-kernels: 6x16 (float) and 6x8 (double) tiles use 12 of the 16
 * ymm registers for accumulators, 2 for a row of B and 1 for a broadcast of A. The
 * dot kernels' 2x3 tiles keep two vectors of partial sums per element (12
 * registers), 2 for A's rows and 1 for B's column. The backward-step kernel takes
 * 10 rows in two passes of 5, each keeping its rows of a and BP2's sums in 10
 * registers and 2 units' vectors of w and their updates in 4. Packing transposes 8x8
 * blocks in registers. */
#include "gemm_ukr.h"
#include "tuning.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/* The dot kernels' reductions, by the halving tree of gemm_ukr.h: 16 float
 * partial sums in two vectors (lanes 0-7, 8-15) or 8 double ones (0-3, 4-7): the
 * two vectors added, then their halves, quarters and pairs. */
static inline float hsum8_s(__m256 v) /* lane l + lane l+4, l+2, l+1 */
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

static inline double hsum4_d(__m256d v) /* lane l + lane l+2, l+1 */
{
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
}

static inline float dot_reduce_avx2_s(const __m256 *v) { return hsum8_s(_mm256_add_ps(v[0], v[1])); }
static inline double dot_reduce_avx2_d(const __m256d *v) { return hsum4_d(_mm256_add_pd(v[0], v[1])); }

/* w - s * sgn(w) in each lane: s where w > 0, -s where w < 0, +0 otherwise (0, NaN). */
static inline __m256 l1_shrink_avx2_s(__m256 w, __m256 s)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(w, zero, _CMP_GT_OQ), s);
    const __m256 down = _mm256_and_ps(_mm256_cmp_ps(w, zero, _CMP_LT_OQ), s);
    return _mm256_sub_ps(w, _mm256_sub_ps(up, down));
}

static inline __m256d l1_shrink_avx2_d(__m256d w, __m256d s)
{
    const __m256d zero = _mm256_setzero_pd();
    const __m256d up = _mm256_and_pd(_mm256_cmp_pd(w, zero, _CMP_GT_OQ), s);
    const __m256d down = _mm256_and_pd(_mm256_cmp_pd(w, zero, _CMP_LT_OQ), s);
    return _mm256_sub_pd(w, _mm256_sub_pd(up, down));
}

/* Masks of the first n lanes (0 <= n <= lanes) for vmaskmov. */
static inline __m256i first_lanes_s(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256i first_lanes_d(int n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* The 8 x 8 floats of r[0..7] transposed in place: pairs of rows interleaved, then
 * pairs of pairs, then the 128-bit halves exchanged (24 shuffles for 64 values). */
static inline void transpose8_s(__m256 r[8])
{
    __m256 t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* s[4i + j]: in each half L, column 4L + j of rows 4i .. 4i + 3 */
    __m256d s[8];
    for (int i = 0; i < 2; i++) {
        __m256d t0 = _mm256_castps_pd(t[4 * i]), t1 = _mm256_castps_pd(t[4 * i + 1]);
        __m256d t2 = _mm256_castps_pd(t[4 * i + 2]), t3 = _mm256_castps_pd(t[4 * i + 3]);
        s[4 * i] = _mm256_unpacklo_pd(t0, t2);
        s[4 * i + 1] = _mm256_unpackhi_pd(t0, t2);
        s[4 * i + 2] = _mm256_unpacklo_pd(t1, t3);
        s[4 * i + 3] = _mm256_unpackhi_pd(t1, t3);
    }
    for (int j = 0; j < 4; j++) {
        __m256 lo = _mm256_castpd_ps(s[j]), hi = _mm256_castpd_ps(s[4 + j]);
        r[j] = _mm256_permute2f128_ps(lo, hi, 0x20);
        r[4 + j] = _mm256_permute2f128_ps(lo, hi, 0x31);
    }
}

#define UKR_NAME nnf_sukr_avx2
#define DUKR_NAME nnf_sdukr_avx2
#define STORE_NAME store_tile_s
#define REAL float
#define VEC __m256
#define VLEN 8
#define UKR_MR 6
#define UKR_NV 2
#define VZERO _mm256_setzero_ps
#define VBCAST _mm256_set1_ps
#define VLOAD _mm256_load_ps
#define VLOADU _mm256_loadu_ps
#define VSTOREU _mm256_storeu_ps
#define VMUL _mm256_mul_ps
#define VADD _mm256_add_ps
#define VFMA _mm256_fmadd_ps
#define SFMA fmaf
#define DOT_NAME nnf_sdot_avx2
#define BACKSTEP_NAME nnf_sbackstep_avx2
#define BACKSTEP_ROWS 10
#define BACKSTEP_UNITS 2
#define BACKSTEP_MOMENTUM_UNITS 2
#define BACKSTEP_PASS_ROWS 5
#define GATHER_NAME nnf_sgather_avx2
#define WINDOWS_NAME nnf_swindows_avx2
#define WINDOWS_ROWS 6
#define PACK_NAME nnf_spack_avx2
#define VTRANSPOSE transpose8_s
#define GATHER_NV NNF_GATHER_VECTORS_AVX2
#define DOT_MR 2
#define DOT_NR 3
#define DOT_REDUCE dot_reduce_avx2_s
#define VMASK __m256i
#define VMASK_FIRST first_lanes_s
#define VMASKLOAD _mm256_maskload_ps
#define VMASKSTORE _mm256_maskstore_ps
#define VL1_SHRINK l1_shrink_avx2_s
#include "gemm_ukr_vec.inc"

#define UKR_NAME nnf_dukr_avx2
#define DUKR_NAME nnf_ddukr_avx2
#define STORE_NAME store_tile_d
#define REAL double
#define VEC __m256d
#define VLEN 4
#define UKR_MR 6
#define UKR_NV 2
#define VZERO _mm256_setzero_pd
#define VBCAST _mm256_set1_pd
#define VLOAD _mm256_load_pd
#define VLOADU _mm256_loadu_pd
#define VSTOREU _mm256_storeu_pd
#define VMUL _mm256_mul_pd
#define VADD _mm256_add_pd
#define VFMA _mm256_fmadd_pd
#define SFMA fma
#define DOT_NAME nnf_ddot_avx2
#define BACKSTEP_NAME nnf_dbackstep_avx2
#define BACKSTEP_ROWS 10
#define BACKSTEP_UNITS 2
#define BACKSTEP_MOMENTUM_UNITS 2
#define BACKSTEP_PASS_ROWS 5
#define GATHER_NAME nnf_dgather_avx2
#define WINDOWS_NAME nnf_dwindows_avx2
#define WINDOWS_ROWS 6
#define GATHER_NV NNF_GATHER_VECTORS_AVX2
#define DOT_MR 2
#define DOT_NR 3
#define DOT_REDUCE dot_reduce_avx2_d
#define VMASK __m256i
#define VMASK_FIRST first_lanes_d
#define VMASKLOAD _mm256_maskload_pd
#define VMASKSTORE _mm256_maskstore_pd
#define VL1_SHRINK l1_shrink_avx2_d
#include "gemm_ukr_vec.inc"

void nnf_swindows_ymm(nnf_int m, const int *start, const float *alpha, const int *idx,
                      const int *origin, const float *b, nnf_int ldb, int kh, int kw, float *c,
                      float beta)
{
    nnf_swindows_avx2(m, start, alpha, idx, origin, b, ldb, kh, kw, c, beta);
}

const nnf_gemm_arch nnf_gemm_avx2 = {
    .sblock = {.mr = 6, .nr = 16, .mc = 144, .kc = NNF_GEMM_KC, .nc = 4080},
    .dblock = {.mr = 6, .nr = 8, .mc = 72, .kc = NNF_GEMM_KC, .nc = 4080},
    .sukr = nnf_sukr_avx2,
    .dukr = nnf_dukr_avx2,
    .sdirect = nnf_sdukr_avx2,
    .ddirect = nnf_ddukr_avx2,
    .sdot = nnf_sdot_avx2,
    .sbackstep = nnf_sbackstep_avx2,
    .backstep_rows = 10,
    .sgather = nnf_sgather_avx2,
    .swindows = nnf_swindows_avx2,
    .windows_rows = 6,
    .swindows_width = 8,
    .dwindows_width = 4,
    .spack_along_k = nnf_spack_avx2,
    .ddot = nnf_ddot_avx2,
    .dbackstep = nnf_dbackstep_avx2,
    .dgather = nnf_dgather_avx2,
    .dwindows = nnf_dwindows_avx2,
    .dot_mr = 2,
    .dot_nr = 3,
};
#endif
