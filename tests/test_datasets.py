"""The IDX and mnist.pkl.gz readers, where data files are looked for, the checksummed
download (never over the network: the URL opener is replaced), and the book's loader."""
import gzip
import hashlib
import io
import os
import pickle
import re
import tracemalloc
import urllib.error
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfast import _download, datasets
from nnfast.book import mnist_loader
from nnfast.datasets import DataNotFoundError, Dataset, read_idx

TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    """``array`` in the IDX layout: big-endian header and data."""
    array = np.asarray(array)
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=True):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_fake_mnist(directory, n_train=20, n_test=10, label_offset=0, files=TRAIN + TEST):
    """A small data set in the standard layout. Image i of a split has every pixel equal
    to i % 256 and label (i + label_offset) % 10, so tests can tell copies apart."""
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        i = np.arange(n)
        images = np.broadcast_to((i % 256).astype(np.uint8)[:, None, None], (n, 28, 28))
        labels = ((i + label_offset) % 10).astype(np.uint8)
        if f"{prefix}-images-idx3-ubyte.gz" in files:
            write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        if f"{prefix}-labels-idx1-ubyte.gz" in files:
            write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


class FakeResponse(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


class FakeMirrors:
    """Stands in for urlopen: serves ``files[basename]`` for any URL, or fails when the
    URL starts with one of ``down``; records every URL asked for."""

    def __init__(self, files, down=()):
        self.files, self.down, self.requested = files, down, []

    def __call__(self, url, timeout=None):
        self.requested.append(url)
        if url.startswith(self.down) or url.rsplit("/", 1)[-1] not in self.files:
            raise urllib.error.URLError("unreachable in this test")
        return FakeResponse(self.files[url.rsplit("/", 1)[-1]])


@pytest.fixture(autouse=True)
def no_network_no_user_data(tmp_path, monkeypatch):
    """Every test sees an empty home and cache, no NNFAST_DATA, no system-wide copies,
    and a network that is down (tests that download replace the opener again)."""
    monkeypatch.delenv("NNFAST_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    monkeypatch.setattr(_download, "urlopen", FakeMirrors({}))


def cache_of(tmp_path, name="mnist"):
    return tmp_path / "cache" / "nnfast" / name


# ------------------------------------------------------------------------- read_idx

def test_read_idx_mnist_test_files(mnist_dir):
    images = read_idx(mnist_dir / TEST[0])
    labels = read_idx(mnist_dir / TEST[1])
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert images.flags.writeable


def test_read_idx_fashion_files(fashion_dir):
    assert read_idx(fashion_dir / TRAIN[0]).shape == (60000, 28, 28)
    labels = read_idx(fashion_dir / TRAIN[1])
    assert labels.shape == (60000,)
    assert np.array_equal(np.bincount(labels), np.full(10, 6000))


def test_gzip_is_detected_by_content_not_name(tmp_path, mnist_dir):
    gzipped = mnist_dir / TEST[1]
    raw_named_gz = tmp_path / "raw-but-named.gz"
    raw_named_gz.write_bytes(gzip.decompress(gzipped.read_bytes()))
    gz_named_raw = tmp_path / "gzipped-but-named-raw"
    gz_named_raw.write_bytes(gzipped.read_bytes())
    assert np.array_equal(read_idx(raw_named_gz), read_idx(gzipped))
    assert np.array_equal(read_idx(gz_named_raw), read_idx(gzipped))


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (0, 7)])
def test_read_idx_round_trip(tmp_path, dtype, shape):
    array = (np.arange(int(np.prod(shape))) * 37 - 50).astype(dtype).reshape(shape)
    result = read_idx(write_idx(tmp_path / "a.idx", array, gz=False))
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    assert np.array_equal(result, array)


