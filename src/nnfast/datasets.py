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
import reprlib
import struct
import zlib
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from nnfast import _array_pickle, _download

PathLike = Union[str, "os.PathLike[str]"]

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
# Deflate codes at most 258 bytes in 2 bits: no gzip stream inflates more than 1032-fold.
_MAX_DEFLATE_RATIO = 1032
_BUFFER_BYTES = 1 << 16

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
    match the dimensions exactly. The header is read first and no more is decompressed
    than it implies (and one byte, to find trailing data), so a gzip bomb costs nothing.
    """
    path = _as_path(path, "path")
    with _DataFile(path) as file:
        return file.read_idx_data(file.read_idx_header())


class _CorruptGzip(ValueError):
    """A gzip stream that does not decompress: the message names the file."""


class _Inflater(io.RawIOBase):
    """A gzip stream's content, with a corrupt stream a ValueError naming the file. It
    is read through an io.BufferedReader, whose small reads (a pickle's opcodes) cost
    no Python call each."""

    def __init__(self, raw, path):
        self._gzip, self._path = gzip.GzipFile(fileobj=raw), path

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            return self._gzip.readinto(buffer)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise _CorruptGzip(f"{self._path}: corrupt gzip data ({exc})") from None

    def close(self):
        self._gzip.close()
        super().close()


class _DataFile:
    """A data file opened for reading in pieces, decompressing as it goes when it is
    gzipped (detected by content, not name). ``stream`` is the content."""

    def __init__(self, path):
        self.path = path
        self._raw = open(path, "rb")
        try:
            self.size = os.fstat(self._raw.fileno()).st_size
            self.gzipped = self._raw.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
            self._raw.seek(0)
            self.stream = (io.BufferedReader(_Inflater(self._raw, path), _BUFFER_BYTES)
                           if self.gzipped else self._raw)
        except BaseException:
            self._raw.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stream.close()
        self._raw.close()

    def most_bytes(self):
        """An upper bound on the bytes the file holds: deflate's best ratio is 1032:1."""
        return self.size * (_MAX_DEFLATE_RATIO if self.gzipped else 1)

    def read_into(self, buffer):
        """Fill ``buffer`` (a byte memoryview) as far as the file goes; the count read."""
        done = 0
        while done < len(buffer):
            n = self.stream.readinto(buffer[done:])
            if not n:
                break
            done += n
        return done

    def read_idx_header(self):
        """The IDX header's ``(dtype, dims)``, the dtype big-endian as stored."""
        magic = self.stream.read(4)
        if len(magic) < 4 or magic[:2] != b"\0\0":
            raise ValueError(f"{self.path}: not an IDX file (its first two bytes must be zero)")
        type_code, ndim = magic[2], magic[3]
        if type_code not in _IDX_DTYPES:
            known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
            raise ValueError(f"{self.path}: unknown IDX type code 0x{type_code:02X} "
                             f"(known: {known})")
        if not 1 <= ndim <= 4:
            raise ValueError(f"{self.path}: IDX header says {ndim} dimensions, expected 1 to 4")
        sizes = self.stream.read(4 * ndim)
        if len(sizes) < 4 * ndim:
            raise ValueError(
                f"{self.path}: truncated IDX header: expected {4 + 4 * ndim} bytes for "
                f"{ndim} dimensions, found {4 + len(sizes)}")
        return np.dtype(_IDX_DTYPES[type_code]), struct.unpack(f">{ndim}I", sizes)

    def read_idx_data(self, header):
        """The array the header describes, native-endian, read from just after it."""
        dtype, dims = header
        start = 4 + 4 * len(dims)
        count = math.prod(dims)
        expected = start + count * dtype.itemsize

        def wrong_length(problem, found):
            shape = "×".join(map(str, dims))
            return ValueError(f"{self.path}: {problem}: expected {expected} bytes for a "
                              f"{shape} array of {dtype.name}, found {found}")

        if not self.gzipped and self.size != expected:
            problem = "truncated" if self.size < expected else "trailing bytes after the data"
            raise wrong_length(problem, self.size)
        if expected > self.most_bytes():
            raise wrong_length("truncated", f"a {self.size}-byte gzip file, which holds at "
                               f"most {self.most_bytes()}")
        data = np.empty(expected - start, np.uint8)
        done = self.read_into(memoryview(data))
        if done < len(data):
            raise wrong_length("truncated", start + done)
        if self.stream.read(1):
            raise wrong_length("trailing bytes after the data", "more")
        return data.view(dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def load_mnist_pkl(path: PathLike, *, dtype=np.float32) -> Dataset:
    """The book's ``mnist.pkl.gz`` (50,000 / 10,000 / 10,000 images) as a Dataset.

    The file is a pickle (gzipped or not) of three (images, labels) pairs: images as a
    float array of shape (N, 784), labels as an integer array. The book's expanded
    training set (``mnist_expanded.pkl.gz``), a list of 784-pixel images and a list of
    NumPy integer labels, is read too. Any pickle protocol is read (Python 2's, and
    Python 3's 0 to 5), by an unpickler that builds NumPy arrays only, each from data
    in the file that matches its shape: a tampered file cannot run code or allocate
    more than it holds. The book's pixels are k/256, not k/255; they are kept as stored.
    """
    path = _as_path(path, "path")
    dtype = _float_dtype(dtype)
    with _DataFile(path) as file:
        try:
            splits, length = _array_pickle.load(file.stream, file.most_bytes())
            trailing = file.stream.read(1)
        except _array_pickle.Refused as exc:
            raise ValueError(f"{path}: {exc}") from None
        except _CorruptGzip:
            raise
        except Exception as exc:  # a damaged pickle fails in many ways; report them as one
            raise ValueError(f"{path}: not a valid mnist.pkl.gz pickle ({exc!r})") from None
    if trailing:
        raise ValueError(f"{path}: not a valid mnist.pkl.gz pickle (data after its end)")
    if not (isinstance(splits, (tuple, list)) and len(splits) == 3):
        raise ValueError(f"{path}: expected a tuple (training, validation, test)")
    arrays = []
    for part, split in zip(("training", "validation", "test"), splits):
        arrays += _pkl_split(split, dtype, length, f"{path} ({part} data)")
    return Dataset(*arrays)


def _pkl_split(split, dtype, length, where):
    """``(X, y)`` as ``dtype`` images and int64 labels, checked, from a pickle of
    ``length`` bytes."""
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise ValueError(f"{where}: expected a tuple (images, labels) of NumPy arrays")
    X, y = _pkl_images(split[0], dtype, length, where), _pkl_labels(split[1], where)
    if len(y) != len(X):
        raise ValueError(f"{where}: expected {len(X)} integer labels, found {len(y)}")
    if X.size and not (np.all(X >= 0) and np.all(X <= 1)):
        raise ValueError(f"{where}: pixel values outside [0, 1]")
    if y.size and not (y.min() >= 0 and y.max() < _N_CLASSES):
        raise ValueError(f"{where}: labels outside 0..{_N_CLASSES - 1}")
    return X, y


def _pkl_images(images, dtype, length, where):
    n_pixels = math.prod(_IMAGE_SHAPE)
    if isinstance(images, np.ndarray):
        if images.dtype.kind != "f" or images.shape[1:] != (n_pixels,):
            raise ValueError(f"{where}: expected float images of shape (N, {n_pixels}), "
                             f"found {images.dtype} {images.shape}")
        return images.astype(dtype)
    if not isinstance(images, list):
        raise ValueError(f"{where}: expected float images of shape (N, {n_pixels}), "
                         f"found {type(images).__name__}")
    # The book's expanded training set: one array per image, copied into one array.
    # The pickle's memo can list one image (or arrays over one string) a million times
    # at a few bytes each: the images must fit in the pickle, as images of their own
    # do, before the copy allocates them.
    for i, image in enumerate(images):
        if not (isinstance(image, np.ndarray) and image.dtype.kind == "f"
                and image.shape == (n_pixels,)):
            found = (f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray)
                     else type(image).__name__)
            raise ValueError(f"{where}: image {i} is not {n_pixels} floats: found {found}")
    held = sum(image.nbytes for image in images)
    if held > length:
        raise ValueError(f"{where}: its {len(images):,} images hold {held:,} bytes, more than "
                         f"the {length:,}-byte pickle: images repeated by reference")
    X = np.empty((len(images), n_pixels), dtype)
    for i, image in enumerate(images):
        X[i] = image
    return X


def _pkl_labels(labels, where):
    if isinstance(labels, np.ndarray):
        if labels.dtype.kind not in "iu" or labels.ndim != 1:
            raise ValueError(f"{where}: expected integer labels of shape (N,), found "
                             f"{labels.dtype} {labels.shape}")
        return labels.astype(np.int64)
    if not isinstance(labels, list):
        raise ValueError(f"{where}: expected integer labels, found {type(labels).__name__}")
    # The book's expanded training set: a list of NumPy integer scalars.
    for i, label in enumerate(labels):
        if not (isinstance(label, (int, np.integer)) and not isinstance(label, bool)
                and 0 <= label < _N_CLASSES):
            # reprlib: a label nested 100,000 lists deep has no repr to cut short
            raise ValueError(f"{where}: label {i} is not one of 0..{_N_CLASSES - 1}: "
                             f"{reprlib.repr(label)}")
    return np.array(labels, dtype=np.int64)


def _as_path(value, name):
    try:
        return Path(value)
    except TypeError:
        raise TypeError(f"{name} must be a file name (str or os.PathLike), not "
                        f"{type(value).__name__}") from None


# --------------------------------------------------------------------------- locating

def search_dirs(name: str, path: Optional[PathLike] = None) -> List[Path]:
    """The directories searched, in order, for data set ``name`` ("mnist" or
    "fashion-mnist"): ``path``; ``$NNFAST_DATA/<name>`` and ``$NNFAST_DATA``; the cache
    (``$XDG_CACHE_HOME/nnfast/<name>``, default ``~/.cache/nnfast/<name>``), where
    downloads go; then system-wide copies (Debian's ``/usr/share/datasets/fashion-mnist``).
    """
    if not isinstance(name, str) or name not in _MIRRORS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _MIRRORS))}, not {name!r}")
    dirs = []
    if path is not None:
        dirs.append(_as_path(path, "path").expanduser())
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
    if path is not None and _as_path(path, "path").is_file():
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
    """Images as float rows in [0, 1] and int64 labels, checked against each other: both
    headers first, so that no data is decompressed for a pair that does not match."""
    images_path, labels_path = (files[f] for f in pair)
    with _DataFile(images_path) as images_file, _DataFile(labels_path) as labels_file:
        images_header = images_file.read_idx_header()
        labels_header = labels_file.read_idx_header()
        (images_dtype, images_dims), (labels_dtype, labels_dims) = images_header, labels_header
        if images_dtype != np.uint8 or images_dims[1:] != _IMAGE_SHAPE:
            raise ValueError(f"{images_path}: expected 28×28 uint8 images, found "
                             f"{images_dtype.name} of shape {images_dims}")
        if images_dims[0] == 0:
            raise ValueError(f"{images_path}: holds no images")
        if labels_dtype != np.uint8 or labels_dims != images_dims[:1]:
            raise ValueError(f"{labels_path}: expected {images_dims[0]} uint8 labels (one per "
                             f"image), found {labels_dtype.name} of shape {labels_dims}")
        labels = labels_file.read_idx_data(labels_header)
        if labels.max() >= _N_CLASSES:
            raise ValueError(f"{labels_path}: labels outside 0..{_N_CLASSES - 1}")
        images = images_file.read_idx_data(images_header)
    X = images.reshape(len(images), -1).astype(dtype)
    X /= 255
    return X, labels.astype(np.int64)


def _float_dtype(dtype):
    try:
        checked = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"dtype must be a floating-point type, not {dtype!r}") from None
    if checked.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, not {checked}")
    return checked


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
    on an image dtype other than float or uint8 or ``shifts`` not a sequence.
    """
    X, y = _as_array(X, "X"), _as_array(y, "y")
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


def _as_array(value, name):
    try:
        return np.asarray(value)
    except ValueError:  # ragged nested lists
        raise ValueError(f"{name} must be an array (or nested lists of one shape)") from None


def _check_shifts(shifts, h, w):
    try:
        shifts = list(shifts)
    except TypeError:
        raise TypeError(f"shifts must be a sequence of (dy, dx) pairs, not "
                        f"{type(shifts).__name__}") from None
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
