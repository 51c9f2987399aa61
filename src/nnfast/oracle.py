"""The NumPy oracle: the maths of nnfast in plain NumPy, to be read beside chapter 2.

This is the reference the test-suite holds the compiled kernels and the C training
engine to. It is written for clarity, not speed, and imports nothing but NumPy and
nnfast.maths (the activations and costs it shares with the public API): never the
engine.

Conventions (the one place we differ from the book): a batch is a 2-D array whose
**rows are samples**, X of shape (batch, n_in). Weights keep the book's shape
(n_out, n_in) and biases are 1-D, (n_out,), so a layer computes z = a @ w.T + b where
the book writes z = w a + b for one column vector a. Every function works in the float
dtype it is given (float32 or float64); hyper-parameters are Python floats, which NumPy
applies without changing the arrays' dtype.
"""
import numpy as np

# The activations and costs, and through them the kernels sigmoid ... softmax, are
# nnfast.maths's: the oracle checks the engine against the maths the public API uses.
from nnfast.maths import (  # noqa: F401
    CrossEntropyCost, LogLikelihoodCost, QuadraticCost, activate, elementwise, one_hot, relu,
    relu_prime, sigmoid, sigmoid_prime, sigmoid_prime_from_output, softmax, tanh,
    tanh_prime_from_output)

# --- Kernels -----------------------------------------------------------------------
# One function per compiled kernel, with the same meaning, for checking them (the
# activation kernels sigmoid ... softmax are imported above).


def matmul(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha * op(a) @ op(b) + beta * c, where op(x) is x.T when trans_x is set."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    result = float(alpha) * (op_a @ op_b)
    # As in BLAS, beta == 0 means c is not read at all (it may hold NaN).
    if c is not None and beta != 0:
        result = result + float(beta) * c
    return result


def hadamard(a, b):
    """The elementwise product a ⊙ b."""
    return a * b


def add_bias(x, bias):
    """x + bias, the 1-D bias added to every row (sample)."""
    return x + bias


def column_sums(x):
    """Sum over the rows (samples) of x: 1-D, one entry per column."""
    return x.sum(axis=0)


# --- Convolution, pooling and dropout (chapter 6, network3) ------------------------
# Images are NCHW: x has shape (batch, channels, height, width). The convolution is
# the kernels' and the engine's: the valid cross-correlation with stride 1 (PyTorch's
# conv2d), so a kh x kw filter maps an h x w image to (h - kh + 1) x (w - kw + 1).
# Theano's, which the book's network3 ran, is the true convolution: see the model of
# Theano's network3 at the end.


def conv2d(x, w, b=None):
    """out[n, f, y, x] = Σ_c Σ_i Σ_j w[f, c, i, j] · x[n, c, y+i, x+j] (+ b[f])."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    out = np.zeros((n, f, oh, ow), x.dtype)
    # Filter tap (i, j) meets, at every output position, the input shifted by (i, j).
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,fc->nfhw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    if b is not None:
        out += b[:, None, None]
    return out


def conv2d_backward(x, w, dout):
    """(dx, dw, db): the gradients of conv2d given dout = ∂C/∂out, tap by tap."""
    _, _, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            shifted = x[:, :, i:i + oh, j:j + ow]
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, shifted)
            dx[:, :, i:i + oh, j:j + ow] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def im2col(x, kh, kw):
    """One image (c, h, w) as columns: row c*kh*kw + i*kw + j holds x[c, y+i, x+j]
    for every output position (y, x), in row-major order."""
    c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = np.empty((c, kh, kw, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x[:, i:i + oh, j:j + ow]
    return cols.reshape(c * kh * kw, oh * ow)


def col2im(cols, x_shape, kh, kw):
    """The adjoint of im2col: each column entry added back into the pixel it came from."""
    c, h, w = x_shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = cols.reshape(c, kh, kw, oh, ow)
    x = np.zeros(x_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x[:, i:i + oh, j:j + ow] += cols[:, i, j]
    return x


def pool_windows(x, poolsize):
    """x (n, c, h, w) as (n, c, h/p, w/q, p*q): the pool windows, row-major inside."""
    p, q = poolsize
    n, c, h, w = x.shape
    return (x.reshape(n, c, h // p, p, w // q, q).transpose(0, 1, 2, 4, 3, 5)
            .reshape(n, c, h // p, w // q, p * q))


def maxpool2d(x, poolsize):
    """(out, argmax): each p x q window's maximum, and its flat index y*w + x within
    the h x w plane (the first maximum on ties, as numpy.argmax)."""
    p, q = poolsize
    w = x.shape[3]
    windows = pool_windows(x, poolsize)
    k = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, k[..., None], axis=-1)[..., 0]
    rows = np.arange(x.shape[2] // p)[:, None] * p + k // q
    cols = np.arange(w // q)[None, :] * q + k % q
    return out, (rows * w + cols).astype(np.int32)


def maxpool2d_backward(dout, argmax, x_shape):
    """∂C/∂x: each window's dout goes to its (first) maximum; the other inputs get 0."""
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dout.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), dout.reshape(n * c, -1))
    return dx.reshape(x_shape)


