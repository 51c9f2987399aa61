# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the GEMM and elementwise kernels of the C core (csrc/), and the one
module the package imports them all from: it re-exports the settings (_runtime), the
convolution kernels (_conv), the engine (_engine), the curvature products
(_curvature) and the planner (_plan). Arguments are validated here, once; the C code
trusts them. Every kernel runs with the GIL released."""

import numpy as np

cimport numpy as cnp

from nnfast._arrays cimport *
from nnfast._core cimport *
from nnfast cimport _dtype as nnf
from nnfast._runtime cimport _thread_count

from nnfast._runtime import (ARCHS, MAX_THREADS, blocking, check_threads, get_arch,
                             get_num_threads, openmp_enabled, peak_gflops, set_arch,
                             set_num_threads, supported_archs)
from nnfast._conv import (col2im, conv2d, conv2d_backward, dropout, im2col, l2pool2d,
                          l2pool2d_backward, maxpool2d, maxpool2d_backward)
from nnfast._engine import (ACTIVATIONS, COSTS, LAYER_KINDS, MAX_LAYERS, REGULARIZATIONS,
                            SEED_STEP, Engine)
from nnfast._curvature import CURVATURE_MATRICES, curvature
from nnfast._plan import (CONV_PATHS, CONV_PRODUCTS, CONV_SHAPE_KEYS, PLAN_HOW,
                          PLAN_LAYOUT_BITS, PLAN_MODES, PLAN_PATHS, PLAN_WORK_KINDS, conv_plans,
                          dot_products_in_blocks, forget_plans, gemm_plans,
                          gemm_same_bits, parallel_plan, plan_mode, plan_recheck_seconds,
                          plan_timed_runs, put_conv_plan, put_gemm_plan, put_parallel_plan,
                          refine_parallel_plan)

cnp.import_array()


# ---- GEMM ----

def matmul(a, b, out=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
           n_threads=None):
    """C = alpha * op(a) @ op(b) + beta * out, op(x) = x.T when trans_x.

    a and b are 2-D float32 or float64 arrays of one dtype, with any strides.
    Without out, a new C-ordered array is returned (beta must then be 0); with out,
    the result accumulates beta * out into it and out is returned. The sum for each
    element runs in the same order for any n_threads, so results are bit-identical
    across thread counts."""
    cdef cnp.ndarray A = _matrix(a, "a", "matmul")
    cdef cnp.ndarray B = _matrix(b, "b", "matmul")
    _same_dtype("matmul", A, "a", B, "b")
    cdef double al = _real(alpha, "matmul", "alpha")
    cdef double be = _real(beta, "matmul", "beta")
    cdef int nt = _thread_count(n_threads, "matmul")
    _flag(trans_a, "matmul", "trans_a")
    _flag(trans_b, "matmul", "trans_b")
    cdef nnf_int rsa = _stride(A, 0), csa = _stride(A, 1)
    cdef nnf_int rsb = _stride(B, 0), csb = _stride(B, 1)
    cdef nnf_int m = A.shape[0], k = A.shape[1], kb = B.shape[0], n = B.shape[1]
    if trans_a:
        m, k, rsa, csa = k, m, csa, rsa
    if trans_b:
        kb, n, rsb, csb = n, kb, csb, rsb
    if k != kb:
        raise ValueError(f"matmul: inner dimensions differ: op(a) is {m}x{k} but op(b) is {kb}x{n}")
    cdef int typenum = cnp.PyArray_TYPE(A)
    cdef cnp.ndarray C
    if out is None:
        if be != 0:
            raise ValueError("matmul: beta != 0 needs out, the array to accumulate into")
        C = cnp.PyArray_EMPTY(2, [m, n], typenum, 0)
    else:
        C = _out(out, "matmul", (m, n), A)
        if _overlaps(A, C):
            A, rsa, csa = _copy_strided(A, trans_a)
        if _overlaps(B, C):
            B, rsb, csb = _copy_strided(B, trans_b)
    cdef nnf_int rsc = _stride(C, 0), csc = _stride(C, 1)
    cdef bint f64 = nnf.is_double(A)
    with nogil:
        nnf.gemm(f64, m, n, k, al, _data(A), rsa, csa, _data(B), rsb, csb, be,
                 _data(C), rsc, csc, nt)
    return C


def sparse_matmul(indptr, indices, values, b, out=None, *, beta=0.0):
    """C = A @ b + beta * out for A in compressed rows (SciPy's CSR layout): row i of
    A has values[indptr[i]:indptr[i+1]] in the columns indices[indptr[i]:indptr[i+1]].

    The conv backward's sparse products (the gather kernel). indptr and indices are
    1-D integer arrays, values 1-D and b 2-D of one float dtype. Each element sums its
    row's entries in two chains, those at even and those at odd positions in the
    order listed, so results are the same bits on every ISA. Without out, a new
    C-ordered array is returned (beta must then be 0); out must have unit column
    stride. Runs on the calling thread."""
    # The kernel reads values as one contiguous run: a strided or reversed view is copied.
    cdef cnp.ndarray V = _array(values, "values", "sparse_matmul", 1)
    cdef cnp.ndarray B = _matrix(b, "b", "sparse_matmul")
    _same_dtype("sparse_matmul", V, "values", B, "b")
    cdef double be = _real(beta, "sparse_matmul", "beta")
    cdef cnp.ndarray P = _index_array(indptr, "indptr")
    cdef cnp.ndarray I = _index_array(indices, "indices")
    if P.shape[0] < 1:
        raise ValueError("sparse_matmul: indptr must have at least one entry (rows + 1)")
    cdef nnf_int m = P.shape[0] - 1, n = B.shape[1], nnz = V.shape[0]
    cdef object Pobj = <object>P, Iobj = <object>I
    if Pobj[0] != 0 or Pobj[m] != nnz or (m > 0 and bool((np.diff(Pobj) < 0).any())):
        raise ValueError(f"sparse_matmul: indptr must rise from 0 to len(values) = {nnz}, "
                         f"got {Pobj[0]} to {Pobj[m]}" + (", not in order" if Pobj[0] == 0
                         and Pobj[m] == nnz else ""))
    if I.shape[0] != nnz:
        raise ValueError(f"sparse_matmul: indices and values must have the same length, "
                         f"got {I.shape[0]} and {nnz}")
    if nnz > 0 and (int(Iobj.min()) < 0 or int(Iobj.max()) >= B.shape[0]):
        raise ValueError(f"sparse_matmul: indices must be rows of b, in [0, {B.shape[0]}), "
                         f"got {int(Iobj.min())} to {int(Iobj.max())}")
    cdef int typenum = cnp.PyArray_TYPE(B)
    cdef cnp.ndarray C
    if out is None:
        if be != 0:
            raise ValueError("sparse_matmul: beta != 0 needs out, the array to accumulate into")
        C = cnp.PyArray_EMPTY(2, [m, n], typenum, 0)
    else:
        C = _out(out, "sparse_matmul", (m, n), B)
        if n > 1 and _stride(C, 1) != 1:
            raise ValueError("sparse_matmul: out must have unit column stride")
        if _overlaps(V, C):
            V = V.copy()
        if _overlaps(B, C):
            B = B.copy()
    if n > 1 and _stride(B, 1) != 1:
        B = np.ascontiguousarray(B)
    cdef nnf_int rsb = _stride(B, 0) if B.shape[0] > 1 else n, ldc = _stride(C, 0) if m > 1 else n
    with nogil:
        nnf.sparse_gemm(typenum == cnp.NPY_FLOAT64, m, <int *>cnp.PyArray_DATA(P),
                        cnp.PyArray_DATA(V), <int *>cnp.PyArray_DATA(I), cnp.PyArray_DATA(B), rsb,
                        be, cnp.PyArray_DATA(C), ldc, n)
    return C


cdef cnp.ndarray _index_array(object x, str name):
    """x as a contiguous 1-D array of C ints, its values checked to fit."""
    if not isinstance(x, np.ndarray) or not np.issubdtype((<cnp.ndarray>x).dtype, np.integer):
        raise TypeError(f"sparse_matmul: {name} must be a numpy.ndarray of integers, "
                        f"got {type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype}")
    if (<cnp.ndarray>x).ndim != 1:
        raise ValueError(f"sparse_matmul: {name} must be a 1-D array, got shape {x.shape}")
    if x.size and (int(x.min()) < np.iinfo(np.intc).min or int(x.max()) > np.iinfo(np.intc).max):
        raise ValueError(f"sparse_matmul: {name} must fit a C int, got {int(x.min())} to {int(x.max())}")
    return np.ascontiguousarray(x, dtype=np.intc)


cdef tuple _copy_strided(cnp.ndarray x, bint trans):
    cdef cnp.ndarray c = x.copy()
    if trans:
        return c, _stride(c, 1), _stride(c, 0)
    return c, _stride(c, 0), _stride(c, 1)


# ---- elementwise ----

cdef cnp.ndarray _unary(str func, str name, object x, object out, object n_threads,
                        nnf.unary_kernel fn):
    cdef cnp.ndarray X = _matrix(x, name, func)
    cdef int nt = _thread_count(n_threads, func)
    cdef int typenum = cnp.PyArray_TYPE(X)
    cdef cnp.ndarray O
    if out is None:
        O = cnp.PyArray_EMPTY(2, [X.shape[0], X.shape[1]], typenum, 0)
    else:
        O = _out(out, func, (<object>X).shape, X)
        X = _detach(X, O)
    cdef nnf_int m = X.shape[0], n = X.shape[1]
    cdef nnf_int rsx = _stride(X, 0), csx = _stride(X, 1), rso = _stride(O, 0), cso = _stride(O, 1)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.unary(fn, f64, m, n, _data(X), rsx, csx, _data(O), rso, cso, nt)
    return O


def sigmoid(z, out=None, n_threads=None):
    """sigma(z) = 1 / (1 + exp(-z)), elementwise; finite for any finite z."""
    return _unary("sigmoid", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_ssigmoid, nnf_dsigmoid))


def sigmoid_prime(z, out=None, n_threads=None):
    """sigma'(z) = sigma(z) * (1 - sigma(z)), from the weighted input z."""
    return _unary("sigmoid_prime", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_ssigmoid_prime, nnf_dsigmoid_prime))


