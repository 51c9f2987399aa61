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

int nnf_arch_best(void);           /* the best micro-kernel this CPU can run */
int nnf_arch_get(void);            /* the micro-kernel in use */
int nnf_arch_set(int arch);        /* 0 on success, -1 if this CPU cannot run it */
const char *nnf_arch_name(int arch);

/* Cache blocking of one GEMM: MR x NR register tile, MC x KC block of A,
 * KC x NC block of B. */
typedef struct { int mr, nr, mc, kc, nc; } nnf_blocking;
nnf_blocking nnf_blocking_s(void);
nnf_blocking nnf_blocking_d(void);

/* ---- Threads (parallel.c) ---- */
int nnf_openmp_enabled(void);
int nnf_default_threads(void); /* OpenMP's default: OMP_NUM_THREADS or the cores */
void nnf_set_default_threads(int n);

/* ---- GEMM (gemm.c): C = alpha*A*B + beta*C ----
 * A is m x k with strides (rsa, csa), B is k x n with (rsb, csb), C is m x n with
 * (rsc, csc); op(A) = A^T is A with its strides swapped. beta == 0 never reads C.
 * Each element of C is summed in the same order for any n_threads. */
void nnf_sgemm(nnf_int m, nnf_int n, nnf_int k, float alpha,
               const float *a, nnf_int rsa, nnf_int csa,
               const float *b, nnf_int rsb, nnf_int csb, float beta,
               float *c, nnf_int rsc, nnf_int csc, int n_threads);
void nnf_dgemm(nnf_int m, nnf_int n, nnf_int k, double alpha,
               const double *a, nnf_int rsa, nnf_int csa,
               const double *b, nnf_int rsb, nnf_int csb, double beta,
               double *c, nnf_int rsc, nnf_int csc, int n_threads);

/* C = beta*C + A.B for A sparse in compressed rows: C is m x n (rows ldc apart); row i
 * of A has the values alpha[start[i] .. start[i+1]) in the columns idx[...], which
 * pick rows of B (at b + idx*rsb, unit column stride); each element of C sums them
 * in the order listed. beta == 0 never reads C. */
void nnf_ssparse_gemm(nnf_int m, const int *start, const float *alpha, const int *idx,
                      const float *b, nnf_int rsb, float beta, float *c, nnf_int ldc, nnf_int n);
void nnf_dsparse_gemm(nnf_int m, const int *start, const double *alpha, const int *idx,
                      const double *b, nnf_int rsb, double beta, double *c, nnf_int ldc,
                      nnf_int n);

/* ---- Elementwise kernels on m x n matrices (activations.c) ----
 * Each takes an input x with strides (rsx, csx) and writes out with (rso, cso);
 * out may alias x when the strides agree. */
#define NNF_DECLARE_ELEMENTWISE(P, REAL)                                                   \
    void P##sigmoid(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,          \
                    REAL *out, nnf_int rso, nnf_int cso);                                    \
    void P##sigmoid_prime(nnf_int m, nnf_int n, const REAL *z, nnf_int rsz, nnf_int csz,    \
                          REAL *out, nnf_int rso, nnf_int cso);                              \
    void P##sigmoid_prime_from_output(nnf_int m, nnf_int n, const REAL *a, nnf_int rsa,     \
                                      nnf_int csa, REAL *out, nnf_int rso, nnf_int cso);     \
    void P##tanh(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,             \
                 REAL *out, nnf_int rso, nnf_int cso);                                       \
    void P##tanh_prime_from_output(nnf_int m, nnf_int n, const REAL *a, nnf_int rsa,        \
                                   nnf_int csa, REAL *out, nnf_int rso, nnf_int cso);        \
    void P##relu(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,             \
                 REAL *out, nnf_int rso, nnf_int cso);                                       \
    void P##relu_prime(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,       \
                       REAL *out, nnf_int rso, nnf_int cso);                                 \
    void P##softmax(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,          \
                    REAL *out, nnf_int rso, nnf_int cso);                                    \
    void P##hadamard(nnf_int m, nnf_int n, const REAL *a, nnf_int rsa, nnf_int csa,         \
                     const REAL *b, nnf_int rsb, nnf_int csb, REAL *out, nnf_int rso,        \
                     nnf_int cso);                                                           \
    void P##add_bias(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,         \
                     const REAL *bias, nnf_int sb, REAL *out, nnf_int rso, nnf_int cso);     \
    void P##column_sums(nnf_int m, nnf_int n, const REAL *x, nnf_int rsx, nnf_int csx,      \
                     REAL *out, nnf_int so);