GOOD = idx_bytes(np.arange(12, dtype=np.int16).reshape(3, 4))
MALFORMED = {
    "empty": b"",
    "short magic": b"\0\0\x08",
    "bad magic": b"\x01" + GOOD[1:],
    "bad type code": GOOD[:2] + b"\x0a" + GOOD[3:],
    "zero dims": GOOD[:3] + b"\x00" + GOOD[4:],
    "five dims": GOOD[:3] + b"\x05" + GOOD[4:],
    "truncated header": GOOD[:9],
    "wrong dims": GOOD[:4] + (4).to_bytes(4, "big") + GOOD[8:],
    "truncated data": GOOD[:-1],
    "trailing bytes": GOOD + b"\0",
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzipped"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_idx_is_a_value_error_naming_the_file(tmp_path, case, gz):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(MALFORMED[case]) if gz else MALFORMED[case])
    with pytest.raises(ValueError, match="bad.idx"):
        read_idx(path)


def test_length_error_says_what_was_expected(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(GOOD[:-2])
    with pytest.raises(ValueError, match=r"truncated: expected 36 bytes for a 3×4 array of int16, found 34"):
        read_idx(path)


def test_read_idx_accepts_the_good_bytes(tmp_path):
    (tmp_path / "good.idx").write_bytes(GOOD)
    assert read_idx(tmp_path / "good.idx").tolist() == np.arange(12).reshape(3, 4).tolist()


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_corrupt_gzip_is_a_value_error(tmp_path, damage):
    data = bytearray(gzip.compress(GOOD))
    if damage == "cut":
        data = data[:-6]
    else:
        data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.gz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.gz"):
        read_idx(tmp_path / "bad.gz")


idx_like_bytes = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda head, rest: head + rest,
              st.sampled_from([b"\0\0\x08\x01", b"\0\0\x0d\x02", b"\0\0\x0e\x04", b"\0\0\x0c\x03"]),
              st.binary(max_size=64)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=idx_like_bytes, gz=st.booleans())
def test_read_idx_fuzz_raises_only_value_error(tmp_path, data, gz):
    path = tmp_path / "fuzz"
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        array = read_idx(path)
    except ValueError:
        return
    assert isinstance(array, np.ndarray) and 1 <= array.ndim <= 4


# -------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("split, sizes", [("book", (50000, 10000, 10000)),
                                          ("standard", (60000, 0, 10000))])
def test_load_fashion_mnist_splits(fashion_dir, split, sizes):
    data = datasets.load_fashion_mnist(fashion_dir, split=split)
    assert isinstance(data, Dataset)
    for X, y, n in zip(data[0::2], data[1::2], sizes):
        assert X.shape == (n, 784) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0
    assert set(np.unique(data.y_test)) == set(range(10))
    images = read_idx(fashion_dir / TRAIN[0])
    assert np.array_equal(data.X_train[123], images[123].ravel().astype(np.float32) / np.float32(255))
    if split == "book":
        assert np.array_equal(data.y_validation, read_idx(fashion_dir / TRAIN[1])[50000:])


def test_load_fashion_mnist_test_in_float64(fashion_dir):
    X, y = datasets.load_fashion_mnist_test(fashion_dir, dtype=np.float64)
    assert X.dtype == np.float64 and X.shape == (10000, 784) and y.shape == (10000,)
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_load_mnist_test_needs_only_the_t10k_files(mnist_dir):
    X, y = datasets.load_mnist_test(mnist_dir, download=False)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert y[:5].tolist() == [7, 2, 1, 0, 4] and y.dtype == np.int64


@pytest.mark.parametrize("download", [False, True])
def test_load_mnist_without_the_training_files_says_what_is_missing(mnist_dir, tmp_path, download):
    with pytest.raises(DataNotFoundError) as info:
        datasets.load_mnist(mnist_dir, download=download)
    message = str(info.value)
    assert f"{mnist_dir}  (lacks {TRAIN[0]}, {TRAIN[1]})" in message
    assert str(cache_of(tmp_path)) in message
    if download:
        assert "ossci-datasets" in message and "cvdf-datasets" in message
    else:
        assert "download=False" in message


def test_failed_download_leaves_nothing_in_the_cache(tmp_path):
    with pytest.raises(DataNotFoundError):
        datasets.load_mnist()
    cache = cache_of(tmp_path)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_offline_error_lists_every_directory_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "system",)})
    with pytest.raises(DataNotFoundError) as info:
        datasets.load_fashion_mnist(tmp_path / "given")
    assert isinstance(info.value, FileNotFoundError)
    for directory in ("given", "env/fashion-mnist", "env", "system"):
        assert f"{tmp_path / directory}  (no such directory)" in str(info.value)
    # The failed download created the cache directory, and left it empty.
    assert f"{tmp_path / 'cache/nnfast/fashion-mnist'}  (has none of them)" in str(info.value)


