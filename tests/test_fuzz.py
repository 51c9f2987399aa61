"""Fuzzing the readers of untrusted files: the book's mnist.pkl.gz and saved networks.

Whatever the bytes, `datasets.load_mnist_pkl` and `nnfast.load` either return a
well-formed result or raise ValueError (the exception both document by example:
"not a valid mnist.pkl.gz pickle", "not a network file"); nothing else escapes, the
interpreter never crashes, and no code named in a file runs. (read_idx is fuzzed in
test_datasets.py.) About 2,500 inputs in all, in 15-25 s on one core.
"""
import copy
import gzip
import io
import json
import pickle
import pickletools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnfast
from nnfast import ConvPoolLayer, Network, SoftmaxLayer, datasets

def fuzz(max_examples):
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# ---------------------------------------------------------------- byte-level mutation

mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "set", "delete", "insert", "truncate"]),
              st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)),
    min_size=1, max_size=8)


def mutate(data, edits):
    """Apply edits (kind, where as a fraction of the length, byte) to data."""
    data = bytearray(data)
    for kind, where, byte in edits:
        i = int(where * len(data)) if data else 0
        if kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data.insert(i, byte)
        elif not data:
            continue
        elif kind == "flip":
            data[i] ^= 1 << (byte % 8)
        elif kind == "set":
            data[i] = byte
        else:
            del data[i]
    return bytes(data)


# ---------------------------------------------------------------------- mnist.pkl.gz

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct


