"""Dense layers split by their units across a team of threads (csrc/engine_dense.inc):
each thread computes its units' part of z, BP2's sums over its blocks of units and the
update of its units' rows of w; the first layer from its own copy of the mini-batch.
Every value is computed as the whole product computes it (BP2 in the same fixed blocks
of units on one thread), so the weights are the same bits on any thread count, whether
the layer splits or, where a thread's part would take another family of summation
orders, runs whole."""
import numpy as np
import pytest

import nnfast
from nnfast import FullyConnectedLayer, ReLU, SoftmaxLayer, _kernels, kernels, plan, tanh
from engine_checks import engine_train, fresh_plans

DTYPES = [np.float32, np.float64]
GUARD_ROWS = 64  # NNF_PART_GUARD_ROWS: the empty rows after a part's rows or copy


@pytest.fixture(autouse=True)
def measured_plans():
    with fresh_plans("measure"):
        yield


class HalfQuadraticCost:
    """A cost the engine does not know (BP1 in Python between train_forward and
    train_backward): the quadratic cost's delta for sigmoid outputs."""

    @staticmethod
    def fn(a, y):
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z, a, y):
        return (a - y) * a * (1 - a)


def _problem(n_in, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, n_in)), rng.integers(0, 10, n)


def _parts(n_in, n_out):
    """The (m, n, k) of the forward products this process planned that are one
    thread's part of a first layer n_in -> n_out (fewer units than the layer)."""
    return {(p["m"], p["n"]) for p in plan.plans() if p["k"] == n_in and p["n"] < n_out}


def _train_engine(dtype, sizes, mini_batch_size, n_threads, layer_threads=None, chunks=1,
                  **step):
    """Three and a bit mini-batches a chunk; sizes are a network's sizes or its layers.
    The weights and biases after them, then the velocities."""
    X, labels = _problem(sizes[0] if isinstance(sizes[0], int) else sizes[0].n_in,
                         3 * mini_batch_size + 7)
    net = nnfast.Network(sizes, dtype=dtype, seed=3)
    perm = np.random.default_rng(4).permutation(len(X))
    for _ in range(chunks):
        engine_train(net, X, labels, perm, mini_batch_size, 0.5, n_threads=n_threads,
                     layer_threads=layer_threads, **step)
    return [a.copy() for a in net.weights + net.biases + net._vw + net._vb]


def _assert_same(got, want):
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_a_split_first_layer_gives_the_same_bits_and_a_whole_one_where_parts_would_not(dtype):
    """[784, 100, 10] at mini-batch 64: on 2 threads each thread's 50 units keep the
    whole product's chain family (the layer splits, and so does the last mini-batch of
    7 rows, in the dot family like its whole product); on 3 threads 33 units would
    fall below the dot kernels' bound, so the layer runs whole. The same bits all
    three ways, and with the other layers on other thread counts."""
    want = _train_engine(dtype, [784, 100, 10], 64, 1, lmbda=5.0)
    plan.forget()
    _assert_same(_train_engine(dtype, [784, 100, 10], 64, 2, lmbda=5.0), want)
    assert {(64, 50), (7, 50)} <= _parts(784, 100)
    plan.forget()
    _assert_same(_train_engine(dtype, [784, 100, 10], 64, 3, lmbda=5.0), want)
    assert not {n for m, n in _parts(784, 100) if m == 64}
    for layer_threads in ((2, 1), (1, 2)):
        _assert_same(_train_engine(dtype, [784, 100, 10], 64, 2, layer_threads, lmbda=5.0),
                     want)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("step", [dict(lmbda=1.0), dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, momentum=0.7, regularization="l1")],
                         ids=["l2", "l2-momentum", "l1-momentum"])
def test_parts_held_apart_give_the_same_bits(dtype, step):
    """While a chunk trains, a layer split by units holds the rows of w and v of its
    parts 1, 2, ... apart in the workspace (engine_dense.inc, P(hold_parts)): here the
    100-unit hidden layer, which takes BP2 and its step by parts from them, and the
    first layer, its forward product and step. The last mini-batch of 7 rows splits
    otherwise and puts them back first. The same bits and velocities on 1, 2 and 3
    threads, over two chunks, each of which must leave w and v in the network's
    arrays for the next."""
    sizes = [30, 48, 100, 10]
    want = _train_engine(dtype, sizes, 10, 1, chunks=2, **step)
    for n_threads in (2, 3):
        plan.forget()
        for rows in (10, 7):
            _plan_forward_on_all(dtype, rows, 48, 100, n_threads)
        _assert_same(_train_engine(dtype, sizes, 10, n_threads, chunks=2, **step), want)
        assert (10, 100 // n_threads) in {(p["m"], p["n"]) for p in plan.plans()
                                          if p["k"] == 48}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("step", [dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, regularization="l1"),
                                  dict(lmbda=0.3, momentum=0.7, regularization="l1")],
                         ids=["l2-momentum", "l1", "l1-momentum"])
