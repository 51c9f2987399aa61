/* Whether every value of an array is finite: the check of a network's parameters
 * after training. A value is infinite or NaN exactly when its exponent bits are all
 * ones; testing the bits instead of calling isfinite leaves a loop of integer ands
 * and ors, which the compiler vectorises, and keeps -ffast-math from ever folding
 * the test away. */
#include <stdint.h>
#include <string.h>

#include "nnfast.h"

#define NNF_DEFINE_ALL_FINITE(NAME, REAL, BITS, EXPONENT)                                  \
    int NAME(nnf_int n, const REAL *x)                                                      \
    {                                                                                       \
        BITS nonfinite = 0;                                                                 \
        for (nnf_int i = 0; i < n; i++) {                                                   \
            BITS bits;                                                                      \
            memcpy(&bits, x + i, sizeof bits);                                              \
            nonfinite |= (BITS)((bits & (EXPONENT)) == (EXPONENT));                         \
        }                                                                                   \
        return nonfinite == 0;                                                              \
    }

NNF_DEFINE_ALL_FINITE(nnf_sall_finite, float, uint32_t, UINT32_C(0x7f800000))
NNF_DEFINE_ALL_FINITE(nnf_dall_finite, double, uint64_t, UINT64_C(0x7ff0000000000000))