class _Python2StylePickler(pickle.Pickler):
    """Arrays as Python 2's cPickle wrote them (data as a latin-1 str), as in the book's file."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            state = (1, obj.shape, obj.dtype, False, obj.tobytes().decode("latin1"))
            return _reconstruct, (np.ndarray, (0,), "b"), state
        return NotImplemented


def _book_pickle(splits):
    buffer = io.BytesIO()
    _Python2StylePickler(buffer, protocol=2).dump(splits)
    return buffer.getvalue()


def _tiny_splits():
    """One image per split (784 pixels of k/256) keeps a pickle near 10 kB."""
    rng = np.random.default_rng(0)
    return tuple((rng.integers(0, 256, (1, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, 1).astype(np.int64)) for _ in range(3))


GOOD_PICKLE = _book_pickle(_tiny_splits())


def _load_pkl(tmp_path, data):
    """load_mnist_pkl on data: a Dataset of checked arrays, or ValueError."""
    path = tmp_path / "fuzz.pkl.gz"
    path.write_bytes(data)
    try:
        result = datasets.load_mnist_pkl(path)
    except ValueError:
        return None
    assert isinstance(result, datasets.Dataset)
    for X, y in zip(result[0::2], result[1::2]):
        assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 784
        assert y.dtype == np.int64 and y.shape == (len(X),)
        assert np.all((X >= 0) & (X <= 1)) and np.all((y >= 0) & (y < 10))
    return result


def test_the_unmutated_pickle_loads(tmp_path):
    assert _load_pkl(tmp_path, GOOD_PICKLE) is not None
    assert _load_pkl(tmp_path, gzip.compress(GOOD_PICKLE)) is not None


@fuzz(700)
@given(edits=mutations, gz=st.booleans())
def test_mutated_book_pickle_loads_or_raises_value_error(tmp_path, edits, gz):
    data = mutate(GOOD_PICKLE, edits)
    _load_pkl(tmp_path, gzip.compress(data) if gz else data)


@fuzz(300)
@given(edits=mutations)
def test_mutated_gzip_stream_loads_or_raises_value_error(tmp_path, edits):
    # The damage is to the compressed stream: headers, CRC, length and deflate blocks.
    _load_pkl(tmp_path, mutate(gzip.compress(GOOD_PICKLE), edits))


plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12)


@fuzz(300)
@given(value=plain_values, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_other_pickles_raise_value_error(tmp_path, value, protocol):
    assert _load_pkl(tmp_path, pickle.dumps(value, protocol=protocol)) is None


array_splits = st.tuples(*[st.tuples(
    st.integers(0, 3).flatmap(lambda n: st.sampled_from(["<f4", ">f4", "<f8", ">f2"]).map(
        lambda dtype: (np.arange(n * 784) % 256 / 256).astype(dtype).reshape(n, 784))),
    st.sampled_from(["<i8", ">i4", "u1", "<u2"]).map(lambda dtype: np.arange(3, dtype=dtype)))
    for _ in range(3)])


@fuzz(100)
@given(splits=array_splits, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
       fortran=st.booleans())
def test_arrays_at_any_protocol_load_exactly(tmp_path, splits, protocol, fortran):
    # Labels as many as images, as the loader checks.
    splits = tuple((np.asfortranarray(X) if fortran else X, y[:len(X)] % 10)
                   for X, y in splits)
    result = _load_pkl(tmp_path, gzip.compress(pickle.dumps(splits, protocol=protocol)))
    assert result is not None
    for (X, y), X_read, y_read in zip(splits, result[0::2], result[1::2]):
        assert np.array_equal(X_read, X.astype(np.float32)) and np.array_equal(y_read, y)


GOOD_PICKLE_5 = pickle.dumps(_tiny_splits(), protocol=5)


@fuzz(300)
@given(edits=mutations, gz=st.booleans())
def test_mutated_protocol_5_pickle_loads_or_raises_value_error(tmp_path, edits, gz):
    data = mutate(GOOD_PICKLE_5, edits)
    _load_pkl(tmp_path, gzip.compress(data) if gz else data)


# Callables a malicious pickle might name. None is on the unpickler's list.
DANGEROUS = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
             ("builtins", "getattr"), ("builtins", "__import__"), ("subprocess", "call"),
             ("numpy", "load"), ("numpy", "frombuffer"), ("numpy.lib.npyio", "load"),
             ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
             ("__main__", "RunsACommand"), ("nnfast.datasets", "load_mnist_pkl")]


@fuzz(150)
@given(target=st.sampled_from(DANGEROUS), where=st.floats(0.0, 1.0), gz=st.booleans())
def test_no_pickle_can_name_another_callable(tmp_path, monkeypatch, target, where, gz):
    # A GLOBAL opcode for the target, spliced into the pickle at an opcode boundary,
    # must be refused by name before anything is called.
    called = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a))
    boundaries = [pos for _, _, pos in pickletools.genops(GOOD_PICKLE)]
    at = boundaries[int(where * (len(boundaries) - 1))]
    opcode = b"c" + target[0].encode() + b"\n" + target[1].encode() + b"\n"
    data = GOOD_PICKLE[:at] + opcode + b"(tR" + GOOD_PICKLE[at:]
    path = tmp_path / "evil.pkl"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError):
        datasets.load_mnist_pkl(path)
    assert not called


# -------------------------------------------------------------------- saved networks

def _dense_record():
    return {"sizes": [3, 4, 2], "weights": [[[0.1, -0.2, 0.3]] * 4, [[0.5, 0.1, -0.3, 0.2]] * 2],
            "biases": [[[0.1], [-0.1], [0.2], [0.0]], [[0.3], [-0.3]]],
            "cost": "QuadraticCost", "dtype": "float32", "activation": "tanh"}


def _conv_record():
    """What Network.save writes for a small conv net."""
    net = Network([ConvPoolLayer((2, 1, 3, 3), (1, 6, 6), (2, 2)), SoftmaxLayer(8, 3)],
                  dtype=np.float64, seed=5)
    return {"weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases], "cost": net.cost.__name__,
            "dtype": "float64", "layers": [layer.spec() for layer in net.layers]}


RECORDS = {"dense": _dense_record(), "conv": _conv_record()}


def _load_network(tmp_path, text_or_bytes):
    """nnfast.load on the bytes: a usable network with finite parameters, or ValueError."""
    path = tmp_path / "fuzz.json"
    if isinstance(text_or_bytes, str):
        path.write_text(text_or_bytes)
    else:
        path.write_bytes(text_or_bytes)
    try:
        net = nnfast.load(path)
    except ValueError:
        return None
    assert all(np.isfinite(a).all() for a in net.weights + net.biases)
    out = net.feedforward(np.full((2, net.sizes[0]), 0.5))
    assert out.shape == (2, net.sizes[-1]) and np.isfinite(out).all()
    return net


def test_the_unmutated_records_load(tmp_path):
    for record in RECORDS.values():
        assert _load_network(tmp_path, json.dumps(record)) is not None


@fuzz(400)
@given(kind=st.sampled_from(sorted(RECORDS)), edits=mutations)
def test_mutated_model_bytes_load_or_raise_value_error(tmp_path, kind, edits):
    _load_network(tmp_path, mutate(json.dumps(RECORDS[kind]).encode(), edits))


# JSON values to put anywhere in a record. Integers stay small: sizes like
# [10**6, 10**6] would make load allocate terabytes (test_huge_sizes_in_a_file_... below).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.just(10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=10)
    | st.sampled_from(["sigmoid", "softmax", "dense", "convpool", "float16", "float64",
                       "QuadraticCost", "LogLikelihoodCost", "relu"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=20)


def _paths(value, path=()):
    """Every place in a JSON value: the keys and indices leading to it."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def _replace(record, path, new):
    if not path:
        return new
    record = copy.deepcopy(record)
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return record


