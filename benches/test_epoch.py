"""Seconds per 50,000-sample epoch on Fashion-MNIST (the book's training-set size).

W1 = [784, 30, 10] sigmoid, quadratic cost, eta 3.0 (network.py, chapter 1);
W2 = [784, 100, 10] sigmoid, cross-entropy, lmbda 5.0, eta 0.5 (network2.py, chapter 3);
W4 = ConvPool(20 5x5, pool 2, sigmoid) -> FC 2880->100 sigmoid -> softmax 10, eta 0.1;
W5 = ConvPool(20 5x5, pool 2, ReLU) -> ConvPool(40, 5x5, pool 2, ReLU) -> FC 640->100
ReLU -> softmax 10, eta 0.03, lmbda 0.1 (network3.py, chapter 6).
Baselines in the same run: the vectorised NumPy oracle (nnfast.oracle.sgd_epoch, MLPs
only), PyTorch on the CPU when it is importable, limited to the same thread count, and
JAX when it is importable: the whole epoch under one jax.jit, a lax.scan over the
mini-batches, the strongest small-batch answer (both from nnfast.peers, whose tests
hold them to the oracle's training). XLA sizes its CPU thread pool once per
process, so JAX runs only in the rows of the thread count it has: all the cores, or one
under XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".
The conv nets run CONV_SAMPLES samples per round (their full epochs take minutes on a
small machine); `samples` in extra_info lets the report scale to 50,000. Each round
is one epoch of one SGD call on data nnfast has checked once (`Network.samples`), as
a call of many epochs checks it once (and JAX converts it once). nnfast's
epochs run until its planner has chosen (each product's kernels and team, then the
run's thread count per layer, and its close calls timed again) before one warm-up
round and the three timed; JAX compiles in its warm-up round. Each run records its
dense flops (nnfast.flops) for the report's GFLOP/s and efficiency.
"""

import numpy as np
import pytest

import nnfast
from nnfast import (ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, datasets, flops,
                    oracle, peers)
from support import blas_threads

NETS = {
    "W1": dict(sizes=[784, 30, 10], cost="quadratic", eta=3.0, lmbda=0.0),
    "W2": dict(sizes=[784, 100, 10], cost="cross-entropy", eta=0.5, lmbda=5.0),
}
ORACLE_COSTS = {"quadratic": oracle.QuadraticCost, "cross-entropy": oracle.CrossEntropyCost}
N = 50_000
CONV_SAMPLES = 2_000

try:
    import torch
except ImportError:
    torch = None
try:
    import jax
except ImportError:
    jax = None
IMPLS = ["nnfast", "oracle"] + (["torch"] if torch is not None else []) + \
    (["jax"] if jax is not None else [])


@pytest.fixture(scope="module")
def fashion(fashion_dir):
    data = datasets.load_fashion_mnist(fashion_dir, download=False)
    return data.X_train[:N], data.y_train[:N]


def planned(epoch):
    """epoch, after running it until the planner has chosen the run's layer threads
    (plan.TeamTrial: a warm-up chunk for each of up to 2 + layers teams, then 3 timed
    chunks each, the faster of the first two timed again beside the others) and has
    timed its close calls again (plan.plan_recheck_seconds() later), so that no timed
    round trains on a team under trial or times a product; plan.forget() first, so
    that each case plans for itself."""
    nnfast.plan.forget()
    nnfast.plan.run_until_chosen(epoch)
    return epoch


def nnfast_epoch(spec, X, y, mini_batch_size, threads):
    net = nnfast.Network(spec["sizes"], cost=spec["cost"], seed=0)
    data = net.samples((X, y))  # checked once, as SGD(data, epochs) checks it for its epochs
    return planned(lambda: net.SGD(data, 1, mini_batch_size, spec["eta"], lmbda=spec["lmbda"],
                                   n_threads=threads))


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
    return peers.torch_epoch(spec["sizes"], spec["cost"], X, y, mini_batch_size, spec["eta"],
                             spec["lmbda"], threads)


def jax_epoch(spec, X, y, mini_batch_size, threads):
    return peers.jax_epoch(spec["sizes"], spec["cost"], X, y, mini_batch_size, spec["eta"],
                           spec["lmbda"])


EPOCHS = {"nnfast": nnfast_epoch, "oracle": oracle_epoch, "torch": torch_epoch, "jax": jax_epoch}

CONV_NETS = {
    "W4": dict(eta=0.1, lmbda=0.0, layers=lambda: [
        ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)),
        FullyConnectedLayer(2880, 100), SoftmaxLayer(100, 10)]),
    "W5": dict(eta=0.03, lmbda=0.1, layers=lambda: [
        ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
        ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU),
        FullyConnectedLayer(640, 100, ReLU), SoftmaxLayer(100, 10)]),
}


def nnfast_conv_epoch(spec, X, y, mini_batch_size, threads):
    net = nnfast.Network(spec["layers"](), seed=0)
    data = net.samples((X, y))
    return planned(lambda: net.SGD(data, 1, mini_batch_size, spec["eta"],
                                   lmbda=spec["lmbda"], n_threads=threads))


def torch_conv_epoch(spec, X, y, mini_batch_size, threads):
    return peers.torch_conv_epoch(spec["layers"](), X, y, mini_batch_size, spec["eta"],
                                  spec["lmbda"], threads)


def jax_conv_epoch(spec, X, y, mini_batch_size, threads):
    return peers.jax_conv_epoch(spec["layers"](), X, y, mini_batch_size, spec["eta"],
                                spec["lmbda"])


CONV_EPOCHS = {"nnfast": nnfast_conv_epoch, "torch": torch_conv_epoch, "jax": jax_conv_epoch}


def skip_unless_runnable(impl, threads):
    if impl == "jax" and threads != peers.jax_threads():
        pytest.skip(f"XLA computes on {peers.jax_threads()} threads in this process, "
                    f"not {threads}")


@pytest.mark.benchmark(group="epoch")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mini_batch_size", [10, 64, 256])
@pytest.mark.parametrize("net", sorted(NETS))
def test_epoch(benchmark, record, fashion, net, mini_batch_size, threads, impl):
    skip_unless_runnable(impl, threads)
    X, y = fashion
    record(net=net, mini_batch_size=mini_batch_size, threads=threads, impl=impl,
           flops=flops.epoch_flops(nnfast.Network(NETS[net]["sizes"]), len(X)))
    run = EPOCHS[impl](NETS[net], X, y, mini_batch_size, threads)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="epoch")
@pytest.mark.parametrize("impl", [i for i in IMPLS if i in CONV_EPOCHS])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mini_batch_size", [10, 64, 256])
@pytest.mark.parametrize("net", sorted(CONV_NETS))
def test_conv_epoch(benchmark, record, fashion, net, mini_batch_size, threads, impl):
    skip_unless_runnable(impl, threads)
    X, y = fashion[0][:CONV_SAMPLES], fashion[1][:CONV_SAMPLES]
    record(net=net, mini_batch_size=mini_batch_size, threads=threads, impl=impl,
           samples=CONV_SAMPLES,
           flops=flops.epoch_flops(nnfast.Network(CONV_NETS[net]["layers"]()), CONV_SAMPLES))
    run = CONV_EPOCHS[impl](CONV_NETS[net], X, y, mini_batch_size, threads)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
