"""The book's chapter 6 ``network3.py``, trained by nnfast's C engine instead of Theano.

``from nnfast.book import network3`` (or ``from nnfast.book.network3 import *``)
replaces the book's import; its sessions run unchanged::

    training_data, validation_data, test_data = network3.load_data_shared()
    mini_batch_size = 10
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                      filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
        FullyConnectedLayer(n_in=20*12*12, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    net.SGD(training_data, 60, mini_batch_size, 0.1, validation_data, test_data)

What is the book's:

- the layers (:mod:`nnfast.layers`), their initial weights and their dropout;
- Theano's arithmetic in a ConvPoolLayer: ``conv.conv2d`` is a true convolution (the
  kernel flipped), and at a max-pool window whose maximum several pixels hold, the
  gradient goes to every one of them (``gx = (x == max) ? gz : 0``). The engine
  computes a cross-correlation (PyTorch's convention) with the filters rotated by
  180 degrees, and pools with ``ties="all"``;
- each layer's ``w``, ``b`` and ``params = [w, b]``, live and shaped as Theano holds
  them: a ConvPoolLayer's ``w`` is ``filter_shape``, a fully connected or softmax
  layer's ``(n_in, n_out)``. They are NumPy views of the engine's parameters (the
  book's ``layer.w.eval()`` is ``layer.w``), so writes through them change the network;
- float32 arithmetic (the book's ``theano.config.floatX``);
- the cost: log-likelihood of a softmax output layer, plus the L2 term
  ``0.5*lmbda*sum(w**2)/num_training_batches`` over every layer's weights, so each
  step decays the weights by ``eta*lmbda/num_training_batches``;
- the training order: whole mini-batches only (``size(training_data) //
  mini_batch_size`` of them), taken in order, the same every epoch, no shuffling;
- the accuracies: over whole mini-batches only, as the mean of per-batch accuracies;
- what is printed, line for line.

What differs:

- :func:`load_data_shared` returns NumPy arrays, not Theano shared variables:
  float32 images of shape (N, 784) and int64 labels of shape (N,).
- Training runs in chunks of mini-batches, each one call into C. "Training mini-batch
  number k" is printed when the chunk that holds mini-batch k starts, so the lines are
  the book's, in the book's order, but a chunk's lines come out together.
- The book draws its weights from ``np.random``: so does :class:`Network` without
  ``seed=`` (its seed drawn there), so that ``np.random.seed(s)`` before it repeats
  its run; or pass ``seed=``.
- Predictions: ``net.test_mb_predictions(i)`` (after SGD, as the book's ``conv.py``
  builds it) and ``net.predict(images)`` return the predicted digits.
"""

import weakref

import numpy as np

import nnfast
from nnfast.activations import ReLU, linear, sigmoid, tanh
from nnfast.book import mnist_loader
from nnfast.book._base import book_seed, is_empty
from nnfast.checks import check_int
from nnfast.costs import LogLikelihoodCost
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from nnfast.training import Monitor, SGDConfig

__all__ = ["ConvPoolLayer", "FullyConnectedLayer", "Network", "ReLU", "SoftmaxLayer",
           "linear", "load_data_shared", "sigmoid", "size", "tanh"]

GPU = False  # the book's flag; everything here runs on the CPU

DEFAULT_FILENAME = "../data/mnist.pkl.gz"


def load_data_shared(filename=DEFAULT_FILENAME):
    """``[(training_x, training_y), (validation_x, validation_y), (test_x, test_y)]``:
    float32 images (N, 784) and int64 labels (N,), as NumPy arrays (the book's are
    Theano shared variables).

    ``filename`` may be the book's ``mnist.pkl.gz``, the expanded training set
    ``mnist_expanded.pkl.gz`` (written by :mod:`nnfast.book.expand_mnist` or by the
    book's own script), or a directory holding the MNIST IDX files. The default is the
    book's, and :func:`nnfast.book.mnist_loader.load_data`'s: ``../data/mnist.pkl.gz``
    when it exists, else the IDX files looked for (and downloaded) as by
    :func:`nnfast.datasets.load_mnist`. Any other ``filename`` that does not exist is a
    FileNotFoundError, never a search.
    """
    path = None if filename == DEFAULT_FILENAME else filename
    return list(mnist_loader.load_data(path))


def size(data):
    """The number of samples in data, an (images, labels) pair."""
    return data[0].shape[0]


