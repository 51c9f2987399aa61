/* The direct convolution, AVX2 + FMA, float: conv_direct_avx512.c's kernel for
 * 8-lane vectors (see there for why it gives the GEMM's bits). A row of 17 to 24
 * outputs is three vectors, the last masked when shorter than 8; FILTERS filters
 * share each load of the image: 3 x FILTERS accumulators, the three vectors of the
 * image and a broadcast fill the 16 registers. Rows at most 8 wide take a kernel of
 * their own (conv_narrow, below). */
#include "conv_direct.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FILTERS 4 /* and ROW below has a case for each count up to it */

/* Output row y of `filters` filters, from weights (filters x k) to out (filters
 * planes of oh x ow); a tail of 8 columns (ow == 24) is a plain load and store. */
static inline __attribute__((always_inline)) void
row(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int kh, nnf_int kw,
    const float *weights, const uint64_t *zero, nnf_int y, float *out, const int filters,
    const int tail8)
{
    const nnf_int ow = w - kw + 1, ohw = (h - kh + 1) * ow, k = c * kh * kw;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ow - 16)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[FILTERS][3];
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++)
        acc[b][0] = acc[b][1] = acc[b][2] = _mm256_setzero_ps();
    for (nnf_int ch = 0; ch < c; ch++)
        for (nnf_int i = 0; i < kh; i++) {
            if (nnf_conv_rows_zero(zero[ch], y + i, 1))
                continue;
            const float *r = x + (ch * h + y + i) * w;
            const float *tap = weights + (ch * kh + i) * kw;
            /* Rolled, as in the AVX-512 kernel. */
#pragma GCC unroll 1
            for (nnf_int j = 0; j < kw; j++) {
                const __m256 v0 = _mm256_loadu_ps(r + j), v1 = _mm256_loadu_ps(r + j + 8);
                const __m256 v2 = tail8 ? _mm256_loadu_ps(r + j + 16)
                                        : _mm256_maskload_ps(r + j + 16, tail);
#pragma GCC unroll 8
                for (int b = 0; b < filters; b++) {
                    const __m256 s = _mm256_broadcast_ss(tap + b * k + j);
                    acc[b][0] = _mm256_fmadd_ps(s, v0, acc[b][0]);
                    acc[b][1] = _mm256_fmadd_ps(s, v1, acc[b][1]);
                    acc[b][2] = _mm256_fmadd_ps(s, v2, acc[b][2]);
                }
            }
        }
#pragma GCC unroll 8
    for (int b = 0; b < filters; b++) {
        float *o = out + b * ohw + y * ow;
        _mm256_storeu_ps(o, acc[b][0]);
        _mm256_storeu_ps(o + 8, acc[b][1]);
        if (tail8)
            _mm256_storeu_ps(o + 16, acc[b][2]);
        else
            _mm256_maskstore_ps(o + 16, tail, acc[b][2]);
    }
}

/* Rows at most 8 wide: conv_direct_avx512.c's narrow kernel for 8-lane vectors, a
 * row to a vector. NARROW_FILTERS filters share each load of a shifted row, and
 * NARROW_ROWS rows each broadcast of a tap: 12 accumulators, the filters' broadcasts
 * and the row in use fill the 16 registers. */
#define NARROW_FILTERS 3 /* and NARROW below has a case for each count up to it */
#define NARROW_ROWS 4

static inline __attribute__((always_inline)) void
narrow_block(nnf_int h, nnf_int kh, nnf_int kw, const float *shifted, const uint64_t *zero,
             nnf_int ow, nnf_int ohw, nnf_int y0, const float *weights, nnf_int k, nnf_int t0,
             nnf_int t1, float *out, const int filters, const int rows)
{
    __m256 acc[NARROW_FILTERS][NARROW_ROWS];
#pragma GCC unroll 4
    for (int b = 0; b < filters; b++)
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
            acc[b][r] = _mm256_setzero_ps();
    nnf_int ch = t0 / (kh * kw), i = t0 / kw % kh, j = t0 % kw;
    for (nnf_int t = t0; t < t1;) {
        const float *row = shifted + ((ch * kw + j) * h + y0 + i) * 8;
        const nnf_int end = t + (kw - j) < t1 ? t + (kw - j) : t1;
        if (nnf_conv_rows_zero(zero[ch], y0 + i, rows))
            t = end;
        for (; t < end; t++, row += h * 8) {
            __m256 s[NARROW_FILTERS];
#pragma GCC unroll 4
            for (int b = 0; b < filters; b++)
                s[b] = _mm256_broadcast_ss(weights + b * k + t);
#pragma GCC unroll 4
            for (int r = 0; r < rows; r++) {
                const __m256 v = _mm256_loadu_ps(row + r * 8);
#pragma GCC unroll 4
                for (int b = 0; b < filters; b++)
                    acc[b][r] = _mm256_fmadd_ps(s[b], v, acc[b][r]);
            }
        }
        j = 0;
        if (++i == kh) {
            i = 0;
            ch++;
        }
    }
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)ow),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 4
    for (int b = 0; b < filters; b++)
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++) {
            float *o = out + b * ohw + (y0 + r) * ow;
            __m256 sum = acc[b][r];
            if (t0 > 0)
                sum = _mm256_add_ps(_mm256_maskload_ps(o, lanes), sum);
            _mm256_maskstore_ps(o, lanes, sum);
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
        for (nnf_int y0 = 0; y0 < oh; y0 += NARROW_ROWS) {
            const int rows = oh - y0 < NARROW_ROWS ? (int)(oh - y0) : NARROW_ROWS;
            for (nnf_int t0 = 0; t0 < k; t0 += NNF_GEMM_KC) {
                const nnf_int t1 = k - t0 < NNF_GEMM_KC ? k : t0 + NNF_GEMM_KC;
                switch (filters * (NARROW_ROWS + 1) + rows) {
#define NARROW_R(F, R)                                                                     \
    case F * (NARROW_ROWS + 1) + R:                                                        \
        narrow_block(h, kh, kw, shifted, zero, ow, ohw, y0, wf, k, t0, t1, of, F, R);      \
        break;
#define NARROW(F) NARROW_R(F, 1) NARROW_R(F, 2) NARROW_R(F, 3) NARROW_R(F, 4)
                    NARROW(1)
                    NARROW(2)
                    NARROW(3)
#undef NARROW
#undef NARROW_R
                }
            }
        }
    }
}

void nnf_sconv_direct_avx2(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
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
        for (nnf_int y = 0; y < oh; y++) {
            switch (2 * filters + (ow == 24)) {
#define ROW(F)                                                                             \
    case 2 * F: row(c, h, w, x, kh, kw, wf, zero, y, of, F, 0); break;                     \
    case 2 * F + 1: row(c, h, w, x, kh, kw, wf, zero, y, of, F, 1); break;
                ROW(1)
                ROW(2)
                ROW(3)
                ROW(4)
#undef ROW
            }
        }
    }
}
#endif
