"""The book's chapter 3 ``network2.py``, trained by nnfast's C engine.

``from nnfast.book import network2`` replaces ``import network2``::

    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True, monitor_training_cost=True)

float64 and sigmoid neurons as in the book; ``weights`` and ``biases`` are the
network's live parameters in the book's shapes. ``save`` writes the book's JSON, which
``load`` here, the book's own ``load`` and :func:`nnfast.load` all read.

The ``convert`` flags of ``accuracy`` and ``total_cost`` are accepted for the book's
calls; labels are recognised either way (int labels or one-hot columns), so both
give the value the book computes with the right flag.
"""
import json

import numpy as np

import nnfast
from nnfast import hessian_free
from nnfast.book._base import BookNetwork, is_empty, rows_of
from nnfast.checks import check_int, check_real
from nnfast.files import write_atomically
from nnfast.training import EarlyStopping, Monitor, standard_monitors
from nnfast.book.mnist_loader import vectorized_result
from nnfast.costs import CrossEntropyCost, QuadraticCost, cost_name, is_builtin
from nnfast.maths import sigmoid, sigmoid_prime

__all__ = ["CrossEntropyCost", "Network", "QuadraticCost", "load", "sigmoid",
           "sigmoid_prime", "vectorized_result"]


class Network(BookNetwork):
    """Network(sizes, cost=CrossEntropyCost): weights start N(0, 1/n_in), biases N(0, 1)."""

    # SGD's monitors count through accuracy and total_cost, which a reader may rewrite.
    READER_METHODS = BookNetwork.READER_METHODS + ("accuracy", "total_cost")

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None):
        super().__init__(sizes, cost, seed=seed)
        if self._is_readers("default_weight_initializer"):
            self.default_weight_initializer()  # the book's __init__ calls the reader's

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1)."""
        self.network.default_weight_initializer()

    def large_weight_initializer(self):
        """Weights and biases N(0, 1), as in chapter 1."""
        self.network.large_weight_initializer()

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False, monitor_training_cost=False,
            monitor_training_accuracy=False, early_stopping_n=0):
        """Mini-batch SGD with L2 regularisation lmbda, printing what is monitored after
        each epoch. Returns (evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy). early_stopping_n > 0 stops after that many epochs without a
        better evaluation accuracy."""
        training = self._training_data(training_data, "training_data")
        lmbda = check_real(lmbda, "lmbda", minimum=0.0)
        monitors = self._monitors(training, evaluation_data, lmbda, monitor_evaluation_cost,
                                  monitor_evaluation_accuracy, monitor_training_cost,
                                  monitor_training_accuracy, early_stopping_n)
        n = len(rows_of(training))
        history = self._sgd(training, epochs, mini_batch_size, eta, lmbda, monitors,
                            lambda mini_batch: self.update_mini_batch(mini_batch, eta, lmbda, n))
        return tuple(history)

    def _monitors(self, training, evaluation_data, lmbda, monitor_evaluation_cost,
                  monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy,
                  early_stopping_n):
        """SGD's monitors, printing each epoch's lines as the book does."""
        evaluation = None if is_empty(evaluation_data) else self._data(evaluation_data,
                                                                        "evaluation_data")
        early_stopping_n = check_int(early_stopping_n, "early_stopping_n", minimum=0)
        monitors = standard_monitors(
            evaluation, lmbda, "l2", len(self.sizes) - 1, training_cost=monitor_training_cost,
            training_accuracy=monitor_training_accuracy, evaluation_cost=monitor_evaluation_cost,
            evaluation_accuracy=monitor_evaluation_accuracy, early_stopping_n=early_stopping_n)
        # The book prints each epoch's lines before deciding to stop early.
        stopping = [m for m in monitors if isinstance(m, EarlyStopping)]
        printer = _Printer(len(rows_of(training)), evaluation, monitor_training_cost,
                           monitor_training_accuracy, monitor_evaluation_cost,
                           monitor_evaluation_accuracy)
        return [m for m in monitors if m not in stopping] + [printer] + stopping

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on mini_batch ((x, y) pairs) with L2 regularisation:
        w → (1 − eta·lmbda/n) w − (eta/m) Σ ∂C_x/∂w, b → b − (eta/m) Σ ∂C_x/∂b."""
        self._step(list(mini_batch), eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """How many of data's (x, y) pairs are classified correctly (by the reader's
        feedforward, one input at a time, when they rewrote it). The book passes
        convert=True for training data (one-hot y), False for int labels."""
        samples = self._training_data(data, "data")
        if isinstance(samples, list) or self._is_readers("feedforward"):
            return self._book_accuracy(samples)
        return self.network.accuracy(samples)

    def total_cost(self, data, lmbda, convert=False):
        """The mean cost over data plus the L2 term 0.5·(lmbda/len(data))·Σ||w||²
        (one input at a time through the reader's feedforward or cost, when theirs).
        The book passes convert=True for data with int labels."""
        samples = self._training_data(data, "data")
        if (isinstance(samples, list) or self._is_readers("feedforward")
                or not is_builtin(self.cost)):
            lmbda = check_real(lmbda, "lmbda", minimum=0.0)
            return self._book_total_cost(samples, lmbda)
        return self.network.total_cost(samples, lmbda)

    def _monitored_accuracy(self, pairs, is_training):
        return self.accuracy(pairs, convert=is_training)

    def _monitored_cost(self, pairs, lmbda, is_training):
        return self.total_cost(pairs, lmbda, convert=not is_training)

    # ---- chapter 3's Hessian technique (nnfast.curvature, nnfast.hessian_free) ----

    def gradient(self, training_data, lmbda=0.0):
        """(nabla_w, nabla_b) of total_cost(training_data, lmbda), in the shapes of
        weights and biases."""
        return self.network.gradient(self._data(training_data, "training_data"), lmbda)

    def hessian_vector_product(self, training_data, v, lmbda=0.0):
        """The Hessian of total_cost times v = (v_w, v_b), shaped like (weights,
        biases): exact, by Pearlmutter's R-operator."""
        return self.network.hessian_vector_product(self._data(training_data, "training_data"),
                                                   v, lmbda)

    def gauss_newton_vector_product(self, training_data, v, lmbda=0.0):
        """The Gauss-Newton matrix of total_cost (positive semi-definite) times v."""
        return self.network.gauss_newton_vector_product(
            self._data(training_data, "training_data"), v, lmbda)

    def hessian(self, training_data, lmbda=0.0):
        """The (P, P) Hessian of total_cost, parameters ordered w1, b1, w2, b2, ...
        each row-major (small networks only)."""
        return self.network.hessian(self._data(training_data, "training_data"), lmbda)

    def hessian_free(self, training_data, epochs, mini_batch_size, lmbda=0.0, damping=0.1,
                     cg_iterations=50, curvature_batch_size=None, method="hessian-free",
                     evaluation_data=None, monitor_evaluation_cost=False,
                     monitor_evaluation_accuracy=False, monitor_training_cost=False,
                     monitor_training_accuracy=False, early_stopping_n=0):
        """Second-order training in place of SGD: w -> w + d with (B + damping I) d =
        -grad C, B the Gauss-Newton matrix (by conjugate gradient, never formed) or,
        with method="newton", the Hessian itself. Prints and returns what SGD does."""
        training = self._data(training_data, "training_data")
        config = hessian_free.HessianFreeConfig(epochs, mini_batch_size, lmbda, damping,
                                                cg_iterations, curvature_batch_size, method)
        monitors = self._monitors(training, evaluation_data, config.lmbda,
                                  monitor_evaluation_cost, monitor_evaluation_accuracy,
                                  monitor_training_cost, monitor_training_accuracy,
                                  early_stopping_n)
        return tuple(hessian_free.train(self.network, training, config, monitors,
                                        progress=False))

    def save(self, filename):
        """Write the network as the book's JSON: sizes, weights, biases, cost name. A
        network that format does not describe (one that load read from nnfast's file,
        with another activation, or layers) is written in nnfast's, which load reads
        back whole."""
        if self.network.activation != "sigmoid":
            self.network.save(filename)
            return
        with self.network.exclusive("saving"):
            data = {"sizes": self.sizes,
                    "weights": [w.tolist() for w in self.weights],
                    "biases": [b.tolist() for b in self.biases],
                    "cost": cost_name(self.cost)}
        write_atomically(filename, json.dumps(data))


class _Printer(Monitor):
    """network2's lines after each epoch: each monitored value, then a blank line."""

    def __init__(self, n, evaluation, training_cost, training_accuracy, evaluation_cost,
                 evaluation_accuracy):
        self.n, self.evaluation = n, evaluation
        self.show = (training_cost, training_accuracy, evaluation_cost, evaluation_accuracy)

    def after_epoch(self, epoch, network, training, history):
        print("Epoch %s training complete" % epoch)
        if self.show[0]:
            print("Cost on training data: {}".format(history.training_cost[-1]))
        if self.show[1]:
            print("Accuracy on training data: {} / {}".format(history.training_accuracy[-1],
                                                              self.n))
        if self.evaluation is not None and self.show[2]:
            print("Cost on evaluation data: {}".format(history.evaluation_cost[-1]))
        if self.evaluation is not None and self.show[3]:
            print("Accuracy on evaluation data: {} / {}".format(
                history.evaluation_accuracy[-1], len(self.evaluation.X)))
        print()
        return False


def load(filename):
    """A network2.Network from a file written by save (here, the book's or nnfast's)."""
    return Network._wrap(nnfast.network.load(filename, dtype=np.float64))
