"""The yardstick's FLOP counts (nnfast.flops): the perf note's per-epoch figures, the
products the NumPy oracle's backprop performs, and the dense convolution."""
import re

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, flops, oracle

W4 = [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)), FullyConnectedLayer(2880, 100),
      SoftmaxLayer(100, 10)]
W5 = [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
      ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU),
      FullyConnectedLayer(640, 100, ReLU), SoftmaxLayer(100, 10)]


@pytest.mark.parametrize("layers, exact, rounded", [
    # 2 flops x (forward + dW: 2 x 23,820 weights, + dX of the second layer: 300) x 50,000
    ([784, 30, 10], 4_794_000_000, 4.79),
    ([784, 100, 10], 15_980_000_000, 16.0),
    # conv 20x25 weights at 24x24 positions = 288,000 multiply-adds, FC 288,000, softmax 1,000
    (W4, 144_300_000_000, 144),
    # conv 288,000 + conv 40x20x25 at 8x8 = 1,280,000 + FC 64,000 + softmax 1,000
    (W5, 461_100_000_000, 461),
], ids=["W1", "W2", "W4", "W5"])
def test_epoch_flops_of_the_benchmark_nets(layers, exact, rounded):
    net = nnfast.Network(layers)
    assert flops.epoch_flops(net) == exact
    # The figures of the perf note (avx512-2026-11-30.md), to three significant digits.
    assert float(f"{exact / 1e9:.3g}") == rounded


