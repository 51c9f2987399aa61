/* The training engine in float and double from one source (engine.inc, which
 * includes a file per layer kind): whole runs of mini-batches (gather, forward,
 * backprop, update) with no allocation. */
#include <math.h>
#include <string.h>

#include "nnfast.h"
#include "parallel.h"
#include "rng.h"

#define REAL float
#define P(name) nnf_s##name
#include "engine.inc"
#undef REAL
#undef P

#define REAL double
#define P(name) nnf_d##name
#include "engine.inc"
