"""The nnfast command: info, train on a tiny data set, bad options, bench, figures."""
import gzip
import importlib.util
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import nnfast
from nnfast import cli


def write_idx(path, array):
    """An IDX file of uint8 data, gzipped, as MNIST's."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def tiny_mnist(directory, n_train=200, n_test=100, seed=0):
    """A directory of MNIST-named IDX files: random images whose label is their brightest
    quarter, so that a network can learn something in an epoch."""
    rng = np.random.default_rng(seed)
    directory.mkdir(exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label:2 * label + 3] += 190
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture
def data(tmp_path):
    return tiny_mnist(tmp_path / "data")


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_info_lists_version_isa_and_data_dirs(capsys):
    status, out, _ = run(capsys, "info")
    assert status == 0
    assert "nnfast 0.1.0" in out and "ISA:" in out and "OpenMP:" in out
    assert "threads:" in out and "fashion-mnist" in out


def test_info_plan_shows_each_product_and_the_planning_cost(capsys):
    """Chapter 1's network at mini-batch 10: two products forward, one backward (BP2),
    two weight updates (C read), and two in the forward pass of 20 rows; on 2 threads
    the first layer's training products are each thread's part, 15 of its 30 units. The
    team trial may time other splits too (the second layer's on two threads: 5 rows
    each), whose parts are products of their own: at least those 7, as many as planned."""
    nnfast.plan.forget()
    status, out, _ = run(capsys, "info", "--plan", "--threads", "2")
    assert status == 0
    plan = out[out.index("plan of 784,30,10 (float32), mini-batch 10, 2 threads"):]
    products = [line.split()[:5] for line in plan.splitlines() if line.strip()[:1].isdigit()
                and " x " in line]
    assert ["10", "x", "15", "x", "784"] in products and ["15", "x", "784", "x", "10"] in products
    assert ["20", "x", "30", "x", "784"] in products and ["10", "x", "30", "x", "10"] in products
    assert len(products) == len(nnfast.plan.plans()) >= 7
    assert f"{len(products)} products planned in" in plan and "timed runs" in plan
    close = sum(p["recheck"] for p in nnfast.plan.plans())  # marked, and counted
    chosen = [line[2 + 18 + 26 + 8:][:24].rstrip() for line in plan.splitlines()
              if line.strip()[:1].isdigit() and " x " in line]  # the fourth column
    assert sum(c.endswith(" *") for c in chosen) == close
    assert (f"* {close} close call" in plan) == (close > 0)
    assert "kernels parallel above: elementwise" in plan
    status, out, _ = run(capsys, "info", "--plan", "--net", "conv", "--mini-batch", "3",
                         "--dtype", "float64", "--threads", "1")
    assert status == 0 and "plan of conv (float64), mini-batch 3, 1 threads" in out
    # float64: one forward path; the windows kernel takes rows of 5 doubles on AVX-512 alone
    arch = nnfast._kernels.get_arch()
    assert "3 x 100 x 2880" in out and ", forward" not in out
    assert (", weight gradient: " in out) == (arch == "avx512")
    if arch != "ref":  # AVX2 and AVX-512 have a direct convolution and a windows kernel
        nnfast.plan.forget()
        status, out, _ = run(capsys, "info", "--plan", "--net", "conv", "--threads", "1")
        assert status == 0 and "and 2 convolutions planned in" in out
        forward, gradient = [line for line in out.splitlines()
                             if line.strip().startswith("convolution")]
        assert "1 x 28 x 28, 20 filters 5 x 5, forward, GEMM on 1t:" in forward
        assert "(gemm " in forward and ", direct " in forward and forward.endswith(" us)")
        assert "1 x 28 x 28, 20 filters 5 x 5, weight gradient:" in gradient
        assert "(rows " in gradient and ", windows " in gradient and gradient.endswith(" us)")


def test_info_plan_refuses_layers_larger_than_memory(capsys):
    status, out, err = run(capsys, "info", "--plan", "--layers", "784,2000000000,10")
    assert status == 2 and out == "" and err.count("\n") == 1 and "GiB" in err


@pytest.mark.parametrize("argv", [["info", "--layers", "784,30,10"],
                                  ["info", "--mini-batch", "20"],
                                  ["info", "--plan", "--net", "conv", "--layers", "4,3"]])
def test_info_network_options_need_plan_and_one_network(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert "give --plan" in err or "not both" in err


def test_train_prints_epochs_saves_and_plots(capsys, data, tmp_path):
    pytest.importorskip("matplotlib")
    model, curves = tmp_path / "model.json", tmp_path / "curves.png"
    status, out, err = run(capsys, "train", "--dataset", str(data), "--epochs", "2",
                           "--layers", "784,20,10", "--eta", "1.0", "--seed", "1",
                           "--save", str(model), "--plot", str(curves))
    assert status == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 2
    assert "training cost" in epochs[0] and "/ 100" in epochs[0] and "samples/s" in epochs[0]
    assert json.loads(model.read_text())["sizes"] == [784, 20, 10]
    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("layers, says", [("784,30,5", "784 inputs and 10 classes"),
                                           ("785,30,10", "784 inputs and 10 classes")])
def test_train_names_a_network_that_does_not_fit_the_data(capsys, data, layers, says):
    status, out, err = run(capsys, "train", "--dataset", str(data), "--layers", layers)
    assert status == 2 and out == ""
    assert f"the network [{layers.replace(',', ', ')}] does not fit" in err and says in err


def test_train_names_the_epoch_that_diverged_as_its_lines_count_them(capsys, data):
    """SGD trains one epoch a call in the command, and names that call's epoch, 0."""
    status, out, err = run(capsys, "train", "--dataset", str(data), "--epochs", "9",
                           "--layers", "784,20,10", "--lmbda", "3e3", "--seed", "0")
    done = [line for line in out.splitlines() if line.startswith("epoch")]
    assert status == 1 and 1 <= len(done) < 9
    assert f"training diverged in epoch {len(done) + 1}:" in err


