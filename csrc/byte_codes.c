/* Inputs that are bytes. A pixel of MNIST or Fashion-MNIST is a byte k, and the data
 * sets hold it as the float k/255 (nnfast's loaders) or k/256 (the book's pickle).
 * Training reads its mini-batches' rows from all over the data set, from memory:
 * a quarter of a [784, 30, 10] step at mini-batch 10 goes to that copy. Kept as the
 * codes k, the rows are a quarter of the bytes, and each mini-batch's copy turns
 * them back into the very floats of x.
 *
 * k/s comes back as k * (1/s) corrected once by its remainder: q0 = k * (1/s), then
 * q = q0 + (k - q0 * s) * (1/s). For s = 256 that is k/256 exactly; for s = 255 it is
 * the correctly rounded k/255 for every byte, in float and double
 * (tests/test_byte_codes.py checks all 256 against division). The loop is compiled
 * for each ISA as the elementwise kernels are (clones.h), each operation rounded as
 * written, so every copy gives the same bits; and x is taken as codes only where
 * each of its values is, bit for bit, what this loop returns for its code. */
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

#define FROM_CODES(NAME, REAL)                                                              \
    NNF_CLONES void NAME(nnf_int n, const unsigned char *codes, REAL scale, REAL *out)     \
    {                                                                                       \
        const REAL inverse = 1 / scale;                                                     \
        for (nnf_int j = 0; j < n; j++) {                                                   \
            const REAL k = codes[j], q0 = k * inverse;                                      \
            out[j] = q0 + (k - q0 * scale) * inverse;                                       \
        }                                                                                   \
    }

FROM_CODES(nnf_sfrom_codes, float)
FROM_CODES(nnf_dfrom_codes, double)

/* Values are checked against a table of the 256 values the loop gives, in blocks
 * shared among the threads; once one block finds a value that is no code's, the
 * blocks not yet begun are skipped, so that data that are not bytes (standardised
 * inputs, say) cost little more than their first block. */
#define BLOCK_VALUES 4096

#define BYTE_CODES(NAME, FROM, REAL, BITS)                                                  \
    int NAME(nnf_int n, const REAL *x, REAL scale, unsigned char *codes, int n_threads)     \
    {                                                                                       \
        unsigned char all[256];                                                             \
        REAL value[256];                                                                    \
        for (int k = 0; k < 256; k++)                                                       \
            all[k] = (unsigned char)k;                                                      \
        FROM(256, all, scale, value);                                                       \
        BITS bits[256];                                                                     \
        memcpy(bits, value, sizeof bits);                                                   \
        const nnf_int blocks = (n + BLOCK_VALUES - 1) / BLOCK_VALUES;                       \
        int failed = 0;                                                                     \
        _Pragma("omp parallel for schedule(static) num_threads(nnf_work_team(n_threads, n, NNF_WORK_ELEMENTWISE))") \
        for (nnf_int q = 0; q < blocks; q++) {                                              \
            if (__atomic_load_n(&failed, __ATOMIC_RELAXED))                                 \
                continue;                                                                   \
            const nnf_int end = (q + 1) * BLOCK_VALUES < n ? (q + 1) * BLOCK_VALUES : n;    \
            int bad = 0;                                                                    \
            for (nnf_int i = q * BLOCK_VALUES; i < end; i++) {                              \
                const REAL t = x[i] * scale + (REAL)0.5;                                    \
                /* NaN, and values outside [-1/2, 255.5) / scale, fail here. */             \
                if (!(t >= 0 && t < 256)) {                                                 \
                    bad = 1;                                                                \
                    break;                                                                  \
                }                                                                           \
                const int k = (int)t;                                                       \
                BITS got;                                                                   \
                memcpy(&got, x + i, sizeof got);                                            \
                bad |= got != bits[k];                                                      \
                codes[i] = (unsigned char)k;                                                \
            }                                                                               \
            if (bad)                                                                        \
                __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);                             \
        }                                                                                   \
        return !failed;                                                                     \
    }

BYTE_CODES(nnf_sbyte_codes, nnf_sfrom_codes, float, uint32_t)
BYTE_CODES(nnf_dbyte_codes, nnf_dfrom_codes, double, uint64_t)
