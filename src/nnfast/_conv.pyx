# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the convolution, pooling and dropout kernels (csrc/conv.c, pool.c,
dropout.c). Images are NCHW. Float32 or float64 arrays of any strides are accepted and
copied to C order only when they are not already; the C code trusts them. Every kernel
runs with the GIL released."""

import numbers

import numpy as np

cimport numpy as cnp

from nnfast._arrays cimport *
from nnfast._core cimport *
from nnfast cimport _dtype as nnf
from nnfast._runtime cimport _thread_count

cnp.import_array()


cdef tuple _kernel_fits(str func, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw, str name):
    if kh > h or kw > w:
        raise ValueError(f"{func}: {name} ({kh}x{kw}) is larger than the image ({h}x{w})")
    return h - kh + 1, w - kw + 1


cdef tuple _pool_fits(str func, tuple shape, object poolsize):
    cdef nnf_int p, q
    p, q = _sizes(poolsize, 2, func, "poolsize", 1)
    h, w = shape[2], shape[3]
    if h % p or w % q:
        raise ValueError(f"{func}: poolsize {(p, q)} must divide the image size {(h, w)}")
    if h * w > _MAX_PLANE:
        raise ValueError(f"{func}: x's planes are too large for int32 indices ({h}x{w})")
    return p, q


# ---- im2col / col2im ----

def im2col(x, kh, kw):
    """The (C*kh*kw) x (OH*OW) column matrix of one C x H x W image: row
    c*kh*kw + i*kw + j holds the pixels that kernel tap (c, i, j) meets, one per
    output position (OH = H - kh + 1, OW = W - kw + 1)."""
    cdef cnp.ndarray X = _array(x, "x", "im2col", 3)
    cdef nnf_int KH = _size(kh, "im2col", "kh", 1), KW = _size(kw, "im2col", "kw", 1)
    cdef nnf_int c = X.shape[0], h = X.shape[1], w = X.shape[2], oh, ow
    oh, ow = _kernel_fits("im2col", h, w, KH, KW, "kh x kw")
    cdef cnp.ndarray cols = np.empty((c * KH * KW, oh * ow), dtype=X.dtype)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.im2col(f64, c, h, w, KH, KW, _data(X), _data(cols))
    return cols


def col2im(cols, x_shape, kh, kw):
    """The adjoint of im2col: the C x H x W image in which each pixel is the sum of
    the entries of cols that im2col would have copied from it."""
    cdef cnp.ndarray C = _array(cols, "cols", "col2im", 2)
    cdef nnf_int c, h, w, oh, ow
    c, h, w = _sizes(x_shape, 3, "col2im", "x_shape", 0)
    cdef nnf_int KH = _size(kh, "col2im", "kh", 1), KW = _size(kw, "col2im", "kw", 1)
    oh, ow = _kernel_fits("col2im", h, w, KH, KW, "kh x kw")
    if (<object>C).shape != (c * KH * KW, oh * ow):
        raise ValueError(f"col2im: cols must have shape {(c * KH * KW, oh * ow)} for x_shape "
                         f"{(c, h, w)} and a {KH}x{KW} kernel, got {(<object>C).shape}")
    cdef cnp.ndarray X = np.empty((c, h, w), dtype=C.dtype)
    cdef bint f64 = nnf.is_double(C)
    with nogil:
        nnf.col2im(f64, c, h, w, KH, KW, _data(C), _data(X))
    return X


# ---- convolution ----

cdef tuple _conv_shapes(str func, cnp.ndarray X, cnp.ndarray Wt):
    _same_dtype(func, X, "x", Wt, "w")
    if Wt.shape[1] != X.shape[1]:
        raise ValueError(f"{func}: w must have x's {X.shape[1]} input channels, "
                         f"got w of shape {(<object>Wt).shape}")
    if Wt.shape[2] < 1 or Wt.shape[3] < 1:
        raise ValueError(f"{func}: w's kernel must be at least 1x1, got shape {(<object>Wt).shape}")
    return _kernel_fits(func, X.shape[2], X.shape[3], Wt.shape[2], Wt.shape[3], "w's kernel")


def conv2d(x, w, b=None, n_threads=None):
    """The valid cross-correlation of x (N, C, H, W) with the filters w (F, C, kh, kw),
    plus the bias b (F,) when given: (N, F, H - kh + 1, W - kw + 1). The result is
    bit-identical for any n_threads."""
    cdef cnp.ndarray X = _array(x, "x", "conv2d", 4)
    cdef cnp.ndarray Wt = _array(w, "w", "conv2d", 4)
    cdef nnf_int oh, ow
    oh, ow = _conv_shapes("conv2d", X, Wt)
    cdef cnp.ndarray B = None
    cdef void *bias = NULL
    if b is not None:
        B = _array(b, "b", "conv2d", 1)
        _same_dtype("conv2d", X, "x", B, "b")
        if B.shape[0] != Wt.shape[0]:
            raise ValueError(f"conv2d: b must have one entry per filter of w ({Wt.shape[0]}), "
                             f"got shape {(<object>B).shape}")
        bias = _data(B)
    cdef int nt = _thread_count(n_threads, "conv2d")
    cdef nnf_int n = X.shape[0], c = X.shape[1], h = X.shape[2], wd = X.shape[3]
    cdef nnf_int f = Wt.shape[0], kh = Wt.shape[2], kw = Wt.shape[3]
    cdef cnp.ndarray out = np.empty((n, f, oh, ow), dtype=X.dtype)
    cdef cnp.ndarray work = np.empty(nnf_conv_workspace_size(n, c, h, wd, f, kh, kw, nt), dtype=X.dtype)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.conv_forward(f64, n, c, h, wd, _data(X), f, kh, kw, _data(Wt), bias,
                         _data(out), _data(work), nt)
    return out


def conv2d_backward(x, w, dout, n_threads=None):
    """The gradients of conv2d given dout = dC/d(output), (N, F, OH, OW):
    (dx, dw, db) with the shapes of x, w and b. dw and db are summed over the
    samples in sample order, so all three are bit-identical for any n_threads."""
    cdef cnp.ndarray X = _array(x, "x", "conv2d_backward", 4)
    cdef cnp.ndarray Wt = _array(w, "w", "conv2d_backward", 4)
    cdef nnf_int oh, ow
    oh, ow = _conv_shapes("conv2d_backward", X, Wt)
    cdef cnp.ndarray D = _array(dout, "dout", "conv2d_backward", 4)
    _same_dtype("conv2d_backward", X, "x", D, "dout")
    cdef nnf_int n = X.shape[0], c = X.shape[1], h = X.shape[2], wd = X.shape[3]
    cdef nnf_int f = Wt.shape[0], kh = Wt.shape[2], kw = Wt.shape[3]
    if (<object>D).shape != (n, f, oh, ow):
        raise ValueError(f"conv2d_backward: dout must have conv2d's output shape "
                         f"{(n, f, oh, ow)}, got {(<object>D).shape}")
    cdef int nt = _thread_count(n_threads, "conv2d_backward")
    cdef cnp.ndarray dx = np.empty((n, c, h, wd), dtype=X.dtype)
    cdef cnp.ndarray dw = np.empty((f, c, kh, kw), dtype=X.dtype)
    cdef cnp.ndarray db = np.empty(f, dtype=X.dtype)
    cdef cnp.ndarray work = np.empty(nnf_conv_workspace_size(n, c, h, wd, f, kh, kw, nt), dtype=X.dtype)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.conv_backward(f64, n, c, h, wd, _data(X), f, kh, kw, _data(Wt), _data(D),
                          _data(dx), _data(dw), _data(db), _data(work), nt)
    return dx, dw, db


# ---- pooling ----

def maxpool2d(x, poolsize, n_threads=None):
    """Max pooling of x (N, C, H, W) over non-overlapping poolsize = (p, q) windows
    (p divides H, q divides W): (out, argmax), both (N, C, H/p, W/q), argmax the int32
    flat index y*W + x of each maximum within its H x W plane (the first on ties)."""
    cdef cnp.ndarray X = _array(x, "x", "maxpool2d", 4)
    cdef nnf_int p, q
    p, q = _pool_fits("maxpool2d", (<object>X).shape, poolsize)
    cdef int nt = _thread_count(n_threads, "maxpool2d")
    cdef nnf_int n = X.shape[0], c = X.shape[1], h = X.shape[2], w = X.shape[3]
    cdef cnp.ndarray out = np.empty((n, c, h // p, w // q), dtype=X.dtype)
    cdef cnp.ndarray argmax = np.empty((n, c, h // p, w // q), dtype=np.int32)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.maxpool_forward(f64, n * c, h, w, p, q, _data(X), _data(out),
                            <int *>_data(argmax), nt)
    return out, argmax


def maxpool2d_backward(dout, argmax, x_shape, n_threads=None):
    """dC/dx for maxpool2d: dout (N, C, OH, OW) routed to the argmax of each window
    of an x of shape x_shape = (N, C, H, W), zero elsewhere."""
    cdef cnp.ndarray D = _array(dout, "dout", "maxpool2d_backward", 4)
    cdef nnf_int n, c, h, w
    n, c, h, w = _sizes(x_shape, 4, "maxpool2d_backward", "x_shape", 0)
    cdef nnf_int oh = D.shape[2], ow = D.shape[3]
    if (D.shape[0] != n or D.shape[1] != c or oh < 1 or ow < 1 or h < oh or w < ow
            or h % oh or w % ow):
        raise ValueError(f"maxpool2d_backward: dout's shape {(<object>D).shape} is not a "
                         f"pooling of x_shape {(n, c, h, w)}")
    if h * w > _MAX_PLANE:
        raise ValueError(f"maxpool2d_backward: x_shape's planes are too large for int32 indices")
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int32:
        raise TypeError("maxpool2d_backward: argmax must be a numpy.ndarray of int32 "
                        "(from maxpool2d)")
    if argmax.shape != (<object>D).shape:
        raise ValueError(f"maxpool2d_backward: argmax must have dout's shape "
                         f"{(<object>D).shape}, got {argmax.shape}")
    cdef int nt = _thread_count(n_threads, "maxpool2d_backward")
    cdef cnp.ndarray A = _contiguous(<cnp.ndarray>argmax)
    # The kernel writes dx[argmax]: an index outside the plane would corrupt memory.
    if A.size and (A.min() < 0 or A.max() >= h * w):
        raise ValueError(f"maxpool2d_backward: argmax holds indices outside the {h}x{w} plane")
    cdef cnp.ndarray dx = np.empty((n, c, h, w), dtype=D.dtype)
    cdef nnf_int p = h // oh, q = w // ow
    cdef bint f64 = nnf.is_double(D)
    with nogil:
        nnf.maxpool_backward(f64, n * c, h, w, p, q, _data(D), <int *>_data(A), _data(dx), nt)
    return dx


def l2pool2d(x, poolsize, n_threads=None):
    """L2 pooling of x (N, C, H, W): sqrt of the sum of squares over each
    non-overlapping poolsize = (p, q) window, (N, C, H/p, W/q)."""
    cdef cnp.ndarray X = _array(x, "x", "l2pool2d", 4)
    cdef nnf_int p, q
    p, q = _pool_fits("l2pool2d", (<object>X).shape, poolsize)
    cdef int nt = _thread_count(n_threads, "l2pool2d")
    cdef nnf_int n = X.shape[0], c = X.shape[1], h = X.shape[2], w = X.shape[3]
    cdef cnp.ndarray out = np.empty((n, c, h // p, w // q), dtype=X.dtype)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.l2pool_forward(f64, n * c, h, w, p, q, _data(X), _data(out), nt)
    return out


def l2pool2d_backward(dout, x, out, n_threads=None):
    """dC/dx for l2pool2d, from dout, the input x and the forward's out:
    dout * x / out over each window (0 where out is 0). The pool size is x's shape
    over out's."""
    cdef cnp.ndarray D = _array(dout, "dout", "l2pool2d_backward", 4)
    cdef cnp.ndarray X = _array(x, "x", "l2pool2d_backward", 4)
    cdef cnp.ndarray O = _array(out, "out", "l2pool2d_backward", 4)
    _same_dtype("l2pool2d_backward", D, "dout", X, "x")
    _same_dtype("l2pool2d_backward", D, "dout", O, "out")
    cdef nnf_int n = X.shape[0], c = X.shape[1], h = X.shape[2], w = X.shape[3]
    cdef nnf_int oh = O.shape[2], ow = O.shape[3]
    if (O.shape[0] != n or O.shape[1] != c or oh < 1 or ow < 1 or h < oh or w < ow
            or h % oh or w % ow):
        raise ValueError(f"l2pool2d_backward: out's shape {(<object>O).shape} is not a "
                         f"pooling of x's {(<object>X).shape}")
    if (<object>D).shape != (<object>O).shape:
        raise ValueError(f"l2pool2d_backward: dout must have out's shape {(<object>O).shape}, "
                         f"got {(<object>D).shape}")
    cdef int nt = _thread_count(n_threads, "l2pool2d_backward")
    cdef cnp.ndarray dx = np.empty((n, c, h, w), dtype=X.dtype)
    cdef nnf_int p = h // oh, q = w // ow
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.l2pool_backward(f64, n * c, h, w, p, q, _data(X), _data(O), _data(D),
                            _data(dx), nt)
    return dx


# ---- dropout ----

def dropout(x, p, seed, n_threads=None):
    """(x * mask, mask): mask (uint8, x's shape) keeps each element with probability
    1 - p, drawn from a hash of (seed, element index), so a seed gives the same mask
    for any thread count. Kept values are not rescaled by 1/(1 - p)."""
    cdef cnp.ndarray X = _array(x, "x", "dropout", -1)
    cdef double pr = _real(p, "dropout", "p")
    if not 0 <= pr <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"dropout: seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < (1 << 64):
        raise ValueError(f"dropout: seed must be in [0, 2**64), got {seed}")
    cdef unsigned long long s = int(seed)
    cdef int nt = _thread_count(n_threads, "dropout")
    cdef nnf_int count = X.size
    cdef cnp.ndarray out = np.empty((<object>X).shape, dtype=X.dtype)
    cdef cnp.ndarray mask = np.empty((<object>X).shape, dtype=np.uint8)
    cdef bint f64 = nnf.is_double(X)
    with nogil:
        nnf.dropout(f64, count, _data(X), pr, s, _data(out), <unsigned char *>_data(mask), nt)
    return out, mask
