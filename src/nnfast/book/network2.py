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

from nnfast import network as _core
from nnfast.book._base import BookNetwork, _EarlyStop, is_empty
from nnfast.book.mnist_loader import vectorized_result
from nnfast.costs import CrossEntropyCost, QuadraticCost
from nnfast.oracle import sigmoid, sigmoid_prime

__all__ = ["CrossEntropyCost", "Network", "QuadraticCost", "load", "sigmoid",
           "sigmoid_prime", "vectorized_result"]


class Network(BookNetwork):
    """Network(sizes, cost=CrossEntropyCost): weights start N(0, 1/n_in), biases N(0, 1)."""

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None):
        super().__init__(sizes, cost, seed=seed)

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1)."""
        self._net.default_weight_initializer()

    def large_weight_initializer(self):
        """Weights and biases N(0, 1), as in chapter 1."""
        self._net.large_weight_initializer()

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False, monitor_training_cost=False,
            monitor_training_accuracy=False, early_stopping_n=0):
        """Mini-batch SGD with L2 regularisation lmbda, printing what is monitored after
        each epoch. Returns (evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy). early_stopping_n > 0 stops after that many epochs without a
        better evaluation accuracy."""
        X, labels = self._data(training_data, "training_data")
        evaluation = None
        if not is_empty(evaluation_data):
            evaluation = self._data(evaluation_data, "evaluation_data")
        early_stopping_n = _core._check_int(early_stopping_n, "early_stopping_n", minimum=0)
        lmbda = _core._check_real(lmbda, "lmbda", minimum=0.0)
        n = len(X)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        best = [-1, 0]  # best evaluation accuracy, epochs since it

        def end_of_epoch(j):
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = self._net.total_cost((X, labels), lmbda)
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = self._net.accuracy((X, labels))
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if evaluation is not None and monitor_evaluation_cost:
                cost = self._net.total_cost(evaluation, lmbda)
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            accuracy = None
            if evaluation is not None and (monitor_evaluation_accuracy or early_stopping_n):
                accuracy = self._net.accuracy(evaluation)
            if evaluation is not None and monitor_evaluation_accuracy:
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(
                    accuracy, len(evaluation[0])))
            print()
            if early_stopping_n and accuracy is not None:
                best[:] = [accuracy, 0] if accuracy > best[0] else [best[0], best[1] + 1]
                if best[1] == early_stopping_n:
                    raise _EarlyStop

        self._sgd(X, labels, epochs, mini_batch_size, eta, lmbda, end_of_epoch)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on mini_batch ((x, y) pairs) with L2 regularisation:
        w → (1 − eta·lmbda/n) w − (eta/m) Σ ∂C_x/∂w, b → b − (eta/m) Σ ∂C_x/∂b."""
        self._step(list(mini_batch), eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """How many of data's (x, y) pairs are classified correctly. The book passes
        convert=True for training data (one-hot y), False for int labels."""
        return self._net.accuracy(self._data(data, "data"))

    def total_cost(self, data, lmbda, convert=False):
        """The mean cost over data plus the L2 term 0.5·(lmbda/len(data))·Σ||w||².
        The book passes convert=True for data with int labels."""
        return self._net.total_cost(self._data(data, "data"), lmbda)

    def save(self, filename):
        """Write the network as the book's JSON: sizes, weights, biases, cost name."""
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": self.cost.__name__}
        with open(filename, "w") as f:
            json.dump(data, f)


def load(filename):
    """A network2.Network from a file written by save (here, the book's or nnfast's)."""
    return Network._wrap(_core.load(filename, dtype=np.float64))
