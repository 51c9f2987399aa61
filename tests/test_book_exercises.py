"""The reader's code runs: the book's exercises rewrite backprop, update_mini_batch,
feedforward or the cost, and nnfast's SGD calls what they wrote, as often as the
book's loop would, and trains to what the book's code computes.

The costs below are written out as a reader copies them from network2.py, so that
nnfast cannot recognise them: they are classes of this module, not nnfast's.
"""
import pickle

import numpy as np
import pytest

import nnfast
from nnfast import costs
from nnfast.book import network, network2
from nnfast.layers import FullyConnectedLayer, SoftmaxLayer

SIZES = [7, 6, 5]       # odd sizes: no layer is a multiple of a GEMM tile
N, MINI_BATCH = 53, 10  # 6 mini-batches per epoch, the last one short (3)
EPOCHS = 2


def _sigmoid_prime(z):
    s = 1.0 / (1.0 + np.exp(-z))
    return s * (1 - s)


class CrossEntropyCost(object):
    """network2.py's, as the book writes it."""

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return (a - y)


class QuadraticCost(object):
    """network2.py's, as the book writes it."""

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * _sigmoid_prime(z)


class LogLikelihoodCost(object):
    """Chapter 3's softmax cost, -ln a_y, written by a reader."""

    @staticmethod
    def fn(a, y):
        return -np.sum(np.log(a[y == 1]))

    @staticmethod
    def delta(z, a, y):
        return (a - y)


def _book_data(n, sizes, seed):
    """n training pairs with one-hot columns, and 11 test pairs with int labels."""
    rng = np.random.default_rng(seed)

    def pair():
        y = np.zeros((sizes[-1], 1))
        y[rng.integers(sizes[-1])] = 1.0
        return rng.random((sizes[0], 1)), y
    training = [pair() for _ in range(n)]
    test = [(x, int(np.argmax(y))) for x, y in (pair() for _ in range(11))]
    return training, test


def _sgd(module, net, training, test=None, epochs=EPOCHS, lmbda=0.0):
    if module is network:
        return net.SGD(training, epochs, MINI_BATCH, 3.0, test_data=test)
    return net.SGD(training, epochs, MINI_BATCH, 0.5, lmbda=lmbda, evaluation_data=test,
                   monitor_evaluation_accuracy=test is not None)


def _parameters(net):
    return [p.copy() for p in net.weights + net.biases]


# ---- the reader's methods are called as often as the book's loop calls them ----

@pytest.mark.parametrize("module", [network, network2])
def test_update_mini_batch_is_called_once_per_mini_batch(module, capsys):
    seen = []

    class Mine(module.Network):
        def update_mini_batch(self, mini_batch, *args):
            seen.append((len(mini_batch), args))
            super().update_mini_batch(mini_batch, *args)

    training, _ = _book_data(N, SIZES, seed=1)
    _sgd(module, Mine(SIZES, seed=2), training, lmbda=0.25)
    book_sizes = [10, 10, 10, 10, 10, 3]  # the book's training_data[k:k+10]
    assert [size for size, _ in seen] == book_sizes * EPOCHS
    want_args = (3.0,) if module is network else (0.5, 0.25, N)  # eta (, lmbda, n)
    assert all(args == want_args for _, args in seen)


@pytest.mark.parametrize("module", [network, network2])
def test_backprop_is_called_once_per_sample(module, capsys):
    samples = []

    class Mine(module.Network):
        def backprop(self, x, y):
            samples.append((x.shape, y.shape))
            return super().backprop(x, y)

    training, _ = _book_data(N, SIZES, seed=3)
    _sgd(module, Mine(SIZES, seed=4), training)
    assert len(samples) == N * EPOCHS
    assert set(samples) == {((SIZES[0], 1), (SIZES[-1], 1))}  # the book's columns
    # Calling update_mini_batch directly runs the reader's backprop too.
    samples.clear()
    net = Mine(SIZES, seed=4)
    args = (1.0,) if module is network else (1.0, 0.0, N)
    net.update_mini_batch(training[:7], *args)
    assert len(samples) == 7


