"""The book's data expansion: nnfast.datasets.expand against a direct translation of the
book's expand_mnist.py loop, on hand-made and real images; its memory use; the
nnfast.book.expand_mnist script, its file, and mnist_loader reading that file back."""
import gzip
import pickletools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfast import datasets
from nnfast.book import expand_mnist, mnist_loader, network3
from nnfast.datasets import Dataset, expand


def book_expand(X, y, side):
    """The book's expand_mnist.py loop (for square images of any side), unvectorised."""
    pairs = []
    for x, label in zip(X, y):
        pairs.append((x, label))
        image = np.reshape(x, (-1, side))
        for d, axis, index_position, index in [
                (1, 0, "first", 0),
                (-1, 0, "first", side - 1),
                (1, 1, "last", 0),
                (-1, 1, "last", side - 1)]:
            new_img = np.roll(image, d, axis)
            if index_position == "first":
                new_img[index, :] = np.zeros(side)
            else:
                new_img[:, index] = np.zeros(side)
            pairs.append((np.reshape(new_img, side * side), label))
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def shifted(image, dy, dx):
    """``image`` (h, w) moved dy rows down and dx columns right, zeros shifted in."""
    h, w = image.shape
    out = np.zeros_like(image)
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = image[r - dy, c - dx]
    return out


# ------------------------------------------------------------------------- the shifts

def test_three_by_three_matches_the_book_pixel_by_pixel():
    X = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9],
                  [10, 20, 30, 40, 50, 60, 70, 80, 90]], dtype=np.float32)
    y = np.array([3, 7])
    X5, y5 = expand(X, y, image_shape=(3, 3))
    first = X5[:5].reshape(5, 3, 3)
    np.testing.assert_array_equal(first, [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],  # the original
        [[0, 0, 0], [1, 2, 3], [4, 5, 6]],  # down: np.roll(image, 1, 0), row 0 zeroed
        [[4, 5, 6], [7, 8, 9], [0, 0, 0]],  # up: np.roll(image, -1, 0), last row zeroed
        [[0, 1, 2], [0, 4, 5], [0, 7, 8]],  # right: np.roll(image, 1, 1), column 0 zeroed
        [[2, 3, 0], [5, 6, 0], [8, 9, 0]],  # left: np.roll(image, -1, 1), last column
    ])
    np.testing.assert_array_equal(X5[5:], 10 * X5[:5])
    np.testing.assert_array_equal(y5, [3, 3, 3, 3, 3, 7, 7, 7, 7, 7])
    book_X, book_y = book_expand(X, y, 3)
    np.testing.assert_array_equal(X5, book_X)
    np.testing.assert_array_equal(y5, book_y)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.uint8])
def test_dtypes_and_shapes_are_kept(dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6, 784)).astype(dtype)
    y = rng.integers(0, 10, 6).astype(np.uint8)
    X5, y5 = expand(X, y)
    assert X5.dtype == dtype and X5.shape == (30, 784) and X5.flags.c_contiguous
    assert y5.dtype == np.uint8 and y5.shape == (30,)
    np.testing.assert_array_equal(y5, np.repeat(y, 5))
    np.testing.assert_array_equal(X5[::5], X)
    np.testing.assert_array_equal(X5, book_expand(X, y, 28)[0])


def test_the_input_is_not_modified_and_need_not_be_contiguous():
    rng = np.random.default_rng(1)
    X = np.asfortranarray(rng.random((4, 16)))
    before = X.copy()
    X5, _ = expand(X, np.arange(4), image_shape=(4, 4))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(X5, book_expand(before, np.arange(4), 4)[0])


def test_no_images_and_no_shifts():
    X5, y5 = expand(np.empty((0, 784), np.float32), np.empty(0, np.int64))
    assert X5.shape == (0, 784) and y5.shape == (0,)
    X = np.ones((2, 784))
    X1, y1 = expand(X, [4, 5], shifts=())
    np.testing.assert_array_equal(X1, X)
    np.testing.assert_array_equal(y1, [4, 5])
    assert not np.shares_memory(X1, X)


