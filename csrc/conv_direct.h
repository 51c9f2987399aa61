/* The direct convolution (conv_direct_avx512.c, conv_direct_avx2.c), which conv.c's
 * planner weighs against im2col and the GEMM. */
#ifndef NNFAST_CONV_DIRECT_H
#define NNFAST_CONV_DIRECT_H

#include "nnfast.h"
#include "tuning.h"

/* Whether the direct convolution computes a layer of this shape: output rows 17 to
 * 24 wide (three vectors of 8, or two rows' tails sharing one of 16), and all
 * c*kh*kw taps one k-block of the GEMM, whose bits it then gives. */
static inline int nnf_conv_direct_fits(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw)
{
    const nnf_int ow = w - kw + 1;
    return h >= kh && ow > 16 && ow <= 24 && c * kh * kw <= NNF_GEMM_KC;
}

/* out (f planes of oh x ow) = the valid cross-correlation of the c x h x w image x
 * with the f filters of weights (f x c*kh*kw, in im2col's tap order), for a shape
 * that nnf_conv_direct_fits: one kernel per SIMD ISA, the same bits. */
void nnf_sconv_direct_avx512(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                             nnf_int kh, nnf_int kw, const float *weights, float *out);
void nnf_sconv_direct_avx2(nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                           nnf_int kh, nnf_int kw, const float *weights, float *out);

#endif
