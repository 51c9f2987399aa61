/* AVX-512 emulated on AVX2, so that a machine without AVX-512 can check the AVX-512
 * kernels' bits against the reference and AVX2 ones (CMake's NNFAST_EMULATE_AVX512,
 * .ci/avx512-emulated). Never in a build for use: it is many times slower.
 *
 * The build force-includes this header into the AVX-512 sources (gemm_ukr_avx512.c,
 * conv_direct_avx512.c, pool_avx512.c), which are then compiled for AVX2 and FMA.
 * SIMDe (SIMD Everywhere, Debian's libsimde-dev) defines each _mm512_* intrinsic and
 * type as a function on AVX2 vectors that computes what the instruction computes:
 * lane by lane the same IEEE operations, an FMA still one rounding. The intrinsics
 * its 0.7 release lacks are written below, lane by lane from Intel's definitions; a
 * masked load or store touches only the lanes its mask selects, as the instruction
 * does (a kernel whose mask is too wide reads past its array here too). */
#ifndef NNFAST_EMULATED_AVX512_H
#define NNFAST_EMULATED_AVX512_H

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <stdint.h>
#include <string.h>

/* Four 128-bit quarters: the low two from a, the high two from b, each chosen by
 * two bits of imm. */
static inline simde__m512 emulated_shuffle_f32x4(simde__m512 a, simde__m512 b, int imm)
{
    float from_a[16], from_b[16], r[16];
    memcpy(from_a, &a, sizeof from_a);
    memcpy(from_b, &b, sizeof from_b);
    for (int q = 0; q < 4; q++)
        memcpy(r + 4 * q, (q < 2 ? from_a : from_b) + 4 * ((imm >> (2 * q)) & 3), 16);
    memcpy(&a, r, sizeof r);
    return a;
}

/* The lanes of n, `size` bytes each, that mask k selects, from `from` to `to` at the
 * same places: a masked load (from memory into a vector) or a masked store. */
static inline void emulated_copy_lanes(void *to, const void *from, unsigned k, int n,
                                       size_t size)
{
    for (int i = 0; i < n; i++)
        if (k >> i & 1)
            memcpy((char *)to + i * size, (const char *)from + i * size, size);
}

static inline simde__m512 emulated_mask_loadu_ps(simde__m512 src, simde__mmask16 k,
                                                 const void *p)
{
    emulated_copy_lanes(&src, p, k, 16, sizeof(float));
    return src;
}

static inline simde__m512d emulated_mask_loadu_pd(simde__m512d src, simde__mmask8 k,
                                                  const void *p)
{
    emulated_copy_lanes(&src, p, k, 8, sizeof(double));
    return src;
}

static inline void emulated_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 v)
{
    emulated_copy_lanes(p, &v, k, 16, sizeof(float));
}

static inline void emulated_mask_storeu_epi32(void *p, simde__mmask16 k, simde__m512i v)
{
    emulated_copy_lanes(p, &v, k, 16, sizeof(int32_t));
}

static inline void emulated_mask_storeu_pd(void *p, simde__mmask8 k, simde__m512d v)
{
    emulated_copy_lanes(p, &v, k, 8, sizeof(double));
}

/* The masked lanes, in order, from consecutive values at p; 0 elsewhere. */
static inline simde__m512 emulated_maskz_expandloadu_ps(simde__mmask16 k, const void *p)
{
    float r[16] = {0};
    int next = 0;
    for (int i = 0; i < 16; i++)
        if (k >> i & 1)
            memcpy(r + i, (const float *)p + next++, sizeof(float));
    simde__m512 v;
    memcpy(&v, r, sizeof r);
    return v;
}

/* The masked lanes, in order, to consecutive values at p. */
static inline void emulated_mask_compressstoreu_ps(void *p, simde__mmask16 k, simde__m512 v)
{
    int next = 0;
    for (int i = 0; i < 16; i++)
        if (k >> i & 1)
            memcpy((float *)p + next++, (const char *)&v + 4 * i, sizeof(float));
}

#undef _mm512_shuffle_f32x4
#undef _mm512_maskz_loadu_ps
#undef _mm512_mask_loadu_ps
#undef _mm512_maskz_loadu_pd
#undef _mm512_mask_storeu_ps
#undef _mm512_mask_storeu_pd
#undef _mm512_mask_storeu_epi32
#undef _mm512_maskz_expandloadu_ps
#undef _mm512_mask_compressstoreu_ps
#define _mm512_shuffle_f32x4(a, b, imm) emulated_shuffle_f32x4(a, b, imm)
#define _mm512_maskz_loadu_ps(k, p) emulated_mask_loadu_ps(simde_mm512_setzero_ps(), k, p)
#define _mm512_mask_loadu_ps(src, k, p) emulated_mask_loadu_ps(src, k, p)
#define _mm512_maskz_loadu_pd(k, p) emulated_mask_loadu_pd(simde_mm512_setzero_pd(), k, p)
#define _mm512_mask_storeu_ps(p, k, v) emulated_mask_storeu_ps(p, k, v)
#define _mm512_mask_storeu_pd(p, k, v) emulated_mask_storeu_pd(p, k, v)
#define _mm512_mask_storeu_epi32(p, k, v) emulated_mask_storeu_epi32(p, k, v)
#define _mm512_maskz_expandloadu_ps(k, p) emulated_maskz_expandloadu_ps(k, p)
#define _mm512_mask_compressstoreu_ps(p, k, v) emulated_mask_compressstoreu_ps(p, k, v)

#endif
