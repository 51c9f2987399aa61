# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the C core (csrc/): the kernels, and the engine (_engine.pxi).
Arguments are validated here, once; the C code trusts them. Every kernel runs with
the GIL released. The C core is linked into this one extension module only, so its
state (the dispatched ISA) is shared by everything that runs it."""

import numbers

import numpy as np

cimport numpy as cnp

from nnfast._core cimport *

cnp.import_array()

ctypedef void (*s_unary)(nnf_int, nnf_int, const float *, nnf_int, nnf_int,
                         float *, nnf_int, nnf_int, int) noexcept nogil
ctypedef void (*d_unary)(nnf_int, nnf_int, const double *, nnf_int, nnf_int,
                         double *, nnf_int, nnf_int, int) noexcept nogil

# The most threads nnfast runs a kernel on. Far more than any CPU it targets has (more
# threads than cores only take turns), far fewer than make libgomp overflow a stack:
# it lays out each new team's start data on the calling thread's stack, and 65,536
# threads crash the process. A constant, not a multiple of this machine's CPUs, so
# that a thread count valid on one machine is valid on every one.
cdef int _MAX_THREADS = 1024
MAX_THREADS = _MAX_THREADS

# OMP_NUM_THREADS, else the cores, clamped: an environment asking for 70,000 threads
# gets MAX_THREADS, and this thread's OpenMP default with it.
cdef int _threads = nnf_default_threads()
if _threads > _MAX_THREADS:
    _threads = _MAX_THREADS
    nnf_set_default_threads(_threads)


# ---- threads and CPU dispatch ----

def set_num_threads(n):
    """Set the number of threads every kernel uses by default (1 <= n <= MAX_THREADS)."""
    global _threads
    if n is None:
        raise TypeError("set_num_threads: n must be a positive int, got NoneType")
    _threads = _thread_count(n, "set_num_threads", "n")
    nnf_set_default_threads(_threads)


def get_num_threads():
    """The default thread count: OMP_NUM_THREADS, else the cores, unless set."""
    return _threads


def check_threads(n, name="n_threads"):
    """n as a thread count: an int in [1, MAX_THREADS], or None for the default
    (get_num_threads()). Anything else is a TypeError or ValueError naming `name`."""
    return _thread_count(n, "", name)


cdef int _thread_count(object n, str func, str name="n_threads") except -1:
    """The one check of every thread count nnfast is given (func: the caller's name,
    prefixed to the error, or empty)."""
    if n is None:
        return _threads
    if type(n) is int and 1 <= n <= _MAX_THREADS:
        return n
    where = f"{func}: " if func else ""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{where}{name} must be a positive int, got {type(n).__name__}")
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"{where}{name} must be in [1, {_MAX_THREADS}], got {n}")
    return int(n)


ARCHS = tuple(nnf_arch_name(i).decode() for i in range(NNF_ARCH_COUNT))


def set_arch(name):
    """Choose the GEMM micro-kernel: 'ref', 'avx2' or 'avx512' (what NNFAST_ARCH sets)."""
    if name not in ARCHS:
        raise ValueError(f"set_arch: name must be one of {ARCHS}, got {name!r}")
    if nnf_arch_set(ARCHS.index(name)) != 0:
        raise RuntimeError(f"set_arch: this CPU cannot run the {name!r} kernels "
                           f"(best available: {ARCHS[nnf_arch_best()]!r})")


def get_arch():
    return ARCHS[nnf_arch_get()]


def supported_archs():
    """The micro-kernels this CPU can run, from the portable one to the best."""
    return ARCHS[:nnf_arch_best() + 1] if nnf_arch_best() >= NNF_ARCH_AVX2 else ("ref",)


def blocking(dtype):
    """The cache blocking {mr, nr, mc, kc, nc} of the current micro-kernel."""
    cdef nnf_blocking bs = nnf_blocking_d() if np.dtype(dtype) == np.float64 else nnf_blocking_s()
    return {"mr": bs.mr, "nr": bs.nr, "mc": bs.mc, "kc": bs.kc, "nc": bs.nc}


def openmp_enabled():
    return bool(nnf_openmp_enabled())


# ---- argument checks ----

cdef cnp.ndarray _matrix(object x, str name, str func, int ndim=2):
    """x as an aligned, native-endian float32/float64 array of ndim dimensions
    (copied only when it is misaligned or byte-swapped)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray of float32 or float64, "
                        f"got {type(x).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>x
    cdef int t = cnp.PyArray_TYPE(arr)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{func}: {name} must have dtype float32 or float64, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must be a {ndim}-D array, got shape {(<object>arr).shape}")
    if not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr):
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
    return arr


