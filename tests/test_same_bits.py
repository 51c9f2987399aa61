"""The same bits on every ISA: the reference, AVX2 and AVX-512 kernels compute each
output in one summation order (csrc/gemm_ukr.h, csrc/tuning.h), so every kernel and
every training run gives bit-identical results under NNFAST_ARCH=ref, avx2 and
avx512, on any thread count.

Each SIMD ISA this CPU runs is compared with the reference kernel, bit for bit: the
GEMM on shapes and strides that take each path (dot, direct, packed) with k below
and above KC, the gather kernel (sparse_matmul) at every width 1..70, a dense layer's BP2 and step
in one pass (the backward-step kernel against the products), the conv
kernels, and whole training runs of a W1-like MLP and W4- and W5-like conv nets
(whose backward takes the sparse products) on 1 and 2 threads. An ISA the CPU lacks is
skipped with the reason; under CI=true the CPU must have one to compare.
"""
import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

from nnfast import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer, _kernels, kernels
from nnfast.activations import ReLU
from engine_checks import using_arch

SIMD_ISAS = tuple(name for name in _kernels.ARCHS if name != "ref")
DTYPES = (np.float32, np.float64)
KC = _kernels.blocking(np.float32)["kc"]


@pytest.fixture(params=SIMD_ISAS)
def isa(request):
    if request.param not in _kernels.supported_archs():
        pytest.skip(f"this CPU cannot run the {request.param} kernels "
                    f"(best available: {_kernels.supported_archs()[-1]})")
    return request.param


def test_ci_has_an_isa_to_compare():
    """Under CI the comparisons below must not all be skipped."""
    if os.environ.get("CI") != "true":
        pytest.skip("CI is not 'true'")
    assert len(_kernels.supported_archs()) > 1, "the CI machine runs only the reference kernel"


def assert_same_bits(got, want, what):
    got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, what
    same = got.view(np.uint8).reshape(got.shape + (-1,)) == want.view(np.uint8).reshape(
        want.shape + (-1,))
    differ = ~same.all(axis=-1)
    if differ.any():
        i = tuple(np.argwhere(differ)[0])
        pytest.fail(f"{what}: {int(differ.sum())} of {differ.size} values differ from the "
                    f"reference kernel's; first at {i}: {got[i]!r} against {want[i]!r}")


def on_each(isa, compute, threads=(1, 2)):
    """compute(n_threads) under the reference kernel on one thread, then under isa on
    each thread count: [(label, result)] with the reference's first."""
    with using_arch("ref"):
        results = [("ref, 1 thread", compute(1))]
    with using_arch(isa):
        results += [(f"{isa}, {nt} threads", compute(nt)) for nt in threads]
    return results


def assert_all_same(results):
    (_, want), rest = results[0], results[1:]
    for label, got in rest:
        if isinstance(want, tuple):
            for index, (g, w) in enumerate(zip(got, want)):
                assert_same_bits(g, w, f"{label}, output {index}")
        else:
            assert_same_bits(got, want, label)


# ---- GEMM ----

# (m, n, k): each transpose and layout sends them down different paths; between the
# ISAs' tiles (4x8 reference, 6x16 AVX2, 12x32 AVX-512) the same product takes the
# direct path on one and the packed path on another (100x100x600, 60x140x300).
GEMM_SHAPES = [
    (1, 1, 1), (3, 5, 7), (10, 30, 784), (10, 784, 30), (30, 784, 10), (10, 10, 30),
    (10, 100, 784), (7, 1000, 10), (13, 11, KC - 1), (13, 11, KC + 1), (7, 9, 2 * KC + 3),
    (37, 29, 255), (33, 70, 17), (2, 3, 1000), (100, 100, 600), (60, 140, 300),
    (150, 200, 2 * KC + 1),
]


def _operand(rng, shape, dtype, layout):
    if layout == "C":
        return rng.standard_normal(shape).astype(dtype)
    if layout == "F":
        return np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    # every stride non-unit: a view with steps
    big = rng.standard_normal((2 * shape[0] + 1, 3 * shape[1] + 1)).astype(dtype)
    return big[1::2, 1::3]


