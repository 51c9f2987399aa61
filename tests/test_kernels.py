"""The compiled kernels (nnfast.kernels) held to the NumPy oracle (nnfast.oracle).

GEMM runs on every micro-kernel this CPU has, over shapes that straddle every block
size of each (MR, NR, MC, KC, NC), with every transpose, any strides and aliasing;
the elementwise kernels over shapes on both sides of the OpenMP threshold. Bad
arguments are in test_kernels_errors.py.

How close is close enough
-------------------------
GEMM. Each element of C is a K-term dot product summed by FMAs, then scaled by alpha
and accumulated into beta*C: K + 2 roundings, each at most u = eps/2 relative to a
partial sum no larger than S = |alpha| (|A| @ |B|) + |beta| |C|. The worst case is
(K + 2) u S; the rounding errors have random signs, so in practice they grow like
sqrt(K + 2) u S (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
sec. 3.1 and 4.2). We allow

    |C - C_ref| <= GEMM_C * sqrt(K + 2) * eps * S        (elementwise)

with GEMM_C = 2, i.e. 4 sqrt(K + 2) u, several standard deviations above the
typical error even for all-positive data, while a single dropped or doubled term
(an error of about S / K) fails it for any K we test. The reference C_ref is the
oracle computed in higher precision (float64 for float32 inputs, long double for
float64 inputs), so its own error is negligible next to the bound.

Elementwise kernels are a handful of correctly rounded operations plus one e^x or
tanh (libm's in float64, within about 1 ulp; float32's own vectorised ones, within 2),
so each is allowed a few eps relative to the higher-precision oracle; where the formula cancels (1 - s, 1 - a*a) the bound is
taken relative to the terms before cancellation. The tolerances sit with the
kernels in ELEMENTWISE below.
"""
import contextlib
import math
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnfast
from nnfast import _kernels, kernels, oracle, plan
from engine_checks import fresh_plans, using_arch

ARCHS = _kernels.supported_archs()
DTYPES = (np.float32, np.float64)
EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}
# The reference is computed one precision up (see the module docstring).
HIGHER = {np.float32: np.float64, np.float64: np.longdouble}
GEMM_C = 2.0
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]
# Memory layouts of an operand: C order, Fortran order, C rows inside a wider buffer
# (row stride > n), a view with steps, and a view with negative strides on both axes.
LAYOUTS = ("C", "F", "pad", "step", "neg")


def _tid(value):
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, bool) for v in value):
        return "".join("T" if v else "N" for v in value)
    return None


# ---- helpers ----


@pytest.fixture
def arch(request):
    """The micro-kernel named by the (indirect) parameter, restored afterwards."""
    with using_arch(request.param):
        yield request.param


@pytest.fixture
def restore_threads():
    previous = nnfast.get_num_threads()
    yield
    nnfast.set_num_threads(previous)


def embed(values, dtype, layout):
    """values (2-D or 1-D) laid out as layout says: (view, buffer, index), view = buffer[index].

    The rest of the buffer holds NaN, so a kernel that reads outside the view is
    caught by the NaN it brings back, and one that writes there by the buffer."""
    values = np.asarray(values)
    shape = values.shape
    if values.ndim == 1:
        (n,) = shape
        buf, idx = {
            "C": (np.empty(n, dtype), np.s_[:]),
            "F": (np.empty(n, dtype), np.s_[:]),
            "pad": (np.full(n + 2, np.nan, dtype), np.s_[1:n + 1]),
            "step": (np.full(3 * n + 1, np.nan, dtype), np.s_[1:3 * n + 1:3]),
            "neg": (np.full(2 * n + 1, np.nan, dtype),
                    slice(2 * n - 1, None, -2) if n else np.s_[0:0]),
        }[layout]
    else:
        r, c = shape
        buf, idx = {
            "C": (np.empty((r, c), dtype), np.s_[:, :]),
            "F": (np.empty((r, c), dtype, order="F"), np.s_[:, :]),
            "pad": (np.full((r + 2, c + 3), np.nan, dtype), np.s_[1:r + 1, 1:c + 1]),
            "step": (np.full((2 * r + 1, 3 * c + 2), np.nan, dtype),
                     np.s_[1:2 * r + 1:2, 2:3 * c + 2:3]),
            "neg": (np.full((r + 1, 2 * c + 1), np.nan, dtype),
                    (slice(r - 1, None, -1) if r else np.s_[0:0],
                     slice(2 * c - 1, None, -2) if c else np.s_[0:0])),
        }[layout]
    view = buf[idx]
    assert view.shape == shape
    view[...] = values
    return view, buf, idx


def matrix(rng, shape, dtype, layout="C", low=None):
    """A random matrix (standard normal, or uniform on [low, 1)) in the given layout."""
    values = rng.standard_normal(shape) if low is None else rng.uniform(low, 1, shape)
    return embed(values, dtype, layout)[0]


