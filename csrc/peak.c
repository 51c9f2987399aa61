/* The peak flop rate of one core, measured on the machine that runs, so that an
 * efficiency (achieved GFLOP/s over peak) means the same on any CPU and no
 * performance constant comes from the one nnfast was tuned on.
 *
 * The loop is nothing but fused multiply-adds on independent accumulator chains. A
 * chain waits out the FMA latency (4-5 cycles) between its steps, so keeping both
 * FMA ports busy takes 8-10 chains in flight: 12 ymm of AVX2's 16 registers, 24 zmm
 * of AVX-512's 32. Each ISA's loop is compiled for it by a target attribute (one
 * file, no per-file flags) and only ever runs where nnf_arch_best says it can. */
#define _POSIX_C_SOURCE 199309L

#include "nnfast.h"
#include "parallel.h"
#include "peak.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* acc <- acc * x + y with x = 1 - 2^-10 and y = 2^-10 moves every chain towards 1:
 * no overflow, no subnormals, nothing a compiler may fold (no -ffast-math). They
 * are read through volatile so that no constant is known at compile time. */
static volatile float s_x = 1.0f - 0x1p-10f, s_y = 0x1p-10f;
static volatile double d_x = 1.0 - 0x1p-10, d_y = 0x1p-10;

/* One loop: CHAINS accumulators of VEC, iters steps; returns a value that depends on
 * every step, for the caller to keep. */
#define DEFINE_FMA_LOOP(NAME, ATTRIBUTE, REAL, VEC, SET1, FMA, ADD, LANES, CHAINS, X, Y)    \
    ATTRIBUTE static REAL NAME(long iters)                                                  \
    {                                                                                        \
        VEC acc[CHAINS], vx = SET1(X), vy = SET1(Y);                                         \
        for (int j = 0; j < CHAINS; j++)                                                     \
            acc[j] = SET1((REAL)j);                                                          \
        for (long i = 0; i < iters; i++) {                                                   \
            _Pragma("GCC unroll 32")                                                         \
            for (int j = 0; j < CHAINS; j++)                                                 \
                acc[j] = FMA(acc[j], vx, vy);                                                \
        }                                                                                    \
        for (int j = 1; j < CHAINS; j++)                                                     \
            acc[0] = ADD(acc[0], acc[j]);                                                    \
        REAL lanes[LANES];                                                                   \
        __builtin_memcpy(lanes, &acc[0], sizeof lanes);                                      \
        return lanes[0];                                                                     \
    }

/* The reference loop for any other CPU: GNU vectors of 16 bytes (SSE2, NEON), a
 * multiply and an add that the compiler fuses where the baseline ISA has an FMA.
 * Where it has none (x86-64 before AVX2), the add waits for the multiply and 12
 * chains cover only part of the latency: there the figure is a floor, not the peak. */
typedef float ref_vs __attribute__((vector_size(16)));
typedef double ref_vd __attribute__((vector_size(16)));
#define REF_SET1_S(v) ((ref_vs){0} + (float)(v))
#define REF_SET1_D(v) ((ref_vd){0} + (double)(v))
#define REF_FMA(a, b, c) ((a) * (b) + (c))
#define REF_ADD(a, b) ((a) + (b))
#define REF_CHAINS 12
DEFINE_FMA_LOOP(ref_loop_s, , float, ref_vs, REF_SET1_S, REF_FMA, REF_ADD, 4, REF_CHAINS, s_x, s_y)
DEFINE_FMA_LOOP(ref_loop_d, , double, ref_vd, REF_SET1_D, REF_FMA, REF_ADD, 2, REF_CHAINS, d_x, d_y)

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
DEFINE_FMA_LOOP(avx2_loop_s, AVX2, float, __m256, _mm256_set1_ps, _mm256_fmadd_ps,
                _mm256_add_ps, 8, 12, s_x, s_y)
DEFINE_FMA_LOOP(avx2_loop_d, AVX2, double, __m256d, _mm256_set1_pd, _mm256_fmadd_pd,
                _mm256_add_pd, 4, 12, d_x, d_y)
DEFINE_FMA_LOOP(avx512_loop_s, AVX512, float, __m512, _mm512_set1_ps, _mm512_fmadd_ps,
                _mm512_add_ps, 16, 24, s_x, s_y)
DEFINE_FMA_LOOP(avx512_loop_d, AVX512, double, __m512d, _mm512_set1_pd, _mm512_fmadd_pd,
                _mm512_add_pd, 8, 24, d_x, d_y)
#endif

static volatile double sink;

/* Seconds for one run of iters steps of arch's loop. */
static double time_loop(int arch, int is_double, long iters)
{
    double start = nnf_seconds();
    switch (arch * 2 + is_double) {
#if defined(__x86_64__)
    case NNF_ARCH_AVX512 * 2: sink = avx512_loop_s(iters); break;
    case NNF_ARCH_AVX512 * 2 + 1: sink = avx512_loop_d(iters); break;
    case NNF_ARCH_AVX2 * 2: sink = avx2_loop_s(iters); break;
    case NNF_ARCH_AVX2 * 2 + 1: sink = avx2_loop_d(iters); break;
#endif
    case NNF_ARCH_REF * 2 + 1: sink = ref_loop_d(iters); break;
    default: sink = ref_loop_s(iters); break;
    }
    return nnf_seconds() - start;
}

/* Flops per step of each loop: 2 per lane of every chain. */
static double flops_per_step(int arch, int is_double)
{
    int bytes = arch == NNF_ARCH_AVX512 ? 64 : arch == NNF_ARCH_AVX2 ? 32 : 16;
    int chains = arch == NNF_ARCH_AVX512 ? 24 : arch == NNF_ARCH_AVX2 ? 12 : REF_CHAINS;
    return 2.0 * chains * (bytes / (is_double ? 8 : 4));
}

/* A run this long (0.25 ms) is thousands of timer resolutions, and the best of
 * TRIALS such runs is one that no other process interrupted. Doubling up to it also
 * gives the core time to reach the clock it holds under wide vector load. */
#define RUN_SECONDS 0.25e-3
#define TRIALS 8

double nnf_peak_gflops(int arch, int is_double)
{
    if (arch < 0 || arch > nnf_arch_best())
        return -1.0;
#ifdef NNF_EMULATED_AVX512
    if (arch == NNF_ARCH_AVX512) /* emulated on AVX2's vectors (emulated_avx512.h) */
        arch = NNF_ARCH_AVX2;
#endif
    long iters = 256;
    while (time_loop(arch, is_double, iters) < RUN_SECONDS)
        iters *= 2;
    double best = 0.0;
    for (int trial = 0; trial < TRIALS; trial++) {
        double rate = flops_per_step(arch, is_double) * (double)iters /
                      time_loop(arch, is_double, iters);
        if (rate > best)
            best = rate;
    }
    return best * 1e-9;
}
