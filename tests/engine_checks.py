"""Helpers shared by the engine's and the kernels' tests (test_network.py,
test_convnet.py, test_curvature.py, test_kernels.py, test_same_bits.py)."""
import contextlib

import numpy as np

from nnfast import _kernels, plan


def thresholds(value):
    """A plan of the elementwise, pooling and dropout kernels for
    nnfast._kernels.put_parallel_plan: each goes parallel above `value` elements (0:
    always, on the threads it is given)."""
    kinds = _kernels.PLAN_WORK_KINDS
    return {"threshold": dict.fromkeys(kinds, value), "fork_join_seconds": 0.0,
            "element_seconds": dict.fromkeys(kinds, 0.0)}


@contextlib.contextmanager
def fresh_plans(mode):
    """Run the block with no plans, planning by mode ('measure' or 'estimate'); then
    forget its plans and restore the mode before."""
    previous = plan.mode()
    plan.set_mode(mode)
    plan.forget()
    try:
        yield
    finally:
        plan.set_mode(previous)
        plan.forget()


def skip_unless_runs(isa):
    """Skip the test where this CPU cannot run the named ISA's kernels."""
    import pytest

    if isa not in _kernels.supported_archs():
        pytest.skip(f"this CPU cannot run the {isa} kernels")


@contextlib.contextmanager
def using_arch(name):
    """Run the block with the named micro-kernel, then restore the one in use before."""
    previous = _kernels.get_arch()
    _kernels.set_arch(name)
    try:
        yield
    finally:
        _kernels.set_arch(previous)


def params(net):
    """The network's parameters in the oracle's convention, as float64 copies."""
    weights = [np.array(w, dtype=np.float64) for w in net.weights]
    biases = [np.array(b, dtype=np.float64).reshape(-1) for b in net.biases]
    return weights, biases


def engine_train(net, X, labels, perm, mini_batch_size, eta, lmbda=0.0, momentum=0.0, n=None,
                 regularization="l2", n_threads=1, seed=0, layer_threads=None):
    """One engine call over the rows perm, as Network.SGD makes it."""
    X = np.ascontiguousarray(X, dtype=net.dtype)
    work = net._engine.workspace(mini_batch_size, n_threads)
    net._engine.train_chunk(X, np.ascontiguousarray(labels, dtype=np.int64),
                            np.ascontiguousarray(perm, dtype=np.int64), mini_batch_size,
                            eta, lmbda, momentum, len(X) if n is None else n, regularization,
                            work, n_threads, seed, None, layer_threads)


def assert_close_to(got, want, rel, what):
    """|got - want| <= rel * max(1, max|want|): an error on the array's scale."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, what
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max())
    assert err <= rel * scale, f"{what}: max error {err:.3g} > {rel:g} * {scale:.3g}"
