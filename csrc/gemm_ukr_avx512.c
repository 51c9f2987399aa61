/* AVX-512F micro-kernels: 12x32 (float) and 12x16 (double) tiles use 24 of the 32
 * zmm registers for accumulators, 2 for a row of B and 1 for a broadcast of A.
 * The body is gemm_ukr_vec.inc, the same source as the AVX2 kernels. */
#include "gemm_ukr.h"
#include "tuning.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define UKR_NAME nnf_sukr_avx512
#define DUKR_NAME nnf_sdukr_avx512
#define STORE_NAME store_tile_s
#define REAL float
#define VEC __m512
#define VLEN 16
#define UKR_MR 12
#define UKR_NV 2
#define VZERO _mm512_setzero_ps
#define VBCAST _mm512_set1_ps
#define VLOAD _mm512_load_ps
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define VMUL _mm512_mul_ps
#define VADD _mm512_add_ps
#define VFMA _mm512_fmadd_ps
#define SFMA fmaf
#define DOT_NAME nnf_sdot_avx512
#define GATHER_NAME nnf_sgather_avx512
#define GATHER_NV NNF_GATHER_VECTORS
#define DOT_MR 3
#define DOT_NR 8
#define VHSUM _mm512_reduce_add_ps
#include "gemm_ukr_vec.inc"

#define UKR_NAME nnf_dukr_avx512
#define DUKR_NAME nnf_ddukr_avx512
#define STORE_NAME store_tile_d
#define REAL double
#define VEC __m512d
#define VLEN 8
#define UKR_MR 12
#define UKR_NV 2
#define VZERO _mm512_setzero_pd
#define VBCAST _mm512_set1_pd
#define VLOAD _mm512_load_pd
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define VMUL _mm512_mul_pd
#define VADD _mm512_add_pd
#define VFMA _mm512_fmadd_pd
#define SFMA fma
#define DOT_NAME nnf_ddot_avx512
#define GATHER_NAME nnf_dgather_avx512
#define GATHER_NV NNF_GATHER_VECTORS
#define DOT_MR 3
#define DOT_NR 8
#define VHSUM _mm512_reduce_add_pd
#include "gemm_ukr_vec.inc"

const nnf_gemm_arch nnf_gemm_avx512 = {
    .sblock = {.mr = 12, .nr = 32, .mc = 144, .kc = 384, .nc = 4096},
    .dblock = {.mr = 12, .nr = 16, .mc = 96, .kc = 256, .nc = 4096},
    .sukr = nnf_sukr_avx512,
    .dukr = nnf_dukr_avx512,
    .sdirect = nnf_sdukr_avx512,
    .ddirect = nnf_ddukr_avx512,
    .sdot = nnf_sdot_avx512,
    .sgather = nnf_sgather_avx512,
    .ddot = nnf_ddot_avx512,
    .dgather = nnf_dgather_avx512,
    .dot_mr = 3,
    .dot_nr = 8,
};
#endif
