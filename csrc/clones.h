/* NNF_CLONES: compile a function for AVX-512, for AVX2 and for the baseline, the copy
 * to run chosen once by the loader (GCC's function multi-versioning, an ifunc). For
 * the loops of the elementwise kernels, which the compiler vectorises:
 * the baseline x86-64 has 4 float lanes, an AVX-512 core 16. Every copy rounds each
 * operation as IEEE 754 says (no FMA is written, and the build never contracts one),
 * so which copy runs changes speed, never a bit; NNFAST_ARCH, which picks the GEMM
 * kernels, leaves it to the CPU. Empty where the toolchain cannot (not x86-64, no
 * ifunc): the one baseline copy. */
#ifndef NNFAST_CLONES_H
#define NNFAST_CLONES_H

#if defined(NNF_HAVE_TARGET_CLONES)
#define NNF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NNF_CLONES
#endif

#endif
