"""The float engine flushes subnormals to zero (x86's FTZ and DAZ) for its own calls,
on every thread of its teams; the double engine and nnfast.kernels keep IEEE gradual
underflow, and the caller's mode is restored on every thread (csrc/engine.c,
csrc/parallel.h)."""
import platform

import numpy as np
import pytest

import nnfast
from nnfast import _kernels, kernels
from engine_checks import thresholds

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                                reason="flush-to-zero is x86's MXCSR; elsewhere nothing flushes")

FLOAT_TINY = float(np.finfo(np.float32).tiny)
DOUBLE_TINY = float(np.finfo(np.float64).tiny)
ROWS = 64  # enough rows that a team of two splits them


@pytest.fixture
def two_threads_everywhere():
    """Every kernel goes parallel (thresholds of 0) on two threads by default."""
    previous = nnfast.get_num_threads()
    _kernels.put_parallel_plan(thresholds(0))
    nnfast.set_num_threads(2)
    yield
    nnfast.set_num_threads(previous)
    nnfast.plan.forget()


def saturated(dtype, z):
    """A one-weight sigmoid network whose output is sigmoid(z) for any input 0."""
    net = nnfast.Network([1, 1], dtype=dtype, seed=0)
    net.weights[0][...] = 0
    net.biases[0][...] = z
    return net


def test_the_float_engine_flushes_a_subnormal_output_on_every_thread(two_threads_everywhere):
    # sigmoid(-100) = e^-100 = 3.7e-44 is subnormal in float.
    x = np.full((ROWS, 1), -100.0, np.float32)
    by_kernel = kernels.sigmoid(x)
    assert np.all((by_kernel > 0) & (by_kernel < FLOAT_TINY))
    out = saturated(np.float32, -100.0).feedforward(np.zeros((ROWS, 1), np.float32))
    assert np.array_equal(out, np.zeros((ROWS, 1), np.float32))


def test_the_double_engine_keeps_gradual_underflow(two_threads_everywhere):
    # sigmoid(-740) = e^-740 = 4.2e-322 is subnormal in double.
    out = saturated(np.float64, -740.0).feedforward(np.zeros((ROWS, 1)))
    assert np.all((out > 0) & (out < DOUBLE_TINY))
    assert np.array_equal(out, kernels.sigmoid(np.full((ROWS, 1), -740.0)))


def test_after_training_the_callers_kernels_underflow_gradually_on_every_thread(
        two_threads_everywhere):
    # Training ran flushed on both threads of its teams; a kernel called afterwards,
    # on those threads, computes in the caller's IEEE mode again.
    rng = np.random.default_rng(0)
    net = nnfast.Network([6, 5, 3], seed=0)
    X = rng.random((40, 6), dtype=np.float32)
    net.SGD((X, rng.integers(0, 3, 40)), 2, 4, 3.0, n_threads=2, progress=False)
    x = np.full((ROWS, 33), -100.0, np.float32)
    out = kernels.sigmoid(x, n_threads=2)
    assert np.all(out == kernels.sigmoid(x[:1, :1], n_threads=1)[0, 0])
    assert 0 < out[0, 0] < FLOAT_TINY


def test_flushed_training_is_the_same_on_any_thread_count(two_threads_everywhere):
    # Large weights saturate the hidden sigmoids, so the errors BP2 scales by their
    # derivatives fall below float's normal range: flushed alike on every thread.
    rng = np.random.default_rng(1)
    X = rng.random((60, 8), dtype=np.float32)
    labels = rng.integers(0, 4, 60)
    results = []
    for threads in (1, 2):
        net = nnfast.Network([8, 7, 4], seed=3)
        net.weights[0][...] *= 60
        net.SGD((X, labels), 3, 6, 0.5, n_threads=threads, progress=False)
        results.append([w.copy() for w in net.weights + net.biases])
    for one, two in zip(*results):
        assert np.array_equal(one, two)
