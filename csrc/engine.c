/* The training engine in float and double from one source (engine.inc, which
 * includes a file per layer kind): whole runs of mini-batches (gather, forward,
 * backprop, update) with no allocation. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "nnfast.h"
#include "parallel.h"
#include "plan.h"
#include "rng.h"
#include "tuning.h"

/* The float engine trains and predicts with subnormals flushed to zero (x86's FTZ
 * and DAZ, for the call's duration, on every thread of its teams: parallel.h), as
 * XLA and TensorFlow run on the CPU. A saturated sigmoid's derivative and the
 * errors it scales reach below 2^-126, where each x86 operation on them takes a
 * microcode assist of about a hundred cycles: [784, 30, 10] at mini-batch 10 ran
 * 2.5 to 3.5 times slower (benches/epoch_seconds.py W1). What is flushed is below
 * 1.2e-38, far under float's resolution of the values it is added to. The double
 * engine, the curvature products and nnfast.kernels keep IEEE gradual underflow. */
#define REAL float
#define P(name) nnf_s##name
#define FLUSH_SUBNORMALS 1
#include "engine.inc"
#undef REAL
#undef P
#undef FLUSH_SUBNORMALS

#define REAL double
#define P(name) nnf_d##name
#define FLUSH_SUBNORMALS 0
#include "engine.inc"
