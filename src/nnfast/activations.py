"""The activation functions of network3.py: sigmoid, tanh, ReLU and linear.

Each is a NumPy function of z (so it can be called on arrays) that the layers
recognise by identity or by name and run in C."""
import numpy as np


def sigmoid(z):
    """1 / (1 + e^-z), evaluated through e^-|z| so that it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(np.asarray(z) >= 0, 1 / (1 + e), e / (1 + e))


def tanh(z):
    return np.tanh(z)


def ReLU(z):
    """max(z, 0), as network3 spells it."""
    return np.maximum(z, 0.0)


def linear(z):
    return z


NAMES = {sigmoid: "sigmoid", tanh: "tanh", ReLU: "relu", linear: "linear"}
BY_NAME = {name: fn for fn, name in NAMES.items()}


def activation_name(fn):
    """The engine's name for an activation given as one of the functions above, as
    its name, or as a function of the same name (such as the book's own sigmoid)."""
    if isinstance(fn, str) and fn.lower() in BY_NAME:
        return fn.lower()
    if fn in NAMES:
        return NAMES[fn]
    name = getattr(fn, "__name__", "").lower()
    if name in BY_NAME:
        return name
    raise ValueError(f"activation_fn must be one of sigmoid, tanh, ReLU, linear, got {fn!r}")