def test_each_thread_steps_its_own_rows_of_w(dtype, step):
    """L1's shrink and momentum's velocity are applied to each thread's rows of w
    where it updates them: the same bits on 1, 2 and 3 threads (3 split 20 units as
    6, 7 and 7)."""
    want = _train_engine(dtype, [30, 20, 4], 5, 1, **step)
    for n_threads in (2, 3):
        plan.forget()
        _assert_same(_train_engine(dtype, [30, 20, 4], 5, n_threads, **step), want)
        assert (5, 20 // n_threads) in _parts(30, 20)


def test_a_cost_in_python_and_predictions_give_the_same_bits_split():
    """BP1 from a Python cost between the engine's train_forward and train_backward
    (split), and predictions (which split by rows), on 1 and on 2 threads."""
    X, labels = _problem(64, 90, seed=5)
    nets = [nnfast.Network([64, 40, 10], cost=HalfQuadraticCost, seed=6) for _ in range(2)]
    for net, n_threads in zip(nets, (1, 2)):
        plan.forget()
        net.SGD((X, labels), 2, 9, 0.8, n_threads=n_threads, progress=False)
    assert (9, 20) in _parts(64, 40)
    _assert_same(nets[1].weights + nets[1].biases, nets[0].weights + nets[0].biases)
    _assert_same([nets[0]._forward(X.astype(np.float32), 2)],
                 [nets[0]._forward(X.astype(np.float32), 1)])


def test_bp2_partial_sums_are_sized_for_the_rows_that_split_not_the_batch():
    """A hidden layer splits only at rows whose forward product takes the dot family
    (at most 69 rows for 200 -> 150; a 10-unit layer's always does), so a workspace
    for mini-batches of 1,024 rows holds BP2's 3 extra block sums for 69 rows, not
    1,024: on two threads it grows by the first layer's two copies of the input (the
    mini-batch's and the next one's), each followed by GUARD_ROWS empty rows as the
    first copy (the input) is then, those sums, each split layer's parts of z (a
    line apart for each thread) and its room to hold its second part's rows of w and v
    apart (_held_room), to within a line a buffer."""
    engine = nnfast.Network([64, 200, 150, 10], seed=6)._engine
    grown = len(engine.workspace(1024, 2)) - len(engine.workspace(1024, 1))
    copy, sums = 2 * (1024 + GUARD_ROWS) * 64 + GUARD_ROWS * 64, 3 * 69 * 200
    parts_of_z = 1024 * 200 + 69 * 150 + 1024 * 10 + 3 * 2 * 16
    held = _held_room(64, 200, 2) + _held_room(200, 150, 2) + _held_room(150, 10, 2)
    need = copy + sums + parts_of_z + held
    assert need <= grown <= need + 16 * 14


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("skip", [0, 1, 3])
def test_every_workspace_buffer_starts_on_a_cache_line(dtype, skip):
    """The engine lays its buffers out from the workspace's first 64-byte line, each
    rounded up to a line, whatever the array's own alignment (numpy promises the
    dtype's): the output layer's z, a and delta among them."""
    engine = nnfast.Network([64, 40, 10], dtype=dtype, seed=6)._engine
    fresh = engine.workspace(9, 2)
    work = np.empty(len(fresh) + skip, dtype)[skip:]
    assert len(work) == len(fresh)
    for buffer in engine.output_buffers(work, 9, 2):
        assert buffer.ctypes.data % 64 == 0


def _held_room(n_in, n_out, n_threads, line=16):
    """The float32s of workspace a dense layer split by units takes to hold the rows of
    w and of v of its parts 1, 2, ... apart while a chunk trains (engine_dense.inc,
    P(held_room)): for the most parts it may split into, GUARD_ROWS rows, then each
    part's rows followed by GUARD_ROWS more, each part on a line of its own (fewer
    parts take less)."""
    def up(values):
        return -(-values // line) * line

    def room(nt):
        at = GUARD_ROWS * n_in
        for t in range(1, nt):
            at = up(at) + (n_out * (t + 1) // nt - n_out * t // nt) * n_in + GUARD_ROWS * n_in
        return up(at)
    rooms = [room(nt) for nt in range(2, min(n_threads, n_out) + 1)]
    assert rooms == sorted(rooms)
    return 2 * rooms[-1] if rooms else 0


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_predictions_take_a_workspace_without_deltas_or_copies(n_threads):
    """A forward block's workspace has no room for the deltas, the kept z, the
    per-thread copies of the input (and the empty rows after each), the parts of z of
    layers split by units (predictions split by rows) or their held parts' rows, and
    gives the outputs a training workspace gives."""
    block, sizes = 32, [64, 40, 10]
    engine = nnfast.Network(sizes, seed=6)._engine
    X = _problem(64, 70, seed=7)[0].astype(np.float32)
    predicting = engine.workspace(block, n_threads, False)
    training = engine.workspace(block, n_threads)
    deltas, z = block * (40 + 10), block * 10
    copies = 2 * (n_threads - 1) * (block + GUARD_ROWS) * 64
    copies += (n_threads > 1) * GUARD_ROWS * 64  # after the input
    parts_of_z = (n_threads > 1) * (block * (40 + 10) + 2 * n_threads * 16)
    held = _held_room(64, 40, n_threads) + _held_room(40, 10, n_threads)
    assert len(training) - len(predicting) == deltas + z + copies + parts_of_z + held
    _assert_same([engine.forward(X, block, predicting, n_threads)],
                 [engine.forward(X, block, training, n_threads)])
    with pytest.raises(ValueError, match="workspace too small"):
        engine.forward(X, block, predicting[:-1], n_threads)


def _plan_forward_on_all(dtype, rows, n_in, n_out, n_threads):
    """Plan a dense layer's forward product (rows x n_out x n_in, as the engine lays it
    out) on n_threads to run on all of them, whatever timing would choose: a layer
    that shares its input splits by units on the team of that plan."""
    a, w = np.zeros((rows, n_in), dtype), np.zeros((n_out, n_in), dtype)
    kernels.matmul(a, w, np.empty((rows, n_out), dtype), trans_b=True, n_threads=n_threads)
    (made,) = [p for p in plan.plans() if (p["m"], p["n"], p["k"], p["n_threads"], p["dtype"])
               == (rows, n_out, n_in, n_threads, np.dtype(dtype).name)]
    _kernels.put_gemm_plan(dict(made, team=n_threads))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("p_dropout", [0.0, 0.3], ids=["plain", "dropout"])
@pytest.mark.parametrize("step", [dict(lmbda=2.0), dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, regularization="l1")],
                         ids=["l2", "l2-momentum", "l1"])
def test_a_hidden_layer_splits_by_units_and_sums_bp2_over_fixed_blocks(dtype, p_dropout, step):
    """[30, 200, 150, 10] at mini-batch 10: the hidden 200 -> 150 layer's BP2 sums 4
    blocks of 37-38 units (NNF_BP2_UNITS 64) on any team. Split on 2 threads (75
    units and 2 blocks each) and on 3 (50 units each; BP2's parts own 1, 1 and 2
    blocks), alone or with the other layers on the team, with dropout on its input
    and with each update rule: the bits of one thread."""
    layers = lambda: [FullyConnectedLayer(30, 200), FullyConnectedLayer(200, 150, p_dropout=p_dropout),
                      FullyConnectedLayer(150, 10)]
    want = _train_engine(dtype, layers(), 10, 1, **step)
    for n_threads in (2, 3):
        for layer_threads in ((1, n_threads, 1), None):
            plan.forget()
            _plan_forward_on_all(dtype, 10, 200, 150, n_threads)
            _assert_same(_train_engine(dtype, layers(), 10, n_threads, layer_threads, **step), want)
            assert (10, 150 // n_threads) in _parts(200, 150)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("activation_fn", [tanh, ReLU], ids=["tanh", "relu"])
def test_a_split_layer_applies_f_to_its_columns_and_softmax_to_whole_rows(dtype, activation_fn):
    """Split by units, each thread applies an elementwise f to its own columns of z
    in the forward product's region; a softmax, which needs whole rows, runs after it.
    [30, 200 tanh or ReLU, 150 softmax] at mini-batch 10 with both layers split on 2
    and 3 threads: the bits of one thread."""
    layers = lambda: [FullyConnectedLayer(30, 200, activation_fn), SoftmaxLayer(200, 150)]
    want = _train_engine(dtype, layers(), 10, 1, lmbda=1.0)
    for n_threads in (2, 3):
        plan.forget()
        _plan_forward_on_all(dtype, 10, 200, 150, n_threads)
        _assert_same(_train_engine(dtype, layers(), 10, n_threads, lmbda=1.0), want)
        assert (10, 150 // n_threads) in _parts(200, 150)
        assert (10, 200 // n_threads) in _parts(30, 200)


def test_a_layer_too_small_to_repay_a_team_and_large_mini_batches_stay_whole():
    """A hidden layer splits only where the planner runs its forward product on a team,
    and only at mini-batches whose forward product takes the dot family: a plan on one
    thread, or 300 rows, leave it whole (no part of its units is planned)."""
    layers = lambda: [FullyConnectedLayer(30, 200), FullyConnectedLayer(200, 150),
                      FullyConnectedLayer(150, 10)]
    want = _train_engine(np.float32, layers(), 10, 1)
    plan.forget()
    kernels.matmul(np.zeros((10, 200), np.float32), np.zeros((150, 200), np.float32),
                   np.empty((10, 150), np.float32), trans_b=True, n_threads=2)
    (made,) = [p for p in plan.plans() if (p["m"], p["n"], p["k"]) == (10, 150, 200)]
    _kernels.put_gemm_plan(dict(made, team=1))
    _assert_same(_train_engine(np.float32, layers(), 10, 2, (1, 2, 1)), want)
    assert not {n for m, n in _parts(200, 150) if m == 10}
    want = _train_engine(np.float32, layers(), 300, 1)
    plan.forget()
    _assert_same(_train_engine(np.float32, layers(), 300, 2, (1, 2, 1)), want)
    assert not {n for m, n in _parts(200, 150) if m == 300}


ABOVE = {
    "sigmoid": lambda: [FullyConnectedLayer(30, 20), FullyConnectedLayer(20, 4)],
    "tanh-dropout-above": lambda: [FullyConnectedLayer(30, 20, tanh),
                                   FullyConnectedLayer(20, 12, ReLU, p_dropout=0.3),
                                   SoftmaxLayer(12, 4)],
    "relu-softmax": lambda: [FullyConnectedLayer(30, 20, ReLU), SoftmaxLayer(20, 4)],
}


def _train_first_split(dtype, layers, n_threads, first_threads, step, codes=False):
    """17 rows of bytes / 255 in mini-batches of 5 (the last of 2), the first layer on
    first_threads threads and the layers above on one, with each mini-batch's |dC/db|
    summed per layer."""
    net = nnfast.Network(layers(), dtype=dtype, seed=3)
    rng = np.random.default_rng(5)
    X = (rng.integers(0, 256, (23, 30)) / 255).astype(dtype)
    labels = rng.integers(0, 4, len(X))
    perm = rng.permutation(len(X))[:17].astype(np.int64)
    norms = np.zeros(len(net.layers))
    threads = (first_threads,) + (1,) * (len(net.layers) - 1)
    net._engine.train_chunk(X, labels.astype(np.int64), perm, 5, 0.5, step.get("lmbda", 0.0),
                            step.get("momentum", 0.0), len(X), step.get("regularization", "l2"),
                            net._engine.workspace(5, n_threads), n_threads, 7, norms, threads,
                            _kernels.byte_codes(X, 1) if codes else None)
    return [w.copy() for w in net.weights] + [b.copy() for b in net.biases] + [norms]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("net", sorted(ABOVE))
@pytest.mark.parametrize("step", [dict(lmbda=1.0), dict(lmbda=1.0, momentum=0.5),
                                  dict(lmbda=0.3, regularization="l1"),
                                  dict(lmbda=0.3, momentum=0.7, regularization="l1")],
                         ids=["l2", "l2-momentum", "l1", "l1-momentum"])
def test_a_first_layer_split_under_layers_on_one_thread_takes_a_region_a_chunk(dtype, net,
                                                                               step):
    """A first layer split by units with every layer above on one thread trains the
    chunk's whole mini-batches in one region (engine.inc, train_first_split): each
    part updates its own units' rows of w and biases, thread 0 the layers above,
    between spinning barriers; the short last mini-batch steps as any. The bits of one
    thread, the speeds of learning too, on 2 and 3 threads (20 units as 10 + 10 and
    6 + 7 + 7), from floats and from bytes."""
    want = _train_first_split(dtype, ABOVE[net], 1, 1, step)
    for n_threads in (2, 3):
        for codes in (False, True):
            plan.forget()
            _assert_same(_train_first_split(dtype, ABOVE[net], n_threads, n_threads, step,
                                            codes), want)
            assert (5, 20 // n_threads) in _parts(30, 20)
