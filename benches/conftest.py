"""Fixtures of the benchmarks: every baseline runs in the same process."""
import numpy as np
import pytest

import nnfast


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with what it ran on, for the ratio report: the ISA in use and the
    machine's measured peak GFLOP/s per core in the benchmark's dtype (float32 unless
    it names one), the yardstick of its efficiency."""

    def tag(**info):
        benchmark.extra_info.update(info, isa=nnfast.info()["isa"],
                                    peak_gflops=nnfast.peak_gflops(info.get("dtype", "float32")))

    return tag


@pytest.fixture
def rng():
    return np.random.default_rng(2026)
