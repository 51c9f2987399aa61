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