def test_book_split_needs_60000_training_images(tmp_path):
    write_fake_mnist(tmp_path / "small", n_train=20)
    with pytest.raises(ValueError, match="split='standard'"):
        datasets.load_mnist(tmp_path / "small")
    data = datasets.load_mnist(tmp_path / "small", split="standard")
    assert data.X_train.shape == (20, 784) and data.X_validation.shape == (0, 784)
    assert data.y_validation.shape == (0,) and data.y_validation.dtype == np.int64
    assert data.X_test.shape == (10, 784)
    assert np.all(data.X_train[3] == np.float32(3) / np.float32(255))


@pytest.fixture(scope="module")
def full_size_fake(tmp_path_factory):
    """A 60,000 + 10,000 image fake MNIST (raw IDX files, as a user may decompress them)."""
    directory = write_fake_mnist(tmp_path_factory.mktemp("full") / "mnist", n_train=60000, n_test=10000)
    for f in TRAIN + TEST:
        path = directory / f
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    return directory


def test_book_split_is_first_50000_and_last_10000(full_size_fake):
    data = datasets.load_mnist(full_size_fake)
    assert [len(y) for y in data[1::2]] == [50000, 10000, 10000]
    labels = np.arange(60000) % 10
    assert np.array_equal(data.y_train, labels[:50000])
    assert np.array_equal(data.y_validation, labels[50000:])
    assert data.X_validation[0, 0] == np.float32((50000 % 256) / 255)


@pytest.mark.parametrize("bad", [{"split": "all"}, {"dtype": np.int32}])
def test_bad_arguments(fashion_dir, bad):
    with pytest.raises(ValueError):
        datasets.load_fashion_mnist(fashion_dir, **bad)


def test_a_file_as_path_is_refused(mnist_dir):
    with pytest.raises(ValueError, match="load_mnist_pkl"):
        datasets.load_mnist_test(mnist_dir / TEST[0])


def test_mismatched_labels_are_refused(tmp_path):
    write_fake_mnist(tmp_path, n_test=10)
    write_idx(tmp_path / TEST[1], np.zeros(9, np.uint8))
    with pytest.raises(ValueError, match="expected 10 uint8 labels"):
        datasets.load_mnist_test(tmp_path)


# ------------------------------------------------------------------- search order

def test_search_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "system",)})
    assert datasets.search_dirs("fashion-mnist", tmp_path / "given") == [
        tmp_path / "given", tmp_path / "env" / "fashion-mnist", tmp_path / "env",
        tmp_path / "cache" / "nnfast" / "fashion-mnist", tmp_path / "system"]
    assert datasets.search_dirs("mnist") == [
        tmp_path / "env" / "mnist", tmp_path / "env", tmp_path / "cache" / "nnfast" / "mnist"]


def test_cache_defaults_to_home_dot_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.search_dirs("mnist") == [tmp_path / "home" / ".cache" / "nnfast" / "mnist"]
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert datasets.search_dirs("mnist") == [tmp_path / "home" / ".cache" / "nnfast" / "mnist"]


def first_test_label(**kwargs):
    return int(datasets.load_mnist_test(**kwargs)[1][0])


def test_each_place_is_searched_in_order(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "cache" / "nnfast" / "mnist", label_offset=4)
    assert first_test_label() == 4
    write_fake_mnist(tmp_path / "env", label_offset=3)
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    assert first_test_label() == 3
    write_fake_mnist(tmp_path / "env" / "mnist", label_offset=2)
    assert first_test_label() == 2
    write_fake_mnist(tmp_path / "given", label_offset=1)
    assert first_test_label(path=tmp_path / "given") == 1


def test_home_cache_is_searched_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_fake_mnist(tmp_path / "home" / ".cache" / "nnfast" / "mnist", label_offset=5)
    assert first_test_label() == 5


def test_system_dir_is_searched_for_fashion(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "system", label_offset=6)
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "system",)})
    assert int(datasets.load_fashion_mnist_test()[1][0]) == 6


def test_files_from_different_directories_are_not_mixed(tmp_path):
    write_fake_mnist(tmp_path / "given", label_offset=1, files=TEST[:1])
    write_fake_mnist(tmp_path / "cache" / "nnfast" / "mnist", label_offset=4)
    assert first_test_label(path=tmp_path / "given") == 4


# ------------------------------------------------------------------------ download

