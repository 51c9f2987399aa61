"""The direct convolution (csrc/conv_direct_avx2.c, conv_direct_avx512.c) and its plan.

Where it fits (float32, the AVX2 or AVX-512 table in use, and output rows 17 to 24 wide
with every tap in one k-block of KC, or rows at most 8 wide) a conv layer's forward product is planned between it
and im2col with the GEMM, which must give the same bits; with the AVX-512 table in use,
AVX2's direct convolution is a third path ("direct_avx2"). Each shape below is computed
on every path, each forced by an imported plan, under each of those ISAs this CPU runs,
and compared bit for bit; an ISA the CPU lacks is skipped with the reason.
"""
import json

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, _kernels, kernels, oracle, plan
from nnfast.activations import ReLU
from engine_checks import fresh_plans, skip_unless_runs, using_arch

KC = _kernels.blocking(np.float32)["kc"]
# The direct convolution's paths: the table in use's kernel and AVX2's (a candidate
# where the table in use is AVX-512's; forced, it runs under AVX2's table too).
DIRECT_PATHS = ("direct", "direct_avx2")


@pytest.fixture(autouse=True)
def measured_plans():
    with fresh_plans("measure"):
        yield


@pytest.fixture(params=["avx2", "avx512"])
def isa(request):
    """Each ISA with a direct convolution, in use for the test."""
    skip_unless_runs(request.param)
    with using_arch(request.param):
        yield request.param


def _force(path, x_shape, w_shape, n_threads=1, dtype="float32"):
    """Import a plan that sends this convolution down `path`."""
    _, c, h, w = x_shape
    f, _, kh, kw = w_shape
    _kernels.put_conv_plan({"product": "forward", "isa_in_use": _kernels.get_arch(),
                            "dtype": dtype, "c": c, "h": h,
                            "w": w, "f": f, "kh": kh, "kw": kw, "n_threads": n_threads,
                            "path": path})


