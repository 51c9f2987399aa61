"""The Hessian technique of chapter 3: Network.gradient, hessian_vector_product,
gauss_newton_vector_product and hessian, held to the oracle's backprop (BP1-BP4) and
to central finite differences of it.

Every quantity is of the mean cost as total_cost defines it, (1/n) sum_x C_x +
(lmbda/2n) sum w^2, with dropout layers evaluated as at inference."""
import numpy as np
import pytest

from nnfast import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer, oracle
from nnfast.activations import ReLU, linear, sigmoid, tanh
from nnfast.costs import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

from engine_checks import assert_close_to, params

ACT_FN = {"sigmoid": sigmoid, "tanh": tanh, "relu": ReLU, "linear": linear}
# Every output activation with every cost that takes it.
COST_OUTPUTS = [(QuadraticCost, "sigmoid"), (QuadraticCost, "tanh"), (QuadraticCost, "relu"),
                (QuadraticCost, "linear"), (CrossEntropyCost, "sigmoid"),
                (LogLikelihoodCost, "softmax")]
HIDDEN = ["sigmoid", "tanh", "relu", "linear"]
LMBDA = 0.7


# --- helpers -------------------------------------------------------------------------

def dense_net(hidden, output, cost, dtype=np.float64, sizes=(5, 7, 3), seed=1):
    fn = ACT_FN[hidden]
    layers = [FullyConnectedLayer(n_in, n_out, fn)
              for n_in, n_out in zip(sizes[:-2], sizes[1:-1])]
    layers.append(SoftmaxLayer(sizes[-2], sizes[-1]) if output == "softmax"
                  else FullyConnectedLayer(sizes[-2], sizes[-1], ACT_FN[output]))
    net = Network(layers, cost=cost, dtype=dtype, seed=seed)
    # network3 starts a softmax layer at zero; any point will do for curvature.
    rng = np.random.default_rng(seed + 100)
    for w, b in zip(net.weights, net.biases):
        w[...] = rng.standard_normal(w.shape) / np.sqrt(w.shape[-1])
        b[...] = rng.standard_normal(b.shape) * 0.5
    return net


def conv_net(hidden, output, cost, dtype=np.float64, p_dropout=0.0, seed=2):
    """Two conv-pool layers (odd sizes, a 2x3 pool), a dense layer with dropout, and
    the output layer."""
    fn = ACT_FN[hidden]
    layers = [ConvPoolLayer((3, 2, 3, 2), (2, 9, 9), (1, 2), fn),
              ConvPoolLayer((4, 3, 2, 3), (3, 7, 4), (2, 2), fn),
              FullyConnectedLayer(4 * 3 * 1, 5, fn, p_dropout=p_dropout)]
    layers.append(SoftmaxLayer(5, 3) if output == "softmax"
                  else FullyConnectedLayer(5, 3, ACT_FN[output]))
    net = Network(layers, cost=cost, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for w, b in zip(net.weights, net.biases):
        w[...] = rng.standard_normal(w.shape) / np.sqrt(np.prod(w.shape[1:]))
        b[...] = rng.standard_normal(b.shape) * 0.5
    return net


def data(net, n=13, seed=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, net.sizes[0])), rng.integers(0, net.sizes[-1], n)


def specs(net):
    return [layer.spec() for layer in net.layers]


def flat(pairs):
    """(ws, bs) of per-layer arrays as one vector in parameter order."""
    ws, bs = pairs
    return np.concatenate([np.concatenate([np.ravel(w), np.ravel(b)]) for w, b in zip(ws, bs)])


def oracle_gradient(net, weights, biases, X, labels, lmbda):
    """The oracle's gradient of the mean cost in parameter order (float64)."""
    y = oracle.vectorized_result(labels, net.sizes[-1])
    nabla_b, nabla_w = oracle.backprop(weights, biases, np.asarray(X, np.float64), y, net.cost,
                                       specs(net))
    n = len(X)
    return flat(([nw / n + lmbda / n * w for nw, w in zip(nabla_w, weights)],
                 [nb / n for nb in nabla_b]))


def kinks(net, weights, biases, X):
    """Which side of every kink the point is on: the signs of the ReLU inputs and the
    argmax of every pool window. Finite differences are only exact-to-O(h^2) where
    these do not change over the step."""
    zs, acts = oracle.forward(weights, biases, np.asarray(X, np.float64), specs(net))
    pattern = []
    for spec, w, b, a, z in zip(specs(net), weights, biases, acts, zs):
        if spec["kind"] == "convpool":
            pattern.append(oracle.convpool(spec, w, b, a)[2])
        if spec["activation"] == "relu":
            pattern.append(z > 0)
    return pattern


