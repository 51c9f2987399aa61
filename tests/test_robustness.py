"""Training survives what a user can do around it: Ctrl-C, threads, fork, divergence."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import nnfast


def random_data(n, n_in=784, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in), dtype=np.float32), rng.integers(0, n_out, n)


# Each child takes SIGINT as an interactive Python does (KeyboardInterrupt), whatever
# the test run left it: a run started in a script's background ignores SIGINT, and a
# Python that starts with it ignored never raises KeyboardInterrupt.
INTERRUPTED_CHILD = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    import nnfast

    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    X = rng.random((20000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    net = nnfast.Network([784, 100, 10], seed=0)
    ends = []  # when each chunk ended (perf_counter is CLOCK_MONOTONIC, shared)
    print("training", flush=True)
    try:
        net.SGD((X, y), 1000, 10, 0.5, progress=lambda *_: ends.append(time.perf_counter()))
    except KeyboardInterrupt:
        print("interrupted", time.perf_counter(), *ends[-3:], flush=True)
    # The network is usable and trainable again, with finite weights.
    assert all(np.isfinite(w).all() for w in net.weights)
    net.SGD((X[:100], y[:100]), 1, 10, 0.5)
    print("accuracy", net.accuracy((X[:100], y[:100])), flush=True)
""")


def test_ctrl_c_stops_training_promptly_and_leaves_the_network_usable():
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED_CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(1.0)  # well inside the first epochs
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted") and lines[1].startswith("accuracy")
    # KeyboardInterrupt arrives when the chunk it came in ends: no chunk after that
    # one ran (at most one chunk end after the signal, where it came in between a
    # chunk's end and its progress call). Counted, not timed: on a loaded machine a
    # chunk may take seconds; a chunk takes CHUNK_SECONDS unloaded.
    stopped, *ends = map(float, lines[0].split()[1:])
    assert len([end for end in ends if end > sent]) <= 1, (sent, ends, stopped)


