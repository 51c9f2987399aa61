/* Inputs that are bytes. A pixel of MNIST or Fashion-MNIST is a byte k, and the data
 * sets hold it as the float k/255 (nnfast's loaders) or k/256 (the book's pickle).
 * Training reads its mini-batches' rows from all over the data set, from memory:
 * a quarter of a [784, 30, 10] step at mini-batch 10 goes to that copy. Kept as the
 * codes k, the rows are a quarter of the bytes, and each mini-batch's copy turns
 * them back into the very floats of x.
 *
 * k/s comes back as k/256 + k * r, r = (256 - s) / (256 s) rounded (1/65280 for s =
 * 255, 0 for 256): k/256 is exact and k * r a 256th of the sum, so r's rounding and
 * the product's (none, fused) each move the sum by 2^-32 of it at most (2^-61 in
 * double), and for each of the 256 bytes, both scales, float and double, fused or
 * not, the sum rounds to the correctly rounded k/s (worked out with exact fractions;
 * tests/test_byte_codes.py checks the compiled copies against division). The loop is
 * compiled for each ISA as the elementwise kernels are (clones.h), and written out in
 * AVX2 and AVX-512 for float with the sum fused (below), each copy returning that
 * correctly rounded quotient, so every copy gives the same bits; and x is taken as
 * codes only where each of its values is, bit for bit, what this loop returns for
 * its code. */
#include <stdint.h>
#if defined(NNF_HAVE_TARGET_CLONES)
#include <immintrin.h>
#endif
#include <string.h>

#include "clones.h"
#include "nnfast.h"
#include "parallel.h"
#include "plan.h"

/* k/s for a byte k held as a REAL, from rest = REST(s): the one expression both loops
 * below evaluate, so that a value found as a byte comes back as itself. */
#define REST(scale) ((256 - (scale)) / (256 * (scale)))
#define FROM_CODE(k, rest) ((k) * (1.0f / 256) + (k) * (rest))

#define FROM_CODES(LINKAGE, NAME, REAL)                                                     \
    LINKAGE NNF_CLONES void NAME(nnf_int n, const unsigned char *codes, REAL scale, REAL *out) \
    {                                                                                       \
        const REAL rest = REST(scale);                                                      \
        for (nnf_int j = 0; j < n; j++) {                                                   \
            const REAL k = codes[j];                                                        \
            out[j] = FROM_CODE(k, rest);                                                    \
        }                                                                                   \
    }

FROM_CODES(, nnf_dfrom_codes, double)

#if defined(NNF_HAVE_TARGET_CLONES)
FROM_CODES(static, sfrom_codes_cloned, float)

/* The float loop in ymm and in zmm registers, each 8 or 16 bytes widened straight to
 * int32 lanes and the sum fused: GCC's copies of the loop above spent their time
 * unpacking through 16-bit lanes (its AVX-512 copy in ymm registers). On an AVX2 AMD
 * EPYC a mini-batch of 10 MNIST rows from memory took 2.65 us so and 1.93-1.97 written
 * out; rows in L1 (a C harness, the same minutes), 0.84 us as k * (1/s) with a fused
 * correction by the remainder (three operations after the conversion), 0.66 as this
 * sum (two). One loop for both widths: MM is the intrinsics' prefix, LANES the floats
 * a vector, LOAD_BYTES the load of its bytes. */
#define FROM_CODES_VECTORS(NAME, TARGET, MM, VEC, LANES, LOAD_BYTES)                         \
    __attribute__((target(TARGET))) static void NAME(nnf_int n, const unsigned char *codes, \
                                                     float scale, float *out)               \
    {                                                                                       \
        const float rest = REST(scale);                                                     \
        const VEC vrest = MM##_set1_ps(rest), vbyte = MM##_set1_ps(1.0f / 256);             \
        nnf_int j = 0;                                                                      \
        for (; j + LANES <= n; j += LANES) {                                                \
            const __m128i bytes = LOAD_BYTES((const __m128i *)(codes + j));                 \
            const VEC k = MM##_cvtepi32_ps(MM##_cvtepu8_epi32(bytes));                      \
            MM##_storeu_ps(out + j, MM##_fmadd_ps(k, vrest, MM##_mul_ps(k, vbyte)));        \
        }                                                                                   \
        for (; j < n; j++) {                                                                \
            const float k = codes[j];                                                       \
            out[j] = FROM_CODE(k, rest);                                                    \
        }                                                                                   \
    }