@pytest.mark.parametrize("layout", ["C", "F", "step"])
@pytest.mark.parametrize("trans", [(False, False), (False, True), (True, False), (True, True)],
                         ids=lambda t: "".join("T" if x else "N" for x in t))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=lambda s: "%dx%dx%d" % s)
def test_matmul_same_bits(isa, shape, dtype, trans, layout):
    m, n, k = shape
    rng = np.random.default_rng([m, n, k])
    a = _operand(rng, (k, m) if trans[0] else (m, k), dtype, layout)
    b = _operand(rng, (n, k) if trans[1] else (k, n), dtype, layout)
    c0 = rng.standard_normal((m, n)).astype(dtype)

    def compute(n_threads):
        plain = kernels.matmul(a, b, trans_a=trans[0], trans_b=trans[1], n_threads=n_threads)
        scaled = c0.copy()
        kernels.matmul(a, b, scaled, trans_a=trans[0], trans_b=trans[1], alpha=-0.7, beta=1.3,
                       n_threads=n_threads)
        by_columns = c0.copy(order="F")  # a C whose rows are not contiguous
        kernels.matmul(a, b, by_columns, trans_a=trans[0], trans_b=trans[1], alpha=-0.7,
                       beta=1.3, n_threads=n_threads)
        return plain, scaled, by_columns

    assert_all_same(on_each(isa, compute))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("n_in", [784, 2880])
def test_dot_products_rows_are_the_same_bits_whatever_rows_come_with_them(dtype, n_in):
    """C = A W^T with 30 columns takes the dot path whatever A's rows (W1's first layer).
    A few rows are small enough for it to keep W's panels in L1, 300 rows keep them in
    L2 (panels of other widths, the rows' tiles in another order). Each row of C is the
    same bits either way, on every ISA's kernel and thread count."""
    rng = np.random.default_rng(n_in)
    a = rng.standard_normal((300, n_in)).astype(dtype)
    w = rng.standard_normal((30, n_in)).astype(dtype)
    for arch in _kernels.supported_archs():
        with using_arch(arch):
            for n_threads in (1, 2):
                whole = kernels.matmul(a, w, trans_b=True, n_threads=n_threads)
                for rows in (slice(0, 10), slice(137, 140), slice(299, 300)):
                    assert_same_bits(kernels.matmul(a[rows], w, trans_b=True,
                                                    n_threads=n_threads),
                                     whole[rows], f"{arch}, {n_threads} threads, rows {rows}")


# ---- the gather kernel ----


def _sparse(rng, rows, b_rows, dtype):
    """A rows x b_rows sparse matrix in compressed rows: 0 to 9 entries a row, in any
    column order, repeats allowed (conv's lists repeat a column when two pool
    windows share a maximum)."""
    counts = rng.integers(0, 10, rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intc)
    indices = rng.integers(0, b_rows, int(indptr[-1])).astype(np.intc)
    values = rng.standard_normal(int(indptr[-1])).astype(dtype)
    return indptr, indices, values


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_sparse_matmul_same_bits_every_width(isa, dtype):
    rng = np.random.default_rng(11)
    for width in range(1, 71):
        indptr, indices, values = _sparse(rng, 13, 17, dtype)
        b = rng.standard_normal((17, width + 3)).astype(dtype)[:, 2:width + 2]  # rows > width
        c0 = rng.standard_normal((13, width + 5)).astype(dtype)

        def compute(n_threads):
            plain = kernels.sparse_matmul(indptr, indices, values, b)
            into = c0.copy()
            kernels.sparse_matmul(indptr, indices, values, b, into[:, 1:width + 1], beta=1.5)
            return plain, into

        assert_all_same(on_each(isa, compute, threads=(1,)))


def _backward_step(dtype):
    """The core's nnf_*backward_step (a dense layer's BP2 and step in one pass over w,
    where the ISA has the kernel; else the GEMM's products), through ctypes."""
    core = ctypes.CDLL(str(Path(_kernels.__file__).parent / "libnnfast_core.so"))
    step = core.nnf_sbackward_step if dtype == np.float32 else core.nnf_dbackward_step
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    size, data = ctypes.c_longlong, ctypes.c_void_p
    step.argtypes = [size, size, size, size, data, size, data, real, real, data, data, real,
                     real, data, ctypes.c_int]
    step.restype = None
    return step


