"""The book's cost functions (chapters 1-3 and 6), as in network2.py: `fn(a, y)` the
cost of the outputs a against the desired outputs y, `delta(z, a, y)` the output error
BP1. They are defined in nnfast.maths, with the activations they use; here they are
found by name. The engine computes the same, fused, in C. A reader's own cost (an
object with fn and delta) is accepted too: its BP1 is computed in Python, by its
delta, once per mini-batch (nnfast.training)."""
from nnfast.maths import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

COSTS = {cost.name: cost for cost in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)}
# The names the book's network2.save writes.
COSTS_BY_CLASS_NAME = {cost.__name__: cost for cost in COSTS.values()}


def resolve_cost(cost):
    """A built-in cost class from the class itself or its name (or the book's class
    name, as saved files hold it)."""
    if isinstance(cost, str):
        found = COSTS.get(cost) or COSTS_BY_CLASS_NAME.get(cost)
    else:
        found = next((c for c in COSTS.values() if cost is c), None)
    if found is None:
        raise ValueError(f"cost must be one of QuadraticCost, CrossEntropyCost, "
                         f"LogLikelihoodCost (or {sorted(COSTS)}), got {cost!r}")
    return found


def is_builtin(cost):
    """Whether cost is one of the built-in classes, whose BP1 the engine computes. By
    identity: a reader's copy of CrossEntropyCost, name and all, is the reader's."""
    return any(cost is c for c in COSTS.values())


def check_cost(cost):
    """The cost a network trains with: a built-in class (or its name), or a reader's
    own, any object with fn(a, y) and delta(z, a, y) as the book's exercises write
    them, used as it is."""
    if isinstance(cost, str) or is_builtin(cost):
        return resolve_cost(cost)
    missing = [name for name in ("fn", "delta") if not callable(getattr(cost, name, None))]
    if missing:
        raise TypeError(f"cost must be QuadraticCost, CrossEntropyCost, LogLikelihoodCost, "
                        f"one of {sorted(COSTS)}, or an object with fn(a, y) and "
                        f"delta(z, a, y); {cost!r} has no {' and no '.join(missing)}")
    return cost


def cost_name(cost):
    """The name a saved network records: the class's, as the book's save writes it."""
    return getattr(cost, "__name__", type(cost).__name__)
