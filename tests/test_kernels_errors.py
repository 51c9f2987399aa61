"""Bad arguments to every public kernel raise TypeError or ValueError naming the argument.

Wrong kinds of thing (not an array, a dtype we do not compute in, a non-number) are
TypeErrors; right kinds with wrong values (shape, ndim, read-only, n_threads < 1) are
ValueErrors, as NumPy does. Each message starts "func: name ...", so the assertions
look for the argument's name right after the function's.
"""
import re

import numpy as np
import pytest

import nnfast
from nnfast import _kernels, kernels

# Each kernel's array arguments in call order, with a shape that works; then out's shape.
SPECS = {
    "matmul": ({"a": (3, 4), "b": (4, 5)}, (3, 5)),
    "sigmoid": ({"z": (3, 4)}, (3, 4)),
    "sigmoid_prime": ({"z": (3, 4)}, (3, 4)),
    "sigmoid_prime_from_output": ({"a": (3, 4)}, (3, 4)),
    "tanh": ({"z": (3, 4)}, (3, 4)),
    "tanh_prime_from_output": ({"a": (3, 4)}, (3, 4)),
    "relu": ({"z": (3, 4)}, (3, 4)),
    "relu_prime": ({"z": (3, 4)}, (3, 4)),
    "softmax": ({"z": (3, 4)}, (3, 4)),
    "hadamard": ({"a": (3, 4), "b": (3, 4)}, (3, 4)),
    "add_bias": ({"x": (3, 4), "bias": (4,)}, (3, 4)),
    "column_sums": ({"x": (3, 4)}, (4,)),
}
TWO_INPUTS = [name for name, (args, _) in SPECS.items() if len(args) == 2]


def names(func, *args):
    """A pattern for a message from func that names args (joined by 'and')."""
    return rf"^{re.escape(func)}: {' and '.join(map(re.escape, args))}\b"


def good_args(func, dtype=np.float64):
    shapes, _ = SPECS[func]
    rng = np.random.default_rng(0)
    return {name: rng.uniform(0.1, 0.9, shape).astype(dtype) for name, shape in shapes.items()}


def call(func, args, **kw):
    return getattr(kernels, func)(*args.values(), **kw)


def _cases(kind):
    return [pytest.param(func, arg, id=f"{func}-{arg}")
            for func, (shapes, _) in SPECS.items() for arg in shapes
            if kind == "any" or (kind == "2d") == (len(shapes[arg]) == 2)]


@pytest.mark.parametrize("func", sorted(SPECS))
def test_good_arguments_work(func):
    """The baseline every bad case departs from, with and without out=, in both dtypes."""
    args = good_args(func)
    call(func, args)
    out = np.empty(SPECS[func][1])
    assert call(func, args, out=out) is out
    for dtype in (np.float32, np.float64):
        call(func, good_args(func, dtype))


NOT_ARRAYS = {
    "list": lambda x: x.tolist(),
    "tuple": lambda x: tuple(x.tolist()),
    "float": lambda x: 1.0,
    "None": lambda x: None,
    "str": lambda x: "1 2; 3 4",
    "memoryview": lambda x: memoryview(x),
}


@pytest.mark.parametrize("kind", sorted(NOT_ARRAYS))
@pytest.mark.parametrize(("func", "arg"), _cases("any"))
def test_not_an_array(func, arg, kind):
    args = good_args(func)
    args[arg] = NOT_ARRAYS[kind](args[arg])
    with pytest.raises(TypeError, match=names(func, arg)):
        call(func, args)


BAD_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.complex128, np.complex64, object,
              np.float16, np.longdouble, "U3"]


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("func", "arg"), _cases("any"))
def test_unsupported_dtype(func, arg, dtype):
    args = good_args(func)
    args[arg] = args[arg].astype(dtype)
    with pytest.raises(TypeError, match=names(func, arg)):
        call(func, args)


@pytest.mark.parametrize("shape", [(12,), (2, 3, 2), (), (1, 3, 4)],
                         ids=["1-D", "3-D", "0-D", "1x3x4"])
@pytest.mark.parametrize(("func", "arg"), _cases("2d"))
def test_matrix_argument_with_wrong_ndim(func, arg, shape):
    args = good_args(func)
    args[arg] = np.ones(shape)
    with pytest.raises(ValueError, match=names(func, arg)):
        call(func, args)


@pytest.mark.parametrize("shape", [(4, 1), (1, 4), ()], ids=["2-D", "row", "0-D"])
def test_bias_with_wrong_ndim(shape):
    args = good_args("add_bias")
    args["bias"] = np.ones(shape)
    with pytest.raises(ValueError, match=names("add_bias", "bias")):
        call("add_bias", args)