def unpool_windows(windows, poolsize):
    """The inverse of pool_windows: (n, c, h/p, w/q, p*q) back to (n, c, h, w)."""
    p, q = poolsize
    n, c, oh, ow, _ = windows.shape
    return (windows.reshape(n, c, oh, ow, p, q).transpose(0, 1, 2, 4, 3, 5)
            .reshape(n, c, oh * p, ow * q))


def maxpool2d_backward_all_ties(dout, x, poolsize):
    """∂C/∂x by Theano's rule (ties="all"): each window's dout goes to every input
    equal to the window's maximum, gx = (x == max) ? gz : 0."""
    windows = pool_windows(x, poolsize)
    at_max = windows == windows.max(axis=-1, keepdims=True)
    return unpool_windows(at_max * dout[..., None], poolsize)


def l2pool2d(x, poolsize):
    """sqrt(Σ x²) over each p x q window."""
    return np.sqrt((pool_windows(x, poolsize) ** 2).sum(axis=-1))


def l2pool2d_backward(dout, x, out):
    """∂C/∂x = dout · x / out over each window, 0 where out = 0 (all-zero windows)."""
    p, q = x.shape[2] // out.shape[2], x.shape[3] // out.shape[3]
    ratio = np.divide(dout, out, out=np.zeros_like(out), where=out != 0)
    return x * ratio.repeat(p, axis=2).repeat(q, axis=3)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(z):
    """SplitMix64's output function on uint64 arrays (multiplication wraps mod 2^64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout(x, p, seed):
    """(x * mask, mask): element i is kept when its uniform draw u_i >= p, so with
    probability 1 - p; u_i comes from SplitMix64 seeded with mix64(seed), counter i+1,
    which is what makes the mask the same for any thread count. No 1/(1-p) scaling."""
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed], dtype=np.uint64))[0]
        counter = np.arange(1, x.size + 1, dtype=np.uint64)
        bits = _mix64(key + counter * _GOLDEN)
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    mask = (u >= p).astype(np.uint8).reshape(x.shape)
    return x * mask, mask


# --- The network -------------------------------------------------------------------
# A network is its list of layers, each given by its activation's name (a dense layer,
# as in network.py and network2.py) or by the spec nnfast.layers writes for network3's
# layers: {"kind": "dense", "activation", "n_in", "n_out", "p_dropout"} or
# {"kind": "convpool", "activation", "c", "h", "w", "f", "kh", "kw", "ph", "pw", "ties"}.
# A convpool layer computes f(maxpool(conv(a)) + b), one bias per filter, and hands its
# output on flattened to (batch, f·h'·w'); convpool layers come first. Its "ties" is
# the pool's gradient at tied maxima: "first" (or absent) to the first, "all" to each.
# The cost is one of nnfast.maths's classes, the same that nnfast.costs exports.
#
# Dropout, as network3 and the engine do it: while training, a dense layer's input is
# multiplied by a 0/1 mask (no rescaling); at inference its w·a is scaled by 1 − p.
# `masks`, where a function takes it, is None for inference or, while training, one
# mask (or None) per layer, as dropout_masks draws them.

# The engine's NNF_MAX_LAYERS (csrc/nnfast.h), which its dropout seeds count in.
MAX_LAYERS = 16


def _spec(layer):
    """A layer's spec; an activation name stands for a dense layer without dropout."""
    return {"kind": "dense", "activation": layer} if isinstance(layer, str) else layer


def convpool(spec, w, b, a):
    """A convpool layer's weighted input z (batch, n_out) for its input a (batch, n_in),
    and the convolution's output and the pooling's argmax, which backprop routes δ by."""
    x = a.reshape(len(a), spec["c"], spec["h"], spec["w"])
    conv = conv2d(x, w)
    pooled, argmax = maxpool2d(conv, (spec["ph"], spec["pw"]))
    return (pooled + b[:, None, None]).reshape(len(a), -1), conv, argmax


def _through_dropout(spec, a, mask):
    """A dense layer's input a as its weights see it: masked while training, scaled by
    1 − p at inference (the input they see on average), unchanged without dropout.
    Being linear in a, it also carries ∂C/∂(what they see) back to ∂C/∂a."""
    if mask is not None:
        return a * mask
    p = spec.get("p_dropout", 0.0)
    return (1 - p) * a if p else a


