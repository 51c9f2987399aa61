/* AVX-512F micro-kernels: 12x32 (float) and 12x16 (double) tiles use 24 of the 32
 * zmm registers for accumulators, 2 for a row of B and 1 for a broadcast of A.
 * The body is gemm_ukr_vec.inc, the same source as the AVX2 kernels. */
#include "gemm_ukr.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define VZERO _mm512_setzero_ps
#define VEC __m512
#define VLEN 16
#define REAL float
#define VBCAST _mm512_set1_ps
#define VLOAD _mm512_load_ps
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define VMUL _mm512_mul_ps
#define VFMA _mm512_fmadd_ps
#define SFMA fmaf
#define UKR_MR 12
#define UKR_NV 2
#define UKR_NAME nnf_sukr_avx512
#include "gemm_ukr_vec.inc"
#undef VZERO
#undef VEC
#undef VLEN
#undef REAL
#undef VBCAST
#undef VLOAD
#undef VLOADU
#undef VSTOREU
#undef VMUL
#undef VFMA
#undef SFMA
#undef UKR_MR
#undef UKR_NV
#undef UKR_NAME

#define VZERO _mm512_setzero_pd
#define VEC __m512d
#define VLEN 8
#define REAL double
#define VBCAST _mm512_set1_pd
#define VLOAD _mm512_load_pd
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define VMUL _mm512_mul_pd
#define VFMA _mm512_fmadd_pd
#define SFMA fma
#define UKR_MR 12
#define UKR_NV 2
#define UKR_NAME nnf_dukr_avx512
#include "gemm_ukr_vec.inc"

const nnf_gemm_arch nnf_gemm_avx512 = {
    .sblock = {.mr = 12, .nr = 32, .mc = 144, .kc = 384, .nc = 4096},
    .dblock = {.mr = 12, .nr = 16, .mc = 96, .kc = 256, .nc = 4096},
    .sukr = nnf_sukr_avx512,
    .dukr = nnf_dukr_avx512,
};
#endif
