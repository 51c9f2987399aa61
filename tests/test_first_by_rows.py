"""A dense first layer on a team that splits the mini-batch's rows rather than its
units (train_chunk's first_by_rows, csrc/engine_dense.inc): each thread copies its
share of the rows (from the floats or their byte codes, asking for the same share of
the next mini-batch), and the products split as planned. Every value is computed as
on one thread, so the weights are the same bits: on 2 and 3 threads, with the layers
above on a team or on one thread, with momentum or L1, from bytes, and for a first
layer with dropout (which never splits by units). A run's team trial tries the split
by rows where the first layer is dense without dropout, and only there."""
import numpy as np
import pytest

import nnfast
from nnfast import FullyConnectedLayer, SoftmaxLayer, _kernels, plan
from engine_checks import fresh_plans, thresholds

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def every_kernel_parallel():
    """Measured plans, and every elementwise kernel and gather on its whole team,
    however few the rows: each thread then copies a share at any mini-batch size."""
    with fresh_plans("measure"):
        _kernels.put_parallel_plan(thresholds(0))
        yield


def _train(dtype, layers, mini_batch_size, n_threads, layer_threads=None,
           first_by_rows=False, from_bytes=False, **step):
    """Two chunks of three mini-batches and a short one, as Network.SGD makes them."""
    net = nnfast.Network(layers(), dtype=dtype, seed=3)
    rng = np.random.default_rng(5)
    n_rows = 3 * mini_batch_size + 7
    X = (rng.integers(0, 256, (n_rows + 6, net.layers[0].n_in)) / 255).astype(dtype)
    labels = rng.integers(0, 4, len(X))
    codes = _kernels.byte_codes(X) if from_bytes else None
    assert (codes is not None) == from_bytes
    perm = rng.permutation(len(X))[:n_rows]
    work = net._engine.workspace(mini_batch_size, n_threads)
    for chunk in (perm[:2 * mini_batch_size], perm[2 * mini_batch_size:]):
        net._engine.train_chunk(X, labels, chunk, mini_batch_size, 0.5, step.get("lmbda", 0.0),
                                step.get("momentum", 0.0), len(X),
                                step.get("regularization", "l2"), work, n_threads, 0, None,
                                layer_threads, codes, first_by_rows)
    return [w.copy() for w in net.weights] + [b.copy() for b in net.biases]


def _assert_same(got, want):
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _dense():
    return [FullyConnectedLayer(60, 30), FullyConnectedLayer(30, 12), SoftmaxLayer(12, 4)]


def _dropout():
    return [FullyConnectedLayer(60, 30, p_dropout=0.3), SoftmaxLayer(30, 4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("step", [dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, regularization="l1")],
                         ids=["l2-momentum", "l1"])
@pytest.mark.parametrize("from_bytes", [False, True], ids=["floats", "bytes"])
@pytest.mark.parametrize("mini_batch_size", [5, 64])
def test_a_first_layer_split_by_rows_gives_the_bits_of_one_thread(dtype, step, from_bytes,
                                                                  mini_batch_size):
    want = _train(dtype, _dense, mini_batch_size, 1, from_bytes=from_bytes, **step)
    for n_threads, layer_threads in ((2, None), (2, (2, 1, 1)), (3, (3, 2, 3))):
        got = _train(dtype, _dense, mini_batch_size, n_threads, layer_threads, True,
                     from_bytes, **step)
        _assert_same(got, want)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_split_by_rows_the_first_layer_runs_its_products_whole_on_the_team(dtype):
    """By units, each thread plans its part of the forward product (15 of 30 units);
    by rows, the layer's whole product is planned for the team, which splits it."""
    _train(dtype, _dense, 64, 2, first_by_rows=True)
    forward = {(p["m"], p["n"], p["n_threads"]) for p in plan.plans() if p["k"] == 60}
    assert (64, 30, 2) in forward and not any(n < 30 for _, n, _ in forward)
    plan.forget()
    _train(dtype, _dense, 64, 2)
    assert any(p["k"] == 60 and p["n"] == 15 for p in plan.plans())


def test_a_first_layer_with_dropout_is_the_same_split_either_way():
    want = _train(np.float32, _dropout, 10, 1)
    for first_by_rows in (False, True):
        _assert_same(_train(np.float32, _dropout, 10, 2, None, first_by_rows), want)


@pytest.mark.parametrize("first_by_rows", [1, None, "rows"])
def test_first_by_rows_must_be_a_bool(first_by_rows):
    net = nnfast.Network(_dense(), seed=3)
    before = [w.copy() for w in net.weights]
    X = np.zeros((10, 60), np.float32)
    with pytest.raises(TypeError, match="engine: first_by_rows must be a bool"):
        net._engine.train_chunk(X, np.zeros(10, np.int64), np.arange(10, dtype=np.int64), 5,
                                0.1, 0.0, 0.0, 10, "l2", net._engine.workspace(5, 2), 2, 0,
                                None, None, None, first_by_rows)
    _assert_same(net.weights, before)


@pytest.mark.parametrize("layers, n_in, splits_rows", [
    (_dense, 60, True),
    (_dropout, 60, False),  # the mask covers the whole input: no split by units to replace
    (lambda: [nnfast.ConvPoolLayer((3, 1, 4, 4), (1, 7, 9), (2, 3)),
              FullyConnectedLayer(3 * 2 * 2, 9), SoftmaxLayer(9, 4)], 7 * 9, False),
], ids=["dense", "dropout", "conv"])
def test_a_run_tries_the_split_by_rows_only_where_its_first_layer_has_one(monkeypatch, layers,
                                                                          n_in, splits_rows):
    """Network.SGD on two threads: the team trial's first round times every layer on
    two threads split by rows only where the first layer is dense without dropout."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e5)  # many chunks a run
    net = nnfast.Network(layers(), seed=3)
    rng = np.random.default_rng(6)
    X = rng.uniform(0, 1, (600, n_in))
    net.SGD((X.astype(np.float32), rng.integers(0, 4, 600)), 1, 5, 0.1, n_threads=2,
            progress=False)
    (trial,) = plan.teams()
    tried = [(t["layer_threads"], t["first_by_rows"], t["alone"])
             for t in trial["seconds_per_row"]]
    two, one = len(net.layers) * [2], len(net.layers) * [1]
    assert tried[:3] == [(two, False, False), (one, False, False), (one, False, True)]
    assert (tried[3] == (two, True, False)) == splits_rows
    assert any(by_rows for _, by_rows, _ in tried) == splits_rows
