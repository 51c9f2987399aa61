/* The direct convolution (conv_direct_avx512.c, conv_direct_avx2.c), which conv.c's
 * planner weighs against im2col and the GEMM. */
#ifndef NNFAST_CONV_DIRECT_H
#define NNFAST_CONV_DIRECT_H

#include <stdint.h>
#include <string.h>

#include "nnfast.h"
#include "tuning.h"

/* Whether the direct convolution computes a layer of this shape:
 *  - output rows 17 to 24 wide (three vectors of 8, or two rows' tails sharing one of
 *    16), all c*kh*kw taps one k-block of the GEMM, whose bits it then gives;
 *  - or output rows at most 8 wide (a vector of 8, or two rows sharing one of 16),
 *    any number of taps, summed in the GEMM's k-blocks, from rows of the image shifted
 *    into the caller's scratch (nnf_conv_shift). */
static inline int nnf_conv_direct_fits(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw)
{
    const nnf_int ow = w - kw + 1;
    const int wide = ow > 16 && ow <= 24 && c * kh * kw <= NNF_GEMM_KC;
    return h >= kh && (wide || (ow >= 1 && ow <= 8));
}

/* The image's rows of zeros: bit r of zero[ch] is set where row r of channel ch holds
 * only zeros (+0 or -0), for the h <= 64 rows a mask holds; with skip 0 or taller
 * images, no bit. Where every weight is finite, a zero input adds w * 0 = +-0 to an
 * FMA chain, which leaves the chain as it is (a chain from +0 is never -0): the
 * direct convolution then skips a kernel row's taps wherever the image rows they
 * read are all zeros, and gives the same bits. Dead ReLU filters leave whole planes
 * of zeros in the next layer's input (W5's second layer: 40% of its kernel rows'
 * taps on Fashion-MNIST); images leave blank rows (11% of W5's first layer's). */
static inline void nnf_conv_zero_rows(nnf_int c, nnf_int h, nnf_int w, const float *x, int skip,
                                      uint64_t *zero)
{
    for (nnf_int ch = 0; ch < c; ch++) {
        uint64_t bits = 0;
        for (nnf_int r = 0; skip && h <= 64 && r < h; r++) {
            const float *row = x + (ch * h + r) * w;
            int all = 1;
            for (nnf_int q = 0; q < w; q++)
                all &= row[q] == 0.0f;
            bits |= (uint64_t)all << r;
        }
        zero[ch] = bits;
    }
}

/* Whether rows [r, r + count) of a channel with zero rows `zero` are all zeros (rows
 * past a mask's 64 are never marked). */
static inline int nnf_conv_rows_zero(uint64_t zero, nnf_int r, nnf_int count)
{
    if (r + count > 64)
        return 0;
    const uint64_t run = (count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << count) - 1) << r;
    return (zero & run) == run;
}

/* The rows a narrow direct convolution (ow <= 8) reads: for each channel ch and kernel
 * column j, the image's h rows shifted left by j, ow values each and zeros to 8, in
 * shifted[((ch * kw + j) * h + r) * 8 ...]. Two output rows' taps are then 16
 * consecutive values, one load. A channel all of whose rows are zeros is skipped
 * whole, so it is not copied. */
static inline void nnf_conv_shift(nnf_int c, nnf_int h, nnf_int w, nnf_int kw, const float *x,
                                  const uint64_t *zero, float *shifted)
{
    const nnf_int ow = w - kw + 1;
    for (nnf_int ch = 0; ch < c; ch++) {
        if (nnf_conv_rows_zero(zero[ch], 0, h))
            continue;
        for (nnf_int j = 0; j < kw; j++)
            for (nnf_int r = 0; r < h; r++) {
                const float *src = x + (ch * h + r) * w + j;
                float *dst = shifted + ((ch * kw + j) * h + r) * 8;
                if (ow == 8) {
                    memcpy(dst, src, 8 * sizeof(float));
                } else {
                    for (nnf_int q = 0; q < 8; q++)
                        dst[q] = q < ow ? src[q] : 0.0f;
                }
            }
    }
}

/* A direct convolution's scratch: the shifted rows (narrow), then the zero rows'
 * masks, in floats. */
static inline nnf_int nnf_conv_direct_scratch(nnf_int c, nnf_int h, nnf_int kw)
{
    return 8 * c * kw * h + 2 * c;
}

static inline uint64_t *nnf_conv_zero_masks(nnf_int c, nnf_int h, nnf_int kw, float *scratch)
{
    return (uint64_t *)(void *)(scratch + 8 * c * kw * h);
}

/* out (f planes of oh x ow) = the valid cross-correlation of the c x h x w image x
 * with the f filters of weights (f x c*kh*kw, in im2col's tap order), for a shape
 * that nnf_conv_direct_fits: one kernel per SIMD ISA, the same bits. scratch, on a
 * 64-byte line, holds nnf_conv_direct_scratch values. skip_zeros (only where every
 * weight is finite) skips the taps on rows of zeros (nnf_conv_zero_rows). */
void nnf_sconv_direct_avx512(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                             nnf_int kh, nnf_int kw, const float *weights, float *out,
                             float *scratch, int skip_zeros);
void nnf_sconv_direct_avx2(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                           nnf_int kh, nnf_int kw, const float *weights, float *out,
                           float *scratch, int skip_zeros);

#endif