class Counting(np.ndarray):
    """An array whose matrix products add their multiply-adds to Counting.macs."""

    macs = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [np.asarray(x) if isinstance(x, Counting) else x for x in inputs]
        if ufunc is np.matmul:
            a, b = plain
            Counting.macs += a.shape[0] * a.shape[1] * b.shape[1]
        return Counting._keep(getattr(ufunc, method)(*plain, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        # np.where (the oracle's sigmoid) and the like: their results are counted on too.
        return Counting._keep(super().__array_function__(func, types, args, kwargs))

    @staticmethod
    def _keep(result):
        return result.view(Counting) if isinstance(result, np.ndarray) else result


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, batch", [([7, 5, 3], 3), ([13, 11, 1, 6, 2], 5), ([9, 4], 1)])
def test_sample_flops_are_the_products_of_the_oracles_backprop(sizes, batch, dtype):
    """The book's backprop does forward, BP4 for every layer and BP2 for all but the
    first: its products are exactly the dense FLOPs counted."""
    rng = np.random.default_rng(1)
    weights, biases = oracle.default_weight_initializer(sizes, rng, dtype)
    x = rng.random((batch, sizes[0])).astype(dtype)
    y = oracle.vectorized_result(rng.integers(0, sizes[-1], batch), sizes[-1], dtype)
    Counting.macs = 0
    oracle.backprop([w.view(Counting) for w in weights], biases, x.view(Counting), y,
                    oracle.QuadraticCost, ["sigmoid"] * (len(sizes) - 1))
    assert 2 * Counting.macs == batch * flops.sample_flops(nnfast.Network(sizes, dtype=dtype))


def test_a_convolution_counts_as_the_dense_convolution(monkeypatch):
    """One sample through the oracle's conv2d (einsum per filter tap) does as many
    multiply-adds as layer_macs counts, at odd sizes."""
    layer = ConvPoolLayer((3, 2, 3, 2), (2, 7, 6), (5, 5))
    counted = []
    einsum = np.einsum

    def counting_einsum(subscripts, *operands):
        sizes = {}
        for names, operand in zip(subscripts.split("->")[0].split(","), operands):
            sizes.update(zip(names, operand.shape))
        counted.append(int(np.prod(list(sizes.values()))))
        return einsum(subscripts, *operands)

    monkeypatch.setattr(np, "einsum", counting_einsum)
    rng = np.random.default_rng(2)
    oracle.conv2d(rng.random((1, 2, 7, 6)), rng.random(layer.filter_shape))
    assert sum(counted) == flops.layer_macs(layer) == 3 * 2 * 3 * 2 * 5 * 5


def test_the_first_layer_passes_no_error_down():
    one = nnfast.Network([10, 4])
    two = nnfast.Network([10, 4, 3])
    assert flops.sample_flops(one) == 2 * 2 * 40
    assert flops.sample_flops(two) == 2 * (2 * (40 + 12) + 12)


def test_efficiency_divides_by_the_measured_peak_and_threads():
    peak = nnfast.peak_gflops("float64")
    assert flops.efficiency(peak * 1e9, 1.0, dtype="float64") == pytest.approx(1.0)
    assert flops.efficiency(peak * 1e9, 2.0, n_threads=2, dtype="float64") == pytest.approx(0.25)


def test_efficiency_takes_a_peak_measured_around_the_timing():
    """`nnfast bench` divides by the peak it measured around its own timings."""
    assert flops.efficiency(30e9, 2.0, n_threads=3, peak=10.0) == pytest.approx(0.5)
    assert flops.efficiency(30e9, 2.0, n_threads=3, peak=10) == pytest.approx(0.5)


@pytest.mark.parametrize("call, error, name", [
    (lambda: flops.epoch_flops([784, 30, 10]), TypeError, "network"),
    (lambda: flops.epoch_flops(nnfast.Network([4, 2]), 2.5), TypeError, "n_samples"),
    (lambda: flops.epoch_flops(nnfast.Network([4, 2]), -1), ValueError, "n_samples"),
    (lambda: flops.efficiency(1e9, 0.0), ValueError, "seconds"),
    (lambda: flops.efficiency(1e9, float("nan")), ValueError, "seconds"),
    (lambda: flops.efficiency(1e9, 1.0, n_threads=0), ValueError, "n_threads"),
    (lambda: flops.efficiency(1e9, 1.0, dtype="int8"), ValueError, "dtype"),
    (lambda: flops.efficiency(1e9, 1.0, peak="fast"), TypeError, "peak"),
    (lambda: flops.efficiency(1e9, 1.0, peak=True), TypeError, "peak"),
    (lambda: flops.efficiency(1e9, 1.0, peak=0.0), ValueError, "peak"),
    (lambda: flops.efficiency(1e9, 1.0, peak=float("inf")), ValueError, "peak"),
    (lambda: flops.efficiency(1e9, 1.0, peak=float("nan")), ValueError, "peak"),
])
def test_bad_arguments_name_themselves(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_bench_reports_each_epochs_gflops_and_fraction_of_peak(capsys):
    from nnfast import cli

    assert cli.main(["bench", "--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    # The printed peak is the mean of measurements just before and just after nnfast's
    # timings, the second of which is remembered: a clock that moved threefold between
    # them, and no real one does, would fail this.
    peak = float(re.search(r"peak ([\d.]+) GFLOP/s a core", out).group(1))
    assert 0.5 * nnfast.peak_gflops("float32") < peak < 2 * nnfast.peak_gflops("float32")
    epochs = re.findall(r"^epoch \[([\d, ]+)\] mb (\d+), ([\d,]+) samples +([\d.]+)ms +([\d.]+) +"
                        r"([\d.]+) ", out, re.M)
    assert len(epochs) == 2, out
    for sizes, _, samples, ms, gflops, of_peak in epochs:
        net = nnfast.Network([int(s) for s in sizes.split(",")])
        work = flops.epoch_flops(net, int(samples.replace(",", "")))
        # The printed time has 3 decimals of a millisecond: rate and fraction to match it.
        assert float(gflops) == pytest.approx(work / (float(ms) * 1e-3) / 1e9, rel=1e-3, abs=0.01)
        assert float(of_peak) == pytest.approx(float(gflops) / peak, rel=1e-2, abs=1e-3)
