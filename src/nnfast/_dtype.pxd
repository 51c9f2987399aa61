# The dtype dispatch of the bindings: each float/double pair of the C API (nnf_s...,
# nnf_d...) as one function that takes the data as void pointers and f64, whether
# they are float64 (else float32). The bindings validate their arrays, then call these
# once, without a branch of their own: this file is the only place that chooses
# between the two precisions.
#
# Why not Cython's fused types: a fused function is specialised when it is compiled,
# and an ndarray's dtype is known only when the call runs, so every fused body would
# still need a branch at each call site, or typed memoryviews, whose acquisition costs
# more than the smallest kernels take to run.

cimport numpy as cnp

from nnfast._core cimport *


cdef inline bint is_double(cnp.ndarray x) noexcept:
    """Whether x (already checked to be float32 or float64) holds float64."""
    return cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT64


# ---- GEMM and the elementwise kernels ----

cdef inline void gemm(bint f64, nnf_int m, nnf_int n, nnf_int k, double alpha,
                      const void *a, nnf_int rsa, nnf_int csa, const void *b, nnf_int rsb,
                      nnf_int csb, double beta, void *c, nnf_int rsc, nnf_int csc,
                      int n_threads) noexcept nogil:
    if f64:
        nnf_dgemm(m, n, k, alpha, <const double *>a, rsa, csa, <const double *>b, rsb, csb,
                  beta, <double *>c, rsc, csc, n_threads)
    else:
        nnf_sgemm(m, n, k, <float>alpha, <const float *>a, rsa, csa, <const float *>b, rsb,
                  csb, <float>beta, <float *>c, rsc, csc, n_threads)


cdef inline void sparse_gemm(bint f64, nnf_int m, const int *start, const void *alpha,
                             const int *idx, const void *b, nnf_int rsb, double beta, void *c,
                             nnf_int ldc, nnf_int n) noexcept nogil:
    if f64:
        nnf_dsparse_gemm(m, start, <const double *>alpha, idx, <const double *>b, rsb, beta,
                         <double *>c, ldc, n)
    else:
        nnf_ssparse_gemm(m, start, <const float *>alpha, idx, <const float *>b, rsb,
                         <float>beta, <float *>c, ldc, n)


# The elementwise maps x -> out of one matrix: a pair of C functions each.
ctypedef void (*s_unary)(nnf_int, nnf_int, const float *, nnf_int, nnf_int,
                         float *, nnf_int, nnf_int, int) noexcept nogil
ctypedef void (*d_unary)(nnf_int, nnf_int, const double *, nnf_int, nnf_int,
                         double *, nnf_int, nnf_int, int) noexcept nogil

ctypedef struct unary_kernel:
    s_unary s
    d_unary d


cdef inline void unary(unary_kernel fn, bint f64, nnf_int m, nnf_int n, const void *x,
                       nnf_int rsx, nnf_int csx, void *out, nnf_int rso, nnf_int cso,
                       int n_threads) noexcept nogil:
    if f64:
        fn.d(m, n, <const double *>x, rsx, csx, <double *>out, rso, cso, n_threads)
    else:
        fn.s(m, n, <const float *>x, rsx, csx, <float *>out, rso, cso, n_threads)


cdef inline void hadamard(bint f64, nnf_int m, nnf_int n, const void *a, nnf_int rsa,
                          nnf_int csa, const void *b, nnf_int rsb, nnf_int csb, void *out,
                          nnf_int rso, nnf_int cso, int n_threads) noexcept nogil:
    if f64:
        nnf_dhadamard(m, n, <const double *>a, rsa, csa, <const double *>b, rsb, csb,
                      <double *>out, rso, cso, n_threads)
    else:
        nnf_shadamard(m, n, <const float *>a, rsa, csa, <const float *>b, rsb, csb,
                      <float *>out, rso, cso, n_threads)