def sigmoid_prime_from_output(a, out=None, n_threads=None):
    """sigma'(z) from the activation a = sigma(z): a * (1 - a)."""
    return _unary("sigmoid_prime_from_output", "a", a, out, n_threads,
                  nnf.unary_kernel(nnf_ssigmoid_prime_from_output, nnf_dsigmoid_prime_from_output))


def tanh(z, out=None, n_threads=None):
    return _unary("tanh", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_stanh, nnf_dtanh))


def tanh_prime_from_output(a, out=None, n_threads=None):
    """tanh'(z) from a = tanh(z): 1 - a**2."""
    return _unary("tanh_prime_from_output", "a", a, out, n_threads,
                  nnf.unary_kernel(nnf_stanh_prime_from_output, nnf_dtanh_prime_from_output))


def relu(z, out=None, n_threads=None):
    """max(z, 0), elementwise."""
    return _unary("relu", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_srelu, nnf_drelu))


def relu_prime(z, out=None, n_threads=None):
    """1 where z > 0, else 0 (the same from z or from relu(z))."""
    return _unary("relu_prime", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_srelu_prime, nnf_drelu_prime))


def softmax(z, out=None, n_threads=None):
    """Row-wise softmax, exp(z - max) / sum(exp(z - max)); z needs at least one column."""
    if isinstance(z, np.ndarray) and z.ndim == 2 and z.shape[1] == 0 and z.shape[0] > 0:
        raise ValueError("softmax: z must have at least one column, got shape "
                         f"{z.shape}")
    return _unary("softmax", "z", z, out, n_threads,
                  nnf.unary_kernel(nnf_ssoftmax, nnf_dsoftmax))


