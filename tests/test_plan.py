"""The planner (csrc/plan.c, nnfast.plan): its choices change speed, never bits; it
times each GEMM signature once, on scratch copies; its wisdom round-trips and refuses
another machine's; NNFAST_PLAN is checked; networks plan side by side in threads."""
import json
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnfast
from nnfast import _kernels, kernels, oracle, plan
from engine_checks import engine_train, fresh_plans, thresholds, using_arch

DTYPES = [np.float32, np.float64]
# the chain family's paths, as the planner lists them: the direct path in tiles of
# two-thirds of MR rows and of MR, then the packed path
CHAIN_PATHS = ("direct_short", "direct", "packed")


@pytest.fixture(autouse=True)
def measured_plans():
    """Each test starts with no plans in measure mode and leaves none."""
    with fresh_plans("measure"):
        yield


def _train(dtype, n_threads, seed=3):
    """A dropout net at odd sizes, one epoch at mini-batch 33: its products are above
    the estimate rule's 2^20 flops and its dropout above its 65,536 elements."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((99, 2011)).astype(dtype)
    y = rng.integers(0, 7, 99)
    net = nnfast.Network([nnfast.FullyConnectedLayer(2011, 37, p_dropout=0.3),
                          nnfast.FullyConnectedLayer(37, 7)], cost="cross-entropy",
                         dtype=dtype, seed=seed)
    net.SGD((X, y), 1, 33, 0.5, lmbda=0.1, n_threads=n_threads, progress=False)
    return [w.copy() for w in net.weights] + [b.copy() for b in net.biases]


def _assert_same(got, want):
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_estimate_and_measure_and_forced_choices_give_the_same_weights(dtype):
    """The same seed gives the same weights bit for bit whatever the planner chose:
    estimated, measured, every product on each kernel table it may choose, every
    product of the chain family on its direct and on its packed path (k above and
    below the canonical KC), every kernel on one thread, every kernel on all three."""
    plan.set_mode("estimate")
    want = _train(dtype, 3)
    assert {p["how"] for p in plan.plans()} == {"estimated"}
    assert any(p["team"] == 3 for p in plan.plans())  # the rule splits the big products
    plan.forget()
    plan.set_mode("measure")
    _assert_same(_train(dtype, 3), want)
    assert {p["how"] for p in plan.plans()} == {"measured"}
    measured = plan.plans()
    in_use = _kernels.get_arch()
    for isa in _kernels.supported_archs():  # every table the planner may choose
        if _kernels.gemm_same_bits(in_use, isa):
            plan.forget()
            for p in measured:
                _kernels.put_gemm_plan(dict(p, isa=isa))
            _assert_same(_train(dtype, 3), want)
    chain = [p for p in measured if p["path"] in CHAIN_PATHS]  # the chain's choices
    assert chain
    for path in CHAIN_PATHS:  # every chain product on each of its paths
        plan.forget()
        for p in measured:
            _kernels.put_gemm_plan(dict(p, path=path) if p in chain else p)
        _assert_same(_train(dtype, 3), want)
    for team in (1, 3):
        forced = [dict(p, team=team) for p in measured]
        plan.forget()
        for p in forced:
            _kernels.put_gemm_plan(p)
        _kernels.put_parallel_plan(thresholds(0 if team == 3 else 2**62))
        _assert_same(_train(dtype, 3), want)
        if team == 3:
            # A layer split by units plans each thread's part on one thread. (Forced
            # onto one thread, no layer splits, and the whole products a split layer
            # never ran are planned afresh, on the team their timing picks.)
            assert {p["team"] for p in plan.plans() if p["n_threads"] == 3} == {3}
    _assert_same(_train(dtype, 1), want)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_a_signature_is_timed_once_on_a_scratch_c(dtype):
    """The first product of a signature times 3, 2 and 1 threads on each of the chain
    family's paths (direct in short tiles, direct, packed), three runs each (one
    warm-up, two timed; one run for a team that loses by 2x at once, and none for the
    teams below it), on a scratch C: the caller's C (read, beta != 0) gives the
    oracle's answer and the same bits as the second call, which times nothing."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((61, 53)).astype(dtype)
    b = rng.standard_normal((29, 61)).astype(dtype)  # used transposed
    c = rng.standard_normal((53, 29)).astype(dtype)
    runs = plan.timed_runs()
    first = kernels.matmul(a, b, c.copy(), trans_a=True, trans_b=True, alpha=0.5, beta=-1.5,
                           n_threads=3)
    (made,) = plan.plans()
    in_use = _kernels.get_arch()
    paths = [cand["path"] for cand in made["candidates"] if cand["isa"] == in_use]
    assert paths[0] == "direct_short" and set(paths) == set(CHAIN_PATHS)  # the chain family
    for path in CHAIN_PATHS:
        teams = [cand["team"] for cand in made["candidates"]
                 if cand["isa"] == in_use and cand["path"] == path]
        assert teams == [3, 2, 1][:len(teams)]
    assert len([cand for cand in made["candidates"] if cand["isa"] == in_use]) >= 2
    assert made["candidates"][0]["isa"] == in_use
    assert all(_kernels.gemm_same_bits(in_use, cand["isa"]) for cand in made["candidates"])
    listed = len(made["candidates"])
    timed = plan.timed_runs() - runs
    assert listed <= timed <= 3 * listed
    assert made["planning_seconds"] > 0 and made["how"] == "measured"
    assert (made["m"], made["n"], made["k"], made["n_threads"]) == (53, 29, 61, 3)
    assert made["beta_zero"] is False
    second = kernels.matmul(a, b, c.copy(), trans_a=True, trans_b=True, alpha=0.5, beta=-1.5,
                            n_threads=3)
    assert plan.timed_runs() - runs == timed and len(plan.plans()) == 1
    np.testing.assert_array_equal(first, second)
    want = oracle.matmul(a.T.astype(np.float64), b.T.astype(np.float64)) * 0.5 - 1.5 * c
    # Each element sums 61 products: forward error at most 61 u sum |a||b| (Higham
    # 3.5), plus the roundings of the scaling and of beta * c.
    u = np.finfo(dtype).eps / 2
    bound = 64 * u * (0.5 * np.abs(a.T) @ np.abs(b.T) + 1.5 * np.abs(c))
    assert np.all(np.abs(first - want) <= bound)


def test_a_team_is_warmed_up_for_milliseconds_before_it_is_timed():
    """A core that idled runs slow for milliseconds once it has work again, so a
    team's first runs would make it lose to one thread: the planner repeats a team's
    product for 3 ms (plan.c, TEAM_WARM_SECONDS) before timing it, unless a team ran for
    it that recently, as none has after the sleep. The warm-up counts as one run."""
    time.sleep(0.01)
    runs = plan.timed_runs()
    a = np.ones((10, 31), np.float32)
    kernels.matmul(a, a, trans_a=True, n_threads=2)  # 31 x 31 by k = 10: microseconds
    (made,) = plan.plans()
    assert [cand["team"] for cand in made["candidates"]][0] == 2
    assert made["planning_seconds"] >= 3e-3
    assert plan.timed_runs() - runs <= 3 * len(made["candidates"])