def forward(weights, biases, x, layers, masks=None):
    """Feed x forward, keeping what backprop needs: (zs, acts) with acts[0] = x."""
    if len(layers) != len(weights):
        raise ValueError("layers needs one entry per layer of weights")
    zs, acts = [], [x]
    for l, (w, b, layer) in enumerate(zip(weights, biases, layers)):
        spec = _spec(layer)
        if spec["kind"] == "convpool":
            z = convpool(spec, w, b, acts[-1])[0]
        else:
            z = _through_dropout(spec, acts[-1], None if masks is None else masks[l]) @ w.T + b
        zs.append(z)
        acts.append(activate(spec["activation"], z))
    return zs, acts


def feedforward(weights, biases, x, layers):
    """The network's output for the batch x, shape (batch, n_out)."""
    return forward(weights, biases, x, layers)[1][-1]


def _layer_backward(spec, w, b, a_in, delta, mask, want_input_gradient=True):
    """(∂C/∂b, ∂C/∂w, ∂C/∂a_in) of one layer, given its error δ = ∂C/∂z and its input;
    ∂C/∂a_in is None when not wanted (the first layer's: nothing is below it)."""
    if spec["kind"] == "convpool":
        _, conv, argmax = convpool(spec, w, b, a_in)
        delta = delta.reshape(argmax.shape)
        # Max-pooling passes each window's δ to its maximum (to each of its maxima with
        # Theano's tie rule), then the convolution
        # spreads it over the taps and the input pixels that made that maximum.
        x = a_in.reshape(len(a_in), spec["c"], spec["h"], spec["w"])
        if spec.get("ties", "first") == "all":
            d_conv = maxpool2d_backward_all_ties(delta, conv, (spec["ph"], spec["pw"]))
        else:
            d_conv = maxpool2d_backward(delta, argmax, conv.shape)
        d_in, nabla_w, _ = conv2d_backward(x, w, d_conv)
        nabla_b = delta.sum(axis=(0, 2, 3))  # BP3: b adds to every pooled output of its filter
        return nabla_b, nabla_w, d_in.reshape(a_in.shape)
    nabla_b = delta.sum(axis=0)  # BP3, summed over the samples
    nabla_w = delta.T @ _through_dropout(spec, a_in, mask)  # BP4: Σ_x δ (a_in)ᵀ
    if not want_input_gradient:
        return nabla_b, nabla_w, None
    # (wᵀ δ), transposed as samples are rows; a dropped input gets no error.
    return nabla_b, nabla_w, _through_dropout(spec, delta @ w, mask)


def backprop(weights, biases, x, y, cost, layers, masks=None):
    """(nabla_b, nabla_w): the gradient of the cost summed over the batch (x, y)."""
    specs = [_spec(layer) for layer in layers]
    zs, acts = forward(weights, biases, x, specs, masks)
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    delta = cost.delta(zs[-1], acts[-1], y, activation=specs[-1]["activation"])  # BP1
    for l in reversed(range(len(weights))):
        mask = None if masks is None else masks[l]
        nabla_b[l], nabla_w[l], d_in = _layer_backward(specs[l], weights[l], biases[l], acts[l],
                                                       delta, mask, want_input_gradient=l > 0)
        if l > 0:
            # BP2: δ^{l−1} = ((w^l)ᵀ δ^l) ⊙ f'(z^{l−1})
            delta = d_in * elementwise(specs[l - 1]["activation"]).prime(zs[l - 1])
    return nabla_b, nabla_w


def _decay(w, eta, lmbda, n, regularization):
    """The weight-decay part of the update: L2 shrinks w, L1 moves it towards 0."""
    if regularization == "l2":
        return (1 - eta * lmbda / n) * w
    if regularization == "l1":
        return w - (eta * lmbda / n) * np.sign(w)
    raise ValueError(f"regularization must be 'l2' or 'l1', not {regularization!r}")