cdef inline void add_bias(bint f64, nnf_int m, nnf_int n, const void *x, nnf_int rsx,
                          nnf_int csx, const void *bias, nnf_int sb, void *out, nnf_int rso,
                          nnf_int cso, int n_threads) noexcept nogil:
    if f64:
        nnf_dadd_bias(m, n, <const double *>x, rsx, csx, <const double *>bias, sb,
                      <double *>out, rso, cso, n_threads)
    else:
        nnf_sadd_bias(m, n, <const float *>x, rsx, csx, <const float *>bias, sb,
                      <float *>out, rso, cso, n_threads)


cdef inline void column_sums(bint f64, nnf_int m, nnf_int n, const void *x, nnf_int rsx,
                             nnf_int csx, void *out, nnf_int so) noexcept nogil:
    if f64:
        nnf_dcolumn_sums(m, n, <const double *>x, rsx, csx, <double *>out, so)
    else:
        nnf_scolumn_sums(m, n, <const float *>x, rsx, csx, <float *>out, so)


cdef inline int all_finite(bint f64, nnf_int n, const void *x, int n_threads) noexcept nogil:
    if f64:
        return nnf_dall_finite(n, <const double *>x, n_threads)
    return nnf_sall_finite(n, <const float *>x, n_threads)


cdef inline int byte_codes(bint f64, nnf_int n, const void *x, double scale, unsigned char *codes,
                           int n_threads) noexcept nogil:
    if f64:
        return nnf_dbyte_codes(n, <const double *>x, scale, codes, n_threads)
    return nnf_sbyte_codes(n, <const float *>x, <float>scale, codes, n_threads)


# ---- convolution, pooling, dropout ----

cdef inline void im2col(bint f64, nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                        const void *x, void *cols) noexcept nogil:
    if f64:
        nnf_dim2col(c, h, w, kh, kw, <const double *>x, <double *>cols)
    else:
        nnf_sim2col(c, h, w, kh, kw, <const float *>x, <float *>cols)


cdef inline void col2im(bint f64, nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                        const void *cols, void *x) noexcept nogil:
    if f64:
        nnf_dcol2im(c, h, w, kh, kw, <const double *>cols, <double *>x)
    else:
        nnf_scol2im(c, h, w, kh, kw, <const float *>cols, <float *>x)


cdef inline void conv_forward(bint f64, nnf_int n, nnf_int c, nnf_int h, nnf_int w,
                              const void *x, nnf_int f, nnf_int kh, nnf_int kw,
                              const void *weights, const void *bias, void *out, void *work,
                              int n_threads) noexcept nogil:
    if f64:
        nnf_dconv_forward(n, c, h, w, <const double *>x, f, kh, kw, <const double *>weights,
                          <const double *>bias, <double *>out, <double *>work, n_threads)
    else:
        nnf_sconv_forward(n, c, h, w, <const float *>x, f, kh, kw, <const float *>weights,
                          <const float *>bias, <float *>out, <float *>work, n_threads)


cdef inline void conv_backward(bint f64, nnf_int n, nnf_int c, nnf_int h, nnf_int w,
                               const void *x, nnf_int f, nnf_int kh, nnf_int kw,
                               const void *weights, const void *dout, void *dx, void *dweights,
                               void *dbias, void *work, int n_threads) noexcept nogil:
    if f64:
        nnf_dconv_backward(n, c, h, w, <const double *>x, f, kh, kw, <const double *>weights,
                           <const double *>dout, <double *>dx, <double *>dweights,
                           <double *>dbias, <double *>work, n_threads)
    else:
        nnf_sconv_backward(n, c, h, w, <const float *>x, f, kh, kw, <const float *>weights,
                           <const float *>dout, <float *>dx, <float *>dweights,
                           <float *>dbias, <float *>work, n_threads)


cdef inline void maxpool_forward(bint f64, nnf_int planes, nnf_int h, nnf_int w, nnf_int p,
                                 nnf_int q, const void *x, void *out, int *argmax,
                                 int n_threads) noexcept nogil:
    if f64:
        nnf_dmaxpool_forward(planes, h, w, p, q, <const double *>x, <double *>out, argmax,
                             n_threads)
    else:
        nnf_smaxpool_forward(planes, h, w, p, q, <const float *>x, <float *>out, argmax,
                             n_threads)


