/* The float 2x2 max-pool of one plane in AVX-512 (pool.c chooses it), in a file of its
 * own so that it is compiled as the other AVX-512 kernels are: for AVX-512, or, in a
 * build that emulates it (emulated_avx512.h), for AVX2. */
#include <immintrin.h>

#include "nnfast.h"

/* Sixteen windows at a time (a row of W4's 24x24 conv output,
 * twelve windows, in one masked step instead of three of SSE2's), the corners
 * separated by two-source permutes and the comparisons kept in mask registers.
 * Does every window of each row. */
nnf_int nnf_maxpool_2x2_avx512(nnf_int h, nnf_int w, const float *xp, float *op, int *ap)
{
    const nnf_int oh = h / 2, ow = w / 2;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (nnf_int y = 0; y < oh; y++) {
        const float *r0 = xp + 2 * y * w, *r1 = r0 + w;
        for (nnf_int z = 0; z < ow; z += 16) {
            const int windows = (int)(ow - z < 16 ? ow - z : 16), pixels = 2 * windows;
            const __mmask16 lo = (__mmask16)((1u << (pixels < 16 ? pixels : 16)) - 1);
            const __mmask16 hi = (__mmask16)((1u << (pixels > 16 ? pixels - 16 : 0)) - 1);
            const __mmask16 out = (__mmask16)((1u << windows) - 1);
            __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * z), a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * z + 16);
            __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * z), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * z + 16);
            const __m512 corner[4] = {_mm512_permutex2var_ps(a0, even, a1),
                                      _mm512_permutex2var_ps(a0, odd, a1),
                                      _mm512_permutex2var_ps(b0, even, b1),
                                      _mm512_permutex2var_ps(b0, odd, b1)};
            const int offset[4] = {0, 1, (int)w, (int)w + 1};
            const __m512i first = _mm512_add_epi32(_mm512_set1_epi32((int)(2 * y * w + 2 * z)), even);
            __m512 best = corner[0];
            __m512i at = first;
            for (int t = 1; t < 4; t++) {
                const __mmask16 nan_v = _mm512_cmp_ps_mask(corner[t], corner[t], _CMP_UNORD_Q);
                const __mmask16 nan_best = _mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q);
                const __mmask16 win = _mm512_cmp_ps_mask(corner[t], best, _CMP_GT_OQ) |
                                      (nan_v & (__mmask16)~nan_best);
                best = _mm512_mask_mov_ps(best, win, corner[t]);
                at = _mm512_mask_mov_epi32(at, win, _mm512_add_epi32(first, _mm512_set1_epi32(offset[t])));
            }
            _mm512_mask_storeu_ps(op + y * ow + z, out, best);
            _mm512_mask_storeu_epi32(ap + y * ow + z, out, at);
        }
    }
    return ow;
}
