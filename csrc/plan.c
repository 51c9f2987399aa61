/* The planner: FFTW's FFTW_MEASURE for nnfast's products and kernels.
 *
 * The first time a GEMM signature is met (plan.h), every candidate that gives the
 * same bits is timed on this machine, on scratch copies of C, and the fastest is
 * cached for the process: the team size (the threads asked for, then halving to 1:
 * results are identical for any team) and the kernel table (among the ISAs this CPU
 * runs, only where nnf_gemm_same_bits says they agree). A conv layer's forward product
 * that the direct convolution fits, and a pooled one-channel layer's weight gradient
 * that the windows kernel takes, have each of their paths timed by conv.c, which
 * caches its choice here (nnf_conv_plan_make). The elementwise, pooling and
 * dropout kernels go parallel above a threshold derived, once, from this machine's
 * fork/join and per-element costs. No performance constant from another CPU decides.
 *
 * NNFAST_PLAN=estimate replaces every timing by the fixed rule below (what nnfast did
 * before it planned). The cache is read under a read lock, written under a write
 * lock: networks train side by side in threads, each planning as it goes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "parallel.h"
#include "plan.h"
#include "rng.h"

/* ---- The estimate rule (NNFAST_PLAN=estimate) ----
 * The thresholds nnfast used before it measured, set on an AVX2 machine by
 * benches/test_epoch.py and benches/test_elementwise.py: a product of fewer flops
 * runs on one thread, the elementwise, pooling and dropout kernels run on one thread
 * at or below their element counts; the kernel table is the one in use. */
#define ESTIMATE_GEMM_PARALLEL_FLOPS (1.0 * 1024 * 1024)
static const nnf_int estimate_threshold[NNF_WORK_KINDS] = {16384, 65536, 65536, 16384};

/* ---- Measuring ----
 * Each GEMM candidate runs once to warm its caches and packing buffers (a team's for
 * TEAM_WARM_SECONDS, below), then TIMED_RUNS times; the best run is the one no other
 * process interrupted (a product of LONG_SECONDS or more: the best of its warm-up and
 * one more run). A candidate whose warm-up already took LOSING times the best
 * so far is dropped after it, and so are its table's smaller teams. A signature's
 * planning therefore costs at most RUNS_PER_CANDIDATE runs per candidate beyond the
 * teams' warm-up, 3 x (team sizes) x (kernel tables): 6 runs for 2 threads on one
 * table; and a big product whose fewer-thread runs lose costs its best team's runs
 * plus one run at half the team.
 * A timed run of a product shorter than BATCH_SECONDS repeats it (at most
 * BATCH_REPEATS times) until the run lasts that long, and counts the mean: a
 * mini-batch-10 product of a microsecond or two is otherwise decided by the timer's
 * resolution and a single interruption. That bounds a signature's planning at
 * about 2 x BATCH_SECONDS per candidate beyond the product's own runs. */
#define TIMED_RUNS 2
#define RUNS_PER_CANDIDATE (1 + TIMED_RUNS)
/* A warm-up run this long counts as a timed run, and one more run is timed: warming
 * the caches is a small part of it, and W4's products at mini-batch 256 (0.3-2.7 ms a
 * run, 4 candidates each on 2 threads) took 8% of an epoch to plan with three runs. */
#define LONG_SECONDS 0.5e-3
/* A team's candidate is warmed up for this long, its product repeated, unless a team
 * ran for the planner as recently: a core that idled runs slow for a few milliseconds
 * once it has work again. On the 2-core AMD EPYC VM, after 50 ms of sleep, a 2-thread
 * 256 x 30 x 784 product took 380, 277, 293 us in its first runs and 115 from about
 * the twelfth (3 ms) on, against 204 on one warm thread: with a one-run warm-up, four
 * processes in eight planned it on one thread. */
#define TEAM_WARM_SECONDS 3e-3
/* A measured plan (a GEMM's, or a convolution's) whose other candidates came within
 * CLOSE_MARGIN of the fastest is timed once more at its first use RECHECK_SECONDS or
 * more later: those candidates again, each keeping the better of its two times (a
 * run is never faster than the core allows, so a slow stretch can only have slowed
 * it). A core's speed varies over hundreds of milliseconds (on the 2-core AMD EPYC
 * VM an FMA loop ran at half speed for the first 0.5 s after a 2 s sleep), and that
 * can change which of two near candidates wins: W2's 100 x 784 x 10 update, planned
 * in its first epoch, took 28.0-37.5 us in short tiles against 25.1-27.5 in tiles of
 * MR, and planned a second later 21.7-22.9 against 23.6-25.0, as in the epoch
 * (0.232-0.236 s against 0.251-0.253). */
