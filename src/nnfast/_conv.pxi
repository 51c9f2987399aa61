# Bindings of the convolution, pooling and dropout kernels (csrc/conv.c, pool.c,
# dropout.c), included in _kernels.pyx. Images are NCHW. Float32 or float64 arrays
# of any strides are accepted and copied to C order only when they are not already;
# the C code trusts them. Every kernel runs with the GIL released.

from numpy cimport PyArray_DATA as _data

# Flat indices into one h x w plane are stored as int32; no size may exceed it either.
cdef nnf_int _MAX_PLANE = (1 << 31) - 1


# ---- argument checks ----

cdef cnp.ndarray _array(object x, str name, str func, int ndim):
    """x as a C-contiguous, aligned, native-endian float32/float64 array of ndim
    dimensions (ndim < 0: any), copied only when it is not one already."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray of float32 or float64, "
                        f"got {type(x).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>x
    cdef int t = cnp.PyArray_TYPE(arr)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{func}: {name} must have dtype float32 or float64, got {arr.dtype}")
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sim2col(c, h, w, KH, KW, <float *>_data(X), <float *>_data(cols))
    else:
        with nogil:
            nnf_dim2col(c, h, w, KH, KW, <double *>_data(X), <double *>_data(cols))
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
    if cnp.PyArray_TYPE(C) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_scol2im(c, h, w, KH, KW, <float *>_data(C), <float *>_data(X))
    else:
        with nogil:
            nnf_dcol2im(c, h, w, KH, KW, <double *>_data(C), <double *>_data(X))
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sconv_forward(n, c, h, wd, <float *>_data(X), f, kh, kw, <float *>_data(Wt),
                              <float *>bias, <float *>_data(out), <float *>_data(work), nt)
    else:
        with nogil:
            nnf_dconv_forward(n, c, h, wd, <double *>_data(X), f, kh, kw, <double *>_data(Wt),
                              <double *>bias, <double *>_data(out), <double *>_data(work), nt)
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sconv_backward(n, c, h, wd, <float *>_data(X), f, kh, kw, <float *>_data(Wt),
                               <float *>_data(D), <float *>_data(dx), <float *>_data(dw),
                               <float *>_data(db), <float *>_data(work), nt)
    else:
        with nogil:
            nnf_dconv_backward(n, c, h, wd, <double *>_data(X), f, kh, kw, <double *>_data(Wt),
                               <double *>_data(D), <double *>_data(dx), <double *>_data(dw),
                               <double *>_data(db), <double *>_data(work), nt)
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_smaxpool_forward(n * c, h, w, p, q, <float *>_data(X), <float *>_data(out),
                                 <int *>_data(argmax), nt)
    else:
        with nogil:
            nnf_dmaxpool_forward(n * c, h, w, p, q, <double *>_data(X), <double *>_data(out),
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
    if cnp.PyArray_TYPE(D) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_smaxpool_backward(n * c, h, w, p, q, <float *>_data(D), <int *>_data(A),
                                  <float *>_data(dx), nt)
    else:
        with nogil:
            nnf_dmaxpool_backward(n * c, h, w, p, q, <double *>_data(D), <int *>_data(A),
                                  <double *>_data(dx), nt)
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sl2pool_forward(n * c, h, w, p, q, <float *>_data(X), <float *>_data(out), nt)
    else:
        with nogil:
            nnf_dl2pool_forward(n * c, h, w, p, q, <double *>_data(X), <double *>_data(out), nt)
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sl2pool_backward(n * c, h, w, p, q, <float *>_data(X), <float *>_data(O),
                                 <float *>_data(D), <float *>_data(dx), nt)
    else:
        with nogil:
            nnf_dl2pool_backward(n * c, h, w, p, q, <double *>_data(X), <double *>_data(O),
                                 <double *>_data(D), <double *>_data(dx), nt)
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
    if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
        with nogil:
            nnf_sdropout(count, <float *>_data(X), pr, s, <float *>_data(out),
                         <unsigned char *>_data(mask), nt)
    else:
        with nogil:
            nnf_ddropout(count, <double *>_data(X), pr, s, <double *>_data(out),
                         <unsigned char *>_data(mask), nt)
    return out, mask
