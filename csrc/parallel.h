/* OpenMP is optional: without it every parallel region runs on one thread. */
#ifndef NNFAST_PARALLEL_H
#define NNFAST_PARALLEL_H

#ifdef _OPENMP
#include <omp.h>
static inline int nnf_thread_num(void) { return omp_get_thread_num(); }
static inline int nnf_num_threads(void) { return omp_get_num_threads(); }
#else
static inline int nnf_thread_num(void) { return 0; }
static inline int nnf_num_threads(void) { return 1; }
#endif

/* libgomp's thread pool does not survive fork(): a child that entered a parallel
 * region would wait forever for threads that were not copied. parallel.c notes the
 * fork, and from then on every region runs on the calling thread. */
extern int nnf_forked_child;
static inline int nnf_team_size(int n) { return nnf_forked_child ? 1 : n; }
static inline int nnf_go_parallel(int worth_it) { return worth_it && !nnf_forked_child; }

/* The team of a parallel region asked to run on n_threads threads that pays only
 * when worth_it: n_threads, or 1 (the calling thread alone) when it does not pay,
 * when n_threads < 2, or after a fork. A num_threads(1) region costs what an
 * if (0) one does: GCC compiles the if clause into that same thread count. */
static inline int nnf_team(int n_threads, int worth_it)
{
    return worth_it && n_threads > 1 && !nnf_forked_child ? n_threads : 1;
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

/* The floating-point mode a kernel runs in: x86's flush-to-zero and
 * denormals-are-zero bits of MXCSR (the float engine sets them: engine.c). The mode is
 * per thread, so every parallel region reads the caller's mode first and each
 * thread of the team adopts it (nnf_fp_join) before it computes: a kernel gives
 * the same bits on any thread count in whichever mode it is called. */
#if defined(__x86_64__) || defined(__i386__)
#define NNF_FP_FLUSH 0x8040u /* FTZ (bit 15) | DAZ (bit 6) */
static inline unsigned nnf_fp_mode(void) { return _mm_getcsr() & NNF_FP_FLUSH; }
static inline void nnf_fp_join(unsigned mode)
{
    unsigned csr = _mm_getcsr();
    if ((csr & NNF_FP_FLUSH) != mode)
        _mm_setcsr((csr & ~NNF_FP_FLUSH) | mode);
}
#else
#define NNF_FP_FLUSH 0u
static inline unsigned nnf_fp_mode(void) { return 0; }
static inline void nnf_fp_join(unsigned mode) { (void)mode; }
#endif

#endif
