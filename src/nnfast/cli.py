"""The ``nnfast`` command: train the book's networks, compare speeds, describe the build,
redraw chapter 3's, 4's and 5's figures.

    nnfast train                       # chapter 1: [784, 30, 10], 30 epochs, η = 3.0
    nnfast train --net conv --epochs 3 # chapter 6's convolutional net
    nnfast bench                       # nnfast against NumPy (PyTorch, JAX), as ratios
    nnfast info                        # version, ISA, OpenMP, threads, data found
    nnfast info --plan                 # the planner's choices for chapter 1's network
    nnfast figures --out figures/      # chapter 3's overfitting and η figures, chapter 4's
                                       # universality, chapter 5's speed of learning

Bad options give one line on stderr and exit status 2, before any data is loaded (but
a network that does not fit the data's inputs or classes, found once it is loaded);
missing data or a failed run, one line and status 1.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, List, NamedTuple, Optional, Sequence

import numpy as np

import nnfast
from nnfast import _kernels, datasets
from nnfast.costs import COSTS
from nnfast.maths import LogLikelihoodCost
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from nnfast.activations import ReLU, linear

PROG = "nnfast"
_TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# With only a test file to hand, the book's 10,000 test images are split like this.
_TEST_ONLY_TRAIN = 8000


class UsageError(Exception):
    """A bad option or option value: exit status 2."""


class Data(NamedTuple):
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _count(n: int, noun: str) -> str:
    """"1 epoch", "2 epochs", "1,000 images"."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


# ------------------------------------------------------------------------------ data

def _has(directory: Path, names: Sequence[str]) -> bool:
    return all((directory / n).is_file() or (directory / n.removesuffix(".gz")).is_file()
               for n in names)


def _test_split(name, X, y, where):
    _note(f"{name}: only the 10,000 test images {where}; training on the first "
          f"{_TEST_ONLY_TRAIN:,} and evaluating on the last {len(X) - _TEST_ONLY_TRAIN:,}")
    n = _TEST_ONLY_TRAIN
    return Data(name, X[:n], y[:n], X[n:], y[n:])


def _from_dir(directory: Path, dtype) -> Data:
    name = str(directory)
    if not directory.is_dir():
        raise UsageError(f"--dataset: {directory} is not mnist, fashion-mnist or a directory")
    if _has(directory, _TRAIN_FILES + _TEST_FILES):
        d = datasets.load_mnist(directory, download=False, split="standard", dtype=dtype)
        if len(d.X_train) == 60_000:  # the book's 50,000 of them
            return Data(name, d.X_train[:50_000], d.y_train[:50_000], d.X_test, d.y_test)
        return Data(name, d.X_train, d.y_train, d.X_test, d.y_test)
    if _has(directory, _TEST_FILES):
        X, y = datasets.load_mnist_test(directory, download=False, dtype=dtype)
        if len(X) <= _TEST_ONLY_TRAIN:
            raise datasets.DataNotFoundError(
                f"{directory}: only {len(X)} test images and no training files")
        return _test_split(name, X, y, f"are in {directory}")
    raise datasets.DataNotFoundError(
        f"{directory} holds neither {', '.join(_TRAIN_FILES + _TEST_FILES)} nor the t10k pair")


def _named(name: str, dtype, download: bool) -> Data:
    full = {"mnist": datasets.load_mnist, "fashion-mnist": datasets.load_fashion_mnist}[name]
    test = {"mnist": datasets.load_mnist_test,
            "fashion-mnist": datasets.load_fashion_mnist_test}[name]
    try:
        d = full(download=download, dtype=dtype)
        return Data(name, d.X_train, d.y_train, d.X_test, d.y_test)
    except datasets.DataNotFoundError as e:
        tried = _what_was_tried(name, e, download)
    try:
        X, y = test(download=False, dtype=dtype)
    except datasets.DataNotFoundError:
        raise datasets.DataNotFoundError(
            f"{name} is in none of the data directories (`nnfast info` lists them) and "
            f"{tried}; put the IDX files in a directory and pass --dataset DIR, or set "
            "NNFAST_DATA") from None
    return _test_split(name, X, y, "are here (the training files are neither here "
                       "nor downloadable)")


def _what_was_tried(name: str, error: Exception, download: bool) -> str:
    """The download a DataNotFoundError reports, in one clause: the URLs tried and
    why each failed, and the cache the files would have gone to."""
    if not download:
        return "was not downloaded (offline)"
    cache = datasets._cache_dir(name)  # where datasets puts downloads
    reason = next((line.removeprefix("They were not downloaded: ").rstrip(".")
                   for line in str(error).splitlines()
                   if line.startswith("They were not downloaded: ")), "the download failed")
    return f"could not be downloaded into {cache} ({reason})"


def load_data(dataset: Optional[str], dtype=np.float32, download: bool = True) -> Data:
    """The data for `dataset`: "mnist", "fashion-mnist" or a directory of IDX files.

    None is the default: MNIST (downloaded when needed), else Fashion-MNIST from a local
    copy, saying so on stderr. Training data is the book's first 50,000 images (all of a
    training file of another size); evaluation data the test set. With only the t10k
    files, its first 8,000 images train and its last 2,000 evaluate."""
    if dataset in ("mnist", "fashion-mnist"):
        return _named(dataset, dtype, download)
    if dataset is not None:
        return _from_dir(Path(dataset).expanduser(), dtype)
    try:
        return _named("mnist", dtype, download)
    except datasets.DataNotFoundError as e:
        mnist_error = e
    try:
        data = _named("fashion-mnist", dtype, download=False)
    except datasets.DataNotFoundError:
        raise datasets.DataNotFoundError(
            f"{mnist_error}, and there is no local copy of fashion-mnist either") from None
    _note("MNIST could not be found or downloaded: using a local copy of Fashion-MNIST")
    return data


# --------------------------------------------------------------------------- networks