@pytest.mark.parametrize("module", [network, network2])
def test_a_copy_of_the_books_backprop_trains_as_the_engine_does(module, capsys):
    class Mine(module.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

    training, _ = _book_data(N, SIZES, seed=5)
    mine, engine = Mine(SIZES, seed=6), module.Network(SIZES, seed=6)
    _sgd(module, mine, training)
    _sgd(module, engine, training)
    # The same seed gives the same mini-batches; the sums differ only in rounding (the
    # engine sums a mini-batch in one GEMM, the book sample by sample). See the
    # tolerance of test_a_readers_cross_entropy_trains_as_the_built_in_one.
    for got, want in zip(_parameters(mine), _parameters(engine)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("module", [network, network2])
@pytest.mark.parametrize("rewritten", ["backprop", "update_mini_batch"])
def test_an_override_returning_zero_gradients_changes_nothing(module, rewritten, capsys):
    class Mine(module.Network):
        if rewritten == "backprop":
            def backprop(self, x, y):
                return ([np.zeros(b.shape) for b in self.biases],
                        [np.zeros(w.shape) for w in self.weights])
        else:
            def update_mini_batch(self, mini_batch, *args):
                nabla_b = [np.zeros(b.shape) for b in self.biases]
                nabla_w = [np.zeros(w.shape) for w in self.weights]
                eta, m = args[0], len(mini_batch)
                self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
                self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    training, test = _book_data(N, SIZES, seed=7)
    net = Mine(SIZES, seed=8)
    before = _parameters(net)
    _sgd(module, net, training, test)
    # w - (eta/m) * 0 is w exactly: not a bit may move.
    for got, want in zip(_parameters(net), before):
        np.testing.assert_array_equal(got, want)


# ---- the reader's cost ----

def test_a_readers_evaluate_prints_the_lines_of_network_py(capsys):
    class Net(network.Network):
        def evaluate(self, test_data):
            return 12345

    training, test = _book_data(N, SIZES, seed=41)
    Net(SIZES, seed=42).SGD(training, EPOCHS, MINI_BATCH, 3.0, test_data=test)
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"Epoch {e}: 12345 / 11" for e in range(EPOCHS)]
    assert "Net.evaluate is rewritten" in err


def test_a_readers_accuracy_and_total_cost_fill_network2s_lists(capsys):
    class Net(network2.Network):
        def accuracy(self, data, convert=False):
            return -1

        def total_cost(self, data, lmbda, convert=False):
            return -2.0

    training, test = _book_data(N, SIZES, seed=43)
    lists = Net(SIZES, seed=44).SGD(
        training, EPOCHS, MINI_BATCH, 0.5, evaluation_data=test,
        monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
        monitor_training_cost=True, monitor_training_accuracy=True)
    assert lists == ([-2.0] * EPOCHS, [-1] * EPOCHS, [-2.0] * EPOCHS, [-1] * EPOCHS)
    assert "Net.accuracy is rewritten and Net.total_cost is rewritten" in capsys.readouterr().err


def test_a_readers_default_weight_initializer_starts_the_network():
    """The book's __init__ calls self.default_weight_initializer(): the reader's."""
    class Zeros(network2.Network):
        def default_weight_initializer(self):
            self.biases = [np.zeros((y, 1)) for y in self.sizes[1:]]
            self.weights = [np.zeros((y, x)) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    net = Zeros(SIZES, seed=45)
    assert all(not p.any() for p in net.weights + net.biases)
    assert any(p.any() for p in network2.Network(SIZES, seed=45).weights)


@pytest.mark.parametrize("make", [lambda: network.Network(SIZES), lambda: network2.Network(SIZES)],
                         ids=["network", "network2"])
def test_np_random_seed_repeats_a_book_networks_run(make):
    """As the book's scripts have it: np.random.seed(s), then the network, its start
    and its mini-batches drawn from there."""
    training, _ = _book_data(N, SIZES, seed=46)
    runs = []
    for _ in range(2):
        np.random.seed(12345678)
        net = make()
        runs.append(_parameters(net))
        net.SGD(training, EPOCHS, MINI_BATCH, 0.5)
        runs[-1] += _parameters(net)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    np.random.seed(1)
    assert not np.array_equal(make().weights[0], runs[0][0])


@pytest.mark.parametrize("module", [network, network2])
def test_a_step_whose_biases_are_refused_leaves_the_weights_as_they_were(module):
    """A reader's backprop whose bias gradient is not finite: the step is refused
    before it writes the weights (they were written, then the biases refused)."""
    class Net(module.Network):
        def backprop(self, x, y):
            nabla_b, nabla_w = super().backprop(x, y)
            nabla_b[-1] = nabla_b[-1] / 0.0
            return nabla_b, nabla_w

    net = Net([2, 3, 1], seed=0)
    before = [a.copy() for a in net.weights + net.biases]
    with pytest.raises(ValueError, match=r"^biases\[1\]: holds NaN or infinite values"):
        with np.errstate(divide="ignore"):
            net.update_mini_batch([(np.array([[0.5], [0.2]]), np.array([[1.0]]))], 3.0,
                                  *([0.0, 1] if module is network2 else []))
    for got, want in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(got, want)


def test_a_readers_cross_entropy_trains_as_the_built_in_one(capsys):
    training, test = _book_data(N, SIZES, seed=9)
    mine = network2.Network(SIZES, cost=CrossEntropyCost, seed=10)
    built_in = network2.Network(SIZES, cost=network2.CrossEntropyCost, seed=10)
    got = _sgd(network2, mine, training, test, epochs=3, lmbda=0.1)
    want = _sgd(network2, built_in, training, test, epochs=3, lmbda=0.1)
    assert got[1] == want[1]  # the evaluation accuracies
    # Tolerance. Both runs take the same 18 steps on the same mini-batches; they differ
    # only in rounding: the engine sums a mini-batch's gradient in one GEMM, the book's
    # loop sample by sample. With inputs and activations in [0, 1] and the
    # cross-entropy's delta = a - y in (-1, 1) every per-sample gradient entry is below
    # 1 in size, so a sum of m = 10 of them differs by at most about m * eps = 2.2e-15,
    # and a step (eta/m times it, eta = 0.5) by about 1.1e-16 per entry. Over 18 steps
    # that is 2e-15 before any growth; a step of SGD multiplies a difference by at most
    # 1 + eta * (the cost's curvature), a few here, and the runs measured 1e-15 apart.
    # 1e-10 leaves four orders of magnitude for that growth, while any real difference
    # (another shuffle, a missed L2 decay, a wrong BP1) moves the weights by > 1e-3.
    for got, want in zip(_parameters(mine), _parameters(built_in)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert mine.total_cost(training, 0.1) == pytest.approx(built_in.total_cost(training, 0.1),
                                                           rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("regularization", ["l2", "l1"])
def test_a_readers_cost_in_the_core_network_trains_as_the_built_in_one(regularization, dtype):
    rng = np.random.default_rng(11)
    X, y = rng.random((N, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], N)
    nets = [nnfast.Network(SIZES, cost=c, dtype=dtype, seed=12)
            for c in (CrossEntropyCost, nnfast.CrossEntropyCost)]
    histories = [net.SGD((X, y), 3, MINI_BATCH, 0.5, lmbda=0.1, momentum=0.3,
                         regularization=regularization, evaluation_data=(X[:20], y[:20]),
                         monitor_evaluation_cost=True, monitor_gradient_norms=True)
                 for net in nets]
    # The same mini-batches go through the same compiled forward pass and BP2-BP4; BP1
    # is a - y in both, one correctly rounded subtraction in C or in NumPy: the weights
    # come out bit for bit equal (well within the 1e-10 asked).
    for got, want in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(got, want)
    assert histories[0].gradient_norms == histories[1].gradient_norms
    np.testing.assert_allclose(histories[0].evaluation_cost, histories[1].evaluation_cost,
                               rtol=10 * np.finfo(dtype).eps * SIZES[-1])


def test_a_readers_quadratic_cost_in_the_core_network():
    rng = np.random.default_rng(13)
    X, y = rng.random((N, SIZES[0])), rng.integers(0, SIZES[-1], N)
    mine = nnfast.Network(SIZES, cost=QuadraticCost, dtype=np.float64, seed=14)
    built_in = nnfast.Network(SIZES, cost=nnfast.QuadraticCost, dtype=np.float64, seed=14)
    mine.SGD((X, y), 2, MINI_BATCH, 3.0)
    built_in.SGD((X, y), 2, MINI_BATCH, 3.0)
    # The reader's BP1 takes sigma'(z) from z, the engine's a(1 - a) from a: a few eps
    # apart per entry, then the argument of the cross-entropy test above (12 steps).
    for got, want in zip(mine.weights + mine.biases, built_in.weights + built_in.biases):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_a_readers_cost_sees_the_engines_dropout_masks():
    """The split mini-batch draws the masks train_chunk draws: a softmax network with
    dropout trains to the same weights with a reader's log-likelihood."""
    rng = np.random.default_rng(15)
    X, y = rng.random((N, SIZES[0])), rng.integers(0, SIZES[-1], N)

    def make(cost):
        return nnfast.Network([FullyConnectedLayer(SIZES[0], SIZES[1], p_dropout=0.5),
                               SoftmaxLayer(SIZES[1], SIZES[2], p_dropout=0.25)],
                              cost=cost, dtype=np.float64, seed=16)
    mine, built_in = make(LogLikelihoodCost), make(nnfast.LogLikelihoodCost)
    mine.SGD((X, y), 2, MINI_BATCH, 0.5)
    built_in.SGD((X, y), 2, MINI_BATCH, 0.5)
    for got, want in zip(mine.weights + mine.biases, built_in.weights + built_in.biases):
        np.testing.assert_array_equal(got, want)


def test_a_readers_cost_is_called_once_per_mini_batch_on_rows():
    calls = []

    class Counted(CrossEntropyCost):
        @staticmethod
        def delta(z, a, y):
            calls.append((z.shape, a.shape, y.shape, y.sum()))
            return a - y

    rng = np.random.default_rng(17)
    X, y = rng.random((N, SIZES[0])), rng.integers(0, SIZES[-1], N)
    nnfast.Network(SIZES, cost=Counted, dtype=np.float64, seed=18).SGD((X, y), 1, MINI_BATCH,
                                                                       0.5)
    rows = [10, 10, 10, 10, 10, 3]
    assert [c[0] for c in calls] == [(m, SIZES[-1]) for m in rows]
    assert [c[3] for c in calls] == rows  # one-hot rows


def test_a_readers_cost_of_the_wrong_shape_is_refused():
    class Flat(CrossEntropyCost):
        @staticmethod
        def delta(z, a, y):
            return (a - y).ravel()

    net = nnfast.Network(SIZES, cost=Flat, dtype=np.float64, seed=19)
    before = [w.copy() for w in net.weights]
    X, y = np.full((N, SIZES[0]), 0.5), np.zeros(N, np.int64)
    with pytest.raises(ValueError, match=r"cost.delta\(z, a, y\) must return"):
        net.SGD((X, y), 1, MINI_BATCH, 0.5)
    for got, want in zip(net.weights, before):  # the chunk is rolled back
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make", [
    lambda cost: nnfast.Network(SIZES, cost=cost),
    lambda cost: network2.Network(SIZES, cost=cost),
])
def test_a_cost_without_fn_or_delta_is_a_type_error(make):
    class NoDelta:
        @staticmethod
        def fn(a, y):
            return 0.0

    class NoFn:
        delta = staticmethod(CrossEntropyCost.delta)

    for cost, missing in ((NoDelta, "delta"), (NoFn, "fn"), (42, "fn and no delta")):
        with pytest.raises(TypeError, match=f"^cost must be .* has no {missing}"):
            make(cost)
    with pytest.raises(ValueError, match="cost must be one of"):
        make("SquaredCost")


def test_a_readers_cost_is_kept_by_identity():
    net = nnfast.Network(SIZES, cost=CrossEntropyCost, seed=20)
    assert net.cost is CrossEntropyCost and not costs.is_builtin(net.cost)
    copy = pickle.loads(pickle.dumps(net))
    assert copy.cost is CrossEntropyCost
    for got, want in zip(copy.weights, net.weights):
        np.testing.assert_array_equal(got, want)
    # Second derivatives are the engine's, for its own costs only.
    X, y = np.full((3, SIZES[0]), 0.5), np.arange(3)
    with pytest.raises(ValueError, match="needs a built-in cost"):
        net.gradient((X, y))


# ---- feedforward and the notice ----

_feedforward_calls = []


class _AlwaysZero(network2.Network):
    """A reader's feedforward that answers class 0 whatever the input."""

    def feedforward(self, a):
        _feedforward_calls.append(a.shape)
        out = np.full((self.sizes[-1], 1), 0.1)
        out[0] = 0.9
        return out


def test_a_readers_feedforward_is_what_evaluate_and_accuracy_use(capsys):
    training, test = _book_data(N, SIZES, seed=21)
    zeros = sum(label == 0 for _, label in test)
    net = _AlwaysZero(SIZES, seed=22)
    assert net.accuracy(test) == zeros
    assert net.accuracy(training, convert=True) == sum(int(y[0, 0] == 1) for _, y in training)
    want = sum(network2.CrossEntropyCost.fn(net.feedforward(x), y) for x, y in training) / N
    assert net.total_cost(training, 0.0) == pytest.approx(want, rel=1e-12)

    class Chapter1(network.Network):
        feedforward = _AlwaysZero.feedforward

    assert Chapter1(SIZES, seed=23).evaluate(test) == zeros
    _feedforward_calls.clear()
    result = net.SGD(training, 2, MINI_BATCH, 0.5, evaluation_data=test,
                     monitor_evaluation_accuracy=True)
    assert result[1] == [zeros, zeros]
    assert _feedforward_calls == [(SIZES[0], 1)] * (2 * len(test))
    Chapter1(SIZES, seed=23).SGD(training, 1, MINI_BATCH, 3.0, test_data=test)
    assert f"Epoch 0: {zeros} / {len(test)}" in capsys.readouterr().out


def test_the_notice_is_printed_once_per_sgd_call(capsys):
    class Mine(network2.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

    training, test = _book_data(N, SIZES, seed=24)
    net = Mine(SIZES, cost=CrossEntropyCost, seed=25)
    net.SGD(training, 3, MINI_BATCH, 0.5, evaluation_data=test,
            monitor_evaluation_accuracy=True)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "Python loop" in err[0] and "Mine.backprop" in err[0] and "CrossEntropyCost" in err[0]
    net.SGD(training, 1, MINI_BATCH, 0.5)
    assert len(capsys.readouterr().err.splitlines()) == 1
    # The book's own classes and costs train in the engine, without a word.
    network2.Network(SIZES, seed=25).SGD(training, 2, MINI_BATCH, 0.5)
    network.Network(SIZES, seed=25).SGD(training, 2, MINI_BATCH, 3.0)
    assert capsys.readouterr().err == ""


# ---- the engine's mini-batch in two halves ----

def test_the_engine_keeps_the_output_z_for_a_readers_delta():
    seen = []

    class Watching(QuadraticCost):
        @staticmethod
        def delta(z, a, y):
            seen.append((z, a))
            return QuadraticCost.delta(z, a, y)

    rng = np.random.default_rng(26)
    X, y = rng.random((N, SIZES[0])), rng.integers(0, SIZES[-1], N)
    net = nnfast.Network(SIZES[::2], cost=Watching, dtype=np.float64, seed=27)  # one layer
    z_all = X @ net.weights[0].T + net.biases[0].T  # before the one step of a full batch
    net.SGD((X, y), 1, N, 0.5)
    (z, a), = seen
    # The rows come shuffled: sort both by their first column. One GEMM row against
    # NumPy's: a few eps of a value of size ~n_in.
    order, want = np.argsort(z[:, 0]), np.argsort(z_all[:, 0])
    np.testing.assert_allclose(z[order], z_all[want], rtol=0, atol=1e-13)
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-z)), rtol=1e-15)


