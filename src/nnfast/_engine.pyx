# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the training engine (csrc/engine.c). nnfast.network validates every
argument; this module only checks the invariants whose violation would make the C
code read or write out of bounds, and releases the GIL."""

import numpy as np

cimport numpy as cnp

from nnfast._core cimport *
from nnfast cimport _dtype as nnf

cnp.import_array()

MAX_LAYERS = NNF_MAX_LAYERS
# The step of SplitMix64's state (csrc/rng.h): dropout's draws for mini-batch b and
# layer l of a call seeded s come from s advanced (b * MAX_LAYERS + l + 1) steps.
SEED_STEP = NNF_SEED_STEP
ACTIVATIONS = {"sigmoid": NNF_ACT_SIGMOID, "tanh": NNF_ACT_TANH, "relu": NNF_ACT_RELU,
               "linear": NNF_ACT_LINEAR, "softmax": NNF_ACT_SOFTMAX}
# "caller": a cost the engine does not know; the caller computes BP1 between
# train_forward and train_backward.
COSTS = {"quadratic": NNF_COST_QUADRATIC, "cross-entropy": NNF_COST_CROSS_ENTROPY,
         "log-likelihood": NNF_COST_LOG_LIKELIHOOD, "caller": NNF_COST_CALLER}
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

    def __init__(self, specs, cost, weights, biases, vws, vbs):
        cdef int L = len(specs), i
        if not 1 <= L <= NNF_MAX_LAYERS:
            raise ValueError(f"a network has 1 to {NNF_MAX_LAYERS} layers, got {L}")
        self.dtype = np.dtype(weights[0].dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"the engine runs float32 or float64, got {self.dtype}")
        self.f64 = self.dtype == np.float64
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
                         cnp.ndarray vb) except *:
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
        # Both views of the one array; only the one of the engine's dtype is ever used.
        s.weights = <float *>cnp.PyArray_DATA(w)
        d.weights = <double *>cnp.PyArray_DATA(w)
        s.b, d.b = <float *>cnp.PyArray_DATA(b), <double *>cnp.PyArray_DATA(b)
        s.vw, d.vw = <float *>cnp.PyArray_DATA(vw), <double *>cnp.PyArray_DATA(vw)
        s.vb, d.vb = <float *>cnp.PyArray_DATA(vb), <double *>cnp.PyArray_DATA(vb)

    cdef nnf_int _workspace_size(self, nnf_int batch, int n_threads, bint training) noexcept:
        return nnf.workspace_size(self.f64, &self.snet, &self.dnet, batch, n_threads, training)

    def workspace(self, nnf_int batch, int n_threads=1, bint training=True):
        """A fresh workspace for mini-batches of `batch` rows, or, without training,
        for forward blocks of `batch` rows, for runs on n_threads threads."""
        return np.empty(self._workspace_size(batch, n_threads, training), self.dtype)

    cdef void _check_rows(self, cnp.ndarray x, cnp.ndarray work, nnf_int batch,
                          int n_threads, bint training=True) except *:
        if (x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != self.sizes[0]
                or x.strides[1] != x.itemsize or x.strides[0] % x.itemsize != 0
                or not cnp.PyArray_ISALIGNED(x)):
            raise ValueError(f"engine: x must be an aligned {self.dtype} array with "
                             f"{self.sizes[0]} unit-stride columns")
        self._check_work(work, batch, n_threads, training)

    def forward(self, cnp.ndarray x, nnf_int block, cnp.ndarray work, int n_threads):
        """The output activations for every row of x, from a workspace(block,
        n_threads, training=False) or a training one."""
        self._check_rows(x, work, block, n_threads, False)
        cdef nnf_int rows = x.shape[0], ldx = x.strides[0] // x.itemsize
        cdef cnp.ndarray out = np.empty((rows, self.sizes[len(self.sizes) - 1]), self.dtype)
        with nogil:
            nnf.forward(self.f64, &self.snet, &self.dnet, cnp.PyArray_DATA(x), ldx, rows, block,
                        cnp.PyArray_DATA(work), n_threads, cnp.PyArray_DATA(out))
        return out

    cdef int _hyper(self, nnf_dhyper *hp, double eta, double lmbda, double momentum,
                    nnf_int n, str regularization, int n_threads, unsigned long long seed,
                    cnp.ndarray grad_norms, object layer_threads=None,
                    object first_by_rows=False) except -1:
        """Fills the hyper-parameters (in double; nnf.as_float rounds them for float).
        layer_threads, if not None, is each layer's thread count (1 to n_threads);
        first_by_rows, a bool, has a dense first layer on a team split its rows."""
        cdef double *norms = NULL
        cdef int i, n_layers = len(self.sizes) - 1
        if not isinstance(first_by_rows, bool):
            raise TypeError("engine: first_by_rows must be a bool, "
                            f"got {type(first_by_rows).__name__}")
        hp.first_by_rows = first_by_rows
        for i in range(NNF_MAX_LAYERS):
            hp.layer_threads[i] = 0
        if layer_threads is not None:
            if (len(layer_threads) != n_layers
                    or any(not isinstance(t, int) or not 1 <= t <= n_threads
                           for t in layer_threads)):
                raise ValueError(f"engine: layer_threads must be {n_layers} thread counts "
                                 f"from 1 to {n_threads}, got {layer_threads!r}")
            for i in range(n_layers):
                hp.layer_threads[i] = layer_threads[i]
        if grad_norms is not None:
            if (grad_norms.dtype != np.float64 or grad_norms.ndim != 1 or not grad_norms.flags.c_contiguous
                    or grad_norms.shape[0] != len(self.sizes) - 1 or not grad_norms.flags.writeable):
                raise ValueError("engine: grad_norms must be a writeable float64 array, one per layer")
            norms = <double *>cnp.PyArray_DATA(grad_norms)
        hp.eta, hp.lmbda, hp.momentum, hp.n = eta, lmbda, momentum, n
        hp.regularization, hp.n_threads, hp.seed = REGULARIZATIONS[regularization], n_threads, seed
        hp.grad_norms = norms
        return 0

    def train_chunk(self, cnp.ndarray x, cnp.ndarray[cnp.int64_t, ndim=1] labels,
                    cnp.ndarray[cnp.int64_t, ndim=1] perm, nnf_int mini_batch_size,
                    double eta, double lmbda, double momentum, nnf_int n, str regularization,
                    cnp.ndarray work, int n_threads, unsigned long long seed=0,
                    cnp.ndarray grad_norms=None, layer_threads=None, codes=None,
                    first_by_rows=False):
        """Train on the rows perm (indices into x and labels), mini-batch by mini-batch.
        With grad_norms (float64, one per layer), add each mini-batch's |dC/db| to it.
        layer_threads, one count per layer (1 to n_threads), runs each layer's kernels
        on its own number of threads; without it every layer runs on n_threads.
        first_by_rows has a dense first layer on a team split the mini-batch's rows
        rather than its units (the same bits either way).
        codes, x's values as bytes (byte_codes(x): a (codes, scale) pair), has the
        mini-batches gathered from the bytes: the same values, a quarter of the reads."""
        if self.snet.cost == NNF_COST_CALLER:
            raise ValueError("engine: the cost is the caller's; train with train_forward "
                             "and train_backward")
        self._check_rows(x, work, mini_batch_size, n_threads)
        if labels.shape[0] != x.shape[0] or not labels.flags.c_contiguous or not perm.flags.c_contiguous:
            raise ValueError("engine: labels must be contiguous, one per row of x")
        cdef nnf_int ldx = x.strides[0] // x.itemsize, n_rows = perm.shape[0]
        cdef const unsigned char *bytes_of_x = NULL
        cdef double scale = 0
        cdef cnp.ndarray byte_rows
        if codes is not None:
            byte_rows, scale = codes
            if (byte_rows.dtype != np.uint8 or byte_rows.shape[0] != x.shape[0]
                    or byte_rows.shape[1] != x.shape[1] or byte_rows.strides[1] != 1
                    or byte_rows.strides[0] != ldx or scale not in (255.0, 256.0)):
                raise ValueError("engine: codes must be byte_codes(x)")
            bytes_of_x = <const unsigned char *>cnp.PyArray_DATA(byte_rows)
        cdef nnf_dhyper hp
        self._hyper(&hp, eta, lmbda, momentum, n, regularization, n_threads, seed, grad_norms,
                    layer_threads, first_by_rows)
        with nogil:
            nnf.train_chunk(self.f64, &self.snet, &self.dnet, &hp, cnp.PyArray_DATA(x), ldx,
                            bytes_of_x, scale, <long long *>cnp.PyArray_DATA(labels),
                            <long long *>cnp.PyArray_DATA(perm), n_rows, mini_batch_size,
                            cnp.PyArray_DATA(work))

    cdef void _check_work(self, cnp.ndarray work, nnf_int mini_batch_size,
                          int n_threads, bint training=True) except *:
        if work.dtype != self.dtype or work.ndim != 1 or not work.flags.c_contiguous:
            raise ValueError("engine: bad workspace")
        if len(work) < self._workspace_size(mini_batch_size, n_threads, training):
            raise ValueError("engine: workspace too small")

    def output_buffers(self, cnp.ndarray work, nnf_int mini_batch_size, int n_threads):
        """(z, a, delta) of the output layer in work, a workspace for mini-batches of
        mini_batch_size rows on n_threads: (mini_batch_size, n_out) views. train_forward
        leaves z and a there; the caller writes delta for train_backward."""
        self._check_work(work, mini_batch_size, n_threads)
        cdef nnf_int offsets[3]
        nnf.output_offsets(self.f64, &self.snet, &self.dnet, mini_batch_size, n_threads,
                           cnp.PyArray_DATA(work), offsets)
        n_out = self.sizes[len(self.sizes) - 1]
        count = mini_batch_size * n_out
        return tuple(work[o:o + count].reshape(mini_batch_size, n_out)
                     for o in (offsets[0], offsets[1], offsets[2]))

    def train_forward(self, cnp.ndarray x, cnp.ndarray[cnp.int64_t, ndim=1] perm,
                      nnf_int batch, nnf_int mini_batch_size, cnp.ndarray work,
                      int n_threads, unsigned long long seed=0):
        """Feed the rows perm of x forward as train_chunk(seed)'s mini-batch number
        `batch` would, keeping the output layer's z and a in work (output_buffers)."""
        self._check_rows(x, work, mini_batch_size, n_threads)
        cdef nnf_int rows = perm.shape[0], ldx = x.strides[0] // x.itemsize
        if not 1 <= rows <= mini_batch_size or not perm.flags.c_contiguous:
            raise ValueError(f"engine: perm must be 1 to {mini_batch_size} contiguous rows")
        if perm.min() < 0 or perm.max() >= x.shape[0]:
            raise ValueError("engine: perm must index rows of x")
        cdef nnf_dhyper hp
        self._hyper(&hp, 0.0, 0.0, 0.0, 1, "l2", n_threads, seed, None)
        with nogil:
            nnf.train_forward(self.f64, &self.snet, &self.dnet, &hp, cnp.PyArray_DATA(x), ldx,
                              <long long *>cnp.PyArray_DATA(perm), rows, batch,
                              mini_batch_size, cnp.PyArray_DATA(work))

    def train_backward(self, nnf_int rows, nnf_int mini_batch_size, double eta, double lmbda,
                       double momentum, nnf_int n, str regularization, cnp.ndarray work,
                       int n_threads, cnp.ndarray grad_norms=None):
        """BP2-BP4 and the step for the `rows` rows train_forward fed, from the output
        error the caller wrote into work (output_buffers' delta)."""
        self._check_work(work, mini_batch_size, n_threads)
        if not 1 <= rows <= mini_batch_size:
            raise ValueError(f"engine: rows must be 1 to {mini_batch_size}")
        cdef nnf_dhyper hp
        self._hyper(&hp, eta, lmbda, momentum, n, regularization, n_threads, 0, grad_norms)
        with nogil:
            nnf.train_backward(self.f64, &self.snet, &self.dnet, &hp, rows, mini_batch_size,
                               cnp.PyArray_DATA(work))
