"""The weight gradient's windows read in place (csrc/conv.inc) and its plan.

A conv layer followed by a max-pool sums its weight gradient over the image's windows
at the pool's maxima: from the im2row rows (the gather kernel) or from the image in
place. One channel takes the windows kernel (csrc/gemm_ukr_vec.inc) where the table in
use has one that takes the filter (at most 6 rows of at most 8 floats, or of 4 doubles
on AVX2 and 8 on AVX-512); several take the gather kernel on the channels-last image's
rows. Both paths must give the same bits, and those of the reference kernel on the
rows. Each case below trains with each path forced by an imported plan, under each
SIMD ISA this CPU runs (one it lacks is skipped with the reason), on one and two
threads.
"""
import json

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, _kernels, plan
from nnfast.activations import ReLU
from engine_checks import fresh_plans, skip_unless_runs, using_arch

# The widest filter row the windows kernel takes: a ymm of float on both ISAs (the
# AVX-512 table takes the AVX2 float kernel), a ymm or a zmm of double.
WIDTH = {("avx2", "float32"): 8, ("avx2", "float64"): 4,
         ("avx512", "float32"): 8, ("avx512", "float64"): 8}
MOST_ROWS = 6


@pytest.fixture(params=["avx2", "avx512"])
def isa(request):
    """Each ISA with a windows kernel (the test puts it in use where it needs it)."""
    skip_unless_runs(request.param)
    return request.param


@pytest.fixture(autouse=True)
def measured_plans():
    """Each test plans afresh, by timing, and forgets its plans."""
    with fresh_plans("measure"):
        yield


def _net(image, filters, kernel, pool, dtype, ties=None, activation=None):
    conv = ConvPoolLayer((filters, image[0]) + kernel, image, pool, ties=ties,
                         **({} if activation is None else {"activation_fn": activation}))
    return nnfast.Network([conv, FullyConnectedLayer(conv.n_out, 12), SoftmaxLayer(12, 10)],
                          dtype=dtype, seed=3)


def _force(path, image, filters, kernel, dtype):
    """Import a plan that sends this layer's weight gradient down `path`."""
    _kernels.put_conv_plan({"product": "weight_gradient", "isa_in_use": _kernels.get_arch(),
                            "dtype": np.dtype(dtype).name, "c": image[0], "h": image[1],
                            "w": image[2], "f": filters, "kh": kernel[0], "kw": kernel[1],
                            "n_threads": 1, "path": path})


def _train(image, filters, kernel, pool, dtype, n_threads, path=None, ties=None,
           activation=None, scale=1e-3):
    """Two steps from a fixed start, on mini-batches of 20 (whose weight gradient sums
    16 groups, four of two samples) and 3; the conv layer's weights and biases. Its
    weights start a thousand times smaller than usual, so that the steps' dW are most
    of their bits (from the usual start, one unit in the last place of dW was most
    often lost in w's rounding), and the softmax layer's random, not zero, so that the
    first step's dW is not zero."""
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, (23, int(np.prod(image))))
    X[X < 0.3] = 0  # zeros, as in MNIST, tie the pool's windows now and then
    labels = rng.integers(0, 10, len(X))
    net = _net(image, filters, kernel, pool, dtype, ties, activation)
    net.weights[0][...] *= scale
    net.weights[2][...] = rng.standard_normal(net.weights[2].shape)
    if path is not None:
        _force(path, image, filters, kernel, dtype)
    net.SGD((X.astype(dtype), labels), 1, 20, 3.0, n_threads=n_threads, progress=False)
    return [np.array(p) for p in (net.weights[0], net.biases[0])]


def _takes(isa, image, kernel, dtype):
    return image[0] > 1 or (kernel[0] <= MOST_ROWS
                            and kernel[1] <= WIDTH[isa, np.dtype(dtype).name])


# (image, filters, kernel, pool): W4's first layer; every row width up to a vector of
# float on AVX2 (tails of C's rows that a whole vector would pass, and do not); one to
# six rows; pools that are not square; an odd number of maxima per filter; one filter.
# Then several channels: W5's second layer (rows of 100 taps: the gather kernel's
# panels, the last shifted), rows of 8 and of 9, 7 rows.
CASES = [((1, 28, 28), 20, (5, 5), (2, 2)), ((1, 9, 15), 3, (3, 1), (1, 3)),
         ((1, 10, 11), 4, (2, 2), (3, 2)), ((1, 12, 9), 5, (4, 3), (3, 1)),
         ((1, 11, 12), 2, (1, 4), (1, 3)), ((1, 13, 14), 3, (6, 6), (2, 3)),
         ((1, 8, 15), 1, (3, 7), (3, 3)), ((1, 7, 17), 6, (5, 8), (3, 2)),
         ((1, 16, 16), 7, (5, 5), (4, 4)), ((20, 12, 12), 40, (5, 5), (2, 2)),
         ((2, 12, 20), 3, (3, 4), (2, 1)), ((3, 9, 10), 5, (4, 3), (3, 2)),
         ((4, 10, 9), 2, (7, 2), (2, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0] + c[2])))
def test_the_windows_kernel_gives_the_rows_bits(isa, case, dtype):
    image, filters, kernel, pool = case
    with using_arch("ref"):
        want = _train(image, filters, kernel, pool, dtype, 1, "rows")
    with using_arch(isa):
        if not _takes(isa, image, kernel, dtype):
            _train(image, filters, kernel, pool, dtype, 1)
            assert [p for p in plan.convs()
                    if p["product"] == "weight_gradient" and p["isa_in_use"] == isa] == []
            return
        for n_threads in (1, 2):
            for path in ("rows", "windows"):
                got = _train(image, filters, kernel, pool, dtype, n_threads, path)
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g, w, err_msg=f"{path}, {n_threads} threads")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", [CASES[0], CASES[9], CASES[11]],
                         ids=lambda c: "x".join(map(str, c[0] + c[2])))