NNF_DECLARE_ELEMENTWISE(nnf_s, float)
NNF_DECLARE_ELEMENTWISE(nnf_d, double)

/* ---- The training engine (engine.c) ----
 * A network is a list of layers; activations are rows, one per sample of a
 * mini-batch, and layer l's row holds its n_out outputs with row stride ld >= n_out.
 *  - dense: z = a . w^T + b, a = f(z). w is n_out x n_in (the book's), b has n_out
 *    entries. Each GEMM of the layer reads w in place: z = a . w^T and the update
 *    w += delta^T . a with both operands contiguous along n_in, BP2's delta . w with
 *    w's rows streamed as they are. With p_dropout > 0 the layer's input is
 *    multiplied by a random 0/1 mask while training and its product a . w^T is scaled
 *    by 1 - p_dropout otherwise (network3's dropout).
 *  - convpool (network3's ConvPoolLayer): input c x h x w (NCHW, flattened), f
 *    filters kh x kw (w is f x c x kh x kw, b has f entries), valid convolution,
 *    max-pool over ph x pw, then a = f(pooled + b). ld = n_out = f*oh/ph*ow/pw.
 * vw / vb are momentum buffers shaped like w / b. Convpool layers come first.
 *
 * train_chunk trains on the rows perm[0..n_rows) of x (row stride ldx), in
 * consecutive mini-batches (the last may be short), with integer class labels;
 * dropout masks come from seed. forward writes the output activations of `rows`
 * rows of x to out (rows x n_out of the last layer), `block` rows at a time. Both
 * take a workspace of workspace_size(net, batch, n_threads) values, for batch =
 * mini_batch_size or block and the same n_threads. */
#define NNF_MAX_LAYERS 16
enum { NNF_ACT_SIGMOID = 0, NNF_ACT_TANH = 1, NNF_ACT_RELU = 2, NNF_ACT_LINEAR = 3,
       NNF_ACT_SOFTMAX = 4 };
enum { NNF_COST_QUADRATIC = 0, NNF_COST_CROSS_ENTROPY = 1, NNF_COST_LOG_LIKELIHOOD = 2 };
enum { NNF_REG_L2 = 0, NNF_REG_L1 = 1 };
enum { NNF_LAYER_DENSE = 0, NNF_LAYER_CONVPOOL = 1 };

#define NNF_DECLARE_ENGINE(P, REAL)                                                        \
    typedef struct {                                                                       \
        int kind, activation;                                                              \
        nnf_int n_in, n_out, ld;                                                           \
        nnf_int c, h, w, f, kh, kw, ph, pw; /* convpool only */                            \
        double p_dropout;                   /* dense only */                               \
        REAL *weights, *b, *vw, *vb;                                                       \
    } P##layer;                                                                            \
    typedef struct {                                                                       \
        int n_layers, cost;                                                                \
        P##layer layer[NNF_MAX_LAYERS];                                                    \
    } P##net;                                                                              \
    typedef struct {                                                                       \
        REAL eta, lmbda, momentum;                                                         \
        nnf_int n; /* the decay is eta*lmbda/n: n is the training set's size */            \
        int regularization; /* NNF_REG_L2 or NNF_REG_L1 */                                 \
        int n_threads;                                                                     \
        unsigned long long seed; /* of the dropout masks */                                \
        double *grad_norms; /* if not NULL: += |dC/db| per layer per mini-batch */         \
    } P##hyper;                                                                            \
    nnf_int P##workspace_size(const P##net *net, nnf_int batch, int n_threads);            \
    void P##forward(const P##net *net, const REAL *x, nnf_int ldx, nnf_int rows,           \
                    nnf_int block, REAL *work, int n_threads, REAL *out);                  \
    void P##train_chunk(const P##net *net, const P##hyper *hp, const REAL *x, nnf_int ldx,  \
                        const long long *labels, const long long *perm, nnf_int n_rows,     \
                        nnf_int mini_batch_size, REAL *work);

NNF_DECLARE_ENGINE(nnf_s, float)
NNF_DECLARE_ENGINE(nnf_d, double)

