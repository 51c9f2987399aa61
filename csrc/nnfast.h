/* The C API of nnfast: kernels and the training engine.
 *
 * Plain pointers, sizes and strides; strides count elements, not bytes, and may
 * be negative. Every function trusts its caller: shapes, strides and dtypes are
 * validated once, at the Python boundary. Each kernel exists for float (prefix
 * nnf_s) and double (prefix nnf_d), built from one source. */
#ifndef NNFAST_H
#define NNFAST_H

#include <stddef.h>

typedef ptrdiff_t nnf_int;

/* ---- CPU dispatch (cpu.c) ---- */
enum { NNF_ARCH_REF = 0, NNF_ARCH_AVX2 = 1, NNF_ARCH_AVX512 = 2, NNF_ARCH_COUNT = 3 };

int nnf_arch_best(void);             /* the best micro-kernel this CPU can run */
int nnf_arch_get(void);              /* the micro-kernel in use */
int nnf_arch_set(int arch);          /* 0 on success, -1 if this CPU cannot run it,
                                        -2 while an engine call is in flight */
void nnf_arch_hold(void);            /* an engine call begins: the table stays */
void nnf_arch_release(void);         /* ... and ends */
int nnf_arch_forced(void);           /* 1 once nnf_arch_set chose the micro-kernel */
const char *nnf_arch_name(int arch); /* "ref", "avx2" or "avx512" */

/* Cache blocking of one GEMM: MR x NR register tile, MC x KC block of A,
 * KC x NC block of B. */
typedef struct { int mr, nr, mc, kc, nc; } nnf_blocking;
nnf_blocking nnf_blocking_s(void); /* the float blocking of the micro-kernel in use */
nnf_blocking nnf_blocking_d(void); /* the double blocking of the micro-kernel in use */
nnf_int nnf_dot_block(int is_double); /* the dot path's blocks of k (values), every ISA's */
long long nnf_dot_products_in_blocks(void); /* products it has taken so, since the start */

/* ---- Threads (parallel.c) ---- */
int nnf_openmp_enabled(void);        /* 1 when built with OpenMP, else 0 */
int nnf_default_threads(void);       /* OpenMP's default: OMP_NUM_THREADS or the cores */
void nnf_set_default_threads(int n); /* sets OpenMP's default for the calling thread */

/* ---- GEMM (gemm.c): C = alpha*A*B + beta*C ----
 * A is m x k with strides (rsa, csa), B is k x n with (rsb, csb), C is m x n with
 * (rsc, csc); op(A) = A^T is A with its strides swapped. beta == 0 never reads C.
 * Each element of C is summed in the same order for any n_threads. */
/* C = alpha*A*B + beta*C in float, on up to n_threads threads. */
void nnf_sgemm(nnf_int m, nnf_int n, nnf_int k, float alpha,
               const float *a, nnf_int rsa, nnf_int csa,
               const float *b, nnf_int rsb, nnf_int csb, float beta,
               float *c, nnf_int rsc, nnf_int csc, int n_threads);
/* C = alpha*A*B + beta*C in double, on up to n_threads threads. */
void nnf_dgemm(nnf_int m, nnf_int n, nnf_int k, double alpha,
               const double *a, nnf_int rsa, nnf_int csa,
               const double *b, nnf_int rsb, nnf_int csb, double beta,
               double *c, nnf_int rsc, nnf_int csc, int n_threads);

/* C = beta*C + A.B for A sparse in compressed rows: C is m x n (rows ldc apart); row i
 * of A has the values alpha[start[i] .. start[i+1]) in the columns idx[...], which
 * pick rows of B (at b + idx*rsb, unit column stride); each element of C sums them
 * in the order listed. beta == 0 never reads C. */
/* C = beta*C + A.B, A sparse, in float, on the calling thread. */
void nnf_ssparse_gemm(nnf_int m, const int *start, const float *alpha, const int *idx,
                      const float *b, nnf_int rsb, float beta, float *c, nnf_int ldc, nnf_int n);