@pytest.fixture
def real_mnist_test_files(mnist_dir):
    return {f: (mnist_dir / f).read_bytes() for f in TEST}


def test_download_verifies_and_caches(tmp_path, monkeypatch, real_mnist_test_files):
    mirrors = FakeMirrors(real_mnist_test_files)
    monkeypatch.setattr(_download, "urlopen", mirrors)
    X, y = datasets.load_mnist_test()
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert sorted(os.listdir(cache_of(tmp_path))) == sorted(TEST)  # no temporary files left
    for f in TEST:
        assert (cache_of(tmp_path) / f).read_bytes() == real_mnist_test_files[f]
    asked = len(mirrors.requested)
    datasets.load_mnist_test()
    assert len(mirrors.requested) == asked  # served from the cache


def test_download_falls_back_to_the_next_mirror(monkeypatch, real_mnist_test_files):
    mirrors = FakeMirrors(real_mnist_test_files, down=("https://ossci-datasets",))
    monkeypatch.setattr(_download, "urlopen", mirrors)
    datasets.load_mnist_test()
    assert [u.split("/")[2] for u in mirrors.requested] == [
        "ossci-datasets.s3.amazonaws.com", "storage.googleapis.com"] * 2


def test_checksum_mismatch_is_an_error_and_leaves_no_file(tmp_path, monkeypatch, real_mnist_test_files):
    swapped = dict(zip(TEST, reversed(real_mnist_test_files.values())))
    monkeypatch.setattr(_download, "urlopen", FakeMirrors(swapped))
    with pytest.raises(DataNotFoundError, match="SHA-256"):
        datasets.load_mnist_test()
    assert os.listdir(cache_of(tmp_path)) == []


def test_fashion_downloads_are_checked_by_content(tmp_path, monkeypatch, fashion_dir):
    # The shared copies are Debian's recompressed archives: their .gz bytes differ from
    # Zalando's, their content does not.
    served = {f: (fashion_dir / f).read_bytes() for f in TEST}
    monkeypatch.setattr(_download, "urlopen", FakeMirrors(served))
    X, y = datasets.load_fashion_mnist_test()
    assert X.shape == (10000, 784)
    recompressed = {f: gzip.compress(gzip.decompress(b), compresslevel=1) for f, b in served.items()}
    assert recompressed != served
    monkeypatch.setattr(_download, "urlopen", FakeMirrors(recompressed))
    (tmp_path / "other").mkdir()
    digest = datasets._DIGESTS["fashion-mnist"][TEST[1]]
    _download.fetch(["https://example/" + TEST[1]], tmp_path / "other" / TEST[1], digest)
    assert read_idx(tmp_path / "other" / TEST[1]).shape == (10000,)