# Chapter 6 (network3.py): the first convolutional net, and the two-conv ReLU net.
NETS = {
    "conv": lambda: [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)),
                     FullyConnectedLayer(20 * 12 * 12, 100), SoftmaxLayer(100, 10)],
    "conv2": lambda: [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
                      ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU),
                      FullyConnectedLayer(40 * 4 * 4, 100, ReLU), SoftmaxLayer(100, 10)],
}
# The book's settings for each: chapter 1's network.py run, chapter 6's two conv runs.
DEFAULTS = {
    "mlp": dict(epochs=30, mini_batch=10, eta=3.0, lmbda=0.0, cost="quadratic"),
    "conv": dict(epochs=60, mini_batch=10, eta=0.1, lmbda=0.0, cost="log-likelihood"),
    "conv2": dict(epochs=60, mini_batch=10, eta=0.03, lmbda=0.1, cost="log-likelihood"),
}


def _sizes(text: str) -> List[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 784,30,10, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected at least two positive sizes, got {text!r}")
    return sizes


def _number(kind: Callable, low: float, high: float = float("inf"), low_open: bool = False):
    """An argparse type: a `kind` in [low, high) ((low, high) when low_open)."""
    def check(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not (low < value if low_open else low <= value) or not value < high:
            bounds = f"{'(' if low_open else '['}{low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got {text}")
        return value
    return check


def _positive(kind: Callable):
    return _number(kind, 0, low_open=True)


def _floats(low_open: bool):
    """An argparse type: comma-separated floats, each in [0, inf) ((0, inf) when
    low_open), checked with the option, before any data is read."""
    one = _number(float, 0, low_open=low_open)

    def check(text):
        try:
            return [one(s) for s in text.split(",")]
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"{e} (in {text!r}: numbers like 0.1,1.0)") from None
    return check


def _threads(text: str) -> int:
    try:
        return _kernels.check_threads(int(text), "the thread count")
    except (TypeError, ValueError) as e:
        message = str(e) if "thread count" in str(e) else f"invalid int value: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _physical_memory() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # not POSIX: no check
        return None


def _check_fits_in_memory(sizes: Sequence[int], dtype) -> None:
    """Refuse layer sizes whose weights alone are more than the machine's memory (SGD
    keeps velocities and gradients too): 784,2000000000,10 would need 6 TB."""
    parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    need, have = parameters * np.dtype(dtype).itemsize, _physical_memory()
    if have and need > have:
        raise UsageError(f"--layers {','.join(map(str, sizes))}: {parameters:,} weights and "
                         f"biases need {need / 2**30:,.1f} GiB, more than this machine's "
                         f"{have / 2**30:,.1f} GiB of memory")