cdef inline void maxpool_backward(bint f64, nnf_int planes, nnf_int h, nnf_int w, nnf_int p,
                                  nnf_int q, const void *dout, const int *argmax, void *dx,
                                  int n_threads) noexcept nogil:
    if f64:
        nnf_dmaxpool_backward(planes, h, w, p, q, <const double *>dout, argmax, <double *>dx,
                              n_threads)
    else:
        nnf_smaxpool_backward(planes, h, w, p, q, <const float *>dout, argmax, <float *>dx,
                              n_threads)


cdef inline void l2pool_forward(bint f64, nnf_int planes, nnf_int h, nnf_int w, nnf_int p,
                                nnf_int q, const void *x, void *out, int n_threads) noexcept nogil:
    if f64:
        nnf_dl2pool_forward(planes, h, w, p, q, <const double *>x, <double *>out, n_threads)
    else:
        nnf_sl2pool_forward(planes, h, w, p, q, <const float *>x, <float *>out, n_threads)


cdef inline void l2pool_backward(bint f64, nnf_int planes, nnf_int h, nnf_int w, nnf_int p,
                                 nnf_int q, const void *x, const void *out, const void *dout,
                                 void *dx, int n_threads) noexcept nogil:
    if f64:
        nnf_dl2pool_backward(planes, h, w, p, q, <const double *>x, <const double *>out,
                             <const double *>dout, <double *>dx, n_threads)
    else:
        nnf_sl2pool_backward(planes, h, w, p, q, <const float *>x, <const float *>out,
                             <const float *>dout, <float *>dx, n_threads)


cdef inline void dropout(bint f64, nnf_int n, const void *x, double p, unsigned long long seed,
                         void *out, unsigned char *mask, int n_threads) noexcept nogil:
    if f64:
        nnf_ddropout(n, <const double *>x, p, seed, <double *>out, mask, n_threads)
    else:
        nnf_sdropout(n, <const float *>x, p, seed, <float *>out, mask, n_threads)


# ---- the engine and the curvature products ----
# A network is held as both an nnf_snet and an nnf_dnet describing the same layers
# over the same memory (nnfast._engine.Engine); f64 says which of the two to use.

cdef inline nnf_int workspace_size(bint f64, const nnf_snet *snet, const nnf_dnet *dnet,
                                   nnf_int batch, int n_threads, bint training) noexcept nogil:
    if f64:
        return nnf_dworkspace_size(dnet, batch, n_threads, training)
    return nnf_sworkspace_size(snet, batch, n_threads, training)


cdef inline void forward(bint f64, const nnf_snet *snet, const nnf_dnet *dnet, const void *x,
                         nnf_int ldx, nnf_int rows, nnf_int block, void *work, int n_threads,
                         void *out) noexcept nogil:
    if f64:
        nnf_dforward(dnet, <const double *>x, ldx, rows, block, <double *>work, n_threads,
                     <double *>out)
    else:
        nnf_sforward(snet, <const float *>x, ldx, rows, block, <float *>work, n_threads,
                     <float *>out)


cdef inline nnf_shyper as_float(const nnf_dhyper *hp) noexcept nogil:
    """hp rounded to float, as a float network's nnf_shyper holds it."""
    cdef nnf_shyper sh
    sh.eta, sh.lmbda, sh.momentum, sh.n = <float>hp.eta, <float>hp.lmbda, <float>hp.momentum, hp.n
    sh.regularization, sh.n_threads, sh.seed = hp.regularization, hp.n_threads, hp.seed
    sh.grad_norms = hp.grad_norms
    sh.layer_threads = hp.layer_threads
    sh.first_by_rows = hp.first_by_rows
    return sh