def test_fetch_reports_every_mirror_and_shows_progress_on_a_tty(tmp_path, monkeypatch):
    payload = b"hello"
    digest = _download.Digest(hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(_download, "urlopen", FakeMirrors({"f": payload}, down=("https://a",)))
    stderr = io.StringIO()
    stderr.isatty = lambda: True
    monkeypatch.setattr("sys.stderr", stderr)
    _download.fetch(["https://a/f", "https://b/f"], tmp_path / "f", digest)
    assert (tmp_path / "f").read_bytes() == payload
    assert "downloading f" in stderr.getvalue() and "100%" in stderr.getvalue()
    with pytest.raises(_download.DownloadError, match="https://a/x: .*https://b/x: "):
        _download.fetch(["https://a/x", "https://b/x"], tmp_path / "x", digest)


# -------------------------------------------------------------------- mnist.pkl.gz

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct


class Python2StylePickler(pickle.Pickler):
    """Pickles arrays as Python 2's cPickle did: the data as a str (read back with
    encoding="latin1"), so the only globals are NumPy's reconstruction functions."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            state = (1, obj.shape, obj.dtype, False, obj.tobytes().decode("latin1"))
            return _reconstruct, (np.ndarray, (0,), "b"), state
        return NotImplemented


def book_pickle(splits, numpy1_names=False):
    buffer = io.BytesIO()
    Python2StylePickler(buffer, protocol=2).dump(splits)
    data = buffer.getvalue()
    if numpy1_names:
        data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return gzip.compress(data)


def small_book_splits(n=(5, 3, 2)):
    rng = np.random.default_rng(0)
    return tuple((rng.integers(0, 256, (k, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, k).astype(np.int64)) for k in n)


@pytest.mark.parametrize("numpy1_names", [False, True])
def test_load_mnist_pkl(tmp_path, numpy1_names):
    splits = small_book_splits()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle(splits, numpy1_names))
    data = datasets.load_mnist_pkl(path)
    for (X, y), X_read, y_read in zip(splits, data[0::2], data[1::2]):
        assert X_read.dtype == np.float32 and y_read.dtype == np.int64
        assert np.array_equal(X_read, X) and np.array_equal(y_read, y)


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_pkl_refuses_code(tmp_path, gz):
    marker = tmp_path / "pwned"
    data = pickle.dumps((RunsACommand(marker),), protocol=2)
    path = tmp_path / "evil.pkl"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match="refusing to load"):
        datasets.load_mnist_pkl(path)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps({"not": "the book's"}, protocol=2),
    pickle.dumps(((1, 2), (3, 4), (5, 6)), protocol=2),
    b"not a pickle at all",
    b"\x80\x02(",
])
def test_load_mnist_pkl_refuses_other_pickles(tmp_path, payload):
    (tmp_path / "p.pkl").write_bytes(payload)
    with pytest.raises(ValueError):
        datasets.load_mnist_pkl(tmp_path / "p.pkl")


def test_a_label_nested_deep_is_refused_naming_it(tmp_path):
    """A list of labels (the book's expanded set) whose first is a list 100,000 deep,
    written as opcodes (the unpickler builds it without recursing): the message shows
    it cut short, where the whole repr, then cut, raised RecursionError."""
    splits = list(small_book_splits())
    splits[0] = (splits[0][0], [123456789] * len(splits[0][1]))
    data = gzip.decompress(book_pickle(tuple(splits)))
    placeholder = b"J" + (123456789).to_bytes(4, "little")  # BININT
    depth = 100_000
    data = data.replace(placeholder, b"]" * depth + b"a" * (depth - 1), 1)
    path = tmp_path / "deep.pkl.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match=r"label 0 is not one of 0\.\.9: \[\[\[.*\.\.\."):
        datasets.load_mnist_pkl(path)


@pytest.mark.parametrize("damage", ["pixels", "labels", "shape"])
def test_load_mnist_pkl_checks_the_arrays(tmp_path, damage):
    splits = list(small_book_splits())
    X, y = splits[1]
    splits[1] = {"pixels": (X * 2, y), "labels": (X, y + 10), "shape": (X[:, :100], y)}[damage]
    (tmp_path / "p.pkl.gz").write_bytes(book_pickle(tuple(splits)))
    with pytest.raises(ValueError, match="validation data"):
        datasets.load_mnist_pkl(tmp_path / "p.pkl.gz")


# ------------------------------------------------------------------- mnist_loader

@pytest.fixture
def small_mnist(monkeypatch):
    """mnist_loader sees a 6 / 4 / 3 image data set."""
    rng = np.random.default_rng(1)
    data = Dataset(*(a for n in (6, 4, 3) for a in (
        rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64))))
    monkeypatch.setattr(datasets, "load_mnist", lambda path=None, split="book": data)
    return data


def test_load_data(small_mnist):
    training, validation, test = mnist_loader.load_data()
    assert training[0] is small_mnist.X_train and training[1] is small_mnist.y_train
    assert validation[0].shape == (4, 784) and test[1].shape == (3,)


def test_load_data_wrapper(small_mnist):
    training, validation, test = mnist_loader.load_data_wrapper()
    assert all(isinstance(d, list) for d in (training, validation, test))
    assert [len(d) for d in (training, validation, test)] == [6, 4, 3]
    for (x, y), label in zip(training, small_mnist.y_train):
        assert x.shape == (784, 1) and x.dtype == np.float64
        assert y.shape == (10, 1) and y.dtype == np.float64
        assert y.sum() == 1.0 and y[label, 0] == 1.0
    assert np.allclose(training[2][0][:, 0], small_mnist.X_train[2])
    for (x, label), expected in zip(test, small_mnist.y_test):
        assert x.shape == (784, 1) and type(label) is int and label == expected


def test_vectorized_result():
    e = mnist_loader.vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1.0 and e.sum() == 1.0


def test_load_data_from_the_books_pickle(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle(small_book_splits()))
    training, validation, test = mnist_loader.load_data(path)
    assert training[0].shape == (5, 784) and validation[0].shape == (3, 784) and test[1].shape == (2,)


def test_load_data_from_a_directory(full_size_fake):
    training, validation, test = mnist_loader.load_data(full_size_fake)
    assert training[0].shape == (50000, 784) and training[0].dtype == np.float32
    assert validation[1].shape == (10000,) and test[0].shape == (10000, 784)


def test_load_data_without_training_files_is_a_clear_error(mnist_dir):
    with pytest.raises(DataNotFoundError, match="lacks train-images"):
        mnist_loader.load_data(mnist_dir)


# ---------------------------------------------------------------- hostile files: size

def peak_bytes(function, *args, **kwargs):
    """What ``function`` raises (or returns) and the peak of Python's and NumPy's
    allocations while it ran."""
    tracemalloc.start()
    try:
        try:
            outcome = function(*args, **kwargs)
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def gzip_of_zeros(head, n_zeros):
    """gzip(head + n_zeros zero bytes), compressed a megabyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(head)]
    block = bytes(1 << 20)
    for _ in range(n_zeros >> 20):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(bytes(n_zeros & ((1 << 20) - 1))))
    return b"".join(parts) + compressor.flush()


