"""Training: the hyper-parameters (`SGDConfig`), the loop that feeds a training set to
the C engine (`Trainer`), and what is watched after each epoch (monitors).

Every way to train goes through here: `Network.SGD`, the book's `update_mini_batch`,
network2's and network3's `SGD`. One epoch is a few chunks; each chunk is one call
into C that trains a run of mini-batches with the GIL released. Between chunks
Python reports progress and lets signals through, so Ctrl-C stops after a whole
chunk with consistent weights. A chunk that leaves a parameter non-finite is undone.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np

from nnfast import _kernels, plan
from nnfast.checks import Samples, check_flag, check_int, check_real, check_regularization
from nnfast.layers import FullyConnectedLayer
from nnfast.maths import one_hot

# An engine call trains about CHUNK_SECONDS of mini-batches: short enough for progress
# and Ctrl-C, long enough that a call's fixed costs (the parameters' snapshot and
# finiteness check, and refilling the caches they swept) are noise. How many mini-batches
# that is depends on the machine, the network and the threads, so a run measures it: its
# first call trains about CHUNK_FLOPS (1e9: 10-20 ms on one AVX2 core, a few on an
# AVX-512 one), and each later call as many mini-batches as the calls before it trained
# in CHUNK_SECONDS, never fewer than the first. W4, W5 and W1 at mini-batch 10 on an AVX2
# EPYC core took 0.95, 0.97 and 0.94 of the time so (alternating processes, one thread);
# on many cores a 1e9-flop call is a millisecond or two. A team trial's chunks stay at
# CHUNK_FLOPS (its candidates take turns), and CHUNK_SECONDS = 0 keeps every chunk there.
CHUNK_FLOPS = 1e9
CHUNK_SECONDS = 0.05


def chunk_seed(seed: int, first_batch: int) -> int:
    """The seed of the engine call whose first mini-batch is the epoch's `first_batch`-th,
    the epoch seeded `seed`: advanced by first_batch * MAX_LAYERS steps of SplitMix64's
    state (SEED_STEP, csrc/rng.h; mini-batch b of a call seeded s draws from s advanced
    (b * MAX_LAYERS + layer + 1) steps), so that each mini-batch draws the dropout masks
    it would in one call for the whole epoch, however the epoch is cut into calls."""
    seed, first_batch = check_int(seed, "seed", 0), check_int(first_batch, "first_batch", 0)
    if seed >= 2**64:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    return (seed + first_batch * _kernels.MAX_LAYERS * _kernels.SEED_STEP) % 2**64


ProgressCallback = Callable[[int, int, int], Any]


class History(tuple):
    """What SGD monitored, one entry per epoch: network2's four lists, as a tuple
    (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy) that
    unpacks as network2.SGD's result, and, when asked for, chapter 5's gradient norms:
    per layer, the mean over the epoch's mini-batches of |dC/db|, the speed at which
    the layer learns."""

    gradient_norms: List[List[float]]

    def __new__(cls, evaluation_cost=(), evaluation_accuracy=(), training_cost=(),
                training_accuracy=(), gradient_norms=()):
        history = super().__new__(cls, (list(evaluation_cost), list(evaluation_accuracy),
                                        list(training_cost), list(training_accuracy)))
        history.gradient_norms = list(gradient_norms)
        return history

    def __reduce__(self):
        return (History, (*self, self.gradient_norms))

    evaluation_cost = property(lambda self: self[0])
    evaluation_accuracy = property(lambda self: self[1])
    training_cost = property(lambda self: self[2])
    training_accuracy = property(lambda self: self[3])


def check_threads(n_threads: Any) -> int:
    """A thread count: n_threads itself, in [1, MAX_THREADS], or the default for None."""
    return _kernels.check_threads(n_threads, "n_threads")


@dataclasses.dataclass(frozen=True)
class SGDConfig:
    """The hyper-parameters of one training run, validated when made; the C engine's
    `nnf_hyper` mirrors them.

    L2 regularisation decays w by (1 - eta*lmbda/n) per mini-batch; L1 moves it by
    eta*lmbda/n toward 0. n is `decay_n`, by default the size of the training set
    (network3 divides by the number of mini-batches instead). momentum keeps a
    velocity per parameter. eta_schedule(epoch) -> eta overrides eta per epoch.
    shuffle=False trains the rows in order, the same every epoch (network3, and the
    book's update_mini_batch); whole_batches_only drops the last, short mini-batch
    (network3). n_threads None means the default thread count."""

    epochs: int
    mini_batch_size: int
    eta: float
    lmbda: float = 0.0
    momentum: float = 0.0
    regularization: str = "l2"
    eta_schedule: Optional[Callable[[int], float]] = None
    decay_n: Optional[int] = None
    shuffle: bool = True
    whole_batches_only: bool = False
    n_threads: Optional[int] = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)
        put("epochs", check_int(self.epochs, "epochs", minimum=1))
        put("mini_batch_size", check_int(self.mini_batch_size, "mini_batch_size", minimum=1))
        put("eta", check_real(self.eta, "eta", minimum=0.0, strict=True))
        put("lmbda", check_real(self.lmbda, "lmbda", minimum=0.0))
        momentum = check_real(self.momentum, "momentum", minimum=0.0)
        if momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        put("momentum", momentum)
        check_regularization(self.regularization)
        if self.eta_schedule is not None and not callable(self.eta_schedule):
            raise TypeError("eta_schedule must be a callable epoch -> eta, or None")
        if self.decay_n is not None:
            put("decay_n", check_int(self.decay_n, "decay_n", minimum=1))
        for name in ("shuffle", "whole_batches_only"):
            put(name, check_flag(getattr(self, name), name))
        put("n_threads", check_threads(self.n_threads))

    def _derived(self, **changes: Any) -> "SGDConfig":
        """This config with `changes`, values already checked (a run's own mini-batch
        size, n, an epoch's eta from eta_at): a copy without checking the rest again,
        which took a tenth of a one-mini-batch SGD call."""
        config = object.__new__(type(self))
        config.__dict__.update(self.__dict__, **changes)
        return config

    def eta_at(self, epoch: int) -> float:
        if self.eta_schedule is None:
            return self.eta
        return check_real(self.eta_schedule(epoch), "eta_schedule(epoch)", minimum=0.0,
                          strict=True)


# ---- monitors: what happens after each epoch ----

class Monitor:
    """Watches training. after_epoch runs after each epoch with the network, the
    training samples and the History so far, and returns True to stop training;
    before_chunk(epoch, start, stop) sees the rows each engine call is about to train."""

    def before_chunk(self, epoch: int, start: int, stop: int) -> None:
        pass

    def after_epoch(self, epoch: int, network: Any, training: Samples, history: History) -> bool:
        return False


# The cost and accuracy monitors evaluate on n_threads threads (None: the default
# count); SGD gives them its run's, so that a run asked for one thread stays on one.

class TrainingCost(Monitor):
    def __init__(self, lmbda: float = 0.0, regularization: str = "l2",
                 n_threads: Optional[int] = None):
        self.lmbda, self.regularization, self.n_threads = lmbda, regularization, n_threads

    def after_epoch(self, epoch, network, training, history):
        history.training_cost.append(network.total_cost(training, self.lmbda,
                                                        self.regularization, self.n_threads))
        return False


class TrainingAccuracy(Monitor):
    def __init__(self, n_threads: Optional[int] = None):
        self.n_threads = n_threads

    def after_epoch(self, epoch, network, training, history):
        history.training_accuracy.append(network.accuracy(training, self.n_threads))
        return False


class EvaluationCost(Monitor):
    def __init__(self, evaluation: Samples, lmbda: float = 0.0, regularization: str = "l2",
                 n_threads: Optional[int] = None):
        self.evaluation, self.lmbda, self.regularization = evaluation, lmbda, regularization
        self.n_threads = n_threads

    def after_epoch(self, epoch, network, training, history):
        history.evaluation_cost.append(network.total_cost(self.evaluation, self.lmbda,
                                                          self.regularization, self.n_threads))
        return False


class EvaluationAccuracy(Monitor):
    """The evaluation accuracy after each epoch, kept in `last` (and recorded in the
    History unless record=False, when only early stopping wants it)."""

    def __init__(self, evaluation: Samples, record: bool = True,
                 n_threads: Optional[int] = None):
        self.evaluation, self.record, self.n_threads = evaluation, record, n_threads
        self.last: Optional[int] = None

    def after_epoch(self, epoch, network, training, history):
        self.last = network.accuracy(self.evaluation, self.n_threads)
        if self.record:
            history.evaluation_accuracy.append(self.last)
        return False


class EarlyStopping(Monitor):
    """Stops after n epochs without a better evaluation accuracy than the best so far
    (network2's early_stopping_n); reads the accuracy an EvaluationAccuracy measured."""

    def __init__(self, n: int, accuracy: EvaluationAccuracy):
        self.n, self.accuracy = n, accuracy
        self.best, self.since_best = -1, 0

    def after_epoch(self, epoch, network, training, history):
        correct = self.accuracy.last
        if correct > self.best:
            self.best, self.since_best = correct, 0
        else:
            self.since_best += 1
        return self.since_best >= self.n


class GradientNorms(Monitor):
    """Chapter 5's speed of learning: per layer, the mean over an epoch's mini-batches
    of |dC/db|, which the engine adds up in `sums` as it trains."""

    def __init__(self, n_layers: int):
        self.sums = np.zeros(n_layers)
        self.batches = 0

    def after_epoch(self, epoch, network, training, history):
        history.gradient_norms.append((self.sums / self.batches).tolist())
        self.sums[:] = 0
        return False


def check_evaluation_given(given: bool, evaluation_cost: bool = False,
                           evaluation_accuracy: bool = False, early_stopping_n: int = 0) -> None:
    """A ValueError naming the flags that evaluate, unless evaluation data was given."""
    wanted = {"monitor_evaluation_cost": evaluation_cost,
              "monitor_evaluation_accuracy": evaluation_accuracy,
              "early_stopping_n": early_stopping_n}
    if not given and any(wanted.values()):
        asked = ", ".join(name for name, on in wanted.items() if on)
        raise ValueError(f"{asked} need evaluation_data; none was given")


def standard_monitors(evaluation: Optional[Samples], lmbda: float, regularization: str,
                      n_layers: int, *, training_cost: bool = False,
                      training_accuracy: bool = False, evaluation_cost: bool = False,
                      evaluation_accuracy: bool = False, early_stopping_n: int = 0,
                      gradient_norms: bool = False,
                      n_threads: Optional[int] = None) -> List[Monitor]:
    """The monitors SGD's flags ask for, in network2's order, evaluating on n_threads."""
    for name, flag in {"monitor_training_cost": training_cost,
                       "monitor_training_accuracy": training_accuracy,
                       "monitor_evaluation_cost": evaluation_cost,
                       "monitor_evaluation_accuracy": evaluation_accuracy,
                       "monitor_gradient_norms": gradient_norms}.items():
        check_flag(flag, name)
    check_evaluation_given(evaluation is not None, evaluation_cost, evaluation_accuracy,
                           early_stopping_n)
    monitors: List[Monitor] = []
    if gradient_norms:
        monitors.append(GradientNorms(n_layers))
    if training_cost:
        monitors.append(TrainingCost(lmbda, regularization, n_threads))
    if training_accuracy:
        monitors.append(TrainingAccuracy(n_threads))
    if evaluation is not None and evaluation_cost:
        monitors.append(EvaluationCost(evaluation, lmbda, regularization, n_threads))
    if evaluation is not None and (evaluation_accuracy or early_stopping_n):
        accuracy = EvaluationAccuracy(evaluation, evaluation_accuracy, n_threads)
        monitors.append(accuracy)
        if early_stopping_n:
            monitors.append(EarlyStopping(early_stopping_n, accuracy))
    return monitors


# ---- the loop ----

class Trainer:
    """Feeds a training set to a network's engine, epoch by epoch, chunk by chunk.

    `parameters` is the network's parameter block (weights, biases and velocities in
    one array, which the engine updates in place) and `snapshot` an array of its size:
    before each chunk the block is copied there, and a chunk that leaves a value
    non-finite is undone from it. `rng` draws the shuffles and the dropout seeds.
    `workspace(rows, n_threads)` gives the engine's scratch memory.

    `cost` is a cost of the caller's own (fn and delta, see nnfast.costs), or None for
    the built-in cost the engine computes BP1 for. The engine cannot call Python
    inside a chunk, so with a cost of one's own each mini-batch is three calls: the
    engine's forward pass, the cost's delta in Python on the (m, n_out) outputs (BP1),
    and the engine's BP2-BP4 and step. The mini-batches, their dropout masks and the
    chunks (for progress, interrupts and the rollback) are the same as the engine's
    own: a copy of a built-in cost trains to the same weights, up to rounding."""

    def __init__(self, network: Any, engine: Any, parameters: np.ndarray,
                 snapshot: np.ndarray, rng: np.random.Generator,
                 workspace: Callable[[int, int], np.ndarray], flops_per_sample: float,
                 has_dropout: bool, cost: Any = None):
        self.network, self.engine, self.rng = network, engine, rng
        self.parameters, self.snapshot, self.workspace = parameters, snapshot, workspace
        self.flops_per_sample, self.has_dropout = flops_per_sample, has_dropout
        self.cost = cost
        # Mini-batches a call, per (mini-batch size, threads): sized from this run's speed.
        self.chunk_batches: Dict[Tuple[int, int], int] = {}

    def run(self, training: Samples, config: SGDConfig, monitors: Sequence[Monitor] = (),
            progress: Optional[ProgressCallback] = None) -> History:
        """Train for config.epochs (fewer if a monitor stops it) and return the History
        the monitors recorded."""
        n = len(training.X)
        mini_batch_size = min(config.mini_batch_size, n)  # one short batch, as the book does
        rows = n // mini_batch_size * mini_batch_size if config.whole_batches_only else n
        norms = next((m for m in monitors if isinstance(m, GradientNorms)), None)
        if norms is not None:
            norms.batches = -(-rows // mini_batch_size)
        history = History()
        this_run = config._derived(mini_batch_size=mini_batch_size, decay_n=config.decay_n or n)
        for epoch in range(config.epochs):
            this_epoch = (this_run if config.eta_schedule is None
                          else this_run._derived(eta=config.eta_at(epoch)))
            order = (self.rng.permutation(n)[:rows] if config.shuffle
                     else np.arange(rows, dtype=np.int64))
            self.train_rows(training, order, this_epoch, epoch, monitors, progress,
                            None if norms is None else norms.sums)
            stop = False
            for monitor in monitors:
                stop = monitor.after_epoch(epoch, self.network, training, history) or stop
            if stop:
                break
        return history

    def train_rows(self, training: Samples, order: np.ndarray, config: SGDConfig, epoch: int,
                   monitors: Sequence[Monitor] = (), progress: Optional[ProgressCallback] = None,
                   grad_norms: Optional[np.ndarray] = None) -> None:
        """One pass over the rows `order` of the training set in mini-batches of
        config.mini_batch_size, one engine call per chunk (about CHUNK_SECONDS once the
        run has measured its speed; the epoch's dropout masks whatever the chunks). A chunk
        that leaves a parameter non-finite is undone, also when an interrupt arrives as
        it returns, and FloatingPointError names the epoch."""
        mini_batch_size = config.mini_batch_size
        fewest = max(1, int(CHUNK_FLOPS / (self.flops_per_sample * mini_batch_size)))
        n_threads = cast(int, config.n_threads)  # resolved when the config was made
        batches = self.chunk_batches.get((mini_batch_size, n_threads), fewest)
        work = self.workspace(mini_batch_size, n_threads)  # enough for fewer threads too
        X, labels = training
        codes = training.byte_codes() if self.cost is None else None
        first = self.network.layers[0]
        first_splits_rows = (isinstance(first, FullyConnectedLayer) and first.p_dropout == 0
                             and first.n_out > 1)
        trial = (plan.team_trial((self.engine.sizes, self.engine.dtype,
                                  self.flops_per_sample, mini_batch_size), n_threads,
                                 len(self.engine.sizes) - 1, first_splits_rows)
                 if self.cost is None else None)
        # A run chosen to train alone wakes no other thread: a team's threads spin on
        # their cores for a while after each region. W1 alone in a two-thread call took
        # 0.0825-0.0846 s an epoch against 0.0802-0.0806 on one thread, libgomp's spin
        # 18% of its samples after the fork/join's timing and the weights' check; without
        # them, 0.0801-0.0812 (AVX2 AMD EPYC, four processes alternating).
        alone = trial is not None and trial.chosen is not None and trial.chosen.alone
        if n_threads > 1 and not alone:
            plan.refine_parallel()
        # One seed an epoch, drawn only when there is dropout, so that other networks'
        # runs do not depend on it; each call's from it (chunk_seed).
        epoch_seed = int(self.rng.integers(2**63)) if self.has_dropout else 0
        start = 0
        while start < len(order):
            trying = trial is not None and trial.trying
            stop = min(start + (fewest if trying else batches) * mini_batch_size, len(order))
            for monitor in monitors:
                monitor.before_chunk(epoch, start, stop)
            seed = chunk_seed(epoch_seed, start // mini_batch_size) if self.has_dropout else 0
            np.copyto(self.snapshot, self.parameters)
            run = None if trial is None else trial.next_run()
            threads = 1 if run is not None and run.alone else n_threads
            began = time.perf_counter()
            try:
                if self.cost is None:
                    self.engine.train_chunk(X, labels, order[start:stop], mini_batch_size,
                                            config.eta, config.lmbda, config.momentum,
                                            config.decay_n, config.regularization, work,
                                            threads, seed, grad_norms,
                                            None if run is None else run.layer_threads, codes,
                                            run is not None and run.first_by_rows)
                    if trial is not None and run is not None:
                        trial.record(run, time.perf_counter() - began, stop - start)
                else:
                    try:
                        self._train_chunk_with_cost(training, order[start:stop], config,
                                                    work, seed, grad_norms)
                    except BaseException:  # stopped mid-chunk (Ctrl-C): undone whole
                        np.copyto(self.parameters, self.snapshot)
                        raise
            finally:
                # Also on the way out of an interrupt: never leave a diverged network,
                # not even when the interrupt lands during the check itself (the chunk
                # is then undone unchecked: applied whole or not at all).
                diverged = True
                try:
                    diverged = not self._finite(threads)
                finally:
                    if diverged:
                        np.copyto(self.parameters, self.snapshot)
            if diverged:
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the weights stopped being finite; "
                    "they are back to those before the chunk that diverged (try a smaller eta)")
            if not trying:  # as many mini-batches as took CHUNK_SECONDS here
                per_batch = (time.perf_counter() - began) * mini_batch_size / (stop - start)
                batches = max(fewest, int(CHUNK_SECONDS / max(per_batch, 1e-9)))
                self.chunk_batches[(mini_batch_size, n_threads)] = batches
            if progress is not None:
                progress(epoch, stop, len(order))
            start = stop

    def _train_chunk_with_cost(self, training: Samples, rows: np.ndarray, config: SGDConfig,
                               work: np.ndarray, seed: int,
                               grad_norms: Optional[np.ndarray]) -> None:
        """What engine.train_chunk does, with BP1 from self.cost.delta per mini-batch."""
        X, labels = training
        mini_batch_size, n_threads = config.mini_batch_size, cast(int, config.n_threads)
        z, a, delta = self.engine.output_buffers(work, mini_batch_size, n_threads)
        n_out = a.shape[1]
        for batch, start in enumerate(range(0, len(rows), mini_batch_size)):
            batch_rows = np.ascontiguousarray(rows[start:start + mini_batch_size])
            m = len(batch_rows)
            self.engine.train_forward(X, batch_rows, batch, mini_batch_size, work, n_threads,
                                      seed)
            y = one_hot(labels[batch_rows], n_out, X.dtype)
            # Copies: the cost may write into its arguments, as the book's code never does.
            error = np.asarray(self.cost.delta(z[:m].copy(), a[:m].copy(), y))
            if error.shape != (m, n_out):
                raise ValueError(f"cost.delta(z, a, y) must return the output error shaped "
                                 f"like a, {(m, n_out)}, got {error.shape}")
            delta[:m] = error
            self.engine.train_backward(m, mini_batch_size, config.eta, config.lmbda,
                                       config.momentum, cast(int, config.decay_n),
                                       config.regularization, work, n_threads, grad_norms)

    def _finite(self, n_threads: int) -> bool:
        # On the run's threads: a run asked for one thread leaves the other cores alone
        # (a worker woken for the check spins on its core for a while after it).
        return _kernels.all_finite(self.parameters, n_threads=n_threads)