@pytest.mark.parametrize("func", TWO_INPUTS)
@pytest.mark.parametrize("first", [np.float32, np.float64], ids=["f32-f64", "f64-f32"])
def test_mixed_float32_float64(func, first):
    args = good_args(func)
    a, b = args
    args[a] = args[a].astype(first)
    args[b] = args[b].astype(np.float64 if first is np.float32 else np.float32)
    with pytest.raises(TypeError, match=names(func, a, b)):
        call(func, args)


@pytest.mark.parametrize("b_shape,kw", [((5, 4), {}), ((4, 5), {"trans_b": True}),
                                        ((4, 5), {"trans_a": True}), ((3, 5), {})])
def test_matmul_inner_dimensions_differ(b_shape, kw):
    with pytest.raises(ValueError, match=r"^matmul: .*op\(a\) .*op\(b\)"):
        kernels.matmul(np.ones((3, 4)), np.ones(b_shape), **kw)


@pytest.mark.parametrize("b_shape", [(3, 5), (4, 3), (3, 3), (1, 4)])
def test_hadamard_shapes_differ(b_shape):
    with pytest.raises(ValueError, match=names("hadamard", "a", "b")):
        kernels.hadamard(np.ones((3, 4)), np.ones(b_shape))


@pytest.mark.parametrize("n", [3, 5, 0, 12])
def test_add_bias_length_differs(n):
    with pytest.raises(ValueError, match=names("add_bias", "bias")):
        kernels.add_bias(np.ones((3, 4)), np.ones(n))


def test_softmax_without_columns():
    with pytest.raises(ValueError, match=names("softmax", "z")):
        kernels.softmax(np.ones((3, 0)))


# ---- out ----


def _transposed_out_shape(shape):
    return shape[::-1] if len(shape) == 2 else (shape[0] + 1,)


WRONG_OUTS = [
    ("list", TypeError, lambda s, dt: np.zeros(s, dt).tolist()),
    ("scalar", TypeError, lambda s, dt: 0.0),
    ("int64", TypeError, lambda s, dt: np.zeros(s, np.int64)),
    ("bool", TypeError, lambda s, dt: np.zeros(s, np.bool_)),
    ("complex", TypeError, lambda s, dt: np.zeros(s, np.complex128)),
    ("other-float", TypeError,
     lambda s, dt: np.zeros(s, np.float32 if dt == np.float64 else np.float64)),
    ("wrong-shape", ValueError, lambda s, dt: np.zeros(_transposed_out_shape(s), dt)),
    ("one-more-row", ValueError, lambda s, dt: np.zeros((s[0] + 1,) + s[1:], dt)),
    ("extra-axis", ValueError, lambda s, dt: np.zeros(s + (1,), dt)),
    ("flattened", ValueError, lambda s, dt: np.zeros(int(np.prod(s)) + (len(s) == 1), dt)),
    ("read-only", ValueError, lambda s, dt: _read_only(np.zeros(s, dt))),
    ("broadcast", ValueError, lambda s, dt: np.broadcast_to(np.zeros(s[-1], dt), s)),
    ("misaligned", ValueError, lambda s, dt: _misaligned(s, dt)),
    ("byte-swapped", ValueError, lambda s, dt: np.zeros(s, np.dtype(dt).newbyteorder())),
]


def _read_only(x):
    x.flags.writeable = False
    return x


def _misaligned(shape, dtype):
    n = int(np.prod(shape))
    raw = bytearray(n * np.dtype(dtype).itemsize + 1)
    return np.frombuffer(raw, dtype=dtype, count=n, offset=1).reshape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("error,make", [w[1:] for w in WRONG_OUTS],
                         ids=[w[0] for w in WRONG_OUTS])
@pytest.mark.parametrize("func", sorted(SPECS))
def test_wrong_out(func, error, make, dtype):
    args = good_args(func, dtype)
    out = make(SPECS[func][1], dtype)
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    with pytest.raises(error, match=names(func, "out")):
        call(func, args, out=out)
    if before is not None:
        np.testing.assert_array_equal(out, before)


# ---- matmul's scalars ----


@pytest.mark.parametrize("beta", [1.0, -0.5, 1e-300, np.float32(2), 3])
def test_matmul_beta_without_out(beta):
    with pytest.raises(ValueError, match=names("matmul", "beta")):
        kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), beta=beta)


