"""nnfast.maths, the one definition of the activations and costs: their derivatives
against finite differences, and the public API, the book's modules and the oracle all
using these same objects."""
import numpy as np
import pytest

import nnfast
from nnfast import activations, costs, maths, oracle
from nnfast.book import network2, network3
from nnfast.maths import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

# (cost, output activation) pairs that fit.
FITS = [(QuadraticCost, "sigmoid"), (QuadraticCost, "tanh"), (QuadraticCost, "relu"),
        (QuadraticCost, "linear"), (CrossEntropyCost, "sigmoid"), (LogLikelihoodCost, "softmax")]
FIT_IDS = [f"{cost.__name__}-{name}" for cost, name in FITS]

# Central differences with h = 1e-6 of costs of size O(1-10) over 3 x 4 outputs:
# truncation h^2/6 |C'''| <= 1e-12 * O(100) (C''' of -ln a is 2/a^3 <= 2000 for
# a >= 0.1) and rounding eps * |C| / h ~ 2e-9; rtol 1e-6 with an absolute floor of
# 1e-8 |C| is far above both and far below a wrong factor or sign.
H = 1e-6


def numerical_gradient(f, x):
    """Central differences of the scalar f at every entry of x."""
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + H
        up = f(x)
        x[i] = saved - H
        down = f(x)
        x[i] = saved
        grad[i] = (up - down) / (2 * H)
    return grad


def problem(name, seed=0):
    """z (3, 4) away from ReLU's kink and one-hot y."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    y = oracle.vectorized_result(rng.integers(0, 4, 3), 4)
    return z, y


@pytest.mark.parametrize("cost,name", FITS, ids=FIT_IDS)
def test_delta_is_the_gradient_of_the_cost_in_z(cost, name):
    """BP1: delta = dC/dz, also where the cost cancels f' (cross-entropy after sigmoid,
    log-likelihood through the softmax Jacobian)."""
    z, y = problem(name)
    c = cost.fn(maths.activate(name, z), y)
    want = numerical_gradient(lambda v: cost.fn(maths.activate(name, v), y), z)
    got = cost.delta(z, maths.activate(name, z), y, activation=name)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8 * max(1.0, abs(c)))


@pytest.mark.parametrize("cost", [QuadraticCost, CrossEntropyCost, LogLikelihoodCost])
def test_derivative_is_the_gradient_of_the_cost_in_a(cost):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.1, 0.9, (3, 4))
    y = oracle.vectorized_result(rng.integers(0, 4, 3), 4)
    want = numerical_gradient(lambda v: cost.fn(v, y), a)
    np.testing.assert_allclose(cost.derivative(a, y), want, rtol=1e-6,
                               atol=1e-8 * max(1.0, abs(cost.fn(a, y))))


@pytest.mark.parametrize("name", sorted(maths.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_derivatives(name, dtype):
    """f' at z against central differences of f, and f' from the output a = f(z) equal
    to f' at z: both evaluate the same formula of f(z), so exactly."""
    f, prime, prime_from_output = maths.ACTIVATIONS[name]
    z, _ = problem(name, seed=2)
    np.testing.assert_allclose(prime(z), numerical_gradient(lambda v: f(v).sum(), z),
                               rtol=1e-6, atol=1e-9)
    z = z.astype(dtype)
    got = prime_from_output(f(z))
    assert got.dtype == prime(z).dtype == dtype
    np.testing.assert_array_equal(got, prime(z))


def test_one_definition_everywhere():
    """The API's costs and activations, the book's and the oracle's are the same objects."""
    for cost in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost):
        assert getattr(nnfast, cost.__name__) is cost
        assert getattr(costs, cost.__name__) is cost
        assert getattr(oracle, cost.__name__) is cost
        assert costs.resolve_cost(cost.name) is cost
    assert network2.CrossEntropyCost is CrossEntropyCost
    assert network3.LogLikelihoodCost is LogLikelihoodCost
    for book_name, name in (("sigmoid", "sigmoid"), ("tanh", "tanh"), ("ReLU", "relu"),
                            ("linear", "linear")):
        f = maths.ACTIVATIONS[name].f
        assert getattr(activations, book_name) is getattr(network3, book_name) is f
    assert oracle.sigmoid is network2.sigmoid is activations.sigmoid
    assert oracle.sigmoid_prime is network2.sigmoid_prime is maths.ACTIVATIONS["sigmoid"].prime


def test_costs_name_the_output_activations_they_fit():
    for cost, name in FITS:
        cost.check_output_activation(name)
    for cost, name in ((QuadraticCost, "softmax"), (QuadraticCost, "swish"),
                       (CrossEntropyCost, "tanh"), (CrossEntropyCost, "softmax"),
                       (LogLikelihoodCost, "sigmoid")):
        with pytest.raises(ValueError, match=cost.__name__ if name != "swish" else "swish"):
            cost.check_output_activation(name)


def test_sigmoid_takes_scalars_and_lists():
    assert maths.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(maths.sigmoid([-1.0, 1.0]), 1 / (1 + np.exp([1.0, -1.0])),
                               rtol=1e-15)
