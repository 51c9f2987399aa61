# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The process-wide settings of the C core: the default thread count, the GEMM
micro-kernel (ISA) and what it implies. The C core is one shared library
(libnnfast_core.so) that every binding module links, so the ISA chosen here is the
one every module's kernels run; the default thread count lives in this module alone,
and the others read it through _thread_count (_runtime.pxd)."""

import numbers

import numpy as np

from nnfast._core cimport *

# The most threads nnfast runs a kernel on. Far more than any CPU it targets has (more
# threads than cores only take turns), far fewer than make libgomp overflow a stack:
# it lays out each new team's start data on the calling thread's stack, and 65,536
# threads crash the process. A constant, not a multiple of this machine's CPUs, so
# that a thread count valid on one machine is valid on every one.
cdef int _MAX_THREADS = 1024
MAX_THREADS = _MAX_THREADS

# OMP_NUM_THREADS, else the cores, clamped: an environment asking for 70,000 threads
# gets MAX_THREADS, and this thread's OpenMP default with it.
cdef int _threads = nnf_default_threads()
if _threads > _MAX_THREADS:
    _threads = _MAX_THREADS
    nnf_set_default_threads(_threads)


# ---- threads and CPU dispatch ----

def set_num_threads(n):
    """Set the number of threads every kernel uses by default (1 <= n <= MAX_THREADS)."""
    global _threads
    if n is None:
        raise TypeError("set_num_threads: n must be a positive int, got NoneType")
    _threads = _thread_count(n, "set_num_threads", "n")
    nnf_set_default_threads(_threads)


def get_num_threads():
    """The default thread count: OMP_NUM_THREADS, else the cores, unless set."""
    return _threads


def check_threads(n, name="n_threads"):
    """n as a thread count: an int in [1, MAX_THREADS], or None for the default
    (get_num_threads()). Anything else is a TypeError or ValueError naming `name`."""
    return _thread_count(n, "", name)


cdef int _thread_count(object n, str func, str name="n_threads") except -1:
    """The one check of every thread count nnfast is given (func: the caller's name,
    prefixed to the error, or empty)."""
    if n is None:
        return _threads
    if type(n) is int and 1 <= n <= _MAX_THREADS:
        return n
    where = f"{func}: " if func else ""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{where}{name} must be a positive int, got {type(n).__name__}")
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"{where}{name} must be in [1, {_MAX_THREADS}], got {n}")
    return int(n)


ARCHS = tuple(nnf_arch_name(i).decode() for i in range(NNF_ARCH_COUNT))


def set_arch(name):
    """Choose the GEMM micro-kernel: 'ref', 'avx2' or 'avx512' (what NNFAST_ARCH sets)."""
    if name not in ARCHS:
        raise ValueError(f"set_arch: name must be one of {ARCHS}, got {name!r}")
    status = nnf_arch_set(ARCHS.index(name))
    if status == -2:
        raise RuntimeError("set_arch: a network is training or predicting in another thread; "
                           "choose the kernels before it starts or after it ends")
    if status != 0:
        raise RuntimeError(f"set_arch: this CPU cannot run the {name!r} kernels "
                           f"(best available: {ARCHS[nnf_arch_best()]!r})")


def get_arch():
    return ARCHS[nnf_arch_get()]


def supported_archs():
    """The micro-kernels this CPU can run, from the portable one to the best."""
    return ARCHS[:nnf_arch_best() + 1] if nnf_arch_best() >= NNF_ARCH_AVX2 else ("ref",)


def blocking(dtype):
    """The cache blocking {mr, nr, mc, kc, nc} of the current micro-kernel, and the
    dot path's blocks of k where it takes them (dot_kb, the same on every ISA)."""
    is_double = np.dtype(dtype) == np.float64
    cdef nnf_blocking bs = nnf_blocking_d() if is_double else nnf_blocking_s()
    return {"mr": bs.mr, "nr": bs.nr, "mc": bs.mc, "kc": bs.kc, "nc": bs.nc,
            "dot_kb": nnf_dot_block(is_double)}


def openmp_enabled():
    return bool(nnf_openmp_enabled())


# ---- the machine's peak (csrc/peak.c) ----

_peaks = {}


def peak_gflops(dtype="float32", isa=None, fresh=False):
    """The peak GFLOP/s of one core in `dtype`: a loop of nothing but fused
    multiply-adds in the widest vectors of `isa` (default: the best this CPU runs,
    whichever kernels are in use), measured the first time it is asked for (a few
    ms) and remembered for the process. Efficiency = achieved GFLOP/s / (this x threads).
    fresh=True measures it again now, and remembers that: a core's clock moves with
    its load, its temperature and, on a shared host, its neighbours (one host read
    40.7 and 47.9 GFLOP/s minutes apart), so a benchmark asks for the peak beside
    its own timings."""
    cdef int is_double, arch
    cdef double gflops
    if not isinstance(fresh, bool):
        raise TypeError(f"peak_gflops: fresh must be True or False, got {type(fresh).__name__}")
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"peak_gflops: dtype must be float32 or float64, got {dtype!r}")
    is_double = name == "float64"
    if isa is None:
        arch = nnf_arch_best()
    elif isa not in ARCHS:
        raise ValueError(f"peak_gflops: isa must be one of {ARCHS}, got {isa!r}")
    elif ARCHS.index(isa) > nnf_arch_best():
        raise RuntimeError(f"peak_gflops: this CPU cannot run {isa!r} "
                           f"(best available: {ARCHS[nnf_arch_best()]!r})")
    else:
        arch = ARCHS.index(isa)
    key = (ARCHS[arch], "float64" if is_double else "float32")
    if fresh or key not in _peaks:
        with nogil:
            gflops = nnf_peak_gflops(arch, is_double)
        _peaks[key] = gflops
    return _peaks[key]