def test_a_product_of_a_millisecond_or_more_is_timed_twice_a_candidate():
    """Its warm-up counts as a timing, and one more run is timed (plan.c, LONG_SECONDS:
    half a millisecond; this product's 268 million flops take longer on any core
    below 500 GFLOP/s)."""
    a = np.ones((512, 512), np.float32)
    runs = plan.timed_runs()
    kernels.matmul(a, a, n_threads=1)
    (made,) = plan.plans()
    assert len(made["candidates"]) >= 2  # the direct and the packed path
    assert all(cand["seconds"] >= 0.5e-3 for cand in made["candidates"])
    assert len(made["candidates"]) <= plan.timed_runs() - runs <= 2 * len(made["candidates"])


def test_a_product_planned_for_another_thread_count_reuses_its_timings():
    """A team of t threads runs a product the same whatever thread count asked for it:
    planned for one thread and then for two, the two-thread plan takes the one-thread
    candidates' seconds from the first plan and times only its teams."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((61, 53)).astype(np.float32)
    b = rng.standard_normal((53, 29)).astype(np.float32)
    kernels.matmul(a, b, n_threads=1)
    (one,) = plan.plans()
    runs = plan.timed_runs()
    kernels.matmul(a, b, n_threads=2)
    (two,) = [p for p in plan.plans() if p["n_threads"] == 2]
    ones = {(c["isa"], c["path"]): c["seconds"] for c in one["candidates"]}
    assert {(c["isa"], c["path"]): c["seconds"] for c in two["candidates"]
            if c["team"] == 1} == ones
    teams = [c for c in two["candidates"] if c["team"] == 2]
    assert teams and plan.timed_runs() - runs <= 3 * len(teams)


def test_one_candidate_is_not_timed():
    """One thread on the one table set_arch pins (as NNFAST_ARCH does), and a product
    of the dot family (both operands contiguous along k) whose k is too short for
    blocks, which has one path: no choice."""
    _kernels.set_arch(_kernels.get_arch())
    runs = plan.timed_runs()
    kernels.matmul(np.ones((9, 7)), np.ones((5, 7)), trans_b=True, n_threads=1)
    (made,) = plan.plans()
    assert (made["team"], made["how"], made["candidates"]) == (1, "measured", [])
    assert plan.timed_runs() == runs


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_long_dot_products_time_k_in_blocks_and_give_the_same_weights(dtype):
    """A product of the dot family with k of at least two of the dot path's blocks
    times k in blocks first (they win a tie) and k whole; a shorter k has the one
    path. A net whose first layer's forward product is such (10 x 30 x 2011) trains
    to the same bits with each of its long products forced onto either path."""
    kb = _kernels.blocking(dtype)["dot_kb"]
    a, b = np.ones((10, 2 * kb), dtype), np.ones((7, 2 * kb), dtype)
    with using_arch(_kernels.get_arch()):  # one table: the paths alone
        kernels.matmul(a, b, trans_b=True, n_threads=1)
    (made,) = plan.plans()
    assert [c["path"] for c in made["candidates"]] == ["k_blocks", "rule"]
    assert made["path"] in ("k_blocks", "rule") and made["how"] == "measured"
    plan.forget()
    with using_arch(_kernels.get_arch()):
        kernels.matmul(a[:, 1:], b[:, 1:], trans_b=True, n_threads=1)
    (made,) = plan.plans()
    assert (made["path"], made["candidates"]) == ("rule", [])

    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 2011)).astype(dtype)
    y = rng.integers(0, 7, 40)

    def train():
        net = nnfast.Network([2011, 30, 7], cost="cross-entropy", dtype=dtype, seed=4)
        net.SGD((X, y), 1, 10, 0.5, lmbda=0.1, n_threads=1, progress=False)
        return [w.copy() for w in net.weights] + [b.copy() for b in net.biases]

    plan.forget()
    want = train()
    measured = plan.plans()
    long = [p for p in measured if {c["path"] for c in p["candidates"]} == {"k_blocks", "rule"}]
    assert [(p["m"], p["n"], p["k"]) for p in long] == [(10, 30, 2011)]
    for path in ("k_blocks", "rule"):
        plan.forget()
        for p in measured:
            _kernels.put_gemm_plan(dict(p, path=path) if p in long else p)
        _assert_same(train(), want)
        assert [p["path"] for p in plan.plans() if p["k"] == 2011] == [path]


def test_estimate_times_nothing():
    plan.set_mode("estimate")
    runs = plan.timed_runs()
    a = np.ones((10, 784), np.float32)
    kernels.matmul(a, a.T, n_threads=2)
    assert plan.timed_runs() == runs
    assert plan.plans()[0]["how"] == "estimated" and plan.plans()[0]["candidates"] == []
    assert plan.parallel()["how"] == "estimated"
    assert plan.parallel()["threshold"] == {"elementwise": 16384, "pool": 65536,
                                            "dropout": 65536, "exp": 16384}


class _QuadraticCost:
    """A cost the engine does not know: the chunk runs through train_forward and
    train_backward, BP1 in Python."""

    @staticmethod
    def fn(a, y):
        return 0.5 * np.sum((a - y) ** 2)

    @staticmethod
    def delta(z, a, y):
        return (a - y) * a * (1 - a)


@pytest.mark.parametrize("cost", ["quadratic", _QuadraticCost], ids=["engine", "caller"])
def test_an_epochs_last_partial_mini_batch_is_not_timed(cost, tmp_path):
    """116 rows at mini-batch 33: three steps of 33 rows, then one of 17, the epoch's
    last. That one step's products run on the estimate rule's choice, untimed, cached
    as provisional (plan.c, nnf_plan_unmeasured), with the same bits, and are left out
    of wisdom; a run whose mini-batches have 17 rows plans them."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((116, 2011)).astype(np.float32)
    y = rng.integers(0, 7, 116)

    def train(mini_batch_size):
        net = nnfast.Network([2011, 37, 7], cost=cost, seed=8)
        net.SGD((X, y), 1, mini_batch_size, 0.5, n_threads=2, progress=False)
        return net.weights + net.biases

    def how(rows):  # how the signatures with `rows` rows were planned
        return {p["how"] for p in plan.plans() if rows in (p["m"], p["k"])}

    plan.set_mode("estimate")
    want = train(33)
    assert how(17) == {"estimated"}
    plan.forget()
    plan.set_mode("measure")
    _assert_same(train(33), want)
    assert how(33) == {"measured"} and how(17) == {"provisional"}
    _assert_same(train(33), want)  # its partial mini-batch finds the provisional plans
    assert how(17) == {"provisional"}
    plan.export_wisdom(tmp_path / "wisdom.json")
    wisdom = json.loads((tmp_path / "wisdom.json").read_text())
    assert wisdom["gemm"] and all(17 not in (p["m"], p["k"]) for p in wisdom["gemm"])
    # Planned when met in a whole step: not every one is (the estimate rule split the
    # first layer by units for 17 rows; a measured plan may keep it whole).
    train(17)
    assert "measured" in how(17)


