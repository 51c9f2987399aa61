"""network3.py's layers: FullyConnectedLayer, ConvPoolLayer and SoftmaxLayer.

A layer only describes itself (its shape, activation and dropout) and draws its
initial parameters as network3 does; `nnfast.Network(layers)` trains the stack in C.
Dropout, as in network3: while training, each input of a layer with p_dropout > 0
is kept with probability 1 - p_dropout (else zeroed), with no rescaling; at
inference the layer's weighted input w.x is scaled by 1 - p_dropout instead.
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from nnfast.activations import activation_name, sigmoid

# The kernels index a pixel within an image plane (and a max-pool's argmax) in int32.
MAX_PLANE = 2**31 - 1


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _ints(values, count, name):
    if not isinstance(values, (tuple, list)) or len(values) != count:
        raise ValueError(f"{name} must be a tuple of {count} positive ints, got {values!r}")
    return tuple(_positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))


def _dropout(p_dropout):
    if isinstance(p_dropout, bool) or not isinstance(p_dropout, numbers.Real) \
            or not 0 <= p_dropout < 1:
        raise ValueError(f"p_dropout must be in [0, 1), got {p_dropout!r}")
    return float(p_dropout)


class FullyConnectedLayer:
    """n_in inputs to n_out neurons, a = activation_fn(w.x + b)."""

    activation = None  # set per instance; SoftmaxLayer fixes it

    def __init__(self, n_in: int, n_out: int, activation_fn: Any = sigmoid,
                 p_dropout: float = 0.0) -> None:
        self.n_in = _positive_int(n_in, "n_in")
        self.n_out = _positive_int(n_out, "n_out")
        self.activation_fn = activation_fn
        self.activation = activation_name(activation_fn)
        self.p_dropout = _dropout(p_dropout)

    def spec(self) -> Dict[str, Any]:
        return {"kind": "dense", "n_in": self.n_in, "n_out": self.n_out,
                "activation": self.activation, "p_dropout": self.p_dropout}

    def initial_parameters(self, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """network3's start: w ~ N(0, 1/n_out), b ~ N(0, 1); w in the book's (n_out, n_in)."""
        w = rng.normal(0.0, np.sqrt(1.0 / self.n_out), (self.n_out, self.n_in))
        b = rng.normal(0.0, 1.0, self.n_out)
        return w, b

    def __repr__(self):
        return (f"{type(self).__name__}(n_in={self.n_in}, n_out={self.n_out}, "
                f"activation_fn={self.activation}, p_dropout={self.p_dropout})")


class SoftmaxLayer(FullyConnectedLayer):
    """A softmax output layer (for the log-likelihood cost); weights start at zero."""

    def __init__(self, n_in: int, n_out: int, p_dropout: float = 0.0) -> None:
        super().__init__(n_in, n_out, sigmoid, p_dropout)
        self.activation_fn = None
        self.activation = "softmax"

    def initial_parameters(self, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        return np.zeros((self.n_out, self.n_in)), np.zeros(self.n_out)

    def __repr__(self):
        return f"SoftmaxLayer(n_in={self.n_in}, n_out={self.n_out}, p_dropout={self.p_dropout})"


TIES = ("first", "all")


class ConvPoolLayer:
    """A convolution (valid, stride 1) followed by max-pooling.

    filter_shape is (filters, input channels, height, width); image_shape is
    (mini-batch size, channels, height, width) as in network3, or just (channels,
    height, width): the mini-batch size is SGD's to choose. Outputs are
    activation_fn(maxpool(conv(x)) + b), one bias per filter. The convolution is a
    cross-correlation, as PyTorch's conv2d (network3's Theano flips the kernel:
    nnfast.book.network3 shows its filters rotated to match).

    ties says where the gradient of a pool window goes when several of its pixels
    hold the maximum: "first" to the first of them in row-major order (PyTorch's
    rule), "all" to every one of them (Theano's, so network3's). None, the default,
    leaves it to the network: nnfast.Network takes "first", nnfast.book.network3's
    Network "all"."""

    p_dropout = 0.0

    def __init__(self, filter_shape: Sequence[int], image_shape: Sequence[int],
                 poolsize: Sequence[int] = (2, 2), activation_fn: Any = sigmoid,
                 ties: Optional[str] = None) -> None:
        if ties is not None and not isinstance(ties, str):
            raise TypeError(f"ties must be 'first', 'all' or None, got {type(ties).__name__}")
        if ties is not None and ties not in TIES:
            raise ValueError(f"ties must be 'first', 'all' or None, got {ties!r}")
        self.ties = ties
        self.filter_shape = _ints(filter_shape, 4, "filter_shape")
        if isinstance(image_shape, (tuple, list)) and len(image_shape) == 4:
            image_shape = tuple(image_shape)[1:]
        self.image_shape = _ints(image_shape, 3, "image_shape")
        self.poolsize = _ints(poolsize, 2, "poolsize")
        self.activation_fn = activation_fn
        self.activation = activation_name(activation_fn)
        f, c, kh, kw = self.filter_shape
        channels, h, w = self.image_shape
        if h * w > MAX_PLANE:
            raise ValueError(f"image_shape's {h}x{w} planes have more pixels than the kernels' "
                             f"int32 indices reach ({MAX_PLANE:,})")
        if c != channels:
            raise ValueError(f"filter_shape has {c} input channels but image_shape has "
                             f"{channels}")
        if kh > h or kw > w:
            raise ValueError(f"filter_shape {kh}x{kw} is larger than the {h}x{w} image")
        oh, ow = h - kh + 1, w - kw + 1
        ph, pw = self.poolsize
        if oh % ph or ow % pw:
            raise ValueError(f"poolsize {ph}x{pw} does not divide the {oh}x{ow} convolution "
                             "output")
        self.output_shape = (f, oh // ph, ow // pw)
        self.n_in = channels * h * w
        self.n_out = f * (oh // ph) * (ow // pw)

    def spec(self) -> Dict[str, Any]:
        f, c, kh, kw = self.filter_shape
        _, h, w = self.image_shape
        ph, pw = self.poolsize
        return {"kind": "convpool", "n_in": self.n_in, "n_out": self.n_out,
                "activation": self.activation, "c": c, "h": h, "w": w, "f": f, "kh": kh,
                "kw": kw, "ph": ph, "pw": pw, "ties": self.ties or "first"}

    def initial_parameters(self, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """network3's start: w ~ N(0, 1/n_out) with n_out = f*kh*kw/(ph*pw), b ~ N(0, 1)."""
        f, _, kh, kw = self.filter_shape
        n_out = f * kh * kw / (self.poolsize[0] * self.poolsize[1])
        return (rng.normal(0.0, np.sqrt(1.0 / n_out), self.filter_shape),
                rng.normal(0.0, 1.0, f))

    def __repr__(self):
        return (f"ConvPoolLayer(filter_shape={self.filter_shape}, image_shape="
                f"{self.image_shape}, poolsize={self.poolsize}, activation_fn={self.activation}, "
                f"ties={self.ties!r})")