def hadamard(a, b, out=None, n_threads=None):
    """The elementwise product a * b of two matrices of one shape and dtype."""
    cdef cnp.ndarray A = _matrix(a, "a", "hadamard")
    cdef cnp.ndarray B = _matrix(b, "b", "hadamard")
    _same_dtype("hadamard", A, "a", B, "b")
    cdef int nt = _thread_count(n_threads, "hadamard")
    if (<object>A).shape != (<object>B).shape:
        raise ValueError(f"hadamard: a and b must have the same shape, got {(<object>A).shape} and {(<object>B).shape}")
    cdef int typenum = cnp.PyArray_TYPE(A)
    cdef cnp.ndarray O
    if out is None:
        O = cnp.PyArray_EMPTY(2, [A.shape[0], A.shape[1]], typenum, 0)
    else:
        O = _out(out, "hadamard", (<object>A).shape, A)
        A = _detach(A, O)
        B = _detach(B, O)
    cdef nnf_int m = A.shape[0], n = A.shape[1]
    cdef nnf_int rsa = _stride(A, 0), csa = _stride(A, 1), rsb = _stride(B, 0), csb = _stride(B, 1)
    cdef nnf_int rso = _stride(O, 0), cso = _stride(O, 1)
    cdef bint f64 = nnf.is_double(A)
    with nogil:
        nnf.hadamard(f64, m, n, _data(A), rsa, csa, _data(B), rsb, csb, _data(O),
                     rso, cso, nt)
    return O


