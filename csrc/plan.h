/* The planner (plan.c): how each product and kernel is run on this machine, chosen
 * the first time it is met, by timing the candidates (NNFAST_PLAN=measure, FFTW's
 * FFTW_MEASURE) or by a fixed rule (estimate). A plan changes speed, never bits:
 * every candidate computes each output in the same order. */
#ifndef NNFAST_PLAN_H
#define NNFAST_PLAN_H

#include "gemm_ukr.h"
#include "nnfast.h"
#include "parallel.h"

enum { NNF_PLAN_MEASURE = 0, NNF_PLAN_ESTIMATE = 1 };

/* What a GEMM's plan depends on: the kernel table in use (nnf_arch_get), its
 * precision, shape, which operands are unit stride along which axis, whether C is
 * read, and the thread count asked for. */
typedef struct {
    int arch_in_use, is_double;
    nnf_int m, n, k;
    int layout; /* bits: A rows/cols unit stride (0, 1), B (2, 3), C (4, 5) */
    int beta_zero;
    int n_threads;
} nnf_gemm_signature;

/* How a product is computed: as the shape rule says, or, in the chain family
 * (gemm_ukr.h), forced onto the direct kernel (operands read in place) in tiles of MR
 * rows or of two-thirds of MR (DIRECT_SHORT), or onto the packed one, or, in the dot
 * family, with k in blocks (gemm.inc's P(gemm_dot)). Each family's paths give the
 * same bits, so the planner may choose. */
enum {
    NNF_GEMM_PATH_RULE = 0,
    NNF_GEMM_PATH_DIRECT = 1,
    NNF_GEMM_PATH_PACKED = 2,
    NNF_GEMM_PATH_DOT_BLOCKS = 3,
    NNF_GEMM_PATH_DIRECT_SHORT = 4,
    NNF_GEMM_PATH_COUNT
};

/* Whether a product of this shape takes the dot family: A and B both contiguous
 * along k, neither with the direct path's unit stride, and the product small or C
 * narrow. Shapes and strides alone decide, with the same constants on every ISA. */
int nnf_gemm_takes_dot(nnf_int m, nnf_int n, nnf_int k, int a_rows_unit, int a_cols_unit,
                       int b_rows_unit, int b_cols_unit);

/* Whether a dot-family product's k spans at least two of the dot path's blocks, so
 * that the planner times NNF_GEMM_PATH_DOT_BLOCKS (W1's and W2's float k of 784, in
 * one block and a sliver, took 1.1 times as long). */
int nnf_gemm_dot_spans_blocks(nnf_int k, int is_double);

/* One timed candidate: a kernel table, a team size and a path, best seconds of its
 * runs. */
typedef struct {
    int arch, team, path;
    double seconds;
} nnf_gemm_candidate;

#define NNF_PLAN_MAX_CANDIDATES 72
/* PROVISIONAL: the estimate rule's, for a partial mini-batch (nnf_plan_unmeasured),
 * until the signature is met in a whole step. */
enum {
    NNF_PLAN_ESTIMATED = 0,
    NNF_PLAN_MEASURED = 1,
    NNF_PLAN_IMPORTED = 2,
    NNF_PLAN_PROVISIONAL = 3
};

/* A signature's plan: the kernel table and team size chosen, how (estimated,
 * measured, imported, provisional), the candidates timed and the seconds planning
 * took; recheck: a measured plan whose candidates came close, to be timed again
 * (plan_gemm.inc), planned_at (nnf_seconds) when it was measured. */
typedef struct {
    nnf_gemm_signature sig;
    int arch, team, path, how;
    int n_candidates;
    nnf_gemm_candidate candidate[NNF_PLAN_MAX_CANDIDATES];
    double planning_seconds;
    int recheck;
    double planned_at;
} nnf_gemm_plan;

/* 1 when arch_a's and arch_b's kernel tables give bit-identical results for every
 * product, so that the planner may choose between them. */
int nnf_gemm_same_bits(int arch_a, int arch_b);

/* What a GEMM runs with: a kernel table (NNF_ARCH_*), a team size and a path. */
typedef struct {
    int arch, team, path;
} nnf_gemm_choice;

/* The GEMM's choice, planned on first use of its signature (timing runs write only
 * scratch copies of C) and cached for the process. */