def _inputs(x_shape, w_shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    return x, w, rng.standard_normal(w_shape[0]).astype(np.float32)


def _on_each_path(x, w, bias):
    results = {}
    for path in ("gemm",) + DIRECT_PATHS:
        _force(path, x.shape, w.shape)
        results[path] = kernels.conv2d(x, w, bias, n_threads=1)
    return results


def _assert_each_direct_path_gives_the_gemms_bits(got):
    for path in DIRECT_PATHS:
        np.testing.assert_array_equal(got[path], got["gemm"], err_msg=path)


def _assert_near_exact(got, x, w, bias):
    """Against the exact sums: k FMAs in chains of at most KC, each chain but the first
    added to the ones before, then the bias: k + ceil(k / KC) roundings, each within
    eps/2 of the sum of the |terms| it has taken in, so within (k + ceil(k / KC)) eps/2
    of the sum of all the |terms| (the float64 oracle's rounding is far below that)."""
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, bias))
    k = w[0].size
    bound = (k + -(-k // KC)) * np.finfo(np.float32).eps / 2 * oracle.conv2d(
        np.abs(x64), np.abs(w64), np.abs(b64))
    assert np.all(np.abs(got - oracle.conv2d(x64, w64, b64)) <= bound)


def _fits(x_shape, w_shape):
    ow = x_shape[3] - w_shape[3] + 1
    return (16 < ow <= 24 and w_shape[1] * w_shape[2] * w_shape[3] <= KC) or ow <= 8


# (images, filters): the book's first layer; every width 17..24 (tails of 1 to 8
# columns, the last two rows' shared); odd output heights, which pair the last row
# with itself; filter counts that leave 1 to 4 after blocks of five; several
# channels; kernels wider than tall and taller than wide; c*kh*kw at KC.
SHAPES = [((3, 1, 28, 28), (20, 1, 5, 5))]
SHAPES += [((2, 1, 9, 20 + tail), (7, 1, 5, 5)) for tail in range(1, 9)]
SHAPES += [((2, 1, 21, 21), (3, 1, 3, 3)), ((2, 2, 12, 20), (11, 2, 3, 4)),
           ((2, 3, 9, 26), (6, 3, 4, 3)), ((1, 1, 30, 40), (4, 1, 7, 17)),
           ((2, 10, 8, 28), (9, 10, 5, 5)), ((1, 1, 17, 24), (1, 1, 17, 1))]
# Narrow rows: W5's second layer (500 taps, two k-blocks); every width 1..8 with heights
# odd and even, one and more groups of output rows, filter counts that leave 1 to 5
# after blocks of six (AVX-512) and 1 to 2 after blocks of three (AVX2); k-blocks that
# split a kernel row, and k a multiple of KC.
SHAPES += [((2, 20, 12, 12), (40, 20, 5, 5))]
SHAPES += [((1, 3, 11, 4 + ow), (5 + ow, 3, 5, 5)) for ow in range(1, 9)]
SHAPES += [((2, 7, 19, 9), (13, 7, 3, 2)), ((1, 29, 10, 10), (4, 29, 3, 3)),
           ((1, 16, 6, 6), (2, 16, 4, 4)), ((1, 33, 9, 12), (7, 33, 2, 5))]
# Images taller than the 64 rows a mask of zero rows holds (conv_direct.h): wide, narrow.
SHAPES += [((1, 1, 70, 28), (3, 1, 5, 5)), ((1, 2, 66, 10), (3, 2, 5, 5))]


@pytest.mark.parametrize("x_shape,w_shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_the_direct_convolution_gives_the_gemms_bits(isa, x_shape, w_shape):
    assert _fits(x_shape, w_shape)
    x, w, bias = _inputs(x_shape, w_shape)
    got = _on_each_path(x, w, bias)
    _assert_each_direct_path_gives_the_gemms_bits(got)
    assert [p["path"] for p in plan.convs()] == ["direct_avx2"]  # the plan imported last
    _assert_near_exact(got["direct"], x, w, bias)


def _with_rows_of_zeros(x, seed):
    """x with rows of zeros, as dead ReLU filters (whole planes) and blank image rows
    leave them: per sample a random set of channels and of rows, +0 and -0 mixed, and
    rows that are zeros but for their last value, planes but for their last row or
    their first (those the direct convolution must not skip)."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    n, c, h, w = x.shape
    x[rng.random((n, c)) < 0.4] = 0.0
    x[rng.random((n, c, h)) < 0.3] = 0.0
    almost = rng.random((n, c, h)) < 0.1
    x[almost, : w - 1] = 0.0
    x[0, 0, :-1] = 0.0
    x[-1, -1, 1:] = 0.0
    negative = (x == 0) & (rng.random(x.shape) < 0.5)
    x[negative] = -0.0
    return x


@pytest.mark.parametrize("x_shape,w_shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_rows_of_zeros_skipped_keep_the_gemms_bits(isa, x_shape, w_shape):
    """The direct convolution skips the taps that read only rows of zeros; w * 0
    being +-0, each chain is what the GEMM's is."""
    x, w, bias = _inputs(x_shape, w_shape)
    x = _with_rows_of_zeros(x, seed=sum(x_shape))
    assert (x == 0).any(axis=3).any() and np.signbit(x[x == 0]).any()
    got = _on_each_path(x, w, bias)
    _assert_each_direct_path_gives_the_gemms_bits(got)
    _assert_near_exact(got["direct"], x, w, bias)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("x_shape,w_shape", [((2, 1, 28, 28), (4, 1, 5, 5)),
                                             ((2, 20, 12, 12), (7, 20, 5, 5))],
                         ids=["wide", "narrow"])
def test_a_weight_not_finite_meets_the_zeros_as_in_the_gemm(isa, x_shape, w_shape, bad):
    """inf * 0 and NaN * 0 are NaN: with a weight that is not finite, nothing is
    skipped, and the NaNs reach the outputs the GEMM's reach."""
    x, w, bias = _inputs(x_shape, w_shape)
    x[:, -1] = 0.0  # the last channel all zeros, and the first row of every channel
    x[:, :, 0] = 0.0
    w[1, -1, 0, 2] = bad
    w[2, 0, 0, 0] = bad
    got = _on_each_path(x, w, bias)
    _assert_each_direct_path_gives_the_gemms_bits(got)
    assert np.isnan(got["direct"][:, 1]).all()  # every output of filter 1 met the zeros
    assert np.isnan(got["direct"][:, 2, 0]).all()


@pytest.mark.parametrize("x_shape,w_shape", [((2, 1, 28, 29), (4, 1, 5, 5)),  # rows of 25
                                             ((2, 1, 20, 20), (4, 1, 5, 5)),  # rows of 16
                                             ((1, 11, 8, 28), (3, 11, 5, 5))],  # k 275 > KC
                         ids=["ow25", "ow16", "k275"])
def test_a_direct_plan_for_a_shape_it_does_not_fit_runs_the_gemm(isa, x_shape, w_shape):
    assert not _fits(x_shape, w_shape)
    x, w, bias = _inputs(x_shape, w_shape)
    for path in DIRECT_PATHS:
        _force(path, x_shape, w_shape)
        _assert_near_exact(kernels.conv2d(x, w, bias, n_threads=1), x, w, bias)


def _conv_net(dtype=np.float32):
    conv = ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU)
    return nnfast.Network([conv, FullyConnectedLayer(conv.n_out, 30), SoftmaxLayer(30, 10)],
                          dtype=dtype, seed=4)


def _train(path, n_threads):
    rng = np.random.default_rng(6)
    X, y = rng.uniform(0, 1, (40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    net = _conv_net()
    # the engine's convolutions take n_threads // (images a thread takes) for their GEMM
    for inner in (1, n_threads):
        _force(path, (10, 1, 28, 28), (20, 1, 5, 5), inner)
    net.SGD((X, y), 1, 10, 0.1, n_threads=n_threads, progress=False)
    return [np.array(p) for p in list(net.weights) + list(net.biases)]


@pytest.mark.parametrize("direct", DIRECT_PATHS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_on_either_path_gives_the_same_weights(isa, n_threads, direct):
    for g, d in zip(_train("gemm", n_threads), _train(direct, n_threads)):
        np.testing.assert_array_equal(g, d)


def _train_two_convs(path, n_threads):
    """W5's two ReLU conv layers (fewer filters), on images with blank rows, three of
    the first layer's filters dead (biases far below their sums): the second layer's
    input has planes and rows of zeros, as in training."""
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, (40, 1, 28, 28)).astype(np.float32)
    X[:, :, :4] = 0.0
    X[:, :, 25:] = 0.0
    X[::3, :, 10] = 0.0
    first = ConvPoolLayer((6, 1, 5, 5), (1, 28, 28), (2, 2), ReLU)
    second = ConvPoolLayer((8, 6, 5, 5), (6, 12, 12), (2, 2), ReLU)
    net = nnfast.Network([first, second, FullyConnectedLayer(second.n_out, 20, ReLU),
                          SoftmaxLayer(20, 10)], seed=5)
    net.biases[0][:3] = -100.0
    for inner in (1, n_threads):
        _force(path, (10, 1, 28, 28), (6, 1, 5, 5), inner)
        _force(path, (10, 6, 12, 12), (8, 6, 5, 5), inner)
    net.SGD((X.reshape(40, 784), rng.integers(0, 10, 40)), 2, 10, 0.1, n_threads=n_threads,
            progress=False)
    assert {p["path"] for p in plan.convs() if p["product"] == "forward"} == {path}
    return [np.array(p) for p in list(net.weights) + list(net.biases)]


@pytest.mark.parametrize("direct", DIRECT_PATHS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_with_dead_filters_on_either_path_gives_the_same_weights(isa, n_threads,
                                                                          direct):
    for g, d in zip(_train_two_convs("gemm", n_threads), _train_two_convs(direct, n_threads)):
        np.testing.assert_array_equal(g, d)


def test_the_planner_times_each_path_once_and_keeps_the_fastest(isa):
    """Every path, AVX2's direct convolution only beside AVX-512's (never timed, nor
    chosen, where AVX2's table is in use: it is the direct path there)."""
    x, w, bias = _inputs((4, 1, 28, 28), (20, 1, 5, 5))
    runs = plan.timed_runs()
    kernels.conv2d(x, w, bias, n_threads=1)
    [made] = plan.convs()
    assert made["how"] == "measured" and made["n_threads"] == 1 and made["isa_in_use"] == isa
    shape = tuple(made[key] for key in ("c", "h", "w", "f", "kh", "kw"))
    assert shape == (1, 28, 28, 20, 5, 5)
    seconds = made["seconds"]
    assert seconds["gemm"] > 0 and seconds["direct"] > 0
    assert (seconds["direct_avx2"] > 0) == (isa == "avx512")
    timed = {path: s for path, s in seconds.items() if s > 0}
    assert made["path"] == min(timed, key=timed.get)
    assert made["planning_seconds"] > 0
    # three runs a path, and the GEMM's own plan
    assert plan.timed_runs() - runs >= 3 * len(timed)
    runs = plan.timed_runs()
    kernels.conv2d(x, w, bias, n_threads=1)
    assert plan.timed_runs() == runs and len(plan.convs()) == 1


def test_estimate_takes_the_direct_path_untimed(isa):
    x, w, bias = _inputs((2, 1, 28, 28), (20, 1, 5, 5))
    with fresh_plans("estimate"):
        runs = plan.timed_runs()
        kernels.conv2d(x, w, bias, n_threads=1)
        [made] = plan.convs()
        assert (made["path"], made["how"]) == ("direct", "estimated")
        assert made["seconds"] == {"gemm": 0.0, "direct": 0.0, "direct_avx2": 0.0}
        assert plan.timed_runs() == runs


def test_no_plan_where_there_is_no_choice():
    """Float64, a shape that does not fit, or the reference kernels in use: im2col and
    the GEMM, with nothing planned or timed for the convolution."""
    x, w, bias = _inputs((2, 1, 28, 28), (20, 1, 5, 5))
    kernels.conv2d(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64))
    kernels.conv2d(np.ascontiguousarray(x[:, :, :, :20]), w, bias)  # rows of 16
    with using_arch("ref"):
        kernels.conv2d(x, w, bias)
    assert plan.convs() == []


def test_wisdom_carries_the_convolution_plans(isa, tmp_path):
    net = _conv_net()
    plan.plan_network(net, 10, 1)
    made = plan.convs()
    assert len(made) >= 1
    path = tmp_path / "wisdom.json"
    plan.export_wisdom(path)
    plan.forget()
    plan.import_wisdom(path)
    keys = ("isa_in_use", "dtype", "c", "h", "w", "f", "kh", "kw", "n_threads", "path")
    got = plan.convs()
    assert [{k: p[k] for k in keys} for p in got] == [{k: p[k] for k in keys} for p in made]
    assert {p["how"] for p in plan.convs()} == {"imported"}
    runs = plan.timed_runs()
    plan.plan_network(net, 10, 1)
    assert plan.timed_runs() == runs

    wisdom = json.loads(path.read_text())
    before = plan.convs()
    for change, match in [({"path": "fast"}, r"conv\[0\]: path must be one of"),
                          ({"kh": 29}, r"conv\[0\]: a 29 x 5 filter is larger"),
                          ({"f": 0}, r"conv\[0\]: f must be a positive int"),
                          ({"n_threads": 1.0}, r"conv\[0\]: n_threads must be a positive int")]:
        bad = json.loads(json.dumps(wisdom))
        bad["conv"][0].update(change)
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=match):
            plan.import_wisdom(path)
    bad = json.loads(json.dumps(wisdom))
    del bad["conv"][0]["path"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"conv\[0\]: expected an object with the keys"):
        plan.import_wisdom(path)
    del bad["conv"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="conv must be a list of plans"):
        plan.import_wisdom(path)
    assert plan.convs() == before