@pytest.mark.parametrize("value,error", [(0, ValueError), (-1, ValueError), (-(2**40), ValueError),
                                         (np.int64(0), ValueError), (_kernels.MAX_THREADS + 1, ValueError),
                                         (65536, ValueError), (2**31, ValueError), (2**40, ValueError),
                                         (np.int64(2**40), ValueError), (1.5, TypeError),
                                         (2.0, TypeError), ("2", TypeError), (True, TypeError),
                                         (False, TypeError), (np.bool_(True), TypeError),
                                         ([2], TypeError), (2 + 0j, TypeError)],
                         ids=repr)
def test_matmul_bad_n_threads(value, error):
    with pytest.raises(error, match=names("matmul", "n_threads")):
        kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), n_threads=value)


@pytest.mark.parametrize("value", [None, 1, 2, 3, np.int64(2), np.int32(1), _kernels.MAX_THREADS])
def test_matmul_good_n_threads(value):
    got = kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), n_threads=value)
    np.testing.assert_array_equal(got, np.full((3, 5), 4.0))


@pytest.mark.parametrize("value", [2**63, 2**64, 2**70], ids=["2**63", "2**64", "2**70"])
def test_matmul_n_threads_past_c_range(value):
    """A thread count too large for C is refused by name like any one past MAX_THREADS
    (not an OverflowError from the conversion)."""
    with pytest.raises(ValueError, match=names("matmul", "n_threads")):
        kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), n_threads=value)


@pytest.mark.parametrize("name", ["trans_a", "trans_b"])
@pytest.mark.parametrize("value", ["no", "", 0, 1, 0.0, None, [True]], ids=repr)
def test_matmul_trans_flags_are_bools(name, value):
    """A string or a number would choose the transpose by its truth: "no" transposes."""
    with pytest.raises(TypeError, match=names("matmul", name)):
        kernels.matmul(np.ones((4, 4)), np.eye(4), **{name: value})


@pytest.mark.parametrize("value", [False, True, np.bool_(True)], ids=repr)
def test_matmul_trans_flags_accept_bools(value):
    a = np.arange(12.0).reshape(3, 4)
    got = kernels.matmul(a, a, trans_a=value, trans_b=not value)
    np.testing.assert_array_equal(got, a.T @ a if value else a @ a.T)


@pytest.mark.parametrize("name", ["alpha", "beta"])
@pytest.mark.parametrize("value", ["1", None, 1j, np.complex128(1), True, np.bool_(False), [1.0],
                                   np.array([1.0]), np.array(1.0), object()],
                         ids=lambda v: type(v).__name__)
def test_matmul_bad_scalar_type(name, value):
    out = np.zeros((3, 5))
    with pytest.raises(TypeError, match=names("matmul", name)):
        kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), out, **{name: value})


@pytest.mark.parametrize("value", [2, np.float32(2.0), np.float64(2.0), np.int16(2)],
                         ids=lambda v: type(v).__name__)
def test_matmul_real_scalars_of_any_type(value):
    out = np.ones((3, 5))
    kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), out, alpha=value, beta=value)
    np.testing.assert_array_equal(out, np.full((3, 5), 10.0))


def test_matmul_scalars_are_keyword_only():
    with pytest.raises(TypeError):
        kernels.matmul(np.ones((3, 4)), np.ones((4, 5)), None, False)


# ---- threads and CPU dispatch ----


@pytest.fixture
def restore_threads():
    previous = nnfast.get_num_threads()
    yield
    nnfast.set_num_threads(previous)


@pytest.mark.parametrize("value,error", [(0, ValueError), (-1, ValueError),
                                         (np.int64(-3), ValueError), (65536, ValueError),
                                         (_kernels.MAX_THREADS + 1, ValueError), (1.5, TypeError),
                                         (2.0, TypeError), ("2", TypeError), (True, TypeError),
                                         ([2], TypeError), (None, TypeError)],
                         ids=repr)
def test_set_num_threads_bad(restore_threads, value, error):
    before = nnfast.get_num_threads()
    with pytest.raises(error, match=names("set_num_threads", "n")):
        nnfast.set_num_threads(value)
    assert nnfast.get_num_threads() == before


@pytest.mark.parametrize("value", [2**63, 2**70], ids=["2**63", "2**70"])
def test_set_num_threads_past_c_range(restore_threads, value):
    before = nnfast.get_num_threads()
    with pytest.raises(ValueError, match=names("set_num_threads", "n")):
        nnfast.set_num_threads(value)
    assert nnfast.get_num_threads() == before