/* C = beta*C + A.B, A sparse, in double, on the calling thread. */
void nnf_dsparse_gemm(nnf_int m, const int *start, const double *alpha, const int *idx,
                      const double *b, nnf_int rsb, double beta, double *c, nnf_int ldc,
                      nnf_int n);

/* A dense layer's BP2 and then its step (gemm.inc), on the calling thread: below
 * (rows x n) := delta.w summed over `blocks` equal blocks of w's units in order (with
 * `add`, added to below), from w before the step; then L1's shrink of w (shrink 0:
 * none; nnf_*l1_shrink) and w (units x n) := beta*w + alpha*delta^T.a, a rows x n, or
 * with momentum (v not NULL, units x n) v := beta*v + alpha*delta^T.a and w :=
 * decay*w + v; delta rows x units with rows ldd apart, every other row contiguous.
 * The bits of those steps and nnf_*gemm's products; one pass over w where
 * nnf_*backward_step_kernel says the ISA's kernel takes those sizes. */
void nnf_sbackward_step(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                        const float *delta, nnf_int ldd, const float *a, float alpha,
                        float beta, float *w, float *v, float decay, float shrink, float *below,
                        int add);
void nnf_dbackward_step(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                        const double *delta, nnf_int ldd, const double *a, double alpha,
                        double beta, double *w, double *v, double decay, double shrink,
                        double *below, int add);
/* w <- w - shrink * sgn(w) over count values: L1's step toward zero (chapter 3). */
void nnf_sl1_shrink(nnf_int count, float shrink, float *w);
void nnf_dl1_shrink(nnf_int count, double shrink, double *w);
int nnf_sbackward_step_kernel(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                              float alpha);
int nnf_dbackward_step_kernel(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                              double alpha);

/* ---- Elementwise kernels on m x n matrices (activations.c) ----
 * Each takes an input with strides (rs*, cs*) and writes out with (rso, cso); out may
 * alias the input when the strides agree. Each runs on up to n_threads threads (on one
 * below the planner's threshold, plan.h); results do not depend on it. */

/* out = sigma(x) = 1 / (1 + e^-x), in float, never overflowing. */
void nnf_ssigmoid(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx, float *out,
                  nnf_int rso, nnf_int cso, int n_threads);
/* out = sigma(x) = 1 / (1 + e^-x), in double, never overflowing. */
void nnf_dsigmoid(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx, double *out,
                  nnf_int rso, nnf_int cso, int n_threads);

/* out = sigma'(z) = sigma(z) (1 - sigma(z)), from the weighted input z, in float. */
void nnf_ssigmoid_prime(nnf_int m, nnf_int n, const float *z, nnf_int rsz, nnf_int csz,
                        float *out, nnf_int rso, nnf_int cso, int n_threads);
/* out = sigma'(z) = sigma(z) (1 - sigma(z)), from the weighted input z, in double. */
void nnf_dsigmoid_prime(nnf_int m, nnf_int n, const double *z, nnf_int rsz, nnf_int csz,
                        double *out, nnf_int rso, nnf_int cso, int n_threads);

/* out = sigma'(z) = a (1 - a), from the activation a = sigma(z), in float. */
void nnf_ssigmoid_prime_from_output(nnf_int m, nnf_int n, const float *a, nnf_int rsa,
                                    nnf_int csa, float *out, nnf_int rso, nnf_int cso,
                                    int n_threads);
/* out = sigma'(z) = a (1 - a), from the activation a = sigma(z), in double. */
void nnf_dsigmoid_prime_from_output(nnf_int m, nnf_int n, const double *a, nnf_int rsa,
                                    nnf_int csa, double *out, nnf_int rso, nnf_int cso,
                                    int n_threads);