nnf_gemm_choice nnf_sgemm_plan(nnf_int m, nnf_int n, nnf_int k, float alpha, const float *a,
                             nnf_int rsa, nnf_int csa, const float *b, nnf_int rsb, nnf_int csb,
                             float beta, const float *c, nnf_int rsc, nnf_int csc, int n_threads);
nnf_gemm_choice nnf_dgemm_plan(nnf_int m, nnf_int n, nnf_int k, double alpha,
                               const double *a, nnf_int rsa, nnf_int csa, const double *b,
                               nnf_int rsb, nnf_int csb, double beta, const double *c,
                               nnf_int rsc, nnf_int csc, int n_threads);

/* The GEMM of gemm.inc with its kernel table, team size and path (NNF_GEMM_PATH_*)
 * given (the plan's choice); m, n > 0, k > 0 and alpha != 0. */
void nnf_sgemm_planned(const nnf_gemm_arch *arch, int team, int path, nnf_int m, nnf_int n, nnf_int k,
                       float alpha, const float *a, nnf_int rsa, nnf_int csa, const float *b,
                       nnf_int rsb, nnf_int csb, float beta, float *c, nnf_int rsc, nnf_int csc);
void nnf_dgemm_planned(const nnf_gemm_arch *arch, int team, int path, nnf_int m, nnf_int n, nnf_int k,
                       double alpha, const double *a, nnf_int rsa, nnf_int csa, const double *b,
                       nnf_int rsb, nnf_int csb, double beta, double *c, nnf_int rsc,
                       nnf_int csc);

/* The kernel table of an NNF_ARCH_* index. */
const nnf_gemm_arch *nnf_gemm_table(int arch);

/* ---- Team sizes of the elementwise, pooling and dropout kernels ----
 * Above threshold(kind) elements a kernel runs on its n_threads, below on one. The
 * elementwise kernels that evaluate e^x (sigmoid, tanh, softmax) are a kind of their
 * own: an element of a sigmoid costs several of a Hadamard product's. */
enum {
    NNF_WORK_ELEMENTWISE = 0,
    NNF_WORK_POOL = 1,
    NNF_WORK_DROPOUT = 2,
    NNF_WORK_EXP = 3,
    NNF_WORK_KINDS = 4
};
nnf_int nnf_parallel_threshold(int kind);

/* The team of a kernel of `kind` over `elements` values asked to run on n_threads
 * (parallel.h's nnf_team): the threshold is looked up only when there are threads
 * to use. */
static inline int nnf_work_team(int n_threads, nnf_int elements, int kind)
{
    return nnf_team(n_threads, n_threads > 1 && elements > nnf_parallel_threshold(kind));
}

/* What the thresholds were derived from: the fork/join of a two-thread region and
 * each kind's seconds per element on one thread (0 when estimated). */
typedef struct {
    nnf_int threshold[NNF_WORK_KINDS];
    double fork_join_seconds, element_seconds[NNF_WORK_KINDS];
    int how; /* NNF_PLAN_ESTIMATED, _MEASURED or _IMPORTED */
} nnf_parallel_plan;

/* ---- Convolutions ----
 * Two products of a conv layer have a choice of paths, each giving the same bits:
 *  - the forward product, W . im2col(x) for each image, runs as im2col and the GEMM
 *    (with that GEMM's own plan) or, where it fits (conv_direct.h), as the direct
 *    convolution: the table in use's or, on an AVX-512 machine, AVX2's, whose
 *    256-bit loads may be the faster (one image of W4's first layer: 3.0 us against
 *    3.5 on an AMD Zen 4, whose AVX-512 units are 256 bits wide);
 *  - the weight gradient of a conv layer followed by a max-pool, a sparse product
 *    with the image's windows at the pool's maxima, reads them from the im2row rows
 *    (the gather kernel) or from the image in place: for one channel where the table
 *    in use has a windows kernel that takes the filter (the windows kernel), for
 *    several from the channels-last image's rows (the gather kernel).
 * Which is planned per signature: the product, the table in use, precision, shape
 * and the threads its GEMM may take (1 for the weight gradient, a sample's product
 * running on one thread). */