cdef cnp.ndarray _out(object out, str func, tuple shape, cnp.ndarray like):
    """out, checked to be a writeable array of the given shape and like's dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a numpy.ndarray, got {type(out).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>out
    if cnp.PyArray_TYPE(arr) != cnp.PyArray_TYPE(like):
        raise TypeError(f"{func}: out must have dtype {like.dtype}, got {arr.dtype}")
    cdef int d
    cdef bint same = cnp.PyArray_NDIM(arr) == len(shape)
    for d in range(len(shape) if same else 0):
        same = same and cnp.PyArray_DIM(arr, d) == shape[d]
    if not same:
        raise ValueError(f"{func}: out must have shape {shape}, got {(<object>arr).shape}")
    if not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{func}: out is read-only")
    if not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr):
        raise ValueError(f"{func}: out must be aligned and in native byte order")
    return arr


cdef bint _overlaps(cnp.ndarray a, cnp.ndarray b):
    """Whether the memory spans of a and b intersect (np.may_share_memory's
    bounds test, without its call overhead)."""
    cdef char *lo_a, *hi_a, *lo_b, *hi_b
    _span(a, &lo_a, &hi_a)
    _span(b, &lo_b, &hi_b)
    return lo_a < hi_b and lo_b < hi_a


cdef void _span(cnp.ndarray x, char **lo, char **hi) noexcept:
    cdef char *start = <char *>cnp.PyArray_DATA(x)
    cdef char *end = start
    cdef int d
    cdef cnp.npy_intp extent
    lo[0] = start
    if cnp.PyArray_SIZE(x) == 0:
        hi[0] = start
        return
    for d in range(cnp.PyArray_NDIM(x)):
        extent = (cnp.PyArray_DIM(x, d) - 1) * cnp.PyArray_STRIDE(x, d)
        if extent < 0:
            start += extent
        else:
            end += extent
    lo[0] = start
    hi[0] = end + cnp.PyArray_ITEMSIZE(x)


cdef cnp.ndarray _detach(cnp.ndarray x, cnp.ndarray out):
    """x, or a copy of it when writing out would change x under the kernel's feet.
    Exactly the same view (in place) is safe for the elementwise kernels."""
    if x is out or not _overlaps(x, out):
        return x
    if (cnp.PyArray_DATA(x) == cnp.PyArray_DATA(out) and x.ndim == out.ndim
            and (<object>x).shape == (<object>out).shape and (<object>x).strides == (<object>out).strides):
        return x
    return x.copy()


cdef void _same_dtype(str func, cnp.ndarray a, str a_name, cnp.ndarray b, str b_name) except *:
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(b):
        raise TypeError(f"{func}: {a_name} and {b_name} must have the same dtype, "
                        f"got {a.dtype} and {b.dtype}")


cdef inline nnf_int _stride(cnp.ndarray x, int axis) noexcept:
    return cnp.PyArray_STRIDE(x, axis) // cnp.PyArray_ITEMSIZE(x)


cdef double _real(object v, str func, str name) except? -1:
    if type(v) is float:  # the common case, without an ABC check
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{func}: {name} must be a real number, got {type(v).__name__}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{func}: {name} is too large for a float, got {v}") from None


cdef void _flag(object v, str func, str name) except *:
    """Only a bool: "no" or 0.0 would otherwise choose a branch by its truth."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be a bool, got {type(v).__name__}")


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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sgemm(m, n, k, <float>al, <float *>cnp.PyArray_DATA(A), rsa, csa,
                      <float *>cnp.PyArray_DATA(B), rsb, csb, <float>be,
                      <float *>cnp.PyArray_DATA(C), rsc, csc, nt)
    else:
        with nogil:
            nnf_dgemm(m, n, k, al, <double *>cnp.PyArray_DATA(A), rsa, csa,
                      <double *>cnp.PyArray_DATA(B), rsb, csb, be,
                      <double *>cnp.PyArray_DATA(C), rsc, csc, nt)
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
    cdef cnp.ndarray V = _matrix(values, "values", "sparse_matmul", 1)
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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            nnf_ssparse_gemm(m, <int *>cnp.PyArray_DATA(P), <float *>cnp.PyArray_DATA(V),
                             <int *>cnp.PyArray_DATA(I), <float *>cnp.PyArray_DATA(B), rsb,
                             <float>be, <float *>cnp.PyArray_DATA(C), ldc, n)
    else:
        with nogil:
            nnf_dsparse_gemm(m, <int *>cnp.PyArray_DATA(P), <double *>cnp.PyArray_DATA(V),
                             <int *>cnp.PyArray_DATA(I), <double *>cnp.PyArray_DATA(B), rsb,
                             be, <double *>cnp.PyArray_DATA(C), ldc, n)
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
                        s_unary sfn, d_unary dfn):
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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            sfn(m, n, <float *>cnp.PyArray_DATA(X), rsx, csx, <float *>cnp.PyArray_DATA(O), rso, cso,
                nt)
    else:
        with nogil:
            dfn(m, n, <double *>cnp.PyArray_DATA(X), rsx, csx, <double *>cnp.PyArray_DATA(O), rso, cso,
                nt)
    return O