/* ---- Convolution (conv.c) ----
 * NCHW, C-contiguous: x is n x c x h x w, weights f x c x kh x kw, bias f, out
 * n x f x oh x ow with oh = h-kh+1, ow = w-kw+1 (valid cross-correlation, stride 1).
 * im2col writes one sample's cols, (c*kh*kw) x (oh*ow) row-major, row c*kh*kw +
 * i*kw + j; col2im overwrites x with its adjoint (the sum of the columns back into
 * the pixels). conv_forward and conv_backward use work, conv_workspace_size(n, c,
 * h, w, f, kh, kw, n_threads) values (a cols buffer per thread, partial sums per
 * group of samples). bias, dx and dbias may be NULL. dweights and dbias are summed
 * over fixed groups of samples, each in sample order, then over the groups in
 * order: results are bit-identical for any n_threads. convpool_forward is
 * conv_forward then maxpool_forward then the bias, per filter (out rows ldo apart);
 * convpool_backward is conv_backward after that max-pool, from the pool's output
 * gradient and argmax. Both take convpool_workspace_size(...) values of work. */
nnf_int nnf_conv_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                nnf_int kh, nnf_int kw, int n_threads);
nnf_int nnf_convpool_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                    nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                                    int n_threads);
#define NNF_DECLARE_CONV(P, REAL)                                                          \
    void P##im2col(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, const REAL *x,  \
                   REAL *cols);                                                            \
    void P##col2im(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,                 \
                   const REAL *cols, REAL *x);                                             \
    void P##conv_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const REAL *x,         \
                         nnf_int f, nnf_int kh, nnf_int kw, const REAL *weights,           \
                         const REAL *bias, REAL *out, REAL *work, int n_threads);          \
    void P##conv_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const REAL *x,        \
                          nnf_int f, nnf_int kh, nnf_int kw, const REAL *weights,          \
                          const REAL *dout, REAL *dx, REAL *dweights, REAL *dbias,         \
                          REAL *work, int n_threads);                                   \
    void P##convpool_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const REAL *x,     \
                             nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,     \
                             const REAL *weights, const REAL *bias, REAL *out, nnf_int ldo,\
                             int *argmax, REAL *work, int n_threads);                      \
    void P##convpool_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const REAL *x,    \
                              nnf_int f, nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,    \
                              const REAL *weights, const REAL *dpool, const int *argmax,   \
                              REAL *dx, REAL *dweights, REAL *dbias, REAL *work,           \
                              int n_threads);

NNF_DECLARE_CONV(nnf_s, float)
NNF_DECLARE_CONV(nnf_d, double)

/* ---- Pooling (pool.c) ----
 * planes = n*c planes of h x w, C-contiguous, pooled over non-overlapping p x q
 * windows (p divides h, q divides w) into (h/p) x (w/q). Max pooling stores, per
 * output, the flat index y*w + x of the maximum within its plane (the first on
 * ties); its backward overwrites dx with dout scattered through argmax. L2 pooling
 * is out = sqrt(sum x^2); its backward overwrites dx with dout * x / out (0 where
 * out == 0). */
#define NNF_DECLARE_POOL(P, REAL)                                                          \
    void P##maxpool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,     \
                            const REAL *x, REAL *out, int *argmax);                        \
    void P##maxpool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,    \
                             const REAL *dout, const int *argmax, REAL *dx);               \
    void P##l2pool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,      \
                           const REAL *x, REAL *out);                                      \
    void P##l2pool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,     \
                            const REAL *x, const REAL *out, const REAL *dout, REAL *dx);

NNF_DECLARE_POOL(nnf_s, float)
NNF_DECLARE_POOL(nnf_d, double)

/* ---- Dropout (dropout.c) ----
 * out = x * mask over n contiguous elements, mask[i] = 1 with probability 1 - p,
 * drawn from a hash of (seed, i): the same seed gives the same mask for any thread
 * count. No 1/(1-p) rescaling (network3 scales by 1-p at inference). */
#define NNF_DECLARE_DROPOUT(P, REAL)                                                       \
    void P##dropout(nnf_int n, const REAL *x, double p, unsigned long long seed,           \
                    REAL *out, unsigned char *mask);

NNF_DECLARE_DROPOUT(nnf_s, float)
NNF_DECLARE_DROPOUT(nnf_d, double)

#endif