cdef inline void train_chunk(bint f64, const nnf_snet *snet, const nnf_dnet *dnet,
                             const nnf_dhyper *hp, const void *x, nnf_int ldx,
                             const unsigned char *codes, double scale,
                             const long long *labels, const long long *perm, nnf_int n_rows,
                             nnf_int mini_batch_size, void *work) noexcept nogil:
    cdef nnf_shyper sh
    if f64:
        nnf_dtrain_chunk(dnet, hp, <const double *>x, ldx, codes, scale, labels, perm, n_rows,
                         mini_batch_size, <double *>work)
    else:
        sh = as_float(hp)
        nnf_strain_chunk(snet, &sh, <const float *>x, ldx, codes, <float>scale, labels, perm,
                         n_rows, mini_batch_size, <float *>work)


cdef inline void train_forward(bint f64, const nnf_snet *snet, const nnf_dnet *dnet,
                               const nnf_dhyper *hp, const void *x, nnf_int ldx,
                               const long long *perm, nnf_int rows, nnf_int batch,
                               nnf_int mini_batch_size, void *work) noexcept nogil:
    cdef nnf_shyper sh
    if f64:
        nnf_dtrain_forward(dnet, hp, <const double *>x, ldx, perm, rows, batch,
                           mini_batch_size, <double *>work)
    else:
        sh = as_float(hp)
        nnf_strain_forward(snet, &sh, <const float *>x, ldx, perm, rows, batch,
                           mini_batch_size, <float *>work)


cdef inline void train_backward(bint f64, const nnf_snet *snet, const nnf_dnet *dnet,
                                const nnf_dhyper *hp, nnf_int rows, nnf_int mini_batch_size,
                                void *work) noexcept nogil:
    cdef nnf_shyper sh
    if f64:
        nnf_dtrain_backward(dnet, hp, rows, mini_batch_size, <double *>work)
    else:
        sh = as_float(hp)
        nnf_strain_backward(snet, &sh, rows, mini_batch_size, <float *>work)


cdef inline void output_offsets(bint f64, const nnf_snet *snet, const nnf_dnet *dnet,
                                nnf_int mini_batch_size, int n_threads, void *work,
                                nnf_int offsets[3]) noexcept nogil:
    """Where the output layer's z, a and delta start in work, in elements."""
    cdef float *sp[3]
    cdef double *dp[3]
    cdef int i
    if f64:
        nnf_doutput_buffers(dnet, mini_batch_size, n_threads, <double *>work, &dp[0], &dp[1],
                            &dp[2])
        for i in range(3):
            offsets[i] = dp[i] - <double *>work
    else:
        nnf_soutput_buffers(snet, mini_batch_size, n_threads, <float *>work, &sp[0], &sp[1],
                            &sp[2])
        for i in range(3):
            offsets[i] = sp[i] - <float *>work


cdef inline nnf_int curvature_workspace_size(bint f64, const nnf_snet *snet,
                                             const nnf_dnet *dnet, nnf_int block,
                                             int n_threads) noexcept nogil:
    if f64:
        return nnf_dcurvature_workspace_size(dnet, block, n_threads)
    return nnf_scurvature_workspace_size(snet, block, n_threads)


cdef inline void curvature(bint f64, const nnf_snet *snet, const nnf_dnet *dnet, int matrix,
                           const void *x, nnf_int ldx, const long long *labels,
                           const long long *rows_of_x, nnf_int n_rows, nnf_int block,
                           double lmbda, const void *v, void *gradient, void *product,
                           void *work, int n_threads) noexcept nogil:
    if f64:
        nnf_dcurvature(dnet, matrix, <const double *>x, ldx, labels, rows_of_x, n_rows, block,
                       lmbda, <const double *>v, <double *>gradient, <double *>product,
                       <double *>work, n_threads)
    else:
        nnf_scurvature(snet, matrix, <const float *>x, ldx, labels, rows_of_x, n_rows, block,
                       <float>lmbda, <const float *>v, <float *>gradient, <float *>product,
                       <float *>work, n_threads)
