"""The activation functions of network3.py: sigmoid, tanh, ReLU and linear.

Each is nnfast.maths's NumPy function of z (so it can be called on arrays), under the
name network3 gives it; the layers recognise it by identity or by name and run it in C."""
from nnfast.maths import linear, sigmoid, tanh
from nnfast.maths import relu as ReLU

NAMES = {sigmoid: "sigmoid", tanh: "tanh", ReLU: "relu", linear: "linear"}
BY_NAME = {name: fn for fn, name in NAMES.items()}


def activation_name(fn):
    """The engine's name for an activation given as one of the functions above, as
    its name, or as a function of the same name (such as the book's own sigmoid)."""
    if isinstance(fn, str) and fn.lower() in BY_NAME:
        return fn.lower()
    try:
        if fn in NAMES:
            return NAMES[fn]
    except TypeError:  # unhashable: [], ([],), ... are no activation
        pass
    name = getattr(fn, "__name__", "").lower()
    if name in BY_NAME:
        return name
    raise ValueError(f"activation_fn must be one of sigmoid, tanh, ReLU, linear, got {fn!r}")
