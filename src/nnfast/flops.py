"""The yardstick: the dense FLOPs of training a network, and the efficiency of a run.

Efficiency is achieved GFLOP/s over the machine's own measured peak
(`nnfast.peak_gflops`, per core) times the threads used, so a figure means the same on
any CPU and no performance constant comes from the one nnfast was tuned on.

A layer's weights meet each sample three times in training (chapter 2 over a batch):
forward, z = w.a + b; the weight gradient, nabla_w = delta.a^T (BP4); and the error
passed down, w^T.delta (BP2), which the first layer skips since nothing below it
learns. Each is as many multiply-adds as the layer has weights times the positions it
is applied at; a multiply-add is 2 flops. A convolution counts as the dense
convolution it is, however it is computed: a shortcut that skips work (a sparse gather
over the nonzeros, say) is credited with the dense work it replaces, so that faster
always means more GFLOP/s. Biases, activations, pooling and the cost are O(n) next to
these products and are not counted.
"""
from __future__ import annotations

import numbers

from nnfast._kernels import peak_gflops
from nnfast.layers import ConvPoolLayer
from nnfast.network import Network

# The book's training set: an epoch of MNIST or Fashion-MNIST.
EPOCH_SAMPLES = 50_000


def layer_macs(layer) -> int:
    """Multiply-adds of one pass of `layer`'s product for one sample: weights x positions."""
    if isinstance(layer, ConvPoolLayer):
        f, c, kh, kw = layer.filter_shape
        _, h, w = layer.image_shape
        return f * c * kh * kw * (h - kh + 1) * (w - kw + 1)
    return layer.n_in * layer.n_out


def sample_flops(network) -> int:
    """Dense FLOPs of training `network` on one sample: forward, dW, and dX except the
    first layer's."""
    _check_network(network)
    macs = [layer_macs(layer) for layer in network.layers]
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def epoch_flops(network, n_samples: int = EPOCH_SAMPLES) -> int:
    """Dense FLOPs of one training epoch of `network` over n_samples samples (default:
    the book's 50,000)."""
    flops = sample_flops(network)
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"epoch_flops: n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < 0:
        raise ValueError(f"epoch_flops: n_samples must be >= 0, got {n_samples}")
    return flops * int(n_samples)


def efficiency(flops: float, seconds: float, n_threads: int = 1,
               dtype: str = "float32", peak: float | None = None) -> float:
    """The fraction of the machine's peak that doing `flops` in `seconds` on n_threads
    cores achieves: (flops / seconds) / (peak x n_threads), peak being one core's
    GFLOP/s: peak_gflops(dtype) unless given (a peak measured around the timing, say:
    a core's clock moves with its load and temperature)."""
    if not seconds > 0:
        raise ValueError(f"efficiency: seconds must be > 0, got {seconds!r}")
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) \
            or n_threads < 1:
        raise ValueError(f"efficiency: n_threads must be a positive int, got {n_threads!r}")
    if peak is None:
        peak = peak_gflops(dtype)
    elif isinstance(peak, bool) or not isinstance(peak, numbers.Real):
        raise TypeError(f"efficiency: peak must be a number, got {type(peak).__name__}")
    elif not 0 < peak < float("inf"):
        raise ValueError(f"efficiency: peak must be a positive, finite GFLOP/s, got {peak!r}")
    return flops / seconds / 1e9 / (peak * n_threads)


def _check_network(network):
    if not isinstance(network, Network):
        raise TypeError(f"network must be an nnfast.Network, got {type(network).__name__}")
