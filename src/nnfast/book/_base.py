"""What the book's network.py and network2.py share, on top of :class:`nnfast.Network`.

The book's classes keep their parameters in ``self.weights`` and ``self.biases`` and
train in Python; here they are views of an :class:`nnfast.Network`'s parameters and
training runs in its C engine. This class only translates: book shapes (columns,
lists of ``(x, y)`` pairs) in, the core API underneath.

The reader's code. The book's exercises rewrite ``backprop``, ``update_mini_batch``,
``feedforward`` or the cost. When a subclass rewrites one of them, or the cost is not
one of the built-in classes (any object with ``fn(a, y)`` and ``delta(z, a, y)``),
``SGD`` runs the book's own loop in Python: per epoch a shuffle, then
``update_mini_batch`` per mini-batch, which calls ``backprop`` per sample, and after
the epoch the same lines printed through the book's ``evaluate`` / ``accuracy`` /
``total_cost``, all of them the reader's where rewritten. It says so on stderr, once
per call. The methods the reader kept stay compiled: ``feedforward`` and a step of
``update_mini_batch`` whose gradient is the built-in one run in the engine; the
book's ``backprop`` runs the compiled activations and outer products. With one seed
the loop draws the same mini-batches as the engine's (the network's generator, one
permutation per epoch), so a reader's copy of a built-in method or cost trains to
the same weights up to rounding. Unlike the book's ``random.shuffle`` it neither
uses Python's ``random`` nor reorders the reader's list.
"""
import sys
from typing import Tuple

import numpy as np

from nnfast import kernels, maths
from nnfast.checks import as_array, check_int, check_real, check_real_dtype
from nnfast.costs import cost_name, is_builtin
from nnfast.network import Network
from nnfast.training import History, Monitor, SGDConfig


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
    value = as_array(value, where)
    check_real_dtype(value, where)
    value = value.astype(np.float64)
    if value.shape != view.shape:
        raise ValueError(f"{where}: expected shape {view.shape}, got {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{where}: holds NaN or infinite values")
    return value


def book_seed(seed):
    """seed, or where it is None one drawn from np.random: the book's networks draw
    their weights from np.random, so that np.random.seed(s) before one (as the book's
    scripts do) repeats its run, its start and its mini-batches."""
    return int(np.random.randint(0, 2**63 - 1, dtype=np.int64)) if seed is None else seed


