/* AVX2 + FMA micro-kernels: 6x16 (float) and 6x8 (double) tiles use 12 of the 16
 * ymm registers for accumulators, 2 for a row of B and 1 for a broadcast of A. */
#include "gemm_ukr.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

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
#define VFMA _mm256_fmadd_ps
#define SFMA fmaf
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
#define VFMA _mm256_fmadd_pd
#define SFMA fma
#include "gemm_ukr_vec.inc"

const nnf_gemm_arch nnf_gemm_avx2 = {
    .sblock = {.mr = 6, .nr = 16, .mc = 144, .kc = 256, .nc = 4080},
    .dblock = {.mr = 6, .nr = 8, .mc = 72, .kc = 256, .nc = 4080},
    .sukr = nnf_sukr_avx2,
    .dukr = nnf_dukr_avx2,
    .sdirect = nnf_sdukr_avx2,
    .ddirect = nnf_ddukr_avx2,
};
#endif