#define CLOSE_MARGIN 0.5
#define RECHECK_SECONDS 1.0
#define LOSING 2.0
#define BATCH_SECONDS 50e-6
#define BATCH_REPEATS 64

/* A kernel's elements on one thread, timed to find its per-element cost: a few
 * tens of microseconds, as long as the kernels the threshold decides for. */
#define PROBE_ELEMENTS 16384
#define PROBE_RUNS 5
/* A team pays when the half of the work it moves off the calling thread saves at
 * least twice the fork/join (the margin keeps timing noise from making two threads
 * slower than one): n c / 2 >= 2 f, so n >= 4 f / c. */
#define FORK_JOIN_MARGIN 4.0

static atomic_int plan_mode = NNF_PLAN_MEASURE;
static atomic_llong timed_runs;
static _Atomic double team_timed_at = -INFINITY; /* when a team's candidate was last timed */
static _Thread_local int unmeasured; /* nnf_plan_unmeasured */

int nnf_plan_mode(void) { return atomic_load(&plan_mode); }
void nnf_plan_set_mode(int mode) { atomic_store(&plan_mode, mode); }
long long nnf_plan_timed_runs(void) { return atomic_load(&timed_runs); }
double nnf_plan_recheck_seconds(void) { return RECHECK_SECONDS; }

/* Whether a plan marked recheck is due to be timed again. */
static int recheck_due(int recheck, double planned_at)
{
    return recheck && nnf_seconds() - planned_at >= RECHECK_SECONDS;
}

int nnf_plan_unmeasured(int on)
{
    const int was = unmeasured;
    unmeasured = on;
    return was;
}

/* The kernel tables' contract: every kernel of every ISA computes each output in one
 * summation order per family of paths (tuning.h, gemm_ukr.h), so the planner may time
 * every table the CPU runs. Should an ISA's kernels ever round differently, this
 * returns arch_a == arch_b for it (tests/test_plan.py and test_same_bits.py check the
 * promise). */
int nnf_gemm_same_bits(int arch_a, int arch_b) { return 1; }

const nnf_gemm_arch *nnf_gemm_table(int arch)
{
#if defined(__x86_64__)
    switch (arch) {
    case NNF_ARCH_AVX512: return &nnf_gemm_avx512;
    case NNF_ARCH_AVX2: return &nnf_gemm_avx2;
    }
#endif
    return &nnf_gemm_ref;
}

/* ---- The cache of GEMM plans: an array in the order planned, and an open-addressed
 * index of it (-1: empty) at most half full. ---- */
static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static nnf_gemm_plan *plans;
static int n_plans, plans_capacity;
static int *index_slots;
static size_t index_capacity;

static int same_signature(const nnf_gemm_signature *x, const nnf_gemm_signature *y)
{
    return x->arch_in_use == y->arch_in_use && x->is_double == y->is_double && x->m == y->m && x->n == y->n && x->k == y->k &&
           x->layout == y->layout && x->beta_zero == y->beta_zero && x->n_threads == y->n_threads;
}

static size_t signature_hash(const nnf_gemm_signature *s)
{
    uint64_t h = nnf_mix64((uint64_t)s->m);
    h = nnf_mix64(h ^ (uint64_t)s->n);
    h = nnf_mix64(h ^ (uint64_t)s->k);
    h = nnf_mix64(h ^ ((uint64_t)s->layout << 40 | (uint64_t)s->beta_zero << 36 |
                       (uint64_t)s->arch_in_use << 33 | (uint64_t)s->is_double << 32 |
                       (uint64_t)(unsigned)s->n_threads));
    return (size_t)h;
}

/* The slot of s in the index: where it is, or the empty slot where it would go. */
static size_t index_slot(const nnf_gemm_signature *s)
{
    size_t i = signature_hash(s) & (index_capacity - 1);
    while (index_slots[i] >= 0 && !same_signature(&plans[index_slots[i]].sig, s))
        i = (i + 1) & (index_capacity - 1);
    return i;
}

/* How s's cached plan was made (NNF_PLAN_*, its choice in choice), under the read
 * lock, or -1 when s has none. A measured plan due to be timed again (RECHECK_SECONDS
 * after it was timed) is copied to `due`, whose `recheck` is 0 otherwise. */
