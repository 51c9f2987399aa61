"""Saving never loses the model already on disk: a save is whole or not at all, whether
it fails (a full disk) or is interrupted (Ctrl-C)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnfast
from nnfast import files
from nnfast.book import network2


def saved(path):
    return open(path, "rb").read()


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "net.json"
    nnfast.Network([30, 20, 10], seed=0).save(path)
    return path


@pytest.mark.parametrize("book", [False, True])
def test_an_interrupted_save_leaves_the_old_file(good_file, monkeypatch, book):
    before = saved(good_file)
    net = network2.Network([30, 20, 10], seed=1) if book else nnfast.Network([30, 20, 10], seed=1)

    def interrupted(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.save(good_file)
    assert saved(good_file) == before
    assert os.listdir(good_file.parent) == [good_file.name]  # no temporary left behind
    assert nnfast.load(good_file).sizes == (30, 20, 10)


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    import nnfast
    from nnfast.book import network2
    # Writes beyond 64 kB fail with EFBIG, "File too large", as on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    net = (network2.Network if sys.argv[2] == "book" else nnfast.Network)([784, 100, 10])
    try:
        net.save(sys.argv[1])
    except OSError as e:
        print("failed:", e.strerror)
""")


@pytest.mark.parametrize("book", ["core", "book"])
def test_a_save_that_fails_half_way_leaves_the_old_file(good_file, book):
    before = saved(good_file)
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(good_file), book],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "failed: File too large"
    assert saved(good_file) == before
    assert os.listdir(good_file.parent) == [good_file.name]


def test_a_save_keeps_the_files_mode_and_replaces_it_whole(good_file):
    os.chmod(good_file, 0o640)
    net = nnfast.Network([30, 20, 10], seed=5)
    net.save(good_file)
    assert os.stat(good_file).st_mode & 0o777 == 0o640
    loaded = nnfast.load(good_file)
    for a, b in zip(net.weights, loaded.weights):
        assert np.array_equal(a, b)


def test_a_new_file_takes_the_umask(tmp_path):
    path = tmp_path / "new.json"
    old = os.umask(0o077)
    try:
        nnfast.Network([3, 2], seed=0).save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_save_through_a_symbolic_link_replaces_its_target(good_file):
    link = good_file.parent / "link.json"
    link.symlink_to(good_file.name)
    net = nnfast.Network([30, 20, 10], seed=7)
    net.save(link)
    assert link.is_symlink() and os.readlink(link) == good_file.name
    assert np.array_equal(nnfast.load(good_file).weights[0], net.weights[0])


@pytest.mark.parametrize("filename", [1, True, 2.5, None, ["net.json"]])
def test_a_file_name_that_is_not_a_path_is_refused_by_name(filename, good_file):
    # open() takes an int as a file descriptor, and closes it when done.
    net = nnfast.Network([3, 2], seed=0)
    for call in (nnfast.load, network2.load, net.save,
                 network2.Network([3, 2]).save):
        with pytest.raises(TypeError, match="^filename must be a path"):
            call(filename)
    os.fstat(1)  # stdout is still open


def test_file_names_may_be_bytes(tmp_path):
    path = os.fsencode(tmp_path / "net.json")
    net = nnfast.Network([3, 2], seed=0)
    net.save(path)
    assert np.array_equal(nnfast.load(path).weights[0], net.weights[0])


def test_a_file_name_with_a_nul_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="^filename must not contain a NUL"):
        nnfast.load(str(tmp_path / "net") + "\0.json")
    with pytest.raises(ValueError, match="^filename must not contain a NUL"):
        nnfast.Network([3, 2], seed=0).save(str(tmp_path / "net") + "\0.json")


def test_a_save_into_a_missing_directory_names_it(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "missing" / "net.json")  # dangling: followed, as open() would
    with pytest.raises(FileNotFoundError) as error:
        nnfast.Network([3, 2], seed=0).save(link)
    assert error.value.filename == str(tmp_path / "missing")
    assert os.listdir(tmp_path) == ["link.json"]


def test_the_expanded_data_file_is_written_as_the_others(tmp_path):
    from nnfast import datasets
    from nnfast.book import expand_mnist
    X, y = np.zeros((2, 784), np.float32), np.zeros(2, np.int64)
    target = tmp_path / "expanded.pkl.gz"
    link = tmp_path / "link.pkl.gz"
    link.symlink_to(target.name)
    old = os.umask(0o022)
    try:
        expand_mnist.save(link, datasets.Dataset(X, y, X, y, X, y))
    finally:
        os.umask(old)
    assert link.is_symlink() and os.stat(target).st_mode & 0o777 == 0o644
    assert datasets.load_mnist_pkl(link).X_train.shape == (2, 784)


def test_the_expanded_data_file_refuses_what_is_not_a_dataset(tmp_path):
    from nnfast.book import expand_mnist
    for data in ("not a dataset", (np.zeros((1, 784)), np.zeros(1))):
        with pytest.raises(TypeError, match="^data must be a nnfast.datasets.Dataset"):
            expand_mnist.save(tmp_path / "expanded.pkl.gz", data)
    assert os.listdir(tmp_path) == []


def test_a_save_to_a_pipe_writes_into_it(tmp_path):
    """A FIFO (or /dev/stdout, a device) is written in place, as open() writes it: a
    rename over it would leave a regular file where the pipe was."""
    import threading
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    # a daemon: a save that never opens the pipe leaves it waiting for a writer
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()),
                              daemon=True)
    reader.start()
    net = nnfast.Network([3, 2], seed=0)
    net.save(fifo)
    reader.join(timeout=10)
    assert not reader.is_alive() and fifo.is_fifo()
    path = tmp_path / "net.json"
    net.save(path)
    assert received == [saved(path)]


def test_a_save_to_a_device_writes_into_it(tmp_path):
    """A copy of /dev/null's device node (made where this may make one): still that
    device after the save, which it swallowed."""
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | __import__("stat").S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs privileges this run lacks")
    nnfast.Network([3, 2], seed=0).save(null)
    network2.Network([3, 2], seed=0).save(null)
    assert null.is_char_device() and saved(null) == b""


def test_a_file_name_ending_in_a_slash_is_refused(tmp_path):
    """open() refuses it; the atomic save, which resolves the name first, must too,
    rather than write a file named without the slash."""
    for call in (nnfast.Network([3, 2], seed=0).save, network2.Network([3, 2]).save):
        with pytest.raises(IsADirectoryError):
            call(str(tmp_path / "models") + os.sep)
    assert os.listdir(tmp_path) == []