# Central differences with step h on O(1) gradients: truncation error h^2/6 g''' ~
# 1e-11 and rounding eps|g|/h ~ 1e-11, both far below the 1e-6 relative error asked;
# a wrong term in the R-operator is O(1) relative.
STEP = 1e-5
FD_REL = 1e-6


def finite_difference_hv(net, X, labels, v, lmbda):
    """(g(theta + h v) - g(theta - h v)) / 2h of the oracle's gradient, after checking
    that no ReLU or pool window switches sides within the step."""
    weights, biases = params(net)
    v_w, v_b = v
    moved = []
    for sign in (1, -1):
        w = [wi + sign * STEP * vi for wi, vi in zip(weights, v_w)]
        b = [bi + sign * STEP * vi.reshape(-1) for bi, vi in zip(biases, v_b)]
        for here, there in zip(kinks(net, weights, biases, X), kinks(net, w, b, X)):
            assert np.array_equal(here, there), "the step crosses a kink: pick another point"
        moved.append(oracle_gradient(net, w, b, X, labels, lmbda))
    return (moved[0] - moved[1]) / (2 * STEP)


def random_direction(net, seed=4):
    rng = np.random.default_rng(seed)
    return ([rng.standard_normal(w.shape) for w in net.weights],
            [rng.standard_normal(b.shape) for b in net.biases])


def assert_relative(got, want, rel, what):
    err = float(np.abs(np.asarray(got, np.float64) - want).max())
    scale = float(np.abs(want).max())
    assert err <= rel * scale, f"{what}: max error {err:.3g} > {rel:g} * {scale:.3g}"


# --- 1. the gradient -----------------------------------------------------------------

# Float64: the engine and the oracle sum the same O(1) products in different orders
# (at most 13 samples x 7 inputs), a few ulps apart: 1e-12 leaves room and catches any
# real error. Float32: the engine's forward and backward passes round at 6e-8 per
# operation through three layers and sums of ~100 terms; 1e-5 of the scale is ~100
# ulps of slack, still 1e4 below a wrong term.
GRAD_TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("cost,output", COST_OUTPUTS)
def test_gradient_is_backprops_mean(cost, output, hidden, dtype):
    net = dense_net(hidden, output, cost, dtype, sizes=(5, 7, 4, 3))
    X, labels = data(net)
    nabla_w, nabla_b = net.gradient((X, labels), lmbda=LMBDA)
    assert [w.shape for w in nabla_w] == [w.shape for w in net.weights]
    assert [b.shape for b in nabla_b] == [b.shape for b in net.biases]
    assert all(g.dtype == dtype for g in nabla_w + nabla_b)
    weights, biases = params(net)
    want = oracle_gradient(net, weights, biases, X.astype(dtype), labels, LMBDA)
    assert_close_to(flat((nabla_w, nabla_b)), want, GRAD_TOL[dtype], "gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost,output", [(LogLikelihoodCost, "softmax"),
                                         (QuadraticCost, "sigmoid")])
def test_gradient_of_conv_net_with_dropout(cost, output, hidden, dtype):
    net = conv_net(hidden, output, cost, dtype, p_dropout=0.4)
    X, labels = data(net)
    weights, biases = params(net)
    want = oracle_gradient(net, weights, biases, X.astype(dtype), labels, LMBDA)
    assert_close_to(flat(net.gradient((X, labels), lmbda=LMBDA)), want, GRAD_TOL[dtype],
                    "gradient")


def test_gradient_is_the_slope_of_total_cost():
    """Along any direction, total_cost changes at the rate gradient . v."""
    net = dense_net("tanh", "softmax", LogLikelihoodCost)
    X, labels = data(net)
    v = random_direction(net)
    slope = flat(net.gradient((X, labels), LMBDA)) @ flat(v)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    costs = []
    for sign in (1, -1):
        for w, b, w0, b0, vw, vb in zip(net.weights, net.biases, weights, biases, *v):
            w[...] = w0 + sign * STEP * vw
            b[...] = b0 + sign * STEP * vb
        costs.append(net.total_cost((X, labels), LMBDA))
    assert abs((costs[0] - costs[1]) / (2 * STEP) - slope) <= FD_REL * abs(slope)


