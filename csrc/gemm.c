/* GEMM in float and double from one source (gemm.inc). */
#include <stdlib.h>

#include "gemm_ukr.h"
#include "parallel.h"

/* Below this many flops a product runs on one thread: the fork/join would cost
 * more than it saves. */
#define NNF_GEMM_PARALLEL_FLOPS (4.0 * 1024 * 1024)
/* When B (or A^T) has unit column stride, packing costs more than it saves below
 * this many flops, or when C is at most this many micro-tiles wide or tall: such
 * products run the direct kernel. */
#define NNF_GEMM_DIRECT_FLOPS (4.0 * 1024 * 1024)
#define NNF_GEMM_DIRECT_PANELS 4
/* Products with both operands contiguous along k take the dot kernels when small,
 * or when C has at most this many rows or columns. */
#define NNF_GEMM_DOT_NARROW 32

/* How a product is computed (see gemm.inc). */
enum { PATH_BLOCKED, PATH_DIRECT, PATH_DOT };

#define REAL float
#define P(name) nnf_s##name
#define BLOCK sblock
#define UKR sukr
#define DIRECT sdirect
#define DOT sdot
#include "gemm.inc"
#undef REAL
#undef P
#undef BLOCK
#undef UKR
#undef DIRECT
#undef DOT

#define REAL double
#define P(name) nnf_d##name
#define BLOCK dblock
#define UKR dukr
#define DIRECT ddirect
#define DOT ddot
#include "gemm.inc"