/* out = tanh(x), in float. */
void nnf_stanh(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx, float *out,
               nnf_int rso, nnf_int cso, int n_threads);
/* out = tanh(x), in double. */
void nnf_dtanh(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx, double *out,
               nnf_int rso, nnf_int cso, int n_threads);

/* out = tanh'(z) = 1 - a^2, from the activation a = tanh(z), in float. */
void nnf_stanh_prime_from_output(nnf_int m, nnf_int n, const float *a, nnf_int rsa, nnf_int csa,
                                 float *out, nnf_int rso, nnf_int cso, int n_threads);
/* out = tanh'(z) = 1 - a^2, from the activation a = tanh(z), in double. */
void nnf_dtanh_prime_from_output(nnf_int m, nnf_int n, const double *a, nnf_int rsa,
                                 nnf_int csa, double *out, nnf_int rso, nnf_int cso,
                                 int n_threads);

/* out = max(x, 0) (NaN stays NaN), in float. */
void nnf_srelu(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx, float *out,
               nnf_int rso, nnf_int cso, int n_threads);
/* out = max(x, 0) (NaN stays NaN), in double. */
void nnf_drelu(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx, double *out,
               nnf_int rso, nnf_int cso, int n_threads);

/* out = 1 where x > 0, else 0, in float. */
void nnf_srelu_prime(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx, float *out,
                     nnf_int rso, nnf_int cso, int n_threads);
/* out = 1 where x > 0, else 0, in double. */
void nnf_drelu_prime(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx,
                     double *out, nnf_int rso, nnf_int cso, int n_threads);

/* out = each row's softmax, e^(x - max) / sum e^(x - max), in float. */
void nnf_ssoftmax(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx, float *out,
                  nnf_int rso, nnf_int cso, int n_threads);
/* out = each row's softmax, e^(x - max) / sum e^(x - max), in double. */
void nnf_dsoftmax(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx, double *out,
                  nnf_int rso, nnf_int cso, int n_threads);

/* out = a (.) b, the Hadamard product, in float. */
void nnf_shadamard(nnf_int m, nnf_int n, const float *a, nnf_int rsa, nnf_int csa,
                   const float *b, nnf_int rsb, nnf_int csb, float *out, nnf_int rso,
                   nnf_int cso, int n_threads);
/* out = a (.) b, the Hadamard product, in double. */
void nnf_dhadamard(nnf_int m, nnf_int n, const double *a, nnf_int rsa, nnf_int csa,
                   const double *b, nnf_int rsb, nnf_int csb, double *out, nnf_int rso,
                   nnf_int cso, int n_threads);

/* out = x + bias, the bias (stride sb, n entries) added to every row, in float. */
void nnf_sadd_bias(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx,
                   const float *bias, nnf_int sb, float *out, nnf_int rso, nnf_int cso,
                   int n_threads);
/* out = x + bias, the bias (stride sb, n entries) added to every row, in double. */
void nnf_dadd_bias(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx,
                   const double *bias, nnf_int sb, double *out, nnf_int rso, nnf_int cso,
                   int n_threads);

/* out[j] (stride so) = sum_i x[i, j], in row order on the calling thread, in float. */
void nnf_scolumn_sums(nnf_int m, nnf_int n, const float *x, nnf_int rsx, nnf_int csx,
                      float *out, nnf_int so);
/* out[j] (stride so) = sum_i x[i, j], in row order on the calling thread, in double. */
void nnf_dcolumn_sums(nnf_int m, nnf_int n, const double *x, nnf_int rsx, nnf_int csx,
                      double *out, nnf_int so);

/* ---- Finiteness (finite.c) ---- */

/* 1 when every one of the n contiguous floats at x is finite (no inf, no NaN), else 0. */
int nnf_sall_finite(nnf_int n, const float *x, int n_threads);
/* 1 when every one of the n contiguous doubles at x is finite (no inf, no NaN), else 0. */
int nnf_dall_finite(nnf_int n, const double *x, int n_threads);

