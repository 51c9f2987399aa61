/* Whether every value of an array is finite: the check of the training data before
 * a run and of a network's parameters after each chunk. A value is infinite or NaN
 * exactly when its exponent bits are all ones; testing the bits instead of calling
 * isfinite leaves a loop of integer ands and ors, which the compiler vectorises, and
 * keeps -ffast-math from ever folding the test away. Threads take slices of a large
 * array: the data set is read at the speed of memory, which one core does not reach. */
#include <stdint.h>
#include <string.h>

#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

#define NNF_DEFINE_ALL_FINITE(NAME, REAL, BITS, EXPONENT)                                  \
    int NAME(nnf_int n, const REAL *x, int n_threads)                                       \
    {                                                                                       \
        BITS nonfinite = 0;                                                                 \
        _Pragma("omp parallel for reduction(|: nonfinite) schedule(static) num_threads(nnf_work_team(n_threads, n, NNF_WORK_ELEMENTWISE))") \
        for (nnf_int i = 0; i < n; i++) {                                                   \
            BITS bits;                                                                      \
            memcpy(&bits, x + i, sizeof bits);                                              \
            nonfinite |= (BITS)((bits & (EXPONENT)) == (EXPONENT));                         \
        }                                                                                   \
        return nonfinite == 0;                                                              \
    }

NNF_DEFINE_ALL_FINITE(nnf_sall_finite, float, uint32_t, UINT32_C(0x7f800000))
NNF_DEFINE_ALL_FINITE(nnf_dall_finite, double, uint64_t, UINT64_C(0x7ff0000000000000))
