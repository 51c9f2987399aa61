"""Training curves drawn like the book's figures (chapter 3: "Overfitting and
regularization", "How to choose a neural network's hyper-parameters"), and functions
of one variable (chapter 4: "A visual proof that neural nets can compute any function").

matplotlib is an optional extra: ``pip install "nnfast[plot]"``. It is imported when a
function here is called, not when nnfast is. With ``path`` the figure is drawn on the
Agg canvas (no display needed, no pyplot state touched) and saved; without it, pyplot
makes the figure so that a notebook or an interactive session shows it.
"""
from __future__ import annotations

import io
import os
from typing import Any, Collection, Mapping, Optional, Sequence, Tuple, Union

from nnfast.files import checked_path, write_atomically
from nnfast.network import History

PathLike = Union[str, "os.PathLike[str]"]

_CURVES = (  # History field, panel, label
    ("training_cost", "cost", "training data"),
    ("evaluation_cost", "cost", "evaluation data"),
    ("training_accuracy", "accuracy", "training data"),
    ("evaluation_accuracy", "accuracy", "evaluation data"),
)


def _figure(path, ncols):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("nnfast.plot needs matplotlib: pip install \"nnfast[plot]\" "
                          "(or pip install matplotlib)") from None
    size = (5.5 * ncols, 4.0)
    if path is None:
        from matplotlib import pyplot

        fig = pyplot.figure(figsize=size)
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
    return fig


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finish(fig, ax, ylabel, title, path):
    """One panel's label, title, grid and legend; the figure saved to path if given."""
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def _save(fig, path):
    """The figure written whole or not at all (files.write_atomically), in the format
    its extension names (PNG, SVG, PDF)."""
    from matplotlib import rcParams

    name = checked_path(path, "path")
    fmt = os.path.splitext(name)[1][1:].lower()
    if not fmt:  # as savefig does: its default format, its extension appended
        fmt = rcParams["savefig.format"]
        name = f"{name}.{fmt}"
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100)
    write_atomically(name, buffer.getvalue())


def _epochs(values):
    return range(1, len(values) + 1)


def plot_history(history: History, path: Optional[PathLike] = None,
                 title: Optional[str] = None, n_training: Optional[int] = None,
                 n_evaluation: Optional[int] = None) -> Any:
    """Cost and accuracy per epoch, on training and evaluation data, as network2.SGD
    monitors them (chapter 3's overfitting figures). Returns the matplotlib Figure.

    Only the lists that were monitored (non-empty) are drawn: the cost panel when any
    cost was, the accuracy panel when any accuracy was. Accuracies are counts of
    correct samples unless ``n_training`` / ``n_evaluation`` give the sizes, in which
    case they are drawn in percent, as the book does. ``path`` saves the figure (PNG,
    SVG, PDF: by its extension).
    """
    panels = [panel for panel in ("cost", "accuracy")
              if any(getattr(history, field) for field, p, _ in _CURVES if p == panel)]
    if not panels:
        raise ValueError("the history is empty: monitor a cost or an accuracy in SGD "
                         "(monitor_training_cost=True, ...)")
    fig = _figure(path, len(panels))
    sizes = {"training": n_training, "evaluation": n_evaluation}
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        percent = False
        for field, p, label in _CURVES:
            values = list(getattr(history, field))
            if p != panel or not values:
                continue
            n = sizes[field.split("_")[0]]
            if panel == "accuracy" and n:
                values = [100.0 * v / n for v in values]
                percent = True
            ax.plot(_epochs(values), values, label=label)
        _epoch_axis(ax)
        ax.set_ylabel("accuracy (%)" if percent else panel)
        ax.set_title(f"{panel} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def plot_curves(curves: Mapping[str, Sequence[float]], ylabel: str,
                path: Optional[PathLike] = None, title: Optional[str] = None) -> Any:
    """Several runs' values per epoch on one axis, one line per label: the book's
    comparisons (with and without L2 regularisation, several learning rates η).
    Returns the matplotlib Figure; ``path`` saves it."""
    if not curves:
        raise ValueError("curves is empty: give at least one label -> values per epoch")
    fig = _figure(path, 1)
    ax = fig.add_subplot(1, 1, 1)
    for label, values in curves.items():
        ax.plot(_epochs(values), list(values), label=label)
    _epoch_axis(ax)
    return _finish(fig, ax, ylabel, title, path)


def plot_functions(x: Collection[float], curves: Mapping[str, Collection[float]],
                   path: Optional[PathLike] = None, title: Optional[str] = None) -> Any:
    """Functions of x on one axis, one line per label: a target f(x) and the outputs of
    networks that approximate it (chapter 4). Each curve has one value per x.
    Returns the matplotlib Figure; ``path`` saves it."""
    if not curves:
        raise ValueError("curves is empty: give at least one label -> values at x")
    for label, values in curves.items():
        if len(values) != len(x):
            raise ValueError(f"curves[{label!r}] has {len(values)} values for {len(x)} x")
    fig = _figure(path, 1)
    ax = fig.add_subplot(1, 1, 1)
    for label, values in curves.items():
        ax.plot(list(x), list(values), label=label)
    ax.set_xlabel("x")
    return _finish(fig, ax, "f(x)", title, path)


def plot_against_seconds(curves: Mapping[str, Tuple[Sequence[float], Sequence[float]]],
                         ylabel: str, path: Optional[PathLike] = None,
                         title: Optional[str] = None) -> Any:
    """Several runs' values against the wall time they were reached at, one line per
    label -> (seconds, values): methods whose epochs cost different times compared
    fairly (SGD, momentum, Hessian-free). Returns the Figure; ``path`` saves it."""
    if not curves:
        raise ValueError("curves is empty: give at least one label -> (seconds, values)")
    for label, (seconds, values) in curves.items():
        if len(seconds) != len(values):
            raise ValueError(f"curves[{label!r}]: {len(seconds)} times for {len(values)} "
                             "values")
    fig = _figure(path, 1)
    ax = fig.add_subplot(1, 1, 1)
    for label, (seconds, values) in curves.items():
        ax.plot(list(seconds), list(values), marker=".", label=label)
    ax.set_xlabel("seconds")
    return _finish(fig, ax, ylabel, title, path)


__all__ = ["plot_against_seconds", "plot_curves", "plot_functions", "plot_history"]
