/* The portable reference micro-kernel: plain C, always compiled, any CPU.
 * Same contract as the SIMD kernels (gemm_ukr.h); the compiler may vectorise it
 * for the baseline ISA. */
#include "gemm_ukr.h"

#define REF_MR 4
#define REF_NR 8

#define DEFINE_REF_UKR(NAME, REAL)                                                          \
    static void NAME(nnf_int k, const REAL *restrict a, const REAL *restrict b,             \
                     REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha, REAL beta,     \
                     int m, int n)                                                           \
    {                                                                                        \
        REAL acc[REF_MR][REF_NR] = {{0}};                                                    \
        for (nnf_int p = 0; p < k; p++, a += REF_MR, b += REF_NR)                            \
            for (int i = 0; i < REF_MR; i++)                                                 \
                for (int j = 0; j < REF_NR; j++)                                             \
                    acc[i][j] += a[i] * b[j];                                                \
        for (int i = 0; i < m; i++)                                                          \
            for (int j = 0; j < n; j++) {                                                    \
                REAL *cij = c + i * rsc + j * csc;                                           \
                REAL t = alpha * acc[i][j];                                                  \
                *cij = beta == 0 ? t : t + beta * *cij;                                      \
            }                                                                                \
    }

#define DEFINE_REF_DIRECT(NAME, REAL)                                                       \
    static void NAME(nnf_int k, const REAL *a, nnf_int rsa, nnf_int csa, const REAL *b,     \
                     nnf_int rsb, REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha,   \
                     REAL beta, int m, int n)                                                \
    {                                                                                        \
        REAL acc[REF_MR][REF_NR] = {{0}};                                                    \
        for (nnf_int p = 0; p < k; p++, b += rsb)                                            \
            for (int i = 0; i < m; i++)                                                      \
                for (int j = 0; j < n; j++)                                                  \
                    acc[i][j] += a[i * rsa + p * csa] * b[j];                                \
        for (int i = 0; i < m; i++)                                                          \
            for (int j = 0; j < n; j++) {                                                    \
                REAL *cij = c + i * rsc + j * csc;                                           \
                REAL t = alpha * acc[i][j];                                                  \
                *cij = beta == 0 ? t : t + beta * *cij;                                      \
            }                                                                                \
    }

#define DEFINE_REF_DOT(NAME, REAL)                                                          \
    static void NAME(nnf_int k, const REAL *a, nnf_int rsa, const REAL *b, nnf_int csb,     \
                     REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha, REAL beta,     \
                     int m, nnf_int n)                                                       \
    {                                                                                        \
        for (int i = 0; i < m; i++)                                                          \
            for (nnf_int j = 0; j < n; j++) {                                                \
                REAL sum = 0;                                                                \
                for (nnf_int p = 0; p < k; p++)                                              \
                    sum += a[i * rsa + p] * b[j * csb + p];                                  \
                REAL *cij = c + i * rsc + j * csc;                                           \
                *cij = beta == 0 ? alpha * sum : alpha * sum + beta * *cij;                  \
            }                                                                                \
    }

#define DEFINE_REF_GATHER(NAME, REAL)                                                       \
    static void NAME(nnf_int m, const int *start, const REAL *alpha, const int *idx,         \
                     const REAL *b, nnf_int rsb, REAL *c, nnf_int ldc, REAL beta, nnf_int n) \
    {                                                                                        \
        for (nnf_int i = 0; i < m; i++)                                                      \
            for (nnf_int j = 0; j < n; j++) {                                                \
                REAL sum = 0;                                                                \
                for (nnf_int p = start[i]; p < start[i + 1]; p++)                            \
                    sum += alpha[p] * b[(nnf_int)idx[p] * rsb + j];                          \
                c[i * ldc + j] = beta == 0 ? sum : sum + beta * c[i * ldc + j];              \
            }                                                                                \
    }

DEFINE_REF_UKR(sukr_ref, float)
DEFINE_REF_UKR(dukr_ref, double)
DEFINE_REF_DIRECT(sdirect_ref, float)
DEFINE_REF_DIRECT(ddirect_ref, double)
DEFINE_REF_DOT(sdot_ref, float)
DEFINE_REF_DOT(ddot_ref, double)
DEFINE_REF_GATHER(sgather_ref, float)
DEFINE_REF_GATHER(dgather_ref, double)

const nnf_gemm_arch nnf_gemm_ref = {
    .sblock = {.mr = REF_MR, .nr = REF_NR, .mc = 128, .kc = 256, .nc = 4096},
    .dblock = {.mr = REF_MR, .nr = REF_NR, .mc = 64, .kc = 256, .nc = 4096},
    .sukr = sukr_ref,
    .dukr = dukr_ref,
    .sdirect = sdirect_ref,
    .ddirect = ddirect_ref,
    .sdot = sdot_ref,
    .ddot = ddot_ref,
    .sgather = sgather_ref,
    .dgather = dgather_ref,
    .dot_mr = 4,
    .dot_nr = 4,
};
