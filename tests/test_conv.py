"""The convolution, pooling and dropout kernels (nnfast.kernels) held to the oracle.

How close is close enough
-------------------------
Convolution. Every output of conv2d is a K-term dot product, K = C*kh*kw, plus the
bias; each entry of dw and db a sum of N*OH*OW products; each entry of dx a sum of
at most F*kh*kw. As for GEMM (test_kernels.py, after Higham, *Accuracy and
Stability of Numerical Algorithms*, sec. 3.1), K + 2 roundings of at most u = eps/2
relative to S, the same sum taken over absolute values, give an error that grows
like sqrt(K + 2) u S in practice, so we allow

    |got - ref| <= CONV_C * sqrt(K + 2) * eps * S        (elementwise)

with CONV_C = 2. S comes from the oracle run on |x|, |w|, |dout|. The reference is
computed one precision up (float64 for float32, long double for float64), so its
own error is negligible. For float64 this is about 1e-14 S for the book's layers
(K = 25 or 500), well inside 1e-12; a dropped or doubled term (about S/K) fails it.

im2col is a copy (exact) and col2im sums at most kh*kw terms per pixel. Max
pooling selects and scatters values, which is exact. L2 pooling sums p*q positive
squares and takes a square root: relative error at most (p*q/2 + 1) u, and its
backward is two roundings more, so (p*q + 2) eps and 4 eps relative are allowed.
"""
import math

import numpy as np
import pytest

import nnfast
from nnfast import _kernels, kernels, oracle
from engine_checks import using_arch

DTYPES = (np.float32, np.float64)
EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}
HIGHER = {np.float32: np.float64, np.float64: np.longdouble}
CONV_C = 2.0

# (N, C, H, W, F, kh, kw): network3's two layers, kernels equal to the image, 1x1,
# odd and non-square images and kernels, batch 1 and 7, channels 1, 3, 20.
CONV_SHAPES = [
    (1, 1, 28, 28, 20, 5, 5),
    (7, 20, 12, 12, 40, 5, 5),
    (7, 3, 7, 5, 4, 3, 3),
    (1, 3, 5, 5, 2, 5, 5),
    (7, 1, 5, 7, 3, 1, 1),
    (1, 20, 7, 7, 3, 3, 3),
    (7, 3, 12, 7, 5, 2, 3),
    (37, 2, 9, 8, 3, 3, 2),  # more samples than groups of the weight-gradient sum
]
# (N, C, H, W, pool): the 2x2 after a 24x24 or 8x8 conv, 3x3, 1x2.
POOL_SHAPES = [
    (7, 20, 24, 24, (2, 2)),
    (1, 3, 12, 12, (3, 3)),
    (7, 1, 5, 6, (1, 2)),
    (1, 20, 8, 8, (2, 2)),
    (7, 3, 9, 9, (3, 3)),
]


def _tid(value):
    if isinstance(value, type):
        return value.__name__
    return None


def _strided(a, how):
    """a's values in a non-contiguous layout: reversed axes, a stepped view or Fortran order."""
    if how == "C":
        return a
    if how == "F":
        return np.asfortranarray(a)
    if how == "step":
        buf = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, a.dtype)
        view = buf[..., ::2]
        view[...] = a
        return view
    if how == "neg":
        view = np.empty_like(a)[..., ::-1]
        view[...] = a
        return view
    raise ValueError(how)


def _check(got, ref, tol, what):
    err = np.abs(got.astype(ref.dtype) - ref).astype(np.float64)
    bad = ~(err <= tol)  # a NaN in got fails too
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        pytest.fail(f"{what}: {int(bad.sum())} of {bad.size} entries off; first at {i}: got "
                    f"{got[i]!r}, want {float(ref[i])!r}, error {err[i]:.3g} > {tol[i]:.3g}")