@pytest.mark.parametrize("shrink", [0.0, 0.003], ids=["no-l1", "l1"])
@pytest.mark.parametrize("momentum", [False, True], ids=["plain", "momentum"])
@pytest.mark.parametrize("add", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_backward_step_same_bits(isa, dtype, add, momentum, shrink):
    """BP2 over blocks of units and then the step, as the engine takes them for a dense
    layer (on one thread; a part split by units adds its later blocks to the first's;
    with momentum through the velocities; with L1's shrink of w after BP2 has read it,
    w holding zeros of both signs): 1 to 11 rows (the kernel takes up to 10), widths
    with and without a last partial vector, one to four blocks, beta 0, 1 and a decay
    (with momentum: beta is mu, and the decay scales w)."""
    step = _backward_step(dtype)
    rng = np.random.default_rng(13)
    for rows in range(1, 12):
        for n, units, blocks in ((2880, 100, 2), (37, 9, 1), (17, 10, 4), (5, 1, 1), (33, 64, 1)):
            for alpha, beta in ((-0.01, 1.0), (-0.3, 0.9995), (0.5, 0.0)):
                delta = rng.standard_normal((rows, units + 3)).astype(dtype)  # rows apart by more
                a = rng.random((rows, n)).astype(dtype)
                w0 = rng.standard_normal((units, n)).astype(dtype)
                w0.flat[::7], w0.flat[3::11] = 0.0, -0.0
                v0 = rng.standard_normal((units, n)).astype(dtype)
                below0 = rng.standard_normal((rows, n)).astype(dtype) if add else \
                    np.full((rows, n), np.nan, dtype)  # not read

                def compute(n_threads):
                    w, v, below = w0.copy(), v0.copy(), below0.copy()
                    step(rows, n, units, blocks, delta.ctypes.data, units + 3, a.ctypes.data,
                         alpha, beta, w.ctypes.data, v.ctypes.data if momentum else None, 0.999,
                         shrink, below.ctypes.data, add)
                    return w, v, below

                assert_all_same(on_each(isa, compute, threads=(1,)))


# ---- convolution ----


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shapes", [((3, 1, 13, 11), (4, 1, 5, 5)), ((2, 3, 9, 10), (5, 3, 3, 4))],
                         ids=["c1", "c3"])
def test_conv_same_bits(isa, shapes, dtype):
    x_shape, w_shape = shapes
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    out_shape = (x_shape[0], w_shape[0], x_shape[2] - w_shape[2] + 1, x_shape[3] - w_shape[3] + 1)
    dout = rng.standard_normal(out_shape).astype(dtype)

    def compute(n_threads):
        return (kernels.conv2d(x, w, bias, n_threads=n_threads),
                *kernels.conv2d_backward(x, w, dout, n_threads=n_threads))

    assert_all_same(on_each(isa, compute))


# ---- whole training runs ----


def _data(n, n_in, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (n, n_in)), rng.integers(0, 10, n)


def _train(make_net, data, epochs, eta, lmbda, n_threads):
    net = make_net()
    before = [np.array(w) for w in net.weights]
    net.SGD(data, epochs, 10, eta, lmbda=lmbda, n_threads=n_threads)
    for w, w0 in zip(net.weights, before):
        assert not np.array_equal(w, w0), "training left a layer's weights as they were"
    return tuple(np.array(p) for p in list(net.weights) + list(net.biases))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_mlp_training_same_bits(isa, dtype):
    """W1's [784, 30, 10] network, mini-batches of 10, with L2 (as W2)."""
    data = _data(300, 784, 1)
    results = on_each(isa, lambda nt: _train(lambda: Network([784, 30, 10], dtype=dtype, seed=7),
                                             data, 2, 3.0, 5.0, nt))
    assert_all_same(results)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_conv_training_same_bits(isa, dtype):
    """W4's conv net (20 5x5 filters, 2x2 max-pool, 100 sigmoid units, softmax), whose
    backward runs the gather kernel, on a few hundred samples."""

    def make_net():
        conv = ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2))
        return Network([conv, FullyConnectedLayer(conv.n_out, 100), SoftmaxLayer(100, 10)],
                       dtype=dtype, seed=5)

    data = _data(200, 784, 2)
    assert_all_same(on_each(isa, lambda nt: _train(make_net, data, 1, 0.1, 0.0, nt)))


