"""Chapter 3's sweep on one machine two ways: a 12-point grid of [784, 30, 10] on 2,000
images in two Python threads against the same grid on a Dask cluster of two local worker
processes. ratios.py reports threads / cluster (impl "nnfast" is the cluster run).

The cluster pays per task what threads do not: pickling the network there and back,
scheduling, and a worker's first touch of the data it was sent once. `overhead` measures
that per task from a grid whose networks train on 10 images: about all of its time is
the overhead.
"""
import time

import numpy as np
import pytest

import nnfast

distributed = pytest.importorskip("distributed")

SIZES = [784, 30, 10]
GRID = {"eta": [0.1, 0.5, 1.0, 3.0], "lmbda": [0.0, 1.0, 5.0]}  # 12 points
N = 2_000


def factory(seed):
    return nnfast.Network(SIZES, seed=seed)


@pytest.fixture(scope="module")
def client():
    with distributed.Client(n_workers=2, threads_per_worker=1, processes=True,
                            dashboard_address=None) as c:
        yield c


@pytest.mark.benchmark(group="sweep")
@pytest.mark.parametrize("impl", ["nnfast", "threads"])
def test_sweep(benchmark, record, rng, client, impl):
    X = rng.random((N, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], N)
    executor = client if impl == "nnfast" else None
    # Two at a time either way: two worker processes, or two threads.
    workers = None if executor is not None else 2

    def sweep(X, y):
        return nnfast.sweep(factory, (X, y), GRID, 1, 10, executor=executor,
                            max_workers=workers)

    extra = {}
    if executor is not None:
        sweep(X[:10], y[:10])  # the workers' first import and warm-up
        began = time.perf_counter()
        sweep(X[:10], y[:10])
        extra["overhead_per_task_ms"] = round((time.perf_counter() - began) / 12 * 2 * 1e3, 2)
    record(points=12, images=N, workers=2, impl=impl, **extra)
    results = benchmark.pedantic(sweep, args=(X, y), rounds=3, iterations=1, warmup_rounds=0)
    assert len(results) == 12
