"""The planner: how each product and kernel runs on this machine (csrc/plan.c).

The first time a GEMM signature is met (dtype, m, n, k, which operands are unit
stride, whether C is read, the threads asked for) its candidates are timed on scratch
copies and the fastest is cached for the process: the team size, and the ISA's kernel
table where tables give the same bits. The elementwise, pooling and dropout kernels go
parallel above thresholds derived from the fork/join and per-element costs measured
here (the fork/join timed again at each epoch on several threads, the fastest kept).
Two products of a conv layer are planned too, each path timed on the first image and
the fastest kept: the forward product, where the direct convolution fits (float32,
output rows 17 to 24 wide, every tap one k-block, or at most 8 wide; the AVX2 or
AVX-512 table in use), by the direct convolution or im2col with the GEMM, and where
the AVX-512 table is in use by AVX2's direct convolution too (256-bit vectors, faster
on some AVX-512 CPUs); and the weight gradient of a layer
followed by a max-pool (the first-maximum tie rule), from the image's windows read in
place or from its im2row rows, where one channel needs a windows kernel that takes the
filter (AVX2 or AVX-512; at most 6 rows of at most 8 floats, or of 4 doubles on AVX2
and 8 on AVX-512). Every candidate computes each output in the same order, so a plan
changes speed, never results (FFTW's FFTW_MEASURE; its "wisdom" is export_wisdom).

NNFAST_PLAN=estimate (read at import) skips all timing for a fixed rule: products
of at least 2^20 flops run on every thread asked for, smaller ones on one; the
elementwise kernels go parallel above 16,384 elements, pooling and dropout above
65,536; the kernel table is the one in use; a convolution that fits takes the direct
path, and every weight gradient that can reads its windows in place.
NNFAST_PLAN=measure is the default.
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import os
import platform
import statistics
import threading
import time
from typing import Any, Callable, Dict, Hashable, List, NamedTuple, Optional, Tuple

import numpy as np

from nnfast import _kernels
from nnfast.files import PathLike, checked_path, write_atomically

MODES = _kernels.PLAN_MODES
# 2: the "exp" kind of elementwise kernels; 3: conv; 4: conv plans name their product
WISDOM_FORMAT = "nnfast-wisdom-4"
_SIGNATURE_KEYS = ("isa_in_use", "dtype", "m", "n", "k", "unit_stride", "beta_zero", "n_threads")
_CHOICE_KEYS = _SIGNATURE_KEYS + ("isa", "team", "path")
_CONV_SIGNATURE_KEYS = ("product", "isa_in_use", "dtype") + _kernels.CONV_SHAPE_KEYS + (
    "n_threads",)
_CONV_CHOICE_KEYS = _CONV_SIGNATURE_KEYS + ("path",)


def mode() -> str:
    """'measure' (time candidates on first use) or 'estimate' (a fixed rule)."""
    return _kernels.plan_mode()


def set_mode(new_mode: str) -> None:
    """Plan by 'measure' or 'estimate' from now on; plans already made stay."""
    if new_mode not in MODES:
        raise ValueError(f"set_mode: mode must be one of {MODES}, got {new_mode!r}")
    _kernels.plan_mode(new_mode)


def plans() -> List[Dict[str, Any]]:
    """Every GEMM plan of this process, in the order made: the signature, the ISA and
    team chosen, how ('measured', 'estimated', 'imported' or 'provisional': the
    estimate rule's, untimed, for an epoch's last, partial mini-batch, until a run
    whose mini-batches have its size plans it), the timed candidates (isa, team,
    path, best seconds), the seconds planning took, and `recheck`: a close call
    (another candidate within half again of the fastest's time), whose near candidates
    are timed once more at its first use plan_recheck_seconds() or more later, each
    keeping the better of its two times, for a core that ran slow for a while."""
    return _kernels.gemm_plans()


def convs() -> List[Dict[str, Any]]:
    """Every convolution plan of this process, in the order made: the signature
    (the product, 'forward' or 'weight_gradient'; isa_in_use, dtype, the image's c,
    h, w, the f filters' kh x kw, the threads its GEMM may take, 1 for the weight
    gradient), the path chosen ('direct', 'direct_avx2' or 'gemm' for the forward
    product, 'windows' or 'rows' for the weight gradient), how, each path's best
    seconds for one image (0 when not timed: not a candidate here, or not measured),
    the seconds planning took, and `recheck`, a close call to be timed again as
    plans() says."""
    return _kernels.conv_plans()


def parallel() -> Dict[str, Any]:
    """The elementwise, pooling and dropout kernels' thresholds (elements above which
    they use their threads), and the fork/join and per-element seconds they come from.
    Measured now if they have not been."""
    return _kernels.parallel_plan()


def refine_parallel() -> None:
    """Time the fork/join again and keep the faster, with the thresholds it gives (a
    measured plan only; an imported or estimated one stays). The first timing can
    catch another library's threads still spinning on the other cores, as numpy's
    OpenBLAS threads do for a while after import; each training run on more than one
    thread calls this (but one whose trial chose to train alone, which wakes no other
    thread), so the thresholds settle at the machine's own cost."""
    _kernels.refine_parallel_plan()


