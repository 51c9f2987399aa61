"""Several networks trained at once: ensembles and hyper-parameter sweeps, in Python
threads on one machine or as tasks on an executor's workers (a Dask cluster, a process
pool: nnfast.cluster).

The engine releases the GIL for every chunk of mini-batches, so k networks in k threads
train in about the time of one when there are k cores. Each network is trained and
evaluated by one thread only (a Network refuses a second thread while it trains).
Training is deterministic, so where a network trains never changes it.
Chapter 6 ("Using an ensemble of networks") votes five networks; chapter 3 ("How to
choose a neural network's hyper-parameters") sweeps η and λ.
"""
from __future__ import annotations

import inspect
import itertools
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from nnfast._kernels import check_threads
from nnfast.checks import as_samples, check_int
from nnfast.cluster import Job, TrainingFailed, train_networks
from nnfast.network import History, Network
from nnfast.training import SGDConfig, check_evaluation_given

NetworkFactory = Callable[[int], Network]


class Ensemble:
    """Trained networks that vote: each predicts a class, the class with most votes
    wins, and a tie goes to the lowest label (chapter 6's ensemble of five networks)."""

    def __init__(self, networks: Sequence[Network], histories: Sequence[History] = ()):
        networks = list(networks)
        if not networks:
            raise ValueError("an ensemble needs at least one network")
        for i, net in enumerate(networks):
            if not (callable(getattr(net, "predict", None)) and hasattr(net, "sizes")):
                raise TypeError(f"networks[{i}] must be a network (sizes and predict), got "
                                f"{type(net).__name__}")
            if (net.sizes[0], net.sizes[-1]) != (networks[0].sizes[0], networks[0].sizes[-1]):
                raise ValueError(f"networks[{i}] maps {net.sizes[0]} inputs to "
                                 f"{net.sizes[-1]} classes, networks[0] "
                                 f"{networks[0].sizes[0]} to {networks[0].sizes[-1]}: "
                                 "they cannot vote together")
        self.networks: List[Network] = networks
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


# SGD's arguments that an ensemble or a sweep sets itself rather than per network.
_SET_BY_US = ("self", "training_data", "evaluation_data", "n_threads", "progress")


def _check_sgd_arguments(kwargs: Dict[str, Any], where: str, has_evaluation: bool) -> None:
    """Refuse, before anything trains, what each network's SGD would refuse: unknown
    names, bad hyper-parameter values and monitors of evaluation data not given
    (TypeError/ValueError naming them)."""
    known = inspect.signature(Network.SGD).parameters
    for name in kwargs:
        if name not in known or name in _SET_BY_US:
            raise TypeError(f"{where}: {name!r} is not an SGD argument an ensemble or a "
                            "sweep passes on (training_data, evaluation_data, n_threads and "
                            "progress are set for each network)")
    try:
        SGDConfig(kwargs["epochs"], kwargs["mini_batch_size"], kwargs["eta"],
                  kwargs.get("lmbda", 0.0), kwargs.get("momentum", 0.0),
                  kwargs.get("regularization", "l2"), kwargs.get("eta_schedule"))
        check_evaluation_given(has_evaluation, kwargs.get("monitor_evaluation_cost", False),
                               kwargs.get("monitor_evaluation_accuracy", False),
                               check_int(kwargs.get("early_stopping_n", 0), "early_stopping_n",
                                         minimum=0))
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


def _check_threads_each(n_threads_each: Any) -> int:
    """The threads each network trains on: an int (None is no default here), checked
    as every thread count is."""
    return check_threads(check_int(n_threads_each, "n_threads_each", minimum=1),
                         "n_threads_each")


def _new_networks(network_factory: NetworkFactory, seeds: Sequence[int]) -> List[Network]:
    """network_factory(seed) for each seed, refusing one network returned twice: it
    would keep training the previous run's weights."""
    if not callable(network_factory):
        raise TypeError(f"network_factory must be a callable seed -> Network, got "
                        f"{type(network_factory).__name__}")
    networks = [network_factory(seed) for seed in seeds]
    if len({id(net) for net in networks}) != len(networks) or not all(
            isinstance(net, Network) for net in networks):
        raise TypeError("network_factory(seed) must return a new Network on each call")
    return networks


