"""The book's chapter 6 drop-in, nnfast.book.network3.

The book's sessions run unchanged but for the import (and a seed, and fewer epochs),
on small data cut from the real MNIST test set; one epoch is checked against the same
training done by direct engine calls, in order, whole mini-batches only.
"""
import copy
import gc
import gzip
import io
import pickle
import re

import numpy as np
import pytest

import nnfast
from nnfast import _download, activations, datasets, layers
from nnfast.book import expand_mnist, network3
from nnfast.book.network3 import (ConvPoolLayer, FullyConnectedLayer, Network, ReLU,
                                  SoftmaxLayer, load_data_shared, size)
from nnfast.costs import LogLikelihoodCost

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

N_TRAIN, N_VALIDATION, N_TEST = 2000, 500, 500
mini_batch_size = 10


@pytest.fixture(scope="module")
def book_data(mnist_dir):
    """[training_data, validation_data, test_data] as load_data_shared gives them."""
    X, y = datasets.load_mnist_test(mnist_dir)
    a, b = N_TRAIN, N_TRAIN + N_VALIDATION
    return [(X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:b + N_TEST], y[b:b + N_TEST])]


def check_printed(out, epochs, iterations_per_epoch, with_test=True):
    """The book's lines, in its order; returns the lines."""
    lines = out.splitlines()
    assert lines[0] == "Training mini-batch number 0"
    epoch_lines = [l for l in lines if l.startswith("Epoch ")]
    assert len(epoch_lines) == epochs
    for j, line in enumerate(epoch_lines):
        assert re.fullmatch(rf"Epoch {j}: validation accuracy \d+\.\d\d%", line)
    assert lines[-3 if with_test else -2] == "Finished training network."
    assert re.fullmatch(r"Best validation accuracy of \d+\.\d\d% obtained at iteration \d+",
                        lines[-2 if with_test else -1])
    if with_test:
        assert re.fullmatch(r"Corresponding test accuracy of \d+\.\d\d%", lines[-1])
    for i, line in enumerate(lines):
        if line == "This is the best validation accuracy to date.":
            assert lines[i - 1].startswith("Epoch ")
            if with_test:
                assert re.fullmatch(r"The corresponding test accuracy is \d+\.\d\d%",
                                    lines[i + 1])
    best = max(j for j, l in enumerate(epoch_lines)
               if lines[lines.index(l) + 1] == "This is the best validation accuracy to date.")
    assert lines[-2 if with_test else -1].endswith(
        f"iteration {iterations_per_epoch * (best + 1) - 1}")
    return lines


def percent(value):
    return "{0:.2%}".format(value)


def check_attributes(net, lines):
    assert f"Best validation accuracy of {percent(net.best_validation_accuracy)}" in lines[-2]
    assert lines[-1] == f"Corresponding test accuracy of {percent(net.test_accuracy)}"


# ------------------------------------------------------------- the book's sessions

def test_names_are_nnfasts():
    assert (network3.sigmoid, network3.tanh, network3.ReLU, network3.linear) == (
        activations.sigmoid, activations.tanh, activations.ReLU, activations.linear)
    assert (FullyConnectedLayer, ConvPoolLayer, SoftmaxLayer) == (
        layers.FullyConnectedLayer, layers.ConvPoolLayer, layers.SoftmaxLayer)
    assert size((np.zeros((7, 784)), np.zeros(7))) == 7


