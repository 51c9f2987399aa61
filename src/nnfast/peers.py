"""The book's networks trained by other libraries, as calls to time beside nnfast's
(`nnfast bench`, benches/): PyTorch on the threads asked for, and JAX with a whole
epoch in one XLA program, a `jax.jit` over a `lax.scan` of the mini-batches' SGD
steps, which no Python runs between: the strongest answer at small mini-batches.

The fully connected sigmoid networks of chapters 1-3 (`torch_epoch`, `jax_epoch`)
start from `oracle.default_weight_initializer`'s weights (seed 0); chapter 6's
networks of nnfast layers (`torch_conv_epoch`, `jax_conv_epoch`) from the layers'
own `initial_parameters`, drawn in order from seed 0 as `nnfast.Network(layers,
seed=0)` draws them. Each draws its epochs' order from `np.random.default_rng(1)` and
takes nnfast's L2 step w <- (1 - eta*lmbda/n) w on the weights alone, so that its
first epoch is the NumPy oracle's arithmetic up to rounding (tests/test_peers.py
holds it to that in float64). Neither library is required: a caller asks for a
peer only where `torch` or `jax` imports.
"""
from __future__ import annotations

import os
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

from nnfast import oracle
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer

COSTS = ("quadratic", "cross-entropy")
ACTIVATIONS = ("sigmoid", "relu", "tanh", "linear")


class Epoch:
    """One SGD epoch of a peer per call; `parameters()` the weights and biases it has
    reached, as NumPy arrays [(w, b), ...], each w shaped as nnfast's layer holds it:
    (n_out, n_in), or a conv layer's filter_shape."""

    def __init__(self, train: Callable[[], None],
                 parameters: Callable[[], List[Tuple[np.ndarray, np.ndarray]]]):
        self._train = train
        self.parameters = parameters

    def __call__(self) -> None:
        self._train()


def _check_data(n_in: int, X: np.ndarray, y: np.ndarray) -> None:
    if X.ndim != 2 or X.shape[1] != n_in or len(y) != len(X):
        raise ValueError(f"X must be (n, {n_in}) and y (n,), not {X.shape} and {np.shape(y)}")


def _check(sizes: Sequence[int], cost: str, X: np.ndarray, y: np.ndarray) -> None:
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {COSTS}, not {cost!r}")
    _check_data(sizes[0], X, y)


def _start(sizes: Sequence[int], dtype) -> List[Tuple[np.ndarray, np.ndarray]]:
    weights, biases = oracle.default_weight_initializer(list(sizes), np.random.default_rng(0),
                                                        dtype)
    return list(zip(weights, biases))


def torch_trainer(products: Sequence[Any], model: Any, loss: Callable, X: np.ndarray,
                  targets: np.ndarray, mini_batch_size: int, eta: float, lmbda: float,
                  threads: int) -> Epoch:
    """An epoch of plain SGD on `loss(model(x), targets)` (a mini-batch's mean cost) per
    call, on `threads` threads, the mini-batches of a fresh permutation; nnfast's L2
    step w <- (1 - eta*lmbda/n) w as SGD's weight decay lmbda/n on the weights of
    `products` (the Linear and Conv2d modules) alone, not their biases, as in the book."""
    import torch

    opt = torch.optim.SGD([{"params": [m.weight for m in products], "weight_decay": lmbda / len(X)},
                           {"params": [m.bias for m in products], "weight_decay": 0.0}], lr=eta)
    Xt, targets_t = torch.from_numpy(X), torch.from_numpy(targets)
    order = np.random.default_rng(1)

    def train():
        torch.set_num_threads(threads)
        for idx in torch.from_numpy(order.permutation(len(X))).split(mini_batch_size):
            opt.zero_grad()
            loss(model(Xt[idx]), targets_t[idx]).backward()
            opt.step()

    def parameters():
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
                for m in products]
    return Epoch(train, parameters)


