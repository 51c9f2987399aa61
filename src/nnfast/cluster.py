"""Where the networks of an ensemble or a sweep train: the threads of this process, the
workers of any concurrent.futures executor, or a Dask cluster (`distributed`).

Each task trains one network and sends it back; networks pickle whole and compactly,
and training is deterministic, so a network trained in a worker is bit for bit the one
a thread here would give. The data sets travel once, not with every task:

- threads (no executor, or a ThreadPoolExecutor) read them where they are;
- a Dask Client (or its get_executor()) scatters them to every worker once;
- any other executor's processes memory-map them from .npy files that this process
  writes to a temporary directory: the operating system keeps one copy for all the
  processes of a machine, and each process opens the files once. Those
  processes must therefore run on this machine, as a ProcessPoolExecutor's do; for
  workers on other machines, use Dask.

`distributed` is imported only by `connect`: a Client given to us proves it is there.
"""
from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import functools
import os
import shutil
import sys
import tempfile
import threading
import uuid
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from nnfast._kernels import set_num_threads
from nnfast.checks import Samples, check_int
from nnfast.network import History, Network

# Tells a task whether it runs in the process that made it: not in a fork (another
# pid) and not on another machine (another token).
_TOKEN = uuid.uuid4().hex


class TrainingFailed(RuntimeError):
    """A network of an ensemble or a sweep could not be trained: `what` names its seed
    or grid point; the error it raised (or the worker's death) is the __cause__."""

    def __init__(self, what: str, error: BaseException):
        super().__init__(f"{what} failed: {type(error).__name__}: {error}")
        self.what = what


class Job(NamedTuple):
    """One network to train: what names it in errors, and its SGD arguments (all but
    the data sets, n_threads and progress)."""

    what: str
    network: Network
    sgd_kwargs: Dict[str, Any]


Result = Tuple[Network, History, Optional[int]]


class _Stopped(Exception):
    """The run a task belongs to has ended (another task failed, or Ctrl-C)."""


def train_network(network: Network, training: Any, evaluation: Any, sgd_kwargs: Dict[str, Any],
                  n_threads: int, score: bool, home: Tuple[int, str],
                  stop: Optional[threading.Event] = None) -> Result:
    """The task: train network, and with `score` count its correct answers on evaluation.
    In a thread of this process, `stop` set ends it at its next chunk: a thread cannot
    be stopped from outside, and the run would otherwise wait for it to train on."""
    if home != (os.getpid(), _TOKEN):
        # A worker process has a default thread count of its own (Dask sets
        # OMP_NUM_THREADS=1): what runs on the default count takes n_threads too.
        set_num_threads(n_threads)
    training, evaluation = _open(training), _open(evaluation)

    def progress(epoch: int, done: int, n: int) -> None:
        if stop is not None and stop.is_set():
            raise _Stopped("the ensemble or sweep this network belongs to has ended")

    history = network.SGD(training, evaluation_data=evaluation, n_threads=n_threads,
                          progress=False if stop is None else progress, **sgd_kwargs)
    accuracy = network.accuracy(evaluation, n_threads) if score else None
    return network, history, accuracy


