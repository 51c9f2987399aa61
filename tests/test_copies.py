"""Networks pickle and copy to independent, equal networks: parameters, velocities,
random state and dtype travel; the engine's workspace and the lock do not."""
import copy
import pickle

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from nnfast.book import network, network2, network3


def data(n=60, n_in=64, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def conv_net(dtype=np.float32):
    return nnfast.Network([ConvPoolLayer((4, 1, 3, 3), (1, 8, 8), (2, 2)),
                           FullyConnectedLayer(36, 10, p_dropout=0.25), SoftmaxLayer(10, 3)],
                          dtype=dtype, seed=3)


MAKERS = {
    "mlp float32": lambda: nnfast.Network([64, 7, 3], seed=1),
    "mlp float64 relu": lambda: nnfast.Network([64, 7, 5, 3], dtype=np.float64, seed=2,
                                               activation="relu", cost=nnfast.QuadraticCost),
    "conv float32": conv_net,
    "conv float64": lambda: conv_net(np.float64),
}
COPIERS = {"pickle": lambda net: pickle.loads(pickle.dumps(net)),
           "deepcopy": copy.deepcopy, "copy": copy.copy}


def state(net):
    return [a.copy() for a in net.weights + net.biases + net._vw + net._vb]


def assert_same(a, b):
    assert a.dtype == b.dtype and a.sizes == b.sizes and a.cost is b.cost
    assert a.activations == b.activations
    for x, y in zip(state(a), state(b)):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("copier", COPIERS)
@pytest.mark.parametrize("make", MAKERS)
def test_a_copy_equals_the_original_and_trains_as_it_would(make, copier):
    X, y = data()
    net = MAKERS[make]()
    net.SGD((X, y), 1, 7, 0.1, momentum=0.5)  # velocities and the generator have moved
    twin = COPIERS[copier](net)
    assert_same(net, twin)
    # Same parameters, velocities and random state: the same next epoch, bit for bit.
    net.SGD((X, y), 2, 7, 0.1, momentum=0.5)
    twin.SGD((X, y), 2, 7, 0.1, momentum=0.5)
    assert_same(net, twin)


@pytest.mark.parametrize("copier", COPIERS)
def test_a_copy_is_independent(copier):
    X, y = data()
    net = MAKERS["mlp float32"]()
    twin = COPIERS[copier](net)
    before = state(net)
    twin.SGD((X, y), 1, 7, 0.5)
    twin.weights[0][...] = 7
    assert all(np.array_equal(a, b) for a, b in zip(before, state(net)))
    # Its own lock: the original trains while the copy is held by this thread.
    with twin.exclusive("holding the copy"):
        net.SGD((X, y), 1, 7, 0.5)


def test_a_pickle_is_compact():
    net = nnfast.Network([784, 100, 10], seed=0)
    parameters = 2 * (784 * 100 + 100 + 100 * 10 + 10) * 4  # with velocities, float32
    assert len(pickle.dumps(net)) < parameters + 4096


@pytest.mark.parametrize("make", MAKERS)
def test_every_parameter_array_starts_on_a_cache_line_and_copies_keep_it(make):
    """The kernels read weight rows a line at a time; the block pads each array to a
    line, and a pickle holds the values without the padding, in parameter order."""
    net = MAKERS[make]()
    for copy_of_net in (net, pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        arrays = copy_of_net._w + copy_of_net._b + copy_of_net._vw + copy_of_net._vb
        assert all(a.ctypes.data % nnfast.network.PARAMETER_ALIGNMENT == 0 for a in arrays)
    packed = net.__getstate__()["parameters"]
    assert packed.size == sum(a.size for a in net._parts)
    assert np.array_equal(packed, np.concatenate([a.reshape(-1) for a in net._parts]))


def test_a_network_in_use_is_not_pickled_half_updated():
    net = MAKERS["mlp float32"]()
    import threading
    held, release = threading.Event(), threading.Event()

    def hold():
        with net.exclusive("training"):
            held.set()
            release.wait(10)
    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(RuntimeError, match="in use by another thread"):
            pickle.dumps(net)
    finally:
        release.set()
        thread.join()


def test_book_networks_pickle():
    X, y = data(n_in=16, n_out=4)
    pairs = [(x.reshape(-1, 1), np.eye(4)[label].reshape(-1, 1)) for x, label in zip(X, y)]
    for book in (network.Network([16, 5, 4], seed=0), network2.Network([16, 5, 4], seed=0)):
        twin = pickle.loads(pickle.dumps(book))
        for a, b in zip(book.weights + book.biases, twin.weights + twin.biases):
            assert np.array_equal(a, b)
        step = (0.5,) if isinstance(book, network.Network) else (0.5, 1.0, 60)
        book.update_mini_batch(pairs[:5], *step)
        twin.update_mini_batch(pairs[:5], *step)
        for a, b in zip(book.weights + book.biases, twin.weights + twin.biases):
            assert np.array_equal(a, b)
    book3 = network3.Network([network3.FullyConnectedLayer(n_in=16, n_out=5),
                              network3.SoftmaxLayer(n_in=5, n_out=4)], 5, seed=0)
    twin3 = copy.deepcopy(book3)
    for a, b in zip(book3.params, twin3.params):
        assert np.array_equal(a, b) and not np.shares_memory(a, b)
