"""Fixtures of the benchmarks: every baseline runs in the same process."""
import numpy as np
import pytest

import nnfast


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with what it ran on, for the ratio report."""

    def tag(**info):
        benchmark.extra_info.update(info, isa=nnfast.info()["isa"])

    return tag


@pytest.fixture
def rng():
    return np.random.default_rng(2026)
