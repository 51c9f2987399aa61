"""The book's chapter 1 ``network.py``, trained by nnfast's C engine.

``from nnfast.book import network`` replaces ``import network``; the rest of the
book's session runs unchanged::

    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

As in the book: float64, weights and biases N(0, 1), the quadratic cost, sigmoid
neurons; ``weights`` and ``biases`` are lists of (n_out, n_in) matrices and (n_out, 1)
columns, and they are the network's live parameters. The book draws from
``np.random``; pass ``seed`` for a reproducible network and training run.
"""
from nnfast import kernels
from nnfast.book._base import BookNetwork, EpochPrinter, is_empty
from nnfast.costs import QuadraticCost
from nnfast.maths import sigmoid, sigmoid_prime

__all__ = ["Network", "sigmoid", "sigmoid_prime"]


class Network(BookNetwork):
    """Network(sizes): sizes[0] inputs, then the sizes of the layers that follow."""

    # network.py's backprop takes BP1 from cost_derivative, and SGD's lines come from
    # evaluate: a reader may rewrite either.
    READER_METHODS = BookNetwork.READER_METHODS + ("cost_derivative", "evaluate")
    GRADIENT_METHODS = BookNetwork.GRADIENT_METHODS + ("cost_derivative",)

    def __init__(self, sizes, seed=None):
        super().__init__(sizes, QuadraticCost, seed=seed)
        self.network.large_weight_initializer()

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Mini-batch stochastic gradient descent. training_data: (x, y) pairs, y one-hot
        columns; with test_data ((x, label) pairs) the test score is printed after each
        epoch, as in the book."""
        training = self._training_data(training_data, "training_data")
        test = None if is_empty(test_data) else self._data(test_data, "test_data")
        self._sgd(training, epochs, mini_batch_size, eta, 0.0, [EpochPrinter(test)],
                  lambda mini_batch: self.update_mini_batch(mini_batch, eta))

    def update_mini_batch(self, mini_batch, eta):
        """One gradient descent step on mini_batch, a list of (x, y) pairs:
        w → w − (eta/m) Σ ∂C_x/∂w, b likewise."""
        mini_batch = list(mini_batch)
        self._step(mini_batch, eta, 0.0, max(len(mini_batch), 1))

    def _output_error(self, z, a, y):
        """BP1 as network.py writes it: ∂C/∂a ⊙ σ'(z)."""
        return self.cost_derivative(a, y) * kernels.sigmoid_prime(z)

    def evaluate(self, test_data):
        """The number of test inputs, (x, label) pairs, classified correctly (by the
        reader's feedforward, one input at a time, when they rewrote it)."""
        test = self._data(test_data, "test_data")
        if self._is_readers("feedforward"):
            return self._book_accuracy(test)
        return self.network.accuracy(test)

    def _monitored_accuracy(self, pairs, is_training):
        return self.evaluate(pairs)