def layer_from_spec(spec: Dict[str, Any]) -> Any:
    """The layer a saved spec describes (for nnfast.load)."""
    if not isinstance(spec, dict):
        raise ValueError(f"a layer spec must be an object, got {spec!r}")
    kind = spec.get("kind")
    if kind == "dense":
        expected = {"kind", "n_in", "n_out", "activation", "p_dropout"}
    elif kind == "convpool":
        expected = {"kind", "n_in", "n_out", "activation", "c", "h", "w", "f", "kh", "kw",
                    "ph", "pw", "ties"}
        if "ties" not in spec:  # saved before the tie rule was a choice: the first maximum
            spec = {**spec, "ties": "first"}
    else:
        raise ValueError(f"unknown layer kind {kind!r}")
    if set(spec) != expected:
        raise ValueError(f"a {kind} layer spec has the keys {sorted(expected)}, got {sorted(spec)}")
    if kind == "convpool" and _plane(spec) > MAX_PLANE:
        raise ValueError(f"a convpool layer spec's h x w ({spec['h']}x{spec['w']}) has more "
                         f"pixels than the kernels' int32 indices reach ({MAX_PLANE:,})")
    layer: Any
    if kind == "dense" and spec["activation"] == "softmax":
        layer = SoftmaxLayer(spec["n_in"], spec["n_out"], spec["p_dropout"])
    elif kind == "dense":
        layer = FullyConnectedLayer(spec["n_in"], spec["n_out"], spec["activation"],
                                    spec["p_dropout"])
    else:
        layer = ConvPoolLayer((spec["f"], spec["c"], spec["kh"], spec["kw"]),
                              (spec["c"], spec["h"], spec["w"]), (spec["ph"], spec["pw"]),
                              spec["activation"], spec["ties"])
    if layer.spec() != spec:
        raise ValueError(f"inconsistent layer spec {spec!r}")
    return layer


def _plane(spec):
    """h * w of a convpool spec, 0 when they are not both ints (the layer says why)."""
    h, w = spec["h"], spec["w"]
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in (h, w)):
        return 0
    return h * w