def train_networks(jobs: List[Job], training: Samples, evaluation: Optional[Samples],
                   n_threads_each: int, executor: Any = None,
                   max_workers: Optional[int] = None, score: bool = False) -> List[Result]:
    """Train every job's network on `training` (with `evaluation` as its
    evaluation_data), n_threads_each threads each, and return (network, History,
    accuracy or None) per job in the jobs' order. The first job to fail stops the rest
    and raises TrainingFailed naming it."""
    runner = _runner(executor, max_workers, n_threads_each, len(jobs))
    futures: List[Any] = []
    try:
        shared_training = runner.share(training, "training")
        shared_evaluation = None if evaluation is None else runner.share(evaluation, "evaluation")
        run = uuid.uuid4().hex[:8]
        home = (os.getpid(), _TOKEN)
        futures = [runner.submit(f"nnfast-{run}-{i}", job.network, shared_training,
                                 shared_evaluation, job.sgd_kwargs, n_threads_each, score, home)
                   for i, job in enumerate(jobs)]
        position = {future: i for i, future in enumerate(futures)}
        results: List[Any] = [None] * len(jobs)
        for future in runner.as_completed(futures):
            i = position[future]
            try:
                results[i] = future.result()
            except Exception as error:
                if _worker_lost(error):  # every unfinished job fails so: whose was it?
                    unfinished = [job.what for job, done in zip(jobs, results) if done is None]
                    raise TrainingFailed("a worker that died running one of "
                                         + ", ".join(unfinished), error) from error
                raise TrainingFailed(jobs[i].what, error) from error
        return results
    finally:
        runner.cancel([future for future in futures if not future.done()])
        runner.close()


def _worker_lost(error: BaseException) -> bool:
    """Whether a task failed because its worker process died (a process pool broken,
    or Dask cancelling what that worker held), not by an error of its own."""
    return (isinstance(error, (concurrent.futures.process.BrokenProcessPool,
                               concurrent.futures.CancelledError))
            or type(error).__name__ == "FutureCancelledError")


# ---- runners: one per kind of executor ----

class _Threads:
    """Tasks in threads of this process, reading the data sets in place; the pool is
    ours to close when we made it."""

    def __init__(self, executor: concurrent.futures.Executor, owned: bool = False):
        self.executor, self.owned = executor, owned
        self.stop = threading.Event()  # set: the running tasks end at their next chunk

    def share(self, samples: Samples, name: str) -> Any:
        return samples

    def submit(self, key: str, *args: Any) -> Any:
        return self.executor.submit(functools.partial(train_network, stop=self.stop), *args)

    def as_completed(self, futures: List[Any]) -> Iterable[Any]:
        return concurrent.futures.as_completed(futures)

    def cancel(self, futures: List[Any]) -> None:
        if futures:
            self.stop.set()
        for future in futures:
            future.cancel()

    def close(self) -> None:
        if self.owned:
            self.executor.shutdown()


