/* OpenMP is optional: without it every parallel region runs on one thread. */
#ifndef NNFAST_PARALLEL_H
#define NNFAST_PARALLEL_H

#include <sched.h>
#include <stddef.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

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
 * when n_threads < 2, or after a fork. */
static inline int nnf_team(int n_threads, int worth_it)
{
    return worth_it && n_threads > 1 && !nnf_forked_child ? n_threads : 1;
}

/* A spinning thread's pause (x86's PAUSE, Arm's YIELD): it frees the core's
 * resources for the other hyperthread and eases the loop's exit. */
static inline void nnf_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A wait for another thread of a region, one turn at a time (while (...)
 * nnf_wait_turn(&w), w zero-initialised): a pause while the wait is short, a step's
 * own waits being microseconds at mini-batch 10, and, once it has lasted
 * NNF_SPIN_SECONDS, the core given up at every turn. With more threads than cores
 * (networks trained side by side in Python threads, another program) the thread
 * waited for may be waiting for this very core, which a spin would hold for the
 * rest of its time slice: two [784, 100, 10] networks trained at once on two
 * cores, two threads each, took up to 0.34 s an epoch of 10,000 rows against 0.045
 * one after the other. */
#define NNF_SPIN_SECONDS 50e-6

typedef struct {
    unsigned turns;
    int yielding;
    double started;
} nnf_wait;

/* The monotonic clock, in seconds: the waits', the planner's and the peak's. */
static inline double nnf_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void nnf_wait_turn(nnf_wait *w)
{
    if (w->yielding) {
        sched_yield();
        return;
    }
    if (w->turns % 256 == 0) { /* the clock every 256 turns: a few ns a turn */
        const double now = nnf_seconds();
        if (w->turns == 0)
            w->started = now;
        else if (now - w->started > NNF_SPIN_SECONDS)
            w->yielding = 1;
    }
    w->turns++;
    nnf_pause();
}

/* A barrier for the `team` threads of a region that waits by nnf_wait_turn rather
 * than sleeping: libgomp's barriers, and its forks and joins, each end with a futex
 * call, about 1 us on two cores, where a mini-batch-10 step between two barriers can
 * take 5. For regions that keep their threads busy (a chunk's: engine.inc).
 * Zero-initialised before the region. */
typedef struct {
    _Alignas(64) int arrived;
    int generation;
    char line[64 - 2 * sizeof(int)]; /* a line of its own: nothing else moves with it */
} nnf_spin_barrier;

static inline void nnf_spin_barrier_wait(nnf_spin_barrier *b, int team)
{
    const int generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == team) {
        /* The waiters read the new generation (acquire) after this reset. */
        __atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->generation, generation + 1, __ATOMIC_RELEASE);
    } else {
        nnf_wait w = {0};
        while (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == generation)
            nnf_wait_turn(&w);
    }
}

/* Demote the lines of [p, p + bytes) from this core's caches to the cache the cores
 * share (x86's CLDEMOTE, a hint a CPU without it executes as a NOP: its encoding is
 * in the reserved-NOP space), so that another core reads them from there rather than
 * from this core. Elsewhere nothing. */
static inline void nnf_demote(const void *p, size_t bytes)
{
#if defined(__x86_64__)
    for (size_t o = 0; o < bytes; o += 64)
        __asm__ __volatile__(".byte 0x0f, 0x1c, 0x07" : : "D"((const char *)p + o) : "memory");
#else
    (void)p;
    (void)bytes;
#endif
}

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

/* for (nnf_int i = 0; i < count; i++) BODY, the iterations split among a team of
 * `team` threads in equal runs (OpenMP's static schedule), each thread in the
 * caller's floating-point mode. A team of one runs the loop on the calling thread
 * without entering OpenMP: libgomp builds and frees a team even for one thread (a
 * num_threads(1) or if (0) region), about 0.2 us, and a [784, 30, 10] step at
 * mini-batch 10 runs ten regions in its 15 us. So BODY must not ask which thread
 * runs it: inside another team's region nnf_thread_num() would be the caller's
 * number, not 0. Any team computes the same: each iteration runs once, on one of
 * the threads. The kernels a mini-batch step calls use it; regions run once per
 * layer or per run keep their pragmas. The loop has no barrier of its own (nowait):
 * the region's end is one, and a second cost about 1 us on two cores, a tenth of a
 * [784, 100, 10] step's forward region at mini-batch 10. */
#define NNF_PARALLEL_FOR(team, i, count, ...)                                               \
    do {                                                                                    \
        const int nnf_team_ = nnf_team_size(team);                                          \
        const nnf_int nnf_count_ = (count);                                                 \
        if (nnf_team_ < 2) {                                                                \
            for (nnf_int i = 0; i < nnf_count_; i++) {                                      \
                __VA_ARGS__                                                                 \
            }                                                                               \
        } else {                                                                            \
            const unsigned nnf_mode_ = nnf_fp_mode();                                       \
            _Pragma("omp parallel num_threads(nnf_team_)")                                  \
            {                                                                               \
                nnf_fp_join(nnf_mode_);                                                     \
                _Pragma("omp for schedule(static) nowait")                                  \
                for (nnf_int i = 0; i < nnf_count_; i++) {                                  \
                    __VA_ARGS__                                                             \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    } while (0)

#endif