BOMB_BYTES = 256 << 20  # 256 MiB of zeros gzip to about 250 kB


def test_an_idx_bomb_is_refused_after_what_its_header_implies(tmp_path):
    header = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip_of_zeros(header, BOMB_BYTES))
    assert path.stat().st_size < BOMB_BYTES // 500
    error, peak = peak_bytes(read_idx, path)
    assert isinstance(error, ValueError) and "trailing bytes" in str(error)
    assert str(path) in str(error)
    assert peak < 4 << 20, peak


def test_a_header_promising_more_than_gzip_can_hold_is_refused_before_reading(tmp_path):
    # 10^9 images of 28×28: no 1 kB gzip stream inflates that far (at most 1032-fold).
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(d).to_bytes(4, "big")
                                                for d in (10**9, 28, 28))
    path = tmp_path / "liar.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    error, peak = peak_bytes(read_idx, path)
    assert isinstance(error, ValueError) and "holds at most" in str(error)
    assert peak < 1 << 20, peak
    raw = tmp_path / "liar-raw"
    raw.write_bytes(header + bytes(1000))
    with pytest.raises(ValueError, match="truncated: expected"):
        read_idx(raw)


def test_a_pair_is_checked_by_its_headers_before_its_images_are_decompressed(tmp_path):
    write_fake_mnist(tmp_path, n_test=20)
    images = tmp_path / TEST[0]
    images.write_bytes(gzip_of_zeros(idx_bytes(np.zeros((20, 28, 28), np.uint8)), BOMB_BYTES))
    write_idx(tmp_path / TEST[1], np.zeros(19, np.uint8))
    error, peak = peak_bytes(datasets.load_mnist_test, tmp_path)
    assert isinstance(error, ValueError) and "expected 20 uint8 labels" in str(error)
    assert peak < 4 << 20, peak
    write_idx(tmp_path / TEST[1], np.zeros(20, np.uint8))
    error, peak = peak_bytes(datasets.load_mnist_test, tmp_path)
    assert isinstance(error, ValueError) and "trailing bytes" in str(error)
    assert peak < 4 << 20, peak


@pytest.mark.parametrize("files", [TEST, TRAIN])
def test_a_pair_with_no_images_is_a_value_error_naming_the_file(tmp_path, files):
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / files[0], np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / files[1], np.zeros(0, np.uint8))
    load = datasets.load_mnist_test if files == TEST else datasets.load_mnist
    kwargs = {} if files == TEST else {"split": "standard"}
    with pytest.raises(ValueError, match=f"{files[0]}: holds no images"):
        load(tmp_path, **kwargs)


