"""GEMM: nnfast against numpy.matmul (OpenBLAS) in the same run.

Large cubes show the kernel's throughput; the book's small shapes (a mini-batch of
10 against the layers of [784, 30, 10] and [784, 100, 10]) show the per-call cost
that matters when training. `python benches/ratios.py RESULTS.json` prints ratios.
"""
import numpy as np
import pytest

from nnfast import kernels
from support import blas_threads, random_matrix

LARGE = [(1024, 1024, 1024), (2048, 2048, 2048)]
BOOK = [(10, 784, 30), (10, 30, 784), (30, 784, 10), (10, 100, 784), (100, 784, 10)]
IMPLS = ["nnfast", "numpy"]


def run(benchmark, record, rng, shape, dtype, threads, impl):
    m, k, n = shape
    a = random_matrix(rng, (m, k), dtype)
    b = random_matrix(rng, (k, n), dtype)
    out = np.empty((m, n), dtype)
    record(shape="x".join(map(str, shape)), dtype=np.dtype(dtype).name, threads=threads,
           impl=impl, flops=2 * m * n * k)
    if impl == "nnfast":
        result = benchmark(kernels.matmul, a, b, out, n_threads=threads)
    else:
        with blas_threads(threads):
            result = benchmark(np.matmul, a, b, out=out)
    # Each run is checked, so a fast wrong kernel can never look good here.
    reference = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    assert np.allclose(result, reference, rtol=tol, atol=tol * np.sqrt(k))


@pytest.mark.benchmark(group="gemm")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", LARGE, ids=lambda s: "x".join(map(str, s)))
def test_gemm_large(benchmark, record, rng, shape, dtype, threads, impl):
    run(benchmark, record, rng, shape, dtype, threads, impl)


@pytest.mark.benchmark(group="gemm")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", BOOK, ids=lambda s: "x".join(map(str, s)))
def test_gemm_book_shapes(benchmark, record, rng, shape, dtype, impl):
    run(benchmark, record, rng, shape, dtype, 1, impl)


# The step's update w += alpha delta^T a for a mini-batch of 10 (delta 10 x units, a
# 10 x 784): the chain family's direct path with k = 10, C read and written.
UPDATE = [(10, 30, 784), (10, 100, 784)]


@pytest.mark.benchmark(group="gemm")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", UPDATE, ids=lambda s: "x".join(map(str, s)))
def test_gemm_update(benchmark, record, rng, shape, dtype, impl):
    rows, units, n_in = shape
    delta = random_matrix(rng, (rows, units), dtype)
    a = random_matrix(rng, (rows, n_in), dtype)
    w0 = random_matrix(rng, (units, n_in), dtype)
    w, product = w0.copy(), np.empty((units, n_in), dtype)
    alpha = dtype(-0.01)
    record(shape="x".join(map(str, shape)), dtype=np.dtype(dtype).name, threads=1,
           impl=impl, flops=2 * rows * units * n_in)

    calls = [0]

    def update():
        calls[0] += 1
        if impl == "nnfast":
            kernels.matmul(delta, a, w, trans_a=True, alpha=alpha, beta=1.0, n_threads=1)
        else:
            np.matmul(delta.T, a, out=product)
            np.multiply(product, alpha, out=product)
            np.add(w, product, out=w)

    with blas_threads(1):
        benchmark(update)
    # w took every call's update: checked against as many of them in float64.
    want = w0 + calls[0] * alpha * (delta.T.astype(np.float64) @ a)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    assert np.allclose(w, want, rtol=tol, atol=tol * calls[0])


# A dense layer's three products at mini-batch 256, as the engine calls them (w is
# units x n_in, the book's shape): the forward z = a w^T, BP2 delta w for the layer
# below, and the update w += alpha delta^T a. Layers: W1's and W2's first and output
# layers, the dense layers of W4 (2880 -> 100) and W5 (640 -> 100). NumPy's update is
# its product, then the scale and the add. The mark: each at least 0.85 of
# OpenBLAS (`python benches/ratios.py` on the JSON).
LAYERS_256 = [(784, 30), (30, 10), (784, 100), (100, 10), (2880, 100), (640, 100)]


@pytest.mark.benchmark(group="gemm")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("product", ["forward", "bp2", "update"])
@pytest.mark.parametrize("layer", LAYERS_256, ids=lambda s: f"{s[0]}to{s[1]}")
def test_gemm_mini_batch_256(benchmark, record, rng, layer, product, threads, impl):
    n_in, units = layer
    rows, dtype, alpha = 256, np.float32, np.float32(-0.01)
    a = random_matrix(rng, (rows, n_in), dtype)
    delta = random_matrix(rng, (rows, units), dtype)
    w0 = random_matrix(rng, (units, n_in), dtype)
    w = w0.copy()
    out = np.empty((rows, units if product == "forward" else n_in), dtype)
    record(layer=f"{n_in}->{units}", product=product, threads=threads, impl=impl,
           flops=2 * rows * units * n_in)
    calls = [0]

    def step():
        calls[0] += 1
        if product == "forward":
            if impl == "nnfast":
                return kernels.matmul(a, w, out, trans_b=True, n_threads=threads)
            return np.matmul(a, w.T, out=out)
        if product == "bp2":
            if impl == "nnfast":
                return kernels.matmul(delta, w, out, n_threads=threads)
            return np.matmul(delta, w, out=out)
        if impl == "nnfast":
            return kernels.matmul(delta, a, w, trans_a=True, alpha=alpha, beta=1.0,
                                  n_threads=threads)
        update = np.matmul(delta.T, a)
        np.multiply(update, alpha, out=update)
        return np.add(w, update, out=w)

    with blas_threads(threads):
        result = benchmark(step)
    # Checked in float64, so that a fast wrong product can never look good here (the
    # tolerances of run() above; the update's as test_gemm_update's).
    tol = 1e-3
    if product == "forward":
        want, atol = a.astype(np.float64) @ w0.T.astype(np.float64), tol * np.sqrt(n_in)
    elif product == "bp2":
        want, atol = delta.astype(np.float64) @ w0.astype(np.float64), tol * np.sqrt(units)
    else:
        want, atol = w0 + calls[0] * alpha * (delta.T.astype(np.float64) @ a), tol * calls[0]
    assert np.allclose(result, want, rtol=tol, atol=atol)
