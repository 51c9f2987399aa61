/* GEMM in float and double from one source (gemm.inc). */
#include <stdlib.h>

#include "gemm_ukr.h"
#include "parallel.h"

/* Below this many flops a product runs on one thread (measured: a fork/join of two
 * threads costs about as much as a 10x784x30 product). */
#define NNF_GEMM_PARALLEL_FLOPS (4.0 * 1024 * 1024)

#define REAL float
#define P(name) nnf_s##name
#define BLOCK sblock
#define UKR sukr
#include "gemm.inc"
#undef REAL
#undef P
#undef BLOCK
#undef UKR

#define REAL double
#define P(name) nnf_d##name
#define BLOCK dblock
#define UKR dukr
#include "gemm.inc"
