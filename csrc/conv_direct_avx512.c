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
 * accumulators, and a broadcast of each filter's tap. Rows at most 8 wide take a
 * kernel of their own (conv_narrow, below), for any number of taps. */
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
         const float *weights, const uint64_t *zero, nnf_int y, nnf_int y2, float *out,
         const int filters, const int tail8)
{
    const nnf_int ow = w - kw + 1, ohw = (h - kh + 1) * ow, k = c * kh * kw;
    const __mmask16 low = (__mmask16)((1u << (ow - 16)) - 1), high = (__mmask16)(low << 8);
    __m512 first[FILTERS], second[FILTERS], tails[FILTERS];
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++)
        first[b] = second[b] = tails[b] = _mm512_setzero_ps();
    for (nnf_int ch = 0; ch < c; ch++)
        for (nnf_int i = 0; i < kh; i++) {
            if (nnf_conv_rows_zero(zero[ch], y + i, 1) && nnf_conv_rows_zero(zero[ch], y2 + i, 1))
                continue;
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

/* Rows at most 8 wide (W5's second layer: 8 x 8 outputs of 20 x 12 x 12 images, 500
 * taps). Two output rows share a vector, row y in lanes 0-7 and row y + 1 in lanes
 * 8-15, read in one load from the shifted rows (nnf_conv_shift); NARROW_FILTERS
 * filters share each load, and up to NARROW_PAIRS pairs (8 output rows) each
 * broadcast of a tap. The taps go by in the GEMM's k-blocks: each block a chain
 * from +0, stored, then added to what the blocks before it stored, as the chain
 * family's C = C + block does for k > KC. */
#define NARROW_FILTERS 6 /* and NARROW below has a case for each count up to it */
#define NARROW_PAIRS 4

/* The pairs of output rows from y0 on (pairs of them, the last holding one row when
 * `odd`) of `filters` filters, over the taps [t0, t1) of weights (filters x k). */
static inline __attribute__((always_inline)) void
narrow_block(nnf_int h, nnf_int kh, nnf_int kw, const float *shifted, const uint64_t *zero,
             nnf_int ow, nnf_int ohw, nnf_int y0, const float *weights, nnf_int k, nnf_int t0,
             nnf_int t1, float *out, const int filters, const int pairs, const int odd)
{
    __m512 acc[NARROW_FILTERS][NARROW_PAIRS];
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++)
#pragma GCC unroll 4
        for (int p = 0; p < pairs; p++)
            acc[b][p] = _mm512_setzero_ps();
    nnf_int ch = t0 / (kh * kw), i = t0 / kw % kh, j = t0 % kw;
    for (nnf_int t = t0; t < t1;) {
        /* the taps (ch, i, j..) of one kernel row: the shifted rows h*8 apart */
        const float *row = shifted + ((ch * kw + j) * h + y0 + i) * 8;
        const nnf_int end = t + (kw - j) < t1 ? t + (kw - j) : t1;
        if (nnf_conv_rows_zero(zero[ch], y0 + i, 2 * pairs - odd))
            t = end;
        for (; t < end; t++, row += h * 8) {
            __m512 v[NARROW_PAIRS];
#pragma GCC unroll 4
            for (int p = 0; p < pairs; p++)
                v[p] = odd && p == pairs - 1 ? _mm512_maskz_loadu_ps(0x00ff, row + p * 16)
                                             : _mm512_loadu_ps(row + p * 16);
#pragma GCC unroll 8
            for (int b = 0; b < filters; b++) {
                const __m512 s = _mm512_set1_ps(weights[b * k + t]);
#pragma GCC unroll 4
                for (int p = 0; p < pairs; p++)
                    acc[b][p] = _mm512_fmadd_ps(s, v[p], acc[b][p]);
            }
        }
        j = 0;
        if (++i == kh) {
            i = 0;
            ch++;
        }
    }
    /* lanes 0..ow-1 and 8..8+ow-1: two output rows, contiguous in out */
    const __mmask16 rows = (__mmask16)(((1u << ow) - 1) * 0x0101u);
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++)
#pragma GCC unroll 4
        for (int p = 0; p < pairs; p++) {
            float *o = out + b * ohw + (y0 + 2 * p) * ow;
            const __mmask16 m = odd && p == pairs - 1 ? (__mmask16)(rows & 0x00ff) : rows;
            __m512 sum = acc[b][p];
            if (t0 > 0)
                sum = _mm512_add_ps(_mm512_maskz_expandloadu_ps(m, o), sum);
            if (m == 0xffff) /* two whole rows of 8 */
                _mm512_storeu_ps(o, sum);
            else
                _mm512_mask_compressstoreu_ps(o, m, sum);
        }
}

