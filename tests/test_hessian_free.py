"""Second-order training: Network.hessian_free (Martens' Hessian-free optimisation)
and method="newton" (the book's w <- w - H^-1 grad C, damped)."""
import time

import numpy as np
import pytest

from nnfast import Network, SoftmaxLayer, datasets, hessian_free
from nnfast.costs import LogLikelihoodCost, QuadraticCost


def blobs(n=300, n_in=6, n_out=3, seed=0):
    """Three separable clusters: a problem a few second-order steps solve."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_out, n)
    centres = rng.standard_normal((n_out, n_in)) * 2
    return (centres[labels] + rng.standard_normal((n, n_in))).astype(np.float64), labels


def test_mnist_hessian_free_reaches_90_percent(mnist_dir):
    """[784, 30, 10], cross-entropy, trained on the first 8,000 MNIST test images and
    scored on the other 2,000: >= 90% in 10 epochs, the training cost falling."""
    X, y = datasets.load_mnist_test(mnist_dir)
    train, test = (X[:8000], y[:8000]), (X[8000:], y[8000:])
    net = Network([784, 30, 10], dtype=np.float32, seed=0)
    start = time.perf_counter()
    history = net.hessian_free(train, 10, 1000, lmbda=1.0, damping=0.1, cg_iterations=20,
                               evaluation_data=test, monitor_evaluation_accuracy=True,
                               monitor_training_cost=True, progress=False)
    seconds = time.perf_counter() - start
    assert len(history.evaluation_accuracy) == 10 and len(history.training_cost) == 10
    assert history.evaluation_accuracy[-1] >= 1800, history.evaluation_accuracy
    cost = history.training_cost
    # Each epoch's steps see other mini-batches, so an epoch may end a little higher;
    # over the run the cost falls, and by far.
    assert cost[-1] < cost[0] / 3 and cost[-1] <= min(cost[:5]), cost
    assert seconds < 60, f"10 epochs took {seconds:.0f} s"


def test_training_cost_falls_on_a_small_problem():
    net = Network([6, 8, 3], dtype=np.float64, seed=1)
    data = blobs()
    before = net.total_cost(data, 0.1)
    history = net.hessian_free(data, 5, 100, lmbda=0.1, monitor_training_cost=True,
                               monitor_training_accuracy=True, progress=False)
    assert history.training_cost[-1] < before / 4
    assert history.training_accuracy[-1] >= 0.95 * 300


@pytest.mark.parametrize("cost", [LogLikelihoodCost, QuadraticCost])
def test_newton_method_on_a_small_net(cost):
    """The book's literal Hessian technique: the explicit Hessian, damped until
    positive definite; each accepted step lowers the mini-batch's cost."""
    net = Network([6, 5, 3], cost=cost, dtype=np.float64, seed=2)
    data = blobs(seed=3)
    before = net.total_cost(data)
    # One mini-batch of the whole set: the line search never lets its cost rise.
    history = net.hessian_free(data, 8, 300, method="newton", damping=0.05,
                               monitor_training_cost=True, progress=False)
    assert history.training_cost[-1] < before / 2
    assert all(b <= a for a, b in zip(history.training_cost, history.training_cost[1:]))


def test_newton_converges_quadratically_on_a_convex_cost():
    """Softmax regression with L2 is strictly convex: lightly damped Newton steps
    drive the gradient to rounding level within a few steps, as no first-order method
    does."""
    net = Network([SoftmaxLayer(6, 3)], dtype=np.float64, seed=9)
    data = blobs(seed=4)
    net.hessian_free(data, 12, 300, lmbda=1.0, method="newton", damping=1e-4, progress=False)
    nabla_w, nabla_b = net.gradient(data, lmbda=1.0)
    assert max(np.abs(g).max() for g in nabla_w + nabla_b) < 1e-9


def test_newton_refuses_a_large_network():
    net = Network([200, 100, 10], dtype=np.float32)
    with pytest.raises(ValueError, match="method='newton' forms the Hessian"):
        net.hessian_free(blobs(n=4, n_in=200, n_out=10), 1, 4, method="newton")


def test_same_weights_for_any_thread_count():
    runs = []
    for threads in (1, 3):
        net = Network([6, 9, 3], dtype=np.float32, seed=4)
        net.hessian_free(blobs(n=250), 2, 50, lmbda=0.5, n_threads=threads, progress=False)
        runs.append(net._params.copy())
    assert np.array_equal(runs[0], runs[1])


def test_progress_callback_sees_every_mini_batch():
    net = Network([6, 4, 3], dtype=np.float64, seed=5)
    calls = []
    net.hessian_free(blobs(n=250), 2, 100, progress=lambda *a: calls.append(a))
    assert calls == [(0, 100, 250), (0, 200, 250), (0, 250, 250),
                     (1, 100, 250), (1, 200, 250), (1, 250, 250)]


