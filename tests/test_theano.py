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


# One SGD step, float32 against the model. A gradient entry is a sum over the batch
# and the positions of products of a delta and an activation, each of which carries
# the forward's error (bounded above) and the backward's own: the same argument as the
# forward's, run down the network. Rather than carry a bound per entry, we take the
# largest: every value on the way is a sum of at most K_total = 2,000 terms counted
# along the longest path (forward 9 + 18 + 17 + 8, backward 8 + 7 + 16 + 24 terms,
# then a weight gradient's sum over the batch and positions, at most 10 * 12 * 10 =
# 1,200), so its float32 error is at most gamma(2000) ~ 1.2e-4 of the magnitudes it
# sums, and each magnitude is, on these nets, within a factor 10 of the largest
# gradient entry (the deltas are softmax outputs minus one-hot labels, |.| <= 1, the
# activations and weights O(1)). With eta = 0.5 an update is eta * gradient, so the
# parameters after the step differ from the model's by at most
# 10 * gamma(2000) * eta * max|gradient| plus one rounding of each parameter (u|w|).
# A window's gradient given to one tied maximum instead of all of them moves the
# entries it reaches by O(max|gradient| / 10) and more, a hundred times this.
STEP_ETA, STEP_LMBDA, STEP_BATCHES = 0.5, 0.3, 7


def step_tolerance(gradient_scale, w):
    return 10 * gamma(2000) * STEP_ETA * gradient_scale + U32 * np.abs(w) + U32


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
    grads = oracle.network3_gradients(before, layers, x64, y)
    scale = max(float(np.abs(g).max()) for pair in grads for g in pair)
    # validation data is required; the training data is one mini-batch: one step
    # (the L2 term is divided by num_training_batches, 1 here: STEP_BATCHES is ours)
    net.SGD((x, y), 1, MB, STEP_ETA, (x, y), None, lmbda=STEP_LMBDA / STEP_BATCHES)
    capsys.readouterr()
    for (w_got, b_got), (w_want, b_want), (w0, _) in zip(model_params(net), want, before):
        assert np.all(np.abs(w_got - w_want) <= step_tolerance(scale, w_want))
        assert np.all(np.abs(b_got - b_want) <= step_tolerance(scale, b_want))
    if images is tied_images:
        # and the first-maximum rule is told apart: it misses Theano's step
        first = oracle.update_mini_batch(
            [engine_w for engine_w in _engine_weights(before)], [b for _, b in before],
            x64, np.eye(5)[y], STEP_ETA, STEP_LMBDA, STEP_BATCHES,
            oracle.LogLikelihoodCost,
            [dict(spec, ties="first") for spec in layers])[0]
        off = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                  for a, b in zip(_engine_weights([(w, None) for w, _ in want]), first))
        assert off > 100 * step_tolerance(scale, 0.0)


def _engine_weights(theano_params):
    """Theano's weights in the engine's convention: conv kernels rotated, dense
    weights (n_out, n_in)."""
    return [w[..., ::-1, ::-1] if w.ndim == 4 else w.T for w, _ in theano_params]
