/* The portable reference micro-kernel: plain C, always compiled, any CPU.
 * Same contract and the same summation orders as the SIMD kernels (gemm_ukr.h):
 * every multiply-add is an explicit fma(), so the results are theirs bit for bit
 * (on a CPU without FMA instructions libm computes the fused result in software,
 * slowly but exactly). */
#include <math.h>
#include <string.h>

#include "gemm_ukr.h"
#include "tuning.h"

#define REF_MR 4
#define REF_NR 8

#define DEFINE_REF_UKR(NAME, REAL, FMA)                                                     \
    static void NAME(nnf_int k, const REAL *restrict a, const REAL *restrict b,             \
                     REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha, REAL beta,     \
                     int m, int n)                                                           \
    {                                                                                        \
        REAL acc[REF_MR][REF_NR] = {{0}};                                                    \
        for (nnf_int p = 0; p < k; p++, a += REF_MR, b += REF_NR)                            \
            for (int i = 0; i < REF_MR; i++)                                                 \
                for (int j = 0; j < REF_NR; j++)                                             \
                    acc[i][j] = FMA(a[i], b[j], acc[i][j]);                                  \
        for (int i = 0; i < m; i++)                                                          \
            for (int j = 0; j < n; j++) {                                                    \
                REAL *cij = c + i * rsc + j * csc;                                           \
                REAL t = alpha * acc[i][j];                                                  \
                *cij = beta == 0 ? t : FMA(beta, *cij, t);                                   \
            }                                                                                \
    }

#define DEFINE_REF_DIRECT(NAME, REAL, FMA)                                                  \
    static void NAME(nnf_int k, const REAL *a, nnf_int rsa, nnf_int csa, const REAL *b,     \
                     nnf_int rsb, REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha,   \
                     REAL beta, int m, int n)                                                \
    {                                                                                        \
        for (int j0 = 0; j0 < n; j0 += REF_NR) {                                             \
            const int nr = n - j0 < REF_NR ? n - j0 : REF_NR;                                \
            REAL acc[REF_MR][REF_NR] = {{0}};                                                \
            for (nnf_int p = 0; p < k; p++)                                                  \
                for (int i = 0; i < m; i++)                                                  \
                    for (int j = 0; j < nr; j++)                                             \
                        acc[i][j] = FMA(a[i * rsa + p * csa], b[p * rsb + j0 + j],           \
                                        acc[i][j]);                                          \
            for (int i = 0; i < m; i++)                                                      \
                for (int j = 0; j < nr; j++) {                                               \
                    REAL *cij = c + i * rsc + (j0 + j) * csc;                                \
                    REAL t = alpha * acc[i][j];                                              \
                    *cij = beta == 0 ? t : FMA(beta, *cij, t);                               \
                }                                                                            \
        }                                                                                    \
    }

/* Sixteen (float) or eight (double) scalar partial sums per element, in the SIMD
 * kernels' lanes, reduced by the same halving tree. */
#define DEFINE_REF_DOT(NAME, REAL, FMA)                                                     \
    static void NAME(nnf_int k, const REAL *a, nnf_int rsa, const REAL *b, nnf_int csb,     \
                     REAL *restrict c, nnf_int rsc, nnf_int csc, REAL alpha, REAL beta,     \
                     int m, nnf_int n, REAL *restrict kept, nnf_int ldp, int phase)          \
    {                                                                                        \
        enum { LANES = NNF_DOT_LANE_BYTES / sizeof(REAL) };                                  \
        for (int i = 0; i < m; i++)                                                          \
            for (nnf_int j = 0; j < n; j++) {                                                \
                REAL part[LANES] = {0};                                                      \
                REAL *own = phase ? kept + (i * ldp + j) * LANES : NULL; /* its partials */  \
                if (phase & NNF_DOT_RESUME)                                                  \
                    memcpy(part, own, sizeof part);                                          \
                for (nnf_int p = 0; p < k; p++)                                              \
                    part[p % LANES] = FMA(a[i * rsa + p], b[j * csb + p], part[p % LANES]);  \
                if (phase & NNF_DOT_SUSPEND) {                                               \
                    memcpy(own, part, sizeof part);                                          \
                    continue;                                                                \
                }                                                                            \
                for (int half = LANES / 2; half > 0; half /= 2)                              \
                    for (int l = 0; l < half; l++)                                           \
                        part[l] = part[l] + part[l + half];                                  \
                REAL *cij = c + i * rsc + j * csc;                                           \
                REAL t = alpha * part[0];                                                    \
                *cij = beta == 0 ? t : FMA(beta, *cij, t);                                   \
            }                                                                                \
    }

/* Two chains per element, A's entries at even and at odd positions. */
#define DEFINE_REF_GATHER(NAME, REAL, FMA)                                                  \
    static void NAME(nnf_int m, const int *start, const REAL *alpha, const int *idx,         \
                     const REAL *b, nnf_int rsb, REAL *c, nnf_int ldc, REAL beta, nnf_int n) \
    {                                                                                        \
        for (nnf_int i = 0; i < m; i++)                                                      \
            for (nnf_int j = 0; j < n; j++) {                                                \
                REAL chain[2] = {0, 0};                                                      \
                for (nnf_int p = start[i]; p < start[i + 1]; p++)                            \
                    chain[(p - start[i]) & 1] = FMA(alpha[p], b[(nnf_int)idx[p] * rsb + j],  \
                                                    chain[(p - start[i]) & 1]);              \
                REAL sum = chain[0] + chain[1];                                              \
                c[i * ldc + j] = beta == 0 ? sum : FMA(beta, c[i * ldc + j], sum);           \
            }                                                                                \
    }

DEFINE_REF_UKR(sukr_ref, float, fmaf)
DEFINE_REF_UKR(dukr_ref, double, fma)
DEFINE_REF_DIRECT(sdirect_ref, float, fmaf)
DEFINE_REF_DIRECT(ddirect_ref, double, fma)
DEFINE_REF_DOT(sdot_ref, float, fmaf)
DEFINE_REF_DOT(ddot_ref, double, fma)
DEFINE_REF_GATHER(sgather_ref, float, fmaf)
DEFINE_REF_GATHER(dgather_ref, double, fma)

const nnf_gemm_arch nnf_gemm_ref = {
    .sblock = {.mr = REF_MR, .nr = REF_NR, .mc = 128, .kc = NNF_GEMM_KC, .nc = 4096},
    .dblock = {.mr = REF_MR, .nr = REF_NR, .mc = 64, .kc = NNF_GEMM_KC, .nc = 4096},
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
