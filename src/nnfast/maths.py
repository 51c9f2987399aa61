"""The maths of the book's neurons and costs, written once in NumPy.

The activation functions with their derivatives, and the cost functions with their
output error BP1, as chapters 1-3 and 6 define them. The public API (nnfast.costs,
nnfast.activations), the book's modules and the NumPy oracle all use these; the C
engine computes the same formulas, which the tests hold it to. This module imports
nothing but NumPy.

Arrays are batches whose rows are samples, or the book's column vectors: everything
here is elementwise or summed over the whole array, so both shapes work, in the float
dtype given.
"""
from typing import Callable, NamedTuple

import numpy as np

# --- Activations --------------------------------------------------------------------


def sigmoid(z):
    """The logistic function 1/(1+e^-z), computed without overflow for any z."""
    z = np.asanyarray(z)  # keeps subclasses (the tests count products on them)
    # 1/(1+e^-z) overflows e^-z for z << 0; writing both halves with e = e^-|z| <= 1
    # never does. e^-|z| may underflow to 0, which is the correctly rounded answer.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1 - s)


def sigmoid_prime_from_output(a):
    """σ'(z) from the cached output a = σ(z): a(1 − a)."""
    return a * (1 - a)


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    """tanh'(z) = 1 − tanh²(z)."""
    return tanh_prime_from_output(np.tanh(z))


def tanh_prime_from_output(a):
    """tanh'(z) from the cached output a = tanh(z): 1 − a²."""
    return 1 - a * a


def relu(z):
    """max(z, 0)."""
    return np.maximum(z, 0)


def relu_prime(z):
    """1 where z > 0, else 0 (the kink at 0 takes the derivative of the left side)."""
    z = np.asanyarray(z)
    return (z > 0).astype(z.dtype)


def relu_prime_from_output(a):
    """ReLU'(z) from a = max(z, 0): a > 0 exactly where z > 0."""
    return relu_prime(a)


def linear(z):
    return z


def linear_prime(z):
    return np.ones_like(z)


def softmax(z):
    """Row-wise softmax, e^z_j / Σ_k e^z_k for each sample."""
    # Subtracting each row's max leaves the result unchanged and keeps exp <= 1.
    with np.errstate(under="ignore"):
        e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Activation(NamedTuple):
    """An elementwise activation a = f(z) and its derivative, taken at z or, as the
    engine does in BP2, computed from the output a it has kept."""

    f: Callable
    prime: Callable
    prime_from_output: Callable


ACTIVATIONS = {
    "sigmoid": Activation(sigmoid, sigmoid_prime, sigmoid_prime_from_output),
    "tanh": Activation(tanh, tanh_prime, tanh_prime_from_output),
    "relu": Activation(relu, relu_prime, relu_prime_from_output),
    "linear": Activation(linear, linear_prime, linear_prime),
}


def elementwise(name):
    """The elementwise activation called name. Softmax is not one: its output mixes a
    row, so it is an output layer only, where the log-likelihood cost cancels its
    Jacobian."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} here, got {name!r}")
    return ACTIVATIONS[name]


def activate(name, z):
    """f(z) for the activation called name, softmax included."""
    return softmax(z) if name == "softmax" else elementwise(name).f(z)


def one_hot(labels, n_classes, dtype=np.float64):
    """The desired outputs y of the labels: row i has a 1 in column labels[i] (the
    book's vectorized_result, a row per sample)."""
    labels = np.asarray(labels)
    y = np.zeros((len(labels), n_classes), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


# --- Costs --------------------------------------------------------------------------
# As network2.py has them: fn(a, y) the cost of the outputs a against the desired y,
# summed over a batch; delta(z, a, y) the output error δ^L = ∂C/∂z^L of BP1. Each also
# gives derivative(a, y) = ∂C/∂a, so δ^L = ∂C/∂a ⊙ f'(z^L) can be checked where f'
# cancels, and names the output activations it fits.


class QuadraticCost:
    """C = ½ ||a − y||² (chapter 1)."""

    name = "quadratic"

    @staticmethod
    def fn(a, y):
        return 0.5 * np.sum((a - y) ** 2)

    @staticmethod
    def derivative(a, y):
        return a - y

    @staticmethod
    def check_output_activation(activation):
        if activation == "softmax":
            raise ValueError("QuadraticCost needs an elementwise output activation, not "
                             "softmax")
        elementwise(activation)

    @staticmethod
    def delta(z, a, y, activation="sigmoid"):
        """BP1: δ^L = (a − y) ⊙ f'(z^L)."""
        QuadraticCost.check_output_activation(activation)
        return QuadraticCost.derivative(a, y) * elementwise(activation).prime(z)


class CrossEntropyCost:
    """C = −Σ [y ln a + (1 − y) ln(1 − a)] (chapter 3): with sigmoid outputs σ'
    cancels from BP1, so learning does not slow down when the output saturates."""

    name = "cross-entropy"

    @staticmethod
    def fn(a, y):
        # Where a is exactly 0 or 1 a term is 0·ln 0 = nan; nan_to_num makes it 0, as
        # in the book, so the warnings it would raise are expected and silenced.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def derivative(a, y):
        """∂C/∂a = (a − y) / (a(1 − a))."""
        return (a - y) / (a * (1 - a))

    @staticmethod
    def check_output_activation(activation):
        if activation != "sigmoid":
            raise ValueError("CrossEntropyCost needs sigmoid outputs: use sigmoid output "
                             "neurons or LogLikelihoodCost")

    @staticmethod
    def delta(z, a, y, activation="sigmoid"):
        """BP1 for sigmoid outputs: σ'(z) = a(1 − a) cancels, leaving δ^L = a − y."""
        CrossEntropyCost.check_output_activation(activation)
        return a - y


class LogLikelihoodCost:
    """C = −ln a_y, the log-probability of the true class (chapters 3 and 6)."""

    name = "log-likelihood"

    @staticmethod
    def fn(a, y):
        # A probability that underflowed to 0 costs inf, without a warning.
        with np.errstate(divide="ignore"):
            return -np.sum(np.log(a[np.asarray(y) == 1]))

    @staticmethod
    def derivative(a, y):
        """∂C/∂a = −y / a: only the true class's output counts."""
        return -y / a

    @staticmethod
    def check_output_activation(activation):
        if activation != "softmax":
            raise ValueError("LogLikelihoodCost needs a softmax output layer")

    @staticmethod
    def delta(z, a, y, activation="softmax"):
        """BP1 for softmax outputs: the softmax Jacobian cancels, leaving a − y."""
        LogLikelihoodCost.check_output_activation(activation)
        return a - y
