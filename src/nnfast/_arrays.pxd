# The argument checks the kernel bindings share (_arrays.pyx): each either returns an
# array the C code may trust or raises a TypeError/ValueError naming the argument.

cimport numpy as cnp

from nnfast._core cimport nnf_int
from numpy cimport PyArray_DATA as _data

# Flat indices into one h x w plane are stored as int32; no size may exceed it either.
cdef enum:
    _MAX_PLANE = 2147483647  # (1 << 31) - 1

cdef cnp.ndarray _floats(object x, str name, str func)
cdef cnp.ndarray _matrix(object x, str name, str func, int ndim=*)
cdef cnp.ndarray _out(object out, str func, tuple shape, cnp.ndarray like)
cdef bint _overlaps(cnp.ndarray a, cnp.ndarray b) noexcept
cdef cnp.ndarray _detach(cnp.ndarray x, cnp.ndarray out)
cdef void _same_dtype(str func, cnp.ndarray a, str a_name, cnp.ndarray b, str b_name) except *
cdef double _real(object v, str func, str name) except? -1
cdef void _flag(object v, str func, str name) except *
cdef cnp.ndarray _array(object x, str name, str func, int ndim)
cdef cnp.ndarray _contiguous(cnp.ndarray arr)
cdef nnf_int _size(object v, str func, str name, nnf_int low) except -1
cdef tuple _sizes(object v, int count, str func, str name, nnf_int low)


cdef inline nnf_int _stride(cnp.ndarray x, int axis) noexcept:
    """x's step along axis, in elements."""
    return cnp.PyArray_STRIDE(x, axis) // cnp.PyArray_ITEMSIZE(x)
