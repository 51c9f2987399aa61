"""MNIST and Fashion-MNIST as NumPy arrays: the IDX and ``mnist.pkl.gz`` readers, where
the files are looked for, a checksummed download into a cache when they are nowhere, and
the book's data expansion (:func:`expand`).

Images come back as rows of floats in [0, 1] (pixel / 255), shape (N, 784); labels as
int64 class indices. The IDX files may be gzipped or not, under their standard names.
"""
from __future__ import annotations

import gzip
import io
import math
import operator
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from nnfast import _download

PathLike = Union[str, "os.PathLike[str]"]

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

__all__ = [
    "DataNotFoundError",
    "Dataset",
    "expand",
    "load_fashion_mnist",
    "load_fashion_mnist_test",
    "load_mnist",
    "load_mnist_pkl",
    "load_mnist_test",
    "read_idx",
    "search_dirs",
]

_GZIP_MAGIC = b"\x1f\x8b"

# The IDX type codes of http://yann.lecun.com/exdb/mnist/ ("the IDX file format").
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_IMAGE_SHAPE = (28, 28)
_N_CLASSES = 10

# The book's mnist.pkl.gz splits the 60,000 training images into the first 50,000 for
# training and the last 10,000 for validation (hyper-parameter choice, chapter 3).
_BOOK_TRAINING_FILE_SIZE = 60_000
_BOOK_TRAINING_SIZE = 50_000

_MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando Research's
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras's
    ),
}

# What a download must hash to. MNIST: the .gz files themselves, since both mirrors serve
# the original archives byte for byte (the digests TensorFlow Datasets and torchvision
# check; the t10k ones recomputed here from copies with LeCun's published MD5s).
# Fashion-MNIST: the decompressed IDX bytes, because distributions recompress the
# archives (Debian's dataset-fashion-mnist does), changing the .gz but not its content.
_DIGESTS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": _download.Digest(
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": _download.Digest(
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": _download.Digest(
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": _download.Digest(
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": _download.Digest(
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", True),
        "train-labels-idx1-ubyte.gz": _download.Digest(
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", True),
        "t10k-images-idx3-ubyte.gz": _download.Digest(
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", True),
        "t10k-labels-idx1-ubyte.gz": _download.Digest(
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", True),
    },
}

# Where operating-system packages install the data (Debian: dataset-fashion-mnist).
_SYSTEM_DIRS = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}


class Dataset(NamedTuple):
    """Images as rows of floats in [0, 1], shape (N, 784); labels as int64, shape (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_validation: np.ndarray
    y_validation: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the places searched and could not be downloaded."""


# ---------------------------------------------------------------------------- readers

def read_idx(path: PathLike) -> np.ndarray:
    """The array in an IDX file (gzipped or not), native-endian.

    Raises ValueError when the file is not well-formed IDX: a bad magic number, an
    unknown type code, too few or too many dimensions, or a data length that does not
    match the dimensions exactly.
    """
    path = Path(path)
    return _parse_idx(_read_maybe_gzipped(path), path)


def _read_maybe_gzipped(path):
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip data ({exc})") from None


