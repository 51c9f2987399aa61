/* Activations, their derivatives, softmax, Hadamard product, bias add and column
 * sums in float and double from one source (activations.inc). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

/* e^x for x <= 0 in float, branch-free so that the compiler vectorises the loops
 * that call it (libm's expf is a scalar call, most of a sigmoid's time).
 * x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so n ln2 is exact enough);
 * e^r by its degree-7 Taylor polynomial, whose truncation error is below 2^-27;
 * then times 2^(n + 64), a normal float for every n >= -150, which is exact, and
 * 2^-64, the one rounding, so that results down to the subnormals stay exact to one
 * rounding. Within 2 ulp of e^x; NaN stays NaN. */
static inline float exp_nonpositive(float x)
{
    /* Below -104, e^x is under half the smallest subnormal: clamped to -104 (-inf
     * too), x gives e^-104, which the last scaling rounds to 0, so no select is
     * needed after it. NaN passes the clamp and every operation after it. */
    const float xc = x < -104.0f ? -104.0f : x;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = xc * 1.44269504f + round_magic;
    float n = t - round_magic;
    float r = (xc - n * 0.693145752f) - n * 1.42860677e-6f;
    /* Estrin's scheme: pairs of coefficients, then r^2 and r^4 join them, six
     * operations deep where Horner's rule is fourteen: the sigmoid's loop waits on
     * that chain more than on its operations (2.78 -> 2.43 ns a value on an AVX2
     * AMD EPYC). Every float of [-104, 0] comes within 1.78 ulp of e^x. */
    const float r2 = r * r, r4 = r2 * r2;
    const float p01 = 1.0f + r, p23 = 0.5f + r * (1.0f / 6);
    const float p45 = 1.0f / 24 + r * (1.0f / 120), p67 = 1.0f / 720 + r * (1.0f / 5040);
    const float p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    /* n in [-150, 0] is t's low bits (anything, for NaN: unsigned, it cannot
     * overflow); 2^(n + 64) has the biased exponent n + 64 + 127. One scale and a
     * constant where two halves of n took seven integer operations: the same bits
     * for every x <= 0 (checked exhaustively), e^x 1.59 -> 1.40 ns a value on an
     * AVX2 AMD EPYC. */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000u + 127 + 64) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * 0x1p-64f;
}

/* tanh(z) in float, branch-free for the same reason (libm's tanhf took 23 cycles a
 * value, a sigmoid's about one). For |z| < 0.75, z + z^3 p(z^2), p a degree-5 fit of
 * (tanh(z) - z) / z^3 weighted for tanh's relative error; above, (1 - e) / (1 + e)
 * with e = e^-2|z| <= 0.23, so that 1 - e cancels less than two bits. Within 1.1
 * eps of tanh relative (measured on 2.4 million points, the tails, the subnormals
 * and the branch point among them); tanh(-z) = -tanh(z), -0 and NaN kept, +-1
 * beyond 9.01. Plain operations, none fused: the same bits on every CPU. */
static inline float tanh_float(float z)
{
    const float a = fabsf(z), s = a * a;
    float p = 0.00177509466f;
    p = p * s - 0.00771610439f;
    p = p * s + 0.0214854982f;
    p = p * s - 0.0539012626f;
    p = p * s + 0.133327872f;
    p = p * s - 0.333333194f;
    const float near_zero = a + a * s * p;
    const float e = exp_nonpositive(-2.0f * a);
    const float t = a < 0.75f ? near_zero : (1.0f - e) / (1.0f + e);
    return copysignf(t, z);
}

#define REAL float
#define P(name) nnf_s##name
#define EXP expf
#define EXP_NONPOSITIVE exp_nonpositive
#define TANH tanh_float
#define FABS fabsf
#include "activations.inc"
#undef REAL
#undef P
#undef EXP
#undef EXP_NONPOSITIVE
#undef TANH
#undef FABS

#define REAL double
#define P(name) nnf_d##name
#define EXP exp
#define EXP_NONPOSITIVE exp
#define TANH tanh
#define FABS fabs
#include "activations.inc"