def test_planning_a_network_is_bounded_by_runs_per_candidate():
    """Chapter 1's network at mini-batch 10 on 2 threads: each product is timed at most
    three times per candidate (at least once), at most 1 + ceil(log2 t) candidates per
    kernel table and path (t: its threads; the first layer's parts run on one each),
    and planning again costs nothing. Its run leaves the network's thread trial to the
    network's own chunks (two mini-batches of zeros would take the trial's turns)."""
    net = nnfast.Network([784, 30, 10], seed=0)
    runs = plan.timed_runs()
    made = plan.plan_network(net, 10, 2)
    assert made and all(p["how"] == "measured" for p in made)
    assert plan.teams() == []
    tables = sum(_kernels.gemm_same_bits(_kernels.get_arch(), isa)
                 for isa in _kernels.supported_archs())
    for p in made:  # a signature with one candidate times nothing and lists none
        assert len(p["candidates"]) != 1
        paths = len({c["path"] for c in p["candidates"]})  # a family's two paths, or the rule
        assert len(p["candidates"]) <= tables * paths * (1 + math.ceil(math.log2(p["n_threads"])))
    listed = sum(len(p["candidates"]) for p in made)
    assert listed <= plan.timed_runs() - runs <= 3 * listed
    assert plan.plan_network(net, 10, 2) == []
    assert plan.parallel()["how"] == "measured"
    assert all(t >= 0 for t in plan.parallel()["threshold"].values())


def test_the_planner_chooses_among_tables_only_where_they_give_the_same_bits():
    """nnf_gemm_same_bits is the kernel tables' promise: where it holds for two ISAs
    this CPU runs, their products are bit-identical, and only then are both timed."""
    isas = _kernels.supported_archs()
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((37, 301)), rng.standard_normal((301, 45))
    previous = _kernels.get_arch()
    results = {}
    try:
        for isa in isas:
            _kernels.set_arch(isa)
            results[isa] = [kernels.matmul(a.astype(dt), b.astype(dt), n_threads=2)
                            for dt in DTYPES]
            assert {c["isa"] for p in plan.plans() if p["isa_in_use"] == isa
                    for c in p["candidates"]} == {isa}  # NNFAST_ARCH / set_arch pins it
    finally:
        _kernels.set_arch(previous)
    for x in isas:
        assert _kernels.gemm_same_bits(x, x)
        for y in isas:
            if _kernels.gemm_same_bits(x, y):
                _assert_same(results[x], results[y])


TABLES_TIMED = """
import numpy as np, nnfast
from nnfast import _kernels, kernels, plan
kernels.matmul(np.ones((40, 300)), np.ones((300, 50)), n_threads=2)
in_use = _kernels.get_arch()
same = {isa for isa in _kernels.supported_archs() if _kernels.gemm_same_bits(in_use, isa)
        and (isa != "ref" or in_use == "ref")}
timed = {c["isa"] for c in plan.plans()[0]["candidates"]}
print(timed == same, plan.plans()[0]["candidates"][0]["isa"] == in_use)
"""


