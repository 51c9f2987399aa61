# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bindings of the planner (csrc/plan.h): its mode, its cache of GEMM plans and the
elementwise, pooling and dropout kernels' thresholds. nnfast.plan is its Python face,
which checks what it passes here."""

from libc.string cimport memset

from nnfast._core cimport *

from nnfast._runtime import ARCHS

PLAN_MODES = ("measure", "estimate")
PLAN_HOW = ("estimated", "measured", "imported", "provisional")
PLAN_WORK_KINDS = ("elementwise", "pool", "dropout", "exp")
PLAN_LAYOUT_BITS = ("a_rows", "a_cols", "b_rows", "b_cols", "c_rows", "c_cols")
# NNF_GEMM_PATH_*: as the shape rule says, the chain family's direct or packed path, or
# the dot family's k in blocks.
PLAN_PATHS = ("rule", "direct", "packed", "k_blocks", "direct_short")
# NNF_CONV_FORWARD, NNF_CONV_WEIGHT_GRADIENT: the conv products planned, and each one's
# NNF_CONV_PATH_*: the forward product by im2col and the GEMM, or directly (the table
# in use's kernel, or AVX2's where AVX-512's is in use); a pooled layer's weight
# gradient from the im2row rows, or from the image's windows in place.
CONV_PRODUCTS = ("forward", "weight_gradient")
CONV_PATHS = {"forward": ("gemm", "direct", "direct_avx2"), "weight_gradient": ("rows", "windows")}
CONV_SHAPE_KEYS = ("c", "h", "w", "f", "kh", "kw")


def plan_mode(mode=None):
    """The planner's mode, 'measure' or 'estimate'; set first when mode is given."""
    if mode is not None:
        if mode not in PLAN_MODES:
            raise ValueError(f"plan_mode: mode must be one of {PLAN_MODES}, got {mode!r}")
        nnf_plan_set_mode(NNF_PLAN_ESTIMATE if mode == "estimate" else NNF_PLAN_MEASURE)
    return "estimate" if nnf_plan_mode() == NNF_PLAN_ESTIMATE else "measure"


def gemm_same_bits(isa_a, isa_b):
    """Whether two ISAs' kernel tables give bit-identical products."""
    return bool(nnf_gemm_same_bits(ARCHS.index(isa_a), ARCHS.index(isa_b)))


def gemm_plans():
    """Every cached GEMM plan as a dict, in the order planned."""
    cdef nnf_gemm_plan p
    cdef int i, j
    result = []
    for i in range(nnf_plan_count()):
        if nnf_plan_get(i, &p) != 0:
            break
        result.append({
            "isa_in_use": ARCHS[p.sig.arch_in_use],
            "dtype": "float64" if p.sig.is_double else "float32",
            "m": p.sig.m, "n": p.sig.n, "k": p.sig.k,
            "unit_stride": [name for j, name in enumerate(PLAN_LAYOUT_BITS) if p.sig.layout >> j & 1],
            "beta_zero": bool(p.sig.beta_zero), "n_threads": p.sig.n_threads,
            "isa": ARCHS[p.arch], "team": p.team, "path": PLAN_PATHS[p.path],
            "how": PLAN_HOW[p.how],
            "candidates": [{"isa": ARCHS[p.candidate[j].arch], "team": p.candidate[j].team,
                            "path": PLAN_PATHS[p.candidate[j].path],
                            "seconds": p.candidate[j].seconds} for j in range(p.n_candidates)],
            "planning_seconds": p.planning_seconds, "recheck": bool(p.recheck)})
    return result


def put_gemm_plan(plan):
    """Cache one plan, a dict as gemm_plans() gives it (candidates are not kept)."""
    cdef nnf_gemm_plan p
    memset(&p, 0, sizeof(p))
    p.sig.arch_in_use = ARCHS.index(plan["isa_in_use"])
    p.sig.is_double = plan["dtype"] == "float64"
    p.sig.m, p.sig.n, p.sig.k = plan["m"], plan["n"], plan["k"]
    p.sig.layout = sum(1 << PLAN_LAYOUT_BITS.index(name) for name in plan["unit_stride"])
    p.sig.beta_zero, p.sig.n_threads = plan["beta_zero"], plan["n_threads"]
    p.arch, p.team, p.how = ARCHS.index(plan["isa"]), plan["team"], PLAN_HOW.index("imported")
    p.path = PLAN_PATHS.index(plan["path"])
    if nnf_plan_put(&p) != 0:
        raise MemoryError("put_gemm_plan: out of memory")