class BookNetwork:
    """The common part of network.Network and network2.Network."""

    # The methods a reader may rewrite (the book's exercises); SGD then calls theirs.
    READER_METHODS: Tuple[str, ...] = ("update_mini_batch", "backprop", "feedforward")
    # Those of them that change the gradient a step takes.
    GRADIENT_METHODS: Tuple[str, ...] = ("backprop",)

    def __init__(self, sizes, cost, seed=None):
        self._net = Network(sizes, cost=cost, dtype=np.float64, seed=book_seed(seed))

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
        self._assign(weights=values)

    @property
    def biases(self):
        """Per layer, the (n_out, 1) bias column: views, so writes change the network."""
        return _LiveList(self._net.biases, self._net)

    @biases.setter
    def biases(self, values):
        self._assign(biases=values)

    def _assign(self, **lists):
        """Each named list of parameters (weights=, biases=) replaced, every value
        checked before any is written: one refused leaves them all as they were."""
        views, checked = [], []
        for name, values in lists.items():
            layers = getattr(self._net, name)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise TypeError(f"{name} must be a list of {len(layers)} arrays, one per "
                                f"layer, got {type(values).__name__}")
            values = list(values)
            if len(values) != len(layers):
                raise ValueError(f"{name}: expected {len(layers)} layers, got {len(values)}")
            views += layers
            checked += [_checked(view, value, f"{name}[{l}]")
                        for l, (view, value) in enumerate(zip(layers, values))]
        with self._net.exclusive("setting " + " and ".join(lists)):
            before = [view.copy() for view in views]
            try:
                for view, value in zip(views, checked):
                    np.copyto(view, value)
            except BaseException:  # Ctrl-C between two layers: all of them as they were
                for view, value in zip(views, before):
                    np.copyto(view, value)
                raise

    @property
    def network(self):
        """The :class:`nnfast.Network` underneath (same parameters)."""
        return self._net

    # ---- the maths of chapters 1-2 ----

    def feedforward(self, a):
        """The output column for the input column a (n_in, 1)."""
        return self._net.feedforward(a)

    def backprop(self, x, y):
        """(nabla_b, nabla_w) for one sample, layer by layer in the book's shapes: the
        book's code, feed forward keeping each z and a, BP1 at the output, then BP2
        down the layers with BP3 and BP4 at each."""
        if any(w.ndim != 2 for w in self._net.weights):
            raise ValueError("backprop: the book's backprop is network.py's and "
                             "network2.py's, for networks of fully connected layers")
        x = self._column(x)
        y = self._target(y).reshape(-1, 1)
        functions = [_column_activation(name) for name in self._net.activations]
        # Per sample, BLAS's matrix-vector products (w @ a, wᵀ δ) take about a fifth of
        # the time of the compiled GEMM on one column, while the compiled GEMM forms
        # BP4's outer product δ aᵀ in about a third of NumPy's time (784-30-10,
        # best of repeated runs): each product goes to the faster.
        # The lock is held throughout, so that the parameters are read in place.
        with self._net.exclusive("backprop"):
            weights, biases = self._net.weights, self._net.biases
            activation, activations, zs = x, [x], []
            for w, b, (f, _) in zip(weights, biases, functions):
                z = w @ activation + b
                zs.append(z)
                activation = f(z)
                activations.append(activation)
            delta = self._output_error(zs[-1], activations[-1], y)  # BP1
            nabla_b = [np.empty(0)] * len(weights)
            nabla_w = [np.empty(0)] * len(weights)
            for l in range(1, len(weights) + 1):
                if l > 1:  # BP2
                    delta = (weights[-l + 1].T @ delta) * functions[-l][1](activations[-l])
                nabla_b[-l] = delta  # BP3
                nabla_w[-l] = kernels.matmul(delta, activations[-l - 1], trans_b=True)  # BP4
        return nabla_b, nabla_w

    def _output_error(self, z, a, y):
        """BP1: the cost's delta, as network2's backprop calls it."""
        if is_builtin(self.cost):  # the built-in costs fit more than sigmoid outputs
            return self.cost.delta(z, a, y, activation=self._net.activations[-1])
        return self.cost.delta(z, a, y)

    def _column(self, x):
        """One sample x as the book's (n_in, 1) column of floats, checked by name."""
        n_in = self._net.sizes[0]
        x = as_array(x, "x")
        check_real_dtype(x, "x")
        x = x.astype(np.float64)
        if x.size != n_in:
            raise ValueError(f"x must be a ({n_in}, 1) column, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("x holds NaN or infinite values")
        return x.reshape(-1, 1)

    def _target(self, y):
        y = as_array(y, "y")
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
        if y.dtype.kind not in "fiub":  # a one-hot column of booleans is one too
            raise TypeError(f"y must hold real numbers, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError("y holds NaN or infinite values")
        return y

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for the quadratic cost: a − y."""
        return output_activations - y

    # ---- training, in the engine ----

    def _data(self, data, name):
        """Validated samples from the book's pairs (a list or any iterable) or (X, y)."""
        return self._net.samples(data, name)

    def _training_data(self, data, name):
        """Validated samples or, where the book's pairs have targets that are columns but
        not one-hot (the book trains on any real y: a regression, soft targets, XOR's
        one 0/1 output), which the engine's class labels cannot hold, the book's list
        of (x, y) columns, for its Python loop."""
        if not isinstance(data, (tuple, np.ndarray)):
            data = list(data)  # an iterator, read once for both
        try:
            return self._data(data, name)
        except ValueError as refused:
            pairs = None
            if isinstance(data, list) and all(
                    isinstance(p, (tuple, list)) and len(p) == 2 and np.ndim(p[1]) > 0
                    for p in data):
                try:
                    pairs = [(self._column(x), self._target(y).reshape(-1, 1))
                             for x, y in data]
                except (TypeError, ValueError):
                    pairs = None
            if not pairs or all(_is_one_hot(y) for _, y in pairs):
                raise refused  # the one-hot rows were not what the engine refused
            return pairs

    def _step(self, mini_batch, eta, lmbda, n):
        """One gradient step on exactly mini_batch, in its order: in the engine (a step
        that diverges is undone and reported, as SGD's), or, when the gradient is the
        reader's (their backprop or cost), the book's loop calling backprop per sample."""
        samples = self._training_data(mini_batch, "mini_batch")
        eta = check_real(eta, "eta", minimum=0.0)
        lmbda = check_real(lmbda, "lmbda", minimum=0.0)
        n = check_int(n, "n", minimum=1)
        if eta == 0 or len(rows_of(samples)) == 0:  # the book's step changes nothing then
            return
        if isinstance(samples, list) or self._gradient_is_readers():
            self._book_step(mini_batch, eta, lmbda, n)
        else:
            self._net.train(samples, SGDConfig(1, len(samples.X), eta, lmbda, decay_n=n,
                                               shuffle=False), progress=False)

    def _book_step(self, mini_batch, eta, lmbda, n):
        """network2's update_mini_batch, as the book writes it (lmbda = 0 is network's)."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            # The book's nb + dnb, in place: the same sums without a new array each.
            for nb, dnb in zip(nabla_b, delta_nabla_b):
                nb += dnb
            for nw, dnw in zip(nabla_w, delta_nabla_w):
                nw += dnw
        m = len(mini_batch)
        # The book's (1 - eta*(lmbda/n))*w - (eta/m)*nw and b - (eta/m)*nb, rounded
        # alike, written into the sums' arrays: new arrays of the first layer's size
        # cost more in page faults than the arithmetic.
        for w, nw in zip(self.weights, nabla_w):
            nw *= -(eta / m)
            nw += (1 - eta * (lmbda / n)) * w
        for b, nb in zip(self.biases, nabla_b):
            nb *= -(eta / m)
            nb += b
        self._assign(weights=nabla_w, biases=nabla_b)  # both checked, then both written

    # ---- which code runs: the engine, or the book's loop calling the reader's ----

    def _is_readers(self, name):
        """Whether this object's class rewrites the book's method `name`: compared
        with the nnfast.book class it derives from."""
        book = next(c for c in type(self).__mro__ if c.__module__.startswith("nnfast.book."))
        return getattr(type(self), name) is not getattr(book, name)

    def _gradient_is_readers(self):
        return (any(self._is_readers(name) for name in self.GRADIENT_METHODS)
                or not is_builtin(self.cost))

    def _python_path_reason(self):
        """Why SGD must run the book's Python loop, or None when the engine may."""
        why = [f"{type(self).__name__}.{name} is rewritten" for name in self.READER_METHODS
               if self._is_readers(name)]
        if not is_builtin(self.cost):
            why.append(f"the cost {cost_name(self.cost)} is not a built-in one")
        return " and ".join(why) or None

    def _sgd(self, training, epochs, mini_batch_size, eta, lmbda, monitors, step):
        """The book's SGD loop: shuffled mini-batches, L2 decay eta*lmbda/len(training),
        `monitors` printing after each epoch. In the engine, or, with the reader's
        methods or cost, in Python calling step(mini_batch) (update_mini_batch with the
        module's arguments) per mini-batch."""
        config = SGDConfig(epochs, mini_batch_size, eta, lmbda)
        reason = self._python_path_reason()
        if isinstance(training, list):
            reason = " and ".join(filter(None, [reason, "its targets are not one-hot"]))
        if reason is None:
            return self._net.train(training, config, monitors, progress=False)
        print(f"nnfast: this SGD runs the book's Python loop because {reason} (see "
              "README, The book's exercises)", file=sys.stderr)
        return self._book_sgd(training, config, monitors, step)

    def _book_sgd(self, training, config, monitors, step):
        pairs = (training if isinstance(training, list)
                 else _pairs(training, self.sizes[-1], one_hot=True))
        n = len(pairs)
        size = min(config.mini_batch_size, n)
        history = History()
        methods = _BookMethods(self, training, pairs)
        with self._net.exclusive("SGD"):
            for epoch in range(config.epochs):
                # The engine's shuffle (Trainer.run draws from the network's generator
                # too): the same seed, the same mini-batches.
                order = self._net._rng.permutation(n)
                for k in range(0, n, size):
                    step([pairs[i] for i in order[k:k + size]])
                stop = False
                for monitor in monitors:
                    stop = monitor.after_epoch(epoch, methods, training, history) or stop
                if stop:
                    break
        return history

    def _book_accuracy(self, data):
        """How many of data's samples self.feedforward classifies correctly, one
        sample at a time as the book's evaluate and accuracy count; with real-valued
        targets, the largest one is the class."""
        if isinstance(data, list):
            return sum(int(np.argmax(self.feedforward(x)) == np.argmax(y)) for x, y in data)
        return sum(int(np.argmax(self.feedforward(x)) == label)
                   for x, label in _pairs(data, self.sizes[-1], one_hot=False))

    def _book_total_cost(self, data, lmbda):
        """network2's total_cost, as the book writes it, over validated samples."""
        pairs = data if isinstance(data, list) else _pairs(data, self.sizes[-1], one_hot=True)
        cost = 0.0
        for x, y in pairs:
            cost += self.cost.fn(self.feedforward(x), y) / len(pairs)
        cost += 0.5 * (lmbda / len(pairs)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost


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


def _column_activation(name):
    """(f, f' from the output a) of the layer activation `name` on a column. Per
    sample the book's vectors are short: the compiled sigmoid takes a tenth of
    NumPy's time there (about 0.6 against 6 microseconds for 30 values)."""
    if name == "sigmoid":
        return kernels.sigmoid, kernels.sigmoid_prime_from_output
    if name == "softmax":  # an output layer only: BP2 never asks for its derivative
        return (lambda z: maths.softmax(z.T).T), None
    activation = maths.elementwise(name)
    return activation.f, activation.prime_from_output


def _pairs(samples, n_out, one_hot):
    """The book's (x, y) pairs of validated samples: x an (n_in, 1) column, y the
    (n_out, 1) one-hot column or the int label."""
    X, labels = samples
    if one_hot:
        return [(x.reshape(-1, 1), _one_hot(label, n_out)) for x, label in zip(X, labels)]
    return [(x.reshape(-1, 1), int(label)) for x, label in zip(X, labels)]


def rows_of(samples):
    """The rows of validated samples, or the book's list of pairs."""
    return samples if isinstance(samples, list) else samples.X


def _is_one_hot(y):
    return bool(np.all((y == 0) | (y == 1))) and y.sum() == 1


def _one_hot(label, n_out):
    """The book's vectorized_result for n_out classes."""
    e = np.zeros((n_out, 1))
    e[label] = 1.0
    return e


class _BookMethods:
    """The network as the monitors see it on the book's Python loop: their accuracy
    and total_cost go through the book's methods (the reader's, where rewritten) on
    the book's lists, training pairs with one-hot y, evaluation pairs with labels."""

    def __init__(self, book, training, training_pairs):
        self.book, self.training = book, training
        self.pairs = {id(training): training_pairs}

    def _pairs(self, samples):
        if id(samples) not in self.pairs:
            self.pairs[id(samples)] = _pairs(samples, self.book.sizes[-1], one_hot=False)
        return self.pairs[id(samples)]

    # n_threads as the monitors pass it: the book's methods take no thread count.
    def accuracy(self, samples, n_threads=None):
        return self.book._monitored_accuracy(self._pairs(samples), samples is self.training)

    def total_cost(self, samples, lmbda, regularization="l2", n_threads=None):
        return self.book._monitored_cost(self._pairs(samples), lmbda, samples is self.training)


def is_empty(data):
    """The book tests `if test_data:`: None and empty lists mean no data."""
    return data is None or (isinstance(data, (list, tuple)) and len(data) == 0)