/* ---- Inputs that are bytes (byte_codes.c) ---- */

/* 1 when each of the n contiguous floats at x is k/scale for a byte k, bit for bit as
 * nnf_sfrom_codes gives it (scale 255 or 256: MNIST's pixels), with the k in codes;
 * else 0, codes then undefined. */
int nnf_sbyte_codes(nnf_int n, const float *x, float scale, unsigned char *codes,
                    int n_threads);
/* The same for doubles. */
int nnf_dbyte_codes(nnf_int n, const double *x, double scale, unsigned char *codes,
                    int n_threads);
/* out[j] = codes[j] / scale for n bytes, the same bits on every ISA. */
void nnf_sfrom_codes(nnf_int n, const unsigned char *codes, float scale, float *out);
/* The same in double. */
void nnf_dfrom_codes(nnf_int n, const unsigned char *codes, double scale, double *out);

/* ---- The training engine (engine.c) ----
 * A network is a list of layers; activations are rows, one per sample of a
 * mini-batch, and layer l's row holds its n_out outputs, contiguous.
 *  - dense: z = a . w^T + b, a = f(z). w is n_out x n_in (the book's), b has n_out
 *    entries. Each GEMM of the layer reads w in place: z = a . w^T and the update
 *    w += delta^T . a with both operands contiguous along n_in, BP2's delta . w with
 *    w's rows streamed as they are. With p_dropout > 0 the layer's input is
 *    multiplied by a random 0/1 mask while training and its product a . w^T is scaled
 *    by 1 - p_dropout otherwise (network3's dropout).
 *  - convpool (network3's ConvPoolLayer): input c x h x w (NCHW, flattened), f
 *    filters kh x kw (w is f x c x kh x kw, b has f entries), valid convolution,
 *    max-pool over ph x pw, then a = f(pooled + b). n_out = f*oh/ph*ow/pw.
 *    ties says where the pool's gradient goes at tied maxima (NNF_TIES_*).
 * vw / vb are momentum buffers shaped like w / b. Convpool layers come first.
 *
 * train_chunk trains on the rows perm[0..n_rows) of x (row stride ldx), in
 * consecutive mini-batches (the last may be short), with integer class labels; where
 * codes is not NULL, x's values are those bytes / scale (nnf_sbyte_codes), rows ldx
 * apart too, and the mini-batches are gathered from them;
 * dropout masks come from seed. forward writes the output activations of `rows`
 * rows of x to out (rows x n_out of the last layer), `block` rows at a time. They
 * take a workspace of workspace_size(net, batch, n_threads, training) values, for
 * batch = mini_batch_size or block, the same n_threads, and training = 1 for
 * train_chunk (and train_forward / train_backward / output_buffers) or 0 for
 * forward, which needs no room for deltas.
 *
 * For a cost the engine does not know (its cost is then NNF_COST_CALLER, which
 * train_chunk must not be given), each mini-batch is train_forward, then the
 * caller's BP1, then train_backward: rows
 * perm[0..rows) of x fed forward as train_chunk's mini-batch number `batch` (same
 * dropout masks), leaving the output layer's z and a in the workspace; the caller
 * writes delta_L = dC/dz_L there; train_backward does BP2-BP4 and the step.
 * output_buffers says where z, a and delta (rows x n_out, row-major) lie in work. */
#define NNF_MAX_LAYERS 16
enum { NNF_ACT_SIGMOID = 0, NNF_ACT_TANH = 1, NNF_ACT_RELU = 2, NNF_ACT_LINEAR = 3,
       NNF_ACT_SOFTMAX = 4 };
/* z = f(z) in place for the activation f (NNF_ACT_*), rows x n values, rows ldz apart:
 * the kernels above (softmax by rows). */
void nnf_sactivate(int activation, nnf_int rows, nnf_int n, float *z, nnf_int ldz,
                   int n_threads);