def test_two_networks_in_two_threads_train_as_they_do_one_after_the_other():
    X, y = random_data(2000)

    def train(seed, out):
        net = nnfast.Network([784, 30, 10], seed=seed)
        net.SGD((X, y), 2, 10, 3.0)
        out[seed] = [w.copy() for w in net.weights]

    alone, together = {}, {}
    for seed in (1, 2):
        train(seed, alone)
    threads = [threading.Thread(target=train, args=(seed, together)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        for a, b in zip(alone[seed], together[seed]):
            assert np.array_equal(a, b)


def test_one_network_used_from_two_threads_at_once_is_refused():
    X, y = random_data(20000)
    net = nnfast.Network([784, 100, 10], seed=0)
    started, errors = threading.Event(), []

    def progress(epoch, done, n):
        started.set()
        time.sleep(0.05)  # hold the network between chunks

    trainer = threading.Thread(target=lambda: net.SGD((X, y), 1, 10, 0.5, progress=progress))
    trainer.start()
    assert started.wait(60)
    for use in (lambda: net.SGD((X[:10], y[:10]), 1, 10, 0.5),
                lambda: net.accuracy((X[:10], y[:10]))):
        with pytest.raises(RuntimeError, match="in use by another thread"):
            use()
    trainer.join()
    # Once free, the network takes work from any thread again.
    assert 0 <= net.accuracy((X[:10], y[:10])) <= 10


FORKED_CHILD = textwrap.dedent("""
    import os
    import numpy as np
    import nnfast
    from nnfast import kernels

    a = np.random.default_rng(0).random((600, 600), dtype=np.float32)
    kernels.matmul(a, a, n_threads=2)  # the parent's OpenMP pool is up
    pid = os.fork()
    if pid == 0:
        kernels.matmul(a, a, n_threads=2)
        kernels.sigmoid(a)
        X = np.random.default_rng(1).random((500, 784), dtype=np.float32)
        nnfast.Network([784, 30, 10], seed=0).SGD((X, np.arange(500) % 10), 1, 10, 1.0,
                                                  n_threads=2)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_training_in_a_forked_child_does_not_hang():
    run = subprocess.run([sys.executable, "-c", FORKED_CHILD], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "child exit 0"


def test_divergence_restores_the_last_finite_weights():
    X, y = random_data(200, n_in=5, n_out=3)
    net = nnfast.Network([5, 4, 3], cost=nnfast.QuadraticCost, dtype=np.float64, seed=0,
                         activation="linear")
    before = [w.copy() for w in net.weights]
    with pytest.raises(FloatingPointError, match="epoch 0"):
        net.SGD((X.astype(np.float64) * 1e100, y), 3, 10, 1e10)
    for a, b in zip(before, net.weights):
        assert np.array_equal(a, b)


def _train_small(seed):
    X, y = random_data(500, seed=seed)
    net = nnfast.Network([784, 30, 10], seed=seed)
    net.SGD((X, y), 1, 10, 1.0, n_threads=2, progress=False)
    return net.accuracy((X, y))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs the fork start method")
def test_training_in_multiprocessing_fork_workers_does_not_hang():
    import multiprocessing

    _train_small(0)  # the parent's OpenMP pool is up before the workers fork
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_train_small, [1, 2]).get(timeout=120)
    assert results == [_train_small(1), _train_small(2)]


INTERRUPTED_DIVERGENCE = textwrap.dedent("""
    import os, signal, sys, threading
    import numpy as np
    import nnfast

    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    X = rng.random((4000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 4000)
    net = nnfast.Network([784, 100, 10], seed=0)
    before = [a.copy() for a in net.weights + net.biases]
    outcomes = set()
    for delay in np.linspace(0.005, 0.6, int(sys.argv[1])):
        # A real SIGINT at `delay` into a run whose first chunk diverges.
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        try:
            timer.start()
            net.SGD((X, y), 1, 10, 1e38, momentum=0.9)
            outcomes.add("finished")
        except KeyboardInterrupt:
            outcomes.add("interrupted")
        except FloatingPointError:
            outcomes.add("diverged")
        while timer.is_alive() or not timer.finished.is_set():  # a late signal lands here
            try:
                timer.join()
                threading.Event().wait(0.01)
            except KeyboardInterrupt:
                pass
        assert all(np.array_equal(a, b) for a, b in zip(before, net.weights + net.biases)), delay
    print(" ".join(sorted(outcomes)))
""")


def test_ctrl_c_in_a_diverging_chunk_still_rolls_it_back():
    out = subprocess.run([sys.executable, "-c", INTERRUPTED_DIVERGENCE, "13"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # Both kinds of ending happened, and each left the weights as they were.
    assert "interrupted" in out.stdout and "diverged" in out.stdout


@pytest.mark.parametrize("operation", ["save", "default_weight_initializer",
                                       "large_weight_initializer", "pickle", "total_cost",
                                       "book save", "book weights"])
def test_what_reads_or_writes_parameters_is_refused_while_another_thread_trains(
        operation, tmp_path):
    from nnfast.book import network2
    import pickle
    X, y = random_data(4000)
    book = network2.Network([784, 30, 10], seed=0)
    net = book.network
    started, done = threading.Event(), threading.Event()

    def progress(epoch, rows, n):
        started.set()

    def train():
        try:
            net.SGD((X, y), 30, 10, 0.1, progress=progress)
        finally:
            done.set()

    run = {"save": lambda: net.save(tmp_path / "n.json"),
           "default_weight_initializer": net.default_weight_initializer,
           "large_weight_initializer": net.large_weight_initializer,
           "pickle": lambda: pickle.dumps(net),
           "total_cost": lambda: net.total_cost((X, y)),
           "book save": lambda: book.save(tmp_path / "b.json"),
           "book weights": lambda: book.weights.__setitem__(0, np.zeros((30, 784)))}[operation]
    thread = threading.Thread(target=train)
    thread.start()
    try:
        assert started.wait(60)
        with pytest.raises(RuntimeError, match="in use by another thread"):
            run()
    finally:
        thread.join()
    assert done.is_set()
    run()  # and allowed once training is over


def test_network3_holds_its_network_for_the_whole_run(capsys):
    from nnfast.book import network3
    X, y = random_data(300)
    book = network3.Network([network3.FullyConnectedLayer(n_in=784, n_out=20),
                             network3.SoftmaxLayer(n_in=20, n_out=10)], 10, seed=0)
    stop = threading.Event()
    inside, refused = [], []

    def intrude():
        while not stop.is_set():
            began = time.perf_counter()
            try:
                book.network.SGD((X[:20], y[:20]), 1, 10, 0.1)
                inside.append((began, time.perf_counter()))
            except RuntimeError:
                refused.append(1)
            time.sleep(0.001)  # leave gaps for the book's SGD to start in

    intruder = threading.Thread(target=intrude)
    intruder.start()
    try:
        time.sleep(0.05)
        ran = False
        for _ in range(2000):  # the intruder may hold it when we start: retry until in
            run_began = time.perf_counter()
            try:
                book.SGD((X, y), 40, 10, 0.1, (X, y), (X, y))
                ran = True
                break
            except RuntimeError:
                time.sleep(0.0002)
        run_ended = time.perf_counter()
    finally:
        stop.set()
        intruder.join()
    assert ran
    assert refused  # it tried while the book's SGD ran, between epochs and evaluations too
    # No run of the intruder fits inside the book's (one that began before the book's
    # attempt had released the network first; one ending after it got it afterwards).
    assert not [(b, e) for b, e in inside if run_began < b and e < run_ended]
    assert "Finished training network." in capsys.readouterr().out

# ---- thread counts: refused past MAX_THREADS, clamped from the environment ----

def _run_child(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def test_set_num_threads_65536_is_refused_and_kernels_still_run():
    """It used to be accepted, and the next parallel region overflowed the stack."""
    run = _run_child("""
        import numpy as np
        import nnfast
        from nnfast import kernels
        try:
            nnfast.set_num_threads(65536)
        except ValueError as e:
            print(e)
        print(float(kernels.sigmoid(np.zeros((200, 200), np.float32)).sum()))
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["set_num_threads: n must be in [1, 1024], got 65536",
                                       "20000.0"]


def test_conv2d_with_65536_threads_is_refused():
    run = _run_child("""
        import numpy as np
        from nnfast import kernels
        x, w = np.zeros((4, 1, 28, 28), np.float32), np.zeros((2, 1, 5, 5), np.float32)
        try:
            kernels.conv2d(x, w, n_threads=65536)
        except ValueError as e:
            print(e)
        print(kernels.conv2d(x, w, n_threads=2).shape)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["conv2d: n_threads must be in [1, 1024], got 65536",
                                       "(4, 2, 24, 24)"]


# Every kernel and a training run, on the thread that imported nnfast and on another:
# with OMP_NUM_THREADS=70000 each parallel region must run on a clamped team.
HUGE_OMP_CHILD = """
    import threading
    import numpy as np
    import nnfast
    from nnfast import kernels

    def use_kernels(where):
        z = np.zeros((200, 200), np.float32)
        images = np.ones((8, 2, 40, 40))
        kernels.matmul(np.ones((300, 300)), np.ones((300, 300)))
        kernels.conv2d(images, np.ones((3, 2, 5, 5)))
        kernels.maxpool2d(images, (2, 2))
        kernels.l2pool2d(images, (2, 2))
        kernels.dropout(images, 0.5, 1)
        rng = np.random.default_rng(0)
        X, y = rng.random((200, 30)), rng.integers(0, 3, 200)
        net = nnfast.Network([30, 20, 3], seed=0)
        net.SGD((X, y), 1, 10, 0.5, progress=False)
        print(where, net.accuracy((X, y)) >= 0, flush=True)

    print(nnfast.get_num_threads(), flush=True)
    kernels.sigmoid(np.zeros((200, 200), np.float32))
    kernels.softmax(np.zeros((200, 200)))
    use_kernels("main")
    thread = threading.Thread(target=use_kernels, args=("thread",))
    thread.start()
    thread.join()
"""


def test_omp_num_threads_70000_is_clamped():
    run = _run_child(HUGE_OMP_CHILD, OMP_NUM_THREADS="70000")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["1024", "main True", "thread True"]


def test_omp_num_threads_70000_elementwise_kernels_in_another_thread():
    run = _run_child("""
        import threading
        import numpy as np
        from nnfast import kernels
        z = np.zeros((200, 200), np.float32)
        thread = threading.Thread(target=lambda: print(float(kernels.sigmoid(z).sum())))
        thread.start()
        thread.join()
    """, OMP_NUM_THREADS="70000")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "20000.0"


def test_ctrl_c_during_the_finiteness_check_still_rolls_the_chunk_back(monkeypatch):
    """The interrupt lands as the check after a diverging chunk runs: the rollback
    must not be skipped with it (the NaN weights stayed, and every later run rolled
    back to them)."""
    import _thread
    from nnfast import training
    X = np.random.default_rng(0).random((200, 20)).astype(np.float32)
    y = np.arange(200) % 10
    net = nnfast.Network([20, 30, 10], seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    check = training.Trainer._finite

    def interrupted_check(self, n_threads):
        _thread.interrupt_main()
        return check(self, n_threads)

    monkeypatch.setattr(training.Trainer, "_finite", interrupted_check)
    with pytest.raises(KeyboardInterrupt):
        net.SGD((X, y), 1, 10, 3e38, n_threads=1, progress=False)  # diverges at once
        time.sleep(1)  # (the interrupt, should it arrive only after the call)
    monkeypatch.setattr(training.Trainer, "_finite", check)
    for got, want in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(got, want)
    net.SGD((X, y), 1, 10, 0.1, n_threads=1, progress=False)  # trains on


def test_ctrl_c_in_a_chunk_with_a_cost_of_ones_own_undoes_it_whole(monkeypatch):
    """A cost of one's own trains its chunk a mini-batch at a time in Python: stopped
    mid-chunk, the chunk is undone, not left half applied."""
    from nnfast import training

    class Cost:
        calls = 0

        @staticmethod
        def fn(a, y):
            return float(np.sum((a - y) ** 2) / 2)

        @staticmethod
        def delta(z, a, y):
            Cost.calls += 1
            if Cost.calls == 7:
                raise KeyboardInterrupt
            return (a - y) * a * (1 - a)

    monkeypatch.setattr(training, "CHUNK_SECONDS", 1e9)  # one chunk: the whole epoch
    X = np.random.default_rng(1).random((100, 8))
    y = np.arange(100) % 4
    net = nnfast.Network([8, 6, 4], cost=Cost, dtype=np.float64, seed=1)
    before = [p.copy() for p in net.weights + net.biases]
    with pytest.raises(KeyboardInterrupt):
        net.SGD((X, y), 1, 5, 0.5, n_threads=1, progress=False)
    assert Cost.calls == 7
    for got, want in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(got, want)


def test_a_book_step_stopped_between_two_layers_leaves_them_all_as_they_were(monkeypatch):
    from nnfast.book import network2
    net = network2.Network([5, 4, 3], seed=2)
    before = [p.copy() for p in net.weights + net.biases]
    copyto, calls = np.copyto, [0]

    def interrupted_copyto(dst, src, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:  # the first layer written, then Ctrl-C
            raise KeyboardInterrupt
        return copyto(dst, src, *args, **kwargs)

    monkeypatch.setattr(np, "copyto", interrupted_copyto)
    with pytest.raises(KeyboardInterrupt):
        net.weights = [w + 1.0 for w in before[:2]]
    monkeypatch.setattr(np, "copyto", copyto)
    for got, want in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(got, want)


def test_a_save_stopped_as_its_temporary_file_is_made_leaves_nothing_behind(tmp_path,
                                                                           monkeypatch):
    from nnfast import files
    path = tmp_path / "net.json"
    nnfast.Network([3, 2], seed=0).save(path)
    before = path.read_bytes()

    def made_then_interrupted(name, mode):
        open(name, mode).close()
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "open", made_then_interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):
        nnfast.Network([3, 2], seed=1).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["net.json"] and path.read_bytes() == before


def test_networks_of_one_shape_share_their_team_trial_safely():
    """Two threads drive one trial as Trainer.train_rows does (next_run, then record):
    the trial empties its schedule before it chooses, and next_run, unlocked, found
    neither (a bare AssertionError that failed one network of an ensemble)."""
    import random
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    errors = []

    def train(trial):
        try:
            for _ in range(60):
                run = trial.next_run()
                trial.record(run, random.uniform(0.9, 1.1) * sum(run.layer_threads), 100)
                trial.as_dict()
        except Exception as error:
            errors.append(repr(error))

    try:
        for _ in range(100):
            trial = nnfast.plan.TeamTrial(2, 3, True)
            threads = [threading.Thread(target=train, args=(trial,)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []


def test_set_arch_is_refused_while_another_thread_trains():
    """The kernel table may not change under an engine call: one that chose a path
    under AVX-512's table ran it under the reference one's, which lacks the kernel
    (a call through NULL: a segfault)."""
    from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, _kernels
    archs = _kernels.supported_archs()
    if len(archs) < 2:
        pytest.skip("this CPU runs one kernel table only")
    rng = np.random.default_rng(4)
    X, y = rng.random((400, 784)).astype(np.float32), rng.integers(0, 10, 400)
    net = nnfast.Network([ConvPoolLayer((4, 1, 5, 5), (1, 28, 28), (2, 2)),
                          FullyConnectedLayer(4 * 12 * 12, 10), SoftmaxLayer(10, 10)], seed=0)
    previous, refused, done = _kernels.get_arch(), [], threading.Event()

    def switch():
        while not done.is_set():
            for name in archs:
                try:
                    _kernels.set_arch(name)
                except RuntimeError as error:
                    refused.append(str(error))

    switcher = threading.Thread(target=switch)
    switcher.start()
    try:
        for _ in range(3):
            nnfast.plan.forget()
            net.SGD((X, y), 1, 10, 0.1, n_threads=1, progress=False)
    finally:
        done.set()
        switcher.join()
        _kernels.set_arch(previous)
    assert refused and "another thread" in refused[0]
