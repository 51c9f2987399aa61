"""A run whose layers all keep to one thread, given several, trains on one while a
second copies the next mini-batch from x into the other of two buffers
(csrc/engine.inc, train_ahead). The copy only moves the rows: the weights are the
bits of one thread, for a dense or a conv first layer, with dropout on the input,
momentum or L1, a last mini-batch shorter than the others, and a chunk of one
mini-batch."""
import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from engine_checks import engine_train, fresh_plans

DTYPES = [np.float32, np.float64]

NETS = {
    "dense": lambda: [FullyConnectedLayer(30, 20), SoftmaxLayer(20, 4)],
    "dropout": lambda: [FullyConnectedLayer(30, 20, p_dropout=0.3),
                        FullyConnectedLayer(20, 12), SoftmaxLayer(12, 4)],
    "conv": lambda: [ConvPoolLayer((3, 1, 4, 4), (1, 5, 6), (2, 3)),
                     FullyConnectedLayer(3 * 1 * 1, 9), SoftmaxLayer(9, 4)],
}


@pytest.fixture(autouse=True)
def measured_plans():
    with fresh_plans("measure"):
        yield


def _train(dtype, layers, mini_batch_size, n_rows, n_threads, **step):
    net = nnfast.Network(layers(), dtype=dtype, seed=3)
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, (n_rows + 6, net.layers[0].n_in))  # rows the run skips too
    labels = rng.integers(0, 4, len(X))
    perm = rng.permutation(len(X))[:n_rows]
    engine_train(net, X, labels, perm, mini_batch_size, 0.5, n_threads=n_threads,
                 layer_threads=(1,) * len(net.layers), seed=7, **step)
    return [w.copy() for w in net.weights] + [b.copy() for b in net.biases]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("net", sorted(NETS))
@pytest.mark.parametrize("step", [dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, regularization="l1")],
                         ids=["l2-momentum", "l1"])
@pytest.mark.parametrize("n_rows", [17, 4], ids=["short-last", "one-batch"])
def test_copying_the_next_mini_batch_ahead_gives_the_bits_of_one_thread(dtype, net, step,
                                                                         n_rows):
    """Mini-batches of 5: 17 rows end on a mini-batch of 2, and 4 rows are one."""
    want = _train(dtype, NETS[net], 5, n_rows, 1, **step)
    for n_threads in (2, 3):
        got = _train(dtype, NETS[net], 5, n_rows, n_threads, **step)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)