void nnf_dactivate(int activation, nnf_int rows, nnf_int n, double *z, nnf_int ldz,
                   int n_threads);
/* delta *= f'(z) for the activation f (NNF_ACT_*, not softmax), rows x n contiguous
 * values, f' from a = f(z): sigma' = a(1 - a), tanh' = 1 - a^2, relu' = [a > 0]. One
 * thread. */
void nnf_stimes_derivative(int activation, nnf_int rows, nnf_int n, const float *a,
                           float *delta);
void nnf_dtimes_derivative(int activation, nnf_int rows, nnf_int n, const double *a,
                           double *delta);
enum { NNF_COST_QUADRATIC = 0, NNF_COST_CROSS_ENTROPY = 1, NNF_COST_LOG_LIKELIHOOD = 2,
       NNF_COST_CALLER = 3 };
enum { NNF_REG_L2 = 0, NNF_REG_L1 = 1 };
enum { NNF_LAYER_DENSE = 0, NNF_LAYER_CONVPOOL = 1 };
/* Where a max-pool window's gradient goes when several pixels hold its maximum: to
 * the first (PyTorch's rule) or to each of them (Theano's, network3's). */
enum { NNF_TIES_FIRST = 0, NNF_TIES_ALL = 1 };

/* One layer of a float network: its shape, activation and parameters (above). */
typedef struct {
    int kind, activation;
    nnf_int n_in, n_out;
    nnf_int c, h, w, f, kh, kw, ph, pw; /* convpool only */
    int ties;                           /* convpool: NNF_TIES_FIRST or NNF_TIES_ALL */
    double p_dropout;                   /* dense only */
    float *weights, *b, *vw, *vb;
} nnf_slayer;
/* A float network: its layers, convpool ones first, and its cost. */
typedef struct {
    int n_layers, cost;
    nnf_slayer layer[NNF_MAX_LAYERS];
} nnf_snet;
/* The hyper-parameters of one float train_chunk call. */
typedef struct {
    float eta, lmbda, momentum;
    nnf_int n;          /* the decay is eta*lmbda/n: n is the training set's size */
    int regularization; /* NNF_REG_L2 or NNF_REG_L1 */
    int n_threads;
    /* the threads of each layer's kernels, at most n_threads; 0: n_threads */
    int layer_threads[NNF_MAX_LAYERS];
    /* a dense first layer on a team splits the mini-batch's rows, not its units
     * (engine_dense.inc, P(splits_by_units)) */
    int first_by_rows;
    unsigned long long seed; /* of the dropout masks */
    double *grad_norms;      /* if not NULL: += |dC/db| per layer per mini-batch */
} nnf_shyper;

/* One layer of a double network: its shape, activation and parameters (above). */
typedef struct {
    int kind, activation;
    nnf_int n_in, n_out;
    nnf_int c, h, w, f, kh, kw, ph, pw; /* convpool only */
    int ties;                           /* convpool: NNF_TIES_FIRST or NNF_TIES_ALL */
    double p_dropout;                   /* dense only */
    double *weights, *b, *vw, *vb;
} nnf_dlayer;
/* A double network: its layers, convpool ones first, and its cost. */
typedef struct {
    int n_layers, cost;
    nnf_dlayer layer[NNF_MAX_LAYERS];
} nnf_dnet;
/* The hyper-parameters of one double train_chunk call. */
typedef struct {
    double eta, lmbda, momentum;
    nnf_int n;          /* the decay is eta*lmbda/n: n is the training set's size */
    int regularization; /* NNF_REG_L2 or NNF_REG_L1 */
    int n_threads;
    /* the threads of each layer's kernels, at most n_threads; 0: n_threads */
    int layer_threads[NNF_MAX_LAYERS];
    /* a dense first layer on a team splits the mini-batch's rows, not its units
     * (engine_dense.inc, P(splits_by_units)) */
    int first_by_rows;
    unsigned long long seed; /* of the dropout masks */
    double *grad_norms;      /* if not NULL: += |dC/db| per layer per mini-batch */
} nnf_dhyper;

