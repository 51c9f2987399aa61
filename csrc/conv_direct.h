/* The direct convolution (conv_direct_avx512.c, conv_direct_avx2.c), which conv.c's
 * planner weighs against im2col and the GEMM. */
#ifndef NNFAST_CONV_DIRECT_H
#define NNFAST_CONV_DIRECT_H

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

/* The rows a narrow direct convolution (ow <= 8) reads: for each channel ch and kernel
 * column j, the image's h rows shifted left by j, ow values each and zeros to 8, in
 * shifted[((ch * kw + j) * h + r) * 8 ...]. Two output rows' taps are then 16
 * consecutive values, one load. */
static inline void nnf_conv_shift(nnf_int c, nnf_int h, nnf_int w, nnf_int kw, const float *x,
                                  float *shifted)
{
    const nnf_int ow = w - kw + 1;
    for (nnf_int ch = 0; ch < c; ch++)
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

/* out (f planes of oh x ow) = the valid cross-correlation of the c x h x w image x
 * with the f filters of weights (f x c*kh*kw, in im2col's tap order), for a shape
 * that nnf_conv_direct_fits: one kernel per SIMD ISA, the same bits. scratch, on a
 * 64-byte line, holds narrow rows' shifted rows (8*c*kw*h values). */
void nnf_sconv_direct_avx512(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                             nnf_int kh, nnf_int kw, const float *weights, float *out,
                             float *scratch);
void nnf_sconv_direct_avx2(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                           nnf_int kh, nnf_int kw, const float *weights, float *out,
                           float *scratch);

#endif