FROM_CODES_VECTORS(sfrom_codes_avx2, "avx2,fma", _mm256, __m256, 8, _mm_loadl_epi64)
FROM_CODES_VECTORS(sfrom_codes_avx512, "avx512f", _mm512, __m512, 16, _mm_loadu_si128)

void nnf_sfrom_codes(nnf_int n, const unsigned char *codes, float scale, float *out)
{
    if (__builtin_cpu_supports("avx512f"))
        sfrom_codes_avx512(n, codes, scale, out);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        sfrom_codes_avx2(n, codes, scale, out);
    else
        sfrom_codes_cloned(n, codes, scale, out);
}
#else
FROM_CODES(, nnf_sfrom_codes, float)
#endif

/* Whether each of x's n values is FROM_CODE of a byte, bit for bit, writing the bytes
 * to codes. The byte is x * scale rounded to the nearest integer by adding 1.5 * 2^23
 * (2^52 in double), whose low mantissa bits then hold it: that finds k for a value
 * that is FROM_CODE(k), and for any other value some byte whose FROM_CODE differs
 * from it, NaN included. Comparing the bits then decides, without a branch, so each
 * ISA's copy runs in vectors (a table of the 256 values, looked up value by value,
 * took 84 ms for 50,000 images). */
#define BLOCK_CODES(NAME, REAL, BITS, MAGIC)                                                \
    static NNF_CLONES int NAME(nnf_int n, const REAL *x, REAL scale, unsigned char *codes) \
    {                                                                                       \
        const REAL rest = REST(scale), magic = MAGIC;                                       \
        BITS magic_bits, bad = 0;                                                           \
        memcpy(&magic_bits, &magic, sizeof magic_bits);                                     \
        for (nnf_int i = 0; i < n; i++) {                                                   \
            const REAL rounded = x[i] * scale + magic;                                      \
            BITS rounded_bits, want, got;                                                   \
            memcpy(&rounded_bits, &rounded, sizeof rounded_bits);                           \
            const BITS code = (rounded_bits - magic_bits) & 255;                            \
            const REAL k = (REAL)(int)code, back = FROM_CODE(k, rest);                      \
            memcpy(&want, x + i, sizeof want);                                              \
            memcpy(&got, &back, sizeof got);                                                \
            bad |= want ^ got;                                                              \
            codes[i] = (unsigned char)code;                                                 \
        }                                                                                   \
        return bad != 0;                                                                    \
    }

BLOCK_CODES(sblock_codes, float, uint32_t, 12582912.0f)
BLOCK_CODES(dblock_codes, double, uint64_t, 6755399441055744.0)

/* The blocks are shared among the threads; once one block finds a value that is no
 * byte's, the blocks not yet begun are skipped, so that data that are not bytes
 * (standardised inputs, say) cost little more than their first block. */
#define BLOCK_VALUES 4096

#define BYTE_CODES(NAME, BLOCK, REAL)                                                       \
    int NAME(nnf_int n, const REAL *x, REAL scale, unsigned char *codes, int n_threads)     \
    {                                                                                       \
        const nnf_int blocks = (n + BLOCK_VALUES - 1) / BLOCK_VALUES;                       \
        int failed = 0;                                                                     \
        _Pragma("omp parallel for schedule(static) num_threads(nnf_work_team(n_threads, n, NNF_WORK_ELEMENTWISE))") \
        for (nnf_int q = 0; q < blocks; q++) {                                              \
            if (__atomic_load_n(&failed, __ATOMIC_RELAXED))                                 \
                continue;                                                                   \
            const nnf_int first = q * BLOCK_VALUES;                                         \
            const nnf_int count = n - first < BLOCK_VALUES ? n - first : BLOCK_VALUES;      \
            if (BLOCK(count, x + first, scale, codes + first))                              \
                __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);                             \
        }                                                                                   \
        return !failed;                                                                     \
    }

BYTE_CODES(nnf_sbyte_codes, sblock_codes, float)
BYTE_CODES(nnf_dbyte_codes, dblock_codes, double)
