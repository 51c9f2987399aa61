"""The book's ``expand_mnist.py`` (chapter 6): the 50,000 training images, each also
shifted by one pixel down, up, right and left, make 250,000; saved with the validation
and test sets where the book's next session reads them. Run it as the book does, from
its ``src/`` folder (``data/`` beside it)::

    python -m nnfast.book.expand_mnist        # writes ../data/mnist_expanded.pkl.gz
    expanded_training_data, _, _ = network3.load_data_shared(
        "../data/mnist_expanded.pkl.gz")

The data comes from the book's ``../data/mnist.pkl.gz`` when it exists, else from the
MNIST IDX files :mod:`nnfast.datasets` finds (see :func:`nnfast.book.mnist_loader.load_data`).
The expansion itself is :func:`nnfast.datasets.expand` (also ``expand`` here). Like the
book, :func:`main` shuffles the expanded pairs before saving (pass ``seed`` to repeat a
run) and writes a gzipped pickle of ``(training, validation, test)``; here each is a
pair of arrays (the book's pickles a list of images and a list of NumPy scalars), so
the file holds nothing but arrays and tuples, and
:func:`nnfast.datasets.load_mnist_pkl` reads both.
"""
import argparse
import gzip
import pickle
import sys
from pathlib import Path

import numpy as np

from nnfast import datasets, files
from nnfast.book import mnist_loader

__all__ = ["expand", "expand_training", "main", "save"]

expand = datasets.expand

DEFAULT_OUT = mnist_loader.BOOK_EXPANDED_PICKLE

# Protocol 5 writes each array's memory as it is: no copy of the 250,000 images.
_PROTOCOL = 5


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
    """Write ``data`` (a Dataset) to ``path`` as the book's data files are: a gzipped
    pickle of ``((X_train, y_train), (X_validation, y_validation), (X_test, y_test))``.

    The file appears only once complete: it is written to a temporary file in the same
    directory, flushed to disk, then renamed over ``path``; on any failure (a full disk,
    Ctrl-C) ``path`` is left as it was."""
    if not (isinstance(data, tuple) and len(data) == 6):
        raise TypeError(f"data must be a nnfast.datasets.Dataset (six arrays), got "
                        f"{type(data).__name__}")
    splits = tuple((data[i], data[i + 1]) for i in range(0, len(data), 2))
    with files.replacing(path) as f:
        # mtime=0: the same data gives the same file.
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            pickle.dump(splits, gz, protocol=_PROTOCOL)


def main(path=None, out=None, *, shuffle=True, seed=None):
    """Load MNIST's book split (``path`` as for :func:`nnfast.book.mnist_loader.load_data`:
    by default the book's ``../data/mnist.pkl.gz``, else the IDX files found), expand
    the training set and save everything to ``out`` (default the book's
    ``../data/mnist_expanded.pkl.gz``). As in the book, an existing file is left alone.
    Returns the path written (or found). Raises FileNotFoundError when ``out``'s folder
    does not exist."""
    out = Path(DEFAULT_OUT if out is None else out)
    if out.exists():
        print(f"The expanded training set already exists ({out}). Exiting.")
        return out
    if not out.parent.is_dir():
        where = " (run from the book's src/ folder, with data/ beside it)" if \
            out == DEFAULT_OUT else ""
        raise FileNotFoundError(f"no folder {out.parent} to write {out.name} in{where}")
    print("Expanding the MNIST training set")
    data = expand_training(mnist_loader.load_dataset(path), shuffle=shuffle, seed=seed)
    print("Saving expanded data. This may take a few minutes.")
    save(out, data)
    return out


def _command(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nnfast.book.expand_mnist",
        description="The book's expand_mnist.py: MNIST's 50,000 training images and "
                    "their four one-pixel shifts, shuffled, with the validation and test "
                    "sets, as a gzipped pickle.")
    parser.add_argument("--data", help="the book's mnist.pkl.gz or a folder of MNIST IDX "
                        f"files (default: {mnist_loader.BOOK_PICKLE} if it exists, else "
                        "the folders nnfast searches)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="the file to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, help="seed of the shuffle (default: random)")
    args = parser.parse_args(argv)
    try:
        main(args.data, args.out, seed=args.seed)
    except (OSError, ValueError) as exc:
        print(f"expand_mnist: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_command())
