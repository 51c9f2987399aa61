"""nnfast: the networks of Nielsen's *Neural Networks and Deep Learning*, trained on
compiled C kernels."""
import os as _os

# nnfast's parallel regions are short and many (several per mini-batch), with serial
# stretches between them. libgomp's default is to spin for a long time before an
# idle thread sleeps, which starves whatever else wants the cores (another process,
# another network in a Python thread): on two busy cores a conv epoch took 7 s
# instead of 0.5 s. Sleeping at once (OMP_WAIT_POLICY=passive) costs a wake-up at
# every region instead. The spin should outlast a layer's serial stretch within a
# mini-batch (W4's dense layer on one thread between its conv layer's regions), and
# no more: on a 2-core AVX-512 VM, 20,000 iterations against 2,000 took W4's epoch at
# mini-batch 10 on two threads from 1.55 to 1.30 s and W1's at 256 from 0.061 to
# 0.044 s; two conv nets trained at once in two Python threads, two threads each,
# took 0.17-0.20 s against 0.17-0.18, and with two busy processes on the cores one
# took 0.16 s against 0.33 (a sleeping thread waits long for its core); 100,000 cost
# the two nets at once 25%. A user's setting wins.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "20000"

# libgomp reads its settings when the extension loads it, so this comes after.
from nnfast import _kernels, datasets, flops, kernels, oracle, plan  # noqa: E402
from nnfast._kernels import get_num_threads, peak_gflops, set_num_threads
from nnfast.activations import ReLU, linear, sigmoid, tanh
from nnfast.costs import CrossEntropyCost, LogLikelihoodCost, QuadraticCost
from nnfast.ensemble import Ensemble, TrainingFailed, ensemble, sweep
from nnfast.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from nnfast.network import History, Network, load
from nnfast.training import SGDConfig

__version__ = "0.1.0"

if _os.environ.get("NNFAST_ARCH"):
    # Like BLIS_ARCH_TYPE / OPENBLAS_CORETYPE: force one micro-kernel, or fail loudly.
    try:
        _kernels.set_arch(_os.environ["NNFAST_ARCH"].strip().lower())
    except (ValueError, RuntimeError) as _error:
        raise ImportError(f"NNFAST_ARCH={_os.environ['NNFAST_ARCH']!r}: {_error}") from None

# NNFAST_PLAN: measure (the default) or estimate; anything else fails the import.
plan._mode_from_environment()


def info():
    """What this build of nnfast runs on: version, micro-kernel, OpenMP, threads, the
    measured peak GFLOP/s of one core, blocking, the planner's mode."""
    return {
        "version": __version__,
        "isa": _kernels.get_arch(),
        "supported_isas": list(_kernels.supported_archs()),
        "openmp": _kernels.openmp_enabled(),
        "threads": get_num_threads(),
        # The machine's yardstick, whichever kernels are in use (measured once, a few ms).
        "peak_gflops": {"float32": peak_gflops("float32"), "float64": peak_gflops("float64")},
        "peak_isa": _kernels.supported_archs()[-1],
        "blocking": {"float32": _kernels.blocking("float32"), "float64": _kernels.blocking("float64")},
        "plan": plan.mode(),
    }


__all__ = [
    "ConvPoolLayer",
    "Ensemble",
    "CrossEntropyCost",
    "FullyConnectedLayer",
    "ReLU",
    "SoftmaxLayer",
    "linear",
    "sigmoid",
    "tanh",
    "History",
    "LogLikelihoodCost",
    "Network",
    "QuadraticCost",
    "SGDConfig",
    "TrainingFailed",
    "ensemble",
    "sweep",
    "get_num_threads",
    "info",
    "peak_gflops",
    "load",
    "set_num_threads",
]