def forget() -> None:
    """Drop every plan: the next use of each product and kernel plans it again."""
    _kernels.forget_plans()
    with _teams_lock:
        _teams.clear()


Team = Tuple[int, ...]  # the threads of each layer's kernels


class Run(NamedTuple):
    """How a training run uses its threads: each layer's count, whether a dense
    first layer on several splits the mini-batch's rows among them (each thread
    copying its share, the products split as planned) rather than its units (each
    thread copying every row for its units' z and rows of w), and, where every layer
    keeps to one thread, whether the run trains alone, as on one thread, with no
    second thread copying the next mini-batch ahead."""
    layer_threads: Team
    first_by_rows: bool = False
    alone: bool = False


class TeamTrial:
    """How a training run uses its threads, measured on its own chunks.

    Each product is planned alone, its team kept awake and its operands where its last
    timing left them. Inside a run neither holds: between stretches of one-thread work a
    team must first wake its threads, and a layer whose products split its weights
    differently (the forward by rows of w, BP2 on one thread) moves them between the
    cores' caches at every step, which can cost more than the split saves. On a 16-core
    Xeon every team of two threads tried trained W1 at mini-batch 10 slower than one
    thread alone (0.085 s an epoch against 0.057), and W5 at mini-batch 10 trained at
    2.85 s asked for 16 threads (a layer on 16 chosen) but at 1.45 asked for 8 (three
    layers on 8). So the run's threads are planned too, per layer, where they are used:
    the first chunks run every layer on all the threads asked for, every layer on one
    with a second copying the next mini-batch ahead, the run alone on one thread as if
    it had asked for one, where the first layer can split its rows every layer on all
    with the first split so, and every layer on half the threads asked for, a quarter,
    and so down to two; then, from the fastest of those, each layer in turn on the other
    count (one thread for a layer on a team, the fastest uniform team's count for a
    layer on one; a first layer given a team with either split), the fastest timed again
    beside them.

    Each candidate gets a chunk to plan and warm up; then the candidates of a round take
    turns, TIMED_ROUNDS timed chunks each, and each one's median counts. A chunk is tens
    of milliseconds: a slow stretch of a shared machine (seconds of a neighbour's load)
    then falls on all the candidates alike, not on the one timed then, and neither one
    interrupted chunk nor one lucky chunk decides (on a shared 16-core Xeon, W4's chunks
    with its conv layer on four threads took 1.13 to 1.72 s an epoch: chosen by its
    fastest chunk, that run trained at 1.57 s against 1.41 on one thread).

    The rest of the run, and every later run of the same network shape, mini-batch size
    and thread count in this process, uses the fastest per row (the fewest threads in
    all unless more are 5% faster; every layer on one thread with the copy ahead counts
    one more, the engine's second thread), so a run on several threads is not slower
    than one alone beyond the margin. The weights do not depend on it: they are the same
    bits on any thread count and either split.

    A shared machine's cores change speed for minutes at a time (a 2-core VM's second
    core: W1 at mini-batch 10 chose the run alone while its chunks on two threads took
    1.53 us a row, and kept it, 0.081 s an epoch, where trials minutes before and after
    chose the first layer on two at 0.98-1.03 us a row, 0.052 s an epoch). So after
    every RETRIAL_SECONDS of chunks on the chosen run the trial runs again from its first
    round, the run keeping its choice until the trial has made a new one: each retrial
    costs what a trial costs, a few dozen short chunks, some on slower runs (W1 on two
    threads: about 0.03 s in 30). With another process busy on the second core during
    its trial, W1 chose the run alone; the process gone, the first retrial chose the
    first layer on two threads, 0.082 -> 0.054 s an epoch.
    """

    MARGIN = 0.05
    TIMED_ROUNDS = 3
    RETRIAL_SECONDS = 30.0

    def __init__(self, n_threads: int, n_layers: int = 1,
                 first_splits_rows: bool = False) -> None:
        n_threads = _kernels.check_threads(n_threads)
        if isinstance(n_layers, bool) or not isinstance(n_layers, int):
            raise TypeError(f"n_layers must be an int, got {type(n_layers).__name__}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if not isinstance(first_splits_rows, bool):
            raise TypeError("first_splits_rows must be a bool, "
                            f"got {type(first_splits_rows).__name__}")
        self.n_threads, self.n_layers = n_threads, n_layers
        self.first_splits_rows = first_splits_rows and n_threads > 1
        self.candidates: List[Run] = [Run((n_threads,) * n_layers), Run((1,) * n_layers),
                                      Run((1,) * n_layers, alone=True)]
        if self.first_splits_rows:
            self.candidates.append(Run((n_threads,) * n_layers, True))
        fewer = n_threads // 2  # every layer on half as many threads, and so down to two
        while fewer > 1:
            self.candidates.append(Run((fewer,) * n_layers))
            fewer //= 2
        self._first_round = len(self.candidates)
        self._timed: Dict[Run, List[float]] = {}  # each candidate's timed chunks, per row
        self.chosen: Optional[Run] = None
        self.retrials = 0
        self._trained = 0.0  # seconds of chunks on the chosen run since it was chosen
        self._schedule: List[Tuple[Run, bool]] = self._round(self.candidates)
        self._lock = threading.Lock()  # networks of one shape may train in two threads

    def _round(self, runs: List[Run]) -> List[Tuple[Run, bool]]:
        """The chunks of a round, (run, timed): a warm-up for each run not yet timed,
        then the runs in turn, TIMED_ROUNDS times."""
        return ([(r, False) for r in runs if r not in self._timed]
                + [(r, True) for _ in range(self.TIMED_ROUNDS) for r in runs])

    @property
    def trying(self) -> bool:
        """Whether chunks are being timed: the trial's, or a retrial's."""
        with self._lock:
            return bool(self._schedule)

    def next_run(self) -> Run:
        """How the next chunk runs (under the lock: runs of one shape in several
        threads share the trial, and _record empties the schedule before it chooses)."""
        with self._lock:
            return self._next_run()

    def _next_run(self) -> Run:
        if self._schedule:
            return self._schedule[0][0]
        assert self.chosen is not None  # the schedule is empty only once chosen
        return self.chosen

    def record(self, run: Run, seconds: float, rows: int) -> None:
        """A chunk of `rows` rows took `seconds`, run so."""
        with self._lock:
            self._record(Run(tuple(run.layer_threads), bool(run.first_by_rows),
                             bool(run.alone)), seconds, rows)

    def _record(self, run: Run, seconds: float, rows: int) -> None:
        if run != self._next_run() or rows <= 0:
            return
        if not self._schedule:  # a chunk of the chosen run
            self._trained += seconds
            if self._trained >= self.RETRIAL_SECONDS:  # the trial again, from the start
                self.candidates = self.candidates[:self._first_round]
                self._timed, self._trained = {}, 0.0
                self._schedule = self._round(self.candidates)
                self.retrials += 1
            return
        _, timed = self._schedule.pop(0)
        if timed:  # (a warm-up chunk, a run's first, plans and warms its products)
            self._timed.setdefault(run, []).append(seconds / rows)
        if self._schedule:
            return
        if len(self.candidates) == self._first_round and self.n_layers > 1:
            best = self._fastest()  # the first round is done
            # A layer on one thread flips to the count of the fastest team of the
            # first round's, a layer on a team to one thread.
            per_row = self.seconds_per_row
            teams = [r for r in per_row if min(r.layer_threads) > 1]
            team = (min(teams, key=per_row.__getitem__).layer_threads[0]
                    if teams else self.n_threads)
            flips = []
            for i in range(self.n_layers):
                threads = best.layer_threads
                other = 1 if threads[i] > 1 else team
                flipped = threads[:i] + (other,) + threads[i + 1:]
                # A first layer on one thread splits nothing; one given a team tries
                # both splits where it can split its rows.
                splits = ((False, True) if i == 0 and other > 1 and self.first_splits_rows
                          else (best.first_by_rows and flipped[0] > 1,))
                for by_rows in splits:
                    run = Run(flipped, by_rows)
                    if run not in self.candidates:
                        flips.append(run)
            if flips:
                self.candidates += flips
                self._schedule = self._round([best] + flips)
                return
        self.chosen = self._fastest()

    @property
    def seconds_per_row(self) -> Dict[Run, float]:
        """Each timed candidate's median chunk, seconds per row (a retrial's, once it
        has timed the candidate)."""
        return {run: statistics.median(chunks) for run, chunks in self._timed.items()}

    def _threads_in_all(self, run: Run) -> int:
        """Each layer's threads, plus the thread that copies the next mini-batch where
        every layer keeps to one thread and the run is not alone (train_ahead)."""
        team = run.layer_threads
        return sum(team) + (1 if max(team) == 1 and not run.alone else 0)

    def _fastest(self) -> Run:
        """Of the runs timed, the one with the fewest threads in all among those
        within the margin of the fastest (of those, the faster)."""
        seconds = self.seconds_per_row
        fastest = min(seconds.values())
        return min((r for r, s in seconds.items()
                    if s <= (1 + self.MARGIN) * fastest),
                   key=lambda r: (self._threads_in_all(r), seconds[r]))

    def as_dict(self) -> Dict[str, Any]:
        with self._lock:
            return self._as_dict()

    def _as_dict(self) -> Dict[str, Any]:
        return {"n_threads": self.n_threads, "n_layers": self.n_layers,
                "retrials": self.retrials,
                "chosen": None if self.chosen is None else list(self.chosen.layer_threads),
                "first_by_rows": None if self.chosen is None else self.chosen.first_by_rows,
                "alone": None if self.chosen is None else self.chosen.alone,
                "seconds_per_row": [{"layer_threads": list(r.layer_threads),
                                     "first_by_rows": r.first_by_rows, "alone": r.alone,
                                     "seconds": s}
                                    for r, s in self.seconds_per_row.items()]}


_teams: Dict[Hashable, TeamTrial] = {}
_teams_lock = threading.Lock()


# plan_network's run, on the calling thread: it plans the products on all the threads
# and leaves the trial to the network's own chunks (its two mini-batches of zeros
# would otherwise take the trial's turns).
_planning = threading.local()


def team_trial(key: Hashable, n_threads: int, n_layers: int,
               first_splits_rows: bool = False) -> Optional[TeamTrial]:
    """The trial of a run keyed by key (what it trains and how), or None when there is
    nothing to choose: one thread, or the estimate mode, which uses them all (as does
    plan_network's run) with a first layer split by units. first_splits_rows: the
    run's first layer is dense, so it may split its rows instead."""
    if n_threads < 2 or mode() == "estimate" or getattr(_planning, "network", False):
        return None
    with _teams_lock:
        return _teams.setdefault((key, n_threads),
                                 TeamTrial(n_threads, n_layers, first_splits_rows))


def teams() -> List[Dict[str, Any]]:
    """Every run's thread-count trial of this process: threads asked for, layers, the
    seconds per row measured with each run tried (each layer's thread count, and
    whether the first layer split the rows), the run chosen (None until the first
    trial has chosen; a retrial keeps it until it has chosen again), and the retrials."""
    with _teams_lock:
        return [trial.as_dict() for trial in _teams.values()]


def run_until_chosen(run: Callable[[], Any], most: int = 40) -> int:
    """Calls run() (an epoch, say) until every training run's thread-count trial in
    the process has chosen (teams(): forget() first to leave other networks' out) and
    the close calls among the plans have been timed again (plans()' and convs()'
    `recheck`: calls for plan_recheck_seconds(), then one more), at most `most` times;
    returns the calls made. A benchmark's warm-up: the rounds it then times leave planning
    out, as FFTW's timings do. A trial takes about 30 chunks (CHUNK_FLOPS each); a run
    with neither is done after one call."""
    if isinstance(most, bool) or not isinstance(most, numbers.Integral) or most < 1:
        raise ValueError(f"run_until_chosen: most must be a positive int, got {most!r}")
    calls, rechecks_due = 0, None
    while calls < most:
        started = time.monotonic()
        run()
        calls += 1
        if not all(trial["chosen"] is not None for trial in teams()):
            continue
        # A plan made for a signature the run no longer meets (a thread count its
        # trial did not choose) is never timed again: after a whole call begun once
        # the others were due, wait no longer.
        if not any(p["recheck"] for p in plans() + convs()) or (
                rechecks_due is not None and started >= rechecks_due):
            break
        if rechecks_due is None:
            rechecks_due = time.monotonic() + plan_recheck_seconds()
    return calls


def plan_recheck_seconds() -> float:
    """How long after its timing a close call's plan waits to be timed again."""
    return _kernels.plan_recheck_seconds()


def timed_runs() -> int:
    """Runs made for timing since the process started: at most three per GEMM
    candidate (one warm-up, the best of two timed), so a signature asked for on t
    threads costs at most 3 x (1 + ceil(log2 t)) runs per kernel table and path timed,
    twice that for a close call (timed again a second later)."""
    return _kernels.plan_timed_runs()


def planning_seconds() -> float:
    """Seconds spent timing the cached GEMM plans."""
    return sum(p["planning_seconds"] for p in plans())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fingerprint() -> Dict[str, Any]:
    """What a plan is only good for: the best ISA, the CPU model and the CPUs this
    process may run on."""
    return {"isa": _kernels.supported_archs()[-1], "cpu": _cpu_model(), "cpus": _cpus()}


def export_wisdom(path: PathLike) -> None:
    """Write every plan of this process (the thresholds included, measured first if
    need be; not a provisional one, a placeholder) to path as JSON, atomically, with
    this machine's fingerprint."""
    checked_path(path, "path")
    gemm = [{key: p[key] for key in _CHOICE_KEYS} for p in plans() if p["how"] != "provisional"]
    conv = [{key: p[key] for key in _CONV_CHOICE_KEYS} for p in convs()]
    wisdom = {"format": WISDOM_FORMAT, "fingerprint": fingerprint(), "gemm": gemm,
              "conv": conv, "parallel": parallel()}
    write_atomically(path, json.dumps(wisdom, indent=1) + "\n")


# The largest size or threshold C's nnf_int (ptrdiff_t, 64 bits) holds: a larger int in
# a wisdom file would overflow only as it is handed to C, after other plans were cached.
_LARGEST_INT = 2**63 - 1


def _check_choice(plan: Any, where: str, keys: Tuple[str, ...], paths: Tuple[str, ...],
                  isa_keys: Tuple[str, ...], positive: Tuple[str, ...]) -> Dict[str, Any]:
    """What a GEMM's and a convolution's plan of a wisdom file share: exactly the keys,
    a path of paths, ISAs this CPU runs, a dtype, positive ints."""
    if not isinstance(plan, dict) or set(plan) != set(keys):
        raise ValueError(f"{where}: expected an object with the keys {sorted(keys)}")
    if plan["path"] not in paths:
        raise ValueError(f"{where}: path must be one of {paths}, got {plan['path']!r}")
    supported = _kernels.supported_archs()
    for key in isa_keys:
        if plan[key] not in supported:
            raise ValueError(f"{where}: {key} {plan[key]!r} is not one this CPU runs {supported}")
    if plan["dtype"] not in ("float32", "float64"):
        raise ValueError(f"{where}: dtype must be float32 or float64, got {plan['dtype']!r}")
    for key in positive:
        if type(plan[key]) is not int or not 1 <= plan[key] <= _LARGEST_INT:
            raise ValueError(f"{where}: {key} must be a positive int of at most 2**63 - 1, "
                             f"got {plan[key]!r}")
    return plan


def _check_plan(plan: Any, where: str) -> Dict[str, Any]:
    """One GEMM plan of a wisdom file, checked to be one this process could make."""
    _check_choice(plan, where, _CHOICE_KEYS, _kernels.PLAN_PATHS, ("isa_in_use", "isa"),
                  ("m", "n", "k", "n_threads", "team"))
    if not _kernels.gemm_same_bits(plan["isa_in_use"], plan["isa"]):
        raise ValueError(f"{where}: the {plan['isa']} kernels do not give the same bits as "
                         f"the {plan['isa_in_use']} ones")
    if not plan["n_threads"] <= _kernels.MAX_THREADS or not plan["team"] <= plan["n_threads"]:
        raise ValueError(f"{where}: team {plan['team']} of n_threads {plan['n_threads']} "
                         f"(at most {_kernels.MAX_THREADS})")
    if type(plan["beta_zero"]) is not bool:
        raise ValueError(f"{where}: beta_zero must be true or false")
    layout = _kernels.PLAN_LAYOUT_BITS
    if (not isinstance(plan["unit_stride"], list)
            or not all(isinstance(s, str) and s in layout for s in plan["unit_stride"])
            or len(set(plan["unit_stride"])) != len(plan["unit_stride"])):
        raise ValueError(f"{where}: unit_stride must be a list of distinct names of {layout}")
    return plan


def _check_conv(plan: Any, where: str) -> Dict[str, Any]:
    """One convolution plan of a wisdom file, checked to be one this process could
    make."""
    if not isinstance(plan, dict):
        raise ValueError(f"{where}: expected an object, got {type(plan).__name__}")
    if plan.get("product") not in _kernels.CONV_PRODUCTS:
        raise ValueError(f"{where}: product must be one of {_kernels.CONV_PRODUCTS}, "
                         f"got {plan.get('product')!r}")
    _check_choice(plan, where, _CONV_CHOICE_KEYS, _kernels.CONV_PATHS[plan["product"]],
                  ("isa_in_use",), _kernels.CONV_SHAPE_KEYS + ("n_threads",))
    if plan["kh"] > plan["h"] or plan["kw"] > plan["w"]:
        raise ValueError(f"{where}: a {plan['kh']} x {plan['kw']} filter is larger than the "
                         f"{plan['h']} x {plan['w']} image")
    if plan["n_threads"] > _kernels.MAX_THREADS:
        raise ValueError(f"{where}: n_threads {plan['n_threads']} (at most "
                         f"{_kernels.MAX_THREADS})")
    return plan


def _finite(number: Any) -> bool:
    """Whether number is a float's worth: an int past any float (10**400) is not."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _check_parallel(plan: Any, where: str) -> Dict[str, Any]:
    kinds = set(_kernels.PLAN_WORK_KINDS)
    if (not isinstance(plan, dict) or not isinstance(plan.get("threshold"), dict)
            or not isinstance(plan.get("element_seconds"), dict)
            or set(plan["threshold"]) != kinds or set(plan["element_seconds"]) != kinds):
        raise ValueError(f"{where}: expected threshold and element_seconds for {sorted(kinds)}")
    if not all(type(t) is int and 0 <= t <= _LARGEST_INT for t in plan["threshold"].values()):
        raise ValueError(f"{where}: thresholds must be non-negative ints of at most 2**63 - 1")
    seconds = [plan.get("fork_join_seconds"), *plan["element_seconds"].values()]
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) and _finite(s) and s >= 0
               for s in seconds):
        raise ValueError(f"{where}: seconds must be finite non-negative numbers")
    return plan


def import_wisdom(path: PathLike) -> int:
    """Cache the plans of a wisdom file written by export_wisdom on this machine;
    returns how many GEMM plans it held. A file from another machine (ISA, CPU model
    or CPU count differ) or a malformed one is refused with a ValueError, before any
    plan changes; plans of this process with the same signatures are replaced."""
    name = checked_path(path, "path")
    try:
        with open(name) as f:
            wisdom = json.load(f)
    except (ValueError, RecursionError) as e:  # JSON's, the text's or int()'s digit limit
        raise ValueError(f"import_wisdom: {name} is not a wisdom file: {e}") from None
    if not isinstance(wisdom, dict) or wisdom.get("format") != WISDOM_FORMAT:
        raise ValueError(f"import_wisdom: {name} is not a wisdom file (format {WISDOM_FORMAT})")
    theirs, ours = wisdom.get("fingerprint"), fingerprint()
    if theirs != ours:
        differ = ([f"{key} {theirs.get(key)!r} there, {ours[key]!r} here" for key in ours
                   if theirs.get(key) != ours[key]] if isinstance(theirs, dict)
                  else ["no fingerprint"])
        raise ValueError(f"import_wisdom: {name} was planned on another machine "
                         f"({'; '.join(differ)}): plan here instead")
    if not isinstance(wisdom.get("gemm"), list):
        raise ValueError(f"import_wisdom: {name}: gemm must be a list of plans")
    gemm = [_check_plan(p, f"import_wisdom: {name}: gemm[{i}]")
            for i, p in enumerate(wisdom["gemm"])]
    if not isinstance(wisdom.get("conv"), list):
        raise ValueError(f"import_wisdom: {name}: conv must be a list of plans")
    conv = [_check_conv(p, f"import_wisdom: {name}: conv[{i}]")
            for i, p in enumerate(wisdom["conv"])]
    threads = _check_parallel(wisdom.get("parallel"), f"import_wisdom: {name}: parallel")
    for p in gemm:
        _kernels.put_gemm_plan(p)
    for p in conv:
        _kernels.put_conv_plan(p)
    _kernels.put_parallel_plan(threads)
    return len(gemm)


def plan_network(net: Any, mini_batch_size: int = 10, n_threads: Optional[int] = None) -> \
        List[Dict[str, Any]]:
    """Plan every product and kernel a network runs to train with mini_batch_size on
    n_threads (and to evaluate): one epoch of two mini-batches of zeros on a copy of
    the network, every layer on all the threads, then a forward pass. Returns the
    plans this made (signatures already planned are not planned again). The run's
    thread count per layer (TeamTrial) is left to the network's own chunks."""
    from nnfast.checks import check_int

    mini_batch_size = check_int(mini_batch_size, "mini_batch_size", minimum=1)
    threads = _kernels.check_threads(n_threads)
    before = {_signature(p) for p in plans()}
    scratch = copy.deepcopy(net)
    X = np.zeros((2 * mini_batch_size, scratch.sizes[0]), dtype=scratch.dtype)
    labels = np.zeros(len(X), dtype=np.int64)
    _planning.network = True
    try:
        scratch.SGD((X, labels), 1, mini_batch_size, 0.1, n_threads=threads, progress=False)
    finally:
        _planning.network = False
    scratch._forward(X, threads)
    return [p for p in plans() if _signature(p) not in before]


def _signature(plan: Dict[str, Any]) -> tuple:
    return tuple(tuple(plan[k]) if k == "unit_stride" else plan[k] for k in _SIGNATURE_KEYS)


def _mode_from_environment() -> None:
    """NNFAST_PLAN as set_mode, or an ImportError naming the variable."""
    value = os.environ.get("NNFAST_PLAN")
    if value is None or not value.strip():
        return
    if value.strip().lower() not in MODES:
        raise ImportError(f"NNFAST_PLAN={value!r}: must be one of {MODES}")
    set_mode(value.strip().lower())


__all__ = ["MODES", "TeamTrial", "export_wisdom", "fingerprint", "forget", "import_wisdom",
           "mode", "parallel", "plan_network", "plan_recheck_seconds", "planning_seconds", "plans",
           "run_until_chosen", "set_mode", "teams", "timed_runs"]
