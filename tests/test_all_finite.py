"""nnfast._kernels.all_finite: whether every value of a float array is finite."""
import numpy as np
import pytest

from nnfast import _kernels, plan
from engine_checks import thresholds

DTYPES = [np.float32, np.float64]
SPECIALS = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (0, 3), (3, 5, 7), (1031,), (4, 1, 257)],
                         ids=str)
def test_finite_arrays(dtype, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert _kernels.all_finite(x) is True


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_extreme_finite_values(dtype):
    info = np.finfo(dtype)
    x = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal,
                  -info.smallest_subnormal, 0.0, -0.0, info.eps], dtype)
    assert _kernels.all_finite(x) is True


@pytest.mark.parametrize("special", SPECIALS, ids=repr)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5, 7), (1031,)], ids=str)
def test_one_non_finite_value_first_middle_last(dtype, shape, special):
    base = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    for at in sorted({0, base.size // 2, base.size - 1}):
        x = base.copy()
        x.flat[at] = special
        assert _kernels.all_finite(x) is False, f"{special} at {at} of {shape}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_position_of_a_vector_tail(dtype):
    """A NaN at each position of a length that is no multiple of any vector width."""
    base = np.ones(71, dtype)
    for at in range(base.size):
        x = base.copy()
        x[at] = np.nan
        assert _kernels.all_finite(x) is False, at


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_nan_payloads(dtype):
    """Every NaN counts, whatever its sign and payload bits."""
    bits = np.uint32 if dtype is np.float32 else np.uint64
    nans = (np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF], np.uint32)
            if dtype is np.float32 else
            np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                      0xFFFFFFFFFFFFFFFF], np.uint64))
    for raw in nans:
        x = np.zeros(5, dtype)
        x.view(bits)[2] = raw
        assert _kernels.all_finite(x) is False, hex(int(raw))


@pytest.mark.parametrize("x", [np.zeros(4, np.float16), np.zeros(4, np.int64),
                               np.zeros(4, np.complex128), np.zeros(4, bool)],
                         ids=lambda x: str(x.dtype))
def test_wrong_dtype_refused_by_name(x):
    with pytest.raises(TypeError, match=r"^all_finite: x\b"):
        _kernels.all_finite(x)


@pytest.mark.parametrize("x", [[1.0, 2.0], 1.0, None], ids=repr)
def test_not_an_array_refused_by_name(x):
    with pytest.raises(TypeError, match=r"^all_finite: x\b"):
        _kernels.all_finite(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_non_contiguous_refused_by_name(dtype):
    x = np.zeros((6, 8), dtype)
    for bad in (x[:, ::2], x[::2], np.asfortranarray(x), x.T):
        with pytest.raises(ValueError, match=r"^all_finite: x\b"):
            _kernels.all_finite(bad)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_byte_swapped_and_misaligned_refused_by_name(dtype):
    swapped = np.zeros(5, np.dtype(dtype).newbyteorder())
    with pytest.raises(ValueError, match=r"^all_finite: x\b"):
        _kernels.all_finite(swapped)
    raw = np.zeros(5 * np.dtype(dtype).itemsize + 1, np.uint8)
    misaligned = raw[1:].view(dtype)
    assert not misaligned.flags.aligned
    with pytest.raises(ValueError, match=r"^all_finite: x\b"):
        _kernels.all_finite(misaligned)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_each_thread_slice_is_checked(dtype, n_threads):
    """Parallel from the first element (threshold 0): a NaN in any thread's slice,
    and at its edges, is found on any thread count."""
    _kernels.put_parallel_plan(thresholds(0))
    try:
        base = np.ones(1003, dtype)
        assert _kernels.all_finite(base, n_threads) is True
        for at in (0, 333, 334, 500, 501, 668, 669, 1002):
            x = base.copy()
            x[at] = np.inf
            assert _kernels.all_finite(x, n_threads=n_threads) is False, at
    finally:
        plan.forget()  # the next use plans the thresholds again


@pytest.mark.parametrize("n_threads, error", [(0, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_bad_n_threads_refused_by_name(n_threads, error):
    with pytest.raises(error, match=r"n_threads"):
        _kernels.all_finite(np.ones(3), n_threads)