def test_two_conv_training_same_bits(isa):
    """W5's shape (two conv-pool layers of ReLUs, a ReLU layer of 100, softmax): the
    second conv's products have k = 500 > KC and its sparse products 500 columns."""
    def make_net():
        conv1 = ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU)
        conv2 = ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU)
        return Network([conv1, conv2, FullyConnectedLayer(conv2.n_out, 100, ReLU),
                        SoftmaxLayer(100, 10)], seed=9)

    data = _data(60, 784, 3)
    assert_all_same(on_each(isa, lambda nt: _train(make_net, data, 1, 0.03, 0.1, nt)))


def _sigmoid_as_written(z):
    """activations.c's float sigmoid, one float32 NumPy operation per C operation, each
    rounded once as IEEE 754 says: what every compiled copy of the loop must give."""
    f = np.float32
    z = np.asarray(z, f)
    x = -np.abs(z)
    xc = np.where(x < f(-104.0), f(-104.0), x).astype(f)
    magic = f(12582912.0)
    t = (xc * f(1.44269504) + magic).astype(f)
    n = (t - magic).astype(f)
    r = ((xc - n * f(0.693145752)) - n * f(1.42860677e-6)).astype(f)
    r2 = (r * r).astype(f)
    r4 = (r2 * r2).astype(f)
    p01 = (f(1.0) + r).astype(f)
    p23 = (f(0.5) + r * (f(1.0) / f(6))).astype(f)
    p45 = (f(1.0) / f(24) + r * (f(1.0) / f(120))).astype(f)
    p67 = (f(1.0) / f(720) + r * (f(1.0) / f(5040))).astype(f)
    p = ((p01 + r2 * p23) + r4 * (p45 + r2 * p67)).astype(f)
    bits = (t.view(np.uint32) - np.uint32(0x4B400000) + np.uint32(127 + 64)) << np.uint32(23)
    e = ((p * bits.view(f)) * f(2.0**-64)).astype(f)  # 0 wherever x was clamped to -104
    return (np.where(z >= 0, f(1), e) / (f(1) + e)).astype(f)


def test_the_elementwise_loops_round_each_operation_as_written():
    """The elementwise loops run in the copy compiled for this CPU's widest vectors
    (clones.h). Held bit for bit to the operations as written, one rounding each, the
    copy cannot have fused a multiply-add or taken a reciprocal estimate: so every
    copy, on every CPU, gives these bits."""
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.standard_normal(4099) * 30, rng.standard_normal(1001),
                        [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 103.9, -103.9, 104.0, -104.0,
                         120.0, -120.0, np.inf, -np.inf]]).astype(np.float32)
    got = kernels.sigmoid(z.reshape(1, -1), n_threads=1).ravel()
    assert_same_bits(got, _sigmoid_as_written(z), "sigmoid")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("width", [1, 10, 15, 16, 17, 30, 33])
def test_every_value_rounds_alike_wherever_it_sits(width, threads):
    """A value takes the vector loop whether it sits in a whole vector or in a run's
    padded tail, in rows stored back to back (one run) or apart (a run a row), and the
    column-strided loop otherwise: each gives the operations as written, bit for bit."""
    rng = np.random.default_rng(width)
    z = (rng.standard_normal((7, width)) * 30).astype(np.float32)
    want = _sigmoid_as_written(z)
    wide = np.zeros((7, width + 5), np.float32)
    wide[:, 2:2 + width] = z
    for where, view in (("back to back", z), ("rows apart", wide[:, 2:2 + width]),
                        ("columns apart", np.asfortranarray(z))):
        assert_same_bits(kernels.sigmoid(view, n_threads=threads), want,
                         f"sigmoid, {width} wide, {where}")