# The network3.Network whose parameters each layer's w and b view, while it lives.
_OWNERS: "weakref.WeakKeyDictionary[object, weakref.ref]" = weakref.WeakKeyDictionary()


class Network:
    """Network(layers, mini_batch_size): a stack of network3 layers, the last a SoftmaxLayer.

    ``layers`` and ``mini_batch_size`` are kept as the book keeps them. As in Theano,
    each layer then holds its parameters: ``layer.w``, ``layer.b`` and ``layer.params``
    are views into this network's, in network3's shapes ((n_in, n_out) for a fully
    connected layer; for a convolutional one ``filter_shape``, the kernel Theano's true
    convolution holds, which is the engine's cross-correlation filter rotated by 180
    degrees), so writes change the network; ``params`` lists them all, layer by layer.
    A ConvPoolLayer whose ``ties`` is unset takes Theano's tie rule, ``"all"``.
    ``network`` is the :class:`nnfast.Network` underneath. After SGD,
    ``best_validation_accuracy``, ``best_iteration`` and ``test_accuracy`` hold what
    was printed last.
    """

    def __init__(self, layers, mini_batch_size, seed=None):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, (FullyConnectedLayer, ConvPoolLayer)):
                raise TypeError(f"layers[{i}] must be a FullyConnectedLayer, ConvPoolLayer "
                                f"or SoftmaxLayer, got {type(layer).__name__}")
        for i, layer in enumerate(layers):
            owner = _OWNERS.get(layer)
            if owner is not None and owner() is not None:
                # Theano's layers would share their variables between the two networks;
                # here each network has its own parameters, and the layer's w and b
                # can view only one network's.
                raise ValueError(f"layers[{i}] is a layer of another network3.Network "
                                 "(its w and b view that network's parameters): make new "
                                 "layers, or copies of these, for each network")
        if not layers or not isinstance(layers[-1], SoftmaxLayer):
            raise ValueError("network3 trains with the log-likelihood cost: the last layer "
                             "must be a SoftmaxLayer")
        mini_batch_size = check_int(mini_batch_size, "mini_batch_size", minimum=1)
        unset = [layer for layer in layers
                 if isinstance(layer, ConvPoolLayer) and layer.ties is None]
        for layer in unset:
            layer.ties = "all"  # Theano's max-pool gradient
        try:
            self._net = nnfast.Network(layers, cost=LogLikelihoodCost, dtype=np.float32,
                                       seed=book_seed(seed))
        except BaseException:
            for layer in unset:  # a network refused leaves its layers as they came
                layer.ties = None
            raise
        self.layers = layers
        self.mini_batch_size = mini_batch_size
        self._give_layers_their_parameters()
        self._test = None
        self.best_validation_accuracy = None
        self.best_iteration = None
        self.test_accuracy = None

    def _give_layers_their_parameters(self):
        """Each layer's w, b and params: views of the engine's parameters."""
        for layer, w, b in zip(self.layers, self._net._w, self._net._b):
            _OWNERS[layer] = weakref.ref(self)
            # Theano's conv2d flips the kernel: its w is the engine's filter rotated
            # by 180 degrees. A dense layer's w is (n_in, n_out), the engine's transposed.
            layer.w = w[..., ::-1, ::-1] if w.ndim == 4 else w.T
            layer.b = b
            layer.params = [layer.w, layer.b]

    def __setstate__(self, state):
        # A copy's layers must view the copy's parameters, not hold copies of them.
        self.__dict__.update(state)
        self._give_layers_their_parameters()

    @property
    def sizes(self):
        """The inputs' and each layer's outputs' counts, as nnfast.Network's sizes
        (what an nnfast.Ensemble of networks checks)."""
        return self._net.sizes

    @property
    def network(self):
        """The :class:`nnfast.Network` underneath (same parameters)."""
        return self._net

    @property
    def params(self):
        """[w0, b0, w1, b1, ...]: every layer's ``params``, as network3's ``self.params``."""
        return [p for layer in self.layers for p in layer.params]

    def predict(self, images):
        """The predicted digit (the most probable output) for each row of images
        (N, n_in), or of the images of an (images, labels) pair; every row, whole
        mini-batch or not."""
        if isinstance(images, tuple) and len(images) == 2:
            images = images[0]
        return self._net.predict(images, "images")

    def test_mb_predictions(self, i):
        """The predicted digits of test mini-batch i (the test_data of the last SGD
        call), as the book's ``conv.py`` compiles ``net.test_mb_predictions``."""
        if self._test is None:
            raise ValueError("test_mb_predictions needs a network trained by SGD with "
                             "test_data")
        batches = len(self._test.X) // self.mini_batch_size
        i = check_int(i, "i", minimum=0)
        if i >= batches:
            raise ValueError(f"i must be below the {batches} whole test mini-batches, got {i}")
        m = self.mini_batch_size
        return self._net.predict(self._test.X[i * m:(i + 1) * m])

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data, test_data,
            lmbda=0.0):
        """Train with mini-batch SGD, printing progress as the book does.

        Each data set is (images, labels) as :func:`load_data_shared` gives it (a list
        of (x, y) pairs works too). test_data may be None. Returns nothing: the results
        are printed and kept in ``best_validation_accuracy``, ``best_iteration`` and
        ``test_accuracy``.
        """
        net = self._net
        # The whole run, checks and lines included, holds the network: no other thread
        # trains or reads it from the first check to the last line printed.
        with net.exclusive("SGD"):
            mini_batch_size = check_int(mini_batch_size, "mini_batch_size", minimum=1)
            if mini_batch_size != self.mini_batch_size:
                raise ValueError(f"mini_batch_size is {mini_batch_size} but the network was "
                                 f"built for {self.mini_batch_size}")
            training = net.samples(training_data, "training_data")
            validation = net.samples(validation_data, "validation_data")
            test = None if is_empty(test_data) else net.samples(test_data, "test_data")
            for name, data in (("training_data", training), ("validation_data", validation),
                               ("test_data", test)):
                if data is not None and len(data.X) < mini_batch_size:
                    raise ValueError(f"{name} has {len(data.X)} samples, fewer than one "
                                     f"mini-batch of {mini_batch_size}")
            # network3 uses whole mini-batches only, in order, the same every epoch, and
            # divides the L2 term by num_training_batches, not by the sample count.
            num_training_batches = len(training.X) // mini_batch_size
            config = SGDConfig(epochs, mini_batch_size, eta, lmbda,
                               decay_n=num_training_batches, shuffle=False,
                               whole_batches_only=True)
            report = _BookReport(self, validation, test, num_training_batches)
            net.train(training, config, [report], progress=False)
            self._test = test
            self.best_validation_accuracy = report.best_validation_accuracy
            self.best_iteration = report.best_iteration
            self.test_accuracy = report.test_accuracy
            print("Finished training network.")
            print("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
                self.best_validation_accuracy, self.best_iteration))
            if test is not None:
                print("Corresponding test accuracy of {0:.2%}".format(self.test_accuracy))

    def _accuracy(self, data):
        """The book's accuracy: the mean of the per-mini-batch accuracies over the whole
        mini-batches, that is the accuracy on the first size // mini_batch_size batches."""
        X, labels = data
        m = len(X) // self.mini_batch_size * self.mini_batch_size
        predictions = self._net.predict(X[:m])
        return float(np.mean(predictions == labels[:m]))


