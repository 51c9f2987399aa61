/* Max pooling (argmax forward, scatter backward) and L2 pooling in float and
 * double from one source (pool.inc). */
#include <math.h>

#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

#if defined(__SSE2__)
#include <emmintrin.h>

/* v wins over best when greater, or when v is NaN and best is not (pool.inc's rule):
 * "not v <= best" is true for either NaN, and a NaN best never loses. */
static inline __m128 wins_s(__m128 v, __m128 best)
{
    return _mm_and_ps(_mm_cmpnle_ps(v, best), _mm_cmpord_ps(best, best));
}

/* Four windows of the float 2x2 pool, z to z + 3 of output row y, in SSE2 (the
 * baseline of every x86-64): two rows of eight pixels split into the windows' four
 * corners, which are then compared in pool.inc's order. */
static inline __attribute__((always_inline)) void
maxpool_4_windows_sse2(nnf_int y, nnf_int z, nnf_int w, const float *xp, float *op, int *ap)
{
    const nnf_int ow = w / 2;
    const float *r0 = xp + 2 * y * w, *r1 = r0 + w;
    __m128 lo0 = _mm_loadu_ps(r0 + 2 * z), hi0 = _mm_loadu_ps(r0 + 2 * z + 4);
    __m128 lo1 = _mm_loadu_ps(r1 + 2 * z), hi1 = _mm_loadu_ps(r1 + 2 * z + 4);
    __m128 corner[4] = {_mm_shuffle_ps(lo0, hi0, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm_shuffle_ps(lo0, hi0, _MM_SHUFFLE(3, 1, 3, 1)),
                        _mm_shuffle_ps(lo1, hi1, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm_shuffle_ps(lo1, hi1, _MM_SHUFFLE(3, 1, 3, 1))};
    const int offset[4] = {0, 1, (int)w, (int)w + 1};
    const __m128i first = _mm_add_epi32(_mm_set1_epi32((int)(2 * y * w + 2 * z)),
                                        _mm_setr_epi32(0, 2, 4, 6));
    __m128 best = corner[0];
    __m128i at = first;
    for (int t = 1; t < 4; t++) {
        __m128 win = wins_s(corner[t], best);
        __m128i wini = _mm_castps_si128(win);
        best = _mm_or_ps(_mm_and_ps(win, corner[t]), _mm_andnot_ps(win, best));
        at = _mm_or_si128(_mm_and_si128(wini, _mm_add_epi32(first, _mm_set1_epi32(offset[t]))),
                          _mm_andnot_si128(wini, at));
    }
    _mm_storeu_ps(op + y * ow + z, best);
    _mm_storeu_si128((__m128i *)(ap + y * ow + z), at);
}

/* The float 2x2 pool of one plane, four windows at a time. Returns how many windows
 * of each row it did (a multiple of 4); the caller does the rest. */
static nnf_int maxpool_2x2_sse2(nnf_int h, nnf_int w, const float *xp, float *op, int *ap)
{
    const nnf_int oh = h / 2, ow = w / 2, done = ow - ow % 4;
    for (nnf_int y = 0; y < oh; y++)
        for (nnf_int z = 0; z < done; z += 4)
            maxpool_4_windows_sse2(y, z, w, xp, op, ap);
    return done;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The AVX-512 pool (pool_avx512.c, compiled for AVX-512 as the other AVX-512 kernels). */
nnf_int nnf_maxpool_2x2_avx512(nnf_int h, nnf_int w, const float *xp, float *op, int *ap);

/* Eight windows' maxima and argmax in AVX2 from their two rows of pixels, the upper
 * in lo0 and hi0, the lower in lo1 and hi1 (each 128-bit lane's windows from its own
 * lanes), whose first corners' flat indices are `first`: the corners split by in-lane
 * shuffles, then pool.inc's order, "not v <= best" true for either NaN, and a NaN
 * best never losing. */
__attribute__((target("avx2"))) static inline void
maxpool_8_windows_avx2(__m256 lo0, __m256 hi0, __m256 lo1, __m256 hi1, __m256i first,
                       nnf_int w, __m256 *best, __m256i *at)
{
    const __m256 corner[4] = {_mm256_shuffle_ps(lo0, hi0, _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm256_shuffle_ps(lo0, hi0, _MM_SHUFFLE(3, 1, 3, 1)),
                              _mm256_shuffle_ps(lo1, hi1, _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm256_shuffle_ps(lo1, hi1, _MM_SHUFFLE(3, 1, 3, 1))};
    const int offset[4] = {0, 1, (int)w, (int)w + 1};
    *best = corner[0];
    *at = first;
    for (int t = 1; t < 4; t++) {
        const __m256 win = _mm256_and_ps(_mm256_cmp_ps(corner[t], *best, _CMP_NLE_UQ),
                                         _mm256_cmp_ps(*best, *best, _CMP_ORD_Q));
        const __m256i next = _mm256_add_epi32(first, _mm256_set1_epi32(offset[t]));
        *best = _mm256_blendv_ps(*best, corner[t], win);
        *at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*at),
                                                   _mm256_castsi256_ps(next), win));
    }
}

/* Four floats from each of two rows, one in each 128-bit lane. */
__attribute__((target("avx2"))) static inline __m256 two_rows(const float *low, const float *high)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(low)), _mm_loadu_ps(high), 1);
}