static void conv_narrow(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f, nnf_int kh,
                        nnf_int kw, const float *weights, float *out, float *shifted,
                        const uint64_t *zero)
{
    const nnf_int oh = h - kh + 1, ow = w - kw + 1, ohw = oh * ow, k = c * kh * kw;
    nnf_conv_shift(c, h, w, kw, x, zero, shifted);
    for (nnf_int f0 = 0; f0 < f; f0 += NARROW_FILTERS) {
        const int filters = f - f0 < NARROW_FILTERS ? (int)(f - f0) : NARROW_FILTERS;
        const float *wf = weights + f0 * k;
        float *of = out + f0 * ohw;
        for (nnf_int y0 = 0; y0 < oh; y0 += 2 * NARROW_PAIRS) {
            const nnf_int rows = oh - y0 < 2 * NARROW_PAIRS ? oh - y0 : 2 * NARROW_PAIRS;
            const int pairs = (int)(rows + 1) / 2, odd = (int)(rows % 2);
            for (nnf_int t0 = 0; t0 < k; t0 += NNF_GEMM_KC) {
                const nnf_int t1 = k - t0 < NNF_GEMM_KC ? k : t0 + NNF_GEMM_KC;
                switch ((filters * (NARROW_PAIRS + 1) + pairs) * 2 + odd) {
#define NARROW_P(F, P)                                                                     \
    case (F * (NARROW_PAIRS + 1) + P) * 2:                                                 \
        narrow_block(h, kh, kw, shifted, zero, ow, ohw, y0, wf, k, t0, t1, of, F, P, 0);   \
        break;                                                                             \
    case (F * (NARROW_PAIRS + 1) + P) * 2 + 1:                                             \
        narrow_block(h, kh, kw, shifted, zero, ow, ohw, y0, wf, k, t0, t1, of, F, P, 1);   \
        break;
#define NARROW(F) NARROW_P(F, 1) NARROW_P(F, 2) NARROW_P(F, 3) NARROW_P(F, 4)
                    NARROW(1)
                    NARROW(2)
                    NARROW(3)
                    NARROW(4)
                    NARROW(5)
                    NARROW(6)
#undef NARROW
#undef NARROW_P
                }
            }
        }
    }
}

void nnf_sconv_direct_avx512(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                             nnf_int kh, nnf_int kw, const float *weights, float *out,
                             float *scratch, int skip_zeros)
{
    const nnf_int oh = h - kh + 1, ow = w - kw + 1, ohw = oh * ow, k = c * kh * kw;
    uint64_t *zero = nnf_conv_zero_masks(c, h, kw, scratch);
    nnf_conv_zero_rows(c, h, w, x, skip_zeros, zero);
    if (ow <= 8) {
        conv_narrow(c, h, w, x, f, kh, kw, weights, out, scratch, zero);
        return;
    }
    for (nnf_int f0 = 0; f0 < f; f0 += FILTERS) {
        const float *wf = weights + f0 * k;
        float *of = out + f0 * ohw;
        const int filters = f - f0 < FILTERS ? (int)(f - f0) : FILTERS;
        for (nnf_int y = 0; y < oh; y += 2) {
            const nnf_int y2 = y + 1 < oh ? y + 1 : y;
            switch (2 * filters + (ow == 24)) {
#define ROW_PAIR(F)                                                                        \
    case 2 * F: row_pair(c, h, w, x, kh, kw, wf, zero, y, y2, of, F, 0); break;            \
    case 2 * F + 1: row_pair(c, h, w, x, kh, kw, wf, zero, y, y2, of, F, 1); break;
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
