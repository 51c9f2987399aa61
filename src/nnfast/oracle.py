"""The NumPy oracle: the maths of nnfast in plain NumPy, to be read beside chapter 2.

This is the reference the test-suite holds the compiled kernels and the C training
engine to. It is written for clarity, not speed, and imports nothing but NumPy.

Conventions (the one place we differ from the book): a batch is a 2-D array whose
**rows are samples**, X of shape (batch, n_in). Weights keep the book's shape
(n_out, n_in) and biases are 1-D, (n_out,), so a layer computes z = a @ w.T + b where
the book writes z = w a + b for one column vector a. Every function works in the float
dtype it is given (float32 or float64); hyper-parameters are Python floats, which NumPy
applies without changing the arrays' dtype.
"""
import numpy as np

# --- Kernels -----------------------------------------------------------------------
# One function per compiled kernel, with the same meaning, for checking them.


def matmul(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha * op(a) @ op(b) + beta * c, where op(x) is x.T when trans_x is set."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    result = float(alpha) * (op_a @ op_b)
    # As in BLAS, beta == 0 means c is not read at all (it may hold NaN).
    if c is not None and beta != 0:
        result = result + float(beta) * c
    return result


def sigmoid(z):
    """The logistic function 1/(1+e^-z), computed without overflow for any z."""
    # 1/(1+e^-z) overflows e^-z for z << 0; writing both halves with e = e^-|z| <= 1
    # never does. e^-|z| may underflow to 0, which is the correctly rounded answer.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1 - s)


def sigmoid_prime_from_output(a):
    """σ'(z) from the cached output a = σ(z): a(1 − a)."""
    return a * (1 - a)


def tanh(z):
    return np.tanh(z)


def tanh_prime_from_output(a):
    """tanh'(z) from the cached output a = tanh(z): 1 − a²."""
    return 1 - a * a


def relu(z):
    return np.maximum(z, 0)


def relu_prime(z):
    """1 where z > 0, else 0 (the kink at 0 takes the derivative of the left side)."""
    return (z > 0).astype(z.dtype)


def softmax(z):
    """Row-wise softmax, e^z_j / Σ_k e^z_k for each sample."""
    # Subtracting each row's max leaves the result unchanged and keeps exp <= 1.
    with np.errstate(under="ignore"):
        e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hadamard(a, b):
    """The elementwise product a ⊙ b."""
    return a * b


def add_bias(x, bias):
    """x + bias, the 1-D bias added to every row (sample)."""
    return x + bias


def column_sums(x):
    """Sum over the rows (samples) of x: 1-D, one entry per column."""
    return x.sum(axis=0)


def _linear(z):
    return z


def _linear_prime(z):
    return np.ones_like(z)


def _tanh_prime(z):
    return tanh_prime_from_output(np.tanh(z))


# name -> (f, f') with f' taken at z; softmax is handled apart, as an output layer only.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, _tanh_prime),
    "relu": (relu, relu_prime),
    "linear": (_linear, _linear_prime),
}


def _activation_prime(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"no elementwise derivative for activation {name!r}")
    return ACTIVATIONS[name][1]


def _activate(name, z):
    if name == "softmax":
        return softmax(z)
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    return ACTIVATIONS[name][0](z)


