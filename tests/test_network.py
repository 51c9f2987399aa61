"""nnfast.Network and its C engine, held to the NumPy oracle (tests/test_oracle.py
checks the oracle itself by finite differences and against the book's per-sample loop).

Conventions: the engine stores each layer's weights transposed (`net._wt[l]`,
n_in x n_out) and shows them in the book's shape through `net.weights` (n_out, n_in);
biases are 1-D inside (`net._b`) and (n_out, 1) through `net.biases`. The momentum
buffers `net._vwt` / `net._vb` hold the oracle's velocities (vw transposed, vb)."""
import copy
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import nnfast
from nnfast import CrossEntropyCost, LogLikelihoodCost, Network, QuadraticCost, datasets, oracle

from engine_checks import assert_close_to, engine_train, params

# (cost, hidden activation) pairs the network accepts: cross-entropy needs sigmoid outputs.
COST_ACTIVATIONS = [(QuadraticCost, "sigmoid"), (QuadraticCost, "tanh"), (QuadraticCost, "relu"),
                    (LogLikelihoodCost, "sigmoid"), (LogLikelihoodCost, "tanh"),
                    (LogLikelihoodCost, "relu"), (CrossEntropyCost, "sigmoid")]
COST_IDS = [f"{c.__name__}-{a}" for c, a in COST_ACTIVATIONS]


# --- helpers -------------------------------------------------------------------------


def velocities(net):
    return [(np.array(vwt.T, dtype=np.float64), np.array(vb, dtype=np.float64))
            for vwt, vb in zip(net._vwt, net._vb)]


def random_problem(sizes, n, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], n).astype(np.int64)
    return X, labels


def assert_params_match(net, weights, biases, rel, vels=None):
    for l, (w, b) in enumerate(zip(weights, biases)):
        assert_close_to(net.weights[l], w, rel, f"weights[{l}]")
        assert_close_to(net.biases[l].reshape(-1), b, rel, f"biases[{l}]")
    if vels is not None:
        for l, ((vw, vb), (ew, eb)) in enumerate(zip(vels, velocities(net))):
            assert_close_to(ew, vw, rel, f"velocity w[{l}]")
            assert_close_to(eb, vb, rel, f"velocity b[{l}]")


def snapshot(net):
    return [w.copy() for w in net._wt] + [b.copy() for b in net._b] + \
           [v.copy() for v in net._vwt] + [v.copy() for v in net._vb]


def assert_unchanged(net, before):
    after = snapshot(net)
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "parameters changed"


_FORWARD_PROBE = """
import numpy as np, nnfast
net = nnfast.Network([3, 2], seed=0)
net.feedforward(np.zeros((4, 3)))
"""


