"""Elementwise kernels against the NumPy expressions a user would write."""
import numpy as np
import pytest

from nnfast import kernels, oracle
from support import random_matrix

SHAPES = [(10, 30), (256, 784), (2048, 2048)]
CASES = {
    "sigmoid": (kernels.sigmoid, oracle.sigmoid, 1),
    "sigmoid_prime": (kernels.sigmoid_prime, oracle.sigmoid_prime, 1),
    "softmax": (kernels.softmax, oracle.softmax, 1),
    "hadamard": (kernels.hadamard, oracle.hadamard, 2),
}


@pytest.mark.benchmark(group="elementwise")
@pytest.mark.parametrize("impl", ["nnfast", "numpy"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", sorted(CASES))
def test_elementwise(benchmark, record, rng, name, shape, impl):
    fast, reference, arity = CASES[name]
    args = [random_matrix(rng, shape, np.float32) for _ in range(arity)]
    record(shape="x".join(map(str, shape)), dtype="float32", threads=0, impl=impl, kernel=name)
    result = benchmark(fast if impl == "nnfast" else reference, *args)
    np.testing.assert_allclose(result, reference(*args), rtol=1e-5, atol=1e-6)