/* The workspace a float net's training (training = 1) or forward (0) needs for
 * batch rows. */
nnf_int nnf_sworkspace_size(const nnf_snet *net, nnf_int batch, int n_threads, int training);
/* The same for a double net. */
nnf_int nnf_dworkspace_size(const nnf_dnet *net, nnf_int batch, int n_threads, int training);
/* out = the float net's output for `rows` rows of x, `block` at a time. */
void nnf_sforward(const nnf_snet *net, const float *x, nnf_int ldx, nnf_int rows,
                  nnf_int block, float *work, int n_threads, float *out);
/* out = the double net's output for `rows` rows of x, `block` at a time. */
void nnf_dforward(const nnf_dnet *net, const double *x, nnf_int ldx, nnf_int rows,
                  nnf_int block, double *work, int n_threads, double *out);
/* Trains the float net in place on the rows perm[0..n_rows) of x. */
void nnf_strain_chunk(const nnf_snet *net, const nnf_shyper *hp, const float *x,
                      nnf_int ldx, const unsigned char *codes, float scale,
                      const long long *labels, const long long *perm,
                      nnf_int n_rows, nnf_int mini_batch_size, float *work);
/* The float net's training forward pass for a caller's BP1 (above). */
void nnf_strain_forward(const nnf_snet *net, const nnf_shyper *hp, const float *x, nnf_int ldx,
                        const long long *perm, nnf_int rows, nnf_int batch,
                        nnf_int mini_batch_size, float *work);
/* BP2-BP4 and the step of the float net after the caller's BP1. */
void nnf_strain_backward(const nnf_snet *net, const nnf_shyper *hp, nnf_int rows,
                         nnf_int mini_batch_size, float *work);
/* Where the output layer's z, a and delta lie in the float net's workspace. */
void nnf_soutput_buffers(const nnf_snet *net, nnf_int mini_batch_size, int n_threads,
                         float *work, float **z, float **a, float **delta);
/* Trains the double net in place on the rows perm[0..n_rows) of x. */
void nnf_dtrain_chunk(const nnf_dnet *net, const nnf_dhyper *hp, const double *x,
                      nnf_int ldx, const unsigned char *codes, double scale,
                      const long long *labels, const long long *perm,
                      nnf_int n_rows, nnf_int mini_batch_size, double *work);
/* The double net's training forward pass for a caller's BP1 (above). */
void nnf_dtrain_forward(const nnf_dnet *net, const nnf_dhyper *hp, const double *x, nnf_int ldx,
                        const long long *perm, nnf_int rows, nnf_int batch,
                        nnf_int mini_batch_size, double *work);
/* BP2-BP4 and the step of the double net after the caller's BP1. */
void nnf_dtrain_backward(const nnf_dnet *net, const nnf_dhyper *hp, nnf_int rows,
                         nnf_int mini_batch_size, double *work);
/* Where the output layer's z, a and delta lie in the double net's workspace. */
void nnf_doutput_buffers(const nnf_dnet *net, nnf_int mini_batch_size, int n_threads,
                         double *work, double **z, double **a, double **delta);