def sigmoid(z, out=None, n_threads=None):
    """sigma(z) = 1 / (1 + exp(-z)), elementwise; finite for any finite z."""
    return _unary("sigmoid", "z", z, out, n_threads, nnf_ssigmoid, nnf_dsigmoid)


def sigmoid_prime(z, out=None, n_threads=None):
    """sigma'(z) = sigma(z) * (1 - sigma(z)), from the weighted input z."""
    return _unary("sigmoid_prime", "z", z, out, n_threads, nnf_ssigmoid_prime, nnf_dsigmoid_prime)


def sigmoid_prime_from_output(a, out=None, n_threads=None):
    """sigma'(z) from the activation a = sigma(z): a * (1 - a)."""
    return _unary("sigmoid_prime_from_output", "a", a, out, n_threads,
                  nnf_ssigmoid_prime_from_output, nnf_dsigmoid_prime_from_output)


def tanh(z, out=None, n_threads=None):
    return _unary("tanh", "z", z, out, n_threads, nnf_stanh, nnf_dtanh)


def tanh_prime_from_output(a, out=None, n_threads=None):
    """tanh'(z) from a = tanh(z): 1 - a**2."""
    return _unary("tanh_prime_from_output", "a", a, out, n_threads,
                  nnf_stanh_prime_from_output, nnf_dtanh_prime_from_output)


def relu(z, out=None, n_threads=None):
    """max(z, 0), elementwise."""
    return _unary("relu", "z", z, out, n_threads, nnf_srelu, nnf_drelu)


def relu_prime(z, out=None, n_threads=None):
    """1 where z > 0, else 0 (the same from z or from relu(z))."""
    return _unary("relu_prime", "z", z, out, n_threads, nnf_srelu_prime, nnf_drelu_prime)


