/* The counter-based random numbers of dropout: a draw is a hash of (key, counter),
 * not the next value of a shared stream, so the same key gives the same draws
 * however the work is split among threads or mini-batches. */
#ifndef NNFAST_RNG_H
#define NNFAST_RNG_H

#include <stdint.h>

/* SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014): a bijection of
 * 64-bit words whose outputs for consecutive inputs pass BigCrush. */
static inline uint64_t nnf_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* SplitMix64's increment, 2^64 over the golden ratio: its state advances by this a
 * step (nnfast.training.chunk_seed advances a seed by whole mini-batches of steps). */
#define NNF_SEED_STEP 0x9e3779b97f4a7c15ULL

/* SplitMix64's (i+1)-th output from the state `state`, in one step: the generator
 * adds its increment i+1 times, then mixes. */
static inline uint64_t nnf_splitmix64(uint64_t state, uint64_t i)
{
    return nnf_mix64(state + (i + 1) * NNF_SEED_STEP);
}

#endif
