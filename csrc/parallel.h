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

#endif