def test_every_table_with_the_same_bits_is_timed_unless_nnfast_arch_chose_one():
    """In a process where NNFAST_ARCH and set_arch chose nothing, the candidates are
    the table in use first, then every other SIMD table the CPU runs that gives its
    bits (the scalar reference kernels are never a SIMD CPU's fastest)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NNFAST_ARCH", "NNFAST_PLAN")}
    run = subprocess.run([sys.executable, "-c", TABLES_TIMED], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "True"]


def _busy(stop):
    """Keep a core busy, mostly outside the GIL, until stop is set."""
    a = np.ones(1 << 16)
    while not stop.is_set():
        np.sum(a)


def test_a_faster_fork_join_refines_the_thresholds():
    """plan.refine_parallel times the fork/join again: a faster time replaces the
    plan's (the first may have met another library's threads spinning), with the
    thresholds it gives, ceil(4 f / c) for each kind; a slower one changes nothing.
    Here the first timing meets a busy core, the later ones do not."""
    stop = threading.Event()
    busy = threading.Thread(target=_busy, args=(stop,))
    busy.start()
    try:
        before = plan.parallel()
    finally:
        stop.set()
        busy.join()
    assert before["how"] == "measured"
    for _ in range(20):
        plan.refine_parallel()
        now = plan.parallel()
        assert now["how"] == "measured"
        assert now["fork_join_seconds"] <= before["fork_join_seconds"]
        assert now["element_seconds"] == before["element_seconds"]
        for kind, seconds in now["element_seconds"].items():
            want = math.ceil(4.0 * now["fork_join_seconds"] / seconds)
            assert now["threshold"][kind] == min(want, 10**15), kind
        before = now


def test_refining_leaves_an_imported_or_estimated_plan_as_it_is():
    _kernels.put_parallel_plan(thresholds(123))
    plan.refine_parallel()
    assert plan.parallel()["threshold"] == dict.fromkeys(_kernels.PLAN_WORK_KINDS, 123)
    assert plan.parallel()["how"] == "imported"
    plan.set_mode("estimate")
    plan.forget()
    estimated = plan.parallel()
    plan.refine_parallel()
    assert plan.parallel() == estimated


def test_each_epoch_on_several_threads_refines_the_fork_join(monkeypatch):
    calls = []
    monkeypatch.setattr(plan, "refine_parallel", lambda: calls.append(1))
    X = np.random.default_rng(0).random((40, 8)).astype(np.float32)
    y = np.arange(40) % 3
    net = nnfast.Network([8, 5, 3], seed=0)
    net.SGD((X, y), 2, 10, 0.5, n_threads=1, progress=False)
    assert calls == []
    net.SGD((X, y), 3, 10, 0.5, n_threads=2, progress=False)
    assert len(calls) == 3


def test_wisdom_round_trips(tmp_path):
    net = nnfast.Network([784, 30, 10], seed=0)
    made = plan.plan_network(net, 10, 2)
    thresholds = plan.parallel()
    path = tmp_path / "wisdom.json"
    plan.export_wisdom(path)
    assert [f.name for f in tmp_path.iterdir()] == ["wisdom.json"]  # no temporary left
    plan.forget()
    assert plan.plans() == []
    assert plan.import_wisdom(path) == len(made)
    got = plan.plans()
    keys = ("dtype", "m", "n", "k", "unit_stride", "beta_zero", "n_threads", "isa", "team")
    assert [{k: p[k] for k in keys} for p in got] == [{k: p[k] for k in keys} for p in made]
    assert {p["how"] for p in got} == {"imported"}
    assert plan.parallel()["threshold"] == thresholds["threshold"]
    assert plan.parallel()["how"] == "imported"
    runs = plan.timed_runs()
    assert plan.plan_network(net, 10, 2) == []  # every product found in the wisdom
    assert plan.timed_runs() == runs


def test_wisdom_naming_a_unit_stride_twice_is_refused(tmp_path):
    """The names' bits were summed: a name given twice made another layout, a plan
    the file never described."""
    plan.plan_network(nnfast.Network([784, 30, 10], seed=0), 10, 1)
    path = tmp_path / "wisdom.json"
    plan.export_wisdom(path)
    wisdom = json.loads(path.read_text())
    at = next(i for i, p in enumerate(wisdom["gemm"]) if p["unit_stride"])
    names = wisdom["gemm"][at]["unit_stride"]
    wisdom["gemm"][at]["unit_stride"] = [names[0]] + names
    path.write_text(json.dumps(wisdom))
    before = plan.plans()
    with pytest.raises(ValueError, match=rf"gemm\[{at}\]: unit_stride must be a list of "
                                         "distinct names"):
        plan.import_wisdom(path)
    assert plan.plans() == before


def test_foreign_or_malformed_wisdom_is_refused_before_anything_changes(tmp_path):
    plan.plan_network(nnfast.Network([784, 30, 10], seed=0), 10, 2)
    path = tmp_path / "wisdom.json"
    plan.export_wisdom(path)
    wisdom = json.loads(path.read_text())
    before = plan.plans()

    foreign = dict(wisdom, fingerprint=dict(wisdom["fingerprint"], cpu="Another CPU"))
    path.write_text(json.dumps(foreign))
    with pytest.raises(ValueError, match=r"another machine \(cpu 'Another CPU' there"):
        plan.import_wisdom(path)

    bad_team = json.loads(json.dumps(wisdom))
    bad_team["gemm"][-1]["team"] = bad_team["gemm"][-1]["n_threads"] + 1
    path.write_text(json.dumps(bad_team))
    with pytest.raises(ValueError, match=r"gemm\[\d+\]: team"):
        plan.import_wisdom(path)

    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not a wisdom file"):
        plan.import_wisdom(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="is not a wisdom file"):
        plan.import_wisdom(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="is not a wisdom file"):
        plan.import_wisdom(path)

    # Ints past C's 64 bits, which would overflow only as they reach C, after the
    # plans before them were cached.
    for where, key in (("gemm", "m"), ("parallel", "elementwise")):
        huge = json.loads(json.dumps(wisdom))
        if where == "gemm":
            huge["gemm"][-1][key] = 2**70
        else:
            huge["parallel"]["threshold"][key] = 2**70
        path.write_text(json.dumps(huge))
        with pytest.raises(ValueError, match="at most 2\\*\\*63 - 1"):
            plan.import_wisdom(path)
    huge = json.loads(json.dumps(wisdom))
    huge["parallel"]["fork_join_seconds"] = 10**400  # an int past any float
    path.write_text(json.dumps(huge))
    with pytest.raises(ValueError, match="seconds must be finite"):
        plan.import_wisdom(path)
    path.write_text(json.dumps(wisdom).replace('"m": ', '"m": ' + "9" * 5000, 1))
    with pytest.raises(ValueError, match="is not a wisdom file"):  # past int()'s digit limit
        plan.import_wisdom(path)
    with pytest.raises(ValueError, match="^path must not contain a NUL"):
        plan.import_wisdom(str(path) + "\0")
    path.write_text(json.dumps(dict(wisdom, conv=[5])))
    with pytest.raises(ValueError, match=r"conv\[0\]: expected an object, got int"):
        plan.import_wisdom(path)
    with pytest.raises(TypeError, match="^path must be a path"):
        plan.import_wisdom(3)
    assert plan.plans() == before


def test_set_mode_refuses_other_modes():
    with pytest.raises(ValueError, match=r"^set_mode: mode must be one of"):
        plan.set_mode("patient")
    assert plan.mode() == "measure"


@pytest.mark.parametrize("value,ok", [("estimate", True), (" Measure ", True),
                                      ("exhaustive", False)])
def test_nnfast_plan_is_read_and_checked_at_import(value, ok):
    env = dict(os.environ, NNFAST_PLAN=value)
    run = subprocess.run([sys.executable, "-c", "import nnfast; print(nnfast.plan.mode())"],
                         env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == value.strip().lower()
    else:
        assert run.returncode != 0
        assert "ImportError: NNFAST_PLAN='exhaustive': must be one of" in run.stderr


FORK_WHILE_PLANNING = """
import os, threading, time
import numpy as np
from nnfast import kernels, plan

stop = False
def planning():  # plans without end: forget, then a product and a kernel, again and again
    a = np.ones((30, 40))
    while not stop:
        plan.forget()
        kernels.matmul(a, a.T, n_threads=2)
        kernels.sigmoid(a, n_threads=2)  # measures the thresholds, holding their lock
