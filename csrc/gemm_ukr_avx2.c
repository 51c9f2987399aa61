/* AVX2 + FMA micro-kernels: 6x16 (float) and 6x8 (double) tiles use 12 of the 16
 * ymm registers for accumulators, 2 for a row of B and 1 for a broadcast of A. */
#include "gemm_ukr.h"
#include "tuning.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/* Lane sums in a fixed order: halves, then quarters, then pairs. */
static inline float hsum_avx2_s(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

static inline double hsum_avx2_d(__m256d v)
{
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
}

/* Four lane sums at once: pairwise horizontal adds within each 128-bit half, then
 * the halves. Each sum's order depends on its own vector only: (v0+v1)+(v2+v3) in
 * each half, then low + high (float); v0+v1, v2+v3, then low + high (double). */
static inline void hsum4_avx2_s(const __m256 *v, float *out)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

static inline void hsum4_avx2_d(const __m256d *v, double *out)
{
    __m256d h01 = _mm256_hadd_pd(v[0], v[1]), h23 = _mm256_hadd_pd(v[2], v[3]);
    __m256d lo = _mm256_permute2f128_pd(h01, h23, 0x20), hi = _mm256_permute2f128_pd(h01, h23, 0x31);
    _mm256_storeu_pd(out, _mm256_add_pd(lo, hi));
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
#define GATHER_NAME nnf_sgather_avx2
#define GATHER_NV NNF_GATHER_VECTORS
#define DOT_MR 3
#define DOT_NR 4
#define VHSUM hsum_avx2_s
#define VHSUM4 hsum4_avx2_s
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
#define GATHER_NAME nnf_dgather_avx2
#define GATHER_NV NNF_GATHER_VECTORS
#define DOT_MR 3
#define DOT_NR 4
#define VHSUM hsum_avx2_d
#define VHSUM4 hsum4_avx2_d
#include "gemm_ukr_vec.inc"

const nnf_gemm_arch nnf_gemm_avx2 = {
    .sblock = {.mr = 6, .nr = 16, .mc = 144, .kc = 256, .nc = 4080},
    .dblock = {.mr = 6, .nr = 8, .mc = 72, .kc = 256, .nc = 4080},
    .sukr = nnf_sukr_avx2,
    .dukr = nnf_dukr_avx2,
    .sdirect = nnf_sdukr_avx2,
    .ddirect = nnf_ddukr_avx2,
    .sdot = nnf_sdot_avx2,
    .sgather = nnf_sgather_avx2,
    .ddot = nnf_ddot_avx2,
    .dgather = nnf_dgather_avx2,
    .dot_mr = 3,
    .dot_nr = 4,
};
#endif