def update_mini_batch(weights, biases, x, y, eta, lmbda, n, cost, layers,
                      regularization="l2", momentum=0.0, velocities=None, masks=None):
    """One step of SGD on the mini-batch (x, y); returns new lists, mutates nothing.

    v ← μv − (η/m)∇w, w ← decay(w) + v, and likewise for the biases, which are never
    regularised. With μ = 0 this is the book's plain update; with velocities None
    they start at zero. Returns (weights, biases, velocities), velocities a list of
    (vw, vb) pairs per layer.
    """
    eta, lmbda, momentum = float(eta), float(lmbda), float(momentum)
    step = eta / len(x)
    if velocities is None:
        velocities = [(np.zeros_like(w), np.zeros_like(b)) for w, b in zip(weights, biases)]
    nabla_b, nabla_w = backprop(weights, biases, x, y, cost, layers, masks)
    new_weights, new_biases, new_velocities = [], [], []
    for w, b, (vw, vb), nw, nb in zip(weights, biases, velocities, nabla_w, nabla_b):
        vw = momentum * vw - step * nw
        vb = momentum * vb - step * nb
        new_weights.append(_decay(w, eta, lmbda, n, regularization) + vw)
        new_biases.append(b + vb)
        new_velocities.append((vw, vb))
    return new_weights, new_biases, new_velocities


def sgd_epoch(weights, biases, X, Y, mini_batch_size, eta, lmbda, cost, layers,
              permutation, regularization="l2", momentum=0.0, velocities=None, seed=0):
    """One epoch: the rows X[permutation] in consecutive mini-batches, the last maybe
    short, with the dropout masks the engine draws for one chunk trained with seed."""
    n = len(X)
    for batch, k in enumerate(range(0, n, mini_batch_size)):
        rows = permutation[k:k + mini_batch_size]
        weights, biases, velocities = update_mini_batch(
            weights, biases, X[rows], Y[rows], eta, lmbda, n, cost, layers,
            regularization=regularization, momentum=momentum, velocities=velocities,
            masks=dropout_masks(layers, seed, batch, len(rows)))
    return weights, biases, velocities


def total_cost(weights, biases, X, Y, cost, layers, lmbda=0.0, regularization="l2"):
    """The mean cost over the data plus the regularisation term, as network2's total_cost."""
    n = len(X)
    c = cost.fn(feedforward(weights, biases, X, layers), Y) / n
    if regularization == "l2":
        return c + 0.5 * (lmbda / n) * sum(np.sum(w * w) for w in weights)
    if regularization == "l1":
        return c + (lmbda / n) * sum(np.sum(np.abs(w)) for w in weights)
    raise ValueError(f"regularization must be 'l2' or 'l1', not {regularization!r}")


def accuracy(weights, biases, X, labels, layers):
    """How many samples the network classifies right (argmax of its output)."""
    output = feedforward(weights, biases, X, layers)
    return int(np.sum(np.argmax(output, axis=1) == labels))


def layer_seed(seed, batch, layer):
    """The engine's dropout seed for a layer of a mini-batch (layer_seed in
    csrc/engine.inc): SplitMix64 of seed advanced by batch·MAX_LAYERS + layer + 1
    golden-ratio steps, so that no two layers or mini-batches share a stream."""
    with np.errstate(over="ignore"):
        steps = np.array([batch * MAX_LAYERS + layer + 1], dtype=np.uint64)
        return int(_mix64(np.array([seed], dtype=np.uint64) + steps * _GOLDEN)[0])


def dropout_masks(layers, seed, batch, rows):
    """The input masks, one per layer (None without dropout), that the engine draws in
    mini-batch `batch` of a chunk trained with seed: the mini-batch's seed, then each
    layer's from the one before, each mask drawn by `dropout` over rows x n_in."""
    ps = [_spec(layer).get("p_dropout", 0.0) for layer in layers]
    if not any(ps):  # nothing to draw: plain epochs skip the seeding
        return [None] * len(ps)
    seed = layer_seed(seed, batch, 0)
    masks = []
    for l, (layer, p) in enumerate(zip(layers, ps)):
        masks.append(dropout(np.ones((rows, layer["n_in"])), p, seed)[1] if p > 0 else None)
        seed = layer_seed(seed, 0, l)
    return masks


# --- Initialisation and data -------------------------------------------------------
# As network2.py: biases drawn first, then weights, one layer after another. Draws are
# float64 then rounded to dtype, so the same seed gives the same network in both dtypes.


