"""The Hessian technique of chapter 3: the gradient of a network's cost, exact products
of its Hessian (and of its Gauss-Newton matrix) with a vector, and the Hessian itself
for small networks.

Every result is of the mean cost over the data as `Network.total_cost` defines it,
C = (1/n) sum_x C_x + (lmbda / 2n) sum w^2 with n the number of samples given.
Dropout layers are evaluated as at inference (w.a scaled by 1 - p_dropout), the
function total_cost measures: no masks are drawn.

Parameters are ordered as the book lists them, w^1, b^1, w^2, b^2, ..., each
row-major in its book shape; a vector over them is given, and returned, as a pair
(v_w, v_b) of lists shaped like `net.weights` and `net.biases`. The C engine
(csrc/hvp.inc) computes the products by Pearlmutter's R-operator: one forward pass of
directional derivatives beside the network's own, one backward pass of second-order
adjoints beside backprop's, about the cost of two gradients.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, cast

import numpy as np

from nnfast import _kernels
from nnfast.checks import Data, Samples, as_array, check_real, check_real_dtype
from nnfast.costs import is_builtin
from nnfast.training import check_threads

# Rows per block of the C passes: a conv net's buffers for 256 rows stay in tens of MB.
BLOCK = 256
# The largest network whose full Hessian `hessian` computes: P^2 values.
MAX_HESSIAN_PARAMETERS = 20_000

Pair = Tuple[List[np.ndarray], List[np.ndarray]]


def parameter_count(net: Any) -> int:
    """P, the number of weights and biases."""
    return sum(w.size + b.size for w, b in zip(net._w, net._b))


def flatten(net: Any, pair: Any, name: str) -> np.ndarray:
    """A pair (v_w, v_b) shaped like net.weights and net.biases as one vector of the
    network's dtype in parameter order; a dense layer's biases may also be 1-D."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair (v_w, v_b) of lists shaped like the "
                        "network's weights and biases")
    v_w, v_b = pair
    L = len(net.layers)
    for part, label in ((v_w, "v_w"), (v_b, "v_b")):
        if not isinstance(part, (tuple, list)) or len(part) != L:
            raise ValueError(f"{name}: {label} must be a list of {L} arrays, one per layer")
    pieces = []
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        for arr, like, label in ((v_w[l], w, "v_w"), (v_b[l], b, "v_b")):
            arr = as_array(arr, f"{name}: {label}[{l}]")
            check_real_dtype(arr, f"{name}: {label}[{l}]")
            allowed = {like.shape, (like.size,)}
            if arr.shape not in allowed:
                raise ValueError(f"{name}: {label}[{l}] must have shape {like.shape}, got "
                                 f"{arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}: {label}[{l}] holds NaN or infinite values")
            pieces.append(arr.reshape(-1))
    return np.ascontiguousarray(np.concatenate(pieces), dtype=net.dtype)


def unflatten(net: Any, flat: np.ndarray) -> Pair:
    """A vector in parameter order as (v_w, v_b) shaped like net.weights, net.biases."""
    v_w, v_b, offset = [], [], 0
    for w, b in zip(net.weights, net.biases):
        v_w.append(flat[offset:offset + w.size].reshape(w.shape))
        offset += w.size
        v_b.append(flat[offset:offset + b.size].reshape(b.shape))
        offset += b.size
    return v_w, v_b


def _check(net, training_data, lmbda, n_threads):
    training = net.samples(training_data, "training_data")
    if len(training.X) == 0:
        raise ValueError("training_data must hold at least one sample")
    return training, check_real(lmbda, "lmbda", minimum=0.0), check_threads(n_threads)


def check_supported(net: Any) -> None:
    """A ValueError unless the curvature products are defined for net: a built-in cost
    (its second derivatives are written in C) and max-pools that route through their
    first maxima."""
    if not is_builtin(net.cost):
        raise ValueError("the Hessian technique needs a built-in cost (its second "
                         "derivatives are written in C); a cost of one's own trains with SGD")
    for i, layer in enumerate(net.layers):
        if getattr(layer, "ties", None) == "all":
            # The R-operator's routes through a max-pool are its first maxima: at a
            # tie, Theano's rule would be a different function's derivatives.
            raise ValueError(f"layers[{i}] pools with ties='all' (Theano's rule); the "
                             "curvature is computed for ties='first' only")