def add_bias(x, bias, out=None, n_threads=None):
    """x + bias with the 1-D bias added to every row (z = w.a + b, over a batch)."""
    cdef cnp.ndarray X = _matrix(x, "x", "add_bias")
    cdef cnp.ndarray V = _matrix(bias, "bias", "add_bias", 1)
    _same_dtype("add_bias", X, "x", V, "bias")
    cdef int nt = _thread_count(n_threads, "add_bias")
    if V.shape[0] != X.shape[1]:
        raise ValueError(f"add_bias: bias must have one entry per column of x ({X.shape[1]}), "
                         f"got shape {(<object>V).shape}")
    cdef int typenum = cnp.PyArray_TYPE(X)
    cdef cnp.ndarray O
    if out is None:
        O = cnp.PyArray_EMPTY(2, [X.shape[0], X.shape[1]], typenum, 0)
    else:
        O = _out(out, "add_bias", (<object>X).shape, X)
        X = _detach(X, O)
        if _overlaps(V, O):
            V = V.copy()
    cdef nnf_int m = X.shape[0], n = X.shape[1], sb = _stride(V, 0)
    cdef nnf_int rsx = _stride(X, 0), csx = _stride(X, 1), rso = _stride(O, 0), cso = _stride(O, 1)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.add_bias(f64, m, n, _data(X), rsx, csx, _data(V), sb, _data(O), rso,
                     cso, nt)
    return O


def column_sums(x, out=None):
    """The sum of the rows of x, a 1-D array with one entry per column (BP3 over a batch)."""
    cdef cnp.ndarray X = _matrix(x, "x", "column_sums")
    cdef int typenum = cnp.PyArray_TYPE(X)
    cdef cnp.ndarray O
    if out is None:
        O = cnp.PyArray_EMPTY(1, [X.shape[1]], typenum, 0)
    else:
        O = _out(out, "column_sums", (X.shape[1],), X)
        if _overlaps(X, O):
            X = X.copy()
    cdef nnf_int m = X.shape[0], n = X.shape[1], so = _stride(O, 0)
    cdef nnf_int rsx = _stride(X, 0), csx = _stride(X, 1)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.column_sums(f64, m, n, _data(X), rsx, csx, _data(O), so)
    return O


def all_finite(x, n_threads=None):
    """Whether every value of x, a C-contiguous float32 or float64 array of any shape,
    is finite (no inf, no NaN); True for an empty array."""
    cdef cnp.ndarray X = _floats(x, "x", "all_finite")
    cdef int nt = _thread_count(n_threads, "all_finite")
    cdef int typenum = cnp.PyArray_TYPE(X)
    if (not cnp.PyArray_IS_C_CONTIGUOUS(X) or not cnp.PyArray_ISALIGNED(X)
            or not cnp.PyArray_ISNOTSWAPPED(X)):
        raise ValueError("all_finite: x must be C-contiguous, aligned and in native byte order")
    cdef nnf_int n = cnp.PyArray_SIZE(X)
    cdef int finite
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        finite = nnf.all_finite(f64, n, _data(X), nt)
    return bool(finite)


def byte_codes(x, n_threads=None):
    """(codes, scale) when every value of x, a C-contiguous float32 or float64 array,
    is a byte k over scale 255 or 256 (MNIST's pixels as nnfast's loaders or the book's
    pickle give them), bit for bit as the engine turns k back into a value; codes is a
    uint8 array of x's shape. None otherwise, or for an empty x."""
    cdef cnp.ndarray X = _floats(x, "x", "byte_codes")
    cdef int nt = _thread_count(n_threads, "byte_codes")
    if (not cnp.PyArray_IS_C_CONTIGUOUS(X) or not cnp.PyArray_ISALIGNED(X)
            or not cnp.PyArray_ISNOTSWAPPED(X)):
        raise ValueError("byte_codes: x must be C-contiguous, aligned and in native byte order")
    cdef nnf_int n = cnp.PyArray_SIZE(X)
    if n == 0:
        return None
    cdef cnp.ndarray codes = np.empty((<object>X).shape, np.uint8)
    cdef bint f64 = nnf.is_double(X)
    cdef int found
    cdef double scale
    for scale in (255.0, 256.0):
        with nogil:
            found = nnf.byte_codes(f64, n, _data(X), scale, <unsigned char *>cnp.PyArray_DATA(codes), nt)
        if found:
            return codes, scale
    return None