def test_results_do_not_depend_on_the_thread_count():
    net = conv_net("relu", "softmax", LogLikelihoodCost, np.float32)
    X, labels = data(net, n=600)  # more than one block of rows
    v = random_direction(net)
    one = [flat(net.gradient((X, labels), 0.5, n_threads=1)),
           flat(net.hessian_vector_product((X, labels), v, 0.5, n_threads=1))]
    three = [flat(net.gradient((X, labels), 0.5, n_threads=3)),
             flat(net.hessian_vector_product((X, labels), v, 0.5, n_threads=3))]
    for a, b in zip(one, three):
        assert np.array_equal(a, b)


# --- 2. Hessian-vector products --------------------------------------------------------

@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("cost,output", COST_OUTPUTS)
def test_hessian_vector_product_of_dense_net(cost, output, hidden):
    net = dense_net(hidden, output, cost, sizes=(5, 7, 4, 3))
    X, labels = data(net)
    v = random_direction(net)
    Hv = net.hessian_vector_product((X, labels), v, lmbda=LMBDA)
    assert [h.shape for h in Hv[0]] == [w.shape for w in net.weights]
    assert [h.shape for h in Hv[1]] == [b.shape for b in net.biases]
    assert_relative(flat(Hv), finite_difference_hv(net, X, labels, v, LMBDA), FD_REL, "Hv")


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("cost,output", [(LogLikelihoodCost, "softmax"),
                                         (CrossEntropyCost, "sigmoid"),
                                         (QuadraticCost, "tanh")])
def test_hessian_vector_product_of_conv_net(cost, output, hidden):
    net = conv_net(hidden, output, cost, p_dropout=0.3)
    X, labels = data(net)
    v = random_direction(net)
    Hv = net.hessian_vector_product((X, labels), v, lmbda=LMBDA)
    assert_relative(flat(Hv), finite_difference_hv(net, X, labels, v, LMBDA), FD_REL, "Hv")


def test_hessian_vector_product_in_float32():
    """Float32 products against float64's on the same (rounded) parameters: the
    R-passes round like the passes they sit beside, so the error is the gradient's
    order (1e-5 of the scale)."""
    net32 = conv_net("sigmoid", "softmax", LogLikelihoodCost, np.float32)
    net64 = conv_net("sigmoid", "softmax", LogLikelihoodCost, np.float64)
    for a, b in zip(net64.weights + net64.biases, net32.weights + net32.biases):
        a[...] = b
    X, labels = data(net32)
    X = X.astype(np.float32)
    v = [[vi.astype(np.float32) for vi in part] for part in random_direction(net32)]
    assert_close_to(flat(net32.hessian_vector_product((X, labels), v, LMBDA)),
                    flat(net64.hessian_vector_product((X, labels), v, LMBDA)), 1e-5, "Hv")


def test_dense_biases_may_be_given_flat():
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    X, labels = data(net)
    v_w, v_b = random_direction(net)
    columns = net.hessian_vector_product((X, labels), (v_w, v_b))
    flat_biases = net.hessian_vector_product((X, labels), (v_w, [b.ravel() for b in v_b]))
    assert np.array_equal(flat(columns), flat(flat_biases))


@pytest.mark.parametrize("v,match", [
    (None, "v must be a pair"),
    (([np.zeros((7, 5))], [np.zeros((7, 1))]), "v: v_w must be a list of 2"),
    (([np.zeros((7, 5)), np.zeros((3, 6))], [np.zeros((7, 1)), np.zeros((3, 1))]),
     r"v: v_w\[1\] must have shape \(3, 7\)"),
    (([np.zeros((7, 5)), np.zeros((3, 7))], [np.zeros((7, 1)), np.zeros((2, 1))]),
     r"v: v_b\[1\] must have shape \(3, 1\)"),
    (([np.zeros((7, 5)), np.full((3, 7), np.nan)], [np.zeros((7, 1)), np.zeros((3, 1))]),
     r"v: v_w\[1\] holds NaN"),
])
def test_bad_v_is_refused_by_name(v, match):
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    X, labels = data(net)
    error = TypeError if v is None else ValueError
    with pytest.raises(error, match=match):
        net.hessian_vector_product((X, labels), v)
    with pytest.raises(error, match=match):
        net.gauss_newton_vector_product((X, labels), v)


@pytest.mark.parametrize("bad", [np.zeros((7, 5), bool), np.zeros((7, 5), complex),
                                 np.full((7, 5), "0")], ids=["bool", "complex", "str"])
