# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the gradient and curvature-vector products (csrc/hvp.inc), over the
network an Engine holds. nnfast.curvature validates every argument; this module checks
only what keeps the C code in bounds."""

import numpy as np

cimport numpy as cnp

from nnfast._core cimport *
from nnfast cimport _dtype as nnf
from nnfast._engine cimport Engine

cnp.import_array()

CURVATURE_MATRICES = {"hessian": NNF_CURVATURE_HESSIAN,
                      "gauss-newton": NNF_CURVATURE_GAUSS_NEWTON}


cdef nnf_int _parameter_count(Engine engine):
    """The weights and biases of every layer (both structs hold the same shapes)."""
    cdef nnf_int count = 0
    cdef int i
    for i in range(engine.dnet.n_layers):
        ly = engine.dnet.layer[i]
        if ly.kind == NNF_LAYER_DENSE:
            count += ly.n_out * ly.n_in + ly.n_out
        else:
            count += ly.f * ly.c * ly.kh * ly.kw + ly.f
    return count


def curvature(Engine engine, str matrix, cnp.ndarray x, cnp.ndarray labels, cnp.ndarray rows,
              cnp.ndarray v, double lmbda, bint want_gradient, nnf_int block, int n_threads):
    """(gradient, product) of the mean cost over the rows `rows` (int64 indices) of x:
    flat vectors in the network's parameter order, gradient None unless wanted,
    product None unless v (flat, the same length) is given."""
    cdef int kind = CURVATURE_MATRICES[matrix]
    cdef nnf_int count = _parameter_count(engine)
    if block < 1:
        raise ValueError("curvature: block must be >= 1")
    if engine.snet.cost == NNF_COST_CALLER:
        raise ValueError("curvature: the Hessian technique needs a built-in cost (its "
                         "second derivatives are written in C); a cost of one's own "
                         "trains with SGD")
    if (x.dtype != engine.dtype or x.ndim != 2 or x.shape[1] != engine.sizes[0]
            or x.strides[1] != x.itemsize or x.strides[0] % x.itemsize != 0
            or not cnp.PyArray_ISALIGNED(x)):
        raise ValueError(f"curvature: x must be an aligned {engine.dtype} array with "
                         f"{engine.sizes[0]} unit-stride columns")
    if (labels.dtype != np.int64 or labels.ndim != 1 or labels.shape[0] != x.shape[0]
            or not labels.flags.c_contiguous):
        raise ValueError("curvature: labels must be contiguous int64, one per row of x")
    if rows.dtype != np.int64 or rows.ndim != 1 or not rows.flags.c_contiguous:
        raise ValueError("curvature: rows must be contiguous int64")
    if rows.shape[0] and (rows.min() < 0 or rows.max() >= x.shape[0]):
        raise ValueError("curvature: rows must index x")
    if v is not None and (v.dtype != engine.dtype or v.ndim != 1 or v.shape[0] != count
                          or not v.flags.c_contiguous):
        raise ValueError(f"curvature: v must be a contiguous {engine.dtype} vector of {count}")
    cdef cnp.ndarray work = np.empty(
        nnf.curvature_workspace_size(engine.f64, &engine.snet, &engine.dnet, block, n_threads),
        engine.dtype)
    gradient = np.empty(count, engine.dtype) if want_gradient else None
    product = np.empty(count, engine.dtype) if v is not None else None
    cdef nnf_int ldx = x.strides[0] // x.itemsize, n_rows = rows.shape[0]
    cdef void *g = NULL if gradient is None else cnp.PyArray_DATA(gradient)
    cdef void *p = NULL if product is None else cnp.PyArray_DATA(product)
    cdef void *vp = NULL if v is None else cnp.PyArray_DATA(v)
    cdef long long *lp = <long long *>cnp.PyArray_DATA(labels)
    cdef long long *rp = <long long *>cnp.PyArray_DATA(rows)
    with nogil:
        nnf.curvature(engine.f64, &engine.snet, &engine.dnet, kind, cnp.PyArray_DATA(x), ldx, lp,
                      rp, n_rows, block, lmbda, vp, g, p, cnp.PyArray_DATA(work), n_threads)
    return gradient, product
