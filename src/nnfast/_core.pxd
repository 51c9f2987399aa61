# Cython declarations of the C API in csrc/nnfast.h.
cdef extern from "nnfast.h" nogil:
    ctypedef Py_ssize_t nnf_int

    enum:
        NNF_ARCH_REF
        NNF_ARCH_AVX2
        NNF_ARCH_AVX512
        NNF_ARCH_COUNT

    int nnf_arch_best() noexcept
    int nnf_arch_get() noexcept
    int nnf_arch_set(int arch) noexcept
    const char *nnf_arch_name(int arch) noexcept

    ctypedef struct nnf_blocking:
        int mr, nr, mc, kc, nc
    nnf_blocking nnf_blocking_s() noexcept
    nnf_blocking nnf_blocking_d() noexcept
    nnf_int nnf_dot_block(int is_double) noexcept

    int nnf_openmp_enabled() noexcept
    int nnf_default_threads() noexcept
    void nnf_set_default_threads(int n) noexcept

    void nnf_sgemm(nnf_int m, nnf_int n, nnf_int k, float alpha,
                   const float *a, nnf_int rsa, nnf_int csa,
                   const float *b, nnf_int rsb, nnf_int csb, float beta,
                   float *c, nnf_int rsc, nnf_int csc, int n_threads) noexcept
    void nnf_dgemm(nnf_int m, nnf_int n, nnf_int k, double alpha,
                   const double *a, nnf_int rsa, nnf_int csa,
                   const double *b, nnf_int rsb, nnf_int csb, double beta,
                   double *c, nnf_int rsc, nnf_int csc, int n_threads) noexcept
    void nnf_ssparse_gemm(nnf_int m, const int *start, const float *alpha, const int *idx,
                          const float *b, nnf_int rsb, float beta, float *c, nnf_int ldc,
                          nnf_int n) noexcept
    void nnf_dsparse_gemm(nnf_int m, const int *start, const double *alpha, const int *idx,
                          const double *b, nnf_int rsb, double beta, double *c, nnf_int ldc,
                          nnf_int n) noexcept

    void nnf_ssigmoid(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dsigmoid(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_ssigmoid_prime(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dsigmoid_prime(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_ssigmoid_prime_from_output(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dsigmoid_prime_from_output(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_stanh(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dtanh(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_stanh_prime_from_output(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dtanh_prime_from_output(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_srelu(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_drelu(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_srelu_prime(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_drelu_prime(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_ssoftmax(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dsoftmax(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept

    void nnf_shadamard(nnf_int, nnf_int, const float *, nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dhadamard(nnf_int, nnf_int, const double *, nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_sadd_bias(nnf_int, nnf_int, const float *, nnf_int, nnf_int, const float *, nnf_int, float *, nnf_int, nnf_int, int) noexcept
    void nnf_dadd_bias(nnf_int, nnf_int, const double *, nnf_int, nnf_int, const double *, nnf_int, double *, nnf_int, nnf_int, int) noexcept
    void nnf_scolumn_sums(nnf_int, nnf_int, const float *, nnf_int, nnf_int, float *, nnf_int) noexcept
    void nnf_dcolumn_sums(nnf_int, nnf_int, const double *, nnf_int, nnf_int, double *, nnf_int) noexcept

    int nnf_sall_finite(nnf_int n, const float *x, int n_threads) noexcept
    int nnf_dall_finite(nnf_int n, const double *x, int n_threads) noexcept

    int nnf_sbyte_codes(nnf_int n, const float *x, float scale, unsigned char *codes,
                        int n_threads) noexcept
    int nnf_dbyte_codes(nnf_int n, const double *x, double scale, unsigned char *codes,
                        int n_threads) noexcept

    enum:
        NNF_MAX_LAYERS
        NNF_ACT_SIGMOID
        NNF_ACT_TANH
        NNF_ACT_RELU
        NNF_ACT_LINEAR
        NNF_ACT_SOFTMAX
        NNF_COST_QUADRATIC
        NNF_COST_CROSS_ENTROPY
        NNF_COST_LOG_LIKELIHOOD
        NNF_COST_CALLER
        NNF_REG_L2
        NNF_REG_L1

    enum:
        NNF_LAYER_DENSE
        NNF_LAYER_CONVPOOL
        NNF_TIES_FIRST
        NNF_TIES_ALL

    ctypedef struct nnf_slayer:
        int kind, activation
        nnf_int n_in, n_out
        nnf_int c, h, w, f, kh, kw, ph, pw
        int ties
        double p_dropout
        float *weights
        float *b
        float *vw
        float *vb
    ctypedef struct nnf_snet:
        int n_layers, cost
        nnf_slayer layer[16]
    ctypedef struct nnf_shyper:
        float eta, lmbda, momentum
        nnf_int n
        int regularization, n_threads
        int layer_threads[16]
        int first_by_rows
        unsigned long long seed
        double *grad_norms
    ctypedef struct nnf_dlayer:
        int kind, activation
        nnf_int n_in, n_out
        nnf_int c, h, w, f, kh, kw, ph, pw
        int ties
        double p_dropout
        double *weights
        double *b
        double *vw
        double *vb
    ctypedef struct nnf_dnet:
        int n_layers, cost
        nnf_dlayer layer[16]
    ctypedef struct nnf_dhyper:
        double eta, lmbda, momentum
        nnf_int n
        int regularization, n_threads
        int layer_threads[16]
        int first_by_rows
        unsigned long long seed
        double *grad_norms

    nnf_int nnf_sworkspace_size(const nnf_snet *net, nnf_int batch, int n_threads, int training) noexcept
    nnf_int nnf_dworkspace_size(const nnf_dnet *net, nnf_int batch, int n_threads, int training) noexcept
    void nnf_sforward(const nnf_snet *net, const float *x, nnf_int ldx, nnf_int rows,
                      nnf_int block, float *work, int n_threads, float *out) noexcept
    void nnf_dforward(const nnf_dnet *net, const double *x, nnf_int ldx, nnf_int rows,
                      nnf_int block, double *work, int n_threads, double *out) noexcept
    void nnf_strain_chunk(const nnf_snet *net, const nnf_shyper *hp, const float *x, nnf_int ldx,
                          const unsigned char *codes, float scale,
                          const long long *labels, const long long *perm, nnf_int n_rows,
                          nnf_int mini_batch_size, float *work) noexcept
    void nnf_dtrain_chunk(const nnf_dnet *net, const nnf_dhyper *hp, const double *x, nnf_int ldx,
                          const unsigned char *codes, double scale,
                          const long long *labels, const long long *perm, nnf_int n_rows,
                          nnf_int mini_batch_size, double *work) noexcept
    void nnf_strain_forward(const nnf_snet *net, const nnf_shyper *hp, const float *x,
                            nnf_int ldx, const long long *perm, nnf_int rows, nnf_int batch,
                            nnf_int mini_batch_size, float *work) noexcept
    void nnf_dtrain_forward(const nnf_dnet *net, const nnf_dhyper *hp, const double *x,
                            nnf_int ldx, const long long *perm, nnf_int rows, nnf_int batch,
                            nnf_int mini_batch_size, double *work) noexcept
    void nnf_strain_backward(const nnf_snet *net, const nnf_shyper *hp, nnf_int rows,
                             nnf_int mini_batch_size, float *work) noexcept
    void nnf_dtrain_backward(const nnf_dnet *net, const nnf_dhyper *hp, nnf_int rows,
                             nnf_int mini_batch_size, double *work) noexcept
    void nnf_soutput_buffers(const nnf_snet *net, nnf_int mini_batch_size, int n_threads,
                             float *work, float **z, float **a, float **delta) noexcept
    void nnf_doutput_buffers(const nnf_dnet *net, nnf_int mini_batch_size, int n_threads,
                             double *work, double **z, double **a, double **delta) noexcept

    nnf_int nnf_conv_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                    nnf_int kh, nnf_int kw, int n_threads) noexcept
    void nnf_sim2col(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                     const float *x, float *cols) noexcept
    void nnf_dim2col(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                     const double *x, double *cols) noexcept
    void nnf_scol2im(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                     const float *cols, float *x) noexcept
    void nnf_dcol2im(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw,
                     const double *cols, double *x) noexcept
    void nnf_sconv_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x,
                           nnf_int f, nnf_int kh, nnf_int kw, const float *weights,
                           const float *bias, float *out, float *work, int n_threads) noexcept
    void nnf_dconv_forward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x,
                           nnf_int f, nnf_int kh, nnf_int kw, const double *weights,
                           const double *bias, double *out, double *work, int n_threads) noexcept
    void nnf_sconv_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const float *x,
                            nnf_int f, nnf_int kh, nnf_int kw, const float *weights,
                            const float *dout, float *dx, float *dweights, float *dbias,
                            float *work, int n_threads) noexcept
    void nnf_dconv_backward(nnf_int n, nnf_int c, nnf_int h, nnf_int w, const double *x,
                            nnf_int f, nnf_int kh, nnf_int kw, const double *weights,
                            const double *dout, double *dx, double *dweights, double *dbias,
                            double *work, int n_threads) noexcept

    void nnf_smaxpool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                              const float *x, float *out, int *argmax, int n_threads) noexcept
    void nnf_dmaxpool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                              const double *x, double *out, int *argmax, int n_threads) noexcept
    void nnf_smaxpool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                               const float *dout, const int *argmax, float *dx, int n_threads) noexcept
    void nnf_dmaxpool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                               const double *dout, const int *argmax, double *dx, int n_threads) noexcept
    void nnf_sl2pool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                             const float *x, float *out, int n_threads) noexcept
    void nnf_dl2pool_forward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                             const double *x, double *out, int n_threads) noexcept
    void nnf_sl2pool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                              const float *x, const float *out, const float *dout,
                              float *dx, int n_threads) noexcept
    void nnf_dl2pool_backward(nnf_int planes, nnf_int h, nnf_int w, nnf_int p, nnf_int q,
                              const double *x, const double *out, const double *dout,
                              double *dx, int n_threads) noexcept

    void nnf_sdropout(nnf_int n, const float *x, double p, unsigned long long seed,
                      float *out, unsigned char *mask, int n_threads) noexcept
    void nnf_ddropout(nnf_int n, const double *x, double p, unsigned long long seed,
                      double *out, unsigned char *mask, int n_threads) noexcept

cdef extern from "peak.h" nogil:
    double nnf_peak_gflops(int arch, int is_double) noexcept

# Dropout's counter-based draws (csrc/rng.h).
cdef extern from "rng.h" nogil:
    const unsigned long long NNF_SEED_STEP


# The planner (csrc/plan.h).
cdef extern from "plan.h" nogil:
    enum:
        NNF_PLAN_MEASURE
        NNF_PLAN_ESTIMATE
        NNF_PLAN_MAX_CANDIDATES
        NNF_WORK_KINDS
        NNF_CONV_PATHS
    ctypedef struct nnf_gemm_signature:
        int arch_in_use, is_double
        nnf_int m, n, k
        int layout, beta_zero, n_threads
    ctypedef struct nnf_gemm_candidate:
        int arch, team, path
        double seconds
    ctypedef struct nnf_gemm_plan:
        nnf_gemm_signature sig
        int arch, team, path, how, n_candidates
        nnf_gemm_candidate candidate[NNF_PLAN_MAX_CANDIDATES]
        double planning_seconds
        int recheck
        double planned_at
    ctypedef struct nnf_parallel_plan:
        nnf_int threshold[NNF_WORK_KINDS]
        double fork_join_seconds
        double element_seconds[NNF_WORK_KINDS]
        int how
    ctypedef struct nnf_conv_signature:
        int product, arch_in_use, is_double
        nnf_int c, h, w, f, kh, kw
        int n_threads
    ctypedef struct nnf_conv_plan:
        nnf_conv_signature sig
        int path, how
        double seconds[NNF_CONV_PATHS]
        double planning_seconds
        int recheck
        double planned_at
    int nnf_gemm_same_bits(int arch_a, int arch_b) noexcept
    int nnf_plan_mode() noexcept
    void nnf_plan_set_mode(int mode) noexcept
    int nnf_plan_count() noexcept
    int nnf_plan_get(int i, nnf_gemm_plan *plan) noexcept
    int nnf_plan_put(const nnf_gemm_plan *plan) noexcept
    nnf_parallel_plan nnf_plan_parallel() noexcept
    void nnf_plan_put_parallel(const nnf_parallel_plan *plan) noexcept
    void nnf_plan_refine_parallel() noexcept
    int nnf_conv_plan_count() noexcept
    int nnf_conv_plan_get(int i, nnf_conv_plan *plan) noexcept
    int nnf_conv_plan_put(const nnf_conv_plan *plan) noexcept
    void nnf_plan_forget() noexcept
    long long nnf_plan_timed_runs() noexcept
    double nnf_plan_recheck_seconds() noexcept
    long long nnf_dot_products_in_blocks() noexcept


# The gradient and curvature-vector products (csrc/hvp.h).
cdef extern from "hvp.h" nogil:
    enum:
        NNF_CURVATURE_HESSIAN
        NNF_CURVATURE_GAUSS_NEWTON

    nnf_int nnf_scurvature_workspace_size(const nnf_snet *net, nnf_int block, int n_threads) noexcept
    nnf_int nnf_dcurvature_workspace_size(const nnf_dnet *net, nnf_int block, int n_threads) noexcept
    void nnf_scurvature(const nnf_snet *net, int matrix, const float *x, nnf_int ldx,
                        const long long *labels, const long long *rows_of_x, nnf_int n_rows,
                        nnf_int block, float lmbda, const float *v, float *gradient,
                        float *product, float *work, int n_threads) noexcept
    void nnf_dcurvature(const nnf_dnet *net, int matrix, const double *x, nnf_int ldx,
                        const long long *labels, const long long *rows_of_x, nnf_int n_rows,
                        nnf_int block, double lmbda, const double *v, double *gradient,
                        double *product, double *work, int n_threads) noexcept