def _parse_idx(data, path):
    if len(data) < 4 or data[:2] != b"\0\0":
        raise ValueError(f"{path}: not an IDX file (its first two bytes must be zero)")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02X} (known: {known})")
    if not 1 <= ndim <= 4:
        raise ValueError(f"{path}: IDX header says {ndim} dimensions, expected 1 to 4")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path}: truncated IDX header: expected {header} bytes for {ndim} "
            f"dimensions, found {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    count = math.prod(dims)
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "trailing bytes after the data"
        shape = "×".join(map(str, dims))
        raise ValueError(
            f"{path}: {problem}: expected {expected} bytes for a {shape} array of "
            f"{dtype.name}, found {len(data)}")
    array = np.frombuffer(data, dtype, count=count, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else: a pickle can name any callable, and
    loading calls it, so every global outside this list is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 1 (the book's file)
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 2
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[module, name]
        except KeyError:
            raise ValueError(
                f"refusing to load {module}.{name} from a pickle: only NumPy arrays "
                "are allowed") from None


def load_mnist_pkl(path: PathLike, *, dtype=np.float32) -> Dataset:
    """The book's ``mnist.pkl.gz`` (50,000 / 10,000 / 10,000 images) as a Dataset.

    The file is a Python 2 pickle of three (images, labels) tuples. It is read with an
    unpickler that builds NumPy arrays only, so a tampered file cannot run code. The
    book's pixels are k/256, not k/255; they are kept as stored.
    """
    path = Path(path)
    dtype = _float_dtype(dtype)
    data = _read_maybe_gzipped(path)
    try:
        splits = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except ValueError:
        raise
    except Exception as exc:  # a damaged pickle fails in many ways; report them as one
        raise ValueError(f"{path}: not a valid mnist.pkl.gz pickle ({exc!r})") from None
    if not (isinstance(splits, tuple) and len(splits) == 3):
        raise ValueError(f"{path}: expected a tuple (training, validation, test)")
    arrays = []
    for part, split in zip(("training", "validation", "test"), splits):
        X, y = _check_pkl_split(split, f"{path} ({part} data)")
        arrays += [X.astype(dtype), y.astype(np.int64)]
    return Dataset(*arrays)


def _check_pkl_split(split, where):
    if not (isinstance(split, tuple) and len(split) == 2
            and all(isinstance(a, np.ndarray) for a in split)):
        raise ValueError(f"{where}: expected a tuple (images, labels) of NumPy arrays")
    X, y = split
    n_pixels = math.prod(_IMAGE_SHAPE)
    if X.dtype.kind != "f" or X.ndim != 2 or X.shape[1] != n_pixels:
        raise ValueError(f"{where}: expected float images of shape (N, {n_pixels}), "
                         f"found {X.dtype} {X.shape}")
    if y.dtype.kind not in "iu" or y.shape != (len(X),):
        raise ValueError(f"{where}: expected {len(X)} integer labels, found {y.dtype} {y.shape}")
    if X.size and not (np.all(X >= 0) and np.all(X <= 1)):
        raise ValueError(f"{where}: pixel values outside [0, 1]")
    if y.size and not (y.min() >= 0 and y.max() < _N_CLASSES):
        raise ValueError(f"{where}: labels outside 0..{_N_CLASSES - 1}")
    return X, y


# --------------------------------------------------------------------------- locating

def search_dirs(name: str, path: Optional[PathLike] = None) -> List[Path]:
    """The directories searched, in order, for data set ``name`` ("mnist" or
    "fashion-mnist"): ``path``; ``$NNFAST_DATA/<name>`` and ``$NNFAST_DATA``; the cache
    (``$XDG_CACHE_HOME/nnfast/<name>``, default ``~/.cache/nnfast/<name>``), where
    downloads go; then system-wide copies (Debian's ``/usr/share/datasets/fashion-mnist``).
    """
    dirs = []
    if path is not None:
        dirs.append(Path(path).expanduser())
    env = os.environ.get("NNFAST_DATA")
    if env:
        dirs += [Path(env).expanduser() / name, Path(env).expanduser()]
    dirs.append(_cache_dir(name))
    dirs += _SYSTEM_DIRS.get(name, ())
    return dirs


def _cache_dir(name):
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore a relative path.
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "nnfast" / name


def _find_in(directory, filename):
    """``directory/filename``, or the same file decompressed (name without .gz)."""
    for candidate in (directory / filename, directory / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _locate(name, filenames, path, download):
    """The paths of ``filenames``, all from the first directory that holds every one of
    them (files of different copies are never mixed); else downloaded into the cache."""
    if path is not None and Path(path).is_file():
        raise ValueError(f"{path} is a file; pass the directory holding the IDX files "
                         "(for the book's mnist.pkl.gz use load_mnist_pkl)")
    dirs = search_dirs(name, path)
    for directory in dirs:
        found = {f: _find_in(directory, f) for f in filenames}
        if all(found.values()):
            return found
    if not download:
        raise _not_found(name, filenames, dirs, "download=False")
    cache = _cache_dir(name)
    try:
        return {f: _find_in(cache, f) or _fetch(name, f, cache) for f in filenames}
    except OSError as exc:
        raise _not_found(name, filenames, dirs, str(exc)) from None


def _fetch(name, filename, cache):
    urls = [mirror + filename for mirror in _MIRRORS[name]]
    return _download.fetch(urls, cache / filename, _DIGESTS[name][filename])


def _not_found(name, filenames, dirs, why_not_downloaded):
    searched = "\n".join(f"  {d}  ({_what_is_missing(d, filenames)})" for d in dirs)
    return DataNotFoundError(
        f"{name}: no directory holds all of {', '.join(filenames)} (gzipped or not). "
        f"Searched:\n{searched}\n"
        f"They were not downloaded: {why_not_downloaded}.\n"
        "Put the files in one of these directories, pass path=, or set NNFAST_DATA.")


def _what_is_missing(directory, filenames):
    if not directory.is_dir():
        return "no such directory"
    missing = [f for f in filenames if _find_in(directory, f) is None]
    return "has none of them" if len(missing) == len(filenames) else "lacks " + ", ".join(missing)


# ---------------------------------------------------------------------------- loaders

def load_mnist(path: Optional[PathLike] = None, download: bool = True, *, split: str = "book",
               dtype=np.float32) -> Dataset:
    """MNIST as a Dataset.

    ``split="book"``: the book's 50,000 training / 10,000 validation images (the first
    and last of the 60,000-image training file) and the 10,000 test images.
    ``split="standard"``: all 60,000 for training, no validation set, 10,000 test.
    Both need the training files; :func:`load_mnist_test` needs only the t10k files.
    Files are looked for in :func:`search_dirs` and, when absent and ``download``,
    fetched into the cache and checked by SHA-256. Raises DataNotFoundError otherwise.
    """
    return _load_splits("mnist", path, download, split, dtype)


def load_fashion_mnist(path: Optional[PathLike] = None, download: bool = True, *,
                       split: str = "book", dtype=np.float32) -> Dataset:
    """Fashion-MNIST (same layout and splits as :func:`load_mnist`)."""
    return _load_splits("fashion-mnist", path, download, split, dtype)


def load_mnist_test(path: Optional[PathLike] = None, download: bool = True, *,
                    dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """Only the 10,000 MNIST test images and labels, ``(X, y)``: needs just the t10k files."""
    return _load_test("mnist", path, download, dtype)


def load_fashion_mnist_test(path: Optional[PathLike] = None, download: bool = True, *,
                            dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """Only the 10,000 Fashion-MNIST test images and labels, ``(X, y)``."""
    return _load_test("fashion-mnist", path, download, dtype)


def _load_splits(name, path, download, split, dtype):
    if split not in ("book", "standard"):
        raise ValueError(f"split must be 'book' or 'standard', not {split!r}")
    dtype = _float_dtype(dtype)
    files = _locate(name, _TRAIN_FILES + _TEST_FILES, path, download)
    X, y = _read_pair(files, _TRAIN_FILES, dtype)
    X_test, y_test = _read_pair(files, _TEST_FILES, dtype)
    if split == "standard":
        return Dataset(X, y, np.empty((0, X.shape[1]), dtype), np.empty(0, np.int64),
                       X_test, y_test)
    if len(X) != _BOOK_TRAINING_FILE_SIZE:
        raise ValueError(
            f"{files[_TRAIN_FILES[0]]}: the book's split needs {_BOOK_TRAINING_FILE_SIZE} "
            f"training images, found {len(X)}; use split='standard'")
    n = _BOOK_TRAINING_SIZE
    return Dataset(X[:n], y[:n], X[n:], y[n:], X_test, y_test)


def _load_test(name, path, download, dtype):
    dtype = _float_dtype(dtype)
    return _read_pair(_locate(name, _TEST_FILES, path, download), _TEST_FILES, dtype)


def _read_pair(files, pair, dtype):
    """Images as float rows in [0, 1] and int64 labels, checked against each other."""
    images_path, labels_path = (files[f] for f in pair)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(f"{images_path}: expected 28×28 uint8 images, found "
                         f"{images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise ValueError(f"{labels_path}: expected {len(images)} uint8 labels (one per "
                         f"image), found {labels.dtype} of shape {labels.shape}")
    if labels.size and labels.max() >= _N_CLASSES:
        raise ValueError(f"{labels_path}: labels outside 0..{_N_CLASSES - 1}")
    X = images.reshape(len(images), -1).astype(dtype)
    X /= 255
    return X, labels.astype(np.int64)


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, not {dtype}")
    return dtype


# ---------------------------------------------------------------------------- expansion

# The book's expand_mnist.py, per image: the original, then np.roll(image, d, axis) with
# the wrapped-around row or column zeroed, for (d, axis) in [(1, 0), (-1, 0), (1, 1),
# (-1, 1)]: down, up, right, left by one pixel. As (dy, dx) displacements:
_BOOK_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def expand(X: np.ndarray, y: np.ndarray, *, shifts: Sequence[Tuple[int, int]] = _BOOK_SHIFTS,
           image_shape: Tuple[int, int] = _IMAGE_SHAPE) -> Tuple[np.ndarray, np.ndarray]:
    """The book's data expansion (chapter 6, ``expand_mnist.py``): each image followed by
    copies of it translated by each of ``shifts``. Returns ``(X5, y5)``.

    ``X``: images as rows, shape (N, h*w), any float dtype or uint8 (kept); ``y``: the N
    labels (dtype kept). ``X5`` has N*(1 + len(shifts)) rows: row ``i*(1+len(shifts))``
    is image i unchanged, the next ones its shifted copies, in the order of ``shifts``;
    ``y5`` repeats each label as many times.

    A shift ``(dy, dx)`` moves the picture ``dy`` rows down and ``dx`` columns right:
    ``out[r, c] = image[r - dy, c - dx]``, and the pixels shifted in from outside are 0.
    The default is the book's order: down, up, right, left by one pixel, i.e. its
    ``np.roll(image, d, axis)`` for (d, axis) = (1, 0), (-1, 0), (1, 1), (-1, 1) with the
    wrapped-around row or column zeroed. 50,000 images become 250,000. (The book then
    shuffles the pairs; this function does not: see :mod:`nnfast.book.expand_mnist`.)

    The output is allocated once and filled by slicing; no copy per image is made.
    Raises ValueError on mismatched shapes or a shift as large as the image, TypeError
    on an image dtype other than float or uint8.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (one image per row), not of shape {X.shape}")
    if not (X.dtype.kind == "f" or X.dtype == np.uint8):
        raise TypeError(f"X must hold floats or uint8, not {X.dtype}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per image), not of shape {y.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    h, w = _check_image_shape(image_shape, X.shape[1])
    shifts = _check_shifts(shifts, h, w)

    n, k = len(X), 1 + len(shifts)
    images = X.reshape(n, h, w)
    out = np.empty((n, k, h, w), dtype=X.dtype)
    out[:, 0] = images
    for j, (dy, dx) in enumerate(shifts, start=1):
        copy = out[:, j]
        # The part of the picture that stays in the frame, then the band shifted in.
        copy[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        copy[:, :max(dy, 0)] = 0
        copy[:, h + min(dy, 0):] = 0
        copy[:, :, :max(dx, 0)] = 0
        copy[:, :, w + min(dx, 0):] = 0
    return out.reshape(n * k, h * w), np.repeat(y, k)


def _check_image_shape(image_shape, n_pixels):
    try:
        h, w = (operator.index(d) for d in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be two integers (height, width), "
                         f"not {image_shape!r}") from None
    if h < 1 or w < 1 or h * w != n_pixels:
        raise ValueError(f"image_shape {(h, w)} does not match X's {n_pixels} columns")
    return h, w


def _check_shifts(shifts, h, w):
    checked = []
    for shift in shifts:
        try:
            dy, dx = (operator.index(d) for d in shift)
        except (TypeError, ValueError):
            raise ValueError(f"shifts must be pairs of integers (dy, dx), "
                             f"found {shift!r}") from None
        if abs(dy) >= h or abs(dx) >= w:
            raise ValueError(f"shift {(dy, dx)} moves a {h}×{w} image entirely out of "
                             "the frame")
        checked.append((dy, dx))
    return checked
