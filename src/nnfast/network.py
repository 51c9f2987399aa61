"""`Network`: the book's networks (network.py, network2.py, network3.py) over one
parameter block that the C engine trains in place.

Arguments are validated here and in :mod:`nnfast.checks`, once; training runs
through :class:`nnfast.training.Trainer`, which feeds the engine chunk by chunk.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import threading

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from nnfast import _progress, curvature, hessian_free
from nnfast._kernels import MAX_LAYERS, Engine
from nnfast.checks import (Data, Samples, as_array, as_samples, check_dtype, check_inputs,
                           check_int, check_real, check_regularization)
from nnfast.costs import (CrossEntropyCost, LogLikelihoodCost, check_cost, cost_name, is_builtin,
                          resolve_cost)
from nnfast.files import checked_path, write_atomically
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, layer_from_spec
from nnfast.maths import one_hot
from nnfast.training import (History, Monitor, SGDConfig, Trainer, check_threads,
                             standard_monitors)

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
PathLike = Union[str, "os.PathLike[str]"]
# Rows per block when evaluating (feedforward, accuracy, cost).
FORWARD_BLOCK = 1024

# Where each array of a network's parameter block starts: on a cache line.
PARAMETER_ALIGNMENT = 64

__all__ = ["History", "Network", "SGDConfig", "load"]


class Network:
    """A network of layers: the book's MLPs from a list of sizes, network3's from layers.

    Network([784, 30, 10]) is the book's chapter 1 net: fully connected layers with
    `activation` (sigmoid), weights N(0, 1/n_in) and biases N(0, 1) (network2's
    default_weight_initializer). Network([ConvPoolLayer(...), FullyConnectedLayer(...),
    SoftmaxLayer(...)]) is chapter 6's, started as network3 starts it; convolutional
    layers come first. `cost` is QuadraticCost, CrossEntropyCost (sigmoid outputs) or
    LogLikelihoodCost (a softmax output layer); None picks LogLikelihoodCost for a
    softmax output and CrossEntropyCost otherwise. A cost of one's own, any object
    with fn(a, y) and delta(z, a, y) as the book's exercises write them, works too:
    they are called on a batch, one row per sample (the book's costs are elementwise
    and summed, so they work unchanged), and SGD computes BP1 with its delta once per
    mini-batch in Python, the rest in the engine. Parameters are drawn from `seed`:
    one seed gives the same network, and the same training run, bit for bit, on any
    number of threads.

    All parameters live in one block (llm.c's params_memory): per layer the weights
    and biases, then per layer their momentum velocities. `weights` and `biases` are
    views of it in the book's shapes. A network pickles and deep-copies to an
    independent, equal network (parameters, velocities, random state, dtype).
    """

    def __init__(self, sizes_or_layers: Sequence[Any], cost: Any = None,
                 dtype: Any = np.float32, seed: Optional[int] = None,
                 activation: str = "sigmoid") -> None:
        dtype = check_dtype(dtype)
        seed = _check_seed(seed)
        if cost is not None:
            cost = check_cost(cost)
        hidden: Optional[str] = None  # the hidden layers' activation, for sizes
        if _is_layer_list(sizes_or_layers):
            layers = _check_layers(sizes_or_layers)
        else:
            sizes = _check_sizes(sizes_or_layers)
            if activation not in HIDDEN_ACTIVATIONS:
                raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, "
                                 f"got {activation!r}")
            output = (SoftmaxLayer(sizes[-2], sizes[-1]) if cost is LogLikelihoodCost else
                      FullyConnectedLayer(sizes[-2], sizes[-1], activation))
            layers = [FullyConnectedLayer(n_in, n_out, activation)
                      for n_in, n_out in zip(sizes[:-2], sizes[1:-1])] + [output]
            hidden = activation
        if cost is None:
            cost = LogLikelihoodCost if layers[-1].activation == "softmax" else CrossEntropyCost
        if is_builtin(cost):
            cost.check_output_activation(layers[-1].activation)
        self._build(layers, cost, dtype, hidden)
        self._rng = np.random.default_rng(seed)
        if self.activation is None:
            for l, layer in enumerate(self.layers):
                w, b = layer.initial_parameters(self._rng)
                self._w[l][...] = w
                self._b[l][...] = b
        else:
            self.default_weight_initializer()

    def _build(self, layers, cost, dtype, activation):
        """The network's shape and its zeroed parameter block, and the engine over it."""
        self.layers, self.cost, self.dtype, self.activation = layers, cost, dtype, activation
        self.sizes = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
        self.activations = tuple(layer.activation for layer in layers)
        self._in_use = threading.RLock()
        self._workspace: Optional[np.ndarray] = None
        self._workspace_key: Optional[Tuple[int, int]] = None
        shapes = [(layer.filter_shape, (layer.filter_shape[0],))
                  if isinstance(layer, ConvPoolLayer) else ((layer.n_out, layer.n_in),
                                                            (layer.n_out,))
                  for layer in layers]
        sizes = [int(np.prod(shape, dtype=np.float64)) for pair in shapes for shape in pair]
        total = 2 * sum(sizes)  # parameters, then their velocities
        # The block and the copy a diverging chunk is rolled back to, before any of it
        # is touched: a network too large for the machine is refused, not swapped.
        need = 2 * total * dtype.itemsize
        if need > _physical_memory():
            raise ValueError(f"the network's layers hold {total // 2:,} parameters: "
                             f"{need / 2**30:,.1f} GiB with their velocities and the "
                             f"rollback copy, more than this machine's "
                             f"{_physical_memory() / 2**30:,.1f} GiB")
        # Each array starts on a cache line: the kernels read a weight row 64 bytes at a
        # time, and a row that straddles two lines costs two reads (with w off a line,
        # W4's dense update took 20% longer and its forward product 50%).
        line = PARAMETER_ALIGNMENT // dtype.itemsize
        offsets, end = [], 0
        for shape in [shape for _ in range(2) for pair in shapes for shape in pair]:
            offsets.append((end, shape))
            end += -(-int(np.prod(shape)) // line) * line
        self._params = _aligned_zeros(end, dtype)
        self._snapshot = np.empty_like(self._params)
        views = [self._params[offset:offset + int(np.prod(shape))].reshape(shape)
                 for offset, shape in offsets]
        self._parts = views
        L = len(layers)
        self._w, self._b = views[0:2 * L:2], views[1:2 * L:2]
        self._vw, self._vb = views[2 * L::2], views[2 * L + 1::2]
        # network3's shapes: a dense layer's weights (and velocities) as (n_in, n_out).
        self._wt = [w if w.ndim == 4 else w.T for w in self._w]
        self._vwt = [v if v.ndim == 4 else v.T for v in self._vw]
        self._engine = Engine([layer.spec() for layer in layers],
                              cost.name if is_builtin(cost) else "caller",
                              self._w, self._b, self._vw, self._vb)

    # ---- parameters ----

    def default_weight_initializer(self) -> None:
        """Weights N(0, 1/n_in), biases N(0, 1) (chapter 3); velocities zero."""
        self._init(lambda n_in: 1 / np.sqrt(n_in))

    def large_weight_initializer(self) -> None:
        """Weights and biases N(0, 1) (chapter 1); velocities zero."""
        self._init(lambda n_in: 1.0)

    def _init(self, weight_scale):
        if any(isinstance(layer, ConvPoolLayer) for layer in self.layers):
            raise ValueError("the book's initialisers are for fully connected networks")
        with self.exclusive("initialising the weights"):
            biases = [self._rng.standard_normal(n) for n in self.sizes[1:]]
            weights = [self._rng.standard_normal((n_out, n_in)) * weight_scale(n_in)
                       for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
            for w, b, w_new, b_new in zip(self._w, self._b, weights, biases):
                w[...] = w_new
                b[...] = b_new
            for v in self._vw + self._vb:
                v[...] = 0

    @property
    def weights(self) -> List[np.ndarray]:
        """Per layer, the weights in the book's shapes: (n_out, n_in) for a dense layer,
        (filters, channels, height, width) for a conv layer (views: writes go to the net)."""
        return list(self._w)

    @property
    def biases(self) -> List[np.ndarray]:
        """Per layer, the biases: an (n_out, 1) column for a dense layer, one per
        filter for a conv layer (views)."""
        return [b if w.ndim == 4 else b.reshape(-1, 1) for w, b in zip(self._w, self._b)]

    # ---- copies ----

    def __getstate__(self) -> Dict[str, Any]:
        with self.exclusive("pickling"):
            return {"layers": [layer.spec() for layer in self.layers],
                    "activation": self.activation,
                    # a reader's cost pickles as itself (by reference, for a class)
                    "cost": self.cost.__name__ if is_builtin(self.cost) else self.cost,
                    "dtype": self.dtype.name, "parameters": self._packed_parameters(),
                    "rng": self._rng.bit_generator.state}

    def _packed_parameters(self, velocities: bool = True) -> np.ndarray:
        """The weights and biases in parameter order, then, with velocities, theirs,
        without the block's padding: a layout that does not depend on the block's
        alignment."""
        return np.concatenate([part.reshape(-1) for part in self._packed_parts(velocities)])

    def _unpack_parameters(self, packed: np.ndarray, velocities: bool = True) -> None:
        """The arrays _packed_parameters packed, from packed (cast to the dtype)."""
        offset = 0
        for part in self._packed_parts(velocities):
            part.reshape(-1)[...] = packed[offset:offset + part.size]
            offset += part.size

    def _packed_parts(self, velocities: bool) -> List[np.ndarray]:
        return self._parts if velocities else self._parts[:2 * len(self._w)]

    def __setstate__(self, state: Dict[str, Any]) -> None:
        layers = [layer_from_spec(spec) for spec in state["layers"]]
        self._build(layers, check_cost(state["cost"]), check_dtype(state["dtype"]),
                    state["activation"])
        self._unpack_parameters(state["parameters"])
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]

    def __copy__(self) -> "Network":
        # A shallow copy would share the parameters, the engine and the lock with the
        # original: a copy of a network is always a whole, independent one.
        return copy.deepcopy(self)

    # ---- evaluation ----

    def feedforward(self, x: np.ndarray) -> np.ndarray:
        """The output for each row of x (N, n_in); a column (n_in, 1) gives a column."""
        x = as_array(x, "x")
        if x.ndim == 2 and x.shape == (self.sizes[0], 1) and self.sizes[0] != 1:
            return self._forward(self._inputs(x.T, "x")).T
        return self._forward(self._inputs(x, "x"))

    def _inputs(self, x, name):
        return check_inputs(as_array(x, name), self.sizes[0], self.dtype, name)

    def _forward(self, X, n_threads=None):
        block = min(len(X), FORWARD_BLOCK) or 1
        threads = check_threads(n_threads)
        with self.exclusive("evaluating"):
            return self._engine.forward(X, block, self._engine.workspace(block, threads, False),
                                        threads)

    def _training_workspace(self, rows, n_threads):
        """The engine's scratch for mini-batches of `rows`, kept from one call to the
        next: the book's update_mini_batch trains one mini-batch per call."""
        if self._workspace_key != (rows, n_threads):
            self._workspace = None  # free the old one first
            self._workspace = self._engine.workspace(rows, n_threads)
            self._workspace_key = (rows, n_threads)
        return self._workspace

    def predict(self, X: np.ndarray, name: str = "X") -> np.ndarray:
        """The predicted class (the most active output neuron) for each row of X
        (N, n_in). Rows only: feedforward's column (n_in, 1) would be n_in rows of one
        value each, refused by name (`name`, for a caller that passes X on)."""
        return np.argmax(self._forward(self._inputs(X, name)), axis=1)

    def accuracy(self, data: Data, n_threads: Optional[int] = None) -> int:
        """How many of data's samples the network classifies correctly (on n_threads
        threads, None: the default count)."""
        X, labels = self.samples(data, "data")
        return int(np.sum(np.argmax(self._forward(X, n_threads), axis=1) == labels))

    def evaluate(self, test_data: Data) -> int:
        """network.py's evaluate: the number of correctly classified test inputs."""
        return self.accuracy(test_data)

    def total_cost(self, data: Data, lmbda: float = 0.0, regularization: str = "l2",
                   n_threads: Optional[int] = None) -> float:
        """The mean cost over data plus the regularisation term (network2.total_cost),
        on n_threads threads (None: the default count)."""
        X, labels = self.samples(data, "data")
        lmbda = check_real(lmbda, "lmbda", minimum=0.0)
        check_regularization(regularization)
        with self.exclusive("evaluating"):
            a = self._forward(X, n_threads).astype(np.float64)
            if regularization == "l1":
                penalty = lmbda / len(X) * sum(np.abs(w).sum() for w in self._w)
            else:
                penalty = 0.5 * (lmbda / len(X)) * sum(np.square(w, dtype=np.float64).sum()
                                                       for w in self._w)
        y = one_hot(labels, a.shape[1])
        return self.cost.fn(a, y) / len(X) + penalty

    def samples(self, data: Data, name: str = "data") -> Samples:
        """data validated for this network: (X, labels) with X (N, n_in) of the
        network's dtype and labels class indices. Passing the result again anywhere
        data is taken costs nothing more."""
        return as_samples(data, self.sizes[0], self.sizes[-1], self.dtype, name)

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
        training = self.samples(training_data, "training_data")
        config = SGDConfig(epochs, mini_batch_size, eta, lmbda, momentum, regularization,
                           eta_schedule, n_threads=n_threads)
        early_stopping_n = check_int(early_stopping_n, "early_stopping_n", minimum=0)
        evaluation = (None if evaluation_data is None
                      else self.samples(evaluation_data, "evaluation_data"))
        monitors = standard_monitors(
            evaluation, config.lmbda, config.regularization, len(self.layers),
            training_cost=monitor_training_cost, training_accuracy=monitor_training_accuracy,
            evaluation_cost=monitor_evaluation_cost,
            evaluation_accuracy=monitor_evaluation_accuracy, early_stopping_n=early_stopping_n,
            gradient_norms=monitor_gradient_norms, n_threads=config.n_threads)
        return self.train(training, config, monitors, progress)

    def train(self, training_data: Data, config: SGDConfig, monitors: Sequence[Monitor] = (),
              progress: Union[None, bool, Callable[[int, int, int], Any]] = None) -> History:
        """Train as `config` says, with `monitors` watching each epoch: what SGD does
        underneath, for the book's modules and for loops of one's own. The network is
        held for the whole run: another thread's use of it meanwhile is refused."""
        training = self.samples(training_data, "training_data")
        if not isinstance(config, SGDConfig):
            raise TypeError(f"config must be an SGDConfig, got {type(config).__name__}")
        monitors = list(monitors)
        for i, monitor in enumerate(monitors):
            if not isinstance(monitor, Monitor):
                raise TypeError(f"monitors[{i}] must be a Monitor, got {type(monitor).__name__}")
        trainer = Trainer(self, self._engine, self._params, self._snapshot, self._rng,
                          self._training_workspace, self._flops_per_sample(),
                          any(layer.p_dropout > 0 for layer in self.layers),
                          None if is_builtin(self.cost) else self.cost)
        with _progress.reporting(progress, config.epochs) as report, self.exclusive("SGD"):
            return trainer.run(training, config, monitors, report)

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
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold the network for a whole operation (`what` names it in the error): a
        second thread that tries to use it meanwhile gets a RuntimeError. Training
        updates the weights in place with the GIL released, so another thread would
        read or write them half-updated. The holder's own thread may nest."""
        if not self._in_use.acquire(blocking=False):
            raise RuntimeError(f"{what}: this network is in use by another thread; train or "
                               "evaluate one network from one thread at a time")
        try:
            yield
        finally:
            self._in_use.release()

    # ---- persistence ----

    def save(self, filename: PathLike) -> None:
        """Write the network as JSON: network2's format (sizes, weights, biases, cost)
        plus dtype and activation, or its layers instead of sizes for network3's nets.
        The file is replaced whole or not at all (written beside it, then renamed).
        A cost of one's own is recorded by its class's name, as the book's save does;
        load knows only the built-in names."""
        filename = checked_path(filename)
        with self.exclusive("saving"):
            record = {"weights": [w.astype(np.float64).tolist() for w in self.weights],
                      "biases": [b.astype(np.float64).tolist() for b in self.biases],
                      "cost": cost_name(self.cost),
                      "dtype": self.dtype.name}
        if self.activation is None:
            record["layers"] = [layer.spec() for layer in self.layers]
        else:
            record.update(sizes=list(self.sizes), activation=self.activation)
        write_atomically(filename, json.dumps(record))

    # ---- curvature: the Hessian technique of chapter 3 (nnfast.curvature) ----

    def gradient(self, training_data: Data, lmbda: float = 0.0,
                 n_threads: Optional[int] = None) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(nabla_w, nabla_b) of total_cost(training_data, lmbda), shaped like weights
        and biases. Dropout layers count as at inference."""
        return curvature.gradient(self, training_data, lmbda, n_threads)

    def hessian_vector_product(self, training_data: Data, v: Any, lmbda: float = 0.0,
                               n_threads: Optional[int] = None
                               ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(Hv_w, Hv_b): the Hessian of total_cost times v = (v_w, v_b), exact, by
        Pearlmutter's R-operator."""
        return curvature.hessian_vector_product(self, training_data, v, lmbda, n_threads)

    def gauss_newton_vector_product(self, training_data: Data, v: Any, lmbda: float = 0.0,
                                    n_threads: Optional[int] = None
                                    ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(Gv_w, Gv_b): the Gauss-Newton matrix of total_cost (positive semi-definite)
        times v."""
        return curvature.gauss_newton_vector_product(self, training_data, v, lmbda, n_threads)

    def hessian(self, training_data: Data, lmbda: float = 0.0,
                n_threads: Optional[int] = None) -> np.ndarray:
        """The (P, P) Hessian of total_cost for a small network, parameters ordered
        w1, b1, w2, b2, ... each row-major."""
        return curvature.hessian(self, training_data, lmbda, n_threads)

    def hessian_free(self, training_data: Data, epochs: int, mini_batch_size: int,
                     lmbda: float = 0.0, damping: float = 0.1, cg_iterations: int = 50,
                     curvature_batch_size: Optional[int] = None, method: str = "hessian-free",
                     evaluation_data: Optional[Data] = None,
                     monitor_evaluation_cost: bool = False,
                     monitor_evaluation_accuracy: bool = False,
                     monitor_training_cost: bool = False,
                     monitor_training_accuracy: bool = False, early_stopping_n: int = 0,
                     n_threads: Optional[int] = None,
                     progress: Union[None, bool, Callable[[int, int, int], Any]] = None
                     ) -> History:
        """Second-order training (nnfast.hessian_free): per mini-batch, truncated CG on
        (G + damping I) d = -grad C with Gauss-Newton products over its first
        curvature_batch_size samples (Martens 2010), or with method="newton" the
        explicit Hessian (small networks). damping starts the Levenberg-Marquardt
        damping; the monitors, progress and result are SGD's."""
        training = self.samples(training_data, "training_data")
        config = hessian_free.HessianFreeConfig(epochs, mini_batch_size, lmbda, damping,
                                                cg_iterations, curvature_batch_size, method,
                                                n_threads)
        early_stopping_n = check_int(early_stopping_n, "early_stopping_n", minimum=0)
        evaluation = (None if evaluation_data is None
                      else self.samples(evaluation_data, "evaluation_data"))
        monitors = standard_monitors(
            evaluation, config.lmbda, "l2", len(self.layers),
            training_cost=monitor_training_cost, training_accuracy=monitor_training_accuracy,
            evaluation_cost=monitor_evaluation_cost,
            evaluation_accuracy=monitor_evaluation_accuracy, early_stopping_n=early_stopping_n,
            n_threads=config.n_threads)
        return hessian_free.train(self, training, config, monitors, progress)


def load(filename: PathLike, dtype: Any = None) -> Network:
    """Read a network written by Network.save or by the book's network2.save.

    Only the known cost names and layer kinds are accepted and every shape and value
    is checked, before anything is allocated for the network; nothing is executed or
    unpickled. Any fault in the file is a ValueError that names it."""
    filename = checked_path(filename)
    try:
        with open(filename) as f:
            text = f.read()
        numbers = _Numbers(_numbers_expected(text))
        record = json.loads(text, parse_float=numbers.real, parse_int=numbers.integer)
    except _TooManyNumbers as e:
        raise ValueError(f"{filename}: {e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{filename}: not a network file (not text)") from None
    except (ValueError, RecursionError) as e:  # ValueError: JSON's, or int()'s digit limit
        raise ValueError(f"{filename}: not a network file (invalid JSON: {e})") from None
    try:
        return _network_from_record(record, dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{filename}: {e}") from None


def _numbers_expected(text):
    """How many parameters the file's own sizes or layers call for, read before the
    weights are parsed (None when the file does not say): parsing stops once it holds
    more numbers than that, so a file of the wrong shape costs no more memory than
    one of the right shape."""
    match = re.search(r'"(sizes|layers)"\s*:\s*', text)
    if match is None:
        return None
    try:
        shape, _ = json.JSONDecoder().raw_decode(text, match.end())
        if match.group(1) == "sizes":
            sizes = [int(n) for n in shape]
            return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        total = 0
        for spec in shape:
            if spec["kind"] == "convpool":
                total += spec["f"] * spec["c"] * spec["kh"] * spec["kw"] + spec["f"]
            else:
                total += spec["n_in"] * spec["n_out"] + spec["n_out"]
        return int(total)
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
        return None  # a malformed header is reported by the full check


class _TooManyNumbers(ValueError):
    pass


class _Numbers:
    """json's parse_float and parse_int: counts a file's numbers and refuses more than
    `limit` of them (plus room for the header's own)."""

    HEADER = 16 * (MAX_LAYERS + 1)

    def __init__(self, limit):
        self.limit = None if limit is None else limit + self.HEADER
        self.count = 0

    def real(self, text):
        return self._take(float(text))

    def integer(self, text):
        return self._take(int(text))

    def _take(self, value):
        self.count += 1
        if self.limit is not None and self.count > self.limit:
            raise _TooManyNumbers(f"holds more numbers than its sizes or layers call for "
                                  f"({self.limit - self.HEADER:,} parameters)")
        return value


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
    for views, arrays in ((net.weights, weights), (net.biases, biases)):
        for view, arr in zip(views, arrays):
            view[...] = arr
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
        if _holds_bool(value):  # NumPy reads true as 1 (or 1.0 beside floats)
            raise ValueError(f"{name}[{l}] is not a matrix of numbers (it holds booleans)")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}[{l}] holds NaN or infinite values")
        arrays.append(arr)
    return arrays

def _holds_bool(value):
    """Whether a nested list from JSON holds true or false anywhere."""
    if isinstance(value, list):
        return any(_holds_bool(v) for v in value) if value and isinstance(value[0], list) \
            else any(type(v) is bool for v in value)
    return type(value) is bool


# ---- shape checks ----

def _aligned_zeros(count: int, dtype: np.dtype) -> np.ndarray:
    """count zeros of dtype starting on a PARAMETER_ALIGNMENT boundary (numpy promises
    only the dtype's own alignment)."""
    spare = PARAMETER_ALIGNMENT // dtype.itemsize
    raw = np.zeros(count + spare, dtype)
    skip = (-raw.ctypes.data % PARAMETER_ALIGNMENT) // dtype.itemsize
    return raw[skip:skip + count]


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: let the allocation say
        return float("inf")


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed}")
    return int(seed)


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
        if (isinstance(below, ConvPoolLayer) and isinstance(above, ConvPoolLayer)
                and below.output_shape != above.image_shape):
            # As many values in another shape would be read as other images.
            raise ValueError(f"layers[{i + 1}] takes images of shape {above.image_shape} "
                             f"but layers[{i}] gives {below.output_shape}")
        if isinstance(above, ConvPoolLayer) and not isinstance(below, ConvPoolLayer):
            raise ValueError(f"layers[{i + 1}] is a ConvPoolLayer above a fully connected "
                             "layer: convolutional layers come first")
    if any(isinstance(layer, SoftmaxLayer) for layer in layers[:-1]):
        raise ValueError("a SoftmaxLayer can only be the output layer")
    if isinstance(layers[-1], ConvPoolLayer):
        raise ValueError("the output layer must be fully connected")
    return layers


def _check_sizes(sizes):
    # A set or a mapping has no order the user chose: {784, 30, 10} iterates as 784, 10, 30.
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple, np.ndarray)):
        raise TypeError(f"sizes must be a list of layer sizes, got {type(sizes).__name__}")
    if not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise ValueError(f"sizes must list 2 to {MAX_LAYERS + 1} layers, got {len(sizes)}")
    return tuple(check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes))