def softmax(z, out=None, n_threads=None):
    """Row-wise softmax, exp(z - max) / sum(exp(z - max)); z needs at least one column."""
    if isinstance(z, np.ndarray) and z.ndim == 2 and z.shape[1] == 0 and z.shape[0] > 0:
        raise ValueError("softmax: z must have at least one column, got shape "
                         f"{z.shape}")
    return _unary("softmax", "z", z, out, n_threads, nnf_ssoftmax, nnf_dsoftmax)


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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            nnf_shadamard(m, n, <float *>cnp.PyArray_DATA(A), rsa, csa,
                          <float *>cnp.PyArray_DATA(B), rsb, csb, <float *>cnp.PyArray_DATA(O), rso, cso,
                          nt)
    else:
        with nogil:
            nnf_dhadamard(m, n, <double *>cnp.PyArray_DATA(A), rsa, csa,
                          <double *>cnp.PyArray_DATA(B), rsb, csb, <double *>cnp.PyArray_DATA(O), rso, cso,
                          nt)
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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sadd_bias(m, n, <float *>cnp.PyArray_DATA(X), rsx, csx, <float *>cnp.PyArray_DATA(V), sb,
                          <float *>cnp.PyArray_DATA(O), rso, cso, nt)
    else:
        with nogil:
            nnf_dadd_bias(m, n, <double *>cnp.PyArray_DATA(X), rsx, csx, <double *>cnp.PyArray_DATA(V), sb,
                          <double *>cnp.PyArray_DATA(O), rso, cso, nt)
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
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            nnf_scolumn_sums(m, n, <float *>cnp.PyArray_DATA(X), rsx, csx, <float *>cnp.PyArray_DATA(O), so)
    else:
        with nogil:
            nnf_dcolumn_sums(m, n, <double *>cnp.PyArray_DATA(X), rsx, csx, <double *>cnp.PyArray_DATA(O), so)
    return O


def all_finite(x):
    """Whether every value of x, a C-contiguous float32 or float64 array of any shape,
    is finite (no inf, no NaN); True for an empty array."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"all_finite: x must be a numpy.ndarray of float32 or float64, "
                        f"got {type(x).__name__}")
    cdef cnp.ndarray X = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(X)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"all_finite: x must have dtype float32 or float64, got {X.dtype}")
    if (not cnp.PyArray_IS_C_CONTIGUOUS(X) or not cnp.PyArray_ISALIGNED(X)
            or not cnp.PyArray_ISNOTSWAPPED(X)):
        raise ValueError("all_finite: x must be C-contiguous, aligned and in native byte order")
    cdef nnf_int n = cnp.PyArray_SIZE(X)
    cdef int finite
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            finite = nnf_sall_finite(n, <float *>cnp.PyArray_DATA(X))
    else:
        with nogil:
            finite = nnf_dall_finite(n, <double *>cnp.PyArray_DATA(X))
    return bool(finite)


include "_engine.pxi"
include "_conv.pxi"


# ---- the machine's peak (csrc/peak.c) ----

_peaks = {}


def peak_gflops(dtype="float32", isa=None):
    """The peak GFLOP/s of one core in `dtype`: a loop of nothing but fused
    multiply-adds in the widest vectors of `isa` (default: the best this CPU runs,
    whichever kernels are in use), measured the first time it is asked for (a few
    ms) and remembered for the process. Efficiency = achieved GFLOP/s / (this x threads)."""
    cdef int is_double, arch
    cdef double gflops
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"peak_gflops: dtype must be float32 or float64, got {dtype!r}")
    is_double = name == "float64"
    if isa is None:
        arch = nnf_arch_best()
    elif isa not in ARCHS:
        raise ValueError(f"peak_gflops: isa must be one of {ARCHS}, got {isa!r}")
    elif ARCHS.index(isa) > nnf_arch_best():
        raise RuntimeError(f"peak_gflops: this CPU cannot run {isa!r} "
                           f"(best available: {ARCHS[nnf_arch_best()]!r})")
    else:
        arch = ARCHS.index(isa)
    key = (ARCHS[arch], "float64" if is_double else "float32")
    if key not in _peaks:
        with nogil:
            gflops = nnf_peak_gflops(arch, is_double)
        _peaks[key] = gflops
    return _peaks[key]

include "_curvature.pxi"
