/* im2col / col2im and the convolutional layer's forward and backward passes in
 * float and double from one source (conv.inc). */
#include <string.h>

#include "nnfast.h"
#include "parallel.h"

/* One cols buffer for each thread that can run a sample: min(n_threads, n), at least 1. */
nnf_int nnf_conv_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int kh,
                                nnf_int kw, int n_threads)
{
    nnf_int threads = n < n_threads ? n : n_threads;
    return (threads < 1 ? 1 : threads) * c * kh * kw * (h - kh + 1) * (w - kw + 1);
}

#define REAL float
#define P(name) nnf_s##name
#define GEMM nnf_sgemm
#include "conv.inc"
#undef REAL
#undef P
#undef GEMM

#define REAL double
#define P(name) nnf_d##name
#define GEMM nnf_dgemm
#include "conv.inc"
