"""k networks trained at once in k Python threads against the same k one after another.

The engine releases the GIL for each chunk of mini-batches, so with k cores the
concurrent run takes about the time of one network. Each network trains on one thread
(n_threads_each=1): the speed-up comes from running networks side by side. Both modes
run in the same process; ratios.py reports sequential / concurrent (impl "nnfast" is
the concurrent run, "sequential" its baseline).
"""
import numpy as np
import pytest

import nnfast

K = 2
N = 5_000
SIZES = [784, 100, 10]  # network2's [784, 100, 10] (chapter 3)


def factory(seed):
    return nnfast.Network(SIZES, seed=seed)


def sequential(X, y):
    nets = [factory(seed) for seed in range(K)]
    for net in nets:
        net.SGD((X, y), 1, 10, 0.5, n_threads=1, progress=False)
    return nets


def concurrent(X, y):
    return nnfast.ensemble(factory, (X, y), K, 1, 10, 0.5, n_threads_each=1).networks


@pytest.mark.benchmark(group="ensemble")
@pytest.mark.parametrize("impl", ["nnfast", "sequential"])
def test_ensemble(benchmark, record, rng, impl):
    X = rng.random((N, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], N)
    record(k=K, n_threads_each=1, samples_per_network=N, impl=impl)
    run = {"nnfast": concurrent, "sequential": sequential}[impl]
    nets = benchmark.pedantic(run, args=(X, y), rounds=3, iterations=1, warmup_rounds=0)
    # The same networks either way: concurrency changes the time, not the result.
    for net, alone in zip(nets, sequential(X, y)):
        np.testing.assert_array_equal(net.weights[0], alone.weights[0])