def check_gemm(got, a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c0=None):
    """got is alpha op(a) op(b) + beta c0 to within GEMM_C sqrt(K + 2) eps S (docstring)."""
    dtype = a.dtype.type
    hp = HIGHER[dtype]
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    m, k = op_a.shape
    n = op_b.shape[1]
    assert got.shape == (m, n) and got.dtype == dtype
    ref = oracle.matmul(a.astype(hp), b.astype(hp), None if c0 is None else c0.astype(hp),
                        trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
    scale = abs(alpha) * (np.abs(op_a.astype(np.float64)) @ np.abs(op_b.astype(np.float64)))
    if c0 is not None and beta != 0:
        scale = scale + abs(beta) * np.abs(c0.astype(np.float64))
    tol = GEMM_C * math.sqrt(k + 2) * EPS[dtype] * scale
    err = np.abs(got.astype(hp) - ref).astype(np.float64)
    bad = ~(err <= tol)  # NaN in got fails too
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        pytest.fail(f"{int(bad.sum())} of {bad.size} entries of the {m}x{k}x{n} product off; "
                    f"first at {i}: got {got[i]!r}, want {float(ref[i])!r}, "
                    f"error {err[i]:.3g} > tolerance {tol[i]:.3g}")


def operands(rng, m, n, k, dtype, trans_a, trans_b, layout_a="C", layout_b="C", low=None):
    """a and b stored so that op(a) is m x k and op(b) is k x n."""
    a = matrix(rng, (k, m) if trans_a else (m, k), dtype, layout_a, low)
    b = matrix(rng, (n, k) if trans_b else (k, n), dtype, layout_b, low)
    return a, b


def with_blocking(fn):
    """[fn(arch, dtype, blocking)] for each micro-kernel this CPU runs and each dtype."""
    cases = []
    for name in ARCHS:
        with using_arch(name):
            for dtype in DTYPES:
                cases += fn(name, dtype, _kernels.blocking(dtype))
    return cases


# ---- GEMM against the oracle ----


def _straddling_shapes(name, dtype, bs):
    """(m, n, k) on both sides of every block size; the other two sides small primes.

    NC is straddled by two shapes only, to keep the run short. Each shape is run with
    all four transposes, which between them take both the direct path (small
    products with a unit-stride B or A^T) and the packed BLIS path."""
    mr, nr, mc, kc, nc = bs["mr"], bs["nr"], bs["mc"], bs["kc"], bs["nc"]
    m0, n0, k0 = 13, 11, 17
    named = [(f"m={lbl}", (m, n0, k0)) for lbl, m in
             [("1", 1), ("2", 2), ("MR-1", mr - 1), ("MR", mr), ("MR+1", mr + 1),
              ("2MR+1", 2 * mr + 1), ("MC-1", mc - 1), ("MC", mc), ("MC+1", mc + 1)]]
    named += [(f"n={lbl}", (m0, n, k0)) for lbl, n in
              [("1", 1), ("NR-1", nr - 1), ("NR", nr), ("NR+1", nr + 1), ("2NR+3", 2 * nr + 3)]]
    named += [(f"k={lbl}", (m0, n0, k)) for lbl, k in
              [("1", 1), ("2", 2), ("KC-1", kc - 1), ("KC", kc), ("KC+1", kc + 1),
               ("2KC+1", 2 * kc + 1)]]
    named += [("1x1x1", (1, 1, 1)),
              ("MC+1,NR+1,KC+1", (mc + 1, nr + 1, kc + 1)),
              ("MR+1,NC+1,3", (mr + 1, nc + 1, 3)),
              ("MR-1,NC+1,KC+1", (mr - 1, nc + 1, kc + 1))]
    seen, cases = set(), []
    for label, shape in named:
        if shape not in seen:
            seen.add(shape)
            cases.append(pytest.param(name, dtype, shape, id=f"{name}-{dtype.__name__}-{label}"))
    return cases


@pytest.mark.parametrize("trans", TRANSPOSES, ids=_tid)
@pytest.mark.parametrize(("arch", "dtype", "shape"), with_blocking(_straddling_shapes),
                         indirect=["arch"])
def test_matmul_block_edges(arch, dtype, shape, trans):
    m, n, k = shape
    rng = np.random.default_rng([m, n, k])
    a, b = operands(rng, m, n, k, dtype, *trans)
    got = kernels.matmul(a, b, trans_a=trans[0], trans_b=trans[1])
    check_gemm(got, a, b, trans_a=trans[0], trans_b=trans[1])


# The book's products, as (m, k, n): a mini-batch of 10 through [784, 30, 10] and
# [784, 100, 10] forwards and backwards.
BOOK_SHAPES = [(10, 784, 30), (10, 30, 784), (30, 784, 10), (10, 100, 784), (100, 784, 10)]


@pytest.mark.parametrize("trans", TRANSPOSES, ids=_tid)
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("mkn", BOOK_SHAPES, ids=lambda s: "%dx%dx%d" % s)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_book_shapes(arch, mkn, dtype, trans):
    m, k, n = mkn
    rng = np.random.default_rng(1)
    a, b = operands(rng, m, n, k, dtype, *trans)
    got = kernels.matmul(a, b, trans_a=trans[0], trans_b=trans[1])
    check_gemm(got, a, b, trans_a=trans[0], trans_b=trans[1])


def _on_path(path, a, b, trans, c=None, team=None, **scaling):
    """op(a) op(b), or alpha op(a) op(b) + beta c into a copy of c, with the path
    forced (and the team, if given): the plan that the estimate rule makes for its
    signature, with the path replaced."""
    def product():
        return kernels.matmul(a, b, None if c is None else c.copy(), trans_a=trans[0],
                              trans_b=trans[1], **scaling)

    plan.forget()
    product()
    (made,) = plan.plans()
    plan.forget()
    _kernels.put_gemm_plan(dict(made, path=path, team=made["team"] if team is None else team))
    return product()


@pytest.fixture
def estimated_plans():
    with fresh_plans("estimate"):
        yield


# A by rows (A with unit column stride) and B by columns (B with unit row stride):
# the operands the packed path packs along k, in the ISA's transposing pack.
ALONG_K = {"A rows": (False, False), "B columns": (True, True)}


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
@pytest.mark.parametrize("operand", sorted(ALONG_K))
def test_packed_path_packs_lines_along_k(arch, operand, dtype, estimated_plans):
    """Packing lines contiguous along k transposes blocks of a vector's width of
    lines by as many steps of k: every count of lines and steps on both sides of the
    widths (and of the tile's MR and NR), from operands in NaN-padded buffers (a read
    outside them brings a NaN back), gives the direct path's bits and the oracle's
    values."""
    trans = ALONG_K[operand]
    rng = np.random.default_rng(7)
    for m, n, k in [(1, 7, 1), (13, 33, 15), (7, 17, 16), (33, 5, 17), (25, 40, 257),
                    (12, 32, 31), (11, 31, 33)]:
        a, b = operands(rng, m, n, k, dtype, *trans, "pad", "pad")
        packed = _on_path("packed", a, b, trans)
        np.testing.assert_array_equal(packed, _on_path("direct", a, b, trans))
        check_gemm(packed, a, b, trans_a=trans[0], trans_b=trans[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_direct_path_across_blocks_of_columns(arch, dtype, estimated_plans):
    """The direct path takes B's columns a block at a time (as many whole panels as
    fit in half of L1), each row of tiles across a block in one call of the kernel,
    and a last narrower panel by itself: widths on both sides of a block and of a
    panel, the update's C = beta C + alpha A B (W1's 30 x 784 x 10 with k = 10) and
    a k over KC, in tiles of MR rows and of two-thirds of MR, on one thread and two,
    give the packed path's bits and the oracle's values."""
    rng = np.random.default_rng(9)
    nr = _kernels.blocking(dtype)["nr"]
    for m, n, k in [(30, 784, 10), (7, 1000, 10), (13, 790, 3), (5, 2 * nr + 3, 300),
                    (11, 4 * nr - 1, 600), (6, nr + 1, 1)]:
        a, b = operands(rng, m, n, k, dtype, True, False, "pad", "pad")
        c0 = rng.standard_normal((m, n)).astype(dtype)
        packed = _on_path("packed", a, b, (True, False), c0, alpha=-0.3, beta=1.0)
        for path, team in (("direct", 1), ("direct_short", 1), ("direct_short", 2)):
            direct = _on_path(path, a, b, (True, False), c0, team, alpha=-0.3, beta=1.0,
                              n_threads=team)
            np.testing.assert_array_equal(direct, packed)
        check_gemm(packed, a, b, trans_a=True, alpha=-0.3, beta=1.0, c0=c0)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_direct_rows_of_whole_tiles(arch, dtype, estimated_plans):
    """The direct path's rows of tiles across a row-major C: every row count of a
    tile (of MR rows, and of two-thirds of MR: short tiles), A by columns (the
    update's delta^T) and by rows, short and long chains, beta 0 and not, a narrower
    last tile beside whole ones, give the packed path's bits and the oracle's
    values."""
    rng = np.random.default_rng(10)
    bs = _kernels.blocking(dtype)
    for m in range(1, bs["mr"] + 2):
        for k in (1, 15, 16, 17, 40):
            for trans_a in (True, False):
                n = 2 * bs["nr"] + (m % 3)
                a, b = operands(rng, m, n, k, dtype, trans_a, False, "pad", "pad")
                c0 = rng.standard_normal((m, n)).astype(dtype)
                for beta in (0.0, 0.75):
                    direct, short, packed = (
                        _on_path(path, a, b, (trans_a, False), c0, alpha=-0.3, beta=beta)
                        for path in ("direct", "direct_short", "packed"))
                    np.testing.assert_array_equal(direct, packed)
                    np.testing.assert_array_equal(short, packed)
                    check_gemm(direct, a, b, trans_a=trans_a, alpha=-0.3, beta=beta, c0=c0)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_dot_path_in_blocks_of_k(arch, dtype, estimated_plans):
    """The dot path with k in blocks (its partial sums kept between them): every row
    count of a tile and past it, tiles of either width and a narrower one, k at two
    blocks, one past, a block and a few lanes short of three, a sliver past three,
    C's rows in chunks (300 x 30: three chunks' partial sums in turn), beta 0 and not,
    on one thread and split over two (by columns, and by rows: 30 x 4), give the bits
    of k whole and the oracle's values, and the blocks are taken."""
    rng = np.random.default_rng(11)
    kb = _kernels.blocking(dtype)["dot_kb"]
    lanes = 64 // np.dtype(dtype).itemsize  # NNF_DOT_LANE_BYTES of partial sums
    assert kb % lanes == 0  # each block's lanes are the whole product's
    for m, n, k in [(1, 1, 2 * kb), (2, 3, 2 * kb + 1), (3, 7, 3 * kb - 5), (5, 10, 3 * kb + 9),
                    (10, 100, 3 * kb + 3), (7, 2, 2 * kb + lanes - 1), (6, 4, 4 * kb),
                    (30, 4, 2 * kb + 5), (300, 30, 2 * kb + 1)]:
        a, b = operands(rng, m, n, k, dtype, False, True, "pad", "pad")
        c0 = rng.standard_normal((m, n)).astype(dtype)
        for team, beta in ((1, 0.0), (1, 0.5), (2, 0.5)):
            taken = _kernels.dot_products_in_blocks()
            blocks = _on_path("k_blocks", a, b, (False, True), c0, team, alpha=-0.7, beta=beta,
                              n_threads=team)
            assert _kernels.dot_products_in_blocks() - taken >= 1
            taken = _kernels.dot_products_in_blocks()
            whole = _on_path("rule", a, b, (False, True), c0, team, alpha=-0.7, beta=beta,
                             n_threads=team)
            assert _kernels.dot_products_in_blocks() == taken
            np.testing.assert_array_equal(blocks, whole)
            check_gemm(blocks, a, b, trans_b=True, alpha=-0.7, beta=beta, c0=c0)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_wide_products_of_rows_by_rows_pack_both_along_k(arch, dtype):
    """A forward product X W^T too wide for the dot kernels (over the narrow bound,
    over the direct path's flops) packs both operands along k: the oracle's values."""
    rng = np.random.default_rng(8)
    a, b = operands(rng, 70, 45, 1001, dtype, False, True, "pad", "pad")
    check_gemm(kernels.matmul(a, b, trans_b=True), a, b, trans_b=True)


# One product below the 4 MFLOP direct/parallel thresholds, one above.
STRIDE_SHAPES = [(37, 29, 41), (150, 70, 300)]


@pytest.mark.parametrize("layout_b", LAYOUTS)
@pytest.mark.parametrize("layout_a", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", STRIDE_SHAPES, ids=lambda s: "%dx%dx%d" % s)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_input_layouts(arch, shape, dtype, layout_a, layout_b):
    m, n, k = shape
    rng = np.random.default_rng(2)
    for trans in [(False, False), (True, True)]:
        a, b = operands(rng, m, n, k, dtype, *trans, layout_a, layout_b)
        got = kernels.matmul(a, b, trans_a=trans[0], trans_b=trans[1])
        check_gemm(got, a, b, trans_a=trans[0], trans_b=trans[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_read_only_and_broadcast_inputs(arch, dtype):
    rng = np.random.default_rng(3)
    for m, n, k in STRIDE_SHAPES:
        a = np.broadcast_to(rng.standard_normal(k).astype(dtype), (m, k))  # row stride 0
        b = np.broadcast_to(rng.standard_normal((k, 1)).astype(dtype), (k, n))  # column stride 0
        check_gemm(kernels.matmul(a, b), a, b)
        check_gemm(kernels.matmul(b, a, trans_a=True, trans_b=True), b, a,
                   trans_a=True, trans_b=True)
        a = matrix(rng, (m, k), dtype)
        a.flags.writeable = False
        check_gemm(kernels.matmul(a, b), a, b)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-1.5, 0.0), (1.0, 1.0), (0.5, -0.75)])
@pytest.mark.parametrize("layout_out", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("shape", STRIDE_SHAPES, ids=lambda s: "%dx%dx%d" % s)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_out_layouts_alpha_beta(arch, shape, dtype, layout_out, alpha, beta):
    """out is written through its strides, only inside its view, as alpha AB + beta out."""
    m, n, k = shape
    rng = np.random.default_rng(4)
    for trans in [(False, False), (False, True)]:  # the direct path, then the packed one
        a, b = operands(rng, m, n, k, dtype, *trans)
        out, buf, idx = embed(rng.standard_normal((m, n)), dtype, layout_out)
        c0, buf0 = out.copy(), buf.copy()
        got = kernels.matmul(a, b, out, trans_a=trans[0], trans_b=trans[1], alpha=alpha, beta=beta)
        assert got is out
        check_gemm(got, a, b, trans_a=trans[0], trans_b=trans[1], alpha=alpha, beta=beta, c0=c0)
        buf[idx] = buf0[idx] = 0
        np.testing.assert_array_equal(buf, buf0, err_msg="matmul wrote outside out")


def _nan_shapes(name, dtype, bs):
    shapes = [(bs["mr"] + 1, bs["nr"] + 1, 5), (37, 29, 41), (150, 70, 300), (5, 7, 0)]
    return [pytest.param(name, dtype, s, id=f"{name}-{dtype.__name__}-%dx%dx%d" % s)
            for s in shapes]


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("trans", [(False, False), (False, True)], ids=_tid)
@pytest.mark.parametrize(("arch", "dtype", "shape"), with_blocking(_nan_shapes), indirect=["arch"])
def test_matmul_beta_zero_never_reads_out(arch, dtype, shape, trans, fill):
    m, n, k = shape
    rng = np.random.default_rng(5)
    a, b = operands(rng, m, n, k, dtype, *trans)
    for layout in ("C", "step"):
        out = embed(np.full((m, n), fill), dtype, layout)[0]
        kernels.matmul(a, b, out, trans_a=trans[0], trans_b=trans[1], beta=0.0)
        assert np.isfinite(out).all()
        check_gemm(out, a, b, trans_a=trans[0], trans_b=trans[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_k_zero_is_beta_out(arch, dtype):
    rng = np.random.default_rng(6)
    a, b = np.empty((4, 0), dtype), np.empty((0, 9), dtype)
    np.testing.assert_array_equal(kernels.matmul(a, b), np.zeros((4, 9), dtype))
    out = np.full((4, 9), np.nan, dtype)
    np.testing.assert_array_equal(kernels.matmul(a, b, out), np.zeros((4, 9), dtype))
    c0 = matrix(rng, (4, 9), dtype)
    out = c0.copy()
    kernels.matmul(a, b, out, alpha=2.0, beta=0.3)
    check_gemm(out, a, b, alpha=2.0, beta=0.3, c0=c0)
    out = c0.copy()
    kernels.matmul(np.empty((0, 4), dtype), np.empty((9, 0), dtype), out, trans_a=True,
                   trans_b=True, beta=1.0)
    np.testing.assert_array_equal(out, c0)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_alpha_zero_is_beta_out(arch, dtype):
    rng = np.random.default_rng(7)
    a, b = matrix(rng, (150, 300), dtype), matrix(rng, (300, 70), dtype)
    c0 = matrix(rng, (150, 70), dtype)
    out = c0.copy()
    kernels.matmul(a, b, out, alpha=0.0, beta=1.0)
    np.testing.assert_array_equal(out, c0)
    out[...] = np.nan
    kernels.matmul(a, b, out, alpha=0.0, beta=0.0)
    np.testing.assert_array_equal(out, np.zeros_like(out))


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0, 3), (0, 0, 0), (0, 5, 0), (5, 0, 0)],
                         ids=lambda s: "%dx%dx%d" % s)
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_matmul_empty_result(dtype, shape):
    m, n, k = shape
    a, b = np.ones((m, k), dtype), np.ones((k, n), dtype)
    got = kernels.matmul(a, b)
    assert got.shape == (m, n) and got.dtype == dtype
    out = np.empty((m, n), dtype)
    assert kernels.matmul(a, b, out, beta=1.0) is out
    got = kernels.matmul(a.T, b.T, trans_a=True, trans_b=True)
    assert got.shape == (m, n)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_all_positive_long_sums(arch, dtype):
    """Positive data: no cancellation to hide the summation error, the bound's worst case."""
    rng = np.random.default_rng(8)
    for trans in [(False, False), (False, True)]:
        a, b = operands(rng, 9, 11, 3000, dtype, *trans, low=0.0)
        check_gemm(kernels.matmul(a, b, trans_a=trans[0], trans_b=trans[1]), a, b,
                   trans_a=trans[0], trans_b=trans[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_matmul_misaligned_and_byte_swapped_inputs(dtype):
    rng = np.random.default_rng(9)
    a, b = matrix(rng, (13, 17), dtype), matrix(rng, (17, 11), dtype)
    raw = bytearray(a.nbytes + 1)
    skewed = np.frombuffer(raw, dtype=dtype, count=a.size, offset=1).reshape(a.shape)
    skewed[...] = a
    assert not skewed.flags.aligned
    check_gemm(kernels.matmul(skewed, b), a, b)
    swapped = b.astype(b.dtype.newbyteorder())
    check_gemm(kernels.matmul(a, swapped), a, b)


# ---- the sparse product (the gather kernel) against the oracle ----


def _dense(indptr, indices, values, columns):
    """The sparse matrix as a dense one (repeated columns add up)."""
    dense = np.zeros((len(indptr) - 1, columns), dtype=values.dtype)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    np.add.at(dense, (rows, indices), values)
    return dense


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_sparse_matmul_against_oracle(arch, dtype):
    """Widths on both sides of each ISA's vector and panel (1..70, then 129 and 200),
    rows of 0 to 40 entries with repeated columns, beta 0 and not, out inside a wider
    array. The tolerance is GEMM's with K the rows of b, at least each row's entries."""
    rng = np.random.default_rng(5)
    for width in list(range(1, 71)) + [129, 200]:
        counts = rng.integers(0, 41, 9)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        indices = rng.integers(0, 23, int(indptr[-1]))
        values = rng.standard_normal(int(indptr[-1])).astype(dtype)
        b = rng.standard_normal((23, width)).astype(dtype)
        dense = _dense(indptr, indices, values, 23)
        check_gemm(kernels.sparse_matmul(indptr, indices, values, b), dense, b)
        c0 = rng.standard_normal((9, width + 2)).astype(dtype)
        out = c0.copy()
        got = kernels.sparse_matmul(indptr, indices, values, b, out[:, 1:-1], beta=-0.5)
        check_gemm(got, dense, b, beta=-0.5, c0=c0[:, 1:-1])
        assert np.shares_memory(got, out)
        np.testing.assert_array_equal(out[:, [0, -1]], c0[:, [0, -1]])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_sparse_matmul_rows_without_entries(arch, dtype):
    """Rows with no entries, first, between and last (the kernel finds each row's rows
    of b a pair of entries ahead: an empty last row reads no index past the list,
    which the sanitizers' run of this test checks), rows of one and two entries, whole
    panels and a last narrower one: the oracle's values, and beta * C for an empty row."""
    rng = np.random.default_rng(13)
    for width in (3, 25, 48, 61):
        indptr = np.array([0, 0, 1, 1, 3, 8, 8, 8], np.intc)
        indices = np.ascontiguousarray(rng.integers(0, 7, 8).astype(np.intc))
        values = rng.standard_normal(8).astype(dtype)
        b = rng.standard_normal((7, width)).astype(dtype)
        dense = _dense(indptr, indices, values, 7)
        c0 = rng.standard_normal((7, width)).astype(dtype)
        got = kernels.sparse_matmul(indptr, indices, values, b, c0.copy(), beta=2.0)
        check_gemm(got, dense, b, beta=2.0, c0=c0)
        np.testing.assert_array_equal(got[[0, 2, 5, 6]], 2.0 * c0[[0, 2, 5, 6]])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_sparse_matmul_takes_values_of_any_stride(dtype):
    """values every other entry of an array, and reversed: the kernel reads one run
    of them, so such a view is copied first (read as it lay, the first gave entries
    1, 2, 3 for 1, 3, 5, the second whatever lay past the array)."""
    rng = np.random.default_rng(21)
    indptr, indices = np.array([0, 2, 4, 6]), np.array([0, 1, 0, 1, 0, 1])
    b = rng.standard_normal((2, 5)).astype(dtype)
    for values in (np.arange(1, 13, dtype=dtype)[::2], np.arange(1, 7, dtype=dtype)[::-1]):
        dense = _dense(indptr, indices, np.ascontiguousarray(values), 2)
        check_gemm(kernels.sparse_matmul(indptr, indices, values, b), dense, b)


@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_sparse_matmul_beta_zero_never_reads_out(arch):
    out = np.full((2, 19), np.nan, np.float32)
    b = np.ones((3, 19), np.float32)
    got = kernels.sparse_matmul(np.array([0, 0, 2]), np.array([2, 1]), np.ones(2, np.float32),
                                b, out)
    np.testing.assert_array_equal(got, [[0.0] * 19, [2.0] * 19])


# ---- threads ----


@pytest.mark.parametrize("trans", [(False, False), (True, True)], ids=_tid)
@pytest.mark.parametrize("shape", [(300, 257, 301), (7, 4100, 300), (4000, 1, 600),
                                   (1, 4000, 600)],
                         ids=["rows-300x257x301", "columns-7x4100x300", "matrix-vector",
                              "vector-matrix"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_bit_identical_across_thread_counts(arch, dtype, shape, trans):
    """Above 4 MFLOP C is split among threads (in row bands, or column bands when wide);
    each element must still be summed in the same order."""
    m, n, k = shape
    rng = np.random.default_rng(10)
    a, b = operands(rng, m, n, k, dtype, *trans)
    c0 = matrix(rng, (m, n), dtype)
    results = []
    for n_threads in (1, 2, 3):
        out = c0.copy()
        kernels.matmul(a, b, out, trans_a=trans[0], trans_b=trans[1], alpha=0.5, beta=-1.0,
                       n_threads=n_threads)
        results.append(out)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    if dtype is np.float32:  # the float64 reference is cheap here
        check_gemm(results[0], a, b, trans_a=trans[0], trans_b=trans[1], alpha=0.5, beta=-1.0,
                   c0=c0)


def test_matmul_default_threads_follow_set_num_threads(restore_threads):
    rng = np.random.default_rng(11)
    a, b = matrix(rng, (300, 257), np.float32), matrix(rng, (257, 301), np.float32)
    nnfast.set_num_threads(1)
    one = kernels.matmul(a, b)
    nnfast.set_num_threads(2)
    two = kernels.matmul(a, b)
    np.testing.assert_array_equal(one, two)


def test_kernels_run_concurrently_in_python_threads():
    """The GIL is released and packing buffers are per thread: concurrent calls from
    Python threads give what serial calls give."""
    rng = np.random.default_rng(12)
    jobs = [(matrix(rng, (150, 300), dt), matrix(rng, (300, 70 + i), dt))
            for i, dt in enumerate([np.float32, np.float64] * 2)]
    serial = [kernels.matmul(a, b) for a, b in jobs]
    serial_t = [kernels.sigmoid(kernels.matmul(a, b, n_threads=1)) for a, b in jobs]
    results, errors = {}, []

    def work(i):
        try:
            a, b = jobs[i]
            for _ in range(5):
                results[i] = (kernels.matmul(a, b),
                              kernels.sigmoid(kernels.matmul(a, b, n_threads=1)))
        except Exception as exc:  # surfaced below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(len(jobs)):
        np.testing.assert_array_equal(results[i][0], serial[i])
        np.testing.assert_array_equal(results[i][1], serial_t[i])


# ---- aliasing ----


def _alias_cases(dtype, rng):
    """(name, a, b, out, kwargs) where out shares memory with a and/or b."""
    cases = []
    x = matrix(rng, (40, 40), dtype)
    y = matrix(rng, (40, 40), dtype)
    cases.append(("out is a", x.copy(), y, None, {}))
    cases.append(("out is b", x, y.copy(), None, {}))
    cases.append(("out is a, trans_a", x.copy(), y, None, {"trans_a": True}))
    cases.append(("out is b, trans_b, beta=1", x, y.copy(), None, {"trans_b": True, "beta": 1.0}))
    cases.append(("a is b is out", x.copy(), None, None, {"alpha": -1.0, "beta": 0.5}))
    big = matrix(rng, (160, 160), dtype)
    cases.append(("out is a, packed", big.copy(), big[::-1].copy(), None, {"trans_b": True}))
    buf = matrix(rng, (30, 60), dtype)
    cases.append(("out overlaps a's columns", buf[:, :25], matrix(rng, (25, 31), dtype),
                  buf[:, 20:51], {"beta": 1.0}))
    buf = matrix(rng, (50, 50), dtype)
    cases.append(("out overlaps b's rows", matrix(rng, (30, 20), dtype), buf[10:30, :],
                  buf[:30, :], {}))
    return cases


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("arch", ARCHS, indirect=True)
def test_matmul_out_aliasing_inputs(arch, dtype):
    rng = np.random.default_rng(13)
    for name, a, b, out, kw in _alias_cases(dtype, rng):
        if name.startswith("a is b is out"):
            b = out = a
        elif out is None:
            out = a if name.startswith("out is a") else b
        a0, b0, c0 = a.copy(), b.copy(), out.copy()
        # Without aliasing: the same operands, copied apart, in C order like the copies
        # the binding makes, so that the same path runs.
        want = kernels.matmul(a0, b0, c0.copy(), **kw)
        got = kernels.matmul(a, b, out, **kw)
        assert got is out
        np.testing.assert_array_equal(out, want, err_msg=name)
        check_gemm(out, a0, b0, c0=c0, trans_a=kw.get("trans_a", False),
                   trans_b=kw.get("trans_b", False), alpha=kw.get("alpha", 1.0),
                   beta=kw.get("beta", 0.0))


# ---- a property test over shapes and strides ----


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_matmul_property_any_shape_and_strides(data):
    arch = data.draw(st.sampled_from(ARCHS), label="arch")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    m = data.draw(st.integers(0, 40), label="m")
    n = data.draw(st.integers(0, 40), label="n")
    k = data.draw(st.one_of(st.integers(0, 40), st.integers(250, 520)), label="k")
    trans_a, trans_b = data.draw(st.booleans(), label="trans_a"), data.draw(st.booleans(),
                                                                            label="trans_b")
    layout_a = data.draw(st.sampled_from(LAYOUTS), label="layout_a")
    layout_b = data.draw(st.sampled_from(LAYOUTS), label="layout_b")
    layout_out = data.draw(st.sampled_from((None,) + LAYOUTS), label="layout_out")
    alpha = data.draw(st.sampled_from([1.0, -1.0, 0.5, 3.0, 0.0]), label="alpha")
    beta = 0.0 if layout_out is None else data.draw(st.sampled_from([0.0, 1.0, -0.25]),
                                                    label="beta")
    n_threads = data.draw(st.sampled_from([None, 1, 2]), label="n_threads")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a, b = operands(rng, m, n, k, dtype, trans_a, trans_b, layout_a, layout_b)
    out = c0 = None
    if layout_out is not None:
        out = embed(rng.standard_normal((m, n)), dtype, layout_out)[0]
        c0 = out.copy()
        if beta == 0:
            out[...] = np.nan
    with using_arch(arch):
        got = kernels.matmul(a, b, out, trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                             beta=beta, n_threads=n_threads)
    if out is not None:
        assert got is out
    check_gemm(got, a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, c0=c0)


# ---- elementwise kernels ----


def _z(rng, shape):
    return 6 * rng.standard_normal(shape)  # well into both tails of sigmoid and tanh


def _kinked(rng, shape):
    z = rng.standard_normal(shape)
    z.flat[::5] = 0.0  # relu's kink, where the derivative is 0 by convention
    z.flat[1::7] = -0.0
    return z


def _sigmoid_prime_tol(args, ref, eps):
    # s(1 - s): s carries ~2 eps relative error; 1 - s turns it into an absolute error
    # of about 2 eps s, which is large relative to 1 - s when s is near 1. Since
    # s(1 - s) + s^2 = s, a bound of 4 eps s covers both factors and the product.
    return 4 * eps * oracle.sigmoid(args[0])


def _tanh_prime_tol(args, ref, eps):
    # 1 - a^2: the rounding of a^2 is absolute, u a^2; the subtraction adds u |1 - a^2|.
    a = args[0]
    return 2 * eps * (np.abs(ref) + a * a)


def _softmax_tol(args, ref, eps):
    # exp(z - max): the subtraction's rounding u |z - max| is an absolute error in the
    # argument, hence a relative one in the result; exp itself ~1 ulp; the row sum of
    # n positive terms ~sqrt(n) u (random-sign roundings); the division 1 more.
    z = args[0]
    n = z.shape[1]
    return eps * (4 + np.abs(z - z.max(axis=1, keepdims=True)) / 2 + 2 * math.sqrt(n)) * np.abs(ref)


def _column_sums_tol(args, ref, eps):
    # As GEMM with B = 1: m - 1 additions in row order, each within u of a partial sum
    # bounded by sum |x|.
    x = args[0]
    return GEMM_C * math.sqrt(x.shape[0] + 2) * eps * np.abs(x).sum(axis=0)


def _rel(c):
    return lambda args, ref, eps: c * eps * np.abs(ref)


# name -> (input makers, tolerance(args in higher precision, reference, eps)).
# A maker of None is the 1-D bias of add_bias.
ELEMENTWISE = {
    # 1 / (1 + e) or e / (1 + e) with e = exp(-|z|): exp within 1 ulp, three roundings.
    "sigmoid": ([_z], _rel(4)),
    "sigmoid_prime": ([_z], _sigmoid_prime_tol),
    # a (1 - a) with a exact: 1 - a exact for a >= 1/2, else one rounding; the product one.
    "sigmoid_prime_from_output": ([lambda rng, s: rng.uniform(0, 1, s)], _rel(2)),
    # libm tanh is within 1-2 ulp.
    "tanh": ([lambda rng, s: 3 * rng.standard_normal(s)], _rel(4)),
    "tanh_prime_from_output": ([lambda rng, s: rng.uniform(-1, 1, s)], _tanh_prime_tol),
    # Selections: exact.
    "relu": ([_kinked], _rel(0)),
    "relu_prime": ([_kinked], _rel(0)),
    "softmax": ([lambda rng, s: 5 * rng.standard_normal(s)], _softmax_tol),
    # One correctly rounded operation each: u relative, against a reference within
    # u_higher of the exact result.
    "hadamard": ([_kinked, lambda rng, s: rng.standard_normal(s)], _rel(1)),
    "add_bias": ([lambda rng, s: rng.standard_normal(s), None], _rel(1)),
    "column_sums": ([lambda rng, s: rng.standard_normal(s)], _column_sums_tol),
}
ELEMENTWISE_SHAPES = [(1, 1), (7, 13), (64, 127), (300, 301)]  # the last over the OpenMP threshold
# Where the input and out live: the input in each layout with a new out; a new input
# with out in each layout; out the input itself; out overlapping the input.
ELEMENTWISE_CASES = (["in-" + lay for lay in LAYOUTS] + ["out-" + lay for lay in LAYOUTS]
                     + ["in-place", "overlap"])


def _elementwise_args(name, rng, shape, dtype, case):
    """The kernel's array arguments, out (or None) and what the inputs hold beforehand."""
    makers, _ = ELEMENTWISE[name]
    m, n = shape
    in_layout = case[3:] if case.startswith("in-") and case != "in-place" else "C"
    values = [rng.uniform(-1, 1, n) if mk is None else mk(rng, shape) for mk in makers]
    args = [embed(v, dtype, in_layout)[0] for v in values]
    out = None
    out_shape = (n,) if name == "column_sums" else shape
    if case.startswith("out-"):
        out = embed(np.full(out_shape, np.nan), dtype, case[4:])[0]
    elif case == "in-place":
        out = args[0][0] if name == "column_sums" else args[0]
    elif case == "overlap":
        # The first input one row down inside the buffer that out also covers.
        buf = np.full((m + 1, n), np.nan, dtype)
        buf[1:] = args[0]
        args[0] = buf[1:]
        out = buf[m] if name == "column_sums" else buf[:m]
    before = [x.copy() for x in args]
    return args, out, before


def _check_elementwise(name, got, before, dtype):
    _, tol_fn = ELEMENTWISE[name]
    hp = HIGHER[dtype]
    args = [x.astype(hp) for x in before]
    ref = getattr(oracle, name)(*args)
    # Below the normal range each rounding is absolute, up to the smallest subnormal.
    tol = tol_fn(args, ref, EPS[dtype]).astype(np.float64)
    tol += 4 * float(np.finfo(dtype).smallest_subnormal)
    assert got.shape == ref.shape and got.dtype == dtype
    err = np.abs(got.astype(hp) - ref).astype(np.float64)
    bad = ~(err <= tol)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        pytest.fail(f"{name}: {int(bad.sum())} of {bad.size} entries off; first at {i}: "
                    f"input {[float(x[i if x.ndim == 2 else i[-1:]]) for x in args]}, "
                    f"got {got[i]!r}, want {float(ref[i])!r}, error {err[i]:.3g} > {tol[i]:.3g}")


@pytest.mark.parametrize("case", ELEMENTWISE_CASES)
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=lambda s: "%dx%d" % s)
@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_against_oracle(name, dtype, shape, case):
    rng = np.random.default_rng([len(name), *shape])
    args, out, before = _elementwise_args(name, rng, shape, dtype, case)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(kernels, name)(*args, out=out)
    if out is None:
        assert got.flags.c_contiguous
    else:
        assert got is out
    if case not in ("in-place", "overlap"):
        for x, x0 in zip(args, before):
            np.testing.assert_array_equal(x, x0, err_msg=f"{name} changed its input")
    _check_elementwise(name, got, before, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_hadamard_out_is_either_or_both_inputs(dtype):
    rng = np.random.default_rng(14)
    a0, b0 = matrix(rng, (300, 301), dtype), matrix(rng, (300, 301), dtype)
    want = a0 * b0
    a, b = a0.copy(), b0.copy()
    np.testing.assert_array_equal(kernels.hadamard(a, b, out=b), want)
    a, b = a0.copy(), b0.copy()
    np.testing.assert_array_equal(kernels.hadamard(a, b, out=a), want)
    a = a0.copy()
    np.testing.assert_array_equal(kernels.hadamard(a, a, out=a), a0 * a0)
    a = a0.copy()  # out is a's transpose: same memory, other strides
    sq = a[:200, :200]
    want = sq * sq.T
    kernels.hadamard(sq, sq.T.copy(), out=sq.T)
    np.testing.assert_array_equal(sq.T, want)


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_add_bias_bias_inside_out(dtype):
    rng = np.random.default_rng(15)
    x = matrix(rng, (70, 80), dtype)
    x0 = x.copy()
    bias = x[3]  # a row of out itself
    kernels.add_bias(x, bias, out=x)
    np.testing.assert_array_equal(x, x0 + x0[3])


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_empty(name, dtype):
    for m, n in [(0, 5), (5, 0), (0, 0)]:
        args = [np.ones(n, dtype) if mk is None else np.ones((m, n), dtype)
                for mk in ELEMENTWISE[name][0]]
        if name == "softmax" and m > 0 and n == 0:
            with pytest.raises(ValueError, match=r"(^|: )z\b"):
                kernels.softmax(*args)
            continue
        got = getattr(kernels, name)(*args)
        if name == "column_sums":
            np.testing.assert_array_equal(got, np.zeros(n, dtype))
        else:
            assert got.shape == (m, n) and got.dtype == dtype


# ---- saturation: large |z| ----

BIG_Z = [0.0, 88.8, -88.8, 89.5, -89.5, 710.0, -710.0, 745.5, -745.5, 1e4, -1e4, np.inf, -np.inf]


@contextlib.contextmanager
def no_fp_warnings():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_sigmoid_large_inputs_saturate_cleanly(dtype):
    z = np.array([BIG_Z, BIG_Z[::-1]], dtype)
    with no_fp_warnings():
        s = kernels.sigmoid(z)
        sp = kernels.sigmoid_prime(z)
        t = kernels.tanh(z)
        spo = kernels.sigmoid_prime_from_output(s)
        tpo = kernels.tanh_prime_from_output(t)
    for v in (s, sp, t, spo, tpo):
        assert np.isfinite(v).all()
    # Where e^-|z| is below half an ulp of 1 the limits are exact.
    assert (s[z >= 88.8] == 1).all() and (t[z >= 88.8] == 1).all() and (t[z <= -88.8] == -1).all()
    assert (s[z <= -1e4] == 0).all() and (sp[np.abs(z) >= 1e4] == 0).all()
    if dtype is np.float32:  # e^-710 underflows float32 entirely
        assert (s[z <= -710] == 0).all()
    assert (s >= 0).all() and (s <= 1).all() and (sp >= 0).all() and (sp <= 0.25).all()
    assert (s[z == 0] == 0.5).all() and (sp[z == 0] == 0.25).all()
    # Elsewhere, as close to the oracle as anywhere, allowing for gradual underflow.
    hp = HIGHER[dtype]
    zh = z.astype(hp)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    finite = np.isfinite(z)
    for got, want, rel in [(s, oracle.sigmoid(zh), 4 * EPS[dtype] * np.abs(oracle.sigmoid(zh))),
                           (sp, oracle.sigmoid_prime(zh), 4 * EPS[dtype] * oracle.sigmoid(zh)),
                           (t, oracle.tanh(zh), 4 * EPS[dtype] * np.abs(oracle.tanh(zh)))]:
        err = np.abs(got.astype(hp) - want)[finite]
        assert (err <= rel[finite] + 2 * tiny).all(), (got, want)


def test_float32_sigmoid_on_a_dense_grid():
    # float32's sigmoid has its own vectorised e^x (the float64 one is libm's): check
    # it on every 2^-12 step of [-110, 110], the whole range where the result is
    # neither exactly 0 nor 1, subnormals included.
    z = np.arange(-110 * 4096, 110 * 4096 + 1, dtype=np.float64) / 4096
    got = kernels.sigmoid(z.astype(np.float32).reshape(1, -1)).ravel().astype(np.float64)
    want = oracle.sigmoid(z)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    assert (np.abs(got - want) <= 4 * EPS[np.float32] * want + 2 * tiny).all()


def test_float32_tanh_on_a_dense_grid():
    # float32's tanh is its own too (activations.c): z + z^3 p(z^2) below 0.75, and
    # (1 - e) / (1 + e) with e = e^-2|z| <= 0.23 above, where e's 2 ulp reach the
    # result scaled by 2e / (1 - e^2) < 0.5, plus three roundings: under 3 eps either
    # side of the branch point. Every 2^-12 step of [-10, 10] (beyond 9.01 tanh rounds
    # to +-1), the steps around 0.75, and |z| from the subnormals up.
    grid = np.arange(-10 * 4096, 10 * 4096 + 1, dtype=np.float64) / 4096
    near_branch = np.float32(0.75) + np.arange(-64, 65) * np.float32(2 ** -24)
    small = np.geomspace(float(np.finfo(np.float32).smallest_subnormal), 1, 20001)
    z = np.concatenate([grid, near_branch, small, -small]).astype(np.float32)
    with no_fp_warnings():
        got = kernels.tanh(z.reshape(1, -1)).ravel()
        mirrored = kernels.tanh(-z.reshape(1, -1)).ravel()
    np.testing.assert_array_equal(mirrored, -got)  # odd, bit for bit
    want = oracle.tanh(z.astype(np.float64))
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    err = np.abs(got.astype(np.float64) - want)
    assert (err <= 4 * EPS[np.float32] * np.abs(want) + 2 * tiny).all()
    specials = np.array([[0.0, -0.0, np.inf, -np.inf, np.nan, 9.1, -20.0]], np.float32)
    t = kernels.tanh(specials).ravel()
    assert t[0] == 0 and not np.signbit(t[0]) and t[1] == 0 and np.signbit(t[1])
    assert t[2] == 1 and t[3] == -1 and np.isnan(t[4]) and t[5] == 1 and t[6] == -1


@pytest.mark.parametrize("dtype", DTYPES, ids=_tid)
def test_softmax_large_inputs(dtype):
    big = float(np.finfo(dtype).max) / 2
    rows = [[1e4, 1e4 - 1, 1e4 - 50, -1e4],
            [-1e4, -1e4 + 2, -1e4 + 1, -1e4],
            [710.0, 709.0, 0.0, -710.0],
            [big, -big, 0.0, big / 3],
            [3.0, 3.0, 3.0, 3.0]]
    z = np.array(rows, dtype)
    with no_fp_warnings():
        got = kernels.softmax(z)
        kernels.softmax(z.copy(), out=z)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(z, got)
    np.testing.assert_array_equal(got[4], np.full(4, 0.25, dtype))
    assert got[3, 1] == 0 and got[3, 2] == 0 and got[3, 3] == 0 and got[3, 0] == 1
    np.testing.assert_allclose(got.sum(axis=1, dtype=np.float64), 1, rtol=4 * EPS[dtype])
    _check_elementwise("softmax", got[:3], [np.array(rows[:3], dtype)], dtype)


# ---- threads, CPU dispatch and info() ----


def test_set_num_threads_round_trip(restore_threads):
    x = np.random.default_rng(16).standard_normal((300, 301))
    results = []
    for n in (1, 3, 2):
        nnfast.set_num_threads(n)
        assert nnfast.get_num_threads() == n and nnfast.info()["threads"] == n
        results.append(kernels.softmax(x))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_info():
    info = nnfast.info()
    assert {"version", "isa", "supported_isas", "openmp", "threads", "blocking"} <= set(info)
    assert isinstance(info["version"], str) and info["version"] == nnfast.__version__
    assert isinstance(info["supported_isas"], list) and "ref" in info["supported_isas"]
    assert all(isinstance(name, str) for name in info["supported_isas"])
    assert info["isa"] == _kernels.get_arch() and info["isa"] in info["supported_isas"]
    assert isinstance(info["openmp"], bool)
    assert isinstance(info["threads"], int) and info["threads"] >= 1
    assert set(info["blocking"]) == {"float32", "float64"}
    for blocking in info["blocking"].values():
        assert set(blocking) == {"mr", "nr", "mc", "kc", "nc", "dot_kb"}
        assert all(isinstance(v, int) and v >= 1 for v in blocking.values())


def test_arch_dispatch_in_process():
    current = _kernels.get_arch()
    assert ARCHS[0] == "ref" and current in ARCHS
    for name in ARCHS:
        with using_arch(name):
            assert _kernels.get_arch() == name
            assert nnfast.info()["isa"] == name
            assert _kernels.blocking(np.float32)["mr"] >= 1
    assert _kernels.get_arch() == current


def test_nnfast_arch_environment_variable():
    """NNFAST_ARCH picks the micro-kernel at import; a bad value stops the import."""
    code = "import nnfast; print(nnfast.info()['isa'])"
    env = dict(os.environ, NNFAST_ARCH="ref")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ref"
    env["NNFAST_ARCH"] = "pentium4"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith("ImportError") and "'pentium4'" in message and "'ref'" in message
    assert "NNFAST_ARCH" in run.stderr


# ---- no reads or writes outside the operands ----

GUARD_SCRIPT = textwrap.dedent(r"""
    import ctypes, mmap, sys
    import numpy as np
    from nnfast import _kernels, kernels

    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    keep = []

    def guarded(values, dtype, at_end):
        # values copied into memory whose last (at_end) or first byte touches a page
        # that cannot be read or written.
        values = np.asarray(values)
        nbytes = values.size * np.dtype(dtype).itemsize
        pages = max(1, -(-nbytes // PAGE))
        mm = mmap.mmap(-1, (pages + 2) * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
        offset = PAGE + (pages * PAGE - nbytes if at_end else 0)
        arr = np.frombuffer(mm, dtype, values.size, offset).reshape(values.shape)
        arr[...] = values
        for p in (0, pages + 1):
            if libc.mprotect(base + p * PAGE, PAGE, 0) != 0:
                raise OSError(ctypes.get_errno(), "mprotect")
        keep.append(mm)
        return arr

    def say(*what):
        print(*what, flush=True)

    rng = np.random.default_rng(0)
    for arch in _kernels.supported_archs():
        _kernels.set_arch(arch)
        for dtype in (np.float32, np.float64):
            bs = _kernels.blocking(dtype)
            shapes = [(1, 1, 1), (7, 13, 5), (bs["mr"] + 1, bs["nr"] + 1, 3),
                      (13, 2 * bs["nr"] - 1, 17), (bs["mr"] - 1, bs["nr"] - 1, bs["kc"] + 1),
                      (150, 70, 300)]
            for m, n, k in shapes:
                for ta in (False, True):
                    for tb in (False, True):
                        av = rng.standard_normal((k, m) if ta else (m, k))
                        bv = rng.standard_normal((n, k) if tb else (k, n))
                        want = (av.T if ta else av) @ (bv.T if tb else bv)
                        for at_end in (True, False):
                            for flip in (False, True):
                                say(arch, dtype.__name__, (m, n, k), ta, tb, at_end, flip)
                                a = guarded(av[::-1, ::-1] if flip else av, dtype, at_end)
                                b = guarded(bv[::-1, ::-1] if flip else bv, dtype, at_end)
                                out = guarded(np.zeros((m, n)), dtype, at_end)
                                if flip:
                                    a, b = a[::-1, ::-1], b[::-1, ::-1]
                                kernels.matmul(a, b, out, trans_a=ta, trans_b=tb, beta=1.0)
                                assert np.allclose(out, want, rtol=1e-3, atol=1e-3), "wrong"
            for shape in [(1, 1), (7, 13), (300, 301)]:
                x = rng.standard_normal(shape)
                for at_end in (True, False):
                    say("elementwise", arch, dtype.__name__, shape, at_end)
                    xg = guarded(x, dtype, at_end)
                    for name in ("sigmoid", "sigmoid_prime", "sigmoid_prime_from_output",
                                 "tanh", "tanh_prime_from_output", "relu", "relu_prime",
                                 "softmax"):
                        getattr(kernels, name)(xg, out=guarded(np.zeros(shape), dtype, at_end))
                    kernels.hadamard(xg, xg[::-1], out=guarded(np.zeros(shape), dtype, at_end))
                    kernels.add_bias(xg, guarded(x[0], dtype, at_end),
                                     out=guarded(np.zeros(shape), dtype, at_end))
                    kernels.column_sums(xg, out=guarded(np.zeros(shape[1]), dtype, at_end))
    say("done")
""")


def test_kernels_stay_inside_their_operands():
    """Every operand touches an inaccessible page at one end: a read or write past it
    (a vector load or store over the edge of a tile) kills the process."""
    run = subprocess.run([sys.executable, "-c", GUARD_SCRIPT], capture_output=True, text=True,
                         timeout=300)
    last = run.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert run.returncode == 0, (f"exit status {run.returncode} during case {last[0]}\n"
                                 f"{run.stderr[-2000:]}")
    assert last == ["done"]
