"""The book's ``mnist_loader``: the same three functions and return values, with the data
found (or downloaded) by :mod:`nnfast.datasets` instead of read from ``../data``.

``load_data`` gives tuples ``(images, labels)``: images float32 of shape (N, 784),
labels int64. ``load_data_wrapper`` gives lists of ``(x, y)`` pairs: ``x`` a (784, 1)
float64 column; ``y`` a one-hot (10, 1) column for training, the int label otherwise.
They are lists, not the one-shot ``zip`` iterators of the book's Python 3 ports.
"""
import zipfile
from pathlib import Path

import numpy as np

from nnfast import datasets
from nnfast.book import expand_mnist


def load_data(path=None):
    """``(training_data, validation_data, test_data)``: 50,000, 10,000 and 10,000 images.

    ``path`` may be the book's ``mnist.pkl.gz``, the ``.npz`` written by
    :mod:`nnfast.book.expand_mnist` (250,000 training images), or a directory holding
    the MNIST IDX files; by default the IDX files are looked for as in
    :func:`nnfast.datasets.load_mnist`.
    """
    if path is not None and Path(path).is_file():
        if zipfile.is_zipfile(path):
            data = expand_mnist.load(path)
        else:
            data = datasets.load_mnist_pkl(path)
    else:
        data = datasets.load_mnist(path, split="book")
    return ((data.X_train, data.y_train),
            (data.X_validation, data.y_validation),
            (data.X_test, data.y_test))


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
