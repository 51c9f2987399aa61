/* Activations, their derivatives, softmax, Hadamard product, bias add and column
 * sums in float and double from one source (activations.inc). */
#include <math.h>

#include "nnfast.h"
#include "parallel.h"

/* Below this many elements a kernel stays on one thread. */
#define NNF_ELEMENTWISE_PARALLEL 65536

#define REAL float
#define P(name) nnf_s##name
#define EXP expf
#define TANH tanhf
#include "activations.inc"
#undef REAL
#undef P
#undef EXP
#undef TANH

#define REAL double
#define P(name) nnf_d##name
#define EXP exp
#define TANH tanh
#include "activations.inc"
