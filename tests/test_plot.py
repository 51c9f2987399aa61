"""nnfast.plot: the book's curves drawn from a History."""
import os

import numpy as np
import pytest

from nnfast import History, files

matplotlib = pytest.importorskip("matplotlib")
from nnfast import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_history_saves_both_panels(tmp_path):
    history = History([0.5, 0.4], [90, 95], [0.3, 0.2], [])
    fig = plot.plot_history(history, tmp_path / "h.png", title="run", n_evaluation=100)
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "accuracy (%)"
    assert [line.get_label() for line in fig.axes[0].lines] == ["training data",
                                                                "evaluation data"]


def test_plot_history_draws_only_what_was_monitored(tmp_path):
    fig = plot.plot_history(History([], [], [1.0, 0.5, 0.2], []), tmp_path / "c.svg")
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "cost"
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


def test_empty_history_is_an_error():
    with pytest.raises(ValueError, match="monitor"):
        plot.plot_history(History([], [], [], []))


def test_plot_curves(tmp_path):
    fig = plot.plot_curves({"η = 0.1": [3, 2, 1], "η = 1": [2, 1, 0.5]}, "cost",
                           tmp_path / "e.png", title="eta")
    assert len(fig.axes[0].lines) == 2 and (tmp_path / "e.png").is_file()


def test_plot_functions(tmp_path):
    x = np.linspace(0, 1, 11)
    fig = plot.plot_functions(x, {"f(x)": x**2, "fit": x}, tmp_path / "f.png", "title")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["f(x)", "fit"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), x**2)
    assert ax.get_xlabel() == "x" and ax.get_title() == "title"


def test_plot_functions_refuses_mismatched_curves():
    with pytest.raises(ValueError, match=r"curves\['fit'\] has 3 values for 4 x"):
        plot.plot_functions([0, 1, 2, 3], {"fit": [0, 1, 2]})
    with pytest.raises(ValueError, match="curves is empty"):
        plot.plot_functions([0, 1], {})

def test_plot_against_seconds(tmp_path):
    fig = plot.plot_against_seconds({"SGD": ([0.1, 0.2, 0.3], [3, 2, 1]),
                                     "Hessian-free": ([0.5, 1.0], [1, 0.2])}, "cost",
                                    tmp_path / "t.png", title="time")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds" and len(ax.lines) == 2
    assert list(ax.lines[1].get_xdata()) == [0.5, 1.0]
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("curves,match", [({}, "empty"),
                                          ({"SGD": ([0.1], [3, 2])}, "1 times for 2 values")])
def test_plot_against_seconds_refuses_bad_curves(curves, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_against_seconds(curves, "cost")


def test_a_plot_that_fails_half_way_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "h.svg"
    history = History([], [], [1.0, 0.5, 0.2], [])
    plot.plot_history(history, path)
    before = path.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plot.plot_history(History([], [], [3.0, 2.0], []), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["h.svg"]  # no temporary left behind


def test_a_path_without_an_extension_takes_the_default_format(tmp_path):
    plot.plot_history(History([], [], [1.0, 0.5], []), tmp_path / "loss")
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG  # as matplotlib's savefig
