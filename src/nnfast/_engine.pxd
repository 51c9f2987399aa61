# The Engine's C side (_engine.pyx), for the curvature bindings that read its network.

cimport numpy as cnp

from nnfast._core cimport nnf_dhyper, nnf_dnet, nnf_int, nnf_snet


cdef class Engine:
    # The same layers over the same memory, typed float and double: f64 says which
    # of the two the C code is given (nnfast._dtype).
    cdef nnf_snet snet
    cdef nnf_dnet dnet
    cdef bint f64
    cdef readonly object dtype
    cdef readonly tuple sizes  # per layer boundary: the flattened width
    cdef list _keep            # the arrays whose memory the C structs point into

    cdef void _set_layer(self, int i, dict sp, cnp.ndarray w, cnp.ndarray b, cnp.ndarray vw,
                         cnp.ndarray vb) except *
    cdef nnf_int _workspace_size(self, nnf_int batch, int n_threads, bint training) noexcept
    cdef void _check_rows(self, cnp.ndarray x, cnp.ndarray work, nnf_int batch,
                          int n_threads, bint training=*) except *
    cdef void _check_work(self, cnp.ndarray work, nnf_int mini_batch_size,
                          int n_threads, bint training=*) except *
    cdef int _hyper(self, nnf_dhyper *hp, double eta, double lmbda, double momentum,
                    nnf_int n, str regularization, int n_threads, unsigned long long seed,
                    cnp.ndarray grad_norms, object layer_threads=*,
                    object first_by_rows=*) except -1
