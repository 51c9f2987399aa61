"""The book's ``mnist_loader``: the same three functions and return values, reading the
book's ``../data/mnist.pkl.gz`` when it is there (the book runs from its ``src/``
folder, with ``data/`` beside it) and otherwise the MNIST files that
:mod:`nnfast.datasets` finds (or downloads).

``load_data`` gives tuples ``(images, labels)``: images float32 of shape (N, 784),
labels int64. ``load_data_wrapper`` gives lists of ``(x, y)`` pairs: ``x`` a (784, 1)
float64 column; ``y`` a one-hot (10, 1) column for training, the int label otherwise.
They are lists, not the one-shot ``zip`` iterators of the book's Python 3 ports.
"""
import errno
import os
from pathlib import Path

import numpy as np

from nnfast import datasets

# Where the book's code, run from its src/ folder, finds its data.
BOOK_PICKLE = Path("..", "data", "mnist.pkl.gz")
BOOK_EXPANDED_PICKLE = Path("..", "data", "mnist_expanded.pkl.gz")
_REGENERATE = ("python -m nnfast.book.expand_mnist, run from the book's src/ folder, "
               f"writes {BOOK_EXPANDED_PICKLE}")


def load_data(path=None):
    """``(training_data, validation_data, test_data)``: 50,000, 10,000 and 10,000 images.

    ``path`` may be the book's ``mnist.pkl.gz``, the expanded training set
    ``mnist_expanded.pkl.gz`` (250,000 training images, written by
    :mod:`nnfast.book.expand_mnist` or by the book's own script), or a directory
    holding the MNIST IDX files. By default the book's ``../data/mnist.pkl.gz`` is read
    when it exists, else the IDX files are looked for as by
    :func:`nnfast.datasets.load_mnist`. A ``path`` that does not exist is a
    FileNotFoundError: it is never replaced by data found elsewhere.
    """
    data = load_dataset(path)
    return ((data.X_train, data.y_train),
            (data.X_validation, data.y_validation),
            (data.X_test, data.y_test))


def load_dataset(path=None):
    """The data :func:`load_data` returns, as a :class:`nnfast.datasets.Dataset`."""
    if path is None:
        if BOOK_PICKLE.is_file():
            return datasets.load_mnist_pkl(BOOK_PICKLE)
        return datasets.load_mnist(None, split="book")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file or directory name, not {type(path).__name__}")
    if Path(path).is_dir():
        return datasets.load_mnist(path, split="book")
    expanded = "expanded" in Path(path).name
    if not Path(path).exists():
        hint = f" ({_REGENERATE})" if expanded else ""
        raise FileNotFoundError(errno.ENOENT, f"no such file{hint}", str(path))
    try:
        return datasets.load_mnist_pkl(path)
    except ValueError as exc:
        if not expanded:
            raise
        raise ValueError(f"{exc}\nTo regenerate it, delete it: {_REGENERATE}.") from None


def load_data_wrapper(path=None):
    """``(training_data, validation_data, test_data)`` as lists of ``(x, y)`` pairs."""
    training, validation, test = load_data(path)
    training_data = [(x, vectorized_result(y)) for x, y in _columns(training)]
    validation_data = [(x, int(y)) for x, y in _columns(validation)]
    test_data = [(x, int(y)) for x, y in _columns(test)]
    return training_data, validation_data, test_data


def _columns(split):
    """Each image as a (784, 1) float64 column (a view into one array), with its label."""
    images, labels = split
    X = np.asarray(images, dtype=np.float64)
    return zip((row.reshape(-1, 1) for row in X), labels)


def vectorized_result(j):
    """A (10, 1) column with 1.0 in row ``j``: the desired output for digit ``j``."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e