enum { NNF_CONV_FORWARD = 0, NNF_CONV_WEIGHT_GRADIENT = 1 };
/* the forward product's: im2col and the GEMM, the direct convolution of the table in
 * use, and, where that is AVX-512's, AVX2's (256-bit vectors, the same bits) */
enum { NNF_CONV_PATH_GEMM = 0, NNF_CONV_PATH_DIRECT = 1, NNF_CONV_PATH_DIRECT_AVX2 = 2 };
enum { NNF_CONV_PATH_ROWS = 0, NNF_CONV_PATH_WINDOWS = 1 }; /* the weight gradient's */
enum { NNF_CONV_PATHS = 3 };

typedef struct {
    int product, arch_in_use, is_double;
    nnf_int c, h, w, f, kh, kw;
    int n_threads;
} nnf_conv_signature;

/* A signature's path, how it was chosen, each path's best seconds for one image (0
 * when not timed) and the seconds planning took; recheck and planned_at as a GEMM
 * plan's (a close call, timed again). */
typedef struct {
    nnf_conv_signature sig;
    int path, how;
    double seconds[NNF_CONV_PATHS];
    double planning_seconds;
    int recheck;
    double planned_at;
} nnf_conv_plan;

/* 1 and the cached path for s, or 0 when s has no plan yet, or when its plan is a
 * close call due to be timed again and this thread would plan it. */
int nnf_conv_plan_lookup(const nnf_conv_signature *s, int *path);
/* Plans s (no plan yet, or a close call due) and returns its path: under
 * NNFAST_PLAN=measure each path p with runs[p] (NULL: not a candidate) timed as
 * run(runs[p]) and the fastest kept (each path of a close call keeping the better of
 * its two times), else `estimate`. Cached
 * unless another thread cached s first (then that plan's path). */
int nnf_conv_plan_make(const nnf_conv_signature *s, int estimate, void (*run)(void *),
                       void *const runs[NNF_CONV_PATHS]);

/* The best seconds of one run of run(arg), timed as every candidate is: a warm-up
 * run (repeated until warm_seconds have passed), then TIMED_RUNS, each repeated until
 * it lasts BATCH_SECONDS. When the warm-up's last run already takes longer than
 * give_up seconds (INFINITY: never), its seconds, with *gave_up (unless NULL) set to 1. */
double nnf_plan_time(void (*run)(void *), void *arg, double warm_seconds, double give_up,
                     int *gave_up);

/* ---- The cache ---- */
int nnf_plan_mode(void);
void nnf_plan_set_mode(int mode); /* NNF_PLAN_MEASURE or NNF_PLAN_ESTIMATE */
/* On the calling thread, while on: a GEMM signature without a plan gets the estimate
 * rule's choice, untimed, cached as provisional (for the threads of the caller's
 * teams, which find it and use it). The engine sets it for an epoch's last, partial
 * mini-batch: one step an epoch, whose own products (W4's 80 rows at mini-batch 256)
 * took a third of its first epoch's planning. A provisional plan is planned as any
 * other when a thread outside a team's region (or leading one) meets it with this
 * off: in a run whose mini-batches have that size. Returns the setting it replaces. */
int nnf_plan_unmeasured(int on);
int nnf_plan_count(void);         /* GEMM plans cached */
int nnf_plan_get(int i, nnf_gemm_plan *plan); /* 0, or -1 when i is out of range */
int nnf_plan_put(const nnf_gemm_plan *plan);  /* 0, or -1 when out of memory */
nnf_parallel_plan nnf_plan_parallel(void);    /* plans the thresholds if not yet */
void nnf_plan_refine_parallel(void);          /* a faster fork/join replaces the plan's */
void nnf_plan_put_parallel(const nnf_parallel_plan *plan);
int nnf_conv_plan_count(void);                /* convolution plans cached */
int nnf_conv_plan_get(int i, nnf_conv_plan *plan); /* 0, or -1 when i is out of range */
int nnf_conv_plan_put(const nnf_conv_plan *plan);  /* replaces; -1 when out of memory */
void nnf_plan_forget(void); /* every plan: GEMM, convolution and thresholds */
long long nnf_plan_timed_runs(void);          /* runs made for timing since the start */
double nnf_plan_recheck_seconds(void);        /* a close call's wait to be timed again */

#endif
