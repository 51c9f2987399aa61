/* Curvature of a network's mean cost: its gradient, and exact products of its Hessian
 * (Pearlmutter's R-operator) or of its Gauss-Newton matrix with a vector (hvp.c).
 *
 * The cost is network2's total_cost over the rows rows_of_x[0..n_rows) of x (row
 * stride ldx; rows_of_x NULL means rows 0..n_rows): the mean of the per-sample costs
 * plus (lmbda / 2n) sum w^2 over the weights, n = n_rows. Dropout layers are evaluated
 * as at inference (w.a scaled by 1 - p_dropout): the function total_cost measures.
 *
 * Parameters and vectors are flat, in the network's order: per layer its weights
 * (row-major, the book's shape), then its biases. With v == NULL only the gradient is
 * computed; gradient or product may be NULL when not wanted. Rows are taken `block` at
 * a time in a workspace of curvature_workspace_size(net, block, n_threads) values.
 * Every sum runs in an order that does not depend on n_threads. */
#ifndef NNFAST_HVP_H
#define NNFAST_HVP_H

#include "nnfast.h"

/* What multiplies v: the Hessian, or the Gauss-Newton matrix J^T H_L J, where J is
 * the Jacobian of the output layer's weighted inputs (of its activations, for the
 * quadratic cost) and H_L the cost's Hessian with respect to them. */
enum { NNF_CURVATURE_HESSIAN = 0, NNF_CURVATURE_GAUSS_NEWTON = 1 };

#define NNF_DECLARE_CURVATURE(P, REAL)                                                     \
    nnf_int P##curvature_workspace_size(const P##net *net, nnf_int block, int n_threads);  \
    void P##curvature(const P##net *net, int matrix, const REAL *x, nnf_int ldx,            \
                      const long long *labels, const long long *rows_of_x, nnf_int n_rows,  \
                      nnf_int block, REAL lmbda, const REAL *v, REAL *gradient,             \
                      REAL *product, REAL *work, int n_threads);

NNF_DECLARE_CURVATURE(nnf_s, float)
NNF_DECLARE_CURVATURE(nnf_d, double)

#endif
