"""The book's cost functions (chapters 1-3 and 6), as in network2.py: `fn(a, y)` the
cost of one output a against its desired output y, `delta(z, a, y)` the output error
BP1. The engine computes the same, fused, in C; these are for the book's API."""
import numpy as np

from nnfast.activations import sigmoid


class QuadraticCost:
    """C = ||a - y||^2 / 2 (chapter 1)."""

    name = "quadratic"

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        s = sigmoid(z)
        return (a - y) * s * (1 - s)


class CrossEntropyCost:
    """C = -sum(y ln a + (1 - y) ln(1 - a)) (chapter 3): with sigmoid outputs,
    sigma' cancels from BP1 and learning does not slow down when saturated."""

    name = "cross-entropy"

    @staticmethod
    def fn(a, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


class LogLikelihoodCost:
    """C = -ln a_y for a softmax output layer (chapters 3 and 6); BP1 is a - y."""

    name = "log-likelihood"

    @staticmethod
    def fn(a, y):
        with np.errstate(divide="ignore"):
            return -np.sum(np.log(a[np.asarray(y) == 1]))

    @staticmethod
    def delta(z, a, y):
        return a - y


COSTS = {cost.name: cost for cost in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)}
# The names the book's network2.save writes.
COSTS_BY_CLASS_NAME = {cost.__name__: cost for cost in COSTS.values()}


def resolve_cost(cost):
    """A cost class from the class itself, its name or the book's class name."""
    if isinstance(cost, str):
        found = COSTS.get(cost) or COSTS_BY_CLASS_NAME.get(cost)
    else:
        found = next((c for c in COSTS.values() if cost is c or
                      getattr(cost, "__name__", None) == c.__name__), None)
    if found is None:
        raise ValueError(f"cost must be one of QuadraticCost, CrossEntropyCost, "
                         f"LogLikelihoodCost (or {sorted(COSTS)}), got {cost!r}")
    return found
