"""network3 as Theano computed it: nnfast.book.network3 against the oracle's model of
Theano's network3 (a true convolution, the max-pool gradient to every tied maximum),
and the engine's tie rule ties="all" in float64 against the oracle and finite
differences, on windows that tie and windows that do not.

The ties are made as they come in MNIST: images with constant patches (a constant
patch gives every conv output over it the same sum, bit for bit, so a pool window
over it ties) and with zero pixels (whose conv outputs tie at 0)."""
import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, oracle
from nnfast.activations import ReLU, sigmoid
from nnfast.book import network3

from engine_checks import assert_close_to, engine_train, params

U32 = 2.0 ** -24  # float32's unit roundoff


def tied_images(n, shape, seed):
    """n images (n, c*h*w) in [0, 1] as MNIST's digits are: a constant background
    (0.5, exact in both precisions) and zeros, with random pixels in the top rows.
    Pool windows over the constant part tie in every conv layer, at a non-zero
    maximum."""
    c, h, w = shape
    rng = np.random.default_rng(seed)
    x = np.full((n, c, h, w), 0.5)
    x[:, :, :5] = rng.uniform(0.05, 1.0, (n, c, 5, w))
    for k in range(n):
        y0, x0 = rng.integers(5, h - 3), rng.integers(0, w - 3)
        x[k, :, y0:y0 + 3, x0:x0 + 3] = 0.0
    return x.reshape(n, -1)


def untied_images(n, shape, seed):
    return np.random.default_rng(seed).uniform(0.05, 1.0, (n, int(np.prod(shape))))


# ------------------------------------------------------------ the model itself