def ensemble(network_factory: NetworkFactory, training_data: Any, k: int, epochs: int,
             mini_batch_size: int, eta: float, seeds: Optional[Sequence[int]] = None,
             n_threads_each: int = 1, max_workers: Optional[int] = None,
             executor: Any = None, **sgd_kwargs: Any) -> Ensemble:
    """Train k networks concurrently, network_factory(seed) for each seed, and return
    them as an Ensemble that votes.

    seeds defaults to 0..k-1. Each network trains with Network.SGD(training_data,
    epochs, mini_batch_size, eta, n_threads=n_threads_each, **sgd_kwargs). Without
    an executor, each in its own thread, at most max_workers at once (default: cores
    // n_threads_each); with executor (a distributed.Client, its get_executor(), or
    a concurrent.futures executor such as ProcessPoolExecutor) each is a task on its
    workers (see nnfast.cluster). Since a network's run depends only on its seed, the
    networks are bit for bit those that training them one after another would give.
    A network that fails raises TrainingFailed naming its seed.
    """
    k = check_int(k, "k", minimum=1)
    seeds = list(range(k)) if seeds is None else list(seeds)
    if len(seeds) != k:
        raise ValueError(f"seeds must give k = {k} seeds, got {len(seeds)}")
    n_threads_each = _check_threads_each(n_threads_each)
    evaluation_data = sgd_kwargs.pop("evaluation_data", None)
    kwargs = {"epochs": epochs, "mini_batch_size": mini_batch_size, "eta": eta, **sgd_kwargs}
    _check_sgd_arguments(kwargs, "ensemble", evaluation_data is not None)
    networks = _new_networks(network_factory, seeds)
    training = networks[0].samples(training_data, "training_data")
    evaluation = (None if evaluation_data is None
                  else networks[0].samples(evaluation_data, "evaluation_data"))
    jobs = [Job(f"the network of seed {seed}", net, kwargs) for seed, net in zip(seeds, networks)]
    results = train_networks(jobs, training, evaluation, n_threads_each, executor, max_workers)
    return Ensemble([net for net, _, _ in results], [history for _, history, _ in results])


class SweepResult(NamedTuple):
    """One point of a sweep: its hyper-parameters, the trained network, its History,
    and its accuracy on the sweep's evaluation_data (None without it)."""

    params: Dict[str, Any]
    network: Network
    history: History
    accuracy: Optional[int]


def _grid_points(grid: Mapping[str, Iterable[Any]]) -> List[Dict[str, Any]]:
    """Every combination of the grid's values, the last name varying fastest."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must map SGD argument names to lists of values, got "
                        f"{type(grid).__name__}")
    if not grid:
        raise ValueError("grid must map SGD argument names to non-empty lists of values")
    columns = []
    for name, values in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"grid's names must be SGD argument names, got {name!r}")
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise TypeError(f"grid[{name!r}] must be a list of values, got "
                            f"{type(values).__name__} ({values!r}): write [{values!r}]")
        values = list(values)
        if not values:
            raise ValueError(f"grid[{name!r}] is empty")
        columns.append(values)
    return [dict(zip(grid, values)) for values in itertools.product(*columns)]


def sweep(network_factory: NetworkFactory, training_data: Any,
          grid: Mapping[str, Iterable[Any]], epochs: int, mini_batch_size: int,
          eta: Optional[float] = None, evaluation_data: Any = None, seed: int = 0,
          n_threads_each: int = 1, max_workers: Optional[int] = None,
          executor: Any = None, **sgd_kwargs: Any) -> List[SweepResult]:
    """Train one network per point of grid (e.g. {"eta": [0.1, 1.0], "lmbda": [0.0, 5.0]},
    any SGD keyword arguments, all combinations) concurrently, each from
    network_factory(seed), so that the points differ only in their hyper-parameters.
    Grid values take the place of the arguments of the same name.

    Returns a SweepResult per point, in the grid's order; with evaluation_data each
    carries the network's accuracy on it, computed where the network trained. Runs in
    threads, or on executor's workers, as ensemble does; every point's arguments are
    checked before anything trains, and a point that fails raises TrainingFailed
    naming it.
    """
    points = _grid_points(grid)
    if eta is None and "eta" not in grid:
        raise ValueError("give eta, or put it in the grid")
    n_threads_each = _check_threads_each(n_threads_each)
    if "evaluation_data" in grid:
        raise TypeError("grid: 'evaluation_data' is the sweep's own argument, not swept")
    point_kwargs = []
    for params in points:
        kwargs = {"epochs": epochs, "mini_batch_size": mini_batch_size, "eta": eta,
                  **sgd_kwargs, **params}
        _check_sgd_arguments(kwargs, f"sweep, grid point {_describe(params)}",
                             evaluation_data is not None)
        point_kwargs.append(kwargs)
    networks = _new_networks(network_factory, [seed] * len(points))
    training = networks[0].samples(training_data, "training_data")
    evaluation = (None if evaluation_data is None
                  else networks[0].samples(evaluation_data, "evaluation_data"))
    jobs = [Job(f"grid point {_describe(params)}", net, kwargs)
            for params, net, kwargs in zip(points, networks, point_kwargs)]
    results = train_networks(jobs, training, evaluation, n_threads_each, executor, max_workers,
                             score=evaluation is not None)
    return [SweepResult(params, net, history, accuracy)
            for params, (net, history, accuracy) in zip(points, results)]


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


__all__ = ["Ensemble", "SweepResult", "TrainingFailed", "ensemble", "sweep"]