worker = threading.Thread(target=planning)
worker.start()
hung = 0
for _ in range(20):
    pid = os.fork()
    if pid == 0:  # plans a product and the thresholds in the child
        kernels.matmul(np.ones((7, 9)), np.ones((9, 5)), n_threads=2)
        kernels.sigmoid(np.ones((7, 9)), n_threads=2)
        os._exit(0)
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        hung += 1
stop = True
worker.join()
print("hung", hung)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_plans_can_plan():
    """fork() never copies a planner lock held by another thread into the child
    (without the guard about half of these children hang)."""
    run = subprocess.run([sys.executable, "-c", FORK_WHILE_PLANNING], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["hung", "0"]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_two_threads_plan_and_train_at_once(dtype):
    """Two Python threads train two networks with the GIL released, both planning the
    same signatures at once: each gets the weights it gets alone."""
    want = [_train(dtype, 2, seed) for seed in (1, 2)]
    for _ in range(3):
        plan.forget()
        got = [None, None]
        barrier = threading.Barrier(2)

        def run(i):
            barrier.wait()
            got[i] = _train(dtype, 2, (1, 2)[i])

        workers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for g, w in zip(got, want):
            _assert_same(g, w)
        # Each signature planned and cached once; the runs' team trial takes both
        # networks' chunks in turn, so a product may be planned for 1 and 2 threads.
        signatures = [tuple(p[k] for k in ("dtype", "m", "n", "k", "beta_zero", "n_threads"))
                      + tuple(p["unit_stride"]) for p in plan.plans()]
        assert len(signatures) == len(set(signatures))


def _runs(*teams):
    """plan.Run of each team: every layer's count, the first layer split by units."""
    return [plan.Run(team) for team in teams]


def test_a_team_trial_warms_each_count_then_takes_turns_and_keeps_the_fastest_chunk():
    """A chunk to warm each count up, then the counts in turn, three timed chunks each,
    of which each one's median counts."""
    trial = plan.TeamTrial(4)
    four, one, two = _runs((4,), (1,), (2,))
    alone = plan.Run((1,), alone=True)
    chunks = [(four, 9.0), (one, 9.0), (alone, 9.0), (two, 9.0),  # a first chunk warms up
              (four, 2.5), (one, 4.0), (alone, 5.0), (two, 2.5),
              (four, 2.0), (one, 3.0), (alone, 4.5), (two, 3.5),
              (four, 6.0), (one, 3.5), (alone, 4.0), (two, 3.0)]  # an interrupted chunk
    for run, seconds in chunks:                                    # does not decide
        assert trial.chosen is None and trial.next_run() == run
        trial.record(run, seconds, 100)
    assert trial.chosen == four and trial.next_run() == four
    assert trial.seconds_per_row == {four: 0.025, one: 0.035, alone: 0.045, two: 0.03}
    trial.record(one, 0.1, 100)  # decided: later chunks change nothing
    assert trial.next_run() == four


def test_a_slow_stretch_of_the_machine_falls_on_every_candidate_alike():
    """Two slow chunks in a row (a neighbour's load on a shared machine) were all the
    timed chunks of the count tried then; taken in turns, each count keeps fast ones."""
    trial = plan.TeamTrial(2)
    chunk = 0
    while trial.chosen is None:
        run = trial.next_run()
        seconds = {(2,): 1.0, (1,): 1.6}[run.layer_threads] * (3.0 if chunk in (3, 4) else 1.0)
        trial.record(run, seconds, 10)
        chunk += 1
    assert trial.chosen == plan.Run((2,))


class _EngineSpy:
    """A network's engine that notes the threads each chunk is trained on."""

    def __init__(self, engine):
        self._engine, self.chunk_threads = engine, []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def train_chunk(self, *args):
        self.chunk_threads.append(args[10])  # (X, labels, rows, ..., work, n_threads, ...)
        return self._engine.train_chunk(*args)


def test_a_run_alone_trains_its_chunks_as_a_run_on_one_thread(monkeypatch):
    """The trial's run alone calls the engine as a run asked for one thread does (no
    team, no second thread copying ahead), every other run with the threads asked for;
    the weights are one thread's bits."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e5)  # many chunks a run
    rng = np.random.default_rng(6)
    X, y = rng.uniform(0, 1, (600, 30)).astype(np.float32), rng.integers(0, 4, 600)
    want = nnfast.Network([30, 20, 4], seed=3)
    want.SGD((X, y), 1, 5, 0.1, n_threads=1, progress=False)
    net = nnfast.Network([30, 20, 4], seed=3)
    spy = net._engine = _EngineSpy(net._engine)
    runs = []
    record = plan.TeamTrial.record
    monkeypatch.setattr(plan.TeamTrial, "record",
                        lambda trial, run, *args: (runs.append(run), record(trial, run, *args)))
    net.SGD((X, y), 1, 5, 0.1, n_threads=2, progress=False)
    assert sum(run.alone for run in runs) >= 1 + plan.TeamTrial.TIMED_ROUNDS
    assert spy.chunk_threads[:len(runs)] == [1 if run.alone else 2 for run in runs]
    for got, expected in zip(net.weights + net.biases, want.weights + want.biases):
        assert got.tobytes() == expected.tobytes()


def test_a_run_chosen_alone_wakes_no_other_thread(monkeypatch):
    """Once its trial has chosen the run alone, a call asked for two threads trains as
    one asked for one: each chunk on one thread, the weights' check after it on one,
    and no timing of the fork/join (a team's threads spin on their cores for a while
    after each region, beside the thread training alone). A run on a team still
    times it and checks on its threads."""
    rng = np.random.default_rng(7)
    X, y = rng.uniform(0, 1, (300, 30)).astype(np.float32), rng.integers(0, 4, 300)
    for chosen, threads in [(plan.Run((1, 1), alone=True), {1}), (plan.Run((2, 2)), {2})]:
        trial = plan.TeamTrial(2, 2)
        _run(trial, lambda run: 0.0 if run == chosen else 5.0)
        assert trial.chosen == chosen
        monkeypatch.setattr(plan, "team_trial", lambda *args: trial)
        net = nnfast.Network([30, 20, 4], seed=3)
        data = net.samples((X, y))  # checked here, on every thread
        spy = net._engine = _EngineSpy(net._engine)
        refined, checked = [], []
        monkeypatch.setattr(plan, "refine_parallel", lambda: refined.append(True))
        all_finite = _kernels.all_finite
        monkeypatch.setattr(_kernels, "all_finite", lambda x, n_threads=None: (
            checked.append(n_threads), all_finite(x, n_threads=n_threads))[1])
        net.SGD(data, 1, 5, 0.1, n_threads=2, progress=False)
        monkeypatch.setattr(_kernels, "all_finite", all_finite)
        assert set(spy.chunk_threads) == threads and set(checked) == threads
        assert refined == ([] if chosen.alone else [True])


def test_one_lucky_chunk_does_not_decide():
    """A team whose chunks vary (threads of a shared machine) is judged by its median
    chunk: one chunk twice as fast as its others does not make it the fastest."""
    two, alone = plan.Run((2,)), plan.Run((1,), alone=True)
    trial = plan.TeamTrial(2)
    chunks = {two: [9.0, 0.8, 2.0, 2.1], plan.Run((1,)): [9.0, 3.0, 3.0, 3.0],
              alone: [9.0, 1.5, 1.6, 1.5]}
    while trial.chosen is None:
        run = trial.next_run()
        trial.record(run, chunks[run].pop(0), 1)
    assert trial.seconds_per_row[two] == 2.0
    assert trial.chosen == alone


def test_a_team_trial_checks_its_thread_and_layer_counts():
    with pytest.raises(TypeError, match="n_threads must be a positive int"):
        plan.TeamTrial("2")
    with pytest.raises(ValueError, match="n_threads must be in"):
        plan.TeamTrial(0)
    with pytest.raises(TypeError, match="n_layers must be an int"):
        plan.TeamTrial(2, 2.0)
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        plan.TeamTrial(2, 0)
    with pytest.raises(TypeError, match="first_splits_rows must be a bool, got int"):
        plan.TeamTrial(2, 2, 1)


def test_a_team_trial_keeps_one_thread_unless_more_are_faster_by_the_margin():
    """A run alone on one thread is kept within the margin, one thread of four and the
    thread that copies the next mini-batch next; of two, that uses both threads, so
    the faster is kept."""
    four, two, one = _runs((4,), (2,), (1,))
    alone = plan.Run((1,), alone=True)
    trial = plan.TeamTrial(4)
    _run(trial, {four: 1.0, two: 1.5, one: 1.04, alone: 1.04}.get)
    assert trial.chosen == alone
    trial = plan.TeamTrial(4)
    _run(trial, {four: 1.0, two: 1.5, one: 1.04, alone: 1.2}.get)
    assert trial.chosen == one
    trial = plan.TeamTrial(4)  # half the threads asked for, within the margin
    _run(trial, {four: 1.0, two: 1.02, one: 1.5, alone: 1.5}.get)
    assert trial.chosen == two
    trial = plan.TeamTrial(2)
    _run(trial, {two: 1.0, one: 1.04, alone: 1.2}.get)
    assert trial.chosen == two
    trial = plan.TeamTrial(2)
    trial.record(two, 1.0, 10)  # (2,)'s warm-up
    trial.record(two, 1.0, 10)  # (1,)'s is due: a chunk on the wrong count is not counted
    trial.record(one, 5.0, 10)  # (1,)'s warm-up
    trial.record(alone, 5.0, 10)  # the warm-up of (1,) alone
    assert trial.seconds_per_row == {} and trial.next_run() == two
    trial.record(two, 1.0, 10)
    assert trial.seconds_per_row == {two: 0.1} and trial.next_run() == one


def _run(trial, seconds_of):
    """Records each chunk of 10 rows the trial (or retrial) asks for until it has
    chosen: a run's
    first (its warm-up) takes 99 s, its timed ones seconds_of(run) and 1, 0 and 2 s
    more in turn (a median of seconds_of(run) + 1). Returns the runs in the order
    first asked for."""
    tried, chunks = [], {}
    while trial.trying:
        run = trial.next_run()
        n = chunks.get(run, 0)
        chunks[run] = n + 1
        if n == 0:
            tried.append(run)
        trial.record(run, 99.0 if n == 0 else seconds_of(run) + (1.0, 0.0, 2.0)[(n - 1) % 3],
                     10)
    return tried


def test_the_trial_runs_again_after_its_retrial_seconds_keeping_its_choice_till_then():
    """RETRIAL_SECONDS of chunks on the chosen run, then the trial again from its first
    round (each candidate warmed up again, its earlier chunks forgotten), the choice
    kept and reported meanwhile: where the second core has slowed, the run alone is
    chosen; where it is fast again at the next retrial, the team."""
    two, one, alone = plan.Run((2,)), plan.Run((1,)), plan.Run((1,), alone=True)
    trial = plan.TeamTrial(2)
    _run(trial, {two: 1.0, one: 2.0, alone: 2.0}.get)
    assert trial.chosen == two and trial.retrials == 0 and not trial.trying
    for second_core, chosen in [(3.0, alone), (1.0, two)]:
        before, trained = trial.chosen, 0.0
        while not trial.trying:
            assert trial.next_run() == before
            trial.record(before, 1.0, 10)
            trained += 1.0
        assert trained == plan.TeamTrial.RETRIAL_SECONDS and trial.seconds_per_row == {}
        assert trial.chosen == before and trial.next_run() == two  # its warm-up
        tried = _run(trial, {two: 1.0 * second_core, one: 2.0 * (1 + second_core) / 2,
                             alone: 2.0}.get)
        assert tried == [two, one, alone] and trial.chosen == chosen
        assert trial.as_dict()["retrials"] == trial.retrials
    assert trial.retrials == 2


def test_retrials_change_no_bit_of_the_weights(monkeypatch):
    """A trial that runs again after every chunk on its choice switches a run between
    its candidates chunk after chunk: the chunks follow it, a retrial's chunks are as
    short as a trial's, and the weights are one thread's."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e5)  # many chunks a run
    monkeypatch.setattr(plan.TeamTrial, "RETRIAL_SECONDS", 0.0)
    rng = np.random.default_rng(8)
    X, y = rng.uniform(0, 1, (900, 30)).astype(np.float32), rng.integers(0, 4, 900)
    want = nnfast.Network([30, 20, 4], seed=3)
    want.SGD((X, y), 2, 5, 0.1, n_threads=1, progress=False)
    trial = plan.TeamTrial(2, 2)
    monkeypatch.setattr(plan, "team_trial", lambda *args: trial)
    net = nnfast.Network([30, 20, 4], seed=3)
    spy = net._engine = _EngineSpy(net._engine)
    runs, rows = [], []
    record = plan.TeamTrial.record

    def spy_record(trial, run, seconds, n):
        runs.append(run)
        rows.append((trial.trying, n))
        record(trial, run, seconds, n)
    monkeypatch.setattr(plan.TeamTrial, "record", spy_record)
    net.SGD((X, y), 2, 5, 0.1, n_threads=2, progress=False)
    assert trial.retrials >= 1
    assert spy.chunk_threads == [1 if run.alone else 2 for run in runs]
    fewest = rows[0][1]  # the first trial's first chunk
    assert fewest < 100 and sum(trying for trying, _ in rows) > 2 * len(runs) // 3
    assert all(n <= fewest for trying, n in rows if trying)
    for got, expected in zip(net.weights + net.biases, want.weights + want.biases):
        assert got.tobytes() == expected.tobytes()


def test_a_team_trial_then_tries_each_layer_on_the_other_count():
    """After every layer on all threads and every layer on one, each layer in turn
    flips from the faster of the two; the fastest team is kept."""
    trial = plan.TeamTrial(2, 3)
    # A layer on two threads saves 1 s, but the middle one costs 3 s more there.
    cost = {0: -1.0, 1: 3.0, 2: -1.0}
    tried = _run(trial, lambda run: 10 + sum(cost[i] for i, t in enumerate(run.layer_threads)
                                             if t == 2))
    # (1, 1, 1) alone is the fastest of the first round with the fewest threads.
    assert tried == _runs((2, 2, 2), (1, 1, 1)) + [plan.Run((1, 1, 1), alone=True)] + _runs(
        (2, 1, 1), (1, 2, 1), (1, 1, 2))
    assert trial.chosen == plan.Run((2, 1, 1))  # (2, 1, 2) was never tried: one flip at a time
    assert trial.as_dict()["chosen"] == [2, 1, 1] and trial.as_dict()["alone"] is False
    assert {"layer_threads": [1, 2, 1], "first_by_rows": False, "alone": False,
            "seconds": 1.4} in trial.as_dict()["seconds_per_row"]


def test_a_team_trial_prefers_fewer_threads_in_all_within_the_margin():
    trial = plan.TeamTrial(4, 2)
    tried = _run(trial, lambda run: {(4, 4): 1.0, (1, 1): 2.0, (2, 2): 1.5, (1, 4): 1.02,
                                     (4, 1): 1.2}[run.layer_threads])
    assert tried == _runs((4, 4), (1, 1)) + [plan.Run((1, 1), alone=True)] + _runs(
        (2, 2), (1, 4), (4, 1))
    assert trial.chosen == plan.Run((1, 4))


def test_a_team_trial_tries_fewer_threads_per_layer_down_to_two():
    """Asked for 8 threads, the first round times every layer on 8, 4 and 2; a layer
    on one thread then flips to the count of the fastest of those teams."""
    trial = plan.TeamTrial(8, 2)
    alone = plan.Run((1, 1), alone=True)
    tried = _run(trial, lambda run: {(8, 8): 3.0, (4, 4): 2.5, (2, 2): 2.0, (1, 1): 1.5,
                                     (2, 1): 1.0, (1, 2): 1.6}[run.layer_threads])
    assert tried == _runs((8, 8), (1, 1)) + [alone] + _runs((4, 4), (2, 2), (2, 1), (1, 2))
    assert trial.chosen == plan.Run((2, 1))


def test_a_team_trial_times_a_dense_first_layer_split_by_rows_too():
    """Where the first layer can split the mini-batch's rows, the first round times
    that beside the two uniform teams; the flips of the fastest keep its split while
    the first layer has a team (on one thread it splits nothing), and a flip that
    gives the first layer a team tries it with either split."""
    trial = plan.TeamTrial(2, 2, first_splits_rows=True)
    by_rows = plan.Run((2, 2), True)
    # The rows split saves 2 s on two threads; the output layer's second thread 0.5 s.
    tried = _run(trial, lambda run: 10 - 2 * run.first_by_rows
                 - 0.5 * (run.layer_threads[1] == 2) - 1.0 * (run.layer_threads[0] == 2))
    alone = plan.Run((1, 1), alone=True)
    assert tried == [plan.Run((2, 2)), plan.Run((1, 1)), alone, by_rows, plan.Run((1, 2)),
                     plan.Run((2, 1), True)]
    assert trial.chosen == by_rows
    assert trial.as_dict()["chosen"] == [2, 2] and trial.as_dict()["first_by_rows"] is True
    assert {"layer_threads": [1, 2], "first_by_rows": False, "alone": False,
            "seconds": 1.05} in trial.as_dict()["seconds_per_row"]
    # From every layer on one thread, the first layer's flip to a team tries both splits.
    trial = plan.TeamTrial(2, 2, first_splits_rows=True)
    tried = _run(trial, lambda run: 10 + 3 * (run.layer_threads == (2, 2))
                 - 5 * (run.layer_threads == (2, 1) and run.first_by_rows))
    assert tried == [plan.Run((2, 2)), plan.Run((1, 1)), alone, by_rows, plan.Run((2, 1)),
                     plan.Run((2, 1), True), plan.Run((1, 2))]
    assert trial.chosen == plan.Run((2, 1), True)


def _conv_net(dtype):
    return nnfast.Network([nnfast.ConvPoolLayer((3, 1, 4, 4), (1, 11, 13), (2, 5)),
                           nnfast.FullyConnectedLayer(3 * 4 * 2, 13),
                           nnfast.SoftmaxLayer(13, 5)], seed=2, dtype=dtype)


@pytest.mark.parametrize("regularization, momentum",
                         [("l2", 0.0), ("l2", 0.9), ("l1", 0.0), ("l1", 0.9)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_each_layer_on_its_own_thread_count_gives_the_same_bits(dtype, regularization,
                                                               momentum):
    """The engine runs each layer's kernels on the threads layer_threads gives it; on
    any mix (every kernel parallel, the conv layer's step split by filters) the
    weights are those of one thread, with either regularization, with or without
    momentum."""
    rng = np.random.default_rng(8)
    X = rng.random((57, 143)).astype(dtype)
    y = rng.integers(0, 5, 57)
    perm = rng.permutation(57)
    _kernels.put_parallel_plan(thresholds(0))
    runs = {}
    for n_threads, layer_threads in ((1, None), (2, (2, 1, 2)), (2, (1, 2, 1)), (3, (3, 3, 2))):
        net = _conv_net(dtype)
        engine_train(net, X, y, perm, 7, 0.3, 0.1, momentum=momentum,
                     regularization=regularization, n_threads=n_threads,
                     layer_threads=layer_threads)
        runs[layer_threads] = [w.copy() for w in net.weights + net.biases]
    for got in runs.values():
        _assert_same(got, runs[None])


@pytest.mark.parametrize("layer_threads", [(1, 1), (1, 3, 1), (0, 1, 1), (1, 1.0, 1), "121"])
def test_bad_layer_threads_are_refused_before_training(layer_threads):
    net = _conv_net(np.float32)
    before = [w.copy() for w in net.weights]
    X = np.zeros((10, 143), np.float32)
    with pytest.raises(ValueError, match="engine: layer_threads must be 3 thread counts from 1 to 2"):
        engine_train(net, X, np.zeros(10), np.arange(10), 5, 0.1, n_threads=2,
                     layer_threads=layer_threads)
    _assert_same(net.weights, before)


def _trained(sizes, X, y, n_threads):
    """The weights and biases of Network(sizes) after two epochs at mini-batch 10."""
    net = nnfast.Network(sizes, seed=4)
    net.SGD((X, y), 2, 10, 0.5, n_threads=n_threads, progress=False)
    return [w.copy() for w in net.weights + net.biases]


def _trial_with_one_threads_bits(sizes, n_rows, n_threads):
    """Network(sizes) trained on random rows on one thread and on n_threads to the
    same bits; the data and the second run's team trial."""
    rng = np.random.default_rng(3)
    X = rng.random((n_rows, sizes[0]), dtype=np.float32)
    y = rng.integers(0, 10, n_rows)
    one = _trained(sizes, X, y, 1)
    _assert_same(_trained(sizes, X, y, n_threads), one)
    (trial,) = plan.teams()
    return trial, X, y


def test_run_until_chosen_trains_until_the_trial_has_chosen(monkeypatch):
    """A benchmark's warm-up: epochs on two threads until the team trial has chosen
    and a call has begun once the close calls were due to be timed again (at once
    here), at most `most` of them; an epoch on one thread (no trial) is one call."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e6)  # a few chunks an epoch
    monkeypatch.setattr(plan, "plan_recheck_seconds", lambda: 0.0)
    rng = np.random.default_rng(6)
    X, y = rng.random((300, 60), dtype=np.float32), rng.integers(0, 10, 300)
    net = nnfast.Network([60, 40, 10], seed=4)
    epochs = []

    def epoch(n_threads=2):
        epochs.append(n_threads)
        net.SGD((X, y), 1, 10, 0.5, n_threads=n_threads, progress=False)

    assert plan.run_until_chosen(epoch, 1) == 1  # stops at most, chosen or not
    calls = plan.run_until_chosen(epoch)
    (trial,) = plan.teams()
    assert trial["chosen"] is not None and 1 <= calls == len(epochs) - 1 < 40
    # one call, and one more where a close call was still to be timed again
    one = plan.run_until_chosen(lambda: epoch(1))
    assert one in (1, 2)
    assert plan.run_until_chosen(lambda: epoch(1), np.int64(1)) == 1
    for most in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match="most"):
            plan.run_until_chosen(epoch, most)
    assert len(epochs) == calls + 2 + one


def test_training_on_four_threads_tries_two_with_the_same_bits(monkeypatch):
    """On four threads the trial also runs every layer on two (and then may flip a
    layer to two); whatever it keeps, the weights are those of one thread."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e6)  # many chunks a run
    trial, _, _ = _trial_with_one_threads_bits([60, 40, 10], 2000, 4)
    assert trial["chosen"] is not None
    assert [2, 2] in [t["layer_threads"] for t in trial["seconds_per_row"]]


def test_training_on_threads_tries_its_counts_on_its_own_chunks_with_the_same_bits(
        monkeypatch):
    """A run on two threads times its chunks with every layer on two threads, on one
    (with the copy ahead, and alone), on two with the first layer split by rows, and
    each layer flipped, and keeps the fastest for the rest of the run and for later runs
    of its shape; the weights are those of a one-thread run (estimate mode tries
    nothing)."""
    monkeypatch.setattr(nnfast.training, "CHUNK_FLOPS", 1e7)  # about 80 rows a chunk
    trial, X, y = _trial_with_one_threads_bits([400, 50, 10], 3000, 2)
    assert trial["n_threads"] == 2 and trial["n_layers"] == 2
    assert trial["chosen"] in ([1, 1], [1, 2], [2, 1], [2, 2])
    tried = [(t["layer_threads"], t["first_by_rows"], t["alone"])
             for t in trial["seconds_per_row"]]
    assert tried[:4] == [([2, 2], False, False), ([1, 1], False, False), ([1, 1], False, True),
                         ([2, 2], True, False)]
    # Two flips, or three where every layer on one thread was fastest (the first
    # layer's flip to two threads then tries both splits).
    assert len(tried) == 6 or (len(tried) == 7 and ([2, 1], True, False) in tried
                               and ([2, 1], False, False) in tried)
    plan.forget()
    assert plan.teams() == []
    plan.set_mode("estimate")
    nnfast.Network([400, 50, 10], seed=4).SGD((X, y), 1, 10, 0.5, n_threads=2, progress=False)
    assert plan.teams() == []


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_a_close_call_is_timed_again_once(dtype):
    """A product of 3 rows runs the same tile on the direct path whether its tiles may
    have MR rows or two-thirds of MR: a close call. Its first use a recheck's seconds
    later times those candidates again, each keeping the better of its two times, and
    chooses again; later uses time nothing, and every call gives the same bits."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal((10, 3)).astype(dtype)  # used transposed, as delta^T
    b = rng.standard_normal((10, 200)).astype(dtype)
    c = rng.standard_normal((3, 200)).astype(dtype)

    def product():
        return kernels.matmul(a, b, c.copy(), trans_a=True, alpha=-0.1, beta=0.9, n_threads=1)

    for _ in range(5):  # a close call, timed on this machine (noise can part the two)
        plan.forget()
        first = product()
        (made,) = plan.plans()
        if made["recheck"]:
            break
    assert made["recheck"] and made["how"] == "measured"
    assert {"direct", "direct_short"} <= {cand["path"] for cand in made["candidates"]}
    runs = plan.timed_runs()
    np.testing.assert_array_equal(product(), first)  # not due yet: nothing timed
    assert plan.timed_runs() == runs and plan.plans()[0]["recheck"]
    time.sleep(plan.plan_recheck_seconds())
    np.testing.assert_array_equal(product(), first)
    (again,) = plan.plans()
    assert not again["recheck"] and plan.timed_runs() > runs
    assert again["planning_seconds"] > made["planning_seconds"]
    before = {(cand["isa"], cand["team"], cand["path"]): cand["seconds"]
              for cand in made["candidates"]}
    for cand in again["candidates"]:
        assert cand["seconds"] <= before[cand["isa"], cand["team"], cand["path"]]
    assert again["path"] in [cand["path"] for cand in again["candidates"]]
    runs = plan.timed_runs()
    np.testing.assert_array_equal(product(), first)
    assert plan.timed_runs() == runs


def test_a_close_convolution_call_is_timed_again_once():
    """A pooled one-channel layer's weight gradient from 8 x 8 images takes about as
    long from the im2row rows as from the windows in place: a close call. The first
    step a recheck's seconds later times both paths again, each keeping the better of
    its two times, and chooses again; later steps time nothing."""
    rng = np.random.default_rng(13)
    X, y = rng.random((20, 64), dtype=np.float32), rng.integers(0, 10, 20)
    for attempt in range(5):  # a close call, timed on this machine
        plan.forget()
        net = nnfast.Network([nnfast.ConvPoolLayer((4, 1, 3, 3), (1, 8, 8), (2, 2)),
                              nnfast.SoftmaxLayer(36, 10)], seed=attempt)
        net.SGD((X, y), 1, 10, 0.1, n_threads=1, progress=False)
        (made,) = [p for p in plan.convs() if p["product"] == "weight_gradient"]
        if made["recheck"]:
            break
    assert made["recheck"] and made["how"] == "measured"
    time.sleep(plan.plan_recheck_seconds())
    net.SGD((X, y), 1, 10, 0.1, n_threads=1, progress=False)
    (again,) = [p for p in plan.convs() if p["product"] == "weight_gradient"]
    assert not again["recheck"] and again["planning_seconds"] > made["planning_seconds"]
    for path, seconds in again["seconds"].items():
        assert 0 < seconds <= made["seconds"][path]
    assert again["path"] == min(again["seconds"], key=again["seconds"].get)
    runs = plan.timed_runs()
    time.sleep(plan.plan_recheck_seconds())
    net.SGD((X, y), 1, 10, 0.1, n_threads=1, progress=False)
    assert plan.timed_runs() == runs and not any(p["recheck"] for p in plan.convs())
