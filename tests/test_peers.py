"""The peers `nnfast bench` and benches/ time nnfast against do the same training: an
epoch of PyTorch's and of JAX's reaches the NumPy oracle's weights in float64, for
the sigmoid networks' two costs and chapter 6's conv nets (sigmoid and ReLU, two
conv layers), with and without L2, and a last mini-batch shorter than the others."""
import os

import numpy as np
import pytest

from nnfast import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, oracle, peers
from nnfast.maths import LogLikelihoodCost

SIZES = [784, 30, 10]
SAMPLES, MINI_BATCH, ETA = 45, 10, 0.5  # four whole mini-batches and one of five
CASES = [("quadratic", 0.0), ("cross-entropy", 5.0)]


def jax_in_float64():
    """A context in which JAX computes in float64 (jax.enable_x64, or its older home)."""
    jax = pytest.importorskip("jax")
    enable_x64 = getattr(jax, "enable_x64", None)
    if enable_x64 is None:
        from jax.experimental import enable_x64
    return enable_x64(True)


def data():
    rng = np.random.default_rng(5)
    return rng.random((SAMPLES, SIZES[0])), rng.integers(0, SIZES[-1], SAMPLES)


def oracle_epoch(cost, lmbda, X, y):
    weights, biases = oracle.default_weight_initializer(SIZES, np.random.default_rng(0))
    costs = {"quadratic": oracle.QuadraticCost, "cross-entropy": oracle.CrossEntropyCost}
    weights, biases, _ = oracle.sgd_epoch(
        weights, biases, X, oracle.vectorized_result(y, SIZES[-1], np.float64), MINI_BATCH, ETA,
        lmbda, costs[cost], ["sigmoid"] * (len(SIZES) - 1),
        np.random.default_rng(1).permutation(SAMPLES))
    return list(zip(weights, biases))


