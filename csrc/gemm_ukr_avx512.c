/* AVX-512F micro-kernels: 12x32 (float) and 12x16 (double) tiles use 24 of the 32
 * zmm registers for accumulators, 2 for a row of B and 1 for a broadcast of A. The
 * dot kernels' 5x5 tiles keep 25 vectors of partial sums, 5 of A's rows and 1 of B's:
 * a mini-batch of 10 rows is two blocks, so B streams from L2 twice per product.
 * The backward-step kernel keeps a column vector of 10 rows of a and BP2's 10 sums
 * in 20 registers, and 4 units' vectors of w and their updates in 8 more (4 units
 * beat 2, 5 and 8 on W4's 100 x 2880 layer: 65-70 us a step against 79-82).
 * Packing transposes 16x16 blocks in registers.
 * The body is gemm_ukr_vec.inc, the same source as the AVX2 kernels. The float
 * windows kernel is the AVX2 one: a window row of the book's 5 x 5 filters fills 5
 * of a ymm's 8 lanes and would fill 5 of a zmm's 16, for as many FMAs, and a ymm
 * load can be kept inside a cache line where a zmm load at any other offset than
 * a line's start spans two. */
#include "gemm_ukr.h"
#include "tuning.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/* The dot kernels' reductions, by the halving tree of gemm_ukr.h: one vector of 16
 * float or 8 double partial sums, its halves added and then reduced as the AVX2
 * kernels reduce theirs (never _mm512_reduce_add, whose order is the compiler's). */
static inline float dot_reduce_avx512_s(const __m512 *v)
{
    __m256 lo = _mm512_castps512_ps256(v[0]);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[0]), 1));
    __m256 y = _mm256_add_ps(lo, hi);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

static inline double dot_reduce_avx512_d(const __m512d *v)
{
    __m256d y = _mm256_add_pd(_mm512_castpd512_pd256(v[0]), _mm512_extractf64x4_pd(v[0], 1));
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(y), _mm256_extractf128_pd(y, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
}

#define FIRST_LANES_S(n) ((__mmask16)((1u << (n)) - 1))
#define FIRST_LANES_D(n) ((__mmask8)((1u << (n)) - 1))
#define MASKZ_LOADU_PS(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define MASKZ_LOADU_PD(p, mask) _mm512_maskz_loadu_pd(mask, p)

/* w - s * sgn(w) in each lane: s where w > 0, -s where w < 0, +0 otherwise (0, NaN). */
static inline __m512 l1_shrink_avx512_s(__m512 w, __m512 s)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 up = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(w, zero, _CMP_GT_OQ), s);
    const __m512 down = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(w, zero, _CMP_LT_OQ), s);
    return _mm512_sub_ps(w, _mm512_sub_ps(up, down));
}

static inline __m512d l1_shrink_avx512_d(__m512d w, __m512d s)
{
    const __m512d zero = _mm512_setzero_pd();
    const __m512d up = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(w, zero, _CMP_GT_OQ), s);
    const __m512d down = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(w, zero, _CMP_LT_OQ), s);
    return _mm512_sub_pd(w, _mm512_sub_pd(up, down));
}

/* The 16 x 16 floats of r[0..15] transposed in place: pairs of rows interleaved,
 * then pairs of pairs, then the 128-bit quarters gathered in two rounds (64
 * shuffles for 256 values). */
static inline void transpose16_s(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* s[4i + j]: in each quarter L, column 4L + j of rows 4i .. 4i + 3 */
    __m512d s[16];
    for (int i = 0; i < 4; i++) {
        __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
        __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
        s[4 * i] = _mm512_unpacklo_pd(t0, t2);
        s[4 * i + 1] = _mm512_unpackhi_pd(t0, t2);
        s[4 * i + 2] = _mm512_unpacklo_pd(t1, t3);
        s[4 * i + 3] = _mm512_unpackhi_pd(t1, t3);
    }
    for (int j = 0; j < 4; j++) {
        __m512 s0 = _mm512_castpd_ps(s[j]), s1 = _mm512_castpd_ps(s[4 + j]);
        __m512 s2 = _mm512_castpd_ps(s[8 + j]), s3 = _mm512_castpd_ps(s[12 + j]);
        __m512 x0 = _mm512_shuffle_f32x4(s0, s1, 0x44), x1 = _mm512_shuffle_f32x4(s0, s1, 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(s2, s3, 0x44), y1 = _mm512_shuffle_f32x4(s2, s3, 0xEE);
        r[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        r[8 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

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
#define BACKSTEP_NAME nnf_sbackstep_avx512
#define BACKSTEP_ROWS 10
#define BACKSTEP_UNITS 4
#define BACKSTEP_MOMENTUM_UNITS 2
#define BACKSTEP_PASS_ROWS 10
#define GATHER_NAME nnf_sgather_avx512
#define PACK_NAME nnf_spack_avx512
#define VTRANSPOSE transpose16_s
#define GATHER_NV NNF_GATHER_VECTORS_AVX512
#define DOT_MR 5
#define DOT_NR 5
#define DOT_REDUCE dot_reduce_avx512_s
#define VMASK __mmask16
#define VMASK_FIRST FIRST_LANES_S
#define VMASKLOAD MASKZ_LOADU_PS
#define VMASKSTORE _mm512_mask_storeu_ps
#define VL1_SHRINK l1_shrink_avx512_s
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
#define BACKSTEP_NAME nnf_dbackstep_avx512
#define BACKSTEP_ROWS 10
#define BACKSTEP_UNITS 4
#define BACKSTEP_MOMENTUM_UNITS 2
#define BACKSTEP_PASS_ROWS 10
#define GATHER_NAME nnf_dgather_avx512
#define WINDOWS_NAME nnf_dwindows_avx512
#define WINDOWS_ROWS 6
#define GATHER_NV NNF_GATHER_VECTORS_AVX512
#define DOT_MR 5
#define DOT_NR 5
#define DOT_REDUCE dot_reduce_avx512_d
#define VMASK __mmask8
#define VMASK_FIRST FIRST_LANES_D
#define VMASKLOAD MASKZ_LOADU_PD
#define VMASKSTORE _mm512_mask_storeu_pd
#define VL1_SHRINK l1_shrink_avx512_d
#include "gemm_ukr_vec.inc"

const nnf_gemm_arch nnf_gemm_avx512 = {
    .sblock = {.mr = 12, .nr = 32, .mc = 144, .kc = NNF_GEMM_KC, .nc = 4096},
    .dblock = {.mr = 12, .nr = 16, .mc = 96, .kc = NNF_GEMM_KC, .nc = 4096},
    .sukr = nnf_sukr_avx512,
    .dukr = nnf_dukr_avx512,
    .sdirect = nnf_sdukr_avx512,
    .ddirect = nnf_ddukr_avx512,
    .sdot = nnf_sdot_avx512,
    .sbackstep = nnf_sbackstep_avx512,
    .backstep_rows = 10,
    .sgather = nnf_sgather_avx512,
    .swindows = nnf_swindows_ymm, /* the AVX2 kernel: see above */
    .windows_rows = 6,
    .swindows_width = 8,
    .dwindows_width = 8,
    .spack_along_k = nnf_spack_avx512,
    .ddot = nnf_ddot_avx512,
    .dbackstep = nnf_dbackstep_avx512,
    .dgather = nnf_dgather_avx512,
    .dwindows = nnf_dwindows_avx512,
    .dot_mr = 5,
    .dot_nr = 5,
};
#endif