static int cache_lookup(const nnf_gemm_signature *s, nnf_gemm_choice *choice,
                        nnf_gemm_plan *due)
{
    int found = -1;
    due->recheck = 0;
    pthread_rwlock_rdlock(&cache_lock);
    if (index_capacity) {
        int at = index_slots[index_slot(s)];
        if (at >= 0) {
            choice->arch = plans[at].arch;
            choice->team = plans[at].team;
            choice->path = plans[at].path;
            found = plans[at].how;
            if (recheck_due(plans[at].recheck, plans[at].planned_at))
                *due = plans[at];
        }
    }
    pthread_rwlock_unlock(&cache_lock);
    return found;
}

static int grow_index(void)
{
    size_t capacity = index_capacity ? 2 * index_capacity : 64;
    int *slots = malloc(capacity * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        slots[i] = -1;
    free(index_slots);
    index_slots = slots;
    index_capacity = capacity;
    for (int p = 0; p < n_plans; p++)
        index_slots[index_slot(&plans[p].sig)] = p;
    return 0;
}

/* Caches plan unless its signature has one (planned meanwhile by another thread, or
 * imported: then that one stays, replace == 0) or replaces it (replace == 1, or the
 * one it has is provisional and plan is not). The choice cached is written to choice.
 * -1 when out of memory (nothing cached). */
static int cache_insert(const nnf_gemm_plan *plan, int replace, nnf_gemm_choice *choice)
{
    int status = 0;
    pthread_rwlock_wrlock(&cache_lock);
    if (2 * (size_t)(n_plans + 1) > index_capacity && grow_index() != 0) {
        status = -1;
        goto done;
    }
    size_t slot = index_slot(&plan->sig);
    if (index_slots[slot] >= 0) {
        nnf_gemm_plan *had = &plans[index_slots[slot]];
        if (replace || (had->how == NNF_PLAN_PROVISIONAL && plan->how != NNF_PLAN_PROVISIONAL))
            *had = *plan;
    } else {
        if (n_plans == plans_capacity) {
            int capacity = plans_capacity ? 2 * plans_capacity : 32;
            nnf_gemm_plan *grown = realloc(plans, (size_t)capacity * sizeof *plans);
            if (!grown) {
                status = -1;
                goto done;
            }
            plans = grown;
            plans_capacity = capacity;
        }
        plans[n_plans] = *plan;
        index_slots[slot] = n_plans++;
    }
    if (choice) {
        const nnf_gemm_plan *kept = &plans[index_slots[slot]];
        choice->arch = kept->arch;
        choice->team = kept->team;
        choice->path = kept->path;
    }
done:
    pthread_rwlock_unlock(&cache_lock);
    return status;
}

int nnf_plan_count(void)
{
    pthread_rwlock_rdlock(&cache_lock);
    int count = n_plans;
    pthread_rwlock_unlock(&cache_lock);
    return count;
}

int nnf_plan_get(int i, nnf_gemm_plan *plan)
{
    int status = -1;
    pthread_rwlock_rdlock(&cache_lock);
    if (i >= 0 && i < n_plans) {
        *plan = plans[i];
        status = 0;
    }
    pthread_rwlock_unlock(&cache_lock);
    return status;
}

int nnf_plan_put(const nnf_gemm_plan *plan) { return cache_insert(plan, 1, NULL); }

/* ---- The cache of convolution plans: few (a signature per conv layer), so an
 * array searched in order, under the GEMM cache's lock. ---- */
static nnf_conv_plan *conv_plans;
static int n_conv_plans, conv_plans_capacity;

static int conv_index(const nnf_conv_signature *s)
{
    for (int i = 0; i < n_conv_plans; i++) {
        const nnf_conv_signature *t = &conv_plans[i].sig;
        if (t->product == s->product && t->arch_in_use == s->arch_in_use &&
            t->is_double == s->is_double && t->c == s->c &&
            t->h == s->h && t->w == s->w && t->f == s->f && t->kh == s->kh && t->kw == s->kw &&
            t->n_threads == s->n_threads)
            return i;
    }
    return -1;
}

/* A close call due to be timed again (as a GEMM plan's) counts as not planned, on the
 * thread that would plan it, so that its caller makes it again. */
int nnf_conv_plan_lookup(const nnf_conv_signature *s, int *path)
{
    pthread_rwlock_rdlock(&cache_lock);
    int at = conv_index(s);
    int found = at >= 0;
    if (found) {
        *path = conv_plans[at].path;
        found = !(recheck_due(conv_plans[at].recheck, conv_plans[at].planned_at) &&
                  !unmeasured && nnf_thread_num() == 0 && nnf_plan_mode() == NNF_PLAN_MEASURE);
    }
    pthread_rwlock_unlock(&cache_lock);
    return found;
}

/* As cache_insert, for a convolution plan. */
static int conv_cache_insert(const nnf_conv_plan *plan, int replace, int *path)
{
    int status = 0;
    pthread_rwlock_wrlock(&cache_lock);
    int at = conv_index(&plan->sig);
    if (at >= 0) {
        if (replace)
            conv_plans[at] = *plan;
    } else {
        if (n_conv_plans == conv_plans_capacity) {
            int capacity = conv_plans_capacity ? 2 * conv_plans_capacity : 8;
            nnf_conv_plan *grown = realloc(conv_plans, (size_t)capacity * sizeof *conv_plans);
            if (!grown) {
                status = -1;
                goto done;
            }
            conv_plans = grown;
            conv_plans_capacity = capacity;
        }
        at = n_conv_plans++;
        conv_plans[at] = *plan;
    }
    if (path)
        *path = conv_plans[at].path;
done:
    pthread_rwlock_unlock(&cache_lock);
    return status;
}

int nnf_conv_plan_make(const nnf_conv_signature *s, int estimate, void (*run)(void *),
                       void *const runs[NNF_CONV_PATHS])
{
    nnf_conv_plan plan = {.sig = *s, .path = estimate, .how = NNF_PLAN_ESTIMATED};
    if (nnf_plan_mode() == NNF_PLAN_MEASURE) {
        /* A close call made again (nnf_conv_plan_lookup): each path keeps the better
         * of its two times, and the plan is timed no more. */
        nnf_conv_plan before = {.recheck = 0};
        pthread_rwlock_rdlock(&cache_lock);
        const int at = conv_index(s);
        if (at >= 0)
            before = conv_plans[at];
        pthread_rwlock_unlock(&cache_lock);
        const double start = nnf_seconds();
        plan.path = -1;
        for (int p = 0; p < NNF_CONV_PATHS; p++) {
            if (!runs[p])
                continue;
            plan.seconds[p] = nnf_plan_time(run, runs[p], 0, INFINITY, NULL);
            if (before.recheck && before.seconds[p] < plan.seconds[p])
                plan.seconds[p] = before.seconds[p];
            if (plan.path < 0 || plan.seconds[p] < plan.seconds[plan.path])
                plan.path = p;
        }
        plan.how = NNF_PLAN_MEASURED;
        plan.planned_at = nnf_seconds();
        plan.planning_seconds = plan.planned_at - start;
        if (before.recheck)
            plan.planning_seconds += before.planning_seconds;
        int close = 0; /* another candidate within CLOSE_MARGIN of the fastest */
        for (int p = 0; p < NNF_CONV_PATHS; p++)
            close |= runs[p] && p != plan.path &&
                     plan.seconds[p] <= (1 + CLOSE_MARGIN) * plan.seconds[plan.path];
        plan.recheck = !before.recheck && close;
        int path;
        return conv_cache_insert(&plan, before.recheck, &path) == 0 ? path : plan.path;
    }
    int path;
    return conv_cache_insert(&plan, 0, &path) == 0 ? path : plan.path;
}

int nnf_conv_plan_put(const nnf_conv_plan *plan) { return conv_cache_insert(plan, 1, NULL); }

int nnf_conv_plan_count(void)
{
    pthread_rwlock_rdlock(&cache_lock);
    int count = n_conv_plans;
    pthread_rwlock_unlock(&cache_lock);
    return count;
}

int nnf_conv_plan_get(int i, nnf_conv_plan *plan)
{
    int status = -1;
    pthread_rwlock_rdlock(&cache_lock);
    if (i >= 0 && i < n_conv_plans) {
        *plan = conv_plans[i];
        status = 0;
    }
    pthread_rwlock_unlock(&cache_lock);
    return status;
}

double nnf_plan_time(void (*run)(void *), void *arg, double warm_seconds, double give_up,
                     int *gave_up)
{
    double best = INFINITY;
    int repeats = 1, runs = RUNS_PER_CANDIDATE;
    if (gave_up)
        *gave_up = 0;
    for (int r = 0; r < runs; r++) {
        double start = nnf_seconds(), seconds;
        if (r == 0) { /* the warm-up, its last repetition says whether it lost */
            double began = start;
            do {
                start = nnf_seconds();
                run(arg);
                seconds = nnf_seconds() - start;
            } while (nnf_seconds() - began < warm_seconds);
        } else {
            for (int i = 0; i < repeats; i++)
                run(arg);
            seconds = (nnf_seconds() - start) / repeats;
        }
        atomic_fetch_add(&timed_runs, 1); /* a run, as a batch of repetitions is one */
        if (r == 0 && seconds > give_up) {
            if (gave_up)
                *gave_up = 1;
            return seconds;
        }
        if (r == 0 && seconds < BATCH_SECONDS)
            repeats = seconds * BATCH_REPEATS <= BATCH_SECONDS ? BATCH_REPEATS
                                                               : (int)(BATCH_SECONDS / seconds) + 1;
        if (r == 0 && seconds >= LONG_SECONDS) { /* its warming is a small part of it */
            best = seconds;
            runs = 2;
        }
        if (r > 0 && seconds < best) /* run 0 warms caches and buffers */
            best = seconds;
    }
    return best;
}

/* ---- Planning one GEMM signature ---- */

/* How long a candidate of `team` threads is warmed up before it is timed. */
static double warm_seconds(int team)
{
    return team > 1 && nnf_seconds() - atomic_load(&team_timed_at) >= TEAM_WARM_SECONDS
               ? TEAM_WARM_SECONDS
               : 0;
}

static void timed_team(int team)
{
    if (team > 1)
        atomic_store(&team_timed_at, nnf_seconds());
}

static nnf_gemm_signature signature(int is_double, nnf_int m, nnf_int n, nnf_int k, nnf_int rsa,
                                    nnf_int csa, nnf_int rsb, nnf_int csb, int beta_zero,
                                    nnf_int rsc, nnf_int csc, int n_threads)
{
    nnf_gemm_signature s = {nnf_arch_get(), is_double, m, n, k, 0, beta_zero, n_threads};
    s.layout = (rsa == 1) | (csa == 1) << 1 | (rsb == 1) << 2 | (csb == 1) << 3 |
               (rsc == 1) << 4 | (csc == 1) << 5;
    return s;
}

static nnf_gemm_plan estimate(const nnf_gemm_signature *s)
{
    nnf_gemm_plan plan = {.sig = *s, .arch = s->arch_in_use, .team = 1, .how = NNF_PLAN_ESTIMATED};
    double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    if (flops >= ESTIMATE_GEMM_PARALLEL_FLOPS)
        plan.team = s->n_threads;
    return plan;
}

/* The candidates of s: the table in use, then the other SIMD tables that give the
 * same bits (none when NNFAST_ARCH chose it); for each, in the chain family, the
 * direct path (where an operand allows it) and the packed one, in the dot family k in
 * blocks and whole where k spans two blocks or more, else the one path the shape rule
 * gives; for each, teams of n_threads, then the powers of two below it down to 1.
 * Most threads first: a big product, which they suit, finds its best time at once,
 * and fewer threads that cannot win are dropped after one run (time_candidates). */
static int candidates(const nnf_gemm_signature *s, nnf_gemm_candidate *out)
{
    int current = s->arch_in_use, count = 0;
    int threads = nnf_team_size(s->n_threads);
    int a_rows = s->layout & 1, a_cols = s->layout >> 1 & 1;
    int b_rows = s->layout >> 2 & 1, b_cols = s->layout >> 3 & 1;
    int paths[3] = {NNF_GEMM_PATH_RULE}, n_paths = 1;
    if (!nnf_gemm_takes_dot(s->m, s->n, s->k, a_rows, a_cols, b_rows, b_cols)) {
        if (b_cols || a_rows) {
            /* Short tiles first, so that they win a tie: W1's 30 x 784 x 10 update
             * took 6.6 us in them against 6.8 in the planner's runs, and [784, 30,
             * 10]'s epoch with L2 on one thread 0.078-0.079 s against 0.082-0.084
             * (AVX2 AMD EPYC). */
            paths[0] = NNF_GEMM_PATH_DIRECT_SHORT;
            paths[1] = NNF_GEMM_PATH_DIRECT;
            paths[2] = NNF_GEMM_PATH_PACKED;
            n_paths = 3;
        }
    } else if (nnf_gemm_dot_spans_blocks(s->k, s->is_double)) {
        /* Blocks first, so that they win a tie: timed back to back, W4's 10 x 100 x
         * 2880 took as long in blocks as whole (92-146 us each, AVX2 AMD EPYC), but
         * W4's epoch 3% less time in blocks (2.05-2.11 s against 2.11-2.15), where
         * B has just been written by the step before. */
        paths[0] = NNF_GEMM_PATH_DOT_BLOCKS;
        paths[1] = NNF_GEMM_PATH_RULE;
        n_paths = 2;
    }
    int below = 1;
    while (2 * below < threads)
        below *= 2;
    /* The largest team's candidates first and one after another, so that the team's
     * warm-up (TEAM_WARM_SECONDS) is paid once, and the smaller teams of a table and
     * path that lost can be dropped unrun. */
    for (int team = threads; team >= 1; team = team > below ? below : team / 2)
        for (int i = 0; i <= nnf_arch_best(); i++) {
            int arch = i == 0 ? current : i <= current ? i - 1 : i;
            if (arch != current && (nnf_arch_forced() || !nnf_gemm_same_bits(current, arch)))
                continue;
            /* The scalar reference kernels are the portable fallback, never a SIMD CPU's
             * fastest: timing them would cost the most of any candidate for nothing. */
            if (arch == NNF_ARCH_REF && current != NNF_ARCH_REF)
                continue;
            for (int p = 0; p < n_paths; p++)
                if (count < NNF_PLAN_MAX_CANDIDATES)
                    out[count++] = (nnf_gemm_candidate){arch, team, paths[p], INFINITY};
        }
    return count;
}

/* Fills in the seconds of the candidates that a plan of the same product asked for
 * another thread count already timed (a team of t threads runs it the same way
 * whatever count was asked for): W4's trial at mini-batch 256 plans its products for
 * two threads and then for one, timing the one-thread candidates a second time.
 * Returns how many it filled. */
static int reuse_timings(nnf_gemm_plan *plan)
{
    int filled = 0;
    pthread_rwlock_rdlock(&cache_lock);
    for (int p = 0; p < n_plans; p++) {
        nnf_gemm_signature other = plans[p].sig;
        other.n_threads = plan->sig.n_threads;
        if (!same_signature(&other, &plan->sig))
            continue;
        for (int i = 0; i < plan->n_candidates; i++) {
            nnf_gemm_candidate *c = &plan->candidate[i];
            for (int j = 0; j < plans[p].n_candidates && isinf(c->seconds); j++) {
                const nnf_gemm_candidate *o = &plans[p].candidate[j];
                if (o->arch == c->arch && o->team == c->team && o->path == c->path) {
                    c->seconds = o->seconds;
                    filled++;
                }
            }
        }
    }
    pthread_rwlock_unlock(&cache_lock);
    return filled;
}

/* The fewest threads within NOISE_MARGIN of the fastest candidate, the table in use
 * on ties: a difference within the timing's noise is no reason for more threads. */
#define NOISE_MARGIN 0.05

/* The best seconds among a plan's candidates. */
static double fastest(const nnf_gemm_plan *plan)
{
    double best = INFINITY;
    for (int i = 0; i < plan->n_candidates; i++)
        best = plan->candidate[i].seconds < best ? plan->candidate[i].seconds : best;
    return best;
}

static void choose(nnf_gemm_plan *plan)
{
    const double fastest_seconds = fastest(plan);
    int best = -1;
    for (int i = 0; i < plan->n_candidates; i++) {
        const nnf_gemm_candidate *c = &plan->candidate[i];
        if (c->seconds > (1 + NOISE_MARGIN) * fastest_seconds)
            continue;
        if (best < 0 || c->team < plan->candidate[best].team ||
            (c->team == plan->candidate[best].team && c->arch == plan->sig.arch_in_use &&
             plan->candidate[best].arch != plan->sig.arch_in_use))
            best = i;
    }
    plan->arch = plan->candidate[best].arch;
    plan->team = plan->candidate[best].team;
    plan->path = plan->candidate[best].path;
}

/* The seconds within which a timed plan's candidates are close to the fastest. */
static double close_limit(const nnf_gemm_plan *plan)
{
    return (1 + CLOSE_MARGIN) * fastest(plan);
}

/* Whether a timed plan is a close call, to be timed again: more than one candidate
 * within close_limit. */
static int close_call(const nnf_gemm_plan *plan)
{
    const double limit = close_limit(plan);
    int close = 0;
    for (int i = 0; i < plan->n_candidates; i++)
        close += plan->candidate[i].seconds <= limit;
    return close > 1;
}

#define REAL float
#define P(name) nnf_s##name
#define IS_DOUBLE 0
#include "plan_gemm.inc"
#undef REAL
#undef P
#undef IS_DOUBLE

#define REAL double
#define P(name) nnf_d##name
#define IS_DOUBLE 1
#include "plan_gemm.inc"

/* ---- Thresholds of the elementwise, pooling and dropout kernels ---- */

static pthread_mutex_t parallel_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int parallel_ready;
static nnf_parallel_plan parallel_plan;
static _Atomic nnf_int thresholds[NNF_WORK_KINDS];
/* Set while this thread times the kernels (on one thread, whatever threshold they
 * read): their calls back into nnf_parallel_threshold must not wait for the plan. */
static _Thread_local int probing;

static volatile int fork_join_sink;

/* The best of several two-thread regions that do nothing: what a team costs. */
static double time_fork_join(void)
{
    double best = INFINITY;
    for (int run = 0; run < 2 * PROBE_RUNS; run++) {
        double start = nnf_seconds();
#pragma omp parallel num_threads(2) if (nnf_go_parallel(1))
        fork_join_sink = nnf_thread_num();
        double seconds = nnf_seconds() - start;
        best = seconds < best ? seconds : best;
    }
    return best;
}

/* Seconds per element of a cheap kernel of each kind on one thread: the elementwise
 * kernels' cheapest (a Hadamard product), 2x2 max-pooling, dropout, and of those
 * that evaluate e^x the sigmoid. The cheapest sets the bar, so that each kernel of a
 * kind pays at least as much as the one timed. */
static void time_elements(double *element_seconds)
{
    const nnf_int planes = PROBE_ELEMENTS / (32 * 32);
    float *x = malloc(PROBE_ELEMENTS * sizeof *x), *y = malloc(PROBE_ELEMENTS * sizeof *y);
    float *out = malloc(PROBE_ELEMENTS * sizeof *out);
    int *argmax = malloc(PROBE_ELEMENTS * sizeof *argmax);
    unsigned char *mask = malloc(PROBE_ELEMENTS);
    if (x && y && out && argmax && mask) {
        for (nnf_int i = 0; i < PROBE_ELEMENTS; i++) {
            x[i] = (float)(i % 97) * 0.01f;
            y[i] = (float)(i % 89) * 0.02f;
        }
        for (int kind = 0; kind < NNF_WORK_KINDS; kind++) {
            double best = INFINITY;
            for (int run = 0; run <= PROBE_RUNS; run++) {
                double start = nnf_seconds();
                if (kind == NNF_WORK_ELEMENTWISE)
                    nnf_shadamard(1, PROBE_ELEMENTS, x, 0, 1, y, 0, 1, out, 0, 1, 1);
                else if (kind == NNF_WORK_POOL)
                    nnf_smaxpool_forward(planes, 32, 32, 2, 2, x, out, argmax, 1);
                else if (kind == NNF_WORK_EXP)
                    nnf_ssigmoid(1, PROBE_ELEMENTS, x, 0, 1, out, 0, 1, 1);
                else
                    nnf_sdropout(PROBE_ELEMENTS, x, 0.5, (unsigned long long)run, out, mask, 1);
                double seconds = nnf_seconds() - start;
                if (run > 0 && seconds < best) /* run 0 warms the caches */
                    best = seconds;
            }
            element_seconds[kind] = best / PROBE_ELEMENTS;
        }
    }
    free(x);
    free(y);
    free(out);
    free(argmax);
    free(mask);
}

/* Each kind's threshold from the plan's fork/join and per-element seconds. */
static void derive_thresholds(nnf_parallel_plan *plan)
{
    for (int kind = 0; kind < NNF_WORK_KINDS; kind++) {
        double n = ceil(FORK_JOIN_MARGIN * plan->fork_join_seconds / plan->element_seconds[kind]);
        plan->threshold[kind] = n < 1e15 ? (nnf_int)n : (nnf_int)1e15;
    }
}

static nnf_parallel_plan plan_parallel(void)
{
    nnf_parallel_plan plan = {.how = NNF_PLAN_ESTIMATED};
    for (int kind = 0; kind < NNF_WORK_KINDS; kind++)
        plan.threshold[kind] = estimate_threshold[kind];
    if (nnf_plan_mode() == NNF_PLAN_ESTIMATE)
        return plan;
    double element_seconds[NNF_WORK_KINDS] = {0};
    probing = 1;
    plan.fork_join_seconds = time_fork_join();
    time_elements(element_seconds);
    probing = 0;
    for (int kind = 0; kind < NNF_WORK_KINDS; kind++) {
        if (!(element_seconds[kind] > 0))
            return plan; /* out of memory, or a clock too coarse: the fixed rule */
        plan.element_seconds[kind] = element_seconds[kind];
    }
    derive_thresholds(&plan);
    plan.how = NNF_PLAN_MEASURED;
    return plan;
}

/* Publishes plan under parallel_lock: the thresholds first, then the ready flag. */
static void publish_parallel(const nnf_parallel_plan *plan)
{
    parallel_plan = *plan;
    for (int kind = 0; kind < NNF_WORK_KINDS; kind++)
        atomic_store_explicit(&thresholds[kind], plan->threshold[kind], memory_order_relaxed);
    atomic_store_explicit(&parallel_ready, 1, memory_order_release);
}

nnf_parallel_plan nnf_plan_parallel(void)
{
    pthread_mutex_lock(&parallel_lock);
    if (!atomic_load_explicit(&parallel_ready, memory_order_acquire)) {
        nnf_parallel_plan plan = plan_parallel();
        publish_parallel(&plan);
    }
    nnf_parallel_plan plan = parallel_plan;
    pthread_mutex_unlock(&parallel_lock);
    return plan;
}

/* Inside a parallel region (conv's pooling runs in one) a two-thread region is
 * nested and costs nothing to fork: the costs are measured outside one. */
static int in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

/* The fork/join is timed again, and a faster time replaces the plan's, with the
 * thresholds it gives: the first timing may have been taken while another library's
 * threads still spun on the other cores (OpenBLAS's do for a while after numpy is
 * imported), which made a team look hundreds of times dearer than it is (215-440 us
 * against 0.7 us on a 2-core AVX-512 VM, for a script that trained right after its
 * imports), and would have kept the elementwise, pooling and dropout kernels on one
 * thread for the whole process (5-10% slower epochs at mini-batch 256). A plan
 * imported or estimated is left as it is. */
void nnf_plan_refine_parallel(void)
{
    if (nnf_plan_mode() != NNF_PLAN_MEASURE || in_parallel() || nnf_forked_child)
        return; /* (after a fork every region runs on one thread: no team to time) */
    pthread_mutex_lock(&parallel_lock);
    if (atomic_load_explicit(&parallel_ready, memory_order_acquire) &&
        parallel_plan.how == NNF_PLAN_MEASURED) {
        nnf_parallel_plan plan = parallel_plan;
        const double seconds = time_fork_join();
        if (seconds < plan.fork_join_seconds) {
            plan.fork_join_seconds = seconds;
            derive_thresholds(&plan);
            publish_parallel(&plan);
        }
    }
    pthread_mutex_unlock(&parallel_lock);
}

nnf_int nnf_parallel_threshold(int kind)
{
    if (!atomic_load_explicit(&parallel_ready, memory_order_acquire)) {
        if (probing || in_parallel())
            return estimate_threshold[kind];
        nnf_plan_parallel();
    }
    return atomic_load_explicit(&thresholds[kind], memory_order_relaxed);
}

void nnf_plan_put_parallel(const nnf_parallel_plan *plan)
{
    pthread_mutex_lock(&parallel_lock);
    publish_parallel(plan);
    pthread_mutex_unlock(&parallel_lock);
}

/* A fork while another thread holds a lock would leave it held forever in the child:
 * fork() waits until the planner's locks are free (they are held for microseconds,
 * or while the thresholds are measured), so that the cache and the thresholds are
 * whole in the child, which starts with fresh locks (its one thread has another id
 * than the one that took them, so it could not unlock them). Lock order:
 * parallel_lock, then cache_lock; nothing else holds both. */
static void lock_for_fork(void)
{
    pthread_mutex_lock(&parallel_lock);
    pthread_rwlock_wrlock(&cache_lock);
}

static void unlock_in_parent(void)
{
    pthread_rwlock_unlock(&cache_lock);
    pthread_mutex_unlock(&parallel_lock);
}

static void fresh_locks_in_child(void)
{
    pthread_rwlock_init(&cache_lock, NULL);
    pthread_mutex_init(&parallel_lock, NULL);
}

__attribute__((constructor)) static void guard_locks_across_fork(void)
{
    pthread_atfork(lock_for_fork, unlock_in_parent, fresh_locks_in_child);
}

void nnf_plan_forget(void)
{
    pthread_rwlock_wrlock(&cache_lock);
    n_plans = 0;
    n_conv_plans = 0;
    for (size_t i = 0; i < index_capacity; i++)
        index_slots[i] = -1;
    pthread_rwlock_unlock(&cache_lock);
    pthread_mutex_lock(&parallel_lock);
    atomic_store_explicit(&parallel_ready, 0, memory_order_release);
    pthread_mutex_unlock(&parallel_lock);
}