PATHS = {kind: list(_paths(record)) for kind, record in RECORDS.items()}


@fuzz(600)
@given(kind=st.sampled_from(sorted(RECORDS)), where=st.floats(0.0, 1.0, exclude_max=True),
       new=json_values, drop=st.booleans())
def test_any_field_replaced_by_any_json_loads_or_raises_value_error(tmp_path, kind, where,
                                                                   new, drop):
    record, paths = RECORDS[kind], PATHS[kind]
    path = paths[int(where * len(paths))]
    if drop and path and isinstance(path[-1], str):
        record = copy.deepcopy(record)
        parent = record
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    else:
        record = _replace(record, path, new)
    _load_network(tmp_path, json.dumps(record))


# ------------------------------------------- what the fuzzers found, as plain cases

@pytest.mark.parametrize("sizes", [[True, 2], "32", 3, None, [3.0, 2]],
                         ids=["bool", "string", "int", "null", "float"])
def test_a_file_with_malformed_sizes_is_a_value_error_naming_the_file(tmp_path, sizes):
    record = {"sizes": [3, 2], "weights": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]],
              "biases": [[[0.1], [-0.1]]], "cost": "QuadraticCost", "sizes": sizes}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="net.json"):
        nnfast.load(path)


def test_a_weight_too_large_for_a_float_is_a_value_error(tmp_path):
    # Valid JSON: an integer literal beyond float64's range.
    path = tmp_path / "net.json"
    path.write_text('{"sizes": [3, 2], "weights": [[[1' + "0" * 400 + ', 0.2, 0.3], '
                    '[0.4, 0.5, 0.6]]], "biases": [[[0.1], [-0.1]]], "cost": "QuadraticCost"}')
    with pytest.raises(ValueError, match="net.json"):
        nnfast.load(path)


def test_deeply_nested_json_is_a_value_error(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{"sizes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match="net.json"):
        nnfast.load(path)


def test_huge_sizes_in_a_file_are_refused_before_allocating(tmp_path):
    # Two numbers in a 100-byte file must not make load allocate 8 TB (or, with
    # smaller sizes that do fit, fill memory) before it finds the weights do not match.
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"sizes": [10**6, 10**6], "weights": [[[0.0]]],
                                "biases": [[[0.0]]], "cost": "QuadraticCost"}))
    with pytest.raises(ValueError, match="net.json"):
        nnfast.load(path)
