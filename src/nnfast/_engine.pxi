# Bindings of the training engine (csrc/engine.inc), included in _kernels.pyx so that
# one extension module holds the one copy of the C core's state (the dispatched ISA).
# nnfast.network validates every argument; this file only checks the invariants whose
# violation would make the C code read or write out of bounds, and releases the GIL.

MAX_LAYERS = NNF_MAX_LAYERS
ACTIVATIONS = {"sigmoid": NNF_ACT_SIGMOID, "tanh": NNF_ACT_TANH, "relu": NNF_ACT_RELU,
               "linear": NNF_ACT_LINEAR, "softmax": NNF_ACT_SOFTMAX}
COSTS = {"quadratic": NNF_COST_QUADRATIC, "cross-entropy": NNF_COST_CROSS_ENTROPY,
         "log-likelihood": NNF_COST_LOG_LIKELIHOOD}
REGULARIZATIONS = {"l2": NNF_REG_L2, "l1": NNF_REG_L1}


cdef class Engine:
    """A network's parameters as the C engine sees them, for one dtype.

    wt[l] is layer l's weights, transposed and zero-padded (n_in x ld, C order, ld >=
    n_out), b[l] its biases (ld,); vwt/vb the momentum buffers. The arrays are the
    caller's: training updates them in place and keeps the padding zero."""
    cdef nnf_snet snet
    cdef nnf_dnet dnet
    cdef readonly object dtype
    cdef readonly tuple sizes, ld
    cdef list _keep  # the arrays whose memory the C structs point into

    def __init__(self, sizes, activations, cost, wt, b, vwt, vb):
        cdef int L = len(sizes) - 1, l
        if not 1 <= L <= NNF_MAX_LAYERS or len(activations) != L:
            raise ValueError(f"a network has 1 to {NNF_MAX_LAYERS} layers, got sizes {sizes}")
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(wt[0].dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"the engine runs float32 or float64, got {self.dtype}")
        # Each layer's padded width is its weight storage's row length.
        self.ld = (self.sizes[0],) + tuple(int(w.shape[1]) for w in wt)
        self._keep = []
        for l in range(L):
            if self.ld[l + 1] < self.sizes[l + 1]:
                raise ValueError(f"engine: layer {l} weights are narrower than the layer")
            shapes = ((wt[l], (sizes[l], self.ld[l + 1])), (b[l], (self.ld[l + 1],)),
                      (vwt[l], (sizes[l], self.ld[l + 1])), (vb[l], (self.ld[l + 1],)))
            for arr, shape in shapes:
                if (not isinstance(arr, np.ndarray) or arr.dtype != self.dtype
                        or arr.shape != shape or not arr.flags.c_contiguous
                        or not arr.flags.writeable):
                    raise ValueError(f"engine: layer {l} parameter must be a writeable C-contiguous "
                                     f"{self.dtype} array of shape {shape}")
                self._keep.append(arr)
        self.snet.n_layers = self.dnet.n_layers = L
        self.snet.cost = self.dnet.cost = COSTS[cost]
        for l in range(L + 1):
            self.snet.sizes[l] = self.dnet.sizes[l] = self.sizes[l]
            self.snet.ld[l] = self.dnet.ld[l] = self.ld[l]
        for l in range(L):
            self.snet.activation[l] = self.dnet.activation[l] = ACTIVATIONS[activations[l]]
            if self.dtype == np.float32:
                self.snet.wt[l] = <float *>cnp.PyArray_DATA(wt[l])
                self.snet.b[l] = <float *>cnp.PyArray_DATA(b[l])
                self.snet.vwt[l] = <float *>cnp.PyArray_DATA(vwt[l])
                self.snet.vb[l] = <float *>cnp.PyArray_DATA(vb[l])
            else:
                self.dnet.wt[l] = <double *>cnp.PyArray_DATA(wt[l])
                self.dnet.b[l] = <double *>cnp.PyArray_DATA(b[l])
                self.dnet.vwt[l] = <double *>cnp.PyArray_DATA(vwt[l])
                self.dnet.vb[l] = <double *>cnp.PyArray_DATA(vb[l])

    def workspace(self, nnf_int batch):
        """A fresh workspace for mini-batches (or forward blocks) of `batch` rows."""
        cdef nnf_int size
        if self.dtype == np.float32:
            size = nnf_sworkspace_size(&self.snet, batch)
        else:
            size = nnf_dworkspace_size(&self.dnet, batch)
        return np.empty(size, self.dtype)

    cdef void _check_rows(self, cnp.ndarray x, cnp.ndarray work, nnf_int batch) except *:
        if (x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != self.sizes[0]
                or x.strides[1] != x.itemsize or x.strides[0] % x.itemsize != 0
                or not cnp.PyArray_ISALIGNED(x)):
            raise ValueError(f"engine: x must be an aligned {self.dtype} array with "
                             f"{self.sizes[0]} unit-stride columns")
        if work.dtype != self.dtype or work.ndim != 1 or not work.flags.c_contiguous:
            raise ValueError("engine: bad workspace")
        if len(work) < batch * (2 * sum(self.ld) - self.ld[0]):
            raise ValueError("engine: workspace too small")

    def forward(self, cnp.ndarray x, nnf_int block, cnp.ndarray work, int n_threads):
        """The output activations for every row of x."""
        self._check_rows(x, work, block)
        cdef nnf_int rows = x.shape[0], ldx = x.strides[0] // x.itemsize
        cdef cnp.ndarray out = np.empty((rows, self.sizes[len(self.sizes) - 1]), self.dtype)
        if self.dtype == np.float32:
            with nogil:
                nnf_sforward(&self.snet, <float *>cnp.PyArray_DATA(x), ldx, rows, block,
                             <float *>cnp.PyArray_DATA(work), n_threads, <float *>cnp.PyArray_DATA(out))
        else:
            with nogil:
                nnf_dforward(&self.dnet, <double *>cnp.PyArray_DATA(x), ldx, rows, block,
                             <double *>cnp.PyArray_DATA(work), n_threads, <double *>cnp.PyArray_DATA(out))
        return out

    def train_chunk(self, cnp.ndarray x, cnp.ndarray[cnp.int64_t, ndim=1] labels,
                    cnp.ndarray[cnp.int64_t, ndim=1] perm, nnf_int mini_batch_size,
                    double eta, double lmbda, double momentum, nnf_int n, str regularization,
                    cnp.ndarray work, int n_threads):
        """Train on the rows perm (indices into x and labels), mini-batch by mini-batch."""
        self._check_rows(x, work, mini_batch_size)
        if labels.shape[0] != x.shape[0] or not labels.flags.c_contiguous or not perm.flags.c_contiguous:
            raise ValueError("engine: labels must be contiguous, one per row of x")
        cdef nnf_int ldx = x.strides[0] // x.itemsize, n_rows = perm.shape[0]
        cdef nnf_shyper sh
        cdef nnf_dhyper dh
        cdef int reg = REGULARIZATIONS[regularization]
        if self.dtype == np.float32:
            sh.eta, sh.lmbda, sh.momentum, sh.n = eta, lmbda, momentum, n
            sh.regularization, sh.n_threads = reg, n_threads
            with nogil:
                nnf_strain_chunk(&self.snet, &sh, <float *>cnp.PyArray_DATA(x), ldx,
                                 <long long *>cnp.PyArray_DATA(labels), <long long *>cnp.PyArray_DATA(perm),
                                 n_rows, mini_batch_size, <float *>cnp.PyArray_DATA(work))
        else:
            dh.eta, dh.lmbda, dh.momentum, dh.n = eta, lmbda, momentum, n
            dh.regularization, dh.n_threads = reg, n_threads
            with nogil:
                nnf_dtrain_chunk(&self.dnet, &dh, <double *>cnp.PyArray_DATA(x), ldx,
                                 <long long *>cnp.PyArray_DATA(labels), <long long *>cnp.PyArray_DATA(perm),
                                 n_rows, mini_batch_size, <double *>cnp.PyArray_DATA(work))
