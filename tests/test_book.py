"""The book's drop-in modules: nnfast.book.network (chapter 1) and network2 (chapter 3).

The book's sessions run unchanged but for the import, on small data cut from the real
MNIST test set; backprop is checked against BP1-BP4 written out here, per sample.
"""
import copy
import json
import re

import numpy as np
import pytest

import nnfast
from nnfast import _download, datasets
from nnfast.book import expand_mnist, mnist_loader, network, network2, network3
from nnfast.book.mnist_loader import vectorized_result

N_TRAIN, N_TEST = 2000, 500


@pytest.fixture(scope="module")
def book_data(mnist_dir):
    """(training_data, test_data) as load_data_wrapper gives them, from the t10k files."""
    X, y = datasets.load_mnist_test(mnist_dir)
    X = X.astype(np.float64)
    training_data = [(x.reshape(-1, 1), vectorized_result(int(label)))
                     for x, label in zip(X[:N_TRAIN], y[:N_TRAIN])]
    test_data = [(x.reshape(-1, 1), int(label))
                 for x, label in zip(X[N_TRAIN:N_TRAIN + N_TEST], y[N_TRAIN:N_TRAIN + N_TEST])]
    return training_data, test_data


def _pairs(n, sizes, rng):
    """n book-style training pairs with one-hot targets."""
    return [(rng.random((sizes[0], 1)), vectorized_result_n(rng.integers(sizes[-1]), sizes[-1]))
            for _ in range(n)]


def vectorized_result_n(j, n):
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