def test_true_convolution_is_the_cross_correlation_of_the_rotated_kernel():
    """Two independent writings: Theano's conv2d flips the kernel."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 2, 9, 8)), rng.standard_normal((5, 2, 4, 3))
    assert_close_to(oracle.true_conv2d(x, w), oracle.conv2d(x, w[..., ::-1, ::-1]), 1e-13,
                    "true convolution")
    assert np.abs(oracle.true_conv2d(x, w) - oracle.conv2d(x, w)).max() > 0.1
    dout = rng.standard_normal((3, 5, 6, 6))
    dx, dw = oracle.true_conv2d_backward(x, w, dout)
    dx_c, dw_c, _ = oracle.conv2d_backward(x, w[..., ::-1, ::-1], dout)
    assert_close_to(dx, dx_c, 1e-13, "dx")
    assert_close_to(dw, dw_c[..., ::-1, ::-1], 1e-13, "dw")


def test_all_ties_pool_gradient():
    x = np.array([[[[1., 3., 0., 0.],
                    [3., 2., 0., -1.]]]])
    dout = np.array([[[[10., 20.]]]])
    want = np.array([[[[0., 10., 20., 20.],
                       [10., 0., 20., 0.]]]])
    assert np.array_equal(oracle.maxpool2d_backward_all_ties(dout, x, (2, 2)), want)
    # the first-maximum rule gives the first of them only
    _, argmax = oracle.maxpool2d(x, (2, 2))
    first = oracle.maxpool2d_backward(dout, argmax, x.shape)
    assert np.array_equal(first, [[[[0., 10., 20., 0.], [0., 0., 0., 0.]]]])


# ---------------------------------------------------- network3 against the model

MB = 10  # the mini-batch
SHAPE = (1, 14, 12)


def book_network(seed, activation=ReLU, ties=None):
    """A small network3 net at odd sizes: two conv-pool layers (the second's input is
    ReLU's output, with its zeros), a fully connected layer and a softmax."""
    layers = [network3.ConvPoolLayer(image_shape=(MB,) + SHAPE, filter_shape=(3, 1, 3, 3),
                                     poolsize=(2, 2), activation_fn=activation, ties=ties),
              network3.ConvPoolLayer(image_shape=(MB, 3, 6, 5), filter_shape=(4, 3, 3, 2),
                                     poolsize=(2, 2), activation_fn=activation, ties=ties),
              network3.FullyConnectedLayer(n_in=4 * 2 * 2, n_out=7, activation_fn=activation),
              network3.SoftmaxLayer(n_in=7, n_out=5)]
    net = network3.Network(layers, MB, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for p in net.params:  # the softmax starts at zero; make every gradient count
        p[...] += 0.3 * rng.standard_normal(p.shape).astype(np.float32)
    return net


def model_params(net):
    """network3's parameters (Theano's shapes) as float64 copies, for the model."""
    return [(np.array(layer.w, np.float64), np.array(layer.b, np.float64))
            for layer in net.layers]


def specs(net):
    return [layer.spec() for layer in net.layers]


# Float32 against the model in float64, from the same float32 parameters and images.
# Every value the engine computes is a sum of K products, added to a bias, or a
# function of such a value. Summed in any order in float32 it is off by at most
# gamma_K = K*u/(1 - K*u) (u = 2^-24) of the sum of its terms' magnitudes (Higham,
# Accuracy and Stability, 3.1), and its error from the layer below comes through with
# the same weights, in magnitude. So running the model on magnitudes (|w|, |a|, and
# each activation's largest slope: ReLU 1, sigmoid 1/4; the softmax's rows move by at
# most half of its input's largest move, its Jacobian's rows summing to 2p(1-p) <= 1/2)
# carries a bound on every output's error up the network, to which each elementwise
# function adds its own few roundings (4u of its value: exp or a division, one add).
# Max-pooling is exact and moves its output by no more than its inputs moved. The
# bound holds where no pool window's two largest inputs, and no ReLU input, lie closer
# than the bound itself, which the test checks first.
ACTIVATION_ROUNDING = 4 * U32
SLOPE = {"relu": 1.0, "sigmoid": 0.25}


def gamma(k):
    return k * U32 / (1 - k * U32)


def forward_error_bound(params, layers, x):
    """Per layer, bounds on the float32 engine's error in z and in a (flattened) and,
    for a conv layer, in its convolution (else None)."""
    err = np.zeros_like(x)  # the images are exact in float32
    a_abs = np.abs(x)
    bounds = []
    _, acts, _ = oracle.network3_forward(params, layers, x)
    for (w, b), spec, a in zip(params, layers, acts[1:]):
        if spec["kind"] == "convpool":
            k = spec["c"] * spec["kh"] * spec["kw"]
            shape = (len(x), spec["c"], spec["h"], spec["w"])
            w_abs = np.abs(w)
            conv_err = (oracle.true_conv2d(err.reshape(shape), w_abs)
                        + gamma(k) * oracle.true_conv2d(a_abs.reshape(shape), w_abs))
            pool = (spec["ph"], spec["pw"])
            z_err = oracle.pool_windows(conv_err, pool).max(axis=-1) * (1 + U32)
            z_abs = oracle.pool_windows(oracle.true_conv2d(a_abs.reshape(shape), w_abs),
                                        pool).max(axis=-1) + np.abs(b)[:, None, None]
            z_err = (z_err + U32 * z_abs).reshape(len(x), -1)
        else:
            conv_err = None
            k = spec["n_in"] + 1  # the bias is one more term
            z_err = err @ np.abs(w) + gamma(k) * (a_abs @ np.abs(w) + np.abs(b))
        if spec["activation"] == "softmax":
            err = 0.5 * z_err.max(axis=1, keepdims=True) + (k + 3) * U32 * np.abs(a)
        else:
            err = SLOPE[spec["activation"]] * z_err + ACTIVATION_ROUNDING * np.abs(a)
        a_abs = np.abs(a) + err
        bounds.append((z_err, err, conv_err))
    return bounds


def clear_of_ties_and_kinks(params, layers, x):
    """Whether float32 sees the pool windows and ReLU inputs as the model does: every
    window that does not tie has its largest input ahead of the others by more than
    twice their error bounds, and no ReLU input lies within its error bound of 0."""
    zs, _, convs = oracle.network3_forward(params, layers, x)
    for spec, z, conv, (z_err, _, conv_err) in zip(layers, zs, convs,
                                                   forward_error_bound(params, layers, x)):
        if conv is not None:
            pool = (spec["ph"], spec["pw"])
            top2 = np.sort(oracle.pool_windows(conv, pool), axis=-1)[..., -2:]
            gap = top2[..., 1] - top2[..., 0]
            err = oracle.pool_windows(conv_err, pool).max(axis=-1)
            if np.any((gap != 0) & (gap <= 2 * err)):
                return False
        if spec["activation"] == "relu" and np.any(np.abs(z) <= z_err):
            return False
    return True


def count_ties(params, layers, x):
    """How many pool windows tie, per conv layer."""
    _, _, convs = oracle.network3_forward(params, layers, x)
    counts = []
    for spec, conv in zip(layers, convs):
        if conv is not None:
            windows = oracle.pool_windows(conv, (spec["ph"], spec["pw"]))
            counts.append(int(((windows == windows.max(axis=-1, keepdims=True)).sum(-1) > 1)
                              .sum()))
    return counts


@pytest.mark.parametrize("images", [untied_images, tied_images])
@pytest.mark.parametrize("activation", [ReLU, sigmoid])
def test_forward_is_theanos(images, activation):
    net = book_network(1, activation)
    x = images(MB, SHAPE, 2).astype(np.float32)
    p, layers = model_params(net), specs(net)
    want = oracle.network3_forward(p, layers, x.astype(np.float64))[1][-1]
    bound = forward_error_bound(p, layers, x.astype(np.float64))[-1][1]
    got = net.network.feedforward(x).astype(np.float64)
    assert np.all(np.abs(got - want) <= bound), np.abs(got - want).max()
    # and a cross-correlation with the same kernels is far outside it
    correlated = oracle.feedforward([w.T if w.ndim == 2 else w for w, _ in p],
                                    [b for _, b in p], x.astype(np.float64), layers)
    assert np.any(np.abs(correlated - want) > 100 * bound)
    assert np.array_equal(net.predict(x), np.argmax(got, axis=1))


def test_conv_weights_are_theanos_kernel_and_live():
    """.w is the engine's filter rotated by 180 degrees; a write through it reaches the
    engine, and changes the output as Theano's true convolution says."""
    net = book_network(3)
    layer = net.layers[0]
    assert layer.w.shape == (3, 1, 3, 3) and layer.b.shape == (3,)
    assert np.array_equal(layer.w, net.network.weights[0][..., ::-1, ::-1])
    assert net.layers[2].w.shape == (16, 7) and net.layers[3].w.shape == (7, 5)
    assert np.array_equal(net.layers[3].w, net.network.weights[3].T)
    assert all(a is b for a, b in zip(net.params, [q for l in net.layers for q in l.params]))
    assert all(l.params[0] is l.w and l.params[1] is l.b for l in net.layers)
    layer.w[0, 0, 0, 2] = 5.0
    assert net.network.weights[0][0, 0, 2, 0] == 5.0
    net.layers[3].w[6, 4] = -2.0
    assert net.network.weights[3][4, 6] == -2.0
    x = untied_images(MB, SHAPE, 4).astype(np.float32)
    p = model_params(net)
    want = oracle.network3_forward(p, specs(net), x.astype(np.float64))[1][-1]
    bound = forward_error_bound(p, specs(net), x.astype(np.float64))[-1][1]
    assert np.all(np.abs(net.network.feedforward(x) - want) <= bound)


# One SGD step, float32 against the model. The gradient is the forward's values run
# through more sums of products, down the network: every value on the way is a sum
# of at most K_total = 2,000 terms counted along the longest path (forward 9 + 18 +
# 17 + 8, backward 8 + 7 + 16 + 24, then a weight gradient's sum over the batch and
# the positions, at most 10 * 12 * 10 = 1,200), so to first order each gradient entry
# is off by at most gamma(2000) ~ 1.2e-4 of the sum of its terms' magnitudes: the
# gradient computed on magnitudes (|w|, |a|, |f'(z)|, and |a^L| + y for the output
# error a^L - y). Each activation carries the forward's error (bounded above); adding
# error / gamma(2000) to its magnitude counts it in the same bound. (f'(z) is exact:
# these nets are ReLU, and no z lies within its error of the kink.) With eta = 0.5 an
# update is eta * gradient, and the decay and the subtraction round w once or twice
# more (2u|w|). A window's gradient given to one tied maximum instead of all moves
# the entries it reaches by O(0.01) and more: the test checks that it moves some
# entry by more than ten times its tolerance.
STEP_ETA, STEP_LMBDA, STEP_BATCHES = 0.5, 0.3, 7
K_TOTAL = 2000


def gradient_magnitudes(params, layers, x, y):
    """network3_gradients run on magnitudes, each activation's inflated by its forward
    error / gamma(K_TOTAL): per entry, the sum of the magnitudes of the terms the
    gradient adds up, the forward's errors included."""
    zs, acts, convs = oracle.network3_forward(params, layers, x)
    errors = [np.zeros_like(x)] + [err for _, err, _ in forward_error_bound(params, layers, x)]
    inflated = [np.abs(a) + e / gamma(K_TOTAL) for a, e in zip(acts, errors)]
    m = len(x)
    delta = (inflated[-1] + np.eye(acts[-1].shape[1])[y]) / m
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        (w, _), spec, a_in = params[l], layers[l], inflated[l]
        if spec["kind"] == "convpool":
            pool = (spec["ph"], spec["pw"])
            d_pooled = delta.reshape(m, spec["f"], -1, convs[l].shape[3] // spec["pw"])
            d_conv = oracle.maxpool2d_backward_all_ties(d_pooled, convs[l], pool)
            d_in, gw = oracle.true_conv2d_backward(
                a_in.reshape(m, spec["c"], spec["h"], spec["w"]), np.abs(w), d_conv)
            grads[l] = (gw, d_pooled.sum(axis=(0, 2, 3)))
            d_in = d_in.reshape(m, -1)
        else:
            grads[l] = (a_in.T @ delta, delta.sum(axis=0))
            d_in = delta @ np.abs(w).T
        if l > 0:
            prime = oracle.elementwise(layers[l - 1]["activation"]).prime(zs[l - 1])
            delta = d_in * np.abs(prime)
    return grads


def step_tolerance(magnitude, w):
    return STEP_ETA * gamma(K_TOTAL) * magnitude + 2 * U32 * np.abs(w)


@pytest.mark.parametrize("images", [untied_images, tied_images])
def test_one_sgd_step_is_theanos(images, capsys):
    net = book_network(5)
    x = images(MB, SHAPE, 6).astype(np.float32)
    y = np.random.default_rng(7).integers(0, 5, MB)
    before, layers = model_params(net), specs(net)
    x64 = x.astype(np.float64)
    assert clear_of_ties_and_kinks(before, layers, x64)
    ties = count_ties(before, layers, x64)
    if images is tied_images:
        assert ties[0] > 0 and ties[1] > 0
    else:
        assert ties == [0, 0]
    want = oracle.network3_sgd_step(before, layers, x64, y, STEP_ETA, STEP_LMBDA,
                                    STEP_BATCHES)
    magnitudes = gradient_magnitudes(before, layers, x64, y)
    # the training data is one mini-batch: one step (the book's L2 term is divided by
    # num_training_batches, here 1; the model's STEP_BATCHES is folded into lmbda)
    net.SGD((x, y), 1, MB, STEP_ETA, (x, y), None, lmbda=STEP_LMBDA / STEP_BATCHES)
    capsys.readouterr()
    tolerances = []
    for (w_got, b_got), (w_want, b_want), (gw, gb) in zip(model_params(net), want, magnitudes):
        tolerances += [step_tolerance(gw, w_want), step_tolerance(gb, b_want)]
        assert np.all(np.abs(w_got - w_want) <= tolerances[-2])
        assert np.all(np.abs(b_got - b_want) <= tolerances[-1])
    if images is tied_images:
        # and the first-maximum rule is told apart: it misses Theano's step
        first = oracle.update_mini_batch(
            _engine_weights(before), [b for _, b in before],
            x64, np.eye(5)[y], STEP_ETA, STEP_LMBDA, STEP_BATCHES,
            oracle.LogLikelihoodCost,
            [dict(spec, ties="first") for spec in layers])[0]
        # (rotating and transposing are their own inverses: back to Theano's shapes)
        first = _engine_weights([(w, None) for w in first])
        off = max(float((np.abs(a - w) / t).max())
                  for a, (w, _), t in zip(first, want, tolerances[0::2]))
        assert off > 10  # times the tolerance, somewhere


def _engine_weights(theano_params):
    """Theano's weights in the engine's convention: conv kernels rotated, dense
    weights (n_out, n_in)."""
    return [w[..., ::-1, ::-1] if w.ndim == 4 else w.T for w, _ in theano_params]


def test_predictions_per_test_mini_batch(capsys):
    """What conv.py's ensemble reads: test_mb_predictions(i) after SGD, and predict."""
    net = book_network(8)
    x = untied_images(3 * MB + 4, SHAPE, 9).astype(np.float32)
    y = np.random.default_rng(10).integers(0, 5, len(x))
    with pytest.raises(ValueError, match="trained by SGD"):
        net.test_mb_predictions(0)
    net.SGD((x[:MB], y[:MB]), 1, MB, 0.1, (x, y), (x, y))
    capsys.readouterr()
    everything = np.argmax(net.network.feedforward(x), axis=1)
    assert np.array_equal(net.predict(x), everything)
    assert np.array_equal(net.predict((x, y)), everything)
    for i in range(3):
        assert np.array_equal(net.test_mb_predictions(i), everything[i * MB:(i + 1) * MB])
    with pytest.raises(ValueError, match="3 whole test mini-batches"):
        net.test_mb_predictions(3)
    with pytest.raises(TypeError, match="i must be an int"):
        net.test_mb_predictions(1.0)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copys_layers_view_the_copys_parameters(how):
    import copy
    import pickle
    net = book_network(11)
    twin = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    for a, b in zip(net.params, twin.params):
        assert np.array_equal(a, b) and not np.shares_memory(a, b)
    twin.layers[0].w[1, 0, 2, 1] = 7.0
    twin.layers[3].w[0, 4] = -3.0
    assert twin.network.weights[0][1, 0, 0, 1] == 7.0 and twin.network.weights[3][4, 0] == -3.0
    assert net.layers[0].w[1, 0, 2, 1] != 7.0 and net.layers[3].w[0, 4] != -3.0


def test_a_refused_network_leaves_its_layers_unset():
    conv = network3.ConvPoolLayer(image_shape=(MB,) + SHAPE, filter_shape=(3, 1, 3, 3))
    with pytest.raises(ValueError, match="takes"):
        network3.Network([conv, network3.SoftmaxLayer(n_in=7, n_out=5)], MB)
    assert conv.ties is None and not hasattr(conv, "w")


# ------------------------------------------- the engine's ties="all" in float64

def core_nets(activation):
    """Odd sizes: a 3 x 2 pool; a 6 x 13 pool, whose 78 tie bits take three words;
    and two conv layers, the second's input gradient going back through tied windows."""
    return {
        "pool3x2": [ConvPoolLayer((3, 2, 3, 2), (2, 11, 9), (3, 2), activation, ties="all"),
                    FullyConnectedLayer(36, 5, activation), SoftmaxLayer(5, 3)],
        "pool6x13": [ConvPoolLayer((2, 1, 2, 3), (1, 13, 15), (6, 13), activation, ties="all"),
                     FullyConnectedLayer(4, 3, activation), SoftmaxLayer(3, 4)],
        "two-conv": [ConvPoolLayer((3, 1, 3, 3), (1, 14, 12), (2, 2), activation, ties="all"),
                     ConvPoolLayer((4, 3, 3, 2), (3, 6, 5), (2, 2), activation, ties="all"),
                     FullyConnectedLayer(16, 4, activation), SoftmaxLayer(4, 3)],
    }


def core_net(name, activation=sigmoid, dtype=np.float64, seed=12):
    net = nnfast.Network(core_nets(activation)[name], dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for p in net.weights + net.biases:  # the softmax starts at zero
        p[...] += 0.5 * rng.standard_normal(p.shape)
    return net


def engine_gradient(net, X, labels, n_threads=1):
    """(nabla_w, nabla_b) summed over X, read back from one engine step with eta equal
    to the batch size (so that the step is the gradient itself) on a copy of net."""
    copy = net.__copy__()
    w0, b0 = params(copy)
    engine_train(copy, X, labels, np.arange(len(X)), len(X), float(len(X)),
                 n_threads=n_threads)
    w1, b1 = params(copy)
    return [a - b for a, b in zip(w0, w1)], [a - b for a, b in zip(b0, b1)]


# Both sides sum the same float64 terms in different orders: a few ulps of values
# O(1-10), and reading the gradient back as w0 - w1 adds one rounding of |w| ~ 2:
# ~1e-14. 1e-11 is far below a window's gradient sent to one maximum instead of all
# (O(0.01-1), which the test checks is the case here).
CORE_TOL = 1e-11


@pytest.mark.parametrize("name", ["pool3x2", "pool6x13", "two-conv"])
@pytest.mark.parametrize("activation", [sigmoid, ReLU])
def test_all_ties_gradient_is_the_oracles(name, activation):
    net = core_net(name, activation)
    spec0 = net.layers[0]
    X = tied_images(7, spec0.image_shape, 12)
    labels = np.random.default_rng(13).integers(0, net.sizes[-1], 7)
    weights, biases = params(net)
    layers = [layer.spec() for layer in net.layers]
    Y = np.eye(net.sizes[-1])[labels]
    want_b, want_w = oracle.backprop(weights, biases, X, Y, oracle.LogLikelihoodCost, layers)
    got_w, got_b = engine_gradient(net, X, labels)
    for l in range(len(layers)):
        assert_close_to(got_w[l], want_w[l], CORE_TOL, f"nabla_w[{l}]")
        assert_close_to(got_b[l], want_b[l], CORE_TOL, f"nabla_b[{l}]")
    # the windows really tie: each conv layer's first-maximum rule would be another
    # gradient (the second layer's through the input gradient it sends down, too)
    for l, spec in enumerate(layers):
        if spec["kind"] == "convpool":
            first = layers[:l] + [dict(spec, ties="first")] + layers[l + 1:]
            _, first_w = oracle.backprop(weights, biases, X, Y, oracle.LogLikelihoodCost,
                                         first)
            assert max(float(np.abs(a - b).max()) for a, b in zip(first_w, want_w)) > 1e-3
            if l > 0:
                assert float(np.abs(first_w[l - 1] - want_w[l - 1]).max()) > 1e-3


FD_H = 1e-6
# As tests/test_convnet.py's FD_TOL: the central difference's truncation (h^2/6 |C'''|)
# and rounding ((eps |C| + a few ulps) / h ~ 1e-9) on the scale max(1, max|grad|),
# with 100x to spare; a wrong route through the pool is off by O(0.01-1).
FD_TOL = 1e-7


@pytest.mark.parametrize("name", ["pool3x2", "pool6x13", "two-conv"])
def test_all_ties_gradient_is_the_derivative_where_nothing_ties(name):
    """Away from ties, ties="all" is the max-pool's derivative, as "first" is."""
    net = core_net(name)
    X = untied_images(4, net.layers[0].image_shape, 14)
    labels = np.random.default_rng(15).integers(0, net.sizes[-1], 4)
    layers = [layer.spec() for layer in net.layers]
    weights, biases = params(net)
    _, convs, _ = zip(*[oracle.convpool(spec, w, b, a) for spec, w, b, a in
                        zip(layers, weights, biases,
                            oracle.forward(weights, biases, X, layers)[1])
                        if spec["kind"] == "convpool"])
    for spec, conv in zip(layers, convs):
        top2 = np.sort(oracle.pool_windows(conv, (spec["ph"], spec["pw"])), axis=-1)[..., -2:]
        assert (top2[..., 1] - top2[..., 0]).min() > 1e-4  # +-h crosses no tie
    got_w, got_b = engine_gradient(net, X, labels)

    def cost():
        a = net.feedforward(X)
        return float(-np.log(a[np.arange(len(X)), labels]).sum())

    for got, p in zip(got_w + got_b, net.weights + net.biases):
        fd = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + FD_H
            up = cost()
            p[idx] = old - FD_H
            down = cost()
            p[idx] = old
            fd[idx] = (up - down) / (2 * FD_H)
        assert_close_to(got, fd.reshape(got.shape), FD_TOL, "gradient")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["pool3x2", "two-conv"])
def test_all_ties_training_is_the_same_bits_for_any_thread_count(name, dtype):
    runs = []
    for n_threads in (1, 2):
        net = core_net(name, ReLU, dtype)
        X = tied_images(24, net.layers[0].image_shape, 16)
        labels = np.random.default_rng(17).integers(0, net.sizes[-1], 24)
        engine_train(net, X, labels, np.arange(24), 12, 0.1, n_threads=n_threads)
        runs.append(net.weights + net.biases)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_the_default_tie_rule_is_the_first_maximum():
    """An unset rule trains as "first" does, bit for bit, and not as "all"."""
    results = {}
    for ties in (None, "first", "all"):
        layers = [ConvPoolLayer((3, 1, 3, 3), (1, 14, 12), (2, 2), ties=ties),
                  FullyConnectedLayer(90, 5), SoftmaxLayer(5, 3)]
        net = nnfast.Network(layers, dtype=np.float64, seed=18)
        net.weights[-1][...] = np.random.default_rng(19).standard_normal((3, 5))
        X = tied_images(8, (1, 14, 12), 20)
        engine_train(net, X, np.arange(8) % 3, np.arange(8), 8, 0.5)
        results[ties] = net.weights[0].copy()
        assert net.layers[0].spec()["ties"] == (ties or "first")
    assert np.array_equal(results[None], results["first"])
    assert np.abs(results["all"] - results["first"]).max() > 1e-3


def test_the_tie_rule_is_checked_saved_and_loaded(tmp_path):
    with pytest.raises(ValueError, match="ties must be 'first', 'all' or None"):
        ConvPoolLayer((3, 1, 3, 3), (1, 10, 10), (2, 2), ties="every")
    with pytest.raises(TypeError, match="ties must be 'first', 'all' or None, got list"):
        ConvPoolLayer((3, 1, 3, 3), (1, 10, 10), (2, 2), ties=["all"])
    net = core_net("two-conv")
    net.save(tmp_path / "net.json")
    loaded = nnfast.load(tmp_path / "net.json")
    assert [layer.ties for layer in loaded.layers[:2]] == ["all", "all"]
    X = tied_images(5, (1, 14, 12), 20)
    assert np.array_equal(engine_gradient(loaded, X, np.arange(5) % 3)[0][0],
                          engine_gradient(net, X, np.arange(5) % 3)[0][0])
    # a spec saved before the rule was a choice is the first-maximum rule
    spec = dict(net.layers[0].spec())
    del spec["ties"]
    assert nnfast.layers.layer_from_spec(spec).ties == "first"
    with pytest.raises(ValueError, match="ties"):
        nnfast.layers.layer_from_spec(dict(spec, ties="every"))


def test_curvature_refuses_theanos_tie_rule():
    net = core_net("pool3x2")
    X = untied_images(3, (2, 11, 9), 21)
    with pytest.raises(ValueError, match="ties='all'"):
        net.gradient((X, np.arange(3) % 3))