@settings(max_examples=50, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), n=st.integers(0, 3), data=st.data())
def test_any_shifts_any_shape(h, w, n, data):
    shift = st.tuples(st.integers(-(h - 1), h - 1), st.integers(-(w - 1), w - 1))
    shifts = data.draw(st.lists(shift, max_size=5))
    X = np.arange(1, n * h * w + 1, dtype=np.float64).reshape(n, h * w)
    X5, y5 = expand(X, np.arange(n), shifts=shifts, image_shape=(h, w))
    k = 1 + len(shifts)
    assert X5.shape == (n * k, h * w)
    for i in range(n):
        image = X[i].reshape(h, w)
        np.testing.assert_array_equal(X5[i * k], X[i])
        for j, (dy, dx) in enumerate(shifts, start=1):
            np.testing.assert_array_equal(X5[i * k + j].reshape(h, w), shifted(image, dy, dx))
    np.testing.assert_array_equal(y5, np.repeat(np.arange(n), k))


def test_real_images(fashion_dir):
    X, y = datasets.load_fashion_mnist_test(fashion_dir)
    X, y = X[:100], y[:100]
    X5, y5 = expand(X, y)
    images = X.reshape(100, 28, 28)
    copies = X5.reshape(100, 5, 28, 28)
    np.testing.assert_array_equal(copies[:, 0], images)
    np.testing.assert_array_equal(copies[:, 1, 1:], images[:, :-1])  # down
    np.testing.assert_array_equal(copies[:, 2, :-1], images[:, 1:])  # up
    np.testing.assert_array_equal(copies[:, 3, :, 1:], images[:, :, :-1])  # right
    np.testing.assert_array_equal(copies[:, 4, :, :-1], images[:, :, 1:])  # left
    for band in (copies[:, 1, 0], copies[:, 2, -1], copies[:, 3, :, 0], copies[:, 4, :, -1]):
        assert not band.any()
    assert copies[:, 1:].any(axis=(2, 3)).all()  # no copy is blank
    np.testing.assert_array_equal(y5.reshape(100, 5), np.repeat(y[:, None], 5, axis=1))
    book_X, book_y = book_expand(X, y, 28)
    np.testing.assert_array_equal(X5, book_X)
    np.testing.assert_array_equal(y5, book_y)