def torch_epoch(sizes: Sequence[int], cost: str, X: np.ndarray, y: np.ndarray,
                mini_batch_size: int, eta: float, lmbda: float = 0.0,
                threads: int = 1) -> Epoch:
    """The sigmoid network `sizes` in PyTorch (torch_trainer), in X's dtype: Linear and
    Sigmoid modules, the cost from the last layer's z (cross-entropy through
    binary_cross_entropy_with_logits: sigmoid(z) - y, never log 0)."""
    _check(sizes, cost, X, y)
    import torch

    dtype = torch.from_numpy(X[:0]).dtype
    linears = [torch.nn.Linear(n_in, n_out, dtype=dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    with torch.no_grad():
        for linear, (w, b) in zip(linears, _start(sizes, X.dtype)):
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
    modules: List[Any] = []
    for linear in linears:
        modules += [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*modules[:-1])  # the output's z: the cost applies sigma

    def loss(z, target):
        if cost == "quadratic":
            return 0.5 * ((torch.sigmoid(z) - target) ** 2).sum() / len(z)
        return torch.nn.functional.binary_cross_entropy_with_logits(
            z, target, reduction="sum") / len(z)
    return torch_trainer(linears, model, loss, X,
                         oracle.vectorized_result(np.asarray(y), sizes[-1], X.dtype),
                         mini_batch_size, eta, lmbda, threads)


def jax_threads() -> int:
    """The threads XLA's CPU client computes on in this process: one under
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    else every core the process may run on. XLA sizes its pool once per process, so a
    JAX peer is timed only where this is the thread count asked for."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "--xla_cpu_multi_thread_eigen=false" in flags and "intra_op_parallelism_threads=1" in flags:
        return 1
    return len(os.sched_getaffinity(0))


def jax_trainer(params, cost: Callable, X: np.ndarray, labels: np.ndarray,
                mini_batch_size: int, eta: float, lmbda: float) -> Epoch:
    """An epoch of plain SGD on `cost(params, x, labels)` (a mini-batch's mean cost,
    params [(w, b), ...]) per call, in one compiled XLA program: the mini-batches of a
    fresh permutation in a lax.scan of SGD steps, then the last, smaller batch where
    the size does not divide the data; nnfast's L2 step as the gradient of
    0.5 * (lmbda/n) * |w|^2 added to the cost. Compiled here, so that a timed call only
    runs."""
    import jax
    import jax.numpy as jnp

    Xj, yj = jnp.asarray(X), jnp.asarray(labels)
    full = len(X) // mini_batch_size * mini_batch_size
    decay = lmbda / len(X)

    def regularized(params, x, labels):
        return cost(params, x, labels) + 0.5 * decay * sum(jnp.sum(w * w) for w, _ in params)

    def step(params, idx):
        grads = jax.grad(regularized)(params, Xj[idx], yj[idx])
        return jax.tree.map(lambda p, g: p - eta * g, params, grads), None

    def epoch(params, perm):
        params, _ = jax.lax.scan(step, params, perm[:full].reshape(-1, mini_batch_size))
        if full < len(X):
            params, _ = step(params, perm[full:])
        return params

    state = {"params": params, "order": np.random.default_rng(1)}
    compiled = jax.jit(epoch).lower(params, jnp.arange(len(X))).compile()

    def train():
        perm = jnp.asarray(state["order"].permutation(len(X)))
        state["params"] = jax.block_until_ready(compiled(state["params"], perm))

    def parameters():
        return [tuple(np.asarray(p) for p in layer) for layer in state["params"]]
    return Epoch(train, parameters)


def jax_epoch(sizes: Sequence[int], cost: str, X: np.ndarray, y: np.ndarray,
              mini_batch_size: int, eta: float, lmbda: float = 0.0) -> Epoch:
    """The sigmoid network `sizes` in JAX (jax_trainer), in X's dtype (float64 wants
    jax_enable_x64), the cost from the last layer's z."""
    _check(sizes, cost, X, y)
    import jax
    import jax.numpy as jnp

    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in _start(sizes, X.dtype)]

    def mean_cost(params, x, labels):
        a = x
        for w, b in params[:-1]:
            a = jax.nn.sigmoid(a @ w.T + b)
        z = a @ params[-1][0].T + params[-1][1]
        target = jax.nn.one_hot(labels, z.shape[1], dtype=z.dtype)
        if cost == "quadratic":
            c = 0.5 * jnp.sum((jax.nn.sigmoid(z) - target) ** 2)
        else:  # cross-entropy of sigmoid outputs, from z so that it never takes log 0
            c = -jnp.sum(target * jax.nn.log_sigmoid(z) + (1 - target) * jax.nn.log_sigmoid(-z))
        return c / len(x)
    return jax_trainer(params, mean_cost, X, np.asarray(y), mini_batch_size, eta, lmbda)


