/* The gradient and curvature-vector products (hvp.h) in float and double from one
 * source (hvp.inc), over the kernels of gemm.c, conv.c, pool.c and activations.c. */
#include <string.h>

#include "hvp.h"
#include "parallel.h"

#define REAL float
#define P(name) nnf_s##name
#include "hvp.inc"
#undef REAL
#undef P

#define REAL double
#define P(name) nnf_d##name
#include "hvp.inc"
