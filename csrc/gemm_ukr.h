/* The micro-kernel contract shared by gemm.c and the per-ISA gemm_ukr_*.c files.
 *
 * Every kernel of every ISA computes each element of C in one order, written here,
 * so that the ISA, the tile shape and the thread count never change a bit (the
 * orders' constants are in tuning.h). All multiply-adds are fused (FMA), alpha*S is
 * rounded before it is combined with C, and C = alpha*S + beta*C is
 * fma(beta, C, alpha*S) (C + alpha*S when beta == 1, the same rounding), with C never
 * read when beta == 0.
 *
 * A micro-kernel computes one MR x NR tile: C := alpha * A_panel * B_panel + beta * C,
 * where A_panel is MR x k packed column by column (MR contiguous values per step)
 * and B_panel is k x NR packed row by row (NR contiguous values per step), both
 * zero-padded to full MR / NR and 64-byte aligned. Only the top-left m x n corner
 * of the tile is written (edge tiles). Each element's sum S is one FMA chain over
 * p = 0 .. k-1, from +0.
 *
 * A direct kernel computes the same m x n tiles, in the same order, without packing:
 * a row of tiles across n columns (n at most NR or a multiple of NR), reading A with
 * any strides (never past its m x k block) and B with unit column stride and NR
 * readable columns past each tile's first in each of its k rows. The callers give
 * both kinds at most NNF_GEMM_KC steps of k at a time, so the chains are the same on
 * every path.
 *
 * A dot kernel computes an m x n block, m <= dot_mr and any n, from A with unit
 * column stride and B with unit row stride (both contiguous along k), touching
 * nothing outside A's m x k and B's k x n blocks. Each element's sum S is
 * NNF_DOT_LANE_BYTES of partial sums (L = 16 in float, 8 in double): partial l is
 * the FMA chain over p = l, l + L, l + 2L, ... < k, from +0; then, for half = L/2,
 * ..., 2, 1, partial l += partial l + half (l < half), and S is partial 0. A long k
 * may come in blocks whose lengths are multiples of L but the last: with
 * NNF_DOT_RESUME the chains go on from the partial sums in `part` (element (i, j)'s L
 * at part + (i * ldp + j) * L) instead of +0, and with NNF_DOT_SUSPEND they are left
 * there and C is not touched, so the blocks give the bits of one call.
 *
 * A backward-step kernel (optional: the engine takes its products where an ISA has
 * none) computes a dense layer's BP2 and then its step in one pass over w
 * (gemm_ukr_vec.inc): each element as the chain family computes the products, BP2's
 * over blocks of units and the update's over rows.
 *
 * A gather kernel computes C := beta * C + A . B, C m x n (rows ldc apart), A
 * sparse in compressed rows (row i: values alpha[start[i] .. start[i+1]) in columns
 * idx[...]), B with rows rsb apart and unit column stride. Each element's sum is
 * two FMA chains from +0, one over the row's entries at even positions and one over
 * those at odd positions (in the order listed), added at the end: even + odd
 * (beta == 0 never reads C).
 *
 * A windows kernel (optional) computes the gather kernel's product, the same sums,
 * where B's rows are kh x kw windows of an image read in place (gemm_ukr_vec.inc). */
#ifndef NNFAST_GEMM_UKR_H
#define NNFAST_GEMM_UKR_H

#include "nnfast.h"

typedef void (*nnf_sukr_fn)(nnf_int k, const float *a, const float *b, float *c,
                            nnf_int rsc, nnf_int csc, float alpha, float beta, int m, int n);
typedef void (*nnf_dukr_fn)(nnf_int k, const double *a, const double *b, double *c,
                            nnf_int rsc, nnf_int csc, double alpha, double beta, int m, int n);
typedef void (*nnf_sdirect_fn)(nnf_int k, const float *a, nnf_int rsa, nnf_int csa,
                               const float *b, nnf_int rsb, float *c, nnf_int rsc, nnf_int csc,
                               float alpha, float beta, int m, int n);
