"""Fixtures of the benchmarks: every baseline runs in the same process."""
import numpy as np
import pytest

import nnfast


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with what it ran on, for the ratio report: the ISA in use and the
    machine's measured peak GFLOP/s per core in the benchmark's dtype (float32 unless
    it names one), the yardstick of its efficiency: the mean of a measurement when the
    benchmark is tagged, before it runs, and one after it ran. A core's clock moves
    with its load, temperature and neighbours (one host read 40.7 and 47.9 GFLOP/s
    minutes apart), so each benchmark is measured against the peak of its own minutes."""
    dtypes = []

    def tag(**info):
        dtypes.append(info.get("dtype", "float32"))
        benchmark.extra_info.update(info, isa=nnfast.info()["isa"],
                                    peak_gflops=nnfast.peak_gflops(dtypes[-1], fresh=True))

    yield tag
    if dtypes:
        before = benchmark.extra_info["peak_gflops"]
        benchmark.extra_info["peak_gflops"] = (before + nnfast.peak_gflops(dtypes[-1],
                                                                            fresh=True)) / 2


@pytest.fixture
def rng():
    return np.random.default_rng(2026)
