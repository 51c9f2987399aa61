"""Argument checks shared by the core and the book's modules.

Every public entry point validates its arguments here, once, before anything
changes; a fault is a TypeError or ValueError that names the argument. Data sets
are validated into :class:`Samples`, which the rest of nnfast trusts: passing a
`Samples` again costs no second pass over the data.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from nnfast import _kernels

# Training or evaluation data: (X, y) arrays, or the book's list of (x, y) pairs.
Data = Union[Tuple[np.ndarray, np.ndarray], Sequence[Tuple[Any, Any]]]


class _XLabels(NamedTuple):
    X: np.ndarray
    labels: np.ndarray


class Samples(_XLabels):
    """A validated data set: X a C-contiguous (N, n_in) array of finite values of the
    network's dtype, labels int64 class indices (N,) in [0, n_out). It unpacks as
    (X, labels)."""

    # byte_codes()'s answer, once asked
    _byte_codes: Optional[Tuple[np.ndarray, float]]

    def byte_codes(self) -> Optional[Tuple[np.ndarray, float]]:
        """X's values as bytes, (codes, scale) with X == codes / scale bit for bit, or
        None: MNIST's pixels are bytes k/255 (nnfast's loaders) or k/256 (the book's
        pickle). Training gathers its mini-batches from the bytes, a quarter of the
        reads of X's floats, into the same values. Found on the first call (one pass
        over X) and kept, as X's check is: change X, and validate it again."""
        if not hasattr(self, "_byte_codes"):
            self._byte_codes = _kernels.byte_codes(self.X)
        return self._byte_codes

    def fits(self, n_in: int, n_out: int, dtype: np.dtype) -> bool:
        """Whether these samples were validated for a network of this shape and dtype."""
        return (self.X.shape[1] == n_in and self.X.dtype == dtype
                and self.n_classes_seen <= n_out)

    @property
    def n_classes_seen(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


# A plain int or float is taken without asking the numbers ABCs, whose isinstance
# checks were most of the checks' time (a check runs for each argument of each call).

def check_int(value: Any, name: str, minimum: int) -> int:
    if type(value) is not int and (isinstance(value, bool)
                                   or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value: Any, name: str, minimum: float, strict: bool = False) -> float:
    if type(value) not in (float, int) and (isinstance(value, bool)
                                            or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond any float, such as 10**400
        raise ValueError(f"{name} must be finite, got an int of {value.bit_length()} "
                         "bits") from None
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def check_flag(value: Any, name: str) -> bool:
    """A bool (or 0/1): "no", "False" or None would otherwise choose by their truth."""
    if not (isinstance(value, (bool, np.bool_))
            or isinstance(value, numbers.Integral) and value in (0, 1)):
        raise TypeError(f"{name} must be True or False, got {value!r:.40}")
    return bool(value)


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def check_regularization(regularization: Any) -> str:
    if regularization not in ("l2", "l1"):
        raise ValueError(f"regularization must be 'l2' or 'l1', got {regularization!r}")
    return regularization


def check_inputs(X: Any, n_in: int, dtype: np.dtype, name: str) -> np.ndarray:
    """X as a C-contiguous, aligned (N, n_in) array of dtype with finite values; an
    array that is already that is not copied."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}")
    check_real_dtype(X, name)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (N, {n_in}), got {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty")
    # require() copies only what is not C-contiguous, aligned and of dtype already: the
    # engine reads the rows with vector loads.
    X = np.require(X, dtype=dtype, requirements=("C", "A"))
    if X.strides != (X.shape[1] * X.itemsize, X.itemsize):
        # NumPy calls an axis of length 1 contiguous whatever its stride (x[:, None]
        # gives it 0); the engine reads rows with the strides themselves.
        X = X.copy()
    # One pass over the bits on every thread, without a mask as big as X: a data set is
    # read at the speed of memory, which one core does not reach.
    if not _kernels.all_finite(X):
        raise ValueError(f"{name} holds NaN or infinite values")
    return X


def check_labels(y: Any, n: int, n_out: int, name: str) -> np.ndarray:
    """Integer class labels (n,) from labels or one-hot rows."""
    y = as_array(y, f"{name} labels")
    if y.dtype == np.bool_ or y.dtype.kind not in "fiu":
        raise TypeError(f"{name} labels must be integers or one-hot rows, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1 and n_out != 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape != (n, n_out):
            raise ValueError(f"{name} one-hot labels must have shape ({n}, {n_out}), got {y.shape}")
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise ValueError(f"{name} one-hot rows must hold a single 1 and zeros")
        return np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} labels must have shape ({n},) or ({n}, {n_out}), got {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"{name} labels must be whole numbers")
    if len(y) and (y.min() < 0 or y.max() >= n_out):
        raise ValueError(f"{name} labels must be in [0, {n_out}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return np.ascontiguousarray(y, dtype=np.int64)


def as_samples(data: Any, n_in: int, n_out: int, dtype: np.dtype, name: str) -> Samples:
    """Samples from (X, y) arrays or the book's list of (x, y) column pairs; Samples
    already validated for this shape and dtype are returned as they are."""
    if isinstance(data, Samples) and data.fits(n_in, n_out, dtype):
        return data
    # The book's data is a sequence of (x, y) pairs, so a first item that is itself an
    # array means (X, y).
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        X = check_inputs(data[0], n_in, dtype, name)
        return Samples(X, check_labels(data[1], len(X), n_out, name))
    if isinstance(data, (list, tuple)) or hasattr(data, "__iter__") and not isinstance(data, np.ndarray):
        pairs = list(data)
        if not pairs:
            raise ValueError(f"{name} is empty")
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"{name}[{i}] must be an (x, y) pair, got "
                                f"{type(pair).__name__}")
        xs, ys = zip(*pairs)
        X = np.stack([_column(x, n_in, f"{name}[{i}][0]") for i, x in enumerate(xs)])
        X = check_inputs(X, n_in, dtype, name)
        if as_array(ys[0], f"{name}[0][1]").ndim == 0:
            try:
                y = np.asarray(ys)
            except ValueError:  # a list among the labels
                y = np.empty(0)
            if y.ndim != 1 or len(y) != len(ys):
                for i, v in enumerate(ys):
                    shape = as_array(v, f"{name}[{i}][1]").shape
                    if shape != ():
                        raise ValueError(f"{name}[{i}][1] must be a label, as {name}[0][1] "
                                         f"is; got shape {shape}")
        else:
            y = np.stack([_column(v, n_out, f"{name}[{i}][1]") for i, v in enumerate(ys)])
        return Samples(X, check_labels(y, len(X), n_out, name))
    raise TypeError(f"{name} must be (X, y) arrays or a list of (x, y) pairs, "
                    f"got {type(data).__name__}")


def check_real_dtype(a: np.ndarray, name: str) -> None:
    """A TypeError naming a unless it holds real numbers (not booleans, strings,
    objects or complex numbers)."""
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")


def as_array(value: Any, name: str) -> np.ndarray:
    """np.asarray(value), or a ValueError naming it where its rows differ in length."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} must be an array: its rows differ in length") from None


def _column(value: Any, size: int, name: str) -> np.ndarray:
    """One sample's input or one-hot output as a flat array of `size` values."""
    a = as_array(value, name)
    if a.size != size:
        raise ValueError(f"{name} must hold {size} values, got shape {a.shape}")
    return a.reshape(-1)
