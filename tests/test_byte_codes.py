"""Inputs that are bytes (csrc/byte_codes.c): MNIST's pixels k/255 or k/256, which
training gathers from their codes k instead of the floats. They must come back as the
very floats of X, on every ISA, so that a run on bytes is a run on X, bit for bit.
"""
from fractions import Fraction

import numpy as np
import pytest

from nnfast import Network, _kernels, datasets
from nnfast.checks import Samples
from engine_checks import using_arch

DTYPES = (np.float32, np.float64)
BYTES = np.arange(256)


@pytest.fixture(params=_kernels.ARCHS)
def isa(request):
    if request.param not in _kernels.supported_archs():
        pytest.skip(f"this CPU cannot run the {request.param} kernels")
    with using_arch(request.param):
        yield request.param


def _as_written(dtype, scale):
    """byte_codes.c's loop for every byte, one NumPy operation per C operation, each
    rounded once: what every compiled copy of the loop must give."""
    k, s = BYTES.astype(dtype), dtype(scale)
    rest = ((dtype(256) - s) / (dtype(256) * s)).astype(dtype)
    return (k * dtype(1 / 256) + (k * rest).astype(dtype)).astype(dtype)


def _as_fused(dtype, scale):
    """The loop with its sum fused (fma(k, rest, k / 256)), as the AVX2 and AVX-512
    copies compute it: the exact sum, rounded once."""
    s = dtype(scale)
    rest = Fraction(float((dtype(256) - s) / (dtype(256) * s)))
    nearest = float if dtype == np.float64 else _nearest_float32  # float(): correctly rounded
    return np.array([nearest(Fraction(int(k), 256) + int(k) * rest) for k in BYTES], dtype=dtype)


def _nearest_float32(exact):
    """exact (a Fraction) rounded to the nearest float32, ties to even."""
    guess = np.float32(float(exact))
    around = (np.nextafter(guess, np.float32(-np.inf)), guess,
              np.nextafter(guess, np.float32(np.inf)))
    return min(around, key=lambda v: (abs(Fraction(float(v)) - exact),
                                      int(np.array(v).view(np.int32)) & 1))


@pytest.mark.parametrize("scale", [255, 256])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_every_byte_is_found_as_its_correctly_rounded_quotient(dtype, scale):
    """k / scale by IEEE division, one rounding, for all 256 bytes: the loop's sum,
    fused or not, gives that rounding, so each value is taken as its byte."""
    x = (BYTES.astype(dtype) / dtype(scale)).reshape(8, 32)
    assert _as_written(dtype, scale).tobytes() == x.tobytes()
    assert _as_fused(dtype, scale).tobytes() == x.tobytes()
    found = _kernels.byte_codes(x)
    assert found is not None, f"{dtype.__name__} k/{scale} not taken as bytes"
    codes, got_scale = found
    assert got_scale == scale and codes.dtype == np.uint8 and codes.shape == x.shape
    np.testing.assert_array_equal(codes.ravel(), BYTES)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("value", [-0.0, 0.5 / 255, 256 / 255, -1 / 255, 1e-30, 0.3, np.nan,
                                   np.inf], ids=str)
def test_a_value_that_is_no_byte_keeps_the_floats(dtype, value):
    """One value that is not k/255 nor k/256 bit for bit (-0.0 is not +0.0), even
    last in a large array split among threads: the data stay floats."""
    x = (np.arange(20_011) % 256).astype(dtype) / dtype(255)
    x[-1] = value
    assert _kernels.byte_codes(x, n_threads=2) is None
    x[-1] = dtype(7) / dtype(255)
    assert _kernels.byte_codes(x, n_threads=2) is not None


def test_the_two_scales_do_not_mix():
    x = np.float32([3, 200]) / np.float32(255)
    x[1] = np.float32(200) / np.float32(256)
    assert _kernels.byte_codes(x) is None


def test_samples_unpack_as_x_and_labels_and_keep_their_codes(fashion_dir):
    X, y = datasets.load_fashion_mnist_test(fashion_dir, download=False)
    samples = Samples(X[:100], y[:100].astype(np.int64))
    assert len(samples) == 2
    first, labels = samples
    assert first is samples.X and labels is samples.labels
    found = samples.byte_codes()
    assert found is not None and found[1] == 255
    assert samples.byte_codes() is found  # found once, kept
    np.testing.assert_array_equal(found[0] / np.float32(255), X[:100])


def _fashion(fashion_dir, n, dtype, scale):
    X, y = datasets.load_fashion_mnist_test(fashion_dir, download=False, dtype=dtype)
    X = X[:n]
    if scale == 256:  # the book's pickle holds k/256
        X = np.rint(X * 255).astype(dtype) / dtype(256)
    return X, y[:n]