# --- Costs -------------------------------------------------------------------------
# As in network2.py, but a and y are batches of rows; fn sums over the batch.


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        """½ Σ_x ||a − y||², summed over the batch."""
        return 0.5 * np.sum((a - y) ** 2)

    @staticmethod
    def delta(z, a, y, activation="sigmoid"):
        """BP1: δ^L = (a − y) ⊙ f'(z^L)."""
        return (a - y) * _activation_prime(activation)(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        """Σ −y ln a − (1 − y) ln(1 − a), summed over the batch."""
        # Where a is exactly 0 or 1 a term is 0·ln 0 = nan; nan_to_num makes it 0, as
        # in the book, so the warnings it would raise are expected and silenced.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y, activation="sigmoid"):
        """BP1 for sigmoid outputs: σ'(z) cancels, leaving δ^L = a − y."""
        if activation != "sigmoid":
            raise ValueError("CrossEntropyCost needs a sigmoid output layer")
        return a - y


class LogLikelihoodCost:
    @staticmethod
    def fn(a, y):
        """−Σ ln a_y, the log-probability of each sample's true class, summed."""
        return -np.sum(np.log(a[y == 1]))

    @staticmethod
    def delta(z, a, y, activation="softmax"):
        """BP1 for softmax outputs: the softmax Jacobian cancels, leaving a − y."""
        if activation != "softmax":
            raise ValueError("LogLikelihoodCost needs a softmax output layer")
        return a - y


# --- The network -------------------------------------------------------------------


def forward(weights, biases, x, activations):
    """Feed x forward, keeping what backprop needs: (zs, acts) with acts[0] = x."""
    if len(activations) != len(weights):
        raise ValueError("activations needs one name per layer")
    zs, acts = [], [x]
    for w, b, name in zip(weights, biases, activations):
        z = acts[-1] @ w.T + b
        zs.append(z)
        acts.append(_activate(name, z))
    return zs, acts


def feedforward(weights, biases, x, activations):
    """The network's output for the batch x, shape (batch, n_out)."""
    return forward(weights, biases, x, activations)[1][-1]


def backprop(weights, biases, x, y, cost, activations):
    """(nabla_b, nabla_w): the gradient of the cost summed over the batch (x, y)."""
    zs, acts = forward(weights, biases, x, activations)
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    # The book's indexing: layer -l counts back from the output, l = 1 being the output.
    delta = cost.delta(zs[-1], acts[-1], y, activation=activations[-1])  # BP1
    nabla_b[-1] = delta.sum(axis=0)  # BP3, summed over the samples
    nabla_w[-1] = delta.T @ acts[-2]  # BP4: Σ_x δ^L (a^{L−1})ᵀ
    for l in range(2, len(weights) + 1):
        # BP2: δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l), transposed because samples are rows.
        delta = (delta @ weights[-l + 1]) * _activation_prime(activations[-l])(zs[-l])
        nabla_b[-l] = delta.sum(axis=0)  # BP3
        nabla_w[-l] = delta.T @ acts[-l - 1]  # BP4
    return nabla_b, nabla_w


def _decay(w, eta, lmbda, n, regularization):
    """The weight-decay part of the update: L2 shrinks w, L1 moves it towards 0."""
    if regularization == "l2":
        return (1 - eta * lmbda / n) * w
    if regularization == "l1":
        return w - (eta * lmbda / n) * np.sign(w)
    raise ValueError(f"regularization must be 'l2' or 'l1', not {regularization!r}")


def update_mini_batch(weights, biases, x, y, eta, lmbda, n, cost, activations,
                      regularization="l2", momentum=0.0, velocities=None):
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
    nabla_b, nabla_w = backprop(weights, biases, x, y, cost, activations)
    new_weights, new_biases, new_velocities = [], [], []
    for w, b, (vw, vb), nw, nb in zip(weights, biases, velocities, nabla_w, nabla_b):
        vw = momentum * vw - step * nw
        vb = momentum * vb - step * nb
        new_weights.append(_decay(w, eta, lmbda, n, regularization) + vw)
        new_biases.append(b + vb)
        new_velocities.append((vw, vb))
    return new_weights, new_biases, new_velocities


def sgd_epoch(weights, biases, X, Y, mini_batch_size, eta, lmbda, cost, activations,
              permutation, regularization="l2", momentum=0.0, velocities=None):
    """One epoch: the rows X[permutation] in consecutive mini-batches, the last maybe short."""
    n = len(X)
    for k in range(0, n, mini_batch_size):
        rows = permutation[k:k + mini_batch_size]
        weights, biases, velocities = update_mini_batch(
            weights, biases, X[rows], Y[rows], eta, lmbda, n, cost, activations,
            regularization=regularization, momentum=momentum, velocities=velocities)
    return weights, biases, velocities


def total_cost(weights, biases, X, Y, cost, activations, lmbda=0.0, regularization="l2"):
    """The mean cost over the data plus the regularisation term, as network2's total_cost."""
    n = len(X)
    c = cost.fn(feedforward(weights, biases, X, activations), Y) / n
    if regularization == "l2":
        return c + 0.5 * (lmbda / n) * sum(np.sum(w * w) for w in weights)
    if regularization == "l1":
        return c + (lmbda / n) * sum(np.sum(np.abs(w)) for w in weights)
    raise ValueError(f"regularization must be 'l2' or 'l1', not {regularization!r}")


def accuracy(weights, biases, X, labels, activations):
    """How many samples the network classifies right (argmax of its output)."""
    output = feedforward(weights, biases, X, activations)
    return int(np.sum(np.argmax(output, axis=1) == labels))


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


def vectorized_result(labels, n_classes, dtype=np.float64):
    """One-hot rows: row i has a 1 in column labels[i]."""
    labels = np.asarray(labels)
    y = np.zeros((len(labels), n_classes), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


# --- Convolution, pooling and dropout (chapter 6, network3) ------------------------
# Images are NCHW: x has shape (batch, channels, height, width). The convolution is
# network3's: the valid cross-correlation with stride 1, so a kh x kw filter maps an
# h x w image to (h - kh + 1) x (w - kw + 1).


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


def _windows(x, poolsize):
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
    windows = _windows(x, poolsize)
    k = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, k[..., None], axis=-1)[..., 0]
    rows = np.arange(x.shape[2] // p)[:, None] * p + k // q
    cols = np.arange(w // q)[None, :] * q + k % q
    return out, (rows * w + cols).astype(np.int32)


def maxpool2d_backward(dout, argmax, x_shape):
    """∂C/∂x: each window's dout goes to its maximum; the other inputs get 0."""
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dout.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), dout.reshape(n * c, -1))
    return dx.reshape(x_shape)


def l2pool2d(x, poolsize):
    """sqrt(Σ x²) over each p x q window."""
    return np.sqrt((_windows(x, poolsize) ** 2).sum(axis=-1))


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