enum { NNF_DOT_RESUME = 1, NNF_DOT_SUSPEND = 2 }; /* a dot kernel's `phase` bits */
typedef void (*nnf_sdot_fn)(nnf_int k, const float *a, nnf_int rsa, const float *b, nnf_int csb,
                            float *c, nnf_int rsc, nnf_int csc, float alpha, float beta, int m,
                            nnf_int n, float *part, nnf_int ldp, int phase);
typedef void (*nnf_ddot_fn)(nnf_int k, const double *a, nnf_int rsa, const double *b,
                            nnf_int csb, double *c, nnf_int rsc, nnf_int csc, double alpha,
                            double beta, int m, nnf_int n, double *part, nnf_int ldp,
                            int phase);
typedef void (*nnf_sgather_fn)(nnf_int m, const int *start, const float *alpha, const int *idx,
                               const float *b, nnf_int rsb, float *c, nnf_int ldc, float beta,
                               nnf_int n);
typedef void (*nnf_dgather_fn)(nnf_int m, const int *start, const double *alpha, const int *idx,
                               const double *b, nnf_int rsb, double *c, nnf_int ldc,
                               double beta, nnf_int n);
typedef void (*nnf_swindows_fn)(nnf_int m, const int *start, const float *alpha, const int *idx,
                                const int *origin, const float *b, nnf_int ldb, int kh, int kw,
                                float *c, float beta);
typedef void (*nnf_dwindows_fn)(nnf_int m, const int *start, const double *alpha,
                                const int *idx, const int *origin, const double *b, nnf_int ldb,
                                int kh, int kw, double *c, double beta);
/* Packs lines contiguous along k into a k-major panel (gemm_ukr_vec.inc). */
typedef void (*nnf_spack_fn)(nnf_int k, int lines, const float *src, nnf_int ld, int width,
                             float *dst);
typedef void (*nnf_ddirect_fn)(nnf_int k, const double *a, nnf_int rsa, nnf_int csa,
                               const double *b, nnf_int rsb, double *c, nnf_int rsc, nnf_int csc,
                               double alpha, double beta, int m, int n);

typedef void (*nnf_sbackstep_fn)(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                                 const float *delta, nnf_int ldd, const float *a, float alpha,
                                 float beta, float *w, float *v, float decay, float shrink,
                                 float *below, int add);
typedef void (*nnf_dbackstep_fn)(nnf_int rows, nnf_int n, nnf_int units, nnf_int blocks,
                                 const double *delta, nnf_int ldd, const double *a,
                                 double alpha, double beta, double *w, double *v, double decay,
                                 double shrink, double *below, int add);

/* One ISA's kernels and their block sizes: data, not code. kc is NNF_GEMM_KC in
 * every table: part of the summation order, never per ISA. */
typedef struct {
    nnf_blocking sblock, dblock;
    nnf_sukr_fn sukr;
    nnf_dukr_fn dukr;
    nnf_sdirect_fn sdirect;
    nnf_ddirect_fn ddirect;
    nnf_sdot_fn sdot;
    nnf_ddot_fn ddot;
    nnf_sgather_fn sgather;
    nnf_dgather_fn dgather;
    nnf_swindows_fn swindows; /* NULL: im2row and the gather kernel */
    nnf_dwindows_fn dwindows;
    int windows_rows;                   /* the windows kernels' most kh */
    int swindows_width, dwindows_width; /* and most kw: a vector's values */
    nnf_spack_fn spack_along_k; /* NULL: gemm.inc's scalar loop */
    nnf_sbackstep_fn sbackstep; /* NULL: the products (gemm.inc's P(backward_step)) */
    nnf_dbackstep_fn dbackstep;
    int backstep_rows;          /* the most rows the backward-step kernel takes */
    int dot_mr, dot_nr;
} nnf_gemm_arch;

extern const nnf_gemm_arch nnf_gemm_ref, nnf_gemm_avx2, nnf_gemm_avx512;

/* The AVX2 table's float windows kernel, which the AVX-512 table takes too. */
void nnf_swindows_ymm(nnf_int m, const int *start, const float *alpha, const int *idx,
                      const int *origin, const float *b, nnf_int ldb, int kh, int kw, float *c,
                      float beta);

/* The table of the architecture chosen at import (cpu.c). */
const nnf_gemm_arch *nnf_gemm_current(void);

#endif