def test_shallow_session(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = Network([
        FullyConnectedLayer(n_in=784, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=0)
    assert net.SGD(training_data, 2, mini_batch_size, 0.1, validation_data, test_data) is None
    lines = check_printed(capsys.readouterr().out, 2, N_TRAIN // mini_batch_size)
    check_attributes(net, lines)
    assert net.best_validation_accuracy > 0.6 and net.test_accuracy > 0.6
    assert net.mini_batch_size == mini_batch_size and len(net.layers) == 2


def test_one_conv_session(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                      filter_shape=(20, 1, 5, 5),
                      poolsize=(2, 2)),
        FullyConnectedLayer(n_in=20*12*12, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=1)
    # Sigmoid conv nets start slowly: three epochs of 200 mini-batches.
    net.SGD(training_data, 3, mini_batch_size, 0.1, validation_data, test_data)
    lines = check_printed(capsys.readouterr().out, 3, N_TRAIN // mini_batch_size)
    check_attributes(net, lines)
    assert net.best_validation_accuracy > 0.3 and net.test_accuracy > 0.3


def test_relu_two_conv_session_with_l2(book_data, capsys):
    training_data, validation_data, test_data = book_data
    training_data = (training_data[0][:1000], training_data[1][:1000])
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                      filter_shape=(20, 1, 5, 5),
                      poolsize=(2, 2),
                      activation_fn=ReLU),
        ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                      filter_shape=(40, 20, 5, 5),
                      poolsize=(2, 2),
                      activation_fn=ReLU),
        FullyConnectedLayer(n_in=40*4*4, n_out=100, activation_fn=ReLU),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=0)
    net.SGD(training_data, 1, mini_batch_size, 0.03, validation_data, test_data, lmbda=0.1)
    lines = check_printed(capsys.readouterr().out, 1, 1000 // mini_batch_size)
    check_attributes(net, lines)
    assert net.best_validation_accuracy > 0.4 and net.test_accuracy > 0.4


def test_dropout_session(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = Network([
        FullyConnectedLayer(n_in=784, n_out=100, activation_fn=ReLU, p_dropout=0.5),
        SoftmaxLayer(n_in=100, n_out=10, p_dropout=0.5)], mini_batch_size, seed=0)
    net.SGD(training_data, 3, mini_batch_size, 0.03, validation_data, test_data)
    lines = check_printed(capsys.readouterr().out, 3, N_TRAIN // mini_batch_size)
    check_attributes(net, lines)
    assert net.best_validation_accuracy > 0.4 and net.test_accuracy > 0.4


def test_dropout_runs_repeat_with_a_seed(book_data, capsys):
    training_data, validation_data, test_data = book_data
    training_data = (training_data[0][:500], training_data[1][:500])
    runs = []
    for _ in range(2):
        net = Network([
            FullyConnectedLayer(n_in=784, n_out=30, activation_fn=ReLU, p_dropout=0.5),
            SoftmaxLayer(n_in=30, n_out=10, p_dropout=0.5)], mini_batch_size, seed=3)
        net.SGD(training_data, 1, mini_batch_size, 0.03, validation_data, test_data)
        runs.append(net.params)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_np_random_seed_repeats_a_run_as_in_the_books_scripts(book_data, capsys):
    """Without seed=, the network's seed comes from np.random, where the book draws its
    weights: np.random.seed(s) before it repeats the start, the dropout masks and the
    mini-batches."""
    training_data, validation_data, test_data = book_data
    training_data = (training_data[0][:200], training_data[1][:200])
    runs = []
    for _ in range(2):
        np.random.seed(12345678)
        net = Network([FullyConnectedLayer(n_in=784, n_out=30, p_dropout=0.5),
                       SoftmaxLayer(n_in=30, n_out=10)], mini_batch_size)
        net.SGD(training_data, 1, mini_batch_size, 0.03, validation_data, test_data)
        runs.append(net.params)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


# ----------------------------------------------------------- what training does

def small_layers(ties=None):
    return [ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28), filter_shape=(4, 1, 5, 5),
                          poolsize=(2, 2), activation_fn=ReLU, ties=ties),
            FullyConnectedLayer(n_in=4*12*12, n_out=20),
            SoftmaxLayer(n_in=20, n_out=10)]


@pytest.mark.parametrize("chunk_flops", [1.0, 2.5e7, nnfast.training.CHUNK_FLOPS])
def test_epochs_are_engine_steps_in_order_on_whole_mini_batches(book_data, capsys,
                                                                monkeypatch, chunk_flops):
    """Two epochs equal two engine passes over the first whole mini-batches, in order,
    with the L2 decay eta*lmbda/num_training_batches and Theano's max-pool tie rule;
    chunking changes nothing. The book's conv weights are the engine's filters rotated
    by 180 degrees (Theano's true convolution)."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", chunk_flops)
    monkeypatch.setattr(nnfast.training, "CHUNK_SECONDS", 0.0)
    (X, y), validation_data, test_data = book_data
    X, y = X[:305], y[:305]  # 30 whole mini-batches; the last 5 samples are never used
    eta, lmbda = 0.1, 2.0
    book = Network(small_layers(), mini_batch_size, seed=7)
    book.SGD((X, y), 2, mini_batch_size, eta, validation_data, test_data, lmbda=lmbda)

    direct = nnfast.Network(small_layers(ties="all"), cost=LogLikelihoodCost, dtype=np.float32,
                            seed=7)
    engine, threads = direct._engine, nnfast.get_num_threads()
    X_used = np.ascontiguousarray(X[:300])
    for _ in range(2):
        engine.train_chunk(X_used, y[:300], np.arange(300, dtype=np.int64), mini_batch_size,
                           eta, lmbda, 0.0, 30, "l2", engine.workspace(mini_batch_size, threads),
                           threads)
    for a, b in zip(book.params, [p for w, b in zip(direct._wt, direct._b)
                                  for p in (w[..., ::-1, ::-1] if w.ndim == 4 else w, b)]):
        assert np.array_equal(a, b)
    assert book.params[0].shape == (4, 1, 5, 5) and book.params[2].shape == (4*12*12, 20)
    assert book.best_iteration in (29, 59)


def test_accuracy_is_over_whole_mini_batches(book_data, capsys):
    """497 validation samples: the accuracy is over the first 49 mini-batches only."""
    training_data, (Xv, yv), test_data = book_data
    Xv = Xv[:497]
    accuracies = []
    for last_seven in ("as given", "all wrong"):
        net = Network([FullyConnectedLayer(n_in=784, n_out=30),
                       SoftmaxLayer(n_in=30, n_out=10)], mini_batch_size, seed=0)
        labels = yv[:497].copy()
        if last_seven == "all wrong":
            labels[490:] = (net.network.predict(Xv[490:]) + 1) % 10  # before training
        net.SGD(training_data, 1, mini_batch_size, 0.1, (Xv, labels), test_data)
        predicted = net.network.predict(Xv)
        if last_seven == "all wrong":
            labels[490:] = (predicted[490:] + 1) % 10  # what was evaluated is unchanged
        assert net.best_validation_accuracy == pytest.approx(
            np.mean(predicted[:490] == labels[:490]))
        accuracies.append(net.best_validation_accuracy)
    assert accuracies[0] == accuracies[1]


def test_training_lines_every_1000_mini_batches(book_data, capsys, monkeypatch):
    """With mini-batches of one, 600 samples and two epochs: iterations 0..1199."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 7 * 6 * (784 * 10 + 10 * 10))  # 7 a chunk
    (X, y), validation_data, _ = book_data
    net = Network([FullyConnectedLayer(n_in=784, n_out=10),
                   SoftmaxLayer(n_in=10, n_out=10)], 1, seed=0)
    net.SGD((X[:600], y[:600]), 2, 1, 0.1, validation_data, None)
    lines = capsys.readouterr().out.splitlines()
    training = [i for i, l in enumerate(lines) if l.startswith("Training mini-batch number")]
    assert [lines[i] for i in training] == ["Training mini-batch number 0",
                                            "Training mini-batch number 1000"]
    epoch_1 = lines.index(next(l for l in lines if l.startswith("Epoch 1:")))
    epoch_0 = lines.index(next(l for l in lines if l.startswith("Epoch 0:")))
    assert training[0] < epoch_0 < training[1] < epoch_1
    # No test data: no test accuracy lines, test_accuracy None.
    assert not any("test accuracy" in l for l in lines)
    assert net.test_accuracy is None
    check_printed("\n".join(lines), 2, 600, with_test=False)


# ----------------------------------------------------------------------- errors

def test_bad_networks_and_calls(book_data):
    training_data, validation_data, test_data = book_data
    with pytest.raises(ValueError, match="last layer must be a SoftmaxLayer"):
        Network([FullyConnectedLayer(n_in=784, n_out=10)], mini_batch_size)
    with pytest.raises(TypeError, match="layers\\[1\\]"):
        Network([FullyConnectedLayer(n_in=784, n_out=10), "softmax"], mini_batch_size)
    with pytest.raises(ValueError, match="takes 30 inputs"):
        Network([FullyConnectedLayer(n_in=784, n_out=20), SoftmaxLayer(n_in=30, n_out=10)],
                mini_batch_size)
    net = Network([FullyConnectedLayer(n_in=784, n_out=20), SoftmaxLayer(n_in=20, n_out=10)],
                  mini_batch_size)
    with pytest.raises(ValueError, match="built for 10"):
        net.SGD(training_data, 1, 20, 0.1, validation_data, test_data)
    with pytest.raises(ValueError, match="fewer than one mini-batch"):
        net.SGD((training_data[0][:5], training_data[1][:5]), 1, mini_batch_size, 0.1,
                validation_data, test_data)
    with pytest.raises(ValueError, match="eta"):
        net.SGD(training_data, 1, mini_batch_size, 0.0, validation_data, test_data)
    # A layer's w and b view one network's parameters: a second network needs its own.
    with pytest.raises(ValueError, match=r"layers\[0\] is a layer of another network3"):
        Network(net.layers, mini_batch_size)
    assert np.shares_memory(net.layers[0].w, net.network.weights[0])  # still the first's
    copies = Network(copy.deepcopy(net.layers), mini_batch_size)  # copies are new layers
    assert not np.shares_memory(copies.layers[0].w, net.network.weights[0])
    layers = net.layers
    del net, copies
    gc.collect()
    again = Network(layers, mini_batch_size)  # their network is gone
    assert np.shares_memory(layers[0].w, again.network.weights[0])


# ------------------------------------------------------------------------- data

@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No user data, an empty cache, no network."""
    monkeypatch.delenv("NNFAST_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})

    def no_network(url, timeout=None):
        raise OSError("no network in this test")
    monkeypatch.setattr(_download, "urlopen", no_network)


def test_load_data_shared_needs_the_training_files(mnist_dir, offline):
    with pytest.raises(datasets.DataNotFoundError, match="train-images"):
        load_data_shared(str(mnist_dir))


def test_load_data_shared_default_falls_back_to_the_search(tmp_path, monkeypatch, offline):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(datasets.DataNotFoundError):
        load_data_shared()


def small_dataset():
    rng = np.random.default_rng(0)
    parts = []
    for n in (30, 20, 10):
        parts += [rng.integers(0, 256, (n, 784)).astype(np.float32) / 255,
                  rng.integers(0, 10, n).astype(np.int64)]
    return datasets.Dataset(*parts)


def test_load_data_shared_reads_an_expanded_npz(tmp_path):
    data = small_dataset()
    expand_mnist.save(tmp_path / "mnist_expanded.npz", data)
    loaded = load_data_shared(str(tmp_path / "mnist_expanded.npz"))
    assert isinstance(loaded, list) and len(loaded) == 3
    for (X, y), X_saved, y_saved in zip(loaded, data[0::2], data[1::2]):
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert np.array_equal(X, X_saved) and np.array_equal(y, y_saved)
    assert [size(part) for part in loaded] == [30, 20, 10]


class Python2StylePickler(pickle.Pickler):
    """Pickles arrays as the book's Python 2 cPickle did (the data as a latin-1 str)."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            state = (1, obj.shape, obj.dtype, False, obj.tobytes().decode("latin1"))
            return _reconstruct, (np.ndarray, (0,), "b"), state
        return NotImplemented


def test_load_data_shared_reads_the_books_default_pickle(tmp_path, monkeypatch):
    data = small_dataset()
    splits = tuple((data[i], data[i + 1]) for i in (0, 2, 4))
    (tmp_path / "data").mkdir()
    (tmp_path / "code").mkdir()
    buffer = io.BytesIO()
    Python2StylePickler(buffer, protocol=2).dump(splits)
    (tmp_path / "data" / "mnist.pkl.gz").write_bytes(gzip.compress(buffer.getvalue()))
    monkeypatch.chdir(tmp_path / "code")
    loaded = load_data_shared()
    for (X, y), (X_saved, y_saved) in zip(loaded, splits):
        assert np.array_equal(X, X_saved) and np.array_equal(y, y_saved)
