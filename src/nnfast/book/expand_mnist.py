"""The book's ``expand_mnist.py`` (chapter 6): the 50,000 training images, each also
shifted by one pixel down, up, right and left, make 250,000; saved with the validation
and test sets for ``mnist_loader.load_data`` to read back::

    python -m nnfast.book.expand_mnist          # writes mnist_expanded.npz here
    training, validation, test = mnist_loader.load_data("mnist_expanded.npz")

The expansion itself is :func:`nnfast.datasets.expand` (also ``expand`` here). Like the
book, :func:`main` shuffles the expanded pairs before saving (pass ``seed`` to repeat a
run). Unlike the book, the file is a compressed NumPy ``.npz`` (arrays named as the
fields of :class:`nnfast.datasets.Dataset`), not a pickle: loading it runs no code.
"""
import os
import zipfile
from pathlib import Path

import numpy as np

from nnfast import datasets

__all__ = ["expand", "expand_training", "load", "main", "save"]

expand = datasets.expand

DEFAULT_OUT = "mnist_expanded.npz"


def expand_training(data, *, shuffle=True, seed=None):
    """``data`` (a Dataset) with its training set expanded five-fold; validation and
    test untouched. With ``shuffle`` the expanded images and labels are shuffled together,
    in place (no second copy of the 250,000 images), from ``np.random.default_rng(seed)``.
    """
    X, y = expand(data.X_train, data.y_train)
    if shuffle:
        rng = np.random.default_rng(seed)
        # The same draws permute the rows of X and the labels alike.
        state = rng.bit_generator.state
        rng.shuffle(X)
        rng.bit_generator.state = state
        rng.shuffle(y)
    return data._replace(X_train=X, y_train=y)


def save(path, data):
    """Write ``data`` (a Dataset) to ``path`` as a compressed ``.npz`` (the name is kept
    as given). The file appears only once complete."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as f:  # a file object: np.savez would append ".npz"
            np.savez_compressed(f, **data._asdict())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load(path, *, dtype=np.float32):
    """The Dataset saved by :func:`save`, checked as ``mnist.pkl.gz`` is (float images of
    784 pixels in [0, 1], labels 0..9, as many as images). Raises ValueError otherwise."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in datasets.Dataset._fields}
    except KeyError as exc:
        raise ValueError(f"{path}: not an expanded data set: no array {exc}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    dtype = datasets._float_dtype(dtype)
    parts = []
    for part in ("train", "validation", "test"):
        X, y = datasets._check_pkl_split((arrays["X_" + part], arrays["y_" + part]),
                                         f"{path} ({part} data)")
        parts += [X.astype(dtype, copy=False), y.astype(np.int64, copy=False)]
    return datasets.Dataset(*parts)


def main(path=None, out=None, *, shuffle=True, seed=None):
    """Load MNIST (the book's split; ``path`` as for :func:`nnfast.datasets.load_mnist`),
    expand the training set and save everything to ``out`` (default
    ``mnist_expanded.npz`` in the current directory). As in the book, an existing file
    is left alone. Returns the path written (or found)."""
    out = Path(DEFAULT_OUT if out is None else out)
    if out.exists():
        print(f"The expanded training set already exists ({out}). Exiting.")
        return out
    print("Expanding the MNIST training set")
    data = expand_training(datasets.load_mnist(path, split="book"), shuffle=shuffle, seed=seed)
    print("Saving expanded data. This may take a few minutes.")
    save(out, data)
    return out


if __name__ == "__main__":
    main()
