"""`Network`: the book's MLPs (network.py, network2.py) trained by the C engine.

Arguments are validated here, once; then each epoch runs as a few chunks, each one
call into C that trains a contiguous run of mini-batches with the GIL released.
Between chunks Python only reports progress and lets signals through, so Ctrl-C
stops after a whole chunk, with consistent weights.
"""
from __future__ import annotations

import contextlib
import json
import os
import math
import numbers
import threading

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from nnfast import _kernels, _progress
from nnfast._kernels import MAX_LAYERS, Engine
from nnfast.costs import CrossEntropyCost, LogLikelihoodCost, QuadraticCost, resolve_cost
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, layer_from_spec

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
# Training or evaluation data: (X, y) arrays, or the book's list of (x, y) pairs.
Data = Union[Tuple[np.ndarray, np.ndarray], Sequence[Tuple[Any, Any]]]
PathLike = Union[str, "os.PathLike[str]"]
# About this many flops per engine call: 50-100 ms on one core of a small machine.
CHUNK_FLOPS = 1e9
# Rows per block when evaluating (feedforward, accuracy, cost).
FORWARD_BLOCK = 1024


class History(tuple):
    """What SGD monitored, one entry per epoch: network2's four lists, as a tuple
    (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy) that
    unpacks as network2.SGD's result, and, when asked for, chapter 5's gradient norms:
    per layer, the mean over the epoch's mini-batches of |dC/db|, the speed at which
    the layer learns."""

    gradient_norms: List[List[float]]

    def __new__(cls, evaluation_cost=(), evaluation_accuracy=(), training_cost=(),
                training_accuracy=(), gradient_norms=()):
        history = super().__new__(cls, (list(evaluation_cost), list(evaluation_accuracy),
                                        list(training_cost), list(training_accuracy)))
        history.gradient_norms = list(gradient_norms)
        return history

    evaluation_cost = property(lambda self: self[0])
    evaluation_accuracy = property(lambda self: self[1])
    training_cost = property(lambda self: self[2])
    training_accuracy = property(lambda self: self[3])