def conv_plans():
    """Every cached convolution plan as a dict, in the order planned."""
    cdef nnf_conv_plan p
    cdef int i
    result = []
    for i in range(nnf_conv_plan_count()):
        if nnf_conv_plan_get(i, &p) != 0:
            break
        shape = (p.sig.c, p.sig.h, p.sig.w, p.sig.f, p.sig.kh, p.sig.kw)
        product = CONV_PRODUCTS[p.sig.product]
        paths = CONV_PATHS[product]
        result.append({
            "product": product, "isa_in_use": ARCHS[p.sig.arch_in_use],
            "dtype": "float64" if p.sig.is_double else "float32",
            **dict(zip(CONV_SHAPE_KEYS, shape)), "n_threads": p.sig.n_threads,
            "path": paths[p.path], "how": PLAN_HOW[p.how],
            "seconds": {path: p.seconds[j] for j, path in enumerate(paths)},
            "planning_seconds": p.planning_seconds, "recheck": bool(p.recheck)})
    return result


def put_conv_plan(plan):
    """Cache one convolution plan, a dict as conv_plans() gives it (its timings are
    not kept)."""
    cdef nnf_conv_plan p
    memset(&p, 0, sizeof(p))
    p.sig.product = CONV_PRODUCTS.index(plan["product"])
    p.sig.arch_in_use = ARCHS.index(plan["isa_in_use"])
    p.sig.is_double = plan["dtype"] == "float64"
    p.sig.c, p.sig.h, p.sig.w = plan["c"], plan["h"], plan["w"]
    p.sig.f, p.sig.kh, p.sig.kw = plan["f"], plan["kh"], plan["kw"]
    p.sig.n_threads = plan["n_threads"]
    p.path = CONV_PATHS[plan["product"]].index(plan["path"])
    p.how = PLAN_HOW.index("imported")
    if nnf_conv_plan_put(&p) != 0:
        raise MemoryError("put_conv_plan: out of memory")


def parallel_plan():
    """The elementwise, pooling and dropout kernels' thresholds (planned if not yet)."""
    cdef nnf_parallel_plan p
    with nogil:
        p = nnf_plan_parallel()
    return {"threshold": {kind: p.threshold[i] for i, kind in enumerate(PLAN_WORK_KINDS)},
            "fork_join_seconds": p.fork_join_seconds,
            "element_seconds": {kind: p.element_seconds[i] for i, kind in enumerate(PLAN_WORK_KINDS)},
            "how": PLAN_HOW[p.how]}


def refine_parallel_plan():
    """Time the fork/join again; a faster time replaces a measured plan's, with its
    thresholds."""
    with nogil:
        nnf_plan_refine_parallel()


def put_parallel_plan(plan):
    """Set the thresholds, a dict as parallel_plan() gives it."""
    cdef nnf_parallel_plan p
    cdef int i
    memset(&p, 0, sizeof(p))
    for i, kind in enumerate(PLAN_WORK_KINDS):
        p.threshold[i] = plan["threshold"][kind]
        p.element_seconds[i] = plan["element_seconds"][kind]
    p.fork_join_seconds, p.how = plan["fork_join_seconds"], PLAN_HOW.index("imported")
    nnf_plan_put_parallel(&p)


def forget_plans():
    nnf_plan_forget()


def plan_timed_runs():
    """GEMM runs made for timing since the process started."""
    return nnf_plan_timed_runs()


def plan_recheck_seconds():
    """How long after its timing a close call's plan is timed again, at its next use."""
    return nnf_plan_recheck_seconds()


def dot_products_in_blocks():
    """Products the dot path has taken with k in blocks since the process started."""
    return nnf_dot_products_in_blocks()