def _check_writable(path: str, option: str) -> None:
    """That a file can be written at path: its directory exists and is writable."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    directory = target.parent
    if not directory.is_dir():
        raise UsageError(f"{option} {path}: there is no directory {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the directory {directory} is not writable")


def _check_plot(path: str) -> None:
    """That --plot can draw: matplotlib is installed and knows the file's format."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib: pip install \"nnfast[plot]\" "
                         "(or pip install matplotlib)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = FigureCanvasAgg.get_supported_filetypes()
    if Path(path).suffix.lstrip(".").lower() not in formats:
        raise UsageError(f"--plot {path}: the file name must end in one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    _check_writable(path, "--plot")


# Weight starts of the fully connected nets: chapter 1's network.py draws N(0, 1);
# chapter 3's network2.py N(0, 1/n_in), its default_weight_initializer.
INITS = {"large": "N(0, 1) weights, chapter 1's start",
         "default": "N(0, 1/n_in) weights, chapter 3's start"}


def build_network(args) -> nnfast.Network:
    kind = args.net or "mlp"
    cost = args.cost or DEFAULTS[kind]["cost"]
    if kind != "mlp":
        return nnfast.Network(NETS[kind](), cost=cost, dtype=args.dtype, seed=args.seed)
    net = nnfast.Network(args.layers or [784, 30, 10], cost=cost, dtype=args.dtype,
                         seed=args.seed)
    if args.init == "large":
        net.large_weight_initializer()
    return net


# ------------------------------------------------------------------------------ train

def cmd_train(args) -> int:
    if args.net and args.layers:
        raise UsageError("give --layers or --net, not both")
    if args.net and args.init:
        raise UsageError("--init is for --layers nets: chapter 6's start as network3 does")
    kind = args.net or "mlp"
    for key, value in dict(DEFAULTS[kind], init="large" if kind == "mlp" else None).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    # Every option is checked before the data is loaded and the network built.
    if args.layers:
        _check_fits_in_memory(args.layers, args.dtype)
    if args.save:
        _check_writable(args.save, "--save")
    if args.plot:
        _check_plot(args.plot)
    try:
        net = build_network(args)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    data = load_data(args.dataset, args.dtype)
    X, y = data.X_train, data.y_train
    if args.train_size:
        X, y = X[:args.train_size], y[:args.train_size]
    # (the one check that needs the data: a directory's images may have any size)
    classes = int(max(y.max(), data.y_test.max())) + 1
    if net.sizes[0] != X.shape[1] or net.sizes[-1] < classes:
        raise UsageError(f"the network {list(net.sizes)} does not fit {data.name}'s "
                         f"{X.shape[1]} inputs and {classes} classes")
    weight_start = INITS[args.init] if args.init else "network3's start"
    print(f"training {_describe(net)} ({weight_start}) on {data.name}: {len(X):,} training, "
          f"{_count(len(data.X_test), 'evaluation image')}; {_count(args.epochs, 'epoch')}, "
          f"mini-batch {args.mini_batch}, eta {args.eta}, lmbda {args.lmbda}, momentum "
          f"{args.momentum}, {net.cost.name} cost, {np.dtype(args.dtype).name}, "
          f"{_count(args.threads or nnfast.get_num_threads(), 'thread')}", flush=True)
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from nnfast._progress import EpochBar
        bar = EpochBar(args.epochs)
    history = nnfast.History([], [], [], [])
    try:
        for epoch in range(args.epochs):
            start = time.perf_counter()
            progress: Any = False
            if bar:
                progress = lambda _, done, n, e=epoch: bar(e, done, n)  # noqa: E731
            net.SGD((X, y), 1, args.mini_batch, args.eta, lmbda=args.lmbda,
                    momentum=args.momentum, n_threads=args.threads, progress=progress)
            seconds = time.perf_counter() - start
            cost = net.total_cost((X, y), args.lmbda, n_threads=args.threads)
            correct = net.accuracy((data.X_test, data.y_test), n_threads=args.threads)
            history.training_cost.append(cost)
            history.evaluation_accuracy.append(correct)
            print(f"epoch {epoch + 1:>3}/{args.epochs}  training cost {cost:.4f}  "
                  f"evaluation accuracy {correct} / {len(data.X_test)} "
                  f"({100 * correct / len(data.X_test):.2f}%)  "
                  f"{len(X) / seconds:,.0f} samples/s", flush=True)
    except KeyboardInterrupt:
        _note(f"interrupted after {_count(len(history.training_cost), 'epoch')}")
        if not history.training_cost:
            return 130
    except FloatingPointError as e:
        # SGD trains one epoch a call here: the epoch it names, its 0, is this run's
        # epoch + 1 as the lines above count them.
        raise FloatingPointError(str(e).replace("in epoch 0:", f"in epoch {epoch + 1}:", 1)
                                 ) from None
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    if args.save:
        net.save(args.save)
        print(f"saved the network to {args.save}")
    if args.plot:
        from nnfast.plot import plot_history
        plot_history(history, args.plot, title=f"{_describe(net)} on {data.name}",
                     n_evaluation=len(data.X_test))
        print(f"plotted the curves to {args.plot}")
    return 0


def _describe(net) -> str:
    if net.activation is not None:
        return str(list(net.sizes))
    return "conv net " + " -> ".join(str(s) for s in net.sizes)


# ------------------------------------------------------------------------------ bench

def _best(fn, repeat):
    fn()  # warm up: first-touch pages, thread pool
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# Other libraries' threads spin on after their calls (NumPy's OpenBLAS until its thread
# timeout) and take the cores from whatever runs next: on two cores a [784, 30, 10]
# epoch on two threads took 0.11-0.13 s right after a NumPy matmul against 0.05. So
# each library is timed in a block of its own, after a pause in which the threads of
# the one before go to sleep.
QUIET_SECONDS = 0.5


class _Case(NamedTuple):
    """A row of the bench: a call to time for each library (a peer's None where it has
    none), the repeats of the best-of, and how many of the case one call makes."""
    name: str
    nnfast: Callable[[], Any]
    numpy: Optional[Callable[[], Any]]
    torch: Optional[Callable[[], Any]]
    jax: Optional[Callable[[], Any]]
    repeat: int
    calls: int
    flops: Optional[int]


# The peers' columns: the library, its heading.
PEERS = (("numpy", "NumPy"), ("torch", "PyTorch"), ("jax", "JAX"))


def _jax_for(threads: int) -> bool:
    """Whether JAX joins the bench: importable, and computing on the threads asked for
    (XLA sizes its CPU pool once per process: peers.jax_threads), else a note why not."""
    if importlib.util.find_spec("jax") is None:
        return False
    from nnfast import peers

    if peers.jax_threads() != threads:
        _note(f"JAX left out: XLA computes on {_count(peers.jax_threads(), 'thread')} in this "
              f"process, not {threads} (for one: XLA_FLAGS=\"--xla_cpu_multi_thread_eigen=false "
              "intra_op_parallelism_threads=1\")")
        return False
    return True


def _numpy_threads(threads: int) -> ContextManager[Any]:
    """A block in which NumPy's BLAS computes on `threads` threads, as nnfast and
    PyTorch do in the bench: OpenBLAS takes every core of its own accord, so one-thread
    rows compared nnfast on one core with NumPy on all (a 1024^3 product at 0.50x on a
    2-core AVX-512 AMD EPYC, 1.00x with NumPy held to one). threadpoolctl sets it; where
    that is not installed, the bench says NumPy's column runs on its own count."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _note(f"NumPy's BLAS computes on its own thread count, not {_count(threads, 'thread')} "
              "(pip install threadpoolctl to hold it there)")
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _repeated(fn, calls):
    return lambda: [fn() for _ in range(calls)]


def _planned(epoch: Callable[[], Any], rounds: int = 40) -> Callable[[], Any]:
    """epoch, whose first call (the bench's warm-up) runs it until nnfast's planner has
    chosen for it (each product's kernels, then the run's threads per layer:
    plan.teams()), as FFTW leaves planning out of its timings."""
    planned = False

    def run():
        nonlocal planned
        nnfast.plan.run_until_chosen(epoch, 1 if planned else rounds)
        planned = True
    return run


def cmd_bench(args) -> int:
    from nnfast import flops, kernels, oracle, peers

    threads = args.threads or nnfast.get_num_threads()
    torch = importlib.util.find_spec("torch") is not None
    jax = _jax_for(threads)
    nnfast.set_num_threads(threads)
    rng = np.random.default_rng(0)
    repeat = 3 if args.quick else 10
    cases: List[_Case] = []

    gemm_sizes = [(10, 784, 30), (10, 30, 10), (256, 784, 100)]
    gemm_sizes.append((256, 256, 256) if args.quick else (1024, 1024, 1024))
    for m, k, n in gemm_sizes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        calls = max(1, int(2e7 / (m * k * n)))  # time calls long enough to measure
        cases.append(_Case(
            f"matmul {m}x{k} @ {k}x{n} float32",
            _repeated(functools.partial(kernels.matmul, a, b, out), calls),
            _repeated(functools.partial(np.matmul, a, b, out=out), calls), None, None,
            repeat, calls, 2 * m * k * n))
    z = rng.standard_normal((10_000, 100)).astype(np.float32)
    sigmoid_out = np.empty_like(z)
    cases.append(_Case(
        "sigmoid 10000x100 float32", functools.partial(kernels.sigmoid, z, out=sigmoid_out),
        functools.partial(oracle.sigmoid, z), None, None, repeat, 1, None))

    n = 2_000 if args.quick else 10_000
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    Y = oracle.vectorized_result(y, 10, np.float32)
    for sizes, mini_batch, eta in (([784, 30, 10], 10, 3.0), ([784, 100, 10], 10, 0.5)):
        net = nnfast.Network(sizes, cost="quadratic", seed=0)
        weights, biases = oracle.default_weight_initializer(sizes, np.random.default_rng(0),
                                                            np.float32)
        perm = np.random.default_rng(1).permutation(n)
        acts = ["sigmoid"] * (len(sizes) - 1)
        cases.append(_Case(
            f"epoch {sizes} mb {mini_batch}, {n:,} samples",
            _planned(functools.partial(net.SGD, (X, y), 1, mini_batch, eta,
                                       n_threads=threads, progress=False)),
            functools.partial(oracle.sgd_epoch, weights, biases, X, Y, mini_batch, eta, 0.0,
                              oracle.QuadraticCost, acts, perm),
            peers.torch_epoch(sizes, "quadratic", X, y, mini_batch, eta, threads=threads)
            if torch else None,
            peers.jax_epoch(sizes, "quadratic", X, y, mini_batch, eta) if jax else None,
            1, 1, flops.epoch_flops(net, n)))

    # Chapter 6's conv net (W4 in benches/), on fewer samples: its epochs are longer.
    def conv_layers():
        return [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)), FullyConnectedLayer(2880, 100),
                SoftmaxLayer(100, 10)]
    n_conv = n // 4
    Xc, yc = X[:n_conv], y[:n_conv]
    net = nnfast.Network(conv_layers(), seed=0)
    # The oracle starts where the network does (copies: the network trains first).
    weights, biases = [w.copy() for w in net.weights], [b.ravel().copy() for b in net.biases]
    cases.append(_Case(
        f"epoch conv net mb 10, {n_conv:,} samples",
        _planned(functools.partial(net.SGD, (Xc, yc), 1, 10, 0.1, n_threads=threads,
                                   progress=False)),
        functools.partial(oracle.sgd_epoch, weights, biases, Xc,
                          oracle.vectorized_result(yc, 10, np.float32), 10, 0.1, 0.0,
                          LogLikelihoodCost, [layer.spec() for layer in conv_layers()],
                          np.random.default_rng(1).permutation(n_conv)),
        peers.torch_conv_epoch(conv_layers(), Xc, yc, 10, 0.1, threads=threads)
        if torch else None,
        peers.jax_conv_epoch(conv_layers(), Xc, yc, 10, 0.1) if jax else None,
        1, 1, flops.epoch_flops(net, n_conv)))

    time.sleep(QUIET_SECONDS)
    before = nnfast.peak_gflops("float32", fresh=True)  # the peak of nnfast's minutes
    mine = [_best(case.nnfast, case.repeat) / case.calls for case in cases]
    peak = (before + nnfast.peak_gflops("float32", fresh=True)) / 2
    theirs: List[List[Optional[float]]] = []  # a column for each of PEERS
    for library, _ in PEERS:
        time.sleep(QUIET_SECONDS)
        with _numpy_threads(threads) if library == "numpy" else contextlib.nullcontext():
            theirs.append([_best(getattr(case, library), case.repeat) / case.calls
                           if getattr(case, library) else None for case in cases])

    info = nnfast.info()
    print(f"nnfast {nnfast.__version__}, {info['isa']}, {_count(threads, 'thread')}; "
          f"peak {peak:.1f} "
          f"GFLOP/s a core (float32, measured on {info['peak_isa']} around nnfast's "
          "timings)\n"
          "ratio = baseline time / nnfast time (> 1: nnfast is faster); GFLOP/s = nnfast's "
          "dense flops a second; of peak = GFLOP/s / (peak x threads)")
    shown = [column for column, times in enumerate(theirs) if any(times)]
    print(f"{'case':<44}{'nnfast':>11}{'GFLOP/s':>9}{'of peak':>9}" +
          "".join(f"{PEERS[column][1]:>11}{'ratio':>8}" for column in shown))
    for row, (case, seconds) in enumerate(zip(cases, mine)):
        work = case.flops
        rate = (f"{work / seconds / 1e9:9.2f}"
                f"{flops.efficiency(work, seconds, threads, peak=peak):9.3f}" if work
                else f"{'-':>9}{'-':>9}")
        row_theirs = [theirs[column][row] for column in shown]
        print(f"{case.name:<44}{_ms(seconds)}{rate}" +
              "".join(f"{_ms(t)}{t / seconds:7.2f}x" if t else f"{'-':>11}{'':8}"
                      for t in row_theirs))
    return 0


def _ms(seconds):
    return f"{seconds * 1e3:9.3f}ms"


# ------------------------------------------------------------------------------- info

def cmd_info(args) -> int:
    if args.net and args.layers:
        raise UsageError("give --layers or --net, not both")
    if not args.plan and (args.net or args.layers or args.threads or args.mini_batch != 10
                          or args.dtype != "float32"):
        raise UsageError("--layers, --net, --mini-batch, --dtype and --threads describe "
                         "the network --plan plans: give --plan")
    if args.layers:
        _check_fits_in_memory(args.layers, args.dtype)
    info = nnfast.info()
    print(f"nnfast {info['version']}")
    print(f"ISA: {info['isa']} (supported here: {', '.join(info['supported_isas'])})")
    peak = info["peak_gflops"]
    print(f"peak per core: {peak['float32']:.1f} GFLOP/s float32, {peak['float64']:.1f} float64 "
          f"(measured: an FMA loop on {info['peak_isa']}; efficiency = GFLOP/s / (peak x threads))")
    if info["isa"] != info["peak_isa"]:
        print(f"peak per core of the {info['isa']} kernels in use: "
              f"{nnfast.peak_gflops('float32', info['isa']):.1f} GFLOP/s float32")
    print(f"OpenMP: {'yes' if info['openmp'] else 'no (one thread)'}")
    print(f"threads: {info['threads']}")
    for dtype, blocking in info["blocking"].items():
        print(f"blocking {dtype}: " + " ".join(f"{k}={v}" for k, v in blocking.items()))
    print(f"planner: {info['plan']} (NNFAST_PLAN; `nnfast info --plan` shows a network's plan)")
    print("data directories searched (first complete one wins):")
    for name in ("mnist", "fashion-mnist"):
        for directory in datasets.search_dirs(name):
            if _has(directory, _TRAIN_FILES + _TEST_FILES):
                found = "training and test files"
            elif _has(directory, _TEST_FILES):
                found = "test files only"
            else:
                found = "not found" if not directory.is_dir() else "no data files"
            print(f"  {name:<14}{str(directory):<50}{found}")
    if args.plan:
        print()
        _print_plan(args)
    return 0


def _print_plan(args) -> None:
    """The plan of a network's products and kernels at a mini-batch size and thread
    count: each GEMM's signature, its candidates' best times, the choice."""
    from nnfast import plan

    kind = args.net or "mlp"
    layers = NETS[kind]() if kind != "mlp" else (args.layers or [784, 30, 10])
    net = nnfast.Network(layers, cost=DEFAULTS[kind]["cost"], dtype=args.dtype, seed=0)
    threads = args.threads or nnfast.get_num_threads()
    runs, convs_before = plan.timed_runs(), len(plan.convs())
    made = plan.plan_network(net, args.mini_batch, threads)
    convs = plan.convs()[convs_before:]
    print(f"plan of {kind if args.net else ','.join(map(str, net.sizes))} ({args.dtype}), "
          f"mini-batch {args.mini_batch}, {threads} threads, {plan.mode()}:")
    print(f"  {'m x n x k':<18}{'unit stride':<26}{'C read':<8}{'chosen':<24}candidates")
    for p in made:
        shape = f"{p['m']} x {p['n']} x {p['k']}"
        timed = ", ".join(f"{c['isa']} {c['team']}t {c['path']} {c['seconds'] * 1e6:.1f} us"
                          for c in p["candidates"]) or (
            "the only one" if p["how"] == "measured" else p["how"])
        chosen = f"{p['isa']} {p['team']}t {p['path']}" + " *" * p["recheck"]
        print(f"  {shape:<18}{' '.join(p['unit_stride']):<26}"
              f"{'no' if p['beta_zero'] else 'yes':<8}{chosen:<24}{timed}")
    for p in convs:
        image = f"{p['c']} x {p['h']} x {p['w']}, {p['f']} filters {p['kh']} x {p['kw']}"
        timed = ", ".join(f"{path} {s * 1e6:.1f} us" for path, s in p["seconds"].items()
                          if s > 0) or p["how"]
        product = (f"forward, GEMM on {p['n_threads']}t" if p["product"] == "forward"
                   else "weight gradient")
        print(f"  convolution {image}, {product}: {p['path']}{' *' * p['recheck']} ({timed})")
    seconds = sum(p["planning_seconds"] for p in made + convs)
    also = f" and {len(convs)} convolution{'s' * (len(convs) > 1)}" if convs else ""
    print(f"  {len(made)} products{also} planned in {seconds * 1e3:.2f} ms "
          f"({plan.timed_runs() - runs} timed runs)")
    close = sum(p["recheck"] for p in made + convs)
    if close:
        print(f"  * {close} close call{'s' * (close > 1)}: timed again at first use "
              f"{plan.plan_recheck_seconds():g} s or more later, in a run")
    par = plan.parallel()
    print("  kernels parallel above: " + ", ".join(
        f"{kind} {n:,} elements" for kind, n in par["threshold"].items())
        + (f" (fork/join {par['fork_join_seconds'] * 1e6:.1f} us; {par['how']})"
           if par["how"] != "estimated" else " (estimated)"))


# ---------------------------------------------------------------------------- figures

# The book's overfitting runs (chapter 3): 1,000 images for 400 epochs.
BOOK_EPOCHS = 400


def cmd_figures(args) -> int:
    from nnfast import plot
    from nnfast.ensemble import sweep

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("figures needs matplotlib: pip install \"nnfast[plot]\"")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is not a directory")
    epochs = args.epochs or (BOOK_EPOCHS if args.book else 60)
    data = load_data(args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    X, y = data.X_train[:args.train_size], data.y_train[:args.train_size]
    evaluation = (data.X_test[:args.eval_size], data.y_test[:args.eval_size])
    n_eval = len(evaluation[0])

    def factory(seed):
        return nnfast.Network([784, 30, 10], cost="cross-entropy", seed=seed)

    def large_start(seed):
        # overfitting.py starts its nets with large_weight_initializer: with network2's
        # default start the regularised and unregularised curves come out the same.
        net = factory(seed)
        net.large_weight_initializer()
        return net

    # Chapter 3, "Overfitting and regularization": 1,000 training images, η = 0.5,
    # without and with L2 (λ = 0.1); the book runs 400 epochs.
    print(f"overfitting: {_count(len(X), 'training image')}, {_count(epochs, 'epoch')}, "
          f"with and without L2 ({data.name})", flush=True)
    runs = sweep(large_start, (X, y), {"lmbda": [0.0, args.lmbda]}, epochs, 10, eta=0.5,
                 evaluation_data=evaluation, max_workers=args.workers,
                 monitor_training_cost=True, monitor_evaluation_accuracy=True)
    label = {0.0: "no regularisation"}
    curves_cost = {label.get(r.params["lmbda"], f"L2, λ = {r.params['lmbda']}"):
                   r.history.training_cost for r in runs}
    curves_acc = {label.get(r.params["lmbda"], f"L2, λ = {r.params['lmbda']}"):
                  [100 * a / n_eval for a in r.history.evaluation_accuracy] for r in runs}
    written = [out / "overfitting_training_cost.png", out / "overfitting_evaluation_accuracy.png"]
    plot.plot_curves(curves_cost, "cost on the training data", written[0],
                     f"Training cost ({_count(len(X), 'image')})")
    plot.plot_curves(curves_acc, "accuracy on the evaluation data (%)", written[1],
                     f"Evaluation accuracy ({_count(n_eval, 'image')})")

    # Chapter 3, "How to choose a neural network's hyper-parameters": training cost for
    # η = 0.025, 0.25, 2.5 (the book: 30 epochs, λ = 5.0, all 50,000 images).
    print(f"learning rates: eta {', '.join(map(str, args.etas))}, "
          f"{_count(args.eta_epochs, 'epoch')}", flush=True)
    runs = sweep(factory, (X, y), {"eta": args.etas}, args.eta_epochs, 10,
                 lmbda=args.eta_lmbda * len(X) / 50_000, max_workers=args.workers,
                 monitor_training_cost=True)
    written.append(out / "learning_rates.png")
    plot.plot_curves({f"η = {r.params['eta']}": r.history.training_cost for r in runs},
                     "cost on the training data", written[-1], "Training cost for several η")

    # Chapter 4, "A visual proof that neural nets can compute any function".
    print(f"universality: {', '.join(map(str, UNIVERSALITY_HIDDEN))} hidden neurons", flush=True)
    x = np.linspace(0.0, 1.0, 1001)
    curves = {"f(x)": bumpy(x)}
    for h in UNIVERSALITY_HIDDEN:
        curves[_count(h, "hidden neuron")] = step_network(bumpy, h).feedforward(x.reshape(-1, 1))[:, 0]
    written.append(out / "universality.png")
    plot.plot_functions(x, curves, written[-1], "One hidden layer of sigmoid neurons "
                        "approximating f")

    # Chapter 5, "The vanishing gradient problem": the speed of learning |dC/db| of each
    # hidden layer of [784, 30, 30, 30, 10] (the book: 1,000 images, η = 0.1, 500 epochs).
    print(f"vanishing gradient: [784, 30, 30, 30, 10], {_count(args.eta_epochs, 'epoch')}",
          flush=True)
    deep = nnfast.Network([784, 30, 30, 30, 10], cost="cross-entropy", seed=0)
    norms = deep.SGD((X, y), args.eta_epochs, 10, 0.1, monitor_gradient_norms=True,
                     progress=False).gradient_norms
    written.append(out / "vanishing_gradient.png")
    plot.plot_curves({f"hidden layer {l + 1}": [epoch[l] for epoch in norms] for l in range(3)},
                     "speed of learning |∂C/∂b|", written[-1], "Speed of learning per layer")
    written.append(second_order_figure((X, y), args.eta_epochs, args.lmbda, out))
    for path in written:
        print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------- chapter 4's picture

UNIVERSALITY_HIDDEN = (2, 5, 20)
# How steep each hidden neuron's step is: the book's w = 1000, on x in [0, 1].
STEEPNESS = 1000.0


def bumpy(x: np.ndarray) -> np.ndarray:
    """Chapter 4's example f(x) on [0, 1]."""
    return 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)


def step_network(f: Callable[[np.ndarray], np.ndarray], n_hidden: int) -> nnfast.Network:
    """Chapter 4's construction: a [1, n_hidden, 1] net, sigmoid hidden neurons and a
    linear output, that approximates f on [0, 1] by a staircase. Hidden neuron i is a
    step at s_i = i / (n_hidden + 1) (w = STEEPNESS, b = -w s_i); the output adds to f's
    value at the middle of the first piece, f(m_0), each step's rise f(m_i) - f(m_{i-1}).
    The weights are set, not trained, as the chapter sets them: more neurons, finer
    steps, a closer fit."""
    net = nnfast.Network([FullyConnectedLayer(1, n_hidden),
                          FullyConnectedLayer(n_hidden, 1, activation_fn=linear)],
                         cost=nnfast.QuadraticCost, dtype=np.float64, seed=0)
    steps = np.arange(1, n_hidden + 1) / (n_hidden + 1)
    middles = (np.arange(n_hidden + 1) + 0.5) / (n_hidden + 1)
    heights = f(middles)
    net.weights[0][:, 0] = STEEPNESS
    net.biases[0][:, 0] = -STEEPNESS * steps
    net.weights[1][0, :] = np.diff(heights)
    net.biases[1][0, 0] = heights[0]
    return net

def second_order_figure(training, epochs: int, lmbda: float, out: Path) -> Path:
    """Chapter 3, "Variations on stochastic gradient descent": the training cost of
    [784, 30, 10] (cross-entropy) against training seconds for SGD, momentum and
    Hessian-free, the same epochs each."""
    from nnfast import hessian_free, plot
    from nnfast.training import Monitor, SGDConfig

    class Stopwatch(Monitor):
        """Seconds spent training at the end of each epoch, then the training cost
        (measured off the clock)."""

        def __init__(self):
            self.seconds: List[float] = []
            self.costs: List[float] = []
            self.spent, self.resumed = 0.0, time.perf_counter()

        def after_epoch(self, epoch, network, training, history):
            self.spent += time.perf_counter() - self.resumed
            self.seconds.append(self.spent)
            self.costs.append(network.total_cost(training, lmbda))
            self.resumed = time.perf_counter()
            return False

    print(f"second order: SGD, momentum and Hessian-free, {epochs} epochs", flush=True)
    runs = {
        "SGD (η = 0.5)": lambda net, samples, watch: net.train(
            samples, SGDConfig(epochs, 10, 0.5, lmbda), [watch], progress=False),
        "momentum (η = 0.1, μ = 0.9)": lambda net, samples, watch: net.train(
            samples, SGDConfig(epochs, 10, 0.1, lmbda, momentum=0.9), [watch], progress=False),
        "Hessian-free": lambda net, samples, watch: hessian_free.train(
            net, samples, hessian_free.HessianFreeConfig(epochs, 1000, lmbda, cg_iterations=20),
            [watch], progress=False),
    }
    curves = {}
    for label, run in runs.items():
        net = nnfast.Network([784, 30, 10], cost="cross-entropy", seed=0)
        samples = net.samples(training, "training")
        watch = Stopwatch()
        run(net, samples, watch)
        curves[label] = (watch.seconds, watch.costs)
    path = out / "second_order.png"
    plot.plot_against_seconds(curves, "cost on the training data", path,
                              f"Training cost against time ({len(training[0]):,} images)")
    return path


# ------------------------------------------------------------------------------- main

def cmd_sweep(args) -> int:
    """Chapter 3's hyper-parameter search: one [layers] network per (eta, lmbda) point,
    trained side by side (threads, local worker processes or a Dask cluster), then a
    table of the points by evaluation accuracy, the best marked."""
    if args.scheduler and args.local_workers:
        raise UsageError("give --scheduler or --local-workers, not both")
    _check_fits_in_memory(args.layers, np.float32)
    if args.save:
        _check_writable(args.save, "--save")
    if args.plot:
        _check_plot(args.plot)
    cost = {"quadratic": nnfast.QuadraticCost, "cross-entropy": nnfast.CrossEntropyCost}[args.cost]
    layers = args.layers

    def factory(seed):
        return nnfast.Network(layers, cost=cost, seed=seed)
    try:
        factory(0)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    data = load_data(args.dataset)
    client = None
    if args.scheduler or args.local_workers:
        from nnfast import cluster
        client = cluster.connect(args.scheduler, args.local_workers)
    grid = {"eta": args.eta, "lmbda": args.lmbda}
    points = len(args.eta) * len(args.lmbda)
    where = ("threads" if client is None else
             f"{_count(args.local_workers, 'local worker')}" if args.local_workers else
             f"the cluster at {args.scheduler}")
    print(f"sweep: {_count(points, 'point')} of {layers}, {_count(args.epochs, 'epoch')} each, "
          f"on {where}", flush=True)
    try:
        results = nnfast.sweep(factory, (data.X_train, data.y_train), grid, args.epochs,
                               args.mini_batch, evaluation_data=(data.X_test, data.y_test),
                               monitor_evaluation_accuracy=True, executor=client)
    finally:
        if client is not None:
            client.close()
    ranked = sorted(results, key=lambda r: -(r.accuracy or 0))
    n = len(data.X_test)
    print(f"{'eta':>8} {'lmbda':>8} {'accuracy':>10}")
    for i, result in enumerate(ranked):
        mark = "  <- best" if i == 0 else ""
        print(f"{result.params['eta']:>8g} {result.params['lmbda']:>8g} "
              f"{(result.accuracy or 0) / n:>10.2%}{mark}")
    if args.save:
        ranked[0].network.save(args.save)
        print(f"saved the best network to {args.save}")
    if args.plot:
        from nnfast import plot
        curves = {f"eta={r.params['eta']:g}, lmbda={r.params['lmbda']:g}":
                  [a / n for a in r.history.evaluation_accuracy] for r in results}
        plot.plot_curves(curves, "evaluation accuracy", args.plot)
        print(f"wrote {args.plot}")
    return 0


class _Help(argparse.HelpFormatter):
    """Help that shows each option's default, when it has one that is not in its text."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = not any(action.default is v for v in (None, False, argparse.SUPPRESS))
        if shown and "default" not in text and action.option_strings:
            default = action.default
            if isinstance(default, list):
                default = ",".join(map(str, default))
            text += f" (default: {default})"
        return text.replace("%", "%%")


def _per_net(key: str) -> str:
    """The train defaults of one setting for each net, as help text."""
    values = {kind: DEFAULTS[kind][key] for kind in DEFAULTS}
    if len(set(values.values())) == 1:
        return f"default: {values['mlp']}"
    return ("default: " + f"{values['mlp']} for --layers, "
            + ", ".join(f"{v} for --net {kind}" for kind, v in values.items() if kind != "mlp"))


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train the networks of Nielsen's Neural "
                     "Networks and Deep Learning on a CPU, fast.", formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"nnfast {nnfast.__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    threads_help = ("default: nnfast.get_num_threads(), from OMP_NUM_THREADS or the cores "
                    f"(at most {_kernels.MAX_THREADS:,})")

    train = sub.add_parser("train", help="train a network (default: chapter 1's)",
                           formatter_class=_Help)
    shape = train.add_argument_group("network")
    shape.add_argument("--layers", type=_sizes,
                       help="layer sizes of a fully connected net (default: 784,30,10)")
    shape.add_argument("--net", choices=sorted(NETS),
                       help="chapter 6's conv net (conv) or two-conv ReLU net (conv2)")
    shape.add_argument("--init", choices=sorted(INITS), help="the weight start of a --layers "
                       "net: large, " + INITS["large"] + " (default); default, "
                       + INITS["default"])
    shape.add_argument("--cost", choices=sorted(COSTS), help=_per_net("cost"))
    shape.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                       help="the floating-point type of weights and data")
    shape.add_argument("--seed", type=int, default=None, help="default: a fresh random seed")
    run = train.add_argument_group("training")
    run.add_argument("--dataset", help="mnist, fashion-mnist or a directory of IDX files "
                     "(default: MNIST, else a local Fashion-MNIST)")
    run.add_argument("--train-size", type=_positive(int),
                     help="use the first N images only (default: all)")
    run.add_argument("--epochs", type=_positive(int), help=_per_net("epochs"))
    run.add_argument("--mini-batch", type=_positive(int), help=_per_net("mini_batch"))
    run.add_argument("--eta", type=_positive(float), help="learning rate η; " + _per_net("eta"))
    run.add_argument("--lmbda", type=_number(float, 0),
                     help="L2 regularisation λ; " + _per_net("lmbda"))
    run.add_argument("--momentum", type=_number(float, 0, 1), default=0.0,
                     help="momentum coefficient μ, in [0, 1)")
    run.add_argument("--threads", type=_threads, help=threads_help)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--save", metavar="MODEL.json", help="save the trained network")
    run.add_argument("--plot", metavar="CURVES.png",
                     help="plot cost and accuracy per epoch (needs matplotlib)")
    train.set_defaults(run=cmd_train)

    bench = sub.add_parser("bench", help="nnfast against NumPy, PyTorch and JAX, as ratios",
                           formatter_class=_Help)
    bench.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    bench.add_argument("--threads", type=_threads, help=threads_help)
    bench.set_defaults(run=cmd_bench)

    info = sub.add_parser("info", help="version, ISA, OpenMP, threads, data found",
                          formatter_class=_Help)
    info.add_argument("--plan", action="store_true",
                      help="plan a network and show each product's choice and timings")
    planned = info.add_argument_group("the network --plan plans")
    planned.add_argument("--layers", type=_sizes,
                         help="layer sizes of a fully connected net (default: 784,30,10)")
    planned.add_argument("--net", choices=sorted(NETS), help="chapter 6's conv nets")
    planned.add_argument("--mini-batch", type=_positive(int), default=10,
                         help="mini-batch size")
    planned.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                         help="the floating-point type of weights and data")
    planned.add_argument("--threads", type=_threads, help=threads_help)
    info.set_defaults(run=cmd_info)

    sweep = sub.add_parser("sweep", help="chapter 3's hyper-parameter search over eta and lmbda",
                           formatter_class=_Help)
    sweep.add_argument("--layers", type=_sizes, default=[784, 30, 10],
                       help="layer sizes, comma-separated")
    sweep.add_argument("--eta", type=_floats(low_open=True), default=[0.1, 0.5, 2.5],
                       help="learning rates, comma-separated")
    sweep.add_argument("--lmbda", type=_floats(low_open=False), default=[0.0, 1.0, 5.0],
                       help="L2 regularisation strengths, comma-separated")
    sweep.add_argument("--epochs", type=_positive(int), default=30, help="epochs per point")
    sweep.add_argument("--mini-batch", type=_positive(int), default=10, help="mini-batch size")
    sweep.add_argument("--cost", choices=("cross-entropy", "quadratic"), default="cross-entropy",
                       help="the cost")
    sweep.add_argument("--dataset", help="as for train")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:8786",
                       help="run on the Dask cluster of this scheduler (nnfast[dask])")
    sweep.add_argument("--local-workers", type=_positive(int), metavar="N",
                       help="run on N worker processes of this machine (nnfast[dask])")
    sweep.add_argument("--save", metavar="BEST.json", help="save the best network")
    sweep.add_argument("--plot", metavar="CURVES.png",
                       help="plot every point's evaluation accuracy per epoch")
    sweep.set_defaults(run=cmd_sweep)

    figures = sub.add_parser("figures", help="chapter 3's, 4's and 5's figures as PNG files",
                             formatter_class=_Help)
    figures.add_argument("--out", default="figures", help="output directory")
    figures.add_argument("--book", action="store_true",
                         help=f"the book's runs: {BOOK_EPOCHS} epochs of the overfitting runs "
                         "(unless --epochs says otherwise); slow")
    figures.add_argument("--dataset", help="as for train")
    figures.add_argument("--train-size", type=_positive(int), default=1000,
                         help="training images (the book: 1000)")
    figures.add_argument("--eval-size", type=_positive(int), default=10_000,
                         help="evaluation images")
    figures.add_argument("--epochs", type=_positive(int),
                         help=f"epochs of the overfitting runs (default: 60; the book and "
                         f"--book: {BOOK_EPOCHS})")
    figures.add_argument("--lmbda", type=_positive(float), default=0.1,
                         help="λ of the regularised overfitting run")
    figures.add_argument("--etas", type=_floats(low_open=True), default=[0.025, 0.25, 2.5],
                         help="learning rates η compared")
    figures.add_argument("--eta-epochs", type=_positive(int), default=30,
                         help="epochs of the η runs and the speed-of-learning run")
    figures.add_argument("--eta-lmbda", type=_number(float, 0), default=5.0,
                         help="λ for 50,000 images, scaled to --train-size (the book: 5.0)")
    figures.add_argument("--workers", type=_positive(int),
                         help="networks trained at once (default: one per CPU)")
    figures.set_defaults(run=cmd_figures)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0, 1 on failure, 2 on bad usage)."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("give a command: train, bench, info, sweep or figures "
                             "(nnfast --help lists them)")
        return args.run(args)
    except UsageError as e:
        _note(f"error: {e}")
        return 2
    except BrokenPipeError:
        # The reader went away (`nnfast info | head`): stop quietly, as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (datasets.DataNotFoundError, OSError, ImportError) as e:
        _note(f"error: {str(e).splitlines()[0]}")
        return 1
    except (FloatingPointError, RuntimeError, ValueError) as e:
        _note(f"error: {str(e).splitlines()[0]}")
        return 1
    except MemoryError:
        _note("error: out of memory")
        return 1
    except KeyboardInterrupt:
        _note("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
