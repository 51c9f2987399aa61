"""Self-checks of the NumPy oracle: it is the reference for everything else, so its
gradients are checked by finite differences and against the book's per-sample loop."""
import warnings

import numpy as np
import pytest

from nnfast import maths, oracle
from nnfast.maths import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost,
         "log_likelihood": LogLikelihoodCost}
OUTPUT = {"quadratic": "sigmoid", "cross_entropy": "sigmoid", "log_likelihood": "softmax"}
HIDDEN = ["sigmoid", "tanh", "relu", "linear"]


def make_problem(sizes, batch, hidden, output, seed):
    """A random network and batch; for ReLU, redrawn until no z is near the kink."""
    rng = np.random.default_rng(seed)
    activations = [hidden] * (len(sizes) - 2) + [output]
    while True:
        weights, biases = oracle.default_weight_initializer(sizes, rng)
        x = rng.standard_normal((batch, sizes[0]))
        y = oracle.vectorized_result(rng.integers(0, sizes[-1], batch), sizes[-1])
        zs, _ = oracle.forward(weights, biases, x, activations)
        # A finite difference across the kink would see the average of both slopes.
        if hidden != "relu" or min(np.abs(z).min() for z in zs[:-1]) > 1e-3:
            return weights, biases, x, y, activations


def cost_of(weights, biases, x, y, cost, activations):
    return cost.fn(oracle.feedforward(weights, biases, x, activations), y)


# --- Gradients ---------------------------------------------------------------------


@pytest.mark.parametrize("cost_name", list(COSTS))
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("sizes", [[5, 4, 3], [7, 6, 5, 4]])
@pytest.mark.parametrize("batch", [1, 3])
def test_backprop_matches_finite_differences(cost_name, hidden, sizes, batch):
    cost = COSTS[cost_name]
    weights, biases, x, y, activations = make_problem(sizes, batch, hidden,
                                                      OUTPUT[cost_name], seed=len(sizes) + batch)
    nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, cost, activations)

    # Central differences: truncation error O(h²) ≈ 1e-12 and rounding error
    # O(ε·|C|/h) ≈ 1e-10·|C|, both far below the 1e-6 relative tolerance; the absolute
    # floor covers gradient entries that are themselves about as small as that rounding.
    h = 1e-6
    c0 = cost_of(weights, biases, x, y, cost, activations)
    atol = 1e-8 * max(1.0, abs(c0))
    for params, grads in ((weights, nabla_w), (biases, nabla_b)):
        for p, g in zip(params, grads):
            numeric = np.empty_like(p)
            for i in np.ndindex(p.shape):
                saved = p[i]
                p[i] = saved + h
                c_plus = cost_of(weights, biases, x, y, cost, activations)
                p[i] = saved - h
                c_minus = cost_of(weights, biases, x, y, cost, activations)
                p[i] = saved
                numeric[i] = (c_plus - c_minus) / (2 * h)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=atol)


