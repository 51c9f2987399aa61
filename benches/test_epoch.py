"""Seconds per 50,000-sample epoch on Fashion-MNIST (the book's training-set size).

W1 = [784, 30, 10] sigmoid, quadratic cost, eta 3.0 (network.py, chapter 1);
W2 = [784, 100, 10] sigmoid, cross-entropy, lmbda 5.0, eta 0.5 (network2.py, chapter 3).
Baselines in the same run: the vectorised NumPy oracle (nnfast.oracle.sgd_epoch) and
PyTorch on the CPU when it is importable, both limited to the same thread count.
"""
import numpy as np
import pytest

import nnfast
from nnfast import datasets, oracle
from support import blas_threads

NETS = {
    "W1": dict(sizes=[784, 30, 10], cost="quadratic", eta=3.0, lmbda=0.0),
    "W2": dict(sizes=[784, 100, 10], cost="cross-entropy", eta=0.5, lmbda=5.0),
}
ORACLE_COSTS = {"quadratic": oracle.QuadraticCost, "cross-entropy": oracle.CrossEntropyCost}
N = 50_000

try:
    import torch
except ImportError:
    torch = None
IMPLS = ["nnfast", "oracle"] + (["torch"] if torch is not None else [])


@pytest.fixture(scope="module")
def fashion(fashion_dir):
    data = datasets.load_fashion_mnist(fashion_dir, download=False)
    return data.X_train[:N], data.y_train[:N]


def nnfast_epoch(spec, X, y, mini_batch_size, threads):
    net = nnfast.Network(spec["sizes"], cost=spec["cost"], seed=0)
    return lambda: net.SGD((X, y), 1, mini_batch_size, spec["eta"], lmbda=spec["lmbda"],
                           n_threads=threads)


def oracle_epoch(spec, X, y, mini_batch_size, threads):
    weights, biases = oracle.default_weight_initializer(spec["sizes"], np.random.default_rng(0),
                                                        np.float32)
    Y = oracle.vectorized_result(y, 10, np.float32)
    perm = np.random.default_rng(1).permutation(len(X))
    activations = ["sigmoid"] * (len(spec["sizes"]) - 1)

    def epoch():
        with blas_threads(threads):
            oracle.sgd_epoch(weights, biases, X, Y, mini_batch_size, spec["eta"], spec["lmbda"],
                             ORACLE_COSTS[spec["cost"]], activations, perm)
    return epoch


def torch_epoch(spec, X, y, mini_batch_size, threads):
    torch.manual_seed(0)
    sizes = spec["sizes"]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    # The book's L2 step w <- (1 - eta*lmbda/n) w is SGD's weight decay lmbda/n.
    opt = torch.optim.SGD(model.parameters(), lr=spec["eta"], weight_decay=spec["lmbda"] / len(X))
    Xt = torch.from_numpy(X)
    Yt = torch.nn.functional.one_hot(torch.from_numpy(y), 10).float()

    def cost(a, target):
        if spec["cost"] == "quadratic":
            return 0.5 * ((a - target) ** 2).sum() / len(a)
        return torch.nn.functional.binary_cross_entropy(a, target, reduction="sum") / len(a)

    def epoch():
        torch.set_num_threads(threads)
        for idx in torch.randperm(len(Xt)).split(mini_batch_size):
            opt.zero_grad()
            cost(model(Xt[idx]), Yt[idx]).backward()
            opt.step()
    return epoch


EPOCHS = {"nnfast": nnfast_epoch, "oracle": oracle_epoch, "torch": torch_epoch}


@pytest.mark.benchmark(group="epoch")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mini_batch_size", [10, 64, 256])
@pytest.mark.parametrize("net", sorted(NETS))
def test_epoch(benchmark, record, fashion, net, mini_batch_size, threads, impl):
    X, y = fashion
    record(net=net, mini_batch_size=mini_batch_size, threads=threads, impl=impl)
    run = EPOCHS[impl](NETS[net], X, y, mini_batch_size, threads)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