def _train(data, dtype, n_threads, mini_batch_size, as_bytes, epochs=2, lmbda=5.0):
    net = Network([data[0].shape[1], 30, 10], dtype=dtype, seed=3)
    samples = net.samples(data)
    if not as_bytes:
        samples._byte_codes = None  # the floats, as for data that are not bytes
    net.SGD(samples, epochs, mini_batch_size, 3.0, lmbda=lmbda, n_threads=n_threads,
            progress=False)
    return samples, [np.array(p) for p in list(net.weights) + list(net.biases)]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("mini_batch_size", [10, 7])
@pytest.mark.parametrize("scale", [255, 256])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_training_on_bytes_is_training_on_the_floats(isa, fashion_dir, dtype, scale,
                                                     mini_batch_size, n_threads):
    """Fashion-MNIST's pixels, 2 epochs of 300 samples with L2 (7 leaves a short last
    mini-batch), on 1 thread (copied as trained) and 2 (copied ahead, or by each part
    of a first layer split by units), under each ISA's kernels: the same bits as from
    the floats."""
    data = _fashion(fashion_dir, 300, dtype, scale)
    samples, on_bytes = _train(data, dtype, n_threads, mini_batch_size, True)
    assert samples.byte_codes() is not None and samples.byte_codes()[1] == scale
    _, on_floats = _train(data, dtype, n_threads, mini_batch_size, False)
    for i, (got, want) in enumerate(zip(on_bytes, on_floats)):
        differ = int((got.view(np.uint8) != want.view(np.uint8)).sum())
        assert differ == 0, f"parameter {i}: {differ} bytes differ from training on the floats"


@pytest.mark.parametrize("scale", [255, 256])
@pytest.mark.parametrize("width", [1, 7, 8, 9, 15, 16, 17, 31, 33, 256 + 9])
def test_rows_of_any_width_come_back_as_their_floats(width, scale):
    """Rows whose width is not a whole number of the copy's vectors (8 floats in AVX2,
    16 in AVX-512), and rows that hold every byte: each value the CPU's copy returns,
    in its vectors' lanes and past them, is the float of x (k/scale by IEEE division),
    or the weights of its column would differ from training on the floats."""
    rng = np.random.default_rng(width)
    k = rng.integers(0, 256, (40, width))
    if width > 256:
        k[:, :256] = np.array([rng.permutation(256) for _ in range(40)])
    data = k.astype(np.float32) / np.float32(scale), rng.integers(0, 10, 40)
    samples, on_bytes = _train(data, np.float32, 1, 7, True, epochs=1, lmbda=0.0)
    assert samples.byte_codes() is not None and samples.byte_codes()[1] == scale
    _, on_floats = _train(data, np.float32, 1, 7, False, epochs=1, lmbda=0.0)
    for got, want in zip(on_bytes, on_floats):
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("codes, why", [
    ((np.zeros((4, 6), np.int8), 255.0), "signed bytes"),
    ((np.zeros((3, 6), np.uint8), 255.0), "a row short"),
    ((np.zeros((4, 7), np.uint8)[:, :6], 255.0), "rows 7 apart"),
    ((np.zeros((4, 6), np.uint8), 100.0), "scale 100"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_the_engine_takes_only_codes_shaped_as_x(codes, why):
    net = Network([6, 3, 2], seed=0)
    x = np.arange(24, dtype=np.float32).reshape(4, 6) / np.float32(255)
    labels, perm = np.zeros(4, np.int64), np.arange(4, dtype=np.int64)
    before = [np.array(w) for w in net.weights]
    with pytest.raises(ValueError, match="codes must be byte_codes"):
        net._engine.train_chunk(x, labels, perm, 2, 0.1, 0.0, 0.0, 4, "l2",
                                net._engine.workspace(2, 1), 1, 0, None, None, codes)
    for w, w0 in zip(net.weights, before):
        np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("x", [np.zeros(4, np.int64), np.zeros(4, np.float16), [1.0], None],
                         ids=["int64", "float16", "list", "None"])
def test_byte_codes_refuses_what_is_not_a_float_array_by_name(x):
    with pytest.raises(TypeError, match=r"^byte_codes: x\b"):
        _kernels.byte_codes(x)


def test_byte_codes_refuses_a_layout_it_cannot_read_by_name():
    x = np.zeros((6, 8), np.float32)
    raw = np.zeros(4 * 5 + 1, np.uint8)
    for bad in (x[:, ::2], x.T, np.zeros(5, np.dtype(np.float32).newbyteorder()),
                raw[1:].view(np.float32)):
        with pytest.raises(ValueError, match=r"^byte_codes: x\b"):
            _kernels.byte_codes(bad)
    with pytest.raises(ValueError, match=r"^byte_codes: n_threads\b"):
        _kernels.byte_codes(x, n_threads=0)


def test_an_empty_array_is_no_bytes():
    assert _kernels.byte_codes(np.zeros((0, 784), np.float32)) is None
