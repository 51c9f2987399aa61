"""The book's cost functions (chapters 1-3 and 6), as in network2.py: `fn(a, y)` the
cost of the outputs a against the desired outputs y, `delta(z, a, y)` the output error
BP1. They are defined in nnfast.maths, with the activations they use; here they are
found by name. The engine computes the same, fused, in C."""
from nnfast.maths import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

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