def test_memory_is_about_one_output(fashion_dir):
    X, y = datasets.load_fashion_mnist_test(fashion_dir)  # 10,000 float32 images
    tracemalloc.start()
    try:
        X5, y5 = expand(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = X5.nbytes + y5.nbytes
    assert output == 5 * (X.nbytes + y.nbytes)
    assert peak < 1.3 * output, (peak, output)


@pytest.mark.parametrize("X, y, kwargs, error, match", [
    (np.zeros(784), [0], {}, ValueError, "X must be 2-D"),
    (np.zeros((1, 28, 28)), [0], {}, ValueError, "X must be 2-D"),
    (np.zeros((1, 784), np.int64), [0], {}, TypeError, "X must hold floats or uint8"),
    (np.zeros((1, 784), bool), [0], {}, TypeError, "X must hold floats or uint8"),
    (np.zeros((1, 784)), 0, {}, ValueError, "y must be 1-D"),
    (np.zeros((1, 784)), [[0]], {}, ValueError, "y must be 1-D"),
    (np.zeros((2, 784)), [0], {}, ValueError, "X has 2 rows but y has 1 labels"),
    (np.zeros((1, 785)), [0], {}, ValueError, "image_shape"),
    (np.zeros((1, 784)), [0], {"image_shape": (28, 27)}, ValueError, "image_shape"),
    (np.zeros((1, 784)), [0], {"image_shape": 784}, ValueError, "image_shape"),
    (np.zeros((1, 784)), [0], {"image_shape": (28, 28, 1)}, ValueError, "image_shape"),
    (np.zeros((1, 784)), [0], {"image_shape": (28.0, 28)}, ValueError, "image_shape"),
    (np.zeros((1, 784)), [0], {"shifts": [(28, 0)]}, ValueError, "shift"),
    (np.zeros((1, 784)), [0], {"shifts": [(0, -28)]}, ValueError, "shift"),
    (np.zeros((1, 12)), [0], {"image_shape": (3, 4), "shifts": [(0, 4)]}, ValueError, "shift"),
    (np.zeros((1, 784)), [0], {"shifts": [1, 0]}, ValueError, "shifts"),
    (np.zeros((1, 784)), [0], {"shifts": [(1, 0, 0)]}, ValueError, "shifts"),
    (np.zeros((1, 784)), [0], {"shifts": [(0.5, 0)]}, ValueError, "shifts"),
    (np.zeros((1, 784)), [0], {"shifts": None}, TypeError, "shifts must be a sequence"),
    (np.zeros((1, 784)), [0], {"shifts": 3}, TypeError, "shifts must be a sequence"),
    ([[0.0] * 784, [0.0] * 783], [0, 1], {}, ValueError, "X must be an array"),
    (np.zeros((1, 784)), [[0], [1, 2]], {}, ValueError, "y must be an array"),
])
def test_bad_inputs(X, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        expand(X, y, **kwargs)


def test_the_largest_shift_allowed():
    X5, _ = expand(np.arange(1, 10.0).reshape(1, 9), [0], shifts=[(2, -2)], image_shape=(3, 3))
    np.testing.assert_array_equal(X5[1].reshape(3, 3), [[0, 0, 0], [0, 0, 0], [3, 0, 0]])


# ---------------------------------------------------------------- the book's script

def small_dataset(n=30):
    """Image i: every pixel (i + 1) / (n + 1), so any pixel off the border names it."""
    X = np.repeat(((np.arange(n) + 1) / (n + 1)).astype(np.float32)[:, None], 784, axis=1)
    y = np.arange(n) % 10
    return Dataset(X, y, X[:4] / 2, y[:4], X[:3] / 3, y[:3])


def test_script_module_exposes_expand():
    assert expand_mnist.expand is datasets.expand


def test_expand_training_keeps_images_with_their_labels():
    data = small_dataset()
    expanded = expand_mnist.expand_training(data, seed=0)
    X, y = expanded.X_train, expanded.y_train
    assert X.shape == (150, 784) and y.shape == (150,)
    which = np.rint(X[:, 14 * 28 + 14] * 31).astype(int) - 1  # the centre pixel
    np.testing.assert_array_equal(np.bincount(which, minlength=30), np.full(30, 5))
    np.testing.assert_array_equal(y, which % 10)
    assert not np.array_equal(which, np.repeat(np.arange(30), 5))  # shuffled
    for field in ("X_validation", "y_validation", "X_test", "y_test"):
        assert getattr(expanded, field) is getattr(data, field)
    unshuffled = expand_mnist.expand_training(data, shuffle=False)
    np.testing.assert_array_equal(unshuffled.X_train, expand(data.X_train, data.y_train)[0])
    again = expand_mnist.expand_training(data, seed=0)
    np.testing.assert_array_equal(again.X_train, X)
    np.testing.assert_array_equal(again.y_train, y)


def book_layout(tmp_path, monkeypatch):
    """The book's folders: src/ (the working directory) and data/ beside it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    return tmp_path / "data"


def test_main_writes_a_file_load_data_reads(tmp_path, monkeypatch, capsys):
    data = small_dataset()
    monkeypatch.setattr(datasets, "load_mnist", lambda path, split: data)
    out = tmp_path / "mnist_expanded.pkl.gz"
    assert expand_mnist.main(out=out, seed=1) == out
    assert "Expanding" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    loaded = datasets.load_mnist_pkl(out)
    expected = expand_mnist.expand_training(data, seed=1)
    for got, want in zip(loaded, expected):
        np.testing.assert_array_equal(got, want)
    training, validation, test = mnist_loader.load_data(out)
    np.testing.assert_array_equal(training[0], expected.X_train)
    assert training[0].dtype == np.float32 and training[1].dtype == np.int64
    np.testing.assert_array_equal(validation[1], data.y_validation)
    np.testing.assert_array_equal(test[0], data.X_test)
    # As in the book, an existing file is left alone.
    before = out.read_bytes()
    expand_mnist.main(out=out, seed=2)
    assert "already exists" in capsys.readouterr().out
    assert out.read_bytes() == before


def test_the_file_holds_only_tuples_and_arrays(tmp_path):
    path = tmp_path / "e.pkl.gz"
    expand_mnist.save(path, small_dataset(3))
    globals_named = {arg for op, arg, _ in pickletools.genops(gzip.decompress(path.read_bytes()))
                     if op.name in ("GLOBAL", "SHORT_BINUNICODE", "BINUNICODE")}
    assert globals_named <= {"numpy", "dtype", "numpy._core.numeric", "numpy.core.numeric",
                             "_frombuffer", "f4", "i8", "<", "C"}, globals_named


def test_run_as_the_book_runs_it(tmp_path, monkeypatch):
    """From src/, the book's ../data/mnist.pkl.gz in, ../data/mnist_expanded.pkl.gz out,
    and network3 reads it back; the IDX files found elsewhere are not used."""
    data_dir = book_layout(tmp_path, monkeypatch)
    data = small_dataset(7)
    expand_mnist.save(data_dir / "mnist.pkl.gz", data)
    monkeypatch.setattr(datasets, "load_mnist", lambda *a, **k: pytest.fail("searched"))
    assert expand_mnist._command(["--seed", "3"]) == 0
    assert sorted(p.name for p in data_dir.iterdir()) == ["mnist.pkl.gz",
                                                          "mnist_expanded.pkl.gz"]
    training, validation, test = network3.load_data_shared("../data/mnist_expanded.pkl.gz")
    expected = expand_mnist.expand_training(data, seed=3)
    np.testing.assert_array_equal(training[0], expected.X_train)
    np.testing.assert_array_equal(training[1], expected.y_train)
    np.testing.assert_array_equal(test[0], data.X_test)


def test_without_the_books_pickle_the_idx_files_are_expanded(tmp_path, monkeypatch):
    data_dir = book_layout(tmp_path, monkeypatch)
    monkeypatch.setattr(datasets, "load_mnist", lambda path, split: small_dataset(3))
    assert expand_mnist.main() == expand_mnist.DEFAULT_OUT
    assert len(datasets.load_mnist_pkl(data_dir / "mnist_expanded.pkl.gz").X_train) == 15


def test_without_the_books_data_folder_it_says_where_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "load_mnist", lambda path, split: small_dataset(3))
    with pytest.raises(FileNotFoundError, match="run from the book's src/ folder"):
        expand_mnist.main()
    assert expand_mnist._command([]) == 1
    assert "src/ folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", [OSError(27, "File too large"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "mnist_expanded.pkl.gz"
    expand_mnist.save(path, small_dataset(3))
    before = path.read_bytes()

    def dump_half_then_fail(obj, file, protocol):
        file.write(before[:100])
        raise failure
    monkeypatch.setattr(expand_mnist.pickle, "dump", dump_half_then_fail)
    with pytest.raises(type(failure)):
        expand_mnist.save(path, small_dataset(5))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_load_data_refuses_other_files(tmp_path):
    text = tmp_path / "not.pkl.gz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a valid mnist.pkl.gz pickle"):
        mnist_loader.load_data(text)
    bad = tmp_path / "mnist_expanded.pkl.gz"
    data = small_dataset(3)
    expand_mnist.save(bad, data._replace(y_test=np.array([0, 1, 10])))
    with pytest.raises(ValueError, match="labels outside(.|\n)*To regenerate it, delete it"):
        mnist_loader.load_data(bad)
    with pytest.raises(FileNotFoundError):
        mnist_loader.load_data(tmp_path / "missing.pkl.gz")
