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

/* The dot kernel's whole 2 x cols tile of floats (DOT_STORE_TILE, cols 3 or 2):
 * C := alpha * sum + beta * C for its first nr columns, each element's sum by
 * hsum8_s's pairs of lanes (l and l + 8, then l + 4, l + 2, l + 1: the same bits),
 * reduced side by side, two elements a vector and then four. One element at a time
 * the tile took 54 operations to reduce and store, as many as the FMAs of a 30-term
 * dot product (W1's output layer); this takes 30. */
static inline __attribute__((always_inline)) void
dot_store_tile_avx2_s(__m256 acc[2][3][2], float *c, nnf_int rsc, nnf_int csc, float alpha,
                      float beta, const int cols, int nr)
{
    /* q[j]: [row 0's element j, lanes l + l+8 + (l+4 + l+12) | row 1's] */
    __m256 q[3];
    for (int j = 0; j < cols; j++) {
        const __m256 top = _mm256_add_ps(acc[0][j][0], acc[0][j][1]);
        const __m256 bottom = _mm256_add_ps(acc[1][j][0], acc[1][j][1]);
        q[j] = _mm256_add_ps(_mm256_permute2f128_ps(top, bottom, 0x20),
                             _mm256_permute2f128_ps(top, bottom, 0x31));
    }
    /* lanes l + l+2: elements 0 and 1 in lanes (0, 1) and (2, 3) of each half, 2 twice */
    const __m256 r01 = _mm256_add_ps(_mm256_shuffle_ps(q[0], q[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm256_shuffle_ps(q[0], q[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 r2 = cols == 3 ? _mm256_add_ps(_mm256_shuffle_ps(q[2], q[2], _MM_SHUFFLE(1, 0, 1, 0)),
                                                _mm256_shuffle_ps(q[2], q[2], _MM_SHUFFLE(3, 2, 3, 2)))
                                : r01;
    /* lanes l + l+1: [row 0's sums of elements 0, 1, 2, 2 | row 1's] (0, 1, 0, 1 for
     * two columns) */
    const __m256 sums = _mm256_add_ps(_mm256_shuffle_ps(r01, r2, _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm256_shuffle_ps(r01, r2, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m256 t = _mm256_mul_ps(_mm256_set1_ps(alpha), sums);
    const __m128 row[2] = {_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)};
    if (csc == 1 && nr == cols) { /* no masked stores: slow on AMD's cores */
        for (int i = 0; i < 2; i++) {
            float *ci = c + i * rsc;
            __m128 v = row[i];
            /* two floats moved as one 64-bit integer (__m128i may alias anything) */
            if (beta != 0) {
                const __m128 two = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)ci));
                v = _mm_fmadd_ps(_mm_set1_ps(beta),
                                 cols == 3 ? _mm_movelh_ps(two, _mm_load_ss(ci + 2)) : two, v);
            }
            _mm_storel_epi64((__m128i *)ci, _mm_castps_si128(v));
            if (cols == 3)
                _mm_store_ss(ci + 2, _mm_movehl_ps(v, v));
        }
        return;
    }
    float lanes[2][4];
    _mm_storeu_ps(lanes[0], row[0]);
    _mm_storeu_ps(lanes[1], row[1]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < nr; j++) {
            float *cij = c + i * rsc + j * csc;
            *cij = beta == 0 ? lanes[i][j] : fmaf(beta, *cij, lanes[i][j]);
        }
}

/* The same for the 2 x cols tile of doubles: hsum4_d's pairs (l and l + 4, then
 * l + 2, l + 1), a row of the tile a vector at the end; two columns go as three whose
 * last is the second again. */
static inline __attribute__((always_inline)) void
dot_store_tile_avx2_d(__m256d acc[2][3][2], double *c, nnf_int rsc, nnf_int csc, double alpha,
                      double beta, const int cols, int nr)
{
    __m256d s[2][3];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            const int col = j < cols ? j : cols - 1;
            s[i][j] = _mm256_add_pd(acc[i][col][0], acc[i][col][1]);
        }
/* [x's lanes l + l+2 | y's] */
#define PAIR(x, y)                                                                          \
    _mm256_add_pd(_mm256_permute2f128_pd(x, y, 0x20), _mm256_permute2f128_pd(x, y, 0x31))
    const __m256d p0 = PAIR(s[0][0], s[0][2]), p1 = PAIR(s[1][0], s[1][2]);
    const __m256d q0 = PAIR(s[0][1], s[1][1]), q1 = _mm256_permute2f128_pd(q0, q0, 0x01);
#undef PAIR
    /* lanes l + l+1: [row i's sums of elements 0, 1 | 2, and another] */
    const __m256d alphas = _mm256_set1_pd(alpha);
    const __m256d row[2] = {
        _mm256_mul_pd(alphas, _mm256_add_pd(_mm256_unpacklo_pd(p0, q0), _mm256_unpackhi_pd(p0, q0))),
        _mm256_mul_pd(alphas, _mm256_add_pd(_mm256_unpacklo_pd(p1, q1), _mm256_unpackhi_pd(p1, q1)))};
    if (csc == 1 && nr == cols) {
        for (int i = 0; i < 2; i++) {
            double *ci = c + i * rsc;
            __m256d v = row[i];
            if (beta != 0) {
                const __m128d two = _mm_loadu_pd(ci);
                const __m256d had = cols == 3 ? _mm256_insertf128_pd(_mm256_castpd128_pd256(two),
                                                                     _mm_load_sd(ci + 2), 1)
                                              : _mm256_zextpd128_pd256(two);
                v = _mm256_fmadd_pd(_mm256_set1_pd(beta), had, v);
            }
            _mm_storeu_pd(ci, _mm256_castpd256_pd128(v));
            if (cols == 3)
                _mm_store_sd(ci + 2, _mm256_extractf128_pd(v, 1));
        }
        return;
    }
    double lanes[2][4];
    _mm256_storeu_pd(lanes[0], row[0]);
    _mm256_storeu_pd(lanes[1], row[1]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < nr; j++) {
            double *cij = c + i * rsc + j * csc;
            *cij = beta == 0 ? lanes[i][j] : fma(beta, *cij, lanes[i][j]);
        }
}

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
#define DOT_STORE_TILE dot_store_tile_avx2_s
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
#define DOT_STORE_TILE dot_store_tile_avx2_d
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
