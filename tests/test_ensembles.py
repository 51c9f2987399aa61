"""Ensembles and sweeps: networks trained in threads equal those trained one by one."""
import numpy as np
import pytest

import nnfast
from nnfast import Ensemble, ensemble, sweep


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 64), dtype=np.float32), rng.integers(0, 4, n)


def factory(seed):
    return nnfast.Network([64, 16, 4], seed=seed)


def test_concurrent_networks_equal_sequential_ones_bit_for_bit():
    X, y = data()
    together = ensemble(factory, (X, y), 2, 2, 10, 0.5, seeds=[3, 7], lmbda=0.1)
    for seed, net in zip([3, 7], together.networks):
        alone = factory(seed)
        alone.SGD((X, y), 2, 10, 0.5, lmbda=0.1, n_threads=1, progress=False)
        for a, b in zip(alone.weights + alone.biases, net.weights + net.biases):
            np.testing.assert_array_equal(a, b)
    assert len(together) == 2 and len(together.histories) == 2


class Fixed:
    """A stand-in network predicting fixed classes."""

    def __init__(self, predictions, n_classes=4):
        self.predictions = np.asarray(predictions)
        self.sizes = (64, n_classes)
        self.dtype = np.dtype(np.float32)

    def predict(self, X):
        return self.predictions


def test_vote_is_the_majority_and_ties_go_to_the_lowest_label():
    votes = Ensemble([Fixed([1, 2, 3, 0]), Fixed([1, 3, 2, 0]), Fixed([2, 3, 1, 3])])
    np.testing.assert_array_equal(votes.predict(None), [1, 3, 1, 0])
    two = Ensemble([Fixed([3, 0]), Fixed([2, 1])])
    np.testing.assert_array_equal(two.predict(None), [2, 0])
    X = np.zeros((2, 64), np.float32)
    assert two.accuracy((X, np.array([2, 1]))) == 1


def test_networks_that_cannot_vote_together_are_refused_by_index():
    with pytest.raises(ValueError, match=r"^networks\[1\] maps 64 inputs to 3 classes"):
        Ensemble([Fixed([1]), Fixed([1], n_classes=3)])
    with pytest.raises(TypeError, match=r"^networks\[1\] must be a network"):
        Ensemble([Fixed([1]), "net"])


def test_ensemble_accuracy_on_real_networks():
    X, y = data()
    votes = ensemble(factory, (X, y), 3, 1, 10, 0.5)
    assert 0 <= votes.accuracy((X, y)) <= len(X)
    np.testing.assert_array_equal(votes.votes(X).sum(axis=1), 3)


def test_sweep_runs_every_point_from_the_same_start():
    X, y = data()
    results = sweep(factory, (X, y), {"eta": [0.1, 1.0], "lmbda": [0.0, 1.0]}, 1, 10,
                    evaluation_data=(X, y), monitor_training_cost=True)
    assert [r.params for r in results] == [{"eta": 0.1, "lmbda": 0.0}, {"eta": 0.1, "lmbda": 1.0},
                                           {"eta": 1.0, "lmbda": 0.0}, {"eta": 1.0, "lmbda": 1.0}]
    alone = factory(0)
    alone.SGD((X, y), 1, 10, 1.0, lmbda=1.0, progress=False, n_threads=1)
    np.testing.assert_array_equal(alone.weights[0], results[3].network.weights[0])
    assert results[3].accuracy == alone.accuracy((X, y))
    assert all(len(r.history.training_cost) == 1 for r in results)


