/* The direct convolution, AVX-512F, float: one image's valid cross-correlation read
 * from the image itself, with no im2col. It serves the book's first conv layers (one
 * channel, 5 x 5 filters, 24-wide output rows), where copying the 25 x 576 im2col
 * matrix cost a third of the product.
 *
 * Each output is one FMA chain from +0 over the taps in im2col's order (channel,
 * kernel row, kernel column): what the GEMM's chain family computes for W . im2col(x)
 * when the c*kh*kw taps are one k-block (NNF_GEMM_KC, conv_direct.h). So it gives the
 * GEMM's bits, and the planner may choose either (conv.c).
 *
 * Two output rows go together. Their first 16 columns take a vector each; their last
 * ow - 16 columns (at most 8) take the two halves of a third vector, so a 24-wide row
 * wastes no lane. FILTERS filters share each load of the image: 3 x FILTERS
 * accumulators, and a broadcast of each filter's tap. */
#include "conv_direct.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FILTERS 5 /* and ROW_PAIR below has a case for each count up to it */

/* Output rows y and y2 (y2 == y for a last, odd row: both halves then compute and
 * store the same values) of `filters` filters, from weights (filters x k) to out
 * (filters planes of oh x ow). Tails of 8 columns (ow == 24) are two 256-bit loads
 * put together; shorter ones, masked loads. */
static inline __attribute__((always_inline)) void
row_pair(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int kh, nnf_int kw,
         const float *weights, nnf_int y, nnf_int y2, float *out, const int filters,
         const int tail8)
{
    const nnf_int ow = w - kw + 1, ohw = (h - kh + 1) * ow, k = c * kh * kw;
    const __mmask16 low = (__mmask16)((1u << (ow - 16)) - 1), high = (__mmask16)(low << 8);
    __m512 first[FILTERS], second[FILTERS], tails[FILTERS];
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++)
        first[b] = second[b] = tails[b] = _mm512_setzero_ps();
    for (nnf_int ch = 0; ch < c; ch++)
        for (nnf_int i = 0; i < kh; i++) {
            const float *r = x + (ch * h + y + i) * w, *r2 = x + (ch * h + y2 + i) * w;
            const float *tap = weights + (ch * kh + i) * kw;
            /* Rolled: unrolled, the compiler shuffles the accumulators between
             * registers at every tap. */
#pragma GCC unroll 1
            for (nnf_int j = 0; j < kw; j++) {
                const __m512 v = _mm512_loadu_ps(r + j), v2 = _mm512_loadu_ps(r2 + j);
                /* lanes 0.. of row y's tail, lanes 8.. of row y2's */
                __m512 t;
                if (tail8) /* (masks here cost a reload of each from the stack a tap) */
                    t = _mm512_castpd_ps(_mm512_insertf64x4(
                        _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(r + j + 16))),
                        _mm256_castps_pd(_mm256_loadu_ps(r2 + j + 16)), 1));
                else
                    t = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(low, r + j + 16), high,
                                             r2 + j + 8);
#pragma GCC unroll 8
                for (int b = 0; b < filters; b++) {
                    const __m512 s = _mm512_set1_ps(tap[b * k + j]);
                    first[b] = _mm512_fmadd_ps(s, v, first[b]);
                    second[b] = _mm512_fmadd_ps(s, v2, second[b]);
                    tails[b] = _mm512_fmadd_ps(s, t, tails[b]);
                }
            }
        }
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++) {
        float *o = out + b * ohw + y * ow, *o2 = out + b * ohw + y2 * ow;
        _mm512_storeu_ps(o, first[b]);
        _mm512_mask_storeu_ps(o + 16, low, tails[b]);
        _mm512_storeu_ps(o2, second[b]);
        _mm512_mask_storeu_ps(o2 + 8, high, tails[b]);
    }
}

void nnf_sconv_direct_avx512(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                             nnf_int kh, nnf_int kw, const float *weights, float *out)
{
    const nnf_int oh = h - kh + 1, ow = w - kw + 1, ohw = oh * ow, k = c * kh * kw;
    for (nnf_int f0 = 0; f0 < f; f0 += FILTERS) {
        const float *wf = weights + f0 * k;
        float *of = out + f0 * ohw;
        const int filters = f - f0 < FILTERS ? (int)(f - f0) : FILTERS;
        for (nnf_int y = 0; y < oh; y += 2) {
            const nnf_int y2 = y + 1 < oh ? y + 1 : y;
            switch (2 * filters + (ow == 24)) {
#define ROW_PAIR(F)                                                                        \
    case 2 * F: row_pair(c, h, w, x, kh, kw, wf, y, y2, of, F, 0); break;                  \
    case 2 * F + 1: row_pair(c, h, w, x, kh, kw, wf, y, y2, of, F, 1); break;
                ROW_PAIR(1)
                ROW_PAIR(2)
                ROW_PAIR(3)
                ROW_PAIR(4)
                ROW_PAIR(5)
#undef ROW_PAIR
            }
        }
    }
}
#endif