def test_set_num_threads_up_to_the_bound(restore_threads):
    nnfast.set_num_threads(_kernels.MAX_THREADS)
    assert nnfast.get_num_threads() == _kernels.MAX_THREADS


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1), _kernels.MAX_THREADS], ids=repr)
def test_check_threads_good(value):
    assert _kernels.check_threads(value) == value
    assert type(_kernels.check_threads(value)) is int


def test_check_threads_none_is_the_default(restore_threads):
    nnfast.set_num_threads(3)
    assert _kernels.check_threads(None) == 3


@pytest.mark.parametrize("value,error", [(0, ValueError), (-2, ValueError),
                                         (_kernels.MAX_THREADS + 1, ValueError),
                                         (2**31, ValueError), (10**30, ValueError),
                                         (np.uint64(2**64 - 1), ValueError), (1.0, TypeError),
                                         ("4", TypeError), (True, TypeError)], ids=repr)
def test_check_threads_bad(value, error):
    """The check the training code shares: the message names what the caller passes."""
    with pytest.raises(error, match=r"^n_threads_each\b"):
        _kernels.check_threads(value, "n_threads_each")
    with pytest.raises(error, match=r"^n_threads\b"):
        _kernels.check_threads(value)


@pytest.mark.parametrize("name", ["bogus", "AVX2", "", None, 1])
def test_set_arch_unknown_name(name):
    before = _kernels.get_arch()
    with pytest.raises(ValueError, match=names("set_arch", "name")):
        _kernels.set_arch(name)
    assert _kernels.get_arch() == before


@pytest.mark.parametrize("name", [n for n in _kernels.ARCHS if n not in _kernels.supported_archs()])
def test_set_arch_unsupported_here(name):
    before = _kernels.get_arch()
    with pytest.raises(RuntimeError, match=re.escape(repr(name))):
        _kernels.set_arch(name)
    assert _kernels.get_arch() == before


# ---- huge ints: a ValueError naming the argument, never an OverflowError ----

IMAGES = np.zeros((2, 3, 8, 8))
FILTERS = np.zeros((4, 3, 3, 3))
POOLED = np.zeros((2, 3, 4, 4))
HUGE = [2**31, 2**63, 10**30]

HUGE_CALLS = [
    # (func, name, call with the huge value v)
    ("im2col", "kh", lambda v: kernels.im2col(IMAGES[0], v, 3)),
    ("im2col", "kw", lambda v: kernels.im2col(IMAGES[0], 3, v)),
    ("col2im", "x_shape", lambda v: kernels.col2im(np.zeros((27, 36)), (3, v, 8), 3, 3)),
    ("col2im", "kh", lambda v: kernels.col2im(np.zeros((27, 36)), (3, 8, 8), v, 3)),
    ("maxpool2d", "poolsize", lambda v: kernels.maxpool2d(IMAGES, (v, 2))),
    ("l2pool2d", "poolsize", lambda v: kernels.l2pool2d(IMAGES, (2, v))),
    ("maxpool2d_backward", "x_shape",
     lambda v: kernels.maxpool2d_backward(POOLED, np.zeros(POOLED.shape, np.int32), (2, 3, v, 8))),
    ("conv2d", "n_threads", lambda v: kernels.conv2d(IMAGES, FILTERS, n_threads=v)),
    ("conv2d_backward", "n_threads",
     lambda v: kernels.conv2d_backward(IMAGES, FILTERS, np.zeros((2, 4, 6, 6)), n_threads=v)),
    ("matmul", "n_threads", lambda v: kernels.matmul(np.ones((2, 2)), np.ones((2, 2)), n_threads=v)),
    ("dropout", "p", lambda v: kernels.dropout(IMAGES, 10**400 + v, 0)),
    ("set_num_threads", "n", lambda v: nnfast.set_num_threads(v)),
]


@pytest.mark.parametrize("value", HUGE, ids=["2**31", "2**63", "10**30"])
@pytest.mark.parametrize("func,name,call", HUGE_CALLS, ids=[f"{f}-{n}" for f, n, _ in HUGE_CALLS])
def test_huge_ints_are_value_errors(restore_threads, func, name, call, value):
    with pytest.raises(ValueError, match=names(func, name)):
        call(value)


def test_sizes_up_to_the_int32_bound_pass_the_size_check():
    """The bound is the kernels' int32 index range: a kernel as large as that is
    refused for not fitting the image, not for its size."""
    with pytest.raises(ValueError, match=names("im2col", "kh x kw")):
        kernels.im2col(IMAGES[0], 2**31 - 1, 3)