/* The same in AVX2, eight windows a step: along a row, then four in SSE2 (W4's rows
 * of twelve windows: 8 + 4), the in-lane shuffles leaving the windows in the order 0
 * 1 4 5 2 3 6 7, which the argmax's first indices follow, and one permute of 64-bit
 * pairs restoring it before the stores; or, for rows of four windows (W5's second
 * pool), two rows a step, a row in each 128-bit lane. The same maxima and argmax as
 * SSE2's (benches/RESULTS.md has the times). Returns how many windows of each row it did. */
__attribute__((target("avx2"))) static nnf_int
maxpool_2x2_avx2(nnf_int h, nnf_int w, const float *xp, float *op, int *ap)
{
    const nnf_int oh = h / 2, ow = w / 2, done = ow - ow % 4;
    __m256 best;
    __m256i at;
    if (ow == 4) {
        const __m256i lanes = _mm256_setr_epi32(0, 2, 4, 6, (int)(2 * w), (int)(2 * w + 2),
                                                (int)(2 * w + 4), (int)(2 * w + 6));
        nnf_int y = 0;
        for (; y + 2 <= oh; y += 2) {
            /* pixel rows 2y and 2y + 1 in the low lanes, 2y + 2 and 2y + 3 in the high */
            const float *r0 = xp + 2 * y * w, *r1 = r0 + w;
            const __m256 lo0 = two_rows(r0, r0 + 2 * w), hi0 = two_rows(r0 + 4, r0 + 2 * w + 4);
            const __m256 lo1 = two_rows(r1, r1 + 2 * w), hi1 = two_rows(r1 + 4, r1 + 2 * w + 4);
            const __m256i first = _mm256_add_epi32(_mm256_set1_epi32((int)(2 * y * w)), lanes);
            maxpool_8_windows_avx2(lo0, hi0, lo1, hi1, first, w, &best, &at);
            _mm256_storeu_ps(op + y * ow, best); /* rows y and y + 1, back to back */
            _mm256_storeu_si256((__m256i *)(ap + y * ow), at);
        }
        if (y < oh)
            maxpool_4_windows_sse2(y, 0, w, xp, op, ap);
        return done;
    }
    const __m256i lanes = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    for (nnf_int y = 0; y < oh; y++) {
        const float *r0 = xp + 2 * y * w, *r1 = r0 + w;
        nnf_int z = 0;
        for (; z + 8 <= ow; z += 8) {
            const __m256 lo0 = _mm256_loadu_ps(r0 + 2 * z);
            const __m256 hi0 = _mm256_loadu_ps(r0 + 2 * z + 8);
            const __m256 lo1 = _mm256_loadu_ps(r1 + 2 * z);
            const __m256 hi1 = _mm256_loadu_ps(r1 + 2 * z + 8);
            const __m256i first =
                _mm256_add_epi32(_mm256_set1_epi32((int)(2 * y * w + 2 * z)), lanes);
            maxpool_8_windows_avx2(lo0, hi0, lo1, hi1, first, w, &best, &at);
#define IN_ORDER _MM_SHUFFLE(3, 1, 2, 0) /* the 64-bit pairs 0 2 1 3 */
            best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), IN_ORDER));
            at = _mm256_permute4x64_epi64(at, IN_ORDER);
#undef IN_ORDER
            _mm256_storeu_ps(op + y * ow + z, best);
            _mm256_storeu_si256((__m256i *)(ap + y * ow + z), at);
        }
        for (; z < done; z += 4)
            maxpool_4_windows_sse2(y, z, w, xp, op, ap);
    }
    return done;
}

/* AVX-512 where the kernels in use are (cpu.c: the CPU has it, NNFAST_ARCH did not
 * choose another) and a row has more windows than one SSE2 step takes (a row of
 * four, W5's second pool, would leave twelve of sixteen lanes idle); else AVX2 where
 * those kernels are and a row has four windows or eight or more; else SSE2. The same
 * maxima and argmax from each. */
static nnf_int maxpool_2x2(nnf_int h, nnf_int w, const float *xp, float *op, int *ap)
{
    const int arch = nnf_arch_get();
    if (arch == NNF_ARCH_AVX512 && w / 2 > 4)
        return nnf_maxpool_2x2_avx512(h, w, xp, op, ap);
    if (arch >= NNF_ARCH_AVX2 && (w / 2 >= 8 || w / 2 == 4))
        return maxpool_2x2_avx2(h, w, xp, op, ap);
    return maxpool_2x2_sse2(h, w, xp, op, ap);
}
#define MAXPOOL_2X2 maxpool_2x2
#else
#define MAXPOOL_2X2 maxpool_2x2_sse2
#endif
#endif

#define REAL float
#define P(name) nnf_s##name
#define SQRT sqrtf
#include "pool.inc"
#undef MAXPOOL_2X2
#undef REAL
#undef P
#undef SQRT

#define REAL double
#define P(name) nnf_d##name
#define SQRT sqrt
#include "pool.inc"