def _check_layers(layers: Sequence[Any], X: np.ndarray, y: np.ndarray) -> None:
    if not layers or not isinstance(layers[-1], SoftmaxLayer):
        raise ValueError("layers must end in a SoftmaxLayer (the log-likelihood cost)")
    for layer in layers:
        if not isinstance(layer, (ConvPoolLayer, FullyConnectedLayer)):
            raise TypeError(f"layers must be ConvPoolLayer, FullyConnectedLayer or "
                            f"SoftmaxLayer, not {type(layer).__name__}")
        if layer.p_dropout:
            raise ValueError("the peers train without dropout")
        if isinstance(layer, ConvPoolLayer) and layer.ties == "all":
            raise ValueError("the peers' pools pass a tied window's gradient to its first "
                             "maximum (ties='first')")
        if not isinstance(layer, SoftmaxLayer) and layer.activation not in ACTIVATIONS:
            raise ValueError(f"activations must be one of {ACTIVATIONS}, not "
                             f"{layer.activation!r}")
    _check_data(layers[0].n_in, X, y)


def _layer_start(layers: Sequence[Any], dtype) -> List[Tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    start = []
    for layer in layers:
        w, b = layer.initial_parameters(rng)
        start.append((np.asarray(w, dtype), np.asarray(b, dtype)))
    return start


def torch_conv_epoch(layers: Sequence[Any], X: np.ndarray, y: np.ndarray,
                     mini_batch_size: int, eta: float, lmbda: float = 0.0,
                     threads: int = 1) -> Epoch:
    """nnfast's `layers` in PyTorch (torch_trainer), in X's dtype: a ConvPoolLayer as Conv2d (a
    cross-correlation, as nnfast's), MaxPool2d and its activation, the bias added
    before the pool (the same maximum, a window's bias being one number); the
    SoftmaxLayer's z into cross_entropy, the log-likelihood's mean."""
    _check_layers(layers, X, y)
    import torch

    dtype = torch.from_numpy(X[:0]).dtype
    activation = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                  "linear": torch.nn.Identity}
    modules: List[Any] = []
    weighted: List[Any] = []
    for layer, (w, b) in zip(layers, _layer_start(layers, X.dtype)):
        if isinstance(layer, ConvPoolLayer):
            f, c, kh, kw = layer.filter_shape
            product: Any = torch.nn.Conv2d(c, f, (kh, kw), dtype=dtype)
            modules += [torch.nn.Unflatten(1, layer.image_shape), product,
                        torch.nn.MaxPool2d(layer.poolsize), activation[layer.activation](),
                        torch.nn.Flatten()]
        else:
            product = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
            modules.append(product)
            if not isinstance(layer, SoftmaxLayer):
                modules.append(activation[layer.activation]())
        with torch.no_grad():
            product.weight.copy_(torch.from_numpy(w))
            product.bias.copy_(torch.from_numpy(b))
        weighted.append(product)
    return torch_trainer(weighted, torch.nn.Sequential(*modules),
                         torch.nn.functional.cross_entropy, X, np.asarray(y, np.int64),
                         mini_batch_size, eta, lmbda, threads)


def jax_conv_epoch(layers: Sequence[Any], X: np.ndarray, y: np.ndarray,
                   mini_batch_size: int, eta: float, lmbda: float = 0.0) -> Epoch:
    """nnfast's `layers` in JAX (jax_trainer), in X's dtype (float64 wants
    jax_enable_x64): a ConvPoolLayer as lax.conv (a cross-correlation, as nnfast's),
    a max over each window (lax.reduce_window), the bias, the activation; the
    log-likelihood's mean from log_softmax."""
    _check_layers(layers, X, y)
    import jax
    import jax.numpy as jnp

    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in _layer_start(layers, X.dtype)]
    activation = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu, "tanh": jnp.tanh,
                  "linear": lambda z: z}

    def mean_cost(params, x, labels):
        a = x
        for layer, (w, b) in zip(layers, params):
            if isinstance(layer, ConvPoolLayer):
                z = jax.lax.conv(a.reshape((len(x),) + layer.image_shape), w, (1, 1), "VALID")
                window = (1, 1) + layer.poolsize
                z = jax.lax.reduce_window(z, -jnp.inf, jax.lax.max, window, window, "VALID")
                a = activation[layer.activation](z + b[None, :, None, None]).reshape(len(x), -1)
            elif isinstance(layer, SoftmaxLayer):
                log_p = jax.nn.log_softmax(a @ w.T + b)
            else:
                a = activation[layer.activation](a @ w.T + b)
        picked = jnp.take_along_axis(log_p, labels[:, None], axis=1)
        return -jnp.mean(picked)
    return jax_trainer(params, mean_cost, X, np.asarray(y), mini_batch_size, eta, lmbda)