class _Processes(_Threads):
    """Tasks in an executor's processes on this machine, which memory-map the data sets
    from a temporary directory removed when the run ends (a process that mapped them
    keeps its map, as Linux keeps a deleted file's pages until the last map goes)."""

    def __init__(self, executor: concurrent.futures.Executor):
        super().__init__(executor)
        self.directory: Optional[str] = None

    def submit(self, key: str, *args: Any) -> Any:
        return self.executor.submit(train_network, *args)  # (an Event does not pickle)

    def share(self, samples: Samples, name: str) -> Any:
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="nnfast-")
        path = os.path.join(self.directory, name)
        np.save(path + ".X.npy", samples.X)
        np.save(path + ".labels.npy", samples.labels)
        return _OnDisk(path)

    def close(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


class _Dask:
    """Tasks on a Dask cluster: the data sets scattered to every worker once (a worker
    that joins later fetches them from another), each network a task of its own."""

    def __init__(self, client: Any):
        import distributed  # loaded already: client is one of its objects

        self.client, self.distributed = client, distributed
        self.scattered: List[Any] = []

    def share(self, samples: Samples, name: str) -> Any:
        [future] = self.client.scatter([_Shipped(samples)], broadcast=True, hash=False)
        self.scattered.append(future)
        return future

    def submit(self, key: str, *args: Any) -> Any:
        return self.client.submit(train_network, *args, key=key, pure=False)

    def as_completed(self, futures: List[Any]) -> Iterator[Any]:
        return self.distributed.as_completed(futures)

    def cancel(self, futures: List[Any]) -> None:
        if futures:
            self.client.cancel(futures)

    def close(self) -> None:
        self.cancel(self.scattered)  # frees the workers' copies


def _runner(executor: Any, max_workers: Optional[int], n_threads_each: int, jobs: int) -> Any:
    if executor is None:
        if max_workers is None:
            max_workers = max(1, (os.cpu_count() or 1) // n_threads_each)
        max_workers = check_int(max_workers, "max_workers", minimum=1)
        return _Threads(concurrent.futures.ThreadPoolExecutor(min(max_workers, jobs)), owned=True)
    if max_workers is not None:
        raise ValueError("max_workers is for the threads of this process; an executor runs "
                         "as many tasks at once as it has workers")
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(executor, distributed.Client):
        return _Dask(executor)
    cfexecutor = sys.modules.get("distributed.cfexecutor")
    if cfexecutor is not None and isinstance(executor, cfexecutor.ClientExecutor):
        # client.get_executor(): the same cluster, so scatter through its client.
        return _Dask(executor._client)
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return _Threads(executor)
    if isinstance(executor, concurrent.futures.Executor):
        return _Processes(executor)
    raise TypeError("executor must be None, a distributed.Client or a "
                    f"concurrent.futures.Executor, got {type(executor).__name__}")


# ---- data sets as tasks receive them ----

def _open(data: Any) -> Any:
    """The Samples (or None) a task was given, or that a handle to them stands for."""
    return data.open() if isinstance(data, (_Shipped, _OnDisk)) else data


class _Shipped:
    """Samples that arrive aligned. A Dask worker unpickles arrays into its network
    buffers wherever they land, which the engine's vector loads refuse; the copy this
    costs is made once per worker, where the scattered data is unpickled."""

    def __init__(self, samples: Samples):
        self.samples = samples

    def __getstate__(self) -> Samples:
        return self.samples

    def __setstate__(self, samples: Samples) -> None:
        self.samples = Samples(*(np.require(a, requirements=("C", "A")) for a in samples))

    def open(self) -> Samples:
        return self.samples


class _OnDisk(NamedTuple):
    """A Samples saved as <path>.X.npy and <path>.labels.npy by _Processes.share."""

    path: str

    def open(self) -> Samples:
        """The Samples, memory-mapped (read-only) once per process: .npy data starts
        64-byte aligned."""
        with _MAPS_LOCK:
            if self.path not in _MAPS:
                # Earlier runs' directories are gone: drop their maps so their pages go too.
                for path in [p for p in _MAPS if not os.path.isdir(os.path.dirname(p))]:
                    del _MAPS[path]
                try:
                    _MAPS[self.path] = Samples(np.load(self.path + ".X.npy", mmap_mode="r"),
                                               np.load(self.path + ".labels.npy", mmap_mode="r"))
                except FileNotFoundError:
                    raise FileNotFoundError(
                        f"{self.path}.X.npy is not on this worker's machine: a "
                        "concurrent.futures executor's workers read the data from files on "
                        "the machine that submits; for workers on other machines pass a "
                        "distributed.Client") from None
            return _MAPS[self.path]


# This process's maps, by path, and the lock that keeps two threads from opening one twice.
_MAPS: Dict[str, Samples] = {}
_MAPS_LOCK = threading.Lock()


# ---- connecting to a cluster ----

def connect(scheduler: Optional[str] = None, local_workers: Optional[int] = None) -> Any:
    """A distributed.Client of the Dask scheduler at `scheduler` ("tcp://host:8786"), or
    of a cluster of `local_workers` processes on this machine, one task at a time each
    (closing the client closes that cluster)."""
    if (scheduler is None) == (local_workers is None):
        raise ValueError("give scheduler or local_workers, not both or neither")
    try:
        import distributed
    except ImportError as error:
        raise ImportError('running on a Dask cluster needs the "distributed" package: '
                          'pip install "nnfast[dask]"') from error
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address like 'tcp://host:8786', "
                            f"got {type(scheduler).__name__}")
        return distributed.Client(scheduler)
    local_workers = check_int(local_workers, "local_workers", minimum=1)
    return distributed.Client(n_workers=local_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None)


__all__ = ["Job", "TrainingFailed", "connect", "train_network", "train_networks"]