# ---- BP1-BP4, one sample at a time, as in chapter 2 (independent of nnfast.oracle) ----

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_backprop(weights, biases, x, y, cost):
    activation, activations, zs = x, [x], []
    for b, w in zip(biases, weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = _sigmoid(z)
        activations.append(activation)
    sp = _sigmoid(zs[-1]) * (1 - _sigmoid(zs[-1]))
    delta = (activations[-1] - y) * (sp if cost == "quadratic" else 1.0)   # BP1
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    nabla_b[-1] = delta                                                       # BP3
    nabla_w[-1] = np.dot(delta, activations[-2].T)                           # BP4
    for l in range(2, len(weights) + 1):
        s = _sigmoid(zs[-l])
        delta = np.dot(weights[-l + 1].T, delta) * s * (1 - s)               # BP2
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
    return nabla_b, nabla_w


def batch_sums(weights, biases, mini_batch, cost):
    """The book's sums of the mini-batch's gradients, nabla_b and nabla_w."""
    sum_b = [np.zeros_like(b) for b in biases]
    sum_w = [np.zeros_like(w) for w in weights]
    for x, y in mini_batch:
        nb, nw = reference_backprop(weights, biases, x, y, cost)
        sum_b = [s + d for s, d in zip(sum_b, nb)]
        sum_w = [s + d for s, d in zip(sum_w, nw)]
    return sum_b, sum_w


def reference_sums(net, mini_batch, cost):
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    return (weights, biases) + batch_sums(weights, biases, mini_batch, cost)


# ---- chapter 1 ----

def test_chapter1_session(book_data, capsys):
    training_data, test_data = book_data
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 3, 10, 3.0, test_data=test_data)
    lines = capsys.readouterr().out.splitlines()
    matches = [re.fullmatch(r"Epoch (\d+): (\d+) / 500", line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == [0, 1, 2]
    assert int(matches[-1].group(2)) > 150  # far above chance (50)


def test_chapter1_without_test_data_and_with_zip(book_data, capsys):
    training_data, test_data = book_data
    net = network.Network([784, 30, 10], seed=1)
    xs, ys = zip(*training_data[:300])
    net.SGD(zip(xs, ys), 2, 10, 3.0)
    assert capsys.readouterr().out.splitlines() == ["Epoch 0 complete", "Epoch 1 complete"]
    assert 0 <= net.evaluate(iter(test_data)) <= N_TEST


def test_chapter1_network_is_the_books():
    net = network.Network([5, 4, 3], seed=0)
    assert net.num_layers == 3 and net.sizes == [5, 4, 3]
    assert [b.shape for b in net.biases] == [(4, 1), (3, 1)]
    assert [w.shape for w in net.weights] == [(4, 5), (3, 4)]
    assert all(w.dtype == np.float64 for w in net.weights + net.biases)
    assert net.cost is nnfast.QuadraticCost
    # large_weight_initializer: N(0, 1), not N(0, 1/n_in)
    big = network.Network([400, 50, 10], seed=0)
    assert 0.9 < np.std(big.weights[0]) < 1.1
    assert network.Network([5, 4, 3], seed=0).weights[0].tolist() == net.weights[0].tolist()
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(network.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(network.sigmoid_prime(z),
                               network.sigmoid(z) * (1 - network.sigmoid(z)), rtol=1e-15)
    a, y = np.ones((3, 1)), np.zeros((3, 1))
    assert np.array_equal(net.cost_derivative(a, y), a - y)


def test_parameters_are_live():
    net = network.Network([5, 4, 3], seed=0)
    x = np.linspace(0, 1, 5).reshape(5, 1)
    before = net.feedforward(x)
    assert before.shape == (3, 1)
    net.weights[0][1, 2] += 1.0
    after_w = net.feedforward(x)
    assert not np.array_equal(before, after_w)
    net.biases[1][0, 0] -= 2.0
    assert not np.array_equal(after_w, net.feedforward(x))
    # Whole-layer and whole-list assignment copy into the network too.
    net.weights[1] = np.zeros((3, 4))
    net.biases = [np.zeros((4, 1)), np.zeros((3, 1))]
    np.testing.assert_array_equal(net.feedforward(x), np.full((3, 1), 0.5))
    with pytest.raises(ValueError):
        net.weights[0] = np.zeros((5, 4))
    with pytest.raises(TypeError, match="^weights must be a list of 2 arrays, one per layer"):
        net.weights = None
    with pytest.raises(ValueError, match="^layer 0 must be an array: its rows differ"):
        net.weights[0] = [[1, 2, 3, 4], [1]]
    # The book's formula, by hand.
    w, b = net.weights, net.biases
    a = _sigmoid(w[1] @ _sigmoid(w[0] @ x + b[0]) + b[1])
    np.testing.assert_allclose(net.feedforward(x), a, rtol=1e-14)


@pytest.mark.parametrize("module, cost", [(network, "quadratic"), (network2, "cross-entropy")])
def test_backprop_is_bp1_to_bp4(module, cost):
    rng = np.random.default_rng(3)
    sizes = [6, 5, 4, 3]
    net = module.Network(sizes, seed=4)
    for x, y in _pairs(5, sizes, rng):
        nabla_b, nabla_w = net.backprop(x, y)
        ref_b, ref_w = reference_backprop(net.weights, net.biases, x, y, cost)
        assert [nb.shape for nb in nabla_b] == [b.shape for b in net.biases]
        assert [nw.shape for nw in nabla_w] == [w.shape for w in net.weights]
        for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x, error, match", [
    (np.zeros((5, 1)), ValueError, r"^x must be a \(6, 1\) column, got shape \(5, 1\)"),
    (np.full((6, 1), np.nan), ValueError, "^x holds NaN"),
    ([[1, 2], [1, 2, 3, 4]], ValueError, "^x must be an array: its rows differ in length"),
    (np.full((6, 1), "a"), TypeError, "^x must hold real numbers"),
    (np.full((6, 1), 1j), TypeError, "^x must hold real numbers"),
])
def test_backprop_names_a_bad_sample(x, error, match):
    net = network.Network([6, 5, 3], seed=4)
    with pytest.raises(error, match=match):
        net.backprop(x, 1)


@pytest.mark.parametrize("y, error, match", [
    (np.full((3, 1), np.nan), ValueError, "^y holds NaN"),
    ([[1], [0, 1], [0]], ValueError, "^y must be an array: its rows differ in length"),
    (np.full((3, 1), "a"), TypeError, "^y must hold real numbers"),
])
def test_backprop_names_a_bad_target(y, error, match):
    net = network.Network([6, 5, 3], seed=4)
    with pytest.raises(error, match=match):
        net.backprop(np.zeros((6, 1)), y)
    nabla_b, _ = net.backprop(np.zeros((6, 1)), np.array([[False], [True], [False]]))
    np.testing.assert_array_equal(nabla_b[-1], net.backprop(np.zeros((6, 1)), 1)[0][-1])


def test_backprop_on_an_mnist_sample(book_data):
    x, y = book_data[0][0]
    net = network.Network([784, 30, 10], seed=5)
    nabla_b, nabla_w = net.backprop(x, y)
    ref_b, ref_w = reference_backprop(net.weights, net.biases, x, y, "quadratic")
    for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_update_mini_batch_chapter1():
    rng = np.random.default_rng(6)
    sizes = [6, 5, 3]
    net = network.Network(sizes, seed=7)
    mini_batch = _pairs(7, sizes, rng)
    eta = 0.8
    weights, biases, sum_b, sum_w = reference_sums(net, mini_batch, "quadratic")
    net.update_mini_batch(mini_batch, eta)
    m = len(mini_batch)
    for got, w, nw in zip(net.weights, weights, sum_w):
        np.testing.assert_allclose(got, w - (eta / m) * nw, rtol=1e-12, atol=1e-12)
    for got, b, nb in zip(net.biases, biases, sum_b):
        np.testing.assert_allclose(got, b - (eta / m) * nb, rtol=1e-12, atol=1e-12)


def test_update_mini_batch_chapter3():
    rng = np.random.default_rng(8)
    sizes = [6, 5, 4, 3]
    net = network2.Network(sizes, seed=9)
    mini_batch = _pairs(4, sizes, rng)
    eta, lmbda, n = 0.5, 5.0, 100
    weights, biases, sum_b, sum_w = reference_sums(net, mini_batch, "cross-entropy")
    net.update_mini_batch(mini_batch, eta, lmbda, n)
    m = len(mini_batch)
    for got, w, nw in zip(net.weights, weights, sum_w):
        np.testing.assert_allclose(got, (1 - eta * lmbda / n) * w - (eta / m) * nw,
                                   rtol=1e-12, atol=1e-12)
    for got, b, nb in zip(net.biases, biases, sum_b):
        np.testing.assert_allclose(got, b - (eta / m) * nb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module", [network, network2])
def test_targets_that_are_not_one_hot_train_as_the_books_loop(module, capsys):
    """The book trains on any real column y (a regression, soft targets, XOR's one
    output), which the engine's class labels cannot hold: the book's loop runs, each
    step the book's update, on the network's shuffle."""
    rng = np.random.default_rng(31)
    sizes = [3, 4, 2]
    pairs = [(rng.random((3, 1)), rng.random((2, 1))) for _ in range(13)]
    net = module.Network(sizes, seed=32)
    shuffle = copy.deepcopy(net.network._rng)
    cost, eta, lmbda = ("quadratic", 3.0, 0.0) if module is network else ("cross-entropy", 0.5, 2.0)
    want_w, want_b = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    for _ in range(2):
        order = shuffle.permutation(13)
        for k in range(0, 13, 5):
            batch = [pairs[i] for i in order[k:k + 5]]
            sum_b, sum_w = batch_sums(want_w, want_b, batch, cost)
            want_w = [(1 - eta * lmbda / 13) * w - (eta / len(batch)) * nw
                      for w, nw in zip(want_w, sum_w)]
            want_b = [b - (eta / len(batch)) * nb for b, nb in zip(want_b, sum_b)]
    if module is network:
        net.SGD(iter(pairs), 2, 5, eta)
    else:
        net.SGD(pairs, 2, 5, eta, lmbda=lmbda)
    assert "its targets are not one-hot" in capsys.readouterr().err
    for got, want in zip(net.weights + net.biases, want_w + want_b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    y_not_finite = [(x, np.full((2, 1), np.nan)) for x, _ in pairs]
    with pytest.raises(ValueError, match="^training_data"):
        net.SGD(y_not_finite, 1, 5, eta)


# ---- chapter 3 ----

def test_chapter3_session(book_data, capsys):
    training_data, test_data = book_data
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    result = net.SGD(training_data, 2, 10, 0.5, lmbda=5.0, evaluation_data=test_data,
                     monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                     monitor_training_cost=True, monitor_training_accuracy=True)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = result
    assert all(len(values) == 2 for values in result)
    out = capsys.readouterr().out
    expected = []
    for j in range(2):
        expected += [f"Epoch {j} training complete",
                     f"Cost on training data: {training_cost[j]}",
                     f"Accuracy on training data: {training_accuracy[j]} / {N_TRAIN}",
                     f"Cost on evaluation data: {evaluation_cost[j]}",
                     f"Accuracy on evaluation data: {evaluation_accuracy[j]} / {N_TEST}",
                     ""]
    assert out.splitlines() == expected
    assert evaluation_accuracy[-1] > 150
    assert training_cost[-1] > 0 and evaluation_cost[-1] > 0
    # The monitored values are what the methods give, with the book's convert flags.
    assert net.accuracy(training_data, convert=True) == training_accuracy[-1]
    assert net.accuracy(test_data) == evaluation_accuracy[-1]
    assert net.total_cost(training_data, 5.0) == pytest.approx(training_cost[-1], rel=1e-12)
    assert net.total_cost(test_data, 5.0, convert=True) == pytest.approx(evaluation_cost[-1],
                                                                        rel=1e-12)


def test_total_cost_is_the_books():
    rng = np.random.default_rng(10)
    sizes = [6, 5, 3]
    data = _pairs(9, sizes, rng)
    for cost in (network2.CrossEntropyCost, network2.QuadraticCost):
        net = network2.Network(sizes, cost=cost, seed=11)
        lmbda = 2.0
        want = sum(cost.fn(net.feedforward(x), y) for x, y in data) / len(data)
        want += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in net.weights)
        assert net.total_cost(data, lmbda) == pytest.approx(want, rel=1e-12)
        labelled = [(x, int(np.argmax(y))) for x, y in data]
        assert net.total_cost(labelled, lmbda, convert=True) == pytest.approx(want, rel=1e-12)
        assert net.accuracy(data, convert=True) == net.accuracy(labelled) == sum(
            int(np.argmax(net.feedforward(x)) == np.argmax(y)) for x, y in data)


def test_chapter3_defaults_and_early_stopping(book_data, capsys):
    training_data, test_data = book_data
    net = network2.Network([784, 30, 10], seed=12)
    assert net.cost is network2.CrossEntropyCost
    assert 0.8 / np.sqrt(784) < np.std(net.weights[0]) < 1.2 / np.sqrt(784)
    # eta so small the accuracy never improves: stop after early_stopping_n more epochs.
    result = net.SGD(training_data[:200], 10, 10, 1e-12, evaluation_data=test_data[:100],
                     monitor_evaluation_accuracy=True, early_stopping_n=2)
    assert len(result[1]) == 3
    assert capsys.readouterr().out.count("training complete") == 3
    assert network2.vectorized_result(3).ravel().tolist() == [0, 0, 0, 1] + [0] * 6


def test_save_and_load(tmp_path):
    net = network2.Network([6, 5, 3], cost=network2.QuadraticCost, seed=13)
    path = tmp_path / "net.json"
    net.save(path)
    record = json.loads(path.read_text())
    assert set(record) == {"sizes", "weights", "biases", "cost"}  # the book's format
    assert record["cost"] == "QuadraticCost" and record["sizes"] == [6, 5, 3]
    loaded = network2.load(path)
    assert isinstance(loaded, network2.Network)
    assert loaded.cost is network2.QuadraticCost and loaded.sizes == [6, 5, 3]
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    x = np.linspace(0, 1, 6).reshape(6, 1)
    np.testing.assert_array_equal(loaded.feedforward(x), net.feedforward(x))
    # nnfast.load reads what the book module wrote.
    core = nnfast.load(path)
    assert core.dtype == np.float64 and core.cost is nnfast.QuadraticCost
    for a, b in zip(core.weights, net.weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make,n_in", [
    (lambda: nnfast.Network([4, 5, 3], activation="relu", cost="quadratic", dtype=np.float64,
                            seed=0), 4),
    (lambda: nnfast.Network([nnfast.ConvPoolLayer((2, 1, 2, 2), (1, 3, 3), (1, 1)),
                             nnfast.SoftmaxLayer(8, 3)], dtype=np.float64, seed=0), 9),
    (lambda: nnfast.Network([nnfast.FullyConnectedLayer(4, 5, p_dropout=0.5),
                             nnfast.SoftmaxLayer(5, 3)], dtype=np.float64, seed=0), 4)],
    ids=["relu", "conv", "dropout"])
def test_a_network_the_books_format_cannot_hold_saves_as_nnfasts(tmp_path, make, n_in):
    """network2.load reads nnfast's files; saving what it read must give it back, not
    the book's record of sizes and weights, which would come back as another network
    (sigmoid) or not at all (conv layers)."""
    made = make()
    made.save(tmp_path / "made.json")
    net = network2.load(tmp_path / "made.json")
    net.save(tmp_path / "again.json")
    back = nnfast.load(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == json.loads(
        (tmp_path / "made.json").read_text())
    x = np.linspace(0, 1, n_in).reshape(1, n_in)
    np.testing.assert_array_equal(back.feedforward(x), made.feedforward(x))


def test_load_a_hand_written_network2_file(tmp_path):
    record = {"sizes": [2, 3, 1],
              "weights": [[[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [[0.7, -0.8, 0.9]]],
              "biases": [[[0.01], [-0.02], [0.03]], [[-0.04]]],
              "cost": "CrossEntropyCost"}
    path = tmp_path / "book.json"
    path.write_text(json.dumps(record))
    net = network2.load(path)
    assert net.cost is network2.CrossEntropyCost and net.num_layers == 3
    w = [np.array(m) for m in record["weights"]]
    b = [np.array(v) for v in record["biases"]]
    x = np.array([[0.25], [0.75]])
    want = _sigmoid(w[1] @ _sigmoid(w[0] @ x + b[0]) + b[1])
    np.testing.assert_allclose(net.feedforward(x), want, rtol=1e-14)


# ------------------------------------------------------- the book's data folder

@pytest.fixture
def book_folders(tmp_path, monkeypatch):
    """The book's layout, run from src/ with data/ beside it; a cache holding other
    MNIST files (labels all 9) that must not be used; no network."""
    monkeypatch.delenv("NNFAST_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    monkeypatch.setattr(_download, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    cache = tmp_path / "cache" / "nnfast" / "mnist"
    cache.mkdir(parents=True)
    nines = np.full(60000, 9, np.uint8)
    for name, array in (("train-images-idx3-ubyte", np.zeros((60000, 28, 28), np.uint8)),
                        ("train-labels-idx1-ubyte", nines),
                        ("t10k-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8)),
                        ("t10k-labels-idx1-ubyte", nines[:10])):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape)
        (cache / name).write_bytes(header + array.tobytes())
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    rng = np.random.default_rng(2)
    parts = []
    for n in (12, 5, 4):
        parts += [rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
                  rng.integers(0, 9, n).astype(np.int64)]
    data = datasets.Dataset(*parts)
    expand_mnist.save(tmp_path / "data" / "mnist.pkl.gz", data)
    return data


def test_the_loaders_read_the_books_pickle_first(book_folders):
    data = book_folders
    training, validation, test = mnist_loader.load_data()
    assert np.array_equal(training[0], data.X_train) and np.array_equal(test[1], data.y_test)
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    assert len(training_data) == 12 and len(validation_data) == 5
    assert np.array_equal(training_data[3][0][:, 0], data.X_train[3])
    assert validation_data[2][1] == data.y_validation[2]
    shared = network3.load_data_shared()
    for (X, y), (X_book, y_book) in zip(shared, (training, validation, test)):
        assert np.array_equal(X, X_book) and np.array_equal(y, y_book)


def test_without_the_books_pickle_the_search_is_used(book_folders, tmp_path):
    (tmp_path / "data" / "mnist.pkl.gz").unlink()
    training, _, _ = mnist_loader.load_data()
    assert len(training[0]) == 50000 and set(training[1]) == {9}
    assert set(network3.load_data_shared()[2][1]) == {9}


@pytest.mark.parametrize("name", ["../data/mnist_expanded.pkl.gz", "../data/typo.pkl.gz",
                                  "../missing-folder"])
def test_a_file_that_is_not_there_is_an_error_never_a_search(book_folders, name):
    for load in (mnist_loader.load_data, mnist_loader.load_data_wrapper,
                 network3.load_data_shared):
        with pytest.raises(FileNotFoundError) as info:
            load(name)
        assert info.value.filename == name and name in str(info.value)
        assert not isinstance(info.value, datasets.DataNotFoundError)
        if "expanded" in name:
            assert "python -m nnfast.book.expand_mnist" in str(info.value)


def test_a_path_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="path must be"):
        mnist_loader.load_data(42)