def tolerance(X):
    """Two correct float64 epochs differ by their roundings alone. Each of the 5 steps
    rounds sums of at most n = 784 terms, each sum within gamma_n = n*u/(1 - n*u) of
    its exact value relative to the sum of its terms' magnitudes (Higham, "Accuracy
    and Stability of Numerical Algorithms", 3.1), the largest of which, |w1|.|x|,
    bounds what any step's rounding moves a weight by; the sigmoids' slopes (<= 1/4)
    and eta * mean over the batch only shrink it."""
    u = np.finfo(np.float64).eps / 2
    n = SIZES[0]
    gamma = n * u / (1 - n * u)
    w1 = oracle.default_weight_initializer(SIZES, np.random.default_rng(0))[0][0]
    steps = -(-SAMPLES // MINI_BATCH)
    return steps * gamma * (np.abs(w1) @ np.abs(X).T).max()


def assert_same_training(parameters, expected, X):
    start = oracle.default_weight_initializer(SIZES, np.random.default_rng(0))[0]
    for (w, b), (w_oracle, b_oracle), w_start in zip(parameters, expected, start):
        assert w.dtype == np.float64 and w.shape == w_oracle.shape
        assert np.abs(w_oracle - w_start).max() > 1e-3  # the epoch moved the weights
        np.testing.assert_allclose(w, w_oracle, rtol=0, atol=tolerance(X))
        np.testing.assert_allclose(b, b_oracle, rtol=0, atol=tolerance(X))


@pytest.mark.parametrize("cost,lmbda", CASES)
def test_torch_epoch_is_the_oracles(cost, lmbda):
    pytest.importorskip("torch")
    X, y = data()
    epoch = peers.torch_epoch(SIZES, cost, X, y, MINI_BATCH, ETA, lmbda)
    epoch()
    assert_same_training(epoch.parameters(), oracle_epoch(cost, lmbda, X, y), X)


@pytest.mark.parametrize("cost,lmbda", CASES)
def test_jax_epoch_is_the_oracles(cost, lmbda):
    X, y = data()
    with jax_in_float64():
        epoch = peers.jax_epoch(SIZES, cost, X, y, MINI_BATCH, ETA, lmbda)
        epoch()
        parameters = epoch.parameters()
    assert_same_training(parameters, oracle_epoch(cost, lmbda, X, y), X)


@pytest.mark.parametrize("make", [peers.torch_epoch, peers.jax_epoch])
def test_peers_refuse_what_they_cannot_train(make):
    X, y = data()
    with pytest.raises(ValueError, match="cost must be one of"):
        make(SIZES, "log-likelihood", X, y, MINI_BATCH, ETA)
    with pytest.raises(ValueError, match=r"X must be \(n, 784\)"):
        make(SIZES, "quadratic", X[:, :100], y, MINI_BATCH, ETA)
    with pytest.raises(ValueError, match=r"X must be \(n, 784\)"):
        make(SIZES, "quadratic", X, y[:-1], MINI_BATCH, ETA)


def test_jax_threads_follow_xla_flags(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert peers.jax_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                    "intra_op_parallelism_threads=1")
    assert peers.jax_threads() == 1


# Chapter 6's nets in small: a conv layer on 8 x 8 images, then dense and softmax
# layers; and two conv layers with ReLU.
CONV_NETS = {
    "sigmoid": (lambda: [ConvPoolLayer((3, 1, 3, 3), (1, 8, 8), (2, 2)),
                         FullyConnectedLayer(27, 6), SoftmaxLayer(6, 4)], 0.0),
    "relu, two conv layers": (lambda: [ConvPoolLayer((3, 1, 3, 3), (1, 10, 10), (2, 2), ReLU),
                                       ConvPoolLayer((4, 3, 2, 2), (3, 4, 4), (3, 3), ReLU),
                                       FullyConnectedLayer(4, 6, ReLU), SoftmaxLayer(6, 4)],
                              2.0),
}
CONV_SAMPLES, CONV_MINI_BATCH = 13, 4  # three whole mini-batches and one of one


def conv_case(name):
    make, lmbda = CONV_NETS[name]
    rng = np.random.default_rng(6)
    X = rng.random((CONV_SAMPLES, make()[0].n_in))
    y = rng.integers(0, 4, CONV_SAMPLES)
    layers = make()
    start_rng = np.random.default_rng(0)
    start = [layer.initial_parameters(start_rng) for layer in layers]
    weights, biases, _ = oracle.sgd_epoch(
        [w for w, _ in start], [b for _, b in start], X, oracle.vectorized_result(y, 4),
        CONV_MINI_BATCH, ETA, lmbda, LogLikelihoodCost, [layer.spec() for layer in layers],
        np.random.default_rng(1).permutation(CONV_SAMPLES))
    # Float64 sums of at most n = 27 terms (the dense layer's), from O(1) inputs and
    # weights, rounded differently: within gamma_n of their magnitudes' sum (<= n), for
    # each of the 4 steps; the pools' maxima and the ReLUs' kinks are the same where
    # no two candidates are within that of each other.
    u = np.finfo(np.float64).eps / 2
    n = 27
    tolerance = 4 * n * u / (1 - n * u) * n
    return layers, X, y, lmbda, start, list(zip(weights, biases)), tolerance


def assert_same_conv_training(parameters, start, expected, tolerance):
    for (w, b), (w_start, _), (w_oracle, b_oracle) in zip(parameters, start, expected):
        assert w.dtype == np.float64 and w.shape == w_oracle.shape
        assert np.abs(w_oracle - w_start).max() > 1e-3  # the epoch moved the weights
        np.testing.assert_allclose(w, w_oracle, rtol=0, atol=tolerance)
        np.testing.assert_allclose(b, b_oracle, rtol=0, atol=tolerance)


@pytest.mark.parametrize("name", sorted(CONV_NETS))
def test_torch_conv_epoch_is_the_oracles(name):
    pytest.importorskip("torch")
    layers, X, y, lmbda, start, expected, tolerance = conv_case(name)
    epoch = peers.torch_conv_epoch(layers, X, y, CONV_MINI_BATCH, ETA, lmbda)
    epoch()
    assert_same_conv_training(epoch.parameters(), start, expected, tolerance)


@pytest.mark.parametrize("name", sorted(CONV_NETS))
def test_jax_conv_epoch_is_the_oracles(name):
    layers, X, y, lmbda, start, expected, tolerance = conv_case(name)
    with jax_in_float64():
        epoch = peers.jax_conv_epoch(layers, X, y, CONV_MINI_BATCH, ETA, lmbda)
        epoch()
        parameters = epoch.parameters()
    assert_same_conv_training(parameters, start, expected, tolerance)


@pytest.mark.parametrize("make", [peers.torch_conv_epoch, peers.jax_conv_epoch])
def test_conv_peers_refuse_what_they_cannot_train(make):
    layers, X, y, *_ = conv_case("sigmoid")
    with pytest.raises(ValueError, match="must end in a SoftmaxLayer"):
        make(layers[:-1], X, y, CONV_MINI_BATCH, ETA)
    with pytest.raises(ValueError, match="without dropout"):
        make(layers[:-1] + [SoftmaxLayer(6, 4, p_dropout=0.5)], X, y, CONV_MINI_BATCH, ETA)
    with pytest.raises(ValueError, match="ties='first'"):
        make([ConvPoolLayer((3, 1, 3, 3), (1, 8, 8), (2, 2), ties="all")] + layers[1:], X, y,
             CONV_MINI_BATCH, ETA)
    with pytest.raises(TypeError, match="not str"):
        make(["conv"] + layers, X, y, CONV_MINI_BATCH, ETA)
    with pytest.raises(ValueError, match=r"X must be \(n, 64\)"):
        make(layers, X[:, :10], y, CONV_MINI_BATCH, ETA)
