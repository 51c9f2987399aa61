"""The elementwise, pooling and dropout kernels take n_threads, as matmul does.

n_threads=None means nnfast's current default (set_num_threads), passed to C
explicitly: a kernel never relies on OpenMP's per-thread default team size, which
set_num_threads in one Python thread does not move in another. Results do not depend
on the thread count. The sizes are odd and above the estimate rule's parallel
thresholds (csrc/plan.c), and the module sets the planner's thresholds to 0, so that
more than one thread really runs whatever this machine's fork/join costs.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnfast
from nnfast import _kernels, kernels
from engine_checks import thresholds

DTYPES = [np.float32, np.float64]
THREADS = [None, 1, 2, 3]

# Each kernel's arguments from a random generator, for a matrix of 257 x 131 values
# (33,667, above the estimate rule's 16,384).
SHAPE = (257, 131)
ELEMENTWISE = {
    "sigmoid": lambda r, dt: [r.uniform(-20, 20, SHAPE).astype(dt)],
    "sigmoid_prime": lambda r, dt: [r.uniform(-20, 20, SHAPE).astype(dt)],
    "sigmoid_prime_from_output": lambda r, dt: [r.uniform(0, 1, SHAPE).astype(dt)],
    "tanh": lambda r, dt: [r.uniform(-5, 5, SHAPE).astype(dt)],
    "tanh_prime_from_output": lambda r, dt: [r.uniform(-1, 1, SHAPE).astype(dt)],
    "relu": lambda r, dt: [r.uniform(-1, 1, SHAPE).astype(dt)],
    "relu_prime": lambda r, dt: [r.uniform(-1, 1, SHAPE).astype(dt)],
    "softmax": lambda r, dt: [r.uniform(-30, 30, SHAPE).astype(dt)],
    "hadamard": lambda r, dt: [r.uniform(-1, 1, SHAPE).astype(dt),
                               r.uniform(-1, 1, SHAPE).astype(dt)],
    "add_bias": lambda r, dt: [r.uniform(-1, 1, SHAPE).astype(dt),
                               r.uniform(-1, 1, SHAPE[1]).astype(dt)],
}

# 3 x 5 planes of 98 x 102 (149,940 values, above the estimate rule's 65,536).
IMAGES = (3, 5, 98, 102)


def _pool_calls(rng, dtype):
    """(name, call) for each pooling kernel and dropout, each call taking n_threads."""
    x = rng.standard_normal(IMAGES).astype(dtype)
    pooled, argmax = kernels.maxpool2d(x, (2, 3), n_threads=1)
    l2 = kernels.l2pool2d(x, (2, 3), n_threads=1)
    dout = rng.standard_normal(pooled.shape).astype(dtype)
    return [
        ("maxpool2d", lambda nt: kernels.maxpool2d(x, (2, 3), n_threads=nt)),
        ("maxpool2d_backward",
         lambda nt: kernels.maxpool2d_backward(dout, argmax, IMAGES, n_threads=nt)),
        ("l2pool2d", lambda nt: kernels.l2pool2d(x, (2, 3), n_threads=nt)),
        ("l2pool2d_backward", lambda nt: kernels.l2pool2d_backward(dout, x, l2, n_threads=nt)),
        ("dropout", lambda nt: kernels.dropout(x, 0.3, 12345, n_threads=nt)),
    ]


@pytest.fixture(autouse=True, scope="module")
def every_kernel_parallel():
    """Thresholds of 0: every kernel here runs its n_threads. The next use after the
    module plans them again."""
    _kernels.put_parallel_plan(thresholds(0))
    yield
    nnfast.plan.forget()


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.fixture
def restore_threads():
    previous = nnfast.get_num_threads()
    yield
    nnfast.set_num_threads(previous)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_bit_identical_across_n_threads(name, dtype):
    args = ELEMENTWISE[name](np.random.default_rng(len(name)), dtype)
    want = getattr(kernels, name)(*args, n_threads=1)
    for n_threads in THREADS:
        got = getattr(kernels, name)(*args, n_threads=n_threads)
        np.testing.assert_array_equal(got, want, err_msg=f"{name}, n_threads={n_threads}")
        out = np.full(SHAPE, np.nan, dtype)
        assert getattr(kernels, name)(*args, out=out, n_threads=n_threads) is out
        np.testing.assert_array_equal(out, want, err_msg=f"{name} into out")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pooling_and_dropout_bit_identical_across_n_threads(dtype):
    for name, call in _pool_calls(np.random.default_rng(7), dtype):
        want = _as_tuple(call(1))
        for n_threads in THREADS:
            got = _as_tuple(call(n_threads))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w, err_msg=f"{name}, n_threads={n_threads}")


BAD = [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)]


@pytest.mark.parametrize("value,error", BAD, ids=repr)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_bad_n_threads_refused_by_name_before_writing(name, value, error):
    args = ELEMENTWISE[name](np.random.default_rng(1), np.float64)
    out = np.full(SHAPE, np.nan)
    with pytest.raises(error, match=rf"^{name}: n_threads\b"):
        getattr(kernels, name)(*args, out=out, n_threads=value)
    assert np.isnan(out).all(), f"{name} wrote out before refusing n_threads"


@pytest.mark.parametrize("value,error", BAD, ids=repr)
def test_pooling_and_dropout_bad_n_threads_refused_by_name(value, error):
    for name, call in _pool_calls(np.random.default_rng(2), np.float64):
        with pytest.raises(error, match=rf"^{name}: n_threads\b"):
            call(value)


# Run in a fresh interpreter with OMP_NUM_THREADS=1, so that OpenMP's own default is
# one thread everywhere: the worker threads that appear during the call can only
# come from the n_threads that nnfast passed.
CROSS_THREAD = textwrap.dedent("""
    import os, sys, threading
    import numpy as np
    import nnfast
    from nnfast import kernels

    def tasks():
        return len(os.listdir("/proc/self/task"))

    x = np.random.default_rng(0).uniform(-5, 5, (257, 131)).astype(np.float32)
    want = kernels.sigmoid(x, n_threads=1)
    mode = sys.argv[1]
    if mode == "default":
        nnfast.set_num_threads(3)  # in the main thread only
    seen = {}

    def work():
        before = tasks()
        got = (kernels.sigmoid(x) if mode == "default"
               else kernels.sigmoid(x, n_threads=3))
        seen["new"] = tasks() - before
        seen["equal"] = bool(np.array_equal(got, want))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    print(seen["new"], seen["equal"])
""")


@pytest.mark.skipif(not _kernels.openmp_enabled(), reason="built without OpenMP")
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("mode", ["explicit", "default"])
def test_kernel_in_another_python_thread_runs_the_n_threads_asked(mode):
    """From a Python thread other than the one that called set_num_threads, a kernel
    given n_threads=3 (explicit), or none after set_num_threads(3) (default), runs a
    team of 3: two more OS threads, and the result of one thread."""
    # The estimate rule's thresholds, which the sigmoid's 33,667 values are above.
    env = dict(os.environ, OMP_NUM_THREADS="1", NNFAST_PLAN="estimate")
    env.pop("OMP_THREAD_LIMIT", None)
    run = subprocess.run([sys.executable, "-c", CROSS_THREAD, mode], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    new, equal = run.stdout.split()
    assert equal == "True"
    assert int(new) >= 2, f"the kernel ran {int(new) + 1} threads, not 3"

