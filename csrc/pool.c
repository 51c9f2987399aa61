/* Max pooling (argmax forward, scatter backward) and L2 pooling in float and
 * double from one source (pool.inc). */
#include <math.h>

#include "nnfast.h"
#include "parallel.h"

/* Below this many input elements a pooling kernel stays on one thread. */
#define NNF_POOL_PARALLEL 65536

#define REAL float
#define P(name) nnf_s##name
#define SQRT sqrtf
#include "pool.inc"
#undef REAL
#undef P
#undef SQRT

#define REAL double
#define P(name) nnf_d##name
#define SQRT sqrt
#include "pool.inc"