def test_zero_gradients_left_out_give_the_rows_bits(isa, case, dtype):
    """ReLU layers: a pool output that is 0 passes back a zero gradient (+0 or -0),
    which the lists of both paths leave out alike, on every ISA and thread count. The
    weights at their usual scale, so that a filter's pool outputs are zero at some
    positions and not at others."""
    image, filters, kernel, pool = case
    with using_arch("ref"):
        want = _train(image, filters, kernel, pool, dtype, 1, "rows", activation=ReLU, scale=1)
    with using_arch(isa):
        paths = ("rows", "windows") if _takes(isa, image, kernel, dtype) else (None,)
        for n_threads in (1, 2):
            for path in paths:
                got = _train(image, filters, kernel, pool, dtype, n_threads, path,
                             activation=ReLU, scale=1)
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g, w, err_msg=f"{path}, {n_threads} threads")


def test_the_planner_times_both_paths_once_and_keeps_the_faster(isa):
    with using_arch(isa):
        runs = plan.timed_runs()
        _train((1, 28, 28), 20, (5, 5), (2, 2), np.float32, 1)
        [made] = [p for p in plan.convs() if p["product"] == "weight_gradient"]
        assert made["how"] == "measured" and made["isa_in_use"] == isa
        assert tuple(made[k] for k in ("c", "h", "w", "f", "kh", "kw", "n_threads")) == (
            1, 28, 28, 20, 5, 5, 1)
        seconds = made["seconds"]
        assert seconds["rows"] > 0 and seconds["windows"] > 0
        assert made["path"] == min(seconds, key=seconds.get)
        assert made["planning_seconds"] > 0
        assert plan.timed_runs() - runs >= 6  # three runs a path at least
        count, runs = len(plan.convs()), plan.timed_runs()
        _train((1, 28, 28), 20, (5, 5), (2, 2), np.float32, 1)
        assert len(plan.convs()) == count and plan.timed_runs() == runs


def test_estimate_takes_the_windows_kernel_untimed(isa):
    with using_arch(isa), fresh_plans("estimate"):
        runs = plan.timed_runs()
        _train((1, 28, 28), 20, (5, 5), (2, 2), np.float32, 1)
        [made] = [p for p in plan.convs() if p["product"] == "weight_gradient"]
        assert (made["path"], made["how"]) == ("windows", "estimated")
        assert made["seconds"] == {"rows": 0.0, "windows": 0.0}
        assert plan.timed_runs() == runs


def _gradient_plans():
    return [(p["c"], p["kw"]) for p in plan.convs() if p["product"] == "weight_gradient"]


def test_no_plan_where_there_is_no_choice():
    """Theano's tie rule (its ties read the rows), one channel under a filter wider than
    8 floats, or one channel with the reference kernels in use (no windows kernel):
    the rows, with nothing planned. Several channels have the choice on every ISA."""
    rng = np.random.default_rng(1)
    X, labels = rng.uniform(0, 1, (20, 784)).astype(np.float32), rng.integers(0, 10, 20)
    conv1 = ConvPoolLayer((4, 1, 5, 5), (1, 28, 28), (2, 2), ReLU)
    conv2 = ConvPoolLayer((6, 4, 5, 5), (4, 12, 12), (2, 2), ReLU)
    net = nnfast.Network([conv1, conv2, SoftmaxLayer(conv2.n_out, 10)], seed=2)
    _train((1, 28, 28), 3, (5, 5), (2, 2), np.float32, 1, ties="all")
    _train((3, 10, 12), 3, (5, 5), (2, 2), np.float32, 1, ties="all")
    _train((1, 20, 30), 3, (3, 17), (2, 2), np.float32, 1)
    assert _gradient_plans() == []
    with using_arch("ref"):
        net.SGD((X, labels), 1, 10, 0.1, progress=False)
        assert _gradient_plans() == [(4, 5)]  # conv2's
    plan.forget()
    net.SGD((X, labels), 1, 10, 0.1, progress=False)
    want = [(4, 5), (1, 5)] if _kernels.get_arch() != "ref" else [(4, 5)]
    assert _gradient_plans() == want  # the backward pass plans conv2 first


def test_wisdom_carries_the_weight_gradient_plan(isa, tmp_path):
    with using_arch(isa):
        _train((1, 28, 28), 20, (5, 5), (2, 2), np.float32, 1)
        made = plan.convs()
        assert {p["product"] for p in made} == {"forward", "weight_gradient"}
        path = tmp_path / "wisdom.json"
        plan.export_wisdom(path)
        plan.forget()
        plan.import_wisdom(path)
        keys = ("product", "isa_in_use", "dtype", "c", "h", "w", "f", "kh", "kw", "n_threads",
                "path")
        assert [{k: p[k] for k in keys} for p in plan.convs()] == [
            {k: p[k] for k in keys} for p in made]

        wisdom = json.loads(path.read_text())
        at = [p["product"] for p in wisdom["conv"]].index("weight_gradient")
        before = plan.convs()
        for change, match in [
                ({"product": "backward"}, r"product must be one of"),
                ({"path": "direct"}, r"path must be one of \('rows', 'windows'\)"),
                ({"product": "forward"}, r"path must be one of \('gemm', 'direct', 'direct_avx2'\)")]:
            bad = json.loads(json.dumps(wisdom))
            bad["conv"][at].update(change)
            path.write_text(json.dumps(bad))
            with pytest.raises(ValueError, match=rf"conv\[{at}\]: " + match):
                plan.import_wisdom(path)
        assert plan.convs() == before
