/* Dropout with a counter-based generator: element i's keep/drop draw is a hash of
 * (seed, i), not the next value of a shared stream, so a seed gives the same mask
 * however the elements are split among threads. */
#include <stdint.h>

#include "nnfast.h"
#include "parallel.h"
#include "rng.h"
#include "plan.h"

/* Element i gets SplitMix64's (i+1)-th output from the state mix64(seed), read as a
 * uniform u in [0, 1) on a 2^-53 grid; it is kept when u >= p, with probability
 * 1 - p (p = 0 keeps everything, p = 1 nothing). */
static inline unsigned char nnf_keep(uint64_t key, nnf_int i, double p)
{
    uint64_t bits = nnf_splitmix64(key, (uint64_t)i);
    return (double)(bits >> 11) * 0x1p-53 >= p;
}

/* out = x * mask, without rescaling by 1/(1-p): as in network3, the layer scales
 * its weights by (1-p) at inference instead. */
#define NNF_DEFINE_DROPOUT(P, REAL)                                                         \
    void P##dropout(nnf_int n, const REAL *x, double p, unsigned long long seed, REAL *out, \
                    unsigned char *mask, int n_threads)                                     \
    {                                                                                       \
        const uint64_t key = nnf_mix64(seed);                                               \
        NNF_PARALLEL_FOR(nnf_work_team(n_threads, n, NNF_WORK_DROPOUT), i, n, {             \
            mask[i] = nnf_keep(key, i, p);                                                  \
            out[i] = x[i] * (REAL)mask[i]; /* a dropped inf or NaN shows as NaN */          \
        });                                                                                 \
    }

NNF_DEFINE_DROPOUT(nnf_s, float)
NNF_DEFINE_DROPOUT(nnf_d, double)
