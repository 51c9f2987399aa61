"""Several networks trained at once in Python threads: ensembles and hyper-parameter
sweeps on one machine.

The engine releases the GIL for every chunk of mini-batches, so k networks in k threads
train in about the time of one when there are k cores. Each network is trained and
evaluated by one thread only (a Network refuses a second thread while it trains).
Chapter 6 ("Using an ensemble of networks") votes five networks; chapter 3 ("How to
choose a neural network's hyper-parameters") sweeps η and λ.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from nnfast.checks import as_samples
from nnfast.network import History, Network

NetworkFactory = Callable[[int], Network]


class Ensemble:
    """Trained networks that vote: each predicts a class, the class with most votes
    wins, and a tie goes to the lowest label (chapter 6's ensemble of five networks)."""

    def __init__(self, networks: Sequence[Network], histories: Sequence[History] = ()):
        if not networks:
            raise ValueError("an ensemble needs at least one network")
        self.networks: List[Network] = list(networks)
        self.histories: List[History] = list(histories)

    def votes(self, X: np.ndarray) -> np.ndarray:
        """(N, classes): how many networks predict each class for each row of X."""
        n_classes = self.networks[0].sizes[-1]
        predictions = [net.predict(X) for net in self.networks]
        counts = np.zeros((len(predictions[0]), n_classes), np.int64)
        for predicted in predictions:
            counts[np.arange(len(predicted)), predicted] += 1
        return counts

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The majority class for each row of X (ties: the lowest label)."""
        return np.argmax(self.votes(X), axis=1)  # argmax takes the first maximum

    def accuracy(self, data: Any) -> int:
        """How many of data's samples, (X, y) or the book's (x, y) pairs, the vote gets right."""
        first = self.networks[0]
        X, labels = as_samples(data, first.sizes[0], first.sizes[-1], first.dtype, "data")
        return int(np.sum(self.predict(X) == labels))

    def __len__(self) -> int:
        return len(self.networks)


def _train(net, training_data, epochs, mini_batch_size, eta, n_threads, sgd_kwargs):
    history = net.SGD(training_data, epochs, mini_batch_size, eta, n_threads=n_threads,
                      progress=False, **sgd_kwargs)
    return net, history


def _workers(max_workers, jobs, n_threads_each):
    if max_workers is None:
        max_workers = max(1, (os.cpu_count() or 1) // n_threads_each)
    return max(1, min(max_workers, jobs))


def ensemble(network_factory: NetworkFactory, training_data: Any, k: int, epochs: int,
             mini_batch_size: int, eta: float, seeds: Optional[Sequence[int]] = None,
             n_threads_each: int = 1, max_workers: Optional[int] = None,
             **sgd_kwargs: Any) -> Ensemble:
    """Train k networks concurrently, network_factory(seed) for each seed, and return
    them as an Ensemble that votes.

    seeds defaults to 0..k-1. Each network trains with Network.SGD(training_data,
    epochs, mini_batch_size, eta, n_threads=n_threads_each, **sgd_kwargs) in its own
    thread, at most max_workers at once (default: cores // n_threads_each). Since a
    network's run depends only on its seed, the networks are bit for bit those that
    training them one after another would give.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    seeds = list(range(k)) if seeds is None else list(seeds)
    if len(seeds) != k:
        raise ValueError(f"seeds must give k = {k} seeds, got {len(seeds)}")
    networks = [network_factory(seed) for seed in seeds]
    if len({id(net) for net in networks}) != k or not all(isinstance(n, Network)
                                                         for n in networks):
        raise TypeError("network_factory(seed) must return a new Network on each call")
    with ThreadPoolExecutor(_workers(max_workers, k, n_threads_each)) as pool:
        results = list(pool.map(lambda net: _train(net, training_data, epochs, mini_batch_size,
                                                   eta, n_threads_each, sgd_kwargs), networks))
    return Ensemble([net for net, _ in results], [history for _, history in results])


class SweepResult(NamedTuple):
    """One point of a sweep: its hyper-parameters, the trained network, its History,
    and its accuracy on the sweep's evaluation_data (None without it)."""

    params: Dict[str, Any]
    network: Network
    history: History
    accuracy: Optional[int]


def sweep(network_factory: NetworkFactory, training_data: Any,
          grid: Mapping[str, Iterable[Any]], epochs: int, mini_batch_size: int,
          eta: Optional[float] = None, evaluation_data: Any = None, seed: int = 0,
          n_threads_each: int = 1, max_workers: Optional[int] = None,
          **sgd_kwargs: Any) -> List[SweepResult]:
    """Train one network per point of grid (e.g. {"eta": [0.1, 1.0], "lmbda": [0.0, 5.0]},
    any SGD keyword arguments, all combinations) concurrently, each from
    network_factory(seed), so that the points differ only in their hyper-parameters.

    Returns a SweepResult per point, in the grid's order; with evaluation_data each
    carries the network's accuracy on it, computed in the network's own thread.
    """
    names = list(grid)
    points = [dict(zip(names, values)) for values in
              itertools.product(*(list(grid[name]) for name in names))]
    if not points or not names:
        raise ValueError("grid must map SGD argument names to non-empty lists of values")
    if eta is None and "eta" not in grid:
        raise ValueError("give eta, or put it in the grid")

    def run(params):
        kwargs = {**sgd_kwargs, **params}
        point_eta = kwargs.pop("eta", eta)
        net = network_factory(seed)
        if evaluation_data is not None:
            kwargs.setdefault("evaluation_data", evaluation_data)
        net, history = _train(net, training_data, epochs, mini_batch_size, point_eta,
                              n_threads_each, kwargs)
        accuracy = net.accuracy(evaluation_data) if evaluation_data is not None else None
        return SweepResult(params, net, history, accuracy)

    with ThreadPoolExecutor(_workers(max_workers, len(points), n_threads_each)) as pool:
        return list(pool.map(run, points))


__all__ = ["Ensemble", "SweepResult", "ensemble", "sweep"]
