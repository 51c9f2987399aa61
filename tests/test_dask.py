"""Sweeps and ensembles on a real two-process Dask cluster and a process pool equal the
threaded runs bit for bit; failures name the grid point; the extra is optional."""
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import nnfast
from nnfast import TrainingFailed

distributed = pytest.importorskip("distributed")


def data(n=301, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 37), dtype=np.float32), rng.integers(0, 5, n)


def factory32(seed):
    return nnfast.Network([37, 11, 5], seed=seed)


def factory64(seed):
    return nnfast.Network([37, 11, 5], dtype=np.float64, seed=seed)


@pytest.fixture(scope="module")
def client():
    with distributed.Client(n_workers=2, threads_per_worker=1, processes=True,
                            dashboard_address=None) as c:
        yield c


def assert_same(a, b):
    np.testing.assert_array_equal(a._params, b._params)
    assert a.dtype == b.dtype
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


@pytest.mark.parametrize("factory", [factory32, factory64])
def test_sweep_on_the_cluster_equals_threads(client, factory):
    X, y = data()
    grid = {"eta": [0.1, 1.0], "lmbda": [0.0, 2.0]}
    kwargs = dict(evaluation_data=(X[:100], y[:100]), monitor_training_cost=True,
                  monitor_evaluation_accuracy=True)
    threads = nnfast.sweep(factory, (X, y), grid, 2, 7, **kwargs)
    cluster = nnfast.sweep(factory, (X, y), grid, 2, 7, executor=client, n_threads_each=2,
                           **kwargs)
    for t, c in zip(threads, cluster):
        assert t.params == c.params and t.accuracy == c.accuracy
        assert list(t.history) == list(c.history)
        assert_same(t.network, c.network)


def test_ensemble_on_an_executor_equals_threads(client):
    X, y = data()
    threads = nnfast.ensemble(factory32, (X, y), 3, 2, 7, 0.5, lmbda=0.1)
    on_dask = nnfast.ensemble(factory32, (X, y), 3, 2, 7, 0.5, lmbda=0.1,
                              executor=client.get_executor())
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        on_pool = nnfast.ensemble(factory32, (X, y), 3, 2, 7, 0.5, lmbda=0.1, executor=pool)
    for t, d, p in zip(threads.networks, on_dask.networks, on_pool.networks):
        assert_same(t, d)
        assert_same(t, p)


def test_a_task_that_raises_names_its_grid_point_and_the_client_survives(client):
    X, y = data()

    def negative(epoch):
        return -1.0

    with pytest.raises(TrainingFailed, match="grid point lmbda=1.0") as caught:
        nnfast.sweep(factory32, (X, y), {"lmbda": [1.0], "eta_schedule": [negative]}, 1, 7,
                     eta=0.5, executor=client)
    assert isinstance(caught.value.__cause__, ValueError)
    assert client.submit(lambda: 41 + 1).result() == 42


def test_without_distributed_threads_work_and_the_cluster_asks_for_the_extra():
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "import numpy as np, nnfast, nnfast.cluster\n"
        "X = np.zeros((20, 4), np.float32); y = np.zeros(20, np.int64)\n"
        "nnfast.sweep(lambda s: nnfast.Network([4, 3], seed=s), (X, y), {'eta': [0.1]}, 1, 5)\n"
        "try:\n"
        "    nnfast.cluster.connect(local_workers=2)\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "nnfast[dask]"' in out.stdout


def test_a_worker_killed_mid_run_is_an_error_naming_the_grid_point():
    """At the grid point whose eta_schedule is os._exit, the worker process ends at the
    first epoch; with no retries allowed that is the sweep's error, naming the point,
    and the client (whose cluster restarts the worker) stays usable."""
    import os
    import dask
    X, y = data()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.Client(n_workers=2, threads_per_worker=1, processes=True,
                                dashboard_address=None) as client:
            with pytest.raises(TrainingFailed, match="eta_schedule=<built-in function _exit>"):
                nnfast.sweep(factory32, (X, y), {"eta_schedule": [None, os._exit]}, 1, 7,
                             eta=0.1, executor=client)
            again = nnfast.sweep(factory32, (X, y), {"eta": [0.1, 0.5]}, 1, 7, executor=client)
            assert len(again) == 2
