# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The argument checks of the kernel bindings (_kernels, _conv): arrays as the C code
may trust them, or a TypeError/ValueError that names the argument and the function."""

import numbers

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef cnp.ndarray _floats(object x, str name, str func):
    """x itself, once checked to be a float32 or float64 ndarray."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray of float32 or float64, "
                        f"got {type(x).__name__}")
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{func}: {name} must have dtype float32 or float64, got {x.dtype}")
    return <cnp.ndarray>x


cdef cnp.ndarray _matrix(object x, str name, str func, int ndim=2):
    """x as an aligned, native-endian float32/float64 array of ndim dimensions
    (copied only when it is misaligned or byte-swapped)."""
    cdef cnp.ndarray arr = _floats(x, name, func)
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


cdef bint _overlaps(cnp.ndarray a, cnp.ndarray b) noexcept:
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


cdef cnp.ndarray _array(object x, str name, str func, int ndim):
    """x as a C-contiguous, aligned, native-endian float32/float64 array of ndim
    dimensions (ndim < 0: any), copied only when it is not one already."""
    cdef cnp.ndarray arr = _floats(x, name, func)
    if ndim >= 0 and arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must be a {ndim}-D array, got shape {(<object>arr).shape}")
    return _contiguous(arr)


cdef cnp.ndarray _contiguous(cnp.ndarray arr):
    if (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)
            and cnp.PyArray_ISNOTSWAPPED(arr)):
        return arr
    return np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")


cdef nnf_int _size(object v, str func, str name, nnf_int low) except -1:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an int, got {type(v).__name__}")
    if v < low:
        raise ValueError(f"{func}: {name} must be at least {low}, got {v}")
    if v > _MAX_PLANE:
        raise ValueError(f"{func}: {name} must be at most {_MAX_PLANE}, got {v}")
    return v


cdef tuple _sizes(object v, int count, str func, str name, nnf_int low):
    """A tuple of count ints >= low (a shape or a pool size)."""
    if not isinstance(v, (tuple, list)) or len(v) != count:
        raise TypeError(f"{func}: {name} must be a tuple of {count} ints, got {v!r}")
    return tuple(_size(e, func, name, low) for e in v)