def per_sample_backprop(weights, biases, x, y, cost_name, activations):
    """network.py's backprop, one column vector at a time, written independently."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
         "relu": lambda z: np.where(z > 0, z, 0.0), "linear": lambda z: z,
         "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()}
    f_prime = {"sigmoid": lambda z: f["sigmoid"](z) * (1 - f["sigmoid"](z)),
               "tanh": lambda z: 1 - np.tanh(z) ** 2,
               "relu": lambda z: np.where(z > 0, 1.0, 0.0), "linear": np.ones_like}
    nabla_b = [np.zeros((b.size, 1)) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for xs, ys in zip(x, y):
        activation = xs.reshape(-1, 1)
        a_list, zs = [activation], []
        for w, b, name in zip(weights, biases, activations):
            z = np.dot(w, activation) + b.reshape(-1, 1)
            zs.append(z)
            activation = f[name](z)
            a_list.append(activation)
        delta = activation - ys.reshape(-1, 1)
        if cost_name == "quadratic":
            delta = delta * f_prime[activations[-1]](zs[-1])
        nabla_b[-1] += delta
        nabla_w[-1] += np.dot(delta, a_list[-2].T)
        for l in range(2, len(weights) + 1):
            delta = np.dot(weights[-l + 1].T, delta) * f_prime[activations[-l]](zs[-l])
            nabla_b[-l] += delta
            nabla_w[-l] += np.dot(delta, a_list[-l - 1].T)
    return [nb.ravel() for nb in nabla_b], nabla_w


@pytest.mark.parametrize("cost_name", list(COSTS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_batch_backprop_is_sum_of_per_sample(cost_name, hidden):
    weights, biases, x, y, activations = make_problem([7, 6, 5, 4], 9, hidden,
                                                      OUTPUT[cost_name], seed=3)
    nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, COSTS[cost_name], activations)
    ref_b, ref_w = per_sample_backprop(weights, biases, x, y, cost_name, activations)
    for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_backprop_keeps_float32():
    weights, biases, x, y, activations = make_problem([5, 4, 3], 3, "tanh", "sigmoid", seed=0)
    weights, biases = [[p.astype(np.float32) for p in ps] for ps in (weights, biases)]
    nabla_b, nabla_w = oracle.backprop(weights, biases, x.astype(np.float32),
                                       y.astype(np.float32), CrossEntropyCost, activations)
    assert all(g.dtype == np.float32 for g in nabla_b + nabla_w)


# Two convpool layers (pool 2x2, then 1x1), a dense layer and a softmax output, at odd
# sizes; the dense and softmax layers drop inputs (p_dropout), with masks while
# training and scaled by 1 - p at inference.
def conv_stack(hidden):
    return [
        {"kind": "convpool", "activation": hidden, "n_in": 84, "n_out": 18, "c": 2, "h": 7,
         "w": 6, "f": 3, "kh": 2, "kw": 3, "ph": 2, "pw": 2},
        {"kind": "convpool", "activation": hidden, "n_in": 18, "n_out": 8, "c": 3, "h": 3,
         "w": 2, "f": 2, "kh": 2, "kw": 1, "ph": 1, "pw": 1},
        {"kind": "dense", "activation": hidden, "n_in": 8, "n_out": 5, "p_dropout": 0.4},
        {"kind": "dense", "activation": "softmax", "n_in": 5, "n_out": 3, "p_dropout": 0.3}]


def conv_problem(hidden, batch, seed):
    """Random parameters and inputs for conv_stack, redrawn until no ReLU input and no
    pool window's runner-up is within 1e-3 of the kink or the maximum, so that +-h never
    crosses one."""
    layers = conv_stack(hidden)
    rng = np.random.default_rng(seed)
    while True:
        weights = [rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((2, 3, 2, 1)),
                   rng.standard_normal((5, 8)), rng.standard_normal((3, 5))]
        biases = [rng.standard_normal(n) for n in (3, 2, 5, 3)]
        x = rng.uniform(-1, 1, (batch, 84))
        y = oracle.vectorized_result(rng.integers(0, 3, batch), 3)
        zs, acts = oracle.forward(weights, biases, x, layers)
        _, conv, _ = oracle.convpool(layers[0], weights[0], biases[0], x)
        windows = np.sort(oracle.pool_windows(conv, (2, 2)), axis=-1)
        margin = float((windows[..., -1] - windows[..., -2]).min())
        if hidden == "relu":
            margin = min([margin] + [float(np.abs(z).min()) for z in zs[:-1]])
        if margin > 1e-3:
            return weights, biases, x, y, layers


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dropout", ["training", "inference"])
def test_conv_stack_backprop_matches_finite_differences(hidden, dropout):
    weights, biases, x, y, layers = conv_problem(hidden, 3, seed=7)
    masks = oracle.dropout_masks(layers, 5, 0, 3) if dropout == "training" else None
    nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, LogLikelihoodCost, layers, masks)

    def cost():
        _, acts = oracle.forward(weights, biases, x, layers, masks)
        return LogLikelihoodCost.fn(acts[-1], y)

    # As in test_backprop_matches_finite_differences.
    h = 1e-6
    atol = 1e-8 * max(1.0, abs(cost()))
    for params, grads in ((weights, nabla_w), (biases, nabla_b)):
        for p, g in zip(params, grads):
            assert g.shape == p.shape
            assert np.abs(g).max() > 1e-3, "test setup: a vanishing gradient"
            numeric = np.empty_like(p)
            for i in np.ndindex(p.shape):
                saved = p[i]
                p[i] = saved + h
                c_plus = cost()
                p[i] = saved - h
                c_minus = cost()
                p[i] = saved
                numeric[i] = (c_plus - c_minus) / (2 * h)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=atol)


def test_dropout_masks_drop_inputs_and_change_with_layer_and_batch():
    layers = conv_stack("sigmoid")
    masks = oracle.dropout_masks(layers, 9, 0, 400)
    assert masks[0] is None and masks[1] is None
    assert [m.shape for m in masks[2:]] == [(400, 8), (400, 5)]
    for mask, p in ((masks[2], 0.4), (masks[3], 0.3)):
        # 400 x (8 or 5) Bernoulli(p) draws: 5 standard deviations either side.
        n = mask.size
        assert abs((n - mask.sum()) - p * n) < 5 * np.sqrt(n * p * (1 - p))
    assert not np.array_equal(masks[2][:, :5], masks[3])
    assert not np.array_equal(oracle.dropout_masks(layers, 9, 1, 400)[2], masks[2])
    assert not np.array_equal(oracle.dropout_masks(layers, 10, 0, 400)[2], masks[2])
    # A mini-batch's masks are the first rows' draws of a larger one: each row's inputs
    # are counted in order, so they do not depend on how many rows follow.
    np.testing.assert_array_equal(oracle.dropout_masks(layers, 9, 0, 7)[3], masks[3][:7])
    assert oracle.dropout_masks(["sigmoid", "softmax"], 9, 0, 4) == [None, None]


def test_layer_seeds_are_splitmix64():
    """SplitMix64 from state 0 gives these first outputs (Vigna's reference splitmix64.c);
    layer l of mini-batch 0 takes output l + 1, mini-batch b output b*MAX_LAYERS + 1."""
    assert [oracle.layer_seed(0, 0, l) for l in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert oracle.layer_seed(0, 1, 0) == oracle.layer_seed(0, 0, oracle.MAX_LAYERS)
    # The state wraps mod 2^64: (2^64 - G) + 2G = G, G the golden-ratio step.
    golden = 0x9E3779B97F4A7C15
    assert oracle.layer_seed(2**64 - golden, 0, 1) == oracle.layer_seed(0, 0, 0)


# --- Updates and epochs ------------------------------------------------------------


def copies(arrays):
    return [a.copy() for a in arrays]


@pytest.mark.parametrize("regularization", ["l2", "l1"])
@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_update_mini_batch_matches_formulas(regularization, momentum):
    weights, biases, x, y, activations = make_problem([5, 4, 3], 4, "sigmoid", "sigmoid", seed=1)
    eta, lmbda, n, m = 0.5, 2.0, 50, len(x)
    rng = np.random.default_rng(11)
    velocities = [(rng.standard_normal(w.shape), rng.standard_normal(b.shape))
                  for w, b in zip(weights, biases)]
    saved = (copies(weights), copies(biases), [copies(v) for v in velocities])

    new_w, new_b, new_v = oracle.update_mini_batch(
        weights, biases, x, y, eta, lmbda, n, QuadraticCost, activations,
        regularization=regularization, momentum=momentum, velocities=velocities)

    nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, QuadraticCost, activations)
    for l in range(len(weights)):
        w, b, (vw, vb) = weights[l], biases[l], velocities[l]
        if regularization == "l2":
            decayed = (1 - eta * lmbda / n) * w
        else:
            decayed = w - (eta * lmbda / n) * np.sign(w)
        want_vw = momentum * vw - (eta / m) * nabla_w[l]
        want_vb = momentum * vb - (eta / m) * nabla_b[l]
        np.testing.assert_allclose(new_w[l], decayed + want_vw, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(new_b[l], b + want_vb, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(new_v[l][0], want_vw, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(new_v[l][1], want_vb, rtol=1e-14, atol=1e-15)

    for before, after in zip(saved[0] + saved[1], weights + biases):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(saved[2], velocities):
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])


def test_update_without_momentum_is_the_books_step():
    weights, biases, x, y, activations = make_problem([5, 4, 3], 4, "sigmoid", "sigmoid", seed=2)
    eta, lmbda, n, m = 0.5, 2.0, 50, len(x)
    new_w, new_b, _ = oracle.update_mini_batch(weights, biases, x, y, eta, lmbda, n,
                                               CrossEntropyCost, activations)
    nabla_b, nabla_w = oracle.backprop(weights, biases, x, y, CrossEntropyCost, activations)
    for w, b, nw, nb, got_w, got_b in zip(weights, biases, nabla_w, nabla_b, new_w, new_b):
        np.testing.assert_allclose(got_w, (1 - eta * lmbda / n) * w - (eta / m) * nw, rtol=1e-14)
        np.testing.assert_allclose(got_b, b - (eta / m) * nb, rtol=1e-14)


def test_update_rejects_unknown_regularization():
    weights, biases, x, y, activations = make_problem([5, 4, 3], 2, "sigmoid", "sigmoid", seed=0)
    with pytest.raises(ValueError):
        oracle.update_mini_batch(weights, biases, x, y, 0.1, 0.0, 10, QuadraticCost,
                                 activations, regularization="l3")


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_epoch_is_a_loop_of_mini_batches(momentum):
    weights, biases, X, Y, activations = make_problem([5, 4, 3], 7, "relu", "softmax", seed=4)
    args = dict(eta=0.3, lmbda=1.0, cost=LogLikelihoodCost, layers=activations,
                regularization="l1", momentum=momentum)
    got_w, got_b, got_v = oracle.sgd_epoch(weights, biases, X, Y, 3,
                                           permutation=np.arange(7), **args)

    w, b, v = weights, biases, None
    for rows in (slice(0, 3), slice(3, 6), slice(6, 7)):  # the last mini-batch is short
        w, b, v = oracle.update_mini_batch(w, b, X[rows], Y[rows], n=7, velocities=v, **args)
    for got, want in zip(got_w + got_b, w + b):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(got_v, v):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_sgd_epoch_visits_rows_in_permutation_order():
    weights, biases, X, Y, activations = make_problem([5, 4, 3], 8, "tanh", "sigmoid", seed=5)
    perm = np.random.default_rng(0).permutation(8)
    args = dict(mini_batch_size=3, eta=0.3, lmbda=0.5, cost=CrossEntropyCost,
                layers=activations)
    got_w, got_b, _ = oracle.sgd_epoch(weights, biases, X, Y, permutation=perm, **args)
    want_w, want_b, _ = oracle.sgd_epoch(weights, biases, X[perm], Y[perm],
                                         permutation=np.arange(8), **args)
    for got, want in zip(got_w + got_b, want_w + want_b):
        np.testing.assert_array_equal(got, want)


# --- Cost and accuracy -------------------------------------------------------------


def tiny_network():
    """Input zeros make every z equal to its bias (zero), whatever the weights."""
    weights = [np.array([[1.0, -2.0], [0.5, 0.0]])]
    biases = [np.zeros(2)]
    X = np.zeros((4, 2))
    Y = oracle.vectorized_result([0, 1, 1, 0], 2)
    return weights, biases, X, Y


def test_total_cost_by_hand():
    weights, biases, X, Y = tiny_network()
    n, lmbda = 4, 2.0
    # Sigmoid outputs 0.5: quadratic ½(0.25 + 0.25) per sample, cross-entropy 2 ln 2.
    assert oracle.total_cost(weights, biases, X, Y, QuadraticCost,
                             ["sigmoid"]) == pytest.approx(0.25)
    assert oracle.total_cost(weights, biases, X, Y, CrossEntropyCost,
                             ["sigmoid"]) == pytest.approx(2 * np.log(2))
    # Softmax of equal inputs is 1/2 for each class: ln 2 per sample.
    assert oracle.total_cost(weights, biases, X, Y, LogLikelihoodCost,
                             ["softmax"]) == pytest.approx(np.log(2))
    # Σw² = 1 + 4 + 0.25, Σ|w| = 1 + 2 + 0.5.
    assert oracle.total_cost(weights, biases, X, Y, QuadraticCost, ["sigmoid"],
                             lmbda=lmbda) == pytest.approx(0.25 + 0.5 * lmbda / n * 5.25)
    assert oracle.total_cost(weights, biases, X, Y, QuadraticCost, ["sigmoid"], lmbda=lmbda,
                             regularization="l1") == pytest.approx(0.25 + lmbda / n * 3.5)


def test_accuracy_by_hand():
    weights, biases = [np.eye(2)], [np.zeros(2)]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    assert oracle.accuracy(weights, biases, X, np.array([0, 1, 1]), ["linear"]) == 2


def test_cross_entropy_of_saturated_outputs_is_finite():
    # The book's nan_to_num: 0·ln 0 counts as 0, and a confident wrong answer as the
    # largest float rather than inf.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CrossEntropyCost.fn(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])) == 0.0
        assert CrossEntropyCost.fn(np.array([[1.0]]), np.array([[0.0]])) == np.finfo(float).max


def test_costs_reject_output_activations_they_do_not_fit():
    z = a = y = np.zeros((1, 2))
    with pytest.raises(ValueError):
        CrossEntropyCost.delta(z, a, y, activation="softmax")
    with pytest.raises(ValueError):
        LogLikelihoodCost.delta(z, a, y, activation="sigmoid")
    with pytest.raises(ValueError):
        QuadraticCost.delta(z, a, y, activation="softmax")


# --- Kernels -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_overflow_free_and_symmetric(dtype):
    z = np.concatenate([np.linspace(-1e4, 1e4, 20001), [-745.0, -89.0, 0.0, 89.0, 745.0]])
    z = z.astype(dtype).reshape(-1, 2)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s, s_neg = oracle.sigmoid(z), oracle.sigmoid(-z)
        oracle.sigmoid_prime(z)
    assert s.dtype == dtype
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s_neg, 1 - s, rtol=0, atol=np.finfo(dtype).eps)
    moderate = np.linspace(-20, 20, 41, dtype=dtype).reshape(1, -1)
    np.testing.assert_allclose(oracle.sigmoid(moderate), 1 / (1 + np.exp(-moderate)),
                               rtol=4 * np.finfo(dtype).eps)
    assert oracle.sigmoid(np.zeros((1, 1), dtype))[0, 0] == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows(dtype):
    rng = np.random.default_rng(6)
    z = rng.standard_normal((5, 7)).astype(dtype)
    a = oracle.softmax(z)
    assert a.dtype == dtype
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=10 * np.finfo(dtype).eps)
    shifted = oracle.softmax(z + np.arange(5, dtype=dtype).reshape(-1, 1) * 10)
    np.testing.assert_allclose(shifted, a, rtol=100 * np.finfo(dtype).eps)
    large = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, 9990.0]], dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        a = oracle.softmax(large)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=10 * np.finfo(dtype).eps)
    np.testing.assert_allclose(a[0], [1, 0, 0])
    np.testing.assert_allclose(a[1], [0.5, 0.5, 0], atol=1e-4)


def test_matmul_transposes_alpha_beta():
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(oracle.matmul(a, b), a @ b)
    np.testing.assert_allclose(oracle.matmul(a.T, b, trans_a=True), a @ b)
    np.testing.assert_allclose(oracle.matmul(a, b.T, trans_b=True, alpha=2.0, beta=-1.0, c=c),
                               2 * a @ b - c)
    # beta == 0 never reads c, as the BLAS contract says.
    nan = np.full((4, 5), np.nan)
    assert np.all(np.isfinite(oracle.matmul(a, b, c=nan, beta=0.0)))


def test_elementwise_kernels():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(oracle.relu(z), [[0, 0, 3]])
    np.testing.assert_array_equal(oracle.relu_prime(z), [[0, 0, 1]])
    a = oracle.sigmoid(z)
    np.testing.assert_allclose(oracle.sigmoid_prime_from_output(a), oracle.sigmoid_prime(z))
    np.testing.assert_allclose(oracle.tanh_prime_from_output(oracle.tanh(z)),
                               1 / np.cosh(z) ** 2)
    np.testing.assert_array_equal(oracle.hadamard(z, z), z * z)
    np.testing.assert_array_equal(oracle.add_bias(np.zeros((2, 3)), np.arange(3.0)),
                                  [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(oracle.column_sums(np.arange(6.0).reshape(2, 3)), [3, 5, 7])
    assert set(maths.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "linear"}
    for f, f_prime, f_prime_from_output in maths.ACTIVATIONS.values():
        for dtype in (np.float32, np.float64):
            zd = z.astype(dtype)
            assert f(zd).dtype == f_prime(zd).dtype == f_prime_from_output(f(zd)).dtype == dtype


# --- Initialisation and data -------------------------------------------------------


@pytest.mark.parametrize("init", [oracle.default_weight_initializer,
                                  oracle.large_weight_initializer])
def test_initializers(init):
    sizes = [6, 4, 3]
    w64, b64 = init(sizes, np.random.default_rng(8))
    w32, b32 = init(sizes, np.random.default_rng(8), dtype=np.float32)
    assert [w.shape for w in w64] == [(4, 6), (3, 4)]
    assert [b.shape for b in b64] == [(4,), (3,)]
    assert all(p.dtype == np.float32 for p in w32 + b32)
    for p32, p64 in zip(w32 + b32, w64 + b64):  # the same network, rounded
        np.testing.assert_array_equal(p32, p64.astype(np.float32))


def test_default_initializer_scales_by_fan_in():
    w, _ = oracle.default_weight_initializer([400, 300], np.random.default_rng(9))
    assert np.std(w[0]) == pytest.approx(1 / np.sqrt(400), rel=0.02)


def test_vectorized_result():
    np.testing.assert_array_equal(oracle.vectorized_result([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