@pytest.mark.parametrize("call, error, match", [
    (lambda: read_idx(None), TypeError, "path must be a file name"),
    (lambda: read_idx(7), TypeError, "path must be a file name"),
    (lambda: datasets.load_mnist_pkl(b"mnist.pkl.gz"), TypeError, "path must be"),
    (lambda: datasets.load_mnist(3.5), TypeError, "path must be"),
    (lambda: datasets.load_mnist_test(dtype="no such type"), TypeError, "dtype must be"),
    (lambda: datasets.load_mnist_pkl("x", dtype=[("a", "f4")]), ValueError, "dtype must be"),
    (lambda: datasets.search_dirs("cifar"), ValueError, "name must be one of"),
    (lambda: datasets.search_dirs(["mnist"]), ValueError, "name must be one of"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------- hostile files: pickles

def write_pickle(tmp_path, data, gz=True, name="mnist.pkl.gz"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_mnist_pkl_reads_every_protocol(tmp_path, protocol, dtype):
    splits = small_book_splits((7, 3, 1))
    # As re-pickled files hold them: float64 or big-endian images, Fortran order, uint8
    # labels, an empty array.
    splits = ((splits[0][0].astype(np.float64), splits[0][1].astype(np.uint8)),
              (np.asfortranarray(splits[1][0].astype(">f4")), splits[1][1].astype(">i4")),
              (splits[2][0][:0], splits[2][1][:0]))
    path = write_pickle(tmp_path, pickle.dumps(splits, protocol=protocol))
    data = datasets.load_mnist_pkl(path, dtype=dtype)
    for (X, y), X_read, y_read in zip(splits, data[0::2], data[1::2]):
        assert X_read.dtype == dtype and y_read.dtype == np.int64
        assert X_read.shape == X.shape and np.array_equal(X_read, X.astype(dtype))
        assert np.array_equal(y_read, y)


def books_expanded_pickle(splits, protocol=2):
    """As the book's expand_mnist.py wrote it: the training set a list [images, labels]
    of one (784,) array per image and one NumPy int64 scalar per label."""
    (X, y), validation, test = splits
    training = [list(X), [np.int64(label) for label in y]]
    buffer = io.BytesIO()
    Python2StylePickler(buffer, protocol=protocol).dump((training, validation, test))
    return gzip.compress(buffer.getvalue())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_books_expanded_pickle_loads(tmp_path, dtype):
    splits = small_book_splits((9, 2, 3))
    path = tmp_path / "mnist_expanded.pkl.gz"
    path.write_bytes(books_expanded_pickle(splits))
    data = datasets.load_mnist_pkl(path, dtype=dtype)
    assert data.X_train.shape == (9, 784) and data.X_train.dtype == dtype
    assert np.array_equal(data.X_train, splits[0][0].astype(dtype))
    assert np.array_equal(data.y_train, splits[0][1]) and data.y_train.dtype == np.int64
    assert np.array_equal(data.X_test, splits[2][0].astype(dtype))


@pytest.mark.parametrize("damage, match", [
    (lambda X, y: ([X[0], X[1][:700]], y[:2]), "image 1 is not 784 floats"),
    (lambda X, y: ([X[0], "pixels"], y[:2]), "image 1 is not 784 floats"),
    (lambda X, y: (list(X), [np.int64(1), np.float64(2.0)] + [np.int64(0)] * 7),
     "only integer labels"),
    (lambda X, y: (list(X), [1, True] + [0] * 7), "label 1"),
    (lambda X, y: (list(X), [np.int64(10)] * 9), "label 0 is not one of 0..9"),
    (lambda X, y: (list(X), [np.int64(1)] * 8), "expected 9 integer labels, found 8"),
    (lambda X, y: ({"X": X}, y), "expected float images"),
    # one array listed many times: a few bytes each in the pickle, 3 KiB each copied
    (lambda X, y: ([X[0]] * 100, y), "its 100 images hold 313,600 bytes, more than"),
])
def test_the_expanded_lists_are_checked(tmp_path, damage, match):
    (X, y), validation, test = small_book_splits((9, 2, 3))
    data = pickle.dumps((damage(X, y), validation, test), protocol=2)
    with pytest.raises(ValueError, match=match):
        datasets.load_mnist_pkl(write_pickle(tmp_path, data))


class Reduces:
    """Pickles as ``function(*args)``, with ``state`` for BUILD when given."""

    def __init__(self, function, args, state=None):
        self.function, self.args, self.state = function, args, state

    def __reduce__(self):
        if self.state is None:
            return self.function, self.args
        return self.function, self.args, self.state


def with_arrays(bad):
    """A book-shaped tuple with ``bad`` in place of the training images."""
    X, y = small_book_splits((2, 1, 1))[0]
    return ((bad, y), (X[:1], y[:1]), (X[:1], y[:1]))


HOSTILE_PICKLES = {
    # numpy.ndarray(shape, dtype, buffer, offset, strides): 700 MiB from 4 bytes.
    "zero strides": with_arrays(Reduces(np.ndarray, ((220000, 784), np.dtype("f4"),
                                                     b"\0" * 4, 0, (0, 0)))),
    "_reconstruct of 10^8 objects": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (10**8,), b"O"))),
    "_reconstruct of a big float array": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (220000, 784), b"f"))),
    "data shorter than the shape": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (220000, 784), np.dtype("f4"), False, b"\0" * 16))),
    "data longer than the shape": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (2, 784), np.dtype("f4"), False, b"\0" * (4 * 2 * 784 + 1)))),
    "an object array": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (2,), np.dtype("O"), False, [1, 2]))),
    "a shape that is not sizes": with_arrays(
        Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (-1, 784), np.dtype("f4"), False, b""))),
    "a float scalar": with_arrays([np.float64(1.0)]),
    "bytes(n)": with_arrays(Reduces(bytes, (10**9,))),
}


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("case", list(HOSTILE_PICKLES))
def test_hostile_pickles_are_refused_cheaply_naming_the_file(tmp_path, case, protocol):
    path = write_pickle(tmp_path, pickle.dumps(HOSTILE_PICKLES[case], protocol=protocol))
    error, peak = peak_bytes(datasets.load_mnist_pkl, path)
    assert isinstance(error, ValueError), error
    assert str(error).startswith(f"{path}: "), error
    assert peak < 1 << 20, peak


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("data, claim", [
    (b"\x80\x02Nr" + (10**8).to_bytes(4, "little") + b".", None),  # memo index 10^8
    (b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc.", 1 << 40),  # bytes
    (b"\x80\x05\x96" + (1 << 40).to_bytes(8, "little") + b"abc.", 1 << 40),  # a bytearray
    (b"\x80\x04\x95" + (1 << 40).to_bytes(8, "little") + b"N.", 1 << 40),  # a frame
    (b"\x80\x04\x8e" + (10**6).to_bytes(8, "little") + b"abc.", 10**6),  # 1 MB in 24 bytes
], ids=["memo", "bytes", "bytearray", "frame", "megabyte"])
def test_pickle_opcodes_claiming_huge_sizes_cost_nothing(tmp_path, data, claim, gz):
    """A count larger than the file can hold is refused before it is allocated, also
    where the system would grant the allocation (memory overcommitted): the error
    names the claim, whatever malloc would have said."""
    path = write_pickle(tmp_path, data, gz=gz)
    error, peak = peak_bytes(datasets.load_mnist_pkl, path)
    assert isinstance(error, ValueError), error
    if claim is not None:
        assert f"the pickle asks for {claim:,} bytes, more than the file holds" in str(error)
    assert peak < 1 << 20, peak


def test_a_gzip_bomb_after_the_pickle_is_not_decompressed(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip_of_zeros(book_pickle_bytes(small_book_splits()), BOMB_BYTES))
    error, peak = peak_bytes(datasets.load_mnist_pkl, path)
    assert isinstance(error, ValueError) and "data after its end" in str(error)
    assert peak < 4 << 20, peak


def book_pickle_bytes(splits):
    return gzip.decompress(book_pickle(splits))


def test_a_refused_pickle_names_the_file(tmp_path):
    path = write_pickle(tmp_path, pickle.dumps((RunsACommand(tmp_path / "x"),), protocol=2))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: refusing to load "
                                         r"posix\.system|nt\.system"):
        datasets.load_mnist_pkl(path)


def test_images_over_one_string_cannot_outgrow_the_pickle(tmp_path):
    # Each image its own array, all of them over one pixel string the memo lists again
    # and again: 20,000 images from a file of a few hundred kB.
    pixels = np.full(784, 0.5, np.float32)
    reconstruct, args, _ = pixels.__reduce__()
    data = pixels.tobytes()
    images = [Reduces(reconstruct, args, (1, (784,), pixels.dtype, False, data))
              for _ in range(20_000)]
    (X, y), validation, test = small_book_splits((9, 2, 3))
    training = [images, [np.int64(1)] * 20_000]
    with pytest.raises(ValueError, match="its 20,000 images hold 62,720,000 bytes, more than"):
        datasets.load_mnist_pkl(write_pickle(tmp_path, pickle.dumps(
            (training, validation, test), protocol=2)))