/* ---- Convolution (conv.c) ----
 * NCHW, C-contiguous: x is n x c x h x w, weights f x c x kh x kw, bias f, out
 * n x f x oh x ow with oh = h-kh+1, ow = w-kw+1 (valid cross-correlation, stride 1,
 * as PyTorch's conv2d: Theano's conv2d, a true convolution, is this with each kernel
 * rotated by 180 degrees, which nnfast.book.network3 does in its view of the weights).
 * im2col writes one sample's cols, (c*kh*kw) x (oh*ow) row-major, row c*kh*kw +
 * i*kw + j; col2im overwrites x with its adjoint (the sum of the columns back into
 * the pixels). conv_forward and conv_backward use work, conv_workspace_size(n, c,
 * h, w, f, kh, kw, n_threads) values (a cols buffer per thread, partial sums per
 * group of samples). bias, dx and dbias may be NULL. dweights and dbias are summed
 * over fixed groups of samples, each in sample order, then over the groups in
 * order: results are bit-identical for any n_threads. convpool_forward is
 * conv_forward then maxpool_forward then the bias, per filter, then the activation
 * (NNF_ACT_*, below; out rows ldo apart), each sample on one thread while in cache;
 * convpool_backward is conv_backward after that max-pool, from the pool's output
 * gradient and argmax, with dx then times f'(x) for the activation `below` that
 * made x (BP2's factor, NNF_ACT_LINEAR for none), each sample's while it is in
 * cache. Both take convpool_workspace_size(...) values of work. The
 * pool's tie rule: with ties NULL a window's gradient goes to its first maximum
 * (PyTorch's rule); given ties (NNF_TIE_WORDS(ph, pw) words per pooled output),
 * convpool_forward records each window's tied maxima there (maxpool_ties) and
 * convpool_backward gives the window's gradient to every one of them (Theano's). */
/* The values of work conv_forward and conv_backward need. */
nnf_int nnf_conv_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                nnf_int kh, nnf_int kw, int n_threads);
/* The values of work convpool_forward and convpool_backward need. */
nnf_int nnf_convpool_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                    nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                                    int n_threads);
/* cols = im2col of one c x h x w float image, (c*kh*kw) x (oh*ow). */
void nnf_sim2col(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, const float *x,
                 float *cols);
/* cols = im2col of one c x h x w double image, (c*kh*kw) x (oh*ow). */
void nnf_dim2col(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, const double *x,
                 double *cols);
/* x (c x h x w, float) = col2im of cols, the adjoint of im2col. */
void nnf_scol2im(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, const float *cols,
                 float *x);
/* x (c x h x w, double) = col2im of cols, the adjoint of im2col. */
void nnf_dcol2im(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, const double *cols,
                 double *x);
/* out (n x f x oh x ow) = the valid convolution of x with weights, plus bias, in float. */
void nnf_sconv_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                       nnf_int kh, nnf_int kw, const float *weights, const float *bias,
                       float *out, float *work, int n_threads);
/* out (n x f x oh x ow) = the valid convolution of x with weights, plus bias, in double. */
void nnf_dconv_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x, nnf_int f,
                       nnf_int kh, nnf_int kw, const double *weights, const double *bias,
                       double *out, double *work, int n_threads);
/* dx, dweights, dbias of conv_forward from its output gradient dout, in float. */
void nnf_sconv_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                        nnf_int kh, nnf_int kw, const float *weights, const float *dout,
                        float *dx, float *dweights, float *dbias, float *work, int n_threads);
/* dx, dweights, dbias of conv_forward from its output gradient dout, in double. */
void nnf_dconv_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x, nnf_int f,
                        nnf_int kh, nnf_int kw, const double *weights, const double *dout,
                        double *dx, double *dweights, double *dbias, double *work,
                        int n_threads);
/* out (rows ldo apart) = f(max-pool(conv(x)) + bias) for the activation f, with the
 * pool's argmax, in float. */
void nnf_sconvpool_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x,
                           nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                           const float *weights, const float *bias, int activation, float *out,
                           nnf_int ldo, int *argmax, unsigned *ties, float *work, int n_threads);
/* out (rows ldo apart) = f(max-pool(conv(x)) + bias) for the activation f, with the
 * pool's argmax, in double. */
void nnf_dconvpool_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x,
                           nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                           const double *weights, const double *bias, int activation, double *out,
                           nnf_int ldo, int *argmax, unsigned *ties, double *work, int n_threads);