def run(net: Any, training: Samples, rows: Optional[np.ndarray], matrix: str,
        v: Optional[np.ndarray], lmbda: float, want_gradient: bool, n_threads: int
        ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """The engine's flat (gradient, product) over the rows `rows` of validated samples
    (all if None): gradient if want_gradient, the product of the matrix ("hessian" or
    "gauss-newton") with the flat vector v if v is given. lmbda is divided by the rows'
    count."""
    check_supported(net)
    X, labels = training
    if rows is None:
        rows = np.arange(len(X), dtype=np.int64)
    with net.exclusive("computing curvature"):
        return _kernels.curvature(net._engine, matrix, X, labels, rows, v, lmbda,
                                  want_gradient, min(BLOCK, len(rows)) or 1, n_threads)


def gradient(net: Any, training_data: Data, lmbda: float = 0.0,
             n_threads: Optional[int] = None) -> Pair:
    """(nabla_w, nabla_b) of the mean cost: backprop's BP1-BP4 averaged over the data."""
    training, lmbda, threads = _check(net, training_data, lmbda, n_threads)
    flat, _ = run(net, training, None, "hessian", None, lmbda, True, threads)
    return unflatten(net, cast(np.ndarray, flat))


def hessian_vector_product(net: Any, training_data: Data, v: Any, lmbda: float = 0.0,
                           n_threads: Optional[int] = None) -> Pair:
    """(Hv_w, Hv_b): the Hessian of the mean cost times v = (v_w, v_b), exact."""
    training, lmbda, threads = _check(net, training_data, lmbda, n_threads)
    vector = flatten(net, v, "v")
    _, flat = run(net, training, None, "hessian", vector, lmbda, False, threads)
    return unflatten(net, cast(np.ndarray, flat))


def gauss_newton_vector_product(net: Any, training_data: Data, v: Any, lmbda: float = 0.0,
                                n_threads: Optional[int] = None) -> Pair:
    """(Gv_w, Gv_b): the Gauss-Newton matrix G = J^T H_L J (plus lmbda/n on the
    weights) times v. J is the Jacobian of the output layer's weighted inputs z^L for
    sigmoid + cross-entropy and softmax + log-likelihood, where the cost is convex in
    z^L, and of the outputs a^L for the quadratic cost, where H_L is the identity:
    either way G is positive semi-definite, and equals the Hessian where the network's
    outputs are linear in its parameters."""
    training, lmbda, threads = _check(net, training_data, lmbda, n_threads)
    vector = flatten(net, v, "v")
    _, flat = run(net, training, None, "gauss-newton", vector, lmbda, False, threads)
    return unflatten(net, cast(np.ndarray, flat))


def hessian(net: Any, training_data: Data, lmbda: float = 0.0,
            n_threads: Optional[int] = None) -> np.ndarray:
    """The (P, P) Hessian of the mean cost, parameters ordered w^1, b^1, w^2, b^2, ...
    each row-major: column j is H e_j, one exact product per parameter. Refused above
    MAX_HESSIAN_PARAMETERS parameters."""
    P = parameter_count(net)
    if P > MAX_HESSIAN_PARAMETERS:
        need = P * P * net.dtype.itemsize
        raise ValueError(f"the network has {P:,} parameters: its Hessian would take "
                         f"{need / 2**30:,.1f} GiB ({P:,} x {P:,} {net.dtype} values); "
                         f"hessian() builds it for at most {MAX_HESSIAN_PARAMETERS:,} "
                         "parameters (use hessian_vector_product instead)")
    training, lmbda, threads = _check(net, training_data, lmbda, n_threads)
    return hessian_of(net, training, None, lmbda, threads)


def hessian_of(net: Any, training: Samples, rows: Optional[np.ndarray], lmbda: float,
               n_threads: int) -> np.ndarray:
    """The Hessian over the rows `rows` of validated samples (all if None)."""
    P = parameter_count(net)
    H = np.empty((P, P), net.dtype)
    unit = np.zeros(P, net.dtype)
    for j in range(P):
        unit[j] = 1
        H[:, j] = run(net, training, rows, "hessian", unit, lmbda, False, n_threads)[1]
        unit[j] = 0
    return H
