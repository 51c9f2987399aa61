"""What the book's network.py and network2.py share, on top of :class:`nnfast.Network`.

The book's classes keep their parameters in ``self.weights`` and ``self.biases`` and
train in Python; here they are views of an :class:`nnfast.Network`'s parameters and
training runs in its C engine. This class only translates: book shapes (columns,
lists of ``(x, y)`` pairs) in, the core API underneath.
"""
import numpy as np

from nnfast import oracle
from nnfast.checks import check_int, check_real
from nnfast.network import Network
from nnfast.training import Monitor, SGDConfig


class _LiveList(list):
    """A list of parameter views: item assignment copies into the network."""

    def __init__(self, views, network):
        super().__init__(views)
        self.network = network

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError("assign the whole list, or one layer at a time")
        value = _checked(self[index], value, f"layer {index}")
        with self.network.exclusive(f"setting layer {index}"):
            np.copyto(self[index], value)


def _checked(view, value, where):
    """value as an array that may be copied into view."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape != view.shape:
        raise ValueError(f"{where}: expected shape {view.shape}, got {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{where}: holds NaN or infinite values")
    return value


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
        return _LiveList(self._net.weights, self._net)

    @weights.setter
    def weights(self, values):
        self._assign(self._net.weights, values, "weights")

    @property
    def biases(self):
        """Per layer, the (n_out, 1) bias column: views, so writes change the network."""
        return _LiveList(self._net.biases, self._net)

    @biases.setter
    def biases(self, values):
        self._assign(self._net.biases, values, "biases")

    def _assign(self, views, values, name):
        values = list(values)
        if len(values) != len(views):
            raise ValueError(f"{name}: expected {len(views)} layers, got {len(values)}")
        checked = [_checked(view, value, f"{name}[{l}]")
                   for l, (view, value) in enumerate(zip(views, values))]
        with self._net.exclusive(f"setting {name}"):
            for view, value in zip(views, checked):
                np.copyto(view, value)

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
        with self._net.exclusive("backprop"):
            weights = [np.array(w, dtype=np.float64) for w in self._net.weights]
            biases = [np.array(b, dtype=np.float64).reshape(-1) for b in self._net.biases]
        nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, self._net.cost,
                                           self._net.activations)
        return [nb.reshape(-1, 1) for nb in nabla_b], nabla_w

    def _target(self, y):
        y = np.asarray(y)
        n_out = self._net.sizes[-1]
        if y.ndim == 0:  # an int label, as in the book's test data
            if y.dtype.kind not in "iu" or not 0 <= int(y) < n_out:
                raise ValueError(f"y must be a label in [0, {n_out}) or a ({n_out}, 1) "
                                 f"column, got {y!r}")
            e = np.zeros(n_out)
            e[int(y)] = 1.0
            return e
        if y.size != n_out:
            raise ValueError(f"y must be a label in [0, {n_out}) or a ({n_out}, 1) column, "
                             f"got shape {y.shape}")
        return np.asarray(y, dtype=np.float64)

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for the quadratic cost: a − y."""
        return output_activations - y

    # ---- training, in the engine ----

    def _data(self, data, name):
        """Validated samples from the book's pairs (a list or any iterable) or (X, y)."""
        return self._net.samples(data, name)

    def _step(self, mini_batch, eta, lmbda, n):
        """One gradient step on exactly mini_batch, in its order, in the engine: a step
        that diverges is undone and reported, as SGD's."""
        samples = self._data(mini_batch, "mini_batch")
        eta = check_real(eta, "eta", minimum=0.0)
        lmbda = check_real(lmbda, "lmbda", minimum=0.0)
        n = check_int(n, "n", minimum=1)
        if eta == 0:  # the book's step with eta = 0 changes nothing
            return
        self._net.train(samples, SGDConfig(1, len(samples.X), eta, lmbda, decay_n=n,
                                           shuffle=False), progress=False)

    def _sgd(self, training, epochs, mini_batch_size, eta, lmbda, monitors):
        """The book's SGD loop: shuffled mini-batches, L2 decay eta*lmbda/len(training),
        `monitors` printing after each epoch."""
        return self._net.train(training, SGDConfig(epochs, mini_batch_size, eta, lmbda),
                               monitors, progress=False)


class EpochPrinter(Monitor):
    """network.py's line after each epoch: the test score, or that the epoch is done."""

    def __init__(self, test=None):
        self.test = test

    def after_epoch(self, epoch, network, training, history):
        if self.test is not None:
            print("Epoch {0}: {1} / {2}".format(epoch, network.accuracy(self.test),
                                                len(self.test.X)))
        else:
            print("Epoch {0} complete".format(epoch))
        return False


def is_empty(data):
    """The book tests `if test_data:`: None and empty lists mean no data."""
    return data is None or (isinstance(data, (list, tuple)) and len(data) == 0)
