"""Shared set-up of the benchmarks: baselines run in the same process, and NumPy's
BLAS is pinned to the thread count under test so the comparison is fair."""
import contextlib

import numpy as np
import pytest

import nnfast

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with the test extra
    threadpool_limits = None


@contextlib.contextmanager
def blas_threads(n):
    """Limit NumPy's BLAS to n threads for the block (a no-op without threadpoolctl)."""
    if threadpool_limits is None:
        yield
    else:
        with threadpool_limits(limits=n, user_api="blas"):
            yield


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with what it ran on, for the ratio report."""

    def tag(**info):
        benchmark.extra_info.update(info, isa=nnfast.info()["isa"])

    return tag


def random_matrix(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(2026)