def _conv_case(shape, dtype, seed=0):
    n, c, h, w, f, kh, kw = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = (rng.standard_normal((f, c, kh, kw)) / math.sqrt(c * kh * kw)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    dout = rng.standard_normal((n, f, h - kh + 1, w - kw + 1)).astype(dtype)
    return x, wt, b, dout


# ---- im2col / col2im ----


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
def test_im2col_col2im(shape, dtype):
    _, c, h, w, _, kh, kw = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((c, h, w)).astype(dtype)
    cols = kernels.im2col(_strided(x, "neg"), kh, kw)
    assert cols.dtype == dtype and cols.shape == (c * kh * kw, (h - kh + 1) * (w - kw + 1))
    np.testing.assert_array_equal(cols, oracle.im2col(x, kh, kw))

    d = rng.standard_normal(cols.shape).astype(dtype)
    got = kernels.col2im(_strided(d, "F"), (c, h, w), kh, kw)
    hp = HIGHER[dtype]
    ref = oracle.col2im(d.astype(hp), (c, h, w), kh, kw)
    scale = oracle.col2im(np.abs(d).astype(np.float64), (c, h, w), kh, kw)
    assert got.dtype == dtype and got.shape == (c, h, w)
    _check(got, ref, kh * kw * EPS[dtype] * scale, "col2im")


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_col2im_is_the_adjoint_of_im2col(dtype):
    """<im2col(x), cols> = <x, col2im(cols)>: col2im is exactly backprop through im2col."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 8)).astype(np.float64)
    cols = rng.standard_normal((3 * 4 * 3, 6 * 6))
    lhs = np.sum(kernels.im2col(x, 4, 3) * cols)
    rhs = np.sum(x * kernels.col2im(cols, x.shape, 4, 3))
    assert lhs == pytest.approx(rhs, rel=1e-12)


# ---- convolution ----


@pytest.mark.parametrize("layout", ["C", "neg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
def test_conv2d_against_oracle(shape, dtype, layout):
    x, w, b, _ = _conv_case(shape, dtype)
    hp = HIGHER[dtype]
    k = w[0].size
    for bias in (b, None):
        got = kernels.conv2d(_strided(x, layout), _strided(w, layout),
                             None if bias is None else _strided(bias, layout))
        ref = oracle.conv2d(x.astype(hp), w.astype(hp), None if bias is None else bias.astype(hp))
        scale = oracle.conv2d(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64),
                              None if bias is None else np.abs(bias).astype(np.float64))
        assert got.dtype == dtype and got.shape == ref.shape
        _check(got, ref, CONV_C * math.sqrt(k + 2) * EPS[dtype] * scale, "conv2d")


@pytest.mark.parametrize("layout", ["C", "step"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
def test_conv2d_backward_against_oracle(shape, dtype, layout):
    n, c, h, wd, f, kh, kw = shape
    x, w, _, dout = _conv_case(shape, dtype)
    hp = HIGHER[dtype]
    got = kernels.conv2d_backward(_strided(x, layout), _strided(w, layout),
                                  _strided(dout, layout))
    ref = oracle.conv2d_backward(x.astype(hp), w.astype(hp), dout.astype(hp))
    scale = oracle.conv2d_backward(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64),
                                   np.abs(dout).astype(np.float64))
    terms = {"dx": f * kh * kw, "dw": n * (h - kh + 1) * (wd - kw + 1)}
    terms["db"] = terms["dw"]
    for name, g, r, s in zip(("dx", "dw", "db"), got, ref, scale):
        assert g.dtype == dtype and g.shape == r.shape, name
        _check(g, r, CONV_C * math.sqrt(terms[name] + 2) * EPS[dtype] * s, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", [(1, 20, 28, 28, 40, 5, 5), (7, 20, 12, 12, 40, 5, 5),
                                   (3, 1, 28, 28, 20, 5, 5), (10, 3, 9, 9, 5, 3, 3),
                                   (37, 2, 9, 8, 3, 3, 2)], ids=str)
def test_conv2d_bit_identical_across_thread_counts(shape, dtype):
    """One sample: GEMM splits its tiles among threads; seven: samples run in parallel;
    three samples on two threads: unequal shares; 37: groups of two and three samples.
    dw and db are summed over the same groups of samples, by the same tree, whatever
    the thread count: on 2 and 4 threads each thread's groups are subtrees of it, on 3
    and 7 (and 2 of 3 samples) they are not."""
    x, w, b, dout = _conv_case(shape, dtype, seed=3)
    fwd = [kernels.conv2d(x, w, b, n_threads=t) for t in (1, 2, 3, 4, 7)]
    bwd = [kernels.conv2d_backward(x, w, dout, n_threads=t) for t in (1, 2, 3, 4, 7)]
    for t in (1, 2, 3, 4):
        np.testing.assert_array_equal(fwd[0], fwd[t])
        for g0, g in zip(bwd[0], bwd[t]):
            np.testing.assert_array_equal(g0, g)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv2d_weight_gradient_sums_samples_by_the_tree(threads, dtype):
    """With one sample a group, the weight and bias gradients of n samples are their
    groups' sum by the tree [0, n) = [0, n // 2) + [n // 2, n): for 3 samples a + (b + c),
    for 4 (a + b) + (c + d). A 1 x 1 image and kernel make each sample's term exact (x
    = 1, so it is its dout), and terms half a unit in the last place of 1 tell the
    orders apart: 1 + (h + h) is 1 + 2h where (1 + h) + h rounds to 1 twice, and
    (1 + h) + (h - 1) is h where ((1 + h) + h) - 1 is 0."""
    half_ulp = float(np.finfo(dtype).eps) / 2
    for terms, want in (([1.0, half_ulp, half_ulp], 1 + 2 * half_ulp),
                        ([1.0, half_ulp, half_ulp, -1.0], half_ulp)):
        n = len(terms)
        x = np.ones((n, 1, 1, 1), dtype)
        w = np.ones((1, 1, 1, 1), dtype)
        dout = np.array(terms, dtype).reshape(n, 1, 1, 1)
        _, dw, db = kernels.conv2d_backward(x, w, dout, n_threads=threads)
        assert dw.ravel()[0] == dtype(want) and db[0] == dtype(want), terms
        left_to_right = dtype(0)
        for t in terms:
            left_to_right = dtype(left_to_right + dtype(t))
        assert left_to_right != dtype(want), "the terms do not tell the orders apart"


def test_conv2d_default_threads_follow_set_num_threads():
    x, w, b, _ = _conv_case((2, 20, 28, 28, 40, 5, 5), np.float32, seed=4)
    previous = nnfast.get_num_threads()
    try:
        nnfast.set_num_threads(1)
        one = kernels.conv2d(x, w, b)
        nnfast.set_num_threads(2)
        two = kernels.conv2d(x, w, b)
    finally:
        nnfast.set_num_threads(previous)
    np.testing.assert_array_equal(one, two)


def _numerical_gradient(f, a, index, step):
    """Central difference of the scalar f() in a[index]; a is changed and restored."""
    saved = a[index]
    a[index] = saved + step
    up = f()
    a[index] = saved - step
    down = f()
    a[index] = saved
    return (up - down) / (2 * step)


def test_conv2d_backward_finite_differences():
    """With L = Σ conv2d(x, w, b) ⊙ G, conv2d_backward(x, w, G) is (∂L/∂x, ∂L/∂w, ∂L/∂b).
    L is linear in each argument, so a central difference is exact but for rounding
    (about eps |L| / step)."""
    x, w, b, g = _conv_case((2, 3, 7, 6, 4, 3, 2), np.float64, seed=5)
    dx, dw, db = kernels.conv2d_backward(x, w, g)

    def loss():
        return float(np.sum(kernels.conv2d(x, w, b) * g))

    rng = np.random.default_rng(6)
    for a, grad in ((x, dx), (w, dw), (b, db)):
        for flat in rng.choice(a.size, size=min(a.size, 12), replace=False):
            index = np.unravel_index(flat, a.shape)
            numeric = _numerical_gradient(loss, a, index, 1e-3)
            assert numeric == pytest.approx(grad[index], rel=1e-7, abs=1e-9)


# ---- pooling ----


@pytest.mark.parametrize("layout", ["C", "neg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_maxpool2d_against_oracle(shape, dtype, layout):
    n, c, h, w, pool = shape
    rng = np.random.default_rng(7)
    # Rounded values make ties common: the first maximum must win, as in the oracle.
    x = np.round(rng.standard_normal((n, c, h, w)), 1).astype(dtype)
    out, argmax = kernels.maxpool2d(_strided(x, layout), pool)
    ref_out, ref_argmax = oracle.maxpool2d(x, pool)
    assert out.dtype == dtype and argmax.dtype == np.int32
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(argmax, ref_argmax)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = kernels.maxpool2d_backward(_strided(dout, layout), argmax, x.shape)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, oracle.maxpool2d_backward(dout, ref_argmax, x.shape))


@pytest.mark.parametrize("arch", _kernels.supported_archs())
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("width", [4, 8, 18, 26, 24, 32, 34, 66])
def test_maxpool2d_nans_infinities_and_ties_in_every_corner(width, dtype, arch):
    """The 2x2 pool runs four windows at a time in SSE2 registers, then the rest one
    by one; with the AVX2 kernels in use, rows of eight windows or more go eight at a
    time first, and rows of four two rows at a time (three rows here: a pair, then
    one); with the AVX-512 kernels, sixteen at a time, the last step masked (windows
    per row: 2, 4, 9, 13, 12, 16, 17, 33): NaN (the first wins), -inf, +inf and ties
    must come out as the oracle's wherever they fall, on every ISA this CPU runs."""
    rng = np.random.default_rng(width)
    x = np.round(rng.standard_normal((3, 2, 6, width)), 0)
    specials = rng.choice([np.nan, np.inf, -np.inf], size=x.shape)
    x = np.where(rng.random(x.shape) < 0.15, specials, x).astype(dtype)
    with using_arch(arch):
        out, argmax = kernels.maxpool2d(x, (2, 2))
    ref_out, ref_argmax = oracle.maxpool2d(x, (2, 2))
    np.testing.assert_array_equal(out, ref_out)  # NaN where the oracle has NaN
    np.testing.assert_array_equal(argmax, ref_argmax)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_maxpool2d_nan_wins_its_window(dtype):
    x = np.zeros((1, 1, 2, 4), dtype)
    x[0, 0, 1, 0] = np.nan
    x[0, 0, 0, 3] = 5
    out, argmax = kernels.maxpool2d(x, (2, 2))
    assert np.isnan(out[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 4
    assert out[0, 0, 0, 1] == 5 and argmax[0, 0, 0, 1] == 3


@pytest.mark.parametrize("layout", ["C", "step"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_l2pool2d_against_oracle(shape, dtype, layout):
    n, c, h, w, pool = shape
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[0, 0, :pool[0], :pool[1]] = 0  # an all-zero window: out = 0, gradient 0
    hp = HIGHER[dtype]
    out = kernels.l2pool2d(_strided(x, layout), pool)
    ref = oracle.l2pool2d(x.astype(hp), pool)
    assert out.dtype == dtype and out.shape == ref.shape
    _check(out, ref, (pool[0] * pool[1] + 2) * EPS[dtype] * np.abs(ref).astype(np.float64),
           "l2pool2d")

    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = kernels.l2pool2d_backward(_strided(dout, layout), _strided(x, layout),
                                   _strided(out, layout))
    ref_dx = oracle.l2pool2d_backward(dout.astype(hp), x.astype(hp), out.astype(hp))
    assert dx.dtype == dtype
    _check(dx, ref_dx, 4 * EPS[dtype] * np.abs(ref_dx).astype(np.float64), "l2pool2d_backward")
    assert not dx[0, 0, :pool[0], :pool[1]].any()


def _distinct(rng, shape):
    """Values at least 0.01 apart, so a step of 1e-6 never changes a window's maximum."""
    return (rng.permutation(math.prod(shape)) * 0.01 - 1).reshape(shape) + 1e-4


@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (1, 2)], ids=str)
def test_pool_backward_finite_differences(pool):
    """∂/∂x of L = Σ pool(x) ⊙ G at every entry of x. Max pooling is linear in x away
    from ties; L2 pooling is smooth away from zero windows (the error is O(step²))."""
    rng = np.random.default_rng(9)
    x = _distinct(rng, (2, 3, 6, 6))
    out, argmax = kernels.maxpool2d(x, pool)
    g = rng.standard_normal(out.shape)
    grads = {
        "max": (lambda: float(np.sum(kernels.maxpool2d(x, pool)[0] * g)),
                kernels.maxpool2d_backward(g, argmax, x.shape)),
        "l2": (lambda: float(np.sum(kernels.l2pool2d(x, pool) * g)),
               kernels.l2pool2d_backward(g, x, kernels.l2pool2d(x, pool))),
    }
    for name, (loss, grad) in grads.items():
        numeric = np.array([_numerical_gradient(loss, x, np.unravel_index(i, x.shape), 1e-6)
                            for i in range(x.size)]).reshape(x.shape)
        np.testing.assert_allclose(numeric, grad, rtol=1e-6, atol=1e-8, err_msg=name)


# ---- dropout ----


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_dropout_against_oracle(dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((7, 20, 12, 12)).astype(dtype)
    out, mask = kernels.dropout(_strided(x, "neg"), 0.5, 1234)
    ref_out, ref_mask = oracle.dropout(x, 0.5, 1234)
    assert out.dtype == dtype and mask.dtype == np.uint8 and mask.shape == x.shape
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(out, x * mask)


def test_dropout_same_mask_for_any_thread_count():
    """Above the parallel threshold the elements are split among threads; each draw
    depends only on (seed, index), so the mask cannot change."""
    x = np.ones(300_001, dtype=np.float32)
    previous = nnfast.get_num_threads()
    try:
        masks = []
        for t in (1, 2, 3):
            nnfast.set_num_threads(t)
            masks.append(kernels.dropout(x, 0.3, 2**64 - 1)[1])
    finally:
        nnfast.set_num_threads(previous)
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])
    np.testing.assert_array_equal(masks[0], oracle.dropout(x, 0.3, 2**64 - 1)[1])
    assert not np.array_equal(masks[0], kernels.dropout(x, 0.3, 2**64 - 2)[1])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keep_rate(p):
    """The number kept is Binomial(n, 1 - p): within 6 standard deviations of n(1 - p)
    for every seed we try (a false alarm has probability about 2e-9 each)."""
    n = 200_000
    x = np.ones(n)
    sd = math.sqrt(n * p * (1 - p))
    for seed in (0, 1, 2**63):
        kept = int(kernels.dropout(x, p, seed)[1].sum(dtype=np.int64))
        assert abs(kept - n * (1 - p)) <= 6 * sd, (seed, kept)


def test_dropout_extreme_p():
    x = np.random.default_rng(11).standard_normal((3, 50))
    out, mask = kernels.dropout(x, 0.0, 5)
    assert mask.all()
    np.testing.assert_array_equal(out, x)
    out, mask = kernels.dropout(x, 1, 5)
    assert not mask.any() and not out.any()
    out, mask = kernels.dropout(np.empty((0, 4), np.float32), 0.5, 5)
    assert out.shape == mask.shape == (0, 4)


# ---- bad arguments ----

F64 = np.zeros((2, 3, 8, 8))
W64 = np.zeros((4, 3, 3, 3))
D64 = np.zeros((2, 4, 6, 6))
ARGMAX = np.zeros((2, 3, 4, 4), np.int32)
P64 = np.zeros((2, 3, 4, 4))

BAD = [
    # (call, error, "func: name")
    (lambda: kernels.conv2d(F64[0], W64), ValueError, "conv2d: x"),
    (lambda: kernels.conv2d([[1.0]], W64), TypeError, "conv2d: x"),
    (lambda: kernels.conv2d(F64.astype(np.int64), W64), TypeError, "conv2d: x"),
    (lambda: kernels.conv2d(F64, W64[:, :2]), ValueError, "conv2d: w"),
    (lambda: kernels.conv2d(F64, np.zeros((4, 3, 9, 3))), ValueError, "conv2d: w"),
    (lambda: kernels.conv2d(F64, np.zeros((4, 3, 0, 3))), ValueError, "conv2d: w"),
    (lambda: kernels.conv2d(F64, W64.astype(np.float32)), TypeError, "conv2d: x and w"),
    (lambda: kernels.conv2d(F64, W64, np.zeros(3)), ValueError, "conv2d: b"),
    (lambda: kernels.conv2d(F64, W64, np.zeros(4, np.float32)), TypeError, "conv2d: x and b"),
    (lambda: kernels.conv2d(F64, W64, n_threads=0), ValueError, "conv2d: n_threads"),
    (lambda: kernels.conv2d(F64, W64, n_threads=1.5), TypeError, "conv2d: n_threads"),
    (lambda: kernels.conv2d_backward(F64, W64, D64[:, :, :5]), ValueError,
     "conv2d_backward: dout"),
    (lambda: kernels.conv2d_backward(F64, W64, D64.astype(np.float32)), TypeError,
     "conv2d_backward: x and dout"),
    (lambda: kernels.conv2d_backward(F64, W64[:, :1], D64), ValueError, "conv2d_backward: w"),
    (lambda: kernels.maxpool2d(F64[0], (2, 2)), ValueError, "maxpool2d: x"),
    (lambda: kernels.maxpool2d(F64, (3, 3)), ValueError, "maxpool2d: poolsize"),
    (lambda: kernels.maxpool2d(F64, (0, 2)), ValueError, "maxpool2d: poolsize"),
    (lambda: kernels.maxpool2d(F64, 2), TypeError, "maxpool2d: poolsize"),
    (lambda: kernels.maxpool2d_backward(P64, ARGMAX.astype(np.int64), F64.shape), TypeError,
     "maxpool2d_backward: argmax"),
    (lambda: kernels.maxpool2d_backward(P64, ARGMAX[:1], F64.shape), ValueError,
     "maxpool2d_backward: argmax"),
    (lambda: kernels.maxpool2d_backward(P64, ARGMAX + 64, F64.shape), ValueError,
     "maxpool2d_backward: argmax"),
    (lambda: kernels.maxpool2d_backward(P64, ARGMAX, (2, 3, 9, 8)), ValueError,
     "maxpool2d_backward: dout"),
    (lambda: kernels.maxpool2d_backward(P64, ARGMAX, (2, 3, 8)), TypeError,
     "maxpool2d_backward: x_shape"),
    (lambda: kernels.l2pool2d(F64, (1, 3)), ValueError, "l2pool2d: poolsize"),
    (lambda: kernels.l2pool2d(F64[0], (2, 2)), ValueError, "l2pool2d: x"),
    (lambda: kernels.l2pool2d_backward(P64, F64.astype(np.float32), P64), TypeError,
     "l2pool2d_backward: dout and x"),
    (lambda: kernels.l2pool2d_backward(P64[:, :2], F64, P64), ValueError,
     "l2pool2d_backward: dout"),
    (lambda: kernels.l2pool2d_backward(P64, F64, P64[..., :3]), ValueError,
     "l2pool2d_backward: out"),
    (lambda: kernels.im2col(F64, 3, 3), ValueError, "im2col: x"),
    (lambda: kernels.im2col(F64[0], 0, 3), ValueError, "im2col: kh"),
    (lambda: kernels.im2col(F64[0], 3, 9), ValueError, "im2col: kh x kw"),
    (lambda: kernels.im2col(F64[0], 3.0, 3), TypeError, "im2col: kh"),
    (lambda: kernels.col2im(np.zeros((27, 35)), (3, 8, 8), 3, 3), ValueError, "col2im: cols"),
    (lambda: kernels.col2im(np.zeros((27, 36)), (3, 8), 3, 3), TypeError, "col2im: x_shape"),
    (lambda: kernels.dropout(F64, 1.5, 0), ValueError, "dropout: p"),
    (lambda: kernels.dropout(F64, -0.1, 0), ValueError, "dropout: p"),
    (lambda: kernels.dropout(F64, float("nan"), 0), ValueError, "dropout: p"),
    (lambda: kernels.dropout(F64, "0.5", 0), TypeError, "dropout: p"),
    (lambda: kernels.dropout(F64, 0.5, -1), ValueError, "dropout: seed"),
    (lambda: kernels.dropout(F64, 0.5, 2**64), ValueError, "dropout: seed"),
    (lambda: kernels.dropout(F64, 0.5, 1.0), TypeError, "dropout: seed"),
    (lambda: kernels.dropout(F64.astype(np.int32), 0.5, 0), TypeError, "dropout: x"),
]


@pytest.mark.parametrize("call, error, prefix", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_arguments_name_function_and_argument(call, error, prefix):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message.startswith(prefix), message
    assert not message[len(prefix):][:1].isalnum(), message