def test_v_of_no_real_numbers_is_refused_by_name(bad):
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    X, labels = data(net)
    v = ([bad, np.zeros((3, 7))], [np.zeros((7, 1)), np.zeros((3, 1))])
    with pytest.raises(TypeError, match=rf"v: v_w\[0\] must hold real numbers, got dtype "
                                        rf"{bad.dtype}"):
        net.hessian_vector_product((X, labels), v)


# --- 3. the Gauss-Newton matrix and the full Hessian ----------------------------------

@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("cost,output", [(CrossEntropyCost, "sigmoid"),
                                         (LogLikelihoodCost, "softmax"),
                                         (QuadraticCost, "sigmoid"), (QuadraticCost, "tanh")])
def test_gauss_newton_is_positive_semidefinite(cost, output, hidden):
    net = dense_net(hidden, output, cost, sizes=(5, 7, 4, 3))
    X, labels = data(net)
    for seed in range(10):
        v = random_direction(net, seed)
        # v.Gv is a sum of squares (weighted by H_L's eigenvalues >= 0) to rounding.
        assert flat(v) @ flat(net.gauss_newton_vector_product((X, labels), v)) >= -1e-12


@pytest.mark.parametrize("cost,output", [(QuadraticCost, "linear"), (CrossEntropyCost, "sigmoid"),
                                         (LogLikelihoodCost, "softmax")])
def test_gauss_newton_is_the_hessian_of_a_single_layer(cost, output):
    """With one layer z = w a + b is linear in the parameters, so J's own curvature
    vanishes and G = H exactly (the quadratic cost: with linear outputs)."""
    layer = SoftmaxLayer(6, 4) if output == "softmax" else FullyConnectedLayer(6, 4, ACT_FN[output])
    net = Network([layer], cost=cost, dtype=np.float64)
    rng = np.random.default_rng(9)
    net.weights[0][...] = rng.standard_normal((4, 6))
    X, labels = data(net)
    v = random_direction(net)
    assert_close_to(flat(net.gauss_newton_vector_product((X, labels), v, LMBDA)),
                    flat(net.hessian_vector_product((X, labels), v, LMBDA)), 1e-12, "G v")


def test_gauss_newton_differs_from_the_hessian_of_a_deep_net():
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    X, labels = data(net)
    v = random_direction(net)
    G, H = (flat(f((X, labels), v)) for f in (net.gauss_newton_vector_product,
                                              net.hessian_vector_product))
    assert np.abs(G - H).max() > 1e-3 * np.abs(H).max()


def test_hessian_of_a_small_net():
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost, sizes=(4, 3, 2))
    X, labels = data(net)
    H = net.hessian((X, labels), lmbda=LMBDA)
    P = 4 * 3 + 3 + 3 * 2 + 2
    assert H.shape == (P, P) and H.dtype == np.float64
    assert np.abs(H - H.T).max() <= 1e-12
    weights, biases = params(net)
    for j in range(P):
        unit = np.zeros(P)
        unit[j] = 1
        v_w, v_b, offset = [], [], 0
        for w, b in zip(net.weights, net.biases):
            v_w.append(unit[offset:offset + w.size].reshape(w.shape))
            offset += w.size
            v_b.append(unit[offset:offset + b.size].reshape(b.shape))
            offset += b.size
        column = finite_difference_hv(net, X, labels, (v_w, v_b), LMBDA)
        assert_relative(H[:, j], column, FD_REL, f"column {j}")
    # The L2 term adds lmbda/n on the weights' diagonal and nothing on the biases'.
    H0 = net.hessian((X, labels))
    diag = np.diag(H - H0)
    assert np.allclose(diag[:12], LMBDA / len(X)) and np.allclose(diag[12:15], 0)


def test_hessian_refuses_a_large_network_with_the_memory_it_would_need():
    net = Network([200, 100, 10], dtype=np.float64)
    with pytest.raises(ValueError, match=r"21,110 parameters.*3\.3 GiB"):
        net.hessian(data(net, n=2))


@pytest.mark.parametrize("lmbda,error", [(-1.0, ValueError), (float("nan"), ValueError),
                                         ("1", TypeError)])
def test_bad_lmbda_is_refused(lmbda, error):
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    with pytest.raises(error, match="lmbda"):
        net.gradient(data(net), lmbda=lmbda)


def test_empty_data_is_refused():
    net = dense_net("sigmoid", "sigmoid", CrossEntropyCost)
    with pytest.raises(ValueError, match="training_data"):
        net.gradient((np.zeros((0, 5)), np.zeros(0, np.int64)))