def test_the_split_mini_batch_refuses_what_would_run_out_of_bounds():
    net = nnfast.Network(SIZES, cost=CrossEntropyCost, dtype=np.float64, seed=28)
    engine, X = net._engine, np.zeros((N, SIZES[0]))
    work = engine.workspace(MINI_BATCH, 1)
    with pytest.raises(ValueError, match="perm must be 1 to 10"):
        engine.train_forward(X, np.arange(11, dtype=np.int64), 0, MINI_BATCH, work, 1)
    with pytest.raises(ValueError, match="perm must index rows of x"):
        engine.train_forward(X, np.array([0, N], dtype=np.int64), 0, MINI_BATCH, work, 1)
    with pytest.raises(ValueError, match="workspace too small"):
        engine.output_buffers(engine.workspace(2, 1), MINI_BATCH, 1)
    with pytest.raises(ValueError, match="rows must be 1 to 10"):
        engine.train_backward(0, MINI_BATCH, 0.5, 0.0, 0.0, N, "l2", work, 1)
    with pytest.raises(ValueError, match="the cost is the caller's"):
        engine.train_chunk(X, np.zeros(N, np.int64), np.arange(N, dtype=np.int64), MINI_BATCH,
                           0.5, 0.0, 0.0, N, "l2", work, 1)
