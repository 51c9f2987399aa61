"""SGD's progress argument: a bar at a terminal, silence otherwise, callables as before."""
import io

import numpy as np
import pytest

import nnfast


@pytest.fixture
def run(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 20), dtype=np.float32), rng.integers(0, 3, 300)

    def train(progress, tty):
        stderr = io.StringIO()
        stderr.isatty = lambda: tty
        monkeypatch.setattr("sys.stderr", stderr)
        nnfast.Network([20, 8, 3], seed=0).SGD((X, y), 2, 10, 0.5, progress=progress)
        return stderr.getvalue()
    return train


def test_default_draws_a_bar_at_a_terminal_only(run):
    shown = run(None, tty=True)
    assert "epoch 1/2" in shown and "epoch 2/2" in shown and "sample/s" in shown
    assert run(None, tty=False) == ""


def test_true_and_false_decide(run):
    assert "epoch 1/2" in run(True, tty=False)
    assert run(False, tty=True) == ""


def test_a_callable_is_called_instead(run):
    calls = []
    assert run(lambda *args: calls.append(args), tty=True) == ""
    assert calls[-1] == (1, 300, 300)