def default_weight_initializer(sizes, rng, dtype=np.float64):
    """Weights N(0, 1/n_in), so z starts small and the neurons unsaturated; biases N(0, 1)."""
    biases = [rng.standard_normal(n_out).astype(dtype) for n_out in sizes[1:]]
    weights = [(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def large_weight_initializer(sizes, rng, dtype=np.float64):
    """Weights and biases N(0, 1), as in chapter 1."""
    biases = [rng.standard_normal(n_out).astype(dtype) for n_out in sizes[1:]]
    weights = [rng.standard_normal((n_out, n_in)).astype(dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return weights, biases


vectorized_result = one_hot  # the book's name, a row per sample


# --- Theano's network3 -------------------------------------------------------------
# What the book's network3.py computed with Theano, written from Theano's definitions
# and not from the engine's: the model nnfast.book.network3 is held to. Parameters are
# Theano's, one (w, b) per layer: a ConvPoolLayer's w is filter_shape, the kernel of
# theano.tensor.nnet.conv.conv2d, a true convolution; a FullyConnectedLayer's and a
# SoftmaxLayer's w is (n_in, n_out). Max-pooling is pool_2d with ignore_border=True,
# whose gradient goes to every input equal to its window's maximum. Layers are the
# specs nnfast.layers writes (network3's layers). No dropout while training (its masks
# are random draws): at inference a layer's w·a is scaled by 1 - p_dropout, as there.


def true_conv2d(x, w):
    """conv2d(x, w) in Theano's sense, mode "valid": the kernel flipped,
    out[n, f, y, x] = Σ_c Σ_i Σ_j w[f, c, i, j] · x[n, c, y + kh-1-i, x + kw-1-j]."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    out = np.zeros((n, f, oh, ow), np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            shifted = x[:, :, kh - 1 - i:kh - 1 - i + oh, kw - 1 - j:kw - 1 - j + ow]
            out += np.einsum("nchw,fc->nfhw", shifted, w[:, :, i, j])
    return out


def true_conv2d_backward(x, w, dout):
    """(dx, dw): the gradients of true_conv2d given dout = ∂C/∂out, tap by tap."""
    _, _, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    dx = np.zeros(x.shape, np.result_type(x, w, dout))
    dw = np.zeros(w.shape, dx.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(kh - 1 - i, kh - 1 - i + oh)
            cols = slice(kw - 1 - j, kw - 1 - j + ow)
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, x[:, :, rows, cols])
            dx[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    return dx, dw


def network3_forward(params, layers, x):
    """Theano's network3 at inference: (zs, acts, convs), acts[0] = x and every z and
    activation flattened to (batch, n_out); convs[l] is a conv layer's convolution."""
    zs, acts, convs = [], [x], []
    for (w, b), spec in zip(params, layers):
        a = acts[-1]
        if spec["kind"] == "convpool":
            conv = true_conv2d(a.reshape(len(a), spec["c"], spec["h"], spec["w"]), w)
            pooled = pool_windows(conv, (spec["ph"], spec["pw"])).max(axis=-1)
            z = (pooled + b[:, None, None]).reshape(len(a), -1)
        else:
            conv = None
            z = (1 - spec.get("p_dropout", 0.0)) * (a @ w) + b
        zs.append(z)
        acts.append(activate(spec["activation"], z))
        convs.append(conv)
    return zs, acts, convs


def network3_gradients(params, layers, x, y):
    """[(∂C/∂w, ∂C/∂b)] per layer of network3's cost on the mini-batch (x, labels y)
    without its L2 term: C = the mean over the batch of -log a^L_y, a^L the softmax."""
    if any(spec.get("p_dropout", 0.0) for spec in layers):
        raise ValueError("the model trains without dropout")
    zs, acts, convs = network3_forward(params, layers, x)
    m = len(x)
    delta = acts[-1].copy()
    delta[np.arange(m), y] -= 1
    delta /= m  # ∂C/∂z^L of the mean log-likelihood through the softmax
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        (w, _), spec, a_in = params[l], layers[l], acts[l]
        if spec["kind"] == "convpool":
            d_pooled = delta.reshape(m, spec["f"], -1, convs[l].shape[3] // spec["pw"])
            d_conv = maxpool2d_backward_all_ties(d_pooled, convs[l], (spec["ph"], spec["pw"]))
            image = a_in.reshape(m, spec["c"], spec["h"], spec["w"])
            d_in, gw = true_conv2d_backward(image, w, d_conv)
            grads[l] = (gw, d_pooled.sum(axis=(0, 2, 3)))
            d_in = d_in.reshape(m, -1)
        else:
            grads[l] = (a_in.T @ delta, delta.sum(axis=0))
            d_in = delta @ w.T
        if l > 0:
            delta = d_in * elementwise(layers[l - 1]["activation"]).prime(zs[l - 1])
    return grads


def network3_sgd_step(params, layers, x, y, eta, lmbda, num_training_batches):
    """One of network3's updates on the mini-batch (x, y): param - eta * ∂/∂param of
    C + 0.5 * lmbda * Σ w² / num_training_batches (the weights of every layer)."""
    decay = float(lmbda) / num_training_batches
    return [(w - float(eta) * (gw + decay * w), b - float(eta) * gb)
            for (w, b), (gw, gb) in zip(params, network3_gradients(params, layers, x, y))]
