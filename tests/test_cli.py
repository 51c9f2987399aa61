"""The nnfast command: info, train on a tiny data set, bad options, bench, figures."""
import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

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
    assert out.count("x\n") + out.count("x  ") >= 5


def test_figures_writes_pngs(capsys, data, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "figs"
    status, out, err = run(capsys, "figures", "--dataset", str(data), "--out", str(out_dir),
                           "--train-size", "100", "--epochs", "2", "--eta-epochs", "2")
    assert status == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["learning_rates.png", "overfitting_evaluation_accuracy.png",
                     "overfitting_training_cost.png", "second_order.png",
                     "vanishing_gradient.png"]