class _BookReport(Monitor):
    """network3's lines: "Training mini-batch number k" every 1,000 mini-batches (when
    the engine call holding mini-batch k starts), then after each epoch the validation
    accuracy and, at a best one, the test accuracy."""

    def __init__(self, book, validation, test, num_training_batches):
        self.book, self.validation, self.test = book, validation, test
        self.num_training_batches = num_training_batches
        self.best_validation_accuracy = 0.0
        self.best_iteration = None
        self.test_accuracy = None

    def before_chunk(self, epoch, start, stop):
        batch = self.book.mini_batch_size
        first = self.num_training_batches * epoch + start // batch
        last = self.num_training_batches * epoch + stop // batch
        for iteration in range(-(-first // 1000) * 1000, last, 1000):
            print("Training mini-batch number {0}".format(iteration))

    def after_epoch(self, epoch, network, training, history):
        iteration = self.num_training_batches * (epoch + 1) - 1
        validation_accuracy = self.book._accuracy(self.validation)
        print("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
        if validation_accuracy >= self.best_validation_accuracy:
            print("This is the best validation accuracy to date.")
            self.best_validation_accuracy = validation_accuracy
            self.best_iteration = iteration
            if self.test is not None:
                self.test_accuracy = self.book._accuracy(self.test)
                print("The corresponding test accuracy is {0:.2%}".format(self.test_accuracy))
        return False
