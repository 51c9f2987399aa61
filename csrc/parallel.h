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

#endif