class Network:
    """A network of layers: the book's MLPs from a list of sizes, network3's from layers.

    Network([784, 30, 10]) is the book's chapter 1 net: fully connected layers with
    `activation` (sigmoid), weights N(0, 1/n_in) and biases N(0, 1) (network2's
    default_weight_initializer). Network([ConvPoolLayer(...), FullyConnectedLayer(...),
    SoftmaxLayer(...)]) is chapter 6's, started as network3 starts it; convolutional
    layers come first. `cost` is QuadraticCost, CrossEntropyCost (sigmoid outputs) or
    LogLikelihoodCost (a softmax output layer); None picks LogLikelihoodCost for a
    softmax output and CrossEntropyCost otherwise. Parameters are drawn from `seed`:
    one seed gives the same network, and the same training run, bit for bit, on any
    number of threads.
    """

    def __init__(self, sizes_or_layers: Sequence[Any], cost: Any = None,
                 dtype: Any = np.float32, seed: Optional[int] = None,
                 activation: str = "sigmoid") -> None:
        self.dtype = _check_dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self._in_use = threading.RLock()
        if _is_layer_list(sizes_or_layers):
            self.layers = _check_layers(sizes_or_layers)
            self.activation = None
        else:
            sizes = _check_sizes(sizes_or_layers)
            if activation not in HIDDEN_ACTIVATIONS:
                raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, "
                                 f"got {activation!r}")
            self.activation = activation
            output = (SoftmaxLayer(sizes[-2], sizes[-1]) if cost is not None
                      and resolve_cost(cost) is LogLikelihoodCost else
                      FullyConnectedLayer(sizes[-2], sizes[-1], activation))
            self.layers = [FullyConnectedLayer(n_in, n_out, activation)
                           for n_in, n_out in zip(sizes[:-2], sizes[1:-1])] + [output]
        self.sizes = (self.layers[0].n_in,) + tuple(layer.n_out for layer in self.layers)
        self.activations = tuple(layer.activation for layer in self.layers)
        if cost is None:
            cost = LogLikelihoodCost if self.activations[-1] == "softmax" else CrossEntropyCost
        self.cost = resolve_cost(cost)
        _check_cost_fits(self.cost, self.activations[-1])
        if self.activation is None:
            self._set_parameters(*zip(*(layer.initial_parameters(self._rng)
                                        for layer in self.layers)))
        else:
            self.default_weight_initializer()

    # ---- parameters: stored as the engine reads them, shown in the book's shapes ----

    def default_weight_initializer(self) -> None:
        """Weights N(0, 1/n_in), biases N(0, 1) (chapter 3)."""
        self._init(lambda n_in: 1 / np.sqrt(n_in))

    def large_weight_initializer(self) -> None:
        """Weights and biases N(0, 1) (chapter 1)."""
        self._init(lambda n_in: 1.0)

    def _init(self, weight_scale):
        if any(isinstance(layer, ConvPoolLayer) for layer in self.layers):
            raise ValueError("the book's initialisers are for fully connected networks")
        biases = [self._rng.standard_normal(n) for n in self.sizes[1:]]
        weights = [self._rng.standard_normal((n_out, n_in)) * weight_scale(n_in)
                   for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        self._set_parameters(weights, biases)

    def _set_parameters(self, weights, biases):
        # The engine reads each layer's parameters in the book's shapes, in place.
        # _wt, _b, _vwt, _vb are views of them: a dense layer's weights and velocities
        # transposed, (n_in, n_out) as network3 keeps them; a conv layer's as they are.
        stores = {"w": [], "b": [], "vw": [], "vb": []}
        for w, b in zip(weights, biases):
            stores["w"].append(np.array(w, dtype=self.dtype, order="C"))
            stores["b"].append(np.array(np.reshape(b, -1), dtype=self.dtype))
            stores["vw"].append(np.zeros_like(stores["w"][-1]))
            stores["vb"].append(np.zeros_like(stores["b"][-1]))
        self._engine = Engine([layer.spec() for layer in self.layers], self.cost.name,
                              stores["w"], stores["b"], stores["vw"], stores["vb"])
        self._wt = [w if w.ndim == 4 else w.T for w in stores["w"]]
        self._vwt = [v if v.ndim == 4 else v.T for v in stores["vw"]]
        self._b, self._vb = stores["b"], stores["vb"]
        self._stores = stores

    @property
    def weights(self) -> List[np.ndarray]:
        """Per layer, the weights in the book's shapes: (n_out, n_in) for a dense layer,
        (filters, channels, height, width) for a conv layer (views: writes go to the net)."""
        return [w if w.ndim == 4 else w.T for w in self._wt]

    @property
    def biases(self) -> List[np.ndarray]:
        """Per layer, the biases: an (n_out, 1) column for a dense layer, one per
        filter for a conv layer (views)."""
        return [b if w.ndim == 4 else b.reshape(-1, 1) for w, b in zip(self._wt, self._b)]

    # ---- evaluation ----

    def feedforward(self, x: np.ndarray) -> np.ndarray:
        """The output for each row of x (N, n_in); a column (n_in, 1) gives a column."""
        x = np.asarray(x)
        if x.ndim == 2 and x.shape == (self.sizes[0], 1) and self.sizes[0] != 1:
            return self._forward(_check_inputs(x.T, self.sizes[0], self.dtype, "x")).T
        return self._forward(_check_inputs(x, self.sizes[0], self.dtype, "x"))

    def _forward(self, X, n_threads=None):
        block = min(len(X), FORWARD_BLOCK) or 1
        threads = _threads(n_threads)
        with self._exclusive("evaluating"):
            return self._engine.forward(X, block, self._engine.workspace(block, threads),
                                        threads)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted class (the most active output neuron) for each row of X."""
        return np.argmax(self.feedforward(X), axis=1)

    def accuracy(self, data: Data) -> int:
        """How many of data's samples the network classifies correctly."""
        X, labels = self._data(data, "data")
        return int(np.sum(np.argmax(self._forward(X), axis=1) == labels))

    def evaluate(self, test_data: Data) -> int:
        """network.py's evaluate: the number of correctly classified test inputs."""
        return self.accuracy(test_data)

    def total_cost(self, data: Data, lmbda: float = 0.0, regularization: str = "l2") -> float:
        """The mean cost over data plus the regularisation term (network2.total_cost)."""
        X, labels = self._data(data, "data")
        lmbda = _check_real(lmbda, "lmbda", minimum=0.0)
        _check_regularization(regularization)
        a = self._forward(X).astype(np.float64)
        y = np.zeros_like(a)
        y[np.arange(len(labels)), labels] = 1
        cost = self.cost.fn(a, y) / len(X)
        if regularization == "l1":
            return cost + lmbda / len(X) * sum(np.abs(w).sum() for w in self._wt)
        return cost + 0.5 * (lmbda / len(X)) * sum(np.square(w, dtype=np.float64).sum()
                                                   for w in self._wt)

    # ---- training ----

    def SGD(self, training_data: Data, epochs: int, mini_batch_size: int, eta: float,
            lmbda: float = 0.0, evaluation_data: Optional[Data] = None,
            monitor_evaluation_cost: bool = False, monitor_evaluation_accuracy: bool = False,
            monitor_training_cost: bool = False, monitor_training_accuracy: bool = False,
            momentum: float = 0.0, regularization: str = "l2", early_stopping_n: int = 0,
            eta_schedule: Optional[Callable[[int], float]] = None,
            n_threads: Optional[int] = None,
            progress: Union[None, bool, Callable[[int, int, int], Any]] = None,
            monitor_gradient_norms: bool = False) -> History:
        """Mini-batch stochastic gradient descent, as network2.SGD.

        training_data and evaluation_data are (X, y) with X (N, n_in) and y integer
        labels (N,) or one-hot rows (N, n_out), or the book's lists of (x, y) column
        vectors. L2 regularisation decays w by (1 - eta*lmbda/n) per mini-batch; L1
        moves it by eta*lmbda/n toward 0; momentum keeps a velocity per parameter.
        eta_schedule(epoch) -> eta overrides eta per epoch; early_stopping_n stops
        after that many epochs without a better evaluation accuracy.
        monitor_gradient_norms records each layer's mean |dC/db| per epoch (chapter 5),
        computed by the engine as it trains.

        progress: None (the default) draws a progress bar per epoch on stderr (tqdm:
        samples done, samples/s) when stderr is a terminal and is silent otherwise;
        True always draws it, False never; a callable progress(epoch, rows_done, n) is
        called instead between the engine's chunks. Returns a History of the monitored
        lists (unpacks as network2's four).
        """
        X, labels = self._data(training_data, "training_data")
        epochs = _check_int(epochs, "epochs", minimum=1)
        mini_batch_size = _check_int(mini_batch_size, "mini_batch_size", minimum=1)
        eta = _check_real(eta, "eta", minimum=0.0, strict=True)
        lmbda = _check_real(lmbda, "lmbda", minimum=0.0)
        momentum = _check_real(momentum, "momentum", minimum=0.0)
        if momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        _check_regularization(regularization)
        early_stopping_n = _check_int(early_stopping_n, "early_stopping_n", minimum=0)
        if eta_schedule is not None and not callable(eta_schedule):
            raise TypeError("eta_schedule must be a callable epoch -> eta, or None")
        if not (progress is None or isinstance(progress, bool) or callable(progress)):
            raise TypeError("progress must be None, True, False or a callable "
                            "(epoch, rows_done, n)")
        threads = _threads(n_threads)
        evaluation = None
        if evaluation_data is not None:
            evaluation = self._data(evaluation_data, "evaluation_data")

        bar = None
        if not callable(progress):
            bar = _progress.EpochBar(epochs) if _progress.want_bar(progress) else None
            progress = bar
        with self._exclusive("SGD"):
            try:
                return self._sgd(X, labels, epochs, mini_batch_size, eta, lmbda, evaluation,
                                 monitor_evaluation_cost, monitor_evaluation_accuracy,
                                 monitor_training_cost, monitor_training_accuracy, momentum,
                                 regularization, early_stopping_n, eta_schedule, threads,
                                 progress, monitor_gradient_norms)
            finally:
                if bar is not None:
                    bar.close()

    def _sgd(self, X, labels, epochs, mini_batch_size, eta, lmbda, evaluation,
             monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost,
             monitor_training_accuracy, momentum, regularization, early_stopping_n,
             eta_schedule, threads, progress, monitor_gradient_norms):
        n = len(X)
        mini_batch_size = min(mini_batch_size, n)  # one short batch, as the book does
        history = History()
        norms = np.zeros(len(self.layers)) if monitor_gradient_norms else None
        work = self._engine.workspace(mini_batch_size, threads)
        best, since_best = -1, 0
        for epoch in range(epochs):
            epoch_eta = eta if eta_schedule is None else _check_real(
                eta_schedule(epoch), "eta_schedule(epoch)", minimum=0.0, strict=True)
            perm = self._rng.permutation(n)  # int64, as the engine reads it
            if norms is not None:
                norms[:] = 0
            self._train_epoch(X, labels, perm, mini_batch_size, epoch_eta, lmbda, momentum, n,
                              regularization, threads, epoch, work,
                              after_chunk=None if progress is None else
                              lambda done: progress(epoch, done, n), grad_norms=norms)
            if norms is not None:
                history.gradient_norms.append((norms / -(-n // mini_batch_size)).tolist())
            if monitor_training_cost:
                history.training_cost.append(self.total_cost((X, labels), lmbda, regularization))
            if monitor_training_accuracy:
                history.training_accuracy.append(self.accuracy((X, labels)))
            if evaluation is not None and monitor_evaluation_cost:
                history.evaluation_cost.append(self.total_cost(evaluation, lmbda, regularization))
            if evaluation is not None and (monitor_evaluation_accuracy or early_stopping_n):
                correct = self.accuracy(evaluation)
                if monitor_evaluation_accuracy:
                    history.evaluation_accuracy.append(correct)
                if early_stopping_n:
                    best, since_best = (correct, 0) if correct > best else (best, since_best + 1)
                    if since_best >= early_stopping_n:
                        break
        return history

    def _train_epoch(self, X, labels, order, mini_batch_size, eta, lmbda, momentum, n,
                     regularization, threads, epoch, work, before_chunk=None, after_chunk=None,
                     grad_norms=None):
        """Train on the rows `order` of X in mini-batches, one engine call per chunk of
        CHUNK_FLOPS; before_chunk(start, stop) and after_chunk(stop) see the rows done,
        and grad_norms, if given, sums each mini-batch's |dC/db| per layer.
        The weight decay is eta*lmbda/n. A chunk that leaves a weight non-finite is
        undone, and FloatingPointError names the epoch."""
        batches_per_chunk = max(1, int(CHUNK_FLOPS / (self._flops_per_sample() * mini_batch_size)))
        chunk = batches_per_chunk * mini_batch_size
        dropout = any(layer.p_dropout > 0 for layer in self.layers)
        parameters = [a for store in self._stores.values() for a in store]
        last_finite = [np.empty_like(a) for a in parameters]
        for start in range(0, len(order), chunk):
            stop = min(start + chunk, len(order))
            if before_chunk is not None:
                before_chunk(start, stop)
            # Masks are drawn only when there is dropout, so that other networks' runs
            # do not depend on it.
            seed = int(self._rng.integers(2**63)) if dropout else 0
            for kept, a in zip(last_finite, parameters):
                np.copyto(kept, a)
            self._engine.train_chunk(X, labels, order[start:stop], mini_batch_size, eta, lmbda,
                                     momentum, n, regularization, work, threads, seed,
                                     grad_norms)
            if not all(np.isfinite(a).all() for a in parameters):
                for kept, a in zip(last_finite, parameters):
                    np.copyto(a, kept)
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the weights stopped being finite; "
                    "they are back to those before the chunk that diverged (try a smaller eta)")
            if after_chunk is not None:
                after_chunk(stop)

    def _flops_per_sample(self):
        """Forward and backward, about three times the multiply-adds of the forward pass."""
        macs = 0
        for layer in self.layers:
            if isinstance(layer, ConvPoolLayer):
                f, c, kh, kw = layer.filter_shape
                _, h, w = layer.image_shape
                macs += f * c * kh * kw * (h - kh + 1) * (w - kw + 1)
            else:
                macs += layer.n_in * layer.n_out
        return 6 * macs

    @contextlib.contextmanager
    def _exclusive(self, what):
        """Training updates the weights in place with the GIL released: a second
        thread using the network meanwhile would read or write them half-updated."""
        if not self._in_use.acquire(blocking=False):
            raise RuntimeError(f"{what}: this network is in use by another thread; train or "
                               "evaluate one network from one thread at a time")
        try:
            yield
        finally:
            self._in_use.release()

    def _data(self, data, name):
        return as_training_data(data, self.sizes[0], self.sizes[-1], self.dtype, name)

    # ---- persistence ----

    def save(self, filename: PathLike) -> None:
        """Write the network as JSON: network2's format (sizes, weights, biases, cost)
        plus dtype and activation, or its layers instead of sizes for network3's nets."""
        record = {"weights": [w.astype(np.float64).tolist() for w in self.weights],
                  "biases": [b.astype(np.float64).tolist() for b in self.biases],
                  "cost": self.cost.__name__,
                  "dtype": self.dtype.name}
        if self.activation is None:
            record["layers"] = [layer.spec() for layer in self.layers]
        else:
            record.update(sizes=list(self.sizes), activation=self.activation)
        with open(filename, "w") as f:
            json.dump(record, f)


def load(filename: PathLike, dtype: Any = None) -> Network:
    """Read a network written by Network.save or by the book's network2.save.

    Only the known cost names and layer kinds are accepted and every shape and value
    is checked, before anything is allocated for the network; nothing is executed or
    unpickled. Any fault in the file is a ValueError that names it."""
    try:
        with open(filename) as f:
            record = json.load(f)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{filename}: not a network file (invalid JSON: {e})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{filename}: not a network file (not text)") from None
    try:
        return _network_from_record(record, dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{filename}: {e}") from None


def _network_from_record(record, dtype):
    if not isinstance(record, dict):
        raise ValueError("not a network file (expected a JSON object)")
    shape_key = "layers" if "layers" in record else "sizes"
    required = {shape_key, "weights", "biases", "cost"}
    allowed = required | ({"dtype"} if shape_key == "layers" else {"activation", "dtype"})
    if not required <= record.keys() or not record.keys() <= allowed:
        raise ValueError(f"a network file has the keys {sorted(required)} (and optionally "
                         f"{', '.join(sorted(allowed - required))}), got {sorted(record)}")
    dtype = record.get("dtype", "float64") if dtype is None else dtype
    if dtype not in ("float32", "float64") and not isinstance(dtype, (type, np.dtype)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    cost = resolve_cost(record["cost"])
    if shape_key == "layers":
        if not isinstance(record["layers"], list) or not record["layers"]:
            raise ValueError("layers must be a non-empty list")
        shape = _check_layers([layer_from_spec(spec) for spec in record["layers"]])
        weight_shapes = [layer.filter_shape if isinstance(layer, ConvPoolLayer)
                         else (layer.n_out, layer.n_in) for layer in shape]
        bias_shapes = [(layer.filter_shape[0],) if isinstance(layer, ConvPoolLayer)
                       else (layer.n_out, 1) for layer in shape]
        activation = "sigmoid"
    else:
        shape = _check_sizes(record["sizes"])
        weight_shapes = [(n_out, n_in) for n_in, n_out in zip(shape[:-1], shape[1:])]
        bias_shapes = [(n_out, 1) for n_out in shape[1:]]
        activation = record.get("activation", "sigmoid")
    # The parameters are checked against the shapes first, so that a file naming huge
    # layers allocates nothing.
    weights = _check_parameters(record["weights"], weight_shapes, "weights")
    biases = _check_parameters(record["biases"], bias_shapes, "biases")
    net = Network(shape, cost=cost, dtype=dtype, activation=activation)
    largest = float(np.finfo(net.dtype).max)
    for name, arrays in (("weights", weights), ("biases", biases)):
        for l, arr in enumerate(arrays):
            if arr.size and float(np.abs(arr).max()) > largest:
                raise ValueError(f"{name}[{l}] holds values beyond {net.dtype}'s range")
    net._set_parameters(weights, biases)
    return net


def _check_parameters(values, shapes, name):
    if not isinstance(values, list) or len(values) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices")
    arrays = []
    for l, (value, shape) in enumerate(zip(values, shapes)):
        try:
            arr = np.array(value)
        except (ValueError, TypeError, RecursionError):
            arr = None
        # Only JSON numbers: not strings NumPy would parse, not booleans, not integers
        # too large for a float (those come out as objects).
        if arr is None or arr.dtype.kind not in "fiu":
            raise ValueError(f"{name}[{l}] is not a matrix of numbers")
        if arr.shape != tuple(shape):
            raise ValueError(f"{name}[{l}] must have shape {tuple(shape)}, got {arr.shape}")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}[{l}] holds NaN or infinite values")
        arrays.append(arr)
    return arrays


# ---- argument checks, shared with the book's modules ----

def _is_layer_list(value):
    """Whether value lists layers (rather than sizes); a list mixing layers with
    anything else is an error that names the item."""
    if not isinstance(value, (list, tuple)):
        return False
    is_layer = [isinstance(v, (FullyConnectedLayer, ConvPoolLayer)) for v in value]
    if any(is_layer) and not all(is_layer):
        i = is_layer.index(False)
        raise TypeError(f"layers[{i}] must be a FullyConnectedLayer, ConvPoolLayer or "
                        f"SoftmaxLayer, got {type(value[i]).__name__}")
    return len(value) > 0 and all(is_layer)


def _check_layers(layers):
    layers = list(layers)
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"a network has at most {MAX_LAYERS} layers, got {len(layers)}")
    for i, (below, above) in enumerate(zip(layers, layers[1:])):
        if below.n_out != above.n_in:
            raise ValueError(f"layers[{i + 1}] takes {above.n_in} inputs but layers[{i}] "
                             f"gives {below.n_out}")
        if isinstance(above, ConvPoolLayer) and not isinstance(below, ConvPoolLayer):
            raise ValueError(f"layers[{i + 1}] is a ConvPoolLayer above a fully connected "
                             "layer: convolutional layers come first")
    if any(isinstance(layer, SoftmaxLayer) for layer in layers[:-1]):
        raise ValueError("a SoftmaxLayer can only be the output layer")
    if isinstance(layers[-1], ConvPoolLayer):
        raise ValueError("the output layer must be fully connected")
    return layers


def _check_cost_fits(cost, output_activation):
    if cost is CrossEntropyCost and output_activation != "sigmoid":
        raise ValueError("CrossEntropyCost needs sigmoid outputs: use sigmoid output neurons "
                         "or LogLikelihoodCost")
    if cost is LogLikelihoodCost and output_activation != "softmax":
        raise ValueError("LogLikelihoodCost needs a softmax output layer")
    if cost is QuadraticCost and output_activation == "softmax":
        raise ValueError("QuadraticCost needs an elementwise output activation, not softmax")


def _check_sizes(sizes):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer sizes, got {type(sizes).__name__}")
    if not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise ValueError(f"sizes must list 2 to {MAX_LAYERS + 1} layers, got {len(sizes)}")
    return tuple(_check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes))


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_real(value, name, minimum, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def _check_regularization(regularization):
    if regularization not in ("l2", "l1"):
        raise ValueError(f"regularization must be 'l2' or 'l1', got {regularization!r}")


def _threads(n_threads):
    if n_threads is None:
        return _kernels.get_num_threads()
    return _check_int(n_threads, "n_threads", minimum=1)


def _check_inputs(X, n_in, dtype, name):
    """X as a C-contiguous (N, n_in) array of dtype, with finite values."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}")
    if X.dtype.kind not in "fiu" or X.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (N, {n_in}), got {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty")
    X = np.ascontiguousarray(X, dtype=dtype)
    # min and max propagate NaN and show any infinity, without a mask as big as X.
    if not (np.isfinite(X.min()) and np.isfinite(X.max())):
        raise ValueError(f"{name} holds NaN or infinite values")
    return X


def _check_labels(y, n, n_out, name):
    """Integer class labels (n,) from labels or one-hot rows."""
    y = np.asarray(y)
    if y.dtype == np.bool_ or y.dtype.kind not in "fiu":
        raise TypeError(f"{name} labels must be integers or one-hot rows, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1 and n_out != 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape != (n, n_out):
            raise ValueError(f"{name} one-hot labels must have shape ({n}, {n_out}), got {y.shape}")
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise ValueError(f"{name} one-hot rows must hold a single 1 and zeros")
        return np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} labels must have shape ({n},) or ({n}, {n_out}), got {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"{name} labels must be whole numbers")
    if len(y) and (y.min() < 0 or y.max() >= n_out):
        raise ValueError(f"{name} labels must be in [0, {n_out}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return np.ascontiguousarray(y, dtype=np.int64)


def as_training_data(data, n_in, n_out, dtype, name):
    """(X, labels) from (X, y) arrays or the book's list of (x, y) column pairs."""
    # The book's data is a sequence of (x, y) pairs, so a first item that is itself an
    # array means (X, y).
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        X = _check_inputs(data[0], n_in, dtype, name)
        return X, _check_labels(data[1], len(X), n_out, name)
    if isinstance(data, (list, tuple)) or hasattr(data, "__iter__") and not isinstance(data, np.ndarray):
        pairs = list(data)
        if not pairs:
            raise ValueError(f"{name} is empty")
        try:
            xs, ys = zip(*pairs)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be (X, y) arrays or a list of (x, y) pairs") from None
        X = np.stack([np.asarray(x).reshape(-1) for x in xs])
        X = _check_inputs(X, n_in, dtype, name)
        first = np.asarray(ys[0])
        if first.ndim == 0:
            y = np.asarray(ys)
        else:
            y = np.stack([np.asarray(v).reshape(-1) for v in ys])
        return X, _check_labels(y, len(X), n_out, name)
    raise TypeError(f"{name} must be (X, y) arrays or a list of (x, y) pairs, "
                    f"got {type(data).__name__}")