@pytest.fixture(scope="session")
def forward_works():
    """Engine.forward is run once in a child process: if it crashes the process, the
    tests that need it fail with that reason instead of killing the whole test run."""
    done = subprocess.run([sys.executable, "-c", _FORWARD_PROBE], capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail("Network.feedforward([3, 2] net, 4 rows) kills the process "
                    f"(exit status {done.returncode}): {_FORWARD_PROBE!r}\n{done.stderr[-2000:]}")


# --- 1. one mini-batch step ----------------------------------------------------------

# Float64 engine and oracle evaluate the same formulas; only the summation order of
# the GEMMs and of the bias column sums differs (and the engine folds -eta/m into the
# GEMM's alpha). Each entry is a sum of at most ~7 products of O(1) numbers, so the
# rounding difference is a few ulps, ~1e-15 of the parameters' scale; 1e-12 leaves
# room for the (at most 3-layer) propagation through f' and BP2, and is still far
# below any real error (a wrong sign, factor or index moves entries by ~eta/m·|grad|,
# about 1e-2 here).
STEP_REL = 1e-12


@pytest.mark.parametrize("cost,hidden", COST_ACTIVATIONS, ids=COST_IDS)
@pytest.mark.parametrize("regularization", ["l2", "l1"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_one_mini_batch_matches_oracle(cost, hidden, regularization, momentum):
    sizes = [6, 5, 4, 3]
    net = Network(sizes, cost=cost, dtype=np.float64, seed=11, activation=hidden)
    X, labels = random_problem(sizes, 7, seed=12)
    rng = np.random.default_rng(13)
    if momentum:
        # Start from non-zero velocities, so mu*v is exercised, not just the gradient.
        for vwt, vb in zip(net._vwt, net._vb):
            vwt[...] = 0.1 * rng.standard_normal(vwt.shape)
            vb[...] = 0.1 * rng.standard_normal(vb.shape)
    weights, biases = params(net)
    vels = velocities(net)
    eta, lmbda, n = 0.7, 3.0, 50  # n: the training set's size, only used in the decay
    want_w, want_b, want_v = oracle.update_mini_batch(
        weights, biases, X, oracle.vectorized_result(labels, sizes[-1]), eta, lmbda, n,
        cost, net.activations, regularization=regularization, momentum=momentum,
        velocities=vels)
    engine_train(net, X, labels, np.arange(7), 7, eta, lmbda, momentum, n, regularization)
    assert_params_match(net, want_w, want_b, STEP_REL, want_v if momentum else None)
    # A real step was taken (the comparison above is not vacuous).
    assert not np.allclose(net.weights[0], weights[0], rtol=0, atol=1e-4)


def test_sgd_one_batch_equals_engine_step():
    """SGD over data that is exactly one mini-batch is that one oracle step."""
    sizes = [4, 6, 3]
    net = Network(sizes, cost=QuadraticCost, dtype=np.float64, seed=3)
    X, labels = random_problem(sizes, 8, seed=4)
    weights, biases = params(net)
    want_w, want_b, _ = oracle.update_mini_batch(
        weights, biases, X, oracle.vectorized_result(labels, 3), 2.0, 0.5, 8,
        QuadraticCost, net.activations)
    net.SGD((X, labels), epochs=1, mini_batch_size=8, eta=2.0, lmbda=0.5)
    assert_params_match(net, want_w, want_b, STEP_REL)


# --- 2. an epoch, and reproducibility ------------------------------------------------

@pytest.mark.parametrize("cost,hidden", [(QuadraticCost, "tanh"), (CrossEntropyCost, "sigmoid"),
                                         (LogLikelihoodCost, "relu")])
@pytest.mark.parametrize("regularization,momentum", [("l2", 0.0), ("l1", 0.9), ("l2", 0.5)])
def test_epoch_matches_oracle(cost, hidden, regularization, momentum):
    # 23 rows in mini-batches of 5: four full ones and a short one of 3, which the
    # oracle (like the book) steps with eta/3.
    sizes = [5, 7, 4]
    net = Network(sizes, cost=cost, dtype=np.float64, seed=21, activation=hidden)
    X, labels = random_problem(sizes, 23, seed=22)
    perm = np.random.default_rng(23).permutation(23)
    weights, biases = params(net)
    want_w, want_b, want_v = oracle.sgd_epoch(
        weights, biases, X, oracle.vectorized_result(labels, 4), 5, 0.5, 2.0, cost,
        net.activations, perm, regularization=regularization, momentum=momentum)
    engine_train(net, X, labels, perm, 5, 0.5, 2.0, momentum, 23, regularization)
    # (Without momentum the engine keeps no velocities: only the parameters compare.)
    # Five steps, each within a few ulps: the errors add up (and are amplified a
    # little by later steps), still orders of magnitude inside 1e-11.
    assert_params_match(net, want_w, want_b, 1e-11, want_v if momentum else None)


def test_sgd_draws_its_permutation_from_the_network_rng():
    sizes = [5, 7, 4]
    net = Network(sizes, cost=CrossEntropyCost, dtype=np.float64, seed=31)
    X, labels = random_problem(sizes, 23, seed=32)
    perm = copy.deepcopy(net._rng).permutation(23)
    weights, biases = params(net)
    want_w, want_b, want_v = oracle.sgd_epoch(
        weights, biases, X, oracle.vectorized_result(labels, 4), 5, 0.5, 1.0,
        CrossEntropyCost, net.activations, perm, momentum=0.5)
    net.SGD((X, labels), epochs=1, mini_batch_size=5, eta=0.5, lmbda=1.0, momentum=0.5)
    assert_params_match(net, want_w, want_b, 1e-11, want_v)


def test_whole_batches_only_drops_the_short_batch_of_a_shuffled_epoch():
    """23 rows in mini-batches of 5: the permutation's first 20 rows train, as the
    oracle's epoch over them says; its last 3, the short batch, do not (the shuffled
    epoch trained them, and GradientNorms divided four batches' norms by five)."""
    sizes = [5, 7, 4]
    net = Network(sizes, cost=CrossEntropyCost, dtype=np.float64, seed=31)
    X, labels = random_problem(sizes, 23, seed=32)
    perm = copy.deepcopy(net._rng).permutation(23)[:20]
    weights, biases = params(net)
    want_w, want_b, _ = oracle.sgd_epoch(  # (no L2: its n would be the 23 rows)
        weights, biases, X[perm], oracle.vectorized_result(labels[perm], 4), 5, 0.5, 0.0,
        CrossEntropyCost, net.activations, np.arange(20))
    trained = []
    net.train((X, labels), nnfast.SGDConfig(1, 5, 0.5, whole_batches_only=True),
              progress=lambda epoch, done, total: trained.append(done))
    assert trained[-1] == 20
    assert_params_match(net, want_w, want_b, 1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_same_training_any_thread_count(dtype):
    sizes = [12, 9, 5]
    X, labels = random_problem(sizes, 57, seed=41, dtype=dtype)
    nets = [Network(sizes, dtype=dtype, seed=42, activation="sigmoid") for _ in range(3)]
    for net, threads in zip(nets, (1, 1, 2)):
        net.SGD((X, labels), epochs=3, mini_batch_size=4, eta=0.3, lmbda=0.1, momentum=0.5,
                n_threads=threads)
    for other in nets[1:]:
        for a, b in zip(snapshot(nets[0]), snapshot(other)):
            assert np.array_equal(a, b)
    # A different seed really is a different run.
    other = Network(sizes, dtype=dtype, seed=43)
    assert not np.array_equal(other.weights[0], nets[0].weights[0])


def test_threads_do_not_change_results_of_large_gemms():
    # Big enough that the GEMMs are packed and split across threads (256 x 784 by
    # 784 x 300): the summation order must still not depend on the thread count.
    sizes = [784, 300, 10]
    rng = np.random.default_rng(51)
    X = rng.random((1024, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 1024)
    results = []
    for threads in (1, 2):
        net = Network(sizes, seed=52)
        net.SGD((X, labels), epochs=1, mini_batch_size=256, eta=0.5, momentum=0.3,
                n_threads=threads)
        results.append(snapshot(net))
    for a, b in zip(*results):
        assert np.array_equal(a, b)


# --- 3. the engine's step is the gradient --------------------------------------------

@pytest.mark.parametrize("cost,hidden", COST_ACTIVATIONS, ids=COST_IDS)
def test_engine_step_is_minus_eta_over_m_times_gradient(cost, hidden):
    sizes = [4, 5, 3]
    m, eta = 5, 1e-3
    for seed in range(60, 100):  # for ReLU: a problem with no z near the kink
        net = Network(sizes, cost=cost, dtype=np.float64, seed=seed, activation=hidden)
        X, labels = random_problem(sizes, m, seed=seed + 1000)
        weights, biases = params(net)
        zs, _ = oracle.forward(weights, biases, X, net.activations)
        if hidden != "relu" or min(np.abs(z).min() for z in zs) > 1e-3:
            break
    Y = oracle.vectorized_result(labels, sizes[-1])
    engine_train(net, X, labels, np.arange(m), m, eta)
    new_w, new_b = params(net)

    def summed_cost():
        return cost.fn(oracle.feedforward(weights, biases, X, net.activations), Y)

    # Central differences of the summed cost: truncation O(h²·C''') ~ 1e-12, rounding
    # O(ε·|C|/h) ~ 1e-9. The engine's gradient, recovered as Δw / (-eta/m), carries
    # the rounding of w itself: ε·|w| / (eta/m) ~ 2e-16 · 3 / 2e-4 ~ 3e-12. Both far
    # below rtol 1e-6 with an absolute floor of 1e-7 for near-zero entries.
    h = 1e-6
    for old, new in ((weights, new_w), (biases, new_b)):
        for p, q in zip(old, new):
            engine_grad = (q - p) / (-eta / m)
            numeric = np.empty_like(p)
            for i in np.ndindex(p.shape):
                saved = p[i]
                p[i] = saved + h
                c_plus = summed_cost()
                p[i] = saved - h
                c_minus = summed_cost()
                p[i] = saved
                numeric[i] = (c_plus - c_minus) / (2 * h)
            np.testing.assert_allclose(engine_grad, numeric, rtol=1e-6, atol=1e-7)


# --- 4. float32 follows float64 ------------------------------------------------------

@pytest.mark.parametrize("cost,hidden", [(QuadraticCost, "sigmoid"), (CrossEntropyCost, "sigmoid"),
                                         (LogLikelihoodCost, "tanh")])
def test_float32_training_follows_float64(cost, hidden):
    sizes = [20, 15, 10]
    X, labels = random_problem(sizes, 120, seed=71, dtype=np.float32)
    net32 = Network(sizes, cost=cost, dtype=np.float32, seed=72, activation=hidden)
    net64 = Network(sizes, cost=cost, dtype=np.float64, seed=72, activation=hidden)
    # The same starting point: the float32 values, exactly, in both.
    for w32, w64 in zip(net32._wt + net32._b, net64._wt + net64._b):
        w64[...] = w32
    perm = np.random.default_rng(73).permutation(120)
    for net in (net32, net64):
        engine_train(net, X, labels, perm, 10, 0.5, 1.0, 0.5, 120, "l2")
    # 12 steps of a contractive, well-conditioned update (eta 0.5, weights O(1/sqrt(n))).
    # Each float32 operation rounds at 6e-8; dot products of ≤ 20 terms and the
    # update give ~1e-6 relative per step in the worst case, and a dozen steps do not
    # amplify it past ~1e-5 (measured: ~5e-7). 1e-4 is that with a margin; a real
    # mismatch (a float32 path computing something else) would be O(eta·grad) ~ 1e-2.
    for l in range(2):
        assert_close_to(net32.weights[l], net64.weights[l], 1e-4, f"weights[{l}]")
        assert_close_to(net32.biases[l], net64.biases[l], 1e-4, f"biases[{l}]")
    assert net32.weights[0].dtype == np.float32 and net64.weights[0].dtype == np.float64


# --- 5. evaluation -------------------------------------------------------------------

def data_forms(X, labels, n_out):
    """The same data in the four accepted forms."""
    onehot = oracle.vectorized_result(labels, n_out)
    return {
        "X, labels": (X, labels),
        "X, one-hot": (X, onehot),
        "book pairs (x, one-hot)": [(x.reshape(-1, 1), y.reshape(-1, 1))
                                    for x, y in zip(X, onehot)],
        "book pairs (x, int)": [(x.reshape(-1, 1), int(y)) for x, y in zip(X, labels)],
    }


@pytest.mark.parametrize("cost,hidden", COST_ACTIVATIONS, ids=COST_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluation_matches_oracle(forward_works, cost, hidden, dtype):
    sizes = [8, 6, 5]
    net = Network(sizes, cost=cost, dtype=dtype, seed=81, activation=hidden)
    X, labels = random_problem(sizes, 40, seed=82)
    weights, biases = params(net)
    want_out = oracle.feedforward(weights, biases, X, net.activations)
    # float64: only summation order differs. float32: inputs rounded to float32 and
    # 8-term dot products in float32, ~1e-6 relative on O(1) outputs.
    rel = 1e-12 if dtype == np.float64 else 1e-5
    out = net.feedforward(X)
    assert out.shape == (40, 5) and out.dtype == dtype
    assert_close_to(out, want_out, rel, "feedforward")
    column = net.feedforward(X[3].reshape(-1, 1))
    assert column.shape == (5, 1)
    assert_close_to(column[:, 0], want_out[3], rel, "feedforward of a column")
    predicted = net.predict(X)
    assert np.array_equal(predicted, np.argmax(out, axis=1))
    if dtype == np.float64:
        assert np.array_equal(predicted, np.argmax(want_out, axis=1))
    correct = int(np.sum(predicted == labels))
    assert 0 < correct < 40
    Y = oracle.vectorized_result(labels, 5)
    for name, data in data_forms(X, labels, 5).items():
        assert net.accuracy(data) == correct, name
        assert net.evaluate(data) == correct, name
        for lmbda in (0.0, 2.5):
            for reg in ("l2", "l1"):
                want = oracle.total_cost(weights, biases, X, Y, cost, net.activations,
                                         lmbda=lmbda, regularization=reg)
                got = net.total_cost(data, lmbda, regularization=reg)
                assert isinstance(got, float)
                assert got == pytest.approx(want, rel=rel), (name, lmbda, reg)


def test_feedforward_single_output_network(forward_works):
    net = Network([3, 1], cost=QuadraticCost, dtype=np.float64, seed=5)
    X = np.random.default_rng(6).standard_normal((4, 3))
    weights, biases = params(net)
    assert_close_to(net.feedforward(X), oracle.feedforward(weights, biases, X, net.activations),
                    1e-12, "feedforward")


def test_feedforward_in_blocks_larger_than_one(forward_works):
    # More rows than one forward block (1024): every block must land in its place.
    net = Network([10, 7, 4], dtype=np.float64, seed=7)
    X = np.random.default_rng(8).standard_normal((2500, 10))
    weights, biases = params(net)
    assert_close_to(net.feedforward(X), oracle.feedforward(weights, biases, X, net.activations),
                    1e-12, "feedforward")


# --- 6. history, early stopping, schedules, progress ---------------------------------

def test_history_has_one_entry_per_epoch(forward_works):
    sizes = [6, 5, 3]
    net = Network(sizes, seed=91)
    X, labels = random_problem(sizes, 30, seed=92, dtype=np.float32)
    Xe, labels_e = random_problem(sizes, 12, seed=93, dtype=np.float32)
    history = net.SGD((X, labels), 4, 7, 0.5, lmbda=0.3, evaluation_data=(Xe, labels_e),
                      monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                      monitor_training_cost=True, monitor_training_accuracy=True)
    assert isinstance(history, nnfast.History)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = history
    for entries in history:
        assert len(entries) == 4
    assert all(isinstance(c, float) and c > 0 for c in evaluation_cost + training_cost)
    assert all(isinstance(a, int) and 0 <= a <= 12 for a in evaluation_accuracy)
    assert all(0 <= a <= 30 for a in training_accuracy)
    # The last entries describe the network as it ends.
    assert training_accuracy[-1] == net.accuracy((X, labels))
    assert evaluation_cost[-1] == net.total_cost((Xe, labels_e), 0.3)
    # Without monitoring flags the lists stay empty.
    assert net.SGD((X, labels), 2, 7, 0.5) == ([], [], [], [])


def test_early_stopping_stops_when_accuracy_stalls(forward_works):
    sizes = [6, 5, 3]
    net = Network(sizes, seed=94)
    X, labels = random_problem(sizes, 30, seed=95, dtype=np.float32)
    # eta so small the accuracy cannot change: the first epoch is the best, and after
    # early_stopping_n = 3 more without improvement training stops, after 4 of 50.
    history = net.SGD((X, labels), 50, 10, 1e-9, evaluation_data=(X, labels),
                      monitor_evaluation_accuracy=True, early_stopping_n=3)
    assert len(history.evaluation_accuracy) == 4
    assert len(set(history.evaluation_accuracy)) == 1


def test_eta_schedule_and_progress():
    sizes = [6, 5, 3]
    X, labels = random_problem(sizes, 37, seed=96, dtype=np.float64)
    calls, reports = [], []

    def schedule(epoch):
        calls.append(epoch)
        return 0.5 / (1 + epoch)

    net = Network(sizes, dtype=np.float64, seed=97)
    weights, biases = params(net)
    rng = copy.deepcopy(net._rng)
    net.SGD((X, labels), 3, 8, 123.0, eta_schedule=schedule,
            progress=lambda *args: reports.append(args))
    assert calls == [0, 1, 2]
    # The scheduled eta is the one used (not the 123.0 passed as eta).
    Y = oracle.vectorized_result(labels, 3)
    for epoch in range(3):
        weights, biases, _ = oracle.sgd_epoch(weights, biases, X, Y, 8, 0.5 / (1 + epoch), 0.0,
                                              CrossEntropyCost, net.activations,
                                              rng.permutation(37))
    assert_params_match(net, weights, biases, 1e-11)
    # progress: (epoch, rows_done, n), rows_done increasing within an epoch up to n.
    assert {r[0] for r in reports} == {0, 1, 2}
    for epoch in range(3):
        done = [r[1] for r in reports if r[0] == epoch]
        assert done == sorted(done) and done[-1] == 37
        assert all(r[2] == 37 for r in reports)


def test_progress_reports_every_chunk(monkeypatch):
    import nnfast.training as training_module
    # Tiny chunks: one mini-batch of 4 per engine call, 10 rows in 3 chunks.
    monkeypatch.setattr(training_module, "CHUNK_FLOPS", 1.0)
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)
    sizes = [6, 5, 3]
    X, labels = random_problem(sizes, 10, seed=98)
    reports = []
    Network(sizes, dtype=np.float64, seed=99).SGD(
        (X, labels), 2, 4, 0.1, progress=lambda *args: reports.append(args))
    assert reports == [(0, 4, 10), (0, 8, 10), (0, 10, 10), (1, 4, 10), (1, 8, 10), (1, 10, 10)]


def test_chunked_training_equals_one_engine_call(monkeypatch):
    import nnfast.training as training_module
    monkeypatch.setattr(training_module, "CHUNK_FLOPS", 1.0)
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)
    sizes = [6, 5, 3]
    X, labels = random_problem(sizes, 23, seed=100)
    a = Network(sizes, dtype=np.float64, seed=101)
    b = Network(sizes, dtype=np.float64, seed=101)
    perm = copy.deepcopy(b._rng).permutation(23)
    a.SGD((X, labels), 1, 5, 0.4, lmbda=1.0, momentum=0.7)
    engine_train(b, X, labels, perm, 5, 0.4, 1.0, 0.7)
    for x, y in zip(snapshot(a), snapshot(b)):
        assert np.array_equal(x, y)


def test_chunks_are_sized_by_the_runs_own_speed(monkeypatch):
    """The first call trains CHUNK_FLOPS' worth (one mini-batch here), each later one as
    many mini-batches as the calls before it trained in CHUNK_SECONDS. A clock that
    says every call took a millisecond: 1 mini-batch, then 50 (0.05 s at 1 ms each),
    then the rest; the next epoch, at 50 / 1 ms a mini-batch, in one call."""
    import types
    import nnfast.training as training_module
    ticks = iter(range(10**6))
    monkeypatch.setattr(training_module, "time",
                        types.SimpleNamespace(perf_counter=lambda: next(ticks) * 1e-3))
    monkeypatch.setattr(training_module, "CHUNK_FLOPS", 1.0)
    monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.05)
    sizes = [6, 5, 3]
    X, labels = random_problem(sizes, 1000, seed=102)
    reports = []
    Network(sizes, seed=103).SGD((X, labels), 2, 10, 0.1, n_threads=1,
                                 progress=lambda *args: reports.append(args))
    assert reports == [(0, 10, 1000), (0, 510, 1000), (0, 1000, 1000), (1, 1000, 1000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_masks_do_not_depend_on_the_chunks(monkeypatch, dtype):
    """A network with dropout trains to the same bits in one engine call an epoch and
    in one a mini-batch (the short last one too): each mini-batch's masks come from
    the epoch's seed and its place in the epoch (training.chunk_seed), so chunks sized
    by a machine's speed change nothing."""
    import nnfast.training as training_module
    from nnfast import FullyConnectedLayer, SoftmaxLayer
    X, labels = random_problem([6, 5, 3], 47, seed=104, dtype=dtype)
    nets = []
    for chunk_flops in (1e15, 1.0):
        monkeypatch.setattr(training_module, "CHUNK_FLOPS", chunk_flops)
        monkeypatch.setattr(training_module, "CHUNK_SECONDS", 0.0)
        net = Network([FullyConnectedLayer(6, 5, p_dropout=0.3),
                       SoftmaxLayer(5, 3, p_dropout=0.2)], dtype=dtype, seed=105)
        reports = []
        net.SGD((X, labels), 2, 5, 0.3, momentum=0.5, n_threads=1,
                progress=lambda *args: reports.append(args))
        assert len(reports) == (2 if chunk_flops > 1 else 20)
        nets.append(net)
    for x, y in zip(snapshot(nets[0]), snapshot(nets[1])):
        assert np.array_equal(x, y)


def test_a_chunks_seed_is_the_epochs_advanced_to_its_first_mini_batch():
    """Mini-batch b of a call seeded chunk_seed(s, f) draws what mini-batch f + b of a
    call seeded s draws (oracle.layer_seed), across the wrap at 2**64."""
    from nnfast.training import chunk_seed
    for seed in (0, 12345, 2**63 - 1, 2**64 - 1):
        for first in (0, 1, 7, 10**6):
            for batch in (0, 3):
                assert (oracle.layer_seed(chunk_seed(seed, first), batch, 0)
                        == oracle.layer_seed(seed, first + batch, 0))
    assert chunk_seed(5, 0) == 5


@pytest.mark.parametrize("seed, first_batch, error, name", [
    (1.0, 0, TypeError, "seed"), (True, 0, TypeError, "seed"), (-1, 0, ValueError, "seed"),
    (2**64, 0, ValueError, "seed"), (0, "1", TypeError, "first_batch"),
    (0, -1, ValueError, "first_batch"),
])
def test_a_chunks_seed_refuses_bad_input_by_name(seed, first_batch, error, name):
    from nnfast.training import chunk_seed
    with pytest.raises(error, match=name):
        chunk_seed(seed, first_batch)


# --- 7. save and load ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cost,hidden", [(QuadraticCost, "relu"), (CrossEntropyCost, "sigmoid"),
                                         (LogLikelihoodCost, "tanh")])
def test_save_load_round_trip(tmp_path, dtype, cost, hidden):
    net = Network([7, 5, 4, 3], cost=cost, dtype=dtype, seed=111, activation=hidden)
    X, labels = random_problem(net.sizes, 20, seed=112, dtype=dtype)
    net.SGD((X, labels), 1, 6, 0.3)
    path = tmp_path / "net.json"
    net.save(path)
    loaded = nnfast.load(path)
    assert loaded.sizes == net.sizes and loaded.cost is cost
    assert loaded.activation == hidden and loaded.dtype == np.dtype(dtype)
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        assert a.dtype == np.dtype(dtype) and np.array_equal(a, b)
    # A loaded network trains on: the engine sees the loaded parameters.
    before = snapshot(loaded)
    loaded.SGD((X, labels), 1, 6, 0.3)
    assert not np.array_equal(before[0], loaded._wt[0])


def test_load_book_network2_file(tmp_path):
    rng = np.random.default_rng(113)
    sizes = [4, 3, 2]
    weights = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    biases = [rng.standard_normal((3, 1)), rng.standard_normal((2, 1))]
    path = tmp_path / "book.json"
    # Exactly what network2.Network.save writes.
    path.write_text(json.dumps({"sizes": sizes, "weights": [w.tolist() for w in weights],
                                "biases": [b.tolist() for b in biases],
                                "cost": "CrossEntropyCost"}))
    net = nnfast.load(path)
    assert net.sizes == (4, 3, 2) and net.cost is CrossEntropyCost
    assert net.activation == "sigmoid" and net.dtype == np.float64
    for a, b in zip(net.weights + net.biases, weights + biases):
        assert np.array_equal(a, b)
    as32 = nnfast.load(path, dtype=np.float32)
    assert as32.dtype == np.float32
    assert np.array_equal(as32.weights[1], weights[1].astype(np.float32))


def _book_record():
    return {"sizes": [3, 2], "weights": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]],
            "biases": [[[0.1], [-0.1]]], "cost": "QuadraticCost"}


def _edited(**changes):
    record = _book_record()
    for key, value in changes.items():
        if value is _DROP:
            del record[key]
        else:
            record[key] = value
    return json.dumps(record)


_DROP = object()


@pytest.mark.parametrize("text", [
    _edited()[:40],  # truncated
    "this is not JSON",
    "",
    "[1, 2, 3]",
    _edited(cost="SquaredCost"),
    _edited(cost="os.system"),
    _edited(weights=[[[0.1, 0.2], [0.4, 0.5]]]),  # (2, 2) where (2, 3) belongs
    _edited(biases=[[0.1, -0.1]]),  # (1, 2) where (2, 1) belongs
    _edited(weights=[[[0.1, 0.2, 0.3], [0.4, 0.5]]]),  # ragged
    _edited(weights=[[[0.1, float("nan"), 0.3], [0.4, 0.5, 0.6]]]),  # JSON NaN
    _edited(biases=[[[float("inf")], [0.0]]]),
    _edited(sizes=[3, 2, 2]),
    _edited(extra=1),
    _edited(cost=_DROP),
    _edited(biases=_DROP),
    _edited(activation="softplus"),
    _edited(dtype="float16"),
    _edited(dtype="float32", biases=[[[1e39], [0.0]]]),  # finite in float64, inf in float32
], ids=["truncated", "not-json", "empty", "not-an-object", "unknown-cost", "dotted-cost",
        "weights-shape", "biases-shape", "ragged", "nan", "inf", "sizes-mismatch", "extra-key",
        "missing-cost", "missing-biases", "bad-activation", "bad-dtype", "float32-overflow"])
def test_load_rejects_bad_files(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError):
        nnfast.load(path)


def test_load_accepts_the_edit_helpers_baseline(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(_edited())
    assert nnfast.load(path).sizes == (3, 2)


def test_load_rejects_binary_file(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"\x80\x81\xff\x00" * 10)
    with pytest.raises(ValueError, match="not text"):
        nnfast.load(path)


@pytest.mark.parametrize("text, match", [
    # past Python's int() digit limit: int()'s own ValueError, not JSON's
    (_edited(weights=[[[1, 2, 3], [4, 5, 6]]]).replace("6]]]", "6" * 5000 + "]]]"),
     "invalid JSON"),
    # integer rows: NumPy would read true as 1
    (_edited(weights=[[[True, 1, 1], [1, 1, 1]]]), "holds booleans"),
])
def test_load_names_the_file_whatever_the_fault(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{match}"):
        nnfast.load(path)


# --- 8. bad input --------------------------------------------------------------------

SIZES = [6, 5, 3]


def _good():
    X, labels = random_problem(SIZES, 10, seed=121, dtype=np.float32)
    return X, labels


def _x_with(value):
    X, labels = _good()
    X = X.copy()
    X[2, 3] = value
    return X, labels


BAD_DATA = {
    "1-D X": lambda: (np.zeros(6, np.float32), np.array([0])),
    "3-D X": lambda: (np.zeros((10, 6, 1), np.float32), _good()[1]),
    "wrong feature count": lambda: (np.zeros((10, 5), np.float32), _good()[1]),
    "wrong feature count, 2 rows": lambda: (np.zeros((2, 7), np.float32), np.array([0, 1])),
    "label too large": lambda: (_good()[0], np.full(10, 3)),
    "negative label": lambda: (_good()[0], np.full(10, -1)),
    "fractional float label": lambda: (_good()[0], np.full(10, 0.5)),
    "NaN label": lambda: (_good()[0], np.full(10, np.nan)),
    "too few labels": lambda: (_good()[0], np.zeros(9, np.int64)),
    "one-hot with two ones": lambda: (_good()[0], np.ones((10, 3))),
    "one-hot with a 2": lambda: (_good()[0], 2 * np.eye(3)[np.zeros(10, int)]),
    "one-hot all zero": lambda: (_good()[0], np.zeros((10, 3))),
    "one-hot wrong width": lambda: (_good()[0], np.eye(4)[np.zeros(10, int)]),
    "empty X": lambda: (np.zeros((0, 6), np.float32), np.zeros(0, np.int64)),
    "empty list": lambda: [],
    "string X": lambda: (np.full((10, 6), "a"), _good()[1]),
    "object X": lambda: (np.full((10, 6), None, dtype=object), _good()[1]),
    "bool X": lambda: (np.ones((10, 6), dtype=bool), _good()[1]),
    "string labels": lambda: (_good()[0], np.array(["a"] * 10)),
    "bool labels": lambda: (_good()[0], np.ones(10, dtype=bool)),
    "NaN in X": lambda: _x_with(np.nan),
    "Inf in X": lambda: _x_with(np.inf),
    "-Inf in X": lambda: _x_with(-np.inf),
    "a string": lambda: "training data",
    "a number": lambda: 42,
    "book pairs of wrong size": lambda: [(np.zeros((5, 1)), 0)] * 4,
    "book pairs with a bad label": lambda: [(np.zeros((6, 1)), 7)] * 4,
    "book triples": lambda: [(np.zeros((6, 1)), 0, 1)] * 4,
}


@pytest.mark.parametrize("name", list(BAD_DATA))
def test_bad_training_data_is_rejected_by_name(name):
    net = Network(SIZES, seed=122)
    before = snapshot(net)
    with pytest.raises((TypeError, ValueError), match="training_data"):
        net.SGD(BAD_DATA[name](), 1, 4, 0.5)
    assert_unchanged(net, before)


@pytest.mark.parametrize("name", ["3-D X", "wrong feature count", "NaN in X", "string X",
                                  "label too large", "one-hot with two ones", "empty X"])
def test_bad_evaluation_data_is_rejected_before_training(name):
    net = Network(SIZES, seed=123)
    before = snapshot(net)
    with pytest.raises((TypeError, ValueError), match="evaluation_data"):
        net.SGD(_good(), 1, 4, 0.5, evaluation_data=BAD_DATA[name](),
                monitor_evaluation_accuracy=True)
    assert_unchanged(net, before)


BAD_ARGS = [
    ("epochs", 0), ("epochs", -1), ("epochs", 1.5), ("epochs", "3"), ("epochs", True),
    ("mini_batch_size", 0), ("mini_batch_size", -1), ("mini_batch_size", 1.5),
    ("mini_batch_size", None),
    ("eta", 0), ("eta", 0.0), ("eta", -1), ("eta", float("nan")), ("eta", float("inf")),
    ("eta", "0.5"), ("eta", None),
    ("lmbda", -1), ("lmbda", -1e-9), ("lmbda", float("nan")), ("lmbda", float("inf")),
    ("momentum", 1.0), ("momentum", 1.5), ("momentum", -0.1), ("momentum", float("nan")),
    ("regularization", "l3"), ("regularization", "L2"), ("regularization", None),
    ("n_threads", 0), ("n_threads", -2), ("n_threads", 1.0),
    ("early_stopping_n", -1), ("early_stopping_n", 0.5),
    ("eta_schedule", 0.5), ("progress", "print"),
]


@pytest.mark.parametrize("arg,value", BAD_ARGS, ids=[f"{a}={v!r}" for a, v in BAD_ARGS])
def test_bad_hyper_parameters_are_rejected_by_name(arg, value):
    net = Network(SIZES, seed=124)
    before = snapshot(net)
    kwargs = {"training_data": _good(), "epochs": 1, "mini_batch_size": 4, "eta": 0.5}
    kwargs[arg] = value
    with pytest.raises((TypeError, ValueError), match=arg):
        net.SGD(**kwargs)
    assert_unchanged(net, before)


@pytest.mark.parametrize("eta", [0.0, -1.0, float("nan"), "fast"])
def test_bad_scheduled_eta_is_rejected(eta):
    net = Network(SIZES, seed=125)
    before = snapshot(net)
    with pytest.raises((TypeError, ValueError), match="eta_schedule"):
        net.SGD(_good(), 2, 4, 0.5, eta_schedule=lambda epoch: eta)
    assert_unchanged(net, before)


def test_bad_input_to_evaluation_methods_is_rejected_by_name():
    net = Network(SIZES, seed=126)
    with pytest.raises(ValueError, match="^x "):
        net.feedforward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="^x "):
        net.feedforward(np.full((4, 6), np.nan))
    with pytest.raises(TypeError, match="^x "):
        net.feedforward(np.full((4, 6), "a"))
    with pytest.raises(ValueError, match="^X "):
        net.predict(np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="^x must be an array: its rows differ in length"):
        net.feedforward([[1, 2, 3, 4, 5, 6], [1, 2]])
    assert net.predict([[0.0] * 6, [1.0] * 6]).shape == (2,)  # lists of rows, as before
    with pytest.raises(ValueError, match="^X "):  # a column is feedforward's, not predict's
        net.predict(np.zeros((6, 1)))
    for method in (net.accuracy, net.evaluate, net.total_cost):
        with pytest.raises((TypeError, ValueError), match="^data "):
            method((np.zeros((4, 6)), np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match="lmbda"):
        net.total_cost(_good(), -1.0)


def test_total_cost_rejects_unknown_regularization(forward_works):
    # SGD refuses regularization="l3"; total_cost must not silently compute L2 for it.
    net = Network(SIZES, seed=127)
    with pytest.raises(ValueError, match="regularization"):
        net.total_cost(_good(), 1.0, regularization="l3")


@pytest.mark.parametrize("kwargs,error", [
    ({"sizes": [5]}, ValueError), ({"sizes": [5, 0, 3]}, ValueError),
    ({"sizes": [5, 2.5]}, TypeError), ({"sizes": "53"}, TypeError),
    ({"sizes": [5, 3], "dtype": np.int32}, ValueError),
    ({"sizes": [5, 3], "dtype": np.float16}, ValueError),
    ({"sizes": [5, 3], "activation": "softplus"}, ValueError),
    ({"sizes": [5, 3], "cost": "SquaredCost"}, ValueError),
    ({"sizes": [5, 3], "cost": CrossEntropyCost, "activation": "relu"}, ValueError),
])
def test_bad_constructor_arguments(kwargs, error):
    kwargs = dict(kwargs)
    with pytest.raises(error):
        Network(kwargs.pop("sizes"), **kwargs)


def test_mini_batch_larger_than_the_data_is_one_short_batch():
    sizes = [5, 4, 3]
    net = Network(sizes, cost=QuadraticCost, dtype=np.float64, seed=128)
    X, labels = random_problem(sizes, 6, seed=129)
    weights, biases = params(net)
    # One mini-batch of all 6 rows, stepped with eta/6; the order does not matter.
    want_w, want_b, _ = oracle.update_mini_batch(
        weights, biases, X, oracle.vectorized_result(labels, 3), 1.5, 0.0, 6,
        QuadraticCost, net.activations)
    net.SGD((X, labels), 1, 100, 1.5)
    assert_params_match(net, want_w, want_b, STEP_REL)


def test_huge_mini_batch_size_on_small_data():
    # The workspace must be sized for the rows actually trained (here 6), not for a
    # mini_batch_size the data can never fill.
    sizes = [5, 4, 3]
    X, labels = random_problem(sizes, 6, seed=132)
    a = Network(sizes, dtype=np.float64, seed=133)
    b = Network(sizes, dtype=np.float64, seed=133)
    a.SGD((X, labels), 1, 10**12, 1.5)
    b.SGD((X, labels), 1, 6, 1.5)
    for x, y in zip(snapshot(a), snapshot(b)):
        assert np.array_equal(x, y)


def test_integer_and_float32_inputs_are_converted():
    sizes = [5, 4, 3]
    X = np.random.default_rng(130).integers(0, 3, (12, 5))
    labels = np.arange(12) % 3
    a = Network(sizes, dtype=np.float64, seed=131)
    b = Network(sizes, dtype=np.float64, seed=131)
    a.SGD((X, labels), 1, 4, 0.5)
    b.SGD((X.astype(np.float64), labels.astype(np.float32)), 1, 4, 0.5)
    c = Network(sizes, dtype=np.float64, seed=131)
    # Fortran order, a strided view and small unsigned labels: the same data.
    wide = np.zeros((12, 10))
    wide[:, ::2] = X
    c.SGD((np.asfortranarray(wide[:, ::2]), labels.astype(np.uint8)), 1, 4, 0.5)
    for x, y, z in zip(snapshot(a), snapshot(b), snapshot(c)):
        assert np.array_equal(x, y) and np.array_equal(x, z)


# --- 9. divergence -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divergence_raises_naming_the_epoch(dtype):
    sizes = [5, 4, 3]
    net = Network(sizes, cost=QuadraticCost, dtype=dtype, seed=141, activation="linear")
    X, labels = random_problem(sizes, 200, seed=142, dtype=dtype)
    # With linear units each step multiplies the weights by ~eta·|x|²: 1e6 overflows
    # float64 within a few dozen of the 200 steps of the first epoch.
    with pytest.raises(FloatingPointError, match="epoch 0"):
        net.SGD((X, labels), 3, 1, 1e6)


def test_divergence_in_a_later_epoch_names_it():
    sizes = [5, 4, 3]
    net = Network(sizes, cost=QuadraticCost, dtype=np.float64, seed=143, activation="linear")
    X, labels = random_problem(sizes, 20, seed=144)
    schedule = [1e-3, 1e-3, 1e8, 1e8, 1e8]
    with pytest.raises(FloatingPointError, match="epoch [2-4]"):
        net.SGD((X, labels), 5, 1, 1.0, eta_schedule=lambda e: schedule[e])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_check_for_divergence_runs_on_the_runs_threads(monkeypatch, n_threads):
    # A run asked for one thread leaves the other cores alone, its check of the
    # weights after each chunk included (on default threads it woke a second one).
    from nnfast import training
    sizes = [5, 4, 3]
    net = Network(sizes, seed=145)
    data = net.samples(random_problem(sizes, 20, seed=146, dtype=np.float32))
    checks, all_finite = [], training._kernels.all_finite

    def counted(x, n_threads=None):
        checks.append(n_threads)
        return all_finite(x, n_threads=n_threads)

    monkeypatch.setattr(training._kernels, "all_finite", counted)
    net.SGD(data, 2, 5, 0.5, n_threads=n_threads)
    assert checks and set(checks) == {n_threads}


@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_monitors_evaluate_on_the_runs_threads(monkeypatch, n_threads):
    sizes = [5, 4, 3]
    net = Network(sizes, seed=147)
    data = net.samples(random_problem(sizes, 20, seed=148, dtype=np.float32))
    evaluations, forward = [], Network._forward

    def counted(self, X, n_threads=None):
        evaluations.append(n_threads)
        return forward(self, X, n_threads)

    monkeypatch.setattr(Network, "_forward", counted)
    net.SGD(data, 2, 5, 0.5, evaluation_data=data, monitor_evaluation_cost=True,
            monitor_evaluation_accuracy=True, monitor_training_cost=True,
            monitor_training_accuracy=True, n_threads=n_threads)
    assert len(evaluations) == 2 * 4 and set(evaluations) == {n_threads}
    # And on the threads asked for, outside training; a bad count is refused by name.
    evaluations.clear()
    net.accuracy(data, n_threads=n_threads)
    net.total_cost(data, 0.1, n_threads=n_threads)
    assert evaluations == [n_threads, n_threads]
    for bad, error in (("2", TypeError), (0, ValueError)):
        with pytest.raises(error, match="n_threads"):
            net.accuracy(data, n_threads=bad)
        with pytest.raises(error, match="n_threads"):
            net.total_cost(data, n_threads=bad)


# --- 10. real MNIST ------------------------------------------------------------------

def test_mnist_chapter1_network_reaches_book_accuracy(mnist_dir):
    """The book's chapter 1 net, [784, 30, 10], quadratic cost, 30 epochs of
    mini-batches of 10 at eta 3.0, trained on the first 8,000 real MNIST test images
    and scored on the other 2,000 (the only MNIST files the data folder holds)."""
    X, y = datasets.load_mnist_test(mnist_dir)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    train, test = (X[:8000], y[:8000]), (X[8000:], y[8000:])
    scores = []
    start = time.perf_counter()
    for seed in (0, 1, 2):
        net = Network([784, 30, 10], cost=QuadraticCost, dtype=np.float32, seed=seed)
        net.SGD(train, 30, 10, 3.0)
        # Scored with the oracle in float64 (independent of Engine.forward).
        weights, biases = params(net)
        scores.append(oracle.accuracy(weights, biases, test[0].astype(np.float64), test[1],
                                      net.activations))
    elapsed = time.perf_counter() - start
    print(f"MNIST [784, 30, 10] x 3 seeds: {scores} / 2000 in {elapsed:.1f} s")
    assert sorted(scores)[1] >= 1830, scores


def test_gradient_norms_are_the_bias_gradient_norms_of_each_mini_batch():
    """Chapter 5's speed of learning: per layer, the epoch's mean over mini-batches of
    |dC/db| for the mini-batch's mean cost, against the oracle's BP1-BP4."""
    sizes = [6, 5, 4, 3]
    net = Network(sizes, cost=QuadraticCost, dtype=np.float64, seed=21)
    X, labels = random_problem(sizes, 8, seed=22)
    weights, biases = params(net)
    history = net.SGD((X, labels), 1, 8, 0.5, monitor_gradient_norms=True, progress=False)
    # One mini-batch holding the whole data: the order of the rows does not change sums
    # beyond rounding, so compare with the oracle's gradient at the starting weights.
    nabla_b, _ = oracle.backprop(weights, biases, X, oracle.vectorized_result(labels, 3),
                                 QuadraticCost, list(net.activations))
    want = [np.linalg.norm(nb) / 8 for nb in nabla_b]
    np.testing.assert_allclose(history.gradient_norms[0], want, rtol=1e-12)
    assert len(history.gradient_norms) == 1