# ---- conv layers whose image planes the kernels' int32 indices cannot reach ----

def test_conv_layer_with_planes_past_int32_is_refused():
    from nnfast.layers import MAX_PLANE, ConvPoolLayer

    side = 46_341  # side**2 = 2,147,488,281 > 2**31 - 1
    assert side * side > MAX_PLANE >= (side - 1) ** 2
    with pytest.raises(ValueError, match=r"^image_shape's 46341x46341 planes"):
        ConvPoolLayer((1, 1, 2, 2), (1, side, side), (1, 1))
    with pytest.raises(ValueError, match=r"^image_shape's 2x1073741824 planes"):
        ConvPoolLayer((1, 1, 1, 1), (1, 2, 2**30), (1, 1))
    layer = ConvPoolLayer((1, 1, 2, 2), (1, side - 1, side - 1), (1, 1))  # the largest square
    assert layer.n_in == (side - 1) ** 2


def test_saved_conv_layer_with_planes_past_int32_is_refused(tmp_path):
    import json

    big = {"kind": "convpool", "n_in": 2 * 2**31, "n_out": 2**31 - 2**16, "activation": "relu",
           "c": 1, "h": 2**16, "w": 2**16 * 2, "f": 1, "kh": 1, "kw": 1, "ph": 1, "pw": 2}
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"layers": [big], "weights": [], "biases": [],
                                "cost": "LogLikelihoodCost"}))
    with pytest.raises(ValueError, match=r"net\.json: a convpool layer spec's h x w "
                                         r"\(65536x131072\)"):
        nnfast.load(path)


# ---- sparse_matmul ----

def _sparse_args(dtype=np.float64):
    """A 2 x 4 sparse matrix with 3 entries and a 4 x 5 b that fit."""
    return (np.array([0, 2, 3]), np.array([0, 3, 1]), np.ones(3, dtype), np.ones((4, 5), dtype))


SPARSE_BAD = [
    # (argument changed, its value, error, name in the message)
    (0, [0, 2, 3], TypeError, "indptr"),
    (0, np.array([0.0, 2.0, 3.0]), TypeError, "indptr"),
    (0, np.array([[0, 2, 3]]), ValueError, "indptr"),
    (0, np.array([], dtype=np.int64), ValueError, "indptr"),
    (0, np.array([1, 2, 3]), ValueError, "indptr"),
    (0, np.array([0, 2, 4]), ValueError, "indptr"),
    (0, np.array([0, 4, 3]), ValueError, "indptr"),
    (0, np.array([0, 2, 2**40]), ValueError, "indptr"),
    (1, np.array([0, 3]), ValueError, "indices"),
    (1, np.array([0, 4, 1]), ValueError, "indices"),
    (1, np.array([0, -1, 1]), ValueError, "indices"),
    (1, np.array([0.0, 3.0, 1.0]), TypeError, "indices"),
    (2, np.ones(3, np.float32), TypeError, "values and b"),
    (2, np.ones(3, np.int64), TypeError, "values"),
    (2, np.ones((3, 1)), ValueError, "values"),
    (3, np.ones(5), ValueError, "b"),
    (3, [[1.0] * 5] * 4, TypeError, "b"),
]


@pytest.mark.parametrize("position,value,error,name", SPARSE_BAD,
                         ids=[f"{i}-{n}" for i, (_, _, _, n) in enumerate(SPARSE_BAD)])
def test_sparse_matmul_bad_arguments(position, value, error, name):
    args = list(_sparse_args())
    args[position] = value
    with pytest.raises(error, match=rf"^sparse_matmul: {re.escape(name)}\b"):
        kernels.sparse_matmul(*args)


def test_sparse_matmul_out_and_beta_checked_before_writing():
    args = _sparse_args()
    with pytest.raises(ValueError, match=names("sparse_matmul", "beta")):
        kernels.sparse_matmul(*args, beta=1.0)
    for out, error in [(np.zeros((2, 4)), ValueError), (np.zeros((2, 5), np.float32), TypeError),
                       (np.zeros((5, 2)).T, ValueError), ([[0.0] * 5] * 2, TypeError)]:
        before = np.array(out, copy=True)
        with pytest.raises(error, match=names("sparse_matmul", "out")):
            kernels.sparse_matmul(*args, out)
        np.testing.assert_array_equal(out, before)
    with pytest.raises(TypeError, match=names("sparse_matmul", "beta")):
        kernels.sparse_matmul(*args, np.zeros((2, 5)), beta="1")
