# Bindings of the training engine (csrc/engine.c), included in _kernels.pyx so that
# one extension module holds the one copy of the C core's state (the dispatched ISA).
# nnfast.network validates every argument; this file only checks the invariants whose
# violation would make the C code read or write out of bounds, and releases the GIL.

MAX_LAYERS = NNF_MAX_LAYERS
ACTIVATIONS = {"sigmoid": NNF_ACT_SIGMOID, "tanh": NNF_ACT_TANH, "relu": NNF_ACT_RELU,
               "linear": NNF_ACT_LINEAR, "softmax": NNF_ACT_SOFTMAX}
COSTS = {"quadratic": NNF_COST_QUADRATIC, "cross-entropy": NNF_COST_CROSS_ENTROPY,
         "log-likelihood": NNF_COST_LOG_LIKELIHOOD}
REGULARIZATIONS = {"l2": NNF_REG_L2, "l1": NNF_REG_L1}


LAYER_KINDS = {"dense": NNF_LAYER_DENSE, "convpool": NNF_LAYER_CONVPOOL}


cdef class Engine:
    """A network's parameters as the C engine sees them, for one dtype.

    specs describes each layer: {"kind": "dense", "n_in", "n_out", "activation",
    "p_dropout"} or {"kind": "convpool", "c", "h", "w", "f", "kh", "kw", "ph", "pw",
    "activation", "ties"} (ties "first", the default, or "all": the max-pool's tie
    rule). A dense layer's weights are (n_out, n_in) and its biases (n_out,);
    a convpool layer's weights are (f, c, kh, kw) and its biases (f,), all C order. vw / vb are the momentum buffers. The
    arrays are the caller's: training updates them in place."""
    cdef nnf_snet snet
    cdef nnf_dnet dnet
    cdef readonly object dtype
    cdef readonly tuple sizes  # per layer boundary: the flattened width
    cdef list _keep            # the arrays whose memory the C structs point into

    def __init__(self, specs, cost, weights, biases, vws, vbs):
        cdef int L = len(specs), i
        if not 1 <= L <= NNF_MAX_LAYERS:
            raise ValueError(f"a network has 1 to {NNF_MAX_LAYERS} layers, got {L}")
        self.dtype = np.dtype(weights[0].dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"the engine runs float32 or float64, got {self.dtype}")
        self.sizes = (int(specs[0]["n_in"]),) + tuple(int(sp["n_out"]) for sp in specs)
        self._keep = []
        self.snet.n_layers = self.dnet.n_layers = L
        self.snet.cost = self.dnet.cost = COSTS[cost]
        for i in range(L):
            sp = specs[i]
            if sp["kind"] == "dense":
                shape_w, shape_b = (sp["n_out"], sp["n_in"]), (sp["n_out"],)
            else:
                shape_w, shape_b = (sp["f"], sp["c"], sp["kh"], sp["kw"]), (sp["f"],)
            if sp["n_in"] != self.sizes[i]:
                raise ValueError(f"engine: layer {i} does not take the layer below's output")
            for arr, shape in ((weights[i], shape_w), (biases[i], shape_b), (vws[i], shape_w),
                               (vbs[i], shape_b)):
                if (not isinstance(arr, np.ndarray) or arr.dtype != self.dtype
                        or arr.shape != shape or not arr.flags.c_contiguous
                        or not arr.flags.writeable):
                    raise ValueError(f"engine: layer {i} parameter must be a writeable "
                                     f"C-contiguous {self.dtype} array of shape {shape}")
                self._keep.append(arr)
            self._set_layer(i, sp, weights[i], biases[i], vws[i], vbs[i])

    cdef void _set_layer(self, int i, dict sp, cnp.ndarray w, cnp.ndarray b, cnp.ndarray vw,
                         cnp.ndarray vb):
        cdef nnf_slayer *s = &self.snet.layer[i]
        cdef nnf_dlayer *d = &self.dnet.layer[i]
        s.kind = d.kind = LAYER_KINDS[sp["kind"]]
        s.activation = d.activation = ACTIVATIONS[sp["activation"]]
        s.n_in = d.n_in = sp["n_in"]
        s.n_out = d.n_out = sp["n_out"]
        s.p_dropout = d.p_dropout = sp.get("p_dropout", 0.0)
        s.c = d.c = sp.get("c", 0)
        s.h = d.h = sp.get("h", 0)
        s.w = d.w = sp.get("w", 0)
        s.f = d.f = sp.get("f", 0)
        s.kh = d.kh = sp.get("kh", 0)
        s.kw = d.kw = sp.get("kw", 0)
        s.ph = d.ph = sp.get("ph", 0)
        s.pw = d.pw = sp.get("pw", 0)
        s.ties = d.ties = NNF_TIES_ALL if sp.get("ties") == "all" else NNF_TIES_FIRST
        if self.dtype == np.float32:
            s.weights, s.b = <float *>cnp.PyArray_DATA(w), <float *>cnp.PyArray_DATA(b)
            s.vw, s.vb = <float *>cnp.PyArray_DATA(vw), <float *>cnp.PyArray_DATA(vb)
        else:
            d.weights, d.b = <double *>cnp.PyArray_DATA(w), <double *>cnp.PyArray_DATA(b)
            d.vw, d.vb = <double *>cnp.PyArray_DATA(vw), <double *>cnp.PyArray_DATA(vb)

    cdef nnf_int _workspace_size(self, nnf_int batch, int n_threads):
        if self.dtype == np.float32:
            return nnf_sworkspace_size(&self.snet, batch, n_threads)
        return nnf_dworkspace_size(&self.dnet, batch, n_threads)

    def workspace(self, nnf_int batch, int n_threads=1):
        """A fresh workspace for mini-batches (or forward blocks) of `batch` rows,
        for runs on n_threads threads."""
        return np.empty(self._workspace_size(batch, n_threads), self.dtype)

    cdef void _check_rows(self, cnp.ndarray x, cnp.ndarray work, nnf_int batch,
                          int n_threads) except *:
        if (x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != self.sizes[0]
                or x.strides[1] != x.itemsize or x.strides[0] % x.itemsize != 0
                or not cnp.PyArray_ISALIGNED(x)):
            raise ValueError(f"engine: x must be an aligned {self.dtype} array with "
                             f"{self.sizes[0]} unit-stride columns")
        if work.dtype != self.dtype or work.ndim != 1 or not work.flags.c_contiguous:
            raise ValueError("engine: bad workspace")
        if len(work) < self._workspace_size(batch, n_threads):
            raise ValueError("engine: workspace too small")

    def forward(self, cnp.ndarray x, nnf_int block, cnp.ndarray work, int n_threads):
        """The output activations for every row of x."""
        self._check_rows(x, work, block, n_threads)
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
                    cnp.ndarray work, int n_threads, unsigned long long seed=0,
                    cnp.ndarray grad_norms=None):
        """Train on the rows perm (indices into x and labels), mini-batch by mini-batch.
        With grad_norms (float64, one per layer), add each mini-batch's |dC/db| to it."""
        self._check_rows(x, work, mini_batch_size, n_threads)
        if labels.shape[0] != x.shape[0] or not labels.flags.c_contiguous or not perm.flags.c_contiguous:
            raise ValueError("engine: labels must be contiguous, one per row of x")
        cdef nnf_int ldx = x.strides[0] // x.itemsize, n_rows = perm.shape[0]
        cdef nnf_shyper sh
        cdef nnf_dhyper dh
        cdef int reg = REGULARIZATIONS[regularization]
        cdef double *norms = NULL
        if grad_norms is not None:
            if (grad_norms.dtype != np.float64 or grad_norms.ndim != 1 or not grad_norms.flags.c_contiguous
                    or grad_norms.shape[0] != len(self.sizes) - 1 or not grad_norms.flags.writeable):
                raise ValueError("engine: grad_norms must be a writeable float64 array, one per layer")
            norms = <double *>cnp.PyArray_DATA(grad_norms)
        sh.grad_norms = dh.grad_norms = norms
        if self.dtype == np.float32:
            sh.eta, sh.lmbda, sh.momentum, sh.n = eta, lmbda, momentum, n
            sh.regularization, sh.n_threads, sh.seed = reg, n_threads, seed
            with nogil:
                nnf_strain_chunk(&self.snet, &sh, <float *>cnp.PyArray_DATA(x), ldx,
                                 <long long *>cnp.PyArray_DATA(labels), <long long *>cnp.PyArray_DATA(perm),
                                 n_rows, mini_batch_size, <float *>cnp.PyArray_DATA(work))
        else:
            dh.eta, dh.lmbda, dh.momentum, dh.n = eta, lmbda, momentum, n
            dh.regularization, dh.n_threads, dh.seed = reg, n_threads, seed
            with nogil:
                nnf_dtrain_chunk(&self.dnet, &dh, <double *>cnp.PyArray_DATA(x), ldx,
                                 <long long *>cnp.PyArray_DATA(labels), <long long *>cnp.PyArray_DATA(perm),
                                 n_rows, mini_batch_size, <double *>cnp.PyArray_DATA(work))
