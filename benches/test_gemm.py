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