def test_train_conv_net_on_test_files_only(capsys, tmp_path):
    data = tiny_mnist(tmp_path / "d", n_train=1, n_test=8010)
    for f in data.glob("train-*"):
        f.unlink()
    status, out, err = run(capsys, "train", "--dataset", str(data), "--net", "conv",
                           "--epochs", "1", "--train-size", "50", "--threads", "1")
    assert status == 0, err
    assert "first 8,000" in err and "evaluation accuracy" in out and "/ 10 " in out


@pytest.mark.parametrize("argv", [
    ["train", "--bogus"], ["train", "--layers", "784,x"], ["train", "--epochs", "0"],
    ["train", "--net", "conv3"], ["train", "--net", "conv", "--layers", "784,10"],
    ["train", "--cost", "hinge"], ["nonsense"], [], ["train", "--momentum", "1.5",
                                                    "--dataset", "DATA"],
])
def test_bad_options_give_one_line_and_status_2(capsys, data, argv):
    argv = [str(data) if a == "DATA" else a for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("nnfast: error:")
    assert "Traceback" not in err


def test_missing_data_is_one_line_and_status_1(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    status, _, err = run(capsys, "train", "--dataset", str(tmp_path / "empty"))
    assert status == 1 and len(err.strip().splitlines()) == 1


def test_command_runs_as_a_module_without_traceback(data):
    result = subprocess.run([sys.executable, "-m", "nnfast.cli", "train", "--epochs", "-3"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_bench_quick_prints_ratios(capsys):
    status, out, _ = run(capsys, "bench", "--quick", "--threads", "1")
    assert status == 0
    assert "matmul 10x784 @ 784x30" in out and "epoch [784, 30, 10]" in out
    assert "epoch conv net mb 10" in out
    assert out.count("x\n") + out.count("x  ") >= 5


def test_bench_holds_numpy_to_the_threads_asked_for(capsys, monkeypatch):
    """NumPy's column computes on the bench's thread count, as nnfast's and PyTorch's
    do (OpenBLAS would take every core); without threadpoolctl the bench says so."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    matmul = np.matmul

    def counted(*args, **kwargs):
        if len(seen) < 3:
            seen.append(sorted({pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                                if pool["user_api"] == "blas"}))
        return matmul(*args, **kwargs)

    monkeypatch.setattr(np, "matmul", counted)
    status, _, err = run(capsys, "bench", "--quick", "--threads", "1")
    assert status == 0, err
    assert seen == [[1]] * 3
    assert "threadpoolctl" not in err
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    status, _, err = run(capsys, "bench", "--quick", "--threads", "1")
    assert status == 0, err
    assert "NumPy's BLAS computes on its own thread count, not 1 thread" in err


def test_bench_times_jax_on_the_threads_xla_has(capsys, monkeypatch):
    """JAX joins where it computes on the threads asked for, an epoch a call; where it
    would not, the bench says why and leaves it out."""
    pytest.importorskip("jax")
    from nnfast import peers

    threads = peers.jax_threads()
    status, out, err = run(capsys, "bench", "--quick", "--threads", str(threads))
    assert status == 0, err
    header = next(line for line in out.splitlines() if line.startswith("case"))
    assert header.split()[-2:] == ["JAX", "ratio"]
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 3 and all(line.endswith("x") for line in epochs)
    assert "epoch conv net mb 10, 500 samples" in epochs[-1]
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                    "intra_op_parallelism_threads=1")
    assert cli._jax_for(1)
    assert not cli._jax_for(2)
    assert "JAX left out: XLA computes on 1 thread in this process, not 2" in \
        capsys.readouterr().err


def test_figures_writes_pngs(capsys, data, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "figs"
    status, out, err = run(capsys, "figures", "--dataset", str(data), "--out", str(out_dir),
                           "--train-size", "100", "--epochs", "2", "--eta-epochs", "2")
    assert status == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["learning_rates.png", "overfitting_evaluation_accuracy.png",
                     "overfitting_training_cost.png", "second_order.png", "universality.png",
                     "vanishing_gradient.png"]
    assert "2 epochs" in out and "1 epochs" not in out


def test_figures_overfitting_runs_start_large(monkeypatch, capsys, data, tmp_path):
    """overfitting.py's nets start with large_weight_initializer; the eta runs do not."""
    pytest.importorskip("matplotlib")
    import nnfast

    started = []
    real = nnfast.Network.large_weight_initializer
    monkeypatch.setattr(nnfast.Network, "large_weight_initializer",
                        lambda self: started.append(self.sizes) or real(self))
    status, out, err = run(capsys, "figures", "--dataset", str(data), "--out",
                           str(tmp_path / "f"), "--train-size", "50", "--epochs", "1",
                           "--eta-epochs", "1", "--book")
    assert status == 0, err
    assert started == [(784, 30, 10)] * 2  # the runs without and with L2


def test_figures_book_runs_400_epochs(monkeypatch, capsys, data, tmp_path):
    ensemble = sys.modules["nnfast.ensemble"]  # the module, not nnfast.ensemble the function
    asked = []
    monkeypatch.setattr(ensemble, "sweep", lambda *a, **k: asked.append(a[3]) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["figures", "--dataset", str(data), "--out", str(tmp_path / "f"), "--book"])
    assert asked == [400]
    asked.clear()
    with pytest.raises(ZeroDivisionError):
        cli.main(["figures", "--dataset", str(data), "--out", str(tmp_path / "f")])
    assert asked == [60]


@pytest.mark.parametrize("hidden", [2, 5, 20, 80])
def test_step_network_approximates_the_bumpy_function(hidden):
    """Chapter 4's staircase: at the middle m of each piece the net gives f(m) but for
    the steps' sigmoid tails, each step's rise times sigma(-w |m - s|), plus rounding."""
    pieces = hidden + 1
    x = (np.arange(pieces) + 0.5) / pieces
    steps = np.arange(1, pieces) / pieces
    rises = np.abs(np.diff(cli.bumpy(x)))
    e = np.exp(-cli.STEEPNESS * np.abs(x[:, None] - steps))
    tails = (rises * e / (1 + e)).sum(axis=1)
    got = cli.step_network(cli.bumpy, hidden).feedforward(x.reshape(-1, 1))[:, 0]
    assert np.all(np.abs(got - cli.bumpy(x)) <= tails + 1e-14 * pieces)
    # And between the pieces' middles, the error shrinks as the steps get finer.
    fine = np.linspace(0, 1, 2001)
    error = np.abs(cli.step_network(cli.bumpy, hidden).feedforward(fine.reshape(-1, 1))[:, 0]
                   - cli.bumpy(fine)).mean()
    coarse = np.abs(cli.step_network(cli.bumpy, 2).feedforward(fine.reshape(-1, 1))[:, 0]
                    - cli.bumpy(fine)).mean()
    assert error <= coarse
    if hidden >= 20:
        assert error < coarse / 3



# ---- options checked before the data is loaded ----

@pytest.fixture
def no_data_loading(monkeypatch):
    """Fails any test that reaches the data."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the options were checked")
    monkeypatch.setattr(cli, "load_data", refuse)


@pytest.mark.parametrize("argv,message", [
    (["--threads", "100000000000"], "the thread count must be in [1, 1024], got 100000000000"),
    (["--threads", "0"], "the thread count must be in [1, 1024], got 0"),
    (["--threads", "two"], "invalid int value: 'two'"),
    (["--layers", "784,2000000000,10"], "--layers 784,2000000000,10: 1,590,000,000,010 weights"),
    (["--momentum", "1.5"], "must be in [0, 1), got 1.5"),
    (["--lmbda", "-1"], "must be in [0, inf), got -1"),
    (["--eta", "nan"], "must be in (0, inf), got nan"),
    (["--save", "NOWHERE/model.json"], "there is no directory"),
    (["--save", "TMP"], "is a directory"),
    (["--plot", "curves.txt"], "--plot curves.txt: the file name must end in one of"),
    (["--plot", "NOWHERE/curves.png"], "there is no directory"),
    (["--net", "conv", "--init", "large"], "--init is for --layers nets"),
])
def test_bad_train_options_are_refused_before_the_data(capsys, no_data_loading, tmp_path,
                                                         argv, message):
    pytest.importorskip("matplotlib")
    argv = [a.replace("NOWHERE", str(tmp_path / "missing")).replace("TMP", str(tmp_path))
            for a in argv]
    status, out, err = run(capsys, "train", *argv)
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("nnfast: error:") and message in err, err


def test_threads_for_bench_are_checked(capsys):
    status, _, err = run(capsys, "bench", "--threads", "100000000000")
    assert status == 2 and "the thread count must be in [1, 1024]" in err


def test_unwritable_save_directory(capsys, no_data_loading, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere")
        status, _, err = run(capsys, "train", "--save", str(locked / "m.json"))
    finally:
        locked.chmod(0o700)
    assert status == 2 and "is not writable" in err


def test_plot_without_matplotlib_is_refused_before_the_data(monkeypatch, capsys,
                                                           no_data_loading):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    status, _, err = run(capsys, "train", "--plot", "curves.png")
    assert status == 2 and 'needs matplotlib: pip install "nnfast[plot]"' in err
    status, _, err = run(capsys, "figures")
    assert status == 2 and "needs matplotlib" in err


def test_huge_layers_in_a_subprocess_are_one_line(data):
    """The README's promise, as a user sees it: one line, status 2, no traceback."""
    for option in (["--threads", "100000000000"], ["--layers", "784,2000000000,10"]):
        result = subprocess.run([sys.executable, "-m", "nnfast.cli", "train", "--dataset",
                                 str(data), *option], capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ---- what train says ----

def test_train_says_1_epoch_1_thread_and_its_weight_start(capsys, data):
    status, out, err = run(capsys, "train", "--dataset", str(data), "--epochs", "1",
                           "--threads", "1", "--layers", "784,10,10", "--train-size", "20")
    assert status == 0, err
    head = out.splitlines()[0]
    assert "1 epoch," in head and head.endswith("1 thread")
    assert "N(0, 1) weights, chapter 1's start" in head


def test_train_starts_as_chapter_1_by_default(monkeypatch):
    """network.py's N(0, 1) weights, unless --init default asks for network2's."""
    def weights(*argv):
        args = cli.make_parser().parse_args(["train", "--seed", "3", *argv])
        args.init = args.init or "large"
        args.dtype = "float64"
        return cli.build_network(args).weights[0]

    import nnfast

    large = nnfast.Network([784, 30, 10], cost="quadratic", dtype=np.float64, seed=3)
    large.large_weight_initializer()
    np.testing.assert_array_equal(weights(), large.weights[0])
    default = nnfast.Network([784, 30, 10], cost="quadratic", dtype=np.float64, seed=3)
    np.testing.assert_array_equal(weights("--init", "default"), default.weights[0])


@pytest.mark.parametrize("command,defaults", [
    ("train", ["default: 30 for --layers, 60 for --net conv, 60 for --net conv2",
               "default: 3.0 for --layers, 0.1 for --net conv, 0.03 for --net conv2",
               "default: float32", "default: 784,30,10", "(default: 0.0)", "at most 1,024"]),
    ("figures", ["(default: figures)", "(default: 1000)", "(default: 0.025,0.25,2.5)",
                 "default: 60; the book and --book: 400"]),
])
def test_help_shows_defaults(capsys, command, defaults):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in defaults:
        assert default in text, default


# ---- offline ----

def test_offline_error_names_the_urls_and_the_cache(monkeypatch, capsys, tmp_path):
    from urllib.error import URLError

    from nnfast import _download, datasets

    def offline(url, *args, **kwargs):
        raise URLError("offline")
    monkeypatch.setattr(_download, "urlopen", offline)
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, _, err = run(capsys, "train", "--epochs", "1")
    assert status == 1 and err.count("\n") == 1, err
    assert "https://" in err and "train-images-idx3-ubyte.gz" in err and "offline" in err
    assert str(tmp_path / "cache" / "nnfast" / "mnist") in err
    assert "fashion-mnist" in err


def test_sweep_prints_the_points_sorted_with_the_best_marked(capsys, data, tmp_path):
    best, curves = tmp_path / "best.json", tmp_path / "curves.png"
    status, out, err = run(capsys, "sweep", "--layers", "784,10,10", "--eta", "0.5,3",
                           "--lmbda", "0,1", "--epochs", "2", "--dataset", str(data),
                           "--save", str(best), "--plot", str(curves))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("sweep: 4 points of [784, 10, 10], 2 epochs each, on threads")
    rows = [line.split() for line in lines[2:6]]
    accuracies = [float(row[2].rstrip("%")) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and rows[0][-1] == "best"
    assert {(float(r[0]), float(r[1])) for r in rows} == {(0.5, 0), (0.5, 1), (3, 0), (3, 1)}
    assert nnfast.load(best).sizes == (784, 10, 10) and curves.read_bytes()[:4] == b"\x89PNG"


def test_sweep_runs_on_local_workers(capsys, data):
    pytest.importorskip("distributed")
    status, out, err = run(capsys, "sweep", "--layers", "784,10,10", "--eta", "0.5,3",
                           "--lmbda", "0", "--epochs", "1", "--dataset", str(data),
                           "--local-workers", "2")
    assert status == 0, err
    assert "on 2 local workers" in out.splitlines()[0] and "<- best" in out


@pytest.mark.parametrize("argv,message", [
    (["--scheduler", "tcp://localhost:1", "--local-workers", "2"], "not both"),
    (["--eta", "fast"], "invalid float value: 'fast' (in 'fast': numbers like"),
    (["--eta=-1"], "must be in (0, inf), got -1"),
    (["--eta", "0.5,nan"], "must be in (0, inf), got nan"),
    (["--eta", "1e400"], "must be in (0, inf), got 1e400"),
    (["--lmbda=-5"], "must be in [0, inf), got -5"),
    (["--save", "NOWHERE/best.json"], "there is no directory"),
])
def test_sweep_refuses_bad_options_before_loading_data(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(cli, "load_data", lambda *a, **k: pytest.fail("data was loaded"))
    status, _, err = run(capsys, "sweep", *argv)
    assert status == 2 and message in err


@pytest.mark.parametrize("argv", [["--etas=-1"], ["--etas", "0.1,inf"], ["--etas", "x"]])
def test_figures_refuses_bad_etas_before_the_data(capsys, no_data_loading, tmp_path, argv):
    status, out, err = run(capsys, "figures", "--out", str(tmp_path / "figures"), *argv)
    assert status == 2 and out == "" and err.count("\n") == 1 and "--etas" in err, err
    assert not (tmp_path / "figures").exists()