@pytest.mark.parametrize("call", [
    lambda: ensemble(factory, data(), 0, 1, 10, 0.5),
    lambda: ensemble(factory, data(), 2, 1, 10, 0.5, seeds=[1]),
    lambda: sweep(factory, data(), {"lmbda": [0.0]}, 1, 10),
    lambda: sweep(factory, data(), {}, 1, 10, eta=0.5),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_factory_must_make_new_networks():
    net = factory(0)
    with pytest.raises(TypeError, match="new Network"):
        ensemble(lambda seed: net, data(), 2, 1, 10, 0.5)


@pytest.mark.parametrize("call, error, name", [
    (lambda: sweep(factory, data(), {"eta": 0.1}, 1, 10), TypeError, "grid"),
    (lambda: sweep(factory, data(), {"eta": [0.1, -1.0]}, 1, 10), ValueError, "eta"),
    (lambda: sweep(factory, data(), {"eta": [0.1], "speed": [1]}, 1, 10), TypeError, "speed"),
    (lambda: ensemble(factory, data(), 2, 1, 10, 0.5, n_threads_each=0), ValueError,
     "n_threads_each"),
    (lambda: ensemble(factory, data(), 2, 1, 10, 0.5, executor=42), TypeError, "executor"),
    (lambda: ensemble(factory, data(), 2.0, 1, 10, 0.5), TypeError, "^k must be an int"),
    (lambda: ensemble(factory, data(), 2, 1, 10, 0.5, n_threads_each=2000), ValueError,
     r"n_threads_each must be in \[1, 1024\], got 2000"),
    (lambda: ensemble(factory, data(), 2, 1, 10, 0.5, monitor_evaluation_accuracy=True),
     ValueError, "monitor_evaluation_accuracy need evaluation_data"),
    (lambda: sweep(factory, data(), {"eta": [0.1]}, 1, 10, early_stopping_n=2), ValueError,
     "early_stopping_n need evaluation_data"),
])
def test_bad_arguments_are_named_before_training(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_sweep_refuses_a_factory_returning_one_network_before_training():
    net = factory(0)
    before = net._params.copy()
    with pytest.raises(TypeError, match="new Network"):
        sweep(lambda seed: net, data(), {"eta": [0.1, 1.0]}, 1, 10)
    np.testing.assert_array_equal(net._params, before)


def test_k_may_be_a_numpy_int():
    assert len(ensemble(factory, data(), np.int64(2), 1, 10, 0.5).networks) == 2


def test_the_books_network3_votes_beside_a_network():
    from nnfast.book import network3
    book = network3.Network([network3.FullyConnectedLayer(n_in=64, n_out=5),
                             network3.SoftmaxLayer(n_in=5, n_out=4)], 10, seed=1)
    X = np.zeros((3, 64), np.float32)
    together = Ensemble([nnfast.Network([64, 5, 4], seed=2), book])
    assert together.votes(X).sum(axis=1).tolist() == [2, 2, 2]


def test_a_failed_point_stops_the_others_at_their_next_chunk(monkeypatch):
    """Threads cannot be stopped from outside: the first point to fail sets the run's
    stop, and the other point ends at its next chunk instead of training all its
    epochs while TrainingFailed waits (it ends short of where training alone goes)."""
    from nnfast import training
    monkeypatch.setattr(training, "CHUNK_SECONDS", 1e-4)  # chunks of a few mini-batches
    X, y = data(2000)
    made = []

    def keep(seed):
        made.append(factory(seed))
        return made[-1]

    with pytest.raises(nnfast.TrainingFailed, match="eta"):
        sweep(keep, (X, y), {"eta": [0.5, 3e38]}, 40, 10, max_workers=2)
    alone = factory(0)
    alone.SGD((X, y), 40, 10, 0.5, n_threads=1, progress=False)
    assert not np.array_equal(made[0].weights[0], alone.weights[0])


def test_a_dead_worker_process_is_named_as_such_not_blamed_on_another_point():
    """A process pool whose worker dies (here the point whose eta_schedule is os._exit)
    fails every unfinished task alike: the error says a worker died and lists the
    points it may have been running, the dead one among them, rather than naming the
    first of them to be reported."""
    import concurrent.futures
    import multiprocessing
    import os
    X, y = data()
    with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(nnfast.TrainingFailed, match="^a worker that died running one "
                                                         "of .*eta_schedule=<built-in "
                                                         "function _exit>.* failed: "
                                                         "BrokenProcessPool"):
            sweep(factory, (X, y), {"eta_schedule": [None, os._exit, None]}, 1, 10,
                  eta=0.1, executor=pool)
