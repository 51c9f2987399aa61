"""What the book's network.py and network2.py share, on top of :class:`nnfast.Network`.

The book's classes keep their parameters in ``self.weights`` and ``self.biases`` and
train in Python; here they are views of an :class:`nnfast.Network`'s parameters and
training runs in its C engine. This class only translates: book shapes (columns,
lists of ``(x, y)`` pairs) in, the core API underneath.
"""
import numpy as np

from nnfast import oracle
from nnfast.network import (Network, _check_int, _check_real, _threads, as_training_data)


class _EarlyStop(Exception):
    """Raised from SGD's end-of-epoch callback to end training early."""


class _LiveList(list):
    """A list of parameter views: item assignment copies into the network."""

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError("assign the whole list, or one layer at a time")
        _copy_into(self[index], value, f"layer {index}")


def _copy_into(view, value, where):
    value = np.asarray(value, dtype=np.float64)
    if value.shape != view.shape:
        raise ValueError(f"{where}: expected shape {view.shape}, got {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{where}: holds NaN or infinite values")
    np.copyto(view, value)


class BookNetwork:
    """The common part of network.Network and network2.Network."""

    def __init__(self, sizes, cost, seed=None):
        self._net = Network(sizes, cost=cost, dtype=np.float64, seed=seed)

    @classmethod
    def _wrap(cls, net):
        """A book network around an existing :class:`nnfast.Network`."""
        book = cls.__new__(cls)
        book._net = net
        return book

    # ---- the book's attributes ----

    @property
    def sizes(self):
        return list(self._net.sizes)

    @property
    def num_layers(self):
        return len(self._net.sizes)

    @property
    def cost(self):
        return self._net.cost

    @property
    def weights(self):
        """Per layer, the (n_out, n_in) weights: views, so writes change the network."""
        return _LiveList(self._net.weights)

    @weights.setter
    def weights(self, values):
        self._assign(self._net.weights, values, "weights")

    @property
    def biases(self):
        """Per layer, the (n_out, 1) bias column: views, so writes change the network."""
        return _LiveList(self._net.biases)

    @biases.setter
    def biases(self, values):
        self._assign(self._net.biases, values, "biases")

    @staticmethod
    def _assign(views, values, name):
        values = list(values)
        if len(values) != len(views):
            raise ValueError(f"{name}: expected {len(views)} layers, got {len(values)}")
        for l, (view, value) in enumerate(zip(views, values)):
            _copy_into(view, value, f"{name}[{l}]")

    @property
    def network(self):
        """The :class:`nnfast.Network` underneath (same parameters)."""
        return self._net

    # ---- the maths of chapters 1-2 ----

    def feedforward(self, a):
        """The output column for the input column a (n_in, 1)."""
        return self._net.feedforward(a)

    def backprop(self, x, y):
        """(nabla_b, nabla_w) for one sample, layer by layer in the book's shapes."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        y = self._target(y).reshape(1, -1)
        cost = getattr(oracle, self._net.cost.__name__)
        nabla_b, nabla_w = oracle.backprop(
            [np.asarray(w, dtype=np.float64) for w in self._net.weights],
            [np.asarray(b, dtype=np.float64).reshape(-1) for b in self._net.biases],
            x, y, cost, self._net.activations)
        return [nb.reshape(-1, 1) for nb in nabla_b], nabla_w

    def _target(self, y):
        y = np.asarray(y)
        if y.ndim == 0:  # an int label, as in the book's test data
            e = np.zeros(self._net.sizes[-1])
            e[int(y)] = 1.0
            return e
        return np.asarray(y, dtype=np.float64)

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for the quadratic cost: a − y."""
        return output_activations - y

    # ---- training, in the engine ----

    def _data(self, data, name):
        """(X, labels) from the book's pairs (a list or any iterable) or (X, y) arrays."""
        return as_training_data(data, self._net.sizes[0], self._net.sizes[-1],
                                self._net.dtype, name)

    def _step(self, mini_batch, eta, lmbda, n):
        """One gradient step on exactly mini_batch, in its order, in the engine."""
        X, labels = self._data(mini_batch, "mini_batch")
        eta = _check_real(eta, "eta", minimum=0.0)
        lmbda = _check_real(lmbda, "lmbda", minimum=0.0)
        n = _check_int(n, "n", minimum=1)
        m, threads = len(X), _threads(None)
        # The network's own chunk loop: a step that diverges is undone and reported.
        with self._net._exclusive("update_mini_batch"):
            self._net._train_epoch(X, labels, np.arange(m, dtype=np.int64), m, eta, lmbda, 0.0,
                                   n, "l2", threads, 0, self._net._engine.workspace(m, threads))

    def _sgd(self, X, labels, epochs, mini_batch_size, eta, lmbda, end_of_epoch):
        """Train for epochs, calling end_of_epoch(j) after each; it may raise _EarlyStop."""
        def progress(epoch, rows_done, n):
            if rows_done == n:
                end_of_epoch(epoch)
        try:
            self._net.SGD((X, labels), epochs, mini_batch_size, eta, lmbda=lmbda,
                          progress=progress)
        except _EarlyStop:
            pass


def is_empty(data):
    """The book tests `if test_data:`: None and empty lists mean no data."""
    return data is None or (isinstance(data, (list, tuple)) and len(data) == 0)