/* dx (times f'(x) for the activation below), dweights, dbias of convpool_forward from
 * the pool's output gradient dpool, in float. */
void nnf_sconvpool_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x,
                            nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                            const float *weights, const float *dpool, const int *argmax,
                            const unsigned *ties, float *dx, int below, float *dweights,
                            float *dbias, float *work, int n_threads);
/* dx (times f'(x) for the activation below), dweights, dbias of convpool_forward from
 * the pool's output gradient dpool, in double. */
void nnf_dconvpool_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x,
                            nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                            const double *weights, const double *dpool, const int *argmax,
                            const unsigned *ties, double *dx, int below, double *dweights,
                            double *dbias, double *work, int n_threads);

/* ---- Pooling (pool.c) ----
 * planes = n*c planes of h x w, C-contiguous, pooled over non-overlapping p x q
 * windows (p divides h, q divides w) into (h/p) x (w/q). Max pooling stores, per
 * output, the flat index y*w + x of the maximum within its plane (the first on
 * ties); its backward overwrites dx with dout scattered through argmax. L2 pooling
 * is out = sqrt(sum x^2); its backward overwrites dx with dout * x / out (0 where
 * out == 0). Planes run in parallel on up to n_threads threads. */
/* out = each p x q window's maximum of x, argmax where it is, in float. */
void nnf_smaxpool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                          const float *x, float *out, int *argmax, int n_threads);
/* out = each p x q window's maximum of x, argmax where it is, in double. */
void nnf_dmaxpool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                          const double *x, double *out, int *argmax, int n_threads);
/* The words of tie bits maxpool_ties keeps per p x q window. */
#define NNF_TIE_WORDS(p, q) (((p) * (q) + 31) / 32)
/* ties = per window, the bits of the pixels equal to its maximum out (all zero when
 * only one is), for Theano's tie rule, in float. */
void nnf_smaxpool_ties(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                       const float *x, const float *out, unsigned *ties, int n_threads);
/* The same in double. */
void nnf_dmaxpool_ties(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                       const double *x, const double *out, unsigned *ties, int n_threads);
/* dx = dout scattered through argmax, zero elsewhere, in float. */
void nnf_smaxpool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                           const float *dout, const int *argmax, float *dx, int n_threads);
/* dx = dout scattered through argmax, zero elsewhere, in double. */
void nnf_dmaxpool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                           const double *dout, const int *argmax, double *dx, int n_threads);
/* out = sqrt of each p x q window's sum of x^2, in float. */
void nnf_sl2pool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                         const float *x, float *out, int n_threads);
/* out = sqrt of each p x q window's sum of x^2, in double. */
void nnf_dl2pool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                         const double *x, double *out, int n_threads);
/* dx = dout * x / out (0 where out == 0), the L2 pool's backward, in float. */
void nnf_sl2pool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                          const float *x, const float *out, const float *dout, float *dx,
                          int n_threads);
/* dx = dout * x / out (0 where out == 0), the L2 pool's backward, in double. */
void nnf_dl2pool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                          const double *x, const double *out, const double *dout, double *dx,
                          int n_threads);

/* ---- Dropout (dropout.c) ----
 * out = x * mask over n contiguous elements, mask[i] = 1 with probability 1 - p,
 * drawn from a hash of (seed, i): the same seed gives the same mask for any thread
 * count. No 1/(1-p) rescaling (network3 scales by 1-p at inference). Runs on up
 * to n_threads threads. */
/* out = x * mask over n floats, mask drawn from (seed, i), kept with probability 1 - p. */
void nnf_sdropout(nnf_int n, const float *x, double p, unsigned long long seed, float *out,
                  unsigned char *mask, int n_threads);
/* out = x * mask over n doubles, mask drawn from (seed, i), kept with probability 1 - p. */
void nnf_ddropout(nnf_int n, const double *x, double p, unsigned long long seed, double *out,
                  unsigned char *mask, int n_threads);

#endif