def test_interrupt_leaves_the_network_as_the_step_found_it(monkeypatch):
    net = Network([6, 4, 3], dtype=np.float64, seed=6)
    data = blobs(n=100)
    net.hessian_free(data, 1, 50, progress=False)  # somewhere past the start
    before = net._params.copy()
    real_run, calls = hessian_free.curvature.run, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # inside the first step's conjugate gradient
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(hessian_free.curvature, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.hessian_free(data, 1, 50, progress=False)
    assert np.array_equal(net._params, before)
    monkeypatch.setattr(hessian_free.curvature, "run", real_run)
    net.hessian_free(data, 1, 50, progress=False)  # the network is free again


def test_divergence_is_rolled_back(monkeypatch):
    net = Network([6, 4, 3], dtype=np.float64, seed=7)
    before = net._params.copy()
    monkeypatch.setattr(hessian_free.HessianFree, "cg_direction",
                        lambda self, rows, grad: (np.full(self.P, np.nan), -1.0))
    with pytest.raises(FloatingPointError, match="diverged in epoch 0"):
        net.hessian_free(blobs(n=100), 1, 50, progress=False)
    assert np.array_equal(net._params, before)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"damping": 0.0}, ValueError, "damping"),
    ({"damping": -1.0}, ValueError, "damping"),
    ({"damping": float("nan")}, ValueError, "damping"),
    ({"damping": float("inf")}, ValueError, "damping"),
    ({"damping": "1"}, TypeError, "damping"),
    ({"cg_iterations": 0}, ValueError, "cg_iterations"),
    ({"cg_iterations": 2.5}, TypeError, "cg_iterations"),
    ({"curvature_batch_size": 0}, ValueError, "curvature_batch_size"),
    ({"method": "adam"}, ValueError, "method"),
    ({"lmbda": -0.1}, ValueError, "lmbda"),
    ({"monitor_evaluation_accuracy": True}, ValueError, "evaluation_data"),
])
def test_bad_arguments_are_refused_before_training(kwargs, error, match):
    net = Network([6, 4, 3], dtype=np.float64, seed=8)
    before = net._params.copy()
    with pytest.raises(error, match=match):
        net.hessian_free(blobs(n=20), 1, 10, **kwargs)
    assert np.array_equal(net._params, before)


# --- the book's network2 ---------------------------------------------------------------

def book_pairs(X, labels, n_out):
    """The book's training data: (x, y) column pairs, y one-hot."""
    pairs = []
    for x, label in zip(X, labels):
        y = np.zeros((n_out, 1))
        y[label] = 1
        pairs.append((x.reshape(-1, 1), y))
    return pairs


def test_network2_curvature_delegates_to_the_network():
    from nnfast.book import network2

    book = network2.Network([6, 5, 3], seed=10)
    X, labels = blobs(n=40)
    pairs = book_pairs(X, labels, 3)
    nabla_w, nabla_b = book.gradient(pairs, lmbda=0.5)
    assert [b.shape for b in nabla_b] == [(5, 1), (3, 1)]
    want_w, want_b = book.network.gradient((X, labels), lmbda=0.5)
    assert all(np.array_equal(a, b) for a, b in zip(nabla_w + nabla_b, want_w + want_b))
    v = ([np.ones_like(w) for w in book.weights], [np.ones_like(b) for b in book.biases])
    Hv = book.hessian_vector_product(pairs, v)
    assert all(np.array_equal(a, b) for a, b in
               zip(Hv[0] + Hv[1], sum(book.network.hessian_vector_product((X, labels), v), [])))
    Gv = book.gauss_newton_vector_product(pairs, v)
    assert sum(float((a * b).sum()) for a, b in zip(Gv[0] + Gv[1], v[0] + v[1])) >= 0
    assert book.hessian(pairs).shape == (6 * 5 + 5 + 5 * 3 + 3,) * 2


def test_network2_hessian_free_prints_as_sgd_does(capsys):
    from nnfast.book import network2

    book = network2.Network([6, 5, 3], seed=11)
    X, labels = blobs(n=60)
    pairs = book_pairs(X, labels, 3)
    result = book.hessian_free(pairs, 2, 30, lmbda=0.1, evaluation_data=list(zip(X, labels)),
                               monitor_evaluation_accuracy=True, monitor_training_cost=True)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = result
    assert len(evaluation_accuracy) == 2 and len(training_cost) == 2
    assert evaluation_cost == [] and training_accuracy == []
    out = capsys.readouterr().out
    assert "Epoch 1 training complete" in out and "Accuracy on evaluation data" in out


def test_an_uphill_warm_start_is_dropped():
    """CG truncated early may not leave a warm start that points uphill; the step then
    starts CG from zero, whose iterates all descend."""
    net = Network([6, 5, 3], dtype=np.float64, seed=12)
    training = net.samples(blobs(n=100))
    config = hessian_free.HessianFreeConfig(1, 100, damping=1e-3, cg_iterations=1)
    run = hessian_free.HessianFree(net, training, config)
    rows = np.arange(100)
    uphill = run.curvature_call(rows, None, gradient=True)
    run.direction = 1e3 * uphill / np.linalg.norm(uphill)
    before = run.cost(rows)
    with net.exclusive("hessian_free"):
        run.step(rows, 0)
    assert run.cost(rows) < before
    assert run.direction @ uphill < 0


@pytest.mark.parametrize("network", ["own cost", "ties"])
def test_a_network_it_cannot_train_is_refused_before_its_generator_moves(network):
    from nnfast import ConvPoolLayer

    class OwnCost(QuadraticCost):  # a reader's cost: BP1 in Python, no second derivatives
        pass

    if network == "own cost":
        net = Network([16, 5, 3], cost=OwnCost, seed=3)
        X = np.full((4, 16), 0.5)
    else:
        net = Network([ConvPoolLayer((2, 1, 3, 3), (1, 4, 4), (2, 2), ties="all"),
                       SoftmaxLayer(2, 3)], seed=3)
        X = np.full((4, 16), 0.5, dtype=net.dtype)
    state = net._rng.bit_generator.state
    with pytest.raises(ValueError, match="needs a built-in cost|ties='all'"):
        net.hessian_free((X, np.arange(4) % 3), epochs=1, mini_batch_size=2)
    assert net._rng.bit_generator.state == state
