/* Inputs that are bytes. A pixel of MNIST or Fashion-MNIST is a byte k, and the data
 * sets hold it as the float k/255 (nnfast's loaders) or k/256 (the book's pickle).
 * Training reads its mini-batches' rows from all over the data set, from memory:
 * a quarter of a [784, 30, 10] step at mini-batch 10 goes to that copy. Kept as the
 * codes k, the rows are a quarter of the bytes, and each mini-batch's copy turns
 * them back into the very floats of x.
 *
 * k/s comes back as Markstein's corrected quotient: q0 = k * (1/s), the remainder
 * k - q0 * s (exact in one FMA), q = q0 + remainder * (1/s). For s = 256 it is k/256
 * exactly; for s = 255 it is the correctly rounded k/255 for every byte, in float
 * and double (tests/test_byte_codes.py checks all 256 against division). FMAs are
 * exact and correctly rounded on every ISA (the reference one calls fma), so every
 * copy of the loop gives the same bits; and x is taken as codes only where each of
 * its values is, bit for bit, what this loop returns for its code. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

/* The loop, for one precision and one target: TARGET is a target attribute, or
 * nothing for the reference copy. */
#define FROM_CODES(NAME, REAL, FMA, TARGET)                                                 \
    TARGET static void NAME(nnf_int n, const unsigned char *codes, REAL scale, REAL *out)   \
    {                                                                                       \
        const REAL inverse = 1 / scale;                                                     \
        for (nnf_int j = 0; j < n; j++) {                                                   \
            const REAL k = codes[j], q0 = k * inverse;                                      \
            out[j] = FMA(FMA(-q0, scale, k), inverse, q0);                                  \
        }                                                                                   \
    }

#if defined(__x86_64__) && defined(__GNUC__)
#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
FROM_CODES(sfrom_codes_avx512, float, __builtin_fmaf, AVX512)
FROM_CODES(dfrom_codes_avx512, double, __builtin_fma, AVX512)
FROM_CODES(sfrom_codes_avx2, float, __builtin_fmaf, AVX2)
FROM_CODES(dfrom_codes_avx2, double, __builtin_fma, AVX2)
#endif
FROM_CODES(sfrom_codes_ref, float, fmaf, )
FROM_CODES(dfrom_codes_ref, double, fma, )

/* The copy of the kernels in use (NNFAST_ARCH, or the best this CPU runs). */
#if defined(__x86_64__) && defined(__GNUC__)
#define DISPATCH(P, ...)                                                                    \
    do {                                                                                    \
        switch (nnf_arch_get()) {                                                           \
        case NNF_ARCH_AVX512: P##_avx512(__VA_ARGS__); return;                              \
        case NNF_ARCH_AVX2: P##_avx2(__VA_ARGS__); return;                                  \
        default: P##_ref(__VA_ARGS__); return;                                              \
        }                                                                                   \
    } while (0)
#else
#define DISPATCH(P, ...) P##_ref(__VA_ARGS__)
#endif

void nnf_sfrom_codes(nnf_int n, const unsigned char *codes, float scale, float *out)
{
    DISPATCH(sfrom_codes, n, codes, scale, out);
}

void nnf_dfrom_codes(nnf_int n, const unsigned char *codes, double scale, double *out)
{
    DISPATCH(dfrom_codes, n, codes, scale, out);
}

/* Where the kernels in use are the reference ones, whose copy of the loop calls fma
 * for each value (a library call, emulated on an x86-64 without FMA), the floats are
 * read instead: no data are taken as bytes.
 * Values are checked against a table of the 256 values the loop gives, in blocks
 * shared among the threads; once one block finds a value that is no code's, the
 * blocks not yet begun are skipped, so that data that are not bytes (standardised
 * inputs, say) cost little more than their first block. */
#define BLOCK_VALUES 4096

#define BYTE_CODES(NAME, FROM, REAL, BITS)                                                  \
    int NAME(nnf_int n, const REAL *x, REAL scale, unsigned char *codes, int n_threads)     \
    {                                                                                       \
        if (nnf_arch_get() == NNF_ARCH_REF)                                                 \
            return 0;                                                                       \
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
